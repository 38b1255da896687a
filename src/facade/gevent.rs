//! gevent-named thin aliases for the communication types (`gevent.event`,
//! `gevent.queue`, `gevent.pool`, `gevent.timeout`, `gevent.wait`/`iwait`,
//! `joinall`/`killall`). The Rust-shaped API lives in [`sync`](crate::sync),
//! [`queue`](crate::queue), [`pool`](crate::pool), [`timeout`](crate::timeout) and
//! [`select`](crate::select); this module only adds the Python spellings that have no
//! Rust-shaped name there, as extension traits and functions. `docs/PYTHON_API.md` maps
//! every name.
//!
//! ```
//! use greenthread::facade::gevent::QueueExt;
//! use greenthread::queue::Queue;
//!
//! let q = Queue::bounded(1);
//! q.put_nowait(1).unwrap();
//! assert!(q.full());
//! assert_eq!(q.qsize(), 1);
//! assert!(q.put_nowait(2).is_err()); // gevent raises queue.Full
//! assert_eq!(q.get_nowait(), Ok(1));
//! assert!(q.empty());
//! ```

pub use crate::pool::{Pool, join_all as joinall, kill_all as killall};
pub use crate::queue::{Empty, Full, JoinableQueue, LifoQueue, PriorityQueue, Queue};
pub use crate::select::{iwait, wait};
pub use crate::sync::{AsyncResult, Event};
pub use crate::timeout::{Timeout, with_timeout};

use crate::queue::Order;
use crate::sync::{AlreadySet, GetError};

/// gevent's `Channel()`: a rendezvous queue (= [`Queue::channel`]).
///
/// # Python equivalent
/// `gevent.queue.Channel()`.
///
/// ```
/// let ch = greenthread::facade::gevent::channel::<u8>();
/// assert!(ch.is_full()); // a put waits for a getter
/// ```
pub fn channel<T>() -> Queue<T> {
    Queue::channel()
}

/// gevent's `Group()`: a pool with no bound (= [`Pool::unbounded`]).
///
/// # Python equivalent
/// `gevent.pool.Group()`.
///
/// ```
/// let g = greenthread::facade::gevent::group();
/// assert_eq!(g.spawn(|| 1).join().unwrap(), 1);
/// ```
pub fn group() -> Pool {
    Pool::unbounded()
}

/// gevent's `Queue` method names.
///
/// # Python equivalent
/// `Queue.put_nowait`, `get_nowait`, `peek_nowait`, `qsize`, `empty`, `full`.
///
/// # Differences
/// Errors are values ([`Full`] / [`Empty`]), not exceptions.
pub trait QueueExt<T> {
    /// `put_nowait(item)` = [`Queue::try_put`].
    ///
    /// # Errors
    /// [`Full`] with the item.
    ///
    /// ```
    /// use greenthread::facade::gevent::{Full, QueueExt};
    /// let q = greenthread::queue::Queue::bounded(0);
    /// assert_eq!(q.put_nowait(1), Err(Full(1)));
    /// ```
    fn put_nowait(&self, item: T) -> Result<(), Full<T>>;
    /// `get_nowait()` = [`Queue::try_get`].
    ///
    /// # Errors
    /// [`Empty`].
    ///
    /// ```
    /// use greenthread::facade::gevent::{Empty, QueueExt};
    /// assert_eq!(greenthread::queue::Queue::<u8>::new().get_nowait(), Err(Empty));
    /// ```
    fn get_nowait(&self) -> Result<T, Empty>;
    /// `peek_nowait()` = [`Queue::peek`], with gevent's error.
    ///
    /// # Errors
    /// [`Empty`].
    ///
    /// ```
    /// use greenthread::facade::gevent::QueueExt;
    /// let q = greenthread::queue::Queue::new();
    /// q.put(1);
    /// assert_eq!(q.peek_nowait(), Ok(1));
    /// ```
    fn peek_nowait(&self) -> Result<T, Empty>
    where
        T: Clone;
    /// `qsize()` = [`Queue::len`].
    ///
    /// ```
    /// use greenthread::facade::gevent::QueueExt;
    /// assert_eq!(greenthread::queue::Queue::<u8>::new().qsize(), 0);
    /// ```
    fn qsize(&self) -> usize;
    /// `empty()` = [`Queue::is_empty`].
    ///
    /// ```
    /// use greenthread::facade::gevent::QueueExt;
    /// assert!(greenthread::queue::Queue::<u8>::new().empty());
    /// ```
    fn empty(&self) -> bool;
    /// `full()` = [`Queue::is_full`].
    ///
    /// ```
    /// use greenthread::facade::gevent::QueueExt;
    /// assert!(!greenthread::queue::Queue::<u8>::new().full());
    /// ```
    fn full(&self) -> bool;
}

impl<T, O: Order<T>> QueueExt<T> for Queue<T, O> {
    fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
        self.try_put(item)
    }
    fn get_nowait(&self) -> Result<T, Empty> {
        self.try_get()
    }
    fn peek_nowait(&self) -> Result<T, Empty>
    where
        T: Clone,
    {
        self.peek().ok_or(Empty)
    }
    fn qsize(&self) -> usize {
        self.len()
    }
    fn empty(&self) -> bool {
        self.is_empty()
    }
    fn full(&self) -> bool {
        self.is_full()
    }
}

/// gevent's `AsyncResult` method names.
///
/// # Python equivalent
/// `AsyncResult.set_exception`, `get_nowait`, `exception`.
///
/// # Differences
/// The "exception" is a value of the error type `E`.
pub trait AsyncResultExt<T, E> {
    /// `set_exception(e)` = [`AsyncResult::set_error`].
    ///
    /// # Errors
    /// [`AlreadySet`] if already set.
    ///
    /// ```
    /// use greenthread::facade::gevent::AsyncResultExt;
    /// let r = greenthread::sync::AsyncResult::<u8, &str>::new();
    /// r.set_exception("boom").unwrap();
    /// assert_eq!(r.exception(), Some("boom"));
    /// ```
    fn set_exception(&self, error: E) -> Result<(), AlreadySet<T, E>>;
    /// `get_nowait()` = [`AsyncResult::try_get`].
    ///
    /// # Errors
    /// [`GetError::Timeout`] if not set yet, [`GetError::Failed`] with the error.
    ///
    /// ```
    /// use greenthread::facade::gevent::AsyncResultExt;
    /// let r = greenthread::sync::AsyncResult::<u8>::new();
    /// assert!(r.get_nowait().is_err());
    /// ```
    fn get_nowait(&self) -> Result<T, GetError<E>>;
    /// `exception` = [`AsyncResult::error`].
    ///
    /// ```
    /// use greenthread::facade::gevent::AsyncResultExt;
    /// assert_eq!(greenthread::sync::AsyncResult::<u8, u8>::new().exception(), None);
    /// ```
    fn exception(&self) -> Option<E>;
}

impl<T: Clone, E: Clone> AsyncResultExt<T, E> for AsyncResult<T, E> {
    fn set_exception(&self, error: E) -> Result<(), AlreadySet<T, E>> {
        self.set_error(error)
    }
    fn get_nowait(&self) -> Result<T, GetError<E>> {
        self.try_get()
    }
    fn exception(&self) -> Option<E> {
        self.error()
    }
}

/// gevent's and eventlet's `Pool` method names.
///
/// # Python equivalent
/// gevent `Pool.free_count`, `full`; eventlet `GreenPool.waitall`.
pub trait PoolExt {
    /// `free_count()` = [`Pool::free`].
    ///
    /// ```
    /// use greenthread::facade::gevent::PoolExt;
    /// assert_eq!(greenthread::pool::Pool::with_size(2).unwrap().free_count(), 2);
    /// ```
    fn free_count(&self) -> usize;
    /// `full()` = [`Pool::is_full`].
    ///
    /// ```
    /// use greenthread::facade::gevent::PoolExt;
    /// assert!(!greenthread::pool::Pool::unbounded().full());
    /// ```
    fn full(&self) -> bool;
    /// `waitall()` = [`Pool::wait_all`].
    ///
    /// # Panics
    /// As [`Pool::wait_all`].
    ///
    /// ```
    /// use greenthread::facade::gevent::PoolExt;
    /// greenthread::pool::Pool::unbounded().waitall();
    /// ```
    fn waitall(&self);
}

impl PoolExt for Pool {
    fn free_count(&self) -> usize {
        self.free()
    }
    fn full(&self) -> bool {
        self.is_full()
    }
    fn waitall(&self) {
        self.wait_all();
    }
}
