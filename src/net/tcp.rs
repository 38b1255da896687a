//! `TcpListener` and `TcpStream`.

use core::cell::Cell;
use core::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::Duration;

use super::addr::{ToSocketAddrs, each_addr};
use super::check_timeout;
use super::fd::{dup, fd_traits, raw};
use crate::sched::io::{IoSource, READ, WRITE};

/// A TCP socket server, listening for connections: `std::net::TcpListener` whose
/// [`accept`](Self::accept) parks the calling green thread instead of blocking the OS
/// thread.
///
/// `Send`, not `Sync` (see [the module docs](super#threads-send-not-sync)).
///
/// # Examples
///
/// ```
/// use greenthread::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// let client = greenthread::spawn(move || TcpStream::connect(addr).unwrap());
/// let (_conn, peer) = listener.accept().unwrap();
/// assert_eq!(peer, client.join().unwrap().local_addr().unwrap());
/// ```
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    fn from_mio(l: mio::net::TcpListener) -> TcpListener {
        let fd = raw(&l);
        TcpListener {
            io: IoSource::new(l, fd),
        }
    }

    /// Creates a listener bound to `addr` (`SO_REUSEADDR` on Unix, backlog 1024), trying
    /// each address `addr` resolves to until one binds. A host name is resolved on the
    /// [`spawn_blocking`](super::spawn_blocking) pool.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert_ne!(l.local_addr().unwrap().port(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the port is taken, the last address's error if none binds,
    /// `InvalidInput` if `addr` resolves to nothing.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(addr, |a| {
            mio::net::TcpListener::bind(a).map(TcpListener::from_mio)
        })
    }

    /// Accepts a connection, parking the green thread until one arrives.
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    ///
    /// # Errors
    ///
    /// The `accept` error: e.g. `EMFILE` (`raw_os_error() == Some(libc::EMFILE)`) when the
    /// process is out of file descriptors; the pending connection stays queued and the
    /// listener keeps working once fds are free.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.io.io(READ, None, |l| l.accept())?;
        Ok((TcpStream::from_mio(s), a))
    }

    /// An iterator over accepted connections (never `None`): `accept` in a loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// greenthread::spawn(move || { let _ = TcpStream::connect(addr); });
    /// let first = l.incoming().next().unwrap().unwrap();
    /// assert_eq!(first.local_addr().unwrap(), addr);
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.local_addr().unwrap().ip().is_loopback());
    /// ```
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// A second handle to the same listening socket (a duplicated fd, registered on its
    /// own: it may be used on another OS thread).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l.local_addr().unwrap(), l2.local_addr().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `dup` error (e.g. `EMFILE`).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let l = dup(&*self.io.get())?;
        let l = TcpListener::from_mio(l);
        l.io.set_nonblocking(self.io.is_nonblocking());
        Ok(l)
    }

    /// Sets `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_ttl(42).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 42);
    /// ```
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// `IP_TTL`. See [`set_ttl`](Self::set_ttl).
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// ```
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of parking the green thread (as
    /// for a nonblocking std listener). The socket itself is always in nonblocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let l = greenthread::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// assert_eq!(l.accept().unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(TcpListener, std::net::TcpListener, mio::net::TcpListener);

/// The iterator of [`TcpListener::incoming`]. Never ends.
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection: `std::net::TcpStream` whose blocking calls (connect, read, write,
/// peek) park the calling green thread instead of blocking the OS thread.
///
/// `Read` and `Write` are implemented for `TcpStream` and for `&TcpStream`, so green
/// threads of one OS thread can share a connection (say, one reads while another writes).
/// `Send`, not `Sync` (see [the module docs](super#threads-send-not-sync)).
///
/// Writes never raise `SIGPIPE`: writing to a connection the peer closed fails with
/// `BrokenPipe` (or `ConnectionReset`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenthread::net::{TcpListener, TcpStream};
///
/// let l = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let server = greenthread::spawn(move || {
///     let (mut s, _) = l.accept().unwrap();
///     s.write_all(b"hi").unwrap();
/// });
/// let mut c = TcpStream::connect(addr).unwrap();
/// let mut got = String::new();
/// c.read_to_string(&mut got).unwrap(); // until the server closes
/// assert_eq!(got, "hi");
/// server.join().unwrap();
/// ```
pub struct TcpStream {
    io: IoSource<mio::net::TcpStream>,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
}

impl TcpStream {
    fn from_mio(s: mio::net::TcpStream) -> TcpStream {
        let fd = raw(&s);
        TcpStream {
            io: IoSource::new(s, fd),
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
        }
    }

    /// Opens a connection to `addr`, trying each address it resolves to in turn; the
    /// green thread parks until the connection is established or refused. A host name is
    /// resolved on the [`spawn_blocking`](super::spawn_blocking) pool.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(c.peer_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    ///
    /// # Python equivalent
    ///
    /// `gevent.socket.create_connection(address)`.
    ///
    /// # Differences
    ///
    /// No `timeout` (use [`connect_timeout`](Self::connect_timeout) for one address) or
    /// `source_address` argument.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when nothing listens, the last address's error if none
    /// connects, `InvalidInput` if `addr` resolves to nothing.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| TcpStream::connect_addr(a, None))
    }

    /// [`connect`](Self::connect) to one address, giving up with `TimedOut` after
    /// `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// As `connect`, plus `TimedOut`, and `InvalidInput` for a zero timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(super::zero_timeout());
        }
        TcpStream::connect_addr(*addr, Some(timeout))
    }

    fn connect_addr(addr: SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let s = TcpStream::from_mio(mio::net::TcpStream::connect(addr)?);
        // mio's recipe: once writable, `take_error` then `peer_addr` tell how it went.
        s.io.io(WRITE, timeout, |s| {
            if let Some(e) = s.take_error()? {
                return Err(e);
            }
            match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(einprogress()) =>
                {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })?;
        Ok(s)
    }

    /// The remote address.
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// `NotConnected` and other `getpeername` errors.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// Shuts down the read half, the write half, or both. Green threads of this hub
    /// waiting on the connection wake: reads see end of file, writes fail (the poller
    /// reports the state change).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.shutdown(Shutdown::Read).unwrap();
    /// assert_eq!(c.read(&mut [0; 4]).unwrap(), 0);
    /// ```
    ///
    /// # Errors
    ///
    /// The `shutdown` error (e.g. `NotConnected`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get().shutdown(how)
    }

    /// Sets `TCP_NODELAY` (no Nagle delay for small writes).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_nodelay(true).unwrap();
    /// assert!(c.nodelay().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get().set_nodelay(nodelay)
    }

    /// `TCP_NODELAY`. See [`set_nodelay`](Self::set_nodelay).
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_ttl(7).unwrap();
    /// assert_eq!(c.ttl().unwrap(), 7);
    /// ```
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// `IP_TTL`. See [`set_ttl`](Self::set_ttl).
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(c.take_error().unwrap().is_none());
    /// ```
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// How long a read (or peek) may park before it fails with `TimedOut` (`None`: no
    /// limit). A read that times out consumes nothing; the connection stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    /// let e = c.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.read_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// How long a write may park before it fails with `TimedOut`. With `write_all`, what
    /// was written before the timeout stays written (as with std): the error does not say
    /// how much; use `write` to know.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(c.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// The read timeout. See [`set_read_timeout`](Self::set_read_timeout).
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout. See [`set_write_timeout`](Self::set_write_timeout).
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// Reads without consuming, parking until data (or end of file) is there.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// c.write_all(b"abc").unwrap();
    /// let mut buf = [0; 3];
    /// assert_eq!(s.peek(&mut buf).unwrap(), 3);
    /// assert_eq!(&buf, b"abc");
    /// ```
    ///
    /// # Errors
    ///
    /// As `read`.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(READ, self.read_timeout.get(), |s| s.peek(buf))
    }

    /// A second handle to the same connection: a duplicated fd, registered on its own, so
    /// it may be used on another OS thread at the same time. Timeouts are copied.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let c2 = c.try_clone().unwrap();
    /// assert_eq!(c.local_addr().unwrap(), c2.local_addr().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `dup` error (e.g. `EMFILE`).
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let s = TcpStream::from_mio(dup(&*self.io.get())?);
        s.read_timeout.set(self.read_timeout.get());
        s.write_timeout.set(self.write_timeout.get());
        s.io.set_nonblocking(self.io.is_nonblocking());
        Ok(s)
    }

    /// With `true`, reads and writes return `WouldBlock` instead of parking the green
    /// thread (as for a nonblocking std socket).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use greenthread::net::{TcpListener, TcpStream};
    ///
    /// let l = TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_nonblocking(true).unwrap();
    /// assert_eq!(c.read(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.io.set_nonblocking(nonblocking);
        Ok(())
    }
}

#[cfg(unix)]
fn einprogress() -> i32 {
    libc::EINPROGRESS
}

#[cfg(windows)]
fn einprogress() -> i32 {
    // WSAEINPROGRESS; mio reports a pending connect as `NotConnected` anyway.
    10036
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .io
            .io(READ, self.read_timeout.get(), |mut s| s.read(buf))?;
        if n != 0 && n < buf.len() {
            // A short read drained the receive buffer: the next read parks at once
            // instead of paying for an EAGAIN (the poller reports new data).
            self.io.clear_ready(READ);
        }
        Ok(n)
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .io
            .io(WRITE, self.write_timeout.get(), |mut s| s.write(buf))?;
        if n < buf.len() {
            // The send buffer is full.
            self.io.clear_ready(WRITE);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("addr", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(TcpStream, std::net::TcpStream, mio::net::TcpStream);
