//! Glue for `arch/x86_64_sysv_elf.s`: the x86_64 System V backend (Linux, macOS, other Unix).
//!
//! The frame layout lives here as [`SwitchFrame`]; the assembly receives every offset it uses
//! as a `const` operand computed from it, and the offsets are pinned with `const_assert_eq!`
//! so a change to either side fails the build. `tests::frame_table_matches_asm_header`
//! compares the table in the `.s` header with these offsets.
//!
//! The instructions of every switch that Rust code enters are inline asm here (`switch`
//! enters the routine in the `.s` by a jump; `resume`, `suspend` and `finish` are complete in
//! themselves), so that the compiler saves only the live callee-saved registers and the
//! asymmetric pair is inlined into `Coroutine::resume` and `Yielder::suspend`.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::const_assert_eq;

use super::Link;

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/x86_64_sysv_elf.s`. r12-r15 are not here: the compiler
/// saves the live ones in the switching function's own frame (see `switch`).
#[repr(C)]
pub(crate) struct SwitchFrame {
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

const_assert_eq!(offset_of!(SwitchFrame, rip), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, rbx), 0x08);
const_assert_eq!(offset_of!(SwitchFrame, rbp), 0x10);
const_assert_eq!(size_of::<SwitchFrame>(), 0x18);
// The inline asm pushes rbp, rbx, then the resume address: each slot 8 bytes below the
// previous one, rip at the saved stack pointer.
const_assert_eq!(offset_of!(SwitchFrame, rbp), size_of::<SwitchFrame>() - 8);
const_assert_eq!(
    offset_of!(SwitchFrame, rbx) + 8,
    offset_of!(SwitchFrame, rbp)
);
const_assert_eq!(
    offset_of!(SwitchFrame, rip) + 8,
    offset_of!(SwitchFrame, rbx)
);
// The trampoline pops rbx, rbp and data, then expects rsp = top - 8: (rsp + 8) % 16 == 0.
const_assert_eq!(offset_of!(InitialStack, data), 0x18);
const_assert_eq!(size_of::<InitialStack>(), 0x28);
// `start` and the asymmetric landing skip exactly the rip slot (`lea rsp, [rsi + 8]`).
const_assert_eq!(offset_of!(SwitchFrame, rbx), 8);

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
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

global_asm!(
    include_str!(asm_file!()),
    SWITCH = sym greenthread_x86_64_sysv_switch,
    START = sym greenthread_x86_64_sysv_start,
    TRAMPOLINE = sym greenthread_x86_64_sysv_trampoline,
    LINK_CALLER = const offset_of!(Link, caller),
);

unsafe extern "C" {
    /// Jumped to (never called) from [`switch`]; register contract in the `.s` header.
    #[link_name = concat!("greenthread_x86_64_sysv_switch_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_sysv_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    #[link_name = concat!("greenthread_x86_64_sysv_trampoline_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_sysv_trampoline();
    /// First resume address of a fresh coroutine (called by [`resume`]).
    #[link_name = concat!("greenthread_x86_64_sysv_start_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_sysv_start();
}

/// Lays out the initial frame of a fresh context below `top`, resuming at `rip`.
///
/// # Safety
/// `top` must be 16-byte aligned and the `size_of::<InitialStack>()` bytes below it must be
/// writable memory of a stack that outlives every switch to the returned pointer.
unsafe fn init_at(top: *mut u8, entry: super::EntryFn, data: *mut u8, rip: usize) -> usize {
    debug_assert_eq!(top as usize % 16, 0);
    let sp = top.wrapping_sub(size_of::<InitialStack>()) as *mut InitialStack;
    let frame = InitialStack {
        frame: SwitchFrame {
            rip,
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
            greenthread_x86_64_sysv_trampoline as *const () as usize,
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
            greenthread_x86_64_sysv_start as *const () as usize,
        )
    }
}

/// Saves the running context, publishes its stack pointer through `save`, and resumes the
/// context whose stack pointer is `to`, handing it `arg`. rbx, rbp and the resume address
/// are pushed here; r12-r15 are declared clobbered so the compiler saves only those holding
/// live values. Returns the value passed by whoever later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves rbx, rbp, rsp and the
    // resume address; r12-r15 and (clobber_abi) every caller-saved register, x87/MMX/SSE/AVX
    // state included, are declared clobbered so the compiler keeps live values elsewhere; the
    // absence of `nostack` keeps red-zone data clear of the pushes.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
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

/// Resumes the coroutine whose link is `link`, handing it `arg`; returns what it passes to
/// [`suspend`] or [`finish`].
///
/// The resumer pushes rbp and rbx and *calls* the coroutine's resume address; the coroutine
/// publishes the resumer's stack pointer in `link.caller` and later returns to it.
///
/// # Safety
/// `link` must be the link of a suspended coroutine made by [`init_linked`] (its `sp` is its
/// stack pointer), resumed on the OS thread it last ran on, with its stack mapped; the link
/// must stay valid until the coroutine switches back.
#[inline(always)]
pub(crate) unsafe fn resume(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. `call` pushes our return address on
    // our own stack (the coroutine records rsp in `link.caller` and `ret`s to it); the rest
    // as in `switch`.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "call qword ptr [rsi]",
            "pop rbx",
            "pop rbp",
            in("rdi") link,
            in("rsi") (*link).sp,
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

/// Suspends the running coroutine (whose link is `link`) back to its resumer, handing it
/// `arg`; returns the value of the next [`resume`].
///
/// # Safety
/// Must run on the coroutine's own stack, resumed by [`resume`] through this `link`.
#[inline(always)]
pub(crate) unsafe fn suspend(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. We push our frame (rbp, rbx, resume
    // address), publish rsp in `link.sp`, and return into `resume` on the resumer's stack.
    // We land at `2:` called by the next `resume` (rdi = link, rsi = link.sp, our own stack
    // pointer): record the resumer's rsp, step over the resume address and pop our frame.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "lea rax, [rip + 2f]",
            "push rax",
            "mov [rdi + {sp}], rsp",
            "mov rsp, [rdi + {caller}]",
            "ret",
            "2:",
            "mov [rdi + {caller}], rsp",
            "lea rsp, [rsi + 8]",
            "pop rbx",
            "pop rbp",
            sp = const offset_of!(Link, sp),
            caller = const offset_of!(Link, caller),
            in("rdi") link,
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

/// Switches from the running coroutine back to its resumer for the last time, handing it
/// `arg`. Nothing is saved: the coroutine is never resumed again.
///
/// # Safety
/// As [`suspend`]; in addition nothing on this stack may need dropping.
#[inline(always)]
pub(crate) unsafe fn finish(link: *mut Link, arg: usize) -> ! {
    // SAFETY: the caller upholds the contract above: `link.caller` is the resumer's stack
    // pointer, pointing at the return address its `call` pushed.
    unsafe {
        asm!(
            "mov rsp, [rdi + {caller}]",
            "ret",
            caller = const offset_of!(Link, caller),
            in("rdi") link,
            in("rdx") arg,
            options(noreturn),
        );
    }
}
