//! `greenthread::net::{TcpListener, TcpStream}`: cooperative behaviour, every bad-input and
//! fault case of issue 14, kill/timeout during I/O, fairness, moving between OS threads.
//! Loopback only; every loop is bounded.

mod support;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenthread::net::{TcpListener, TcpStream};
use greenthread::sched::{HubError, WaitError};

/// A generous upper bound for calls that should finish "at once" (qemu, loaded machine).
const SLOW: Duration = Duration::from_secs(20);

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn echo_between_green_threads_and_others_run_meanwhile() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let ticks = Rc::new(Cell::new(0u32));
    let done = Rc::new(Cell::new(false));
    let (t, d) = (Rc::clone(&ticks), Rc::clone(&done));
    // Counts while the others wait for the network.
    let ticker = greenthread::spawn(move || {
        while !d.get() && t.get() < 1_000_000 {
            t.set(t.get() + 1);
            greenthread::yield_now();
        }
    });
    let server = greenthread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 64];
        let mut total = 0;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break total;
            }
            total += n;
            s.write_all(&buf[..n]).unwrap();
        }
    });
    let before = ticks.get();
    let mut c = TcpStream::connect(addr).unwrap();
    for i in 0..100u8 {
        let msg = [i; 64];
        c.write_all(&msg).unwrap();
        let mut back = [0u8; 64];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
    }
    c.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.join().unwrap(), 6400);
    done.set(true);
    ticker.join().unwrap();
    assert!(
        ticks.get() > before,
        "the ticker ran while the client waited"
    );
}

#[test]
fn read_parks_only_the_green_thread_while_another_os_thread_writes() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let os = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"late").unwrap();
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let other = greenthread::spawn(|| 7);
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"late");
    // The other green thread ran while main waited in read.
    assert!(other.is_finished());
    os.join().unwrap();
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
}

#[test]
fn binding_a_used_port_fails_with_addr_in_use() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = TcpListener::bind(l.local_addr().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AddrInUse, "{e}");
    // The first listener still works.
    let addr = l.local_addr().unwrap();
    let c = greenthread::spawn(move || TcpStream::connect(addr).map(|_| ()));
    l.accept().unwrap();
    c.join().unwrap().unwrap();
}

#[test]
fn eof_when_the_peer_closes() {
    let (mut c, s) = pair();
    let closer = greenthread::spawn(move || drop(s));
    let mut buf = [0u8; 8];
    assert_eq!(c.read(&mut buf).unwrap(), 0);
    assert_eq!(c.read(&mut buf).unwrap(), 0, "EOF stays EOF");
    closer.join().unwrap();
}

#[test]
fn data_then_eof_in_one_event_is_not_lost() {
    // The peer writes and closes before the reader runs: one edge carries both, and the
    // short read that drains the data must not make the reader wait for another edge.
    let (mut c, mut s) = pair();
    s.write_all(b"bye").unwrap();
    drop(s);
    let mut got = Vec::new();
    let t = Instant::now();
    c.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    assert!(t.elapsed() < SLOW);
}

#[test]
fn read_after_shutdown_read_returns_eof() {
    let (mut c, _s) = pair();
    c.shutdown(Shutdown::Read).unwrap();
    assert_eq!(c.read(&mut [0u8; 8]).unwrap(), 0);
}

#[test]
fn write_after_shutdown_write_is_broken_pipe() {
    let (mut c, _s) = pair();
    c.shutdown(Shutdown::Write).unwrap();
    let e = c.write(b"x").unwrap_err();
    #[cfg(unix)]
    assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
    // WSAESHUTDOWN
    #[cfg(windows)]
    assert_eq!(e.raw_os_error(), Some(10058), "{e}");
}

/// Unix only: under wine, `shutdown(SD_RECEIVE)` does not wake an AFD poll (README).
#[cfg(unix)]
#[test]
fn shutdown_from_another_green_thread_wakes_a_blocked_reader() {
    let (c, _s) = pair();
    let c = Rc::new(c);
    let c2 = Rc::clone(&c);
    let reader = greenthread::spawn(move || (&*c2).read(&mut [0u8; 8]));
    greenthread::yield_now(); // the reader parks in read
    assert!(!reader.is_finished());
    c.shutdown(Shutdown::Read).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), 0);
}

#[cfg(unix)]
fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket fd and a correctly sized `linger`.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

#[cfg(unix)]
#[test]
fn peer_reset_mid_read_is_connection_reset() {
    let (mut c, s) = pair();
    let resetter = greenthread::spawn(move || {
        set_linger_zero(&s);
        drop(s); // RST instead of FIN
    });
    let e = c.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    resetter.join().unwrap();
}

#[test]
fn write_after_the_peer_closed_is_an_error_not_sigpipe() {
    if support::is_child() {
        #[cfg(unix)]
        // SAFETY: restoring the default disposition; no handler involved.
        unsafe {
            // Rust's runtime ignores SIGPIPE; a C host would not. Prove we never raise it.
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        let (mut c, s) = pair();
        drop(s);
        let mut err = None;
        for _ in 0..1000 {
            if let Err(e) = c.write(&[0u8; 1024]) {
                err = Some(e);
                break;
            }
            greenthread::sleep(Duration::from_millis(1));
        }
        let e = err.expect("writes to a closed peer kept succeeding");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e}"
        );
        println!("write error: {e}");
        return;
    }
    let out = support::run_in_child("write_after_the_peer_closed_is_an_error_not_sigpipe");
    out.assert_success();
}

#[test]
fn read_timeout_times_out_and_the_socket_stays_usable() {
    let (mut c, mut s) = pair();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let t = Instant::now();
    let e = c.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(100));
    s.write_all(b"ok").unwrap();
    let mut buf = [0u8; 2];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
    assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(100)));
    assert_eq!(
        c.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

/// Writes until the socket's buffers are full (the peer does not read); returns the count.
fn fill(c: &TcpStream) -> usize {
    c.set_nonblocking(true).unwrap();
    let chunk = [7u8; 65536];
    let mut total = 0;
    loop {
        match (&*c).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(total < 1 << 30, "the send buffer never filled");
    }
    c.set_nonblocking(false).unwrap();
    total
}

#[test]
fn write_timeout_times_out_and_the_socket_stays_usable() {
    let (mut c, mut s) = pair();
    let filled = fill(&c);
    c.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let t = Instant::now();
    let e = c.write(b"more").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(100));
    // Drain on the other side; then the write goes through.
    let drainer = greenthread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        let mut got = 0;
        while got < filled + 4 {
            got += s.read(&mut buf).unwrap();
        }
        got
    });
    c.write_all(b"more").unwrap();
    assert_eq!(drainer.join().unwrap(), filled + 4);
}

#[test]
fn write_all_timeout_leaves_a_prefix_written() {
    // Documented: what was written before the timeout stays written.
    let (c, mut s) = pair();
    c.set_write_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let big = vec![1u8; 64 << 20];
    let e = (&c).write_all(&big).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    drop(c);
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert!(got > 0 && got < big.len(), "{got}");
}

#[test]
fn kill_during_read_unwinds_and_many_kills_leak_nothing() {
    let (c, _s) = pair();
    let c = Rc::new(c);
    let dropped = Rc::new(Cell::new(0u32));
    for _ in 0..500 {
        let (c2, d) = (Rc::clone(&c), Rc::clone(&dropped));
        let victim = greenthread::spawn(move || {
            struct Guard(Rc<Cell<u32>>);
            impl Drop for Guard {
                fn drop(&mut self) {
                    self.0.set(self.0.get() + 1);
                }
            }
            let _g = Guard(d);
            let _ = (&*c2).read(&mut [0u8; 8]);
            unreachable!("the read returned");
        });
        greenthread::yield_now();
        victim.kill();
        assert!(victim.is_finished());
    }
    assert_eq!(dropped.get(), 500);
    assert!(greenthread::dump().green_threads.len() <= 1);
}

#[test]
fn kill_during_accept_and_connect() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let victim = greenthread::spawn(move || {
        let _ = l.accept();
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.is_finished());
}

#[test]
fn kill_during_write_all_keeps_what_was_written() {
    let (c, mut s) = pair();
    let c = Rc::new(c);
    let c2 = Rc::clone(&c);
    let victim = greenthread::spawn(move || {
        let big = vec![3u8; 64 << 20];
        let _ = (&*c2).write_all(&big);
    });
    greenthread::yield_now(); // it fills the buffer and parks
    assert!(!victim.is_finished());
    victim.kill();
    assert!(victim.is_finished());
    drop(c);
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert!(got > 0 && got < 64 << 20, "{got}");
}

#[test]
fn a_busy_yield_loop_does_not_starve_sockets() {
    // The run queue never empties; readiness is still collected at ticks.
    let (mut c, mut s) = pair();
    let got = Rc::new(Cell::new(false));
    let g = Rc::clone(&got);
    let reader = greenthread::spawn(move || {
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        g.set(true);
    });
    greenthread::yield_now(); // the reader parks
    c.write_all(b"hi").unwrap();
    let mut yields = 0u64;
    while !got.get() {
        greenthread::yield_now();
        yields += 1;
        assert!(yields < 10_000_000, "the reader starved");
    }
    reader.join().unwrap();
}

#[test]
fn waiting_for_io_is_not_a_deadlock() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let os = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"x").unwrap();
    });
    let reader = greenthread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        b[0]
    });
    // main waits for a green thread that waits for the network: no deadlock report.
    assert_eq!(reader.join().unwrap(), b'x');
    os.join().unwrap();
}

#[test]
fn a_registered_socket_nobody_waits_on_does_not_hide_a_deadlock() {
    let (c, _s) = pair();
    c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    let _ = (&c).read(&mut [0u8; 1]); // registers it
    let stuck = greenthread::spawn(|| {
        // Nobody holds a waker: nothing can end this park.
        let p = greenthread::sched::Parker::new();
        let _ = p.park(greenthread::sched::WaitOn::Other("never"), None, false);
    });
    match stuck.wait() {
        Err(WaitError::Hub(HubError::Deadlock(report))) => {
            assert_eq!(report.blocked().len(), 2, "{report}");
        }
        other => panic!("expected a deadlock, got {other:?}"),
    }
    stuck.kill();
}

#[test]
fn timers_fire_while_the_hub_waits_in_the_poller() {
    let (c, _s) = pair();
    let reader = greenthread::spawn(move || (&c).read(&mut [0u8; 1]).map(|_| ()));
    greenthread::yield_now();
    let t = Instant::now();
    greenthread::sleep(Duration::from_millis(60));
    assert!(t.elapsed() >= Duration::from_millis(60));
    assert!(t.elapsed() < SLOW);
    reader.kill();
}

#[test]
fn posts_from_another_os_thread_wake_the_poller() {
    let (c, _s) = pair();
    let reader = greenthread::spawn(move || (&c).read(&mut [0u8; 1]).map(|_| ()));
    greenthread::yield_now(); // poller made, the hub now idles in it
    let sem = Arc::new(greenthread::Semaphore::new(0));
    let s2 = Arc::clone(&sem);
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        s2.release().unwrap();
    });
    let t = Instant::now();
    sem.acquire(); // woken through the poller's waker
    assert!(t.elapsed() < SLOW);
    os.join().unwrap();
    reader.kill();
}

#[test]
fn a_stream_moved_to_another_os_thread_works_there() {
    let (mut c, mut s) = pair();
    c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
    assert_eq!(
        c.read(&mut [0u8; 1]).unwrap_err().kind(),
        ErrorKind::TimedOut
    ); // registered with this hub
    c.set_read_timeout(None).unwrap();
    let os = std::thread::spawn(move || {
        let mut buf = [0u8; 5];
        c.read_exact(&mut buf).unwrap();
        c.write_all(&buf).unwrap();
        c
    });
    s.write_all(b"moved").unwrap();
    let mut back = [0u8; 5];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"moved");
    let mut c = os.join().unwrap();
    // And back here again.
    s.write_all(b"home").unwrap();
    let mut buf = [0u8; 4];
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"home");
}

#[test]
fn try_clone_used_from_two_os_threads_at_once() {
    let (c, mut s) = pair();
    let c2 = c.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 3];
        (&c2).read_exact(&mut buf).unwrap();
        buf
    });
    (&c).write_all(b"abc").unwrap();
    let mut buf = [0u8; 3];
    s.read_exact(&mut buf).unwrap();
    s.write_all(&buf).unwrap();
    assert_eq!(&reader.join().unwrap(), b"abc");
}

#[test]
fn many_connections_on_one_hub() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    const N: usize = 50;
    let served = Rc::new(Cell::new(0usize));
    let sv = Rc::clone(&served);
    let server = greenthread::spawn(move || {
        for _ in 0..N {
            let (mut s, _) = l.accept().unwrap();
            let sv = Rc::clone(&sv);
            greenthread::spawn_n(move || {
                let mut buf = [0u8; 16];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    s.write_all(&buf[..n]).unwrap();
                }
                sv.set(sv.get() + 1);
            });
        }
    });
    let clients: Vec<_> = (0..N)
        .map(|i| {
            greenthread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                for j in 0..20u8 {
                    let m = [i as u8, j];
                    c.write_all(&m).unwrap();
                    let mut b = [0u8; 2];
                    c.read_exact(&mut b).unwrap();
                    assert_eq!(b, m);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
    let t = Instant::now();
    while served.get() < N {
        greenthread::sleep(Duration::from_millis(1));
        assert!(t.elapsed() < SLOW);
    }
}

#[test]
fn conversions_to_and_from_std() {
    let (c, _s) = pair();
    let std_c: std::net::TcpStream = c.try_into().unwrap();
    let c2 = TcpStream::try_from(std_c).unwrap();
    assert!(c2.peer_addr().is_ok());
    let l = TcpListener::try_from(std::net::TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let addr = l.local_addr().unwrap();
    let h = greenthread::spawn(move || TcpStream::connect(addr).map(|_| ()));
    l.accept().unwrap();
    h.join().unwrap().unwrap();
    #[cfg(unix)]
    {
        use std::os::fd::{FromRawFd, IntoRawFd};
        let fd = l.into_raw_fd();
        // SAFETY: the fd came from `into_raw_fd` just above and is owned here.
        let l = unsafe { TcpListener::from_raw_fd(fd) };
        assert_eq!(l.local_addr().unwrap(), addr);
    }
}

#[test]
fn host_names_resolve_through_the_blocking_pool() {
    // A green thread spawned before the lookup runs while the lookup waits on the pool:
    // a lookup on the hub's own OS thread would return before it ever ran.
    let other = greenthread::spawn(|| ());
    let addrs = greenthread::net::lookup_host("localhost:80").unwrap();
    assert!(other.is_finished(), "the lookup did not park");
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    // A literal address never goes to the pool (nothing else runs).
    let other = greenthread::spawn(|| ());
    let addrs = greenthread::net::lookup_host("127.0.0.1:80").unwrap();
    assert!(!other.is_finished());
    assert_eq!(addrs, vec!["127.0.0.1:80".parse().unwrap()]);
    other.join().unwrap();
    // bind/connect take host names too.
    let l = TcpListener::bind("localhost:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let ip = l.local_addr().unwrap().ip();
    let c = greenthread::spawn(move || TcpStream::connect((ip, port)).map(|_| ()));
    l.accept().unwrap();
    c.join().unwrap().unwrap();
    // Errors are errors, not hangs or panics.
    assert!(TcpStream::connect("no-such-host.invalid:80").is_err());
    assert_eq!(
        TcpStream::connect("not an address").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn incoming_yields_connections() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let clients = greenthread::spawn(move || {
        for _ in 0..3 {
            TcpStream::connect(addr).unwrap();
        }
    });
    for s in l.incoming().take(3) {
        s.unwrap();
        n.fetch_add(1, Ordering::SeqCst);
    }
    clients.join().unwrap();
    assert_eq!(n.load(Ordering::SeqCst), 3);
}

#[cfg(target_os = "linux")]
#[test]
fn accept_out_of_fds_is_emfile_and_recovers() {
    if support::is_child() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // Make the poller exist and register the listener before fds run out.
        l.set_nonblocking(true).unwrap();
        let _ = l.accept();
        l.set_nonblocking(false).unwrap();
        let peek_timeout = greenthread::spawn(|| ()); // hub is alive
        peek_timeout.join().unwrap();
        let _c = std::net::TcpStream::connect(addr).unwrap(); // queued in the backlog
        let lim = libc::rlimit {
            rlim_cur: 64,
            rlim_max: 64,
        };
        // SAFETY: setrlimit with a valid struct; the child process only.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        let mut hog = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hog.push(f);
            assert!(hog.len() < 100);
        }
        let e = l.accept().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
        // The hub still works.
        greenthread::sleep(Duration::from_millis(1));
        hog.clear();
        let (s, _) = l.accept().unwrap();
        assert!(s.peer_addr().is_ok());
        return;
    }
    let out = support::run_in_child("accept_out_of_fds_is_emfile_and_recovers");
    out.assert_success();
}
