//! `UdpSocket`.

use core::cell::Cell;
use core::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::addr::{ToSocketAddrs, each_addr};
use super::check_timeout;
use super::fd::{dup, fd_traits, raw};
use crate::sched::io::{IoSource, READ, WRITE};

/// A UDP socket: `std::net::UdpSocket` whose blocking calls (`recv`, `recv_from`, `send`,
/// `send_to`, `peek`) park the calling green thread instead of blocking the OS thread.
///
/// `Send`, not `Sync` (see [the module docs](super#threads-send-not-sync)).
///
/// # Examples
///
/// ```
/// use greenthread::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = a.local_addr().unwrap();
/// let sender = greenthread::spawn(move || b.send_to(b"ping", to).unwrap());
/// let mut buf = [0; 16];
/// let (n, _from) = a.recv_from(&mut buf).unwrap(); // parks until the sender ran
/// assert_eq!(&buf[..n], b"ping");
/// sender.join().unwrap();
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
}

impl UdpSocket {
    fn from_mio(s: mio::net::UdpSocket) -> UdpSocket {
        let fd = raw(&s);
        UdpSocket {
            io: IoSource::new(s, fd),
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
        }
    }

    /// Creates a socket bound to `addr` (the first address that binds).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.local_addr().unwrap().ip().is_loopback());
    /// ```
    ///
    /// # Errors
    ///
    /// `AddrInUse`, the last address's error, `InvalidInput` if `addr` resolves to nothing.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |a| {
            mio::net::UdpSocket::bind(a).map(UdpSocket::from_mio)
        })
    }

    /// Receives one datagram and its sender, parking until one arrives.
    ///
    /// # Examples
    ///
    /// See [`UdpSocket`].
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

    /// Like [`recv_from`](Self::recv_from) without consuming the datagram.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.send_to(b"x", a.local_addr().unwrap()).unwrap();
    /// let mut buf = [0; 4];
    /// assert_eq!(a.peek_from(&mut buf).unwrap().0, 1);
    /// assert_eq!(a.recv_from(&mut buf).unwrap().0, 1);
    /// ```
    ///
    /// # Errors
    ///
    /// As `recv_from`.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .io(READ, self.read_timeout.get(), |s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr` (the first address it resolves to).
    ///
    /// # Examples
    ///
    /// See [`UdpSocket`].
    ///
    /// # Errors
    ///
    /// The `sendto` error; `TimedOut` after the write timeout; `InvalidInput` if `addr`
    /// resolves to nothing.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(to) = addr.to_socket_addrs()?.into_iter().next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        self.io
            .io(WRITE, self.write_timeout.get(), |s| s.send_to(buf, to))
    }

    /// Connects the socket to `addr`: `send`/`recv` then use it, and datagrams from other
    /// addresses are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// b.connect(a.local_addr().unwrap()).unwrap();
    /// a.send(b"hey").unwrap();
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 3);
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `connect` error of the last address tried.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.io.get().connect(a))
    }

    /// Sends to the connected address.
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// The `send` error (e.g. `ConnectionRefused` after an ICMP port unreachable);
    /// `TimedOut` after the write timeout.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.io(WRITE, self.write_timeout.get(), |s| s.send(buf))
    }

    /// Receives from the connected address.
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
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

    /// Like [`recv`](Self::recv) without consuming the datagram.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(a.local_addr().unwrap()).unwrap();
    /// a.send(b"y").unwrap();
    /// assert_eq!(a.peek(&mut [0; 4]).unwrap(), 1);
    /// ```
    ///
    /// # Errors
    ///
    /// As `recv`.
    ///
    /// # Panics
    ///
    /// A pending kill of the green thread is raised here (it unwinds).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.io(READ, self.read_timeout.get(), |s| s.peek(buf))
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// See [`bind`](Self::bind).
    ///
    /// # Errors
    ///
    /// The `getsockname` error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().local_addr()
    }

    /// The connected address.
    ///
    /// # Examples
    ///
    /// See [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// `NotConnected` if not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get().peer_addr()
    }

    /// How long a receive may park before it fails with `TimedOut` (`None`: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    /// let e = s.recv_from(&mut [0; 4]).unwrap_err();
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

    /// How long a send may park before it fails with `TimedOut`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.set_write_timeout(Some(Duration::ZERO)).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.write_timeout.set(check_timeout(timeout)?);
        Ok(())
    }

    /// The read timeout.
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout.get())
    }

    /// The write timeout.
    ///
    /// # Errors
    ///
    /// None today; `Result` for std's signature.
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout.get())
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_broadcast(true).unwrap();
    /// assert!(s.broadcast().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get().set_broadcast(on)
    }

    /// `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get().broadcast()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `setsockopt` error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.io.get().set_ttl(ttl)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.io.get().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// The `getsockopt` error.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.io.get().take_error()
    }

    /// A second handle to the same socket (a duplicated fd, registered on its own).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.try_clone().unwrap().local_addr().unwrap(), s.local_addr().unwrap());
    /// ```
    ///
    /// # Errors
    ///
    /// The `dup` error.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let s = UdpSocket::from_mio(dup(&*self.io.get())?);
        s.read_timeout.set(self.read_timeout.get());
        s.write_timeout.set(self.write_timeout.get());
        s.io.set_nonblocking(self.io.is_nonblocking());
        Ok(s)
    }

    /// With `true`, calls return `WouldBlock` instead of parking the green thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = greenthread::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_nonblocking(true).unwrap();
    /// assert_eq!(s.recv_from(&mut [0; 4]).unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
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

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.io.fd())
            .finish()
    }
}

fd_traits!(UdpSocket, std::net::UdpSocket, mio::net::UdpSocket);
