//! Regression tests for the safety audit (issue 10). Each case names the audit item.
//!
//! Type-level fixes are pinned by `compile_fail` doc tests instead, which live beside the
//! types: `Coroutine`/`Yielder` invariance (item 1) in `src/contracts.rs`. Item 4 (a hub
//! closed under `panic = "abort"` leaves no armed park) is a unit test in
//! `src/sched/tests.rs` (`abandoned_parked_waiter_does_not_take_a_released_permit`), since it
//! needs the hub's test-only `pretend_abort` switch. Item 5 (overflow during OS-thread-exit
//! teardown) and item 7 (valgrind) live with the stack tests and `scripts/memcheck.sh`.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Item 3: `std::process::exit` from a spawned green thread exits with its code. glibc's
/// `exit()` (and Windows' `ExitProcess`) run the calling thread's TLS destructors on the
/// caller's stack, i.e. the green stack; the hub's teardown used to abort there
/// ("hub torn down while a green thread other than main runs").
#[test]
fn process_exit_from_a_green_thread_exits_with_its_code() {
    if support::is_child() {
        let other = greenthread::spawn(|| greenthread::sleep(Duration::from_secs(60)));
        greenthread::spawn(|| {
            greenthread::yield_now();
            std::process::exit(7);
        })
        .wait()
        .unwrap();
        drop(other);
        unreachable!("exit returned");
    }
    let out = support::run_in_child("process_exit_from_a_green_thread_exits_with_its_code");
    out.assert_exited_with(7);
    out.assert_stderr_lacks("fatal");
}

/// Item 3, on a green thread of another OS thread than main.
#[test]
fn process_exit_from_a_green_thread_of_a_second_os_thread() {
    if support::is_child() {
        std::thread::spawn(|| {
            greenthread::spawn(|| std::process::exit(9)).wait().unwrap();
        })
        .join()
        .unwrap();
        unreachable!("exit returned");
    }
    let out = support::run_in_child("process_exit_from_a_green_thread_of_a_second_os_thread");
    out.assert_exited_with(9);
    out.assert_stderr_lacks("fatal");
}

/// Item 6: `_thread.stack_size(size)` rejects a size no stack can have (CPython raises
/// ValueError when the size is invalid) instead of accepting it and failing every later
/// `start_new_thread`.
#[test]
fn stack_size_rejects_sizes_no_stack_can_have() {
    use greenthread::thread;
    let before = thread::get_stack_size();
    for size in [
        isize::MAX as usize,
        usize::MAX,
        greenthread::stack::MAX_STACK_SIZE + 1,
    ] {
        let e = thread::stack_size(Some(size)).unwrap_err();
        assert!(e.to_string().contains("size not valid"), "{size}: {e}");
        assert_eq!(thread::get_stack_size(), before, "unchanged by the error");
    }
    // A valid size still works and is used.
    assert_eq!(thread::stack_size(Some(128 * 1024)).unwrap(), before);
    let lock = Arc::new(thread::allocate_lock());
    lock.acquire();
    let l = Arc::clone(&lock);
    thread::start_new_thread(move || l.release().unwrap()).unwrap();
    lock.acquire(); // the new green thread ran
    thread::stack_size(Some(before)).unwrap();
}

greenthread::green_local! {
    static COUNTER: Cell<u32> = Cell::new(0);
    static SLOW_INIT: RefCell<Vec<u64>> = {
        // Switches inside the initializer: the hazard that `thread_local!` cannot survive.
        greenthread::yield_now();
        RefCell::new(vec![greenthread::getcurrent().id()])
    };
}

/// Item 2(b): green-local values are per green thread and their initializer may switch.
/// With `thread_local!`, green thread A yielding inside the initializer while B initialises
/// the same key and holds a borrow across a yield ends with std dropping B's value under
/// B's borrow; here each has its own value and both borrows stay valid.
#[test]
fn green_local_initializer_may_switch_and_values_are_per_green_thread() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let seen = Rc::clone(&seen);
            greenthread::spawn(move || {
                SLOW_INIT.with(|v| {
                    let me = greenthread::getcurrent().id();
                    let held = v.borrow(); // held across switches
                    greenthread::yield_now();
                    greenthread::yield_now();
                    assert_eq!(*held, [me], "another green thread's value");
                    seen.borrow_mut().push(me);
                });
                COUNTER.with(|c| c.set(c.get() + 1));
                COUNTER.with(Cell::get)
            })
        })
        .collect();
    for t in threads {
        assert_eq!(
            t.join().unwrap(),
            1,
            "each green thread counts from its own 0"
        );
    }
    assert_eq!(seen.borrow().len(), 4);
    assert_eq!(COUNTER.with(Cell::get), 0, "main has its own value");
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

greenthread::green_local! {
    static FLAG: RefCell<Option<DropFlag>> = RefCell::new(None);
}

/// Item 2(b): values are dropped when the green thread finishes, normally, by panic or by
/// kill, and before a waiter (or a link) sees it finished.
#[test]
fn green_local_values_are_dropped_when_the_green_thread_finishes() {
    for how in ["return", "panic", "kill"] {
        let drops = Arc::new(AtomicUsize::new(0));
        let d = Arc::clone(&drops);
        let gt = greenthread::spawn(move || {
            FLAG.with(|f| *f.borrow_mut() = Some(DropFlag(d)));
            match how {
                "panic" => panic!("on purpose"),
                "kill" => greenthread::sleep(Duration::from_secs(60)),
                _ => {}
            }
        });
        let at_link = Arc::new(AtomicUsize::new(usize::MAX));
        let (a, d2) = (Arc::clone(&at_link), Arc::clone(&drops));
        gt.link(move |_| a.store(d2.load(Ordering::SeqCst), Ordering::SeqCst));
        greenthread::yield_now(); // it runs and stores its value
        if how == "kill" {
            gt.kill();
        }
        let _ = gt.wait();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "{how}: dropped once");
        assert_eq!(
            at_link.load(Ordering::SeqCst),
            1,
            "{how}: dropped before links"
        );
    }
}

/// Item 2(b): the main green thread's values are dropped at its hub's teardown (OS-thread
/// exit).
#[test]
fn green_local_values_of_main_are_dropped_at_os_thread_exit() {
    let drops = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&drops);
    std::thread::spawn(move || FLAG.with(|f| *f.borrow_mut() = Some(DropFlag(d))))
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

/// A nested access from its own initializer is an error, as for `thread_local!`.
#[test]
fn green_local_recursive_initialization_is_an_error() {
    greenthread::green_local! {
        static SELF_REF: u32 = SELF_REF.try_with(|v| *v).map_or(0, |v| v + 1);
    }
    // The inner access fails (Recursive) and the initializer falls back to 0.
    assert_eq!(SELF_REF.with(|v| *v), 0);
    greenthread::green_local! {
        static LOOP: u32 = LOOP.with(|v| *v);
    }
    let r = greenthread::spawn(|| LOOP.with(|v| *v)).join();
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("own initializer"), "{msg}");
}
