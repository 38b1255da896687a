//! Cooperative networking: sockets whose blocking calls park the calling green thread, not
//! the OS thread, so every other green thread of the hub runs meanwhile.
//!
//! [`TcpListener`], [`TcpStream`] and [`UdpSocket`] are shaped like their `std::net`
//! counterparts (and [`unix`](crate::unix) has the Unix-domain ones). [`wait_readable`] and
//! [`wait_writable`] adapt any other fd or socket (gevent's `wait_read`/`wait_write`);
//! [`spawn_blocking`] runs what has no readiness API (file I/O, a blocking C call, name
//! resolution) on a small pool of OS threads.
//!
//! ```
//! use std::io::{Read, Write};
//! use greenthread::net::{TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! let server = greenthread::spawn(move || {
//!     let (mut s, _) = listener.accept().unwrap();
//!     let mut buf = [0; 5];
//!     s.read_exact(&mut buf).unwrap();
//!     s.write_all(&buf).unwrap(); // echo
//! });
//! let mut c = TcpStream::connect(addr).unwrap(); // parks; the server runs meanwhile
//! c.write_all(b"hello").unwrap();
//! let mut back = [0; 5];
//! c.read_exact(&mut back).unwrap();
//! assert_eq!(&back, b"hello");
//! server.join().unwrap();
//! ```
//!
//! # How it works
//!
//! Each socket is in nonblocking mode. A call tries the system call; if it would block, the
//! socket is registered (once, edge-triggered, for both directions) with the calling OS
//! thread's hub's poller and the green thread parks until the poller reports readiness,
//! the timeout passes, or it is killed. The hub blocks in the poller only when no green
//! thread is runnable. `docs/IO.md` has the details, including what still blocks the OS
//! thread.
//!
//! # Threads: `Send`, not `Sync`
//!
//! Every socket type is `Send` and `!Sync`. Green threads of one OS thread share a socket
//! through `&TcpStream` (`Read`/`Write` are implemented for `&TcpStream`, e.g. one reader
//! and one writer green thread). A socket moved to another OS thread works there: its next
//! blocking call moves its registration to that thread's hub. To use one connection from
//! two OS threads at once, [`TcpStream::try_clone`] it (a duplicate fd, registered on its
//! own). `!Sync` is what makes this sound without locks: a registration is touched only by
//! its own hub's OS thread, and moving a socket requires that nobody borrows it, so no
//! green thread can be waiting on it while it moves or closes.
//!
//! ```compile_fail
//! // `&TcpStream` cannot be sent to another OS thread: the types are not `Sync`.
//! let s = greenthread::net::TcpStream::connect("127.0.0.1:1").unwrap();
//! let r = &s;
//! std::thread::scope(|t| { t.spawn(move || r.peer_addr()); });
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<greenthread::net::TcpListener>();
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<greenthread::net::UdpSocket>();
//! ```
//!
//! # Errors
//!
//! The `std::io::Error`s of the system calls (`ConnectionRefused`, `ConnectionReset`,
//! `BrokenPipe` (never a `SIGPIPE`), `AddrInUse`, `EMFILE` as a raw OS error ...), plus
//! `TimedOut` when a read or write timeout passes (the socket stays usable). A green thread
//! killed while it waits unwinds out of the call; its registration is cleaned up.

mod addr;
mod blocking;
pub(crate) mod fd;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

pub use addr::{ToSocketAddrs, lookup_host};
pub use blocking::{BLOCKING_THREADS, spawn_blocking};
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;

use std::io;
use std::time::{Duration, Instant};

use crate::sched::io::{READ, WRITE, wait_raw};

/// Parks the calling green thread until `fd` is readable, or `timeout` passes: gevent's
/// `wait_read`, eventlet's `trampoline(fd, read=True)`. For fds that greenthread's own types
/// do not cover: pipes, eventfds, a C library's socket. The fd must be in nonblocking mode
/// if you then read it and a spurious readiness is possible.
///
/// The fd is registered with the hub's poller for the length of the call only (two extra
/// system calls; greenthread's socket types register once instead). Readiness is
/// level-style: an fd that is readable already returns at once.
///
/// If the fd is closed by another OS thread while a green thread waits on it, the poller
/// (epoll) may silently forget it: the wait then ends only when `timeout` passes (so give
/// one), and never with an error. Closing it from another green thread of the same hub is
/// the same. greenthread's socket types cannot be closed while a green thread waits on
/// them (closing needs ownership, waiting a borrow).
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (a, mut b) = UnixStream::pair().unwrap();
/// let writer = greenthread::spawn(move || b.write_all(b"x").unwrap());
/// // Parks until the writer green thread has run.
/// greenthread::net::wait_readable(&a, Some(Duration::from_secs(10))).unwrap();
/// let mut buf = [0; 1];
/// (&a).read_exact(&mut buf).unwrap();
/// writer.join().unwrap();
/// # }
/// ```
///
/// # Python equivalent
///
/// `gevent.socket.wait_read(fileno, timeout=None)`.
///
/// # Differences
///
/// Takes the fd owner by reference (`AsRawFd`), not an integer; a timeout is a
/// `TimedOut` error (gevent raises `socket.timeout`); no `timeout_exc` argument.
///
/// # Errors
///
/// `TimedOut` after `timeout`; `InvalidInput` for a zero timeout (as std's socket
/// timeouts); the poller's registration error for an fd it cannot watch (a regular file on
/// Linux: `EPERM`); `Other` if called while the OS thread is panicking (nothing may switch
/// then).
///
/// # Panics
///
/// The calling green thread's pending kill is raised here (it unwinds).
#[cfg(unix)]
pub fn wait_readable<F: std::os::fd::AsRawFd + ?Sized>(
    fd: &F,
    timeout: Option<Duration>,
) -> io::Result<()> {
    wait_raw(fd.as_raw_fd(), READ, deadline(timeout)?)
}

/// Parks the calling green thread until `fd` is writable, or `timeout` passes: gevent's
/// `wait_write`. See [`wait_readable`] for the rules.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// // An empty socket buffer is writable at once.
/// greenthread::net::wait_writable(&a, None).unwrap();
/// # }
/// ```
///
/// # Python equivalent
///
/// `gevent.socket.wait_write(fileno, timeout=None)`.
///
/// # Differences
///
/// As [`wait_readable`].
///
/// # Errors
///
/// As [`wait_readable`].
///
/// # Panics
///
/// The calling green thread's pending kill is raised here (it unwinds).
#[cfg(unix)]
pub fn wait_writable<F: std::os::fd::AsRawFd + ?Sized>(
    fd: &F,
    timeout: Option<Duration>,
) -> io::Result<()> {
    wait_raw(fd.as_raw_fd(), WRITE, deadline(timeout)?)
}

/// Parks the calling green thread until the socket is readable, or `timeout` passes:
/// gevent's `wait_read`. See the Unix version for the rules.
///
/// # Errors
///
/// `TimedOut`, `InvalidInput` for a zero timeout, registration errors.
///
/// # Panics
///
/// The calling green thread's pending kill is raised here (it unwinds).
#[cfg(windows)]
pub fn wait_readable<F: std::os::windows::io::AsRawSocket + ?Sized>(
    fd: &F,
    timeout: Option<Duration>,
) -> io::Result<()> {
    wait_raw(fd.as_raw_socket(), READ, deadline(timeout)?)
}

/// Parks the calling green thread until the socket is writable, or `timeout` passes:
/// gevent's `wait_write`.
///
/// # Errors
///
/// As [`wait_readable`].
///
/// # Panics
///
/// The calling green thread's pending kill is raised here (it unwinds).
#[cfg(windows)]
pub fn wait_writable<F: std::os::windows::io::AsRawSocket + ?Sized>(
    fd: &F,
    timeout: Option<Duration>,
) -> io::Result<()> {
    wait_raw(fd.as_raw_socket(), WRITE, deadline(timeout)?)
}

/// The deadline of a timeout; a zero timeout is refused as std refuses it.
fn deadline(timeout: Option<Duration>) -> io::Result<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_zero() => Err(zero_timeout()),
        Some(t) => Ok(Some(Instant::now().checked_add(t).unwrap_or_else(|| {
            Instant::now() + Duration::from_secs(86_400 * 365 * 30)
        }))),
    }
}

/// std's error for a zero socket timeout.
pub(crate) fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout",
    )
}

/// Checks a socket timeout as std's `set_read_timeout` does.
pub(crate) fn check_timeout(t: Option<Duration>) -> io::Result<Option<Duration>> {
    match t {
        Some(d) if d.is_zero() => Err(zero_timeout()),
        other => Ok(other),
    }
}
