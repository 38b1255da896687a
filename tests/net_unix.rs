//! `greenthread::unix`: stream, listener, datagram; faults; no SIGPIPE.
#![cfg(unix)]

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use greenthread::unix::{UnixDatagram, UnixListener, UnixStream};

static_assertions::assert_impl_all!(UnixStream: Send, Read, Write);
static_assertions::assert_impl_all!(UnixListener: Send);
static_assertions::assert_impl_all!(UnixDatagram: Send);
static_assertions::assert_not_impl_any!(UnixStream: Sync);
static_assertions::assert_not_impl_any!(UnixListener: Sync);
static_assertions::assert_not_impl_any!(UnixDatagram: Sync);

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gt-unix-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("s")
}

#[test]
fn listener_accepts_and_streams_echo() {
    let path = tmp("echo");
    let l = UnixListener::bind(&path).unwrap();
    let p = path.clone();
    let client = greenthread::spawn(move || {
        let mut c = UnixStream::connect(&p).unwrap();
        c.write_all(b"abc").unwrap();
        let mut b = [0u8; 3];
        c.read_exact(&mut b).unwrap();
        b
    });
    let (mut s, _) = l.accept().unwrap();
    let mut b = [0u8; 3];
    s.read_exact(&mut b).unwrap();
    s.write_all(&b).unwrap();
    assert_eq!(&client.join().unwrap(), b"abc");
    assert_eq!(
        UnixListener::bind(&path).unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn connect_to_a_missing_or_dead_socket_fails() {
    let path = tmp("missing");
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // file stays, nobody listens
    assert_eq!(
        UnixStream::connect(&path).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn eof_timeout_and_shutdown() {
    let (mut a, b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let t = Instant::now();
    assert_eq!(
        a.read(&mut [0u8; 1]).unwrap_err().kind(),
        ErrorKind::TimedOut
    );
    assert!(t.elapsed() >= Duration::from_millis(50));
    let closer = greenthread::spawn(move || drop(b));
    a.set_read_timeout(None).unwrap();
    assert_eq!(a.read(&mut [0u8; 1]).unwrap(), 0);
    closer.join().unwrap();
    let (c, _d) = UnixStream::pair().unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!((&c).write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
}

#[test]
fn write_to_a_closed_peer_is_broken_pipe_not_sigpipe() {
    if support::is_child() {
        // SAFETY: restoring the default disposition of SIGPIPE.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let (mut a, b) = UnixStream::pair().unwrap();
        drop(b);
        let e = a.write(b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        return;
    }
    support::run_in_child("write_to_a_closed_peer_is_broken_pipe_not_sigpipe").assert_success();
}

#[test]
fn kill_during_read_unwinds() {
    let (a, _b) = UnixStream::pair().unwrap();
    let victim = greenthread::spawn(move || {
        let _ = (&a).read(&mut [0u8; 1]);
    });
    greenthread::yield_now();
    assert!(!victim.is_finished());
    victim.kill();
    assert!(victim.is_finished());
}

#[test]
fn datagrams_pair_bind_and_timeouts() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let sender = greenthread::spawn(move || {
        a.send(b"one").unwrap();
        a
    });
    let mut buf = [0u8; 8];
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    let _a = sender.join().unwrap();
    b.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
    assert_eq!(b.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);

    let path = tmp("dgram");
    let server = UnixDatagram::bind(&path).unwrap();
    let client = UnixDatagram::unbound().unwrap();
    client.send_to(b"to-path", &path).unwrap();
    let (n, _from) = server.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"to-path");
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
