//! The park/wake contract the lock layer is built on (issue 4, item 1), and the
//! `interrupt_main` hook: exactly one winner per park, no lost wakes, stale wakes report
//! false, cross-thread wakes go through the owning hub.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use greenthread::sched::{
    HubHandle, ParkError, Parker, WaitOn, Waker, Wakeup, check_interrupt, interrupt_main,
};

const W: WaitOn = WaitOn::Other("test");

#[test]
fn wake_before_park_is_not_lost() {
    let p = Parker::new();
    let w = p.waker();
    assert!(w.can_wake());
    assert!(w.wake());
    assert!(!w.can_wake());
    assert!(!w.wake());
    assert!(p.is_woken());
    // returns at once, without switching
    let other_ran = Rc::new(Cell::new(false));
    let o = Rc::clone(&other_ran);
    greenthread::spawn_n(move || o.set(true));
    assert_eq!(p.park(W, None, false).unwrap(), Wakeup::Woken);
    assert!(!other_ran.get());
}

#[test]
fn wake_from_another_green_thread() {
    let p = Parker::new();
    let w = p.waker();
    let w2 = w.clone();
    let waker = greenthread::spawn(move || {
        let first = w.wake();
        let second = w2.wake();
        (first, second)
    });
    assert_eq!(p.park(W, None, false).unwrap(), Wakeup::Woken);
    assert_eq!(waker.join().unwrap(), (true, false));
}

#[test]
fn a_same_thread_wake_does_not_switch() {
    let p = Parker::new();
    let w = p.waker();
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let l = Rc::clone(&log);
    let waker = greenthread::spawn(move || {
        assert!(w.wake());
        l.borrow_mut().push("waker continues");
        greenthread::yield_now();
        l.borrow_mut().push("waker after yield");
    });
    p.park(W, None, false).unwrap();
    log.borrow_mut().push("parker resumed");
    waker.join().unwrap();
    assert_eq!(
        *log.borrow(),
        ["waker continues", "parker resumed", "waker after yield"]
    );
}

#[test]
fn wake_from_another_os_thread_while_the_hub_sleeps() {
    let p = Parker::new();
    let w: Waker = p.waker();
    let t0 = Instant::now();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        w.wake()
    });
    assert_eq!(p.park(W, None, true).unwrap(), Wakeup::Woken);
    assert!(t0.elapsed() >= Duration::from_millis(20));
    assert!(os.join().unwrap());
}

#[test]
fn wake_from_another_os_thread_while_the_hub_is_busy() {
    // The hub never runs dry (a yield loop), so the post is picked up at a tick.
    let stop = Rc::new(Cell::new(false));
    let s = Rc::clone(&stop);
    let spinner = greenthread::spawn(move || {
        while !s.get() {
            greenthread::yield_now();
        }
    });
    let p = Parker::new();
    let w = p.waker();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        w.wake()
    });
    assert_eq!(p.park(W, None, true).unwrap(), Wakeup::Woken);
    stop.set(true);
    spinner.join().unwrap();
    assert!(os.join().unwrap());
}

#[test]
fn a_wake_after_the_timeout_reports_false() {
    let p = Parker::new();
    let w = p.waker();
    let r = p.park(W, Some(Instant::now() + Duration::from_millis(2)), false);
    assert_eq!(r.unwrap(), Wakeup::TimedOut);
    assert!(!w.wake());
    // and from another OS thread too
    let p = Parker::new();
    let w = p.waker();
    let _ = p.park(W, Some(Instant::now()), false);
    assert!(!std::thread::spawn(move || w.wake()).join().unwrap());
}

#[test]
fn a_wake_for_an_old_park_reports_false() {
    let p1 = Parker::new();
    let old = p1.waker();
    assert!(!p1.cancel());
    let p2 = Parker::new();
    let new = p2.waker();
    assert!(!old.wake());
    assert!(new.wake());
    assert_eq!(p2.park(W, None, false).unwrap(), Wakeup::Woken);
}

#[test]
fn dropping_or_cancelling_the_parker_gives_the_park_up() {
    let p = Parker::new();
    let w = p.waker();
    drop(p);
    assert!(!w.wake());
    let p = Parker::new();
    let w = p.waker();
    assert!(w.wake());
    assert!(p.cancel()); // the wake had won: the caller owns what it handed over
}

#[test]
#[should_panic(expected = "retired by a newer Parker")]
fn parking_a_retired_parker_panics() {
    let p1 = Parker::new();
    let _p2 = Parker::new();
    let _ = p1.park(W, None, false);
}

#[test]
fn parking_another_green_threads_parker_panics() {
    let p = Parker::new();
    let gt = greenthread::spawn(move || p.park(W, None, false));
    let err = gt.join().unwrap_err();
    let msg = err.exit().unwrap().panic_message().unwrap().to_string();
    assert!(msg.contains("was parked by green thread"), "{msg}");
}

#[test]
fn deadline_in_the_past_times_out_at_once() {
    let p = Parker::new();
    let w = p.waker();
    let t0 = Instant::now();
    assert_eq!(p.park(W, Some(t0), false).unwrap(), Wakeup::TimedOut);
    assert!(!w.wake());
}

#[test]
fn wakes_after_the_hub_is_gone_report_false() {
    // A green thread parks with an external waker and is still parked when its OS
    // thread exits: the teardown ends the park, so the waker can no longer win.
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    std::thread::spawn(move || {
        greenthread::spawn_n(move || {
            let p = Parker::new();
            tx.send(p.waker()).unwrap();
            let _ = p.park(W, None, true);
            check_interrupt();
        });
        greenthread::yield_now();
    })
    .join()
    .unwrap();
    let w = rx.recv().unwrap();
    assert!(!w.can_wake());
    assert!(!w.wake());
}

#[test]
fn exactly_one_winner_under_races() {
    // Green threads on this hub park with short timeouts; OS threads wake them at random
    // moments. For every park: the wake returned true iff the park returned Woken. So
    // what the wakers hand over (a count here) is never lost nor duplicated.
    const PARKS: u64 = 400;
    let handed: Arc<AtomicU64> = Arc::new(AtomicU64::new(0));
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let wakers: Vec<_> = (0..2u32)
        .map(|k| {
            let handed = Arc::clone(&handed);
            let rx = Arc::clone(&rx);
            std::thread::spawn(move || {
                let mut spin = k;
                loop {
                    let next = rx.lock().unwrap().recv();
                    let Ok(w) = next else { return };
                    spin = spin.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if spin % 3 == 0 {
                        std::thread::sleep(Duration::from_micros(u64::from(spin % 300)));
                    }
                    if w.wake() {
                        handed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let woken = Rc::new(Cell::new(0u64));
    let timed_out = Rc::new(Cell::new(0u64));
    let gts: Vec<_> = (0..8)
        .map(|i| {
            let tx = tx.clone();
            let woken = Rc::clone(&woken);
            let timed_out = Rc::clone(&timed_out);
            greenthread::spawn(move || {
                for j in 0..PARKS / 8 {
                    let p = Parker::new();
                    tx.send(p.waker()).unwrap();
                    let timeout = Duration::from_micros((i * 37 + j * 11) % 200);
                    match p.park(W, Some(Instant::now() + timeout), true) {
                        Ok(Wakeup::Woken) => woken.set(woken.get() + 1),
                        Ok(Wakeup::TimedOut) => timed_out.set(timed_out.get() + 1),
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for gt in gts {
        gt.join().unwrap();
    }
    for w in wakers {
        w.join().unwrap();
    }
    assert_eq!(woken.get() + timed_out.get(), PARKS);
    assert_eq!(handed.load(Ordering::SeqCst), woken.get());
}

#[test]
fn kill_racing_a_cross_thread_wake_loses_nothing() {
    // A parked green thread is killed while an OS thread wakes it. Either the park was won
    // by the wake (park returns Woken; the kill is raised at the next switch point) or by
    // the kill (park returns Interrupted; the wake returns false). Never both, never none.
    //
    // The waker reaches the OS thread only once the victim is parked. Handing it over
    // before the park would let the wake win before the kill was even issued: the victim
    // then runs to completion (`park` returns at once, "no lost wake-ups") before main
    // gets back to `kill`, which is a no-op on a finished thread, and there is no race
    // with the kill left to check (that case is
    // `a_cross_thread_wake_before_the_park_lets_the_green_thread_finish_before_a_later_kill`).
    for round in 0..50 {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let os = std::thread::spawn(move || {
            let w = rx.recv().unwrap();
            if round % 2 == 0 {
                std::thread::yield_now();
            }
            w.wake()
        });
        let outcome = Rc::new(Cell::new(None));
        let o = Rc::clone(&outcome);
        let waker = Rc::new(Cell::new(None));
        let wk = Rc::clone(&waker);
        let victim = greenthread::spawn(move || {
            let p = Parker::new();
            wk.set(Some(p.waker()));
            let r = p.park(W, None, true);
            o.set(Some(matches!(r, Ok(Wakeup::Woken))));
            check_interrupt();
        });
        greenthread::yield_now();
        // Nobody else has a waker yet, so the victim is parked and its park still open.
        let w = waker.take().expect("the victim ran up to its park");
        assert!(w.can_wake(), "round {round}: the victim is parked");
        assert!(!victim.is_finished());
        tx.send(w).unwrap();
        if round % 3 == 0 {
            std::thread::sleep(Duration::from_micros(50));
        }
        victim.kill();
        assert!(
            victim.wait().unwrap_err().exit().unwrap().is_killed(),
            "round {round}"
        );
        let wake_won = os.join().unwrap();
        assert_eq!(outcome.get(), Some(wake_won), "round {round}");
    }
}

#[test]
fn a_cross_thread_wake_that_won_before_the_kill_is_woken_then_killed() {
    // The wake wins the park and sits in the inbox (the hub has not switched since), then
    // the kill comes: park reports Woken, and the kill is raised at the next switch point.
    let outcome = Rc::new(Cell::new(None));
    let o = Rc::clone(&outcome);
    let waker = Rc::new(Cell::new(None));
    let wk = Rc::clone(&waker);
    let victim = greenthread::spawn(move || {
        let p = Parker::new();
        wk.set(Some(p.waker()));
        let r = p.park(W, None, true);
        o.set(Some(matches!(r, Ok(Wakeup::Woken))));
        check_interrupt();
        unreachable!("the kill is raised by check_interrupt");
    });
    greenthread::yield_now();
    let w: Waker = waker.take().unwrap();
    assert!(std::thread::spawn(move || w.wake()).join().unwrap());
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(outcome.get(), Some(true));
}

#[test]
fn a_kill_that_won_the_park_makes_a_cross_thread_wake_report_false() {
    let outcome = Rc::new(Cell::new(None));
    let o = Rc::clone(&outcome);
    let waker = Rc::new(Cell::new(None));
    let wk = Rc::clone(&waker);
    let victim = greenthread::spawn(move || {
        let p = Parker::new();
        wk.set(Some(p.waker()));
        let r = p.park(W, None, true);
        o.set(Some(matches!(r, Err(ParkError::Interrupted))));
        check_interrupt();
    });
    greenthread::yield_now();
    let w: Waker = waker.take().unwrap();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(outcome.get(), Some(true));
    assert!(!std::thread::spawn(move || w.wake()).join().unwrap());
}

#[test]
fn a_cross_thread_wake_before_the_park_lets_the_green_thread_finish_before_a_later_kill() {
    // What the race test above must rule out: the wake wins before `park`, so `park`
    // returns at once and the green thread runs to completion in the same turn; a kill
    // issued afterwards finds it finished and does nothing.
    let victim = greenthread::spawn(|| {
        let p = Parker::new();
        let w = p.waker();
        assert!(std::thread::spawn(move || w.wake()).join().unwrap());
        assert_eq!(p.park(W, None, true).unwrap(), Wakeup::Woken);
        check_interrupt(); // nothing pending
        7
    });
    greenthread::yield_now();
    assert!(victim.is_finished());
    victim.kill();
    assert_eq!(*victim.wait().unwrap(), 7);
}

#[test]
fn interrupt_main_from_a_green_thread_interrupts_main_once_and_the_caller_carries_on() {
    #[derive(Debug)]
    struct KeyboardInterrupt;
    let hub = HubHandle::current();
    let caller_done = Rc::new(Cell::new(false));
    let c = Rc::clone(&caller_done);
    let caller = greenthread::spawn(move || {
        assert!(hub.interrupt_main(Box::new(KeyboardInterrupt)));
        assert!(!hub.interrupt_main(Box::new(KeyboardInterrupt))); // coalesced
        c.set(true);
    });
    // main is parked in sleep: the interrupt ends it at once
    let t0 = Instant::now();
    let r = std::panic::catch_unwind(|| greenthread::sleep(Duration::from_secs(3600)));
    assert!(r.unwrap_err().is::<KeyboardInterrupt>());
    assert!(t0.elapsed() < Duration::from_secs(120)); // not the hour: generous for qemu
    assert!(caller_done.get());
    caller.join().unwrap();
    // once: the next switch point is quiet
    greenthread::yield_now();
    greenthread::sleep(Duration::from_millis(1));
}

#[test]
fn interrupt_main_from_another_os_thread_ends_a_park() {
    struct Interrupt(u32);
    let hub = HubHandle::current();
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        hub.interrupt_main(Box::new(Interrupt(7)))
    });
    let p = Parker::new();
    let w = p.waker();
    // external: another OS thread could wake it, so the hub sleeps (no deadlock report)
    assert!(matches!(p.park(W, None, true), Err(ParkError::Interrupted)));
    assert!(!w.wake()); // the interrupt won the park
    assert!(os.join().unwrap());
    let r = std::panic::catch_unwind(check_interrupt);
    assert_eq!(r.unwrap_err().downcast_ref::<Interrupt>().unwrap().0, 7);
    check_interrupt(); // raised once
}

#[test]
fn interrupt_main_of_a_running_main_is_raised_at_its_next_switch_point() {
    struct I;
    assert!(HubHandle::current().interrupt_main(Box::new(I)));
    let mut x = 0u64;
    for i in 0..1000 {
        x = x.wrapping_add(i); // no switch point: nothing happens
    }
    std::hint::black_box(x);
    let r = std::panic::catch_unwind(greenthread::yield_now);
    assert!(r.unwrap_err().is::<I>());
}

#[test]
fn interrupt_main_while_main_waits_for_a_green_thread() {
    struct I;
    let hub = HubHandle::current();
    let gt = greenthread::spawn(move || {
        greenthread::sleep(Duration::from_millis(2));
        hub.interrupt_main(Box::new(I));
        greenthread::sleep(Duration::from_millis(2));
        5
    });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gt.wait().copied()));
    assert!(r.unwrap_err().is::<I>());
    assert_eq!(gt.join().unwrap(), 5); // the green thread carried on
}

#[test]
fn the_process_wide_hook_targets_the_main_os_thread() {
    // Test threads are not the main OS thread: the hook must not touch this hub.
    struct I;
    let here = HubHandle::current();
    assert!(HubHandle::main().is_none_or(|m| m.id() != here.id()));
    let _ = interrupt_main(Box::new(I));
    greenthread::yield_now(); // nothing raised here
}

#[test]
fn hub_handles_and_waker_hubs() {
    let here = HubHandle::current();
    let p = Parker::new();
    assert_eq!(p.waker().hub().id(), here.id());
    let there = std::thread::spawn(HubHandle::current).join().unwrap();
    assert_ne!(there.id(), here.id());
    // interrupting a hub whose thread is gone reports false
    struct I;
    assert!(!there.interrupt_main(Box::new(I)));
    drop(p);
}

#[test]
fn interrupt_handlers_run_on_main_and_interrupted_calls_resume() {
    use std::sync::atomic::AtomicU32;
    let calls = Arc::new(AtomicU32::new(0));
    let hub = HubHandle::current();
    // From another OS thread while main sleeps: the handler runs in main, the sleep then
    // goes on to its deadline.
    let (c, h) = (Arc::clone(&calls), hub.clone());
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        h.interrupt_main_call(move || {
            assert!(greenthread::current().is_main());
            c.fetch_add(1, Ordering::SeqCst);
        })
    });
    let t0 = Instant::now();
    greenthread::sleep(Duration::from_millis(30));
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert!(os.join().unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // While main waits for a green thread: the wait goes on after the handler.
    let (c, h) = (Arc::clone(&calls), hub.clone());
    let gt = greenthread::spawn(move || {
        h.interrupt_main_call(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        greenthread::sleep(Duration::from_millis(2));
        7
    });
    assert_eq!(gt.join().unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // A handler that unwinds unwinds main from its switch point (Python: the handler
    // raised KeyboardInterrupt).
    struct Raised;
    assert!(hub.interrupt_main_call(|| std::panic::resume_unwind(Box::new(Raised))));
    let r = std::panic::catch_unwind(greenthread::yield_now);
    assert!(r.unwrap_err().is::<Raised>());
    // Parked in a Parker: park reports Interrupted, check_interrupt runs the handler and
    // returns, and the waiter may park again.
    let (c, h) = (Arc::clone(&calls), hub.clone());
    let p = Parker::new();
    let w = p.waker();
    let helper = greenthread::spawn(move || {
        h.interrupt_main_call(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
        w
    });
    assert!(matches!(
        p.park(W, None, false),
        Err(ParkError::Interrupted)
    ));
    check_interrupt();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let stale = helper.join().unwrap();
    assert!(!stale.wake()); // the interrupted park is over
}
