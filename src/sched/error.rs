//! Typed errors and outcomes of the hub. Each `Display` names the Python exception the case
//! corresponds to, where there is one.

use core::fmt;
use std::any::Any;
use std::sync::{Arc, Mutex, PoisonError};

use super::dump::DeadlockReport;
use crate::stack::StackError;

/// How a green thread ended when it did not return a value: what its waiters see instead.
///
/// # Python equivalent
///
/// `Killed` and `Cancelled` are eventlet's `GreenletExit` raised from `wait()` after
/// `kill()` / `cancel()`; `Panicked` is the exception the green thread raised, which
/// eventlet's `wait()` re-raises (here it is returned, see
/// [`GreenThread::wait`](super::GreenThread::wait)).
///
/// ```
/// use greenthread::sched::Exit;
///
/// let gt = greenthread::spawn(|| -> u32 { panic!("boom") });
/// let err = gt.join().unwrap_err();
/// assert!(matches!(err.exit(), Some(Exit::Panicked(_))));
/// assert_eq!(err.exit().unwrap().panic_message(), Some("boom"));
/// ```
#[derive(Clone)]
pub enum Exit {
    /// The green thread's closure panicked: its message, and the payload
    /// [`std::thread::JoinHandle::join`] would return (see [`Panic`]).
    Panicked(Panic),
    /// The green thread was killed ([`GreenThread::kill`](super::GreenThread::kill)), or
    /// ended itself with [`exit`](super::exit). If it had not started, its closure never
    /// ran.
    Killed,
    /// The green thread was cancelled before it started
    /// ([`GreenThread::cancel`](super::GreenThread::cancel)), or it was started by
    /// [`spawn_after_local`](super::spawn_after_local) and its spawner had finished by
    /// then. Its closure never ran.
    Cancelled,
}

impl Exit {
    /// Whether the green thread panicked.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| panic!("x"));
    /// assert!(gt.join().unwrap_err().exit().unwrap().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, Exit::Panicked(_))
    }

    /// Whether the green thread was killed.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// gt.kill();
    /// assert!(gt.join().unwrap_err().exit().unwrap().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, Exit::Killed)
    }

    /// Whether the green thread was cancelled before it started.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// assert!(gt.cancel());
    /// assert!(gt.join().unwrap_err().exit().unwrap().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Exit::Cancelled)
    }

    /// The panic message, if the green thread panicked with a `&str` or `String` payload
    /// (what `panic!` produces).
    ///
    /// ```
    /// let gt = greenthread::spawn(|| -> () { panic!("disk {} full", 3) });
    /// let err = gt.join().unwrap_err();
    /// assert_eq!(err.exit().unwrap().panic_message(), Some("disk 3 full"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            Exit::Panicked(p) => p.message(),
            _ => None,
        }
    }
}

/// A green thread's panic, as its outcome holds it: the message (if the payload was a
/// string) and the payload itself.
///
/// Cheap to clone (every waiter gets its own copy of the outcome) and `Send + Sync +
/// 'static`, so errors that carry it go into `Box<dyn Error + Send + Sync>` or `anyhow`. The
/// payload (`Box<dyn Any + Send>`, which is not `Sync`) is kept behind a lock and handed
/// out by value, once, as tokio's `JoinError::into_panic` does: the first
/// [`take_payload`](Self::take_payload) among all clones gets it.
///
/// ```
/// use greenthread::sched::Exit;
///
/// let gt = greenthread::spawn(|| -> u32 { panic!("boom") });
/// let Some(Exit::Panicked(p)) = gt.wait().unwrap_err().exit().cloned() else { unreachable!() };
/// assert_eq!(p.message(), Some("boom"));
/// let payload = p.take_payload().unwrap();
/// assert_eq!(*payload.downcast::<&str>().unwrap(), "boom");
/// assert!(p.take_payload().is_none()); // handed out once
/// ```
#[derive(Clone)]
pub struct Panic {
    message: Option<Arc<str>>,
    payload: Arc<Mutex<Option<Box<dyn Any + Send + 'static>>>>,
}

impl Panic {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Panic {
        Panic {
            message: payload_message(&*payload).map(Arc::from),
            payload: Arc::new(Mutex::new(Some(payload))),
        }
    }

    /// The panic message, if the payload was a `&str` or a `String` (as `panic!` makes).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Takes the payload out, for [`std::panic::resume_unwind`]; `None` if this panic's
    /// payload (shared by every clone) was taken already.
    pub fn take_payload(&self) -> Option<Box<dyn Any + Send + 'static>> {
        self.payload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl fmt::Debug for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message() {
            Some(m) => f.debug_tuple("Panic").field(&m).finish(),
            None => f.write_str("Panic(<non-string payload>)"),
        }
    }
}

/// The message of a panic payload, if it is a `&str` or a `String`.
pub(crate) fn payload_message(p: &(dyn Any + Send)) -> Option<&str> {
    if let Some(s) = p.downcast_ref::<&'static str>() {
        Some(s)
    } else {
        p.downcast_ref::<String>().map(String::as_str)
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Panicked(_) => match self.panic_message() {
                Some(m) => f.debug_tuple("Panicked").field(&m).finish(),
                None => f.write_str("Panicked(<non-string payload>)"),
            },
            Exit::Killed => f.write_str("Killed"),
            Exit::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "green thread panicked: {m}"),
                None => f.write_str("green thread panicked"),
            },
            Exit::Killed => f.write_str("green thread was killed (GreenletExit)"),
            Exit::Cancelled => {
                f.write_str("green thread was cancelled before it started (GreenletExit)")
            }
        }
    }
}

impl std::error::Error for Exit {}

/// Why a blocking call of the hub failed without blocking, or gave up.
///
/// ```
/// use greenthread::sched::{HubError, WaitError};
///
/// use greenthread::sched::{Parker, WaitOn};
///
/// // The main green thread waits for a green thread that waits for a signal nobody will
/// // ever send: nothing can wake either, so the main green thread's wait fails instead of
/// // hanging.
/// let gt = greenthread::spawn(|| {
///     Parker::new().park(WaitOn::Other("a signal nobody sends"), None, false)
/// });
/// match gt.wait() {
///     Err(WaitError::Hub(HubError::Deadlock(report))) => {
///         assert!(report.to_string().contains("a signal nobody sends"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HubError {
    /// Every green thread of this hub is blocked and nothing can wake one: no timer is
    /// pending and no blocked green thread waits on anything another OS thread could end.
    /// Only the main green thread's blocked call fails this way; the report lists every
    /// blocked green thread.
    ///
    /// Python: gevent's `LoopExit` ("This operation would block forever").
    Deadlock(DeadlockReport),
    /// The call would have to switch green threads while this OS thread is panicking (a
    /// blocking call in a `Drop` that runs during unwinding). Switching would expose the
    /// panic to the other green threads (`std::thread::panicking()` is per OS thread), so
    /// the hub refuses. No Python equivalent.
    Panicking,
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::Deadlock(report) => fmt::Display::fmt(report, f),
            HubError::Panicking => f.write_str(PANICKING_MSG),
        }
    }
}

impl std::error::Error for HubError {}

const PANICKING_MSG: &str = "cannot block: this OS thread is panicking (a blocking call in a \
                             Drop during unwinding), and switching green threads now would \
                             expose the panic to the others";

/// Why [`GreenThread::wait`](super::GreenThread::wait) did not return a value.
///
/// ```
/// use greenthread::sched::{Exit, WaitError};
///
/// let gt = greenthread::spawn(|| 1);
/// gt.kill();
/// assert!(matches!(gt.wait(), Err(WaitError::Exited(Exit::Killed))));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WaitError {
    /// The green thread finished without a value: this is how.
    Exited(Exit),
    /// The wait itself failed; the green thread may still be running.
    Hub(HubError),
}

impl WaitError {
    /// How the green thread ended, if that is the reason.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// gt.cancel();
    /// assert!(gt.wait().unwrap_err().exit().unwrap().is_cancelled());
    /// ```
    pub fn exit(&self) -> Option<&Exit> {
        match self {
            WaitError::Exited(e) => Some(e),
            WaitError::Hub(_) => None,
        }
    }
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Exited(e) => fmt::Display::fmt(e, f),
            WaitError::Hub(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Transparent: `Display` is the inner error's, and so is `source()`.
impl std::error::Error for WaitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WaitError::Exited(e) => e.source(),
            WaitError::Hub(e) => e.source(),
        }
    }
}

/// Why [`GreenThread::join`](super::GreenThread::join) did not return a value.
///
/// ```
/// use greenthread::sched::{Exit, JoinError};
///
/// let gt = greenthread::spawn(|| -> u8 { panic!("no") });
/// match gt.join() {
///     Err(JoinError::Exited(Exit::Panicked(panic))) => {
///         assert_eq!(panic.message(), Some("no"));
///         let payload = panic.take_payload().unwrap();
///         assert_eq!(payload.downcast_ref::<&str>(), Some(&"no"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum JoinError {
    /// The green thread finished without a value: this is how (owned, so a panic payload
    /// can be re-raised with [`std::panic::resume_unwind`]).
    Exited(Exit),
    /// The wait failed; the handle was consumed, the green thread goes on detached.
    Hub(HubError),
}

impl JoinError {
    /// How the green thread ended, if that is the reason.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// gt.kill();
    /// assert!(gt.join().unwrap_err().exit().unwrap().is_killed());
    /// ```
    pub fn exit(&self) -> Option<&Exit> {
        match self {
            JoinError::Exited(e) => Some(e),
            JoinError::Hub(_) => None,
        }
    }

    /// The panic payload, if the green thread panicked, for
    /// [`std::panic::resume_unwind`]; otherwise gives the error back.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| -> () { panic!("again") });
    /// let payload = gt.join().unwrap_err().into_panic().unwrap();
    /// let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
    ///     std::panic::resume_unwind(payload)
    /// }));
    /// assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"again"));
    /// ```
    ///
    /// # Errors
    /// `self` if it is not a panic, or if the payload was already taken (through
    /// [`Panic::take_payload`] on a clone of this outcome).
    pub fn into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self {
            JoinError::Exited(Exit::Panicked(p)) => match p.take_payload() {
                Some(payload) => Ok(payload),
                None => Err(JoinError::Exited(Exit::Panicked(p))),
            },
            other => Err(other),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Exited(e) => fmt::Display::fmt(e, f),
            JoinError::Hub(e) => fmt::Display::fmt(e, f),
        }
    }
}

/// Transparent: `Display` is the inner error's, and so is `source()`.
impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JoinError::Exited(e) => e.source(),
            JoinError::Hub(e) => e.source(),
        }
    }
}

/// Why a green thread could not be spawned.
///
/// ```
/// use greenthread::sched::{Builder, SpawnError};
///
/// let err = Builder::new().stack_size(1000).spawn(|| ()).unwrap_err();
/// assert!(matches!(err, SpawnError::Stack(_)));
/// assert!(err.to_string().contains("can't start new thread"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SpawnError {
    /// No stack could be had: the size is invalid, or the kernel refused the mapping (out
    /// of memory, or at the `vm.max_map_count` limit, about 32,700 stacks per process by
    /// default on Linux). See [`StackError::is_exhaustion`].
    ///
    /// Python: `RuntimeError: can't start new thread` (`_thread.error`); `ValueError` for a
    /// size below the minimum.
    Stack(StackError),
    /// This OS thread's hub has shut down: the thread is exiting and its thread-local
    /// destructors are running. No Python equivalent.
    ThreadExiting,
    /// The hub could not grow its own bookkeeping for one more green thread: out of memory,
    /// or (the usual case) at the `vm.max_map_count` limit, where growing a large buffer
    /// needs a new mapping. Python: `RuntimeError: can't start new thread` (or
    /// `MemoryError`).
    OutOfMemory,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is `source()`, not repeated here.
            SpawnError::Stack(_) => {
                f.write_str("can't start new thread (RuntimeError): no stack for a green thread")
            }
            SpawnError::ThreadExiting => f.write_str(THREAD_EXITING_MSG),
            SpawnError::OutOfMemory => f.write_str(
                "can't start new thread (RuntimeError): the hub cannot grow its bookkeeping \
                 (out of memory, or at the map-count limit, vm.max_map_count on Linux)",
            ),
        }
    }
}

pub(crate) const THREAD_EXITING_MSG: &str =
    "the hub of this OS thread has shut down (the thread is exiting)";

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Stack(e) => Some(e),
            SpawnError::ThreadExiting | SpawnError::OutOfMemory => None,
        }
    }
}

impl From<StackError> for SpawnError {
    fn from(e: StackError) -> Self {
        SpawnError::Stack(e)
    }
}

/// Why [`GreenThread::try_kill`](super::GreenThread::try_kill) could not kill.
///
/// Only possible when the crate is built with `panic = "abort"`: a green thread that has
/// started can then not be unwound, and abandoning its stack without running destructors
/// would be unsound (values on it may be pinned, or hold locks).
///
/// ```
/// let gt = greenthread::spawn(|| ());
/// // Not started yet: killing never needs to unwind, so this works under panic=abort too.
/// assert!(gt.try_kill().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KillError {
    /// Built with `panic = "abort"` and the green thread has started.
    CannotUnwind,
}

impl fmt::Display for KillError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KillError::CannotUnwind => f.write_str(
                "cannot kill a green thread that has started: built with panic = \"abort\", \
                 so its stack cannot be unwound (no Python equivalent)",
            ),
        }
    }
}

impl std::error::Error for KillError {}

/// Why [`Parker::park`](super::Parker::park) returned without being woken or timing out.
///
/// ```
/// use greenthread::sched::{ParkError, Parker, WaitOn};
///
/// // Alone on this hub and nobody can wake it: the main green thread gets the deadlock.
/// let p = Parker::new();
/// let r = p.park(WaitOn::Other("a signal nobody sends"), None, false);
/// assert!(matches!(r, Err(ParkError::Deadlock(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParkError {
    /// As [`HubError::Deadlock`]: returned only to the main green thread.
    Deadlock(DeadlockReport),
    /// The green thread was killed (or, the main green thread, interrupted with
    /// [`interrupt_main`](super::interrupt_main)) while parked, before any
    /// [`Waker::wake`](super::Waker::wake) for this park succeeded. The interrupt stays
    /// pending: clean up, then call [`check_interrupt`](super::check_interrupt), which
    /// raises it (any later switch point would too). If `check_interrupt` returns, the
    /// interrupt was a handler ([`interrupt_main_call`](super::interrupt_main_call)) that
    /// ran and returned: the wait may be retried.
    ///
    /// Python: `GreenletExit` (or `KeyboardInterrupt`) raised in the blocked call.
    Interrupted,
    /// As [`HubError::Panicking`]: nothing was switched.
    Panicking,
}

impl fmt::Display for ParkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParkError::Deadlock(report) => fmt::Display::fmt(report, f),
            ParkError::Interrupted => f.write_str(
                "interrupted while blocked: the green thread was killed (GreenletExit) or \
                 the main green thread was interrupted (KeyboardInterrupt)",
            ),
            ParkError::Panicking => f.write_str(PANICKING_MSG),
        }
    }
}

impl std::error::Error for ParkError {}

impl From<HubError> for ParkError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Deadlock(r) => ParkError::Deadlock(r),
            HubError::Panicking => ParkError::Panicking,
        }
    }
}
