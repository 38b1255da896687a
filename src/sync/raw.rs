//! The counting semaphore every lock type is built on: a state word with the count and
//! flags, a FIFO of parked waiters, strict hand-off.
//!
//! # Design
//!
//! A futex-style word plus a wait queue, as in parking_lot's `RawMutex` and Go's `sema.go`
//! (a count, and a queue only touched on the slow path), with the queue locked by a bit of
//! the word ([`waitqueue`](super::waitqueue)) and **direct hand-off** as in tokio's
//! `batch_semaphore` and Go's starvation mode: a release with waiters gives its permit to
//! the first waiter that takes it, so the count never rises while anyone waits, and a
//! newcomer's fast path, which needs a positive count, can never barge. Waiters are served
//! strictly in arrival order; none can starve.
//!
//! # The state word
//!
//! ```text
//!   bits 63..3  count    permits available (0 while anyone waits)
//!   bit  2      LINKS    rawlink callbacks are registered (semaphores only)
//!   bit  1      QLOCK    the queue is locked (waitqueue.rs); the word is then frozen
//!   bit  0      WAITERS  the queue is not empty
//! ```
//!
//! | from | event | to |
//! |---|---|---|
//! | count = n > 0 | acquire (fast path, `cas`) | count = n - 1 |
//! | count = n, no WAITERS/LINKS | release (fast path, `cas`) | count = n + 1 |
//! | count = 0 | blocking acquire (under QLOCK) | WAITERS, waiter queued |
//! | WAITERS | release (under QLOCK, see below for other OS threads) | permit handed to the first waiter whose `wake()` wins; WAITERS cleared if the queue empties; count + 1 if nobody took it |
//! | WAITERS | waiter gives up (under QLOCK) | its entry removed; WAITERS cleared if the queue empties |
//! | LINKS, count > 0 | release / rawlink (under QLOCK) | a link runner is spawned (once) |
//!
//! Invariant: **count > 0 implies the queue is empty.** Waiters are queued only when the
//! count is 0 (checked by the compare-and-swap that takes QLOCK), and a release only raises
//! the count after popping every waiter without a wake winning.
//!
//! # Permits are never lost or duplicated
//!
//! A permit moves in exactly one of three ways: a compare-and-swap on the count; a
//! `wake()` that returns true for a waiter popped from the queue (the parker's `park` then
//! returns `Woken`, and the acquire reports success whatever else raced with it: the hub
//! guarantees one winner per park); or back into the count when no wake wins. A waiter
//! whose park ended otherwise (timeout, kill, deadlock) has lost the race for good; it
//! takes its entry out of the queue if a release has not popped it already.
//!
//! A waiter of the releaser's own OS thread is woken under QLOCK (that wake only queues
//! it on our hub). A waiter of another OS thread is woken after QLOCK is dropped, because
//! that wake may be a futex syscall and the woken thread often wants the same queue lock
//! next: the permit is then *in flight* for that moment, in nobody's count, so it cannot
//! be taken twice; if the wake loses, the releaser locks again and goes on with the next
//! waiter. FIFO holds: newcomers queue behind the remaining waiters meanwhile.

use core::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Instant;

use crate::sched::{ParkError, Parker, WaitOn, Wakeup, check_interrupt};

use super::Deadline;
use super::links::{self, Link, LinkId, Linkable};
use super::waitqueue::{
    Kind, QLOCK, QueueGuard, WaitQueue, Waiter, assert_unlocked, os_thread, spin,
};

/// The queue is not empty.
pub(crate) const WAITERS: usize = 1 << 0;
/// `rawlink` callbacks are registered.
pub(crate) const LINKS: usize = 1 << 2;
const SHIFT: u32 = 3;
/// One permit, in the word.
pub(crate) const ONE: usize = 1 << SHIFT;
/// The largest count the word holds.
pub(crate) const MAX_COUNT: usize = usize::MAX >> SHIFT;

const _: () = assert!(QLOCK == 1 << 1 && QLOCK & (WAITERS | LINKS) == 0 && QLOCK < ONE);

#[inline]
const fn count(s: usize) -> usize {
    s >> SHIFT
}

/// A FIFO counting semaphore with hand-off; see the [module docs](self).
pub(crate) struct RawSem {
    q: WaitQueue,
    /// For dumps and deadlock reports: "Lock", "Semaphore", ...
    kind: &'static str,
    /// Parks are not `external`: the owner promised no other OS thread uses this object.
    local: bool,
}

impl RawSem {
    /// # Panics
    /// If `permits` exceeds [`MAX_COUNT`].
    pub(crate) const fn new(permits: usize, kind: &'static str, local: bool) -> RawSem {
        assert!(
            permits <= MAX_COUNT,
            "greenthread: semaphore value too large"
        );
        RawSem {
            q: WaitQueue::new(permits << SHIFT),
            kind,
            local,
        }
    }

    /// Permits available now (0 while anyone waits).
    #[inline]
    pub(crate) fn count(&self) -> usize {
        count(self.q.load())
    }

    /// Whether green threads are queued (a snapshot).
    #[inline]
    pub(crate) fn has_waiters(&self) -> bool {
        self.q.load() & WAITERS != 0
    }

    pub(crate) fn is_local(&self) -> bool {
        self.local
    }

    fn wait_on(&self) -> WaitOn {
        WaitOn::Object {
            kind: self.kind,
            addr: self as *const RawSem as usize,
        }
    }

    // ------------------------------------------------------------------ acquire

    /// Takes a permit if one is available now: the uncontended path (no syscall, no
    /// allocation, one compare-and-swap). False if the count looked 0 or the word was busy.
    #[inline]
    pub(crate) fn try_acquire_fast(&self) -> bool {
        let s = self.q.load();
        // Acquire: pairs with the Release of the `cas` (release fast path) or queue-guard
        // store (release slow path) that made this permit available, so the previous
        // holder's writes are visible to us. A positive count means no waiters (module
        // invariant), so this never barges.
        s >= ONE && self.q.cas(s, s - ONE, Ordering::Acquire).is_ok()
    }

    /// [`try_acquire_fast`](Self::try_acquire_fast) when the caller knows the likely word
    /// (a `Lock`: `ONE` when free): saves the load.
    #[inline]
    pub(crate) fn try_acquire_from(&self, expect: usize) -> bool {
        debug_assert!(expect >= ONE);
        // Acquire: as in `try_acquire_fast`.
        self.q.cas(expect, expect - ONE, Ordering::Acquire).is_ok()
    }

    /// Takes a permit if one is available now, waiting out a concurrent holder of the
    /// queue lock (so a free lock is never reported busy).
    pub(crate) fn try_acquire(&self) -> bool {
        self.try_acquire_fast() || self.try_acquire_slow()
    }

    #[cold]
    fn try_acquire_slow(&self) -> bool {
        let mut spins = 0;
        let mut s = self.q.load();
        loop {
            if s & QLOCK != 0 {
                spin(&mut spins);
                s = self.q.load();
                continue;
            }
            if s < ONE {
                return false;
            }
            // Acquire: as in `try_acquire_fast`.
            match self.q.cas(s, s - ONE, Ordering::Acquire) {
                Ok(()) => return true,
                Err(actual) => s = actual,
            }
        }
    }

    /// Takes a permit, parking in FIFO order until one is handed over or `deadline` passes
    /// (`None`: no limit). `Ok(false)` on timeout.
    ///
    /// A kill while parked unwinds from here (after leaving the queue). Errors are the
    /// hub's refusals to block: [`ParkError::Deadlock`] (main green thread, nothing can
    /// wake anyone) and [`ParkError::Panicking`]; the queue has been left then too.
    #[inline]
    pub(crate) fn acquire(&self, deadline: Option<Deadline>) -> Result<bool, ParkError> {
        if self.try_acquire_fast() {
            return Ok(true);
        }
        self.acquire_slow(deadline)
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn acquire_slow(&self, deadline: Option<Deadline>) -> Result<bool, ParkError> {
        loop {
            match self.enqueue_or_take(Kind::Acquire, deadline) {
                Enqueued::Done => return Ok(true),
                Enqueued::Expired => return Ok(false),
                Enqueued::Parked(parker, seq) => {
                    match self.park(parker, seq, deadline.map(|d| d.at)) {
                        Ok(Wakeup::Woken) => return Ok(true),
                        Ok(Wakeup::TimedOut) => return Ok(false),
                        // Interrupted, but `check_interrupt` did not raise: try again.
                        Err(None) => continue,
                        Err(Some(e)) => return Err(e),
                    }
                }
            }
        }
    }

    /// Takes a permit if the count is positive (`Done`); otherwise, unless `deadline` has
    /// passed (`Expired`), queues a waiter of `kind` and returns its armed park.
    #[inline(always)]
    fn enqueue_or_take(&self, kind: Kind, deadline: Option<Deadline>) -> Enqueued {
        // The park must exist before its waker is published in the queue; a wake that lands
        // before `park` is kept (park.rs), so nothing is lost in between.
        let parker = Parker::new();
        let mut waker = Some(parker.waker());
        let mut spins = 0;
        let mut s = self.q.load();
        loop {
            if s & QLOCK != 0 {
                spin(&mut spins);
                s = self.q.load();
                continue;
            }
            if s >= ONE {
                if kind == Kind::Watch {
                    return Enqueued::Done;
                }
                // Acquire: as in `try_acquire_fast`. Dropping the parker gives the park up.
                match self.q.cas(s, s - ONE, Ordering::Acquire) {
                    Ok(()) => return Enqueued::Done,
                    Err(actual) => {
                        s = actual;
                        continue;
                    }
                }
            }
            if deadline.is_some_and(Deadline::passed) {
                return Enqueued::Expired;
            }
            // The count is 0: queue up. Taking QLOCK from exactly `s` is what makes "count
            // > 0 implies no waiters" hold: a release that raised the count in between
            // changed the word, so this fails and we look again.
            match self.q.try_lock(s) {
                Ok(mut g) => {
                    let Some(w) = waker.take() else {
                        crate::fatal::fatal!("sync: waker queued twice");
                    };
                    let seq = g.push(w, kind);
                    let s = g.state();
                    g.set_state(s | WAITERS);
                    // The guard's Release store publishes the entry before any release can
                    // pop it (releases take QLOCK with Acquire).
                    drop(g);
                    return Enqueued::Parked(parker, seq);
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Parks a queued waiter. On any end but `Woken` the waiter leaves the queue first.
    /// `Err(None)`: it was interrupted and [`check_interrupt`] did not unwind (nothing was
    /// pending any more); the caller starts over.
    #[inline(always)]
    fn park(
        &self,
        parker: Parker,
        seq: u64,
        deadline: Option<Instant>,
    ) -> Result<Wakeup, Option<ParkError>> {
        assert_unlocked();
        let r = parker.park(self.wait_on(), deadline, !self.local);
        if !matches!(r, Ok(Wakeup::Woken)) {
            // No wake can win this park any more (park.rs): whatever a release does with
            // our entry now, it skips us. Leave, so the queue holds only live waiters.
            self.leave(seq);
        }
        match r {
            Ok(w) => Ok(w),
            Err(ParkError::Interrupted) => {
                // Out of the queue and holding nothing: let the kill unwind.
                check_interrupt();
                Err(None)
            }
            Err(e) => Err(Some(e)),
        }
    }

    /// Takes the entry `seq` out of the queue, if a release has not popped it already.
    fn leave(&self, seq: u64) {
        let mut g = self.q.lock();
        let gone = g.remove(seq);
        if g.waiters.is_empty() {
            let s = g.state();
            g.set_state(s & !WAITERS);
        }
        drop(g);
        drop(gone);
    }

    // ------------------------------------------------------------------ release

    /// Gives a permit back: hands it to the first queued waiter that takes it, else raises
    /// the count. False (and nothing changes) if the count is already `bound` or more.
    #[inline]
    pub(crate) fn release(&self, bound: usize) -> bool {
        let s = self.q.load();
        // Release: publishes the holder's writes to whoever takes this permit with the
        // Acquire of `try_acquire_fast`. Only without WAITERS or LINKS: those need the
        // queue (see `release_slow`).
        if s & (WAITERS | LINKS) == 0
            && count(s) < bound
            && self.q.cas(s, s + ONE, Ordering::Release).is_ok()
        {
            return true;
        }
        self.release_slow(bound)
    }

    /// [`release`](Self::release) when the caller knows the likely word (a `Lock`: 0 when
    /// held, no waiters): saves the load.
    #[inline]
    pub(crate) fn release_from(&self, expect: usize, bound: usize) -> bool {
        debug_assert!(expect & (WAITERS | LINKS) == 0 && count(expect) < bound);
        // Release: as in `release`.
        self.q.cas(expect, expect + ONE, Ordering::Release).is_ok() || self.release_slow(bound)
    }

    #[cold]
    #[inline(never)]
    fn release_slow(&self, bound: usize) -> bool {
        let mut spins = 0;
        let mut s = self.q.load();
        let mut g = loop {
            if s & QLOCK != 0 {
                spin(&mut spins);
                s = self.q.load();
                continue;
            }
            if count(s) >= bound {
                return false;
            }
            if s & (WAITERS | LINKS) == 0 {
                // Release: as in `release`.
                match self.q.cas(s, s + ONE, Ordering::Release) {
                    Ok(()) => return true,
                    Err(actual) => {
                        s = actual;
                        continue;
                    }
                }
            }
            match self.q.try_lock(s) {
                Ok(g) => break g,
                Err(actual) => s = actual,
            }
        };
        // Hand the permit to the first waiter that takes it.
        let me = os_thread();
        // Watchers of other OS threads popped on the way, woken only once the permit has
        // settled (see `wake_watchers`). Allocates only when there are some.
        let mut watchers: Vec<Waiter> = Vec::new();
        loop {
            let Some(w) = g.waiters.pop_front() else {
                break; // nobody took it
            };
            if w.os == me {
                // Same OS thread: `wake()` only queues the green thread on our own hub, so
                // it is made here, under the lock: the permit is never in flight. AcqRel
                // inside `wake()`: our writes, and the holder's before its release,
                // happen-before the waiter's return from `park` (park.rs). False: its
                // park already ended (timed out, killed, deadlock) and it leaves on its
                // own; try the next one.
                let won = w.waker.wake();
                if won && w.kind() == Kind::Acquire {
                    finish(&mut g);
                    drop(g);
                    wake_watchers(watchers);
                    return true;
                }
                continue;
            }
            if w.kind() == Kind::Watch {
                // A watcher of another OS thread takes nothing, so it is not woken now: the
                // permit is about to be in flight (below), and a watcher woken then could
                // read the count before the permit is back in it and return 0 although
                // nobody acquired. It is woken after the permit has settled, in the count or
                // with an acquirer (then 0 is the truth: somebody else took it). Its place in
                // line is kept: it still wakes before any later release's waiters.
                watchers.push(w);
                continue;
            }
            // Another OS thread: `wake()` posts to that hub's inbox and may make a futex
            // syscall, so it is made after dropping the lock (else that OS thread, woken
            // by it, could spin on our lock while we are in the syscall). The permit is in
            // flight meanwhile: still not in the count, so nobody can take it, and a newcomer
            // queues behind the waiters that remain (FIFO holds). Ordering: as above, the
            // AcqRel inside `wake()` publishes the holder's writes to the waiter.
            finish(&mut g);
            drop(g);
            let won = w.waker.wake();
            if won {
                // `w` is an acquirer (watchers were set aside above): the permit is its.
                wake_watchers(watchers);
                return true;
            }
            drop(w);
            // Not taken (its park had ended): on to the next waiter.
            g = self.q.lock();
        }
        // Nobody took it: back into the count. At most `bound`: checked above, before any
        // in-flight interval; only an over-release made during one (misuse: another
        // release of a permit that was not out) could have raised the count since, and
        // then the extra permit is dropped rather than break the bound.
        let mut s = g.state();
        if count(s) < bound {
            s += ONE;
        }
        g.set_state(s);
        finish(&mut g);
        let runner = schedule_links(&mut g);
        drop(g);
        // After the guard's Release store: a watcher woken now sees the permit in the count.
        wake_watchers(watchers);
        if let Some(owner) = runner {
            links::spawn_runner(owner);
        }
        true
    }

    // ------------------------------------------------------------------ wait (readiness)

    /// Waits until the count is positive or `deadline` passes, without taking a permit;
    /// returns the count then (which may be 0 again: others may have acquired).
    pub(crate) fn wait_ready(&self, deadline: Option<Deadline>) -> Result<usize, ParkError> {
        loop {
            let n = self.count();
            if n > 0 {
                return Ok(n);
            }
            match self.enqueue_or_take(Kind::Watch, deadline) {
                Enqueued::Done | Enqueued::Expired => return Ok(self.count()),
                Enqueued::Parked(parker, seq) => {
                    match self.park(parker, seq, deadline.map(|d| d.at)) {
                        Ok(_) => return Ok(self.count()),
                        Err(None) => continue,
                        Err(Some(e)) => return Err(e),
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ links

    /// Registers a link; spawns a runner if the semaphore is ready now.
    pub(crate) fn rawlink(&self, owner: Weak<dyn Linkable>, link: Link) {
        let mut g = self.q.lock();
        g.links.push(link);
        if g.owner.is_none() {
            g.owner = Some(owner);
        }
        let s = g.state() | LINKS;
        g.set_state(s);
        let runner = schedule_links(&mut g);
        drop(g);
        if let Some(owner) = runner {
            links::spawn_runner(owner);
        }
    }

    /// Removes a link that has not been called; false if it is not registered here.
    pub(crate) fn unlink(&self, id: LinkId) -> bool {
        let mut g = self.q.lock();
        let Some(i) = g.links.iter().position(|l| l.id == id) else {
            return false;
        };
        let link = g.links.remove(i);
        if g.links.is_empty() {
            let s = g.state();
            g.set_state(s & !LINKS);
        }
        drop(g);
        // Dropped outside the queue lock: its captures' destructors are user code.
        drop(link);
        true
    }

    /// One round of the link runner: calls the links registered before `bound`, oldest
    /// first, each unlinked before the call, while the semaphore stays ready.
    pub(crate) fn run_links(&self, bound: u64) {
        loop {
            let mut g = self.q.lock();
            let s = g.state();
            let next = (count(s) > 0 && g.links.first().is_some_and(|l| l.id.0 < bound))
                .then(|| g.links.remove(0));
            if g.links.is_empty() {
                g.set_state(s & !LINKS);
            }
            let Some(link) = next else {
                // End of the round. Links registered meanwhile get a new runner if the
                // semaphore is still ready (it runs after the green threads ready now).
                let again = count(s) > 0 && !g.links.is_empty();
                let owner = if again { g.owner.clone() } else { None };
                if owner.is_none() {
                    g.notify_scheduled = false;
                }
                drop(g);
                if let Some(owner) = owner {
                    links::spawn_runner(owner);
                }
                return;
            };
            drop(g);
            links::call(link);
        }
    }

    /// The scheduled runner will not run its round (see `links::spawn_runner`).
    pub(crate) fn runner_gone(&self) {
        let mut g = self.q.lock();
        g.notify_scheduled = false;
    }
}

/// Result of [`RawSem::enqueue_or_take`].
enum Enqueued {
    /// Took a permit (or, for a watcher, found the count positive).
    Done,
    /// The deadline had passed; nothing queued.
    Expired,
    /// Queued with this sequence number; park next.
    Parked(Parker, u64),
}

/// Wakes watchers of other OS threads set aside by `release_slow`, oldest first, once the
/// permit has settled and the queue lock is dropped. A wake that loses (the watcher's park
/// already ended) is simply dropped: a watcher takes nothing.
#[cold]
fn wake_watchers(watchers: Vec<Waiter>) {
    for w in watchers {
        w.waker.wake();
    }
}

/// Under the queue lock: clears `WAITERS` if the queue is empty.
#[inline]
fn finish(g: &mut QueueGuard<'_>) {
    if g.waiters.is_empty() {
        let s = g.state();
        g.set_state(s & !WAITERS);
    }
}

/// Under the queue lock: if the semaphore is ready, has links and no runner, marks a
/// runner scheduled and returns the owner to spawn it for (after the lock is dropped).
fn schedule_links(g: &mut QueueGuard<'_>) -> Option<Weak<dyn Linkable>> {
    let s = g.state();
    if count(s) == 0 || s & LINKS == 0 || g.notify_scheduled {
        return None;
    }
    let owner = g.owner.clone()?;
    g.notify_scheduled = true;
    Some(owner)
}
