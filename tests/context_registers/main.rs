//! Every callee-saved register of the target ABI, integer and floating point, survives both
//! kinds of context switch (a `Coroutine`'s asymmetric resume/suspend and the hub's
//! symmetric switch between green threads); the FP control state survives for contexts
//! that opted in (`preserve_fp_env`) and does not leak out of them, and a plain context is
//! not switched at all.
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

use greenthread::{Coroutine, CoroutineBuilder, CoroutineResult, Yielder};

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

#[cfg(target_arch = "arm")]
mod arm;
#[cfg(target_arch = "arm")]
use arm as arch;

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

/// The symmetric switch (the hub's): two green threads each load their own pattern and
/// yield to each other from inside the asm, several times.
#[test]
fn callee_saved_registers_survive_a_symmetric_switch() {
    let run = |seed: u64| {
        move || {
            let mut seen = Vec::new();
            for round in 0..3u64 {
                let p = arch::pattern(seed + round);
                seen.push((arch::with_registers_set(&p, greenthread::yield_now), p));
            }
            seen
        }
    };
    let a = greenthread::spawn(run(0x3333_0000));
    let b = greenthread::spawn(run(0x4444_0000));
    let main = arch::pattern(0x5555_0000);
    let observed_main = arch::with_registers_set(&main, || {
        while !(a.is_finished() && b.is_finished()) {
            greenthread::yield_now();
        }
    });
    assert_eq!(
        observed_main, main,
        "the main green thread's registers were not preserved"
    );
    for (seen, expected) in a.join().unwrap().into_iter().chain(b.join().unwrap()) {
        assert_eq!(
            seen, expected,
            "a green thread's registers were not preserved"
        );
    }
}

fn fp_coroutine<F, R>(f: F) -> Coroutine<(), (u64, f64), R>
where
    F: FnOnce(&Yielder<(), (u64, f64)>, ()) -> R + 'static,
{
    CoroutineBuilder::new()
        .preserve_fp_env(true)
        .build(f)
        .unwrap()
}

#[test]
fn an_opted_in_coroutine_keeps_its_fp_control_state() {
    let mut co = fp_coroutine(|y, ()| {
        // Round toward +inf in this context only; never restored: the coroutine opted in.
        arch::set_round_up();
        let seen1 = (arch::fp_control(), arch::probe_add());
        y.suspend(seen1);
        (arch::fp_control(), arch::probe_add())
    });
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
    // Main resumes from round-down mode: the coroutine must still see its own mode; main
    // gets the default environment back (Rust's contract for code that did not opt in).
    let before = arch::set_round_down();
    let r = co_resume(&mut co);
    let main_ctl = arch::fp_control();
    arch::restore_fp_control(before);
    assert_eq!(
        main_ctl, default,
        "the resumer did not get the default environment back"
    );
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

/// Two opted-in coroutines in opposite rounding modes, resumed alternately: each keeps its
/// own while the other changes its own, and the resumer stays in the default environment.
#[test]
fn opted_in_coroutines_keep_their_own_modes_side_by_side() {
    let body = |up: bool| {
        move |y: &Yielder<(), (u64, f64)>, ()| {
            let mine = if up {
                arch::set_round_up();
                arch::probe_add()
            } else {
                arch::set_round_down();
                arch::probe_sub()
            };
            for _ in 0..3 {
                let now = if up {
                    arch::probe_add()
                } else {
                    arch::probe_sub()
                };
                y.suspend((arch::fp_control(), now));
            }
            mine
        }
    };
    let mut up = fp_coroutine(body(true));
    let mut down = fp_coroutine(body(false));
    let default = arch::fp_control();
    let mut ctl = [None, None];
    for _ in 0..3 {
        for (i, co) in [&mut up, &mut down].into_iter().enumerate() {
            let CoroutineResult::Yield((c, v)) = co.resume(()) else {
                panic!()
            };
            assert_ne!(c, default, "coroutine {i} lost its mode");
            assert_eq!(*ctl[i].get_or_insert(c), c, "coroutine {i}'s mode changed");
            if i == 0 {
                assert!(v > 1.0, "round-up coroutine computed {v}");
            } else {
                assert!(v < 1.0, "round-down coroutine computed {v}");
            }
            assert_eq!(arch::fp_control(), default, "a mode leaked into main");
            assert_eq!((arch::probe_add(), arch::probe_sub()), (1.0, 1.0));
        }
    }
    assert_ne!(ctl[0], ctl[1]);
    assert!(up.resume(()).as_return().unwrap() > 1.0);
    assert!(down.resume(()).as_return().unwrap() < 1.0);
    assert_eq!(arch::fp_control(), default);
}

#[test]
fn a_fresh_opted_in_coroutine_starts_in_the_default_fp_environment() {
    let before = arch::set_round_up();
    let mut co = CoroutineBuilder::new()
        .preserve_fp_env(true)
        .build(|_: &Yielder<(), ()>, ()| (arch::fp_control(), arch::probe_add()))
        .unwrap();
    let r = co_resume(&mut co);
    arch::restore_fp_control(before);
    let default = arch::fp_control();
    assert_eq!(r, CoroutineResult::Return((default, 1.0)));
}

/// A coroutine that did not opt in pays nothing: no FP state is switched, so a mode it
/// changes (against Rust's contract) is still in effect when its resumer continues.
#[test]
fn a_plain_coroutine_does_not_switch_fp_state() {
    let mut co = Coroutine::new(|y: &Yielder<(), ()>, ()| {
        let before = arch::set_round_up();
        y.suspend(());
        arch::restore_fp_control(before);
    })
    .unwrap();
    let default = arch::fp_control();
    assert_eq!(co.resume(()), CoroutineResult::Yield(()));
    let leaked = arch::fp_control();
    let sum = arch::probe_add();
    assert_eq!(co.resume(()), CoroutineResult::Return(()));
    assert_ne!(leaked, default);
    assert!(sum > 1.0);
    assert_eq!(arch::fp_control(), default);
}

/// Green threads (the symmetric switch): two opted-in green threads in opposite modes and a
/// plain one yield to each other; each opted-in one keeps its mode, the plain one and the
/// main green thread always run in the default environment.
#[test]
fn opted_in_green_threads_keep_their_own_modes() {
    let default = arch::fp_control();
    let opted = |up: bool| {
        greenthread::Builder::new()
            .preserve_fp_env(true)
            .spawn(move || {
                let start = arch::fp_control();
                if up {
                    arch::set_round_up();
                } else {
                    arch::set_round_down();
                }
                let mine = arch::fp_control();
                let mut ok = true;
                for _ in 0..5 {
                    greenthread::yield_now();
                    let v = if up {
                        arch::probe_add()
                    } else {
                        arch::probe_sub()
                    };
                    ok &= arch::fp_control() == mine && (if up { v > 1.0 } else { v < 1.0 });
                }
                (start, mine, ok)
            })
            .unwrap()
    };
    let up = opted(true);
    let down = opted(false);
    let plain = greenthread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..5 {
            greenthread::yield_now();
            seen.push((arch::fp_control(), arch::probe_add(), arch::probe_sub()));
        }
        seen
    });
    while !(up.is_finished() && down.is_finished() && plain.is_finished()) {
        greenthread::yield_now();
        assert_eq!(
            arch::fp_control(),
            default,
            "a mode leaked into the main green thread"
        );
    }
    let (start_up, mine_up, ok_up) = up.join().unwrap();
    let (start_down, mine_down, ok_down) = down.join().unwrap();
    assert_eq!((start_up, start_down), (default, default));
    assert!(ok_up, "the round-up green thread lost its mode");
    assert!(ok_down, "the round-down green thread lost its mode");
    assert_ne!(mine_up, mine_down);
    for s in plain.join().unwrap() {
        assert_eq!(
            s,
            (default, 1.0, 1.0),
            "a mode leaked into a plain green thread"
        );
    }
    assert_eq!(arch::fp_control(), default);
}

/// An opted-in green thread that ends (returns or panics) in its own environment leaves
/// the default one to the green thread that runs next.
#[test]
fn an_opted_in_green_thread_that_ends_leaves_the_default_environment() {
    let default = arch::fp_control();
    let gt = greenthread::Builder::new()
        .preserve_fp_env(true)
        .spawn(|| {
            arch::set_round_up();
            arch::fp_control()
        })
        .unwrap();
    let inside = gt.join().unwrap();
    assert_ne!(inside, default);
    assert_eq!(
        arch::fp_control(),
        default,
        "a finished green thread's mode leaked"
    );
    assert_eq!(arch::probe_add(), 1.0);
}

/// The same for a coroutine that returns in its own environment.
#[test]
fn an_opted_in_coroutine_that_returns_leaves_the_default_environment() {
    let default = arch::fp_control();
    let mut co = CoroutineBuilder::new()
        .preserve_fp_env(true)
        .build(|_: &Yielder<(), ()>, ()| {
            arch::set_round_down();
            arch::fp_control()
        })
        .unwrap();
    let inside = co.resume(()).as_return().unwrap();
    assert_ne!(inside, default);
    assert_eq!(
        arch::fp_control(),
        default,
        "a finished coroutine's mode leaked"
    );
    assert_eq!(arch::probe_sub(), 1.0);
}
