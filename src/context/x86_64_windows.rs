//! Glue for `arch/x86_64_ms_pe.s`: the x86_64 Windows backend (Microsoft x64 ABI, PE/COFF).
//!
//! Derived from `x86_64_sysv.rs`. The differences: the frame also holds the TEB fields that
//! describe the current stack (the OS, the CRT's `__chkstk`, SEH dispatch and Wine read them),
//! whose values for a fresh context come from the stack layer
//! ([`crate::stack::teb_limits`]); rdi, rsi and xmm6-xmm15, callee-saved on Windows, are
//! declared clobbered (`clobber_abi("sysv64")`) so the compiler saves them; the resume address
//! is pushed by the inline asm so the routine is entered like a called function (SEH); the
//! asymmetric pair swaps the TEB fields too, keeping the resumer's on its own stack.

use core::arch::{asm, global_asm};
use core::mem::{offset_of, size_of};

use static_assertions::{const_assert, const_assert_eq};

use super::Link;

/// The saved state of a context suspended by the symmetric switch, at its saved stack pointer
/// (lowest address first). Mirrors the frame table in `arch/x86_64_ms_pe.s`. r12-r15, rdi,
/// rsi and xmm6-xmm15 are not here: the compiler saves the live ones in the switching
/// function's own frame.
#[repr(C)]
pub(crate) struct SwitchFrame {
    pub teb: TebFields,
    pub rip: usize,
    pub rbx: usize,
    pub rbp: usize,
}

/// The saved state of a coroutine suspended in [`suspend`] (the linked frame of the `.s`
/// header): the resume address at the bottom, where `resume`'s `call [rsi]` finds it.
#[repr(C)]
pub(crate) struct LinkedFrame {
    pub rip: usize,
    pub teb: TebFields,
    pub rbx: usize,
    pub rbp: usize,
}

/// The TEB fields a switch saves, in the order they sit on the stack (pushed
/// ExceptionList first, so it is highest).
#[repr(C)]
pub(crate) struct TebFields {
    /// `GuaranteedStackBytes` is a ULONG; the slot's upper half is padding.
    pub guaranteed_stack_bytes: u32,
    pub _pad: u32,
    pub deallocation_stack: usize,
    pub stack_limit: usize,
    pub stack_base: usize,
    pub exception_list: usize,
}

/// What `init` writes below the top of a fresh stack: a frame the switch and the trampoline
/// pop, the entry function's data pointer, then the trampoline's zero fake return address.
#[repr(C)]
struct InitialStack<F> {
    frame: F,
    data: usize,
    fake_return_address: usize,
}

// TEB (NT_TIB + TEB64) offsets from gs, fixed by the Windows x64 ABI since Windows XP x64.
const TEB_EXCEPTION_LIST: usize = 0x0000;
const TEB_STACK_BASE: usize = 0x0008;
const TEB_STACK_LIMIT: usize = 0x0010;
const TEB_DEALLOCATION_STACK: usize = 0x1478;
const TEB_GUARANTEED_STACK_BYTES: usize = 0x1748;

const_assert_eq!(offset_of!(TebFields, guaranteed_stack_bytes), 0x00);
const_assert_eq!(offset_of!(TebFields, deallocation_stack), 0x08);
const_assert_eq!(offset_of!(TebFields, stack_limit), 0x10);
const_assert_eq!(offset_of!(TebFields, stack_base), 0x18);
const_assert_eq!(offset_of!(TebFields, exception_list), 0x20);
const_assert_eq!(size_of::<TebFields>(), 0x28);
const_assert_eq!(offset_of!(SwitchFrame, teb), 0x00);
const_assert_eq!(offset_of!(SwitchFrame, rip), 0x28);
const_assert_eq!(offset_of!(SwitchFrame, rbx), 0x30);
const_assert_eq!(offset_of!(SwitchFrame, rbp), 0x38);
const_assert_eq!(size_of::<SwitchFrame>(), 0x40);
const_assert_eq!(offset_of!(LinkedFrame, rip), 0x00);
const_assert_eq!(offset_of!(LinkedFrame, teb), 0x08);
const_assert_eq!(offset_of!(LinkedFrame, rbx), 0x30);
const_assert_eq!(offset_of!(LinkedFrame, rbp), 0x38);
const_assert_eq!(size_of::<LinkedFrame>(), 0x40);
// Push order: rbp, rbx, rip (inline asm), then ExceptionList, StackBase, StackLimit,
// DeallocationStack, GuaranteedStackBytes (routine): each slot 8 bytes below the previous
// one, which `TebFields` and the asserts above encode. Both frames end with rbx, rbp at the
// top, where the trampoline and the landings pop them.
// The trampoline pops rbx, rbp and data, then expects rsp = top - 8: (rsp + 8) % 16 == 0.
const_assert_eq!(
    offset_of!(InitialStack<SwitchFrame>, data),
    size_of::<SwitchFrame>()
);
const_assert_eq!(size_of::<InitialStack<SwitchFrame>>(), 0x50);
const_assert_eq!(size_of::<InitialStack<LinkedFrame>>(), 0x50);
const_assert!(
    (size_of::<InitialStack<SwitchFrame>>()
        - offset_of!(InitialStack<SwitchFrame>, fake_return_address))
        == 8
);

/// Bytes `init` writes below the top of a fresh stack.
pub(crate) const INIT_SIZE: usize = size_of::<InitialStack<SwitchFrame>>();

/// Offsets and sizes shared with the assembly and the tests.
#[cfg(test)]
pub(crate) const FRAME_SIZE: usize = size_of::<SwitchFrame>();
#[cfg(test)]
pub(crate) const FRAME_TABLE: &[(&str, usize)] = &[
    (
        "guaranteed_stack_bytes",
        offset_of!(SwitchFrame, teb) + offset_of!(TebFields, guaranteed_stack_bytes),
    ),
    (
        "deallocation_stack",
        offset_of!(SwitchFrame, teb) + offset_of!(TebFields, deallocation_stack),
    ),
    (
        "stack_limit",
        offset_of!(SwitchFrame, teb) + offset_of!(TebFields, stack_limit),
    ),
    (
        "stack_base",
        offset_of!(SwitchFrame, teb) + offset_of!(TebFields, stack_base),
    ),
    (
        "exception_list",
        offset_of!(SwitchFrame, teb) + offset_of!(TebFields, exception_list),
    ),
    ("rip", offset_of!(SwitchFrame, rip)),
    ("rbx", offset_of!(SwitchFrame, rbx)),
    ("rbp", offset_of!(SwitchFrame, rbp)),
];
#[cfg(test)]
pub(crate) const ASM_SOURCE: &str = include_str!("../../arch/x86_64_ms_pe.s");

/// ExceptionList value meaning "no frame registered" (end of the NT_TIB chain).
const EXCEPTION_LIST_END: usize = usize::MAX;

global_asm!(
    include_str!("../../arch/x86_64_ms_pe.s"),
    SWITCH = sym greenthread_x86_64_ms_switch,
    START = sym greenthread_x86_64_ms_start,
    TRAMPOLINE = sym greenthread_x86_64_ms_trampoline,
    HANDLER = sym top_level_handler,
    TEB_EXCEPTION_LIST = const TEB_EXCEPTION_LIST,
    TEB_STACK_BASE = const TEB_STACK_BASE,
    TEB_STACK_LIMIT = const TEB_STACK_LIMIT,
    TEB_DEALLOCATION_STACK = const TEB_DEALLOCATION_STACK,
    TEB_GUARANTEED_STACK_BYTES = const TEB_GUARANTEED_STACK_BYTES,
    LINK_CALLER = const offset_of!(Link, caller),
    LINKED_FRAME_TEB = const offset_of!(LinkedFrame, teb),
);

unsafe extern "C" {
    /// Jumped to (never called) from [`switch`]; register contract in the `.s` header.
    #[link_name = concat!("greenthread_x86_64_ms_switch_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_ms_switch();
    /// First resume address of a fresh context; register contract in the `.s` header.
    #[link_name = concat!("greenthread_x86_64_ms_trampoline_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_ms_trampoline();
    /// First resume address of a fresh coroutine (called by [`resume`]).
    #[link_name = concat!("greenthread_x86_64_ms_start_v", env!("GREENTHREAD_ASM_VERSION"))]
    fn greenthread_x86_64_ms_start();
}

/// `EXCEPTION_DISPOSITION` values (winnt.h).
const EXCEPTION_CONTINUE_EXECUTION_DISPOSITION: i32 = 0;
const EXCEPTION_CONTINUE_SEARCH_DISPOSITION: i32 = 1;
/// `ExceptionFlags` bits of an unwind (rather than dispatch) call: EXCEPTION_UNWINDING,
/// EXCEPTION_EXIT_UNWIND, EXCEPTION_TARGET_UNWIND.
const EXCEPTION_UNWIND_FLAGS: u32 = 0x2 | 0x4 | 0x20;

/// The language-specific handler of the trampoline (`.seh_handler`), the outermost frame of
/// every green stack: what `RtlUserThreadStart`'s handler is for an OS thread. An exception
/// no frame of the green thread handled arrives here; the process's unhandled-exception
/// filter runs (`UnhandledExceptionFilter`, which calls the one installed with
/// `SetUnhandledExceptionFilter`, so crash reporters and minidump writers work), and unless
/// it asks to continue execution, the process ends with the exception's code, as it would
/// on an OS thread. The dispatcher's walk never goes past the trampoline.
///
/// # Safety
/// Called only by the Windows exception dispatcher, with valid record and context pointers.
unsafe extern "system" fn top_level_handler(
    record: *mut windows_sys::Win32::System::Diagnostics::Debug::EXCEPTION_RECORD,
    _establisher_frame: *mut core::ffi::c_void,
    context: *mut windows_sys::Win32::System::Diagnostics::Debug::CONTEXT,
    _dispatcher_context: *mut core::ffi::c_void,
) -> i32 {
    use windows_sys::Win32::System::Diagnostics::Debug::{
        EXCEPTION_POINTERS, UnhandledExceptionFilter,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};
    // SAFETY: the dispatcher passes a valid exception record.
    let (flags, code) = unsafe { ((*record).ExceptionFlags, (*record).ExceptionCode) };
    if flags & EXCEPTION_UNWIND_FLAGS != 0 {
        // An unwind passing through (never ours: entry functions catch every panic).
        return EXCEPTION_CONTINUE_SEARCH_DISPOSITION;
    }
    let pointers = EXCEPTION_POINTERS {
        ExceptionRecord: record,
        ContextRecord: context,
    };
    // SAFETY: `pointers` describes the exception being dispatched, as the filter expects.
    let verdict = unsafe { UnhandledExceptionFilter(&pointers) };
    // EXCEPTION_CONTINUE_EXECUTION (-1): the filter repaired the cause.
    if verdict == -1 {
        return EXCEPTION_CONTINUE_EXECUTION_DISPOSITION;
    }
    // EXCEPTION_EXECUTE_HANDLER (1) or EXCEPTION_CONTINUE_SEARCH (0, e.g. a debugger is
    // attached and has had its second chance): end the process with the exception's code,
    // as RtlUserThreadStart's handler does; searching on would read the words above the
    // trampoline as frames.
    // SAFETY: terminating the current process; no Rust invariant outlives it.
    unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
    EXCEPTION_CONTINUE_SEARCH_DISPOSITION
}

/// The TEB fields of a new context on the stack that contains `top`: see
/// [`crate::stack::teb_limits`] (an exact table lookup for stacks of this crate, a
/// `VirtualQuery` for other memory).
fn initial_teb(top: *mut u8) -> TebFields {
    let limits = crate::stack::teb_limits(top as usize);
    TebFields {
        guaranteed_stack_bytes: limits.guaranteed_stack_bytes,
        _pad: 0,
        deallocation_stack: limits.deallocation_stack,
        stack_limit: limits.stack_limit,
        stack_base: limits.stack_base,
        exception_list: EXCEPTION_LIST_END,
    }
}

/// Writes `frame` and the trampoline's data and zero return address below `top`.
///
/// # Safety
/// `top` must be 16-byte aligned and the `size_of::<InitialStack<F>>()` bytes below it must
/// be writable memory of a stack that outlives every switch to the returned pointer.
unsafe fn init_with<F>(top: *mut u8, frame: F, data: *mut u8) -> usize {
    debug_assert_eq!(top as usize % 16, 0);
    let sp = top.wrapping_sub(size_of::<InitialStack<F>>()) as *mut InitialStack<F>;
    // SAFETY: the caller guarantees these bytes below `top` are writable stack memory;
    // `top` is 16-aligned and InitialStack is 8-aligned, so `sp` is suitably aligned.
    unsafe {
        sp.write(InitialStack {
            frame,
            data: data as usize,
            fake_return_address: 0,
        })
    };
    sp as usize
}

/// Lays out the initial frame of a fresh context for the symmetric [`switch`] below `top`
/// and returns its stack pointer.
///
/// # Safety
/// As `init_with`.
pub(crate) unsafe fn init(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    let frame = SwitchFrame {
        teb: initial_teb(top),
        rip: greenthread_x86_64_ms_trampoline as *const () as usize,
        rbx: entry as *const () as usize,
        rbp: 0,
    };
    // SAFETY: forwarded from our caller.
    unsafe { init_with(top, frame, data) }
}

/// Lays out the initial frame of a fresh coroutine for [`resume`] below `top` and returns
/// its stack pointer.
///
/// # Safety
/// As `init_with`.
pub(crate) unsafe fn init_linked(top: *mut u8, entry: super::EntryFn, data: *mut u8) -> usize {
    let frame = LinkedFrame {
        rip: greenthread_x86_64_ms_start as *const () as usize,
        teb: initial_teb(top),
        rbx: entry as *const () as usize,
        rbp: 0,
    };
    // SAFETY: forwarded from our caller.
    unsafe { init_with(top, frame, data) }
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
    // address and the TEB stack fields; r12-r15 and, through the
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

/// Resumes the coroutine whose link is `link`, handing it `arg`; returns what it passes to
/// [`suspend`] or [`finish`].
///
/// The resumer pushes rbp and rbx and *calls* the coroutine's resume address; the coroutine
/// pushes the resumer's TEB fields below the return address, publishes that rsp in
/// `link.caller`, loads its own TEB fields, and later restores the resumer's and returns.
///
/// # Safety
/// `link` must be the link of a suspended coroutine made by [`init_linked`] (its `sp` is its
/// stack pointer), resumed on the OS thread it last ran on, with its stack mapped; the link
/// must stay valid until the coroutine switches back.
#[inline(always)]
pub(crate) unsafe fn resume(link: *mut Link, arg: usize) -> usize {
    let ret: usize;
    // SAFETY: the caller upholds the contract above; clobbers as in `switch`.
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
            clobber_abi("sysv64"),
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
    // SAFETY: the caller upholds the contract above. We push our frame (rbp, rbx, our TEB
    // fields, resume address: `LinkedFrame`), publish rsp in `link.sp`, move to the
    // resumer's stack, pop its TEB fields back into the TEB and return into `resume`. We
    // land at `2:` called by the next `resume` (rdi = link, rsi = link.sp = our frame): push
    // the resumer's TEB fields on its stack, publish that rsp, and pop ours.
    unsafe {
        asm!(
            "push rbp",
            "push rbx",
            "push qword ptr gs:[{exception_list}]",
            "push qword ptr gs:[{stack_base}]",
            "push qword ptr gs:[{stack_limit}]",
            "push qword ptr gs:[{deallocation_stack}]",
            "mov ecx, dword ptr gs:[{guaranteed}]",
            "push rcx",
            "lea rax, [rip + 2f]",
            "push rax",
            "mov [rdi + {sp}], rsp",
            "mov rsp, [rdi + {caller}]",
            "pop rcx",
            "mov dword ptr gs:[{guaranteed}], ecx",
            "pop qword ptr gs:[{deallocation_stack}]",
            "pop qword ptr gs:[{stack_limit}]",
            "pop qword ptr gs:[{stack_base}]",
            "pop qword ptr gs:[{exception_list}]",
            "ret",
            "2:",
            "push qword ptr gs:[{exception_list}]",
            "push qword ptr gs:[{stack_base}]",
            "push qword ptr gs:[{stack_limit}]",
            "push qword ptr gs:[{deallocation_stack}]",
            "mov ecx, dword ptr gs:[{guaranteed}]",
            "push rcx",
            "mov [rdi + {caller}], rsp",
            "lea rsp, [rsi + 8]",
            "pop rcx",
            "mov dword ptr gs:[{guaranteed}], ecx",
            "pop qword ptr gs:[{deallocation_stack}]",
            "pop qword ptr gs:[{stack_limit}]",
            "pop qword ptr gs:[{stack_base}]",
            "pop qword ptr gs:[{exception_list}]",
            "pop rbx",
            "pop rbp",
            sp = const offset_of!(Link, sp),
            caller = const offset_of!(Link, caller),
            exception_list = const TEB_EXCEPTION_LIST,
            stack_base = const TEB_STACK_BASE,
            stack_limit = const TEB_STACK_LIMIT,
            deallocation_stack = const TEB_DEALLOCATION_STACK,
            guaranteed = const TEB_GUARANTEED_STACK_BYTES,
            in("rdi") link,
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

/// Switches from the running coroutine back to its resumer for the last time, handing it
/// `arg`. Nothing is saved: the coroutine is never resumed again.
///
/// # Safety
/// As [`suspend`]; in addition nothing on this stack may need dropping.
#[inline(always)]
pub(crate) unsafe fn finish(link: *mut Link, arg: usize) -> ! {
    // SAFETY: the caller upholds the contract above: `link.caller` is the resumer's stack
    // pointer, pointing at its saved TEB fields and then the return address its `call`
    // pushed.
    unsafe {
        asm!(
            "mov rsp, [rdi + {caller}]",
            "pop rcx",
            "mov dword ptr gs:[{guaranteed}], ecx",
            "pop qword ptr gs:[{deallocation_stack}]",
            "pop qword ptr gs:[{stack_limit}]",
            "pop qword ptr gs:[{stack_base}]",
            "pop qword ptr gs:[{exception_list}]",
            "ret",
            caller = const offset_of!(Link, caller),
            exception_list = const TEB_EXCEPTION_LIST,
            stack_base = const TEB_STACK_BASE,
            stack_limit = const TEB_STACK_LIMIT,
            deallocation_stack = const TEB_DEALLOCATION_STACK,
            guaranteed = const TEB_GUARANTEED_STACK_BYTES,
            in("rdi") link,
            in("rdx") arg,
            options(noreturn),
        );
    }
}
