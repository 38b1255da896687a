//! kill and cancel (issue 4, item 3): the kill switches into the victim at once, unwinds
//! it with destructors, never lands in the killer; a victim that has not started never
//! runs; waiters see "killed"; links fire exactly once; cancel acts only before start; a
//! swallowed kill does not break the runtime.

mod support;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::sched::{Exit, ParkError, Parker, WaitError, WaitOn, is_kill_payload};

type Log = Rc<RefCell<Vec<&'static str>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

struct Noisy(&'static str, Log);

impl Drop for Noisy {
    fn drop(&mut self) {
        self.1.borrow_mut().push(self.0);
    }
}

#[test]
fn kill_switches_into_the_victim_at_once_and_runs_destructors() {
    let l = log();
    let l2 = Rc::clone(&l);
    let victim = greenthread::spawn(move || {
        let _guard = Noisy("victim unwound", Rc::clone(&l2));
        greenthread::sleep(Duration::from_secs(3600));
        l2.borrow_mut().push("victim woke (wrong)");
    });
    greenthread::yield_now(); // it starts and sleeps
    assert!(victim.has_started());
    let t0 = Instant::now();
    l.borrow_mut().push("before kill");
    victim.kill();
    l.borrow_mut().push("after kill");
    // Far below the victim's hour-long sleep; generous for qemu on a loaded machine.
    assert!(t0.elapsed() < Duration::from_secs(120));
    // The victim died inside kill(): before the killer continued.
    assert_eq!(*l.borrow(), ["before kill", "victim unwound", "after kill"]);
    assert!(victim.is_finished());
    assert!(matches!(
        victim.wait(),
        Err(WaitError::Exited(Exit::Killed))
    ));
}

#[test]
fn kill_of_a_ready_thread_preempts_its_turn() {
    let l = log();
    let l2 = Rc::clone(&l);
    let victim = greenthread::spawn(move || {
        let _g = Noisy("unwound", Rc::clone(&l2));
        loop {
            l2.borrow_mut().push("spin");
            greenthread::yield_now();
        }
    });
    let l3 = Rc::clone(&l);
    let other = greenthread::spawn(move || l3.borrow_mut().push("other"));
    greenthread::yield_now(); // victim runs once ("spin"), other runs
    assert_eq!(*l.borrow(), ["spin", "other"]);
    // victim is now Ready in the run queue
    victim.kill();
    assert_eq!(*l.borrow(), ["spin", "other", "unwound"]);
    other.join().unwrap();
}

#[test]
fn kill_never_lands_in_the_killer() {
    let victim = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(3600)));
    greenthread::yield_now();
    let killer = greenthread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(|| victim.kill()));
        assert!(r.is_ok(), "the kill reached the killer");
        victim.wait().unwrap_err().exit().unwrap().is_killed()
    });
    assert!(killer.join().unwrap());
}

#[test]
fn a_victim_that_has_not_started_never_runs() {
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    let l = log();
    let l2 = Rc::clone(&l);
    let captured = Noisy("closure dropped", Rc::clone(&l));
    let gt = greenthread::spawn(move || {
        let _c = captured;
        r.set(true);
    });
    let linked = Rc::new(Cell::new(0));
    let k = Rc::clone(&linked);
    gt.link(move |gt| {
        assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
        k.set(k.get() + 1);
        l2.borrow_mut().push("link");
    });
    gt.kill();
    assert!(!ran.get());
    assert!(!gt.has_started());
    assert!(gt.is_finished());
    assert_eq!(linked.get(), 1);
    assert_eq!(*l.borrow(), ["closure dropped", "link"]);
    greenthread::yield_now();
    assert!(!ran.get());
    assert!(matches!(gt.wait(), Err(WaitError::Exited(Exit::Killed))));
}

#[test]
fn all_waiters_see_killed_and_links_fire_exactly_once() {
    let victim = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_secs(3600))
    }));
    let fired = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let f = Rc::clone(&fired);
        victim.link(move |_| f.set(f.get() + 1));
    }
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let v = Rc::clone(&victim);
            greenthread::spawn(move || v.wait().unwrap_err().exit().unwrap().is_killed())
        })
        .collect();
    greenthread::yield_now(); // victim sleeps, waiters park
    victim.kill();
    victim.kill(); // killing a finished thread is a no-op
    for w in waiters {
        assert!(w.join().unwrap());
    }
    assert_eq!(fired.get(), 3);
}

#[test]
fn killing_a_finished_thread_is_a_noop_and_does_not_yield() {
    let gt = greenthread::spawn(|| 3);
    assert_eq!(*gt.wait().unwrap(), 3);
    let l = log();
    let l2 = Rc::clone(&l);
    let other = greenthread::spawn(move || l2.borrow_mut().push("other"));
    gt.kill();
    assert!(l.borrow().is_empty(), "kill of a finished thread yielded");
    assert_eq!(*gt.wait().unwrap(), 3);
    other.join().unwrap();
}

#[test]
fn cancel_acts_only_before_start() {
    let gt = greenthread::spawn(|| greenthread::sleep(Duration::from_millis(2)));
    greenthread::yield_now();
    assert!(!gt.cancel());
    assert!(gt.wait().is_ok());

    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    let gt = greenthread::spawn(move || r.set(true));
    assert!(gt.cancel());
    assert!(gt.is_finished());
    assert!(!ran.get());
    assert!(matches!(gt.wait(), Err(WaitError::Exited(Exit::Cancelled))));
    assert!(!gt.cancel());
}

#[test]
fn kill_self_unwinds_at_once() {
    let l = log();
    let l2 = Rc::clone(&l);
    let gt = greenthread::spawn(move || {
        let _g = Noisy("unwound", Rc::clone(&l2));
        greenthread::current().kill();
        l2.borrow_mut().push("after self kill (wrong)");
    });
    assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(*l.borrow(), ["unwound"]);
}

#[test]
fn exit_ends_the_current_green_thread() {
    let l = log();
    let l2 = Rc::clone(&l);
    let gt = greenthread::spawn(move || -> u32 {
        let _g = Noisy("unwound", Rc::clone(&l2));
        greenthread::sched::exit();
    });
    assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(*l.borrow(), ["unwound"]);
}

#[test]
fn swallowed_kill_is_raised_again_at_the_next_switch_point() {
    let l = log();
    let l2 = Rc::clone(&l);
    let victim = greenthread::spawn(move || {
        let r = catch_unwind(|| greenthread::sleep(Duration::from_secs(3600)));
        let p = r.unwrap_err();
        assert!(is_kill_payload(&*p));
        l2.borrow_mut().push("swallowed");
        // keeps going as if nothing happened...
        let r = catch_unwind(greenthread::yield_now);
        assert!(is_kill_payload(&*r.unwrap_err()));
        l2.borrow_mut().push("raised again at yield");
        let r = catch_unwind(|| greenthread::sleep(Duration::from_millis(1)));
        assert!(r.is_err());
        l2.borrow_mut().push("raised again at sleep");
        // ... and finally unwinds properly
        greenthread::yield_now();
        l2.borrow_mut().push("unreachable");
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(
        *l.borrow(),
        [
            "swallowed",
            "raised again at yield",
            "raised again at sleep"
        ]
    );
}

#[test]
fn normal_return_after_a_swallowed_kill_counts_as_killed() {
    let victim = greenthread::spawn(|| {
        let _ = catch_unwind(|| greenthread::sleep(Duration::from_secs(3600)));
        42
    });
    greenthread::yield_now();
    victim.kill();
    assert!(matches!(
        victim.wait(),
        Err(WaitError::Exited(Exit::Killed))
    ));
    // and the hub is fine
    assert_eq!(greenthread::spawn(|| 1).join().unwrap(), 1);
}

#[test]
fn swallowed_kill_with_resume_unwind_works() {
    let victim = greenthread::spawn(|| {
        if let Err(p) = catch_unwind(|| greenthread::sleep(Duration::from_secs(3600))) {
            resume_unwind(p);
        }
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
}

#[test]
fn kill_while_parked_interrupts_the_park() {
    let victim = greenthread::spawn(|| {
        let p = Parker::new();
        let _w = p.waker();
        match p.park(WaitOn::Other("forever"), None, false) {
            Err(ParkError::Interrupted) => {
                // clean up, then raise
                greenthread::sched::check_interrupt();
                "not raised"
            }
            _ => "wrong result",
        }
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
}

#[test]
fn kill_while_waiting_for_another_thread() {
    let slow = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_millis(20))
    }));
    let s = Rc::clone(&slow);
    let waiter = greenthread::spawn(move || {
        s.wait().unwrap();
        "finished waiting (wrong)"
    });
    greenthread::yield_now();
    waiter.kill();
    assert!(waiter.wait().unwrap_err().exit().unwrap().is_killed());
    // the target is unaffected and its remaining waiters still work
    assert!(slow.wait().is_ok());
}

#[test]
fn kill_from_a_destructor_during_unwinding_does_not_switch() {
    // The killer is panicking: it cannot switch, so the victim dies in its turn.
    let victim = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_secs(3600))
    }));
    greenthread::yield_now();
    struct KillOnDrop(Rc<greenthread::GreenThread<()>>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            self.0.kill();
            assert!(!self.0.is_finished());
        }
    }
    let v = Rc::clone(&victim);
    let killer = greenthread::spawn(move || {
        let _k = KillOnDrop(v);
        panic!("killer panics");
    });
    assert!(killer.wait().unwrap_err().exit().unwrap().is_panic());
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
}

#[test]
fn kill_is_silent_no_panic_message() {
    if support::is_child() {
        let victim = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(3600)));
        greenthread::yield_now();
        victim.kill();
        assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
        let unstarted = greenthread::spawn(|| ());
        unstarted.kill();
        eprintln!("child done");
        return;
    }
    let out = support::run_in_child("kill_is_silent_no_panic_message");
    out.assert_success();
    out.assert_stderr_contains("child done");
    out.assert_stderr_lacks("panicked");
}

#[test]
fn kill_main_green_thread_from_a_green_thread() {
    // The main green thread is killable too: the kill unwinds the OS thread's own stack
    // from its switch point. Run it on its own OS thread.
    let r = std::thread::spawn(|| {
        let main = greenthread::current();
        greenthread::spawn_n(move || main.kill());
        greenthread::sleep(Duration::from_secs(3600));
    })
    .join();
    let p = r.unwrap_err();
    assert!(is_kill_payload(&*p));
}

#[test]
fn kill_and_cancel_via_handles_and_free_function() {
    let gt = greenthread::spawn(|| ());
    greenthread::kill(&gt);
    assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    let gt = greenthread::spawn(|| ());
    gt.handle().kill();
    assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    let gt = greenthread::spawn(|| ());
    assert!(gt.try_kill().is_ok());
    assert!(gt.handle().try_kill().is_ok()); // finished: still Ok
}
