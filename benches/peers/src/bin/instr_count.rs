//! Runs one workload N times, for instruction counts under callgrind (`scripts/instructions.sh`
//! runs it with two values of N and divides the difference, so setup cancels out).
//!
//! ```text
//! cargo run --release -p greenthread-peers --bin instr_count -- <workload> <N>
//! ```
//!
//! Workloads are named like the criterion benchmarks they count (one unit of N each, as one
//! criterion iteration): `switch_round_trip/*` one resume + suspend; `yield_ping_pong/*` one
//! yield (two green threads or coroutines, N/2 yields each); `spawn_run_wait/*` one spawn +
//! run + join; `ping_pong/*` one round trip of the hand-off ping-pong of
//! benches/workloads/sync.rs (two hand-offs); `uncontended/*` one acquire + release.

use std::hint::black_box;
use std::sync::{Arc, Mutex};

#[path = "../../../workloads/sync.rs"]
#[allow(dead_code)]
mod workloads;

fn switch_greenthread(n: u64, fp: bool) {
    use greenthread::{CoroutineBuilder, Yielder};
    let mut co = CoroutineBuilder::new()
        .preserve_fp_env(fp)
        .build(|y: &Yielder<usize, usize>, mut x: usize| {
            loop {
                x = y.suspend(x.wrapping_add(1));
            }
        })
        .unwrap();
    for _ in 0..n {
        black_box(co.resume(black_box(1)));
    }
}

fn switch_corosensei(n: u64) {
    use corosensei::{Coroutine, Yielder};
    let mut co = Coroutine::new(|y: &Yielder<usize, usize>, mut x: usize| {
        loop {
            x = y.suspend(x.wrapping_add(1));
        }
    });
    for _ in 0..n {
        black_box(co.resume(black_box(1)));
    }
}

fn yield_greenthread(n: u64, fp: bool) {
    // Two green threads, n yields each: 2n yields.
    let spawn = || {
        greenthread::Builder::new()
            .preserve_fp_env(fp)
            .spawn(move || {
                for _ in 0..n {
                    greenthread::yield_now();
                }
            })
            .unwrap()
    };
    let (x, y) = (spawn(), spawn());
    x.join().unwrap();
    y.join().unwrap();
}

fn yield_may(n: u64) {
    may::config().set_workers(1);
    let spawn = move || {
        // SAFETY: may's spawn is unsafe because a coroutine must not block its worker with
        // OS-thread primitives; this one only yields.
        unsafe {
            may::coroutine::spawn(move || {
                for _ in 0..n {
                    may::coroutine::yield_now();
                }
            })
        }
    };
    // SAFETY: as above; this coroutine only spawns and joins may coroutines.
    let h = unsafe {
        may::coroutine::spawn(move || {
            let (x, y) = (spawn(), spawn());
            x.join().unwrap();
            y.join().unwrap();
        })
    };
    h.join().unwrap();
}

fn spawn_greenthread(n: u64) {
    for _ in 0..n {
        let x = black_box(7u64);
        black_box(greenthread::spawn(move || x + 1).join().unwrap());
    }
}

fn spawn_tokio(n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        for _ in 0..n {
            let x = black_box(7u64);
            black_box(tokio::spawn(async move { x + 1 }).await.unwrap());
        }
    });
}

fn semaphore_tokio(round_trips: u64) {
    // The same workload as `ping_pong/tokio_Semaphore` in sync_peers.rs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ping = Arc::new(tokio::sync::Semaphore::new(0));
        let pong = Arc::new(tokio::sync::Semaphore::new(0));
        let (p, q) = (Arc::clone(&ping), Arc::clone(&pong));
        let a = tokio::spawn(async move {
            for _ in 0..round_trips {
                p.add_permits(1);
                q.acquire().await.unwrap().forget();
            }
        });
        let (p, q) = (ping, pong);
        let z = tokio::spawn(async move {
            for _ in 0..round_trips {
                p.acquire().await.unwrap().forget();
                q.add_permits(1);
            }
        });
        a.await.unwrap();
        z.await.unwrap();
    });
}

fn uncontended_lock(n: u64) {
    let lock = greenthread::sync::Lock::new();
    for _ in 0..n {
        let l = black_box(&lock);
        l.acquire();
        l.release().unwrap();
    }
}

fn uncontended_std(n: u64) {
    let m = Mutex::new(());
    for _ in 0..n {
        drop(black_box(&m).lock().unwrap());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: instr_count <workload> <N>";
    let name = args.get(1).expect(usage).as_str();
    let n: u64 = args.get(2).expect(usage).parse().expect(usage);
    match name {
        "switch_round_trip/greenthread" => switch_greenthread(n, false),
        "switch_round_trip/greenthread_fp_env" => switch_greenthread(n, true),
        "switch_round_trip/corosensei" => switch_corosensei(n),
        "yield_ping_pong/greenthread" => yield_greenthread(n / 2, false),
        "yield_ping_pong/greenthread_fp_env" => yield_greenthread(n / 2, true),
        "yield_ping_pong/may" => yield_may(n / 2),
        "spawn_run_wait/greenthread" => spawn_greenthread(n),
        "spawn_run_wait/tokio" => spawn_tokio(n),
        "ping_pong/greenthread_Semaphore" => {
            workloads::semaphore_ping_pong(n);
        }
        "ping_pong/tokio_Semaphore" => semaphore_tokio(n),
        "uncontended/greenthread_Lock" => uncontended_lock(n),
        "uncontended/std_Mutex" => uncontended_std(n),
        other => panic!("unknown workload {other:?}; {usage}"),
    }
}
