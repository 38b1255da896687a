//! [`Condvar`]: a condition variable for [`Mutex`](super::Mutex), blocking green threads.

use core::fmt;
use std::time::{Duration, Instant};

use crate::sched::{ParkError, Parker, WaitOn, Wakeup, check_interrupt};

use super::local::Local;
use super::mutex::MutexGuard;
use super::waiters::{Waiters, lock};
use super::{blocking_failed, deadline_after};

/// Whether a timed [`Condvar`] wait returned because its time ran out (as
/// [`std::sync::WaitTimeoutResult`]).
///
/// ```
/// use std::time::Duration;
/// use greenthread::sync::{Condvar, Mutex};
///
/// let (m, cv) = (Mutex::new(()), Condvar::new());
/// let (_g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(1));
/// assert!(r.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// True if the wait ended because the timeout passed.
    ///
    /// ```
    /// # use greenthread::sync::{Condvar, Mutex};
    /// # let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = cv.wait_timeout(m.lock(), std::time::Duration::ZERO);
    /// assert!(r.timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable for green threads, shaped like [`std::sync::Condvar`] and used
/// with this crate's [`Mutex`](super::Mutex).
///
/// [`wait`](Self::wait) releases the mutex and blocks the calling green thread until a
/// [`notify_one`](Self::notify_one) / [`notify_all`](Self::notify_all) (or a spurious
/// wakeup: always re-check the condition, or use [`wait_while`](Self::wait_while)), then
/// re-locks. Waiters are notified oldest first; a waiter that times out or is killed
/// leaves the queue, and a `notify_one` that would have gone to it goes to the next
/// waiter instead (never lost). Notifications from another OS thread wake green threads
/// through their hub. `Send + Sync`; [`Condvar::new_local`] makes the one-OS-thread
/// flavour whose deadlocks are reported.
///
/// A kill or [`Timeout`](crate::timeout::Timeout) while waiting unwinds out of the wait
/// **without** re-locking the mutex (the guard was consumed; nothing is unlocked twice).
///
/// # Python equivalent
///
/// `threading.Condition` (`wait`, `wait_for`, `notify`, `notify_all`), with the lock kept
/// separately as in Rust.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use greenthread::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let p = Arc::clone(&pair);
/// greenthread::spawn(move || {
///     *p.0.lock() = true;
///     p.1.notify_one();
/// });
/// let (m, cv) = &*pair;
/// let ready = cv.wait_while(m.lock(), |ready| !*ready);
/// assert!(*ready);
/// ```
pub struct Condvar {
    waiters: std::sync::Mutex<Waiters<()>>,
    local: bool,
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar").finish_non_exhaustive()
    }
}

impl Condvar {
    /// A condition variable that may be shared with other OS threads (its waits are never
    /// reported as deadlocks). `const`.
    ///
    /// ```
    /// static CV: greenthread::sync::Condvar = greenthread::sync::Condvar::new();
    /// CV.notify_all(); // nobody waits: nothing happens
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: std::sync::Mutex::new(Waiters::new()),
            local: false,
        }
    }

    /// A condition variable for the green threads of this OS thread only (see
    /// [`Local`]); a deadlock among its waiters is reported.
    ///
    /// ```
    /// use greenthread::sync::{Condvar, Mutex};
    ///
    /// let (m, cv) = (Mutex::new_local(()), Condvar::new_local());
    /// let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     cv.wait(m.lock()) // nobody can notify: reported, not a hang
    /// }));
    /// assert!(r.is_err());
    /// ```
    pub const fn new_local() -> Local<Condvar> {
        Local::wrap(Condvar {
            waiters: std::sync::Mutex::new(Waiters::new()),
            local: true,
        })
    }

    /// Releases the guard's mutex, waits for a notification, re-locks. Spurious wakeups
    /// are possible (a wait interrupted by an `interrupt_main_call` handler that returns).
    ///
    /// # Panics
    /// On a deadlock report (local condition variables only) or while the OS thread is
    /// panicking (it cannot wait then). A kill unwinds out of the wait without the lock.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use greenthread::sync::{Condvar, Mutex};
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let p = Arc::clone(&pair);
    /// greenthread::spawn(move || {
    ///     *p.0.lock() = 1;
    ///     p.1.notify_all();
    /// });
    /// let mut g = pair.0.lock();
    /// while *g == 0 {
    ///     g = pair.1.wait(g);
    /// }
    /// ```
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        match self.wait_deadline(guard, None) {
            Ok((g, _)) => g,
            Err(e) => blocking_failed("Condvar::wait", e),
        }
    }

    /// Waits while `condition` holds (re-checked after every wakeup, under the lock).
    ///
    /// # Panics
    /// As [`wait`](Self::wait).
    ///
    /// ```
    /// # use greenthread::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(3), Condvar::new());
    /// let g = cv.wait_while(m.lock(), |n| *n == 0); // false at once: no wait
    /// assert_eq!(*g, 3);
    /// ```
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// [`wait`](Self::wait), at most `timeout`.
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock). While the OS
    /// thread is panicking it returns at once, timed out.
    ///
    /// ```
    /// # use greenthread::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (_g, r) = cv.wait_timeout(m.lock(), std::time::Duration::from_millis(2));
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let m = guard.mutex();
        match self.wait_deadline(guard, deadline_after(timeout)) {
            Ok((g, r)) => (g, r),
            Err(ParkError::Panicking) => (m.lock(), WaitTimeoutResult(true)),
            Err(e) => blocking_failed("Condvar::wait_timeout", e),
        }
    }

    /// Waits while `condition` holds, at most `timeout` in total.
    ///
    /// # Panics
    /// As [`wait_timeout`](Self::wait_timeout).
    ///
    /// ```
    /// # use greenthread::sync::{Condvar, Mutex};
    /// let (m, cv) = (Mutex::new(false), Condvar::new());
    /// let (g, r) = cv.wait_timeout_while(m.lock(), std::time::Duration::from_millis(1), |b| !*b);
    /// assert!(r.timed_out() && !*g);
    /// ```
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let deadline = deadline_after(timeout);
        loop {
            if !condition(&mut guard) {
                return (guard, WaitTimeoutResult(false));
            }
            let m = guard.mutex();
            match self.wait_deadline(guard, deadline) {
                Ok((g, r)) => {
                    guard = g;
                    if r.timed_out() {
                        let timed_out = condition(&mut guard);
                        return (guard, WaitTimeoutResult(timed_out));
                    }
                }
                Err(ParkError::Panicking) => {
                    let mut g = m.lock();
                    let t = condition(&mut g);
                    return (g, WaitTimeoutResult(t));
                }
                Err(e) => blocking_failed("Condvar::wait_timeout_while", e),
            }
        }
    }

    fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> Result<(MutexGuard<'a, T>, WaitTimeoutResult), ParkError> {
        let what = WaitOn::Object {
            kind: "Condvar",
            addr: self as *const Condvar as usize,
        };
        let p = Parker::new();
        // Queued before the mutex is released, so a notify made after the release (by
        // whoever takes the mutex next) finds us.
        let seq = lock(&self.waiters).push(p.waker(), None);
        let m = guard.unlock_forget();
        let r = p.park(what, deadline, !self.local);
        match r {
            Ok(Wakeup::Woken) => Ok((m.lock(), WaitTimeoutResult(false))),
            Ok(Wakeup::TimedOut) => {
                lock(&self.waiters).leave(seq);
                Ok((m.lock(), WaitTimeoutResult(true)))
            }
            Err(ParkError::Interrupted) => {
                lock(&self.waiters).leave(seq);
                check_interrupt();
                // An interrupt handler returned: a spurious wakeup.
                Ok((m.lock(), WaitTimeoutResult(false)))
            }
            Err(e) => {
                // The guard is gone and the mutex released; the caller reports the error.
                lock(&self.waiters).leave(seq);
                Err(e)
            }
        }
    }

    /// Wakes the oldest waiter, if any (one that has already left is skipped: the
    /// notification goes to the next). Never blocks or switches.
    ///
    /// ```
    /// greenthread::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        lock(&self.waiters).wake_one();
    }

    /// Wakes every waiter. Never blocks or switches.
    ///
    /// ```
    /// greenthread::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        lock(&self.waiters).wake_all_plain();
    }
}
