//! 32-bit Arm (AAPCS-VFP): r4-r11 and d8-d15; FPSCR.

use std::arch::asm;

/// r4-r11 (8 words), then d8-d15 as two words each (16 words).
pub type Pattern = [u32; 24];

pub fn pattern(seed: u64) -> Pattern {
    core::array::from_fn(|i| {
        (seed as u32).wrapping_mul(0x9e37_79b9) ^ ((i as u32 + 1) * 0x0101_0101)
    })
}

extern "C" fn call_closure<F: FnMut()>(f: *mut F) {
    // SAFETY: `with_registers_set` passes a pointer to its live closure.
    unsafe { (*f)() }
}

/// Loads `values` into r4-r11 and d8-d15, calls `f`, and returns what they hold afterwards.
pub fn with_registers_set<F: FnMut()>(values: &Pattern, mut f: F) -> Pattern {
    let mut out: Pattern = [0; 24];
    // SAFETY: the asm saves r6, r7 and r11 (which cannot be operands), the incoming sp and
    // the `out` pointer on the stack and restores them before it ends; r4, r5, r8-r10 and
    // d8-d15 are declared clobbered (so no input is allocated to them) and every
    // caller-saved register through clobber_abi; the call happens with sp 8-aligned;
    // `call_closure::<F>` gets a pointer to `f` in r0.
    unsafe {
        asm!(
            "mov r12, sp",
            "bic sp, sp, #7",
            "push {{r6, r7, r11, r12}}",
            "push {{r2, r3}}",
            "ldm r2, {{r4, r5, r6, r7, r8, r9, r10, r11}}",
            "add r2, r2, #32",
            "vldmia r2, {{d8-d15}}",
            "blx r1",
            "ldr r2, [sp, #4]",
            "stm r2, {{r4, r5, r6, r7, r8, r9, r10, r11}}",
            "add r2, r2, #32",
            "vstmia r2, {{d8-d15}}",
            "add sp, sp, #8",
            "pop {{r6, r7, r11, r12}}",
            "mov sp, r12",
            // Pinned, as on the other arches: the loads above go through r2.
            in("r2") values.as_ptr(),
            in("r3") out.as_mut_ptr(),
            in("r1") call_closure::<F> as *const (),
            in("r0") &mut f as *mut F,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("d8") _,
            out("d9") _,
            out("d10") _,
            out("d11") _,
            out("d12") _,
            out("d13") _,
            out("d14") _,
            out("d15") _,
            clobber_abi("aapcs"),
        );
    }
    out
}

fn read_fpscr() -> u32 {
    let v: u32;
    // SAFETY: reading FPSCR has no side effects.
    unsafe { asm!("vmrs {}, fpscr", out(reg) v, options(nomem, nostack)) };
    v
}

fn write_fpscr(v: u32) {
    // SAFETY: writes FPSCR; the caller restores the default before Rust floating-point code
    // depends on it.
    unsafe { asm!("vmsr fpscr, {}", in(reg) v, options(nomem, nostack)) };
}

/// FPSCR's control bits (8-26): trap enables, Len/Stride, RMode, FZ, DN, AHP.
pub fn fp_control() -> u64 {
    (read_fpscr() & 0x07f7_9f00) as u64
}

/// Sets RMode (bits 22-23) and returns the previous FPSCR.
fn set_rounding(rmode: u32) -> u64 {
    let old = read_fpscr();
    write_fpscr((old & !(3 << 22)) | (rmode << 22));
    old as u64
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
    write_fpscr(saved as u32);
}

// The probes below read the rounding mode, which the compiler cannot see: they must not be
// `pure`, or a release build computes one probe once and reuses it across a switch.
const TINY: f64 = f64::from_bits(0x3c30_0000_0000_0000); // 2^-60

pub fn probe_add() -> f64 {
    let r: f64;
    // SAFETY: pure VFP arithmetic on registers.
    unsafe {
        asm!("vadd.f64 {a}, {a}, {b}", a = inout(dreg) 1.0f64 => r, b = in(dreg) TINY, options(nomem, nostack))
    };
    r
}

pub fn probe_sub() -> f64 {
    let r: f64;
    // SAFETY: pure VFP arithmetic on registers.
    unsafe {
        asm!("vsub.f64 {a}, {a}, {b}", a = inout(dreg) 1.0f64 => r, b = in(dreg) TINY, options(nomem, nostack))
    };
    r
}
