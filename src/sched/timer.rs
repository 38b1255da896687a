//! The hub's timers: a hierarchical timing wheel (Varghese & Lauck) with cancellation in
//! place and exact firing order.
//!
//! # Shape
//!
//! Time is counted in *ticks* of 2^20 ns (about 1.05 ms) since the hub was created. Ten
//! levels of 64 buckets each cover 60 bits of ticks (level `l` buckets span `64^l` ticks);
//! a timer goes to the level of the highest 6-bit group in which its tick differs from the
//! wheel's current tick (`elapsed`), so level 0 holds the timers of the next 64 ticks.
//! Each level keeps a 64-bit mask of its non-empty buckets, so finding the next bucket is a
//! `trailing_zeros`. When the wheel reaches a bucket of a higher level, its timers are
//! *cascaded* to lower levels (at most nine times per timer in all).
//!
//! Every green thread has at most one pending timer (the one of its current park, or its
//! start timer), so entries live in a table indexed by the green thread's slab slot and
//! are linked into their bucket by slot numbers: arming is a few shifts and a list append,
//! cancelling is an unlink, both O(1) whatever the number of pending timers. Nothing stale
//! is left behind, so nothing needs compacting.
//!
//! # Order and precision
//!
//! Buckets are coarse, deadlines are not: each entry keeps its exact `Instant` and a
//! scheduling sequence number `seq`. A tick collects every timer whose deadline is at or
//! before `now` (the whole of each passed level-0 bucket, and the entries of the current
//! bucket whose deadline has come), then sorts that batch by `(deadline, seq)`, so timers
//! fire exactly in the documented order (SPEC section 8): deadline, then scheduling order.
//! The sort only costs when timers fire.
//!
//! A timer fires at the first tick whose clock reading is at or after its deadline, never
//! before. [`next_deadline`](TimerWheel::next_deadline), which the idle hub sleeps until,
//! is the exact earliest deadline when it is within level 0, and otherwise the start of the
//! earliest higher bucket (earlier than any deadline in it: the hub wakes, cascades, and
//! sleeps again), so the wheel adds no lateness of its own: an idle hub's `sleep(d)` ends
//! as soon as the OS wakes the thread after `d`.
//!
//! Ticks are computed in 64-bit nanoseconds: a deadline more than 584 years after the
//! hub's creation is bucketed at that limit (and, being compared exactly, still does not
//! fire before its deadline). Deadlines before the current tick (a `sleep_until`
//! in the past, `sleep(ZERO)`) go to the current bucket and fire at the next tick, after
//! every timer due before them.

use std::collections::TryReserveError;
use std::time::{Duration, Instant};

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Ends the park whose token is `token` with `TimedOut` (sleep, timed park).
    Wake,
    /// Makes the not-yet-started green thread whose start token is `token` runnable
    /// (`spawn_after`, `spawn_after_local`).
    Start,
}

/// One timer that has come due.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer {
    pub(crate) deadline: Instant,
    /// Scheduling order, the tie-breaker for equal deadlines.
    pub(crate) seq: u64,
    /// Slab slot of the target green thread.
    pub(crate) slot: u32,
    /// The target's token at scheduling time; the timer has no effect once they differ.
    pub(crate) token: u64,
    pub(crate) kind: TimerKind,
}

/// log2 of a tick in nanoseconds.
const TICK_SHIFT: u32 = 20;
/// log2 of the buckets per level.
const BITS: u32 = 6;
const LEVELS: usize = 10;
/// The last representable tick: `LEVELS * BITS` bits.
const MAX_TICK: u64 = (1 << (LEVELS as u32 * BITS)) - 1;
/// "No entry" in a link, "in no bucket" for an entry.
const NIL: u32 = u32::MAX;
const NO_BUCKET: u16 = u16::MAX;

/// The table entry of one slab slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    deadline: Instant,
    /// `deadline` in ticks (clamped to `MAX_TICK`), never less than `elapsed` was when
    /// it was (re)inserted.
    when: u64,
    seq: u64,
    token: u64,
    kind: TimerKind,
    /// `level * 64 + bucket`, or `NO_BUCKET` when not pending.
    bucket: u16,
    prev: u32,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    head: u32,
    tail: u32,
}

/// The timer wheel of one hub.
#[derive(Debug)]
pub(crate) struct TimerWheel {
    /// Tick 0.
    epoch: Instant,
    /// The wheel's current tick: every pending entry has `when >= elapsed`.
    elapsed: u64,
    /// The latest clock reading passed to [`advance`](Self::advance) (never after the
    /// real time).
    last_now: Instant,
    /// Indexed by slab slot.
    entries: Vec<Entry>,
    buckets: Box<[Bucket]>,
    occupied: [u64; LEVELS],
    len: usize,
    next_seq: u64,
    /// Due timers, latest first (fired from the back).
    due: Vec<Timer>,
}

impl TimerWheel {
    /// An empty wheel whose tick 0 is `epoch`.
    pub(crate) fn new(epoch: Instant) -> TimerWheel {
        TimerWheel {
            epoch,
            elapsed: 0,
            last_now: epoch,
            entries: Vec::new(),
            buckets: vec![
                Bucket {
                    head: NIL,
                    tail: NIL
                };
                LEVELS << BITS
            ]
            .into_boxed_slice(),
            occupied: [0; LEVELS],
            len: 0,
            next_seq: 0,
            due: Vec::new(),
        }
    }

    /// Number of pending timers (due ones not yet fired excluded).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is pending.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes sure that arming a timer for any slot below `slots`, and firing all of them,
    /// cannot allocate.
    ///
    /// # Errors
    /// If the table cannot grow.
    pub(crate) fn try_reserve_for(&mut self, slots: usize) -> Result<(), TryReserveError> {
        if self.entries.len() < slots {
            self.entries.try_reserve(slots - self.entries.len())?;
            let empty = Entry {
                deadline: self.epoch,
                when: 0,
                seq: 0,
                token: 0,
                kind: TimerKind::Wake,
                bucket: NO_BUCKET,
                prev: NIL,
                next: NIL,
            };
            self.entries.resize(slots, empty);
        }
        if self.due.capacity() < slots {
            self.due.try_reserve(slots - self.due.len())?;
        }
        Ok(())
    }

    /// Slots that can have a timer without the table growing.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.len().min(self.due.capacity())
    }

    /// `t` in ticks since the epoch, rounded down, clamped to `[0, MAX_TICK]`.
    #[inline]
    fn tick_of(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        // secs * 10^9 + nanos fits a u128; shifting first keeps the arithmetic 64-bit for
        // any span up to 584 years, and saturation covers the rest.
        let ns = d
            .as_secs()
            .checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(u64::from(d.subsec_nanos())))
            .unwrap_or(u64::MAX);
        (ns >> TICK_SHIFT).min(MAX_TICK)
    }

    /// The level whose bucket holds a timer at tick `when`, seen from tick `elapsed`.
    #[inline]
    fn level_for(elapsed: u64, when: u64) -> usize {
        let masked = (elapsed ^ when) | ((1 << BITS) - 1);
        let significant = 63 - masked.leading_zeros();
        (significant / BITS) as usize
    }

    /// Schedules a timer for the green thread in `slot`, which must have none pending
    /// (its previous one fired or was [cancelled](Self::cancel)); O(1).
    ///
    /// # Panics
    /// If `slot` was not reserved with [`try_reserve_for`](Self::try_reserve_for).
    #[inline]
    pub(crate) fn push(&mut self, deadline: Instant, slot: u32, token: u64, kind: TimerKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let when = self.tick_of(deadline).max(self.elapsed);
        let e = &mut self.entries[slot as usize];
        debug_assert!(e.bucket == NO_BUCKET, "a second timer for one green thread");
        if e.bucket != NO_BUCKET {
            self.unlink(slot);
            self.len -= 1;
        }
        let e = &mut self.entries[slot as usize];
        e.deadline = deadline;
        e.when = when;
        e.seq = seq;
        e.token = token;
        e.kind = kind;
        self.link(slot, when);
        self.len += 1;
    }

    /// Cancels the pending timer of `slot`, if any; O(1).
    #[inline]
    pub(crate) fn cancel(&mut self, slot: u32) {
        if self
            .entries
            .get(slot as usize)
            .is_some_and(|e| e.bucket != NO_BUCKET)
        {
            self.unlink(slot);
            self.len -= 1;
        }
    }

    /// Appends `i` to the bucket of tick `when`.
    #[inline]
    fn link(&mut self, i: u32, when: u64) {
        let level = Self::level_for(self.elapsed, when);
        let b = (when >> (level as u32 * BITS)) as usize & ((1 << BITS) - 1);
        let idx = (level << BITS) | b;
        let tail = self.buckets[idx].tail;
        {
            let e = &mut self.entries[i as usize];
            e.bucket = idx as u16;
            e.prev = tail;
            e.next = NIL;
        }
        if tail == NIL {
            self.buckets[idx].head = i;
            self.occupied[level] |= 1 << b;
        } else {
            self.entries[tail as usize].next = i;
        }
        self.buckets[idx].tail = i;
    }

    /// Takes `i` out of its bucket.
    #[inline]
    fn unlink(&mut self, i: u32) {
        let (idx, prev, next) = {
            let e = &mut self.entries[i as usize];
            let r = (e.bucket as usize, e.prev, e.next);
            e.bucket = NO_BUCKET;
            r
        };
        if prev == NIL {
            self.buckets[idx].head = next;
        } else {
            self.entries[prev as usize].next = next;
        }
        if next == NIL {
            self.buckets[idx].tail = prev;
        } else {
            self.entries[next as usize].prev = prev;
        }
        if self.buckets[idx].head == NIL {
            self.occupied[idx >> BITS] &= !(1 << (idx & ((1 << BITS) - 1)));
        }
    }

    /// The earliest non-empty bucket: `(level, bucket, its first tick)`. Lower levels
    /// always come first: a level-`l` timer lies beyond the level-`l-1` span of `elapsed`.
    #[inline]
    fn next_bucket(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occ = self.occupied[level];
            if occ == 0 {
                continue;
            }
            let shift = level as u32 * BITS;
            let now_bucket = (self.elapsed >> shift) & ((1 << BITS) - 1);
            debug_assert_eq!(
                occ & !(u64::MAX << now_bucket),
                0,
                "a bucket behind the wheel"
            );
            let b = u64::from(occ.trailing_zeros());
            let span = shift + BITS;
            let level_start = self.elapsed & !((1u64 << span) - 1);
            return Some((level, b as usize, level_start + (b << shift)));
        }
        None
    }

    /// Moves every timer whose deadline is at or before `now` to the due list, in
    /// `(deadline, seq)` order; take them with [`pop_due`](Self::pop_due).
    pub(crate) fn advance(&mut self, now: Instant) {
        if now > self.last_now {
            self.last_now = now;
        }
        let now_tick = self.tick_of(now);
        let first_due = self.due.len();
        while let Some((level, b, start)) = self.next_bucket() {
            if start > now_tick {
                break;
            }
            self.elapsed = self.elapsed.max(start);
            let idx = (level << BITS) | b;
            let mut i = self.buckets[idx].head;
            if level == 0 {
                let whole = start < now_tick;
                while i != NIL {
                    let e = self.entries[i as usize];
                    if whole || e.deadline <= now {
                        self.unlink(i);
                        self.len -= 1;
                        self.due.push(Timer {
                            deadline: e.deadline,
                            seq: e.seq,
                            slot: i,
                            token: e.token,
                            kind: e.kind,
                        });
                    }
                    i = e.next;
                }
                if !whole {
                    // The bucket of `now` itself: nothing after it is due.
                    break;
                }
            } else {
                // Cascade: seen from its first tick, every entry belongs lower down.
                self.buckets[idx] = Bucket {
                    head: NIL,
                    tail: NIL,
                };
                self.occupied[level] &= !(1 << b);
                while i != NIL {
                    let e = self.entries[i as usize];
                    self.link(i, e.when);
                    i = e.next;
                }
            }
        }
        self.elapsed = self.elapsed.max(now_tick);
        let batch = &mut self.due[first_due..];
        if batch.len() > 1 {
            batch.sort_unstable_by_key(|t| (t.deadline, t.seq));
        }
        batch.reverse();
    }

    /// The next due timer moved out by [`advance`](Self::advance).
    #[inline]
    pub(crate) fn pop_due(&mut self) -> Option<Timer> {
        self.due.pop()
    }

    /// Whether `deadline` has certainly passed, judged by the last clock reading the wheel
    /// saw (no clock read; `false` may still be a deadline that passed since).
    #[inline]
    pub(crate) fn surely_passed(&self, deadline: Instant) -> bool {
        deadline <= self.last_now
    }

    /// When the hub must next look at the wheel: the earliest deadline if it lies within
    /// level 0, else the first tick of the earliest bucket (no later than any deadline in
    /// it). `None` if no timer is pending.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let (level, b, start) = self.next_bucket()?;
        let idx = (level << BITS) | b;
        if level == 0 {
            let mut i = self.buckets[idx].head;
            let mut min: Option<Instant> = None;
            while i != NIL {
                let e = &self.entries[i as usize];
                min = Some(min.map_or(e.deadline, |m| m.min(e.deadline)));
                i = e.next;
            }
            return min;
        }
        let head = &self.entries[self.buckets[idx].head as usize];
        let at = start
            .checked_mul(1 << TICK_SHIFT)
            .and_then(|ns| self.epoch.checked_add(Duration::from_nanos(ns)));
        Some(at.map_or(head.deadline, |at| at.min(head.deadline)))
    }

    /// Pending timers, for tests: `(slot, deadline, seq)`, in no particular order.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> Vec<(u32, Instant, u64)> {
        (0..self.entries.len() as u32)
            .filter(|&i| self.entries[i as usize].bucket != NO_BUCKET)
            .map(|i| {
                let e = &self.entries[i as usize];
                (i, e.deadline, e.seq)
            })
            .collect()
    }
}
