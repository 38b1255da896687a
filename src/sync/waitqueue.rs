//! The state word of a lock object and the FIFO of green threads parked on it, guarded by a
//! bit of that same word.
//!
//! # The primitive underneath
//!
//! Waiters block with the hub's [`Parker`](crate::sched::Parker) and are woken with its
//! [`Waker`]. Its contract (see `src/sched/park.rs`): exactly one party wins each park, a
//! `wake()` that returns true is seen by the parker as `Woken` even if a timeout or a kill
//! raced with it, and a `wake()` that returns false did nothing (the park already ended).
//! Wakes are never lost: a wake that lands before `park` makes `park` return at once. There
//! are no spurious wakeups.
//!
//! # Design
//!
//! One `AtomicUsize` per lock object carries the lock's state (its owner, `raw.rs`, defines
//! every bit but one) and, in [`QLOCK`], a lock for the queue of waiters, parking_lot
//! `WordLock`-style. The queue sits in an `UnsafeCell` next to the word. Taking the queue
//! lock is one compare-and-swap on the word; releasing it is a plain `store` of the new
//! state, because **while `QLOCK` is set nobody but its holder changes the word**: every
//! other change is a compare-and-swap from a value without `QLOCK` ([`WaitQueue::cas`]
//! refuses such a value). So a blocking acquire costs one atomic read-modify-write more
//! than the park itself, and a hand-off one more than the wake; a `std::sync::Mutex` around
//! the queue would add two more on each side (measured: about 28 ns per hand-off on the
//! development machine, which the hand-off target does not allow).
//!
//! # Rules for the holder of the queue lock
//!
//! - It never switches green threads and never runs user code: it pushes, pops or removes
//!   waiters, calls [`Waker::wake`] for waiters of its own OS thread (which only queues
//!   them on its own hub: no switch, no syscall), and drops wakers. Wakes of waiters of
//!   other OS threads (an inbox lock, maybe a futex syscall) are made after the lock is
//!   dropped. The guard's lifetime is a few hundred instructions.
//! - So a green thread never finds the queue lock held by another green thread of its own
//!   OS thread. Waiting for it ([`spin`]) only ever waits for another OS thread that is in
//!   such a short section: it spins briefly, then yields the OS thread. Debug builds check
//!   both points with a per-OS-thread counter of held queue locks ([`assert_unlocked`]).
//! - No other lock is taken under a queue lock, and no code holds two queue locks.
//!
//! # Fairness
//!
//! [`Inner::waiters`] is strictly FIFO: waiters are pushed at the back with increasing
//! sequence numbers and handed permits from the front. A waiter that gives up (timeout,
//! kill) removes itself by sequence number (binary search; the deque stays sorted).

use core::cell::UnsafeCell;
use core::hint::spin_loop;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::VecDeque;
use std::sync::Weak;

use crate::sched::Waker;

use super::links::{Link, Linkable};

/// Bit of the state word that locks the queue. The other bits belong to the owner of the
/// word (`raw.rs`).
pub(crate) const QLOCK: usize = 1 << 1;

/// What a queued green thread waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A permit: a release hands it over if the wake succeeds.
    Acquire,
    /// Readiness only (`Semaphore::wait`): woken in its turn, takes nothing.
    Watch,
}

/// One parked green thread.
pub(crate) struct Waiter {
    pub(crate) waker: Waker,
    /// `seq << 1 | watch`: the position in the queue (increasing, so the deque is sorted by
    /// it) and, in bit 0, whether it is a [`Kind::Watch`]. Packed so a `Waiter` is whole
    /// words with no odd-sized tail: moving one in and out of the deque on every hand-off
    /// then copies whole words (an odd tail cost a store-forwarding stall there).
    tag: u64,
    /// The waiter's OS thread ([`os_thread`]): a release from the same one wakes it under
    /// the queue lock (cheap, no syscall), from another one after dropping the lock.
    pub(crate) os: usize,
}

impl Waiter {
    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        if self.tag & 1 == 0 {
            Kind::Acquire
        } else {
            Kind::Watch
        }
    }
}

/// What the queue lock protects.
pub(crate) struct Inner {
    /// Parked green threads, oldest first.
    pub(crate) waiters: VecDeque<Waiter>,
    /// Sequence number of the next waiter.
    next_seq: u64,
    /// `rawlink` callbacks, oldest first (semaphores only).
    pub(crate) links: Vec<Link>,
    /// A link runner has been spawned and has not finished its round.
    pub(crate) notify_scheduled: bool,
    /// The `Arc` the links were registered through, to spawn a link runner.
    pub(crate) owner: Option<Weak<dyn Linkable>>,
}

impl Inner {
    /// Appends a waiter; returns its sequence number (for [`remove`](Self::remove)).
    #[inline]
    pub(crate) fn push(&mut self, waker: Waker, kind: Kind) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let tag = seq << 1 | u64::from(kind == Kind::Watch);
        self.waiters.push_back(Waiter {
            waker,
            tag,
            os: os_thread(),
        });
        seq
    }

    /// Removes the waiter `seq` if it is still queued (a release may have popped it).
    pub(crate) fn remove(&mut self, seq: u64) -> Option<Waiter> {
        let i = self
            .waiters
            .binary_search_by_key(&seq, |w| w.tag >> 1)
            .ok()?;
        self.waiters.remove(i)
    }
}

/// A state word and its queue. See the [module docs](self).
pub(crate) struct WaitQueue {
    word: AtomicUsize,
    /// # Safety
    ///
    /// Only accessed through a [`QueueGuard`], which exists only while its creator's
    /// compare-and-swap set [`QLOCK`] in `word`, and clears `QLOCK` when dropped. Nothing
    /// else clears `QLOCK` ([`WaitQueue::cas`] only succeeds from a value without it), so at
    /// most one guard exists at a time and it has exclusive access.
    inner: UnsafeCell<Inner>,
}

// SAFETY: `inner` is only reached through a `QueueGuard`, and at most one exists at a time
// (see the field's `# Safety`), whichever OS thread holds it: that is a mutex, which makes
// its contents shareable as long as they can be sent between threads. `Inner` is `Send`
// (wakers are `Send + Sync`, link callbacks are `Send`, `Weak<dyn Linkable>` is
// `Send + Sync`), which the compiler checks through the bound below.
unsafe impl Sync for WaitQueue where Inner: Send {}

// A panic cannot leave a queue half-changed for code that catches it: nothing under the
// queue lock panics except a failed allocation in `VecDeque`/`Vec` growth, which leaves the
// collection intact, and the guard's drop releases the lock while unwinding. So a lock
// object stays consistent across `catch_unwind`, as `std::sync::Mutex` (which declares the
// same, relying on poisoning instead).
impl std::panic::RefUnwindSafe for WaitQueue {}
impl std::panic::UnwindSafe for WaitQueue {}

impl WaitQueue {
    /// A word holding `state` (without `QLOCK`) and an empty queue. Allocates nothing.
    pub(crate) const fn new(state: usize) -> WaitQueue {
        assert!(state & QLOCK == 0);
        WaitQueue {
            word: AtomicUsize::new(state),
            inner: UnsafeCell::new(Inner {
                waiters: VecDeque::new(),
                next_seq: 0,
                links: Vec::new(),
                notify_scheduled: false,
                owner: None,
            }),
        }
    }

    /// The word, relaxed: a hint for the compare-and-swaps that follow, or a snapshot for
    /// `locked()`-style queries (consistent even while `QLOCK` is held, since the holder
    /// publishes its changes in one store).
    #[inline]
    pub(crate) fn load(&self) -> usize {
        self.word.load(Ordering::Relaxed)
    }

    /// Changes the word from `current` to `new` (neither may hold `QLOCK`); on failure
    /// returns the value found. Fails without touching memory if `current` holds `QLOCK`:
    /// the caller [`spin`]s and reloads.
    ///
    /// `success` is the ordering of a successful exchange (`Acquire` to take a permit,
    /// `Release` to give one back); failure is relaxed, the caller just retries.
    #[inline]
    pub(crate) fn cas(&self, current: usize, new: usize, success: Ordering) -> Result<(), usize> {
        if current & QLOCK != 0 {
            return Err(current);
        }
        debug_assert!(new & QLOCK == 0, "cas must not set the queue lock");
        self.word
            .compare_exchange(current, new, success, Ordering::Relaxed)
            .map(drop)
    }

    /// Takes the queue lock if the word still holds `current` (without `QLOCK`); on
    /// failure returns the value found.
    #[inline]
    pub(crate) fn try_lock(&self, current: usize) -> Result<QueueGuard<'_>, usize> {
        if current & QLOCK != 0 {
            return Err(current);
        }
        assert_unlocked();
        // Acquire: pairs with the Release store of the previous holder's guard drop, so
        // its changes to `inner` happen-before ours (and with the Release of any `cas`
        // that gave back a permit, so the state we build on is current).
        match self.word.compare_exchange(
            current,
            current | QLOCK,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                held::inc();
                Ok(QueueGuard {
                    word: &self.word,
                    // SAFETY: our compare-and-swap just set QLOCK, which was clear: we are
                    // the only holder until the guard's drop clears it (see the `inner`
                    // field's `# Safety`), so this is the only reference to `inner`.
                    inner: unsafe { &mut *self.inner.get() },
                    state: current,
                })
            }
            Err(actual) => Err(actual),
        }
    }

    /// Takes the queue lock whatever the state, waiting for another holder if needed.
    pub(crate) fn lock(&self) -> QueueGuard<'_> {
        let mut spins = 0;
        let mut s = self.load();
        loop {
            if s & QLOCK != 0 {
                spin(&mut spins);
                s = self.load();
                continue;
            }
            match self.try_lock(s) {
                Ok(g) => return g,
                Err(actual) => s = actual,
            }
        }
    }
}

/// Exclusive access to a queue, and the state its word will hold when the guard drops.
pub(crate) struct QueueGuard<'a> {
    word: &'a AtomicUsize,
    inner: &'a mut Inner,
    /// The word's value without `QLOCK`; nobody else changes the word while we hold it.
    state: usize,
}

impl QueueGuard<'_> {
    /// The state (without `QLOCK`): exact, since only we may change the word now.
    #[inline]
    pub(crate) fn state(&self) -> usize {
        self.state
    }

    /// Sets the state published when the guard drops.
    #[inline]
    pub(crate) fn set_state(&mut self, state: usize) {
        debug_assert!(state & QLOCK == 0);
        self.state = state;
    }
}

impl Deref for QueueGuard<'_> {
    type Target = Inner;

    #[inline]
    fn deref(&self) -> &Inner {
        self.inner
    }
}

impl DerefMut for QueueGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Inner {
        self.inner
    }
}

impl Drop for QueueGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        held::dec();
        // Release: publishes our changes to the queue and the state to the next holder
        // (its Acquire compare-and-swap in `try_lock`) and to fast paths that read this
        // value (their Acquire `cas` taking a permit we put back). A plain store is enough:
        // while QLOCK is set the word cannot change under us (see `WaitQueue::cas`).
        self.word.store(self.state, Ordering::Release);
    }
}

/// A cheap identity of the calling OS thread: the address of a thread-local (one TLS
/// address computation, no atomics). Unique among live OS threads; a waiter's OS thread is
/// alive while its entry is queued (a hub's teardown ends its parks first).
#[inline]
pub(crate) fn os_thread() -> usize {
    std::thread_local! {
        static ANCHOR: u8 = const { 0 };
    }
    ANCHOR.with(|a| a as *const u8 as usize)
}

/// Waits a little for another OS thread to drop a queue lock: spins with a growing number
/// of `spin_loop` hints, then yields the OS thread (the holder may have been preempted).
#[cold]
pub(crate) fn spin(spins: &mut u32) {
    assert_unlocked();
    if *spins < 10 {
        for _ in 0..(1u32 << *spins) {
            spin_loop();
        }
        *spins += 1;
    } else {
        std::thread::yield_now();
    }
}

/// Debug builds: checks that this OS thread holds no queue lock (before parking, and before
/// waiting for or taking a queue lock). Holding one there would mean a switch, or a wait
/// for ourselves, inside a queue-locked section: a bug in this module, so it is fatal.
#[inline]
pub(crate) fn assert_unlocked() {
    #[cfg(debug_assertions)]
    if held::count() != 0 {
        crate::fatal::fatal!("sync: a green thread would block or nest while holding a queue lock");
    }
}

/// Count of queue locks this OS thread holds (debug builds; nothing in release builds).
mod held {
    #[cfg(debug_assertions)]
    std::thread_local! {
        static HELD: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
    }

    #[inline]
    pub(super) fn inc() {
        #[cfg(debug_assertions)]
        HELD.with(|h| h.set(h.get() + 1));
    }

    #[inline]
    pub(super) fn dec() {
        #[cfg(debug_assertions)]
        HELD.with(|h| h.set(h.get() - 1));
    }

    #[cfg(debug_assertions)]
    pub(super) fn count() -> u32 {
        HELD.try_with(|h| h.get()).unwrap_or(0)
    }
}
