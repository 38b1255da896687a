//! Memory per parked green thread / coroutine, one library per process (so allocator state and
//! mappings of one library never count against another).
//!
//! Usage: `mem_peers <greenthread|greenthread-coroutine|corosensei|may|generator> <n> <stack
//! bytes>`. Prints one
//! line: `lib<TAB>n<TAB>KiB resident each<TAB>KiB page tables each<TAB>mappings added`, the
//! deltas of `VmRSS`, `VmPTE` and `/proc/self/maps` over creating `n` suspended contexts that
//! have each run once (up to their first suspension or park). `scripts/memory_peers.sh` runs
//! it for every library and writes the table in `docs/BENCHMARKS.md`.
//!
//! What "parked" means per library: greenthread, a green thread sleeping in the hub's timer
//! heap; greenthread-coroutine, a `greenthread::Coroutine` suspended in its closure (no hub); corosensei, a `Coroutine` suspended in its closure; generator, a `Gn` suspended at
//! `yield_`; may, a coroutine sleeping in `may::coroutine::sleep` (one worker thread).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

struct Before {
    rss: u64,
    pte: u64,
    maps: usize,
}

fn before() -> Before {
    Before {
        rss: status_kib("VmRSS:"),
        pte: status_kib("VmPTE:"),
        maps: map_count(),
    }
}

fn report(lib: &str, n: usize, b: &Before) {
    let rss = status_kib("VmRSS:").saturating_sub(b.rss);
    let pte = status_kib("VmPTE:").saturating_sub(b.pte);
    let maps = map_count().saturating_sub(b.maps);
    println!(
        "{lib}\t{n}\t{:.2}\t{:.2}\t{maps}",
        rss as f64 / n as f64,
        pte as f64 / n as f64
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let lib = args.next().expect("library name");
    let n: usize = args.next().and_then(|s| s.parse().ok()).expect("count");
    let size: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("stack bytes");
    let words = size / size_of::<usize>();
    match lib.as_str() {
        "greenthread" => {
            for _ in 0..10 {
                greenthread::Builder::new()
                    .stack_size(size)
                    .spawn(|| ())
                    .unwrap()
                    .join()
                    .unwrap();
            }
            let mut handles = Vec::with_capacity(n);
            let b = before();
            for _ in 0..n {
                handles.push(
                    greenthread::Builder::new()
                        .stack_size(size)
                        .spawn(|| greenthread::sleep(Duration::from_secs(3600)))
                        .expect("spawn"),
                );
            }
            greenthread::yield_now();
            report(&lib, n, &b);
            std::process::exit(0);
        }
        "greenthread-coroutine" => {
            use greenthread::{Coroutine, Yielder};
            drop(Coroutine::<(), (), ()>::with_stack_size(
                size,
                |_: &Yielder<(), ()>, ()| (),
            ));
            let mut v = Vec::with_capacity(n);
            let b = before();
            for _ in 0..n {
                let mut co =
                    Coroutine::<(), (), ()>::with_stack_size(size, |y: &Yielder<(), ()>, ()| {
                        y.suspend(());
                    })
                    .expect("stack");
                co.resume(());
                v.push(co);
            }
            report(&lib, n, &b);
            std::process::exit(0);
        }
        "corosensei" => {
            use corosensei::stack::DefaultStack;
            use corosensei::{Coroutine, Yielder};
            let mut v = Vec::with_capacity(n);
            let b = before();
            for _ in 0..n {
                let stack = DefaultStack::new(size).expect("stack");
                let mut co = Coroutine::with_stack(stack, |y: &Yielder<(), ()>, ()| {
                    y.suspend(());
                });
                co.resume(());
                v.push(co);
            }
            report(&lib, n, &b);
            std::process::exit(0);
        }
        "generator" => {
            let mut v = Vec::with_capacity(n);
            let b = before();
            for _ in 0..n {
                let mut g = generator::Gn::<()>::new_scoped_opt(words, |mut s| {
                    s.yield_(());
                });
                g.resume();
                v.push(g);
            }
            report(&lib, n, &b);
            std::process::exit(0);
        }
        "may" => {
            static STARTED: AtomicUsize = AtomicUsize::new(0);
            may::config().set_workers(1).set_stack_size(words);
            // Warm up the scheduler.
            let h = may::go!(|| ());
            h.join().unwrap();
            let mut v = Vec::with_capacity(n);
            let b = before();
            for _ in 0..n {
                v.push(may::go!(|| {
                    STARTED.fetch_add(1, Ordering::Relaxed);
                    may::coroutine::sleep(Duration::from_secs(3600));
                }));
            }
            while STARTED.load(Ordering::Relaxed) < n {
                std::thread::sleep(Duration::from_millis(10));
            }
            report(&lib, n, &b);
            std::process::exit(0);
        }
        other => panic!("unknown library {other}"),
    }
}
