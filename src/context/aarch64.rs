//! Glue for `arch/aarch64_aapcs_elf.s` (Linux and other ELF targets) and
//! `arch/aarch64_aapcs_macho.s` (Apple): the aarch64 AAPCS64 backend.
//!
//! Derived from `x86_64_sysv.rs`; the differences are the register set (x29/x19 pushed by the
//! inline asm, x20-x28 and d8-d15 declared clobbered), the return address in lr for the
//! asymmetric pair, and a frame record instead of a zero rbp at the root. The two `.s` files hold the same
//! instructions in two object-file spellings; `tests::macho_variants_match_elf` checks that.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

use super::Link;

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/aarch64_aapcs_elf.s`. x20-x28 and d8-d15 are not here:
/// the compiler saves the live ones in the switching function's own frame (see `switch`).
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub pc: usize,
    /// Keeps sp 16-aligned; never read.
    pub _pad: usize,
    pub x29: usize,
    pub x19: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch and the trampoline
/// pop (`data` travels in the x29 slot, `entry` in the x19 slot), then the zeroed frame
/// record the trampoline points x29 at.
#[repr(C)]
struct InitialStack {
    frame: SwitchFrame,
    root_fp: usize,
    root_lr: usize,
}

const_assert_eq!(offset_of!(SwitchFrame, pc), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, x29), 0x10);
const_assert_eq!(offset_of!(SwitchFrame, x19), 0x18);
const_assert_eq!(size_of::<SwitchFrame>(), 0x20);
// The inline asm stores (x29, x19) with one `stp` and the resume address goes 16 bytes
// below with one `str` with writeback; the landings reload (x29, x19) with one `ldp` at
// 0x10 and step sp over the whole frame.
const_assert_eq!(
    offset_of!(SwitchFrame, x19),
    offset_of!(SwitchFrame, x29) + 8
);
const_assert_eq!(offset_of!(SwitchFrame, x29), 16);
// The trampoline pops the x29/x19 slots and expects sp = top - 16 at the frame record, with
// sp 16-aligned at its call.
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
    ("x29", offset_of!(SwitchFrame, x29)),
    ("x19", offset_of!(SwitchFrame, x19)),
];
#[cfg(all(test, not(target_vendor = "apple")))]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/aarch64_aapcs_elf.s");
#[cfg(all(test, target_vendor = "apple"))]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/aarch64_aapcs_macho.s");

// One file per object format.
#[cfg(not(target_vendor = "apple"))]
global_asm!(
    include_str!("../../arch/aarch64_aapcs_elf.s"),
    SWITCH = sym greenthread_aarch64_switch,
    START = sym greenthread_aarch64_start,
    TRAMPOLINE = sym greenthread_aarch64_trampoline,
    LINK_CALLER = const offset_of!(Link, caller),
);
#[cfg(target_vendor = "apple")]
global_asm!(
    include_str!("../../arch/aarch64_aapcs_macho.s"),
    SWITCH = sym greenthread_aarch64_switch,
    START = sym greenthread_aarch64_start,
    TRAMPOLINE = sym greenthread_aarch64_trampoline,
    LINK_CALLER = const offset_of!(Link, caller),
);

unsafe extern "C" {
    /// Branched to (never called) from [`switch`]; register contract in the `.s` header.
    #[link_name = concat!("greenthread_aarch64_switch_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_aarch64_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    #[link_name = concat!("greenthread_aarch64_trampoline_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_aarch64_trampoline();
    /// First resume address of a fresh coroutine (called by [`resume`]).
    #[link_name = concat!("greenthread_aarch64_start_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_aarch64_start();
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
            x29: data as usize,
            x19: entry as *const () as usize,
        },
        root_fp: 0,
        root_lr: 0,
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
            greenthread_aarch64_trampoline as *const () as usize,
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
            greenthread_aarch64_start as *const () as usize,
        )
    }
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. x29 and x19 are pushed here;
/// x20-x28, lr and d8-d15 are declared clobbered so the compiler saves only those holding
/// live values. Returns the value passed by whoever later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves x29, x19, sp and the resume
    // address; x20-x28, v8-v15 and (clobber_abi) every caller-saved register, lr
    // and the SIMD/SVE state included, are declared clobbered so the compiler keeps live
    // values elsewhere; x18 is neither touched nor (where reserved) clobbered; the absence
    // of `nostack` keeps red-zone data clear of the pushes.
    unsafe {
        asm!(
            "stp x29, x19, [sp, #-16]!",
            "adr x3, 2f",
            "b {switch}",
            "2:",
            // bti j: the switch resumes us with `br`.
            "hint #36",
            "ldp x29, x19, [sp], #16",
            switch = sym greenthread_aarch64_switch,
            in("x0") save,
            in("x1") to,
            inout("x2") arg => ret,
            lateout("x20") _,
            lateout("x21") _,
            lateout("x22") _,
            lateout("x23") _,
            lateout("x24") _,
            lateout("x25") _,
            lateout("x26") _,
            lateout("x27") _,
            lateout("x28") _,
            lateout("v8") _,
            lateout("v9") _,
            lateout("v10") _,
            lateout("v11") _,
            lateout("v12") _,
            lateout("v13") _,
            lateout("v14") _,
            lateout("v15") _,
            clobber_abi("C"),
        );
    }
    ret
}

/// Resumes the coroutine whose link is `link`, handing it `arg`; returns what it passes to
/// [`suspend`] or [`finish`].
///
/// The resumer stores x29 and x19 and *calls* (`blr`) the coroutine's resume address; the
/// coroutine stores lr on the resumer's stack, publishes that sp in `link.caller` and later
/// returns to it with `ret`.
///
/// # Safety
/// `link` must be the link of a suspended coroutine made by [`init_linked`] (its `sp` is its
/// stack pointer), resumed on the OS thread it last ran on, with its stack mapped; the link
/// must stay valid until the coroutine switches back.
#[inline(always)]
pub(crate) unsafe fn resume(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above; clobbers as in `switch` (lr included:
    // `blr` writes it).
    unsafe {
        asm!(
            "stp x29, x19, [sp, #-16]!",
            "ldr x3, [x1]",
            "blr x3",
            "ldp x29, x19, [sp], #16",
            in("x0") link,
            in("x1") (*link).sp,
            inout("x2") arg => ret,
            lateout("x20") _,
            lateout("x21") _,
            lateout("x22") _,
            lateout("x23") _,
            lateout("x24") _,
            lateout("x25") _,
            lateout("x26") _,
            lateout("x27") _,
            lateout("x28") _,
            lateout("v8") _,
            lateout("v9") _,
            lateout("v10") _,
            lateout("v11") _,
            lateout("v12") _,
            lateout("v13") _,
            lateout("v14") _,
            lateout("v15") _,
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
    // SAFETY: the caller upholds the contract above. We store our frame (x29, x19, resume
    // address), publish sp in `link.sp`, reload the resumer's lr and sp and return to it.
    // We land at `2:` called (`blr`) by the next `resume` (x0 = link, x1 = link.sp = our
    // frame): store its lr on its stack, publish that sp, reload our x29/x19, drop our frame.
    unsafe {
        asm!(
            "stp x29, x19, [sp, #-16]!",
            "adr x3, 2f",
            "str x3, [sp, #-16]!",
            "mov x4, sp",
            "str x4, [x0, #{sp}]",
            "ldr x4, [x0, #{caller}]",
            "ldr x30, [x4], #16",
            "mov sp, x4",
            "ret",
            "2:",
            // bti c: the next resume arrives with `blr`.
            "hint #34",
            "str x30, [sp, #-16]!",
            "mov x4, sp",
            "str x4, [x0, #{caller}]",
            "ldp x29, x19, [x1, #16]",
            "add sp, x1, #32",
            sp = const offset_of!(Link, sp),
            caller = const offset_of!(Link, caller),
            in("x0") link,
            inout("x2") arg => ret,
            lateout("x20") _,
            lateout("x21") _,
            lateout("x22") _,
            lateout("x23") _,
            lateout("x24") _,
            lateout("x25") _,
            lateout("x26") _,
            lateout("x27") _,
            lateout("x28") _,
            lateout("v8") _,
            lateout("v9") _,
            lateout("v10") _,
            lateout("v11") _,
            lateout("v12") _,
            lateout("v13") _,
            lateout("v14") _,
            lateout("v15") _,
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
    // pointer, pointing at the lr its `blr` produced.
    unsafe {
        asm!(
            "ldr x4, [x0, #{caller}]",
            "ldr x30, [x4], #16",
            "mov sp, x4",
            "ret",
            caller = const offset_of!(Link, caller),
            in("x0") link,
            in("x2") arg,
            options(noreturn),
        );
    }
}
