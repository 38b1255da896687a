//! Backtraces taken on a green stack terminate cleanly at the green stack's root: the
//! trampoline marks its return address undefined (DWARF) and has a zero frame pointer and
//! return address (frame-pointer walkers), so the walk neither runs off into garbage nor
//! crosses into the resumer's stack.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::hint::black_box;

use greenthread::{Coroutine, CoroutineResult, Yielder};

#[inline(never)]
fn capture_here_on_the_green_stack(depth: u32) -> String {
    if black_box(depth) > 0 {
        return capture_here_on_the_green_stack(depth - 1);
    }
    let bt = Backtrace::force_capture();
    assert_eq!(bt.status(), BacktraceStatus::Captured);
    // Formatting resolves symbols, which walks the whole chain again.
    format!("{bt}")
}

fn frames(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .count()
}

#[test]
fn backtrace_on_a_green_stack_terminates_at_the_root() {
    let mut co = Coroutine::new(|y: &Yielder<(), String>, ()| {
        let first = capture_here_on_the_green_stack(3);
        y.suspend(first);
        // Again after a resume, from a different resumer frame.
        capture_here_on_the_green_stack(5)
    })
    .unwrap();
    let CoroutineResult::Yield(first) = co.resume(()) else {
        panic!()
    };
    let CoroutineResult::Return(second) = co.resume(()) else {
        panic!()
    };
    for bt in [&first, &second] {
        assert!(
            bt.contains("capture_here_on_the_green_stack"),
            "backtrace lacks the capturing function:\n{bt}"
        );
        // The walk stops at the green stack's root: nothing from the test harness's own
        // (host) stack appears, and the chain is short.
        assert!(
            !bt.contains("test::run_test"),
            "walk crossed into the host stack:\n{bt}"
        );
        assert!(
            !bt.contains("backtrace_on_a_green_stack_terminates_at_the_root\n"),
            "{bt}"
        );
        assert!(frames(bt) < 40, "suspiciously long backtrace:\n{bt}");
        // The last frame is the green stack's trampoline.
        #[cfg(unix)]
        {
            let last = bt
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()));
            assert!(
                last.is_some_and(|l| l.contains("trampoline")),
                "walk did not end at the root:\n{bt}"
            );
        }
    }
    // The same capture on the host stack does reach the harness, so the check above is real.
    let host = capture_here_on_the_green_stack(0);
    assert!(
        host.contains("test::run_test") || frames(&host) > frames(&first),
        "{host}"
    );
}

#[test]
fn backtrace_inside_a_panic_on_a_green_stack_is_fine() {
    // A panic with RUST_BACKTRACE-style capture walks the green stack from the panic hook.
    let mut co = Coroutine::new(|_: &Yielder<(), ()>, ()| {
        let bt = Backtrace::force_capture();
        let text = format!("{bt:?}");
        assert!(!text.is_empty());
        panic!("after capture");
    })
    .unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| co.resume(())));
    assert!(r.is_err());
}

#[test]
#[ignore = "prints a backtrace for inspection"]
fn print_green_backtrace() {
    let mut co =
        Coroutine::new(|_: &Yielder<(), String>, ()| capture_here_on_the_green_stack(1)).unwrap();
    let CoroutineResult::Return(bt) = co.resume(()) else {
        panic!()
    };
    println!("{bt}");
}
