//! The error of the Python-shaped `acquire_with(blocking, timeout)`.

use core::fmt;

use crate::Error;
use crate::sched::{DeadlockReport, ParkError};

/// Why `acquire_with(blocking, timeout)` (the Python-shaped acquire of every lock type)
/// failed, as opposed to returning `Ok(false)` (not acquired: non-blocking, or timed out).
///
/// ```
/// use greenthread::Error;
/// use greenthread::sync::{AcquireError, Lock};
///
/// let lock = Lock::new();
/// let err = lock.acquire_with(false, Some(1.0)).unwrap_err();
/// assert_eq!(err, AcquireError::Invalid(Error::TimeoutWithNonBlocking));
/// assert_eq!(err.python_exception(), "ValueError");
/// assert!(!lock.locked()); // arguments are checked before anything happens
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcquireError {
    /// The arguments break Python's rules (see [`Wait::from_python`](crate::thread::Wait)): a
    /// timeout with `blocking = false`, a negative timeout other than -1, a timeout above
    /// [`TIMEOUT_MAX`](crate::thread::TIMEOUT_MAX) or not finite. Nothing was attempted.
    Invalid(Error),
    /// The hub could not block the calling green thread; it was not queued and holds
    /// nothing:
    ///
    /// - [`ParkError::Deadlock`]: every green thread of this OS thread is blocked and
    ///   nothing can wake one (only the main green thread gets this, and only for waits on
    ///   objects made with a `new_local` constructor, see the [module docs](super));
    ///   Python: gevent's `LoopExit`.
    /// - [`ParkError::Panicking`]: called while this OS thread is panicking (from a `Drop`
    ///   during unwinding) and the lock was not free; the hub does not switch then.
    ///
    /// A kill ([`ParkError::Interrupted`]) never shows up here: it unwinds out of the
    /// acquire, after the green thread has left the queue.
    Hub(ParkError),
}

impl AcquireError {
    /// The deadlock report, if this is a deadlock.
    ///
    /// ```
    /// use greenthread::Error;
    /// use greenthread::sync::AcquireError;
    ///
    /// assert!(AcquireError::Invalid(Error::NegativeTimeout).deadlock().is_none());
    /// ```
    pub fn deadlock(&self) -> Option<&DeadlockReport> {
        match self {
            AcquireError::Hub(ParkError::Deadlock(r)) => Some(r),
            _ => None,
        }
    }

    /// The Python exception this corresponds to: the argument error's own
    /// ([`Error::python_exception`]), `"LoopExit"` for a deadlock (gevent's), else
    /// `"RuntimeError"`.
    ///
    /// ```
    /// use greenthread::Error;
    /// use greenthread::sync::AcquireError;
    ///
    /// let e = AcquireError::from(Error::TimeoutTooLarge);
    /// assert_eq!(e.python_exception(), "OverflowError");
    /// ```
    pub fn python_exception(&self) -> &'static str {
        match self {
            AcquireError::Invalid(e) => e.python_exception(),
            AcquireError::Hub(ParkError::Deadlock(_)) => "LoopExit",
            AcquireError::Hub(_) => "RuntimeError",
        }
    }
}

impl From<Error> for AcquireError {
    fn from(e: Error) -> Self {
        AcquireError::Invalid(e)
    }
}

impl From<ParkError> for AcquireError {
    fn from(e: ParkError) -> Self {
        AcquireError::Hub(e)
    }
}

/// Argument errors compare by value; hub errors are equal to nothing (a deadlock report is
/// a snapshot, not a value).
impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireError::Invalid(e) => fmt::Display::fmt(e, f),
            AcquireError::Hub(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Transparent: `Display` is the inner error's, and so is `source()` (the cause is never
/// printed twice in a chain).
impl std::error::Error for AcquireError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcquireError::Invalid(e) => e.source(),
            AcquireError::Hub(e) => e.source(),
        }
    }
}
