//! # greenthread
//!
//! Cheap, cooperative, stackful green threads for Rust, without async/await, with an API a
//! Python `_thread` / gevent / eventlet user recognises.
//!
//! Each OS thread gets a *hub* on first use; its own stack becomes the main green thread.
//! [`spawn`] schedules a green thread on its own guarded stack; it runs when the spawner
//! reaches a switch point ([`sleep`], [`yield_now`], a lock wait, [`GreenThread::wait`]...),
//! in FIFO order. Locks ([`sync`]) are `Send + Sync` and wake green threads of other OS
//! threads through their hubs.
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let workers: Vec<_> = (0..3)
//!     .map(|i| {
//!         let log = log.clone();
//!         greenthread::spawn(move || {
//!             log.borrow_mut().push(format!("worker {i} starts"));
//!             greenthread::sleep(Duration::from_millis(10 * (3 - i)));
//!             log.borrow_mut().push(format!("worker {i} done"));
//!             i * 10
//!         })
//!     })
//!     .collect();
//! let results: Vec<u64> = workers.into_iter().map(|w| w.join().unwrap()).collect();
//! assert_eq!(results, [0, 10, 20]);
//! assert_eq!(
//!     *log.borrow(),
//!     [
//!         "worker 0 starts", "worker 1 starts", "worker 2 starts", // FIFO start
//!         "worker 2 done", "worker 1 done", "worker 0 done",       // shortest sleep first
//!     ]
//! );
//! ```
//!
//! | layer | items | Python counterpart |
//! |---|---|---|
//! | green threads | [`spawn`], [`spawn_n`], [`spawn_after`], [`spawn_after_local`], [`sleep`], [`sleep_until`], [`yield_now`], [`kill`], [`getcurrent`], [`GreenThread`], [`Builder`] | `eventlet.greenthread` |
//! | per-green-thread storage | [`green_local!`], [`GreenLocal`] | greenlet-local attributes |
//! | locks (`Duration` and `Instant` forms of every timed call, RAII guards) | [`sync::Lock`], [`sync::Semaphore`], [`sync::BoundedSemaphore`], [`sync::DummySemaphore`], [`sync::RLock`] | `gevent.lock`, `_thread.LockType` |
//! | errors | [`Error`], [`sched::JoinError`], [`sched::WaitError`], [`sched::SpawnError`], [`sync::AcquireError`], [`StackError`]: all `Send + Sync + 'static` | the Python exception each stands for |
//! | communication | [`sync::Event`], [`sync::AsyncResult`], [`sync::Mutex`], [`sync::Condvar`], [`queue`], [`channel`], [`pool`], [`timeout`], [`select`] | `gevent.event`, `gevent.queue`, `gevent.pool`, `gevent.Timeout`, `gevent.wait`, `eventlet.greenpool`, `eventlet.queue` |
//! | raw layer | [`Coroutine`], [`context::raw`], [`stack`] | |
//! | Python-shaped corner | [`thread`] (with [`thread::Wait`], [`thread::TIMEOUT_MAX`]), the locks' `acquire_with(blocking, timeout)` | `_thread`, `thread` (2.x), `gevent.thread` |
//!
//! [`facade::IMPLEMENTS`] maps every Python name to its Rust item; `docs/PYTHON_API.md` has
//! the differences and a porting guide.
//!
//! ## Supported targets
//!
//! | target | backend | tested |
//! |---|---|---|
//! | x86_64 Linux and other System V Unix | `arch/x86_64_sysv_elf.s` | natively |
//! | aarch64 Linux | `arch/aarch64_aapcs_elf.s` | under qemu |
//! | riscv64gc Linux (LP64D) | `arch/riscv64_lp64d_elf.s` | under qemu |
//! | armv7 Linux, hard-float (AAPCS-VFP) | `arch/arm_aapcs_elf.s` | under qemu |
//! | x86_64 Windows | `arch/x86_64_ms_pe.s` | under wine (windows-gnu) |
//! | aarch64 and x86_64 macOS | `arch/*_macho.s` | compiled with full codegen |
//!
//! Other targets fail at build time with a message naming the supported ones.

#![warn(missing_docs)]

mod error;
mod fatal;

pub mod channel;
pub mod context;
pub mod facade;
pub mod net;
pub mod pool;
pub mod queue;
pub mod sched;
pub mod select;
pub mod stack;
pub mod sync;
pub mod timeout;
#[cfg(unix)]
pub mod unix;

/// Auto traits and variance of the public types, pinned by `compile_fail` doc tests.
#[cfg(doctest)]
pub mod contracts;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The porting guide's Rust snippets (`docs/PYTHON_API.md`), compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/PYTHON_API.md")]
pub struct PythonApiDoctests;

pub use context::coroutine::{Coroutine, CoroutineBuilder, CoroutineResult, Yielder};
pub use error::Error;
// Python-shaped: public in the `thread` facade, not on the front page.
pub(crate) use error::Wait;
pub use facade::thread;
pub use net::spawn_blocking;
pub use sched::{
    Builder, GreenHandle, GreenLocal, GreenThread, current, dump, getcurrent, kill, sleep,
    sleep_until, spawn, spawn_after, spawn_after_local, spawn_n, yield_now,
};
pub use stack::{Stack, StackError};
pub use sync::{BoundedSemaphore, DummySemaphore, Lock, RLock, Semaphore};
