//! Mutex<T> and Condvar: exclusion, FIFO, timeouts, kill while blocked, no poisoning,
//! cross-OS-thread use, deadlock reports (local flavour).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::sync::{Condvar, Local, Mutex, MutexGuard};

static_assertions::assert_impl_all!(Mutex<u8>: Send, Sync);
static_assertions::assert_impl_all!(Condvar: Send, Sync);
static_assertions::assert_not_impl_any!(Mutex<Rc<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(MutexGuard<'static, u8>: Send);
static_assertions::assert_impl_all!(MutexGuard<'static, u8>: Sync);
static_assertions::assert_not_impl_any!(Local<Mutex<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<Condvar>: Send, Sync);

#[test]
fn exclusion_and_fifo() {
    let m = Rc::new(Mutex::new(Vec::new()));
    let g = m.lock();
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let m = Rc::clone(&m);
            greenthread::spawn(move || m.lock().push(i))
        })
        .collect();
    greenthread::yield_now();
    assert!(m.try_lock().is_none());
    drop(g);
    for g in gs {
        g.join().unwrap();
    }
    assert_eq!(*m.lock(), [0, 1, 2]);
}

#[test]
fn lock_timeout_and_kill_while_waiting() {
    let m = Rc::new(Mutex::new(0));
    let g = m.lock();
    let t = Instant::now();
    assert!(m.lock_timeout(Duration::from_millis(10)).is_none());
    assert!(t.elapsed() >= Duration::from_millis(10));
    let mm = Rc::clone(&m);
    let victim = greenthread::spawn(move || {
        *mm.lock() += 100;
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    drop(g);
    assert_eq!(*m.lock(), 0, "the killed waiter never got in");
    assert!(!m.is_locked());
}

#[test]
fn panic_while_holding_does_not_poison() {
    let m = Mutex::new(1);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock();
        *g = 2;
        panic!("boom");
    }));
    assert!(r.is_err());
    assert!(!m.is_locked());
    assert_eq!(*m.lock(), 2);
    let mut m = m;
    *m.get_mut() = 3;
    assert_eq!(m.into_inner(), 3);
}

#[test]
fn mutex_across_os_threads() {
    let m = Arc::new(Mutex::new(0u64));
    let ts: Vec<_> = (0..3)
        .map(|_| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                let gs: Vec<_> = (0..4)
                    .map(|_| {
                        let m = Arc::clone(&m);
                        greenthread::spawn(move || {
                            for _ in 0..100 {
                                let mut g = m.lock();
                                let v = *g;
                                greenthread::yield_now();
                                *g = v + 1;
                            }
                        })
                    })
                    .collect();
                for g in gs {
                    g.join().unwrap();
                }
            })
        })
        .collect();
    for t in ts {
        t.join().unwrap();
    }
    assert_eq!(*m.lock(), 1200);
}

#[test]
fn condvar_notify_one_in_order_and_notify_all() {
    let pair = Rc::new((Mutex::new(0), Condvar::new()));
    let log = Rc::new(RefCell::new(Vec::new()));
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (pair, log) = (Rc::clone(&pair), Rc::clone(&log));
            greenthread::spawn(move || {
                let g = pair.1.wait(pair.0.lock());
                log.borrow_mut().push((i, *g));
            })
        })
        .collect();
    greenthread::yield_now(); // all three wait
    *pair.0.lock() = 1;
    pair.1.notify_one();
    greenthread::yield_now();
    assert_eq!(*log.borrow(), [(0, 1)]);
    *pair.0.lock() = 2;
    pair.1.notify_all();
    for g in gs {
        g.join().unwrap();
    }
    assert_eq!(*log.borrow(), [(0, 1), (1, 2), (2, 2)]);
}

#[test]
fn condvar_timeouts() {
    let (m, cv) = (Mutex::new(false), Condvar::new());
    let t = Instant::now();
    let (g, r) = cv.wait_timeout(m.lock(), Duration::from_millis(10));
    assert!(r.timed_out());
    assert!(t.elapsed() >= Duration::from_millis(10));
    drop(g);
    assert!(!m.is_locked());
    let (g, r) = cv.wait_timeout_while(m.lock(), Duration::from_millis(5), |b| !*b);
    assert!(r.timed_out() && !*g);
}

/// A waiter that timed out is skipped: a notify_one goes to the next one, never lost.
#[test]
fn notify_one_skips_departed_waiters() {
    let pair = Rc::new((Mutex::new(()), Condvar::new()));
    let p = Rc::clone(&pair);
    let short = greenthread::spawn(move || {
        let (_g, r) = p.1.wait_timeout(p.0.lock(), Duration::from_millis(1));
        r.timed_out()
    });
    let p = Rc::clone(&pair);
    let long = greenthread::spawn(move || {
        let (_g, r) = p.1.wait_timeout(p.0.lock(), Duration::from_secs(60));
        r.timed_out()
    });
    greenthread::yield_now();
    assert!(short.join().unwrap());
    pair.1.notify_one();
    assert!(!long.join().unwrap());
}

#[test]
fn kill_while_in_condvar_wait_does_not_relock() {
    let pair = Rc::new((Mutex::new(()), Condvar::new()));
    let p = Rc::clone(&pair);
    let victim = greenthread::spawn(move || {
        let _g = p.1.wait(p.0.lock());
        unreachable!();
    });
    greenthread::yield_now();
    let held = pair.0.lock(); // the victim released it while waiting
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    drop(held);
    assert!(!pair.0.is_locked(), "nothing unlocked twice or left locked");
    pair.1.notify_one(); // nobody waits: nothing happens
}

#[test]
fn condvar_across_os_threads() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let p = Arc::clone(&pair);
    let os = std::thread::spawn(move || {
        for _ in 0..50 {
            let mut g = p.0.lock();
            *g += 1;
            p.1.notify_all();
            drop(g);
            std::thread::yield_now();
        }
    });
    let g = pair.1.wait_while(pair.0.lock(), |n| *n < 50);
    assert_eq!(*g, 50);
    drop(g);
    os.join().unwrap();
}

#[test]
fn local_deadlocks_are_reported() {
    let m = Mutex::new_local(());
    let cv = Condvar::new_local();
    let p = catch_unwind(AssertUnwindSafe(|| cv.wait(m.lock()))).unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("Condvar::wait") && msg.contains("deadlock"),
        "{msg}"
    );
    assert!(!m.is_locked(), "the mutex is not left locked");
    let m = Rc::new(Mutex::new_local(()));
    let mm = Rc::clone(&m);
    let holder = greenthread::spawn(move || {
        let _g = mm.lock();
        let _again = mm.lock(); // waits for itself
    });
    greenthread::yield_now();
    let p = catch_unwind(AssertUnwindSafe(|| drop(m.lock()))).unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("Mutex::lock") && msg.contains("deadlock"),
        "{msg}"
    );
    assert!(
        msg.contains("Mutex at 0x"),
        "the report names the object: {msg}"
    );
    holder.kill();
    assert!(!m.is_locked());
}
