//! aarch64 (AAPCS64): x19-x28, x29 (fp) and d8-d15 (the low halves of v8-v15); FPCR.

use std::arch::asm;

/// x19-x28 (10 words), x29 (1), d8-d15 (8).
pub type Pattern = [u64; 19];

pub fn pattern(seed: u64) -> Pattern {
    core::array::from_fn(|i| 0xdead_0000_0000_0000 | seed | ((i as u64 + 1) * 0x0101))
}

extern "C" fn call_closure<F: FnMut()>(f: *mut F) {
    // SAFETY: `with_registers_set` passes a pointer to its live closure.
    unsafe { (*f)() }
}

/// Loads `values` into x19-x29 and d8-d15, calls `f`, and returns what they hold afterwards.
pub fn with_registers_set<F: FnMut()>(values: &Pattern, mut f: F) -> Pattern {
    let mut out: Pattern = [0; 19];
    // SAFETY: the asm saves x29 and x19 (which cannot be operands) and the `out` pointer on
    // the stack and restores x29/x19 before it ends; x20-x28 and v8-v15 are declared
    // clobbered with `out` (so no input is allocated to them) and every caller-saved
    // register through clobber_abi; sp stays 16-aligned; `call_closure::<F>` gets a pointer
    // to `f` in x0.
    unsafe {
        asm!(
            "sub sp, sp, #32",
            "stp x29, x19, [sp]",
            "str x11, [sp, #16]",
            "ldp x19, x20, [x10]",
            "ldp x21, x22, [x10, #16]",
            "ldp x23, x24, [x10, #32]",
            "ldp x25, x26, [x10, #48]",
            "ldp x27, x28, [x10, #64]",
            "ldr x29, [x10, #80]",
            "ldp d8, d9, [x10, #88]",
            "ldp d10, d11, [x10, #104]",
            "ldp d12, d13, [x10, #120]",
            "ldp d14, d15, [x10, #136]",
            "bl {call}",
            "ldr x9, [sp, #16]",
            "stp x19, x20, [x9]",
            "stp x21, x22, [x9, #16]",
            "stp x23, x24, [x9, #32]",
            "stp x25, x26, [x9, #48]",
            "stp x27, x28, [x9, #64]",
            "str x29, [x9, #80]",
            "stp d8, d9, [x9, #88]",
            "stp d10, d11, [x9, #104]",
            "stp d12, d13, [x9, #120]",
            "stp d14, d15, [x9, #136]",
            "ldp x29, x19, [sp]",
            "add sp, sp, #32",
            // Pinned: `in(reg)` may put an input in a register this helper loads first
            // (release builds chose rbx), and the next load would read through garbage.
            in("x10") values.as_ptr(),
            in("x11") out.as_mut_ptr(),
            call = sym call_closure::<F>,
            in("x0") &mut f as *mut F,
            out("x20") _,
            out("x21") _,
            out("x22") _,
            out("x23") _,
            out("x24") _,
            out("x25") _,
            out("x26") _,
            out("x27") _,
            out("x28") _,
            out("v8") _,
            out("v9") _,
            out("v10") _,
            out("v11") _,
            out("v12") _,
            out("v13") _,
            out("v14") _,
            out("v15") _,
            clobber_abi("C"),
        );
    }
    out
}

fn read_fpcr() -> u64 {
    let v: u64;
    // SAFETY: reading FPCR has no side effects.
    unsafe { asm!("mrs {}, fpcr", out(reg) v, options(nomem, nostack)) };
    v
}

fn write_fpcr(v: u64) {
    // SAFETY: writes FPCR; the caller restores the default before Rust floating-point code
    // depends on it.
    unsafe { asm!("msr fpcr, {}", in(reg) v, options(nomem, nostack)) };
}

/// The whole FPCR (every bit of it is control state).
pub fn fp_control() -> u64 {
    read_fpcr()
}

/// Sets RMode (bits 22-23) and returns the previous FPCR.
fn set_rounding(rmode: u64) -> u64 {
    let old = read_fpcr();
    write_fpcr((old & !(3 << 22)) | (rmode << 22));
    old
}

/// RP: round towards plus infinity.
pub fn set_round_up() -> u64 {
    set_rounding(1)
}

/// RM: round towards minus infinity.
pub fn set_round_down() -> u64 {
    set_rounding(2)
}

pub fn restore_fp_control(saved: u64) {
    write_fpcr(saved);
}

// The probes below read the rounding mode, which the compiler cannot see: they must not be
// `pure`, or a release build computes one probe once and reuses it across a switch.
const TINY: f64 = f64::from_bits(0x3c30_0000_0000_0000); // 2^-60

pub fn probe_add() -> f64 {
    let r: f64;
    // SAFETY: pure FP arithmetic on registers.
    unsafe {
        asm!("fadd {a:d}, {a:d}, {b:d}", a = inout(vreg) 1.0f64 => r, b = in(vreg) TINY, options(nomem, nostack))
    };
    r
}

pub fn probe_sub() -> f64 {
    let r: f64;
    // SAFETY: pure FP arithmetic on registers.
    unsafe {
        asm!("fsub {a:d}, {a:d}, {b:d}", a = inout(vreg) 1.0f64 => r, b = in(vreg) TINY, options(nomem, nostack))
    };
    r
}
