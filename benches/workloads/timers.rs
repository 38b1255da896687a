//! Timer workloads shared by `benches/peers/benches/timer_peers.rs` and the callgrind driver
//! `benches/peers/src/bin/timer_callgrind.rs` (each includes this file with `#[path]`), so
//! the times and the instruction counts are of exactly the same code.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::sync::Semaphore;

/// The timeout every timed wait carries: long enough never to fire.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// How long the background sleepers sleep: they never wake during a run.
pub const SLEEPER_NAP: Duration = Duration::from_secs(3600);

fn take(s: &Semaphore, timed: bool) {
    if timed {
        assert!(s.acquire_timeout(TIMEOUT), "a 1 s timeout fired");
    } else {
        s.acquire();
    }
}

/// One iteration = one round trip between two green threads through two `Semaphore`s
/// that start at 0 (two hand-offs, two parks); with `timed`, every wait is an
/// `acquire_timeout(1 s)`, so each hand-off arms a timer and cancels it.
pub fn semaphore_ping_pong(iters: u64, timed: bool) -> Duration {
    let (ping, pong) = (Rc::new(Semaphore::new(0)), Rc::new(Semaphore::new(0)));
    let (p, q) = (Rc::clone(&ping), Rc::clone(&pong));
    let a = greenthread::spawn(move || {
        for _ in 0..iters {
            p.release().unwrap();
            take(&q, timed);
        }
    });
    let (p, q) = (ping, pong);
    let z = greenthread::spawn(move || {
        for _ in 0..iters {
            take(&p, timed);
            q.release().unwrap();
        }
    });
    let t = Instant::now();
    a.join().unwrap();
    z.join().unwrap();
    t.elapsed()
}

/// Runs `f` with `n` green threads asleep (an hour each) in the background, so `n`
/// timers are pending while it runs; then kills them.
pub fn with_sleepers<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let sleepers: Vec<_> = (0..n)
        .map(|_| {
            greenthread::Builder::new()
                .stack_size(greenthread::stack::MIN_STACK_SIZE)
                .spawn(|| greenthread::sleep(SLEEPER_NAP))
                .expect("spawn a sleeper")
        })
        .collect();
    greenthread::yield_now(); // all asleep now
    let r = f();
    for s in &sleepers {
        s.kill();
    }
    for s in sleepers {
        let _ = s.wait();
    }
    r
}

/// tokio's round trip on a current-thread runtime, with `tokio::time::timeout(1 s)` around
/// every acquire when `timed`.
pub async fn tokio_semaphore_ping_pong(iters: u64, timed: bool) -> Duration {
    async fn take(s: &tokio::sync::Semaphore, timed: bool) {
        if timed {
            tokio::time::timeout(TIMEOUT, s.acquire())
                .await
                .expect("a 1 s timeout fired")
                .unwrap()
                .forget();
        } else {
            s.acquire().await.unwrap().forget();
        }
    }
    let ping = Arc::new(tokio::sync::Semaphore::new(0));
    let pong = Arc::new(tokio::sync::Semaphore::new(0));
    let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
    let a = tokio::spawn(async move {
        for _ in 0..iters {
            p.add_permits(1);
            take(&q, timed).await;
        }
    });
    let (p, q) = (ping, pong);
    let z = tokio::spawn(async move {
        for _ in 0..iters {
            take(&p, timed).await;
            q.add_permits(1);
        }
    });
    let t = Instant::now();
    a.await.unwrap();
    z.await.unwrap();
    t.elapsed()
}

/// [`with_sleepers`] for tokio: `n` tasks of `rt` in `tokio::time::sleep(1 h)`, aborted
/// after `f` (which runs its workload with `rt.block_on`).
pub fn tokio_with_sleepers<R>(rt: &tokio::runtime::Runtime, n: usize, f: impl FnOnce() -> R) -> R {
    let sleepers: Vec<_> = (0..n)
        .map(|_| rt.spawn(async { tokio::time::sleep(SLEEPER_NAP).await }))
        .collect();
    rt.block_on(tokio::task::yield_now()); // all polled, so all timers registered
    let r = f();
    for s in &sleepers {
        s.abort();
    }
    rt.block_on(async {
        for s in sleepers {
            let _ = s.await;
        }
    });
    r
}
