//! Pools of green threads: [`Pool`] (eventlet's `GreenPool`, gevent's `Pool`; with no
//! bound, gevent's `Group`), and [`join_all`] / [`kill_all`] / [`join_timeout`] over
//! green threads (gevent's `joinall` / `killall`, `Greenlet.join(timeout)`).
//!
//! A pool bounds how many of its green threads run at once: [`Pool::spawn`] blocks the
//! caller while the pool is full, and waiting spawners get freed slots first come, first
//! served. Its green threads belong to the calling OS thread (green threads never move),
//! so a `Pool` is neither `Send` nor `Sync`, and its waits are covered by deadlock
//! reporting.
//!
//! ```
//! use std::num::NonZeroUsize;
//! use greenthread::pool::Pool;
//!
//! let pool = Pool::new(NonZeroUsize::new(2).unwrap());
//! let squares: Vec<u32> = pool.imap(|x: u32| x * x, 1..=4).collect();
//! assert_eq!(squares, [1, 4, 9, 16]);
//! ```

use core::fmt;
use core::num::NonZeroUsize;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::panic::resume_unwind;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::sched::{GreenHandle, GreenThread, ParkError, WaitOn, check_interrupt};
use crate::select::Waitable;
use crate::sync::{
    Parked, Waiters, blocking_failed, deadline_after, expired, lock_state as lock, park_on,
    wait_until,
};

/// A pool size of 0 (Python's `ValueError`): a pool needs at least one slot.
///
/// ```
/// use greenthread::pool::{Pool, ZeroSize};
///
/// assert_eq!(Pool::with_size(0).unwrap_err().to_string(), "a pool needs a size of at least 1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZeroSize;

impl fmt::Display for ZeroSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pool needs a size of at least 1")
    }
}

impl std::error::Error for ZeroSize {}

struct State {
    size: Option<usize>,
    /// Slots taken: running green threads, plus slots handed to woken spawners.
    running: usize,
    slot_waiters: Waiters<()>,
    idle: Waiters<()>,
}

struct Inner {
    state: Mutex<State>,
    /// Running members, for `kill_all`: a slab (index -> handle) with a free list, so
    /// adding and removing one is O(1) without hashing.
    members: RefCell<Members>,
}

#[derive(Default)]
struct Members {
    slots: Vec<Option<GreenHandle>>,
    free: Vec<usize>,
}

impl Members {
    fn insert(&mut self, h: GreenHandle) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(h);
                i
            }
            None => {
                self.slots.push(Some(h));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) -> Option<GreenHandle> {
        let h = self.slots.get_mut(i)?.take();
        if h.is_some() {
            self.free.push(i);
        }
        h
    }
}

impl Inner {
    fn what(&self) -> WaitOn {
        WaitOn::Object {
            kind: "Pool",
            addr: self as *const Inner as usize,
        }
    }

    /// Takes a slot, waiting (FIFO) until `deadline`.
    fn acquire(&self, deadline: Option<Instant>) -> Result<bool, ParkError> {
        loop {
            let mut s = lock(&self.state);
            if s.size.is_none_or(|n| s.running < n) && !s.slot_waiters.has_live() {
                s.running += 1;
                return Ok(true);
            }
            if expired(deadline) {
                return Ok(false);
            }
            let mut back = None;
            let (parked, _) = park_on(
                &self.state,
                s,
                |s: &mut State| &mut s.slot_waiters,
                None,
                self.what(),
                deadline,
                false,
                &mut back,
            );
            match parked {
                // The releaser handed its slot over (the count already includes it).
                Parked::Woken => return Ok(true),
                Parked::TimedOut => return Ok(false),
                Parked::Failed(ParkError::Interrupted) => check_interrupt(),
                Parked::Failed(e) => return Err(e),
            }
        }
    }

    /// Gives a slot back: to the oldest waiting spawner if the bound allows, else to the
    /// count.
    fn release(&self) {
        let mut s = lock(&self.state);
        if s.size.is_none_or(|n| s.running <= n) && s.slot_waiters.wake_one().is_some() {
            return;
        }
        s.running -= 1;
        if s.running == 0 {
            s.idle.wake_all_plain();
        }
    }

    fn finished(&self, slot: usize) {
        let gone = self.members.borrow_mut().remove(slot);
        drop(gone);
        self.release();
    }
}

/// A bounded (or unbounded) set of green threads: eventlet's `GreenPool`, gevent's
/// `Pool` and `Group`. See the [module docs](self).
///
/// # Python equivalent
///
/// `eventlet.greenpool.GreenPool(size)`: `spawn`, `spawn_n`, `waitall`, `imap`,
/// `starmap`, `resize`, `running`, `free`, `waiting`. `gevent.pool.Pool(size)` /
/// `Group()`: `spawn`, `map`, `imap`, `imap_unordered`, `join(timeout)`, `kill`, `full`,
/// `free_count`, `wait_available`.
///
/// # Differences
///
/// The size is a [`NonZeroUsize`] (eventlet accepts 0 and then blocks every spawn
/// forever; gevent rejects it); the Python-shaped `GreenPool(size)` in the facade returns
/// an error for 0. A panic in a job of [`imap`](Self::imap) / [`map`](Self::map) is
/// re-raised in the consumer (as Python re-raises). Jobs run on the calling OS thread.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::num::NonZeroUsize;
/// use std::rc::Rc;
/// use greenthread::pool::Pool;
///
/// let pool = Pool::new(NonZeroUsize::new(3).unwrap());
/// let peak = Rc::new(Cell::new(0));
/// for _ in 0..10 {
///     let (p, peak) = (pool.clone_counter(), Rc::clone(&peak));
///     pool.spawn_n(move || {
///         peak.set(peak.get().max(p()));
///         greenthread::yield_now();
///     });
/// }
/// pool.wait_all();
/// assert_eq!(peak.get(), 3); // never more than 3 at once
/// ```
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(greenthread::pool::Pool::unbounded());
/// ```
pub struct Pool {
    inner: Rc<Inner>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size())
            .field("running", &self.running())
            .finish_non_exhaustive()
    }
}

impl Pool {
    fn make(size: Option<usize>) -> Pool {
        Pool {
            inner: Rc::new(Inner {
                state: Mutex::new(State {
                    size,
                    running: 0,
                    slot_waiters: Waiters::new(),
                    idle: Waiters::new(),
                }),
                members: RefCell::new(Members::default()),
            }),
        }
    }

    /// A pool running at most `size` green threads at once.
    ///
    /// ```
    /// let p = greenthread::pool::Pool::new(std::num::NonZeroUsize::new(4).unwrap());
    /// assert_eq!(p.free(), 4);
    /// ```
    pub fn new(size: NonZeroUsize) -> Pool {
        Pool::make(Some(size.get()))
    }

    /// A pool of `size` from a plain number, the Python-shaped form: 0 is an error
    /// (eventlet accepts `GreenPool(0)` and then blocks every spawn forever).
    ///
    /// # Errors
    /// [`ZeroSize`] if `size` is 0.
    ///
    /// ```
    /// use greenthread::pool::{Pool, ZeroSize};
    ///
    /// assert_eq!(Pool::with_size(0).unwrap_err(), ZeroSize);
    /// assert_eq!(Pool::with_size(2).unwrap().size(), Some(2));
    /// ```
    pub fn with_size(size: usize) -> Result<Pool, ZeroSize> {
        NonZeroUsize::new(size).map(Pool::new).ok_or(ZeroSize)
    }

    /// [`resize`](Self::resize) from a plain number (eventlet's `resize(size)`).
    ///
    /// # Errors
    /// [`ZeroSize`] if `size` is 0; nothing changes.
    ///
    /// ```
    /// let p = greenthread::pool::Pool::with_size(1).unwrap();
    /// assert!(p.try_resize(0).is_err());
    /// assert_eq!(p.size(), Some(1));
    /// ```
    pub fn try_resize(&self, size: usize) -> Result<(), ZeroSize> {
        let n = NonZeroUsize::new(size).ok_or(ZeroSize)?;
        self.resize(n);
        Ok(())
    }

    /// A pool with no bound (gevent's `Group`): `spawn` never blocks.
    ///
    /// ```
    /// let g = greenthread::pool::Pool::unbounded();
    /// assert_eq!(g.size(), None);
    /// ```
    pub fn unbounded() -> Pool {
        Pool::make(None)
    }

    /// The bound (`None`: unbounded).
    ///
    /// ```
    /// assert_eq!(greenthread::pool::Pool::unbounded().size(), None);
    /// ```
    pub fn size(&self) -> Option<usize> {
        lock(&self.inner.state).size
    }

    /// Number of green threads running (eventlet's `running`), counting slots already
    /// handed to spawners about to spawn.
    ///
    /// ```
    /// let g = greenthread::pool::Pool::unbounded();
    /// g.spawn_n(|| ());
    /// assert_eq!(g.running(), 1);
    /// g.wait_all();
    /// assert_eq!(g.running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        lock(&self.inner.state).running
    }

    /// Free slots (eventlet's `free`, gevent's `free_count`); `usize::MAX` if unbounded.
    ///
    /// ```
    /// let p = greenthread::pool::Pool::new(std::num::NonZeroUsize::new(2).unwrap());
    /// p.spawn_n(|| ());
    /// assert_eq!(p.free(), 1);
    /// ```
    pub fn free(&self) -> usize {
        let s = lock(&self.inner.state);
        match s.size {
            None => usize::MAX,
            Some(n) => n.saturating_sub(s.running),
        }
    }

    /// Whether `spawn` would block now (gevent's `full`).
    ///
    /// ```
    /// let p = greenthread::pool::Pool::new(std::num::NonZeroUsize::new(1).unwrap());
    /// p.spawn_n(|| ());
    /// assert!(p.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.free() == 0
    }

    /// Number of green threads blocked in `spawn` waiting for a slot (eventlet's
    /// `waiting`).
    ///
    /// ```
    /// assert_eq!(greenthread::pool::Pool::unbounded().waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        lock(&self.inner.state).slot_waiters.live()
    }

    /// Changes the bound (eventlet's `resize`). Growing it hands the new slots to waiting
    /// spawners; shrinking it lets running green threads finish (no new ones start until
    /// the count is below the new bound).
    ///
    /// ```
    /// use std::num::NonZeroUsize;
    /// let p = greenthread::pool::Pool::new(NonZeroUsize::new(1).unwrap());
    /// p.resize(NonZeroUsize::new(3).unwrap());
    /// assert_eq!(p.free(), 3);
    /// ```
    pub fn resize(&self, size: NonZeroUsize) {
        let mut s = lock(&self.inner.state);
        s.size = Some(size.get());
        while s.running < size.get() && s.slot_waiters.wake_one().is_some() {
            s.running += 1;
        }
    }

    /// Blocks until a slot is free, without taking it (gevent's `wait_available`);
    /// `timeout` `None` waits without limit. Returns whether a slot is free.
    ///
    /// # Errors
    /// [`ParkError::Deadlock`] if nothing can ever free a slot; [`ParkError::Panicking`].
    ///
    /// ```
    /// let p = greenthread::pool::Pool::unbounded();
    /// assert!(p.wait_available(None).unwrap());
    /// ```
    pub fn wait_available(&self, timeout: Option<Duration>) -> Result<bool, ParkError> {
        let deadline = timeout.and_then(deadline_after);
        if !self.inner.acquire(deadline)? {
            return Ok(false);
        }
        self.inner.release();
        Ok(true)
    }

    fn adopt<T: 'static>(&self, gt: &GreenThread<T>) {
        let slot = self.inner.members.borrow_mut().insert(gt.handle());
        let inner = Rc::clone(&self.inner);
        gt.link(move |_| inner.finished(slot));
    }

    /// Spawns `f` in the pool, first blocking the caller (other green threads run) until
    /// a slot is free; spawners are served in arrival order.
    ///
    /// # Panics
    /// On a deadlock report (the pool is full and nothing can finish), if no stack can
    /// be had, or while the OS thread panics and the pool is full. A kill while waiting
    /// unwinds, spawning nothing.
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::unbounded();
    /// let gt = pool.spawn(|| 6 * 7);
    /// assert_eq!(gt.join().unwrap(), 42);
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> GreenThread<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if let Err(e) = self.inner.acquire(None) {
            blocking_failed("Pool::spawn", e);
        }
        let gt = match crate::Builder::new().spawn(f) {
            Ok(gt) => gt,
            Err(e) => {
                self.inner.release();
                panic!("greenthread: Pool::spawn: {e}");
            }
        };
        self.adopt(&gt);
        gt
    }

    /// [`spawn`](Self::spawn) without a handle (eventlet's `spawn_n`).
    ///
    /// # Panics
    /// As [`spawn`](Self::spawn).
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::unbounded();
    /// pool.spawn_n(|| ());
    /// pool.wait_all();
    /// ```
    pub fn spawn_n<F>(&self, f: F)
    where
        F: FnOnce() + 'static,
    {
        drop(self.spawn(f));
    }

    /// Blocks until every green thread of the pool has finished (eventlet's `waitall`).
    ///
    /// # Panics
    /// On a deadlock report, or while panicking with green threads running.
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::unbounded();
    /// pool.spawn_n(|| greenthread::sleep(std::time::Duration::from_millis(1)));
    /// pool.wait_all();
    /// assert_eq!(pool.running(), 0);
    /// ```
    pub fn wait_all(&self) {
        if let Err(e) = self.join(None) {
            blocking_failed("Pool::wait_all", e);
        }
    }

    /// Waits until every green thread has finished, at most `timeout` (gevent's
    /// `join(timeout)`); returns whether they all have.
    ///
    /// # Errors
    /// [`ParkError::Deadlock`], [`ParkError::Panicking`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = greenthread::pool::Pool::unbounded();
    /// pool.spawn_n(|| greenthread::sleep(Duration::from_secs(60)));
    /// assert_eq!(pool.join(Some(Duration::from_millis(1))).unwrap(), false);
    /// pool.kill_all();
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> Result<bool, ParkError> {
        let inner = &*self.inner;
        wait_until(
            &inner.state,
            |s: &mut State| &mut s.idle,
            |s| s.running == 0,
            inner.what(),
            timeout.and_then(deadline_after),
            false,
        )
    }

    /// Kills every green thread of the pool (gevent's `kill`); they unwind, their slots
    /// are freed.
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::unbounded();
    /// pool.spawn_n(|| greenthread::sleep(std::time::Duration::from_secs(60)));
    /// greenthread::yield_now();
    /// pool.kill_all();
    /// assert_eq!(pool.running(), 0);
    /// ```
    pub fn kill_all(&self) {
        let mut members: Vec<GreenHandle> = self
            .inner
            .members
            .borrow()
            .slots
            .iter()
            .flatten()
            .cloned()
            .collect();
        // Oldest first (ids increase with spawn order), so the order is deterministic.
        members.sort_by_key(GreenHandle::id);
        for h in members {
            h.kill();
        }
    }

    /// Runs `f` on each item in the pool and yields the results **in input order** as
    /// they become available (eventlet/gevent `imap`; use tuples for `starmap`). At most
    /// the pool's size run at once; the input is read lazily.
    ///
    /// # Panics
    /// The consumer re-raises a job's panic when it reaches its result; also as
    /// [`spawn`](Self::spawn).
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::new(std::num::NonZeroUsize::new(2).unwrap());
    /// let v: Vec<usize> = pool.imap(|s: &str| s.len(), ["a", "bb", "ccc"]).collect();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    pub fn imap<'p, I, F, T>(&'p self, f: F, items: I) -> Imap<'p, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + Clone + 'static,
        T: 'static,
    {
        Imap {
            pool: self,
            f,
            items: items.into_iter(),
            pending: VecDeque::new(),
        }
    }

    /// [`imap`](Self::imap), collected (gevent's `map`).
    ///
    /// # Panics
    /// As [`imap`](Self::imap).
    ///
    /// ```
    /// let pool = greenthread::pool::Pool::unbounded();
    /// assert_eq!(pool.map(|x: i32| -x, vec![1, 2]), [-1, -2]);
    /// ```
    pub fn map<I, F, T>(&self, f: F, items: I) -> Vec<T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + Clone + 'static,
        T: 'static,
    {
        self.imap(f, items).collect()
    }

    /// Like [`imap`](Self::imap), but yields results in the order they finish (gevent's
    /// `imap_unordered`).
    ///
    /// # Panics
    /// As [`imap`](Self::imap).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = greenthread::pool::Pool::unbounded();
    /// let v: Vec<u64> = pool
    ///     .imap_unordered(|ms: u64| { greenthread::sleep(Duration::from_millis(ms)); ms }, [100, 1])
    ///     .collect();
    /// assert_eq!(v, [1, 100]);
    /// ```
    pub fn imap_unordered<'p, I, F, T>(
        &'p self,
        f: F,
        items: I,
    ) -> ImapUnordered<'p, I::IntoIter, F, T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + Clone + 'static,
        T: 'static,
    {
        ImapUnordered {
            pool: self,
            f,
            items: items.into_iter(),
            done: Rc::new(crate::queue::Queue::new_local()),
            outstanding: 0,
        }
    }

    /// A closure returning the pool's current running count (for examples and tests).
    #[doc(hidden)]
    pub fn clone_counter(&self) -> impl Fn() -> usize + 'static {
        let inner = Rc::clone(&self.inner);
        move || lock(&inner.state).running
    }
}

/// The iterator of [`Pool::imap`].
pub struct Imap<'p, I, F, T> {
    pool: &'p Pool,
    f: F,
    items: I,
    pending: VecDeque<GreenThread<T>>,
}

impl<I, F, T> fmt::Debug for Imap<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl<I, F, T> Iterator for Imap<'_, I, F, T>
where
    I: Iterator,
    I::Item: 'static,
    F: Fn(I::Item) -> T + Clone + 'static,
    T: 'static,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        // Keep the pool busy: start jobs while slots are free (or nothing is pending).
        while self.pending.is_empty() || self.pool.free() > 0 {
            let Some(item) = self.items.next() else {
                break;
            };
            let f = self.f.clone();
            self.pending.push_back(self.pool.spawn(move || f(item)));
        }
        let gt = self.pending.pop_front()?;
        match gt.join() {
            Ok(v) => Some(v),
            Err(e) => match e.into_panic() {
                Ok(payload) => resume_unwind(payload),
                Err(e) => panic!("greenthread: Pool::imap: a job did not finish: {e}"),
            },
        }
    }
}

/// The iterator of [`Pool::imap_unordered`].
pub struct ImapUnordered<'p, I, F, T> {
    pool: &'p Pool,
    f: F,
    items: I,
    done: Rc<crate::sync::Local<crate::queue::Queue<std::thread::Result<T>>>>,
    outstanding: usize,
}

impl<I, F, T> fmt::Debug for ImapUnordered<'_, I, F, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("outstanding", &self.outstanding)
            .finish_non_exhaustive()
    }
}

impl<I, F, T> Iterator for ImapUnordered<'_, I, F, T>
where
    I: Iterator,
    I::Item: 'static,
    F: Fn(I::Item) -> T + Clone + 'static,
    T: 'static,
{
    type Item = T;

    fn next(&mut self) -> Option<T> {
        while self.outstanding == 0 || self.pool.free() > 0 {
            let Some(item) = self.items.next() else {
                break;
            };
            let (f, done) = (self.f.clone(), Rc::clone(&self.done));
            self.pool.spawn_n(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)));
                if let Err(p) = &r
                    && crate::sched::is_kill_payload(&**p)
                {
                    // Killed: nobody waits for a result that will not come.
                    done.put(r);
                    return;
                }
                done.put(r);
            });
            self.outstanding += 1;
        }
        if self.outstanding == 0 {
            return None;
        }
        self.outstanding -= 1;
        match self.done.get() {
            Ok(v) => Some(v),
            Err(p) => resume_unwind(p),
        }
    }
}

/// Waits until every green thread (or other [`Waitable`]) in `threads` has finished, at
/// most `timeout` (`None`: no limit); returns how many have (gevent's `joinall`). Their
/// outcomes stay in their handles.
///
/// # Errors
/// [`ParkError::Deadlock`] if they can never finish; [`ParkError::Panicking`].
///
/// ```
/// use std::time::Duration;
/// let a = greenthread::spawn(|| 1);
/// let b = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60)));
/// greenthread::yield_now(); // `a` finishes
/// let n = greenthread::pool::join_all(&[&a, &b], Some(Duration::from_millis(5)));
/// assert_eq!(n.unwrap(), 1);
/// b.kill();
/// ```
pub fn join_all(threads: &[&dyn Waitable], timeout: Option<Duration>) -> Result<usize, ParkError> {
    crate::select::wait(threads, timeout, None).map(|v| v.len())
}

/// Kills every green thread in `threads` (gevent's `killall`).
///
/// ```
/// let a = greenthread::spawn(|| greenthread::sleep(std::time::Duration::from_secs(60)));
/// greenthread::yield_now();
/// greenthread::pool::kill_all(&[a.handle()]);
/// assert!(a.is_finished());
/// ```
pub fn kill_all(threads: &[GreenHandle]) {
    for h in threads {
        h.kill();
    }
}

/// Waits for one green thread, at most `timeout` (gevent's `Greenlet.join(timeout)`);
/// returns whether it has finished. Its outcome stays in its handle.
///
/// # Errors
/// [`ParkError::Deadlock`] (it can never finish), [`ParkError::Panicking`].
///
/// ```
/// use std::time::Duration;
/// let gt = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60)));
/// assert!(!greenthread::pool::join_timeout(&gt, Duration::from_millis(1)).unwrap());
/// gt.kill();
/// ```
pub fn join_timeout<T: 'static>(
    thread: &GreenThread<T>,
    timeout: Duration,
) -> Result<bool, ParkError> {
    crate::select::wait(&[thread], Some(timeout), None).map(|v| v.len() == 1)
}
