//! Windows only: a green stack's outermost frame (the trampoline) behaves like an OS thread's
//! (`RtlUserThreadStart`): an exception nobody handled runs the process's unhandled-exception
//! filter, and the process ends with the exception's code. Checked for a coroutine and for a
//! green thread, against the same fault on the OS thread's own stack. Each case runs in a
//! child process (tests/support).
#![cfg(windows)]

mod support;

use greenthread::{Coroutine, Yielder};
use windows_sys::Win32::System::Diagnostics::Debug::{
    EXCEPTION_EXECUTE_HANDLER, EXCEPTION_POINTERS, SetUnhandledExceptionFilter,
};

const STATUS_ACCESS_VIOLATION: u32 = 0xC000_0005;

/// The filter a crash reporter would install: reports the exception and lets the process end.
unsafe extern "system" fn report(p: *const EXCEPTION_POINTERS) -> i32 {
    // SAFETY: the system passes valid exception pointers.
    let code = unsafe { (*(*p).ExceptionRecord).ExceptionCode } as u32;
    eprintln!("unhandled-exception filter ran: {code:#x}");
    EXCEPTION_EXECUTE_HANDLER
}

fn install_filter() {
    assert!(support::is_child());
    // SAFETY: `report` stays valid for the whole process.
    unsafe { SetUnhandledExceptionFilter(Some(report)) };
}

#[inline(never)]
fn fault() {
    // SAFETY: not safe at all: the write faults (address 8 is never mapped), on purpose.
    unsafe { std::ptr::write_volatile(std::hint::black_box(8usize) as *mut u32, 1) };
}

fn check(name: &str) {
    let out = support::run_in_child(name);
    out.assert_exit_code(STATUS_ACCESS_VIOLATION);
    out.assert_stderr_contains("unhandled-exception filter ran: 0xc0000005");
}

/// The control: the same fault on the OS thread's stack.
#[test]
fn a_fault_on_the_os_stack_runs_the_filter() {
    if support::is_child() {
        install_filter();
        fault();
        return;
    }
    check("a_fault_on_the_os_stack_runs_the_filter");
}

#[test]
fn a_fault_in_a_coroutine_runs_the_filter() {
    if support::is_child() {
        install_filter();
        let mut co = Coroutine::new(|_: &Yielder<(), ()>, ()| fault()).unwrap();
        co.resume(());
        return;
    }
    check("a_fault_in_a_coroutine_runs_the_filter");
}

#[test]
fn a_fault_in_a_green_thread_runs_the_filter() {
    if support::is_child() {
        install_filter();
        greenthread::spawn(fault).join().ok();
        return;
    }
    check("a_fault_in_a_green_thread_runs_the_filter");
}
