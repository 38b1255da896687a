//! Communication costs of greenthread against tokio, may, crossbeam-channel and std, in
//! one criterion run (the machine is noisy; compare within a run). Per message / per
//! round trip, via `iter_custom`:
//!
//! - `channel_one_hub/*`: a bounded(128) channel, one producer and one consumer green
//!   thread (task, coroutine) on one OS thread. tokio: `mpsc::channel(128)` on a
//!   current-thread runtime. may: its `mpsc::channel` (may has no bounded channel), one
//!   worker.
//! - `channel_two_threads/*`: the same across two OS threads: greenthread's
//!   `sync_channel(128)`, crossbeam-channel's `bounded(128)`, std's `sync_channel(128)`.
//! - `event/*`: one round trip through two `Event`s (set -> the waiter resumes, twice),
//!   next to the same round trip through two tokio `Notify`s.
//! - `pool/*`: 10,000 trivial jobs through `Pool::imap` (size 100) against a pool made by
//!   hand from a `Semaphore(100)` and join handles.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench comm_peers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../../workloads/comm.rs"]
mod workloads;

fn may_setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(1);
    });
}

fn on_may<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    may_setup();
    // SAFETY: may's spawn is unsafe because a coroutine must not block its worker with
    // OS-thread primitives or hold thread-local references across yields; the closures
    // here only use may's channels, spawn and join may coroutines.
    unsafe { may::coroutine::spawn(f) }
        .join()
        .expect("may coroutine")
}

fn channel_one_hub(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_one_hub");
    group.bench_function("greenthread_sync_channel", |b| {
        b.iter_custom(workloads::channel_one_hub)
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio_mpsc", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(128);
                let p = tokio::spawn(async move {
                    for i in 0..iters {
                        tx.send(i).await.unwrap();
                    }
                });
                let c = tokio::spawn(async move {
                    let mut sum = 0u64;
                    for _ in 0..iters {
                        sum = sum.wrapping_add(rx.recv().await.unwrap());
                    }
                    sum
                });
                let t = Instant::now();
                p.await.unwrap();
                std::hint::black_box(c.await.unwrap());
                t.elapsed()
            })
        })
    });
    group.bench_function("may_mpsc_unbounded", |b| {
        b.iter_custom(|iters| {
            on_may(move || {
                let (tx, rx) = may::sync::mpsc::channel::<u64>();
                // SAFETY: as in `on_may`.
                let p = unsafe {
                    may::coroutine::spawn(move || {
                        for i in 0..iters {
                            tx.send(i).unwrap();
                        }
                    })
                };
                // SAFETY: as in `on_may`.
                let c = unsafe {
                    may::coroutine::spawn(move || {
                        let mut sum = 0u64;
                        for _ in 0..iters {
                            sum = sum.wrapping_add(rx.recv().unwrap());
                        }
                        sum
                    })
                };
                let t = Instant::now();
                p.join().unwrap();
                std::hint::black_box(c.join().unwrap());
                t.elapsed()
            })
        })
    });
    group.finish();
}

fn channel_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_two_threads");
    group.bench_function("greenthread_sync_channel", |b| {
        b.iter_custom(workloads::channel_two_threads)
    });
    group.bench_function("crossbeam_bounded", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = crossbeam_channel::bounded::<u64>(128);
            let t = Instant::now();
            let p = std::thread::spawn(move || {
                for i in 0..iters {
                    tx.send(i).unwrap();
                }
            });
            let mut sum = 0u64;
            for _ in 0..iters {
                sum = sum.wrapping_add(rx.recv().unwrap());
            }
            p.join().unwrap();
            std::hint::black_box(sum);
            t.elapsed()
        })
    });
    group.bench_function("std_sync_channel", |b| {
        b.iter_custom(|iters| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(128);
            let t = Instant::now();
            let p = std::thread::spawn(move || {
                for i in 0..iters {
                    tx.send(i).unwrap();
                }
            });
            let mut sum = 0u64;
            for _ in 0..iters {
                sum = sum.wrapping_add(rx.recv().unwrap());
            }
            p.join().unwrap();
            std::hint::black_box(sum);
            t.elapsed()
        })
    });
    group.finish();
}

fn event(c: &mut Criterion) {
    let mut group = c.benchmark_group("event");
    group.bench_function("greenthread_Event", |b| {
        b.iter_custom(workloads::event_ping_pong)
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio_Notify", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let ping = Arc::new(tokio::sync::Notify::new());
                let pong = Arc::new(tokio::sync::Notify::new());
                let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
                let other = tokio::spawn(async move {
                    for _ in 0..iters {
                        p.notified().await;
                        q.notify_one();
                    }
                });
                let t = Instant::now();
                for _ in 0..iters {
                    ping.notify_one();
                    pong.notified().await;
                }
                let e = t.elapsed();
                other.await.unwrap();
                e
            })
        })
    });
    group.finish();
}

fn pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool");
    group.sample_size(20);
    group.bench_function("greenthread_Pool_imap_10k", |b| {
        b.iter(|| workloads::pool_imap(10_000))
    });
    group.bench_function("semaphore_by_hand_10k", |b| {
        b.iter(|| workloads::semaphore_pool(10_000))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = channel_one_hub, channel_two_threads, event, pool
}
criterion_main!(benches);
