//! `Semaphore`, `BoundedSemaphore`, `DummySemaphore`: counting, over-release rules, FIFO
//! wake order, no barging, `wait`, `rawlink`/`unlink` (called from the hub, never inside
//! `release`, unlinked before the call), timeouts and kills that lose no permit.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenthread::Error;
use greenthread::sync::{
    AcquireError, BoundedSemaphore, BoundedSemaphoreGuard, DummySemaphore, DummySemaphoreGuard,
    LinkId, Semaphore, SemaphoreGuard,
};

#[test]
fn send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Semaphore>();
    send_sync::<BoundedSemaphore>();
    send_sync::<DummySemaphore>();
    send_sync::<SemaphoreGuard<'static>>();
    send_sync::<BoundedSemaphoreGuard<'static>>();
    send_sync::<DummySemaphoreGuard<'static>>();
    send_sync::<LinkId>();
    send_sync::<AcquireError>();
}

#[test]
fn counting() {
    let sem = Semaphore::new(2);
    assert_eq!(sem.counter(), 2);
    assert!(sem.ready() && !sem.locked());
    sem.acquire();
    assert!(sem.try_acquire());
    assert!(sem.locked() && !sem.ready());
    assert!(!sem.try_acquire());
    assert!(!sem.acquire_timeout(Duration::from_millis(1)));
    sem.release().unwrap();
    assert_eq!(sem.counter(), 1);
    sem.release().unwrap();
    // Over-release is allowed by design.
    sem.release().unwrap();
    assert_eq!(sem.counter(), 3);
    assert_eq!(Semaphore::default().counter(), 1);
    assert!(format!("{sem:?}").contains("counter: 3"));
}

#[test]
fn bounded_refuses_over_release() {
    let sem = BoundedSemaphore::new(2);
    assert_eq!(sem.initial_value(), 2);
    let err = sem.release().unwrap_err();
    assert_eq!(err, Error::TooManyReleases);
    assert_eq!(err.python_exception(), "ValueError");
    assert_eq!(err.to_string(), "Semaphore released too many times");
    sem.acquire();
    sem.acquire();
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
    assert_eq!(sem.counter(), 2, "a refused release changes nothing");
    // Zero: can never be released.
    assert_eq!(
        BoundedSemaphore::new(0).release(),
        Err(Error::TooManyReleases)
    );
    assert_eq!(BoundedSemaphore::default().initial_value(), 1);
}

/// A bounded semaphore with waiters hands a release to the oldest one; the bound is
/// checked against the counter (0 while anyone waits).
#[test]
fn bounded_hand_off() {
    let sem = Rc::new(BoundedSemaphore::new(1));
    sem.acquire();
    let s = Rc::clone(&sem);
    let waiter = greenthread::spawn(move || {
        let _g = s.acquire_guard();
    });
    greenthread::yield_now();
    sem.release().unwrap();
    assert_eq!(sem.counter(), 0, "handed over, not counted");
    waiter.join().unwrap();
    assert_eq!(sem.counter(), 1);
    assert_eq!(sem.release(), Err(Error::TooManyReleases));
}

#[test]
fn python_argument_rules_for_every_type() {
    let sem = Semaphore::new(1);
    let bounded = BoundedSemaphore::new(1);
    let dummy = DummySemaphore::new();
    for (blocking, timeout, want) in [
        (false, Some(1.0), Error::TimeoutWithNonBlocking),
        (true, Some(-0.1), Error::NegativeTimeout),
        (true, Some(1e300), Error::TimeoutTooLarge),
        (true, Some(f64::NAN), Error::TimeoutTooLarge),
    ] {
        let want = Err(AcquireError::Invalid(want));
        assert_eq!(sem.acquire_with(blocking, timeout), want);
        assert_eq!(bounded.acquire_with(blocking, timeout), want);
        assert_eq!(dummy.acquire_with(blocking, timeout), want);
    }
    assert_eq!(sem.counter(), 1);
    assert_eq!(sem.acquire_with(false, None), Ok(true));
    assert_eq!(sem.acquire_with(false, None), Ok(false));
    assert_eq!(sem.acquire_with(true, Some(0.0)), Ok(false));
    assert_eq!(sem.acquire_with(true, Some(0.002)), Ok(false));
    sem.release().unwrap();
    assert_eq!(sem.acquire_with(true, None), Ok(true));
    assert_eq!(bounded.acquire_with(true, Some(-1.0)), Ok(true));
    assert_eq!(dummy.acquire_with(false, None), Ok(true));
}

/// Waiters get permits in the order they blocked, whatever the releases' batching.
#[test]
fn fifo_wake_order() {
    let sem = Rc::new(Semaphore::new(0));
    let order = Rc::new(RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..10)
        .map(|i| {
            let (s, o) = (Rc::clone(&sem), Rc::clone(&order));
            greenthread::spawn(move || {
                s.acquire();
                o.borrow_mut().push(i);
            })
        })
        .collect();
    greenthread::yield_now(); // all queue
    for _ in 0..3 {
        sem.release().unwrap();
    }
    greenthread::yield_now();
    assert_eq!(*order.borrow(), [0, 1, 2]);
    for _ in 0..7 {
        sem.release().unwrap();
    }
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.borrow(), (0..10).collect::<Vec<_>>());
    assert_eq!(sem.counter(), 0);
}

/// A release with waiters gives the permit to the oldest waiter: the counter stays 0,
/// so neither the releaser nor a newcomer can take it first.
#[test]
fn no_barging() {
    let sem = Rc::new(Semaphore::new(0));
    let s = Rc::clone(&sem);
    let waiter = greenthread::spawn(move || s.acquire());
    greenthread::yield_now();
    let s = Rc::clone(&sem);
    let newcomer = greenthread::spawn(move || s.try_acquire());
    sem.release().unwrap();
    assert_eq!(sem.counter(), 0);
    assert!(!sem.try_acquire());
    assert!(!newcomer.join().unwrap(), "the newcomer barged");
    waiter.join().unwrap();
    assert_eq!(sem.counter(), 0);
}

#[test]
fn wait_does_not_consume() {
    let sem = Rc::new(Semaphore::new(2));
    assert_eq!(sem.wait(None), 2, "ready: returns at once");
    sem.acquire();
    sem.acquire();
    let t = Instant::now();
    assert_eq!(sem.wait(Some(Duration::from_millis(10))), 0);
    assert!(t.elapsed() >= Duration::from_millis(10));
    let s = Rc::clone(&sem);
    let watcher = greenthread::spawn(move || s.wait(None));
    greenthread::yield_now();
    sem.release().unwrap();
    assert_eq!(watcher.join().unwrap(), 1);
    assert_eq!(sem.counter(), 1, "wait took nothing");
}

/// Watchers queue in the same line as acquirers and are woken in their turn.
#[test]
fn wait_is_served_in_turn() {
    let sem = Rc::new(Semaphore::new(0));
    let log = Rc::new(RefCell::new(Vec::new()));
    let (s, l) = (Rc::clone(&sem), Rc::clone(&log));
    let acquirer = greenthread::spawn(move || {
        s.acquire();
        l.borrow_mut().push("acquired");
    });
    greenthread::yield_now();
    let (s, l) = (Rc::clone(&sem), Rc::clone(&log));
    let watcher = greenthread::spawn(move || {
        let n = s.wait(None);
        l.borrow_mut().push("ready");
        n
    });
    greenthread::yield_now();
    // First release: the acquirer (ahead) takes it; the watcher keeps waiting.
    sem.release().unwrap();
    acquirer.join().unwrap();
    assert_eq!(*log.borrow(), ["acquired"]);
    assert!(!watcher.is_finished());
    // Second release: nobody to hand it to; the watcher sees it.
    sem.release().unwrap();
    assert_eq!(watcher.join().unwrap(), 1);
    assert_eq!(*log.borrow(), ["acquired", "ready"]);
}

#[test]
fn timed_out_and_killed_waiters_lose_no_permit() {
    let sem = Rc::new(Semaphore::new(0));
    let s = Rc::clone(&sem);
    let timed = greenthread::spawn(move || s.acquire_timeout(Duration::from_millis(3)));
    let s = Rc::clone(&sem);
    let victim = greenthread::spawn(move || {
        s.acquire();
        unreachable!();
    });
    let s = Rc::clone(&sem);
    let watcher = greenthread::spawn(move || s.wait(Some(Duration::from_millis(2))));
    let s = Rc::clone(&sem);
    let last = greenthread::spawn(move || {
        s.acquire();
        "got it"
    });
    greenthread::yield_now(); // all four queue
    victim.kill();
    assert!(!timed.join().unwrap());
    assert_eq!(watcher.join().unwrap(), 0);
    sem.release().unwrap();
    assert_eq!(last.join().unwrap(), "got it");
    assert_eq!(sem.counter(), 0);
    sem.release().unwrap();
    assert_eq!(sem.counter(), 1, "exactly the released permits");
}

#[test]
fn guards() {
    let sem = Semaphore::new(1);
    {
        let g = sem.acquire_guard();
        assert!(sem.locked());
        assert!(sem.try_acquire_guard().is_none());
        assert!(
            sem.acquire_guard_timeout(Duration::from_millis(1))
                .is_none()
        );
        assert!(format!("{g:?}").contains("SemaphoreGuard"));
    }
    assert_eq!(sem.counter(), 1);
    let g = sem.acquire_guard();
    assert_eq!(g.release(), Ok(()));
    let bounded = BoundedSemaphore::new(1);
    let g = bounded.acquire_guard();
    bounded.release().unwrap(); // behind the guard's back
    assert_eq!(g.release(), Err(Error::TooManyReleases));
    let g = bounded.try_acquire_guard().unwrap();
    bounded.release().unwrap();
    drop(g); // the error is ignored on drop
    assert_eq!(bounded.counter(), 1);
}

#[test]
fn deadlock_reported_for_local_semaphore() {
    let sem = Semaphore::new_local(0);
    let err = sem.acquire_with(true, None).unwrap_err();
    assert!(
        err.deadlock()
            .unwrap()
            .to_string()
            .contains("Semaphore at 0x")
    );
    let bounded = BoundedSemaphore::new_local(0);
    assert!(
        bounded
            .acquire_with(true, None)
            .unwrap_err()
            .deadlock()
            .is_some()
    );
    // `wait` panics with it.
    let p = std::panic::catch_unwind(|| sem.wait(None)).unwrap_err();
    assert!(
        p.downcast_ref::<String>()
            .unwrap()
            .contains("Semaphore::wait")
    );
    // A timeout is not a deadlock (a timer can end it).
    assert_eq!(sem.wait(Some(Duration::from_millis(1))), 0);
    assert!(!sem.acquire_timeout(Duration::from_millis(1)));
}

#[test]
fn dummy_semaphore() {
    let d = DummySemaphore::new();
    for _ in 0..100 {
        d.acquire();
        assert!(d.try_acquire());
        assert!(d.acquire_timeout(Duration::ZERO));
    }
    assert!(!d.locked() && d.ready());
    assert_eq!(d.counter(), usize::MAX);
    // gevent's DummySemaphore.wait returns 1 (issue 11.4), not the counter.
    assert_eq!(d.wait(None), 1);
    assert_eq!(d.wait(Some(Duration::ZERO)), 1);
    d.release().unwrap();
    let _g = d.acquire_guard();
    assert!(d.try_acquire_guard().is_some());
    assert!(d.acquire_guard_timeout(Duration::ZERO).is_some());
    assert_eq!(format!("{d:?}"), "DummySemaphore");
    static D: DummySemaphore = DummySemaphore::new();
    D.acquire();
}

#[test]
fn dummy_rawlink() {
    let d = DummySemaphore::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let a = d.rawlink(move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let c = Arc::clone(&calls);
    let b = d.rawlink(move |_| {
        c.fetch_add(10, Ordering::SeqCst);
    });
    assert_ne!(a, b);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never inside rawlink");
    assert!(d.unlink(b));
    greenthread::yield_now();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(!d.unlink(a), "already called");
    assert!(!d.unlink(b), "already removed");
}

// ---------------------------------------------------------------------------- rawlink

/// A log of link calls shared with the callbacks (which must be `Send`).
type Log = Arc<Mutex<Vec<&'static str>>>;

fn log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}

#[test]
fn rawlink_runs_from_the_hub_after_release() {
    let sem = Arc::new(Semaphore::new(0));
    let calls = log();
    let c = Arc::clone(&calls);
    let me = Arc::clone(&sem);
    sem.rawlink(move |s: &Semaphore| {
        assert!(std::ptr::eq(s, &*me), "the callback gets its semaphore");
        assert!(s.ready());
        // On a green thread of its own, not inside release().
        assert_eq!(
            greenthread::current().name(),
            Some("greenthread semaphore links")
        );
        c.lock().unwrap().push("a");
    });
    greenthread::yield_now();
    assert!(entries(&calls).is_empty(), "not ready: not called");
    sem.release().unwrap();
    assert!(entries(&calls).is_empty(), "never inside release()");
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["a"]);
    sem.release().unwrap();
    greenthread::yield_now();
    assert_eq!(
        entries(&calls),
        ["a"],
        "called once: unlinked before the call"
    );
}

#[test]
fn rawlink_on_a_ready_semaphore_is_called_soon() {
    let sem = Arc::new(BoundedSemaphore::new(1));
    let calls = log();
    let c = Arc::clone(&calls);
    sem.rawlink(move |s: &BoundedSemaphore| {
        assert_eq!(s.initial_value(), 1);
        c.lock().unwrap().push("ready");
    });
    assert!(entries(&calls).is_empty(), "never inside rawlink()");
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["ready"]);
}

/// Links are called oldest first, only while the semaphore stays ready: a callback that
/// takes the last permit ends the round; the rest wait for the next release.
#[test]
fn rawlink_order_and_readiness() {
    let sem = Arc::new(Semaphore::new(0));
    let calls = log();
    let ids: Vec<LinkId> = ["first", "second", "third"]
        .into_iter()
        .map(|name| {
            let c = Arc::clone(&calls);
            sem.rawlink(move |s: &Semaphore| {
                c.lock().unwrap().push(name);
                assert!(s.try_acquire(), "called while ready");
            })
        })
        .collect();
    sem.release().unwrap();
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["first"]);
    assert!(!sem.unlink(ids[0]), "already called");
    assert!(sem.unlink(ids[1]));
    sem.release().unwrap();
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["first", "third"]);
    assert_eq!(sem.counter(), 0);
}

/// A callback is unlinked before it is called: unlinking itself from inside returns false.
#[test]
fn rawlink_unlinked_before_call() {
    let sem = Arc::new(Semaphore::new(1));
    let id = Arc::new(Mutex::new(None::<LinkId>));
    let seen = Arc::new(Mutex::new(None));
    let (i, s2) = (Arc::clone(&id), Arc::clone(&seen));
    let link = sem.rawlink(move |s: &Semaphore| {
        let me = i.lock().unwrap().unwrap();
        *s2.lock().unwrap() = Some(s.unlink(me));
    });
    *id.lock().unwrap() = Some(link);
    greenthread::yield_now();
    assert_eq!(*seen.lock().unwrap(), Some(false));
}

/// A panicking callback is reported (panic hook) and does not stop the next ones; a
/// callback that registers a new link does not make the round loop forever.
#[test]
fn rawlink_panics_and_relinks() {
    let sem = Arc::new(Semaphore::new(1));
    let calls = log();
    sem.rawlink(|_| panic!("a bad callback"));
    let c = Arc::clone(&calls);
    let again = Arc::new(AtomicUsize::new(0));
    let a = Arc::clone(&again);
    let s = Arc::clone(&sem);
    sem.rawlink(move |_| {
        c.lock().unwrap().push("good");
        // Re-register: runs in a later round, not this one.
        if a.fetch_add(1, Ordering::SeqCst) == 0 {
            let c = Arc::clone(&c);
            s.rawlink(move |_| c.lock().unwrap().push("relinked"));
        }
    });
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["good"]);
    greenthread::yield_now();
    assert_eq!(entries(&calls), ["good", "relinked"]);
}

#[test]
fn rawlink_dropped_with_the_semaphore() {
    let sem = Arc::new(Semaphore::new(0));
    let calls = log();
    let c = Arc::clone(&calls);
    sem.rawlink(move |_| c.lock().unwrap().push("never"));
    assert_eq!(Arc::strong_count(&calls), 2);
    drop(sem); // the link holds only a Weak: the semaphore and its links go
    assert_eq!(
        Arc::strong_count(&calls),
        1,
        "the callback was dropped uncalled"
    );
}

#[test]
fn unlink_of_unknown_id() {
    let a = Arc::new(Semaphore::new(0));
    let b = Arc::new(Semaphore::new(0));
    let id = a.rawlink(|_| ());
    assert!(!b.unlink(id), "another semaphore's link");
    assert!(a.unlink(id));
}

#[test]
fn static_semaphores() {
    static S: Semaphore = Semaphore::new(3);
    static B: BoundedSemaphore = BoundedSemaphore::new(1);
    S.acquire();
    S.release().unwrap();
    let _g = B.acquire_guard();
    assert!(B.locked());
}

/// A semaphore limits concurrency among many green threads with mixed acquire forms.
#[test]
fn limits_concurrency() {
    let sem = Rc::new(Semaphore::new(3));
    let inside = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));
    let workers: Vec<_> = (0..30)
        .map(|i| {
            let (s, inside, peak) = (Rc::clone(&sem), Rc::clone(&inside), Rc::clone(&peak));
            greenthread::spawn(move || {
                for j in 0..20 {
                    let g = match (i + j) % 3 {
                        0 => Some(s.acquire_guard()),
                        1 => s.try_acquire_guard(),
                        _ => s.acquire_guard_timeout(Duration::from_micros(300)),
                    };
                    if let Some(g) = g {
                        inside.set(inside.get() + 1);
                        peak.set(peak.get().max(inside.get()));
                        assert!(inside.get() <= 3);
                        greenthread::yield_now();
                        inside.set(inside.get() - 1);
                        drop(g);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(peak.get(), 3);
    assert_eq!(sem.counter(), 3);
}

/// Issue 11.8: `Semaphore::release` is documented to fail only at `MAX_VALUE`, and does:
/// up to it every release succeeds, at it the error is a clear `CounterOverflow` and the
/// counter is unchanged (gevent's Semaphore has no limit; this is the Rust counter's).
#[test]
fn release_at_the_counter_limit_is_a_clear_error() {
    let sem = Semaphore::new(Semaphore::MAX_VALUE - 2);
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(sem.counter(), Semaphore::MAX_VALUE);
    let e = sem.release().unwrap_err();
    assert_eq!(e, Error::CounterOverflow);
    assert!(e.to_string().contains("maximum"), "{e}");
    assert_eq!(e.python_exception(), "OverflowError");
    assert_eq!(sem.counter(), Semaphore::MAX_VALUE);
    assert!(sem.try_acquire());
    sem.release().unwrap();
}
