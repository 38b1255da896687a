# ==========================================================================================
#  greenthread context switch: x86_64, System V ABI, ELF
# ==========================================================================================
#
#  KEEP IN SYNC WITH ITSELF: the pushes in the Rust inline asm of src/context/x86_64_sysv.rs
#  (`switch`, `resume`, `suspend`), the frame table below and `SwitchFrame` in that file
#  describe one layout. The offsets the code uses arrive as const operands computed by
#  `offset_of!` in that Rust file, which also pins them with `const_assert_eq!`; a unit test
#  parses the table below and compares it.
#
#  Purpose      The symmetric switch (save the running context on its own stack, publish its
#               stack pointer, resume another context from the pointer it published), the
#               first-entry trampolines of a fresh context, and the frame shared with the
#               asymmetric resume/suspend pair that `Coroutine` uses (whose instructions are
#               inline asm in the Rust file, so they are inlined into resume and suspend).
#  Included by  src/context/x86_64_sysv.rs, with global_asm!(include_str!(..)). This is the
#               canonical backend: it carries the full rationale; the other backends comment
#               only where they differ.
#  Mach-O       The instructions are format-neutral; `.type`, `.size` and the `.note.GNU-stack`
#               section are ELF-only, and the section name differs. That is the whole
#               difference (x86_64_sysv_macho.s).
#  Symbols      The routine names are `sym` operands ({SWITCH}, {START}, {TRAMPOLINE}) of the
#               extern declarations in the Rust file, whose `link_name`s carry the crate
#               version (`greenthread_x86_64_sysv_switch_v0_1_0`): two semver-incompatible
#               copies of the crate link into one binary without a multiple definition, and
#               the compiler adds Mach-O's leading underscore. Never spell a name out here.
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
#    Every switch is entered from inline asm! in a Rust function. That asm pushes rbx and rbp
#    (LLVM reserves them, so they cannot be declared clobbered) and declares r12-r15 and every
#    caller-saved register clobbered, so the compiler saves exactly the callee-saved registers
#    that hold live values, in the enclosing function's frame (corosensei's scheme). The asm
#    saves the rest: the resume address and rsp. Together that is the full callee-saved set
#    of registers.
#
#  FP control state (MXCSR control bits, x87 control word)
#    Not saved by the switch. Rust code runs in the default FP environment and LLVM assumes
#    it, so code that changes rounding or exception masks must restore them before it
#    switches, as before any call into Rust. A context that opts in (`preserve_fp_env`)
#    keeps its own control state: the Rust side of that context reads it before it leaves
#    and reloads it after it comes back (src/context/mod.rs, `fp`), so the switch itself, and
#    every context that did not opt in, never reads MXCSR (stmxcsr costs about 4 ns here).
#
#  The return-stack predictor
#    A `call` pushes its return address on the return-stack buffer (RSB), and a `ret`
#    predicts from it. A `ret` that returns to somewhere other than the matching call site
#    mispredicts (measured here: 18.8 ns per round trip against 3.3 ns). So:
#    - Symmetric switches (`switch`, the hub: A to B to C to A) cannot pair call and ret in
#      general. They use neither: the inline asm pushes its resume address and jumps here;
#      this code resumes the target with `pop; jmp`, which the branch-target buffer learns.
#      The RSB is left as the outgoing context had it, so the resumed context's later
#      `ret`s are predicted from the outgoing context's call chain: right when both were
#      suspended from the same call chain (the usual case of green threads yielding in a
#      loop), wrong otherwise, and never worse than one miss per level of the call chain.
#    - The asymmetric pair (`resume`/`suspend`, `Coroutine`) pairs them exactly, as
#      corosensei does: `resume` *calls* the coroutine's resume address, pushing its own
#      return address on the resumer's stack and on the RSB; `suspend` pushes its own
#      resume address, switches to the resumer's stack and *returns* to it. Every `call`
#      meets its `ret`, so the RSB predicts both sides' returns. The coroutine side is
#      entered with an indirect `call`, predicted by the branch-target buffer.
#
#  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
#  offset 0x00. All three slots are pushed by the Rust inline asm: rbp, rbx, then the resume
#  address. Size FRAME_SIZE = 3 slots of 8 bytes = 0x18. The same frame is used by the
#  symmetric switch and by a coroutine suspended in `suspend`.
#
#    offset  register
#    0x00    rip
#    0x08    rbx
#    0x10    rbp
#
#  `rip` is the address the context resumes at: the label after the jump or return in the
#  Rust inline asm (which then pops rbx and rbp), or a trampoline for a fresh context. A
#  coroutine's *resumer* is not suspended with this frame: `resume` pushes rbp and rbx and
#  calls, so its stack holds rbp, rbx and the return address, and its stack pointer (pointing
#  at the return address) goes to `Link::caller`.
#
#  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
#
#    T - 0x08  0                  fake return address of the trampoline (ends frame walks)
#    T - 0x10  data               second argument of the entry function
#    T - 0x18  0                  rbp slot: the zeroed frame pointer
#    T - 0x20  entry              rbx slot: `extern "C" fn(usize, *mut u8) -> !`
#    T - 0x28  trampoline         rip slot: `trampoline` (symmetric) or `start` (Coroutine)
#
#  Operands substituted by Rust (named in braces in the code): SWITCH, START, TRAMPOLINE
#  (the versioned routine names, see Symbols), LINK_CALLER (offset of the resumer's stack
#  pointer in `Link`).
#
#  CFI: the symmetric switch is entered as if called (its resume address is on top of the
#  stack), so the default rule (CFA = rsp + 8, return address at CFA - 8) holds on entry and,
#  after the stack switch, for the target; after the final `pop` the return address is in
#  rcx. Every instruction is described. The trampolines end the chain: `.cfi_undefined rip`
#  tells DWARF unwinders there is no caller, and rbp = 0 with a zero fake return address
#  stops frame-pointer walkers (perf, gdb without CFI, crash reporters). No Rust code ever
#  unwinds into them: entry functions catch every panic and never return
#  (src/context/coroutine.rs, src/sched), and a trap follows the call.

    .pushsection .text.greenthread_x86_64_sysv,"ax",%progbits

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_switch
#
#  At this point our register state contains:
#    [rsp] = address the caller resumes at (the label after its jump), above it rbx and rbp
#    rdi = *mut usize: where the caller's stack pointer is published
#    rsi = stack pointer of the context to resume (a frame laid out as in the table)
#    rdx = the value passed to the resumed context (left untouched)
#  On leaving, in the resumed context:
#    rdx = the value passed; rdi = the save slot of the context that switched to us
#    rsp = the resumed context's stack pointing at its rbx slot; rcx clobbered
# ------------------------------------------------------------------------------------------
    .globl {SWITCH}
    .type {SWITCH},%function
    .p2align 4
{SWITCH}:
    .cfi_startproc
    # Publish our stack pointer (it points at our resume address), switch stacks.
    mov [rdi], rsp
    mov rsp, rsi
    # Pop the target's resume address and go there (not `ret`: see the header).
    pop rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    jmp rcx
    .cfi_endproc
    .size {SWITCH}, . - {SWITCH}

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_start
#
#  First resume address of a fresh coroutine, reached by the `call` in `resume`. At this
#  point our register state contains:
#    rdi = *mut Link of the coroutine
#    rsi = its stack pointer, T - 0x28 (the rip slot of the initial frame)
#    rdx = the value passed by the first resume
#    rsp = the resumer's stack, pointing at the return address `resume` pushed
#  It publishes the resumer's stack pointer in the link (the landing every `suspend` does
#  too), moves to the coroutine's stack past the rip slot and continues in the trampoline.
# ------------------------------------------------------------------------------------------
    .globl {START}
    .type {START},%function
    .p2align 4
{START}:
    .cfi_startproc
    .cfi_undefined rip
    mov [rdi + {LINK_CALLER}], rsp
    lea rsp, [rsi + 8]
    jmp {TRAMPOLINE}
    .cfi_endproc
    .size {START}, . - {START}

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_sysv_trampoline
#
#  First resume address of a fresh context (symmetric switch), and the tail of `start`. At
#  this point our register state contains:
#    rdx = the value passed by the first switch
#    rsp = T - 0x20, pointing at the initial frame's rbx slot (see the table)
#  It pops entry, the zero frame pointer and data, which leaves rsp = T - 8 pointing at the
#  zero fake return address, so (rsp + 8) % 16 == 0 as at any function entry; then it calls
#  entry(rdx, data), which never returns (it switches away for the last time).
# ------------------------------------------------------------------------------------------
    .globl {TRAMPOLINE}
    .type {TRAMPOLINE},%function
    .p2align 4
{TRAMPOLINE}:
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
    .size {TRAMPOLINE}, . - {TRAMPOLINE}

    .popsection
    .pushsection .note.GNU-stack,"",%progbits
    .popsection
