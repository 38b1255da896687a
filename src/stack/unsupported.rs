//! Placeholder for platforms without a stack implementation yet (everything but Unix).
//!
//! A Windows implementation belongs here: `VirtualProtect` for the guard (or
//! `PAGE_GUARD`), a vectored exception handler for `EXCEPTION_STACK_OVERFLOW` /
//! `EXCEPTION_ACCESS_VIOLATION` in a guard, with a `SetThreadStackGuarantee` reserve since
//! Windows has no alternate signal stack (see PITFALLS 23).

use std::io;

/// A conservative page size.
pub(crate) fn query_page_size() -> usize {
    4096
}

/// Always fails: guard protection is not implemented on this platform.
///
/// # Safety
///
/// Same contract as the Unix version: `addr .. addr + len` is page aligned, owned by the
/// caller and unreferenced.
pub(crate) unsafe fn protect_none(_addr: *mut u8, _len: usize) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "greenthread: guard pages are not implemented on this platform yet",
    ))
}

/// Nothing to install.
pub(crate) fn install_fault_handlers() {}

/// Nothing to install.
pub(crate) fn ensure_sigaltstack() {}
