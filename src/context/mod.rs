//! Execution contexts: the raw stack switch and the [`Coroutine`](coroutine::Coroutine) built on it.
//!
//! A *context* is a stack plus the callee-saved register state of the code suspended on it.
//! Exactly one backend is compiled in, chosen by `build.rs` (`cfg(greenthread_backend)`); each
//! backend is one assembly file in `arch/` and one glue module here that feeds it the frame
//! offsets as `const` operands.
//!
//! ## Stack states
//!
//! Example addresses for a 64 KiB stack mapped at `0x7f00_0000_0000` (one 4 KiB guard page):
//!
//! ```text
//!   newly initialised (init)        suspended (switch saved it)      running
//!
//!   0x7f00_0001_1000 top            0x7f00_0001_1000 top             0x7f00_0001_1000 top
//!   | owner data (closure, |        | owner data             |       | owner data             |
//!   |  header), 16-aligned |        | entry frame ...        |       | entry frame ...        |
//!   | 0  fake return addr  |        | ... frames of the code |       | ... frames of the code |
//!   | data                 |        |  that switched away    |       |     now executing      |
//!   | 0 (rbp slot)         |        |  (r12-r15 spilled here |       |         <- rsp (live)  |
//!   | entry (rbx slot)     |        |   by the compiler)     |       |                        |
//!   | trampoline <- sp     |        | rbp, rbx               |       |                        |
//!   |                      |        | resume addr <- saved sp|       |                        |
//!   |        (unused)      |        |        (unused)        |       |        (unused)        |
//!   0x7f00_0000_1000 bottom         0x7f00_0000_1000 bottom          0x7f00_0000_1000 bottom
//!   | guard page PROT_NONE |        | guard page PROT_NONE   |       | guard page PROT_NONE   |
//!   0x7f00_0000_0000 mapping        0x7f00_0000_0000                 0x7f00_0000_0000
//! ```
//!
//! (The register names are x86_64 System V's. The other backends keep the same shape with
//! their own frame, see `docs/ABI.md`: aarch64 saves the resume address, x29 and x19;
//! riscv64 the resume address, s0 and s1; Windows adds the TEB's stack fields, so that a
//! running green thread's StackBase/StackLimit describe its own stack. On Windows the guard is
//! a hard guard page under a 20 KiB soft guard, see `stack`. A coroutine's resumer, while the
//! coroutine runs, has rbp, rbx and the return address of its `call` on its own stack, and
//! the coroutine's header points at them.)
//!
//! ## The raw switch
//!
//! [`raw::init`] lays out a fresh context so that the first switch to it calls an entry
//! function; [`raw::switch`] saves the running context, publishes its stack pointer, and
//! resumes another one, passing one `usize` each way. They are `unsafe` and symmetric (any
//! context may switch to any suspended one), which is what a scheduler needs. [`Coroutine`](
//! coroutine::Coroutine) is built on a second, asymmetric pair (crate-private: the resumer
//! calls into the coroutine and the coroutine returns, so the return-stack predictor stays
//! right), behind a safe resume/suspend API. Neither switches the floating-point control
//! state: see `docs/ABI.md`, "Floating-point control state: the contract".

cfg_if::cfg_if! {
    if #[cfg(greenthread_backend = "x86_64_sysv")] {
        mod x86_64_sysv;
        use x86_64_sysv as imp;
    } else if #[cfg(greenthread_backend = "x86_64_windows")] {
        mod x86_64_windows;
        use x86_64_windows as imp;
    } else if #[cfg(greenthread_backend = "aarch64")] {
        mod aarch64;
        use aarch64 as imp;
    } else if #[cfg(greenthread_backend = "riscv64")] {
        mod riscv64;
        use riscv64 as imp;
    } else if #[cfg(greenthread_backend = "arm")] {
        mod arm;
        use arm as imp;
    } else {
        compile_error!(
            "greenthread: no context-switch backend for this target. Supported: x86_64 System V \
             (Linux, macOS), x86_64 Windows, aarch64 AAPCS64 (Linux, macOS), riscv64 LP64D \
             (Linux), 32-bit Arm AAPCS-VFP (ARMv7 Linux, hard-float)."
        );
    }
}

pub mod coroutine;
pub(crate) mod fp;

#[cfg(test)]
mod tests;

/// The function a fresh context starts in: `entry(arg, data)`, where `arg` is the value passed
/// by the first switch to the context and `data` the pointer given to [`raw::init`].
///
/// It must never return (there is nothing to return to: the trampoline traps) and must not
/// unwind (catch every panic and switch away instead).
pub type EntryFn = unsafe extern "C" fn(arg: usize, data: *mut u8) -> !;

/// Where a coroutine and its resumer find each other: written by the asymmetric switch
/// (`imp::resume`, `imp::suspend`), at a fixed address for the coroutine's whole life (its
/// header, at the top of its stack).
#[repr(C)]
pub(crate) struct Link {
    /// Stack pointer of the resumer, pointing at the return address its `resume` pushed
    /// (or holds in its frame); valid while the coroutine runs.
    pub(crate) caller: usize,
    /// Stack pointer of the coroutine; valid while it is suspended.
    pub(crate) sp: usize,
}

/// The asymmetric switch `Coroutine` is built on: the resumer *calls* into the coroutine and
/// the coroutine *returns* to it, so the return-stack predictor stays right on both sides
/// (see the header of `arch/x86_64_sysv_elf.s`). The contracts are those of `imp::resume`,
/// `imp::suspend` and `imp::finish`.
pub(crate) mod linked {
    pub(crate) use super::imp::{finish, init_linked as init, resume, suspend};
}

/// The unsafe, symmetric context-switch primitives the runtime is built on.
///
/// A suspended context is represented by its saved stack pointer, a plain `usize`. The
/// contract a scheduler keeps is the same as for the hub in `sched`: a context is resumed at
/// most once per suspension, only on the OS thread it last ran on, and only while its stack
/// is mapped.
///
/// ```
/// use greenthread::context::raw;
/// use greenthread::stack::Stack;
///
/// static mut MAIN_SP: usize = 0;
/// static mut CO_SP: usize = 0;
///
/// unsafe extern "C" fn entry(arg: usize, _data: *mut u8) -> ! {
///     let mut x = arg;
///     loop {
///         // SAFETY: MAIN_SP was published by the switch that resumed us; CO_SP is ours.
///         x = unsafe { raw::switch(&raw mut CO_SP, MAIN_SP, x * 2) };
///     }
/// }
///
/// let stack = Stack::new(0).unwrap();
/// // SAFETY: the stack is fresh, 16-aligned at top, and outlives every switch below.
/// unsafe {
///     CO_SP = raw::init(stack.top(), entry, core::ptr::null_mut());
///     assert_eq!(raw::switch(&raw mut MAIN_SP, CO_SP, 21), 42);
///     assert_eq!(raw::switch(&raw mut MAIN_SP, CO_SP, 50), 100);
/// }
/// // The context is abandoned while suspended: nothing on its stack needs dropping.
/// drop(stack);
/// ```
pub mod raw {
    use super::{EntryFn, imp};

    /// Size in bytes that [`init`] writes below `top`.
    pub const INIT_SIZE: usize = imp::INIT_SIZE;

    /// Lays out a fresh context below `top` whose first resumption calls `entry(arg, data)`,
    /// and returns its stack pointer, to be passed to [`switch`].
    ///
    /// The fresh context starts with a zeroed frame pointer and return address, so stack
    /// walkers stop at its root, and in whatever floating-point environment its first
    /// resumer has (the default one, under the contract of [`switch`]).
    ///
    /// # Safety
    /// `top` must be 16-byte aligned, and the [`INIT_SIZE`] bytes below it must be writable
    /// memory of a stack that stays mapped as long as the context may run. The memory below
    /// those bytes, down to the stack's guard page, is the context's stack.
    #[inline]
    pub unsafe fn init(top: *mut u8, entry: EntryFn, data: *mut u8) -> usize {
        // SAFETY: forwarded from our caller.
        unsafe { imp::init(top, entry, data) }
    }

    /// Suspends the running context and resumes the one whose stack pointer is `to`, handing
    /// it `arg`. The running context's stack pointer is written to `*save` before the switch;
    /// when some context later switches to that pointer, this call returns the value it
    /// passed.
    ///
    /// Saves and restores the target ABI's callee-saved registers (integer and
    /// floating-point/SIMD); caller-saved registers are declared clobbered, so the compiler
    /// keeps live values out of them. The floating-point control state (rounding mode,
    /// exception masks, flush-to-zero) is not switched: the code on both sides must run in
    /// the default floating-point environment when it switches, as Rust code assumes (see
    /// `docs/ABI.md`; the scheduler's `Builder::preserve_fp_env` is built on top).
    ///
    /// # Safety
    /// - `to` must be the stack pointer of a suspended context (returned by [`init`] or
    ///   published by an earlier `switch`) that is resumed exactly once for this suspension,
    ///   on the OS thread it last ran on, with its stack still mapped.
    /// - `save` must be valid for a write and must not be written by anything else until
    ///   the saved pointer has been consumed.
    /// - No Rust panic may be unwinding across the call into a frame of another context.
    #[inline(always)]
    pub unsafe fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
        // SAFETY: forwarded from our caller.
        unsafe { imp::switch(save, to, arg) }
    }
}
