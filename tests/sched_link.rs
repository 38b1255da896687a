//! Links (issue 4, item 3): called once, in order, on every kind of ending, before any
//! waiter returns; linking a finished thread calls back at once; unlink works, also during
//! the notification.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use greenthread::GreenThread;
use greenthread::sched::LinkId;

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

#[test]
fn links_run_in_order_before_any_waiter_returns() {
    let l = log();
    let gt = Rc::new(greenthread::spawn(|| {
        greenthread::sleep(Duration::from_millis(2));
        7
    }));
    for i in 0..3 {
        let l = Rc::clone(&l);
        gt.link(move |gt| {
            l.borrow_mut()
                .push(format!("link{i} sees {}", gt.wait().unwrap()));
        });
    }
    let waiters: Vec<_> = (0..2)
        .map(|i| {
            let gt = Rc::clone(&gt);
            let l = Rc::clone(&l);
            greenthread::spawn(move || {
                let v = *gt.wait().unwrap();
                l.borrow_mut().push(format!("waiter{i} got {v}"));
            })
        })
        .collect();
    assert_eq!(*gt.wait().unwrap(), 7);
    l.borrow_mut().push("main got 7".into());
    for w in waiters {
        w.join().unwrap();
    }
    let l = l.borrow();
    assert_eq!(&l[..3], ["link0 sees 7", "link1 sees 7", "link2 sees 7"]);
    assert_eq!(l.len(), 6);
}

#[test]
fn links_fire_on_every_kind_of_ending() {
    let fired = Rc::new(RefCell::new(Vec::new()));
    let watch = |gt: &GreenThread<()>, what: &'static str| {
        let f = Rc::clone(&fired);
        gt.link(move |gt| {
            let how = match gt.wait() {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("{:?}", e.exit().unwrap()),
            };
            f.borrow_mut().push(format!("{what}: {how}"));
        });
    };
    let ok = greenthread::spawn(|| ());
    watch(&ok, "ok");
    let panicked = greenthread::spawn(|| panic!("p"));
    watch(&panicked, "panicked");
    let killed = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60)));
    watch(&killed, "killed");
    let cancelled = greenthread::spawn_after(Duration::from_secs(60), || ());
    watch(&cancelled, "cancelled");
    greenthread::yield_now();
    killed.kill();
    cancelled.cancel();
    let _ = ok.wait();
    let _ = panicked.wait();
    let mut f = fired.borrow().clone();
    f.sort();
    assert_eq!(
        f,
        [
            "cancelled: Cancelled",
            "killed: Killed",
            "ok: ok",
            "panicked: Panicked(\"p\")"
        ]
    );
}

#[test]
fn linking_a_finished_thread_calls_back_at_once() {
    let gt = greenthread::spawn(|| 5);
    gt.wait().unwrap();
    let called = Rc::new(Cell::new(0));
    let c = Rc::clone(&called);
    let id = gt.link(move |gt| c.set(*gt.wait().unwrap()));
    assert_eq!(called.get(), 5);
    assert!(!gt.unlink(id)); // already called
}

#[test]
fn unlink_before_finish_prevents_the_call() {
    let gt = greenthread::spawn(|| ());
    let called = Rc::new(Cell::new(false));
    let c = Rc::clone(&called);
    let id = gt.link(move |_| c.set(true));
    let c2 = Rc::clone(&called);
    let keep = gt.link(move |_| assert!(!c2.get()));
    assert!(gt.unlink(id));
    assert!(!gt.unlink(id));
    gt.wait().unwrap();
    assert!(!called.get());
    assert!(!gt.unlink(keep));
}

#[test]
fn unlink_during_notification_still_prevents_the_call() {
    let gt = greenthread::spawn(|| ());
    let called = Rc::new(RefCell::new(Vec::new()));
    let later: Rc<Cell<Option<LinkId>>> = Rc::new(Cell::new(None));
    let c = Rc::clone(&called);
    let lt = Rc::clone(&later);
    gt.link(move |gt| {
        c.borrow_mut().push("first");
        // removes the third link while the links are being called
        assert!(gt.unlink(lt.get().unwrap()));
    });
    let c = Rc::clone(&called);
    gt.link(move |_| c.borrow_mut().push("second"));
    let c = Rc::clone(&called);
    later.set(Some(gt.link(move |_| c.borrow_mut().push("third"))));
    gt.wait().unwrap();
    assert_eq!(*called.borrow(), ["first", "second"]);
}

#[test]
fn link_added_during_notification_is_called_too() {
    let gt = greenthread::spawn(|| ());
    let called = Rc::new(RefCell::new(Vec::new()));
    let c = Rc::clone(&called);
    gt.link(move |gt| {
        c.borrow_mut().push("first");
        let c2 = Rc::clone(&c);
        gt.link(move |_| c2.borrow_mut().push("added"));
    });
    gt.wait().unwrap();
    assert_eq!(*called.borrow(), ["first", "added"]);
}

#[test]
fn a_panicking_link_does_not_stop_the_others() {
    let gt = greenthread::spawn(|| 1);
    let after = Rc::new(Cell::new(false));
    gt.link(|_| panic!("link panics"));
    let a = Rc::clone(&after);
    gt.link(move |_| a.set(true));
    assert_eq!(gt.join().unwrap(), 1);
    assert!(after.get());
}

#[test]
fn links_may_block_and_waiters_wait_for_them() {
    let l = log();
    let gt = Rc::new(greenthread::spawn(|| 3));
    let l2 = Rc::clone(&l);
    gt.link(move |_| {
        greenthread::sleep(Duration::from_millis(5));
        l2.borrow_mut().push("slow link done".into());
    });
    let g = Rc::clone(&gt);
    let l3 = Rc::clone(&l);
    let waiter = greenthread::spawn(move || {
        g.wait().unwrap();
        l3.borrow_mut().push("waiter returned".into());
    });
    greenthread::yield_now(); // gt finishes its closure, starts its link, sleeps
    // Finished (gevent: ready() is true when links run), yet waiters wait for the links.
    assert!(gt.is_finished());
    waiter.join().unwrap();
    assert_eq!(*l.borrow(), ["slow link done", "waiter returned"]);
    assert!(gt.is_finished());
}

#[test]
fn kill_during_links_is_a_noop() {
    let gt = Rc::new(greenthread::spawn(|| 3));
    let done = Rc::new(Cell::new(false));
    let d = Rc::clone(&done);
    gt.link(move |_| {
        greenthread::sleep(Duration::from_millis(5));
        d.set(true);
    });
    greenthread::yield_now(); // in its link, sleeping
    gt.kill(); // its outcome is already decided
    assert_eq!(*gt.wait().unwrap(), 3);
    assert!(done.get());
}

#[test]
fn links_on_spawn_n_like_detached_threads_via_handle() {
    // A handle's link survives dropping the handle: the link holds its own.
    let called = Rc::new(Cell::new(false));
    let c = Rc::clone(&called);
    let gt = greenthread::spawn(|| 9);
    gt.link(move |gt| c.set(*gt.wait().unwrap() == 9));
    drop(gt);
    greenthread::yield_now();
    assert!(called.get());
}

#[test]
fn join_inside_its_own_link_panics_instead_of_moving_a_lent_value() {
    use std::cell::RefCell;
    let slot: Rc<RefCell<Option<GreenThread<String>>>> = Rc::default();
    let s = Rc::clone(&slot);
    let outcome = Rc::new(RefCell::new(None));
    let o = Rc::clone(&outcome);
    let gt = greenthread::spawn(|| String::from("v"));
    gt.link(move |arg| {
        let lent: &String = arg.wait().unwrap();
        let owned = s.borrow_mut().take().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || owned.join()));
        *o.borrow_mut() = Some((r.is_err(), lent.clone()));
    });
    *slot.borrow_mut() = Some(gt);
    greenthread::yield_now();
    assert_eq!(*outcome.borrow(), Some((true, "v".to_string())));
}

/// Issue 11.2: gevent calls links when `ready()` is true, and eventlet's link callbacks may
/// call `wait()` on the thread: inside a link the thread is finished, and `wait()` returns
/// its outcome at once (links still run before any waiter resumes).
#[test]
fn in_a_link_the_thread_counts_as_finished() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let gt = greenthread::spawn(|| 7);
    let s = Rc::clone(&seen);
    gt.link(move |gt| {
        s.borrow_mut().push(format!(
            "finished={} handle_finished={} value={}",
            gt.is_finished(),
            gt.handle().is_finished(),
            gt.wait().unwrap()
        ))
    });
    let s = Rc::clone(&seen);
    let waiter = {
        let gt = Rc::new(gt);
        let g = Rc::clone(&gt);
        let w = greenthread::spawn(move || {
            let v = *g.wait().unwrap();
            s.borrow_mut().push(format!("waiter got {v}"));
        });
        (w, gt)
    };
    waiter.0.join().unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            "finished=true handle_finished=true value=7".to_string(),
            "waiter got 7".to_string()
        ]
    );
    assert!(waiter.1.is_finished());
}
