//! A tour of greenthread: a realistic little workload, then what things cost here.
//! Run with `cargo run --release --example tour` (it takes a few seconds).
//!
//! The workload: 5,000 green "clients" share a pool of 50 "connections" guarded by a
//! `BoundedSemaphore`, each doing a few milliseconds of simulated I/O (sleeps) and updating
//! shared statistics under a `Lock`; a second OS thread updates the same statistics through
//! the same lock; a watchdog kills a client that hangs, and links report how every client
//! ended. The timings at the end are quick wall-clock estimates (best of several batches);
//! the numbers to quote come from the criterion benches (`scripts/benchmarks.sh`).

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenthread::sync::{BoundedSemaphore, Lock};
use greenthread::{Coroutine, Yielder, thread};

const CLIENTS: usize = 5_000;
const POOL: usize = 50;

/// A tiny deterministic generator (xorshift) for the simulated I/O times.
fn next_rand(state: &Cell<u64>) -> u64 {
    let mut x = state.get();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.set(x);
    x
}

/// Best per-iteration time over `batches` batches of `n` calls of `f`.
fn best_of(batches: u32, n: u32, mut f: impl FnMut()) -> Duration {
    (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            t.elapsed() / n
        })
        .min()
        .unwrap()
}

fn main() {
    println!(
        "greenthread tour (OS thread id {}, main green thread {})\n",
        thread::get_native_id(),
        thread::get_ident()
    );
    let started = Instant::now();

    // Shared with a second OS thread: a Lock (Send + Sync) guarding a counter.
    let stats_lock = Arc::new(Lock::new());
    let requests = Arc::new(AtomicU64::new(0));

    // Green-thread-local state: a pool guard, concurrency tracking, outcomes.
    let pool = Rc::new(BoundedSemaphore::new(POOL));
    let in_use = Rc::new(Cell::new(0usize));
    let max_in_use = Rc::new(Cell::new(0usize));
    let finished = Rc::new(Cell::new(0usize));
    let killed = Rc::new(RefCell::new(Vec::new()));
    let rng = Rc::new(Cell::new(0x9e37_79b9_7f4a_7c15u64));

    println!("1. {CLIENTS} green clients share {POOL} pooled connections (BoundedSemaphore)...");
    let mut clients = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let (pool, in_use, max_in_use) = (pool.clone(), in_use.clone(), max_in_use.clone());
        let (stats_lock, requests, rng) = (stats_lock.clone(), requests.clone(), rng.clone());
        let gt = greenthread::Builder::new()
            .name(format!("client-{i}"))
            .spawn(move || {
                let _conn = pool.acquire_guard();
                in_use.set(in_use.get() + 1);
                max_in_use.set(max_in_use.get().max(in_use.get()));
                // Simulated I/O: 0-3 ms, during which other clients run.
                greenthread::sleep(Duration::from_micros(next_rand(&rng) % 3000));
                {
                    let _g = stats_lock.lock();
                    requests.fetch_add(1, Ordering::Relaxed);
                }
                in_use.set(in_use.get() - 1);
                i
            })
            .expect("a stack for every client");
        let (finished, killed) = (finished.clone(), killed.clone());
        gt.link(move |gt| match gt.wait() {
            Ok(_) => finished.set(finished.get() + 1),
            Err(e) => killed
                .borrow_mut()
                .push(format!("{} ({e})", gt.name().unwrap_or("?"))),
        });
        clients.push(gt);
    }

    // One client hangs forever (it waits on a lock nobody releases); a watchdog kills it.
    let never = Rc::new(Lock::new_local());
    never.acquire();
    let n2 = never.clone();
    let hung = greenthread::Builder::new()
        .name("client-hung")
        .spawn(move || {
            n2.acquire();
            usize::MAX
        })
        .unwrap();
    let k = killed.clone();
    hung.link(move |gt| {
        k.borrow_mut().push(format!(
            "{} ({})",
            gt.name().unwrap_or("?"),
            gt.wait().unwrap_err()
        ))
    });
    let hung = Rc::new(hung);
    let h = hung.clone();
    let watchdog = greenthread::spawn_after(Duration::from_millis(20), move || {
        println!("   watchdog: client-hung is still waiting after 20 ms; killing it");
        h.kill();
    });

    // Meanwhile another OS thread takes the same lock 1,000 times.
    let (l2, r2) = (stats_lock.clone(), requests.clone());
    let os = std::thread::spawn(move || {
        for _ in 0..1000 {
            let _g = l2.lock();
            r2.fetch_add(1, Ordering::Relaxed);
        }
    });

    for gt in &clients {
        let _ = gt.wait();
    }
    watchdog.wait().unwrap();
    os.join().unwrap();
    let _ = hung.wait();

    println!(
        "   {} clients finished, peak concurrency {} (pool of {POOL})",
        finished.get(),
        max_in_use.get()
    );
    println!("   killed: {:?}", killed.borrow());
    println!(
        "   requests counted under the shared Lock: {} ({CLIENTS} from green threads + 1000 from the other OS thread)",
        requests.load(Ordering::Relaxed)
    );
    assert_eq!(requests.load(Ordering::Relaxed), CLIENTS as u64 + 1000);
    assert!(max_in_use.get() <= POOL);
    println!("   workload done in {:.0?}\n", started.elapsed());

    // 2. The Python-shaped surface.
    println!("2. The _thread facade:");
    let lock = thread::allocate_lock();
    lock.acquire();
    println!(
        "   lock.acquire(blocking=False) on a held lock -> {:?}",
        lock.acquire_with(false, None)
    );
    println!(
        "   lock.acquire(blocking=False, timeout=1) -> {}",
        lock.acquire_with(false, Some(1.0)).unwrap_err()
    );
    lock.release().unwrap();
    println!(
        "   releasing an unlocked lock -> {} ({})",
        lock.release().unwrap_err(),
        lock.release().unwrap_err().python_exception()
    );
    println!(
        "   stack_size(1000) -> {}",
        thread::stack_size(Some(1000)).unwrap_err()
    );
    println!("   TIMEOUT_MAX = {}\n", thread::TIMEOUT_MAX);

    // 3. What things cost here.
    let ping_pong = {
        let flag = Rc::new(Cell::new(true));
        let f = flag.clone();
        let other = greenthread::spawn(move || {
            while f.get() {
                greenthread::yield_now();
            }
        });
        let per = best_of(10, 100_000, greenthread::yield_now);
        flag.set(false);
        other.join().unwrap();
        per
    };
    let spawn_wait = best_of(10, 20_000, || {
        let gt = greenthread::spawn(|| black_box(1u32));
        black_box(gt.join().unwrap());
    });
    let mut echo = Coroutine::new(|y: &Yielder<u64, u64>, mut x: u64| {
        loop {
            x = y.suspend(x + 1);
        }
    })
    .unwrap();
    let switch = best_of(10, 200_000, || {
        black_box(echo.resume(black_box(1)));
    });
    let sem = BoundedSemaphore::new(1);
    let uncontended = best_of(10, 200_000, || {
        sem.acquire();
        sem.release().unwrap();
    });
    println!("3. Measured on this machine (wall clock, best of 10 batches):");
    println!("   yield_now, one other green thread ready (2 switches): {ping_pong:>9.1?}");
    println!("   Coroutine resume + suspend (2 switches):             {switch:>9.1?}");
    println!("   spawn + run + join a trivial green thread:           {spawn_wait:>9.1?}");
    println!("   uncontended semaphore acquire + release:             {uncontended:>9.1?}");
    println!("\ntour done in {:.1?}", started.elapsed());
}
