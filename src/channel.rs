//! Channels shaped like [`std::sync::mpsc`], blocking green threads instead of OS threads:
//! [`channel`] (unbounded) and [`sync_channel`] (bounded; 0 is a rendezvous), with
//! [`Sender`] / [`SyncSender`] / [`Receiver`], disconnection on drop, iterators,
//! `recv_timeout`, `try_recv`. Code written against `std::sync::mpsc` ports by changing
//! the import.
//!
//! Built on the same engine as [`Queue`](crate::queue::Queue): waiting receivers and
//! senders are served first come, first served with direct hand-off; blocking calls are
//! killable and timeoutable and lose nothing; a green thread blocked in one OS thread's
//! hub is woken by a send or a drop on another OS thread. [`local_channel`] and
//! [`local_sync_channel`] make the one-OS-thread flavour ([`Local`]) whose deadlocks are
//! reported.
//!
//! ```
//! use greenthread::channel::sync_channel;
//!
//! let (tx, rx) = sync_channel(1);
//! let producer = greenthread::spawn(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap(); // blocks while one is in flight
//!     }
//!     // tx dropped: the receiver's iterator ends
//! });
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
//! producer.join().unwrap();
//! ```
//!
//! # Differences from `std::sync::mpsc`
//!
//! - A blocking `recv` / `send` on a **local** channel whose peers are all blocked on the
//!   same OS thread panics with the hub's deadlock report (std would hang); `recv` on a
//!   shared channel blocks like std's.
//! - [`SyncSender::send_timeout`] exists (unstable in std).

use core::fmt;
use core::marker::PhantomData;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use crate::queue::{Core, GetFail, PutFail};
use crate::sched::ParkError;
use crate::sync::{Local, blocking_failed, deadline_after};

type Chan<T> = Core<T, VecDeque<T>>;

/// Shared by the two ends: the engine and the number of senders.
struct Shared<T> {
    core: Chan<T>,
    senders: std::sync::atomic::AtomicUsize,
}

fn make<T>(bound: Option<usize>, local: bool) -> Arc<Shared<T>> {
    Arc::new(Shared {
        core: Core::new(bound, local, "channel"),
        senders: std::sync::atomic::AtomicUsize::new(1),
    })
}

/// An unbounded channel: `send` never blocks (std's `channel`).
///
/// ```
/// let (tx, rx) = greenthread::channel::channel();
/// tx.send(1).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let s = make(None, false);
    (
        Sender {
            shared: Arc::clone(&s),
        },
        Receiver::new(s),
    )
}

/// A channel holding at most `bound` messages: `send` blocks while it is full; `bound` 0
/// is a rendezvous, each `send` waits for a `recv` (std's `sync_channel`).
///
/// ```
/// let (tx, rx) = greenthread::channel::sync_channel(1);
/// tx.send(1).unwrap();
/// assert!(tx.try_send(2).is_err()); // full
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let s = make(Some(bound), false);
    (
        SyncSender {
            shared: Arc::clone(&s),
        },
        Receiver::new(s),
    )
}

/// [`channel`] for the green threads of this OS thread only (see [`Local`]): a deadlock
/// (every green thread blocked, nothing able to send) is reported.
///
/// ```
/// let (tx, rx) = greenthread::channel::local_channel::<u8>();
/// // `tx` is alive but nobody will send: reported instead of hanging.
/// assert!(rx.recv_with(None).is_err());
/// drop(tx);
/// ```
pub fn local_channel<T>() -> (Local<Sender<T>>, Local<Receiver<T>>) {
    let s = make(None, true);
    (
        Local::wrap(Sender {
            shared: Arc::clone(&s),
        }),
        Local::wrap(Receiver::new(s)),
    )
}

/// [`sync_channel`] for the green threads of this OS thread only (see [`Local`]).
///
/// ```
/// let (tx, rx) = greenthread::channel::local_sync_channel(0);
/// greenthread::spawn(move || tx.send(5).unwrap());
/// assert_eq!(rx.recv(), Ok(5));
/// ```
pub fn local_sync_channel<T>(bound: usize) -> (Local<SyncSender<T>>, Local<Receiver<T>>) {
    let s = make(Some(bound), true);
    (
        Local::wrap(SyncSender {
            shared: Arc::clone(&s),
        }),
        Local::wrap(Receiver::new(s)),
    )
}

fn clone_sender<T>(s: &Arc<Shared<T>>) -> Arc<Shared<T>> {
    s.senders.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Arc::clone(s)
}

fn drop_sender<T>(s: &Shared<T>) {
    // AcqRel: the last sender's drop sees every other sender's messages (they are under
    // the state lock anyway) and closes after them.
    if s.senders.fetch_sub(1, std::sync::atomic::Ordering::AcqRel) == 1 {
        s.core.close_tx();
    }
}

fn send_failed(e: ParkError) -> ! {
    blocking_failed("SyncSender::send", e)
}

/// The sending end of a [`channel`]: `Clone + Send` (for `T: Send`), never blocks.
///
/// # Python equivalent
///
/// None in gevent/eventlet (see [`Queue`](crate::queue::Queue)); this is
/// `std::sync::mpsc::Sender`.
///
/// ```
/// let (tx, rx) = greenthread::channel::channel();
/// let tx2 = tx.clone();
/// std::thread::spawn(move || tx2.send("from another OS thread").unwrap());
/// assert_eq!(rx.recv().unwrap(), "from another OS thread");
/// # drop(tx);
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `t`; never blocks.
    ///
    /// # Errors
    /// [`SendError`] with `t` if the receiver is gone.
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::channel();
    /// drop(rx);
    /// assert_eq!(tx.send(1).unwrap_err().0, 1);
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match self.shared.core.put(t, false, None) {
            Ok(()) => Ok(()),
            Err(PutFail::Disconnected(t) | PutFail::Full(t) | PutFail::Hub(_, t)) => {
                Err(SendError(t))
            }
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            shared: clone_sender(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        drop_sender(&self.shared);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending end of a [`sync_channel`]: `Clone + Send` (for `T: Send`); `send` blocks
/// the calling green thread while the channel is full.
///
/// ```
/// let (tx, rx) = greenthread::channel::sync_channel(0);
/// let t = greenthread::spawn(move || tx.send(1).unwrap());
/// assert_eq!(rx.recv(), Ok(1));
/// t.join().unwrap();
/// ```
pub struct SyncSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> SyncSender<T> {
    /// Sends `t`, blocking while the channel is full (senders are served in arrival
    /// order).
    ///
    /// # Errors
    /// [`SendError`] with `t` if the receiver is gone (also while waiting).
    ///
    /// # Panics
    /// On a deadlock report (local channels only) or while the OS thread panics and the
    /// channel is full. A kill while waiting unwinds; the message is dropped, not sent.
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::sync_channel(1);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv(), Ok(1));
    /// ```
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        match self.shared.core.put(t, true, None) {
            Ok(()) => Ok(()),
            Err(PutFail::Disconnected(t) | PutFail::Full(t)) => Err(SendError(t)),
            Err(PutFail::Hub(e, _)) => send_failed(e),
        }
    }

    /// Sends `t` if there is room now (at bound 0: if a receiver waits).
    ///
    /// # Errors
    /// [`TrySendError::Full`] or [`TrySendError::Disconnected`], with `t`.
    ///
    /// ```
    /// use std::sync::mpsc::TrySendError;
    ///
    /// let (tx, _rx) = greenthread::channel::sync_channel(0);
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
    /// ```
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        match self.shared.core.put(t, false, None) {
            Ok(()) => Ok(()),
            Err(PutFail::Disconnected(t)) => Err(TrySendError::Disconnected(t)),
            Err(PutFail::Full(t) | PutFail::Hub(_, t)) => Err(TrySendError::Full(t)),
        }
    }

    /// Sends `t`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`TrySendError::Full`] if it timed out (or the OS thread is panicking),
    /// [`TrySendError::Disconnected`] if the receiver is gone; each with `t`.
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock).
    ///
    /// ```
    /// use std::sync::mpsc::TrySendError;
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = greenthread::channel::sync_channel(0);
    /// assert_eq!(tx.send_timeout(1, Duration::from_millis(1)), Err(TrySendError::Full(1)));
    /// ```
    pub fn send_timeout(&self, t: T, timeout: Duration) -> Result<(), TrySendError<T>> {
        match self.shared.core.put(t, true, deadline_after(timeout)) {
            Ok(()) => Ok(()),
            Err(PutFail::Disconnected(t)) => Err(TrySendError::Disconnected(t)),
            Err(PutFail::Full(t) | PutFail::Hub(ParkError::Panicking, t)) => {
                Err(TrySendError::Full(t))
            }
            Err(PutFail::Hub(e, _)) => send_failed(e),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            shared: clone_sender(&self.shared),
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        drop_sender(&self.shared);
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

/// The receiving end of a channel: `Send` (for `T: Send`) but not `Sync`, as std's.
///
/// ```compile_fail
/// fn sync<T: Sync>(_: &T) {}
/// let (_tx, rx) = greenthread::channel::channel::<u8>();
/// sync(&rx);
/// ```
///
/// Both ends are invariant in `T`:
///
/// ```compile_fail
/// use greenthread::channel::Receiver;
/// fn shorten<'a>(r: Receiver<&'static str>) -> Receiver<&'a str> {
///     r
/// }
/// ```
///
/// ```
/// let (tx, rx) = greenthread::channel::channel();
/// std::thread::spawn(move || tx.send(1).unwrap());
/// assert_eq!(rx.recv(), Ok(1));
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    _not_sync: PhantomData<core::cell::Cell<()>>,
}

impl<T> Receiver<T> {
    fn new(shared: Arc<Shared<T>>) -> Self {
        Receiver {
            shared,
            _not_sync: PhantomData,
        }
    }

    /// Receives the next message, blocking the calling green thread until one comes.
    ///
    /// # Errors
    /// [`RecvError`] once every sender is gone and the channel is empty.
    ///
    /// # Panics
    /// On a deadlock report (local channels only) or while the OS thread panics and the
    /// channel is empty. A kill while waiting unwinds, taking nothing.
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::channel::<u8>();
    /// drop(tx);
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        match self.shared.core.get(true, None) {
            Ok(t) => Ok(t),
            Err(GetFail::Disconnected | GetFail::Empty) => Err(RecvError),
            Err(GetFail::Hub(e)) => blocking_failed("Receiver::recv", e),
        }
    }

    /// Receives a message if one is there now.
    ///
    /// # Errors
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] once every sender is gone
    /// and the channel is empty.
    ///
    /// ```
    /// use std::sync::mpsc::TryRecvError;
    ///
    /// let (_tx, rx) = greenthread::channel::channel::<u8>();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.shared.core.get(false, None) {
            Ok(t) => Ok(t),
            Err(GetFail::Disconnected) => Err(TryRecvError::Disconnected),
            Err(_) => Err(TryRecvError::Empty),
        }
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`RecvTimeoutError::Timeout`] (also while the OS thread panics),
    /// [`RecvTimeoutError::Disconnected`].
    ///
    /// # Panics
    /// On a deadlock report (only for a timeout too long for the clock).
    ///
    /// ```
    /// use std::sync::mpsc::RecvTimeoutError;
    /// use std::time::Duration;
    ///
    /// let (_tx, rx) = greenthread::channel::channel::<u8>();
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline_opt(deadline_after(timeout))
    }

    /// Receives, waiting until `deadline` at most.
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.recv_deadline(std::time::Instant::now()), Ok(1));
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_deadline_opt(Some(deadline))
    }

    fn recv_deadline_opt(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        match self.shared.core.get(true, deadline) {
            Ok(t) => Ok(t),
            Err(GetFail::Disconnected) => Err(RecvTimeoutError::Disconnected),
            Err(GetFail::Empty | GetFail::Hub(ParkError::Panicking)) => {
                Err(RecvTimeoutError::Timeout)
            }
            Err(GetFail::Hub(e)) => blocking_failed("Receiver::recv_timeout", e),
        }
    }

    /// Receives, waiting at most `timeout` (`None`: no limit), every failure as a value.
    ///
    /// # Errors
    /// `Ok(None)`: disconnected. `Err`: timed out ([`ParkError`] is not involved then:
    /// `Err(None)`), or the hub refused to block (`Err(Some(e))`: a deadlock report on a
    /// local channel, a call while panicking).
    ///
    /// ```
    /// let (_tx, rx) = greenthread::channel::channel::<u8>();
    /// assert!(matches!(rx.recv_with(Some(std::time::Duration::ZERO)), Err(None)));
    /// ```
    pub fn recv_with(&self, timeout: Option<Duration>) -> Result<Option<T>, Option<ParkError>> {
        match self.shared.core.get(true, timeout.and_then(deadline_after)) {
            Ok(t) => Ok(Some(t)),
            Err(GetFail::Disconnected) => Ok(None),
            Err(GetFail::Empty) => Err(None),
            Err(GetFail::Hub(e)) => Err(Some(e)),
        }
    }

    /// An iterator that receives until every sender is gone.
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::channel();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the messages there now (never blocks).
    ///
    /// ```
    /// let (tx, rx) = greenthread::channel::channel();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// The engine, for `select`.
    pub(crate) fn core(&self) -> &Chan<T> {
        &self.shared.core
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.core.close_rx();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// Blocking iterator of a [`Receiver`] ([`Receiver::iter`]); ends when every sender is
/// gone.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Non-blocking iterator of a [`Receiver`] ([`Receiver::try_iter`]).
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator of a [`Receiver`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    /// ```
    /// let (tx, rx) = greenthread::channel::channel();
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.into_iter().collect::<Vec<_>>(), [1]);
    /// ```
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
