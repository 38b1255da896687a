//! [`Timeout`] and [`with_timeout`]: interrupt the current green thread's blocking call
//! after a while (gevent's `gevent.Timeout` / `with_timeout`, eventlet's `Timeout`).
//!
//! # Semantics
//!
//! - A [`Timeout`] is armed by [`Timeout::start`] and belongs to the green thread that
//!   started it. When it expires, that green thread's current (or next) **switch point**
//!   (any blocking call: a lock, a queue, a channel, `sleep`, `wait`, `yield_now`) unwinds
//!   with an [`Elapsed`] payload (`std::panic::resume_unwind`, no panic message), after
//!   the blocked call has left its queue holding nothing, exactly as for a kill.
//! - It is raised **once** (not sticky like a kill): code that catches it goes on, and its
//!   next blocking calls are not interrupted again by the same timeout.
//! - Dropping the guard (or [`cancel`](Timeout::cancel)) disarms it; an expiry that has
//!   not been raised yet is withdrawn, so it never escapes the guard's scope.
//! - **Nested timeouts**: each raises its own `Elapsed`. When several have expired, the
//!   **innermost** (most recently started) is raised first; an outer one that has also
//!   expired is raised at the next switch point after the inner one's guard is dropped
//!   (so it is never lost, and never raised outside its own scope).
//! - A green thread that does not reach a switch point is not interrupted (cooperative
//!   scheduling, as gevent): a long computation can call
//!   [`check_interrupt`](crate::sched::check_interrupt) to be interruptible.
//! - [`with_timeout`] runs a closure under a timeout and turns its own `Elapsed` into
//!   `Err(Elapsed)`; any other unwind (a kill, an outer timeout, a panic) goes on.
//!
//! # `panic = "abort"`
//!
//! Nothing can unwind there, so a timeout cannot interrupt anything. [`Timeout::start`]
//! and [`with_timeout`] **panic at once** (which aborts, with a message naming the
//! cause) rather than arming a timeout that would silently never fire: a program that
//! relies on timeouts fails at the first one, in testing, instead of hanging in
//! production. Use the `*_timeout` methods of the objects (`Queue::get_timeout`, ...)
//! there: they need no unwinding.
//!
//! # `Mutex<T>`
//!
//! A `Timeout` unwinding through a [`MutexGuard`](crate::sync::MutexGuard) releases the
//! mutex without poisoning it (see [`Mutex`](crate::sync::Mutex)).

use core::any::Any;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, Ordering};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::Duration;

use crate::sched::{self, Builder, GreenHandle, GreenThread};

/// The payload an expired [`Timeout`] unwinds with, and the error of [`with_timeout`]
/// (gevent's `Timeout` exception).
///
/// ```
/// use std::time::Duration;
/// use greenthread::timeout::{Elapsed, with_timeout};
///
/// let e: Elapsed = with_timeout(Duration::from_millis(1), || {
///     greenthread::sleep(Duration::from_secs(60))
/// })
/// .unwrap_err();
/// assert_eq!(e.to_string(), "timed out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    id: u64,
}

impl Elapsed {
    /// Whether a payload caught with `catch_unwind` is an expired timeout's.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenthread::timeout::{Elapsed, Timeout};
    ///
    /// let t = Timeout::start(Duration::from_millis(1));
    /// let p = std::panic::catch_unwind(|| greenthread::sleep(Duration::from_secs(60)))
    ///     .unwrap_err();
    /// assert!(Elapsed::is_payload(&*p));
    /// assert!(t.is_mine(&*p));
    /// ```
    pub fn is_payload(payload: &(dyn Any + Send)) -> bool {
        payload.is::<Elapsed>()
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for Elapsed {}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One armed timeout of a green thread of this OS thread.
struct Active {
    green: u64,
    id: u64,
    expired: bool,
}

thread_local! {
    /// Armed timeouts in start order (so, per green thread, innermost last).
    static ACTIVE: RefCell<Vec<Active>> = const { RefCell::new(Vec::new()) };
}

/// Queues the innermost expired timeout of `target` to be raised in it, if any.
fn deliver(target: &GreenHandle) {
    let id = ACTIVE
        .try_with(|a| {
            a.borrow()
                .iter()
                .rev()
                .find(|t| t.green == target.id() && t.expired)
                .map(|t| t.id)
        })
        .ok()
        .flatten();
    if let Some(id) = id {
        sched::raise::raise_in(target, Box::new(Elapsed { id }));
    }
}

/// The timer fired (on its own green thread).
fn fire(target: &GreenHandle, id: u64) {
    let found = ACTIVE.with(|a| {
        let mut a = a.borrow_mut();
        match a.iter_mut().find(|t| t.id == id) {
            Some(t) => {
                t.expired = true;
                true
            }
            None => false,
        }
    });
    if found {
        deliver(target);
    }
}

/// A guard that interrupts the current green thread's blocking call when it expires:
/// gevent's `gevent.Timeout` used as `with Timeout(seconds):`. See the
/// [module docs](self) for the rules (raised once, nested timeouts, `panic = "abort"`).
///
/// The guard is neither `Send` nor `Sync`: it belongs to the green thread that started it.
///
/// # Python equivalent
///
/// `gevent.Timeout(seconds)` / `Timeout.start_new`, `cancel`, `pending`; eventlet's
/// `eventlet.Timeout`.
///
/// # Differences
///
/// The exception is an unwind with an [`Elapsed`] payload; catch it with
/// `std::panic::catch_unwind` (check [`is_mine`](Self::is_mine)) or use
/// [`with_timeout`], which returns `Result`. gevent's `Timeout(seconds, exception)`
/// (raise something else) and `Timeout(seconds, False)` (swallow) have no equivalent:
/// map the `Err` of `with_timeout` instead.
///
/// # Examples
///
/// ```
/// use std::panic::catch_unwind;
/// use std::time::Duration;
/// use greenthread::queue::Queue;
/// use greenthread::timeout::Timeout;
///
/// let q = Queue::<u8>::new();
/// let r = catch_unwind(|| {
///     let _t = Timeout::start(Duration::from_millis(5));
///     q.get() // nobody puts: interrupted after 5 ms
/// });
/// assert!(greenthread::timeout::Elapsed::is_payload(&*r.unwrap_err()));
/// ```
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(greenthread::timeout::Timeout::start(std::time::Duration::from_secs(1)));
/// ```
pub struct Timeout {
    id: u64,
    timer: Option<GreenThread<()>>,
    _not_send: PhantomData<*const ()>,
}

impl Timeout {
    /// Arms a timeout of `d` for the calling green thread (see the [module docs](self)).
    ///
    /// # Panics
    /// Under `panic = "abort"` (nothing could unwind: see the module docs), and if no
    /// green thread can be spawned for its timer (out of memory for a stack).
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = greenthread::timeout::Timeout::start(Duration::from_secs(60));
    /// assert!(!t.is_expired());
    /// t.cancel();
    /// ```
    pub fn start(d: Duration) -> Timeout {
        if !cfg!(panic = "unwind") {
            panic!("greenthread: Timeout needs panic = \"unwind\" to interrupt a blocking call");
        }
        let me = sched::current();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        ACTIVE.with(|a| {
            a.borrow_mut().push(Active {
                green: me.id(),
                id,
                expired: false,
            });
        });
        let timer = Builder::new()
            .spawn_after_local(d, move || fire(&me, id))
            .unwrap_or_else(|e| panic!("greenthread: Timeout::start: {e}"));
        Timeout {
            id,
            timer: Some(timer),
            _not_send: PhantomData,
        }
    }

    /// Whether it has expired (whether or not the interrupt was raised yet); gevent's
    /// `pending` is the opposite while it is armed.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = greenthread::timeout::Timeout::start(Duration::ZERO);
    /// let _ = std::panic::catch_unwind(|| greenthread::sleep(Duration::from_secs(60)));
    /// assert!(t.is_expired());
    /// ```
    pub fn is_expired(&self) -> bool {
        ACTIVE.with(|a| a.borrow().iter().any(|t| t.id == self.id && t.expired))
    }

    /// Whether `payload` (caught with `catch_unwind`) is this timeout's expiry.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenthread::timeout::Timeout;
    ///
    /// let outer = Timeout::start(Duration::from_secs(60));
    /// let inner = Timeout::start(Duration::from_millis(1));
    /// let p = std::panic::catch_unwind(|| greenthread::sleep(Duration::from_secs(60)))
    ///     .unwrap_err();
    /// assert!(inner.is_mine(&*p) && !outer.is_mine(&*p));
    /// ```
    pub fn is_mine(&self, payload: &(dyn Any + Send)) -> bool {
        payload
            .downcast_ref::<Elapsed>()
            .is_some_and(|e| e.id == self.id)
    }

    /// Disarms it now (as dropping it does); gevent's `cancel`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = greenthread::timeout::Timeout::start(Duration::ZERO);
    /// t.cancel();
    /// greenthread::yield_now(); // not interrupted
    /// ```
    pub fn cancel(self) {
        drop(self);
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        // Never a switch point: `GreenThread::cancel` would switch into the timer to end
        // it, and a kill pending for us would then be raised inside this drop, after the
        // guarded call had already succeeded.
        if let Some(timer) = self.timer.take() {
            sched::raise::cancel_quietly(&timer.handle());
        }
        let _ = ACTIVE.try_with(|a| {
            let mut a = a.borrow_mut();
            if let Some(i) = a.iter().position(|t| t.id == self.id) {
                a.remove(i);
            }
        });
        // At thread exit (the hub already gone) there is nothing left to interrupt.
        let Some(me) = sched::raise::current_handle() else {
            return;
        };
        // Withdraw a queued, unraised expiry (ours, or an outer one queued after ours was
        // raised), then queue the innermost expiry still armed, if any.
        let withdrawn = sched::raise::withdraw_current();
        drop(withdrawn);
        deliver(&me);
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("expired", &self.is_expired())
            .finish_non_exhaustive()
    }
}

/// Runs `f` under a [`Timeout`] of `d`: `Ok(its value)`, or `Err(Elapsed)` if the timeout
/// interrupted one of its blocking calls (gevent's `with_timeout(seconds, function)`).
/// Any other unwind out of `f` (a kill, an outer timeout, a panic) goes on unchanged.
///
/// # Errors
/// [`Elapsed`] if this call's timeout fired inside `f`.
///
/// # Panics
/// Under `panic = "abort"` (see the [module docs](self)); and whatever `f` panics with.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenthread::channel::channel;
/// use greenthread::timeout::with_timeout;
///
/// let (_tx, rx) = channel::<u8>();
/// assert!(with_timeout(Duration::from_millis(2), || rx.recv()).is_err());
/// assert_eq!(with_timeout(Duration::from_secs(60), || 7), Ok(7));
/// ```
pub fn with_timeout<T, F: FnOnce() -> T>(d: Duration, f: F) -> Result<T, Elapsed> {
    let t = Timeout::start(d);
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Ok(v),
        Err(p) if t.is_mine(&*p) => Err(Elapsed { id: t.id }),
        Err(p) => {
            drop(t);
            resume_unwind(p)
        }
    }
}
