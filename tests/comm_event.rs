//! Event and AsyncResult: blocking, timeouts, kill while blocked, cross-OS-thread use,
//! deadlock reports (local flavour), links, bad input.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenthread::sched::ParkError;
use greenthread::sync::{AlreadySet, AsyncResult, Event, GetError, Local};

static_assertions::assert_impl_all!(Event: Send, Sync);
static_assertions::assert_impl_all!(AsyncResult<u8>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<Event>: Send, Sync);
static_assertions::assert_not_impl_any!(Local<AsyncResult<u8>>: Send, Sync);
static_assertions::assert_not_impl_any!(AsyncResult<std::rc::Rc<u8>>: Send, Sync);
static_assertions::assert_impl_all!(GetError<String>: Send, Sync, std::error::Error);
static_assertions::assert_impl_all!(AlreadySet<u8, String>: Send, Sync, std::error::Error);

#[test]
fn set_wakes_every_waiter_in_order() {
    let ev = Rc::new(Event::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let (ev, order) = (Rc::clone(&ev), Rc::clone(&order));
            greenthread::spawn(move || {
                ev.wait();
                order.borrow_mut().push(i);
            })
        })
        .collect();
    greenthread::yield_now();
    assert!(order.borrow().is_empty(), "nobody passes before set");
    ev.set();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(*order.borrow(), [0, 1, 2]);
}

#[test]
fn clear_makes_later_waits_block() {
    let ev = Event::new();
    ev.set();
    assert!(ev.wait_timeout(Duration::ZERO));
    ev.clear();
    assert!(!ev.is_set());
    let t = Instant::now();
    assert!(!ev.wait_timeout(Duration::from_millis(20)));
    assert!(t.elapsed() >= Duration::from_millis(20));
}

#[test]
fn waiter_woken_by_set_returns_true_even_if_cleared() {
    let ev = Rc::new(Event::new());
    let e = Rc::clone(&ev);
    let w = greenthread::spawn(move || e.wait_timeout(Duration::from_secs(30)));
    greenthread::yield_now();
    ev.set();
    ev.clear();
    assert!(w.join().unwrap());
}

#[test]
fn timed_out_waiter_leaves_and_others_still_woken() {
    let ev = Rc::new(Event::new());
    let e = Rc::clone(&ev);
    let short = greenthread::spawn(move || e.wait_timeout(Duration::from_millis(5)));
    let e = Rc::clone(&ev);
    let long = greenthread::spawn(move || e.wait_timeout(Duration::from_secs(30)));
    greenthread::yield_now();
    assert!(!short.join().unwrap());
    ev.set();
    assert!(long.join().unwrap());
}

#[test]
fn kill_while_waiting_unwinds() {
    let ev = Rc::new(Event::new());
    let dropped = Rc::new(RefCell::new(false));
    struct Flag(Rc<RefCell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let (e, d) = (Rc::clone(&ev), Rc::clone(&dropped));
    let victim = greenthread::spawn(move || {
        let _f = Flag(d);
        e.wait();
        unreachable!("killed while waiting");
    });
    let e = Rc::clone(&ev);
    let other = greenthread::spawn(move || e.wait());
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    assert!(*dropped.borrow(), "destructors ran");
    ev.set();
    other.join().unwrap();
}

#[test]
fn set_from_another_os_thread_wakes_green_waiter() {
    let ev = Arc::new(Event::new());
    let e = Arc::clone(&ev);
    let os = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        e.set();
    });
    // The main green thread waits: the OS thread sleeps until the post.
    ev.wait();
    os.join().unwrap();
    // And the other way round: a green thread on another OS thread waits for us.
    let ev2 = Arc::new(Event::new());
    let e2 = Arc::clone(&ev2);
    let os = std::thread::spawn(move || {
        let g = greenthread::spawn(move || e2.wait_timeout(Duration::from_secs(30)));
        g.join().unwrap()
    });
    std::thread::sleep(Duration::from_millis(10));
    ev2.set();
    assert!(os.join().unwrap());
}

#[test]
fn deadlock_reported_for_local_event() {
    let ev = Rc::new(Event::new_local());
    assert!(ev.is_local());
    let e = Rc::clone(&ev);
    let other = greenthread::spawn(move || e.wait());
    greenthread::yield_now();
    let Err(ParkError::Deadlock(report)) = ev.wait_with(None) else {
        panic!("a deadlock")
    };
    assert_eq!(report.blocked().len(), 2, "{report}");
    assert!(report.to_string().contains("Event at 0x"), "{report}");
    let p = catch_unwind(AssertUnwindSafe(|| ev.wait())).unwrap_err();
    let msg = p.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("Event::wait") && msg.contains("deadlock"),
        "{msg}"
    );
    ev.set();
    other.join().unwrap();
}

#[test]
fn shared_event_is_not_reported_as_deadlock() {
    // A shared event's wait is external: a timed wait just times out.
    let ev = Event::new();
    assert!(!ev.wait_with(Some(Duration::from_millis(5))).unwrap());
}

#[test]
fn rawlink_runs_soon_once_and_unlink_works() {
    let ev = Event::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    ev.rawlink(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let id = ev.rawlink(|| panic!("unlinked"));
    assert!(ev.unlink(id));
    ev.set();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never inside set()");
    greenthread::yield_now();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    ev.clear();
    ev.set();
    greenthread::yield_now();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "called once");
    // Linking a set event calls soon.
    let c = Arc::clone(&calls);
    ev.rawlink(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    greenthread::yield_now();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn async_result_value_reaches_every_waiter() {
    let r = Rc::new(AsyncResult::<String>::new());
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let r = Rc::clone(&r);
            greenthread::spawn(move || r.get())
        })
        .collect();
    greenthread::yield_now();
    assert!(!r.ready());
    r.set("v".into()).unwrap();
    assert!(r.ready() && r.successful());
    for g in readers {
        assert_eq!(g.join().unwrap().unwrap(), "v");
    }
    assert_eq!(r.value().as_deref(), Some("v"));
    assert_eq!(r.error(), None);
}

#[test]
fn async_result_error_and_set_twice() {
    let r = AsyncResult::<u8, &'static str>::new();
    r.set_error("bad").unwrap();
    assert!(r.ready() && !r.successful());
    assert_eq!(r.get(), Err("bad"));
    assert_eq!(r.try_get(), Err(GetError::Failed("bad")));
    assert_eq!(r.set(1), Err(AlreadySet(Ok(1))));
    assert_eq!(r.set_error("again"), Err(AlreadySet(Err("again"))));
    assert_eq!(r.error(), Some("bad"), "the first outcome stays");
    assert_eq!(
        GetError::<u8>::Timeout.to_string(),
        "timed out waiting for the result"
    );
}

#[test]
fn async_result_timeout_and_kill() {
    let r = Rc::new(AsyncResult::<u8>::new());
    let t = Instant::now();
    assert_eq!(
        r.get_timeout(Duration::from_millis(10)),
        Err(GetError::Timeout)
    );
    assert!(t.elapsed() >= Duration::from_millis(10));
    let rr = Rc::clone(&r);
    let victim = greenthread::spawn(move || rr.get());
    greenthread::yield_now();
    victim.kill();
    assert!(victim.wait().unwrap_err().exit().unwrap().is_killed());
    r.set(1).unwrap();
    assert_eq!(r.get_timeout(Duration::ZERO), Ok(1));
}

#[test]
fn async_result_across_os_threads() {
    let r = Arc::new(AsyncResult::<u64>::new());
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                let gs: Vec<_> = (0..4)
                    .map(|_| {
                        let r = Arc::clone(&r);
                        greenthread::spawn(move || r.get().unwrap())
                    })
                    .collect();
                gs.into_iter().map(|g| g.join().unwrap()).sum::<u64>()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(10));
    r.set(5).unwrap();
    for w in workers {
        assert_eq!(w.join().unwrap(), 20);
    }
}

#[test]
fn async_result_local_deadlock() {
    let r = AsyncResult::<u8>::new_local();
    assert!(matches!(r.wait_with(None), Err(ParkError::Deadlock(_))));
    let p = catch_unwind(AssertUnwindSafe(|| r.get())).unwrap_err();
    assert!(
        p.downcast_ref::<String>()
            .unwrap()
            .contains("AsyncResult::get")
    );
}
