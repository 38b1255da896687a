//! Scheduler costs: a yield between two green threads, spawn + run + wait of a trivial
//! green thread with a warm stack pool, `spawn_n` + run, and `sleep(0)` among 1,000 ready
//! green threads. Stack allocation is not counted: the pool is warm after the first
//! iterations (criterion's warm-up). Peers (may, tokio) are measured in the same run by
//! `benches/peers/benches/sched_peers.rs`.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench sched -- --warm-up-time 1 --measurement-time 3
//! ```

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// One iteration = one `yield_now` that switches to the other green thread. Two green
/// threads each yield `iters` times; the main green thread waits, off the run queue.
fn yield_ping_pong(c: &mut Criterion) {
    c.bench_function("sched/yield_ping_pong", |b| {
        b.iter_custom(|iters| {
            let a = greenthread::spawn(move || {
                for _ in 0..iters {
                    greenthread::yield_now();
                }
            });
            let z = greenthread::spawn(move || {
                for _ in 0..iters {
                    greenthread::yield_now();
                }
            });
            let t = Instant::now();
            a.join().unwrap();
            z.join().unwrap();
            t.elapsed() / 2
        })
    });
}

/// Spawn a green thread returning a value, run it (two switches), join it.
fn spawn_run_wait(c: &mut Criterion) {
    c.bench_function("sched/spawn_run_wait", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let x = black_box(7u64);
                black_box(greenthread::spawn(move || x + 1).join().unwrap());
            }
            t.elapsed()
        })
    });
}

/// `spawn_n` a trivial green thread and yield to it (it runs and exits, then we resume).
fn spawn_n_run(c: &mut Criterion) {
    c.bench_function("sched/spawn_n_run", |b| {
        b.iter(|| {
            let x = black_box(7u64);
            greenthread::spawn_n(move || {
                black_box(x);
            });
            greenthread::yield_now();
        })
    });
}

/// One iteration = one round: the main green thread's `sleep(0)` lets 1,000 ready green
/// threads (each looping on `sleep(0)`) run once. Throughput is per switch (1,001).
fn sleep0_1000_ready(c: &mut Criterion) {
    const N: usize = 1000;
    let stop = Rc::new(Cell::new(false));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let stop = Rc::clone(&stop);
            greenthread::spawn(move || {
                while !stop.get() {
                    greenthread::sleep(Duration::ZERO);
                }
            })
        })
        .collect();
    greenthread::yield_now(); // start them all
    let mut group = c.benchmark_group("sched/sleep0_1000_ready");
    group.throughput(Throughput::Elements(N as u64 + 1));
    group.bench_function("round", |b| b.iter(|| greenthread::sleep(Duration::ZERO)));
    group.finish();
    stop.set(true);
    for t in threads {
        t.join().unwrap();
    }
}

criterion_group!(
    benches,
    yield_ping_pong,
    spawn_run_wait,
    spawn_n_run,
    sleep0_1000_ready
);
criterion_main!(benches);
