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

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use greenthread::sched::{Parker, WaitOn, Waker};
use greenthread::sync::{BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore};

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

/// One iteration = one round trip: A hands a permit to B, B hands one back (two hand-offs,
/// two parks, two switches). Both semaphores start at 0.
fn semaphore_ping_pong(iters: u64) -> Duration {
    let ping = Rc::new(Semaphore::new(0));
    let pong = Rc::new(Semaphore::new(0));
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let a = greenthread::spawn(move || {
        for _ in 0..iters {
            p.release().unwrap();
            q.acquire();
        }
    });
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let z = greenthread::spawn(move || {
        for _ in 0..iters {
            p.acquire();
            q.release().unwrap();
        }
    });
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
}

/// As [`semaphore_ping_pong`] with two `Lock`s that start held (a `Lock` has no owner, so
/// either side may release it).
fn lock_ping_pong(iters: u64) -> Duration {
    let ping = Rc::new(Lock::new());
    let pong = Rc::new(Lock::new());
    ping.acquire();
    pong.acquire();
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let a = greenthread::spawn(move || {
        for _ in 0..iters {
            p.release().unwrap();
            q.acquire();
        }
    });
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let z = greenthread::spawn(move || {
        for _ in 0..iters {
            p.acquire();
            q.release().unwrap();
        }
    });
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
}

/// The hub's own floor: the same round trip with a bare `Parker`/`Waker` and a turn flag
/// (no lock at all). What a lock adds is the difference.
fn parker_ping_pong(iters: u64) -> Duration {
    let turn = Rc::new(Cell::new(0u8));
    let slots: Rc<[RefCell<Option<Waker>>; 2]> = Rc::new([RefCell::new(None), RefCell::new(None)]);
    let side = |me: u8| {
        let (turn, slots) = (Rc::clone(&turn), Rc::clone(&slots));
        greenthread::spawn(move || {
            let other = 1 - me;
            for _ in 0..iters {
                while turn.get() != me {
                    let p = Parker::new();
                    *slots[me as usize].borrow_mut() = Some(p.waker());
                    p.park(WaitOn::Other("turn"), None, false).unwrap();
                }
                turn.set(other);
                let w = slots[other as usize].borrow_mut().take();
                if let Some(w) = w {
                    w.wake();
                }
            }
        })
    };
    let a = side(0);
    let z = side(1);
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
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
        b.iter_custom(|iters| {
            let ping = Arc::new(Semaphore::new(0));
            let pong = Arc::new(Semaphore::new(0));
            let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
            let other = std::thread::spawn(move || {
                for _ in 0..iters {
                    p.acquire();
                    q.release().unwrap();
                }
            });
            let t = Instant::now();
            for _ in 0..iters {
                ping.release().unwrap();
                pong.acquire();
            }
            let elapsed = t.elapsed();
            other.join().unwrap();
            elapsed
        })
    });
}

criterion_group!(benches, uncontended, ping_pong, cross_thread);
criterion_main!(benches);
