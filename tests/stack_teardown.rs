//! An overflow while OS-thread-exit teardown unwinds green threads is reported like any
//! other (issue 10, item 5).
//!
//! std frees the alternate signal stack of the threads it spawns (and, at process exit, the
//! main thread's) before thread-local destructors run, and the hub tears down its green
//! threads from a thread-local destructor. Without an alternate stack the fault handler
//! cannot run on an overflowed stack, and the process dies of a bare `SIGSEGV`. The stack
//! layer installs one for the whole teardown. Each test crashes on purpose in a child.

mod support;

use std::hint::black_box;
use std::time::Duration;

const REPORT: &str = "has overflowed its stack\n";

/// Recurses forever with a 256-byte frame the optimiser cannot remove.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[0] = depth as u8;
    black_box(&mut frame);
    recurse(depth + 1).wrapping_add(u64::from(frame[1]))
}

/// Overflows its green thread's stack when dropped: during the teardown's forced unwind.
struct OverflowOnDrop;

impl Drop for OverflowOnDrop {
    fn drop(&mut self) {
        recurse(0);
    }
}

/// On the calling OS thread: spawns a named green thread that holds an [`OverflowOnDrop`]
/// and parks, and lets it run until it parks. The thread's exit then tears it down.
fn park_an_overflowing_green_thread() {
    let gt = greenthread::Builder::new()
        .name("teardown-victim")
        .stack_size(64 * 1024)
        .spawn(|| {
            let _bomb = OverflowOnDrop;
            greenthread::sleep(Duration::from_secs(3600));
        })
        .unwrap();
    greenthread::yield_now();
    std::mem::forget(gt);
}

fn assert_reported(out: &support::ChildOutput) {
    out.assert_aborted();
    out.assert_stderr_contains("'teardown-victim' (stack #");
    out.assert_stderr_contains(&format!(", 65536 bytes) {REPORT}"));
    out.assert_stderr_contains("fatal runtime error: stack overflow, aborting");
}

/// A thread spawned by std: std's alternate stack is gone when the hub's destructor runs.
#[test]
fn overflow_during_std_thread_teardown_is_reported() {
    if support::is_child() {
        std::thread::spawn(park_an_overflowing_green_thread)
            .join()
            .unwrap();
        unreachable!("teardown did not overflow");
    }
    let out = support::run_in_child("overflow_during_std_thread_teardown_is_reported");
    assert_reported(&out);
}

/// A thread not created by std: its alternate stack is the stack layer's own, whose
/// thread-local may be destroyed before the hub's.
#[cfg(unix)]
#[test]
fn overflow_during_foreign_thread_teardown_is_reported() {
    extern "C" fn thread_main(_: *mut libc::c_void) -> *mut libc::c_void {
        park_an_overflowing_green_thread();
        std::ptr::null_mut()
    }
    if support::is_child() {
        let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
        // SAFETY: `thread_main` has the signature pthread_create expects; default attributes.
        let rc = unsafe {
            libc::pthread_create(
                thread.as_mut_ptr(),
                std::ptr::null(),
                thread_main,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: created successfully above; joined once.
        unsafe { libc::pthread_join(thread.assume_init(), std::ptr::null_mut()) };
        unreachable!("teardown did not overflow");
    }
    let out = support::run_in_child("overflow_during_foreign_thread_teardown_is_reported");
    assert_reported(&out);
}
