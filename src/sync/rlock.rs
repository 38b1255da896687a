//! [`RLock`]: a re-entrant lock owned by a green thread (gevent's `RLock`, Python's
//! `threading.RLock`).
//!
//! A one-permit [`RawSem`] (FIFO hand-off, see `raw.rs`) plus the owner's identity and a
//! recursion count. The owner is identified by its green-thread id, which is unique in the
//! process and never reused (`GreenHandle::id`), so two green threads of one OS thread,
//! or of two OS threads, never pass for each other, and a finished owner's id is never
//! inherited by a new green thread.
//!
//! `owner` and `count` are only written by the green thread that holds the permit (the
//! acquire that got it writes them after, the last release clears `owner` before giving
//! it back), and every other green thread only compares `owner` with its own id, which the
//! field can hold only if it wrote it itself: relaxed accesses are enough, the permit's
//! Acquire/Release orders them between successive owners.

use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::Error;

use super::error::AcquireError;
use super::guard::RLockGuard;
use super::lock::timed;
use super::raw::RawSem;
use super::{Deadline, OneThread, Shared, Sharing, Wait, blocking_failed, timed_deadline};

/// A re-entrant lock: owned by the green thread that acquired it, which may acquire it
/// again (each acquire needs a release); other green threads wait, FIFO. gevent's
/// `gevent.lock.RLock`, Python's `threading.RLock`.
///
/// The owner is a **green thread**, not an OS thread: two green threads of one OS thread
/// exclude each other. Only the owner may release it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use greenthread::Error;
/// use greenthread::sync::RLock;
///
/// let rlock = Rc::new(RLock::new());
/// rlock.acquire();
/// rlock.acquire(); // re-entrant
/// let r = Rc::clone(&rlock);
/// let other = greenthread::spawn(move || {
///     assert_eq!(r.release(), Err(Error::NotOwner)); // not its lock
///     assert!(!r.try_acquire()); // another green thread owns it
/// });
/// other.join().unwrap();
/// rlock.release().unwrap();
/// assert!(rlock.locked()); // still held once
/// rlock.release().unwrap();
/// assert!(!rlock.locked());
/// ```
///
/// # Python equivalent
/// `gevent.lock.RLock()`: `acquire(blocking=True, timeout=None)` is
/// [`acquire_with`](Self::acquire_with), `release()`, `with rlock:` is
/// [`lock`](Self::lock); `_is_owned()` is [`is_owned`](Self::is_owned).
///
/// # Differences
/// - Strict FIFO among waiters (gevent: the underlying semaphore's order).
/// - A timeout with `blocking = false` is an error, as for every lock type here (gevent
///   ignores it).
/// - Deadlocks are only detected for [`new_local`](Self::new_local) locks (see the
///   [module docs](super)).
pub struct RLock<S: Sharing = Shared> {
    raw: RawSem,
    /// Id of the owning green thread, 0 when free. See the module docs for the ordering.
    owner: AtomicU64,
    /// Recursion depth of the owner.
    count: AtomicUsize,
    _sharing: PhantomData<S>,
}

/// The calling green thread's id.
#[inline]
fn me() -> u64 {
    crate::sched::current().id()
}

impl RLock {
    /// A free re-entrant lock that may be shared with other OS threads (its waits are never
    /// reported as deadlocks). `const`; allocates nothing.
    ///
    /// ```
    /// static RLOCK: greenthread::sync::RLock = greenthread::sync::RLock::new();
    /// let _g = RLOCK.lock();
    /// ```
    pub const fn new() -> RLock {
        RLock {
            raw: RawSem::new(1, "RLock", false),
            owner: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            _sharing: PhantomData,
        }
    }
}

impl RLock<OneThread> {
    /// A free re-entrant lock only the green threads of one OS thread use (`!Send +
    /// !Sync`): its waits are reported as deadlocks. See
    /// [`Lock::new_local`](super::Lock::new_local).
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new_local();
    /// assert!(rlock.is_local());
    /// ```
    pub const fn new_local() -> RLock<OneThread> {
        RLock {
            raw: RawSem::new(1, "RLock", true),
            owner: AtomicU64::new(0),
            count: AtomicUsize::new(0),
            _sharing: PhantomData,
        }
    }
}

impl<S: Sharing> RLock<S> {
    /// If the calling green thread owns the lock, counts one more level and returns true.
    #[inline]
    fn reenter(&self, me: u64) -> bool {
        // Relaxed: see the module docs; only we can have stored our id here.
        if self.owner.load(Ordering::Relaxed) != me {
            return false;
        }
        let n = self.count.load(Ordering::Relaxed);
        let Some(n) = n.checked_add(1) else {
            panic!("greenthread: RLock recursion count overflowed (Python: OverflowError)");
        };
        self.count.store(n, Ordering::Relaxed);
        true
    }

    /// Records the calling green thread as the owner of a permit it just got.
    #[inline]
    fn own(&self, me: u64) {
        // Relaxed: ordered after the Acquire that gave us the permit.
        self.owner.store(me, Ordering::Relaxed);
        self.count.store(1, Ordering::Relaxed);
    }

    /// Acquires the lock: at once if the calling green thread owns it (one more level),
    /// else blocks (other green threads run) until it is handed over, FIFO.
    ///
    /// # Panics
    /// As [`Lock::acquire`](super::Lock::acquire): on a deadlock report (local locks), while
    /// this OS thread panics and the lock is held by another, on a kill while waiting (it
    /// unwinds holding nothing). Also if the recursion count overflows `usize`.
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// rlock.acquire();
    /// rlock.acquire();
    /// rlock.release().unwrap();
    /// rlock.release().unwrap();
    /// ```
    pub fn acquire(&self) {
        let me = me();
        if self.reenter(me) {
            return;
        }
        match self.raw.acquire(None) {
            Ok(_) => self.own(me),
            Err(e) => blocking_failed("RLock::acquire", e),
        }
    }

    /// Acquires the lock if the calling green thread owns it or it is free now; never
    /// blocks and never switches (as every Rust-shaped `try_*` call).
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.try_acquire());
    /// assert!(rlock.try_acquire()); // owner: re-entrant
    /// rlock.release().unwrap();
    /// rlock.release().unwrap();
    /// ```
    ///
    /// # Panics
    /// If the recursion count overflows `usize`.
    #[must_use = "the lock is held only if this returns true"]
    pub fn try_acquire(&self) -> bool {
        let me = me();
        if self.reenter(me) {
            return true;
        }
        let got = self.raw.try_acquire();
        if got {
            self.own(me);
        }
        got
    }

    /// Acquires the lock, waiting at most `timeout`; false if it timed out.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.acquire_timeout(Duration::from_millis(1)));
    /// rlock.release().unwrap();
    /// ```
    ///
    /// # Panics
    /// As [`Lock::acquire_timeout`](super::Lock::acquire_timeout).
    #[must_use = "the lock is held only if this returns true"]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        let me = me();
        if self.reenter(me) {
            return true;
        }
        let got = timed(
            self.raw.acquire(timed_deadline(timeout)),
            "RLock::acquire_timeout",
        );
        if got {
            self.own(me);
        }
        got
    }

    /// Python's `rlock.acquire(blocking=True, timeout=None)`; see
    /// [`Lock::acquire_with`](super::Lock::acquire_with) for the arguments.
    ///
    /// # Errors
    /// As [`Lock::acquire_with`](super::Lock::acquire_with).
    ///
    /// ```
    /// use greenthread::Error;
    /// use greenthread::sync::{AcquireError, RLock};
    ///
    /// let rlock = RLock::new();
    /// assert_eq!(rlock.acquire_with(true, Some(1.0)), Ok(true));
    /// assert_eq!(rlock.acquire_with(false, None), Ok(true)); // owner
    /// assert_eq!(
    ///     rlock.acquire_with(true, Some(f64::INFINITY)),
    ///     Err(AcquireError::Invalid(Error::TimeoutTooLarge))
    /// );
    /// ```
    ///
    /// # Panics
    /// A kill while waiting unwinds from here. Recursion count overflow.
    pub fn acquire_with(&self, blocking: bool, timeout: Option<f64>) -> Result<bool, AcquireError> {
        let wait = Wait::from_python(blocking, timeout)?;
        let me = me();
        if self.reenter(me) {
            return Ok(true);
        }
        let got = match wait {
            Wait::Never => self.raw.try_acquire(),
            Wait::For(d) => self.raw.acquire(timed_deadline(d))?,
            Wait::Forever => self.raw.acquire(None)?,
        };
        if got {
            self.own(me);
        }
        Ok(got)
    }

    /// Releases one level; the last release by the owner frees the lock and hands it to
    /// the oldest waiter. Never blocks, never switches.
    ///
    /// # Errors
    /// [`Error::NotOwner`] if the calling green thread does not own it (Python:
    /// `RuntimeError: cannot release un-acquired lock`).
    ///
    /// ```
    /// use greenthread::Error;
    ///
    /// let rlock = greenthread::sync::RLock::new();
    /// assert_eq!(rlock.release(), Err(Error::NotOwner));
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        let me = me();
        // Relaxed: see the module docs.
        if self.owner.load(Ordering::Relaxed) != me {
            return Err(Error::NotOwner);
        }
        let n = self.count.load(Ordering::Relaxed) - 1;
        self.count.store(n, Ordering::Relaxed);
        if n == 0 {
            // Must come before the permit goes back (Release, in `release`): the next
            // owner's `own` then overwrites it, not the other way round.
            self.owner.store(0, Ordering::Relaxed);
            if !self.raw.release(1) {
                crate::fatal::fatal!("sync: an owned RLock's permit was not out");
            }
        }
        Ok(())
    }

    /// Whether any green thread holds the lock. A snapshot.
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(!rlock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.raw.count() == 0
    }

    /// `!locked()`.
    ///
    /// ```
    /// assert!(greenthread::sync::RLock::new().ready());
    /// ```
    pub fn ready(&self) -> bool {
        !self.locked()
    }

    /// Whether the calling green thread owns the lock (Python's `_is_owned()`).
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// let _g = rlock.lock();
    /// assert!(rlock.is_owned());
    /// let other = greenthread::spawn(|| ());
    /// other.join().unwrap();
    /// ```
    pub fn is_owned(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == me()
    }

    /// [`acquire`](Self::acquire) with a guard that releases one level when dropped.
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// let _a = rlock.lock();
    /// let _b = rlock.lock();
    /// ```
    ///
    /// # Panics
    /// As [`acquire`](Self::acquire).
    pub fn lock(&self) -> RLockGuard<'_, S> {
        self.acquire();
        RLockGuard::<S>::new(self)
    }

    /// [`try_acquire`](Self::try_acquire) with a guard.
    ///
    /// ```
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.try_lock().is_some());
    /// ```
    ///
    /// # Panics
    /// As [`try_acquire`](Self::try_acquire).
    pub fn try_lock(&self) -> Option<RLockGuard<'_, S>> {
        self.try_acquire().then(|| RLockGuard::<S>::new(self))
    }

    /// Acquires (or re-enters) the lock, waiting until `deadline` at the latest: the
    /// `Instant` form of [`acquire_timeout`](Self::acquire_timeout).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.acquire_until(Instant::now() + Duration::from_secs(1)));
    /// assert!(rlock.acquire_until(Instant::now())); // re-entry never waits
    /// rlock.release().unwrap();
    /// rlock.release().unwrap();
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    #[must_use = "the lock is held only if this returns true"]
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        let me = me();
        if self.reenter(me) {
            return true;
        }
        let got = timed(
            self.raw.acquire(Some(Deadline::at(deadline))),
            "RLock::acquire_until",
        );
        if got {
            self.own(me);
        }
        got
    }

    /// [`acquire_until`](Self::acquire_until) with a guard.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.lock_until(Instant::now() + Duration::from_secs(1)).is_some());
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    pub fn lock_until(&self, deadline: Instant) -> Option<RLockGuard<'_, S>> {
        self.acquire_until(deadline)
            .then(|| RLockGuard::<S>::new(self))
    }

    /// [`acquire_timeout`](Self::acquire_timeout) with a guard.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let rlock = greenthread::sync::RLock::new();
    /// assert!(rlock.lock_timeout(Duration::ZERO).is_some());
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    pub fn lock_timeout(&self, timeout: Duration) -> Option<RLockGuard<'_, S>> {
        self.acquire_timeout(timeout)
            .then(|| RLockGuard::<S>::new(self))
    }

    /// Whether this lock was made with [`new_local`](Self::new_local).
    ///
    /// ```
    /// assert!(!greenthread::sync::RLock::new().is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        self.raw.is_local()
    }
}

impl Default for RLock {
    fn default() -> Self {
        RLock::new()
    }
}

impl<S: Sharing> fmt::Debug for RLock<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let owner = self.owner.load(Ordering::Relaxed);
        f.debug_struct("RLock")
            .field("locked", &self.locked())
            .field("owner", &(owner != 0).then_some(owner))
            .field("waiters", &self.raw.has_waiters())
            .field("local", &self.raw.is_local())
            .finish()
    }
}
