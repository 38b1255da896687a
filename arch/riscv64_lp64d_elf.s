# ==========================================================================================
#  greenthread context switch: riscv64, LP64D, ELF
# ==========================================================================================
#
#  KEEP IN SYNC WITH ITSELF: the stores in greenthread_riscv64_switch and in the inline asm
#  of src/context/riscv64.rs (`switch`, `resume`, `suspend`), the frame table below and
#  `SwitchFrame` in that file describe one layout; that Rust file pins every
#  offset with `const_assert_eq!`, feeds the ones the code uses as const operands, and a unit
#  test parses the table below.
#
#  Derived from x86_64_sysv_elf.s, which carries the full rationale (who saves what, why the
#  symmetric switch is jumped to and never returns with `ret` while the asymmetric Coroutine
#  pair pairs `jalr ra` with `ret`, the FP control policy, the trampoline's job). Only the differences are commented here; the frame table and the register contract
#  below are complete.
#
#  Purpose      The symmetric switch (save the running context's callee-saved state on its
#               own stack, publish its stack pointer, resume another context from the stack
#               pointer it published), the first-entry trampolines of a fresh context, and
#               the frame shared with the asymmetric resume/suspend pair of `Coroutine`
#               (inline asm in the Rust file).
#  Included by  src/context/riscv64.rs, with global_asm!(include_str!(..)). build.rs selects
#               this backend only for riscv64 targets with the D extension (LP64D).
#
#  ABI (RISC-V psABI, "Integer/Floating-point Register Convention"):
#    callee-saved   sp, s0-s11 (x8, x9, x18-x27; s0 is the frame pointer), and under the D
#                   float ABI fs0-fs11 (f8, f9, f18-f27) at their full 64 bits.
#    ra             the return address; not preserved by calls. The symmetric switch keeps
#                   the resume address in the frame instead, so ra is just clobbered; the
#                   asymmetric pair uses it as a call does (`jalr ra` / `ret`).
#    gp, tp         global and thread pointer: never allocated, never touched here (tp is the
#                   OS thread's, shared by every context of the thread).
#    fcsr           "must have thread storage duration" (C11 <fenv.h>): thread state, not a
#                   callee-saved register. Its control field frm (rounding mode, bits 5-7) is
#                   not switched here: contexts that opt in keep their own from Rust
#                   (src/context/fp.rs, `frrm`/`fsrm`), as MXCSR's control bits on x86_64. Its fflags
#                   (accrued exception flags, bits 0-4) stay shared by the contexts of a
#                   thread, as MXCSR 0..5 and AArch64's FPSR.
#    alignment      sp % 16 == 0 at every call (and so at every function entry).
#    red zone       none.
#
#  Who saves what
#    Every switch is entered from inline asm in src/context/riscv64.rs, which saves s0 and s1
#    (LLVM reserves them: frame pointer and base pointer) and declares s2-s11, fs0-fs11, ra
#    and every caller-saved register clobbered, so the compiler saves only the live ones.
#    The asm saves the rest: the resume address and sp.
#
#  The return-address stack (see x86_64_sysv_elf.s)
#    - Symmetric `switch`: the inline asm stores s0/s1, puts its resume address in a3 and
#      jumps here (`tail`, through t1); this code resumes the target with `jr a6`. Jumps
#      whose link and source registers are not ra/t0 neither push nor pop the
#      return-address stack (RISC-V unprivileged spec, "Unconditional Jumps", table of hints).
#    - Asymmetric `resume`/`suspend`: `resume` loads the coroutine's resume address from its
#      frame and calls it with `jalr ra` (a push); the coroutine stores ra on the resumer's
#      stack and records the resumer's sp in `Link::caller`. `suspend` saves its frame,
#      reloads the resumer's ra and sp and returns with `ret` (a pop, the matching one).
#
#  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
#  offset 0x00. s0/s1 at 0x10/0x18, the resume address at 0x00; 0x08 is padding that keeps
#  sp 16-aligned, never read. FRAME_SIZE = 4 x 8 = 0x20.
#
#    offset  register
#    0x00    pc
#    0x10    s0
#    0x18    s1
#
#  `pc` is where the context resumes: the label after the jump in the Rust inline asm (which
#  then reloads s0 and s1), or a trampoline for a fresh context. A coroutine's resumer is not
#  suspended with this frame: its inline asm stores s0/s1, `jalr` leaves the return address
#  in ra, and the coroutine stores ra below them on the resumer's stack (16 bytes, padded),
#  where `Link::caller` points.
#
#  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
#
#    T - 0x08  0                  frame record: return address 0 (ends frame walks)
#    T - 0x10  0                  frame record: previous frame pointer 0
#    T - 0x18  entry              s1 slot: `extern "C" fn(usize, *mut u8) -> !`
#    T - 0x20  data               s0 slot: second argument of the entry function
#    T - 0x28  (padding)
#    T - 0x30  trampoline         pc slot: `trampoline` (symmetric) or `start` (Coroutine)
#
#  Symbols: SWITCH, START and TRAMPOLINE are `sym` operands carrying the versioned names
#  (see x86_64_sysv_elf.s, Symbols); never spell a routine name out here.
#  Operands substituted by Rust (named in braces in the code): ROUTINE_PUSH (the bytes the
#  routine pushes: the pc slot and its padding), LINK_CALLER (offset of the resumer's stack
#  pointer in `Link`).
#
#  CFI: as in aarch64_aapcs_elf.s, the switch describes its frame exactly: on entry
#  CFA = sp + 16 (the caller's sp before the inline asm pushed s0/s1), s0 and s1 are at
#  CFA-16 and CFA-8, and the return address is the resume address in a3; after the stack
#  switch the same rules hold for the target, with the return address in a6. The trampolines
#  end the chain: `.cfi_undefined ra` for DWARF unwinders, and s0 points just above a zeroed
#  frame record (the RISC-V frame pointer points at the CFA, with the saved ra at s0-8 and the
#  previous s0 at s0-16) for frame-pointer walkers; `unimp` traps after the call.

    .pushsection .text.greenthread_riscv64,"ax",%progbits
    # The ISA this file may use, stated here rather than inherited from the codegen unit's
    # features (a release build once rejected `frrm` without it). No instruction below needs
    # F or D today; the directive stays so a future one cannot depend on the codegen unit.
    # `.option pop` below restores the assembler's state (r[asm.directives.stateful]).
    .option push
    .option arch, +d

# ------------------------------------------------------------------------------------------
#  greenthread_riscv64_switch
#
#  At this point our register state contains:
#    a0 = *mut usize: where the caller's stack pointer is published
#    a1 = stack pointer of the context to resume (a frame laid out as in the table)
#    a2 = the value passed to the resumed context (left untouched)
#    a3 = address the caller resumes at (the label after its jump)
#    sp = the caller's stack with s0 and s1 stored on it
#  On leaving, in the resumed context:
#    a2 = the value passed; a0 = the save slot of the context that switched to us
#    sp = the resumed context's stack pointing at its s0 slot; a6 clobbered
# ------------------------------------------------------------------------------------------
    .globl {SWITCH}
    .type {SWITCH},%function
    .p2align 2
{SWITCH}:
    .cfi_startproc
    .cfi_def_cfa_offset 16
    .cfi_offset s0, -16
    .cfi_offset s1, -8
    .cfi_register ra, a3
    # Resume address at 0x00 (must match `SwitchFrame`).
    addi sp, sp, -{ROUTINE_PUSH}
    .cfi_adjust_cfa_offset {ROUTINE_PUSH}
    sd a3, 0(sp)
    .cfi_offset ra, -32

    # Publish our stack pointer, load the target's resume address, and switch: sp ends
    # above the slot pair just read.
    sd sp, 0(a0)
    ld a6, 0(a1)
    addi sp, a1, {ROUTINE_PUSH}
    .cfi_def_cfa_offset 16
    .cfi_register ra, a6
    jr a6
    .cfi_endproc
    .size {SWITCH}, . - {SWITCH}

# ------------------------------------------------------------------------------------------
#  greenthread_riscv64_start
#
#  First resume address of a fresh coroutine, reached by the `jalr` in `resume`. At this
#  point our register state contains:
#    a0 = *mut Link of the coroutine
#    a1 = its stack pointer, T - 0x30 (the pc slot of the initial frame)
#    a2 = the value passed by the first resume
#    ra = the resumer's return address; sp = the resumer's stack
#  It stores ra on the resumer's stack and publishes that sp in the link (the landing every
#  `suspend` does too), moves to the coroutine's stack at its s0 slot and continues in the
#  trampoline.
# ------------------------------------------------------------------------------------------
    .globl {START}
    .type {START},%function
    .p2align 2
{START}:
    .cfi_startproc
    .cfi_undefined ra
    addi sp, sp, -16
    sd ra, 0(sp)
    sd sp, {LINK_CALLER}(a0)
    addi sp, a1, {ROUTINE_PUSH}
    j {TRAMPOLINE}
    .cfi_endproc
    .size {START}, . - {START}

# ------------------------------------------------------------------------------------------
#  greenthread_riscv64_trampoline
#
#  First resume address of a fresh context (symmetric switch), and the tail of `start`. At
#  this point our register state contains:
#    a2 = the value passed by the first switch
#    sp = T - 0x20, pointing at the initial frame's s0 slot (see the table)
#  It loads data and entry, which leaves sp = T - 0x10 at the zeroed frame record, points
#  s0 at T, and calls entry(a2, data), which never returns.
# ------------------------------------------------------------------------------------------
    .globl {TRAMPOLINE}
    .type {TRAMPOLINE},%function
    .p2align 2
{TRAMPOLINE}:
    .cfi_startproc
    # CFA = T throughout; no caller: DWARF unwinders stop here.
    .cfi_def_cfa_offset 32
    .cfi_undefined ra
    ld a1, 0(sp)
    ld s1, 8(sp)
    addi sp, sp, 16
    .cfi_def_cfa_offset 16
    addi s0, sp, 16
    .cfi_def_cfa s0, 0
    mv a0, a2
    jalr s1
    # entry() never returns.
    unimp
    .cfi_endproc
    .size {TRAMPOLINE}, . - {TRAMPOLINE}

    .option pop
    .popsection
    .pushsection .note.GNU-stack,"",%progbits
    .popsection
