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
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub mxcsr: u32,
    pub x87cw: u16,
    pub _pad: u16,
    pub r15: usize,
    pub r14: usize,
    pub r13: usize,
    pub r12: usize,
    pub rbx: usize,
    pub rbp: usize,
    pub rip: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch pops, then the
/// trampoline's zero fake return address.
#[repr(C)]
struct InitialStack {
    frame: SwitchFrame,
    fake_return_address: usize,
}

const_assert_eq!(offset_of!(SwitchFrame, mxcsr), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, x87cw), 0x04);
const_assert_eq!(offset_of!(SwitchFrame, r15), 0x08);
const_assert_eq!(offset_of!(SwitchFrame, r14), 0x10);
const_assert_eq!(offset_of!(SwitchFrame, r13), 0x18);
const_assert_eq!(offset_of!(SwitchFrame, r12), 0x20);
const_assert_eq!(offset_of!(SwitchFrame, rbx), 0x28);
const_assert_eq!(offset_of!(SwitchFrame, rbp), 0x30);
const_assert_eq!(offset_of!(SwitchFrame, rip), 0x38);
const_assert_eq!(size_of::<SwitchFrame>(), 0x40);
// The trampoline is entered with rsp = top - 8, so (rsp + 8) % 16 == 0 as at a function entry.
const_assert_eq!(size_of::<InitialStack>(), 0x48);
const_assert!(size_of::<InitialStack>() % 16 == 8);

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    ("mxcsr", offset_of!(SwitchFrame, mxcsr)),
    ("x87cw", offset_of!(SwitchFrame, x87cw)),
    ("r15", offset_of!(SwitchFrame, r15)),
    ("r14", offset_of!(SwitchFrame, r14)),
    ("r13", offset_of!(SwitchFrame, r13)),
    ("r12", offset_of!(SwitchFrame, r12)),
    ("rbx", offset_of!(SwitchFrame, rbx)),
    ("rbp", offset_of!(SwitchFrame, rbp)),
    ("rip", offset_of!(SwitchFrame, rip)),
];
#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/x86_64_sysv_elf.s");

/// MXCSR bits 6..15 (DAZ, exception masks, rounding control, FZ) are callee-saved; bits 0..5
/// are sticky exception flags and caller-saved.
const MXCSR_CONTROL_MASK: u32 = 0xffc0;
/// MXCSR and x87 control word at process start under the psABI.
const INITIAL_MXCSR: u32 = 0x1f80;
const INITIAL_X87CW: u16 = 0x037f;

global_asm!(
    include_str!("../../arch/x86_64_sysv_elf.s"),
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
            r15: 0,
            r14: 0,
            r13: data as usize,
            r12: entry as *const () as usize,
            rbx: 0,
            rbp: 0,
            rip: greenthread_x86_64_sysv_trampoline as *const () as usize,
        },
        fake_return_address: 0,
    };
    // SAFETY: the caller guarantees these bytes below `top` are writable stack memory;
    // `top` is 16-aligned and InitialStack is 8-aligned, so `sp` is suitably aligned.
    unsafe { sp.write(frame) };
    sp as usize
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. Returns the value passed by whoever
/// later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves rbx, rbp, r12-r15 and the
    // FP control state itself; clobber_abi("C") tells the compiler every caller-saved
    // register (including x87/MMX/SSE/AVX state) may change, and the absence of `nostack`
    // keeps red-zone data out of the way of the pushes.
    unsafe {
        asm!(
            "lea rax, [rip + 2f]",
            "jmp {switch}",
            "2:",
            switch = sym greenthread_x86_64_sysv_switch,
            in("rdi") save,
            in("rsi") to,
            inout("rdx") arg => ret,
            clobber_abi("C"),
        );
    }
    ret
}
