//! Internal tests: the state word and the queue, through `RawSem`.

use std::time::{Duration, Instant};

use super::Deadline;
use super::raw::{ONE, RawSem};

#[test]
fn count_and_flags_round_trip() {
    let s = RawSem::new(3, "Semaphore", false);
    assert_eq!(s.count(), 3);
    assert!(s.try_acquire());
    assert!(s.try_acquire_fast());
    assert_eq!(s.count(), 1);
    assert!(s.try_acquire_from(ONE));
    assert!(!s.try_acquire());
    assert!(s.release(3));
    assert!(s.release_from(ONE, 3));
    assert!(s.release(3));
    assert!(!s.release(3), "bound reached");
    assert_eq!(s.count(), 3);
}

#[test]
fn expired_deadline_does_not_queue() {
    let s = RawSem::new(0, "Semaphore", true);
    let r = s.acquire(Some(Deadline::at(
        Instant::now() - Duration::from_millis(1),
    )));
    assert!(!r.unwrap());
    assert!(!s.has_waiters());
}

#[test]
fn timed_out_waiter_leaves_the_queue() {
    let s = RawSem::new(0, "Semaphore", true);
    let r = s.acquire(Some(Deadline::at(
        Instant::now() + Duration::from_millis(2),
    )));
    assert!(!r.unwrap());
    assert!(!s.has_waiters());
    // The permit goes to the count, not to the departed waiter.
    assert!(s.release(1));
    assert_eq!(s.count(), 1);
}

#[test]
fn wait_ready_returns_at_once_when_ready() {
    let s = RawSem::new(2, "Semaphore", true);
    assert_eq!(s.wait_ready(None).unwrap(), 2);
    let s = RawSem::new(0, "Semaphore", true);
    assert_eq!(s.wait_ready(Some(Deadline::at(Instant::now()))).unwrap(), 0);
    assert!(!s.has_waiters());
}

/// Issue 19: a deadline from a timeout knows whether it passed without a second clock
/// read (zero: passed; otherwise: not yet); an `Instant` from the caller is checked.
#[test]
fn deadlines_know_whether_they_passed() {
    use super::timed_deadline;
    assert!(timed_deadline(Duration::ZERO).unwrap().passed());
    let soon = timed_deadline(Duration::from_nanos(1)).unwrap();
    assert_eq!(soon.known, Some(false));
    assert!(timed_deadline(Duration::MAX).is_none()); // no limit
    let past = Deadline::at(Instant::now() - Duration::from_millis(1));
    assert_eq!(past.known, None);
    assert!(past.passed());
    assert!(!Deadline::at(Instant::now() + Duration::from_secs(60)).passed());
}
