# ==========================================================================================
#  greenthread context switch: riscv64, LP64D, ELF
# ==========================================================================================
#
#  KEEP IN SYNC WITH ITSELF: the stores in greenthread_riscv64_switch, the frame table below
#  and `SwitchFrame` in src/context/riscv64.rs describe one layout; that Rust file pins every
#  offset with `const_assert_eq!`, feeds the ones the code uses as const operands, and a unit
#  test parses the table below.
#
#  Derived from x86_64_sysv_elf.s, which carries the full rationale (who saves what, why the
#  switch is jumped to and never returns with `ret`, the FP control policy, the trampoline's
#  job). Only the differences are commented here; the frame table and the register contract
#  below are complete.
#
#  Purpose      Save the running context's callee-saved state on its own stack, publish its
#               stack pointer, resume another context from the stack pointer it published;
#               and the first-entry trampoline of a fresh context.
#  Included by  src/context/riscv64.rs, with global_asm!(include_str!(..)). build.rs selects
#               this backend only for riscv64 targets with the D extension (LP64D).
#
#  ABI (RISC-V psABI, "Integer/Floating-point Register Convention"):
#    callee-saved   sp, s0-s11 (x8, x9, x18-x27; s0 is the frame pointer), and under the D
#                   float ABI fs0-fs11 (f8, f9, f18-f27) at their full 64 bits.
#    ra             the return address; not preserved by calls. The switch keeps the resume
#                   address in the frame instead, so ra is just clobbered.
#    gp, tp         global and thread pointer: never allocated, never touched here (tp is the
#                   OS thread's, shared by every context of the thread).
#    fcsr           "must have thread storage duration" (C11 <fenv.h>): thread state, not a
#                   callee-saved register. Its control field frm (rounding mode, bits 5-7) is
#                   kept per context here, as MXCSR's control bits on x86_64. Its fflags
#                   (accrued exception flags, bits 0-4) stay shared by the contexts of a
#                   thread, as MXCSR 0..5 and AArch64's FPSR.
#    alignment      sp % 16 == 0 at every call (and so at every function entry).
#    red zone       none.
#
#  Who saves what
#    The inline asm in `switch()` (src/context/riscv64.rs) pushes s0 and s1 (LLVM reserves
#    them: frame pointer and base pointer), puts its resume address in a3 and jumps here
#    (`tail`, which goes through t1). It declares s2-s11, fs0-fs11, ra and every caller-saved
#    register clobbered, so the compiler saves only the live ones. This routine saves the
#    resume address and frm and publishes sp through a0.
#
#  FP control state
#    `frrm` (csrr frm) is an ordinary CSR read and runs on every switch; `fsrm` runs only when
#    the incoming context's frm differs from the outgoing one.
#
#  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
#  offset 0x00. s0/s1 are pushed by the inline asm, frm/pc by this routine.
#  FRAME_SIZE = 4 x 8 = 0x20.
#
#    offset  register
#    0x00    frm
#    0x08    pc
#    0x10    s0
#    0x18    s1
#
#  `pc` is where the context resumes: the label after the jump in the Rust inline asm (which
#  then reloads s0 and s1), or the trampoline for a fresh context.
#
#  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
#
#    T - 0x08  0                  frame record: return address 0 (ends frame walks)
#    T - 0x10  0                  frame record: previous frame pointer 0
#    T - 0x18  entry              s1 slot: `extern "C" fn(usize, *mut u8) -> !`
#    T - 0x20  data               s0 slot: second argument of the entry function
#    T - 0x28  trampoline         pc slot
#    T - 0x30  0                  frm: the ABI's initial value (round to nearest, even)
#
#  Operands substituted by Rust (named in braces in the code): OFF_FRM, OFF_PC,
#  ROUTINE_PUSH (the bytes this routine pushes).
#
#  CFI: as in aarch64_aapcs_elf.s, the switch describes its frame exactly: on entry
#  CFA = sp + 16 (the caller's sp before the inline asm pushed s0/s1), s0 and s1 are at
#  CFA-16 and CFA-8, and the return address is the resume address in a3; after the stack
#  switch the same rules hold for the target, with the return address in a6. The trampoline
#  ends the chain: `.cfi_undefined ra` for DWARF unwinders, and s0 points just above a zeroed
#  frame record (the RISC-V frame pointer points at the CFA, with the saved ra at s0-8 and the
#  previous s0 at s0-16) for frame-pointer walkers; `unimp` traps after the call.

    .pushsection .text.greenthread_riscv64,"ax",%progbits
    # The ISA this file needs, stated here rather than inherited: `frrm`/`fsrm` need F, and
    # rustc assembles global_asm! with the codegen unit's features, which need not include
    # them (a release build rejected `frrm` without this). `.option pop` below restores the
    # assembler's state (r[asm.directives.stateful]).
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
#    sp = the caller's stack with s0 and s1 pushed on it
#  On leaving, in the resumed context:
#    a2 = the value passed; a0 = the save slot of the context that switched to us
#    sp = the resumed context's stack pointing at its s0 slot; a4-a6 clobbered
# ------------------------------------------------------------------------------------------
    .globl greenthread_riscv64_switch
    .type greenthread_riscv64_switch,%function
    .p2align 2
greenthread_riscv64_switch:
    .cfi_startproc
    .cfi_def_cfa_offset 16
    .cfi_offset s0, -16
    .cfi_offset s1, -8
    .cfi_register ra, a3
    # FP control and resume address: must match `SwitchFrame`.
    frrm a4
    addi sp, sp, -{ROUTINE_PUSH}
    .cfi_adjust_cfa_offset {ROUTINE_PUSH}
    sd a4, {OFF_FRM}(sp)
    sd a3, {OFF_PC}(sp)
    .cfi_offset ra, -24

    # Publish our stack pointer, load the target's FP control value and resume address,
    # and switch: sp ends above the two slots just read.
    sd sp, 0(a0)
    ld a5, {OFF_FRM}(a1)
    ld a6, {OFF_PC}(a1)
    addi sp, a1, {ROUTINE_PUSH}
    .cfi_def_cfa_offset 16
    .cfi_register ra, a6

    # Reload frm only where it differs from ours.
    bne a5, a4, 2f
1:
    jr a6
2:
    fsrm a5
    j 1b
    .cfi_endproc
    .size greenthread_riscv64_switch, . - greenthread_riscv64_switch

# ------------------------------------------------------------------------------------------
#  greenthread_riscv64_trampoline
#
#  First resume address of a fresh context. At this point our register state contains:
#    a2 = the value passed by the first switch
#    sp = T - 0x20, pointing at the initial frame's s0 slot (see the table)
#  It loads data and entry, which leaves sp = T - 0x10 at the zeroed frame record, points
#  s0 at T, and calls entry(a2, data), which never returns.
# ------------------------------------------------------------------------------------------
    .globl greenthread_riscv64_trampoline
    .type greenthread_riscv64_trampoline,%function
    .p2align 2
greenthread_riscv64_trampoline:
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
    .size greenthread_riscv64_trampoline, . - greenthread_riscv64_trampoline

    .option pop
    .popsection
    .pushsection .note.GNU-stack,"",%progbits
    .popsection
