//! Scheduler costs of greenthread against may and tokio, in one criterion run, so the ratios
//! can be read off one report (the machine is noisy; compare within a run).
//!
//! - `yield_ping_pong/*`: one iteration is one yield that switches to the other of two
//!   green threads / coroutines / tasks (`greenthread_fp_env`: both spawned with
//!   `preserve_fp_env(true)`). may runs with one worker; its coroutines run on
//!   that worker thread and the bench thread only waits for them.
//! - `spawn_run_wait/*`: spawn a trivial green thread / coroutine / task returning a value,
//!   let it run, wait for the value. greenthread and may with a warm stack pool; tokio on a
//!   current-thread runtime (`tokio::spawn(async {..}).await` inside one `block_on`).
//!
//! ```text
//! cargo bench -p greenthread-peers --bench sched_peers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Once;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// may is configured once, before its first coroutine: one worker thread, so its yield is
/// a switch between two coroutines on one OS thread, as greenthread's is.
fn may_setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        may::config().set_workers(1);
    });
}

/// Runs `f` on a may coroutine and returns its result (the bench thread just waits).
fn on_may<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    may_setup();
    // SAFETY: may's spawn is unsafe because a coroutine must not block its worker with
    // OS-thread primitives or hold thread-local references across yields; the closures
    // here only yield, spawn and join may coroutines.
    unsafe { may::coroutine::spawn(f) }
        .join()
        .expect("may coroutine")
}

fn yield_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_ping_pong");
    group.bench_function("greenthread", |b| {
        b.iter_custom(|iters| {
            let x = greenthread::spawn(move || {
                for _ in 0..iters {
                    greenthread::yield_now();
                }
            });
            let y = greenthread::spawn(move || {
                for _ in 0..iters {
                    greenthread::yield_now();
                }
            });
            let t = Instant::now();
            x.join().unwrap();
            y.join().unwrap();
            t.elapsed() / 2
        })
    });
    group.bench_function("greenthread_fp_env", |b| {
        b.iter_custom(|iters| {
            let spawn = || {
                greenthread::Builder::new()
                    .preserve_fp_env(true)
                    .spawn(move || {
                        for _ in 0..iters {
                            greenthread::yield_now();
                        }
                    })
                    .unwrap()
            };
            let (x, y) = (spawn(), spawn());
            let t = Instant::now();
            x.join().unwrap();
            y.join().unwrap();
            t.elapsed() / 2
        })
    });
    group.bench_function("may", |b| {
        b.iter_custom(|iters| {
            on_may(move || {
                let spawn_yielder = || {
                    // SAFETY: as in `on_may`: the coroutine only yields.
                    unsafe {
                        may::coroutine::spawn(move || {
                            for _ in 0..iters {
                                may::coroutine::yield_now();
                            }
                        })
                    }
                };
                let x = spawn_yielder();
                let y = spawn_yielder();
                let t = Instant::now();
                x.join().unwrap();
                y.join().unwrap();
                t.elapsed() / 2
            })
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let yielder = || {
                    tokio::spawn(async move {
                        for _ in 0..iters {
                            tokio::task::yield_now().await;
                        }
                    })
                };
                let x = yielder();
                let y = yielder();
                let t = Instant::now();
                x.await.unwrap();
                y.await.unwrap();
                t.elapsed() / 2
            })
        })
    });
    group.finish();
}

fn spawn_run_wait(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_run_wait");
    // All three time an inner loop with `iter_custom`, so the harness's per-iteration
    // overhead is counted for none of them.
    group.bench_function("greenthread", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let x = black_box(7u64);
                black_box(greenthread::spawn(move || x + 1).join().unwrap());
            }
            t.elapsed()
        })
    });
    group.bench_function("may", |b| {
        b.iter_custom(|iters| {
            on_may(move || {
                let t = Instant::now();
                for _ in 0..iters {
                    let x = black_box(7u64);
                    // SAFETY: as in `on_may`: the coroutine only computes.
                    let h = unsafe { may::coroutine::spawn(move || x + 1) };
                    black_box(h.join().unwrap());
                }
                t.elapsed()
            })
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let t = Instant::now();
                for _ in 0..iters {
                    let x = black_box(7u64);
                    black_box(tokio::spawn(async move { x + 1 }).await.unwrap());
                }
                t.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1));
    targets = yield_ping_pong, spawn_run_wait
}
criterion_main!(benches);
