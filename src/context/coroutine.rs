//! [`Coroutine`]: a closure running on its own stack, resumed and suspended by value.
//!
//! Layout of a coroutine's stack (see the diagrams in [`crate::context`]): the closure and a
//! small `Header` sit at the top of the stack, at addresses that never move, so the
//! `Coroutine` value itself may be moved freely between resumptions. Below them is the
//! initial frame written by [`raw::init`].
//!
//! Values cross the switch as a pointer to a `MaybeUninit` on the sender's stack: the sender
//! writes the value, switches, and never touches it again; the receiver moves it out with
//! `ptr::read` before doing anything else. The sender's frame is suspended during that read,
//! so the pointer is valid.
//!
//! Panics never cross the assembly: the entry function runs the closure under
//! `catch_unwind`, hands the payload to the resumer as a message, and switches away for the
//! last time; [`Coroutine::resume`] re-raises it on the resumer's stack.

use core::marker::PhantomData;
use core::mem::{MaybeUninit, align_of, size_of};
use core::ptr;
use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use super::raw;
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
    /// Stack pointer of whoever resumed the coroutine; valid while the coroutine runs.
    caller_sp: usize,
    /// Stack pointer of the coroutine; valid while it is suspended.
    self_sp: usize,
    /// Where the closure was placed (moved out by the entry function on first resume).
    closure: *mut u8,
    /// Set by the coroutine before it switches out: whether the pointer it passes is a
    /// yielded `Y` (false) or its final `Outcome<R>` (true). `Yielder` does not know `R`,
    /// so the two travel as different types.
    finished: bool,
}

/// Sent from the resumer to the coroutine.
enum ResumeMsg<I> {
    Value(I),
    /// Unwind the coroutine's stack: sent by `Drop` to a suspended coroutine.
    Unwind,
}

/// What the resumer learns from one switch into the coroutine.
enum SuspendMsg<Y, R> {
    Yield(Y),
    Return(R),
    Panicked(Box<dyn Any + Send>),
    /// The forced unwind requested by `Drop` reached the root.
    Unwound,
}

/// The last message of a coroutine, sent by `entry` (`header.finished` set).
enum Outcome<R> {
    Return(R),
    Panicked(Box<dyn Any + Send>),
    Unwound,
}

/// The private payload a forced unwind carries; user code that catches it must let it go on.
struct ForcedUnwind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    NotStarted,
    Suspended,
    Running,
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

impl<I, Y, R> Coroutine<I, Y, R> {
    /// Creates a coroutine on a stack of the default size ([`stack::DEFAULT_STACK_SIZE`]),
    /// taken from this OS thread's stack pool. The closure does not run until the first
    /// [`resume`](Self::resume).
    ///
    /// # Errors
    /// [`StackError`] if no stack can be had (the kernel refused the mapping, e.g. at the
    /// `vm.max_map_count` limit).
    pub fn new<F>(f: F) -> Result<Self, StackError>
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        Self::with_stack_size(0, f)
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
        let stack = stack::acquire(size)?;
        Ok(Self::with_stack(stack, f))
    }

    /// Creates a coroutine on the given stack. When the coroutine finishes or is dropped,
    /// the stack goes to this OS thread's pool.
    pub fn with_stack<F>(stack: Stack, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        if size_of::<F>() > MAX_INLINE_CLOSURE {
            Self::place(stack, Box::new(f))
        } else {
            Self::place(stack, f)
        }
    }

    fn place<F>(stack: Stack, f: F) -> Self
    where
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        stack::ensure_thread_ready();
        let top = stack.top() as usize;
        let closure = (top - size_of::<F>()) & !(align_of::<F>().max(16) - 1);
        let header = (closure - size_of::<Header>()) & !15;
        // The closure is at most MAX_INLINE_CLOSURE bytes and the stack at least
        // MIN_STACK_SIZE, so all of this fits far above the guard page.
        debug_assert!(header - raw::INIT_SIZE > stack.bottom() as usize + 16 * 1024);
        let closure = closure as *mut F;
        let header = header as *mut Header;
        // SAFETY: both addresses lie inside the stack's usable region (checked above), are
        // aligned for their types, and nothing else uses that memory yet.
        unsafe {
            closure.write(f);
            header.write(Header {
                caller_sp: 0,
                self_sp: 0,
                closure: closure.cast(),
                finished: false,
            });
        }
        // SAFETY: `header` is 16-aligned; the INIT_SIZE bytes below it are unused stack
        // memory, and the stack is owned by the coroutine for as long as it may run.
        let sp = unsafe { raw::init(header.cast(), entry::<F, I, Y, R>, header.cast()) };
        // SAFETY: nothing has resumed the context yet, so we are its only user.
        unsafe { (*header).self_sp = sp };
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
        if !matches!(self.state, State::NotStarted | State::Suspended) {
            self.resume_refused();
        }
        match self.switch_in(ResumeMsg::Value(input)) {
            SuspendMsg::Yield(y) => CoroutineResult::Yield(y),
            SuspendMsg::Return(r) => CoroutineResult::Return(r),
            SuspendMsg::Panicked(p) => resume_unwind(p),
            SuspendMsg::Unwound => fatal!("coroutine unwound without being asked to"),
        }
    }

    #[cold]
    #[inline(never)]
    fn resume_refused(&self) -> ! {
        match self.state {
            State::Running => fatal!("coroutine resumed while running"),
            _ => panic!("greenthread: resumed a coroutine that has finished"),
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

    /// Switches into the coroutine with `msg` and returns what it sent back, updating the
    /// state and giving the stack back to the pool once the coroutine has finished.
    #[inline]
    fn switch_in(&mut self, msg: ResumeMsg<I>) -> SuspendMsg<Y, R> {
        let msg = MaybeUninit::new(msg);
        self.state = State::Running;
        let header = self.header;
        // SAFETY: the coroutine is suspended (state checked by our callers), so `self_sp`
        // is its published stack pointer, its stack is mapped (we own it), and we are on
        // the creating OS thread (`Coroutine` is !Send). `caller_sp` is written only here
        // and read only by the coroutine while we are suspended.
        let reply = unsafe {
            raw::switch(
                &raw mut (*header).caller_sp,
                (*header).self_sp,
                msg.as_ptr() as usize,
            )
        };
        // SAFETY: the coroutine is suspended or finished; it set `finished` before switching.
        if !unsafe { (*header).finished } {
            self.state = State::Suspended;
            // SAFETY: `suspend` passed a pointer to an initialised `Y` on the coroutine's
            // suspended stack and will not read it again.
            return SuspendMsg::Yield(unsafe { ptr::read(reply as *const Y) });
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
                while self.state != State::Done {
                    if let SuspendMsg::Panicked(p) = self.switch_in(ResumeMsg::Unwind) {
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
            State::Running => fatal!("coroutine dropped while running"),
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
        let msg = MaybeUninit::new(value);
        let header = self.header;
        // SAFETY: we are running on the coroutine's stack, so `caller_sp` is the resumer's
        // published stack pointer and it is suspended in `switch_in`, which reads our
        // message before anything else. `self_sp` is ours to write.
        let input = unsafe {
            raw::switch(
                &raw mut (*header).self_sp,
                (*header).caller_sp,
                msg.as_ptr() as usize,
            )
        };
        // SAFETY: the resumer passed a pointer to an initialised ResumeMsg on its suspended
        // stack and will not read it again.
        match unsafe { ptr::read(input as *const ResumeMsg<I>) } {
            ResumeMsg::Value(v) => v,
            ResumeMsg::Unwind => resume_unwind(Box::new(ForcedUnwind)),
        }
    }
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
/// header and `arg` a pointer to the first `ResumeMsg`.
unsafe extern "C" fn entry<F, I, Y, R>(arg: usize, data: *mut u8) -> !
where
    F: FnOnce(&Yielder<I, Y>, I) -> R,
{
    let header = data.cast::<Header>();
    // SAFETY: the first resume always sends a Value (Drop never unwinds an unstarted
    // coroutine); the resumer's message is read exactly once.
    let input = match unsafe { ptr::read(arg as *const ResumeMsg<I>) } {
        ResumeMsg::Value(v) => v,
        ResumeMsg::Unwind => fatal!("unwind sent to a coroutine that never started"),
    };
    // SAFETY: `place` wrote the closure here and it is moved out exactly once: the state is
    // now Running, so Drop will not drop it in place.
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
    // SAFETY: the resumer is suspended in `switch_in` with its pointer in `caller_sp`; it
    // reads our message and never resumes us again (state becomes Done), so our own saved
    // pointer is written to a slot nobody reads.
    unsafe {
        raw::switch(
            &raw mut (*header).self_sp,
            (*header).caller_sp,
            msg.as_ptr() as usize,
        );
    }
    fatal!("a finished coroutine was resumed")
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
