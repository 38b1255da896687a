//! Floating-point control state, for the contexts that opt into keeping their own
//! (`Builder::preserve_fp_env`, `CoroutineBuilder::preserve_fp_env`).
//!
//! The switch never touches this state (see the FP section of `arch/x86_64_sysv_elf.s`):
//! Rust code runs in the default floating-point environment and LLVM assumes it, so a
//! context that did not opt in pays nothing. An opted-in context reads its control state
//! before it switches away, loads the environment its successor expects if that differs,
//! and loads its own again when it comes back; the loads run only when the two differ.
//!
//! What "control state" means per architecture (status flags are caller-saved and shared):
//!
//! | arch | control state | default |
//! |---|---|---|
//! | x86_64 | MXCSR bits 6..15 (DAZ, exception masks, rounding, FZ), x87 control word | `0x1f80`; `0x037f` (System V) or `0x027f` (Windows) |
//! | aarch64 | FPCR (rounding, FZ, FZ16, DN, AH/FIZ, trap enables) | `0` |
//! | riscv64 | `frm` (dynamic rounding mode) | `0` (round to nearest, ties to even) |
//! | arm (32-bit) | FPSCR bits 8-26 (trap enables, Len/Stride, RMode, FZ, DN, AHP) | `0` |

use core::arch::asm;

/// A snapshot of the floating-point control state of the running context: on x86_64 MXCSR
/// in the low 32 bits and the x87 control word above; FPCR on aarch64; frm on riscv64;
/// FPSCR on 32-bit Arm.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FpEnv {
    word: u64,
}

/// The bits of the word that are control state: on x86_64 MXCSR bits 6..15 (bits 0..5 are
/// sticky exception flags, caller-saved) and the x87 control word.
#[cfg(target_arch = "x86_64")]
const CONTROL_MASK: u64 = 0xffff_0000_ffc0;
#[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
const CONTROL_MASK: u64 = u64::MAX;
/// FPSCR control bits: trap enables (8-12, 15), Len and Stride (16-18, 20-21), RMode (22-23),
/// FZ (24), DN (25), AHP (26). The cumulative flags (0-4, 7) and NZCV (28-31) are status.
#[cfg(target_arch = "arm")]
const CONTROL_MASK: u64 = 0x07f7_9f00;

impl FpEnv {
    /// The ABI's initial environment: round to nearest, every exception masked (x86_64),
    /// no traps and no flush-to-zero; x87 precision 64 bits. Rust code assumes it.
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    pub(crate) const DEFAULT: FpEnv = FpEnv {
        word: 0x1f80 | 0x037f << 32,
    };
    /// The ABI's initial environment (Windows x64: the x87 precision is 53 bits).
    #[cfg(all(target_arch = "x86_64", windows))]
    pub(crate) const DEFAULT: FpEnv = FpEnv {
        word: 0x1f80 | 0x027f << 32,
    };
    /// The ABI's initial environment: FPCR = 0 / frm = 0 / FPSCR = 0 (round to nearest).
    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64", target_arch = "arm"))]
    pub(crate) const DEFAULT: FpEnv = FpEnv { word: 0 };

    /// Reads the running context's control state.
    #[inline(always)]
    pub(crate) fn current() -> FpEnv {
        let word: u64;
        #[cfg(target_arch = "x86_64")]
        {
            let (mxcsr, x87cw): (u32, u32);
            // SAFETY: stores MXCSR and the x87 control word in 8 bytes the asm reserves below
            // rsp (not `nostack`, so nothing of the compiler's lives there), reads them back
            // (each with a load of its store's size, so the store forwards) and releases
            // them; no other effect.
            unsafe {
                asm!(
                    "sub rsp, 8",
                    "stmxcsr [rsp]",
                    "fnstcw [rsp + 4]",
                    "mov {m:e}, [rsp]",
                    "movzx {c:e}, word ptr [rsp + 4]",
                    "add rsp, 8",
                    m = out(reg) mxcsr,
                    c = out(reg) x87cw,
                );
            }
            word = mxcsr as u64 | (x87cw as u64) << 32;
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: reads FPCR; no other effect.
        unsafe {
            asm!("mrs {w}, fpcr", w = out(reg) word, options(nomem, nostack, preserves_flags))
        };
        #[cfg(target_arch = "riscv64")]
        // SAFETY: reads frm (the D extension is part of the LP64D ABI); no other effect.
        unsafe {
            asm!(
                ".option push",
                ".option arch, +d",
                "frrm {w}",
                ".option pop",
                w = out(reg) word,
                options(nomem, nostack, preserves_flags),
            )
        };
        #[cfg(target_arch = "arm")]
        {
            let fpscr: u32;
            // SAFETY: reads FPSCR (VFP is part of the hard-float ABI); no other effect.
            unsafe {
                asm!("vmrs {w}, fpscr", w = out(reg) fpscr, options(nomem, nostack, preserves_flags))
            };
            word = fpscr as u64;
        }
        FpEnv { word }
    }

    /// Whether the two snapshots have the same control state (status flags ignored).
    #[inline(always)]
    pub(crate) fn same_control(self, other: FpEnv) -> bool {
        (self.word ^ other.word) & CONTROL_MASK == 0
    }

    /// Makes this the running context's control state.
    ///
    /// # Safety
    /// Rust code assumes the default environment: the caller must be switching to (or
    /// returning into) a context whose contract is to run in this environment, i.e. an
    /// opted-in context's own state, or the environment its resumer had.
    #[inline(always)]
    pub(crate) unsafe fn load(self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: loads MXCSR and the x87 control word from a word read from the hardware
        // (or the ABI defaults), so no reserved bit is set; the 8 bytes below rsp are
        // reserved by the asm and released again.
        unsafe {
            asm!(
                "sub rsp, 8",
                "mov [rsp], {w}",
                "ldmxcsr [rsp]",
                "fldcw [rsp + 4]",
                "add rsp, 8",
                w = in(reg) self.word,
            );
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: writes FPCR with a value read from it (or the default 0).
        unsafe {
            asm!("msr fpcr, {w}", w = in(reg) self.word, options(nomem, nostack, preserves_flags))
        };
        #[cfg(target_arch = "riscv64")]
        // SAFETY: writes frm with a value read from it (or 0 = round to nearest).
        unsafe {
            asm!(
                ".option push",
                ".option arch, +d",
                "fsrm {w}",
                ".option pop",
                w = in(reg) self.word,
                options(nomem, nostack, preserves_flags),
            )
        };
        #[cfg(target_arch = "arm")]
        // SAFETY: writes FPSCR with a value read from it (or 0).
        unsafe {
            asm!("vmsr fpscr, {w}", w = in(reg) self.word as u32, options(nomem, nostack))
        };
    }
}

/// Called by an opted-in context of the symmetric scheduler before it switches away: if its
/// control state is not the default, saves it, loads the default for the next context, and
/// returns it for [`restore`].
#[inline]
pub(crate) fn leave() -> Option<FpEnv> {
    let own = FpEnv::current();
    if own.same_control(FpEnv::DEFAULT) {
        None
    } else {
        // SAFETY: the context we switch to runs in the default environment (Rust's contract
        // for contexts that did not opt in; an opted-in one loads its own on arrival).
        unsafe { FpEnv::DEFAULT.load() };
        Some(own)
    }
}

/// Called by an opted-in context right after it is resumed: reloads what [`leave`] saved.
///
/// # Safety
/// `saved` must be what `leave` returned in this context before the switch.
#[inline]
pub(crate) unsafe fn restore(saved: Option<FpEnv>) {
    if let Some(env) = saved {
        // SAFETY: this context's own state, as it was before it switched away.
        unsafe { env.load() };
    }
}
