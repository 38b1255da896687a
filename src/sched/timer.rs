//! The hub's timers: a hierarchical timing wheel (Varghese & Lauck) with cancellation in
//! place and exact firing order.
//!
//! # Shape
//!
//! Time is counted in *ticks* of 2^20 ns (about 1.05 ms; 1024 per second, the last 70
//! unused, so that converting needs no multiplication) since the hub was created. Ten
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
//! A deadline more than 2^50 seconds (35 million years) after the hub's creation is
//! bucketed at that limit (and, being compared exactly, still does not fire before its
//! deadline). Deadlines before the current tick (a `sleep_until`
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
/// log2 of the ticks per second (some unused, see `tick_of`): 2^10 * 2^20 ns >= 1 s.
const SECOND_BITS: u32 = 10;
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
    /// The instants `[hint.0, hint.1)` all have tick `hint.2`: consecutive timers with
    /// similar timeouts (a lock taken with a timeout in a loop) reuse it, and arm with two
    /// comparisons instead of an `Instant` subtraction.
    hint: (Instant, Instant, u64),
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
            hint: (epoch, epoch, 0),
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
    ///
    /// A tick is 2^20 ns of the current second: `secs * 1024 + (nanos >> 20)`, no
    /// multiplication. Ticks 954 to 1023 of each second are never used, which costs
    /// nothing: all that matters is that the map is monotonic (`a <= b` implies
    /// `tick_of(a) <= tick_of(b)`), so a deadline at or before `now` is never in a later
    /// bucket than `now`.
    #[inline]
    fn tick_of(&self, t: Instant) -> u64 {
        let d = t.saturating_duration_since(self.epoch);
        let secs = d.as_secs().min(MAX_TICK >> SECOND_BITS);
        (secs << SECOND_BITS) | u64::from(d.subsec_nanos() >> TICK_SHIFT)
    }

    /// [`tick_of`](Self::tick_of), from the hint when `t` falls in its tick.
    #[inline(always)]
    fn tick_of_hinted(&mut self, t: Instant) -> u64 {
        let (lo, hi, tick) = self.hint;
        if lo <= t && t < hi {
            return tick;
        }
        self.tick_of_rehint(t)
    }

    #[inline(never)]
    fn tick_of_rehint(&mut self, t: Instant) -> u64 {
        let tick = self.tick_of(t);
        // Not for instants the map clamps (before the epoch, past its range): the hint
        // holds only an interval that maps exactly to one tick.
        if tick < MAX_TICK
            && let (Some(lo), Some(hi)) = (self.instant_of(tick), self.instant_of(tick + 1))
            && lo <= t
            && t < hi
        {
            self.hint = (lo, hi, tick);
        }
        tick
    }

    /// The first instant whose tick is at least `tick` (`None` if the clock cannot
    /// represent it): the inverse of [`tick_of`](Self::tick_of), rounded down.
    fn instant_of(&self, tick: u64) -> Option<Instant> {
        let (secs, sub) = (tick >> SECOND_BITS, tick & ((1 << SECOND_BITS) - 1));
        let d = match u32::try_from(sub << TICK_SHIFT) {
            Ok(ns) if ns < 1_000_000_000 => Duration::new(secs, ns),
            _ => Duration::from_secs(secs.checked_add(1)?),
        };
        self.epoch.checked_add(d)
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
    #[inline(always)]
    pub(crate) fn push(&mut self, deadline: Instant, slot: u32, token: u64, kind: TimerKind) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let when = self.tick_of_hinted(deadline).max(self.elapsed);
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
    #[inline(always)]
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
        Some(
            self.instant_of(start)
                .map_or(head.deadline, |at| at.min(head.deadline)),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64*: a deterministic stream, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The reference: a list of pending `(deadline, seq, slot, token)`; due timers are
    /// those at or before `now`, in `(deadline, seq)` order.
    #[derive(Default)]
    struct Model {
        pending: Vec<(Instant, u64, u32, u64)>,
        seq: u64,
    }

    impl Model {
        fn push(&mut self, deadline: Instant, slot: u32, token: u64) {
            assert!(self.pending.iter().all(|p| p.2 != slot));
            self.pending.push((deadline, self.seq, slot, token));
            self.seq += 1;
        }
        fn cancel(&mut self, slot: u32) {
            self.pending.retain(|p| p.2 != slot);
        }
        fn advance(&mut self, now: Instant) -> Vec<(Instant, u64, u32, u64)> {
            let mut due: Vec<_> = self
                .pending
                .iter()
                .copied()
                .filter(|p| p.0 <= now)
                .collect();
            self.pending.retain(|p| p.0 > now);
            due.sort_by_key(|p| (p.0, p.1));
            due
        }
        fn earliest(&self) -> Option<Instant> {
            self.pending.iter().map(|p| p.0).min()
        }
    }

    fn fired(w: &mut TimerWheel, now: Instant) -> Vec<(Instant, u64, u32, u64)> {
        w.advance(now);
        std::iter::from_fn(|| w.pop_due().map(|t| (t.deadline, t.seq, t.slot, t.token))).collect()
    }

    /// An offset from a mix of scales: equal deadlines, sub-tick, within level 0, seconds,
    /// hours, years.
    fn offset(rng: &mut Rng) -> Duration {
        match rng.below(8) {
            0 => Duration::ZERO,
            1 => Duration::from_nanos(rng.below(1 << 20)),
            2 | 3 => Duration::from_micros(rng.below(70_000)),
            4 => Duration::from_millis(rng.below(5_000)),
            5 => Duration::from_millis(5 * rng.below(4)), // many equal deadlines
            6 => Duration::from_secs(rng.below(10 * 3600)),
            _ => Duration::from_secs(rng.below(200 * 365 * 86_400)),
        }
    }

    /// Random arms, cancels, re-arms and clock advances (small steps, jumps over many
    /// buckets, idle-hub wakes at `next_deadline`) give exactly the reference's firing
    /// order, and `next_deadline` never lies after the earliest deadline.
    #[test]
    fn wheel_matches_the_reference_model() {
        const SLOTS: u32 = 48;
        for seed in 1..=12u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let epoch = Instant::now();
            let mut wheel = TimerWheel::new(epoch);
            wheel.try_reserve_for(SLOTS as usize).unwrap();
            let mut model = Model::default();
            let mut now = epoch;
            let mut fired_total = 0;
            for step in 0..20_000u64 {
                match rng.below(10) {
                    0..=3 => {
                        let slot = rng.below(u64::from(SLOTS)) as u32;
                        // A slot's previous timer ends first (as a park ends before the
                        // next one starts).
                        wheel.cancel(slot);
                        model.cancel(slot);
                        // Mostly ahead of `now`, sometimes in the past.
                        let d = if rng.below(10) == 0 {
                            now.checked_sub(offset(&mut rng)).unwrap_or(now)
                        } else {
                            now + offset(&mut rng)
                        };
                        wheel.push(d, slot, step, TimerKind::Wake);
                        model.push(d, slot, step);
                    }
                    4 | 5 => {
                        let slot = rng.below(u64::from(SLOTS)) as u32;
                        wheel.cancel(slot);
                        model.cancel(slot);
                    }
                    6 | 7 => {
                        now += match rng.below(4) {
                            0 => Duration::ZERO,
                            1 => Duration::from_nanos(rng.below(1 << 21)),
                            2 => Duration::from_millis(rng.below(300)),
                            _ => offset(&mut rng),
                        };
                        let got = fired(&mut wheel, now);
                        fired_total += got.len();
                        assert_eq!(got, model.advance(now), "seed {seed} step {step}");
                    }
                    _ => {
                        // An idle hub: sleep until `next_deadline`, tick.
                        let next = wheel.next_deadline();
                        let earliest = model.earliest();
                        assert_eq!(next.is_some(), earliest.is_some());
                        if let (Some(n), Some(e)) = (next, earliest) {
                            assert!(n <= e, "the hub would sleep past a deadline");
                            now = now.max(n);
                            let got = fired(&mut wheel, now);
                            fired_total += got.len();
                            assert_eq!(got, model.advance(now), "seed {seed} step {step}");
                        }
                    }
                }
                assert_eq!(wheel.len(), model.pending.len());
            }
            assert!(fired_total > 1000, "the test fires timers");
        }
    }

    /// Precision, deterministically: an idle hub that sleeps exactly until
    /// `next_deadline` and ticks fires each timer at its deadline to the nanosecond, never
    /// before it, and wakes at most a few times for a far timer (a cascade per level).
    #[test]
    fn an_idle_wheel_fires_each_timer_exactly_at_its_deadline() {
        let epoch = Instant::now();
        let spans = [
            Duration::from_nanos(1),
            Duration::from_micros(1500),
            Duration::from_millis(63),
            Duration::from_millis(999),
            Duration::from_secs(3 * 3600),
            Duration::from_secs(100 * 365 * 86_400), // sleep(Duration::MAX)'s deadline
        ];
        for (i, span) in spans.into_iter().enumerate() {
            let mut w = TimerWheel::new(epoch);
            w.try_reserve_for(1).unwrap();
            let start = epoch + Duration::from_nanos(123_456_789 * i as u64);
            w.advance(start);
            let deadline = start + span;
            w.push(deadline, 0, 7, TimerKind::Wake);
            let mut now = start;
            let mut wakes = 0;
            loop {
                let next = w.next_deadline().unwrap();
                assert!(next > now || next == deadline, "no progress");
                assert!(next <= deadline);
                // One nanosecond early: nothing fires.
                if next == deadline
                    && let Some(early) = deadline.checked_sub(Duration::from_nanos(1))
                    && early >= now
                {
                    assert!(fired(&mut w, early).is_empty(), "fired early");
                }
                now = next;
                wakes += 1;
                let got = fired(&mut w, now);
                if !got.is_empty() {
                    assert_eq!(got[0].0, deadline);
                    assert_eq!(now, deadline, "late");
                    break;
                }
            }
            assert!(wakes <= LEVELS + 1, "{wakes} wakes for {span:?}");
        }
    }

    /// Deadlines the wheel cannot bucket exactly (before the epoch, or past its range)
    /// still fire in order and never early.
    #[test]
    fn extreme_deadlines_keep_order_and_never_fire_early() {
        let epoch = Instant::now();
        let mut w = TimerWheel::new(epoch);
        w.try_reserve_for(4).unwrap();
        let far = Duration::from_secs(1 << 52); // beyond MAX_TICK's range
        if let Some(very_far) = epoch.checked_add(far) {
            w.push(very_far, 0, 0, TimerKind::Wake);
            w.push(very_far, 1, 1, TimerKind::Start);
            assert!(fired(&mut w, epoch + Duration::from_secs(1 << 50)).is_empty());
            let got: Vec<u32> = fired(&mut w, very_far).iter().map(|t| t.2).collect();
            assert_eq!(got, [0, 1]);
        }
        // (A fresh wheel: the clock never goes back.)
        let mut w = TimerWheel::new(epoch);
        w.try_reserve_for(4).unwrap();
        if let Some(before) = epoch.checked_sub(Duration::from_secs(1)) {
            w.push(epoch, 2, 2, TimerKind::Wake);
            w.push(before, 3, 3, TimerKind::Wake);
            let got: Vec<u32> = fired(&mut w, epoch).iter().map(|t| t.2).collect();
            assert_eq!(got, [3, 2]);
        }
    }

    /// The tick map is monotonic and `instant_of` is its exact inverse.
    #[test]
    fn ticks_are_monotonic_and_invertible() {
        let epoch = Instant::now();
        let w = TimerWheel::new(epoch);
        let mut rng = Rng(99);
        for _ in 0..10_000 {
            let a = epoch + Duration::from_nanos(rng.below(10_000_000_000));
            let b = a + Duration::from_nanos(rng.below(3_000_000));
            assert!(w.tick_of(a) <= w.tick_of(b));
            let t = w.tick_of(a);
            let lo = w.instant_of(t).unwrap();
            assert!(lo <= a && w.tick_of(lo) == t);
            if let Some(before) = lo.checked_sub(Duration::from_nanos(1))
                && before >= epoch
            {
                assert!(w.tick_of(before) < t);
            }
        }
    }
}
