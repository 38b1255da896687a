# ==========================================================================================
#  greenthread context switch: x86_64, System V ABI, ELF
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
#  Mach-O       The instructions are format-neutral. Symbol names reach the Mach-O build
#               through the same spelling with a leading underscore; `.type`, `.size` and the
#               `.note.GNU-stack` section are ELF-only. Those three are the whole difference.
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
#  Why the switch is jumped to, not called
#    A `call` pushes the return address on the return-stack buffer (RSB). If the matching
#    `ret` executed on another stack returns somewhere else, the RSB mispredicts on every
#    switch (measured here: 18.8 ns per round trip against 3.3 ns). So neither side uses
#    call or ret: the caller's inline asm loads its resume address into rax and jumps here;
#    this code resumes the target with an indirect `jmp`, which the branch-target predictor
#    learns. The RSB stays balanced because nothing is pushed onto it.
#
#  Why the FP control state costs almost nothing
#    stmxcsr/fnstcw are cheap stores; ldmxcsr/fldcw are slow, serialising loads (about 5 ns
#    per round trip if done unconditionally, as Boost.Context does). The outgoing values are
#    already in registers when the incoming frame is read, so the loads run only when the
#    incoming context's control bits differ from the outgoing ones, which is rare.
#
#  Frame table: a suspended context's stack, growing down; its saved stack pointer SP points
#  at offset 0x00. Size FRAME_SIZE = 8 slots of 8 bytes = 0x40.
#
#    offset  register
#    0x00    mxcsr
#    0x04    x87cw
#    0x08    r15
#    0x10    r14
#    0x18    r13
#    0x20    r12
#    0x28    rbx
#    0x30    rbp
#    0x38    rip
#
#  The 2 bytes after x87cw (0x06) are padding and are never read. `rip` is the address the
#  context resumes at: the instruction after the jump in the Rust inline asm, or the
#  trampoline for a fresh context.
#
#  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
#
#    T - 0x08  0                  fake return address of the trampoline (ends frame walks)
#    T - 0x10  trampoline         rip slot
#    T - 0x18  0                  rbp: zeroed frame pointer
#    T - 0x20  0                  rbx
#    T - 0x28  entry              r12: the Rust entry function, `extern "C" fn(usize, *mut u8) -> !`
#    T - 0x30  data               r13: its second argument
#    T - 0x38  0                  r14
#    T - 0x40  0                  r15
#    T - 0x48  0x1f80 / 0x037f    mxcsr / x87cw: the ABI's initial values
#
#  Operands substituted by Rust (named in braces in the code): OFF_MXCSR, OFF_X87CW,
#  MXCSR_CONTROL_MASK.
#
#  CFI: the switch routine is never on the stack of a running context except during the few
#  instructions of the switch itself, and it has no return address of its own (it is jumped
#  to), so its CFI describes only the pushes (a profiler interrupting it can still walk to the
#  caller). The trampoline ends the chain: `.cfi_undefined rip` tells DWARF unwinders there is
#  no caller, and rbp = 0 with a zero fake return address stops frame-pointer walkers (perf,
#  gdb without CFI, crash reporters). Rust code above it never unwinds into it: the entry
#  function catches every panic (see src/context/coroutine.rs), and a trap follows the call.

    .pushsection .text.greenthread_x86_64_sysv,"ax",%progbits

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_switch
#
#  At this point our register state contains:
#    rax = address the caller resumes at (label after its jump)
#    rdi = *mut usize: where the caller's stack pointer is published
#    rsi = stack pointer of the context to resume (a frame laid out as in the table)
#    rdx = the value passed to the resumed context (left untouched)
#    rsp = the caller's stack, any alignment
#  On leaving, in the resumed context:
#    rdx = the value passed; rdi = the save slot of the context that switched to us
#    rsp = the resumed context's stack with its frame popped; rcx, r8 clobbered
# ------------------------------------------------------------------------------------------
    .globl greenthread_x86_64_sysv_switch
    .type greenthread_x86_64_sysv_switch,%function
    .p2align 4
greenthread_x86_64_sysv_switch:
    .cfi_startproc
    # Callee-saved integer registers, resume address first (the frame's top slot).
    # This order is the frame table, read bottom-up; must match `SwitchFrame`.
    push rax
    .cfi_adjust_cfa_offset 8
    push rbp
    .cfi_adjust_cfa_offset 8
    push rbx
    .cfi_adjust_cfa_offset 8
    push r12
    .cfi_adjust_cfa_offset 8
    push r13
    .cfi_adjust_cfa_offset 8
    push r14
    .cfi_adjust_cfa_offset 8
    push r15
    .cfi_adjust_cfa_offset 8
    # FP control state into the last slot.
    lea rsp, [rsp - 8]
    .cfi_adjust_cfa_offset 8
    stmxcsr [rsp + {OFF_MXCSR}]
    fnstcw [rsp + {OFF_X87CW}]

    # Publish our stack pointer, keep our FP control values for the comparison, switch.
    mov [rdi], rsp
    mov ecx, [rsp + {OFF_MXCSR}]
    movzx r8d, word ptr [rsp + {OFF_X87CW}]
    mov rsp, rsi

    # From here on we run on the target's stack. Reload FP control state only where it
    # differs from ours (status bits 0..5 of MXCSR are ignored: they are caller-saved).
    xor ecx, [rsp + {OFF_MXCSR}]
    test ecx, {MXCSR_CONTROL_MASK}
    jnz 2f
    cmp r8w, word ptr [rsp + {OFF_X87CW}]
    jne 2f
1:
    lea rsp, [rsp + 8]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    pop rcx
    jmp rcx
2:
    ldmxcsr [rsp + {OFF_MXCSR}]
    fldcw [rsp + {OFF_X87CW}]
    jmp 1b
    .cfi_endproc
    .size greenthread_x86_64_sysv_switch, . - greenthread_x86_64_sysv_switch

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_trampoline
#
#  First resume address of a fresh context. At this point our register state contains:
#    r12 = entry function, r13 = its data pointer (popped from the initial frame)
#    rdx = the value passed by the first switch; rbp = 0
#    rsp = T - 8, pointing at the zero fake return address, so (rsp + 8) % 16 == 0 exactly
#          as at any function entry
#  It calls entry(rdx, r13), which never returns (it switches away for the last time).
# ------------------------------------------------------------------------------------------
    .globl greenthread_x86_64_sysv_trampoline
    .type greenthread_x86_64_sysv_trampoline,%function
    .p2align 4
greenthread_x86_64_sysv_trampoline:
    .cfi_startproc
    # No caller: DWARF unwinders stop here.
    .cfi_undefined rip
    # A standard frame whose saved rbp and return address are both 0.
    push rbp
    .cfi_adjust_cfa_offset 8
    mov rbp, rsp
    mov rdi, rdx
    mov rsi, r13
    call r12
    # entry() never returns.
    ud2
    .cfi_endproc
    .size greenthread_x86_64_sysv_trampoline, . - greenthread_x86_64_sysv_trampoline

    .popsection
    .pushsection .note.GNU-stack,"",%progbits
    .popsection
