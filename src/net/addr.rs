//! Address resolution that never blocks the hub: literal addresses are parsed in place,
//! host names are resolved on the [`spawn_blocking`](super::spawn_blocking) pool.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::spawn_blocking;

/// Things that name one or more socket addresses: `std::net::ToSocketAddrs`, except that
/// a host name is resolved on the [`spawn_blocking`](super::spawn_blocking) pool, so a
/// DNS lookup parks the calling green thread instead of stalling its OS thread.
/// Implemented for the same types as std's trait (`SocketAddr`, `(IpAddr, u16)`,
/// `"host:port"`, `("host", port)`, `&[SocketAddr]`, ...).
///
/// # Examples
///
/// ```
/// use greenthread::net::ToSocketAddrs;
///
/// let a = ("127.0.0.1", 80).to_socket_addrs().unwrap();
/// assert_eq!(a, vec!["127.0.0.1:80".parse().unwrap()]);
/// ```
pub trait ToSocketAddrs {
    /// Every address this names, in order.
    ///
    /// # Errors
    ///
    /// A resolution error, or `InvalidInput` for a malformed string.
    ///
    /// # Panics
    ///
    /// A host-name lookup is a switch point: a pending kill is raised there.
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

impl ToSocketAddrs for SocketAddr {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V4(*self)])
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::V6(*self)])
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0.into(), self.1)])
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = self.0.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, self.1)]);
        }
        let (host, port) = (self.0.to_owned(), self.1);
        resolve(move || std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)))
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (self.0.as_str(), self.1).to_socket_addrs()
    }
}

impl ToSocketAddrs for str {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        if let Ok(a) = self.parse::<SocketAddr>() {
            return Ok(vec![a]);
        }
        let s = self.to_owned();
        resolve(move || std::net::ToSocketAddrs::to_socket_addrs(s.as_str()))
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.as_str().to_socket_addrs()
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (**self).to_socket_addrs()
    }
}

/// Runs a std lookup on the blocking pool.
fn resolve<I: Iterator<Item = SocketAddr>>(
    lookup: impl FnOnce() -> io::Result<I> + Send + 'static,
) -> io::Result<Vec<SocketAddr>> {
    spawn_blocking(move || lookup().map(Iterator::collect))
}

/// Resolves `addr` to its socket addresses without blocking the hub (Python's
/// `socket.getaddrinfo`, gevent's resolver): a host name is looked up on the
/// [`spawn_blocking`](super::spawn_blocking) pool.
///
/// # Examples
///
/// ```
/// let a = greenthread::net::lookup_host("localhost:80").unwrap();
/// assert!(a.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
///
/// # Python equivalent
///
/// `gevent.socket.getaddrinfo(host, port)`.
///
/// # Differences
///
/// Returns the socket addresses only (no family, type, protocol or canonical name
/// filters).
///
/// # Errors
///
/// The resolver's error (e.g. an unknown host), `InvalidInput` for a malformed string.
///
/// # Panics
///
/// A pending kill of the green thread is raised while it waits (it unwinds).
pub fn lookup_host<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    addr.to_socket_addrs()
}

/// Calls `f` with each address in turn until one succeeds; the last error otherwise.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
