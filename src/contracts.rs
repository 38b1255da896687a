//! Type-level contracts, pinned by doc tests: the auto traits (`Send`, `Sync`) and the
//! variance of the public types. Each `compile_fail` block below must fail to compile *for
//! the reason it names*; the block right before it is the same code with the offending
//! line removed, and compiles, so a failure for an unrelated reason (a typo, a renamed
//! item) is caught too. The positive side (`Send + Sync` where promised) is checked by
//! `tests/send_sync.rs`.
//!
//! # `Coroutine` and `Yielder` are invariant in every value type (audit item 1)
//!
//! A coroutine made for a short-lived input reference cannot be used as one for a
//! longer-lived one (contravariance, the old marker, allowed this and read freed memory):
//!
//! ```
//! use greenthread::{Coroutine, Yielder};
//! fn keeper<'s>() -> Coroutine<&'s u64, (), u64> {
//!     Coroutine::new(|y: &Yielder<&'s u64, ()>, first: &'s u64| {
//!         y.suspend(());
//!         *first
//!     })
//!     .unwrap()
//! }
//! let co: Coroutine<&u64, (), u64> = keeper();
//! drop(co);
//! ```
//!
//! ```compile_fail
//! use greenthread::Coroutine;
//! fn widen<'s>(co: Coroutine<&'s u64, (), u64>) -> Coroutine<&'static u64, (), u64> {
//!     co // contravariance in Input: must not compile
//! }
//! ```
//!
//! Nor the other way round (covariance in `Input`):
//!
//! ```compile_fail
//! use greenthread::Coroutine;
//! fn narrow<'s>(co: Coroutine<&'static u64, (), u64>) -> Coroutine<&'s u64, (), u64> {
//!     co
//! }
//! ```
//!
//! The same holds for `Yield` and `Return`:
//!
//! ```compile_fail
//! use greenthread::Coroutine;
//! fn narrow<'s>(co: Coroutine<(), &'static u64, ()>) -> Coroutine<(), &'s u64, ()> {
//!     co
//! }
//! ```
//!
//! ```compile_fail
//! use greenthread::Coroutine;
//! fn narrow<'s>(co: Coroutine<(), (), &'static u64>) -> Coroutine<(), (), &'s u64> {
//!     co
//! }
//! ```
//!
//! ```compile_fail
//! use greenthread::Yielder;
//! fn narrow<'a, 's>(y: &'a Yielder<&'static u64, ()>) -> &'a Yielder<&'s u64, ()> {
//!     y
//! }
//! ```
//!
//! ```compile_fail
//! use greenthread::Yielder;
//! fn narrow<'a, 's>(y: &'a Yielder<(), &'static u64>) -> &'a Yielder<(), &'s u64> {
//!     y
//! }
//! ```
//!
//! # Green threads and coroutines stay on their OS thread
//!
//! Code on a green stack may hold thread-local addresses in callee-saved registers across a
//! switch (PITFALLS 28), so nothing that can resume a context may move to another OS
//! thread.
//!
//! ```
//! fn send<T: Send>(_: T) {}
//! send(greenthread::stack::Stack::new(0).unwrap()); // a bare stack may move
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! let co = greenthread::Coroutine::<(), (), ()>::new(|_, ()| ()).unwrap();
//! send(co);
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>(_: &T) {}
//! let co = greenthread::Coroutine::<(), (), ()>::new(|_, ()| ()).unwrap();
//! sync(&co);
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! greenthread::Coroutine::<(), (), ()>::new(|y: &greenthread::Yielder<(), ()>, ()| send(y)).unwrap();
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! send(greenthread::spawn(|| ()));
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>(_: &T) {}
//! sync(&greenthread::spawn(|| ()));
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! send(greenthread::getcurrent());
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! send(greenthread::sched::Parker::new());
//! ```
//!
//! A stack may move but not be shared:
//!
//! ```compile_fail
//! fn sync<T: Sync>(_: &T) {}
//! sync(&greenthread::stack::Stack::new(0).unwrap());
//! ```
//!
//! # Green-local values never leave their green thread
//!
//! `with` lends a value for the closure's duration only:
//!
//! ```compile_fail
//! greenthread::green_local!(static V: u32 = 1);
//! let r: &'static u32 = V.with(|v| v);
//! ```
//!
//! A `!Sync` value cannot be handed to another OS thread by reference:
//!
//! ```compile_fail
//! greenthread::green_local!(static C: std::cell::Cell<u32> = std::cell::Cell::new(1));
//! C.with(|c| std::thread::scope(|s| { s.spawn(|| c.get()); }));
//! ```
//!
//! # Lock guards stay with the green thread that holds them
//!
//! ```
//! fn sync<T: Sync>(_: &T) {}
//! let lock = greenthread::Lock::new();
//! let g = lock.lock();
//! sync(&g);
//! ```
//!
//! ```compile_fail
//! fn send<T: Send>(_: T) {}
//! let lock = greenthread::RLock::new();
//! send(lock.lock()); // an RLock's owner is a green thread
//! ```

/// Anchor for the doc tests above (compiled only by rustdoc's test runner).
pub struct Contracts;
