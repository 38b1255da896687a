//! [`Coroutine`]: a closure running on its own stack, resumed and suspended by value.
//!
//! Layout of a coroutine's stack (see the diagrams in [`crate::context`]): the closure and a
//! small `Header` sit at the top of the stack, at addresses that never move, so the
//! `Coroutine` value itself may be moved freely between resumptions. Below them is the
//! initial frame written by `linked::init` (the asymmetric switch of [`crate::context`]).
//!
//! Values cross the switch in one register: the value itself when it fits in a `usize`,
//! otherwise a pointer to a `MaybeUninit` on the sender's stack, which the sender never
//! touches again and the receiver moves out of before doing anything else (the sender's
//! frame is suspended during that read, so the pointer is valid). A forced unwind is asked
//! for with a flag in the header, and the coroutine's last message (`Outcome`) always goes
//! by pointer, flagged by `finished`.
//!
//! Panics never cross the assembly: the entry function runs the closure under
//! `catch_unwind`, hands the payload to the resumer as a message, and switches away for the
//! last time; [`Coroutine::resume`] re-raises it on the resumer's stack.

use core::marker::PhantomData;
use core::mem::{MaybeUninit, align_of, size_of};
use core::ptr;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::fp::FpEnv;
use super::{Link, linked};
use crate::fatal::fatal;
use crate::stack::{self, Stack, StackError};

/// What [`Coroutine::resume`] returns: the coroutine either suspended with a value or
/// finished with its closure's return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoroutineResult<Yield, Return> {
    /// The coroutine called [`Yielder::suspend`] with this value.
    Yield(Yield),
    /// The coroutine's closure returned this value; it cannot be resumed again.
    Return(Return),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if any.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The returned value, if any.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// Addresses that stay put for the coroutine's whole life: at the top of its stack.
#[repr(C)]
struct Header {
    /// The resumer's and the coroutine's stack pointers, written by the switch itself.
    link: Link,
    /// Where the closure was placed (moved out by the entry function on first resume).
    closure: *mut u8,
    /// Set by the coroutine before it switches out: whether the value it passes is an
    /// encoded `Y` (false) or a pointer to its final `Outcome<R>` (true). `Yielder` does not
    /// know `R`, so the two travel as different types.
    finished: bool,
    /// Set by `Drop` before it resumes a suspended coroutine: `suspend` unwinds instead of
    /// returning (the value passed is then meaningless). Stays set.
    unwind: bool,
    /// Created with [`CoroutineBuilder::preserve_fp_env`]`(true)`.
    preserve_fp: bool,
}

/// What the resumer learns from one switch into the coroutine.
enum SuspendMsg<Y, R> {
    Yield(Y),
    Return(R),
    Panicked(Box<dyn Any + Send>),
    /// The forced unwind requested by `Drop` reached the root.
    Unwound,
}

/// Passes `*slot` across a switch as one `usize`: the value itself if it fits (moved out of
/// `slot`), else a pointer to `slot` (as corosensei does). Registers carry small values both
/// ways, so the common case touches no memory.
///
/// # Safety
/// `slot` must be initialised; afterwards it must be treated as moved-from, and, if the value
/// does not fit, stay where it is until the receiver has called [`decode`].
#[inline(always)]
unsafe fn encode<T>(slot: &mut MaybeUninit<T>) -> usize {
    if size_of::<T>() <= size_of::<usize>() {
        let mut out = 0usize;
        // SAFETY: `slot` is initialised (our caller's promise) and T fits in `out`; the value
        // moves into `out` (`slot` is MaybeUninit, so it is not dropped twice).
        unsafe { ptr::write_unaligned((&raw mut out).cast::<T>(), slot.assume_init_read()) };
        out
    } else {
        slot.as_ptr() as usize
    }
}

/// Takes the value [`encode`] produced on the other side of the switch.
///
/// # Safety
/// `v` must come from `encode::<T>` and be decoded exactly once, while the sender is
/// suspended.
#[inline(always)]
unsafe fn decode<T>(v: usize) -> T {
    if size_of::<T>() <= size_of::<usize>() {
        // SAFETY: `encode` wrote a valid T into the first bytes of this word.
        unsafe { ptr::read_unaligned((&raw const v).cast::<T>()) }
    } else {
        // SAFETY: a pointer to the sender's initialised slot, which stays put while the
        // sender is suspended, read once.
        unsafe { ptr::read(v as *const T) }
    }
}

/// The last message of a coroutine, sent by `entry` (`header.finished` set).
enum Outcome<R> {
    Return(R),
    Panicked(Box<dyn Any + Send>),
    Unwound,
}

/// The private payload a forced unwind carries; user code that catches it must let it go on.
struct ForcedUnwind;

/// The coroutine's state as its owner sees it. There is no "running" state: `resume` holds
/// `&mut self` while the coroutine runs, so nothing can resume or drop it meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Suspended,
    Done,
}

/// A closure running on its own guarded stack, which can suspend back to whoever resumed it.
///
/// `Input` is what [`resume`](Self::resume) passes in (the first one becomes the closure's
/// second argument, later ones are what [`Yielder::suspend`] returns), `Yield` what
/// `suspend` passes out, and `Return` the closure's result.
///
/// A coroutine is `!Send`: code on its stack may hold thread-local addresses, which the
/// compiler is free to cache in callee-saved registers across a switch, so it must always
/// run on the OS thread that created it.
///
/// Dropping a coroutine that is suspended unwinds its stack first, so destructors of values
/// living on it run; dropping one that never started drops its closure without running it.
///
/// # Examples
///
/// ```
/// use greenthread::{Coroutine, CoroutineResult, Yielder};
///
/// let mut fib = Coroutine::new(|y: &Yielder<(), u64>, ()| {
///     let (mut a, mut b) = (0u64, 1u64);
///     for _ in 0..10 {
///         y.suspend(a);
///         (a, b) = (b, a + b);
///     }
/// })
/// .unwrap();
/// let mut seen = Vec::new();
/// while let CoroutineResult::Yield(v) = fib.resume(()) {
///     seen.push(v);
/// }
/// assert_eq!(seen, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
/// assert!(fib.is_finished());
/// ```
pub struct Coroutine<Input, Yield, Return> {
    /// `None` once finished (returned to the pool).
    stack: Option<Stack>,
    header: *mut Header,
    state: State,
    /// Drops the closure in place; used only if the coroutine never started.
    drop_closure: unsafe fn(*mut u8),
    _marker: CoroutineMarker<Input, Yield, Return>,
}

/// The coroutine's handle on itself, passed by reference to its closure: it suspends the
/// coroutine back to the resumer.
pub struct Yielder<Input, Yield> {
    header: *mut Header,
    _marker: YielderMarker<Input, Yield>,
}

/// Variance and auto-trait marker: `!Send` and `!Sync`, and **invariant** in every value
/// type that crosses a switch.
///
/// The variance rule: a value crosses a switch in both directions over the life of a
/// coroutine (an `Input` is handed in by `resume` and may be kept by the closure across
/// later `suspend`s; a `Yield` or `Return` is produced on one side and consumed on the
/// other), so neither side may see the type at a lifetime the other side did not agree to.
/// Covariance in `Input` would let a `Coroutine<&'static T, ..>` be used as a
/// `Coroutine<&'short T, ..>`; contravariance (the old `fn(I)` marker) let a coroutine built
/// for `&'short T` be used as one for `&'static T`, so a closure that kept its first input
/// across a `suspend` read freed memory on the next `resume`. `*mut` makes all three
/// invariant and, because the drop glue may touch values of these types (a forced unwind
/// drops the closure's locals), dropck requires them to outlive the coroutine.
type CoroutineMarker<I, Y, R> = PhantomData<*mut (I, Y, R)>;
/// As [`CoroutineMarker`]: `Yielder` is invariant in `Input` and `Yield`.
type YielderMarker<I, Y> = PhantomData<*mut (I, Y)>;

/// A closure larger than this is boxed rather than placed on the coroutine's stack.
const MAX_INLINE_CLOSURE: usize = 1024;

/// Creates [`Coroutine`]s with a stack size or with their own floating-point environment.
///
/// ```
/// use greenthread::{CoroutineBuilder, CoroutineResult, Yielder};
///
/// let mut co = CoroutineBuilder::new()
///     .stack_size(64 * 1024)
///     .preserve_fp_env(true)
///     .build(|y: &Yielder<u32, u32>, x: u32| y.suspend(x + 1) * 2)
///     .unwrap();
/// assert_eq!(co.resume(1), CoroutineResult::Yield(2));
/// assert_eq!(co.resume(5), CoroutineResult::Return(10));
/// ```
#[derive(Debug, Default, Clone, Copy)]
#[must_use = "a CoroutineBuilder does nothing until `build` is called"]
pub struct CoroutineBuilder {
    stack_size: usize,
    preserve_fp_env: bool,
}

impl CoroutineBuilder {
    /// A builder for a coroutine on a default-size stack that runs in the default
    /// floating-point environment.
    ///
    /// ```
    /// use greenthread::{CoroutineBuilder, Yielder};
    ///
    /// let co = CoroutineBuilder::new().build(|_: &Yielder<(), ()>, ()| 7);
    /// assert!(co.is_ok());
    /// ```
    pub fn new() -> CoroutineBuilder {
        CoroutineBuilder::default()
    }

    /// Sets the usable stack size in bytes, rounded up to whole pages; 0 means the default
    /// ([`stack::DEFAULT_STACK_SIZE`]). Below [`stack::MIN_STACK_SIZE`] `build` fails.
    ///
    /// ```
    /// use greenthread::{CoroutineBuilder, StackError, Yielder};
    ///
    /// let r = CoroutineBuilder::new().stack_size(4096).build(|_: &Yielder<(), ()>, ()| {});
    /// assert!(matches!(r, Err(StackError::TooSmall { .. })));
    /// ```
    pub fn stack_size(mut self, size: usize) -> CoroutineBuilder {
        self.stack_size = size;
        self
    }

    /// Whether the coroutine keeps its own floating-point control state across suspensions
    /// (default `false`).
    ///
    /// The control state is the rounding mode, the exception masks and flush-to-zero:
    /// MXCSR bits 6..15 and the x87 control word on x86_64, FPCR on aarch64, `frm` on
    /// riscv64 (status flags are not included). Rust code assumes the default environment,
    /// so code that changes it must normally restore it before any call, a switch included.
    /// With `true`, a coroutine may instead stay in its own environment:
    ///
    /// - it starts in the default environment, whatever its resumer's is;
    /// - when it suspends (or ends) in another environment, its resumer gets the default
    ///   environment (Rust's contract for the resumer), and the next
    ///   [`resume`](Coroutine::resume) brings the coroutine's own back, whatever the
    ///   resumer's is then. While the coroutine's own is the default, it runs in its
    ///   resumer's, which is the default under Rust's contract.
    ///
    /// The cost is one read of the control state per suspend (on x86_64 `stmxcsr` +
    /// `fnstcw`, about 8 ns on a Zen 4); the two loads run only while the coroutine is not
    /// in the default environment.
    ///
    /// With `false` nothing is read or written: the coroutine runs in whatever environment
    /// the resumer has, which is the default one under Rust's contract. Either way `resume`
    /// is like a call from the resumer's side: a resumer in its own environment (an
    /// opted-in green thread, say) gets the default one back from an opted-in coroutine,
    /// and lends its own to one that did not opt in.
    ///
    /// ```
    /// use greenthread::{CoroutineBuilder, Yielder};
    ///
    /// let co = CoroutineBuilder::new().preserve_fp_env(true).build(|_: &Yielder<(), ()>, ()| 1.5f64);
    /// assert_eq!(co.unwrap().resume(()).as_return(), Some(1.5));
    /// ```
    pub fn preserve_fp_env(mut self, preserve: bool) -> CoroutineBuilder {
        self.preserve_fp_env = preserve;
        self
    }

    /// Creates the coroutine on a stack from this OS thread's pool; the closure does not
    /// run until the first [`resume`](Coroutine::resume).
    ///
    /// ```
    /// use greenthread::{CoroutineBuilder, Yielder};
    ///
    /// let mut co = CoroutineBuilder::new().build(|_: &Yielder<(), ()>, ()| "done").unwrap();
    /// assert_eq!(co.resume(()).as_return(), Some("done"));
    /// ```
    ///
    /// # Errors
    /// [`StackError`] if the stack size is invalid or no stack can be mapped.
    pub fn build<I, Y, R, F>(self, f: F) -> Result<Coroutine<I, Y, R>, StackError>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        let stack = stack::acquire(self.stack_size)?;
        Ok(self.build_on(stack, f))
    }

    /// Creates the coroutine on the given stack (the stack size set on the builder is
    /// ignored). When the coroutine finishes or is dropped, the stack goes to this OS
    /// thread's pool.
    ///
    /// ```
    /// use greenthread::{CoroutineBuilder, Yielder};
    /// use greenthread::stack::Stack;
    ///
    /// let stack = Stack::new(0).unwrap();
    /// let mut co = CoroutineBuilder::new().build_on(stack, |_: &Yielder<(), ()>, ()| 3);
    /// assert_eq!(co.resume(()).as_return(), Some(3));
    /// ```
    pub fn build_on<I, Y, R, F>(self, stack: Stack, f: F) -> Coroutine<I, Y, R>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        if size_of::<F>() > MAX_INLINE_CLOSURE {
            Coroutine::place(stack, Box::new(f), self.preserve_fp_env)
        } else {
            Coroutine::place(stack, f, self.preserve_fp_env)
        }
    }
}

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Creates a coroutine on a stack of the default size ([`stack::DEFAULT_STACK_SIZE`]),
    /// taken from this OS thread's stack pool. The closure does not run until the first
    /// [`resume`](Self::resume). It runs in its resumer's floating-point environment
    /// ([`CoroutineBuilder::preserve_fp_env`] gives it its own).
    ///
    /// # Errors
    /// [`StackError`] if no stack can be had (the kernel refused the mapping, e.g. at the
    /// `vm.max_map_count` limit).
    pub fn new<F>(f: F) -> Result<Self, StackError>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        CoroutineBuilder::new().build(f)
    }

    /// Like [`new`](Self::new) with a stack of at least `size` usable bytes (rounded up to
    /// whole pages; 0 means the default).
    ///
    /// ```
    /// use greenthread::{Coroutine, StackError, Yielder};
    ///
    /// let co = Coroutine::<(), (), ()>::with_stack_size(64 * 1024, |_: &Yielder<(), ()>, ()| {});
    /// assert!(co.is_ok());
    /// let too_small =
    ///     Coroutine::<(), (), ()>::with_stack_size(32 * 1024 - 1, |_: &Yielder<(), ()>, ()| {});
    /// assert!(matches!(too_small, Err(StackError::TooSmall { .. })));
    /// ```
    ///
    /// # Errors
    /// [`StackError`] if `size` is below [`stack::MIN_STACK_SIZE`] or too large to round,
    /// or if no stack can be mapped.
    pub fn with_stack_size<F>(size: usize, f: F) -> Result<Self, StackError>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        CoroutineBuilder::new().stack_size(size).build(f)
    }

    /// Creates a coroutine on the given stack. When the coroutine finishes or is dropped,
    /// the stack goes to this OS thread's pool.
    pub fn with_stack<F>(stack: Stack, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        CoroutineBuilder::new().build_on(stack, f)
    }

    fn place<F>(stack: Stack, f: F, preserve_fp: bool) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        stack::ensure_thread_ready();
        let top = stack.top() as usize;
        let closure = (top - size_of::<F>()) & !(align_of::<F>().max(16) - 1);
        let header = (closure - size_of::<Header>()) & !15;
        // The closure is at most MAX_INLINE_CLOSURE bytes and the stack at least
        // MIN_STACK_SIZE, so all of this fits far above the guard page.
        debug_assert!(header - super::raw::INIT_SIZE > stack.bottom() as usize + 16 * 1024);
        let closure = closure as *mut F;
        let header = header as *mut Header;
        // SAFETY: `header` is 16-aligned; the INIT_SIZE bytes below it are unused stack
        // memory, and the stack is owned by the coroutine for as long as it may run.
        let sp = unsafe { linked::init(header.cast(), entry::<F, I, Y, R>, header.cast()) };
        // SAFETY: both addresses lie inside the stack's usable region (checked above), are
        // aligned for their types, and nothing else uses that memory yet.
        unsafe {
            closure.write(f);
            header.write(Header {
                link: Link { caller: 0, sp },
                closure: closure.cast(),
                finished: false,
                unwind: false,
                preserve_fp,
            });
        }
        Coroutine {
            stack: Some(stack),
            header,
            state: State::NotStarted,
            drop_closure: drop_in_place_erased::<F>,
            _marker: PhantomData,
        }
    }

    /// Runs the coroutine until it suspends or returns, passing it `input`.
    ///
    /// # Panics
    /// - If the closure panics, the panic is caught on the coroutine's stack and re-raised
    ///   here, on the resumer's stack, with [`std::panic::resume_unwind`] (the panic hook
    ///   already ran on the coroutine's side). The coroutine is then finished.
    /// - If the coroutine has already finished (check [`is_finished`](Self::is_finished)).
    #[inline]
    pub fn resume(&mut self, input: I) -> CoroutineResult<Y, R> {
        match self.state {
            State::Suspended => {}
            State::NotStarted => self.state = State::Suspended,
            State::Done => resume_refused(),
        }
        let mut slot = MaybeUninit::new(input);
        // SAFETY: initialised just above; not touched again (and it outlives the switch).
        let arg = unsafe { encode(&mut slot) };
        match self.switch_in(arg) {
            SuspendMsg::Yield(y) => CoroutineResult::Yield(y),
            SuspendMsg::Return(r) => CoroutineResult::Return(r),
            SuspendMsg::Panicked(p) => resume_unwind(p),
            SuspendMsg::Unwound => fatal!("coroutine unwound without being asked to"),
        }
    }

    /// Whether the coroutine has started running (it may since have finished).
    pub fn started(&self) -> bool {
        self.state != State::NotStarted
    }

    /// Whether the coroutine has finished: returned, panicked, or been unwound.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// Switches into the suspended coroutine with `arg` and returns what it sent back, giving
    /// the stack back to the pool once the coroutine has finished.
    #[inline(always)]
    fn switch_in(&mut self, arg: usize) -> SuspendMsg<Y, R> {
        let header = self.header;
        // SAFETY: the coroutine is suspended (state checked by our callers) and was made by
        // `linked::init`, so `link.sp` is its published stack pointer; its stack is mapped
        // (we own it), and we are on the creating OS thread (`Coroutine` is !Send). The
        // header stays at its address until the coroutine is done.
        let reply = unsafe { linked::resume(&raw mut (*header).link, arg) };
        // SAFETY: the coroutine is suspended or finished; it set `finished` before switching.
        if !unsafe { (*header).finished } {
            // SAFETY: `suspend` encoded a `Y` and is suspended; we decode it once.
            return SuspendMsg::Yield(unsafe { decode::<Y>(reply) });
        }
        self.finish(reply)
    }

    /// The coroutine has sent its last message: take it, then give the stack back.
    #[cold]
    #[inline(never)]
    fn finish(&mut self, reply: usize) -> SuspendMsg<Y, R> {
        // SAFETY: `entry` passed a pointer to an initialised `Outcome<R>` on the finished
        // coroutine's stack, which stays mapped until we release it below.
        let outcome = unsafe { ptr::read(reply as *const Outcome<R>) };
        self.state = State::Done;
        if let Some(stack) = self.stack.take() {
            stack::release(stack);
        }
        match outcome {
            Outcome::Return(r) => SuspendMsg::Return(r),
            Outcome::Panicked(p) => SuspendMsg::Panicked(p),
            Outcome::Unwound => SuspendMsg::Unwound,
        }
    }
}

impl<I, Y, R> Drop for Coroutine<I, Y, R> {
    fn drop(&mut self) {
        match self.state {
            State::Done => {}
            State::NotStarted => {
                // SAFETY: the closure was written by `place` and never moved out (the entry
                // function has not run); it is dropped exactly once, here.
                unsafe { (self.drop_closure)((*self.header).closure) };
                if let Some(stack) = self.stack.take() {
                    stack::release(stack);
                }
                self.state = State::Done;
            }
            State::Suspended => {
                // Unwind the coroutine's stack. Code that catches the unwind and suspends
                // again is asked again until it finishes.
                let mut escaped = None;
                // SAFETY: the coroutine is suspended, so we may write its header.
                unsafe { (*self.header).unwind = true };
                while self.state != State::Done {
                    if let SuspendMsg::Panicked(p) = self.switch_in(0) {
                        escaped = Some(p);
                    }
                }
                // A destructor panicked during the forced unwind: pass it on unless that
                // would be a panic while panicking.
                if let Some(p) = escaped
                    && !std::thread::panicking()
                {
                    resume_unwind(p);
                }
            }
        }
    }
}

impl<I, Y> Yielder<I, Y> {
    /// Suspends the coroutine, handing `value` to the resumer, and returns the input of the
    /// next [`Coroutine::resume`].
    ///
    /// If the coroutine is dropped while suspended here, this call unwinds instead of
    /// returning (with a private payload and no panic message), so destructors on the
    /// coroutine's stack run. Code that catches that unwind must let it continue.
    #[inline]
    pub fn suspend(&self, value: Y) -> I {
        let mut slot = MaybeUninit::new(value);
        // SAFETY: initialised just above; not touched again (and it outlives the switch).
        let arg = unsafe { encode(&mut slot) };
        let header = self.header;
        // SAFETY: we run on the coroutine's stack, so the header is ours to read.
        let input = if unsafe { (*header).preserve_fp } {
            // SAFETY: as below.
            unsafe { suspend_fp(header, arg) }
        } else {
            // SAFETY: we are running on the coroutine's stack, resumed by `linked::resume`
            // through this link: the resumer is suspended in `switch_in`, which decodes our
            // value before anything else.
            unsafe { linked::suspend(&raw mut (*header).link, arg) }
        };
        // SAFETY: we were resumed, so the header is ours again.
        if unsafe { (*header).unwind } {
            forced_unwind();
        }
        // SAFETY: `resume` encoded an `I` and is suspended; we decode it once.
        unsafe { decode::<I>(input) }
    }
}

/// Unwinds the coroutine's stack for `Drop` (a private payload, no panic message).
#[cold]
#[inline(never)]
fn forced_unwind() -> ! {
    resume_unwind(Box::new(ForcedUnwind))
}

/// Refuses to resume a coroutine that has finished.
#[cold]
#[inline(never)]
#[track_caller]
fn resume_refused() -> ! {
    panic!("greenthread: resumed a coroutine that has finished")
}

/// [`Yielder::suspend`]'s switch for a coroutine that keeps its own FP environment: read
/// ours; if it is not the default, give the resumer the default one, switch, and on return
/// load ours again. Only the read runs on every suspend: it is the expensive part (`stmxcsr`
/// takes about 8 ns on this machine's Zen 4), and the loads (`ldmxcsr` + `fldcw`, which
/// cost about 10 ns here in a tight switch loop although only 1.5 ns alone) run only while
/// the coroutine is in its own environment. The resumer's environment is never read: it is
/// the default one under Rust's contract.
///
/// # Safety
/// As `linked::suspend`, on the stack of the coroutine whose header is `header`.
#[inline(always)]
unsafe fn suspend_fp(header: *mut Header, msg: usize) -> usize {
    let own = FpEnv::current();
    if !own.same_control(FpEnv::DEFAULT) {
        // SAFETY: the resumer runs in the default environment (Rust's contract).
        unsafe { FpEnv::DEFAULT.load() };
    }
    // SAFETY: forwarded from our caller.
    let input = unsafe { linked::suspend(&raw mut (*header).link, msg) };
    if !own.same_control(FpEnv::DEFAULT) {
        // SAFETY: our own environment, as it was when we suspended.
        unsafe { own.load() };
    }
    input
}

/// Type-erased drop of a closure that never ran.
///
/// # Safety
/// `p` must point to a valid, initialised `F` that is not used again.
unsafe fn drop_in_place_erased<F>(p: *mut u8) {
    // SAFETY: forwarded from our caller.
    unsafe { ptr::drop_in_place(p.cast::<F>()) }
}

/// The entry function of every coroutine: runs the closure under `catch_unwind`, sends the
/// outcome to the resumer and switches away for the last time.
///
/// # Safety
/// Called only by the trampoline of a context set up by `Coroutine::place`, with `data` its
/// header and `arg` the first input, encoded.
unsafe extern "C" fn entry<F, I, Y, R>(arg: usize, data: *mut u8) -> !
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    let header = data.cast::<Header>();
    // SAFETY: our header; nobody else touches it while we run.
    let preserve_fp = unsafe { (*header).preserve_fp };
    if preserve_fp {
        // SAFETY: an opted-in coroutine starts in the default environment, whatever its
        // resumer's is.
        unsafe { FpEnv::DEFAULT.load() };
    }
    // SAFETY: the first resume always sends an encoded `I` (Drop never resumes an
    // unstarted coroutine), decoded once while the resumer is suspended.
    let input = unsafe { decode::<I>(arg) };
    // SAFETY: `place` wrote the closure here and it is moved out exactly once: the state is
    // no longer NotStarted (`resume` changed it before the first switch), so Drop will not
    // drop it in place.
    let f = unsafe { ptr::read((*header).closure.cast::<F>()) };
    let yielder = Yielder::<I, Y> {
        header,
        _marker: PhantomData,
    };
    let msg = MaybeUninit::new(
        match catch_unwind(AssertUnwindSafe(|| f(&yielder, input))) {
            Ok(r) => Outcome::<R>::Return(r),
            Err(p) if p.is::<ForcedUnwind>() => Outcome::Unwound,
            Err(p) => Outcome::Panicked(p),
        },
    );
    // SAFETY: we run on the coroutine's stack; the header is ours while we run.
    unsafe { (*header).finished = true };
    if preserve_fp && !FpEnv::current().same_control(FpEnv::DEFAULT) {
        // SAFETY: the resumer runs in the default environment (Rust's contract).
        unsafe { FpEnv::DEFAULT.load() };
    }
    // SAFETY: the resumer is suspended in `switch_in` (linked through our header); it reads
    // our message and never resumes us again (state becomes Done). Nothing on this stack
    // needs dropping: the closure has been consumed and `msg` is moved out by the resumer.
    unsafe { linked::finish(&raw mut (*header).link, msg.as_ptr() as usize) }
}

impl<I, Y, R> core::fmt::Debug for Coroutine<I, Y, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Coroutine")
            .field("state", &self.state)
            .field("stack", &self.stack.as_ref().map(Stack::id))
            .finish_non_exhaustive()
    }
}

impl<I, Y> core::fmt::Debug for Yielder<I, Y> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}
