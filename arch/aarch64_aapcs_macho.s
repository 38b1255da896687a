// ==========================================================================================
//  greenthread context switch: aarch64, AAPCS64, Mach-O (macOS, iOS)
// ==========================================================================================
//
//  KEEP IN SYNC WITH ITSELF: the stores in greenthread_aarch64_switch, the frame table below
//  and `SwitchFrame` in src/context/aarch64.rs describe one layout; that Rust file pins every
//  offset with `const_assert_eq!` and a unit test parses the table below. ALSO KEEP IN SYNC
//  WITH arch/aarch64_aapcs_elf.s: this file is its Mach-O twin, with the same instructions
//  and comments; the unit test `context::tests::macho_variants_match_elf` compares the two
//  line by line. The only differences are the Mach-O spellings: symbols carry a leading
//  underscore, the section is `__TEXT,__text`, and there are no `.type`/`.size` directives
//  and no `.note.GNU-stack` section.
//
//  Derived from x86_64_sysv_elf.s, which carries the full rationale (who saves what, why the
//  switch is jumped to and never returns with `ret`, the FP control policy, the trampoline's
//  job). Only the differences are commented here; the frame table and the register contract
//  below are complete.
//
//  Purpose      Save the running context's callee-saved state on its own stack, publish its
//               stack pointer, resume another context from the stack pointer it published;
//               and the first-entry trampoline of a fresh context.
//  Included by  src/context/aarch64.rs, with global_asm!(include_str!(..)), on Apple
//               targets (ELF targets include aarch64_aapcs_elf.s instead).
//
//  ABI (AAPCS64, "Procedure Call Standard for the Arm 64-bit Architecture", 6.1):
//    callee-saved   x19-x28, x29 (fp), sp, the low 64 bits of v8-v15 (d8-d15).
//    x30 (lr)       the return address; not preserved by calls (bl writes it). The switch
//                   keeps the resume address in the frame instead, so lr is just clobbered.
//    x18            the platform register: reserved on Apple and Windows, a temporary on
//                   Linux. Never read or written here (it is not in the frame, and the Rust
//                   side leaves it to clobber_abi, which clobbers it only where it is free).
//    x16, x17       IP0/IP1: a linker veneer for the `b` into the switch may use them; the
//                   Rust side declares them clobbered (clobber_abi("C")).
//    FPCR           "a global register" whose rounding (RMode, bits 22-23), flush-to-zero
//                   (FZ, FZ16), default-NaN (DN), AH/FIZ and trap-enable bits are changed only
//                   by support functions (fesetround and friends) and are otherwise preserved
//                   across calls: thread state, like x86_64's MXCSR control bits. Kept per
//                   context here (the whole register: reserved bits read back as written).
//    FPSR           cumulative exception flags; "not preserved across a public interface",
//                   so caller-saved and shared by the contexts of a thread (as MXCSR 0..5).
//    alignment      sp % 16 == 0 at all times (the hardware checks sp-based accesses).
//    red zone       none on Linux; 128 bytes on Apple. The Rust side enters from inline asm
//                   without `nostack`, so no red-zone data is live across the switch.
//
//  Who saves what
//    The inline asm in `switch()` (src/context/aarch64.rs) pushes x29 and x19 (LLVM reserves
//    them: frame pointer and base pointer), puts its resume address in x3 and branches here.
//    It declares x20-x28, d8-d15 (v8-v15), lr and every caller-saved register clobbered, so
//    the compiler saves only the live ones. This routine saves the resume address and FPCR
//    and publishes sp through x0.
//
//  FP control state
//    `mrs x, fpcr` is a plain system-register read (a few cycles, no serialisation), so it
//    runs on every switch; `msr fpcr` may serialise on some cores and runs only when the
//    incoming context's FPCR differs from the outgoing one.
//
//  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
//  offset 0x00. x29/x19 are pushed by the inline asm, fpcr/pc by this routine (one `stp`
//  each, so each pair must stay adjacent and in this order). FRAME_SIZE = 4 x 8 = 0x20.
//
//    offset  register
//    0x00    fpcr
//    0x08    pc
//    0x10    x29
//    0x18    x19
//
//  `pc` is where the context resumes: the label after the branch in the Rust inline asm
//  (which then reloads x29 and x19), or the trampoline for a fresh context.
//
//  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
//
//    T - 0x08  0                  frame record: return address 0 (ends frame walks)
//    T - 0x10  0                  frame record: previous frame pointer 0
//    T - 0x18  entry              x19 slot: `extern "C" fn(usize, *mut u8) -> !`
//    T - 0x20  data               x29 slot: second argument of the entry function
//    T - 0x28  trampoline         pc slot
//    T - 0x30  0                  fpcr: the ABI's initial value (round to nearest, no traps)
//
//  Operands substituted by Rust: none (the offsets are implied by the `stp`/`ldp` pairs and
//  pinned in src/context/aarch64.rs).
//
//  CFI: the switch describes its frame exactly, so a profiler that samples inside it still
//  unwinds into the switching function: on entry CFA = sp + 16 (the caller's sp before the
//  inline asm pushed x29/x19), x29 and x19 are at CFA-16 and CFA-8, and the return address
//  is the resume address in x3; after the stack switch the same rules hold for the target,
//  with the return address in x7. (x86_64_sysv_elf.s only tracks its own pushes.) The
//  trampoline ends the chain: `.cfi_undefined x30` for DWARF unwinders and a zeroed frame
//  record (fp = 0, lr = 0) for frame-pointer walkers; a `brk #0` follows the call.
//
//  BTI/PAC: every target of an indirect branch (the resume label in the inline asm and the
//  trampoline, both reached by `br`) starts with `hint #36` (`bti j`), a NOP on cores without
//  BTI, so the code stays valid in binaries built with -Zbranch-protection=bti. The routine
//  itself is reached by a direct `b` and needs no landing pad. No pointer authentication:
//  the resume address never goes through lr or `ret`, so there is nothing for pac-ret to
//  sign; it sits unsigned in the suspended context's own frame (as in Boost.Context and
//  corosensei), where only code that can already write that stack could change it.

    .pushsection __TEXT,__text,regular,pure_instructions

// ------------------------------------------------------------------------------------------
//  greenthread_aarch64_switch
//
//  At this point our register state contains:
//    x0  = *mut usize: where the caller's stack pointer is published
//    x1  = stack pointer of the context to resume (a frame laid out as in the table)
//    x2  = the value passed to the resumed context (left untouched)
//    x3  = address the caller resumes at (the label after its branch)
//    sp  = the caller's stack with x29 and x19 pushed on it
//  On leaving, in the resumed context:
//    x2  = the value passed; x0 = the save slot of the context that switched to us
//    sp  = the resumed context's stack pointing at its x29 slot; x4-x7 clobbered
// ------------------------------------------------------------------------------------------
    .globl _greenthread_aarch64_switch
    .p2align 4
_greenthread_aarch64_switch:
    .cfi_startproc
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x19, -8
    .cfi_register x30, x3
    // FP control and resume address: fpcr at 0x00, pc at 0x08 (must match `SwitchFrame`).
    mrs x4, fpcr
    stp x4, x3, [sp, #-16]!
    .cfi_adjust_cfa_offset 16
    .cfi_offset x30, -24

    // Publish our stack pointer (sp cannot be stored directly), load the target's FP
    // control value and resume address, and switch: sp ends above the popped pair.
    mov x5, sp
    str x5, [x0]
    ldp x6, x7, [x1], #16
    mov sp, x1
    .cfi_def_cfa_offset 16
    .cfi_register x30, x7

    // Reload FPCR only where it differs from ours.
    cmp x6, x4
    b.ne 2f
1:
    br x7
2:
    msr fpcr, x6
    b 1b
    .cfi_endproc

// ------------------------------------------------------------------------------------------
//  greenthread_aarch64_trampoline
//
//  First resume address of a fresh context. At this point our register state contains:
//    x2  = the value passed by the first switch
//    sp  = T - 0x20, pointing at the initial frame's x29 slot (see the table)
//  It loads data and entry, which leaves sp = T - 0x10 pointing at the zeroed frame record,
//  makes x29 point at that record, and calls entry(x2, data), which never returns.
// ------------------------------------------------------------------------------------------
    .globl _greenthread_aarch64_trampoline
    .p2align 4
_greenthread_aarch64_trampoline:
    .cfi_startproc
    // CFA = T throughout; no caller: DWARF unwinders stop here.
    .cfi_def_cfa_offset 32
    .cfi_undefined x30
    // bti j: reached by the `br` at the end of the switch.
    hint #36
    ldp x1, x19, [sp], #16
    .cfi_def_cfa_offset 16
    mov x29, sp
    .cfi_def_cfa x29, 16
    mov x0, x2
    blr x19
    // entry() never returns.
    brk #0
    .cfi_endproc

    .popsection
