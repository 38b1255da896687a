//! A tour of greenthread as it stands: coroutines on guarded, pooled stacks, and what a
//! context switch costs on this machine. Run with `cargo run --release --example tour`.
//!
//! The timings here are a quick wall-clock estimate (best of several batches); the numbers to
//! quote come from the criterion benches (`cargo bench`, see README).

use std::hint::black_box;
use std::time::{Duration, Instant};

use greenthread::stack::{self, Stack};
use greenthread::{Coroutine, CoroutineResult, Yielder};

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
    println!("greenthread tour\n");

    // 1. A generator: values out, values in.
    let mut running_total = Coroutine::new(|y: &Yielder<i64, i64>, mut x: i64| {
        let mut total = 0;
        loop {
            total += x;
            x = y.suspend(total);
        }
    })
    .expect("a stack");
    let totals: Vec<i64> = [5, 10, -3, 8]
        .into_iter()
        .filter_map(|v| running_total.resume(v).as_yield())
        .collect();
    println!("1. running totals of 5, 10, -3, 8 computed on a green stack: {totals:?}");

    // 2. Panics on a green stack come back to the resumer.
    let mut faulty =
        Coroutine::new(|_: &Yielder<(), ()>, ()| -> () { panic!("bad input") }).unwrap();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| faulty.resume(())));
    std::panic::set_hook(prev);
    let msg = caught
        .unwrap_err()
        .downcast::<&str>()
        .map(|b| *b)
        .unwrap_or("?");
    println!("2. a panic inside a coroutine reached the resumer: {msg:?}");

    // 3. Stack rules.
    let too_small = Stack::new(32 * 1024 - 1).unwrap_err();
    println!("3. Stack::new(32767) -> Err({too_small})");
    let s = Stack::new(0).unwrap();
    println!(
        "   default stack: {} KiB usable above a guard page, minimum {} KiB",
        s.size() / 1024,
        stack::MIN_STACK_SIZE / 1024
    );
    drop(s);

    // 4. What things cost here.
    let mut echo = Coroutine::new(|y: &Yielder<u64, u64>, mut x: u64| {
        loop {
            x = y.suspend(x + 1);
        }
    })
    .unwrap();
    let switch = best_of(20, 200_000, || {
        black_box(echo.resume(black_box(1)));
    });
    let pool = best_of(20, 100_000, || {
        let s = stack::acquire(0).unwrap();
        stack::release(black_box(s));
    });
    let create = best_of(10, 20_000, || {
        let mut co = Coroutine::new(|_: &Yielder<(), ()>, ()| 1u32).unwrap();
        black_box(matches!(co.resume(()), CoroutineResult::Return(1)));
    });
    println!("4. measured on this machine (wall clock, best of several batches):");
    println!(
        "   switch round trip (resume + suspend):      {:>8.1?}",
        switch
    );
    println!(
        "   stack from the pool (acquire + release):   {:>8.1?}",
        pool
    );
    println!(
        "   coroutine create + run to completion:      {:>8.1?}",
        create
    );
}
