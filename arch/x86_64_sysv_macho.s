# ==========================================================================================
#  greenthread context switch: x86_64, System V ABI, Mach-O (macOS)
# ==========================================================================================
#
#  KEEP IN SYNC WITH ITSELF: the push order in greenthread_x86_64_sysv_switch, the frame
#  table below and `SwitchFrame` in src/context/x86_64_sysv.rs describe one layout. The
#  offsets the code uses arrive as const operands computed by `offset_of!` in that Rust file, which
#  also pins them with `const_assert_eq!`; a unit test parses the table below and compares it.
#
#  Purpose      Save the callee-saved state of the running context on its own stack, publish
#               its stack pointer, and resume another context from the stack pointer it
#               published. Also the first-entry trampoline of a fresh context.
#  Included by  src/context/x86_64_sysv.rs, with global_asm!(include_str!(..)). This is the
#               canonical backend: it carries the full rationale; the other backends comment
#               only where they differ.
#  Mach-O       THIS FILE is the Mach-O twin of x86_64_sysv_elf.s, included instead of it on
#               Apple targets: the same instructions and comments; symbols carry a leading
#               underscore, the section is `__TEXT,__text`, and there are no `.type`/`.size`
#               directives and no `.note.GNU-stack` section. The unit test
#               `context::tests::macho_variants_match_elf` compares the two line by line:
#               change both together.
#
#  ABI (System V AMD64, psABI 1.0 section 3.2.1, "Registers"):
#    callee-saved   rbx, rbp, r12, r13, r14, r15, rsp; MXCSR control bits (6..15) and the
#                   x87 control word. MXCSR status bits (0..5) and the x87 status word are
#                   caller-saved; so are every xmm/ymm/zmm register, rax, rcx, rdx, rsi,
#                   rdi, r8-r11, the flags (DF must be clear at calls and returns).
#    alignment      rsp % 16 == 0 at every `call`; so (rsp + 8) % 16 == 0 at a function entry.
#    red zone       128 bytes below rsp belong to a leaf function. The Rust side enters the
#                   switch from inline asm! without `nostack`, which tells the compiler that
#                   the asm pushes below rsp; so no red-zone data is live across it.
#
#  Who saves what
#    The switch is entered from inline asm! in a Rust function (src/context/x86_64_sysv.rs).
#    That asm pushes rbx and rbp (LLVM reserves them, so they cannot be declared clobbered)
#    and declares r12-r15 and every caller-saved register clobbered, so the compiler saves
#    exactly the callee-saved registers that hold live values, in the enclosing function's
#    frame (corosensei's scheme). This file saves the rest: the resume address, rsp (published
#    through rdi) and the FP control state. Together that is the full callee-saved set.
#
#  Why the switch is jumped to, not called
#    A `call` pushes the return address on the return-stack buffer (RSB). If the matching
#    `ret` executed on another stack returns somewhere else, the RSB mispredicts on every
#    switch (measured here: 18.8 ns per round trip against 3.3 ns). A scheduler switches
#    symmetrically (A to B to C to A), so call and ret cannot be paired in general. Neither
#    side uses them: the inline asm loads its resume address into rax and jumps here; this
#    code resumes the target with an indirect `jmp`, which the branch-target predictor learns.
#    The RSB stays balanced because nothing is pushed onto it.
#
#  FP control state
#    stmxcsr must run on every switch: nothing else reads MXCSR, and only the running code
#    knows whether it changed it. On this machine's Zen 4 it costs about 4.3 ns (measured;
#    see docs/ABI.md), while ldmxcsr costs about 0.9 ns and fnstcw/fldcw little. The loads
#    run only when the incoming context's control bits differ from the outgoing ones, which
#    is rare; the comparison uses values already in registers.
#
#  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
#  offset 0x00. The rbx/rbp slots are pushed by the inline asm before it jumps here, the rest
#  by this routine. Size FRAME_SIZE = 4 slots of 8 bytes = 0x20.
#
#    offset  register
#    0x00    mxcsr
#    0x04    x87cw
#    0x08    rip
#    0x10    rbx
#    0x18    rbp
#
#  The 2 bytes after x87cw (0x06) are padding and are never read. `rip` is the address the
#  context resumes at: the label after the jump in the Rust inline asm (which then pops rbx
#  and rbp), or the trampoline for a fresh context (which pops its initial frame itself).
#
#  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
#
#    T - 0x08  0                  fake return address of the trampoline (ends frame walks)
#    T - 0x10  data               second argument of the entry function
#    T - 0x18  0                  rbp slot: the zeroed frame pointer
#    T - 0x20  entry              rbx slot: `extern "C" fn(usize, *mut u8) -> !`
#    T - 0x28  trampoline         rip slot
#    T - 0x30  0x1f80 / 0x037f    mxcsr / x87cw: the ABI's initial values
#
#  Operands substituted by Rust (named in braces in the code): OFF_MXCSR, OFF_X87CW,
#  MXCSR_CONTROL_MASK.
#
#  CFI: the switch routine has no return address of its own (it is jumped to) and runs only
#  for a dozen instructions, so its CFI describes just its own pushes. The trampoline ends
#  the chain: `.cfi_undefined rip` tells DWARF unwinders there is no caller, and rbp = 0 with
#  a zero fake return address stops frame-pointer walkers (perf, gdb without CFI, crash
#  reporters). No Rust code ever unwinds into it: entry functions catch every panic and never
#  return (src/context/coroutine.rs, src/sched), and a trap follows the call.

    .pushsection __TEXT,__text,regular,pure_instructions

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_switch
#
#  At this point our register state contains:
#    rax = address the caller resumes at (the label after its jump)
#    rdi = *mut usize: where the caller's stack pointer is published
#    rsi = stack pointer of the context to resume (a frame laid out as in the table)
#    rdx = the value passed to the resumed context (left untouched)
#    rsp = the caller's stack with rbp and rbx pushed on it
#  On leaving, in the resumed context:
#    rdx = the value passed; rdi = the save slot of the context that switched to us
#    rsp = the resumed context's stack pointing at its rbx slot; rcx, r8 clobbered
# ------------------------------------------------------------------------------------------
    .globl _greenthread_x86_64_sysv_switch
    .p2align 4
_greenthread_x86_64_sysv_switch:
    .cfi_startproc
    # Resume address, then the FP control slot: must match `SwitchFrame`.
    push rax
    .cfi_adjust_cfa_offset 8
    lea rsp, [rsp - 8]
    .cfi_adjust_cfa_offset 8
    stmxcsr [rsp + {OFF_MXCSR}]
    fnstcw [rsp + {OFF_X87CW}]

    # Publish our stack pointer, keep our FP control values for the comparison, switch.
    mov [rdi], rsp
    mov ecx, [rsp + {OFF_MXCSR}]
    movzx r8d, word ptr [rsp + {OFF_X87CW}]
    mov rsp, rsi

    # On the target's stack now. Reload FP control state only where it differs from ours
    # (MXCSR status bits 0..5 are ignored: they are caller-saved).
    xor ecx, [rsp + {OFF_MXCSR}]
    test ecx, {MXCSR_CONTROL_MASK}
    jnz 2f
    cmp r8w, word ptr [rsp + {OFF_X87CW}]
    jne 2f
1:
    # Drop the FP slot, pop the resume address and go there (not `ret`: see header).
    lea rsp, [rsp + 8]
    pop rcx
    jmp rcx
2:
    ldmxcsr [rsp + {OFF_MXCSR}]
    fldcw [rsp + {OFF_X87CW}]
    jmp 1b
    .cfi_endproc

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_trampoline
#
#  First resume address of a fresh context. At this point our register state contains:
#    rdx = the value passed by the first switch
#    rsp = T - 0x20, pointing at the initial frame's rbx slot (see the table)
#  It pops entry, the zero frame pointer and data, which leaves rsp = T - 8 pointing at the
#  zero fake return address, so (rsp + 8) % 16 == 0 as at any function entry; then it calls
#  entry(rdx, data), which never returns (it switches away for the last time).
# ------------------------------------------------------------------------------------------
    .globl _greenthread_x86_64_sysv_trampoline
    .p2align 4
_greenthread_x86_64_sysv_trampoline:
    .cfi_startproc
    # No caller: DWARF unwinders stop here.
    .cfi_undefined rip
    pop rbx
    pop rbp
    pop rsi
    # A standard frame whose saved rbp and return address are both 0.
    push rbp
    mov rbp, rsp
    mov rdi, rdx
    call rbx
    # entry() never returns.
    ud2
    .cfi_endproc

    .popsection
