//! Lock costs: the uncontended acquire + release of every lock type, a hand-off ping-pong
//! between two green threads (Semaphore, Lock), the hub's bare park/wake ping-pong for
//! reference (the floor any lock built on it pays), and a hand-off between two OS threads.
//! Peers (std, parking_lot, tokio, may) are measured in the same run by
//! `benches/peers/benches/sync_peers.rs`, which repeats the greenthread cases so ratios can
//! be read off one report.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench sync -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "workloads/sync.rs"]
mod workloads;
use greenthread::sync::{BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore};
use workloads::{
    cross_thread_semaphore_ping_pong, lock_ping_pong, parker_ping_pong, semaphore_ping_pong,
};

/// One iteration = one acquire + one release, no contention, on the main green thread.
fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync/uncontended");
    let lock = Lock::new();
    group.bench_function("Lock", |b| {
        b.iter(|| {
            let l = black_box(&lock);
            l.acquire();
            l.release().unwrap();
        })
    });
    group.bench_function("Lock_guard", |b| {
        b.iter(|| {
            let _g = black_box(&lock).lock();
        })
    });
    let sem = Semaphore::new(1);
    group.bench_function("Semaphore", |b| {
        b.iter(|| {
            let s = black_box(&sem);
            s.acquire();
            s.release().unwrap();
        })
    });
    let bounded = BoundedSemaphore::new(1);
    group.bench_function("BoundedSemaphore", |b| {
        b.iter(|| {
            let s = black_box(&bounded);
            s.acquire();
            s.release().unwrap();
        })
    });
    let rlock = RLock::new();
    group.bench_function("RLock", |b| {
        b.iter(|| {
            let r = black_box(&rlock);
            r.acquire();
            r.release().unwrap();
        })
    });
    let _outer = rlock.lock();
    group.bench_function("RLock_reentrant", |b| {
        b.iter(|| {
            let r = black_box(&rlock);
            r.acquire();
            r.release().unwrap();
        })
    });
    let dummy = DummySemaphore::new();
    group.bench_function("DummySemaphore", |b| {
        b.iter(|| {
            let d = black_box(&dummy);
            d.acquire();
            d.release().unwrap();
        })
    });
    group.finish();
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync/ping_pong_round_trip");
    group.bench_function("Semaphore", |b| b.iter_custom(semaphore_ping_pong));
    group.bench_function("Lock", |b| b.iter_custom(lock_ping_pong));
    group.bench_function("hub_parker_floor", |b| b.iter_custom(parker_ping_pong));
    group.finish();
}

/// One iteration = one round trip between the main green threads of two OS threads through
/// two `Semaphore`s (each side's hub blocks its OS thread while it waits).
fn cross_thread(c: &mut Criterion) {
    c.bench_function("sync/cross_thread_round_trip/Semaphore", |b| {
        b.iter_custom(cross_thread_semaphore_ping_pong)
    });
}

criterion_group!(benches, uncontended, ping_pong, cross_thread);
criterion_main!(benches);
