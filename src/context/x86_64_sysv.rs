//! Glue for `arch/x86_64_sysv_elf.s`: the x86_64 System V backend (Linux, macOS, other Unix).
//!
//! The frame layout lives here as [`SwitchFrame`]; the assembly receives every offset it uses
//! as a `const` operand computed from it, and the offsets are pinned with `const_assert_eq!`
//! so a change to either side fails the build. `tests::frame_table_matches_asm_header`
//! compares the table in the `.s` header with these offsets.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/x86_64_sysv_elf.s`.
/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/x86_64_sysv_elf.s`. r12-r15 are not here: the compiler
/// saves the live ones in the switching function's own frame (see `switch`).
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub mxcsr: u32,
    pub x87cw: u16,
    pub _pad: u16,
    pub rip: usize,
    pub rbx: usize,
    pub rbp: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch and the trampoline
/// pop, the entry function's data pointer, then the trampoline's zero fake return address.
#[repr(C)]
struct InitialStack {
    frame: SwitchFrame,
    data: usize,
    fake_return_address: usize,
}

const_assert_eq!(offset_of!(SwitchFrame, mxcsr), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, x87cw), 0x04);
const_assert_eq!(offset_of!(SwitchFrame, rip), 0x08);
const_assert_eq!(offset_of!(SwitchFrame, rbx), 0x10);
const_assert_eq!(offset_of!(SwitchFrame, rbp), 0x18);
const_assert_eq!(size_of::<SwitchFrame>(), 0x20);
// The inline asm pushes rbp then rbx and the routine pushes rip then the FP slot: rbx and rbp
// must be the two highest slots, in that order, and rip just below them.
const_assert_eq!(offset_of!(SwitchFrame, rbp), size_of::<SwitchFrame>() - 8);
const_assert_eq!(
    offset_of!(SwitchFrame, rip) + 8,
    offset_of!(SwitchFrame, rbx)
);
// The trampoline pops rbx, rbp and data, then expects rsp = top - 8: (rsp + 8) % 16 == 0.
const_assert_eq!(offset_of!(InitialStack, data), 0x20);
const_assert_eq!(size_of::<InitialStack>(), 0x30);
const_assert!(size_of::<InitialStack>().is_multiple_of(16));

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    ("mxcsr", offset_of!(SwitchFrame, mxcsr)),
    ("x87cw", offset_of!(SwitchFrame, x87cw)),
    ("rip", offset_of!(SwitchFrame, rip)),
    ("rbx", offset_of!(SwitchFrame, rbx)),
    ("rbp", offset_of!(SwitchFrame, rbp)),
];
/// The assembly file for the target's object format: the Mach-O twin on Apple targets (same
/// instructions; `context::tests::macho_variants_match_elf` checks it).
#[cfg(not(target_vendor = "apple"))]
macro_rules! asm_file {
    () => {
        "../../arch/x86_64_sysv_elf.s"
    };
}
#[cfg(target_vendor = "apple")]
macro_rules! asm_file {
    () => {
        "../../arch/x86_64_sysv_macho.s"
    };
}

#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!(asm_file!());

/// MXCSR bits 6..15 (DAZ, exception masks, rounding control, FZ) are callee-saved; bits 0..5
/// are sticky exception flags and caller-saved.
const MXCSR_CONTROL_MASK: u32 = 0xffc0;
/// MXCSR and x87 control word at process start under the psABI.
const INITIAL_MXCSR: u32 = 0x1f80;
const INITIAL_X87CW: u16 = 0x037f;

global_asm!(
    include_str!(asm_file!()),
    OFF_MXCSR = const offset_of!(SwitchFrame, mxcsr),
    OFF_X87CW = const offset_of!(SwitchFrame, x87cw),
    MXCSR_CONTROL_MASK = const MXCSR_CONTROL_MASK,
);

unsafe extern "C" {
    /// Jumped to (never called) from [`switch`]; register contract in the `.s` header.
    fn greenthread_x86_64_sysv_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    fn greenthread_x86_64_sysv_trampoline();
}

/// Lays out the initial frame of a fresh context below `top` and returns its stack pointer.
///
/// # Safety
/// `top` must be 16-byte aligned and the `size_of::<InitialStack>()` bytes below it must be
/// writable memory of a stack that outlives every switch to the returned pointer.
pub(crate) unsafe fn init(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    debug_assert_eq!(top as usize % 16, 0);
    let sp = top.wrapping_sub(size_of::<InitialStack>()) as *mut InitialStack;
    let frame = InitialStack {
        frame: SwitchFrame {
            mxcsr: INITIAL_MXCSR,
            x87cw: INITIAL_X87CW,
            _pad: 0,
            rip: greenthread_x86_64_sysv_trampoline as *const () as usize,
            rbx: entry as *const () as usize,
            rbp: 0,
        },
        data: data as usize,
        fake_return_address: 0,
    };
    // SAFETY: the caller guarantees these bytes below `top` are writable stack memory;
    // `top` is 16-aligned and InitialStack is 8-aligned, so `sp` is suitably aligned.
    unsafe { sp.write(frame) };
    sp as usize
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. rbx and rbp are pushed here; r12-r15
/// are declared clobbered so the compiler saves only those holding live values. Returns the value passed by whoever
/// later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves rbx, rbp, rsp, the resume
    // address and the FP control state; r12-r15 and (clobber_abi) every caller-saved register,
    // x87/MMX/SSE/AVX state included, are declared clobbered so the compiler keeps live
    // values elsewhere; the absence of `nostack` keeps red-zone data clear of the pushes.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "jmp {switch}",
            "2:",
            "pop rbx",
            "pop rbp",
            switch = sym greenthread_x86_64_sysv_switch,
            in("rdi") save,
            in("rsi") to,
            inout("rdx") arg => ret,
            lateout("r12") _,
            lateout("r13") _,
            lateout("r14") _,
            lateout("r15") _,
            clobber_abi("C"),
        );
    }
    ret
}
