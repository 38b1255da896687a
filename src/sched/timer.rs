//! The hub's timers: a binary min-heap keyed by `(deadline, seq)`, with lazy cancellation.
//!
//! # Order
//!
//! `seq` is a per-heap counter taken when the timer is scheduled, so timers with equal
//! deadlines fire in the order they were scheduled (SPEC section 8). The hub fires every
//! expired timer of a tick in heap order and appends each woken green thread to the back of
//! the run queue, so they then run in that same order.
//!
//! # Cancellation
//!
//! A timer names its target by slot and *token* (see `green.rs`): the park sequence number
//! of the park it may time out, or the start token of a green thread waiting for
//! `spawn_after`. Ending a park any other way, or killing a green thread before its start
//! timer, changes the target's token, so the entry is *stale*: it stays in the heap and is
//! ignored when it surfaces (O(1) to cancel). To keep stale entries from piling up (a lock
//! acquired with a timeout in a loop leaves one per acquire), the hub counts cancellations
//! and, once more than half of a heap of at least [`COMPACT_MIN`] entries is stale,
//! rebuilds it with only the live entries: O(n) work after at least n/2 cancellations, so
//! O(1) amortised per cancellation.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Ends the park whose token is `token` with `TimedOut` (sleep, timed park).
    Wake,
    /// Makes the not-yet-started green thread whose start token is `token` runnable
    /// (`spawn_after`, `spawn_after_local`).
    Start,
}

/// One scheduled timer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer {
    pub(crate) deadline: Instant,
    /// Scheduling order, the tie-breaker for equal deadlines.
    pub(crate) seq: u64,
    /// Slab slot of the target green thread.
    pub(crate) slot: u32,
    /// The target's token at scheduling time; the timer is stale once they differ.
    pub(crate) token: u64,
    pub(crate) kind: TimerKind,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Timer {}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest `(deadline, seq)`.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// A heap smaller than this is never compacted: scanning it costs more than it saves.
pub(crate) const COMPACT_MIN: usize = 64;

/// The timer heap of one hub.
#[derive(Debug, Default)]
pub(crate) struct TimerHeap {
    heap: BinaryHeap<Timer>,
    next_seq: u64,
    /// Cancellations noted since the last compaction (an upper bound on stale entries).
    stale: usize,
}

impl TimerHeap {
    /// An empty heap.
    pub(crate) fn new() -> TimerHeap {
        TimerHeap::default()
    }

    /// Number of entries, stale ones included.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether there are no entries at all.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Makes sure pushes cannot reallocate while `live` green threads exist: each has at
    /// most one live entry, and compaction keeps stale entries from outnumbering the live
    /// ones by more than [`COMPACT_MIN`], so the heap never holds more than
    /// `2 * live + COMPACT_MIN` entries.
    ///
    /// # Errors
    /// If the heap cannot grow.
    pub(crate) fn try_reserve_for(
        &mut self,
        live: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        let need = 2 * live + COMPACT_MIN + 2;
        if self.heap.capacity() < need {
            self.heap.try_reserve(need - self.heap.len())?;
        }
        Ok(())
    }

    /// Entries the heap can hold without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        self.heap.capacity()
    }

    /// Schedules a timer; O(log n).
    pub(crate) fn push(&mut self, deadline: Instant, slot: u32, token: u64, kind: TimerKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Timer {
            deadline,
            seq,
            slot,
            token,
            kind,
        });
    }

    /// The earliest entry, stale or not.
    pub(crate) fn peek(&self) -> Option<&Timer> {
        self.heap.peek()
    }

    /// Removes the earliest entry.
    pub(crate) fn pop(&mut self) -> Option<Timer> {
        let t = self.heap.pop();
        // Stale entries also leave this way; keep the estimate an upper bound that shrinks.
        self.stale = self.stale.min(self.heap.len());
        t
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek()?.deadline <= now {
            self.pop()
        } else {
            None
        }
    }

    /// Notes that one entry became stale; compacts the heap, keeping the entries for which
    /// `live` is true, once stale entries may be the majority.
    pub(crate) fn note_stale(&mut self, live: impl FnMut(&Timer) -> bool) {
        self.stale += 1;
        if self.heap.len() >= COMPACT_MIN && self.stale * 2 > self.heap.len() {
            self.heap.retain(live);
            self.stale = 0;
        }
    }
}
