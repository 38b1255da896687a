//! Pools (GreenPool / gevent Pool / Group), join_all / kill_all / join_timeout, and
//! waiting on several objects (wait / select / iwait).

use std::cell::{Cell, RefCell};
use std::num::NonZeroUsize;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use greenthread::channel::channel;
use greenthread::pool::{Pool, join_all, join_timeout, kill_all};
use greenthread::queue::Queue;
use greenthread::sched::ParkError;
use greenthread::select::{iwait, select, wait};
use greenthread::sync::{AsyncResult, Event};

static_assertions::assert_not_impl_any!(Pool: Send, Sync);

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn spawn_blocks_while_full_and_spawners_are_served_in_order() {
    let pool = Rc::new(Pool::new(nz(2)));
    let active = Rc::new(Cell::new(0));
    let peak = Rc::new(Cell::new(0));
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..6 {
        let (a, p, o) = (Rc::clone(&active), Rc::clone(&peak), Rc::clone(&order));
        pool.spawn_n(move || {
            a.set(a.get() + 1);
            p.set(p.get().max(a.get()));
            o.borrow_mut().push(i);
            greenthread::yield_now();
            a.set(a.get() - 1);
        });
        assert!(pool.running() <= 2);
    }
    pool.wait_all();
    assert_eq!(peak.get(), 2);
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(pool.running(), 0);
    assert_eq!(pool.free(), 2);
}

#[test]
fn waiting_counts_blocked_spawners_and_resize_frees_them() {
    let pool = Rc::new(Pool::new(nz(1)));
    let ev = Rc::new(Event::new_local());
    let e = Rc::clone(&ev);
    pool.spawn_n(move || e.wait());
    let p = Rc::clone(&pool);
    let spawner = greenthread::spawn(move || p.spawn(|| 5).join().unwrap());
    greenthread::yield_now();
    assert_eq!(pool.waiting(), 1);
    assert!(pool.is_full());
    pool.resize(nz(2));
    assert_eq!(pool.waiting(), 0);
    assert_eq!(spawner.join().unwrap(), 5);
    ev.set();
    pool.wait_all();
}

#[test]
fn join_with_timeout_and_kill_all() {
    let pool = Pool::unbounded();
    for _ in 0..3 {
        pool.spawn_n(|| greenthread::sleep(Duration::from_secs(60)));
    }
    greenthread::yield_now();
    let t = Instant::now();
    assert!(!pool.join(Some(Duration::from_millis(10))).unwrap());
    assert!(t.elapsed() >= Duration::from_millis(10));
    pool.kill_all();
    assert_eq!(pool.running(), 0);
    assert!(pool.join(Some(Duration::ZERO)).unwrap());
}

#[test]
fn killed_spawner_takes_no_slot() {
    let pool = Rc::new(Pool::new(nz(1)));
    let ev = Rc::new(Event::new_local());
    let e = Rc::clone(&ev);
    pool.spawn_n(move || e.wait());
    let p = Rc::clone(&pool);
    let victim = greenthread::spawn(move || {
        p.spawn_n(|| unreachable!("never spawned"));
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    ev.set();
    pool.wait_all();
    assert_eq!(pool.free(), 1);
}

#[test]
fn imap_in_order_imap_unordered_map() {
    let pool = Pool::new(nz(3));
    let v: Vec<u64> = pool
        .imap(
            |ms: u64| {
                greenthread::sleep(Duration::from_millis(ms));
                ms
            },
            [9, 1, 5, 0],
        )
        .collect();
    assert_eq!(v, [9, 1, 5, 0]);
    let v: Vec<u64> = pool
        .imap_unordered(
            |ms: u64| {
                greenthread::sleep(Duration::from_millis(ms));
                ms
            },
            [300, 1],
        )
        .collect();
    assert_eq!(v, [1, 300]);
    assert_eq!(pool.map(|x: u32| x + 1, 0..100).len(), 100);
    assert_eq!(pool.running(), 0);
}

#[test]
fn imap_reraises_a_job_panic() {
    let pool = Pool::new(nz(2));
    let r = catch_unwind(AssertUnwindSafe(|| {
        pool.imap(|x: u32| if x == 1 { panic!("job 1") } else { x }, 0..3)
            .collect::<Vec<_>>()
    }));
    let p = r.unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"job 1"));
    pool.wait_all();
}

#[test]
fn pool_deadlock_is_reported() {
    // The pool is full and its only green thread waits on a local event nobody can
    // set: a blocking spawn reports the deadlock, and so does a join.
    let pool2 = Pool::new(nz(1));
    let ev = Rc::new(Event::new_local());
    let e = Rc::clone(&ev);
    pool2.spawn_n(move || e.wait());
    let p = catch_unwind(AssertUnwindSafe(|| pool2.spawn_n(|| ()))).unwrap_err();
    assert!(p.downcast_ref::<String>().unwrap().contains("Pool::spawn"));
    assert!(matches!(pool2.join(None), Err(ParkError::Deadlock(_))));
    ev.set();
    pool2.wait_all();
}

#[test]
fn join_all_join_timeout_kill_all() {
    let a = greenthread::spawn(|| 1);
    let b = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60)));
    greenthread::yield_now(); // `a` finishes, `b` sleeps (no timing involved)
    assert_eq!(
        join_all(&[&a, &b], Some(Duration::from_millis(5))).unwrap(),
        1
    );
    assert!(!join_timeout(&b, Duration::from_millis(1)).unwrap());
    kill_all(&[b.handle()]);
    assert!(join_timeout(&b, Duration::ZERO).unwrap());
    assert_eq!(join_all(&[&a, &b], None).unwrap(), 2);
}

#[test]
fn select_over_channels_events_and_threads() {
    let (tx1, rx1) = channel::<u8>();
    let (_tx2, rx2) = channel::<u8>();
    let ev = Event::new();
    let q = Queue::<u8>::new();
    let r = AsyncResult::<u8>::new();
    assert_eq!(
        select(&[&rx1, &rx2, &ev, &q, &r], Some(Duration::from_millis(5))).unwrap(),
        None
    );
    tx1.send(1).unwrap();
    assert_eq!(select(&[&rx2, &rx1], None).unwrap(), Some(1));
    assert_eq!(rx1.try_recv(), Ok(1));
    let gt = greenthread::spawn(|| ());
    assert_eq!(select(&[&ev, &gt], None).unwrap(), Some(1));
    q.put(3);
    r.set(4).unwrap();
    assert_eq!(wait(&[&ev, &q, &r], None, Some(2)).unwrap(), [1, 2]);
    // Disconnection makes a receiver ready.
    drop(_tx2);
    assert_eq!(select(&[&rx2], None).unwrap(), Some(0));
}

#[test]
fn select_is_woken_from_another_os_thread() {
    let ev = Arc::new(Event::new());
    let (tx, rx) = channel::<u8>();
    let e = Arc::clone(&ev);
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        tx.send(7).unwrap();
        e.set();
    });
    let first = select(&[&rx, &*ev], None).unwrap();
    assert!(first.is_some());
    os.join().unwrap();
    assert_eq!(wait(&[&rx, &*ev], None, None).unwrap(), [0, 1]);
}

#[test]
fn iwait_yields_in_readiness_order_and_select_is_killable() {
    // `slow` waits until we let it go: the order does not depend on time.
    let go = Rc::new(Event::new_local());
    let g = Rc::clone(&go);
    let slow = greenthread::spawn(move || g.wait());
    let fast = greenthread::spawn(|| ());
    let objects: [&dyn greenthread::select::Waitable; 2] = [&slow, &fast];
    let mut it = iwait(&objects, None);
    assert_eq!(it.next().unwrap().unwrap(), 1);
    go.set();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    assert!(it.next().is_none());
    let victim = greenthread::spawn(|| {
        let ev = Event::new();
        let _ = select(&[&ev], None);
        unreachable!();
    });
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
}

#[test]
fn select_on_local_objects_reports_deadlock() {
    let ev = Event::new_local();
    let q = Queue::<u8>::new_local();
    assert!(matches!(
        select(&[&ev, &q], None),
        Err(ParkError::Deadlock(_))
    ));
}
