//! A one-shot interrupt of one green thread, the hook [`Timeout`](crate::timeout::Timeout)
//! is built on.
//!
//! [`raise_in`] queues a payload for a green thread of this OS thread and sets its
//! `pending::RAISE` bit; the hub raises it with `resume_unwind` at the target's next switch
//! point (a parked target is made runnable at once, its blocking call ending as for a
//! kill: the lock layer leaves its queue, then `check_interrupt` raises). Unlike a kill it
//! is raised **once**: the bit is cleared and the payload taken when raised. [`take`]
//! withdraws a payload that has not been raised yet (a `Timeout` dropped first).
//!
//! The payloads live in a thread-local list keyed by green-thread id (few entries: one
//! per pending timeout), so the hub's structures are unchanged but for one bit and one
//! branch in `Hub::raise`.

use core::any::Any;
use std::cell::RefCell;

use super::current;
use super::green::{GreenHandle, pending};

thread_local! {
    static PAYLOADS: RefCell<Vec<(u64, Box<dyn Any + Send>)>> = const { RefCell::new(Vec::new()) };
}

/// Queues `payload` to be raised once in `target` (a green thread of this OS thread) at
/// its next switch point, replacing a payload queued earlier and not yet raised. False
/// (and nothing queued) if `target` has finished or this OS thread has no hub.
pub(crate) fn raise_in(target: &GreenHandle, payload: Box<dyn Any + Send>) -> bool {
    let Some(hub) = current::existing() else {
        return false;
    };
    if target.is_finished() {
        return false;
    }
    let id = target.id();
    let old = PAYLOADS.with(|p| {
        let mut p = p.borrow_mut();
        let old = p
            .iter()
            .position(|(g, _)| *g == id)
            .map(|i| p.swap_remove(i).1);
        p.push((id, payload));
        old
    });
    // A payload's destructor is user code: run it without the borrow.
    drop(old);
    hub.raise_in(target.green());
    true
}

/// Takes the payload queued for green thread `id`, if it has not been raised yet.
pub(crate) fn take(id: u64) -> Option<Box<dyn Any + Send>> {
    PAYLOADS
        .try_with(|p| {
            let mut p = p.borrow_mut();
            let i = p.iter().position(|(g, _)| *g == id)?;
            Some(p.swap_remove(i).1)
        })
        .ok()
        .flatten()
}

/// Withdraws the payload queued for the running green thread, if not raised yet, and
/// clears its `RAISE` bit (so its next blocking call is not ended for nothing).
pub(crate) fn withdraw_current() -> Option<Box<dyn Any + Send>> {
    let hub = current::existing()?;
    let g = hub.current_green();
    g.pending.set(g.pending.get() & !pending::RAISE);
    take(g.id)
}

/// Cancels a green thread of this OS thread that has not started, without switching (see
/// `Hub::cancel_quiet`). False if it has started or finished, or there is no hub.
pub(crate) fn cancel_quietly(target: &GreenHandle) -> bool {
    match current::existing() {
        Some(hub) => hub.cancel_quiet(target.green()),
        None => false,
    }
}

/// A handle to the running green thread, or `None` if this OS thread's hub is gone
/// (thread-local destructors at thread exit): the non-panicking `current()`.
pub(crate) fn current_handle() -> Option<GreenHandle> {
    let hub = current::existing()?;
    Some(GreenHandle::new(hub.current_green()))
}
