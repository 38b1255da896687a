//! Placeholder for platforms without a stack implementation (neither Unix nor Windows; none
//! of them has a context-switch backend either, so this only keeps `cargo check` working).

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
