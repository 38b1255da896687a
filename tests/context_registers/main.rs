//! Every callee-saved register of the target ABI, integer and floating point, and the FP
//! control state survive a context switch, and FP control state set in one context does not
//! leak into another.
//!
//! Each architecture module provides:
//! - `pattern(seed) -> Pattern`: distinct values for every callee-saved register, integer and
//!   floating point;
//! - `with_registers_set(&pattern, f) -> Pattern`: loads the pattern into those registers in
//!   assembly, calls `f` (which switches away and back, while the other side has loaded a
//!   different pattern), and returns what the registers hold after `f` returns;
//! - `fp_control()`, `set_round_up()`, `set_round_down()`, `restore_fp_control(saved)`: the FP
//!   control state as the hardware reports it (MXCSR and x87 CW, FPCR, fcsr), changed in asm;
//! - `probe_add()` = 1 + 2^-60 and `probe_sub()` = 1 - 2^-60, computed in asm with the current
//!   rounding mode (1.0 for both under round-to-nearest).
//!
//! Rust assumes the default floating-point environment, so the non-default spans are kept to
//! assembly plus the switch itself.

use std::cell::Cell;

use greenthread::{Coroutine, CoroutineResult, Yielder};

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
use x86_64 as arch;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
use aarch64 as arch;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
use riscv64 as arch;

thread_local! {
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
}

/// Called from assembly inside the coroutine: suspends to the resumer and comes back.
fn suspend_once() {
    let y = YIELDER.with(|c| c.get());
    // SAFETY: set by the coroutine body below before any call and valid while it runs.
    unsafe { (*y).suspend(()) };
}

#[test]
fn callee_saved_registers_survive_a_switch_in_both_directions() {
    let green = arch::pattern(0x1111_0000);
    let main = arch::pattern(0x2222_0000);
    let green_seen = Cell::new(None);
    let mut co = Coroutine::new(|y: &Yielder<(), ()>, ()| {
        YIELDER.with(|c| c.set(y));
        let seen = arch::with_registers_set(&arch::pattern(0x1111_0000), suspend_once);
        YIELDER.with(|c| c.set(std::ptr::null()));
        seen
    })
    .unwrap();
    // First resume: the coroutine loads its pattern and suspends inside the asm.
    assert_eq!(co.resume(()), CoroutineResult::Yield(()));
    // Main loads its own pattern, resumes the coroutine from inside the asm (so the
    // coroutine's registers must come back from the switch, not from main's values), and
    // checks its own pattern afterwards.
    let observed_main = arch::with_registers_set(&main, || {
        let r = co_resume(&mut co);
        green_seen.set(Some(r));
    });
    assert_eq!(observed_main, main, "main's registers were not preserved");
    let CoroutineResult::Return(observed_green) = green_seen.take().unwrap() else {
        panic!("coroutine did not finish")
    };
    assert_eq!(
        observed_green, green,
        "the coroutine's registers were not preserved"
    );
}

/// Not inlined, so the resume happens in a separate frame called from the asm.
#[inline(never)]
fn co_resume<Y, R>(co: &mut Coroutine<(), Y, R>) -> CoroutineResult<Y, R> {
    co.resume(())
}

#[test]
fn fp_control_state_is_per_context() {
    let mut co = Coroutine::new(|y: &Yielder<(), (u64, f64)>, ()| {
        // Round toward +inf in this context only.
        let before = arch::set_round_up();
        let seen1 = (arch::fp_control(), arch::probe_add());
        y.suspend(seen1);
        let seen2 = (arch::fp_control(), arch::probe_add());
        arch::restore_fp_control(before);
        seen2
    })
    .unwrap();
    let default = arch::fp_control();
    assert_eq!((arch::probe_add(), arch::probe_sub()), (1.0, 1.0));
    let CoroutineResult::Yield((green_ctl, green_sum)) = co.resume(()) else {
        panic!()
    };
    // Back in main: the coroutine's rounding mode did not leak.
    assert_eq!(
        arch::fp_control(),
        default,
        "FP control state leaked out of the coroutine"
    );
    assert_eq!(
        arch::probe_add(),
        1.0,
        "rounding mode leaked out of the coroutine"
    );
    assert_ne!(green_ctl, default);
    assert!(
        green_sum > 1.0,
        "round-up mode not in effect in the coroutine"
    );
    // Main rounds down; the coroutine must still see its own mode after resuming, and main
    // must get its own back.
    let before = arch::set_round_down();
    let r = co_resume(&mut co);
    let main_ctl = arch::fp_control();
    let main_sub = arch::probe_sub();
    arch::restore_fp_control(before);
    assert!(
        main_sub < 1.0,
        "main's round-down mode was not restored after the switch"
    );
    assert_ne!(main_ctl, default);
    let CoroutineResult::Return((ctl2, sum2)) = r else {
        panic!()
    };
    assert_eq!(
        ctl2, green_ctl,
        "coroutine's FP control state was not restored"
    );
    assert_eq!(sum2, green_sum);
    assert_eq!(arch::fp_control(), default);
}

#[test]
fn a_fresh_context_starts_with_the_default_fp_environment() {
    let before = arch::set_round_up();
    let mut co =
        Coroutine::new(|_: &Yielder<(), ()>, ()| (arch::fp_control(), arch::probe_add())).unwrap();
    let r = co_resume(&mut co);
    arch::restore_fp_control(before);
    let default = arch::fp_control();
    assert_eq!(r, CoroutineResult::Return((default, 1.0)));
}
