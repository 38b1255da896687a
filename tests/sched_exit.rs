//! An OS thread that exits with live green threads unwinds them, and no stack leaks
//! (issue 4, item 6), plus `dump` (item 5).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenthread::sched::{GreenState, Parker, WaitOn, check_interrupt};

/// Counts drops across OS threads.
struct Guard(Arc<AtomicUsize>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Leaves green threads in every state behind when the calling OS thread exits. Returns
/// how many guards and links were set up.
fn leave_green_threads_behind(
    drops: &Arc<AtomicUsize>,
    links: &Arc<AtomicUsize>,
) -> (usize, usize) {
    let g = || Guard(Arc::clone(drops));
    let mut guards = 0;
    let mut linked = 0;
    let link = |gt: &greenthread::GreenThread<()>, linked: &mut usize| {
        let l = Arc::clone(links);
        gt.link(move |_| {
            l.fetch_add(1, Ordering::SeqCst);
        });
        *linked += 1;
    };

    // sleeping
    let d = g();
    let sleeper = greenthread::spawn(move || {
        let _d = d;
        greenthread::sleep(Duration::from_secs(3600));
    });
    link(&sleeper, &mut linked);
    guards += 1;
    // parked, only this hub could wake it
    let d = g();
    let parked = greenthread::spawn(move || {
        let _d = d;
        let _ = Parker::new().park(WaitOn::Other("local"), None, false);
        check_interrupt();
    });
    link(&parked, &mut linked);
    guards += 1;
    // parked, another OS thread could wake it (the waker is kept alive elsewhere)
    let d = g();
    let (tx, rx) = std::sync::mpsc::channel();
    let external = greenthread::spawn(move || {
        let _d = d;
        let p = Parker::new();
        tx.send(p.waker()).unwrap();
        let _ = p.park(WaitOn::Other("external"), None, true);
        check_interrupt();
    });
    link(&external, &mut linked);
    guards += 1;
    // waiting for another green thread
    let d = g();
    let target = std::rc::Rc::new(parked);
    let t = std::rc::Rc::clone(&target);
    let joiner = greenthread::spawn(move || {
        let _d = d;
        let _ = t.wait();
    });
    link(&joiner, &mut linked);
    guards += 1;
    // runnable forever
    let d = g();
    let spinner = greenthread::spawn(move || {
        let _d = d;
        loop {
            greenthread::yield_now();
        }
    });
    link(&spinner, &mut linked);
    guards += 1;
    // calling a link that blocks
    let d = g();
    let exiting = greenthread::spawn(|| ());
    exiting.link(move |_| {
        let _d = d;
        greenthread::sleep(Duration::from_secs(3600));
    });
    guards += 1;
    // swallows the kill and returns normally
    let d = g();
    let stubborn = greenthread::spawn(move || {
        let _d = d;
        let _ = std::panic::catch_unwind(|| greenthread::sleep(Duration::from_secs(3600)));
    });
    link(&stubborn, &mut linked);
    guards += 1;

    greenthread::yield_now(); // all of the above start and block
    greenthread::yield_now();
    let _keep_waker = rx.recv().unwrap();

    // not started yet
    let d = g();
    let new = greenthread::spawn(move || {
        let _d = d;
        unreachable!();
    });
    link(&new, &mut linked);
    guards += 1;
    // delayed
    let d = g();
    let delayed = greenthread::spawn_after(Duration::from_secs(3600), move || {
        let _d = d;
        unreachable!();
    });
    link(&delayed, &mut linked);
    guards += 1;
    greenthread::spawn_n(|| {
        loop {
            greenthread::sleep(Duration::from_millis(1));
        }
    });

    // Handles are dropped here too; the hub is torn down after this closure returns.
    let states: Vec<GreenState> = greenthread::dump()
        .green_threads
        .iter()
        .map(|g| g.state)
        .collect();
    assert!(states.contains(&GreenState::Parked));
    assert!(states.contains(&GreenState::NotStarted));
    assert!(states.contains(&GreenState::Delayed));
    (guards, linked)
}

#[test]
fn exiting_os_thread_unwinds_its_green_threads() {
    let drops = Arc::new(AtomicUsize::new(0));
    let links = Arc::new(AtomicUsize::new(0));
    let (d, l) = (Arc::clone(&drops), Arc::clone(&links));
    let (guards, linked) = std::thread::spawn(move || leave_green_threads_behind(&d, &l))
        .join()
        .unwrap();
    assert_eq!(
        drops.load(Ordering::SeqCst),
        guards,
        "destructors that did not run"
    );
    assert_eq!(
        links.load(Ordering::SeqCst),
        linked,
        "links that did not fire"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn exiting_os_threads_leak_no_mappings() {
    if support::is_child() {
        let run = || {
            let drops = Arc::new(AtomicUsize::new(0));
            let links = Arc::new(AtomicUsize::new(0));
            let (d, l) = (Arc::clone(&drops), Arc::clone(&links));
            let (guards, _) = std::thread::spawn(move || {
                // More green threads than the pool holds, so some stacks are unmapped.
                let gts: Vec<_> = (0..300)
                    .map(|_| greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60))))
                    .collect();
                greenthread::yield_now();
                let r = leave_green_threads_behind(&d, &l);
                drop(gts);
                r
            })
            .join()
            .unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), guards);
        };
        run(); // warm up: thread stack caches, lazily created process-wide state
        run();
        let before = support::map_count();
        for _ in 0..5 {
            run();
        }
        let after = support::map_count();
        assert!(
            after <= before,
            "mappings grew from {before} to {after} over 5 OS threads"
        );
        eprintln!("maps before {before} after {after}");
        return;
    }
    let out = support::run_in_child("exiting_os_threads_leak_no_mappings");
    out.assert_success();
}

#[test]
fn spawning_during_teardown_is_killed_too() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&drops);
    std::thread::spawn(move || {
        struct SpawnOnDrop(Arc<AtomicUsize>);
        impl Drop for SpawnOnDrop {
            fn drop(&mut self) {
                let g = Guard(Arc::clone(&self.0));
                // spawned while the hub tears down: never runs, closure dropped
                greenthread::spawn_n(move || {
                    let _g = g;
                    unreachable!();
                });
            }
        }
        let s = SpawnOnDrop(d);
        greenthread::spawn_n(move || {
            let _s = s;
            greenthread::sleep(Duration::from_secs(3600));
        });
        greenthread::yield_now();
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn dump_lists_every_live_green_thread() {
    let worker = greenthread::Builder::new()
        .name("worker")
        .spawn(|| greenthread::sleep(Duration::from_secs(60)))
        .unwrap();
    let p_holder = greenthread::Builder::new()
        .name("locker")
        .spawn(|| {
            let _ = Parker::new().park(
                WaitOn::Object {
                    kind: "Lock",
                    addr: 0x1000,
                },
                None,
                true,
            );
            check_interrupt();
        })
        .unwrap();
    greenthread::yield_now();
    let fresh = greenthread::spawn(|| ());
    let later = greenthread::spawn_after(Duration::from_secs(60), || ());
    let d = greenthread::dump();
    assert_eq!(d.green_threads.len(), 5, "{d}");
    let by_id = |id| d.green_threads.iter().find(|g| g.id == id).unwrap();
    assert_eq!(by_id(worker.id()).state, GreenState::Parked);
    assert_eq!(by_id(worker.id()).waiting_on, Some(WaitOn::Sleep));
    assert!(by_id(worker.id()).time_left.unwrap() > Duration::from_secs(50));
    assert!(by_id(p_holder.id()).external);
    assert_eq!(by_id(fresh.id()).state, GreenState::NotStarted);
    assert_eq!(by_id(later.id()).state, GreenState::Delayed);
    let main = d.green_threads.iter().find(|g| g.is_main).unwrap();
    assert_eq!(main.state, GreenState::Running);
    let text = d.to_string();
    for needle in [
        "'worker': parked, waits on sleep",
        "'locker': parked, waits on Lock at 0x1000 (may still be woken from another OS thread)",
        ": not started",
        ": delayed",
        "(main): running",
    ] {
        assert!(text.contains(needle), "{needle:?} not in\n{text}");
    }
    assert_eq!(d.hub_id, greenthread::sched::HubHandle::current().id());
    worker.kill();
    p_holder.kill();
    later.cancel();
    fresh.join().unwrap();
    assert_eq!(greenthread::dump().green_threads.len(), 1);
}
