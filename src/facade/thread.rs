//! `greenthread::thread`: Python's `_thread` module (and the 2.x `thread` module) on green
//! threads.
//!
//! Every item says which Python name it mirrors (`# Python equivalent`) and how it differs
//! (`# Differences`). The short version: arguments are captured by the closure instead of
//! passed as `args`/`kwargs`; exceptions are Rust errors (`Result`) or unwinds; a "thread" is
//! a green thread of the calling OS thread's hub.
//!
//! ```
//! use greenthread::thread;
//! use std::rc::Rc;
//! use std::cell::Cell;
//!
//! let lock = Rc::new(thread::allocate_lock());
//! let done = Rc::new(Cell::new(0));
//! for i in 0..3 {
//!     let (lock, done) = (lock.clone(), done.clone());
//!     thread::start_new_thread(move || {
//!         let _held = lock.lock();
//!         done.set(done.get() + i);
//!     })
//!     .unwrap();
//! }
//! greenthread::sleep(std::time::Duration::from_millis(1)); // let them run
//! assert_eq!(done.get(), 3);
//! assert!(!lock.locked());
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::sched::{self, Builder};
use crate::stack;

pub use crate::error::{TIMEOUT_MAX, Wait};

/// `_thread.error`: the error type of this module (Python's `RuntimeError`, plus the
/// `ValueError`/`OverflowError` argument errors, each naming its Python exception).
///
/// # Python equivalent
/// `_thread.error` (an alias of `RuntimeError` since Python 3.3).
///
/// # Differences
/// A Rust enum rather than an exception class; [`Error::python_exception`](crate::Error::python_exception)
/// names the Python exception of each variant.
#[allow(non_camel_case_types)]
pub type error = crate::Error;

/// `_thread.LockType`: the type of the locks [`allocate_lock`] returns.
///
/// # Python equivalent
/// `_thread.LockType` (and `gevent.thread.LockType`).
///
/// # Differences
/// See [`Lock`](crate::sync::Lock): `acquire_with(blocking, timeout)` is the Python-shaped
/// `acquire`, and RAII guards stand in for `with lock:`.
pub type LockType = crate::sync::Lock;

/// Starts a new green thread running `function` and returns its identifier (the value
/// [`get_ident`] returns inside it). The green thread is scheduled, not run: it starts when
/// the caller reaches a switch point (a sleep, yield, lock wait...).
///
/// When `function` returns, the green thread ends silently; when it calls [`exit`], it ends
/// silently after unwinding (destructors run); when it panics, the panic hook prints its
/// report (as Python prints the traceback) and only that green thread ends.
///
/// ```
/// use greenthread::thread;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let seen = Rc::new(Cell::new(0));
/// let s = seen.clone();
/// let ident = thread::start_new_thread(move || s.set(thread::get_ident())).unwrap();
/// assert_ne!(ident, thread::get_ident());
/// greenthread::yield_now();
/// assert_eq!(seen.get(), ident);
/// ```
///
/// # Errors
/// [`Error::CantStartThread`](crate::Error::CantStartThread) if no stack can be had (the
/// kernel's `vm.max_map_count` limit, out of memory). [`Builder::spawn`] reports the cause.
///
/// # Python equivalent
/// `_thread.start_new_thread(function, args[, kwargs])`; `thread.start_new` in 2.x.
///
/// # Differences
/// Arguments are captured by the closure. The green thread uses the size set by
/// [`stack_size`] (default: [`stack::DEFAULT_STACK_SIZE`]).
pub fn start_new_thread<F>(function: F) -> Result<u64, error>
where
    F: FnOnce() + 'static,
{
    let gt = Builder::new()
        .stack_size(configured_stack_size())
        .spawn(function)
        .map_err(|_| crate::Error::CantStartThread)?;
    // Dropping the handle detaches the green thread; its outcome has no observer, as in
    // Python, and its panic was already reported by the panic hook.
    Ok(gt.id())
}

/// Obsolete 2.x synonym of [`start_new_thread`].
///
/// ```
/// # #![allow(deprecated)]
/// let id = greenthread::thread::start_new(|| {}).unwrap();
/// assert_ne!(id, 0);
/// ```
///
/// # Errors
/// As [`start_new_thread`].
///
/// # Python equivalent
/// `thread.start_new` (Python 2.x).
#[deprecated(note = "obsolete synonym (Python 2.x); use start_new_thread")]
pub fn start_new<F>(function: F) -> Result<u64, error>
where
    F: FnOnce() + 'static,
{
    start_new_thread(function)
}

/// Returns a new, unlocked lock.
///
/// ```
/// let lock = greenthread::thread::allocate_lock();
/// assert!(!lock.locked());
/// assert!(lock.acquire_with(false, None).unwrap());
/// assert!(lock.locked());
/// lock.release().unwrap();
/// assert_eq!(lock.release().unwrap_err().to_string(), "release unlocked lock");
/// ```
///
/// # Python equivalent
/// `_thread.allocate_lock()`.
///
/// # Differences
/// None beyond [`LockType`]'s.
pub fn allocate_lock() -> LockType {
    LockType::new()
}

/// Obsolete 2.x synonym of [`allocate_lock`].
///
/// ```
/// # #![allow(deprecated)]
/// assert!(!greenthread::thread::allocate().locked());
/// ```
///
/// # Python equivalent
/// `thread.allocate` (Python 2.x).
#[deprecated(note = "obsolete synonym (Python 2.x); use allocate_lock")]
pub fn allocate() -> LockType {
    allocate_lock()
}

/// Ends the calling green thread silently: its stack unwinds (destructors run) with a
/// private payload that no panic hook reports; whoever waits on it sees it killed.
///
/// ```
/// use greenthread::thread;
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let after = Rc::new(Cell::new(false));
/// let a = after.clone();
/// thread::start_new_thread(move || {
///     if std::hint::black_box(true) {
///         thread::exit();
///     }
///     a.set(true);
/// })
/// .unwrap();
/// greenthread::yield_now();
/// assert!(!after.get());
/// ```
///
/// # Panics
/// It ends the green thread by unwinding. On the main green thread (the OS thread's own
/// stack) it unwinds that stack from here: like an uncaught `SystemExit`, the OS thread (or,
/// from `main`, the program) ends, without a panic message.
///
/// # Python equivalent
/// `_thread.exit()`, i.e. `raise SystemExit`.
///
/// # Differences
/// Code can catch the unwind with `catch_unwind`; if it swallows it, the hub raises it again
/// at the green thread's next switch point.
pub fn exit() -> ! {
    sched::exit()
}

/// Obsolete synonym of [`exit`].
///
/// ```no_run
/// # #![allow(deprecated)]
/// greenthread::thread::exit_thread();
/// ```
///
/// # Python equivalent
/// `thread.exit_thread` (Python 2.x, deprecated since 1.5.2).
#[deprecated(note = "obsolete synonym (Python 2.x); use exit")]
pub fn exit_thread() -> ! {
    exit()
}

/// The identifier of the calling green thread: nonzero, unique among the live green
/// threads of the process (ids are never reused while the process runs).
///
/// ```
/// let here = greenthread::thread::get_ident();
/// assert_ne!(here, 0);
/// assert_eq!(here, greenthread::current().id());
/// ```
///
/// # Python equivalent
/// `_thread.get_ident()`.
///
/// # Differences
/// Identifies the green thread, not the OS thread; not recycled.
pub fn get_ident() -> u64 {
    sched::current().id()
}

/// The operating system's id of the calling OS thread (shared by all green threads on it):
/// `gettid()` on Linux, `pthread_threadid_np` on macOS, `GetCurrentThreadId` on Windows.
///
/// ```
/// let os = greenthread::thread::get_native_id();
/// let same = greenthread::spawn(greenthread::thread::get_native_id).join().unwrap();
/// assert_eq!(os, same); // green threads share their OS thread
/// let other = std::thread::spawn(greenthread::thread::get_native_id).join().unwrap();
/// assert_ne!(os, other);
/// ```
///
/// # Python equivalent
/// `_thread.get_native_id()` (gevent and eventlet: the OS thread's id as well).
pub fn get_native_id() -> u64 {
    native_id()
}

cfg_if::cfg_if! {
    if #[cfg(any(target_os = "linux", target_os = "android"))] {
        fn native_id() -> u64 {
            // SAFETY: gettid has no preconditions.
            unsafe { libc::gettid() as u64 }
        }
    } else if #[cfg(target_vendor = "apple")] {
        fn native_id() -> u64 {
            let mut id: u64 = 0;
            // SAFETY: a null thread means the calling thread; `id` is a valid out pointer.
            unsafe { libc::pthread_threadid_np(0, &mut id) };
            id
        }
    } else if #[cfg(windows)] {
        fn native_id() -> u64 {
            // SAFETY: GetCurrentThreadId has no preconditions.
            unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() as u64 }
        }
    } else {
        fn native_id() -> u64 {
            // SAFETY: pthread_self has no preconditions.
            unsafe { libc::pthread_self() as u64 }
        }
    }
}

/// `SIGINT`'s number (2 on every supported platform), the default of [`interrupt_main`].
pub const SIGINT: i32 = 2;

/// What [`interrupt_main`] does for a signal number: set with [`set_interrupt_handler`].
#[derive(Debug, Clone, Copy)]
pub enum InterruptHandler {
    /// Python's default: for `SIGINT`, raise [`KeyboardInterrupt`] in the main green thread;
    /// for any other signal, do nothing (`SIG_DFL`).
    Default,
    /// Do nothing (`SIG_IGN`).
    Ignore,
    /// Call this function with the signal number on the main green thread, at its next
    /// switch point; the main green thread then carries on.
    Call(fn(i32)),
}

/// The payload the main green thread unwinds with when [`interrupt_main`] delivers `SIGINT`
/// under the default handler: catch it with `catch_unwind` and `downcast_ref`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyboardInterrupt {
    /// The simulated signal number.
    pub signum: i32,
}

static HANDLERS: Mutex<Option<HashMap<i32, InterruptHandler>>> = Mutex::new(None);

/// Sets what [`interrupt_main`] does for `signum` and returns the previous setting, like
/// Python's `signal.signal(signum, handler)` as seen by `_thread.interrupt_main`.
///
/// ```
/// use greenthread::thread::{self, InterruptHandler, SIGINT};
///
/// let prev = thread::set_interrupt_handler(SIGINT, InterruptHandler::Ignore);
/// assert!(matches!(prev, InterruptHandler::Default));
/// thread::interrupt_main(SIGINT); // ignored: nothing happens
/// greenthread::yield_now();
/// thread::set_interrupt_handler(SIGINT, prev);
/// ```
///
/// # Python equivalent
/// `signal.signal(signum, handler)` for the purpose of `_thread.interrupt_main` only: no OS
/// signal disposition changes.
pub fn set_interrupt_handler(signum: i32, handler: InterruptHandler) -> InterruptHandler {
    let mut map = HANDLERS.lock().unwrap_or_else(PoisonError::into_inner);
    map.get_or_insert_with(HashMap::new)
        .insert(signum, handler)
        .unwrap_or(InterruptHandler::Default)
}

fn handler_for(signum: i32) -> InterruptHandler {
    let map = HANDLERS.lock().unwrap_or_else(PoisonError::into_inner);
    map.as_ref()
        .and_then(|m| m.get(&signum).copied())
        .unwrap_or(InterruptHandler::Default)
}

/// Simulates `signum` arriving in the main green thread of the main OS thread: its handler
/// ([`set_interrupt_handler`]) runs there at its next switch point, or at once if it is
/// blocked (its blocking call ends). The caller carries on; this never switches.
///
/// With the default handler, `SIGINT` makes the main green thread unwind with the payload
/// [`KeyboardInterrupt`] (catchable with `catch_unwind`); other signals with the default
/// handler, and ignored ones, do nothing. Interrupts do not queue: one delivered while
/// another is still pending is dropped, as a second SIGINT before the first is handled.
///
/// ```
/// use greenthread::thread::{self, KeyboardInterrupt, SIGINT};
/// use std::panic::{AssertUnwindSafe, catch_unwind};
///
/// // Meaningful where this is the process's main thread (doc tests run on other threads).
/// if greenthread::sched::HubHandle::main()
///     .is_some_and(|m| m.id() == greenthread::sched::HubHandle::current().id())
/// {
///     thread::start_new_thread(|| thread::interrupt_main(SIGINT)).unwrap();
///     let caught = catch_unwind(AssertUnwindSafe(|| greenthread::sleep(std::time::Duration::from_secs(5))));
///     let payload = caught.unwrap_err();
///     assert_eq!(payload.downcast_ref::<KeyboardInterrupt>(), Some(&KeyboardInterrupt { signum: SIGINT }));
/// }
/// ```
///
/// # Python equivalent
/// `_thread.interrupt_main(signum=signal.SIGINT)`.
///
/// # Differences
/// Handlers are set with [`set_interrupt_handler`] rather than `signal.signal`, and run at
/// the main green thread's next switch point (Python: at its next bytecode boundary).
pub fn interrupt_main(signum: i32) {
    match handler_for(signum) {
        InterruptHandler::Ignore => {}
        InterruptHandler::Default if signum != SIGINT => {}
        InterruptHandler::Default => {
            sched::interrupt_main(Box::new(KeyboardInterrupt { signum }));
        }
        InterruptHandler::Call(handler) => {
            sched::interrupt_main_call(move || handler(signum));
        }
    }
}

/// The stack size new green threads get from [`start_new_thread`]; 0 means
/// [`stack::DEFAULT_STACK_SIZE`].
static STACK_SIZE: AtomicUsize = AtomicUsize::new(0);

fn configured_stack_size() -> usize {
    STACK_SIZE.load(Ordering::Relaxed)
}

/// The stack size used for new green threads, Python-shaped: sets it to `size` (`None`
/// means 0, "the default") and returns the previous setting (0 when the default was in
/// use). Sizes are rounded up to whole pages; shrinking is allowed down to 32 KiB.
///
/// ```
/// use greenthread::thread;
///
/// assert_eq!(thread::stack_size(Some(64 * 1024)).unwrap(), 0);
/// assert_eq!(thread::get_stack_size(), 64 * 1024);
/// assert_eq!(thread::stack_size(Some(32 * 1024 - 1)).unwrap_err().to_string(), "size not valid: 32767 bytes");
/// assert_eq!(thread::get_stack_size(), 64 * 1024); // unchanged by the error
/// assert!(thread::stack_size(Some(isize::MAX as usize)).is_err()); // no stack is that big
/// assert_eq!(thread::stack_size(None).unwrap(), 64 * 1024); // as CPython: resets to 0
/// assert_eq!(thread::get_stack_size(), 0);
/// ```
///
/// # Errors
/// [`Error::InvalidStackSize`](crate::Error::InvalidStackSize) (Python's `ValueError`) for
/// a size that is neither 0 nor at least 32 KiB, above [`stack::MAX_STACK_SIZE`], or that
/// the kernel refuses to map now (one trial mapping is made and released); the setting is
/// then unchanged.
///
/// # Python equivalent
/// `_thread.stack_size([size])`.
///
/// # Differences
/// The setting is process-wide and applies to [`start_new_thread`]; use
/// [`Builder::stack_size`] for one green thread. [`get_stack_size`] reads it without
/// resetting it.
pub fn stack_size(size: Option<usize>) -> Result<usize, error> {
    let size = size.unwrap_or(0);
    let rounded = if size == 0 {
        0
    } else {
        // The stack layer's own rules (32 KiB floor, whole pages, at most
        // `stack::MAX_STACK_SIZE`), then one trial mapping, released at once: a size the
        // kernel can never map (address space, RLIMIT_AS) is refused here, with
        // CPython's ValueError, rather than by every later `start_new_thread`.
        let invalid = |_| crate::Error::InvalidStackSize(size);
        let rounded = stack::usable_size(size).map_err(invalid)?;
        drop(stack::Stack::new(rounded).map_err(invalid)?);
        rounded
    };
    Ok(STACK_SIZE.swap(rounded, Ordering::Relaxed))
}

/// The current [`stack_size`] setting (0: the default), without changing it.
///
/// ```
/// assert_eq!(greenthread::thread::get_stack_size() % 4096, 0);
/// ```
pub fn get_stack_size() -> usize {
    configured_stack_size()
}
