//! Glue for `arch/x86_64_ms_pe.s`: the x86_64 Windows backend (Microsoft x64 ABI, PE/COFF).
//!
//! Derived from `x86_64_sysv.rs`. The differences: the frame also holds the TEB fields that
//! describe the current stack (the OS, the CRT's `__chkstk`, SEH dispatch and Wine read them),
//! whose values for a fresh context come from the stack layer
//! ([`crate::stack::teb_limits`]); rdi, rsi and xmm6-xmm15, callee-saved on Windows, are
//! declared clobbered (`clobber_abi("sysv64")`) so the compiler saves them; the resume address
//! is pushed by the inline asm so the routine is entered like a called function (SEH); the
//! initial x87 control word is Windows' 0x027F.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

/// The saved state of a suspended context, at its saved stack pointer (lowest address first).
/// Mirrors the frame table in `arch/x86_64_ms_pe.s`. r12-r15, rdi, rsi and xmm6-xmm15 are not
/// here: the compiler saves the live ones in the switching function's own frame.
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub mxcsr: u32,
    pub x87cw: u16,
    pub _pad: u16,
    /// `GuaranteedStackBytes` is a ULONG; the slot's upper half is padding.
    pub guaranteed_stack_bytes: u32,
    pub _pad2: u32,
    pub deallocation_stack: usize,
    pub stack_limit: usize,
    pub stack_base: usize,
    pub exception_list: usize,
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

// TEB (NT_TIB + TEB64) offsets from gs, fixed by the Windows x64 ABI since Windows XP x64.
const TEB_EXCEPTION_LIST: usize = 0x0000;
const TEB_STACK_BASE: usize = 0x0008;
const TEB_STACK_LIMIT: usize = 0x0010;
const TEB_DEALLOCATION_STACK: usize = 0x1478;
const TEB_GUARANTEED_STACK_BYTES: usize = 0x1748;

const_assert_eq!(offset_of!(SwitchFrame, mxcsr), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, x87cw), 0x04);
const_assert_eq!(offset_of!(SwitchFrame, guaranteed_stack_bytes), 0x08);
const_assert_eq!(offset_of!(SwitchFrame, deallocation_stack), 0x10);
const_assert_eq!(offset_of!(SwitchFrame, stack_limit), 0x18);
const_assert_eq!(offset_of!(SwitchFrame, stack_base), 0x20);
const_assert_eq!(offset_of!(SwitchFrame, exception_list), 0x28);
const_assert_eq!(offset_of!(SwitchFrame, rip), 0x30);
const_assert_eq!(offset_of!(SwitchFrame, rbx), 0x38);
const_assert_eq!(offset_of!(SwitchFrame, rbp), 0x40);
const_assert_eq!(size_of::<SwitchFrame>(), 0x48);
// Push order: rbp, rbx, rip (inline asm), then ExceptionList, StackBase, StackLimit,
// DeallocationStack, GuaranteedStackBytes and the FP slot (routine): each slot 8 bytes
// below the previous one.
const_assert_eq!(offset_of!(SwitchFrame, rbp), size_of::<SwitchFrame>() - 8);
const_assert_eq!(
    offset_of!(SwitchFrame, rbx) + 8,
    offset_of!(SwitchFrame, rbp)
);
const_assert_eq!(
    offset_of!(SwitchFrame, rip) + 8,
    offset_of!(SwitchFrame, rbx)
);
const_assert_eq!(
    offset_of!(SwitchFrame, exception_list) + 8,
    offset_of!(SwitchFrame, rip)
);
const_assert_eq!(
    offset_of!(SwitchFrame, stack_base) + 8,
    offset_of!(SwitchFrame, exception_list)
);
const_assert_eq!(
    offset_of!(SwitchFrame, stack_limit) + 8,
    offset_of!(SwitchFrame, stack_base)
);
const_assert_eq!(
    offset_of!(SwitchFrame, deallocation_stack) + 8,
    offset_of!(SwitchFrame, stack_limit)
);
const_assert_eq!(
    offset_of!(SwitchFrame, guaranteed_stack_bytes) + 8,
    offset_of!(SwitchFrame, deallocation_stack)
);
// The trampoline pops rbx, rbp and data, then expects rsp = top - 8: (rsp + 8) % 16 == 0.
const_assert_eq!(offset_of!(InitialStack, data), size_of::<SwitchFrame>());
const_assert_eq!(size_of::<InitialStack>(), 0x58);
const_assert!((size_of::<InitialStack>() - offset_of!(InitialStack, fake_return_address)) == 8);

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    ("mxcsr", offset_of!(SwitchFrame, mxcsr)),
    ("x87cw", offset_of!(SwitchFrame, x87cw)),
    (
        "guaranteed_stack_bytes",
        offset_of!(SwitchFrame, guaranteed_stack_bytes),
    ),
    (
        "deallocation_stack",
        offset_of!(SwitchFrame, deallocation_stack),
    ),
    ("stack_limit", offset_of!(SwitchFrame, stack_limit)),
    ("stack_base", offset_of!(SwitchFrame, stack_base)),
    ("exception_list", offset_of!(SwitchFrame, exception_list)),
    ("rip", offset_of!(SwitchFrame, rip)),
    ("rbx", offset_of!(SwitchFrame, rbx)),
    ("rbp", offset_of!(SwitchFrame, rbp)),
];
#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/x86_64_ms_pe.s");

/// MXCSR bits 6..15 are nonvolatile (callee-saved); bits 0..5 are sticky exception flags.
const MXCSR_CONTROL_MASK: u32 = 0xffc0;
/// MXCSR and x87 control word at thread start on Windows x64: all exceptions masked, round
/// to nearest, and (x87 only) 53-bit precision.
const INITIAL_MXCSR: u32 = 0x1f80;
const INITIAL_X87CW: u16 = 0x027f;
/// ExceptionList value meaning "no frame registered" (end of the NT_TIB chain).
const EXCEPTION_LIST_END: usize = usize::MAX;

global_asm!(
    include_str!("../../arch/x86_64_ms_pe.s"),
    OFF_MXCSR = const offset_of!(SwitchFrame, mxcsr),
    OFF_X87CW = const offset_of!(SwitchFrame, x87cw),
    MXCSR_CONTROL_MASK = const MXCSR_CONTROL_MASK,
    TEB_EXCEPTION_LIST = const TEB_EXCEPTION_LIST,
    TEB_STACK_BASE = const TEB_STACK_BASE,
    TEB_STACK_LIMIT = const TEB_STACK_LIMIT,
    TEB_DEALLOCATION_STACK = const TEB_DEALLOCATION_STACK,
    TEB_GUARANTEED_STACK_BYTES = const TEB_GUARANTEED_STACK_BYTES,
);

unsafe extern "C" {
    /// Jumped to (never called) from [`switch`]; register contract in the `.s` header.
    fn greenthread_x86_64_ms_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    fn greenthread_x86_64_ms_trampoline();
}

/// Lays out the initial frame of a fresh context below `top` and returns its stack pointer.
///
/// The TEB fields of the new context describe the stack that contains `top`: see
/// [`crate::stack::teb_limits`] (an exact table lookup for stacks of this crate, a
/// `VirtualQuery` for other memory).
///
/// # Safety
/// `top` must be 16-byte aligned and the `size_of::<InitialStack>()` bytes below it must be
/// writable memory of a stack that outlives every switch to the returned pointer.
pub(crate) unsafe fn init(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    debug_assert_eq!(top as usize % 16, 0);
    let limits = crate::stack::teb_limits(top as usize);
    let sp = top.wrapping_sub(size_of::<InitialStack>()) as *mut InitialStack;
    let frame = InitialStack {
        frame: SwitchFrame {
            mxcsr: INITIAL_MXCSR,
            x87cw: INITIAL_X87CW,
            _pad: 0,
            guaranteed_stack_bytes: limits.guaranteed_stack_bytes,
            _pad2: 0,
            deallocation_stack: limits.deallocation_stack,
            stack_limit: limits.stack_limit,
            stack_base: limits.stack_base,
            exception_list: EXCEPTION_LIST_END,
            rip: greenthread_x86_64_ms_trampoline as *const () as usize,
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
/// context whose stack pointer is `to`, handing it `arg`. rbx, rbp and the resume address
/// are pushed here; r12-r15 and (through `clobber_abi("sysv64")`) rdi, rsi and xmm6-xmm15
/// are declared clobbered so the compiler saves only those holding live values. Returns the
/// value passed by whoever later resumes this context.
///
/// # Safety
/// `to` must be the stack pointer of a suspended context (published by an earlier `switch`
/// or returned by `init`) that nobody else resumes, whose stack is still mapped; `save` must
/// be valid for a write and stay valid until this context is resumed.
#[inline(always)]
pub(crate) unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above. The asm saves rbx, rbp, rsp, the resume
    // address, the TEB stack fields and the FP control state; r12-r15 and, through the
    // System V clobber set, rdi, rsi, every xmm/ymm/zmm register and the x87/MMX state are
    // declared clobbered so the compiler keeps live values elsewhere (the Windows-nonvolatile
    // ones among them are saved by the enclosing function's prologue).
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
            switch = sym greenthread_x86_64_ms_switch,
            in("rdi") save,
            in("rsi") to,
            inout("rdx") arg => ret,
            lateout("r12") _,
            lateout("r13") _,
            lateout("r14") _,
            lateout("r15") _,
            clobber_abi("sysv64"),
        );
    }
    ret
}
