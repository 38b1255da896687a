//! `Lock` (`_thread.LockType`): acquire / release / timeouts / non-blocking, the Python
//! argument rules, release of an unlocked lock, FIFO hand-off without barging, waiters that
//! time out or are killed, deadlock reports, guards, calls while panicking.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::Error;
use greenthread::sched::{GreenState, ParkError, WaitOn};
use greenthread::sync::{AcquireError, Lock, LockGuard, RLockGuard};
use greenthread::thread::TIMEOUT_MAX;

#[test]
fn send_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lock>();
    send_sync::<LockGuard<'static>>();
    static_assertions::assert_not_impl_any!(RLockGuard<'static>: Send, Sync);
}

#[test]
fn acquire_release_locked_ready() {
    let lock = Lock::new();
    assert!(!lock.locked());
    assert!(lock.ready());
    lock.acquire();
    assert!(lock.locked());
    assert!(!lock.ready());
    lock.release().unwrap();
    assert!(!lock.locked());
    assert!(format!("{lock:?}").contains("locked: false"));
}

#[test]
fn release_unlocked_is_runtime_error_with_cpython_wording() {
    let lock = Lock::new();
    let err = lock.release().unwrap_err();
    assert_eq!(err, Error::ReleaseUnlocked);
    assert_eq!(err.to_string(), "release unlocked lock");
    assert_eq!(err.python_exception(), "RuntimeError");
    lock.acquire();
    lock.release().unwrap();
    assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
}

#[test]
fn any_green_thread_may_release() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let l = Rc::clone(&lock);
    greenthread::spawn(move || l.release().unwrap())
        .join()
        .unwrap();
    assert!(!lock.locked());
}

/// Issue 11.7 (SPEC §8): the Rust-shaped `try_*` calls never switch, as std's
/// `Mutex::try_lock`; the Python-shaped non-blocking acquire (`acquire_with(false, ..)`,
/// gevent's `lock.acquire(blocking=False)`) yields once on failure, as gevent does.
#[test]
fn failed_try_acquire_never_yields_python_form_yields_once() {
    let lock = Lock::new();
    lock.acquire();
    let ran = Rc::new(Cell::new(0));
    let r = Rc::clone(&ran);
    greenthread::spawn_n(move || r.set(r.get() + 1));
    assert!(!lock.try_acquire());
    assert!(lock.try_lock().is_none());
    assert!(!lock.acquire_timeout(Duration::ZERO));
    assert!(lock.lock_timeout(Duration::ZERO).is_none());
    assert_eq!(ran.get(), 0, "a Rust-shaped try call switched");
    // gevent: a failed non-blocking acquire yields once.
    assert_eq!(lock.acquire_with(false, None), Ok(false));
    assert_eq!(
        ran.get(),
        1,
        "the Python-shaped try let the other green thread run"
    );
    assert_eq!(lock.acquire_with(true, Some(0.0)), Ok(false));
    // A successful one does not yield.
    lock.release().unwrap();
    let r = Rc::clone(&ran);
    greenthread::spawn_n(move || r.set(r.get() + 1));
    assert_eq!(lock.acquire_with(false, None), Ok(true));
    assert_eq!(ran.get(), 1);
    lock.release().unwrap();
    greenthread::yield_now();
    assert_eq!(ran.get(), 2);
}

/// gevent: a Python spin loop on the non-blocking acquire lets the holder run.
#[test]
fn spin_loop_on_python_nonblocking_acquire_makes_progress() {
    let lock = Rc::new(Lock::new());
    let l = Rc::clone(&lock);
    let holder = greenthread::spawn(move || {
        let _g = l.lock();
        for _ in 0..10 {
            greenthread::yield_now();
        }
    });
    greenthread::yield_now(); // the holder takes it
    assert!(lock.locked());
    let mut spins = 0;
    while !lock.acquire_with(false, None).unwrap() {
        spins += 1;
        assert!(spins < 1000, "spin loop starved the holder");
    }
    assert!(spins >= 1);
    holder.join().unwrap();
    lock.release().unwrap();
}

#[test]
fn acquire_timeout_times_out_and_succeeds() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let t = Instant::now();
    assert!(!lock.acquire_timeout(Duration::from_millis(20)));
    assert!(t.elapsed() >= Duration::from_millis(20));
    assert!(lock.lock_timeout(Duration::from_millis(1)).is_none());

    let l = Rc::clone(&lock);
    greenthread::spawn_after(Duration::from_millis(5), move || l.release().unwrap());
    let t = Instant::now();
    assert!(lock.acquire_timeout(Duration::from_secs(3600)));
    assert!(t.elapsed() < Duration::from_secs(120)); // released, not the hour: generous for qemu
    lock.release().unwrap();
    // A huge timeout on a free lock: no overflow anywhere.
    assert!(lock.acquire_timeout(Duration::MAX));
    lock.release().unwrap();
}

#[test]
fn python_argument_rules() {
    let lock = Lock::new();
    let invalid = |e| Err(AcquireError::Invalid(e));
    assert_eq!(
        lock.acquire_with(false, Some(1.0)),
        invalid(Error::TimeoutWithNonBlocking)
    );
    assert_eq!(
        lock.acquire_with(false, Some(0.0)),
        invalid(Error::TimeoutWithNonBlocking)
    );
    assert_eq!(
        lock.acquire_with(true, Some(-0.5)),
        invalid(Error::NegativeTimeout)
    );
    assert_eq!(
        lock.acquire_with(true, Some(-2.0)),
        invalid(Error::NegativeTimeout)
    );
    assert_eq!(
        lock.acquire_with(true, Some(TIMEOUT_MAX * 2.0)),
        invalid(Error::TimeoutTooLarge)
    );
    assert_eq!(
        lock.acquire_with(true, Some(f64::NAN)),
        invalid(Error::TimeoutTooLarge)
    );
    assert_eq!(
        lock.acquire_with(true, Some(f64::INFINITY)),
        invalid(Error::TimeoutTooLarge)
    );
    assert!(!lock.locked(), "rejected arguments acquire nothing");

    // Accepted forms.
    assert_eq!(lock.acquire_with(true, Some(TIMEOUT_MAX)), Ok(true));
    lock.release().unwrap();
    assert_eq!(lock.acquire_with(true, Some(-1.0)), Ok(true)); // -1: forever
    lock.release().unwrap();
    assert_eq!(lock.acquire_with(false, Some(-1.0)), Ok(true)); // CPython's default
    assert_eq!(lock.acquire_with(true, Some(0.0)), Ok(false)); // held: zero timeout
    let t = Instant::now();
    assert_eq!(lock.acquire_with(true, Some(0.01)), Ok(false));
    assert!(t.elapsed() >= Duration::from_millis(10));
    // Rejected arguments on a held lock fail at once, without waiting.
    let t = Instant::now();
    assert!(lock.acquire_with(true, Some(-3.0)).is_err());
    assert!(t.elapsed() < Duration::from_secs(60)); // generous for qemu
    lock.release().unwrap();

    let e = AcquireError::Invalid(Error::TimeoutTooLarge);
    assert_eq!(e.python_exception(), "OverflowError");
    assert_eq!(e.to_string(), "timeout value is too large");
    // Transparent: the message is the inner error's, and the cause is not repeated as a source.
    assert!(std::error::Error::source(&e).is_none());
}

/// Green threads queue in the order they block, and get the lock in that order.
#[test]
fn fifo_hand_off() {
    let lock = Rc::new(Lock::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    lock.acquire();
    let waiters: Vec<_> = (0..8)
        .map(|i| {
            let (l, o) = (Rc::clone(&lock), Rc::clone(&order));
            greenthread::spawn(move || {
                let _g = l.lock();
                o.borrow_mut().push(i);
                greenthread::yield_now(); // hold it across a switch
            })
        })
        .collect();
    greenthread::yield_now(); // all eight queue, in spawn order
    lock.release().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.borrow(), (0..8).collect::<Vec<_>>());
    assert!(!lock.locked());
}

/// A release with waiters hands the lock over: neither the releaser nor a newcomer can
/// take it before the waiter runs (SPEC §8: no barging).
#[test]
fn no_barging() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let got = Rc::new(Cell::new(false));
    let (l, g) = (Rc::clone(&lock), Rc::clone(&got));
    let waiter = greenthread::spawn(move || {
        l.acquire();
        g.set(true);
        greenthread::yield_now();
        l.release().unwrap();
    });
    greenthread::yield_now(); // the waiter queues
    // A newcomer that is ready before the waiter is woken, so it runs first.
    let (l, g) = (Rc::clone(&lock), Rc::clone(&got));
    let newcomer = greenthread::spawn(move || {
        assert!(!g.get());
        assert!(!l.try_acquire(), "the newcomer barged past the waiter");
        l.acquire();
        assert!(g.get());
        l.release().unwrap();
    });
    lock.release().unwrap();
    assert!(lock.locked(), "handed to the waiter, not freed");
    assert!(!got.get());
    // The releaser cannot take it back either (the failed try does not switch).
    assert!(!lock.try_acquire());
    assert!(!got.get());
    greenthread::yield_now(); // the newcomer, then the waiter, run
    assert!(got.get());
    waiter.join().unwrap();
    newcomer.join().unwrap();
    assert!(!lock.locked());
}

/// A waiter that times out leaves the queue; the next release goes to the next waiter
/// and no permit is lost.
#[test]
fn timed_out_waiter_leaves_queue() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let l = Rc::clone(&lock);
    let quick = greenthread::spawn(move || l.acquire_timeout(Duration::from_millis(5)));
    let l = Rc::clone(&lock);
    let patient = greenthread::spawn(move || {
        l.acquire();
        l.release().unwrap();
        "done"
    });
    assert!(!quick.join().unwrap());
    lock.release().unwrap();
    assert_eq!(patient.join().unwrap(), "done");
    assert!(!lock.locked());
    // And with nobody queued, the lock is simply free.
    assert!(lock.try_acquire());
    lock.release().unwrap();
}

/// A waiter killed while blocked leaves the queue holding nothing.
#[test]
fn killed_waiter_leaves_queue() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let l = Rc::clone(&lock);
    let victim = greenthread::spawn(move || {
        l.acquire();
        unreachable!("a killed waiter never gets the lock");
    });
    let l = Rc::clone(&lock);
    let next = greenthread::spawn(move || {
        l.acquire();
        l.release().unwrap();
    });
    greenthread::yield_now(); // both queue
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    lock.release().unwrap(); // goes to `next`, not to the dead one
    next.join().unwrap();
    assert!(!lock.locked());
}

/// Killed right after a release handed it the lock: the hand-off won, so the victim holds
/// the lock when the kill lands; its guard releases it while unwinding.
#[test]
fn kill_racing_a_hand_off_loses_nothing() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let l = Rc::clone(&lock);
    let victim = greenthread::spawn(move || {
        let _g = l.lock();
        greenthread::yield_now(); // the kill lands here at the latest
        unreachable!();
    });
    greenthread::yield_now(); // it queues
    lock.release().unwrap(); // handed over; the victim has not run yet
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert!(!lock.locked(), "the guard gave it back while unwinding");
}

#[test]
fn guard_release_reports_errors() {
    let lock = Lock::new();
    let g = lock.lock();
    lock.release().unwrap(); // behind the guard's back (allowed: no owner)
    assert_eq!(g.release(), Err(Error::ReleaseUnlocked));
    let g = lock.lock();
    assert!(format!("{g:?}").contains("LockGuard"));
    drop(g);
    assert!(!lock.locked());
}

#[test]
fn static_lock() {
    static LOCK: Lock = Lock::new();
    let _g = LOCK.lock();
    assert!(LOCK.locked());
}

/// A local lock: a wait that nothing can end is reported instead of hanging.
#[test]
fn deadlock_reported_for_local_lock() {
    let lock = Rc::new(Lock::new_local());
    assert!(lock.is_local());
    let l = Rc::clone(&lock);
    let sleeper = greenthread::spawn(move || {
        let _g = l.lock();
        l.acquire(); // waits for itself
    });
    greenthread::yield_now();
    let err = lock.acquire_with(true, None).unwrap_err();
    let report = err.deadlock().expect("a deadlock");
    assert_eq!(err.python_exception(), "LoopExit");
    assert_eq!(report.blocked().len(), 2, "{report}");
    assert!(report.to_string().contains("Lock at 0x"), "{report}");
    // The light form panics with the report.
    let p = catch_unwind(AssertUnwindSafe(|| lock.acquire())).unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("Lock::acquire") && msg.contains("deadlock"),
        "{msg}"
    );
    sleeper.kill();
    assert!(sleeper.wait().unwrap_err().exit().unwrap().is_killed());
    assert!(!lock.locked(), "the killed sleeper's guard released it");
}

/// What a dump shows: the object waited on, and whether another OS thread could end the
/// wait (shared locks: yes; local ones: no).
#[test]
fn dump_shows_waits_and_external() {
    let shared = Rc::new(Lock::new());
    let local = Rc::new(Lock::new_local());
    shared.acquire();
    local.acquire();
    let (s, l) = (Rc::clone(&shared), Rc::clone(&local));
    let a = greenthread::spawn(move || s.acquire());
    let b = greenthread::spawn(move || l.acquire());
    greenthread::yield_now();
    let dump = greenthread::dump();
    let info = |id| dump.green_threads.iter().find(|g| g.id == id).unwrap();
    let (ia, ib) = (info(a.id()), info(b.id()));
    assert_eq!(ia.state, GreenState::Parked);
    assert!(matches!(
        ia.waiting_on,
        Some(WaitOn::Object { kind: "Lock", .. })
    ));
    assert!(
        ia.external,
        "a shared lock may be released from another OS thread"
    );
    assert!(!ib.external, "a local lock may not");
    shared.release().unwrap();
    local.release().unwrap();
    a.join().unwrap();
    b.join().unwrap();
}

/// While the OS thread panics the hub does not switch: a contended blocking acquire in a
/// `Drop` during unwinding fails instead (and a free lock is still taken).
#[test]
fn acquire_while_panicking() {
    struct OnUnwind<'a>(
        &'a Lock,
        &'a Cell<Option<Result<bool, AcquireError>>>,
        &'a Cell<bool>,
        &'a Cell<Duration>,
    );
    impl Drop for OnUnwind<'_> {
        fn drop(&mut self) {
            assert!(std::thread::panicking());
            // Times only the calls under test: the panic (and its backtrace capture, slow
            // under emulation) happened before (issue 11.12).
            let t = Instant::now();
            self.1.set(Some(self.0.acquire_with(true, None)));
            self.2
                .set(self.0.acquire_timeout(Duration::from_secs(3600)));
            self.3.set(t.elapsed());
        }
    }
    let lock = Lock::new();
    lock.acquire();
    let result = Cell::new(None);
    let timed = Cell::new(true);
    let took = Cell::new(Duration::MAX);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let _d = OnUnwind(&lock, &result, &timed, &took);
        panic!("unwinding");
    }));
    // Far below the hour-long timeout: it did not wait (generous for qemu).
    assert!(
        took.get() < Duration::from_secs(120),
        "it waited {:?}",
        took.get()
    );
    assert!(matches!(
        result.take(),
        Some(Err(AcquireError::Hub(ParkError::Panicking)))
    ));
    assert!(!timed.get());
    // Free: taken without blocking even while panicking.
    lock.release().unwrap();
    let result = Cell::new(None);
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let _d = OnUnwind(&lock, &result, &timed, &took);
        panic!("unwinding");
    }));
    assert_eq!(result.take(), Some(Ok(true)));
    assert!(lock.locked());
}

/// Many green threads hammering one lock with every acquire form: never two inside.
#[test]
fn mutual_exclusion_among_green_threads() {
    let lock = Rc::new(Lock::new());
    let inside = Rc::new(Cell::new(0));
    let done = Rc::new(Cell::new(0));
    let workers: Vec<_> = (0..20)
        .map(|i| {
            let (l, inside, done) = (Rc::clone(&lock), Rc::clone(&inside), Rc::clone(&done));
            greenthread::spawn(move || {
                for j in 0..50 {
                    // Every acquire form; `held` says whether we hold it, `guard` holds
                    // it for the guard forms.
                    let (held, guard) = match (i + j) % 4 {
                        0 => (true, Some(l.lock())),
                        1 => {
                            let g = l.try_lock();
                            (g.is_some(), g)
                        }
                        2 => {
                            let g = l.lock_timeout(Duration::from_micros(200));
                            (g.is_some(), g)
                        }
                        _ => (l.acquire_with(true, Some(0.001)).unwrap(), None),
                    };
                    if held {
                        inside.set(inside.get() + 1);
                        assert_eq!(inside.get(), 1);
                        greenthread::yield_now();
                        inside.set(inside.get() - 1);
                        done.set(done.get() + 1);
                        match guard {
                            Some(g) => drop(g),
                            None => l.release().unwrap(),
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(done.get() > 0);
    assert!(!lock.locked());
}

/// Counts the calling OS thread's heap allocations (other threads are not counted).
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    std::thread_local! {
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }

    pub struct Counting;

    // SAFETY: forwards every call to `System` unchanged; the counter is a const-initialised
    // thread-local without a destructor, so touching it never allocates or fails.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: the caller's obligations are `System.alloc`'s.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's obligations are `System.dealloc`'s.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            // SAFETY: the caller's obligations are `System.realloc`'s.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    pub fn count() -> u64 {
        COUNT.with(Cell::get)
    }
}

#[global_allocator]
static ALLOC: alloc_count::Counting = alloc_count::Counting;

/// The uncontended paths of every type allocate nothing.
#[test]
fn uncontended_paths_do_not_allocate() {
    use greenthread::sync::{BoundedSemaphore, DummySemaphore, RLock, Semaphore};
    let lock = Lock::new();
    let sem = Semaphore::new(2);
    let bounded = BoundedSemaphore::new(2);
    let rlock = RLock::new();
    let dummy = DummySemaphore::new();
    greenthread::yield_now(); // creates this OS thread's hub (that allocates, once)
    let before = alloc_count::count();
    for _ in 0..1000 {
        lock.acquire();
        lock.release().unwrap();
        drop(lock.lock());
        assert!(lock.try_acquire());
        lock.release().unwrap();
        assert!(lock.acquire_timeout(Duration::from_secs(1)));
        lock.release().unwrap();
        assert_eq!(lock.acquire_with(true, Some(1.0)), Ok(true));
        lock.release().unwrap();
        sem.acquire();
        drop(sem.acquire_guard());
        sem.release().unwrap();
        assert_eq!(sem.wait(None), 2);
        bounded.acquire();
        assert!(bounded.try_acquire());
        bounded.release().unwrap();
        bounded.release().unwrap();
        rlock.acquire();
        drop(rlock.lock());
        rlock.release().unwrap();
        dummy.acquire();
        dummy.release().unwrap();
        let _ = (
            lock.locked(),
            sem.ready(),
            bounded.counter(),
            rlock.locked(),
        );
    }
    assert_eq!(
        alloc_count::count() - before,
        0,
        "the uncontended paths allocated"
    );
}

/// Issue 11.10: every timed call has an `Instant` form; it waits at least until the
/// deadline (lower bound strict), and a handed-over lock ends the wait early.
#[test]
fn instant_forms_of_timed_calls() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    let deadline = Instant::now() + Duration::from_millis(10);
    assert!(!lock.acquire_until(deadline));
    assert!(Instant::now() >= deadline);
    assert!(lock.lock_until(Instant::now()).is_none());
    let l = Rc::clone(&lock);
    greenthread::spawn_n(move || l.release().unwrap());
    assert!(lock.acquire_until(Instant::now() + Duration::from_secs(3600)));
    lock.release().unwrap();
    let sem = greenthread::sync::Semaphore::new(0);
    let deadline = Instant::now() + Duration::from_millis(10);
    assert!(!sem.acquire_until(deadline));
    assert!(Instant::now() >= deadline);
    assert_eq!(sem.wait_until(Instant::now()), 0);
    let rlock = greenthread::sync::RLock::new();
    let g = rlock.lock_until(Instant::now()).unwrap();
    drop(g);
}
