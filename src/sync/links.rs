//! `rawlink` callbacks of the semaphores: ids, storage, and the green thread that runs them.
//!
//! A link is called when its semaphore is ready (can be acquired), from a green thread the
//! releasing call spawns on its own hub (the *link runner*), never inside `release()` or
//! `rawlink()` themselves. The runner takes the links out one at a time, oldest first, each
//! unlinked before it is called, and stops as soon as the semaphore is no longer ready (a
//! callback that acquires can take the last permit). Links registered while a round runs
//! wait for the next round, so a callback that re-registers itself cannot keep one runner
//! busy forever.

use core::sync::atomic::{AtomicU64, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Weak};

use crate::sched::{Builder, is_kill_payload};

use super::raw::RawSem;

/// Identifies a callback registered with `rawlink`, for `unlink`. Unique in the process:
/// an id never names a link of another semaphore.
///
/// ```
/// use std::sync::Arc;
/// use greenthread::sync::Semaphore;
///
/// let sem = Arc::new(Semaphore::new(0));
/// let id = sem.rawlink(|_| unreachable!("unlinked first"));
/// assert!(sem.unlink(id));
/// assert!(!sem.unlink(id)); // already gone
/// sem.release().unwrap();
/// greenthread::yield_now(); // no runner has anything to call
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub(crate) u64);

static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

impl LinkId {
    pub(crate) fn next() -> LinkId {
        LinkId(NEXT_LINK.fetch_add(1, Ordering::Relaxed))
    }

    /// Every id handed out so far is below this one.
    fn bound() -> u64 {
        NEXT_LINK.load(Ordering::Relaxed)
    }
}

/// A registered callback, already bound to its semaphore (it holds a `Weak` to it).
pub(crate) struct Link {
    pub(crate) id: LinkId,
    pub(crate) call: Box<dyn FnOnce() + Send>,
}

/// A semaphore type that can have links: gives the runner its raw semaphore.
pub(crate) trait Linkable: Send + Sync + 'static {
    fn raw(&self) -> &RawSem;
}

/// Binds `f` to the semaphore behind `this`: the link calls `f(&semaphore)` if the
/// semaphore still exists.
pub(crate) fn bind<S, F>(this: &Arc<S>, f: F) -> Box<dyn FnOnce() + Send>
where
    S: Send + Sync + 'static,
    F: FnOnce(&S) + Send + 'static,
{
    let weak = Arc::downgrade(this);
    Box::new(move || {
        if let Some(s) = weak.upgrade() {
            f(&s);
        }
    })
}

/// Spawns a link runner for `owner` on this OS thread's hub. The caller has set
/// `notify_scheduled`; if the runner never runs (no stack, the hub is shutting down, it is
/// killed before it starts), dropping it clears the flag so the next release tries again.
pub(crate) fn spawn_runner(owner: Weak<dyn Linkable>) {
    let guard = Scheduled(Some(owner));
    let spawned = Builder::new()
        .name("greenthread semaphore links")
        .spawn_n(move || {
            // Move the whole guard in (a closure would capture only the fields it uses).
            let mut guard = guard;
            let Some(owner) = guard.0.as_ref().and_then(Weak::upgrade) else {
                return; // the semaphore is gone, and its links with it
            };
            owner.raw().run_links(LinkId::bound());
            // The round ended normally: `run_links` cleared or re-armed the flag itself. If
            // it unwound instead (a kill inside a callback), the guard clears it.
            guard.disarm();
        });
    // On error the closure, and with it the guard, has been dropped: flag cleared.
    let _ = spawned;
}

/// Clears `notify_scheduled` when dropped while still holding the owner (the runner did not
/// get to run its round).
struct Scheduled(Option<Weak<dyn Linkable>>);

impl Scheduled {
    /// The runner finished its round: nothing to clear.
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for Scheduled {
    fn drop(&mut self) {
        if let Some(owner) = self.0.take().and_then(|w| w.upgrade()) {
            owner.raw().runner_gone();
        }
    }
}

/// Calls one link on the runner's green thread. A panic in it is reported by the panic
/// hook and does not stop the next links; a kill of the runner goes on unwinding.
pub(crate) fn call(link: Link) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(link.call)) {
        if is_kill_payload(&*p) {
            resume_unwind(p);
        }
        eprintln!("greenthread: a semaphore rawlink callback panicked; the other links still run");
    }
}
