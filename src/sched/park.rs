//! Parking and waking: the contract the lock layer (`sync`) is built on, and the only part
//! of the hub other OS threads touch.
//!
//! The contract is documented publicly in the [`sched`](super) module docs, section
//! "Parking and waking"; the implementation notes are on the items below.

use core::any::Any;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use super::current;
use super::dump::DeadlockReport;
use super::error::{ParkError, THREAD_EXITING_MSG};
use super::hub::{Hub, InterruptCall};

/// What a parked green thread waits on: shown by [`dump`](super::dump) and in deadlock
/// reports. Cheap to copy; describe the object, don't own it.
///
/// ```
/// use greenthread::sched::WaitOn;
///
/// let lock = 0u8;
/// let w = WaitOn::Object { kind: "Lock", addr: &lock as *const u8 as usize };
/// assert!(w.to_string().starts_with("Lock at 0x"));
/// assert_eq!(WaitOn::Join { id: 7 }.to_string(), "green thread 7 to finish");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitOn {
    /// [`sleep`](super::sleep) / [`sleep_until`](super::sleep_until).
    Sleep,
    /// [`GreenThread::wait`](super::GreenThread::wait) on the green thread with this id.
    Join {
        /// The id of the green thread waited for.
        id: u64,
    },
    /// A synchronisation object, e.g. `kind: "Lock"` and its address.
    Object {
        /// What kind of object ("Lock", "Semaphore", ...).
        kind: &'static str,
        /// Its address, to tell objects apart in a report.
        addr: usize,
    },
    /// Anything else, described in words.
    Other(&'static str),
    /// A file descriptor (a `SOCKET` on Windows) to become readable or writable
    /// (cooperative I/O: `greenthread::net`, `greenthread::io::wait_readable`).
    Io {
        /// The raw fd or socket.
        fd: u64,
        /// Writable rather than readable.
        write: bool,
    },
}

impl fmt::Display for WaitOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitOn::Sleep => f.write_str("sleep"),
            WaitOn::Join { id } => write!(f, "green thread {id} to finish"),
            WaitOn::Object { kind, addr } => write!(f, "{kind} at {addr:#x}"),
            WaitOn::Other(what) => f.write_str(what),
            WaitOn::Io { fd, write } => write!(
                f,
                "fd {fd} to become {}",
                if *write { "writable" } else { "readable" }
            ),
        }
    }
}

/// How a [`Parker::park`] ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wakeup {
    /// A [`Waker::wake`] for this park returned true.
    Woken,
    /// The deadline passed first; no `wake()` for this park returns true any more.
    TimedOut,
}

/// Bit 0 of a park word: the park can still be won.
const ARMED: u64 = 1;

/// Park words, one per slab slot, in chunks that never move or shrink, so another OS
/// thread holding a [`Waker`] can reach its word without locking while the hub grows.
/// Chunk `k` holds `FIRST_CHUNK << k` words.
pub(crate) struct Words {
    chunks: [OnceLock<Box<[AtomicU64]>>; CHUNKS],
}

const FIRST_CHUNK: usize = 64;
const CHUNKS: usize = 26;

impl Words {
    fn new() -> Words {
        Words {
            chunks: [const { OnceLock::new() }; CHUNKS],
        }
    }

    /// An empty set of words, for unit tests.
    #[cfg(test)]
    pub(crate) fn new_for_tests() -> Words {
        Words::new()
    }

    /// `(chunk, index)` of a slot.
    #[inline]
    fn locate(slot: u32) -> (usize, usize) {
        let n = slot as usize + FIRST_CHUNK;
        let k =
            (usize::BITS - 1 - n.leading_zeros()) as usize - FIRST_CHUNK.trailing_zeros() as usize;
        (k, n - (FIRST_CHUNK << k))
    }

    /// Makes sure the word of `slot` exists (the hub, before it hands out the slot), and
    /// returns the number of slots whose words now exist (chunks are made in order).
    ///
    /// # Errors
    /// If a chunk cannot be allocated.
    pub(crate) fn try_ensure(&self, slot: u32) -> Result<u32, std::collections::TryReserveError> {
        let (k, _) = Words::locate(slot);
        if k >= CHUNKS {
            crate::fatal::fatal!("too many green threads in one hub");
        }
        for c in 0..=k {
            if self.chunks[c].get().is_none() {
                let n = FIRST_CHUNK << c;
                let mut chunk = Vec::new();
                chunk.try_reserve_exact(n)?;
                chunk.extend((0..n).map(|_| AtomicU64::new(0)));
                // Only the hub's own thread initialises chunks, so this cannot race.
                let _ = self.chunks[c].set(chunk.into_boxed_slice());
            }
        }
        // Chunks 0..=k hold FIRST_CHUNK * (2^(k+1) - 1) words.
        Ok(u32::try_from(FIRST_CHUNK * ((2 << k) - 1)).unwrap_or(u32::MAX))
    }

    #[inline]
    fn word(&self, slot: u32) -> &AtomicU64 {
        let (k, i) = Words::locate(slot);
        match self.chunks.get(k).and_then(OnceLock::get) {
            Some(chunk) => &chunk[i],
            None => crate::fatal::fatal!("park word of slot {slot} used before it exists"),
        }
    }

    /// Arms the word of `slot` for the park `seq` (the hub's thread only).
    #[inline]
    pub(crate) fn arm(&self, slot: u32, seq: u64) {
        // Release: a waker that reads the armed word (through a lock that published the
        // `Waker`) already synchronises through that lock; Release keeps this cheap and
        // ordered after the green thread's earlier writes all the same.
        self.word(slot).store(seq << 1 | ARMED, Ordering::Release);
    }

    /// Clears `ARMED` if the word still holds the park `seq`: true for the one caller that
    /// wins the park (waker or hub).
    ///
    /// AcqRel: the winning waker's writes before `wake()` (e.g. the permit it hands over)
    /// happen-before whatever the parker does after learning it was woken, and a losing
    /// hub-side caller (Acquire on failure) sees them too.
    #[inline]
    pub(crate) fn disarm(&self, slot: u32, seq: u64) -> bool {
        self.word(slot)
            .compare_exchange(
                seq << 1 | ARMED,
                seq << 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// Ends whatever park `slot` has armed, so no wake can win it any more (hub teardown:
    /// a green thread abandoned while parked must not take a permit a release hands out,
    /// or that permit would be held by nobody). Issue 10.4.
    pub(crate) fn disarm_slot(&self, slot: u32) {
        // AcqRel: a waker that loses afterwards reads the word with Acquire in its failed
        // compare-exchange and moves on to the next waiter.
        self.word(slot).fetch_and(!ARMED, Ordering::AcqRel);
    }

    /// Whether the park `seq` of `slot` can still be won.
    #[inline]
    pub(crate) fn is_armed(&self, slot: u32, seq: u64) -> bool {
        self.word(slot).load(Ordering::Acquire) == seq << 1 | ARMED
    }
}

/// The part of a hub other OS threads may touch: park words and the inbox. Behind an
/// `Arc`, held by the hub, its [`Waker`]s and [`HubHandle`]s.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(crate) words: Words,
    /// Set (Release) when the inbox has something; read without the lock at every tick.
    posted: AtomicBool,
    inbox: Mutex<Inbox>,
    cond: Condvar,
    /// Set once the hub has an I/O poller (`sched::io`): from then on it sleeps in the
    /// poller, and posters wake it through `io.waker` instead of `cond`.
    pub(crate) io: OnceLock<super::io::IoShared>,
}

/// Where the hub's OS thread sleeps, if it does (in [`Inbox::sleeping`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sleep {
    /// Not sleeping: posters need not notify.
    No,
    /// In [`Shared::wait`] (`Condvar`).
    Cond,
    /// In the I/O poller: notify with the `mio::Waker` in [`Shared::io`].
    Poll,
}

/// What other OS threads post to a hub.
struct Inbox {
    /// `(slot, token)` of parks won by a `wake()` from another OS thread.
    wakes: Vec<(u32, u64)>,
    /// An `interrupt_main` payload for the main green thread.
    interrupt: Option<Box<dyn Any + Send>>,
    /// Where the hub's OS thread is blocked, if it is: posters must notify it there.
    sleeping: Sleep,
    /// I/O registrations of this hub to free: `(index, generation)`, posted when a socket
    /// registered here is used or dropped on another OS thread (`sched::io`).
    io_frees: Vec<(u32, u32)>,
    /// The hub has been torn down: posts are dropped.
    closed: bool,
}

impl Shared {
    pub(crate) fn new(id: u64) -> Shared {
        Shared {
            id,
            words: Words::new(),
            posted: AtomicBool::new(false),
            inbox: Mutex::new(Inbox {
                wakes: Vec::new(),
                interrupt: None,
                sleeping: Sleep::No,
                io_frees: Vec::new(),
                closed: false,
            }),
            cond: Condvar::new(),
            io: OnceLock::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // Nothing panics while holding the lock (only pushes and swaps), so poisoning can
        // only come from an allocation failure, which aborts anyway.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether anything was posted since the last [`take_posts`](Self::take_posts). A
    /// relaxed hint: the lock taken by `take_posts` orders the data.
    #[inline]
    pub(crate) fn has_posts(&self) -> bool {
        self.posted.load(Ordering::Relaxed)
    }

    /// Posts a won park to the hub (from another OS thread).
    fn post_wake(&self, slot: u32, seq: u64) {
        let mut inbox = self.lock();
        if inbox.closed {
            return;
        }
        inbox.wakes.push((slot, seq));
        self.posted.store(true, Ordering::Release);
        let sleeping = inbox.sleeping;
        drop(inbox);
        // Must come after `posted` is set under the lock: `wait` checks `posted` under the
        // same lock before it sleeps, so either it sees the post or we see `sleeping`.
        self.notify(sleeping);
    }

    /// Wakes the hub's OS thread from where it sleeps (read under the inbox lock).
    #[inline]
    fn notify(&self, sleeping: Sleep) {
        match sleeping {
            Sleep::No => {}
            Sleep::Cond => self.cond.notify_one(),
            // `Poll` was set under the lock after `io` was set (by the hub's thread), and
            // we read it under the same lock, so `io` is visible here.
            Sleep::Poll => {
                if let Some(io) = self.io.get() {
                    io.wake();
                }
            }
        }
    }

    /// Posts an I/O registration `(index, generation)` for the hub to free (from another
    /// OS thread). Dropped if the hub is gone.
    pub(crate) fn post_io_free(&self, idx: u32, generation: u32) {
        let mut inbox = self.lock();
        if inbox.closed {
            return;
        }
        inbox.io_frees.push((idx, generation));
        self.posted.store(true, Ordering::Release);
        let sleeping = inbox.sleeping;
        drop(inbox);
        self.notify(sleeping);
    }

    /// Moves the posted I/O frees into `into` (hub thread).
    pub(crate) fn take_io_frees(&self, into: &mut Vec<(u32, u32)>) {
        let mut inbox = self.lock();
        core::mem::swap(&mut inbox.io_frees, into);
    }

    /// Before the hub's OS thread blocks in its I/O poller: false if something is posted
    /// already (then it must not block). Otherwise posters notify through the poller's
    /// waker until [`end_poll_sleep`](Self::end_poll_sleep).
    pub(crate) fn begin_poll_sleep(&self) -> bool {
        let mut inbox = self.lock();
        if self.posted.load(Ordering::Relaxed) {
            return false;
        }
        inbox.sleeping = Sleep::Poll;
        true
    }

    /// After the poller returned (see [`begin_poll_sleep`](Self::begin_poll_sleep)).
    pub(crate) fn end_poll_sleep(&self) {
        self.lock().sleeping = Sleep::No;
    }

    /// Posts an interrupt for the main green thread; false if one is already waiting in
    /// the inbox or the hub is gone (the payload is then dropped).
    fn post_interrupt(&self, payload: Box<dyn Any + Send>) -> bool {
        let mut inbox = self.lock();
        if inbox.closed || inbox.interrupt.is_some() {
            drop(inbox);
            drop(payload);
            return false;
        }
        inbox.interrupt = Some(payload);
        self.posted.store(true, Ordering::Release);
        let sleeping = inbox.sleeping;
        drop(inbox);
        self.notify(sleeping);
        true
    }

    /// Moves the posted wakes into `into` (swapping buffers, so no allocation in steady
    /// state) and returns the posted interrupt, if any.
    pub(crate) fn take_posts(&self, into: &mut Vec<(u32, u64)>) -> Option<Box<dyn Any + Send>> {
        let mut inbox = self.lock();
        self.posted.store(false, Ordering::Relaxed);
        core::mem::swap(&mut inbox.wakes, into);
        inbox.interrupt.take()
    }

    /// Blocks the calling OS thread until something is posted or `deadline` passes (or
    /// spuriously); the caller re-checks. Returns at once if something is posted.
    pub(crate) fn wait(&self, deadline: Option<Instant>) {
        let mut inbox = self.lock();
        if self.posted.load(Ordering::Relaxed) {
            return;
        }
        inbox.sleeping = Sleep::Cond;
        inbox = match deadline {
            None => self
                .cond
                .wait(inbox)
                .unwrap_or_else(PoisonError::into_inner),
            Some(d) => {
                let now = Instant::now();
                if d <= now {
                    inbox.sleeping = Sleep::No;
                    return;
                }
                self.cond
                    .wait_timeout(inbox, d - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        inbox.sleeping = Sleep::No;
    }

    /// Refuses further posts and drops what is queued (hub teardown).
    pub(crate) fn close(&self) {
        let mut inbox = self.lock();
        inbox.closed = true;
        inbox.wakes.clear();
        inbox.io_frees.clear();
        let interrupt = inbox.interrupt.take();
        self.posted.store(false, Ordering::Relaxed);
        drop(inbox);
        drop(interrupt);
    }
}

/// Wakes one park of one green thread, from any OS thread. Obtained from
/// [`Parker::waker`] before parking; `Send + Sync`, and cheap to clone (no atomic at all
/// on the OS thread of its hub, one atomic increment elsewhere).
///
/// See ["Parking and waking"](super#parking-and-waking) for the contract.
///
/// ```
/// use greenthread::sched::{Parker, WaitOn, Wakeup};
///
/// let p = Parker::new();
/// let w = p.waker();
/// let os = std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(10));
///     w.wake()
/// });
/// // `external`: another OS thread may wake us, so this is not a deadlock.
/// assert_eq!(p.park(WaitOn::Other("the OS thread"), None, true).unwrap(), Wakeup::Woken);
/// assert!(os.join().unwrap()); // its wake won the park
/// ```
pub struct Waker {
    /// One strong count of the hub's `Arc<Shared>`, owned by this waker: a pointer made
    /// by `Arc::into_raw` ([`Hub::shared_raw`]). Counted by hand rather than held as an
    /// `Arc` so that the hub's own OS thread can make and drop wakers without an atomic
    /// read-modify-write: there, a new waker takes one of the counts the hub keeps in
    /// reserve, and a dropped one gives its count back ([`Hub::take_shared_ref`],
    /// [`Hub::give_back_shared_ref`]). Elsewhere, clone and drop are `Arc`'s.
    shared: NonNull<Shared>,
    slot: u32,
    seq: u64,
    /// Owns an `Arc<Shared>`'s count (auto traits and drop check as for one).
    _owns: PhantomData<Arc<Shared>>,
}

// SAFETY: a `Waker` is an owned strong count of an `Arc<Shared>` plus plain integers, and
// `Arc<Shared>` is `Send + Sync` (checked below). Its count is given back either
// atomically (`Arc::from_raw` + drop, any OS thread) or, on the hub's own OS thread only,
// into the hub's reserve, a `Cell` that only that thread touches.
unsafe impl Send for Waker {}
// SAFETY: as for `Send`: every `&Waker` method only reads the shared state through the
// count it owns (atomics, the inbox mutex), as `&Arc<Shared>` would.
unsafe impl Sync for Waker {}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Arc<Shared>>();
};

impl Clone for Waker {
    #[inline]
    fn clone(&self) -> Waker {
        let shared = match current::existing() {
            Some(hub) if ptr::eq(hub.shared(), self.shared.as_ptr()) => hub.take_shared_ref(),
            _ => {
                // SAFETY: `self.shared` came from `Arc::into_raw` and we own one of its
                // strong counts, so the allocation is alive; the new count goes to the
                // clone, which gives it back when dropped.
                unsafe { Arc::increment_strong_count(self.shared.as_ptr()) };
                self.shared
            }
        };
        Waker {
            shared,
            slot: self.slot,
            seq: self.seq,
            _owns: PhantomData,
        }
    }
}

impl Drop for Waker {
    #[inline]
    fn drop(&mut self) {
        if let Some(hub) = current::existing()
            && ptr::eq(hub.shared(), self.shared.as_ptr())
            && hub.give_back_shared_ref()
        {
            return;
        }
        // SAFETY: `self.shared` came from `Arc::into_raw` and this waker owns one of its
        // strong counts, which it gives up here (it is not used again).
        drop(unsafe { Arc::from_raw(self.shared.as_ptr()) });
    }
}

impl Waker {
    /// The hub's shared state.
    #[inline]
    fn shared(&self) -> &Shared {
        // SAFETY: this waker owns a strong count of the `Arc` (see the field), so the
        // `Shared` is alive for as long as `self` is.
        unsafe { self.shared.as_ref() }
    }

    /// Ends the park this waker was made for, if it has not ended yet: the green thread
    /// becomes runnable (it runs once its hub gets to it; this call never switches and
    /// never blocks beyond the hub's inbox lock).
    ///
    /// Returns true if this call won the park (the parker's `park` returns
    /// [`Wakeup::Woken`]); false if the park already ended (woken, timed out, killed,
    /// given up) or belongs to an old park, in which case nothing happens.
    ///
    /// ```
    /// use greenthread::sched::Parker;
    ///
    /// let p = Parker::new();
    /// let w = p.waker();
    /// assert!(w.wake()); // wins, even before the park
    /// assert!(!w.wake()); // the park is already won
    /// assert!(p.cancel()); // the parker learns it was woken
    /// ```
    pub fn wake(&self) -> bool {
        let shared = self.shared();
        if !shared.words.disarm(self.slot, self.seq) {
            return false;
        }
        match current::existing() {
            Some(hub) if ptr::eq(hub.shared(), shared) => {
                hub.local_wake(self.slot, self.seq);
            }
            _ => shared.post_wake(self.slot, self.seq),
        }
        true
    }

    /// Whether a [`wake`](Self::wake) could still win the park (a hint: it may end any
    /// moment).
    ///
    /// ```
    /// let p = greenthread::sched::Parker::new();
    /// let w = p.waker();
    /// assert!(w.can_wake());
    /// drop(p); // giving up ends the park
    /// assert!(!w.can_wake());
    /// ```
    pub fn can_wake(&self) -> bool {
        self.shared().words.is_armed(self.slot, self.seq)
    }

    /// The hub of the green thread this waker wakes.
    ///
    /// ```
    /// use greenthread::sched::{HubHandle, Parker};
    ///
    /// assert_eq!(Parker::new().waker().hub().id(), HubHandle::current().id());
    /// ```
    pub fn hub(&self) -> HubHandle {
        // SAFETY: `self.shared` came from `Arc::into_raw` and we own one of its strong
        // counts (so it is alive); the new count goes to the `Arc` made just after.
        unsafe { Arc::increment_strong_count(self.shared.as_ptr()) };
        // SAFETY: the pointer came from `Arc::into_raw`, and the count just added is the
        // one this `Arc` owns.
        HubHandle(unsafe { Arc::from_raw(self.shared.as_ptr()) })
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker")
            .field("hub", &self.shared().id)
            .field("slot", &self.slot)
            .field("token", &self.seq)
            .finish()
    }
}

/// One park of the current green thread: create it, hand out its [`Waker`]s, then
/// [`park`](Self::park). See ["Parking and waking"](super#parking-and-waking) for the
/// contract.
///
/// Neither `Send` nor `Sync`; only the green thread that created it may park with it.
/// Dropping it without parking gives the park up (like [`cancel`](Self::cancel)).
///
/// ```
/// use std::time::{Duration, Instant};
/// use greenthread::sched::{Parker, WaitOn, Wakeup};
///
/// let p = Parker::new();
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let r = p.park(WaitOn::Other("a timeout"), Some(deadline), false);
/// assert_eq!(r.unwrap(), Wakeup::TimedOut);
/// assert!(Instant::now() >= deadline);
/// ```
pub struct Parker {
    hub: *const Hub,
    owner: u64,
    slot: u32,
    seq: u64,
    done: bool,
    _not_send: PhantomData<*const ()>,
}

impl Parker {
    /// Arms a new park for the current green thread (retiring any earlier `Parker` of it).
    ///
    /// # Panics
    /// If this OS thread's hub has shut down (called from a thread-local destructor during
    /// thread exit).
    pub fn new() -> Parker {
        let hub = current::hub().unwrap_or_else(|_| panic!("greenthread: {THREAD_EXITING_MSG}"));
        let (owner, slot, seq) = hub.arm_park();
        Parker {
            hub,
            owner,
            slot,
            seq,
            done: false,
            _not_send: PhantomData,
        }
    }

    /// The live hub this parker belongs to, if it is still this thread's hub.
    fn hub(&self) -> Option<&'static Hub> {
        if ptr::eq(current::hub_addr(), self.hub) {
            current::existing()
        } else {
            None
        }
    }

    /// A waker for this park. Make as many as needed; at most one `wake()` wins.
    ///
    /// ```
    /// let p = greenthread::sched::Parker::new();
    /// let (a, b) = (p.waker(), p.waker());
    /// assert!(a.wake());
    /// assert!(!b.wake());
    /// ```
    ///
    /// # Panics
    /// If called from a thread-local destructor after this OS thread's hub shut down.
    pub fn waker(&self) -> Waker {
        match self.hub() {
            Some(hub) => Waker {
                shared: hub.take_shared_ref(),
                slot: self.slot,
                seq: self.seq,
                _owns: PhantomData,
            },
            None => panic!("greenthread: {THREAD_EXITING_MSG}"),
        }
    }

    /// Whether a `wake()` has already won this park (then `park` returns at once).
    ///
    /// ```
    /// let p = greenthread::sched::Parker::new();
    /// assert!(!p.is_woken());
    /// p.waker().wake();
    /// assert!(p.is_woken());
    /// ```
    pub fn is_woken(&self) -> bool {
        match self.hub() {
            Some(hub) => !hub.shared().words.is_armed(self.slot, self.seq),
            None => false,
        }
    }

    /// Blocks the current green thread until a [`Waker`] of this park wins it, or
    /// `deadline` passes, or it is killed; other green threads run meanwhile. Returns at
    /// once if a wake already won. The call reads no clock: a `deadline` known to have
    /// passed at the hub's last tick returns `TimedOut` at once; one that passed since
    /// times out at the next tick (ready green threads may run first), as `sleep_until`
    /// with a past deadline does.
    ///
    /// `what` is what the green thread waits on, for [`dump`](super::dump) and deadlock
    /// reports; `external` says whether a waker may be called from another OS thread (see
    /// ["Parking and waking"](super#parking-and-waking)).
    ///
    /// ```
    /// use greenthread::sched::{Parker, WaitOn, Wakeup};
    ///
    /// let p = Parker::new();
    /// let w = p.waker();
    /// greenthread::spawn(move || assert!(w.wake()));
    /// assert_eq!(p.park(WaitOn::Other("a friend"), None, false).unwrap(), Wakeup::Woken);
    /// ```
    ///
    /// # Errors
    /// - [`ParkError::Interrupted`]: killed (or, the main green thread, interrupted) before
    ///   any wake won; the interrupt is still pending, raise it with
    ///   [`check_interrupt`](super::check_interrupt) once the waiter is cleaned up.
    /// - [`ParkError::Deadlock`]: the main green thread only, when every green thread of
    ///   the hub is blocked with nothing able to wake one; or the hub has shut down.
    /// - [`ParkError::Panicking`]: this OS thread is panicking; nothing was switched.
    ///
    /// In every error case no `wake()` for this park can win any more.
    ///
    /// # Panics
    /// If called by a green thread other than the one that created the parker, or after
    /// that green thread created another parker.
    #[inline]
    pub fn park(
        mut self,
        what: WaitOn,
        deadline: Option<Instant>,
        external: bool,
    ) -> Result<Wakeup, ParkError> {
        self.done = true;
        let Some(hub) = self.hub() else {
            return Err(ParkError::Deadlock(DeadlockReport::hub_gone()));
        };
        hub.park_parker(self.owner, self.seq, what, deadline, external)
    }

    /// Gives the park up without blocking. Returns true if a wake had already won it (the
    /// caller then owns whatever the waker handed over), false if no wake can win it now.
    ///
    /// ```
    /// let p = greenthread::sched::Parker::new();
    /// let w = p.waker();
    /// assert!(!p.cancel());
    /// assert!(!w.wake()); // too late
    /// ```
    pub fn cancel(mut self) -> bool {
        self.done = true;
        match self.hub() {
            Some(hub) => !hub.shared().words.disarm(self.slot, self.seq),
            None => false,
        }
    }
}

impl Default for Parker {
    fn default() -> Self {
        Parker::new()
    }
}

impl Drop for Parker {
    fn drop(&mut self) {
        if !self.done
            && let Some(hub) = self.hub()
        {
            hub.shared().words.disarm(self.slot, self.seq);
        }
    }
}

impl fmt::Debug for Parker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parker")
            .field("green_thread", &self.owner)
            .field("token", &self.seq)
            .finish()
    }
}

/// A handle to a hub that other OS threads may hold: `Send + Sync`, cheap to clone. It can
/// name the hub and interrupt its main green thread.
///
/// ```
/// use greenthread::sched::HubHandle;
///
/// let here = HubHandle::current();
/// let there = std::thread::spawn(|| HubHandle::current().id()).join().unwrap();
/// assert_ne!(here.id(), there);
/// ```
#[derive(Clone)]
pub struct HubHandle(pub(crate) Arc<Shared>);

impl HubHandle {
    /// This OS thread's hub (created if needed).
    ///
    /// # Panics
    /// If this OS thread's hub has shut down (thread-local destructors at thread exit).
    pub fn current() -> HubHandle {
        match current::hub() {
            Ok(hub) => HubHandle(Arc::clone(hub.shared_arc())),
            Err(_) => panic!("greenthread: {THREAD_EXITING_MSG}"),
        }
    }

    /// The hub of the process's main OS thread, if it has one yet. The main OS thread is
    /// recognised by its name, `"main"`, which the standard library gives it (and which
    /// another thread could also be given with `std::thread::Builder::name`).
    ///
    /// ```
    /// // Doc tests run on the main thread, test functions on other threads.
    /// let _ = greenthread::sched::HubHandle::main();
    /// ```
    pub fn main() -> Option<HubHandle> {
        main_hub().hub.clone().map(HubHandle)
    }

    /// A process-unique, nonzero id of the hub (not of its OS thread).
    ///
    /// ```
    /// assert_ne!(greenthread::sched::HubHandle::current().id(), 0);
    /// ```
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Delivers `payload` to this hub's main green thread: it is raised there with
    /// [`std::panic::resume_unwind`] at its next switch point (any yield, sleep, wait or
    /// park, or [`check_interrupt`](super::check_interrupt)); if the main green thread is
    /// parked, its blocking call is ended at once. The caller carries on: this never
    /// switches.
    ///
    /// Interrupts do not queue: while one is undelivered, another is dropped and this
    /// returns false (as a second SIGINT before the first is handled). Also false if the
    /// hub is gone.
    ///
    /// ```
    /// use greenthread::sched::HubHandle;
    ///
    /// struct Interrupt;
    /// let hub = HubHandle::current();
    /// assert!(hub.interrupt_main(Box::new(Interrupt)));
    /// let caught = std::panic::catch_unwind(|| greenthread::yield_now()).unwrap_err();
    /// assert!(caught.is::<Interrupt>());
    /// ```
    pub fn interrupt_main(&self, payload: Box<dyn Any + Send>) -> bool {
        match current::existing() {
            Some(hub) if ptr::eq(hub.shared(), &*self.0) => hub.interrupt_local(payload),
            _ => self.0.post_interrupt(payload),
        }
    }
}

impl HubHandle {
    /// Like [`interrupt_main`](Self::interrupt_main), but instead of unwinding, the main
    /// green thread *calls* `handler` at its next switch point (or at once, if it is
    /// parked: its blocking call is interrupted to run it). If the handler returns, the
    /// switch point returns normally and an interrupted `sleep` or `wait` carries on
    /// (PEP 475); an interrupted [`Parker::park`] returns [`ParkError::Interrupted`]
    /// and the handler runs in the [`check_interrupt`](super::check_interrupt) that
    /// follows, after which the lock layer may retry. If the handler unwinds (e.g. with
    /// [`std::panic::resume_unwind`]), that unwinds the main green thread from the switch
    /// point. This is what Python signal handlers for `_thread.interrupt_main` need.
    ///
    /// Shares the one pending-interrupt slot with `interrupt_main`: false if an interrupt
    /// is already pending (the handler is dropped) or the hub is gone.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let c = Arc::clone(&calls);
    /// let hub = greenthread::sched::HubHandle::current();
    /// assert!(hub.interrupt_main_call(move || {
    ///     c.fetch_add(1, Ordering::SeqCst);
    /// }));
    /// greenthread::yield_now(); // the handler runs here, and the yield returns
    /// assert_eq!(calls.load(Ordering::SeqCst), 1);
    /// ```
    pub fn interrupt_main_call(&self, handler: impl FnOnce() + Send + 'static) -> bool {
        self.interrupt_main(Box::new(InterruptCall(Box::new(handler))))
    }
}

impl fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HubHandle").field(&self.0.id).finish()
    }
}

/// The main OS thread's hub, and an interrupt that arrived before it existed.
pub(crate) struct MainHub {
    pub(crate) hub: Option<Arc<Shared>>,
    pub(crate) pending: Option<Box<dyn Any + Send>>,
}

static MAIN_HUB: Mutex<MainHub> = Mutex::new(MainHub {
    hub: None,
    pending: None,
});

pub(crate) fn main_hub() -> MutexGuard<'static, MainHub> {
    MAIN_HUB.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Interrupts the main green thread of the main hub (the hub of the OS thread named
/// `"main"`, see [`HubHandle::main`]); the hook behind `_thread.interrupt_main`.
///
/// See [`HubHandle::interrupt_main`] for what the main green thread observes. If the main
/// OS thread has no hub yet, the interrupt is kept and delivered when it gets one.
///
/// Returns false if an interrupt is already pending (this one is dropped: interrupts do
/// not queue) or the main hub has shut down.
///
/// ```
/// use greenthread::sched::HubHandle;
///
/// struct KeyboardInterrupt;
/// let here = HubHandle::current();
/// // Only meaningful where this thread is the process's main thread.
/// if HubHandle::main().is_some_and(|main| main.id() == here.id()) {
///     // From any OS thread or green thread:
///     let delivered = std::thread::spawn(|| {
///         greenthread::sched::interrupt_main(Box::new(KeyboardInterrupt))
///     })
///     .join()
///     .unwrap();
///     assert!(delivered);
///     // The main green thread sees it at its next switch point.
///     let r = std::panic::catch_unwind(|| greenthread::sleep(std::time::Duration::ZERO));
///     assert!(r.unwrap_err().is::<KeyboardInterrupt>());
/// }
/// ```
pub fn interrupt_main(payload: Box<dyn Any + Send>) -> bool {
    let mut main = main_hub();
    if let Some(shared) = main.hub.clone() {
        drop(main);
        return HubHandle(shared).interrupt_main(payload);
    }
    if main.pending.is_some() {
        return false;
    }
    main.pending = Some(payload);
    true
}

/// [`interrupt_main`] with a handler to call instead of a payload to raise; see
/// [`HubHandle::interrupt_main_call`]. The hook for Python-style `interrupt_main` handlers.
///
/// ```
/// // From any OS thread or green thread; the handler runs on the main OS thread's main
/// // green thread at its next switch point.
/// let _queued = greenthread::sched::interrupt_main_call(|| eprintln!("SIGINT handler"));
/// ```
pub fn interrupt_main_call(handler: impl FnOnce() + Send + 'static) -> bool {
    interrupt_main(Box::new(InterruptCall(Box::new(handler))))
}
