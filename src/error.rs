//! The error type of the lock layer and the `_thread` facade, and the Python timeout rules.
//!
//! Every variant names the Python exception it stands for ([`Error::python_exception`]) and
//! carries CPython's wording in its `Display`, so a ported program's messages stay familiar.

use std::fmt;
use std::time::{Duration, Instant};

/// The largest timeout, in seconds, that the Python-shaped `acquire(blocking, timeout)` accepts
/// (`_thread.TIMEOUT_MAX`). It is CPython's value on 64-bit platforms: `i64::MAX` nanoseconds,
/// about 292 years. `TIMEOUT_MAX` itself is accepted; anything larger, or not finite, is
/// [`Error::TimeoutTooLarge`].
///
/// ```
/// assert_eq!(greenthread::thread::TIMEOUT_MAX, 9223372036.854776);
/// ```
pub const TIMEOUT_MAX: f64 = i64::MAX as f64 / 1e9;

/// Errors of the lock layer and the `_thread` facade.
///
/// `_thread.error` is Python's `RuntimeError`; the argument errors are `ValueError` and
/// `OverflowError` there. [`python_exception`](Self::python_exception) says which.
///
/// ```
/// use greenthread::Error;
///
/// let e = Error::ReleaseUnlocked;
/// assert_eq!(e.to_string(), "release unlocked lock");
/// assert_eq!(e.python_exception(), "RuntimeError");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// `Lock::release` on a lock that is not held. Python: `RuntimeError("release unlocked
    /// lock")`.
    ReleaseUnlocked,
    /// `RLock::release` by a green thread that does not own it. Python: `RuntimeError("cannot
    /// release un-acquired lock")`.
    NotOwner,
    /// `BoundedSemaphore::release` past its initial value. Python: `ValueError("Semaphore
    /// released too many times")`.
    TooManyReleases,
    /// `Semaphore::release` with the counter already at
    /// [`Semaphore::MAX_VALUE`](crate::sync::Semaphore::MAX_VALUE) (a Python int has no such
    /// limit; this is the Rust counter's). Python's nearest: `OverflowError`.
    CounterOverflow,
    /// A timeout given together with `blocking = false`. Python: `ValueError("can't specify a
    /// timeout for a non-blocking call")`.
    TimeoutWithNonBlocking,
    /// A negative timeout other than -1 (which means "forever"). Python: `ValueError("timeout
    /// value must be a non-negative number")`.
    NegativeTimeout,
    /// A timeout above [`TIMEOUT_MAX`], or not finite. Python: `OverflowError("timeout value
    /// is too large")`.
    TimeoutTooLarge,
    /// A stack size that is neither 0 nor at least 32 KiB, or too large to round to whole
    /// pages. Python: `ValueError("size not valid: N bytes")`.
    InvalidStackSize(usize),
    /// No green thread could be started: no stack could be mapped (e.g. at the kernel's
    /// `vm.max_map_count` limit). Python: `RuntimeError("can't start new thread")`.
    /// [`Builder::spawn`](crate::Builder::spawn) returns the detailed cause.
    CantStartThread,
}

impl Error {
    /// The Python exception this error corresponds to: `"RuntimeError"`, `"ValueError"` or
    /// `"OverflowError"`.
    pub fn python_exception(&self) -> &'static str {
        match self {
            Error::ReleaseUnlocked | Error::NotOwner | Error::CantStartThread => "RuntimeError",
            Error::TooManyReleases
            | Error::TimeoutWithNonBlocking
            | Error::NegativeTimeout
            | Error::InvalidStackSize(_) => "ValueError",
            Error::TimeoutTooLarge | Error::CounterOverflow => "OverflowError",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ReleaseUnlocked => f.write_str("release unlocked lock"),
            Error::NotOwner => f.write_str("cannot release un-acquired lock"),
            Error::TooManyReleases => f.write_str("Semaphore released too many times"),
            Error::CounterOverflow => write!(
                f,
                "Semaphore counter is at its maximum ({})",
                crate::sync::Semaphore::MAX_VALUE
            ),
            Error::TimeoutWithNonBlocking => {
                f.write_str("can't specify a timeout for a non-blocking call")
            }
            Error::NegativeTimeout => f.write_str("timeout value must be a non-negative number"),
            Error::TimeoutTooLarge => f.write_str("timeout value is too large"),
            Error::InvalidStackSize(n) => write!(f, "size not valid: {n} bytes"),
            Error::CantStartThread => f.write_str("can't start new thread"),
        }
    }
}

impl std::error::Error for Error {}

/// How long a blocking call may wait, after the Python arguments have been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Do not wait: succeed at once or fail.
    Never,
    /// Wait without a time limit.
    Forever,
    /// Wait at most this long.
    For(Duration),
}

impl Wait {
    /// Checks Python's `acquire(blocking, timeout)` arguments.
    ///
    /// `timeout` is in seconds; `None` and `-1.0` mean "no limit" (gevent's and CPython's
    /// defaults). A timeout with `blocking = false` is [`Error::TimeoutWithNonBlocking`] (as
    /// in CPython and eventlet; gevent ignores it); another negative value is
    /// [`Error::NegativeTimeout`]; a value above [`TIMEOUT_MAX`], infinity or NaN is
    /// [`Error::TimeoutTooLarge`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenthread::Error;
    /// use greenthread::thread::{TIMEOUT_MAX, Wait};
    ///
    /// assert_eq!(Wait::from_python(true, None), Ok(Wait::Forever));
    /// assert_eq!(Wait::from_python(true, Some(-1.0)), Ok(Wait::Forever));
    /// assert_eq!(Wait::from_python(false, None), Ok(Wait::Never));
    /// assert_eq!(Wait::from_python(true, Some(0.5)), Ok(Wait::For(Duration::from_millis(500))));
    /// assert_eq!(Wait::from_python(false, Some(1.0)), Err(Error::TimeoutWithNonBlocking));
    /// assert_eq!(Wait::from_python(true, Some(-2.0)), Err(Error::NegativeTimeout));
    /// assert!(Wait::from_python(true, Some(TIMEOUT_MAX)).is_ok());
    /// assert_eq!(Wait::from_python(true, Some(TIMEOUT_MAX * 2.0)), Err(Error::TimeoutTooLarge));
    /// assert_eq!(Wait::from_python(true, Some(f64::NAN)), Err(Error::TimeoutTooLarge));
    /// ```
    ///
    /// # Errors
    /// As described above; the arguments are checked before anything else happens.
    pub fn from_python(blocking: bool, timeout: Option<f64>) -> Result<Wait, Error> {
        let Some(t) = timeout else {
            return Ok(if blocking { Wait::Forever } else { Wait::Never });
        };
        if !t.is_finite() {
            return Err(Error::TimeoutTooLarge);
        }
        if !blocking {
            // CPython accepts the default -1 with blocking=False.
            return if t == -1.0 {
                Ok(Wait::Never)
            } else {
                Err(Error::TimeoutWithNonBlocking)
            };
        }
        if t == -1.0 {
            return Ok(Wait::Forever);
        }
        if t < 0.0 {
            return Err(Error::NegativeTimeout);
        }
        if t > TIMEOUT_MAX {
            return Err(Error::TimeoutTooLarge);
        }
        // 0 <= t <= TIMEOUT_MAX, so this cannot panic.
        Ok(Wait::For(Duration::from_secs_f64(t)))
    }

    /// The instant at which a wait starting `now` gives up: `None` for no limit (including a
    /// duration so long that the clock cannot represent its end: no arithmetic here can
    /// overflow or panic).
    pub fn deadline(self, now: Instant) -> Option<Instant> {
        match self {
            Wait::Never => Some(now),
            Wait::Forever => None,
            Wait::For(d) => now.checked_add(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_max_is_accepted_and_has_a_deadline_or_none() {
        let w = Wait::from_python(true, Some(TIMEOUT_MAX)).unwrap();
        // Either representable or "forever"; never a panic.
        let _ = w.deadline(Instant::now());
        assert_eq!(Wait::For(Duration::MAX).deadline(Instant::now()), None);
    }

    #[test]
    fn smallest_float_above_timeout_max_is_rejected() {
        let above = f64::from_bits(TIMEOUT_MAX.to_bits() + 1);
        assert_eq!(
            Wait::from_python(true, Some(above)),
            Err(Error::TimeoutTooLarge)
        );
        assert_eq!(
            Wait::from_python(true, Some(f64::INFINITY)),
            Err(Error::TimeoutTooLarge)
        );
        assert_eq!(
            Wait::from_python(true, Some(f64::NEG_INFINITY)),
            Err(Error::TimeoutTooLarge)
        );
    }

    #[test]
    fn zero_and_tiny_timeouts() {
        assert_eq!(
            Wait::from_python(true, Some(0.0)),
            Ok(Wait::For(Duration::ZERO))
        );
        assert_eq!(
            Wait::from_python(true, Some(-0.0)),
            Ok(Wait::For(Duration::ZERO))
        );
        assert_eq!(Wait::from_python(false, Some(-1.0)), Ok(Wait::Never));
        assert_eq!(
            Wait::from_python(false, Some(0.0)),
            Err(Error::TimeoutWithNonBlocking)
        );
    }

    #[test]
    fn every_error_names_its_python_exception() {
        for e in [
            Error::ReleaseUnlocked,
            Error::NotOwner,
            Error::TooManyReleases,
            Error::TimeoutWithNonBlocking,
            Error::NegativeTimeout,
            Error::TimeoutTooLarge,
            Error::InvalidStackSize(1),
            Error::CantStartThread,
        ] {
            assert!(
                ["RuntimeError", "ValueError", "OverflowError"].contains(&e.python_exception())
            );
            assert!(!e.to_string().is_empty());
        }
    }
}
