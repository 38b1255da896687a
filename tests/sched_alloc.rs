//! Hot paths do not allocate: a yield never; spawn + run + join of a small closure with a
//! warm stack pool and control-block cache neither; a park/wake pair only for the waker's
//! reference count (no heap allocation at all).
//!
//! A counting global allocator counts allocations made by the calling OS thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

struct Counting;

std::thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to `System` unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded from our caller.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from our caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded from our caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

#[test]
fn yield_does_not_allocate() {
    let other = greenthread::spawn(|| {
        for _ in 0..2000 {
            greenthread::yield_now();
        }
    });
    for _ in 0..10 {
        greenthread::yield_now(); // warm up
    }
    let before = allocs();
    for _ in 0..1000 {
        greenthread::yield_now();
    }
    assert_eq!(allocs() - before, 0);
    other.join().unwrap();
}

#[test]
fn warm_spawn_run_join_does_not_allocate() {
    for i in 0..100u64 {
        greenthread::spawn(move || i + 1).join().unwrap();
        greenthread::spawn_n(move || {
            std::hint::black_box(i);
        });
        greenthread::yield_now();
    }
    let before = allocs();
    for i in 0..1000u64 {
        assert_eq!(greenthread::spawn(move || i + 1).join().unwrap(), i + 1);
        greenthread::spawn_n(move || {
            std::hint::black_box(i);
        });
        greenthread::yield_now();
    }
    assert_eq!(allocs() - before, 0);
}

#[test]
fn sleep_and_park_do_not_allocate_once_warm() {
    use greenthread::sched::{Parker, WaitOn};
    let sleeper = || greenthread::spawn(|| greenthread::sleep(Duration::from_micros(10)));
    for _ in 0..10 {
        sleeper().join().unwrap();
        let p = Parker::new();
        let w = p.waker();
        greenthread::spawn_n(move || {
            w.wake();
        });
        p.park(WaitOn::Other("x"), None, false).unwrap();
    }
    let before = allocs();
    for _ in 0..100 {
        sleeper().join().unwrap();
        let p = Parker::new();
        let w = p.waker();
        greenthread::spawn_n(move || {
            w.wake();
        });
        p.park(WaitOn::Other("x"), None, false).unwrap();
    }
    assert_eq!(allocs() - before, 0);
}
