// ==========================================================================================
//  greenthread context switch: aarch64, AAPCS64, Mach-O (macOS, iOS)
// ==========================================================================================
//
//  KEEP IN SYNC WITH ITSELF: the stores in greenthread_aarch64_switch and in the inline asm
//  of src/context/aarch64.rs (`switch`, `resume`, `suspend`), the frame table below and
//  `SwitchFrame` in that file describe one layout; that Rust file pins every offset with
//  `const_assert_eq!`, feeds the ones the code uses as const operands, and a unit test
//  parses the table below. ALSO KEEP IN SYNC
//  WITH arch/aarch64_aapcs_elf.s: this file is its Mach-O twin, with the same instructions
//  and comments; the unit test `context::tests::macho_variants_match_elf` compares the two
//  line by line. The only differences are the Mach-O spellings: the section is
//  `__TEXT,__text`, and there are no `.type`/`.size` directives and no `.note.GNU-stack`
//  section (symbol names come from Rust, with the Mach-O underscore).
//
//  Derived from x86_64_sysv_elf.s, which carries the full rationale (who saves what, why the
//  symmetric switch is branched to and never returns with `ret` while the asymmetric
//  Coroutine pair pairs `blr` with `ret`, the FP control policy, the trampoline's job). Only
//  the differences are commented here; the frame table and the register contract below are
//  complete.
//
//  Purpose      The symmetric switch (save the running context's callee-saved state on its
//               own stack, publish its stack pointer, resume another context from the stack
//               pointer it published), the first-entry trampolines of a fresh context, and
//               the frame shared with the asymmetric resume/suspend pair of `Coroutine`
//               (inline asm in the Rust file).
//  Included by  src/context/aarch64.rs, with global_asm!(include_str!(..)), on Apple
//               targets (ELF targets include aarch64_aapcs_elf.s instead).
//
//  ABI (AAPCS64, "Procedure Call Standard for the Arm 64-bit Architecture", 6.1):
//    callee-saved   x19-x28, x29 (fp), sp, the low 64 bits of v8-v15 (d8-d15).
//    x30 (lr)       the return address; not preserved by calls (bl writes it). The symmetric
//                   switch keeps the resume address in the frame instead, so lr is just
//                   clobbered; the asymmetric pair uses it as a call does (`blr`/`ret`).
//    x18            the platform register: reserved on Apple and Windows, a temporary on
//                   Linux. Never read or written here (it is not in the frame, and the Rust
//                   side leaves it to clobber_abi, which clobbers it only where it is free).
//    x16, x17       IP0/IP1: a linker veneer for the `b` into the switch may use them; the
//                   Rust side declares them clobbered (clobber_abi("C")).
//    FPCR           "a global register" whose rounding (RMode, bits 22-23), flush-to-zero
//                   (FZ, FZ16), default-NaN (DN), AH/FIZ and trap-enable bits are changed only
//                   by support functions (fesetround and friends) and are otherwise preserved
//                   across calls: thread state, like x86_64's MXCSR control bits. Not
//                   switched here: contexts that opt in keep their own from Rust
//                   (src/context/fp.rs, `mrs`/`msr fpcr`), as on x86_64.
//    FPSR           cumulative exception flags; "not preserved across a public interface",
//                   so caller-saved and shared by the contexts of a thread (as MXCSR 0..5).
//    alignment      sp % 16 == 0 at all times (the hardware checks sp-based accesses).
//    red zone       none on Linux; 128 bytes on Apple. The Rust side enters from inline asm
//                   without `nostack`, so no red-zone data is live across the switch.
//
//  Who saves what
//    Every switch is entered from inline asm in src/context/aarch64.rs, which saves x29 and
//    x19 (LLVM reserves them: frame pointer and base pointer) and declares x20-x28, d8-d15
//    (v8-v15), lr and every caller-saved register clobbered, so the compiler saves only the
//    live ones. The asm saves the rest: the resume address and sp.
//
//  The return-stack predictor (see x86_64_sysv_elf.s)
//    - Symmetric `switch`: the inline asm pushes x29/x19, puts its resume address in x3 and
//      branches here (`b`); this code resumes the target with `br`, which neither pushes
//      nor pops the return-address stack.
//    - Asymmetric `resume`/`suspend`: `resume` loads the coroutine's resume address from
//      its frame and calls it with `blr` (lr = the return address, pushed on the
//      return-address stack); the coroutine stores that lr on the resumer's stack and
//      records the resumer's sp in `Link::caller`. `suspend` saves its frame, reloads the
//      resumer's lr and sp and returns with `ret`, which pops the matching entry.
//
//  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
//  offset 0x00. x29/x19 are stored first (one `stp`), then the resume address (one `str`
//  with writeback, which keeps sp 16-aligned: the slot at 0x08 is padding, never read).
//  FRAME_SIZE = 4 x 8 = 0x20.
//
//    offset  register
//    0x00    pc
//    0x10    x29
//    0x18    x19
//
//  `pc` is where the context resumes: the label after the branch in the Rust inline asm
//  (which then reloads x29 and x19), or a trampoline for a fresh context. A coroutine's
//  resumer is not suspended with this frame: its inline asm stores x29/x19, `blr` leaves the
//  return address in lr, and the coroutine stores lr below them on the resumer's stack
//  (16 bytes, padded), where `Link::caller` points.
//
//  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
//
//    T - 0x08  0                  frame record: return address 0 (ends frame walks)
//    T - 0x10  0                  frame record: previous frame pointer 0
//    T - 0x18  entry              x19 slot: `extern "C" fn(usize, *mut u8) -> !`
//    T - 0x20  data               x29 slot: second argument of the entry function
//    T - 0x28  (padding)
//    T - 0x30  trampoline         pc slot: `trampoline` (symmetric) or `start` (Coroutine)
//
//  Symbols: SWITCH, START and TRAMPOLINE are `sym` operands carrying the versioned names
//  (see x86_64_sysv_elf.s, Symbols); never spell a routine name out here.
//  Operands substituted by Rust: LINK_CALLER (offset of the resumer's stack pointer in
//  `Link`).
//
//  CFI: the switch describes its frame exactly, so a profiler that samples inside it still
//  unwinds into the switching function: on entry CFA = sp + 16 (the caller's sp before the
//  inline asm pushed x29/x19), x29 and x19 are at CFA-16 and CFA-8, and the return address
//  is the resume address in x3; after the stack switch the same rules hold for the target,
//  with the return address in x5. (x86_64_sysv_elf.s only tracks its own pushes.) The
//  trampolines end the chain: `.cfi_undefined x30` for DWARF unwinders and a zeroed frame
//  record (fp = 0, lr = 0) for frame-pointer walkers; a `brk #0` follows the call.
//
//  BTI/PAC: every entry starts with the landing pad its callers may need, a NOP on cores
//  without BTI, so the code stays valid in binaries built with -Zbranch-protection=bti:
//  `hint #36` (`bti j`) where only `br` arrives (the symmetric resume label), `hint #34`
//  (`bti c`) where `blr` arrives (`start`, the coroutine's resume label) and on the switch
//  routine (reached by a direct `b`, which a linker veneer or PLT may turn into
//  `br x16`: a `bti c` target), `hint #38` (`bti jc`) on `trampoline` (both). No pointer
//  authentication: resume addresses sit unsigned in the suspended context's own frame, and
//  the resumer's lr sits unsigned on its own stack (as in Boost.Context and corosensei),
//  where only code that can already write that stack could change it.

    .pushsection __TEXT,__text,regular,pure_instructions

// ------------------------------------------------------------------------------------------
//  greenthread_aarch64_switch
//
//  At this point our register state contains:
//    x0  = *mut usize: where the caller's stack pointer is published
//    x1  = stack pointer of the context to resume (a frame laid out as in the table)
//    x2  = the value passed to the resumed context (left untouched)
//    x3  = address the caller resumes at (the label after its branch)
//    sp  = the caller's stack with x29 and x19 stored on it
//  On leaving, in the resumed context:
//    x2  = the value passed; x0 = the save slot of the context that switched to us
//    sp  = the resumed context's stack pointing at its x29 slot; x4, x5 clobbered
// ------------------------------------------------------------------------------------------
    .globl {SWITCH}
    .p2align 4
{SWITCH}:
    .cfi_startproc
    .cfi_def_cfa_offset 16
    .cfi_offset x29, -16
    .cfi_offset x19, -8
    .cfi_register x30, x3
    // bti c: reached by a direct `b`, but a linker veneer for a far `b` arrives with
    // `br x16`, which an enforced-BTI binary lets land only on `bti c` (or `bti jc`).
    hint #34
    // Resume address at 0x00 (must match `SwitchFrame`).
    str x3, [sp, #-16]!
    .cfi_adjust_cfa_offset 16
    .cfi_offset x30, -32

    // Publish our stack pointer (sp cannot be stored directly), load the target's resume
    // address, and switch: sp ends above the popped slot pair.
    mov x4, sp
    str x4, [x0]
    ldr x5, [x1], #16
    mov sp, x1
    .cfi_def_cfa_offset 16
    .cfi_register x30, x5
    br x5
    .cfi_endproc

// ------------------------------------------------------------------------------------------
//  greenthread_aarch64_start
//
//  First resume address of a fresh coroutine, reached by the `blr` in `resume`. At this
//  point our register state contains:
//    x0  = *mut Link of the coroutine
//    x1  = its stack pointer, T - 0x30 (the pc slot of the initial frame)
//    x2  = the value passed by the first resume
//    lr  = the resumer's return address; sp = the resumer's stack
//  It stores lr on the resumer's stack and publishes that sp in the link (the landing every
//  `suspend` does too), moves to the coroutine's stack at its x29 slot and continues in the
//  trampoline.
// ------------------------------------------------------------------------------------------
    .globl {START}
    .p2align 4
{START}:
    .cfi_startproc
    .cfi_undefined x30
    // bti c: reached by `blr`.
    hint #34
    str x30, [sp, #-16]!
    mov x4, sp
    str x4, [x0, #{LINK_CALLER}]
    add sp, x1, #16
    b {TRAMPOLINE}
    .cfi_endproc

// ------------------------------------------------------------------------------------------
//  greenthread_aarch64_trampoline
//
//  First resume address of a fresh context (symmetric switch), and the tail of `start`. At
//  this point our register state contains:
//    x2  = the value passed by the first switch
//    sp  = T - 0x20, pointing at the initial frame's x29 slot (see the table)
//  It loads data and entry, which leaves sp = T - 0x10 pointing at the zeroed frame record,
//  makes x29 point at that record, and calls entry(x2, data), which never returns.
// ------------------------------------------------------------------------------------------
    .globl {TRAMPOLINE}
    .p2align 4
{TRAMPOLINE}:
    .cfi_startproc
    // CFA = T throughout; no caller: DWARF unwinders stop here.
    .cfi_def_cfa_offset 32
    .cfi_undefined x30
    // bti jc: reached by the `br x5` at the end of the switch (a `bti j` target) and by a
    // direct `b` from start, which a linker veneer may turn into `br x16` (a `bti c` one).
    hint #38
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
