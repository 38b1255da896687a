//! Intrusive FIFO lists of green threads: the hub's run queue and each green thread's list
//! of join waiters.
//!
//! # Fairness
//!
//! Strict FIFO: [`List::push_back`] appends, [`List::pop_front`] takes the oldest. The hub
//! puts every green thread that becomes runnable (spawned, yielded, woken, timer fired) at
//! the back of the run queue and always runs the front, so a green thread that is ready
//! runs after at most one turn of every green thread ready before it. `yield_now` therefore
//! lets every other ready green thread run once, then continues.
//!
//! # Why intrusive
//!
//! The links live in the control block ([`Green::prev`], [`Green::next`], [`Green::list`]).
//! A green thread is on at most one list at a time (it is either runnable, in the run
//! queue, or parked, possibly in one join-waiter list), so one pair of links serves both.
//! That gives O(1) removal from the middle (a killed waiter leaves the list it waits in; a
//! ready green thread killed out of turn leaves the run queue), no allocation ever, and no
//! stale entries to skip, so "in the run queue" and "state is Ready/New" stay exactly
//! equivalent (see `green.rs`, invariant I2).
//!
//! The lists hold plain pointers and no reference count: every green thread on a list is
//! alive because the hub's slab holds a reference to every green thread that is not dead,
//! and a green thread is taken off every list before it dies (invariant I1 in `green.rs`).

use core::cell::Cell;
use core::ptr;

use super::green::{GPtr, Green};

/// A FIFO of green threads linked through their control blocks.
pub(crate) struct List {
    head: Cell<*const Green>,
    tail: Cell<*const Green>,
    len: Cell<usize>,
}

impl List {
    /// An empty list.
    pub(crate) const fn new() -> List {
        List {
            head: Cell::new(ptr::null()),
            tail: Cell::new(ptr::null()),
            len: Cell::new(0),
        }
    }

    /// Number of green threads on the list.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len.get()
    }

    /// Whether the list is empty.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.get().is_null()
    }

    /// Whether `g` is on this list.
    #[inline]
    pub(crate) fn contains(&self, g: &Green) -> bool {
        ptr::eq(g.list.get(), self)
    }

    /// Appends `g`.
    ///
    /// # Safety
    /// `g` must be on no list, and its control block must stay alive until it has been
    /// taken off again ([`pop_front`](Self::pop_front) or [`remove`](Self::remove)); the
    /// list must not move while `g` is on it.
    #[inline]
    pub(crate) unsafe fn push_back(&self, g: &Green) {
        if !g.list.get().is_null() {
            crate::fatal::fatal!("green thread {} put on a second list", g.id);
        }
        g.list.set(self);
        g.next.set(ptr::null());
        let tail = self.tail.get();
        g.prev.set(tail);
        if tail.is_null() {
            self.head.set(g);
        } else {
            // SAFETY: `tail` is on this list, so it is alive (this function's contract).
            unsafe { (*tail).next.set(g) };
        }
        self.tail.set(g);
        self.len.set(self.len.get() + 1);
    }

    /// Takes the oldest green thread off the list.
    #[inline]
    pub(crate) fn pop_front(&self) -> Option<GPtr> {
        let head = self.head.get();
        if head.is_null() {
            return None;
        }
        // SAFETY: `head` is on this list, so it is alive (`push_back`'s contract).
        let g = unsafe { &*head };
        self.unlink(g);
        Some(GPtr::from(g))
    }

    /// Takes `g` off the list; false if it was not on it.
    #[inline]
    pub(crate) fn remove(&self, g: &Green) -> bool {
        if !self.contains(g) {
            return false;
        }
        self.unlink(g);
        true
    }

    /// Unlinks `g`, which is on this list.
    #[inline]
    fn unlink(&self, g: &Green) {
        let (prev, next) = (g.prev.get(), g.next.get());
        if prev.is_null() {
            self.head.set(next);
        } else {
            // SAFETY: `prev` is on this list, so it is alive (`push_back`'s contract).
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail.set(prev);
        } else {
            // SAFETY: as above, for `next`.
            unsafe { (*next).prev.set(prev) };
        }
        g.prev.set(ptr::null());
        g.next.set(ptr::null());
        g.list.set(ptr::null());
        self.len.set(self.len.get() - 1);
    }
}
