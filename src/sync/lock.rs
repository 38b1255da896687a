//! [`Lock`]: Python's `_thread.LockType`, a binary lock with no owner.
//!
//! Built on [`RawSem`] with one permit (see `raw.rs` for the design and the state word).
//! A `Lock` is a `RawSem` whose count is 1 when free and 0 when held; its fast paths guess
//! those exact words, so the uncontended acquire and release are one compare-and-swap each,
//! with no preliminary load.

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::Error;
use crate::sched::ParkError;

use super::error::AcquireError;
use super::guard::LockGuard;
use super::raw::{ONE, RawSem};
use super::{Deadline, OneThread, Shared, Sharing, Wait, blocking_failed, timed_deadline};

/// A binary lock with no owner: Python's `_thread.LockType` (`_thread.allocate_lock()`),
/// gevent's `gevent.thread.LockType`.
///
/// Any green thread may release it, on any OS thread, not only the one that acquired it
/// (so it also works as a one-shot signal). Waiters are served strictly first come, first
/// served: a release hands the lock straight to the oldest waiter, and nobody can take it
/// in between (see the [module docs](super)). `Send + Sync`; the uncontended
/// [`acquire`](Self::acquire) + [`release`](Self::release) is two compare-and-swaps, no
/// syscall, no allocation.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use greenthread::sync::Lock;
///
/// let lock = Rc::new(Lock::new());
/// let guard = lock.lock();
/// let l = Rc::clone(&lock);
/// let waiter = greenthread::spawn(move || {
///     let _g = l.lock(); // blocks this green thread only
///     "got it"
/// });
/// greenthread::yield_now(); // the waiter runs and queues
/// assert!(lock.locked());
/// drop(guard); // hands the lock to the waiter
/// assert_eq!(waiter.join().unwrap(), "got it");
/// assert!(!lock.locked());
/// ```
///
/// # Python equivalent
/// `_thread.allocate_lock()` / `LockType`: `acquire(blocking=True, timeout=-1)` is
/// [`acquire_with`](Self::acquire_with); `release()`, `locked()`, `with lock:` is
/// [`lock`](Self::lock).
///
/// # Differences
/// - Strict FIFO hand-off (CPython's order is unspecified; gevent lets a releaser barge).
/// - A failed Python-shaped non-blocking acquire ([`acquire_with(false, None)`](Self::acquire_with),
///   the facade's `acquire(False)`) yields once (as gevent, unlike eventlet), so a Python
///   spin loop lets the holder run. The Rust-shaped [`try_acquire`](Self::try_acquire) /
///   [`try_lock`](Self::try_lock) never switch, as `std::sync::Mutex::try_lock`.
/// - The guard of [`lock`](Self::lock) ignores a release error on drop (Python's `with`
///   would raise it); use [`LockGuard::release`] to see it.
/// - Deadlocks are only detected for locks made with [`new_local`](Self::new_local)
///   (see the [module docs](super)).
pub struct Lock<S: Sharing = Shared> {
    raw: RawSem,
    _sharing: PhantomData<S>,
}

impl Lock {
    /// A free lock that may be shared with other OS threads. `const`, so it can be a
    /// `static`; allocates nothing.
    ///
    /// Its waits are never reported as deadlocks (another OS thread might release it); use
    /// [`new_local`](Self::new_local) for a lock that stays on one OS thread.
    ///
    /// ```
    /// static LOCK: greenthread::sync::Lock = greenthread::sync::Lock::new();
    /// assert!(!LOCK.locked());
    /// ```
    pub const fn new() -> Lock {
        Lock {
            raw: RawSem::new(1, "Lock", false),
            _sharing: PhantomData,
        }
    }
}

impl Lock<OneThread> {
    /// A free lock that only the green threads of **one** OS thread use. Blocking on it is
    /// reported as a deadlock when every green thread of that OS thread is blocked and
    /// nothing can wake one (instead of hanging): gevent's `LoopExit`.
    ///
    /// The promise is kept by the compiler: `Lock<OneThread>` is `!Send + !Sync`, so neither
    /// it nor a reference to it can reach another OS thread, and a report is always true
    /// (see [`Sharing`](super::Sharing)).
    ///
    /// ```
    /// use greenthread::sync::{AcquireError, Lock};
    ///
    /// let lock = Lock::new_local();
    /// lock.acquire();
    /// // Only this green thread exists and it would wait for itself:
    /// let err = lock.acquire_with(true, None).unwrap_err();
    /// assert!(err.deadlock().is_some());
    /// assert_eq!(err.python_exception(), "LoopExit");
    /// ```
    pub const fn new_local() -> Lock<OneThread> {
        Lock {
            raw: RawSem::new(1, "Lock", true),
            _sharing: PhantomData,
        }
    }
}

impl<S: Sharing> Lock<S> {
    /// Acquires the lock, blocking the calling green thread (other green threads run) until
    /// it is released to it.
    ///
    /// # Panics
    /// - If the hub reports a deadlock (only for a [`new_local`](Self::new_local) lock; the
    ///   message carries the report). [`acquire_with`](Self::acquire_with) returns it.
    /// - If called while this OS thread is panicking (a `Drop` during unwinding) and the
    ///   lock is held: the hub does not switch then, and this second panic aborts.
    ///   [`acquire_with`](Self::acquire_with) returns an error instead.
    /// - If the calling green thread is killed while it waits: the kill unwinds from here,
    ///   after it left the queue, holding nothing.
    ///
    /// ```
    /// let lock = greenthread::sync::Lock::new();
    /// lock.acquire();
    /// assert!(lock.locked());
    /// lock.release().unwrap();
    /// ```
    #[inline]
    pub fn acquire(&self) {
        if !self.raw.try_acquire_from(ONE) {
            self.acquire_contended();
        }
    }

    #[cold]
    #[inline(never)]
    fn acquire_contended(&self) {
        match self.raw.acquire_slow(None) {
            Ok(_) => {}
            Err(e) => blocking_failed("Lock::acquire", e),
        }
    }

    /// Acquires the lock if it is free now; returns false otherwise. Never blocks, never
    /// switches, never yields (as `std::sync::Mutex::try_lock`; SPEC §8). A green thread
    /// that spins on it must yield itself; the Python-shaped
    /// [`acquire_with(false, None)`](Self::acquire_with) yields once on failure, as gevent.
    ///
    /// ```
    /// let lock = greenthread::sync::Lock::new();
    /// assert!(lock.try_acquire());
    /// assert!(!lock.try_acquire()); // held; nothing else ran meanwhile
    /// lock.release().unwrap();
    /// ```
    #[inline]
    #[must_use = "the lock is held only if this returns true"]
    pub fn try_acquire(&self) -> bool {
        self.raw.try_acquire_from(ONE) || self.raw.try_acquire()
    }

    /// The Python-shaped non-blocking acquire: [`try_acquire`](Self::try_acquire), and on
    /// failure one yield (gevent's behaviour, SPEC §8).
    #[cold]
    fn try_acquire_python(&self) -> bool {
        if self.try_acquire() {
            return true;
        }
        crate::sched::yield_now();
        false
    }

    /// Acquires the lock, waiting at most `timeout`. Returns false if it timed out. A zero
    /// timeout is [`try_acquire`](Self::try_acquire) (no switch).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lock = greenthread::sync::Lock::new();
    /// lock.acquire();
    /// let t = Instant::now();
    /// assert!(!lock.acquire_timeout(Duration::from_millis(5)));
    /// assert!(t.elapsed() >= Duration::from_millis(5));
    /// ```
    ///
    /// # Panics
    /// On a kill while waiting (it unwinds, holding nothing); on a deadlock report, only
    /// possible if `timeout` is too large for the clock and the lock is local. While this
    /// OS thread is panicking it does not wait: it returns false if the lock is held.
    #[must_use = "the lock is held only if this returns true"]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        if self.raw.try_acquire_from(ONE) {
            return true;
        }
        if timeout.is_zero() {
            return self.raw.try_acquire();
        }
        timed(
            self.raw.acquire_slow(timed_deadline(timeout)),
            "Lock::acquire_timeout",
        )
    }

    /// Acquires the lock, waiting until `deadline` at the latest: the `Instant` form of
    /// [`acquire_timeout`](Self::acquire_timeout). Returns false if the deadline passed
    /// first; a deadline already passed is [`try_acquire`](Self::try_acquire).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lock = greenthread::sync::Lock::new();
    /// assert!(lock.acquire_until(Instant::now() + Duration::from_secs(1)));
    /// let deadline = Instant::now() + Duration::from_millis(5);
    /// assert!(!lock.acquire_until(deadline)); // held: waits until the deadline
    /// assert!(Instant::now() >= deadline);
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    #[must_use = "the lock is held only if this returns true"]
    pub fn acquire_until(&self, deadline: Instant) -> bool {
        if self.raw.try_acquire_from(ONE) {
            return true;
        }
        timed(
            self.raw.acquire_slow(Some(Deadline::at(deadline))),
            "Lock::acquire_until",
        )
    }

    /// Python's `lock.acquire(blocking=True, timeout=-1)`: returns whether the lock was
    /// acquired. `timeout` is in seconds; `None` or `-1.0` means no limit.
    ///
    /// # Errors
    /// - [`AcquireError::Invalid`]: a timeout with `blocking = false`
    ///   ([`Error::TimeoutWithNonBlocking`]), a negative timeout other than -1
    ///   ([`Error::NegativeTimeout`]), above [`TIMEOUT_MAX`](crate::thread::TIMEOUT_MAX) or not
    ///   finite ([`Error::TimeoutTooLarge`]); checked before anything else.
    /// - [`AcquireError::Hub`]: a deadlock (local locks only) or a call while panicking.
    ///
    /// ```
    /// use greenthread::Error;
    /// use greenthread::sync::{AcquireError, Lock};
    ///
    /// let lock = Lock::new();
    /// assert_eq!(lock.acquire_with(true, None), Ok(true));
    /// assert_eq!(lock.acquire_with(false, None), Ok(false));
    /// assert_eq!(lock.acquire_with(true, Some(0.001)), Ok(false));
    /// assert_eq!(
    ///     lock.acquire_with(true, Some(-5.0)),
    ///     Err(AcquireError::Invalid(Error::NegativeTimeout))
    /// );
    /// ```
    ///
    /// # Panics
    /// A kill while waiting unwinds from here (holding nothing).
    pub fn acquire_with(&self, blocking: bool, timeout: Option<f64>) -> Result<bool, AcquireError> {
        match Wait::from_python(blocking, timeout)? {
            Wait::Never => Ok(self.try_acquire_python()),
            Wait::For(d) if d.is_zero() => Ok(self.try_acquire_python()),
            Wait::For(d) => Ok(self.raw.acquire(timed_deadline(d))?),
            Wait::Forever => Ok(self.raw.acquire(None)?),
        }
    }

    /// Releases the lock; any green thread may, on any OS thread. If green threads wait, the
    /// oldest gets it at once (it runs when its hub gets to it); this call never blocks and
    /// never switches.
    ///
    /// # Errors
    /// [`Error::ReleaseUnlocked`] if the lock is not held (Python: `RuntimeError: release
    /// unlocked lock`).
    ///
    /// ```
    /// use greenthread::Error;
    ///
    /// let lock = greenthread::sync::Lock::new();
    /// assert_eq!(lock.release(), Err(Error::ReleaseUnlocked));
    /// lock.acquire();
    /// assert_eq!(lock.release(), Ok(()));
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), Error> {
        if self.raw.release_from(0, 1) {
            Ok(())
        } else {
            Err(Error::ReleaseUnlocked)
        }
    }

    /// Whether the lock is held (by anyone). A snapshot.
    ///
    /// ```
    /// let lock = greenthread::sync::Lock::new();
    /// assert!(!lock.locked());
    /// let _g = lock.lock();
    /// assert!(lock.locked());
    /// ```
    #[inline]
    pub fn locked(&self) -> bool {
        self.raw.count() == 0
    }

    /// Whether the lock could be acquired now without blocking: `!locked()` (gevent's
    /// `ready()`).
    ///
    /// ```
    /// assert!(greenthread::sync::Lock::new().ready());
    /// ```
    #[inline]
    pub fn ready(&self) -> bool {
        !self.locked()
    }

    /// Acquires the lock as [`acquire`](Self::acquire) does and returns a guard that
    /// releases it when dropped (Python's `with lock:`).
    ///
    /// ```
    /// let lock = greenthread::sync::Lock::new();
    /// {
    ///     let _guard = lock.lock();
    ///     assert!(lock.locked());
    /// }
    /// assert!(!lock.locked());
    /// ```
    ///
    /// # Panics
    /// As [`acquire`](Self::acquire).
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, S> {
        self.acquire();
        LockGuard::<S>::new(self)
    }

    /// [`try_acquire`](Self::try_acquire) with a guard (never switches).
    ///
    /// ```
    /// let lock = greenthread::sync::Lock::new();
    /// let g = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_none());
    /// drop(g);
    /// ```
    ///
    /// # Panics
    /// As [`try_acquire`](Self::try_acquire).
    #[inline]
    pub fn try_lock(&self) -> Option<LockGuard<'_, S>> {
        self.try_acquire().then(|| LockGuard::<S>::new(self))
    }

    /// [`acquire_timeout`](Self::acquire_timeout) with a guard.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = greenthread::sync::Lock::new();
    /// let g = lock.lock_timeout(Duration::from_millis(1)).unwrap();
    /// assert!(lock.lock_timeout(Duration::from_millis(1)).is_none());
    /// drop(g);
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    pub fn lock_timeout(&self, timeout: Duration) -> Option<LockGuard<'_, S>> {
        self.acquire_timeout(timeout)
            .then(|| LockGuard::<S>::new(self))
    }

    /// [`acquire_until`](Self::acquire_until) with a guard.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let lock = greenthread::sync::Lock::new();
    /// let g = lock.lock_until(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert!(lock.lock_until(Instant::now()).is_none());
    /// drop(g);
    /// ```
    ///
    /// # Panics
    /// As [`acquire_timeout`](Self::acquire_timeout).
    pub fn lock_until(&self, deadline: Instant) -> Option<LockGuard<'_, S>> {
        self.acquire_until(deadline)
            .then(|| LockGuard::<S>::new(self))
    }

    /// Whether this lock was made with [`new_local`](Self::new_local).
    ///
    /// ```
    /// assert!(greenthread::sync::Lock::new_local().is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        self.raw.is_local()
    }
}

/// The result of a timed acquire (`acquire_timeout`): a deadlock (possible only with no
/// usable deadline) panics as `acquire` does; a refusal to block while panicking is a
/// timeout.
pub(super) fn timed(r: Result<bool, ParkError>, what: &'static str) -> bool {
    match r {
        Ok(acquired) => acquired,
        Err(ParkError::Deadlock(report)) => blocking_failed(what, ParkError::Deadlock(report)),
        Err(_) => false,
    }
}

impl Default for Lock {
    fn default() -> Self {
        Lock::new()
    }
}

impl<S: Sharing> fmt::Debug for Lock<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .field("waiters", &self.raw.has_waiters())
            .field("local", &self.raw.is_local())
            .finish()
    }
}
