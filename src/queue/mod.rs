//! Queues for green threads: [`Queue`] (FIFO), [`LifoQueue`], [`PriorityQueue`], with
//! `JoinableQueue`'s `task_done` / `join` on every one, and the rendezvous
//! [`Queue::channel`] (gevent's `Channel`, bound 0). gevent's `gevent.queue` and
//! eventlet's `eventlet.queue`, with Rust-shaped calls.
//!
//! Every queue is `Send + Sync` (for `T: Send`) and works across OS threads; blocked
//! getters and putters are served **first come, first served with direct hand-off**: a put
//! gives its item to the oldest waiting getter itself, and a get that frees a slot moves
//! the oldest waiting putter's item in, so nobody can barge ahead of a waiter and no
//! waiter starves. Blocking calls are killable and timeoutable; a waiter that leaves
//! (timeout, kill) takes its own item back and nothing is lost or duplicated.
//! `new_local`-style constructors make the one-OS-thread flavour ([`Local`]) whose
//! deadlocks are reported.
//!
//! | call | gevent / eventlet | blocks |
//! |---|---|---|
//! | [`put`](Queue::put) | `put(item)` | until there is room (bounded) |
//! | [`put_timeout`](Queue::put_timeout) | `put(item, timeout=t)` | at most `t`; `Err(Full(item))` |
//! | [`try_put`](Queue::try_put) | `put_nowait(item)` | never; `Err(Full(item))` |
//! | [`get`](Queue::get) | `get()` | until an item comes |
//! | [`get_timeout`](Queue::get_timeout) | `get(timeout=t)` | at most `t`; `Err(Empty)` |
//! | [`try_get`](Queue::try_get) | `get_nowait()` | never; `Err(Empty)` |
//! | [`peek`](Queue::peek) | `peek_nowait()` | never |
//! | [`len`](Queue::len), [`is_empty`](Queue::is_empty), [`is_full`](Queue::is_full) | `qsize()`, `empty()`, `full()` | never |
//! | [`task_done`](Queue::task_done), [`join`](Queue::join) | `JoinableQueue.task_done()`, `join()` | `join` until every item is done |
//!
//! ```
//! use std::sync::Arc;
//! use greenthread::queue::Queue;
//!
//! let q = Arc::new(Queue::bounded(2));
//! let producer = greenthread::spawn({
//!     let q = Arc::clone(&q);
//!     move || (0..5).for_each(|i| q.put(i)) // blocks while 2 are queued
//! });
//! let got: Vec<i32> = (0..5).map(|_| q.get()).collect();
//! producer.join().unwrap();
//! assert_eq!(got, [0, 1, 2, 3, 4]);
//! ```

mod core;

use ::core::cmp::Reverse;
use ::core::fmt;
use ::core::marker::PhantomData;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use crate::sched::ParkError;
use crate::sync::Local;

pub use self::core::Buffer;
pub(crate) use self::core::{Core, GetFail, PutFail};

/// `try_put` / `put_timeout` found no room: the item comes back (gevent raises
/// `queue.Full`).
///
/// ```
/// use greenthread::queue::{Full, Queue};
///
/// let q = Queue::bounded(1);
/// q.put(1);
/// assert_eq!(q.try_put(2), Err(Full(2)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// `try_get` / `get_timeout` found no item (gevent raises `queue.Empty`).
///
/// ```
/// use greenthread::queue::{Empty, Queue};
///
/// assert_eq!(Queue::<u8>::new().try_get(), Err(Empty));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is empty")
    }
}

impl std::error::Error for Empty {}

/// `task_done` was called more times than items were put (Python's `ValueError:
/// task_done() called too many times`).
///
/// ```
/// use greenthread::queue::{Queue, TaskDoneError};
///
/// let q = Queue::<u8>::new();
/// assert_eq!(q.task_done(), Err(TaskDoneError));
/// assert_eq!(TaskDoneError.to_string(), "task_done() called too many times");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TaskDoneError {}

/// Why a `*_with` call (every failure as a value) failed.
///
/// ```
/// use greenthread::queue::{Queue, QueueError};
///
/// let q = Queue::<u8>::new_local();
/// // Nobody else can put: the deadlock is reported instead of hanging.
/// assert!(matches!(q.get_with(None), Err(QueueError::Hub(_))));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum QueueError<T> {
    /// No room before the timeout (puts); the item comes back.
    Full(T),
    /// No item before the timeout (gets).
    Empty,
    /// The hub could not block the calling green thread (a deadlock report, for local
    /// queues; a call while the OS thread panics). For puts, the item is in
    /// [`QueueError::HubPut`].
    Hub(ParkError),
    /// As [`Hub`](QueueError::Hub), for a put: the error and the item.
    HubPut(ParkError, T),
}

impl<T> fmt::Display for QueueError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::Full(_) => f.write_str("the queue is full"),
            QueueError::Empty => f.write_str("the queue is empty"),
            QueueError::Hub(_) | QueueError::HubPut(..) => {
                f.write_str("the queue operation could not block")
            }
        }
    }
}

impl<T: fmt::Debug> std::error::Error for QueueError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            QueueError::Hub(e) | QueueError::HubPut(e, _) => Some(e),
            _ => None,
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The order a queue hands items out in: [`Fifo`], [`Lifo`] or [`Priority`]. Sealed.
pub trait Order<T>: sealed::Sealed {
    /// The buffer that implements the order.
    #[doc(hidden)]
    type Buf: Buffer<T>;
    #[doc(hidden)]
    const KIND: &'static str;
}

/// First in, first out ([`Queue`]).
#[derive(Debug, Clone, Copy)]
pub enum Fifo {}
/// Last in, first out ([`LifoQueue`]).
#[derive(Debug, Clone, Copy)]
pub enum Lifo {}
/// Smallest first ([`PriorityQueue`]; `T: Ord`, use `(priority, item)` tuples or
/// `Reverse` as in Python).
#[derive(Debug, Clone, Copy)]
pub enum Priority {}

impl sealed::Sealed for Fifo {}
impl sealed::Sealed for Lifo {}
impl sealed::Sealed for Priority {}

impl<T> Order<T> for Fifo {
    type Buf = VecDeque<T>;
    const KIND: &'static str = "Queue";
}
impl<T> Order<T> for Lifo {
    type Buf = Vec<T>;
    const KIND: &'static str = "LifoQueue";
}
impl<T: Ord> Order<T> for Priority {
    type Buf = BinaryHeap<Reverse<T>>;
    const KIND: &'static str = "PriorityQueue";
}

/// A last-in, first-out queue: gevent's `LifoQueue`. Dereferences to the generic
/// [`Queue<T, Lifo>`](Queue), which has every method.
///
/// ```
/// let q = greenthread::queue::LifoQueue::new();
/// q.put(1);
/// q.put(2);
/// assert_eq!(q.get(), 2);
/// ```
pub struct LifoQueue<T>(Queue<T, Lifo>);

impl<T> ::core::ops::Deref for LifoQueue<T> {
    type Target = Queue<T, Lifo>;
    fn deref(&self) -> &Queue<T, Lifo> {
        &self.0
    }
}

impl<T> fmt::Debug for LifoQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> Default for LifoQueue<T> {
    fn default() -> Self {
        LifoQueue::new()
    }
}

/// A queue that hands out the smallest item first: gevent's `PriorityQueue`.
/// Dereferences to the generic [`Queue<T, Priority>`](Queue), which has every method.
///
/// ```
/// let q = greenthread::queue::PriorityQueue::new();
/// q.put((2, "b"));
/// q.put((1, "a"));
/// assert_eq!(q.get(), (1, "a"));
/// ```
pub struct PriorityQueue<T: Ord>(Queue<T, Priority>);

impl<T: Ord> ::core::ops::Deref for PriorityQueue<T> {
    type Target = Queue<T, Priority>;
    fn deref(&self) -> &Queue<T, Priority> {
        &self.0
    }
}

impl<T: Ord> fmt::Debug for PriorityQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: Ord> Default for PriorityQueue<T> {
    fn default() -> Self {
        PriorityQueue::new()
    }
}

/// A queue whose `task_done` / `join` are used: gevent's `JoinableQueue`. Every
/// [`Queue`] counts unfinished items, so this is the same type.
///
/// ```
/// use std::sync::Arc;
///
/// let q = Arc::new(greenthread::queue::JoinableQueue::new());
/// let worker = greenthread::spawn({
///     let q = Arc::clone(&q);
///     move || loop {
///         let _job: u32 = q.get();
///         q.task_done().unwrap();
///     }
/// });
/// for j in 0..3 {
///     q.put(j);
/// }
/// q.join(); // every job is done
/// worker.kill();
/// ```
pub type JoinableQueue<T> = Queue<T, Fifo>;

/// A queue of items for green threads; see the [module docs](self). `O` is the order:
/// [`Fifo`] (the default), [`Lifo`] ([`LifoQueue`]), [`Priority`] ([`PriorityQueue`]).
///
/// # Python equivalent
///
/// `gevent.queue.Queue` / `JoinableQueue` / `LifoQueue` / `PriorityQueue` / `Channel`,
/// `eventlet.queue.Queue` / `LightQueue`.
///
/// # Differences
///
/// Rust-shaped calls (`put`, `put_timeout`, `try_put`, ... in the table of the module
/// docs); the Python names are in [`facade::gevent`](crate::facade::gevent).
/// `Queue::new()` is unbounded and `Queue::bounded(0)` is a rendezvous channel (gevent:
/// `Queue(0)` is unbounded and `Channel()` the rendezvous). Iteration
/// ([`iter`](Self::iter)) gets items forever (gevent stops at a `StopIteration` item; put
/// an `Option` and stop at `None`), [`try_iter`](Self::try_iter) only what is there.
/// Every queue has `task_done`/`join`. Waiters are served strictly in arrival order (gevent
/// may let a newcomer take an item a woken getter was about to take).
///
/// # Examples
///
/// ```
/// use greenthread::queue::{Empty, Queue};
///
/// let q = Queue::new();
/// q.put("a");
/// assert_eq!(q.len(), 1);
/// assert_eq!(q.get(), "a");
/// assert_eq!(q.try_get(), Err(Empty));
/// ```
///
/// `Send + Sync` exactly when `T: Send`; the local flavour is neither:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(greenthread::queue::Queue::<u8>::new_local());
/// ```
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(greenthread::queue::Queue::<std::rc::Rc<u8>>::new());
/// ```
///
/// Invariant in `T` (its items sit behind an internal lock, like `std::sync::Mutex<T>`):
///
/// ```compile_fail
/// use greenthread::queue::Queue;
/// fn shorten<'a>(q: Queue<&'static str>) -> Queue<&'a str> {
///     q
/// }
/// ```
pub struct Queue<T, O: Order<T> = Fifo> {
    core: Core<T, O::Buf>,
    _order: PhantomData<O>,
}

impl<T, O: Order<T>> fmt::Debug for Queue<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(O::KIND)
            .field("len", &self.len())
            .field("maxsize", &self.maxsize())
            .finish_non_exhaustive()
    }
}

impl<T, O: Order<T>> Default for Queue<T, O> {
    fn default() -> Self {
        Queue::make(None, false)
    }
}

impl<T, O: Order<T>> Drop for Queue<T, O> {
    fn drop(&mut self) {
        // Items are user code: dropped outside the state lock.
        let items = self.core.drain();
        drop(items);
    }
}

impl<T, O: Order<T>> Queue<T, O> {
    fn make(maxsize: Option<usize>, local: bool) -> Self {
        Queue {
            core: Core::new(maxsize, local, O::KIND),
            _order: PhantomData,
        }
    }

    /// Puts `item`, blocking the calling green thread while the queue is full (served in
    /// arrival order).
    ///
    /// # Panics
    /// On a deadlock report (local queues only), or while the OS thread panics and the
    /// queue is full. A kill while waiting unwinds (the item is dropped, it is not in the
    /// queue).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.get(), 1);
    /// ```
    pub fn put(&self, item: T) {
        if let Err(e) = self.core.put(item, true, None) {
            put_failed(e);
        }
    }

    /// Puts `item` if there is room now (or, at bound 0, a getter waits); never blocks
    /// (gevent's `put_nowait`).
    ///
    /// # Errors
    /// [`Full`] with the item.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::bounded(1);
    /// assert!(q.try_put(1).is_ok());
    /// assert_eq!(q.try_put(2).unwrap_err().0, 2);
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), Full<T>> {
        match self.core.put(item, false, None) {
            Ok(()) => Ok(()),
            Err(PutFail::Full(t) | PutFail::Disconnected(t) | PutFail::Hub(_, t)) => Err(Full(t)),
        }
    }

    /// Puts `item`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`Full`] with the item if there was no room in time (also while the OS thread
    /// panics and the queue is full).
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = greenthread::queue::Queue::bounded(1);
    /// q.put(1);
    /// assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        match self.put_with(item, Some(timeout)) {
            Ok(()) => Ok(()),
            Err(QueueError::Full(t) | QueueError::HubPut(ParkError::Panicking, t)) => Err(Full(t)),
            Err(QueueError::HubPut(e, _) | QueueError::Hub(e)) => {
                crate::sync::blocking_failed("Queue::put_timeout", e)
            }
            Err(QueueError::Empty) => unreachable!(),
        }
    }

    /// Puts `item`, waiting at most `timeout` (`None`: no limit); every failure as a value.
    ///
    /// # Errors
    /// [`QueueError::Full`] (timed out), [`QueueError::HubPut`] (deadlock of a local
    /// queue; called while panicking), each with the item.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::<u8>::bounded_local(0);
    /// // Nobody can ever take it: reported.
    /// assert!(q.put_with(1, None).is_err());
    /// ```
    pub fn put_with(&self, item: T, timeout: Option<Duration>) -> Result<(), QueueError<T>> {
        let deadline = timeout.and_then(crate::sync::deadline_after);
        match self.core.put(item, true, deadline) {
            Ok(()) => Ok(()),
            Err(PutFail::Full(t) | PutFail::Disconnected(t)) => Err(QueueError::Full(t)),
            Err(PutFail::Hub(e, t)) => Err(QueueError::HubPut(e, t)),
        }
    }

    /// Takes the next item, blocking the calling green thread until there is one (served
    /// in arrival order).
    ///
    /// # Panics
    /// On a deadlock report (local queues only), or while the OS thread panics and the
    /// queue is empty. A kill while waiting unwinds, taking nothing.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put('x');
    /// assert_eq!(q.get(), 'x');
    /// ```
    pub fn get(&self) -> T {
        match self.core.get(true, None) {
            Ok(t) => t,
            Err(GetFail::Hub(e)) => crate::sync::blocking_failed("Queue::get", e),
            Err(GetFail::Empty | GetFail::Disconnected) => unreachable!(),
        }
    }

    /// Takes an item if there is one now; never blocks (gevent's `get_nowait`).
    ///
    /// # Errors
    /// [`Empty`].
    ///
    /// ```
    /// let q = greenthread::queue::Queue::<u8>::new();
    /// assert!(q.try_get().is_err());
    /// ```
    pub fn try_get(&self) -> Result<T, Empty> {
        self.core.get(false, None).map_err(|_| Empty)
    }

    /// Takes an item, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Empty`] if none came in time (also while the OS thread panics).
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let q = greenthread::queue::Queue::<u8>::new();
    /// let t = Instant::now();
    /// assert!(q.get_timeout(Duration::from_millis(5)).is_err());
    /// assert!(t.elapsed() >= Duration::from_millis(5));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        match self.get_with(Some(timeout)) {
            Ok(t) => Ok(t),
            Err(QueueError::Empty | QueueError::Hub(ParkError::Panicking)) => Err(Empty),
            Err(QueueError::Hub(e) | QueueError::HubPut(e, _)) => {
                crate::sync::blocking_failed("Queue::get_timeout", e)
            }
            Err(QueueError::Full(_)) => unreachable!(),
        }
    }

    /// Takes an item, waiting at most `timeout` (`None`: no limit); every failure as a
    /// value.
    ///
    /// # Errors
    /// [`QueueError::Empty`] (timed out), [`QueueError::Hub`] (deadlock of a local queue;
    /// called while panicking).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::<u8>::new();
    /// assert!(q.get_with(Some(std::time::Duration::ZERO)).is_err());
    /// ```
    pub fn get_with(&self, timeout: Option<Duration>) -> Result<T, QueueError<T>> {
        let deadline = timeout.and_then(crate::sync::deadline_after);
        self.core.get(true, deadline).map_err(|e| match e {
            GetFail::Empty | GetFail::Disconnected => QueueError::Empty,
            GetFail::Hub(e) => QueueError::Hub(e),
        })
    }

    /// A clone of the item `get` would take now, without taking it (gevent's
    /// `peek_nowait`). `T::clone` runs under the queue's internal lock, so it must not
    /// block.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// assert_eq!(q.peek(), None);
    /// q.put(5);
    /// assert_eq!(q.peek(), Some(5));
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        self.core.peek()
    }

    /// Number of buffered items (gevent's `qsize`); items offered by putters blocked on a
    /// full (or rendezvous) queue are not counted.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(());
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        let s = self.core.lock();
        s.buf.len()
    }

    /// Whether no item is buffered (gevent's `empty`).
    ///
    /// ```
    /// assert!(greenthread::queue::Queue::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a put would block now (gevent's `full`); always true at bound 0.
    ///
    /// ```
    /// assert!(greenthread::queue::Queue::<u8>::channel().is_full());
    /// assert!(!greenthread::queue::Queue::<u8>::new().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        let s = self.core.lock();
        s.maxsize.is_some_and(|m| s.buf.len() >= m)
    }

    /// The bound, `None` if unbounded (gevent's `maxsize`).
    ///
    /// ```
    /// assert_eq!(greenthread::queue::Queue::<u8>::bounded(3).maxsize(), Some(3));
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        self.core.lock().maxsize
    }

    /// Changes the bound (eventlet's `resize`; `None`: unbounded). Growing it serves
    /// waiting putters whose items now fit; shrinking it keeps the items already in.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::bounded(1);
    /// q.put(1);
    /// q.resize(Some(2));
    /// assert!(q.try_put(2).is_ok());
    /// ```
    pub fn resize(&self, maxsize: Option<usize>) {
        self.core.resize(maxsize);
    }

    /// Marks one item put earlier as processed (`JoinableQueue.task_done`); when none is
    /// left unfinished, [`join`](Self::join) returns.
    ///
    /// # Errors
    /// [`TaskDoneError`] if called more times than items were put (Python's
    /// `ValueError`); nothing changes.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// assert!(q.task_done().is_ok());
    /// assert!(q.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.core.task_done() {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Number of items put and not yet marked done with [`task_done`](Self::task_done).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.core.lock().unfinished
    }

    /// Blocks until every item put has been marked done (`JoinableQueue.join`).
    ///
    /// # Panics
    /// On a deadlock report (local queues only) or while panicking with unfinished items.
    ///
    /// ```
    /// let q = greenthread::queue::Queue::<u8>::new();
    /// q.join(); // nothing was put
    /// ```
    pub fn join(&self) {
        if let Err(e) = self.core.join(None) {
            crate::sync::blocking_failed("Queue::join", e);
        }
    }

    /// [`join`](Self::join), at most `timeout`; whether everything is done.
    ///
    /// # Errors
    /// As [`Event::wait_with`](crate::sync::Event::wait_with).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.join_timeout(Some(std::time::Duration::ZERO)).unwrap(), false);
    /// ```
    pub fn join_timeout(&self, timeout: Option<Duration>) -> Result<bool, ParkError> {
        self.core
            .join(timeout.and_then(crate::sync::deadline_after))
    }

    /// An iterator that [`get`](Self::get)s forever (blocking between items).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// q.put(2);
    /// assert_eq!(q.iter().take(2).collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        ::core::iter::from_fn(move || Some(self.get()))
    }

    /// An iterator over the items available now (never blocks).
    ///
    /// ```
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// q.put(2);
    /// assert_eq!(q.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// ```
    pub fn try_iter(&self) -> impl Iterator<Item = T> + '_ {
        ::core::iter::from_fn(move || self.try_get().ok())
    }

    /// The engine, for wait-on-several.
    pub(crate) fn core(&self) -> &Core<T, O::Buf> {
        &self.core
    }
}

/// The constructors, one `impl` per order (so `Queue::new()` infers `Fifo`).
macro_rules! constructors {
    ($name:ident, $order:ty, $wrap:path, $($bound:tt)*) => {
        impl<T $($bound)*> $name<T> {
    /// An unbounded queue that may be shared with other OS threads (its waits are never
    /// reported as deadlocks).
    ///
    /// ```
    #[doc = concat!("let q = greenthread::queue::", stringify!($name), "::new();")]
    /// for i in 0..1000 {
    ///     q.put(i); // never blocks
    /// }
    /// assert_eq!(q.len(), 1000);
    /// ```
    pub fn new() -> Self {
        $wrap(Queue::make(None, false))
    }

    /// A queue holding at most `maxsize` items: `put` blocks while it is full. `maxsize`
    /// 0 is a rendezvous channel (see [`channel`](Self::channel)).
    ///
    /// ```
    #[doc = concat!("let q = greenthread::queue::", stringify!($name), "::bounded(1);")]
    /// q.put(1);
    /// assert!(q.is_full());
    /// ```
    pub fn bounded(maxsize: usize) -> Self {
        $wrap(Queue::make(Some(maxsize), false))
    }

    /// A rendezvous queue (bound 0, gevent's `Channel`): `put` blocks until a getter takes
    /// the item, `try_put` succeeds only if a getter is waiting.
    ///
    /// ```
    /// use std::sync::Arc;
    #[doc = concat!("use greenthread::queue::{Full, ", stringify!($name), "};")]
    ///
    #[doc = concat!("let ch = Arc::new(", stringify!($name), "::channel());")]
    /// assert_eq!(ch.try_put(1), Err(Full(1))); // nobody is getting
    /// let c = Arc::clone(&ch);
    /// let getter = greenthread::spawn(move || c.get());
    /// greenthread::yield_now(); // the getter waits
    /// ch.try_put(2).unwrap(); // handed straight to it
    /// assert_eq!(getter.join().unwrap(), 2);
    /// ```
    pub fn channel() -> Self {
        $wrap(Queue::make(Some(0), false))
    }

    /// An unbounded queue for the green threads of this OS thread only (see [`Local`]);
    /// deadlocks among its waiters are reported.
    ///
    /// ```
    #[doc = concat!("let q = greenthread::queue::", stringify!($name), "::<u8>::new_local();")]
    /// q.put(1);
    /// assert_eq!(q.get(), 1);
    /// ```
    pub fn new_local() -> Local<Self> {
        Local::wrap($wrap(Queue::make(None, true)))
    }

    /// A bounded queue for the green threads of this OS thread only (see [`Local`]).
    ///
    /// ```
    #[doc = concat!("let q = greenthread::queue::", stringify!($name), "::<u8>::bounded_local(1);")]
    /// q.put(1);
    /// assert!(q.is_full());
    /// ```
    pub fn bounded_local(maxsize: usize) -> Local<Self> {
        Local::wrap($wrap(Queue::make(Some(maxsize), true)))
    }
        }
    };
}

/// The identity: a FIFO queue is a plain [`Queue`].
#[inline]
fn fifo<T>(q: Queue<T, Fifo>) -> Queue<T, Fifo> {
    q
}

constructors!(Queue, Fifo, fifo,);
constructors!(LifoQueue, Lifo, LifoQueue,);
constructors!(PriorityQueue, Priority, PriorityQueue, : Ord);

#[cold]
fn put_failed<T>(e: PutFail<T>) -> ! {
    match e {
        PutFail::Hub(e, _) => crate::sync::blocking_failed("Queue::put", e),
        PutFail::Full(_) | PutFail::Disconnected(_) => unreachable!("a blocking put"),
    }
}
