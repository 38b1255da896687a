//! The Python-compatibility surface: which Python names greenthread implements, and where.
//!
//! - [`thread`] mirrors `_thread` (Python 3), `thread` (Python 2.x) and
//!   `gevent.thread`.
//! - The crate root mirrors `eventlet.greenthread` ([`spawn`](crate::spawn),
//!   [`GreenThread`](crate::GreenThread), ...).
//! - [`sync`](crate::sync) mirrors `gevent.lock`, and with [`queue`](crate::queue),
//!   [`channel`](crate::channel), [`pool`](crate::pool), [`timeout`](crate::timeout) and
//!   [`select`](crate::select), `gevent.event`, `gevent.queue`, `gevent.pool`,
//!   `gevent.timeout`, `gevent.wait`, `eventlet.event`, `eventlet.queue`,
//!   `eventlet.greenpool`, `eventlet.timeout`; [`gevent`] and [`eventlet`] add the
//!   Python method names that have no Rust-shaped spelling.
//!
//! [`IMPLEMENTS`] lists every name of those modules' documentation (in the spirit of
//! gevent's `__implements__`), with the Rust item that implements it; `docs/PYTHON_API.md`
//! is the same map with the differences spelled out, and a porting guide. The test
//! `tests/facade_manifest.rs` refers to every Rust item, so a missing one fails to compile,
//! and checks that every name in the seed documents appears here.

pub mod eventlet;
pub mod gevent;
pub mod thread;

/// One Python name and the Rust item that implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// The Python name, qualified by its module (`_thread.start_new_thread`,
    /// `gevent.lock.Semaphore.rawlink`, ...).
    pub python: &'static str,
    /// The Rust path (`greenthread::thread::start_new_thread`, ...).
    pub rust: &'static str,
    /// How they differ, in a few words ("" where they do not).
    pub differences: &'static str,
}

const fn m(python: &'static str, rust: &'static str, differences: &'static str) -> Mapping {
    Mapping {
        python,
        rust,
        differences,
    }
}

/// Every Python name greenthread implements, with its Rust item.
///
/// ```
/// use greenthread::facade::IMPLEMENTS;
///
/// let m = IMPLEMENTS.iter().find(|m| m.python == "_thread.allocate_lock").unwrap();
/// assert_eq!(m.rust, "greenthread::thread::allocate_lock");
/// ```
pub const IMPLEMENTS: &[Mapping] = &[
    // ---- _thread (Python 3) -----------------------------------------------------------
    m(
        "_thread.error",
        "greenthread::thread::error",
        "a Rust enum (= greenthread::Error); python_exception() names RuntimeError/ValueError/OverflowError",
    ),
    m(
        "_thread.LockType",
        "greenthread::thread::LockType",
        "= greenthread::sync::Lock",
    ),
    m(
        "_thread.start_new_thread",
        "greenthread::thread::start_new_thread",
        "arguments are captured by the closure; returns Result",
    ),
    m(
        "_thread.interrupt_main",
        "greenthread::thread::interrupt_main",
        "handlers set with set_interrupt_handler; delivered at main's next switch point",
    ),
    m(
        "_thread.exit",
        "greenthread::thread::exit",
        "unwinds with a private payload (SystemExit)",
    ),
    m(
        "_thread.allocate_lock",
        "greenthread::thread::allocate_lock",
        "",
    ),
    m(
        "_thread.get_ident",
        "greenthread::thread::get_ident",
        "identifies the green thread; never recycled",
    ),
    m(
        "_thread.get_native_id",
        "greenthread::thread::get_native_id",
        "shared by the green threads of one OS thread",
    ),
    m(
        "_thread.stack_size",
        "greenthread::thread::stack_size",
        "Option<usize> for the optional argument; get_stack_size() reads without resetting",
    ),
    m(
        "_thread.TIMEOUT_MAX",
        "greenthread::thread::TIMEOUT_MAX",
        "",
    ),
    m(
        "_thread.lock.acquire",
        "greenthread::sync::Lock::acquire_with",
        "acquire_with(blocking, timeout: Option<f64>) -> Result<bool, AcquireError>; acquire()/try_acquire()/acquire_timeout() are the Rust forms",
    ),
    m(
        "_thread.lock.release",
        "greenthread::sync::Lock::release",
        "Result: Err(Error::ReleaseUnlocked)",
    ),
    m("_thread.lock.locked", "greenthread::sync::Lock::locked", ""),
    // ---- thread (Python 2.x) ----------------------------------------------------------
    m(
        "thread.error",
        "greenthread::thread::error",
        "see _thread.error",
    ),
    m(
        "thread.LockType",
        "greenthread::thread::LockType",
        "see _thread.LockType",
    ),
    m(
        "thread.start_new_thread",
        "greenthread::thread::start_new_thread",
        "see _thread.start_new_thread",
    ),
    m(
        "thread.start_new",
        "greenthread::thread::start_new",
        "deprecated synonym",
    ),
    m(
        "thread.exit",
        "greenthread::thread::exit",
        "see _thread.exit",
    ),
    m(
        "thread.exit_thread",
        "greenthread::thread::exit_thread",
        "deprecated synonym",
    ),
    m(
        "thread.allocate_lock",
        "greenthread::thread::allocate_lock",
        "",
    ),
    m(
        "thread.allocate",
        "greenthread::thread::allocate",
        "deprecated synonym",
    ),
    m(
        "thread.get_ident",
        "greenthread::thread::get_ident",
        "see _thread.get_ident",
    ),
    m(
        "thread.lock.acquire",
        "greenthread::sync::Lock::acquire_with",
        "2.x's acquire([waitflag]) is acquire_with(waitflag, None)",
    ),
    m(
        "thread.lock.release",
        "greenthread::sync::Lock::release",
        "",
    ),
    m(
        "thread.lock.locked",
        "greenthread::sync::Lock::locked",
        "bool rather than 1/0",
    ),
    // ---- gevent.thread ------------------------------------------------------------------
    m(
        "gevent.thread.error",
        "greenthread::thread::error",
        "see _thread.error",
    ),
    m(
        "gevent.thread.LockType",
        "greenthread::thread::LockType",
        "gevent's is a BoundedSemaphore(1); ours is a Lock: releasing it unlocked is Error::ReleaseUnlocked (RuntimeError) rather than ValueError",
    ),
    m(
        "gevent.thread.LockType.acquire",
        "greenthread::sync::Lock::acquire_with",
        "a timeout with blocking=false is an error (gevent ignores it)",
    ),
    m(
        "gevent.thread.allocate_lock",
        "greenthread::thread::allocate_lock",
        "",
    ),
    m(
        "gevent.thread.allocate",
        "greenthread::thread::allocate",
        "deprecated synonym",
    ),
    m("gevent.thread.exit", "greenthread::thread::exit", ""),
    m(
        "gevent.thread.exit_thread",
        "greenthread::thread::exit_thread",
        "deprecated synonym",
    ),
    m(
        "gevent.thread.get_ident",
        "greenthread::thread::get_ident",
        "",
    ),
    m(
        "gevent.thread.get_native_id",
        "greenthread::thread::get_native_id",
        "",
    ),
    m(
        "gevent.thread.interrupt_main",
        "greenthread::thread::interrupt_main",
        "the caller carries on (CPython's behaviour; gevent's caller dies first)",
    ),
    m(
        "gevent.thread.start_new_thread",
        "greenthread::thread::start_new_thread",
        "",
    ),
    m(
        "gevent.thread.start_new",
        "greenthread::thread::start_new",
        "deprecated synonym",
    ),
    m(
        "gevent.thread.stack_size",
        "greenthread::thread::stack_size",
        "applied (gevent ignores it)",
    ),
    // ---- eventlet.greenthread -------------------------------------------------------------
    m(
        "eventlet.greenthread.GreenThread",
        "greenthread::GreenThread",
        "!Send handle; T is the function's return type",
    ),
    m(
        "eventlet.greenthread.GreenThread.cancel",
        "greenthread::GreenThread::cancel",
        "returns whether it cancelled; throw_args are not supported",
    ),
    m(
        "eventlet.greenthread.GreenThread.kill",
        "greenthread::GreenThread::kill",
        "no throw_args: waiters see Exit::Killed",
    ),
    m(
        "eventlet.greenthread.GreenThread.link",
        "greenthread::GreenThread::link",
        "returns a LinkId; curried args are captured by the closure",
    ),
    m(
        "eventlet.greenthread.GreenThread.unlink",
        "greenthread::GreenThread::unlink",
        "takes the LinkId",
    ),
    m(
        "eventlet.greenthread.GreenThread.wait",
        "greenthread::GreenThread::wait",
        "returns Result<&T, WaitError>; join(self) moves the value out",
    ),
    m(
        "eventlet.greenthread.getcurrent",
        "greenthread::getcurrent",
        "a GreenHandle (id, name)",
    ),
    m(
        "eventlet.greenthread.kill",
        "greenthread::kill",
        "no throw_args",
    ),
    m(
        "eventlet.greenthread.sleep",
        "greenthread::sleep",
        "takes a Duration; sleep(ZERO) is a timer that lets due timers fire first, as eventlet's sleep(0) (yield_now is the clock-free yield)",
    ),
    m(
        "eventlet.greenthread.spawn",
        "greenthread::spawn",
        "Builder::spawn returns an error instead of panicking when no stack can be had",
    ),
    m(
        "eventlet.greenthread.spawn_after",
        "greenthread::spawn_after",
        "takes a Duration",
    ),
    m(
        "eventlet.greenthread.spawn_after_local",
        "greenthread::spawn_after_local",
        "takes a Duration",
    ),
    m(
        "eventlet.greenthread.spawn_n",
        "greenthread::spawn_n",
        "panics are reported on stderr",
    ),
    // ---- gevent.lock ------------------------------------------------------------------------
    m(
        "gevent.lock.Semaphore",
        "greenthread::sync::Semaphore",
        "strict FIFO hand-off (gevent lets a releaser barge)",
    ),
    m(
        "gevent.lock.Semaphore.acquire",
        "greenthread::sync::Semaphore::acquire_with",
        "acquire()/try_acquire()/acquire_timeout() are the Rust forms",
    ),
    m(
        "gevent.lock.Semaphore.locked",
        "greenthread::sync::Semaphore::locked",
        "",
    ),
    m(
        "gevent.lock.Semaphore.rawlink",
        "greenthread::sync::Semaphore::rawlink",
        "returns a LinkId",
    ),
    m(
        "gevent.lock.Semaphore.ready",
        "greenthread::sync::Semaphore::ready",
        "",
    ),
    m(
        "gevent.lock.Semaphore.release",
        "greenthread::sync::Semaphore::release",
        "Result for symmetry; never fails",
    ),
    m(
        "gevent.lock.Semaphore.unlink",
        "greenthread::sync::Semaphore::unlink",
        "takes the LinkId",
    ),
    m(
        "gevent.lock.Semaphore.wait",
        "greenthread::sync::Semaphore::wait",
        "Option<Duration> timeout",
    ),
    m(
        "gevent.lock.BoundedSemaphore",
        "greenthread::sync::BoundedSemaphore",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.acquire",
        "greenthread::sync::BoundedSemaphore::acquire_with",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.locked",
        "greenthread::sync::BoundedSemaphore::locked",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.rawlink",
        "greenthread::sync::BoundedSemaphore::rawlink",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.ready",
        "greenthread::sync::BoundedSemaphore::ready",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.release",
        "greenthread::sync::BoundedSemaphore::release",
        "Err(Error::TooManyReleases) is Python's ValueError",
    ),
    m(
        "gevent.lock.BoundedSemaphore.unlink",
        "greenthread::sync::BoundedSemaphore::unlink",
        "",
    ),
    m(
        "gevent.lock.BoundedSemaphore.wait",
        "greenthread::sync::BoundedSemaphore::wait",
        "",
    ),
    m(
        "gevent.lock.DummySemaphore",
        "greenthread::sync::DummySemaphore",
        "",
    ),
    m(
        "gevent.lock.DummySemaphore.acquire",
        "greenthread::sync::DummySemaphore::acquire_with",
        "still checks the arguments",
    ),
    m(
        "gevent.lock.DummySemaphore.locked",
        "greenthread::sync::DummySemaphore::locked",
        "",
    ),
    m(
        "gevent.lock.DummySemaphore.ready",
        "greenthread::sync::DummySemaphore::ready",
        "",
    ),
    m(
        "gevent.lock.DummySemaphore.release",
        "greenthread::sync::DummySemaphore::release",
        "",
    ),
    m(
        "gevent.lock.DummySemaphore.wait",
        "greenthread::sync::DummySemaphore::wait",
        "",
    ),
    m(
        "gevent.lock.RLock",
        "greenthread::sync::RLock",
        "owned by a green thread",
    ),
    m(
        "gevent.lock.RLock.acquire",
        "greenthread::sync::RLock::acquire_with",
        "",
    ),
    m(
        "gevent.lock.RLock.release",
        "greenthread::sync::RLock::release",
        "Err(Error::NotOwner) for a non-owner",
    ),
    // ---- communication: gevent.event, gevent.queue, gevent.pool, gevent.timeout, gevent.wait,
    // eventlet.greenpool, eventlet.queue, eventlet.event, eventlet.timeout ----------------
    m(
        "gevent.event.Event",
        "greenthread::sync::Event",
        "Send + Sync; Event::new_local() for deadlock reports",
    ),
    m(
        "gevent.event.Event.set",
        "greenthread::sync::Event::set",
        "",
    ),
    m(
        "gevent.event.Event.clear",
        "greenthread::sync::Event::clear",
        "",
    ),
    m(
        "gevent.event.Event.is_set",
        "greenthread::sync::Event::is_set",
        "",
    ),
    m(
        "gevent.event.Event.wait",
        "greenthread::sync::Event::wait_timeout",
        "Duration; wait() without limit, wait_with(Option<Duration>) returns errors",
    ),
    m(
        "gevent.event.Event.rawlink",
        "greenthread::sync::Event::rawlink",
        "the callback takes no argument",
    ),
    m(
        "gevent.event.Event.unlink",
        "greenthread::sync::Event::unlink",
        "takes the LinkId rawlink returned",
    ),
    m(
        "gevent.event.AsyncResult",
        "greenthread::sync::AsyncResult",
        "set once; the error is a type parameter",
    ),
    m(
        "gevent.event.AsyncResult.set",
        "greenthread::sync::AsyncResult::set",
        "a second set is Err(AlreadySet)",
    ),
    m(
        "gevent.event.AsyncResult.set_exception",
        "greenthread::facade::gevent::AsyncResultExt::set_exception",
        "= AsyncResult::set_error",
    ),
    m(
        "gevent.event.AsyncResult.get",
        "greenthread::sync::AsyncResult::get_timeout",
        "get() blocks without limit; errors are returned, not raised",
    ),
    m(
        "gevent.event.AsyncResult.get_nowait",
        "greenthread::facade::gevent::AsyncResultExt::get_nowait",
        "= AsyncResult::try_get",
    ),
    m(
        "gevent.event.AsyncResult.ready",
        "greenthread::sync::AsyncResult::ready",
        "",
    ),
    m(
        "gevent.event.AsyncResult.successful",
        "greenthread::sync::AsyncResult::successful",
        "",
    ),
    m(
        "gevent.event.AsyncResult.wait",
        "greenthread::sync::AsyncResult::wait_timeout",
        "returns whether it is set",
    ),
    m(
        "gevent.event.AsyncResult.value",
        "greenthread::sync::AsyncResult::value",
        "a method returning a clone",
    ),
    m(
        "gevent.event.AsyncResult.exception",
        "greenthread::facade::gevent::AsyncResultExt::exception",
        "= AsyncResult::error",
    ),
    m(
        "gevent.event.AsyncResult.rawlink",
        "greenthread::sync::AsyncResult::rawlink",
        "the callback takes no argument",
    ),
    m(
        "gevent.queue.Queue",
        "greenthread::queue::Queue",
        "Queue::new() is unbounded, Queue::bounded(n); strict FIFO hand-off",
    ),
    m(
        "gevent.queue.Queue.put",
        "greenthread::queue::Queue::put_timeout",
        "put() blocks without limit; Err(Full(item)) on timeout",
    ),
    m(
        "gevent.queue.Queue.get",
        "greenthread::queue::Queue::get_timeout",
        "get() blocks without limit; Err(Empty) on timeout",
    ),
    m(
        "gevent.queue.Queue.put_nowait",
        "greenthread::facade::gevent::QueueExt::put_nowait",
        "= Queue::try_put",
    ),
    m(
        "gevent.queue.Queue.get_nowait",
        "greenthread::facade::gevent::QueueExt::get_nowait",
        "= Queue::try_get",
    ),
    m(
        "gevent.queue.Queue.peek",
        "greenthread::queue::Queue::peek",
        "never blocks (no blocking peek); T: Clone",
    ),
    m(
        "gevent.queue.Queue.peek_nowait",
        "greenthread::facade::gevent::QueueExt::peek_nowait",
        "",
    ),
    m(
        "gevent.queue.Queue.qsize",
        "greenthread::facade::gevent::QueueExt::qsize",
        "= Queue::len",
    ),
    m(
        "gevent.queue.Queue.empty",
        "greenthread::facade::gevent::QueueExt::empty",
        "= Queue::is_empty",
    ),
    m(
        "gevent.queue.Queue.full",
        "greenthread::facade::gevent::QueueExt::full",
        "= Queue::is_full",
    ),
    m(
        "gevent.queue.Queue.maxsize",
        "greenthread::queue::Queue::maxsize",
        "a method; None when unbounded",
    ),
    m(
        "gevent.queue.Queue.__iter__",
        "greenthread::queue::Queue::iter",
        "never stops by itself (no StopIteration item); try_iter() drains",
    ),
    m(
        "gevent.queue.JoinableQueue",
        "greenthread::queue::JoinableQueue",
        "every Queue has task_done/join",
    ),
    m(
        "gevent.queue.JoinableQueue.task_done",
        "greenthread::queue::Queue::task_done",
        "too many calls: Err(TaskDoneError) (ValueError)",
    ),
    m(
        "gevent.queue.JoinableQueue.join",
        "greenthread::queue::Queue::join_timeout",
        "join() without limit",
    ),
    m(
        "gevent.queue.LifoQueue",
        "greenthread::queue::LifoQueue",
        "",
    ),
    m(
        "gevent.queue.PriorityQueue",
        "greenthread::queue::PriorityQueue",
        "T: Ord, smallest first",
    ),
    m(
        "gevent.queue.Channel",
        "greenthread::facade::gevent::channel",
        "= Queue::channel() (bound 0)",
    ),
    m(
        "gevent.queue.Full",
        "greenthread::queue::Full",
        "an error value carrying the item",
    ),
    m(
        "gevent.queue.Empty",
        "greenthread::queue::Empty",
        "an error value",
    ),
    m(
        "gevent.pool.Pool",
        "greenthread::pool::Pool",
        "Pool::new(NonZeroUsize), Pool::with_size(usize) -> Result",
    ),
    m(
        "gevent.pool.Pool.spawn",
        "greenthread::pool::Pool::spawn",
        "blocks while full, FIFO",
    ),
    m("gevent.pool.Pool.map", "greenthread::pool::Pool::map", ""),
    m(
        "gevent.pool.Pool.imap",
        "greenthread::pool::Pool::imap",
        "results in input order",
    ),
    m(
        "gevent.pool.Pool.imap_unordered",
        "greenthread::pool::Pool::imap_unordered",
        "",
    ),
    m(
        "gevent.pool.Pool.join",
        "greenthread::pool::Pool::join",
        "Option<Duration>; returns whether all finished",
    ),
    m(
        "gevent.pool.Pool.kill",
        "greenthread::pool::Pool::kill_all",
        "",
    ),
    m(
        "gevent.pool.Pool.free_count",
        "greenthread::facade::gevent::PoolExt::free_count",
        "= Pool::free",
    ),
    m(
        "gevent.pool.Pool.full",
        "greenthread::facade::gevent::PoolExt::full",
        "= Pool::is_full",
    ),
    m(
        "gevent.pool.Pool.wait_available",
        "greenthread::pool::Pool::wait_available",
        "",
    ),
    m(
        "gevent.pool.Group",
        "greenthread::facade::gevent::group",
        "= Pool::unbounded()",
    ),
    m(
        "gevent.hub.wait",
        "greenthread::select::wait",
        "returns indexes of the ready objects",
    ),
    m(
        "gevent.hub.iwait",
        "greenthread::select::iwait",
        "yields indexes",
    ),
    m(
        "gevent.greenlet.joinall",
        "greenthread::pool::join_all",
        "returns how many finished",
    ),
    m(
        "gevent.greenlet.killall",
        "greenthread::pool::kill_all",
        "takes GreenHandles",
    ),
    m(
        "gevent.greenlet.Greenlet.join",
        "greenthread::pool::join_timeout",
        "returns whether it finished",
    ),
    m(
        "gevent.timeout.Timeout",
        "greenthread::timeout::Timeout",
        "a guard; unwinds with Elapsed at a switch point, once",
    ),
    m(
        "gevent.timeout.Timeout.start_new",
        "greenthread::timeout::Timeout::start",
        "",
    ),
    m(
        "gevent.timeout.Timeout.cancel",
        "greenthread::timeout::Timeout::cancel",
        "dropping the guard also cancels",
    ),
    m(
        "gevent.timeout.with_timeout",
        "greenthread::timeout::with_timeout",
        "Result<T, Elapsed>",
    ),
    m(
        "eventlet.greenpool.GreenPool",
        "greenthread::facade::eventlet::GreenPool",
        "= Pool; size 0 is Err(ZeroSize) (ValueError)",
    ),
    m(
        "eventlet.greenpool.GreenPool.spawn_n",
        "greenthread::pool::Pool::spawn_n",
        "",
    ),
    m(
        "eventlet.greenpool.GreenPool.waitall",
        "greenthread::facade::gevent::PoolExt::waitall",
        "= Pool::wait_all",
    ),
    m(
        "eventlet.greenpool.GreenPool.starmap",
        "greenthread::pool::Pool::imap",
        "pass tuples and destructure in the closure",
    ),
    m(
        "eventlet.greenpool.GreenPool.resize",
        "greenthread::pool::Pool::try_resize",
        "0 is Err(ZeroSize); resize(NonZeroUsize) cannot fail",
    ),
    m(
        "eventlet.greenpool.GreenPool.running",
        "greenthread::pool::Pool::running",
        "",
    ),
    m(
        "eventlet.greenpool.GreenPool.free",
        "greenthread::pool::Pool::free",
        "usize::MAX when unbounded",
    ),
    m(
        "eventlet.greenpool.GreenPool.waiting",
        "greenthread::pool::Pool::waiting",
        "",
    ),
    m(
        "eventlet.queue.Queue",
        "greenthread::facade::eventlet::Queue",
        "= queue::Queue",
    ),
    m(
        "eventlet.queue.LightQueue",
        "greenthread::facade::eventlet::LightQueue",
        "= queue::Queue",
    ),
    m(
        "eventlet.queue.Queue.resize",
        "greenthread::queue::Queue::resize",
        "Option<usize>; None is unbounded",
    ),
    m(
        "eventlet.event.Event",
        "greenthread::facade::eventlet::Event",
        "= sync::Event (set may be called again, unlike eventlet's send)",
    ),
    m(
        "eventlet.timeout.Timeout",
        "greenthread::facade::eventlet::Timeout",
        "= timeout::Timeout",
    ),
    m(
        "eventlet.timeout.with_timeout",
        "greenthread::facade::eventlet::with_timeout",
        "= timeout::with_timeout",
    ),
    // ---- gevent.socket, gevent.threadpool (cooperative I/O) -----------------------------
    m(
        "gevent.socket.wait_read",
        "greenthread::net::wait_readable",
        "takes &impl AsRawFd (AsRawSocket on Windows) and Option<Duration>; TimedOut error instead of socket.timeout",
    ),
    m(
        "gevent.socket.wait_write",
        "greenthread::net::wait_writable",
        "as wait_readable",
    ),
    m(
        "gevent.socket.create_connection",
        "greenthread::net::TcpStream::connect",
        "no timeout/source_address arguments (connect_timeout for one address)",
    ),
    m(
        "gevent.socket.getaddrinfo",
        "greenthread::net::lookup_host",
        "returns Vec<SocketAddr>, no family/type/proto filters",
    ),
    m(
        "gevent.threadpool.ThreadPool.apply",
        "greenthread::spawn_blocking",
        "one global pool of 8 OS threads; a panic is resumed in the caller",
    ),
];
