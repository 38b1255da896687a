//! The Python-compatibility surface: which Python names greenthread implements, and where.
//!
//! - [`thread`] mirrors `_thread` (Python 3), `thread` (Python 2.x) and
//!   `gevent.thread`.
//! - The crate root mirrors `eventlet.greenthread` ([`spawn`](crate::spawn),
//!   [`GreenThread`](crate::GreenThread), ...).
//! - [`sync`](crate::sync) mirrors `gevent.lock`.
//!
//! [`IMPLEMENTS`] lists every name of those modules' documentation (in the spirit of
//! gevent's `__implements__`), with the Rust item that implements it; `docs/PYTHON_API.md`
//! is the same map with the differences spelled out, and a porting guide. The test
//! `tests/facade_manifest.rs` refers to every Rust item, so a missing one fails to compile,
//! and checks that every name in the seed documents appears here.

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
        "takes a Duration",
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
