//! Unit tests of the hub's internals: the transition table, the timer wheel, the park
//! words, the intrusive lists, the control-block cache, and the `panic = "abort"`
//! decisions (simulated, since the test harness itself needs unwinding).

use std::time::{Duration, Instant};

use super::green::{BLOCK_SIZE, GPtr, Green, GreenBox, State};
use super::park::Words;
use super::runqueue::List;
use super::timer::{TimerKind, TimerWheel};
use super::*;

#[test]
fn transition_table() {
    use State::*;
    let all = [New, Ready, Running, Parked, Dead];
    let legal = [
        (New, Running),
        (Ready, Running),
        (Running, Ready),
        (Running, Parked),
        (Running, Dead),
        (Parked, Ready),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                from.can_become(to),
                legal.contains(&(from, to)),
                "{from:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn control_blocks_fit_the_cache_size_class() {
    assert!(size_of::<GreenBox<u64>>() <= BLOCK_SIZE);
    assert!(size_of::<GreenBox<String>>() <= BLOCK_SIZE);
    assert!(size_of::<GreenBox<()>>() <= BLOCK_SIZE);
    // and a big result still works (allocated outside the cache)
    let big = spawn(|| [1u8; 4096]).join().unwrap();
    assert_eq!(big.iter().map(|&b| b as usize).sum::<usize>(), 4096);
}

#[test]
fn timers_pop_in_deadline_then_scheduling_order() {
    let t0 = Instant::now();
    let mut h = TimerWheel::new(t0);
    h.try_reserve_for(8).unwrap();
    let d = |ms| t0 + Duration::from_millis(ms);
    // equal deadlines, mixed kinds: scheduling order
    h.push(d(5), 1, 10, TimerKind::Wake);
    h.push(d(1), 2, 20, TimerKind::Start);
    h.push(d(5), 3, 30, TimerKind::Start);
    h.push(d(5), 4, 40, TimerKind::Wake);
    h.push(d(3), 5, 50, TimerKind::Wake);
    assert_eq!(h.len(), 5);
    h.advance(t0);
    assert!(h.pop_due().is_none());
    h.advance(d(10));
    let order: Vec<u32> = std::iter::from_fn(|| h.pop_due().map(|t| t.slot)).collect();
    assert_eq!(order, [2, 5, 1, 3, 4]);
    assert!(h.is_empty());
}

#[test]
fn timers_cancel_in_place_and_leave_nothing_behind() {
    let t0 = Instant::now();
    let mut h = TimerWheel::new(t0);
    let n = 1000u32;
    h.try_reserve_for(n as usize).unwrap();
    for i in 0..n {
        h.push(
            t0 + Duration::from_millis(u64::from(i)),
            i,
            0,
            TimerKind::Wake,
        );
    }
    for i in (1..n).step_by(2) {
        h.cancel(i);
        h.cancel(i); // twice is harmless
    }
    assert_eq!(h.len(), n as usize / 2);
    assert_eq!(h.pending().len(), n as usize / 2);
    h.advance(t0 + Duration::from_secs(2));
    let fired: Vec<u32> = std::iter::from_fn(|| h.pop_due().map(|t| t.slot)).collect();
    assert_eq!(fired, (0..n).step_by(2).collect::<Vec<_>>());
    assert!(h.is_empty());
}

#[test]
fn park_words_have_exactly_one_winner() {
    let w = Words::new_for_tests();
    for slot in [0u32, 1, 63, 64, 191, 192, 5000] {
        w.try_ensure(slot).unwrap();
        w.arm(slot, 7);
        assert!(w.is_armed(slot, 7));
        assert!(!w.disarm(slot, 6)); // another park's token
        assert!(w.disarm(slot, 7));
        assert!(!w.disarm(slot, 7)); // already won
        assert!(!w.is_armed(slot, 7));
        w.arm(slot, 8);
        assert!(!w.disarm(slot, 7)); // stale
        assert!(w.disarm(slot, 8));
    }
    // the capacity reported covers every slot below it
    let cap = w.try_ensure(100).unwrap();
    assert!(cap > 100);
    for slot in 0..cap {
        w.arm(slot, 1);
    }
}

#[test]
fn park_words_race_across_threads() {
    let w = std::sync::Arc::new(Words::new_for_tests());
    w.try_ensure(0).unwrap();
    for token in 1..2000u64 {
        w.arm(0, token);
        let w2 = std::sync::Arc::clone(&w);
        let t = std::thread::spawn(move || w2.disarm(0, token));
        let mine = w.disarm(0, token);
        let theirs = t.join().unwrap();
        assert!(mine ^ theirs, "token {token}: {mine} {theirs}");
    }
}

#[test]
fn intrusive_list_fifo_and_removal() {
    let blocks: Vec<_> = (0..5)
        .map(|i| GreenBox::<()>::alloc(100 + i, None, 0, 0))
        .collect();
    // SAFETY: the blocks are alive until released at the end of the test.
    let g = |i: usize| unsafe { GPtr::from(blocks[i].as_ref()).get() };
    let list = List::new();
    for i in 0..5 {
        // SAFETY: each block is on no list and outlives its membership.
        unsafe { list.push_back(g(i)) };
    }
    assert_eq!(list.len(), 5);
    assert!(list.contains(g(2)));
    assert!(list.remove(g(2)));
    assert!(!list.remove(g(2)));
    assert!(list.remove(g(4))); // tail
    assert!(list.remove(g(0))); // head
    // SAFETY: as above; `pop_front` returned live blocks.
    let ids: Vec<u64> =
        std::iter::from_fn(|| list.pop_front().map(|p| unsafe { p.get() }.id)).collect();
    assert_eq!(ids, [101, 103]);
    assert!(list.is_empty());
    for b in blocks {
        // SAFETY: we own the one reference `alloc` returned.
        unsafe { Green::release(b) };
    }
}

#[test]
fn block_cache_reuses_memory() {
    let a = spawn(|| 1u64);
    let addr = a.handle().id();
    a.join().unwrap();
    let _ = addr;
    let hub = current::hub().unwrap();
    let before = hub.block_cache.borrow().len();
    assert!(before >= 1, "a freed block went back to the cache");
    let b = spawn(|| 2u64);
    assert_eq!(hub.block_cache.borrow().len(), before - 1);
    b.join().unwrap();
}

/// Runs `f` on a fresh OS thread whose hub pretends to be built with `panic = "abort"`,
/// from its creation until its teardown at thread exit (a thread-local destructor).
///
/// The flag is a field of that hub (`Hub::pretend_abort`), not a thread-local of its own:
/// where thread-locals are OS TLS keys (Windows GNU), their destructors run in the order
/// the keys were first used anywhere in the process, so a flag key could be destroyed,
/// and read back as `false`, before the hub's teardown asks for it.
fn pretending_abort<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::spawn(move || {
        current::hub()
            .expect("a fresh thread gets a hub")
            .pretend_abort
            .set(true);
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn under_panic_abort_kill_of_a_started_thread_is_an_error() {
    pretending_abort(|| {
        let gt = spawn(|| sleep(Duration::from_millis(5)));
        yield_now();
        assert_eq!(gt.try_kill(), Err(KillError::CannotUnwind));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gt.kill()));
        assert!(r.is_err(), "kill() panics when it cannot kill");
        assert!(gt.wait().is_ok()); // untouched, it finishes normally
        // not started: kill and cancel need no unwinding
        let fresh = spawn(|| ());
        assert!(fresh.try_kill().is_ok());
        assert!(fresh.wait().unwrap_err().exit().unwrap().is_killed());
        let fresh = spawn(|| ());
        assert!(fresh.cancel());
    });
}

#[test]
fn under_panic_abort_thread_exit_abandons_started_threads() {
    struct D(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Drop for D {
        fn drop(&mut self) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d = std::sync::Arc::clone(&drops);
    let d2 = std::sync::Arc::clone(&drops);
    pretending_abort(move || {
        let started = D(d);
        spawn_n(move || {
            let _s = started;
            sleep(Duration::from_secs(3600));
        });
        yield_now();
        let unstarted = D(d2);
        spawn_n(move || {
            let _u = unstarted;
            unreachable!();
        });
    });
    // The unstarted one's closure was dropped; the started one was abandoned, its
    // destructors never ran (and its stack is leaked, not unmapped under it).
    assert_eq!(drops.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn tick_picks_up_due_timers_within_a_bounded_number_of_switches() {
    // With one other green thread ready, a due timer is fired within TICK_MIN switches.
    let fired = std::rc::Rc::new(std::cell::Cell::new(false));
    let f = std::rc::Rc::clone(&fired);
    let _t = spawn_after(Duration::ZERO, move || f.set(true));
    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let s = std::rc::Rc::clone(&stop);
    let other = spawn(move || {
        while !s.get() {
            yield_now();
        }
    });
    std::thread::sleep(Duration::from_millis(1)); // the timer is due
    let mut yields = 0;
    while !fired.get() {
        yield_now();
        yields += 1;
        assert!(
            yields <= 2 * hub::TICK_MIN + 2,
            "timer not fired after {yields} yields"
        );
    }
    stop.set(true);
    other.join().unwrap();
}

/// Issue 10.4 (gevent.lock / SPEC §5: "a waiter that is killed leaves the queue and loses
/// nothing"): a green thread abandoned at OS-thread exit while parked on a shared `Lock`
/// (under `panic = "abort"` nothing can unwind it) must not take the permit a later release
/// from another OS thread hands out; otherwise the lock stays locked, held by nobody.
#[test]
fn abandoned_parked_waiter_does_not_take_a_released_permit() {
    use crate::sync::Lock;
    use std::sync::Arc;
    let lock = Arc::new(Lock::new());
    lock.acquire();
    let l = Arc::clone(&lock);
    pretending_abort(move || {
        let l2 = Arc::clone(&l);
        spawn_n(move || l2.acquire());
        yield_now(); // it parks on the lock; the OS thread then exits and abandons it
    });
    // The abandoned waiter is still in the lock's queue; the release must skip it.
    lock.release().unwrap();
    assert!(!lock.locked(), "the permit went to an abandoned waiter");
    assert!(lock.try_acquire());
    lock.release().unwrap();
}
