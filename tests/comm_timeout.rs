//! Timeout and with_timeout: interrupts a blocking call once, nested timeouts (inner
//! wins), cancel on drop, kills win, blocked objects lose nothing.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenthread::queue::Queue;
use greenthread::sync::{Lock, Mutex};
use greenthread::timeout::{Elapsed, Timeout, with_timeout};

static_assertions::assert_impl_all!(Elapsed: Send, Sync, std::error::Error, Copy);
static_assertions::assert_not_impl_any!(Timeout: Send, Sync);

#[test]
fn with_timeout_interrupts_a_blocking_get() {
    let q = Queue::<u8>::new();
    let t = Instant::now();
    let r = with_timeout(Duration::from_millis(20), || q.get());
    assert!(r.is_err());
    assert!(t.elapsed() >= Duration::from_millis(20));
    // The interrupted getter left the queue: the next put is not swallowed.
    q.put(1);
    assert_eq!(q.try_get(), Ok(1));
}

#[test]
fn with_timeout_returns_the_value_in_time() {
    assert_eq!(with_timeout(Duration::from_secs(60), || 5), Ok(5));
    let q = Rc::new(Queue::new());
    let qq = Rc::clone(&q);
    greenthread::spawn(move || qq.put(9));
    assert_eq!(with_timeout(Duration::from_secs(60), || q.get()), Ok(9));
}

#[test]
fn raised_once_not_sticky() {
    let t = Timeout::start(Duration::from_millis(1));
    let p = catch_unwind(|| greenthread::sleep(Duration::from_secs(60))).unwrap_err();
    assert!(t.is_mine(&*p));
    assert!(t.is_expired());
    // The same timeout does not interrupt again.
    let start = Instant::now();
    greenthread::sleep(Duration::from_millis(5));
    assert!(start.elapsed() >= Duration::from_millis(5));
    drop(t);
}

#[test]
fn cancelled_timeout_never_fires() {
    let t = Timeout::start(Duration::from_millis(1));
    t.cancel();
    let start = Instant::now();
    greenthread::sleep(Duration::from_millis(10));
    assert!(start.elapsed() >= Duration::from_millis(10));
}

#[test]
fn expiry_without_a_switch_point_does_not_escape_the_scope() {
    let r = with_timeout(Duration::from_millis(1), || {
        std::thread::sleep(Duration::from_millis(5)); // no switch point
        7
    });
    assert_eq!(r, Ok(7));
    let start = Instant::now();
    greenthread::sleep(Duration::from_millis(5)); // not interrupted later
    assert!(start.elapsed() >= Duration::from_millis(5));
}

#[test]
fn nested_inner_wins_when_both_expired_then_outer_raised_next() {
    let log = RefCell::new(Vec::new());
    let outer = with_timeout(Duration::from_millis(1), || {
        let inner = with_timeout(Duration::from_millis(2), || {
            std::thread::sleep(Duration::from_millis(10)); // both expire meanwhile
            greenthread::sleep(Duration::from_secs(60));
        });
        log.borrow_mut()
            .push(if inner.is_err() { "inner" } else { "?" });
        greenthread::sleep(Duration::from_secs(60)); // the outer one lands here
        log.borrow_mut().push("not reached");
    });
    assert!(outer.is_err());
    assert_eq!(*log.borrow(), ["inner"]);
}

#[test]
fn nested_outer_expiry_passes_through_inner_with_timeout() {
    let inner_result = RefCell::new(None);
    let r = with_timeout(Duration::from_millis(5), || {
        let inner = catch_unwind(AssertUnwindSafe(|| {
            with_timeout(Duration::from_secs(60), || {
                greenthread::sleep(Duration::from_secs(60))
            })
        }));
        *inner_result.borrow_mut() = Some(inner.is_err());
        if let Err(p) = inner {
            std::panic::resume_unwind(p);
        }
    });
    assert!(r.is_err(), "the outer timeout fired");
    assert_eq!(
        *inner_result.borrow(),
        Some(true),
        "it unwound through the inner one"
    );
}

#[test]
fn timeout_in_another_green_thread_only_hits_it() {
    let hit = greenthread::spawn(|| {
        with_timeout(Duration::from_millis(2), || {
            greenthread::sleep(Duration::from_secs(60))
        })
        .is_err()
    });
    let start = Instant::now();
    greenthread::sleep(Duration::from_millis(20));
    assert!(
        start.elapsed() >= Duration::from_millis(20),
        "main not interrupted"
    );
    assert!(hit.join().unwrap());
}

#[test]
fn kill_wins_over_a_pending_timeout() {
    let victim = greenthread::spawn(|| {
        let _t = Timeout::start(Duration::from_secs(60));
        greenthread::sleep(Duration::from_secs(60));
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
}

#[test]
fn lock_and_mutex_waits_are_interrupted_holding_nothing() {
    let lock = Rc::new(Lock::new());
    lock.acquire();
    assert!(with_timeout(Duration::from_millis(2), || lock.acquire()).is_err());
    lock.release().unwrap();
    assert!(!lock.locked(), "the interrupted waiter holds nothing");

    let m = Mutex::new(0);
    let g = m.lock();
    assert!(with_timeout(Duration::from_millis(2), || *m.lock() += 1).is_err());
    drop(g);
    // Not poisoned by the unwind, and the interrupted waiter did not get it.
    assert_eq!(*m.lock(), 0);
    // A timeout unwinding *through* a guard releases the mutex, no poisoning.
    let r = with_timeout(Duration::from_millis(2), || {
        let mut g = m.lock();
        *g = 1;
        greenthread::sleep(Duration::from_secs(60));
    });
    assert!(r.is_err());
    assert!(!m.is_locked());
    assert_eq!(*m.lock(), 1);
}

#[test]
fn elapsed_is_not_a_panic_message_and_is_recognised() {
    let e = with_timeout(Duration::ZERO, greenthread::yield_now);
    // A zero timeout fires at the first switch point that ticks the timers; yield_now may
    // or may not tick, so either outcome is fine, but an error must be an Elapsed.
    if let Err(e) = e {
        assert_eq!(e.to_string(), "timed out");
    }
    let p = catch_unwind(|| {
        let _t = Timeout::start(Duration::ZERO);
        greenthread::sleep(Duration::from_secs(60));
    })
    .unwrap_err();
    assert!(Elapsed::is_payload(&*p));
    assert!(!greenthread::sched::is_kill_payload(&*p));
}

/// Dropping a `Timeout` is not a switch point: a kill that arrived after the guarded call
/// succeeded is raised at the next switch point, not inside the drop.
#[test]
fn dropping_a_timeout_never_switches() {
    let q = Rc::new(Queue::new());
    let got = Rc::new(RefCell::new(None));
    let (qq, g) = (Rc::clone(&q), Rc::clone(&got));
    let victim = greenthread::spawn(move || {
        let t = Timeout::start(Duration::from_secs(60));
        let v = qq.get();
        drop(t);
        *g.borrow_mut() = Some(v);
        greenthread::yield_now();
        unreachable!("killed at this switch point");
    });
    greenthread::yield_now(); // it waits in get
    q.put(5); // handed over; the victim is runnable
    victim.kill(); // pending: raised at its next switch point
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert_eq!(*got.borrow(), Some(5));
}
