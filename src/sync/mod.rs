//! Locks for green threads: [`Lock`] (`_thread.LockType`), [`Semaphore`],
//! [`BoundedSemaphore`], [`DummySemaphore`] and [`RLock`] (gevent's `gevent.lock`).
//!
//! Also the communication objects built on the same park/wake layer: [`Event`] and
//! [`AsyncResult`] (gevent's `gevent.event`), a data-owning [`Mutex`] with a
//! [`Condvar`], and [`Local`], the one-OS-thread flavour of them whose deadlocks are
//! reported. Queues, channels, pools, timeouts and waiting on several objects are in
//! [`queue`](crate::queue), [`channel`](crate::channel), [`pool`](crate::pool),
//! [`timeout`](crate::timeout) and [`select`](crate::select); `docs/COMMUNICATION.md`
//! has their design.
//!
//! Every type is `Send + Sync` and works across OS threads: a green thread blocked in one
//! OS thread's hub is woken by a release from another OS thread (the release posts the wake
//! to the owning hub; stacks are never switched across OS threads). `docs/SYNC.md` has the
//! full design, the API choices and the measurements.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use greenthread::sync::Semaphore;
//!
//! let sem = Arc::new(Semaphore::new(0));
//! let s = Arc::clone(&sem);
//! // A plain OS thread releases; the main green thread of this one waits for it, its OS
//! // thread blocked (no spinning) since nothing else is ready.
//! let os = std::thread::spawn(move || s.release().unwrap());
//! sem.acquire();
//! os.join().unwrap();
//! assert_eq!(sem.counter(), 0);
//! ```
//!
//! # What blocks what
//!
//! | call | blocks the green thread | blocks the OS thread |
//! |---|---|---|
//! | `acquire`, `lock`, `acquire_guard`, `acquire_with(true, ..)` when not free | yes, until handed a permit | only if no other green thread of it is ready (the hub sleeps until a wake or timer) |
//! | `acquire_timeout`, `lock_timeout`, `acquire_guard_timeout` | yes, at most the timeout | as above |
//! | `Semaphore::wait` | yes, until ready or the timeout | as above |
//! | `try_acquire`, `try_lock`, `acquire_timeout(ZERO)` | never (never switches, on any primitive) | never |
//! | `acquire_with(false, None)` (Python-shaped) | `Lock`: yields once on failure (gevent); others never | never |
//! | `release`, guard drop | never (never switches) | never, beyond a queue lock held by another OS thread for a few hundred instructions, and the target hub's inbox lock (and a futex wake) when the waiter is on another OS thread |
//! | `locked`, `ready`, `counter` | never | never |
//! | `rawlink`, `unlink` | never (callbacks run later on their own green thread) | as `release` |
//!
//! The uncontended `acquire` and `release` are one compare-and-swap each: no syscall, no
//! allocation (a `Lock` pair costs what a `std::sync::Mutex` pair costs). The first time a
//! green thread waits on an object, its queue may allocate.
//!
//! # Fairness
//!
//! Waiters are served **strictly first come, first served**, with direct hand-off: a
//! release with waiters gives its permit to the oldest waiter itself, so the count never
//! rises while anyone waits and neither the releaser nor a newcomer can barge in (SPEC §8;
//! gevent lets the releaser barge, which can starve a waiter). If the oldest waiter's park
//! has already ended (it timed out or was killed a moment ago), the permit goes to the next
//! one, or back to the count: a waiter that times out or is killed leaves the queue and no
//! permit is lost or duplicated. `Semaphore::wait` callers queue in the same line and are
//! woken in their turn without taking a permit.
//!
//! # Deadlocks and other OS threads
//!
//! The hub reports a deadlock (the main green thread's blocked call fails) when every green
//! thread of an OS thread is blocked and nothing can wake one. A wait counts as wakeable
//! from outside ("external") when another OS thread might release the object. A `Send +
//! Sync` object can be reached by any OS thread that holds a reference, and a thread that
//! has one need not have used it yet (the Python idiom: acquire a lock, start a thread that
//! will release it, acquire again to wait for it), so no rule based on past use is sound.
//! The rule here, which never reports a false deadlock:
//!
//! - Objects made with `new` (and statics) may be shared: **their waits are external**. A
//!   deadlock on them is not reported; the OS thread sleeps (as a `std::sync::Mutex`
//!   deadlock would) and [`dump`](crate::dump) shows who waits on what.
//! - Objects made with `new_local` (`Lock<OneThread>`, `Semaphore<OneThread>`, ...; see
//!   [`Sharing`]) stay on one OS thread, and the compiler keeps them there: they are
//!   `!Send + !Sync`, so no other OS thread can ever hold a reference. Their waits are not
//!   external, and a deadlock is reported; the report is always true. [`acquire_with`](Lock::acquire_with)
//!   returns it as [`AcquireError::Hub`]; [`acquire`](Lock::acquire) panics with the
//!   report (a deadlock is a bug, the panic names every blocked green thread).
//!
//! # Which blocking call to use
//!
//! `acquire()` (and `lock()`) is the light form: no `Result`, it panics only where a
//! blocking call cannot go on (a reported deadlock; a contended acquire while the OS
//! thread is panicking, which the hub refuses). `try_acquire`, `acquire_timeout` return
//! whether they got it. `acquire_with(blocking, timeout)` is Python's form and returns
//! every failure as an error. A kill while waiting always unwinds out of the call, after
//! the green thread has left the queue, holding nothing.
//!
//! # Rules the implementation keeps
//!
//! - **No switch while holding an internal lock.** The only internal lock is each object's
//!   queue lock (a bit of its state word, `waitqueue.rs`); its holder only edits the queue
//!   and wakes or drops wakers, which never switch. Debug builds check it. User code
//!   (callbacks, destructors of unlinked callbacks) runs without it.
//! - **Lock order**: no other lock is taken under a queue lock (a wake for another OS
//!   thread, which takes that hub's inbox lock, is made after dropping it), and never two
//!   queue locks at once.
//! - **Ordering**: a permit is taken with an Acquire compare-and-swap and given back with a
//!   Release one, or handed over by a `wake()` (AcqRel, see `sched/park.rs`), so the
//!   previous holder's writes are visible to the next. Each ordering-sensitive line in
//!   `raw.rs` and `waitqueue.rs` says which race it prevents and names its counterpart.

mod condvar;
mod error;
mod event;
mod guard;
mod links;
mod local;
mod lock;
mod mutex;
mod raw;
mod rlock;
mod semaphore;
mod waiters;
mod waitqueue;

mod sharing;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::Wait;
use crate::sched::ParkError;

pub use condvar::{Condvar, WaitTimeoutResult};
pub use error::AcquireError;
pub(crate) use event::wait_until;
pub use event::{AlreadySet, AsyncResult, Event, GetError};
pub use guard::{
    BoundedSemaphoreGuard, DummySemaphoreGuard, LockGuard, RLockGuard, SemaphoreGuard,
};
pub use links::LinkId;
pub use local::Local;
pub use lock::Lock;
pub use mutex::{Mutex, MutexGuard};
pub use rlock::RLock;
pub use semaphore::{BoundedSemaphore, DummySemaphore, Semaphore};
pub use sharing::{OneThread, Shared, Sharing};
pub(crate) use waiters::{Parked, Waiters, expired, lock as lock_state, park_on};

/// The end of a timed wait, and whether it is known to have passed or not.
///
/// A timed call reads the clock once (issue 19): a deadline computed just now from a
/// non-zero timeout has not passed, and one from a zero timeout has, so `raw.rs` need not
/// read the clock again to decide whether to queue up; an `Instant` deadline given by the
/// caller is checked there with one read. The hub does not read it either (`hub.rs`).
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    /// `Some(passed)` when known without a clock read.
    known: Option<bool>,
}

impl Deadline {
    /// A deadline given by the caller: whether it passed takes a clock read.
    #[inline]
    fn at(at: Instant) -> Deadline {
        Deadline { at, known: None }
    }

    /// Whether the deadline has passed (reads the clock only if not known).
    #[inline]
    fn passed(self) -> bool {
        self.known.unwrap_or_else(|| self.at <= Instant::now())
    }
}

/// The deadline of a wait of `d` starting now (one clock read); `None` (no limit) if the
/// clock cannot represent it. No arithmetic here can overflow or panic.
#[inline]
pub(crate) fn deadline_after(d: Duration) -> Option<Instant> {
    Wait::For(d).deadline(Instant::now())
}

/// [`deadline_after`] for the lock layer's timed waits: the deadline with whether it has
/// passed already known (a zero timeout has, any other has not), so the wait needs no
/// second clock read (issue 19).
#[inline]
fn timed_deadline(d: Duration) -> Option<Deadline> {
    // As `Wait::For(d).deadline(now)`, inlined.
    Instant::now().checked_add(d).map(|at| Deadline {
        at,
        known: Some(d.is_zero()),
    })
}

/// A blocking call that returns no `Result` met a refusal of the hub to block.
#[cold]
#[inline(never)]
pub(crate) fn blocking_failed(what: &'static str, e: ParkError) -> ! {
    match e {
        ParkError::Deadlock(report) => panic!("greenthread: {what}: {report}"),
        other => panic!("greenthread: {what}: {other}"),
    }
}
