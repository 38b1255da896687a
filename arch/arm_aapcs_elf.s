@ ==========================================================================================
@  greenthread context switch: 32-bit Arm (ARMv7-A, A32 state), AAPCS with VFP, ELF
@ ==========================================================================================
@
@  KEEP IN SYNC WITH ITSELF: the stores in greenthread_arm_switch and in the inline asm of
@  src/context/arm.rs (`switch`, `resume`, `suspend`), the frame table below and
@  `SwitchFrame` in that file describe one layout; that Rust file pins every offset with
@  `const_assert_eq!`, feeds the ones the code uses as const operands, and a unit test parses
@  the table below.
@
@  Derived from x86_64_sysv_elf.s, which carries the full rationale (who saves what, why the
@  symmetric switch is branched to and never returns while the asymmetric Coroutine pair
@  pairs `blx` with `bx lr`, the FP control policy, the trampoline's job). Only the
@  differences are commented here; the frame table and the register contract are complete.
@
@  Purpose      The symmetric switch, the first-entry trampolines of a fresh context, and the
@               frame shared with the asymmetric resume/suspend pair of `Coroutine` (inline
@               asm in the Rust file).
@  Included by  src/context/arm.rs, with global_asm!(include_str!(..)). build.rs selects this
@               backend for hard-float ARMv7 Linux targets in A32 state
@               (armv7-unknown-linux-gnueabihf, armv7-unknown-linux-musleabihf).
@  State        A32 (ARM) throughout: the Rust code of those targets is A32, so every resume
@               label and trampoline is an A32 address (bit 0 clear). Branches to them use
@               `bx`/`blx` with a register, which interwork correctly should Thumb code ever
@               call in; Thumb targets (thumbv7neon-*) are refused by build.rs because the
@               inline asm's `adr` of a Thumb label would lack the Thumb bit.
@
@  ABI (AAPCS, "Procedure Call Standard for the Arm Architecture", 5.1.1 and 6.1.2, VFP
@  variant):
@    callee-saved   r4-r11, sp, d8-d15 (s16-s31). r11 is the frame pointer in A32 code, r9 the
@                   platform register (a plain callee-saved register on Linux), r6 LLVM's base
@                   pointer when it needs one.
@    caller-saved   r0-r3, r12 (ip), r14 (lr: a call writes it), d0-d7, d16-d31, the FPSCR
@                   status and condition bits.
@    FPSCR          rounding (RMode, bits 22-23), flush-to-zero (FZ), default NaN (DN), AHP,
@                   trap enables, Len/Stride: control state, changed only by support
@                   functions; not switched here (contexts that opt in keep their own from Rust,
@                   src/context/fp.rs, `vmrs`/`vmsr`). Its cumulative flags and NZCV are
@                   caller-saved.
@    alignment      sp % 8 == 0 at every public interface (calls); sp % 4 == 0 always.
@    red zone       none.
@
@  Who saves what
@    Every switch is entered from inline asm in src/context/arm.rs, which pushes r6, r7 and
@    r11 (LLVM may reserve them: base pointer, Thumb frame pointer, A32 frame pointer) and
@    declares r4, r5, r8-r10, d8-d15, lr and every caller-saved register clobbered, so the
@    compiler saves only the live ones. The asm saves the rest: the resume address and sp.
@
@  The return-address predictor (see x86_64_sysv_elf.s)
@    - Symmetric `switch`: the inline asm pushes r6/r7/r11, puts its resume address in r3 and
@      branches here (`b`); this code resumes the target with `bx r3`, an indirect branch
@      that is not a return (only `bx lr`, `pop` into pc and `ldr pc, [sp], ..` are).
@    - Asymmetric `resume`/`suspend`: `resume` loads the coroutine's resume address from its
@      frame and calls it with `blx` (lr = the return address, pushed on the return stack);
@      the coroutine pushes that lr on the resumer's stack and records the resumer's sp in
@      `Link::caller`. `suspend` saves its frame, reloads the resumer's sp and lr and returns
@      with `bx lr`, which pops the matching entry.
@
@  Frame table: a suspended context's stack, growing down; its saved stack pointer points at
@  offset 0x00. r6/r7/r11 are pushed first (one `push`), then the resume address.
@  FRAME_SIZE = 4 x 4 = 0x10, so sp stays 8-aligned.
@
@    offset  register
@    0x00    pc
@    0x04    r6
@    0x08    r7
@    0x0c    r11
@
@  A coroutine's resumer is not suspended with this frame: its inline asm pushes r6/r7/r11,
@  `blx` leaves the return address in lr, and the coroutine pushes lr below them on the
@  resumer's stack, where `Link::caller` points.
@
@  Initial frame of a fresh context (built by `init` in Rust), T = 16-byte aligned top:
@
@    T - 0x04  0                  frame record: return address 0 (ends frame walks)
@    T - 0x08  0                  frame record: previous frame pointer 0
@    T - 0x0c  0                  r11 slot
@    T - 0x10  data               r7 slot: second argument of the entry function
@    T - 0x14  entry              r6 slot: `extern "C" fn(usize, *mut u8) -> !`
@    T - 0x18  trampoline         pc slot: `trampoline` (symmetric) or `start` (Coroutine)
@
@  Symbols: SWITCH, START and TRAMPOLINE are `sym` operands carrying the versioned names
@  (see x86_64_sysv_elf.s, Symbols); never spell a routine name out here.
@  Operands substituted by Rust (named in braces in the code): LINK_CALLER (offset of the
@  resumer's stack pointer in `Link`).
@
@  Unwind info: 32-bit Arm Linux unwinds with the Arm EHABI tables (.ARM.exidx), not
@  .eh_frame. Every routine is bracketed by `.fnstart`/`.fnend`. The switch and `start` are
@  `.cantunwind`: nothing unwinds through a switch. The trampoline's entry says `.save
@  {{r11, lr}}`: at its call, sp points at the zeroed frame record, so an unwinder that walks
@  up from the entry function lists the trampoline, restores lr = 0 and stops there (no
@  table entry covers address 0); that is how a backtrace on a green stack ends.
@  Frame-pointer walkers stop at the same record (r11 = its address, saved r11 = 0, saved
@  lr = 0). A `udf #0` follows the call.

    .pushsection .text.greenthread_arm,"ax",%progbits

@ ------------------------------------------------------------------------------------------
@  greenthread_arm_switch
@
@  At this point our register state contains:
@    r0 = *mut usize: where the caller's stack pointer is published
@    r1 = stack pointer of the context to resume (a frame laid out as in the table)
@    r2 = the value passed to the resumed context (left untouched)
@    r3 = address the caller resumes at (the label after its branch)
@    sp = the caller's stack with r6, r7 and r11 pushed on it
@  On leaving, in the resumed context:
@    r2 = the value passed; r0 = the save slot of the context that switched to us
@    sp = the resumed context's stack pointing at its r6 slot; r3 clobbered
@ ------------------------------------------------------------------------------------------
    .globl {SWITCH}
    .type {SWITCH},%function
    .p2align 2
{SWITCH}:
    .fnstart
    .cantunwind
    @ Resume address at 0x00 (must match `SwitchFrame`), publish sp, switch.
    push {{r3}}
    str sp, [r0]
    ldr r3, [r1], #4
    mov sp, r1
    bx r3
    .fnend
    .size {SWITCH}, . - {SWITCH}

@ ------------------------------------------------------------------------------------------
@  greenthread_arm_start
@
@  First resume address of a fresh coroutine, reached by the `blx` in `resume`. At this
@  point our register state contains:
@    r0 = *mut Link of the coroutine
@    r1 = its stack pointer, T - 0x18 (the pc slot of the initial frame)
@    r2 = the value passed by the first resume
@    lr = the resumer's return address; sp = the resumer's stack
@  It pushes lr on the resumer's stack and publishes that sp in the link (the landing every
@  `suspend` does too), moves to the coroutine's stack at its r6 slot and continues in the
@  trampoline.
@ ------------------------------------------------------------------------------------------
    .globl {START}
    .type {START},%function
    .p2align 2
{START}:
    .fnstart
    .cantunwind
    push {{lr}}
    str sp, [r0, #{LINK_CALLER}]
    add sp, r1, #4
    b {TRAMPOLINE}
    .fnend
    .size {START}, . - {START}

@ ------------------------------------------------------------------------------------------
@  greenthread_arm_trampoline
@
@  First resume address of a fresh context (symmetric switch), and the tail of `start`. At
@  this point our register state contains:
@    r2 = the value passed by the first switch
@    sp = T - 0x14, pointing at the initial frame's r6 slot (see the table)
@  It pops entry, data and the zero r11, which leaves sp = T - 8 (8-aligned) at the zeroed
@  frame record, points r11 at it, and calls entry(r2, data), which never returns.
@ ------------------------------------------------------------------------------------------
    .globl {TRAMPOLINE}
    .type {TRAMPOLINE},%function
    .p2align 2
{TRAMPOLINE}:
    .fnstart
    pop {{r6, r7, r11}}
    @ Unwind: the zeroed frame record at sp reads as a saved r11 and lr of 0, so an
    @ unwinder lists this frame and then stops (no table entry covers address 0).
    .save {{r11, lr}}
    mov r11, sp
    mov r0, r2
    mov r1, r7
    blx r6
    @ entry() never returns.
    udf #0
    .fnend
    .size {TRAMPOLINE}, . - {TRAMPOLINE}

    .popsection
    .pushsection .note.GNU-stack,"",%progbits
    .popsection
