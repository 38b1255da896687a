//! The thread-local pointer to this OS thread's hub, and the hub's lifetime.
//!
//! - The hub is created on first use ([`hub`]) and lives in a `Box` whose address is kept
//!   in a `const`-initialised thread-local `Cell` with no destructor, so reading it is one
//!   TLS load and works at any time, even while thread-local destructors run.
//! - A second thread-local, [`Owner`], exists only for its destructor, registered when the
//!   hub is created: at OS-thread exit it tears the hub down (kills every live green thread,
//!   see `Hub::teardown`) and frees it, then leaves [`GONE`] in the pointer so later calls
//!   (from thread-local destructors that run after ours) get an error instead of a new hub.
//!
//! Green threads never migrate, so the pointer read by a green thread always names the hub
//! it belongs to, and caching a TLS address across a switch (PITFALLS 28) is harmless.

use core::cell::Cell;
use core::ptr;

use super::hub::Hub;
use crate::fatal::fatal;

std::thread_local! {
    /// This OS thread's hub: null before first use, [`GONE`] after teardown.
    static HUB: Cell<*const Hub> = const { Cell::new(ptr::null()) };
    /// Tears the hub down when the OS thread exits.
    static OWNER: Owner = const { Owner };
}

/// Marker left in [`HUB`] once the hub has been torn down.
const GONE: usize = 1;

/// The hub of this OS thread has been torn down (the thread is exiting).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gone;

/// This OS thread's hub, created on first use.
///
/// # Errors
/// [`Gone`] once the hub has been torn down, or if it would have to be created while
/// this thread's thread-local destructors run after its teardown.
#[inline]
pub(crate) fn hub() -> Result<&'static Hub, Gone> {
    let p = HUB.with(Cell::get);
    if p as usize > GONE {
        // SAFETY: a pointer other than null and GONE is the live hub: it is freed only by
        // `Owner::drop`, which first replaces it with GONE, and no green thread of this OS
        // thread runs after that, so no reference handed out here outlives the hub.
        Ok(unsafe { &*p })
    } else if p.is_null() {
        create()
    } else {
        Err(Gone)
    }
}

/// This OS thread's hub if it exists (never creates one).
#[inline]
pub(crate) fn existing() -> Option<&'static Hub> {
    let p = HUB.with(Cell::get);
    if p as usize > GONE {
        // SAFETY: as in `hub`.
        Some(unsafe { &*p })
    } else {
        None
    }
}

/// The hub, from code that runs on a green thread of it (which exists only while the hub
/// does).
#[inline]
pub(crate) fn hub_unchecked() -> &'static Hub {
    match existing() {
        Some(hub) => hub,
        None => fatal!("green thread running without a hub"),
    }
}

/// Whether `g` is the running green thread of this OS thread.
#[inline]
pub(crate) fn is_current(g: &super::green::Green) -> bool {
    existing().is_some_and(|hub| hub.is_current(g))
}

/// Address of this thread's hub, or null; for identity checks only.
#[inline]
pub(crate) fn hub_addr() -> *const Hub {
    let p = HUB.with(Cell::get);
    if p as usize > GONE { p } else { ptr::null() }
}

#[cold]
#[inline(never)]
fn create() -> Result<&'static Hub, Gone> {
    // Register the teardown first; if this thread's destructors are already past that
    // point the registration fails, and a hub created now could never be torn down.
    if OWNER.try_with(|_| ()).is_err() {
        HUB.with(|h| h.set(ptr::without_provenance(GONE)));
        return Err(Gone);
    }
    let hub: *const Hub = Box::into_raw(Hub::new());
    HUB.with(|h| h.set(hub));
    // SAFETY: just allocated and published; freed only by `Owner::drop`.
    let hub = unsafe { &*hub };
    hub.on_created();
    Ok(hub)
}

/// Tears the hub down at OS-thread exit.
struct Owner;

impl Drop for Owner {
    fn drop(&mut self) {
        let p = HUB.with(Cell::get);
        if p as usize <= GONE {
            return;
        }
        // SAFETY: the hub is alive (see `hub`); a shared reference for one query.
        if !unsafe { (*p).main_is_running() } {
            // Thread-local destructors are running on a green thread other than main: the
            // process is exiting from it (glibc's `exit()` and Windows' `ExitProcess` run
            // the calling thread's TLS destructors on the caller's stack, i.e. this green
            // stack). Nothing can be unwound or switched to now, and the stack we run on
            // belongs to the hub: leave the hub and every green thread as they are (their
            // memory is the process's, about to go) and let the exit go on with its code.
            // Later calls on this thread get `Gone`. Issue 10.3.
            HUB.with(|h| h.set(ptr::without_provenance(GONE)));
            return;
        }
        // std has removed this thread's alternate signal stack by now: keep one installed
        // while green threads unwind, so an overflow there is still reported.
        let _altstack = crate::stack::teardown_altstack();
        // SAFETY: the hub is alive (see `hub`). We run on the OS thread's own stack, in
        // a thread-local destructor: the main green thread is the one running.
        unsafe { (*p).teardown() };
        HUB.with(|h| h.set(ptr::without_provenance(GONE)));
        // SAFETY: allocated by `create` with `Box::into_raw`; every green thread of it has
        // finished (or, under panic = "abort", been abandoned for good), and the pointer
        // was replaced above, so nothing reaches the hub any more.
        drop(unsafe { Box::from_raw(p.cast_mut()) });
    }
}
