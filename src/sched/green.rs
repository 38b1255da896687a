//! The green-thread control block, its state machine, and the handles users hold
//! ([`GreenThread`], [`GreenHandle`]).
//!
//! # States
//!
//! A green thread's scheduling state is one [`State`]; every change goes through
//! [`Green::set_state`], which checks the table below and aborts the process (`fatal!`) on
//! any other transition, as Go's `casgstatus` throws on a bad status.
//!
//! | state     | meaning                                                          | where it is            |
//! |-----------|------------------------------------------------------------------|------------------------|
//! | `New`     | spawned, never switched to                                       | run queue, or waiting for its start timer (`spawn_after`) |
//! | `Ready`   | started, runnable                                                | run queue              |
//! | `Running` | the green thread executing now (one per hub)                     | `Hub::current`         |
//! | `Parked`  | suspended until woken: sleep, wait, a lock (`Parker`)            | maybe a join-waiter list and/or a timer |
//! | `Dead`    | finished; outcome stored, links called, waiters woken            | nowhere: off the slab  |
//!
//! | from \ to | New | Ready | Running | Parked | Dead |
//! |-----------|-----|-------|---------|--------|------|
//! | New       |     |       | first switch in (also to finish a killed/cancelled one) | | |
//! | Ready     |     |       | scheduled, or switched to by `kill` | |   |
//! | Running   |     | yield, or switched away from by `kill` | | park | returned / unwound, last switch away |
//! | Parked    |     | woken, timed out, killed, interrupted, deadlock reported | | | |
//! | Dead      |     |       |         |        |      |
//!
//! A green thread that is killed before it starts still goes New -> Running on its own
//! stack: its entry function drops the closure instead of calling it, then calls the links
//! and wakes the waiters there, exactly like a green thread that ran. So links always run
//! on the finishing green thread's stack (eventlet: "func is called within execution
//! context of the GreenThread"), and `kill` always switches into its victim.
//!
//! Orthogonal lifecycle facts are [`flag`] bits (started, killed or cancelled before start,
//! exiting i.e. calling links, ...) and [`pending`] bits (an interrupt to raise at the next
//! switch point).
//!
//! # Invariants
//!
//! - **I1 (liveness).** Every green thread that is not `Dead` is in its hub's slab, which
//!   holds a counted reference to its control block. A green thread is taken off the run
//!   queue and off any join-waiter list before it becomes `Dead`. So every pointer found in
//!   the run queue, a waiter list, the slab, or `Hub::current` points to a live block.
//! - **I2 (queue).** A green thread is in the run queue iff its state is `Ready`, or `New`
//!   and not waiting for a start timer.
//! - **I3 (outcome).** The outcome is written once, by the green thread itself, before it
//!   calls its links; it is read only once `Dead`; it is moved out only by
//!   [`GreenThread::join`] (which owns the only typed handle) or dropped when the last typed
//!   handle goes.
//! - **I4 (no user code in the scheduler).** Nothing the hub does between two switches runs
//!   user code (closures, destructors of user values, links), except where the table in
//!   `docs/HUB.md` says so: a dying green thread drops its unobserved outcome and calls its
//!   links on its own stack, before it becomes `Dead`.

use core::alloc::Layout;
use core::cell::{Cell, RefCell, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ops::Deref;
use core::ptr::{self, NonNull};
use std::any::Any;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::current;
use super::error::{Exit, HubError, JoinError, KillError, WaitError, payload_message};
use super::hub::is_kill_payload;
use super::park::WaitOn;
use super::runqueue::List;
use crate::fatal::fatal;
use crate::stack::Stack;

/// Scheduling state of a green thread; see the module docs for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    New,
    Ready,
    Running,
    Parked,
    Dead,
}

impl State {
    /// The transition table of the module docs.
    #[inline]
    pub(crate) const fn can_become(self, to: State) -> bool {
        use State::*;
        matches!(
            (self, to),
            (New, Running)
                | (Ready, Running)
                | (Running, Ready)
                | (Running, Parked)
                | (Running, Dead)
                | (Parked, Ready)
        )
    }
}

/// Why a parked green thread was made runnable; read by the parker when it resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// A wake-up: join target finished, or a `Waker` won the park.
    Woken,
    /// The park's deadline passed first.
    TimedOut,
    /// Killed, interrupted (main), or the hub is shutting down; nothing woke it first.
    Interrupted,
    /// The hub found every green thread blocked with nothing able to wake one (main only).
    Deadlock,
}

/// Lifecycle bits in [`Green::flags`].
pub(crate) mod flag {
    /// The closure has been called (also set for the main green thread).
    pub(crate) const STARTED: u16 = 1 << 0;
    /// Killed before it started: the closure is dropped, never called.
    pub(crate) const KILLED: u16 = 1 << 1;
    /// Cancelled before it started (or `spawn_after_local` whose spawner had finished).
    pub(crate) const CANCELLED: u16 = 1 << 2;
    /// The outcome is stored and the links are being called.
    pub(crate) const EXITING: u16 = 1 << 3;
    /// Spawned with `spawn_n`: nobody can wait for it; a panic is reported on stderr.
    pub(crate) const DETACHED: u16 = 1 << 4;
    /// The OS thread's own stack.
    pub(crate) const MAIN: u16 = 1 << 5;
    /// The current park is a `Parker` park: its word in `Shared::words` is armed.
    pub(crate) const WORD: u16 = 1 << 6;
    /// The current park may be ended by another OS thread (counts against deadlock).
    pub(crate) const EXTERNAL: u16 = 1 << 7;
    /// Not runnable until its start timer fires (`spawn_after`).
    pub(crate) const DELAYED: u16 = 1 << 8;
    /// Spawned with `Builder::preserve_fp_env(true)`: keeps its own FP control state.
    pub(crate) const FP_ENV: u16 = 1 << 9;
}

/// Interrupt bits in [`Green::pending`]: raised at the next switch point.
pub(crate) mod pending {
    /// Killed after it started (or the hub is shutting down): unwind with the kill payload.
    /// Stays set once set, so a kill swallowed by `catch_unwind` is raised again.
    pub(crate) const KILL: u8 = 1 << 0;
    /// `interrupt_main`: raise the hub's stored payload once (main green thread only).
    pub(crate) const INTERRUPT: u8 = 1 << 1;
    /// A payload queued with `raise::raise_in` (a `Timeout`): raised once, see `raise.rs`.
    pub(crate) const RAISE: u8 = 1 << 2;
}

/// The control block of one green thread (the main one included). Heap-allocated as the
/// first field of a [`GreenBox`], reference counted (not atomically: it never leaves its
/// OS thread), freed when the last reference goes.
#[repr(C)]
pub(crate) struct Green {
    /// Saved stack pointer while suspended (written by the switch away from it).
    pub(crate) sp: Cell<usize>,
    state: Cell<State>,
    pub(crate) flags: Cell<u16>,
    pub(crate) pending: Cell<u8>,
    /// Why it was last made runnable.
    pub(crate) wake: Cell<Wake>,
    // Intrusive links, see `runqueue.rs`.
    pub(crate) prev: Cell<*const Green>,
    pub(crate) next: Cell<*const Green>,
    pub(crate) list: Cell<*const List>,
    refs: Cell<usize>,
    /// Number of live `GreenThread<T>` handles (they can read the outcome).
    pub(crate) typed: Cell<usize>,
    drop_block: unsafe fn(NonNull<Green>),
    /// Nonzero, unique in the process (never reused).
    pub(crate) id: u64,
    /// Index in the hub's slab; the park word lives at the same index.
    pub(crate) slot: Cell<u32>,
    pub(crate) name: Option<Box<str>>,
    /// Usable bytes of its stack (0 for the main green thread).
    pub(crate) stack_size: usize,
    /// Token of the current park, or of the start timer: timers and wakes carrying another
    /// token are stale.
    pub(crate) token: Cell<u64>,
    /// What it is parked on, for `dump` and deadlock reports.
    pub(crate) wait_on: Cell<Option<WaitOn>>,
    pub(crate) deadline: Cell<Option<Instant>>,
    /// Green threads waiting for this one to finish.
    pub(crate) waiters: List,
    pub(crate) stack: Cell<Option<Stack>>,
    /// Where the closure sits on the stack until the entry function takes it.
    pub(crate) closure: Cell<*mut u8>,
    /// `(slot, id)` of the spawner, for `spawn_after_local`.
    pub(crate) spawner: Cell<Option<(u32, u64)>>,
    /// Its [`green_local!`](crate::green_local) values: null, or a `Box<Locals>` that only
    /// this green thread touches (`local.rs`).
    pub(crate) locals: Cell<*mut super::local::Locals>,
}

impl Green {
    /// A control block in state `New` (or `Running` for a main green thread) with one
    /// reference, the slab's.
    pub(crate) fn new(
        id: u64,
        name: Option<Box<str>>,
        stack_size: usize,
        flags: u16,
        drop_block: unsafe fn(NonNull<Green>),
    ) -> Green {
        let state = if flags & flag::MAIN != 0 {
            State::Running
        } else {
            State::New
        };
        Green {
            sp: Cell::new(0),
            state: Cell::new(state),
            flags: Cell::new(flags),
            pending: Cell::new(0),
            wake: Cell::new(Wake::Woken),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            list: Cell::new(ptr::null()),
            refs: Cell::new(1),
            typed: Cell::new(0),
            drop_block,
            id,
            slot: Cell::new(u32::MAX),
            name,
            stack_size,
            token: Cell::new(0),
            wait_on: Cell::new(None),
            deadline: Cell::new(None),
            waiters: List::new(),
            stack: Cell::new(None),
            closure: Cell::new(ptr::null_mut()),
            spawner: Cell::new(None),
            locals: Cell::new(ptr::null_mut()),
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> State {
        self.state.get()
    }

    /// The one place a state changes: checks the transition table, `fatal!` otherwise.
    #[inline]
    pub(crate) fn set_state(&self, to: State) {
        let from = self.state.get();
        if !from.can_become(to) {
            bad_transition(self.id, from, to);
        }
        self.state.set(to);
    }

    /// Marks the main green thread dead when its hub is torn down (not in the table: the
    /// main green thread never finishes otherwise).
    pub(crate) fn set_main_dead(&self) {
        debug_assert!(self.has(flag::MAIN));
        self.state.set(State::Dead);
    }

    #[inline]
    pub(crate) fn has(&self, f: u16) -> bool {
        self.flags.get() & f != 0
    }

    #[inline]
    pub(crate) fn add(&self, f: u16) {
        self.flags.set(self.flags.get() | f);
    }

    #[inline]
    pub(crate) fn clear(&self, f: u16) {
        self.flags.set(self.flags.get() & !f);
    }

    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        self.state.get() == State::Dead
    }

    #[inline]
    pub(crate) fn is_main(&self) -> bool {
        self.has(flag::MAIN)
    }

    /// Adds a reference.
    #[inline]
    pub(crate) fn retain(&self) {
        self.refs.set(self.refs.get() + 1);
    }

    /// Drops one reference, freeing the block with the last.
    ///
    /// # Safety
    /// `p` must point to a live block on which the caller owns a reference; the caller
    /// gives it up and must not use `p` again.
    #[inline]
    pub(crate) unsafe fn release(p: NonNull<Green>) {
        // SAFETY: the caller owns a reference, so the block is alive.
        let g = unsafe { p.as_ref() };
        let n = g.refs.get() - 1;
        g.refs.set(n);
        if n == 0 {
            let drop_block = g.drop_block;
            // SAFETY: that was the last reference: nothing else points to the block, and
            // `drop_block` is the destructor matching the type it was allocated as.
            unsafe { drop_block(p) };
        }
    }

    /// `" 'name'"` or `""`, for messages.
    pub(crate) fn quoted_name(&self) -> String {
        match &self.name {
            Some(n) => format!(" '{n}'"),
            None => String::new(),
        }
    }
}

#[cold]
#[inline(never)]
fn bad_transition(id: u64, from: State, to: State) -> ! {
    fatal!("green thread {id}: illegal state transition {from:?} -> {to:?}")
}

/// An uncounted pointer to a control block, as kept in lists and `Hub::current`. Live by
/// invariant I1 while the hub holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GPtr(NonNull<Green>);

impl From<&Green> for GPtr {
    #[inline]
    fn from(g: &Green) -> GPtr {
        GPtr(NonNull::from(g))
    }
}

impl GPtr {
    #[inline]
    pub(crate) fn as_ptr(self) -> *const Green {
        self.0.as_ptr()
    }

    /// The control block.
    ///
    /// # Safety
    /// The block must stay alive for `'a` (invariant I1 gives this for pointers taken from
    /// the hub's structures, until the green thread can have died: until the next switch).
    #[inline]
    pub(crate) unsafe fn get<'a>(self) -> &'a Green {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.as_ref() }
    }
}

/// A counted reference to a control block: the slab's, and what the handles hold.
pub(crate) struct GreenRef(NonNull<Green>);

impl GreenRef {
    /// Takes a new reference to `g`.
    #[inline]
    pub(crate) fn new(g: &Green) -> GreenRef {
        g.retain();
        GreenRef(NonNull::from(g))
    }

    /// Adopts a reference the caller owns.
    ///
    /// # Safety
    /// `p` must point to a live block on which the caller owns one reference, which passes
    /// to the returned value.
    #[inline]
    pub(crate) unsafe fn from_raw(p: NonNull<Green>) -> GreenRef {
        GreenRef(p)
    }

    #[inline]
    pub(crate) fn ptr(&self) -> GPtr {
        GPtr(self.0)
    }
}

impl Deref for GreenRef {
    type Target = Green;

    #[inline]
    fn deref(&self) -> &Green {
        // SAFETY: we own a reference, so the block is alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for GreenRef {
    #[inline]
    fn clone(&self) -> GreenRef {
        GreenRef::new(self)
    }
}

impl Drop for GreenRef {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own a reference and give it up here.
        unsafe { Green::release(self.0) }
    }
}

/// A link callback.
type LinkFn<T> = Box<dyn FnOnce(&GreenThread<T>) + 'static>;

/// The links of one green thread, allocated when the first one is added (most green
/// threads never get one, and an empty `Vec` still costs a drop call per green thread).
struct Links<T> {
    /// Id of the next link.
    next_id: u64,
    list: Vec<(u64, Option<LinkFn<T>>)>,
}

/// A control block with the typed parts: the outcome slot and the links.
#[repr(C)]
pub(crate) struct GreenBox<T> {
    pub(crate) g: Green,
    /// Invariant I3.
    result: UnsafeCell<Option<Result<T, Exit>>>,
    links: RefCell<Option<Box<Links<T>>>>,
    /// Set when the notifier has called every link: later `link` calls run at once.
    links_closed: Cell<bool>,
}

/// Size class of the control-block cache: a `GreenBox<T>` that fits (most do: a `Green` is
/// ~220 bytes) is allocated from, and freed to, its hub's cache of such blocks, which
/// saves a `malloc`/`free` pair per spawn (about 15 ns, the largest single cost of
/// spawn + run + wait after the switches).
pub(crate) const BLOCK_SIZE: usize = 384;
/// Alignment of the cached blocks.
pub(crate) const BLOCK_ALIGN: usize = 16;
/// At most this many free blocks are kept per hub.
pub(crate) const BLOCK_CACHE_CAP: usize = 128;

/// Layout of a cached block.
pub(crate) const BLOCK_LAYOUT: Layout = match Layout::from_size_align(BLOCK_SIZE, BLOCK_ALIGN) {
    Ok(l) => l,
    Err(_) => panic!("bad block layout"),
};

impl<T: 'static> GreenBox<T> {
    /// Whether this type's blocks come from the hub's cache.
    const CACHED: bool =
        size_of::<GreenBox<T>>() <= BLOCK_SIZE && align_of::<GreenBox<T>>() <= BLOCK_ALIGN;

    /// The layout a block of this type is allocated with.
    const LAYOUT: Layout = if Self::CACHED {
        BLOCK_LAYOUT
    } else {
        Layout::new::<GreenBox<T>>()
    };

    /// Allocates a control block; the one reference returned is the slab's.
    #[inline]
    pub(crate) fn alloc(
        id: u64,
        name: Option<Box<str>>,
        stack_size: usize,
        flags: u16,
    ) -> NonNull<Green> {
        let cached = if Self::CACHED {
            current::existing().and_then(|hub| hub.block_cache.borrow_mut().pop())
        } else {
            None
        };
        let mem = cached.unwrap_or_else(|| {
            // SAFETY: the layout has a nonzero size (a `Green` is in it).
            let p = unsafe { std::alloc::alloc(Self::LAYOUT) };
            NonNull::new(p).unwrap_or_else(|| std::alloc::handle_alloc_error(Self::LAYOUT))
        });
        let b = mem.cast::<GreenBox<T>>();
        // SAFETY: `mem` is a fresh or recycled allocation of `Self::LAYOUT`, which fits a
        // `GreenBox<T>` in size and alignment, and nothing else uses it. Written in place
        // (a `Box::new` of the ~300-byte value is built on the stack and copied).
        unsafe {
            b.as_ptr().write(GreenBox::<T> {
                g: Green::new(id, name, stack_size, flags, drop_block::<T>),
                result: UnsafeCell::new(None),
                links: RefCell::new(None),
                links_closed: Cell::new(false),
            })
        };
        // `GreenBox` is `repr(C)` with the `Green` first, so the pointers coincide.
        b.cast()
    }

    /// Calls every link, in the order they were added, each exactly once. Links added
    /// meanwhile are called too; one removed meanwhile is not. Then closes the list.
    fn call_links(&self) {
        let mut i = 0;
        loop {
            let f = {
                let mut links = self.links.borrow_mut();
                let next = links.as_mut().and_then(|l| l.list.get_mut(i));
                match next {
                    Some((_, f)) => f.take(),
                    None => {
                        // Every link has been called: later ones run at once. Keep the ids
                        // counting (an id must not be handed out twice).
                        self.links_closed.set(true);
                        if let Some(l) = links.as_mut() {
                            l.list = Vec::new();
                        }
                        break;
                    }
                }
            };
            i += 1;
            if let Some(f) = f {
                let gt = GreenThread::<T>::from_block(self);
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(&gt))) {
                    report_swallowed(&self.g, "a link callback", p);
                }
                drop(gt);
            }
        }
    }
}

/// Drops and frees a `GreenBox<T>`, returning the memory to the hub's cache when it can.
///
/// # Safety
/// `p` must come from `GreenBox::<T>::alloc` and have no references left.
unsafe fn drop_block<T: 'static>(p: NonNull<Green>) {
    let b = p.cast::<GreenBox<T>>();
    // SAFETY: `p` is a live `GreenBox<T>` nobody refers to any more (the caller's
    // contract); it is dropped once, here.
    unsafe { ptr::drop_in_place(b.as_ptr()) };
    let mem = b.cast::<u8>();
    if GreenBox::<T>::CACHED
        && let Some(hub) = current::existing()
    {
        // Blocks never leave their OS thread (handles are !Send), so this is the hub that
        // allocated it, or a later one of the same thread (never: hubs are not recreated).
        let mut cache = hub.block_cache.borrow_mut();
        if cache.len() < BLOCK_CACHE_CAP {
            cache.push(mem);
            return;
        }
    }
    // SAFETY: allocated by `GreenBox::<T>::alloc` with this layout (the cache holds only
    // `BLOCK_LAYOUT` blocks, which is `LAYOUT` for cached types).
    unsafe { std::alloc::dealloc(mem.as_ptr(), GreenBox::<T>::LAYOUT) };
}

/// Drops a value that may run user code, on the current green thread, reporting a panic
/// instead of letting it escape (it would unwind into the scheduler).
fn drop_quietly<V>(g: &Green, what: &str, v: V) {
    if let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(v))) {
        report_swallowed(g, what, p);
    }
}

/// Reports a panic the runtime cannot hand to anyone (a kill payload is not reported), and
/// leaks its payload (whose own destructor could panic again).
fn report_swallowed(g: &Green, what: &str, p: Box<dyn Any + Send>) {
    if !is_kill_payload(&*p) {
        let msg = payload_message(&*p).unwrap_or("<non-string payload>");
        let _ = writeln!(
            std::io::stderr(),
            "greenthread: {what} of green thread {}{} panicked: {msg}; ignored",
            g.id,
            g.quoted_name()
        );
    }
    core::mem::forget(p);
}

/// Drops the closure of a green thread that never ran.
///
/// # Safety
/// `p` must point to a valid `P` that is not used again.
unsafe fn drop_closure<P>(p: *mut P) {
    // SAFETY: forwarded from the caller.
    unsafe { ptr::drop_in_place(p) }
}

/// The entry function of every spawned green thread: runs the closure under
/// `catch_unwind` (or drops it if the green thread was killed or cancelled before it
/// started), stores the outcome, calls the links, and leaves through `Hub::exit_current`,
/// which wakes the waiters and switches away for the last time.
///
/// # Safety
/// Called only by the trampoline of a context set up by `Hub::spawn`, with `data` the
/// `GreenBox<T>` of the green thread and a `P` placed at its `closure` address.
pub(crate) unsafe extern "C" fn entry<P, T>(_arg: usize, data: *mut u8) -> !
where
    P: FnOnce() -> T + 'static,
    T: 'static,
{
    let hub = current::hub_unchecked();
    hub.after_resume();
    // SAFETY: `data` is this green thread's block; the slab's reference keeps it alive
    // until `exit_current` (invariant I1), and nothing below outlives that.
    let b = unsafe { &*data.cast::<GreenBox<T>>() };
    // SAFETY: the closure was placed as a `P` by `Hub::spawn` and is taken once, here.
    unsafe { run::<P, T>(b) };
    hub.exit_current()
}

/// Everything of the entry function that owns values with destructors, so that nothing is
/// left to drop on the stack when it switches away for the last time.
///
/// # Safety
/// As [`entry`].
unsafe fn run<P, T>(b: &GreenBox<T>)
where
    P: FnOnce() -> T + 'static,
    T: 'static,
{
    let g = &b.g;
    let closure = g.closure.replace(ptr::null_mut()).cast::<P>();
    let outcome: Result<T, Exit> = if g.has(flag::KILLED | flag::CANCELLED) {
        // SAFETY: the closure was never called and is dropped exactly once, here.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { drop_closure(closure) }));
        if let Err(p) = dropped {
            report_swallowed(g, "the closure's destructor", p);
        }
        Err(if g.has(flag::CANCELLED) {
            Exit::Cancelled
        } else {
            Exit::Killed
        })
    } else {
        g.add(flag::STARTED);
        // SAFETY: `Hub::spawn` wrote a `P` here; it is moved out exactly once (the flags
        // above now say it started, so nothing else drops it).
        let f = unsafe { ptr::read(closure) };
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(v) if g.pending.get() & pending::KILL != 0 => {
                // The kill was swallowed by the closure and it returned: still killed.
                drop_quietly(g, "the return value", v);
                Err(Exit::Killed)
            }
            Ok(v) => Ok(v),
            Err(p) if g.pending.get() & pending::KILL != 0 || is_kill_payload(&*p) => {
                drop_quietly(g, "a panic payload", p);
                Err(Exit::Killed)
            }
            Err(p) => Err(Exit::Panicked(super::error::Panic::new(p))),
        }
    };
    // Its green-local values go now, on its own stack and before anyone can see it
    // finished (a destructor may still switch: the green thread is alive until below).
    super::local::drop_all(&g.locals, &mut |p| {
        report_swallowed(g, "a green-local value's destructor", p)
    });
    if g.has(flag::DETACHED)
        && let Err(Exit::Panicked(p)) = &outcome
    {
        let msg = p.message().unwrap_or("<non-string payload>");
        let _ = writeln!(
            std::io::stderr(),
            "greenthread: green thread {}{} (spawn_n) panicked: {msg}; nobody waits for \
             it, the hub goes on",
            g.id,
            g.quoted_name()
        );
    }
    // SAFETY: I3: written once, by this green thread, before anyone may read it.
    unsafe { *b.result.get() = Some(outcome) };
    g.add(flag::EXITING);
    b.call_links();
    if g.typed.get() == 0 {
        // Nobody can ever read it: drop it here, on this stack, rather than later inside
        // the scheduler (I4).
        // SAFETY: no typed handle exists, so no reference into the result exists (I3).
        let unobserved = unsafe { (*b.result.get()).take() };
        drop_quietly(g, "the unobserved outcome", unobserved);
    }
}

/// An owned handle to a green thread spawned with [`spawn`](super::spawn): wait for it,
/// take its result, kill or cancel it, link callbacks to its end.
///
/// Dropping the handle detaches the green thread: it goes on running.
///
/// The handle is neither `Send` nor `Sync`: green threads never move between OS threads,
/// and the handle is only usable on the OS thread that spawned it. It is not `Clone`
/// either: [`join`](Self::join) moves the result out, which needs the only handle. To let
/// several green threads wait, share it by reference (e.g. in an `Rc`): every
/// [`wait`](Self::wait) gets a reference to the same outcome.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let gt = Rc::new(greenthread::spawn(|| 6 * 7));
/// let waiters: Vec<_> = (0..3)
///     .map(|_| {
///         let gt = Rc::clone(&gt);
///         greenthread::spawn(move || *gt.wait().unwrap())
///     })
///     .collect();
/// for w in waiters {
///     assert_eq!(w.join().unwrap(), 42);
/// }
/// ```
pub struct GreenThread<T> {
    ptr: NonNull<GreenBox<T>>,
    _marker: PhantomData<(*const (), T)>,
}

impl<T: 'static> GreenThread<T> {
    /// Takes a new typed handle (the spawner's, or a link callback's).
    pub(crate) fn from_block(b: &GreenBox<T>) -> GreenThread<T> {
        b.g.retain();
        b.g.typed.set(b.g.typed.get() + 1);
        GreenThread {
            ptr: NonNull::from(b),
            _marker: PhantomData,
        }
    }

    #[inline]
    fn block(&self) -> &GreenBox<T> {
        // SAFETY: we own a reference, so the block is alive; it was allocated as a
        // `GreenBox<T>` (the handle is created only by `from_block` with that type).
        unsafe { self.ptr.as_ref() }
    }

    #[inline]
    fn green(&self) -> &Green {
        &self.block().g
    }

    /// The green thread's id: nonzero, and never reused by another green thread of this
    /// process (so also unique among the live ones, as Python's `get_ident` requires).
    ///
    /// ```
    /// let a = greenthread::spawn(|| ());
    /// let b = greenthread::spawn(|| ());
    /// assert!(a.id() != 0 && a.id() != b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.green().id
    }

    /// The name given with [`Builder::name`](super::Builder::name), if any.
    ///
    /// ```
    /// let gt = greenthread::Builder::new().name("worker").spawn(|| ()).unwrap();
    /// assert_eq!(gt.name(), Some("worker"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.green().name.as_deref()
    }

    /// Whether it has finished: its outcome is stored, its links have been called and its
    /// waiters woken (a green thread still calling its links is not finished yet).
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// assert!(!gt.is_finished());
    /// greenthread::yield_now();
    /// assert!(gt.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        // EXITING: its outcome is stored and its links are running (gevent calls links
        // when `ready()` is true): it counts as finished from then on.
        let g = self.green();
        g.is_dead() || g.has(flag::EXITING)
    }

    /// Whether its closure has been called (it may since have finished). A green thread
    /// killed or cancelled before this never starts.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// assert!(!gt.has_started());
    /// greenthread::yield_now();
    /// assert!(gt.has_started());
    /// ```
    pub fn has_started(&self) -> bool {
        self.green().has(flag::STARTED)
    }

    /// Blocks the calling green thread until this one has finished, then returns a
    /// reference to its return value, or how it ended without one.
    ///
    /// Returns at once if it has already finished. Any number of green threads may wait;
    /// each gets the same outcome. Every link of the green thread has been called before
    /// any `wait` returns.
    ///
    /// A panic is *returned* ([`WaitError::Exited`] with [`Exit::Panicked`]), not
    /// re-raised: several waiters each get the outcome, and a panic payload can only be
    /// raised once, by its owner; the waiter decides what a panic means to it, as with
    /// [`std::thread::JoinHandle::join`]. [`join`](Self::join) gives the owned payload, for
    /// [`std::panic::resume_unwind`]. (eventlet re-raises; see `docs/HUB.md`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use greenthread::sched::{Exit, WaitError};
    ///
    /// let ok = greenthread::spawn(|| String::from("done"));
    /// assert_eq!(ok.wait().unwrap(), "done");
    /// assert_eq!(ok.wait().unwrap(), "done"); // again: the same outcome
    ///
    /// let bad = greenthread::spawn(|| -> u8 { panic!("oops") });
    /// match bad.wait() {
    ///     Err(WaitError::Exited(exit @ Exit::Panicked(_))) => {
    ///         assert_eq!(exit.panic_message(), Some("oops"))
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    ///
    /// # Errors
    /// - [`WaitError::Exited`]: it panicked, was killed, or was cancelled.
    /// - [`WaitError::Hub`] with [`HubError::Deadlock`]: called from the main green
    ///   thread, and every green thread of the hub is blocked with nothing able to wake
    ///   one (also when a green thread waits for itself).
    /// - [`WaitError::Hub`] with [`HubError::Panicking`]: called while this OS thread is
    ///   panicking (from a `Drop` during unwinding) and it has not finished yet.
    ///
    /// # Panics
    /// If the calling green thread is killed while it waits, the kill unwinds it from here
    /// (that is how a kill arrives; it is not a panic with a message).
    #[inline]
    pub fn wait(&self) -> Result<&T, WaitError> {
        let b = self.block();
        // Inside its own links (on its own stack) the outcome is there already; anyone
        // else waits until the links are done.
        if !b.g.is_dead() {
            let in_own_links = b.g.has(flag::EXITING) && current::is_current(&b.g);
            if !in_own_links {
                match current::hub() {
                    Ok(hub) => hub.join_wait(&b.g).map_err(WaitError::Hub)?,
                    Err(_) => {
                        return Err(WaitError::Hub(HubError::Deadlock(
                            super::dump::DeadlockReport::hub_gone(),
                        )));
                    }
                }
            }
        }
        // SAFETY: I3: the green thread is dead, or calling its links (we are one of them),
        // so the outcome was written and is not written again; it is moved out only by
        // `join(self)` or the last handle's drop, neither of which can happen while `&self`
        // is borrowed.
        match unsafe { &*b.result.get() } {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(WaitError::Exited(e.clone())),
            None => fatal!("green thread {} finished without an outcome", b.g.id),
        }
    }

    /// Like [`wait`](Self::wait), but consumes the handle and moves the return value (or
    /// the panic payload) out, like [`std::thread::JoinHandle::join`].
    ///
    /// ```
    /// let gt = greenthread::spawn(|| vec![1, 2, 3]);
    /// let v: Vec<i32> = gt.join().unwrap();
    /// assert_eq!(v, [1, 2, 3]);
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait), owned. On [`JoinError::Hub`] the handle is gone and the
    /// green thread goes on, detached.
    ///
    /// # Panics
    /// As [`wait`](Self::wait); and if called from inside one of this green thread's own
    /// link callbacks (the value cannot be moved out while the callback's handle may have
    /// lent it; use [`wait`](Self::wait) there).
    #[inline]
    pub fn join(self) -> Result<T, JoinError> {
        if let Err(WaitError::Hub(h)) = self.wait() {
            return Err(JoinError::Hub(h));
        }
        let b = self.block();
        if b.g.typed.get() != 1 {
            // Only possible inside one of its own links, whose argument is a second typed
            // handle that may have lent out a reference to the value.
            panic!(
                "greenthread: join() of green thread {} from inside one of its own links; \
                 use wait() there",
                b.g.id
            );
        }
        // SAFETY: I3: dead, and this is the only typed handle (checked above; link
        // callbacks, the only other source of typed handles, have all returned), so no
        // reference into the outcome exists.
        let outcome = unsafe { (*b.result.get()).take() };
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(JoinError::Exited(e)),
            None => fatal!("green thread {} finished without an outcome", b.g.id),
        }
    }

    /// Kills the green thread: raises an exit in it at the point where it is suspended, so
    /// its stack unwinds and destructors run, then lets it finish. The calling green thread
    /// yields: it switches into the victim at once and continues after it (FIFO).
    ///
    /// - Not started yet: it never runs; its closure is dropped, its links are called and
    ///   its waiters see [`Exit::Killed`].
    /// - Parked (sleeping, waiting, in a lock): the blocking call unwinds.
    /// - Finished: nothing happens (no yield).
    /// - Itself: the exit is raised right here.
    ///
    /// The exit is a private payload raised with [`std::panic::resume_unwind`], so no panic
    /// message is printed. It never lands in the killer. A green thread that catches it
    /// (e.g. a `catch_unwind` around code that yields) gets it again at its next switch
    /// point, and counts as killed even if it then returns normally. See
    /// [`is_kill_payload`](super::is_kill_payload) to tell it apart.
    ///
    /// # Python equivalent
    /// `eventlet.greenthread.kill(gt)` / `GreenThread.kill()` (always `GreenletExit`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gt = greenthread::spawn(|| {
    ///     greenthread::sleep(Duration::from_secs(3600));
    ///     "woke up"
    /// });
    /// greenthread::yield_now(); // let it start sleeping
    /// gt.kill(); // the sleep unwinds; no hour passes
    /// assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    /// ```
    ///
    /// # Panics
    /// Only when built with `panic = "abort"` and the green thread has started: it cannot
    /// be unwound then (see [`try_kill`](Self::try_kill)).
    pub fn kill(&self) {
        kill_green(self.green());
    }

    /// [`kill`](Self::kill), but returns an error instead of panicking when the green
    /// thread cannot be killed (only possible under `panic = "abort"`).
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// gt.try_kill().unwrap();
    /// assert!(gt.is_finished());
    /// ```
    ///
    /// # Errors
    /// [`KillError::CannotUnwind`]: built with `panic = "abort"` and it has started.
    pub fn try_kill(&self) -> Result<(), KillError> {
        try_kill_green(self.green(), false).map(|_| ())
    }

    /// Cancels the green thread if it has not started: it then never runs, its links are
    /// called, and its waiters see [`Exit::Cancelled`]. Like [`kill`](Self::kill), the
    /// caller yields so that happens at once. Once it has started, does nothing.
    ///
    /// Returns whether it was cancelled.
    ///
    /// # Python equivalent
    /// `GreenThread.cancel()`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let later = greenthread::spawn_after(Duration::from_millis(10), || unreachable!());
    /// assert!(later.cancel());
    /// assert!(later.wait().unwrap_err().exit().unwrap().is_cancelled());
    ///
    /// let started = greenthread::spawn(|| greenthread::sleep(Duration::from_millis(1)));
    /// greenthread::yield_now();
    /// assert!(!started.cancel());
    /// assert!(started.wait().is_ok());
    /// ```
    pub fn cancel(&self) -> bool {
        let g = self.green();
        if g.is_dead() {
            return false;
        }
        match current::hub() {
            Ok(hub) => hub.kill(g, true).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Registers `f` to be called once with this handle when the green thread finishes,
    /// however it finishes (return, panic, kill, cancel). Returns an id for
    /// [`unlink`](Self::unlink).
    ///
    /// Links are called in the order they were added, on the finishing green thread's
    /// stack, before any [`wait`](Self::wait) returns; inside, the green thread counts as
    /// finished ([`is_finished`](Self::is_finished) is true, as gevent's `ready()` when it
    /// calls links) and `wait()` on the argument returns the outcome at once. If the green
    /// thread has already finished, `f` is called
    /// at once, here. A link that panics is reported on stderr and the others still run.
    ///
    /// # Python equivalent
    /// `GreenThread.link(func)` (eventlet calls it at once on a finished thread too).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let seen = Rc::new(Cell::new(0));
    /// let gt = greenthread::spawn(|| 5);
    /// let s = Rc::clone(&seen);
    /// gt.link(move |gt| s.set(*gt.wait().unwrap()));
    /// assert_eq!(*gt.wait().unwrap(), 5);
    /// assert_eq!(seen.get(), 5); // called before wait returned
    /// ```
    ///
    /// # Panics
    /// If the green thread has already finished, `f` runs here, and a panic in it
    /// propagates to the caller.
    pub fn link<F>(&self, f: F) -> LinkId
    where
        F: FnOnce(&GreenThread<T>) + 'static,
    {
        let b = self.block();
        let mut guard = b.links.borrow_mut();
        let links = guard.get_or_insert_with(|| {
            Box::new(Links {
                next_id: 1,
                list: Vec::new(),
            })
        });
        let id = links.next_id;
        links.next_id += 1;
        if b.links_closed.get() {
            // Called outside the borrow: it may link or unlink.
            drop(guard);
            f(self);
        } else {
            links.list.push((id, Some(Box::new(f))));
        }
        LinkId(id)
    }

    /// Removes a link added with [`link`](Self::link), so it is not called. Returns true
    /// if it was removed, false if it has already been called (or removed). Works while
    /// the links are being called, too: a link removed by an earlier one is not called.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// let id = gt.link(|_| unreachable!());
    /// assert!(gt.unlink(id));
    /// assert!(!gt.unlink(id));
    /// gt.wait().unwrap();
    /// ```
    pub fn unlink(&self, id: LinkId) -> bool {
        let b = self.block();
        let f = {
            let mut links = b.links.borrow_mut();
            links
                .as_mut()
                .and_then(|l| l.list.iter_mut().find(|(i, _)| *i == id.0))
                .and_then(|(_, f)| f.take())
        };
        // Dropped outside the borrow: its destructor may do anything.
        f.is_some()
    }

    /// An untyped, clonable handle to the same green thread.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// assert_eq!(gt.handle().id(), gt.id());
    /// ```
    pub fn handle(&self) -> GreenHandle {
        GreenHandle {
            g: GreenRef::new(self.green()),
        }
    }
}

impl<T> Drop for GreenThread<T> {
    fn drop(&mut self) {
        // SAFETY: we own a reference, so the block is alive.
        let b = unsafe { self.ptr.as_ref() };
        let typed = b.g.typed.get() - 1;
        b.g.typed.set(typed);
        let unobserved = if typed == 0 && b.g.is_dead() {
            // SAFETY: I3: no typed handle is left, so no reference into the outcome exists.
            unsafe { (*b.result.get()).take() }
        } else {
            None
        };
        // SAFETY: we own a reference and give it up.
        unsafe { Green::release(self.ptr.cast()) };
        drop(unobserved);
    }
}

impl<T: 'static> fmt::Debug for GreenThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenThread")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Identifies a link callback, for [`GreenThread::unlink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkId(u64);

/// An untyped, clonable handle to a green thread: what [`current`](super::current) returns.
/// It can identify and kill the green thread, not read its result.
///
/// Like [`GreenThread`], it is neither `Send` nor `Sync`.
///
/// ```
/// let me = greenthread::current();
/// assert!(me.is_main()); // the OS thread's own stack is the main green thread
/// let child = greenthread::spawn(|| greenthread::current());
/// let them = child.join().unwrap();
/// assert!(!them.is_main());
/// assert_ne!(them.id(), me.id());
/// assert!(them.is_finished());
/// ```
#[derive(Clone)]
pub struct GreenHandle {
    g: GreenRef,
}

impl GreenHandle {
    pub(crate) fn new(g: &Green) -> GreenHandle {
        GreenHandle {
            g: GreenRef::new(g),
        }
    }

    /// The control block (kept alive by this handle).
    pub(crate) fn green(&self) -> &Green {
        &self.g
    }

    /// The green thread's id; see [`GreenThread::id`].
    ///
    /// ```
    /// assert_ne!(greenthread::current().id(), 0);
    /// ```
    pub fn id(&self) -> u64 {
        self.g.id
    }

    /// Its name, if any. The main green thread is named after its OS thread.
    ///
    /// ```
    /// let gt = greenthread::Builder::new()
    ///     .name("bob")
    ///     .spawn(|| greenthread::current().name().map(String::from))
    ///     .unwrap();
    /// assert_eq!(gt.join().unwrap().as_deref(), Some("bob"));
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.g.name.as_deref()
    }

    /// Whether this is a main green thread (the stack of an OS thread).
    ///
    /// ```
    /// assert!(greenthread::current().is_main());
    /// ```
    pub fn is_main(&self) -> bool {
        self.g.is_main()
    }

    /// Whether it has finished; see [`GreenThread::is_finished`].
    ///
    /// ```
    /// assert!(!greenthread::current().is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.g.is_dead() || self.g.has(flag::EXITING)
    }

    /// Kills it; see [`GreenThread::kill`]. Killing the main green thread unwinds the OS
    /// thread's own stack from its current switch point.
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// gt.handle().kill();
    /// assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
    /// ```
    ///
    /// # Panics
    /// As [`GreenThread::kill`].
    pub fn kill(&self) {
        kill_green(&self.g);
    }

    /// See [`GreenThread::try_kill`].
    ///
    /// ```
    /// let gt = greenthread::spawn(|| ());
    /// assert!(gt.handle().try_kill().is_ok());
    /// ```
    ///
    /// # Errors
    /// As [`GreenThread::try_kill`].
    pub fn try_kill(&self) -> Result<(), KillError> {
        try_kill_green(&self.g, false).map(|_| ())
    }
}

impl PartialEq for GreenHandle {
    fn eq(&self, other: &Self) -> bool {
        self.g.id == other.g.id
    }
}

impl Eq for GreenHandle {}

impl core::hash::Hash for GreenHandle {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.g.id.hash(state);
    }
}

impl fmt::Debug for GreenHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenHandle")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("main", &self.is_main())
            .finish()
    }
}

fn kill_green(g: &Green) {
    if let Err(e) = try_kill_green(g, false) {
        panic!("greenthread: {e}");
    }
}

fn try_kill_green(g: &Green, cancel: bool) -> Result<bool, KillError> {
    if g.is_dead() {
        return Ok(false);
    }
    match current::hub() {
        Ok(hub) => hub.kill(g, cancel),
        Err(_) => Ok(false),
    }
}
