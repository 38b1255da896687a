//! Whether a lock may be shared with other OS threads: a type parameter, so the promise a
//! one-OS-thread lock makes is kept by the compiler.
//!
//! Every lock type is generic over `S: Sharing`, defaulting to [`Shared`]:
//!
//! - `Lock` (= `Lock<Shared>`, from `new`) is `Send + Sync` and may be used from any OS
//!   thread. Because any OS thread holding a reference might release it, waits on it are
//!   never reported as deadlocks (a report could be false).
//! - `Lock<OneThread>` (from `new_local`) is `!Send + !Sync`: the compiler keeps it, and every
//!   reference to it, on the OS thread that made it. Nothing on another OS thread can
//!   release it, so when every green thread of that OS thread is blocked and nothing else
//!   can wake one, the hub reports the deadlock, and the report is always true (gevent's
//!   `LoopExit`, Go's "all goroutines are asleep").
//!
//! ```
//! use greenthread::sync::{OneThread, Lock};
//!
//! let shared = Lock::new(); // Lock<Shared>
//! let local: Lock<OneThread> = Lock::new_local();
//! local.acquire();
//! let err = local.acquire_with(true, None).unwrap_err(); // waits for itself
//! assert!(err.deadlock().is_some());
//! # drop(shared);
//! ```
//!
//! A local lock cannot leave its OS thread:
//!
//! ```compile_fail
//! let local = greenthread::sync::Lock::new_local();
//! std::thread::spawn(move || local.acquire());
//! ```
//!
//! Not even by reference:
//!
//! ```compile_fail
//! let local = greenthread::sync::Semaphore::new_local(0);
//! std::thread::scope(|s| {
//!     s.spawn(|| local.release());
//! });
//! ```
//!
//! ```compile_fail
//! let local = greenthread::sync::RLock::new_local();
//! std::thread::spawn(move || drop(local));
//! ```
//!
//! ```compile_fail
//! let local = greenthread::sync::BoundedSemaphore::new_local(1);
//! std::thread::scope(|s| {
//!     s.spawn(|| local.acquire());
//! });
//! ```
//!
//! The same code with a shareable lock compiles:
//!
//! ```
//! let shared = greenthread::sync::Semaphore::new(0);
//! std::thread::scope(|s| {
//!     s.spawn(|| shared.release().unwrap());
//! });
//! shared.acquire();
//! ```

use core::marker::PhantomData;

mod sealed {
    pub trait Sealed {}
}

/// Whether a lock may be shared with other OS threads: [`Shared`] or [`OneThread`]. Sealed.
pub trait Sharing: sealed::Sealed + 'static {
    /// True for [`OneThread`]: waits on the lock are not external and can be reported as
    /// deadlocks.
    const LOCAL: bool;
}

/// The default: the lock is `Send + Sync`, usable from any OS thread; its waits are never
/// reported as deadlocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Shared;

/// The lock stays on the OS thread that made it (`!Send + !Sync`); a deadlock on it is
/// reported. Made by the `new_local` constructors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OneThread(PhantomData<*const ()>);

impl sealed::Sealed for Shared {}
impl sealed::Sealed for OneThread {}

impl Sharing for Shared {
    const LOCAL: bool = false;
}

impl Sharing for OneThread {
    const LOCAL: bool = true;
}
