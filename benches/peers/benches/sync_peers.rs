//! Lock costs of greenthread against std, parking_lot, tokio and may, in one criterion run,
//! so the ratios can be read off one report (the machine is noisy; compare within a run).
//!
//! - `uncontended/*`: one acquire + one release, no contention, on one thread.
//! - `ping_pong/*`: one iteration is one round trip between two green threads / coroutines
//!   / tasks on one OS thread through two semaphores (or locks) that start empty: A gives
//!   B a permit, B gives one back. Two hand-offs, two switches. tokio runs a
//!   current-thread runtime; may one worker (the bench thread only waits for it).
//!   `greenthread_hub_parker_floor` is the same round trip on the hub's bare park/wake,
//!   with no lock: the floor a lock built on it cannot go below.
//! - `cross_thread/*`: the same round trip between two OS threads: greenthread's
//!   `Semaphore` (each OS thread's hub blocks it while it waits) against a
//!   `std::sync::Mutex<bool>` + `Condvar` pair per direction.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench sync_peers -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};

// The greenthread hand-off workloads are the ones benches/sync.rs times.
#[path = "../../workloads/sync.rs"]
mod workloads;
use greenthread::sync::{Lock, Semaphore};
use workloads::{
    cross_thread_semaphore_ping_pong, lock_ping_pong, parker_ping_pong, semaphore_ping_pong,
};

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("uncontended");
    let lock = Lock::new();
    group.bench_function("greenthread_Lock", |b| {
        b.iter(|| {
            let l = black_box(&lock);
            l.acquire();
            l.release().unwrap();
        })
    });
    let sem = Semaphore::new(1);
    group.bench_function("greenthread_Semaphore", |b| {
        b.iter(|| {
            let s = black_box(&sem);
            s.acquire();
            s.release().unwrap();
        })
    });
    let std_mutex = Mutex::new(());
    group.bench_function("std_Mutex", |b| {
        b.iter(|| {
            drop(black_box(&std_mutex).lock().unwrap());
        })
    });
    let pl_mutex = parking_lot::Mutex::new(());
    group.bench_function("parking_lot_Mutex", |b| {
        b.iter(|| {
            drop(black_box(&pl_mutex).lock());
        })
    });
    group.finish();
}

/// may is configured once, before its first coroutine: one worker thread, so its hand-off
/// is a switch between two coroutines on one OS thread, as greenthread's is.
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
    // here only use may's semaphores, spawn and join may coroutines.
    unsafe { may::coroutine::spawn(f) }
        .join()
        .expect("may coroutine")
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group.bench_function("greenthread_hub_parker_floor", |b| {
        b.iter_custom(parker_ping_pong)
    });
    group.bench_function("greenthread_Semaphore", |b| {
        b.iter_custom(semaphore_ping_pong)
    });
    group.bench_function("greenthread_Lock", |b| b.iter_custom(lock_ping_pong));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio_Semaphore", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let ping = Arc::new(tokio::sync::Semaphore::new(0));
                let pong = Arc::new(tokio::sync::Semaphore::new(0));
                let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
                let a = tokio::spawn(async move {
                    for _ in 0..iters {
                        p.add_permits(1);
                        q.acquire().await.unwrap().forget();
                    }
                });
                let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
                let z = tokio::spawn(async move {
                    for _ in 0..iters {
                        p.acquire().await.unwrap().forget();
                        q.add_permits(1);
                    }
                });
                let t = Instant::now();
                a.await.unwrap();
                z.await.unwrap();
                t.elapsed()
            })
        })
    });
    group.bench_function("may_Semphore", |b| {
        b.iter_custom(|iters| {
            on_may(move || {
                let ping = Arc::new(may::sync::Semphore::new(0));
                let pong = Arc::new(may::sync::Semphore::new(0));
                let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
                // SAFETY: as in `on_may`: the coroutine only uses may's semaphores.
                let a = unsafe {
                    may::coroutine::spawn(move || {
                        for _ in 0..iters {
                            p.post();
                            q.wait();
                        }
                    })
                };
                let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
                // SAFETY: as above.
                let z = unsafe {
                    may::coroutine::spawn(move || {
                        for _ in 0..iters {
                            p.wait();
                            q.post();
                        }
                    })
                };
                let t = Instant::now();
                a.join().unwrap();
                z.join().unwrap();
                t.elapsed()
            })
        })
    });
    group.finish();
}

/// A binary semaphore from a `Mutex<bool>` and a `Condvar`: the classic OS-thread hand-off.
struct CondSem {
    ready: Mutex<bool>,
    cond: Condvar,
}

impl CondSem {
    fn new() -> CondSem {
        CondSem {
            ready: Mutex::new(false),
            cond: Condvar::new(),
        }
    }

    fn post(&self) {
        *self.ready.lock().unwrap() = true;
        self.cond.notify_one();
    }

    fn wait(&self) {
        let mut ready = self.ready.lock().unwrap();
        while !*ready {
            ready = self.cond.wait(ready).unwrap();
        }
        *ready = false;
    }
}

fn cross_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_thread");
    group.bench_function("greenthread_Semaphore", |b| {
        b.iter_custom(cross_thread_semaphore_ping_pong)
    });
    group.bench_function("std_Mutex_Condvar", |b| {
        b.iter_custom(|iters| {
            let ping = Arc::new(CondSem::new());
            let pong = Arc::new(CondSem::new());
            let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
            let other = std::thread::spawn(move || {
                for _ in 0..iters {
                    p.wait();
                    q.post();
                }
            });
            let t = Instant::now();
            for _ in 0..iters {
                ping.post();
                pong.wait();
            }
            let elapsed = t.elapsed();
            other.join().unwrap();
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, uncontended, ping_pong, cross_thread);
criterion_main!(benches);
