//! The hub's I/O poller: readiness of registered sockets and fds, parking green threads
//! until a socket is ready, and the glue `net` builds on. `docs/IO.md` has the design.
//!
//! # Model
//!
//! - A hub gets a poller (a [`mio::Poll`], i.e. epoll, kqueue or IOCP, plus a
//!   [`mio::Waker`]) the first time one of its green threads must wait for I/O. Until
//!   then it idles on its `Condvar` as before, and a hub that never does I/O costs no
//!   file descriptor and no system call more than before.
//! - Once it has a poller, the hub blocks in the poller when nothing is runnable (timeout:
//!   the next timer's deadline), and other OS threads wake it through the `mio::Waker`
//!   (see `Shared::notify`). While the run queue never empties, readiness is still
//!   collected at every *tick* (a poll with a zero timeout, only while some green thread
//!   waits for I/O): at most every `max(16, run-queue length)` switches.
//! - **One registration per socket**, edge-triggered, for reading and writing at once.
//!   The hub keeps an [`Entry`] per registration: two readiness bits and the green
//!   threads waiting in each direction. An I/O call first tries the system call unless the
//!   bit says "not ready"; on `WouldBlock` it clears the bit and parks until an event sets
//!   it again. Events are only collected on the hub's own OS thread, in the poller, never
//!   between a system call and the clearing of the bit, so no edge is lost.
//! - Registrations belong to one hub. A socket used on another OS thread is deregistered
//!   from the first hub's poller (through a cloned `mio::Registry`, which any thread may
//!   use) and registered with the new one; the first hub frees its entry when it drains
//!   its inbox.
//! - Tokens are `index | generation << (usize::BITS / 2)`: an event for a freed and
//!   reused entry is recognised as stale and ignored. On 64-bit targets both halves are 32
//!   bits; on 32-bit targets (armv7) 16 bits each, so a hub registers at most 65,534
//!   sockets at once (more is an `io::Error`, not a crash) and a slot's generation repeats
//!   after 65,536 reuses.

use core::cell::{Cell, RefCell};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::{Events, Poll, Registry, Token};

use super::current;
use super::error::THREAD_EXITING_MSG;
use super::hub::Hub;
use super::park::{Shared, WaitOn};

/// The token of the poller's `mio::Waker`.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

/// Events collected per system call.
const EVENTS_CAP: usize = 256;

/// Readiness bit: a read (accept, recv) may succeed.
pub(crate) const READ: u8 = 1;
/// Readiness bit: a write (send, connect completion) may succeed.
pub(crate) const WRITE: u8 = 2;
/// Sticky readiness: the read side is closed (end of file or hang-up): reads never block
/// again, so clearing `READ` keeps it. `READ << 2`.
pub(crate) const READ_CLOSED: u8 = 4;
/// Sticky readiness: the write side is closed. `WRITE << 2`.
pub(crate) const WRITE_CLOSED: u8 = 8;

/// Bits of a token for the entry index, and (above them) for the generation.
const HALF: u32 = usize::BITS / 2;
/// Mask of one half of a token.
const HALF_MASK: usize = (1usize << HALF) - 1;
/// Generations wrap within their half of the token.
const GEN_MASK: u32 = HALF_MASK as u32;
/// Entry indices stay below this, so no token equals [`WAKER_TOKEN`] (all ones).
const MAX_ENTRIES: usize = HALF_MASK;

/// The part of a hub's poller other OS threads use: its waker (posts) and a clone of its
/// registry (deregistering a socket that moved to another OS thread).
pub(crate) struct IoShared {
    waker: mio::Waker,
    registry: Registry,
}

impl IoShared {
    /// Wakes the hub's OS thread out of its poller.
    pub(crate) fn wake(&self) {
        // A failed wake (eventfd overflow is handled by mio) leaves the hub to its
        // timeout; nothing better can be done from a poster.
        let _ = self.waker.wake();
    }
}

/// One registered source: readiness bits and the green threads waiting on it.
pub(crate) struct Entry {
    /// Bumped when the entry is freed, so stale tokens and registrations are recognised.
    pub(crate) generation: u32,
    pub(crate) live: bool,
    /// `READ | WRITE` bits believed ready.
    pub(crate) ready: u8,
    /// The raw fd/socket, for reports.
    pub(crate) fd: u64,
    /// `(slot, token)` of green threads parked until readable.
    pub(crate) readers: Vec<(u32, u64)>,
    /// `(slot, token)` of green threads parked until writable.
    pub(crate) writers: Vec<(u32, u64)>,
}

/// A hub's poller and registrations (hub thread only; in `Hub::io`).
pub(crate) struct Driver {
    pub(crate) poll: Poll,
    pub(crate) events: Events,
    pub(crate) entries: Vec<Entry>,
    pub(crate) free: Vec<u32>,
    /// Live entries.
    pub(crate) registered: usize,
}

impl Driver {
    /// A poller and its waker; the shared half goes to `shared.io`.
    pub(crate) fn new(shared: &Shared) -> io::Result<Driver> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        let registry = poll.registry().try_clone()?;
        if shared.io.set(IoShared { waker, registry }).is_err() {
            crate::fatal::fatal!("a hub's poller was created twice");
        }
        Ok(Driver {
            poll,
            events: Events::with_capacity(EVENTS_CAP),
            entries: Vec::new(),
            free: Vec::new(),
            registered: 0,
        })
    }

    /// A free entry for `fd`: `(index, generation)`.
    ///
    /// # Errors
    /// If the hub already has as many registrations as a token can name.
    pub(crate) fn alloc(&mut self, fd: u64) -> io::Result<(u32, u32)> {
        if let Some(idx) = self.free.pop() {
            self.registered += 1;
            let e = &mut self.entries[idx as usize];
            e.live = true;
            e.ready = READ | WRITE;
            e.fd = fd;
            return Ok((idx, e.generation));
        }
        let idx = match u32::try_from(self.entries.len()) {
            Ok(idx) if (idx as usize) < MAX_ENTRIES => idx,
            _ => {
                return Err(io::Error::other(format!(
                    "greenthread: too many sockets registered with one hub (at most {})",
                    MAX_ENTRIES - 1
                )));
            }
        };
        self.registered += 1;
        self.entries.push(Entry {
            generation: 0,
            live: true,
            ready: READ | WRITE,
            fd,
            readers: Vec::new(),
            writers: Vec::new(),
        });
        Ok((idx, 0))
    }

    /// The live entry `(idx, generation)`.
    #[inline]
    pub(crate) fn entry(&mut self, idx: u32, generation: u32) -> Option<&mut Entry> {
        self.entries
            .get_mut(idx as usize)
            .filter(|e| e.live && e.generation == generation)
    }

    /// Frees an entry (its waiters must have been woken). False if it was stale.
    pub(crate) fn release(&mut self, idx: u32, generation: u32) -> bool {
        let Some(e) = self.entry(idx, generation) else {
            return false;
        };
        e.live = false;
        e.generation = e.generation.wrapping_add(1) & GEN_MASK;
        e.ready = 0;
        self.free.push(idx);
        self.registered -= 1;
        true
    }
}

/// Packs an entry into a token.
#[inline]
pub(crate) fn token(idx: u32, generation: u32) -> Token {
    Token((idx as usize & HALF_MASK) | (generation as usize & HALF_MASK) << HALF)
}

/// Unpacks a token.
#[inline]
pub(crate) fn untoken(t: Token) -> (u32, u32) {
    ((t.0 & HALF_MASK) as u32, (t.0 >> HALF) as u32)
}

/// How a wait for readiness ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoWait {
    /// An event arrived (or something else woke the green thread): try again.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// The registration was removed while waiting (the source was closed through us).
    Closed,
}

/// A registration of a source with a hub's poller.
pub(crate) struct Reg {
    shared: Arc<Shared>,
    idx: u32,
    generation: u32,
}

/// A nonblocking source (a mio socket) with its registration: the core of every
/// `greenthread::net` type. `!Sync` (the `Cell`s); `Send` if `S` is.
pub(crate) struct IoSource<S: Source> {
    /// Borrowed shared only for the length of one nonblocking system call, mutably only to
    /// (de)register (mio's `Source` takes `&mut`): never across a switch.
    src: RefCell<S>,
    reg: Cell<Option<Reg>>,
    fd: u64,
    /// `set_nonblocking(true)` by the user: calls return `WouldBlock` instead of parking.
    nonblocking: Cell<bool>,
}

impl<S: Source> IoSource<S> {
    /// Wraps a source that is already in nonblocking mode. `fd` is for reports.
    pub(crate) fn new(src: S, fd: u64) -> IoSource<S> {
        IoSource {
            src: RefCell::new(src),
            reg: Cell::new(None),
            fd,
            nonblocking: Cell::new(false),
        }
    }

    /// The source itself, for calls that never block. Do not hold it across a switch.
    #[inline]
    pub(crate) fn get(&self) -> core::cell::Ref<'_, S> {
        self.src.borrow()
    }

    /// Makes calls return `WouldBlock` rather than park (the user's
    /// `set_nonblocking(true)`), or park again.
    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.nonblocking.set(on);
    }

    /// Whether calls return `WouldBlock` rather than park; see
    /// [`set_nonblocking`](Self::set_nonblocking).
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.nonblocking.get()
    }

    /// The raw fd or socket (for reports).
    pub(crate) fn fd(&self) -> u64 {
        self.fd
    }

    /// Removes the registration and returns the source.
    pub(crate) fn into_inner(mut self) -> S {
        self.deregister();
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped (`ManuallyDrop`) nor used after `src` is read
        // out of it, so `src` is owned once; the other fields hold nothing to free (`reg`
        // is `None` after `deregister`, `fd` is an integer).
        unsafe { core::ptr::read(&this.src) }.into_inner()
    }

    /// Marks `dir` not ready (e.g. a short read on a stream socket drained the buffer),
    /// so the next call parks without trying the system call first. Edge-triggered
    /// pollers report the next arrival. Unix only: on Windows mio re-arms its poll only
    /// when a call returns `WouldBlock`.
    #[inline]
    pub(crate) fn clear_ready(&self, dir: u8) {
        if cfg!(unix) {
            self.with_reg(|hub, idx, generation| hub.io_clear(idx, generation, dir));
        }
    }

    #[inline]
    fn with_reg<R>(&self, f: impl FnOnce(&Hub, u32, u32) -> R) -> Option<R> {
        let reg = self.reg.take();
        let r = match (&reg, current::existing()) {
            (Some(reg), Some(hub)) if core::ptr::eq(hub.shared(), &*reg.shared) => {
                Some(f(hub, reg.idx, reg.generation))
            }
            _ => None,
        };
        self.reg.set(reg);
        r
    }

    /// Runs `op` until it does not fail with `WouldBlock`, parking the green thread until
    /// `dir` is ready in between. `timeout`: how long to wait in total (`TimedOut` error
    /// after that).
    ///
    /// # Errors
    /// `op`'s error; `TimedOut`; an error if the poller cannot be set up or the source not
    /// registered; `Other` if called while the OS thread panics and the call would block.
    #[inline]
    pub(crate) fn io<R>(
        &self,
        dir: u8,
        timeout: Option<Duration>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        if self.nonblocking.get() {
            return op(&self.src.borrow());
        }
        let mut deadline = None;
        loop {
            let known_blocked = self
                .with_reg(|hub, idx, generation| !hub.io_is_ready(idx, generation, dir))
                .unwrap_or(false);
            if !known_blocked {
                let r = op(&self.src.borrow());
                match r {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return other,
                }
            }
            if deadline.is_none()
                && let Some(t) = timeout
            {
                deadline = Some(Instant::now().checked_add(t).unwrap_or_else(far_future));
            }
            match self.wait(dir, deadline)? {
                IoWait::Ready => {}
                IoWait::TimedOut => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "timed out waiting for the socket",
                    ));
                }
                IoWait::Closed => return Err(closed_error()),
            }
        }
    }

    /// Parks the current green thread until `dir` is ready (registering first if needed),
    /// after clearing the readiness bit.
    pub(crate) fn wait(&self, dir: u8, deadline: Option<Instant>) -> io::Result<IoWait> {
        let hub = current::hub().map_err(|_| io::Error::other(THREAD_EXITING_MSG))?;
        let (idx, generation) = self.ensure_registered(hub)?;
        hub.io_clear(idx, generation, dir);
        hub.io_wait(
            idx,
            generation,
            dir,
            deadline,
            WaitOn::Io {
                fd: self.fd,
                write: dir == WRITE,
            },
        )
    }

    /// The registration with `hub`, made now if needed (moving it from another hub).
    fn ensure_registered(&self, hub: &Hub) -> io::Result<(u32, u32)> {
        if let Some(r) = self.with_reg(|_, idx, generation| (idx, generation)) {
            return Ok(r);
        }
        self.deregister_ref();
        let (idx, generation) = hub.io_register(&mut *self.src.borrow_mut(), self.fd)?;
        self.reg.set(Some(Reg {
            shared: Arc::clone(hub.shared_arc()),
            idx,
            generation,
        }));
        Ok((idx, generation))
    }

    fn deregister(&mut self) {
        self.deregister_ref();
    }

    /// Removes the registration, wherever it is.
    fn deregister_ref(&self) {
        let Some(reg) = self.reg.take() else {
            return;
        };
        match current::existing() {
            Some(hub) if core::ptr::eq(hub.shared(), &*reg.shared) => {
                hub.io_deregister(&mut *self.src.borrow_mut(), reg.idx, reg.generation);
            }
            _ => {
                // Another OS thread's hub (the source was moved), or ours is gone. No
                // green thread can wait on it there: moving it needed every borrow gone.
                if let Some(io) = reg.shared.io.get() {
                    let _ = io.registry.deregister(&mut *self.src.borrow_mut());
                }
                reg.shared.post_io_free(reg.idx, reg.generation);
            }
        }
    }
}

impl<S: Source> Drop for IoSource<S> {
    fn drop(&mut self) {
        self.deregister();
    }
}

/// The error of an I/O call whose registration was removed while it waited.
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket was closed while a green thread waited on it",
    )
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// Waits until the raw fd (`SOCKET` on Windows) `fd` is readable (`dir == READ`) or
/// writable, or `deadline` passes: `wait_readable`/`wait_writable`. The fd is registered
/// for the length of the wait only (a `dup` of it if it is registered already, e.g. one of
/// our sockets).
///
/// # Errors
/// Registration errors (e.g. `EPERM` for a regular file on Linux), `TimedOut`, or the
/// errors of [`Hub::io_wait`].
pub(crate) fn wait_raw(fd: RawSource, dir: u8, deadline: Option<Instant>) -> io::Result<()> {
    let hub = current::hub().map_err(|_| io::Error::other(THREAD_EXITING_MSG))?;
    let what = WaitOn::Io {
        fd: fd as u64,
        write: dir == WRITE,
    };
    with_raw_source(fd, |src| {
        let (idx, generation) = hub.io_register(src, fd as u64)?;
        // Deregisters however the wait ends, a kill unwinding through it included.
        let reg = Dereg {
            hub,
            src,
            idx,
            generation,
        };
        hub.io_clear(idx, generation, READ | WRITE);
        let r = hub.io_wait(idx, generation, dir, deadline, what);
        drop(reg);
        match r? {
            IoWait::Ready => Ok(()),
            IoWait::TimedOut => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "timed out waiting for the fd",
            )),
            IoWait::Closed => Err(closed_error()),
        }
    })
}

/// Removes a temporary registration when dropped.
struct Dereg<'a, S: Source + ?Sized> {
    hub: &'a Hub,
    src: &'a mut S,
    idx: u32,
    generation: u32,
}

impl<S: Source + ?Sized> Drop for Dereg<'_, S> {
    fn drop(&mut self) {
        self.hub.io_deregister(self.src, self.idx, self.generation);
    }
}

/// A raw fd (Unix) or `SOCKET` (Windows).
#[cfg(unix)]
pub(crate) type RawSource = std::os::fd::RawFd;
/// A raw fd (Unix) or `SOCKET` (Windows).
#[cfg(windows)]
pub(crate) type RawSource = std::os::windows::io::RawSocket;

/// Runs `f` with a `Source` for the raw fd. A kill unwinding out of `f` still cleans up:
/// `wait_raw` deregisters before it propagates, and the `dup` is an `OwnedFd`.
#[cfg(unix)]
fn with_raw_source<R>(
    fd: RawSource,
    f: impl Fn(&mut mio::unix::SourceFd<'_>) -> io::Result<R>,
) -> io::Result<R> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    match f(&mut mio::unix::SourceFd(&fd)) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Registered already (one of our sockets): wait on a duplicate, which epoll
            // treats as a separate registration of the same file. `fcntl` on an arbitrary
            // integer is harmless (EBADF if it is not open), unlike a `BorrowedFd`, whose
            // contract an `AsRawFd` impl cannot promise us.
            // SAFETY: `fcntl(F_DUPFD_CLOEXEC)` reads no memory of ours.
            let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
            if new < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `new` was just returned by `fcntl`: an open fd nobody else owns.
            let dup = unsafe { OwnedFd::from_raw_fd(new) };
            let raw = dup.as_raw_fd();
            f(&mut mio::unix::SourceFd(&raw))
        }
        other => other,
    }
}

/// Runs `f` with a `Source` for the raw socket: a temporary mio socket around it, turned
/// back into the raw socket (not closed) afterwards.
#[cfg(windows)]
fn with_raw_source<R>(
    fd: RawSource,
    f: impl Fn(&mut mio::net::UdpSocket) -> io::Result<R>,
) -> io::Result<R> {
    use std::os::windows::io::{FromRawSocket, IntoRawSocket};
    /// Gives the socket back without closing it, even if `f` unwinds.
    struct Borrowed(Option<mio::net::UdpSocket>);
    impl Drop for Borrowed {
        fn drop(&mut self) {
            if let Some(s) = self.0.take() {
                let _ = s.into_raw_socket();
            }
        }
    }
    // SAFETY: the caller owns or borrows the socket for this call (`AsRawSocket`); the
    // wrapper is turned back into the raw socket by `Borrowed`, never closed.
    let mut tmp = Borrowed(Some(unsafe { mio::net::UdpSocket::from_raw_socket(fd) }));
    match tmp.0.as_mut() {
        Some(s) => f(s),
        None => unreachable!(),
    }
}

/// `(live registrations, green threads waiting for I/O, whether any I/O is registered)` of
/// this OS thread's hub (tests).
#[cfg(test)]
pub(crate) fn counts() -> (usize, usize, bool) {
    match current::existing() {
        Some(hub) => hub.io_counts(),
        None => (0, 0, false),
    }
}
