//! Waiting on several objects at once: [`wait`] (gevent's `gevent.wait(objects, timeout,
//! count)`), [`iwait`] (gevent's `iwait`) and [`select`] (the first ready of several,
//! like a `select` over channels and events).
//!
//! Anything [`Waitable`] can be waited on: [`Event`], [`AsyncResult`], [`Queue`] and
//! channel [`Receiver`]s (ready when a get would find an item, or a receiver would learn
//! of a disconnection), [`GreenThread`]s (ready when finished), and their [`Local`]
//! flavours. The wait is for **readiness**: it takes nothing. After [`select`] says a
//! receiver is ready, `try_recv` it; if another green thread of the same OS thread took
//! the item first (a receiver shared through an `Rc`), wait again.
//!
//! One park serves all the objects: each gets a waker of it, the first one to fire wins,
//! the others' wakes return false and are removed afterwards. Killable and timeoutable;
//! a deadlock is reported only when every object is a one-OS-thread one.
//!
//! ```
//! use std::time::Duration;
//! use greenthread::channel::channel;
//! use greenthread::select::select;
//! use greenthread::sync::Event;
//!
//! let (tx, rx) = channel::<&str>();
//! let stop = Event::new();
//! greenthread::spawn(move || tx.send("work").unwrap());
//! match select(&[&rx, &stop], None).unwrap() {
//!     Some(0) => assert_eq!(rx.try_recv(), Ok("work")),
//!     Some(1) => unreachable!("nobody sets stop"),
//!     _ => unreachable!("no timeout given"),
//! }
//! # let _ = Duration::ZERO;
//! ```

use core::fmt;
use std::time::{Duration, Instant};

use crate::channel::Receiver;
use crate::queue::{Order, Queue};
use crate::sched::{GreenThread, LinkId, ParkError, Parker, WaitOn, Waker, check_interrupt};
use crate::sync::{AsyncResult, Event, Local, deadline_after, expired};

/// A registration made by [`Waitable::watch`], for [`Waitable::unwatch`]. Opaque.
#[derive(Debug)]
pub struct Watch(WatchKind);

#[derive(Debug)]
enum WatchKind {
    Seq(u64),
    Link(LinkId),
}

/// Something a green thread can wait for among others (see the [module docs](self)).
/// Implemented by this crate's objects; the registration methods are internal.
pub trait Waitable {
    /// Whether a wait for it would return now.
    fn is_ready(&self) -> bool;
    /// Registers `waker` to be woken when it may have become ready.
    #[doc(hidden)]
    fn watch(&self, waker: Waker) -> Watch;
    /// Removes a registration of [`watch`](Self::watch).
    #[doc(hidden)]
    fn unwatch(&self, watch: Watch);
    /// Whether another OS thread may make it ready (its waits are not deadlock-checked).
    #[doc(hidden)]
    fn is_external(&self) -> bool;
}

impl Waitable for Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
    fn watch(&self, waker: Waker) -> Watch {
        Watch(WatchKind::Seq(self.watch_waker(waker)))
    }
    fn unwatch(&self, watch: Watch) {
        if let WatchKind::Seq(s) = watch.0 {
            self.unwatch_seq(s);
        }
    }
    fn is_external(&self) -> bool {
        !self.is_local()
    }
}

impl<T, E> Waitable for AsyncResult<T, E> {
    fn is_ready(&self) -> bool {
        self.ready()
    }
    fn watch(&self, waker: Waker) -> Watch {
        Watch(WatchKind::Seq(self.watch_waker(waker)))
    }
    fn unwatch(&self, watch: Watch) {
        if let WatchKind::Seq(s) = watch.0 {
            self.unwatch_seq(s);
        }
    }
    fn is_external(&self) -> bool {
        !self.is_local()
    }
}

impl<T, O: Order<T>> Waitable for Queue<T, O> {
    fn is_ready(&self) -> bool {
        self.core().ready_to_get()
    }
    fn watch(&self, waker: Waker) -> Watch {
        Watch(WatchKind::Seq(self.core().watch(waker)))
    }
    fn unwatch(&self, watch: Watch) {
        if let WatchKind::Seq(s) = watch.0 {
            self.core().unwatch(s);
        }
    }
    fn is_external(&self) -> bool {
        !self.core().local
    }
}

impl<T> Waitable for Receiver<T> {
    fn is_ready(&self) -> bool {
        self.core().ready_to_get()
    }
    fn watch(&self, waker: Waker) -> Watch {
        Watch(WatchKind::Seq(self.core().watch(waker)))
    }
    fn unwatch(&self, watch: Watch) {
        if let WatchKind::Seq(s) = watch.0 {
            self.core().unwatch(s);
        }
    }
    fn is_external(&self) -> bool {
        !self.core().local
    }
}

impl<T: 'static> Waitable for GreenThread<T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
    fn watch(&self, waker: Waker) -> Watch {
        Watch(WatchKind::Link(self.link(move |_| {
            waker.wake();
        })))
    }
    fn unwatch(&self, watch: Watch) {
        if let WatchKind::Link(id) = watch.0 {
            self.unlink(id);
        }
    }
    fn is_external(&self) -> bool {
        false
    }
}

impl<W: Waitable> Waitable for Local<W> {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn watch(&self, waker: Waker) -> Watch {
        (**self).watch(waker)
    }
    fn unwatch(&self, watch: Watch) {
        (**self).unwatch(watch);
    }
    fn is_external(&self) -> bool {
        (**self).is_external()
    }
}

impl<W: Waitable + ?Sized> Waitable for &W {
    fn is_ready(&self) -> bool {
        (**self).is_ready()
    }
    fn watch(&self, waker: Waker) -> Watch {
        (**self).watch(waker)
    }
    fn unwatch(&self, watch: Watch) {
        (**self).unwatch(watch);
    }
    fn is_external(&self) -> bool {
        (**self).is_external()
    }
}

/// Blocks until at least one object not in `seen` is ready (or the deadline). Returns the
/// indexes of every ready object.
fn wait_round(
    objects: &[&dyn Waitable],
    deadline: Option<Instant>,
    enough: impl Fn(&[usize]) -> bool,
) -> Result<Vec<usize>, ParkError> {
    let ready_now = || -> Vec<usize> {
        (0..objects.len())
            .filter(|&i| objects[i].is_ready())
            .collect()
    };
    loop {
        let ready = ready_now();
        if enough(&ready) || expired(deadline) {
            return Ok(ready);
        }
        let p = Parker::new();
        let watches: Vec<(usize, Watch)> = (0..objects.len())
            .filter(|i| !ready.contains(i))
            .map(|i| (i, objects[i].watch(p.waker())))
            .collect();
        // Something may have become ready before its watch was registered: look again
        // (a wake after the registration is never lost).
        let again = ready_now();
        let r = if again.len() != ready.len() {
            p.cancel();
            Ok(crate::sched::Wakeup::Woken)
        } else {
            let external = objects.iter().any(|o| o.is_external());
            p.park(WaitOn::Other("several objects"), deadline, external)
        };
        for (i, w) in watches {
            objects[i].unwatch(w);
        }
        match r {
            Ok(_) => {}
            Err(ParkError::Interrupted) => check_interrupt(),
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `count` of `objects` are ready (`None`: all of them), at most `timeout`
/// (`None`: no limit); returns the indexes of the ready ones, in index order (gevent's
/// `wait(objects, timeout, count)`, which returns the objects). On timeout, fewer than
/// `count` may be returned.
///
/// # Errors
/// [`ParkError::Deadlock`] (every object is local and nothing can make enough of them
/// ready), [`ParkError::Panicking`]. A kill unwinds.
///
/// ```
/// use greenthread::sync::Event;
///
/// let (a, b) = (Event::new(), Event::new());
/// b.set();
/// assert_eq!(greenthread::select::wait(&[&a, &b], None, Some(1)).unwrap(), [1]);
/// ```
pub fn wait(
    objects: &[&dyn Waitable],
    timeout: Option<Duration>,
    count: Option<usize>,
) -> Result<Vec<usize>, ParkError> {
    let need = count.unwrap_or(objects.len()).min(objects.len());
    wait_round(objects, timeout.and_then(deadline_after), |r| {
        r.len() >= need
    })
}

/// Waits until one of `objects` is ready, at most `timeout`; returns its index (the
/// lowest ready one), or `None` on timeout.
///
/// # Errors
/// As [`wait`].
///
/// ```
/// use std::time::Duration;
/// use greenthread::sync::Event;
///
/// let e = Event::new();
/// assert_eq!(greenthread::select::select(&[&e], Some(Duration::from_millis(1))).unwrap(), None);
/// ```
pub fn select(
    objects: &[&dyn Waitable],
    timeout: Option<Duration>,
) -> Result<Option<usize>, ParkError> {
    if objects.is_empty() {
        return Ok(None);
    }
    let r = wait_round(objects, timeout.and_then(deadline_after), |r| !r.is_empty())?;
    Ok(r.first().copied())
}

/// An iterator over the indexes of `objects` in the order they become ready, each once
/// (gevent's `iwait`); it ends when all have been yielded, or at the overall `timeout`.
/// Objects that became ready while the caller was not looking (between two `next` calls,
/// or before the first) are yielded in index order.
///
/// ```
/// use std::time::Duration;
///
/// let slow = greenthread::spawn(|| greenthread::sleep(Duration::from_millis(20)));
/// let fast = greenthread::spawn(|| ());
/// let order: Vec<usize> = greenthread::select::iwait(&[&slow, &fast], None)
///     .map(Result::unwrap)
///     .collect();
/// assert_eq!(order, [1, 0]);
/// ```
pub fn iwait<'a>(objects: &'a [&'a dyn Waitable], timeout: Option<Duration>) -> Iwait<'a> {
    Iwait {
        objects,
        deadline: timeout.and_then(deadline_after),
        yielded: vec![false; objects.len()],
    }
}

/// The iterator of [`iwait`]. Yields `Err` once (and then ends) if the hub refuses to
/// block (deadlock of local objects, a call while panicking).
pub struct Iwait<'a> {
    objects: &'a [&'a dyn Waitable],
    deadline: Option<Instant>,
    yielded: Vec<bool>,
}

impl fmt::Debug for Iwait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iwait")
            .field("objects", &self.objects.len())
            .finish_non_exhaustive()
    }
}

impl Iterator for Iwait<'_> {
    type Item = Result<usize, ParkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.yielded.iter().all(|&y| y) {
            return None;
        }
        let pending: Vec<usize> = (0..self.objects.len())
            .filter(|&i| !self.yielded[i])
            .collect();
        let subset: Vec<&dyn Waitable> = pending.iter().map(|&i| self.objects[i]).collect();
        match wait_round(&subset, self.deadline, |r| !r.is_empty()) {
            Ok(r) => {
                let i = pending[*r.first()?];
                self.yielded[i] = true;
                Some(Ok(i))
            }
            Err(e) => {
                self.yielded.iter_mut().for_each(|y| *y = true);
                Some(Err(e))
            }
        }
    }
}
