//! `greenthread::net::UdpSocket` and the `Send`/`!Sync` contract of the net types.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use greenthread::net::{TcpListener, TcpStream, UdpSocket};

static_assertions::assert_impl_all!(TcpStream: Send, std::io::Read, std::io::Write);
static_assertions::assert_impl_all!(TcpListener: Send);
static_assertions::assert_impl_all!(UdpSocket: Send);
static_assertions::assert_not_impl_any!(TcpStream: Sync);
static_assertions::assert_not_impl_any!(TcpListener: Sync);
static_assertions::assert_not_impl_any!(UdpSocket: Sync);

#[test]
fn recv_parks_until_another_green_thread_sends() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = a.local_addr().unwrap();
    let from = b.local_addr().unwrap();
    let sender = greenthread::spawn(move || {
        for i in 0..10u8 {
            b.send_to(&[i], to).unwrap();
            greenthread::yield_now();
        }
    });
    for i in 0..10u8 {
        let mut buf = [0u8; 4];
        let (n, src) = a.recv_from(&mut buf).unwrap();
        assert_eq!((n, buf[0], src), (1, i, from));
    }
    sender.join().unwrap();
}

#[test]
fn recv_timeout_and_still_usable() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let t = Instant::now();
    assert_eq!(
        a.recv_from(&mut [0u8; 4]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    a.send_to(b"z", a.local_addr().unwrap()).unwrap();
    assert_eq!(a.recv_from(&mut [0u8; 4]).unwrap().0, 1);
}

#[cfg(target_os = "linux")]
#[test]
fn connected_send_to_a_closed_port_reports_refused() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(("127.0.0.1", port)).unwrap();
    a.send(b"x").unwrap();
    // The ICMP error arrives asynchronously: the parked recv wakes with it.
    a.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let e = a.recv(&mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn bind_a_used_port() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        UdpSocket::bind(a.local_addr().unwrap()).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
}

#[test]
fn moved_to_another_os_thread() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let _ = a.recv(&mut [0u8; 1]); // registered here
    a.set_read_timeout(None).unwrap();
    let to = a.local_addr().unwrap();
    let os = std::thread::spawn(move || {
        let mut buf = [0u8; 4];
        a.recv_from(&mut buf).unwrap().0
    });
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Resend until the other thread got one (its recv may start after our first send; UDP
    // on loopback does not drop, but the datagram is queued either way).
    b.send_to(b"abc", to).unwrap();
    assert_eq!(os.join().unwrap(), 3);
}
