//! # greenthread
//!
//! Cheap, cooperative, stackful green threads for Rust, without async/await, with an API a
//! Python `_thread` / gevent / eventlet user recognises.
//!
//! This crate is being built bottom-up. Available now:
//!
//! - [`Coroutine`]: runs a closure on its own guarded stack; it can suspend back to whoever
//!   resumed it, passing a value each way. The raw context switch under it is the one the rest
//!   of the runtime uses.
//! - [`stack`]: `mmap`'d stacks with a guard page, a 32 KiB minimum, a per-thread pool, and a
//!   clear report when a green stack overflows.
//!
//! ```
//! use greenthread::{Coroutine, CoroutineResult, Yielder};
//!
//! let mut co = Coroutine::new(|y: &Yielder<u32, u32>, first: u32| {
//!     let mut total = first;
//!     for _ in 0..3 {
//!         total += y.suspend(total);
//!     }
//!     format!("total {total}")
//! })
//! .unwrap();
//!
//! assert_eq!(co.resume(1), CoroutineResult::Yield(1));
//! assert_eq!(co.resume(10), CoroutineResult::Yield(11));
//! assert_eq!(co.resume(100), CoroutineResult::Yield(111));
//! assert_eq!(co.resume(1000), CoroutineResult::Return("total 1111".to_string()));
//! ```
//!
//! ## Supported targets
//!
//! | target | backend | status |
//! |---|---|---|
//! | x86_64 Linux (and other System V Unix) | `arch/x86_64_sysv_elf.s` | tested natively |
//!
//! Other targets fail at build time with a message naming the supported ones.

#![warn(missing_docs)]

mod error;
mod fatal;

pub mod context;
pub mod facade;
pub mod sched;
pub mod stack;
pub mod sync;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The porting guide's Rust snippets (`docs/PYTHON_API.md`), compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/PYTHON_API.md")]
pub struct PythonApiDoctests;

pub use context::coroutine::{Coroutine, CoroutineResult, Yielder};
pub use error::{Error, TIMEOUT_MAX, Wait};
pub use facade::thread;
pub use sched::{
    Builder, GreenHandle, GreenThread, current, dump, getcurrent, kill, sleep, sleep_until, spawn,
    spawn_after, spawn_after_local, spawn_n, yield_now,
};
pub use stack::{Stack, StackError};
pub use sync::{BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore};
