//! Glue for `arch/arm_aapcs_elf.s`: the 32-bit Arm backend (ARMv7-A in A32 state, AAPCS with
//! VFP hard-float, Linux).
//!
//! Derived from `aarch64.rs`; the differences are the register set (r6, r7 and r11 pushed by
//! the inline asm, r4, r5, r8-r10 and d8-d15 declared clobbered), 4-byte slots with 8-byte
//! stack alignment, `blx`/`bx lr` for the asymmetric pair, and Arm EHABI (`.cantunwind`)
//! instead of DWARF CFI in the assembly.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

use super::Link;

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/arm_aapcs_elf.s`. r4, r5, r8-r10 and d8-d15 are not
/// here: the compiler saves the live ones in the switching function's own frame.
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub pc: usize,
    pub r6: usize,
    pub r7: usize,
    pub r11: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch and the trampoline
/// pop (`entry` in the r6 slot, `data` in the r7 slot, 0 in the r11 slot), then the zeroed
/// frame record the trampoline points r11 at.
#[repr(C)]
struct InitialStack {
    frame: SwitchFrame,
    root_fp: usize,
    root_lr: usize,
}

const_assert_eq!(offset_of!(SwitchFrame, pc), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, r6), 0x04);
const_assert_eq!(offset_of!(SwitchFrame, r7), 0x08);
const_assert_eq!(offset_of!(SwitchFrame, r11), 0x0c);
const_assert_eq!(size_of::<SwitchFrame>(), 0x10);
// `push {r6, r7, r11}` stores them in ascending order at ascending addresses, and the resume
// address goes just below with `push {r3}`; `pop {r6, r7, r11}` after stepping over it.
const_assert_eq!(offset_of!(SwitchFrame, r7), offset_of!(SwitchFrame, r6) + 4);
const_assert_eq!(
    offset_of!(SwitchFrame, r11),
    offset_of!(SwitchFrame, r7) + 4
);
// The trampoline leaves sp = top - 8 at the frame record, 8-aligned at its call.
const_assert_eq!(offset_of!(InitialStack, root_fp), 0x10);
const_assert_eq!(size_of::<InitialStack>(), 0x18);
const_assert!(size_of::<InitialStack>().is_multiple_of(8));

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    ("pc", offset_of!(SwitchFrame, pc)),
    ("r6", offset_of!(SwitchFrame, r6)),
    ("r7", offset_of!(SwitchFrame, r7)),
    ("r11", offset_of!(SwitchFrame, r11)),
];
#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/arm_aapcs_elf.s");

global_asm!(
    include_str!("../../arch/arm_aapcs_elf.s"),
    SWITCH = sym greenthread_arm_switch,
    START = sym greenthread_arm_start,
    TRAMPOLINE = sym greenthread_arm_trampoline,
    LINK_CALLER = const offset_of!(Link, caller),
);

unsafe extern "C" {
    /// Branched to (never called) from [`switch`]; register contract in the `.s` header.
    #[link_name = concat!("greenthread_arm_switch_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_arm_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    #[link_name = concat!("greenthread_arm_trampoline_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_arm_trampoline();
    /// First resume address of a fresh coroutine (called by [`resume`]).
    #[link_name = concat!("greenthread_arm_start_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_arm_start();
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
            r6: entry as *const () as usize,
            r7: data as usize,
            r11: 0,
        },
        root_fp: 0,
        root_lr: 0,
    };
    // SAFETY: the caller guarantees these bytes below `top` are writable stack memory;
    // `top` is 16-aligned and InitialStack is 4-aligned, so `sp` is suitably aligned.
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
            greenthread_arm_trampoline as *const () as usize,
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
            greenthread_arm_start as *const () as usize,
        )
    }
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. r6, r7 and r11 are pushed here; r4,
/// r5, r8-r10, lr and d8-d15 are declared clobbered so the compiler saves only those holding
/// live values. Returns the value passed by whoever later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves r6, r7, r11, sp and the
    // resume address; r4, r5, r8-r10, d8-d15 and (clobber_abi) every caller-saved register
    // are declared clobbered so the compiler keeps live values elsewhere.
    unsafe {
        asm!(
            "push {{r6, r7, r11}}",
            "adr r3, 2f",
            "b {switch}",
            "2:",
            "pop {{r6, r7, r11}}",
            switch = sym greenthread_arm_switch,
            in("r0") save,
            in("r1") to,
            inout("r2") arg => ret,
            lateout("r4") _,
            lateout("r5") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("d8") _,
            lateout("d9") _,
            lateout("d10") _,
            lateout("d11") _,
            lateout("d12") _,
            lateout("d13") _,
            lateout("d14") _,
            lateout("d15") _,
            clobber_abi("aapcs"),
        );
    }
    ret
}

/// Resumes the coroutine whose link is `link`, handing it `arg`; returns what it passes to
/// [`suspend`] or [`finish`].
///
/// # Safety
/// `link` must be the link of a suspended coroutine made by [`init_linked`] (its `sp` is its
/// stack pointer), resumed on the OS thread it last ran on, with its stack mapped; the link
/// must stay valid until the coroutine switches back.
#[inline(always)]
pub(crate) unsafe fn resume(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above; clobbers as in `switch` (lr included:
    // `blx` writes it).
    unsafe {
        asm!(
            "push {{r6, r7, r11}}",
            "ldr r3, [r1]",
            "blx r3",
            "pop {{r6, r7, r11}}",
            in("r0") link,
            in("r1") (*link).sp,
            inout("r2") arg => ret,
            lateout("r4") _,
            lateout("r5") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("d8") _,
            lateout("d9") _,
            lateout("d10") _,
            lateout("d11") _,
            lateout("d12") _,
            lateout("d13") _,
            lateout("d14") _,
            lateout("d15") _,
            clobber_abi("aapcs"),
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
    // SAFETY: the caller upholds the contract above. We push our frame (r6, r7, r11, resume
    // address), publish sp in `link.sp`, reload the resumer's sp and lr and return to it.
    // We land at `2:` called (`blx`) by the next `resume` (r0 = link, r1 = link.sp = our
    // frame): push its lr on its stack, publish that sp, pop our frame.
    unsafe {
        asm!(
            "push {{r6, r7, r11}}",
            "adr r3, 2f",
            "push {{r3}}",
            "str sp, [r0, #{sp}]",
            "ldr r3, [r0, #{caller}]",
            "mov sp, r3",
            "pop {{lr}}",
            "bx lr",
            "2:",
            "push {{lr}}",
            "str sp, [r0, #{caller}]",
            "add sp, r1, #4",
            "pop {{r6, r7, r11}}",
            sp = const offset_of!(Link, sp),
            caller = const offset_of!(Link, caller),
            in("r0") link,
            inout("r2") arg => ret,
            lateout("r4") _,
            lateout("r5") _,
            lateout("r8") _,
            lateout("r9") _,
            lateout("r10") _,
            lateout("d8") _,
            lateout("d9") _,
            lateout("d10") _,
            lateout("d11") _,
            lateout("d12") _,
            lateout("d13") _,
            lateout("d14") _,
            lateout("d15") _,
            clobber_abi("aapcs"),
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
    // pointer, pointing at the lr its `blx` produced.
    unsafe {
        asm!(
            "ldr r3, [r0, #{caller}]",
            "mov sp, r3",
            "pop {{lr}}",
            "bx lr",
            caller = const offset_of!(Link, caller),
            in("r0") link,
            in("r2") arg,
            options(noreturn),
        );
    }
}
