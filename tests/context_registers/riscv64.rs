//! riscv64 (LP64D): s0-s11 and fs0-fs11; the rounding-mode field `frm` of fcsr.

use std::arch::asm;

/// s0-s11 (12 words), fs0-fs11 (12, as their 64-bit contents).
pub type Pattern = [u64; 24];

pub fn pattern(seed: u64) -> Pattern {
    core::array::from_fn(|i| 0xdead_0000_0000_0000 | seed | ((i as u64 + 1) * 0x0101))
}

extern "C" fn call_closure<F: FnMut()>(f: *mut F) {
    // SAFETY: `with_registers_set` passes a pointer to its live closure.
    unsafe { (*f)() }
}

/// Loads `values` into s0-s11 and fs0-fs11, calls `f`, and returns what they hold afterwards.
pub fn with_registers_set<F: FnMut()>(values: &Pattern, mut f: F) -> Pattern {
    let mut out: Pattern = [0; 24];
    // SAFETY: the asm saves s0 and s1 (which cannot be operands) and the `out` pointer on the
    // stack and restores s0/s1 before it ends; s2-s11 and fs0-fs11 are declared clobbered
    // with `out` (so no input is allocated to them) and every caller-saved register through
    // clobber_abi; sp stays 16-aligned; `call_closure::<F>` gets a pointer to `f` in a0.
    unsafe {
        asm!(
            "addi sp, sp, -32",
            "sd s0, 0(sp)",
            "sd s1, 8(sp)",
            "sd t4, 16(sp)",
            "ld s0, 0(t3)",
            "ld s1, 8(t3)",
            "ld s2, 16(t3)",
            "ld s3, 24(t3)",
            "ld s4, 32(t3)",
            "ld s5, 40(t3)",
            "ld s6, 48(t3)",
            "ld s7, 56(t3)",
            "ld s8, 64(t3)",
            "ld s9, 72(t3)",
            "ld s10, 80(t3)",
            "ld s11, 88(t3)",
            "fld fs0, 96(t3)",
            "fld fs1, 104(t3)",
            "fld fs2, 112(t3)",
            "fld fs3, 120(t3)",
            "fld fs4, 128(t3)",
            "fld fs5, 136(t3)",
            "fld fs6, 144(t3)",
            "fld fs7, 152(t3)",
            "fld fs8, 160(t3)",
            "fld fs9, 168(t3)",
            "fld fs10, 176(t3)",
            "fld fs11, 184(t3)",
            "call {call}",
            "ld t0, 16(sp)",
            "sd s0, 0(t0)",
            "sd s1, 8(t0)",
            "sd s2, 16(t0)",
            "sd s3, 24(t0)",
            "sd s4, 32(t0)",
            "sd s5, 40(t0)",
            "sd s6, 48(t0)",
            "sd s7, 56(t0)",
            "sd s8, 64(t0)",
            "sd s9, 72(t0)",
            "sd s10, 80(t0)",
            "sd s11, 88(t0)",
            "fsd fs0, 96(t0)",
            "fsd fs1, 104(t0)",
            "fsd fs2, 112(t0)",
            "fsd fs3, 120(t0)",
            "fsd fs4, 128(t0)",
            "fsd fs5, 136(t0)",
            "fsd fs6, 144(t0)",
            "fsd fs7, 152(t0)",
            "fsd fs8, 160(t0)",
            "fsd fs9, 168(t0)",
            "fsd fs10, 176(t0)",
            "fsd fs11, 184(t0)",
            "ld s0, 0(sp)",
            "ld s1, 8(sp)",
            "addi sp, sp, 32",
            // Pinned: `in(reg)` may put an input in a register this helper loads first
            // (release builds chose rbx), and the next load would read through garbage.
            in("t3") values.as_ptr(),
            in("t4") out.as_mut_ptr(),
            call = sym call_closure::<F>,
            in("a0") &mut f as *mut F,
            out("s2") _,
            out("s3") _,
            out("s4") _,
            out("s5") _,
            out("s6") _,
            out("s7") _,
            out("s8") _,
            out("s9") _,
            out("s10") _,
            out("s11") _,
            out("fs0") _,
            out("fs1") _,
            out("fs2") _,
            out("fs3") _,
            out("fs4") _,
            out("fs5") _,
            out("fs6") _,
            out("fs7") _,
            out("fs8") _,
            out("fs9") _,
            out("fs10") _,
            out("fs11") _,
            clobber_abi("C"),
        );
    }
    out
}

fn read_frm() -> u64 {
    let v: u64;
    // SAFETY: reading frm has no side effects.
    unsafe { asm!("frrm {}", out(reg) v, options(nomem, nostack)) };
    v
}

fn write_frm(v: u64) {
    // SAFETY: writes frm; the caller restores the default before Rust floating-point code
    // depends on it.
    unsafe { asm!("fsrm {}", in(reg) v, options(nomem, nostack)) };
}

/// The rounding mode (frm): fcsr's control field. The accrued flags are not control state.
pub fn fp_control() -> u64 {
    read_frm()
}

/// RUP: round towards plus infinity. Returns the previous frm.
pub fn set_round_up() -> u64 {
    let old = read_frm();
    write_frm(3);
    old
}

/// RDN: round towards minus infinity. Returns the previous frm.
pub fn set_round_down() -> u64 {
    let old = read_frm();
    write_frm(2);
    old
}

pub fn restore_fp_control(saved: u64) {
    write_frm(saved);
}

// The probes below read the rounding mode, which the compiler cannot see: they must not be
// `pure`, or a release build computes one probe once and reuses it across a switch.
const TINY: f64 = f64::from_bits(0x3c30_0000_0000_0000); // 2^-60

pub fn probe_add() -> f64 {
    let r: f64;
    // SAFETY: pure FP arithmetic on registers, with the dynamic rounding mode.
    unsafe {
        asm!("fadd.d {a}, {a}, {b}", a = inout(freg) 1.0f64 => r, b = in(freg) TINY, options(nomem, nostack))
    };
    r
}

pub fn probe_sub() -> f64 {
    let r: f64;
    // SAFETY: pure FP arithmetic on registers, with the dynamic rounding mode.
    unsafe {
        asm!("fsub.d {a}, {a}, {b}", a = inout(freg) 1.0f64 => r, b = in(freg) TINY, options(nomem, nostack))
    };
    r
}
