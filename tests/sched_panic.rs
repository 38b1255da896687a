//! Panics (issue 4, items 3 and 7): a panic goes to the waiters (returned, not re-raised);
//! every waiter gets it; a spawn_n panic is reported on stderr and the hub goes on; and a
//! blocking call in a `Drop` during unwinding never switches green threads.

mod support;

use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::sched::{Exit, HubError, JoinError, ParkError, Parker, WaitError, WaitOn};

#[test]
fn a_panic_goes_to_the_waiter_as_an_error() {
    let n = std::hint::black_box(1);
    let gt = greenthread::spawn(move || -> u32 { panic!("boom {n}") });
    match gt.wait() {
        Err(WaitError::Exited(e @ Exit::Panicked(_))) => {
            assert_eq!(e.panic_message(), Some("boom 1"));
            assert!(e.to_string().contains("boom 1"));
        }
        other => panic!("{other:?}"),
    }
    // join hands the payload over, to be re-raised if wanted
    let p = gt.join().unwrap_err().into_panic().unwrap();
    let r = catch_unwind(std::panic::AssertUnwindSafe(move || resume_unwind(p)));
    assert_eq!(
        r.unwrap_err().downcast_ref::<String>().map(String::as_str),
        Some("boom 1")
    );
}

#[test]
fn non_string_payloads() {
    struct Custom(u8);
    let gt = greenthread::spawn(|| std::panic::panic_any(Custom(9)));
    let err = gt.join().unwrap_err();
    assert_eq!(err.exit().unwrap().panic_message(), None);
    let JoinError::Exited(Exit::Panicked(p)) = err else {
        panic!()
    };
    assert_eq!(
        p.take_payload()
            .unwrap()
            .downcast_ref::<Custom>()
            .unwrap()
            .0,
        9
    );
}

#[test]
fn every_waiter_gets_the_panic() {
    let gt = Rc::new(greenthread::spawn(|| -> () {
        greenthread::sleep(Duration::from_millis(2));
        panic!("shared")
    }));
    let ws: Vec<_> = (0..4)
        .map(|_| {
            let gt = Rc::clone(&gt);
            greenthread::spawn(move || {
                gt.wait()
                    .unwrap_err()
                    .exit()
                    .unwrap()
                    .panic_message()
                    .map(String::from)
            })
        })
        .collect();
    for w in ws {
        assert_eq!(w.join().unwrap().as_deref(), Some("shared"));
    }
    assert!(gt.wait().unwrap_err().exit().unwrap().is_panic());
}

#[test]
fn the_hub_survives_panics() {
    for i in 0..50 {
        let gt = greenthread::spawn(move || {
            greenthread::yield_now();
            if i % 2 == 0 {
                panic!("even");
            }
            i
        });
        let r = gt.join();
        assert_eq!(r.is_err(), i % 2 == 0);
    }
    assert_eq!(greenthread::spawn(|| 1).join().unwrap(), 1);
}

#[test]
fn spawn_n_panic_is_reported_and_the_hub_goes_on() {
    if support::is_child() {
        greenthread::Builder::new()
            .name("doomed")
            .spawn_n(|| panic!("spawn_n boom"))
            .unwrap();
        let after = Rc::new(Cell::new(false));
        let a = Rc::clone(&after);
        greenthread::spawn_n(move || a.set(true));
        greenthread::yield_now();
        assert!(after.get());
        assert_eq!(greenthread::spawn(|| 2).join().unwrap(), 2);
        eprintln!("child done");
        return;
    }
    let out = support::run_in_child("spawn_n_panic_is_reported_and_the_hub_goes_on");
    out.assert_success();
    out.assert_stderr_contains("spawn_n boom"); // the panic hook's message
    out.assert_stderr_contains("(spawn_n) panicked: spawn_n boom");
    out.assert_stderr_contains("'doomed'");
    out.assert_stderr_contains("child done");
}

/// Runs `f` from a `Drop` while the green thread unwinds from a panic.
fn in_unwinding_drop(f: impl FnOnce() + 'static) -> Exit {
    struct OnDrop<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for OnDrop<F> {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            (self.0.take().unwrap())();
        }
    }
    let gt = greenthread::spawn(move || {
        let _d = OnDrop(Some(f));
        panic!("unwinding");
    });
    match gt.join() {
        Err(JoinError::Exited(e)) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn yield_in_an_unwinding_drop_does_not_switch() {
    let other_ran = Rc::new(Cell::new(false));
    let o = Rc::clone(&other_ran);
    let other = greenthread::spawn(move || o.set(true));
    let seen = Rc::new(Cell::new(None));
    let s = Rc::clone(&seen);
    let o = Rc::clone(&other_ran);
    let exit = in_unwinding_drop(move || {
        // `other` was spawned before us and would run at a real yield; it did already
        // (we were spawned after it, FIFO), so spawn a fresh one to observe.
        let fresh = Rc::new(Cell::new(false));
        let f = Rc::clone(&fresh);
        greenthread::spawn_n(move || f.set(true));
        greenthread::yield_now();
        greenthread::sleep(Duration::ZERO);
        s.set(Some((fresh.get(), o.get())));
    });
    assert!(exit.is_panic());
    assert_eq!(
        seen.get(),
        Some((false, true)),
        "a yield in an unwinding Drop switched"
    );
    other.join().unwrap();
}

#[test]
fn sleep_in_an_unwinding_drop_blocks_the_os_thread() {
    let slept = Rc::new(Cell::new(Duration::ZERO));
    let s = Rc::clone(&slept);
    let ticks = Rc::new(Cell::new(0));
    let t = Rc::clone(&ticks);
    let exit = in_unwinding_drop(move || {
        let fresh = Rc::clone(&t);
        greenthread::spawn_n(move || fresh.set(fresh.get() + 1));
        let t0 = Instant::now();
        greenthread::sleep(Duration::from_millis(10));
        s.set(t0.elapsed());
        assert_eq!(t.get(), 0, "others ran during the sleep");
    });
    assert!(exit.is_panic());
    assert!(slept.get() >= Duration::from_millis(10));
    greenthread::yield_now();
    assert_eq!(ticks.get(), 1);
}

#[test]
fn wait_and_park_in_an_unwinding_drop_fail_without_switching() {
    let results = Rc::new(Cell::new((false, false, false)));
    let r = Rc::clone(&results);
    let finished = greenthread::spawn(|| 1);
    greenthread::yield_now();
    let exit = in_unwinding_drop(move || {
        let unfinished = greenthread::spawn(|| 2);
        let a = matches!(unfinished.wait(), Err(WaitError::Hub(HubError::Panicking)));
        let b = finished.wait().is_ok(); // already finished: fine
        let c = matches!(
            Parker::new().park(WaitOn::Other("x"), None, false),
            Err(ParkError::Panicking)
        );
        r.set((a, b, c));
    });
    assert!(exit.is_panic());
    assert_eq!(results.get(), (true, true, true));
}

#[test]
fn park_in_an_unwinding_drop_still_takes_a_wake_that_already_won() {
    let r = Rc::new(Cell::new(None));
    let r2 = Rc::clone(&r);
    in_unwinding_drop(move || {
        let p = Parker::new();
        assert!(p.waker().wake());
        r2.set(Some(p.park(WaitOn::Other("x"), None, false).is_ok()));
    });
    assert_eq!(r.get(), Some(true));
}

#[test]
fn other_green_threads_never_see_another_ones_panic() {
    // A green thread blocks (tries to) in a Drop while unwinding; the others run before
    // and after, never during, so std::thread::panicking() is false for all of them.
    let saw_panicking = Rc::new(Cell::new(false));
    let watchers: Vec<_> = (0..3)
        .map(|_| {
            let s = Rc::clone(&saw_panicking);
            greenthread::spawn(move || {
                for _ in 0..20 {
                    s.set(s.get() || std::thread::panicking());
                    greenthread::yield_now();
                }
            })
        })
        .collect();
    for _ in 0..5 {
        in_unwinding_drop(|| {
            greenthread::yield_now();
            greenthread::sleep(Duration::from_millis(1));
        });
        greenthread::yield_now();
    }
    for w in watchers {
        w.join().unwrap();
    }
    assert!(!saw_panicking.get());
}

#[test]
fn a_panic_in_the_main_green_thread_does_not_disturb_the_others() {
    let gt = greenthread::spawn(|| {
        greenthread::sleep(Duration::from_millis(2));
        3
    });
    let r = catch_unwind(|| panic!("main panics"));
    assert!(r.is_err());
    assert_eq!(gt.join().unwrap(), 3);
}
