//! Valgrind client requests: tell valgrind where every green-thread stack lies.
//!
//! Valgrind tracks the stack pointer. When it jumps from one stack to another (a context
//! switch) and valgrind does not know both are stacks, memcheck takes the jump for a huge
//! frame allocation or release and reports errors on every access that follows ("client
//! switching stacks?", invalid reads and writes near the stack pointer). Registering each
//! stack's usable range with `VALGRIND_STACK_REGISTER` lets valgrind recognise the jump as a
//! switch; `VALGRIND_STACK_DEREGISTER` removes it before the memory is unmapped, so no
//! registration outlives its mapping (corosensei and Boost.Context do the same).
//!
//! # The client-request sequence
//!
//! A client request is a "special instruction sequence" that valgrind's JIT recognises and
//! that does nothing on real hardware: rotations of a scratch register by amounts that add
//! up to 128 bits (twice the register width, so the register ends unchanged), followed by a
//! no-op exchange or `orr` of a register with itself, which selects the operation. On
//! x86_64 (valgrind.h, `PLAT_amd64_*`):
//!
//! ```text
//! rol rdi, 3 ; rol rdi, 13 ; rol rdi, 61 ; rol rdi, 51   ; preamble, rdi unchanged
//! xchg rbx, rbx                                          ; rdx = client_request(rax)
//! ```
//!
//! with `rax` pointing at six words (request code and five arguments) and `rdx` holding the
//! default result on entry and the result on exit. On aarch64 (`PLAT_arm64_linux`):
//!
//! ```text
//! ror x12, x12, #3 ; ror x12, x12, #13 ; ror x12, x12, #51 ; ror x12, x12, #61
//! orr x10, x10, x10                                      ; x3 = client_request(x4)
//! ```
//!
//! with `x4` pointing at the six words and `x3` the default and result. Outside valgrind the
//! sequence leaves every register as it was, so the default (0) comes back: registration is
//! a no-op costing a handful of cycles, paid only when a stack is mapped or unmapped, never
//! per switch or per pooled spawn. Other targets (riscv64, Windows, where valgrind does not
//! run) compile to nothing.
//!
//! The request codes come from valgrind.h's `Vg_ClientRequest` enum:
//! `VG_USERREQ__STACK_REGISTER = 0x1501`, `VG_USERREQ__STACK_DEREGISTER = 0x1502`,
//! `VG_USERREQ__RUNNING_ON_VALGRIND = 0x1001`.

/// `VG_USERREQ__RUNNING_ON_VALGRIND`.
#[cfg_attr(not(test), allow(dead_code))]
const RUNNING_ON_VALGRIND: usize = 0x1001;
/// `VG_USERREQ__STACK_REGISTER`: args (lowest byte, highest byte); returns a stack id.
const STACK_REGISTER: usize = 0x1501;
/// `VG_USERREQ__STACK_DEREGISTER`: args (stack id).
const STACK_DEREGISTER: usize = 0x1502;

/// Issues one client request and returns valgrind's answer, or `default` outside valgrind.
#[inline(never)]
fn request(default: usize, code: usize, a1: usize, a2: usize) -> usize {
    let args: [usize; 6] = [code, a1, a2, 0, 0, 0];
    cfg_if::cfg_if! {
        if #[cfg(all(target_arch = "x86_64", not(windows), not(miri)))] {
            let mut result = default;
            // SAFETY: the sequence is valgrind's x86_64 client-request marker. On hardware
            // it rotates rdi by 128 bits in all (unchanged) and exchanges rbx with itself,
            // so only the flags change (not declared preserved). Under valgrind, the core
            // reads the six words at rax (valid, on our stack, hence no `nomem`) and writes
            // the result to rdx, declared as an in/out operand.
            unsafe {
                core::arch::asm!(
                    "rol rdi, 3",
                    "rol rdi, 13",
                    "rol rdi, 61",
                    "rol rdi, 51",
                    "xchg rbx, rbx",
                    inout("rdx") result,
                    in("rax") args.as_ptr(),
                    options(nostack),
                );
            }
            result
        } else if #[cfg(all(target_arch = "aarch64", not(windows), not(miri)))] {
            let mut result = default;
            // SAFETY: valgrind's aarch64 client-request marker. On hardware it rotates x12 by
            // 128 bits in all (unchanged) and ORs x10 with itself (unchanged); flags are not
            // touched. Under valgrind, the core reads the six words at x4 and writes the
            // result to x3, declared as an in/out operand.
            unsafe {
                core::arch::asm!(
                    "ror x12, x12, #3",
                    "ror x12, x12, #13",
                    "ror x12, x12, #51",
                    "ror x12, x12, #61",
                    "orr x10, x10, x10",
                    inout("x3") result,
                    in("x4") args.as_ptr(),
                    options(nostack),
                );
            }
            result
        } else {
            let _ = (code, a1, a2, args);
            default
        }
    }
}

/// Registers `lo .. hi` (lowest usable byte, one past the highest) as a stack; returns the id
/// for [`deregister`], 0 outside valgrind.
#[inline]
pub(crate) fn register(lo: usize, hi: usize) -> usize {
    // valgrind wants the highest addressable byte, inclusive.
    request(0, STACK_REGISTER, lo, hi - 1)
}

/// Withdraws a registration made by [`register`]; nothing for id 0 (outside valgrind).
#[inline]
pub(crate) fn deregister(id: usize) {
    if id != 0 {
        request(0, STACK_DEREGISTER, id, 0);
    }
}

/// How many valgrind layers we run under: 0 natively.
#[cfg(test)]
pub(crate) fn running_on_valgrind() -> usize {
    request(0, RUNNING_ON_VALGRIND, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_noops_natively() {
        // Run natively (not under valgrind) every request returns its default, and the
        // registers the sequence touches come back unchanged (the compiler relies on it).
        if running_on_valgrind() != 0 {
            // Under valgrind: a registration must produce a usable, nonzero id on the
            // targets that issue requests.
            let id = register(0x1000_0000, 0x1001_0000);
            assert!(cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) || id != 0);
            deregister(id);
            return;
        }
        assert_eq!(request(77, RUNNING_ON_VALGRIND, 0, 0), 77);
        assert_eq!(register(0x1000_0000, 0x1001_0000), 0);
        deregister(0);
    }
}
