//! Registration bookkeeping: nothing leaks after kills, timeouts, drops and moves.

use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use super::{TcpListener, TcpStream};
use crate::sched::io::counts;

fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

#[test]
fn kills_timeouts_and_drops_leave_no_registration() {
    std::thread::spawn(|| {
        assert_eq!(counts(), (0, 0, false));
        let (c, s) = pair();
        let c = Rc::new(c);
        for _ in 0..300 {
            let c2 = Rc::clone(&c);
            let v = crate::spawn(move || {
                let _ = (&*c2).read(&mut [0u8; 1]);
            });
            crate::yield_now();
            assert_eq!(counts().1, 1, "one green thread waits for I/O");
            v.kill();
        }
        assert_eq!(counts().1, 0);
        c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        for _ in 0..20 {
            let _ = (&*c).read(&mut [0u8; 1]);
        }
        let (registered, waiters, any) = counts();
        assert_eq!(waiters, 0);
        assert!(any && registered >= 1);
        drop(c);
        drop(s);
        assert_eq!(counts(), (0, 0, false));
    })
    .join()
    .unwrap();
}

#[test]
fn a_socket_moved_away_is_freed_by_its_first_hub() {
    std::thread::spawn(|| {
        let (c, mut s) = pair();
        c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let _ = (&c).read(&mut [0u8; 1]);
        let before = counts().0;
        let (tx, rx) = std::sync::mpsc::channel();
        let os = std::thread::spawn(move || {
            // Times out (nothing sent yet): registers here.
            assert!((&c).read(&mut [0u8; 1]).is_err());
            tx.send(()).unwrap();
            c.set_read_timeout(None).unwrap();
            let mut b = [0u8; 1];
            (&c).read_exact(&mut b).unwrap();
            let here = counts().0;
            drop(c);
            (here, counts().0)
        });
        rx.recv().unwrap();
        s.write_all(b"m").unwrap();
        let (there, after_drop) = os.join().unwrap();
        assert_eq!((there, after_drop), (1, 0));
        // The first hub frees its entry when it drains its inbox (next tick).
        crate::yield_now();
        crate::sleep(Duration::from_millis(1));
        assert_eq!(counts().0, before - 1);
    })
    .join()
    .unwrap();
}
