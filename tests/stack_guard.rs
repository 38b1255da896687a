//! Overflow detection: a green thread that runs off the end of its stack hits the guard page
//! and the process aborts with a clear report; faults that are not ours still behave as
//! without greenthread. Every test crashes on purpose, so each runs in a child process.
//!
//! Unix reports from a `SIGSEGV` handler on the alternate signal stack, Windows from a
//! vectored exception handler running in the stack's soft guard (see `src/stack/windows.rs`);
//! the tests are the same, only the shape of the child's death differs (`support`).

mod support;

use std::hint::black_box;

use greenthread::stack::{self, Stack};
use greenthread::{Coroutine, Yielder};

const REPORT: &str = "has overflowed its stack";

/// Recurses forever with a 256-byte frame the optimiser cannot remove or turn into a loop.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[0] = depth as u8;
    black_box(&mut frame);
    recurse(depth + 1).wrapping_add(u64::from(frame[1]))
}

/// One frame of 256 KiB: far larger than the guard, so only stack probes make it fault in
/// the guard rather than somewhere below it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(never)]
fn huge_frame() -> u8 {
    let mut frame = [0u8; 256 * 1024];
    black_box(&mut frame);
    frame[1000]
}

/// Runs `f` on a fresh green stack of `size` bytes.
fn on_green_stack(size: usize, f: fn()) {
    let mut co =
        Coroutine::<(), (), ()>::with_stack_size(size, move |_y: &Yielder<(), ()>, ()| f())
            .unwrap();
    co.resume(());
}

#[test]
fn green_overflow_is_reported() {
    if support::is_child() {
        on_green_stack(64 * 1024, || {
            recurse(0);
        });
        unreachable!("recursion returned");
    }
    let out = support::run_in_child("green_overflow_is_reported");
    out.assert_aborted();
    out.assert_stderr_contains("greenthread: green thread (stack #");
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack\n");
    out.assert_stderr_contains("fatal runtime error: stack overflow, aborting");
    out.assert_stderr_lacks("thread 'green_overflow_is_reported' has overflowed");
}

#[test]
fn named_green_overflow_names_the_thread() {
    if support::is_child() {
        let stack = stack::acquire(128 * 1024).unwrap();
        stack.set_name(Some("recursor"));
        stack.set_ident(Some(42));
        let id = stack.id();
        eprintln!("expect: green thread 42 'recursor' (stack #{id}, 131072 bytes) {REPORT}");
        let mut co = Coroutine::<(), (), ()>::with_stack(stack, |_y: &Yielder<(), ()>, ()| {
            recurse(0);
        });
        co.resume(());
        unreachable!("recursion returned");
    }
    let out = support::run_in_child("named_green_overflow_names_the_thread");
    out.assert_aborted();
    let expect = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("expect: "))
        .expect("child printed the expected report")
        .to_owned();
    out.assert_stderr_contains(&format!("greenthread: {expect}\n"));
}

/// Stack probes exist on x86_64 (inline on Unix, `__chkstk` on Windows) and aarch64.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn huge_frame_is_caught_by_the_guard() {
    if support::is_child() {
        on_green_stack(64 * 1024, || {
            huge_frame();
        });
        unreachable!("a 256 KiB frame fit on a 64 KiB stack");
    }
    let out = support::run_in_child("huge_frame_is_caught_by_the_guard");
    out.assert_aborted();
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack");
}

/// Where rustc emits no stack probes (riscv64: its target spec has no `stack-probes`), a
/// frame larger than the guard can jump over it, which is why the guard is 64 KiB there
/// rather than a page. This checks what that guard does promise: a frame of up to 48 KiB,
/// entered with less than 8 KiB of stack left, faults in the guard and is reported.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[test]
fn big_frame_near_the_bottom_is_caught_by_the_guard() {
    /// Recurses in small frames until less than 8 KiB is left above `bottom`, then calls a
    /// function with a 48 KiB frame.
    #[inline(never)]
    fn descend(bottom: usize) -> u8 {
        let mut frame = [0u8; 256];
        black_box(&mut frame);
        let here = frame.as_ptr() as usize;
        if here - bottom > 8 * 1024 {
            return descend(bottom).wrapping_add(frame[1]);
        }
        big_frame()
    }
    #[inline(never)]
    fn big_frame() -> u8 {
        let mut frame = [0u8; 48 * 1024];
        black_box(&mut frame);
        frame[1000]
    }
    if support::is_child() {
        let stack = stack::acquire(64 * 1024).unwrap();
        let bottom = stack.bottom() as usize;
        let mut co = Coroutine::<(), (), ()>::with_stack(stack, move |_y: &Yielder<(), ()>, ()| {
            descend(bottom);
        });
        co.resume(());
        unreachable!("a 48 KiB frame fit in less than 8 KiB");
    }
    let out = support::run_in_child("big_frame_near_the_bottom_is_caught_by_the_guard");
    out.assert_aborted();
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack");
}

/// A thread not created by std has no alternate signal stack; the context layer's call to
/// `ensure_thread_ready` must give it one, or the report could not run.
#[cfg(unix)]
#[test]
fn overflow_on_a_foreign_thread_is_reported() {
    extern "C" fn thread_main(_: *mut libc::c_void) -> *mut libc::c_void {
        on_green_stack(64 * 1024, || {
            recurse(0);
        });
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
        unreachable!("the foreign thread did not overflow");
    }
    let out = support::run_in_child("overflow_on_a_foreign_thread_is_reported");
    out.assert_aborted();
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack");
}

/// A thread not created by std has no stack guarantee of its own (std sets one for its
/// threads); a green stack brings its own guarantee through the TEB swap.
#[cfg(windows)]
#[test]
fn overflow_on_a_foreign_thread_is_reported() {
    use core::ffi::c_void;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, WAIT_OBJECT_0};
    use windows_sys::Win32::System::Threading::{INFINITE, WaitForSingleObject};

    // Declared by hand: windows-sys gates CreateThread behind its Win32_Security feature,
    // which the crate does not otherwise need.
    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn CreateThread(
            attributes: *const c_void,
            stack_size: usize,
            start: unsafe extern "system" fn(*mut c_void) -> u32,
            parameter: *mut c_void,
            flags: u32,
            thread_id: *mut u32,
        ) -> HANDLE;
    }

    unsafe extern "system" fn thread_main(_: *mut c_void) -> u32 {
        on_green_stack(64 * 1024, || {
            recurse(0);
        });
        0
    }
    if support::is_child() {
        // SAFETY: `thread_main` has the LPTHREAD_START_ROUTINE signature; default attributes.
        let thread = unsafe {
            CreateThread(
                std::ptr::null(),
                0,
                thread_main,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
            )
        };
        assert!(!thread.is_null());
        // SAFETY: `thread` is a valid handle we own, waited on and closed once.
        unsafe {
            assert_eq!(WaitForSingleObject(thread, INFINITE), WAIT_OBJECT_0);
            CloseHandle(thread);
        }
        unreachable!("the foreign thread did not overflow");
    }
    let out = support::run_in_child("overflow_on_a_foreign_thread_is_reported");
    out.assert_aborted();
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack");
}

#[test]
fn overflow_on_a_std_thread_is_reported() {
    if support::is_child() {
        std::thread::spawn(|| {
            on_green_stack(64 * 1024, || {
                recurse(0);
            })
        })
        .join()
        .unwrap();
        unreachable!("the thread did not overflow");
    }
    let out = support::run_in_child("overflow_on_a_std_thread_is_reported");
    out.assert_aborted();
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack");
}

/// Our handler chains to std's: an overflow of an OS thread's own stack is still reported by
/// std (`thread '<name>' has overflowed its stack`).
#[test]
fn os_thread_overflow_is_still_reported_by_std() {
    if support::skip_if(
        support::under_wine(),
        "Wine",
        "Wine 8 ends a thread whose own OS stack overflows before std's handler can print \
         (a plain std program without greenthread hangs or loses the thread the same way)",
    ) {
        return;
    }
    if support::is_child() {
        stack::ensure_thread_ready();
        // Have a live green stack too, so the registry is not empty.
        let _stack = Stack::new(0).unwrap();
        recurse(0);
        unreachable!("recursion returned");
    }
    let out = support::run_in_child("os_thread_overflow_is_still_reported_by_std");
    // std's handler aborts on Unix; on Windows it lets the exception end the process.
    #[cfg(unix)]
    out.assert_aborted();
    #[cfg(windows)]
    out.assert_exit_code(support::STATUS_STACK_OVERFLOW);
    // std's wording: "thread '<name>' (<tid>) has overflowed its stack" (older: no tid).
    assert!(
        out.stderr.lines().any(|l| l
            .starts_with("thread 'os_thread_overflow_is_still_reported_by_std'")
            && l.ends_with(REPORT)),
        "std's report is missing\n{out}"
    );
    out.assert_stderr_contains("fatal runtime error: stack overflow");
    out.assert_stderr_lacks("greenthread: green thread");
}

/// A fault that has nothing to do with a stack still kills the process by SIGSEGV.
#[test]
fn unrelated_fault_is_still_sigsegv() {
    if support::is_child() {
        stack::ensure_thread_ready();
        let _stack = Stack::new(0).unwrap();
        let wild = black_box(std::ptr::without_provenance_mut::<u8>(16));
        // SAFETY: not sound to complete, by design: address 16 is never mapped (below
        // vm.mmap_min_addr), so the write faults and kills this child process.
        unsafe { wild.write_volatile(1) };
        unreachable!("the wild write did not fault");
    }
    let out = support::run_in_child("unrelated_fault_is_still_sigsegv");
    out.assert_segfault();
    out.assert_stderr_lacks(REPORT);
}

/// The same from a green stack: a wild write there is not mistaken for an overflow.
#[test]
fn unrelated_fault_on_a_green_stack_is_still_sigsegv() {
    if support::is_child() {
        on_green_stack(64 * 1024, || {
            let wild = black_box(std::ptr::without_provenance_mut::<u8>(16));
            // SAFETY: faults by design in this child process (see above).
            unsafe { wild.write_volatile(1) };
        });
        unreachable!("the wild write did not fault");
    }
    let out = support::run_in_child("unrelated_fault_on_a_green_stack_is_still_sigsegv");
    out.assert_segfault();
    out.assert_stderr_lacks(REPORT);
}
