//! Windows implementation of the stack layer's OS-specific parts: the `VirtualAlloc` mapping
//! with its guard region, the table the context layer reads a fresh context's TEB stack
//! fields from, and the vectored exception handler that reports overflows.
//!
//! # Layout and why it has two kinds of guard
//!
//! Windows has no alternate signal stack: an exception is dispatched on the stack that
//! faulted, below the faulting stack pointer. A guard that is simply inaccessible would leave
//! the overflow no room for the exception frame, and the process would die without a word.
//! Windows' own thread stacks solve this with a *soft* guard (`PAGE_GUARD` pages, which turn
//! accessible when first touched) above a *hard* one, and with the thread's stack guarantee
//! (`SetThreadStackGuarantee`, `TEB.GuaranteedStackBytes`): when an access reaches the soft
//! guard and less than the guarantee is left above the hard guard, the kernel (or Wine)
//! makes the guarantee's pages accessible and raises `EXCEPTION_STACK_OVERFLOW`, and the
//! handlers run in those pages. A green stack is laid out the same way, and because the
//! context switch swaps the TEB's stack fields, the kernel treats it as the thread's stack
//! while it runs:
//!
//! ```text
//!   top()            +-------------------------------+ <- TEB.StackBase
//!                    | usable region: size() bytes   |    committed read-write (charged
//!                    |                               |    against the commit limit, backed
//!                    |                               |    by physical pages on first touch)
//!   bottom()         +-------------------------------+ <- TEB.StackLimit
//!                    | soft guard: STACK_GUARANTEE   |    committed PAGE_READWRITE |
//!                    |   (20 KiB) of PAGE_GUARD      |    PAGE_GUARD: the first touch
//!                    |   pages                       |    raises the overflow, and the
//!                    |                               |    handler then runs in these pages
//!   base + 1 page    +-------------------------------+
//!                    | hard guard: 1 page, reserved  |    never accessible
//!   base             +-------------------------------+ <- TEB.DeallocationStack
//! ```
//!
//! with `TEB.GuaranteedStackBytes` = [`STACK_GUARANTEE`] for a fresh context (what
//! `SetThreadStackGuarantee(0x5000)` would store; Rust's std uses the same value for its
//! threads). The whole guard region (hard and soft, [`GUARD_BYTES`]) is what the registry
//! knows as the stack's guard.
//!
//! # The exception handler
//!
//! A vectored handler, installed first in the chain once per process. For
//! `EXCEPTION_STACK_OVERFLOW` it looks up the running stack's `TEB.DeallocationStack` (the
//! base of a green stack while one runs) and, where the record carries one, the faulting
//! address; for `STATUS_GUARD_PAGE_VIOLATION` and `EXCEPTION_ACCESS_VIOLATION` (a guard hit
//! while the TEB describes another stack) the faulting address. If that lies in a live green
//! stack's guard, it writes the report with `WriteFile` and aborts (`__fastfail`, exit code
//! `0xC0000409`). Anything else continues the search: Rust's std reports overflows of OS
//! thread stacks from its own vectored handler, and other faults end the process as they
//! would without us.

use core::ptr::{self, NonNull};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, Once, PoisonError};

use windows_sys::Win32::Foundation::{
    ERROR_INVALID_PARAMETER, EXCEPTION_ACCESS_VIOLATION, EXCEPTION_STACK_OVERFLOW,
    STATUS_GUARD_PAGE_VIOLATION,
};
use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};
use windows_sys::Win32::System::Diagnostics::Debug::{
    AddVectoredExceptionHandler, EXCEPTION_CONTINUE_SEARCH, EXCEPTION_POINTERS,
};
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RELEASE, MEM_RESERVE, MEMORY_BASIC_INFORMATION, PAGE_GUARD, PAGE_NOACCESS,
    PAGE_READWRITE, VirtualAlloc, VirtualFree, VirtualQuery,
};
use windows_sys::Win32::System::SystemInformation::{GetSystemInfo, SYSTEM_INFO};

use super::{StackError, overflow};

/// Stack left to an overflow handler on a green stack: the soft guard's size and a fresh
/// context's `TEB.GuaranteedStackBytes`. 0x5000 is what Rust's std passes to
/// `SetThreadStackGuarantee` for its own threads; our handler needs far less (the exception
/// frame, a 300-byte message buffer and `WriteFile`), chained handlers may need more.
pub(crate) const STACK_GUARANTEE: usize = 0x5000;

/// The whole guard below a green stack: one hard guard page plus the soft guard.
pub(crate) const GUARD_BYTES: usize = 4096 + STACK_GUARANTEE;

/// The page size, from `GetSystemInfo` (4 KiB on every x86_64 Windows).
pub(crate) fn query_page_size() -> usize {
    // SAFETY: all-zero is a valid SYSTEM_INFO (plain integers and pointers).
    let mut info: SYSTEM_INFO = unsafe { core::mem::zeroed() };
    // SAFETY: `info` is valid for writes; GetSystemInfo cannot fail.
    unsafe { GetSystemInfo(&mut info) };
    info.dwPageSize as usize
}

/// A `VirtualAlloc` reservation of `guard + usable` bytes: a hard guard page (reserved only),
/// the soft guard (`PAGE_READWRITE | PAGE_GUARD`) and the usable region (`PAGE_READWRITE`),
/// both committed. Released on drop.
pub(crate) struct Mapping {
    /// Lowest address of the reservation (the hard guard page; `TEB.DeallocationStack`).
    base: NonNull<u8>,
    /// Guard bytes at the low end (hard + soft); a whole number of pages.
    guard: usize,
    /// Usable bytes above the guard; a whole number of pages.
    usable: usize,
}

// SAFETY: a `Mapping` exclusively owns its reservation and hands out only addresses;
// VirtualFree may run on any thread, so moving it to another thread is sound.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Reserves `guard + usable` bytes, commits the usable region and the soft guard, and
    /// records the stack's bounds for [`teb_limits`].
    ///
    /// `usable` and `guard` must be whole pages, `guard` at least two pages, and their sum
    /// must not exceed `isize::MAX` (checked by `usable_size`); a violation is an internal
    /// error.
    ///
    /// # Errors
    ///
    /// [`StackError::Map`] if the reservation or the commit of the usable region fails (out
    /// of address space, or the commit limit is reached), [`StackError::Protect`] if
    /// committing the guard fails (the reservation is released again in both cases).
    pub(crate) fn new(usable: usize, guard: usize) -> Result<Mapping, StackError> {
        let page = super::page_size();
        let total = match usable.checked_add(guard) {
            Some(total)
                if usable.is_multiple_of(page)
                    && guard.is_multiple_of(page)
                    && guard >= 2 * page
                    && usable > 0 =>
            {
                total
            }
            _ => crate::fatal::fatal!(
                "stack mapping of {usable} usable + {guard} guard bytes is not whole pages"
            ),
        };
        let map_err = |source| StackError::Map {
            size: usable,
            source,
        };
        // SAFETY: reserving fresh address space has no preconditions.
        let base = unsafe { VirtualAlloc(ptr::null(), total, MEM_RESERVE, PAGE_NOACCESS) };
        let Some(base) = NonNull::new(base.cast::<u8>()) else {
            let err = io::Error::last_os_error();
            // A size beyond the user address space is refused as an invalid parameter (the
            // only one a reservation anywhere can have wrong); it is running out of address
            // space all the same, as ENOMEM is on Unix.
            let err = if err.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) {
                io::Error::new(io::ErrorKind::OutOfMemory, err)
            } else {
                err
            };
            return Err(map_err(err));
        };
        // Own the reservation before anything else can fail: from here on, an early return
        // drops `mapping`, which releases it.
        let mapping = Mapping {
            base,
            guard,
            usable,
        };
        // SAFETY: `bottom .. bottom + usable` lies inside our reservation.
        let usable_ok =
            unsafe { VirtualAlloc(mapping.bottom().cast(), usable, MEM_COMMIT, PAGE_READWRITE) };
        if usable_ok.is_null() {
            return Err(map_err(io::Error::last_os_error()));
        }
        // SAFETY: `base + page .. bottom` lies inside our reservation and nothing uses it.
        let guard_ok = unsafe {
            VirtualAlloc(
                base.as_ptr().add(page).cast(),
                guard - page,
                MEM_COMMIT,
                PAGE_READWRITE | PAGE_GUARD,
            )
        };
        if guard_ok.is_null() {
            return Err(StackError::Protect {
                size: usable,
                source: io::Error::last_os_error(),
            });
        }
        BOUNDS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                mapping.bottom() as usize,
                (mapping.top() as usize, base.as_ptr() as usize),
            );
        Ok(mapping)
    }

    /// Lowest address of the reservation: the start of the guard.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Lowest usable byte, just above the guard.
    pub(crate) fn bottom(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard)
    }

    /// One past the highest usable byte.
    pub(crate) fn top(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard + self.usable)
    }

    /// Usable bytes.
    pub(crate) fn usable(&self) -> usize {
        self.usable
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // Forget the bounds first, so no new context is given TEB fields for a range that is
        // about to be released (a missing entry is fine: `new` may have failed before).
        BOUNDS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(self.bottom() as usize));
        // SAFETY: `base` is the start of a reservation we own; MEM_RELEASE with size 0
        // releases all of it, committed pages included. Nothing references it any more.
        let ok = unsafe { VirtualFree(self.base.as_ptr().cast(), 0, MEM_RELEASE) };
        debug_assert!(
            ok != 0,
            "VirtualFree failed: {}",
            io::Error::last_os_error()
        );
    }
}

/// `bottom -> (top, base)` of every live stack mapping, for [`teb_limits`]. A lookup is one
/// uncontended lock and a B-tree search; it runs once per context creation, never on a
/// switch.
static BOUNDS: Mutex<BTreeMap<usize, (usize, usize)>> = Mutex::new(BTreeMap::new());

/// The TEB stack fields a fresh context starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TebLimits {
    /// `NT_TIB.StackBase`: one past the highest address of the stack.
    pub(crate) stack_base: usize,
    /// `NT_TIB.StackLimit`: the lowest committed, accessible address.
    pub(crate) stack_limit: usize,
    /// `TEB.DeallocationStack`: the base of the allocation, below the guard.
    pub(crate) deallocation_stack: usize,
    /// `TEB.GuaranteedStackBytes`.
    pub(crate) guaranteed_stack_bytes: u32,
}

/// The TEB stack fields for a context whose stack contains `addr` (the `top` given to
/// `raw::init`, anywhere in a stack's usable region or at its top).
///
/// For a [`Stack`](super::Stack) of this crate the answer is exact: its top, bottom and
/// base, and [`STACK_GUARANTEE`]. For other memory (a caller of `raw::init` with its own
/// stack) it comes from `VirtualQuery`: the top of the committed region containing
/// `addr - 1`, and the allocation base as both limit and deallocation stack (so the whole
/// allocation counts as stack), with no guarantee.
pub(crate) fn teb_limits(addr: usize) -> TebLimits {
    let found = BOUNDS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .range(..addr)
        .next_back()
        .map(|(&bottom, &(top, base))| (bottom, top, base));
    if let Some((bottom, top, base)) = found
        && addr <= top
    {
        return TebLimits {
            stack_base: top,
            stack_limit: bottom,
            deallocation_stack: base,
            guaranteed_stack_bytes: STACK_GUARANTEE as u32,
        };
    }
    foreign_teb_limits(addr)
}

/// [`teb_limits`] for memory that is not one of our stacks.
#[cold]
fn foreign_teb_limits(addr: usize) -> TebLimits {
    // SAFETY: all-zero is a valid MEMORY_BASIC_INFORMATION.
    let mut info: MEMORY_BASIC_INFORMATION = unsafe { core::mem::zeroed() };
    // SAFETY: VirtualQuery only reads the address space map and writes `info`.
    let n = unsafe {
        VirtualQuery(
            addr.wrapping_sub(1) as *const _,
            &mut info,
            size_of::<MEMORY_BASIC_INFORMATION>(),
        )
    };
    if n == 0 {
        // Not even mapped: the caller broke raw::init's contract. Describe just `addr`.
        return TebLimits {
            stack_base: addr,
            stack_limit: 0,
            deallocation_stack: 0,
            guaranteed_stack_bytes: 0,
        };
    }
    let base = info.AllocationBase as usize;
    TebLimits {
        stack_base: info.BaseAddress as usize + info.RegionSize,
        stack_limit: base,
        deallocation_stack: base,
        guaranteed_stack_bytes: 0,
    }
}

/// Installs [`handle_exception`] as the first vectored exception handler, once per process.
pub(crate) fn install_fault_handlers() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `handle_exception` has the PVECTORED_EXCEPTION_HANDLER signature and lives
        // for the whole process; we never remove it.
        unsafe { AddVectoredExceptionHandler(1, Some(handle_exception)) };
    });
}

/// Windows has no alternate signal stack; the soft guard and the guarantee take its role.
pub(crate) fn ensure_sigaltstack() {}

/// The vectored exception handler: reports an overflow of a green stack and aborts, and lets
/// every other exception continue. Uses no heap and takes no lock (the faulting thread may
/// hold any lock); it runs on the soft guard's pages of an overflowed green stack.
unsafe extern "system" fn handle_exception(info: *mut EXCEPTION_POINTERS) -> i32 {
    // SAFETY: the dispatcher passes valid EXCEPTION_POINTERS with a valid record.
    let record = unsafe { &*(*info).ExceptionRecord };
    let fault_addr = (record.NumberParameters >= 2).then(|| record.ExceptionInformation[1]);
    let candidates = match record.ExceptionCode {
        // Raised for the stack the TEB describes, which while a green thread runs is its
        // stack; Windows passes the faulting address too, Wine does not.
        EXCEPTION_STACK_OVERFLOW => [Some(current_deallocation_stack()), fault_addr],
        // A guard touched while the TEB describes another stack (or not recognised as a
        // stack): the faulting address says whose guard it is.
        STATUS_GUARD_PAGE_VIOLATION | EXCEPTION_ACCESS_VIOLATION => [fault_addr, None],
        _ => return EXCEPTION_CONTINUE_SEARCH,
    };
    for addr in candidates.into_iter().flatten() {
        if overflow::report_if_guard_hit(addr, write_stderr) {
            std::process::abort();
        }
    }
    EXCEPTION_CONTINUE_SEARCH
}

/// `TEB.DeallocationStack` of the running context.
fn current_deallocation_stack() -> usize {
    let value: usize;
    // SAFETY: gs points at the current thread's TEB on x86_64 Windows; the load has no side
    // effects.
    unsafe {
        core::arch::asm!(
            "mov {}, qword ptr gs:[0x1478]",
            out(reg) value,
            options(nostack, readonly, preserves_flags),
        );
    }
    value
}

/// Writes all of `bytes` to the standard error handle with `WriteFile` (no locks, no heap).
fn write_stderr(mut bytes: &[u8]) {
    // SAFETY: GetStdHandle has no preconditions.
    let handle = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    while !bytes.is_empty() {
        let mut written = 0u32;
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        // SAFETY: `bytes` is readable for `len` bytes and `written` is valid for a write; a
        // null or invalid handle makes WriteFile fail, which ends the loop.
        let ok = unsafe { WriteFile(handle, bytes.as_ptr(), len, &mut written, ptr::null_mut()) };
        if ok == 0 || written == 0 {
            return;
        }
        bytes = bytes.get(written as usize..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Stack, guard_size, page_size};
    use super::*;

    #[test]
    fn guard_is_hard_page_plus_guarantee() {
        assert_eq!(page_size(), 4096);
        assert_eq!(guard_size(), GUARD_BYTES);
        let stack = Stack::new(64 * 1024).unwrap();
        let query = |addr: usize| {
            // SAFETY: all-zero is a valid MEMORY_BASIC_INFORMATION.
            let mut info: MEMORY_BASIC_INFORMATION = unsafe { core::mem::zeroed() };
            // SAFETY: VirtualQuery only writes `info`.
            let n = unsafe {
                VirtualQuery(
                    addr as *const _,
                    &mut info,
                    size_of::<MEMORY_BASIC_INFORMATION>(),
                )
            };
            assert_ne!(n, 0);
            (info.State, info.Protect, info.RegionSize)
        };
        let base = stack.base() as usize;
        let bottom = stack.bottom() as usize;
        assert_eq!(query(base), (MEM_RESERVE, 0, 4096));
        assert_eq!(
            query(base + 4096),
            (MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD, STACK_GUARANTEE)
        );
        assert_eq!(query(bottom), (MEM_COMMIT, PAGE_READWRITE, stack.size()));
    }

    #[test]
    fn teb_limits_are_exact_for_our_stacks() {
        let stack = Stack::new(64 * 1024).unwrap();
        let expect = TebLimits {
            stack_base: stack.top() as usize,
            stack_limit: stack.bottom() as usize,
            deallocation_stack: stack.base() as usize,
            guaranteed_stack_bytes: STACK_GUARANTEE as u32,
        };
        for addr in [
            stack.top() as usize,
            stack.top() as usize - 16,
            stack.top() as usize - 3 * 4096,
            stack.bottom() as usize + 16,
        ] {
            assert_eq!(teb_limits(addr), expect, "{addr:#x}");
        }
        let top = stack.top() as usize;
        drop(stack);
        assert_ne!(
            teb_limits(top).guaranteed_stack_bytes,
            STACK_GUARANTEE as u32
        );
    }

    #[test]
    fn teb_limits_of_foreign_memory_cover_the_allocation() {
        let mut buf = vec![0u8; 1 << 20];
        let top = (buf.as_mut_ptr() as usize + (1 << 19)) & !15;
        let limits = teb_limits(top);
        assert!(limits.stack_limit <= buf.as_ptr() as usize);
        assert!(limits.stack_base >= top);
        assert_eq!(limits.guaranteed_stack_bytes, 0);
    }
}
