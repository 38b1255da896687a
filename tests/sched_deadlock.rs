//! Deadlock detection (issue 4, item 4): when every green thread of a hub is blocked and
//! nothing can wake one, the main green thread's blocked call fails with a report listing
//! each blocked green thread; pending timers and waits another OS thread could end are not
//! deadlocks.

mod support;

use std::time::Duration;

use greenthread::Builder;
use greenthread::sched::{GreenState, HubError, ParkError, Parker, WaitError, WaitOn, Wakeup};

fn park_forever(what: WaitOn) {
    let _ = Parker::new().park(what, None, false);
    greenthread::sched::check_interrupt();
}

#[test]
fn main_waiting_on_a_blocked_thread_gets_a_report() {
    let lock = 0u64;
    let addr = &lock as *const u64 as usize;
    let b = Builder::new()
        .name("holder")
        .spawn(move || park_forever(WaitOn::Object { kind: "Lock", addr }))
        .unwrap();
    let b_id = b.id();
    let a = Builder::new()
        .name("waiter")
        .spawn(move || {
            let _ = b.wait();
        })
        .unwrap();
    let report = match a.wait() {
        Err(WaitError::Hub(HubError::Deadlock(r))) => r,
        other => panic!("expected a deadlock, got {other:?}"),
    };
    let blocked = report.blocked();
    assert_eq!(blocked.len(), 3, "{report}");
    assert!(blocked.iter().all(|g| g.state == GreenState::Parked));
    let main = blocked.iter().find(|g| g.is_main).unwrap();
    assert_eq!(main.waiting_on, Some(WaitOn::Join { id: a.id() }));
    let waiter = blocked.iter().find(|g| g.id == a.id()).unwrap();
    assert_eq!(waiter.name.as_deref(), Some("waiter"));
    assert_eq!(waiter.waiting_on, Some(WaitOn::Join { id: b_id }));
    let holder = blocked.iter().find(|g| g.id == b_id).unwrap();
    assert_eq!(holder.name.as_deref(), Some("holder"));
    assert_eq!(
        holder.waiting_on,
        Some(WaitOn::Object { kind: "Lock", addr })
    );
    let text = report.to_string();
    for needle in [
        "deadlock",
        "LoopExit",
        "'waiter'",
        "'holder'",
        &format!("Lock at {addr:#x}"),
        &format!("waits on green thread {b_id} to finish"),
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    // The hub still works: kill the blocked ones and carry on.
    a.kill();
    assert!(a.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(greenthread::spawn(|| 1).join().unwrap(), 1);
}

#[test]
fn main_parked_alone_gets_the_deadlock_from_park() {
    let blocked_other = greenthread::spawn(|| park_forever(WaitOn::Other("the other")));
    greenthread::yield_now();
    match Parker::new().park(WaitOn::Other("main's signal"), None, false) {
        Err(ParkError::Deadlock(r)) => {
            assert_eq!(r.blocked().len(), 2);
            let text = r.to_string();
            assert!(
                text.contains("main's signal") && text.contains("the other"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    blocked_other.kill();
}

#[test]
fn waiting_for_yourself_is_a_deadlock() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let own: Rc<RefCell<Option<greenthread::GreenThread<bool>>>> = Rc::default();
    let o = Rc::clone(&own);
    let gt = greenthread::spawn(move || {
        let me = o.borrow();
        // A green thread waiting for itself can never be woken: fails at once.
        matches!(
            me.as_ref().unwrap().wait(),
            Err(WaitError::Hub(HubError::Deadlock(_)))
        )
    });
    *own.borrow_mut() = Some(gt);
    greenthread::yield_now();
    let gt = own.borrow_mut().take().unwrap();
    assert!(gt.join().unwrap());
}

#[test]
fn a_pending_timer_is_not_a_deadlock() {
    let b = greenthread::spawn(|| greenthread::sleep(Duration::from_millis(20)));
    let a = greenthread::spawn(move || b.wait().is_ok());
    assert!(a.join().unwrap());
}

#[test]
fn a_delayed_spawn_is_not_a_deadlock() {
    let p = Parker::new();
    let w = p.waker();
    greenthread::spawn_after(Duration::from_millis(10), move || assert!(w.wake()));
    assert_eq!(
        p.park(WaitOn::Other("delayed"), None, false).unwrap(),
        Wakeup::Woken
    );
}

#[test]
fn a_wait_another_os_thread_can_end_is_not_a_deadlock() {
    let gt = greenthread::spawn(move || {
        let p = Parker::new();
        let w = p.waker();
        let os = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            w.wake()
        });
        let r = p.park(WaitOn::Other("os thread"), None, true);
        (r, os.join().unwrap())
    });
    // main waits on gt, gt waits on the OS thread: no deadlock (and no spinning).
    let (r, won) = gt.join().unwrap();
    assert_eq!(r.unwrap(), Wakeup::Woken);
    assert!(won);
}

#[test]
fn deadlock_is_per_hub_and_on_other_os_threads_too() {
    let r = std::thread::Builder::new()
        .name("deadlocked".into())
        .spawn(|| {
            let gt = greenthread::spawn(|| park_forever(WaitOn::Other("nothing")));
            match gt.wait() {
                Err(WaitError::Hub(HubError::Deadlock(r))) => r.to_string(),
                other => format!("{other:?}"),
            }
        })
        .unwrap()
        .join()
        .unwrap();
    assert!(
        r.contains("deadlock") && r.contains("OS thread 'deadlocked'"),
        "{r}"
    );
}

#[test]
fn deadlock_report_repeats_while_nothing_changes() {
    let gt = greenthread::spawn(|| park_forever(WaitOn::Other("x")));
    for _ in 0..3 {
        assert!(matches!(
            gt.wait(),
            Err(WaitError::Hub(HubError::Deadlock(_)))
        ));
    }
    gt.kill();
    assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
}

/// Issue 11.1b (gevent raises `LoopExit`, Go prints "all goroutines are asleep"): a hub whose
/// green threads all wait on shareable objects for longer than the stall delay prints one
/// stall report naming each waiter, marked "may still be woken from another OS thread",
/// and fails nothing: the other OS thread's late release still completes the acquire.
#[test]
fn stall_report_when_only_shareable_waits_remain() {
    if support::is_child() {
        use std::sync::Arc;
        greenthread::sched::set_stall_report_after(Some(Duration::from_millis(100)));
        let lock = Arc::new(greenthread::sync::Lock::new());
        lock.acquire();
        let l = Arc::clone(&lock);
        let w = greenthread::Builder::new()
            .name("waiter")
            .spawn(move || l.acquire())
            .unwrap();
        let l = Arc::clone(&lock);
        // Releases long after the report is due (a generous margin for emulation).
        let os = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            l.release().unwrap();
        });
        w.wait().unwrap(); // the main green thread waits too: nothing runnable
        os.join().unwrap();
        eprintln!("child done");
        return;
    }
    let out = support::run_in_child("stall_report_when_only_shareable_waits_remain");
    out.assert_success();
    out.assert_stderr_contains("greenthread: stall:");
    out.assert_stderr_contains("'waiter'");
    out.assert_stderr_contains("may still be woken from another OS thread");
    out.assert_stderr_contains("child done");
    assert_eq!(
        out.stderr.matches("greenthread: stall:").count(),
        1,
        "reported once\n{out}"
    );
}

/// The off switch: no report, and nothing else changes.
#[test]
fn stall_report_can_be_turned_off() {
    if support::is_child() {
        use std::sync::Arc;
        greenthread::sched::set_stall_report_after(None);
        let lock = Arc::new(greenthread::sync::Lock::new());
        lock.acquire();
        let l = Arc::clone(&lock);
        let os = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            l.release().unwrap();
        });
        lock.acquire();
        os.join().unwrap();
        return;
    }
    let out = support::run_in_child("stall_report_can_be_turned_off");
    out.assert_success();
    out.assert_stderr_lacks("greenthread: stall:");
}
