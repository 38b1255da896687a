//! The engine shared by every queue and channel: a buffer with a discipline, an optional
//! bound, FIFO lists of blocked getters and putters, and direct hand-off.
//!
//! # Invariants (under the state lock)
//!
//! - A live getter is queued only while no item is available: the buffer is empty and
//!   no live putter waits. So a put first offers its item to the oldest live getter
//!   (direct hand-off: the getter does not compete for it again, nobody barges).
//! - A live putter is queued only while the buffer is at its bound (or the bound is 0).
//!   A get that frees a slot moves the oldest live putter's item into the buffer (or, at
//!   bound 0, takes it directly) and wakes it.
//! - An item is in exactly one place: the buffer, a putter's entry, the hand-off list of
//!   a served getter, or its owner's hands. A waiter whose park ended otherwise (timeout,
//!   kill) is skipped by servers (`can_wake()` is false) and takes its own entry out.
//! - Servers hand over under the lock and wake after unlocking. A waiter whose park ended
//!   before that wake (so the wake fails) finds its entry gone when it leaves: it was
//!   served. A getter then returns its handed item, a putter success; a kill or timeout
//!   that ended the park is raised at the next switch point instead, as when a wake wins
//!   the race (nothing lost, nothing duplicated).
//!
//! See `sync/waiters.rs` for the hand-off protocol and the lock rules.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::sched::{ParkError, WaitOn, check_interrupt};
use crate::sync::{Parked, Waiters, expired, lock_state as lock, park_on};

/// A buffer discipline: where `push` puts and `pop` takes (the storage of a
/// [`Queue`](super::Queue) of each [`Order`](super::Order)). Implemented for the
/// standard collections the orders use; its methods are internal.
pub trait Buffer<T>: Default {
    #[doc(hidden)]
    fn push(&mut self, t: T);
    #[doc(hidden)]
    fn pop(&mut self) -> Option<T>;
    #[doc(hidden)]
    fn peek(&self) -> Option<&T>;
    #[doc(hidden)]
    fn len(&self) -> usize;
    #[doc(hidden)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    #[doc(hidden)]
    fn drain_all(&mut self) -> Vec<T>;
}

impl<T> Buffer<T> for VecDeque<T> {
    fn push(&mut self, t: T) {
        self.push_back(t);
    }
    fn pop(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn peek(&self) -> Option<&T> {
        self.front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn drain_all(&mut self) -> Vec<T> {
        self.drain(..).collect()
    }
}

impl<T> Buffer<T> for Vec<T> {
    fn push(&mut self, t: T) {
        Vec::push(self, t);
    }
    fn pop(&mut self) -> Option<T> {
        Vec::pop(self)
    }
    fn peek(&self) -> Option<&T> {
        self.last()
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn drain_all(&mut self) -> Vec<T> {
        core::mem::take(self)
    }
}

impl<T: Ord> Buffer<T> for BinaryHeap<Reverse<T>> {
    fn push(&mut self, t: T) {
        BinaryHeap::push(self, Reverse(t));
    }
    fn pop(&mut self) -> Option<T> {
        BinaryHeap::pop(self).map(|r| r.0)
    }
    fn peek(&self) -> Option<&T> {
        BinaryHeap::peek(self).map(|r| &r.0)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
    fn drain_all(&mut self) -> Vec<T> {
        self.drain().map(|r| r.0).collect()
    }
}

pub(crate) struct State<T, B> {
    pub(crate) buf: B,
    /// `None`: unbounded.
    pub(crate) maxsize: Option<usize>,
    getters: Waiters<T>,
    putters: Waiters<T>,
    /// Woken (not served) whenever an item becomes available or the state closes:
    /// `select` and wait-on-several.
    watchers: Waiters<()>,
    /// No more items will come (every sender dropped).
    pub(crate) tx_closed: bool,
    /// Nobody will take items any more (the receiver dropped).
    pub(crate) rx_closed: bool,
    /// Items put and not yet marked done (`JoinableQueue`).
    pub(crate) unfinished: usize,
    joiners: Waiters<()>,
}

/// Why a put did not go through; carries the item back.
#[derive(Debug)]
pub(crate) enum PutFail<T> {
    Full(T),
    Disconnected(T),
    Hub(ParkError, T),
}

/// Why a get returned no item.
#[derive(Debug)]
pub(crate) enum GetFail {
    Empty,
    Disconnected,
    Hub(ParkError),
}

pub(crate) struct Core<T, B> {
    pub(crate) state: Mutex<State<T, B>>,
    pub(crate) local: bool,
    kind: &'static str,
}

impl<T, B: Buffer<T>> Core<T, B> {
    pub(crate) fn new(maxsize: Option<usize>, local: bool, kind: &'static str) -> Self {
        Core {
            state: Mutex::new(State {
                buf: B::default(),
                maxsize,
                getters: Waiters::new(),
                putters: Waiters::new(),
                watchers: Waiters::new(),
                tx_closed: false,
                rx_closed: false,
                unfinished: 0,
                joiners: Waiters::new(),
            }),
            local,
            kind,
        }
    }

    fn what(&self) -> WaitOn {
        WaitOn::Object {
            kind: self.kind,
            addr: self as *const Self as usize,
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State<T, B>> {
        lock(&self.state)
    }

    /// Puts `item`, waiting (if `block`) until `deadline` for room.
    pub(crate) fn put(
        &self,
        mut item: T,
        block: bool,
        deadline: Option<Instant>,
    ) -> Result<(), PutFail<T>> {
        loop {
            let mut s = self.lock();
            if s.rx_closed {
                return Err(PutFail::Disconnected(item));
            }
            if let Some((seq, waker, _)) = s.getters.serve_one() {
                // Direct hand-off to the oldest waiting getter; woken after unlocking.
                s.getters.put_given(seq, item);
                s.unfinished += 1;
                drop(s);
                waker.wake();
                return Ok(());
            }
            if s.maxsize.is_none_or(|m| s.buf.len() < m) {
                s.buf.push(item);
                s.unfinished += 1;
                s.watchers.wake_all_plain();
                return Ok(());
            }
            if !block || expired(deadline) {
                return Err(PutFail::Full(item));
            }
            // At bound 0 a waiting putter is what a getter takes: watchers may go on.
            s.watchers.wake_all_plain();
            let mut back = None;
            let (parked, seq) = park_on(
                &self.state,
                s,
                |s: &mut State<T, B>| &mut s.putters,
                Some(item),
                self.what(),
                deadline,
                !self.local,
                &mut back,
            );
            // `back` is our item if our entry was still queued; `None` means a getter
            // took it (served), even if our park then ended otherwise: the put happened.
            match parked {
                Parked::Woken => {
                    // Served (our item was taken), or woken to learn of a disconnection
                    // (our item was given back).
                    return match self.lock().putters.take_given(seq) {
                        Some(it) => Err(PutFail::Disconnected(it)),
                        None => Ok(()),
                    };
                }
                Parked::TimedOut => {
                    return match back {
                        Some(it) => Err(PutFail::Full(it)),
                        None => Ok(()),
                    };
                }
                Parked::Failed(ParkError::Interrupted) => {
                    let Some(it) = back else {
                        // Served: the kill (or timeout) is raised at the next switch point.
                        return Ok(());
                    };
                    check_interrupt();
                    // An interrupt handler returned: try again.
                    item = it;
                }
                Parked::Failed(e) => {
                    return match back {
                        Some(it) => Err(PutFail::Hub(e, it)),
                        None => Ok(()),
                    };
                }
            }
        }
    }

    /// Takes an item from the buffer or a waiting putter, under the lock; also returns
    /// the waker of a putter it served, to be woken after unlocking.
    fn take_now(s: &mut State<T, B>) -> (Option<T>, Option<crate::sched::Waker>) {
        if let Some(item) = s.buf.pop() {
            if s.maxsize.is_none_or(|m| s.buf.len() < m)
                && let Some((_, waker, Some(it))) = s.putters.serve_one()
            {
                s.buf.push(it);
                return (Some(item), Some(waker));
            }
            return (Some(item), None);
        }
        if let Some((_, waker, Some(it))) = s.putters.serve_one() {
            return (Some(it), Some(waker));
        }
        (None, None)
    }

    /// Gets an item, waiting (if `block`) until `deadline`.
    pub(crate) fn get(&self, block: bool, deadline: Option<Instant>) -> Result<T, GetFail> {
        loop {
            let mut s = self.lock();
            let (got, waker) = Self::take_now(&mut s);
            if let Some(item) = got {
                drop(s);
                if let Some(w) = waker {
                    // A failed wake is fine: the putter sees its entry gone (served).
                    w.wake();
                }
                return Ok(item);
            }
            if s.tx_closed {
                return Err(GetFail::Disconnected);
            }
            if !block || expired(deadline) {
                return Err(GetFail::Empty);
            }
            let mut back = None;
            let (parked, seq) = park_on(
                &self.state,
                s,
                |s: &mut State<T, B>| &mut s.getters,
                None,
                self.what(),
                deadline,
                !self.local,
                &mut back,
            );
            if !matches!(parked, Parked::Woken) {
                // Served just as the park ended otherwise (the put's wake came too late):
                // the item is ours; a kill or timeout is raised at the next switch point.
                if let Some(it) = self.lock().getters.take_given(seq) {
                    return Ok(it);
                }
            }
            match parked {
                Parked::Woken => {
                    if let Some(it) = self.lock().getters.take_given(seq) {
                        return Ok(it);
                    }
                    // Woken by a disconnection: look again.
                }
                Parked::TimedOut => return Err(GetFail::Empty),
                Parked::Failed(ParkError::Interrupted) => check_interrupt(),
                Parked::Failed(e) => return Err(GetFail::Hub(e)),
            }
        }
    }

    /// Whether a get would find an item (or a disconnection) now.
    pub(crate) fn ready_to_get(&self) -> bool {
        let s = self.lock();
        !s.buf.is_empty() || s.putters.has_live() || s.tx_closed
    }

    /// Changes the bound; waiting putters whose items now fit are served.
    pub(crate) fn resize(&self, maxsize: Option<usize>) {
        let mut s = self.lock();
        s.maxsize = maxsize;
        while s.maxsize.is_none_or(|m| s.buf.len() < m) {
            match s.putters.wake_one() {
                Some((_, Some(it))) => s.buf.push(it),
                _ => break,
            }
        }
    }

    /// Every sender is gone: getters learn it when the buffer is empty.
    pub(crate) fn close_tx(&self) {
        let mut s = self.lock();
        s.tx_closed = true;
        s.getters.wake_all();
        s.watchers.wake_all_plain();
    }

    /// The receiver is gone: putters get their items back; buffered items are dropped
    /// (outside the lock).
    pub(crate) fn close_rx(&self) {
        let mut s = self.lock();
        s.rx_closed = true;
        for (seq, item) in s.putters.wake_all() {
            if let Some(it) = item {
                s.putters.put_given(seq, it);
            }
        }
        let dropped = s.buf.drain_all();
        drop(s);
        drop(dropped);
    }

    /// Registers a readiness watcher (woken, not served, when an item may be available).
    pub(crate) fn watch(&self, waker: crate::sched::Waker) -> u64 {
        self.lock().watchers.push(waker, None)
    }

    /// Removes a watcher registered with [`watch`](Self::watch).
    pub(crate) fn unwatch(&self, seq: u64) {
        self.lock().watchers.leave(seq);
    }

    /// `task_done`: false if nothing is unfinished.
    pub(crate) fn task_done(&self) -> bool {
        let mut s = self.lock();
        if s.unfinished == 0 {
            return false;
        }
        s.unfinished -= 1;
        if s.unfinished == 0 {
            s.joiners.wake_all_plain();
        }
        true
    }

    /// `join`: waits until every item put has been marked done.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> Result<bool, ParkError> {
        crate::sync::wait_until(
            &self.state,
            |s: &mut State<T, B>| &mut s.joiners,
            |s| s.unfinished == 0,
            self.what(),
            deadline,
            !self.local,
        )
    }

    /// Every item still held (for drops outside the lock).
    pub(crate) fn drain(&self) -> Vec<T> {
        let mut s = self.lock();
        let mut v = s.buf.drain_all();
        v.extend(s.putters.drain_items());
        v.extend(s.getters.drain_items());
        v
    }

    /// A clone of the next item a get would take, if any.
    pub(crate) fn peek(&self) -> Option<T>
    where
        T: Clone,
    {
        // The one user code run under the state lock: `T::clone`, which must not block
        // (documented on `peek`); the item cannot be moved out to clone it outside.
        let s = self.lock();
        s.buf.peek().or_else(|| s.putters.peek_item()).cloned()
    }
}
