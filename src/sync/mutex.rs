//! [`Mutex<T>`]: a data-owning lock for green threads, on top of a one-permit `RawSem`,
//! the lock layer's semaphore (FIFO hand-off, killable, timeoutable, cross-OS-thread).

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use std::time::Duration;

use super::local::Local;
use super::raw::RawSem;
use super::{blocking_failed, timed_deadline};

/// A mutual-exclusion lock that owns its data, like [`std::sync::Mutex`], but blocking
/// only the calling **green thread**: other green threads of the OS thread run while it
/// waits.
///
/// Built on the one-permit semaphore that [`Lock`](super::Lock) and
/// [`Semaphore`](super::Semaphore) use, so it inherits the lock layer's guarantees:
/// strict FIFO hand-off (no barging, no starvation), a waiter that times out or is killed
/// leaves the queue holding nothing, a green thread blocked in one OS thread's hub is
/// woken by an unlock on another OS thread. `Send + Sync` when `T: Send`;
/// [`Mutex::new_local`] makes the one-OS-thread flavour whose deadlocks are reported.
///
/// # No poisoning
///
/// A guard dropped while unwinding unlocks the mutex and does **not** poison it, unlike
/// `std`. The common unwinds here are not bugs: a [`kill`](crate::GreenThread::kill) or a
/// [`Timeout`](crate::timeout::Timeout) lands at a switch point inside the critical
/// section (a blocking call made while holding the guard), which is routine cancellation
/// in gevent-style code; poisoning on it would make every mutex held across a blocking
/// call unusable after an ordinary timeout. The guard cannot tell a kill from a user
/// panic (both unwind with `std::thread::panicking()` true), so it treats them alike:
/// like `parking_lot`, the data is left as the unwinding code left it. Code that must
/// stay consistent across a cancellation keeps its invariants at every blocking call.
///
/// # Python equivalent
///
/// None directly: Python's `with lock:` over shared data. The `_thread`/`gevent.lock`
/// locks are in [`Lock`](super::Lock) and friends.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use greenthread::sync::Mutex;
///
/// let total = Arc::new(Mutex::new(0u32));
/// let workers: Vec<_> = (0..4)
///     .map(|_| {
///         let total = Arc::clone(&total);
///         greenthread::spawn(move || {
///             for _ in 0..10 {
///                 let mut t = total.lock();
///                 let seen = *t;
///                 greenthread::yield_now(); // others run, but cannot enter
///                 *t = seen + 1;
///             }
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert_eq!(*total.lock(), 40);
/// ```
///
/// The guard is neither `Send` (as `std`'s) nor `Sync` unless `T` is:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// let m = greenthread::sync::Mutex::new(1);
/// send(m.lock());
/// ```
///
/// Invariant in `T`, as `std::sync::Mutex`:
///
/// ```compile_fail
/// use greenthread::sync::Mutex;
/// fn shorten<'a>(m: Mutex<&'static str>) -> Mutex<&'a str> {
///     m
/// }
/// ```
pub struct Mutex<T: ?Sized> {
    sem: RawSem,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one holder at a time, from any OS thread,
// so `T` must be `Send` (as for `std::sync::Mutex`); `RawSem` is `Send + Sync`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: a `&Mutex<T>` only gives `&mut T` to the single holder of the semaphore's one
// permit (a permit is taken with Acquire and given back with Release, so accesses of
// successive holders are ordered); `T: Send` because the holder may be on any OS thread.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex that may be shared with other OS threads (its waits are never
    /// reported as deadlocks). `const`: usable as a `static`.
    ///
    /// ```
    /// static COUNT: greenthread::sync::Mutex<u32> = greenthread::sync::Mutex::new(0);
    /// *COUNT.lock() += 1;
    /// assert_eq!(*COUNT.lock(), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            sem: RawSem::new(1, "Mutex", false),
            data: UnsafeCell::new(value),
        }
    }

    /// A mutex for the green threads of this OS thread only (see [`Local`]): a deadlock
    /// among its waiters is reported (the blocked `lock` panics with the report).
    ///
    /// ```
    /// let m = greenthread::sync::Mutex::new_local(5);
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub const fn new_local(value: T) -> Local<Mutex<T>> {
        Local::wrap(Mutex {
            sem: RawSem::new(1, "Mutex", true),
            data: UnsafeCell::new(value),
        })
    }

    /// Consumes the mutex, returning the data.
    ///
    /// ```
    /// assert_eq!(greenthread::sync::Mutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Locks, blocking the calling green thread until the lock is handed to it (first
    /// come, first served).
    ///
    /// # Panics
    /// On a deadlock report (local mutexes only), or if the OS thread is panicking and the
    /// lock is held elsewhere (the hub does not switch then). A kill or a
    /// [`Timeout`](crate::timeout::Timeout) while waiting unwinds out of `lock` holding
    /// nothing.
    ///
    /// ```
    /// let m = greenthread::sync::Mutex::new(vec![1]);
    /// m.lock().push(2);
    /// assert_eq!(*m.lock(), [1, 2]);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if let Err(e) = self.sem.acquire(None) {
            blocking_failed("Mutex::lock", e);
        }
        self.guard()
    }

    /// Locks if the lock is free and nobody waits; never blocks, never yields (as
    /// `std`).
    ///
    /// ```
    /// let m = greenthread::sync::Mutex::new(0);
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.sem.try_acquire().then(|| self.guard())
    }

    /// Locks, waiting at most `timeout`; `None` if it timed out.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let m = greenthread::sync::Mutex::new(0);
    /// let _g = m.lock();
    /// assert!(m.lock_timeout(Duration::from_millis(1)).is_none());
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        match self.sem.acquire(timed_deadline(timeout)) {
            Ok(true) => Some(self.guard()),
            Ok(false) => None,
            Err(crate::sched::ParkError::Deadlock(r)) => {
                blocking_failed("Mutex::lock_timeout", crate::sched::ParkError::Deadlock(r))
            }
            Err(_) => None,
        }
    }

    /// Whether the mutex is held now (a snapshot).
    ///
    /// ```
    /// let m = greenthread::sync::Mutex::new(());
    /// let g = m.lock();
    /// assert!(m.is_locked());
    /// drop(g);
    /// assert!(!m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.sem.count() == 0
    }

    /// The data, through exclusive access (no locking needed).
    ///
    /// ```
    /// let mut m = greenthread::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// The RAII guard of a locked [`Mutex`]: dereferences to the data, unlocks when dropped
/// (handing the lock to the oldest waiter). Not `Send` (as `std`'s).
///
/// ```
/// let m = greenthread::sync::Mutex::new(String::new());
/// {
///     let mut g = m.lock();
///     g.push_str("hi");
/// } // unlocked here
/// assert_eq!(*m.lock(), "hi");
/// ```
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a `&MutexGuard` only gives `&T`, so sharing it is sharing `&T`: needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for [`Condvar`](super::Condvar)).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }

    /// Gives the lock up without running `Drop` twice: the caller unlocks.
    pub(crate) fn unlock_forget(self) -> &'a Mutex<T> {
        let m = self.mutex;
        core::mem::forget(self);
        m.release();
        m
    }
}

impl<T: ?Sized> Mutex<T> {
    fn release(&self) {
        // We hold the one permit, so the count is 0 and the bound 1 is not reached.
        let released = self.sem.release(1);
        debug_assert!(released, "Mutex released while not held");
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while its holder owns the mutex's one permit, so
        // no other `&mut T` exists; the permit was taken with Acquire.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as `deref`, and `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.release();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
