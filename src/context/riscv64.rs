//! Glue for `arch/riscv64_lp64d_elf.s`: the riscv64 LP64D backend (Linux).
//!
//! Derived from `x86_64_sysv.rs`; the differences are the register set (s0/s1 pushed by the
//! inline asm, s2-s11 and fs0-fs11 declared clobbered), the return address in ra for the
//! asymmetric pair, and a zeroed frame record instead of a zero rbp at the root.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

use super::Link;

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/riscv64_lp64d_elf.s`. s2-s11 and fs0-fs11 are not here:
/// the compiler saves the live ones in the switching function's own frame (see `switch`).
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub pc: usize,
    /// Keeps sp 16-aligned; never read.
    pub _pad: usize,
    pub s0: usize,
    pub s1: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch and the trampoline
/// pop (`data` travels in the s0 slot, `entry` in the s1 slot), then the zeroed frame record
/// the trampoline points s0 above.
#[repr(C)]
struct InitialStack {
    frame: SwitchFrame,
    root_fp: usize,
    root_ra: usize,
}

/// Bytes the routine pushes: the pc slot and its padding.
const ROUTINE_PUSH: usize = offset_of!(SwitchFrame, s0);

const_assert_eq!(offset_of!(SwitchFrame, pc), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, s0), 0x10);
const_assert_eq!(offset_of!(SwitchFrame, s1), 0x18);
const_assert_eq!(size_of::<SwitchFrame>(), 0x20);
// The inline asm stores s0 at sp+0 and s1 at sp+8 of its 16 bytes; the routine pushes the
// rest below them. Its CFI hard-codes `.cfi_offset ra, -32` (pc slot, CFA = sp + 32), the
// landings in `suspend` read s0/s1 at 16/24 from the frame, and the trampoline reads the
// s0/s1 slots at sp+0 and sp+8 after ROUTINE_PUSH was popped.
const_assert_eq!(ROUTINE_PUSH, 16);
const_assert_eq!(size_of::<SwitchFrame>() - offset_of!(SwitchFrame, pc), 32);
const_assert_eq!(offset_of!(SwitchFrame, s1), offset_of!(SwitchFrame, s0) + 8);
// The trampoline leaves sp = top - 16 at the frame record, 16-aligned at its call.
const_assert_eq!(offset_of!(InitialStack, root_fp), 0x20);
const_assert_eq!(size_of::<InitialStack>(), 0x30);
const_assert!(size_of::<InitialStack>().is_multiple_of(16));

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    ("pc", offset_of!(SwitchFrame, pc)),
    ("s0", offset_of!(SwitchFrame, s0)),
    ("s1", offset_of!(SwitchFrame, s1)),
];
#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/riscv64_lp64d_elf.s");

global_asm!(
    include_str!("../../arch/riscv64_lp64d_elf.s"),
    SWITCH = sym greenthread_riscv64_switch,
    START = sym greenthread_riscv64_start,
    TRAMPOLINE = sym greenthread_riscv64_trampoline,
    ROUTINE_PUSH = const ROUTINE_PUSH,
    LINK_CALLER = const offset_of!(Link, caller),
);

unsafe extern "C" {
    /// Jumped to (never called) from [`switch`]; register contract in the `.s` header.
    #[link_name = concat!("greenthread_riscv64_switch_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_riscv64_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    #[link_name = concat!("greenthread_riscv64_trampoline_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_riscv64_trampoline();
    /// First resume address of a fresh coroutine (called by [`resume`]).
    #[link_name = concat!("greenthread_riscv64_start_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_riscv64_start();
}

/// Lays out the initial frame of a fresh context below `top`, resuming at `pc`.
///
/// # Safety
/// `top` must be 16-byte aligned and the `size_of::<InitialStack>()` bytes below it must be
/// writable memory of a stack that outlives every switch to the returned pointer.
unsafe fn init_at(top: *mut u8, entry: super::EntryFn, data: *mut u8, pc: usize) -> usize {
    debug_assert_eq!(top as usize % 16, 0);
    let sp = top.wrapping_sub(size_of::<InitialStack>()) as *mut InitialStack;
    let frame = InitialStack {
        frame: SwitchFrame {
            pc,
            _pad: 0,
            s0: data as usize,
            s1: entry as *const () as usize,
        },
        root_fp: 0,
        root_ra: 0,
    };
    // SAFETY: the caller guarantees these bytes below `top` are writable stack memory;
    // `top` is 16-aligned and InitialStack is 8-aligned, so `sp` is suitably aligned.
    unsafe { sp.write(frame) };
    sp as usize
}

/// A fresh context for the symmetric [`switch`].
///
/// # Safety
/// As [`init_at`].
pub(crate) unsafe fn init(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    // SAFETY: forwarded from our caller.
    unsafe {
        init_at(
            top,
            entry,
            data,
            greenthread_riscv64_trampoline as *const () as usize,
        )
    }
}

/// A fresh context for the asymmetric [`resume`].
///
/// # Safety
/// As [`init_at`].
pub(crate) unsafe fn init_linked(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    // SAFETY: forwarded from our caller.
    unsafe {
        init_at(
            top,
            entry,
            data,
            greenthread_riscv64_start as *const () as usize,
        )
    }
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. s0 and s1 are pushed here; s2-s11,
/// ra and fs0-fs11 are declared clobbered so the compiler saves only those holding live
/// values. Returns the value passed by whoever later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves s0, s1, sp and the resume
    // address; s2-s11, fs0-fs11 and (clobber_abi) every caller-saved register (ra,
    // t1 used by `tail`, the vector state) are declared clobbered so the compiler keeps live
    // values elsewhere; gp and tp are not touched.
    unsafe {
        asm!(
            "addi sp, sp, -16",
            "sd s0, 0(sp)",
            "sd s1, 8(sp)",
            "lla a3, 2f",
            "tail {switch}",
            "2:",
            "ld s0, 0(sp)",
            "ld s1, 8(sp)",
            "addi sp, sp, 16",
            switch = sym greenthread_riscv64_switch,
            in("a0") save,
            in("a1") to,
            inout("a2") arg => ret,
            lateout("s2") _,
            lateout("s3") _,
            lateout("s4") _,
            lateout("s5") _,
            lateout("s6") _,
            lateout("s7") _,
            lateout("s8") _,
            lateout("s9") _,
            lateout("s10") _,
            lateout("s11") _,
            lateout("fs0") _,
            lateout("fs1") _,
            lateout("fs2") _,
            lateout("fs3") _,
            lateout("fs4") _,
            lateout("fs5") _,
            lateout("fs6") _,
            lateout("fs7") _,
            lateout("fs8") _,
            lateout("fs9") _,
            lateout("fs10") _,
            lateout("fs11") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Resumes the coroutine whose link is `link`, handing it `arg`; returns what it passes to
/// [`suspend`] or [`finish`].
///
/// The resumer stores s0 and s1 and *calls* (`jalr ra`) the coroutine's resume address; the
/// coroutine stores ra on the resumer's stack, publishes that sp in `link.caller` and later
/// returns to it with `ret`.
///
/// # Safety
/// `link` must be the link of a suspended coroutine made by [`init_linked`] (its `sp` is its
/// stack pointer), resumed on the OS thread it last ran on, with its stack mapped; the link
/// must stay valid until the coroutine switches back.
#[inline(always)]
pub(crate) unsafe fn resume(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above; clobbers as in `switch` (ra included:
    // `jalr` writes it).
    unsafe {
        asm!(
            "addi sp, sp, -16",
            "sd s0, 0(sp)",
            "sd s1, 8(sp)",
            "ld a3, 0(a1)",
            "jalr a3",
            "ld s0, 0(sp)",
            "ld s1, 8(sp)",
            "addi sp, sp, 16",
            in("a0") link,
            in("a1") (*link).sp,
            inout("a2") arg => ret,
            lateout("s2") _,
            lateout("s3") _,
            lateout("s4") _,
            lateout("s5") _,
            lateout("s6") _,
            lateout("s7") _,
            lateout("s8") _,
            lateout("s9") _,
            lateout("s10") _,
            lateout("s11") _,
            lateout("fs0") _,
            lateout("fs1") _,
            lateout("fs2") _,
            lateout("fs3") _,
            lateout("fs4") _,
            lateout("fs5") _,
            lateout("fs6") _,
            lateout("fs7") _,
            lateout("fs8") _,
            lateout("fs9") _,
            lateout("fs10") _,
            lateout("fs11") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Suspends the running coroutine (whose link is `link`) back to its resumer, handing it
/// `arg`; returns the value of the next [`resume`].
///
/// # Safety
/// Must run on the coroutine's own stack, resumed by [`resume`] through this `link`.
#[inline(always)]
pub(crate) unsafe fn suspend(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. We store our frame (s0, s1, resume
    // address), publish sp in `link.sp`, reload the resumer's ra and sp and return to it.
    // We land at `2:` called (`jalr ra`) by the next `resume` (a0 = link, a1 = link.sp = our
    // frame): store its ra on its stack, publish that sp, reload our s0/s1, drop our frame.
    unsafe {
        asm!(
            "addi sp, sp, -32",
            "sd s0, 16(sp)",
            "sd s1, 24(sp)",
            "lla a3, 2f",
            "sd a3, 0(sp)",
            "sd sp, {sp}(a0)",
            "ld a4, {caller}(a0)",
            "ld ra, 0(a4)",
            "addi sp, a4, 16",
            "ret",
            "2:",
            "addi sp, sp, -16",
            "sd ra, 0(sp)",
            "sd sp, {caller}(a0)",
            "ld s0, 16(a1)",
            "ld s1, 24(a1)",
            "addi sp, a1, 32",
            sp = const offset_of!(Link, sp),
            caller = const offset_of!(Link, caller),
            in("a0") link,
            inout("a2") arg => ret,
            lateout("s2") _,
            lateout("s3") _,
            lateout("s4") _,
            lateout("s5") _,
            lateout("s6") _,
            lateout("s7") _,
            lateout("s8") _,
            lateout("s9") _,
            lateout("s10") _,
            lateout("s11") _,
            lateout("fs0") _,
            lateout("fs1") _,
            lateout("fs2") _,
            lateout("fs3") _,
            lateout("fs4") _,
            lateout("fs5") _,
            lateout("fs6") _,
            lateout("fs7") _,
            lateout("fs8") _,
            lateout("fs9") _,
            lateout("fs10") _,
            lateout("fs11") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Switches from the running coroutine back to its resumer for the last time, handing it
/// `arg`. Nothing is saved: the coroutine is never resumed again.
///
/// # Safety
/// As [`suspend`]; in addition nothing on this stack may need dropping.
#[inline(always)]
pub(crate) unsafe fn finish(link: *mut Link, arg: usize) -> ! {
    // SAFETY: the caller upholds the contract above: `link.caller` is the resumer's stack
    // pointer, pointing at the ra its `jalr` produced.
    unsafe {
        asm!(
            "ld a4, {caller}(a0)",
            "ld ra, 0(a4)",
            "addi sp, a4, 16",
            "ret",
            caller = const offset_of!(Link, caller),
            in("a0") link,
            in("a2") arg,
            options(noreturn),
        );
    }
}
