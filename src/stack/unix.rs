//! Unix implementation of the stack layer's OS-specific parts: page size, guard protection,
//! the `SIGSEGV`/`SIGBUS` handler and the per-thread alternate signal stack.
//!
//! # The fault handler
//!
//! Installed once per process with `SA_SIGINFO | SA_ONSTACK`. It must run on an alternate
//! signal stack, because the stack that overflowed has no room left for a signal frame; see
//! [`ensure_sigaltstack`]. On a fault:
//!
//! 1. If `si_addr` is in the guard of a live green stack (registry lookup, lock-free), write
//!    the report with `write(2)` and `abort()`.
//! 2. Otherwise chain to the action that was installed before ours, read once at install
//!    time: a handler function is called directly (with one or three arguments, following
//!    its `SA_SIGINFO` flag); `SIG_DFL` or `SIG_IGN` is reinstated and the handler returns,
//!    so the faulting instruction runs again and the kernel applies it (for a synchronous
//!    fault that kills the process with the signal, as if we had never been there).
//!
//! Rust's standard library installs its own handler at startup (it reports `thread '<name>'
//! has overflowed its stack` for OS-thread stacks); it ends up as our "previous" action, so
//! that report keeps working.
//!
//! The handler returns, or aborts; it never `longjmp`s out (on macOS that would leave the
//! alternate stack marked in use) and never switches green threads.

use core::cell::RefCell;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use std::io;
use std::sync::Once;

use libc::{c_int, c_void, siginfo_t};

use super::mmap::Mapping;
use super::overflow;

/// The page size, from `sysconf(_SC_PAGESIZE)` (0 if unavailable; the caller rejects it).
pub(crate) fn query_page_size() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).unwrap_or(0)
}

/// Makes `len` bytes at `addr` inaccessible (`PROT_NONE`).
///
/// # Safety
///
/// `addr .. addr + len` must be page aligned and lie inside a mapping owned by the caller
/// that no live reference points into.
pub(crate) unsafe fn protect_none(addr: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is page aligned, owned and unreferenced, so
    // revoking access cannot invalidate anything Rust relies on.
    if unsafe { libc::mprotect(addr.cast(), len, libc::PROT_NONE) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The action that was installed for one signal before ours, saved once.
struct PrevAction {
    /// Set (Release) after `action` is written; the handler reads `action` only after seeing
    /// it (Acquire).
    ready: AtomicBool,
    /// Written once, inside [`install_fault_handlers`]' `Once`, before `ready` is set.
    action: core::cell::UnsafeCell<MaybeUninit<libc::sigaction>>,
}

// SAFETY: `action` is written exactly once, before `ready` is published with Release, and
// only read after `ready` is observed with Acquire; after that it is never written again.
unsafe impl Sync for PrevAction {}

impl PrevAction {
    const fn new() -> PrevAction {
        PrevAction {
            ready: AtomicBool::new(false),
            action: core::cell::UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The saved action, if it has been saved.
    fn get(&self) -> Option<&libc::sigaction> {
        if !self.ready.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `ready` is set only after `action` was initialised, and `action` is never
        // written again, so a shared reference to it is valid from now on.
        Some(unsafe { (*self.action.get()).assume_init_ref() })
    }
}

static PREV_SEGV: PrevAction = PrevAction::new();
static PREV_BUS: PrevAction = PrevAction::new();

/// Installs [`handle_fault`] for `SIGSEGV` and `SIGBUS`, once per process, saving the actions
/// it replaces.
pub(crate) fn install_fault_handlers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        for (signum, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
            install_one(signum, prev);
        }
    });
}

fn install_one(signum: c_int, prev: &PrevAction) {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries; `old` is valid for writes of a sigaction.
    if unsafe { libc::sigaction(signum, ptr::null(), old.as_mut_ptr()) } != 0 {
        return; // Cannot even query: leave the signal alone.
    }
    // SAFETY: we are inside the install `Once`, so nothing else writes `action`, and the
    // handler cannot read it: `ready` is not set yet.
    unsafe { (*prev.action.get()).write(old.assume_init()) };
    prev.ready.store(true, Ordering::Release);

    // SAFETY: all-zero is a valid `sigaction` (no handler, no flags, empty mask).
    let mut new: libc::sigaction = unsafe { MaybeUninit::zeroed().assume_init() };
    new.sa_sigaction = handle_fault as *const () as libc::sighandler_t;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new.sa_mask` is a valid sigset_t to initialise.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: `new` is fully initialised and `handle_fault` has the three-argument signature
    // SA_SIGINFO requires.
    unsafe { libc::sigaction(signum, &new, ptr::null_mut()) };
}

/// The `SIGSEGV`/`SIGBUS` handler. Async-signal-safe: registry lookup (atomic loads), a
/// fixed buffer, `write(2)`, `sigaction(2)`, `abort(3)`.
extern "C" fn handle_fault(signum: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let addr = if info.is_null() {
        0
    } else {
        // SAFETY: the kernel passes a valid siginfo_t for SA_SIGINFO handlers; si_addr is
        // the faulting address for SIGSEGV and SIGBUS.
        unsafe { (*info).si_addr() as usize }
    };
    if overflow::report_if_guard_hit(addr, write_stderr) {
        // SAFETY: abort is async-signal-safe and has no preconditions.
        unsafe { libc::abort() };
    }
    // SAFETY: we are in the handler for `signum`, with the kernel's `info` and `context`.
    unsafe { chain(signum, info, context) };
}

/// Hands a fault that is not ours to whatever handled `signum` before us.
///
/// # Safety
///
/// Must be called from the signal handler for `signum`, with the `info` and `context` the
/// kernel passed to it.
unsafe fn chain(signum: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let prev = match signum {
        libc::SIGSEGV => PREV_SEGV.get(),
        libc::SIGBUS => PREV_BUS.get(),
        _ => None,
    };
    let Some(prev) = prev else {
        // Not saved (a fault raced installation): fall back to the default action.
        // SAFETY: restoring SIG_DFL for a signal we handle is always allowed.
        unsafe { libc::signal(signum, libc::SIG_DFL) };
        return;
    };
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Reinstate it and return: the fault happens again and the kernel applies it (a
        // synchronous fault whose signal is ignored is delivered with the default action).
        // SAFETY: `prev` is a sigaction the kernel gave us, so it is valid to reinstall.
        unsafe { libc::sigaction(signum, prev, ptr::null_mut()) };
        return;
    }
    if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO set, the installed value is a three-argument handler.
        let f: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) =
            unsafe { core::mem::transmute(handler) };
        f(signum, info, context);
    } else {
        // SAFETY: without SA_SIGINFO, the installed value is a one-argument handler.
        let f: extern "C" fn(c_int) = unsafe { core::mem::transmute(handler) };
        f(signum);
    }
}

/// Writes all of `bytes` to stderr with `write(2)`, retrying on `EINTR` and short writes.
fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of the given length.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(_) if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Extra bytes on an alternate signal stack we map, above what the kernel needs for a signal
/// frame: our handler uses well under 1 KiB, but a chained handler may need more (wasmtime
/// settled on 64 KiB for the same reason). Virtual only: untouched pages cost nothing.
const ALTSTACK_MARGIN: usize = 64 * 1024;

/// Stack our handler (plus std's, when chained) needs beyond the kernel's signal frame. An
/// existing alternate stack with at least this much above `AT_MINSIGSTKSZ` is kept.
const HANDLER_NEED: usize = 4 * 1024;

/// The kernel's minimum signal frame size, `AT_MINSIGSTKSZ`, where the auxiliary vector has
/// it (it grows with AVX-512, AMX, SVE); 0 where unknown, leaving callers with `SIGSTKSZ`.
fn min_signal_frame() -> usize {
    cfg_if::cfg_if! {
        if #[cfg(any(target_os = "linux", target_os = "android"))] {
            // SAFETY: getauxval has no preconditions; it returns 0 for unknown entries.
            let aux = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) };
            usize::try_from(aux).unwrap_or(0)
        } else {
            0
        }
    }
}

/// Smallest existing alternate signal stack we keep rather than replace.
fn altstack_keep_threshold() -> usize {
    (min_signal_frame() + HANDLER_NEED).max(libc::SIGSTKSZ)
}

/// Size of the alternate signal stacks we map (usable part; a guard page comes on top).
fn altstack_size() -> usize {
    (min_signal_frame().max(libc::SIGSTKSZ) + ALTSTACK_MARGIN).next_multiple_of(super::page_size())
}

/// An alternate signal stack installed by us on this OS thread.
struct AltStack {
    /// Dropped (unmapped) only once it is known not to be installed any more.
    map: ManuallyDrop<Mapping>,
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let mut current = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: a null new stack only queries the current one into `current`.
        if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
            return; // Cannot tell whether ours is still installed: leak it.
        }
        // SAFETY: sigaltstack succeeded, so `current` is initialised.
        let current = unsafe { current.assume_init() };
        if current.ss_sp.cast::<u8>() == self.map.bottom()
            && current.ss_flags & libc::SS_DISABLE == 0
        {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling is allowed when not running on the alternate stack, and a
            // thread-local destructor never runs on it.
            if unsafe { libc::sigaltstack(&disable, ptr::null_mut()) } != 0 {
                return; // Still installed: leak it rather than unmap a live signal stack.
            }
        }
        // SAFETY: the mapping is not the installed alternate stack (any more), and this is
        // the only place it is dropped.
        unsafe { ManuallyDrop::drop(&mut self.map) };
    }
}

std::thread_local! {
    /// The alternate signal stack this thread got from us, if any; unmapped (after being
    /// disabled) when the thread exits.
    static ALTSTACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Gives the calling thread an alternate signal stack unless it already has one of at least
/// [`altstack_keep_threshold`] bytes (Rust's std installs one on the main thread and on the
/// threads it spawns). Threads created otherwise (C libraries, `pthread_create`) get ours:
/// `altstack_size()` usable bytes (`AT_MINSIGSTKSZ` or `SIGSTKSZ`, plus 64 KiB) above a
/// guard page.
pub(crate) fn ensure_sigaltstack() {
    let mut current = MaybeUninit::<libc::stack_t>::zeroed();
    // SAFETY: a null new stack only queries the current one into `current`.
    if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
        return;
    }
    // SAFETY: sigaltstack succeeded, so `current` is initialised.
    let current = unsafe { current.assume_init() };
    if current.ss_flags & libc::SS_ONSTACK != 0 {
        return; // Running on it (called from a signal handler?): cannot change it now.
    }
    if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= altstack_keep_threshold() {
        return;
    }
    let size = altstack_size();
    let Ok(map) = Mapping::new(size, super::page_size()) else {
        return; // Out of memory: overflows on this thread die by SIGSEGV, unreported.
    };
    let new = libc::stack_t {
        ss_sp: map.bottom().cast(),
        ss_flags: 0,
        ss_size: size,
    };
    // Install it from inside the thread-local that owns it from then on (and unmaps it at
    // thread exit). If that thread-local is already destroyed (we were called from another
    // destructor), install nothing: `map` is unmapped on return.
    let _ = ALTSTACK.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            // SAFETY: `new` describes a mapping of `size` read-write bytes that `slot` keeps
            // alive until after it is uninstalled again (AltStack's Drop).
            if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } == 0 {
                // An older one of ours (found disabled or too small) is unmapped here.
                *slot = Some(AltStack {
                    map: ManuallyDrop::new(map),
                });
            }
        }
    });
}

/// An alternate signal stack installed for one scope (see [`teardown_altstack`]): removed
/// and unmapped on drop, if it is still the installed one.
pub(crate) struct ScopedAltStack {
    /// `None` when the thread already had a usable alternate stack and nothing was done.
    /// `AltStack`'s Drop disables the stack if it is still installed, then unmaps it.
    _alt: Option<AltStack>,
}

/// Makes sure the calling thread has an alternate signal stack until the returned value is
/// dropped, mapping and installing one if it has none (or one too small).
///
/// For OS-thread-exit teardown: std disables and unmaps the alternate stack of the threads it
/// spawns when their closure returns, and the main thread's when `main` returns, both before
/// thread-local destructors run; the stack layer's own ([`ensure_sigaltstack`]) lives in a
/// thread-local that may already be destroyed. The hub unwinds its green threads from a
/// thread-local destructor, and an overflow there is only reported if the fault handler has
/// a stack to run on. The scoped stack is not a thread-local, so it cannot be destroyed
/// under the teardown.
pub(crate) fn teardown_altstack() -> ScopedAltStack {
    let nothing = ScopedAltStack { _alt: None };
    let mut current = MaybeUninit::<libc::stack_t>::zeroed();
    // SAFETY: a null new stack only queries the current one into `current`.
    if unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) } != 0 {
        return nothing;
    }
    // SAFETY: sigaltstack succeeded, so `current` is initialised.
    let current = unsafe { current.assume_init() };
    if current.ss_flags & libc::SS_ONSTACK != 0
        || (current.ss_flags & libc::SS_DISABLE == 0
            && current.ss_size >= altstack_keep_threshold())
    {
        return nothing;
    }
    let size = altstack_size();
    let Ok(map) = Mapping::new(size, super::page_size()) else {
        return nothing; // Out of memory: an overflow now dies by SIGSEGV, unreported.
    };
    let new = libc::stack_t {
        ss_sp: map.bottom().cast(),
        ss_flags: 0,
        ss_size: size,
    };
    // SAFETY: `new` describes `size` read-write bytes that the returned value keeps mapped
    // until it has uninstalled them again (AltStack's Drop).
    if unsafe { libc::sigaltstack(&new, ptr::null_mut()) } != 0 {
        return nothing; // `map` is unmapped on return.
    }
    ScopedAltStack {
        _alt: Some(AltStack {
            map: ManuallyDrop::new(map),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_altstack() -> libc::stack_t {
        let mut current = MaybeUninit::<libc::stack_t>::zeroed();
        // SAFETY: a null new stack only queries the current one.
        let rc = unsafe { libc::sigaltstack(ptr::null(), current.as_mut_ptr()) };
        assert_eq!(rc, 0);
        // SAFETY: initialised by the successful call.
        unsafe { current.assume_init() }
    }

    #[test]
    fn handlers_are_installed_and_previous_saved() {
        super::super::ensure_thread_ready();
        for signum in [libc::SIGSEGV, libc::SIGBUS] {
            let mut act = MaybeUninit::<libc::sigaction>::zeroed();
            // SAFETY: a null new action only queries the current one.
            let rc = unsafe { libc::sigaction(signum, ptr::null(), act.as_mut_ptr()) };
            assert_eq!(rc, 0);
            // SAFETY: initialised by the successful call.
            let act = unsafe { act.assume_init() };
            assert_eq!(
                act.sa_sigaction,
                handle_fault as *const () as libc::sighandler_t
            );
            assert_ne!(act.sa_flags & libc::SA_ONSTACK, 0);
            assert_ne!(act.sa_flags & libc::SA_SIGINFO, 0);
        }
        assert!(PREV_SEGV.get().is_some() && PREV_BUS.get().is_some());
    }

    #[test]
    fn std_thread_keeps_its_altstack() {
        std::thread::spawn(|| {
            let before = current_altstack();
            super::super::ensure_thread_ready();
            let after = current_altstack();
            if before.ss_flags & libc::SS_DISABLE == 0
                && before.ss_size >= altstack_keep_threshold()
            {
                assert_eq!(before.ss_sp, after.ss_sp, "a big enough altstack is kept");
                assert!(ALTSTACK.with(|a| a.borrow().is_none()));
            } else {
                assert_eq!(after.ss_size, altstack_size());
            }
        })
        .join()
        .unwrap();
    }

    extern "C" fn raw_thread(_: *mut c_void) -> *mut c_void {
        let before = current_altstack();
        super::super::ensure_thread_ready();
        let after = current_altstack();
        let ours = ALTSTACK.with(|a| a.borrow().as_ref().map(|a| a.map.bottom()));
        let ok = before.ss_flags & libc::SS_DISABLE != 0
            && after.ss_flags & libc::SS_DISABLE == 0
            && after.ss_size == altstack_size()
            && after.ss_size >= altstack_keep_threshold()
            && ours == Some(after.ss_sp.cast());
        // Drop ours explicitly too, to exercise the disable path before thread exit.
        ALTSTACK.with(|a| drop(a.borrow_mut().take()));
        let disabled = current_altstack().ss_flags & libc::SS_DISABLE != 0;
        usize::from(ok && disabled) as *mut c_void
    }

    extern "C" fn scoped_thread(_: *mut c_void) -> *mut c_void {
        // A raw thread starts without an alternate stack, like a std thread in teardown.
        let before = current_altstack();
        let guard = teardown_altstack();
        let during = current_altstack();
        drop(guard);
        let after = current_altstack();
        // With one installed already, the guard does nothing.
        super::super::ensure_thread_ready();
        let ready = current_altstack();
        let nested = teardown_altstack();
        let kept = current_altstack().ss_sp == ready.ss_sp;
        drop(nested);
        let still = current_altstack();
        let ok = before.ss_flags & libc::SS_DISABLE != 0
            && during.ss_flags & libc::SS_DISABLE == 0
            && during.ss_size == altstack_size()
            && after.ss_flags & libc::SS_DISABLE != 0
            && kept
            && still.ss_sp == ready.ss_sp
            && still.ss_flags & libc::SS_DISABLE == 0;
        usize::from(ok) as *mut c_void
    }

    #[test]
    fn teardown_altstack_is_installed_for_its_scope_only() {
        let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
        // SAFETY: `scoped_thread` has the signature pthread_create expects; default attributes.
        let rc = unsafe {
            libc::pthread_create(
                thread.as_mut_ptr(),
                ptr::null(),
                scoped_thread,
                ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0);
        let mut result = ptr::null_mut();
        // SAFETY: the thread was created successfully and is joined exactly once.
        let rc = unsafe { libc::pthread_join(thread.assume_init(), &mut result) };
        assert_eq!(rc, 0);
        assert_eq!(result as usize, 1, "scoped altstack misbehaved");
    }

    #[test]
    fn raw_pthread_gets_an_altstack() {
        let mut thread = MaybeUninit::<libc::pthread_t>::uninit();
        // SAFETY: `raw_thread` has the signature pthread_create expects; default attributes.
        let rc = unsafe {
            libc::pthread_create(
                thread.as_mut_ptr(),
                ptr::null(),
                raw_thread,
                ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0);
        let mut result = ptr::null_mut();
        // SAFETY: the thread was created successfully and is joined exactly once.
        let rc = unsafe { libc::pthread_join(thread.assume_init(), &mut result) };
        assert_eq!(rc, 0);
        assert_eq!(
            result as usize, 1,
            "raw thread did not get a working altstack"
        );
    }
}
