//! The overflow report, shared by every platform's fault handler.
//!
//! It runs inside a signal handler (or an exception handler on a nearly exhausted stack), so
//! it uses nothing that allocates, locks or formats: the message is assembled byte by byte
//! into a fixed buffer on the handler's stack, integers are converted by hand, and the
//! platform's `write_stderr` sends it with raw `write(2)` calls.

use super::registry::{self, Hit, NAME_CAP};

/// Capacity of the report buffer: the fixed text, two 20-digit integers, an ident and a name
/// of at most [`NAME_CAP`] bytes fit with room to spare.
const MSG_CAP: usize = 128 + 3 * 20 + NAME_CAP;

/// A fixed-size byte buffer that silently drops what does not fit (never panics).
pub(crate) struct MsgBuf {
    bytes: [u8; MSG_CAP],
    len: usize,
}

impl MsgBuf {
    pub(crate) const fn new() -> MsgBuf {
        MsgBuf {
            bytes: [0; MSG_CAP],
            len: 0,
        }
    }

    pub(crate) fn push_bytes(&mut self, s: &[u8]) {
        for &b in s {
            if let Some(slot) = self.bytes.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    /// Appends `n` in decimal.
    pub(crate) fn push_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push_bytes(&digits[i..]);
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Writes the report for `hit`:
///
/// ```text
/// greenthread: green thread 7 'worker' (stack #12, 1048576 bytes) has overflowed its stack
/// fatal runtime error: stack overflow, aborting
/// ```
///
/// The ident and the name are left out when unset.
pub(crate) fn format_report(hit: &Hit, out: &mut MsgBuf) {
    out.push_bytes(b"\ngreenthread: green thread ");
    if hit.ident != 0 {
        out.push_u64(hit.ident);
        out.push_bytes(b" ");
    }
    if hit.name_len != 0 {
        out.push_bytes(b"'");
        out.push_bytes(&hit.name[..hit.name_len.min(NAME_CAP)]);
        out.push_bytes(b"' ");
    }
    out.push_bytes(b"(stack #");
    out.push_u64(hit.id);
    out.push_bytes(b", ");
    out.push_u64(hit.size as u64);
    out.push_bytes(b" bytes) has overflowed its stack\n");
    out.push_bytes(b"fatal runtime error: stack overflow, aborting\n");
}

/// Called by a platform fault handler with the faulting address. If it lies in the guard of
/// a live stack, writes the report with `write_stderr` and returns `true` (the caller then
/// aborts); otherwise returns `false` without side effects.
///
/// Async-signal-safe as long as `write_stderr` is.
pub(crate) fn report_if_guard_hit(addr: usize, write_stderr: impl Fn(&[u8])) -> bool {
    let Some(hit) = registry::find(addr) else {
        return false;
    };
    let mut msg = MsgBuf::new();
    format_report(&hit, &mut msg);
    write_stderr(msg.as_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(ident: u64, name: &str) -> Hit {
        let mut bytes = [0; NAME_CAP];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Hit {
            id: 12,
            size: 1_048_576,
            ident,
            name: bytes,
            name_len: name.len(),
        }
    }

    fn report(hit: &Hit) -> String {
        let mut msg = MsgBuf::new();
        format_report(hit, &mut msg);
        String::from_utf8(msg.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn report_wording() {
        assert_eq!(
            report(&hit(7, "worker")),
            "\ngreenthread: green thread 7 'worker' (stack #12, 1048576 bytes) has overflowed \
             its stack\nfatal runtime error: stack overflow, aborting\n"
        );
        assert!(report(&hit(0, "")).starts_with(
            "\ngreenthread: green thread (stack #12, 1048576 bytes) has overflowed its stack\n"
        ));
        assert!(report(&hit(0, "w")).contains("green thread 'w' (stack #12"));
    }

    #[test]
    fn longest_report_fits() {
        let mut h = hit(u64::MAX, &"n".repeat(NAME_CAP));
        h.id = u64::MAX;
        h.size = usize::MAX;
        let text = report(&h);
        assert!(
            text.ends_with("fatal runtime error: stack overflow, aborting\n"),
            "{text}"
        );
    }

    #[test]
    fn decimal() {
        for n in [0, 1, 9, 10, 99, 100, 65536, u64::MAX] {
            let mut msg = MsgBuf::new();
            msg.push_u64(n);
            assert_eq!(msg.as_bytes(), n.to_string().as_bytes());
        }
    }

    #[test]
    fn overfull_buffer_truncates_without_panicking() {
        let mut msg = MsgBuf::new();
        for _ in 0..MSG_CAP {
            msg.push_bytes(b"xy");
        }
        assert_eq!(msg.as_bytes().len(), MSG_CAP);
    }
}
