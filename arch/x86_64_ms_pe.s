# ==========================================================================================
#  greenthread context switch: x86_64, Microsoft x64 ABI, PE/COFF (Windows)
# ==========================================================================================
#
#  KEEP IN SYNC WITH ITSELF: the pushes in greenthread_x86_64_ms_switch and in the Rust
#  inline asm (`switch`, `resume`, `suspend` in src/context/x86_64_windows.rs), the frame
#  tables below and `SwitchFrame`/`LinkedFrame` in that file describe two layouts; that Rust file pins every offset with
#  `const_assert_eq!`, feeds the ones the code uses as const operands, and a unit test parses
#  the table below. The TEB offsets are also `TEB_*` constants there.
#
#  Derived from x86_64_sysv_elf.s, which carries the full rationale (why the symmetric switch
#  is jumped to and never returns with `ret` while the asymmetric Coroutine pair pairs `call`
#  with `ret`, the FP control policy, the trampoline's job). Only the
#  differences are commented here; the frame table and the register contract are complete.
#
#  Purpose      The symmetric switch (save the running context's callee-saved state and its
#               TEB stack fields on its own stack, publish its stack pointer, resume another
#               context from the stack pointer it published) and the first-entry trampolines
#               of a fresh context. The asymmetric resume/suspend pair of `Coroutine` is
#               inline asm in the Rust file and swaps the same TEB fields.
#  Included by  src/context/x86_64_windows.rs, with global_asm!(include_str!(..)).
#
#  ABI (Microsoft x64 calling convention, "x64 ABI conventions", register volatility):
#    callee-saved   rbx, rbp, rdi, rsi, r12-r15, rsp, xmm6-xmm15 (all 128 bits; the upper
#                   halves of ymm6-15 are volatile), the MXCSR control bits (6..15) and the
#                   x87 control word. MXCSR status bits 0..5 are volatile. The FP control
#                   state is not switched here (see x86_64_sysv_elf.s: contexts that opt in
#                   keep their own from Rust, src/context/fp.rs).
#    alignment      rsp % 16 == 0 at every `call`, with 32 bytes of home space above the
#                   return address reserved by the caller.
#    red zone       none.
#    TEB (gs:)      the NT_TIB and TEB fields that describe "the current stack" are swapped per
#                   context, because the OS, the CRT and Wine read them:
#                     gs:0x0000  ExceptionList         (NT_TIB) Wine's own __TRY frames
#                     gs:0x0008  StackBase             (NT_TIB) highest address + 1
#                     gs:0x0010  StackLimit            (NT_TIB) lowest committed address:
#                                                      __chkstk probes below it, and SEH
#                                                      dispatch rejects frames outside
#                                                      StackLimit..StackBase
#                     gs:0x1478  DeallocationStack     allocation base (the hard guard page);
#                                                      GetCurrentThreadStackLimits, stack
#                                                      growth and overflow detection use it
#                     gs:0x1748  GuaranteedStackBytes  a ULONG: SetThreadStackGuarantee, the
#                                                      stack left to an overflow handler
#                   StackLimit and GuaranteedStackBytes change while a context runs (a guard
#                   page hit, SetThreadStackGuarantee), so they are saved from the TEB at every
#                   switch, not rebuilt from the stack's bounds.
#
#  Who saves what
#    rdi, rsi and xmm6-xmm15 are NOT saved here: the Rust side declares them clobbered with
#    clobber_abi("sysv64") (the effect of corosensei's `extern "sysv64"`), so the compiler
#    saves the ones the switching function needs, once per function rather than per switch,
#    and skips the rest. The inline asm pushes rbp and rbx (LLVM reserves them) and then its
#    resume address, and jumps here; r12-r15 are declared clobbered too. This routine saves
#    the TEB fields and publishes rsp. Together: the full set of callee-saved registers.
#
#  Frame table (symmetric switch): a suspended context's stack, growing down; its saved
#  stack pointer points at offset 0x00. rbp, rbx and rip are pushed by the inline asm (rip
#  last, so the routine is entered exactly as if called: see SEH below), the rest by this
#  routine. FRAME_SIZE = 8 slots of 8 bytes = 0x40.
#
#    offset  register
#    0x00    guaranteed_stack_bytes
#    0x08    deallocation_stack
#    0x10    stack_limit
#    0x18    stack_base
#    0x20    exception_list
#    0x28    rip
#    0x30    rbx
#    0x38    rbp
#
#  The 4 bytes after guaranteed_stack_bytes are padding, never read.
#
#  Linked frame (a coroutine suspended in `suspend`, `LinkedFrame` in Rust): the same slots
#  with the resume address at the bottom, because `resume` reaches it with `call [rsi]`:
#
#    slot    register
#    0x00    rip
#    0x08    guaranteed_stack_bytes, then deallocation_stack, stack_limit, stack_base and
#            exception_list at 0x10, 0x18, 0x20, 0x28
#    0x30    rbx
#    0x38    rbp
#
#  A coroutine's resumer keeps its TEB fields on its own stack, below the return address
#  its `call` pushed: the coroutine's landing pushes them there (same order as the routine)
#  and publishes that rsp in `Link::caller`; `suspend` pops them back into the TEB before
#  its `ret`.
#
#  Initial frames of a fresh context (built by `init` / `init_linked` in Rust), T = 16-byte
#  aligned top, with F = the fields of the new stack from the stack layer
#  (crate::stack::teb_limits) and ExceptionList = -1 (end of chain):
#
#    T - 0x08  0                  fake return address of the trampoline (ends stack walks)
#    T - 0x10  data               second argument of the entry function
#    T - 0x18  0                  rbp slot: the zeroed frame pointer
#    T - 0x20  entry              rbx slot: `extern "C" fn(usize, *mut u8) -> !` (win64)
#    T - 0x28 .. T - 0x50         symmetric: rip = trampoline, then ExceptionList, StackBase,
#                                 StackLimit, DeallocationStack, GuaranteedStackBytes
#                                 linked: ExceptionList .. GuaranteedStackBytes, then
#                                 rip = start
#
#  Symbols: SWITCH, START and TRAMPOLINE are `sym` operands carrying the versioned names
#  (see x86_64_sysv_elf.s, Symbols); never spell a routine name out here.
#  Operands substituted by Rust (named in braces in the code): HANDLER (the top-level
#  exception handler), TEB_EXCEPTION_LIST,
#  TEB_STACK_BASE, TEB_STACK_LIMIT, TEB_DEALLOCATION_STACK, TEB_GUARANTEED_STACK_BYTES,
#  LINK_CALLER, LINKED_FRAME_TEB (offset of the TEB fields in the linked frame).
#
#  Top-level handler: a real thread's outermost frame (RtlUserThreadStart) has an exception
#  handler that runs the process's unhandled-exception filter (SetUnhandledExceptionFilter:
#  crash reporters, minidump writers) and ends the process with the exception's code. The
#  trampoline is a green stack's outermost frame, so it registers the same kind of handler
#  (`.seh_handler`, the Rust function `top_level_handler` in src/context/x86_64_windows.rs):
#  an exception that no frame of the green thread handled reaches it and the filter runs.
#  The handler never lets the search go on past the trampoline (its caller's "return
#  address" is the zero fake one, and the words above it are not frames): it continues
#  execution if the filter says so and otherwise terminates the process with the code.
#
#  SEH unwind info (instead of DWARF CFI): every routine is a `.seh_proc`. The switch is
#  entered with the resume address on top of the stack, like a call, and its prologue
#  describes the 0x28 bytes it pushes, so RtlVirtualUnwind inside it finds the resume
#  address (on either stack, since both frames have this layout). The 16 bytes of rbx/rbp
#  the inline asm pushed first are invisible to the unwind info of the enclosing Rust
#  function, as they are to its DWARF CFI on SysV: nothing ever unwinds through a switch.
#  The trampoline ends the chain: its prologue pushes the zero rbp over the zero fake return
#  address and sets rbp as frame pointer, so the unwinder's next return address is 0, where
#  RtlVirtualUnwind-based walkers (std's backtrace, debuggers) stop; an `int3` follows the
#  call (it also keeps the return address inside the function for the epilogue scan).

    .pushsection .text,"xr"

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_ms_switch
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
    .def {SWITCH}
    .scl 2
    .type 32
    .endef
    .p2align 4
{SWITCH}:
    .seh_proc {SWITCH}
    # The TEB fields: must match `SwitchFrame`.
    push qword ptr gs:[{TEB_EXCEPTION_LIST}]
    .seh_stackalloc 8
    push qword ptr gs:[{TEB_STACK_BASE}]
    .seh_stackalloc 8
    push qword ptr gs:[{TEB_STACK_LIMIT}]
    .seh_stackalloc 8
    push qword ptr gs:[{TEB_DEALLOCATION_STACK}]
    .seh_stackalloc 8
    # GuaranteedStackBytes is 32 bits wide: never touch the 4 bytes after it.
    mov ecx, dword ptr gs:[{TEB_GUARANTEED_STACK_BYTES}]
    push rcx
    .seh_stackalloc 8
    .seh_endprologue

    mov [rdi], rsp
    mov rsp, rsi

    # Put the target's TEB fields back, go to its resume address.
    pop rcx
    mov dword ptr gs:[{TEB_GUARANTEED_STACK_BYTES}], ecx
    pop qword ptr gs:[{TEB_DEALLOCATION_STACK}]
    pop qword ptr gs:[{TEB_STACK_LIMIT}]
    pop qword ptr gs:[{TEB_STACK_BASE}]
    pop qword ptr gs:[{TEB_EXCEPTION_LIST}]
    pop rcx
    jmp rcx
    .seh_endproc

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_ms_start
#
#  First resume address of a fresh coroutine, reached by the `call` in `resume`. At this
#  point our register state contains:
#    rdi = *mut Link of the coroutine
#    rsi = its stack pointer, T - 0x50 (the rip slot of the linked initial frame)
#    rdx = the value passed by the first resume
#    rsp = the resumer's stack, pointing at the return address `resume` pushed
#  It saves the resumer's TEB fields on the resumer's stack and publishes that rsp in the
#  link (the landing every `suspend` does too), moves to the coroutine's stack, loads its
#  TEB fields and continues in the trampoline.
# ------------------------------------------------------------------------------------------
    .globl {START}
    .def {START}
    .scl 2
    .type 32
    .endef
    .p2align 4
{START}:
    .seh_proc {START}
    .seh_endprologue
    push qword ptr gs:[{TEB_EXCEPTION_LIST}]
    push qword ptr gs:[{TEB_STACK_BASE}]
    push qword ptr gs:[{TEB_STACK_LIMIT}]
    push qword ptr gs:[{TEB_DEALLOCATION_STACK}]
    mov ecx, dword ptr gs:[{TEB_GUARANTEED_STACK_BYTES}]
    push rcx
    mov [rdi + {LINK_CALLER}], rsp
    lea rsp, [rsi + {LINKED_FRAME_TEB}]
    pop rcx
    mov dword ptr gs:[{TEB_GUARANTEED_STACK_BYTES}], ecx
    pop qword ptr gs:[{TEB_DEALLOCATION_STACK}]
    pop qword ptr gs:[{TEB_STACK_LIMIT}]
    pop qword ptr gs:[{TEB_STACK_BASE}]
    pop qword ptr gs:[{TEB_EXCEPTION_LIST}]
    jmp {TRAMPOLINE}
    .seh_endproc

# ------------------------------------------------------------------------------------------
#  greenthread_x86_64_ms_trampoline
#
#  First resume address of a fresh context (the TEB fields are already loaded), and the
#  tail of `start`. At this point our register state contains:
#    rdx = the value passed by the first switch
#    rsp = T - 0x20, pointing at the initial frame's rbx slot (see the table)
#  It pops entry, the zero frame pointer and data, which leaves rsp = T - 8 at the zero fake
#  return address, as at a function entry; it then builds a standard frame (saved rbp 0,
#  return address 0) and 32 bytes of home space, and calls entry(rcx = value, rdx = data),
#  which never returns.
# ------------------------------------------------------------------------------------------
    .globl {TRAMPOLINE}
    .def {TRAMPOLINE}
    .scl 2
    .type 32
    .endef
    .p2align 4
{TRAMPOLINE}:
    .seh_proc {TRAMPOLINE}
    # The top-level exception handler of every green stack, as RtlUserThreadStart's is for
    # an OS thread's: see "Top-level handler" in the header.
    .seh_handler {HANDLER}, @except
    pop rbx
    pop rbp
    mov rcx, rdx
    pop rdx
    push rbp
    .seh_pushreg rbp
    sub rsp, 32
    .seh_stackalloc 32
    lea rbp, [rsp + 32]
    .seh_setframe rbp, 32
    .seh_endprologue
    call rbx
    # entry() never returns.
    int3
    .seh_endproc

    .popsection
