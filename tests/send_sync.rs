//! The auto traits and common traits of every public type, checked at compile time (the
//! negative side, `!Send` / `!Sync`, is pinned by `compile_fail` doc tests in
//! `src/contracts.rs`).
//!
//! Issue 11.6: every public error type is `Send + Sync + 'static` and an `Error`, so `?`
//! into `Box<dyn Error + Send + Sync>` (or `anyhow`) works. Issue 11.9: every public type
//! implements `Debug`.

use std::error::Error as StdError;
use std::fmt::Debug;

use greenthread::context::coroutine::{Coroutine, CoroutineResult, Yielder};
use greenthread::sched::{
    Builder, DeadlockReport, Exit, GreenHandle, GreenInfo, GreenState, GreenThread, HubDump,
    HubError, HubHandle, JoinError, KillError, LinkId, Panic, ParkError, Parker, SpawnError,
    WaitError, WaitOn, Waker, Wakeup,
};
use greenthread::stack::{Stack, StackError};
use greenthread::sync::{
    AcquireError, BoundedSemaphore, BoundedSemaphoreGuard, DummySemaphore, DummySemaphoreGuard,
    Lock, LockGuard, RLock, RLockGuard, Semaphore, SemaphoreGuard,
};
use greenthread::thread::Wait;
use greenthread::thread::{InterruptHandler, KeyboardInterrupt};
use greenthread::{Error, GreenLocal};
use static_assertions::{assert_impl_all, assert_not_impl_any};

// Errors: Send + Sync + 'static + Error + Debug + Display.
assert_impl_all!(Error: Send, Sync, StdError, Debug, Clone, PartialEq);
assert_impl_all!(AcquireError: Send, Sync, StdError, Debug, Clone, PartialEq);
assert_impl_all!(StackError: Send, Sync, StdError, Debug);
assert_impl_all!(SpawnError: Send, Sync, StdError, Debug);
assert_impl_all!(WaitError: Send, Sync, StdError, Debug, Clone);
assert_impl_all!(JoinError: Send, Sync, StdError, Debug);
assert_impl_all!(Exit: Send, Sync, StdError, Debug, Clone);
assert_impl_all!(HubError: Send, Sync, StdError, Debug, Clone, PartialEq);
assert_impl_all!(ParkError: Send, Sync, StdError, Debug, Clone, PartialEq);
assert_impl_all!(KillError: Send, Sync, StdError, Debug, Copy, PartialEq);
assert_impl_all!(greenthread::sched::LocalAccessError: Send, Sync, StdError, Debug);
assert_impl_all!(Panic: Send, Sync, Debug, Clone);

// Shareable across OS threads.
assert_impl_all!(Lock: Send, Sync, Debug);
assert_impl_all!(Semaphore: Send, Sync, Debug);
assert_impl_all!(BoundedSemaphore: Send, Sync, Debug);
assert_impl_all!(DummySemaphore: Send, Sync, Debug);
assert_impl_all!(RLock: Send, Sync, Debug);
assert_impl_all!(LockGuard<'static>: Send, Sync, Debug);
assert_impl_all!(SemaphoreGuard<'static>: Send, Sync, Debug);
assert_impl_all!(BoundedSemaphoreGuard<'static>: Send, Sync, Debug);
assert_impl_all!(DummySemaphoreGuard<'static>: Send, Sync, Debug);
assert_impl_all!(Waker: Send, Sync, Debug, Clone);
assert_impl_all!(HubHandle: Send, Sync, Debug, Clone);
assert_impl_all!(GreenLocal<std::cell::Cell<u8>>: Send, Sync, Debug);
assert_impl_all!(Stack: Send, Debug);

// Plain data.
assert_impl_all!(WaitOn: Send, Sync, Debug, Copy);
assert_impl_all!(Wakeup: Send, Sync, Debug, Copy);
assert_impl_all!(GreenState: Send, Sync, Debug, Copy);
assert_impl_all!(GreenInfo: Send, Sync, Debug, Clone);
assert_impl_all!(HubDump: Send, Sync, Debug, Clone);
assert_impl_all!(DeadlockReport: Send, Sync, Debug, Clone);
assert_impl_all!(Wait: Send, Sync, Debug, Copy);
assert_impl_all!(LinkId: Send, Sync, Debug, Copy);
assert_impl_all!(greenthread::sync::LinkId: Send, Sync, Debug, Copy);
assert_impl_all!(Builder: Send, Sync, Debug);
assert_impl_all!(CoroutineResult<u8, u16>: Send, Sync, Debug);
assert_impl_all!(InterruptHandler: Debug);
assert_impl_all!(KeyboardInterrupt: Send, Sync, Debug);

// Tied to their OS thread (green threads never migrate).
assert_impl_all!(Coroutine<u8, u8, u8>: Debug);
assert_not_impl_any!(Coroutine<u8, u8, u8>: Send, Sync);
assert_impl_all!(Yielder<u8, u8>: Debug);
assert_not_impl_any!(Yielder<u8, u8>: Send, Sync);
assert_impl_all!(GreenThread<u8>: Debug);
assert_not_impl_any!(GreenThread<u8>: Send, Sync);
assert_impl_all!(GreenHandle: Debug, Clone);
assert_not_impl_any!(GreenHandle: Send, Sync);
assert_impl_all!(Parker: Debug);
assert_not_impl_any!(Parker: Send, Sync);
assert_impl_all!(RLockGuard<'static>: Debug);
assert_not_impl_any!(RLockGuard<'static>: Send, Sync);
assert_not_impl_any!(Stack: Sync);

/// `?` from every fallible call into a boxed `Send + Sync` error compiles and carries the
/// message (issue 11.6: `WaitError` used to borrow the handle and `JoinError` / `Exit` were
/// not `Sync`).
#[test]
fn errors_go_into_boxed_send_sync_errors() {
    fn run() -> Result<(), Box<dyn StdError + Send + Sync + 'static>> {
        let gt = greenthread::spawn(|| -> u32 { panic!("boom") });
        let _ = gt.wait()?;
        Ok(())
    }
    assert!(run().unwrap_err().to_string().contains("boom"));
    fn join() -> Result<u32, Box<dyn StdError + Send + Sync + 'static>> {
        Ok(greenthread::spawn(|| -> u32 { panic!("bang") }).join()?)
    }
    assert!(join().unwrap_err().to_string().contains("bang"));
    fn acquire() -> Result<bool, Box<dyn StdError + Send + Sync + 'static>> {
        Ok(Lock::new().acquire_with(false, Some(1.0))?)
    }
    assert!(acquire().is_err());
    fn spawn() -> Result<(), Box<dyn StdError + Send + Sync + 'static>> {
        Builder::new().stack_size(1).spawn(|| ())?;
        Ok(())
    }
    assert!(spawn().is_err());
}

/// Issue 11.6: no error prints its cause twice: either `Display` includes it, or
/// `source()` returns it, never both.
#[test]
fn display_does_not_repeat_the_source() {
    fn check(e: &(dyn StdError + 'static)) {
        let mut cur = e.source();
        while let Some(s) = cur {
            assert!(
                !e.to_string().contains(&s.to_string()),
                "{e} repeats its source {s}"
            );
            cur = s.source();
        }
    }
    let spawn = Builder::new().stack_size(1).spawn(|| ()).unwrap_err();
    assert!(spawn.source().is_some());
    check(&spawn);
    let exhausted = StackError::Map {
        size: 4096,
        source: std::io::Error::from_raw_os_error(libc_enomem()),
    };
    check(&exhausted);
    let spawn = SpawnError::Stack(exhausted);
    check(&spawn);
    let acq = Lock::new().acquire_with(false, Some(1.0)).unwrap_err();
    check(&acq);
    assert_eq!(acq, acq.clone(), "AcquireError compares equal to itself");
}

fn libc_enomem() -> i32 {
    12 // ENOMEM on Linux, macOS and in Windows' C runtime numbering
}
