//! Spawning, ordering, yielding, sleeping, identity, results and waiting (issue 4, items 1-3).
//!
//! Every test runs on its own OS thread (libtest), hence on a fresh hub.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::sched::{Exit, GreenState, SpawnError, WaitError};
use greenthread::{Builder, GreenHandle, GreenThread};
use static_assertions::{assert_impl_all, assert_not_impl_any};

// Handles never leave their OS thread; wakers and hub handles do.
assert_not_impl_any!(GreenThread<u32>: Send, Sync, Clone);
assert_not_impl_any!(GreenHandle: Send, Sync);
assert_impl_all!(GreenHandle: Clone, PartialEq, Eq, std::hash::Hash, std::fmt::Debug);
assert_not_impl_any!(greenthread::sched::Parker: Send, Sync);
assert_impl_all!(greenthread::sched::Waker: Send, Sync, Clone);
assert_impl_all!(greenthread::sched::HubHandle: Send, Sync, Clone);
assert_impl_all!(Builder: Send, Sync, Clone, Default);
assert_impl_all!(SpawnError: Send, Sync, std::error::Error);
assert_impl_all!(greenthread::sched::HubError: Send, Sync, std::error::Error, Clone);
assert_impl_all!(greenthread::sched::ParkError: Send, Sync, std::error::Error);
assert_impl_all!(Exit: Send, std::error::Error);

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, s: impl Into<String>) {
    log.borrow_mut().push(s.into());
}

#[test]
fn spawned_thread_does_not_run_until_the_spawner_yields() {
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    let gt = greenthread::spawn(move || r.set(true));
    assert!(!ran.get());
    assert!(!gt.has_started());
    // Busy work without a switch point still does not run it.
    let mut x = 0u64;
    for i in 0..100_000 {
        x = x.wrapping_add(i);
    }
    std::hint::black_box(x);
    assert!(!ran.get());
    greenthread::yield_now();
    assert!(ran.get());
    assert!(gt.is_finished());
}

#[test]
fn run_queue_is_fifo() {
    let l = log();
    for i in 0..5 {
        let l = Rc::clone(&l);
        greenthread::spawn_n(move || push(&l, format!("{i}")));
    }
    greenthread::yield_now();
    assert_eq!(*l.borrow(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn yield_lets_every_other_ready_thread_run_once() {
    let l = log();
    let mut gts = Vec::new();
    for name in ["a", "b", "c"] {
        let l = Rc::clone(&l);
        gts.push(greenthread::spawn(move || {
            for i in 0..3 {
                push(&l, format!("{name}{i}"));
                greenthread::yield_now();
            }
        }));
    }
    // main is part of the rotation too
    for i in 0..3 {
        greenthread::yield_now();
        push(&l, format!("main{i}"));
    }
    for gt in gts {
        gt.join().unwrap();
    }
    assert_eq!(
        *l.borrow(),
        [
            "a0", "b0", "c0", "main0", "a1", "b1", "c1", "main1", "a2", "b2", "c2", "main2"
        ]
    );
}

#[test]
fn sleep_zero_is_a_yield() {
    let l = log();
    let l2 = Rc::clone(&l);
    let gt = greenthread::spawn(move || push(&l2, "child"));
    greenthread::sleep(Duration::ZERO);
    push(&l, "main");
    gt.join().unwrap();
    assert_eq!(*l.borrow(), ["child", "main"]);
}

#[test]
fn yield_with_nothing_else_ready_returns() {
    for _ in 0..1000 {
        greenthread::yield_now();
    }
}

#[test]
fn sleep_sleeps_at_least_the_duration_and_others_run() {
    let ticks = Rc::new(Cell::new(0u32));
    let t = Rc::clone(&ticks);
    let ticker = greenthread::spawn(move || {
        for _ in 0..5 {
            t.set(t.get() + 1);
            greenthread::yield_now();
        }
    });
    let t0 = Instant::now();
    greenthread::sleep(Duration::from_millis(20));
    assert!(t0.elapsed() >= Duration::from_millis(20));
    assert_eq!(ticks.get(), 5);
    ticker.join().unwrap();
}

#[test]
fn sleepers_wake_in_deadline_order() {
    let l = log();
    let mut gts = Vec::new();
    for ms in [30u64, 10, 20] {
        let l = Rc::clone(&l);
        gts.push(greenthread::spawn(move || {
            greenthread::sleep(Duration::from_millis(ms));
            push(&l, format!("{ms}"));
        }));
    }
    for gt in gts {
        gt.join().unwrap();
    }
    assert_eq!(*l.borrow(), ["10", "20", "30"]);
}

#[test]
fn sleep_until_in_the_past_yields_once() {
    let l = log();
    let l2 = Rc::clone(&l);
    let gt = greenthread::spawn(move || push(&l2, "child"));
    greenthread::sleep_until(Instant::now() - Duration::from_millis(5));
    push(&l, "main");
    gt.join().unwrap();
    assert_eq!(*l.borrow(), ["child", "main"]);
}

#[test]
fn huge_sleep_does_not_overflow() {
    let gt = greenthread::spawn(|| greenthread::sleep(Duration::MAX));
    greenthread::yield_now();
    let d = greenthread::dump();
    let info = d.green_threads.iter().find(|g| g.id == gt.id()).unwrap();
    assert_eq!(info.state, GreenState::Parked);
    assert!(info.time_left.unwrap() > Duration::from_secs(3600 * 24 * 365));
    gt.kill();
}

#[test]
fn ids_are_nonzero_and_unique_and_current_matches() {
    let main = greenthread::current();
    assert_ne!(main.id(), 0);
    assert!(main.is_main());
    assert_eq!(greenthread::getcurrent(), main);
    let mut ids = vec![main.id()];
    let gts: Vec<_> = (0..100)
        .map(|_| greenthread::spawn(|| greenthread::current().id()))
        .collect();
    for gt in gts {
        let id = gt.id();
        assert_ne!(id, 0);
        assert_eq!(gt.join().unwrap(), id);
        ids.push(id);
    }
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n);
}

#[test]
fn ids_are_unique_across_os_threads() {
    let ids: Vec<u64> = (0..4)
        .map(|_| {
            std::thread::spawn(|| {
                let mut v = vec![greenthread::current().id()];
                for _ in 0..50 {
                    v.push(
                        greenthread::spawn(|| greenthread::current().id())
                            .join()
                            .unwrap(),
                    );
                }
                v
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
}

#[test]
fn names() {
    let gt = Builder::new()
        .name("worker-1")
        .spawn(|| greenthread::current().name().map(String::from))
        .unwrap();
    assert_eq!(gt.name(), Some("worker-1"));
    assert_eq!(gt.handle().name(), Some("worker-1"));
    assert_eq!(gt.join().unwrap().as_deref(), Some("worker-1"));
    let anon = greenthread::spawn(|| greenthread::current().name().map(String::from));
    assert_eq!(anon.name(), None);
    assert_eq!(anon.join().unwrap(), None);
    // The main green thread is named after its OS thread (the test's name here).
    let os = std::thread::current().name().map(String::from);
    assert_eq!(greenthread::current().name().map(String::from), os);
}

#[test]
fn results_and_multiple_waiters() {
    let gt = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_millis(2));
        vec![1, 2, 3]
    }));
    let seen = Rc::new(Cell::new(0));
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let gt = Rc::clone(&gt);
            let seen = Rc::clone(&seen);
            greenthread::spawn(move || {
                assert_eq!(gt.wait().unwrap(), &[1, 2, 3]);
                seen.set(seen.get() + 1);
            })
        })
        .collect();
    assert_eq!(gt.wait().unwrap(), &[1, 2, 3]);
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(seen.get(), 5);
    // Waiting on a finished thread returns at once, again and again.
    assert_eq!(gt.wait().unwrap(), &[1, 2, 3]);
    let gt = Rc::try_unwrap(gt).unwrap();
    assert_eq!(gt.join().unwrap(), vec![1, 2, 3]);
}

#[test]
fn waiters_resume_in_fifo_order() {
    let target = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_millis(2))
    }));
    let l = log();
    let ws: Vec<_> = (0..4)
        .map(|i| {
            let t = Rc::clone(&target);
            let l = Rc::clone(&l);
            greenthread::spawn(move || {
                t.wait().unwrap();
                push(&l, format!("{i}"));
            })
        })
        .collect();
    for w in ws {
        w.join().unwrap();
    }
    assert_eq!(*l.borrow(), ["0", "1", "2", "3"]);
}

#[test]
fn dropping_the_handle_detaches() {
    let done = Rc::new(Cell::new(false));
    let d = Rc::clone(&done);
    drop(greenthread::spawn(move || {
        greenthread::sleep(Duration::from_millis(1));
        d.set(true);
    }));
    greenthread::sleep(Duration::from_millis(10));
    assert!(done.get());
}

#[test]
fn result_is_dropped_exactly_once() {
    struct Counted(Rc<Cell<u32>>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let drops = Rc::new(Cell::new(0));
    // joined: moved out
    let d = Rc::clone(&drops);
    let v = greenthread::spawn(move || Counted(d)).join().unwrap();
    assert_eq!(drops.get(), 0);
    drop(v);
    assert_eq!(drops.get(), 1);
    // waited, then handle dropped
    let d = Rc::clone(&drops);
    let gt = greenthread::spawn(move || Counted(d));
    gt.wait().unwrap();
    drop(gt);
    assert_eq!(drops.get(), 2);
    // handle dropped before it finished: dropped by the green thread itself
    let d = Rc::clone(&drops);
    drop(greenthread::spawn(move || Counted(d)));
    greenthread::yield_now();
    assert_eq!(drops.get(), 3);
    // untyped handle kept: the result is still dropped when the typed one goes
    let d = Rc::clone(&drops);
    let gt = greenthread::spawn(move || Counted(d));
    let h = gt.handle();
    gt.wait().unwrap();
    drop(gt);
    assert_eq!(drops.get(), 4);
    assert!(h.is_finished());
}

#[test]
fn builder_stack_sizes() {
    let err = Builder::new().stack_size(1000).spawn(|| ()).unwrap_err();
    assert!(matches!(err, SpawnError::Stack(_)), "{err:?}");
    assert!(err.to_string().contains("can't start new thread"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    let gt = Builder::new().stack_size(64 * 1024).spawn(|| 1).unwrap();
    assert_eq!(gt.join().unwrap(), 1);
    Builder::new().stack_size(48 * 1024).spawn_n(|| ()).unwrap();
    greenthread::yield_now();
    let info = |gt: &GreenThread<()>| {
        greenthread::dump()
            .green_threads
            .into_iter()
            .find(|g| g.id == gt.id())
            .unwrap()
    };
    let big = Builder::new().stack_size(256 * 1024).spawn(|| ()).unwrap();
    assert_eq!(info(&big).stack_size, 256 * 1024);
    let default = greenthread::spawn(|| ());
    assert_eq!(
        info(&default).stack_size,
        greenthread::stack::DEFAULT_STACK_SIZE
    );
    big.join().unwrap();
    default.join().unwrap();
}

#[test]
fn large_closures_are_boxed_and_work() {
    let big = [7u8; 8192];
    let gt = greenthread::spawn(move || big.iter().map(|&b| b as u32).sum::<u32>());
    assert_eq!(gt.join().unwrap(), 7 * 8192);
    #[repr(align(64))]
    struct Aligned(u64);
    let a = Aligned(5);
    let gt = greenthread::spawn(move || {
        let p = &a as *const Aligned as usize;
        (p % 64, a.0)
    });
    assert_eq!(gt.join().unwrap(), (0, 5));
}

#[test]
fn closure_of_a_thread_that_never_runs_is_dropped() {
    let drops = Rc::new(Cell::new(0));
    struct D(Rc<Cell<u32>>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let d = D(Rc::clone(&drops));
    let gt = greenthread::spawn(move || {
        let _d = d;
        unreachable!()
    });
    gt.cancel();
    assert_eq!(drops.get(), 1);
    assert!(matches!(gt.wait(), Err(WaitError::Exited(Exit::Cancelled))));
}

#[test]
fn many_green_threads_reuse_stacks() {
    // Far more green threads over time than the pool holds: nothing leaks, nothing fails.
    for _ in 0..20 {
        let gts: Vec<_> = (0..200)
            .map(|i| greenthread::spawn(move || i * 2))
            .collect();
        for (i, gt) in gts.into_iter().enumerate() {
            assert_eq!(gt.join().unwrap(), i * 2);
        }
    }
}

#[test]
fn spawn_from_green_threads_nested() {
    fn fib(n: u32) -> u64 {
        if n < 2 {
            return n as u64;
        }
        let a = greenthread::spawn(move || fib(n - 1));
        let b = greenthread::spawn(move || fib(n - 2));
        a.join().unwrap() + b.join().unwrap()
    }
    assert_eq!(fib(12), 144);
}

#[test]
fn green_threads_of_different_os_threads_are_independent() {
    let hs: Vec<_> = (0..3)
        .map(|k| {
            std::thread::spawn(move || {
                let gts: Vec<_> = (0..10u64)
                    .map(|i| {
                        greenthread::spawn(move || {
                            greenthread::sleep(Duration::from_millis(1));
                            i * k
                        })
                    })
                    .collect();
                gts.into_iter().map(|g| g.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    let sums: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(sums, [0, 45, 90]);
}
