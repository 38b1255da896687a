//! The FIFO of parked green threads the communication types (`Event`, `AsyncResult`,
//! `Queue`, channels, `Condvar`) share, and their blocking loop.
//!
//! # Design
//!
//! Each object keeps its state and one or more [`Waiters`] lists in a `std::sync::Mutex`
//! (the *state lock*). A blocking call takes the state lock, tries its operation, and if it
//! cannot go on, pushes a [`Waker`] of a fresh [`Parker`] (with, for a putter, the item it
//! wants to hand over), drops the lock and parks. Whoever can serve it takes the state lock,
//! wakes the oldest live waiter and **hands over under the lock**: the item goes into
//! [`Waiters::given`] keyed by the waiter's sequence number (or, for a putter, is taken
//! out of its entry). The park contract (`sched/park.rs`) makes this exact:
//!
//! - a `wake()` that returns true is seen by the parker as `Woken`, even if its deadline
//!   or a kill raced with it: the hand-off is the waiter's, it finds its item in `given`;
//! - a `wake()` that returns false did nothing: the waiter's park ended otherwise (timeout,
//!   kill, deadlock); its entry is marked dead and the server moves on to the next one. The
//!   waiter, once it has the state lock, removes its entry (taking back its own item if it
//!   was a putter) and reports the timeout or raises the kill. Nothing is lost or
//!   duplicated.
//!
//! Events, results, condition variables and pools wake under the state lock (simple: no
//! hand-off in flight outside the lock). Queues and channels, whose hand-offs across OS
//! threads are the hot path, decide and hand over under the lock but wake after dropping
//! it ([`Waiters::serve_one`]): a wake of another OS thread's green thread may be a futex
//! syscall, and the woken thread wants the same lock next. If such a late wake fails (the
//! waiter's park ended meanwhile), the waiter finds, under the lock, that its entry is gone:
//! it was served, and it returns what it was handed (a getter its item; a putter success),
//! leaving a kill or timeout to be raised at its next switch point. A wake of a waiter of
//! another OS thread made under a state lock takes that hub's inbox lock; the lock order is
//! always *state lock, then inbox lock*, and the hub never takes a state lock.
//!
//! # Rules
//!
//! - Nothing switches green threads and no user code runs under a state lock: no `Clone`,
//!   no `Drop` of a user item (items dropped while the lock is held are moved out first).
//!   So a state lock is only ever held by another OS thread for a short section, and a
//!   green thread never waits for one held by a green thread of its own OS thread.
//! - Poisoning is ignored: nothing under a state lock panics but an allocation failure,
//!   which leaves the collections intact.
//! - Strict FIFO: entries are served oldest first; a served waiter never has to compete
//!   again for what it was handed (no barging).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::sched::{ParkError, Parker, WaitOn, Waker, Wakeup};

/// Takes a state lock, ignoring poisoning (see the module docs).
#[inline]
pub(crate) fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Entry<T> {
    seq: u64,
    waker: Waker,
    /// A `wake()` for it returned false: its owner is leaving on its own.
    dead: bool,
    /// A putter's item, taken by whoever serves it.
    item: Option<T>,
}

/// A FIFO of parked green threads. Lives under a state lock.
pub(crate) struct Waiters<T> {
    q: VecDeque<Entry<T>>,
    next_seq: u64,
    /// Items handed to served waiters, by sequence number (usually zero or one entries).
    given: Vec<(u64, T)>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters::new()
    }
}

impl<T> Waiters<T> {
    pub(crate) const fn new() -> Waiters<T> {
        Waiters {
            q: VecDeque::new(),
            next_seq: 0,
            given: Vec::new(),
        }
    }

    /// Queues a waiter (with the item it offers, for a putter); returns its sequence
    /// number.
    pub(crate) fn push(&mut self, waker: Waker, item: Option<T>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.q.push_back(Entry {
            seq,
            waker,
            dead: false,
            item,
        });
        seq
    }

    /// Whether any waiter that may still be served is queued.
    pub(crate) fn has_live(&self) -> bool {
        self.q.iter().any(|e| !e.dead)
    }

    /// Number of live entries (for `len`-style queries of waiting putters).
    pub(crate) fn live(&self) -> usize {
        self.q.iter().filter(|e| !e.dead).count()
    }

    /// Wakes the oldest live waiter, takes it off the queue and returns `(seq, its item)`.
    /// Entries whose wake fails are marked dead (kept if they hold an item, so their owner
    /// gets it back; dropped otherwise). `None` if no waiter could be woken.
    pub(crate) fn wake_one(&mut self) -> Option<(u64, Option<T>)> {
        let mut i = 0;
        while i < self.q.len() {
            let e = &mut self.q[i];
            if e.dead {
                i += 1;
                continue;
            }
            if e.waker.wake() {
                let e = self.q.remove(i)?;
                return Some((e.seq, e.item));
            }
            if e.item.is_some() {
                e.dead = true;
                i += 1;
            } else {
                self.q.remove(i);
            }
        }
        None
    }

    /// Takes the oldest waiter that may still be woken off the queue **without waking
    /// it**: `(seq, waker, its item)`. The caller hands over under the state lock, then
    /// wakes after dropping the lock (a wake of another OS thread's green thread may be a
    /// syscall, and the woken thread wants this lock next). If that wake fails (the park
    /// ended meanwhile: timeout, kill), the waiter finds the hand-off itself when it
    /// leaves: its entry is gone, so it was served (see `queue/core.rs`). Entries that can
    /// no longer be woken are skipped (kept if they hold an item, so their owner gets it
    /// back).
    pub(crate) fn serve_one(&mut self) -> Option<(u64, Waker, Option<T>)> {
        let mut i = 0;
        while i < self.q.len() {
            let e = &mut self.q[i];
            if e.dead {
                i += 1;
                continue;
            }
            if e.waker.can_wake() {
                let e = self.q.remove(i)?;
                return Some((e.seq, e.waker, e.item));
            }
            if e.item.is_some() {
                e.dead = true;
                i += 1;
            } else {
                self.q.remove(i);
            }
        }
        None
    }

    /// Wakes every live waiter (dead ones holding items stay for their owners). Returns the
    /// sequence numbers and items of those woken.
    pub(crate) fn wake_all(&mut self) -> Vec<(u64, Option<T>)> {
        let mut woken = Vec::new();
        while let Some(w) = self.wake_one() {
            woken.push(w);
        }
        woken
    }

    /// Wakes every live waiter that holds no item, as cheaply as possible (`Event::set`).
    /// Keeps the queue's allocation (the next waiter does not allocate again).
    pub(crate) fn wake_all_plain(&mut self) {
        if self.q.iter().all(|e| e.item.is_none()) {
            for e in self.q.drain(..) {
                if !e.dead {
                    e.waker.wake();
                }
            }
            return;
        }
        // Not expected for plain lists: keep entries with items for their owners.
        self.q.retain(|e| {
            if e.item.is_some() {
                return true;
            }
            if !e.dead {
                e.waker.wake();
            }
            false
        });
    }

    /// Stores an item for the served waiter `seq` (one [`wake_one`](Self::wake_one)
    /// returned).
    pub(crate) fn put_given(&mut self, seq: u64, item: T) {
        self.given.push((seq, item));
    }

    /// The item handed to waiter `seq`, if any.
    pub(crate) fn take_given(&mut self, seq: u64) -> Option<T> {
        let i = self.given.iter().position(|(s, _)| *s == seq)?;
        Some(self.given.swap_remove(i).1)
    }

    /// Removes waiter `seq` if it is still queued; returns `Some(its item)` then.
    pub(crate) fn leave(&mut self, seq: u64) -> Option<Option<T>> {
        let i = self.q.binary_search_by_key(&seq, |e| e.seq).ok()?;
        self.q.remove(i).map(|e| e.item)
    }

    /// The item of the oldest live waiter, without serving it.
    pub(crate) fn peek_item(&self) -> Option<&T> {
        self.q
            .iter()
            .find(|e| !e.dead)
            .and_then(|e| e.item.as_ref())
    }

    /// Every item still in the queue or handed over and not collected (for `Drop`).
    pub(crate) fn drain_items(&mut self) -> Vec<T> {
        let mut v: Vec<T> = self.q.drain(..).filter_map(|e| e.item).collect();
        v.extend(self.given.drain(..).map(|(_, t)| t));
        v
    }
}

/// How a park of [`park_on`] ended.
pub(crate) enum Parked {
    /// A server woke us (it has taken us off the queue).
    Woken,
    /// The deadline passed. Already off the queue.
    TimedOut,
    /// Killed or refused by the hub; off the queue. The caller returns or raises.
    Failed(ParkError),
}

/// Parks the current green thread as waiter of `list` (selected from the state by
/// `select`), after `prepare` ran on the locked state (the guard is dropped before
/// parking). On return, the waiter is off the queue: `Woken` (served), or the park ended
/// otherwise and the entry was removed; a putter's own item is returned in `back`.
///
/// The caller must hold no other lock.
#[allow(clippy::too_many_arguments)]
pub(crate) fn park_on<S, T>(
    state: &Mutex<S>,
    mut guard: MutexGuard<'_, S>,
    select: impl Fn(&mut S) -> &mut Waiters<T>,
    item: Option<T>,
    what: WaitOn,
    deadline: Option<Instant>,
    external: bool,
    back: &mut Option<T>,
) -> (Parked, u64) {
    let p = Parker::new();
    let seq = select(&mut guard).push(p.waker(), item);
    drop(guard);
    match p.park(what, deadline, external) {
        Ok(Wakeup::Woken) => (Parked::Woken, seq),
        Ok(Wakeup::TimedOut) => {
            let mut g = lock(state);
            if let Some(it) = select(&mut g).leave(seq) {
                *back = it;
            }
            drop(g);
            (Parked::TimedOut, seq)
        }
        Err(e) => {
            let mut g = lock(state);
            if let Some(it) = select(&mut g).leave(seq) {
                *back = it;
            }
            drop(g);
            (Parked::Failed(e), seq)
        }
    }
}

/// Whether `deadline` has passed.
#[inline]
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| d <= Instant::now())
}
