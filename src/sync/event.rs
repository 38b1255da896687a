//! [`Event`] (gevent's `Event`) and [`AsyncResult`] (gevent's `AsyncResult`).

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sched::{ParkError, WaitOn, check_interrupt, is_kill_payload};

use super::links::LinkId;
use super::local::Local;
use super::waiters::{Parked, Waiters, expired, lock, park_on};
use super::{blocking_failed, deadline_after};

type Callback = Box<dyn FnOnce() + Send>;

/// Runs `calls` soon, oldest first, from a green thread spawned on this OS thread's hub:
/// never inside the call that made them due. A panic in one is reported on stderr and the
/// next ones still run.
pub(crate) fn run_links_soon(calls: Vec<(LinkId, Callback)>) {
    if calls.is_empty() {
        return;
    }
    crate::spawn_n(move || {
        for (_, call) in calls {
            if let Err(p) = catch_unwind(AssertUnwindSafe(call)) {
                if is_kill_payload(&*p) {
                    resume_unwind(p);
                }
                eprintln!("greenthread: a rawlink callback panicked");
            }
        }
    });
}

/// Blocks on `waiters` (picked by `select`) until `ready` holds, the deadline passes or
/// the hub refuses. `Ok(true)` once ready, `Ok(false)` on timeout. A kill unwinds after
/// leaving the queue.
pub(crate) fn wait_until<S>(
    state: &Mutex<S>,
    select: impl Fn(&mut S) -> &mut Waiters<()> + Copy,
    ready: impl Fn(&S) -> bool,
    what: WaitOn,
    deadline: Option<Instant>,
    external: bool,
) -> Result<bool, ParkError> {
    loop {
        let g = lock(state);
        if ready(&g) {
            return Ok(true);
        }
        if expired(deadline) {
            return Ok(false);
        }
        let mut back = None;
        match park_on(state, g, select, None, what, deadline, external, &mut back).0 {
            Parked::Woken => return Ok(true),
            Parked::TimedOut => return Ok(ready(&lock(state))),
            Parked::Failed(ParkError::Interrupted) => check_interrupt(),
            Parked::Failed(e) => return Err(e),
        }
    }
}

struct EventState {
    waiters: Waiters<()>,
    links: Vec<(LinkId, Callback)>,
}

/// A flag green threads can wait for: gevent's `gevent.event.Event`.
///
/// [`set`](Self::set) wakes every waiter (oldest first) and runs the
/// [`rawlink`](Self::rawlink) callbacks soon; [`clear`](Self::clear) resets the flag.
/// `Send + Sync`: any OS thread may set it; a green thread waiting in another OS thread's
/// hub is woken through that hub. Waits are killable and timeoutable; a waiter that leaves
/// takes nothing from anyone. [`Event::new_local`] makes the one-OS-thread flavour whose
/// deadlocks are reported.
///
/// # Python equivalent
///
/// `gevent.event.Event`: `set`, `clear`, `is_set`, `wait(timeout)`, `rawlink`, `unlink`.
///
/// # Differences
///
/// `wait` comes as [`wait`](Self::wait) (no limit), [`wait_timeout`](Self::wait_timeout)
/// (returns whether it was set, like gevent's `wait(timeout)`) and
/// [`wait_with`](Self::wait_with) (every failure as an error). A waiter woken by `set`
/// returns `true` even if `clear` ran before it resumed (gevent does the same). `rawlink`
/// callbacks take no argument (capture what you need); they run on a green thread spawned
/// on the setter's OS thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use greenthread::sync::Event;
///
/// let ev = Arc::new(Event::new());
/// let e = Arc::clone(&ev);
/// let waiter = greenthread::spawn(move || {
///     e.wait();
///     "woken"
/// });
/// greenthread::yield_now(); // the waiter blocks
/// ev.set();
/// assert_eq!(waiter.join().unwrap(), "woken");
/// ```
pub struct Event {
    flag: AtomicBool,
    state: Mutex<EventState>,
    local: bool,
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish_non_exhaustive()
    }
}

impl Event {
    const fn make(local: bool) -> Event {
        Event {
            flag: AtomicBool::new(false),
            state: Mutex::new(EventState {
                waiters: Waiters::new(),
                links: Vec::new(),
            }),
            local,
        }
    }

    /// A clear event that may be shared with other OS threads (its waits are never
    /// reported as deadlocks). `const`: usable as a `static`.
    ///
    /// ```
    /// static READY: greenthread::sync::Event = greenthread::sync::Event::new();
    /// assert!(!READY.is_set());
    /// ```
    pub const fn new() -> Event {
        Event::make(false)
    }

    /// A clear event for the green threads of this OS thread only (see [`Local`]):
    /// a deadlock among its waiters is reported. Share it between green threads with an
    /// `Rc`.
    ///
    /// ```
    /// use greenthread::sched::ParkError;
    /// use greenthread::sync::Event;
    ///
    /// let ev = Event::new_local();
    /// // Nobody else can set it: the wait reports the deadlock instead of hanging.
    /// assert!(matches!(ev.wait_with(None), Err(ParkError::Deadlock(_))));
    /// ```
    pub fn new_local() -> Local<Event> {
        Local::wrap(Event::make(true))
    }

    fn what(&self) -> WaitOn {
        WaitOn::Object {
            kind: "Event",
            addr: self as *const Event as usize,
        }
    }

    /// Whether the flag is set.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sets the flag and wakes every waiter; `rawlink` callbacks run soon after (on a green
    /// thread of this OS thread, never inside this call). Never blocks or switches.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// ev.set();
    /// ev.set(); // setting again is harmless
    /// assert!(ev.wait_timeout(std::time::Duration::ZERO));
    /// ```
    pub fn set(&self) {
        let mut g = lock(&self.state);
        // Release: what the setter wrote before `set` is visible to whoever sees the flag.
        self.flag.store(true, Ordering::Release);
        g.waiters.wake_all_plain();
        let links = core::mem::take(&mut g.links);
        drop(g);
        run_links_soon(links);
    }

    /// Clears the flag; later waits block until the next `set`.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        let _g = lock(&self.state);
        self.flag.store(false, Ordering::Release);
    }

    /// Blocks the calling green thread until the flag is set (returns at once if it is).
    ///
    /// # Panics
    /// If the hub reports a deadlock (local events only) or the OS thread is panicking
    /// and the flag is not set. A kill unwinds out of the wait.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// ev.set();
    /// ev.wait();
    /// ```
    pub fn wait(&self) {
        if let Err(e) = self.wait_deadline(None) {
            blocking_failed("Event::wait", e);
        }
    }

    /// Waits at most `timeout`; returns whether the flag was set (gevent's
    /// `wait(timeout)`).
    ///
    /// # Panics
    /// As [`wait`](Self::wait), for a deadlock (possible only with a timeout too long for
    /// the clock). While the OS thread panics it returns the flag without waiting.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let ev = greenthread::sync::Event::new();
    /// let t = Instant::now();
    /// assert!(!ev.wait_timeout(Duration::from_millis(10)));
    /// assert!(t.elapsed() >= Duration::from_millis(10));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        match self.wait_deadline(deadline_after(timeout)) {
            Ok(b) => b,
            Err(ParkError::Panicking) => self.is_set(),
            Err(e) => blocking_failed("Event::wait_timeout", e),
        }
    }

    /// [`wait`](Self::wait) with an optional timeout, every failure as a value: `Ok(true)`
    /// set, `Ok(false)` timed out.
    ///
    /// # Errors
    /// [`ParkError::Deadlock`] (local events: nothing can set it), [`ParkError::Panicking`].
    /// A kill unwinds instead.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// assert_eq!(ev.wait_with(Some(std::time::Duration::ZERO)).unwrap(), false);
    /// ```
    pub fn wait_with(&self, timeout: Option<Duration>) -> Result<bool, ParkError> {
        self.wait_deadline(timeout.and_then(deadline_after))
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<bool, ParkError> {
        if self.is_set() {
            return Ok(true);
        }
        let flag = &self.flag;
        wait_until(
            &self.state,
            |s: &mut EventState| &mut s.waiters,
            |_| flag.load(Ordering::Acquire),
            self.what(),
            deadline,
            !self.local,
        )
    }

    /// Registers `callback` to be called once, soon after the event is next set (or soon,
    /// if it is set now), on a green thread of the setting OS thread; never inside `set`.
    /// Unlinked before it is called.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let ev = greenthread::sync::Event::new();
    /// let called = Arc::new(AtomicBool::new(false));
    /// let c = Arc::clone(&called);
    /// ev.rawlink(move || c.store(true, Ordering::SeqCst));
    /// ev.set();
    /// assert!(!called.load(Ordering::SeqCst)); // never inside set()
    /// greenthread::yield_now();
    /// assert!(called.load(Ordering::SeqCst));
    /// ```
    pub fn rawlink(&self, callback: impl FnOnce() + Send + 'static) -> LinkId {
        let id = LinkId::next();
        let mut g = lock(&self.state);
        g.links.push((id, Box::new(callback)));
        if self.is_set() {
            let links = core::mem::take(&mut g.links);
            drop(g);
            run_links_soon(links);
        }
        id
    }

    /// Removes a callback registered with [`rawlink`](Self::rawlink); false if it was
    /// already called (or scheduled to be) or unknown.
    ///
    /// ```
    /// let ev = greenthread::sync::Event::new();
    /// let id = ev.rawlink(|| unreachable!());
    /// assert!(ev.unlink(id));
    /// assert!(!ev.unlink(id));
    /// ev.set();
    /// greenthread::yield_now();
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        let mut g = lock(&self.state);
        let Some(i) = g.links.iter().position(|(l, _)| *l == id) else {
            return false;
        };
        let link = g.links.remove(i);
        drop(g);
        drop(link);
        true
    }

    /// Registers a readiness watcher (`select`): woken by the next `set`.
    pub(crate) fn watch_waker(&self, waker: crate::sched::Waker) -> u64 {
        lock(&self.state).waiters.push(waker, None)
    }

    /// Removes a watcher of [`watch_waker`](Self::watch_waker).
    pub(crate) fn unwatch_seq(&self, seq: u64) {
        lock(&self.state).waiters.leave(seq);
    }

    /// Whether this event was made with [`new_local`](Self::new_local).
    ///
    /// ```
    /// assert!(!greenthread::sync::Event::new().is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        self.local
    }
}

/// Why [`AsyncResult::get_timeout`] (or [`try_get`](AsyncResult::try_get)) returned no
/// value.
///
/// ```
/// use greenthread::sync::{AsyncResult, GetError};
///
/// let r: AsyncResult<u8, String> = AsyncResult::new();
/// assert_eq!(r.try_get(), Err(GetError::Timeout));
/// r.set_error("boom".to_string()).unwrap();
/// assert_eq!(r.try_get(), Err(GetError::Failed("boom".to_string())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError<E> {
    /// The result was set with an error (gevent re-raises the exception).
    Failed(E),
    /// No result yet when the timeout ran out (gevent raises `Timeout`).
    Timeout,
}

impl<E: fmt::Display> fmt::Display for GetError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Failed(e) => write!(f, "the result is an error: {e}"),
            GetError::Timeout => f.write_str("timed out waiting for the result"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GetError<E> {}

/// [`AsyncResult::set`] or [`set_error`](AsyncResult::set_error) on a result that is
/// already set; gives the rejected outcome back.
///
/// ```
/// let r: greenthread::sync::AsyncResult<u8> = greenthread::sync::AsyncResult::new();
/// r.set(1).unwrap();
/// assert_eq!(r.set(2).unwrap_err().0, Ok(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadySet<T, E>(pub Result<T, E>);

impl<T, E> fmt::Display for AlreadySet<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the AsyncResult is already set")
    }
}

impl<T: fmt::Debug, E: fmt::Debug> std::error::Error for AlreadySet<T, E> {}

struct ResultState<T, E> {
    value: Option<Arc<Result<T, E>>>,
    waiters: Waiters<()>,
    links: Vec<(LinkId, Callback)>,
}

/// A value (or error) delivered once to every green thread that asks: gevent's
/// `gevent.event.AsyncResult`.
///
/// [`set`](Self::set) / [`set_error`](Self::set_error) store the outcome and wake every
/// waiter; [`get`](Self::get) blocks until then and returns a clone (`T: Clone`, or wrap
/// it in an `Arc`). `Send + Sync` when `T` and `E` are `Send + Sync`; killable and
/// timeoutable waits, FIFO wakes, cross-OS-thread use as [`Event`].
///
/// # Python equivalent
///
/// `gevent.event.AsyncResult`: `set`, `set_exception`, `get(block, timeout)`,
/// `get_nowait`, `ready`, `successful`, `wait`, `value`, `exception`, `rawlink`.
///
/// # Differences
///
/// The result is set **once**: a second `set` / `set_error` returns
/// [`AlreadySet`] (gevent overwrites). Errors are a type parameter `E` (default: a
/// `String`), returned as [`GetError::Failed`] rather than raised; a timeout is
/// [`GetError::Timeout`].
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use greenthread::sync::AsyncResult;
///
/// let r = Arc::new(AsyncResult::<u32>::new());
/// let readers: Vec<_> = (0..3)
///     .map(|_| {
///         let r = Arc::clone(&r);
///         greenthread::spawn(move || r.get().unwrap())
///     })
///     .collect();
/// greenthread::yield_now(); // all three wait
/// r.set(42).unwrap();
/// for g in readers {
///     assert_eq!(g.join().unwrap(), 42); // every waiter gets the value
/// }
/// ```
///
/// Invariant in `T` and `E`:
///
/// ```compile_fail
/// use greenthread::sync::AsyncResult;
/// fn shorten<'a>(r: AsyncResult<&'static str>) -> AsyncResult<&'a str> {
///     r
/// }
/// ```
pub struct AsyncResult<T, E = String> {
    state: Mutex<ResultState<T, E>>,
    ready: AtomicBool,
    local: bool,
}

impl<T, E> Default for AsyncResult<T, E> {
    fn default() -> Self {
        AsyncResult::new()
    }
}

impl<T, E> fmt::Debug for AsyncResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

impl<T, E> AsyncResult<T, E> {
    const fn make(local: bool) -> Self {
        AsyncResult {
            state: Mutex::new(ResultState {
                value: None,
                waiters: Waiters::new(),
                links: Vec::new(),
            }),
            ready: AtomicBool::new(false),
            local,
        }
    }

    /// An empty result that may be shared with other OS threads (waits never reported as
    /// deadlocks).
    ///
    /// ```
    /// let r: greenthread::sync::AsyncResult<()> = greenthread::sync::AsyncResult::new();
    /// assert!(!r.ready());
    /// ```
    pub const fn new() -> Self {
        AsyncResult::make(false)
    }

    /// An empty result for the green threads of this OS thread only (see [`Local`]);
    /// deadlocks among its waiters are reported.
    ///
    /// ```
    /// use greenthread::sched::ParkError;
    ///
    /// let r = greenthread::sync::AsyncResult::<u8>::new_local();
    /// assert!(matches!(r.wait_with(None), Err(ParkError::Deadlock(_))));
    /// ```
    pub fn new_local() -> Local<Self> {
        Local::wrap(AsyncResult::make(true))
    }

    fn what(&self) -> WaitOn {
        WaitOn::Object {
            kind: "AsyncResult",
            addr: self as *const Self as usize,
        }
    }

    /// Whether the result has been set (value or error).
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// r.set(1).unwrap();
    /// assert!(r.ready());
    /// ```
    #[inline]
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Whether the result has been set with a value (not an error).
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8, &str>::new();
    /// assert!(!r.successful());
    /// r.set_error("no").unwrap();
    /// assert!(!r.successful());
    /// ```
    pub fn successful(&self) -> bool {
        lock(&self.state).value.as_ref().is_some_and(|v| v.is_ok())
    }

    fn complete(&self, v: Result<T, E>) -> Result<(), AlreadySet<T, E>> {
        let mut g = lock(&self.state);
        if g.value.is_some() {
            drop(g);
            return Err(AlreadySet(v));
        }
        g.value = Some(Arc::new(v));
        // Release: the value is visible to whoever sees `ready`.
        self.ready.store(true, Ordering::Release);
        g.waiters.wake_all_plain();
        let links = core::mem::take(&mut g.links);
        drop(g);
        run_links_soon(links);
        Ok(())
    }

    /// Stores the value and wakes every waiter; never blocks or switches.
    ///
    /// # Errors
    /// [`AlreadySet`] (with `value`) if the result was set before.
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// r.set(7).unwrap();
    /// assert_eq!(r.get(), Ok(7));
    /// ```
    pub fn set(&self, value: T) -> Result<(), AlreadySet<T, E>> {
        self.complete(Ok(value))
    }

    /// Stores an error (gevent's `set_exception`) and wakes every waiter.
    ///
    /// # Errors
    /// [`AlreadySet`] (with the error) if the result was set before.
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8, String>::new();
    /// r.set_error("bad".into()).unwrap();
    /// assert_eq!(r.get(), Err("bad".to_string()));
    /// ```
    pub fn set_error(&self, error: E) -> Result<(), AlreadySet<T, E>> {
        self.complete(Err(error))
    }

    /// Blocks until the result is set or `timeout` passes; returns whether it is set.
    ///
    /// # Errors
    /// As [`Event::wait_with`].
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// assert!(!r.wait_with(Some(std::time::Duration::ZERO)).unwrap());
    /// ```
    pub fn wait_with(&self, timeout: Option<Duration>) -> Result<bool, ParkError> {
        self.wait_deadline(timeout.and_then(deadline_after))
    }

    /// Blocks until the result is set, at most `timeout`; returns whether it is set
    /// (gevent's `wait(timeout)`).
    ///
    /// # Panics
    /// As [`Event::wait_timeout`].
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// assert!(!r.wait_timeout(std::time::Duration::from_millis(1)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        match self.wait_deadline(deadline_after(timeout)) {
            Ok(b) => b,
            Err(ParkError::Panicking) => self.ready(),
            Err(e) => blocking_failed("AsyncResult::wait_timeout", e),
        }
    }

    fn wait_deadline(&self, deadline: Option<Instant>) -> Result<bool, ParkError> {
        if self.ready() {
            return Ok(true);
        }
        wait_until(
            &self.state,
            |s: &mut ResultState<T, E>| &mut s.waiters,
            |s| s.value.is_some(),
            self.what(),
            deadline,
            !self.local,
        )
    }

    /// Registers a readiness watcher (`select`): woken when the result is set.
    pub(crate) fn watch_waker(&self, waker: crate::sched::Waker) -> u64 {
        lock(&self.state).waiters.push(waker, None)
    }

    /// Removes a watcher of [`watch_waker`](Self::watch_waker).
    pub(crate) fn unwatch_seq(&self, seq: u64) {
        lock(&self.state).waiters.leave(seq);
    }

    /// Whether this result was made with [`new_local`](Self::new_local).
    pub(crate) fn is_local(&self) -> bool {
        self.local
    }

    fn outcome(&self) -> Option<Arc<Result<T, E>>> {
        lock(&self.state).value.clone()
    }

    /// Registers `callback` to run once, soon after the result is set (or soon, if it is
    /// set now), on a green thread; see [`Event::rawlink`].
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// let id = r.rawlink(|| ());
    /// assert!(r.unlink(id));
    /// ```
    pub fn rawlink(&self, callback: impl FnOnce() + Send + 'static) -> LinkId {
        let id = LinkId::next();
        let mut g = lock(&self.state);
        g.links.push((id, Box::new(callback)));
        if g.value.is_some() {
            let links = core::mem::take(&mut g.links);
            drop(g);
            run_links_soon(links);
        }
        id
    }

    /// Removes a callback registered with [`rawlink`](Self::rawlink); false if already
    /// called (or scheduled) or unknown.
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// let id = r.rawlink(|| unreachable!("unlinked first"));
    /// assert!(r.unlink(id));
    /// assert!(!r.unlink(id));
    /// r.set(1).unwrap();
    /// greenthread::yield_now();
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        let mut g = lock(&self.state);
        let Some(i) = g.links.iter().position(|(l, _)| *l == id) else {
            return false;
        };
        let link = g.links.remove(i);
        drop(g);
        drop(link);
        true
    }
}

impl<T: Clone, E: Clone> AsyncResult<T, E> {
    /// Blocks until the result is set and returns a clone of it.
    ///
    /// # Errors
    /// The error stored with [`set_error`](Self::set_error).
    ///
    /// # Panics
    /// As [`Event::wait`] (deadlock of a local result; a contended wait while panicking).
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<String>::new();
    /// r.set("hi".into()).unwrap();
    /// assert_eq!(r.get().unwrap(), "hi");
    /// ```
    pub fn get(&self) -> Result<T, E> {
        if let Err(e) = self.wait_deadline(None) {
            blocking_failed("AsyncResult::get", e);
        }
        match self.outcome() {
            Some(v) => (*v).clone(),
            None => unreachable!("woken before the result was set"),
        }
    }

    /// Waits at most `timeout` for the result.
    ///
    /// # Errors
    /// [`GetError::Timeout`] if not set in time (or the OS thread is panicking),
    /// [`GetError::Failed`] with the stored error.
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock).
    ///
    /// ```
    /// use greenthread::sync::{AsyncResult, GetError};
    ///
    /// let r = AsyncResult::<u8>::new();
    /// assert_eq!(r.get_timeout(std::time::Duration::from_millis(1)), Err(GetError::Timeout));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError<E>> {
        if !self.wait_timeout(timeout) {
            return Err(GetError::Timeout);
        }
        self.try_get()
    }

    /// The result if it is set, without blocking (gevent's `get_nowait`).
    ///
    /// # Errors
    /// [`GetError::Timeout`] if not set yet, [`GetError::Failed`] with the stored error.
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// r.set(3).unwrap();
    /// assert_eq!(r.try_get(), Ok(3));
    /// ```
    pub fn try_get(&self) -> Result<T, GetError<E>> {
        match self.outcome() {
            None => Err(GetError::Timeout),
            Some(v) => match &*v {
                Ok(t) => Ok(t.clone()),
                Err(e) => Err(GetError::Failed(e.clone())),
            },
        }
    }

    /// The value, if set with one (gevent's `value`).
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// assert_eq!(r.value(), None);
    /// r.set(5).unwrap();
    /// assert_eq!(r.value(), Some(5));
    /// ```
    pub fn value(&self) -> Option<T> {
        self.outcome()
            .and_then(|v| v.as_ref().as_ref().ok().cloned())
    }

    /// The error, if set with one (gevent's `exception`).
    ///
    /// ```
    /// let r = greenthread::sync::AsyncResult::<u8, u8>::new();
    /// r.set_error(9).unwrap();
    /// assert_eq!(r.error(), Some(9));
    /// ```
    pub fn error(&self) -> Option<E> {
        self.outcome()
            .and_then(|v| v.as_ref().as_ref().err().cloned())
    }
}
