//! `net::wait_readable` / `wait_writable` on raw fds, and `spawn_blocking`.

use std::io::ErrorKind;
#[cfg(unix)]
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenthread::net::wait_readable;
#[cfg(unix)]
use greenthread::net::wait_writable;

const SLOW: Duration = Duration::from_secs(20);

#[cfg(unix)]
fn pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two fds.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh fds we own.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

#[test]
fn wait_readable_on_a_std_udp_socket() {
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.set_nonblocking(true).unwrap();
    let to = a.local_addr().unwrap();
    let sender = greenthread::spawn(move || {
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.send_to(b"u", to).unwrap();
    });
    wait_readable(&a, Some(SLOW)).unwrap();
    assert_eq!(a.recv_from(&mut [0u8; 4]).unwrap().0, 1);
    sender.join().unwrap();
    let t = Instant::now();
    let e = wait_readable(&a, Some(Duration::from_millis(30))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(30));
}

#[cfg(unix)]
#[test]
fn wait_readable_on_a_pipe_parks_until_a_green_thread_writes() {
    let (mut r, mut w) = pipe();
    let writer = greenthread::spawn(move || {
        w.write_all(b"p").unwrap();
        w
    });
    wait_readable(&r, Some(SLOW)).unwrap();
    assert!(writer.is_finished());
    let mut b = [0u8; 1];
    r.read_exact(&mut b).unwrap();
    let _w = writer.join().unwrap();
}

#[cfg(unix)]
#[test]
fn wait_readable_times_out_and_refuses_a_zero_timeout() {
    let (r, _w) = pipe();
    let t = Instant::now();
    let e = wait_readable(&r, Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert!(t.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        wait_readable(&r, Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // The registration was removed: waiting again works.
    assert_eq!(
        wait_readable(&r, Some(Duration::from_millis(5)))
            .unwrap_err()
            .kind(),
        ErrorKind::TimedOut
    );
}

#[cfg(unix)]
#[test]
fn wait_writable_on_an_empty_pipe_returns_at_once() {
    let (_r, w) = pipe();
    wait_writable(&w, Some(SLOW)).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn wait_readable_on_a_regular_file_is_an_error_not_a_hang() {
    let f = std::fs::File::open("Cargo.toml").unwrap();
    let e = wait_readable(&f, None).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
}

#[cfg(unix)]
#[test]
fn wait_readable_on_one_of_our_registered_sockets() {
    use greenthread::net::{TcpListener, TcpStream};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    let _ = (&s).read(&mut [0u8; 1]); // registered with the hub
    let writer = greenthread::spawn(move || c.write_all(b"r").unwrap());
    wait_readable(&s, Some(SLOW)).unwrap();
    writer.join().unwrap();
}

#[cfg(unix)]
#[test]
fn an_fd_closed_by_another_thread_while_waited_on_ends_with_the_timeout() {
    // Documented: epoll forgets a closed fd; the timeout still applies.
    use std::os::fd::IntoRawFd;
    let (r, w) = pipe();
    let raw = r.into_raw_fd();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let closer = std::thread::spawn(move || {
        // Closes only once the fd is registered and waited on (the green thread below runs
        // when main parks).
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(30));
        // SAFETY: we own `raw` (taken with into_raw_fd) and close it once.
        unsafe { libc::close(raw) };
    });
    struct Raw(i32);
    impl std::os::fd::AsRawFd for Raw {
        fn as_raw_fd(&self) -> i32 {
            self.0
        }
    }
    let signal = greenthread::spawn(move || tx.send(()).unwrap());
    let t = Instant::now();
    let r = wait_readable(&Raw(raw), Some(Duration::from_millis(200)));
    signal.join().unwrap();
    closer.join().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    // Either the wait ran into its timeout, or (the fd number was reused or the poller
    // reported the close) it ended otherwise; it never hangs.
    if let Err(e) = r {
        assert!(
            matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::NotConnected),
            "{e}"
        );
    }
    drop(w);
}

#[cfg(unix)]
#[test]
fn kill_during_wait_readable_removes_the_registration() {
    let (r, _w) = pipe();
    let r = std::rc::Rc::new(r);
    for _ in 0..200 {
        let r2 = std::rc::Rc::clone(&r);
        let v = greenthread::spawn(move || {
            let _ = wait_readable(&*r2, None);
        });
        greenthread::yield_now();
        v.kill();
        assert!(v.is_finished());
    }
    // Had a registration leaked, registering the same fd again would fail (EEXIST and a
    // dup each time) or the wait would end early: it must time out normally.
    let e = wait_readable(&*r, Some(Duration::from_millis(5))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn spawn_blocking_runs_elsewhere_while_green_threads_run() {
    let main_os = std::thread::current().id();
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let r = std::rc::Rc::clone(&ran);
    let other = greenthread::spawn(move || r.set(true));
    let (id, v) = greenthread::spawn_blocking(|| {
        std::thread::sleep(Duration::from_millis(30));
        (std::thread::current().id(), 42)
    });
    assert_ne!(id, main_os);
    assert_eq!(v, 42);
    assert!(
        ran.get(),
        "another green thread ran while the closure blocked"
    );
    other.join().unwrap();
}

#[test]
fn spawn_blocking_resumes_a_panic() {
    let r = std::panic::catch_unwind(|| greenthread::spawn_blocking(|| panic!("boom")));
    let p = r.unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"boom"));
}

#[test]
fn many_spawn_blocking_calls_from_many_green_threads() {
    let n = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..40)
        .map(|i| {
            let n = Arc::clone(&n);
            greenthread::spawn(move || {
                greenthread::spawn_blocking(move || {
                    n.fetch_add(1, Ordering::SeqCst);
                    i * 2
                })
            })
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), i * 2);
    }
    assert_eq!(n.load(Ordering::SeqCst), 40);
}

#[test]
fn kill_during_spawn_blocking_drops_the_result_on_the_pool() {
    struct Tracked(Arc<AtomicBool>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let (d, rel) = (Arc::clone(&dropped), Arc::clone(&release));
    let victim = greenthread::spawn(move || {
        let _t = greenthread::spawn_blocking(move || {
            let t = Instant::now();
            while !rel.load(Ordering::SeqCst) && t.elapsed() < SLOW {
                std::thread::sleep(Duration::from_millis(1));
            }
            Tracked(d)
        });
        unreachable!("the kill lands first");
    });
    greenthread::yield_now();
    victim.kill(); // unwinds at once, the closure still runs
    assert!(victim.is_finished());
    assert!(!dropped.load(Ordering::SeqCst));
    release.store(true, Ordering::SeqCst);
    let t = Instant::now();
    while !dropped.load(Ordering::SeqCst) {
        greenthread::sleep(Duration::from_millis(1));
        assert!(t.elapsed() < SLOW, "the result was never dropped");
    }
}
