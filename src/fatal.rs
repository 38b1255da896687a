//! Fatal internal errors: corrupted scheduler state, a switch from the wrong stack, resuming a
//! finished context. Unwinding at such a point would run Rust code on a stack whose state is
//! unknown, so these write one line to stderr and abort (Go's `throw`, not `panic`).

/// Writes `greenthread: fatal: <message>` to stderr and aborts the process.
///
/// For internal invariant violations only; recoverable misuse returns an error instead.
macro_rules! fatal {
    ($($arg:tt)*) => {
        $crate::fatal::abort_with(::core::format_args!($($arg)*))
    };
}
pub(crate) use fatal;

/// The body of [`fatal!`]: kept out of line so call sites stay small.
#[cold]
#[inline(never)]
pub(crate) fn abort_with(args: core::fmt::Arguments<'_>) -> ! {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "greenthread: fatal: {args}");
    let _ = err.flush();
    std::process::abort()
}
