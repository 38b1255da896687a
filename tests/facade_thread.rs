//! The `_thread` facade (`greenthread::thread`): behaviour a Python `_thread` user relies on.

mod support;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use greenthread::thread::{self, InterruptHandler, TIMEOUT_MAX};
use greenthread::{Error, sync::AcquireError};

#[test]
fn start_new_thread_returns_the_ident_and_runs_at_the_next_switch() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let mut idents = Vec::new();
    for i in 0..5 {
        let s = seen.clone();
        idents.push(
            thread::start_new_thread(move || s.borrow_mut().push((i, thread::get_ident())))
                .unwrap(),
        );
    }
    assert!(
        seen.borrow().is_empty(),
        "started threads must not run before a switch point"
    );
    greenthread::yield_now();
    let got = seen.borrow().clone();
    assert_eq!(
        got.iter().map(|&(i, _)| i).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "FIFO order"
    );
    assert_eq!(got.iter().map(|&(_, id)| id).collect::<Vec<_>>(), idents);
    let mut unique = idents.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    assert!(
        idents
            .iter()
            .all(|&id| id != 0 && id != thread::get_ident())
    );
}

#[test]
fn a_panicking_thread_reports_and_ends_only_itself() {
    if support::is_child() {
        let after = Rc::new(Cell::new(0));
        let a = after.clone();
        thread::start_new_thread(|| panic!("worker exploded")).unwrap();
        thread::start_new_thread(move || a.set(a.get() + 1)).unwrap();
        greenthread::sleep(Duration::from_millis(1));
        assert_eq!(after.get(), 1, "the other thread did not run");
        eprintln!("main carried on");
        return;
    }
    let out = support::run_in_child("a_panicking_thread_reports_and_ends_only_itself");
    out.assert_success();
    out.assert_stderr_contains("worker exploded");
    out.assert_stderr_contains("main carried on");
}

#[test]
fn exit_ends_the_thread_silently_and_runs_destructors() {
    if support::is_child() {
        struct Flag(Rc<Cell<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let dropped = Rc::new(Cell::new(false));
        let reached = Rc::new(Cell::new(false));
        let (d, r) = (dropped.clone(), reached.clone());
        thread::start_new_thread(move || {
            let _f = Flag(d);
            if std::hint::black_box(true) {
                thread::exit();
            }
            r.set(true);
        })
        .unwrap();
        greenthread::yield_now();
        assert!(dropped.get(), "destructor did not run");
        assert!(!reached.get(), "code after exit() ran");
        return;
    }
    let out = support::run_in_child("exit_ends_the_thread_silently_and_runs_destructors");
    out.assert_success();
    out.assert_stderr_lacks("panicked");
}

#[test]
fn allocate_lock_is_a_lock_type_with_python_errors() {
    let lock: thread::LockType = thread::allocate_lock();
    assert!(!lock.locked());
    assert_eq!(lock.acquire_with(true, None), Ok(true));
    assert!(lock.locked());
    // Non-blocking on a held lock: false at once (after one yield).
    assert_eq!(lock.acquire_with(false, None), Ok(false));
    lock.release().unwrap();
    let err: thread::error = lock.release().unwrap_err();
    assert_eq!(err, Error::ReleaseUnlocked);
    assert_eq!(err.python_exception(), "RuntimeError");
    assert_eq!(err.to_string(), "release unlocked lock");
}

#[test]
fn lock_can_be_released_by_another_green_thread() {
    let lock = Rc::new(thread::allocate_lock());
    lock.acquire();
    let l = lock.clone();
    thread::start_new_thread(move || l.release().unwrap()).unwrap();
    // Blocks until the other green thread releases it: no owner, as in Python.
    assert_eq!(lock.acquire_with(true, Some(5.0)), Ok(true));
    lock.release().unwrap();
}

#[test]
fn timeout_rules_match_cpython() {
    let lock = thread::allocate_lock();
    assert_eq!(
        lock.acquire_with(false, Some(1.0)),
        Err(AcquireError::Invalid(Error::TimeoutWithNonBlocking))
    );
    assert_eq!(
        lock.acquire_with(true, Some(-2.0)),
        Err(AcquireError::Invalid(Error::NegativeTimeout))
    );
    assert_eq!(
        lock.acquire_with(true, Some(TIMEOUT_MAX * 2.0)),
        Err(AcquireError::Invalid(Error::TimeoutTooLarge))
    );
    assert_eq!(
        lock.acquire_with(true, Some(f64::INFINITY)),
        Err(AcquireError::Invalid(Error::TimeoutTooLarge))
    );
    // TIMEOUT_MAX itself is accepted (the lock is free, so this returns at once).
    assert_eq!(lock.acquire_with(true, Some(TIMEOUT_MAX)), Ok(true));
    // A held lock with a short timeout: false after the timeout.
    assert_eq!(lock.acquire_with(true, Some(0.01)), Ok(false));
    lock.release().unwrap();
    assert_eq!(
        Error::TimeoutTooLarge.python_exception(),
        "OverflowError",
        "CPython raises OverflowError above TIMEOUT_MAX"
    );
}

#[test]
fn get_ident_is_unique_among_live_green_threads() {
    let ids = Rc::new(RefCell::new(Vec::new()));
    let gts: Vec<_> = (0..50)
        .map(|_| {
            let ids = ids.clone();
            greenthread::spawn(move || {
                ids.borrow_mut().push(thread::get_ident());
                greenthread::sleep(Duration::from_millis(1)); // all alive at once
            })
        })
        .collect();
    for gt in &gts {
        gt.wait().unwrap();
    }
    let mut v = ids.borrow().clone();
    v.push(thread::get_ident());
    let n = v.len();
    v.sort();
    v.dedup();
    assert_eq!(v.len(), n);
    assert!(!v.contains(&0));
}

#[test]
fn get_native_id_is_the_os_thread_id() {
    let here = thread::get_native_id();
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions.
        assert_eq!(here, unsafe { libc::gettid() } as u64);
    }
    let green = greenthread::spawn(thread::get_native_id).join().unwrap();
    assert_eq!(green, here, "green threads share their OS thread's id");
    let other = std::thread::spawn(thread::get_native_id).join().unwrap();
    assert_ne!(other, here);
}

#[test]
fn stack_size_rules_and_effect() {
    // Python's rules: 0 = default, below 32 KiB is a ValueError, setting returns the previous.
    let prev = thread::stack_size(Some(0)).unwrap();
    assert_eq!(
        thread::stack_size(Some(32 * 1024 - 1)),
        Err(Error::InvalidStackSize(32 * 1024 - 1))
    );
    assert_eq!(Error::InvalidStackSize(1).python_exception(), "ValueError");
    assert_eq!(thread::stack_size(Some(32 * 1024)).unwrap(), 0);
    assert_eq!(thread::stack_size(Some(100_000)).unwrap(), 32 * 1024);
    let page = greenthread::stack::page_size();
    assert_eq!(
        thread::get_stack_size(),
        100_000usize.div_ceil(page) * page,
        "rounded to pages"
    );
    assert!(thread::stack_size(Some(usize::MAX)).is_err());
    // New threads get it.
    let size = Rc::new(Cell::new(0));
    let s = size.clone();
    thread::start_new_thread(move || {
        let me = thread::get_ident();
        let info = greenthread::dump()
            .green_threads
            .into_iter()
            .find(|g| g.id == me)
            .unwrap();
        s.set(info.stack_size);
    })
    .unwrap();
    greenthread::yield_now();
    assert_eq!(size.get(), thread::get_stack_size());
    // Python's stack_size() with no argument resets to 0 and returns the old value.
    assert_eq!(
        thread::stack_size(None).unwrap(),
        100_000usize.div_ceil(page) * page
    );
    assert_eq!(thread::get_stack_size(), 0);
    thread::stack_size(Some(prev)).unwrap();
}

#[test]
fn interrupt_handler_settings_are_kept() {
    let prev = thread::set_interrupt_handler(15, InterruptHandler::Ignore);
    assert!(matches!(prev, InterruptHandler::Default));
    assert!(matches!(
        thread::set_interrupt_handler(15, prev),
        InterruptHandler::Ignore
    ));
}
