//! An overflow while the *main* thread's hub is torn down at process exit is reported (issue
//! 10, item 5): std frees the main thread's alternate signal stack when `main` returns, before
//! the thread-local destructors that unwind the remaining green threads. Runs without the test
//! harness, whose tests run on spawned threads, so the child's green threads live on the
//! process's real main thread.

mod support;

use std::hint::black_box;
use std::time::Duration;

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

fn main() {
    if support::is_child() {
        let gt = greenthread::Builder::new()
            .name("main-teardown-victim")
            .stack_size(64 * 1024)
            .spawn(|| {
                let _bomb = OverflowOnDrop;
                greenthread::sleep(Duration::from_secs(3600));
            })
            .unwrap();
        greenthread::yield_now();
        std::mem::forget(gt);
        return; // The hub is torn down after this, at process exit.
    }
    if support::skip_if(
        cfg!(windows),
        "Windows",
        "under Wine no green thread of the main thread is unwound after main returns (the \
         child exits 0); the alternate signal stack this checks is Unix's",
    ) {
        return;
    }
    let out = support::run_in_child("overflow_during_main_thread_teardown_is_reported");
    out.assert_aborted();
    out.assert_stderr_contains("'main-teardown-victim' (stack #");
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack\n");
    out.assert_stderr_contains("fatal runtime error: stack overflow, aborting");
    println!("test overflow_during_main_thread_teardown_is_reported ... ok");
}
