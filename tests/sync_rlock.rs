//! `RLock`: re-entrancy with a count, ownership by a green thread (two green threads of one
//! OS thread exclude each other), release by a non-owner is an error, FIFO among waiters,
//! timeouts and kills.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::Error;
use greenthread::sync::{AcquireError, RLock};

#[test]
fn send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RLock>();
}

#[test]
fn reentrant_with_a_count() {
    let r = RLock::new();
    assert!(!r.locked() && r.ready() && !r.is_owned());
    for _ in 0..5 {
        r.acquire();
    }
    assert!(r.is_owned());
    assert!(r.try_acquire());
    assert!(r.acquire_timeout(Duration::ZERO));
    assert_eq!(r.acquire_with(false, None), Ok(true));
    for _ in 0..7 {
        r.release().unwrap();
        assert!(r.locked());
    }
    r.release().unwrap();
    assert!(!r.locked() && !r.is_owned());
    assert_eq!(r.release(), Err(Error::NotOwner));
    assert!(format!("{r:?}").contains("owner: None"));
}

#[test]
fn not_owner_error() {
    let r = Rc::new(RLock::new());
    let err = r.release().unwrap_err();
    assert_eq!(err, Error::NotOwner);
    assert_eq!(err.python_exception(), "RuntimeError");
    assert_eq!(err.to_string(), "cannot release un-acquired lock");
    r.acquire();
    let r2 = Rc::clone(&r);
    let other = greenthread::spawn(move || {
        assert_eq!(r2.release(), Err(Error::NotOwner));
        assert!(!r2.is_owned());
    });
    other.join().unwrap();
    assert!(r.locked(), "a refused release changes nothing");
    r.release().unwrap();
}

/// Owned by a green thread, not by the OS thread: two green threads of one OS thread
/// exclude each other.
#[test]
fn green_threads_of_one_os_thread_exclude_each_other() {
    let r = Rc::new(RLock::new());
    let log = Rc::new(RefCell::new(Vec::new()));
    let (r1, l1) = (Rc::clone(&r), Rc::clone(&log));
    let a = greenthread::spawn(move || {
        let _outer = r1.lock();
        let _inner = r1.lock();
        l1.borrow_mut().push("a in");
        greenthread::yield_now();
        greenthread::yield_now();
        l1.borrow_mut().push("a out");
    });
    let (r2, l2) = (Rc::clone(&r), Rc::clone(&log));
    let b = greenthread::spawn(move || {
        // Does not yield on failure (unlike Lock), and is not re-entrant for b.
        assert!(!r2.try_acquire());
        let _g = r2.lock();
        l2.borrow_mut().push("b in");
    });
    a.join().unwrap();
    b.join().unwrap();
    assert_eq!(*log.borrow(), ["a in", "a out", "b in"]);
    assert!(!r.locked());
    // The main green thread does not own what a finished green thread released.
    assert!(!r.is_owned());
}

#[test]
fn fifo_among_waiters() {
    let r = Rc::new(RLock::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    r.acquire();
    r.acquire();
    let waiters: Vec<_> = (0..6)
        .map(|i| {
            let (r, o) = (Rc::clone(&r), Rc::clone(&order));
            greenthread::spawn(move || {
                let _g = r.lock();
                o.borrow_mut().push(i);
                greenthread::yield_now();
            })
        })
        .collect();
    greenthread::yield_now();
    r.release().unwrap();
    greenthread::yield_now();
    assert!(order.borrow().is_empty(), "still held once");
    r.release().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.borrow(), (0..6).collect::<Vec<_>>());
}

#[test]
fn timeout_and_kill_while_waiting() {
    let r = Rc::new(RLock::new());
    r.acquire();
    let r2 = Rc::clone(&r);
    let timed = greenthread::spawn(move || {
        let t = Instant::now();
        let got = r2.acquire_timeout(Duration::from_millis(5));
        (got, t.elapsed())
    });
    let r3 = Rc::clone(&r);
    let victim = greenthread::spawn(move || {
        r3.acquire();
        unreachable!();
    });
    let r4 = Rc::clone(&r);
    let last = greenthread::spawn(move || {
        let _g = r4.lock();
        r4.is_owned()
    });
    greenthread::yield_now();
    victim.kill();
    let (got, waited) = timed.join().unwrap();
    assert!(!got && waited >= Duration::from_millis(5));
    r.release().unwrap();
    assert!(last.join().unwrap());
    assert!(!r.locked());
    assert!(r.lock_timeout(Duration::from_millis(1)).is_some());
}

#[test]
fn python_form() {
    let r = RLock::new();
    assert_eq!(
        r.acquire_with(false, Some(2.0)),
        Err(AcquireError::Invalid(Error::TimeoutWithNonBlocking))
    );
    assert_eq!(
        r.acquire_with(true, Some(-7.0)),
        Err(AcquireError::Invalid(Error::NegativeTimeout))
    );
    assert!(!r.locked());
    assert_eq!(r.acquire_with(true, Some(0.5)), Ok(true));
    assert_eq!(r.acquire_with(true, None), Ok(true));
    r.release().unwrap();
    r.release().unwrap();
}

#[test]
fn guards_nest_and_are_released_on_unwind() {
    let r = Rc::new(RLock::new());
    let r2 = Rc::clone(&r);
    let gt = greenthread::spawn(move || {
        let _a = r2.lock();
        let _b = r2.try_lock().unwrap();
        let _c = r2.lock_timeout(Duration::ZERO).unwrap();
        greenthread::sleep(Duration::from_secs(60)); // killed here
    });
    greenthread::yield_now();
    assert!(r.locked());
    gt.kill();
    assert!(!r.locked(), "three levels released while unwinding");
    let g = r.lock();
    assert_eq!(g.release(), Ok(()));
}

/// A finished owner that never released keeps the lock held (as in Python); nobody else
/// may release it.
#[test]
fn finished_owner_keeps_it() {
    let r = Rc::new(RLock::new());
    let r2 = Rc::clone(&r);
    greenthread::spawn(move || r2.acquire()).join().unwrap();
    assert!(r.locked());
    assert_eq!(r.release(), Err(Error::NotOwner));
    assert!(!r.try_acquire());
    // A new green thread never inherits the finished one's identity.
    let r3 = Rc::clone(&r);
    assert!(!greenthread::spawn(move || r3.is_owned()).join().unwrap());
}

#[test]
fn owner_on_another_os_thread() {
    let r = Arc::new(RLock::new());
    r.acquire();
    let r2 = Arc::clone(&r);
    let (tx, rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        assert_eq!(r2.release(), Err(Error::NotOwner));
        assert!(!r2.try_acquire());
        tx.send(()).unwrap();
        // Blocks until the owner (on the main thread) releases, then owns it here.
        r2.acquire();
        assert!(r2.is_owned());
        r2.release().unwrap();
    });
    rx.recv().unwrap();
    let seen = Cell::new(r.is_owned());
    r.release().unwrap();
    other.join().unwrap();
    assert!(seen.get());
    assert!(!r.locked());
}

#[test]
fn deadlock_reported_for_local_rlock() {
    let r = Rc::new(RLock::new_local());
    let r2 = Rc::clone(&r);
    let holder = greenthread::spawn(move || {
        let _g = r2.lock();
        greenthread::sched::Parker::new()
            .park(greenthread::sched::WaitOn::Other("nothing"), None, false)
            .ok();
    });
    greenthread::yield_now();
    let err = r.acquire_with(true, None).unwrap_err();
    assert!(err.deadlock().unwrap().to_string().contains("RLock at 0x"));
    holder.kill();
    assert!(!r.locked());
}

#[test]
fn static_rlock() {
    static R: RLock = RLock::new();
    let _a = R.lock();
    let _b = R.lock();
    assert!(R.is_owned());
}
