//! Cooperative Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`],
//! shaped like `std::os::unix::net`'s, whose blocking calls park the calling green thread,
//! not the OS thread. The rules of [`net`](crate::net) apply (`Send`, not `Sync`; timeouts;
//! kill while waiting; `docs/IO.md`).
//!
//! ```
//! use std::io::{Read, Write};
//! use greenthread::unix::UnixStream;
//!
//! let (mut a, mut b) = UnixStream::pair().unwrap();
//! let echo = greenthread::spawn(move || {
//!     let mut buf = [0; 4];
//!     b.read_exact(&mut buf).unwrap();
//!     b.write_all(&buf).unwrap();
//! });
//! a.write_all(b"ping").unwrap();
//! let mut back = [0; 4];
//! a.read_exact(&mut back).unwrap();
//! assert_eq!(&back, b"ping");
//! echo.join().unwrap();
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<greenthread::unix::UnixStream>();
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<greenthread::unix::UnixListener>();
//! ```
//!
//! ```compile_fail
//! fn sync<T: Sync>() {}
//! sync::<greenthread::unix::UnixDatagram>();
//! ```

use core::cell::Cell;
use core::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::net::check_timeout;
use crate::net::fd::{dup, fd_traits, raw};
use crate::sched::io::{IoSource, READ, WRITE};

/// A Unix-domain stream listener: `std::os::unix::net::UnixListener` whose `accept` parks
/// the green thread.
///
/// # Examples
///
/// ```
/// use greenthread::unix::{UnixListener, UnixStream};
///
/// let dir = std::env::temp_dir().join(format!("gt-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// let l = UnixListener::bind(&path).unwrap();
/// let p = path.clone();
/// let c = greenthread::spawn(move || UnixStream::connect(&p).unwrap());
/// let (_s, _addr) = l.accept().unwrap();
/// c.join().unwrap();
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub struct UnixListener {
    io: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    fn from_mio(l: mio::net::UnixListener) -> UnixListener {
        let fd = raw(&l);
        UnixListener {
            io: IoSource::new(l, fd),
        }
    }

    /// Binds a listener to `path` (which must not exist).
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists, and other `bind` errors.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        mio::net::UnixListener::bind(path).map(UnixListener::from_mio)
    }

    /// Accepts a connection, parking until one arrives.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    ///
    /// # Errors
    ///
    /// The `accept` error (e.g. `EMFILE`).
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.io.io(READ, None, |l| l.accept())?;
        Ok((UnixStream::from_mio(s), a))
    }

    /// `accept` in a never-ending iterator.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let l = greenthread::unix::UnixListener::bind("/tmp/sock").unwrap();
    /// for s in l.incoming() {
    ///     let _s = s.unwrap();
    /// }
    /// ```
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        core::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Takes the pending socket error.
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// A second handle (a duplicated fd, registered on its own).
    ///
    /// # Errors
    ///
    /// The `dup` error.
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let l = UnixListener::from_mio(dup(&*self.io.get())?);
        l.io.set_nonblocking(self.io.is_nonblocking());
        Ok(l)
    }

    /// With `true`, `accept` returns `WouldBlock` instead of parking.
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(
    UnixListener,
    std::os::unix::net::UnixListener,
    mio::net::UnixListener
);

/// A Unix-domain stream: `std::os::unix::net::UnixStream` whose blocking calls park the
/// green thread. `Read`/`Write` for the type and for `&UnixStream`. Writes never raise
/// `SIGPIPE` (std's `UnixStream::write` can): a write to a closed peer is `BrokenPipe`.
///
/// # Examples
///
/// See [the module docs](self).
pub struct UnixStream {
    io: IoSource<mio::net::UnixStream>,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
}

impl UnixStream {
    fn from_mio(s: mio::net::UnixStream) -> UnixStream {
        let fd = raw(&s);
        no_sigpipe(fd as i32);
        UnixStream {
            io: IoSource::new(s, fd),
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
        }
    }

    /// Connects to the socket at `path`.
    ///
    /// # Examples
    ///
    /// See [`UnixListener`].
    ///
    /// # Errors
    ///
    /// `NotFound` (no such path), `ConnectionRefused` (nobody listens), other `connect`
    /// errors.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = UnixStream::from_mio(mio::net::UnixStream::connect(path)?);
        s.io.io(WRITE, None, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })?;
        Ok(s)
    }

    /// A connected pair.
    ///
    /// # Examples
    ///
    /// See [the module docs](self).
    ///
    /// # Errors
    ///
    /// The `socketpair` error (e.g. `EMFILE`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a), UnixStream::from_mio(b)))
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The `getpeername` error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Shuts down one or both halves; waiters on this hub wake (EOF / `BrokenPipe`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// let (mut a, _b) = greenthread::unix::UnixStream::pair().unwrap();
    /// a.shutdown(std::net::Shutdown::Read).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// The `shutdown` error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Takes the pending socket error.
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Read timeout (`TimedOut` after it; the stream stays usable).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (mut a, _b) = greenthread::unix::UnixStream::pair().unwrap();
    /// a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    /// assert_eq!(a.read(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// Write timeout.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// The read timeout.
    ///
    /// # Errors
    ///
    /// None today.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout.
    ///
    /// # Errors
    ///
    /// None today.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// A second handle (a duplicated fd, registered on its own; usable on another OS
    /// thread at the same time).
    ///
    /// # Errors
    ///
    /// The `dup` error.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let s = UnixStream::from_mio(dup(&*self.io.get())?);
        s.read_timeout.set(self.read_timeout.get());
        s.write_timeout.set(self.write_timeout.get());
        s.io.set_nonblocking(self.io.is_nonblocking());
        Ok(s)
    }

    /// With `true`, calls return `WouldBlock` instead of parking.
    ///
    /// # Errors
    ///
    /// None today.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// Sets `SO_NOSIGPIPE` where there is no `MSG_NOSIGNAL` (Apple).
#[cfg(target_vendor = "apple")]
fn no_sigpipe(fd: i32) {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_NOSIGPIPE,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_vendor = "apple"))]
fn no_sigpipe(_fd: i32) {}

#[cfg(target_vendor = "apple")]
const SEND_FLAGS: libc::c_int = 0;
#[cfg(not(target_vendor = "apple"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;

/// `send` that never raises `SIGPIPE`.
fn send(fd: i32, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; `fd` is an open socket.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), SEND_FLAGS) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .io
            .io(READ, self.read_timeout.get(), |mut s| s.read(buf))?;
        if n != 0 && n < buf.len() {
            self.io.clear_ready(READ);
        }
        Ok(n)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.io.io(WRITE, self.write_timeout.get(), |s| {
            send(s.as_raw_fd(), buf)
        })?;
        if n < buf.len() {
            self.io.clear_ready(WRITE);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(
    UnixStream,
    std::os::unix::net::UnixStream,
    mio::net::UnixStream
);

/// A Unix-domain datagram socket: `std::os::unix::net::UnixDatagram` whose blocking calls
/// park the green thread.
///
/// # Examples
///
/// ```
/// use greenthread::unix::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair().unwrap();
/// let sender = greenthread::spawn(move || a.send(b"dgram").unwrap());
/// let mut buf = [0; 16];
/// let n = b.recv(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"dgram");
/// sender.join().unwrap();
/// ```
pub struct UnixDatagram {
    io: IoSource<mio::net::UnixDatagram>,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
}

impl UnixDatagram {
    fn from_mio(s: mio::net::UnixDatagram) -> UnixDatagram {
        let fd = raw(&s);
        no_sigpipe(fd as i32);
        UnixDatagram {
            io: IoSource::new(s, fd),
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
        }
    }

    /// A socket bound to `path`.
    ///
    /// # Errors
    ///
    /// `AddrInUse` if `path` exists, other `bind` errors.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        mio::net::UnixDatagram::bind(path).map(UnixDatagram::from_mio)
    }

    /// An unbound socket.
    ///
    /// # Errors
    ///
    /// The `socket` error.
    pub fn unbound() -> io::Result<UnixDatagram> {
        mio::net::UnixDatagram::unbound().map(UnixDatagram::from_mio)
    }

    /// A connected pair.
    ///
    /// # Errors
    ///
    /// The `socketpair` error.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = mio::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_mio(a), UnixDatagram::from_mio(b)))
    }

    /// Connects to the socket at `path` (for `send`/`recv`).
    ///
    /// # Errors
    ///
    /// The `connect` error.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.io.get().connect(path)
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// The `send` error; `TimedOut` after the write timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(WRITE, self.write_timeout.get(), |s| {
            send(s.as_raw_fd(), buf)
        })
    }

    /// Sends to `path`.
    ///
    /// # Errors
    ///
    /// The `sendto` error; `TimedOut` after the write timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.io
            .io(WRITE, self.write_timeout.get(), |s| s.send_to(buf, path))
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// The `recv` error; `TimedOut` after the read timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(READ, self.read_timeout.get(), |s| s.recv(buf))
    }

    /// Receives one datagram and its sender's address.
    ///
    /// # Errors
    ///
    /// The `recvfrom` error; `TimedOut` after the read timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io(READ, self.read_timeout.get(), |s| s.recv_from(buf))
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// Shuts down one or both halves.
    ///
    /// # Errors
    ///
    /// The `shutdown` error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Takes the pending socket error.
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// Read timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = greenthread::unix::UnixDatagram::pair().unwrap();
    /// a.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    /// assert_eq!(a.recv(&mut [0; 1]).unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// Write timeout.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// A second handle (a duplicated fd, registered on its own).
    ///
    /// # Errors
    ///
    /// The `dup` error.
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let s = UnixDatagram::from_mio(dup(&*self.io.get())?);
        s.read_timeout.set(self.read_timeout.get());
        s.write_timeout.set(self.write_timeout.get());
        s.io.set_nonblocking(self.io.is_nonblocking());
        Ok(s)
    }

    /// With `true`, calls return `WouldBlock` instead of parking.
    ///
    /// # Errors
    ///
    /// None today.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(
    UnixDatagram,
    std::os::unix::net::UnixDatagram,
    mio::net::UnixDatagram
);
