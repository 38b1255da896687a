//! x86_64 (System V and Windows): rbx, rbp, r12-r15 (+ rdi, rsi, xmm6-xmm15 on Windows), MXCSR
//! control bits and the x87 control word.

use std::arch::asm;

/// rbx, rbp, r12, r13, r14, r15.
#[cfg(not(windows))]
pub type Pattern = [u64; 6];
/// rbx, rbp, r12, r13, r14, r15, rdi, rsi, then xmm6-xmm15 as two words each (all 128 bits
/// are nonvolatile in the Microsoft x64 ABI).
#[cfg(windows)]
pub type Pattern = [u64; 28];

pub fn pattern(seed: u64) -> Pattern {
    core::array::from_fn(|i| 0xdead_0000_0000_0000 | seed | ((i as u64 + 1) * 0x0101))
}

/// Called from the asm below with the platform's C ABI (win64 on Windows, so it must keep
/// rdi, rsi and xmm6-xmm15 for its caller, through the switch and back).
extern "C" fn call_closure<F: FnMut()>(f: *mut F) {
    // SAFETY: `with_registers_set` passes a pointer to its live closure.
    unsafe { (*f)() }
}

/// Loads `values` into rbx, rbp, r12-r15 (and on Windows rdi, rsi, xmm6-xmm15), calls `f`
/// through the C ABI, and returns what they hold afterwards.
#[cfg(windows)]
pub fn with_registers_set<F: FnMut()>(values: &Pattern, mut f: F) -> Pattern {
    let mut out: Pattern = [0; 28];
    // SAFETY: as in the System V version below; in addition rdi, rsi and xmm6-xmm15 are
    // declared clobbered with `out` (so no input lives in them), the closure pointer goes in
    // rcx (win64), and the call gets its 32 bytes of home space with rsp 16-aligned.
    unsafe {
        asm!(
            "mov rax, rsp",
            "and rsp, -16",
            "push rax",
            "push r11",
            "push rbx",
            "push rbp",
            "mov rbx, [r10]",
            "mov rbp, [r10 + 8]",
            "mov r12, [r10 + 16]",
            "mov r13, [r10 + 24]",
            "mov r14, [r10 + 32]",
            "mov r15, [r10 + 40]",
            "mov rdi, [r10 + 48]",
            "mov rsi, [r10 + 56]",
            "movdqu xmm6, [r10 + 64]",
            "movdqu xmm7, [r10 + 80]",
            "movdqu xmm8, [r10 + 96]",
            "movdqu xmm9, [r10 + 112]",
            "movdqu xmm10, [r10 + 128]",
            "movdqu xmm11, [r10 + 144]",
            "movdqu xmm12, [r10 + 160]",
            "movdqu xmm13, [r10 + 176]",
            "movdqu xmm14, [r10 + 192]",
            "movdqu xmm15, [r10 + 208]",
            "sub rsp, 32",
            "call {call}",
            "add rsp, 32",
            "mov rax, [rsp + 16]",
            "mov [rax], rbx",
            "mov [rax + 8], rbp",
            "mov [rax + 16], r12",
            "mov [rax + 24], r13",
            "mov [rax + 32], r14",
            "mov [rax + 40], r15",
            "mov [rax + 48], rdi",
            "mov [rax + 56], rsi",
            "movdqu [rax + 64], xmm6",
            "movdqu [rax + 80], xmm7",
            "movdqu [rax + 96], xmm8",
            "movdqu [rax + 112], xmm9",
            "movdqu [rax + 128], xmm10",
            "movdqu [rax + 144], xmm11",
            "movdqu [rax + 160], xmm12",
            "movdqu [rax + 176], xmm13",
            "movdqu [rax + 192], xmm14",
            "movdqu [rax + 208], xmm15",
            "pop rbp",
            "pop rbx",
            "add rsp, 8",
            "pop rsp",
            // Pinned: `in(reg)` may put an input in a register this helper loads first
            // (release builds chose rbx), and the next load would read through garbage.
            in("r10") values.as_ptr(),
            in("r11") out.as_mut_ptr(),
            call = sym call_closure::<F>,
            in("rcx") &mut f as *mut F,
            out("rax") _,
            out("rdi") _,
            out("rsi") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            out("xmm6") _,
            out("xmm7") _,
            out("xmm8") _,
            out("xmm9") _,
            out("xmm10") _,
            out("xmm11") _,
            out("xmm12") _,
            out("xmm13") _,
            out("xmm14") _,
            out("xmm15") _,
            clobber_abi("C"),
        );
    }
    out
}

/// Loads `values` into rbx, rbp, r12-r15, calls `f`, and returns what they hold afterwards.
#[cfg(not(windows))]
pub fn with_registers_set<F: FnMut()>(values: &Pattern, mut f: F) -> Pattern {
    let mut out: Pattern = [0; 6];
    // SAFETY: the asm saves rbx/rbp and the original rsp on the stack and restores them
    // before it ends; r12-r15 and every caller-saved register are declared clobbered; the
    // call happens with rsp 16-byte aligned; `call_closure::<F>` gets a pointer to `f`.
    unsafe {
        asm!(
            "mov rax, rsp",
            "and rsp, -16",
            "push rax",
            "push r11",
            "push rbx",
            "push rbp",
            "mov rbx, [r10]",
            "mov rbp, [r10 + 8]",
            "mov r12, [r10 + 16]",
            "mov r13, [r10 + 24]",
            "mov r14, [r10 + 32]",
            "mov r15, [r10 + 40]",
            "call {call}",
            "mov rax, [rsp + 16]",
            "mov [rax], rbx",
            "mov [rax + 8], rbp",
            "mov [rax + 16], r12",
            "mov [rax + 24], r13",
            "mov [rax + 32], r14",
            "mov [rax + 40], r15",
            "pop rbp",
            "pop rbx",
            "add rsp, 8",
            "pop rsp",
            // Pinned: `in(reg)` may put an input in a register this helper loads first
            // (release builds chose rbx), and the next load would read through garbage.
            in("r10") values.as_ptr(),
            in("r11") out.as_mut_ptr(),
            call = sym call_closure::<F>,
            in("rdi") &mut f as *mut F,
            out("rax") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
            clobber_abi("C"),
        );
    }
    out
}

fn read_raw() -> (u32, u16) {
    let mut m: u32 = 0;
    let mut c: u16 = 0;
    // SAFETY: stores MXCSR and the x87 control word into our locals.
    unsafe {
        asm!("stmxcsr [{m}]", "fnstcw [{c}]", m = in(reg) &mut m, c = in(reg) &mut c, options(nostack));
    }
    (m, c)
}

fn write_raw(m: u32, c: u16) {
    // SAFETY: loads MXCSR and the x87 control word from our locals; the caller restores the
    // defaults before Rust floating-point code depends on them.
    unsafe {
        asm!("ldmxcsr [{m}]", "fldcw [{c}]", m = in(reg) &m, c = in(reg) &c, options(nostack));
    }
}

/// MXCSR control bits (6..15) in the low half, x87 control word above.
pub fn fp_control() -> u64 {
    let (m, c) = read_raw();
    (m & 0xffc0) as u64 | (c as u64) << 32
}

fn set_rounding(mxcsr_rc: u32, x87_rc: u16) -> u64 {
    let (m, c) = read_raw();
    write_raw((m & !0x6000) | mxcsr_rc, (c & !0x0c00) | x87_rc);
    m as u64 | (c as u64) << 32
}

pub fn set_round_up() -> u64 {
    set_rounding(0x4000, 0x0800)
}

pub fn set_round_down() -> u64 {
    set_rounding(0x2000, 0x0400)
}

pub fn restore_fp_control(saved: u64) {
    write_raw(saved as u32, (saved >> 32) as u16);
}

// The probes below read the rounding mode, which the compiler cannot see: they must not be
// `pure`, or a release build computes one probe once and reuses it across a switch.
const TINY: f64 = f64::from_bits(0x3c30_0000_0000_0000); // 2^-60

pub fn probe_add() -> f64 {
    let r: f64;
    // SAFETY: pure SSE arithmetic on registers.
    unsafe {
        asm!("addsd {a}, {b}", a = inout(xmm_reg) 1.0f64 => r, b = in(xmm_reg) TINY, options(nomem, nostack))
    };
    r
}

pub fn probe_sub() -> f64 {
    let r: f64;
    // SAFETY: pure SSE arithmetic on registers.
    unsafe {
        asm!("subsd {a}, {b}", a = inout(xmm_reg) 1.0f64 => r, b = in(xmm_reg) TINY, options(nomem, nostack))
    };
    r
}
