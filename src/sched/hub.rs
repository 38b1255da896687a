//! The hub: one per OS thread. Run queue, timers, parking, the run loop, kill, deadlock
//! detection and teardown. See the module docs of [`sched`](super) and `docs/HUB.md` for
//! the design; this file keeps the rules next to the code that follows them.
//!
//! # Which stack the scheduler runs on
//!
//! There is no hub context. The scheduling decision ([`Hub::next_ready`]) runs on the stack
//! of the green thread that stops running (yields, parks, or dies), which then switches
//! straight to the next one. When nothing is ready, that same green thread blocks the OS
//! thread (in [`Shared::wait`]) on its own stack until a timer is due or another OS thread
//! posts a wake. A dying green thread does this on its own, still mapped, stack; whoever
//! runs next returns that stack to the pool ([`Hub::after_resume`]), because nothing can
//! free the stack it is running on.
//!
//! # Rules
//!
//! - Hub state is in `Cell`s and `RefCell`s. No `RefCell` borrow is held across a switch
//!   or across user code (I4 in `green.rs`).
//! - Every green thread that stops running goes through exactly one of: the run queue
//!   (`yield_current`, `kill`), a park (`park_current`), or death (`exit_current`).
//! - A switch never happens while this OS thread panics (`std::thread::panicking()`):
//!   blocking calls refuse instead (see `docs/HUB.md`, "Switching while panicking").

use core::any::Any;
use core::cell::{Cell, RefCell};
use core::mem::{align_of, size_of};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};
use std::io;
use std::panic::resume_unwind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dump::{DeadlockReport, GreenInfo, GreenState, HubDump};
use super::error::{HubError, KillError, ParkError, SpawnError};
use super::green::{
    BLOCK_CACHE_CAP, BLOCK_LAYOUT, GPtr, Green, GreenBox, GreenRef, GreenThread, State, Wake,
    entry, flag, pending,
};
use super::io::{
    self as io_mod, Driver, IoWait, READ, READ_CLOSED, WAKER_TOKEN, WRITE, WRITE_CLOSED,
};
use super::park::{Shared, WaitOn, Wakeup, main_hub};
use super::runqueue::List;
use super::timer::{TimerKind, TimerWheel};
use crate::context::{fp, raw};
use crate::fatal::fatal;
use crate::stack::{self, Stack};

/// Whether this build can unwind (kill needs it for a green thread that has started).
pub(crate) const CAN_UNWIND: bool = cfg!(panic = "unwind");

/// The scheduler ticks (drains the inbox, fires due timers) at least every this many
/// switches, and whenever the run queue runs dry: see [`Hub::next_ready`].
pub(crate) const TICK_MIN: usize = 16;

/// A closure larger than this (or aligned to more than 16) is boxed rather than placed at
/// the top of the green thread's stack.
const MAX_INLINE_CLOSURE: usize = 1024;

/// Most strong counts of the hub's `Shared` kept in reserve for wakers
/// ([`Hub::give_back_shared_ref`]); more are dropped.
const SHARED_REFS_MAX: usize = 256;

/// Green-thread ids are handed to hubs in blocks of this many, so spawning does not touch a
/// shared atomic every time.
const ID_BLOCK: u64 = 1024;

static NEXT_HUB_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_GREEN_ID: AtomicU64 = AtomicU64::new(1);

/// The private payload a kill unwinds with.
pub(crate) struct KillUnwind;

/// An interrupt that calls a function on the main green thread instead of unwinding it
/// (`interrupt_main_call`).
pub(crate) struct InterruptCall(pub(crate) Box<dyn FnOnce() + Send>);

/// Whether a panic payload is the one a kill unwinds with.
pub(crate) fn is_kill_payload(p: &(dyn Any + Send)) -> bool {
    p.is::<KillUnwind>()
}

/// How and when a new green thread starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// Runnable at once (back of the run queue).
    Now,
    /// Runnable at `deadline`; with `local`, only if the spawner is still alive then.
    At { deadline: Instant, local: bool },
}

/// Parameters of [`Hub::spawn`].
#[derive(Debug)]
pub(crate) struct SpawnOpts {
    pub(crate) name: Option<String>,
    pub(crate) stack_size: usize,
    pub(crate) start: Start,
    pub(crate) detached: bool,
    /// `Builder::preserve_fp_env`.
    pub(crate) preserve_fp_env: bool,
}

/// Every live green thread of the hub, by slot. Holds the counted reference that keeps a
/// control block alive until its green thread is dead (invariant I1).
#[derive(Default)]
struct Slab {
    entries: Vec<Option<GreenRef>>,
    /// Free slots; its capacity is kept at least `entries.len()`, so freeing a slot (in a
    /// dying green thread) never allocates.
    free: Vec<u32>,
    /// Occupied slots.
    live: usize,
}

/// One OS thread's scheduler.
pub(crate) struct Hub {
    shared: Arc<Shared>,
    /// `Arc::into_raw` of a clone of `shared`: the pointer every [`Waker`](super::Waker)
    /// holds.
    shared_raw: NonNull<Shared>,
    /// Strong counts of `shared` the hub holds in reserve for wakers (one of them is the
    /// clone behind `shared_raw`), so that wakers made and dropped on this OS thread need
    /// no atomic (see `Waker`). Given back in `Drop`.
    shared_refs: Cell<usize>,
    /// The running green thread (null only while a dying one picks its successor).
    current: Cell<*const Green>,
    /// The OS thread's own stack: slot 0, alive until teardown.
    main: GPtr,
    runq: List,
    /// Pops left before the next tick.
    budget: Cell<usize>,
    timers: RefCell<TimerWheel>,
    slab: RefCell<Slab>,
    /// Stack of the green thread that died last, released by whoever runs next.
    graveyard: Cell<Option<Stack>>,
    /// The most recently freed stack of the default size, reused by the next default-size
    /// spawn before the pool is asked: spawn-run-exit in a loop then costs no pool
    /// operation at all.
    hot: Cell<Option<Stack>>,
    next_token: Cell<u64>,
    /// `(next, end)` of this hub's block of green-thread ids.
    ids: Cell<(u64, u64)>,
    /// Slots the timer table has entries for (it never shrinks), cached so the check in
    /// `reserve_for_spawn` needs no borrow.
    timer_room: Cell<usize>,
    /// Slots below this have a park word (`Words::try_ensure` was called).
    word_slots: Cell<u32>,
    /// Freed control blocks of the common size class, reused by `GreenBox::alloc`.
    pub(crate) block_cache: RefCell<Vec<core::ptr::NonNull<u8>>>,
    /// Parked green threads whose park another OS thread may end.
    external_parks: Cell<usize>,
    /// The I/O poller, made on the first wait for I/O (`sched::io`); until then the hub
    /// idles on its `Condvar`.
    io: RefCell<Option<Box<Driver>>>,
    /// Green threads parked until a registered source is ready (they count against
    /// deadlock: the poller can wake them).
    io_waiters: Cell<usize>,
    /// Second buffer for posted I/O frees (swapped, so draining does not allocate).
    io_spare: RefCell<Vec<(u32, u32)>>,
    shutting_down: Cell<bool>,
    /// Deadlock report for the main green thread, set with `Wake::Deadlock`.
    report: RefCell<Option<DeadlockReport>>,
    /// A stall report was printed and nothing has happened since (`idle`).
    stall_reported: Cell<bool>,
    /// `interrupt_main` payload for the main green thread (`pending::INTERRUPT`).
    interrupt: RefCell<Option<Box<dyn Any + Send>>>,
    /// Second buffer for the inbox's wakes (swapped, so draining does not allocate).
    spare: RefCell<Vec<(u32, u64)>>,
    thread_name: Option<String>,
    /// Unit tests set this to exercise the `panic = "abort"` decisions in an unwinding
    /// build (the test harness needs unwinding); see [`Hub::can_unwind`]. A field of the
    /// hub, not a thread-local: teardown reads it from a thread-local destructor, and
    /// where thread-locals are OS TLS keys (`x86_64-pc-windows-gnu`, even `const` ones),
    /// the flag's own destructor may have run first, after which reading it silently
    /// re-initialises it to `false`.
    #[cfg(test)]
    pub(crate) pretend_abort: Cell<bool>,
}

impl Hub {
    /// A hub for the calling OS thread, whose own stack becomes the main green thread.
    pub(crate) fn new() -> Box<Hub> {
        stack::ensure_thread_ready();
        let id = NEXT_HUB_ID.fetch_add(1, Ordering::Relaxed);
        let thread_name = std::thread::current().name().map(String::from);
        let main_id = NEXT_GREEN_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
        let main = GreenBox::<()>::alloc(
            main_id,
            thread_name.clone().map(String::into_boxed_str),
            0,
            flag::MAIN | flag::STARTED,
        );
        // SAFETY: freshly allocated; its one reference goes to the slab.
        let main = unsafe { GreenRef::from_raw(main) };
        let main_ptr = main.ptr();
        let shared = Arc::new(Shared::new(id));
        let Some(shared_raw) = NonNull::new(Arc::into_raw(Arc::clone(&shared)).cast_mut()) else {
            fatal!("Arc::into_raw returned null");
        };
        let hub = Box::new(Hub {
            shared,
            shared_raw,
            shared_refs: Cell::new(1),
            current: Cell::new(main_ptr.as_ptr()),
            main: main_ptr,
            runq: List::new(),
            budget: Cell::new(TICK_MIN),
            timers: RefCell::new(TimerWheel::new(Instant::now())),
            slab: RefCell::new(Slab::default()),
            graveyard: Cell::new(None),
            hot: Cell::new(None),
            next_token: Cell::new(1),
            ids: Cell::new((main_id + 1, main_id + ID_BLOCK)),
            timer_room: Cell::new(0),
            word_slots: Cell::new(0),
            block_cache: RefCell::new(Vec::with_capacity(BLOCK_CACHE_CAP)),
            external_parks: Cell::new(0),
            io: RefCell::new(None),
            io_waiters: Cell::new(0),
            io_spare: RefCell::new(Vec::new()),
            shutting_down: Cell::new(false),
            report: RefCell::new(None),
            stall_reported: Cell::new(false),
            interrupt: RefCell::new(None),
            spare: RefCell::new(Vec::new()),
            thread_name,
            #[cfg(test)]
            pretend_abort: Cell::new(false),
        });
        let slot = hub.slab_insert(main);
        debug_assert_eq!(slot, 0);
        // The main green thread's timer entry.
        if hub.grow_timers(1).is_err() {
            fatal!("out of memory creating a hub");
        }
        hub
    }

    /// Called once the hub is reachable through the thread-local: registers the main OS
    /// thread's hub and delivers an interrupt that arrived before it existed.
    pub(crate) fn on_created(&self) {
        if self.thread_name.as_deref() != Some("main") {
            return;
        }
        let mut main = main_hub();
        if main.hub.is_some() {
            return;
        }
        main.hub = Some(Arc::clone(&self.shared));
        let early = main.pending.take();
        drop(main);
        if let Some(payload) = early {
            self.interrupt_local(payload);
        }
    }

    #[inline]
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    #[inline]
    pub(crate) fn shared_arc(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A strong count of `shared`, for a new waker: one from the reserve if there is one
    /// (no atomic), else a new one. Returns the pointer the waker holds.
    #[inline]
    pub(crate) fn take_shared_ref(&self) -> NonNull<Shared> {
        let n = self.shared_refs.get();
        if n > 0 {
            self.shared_refs.set(n - 1);
        } else {
            // SAFETY: `shared_raw` came from `Arc::into_raw` and the hub's own `shared`
            // keeps the allocation alive; the new count goes to the caller's waker.
            unsafe { Arc::increment_strong_count(self.shared_raw.as_ptr()) };
        }
        self.shared_raw
    }

    /// Takes back the strong count of a waker dropped on this OS thread into the reserve;
    /// false if the reserve is full (the caller then drops the count itself).
    #[inline]
    pub(crate) fn give_back_shared_ref(&self) -> bool {
        let n = self.shared_refs.get();
        if n < SHARED_REFS_MAX {
            self.shared_refs.set(n + 1);
            true
        } else {
            false
        }
    }

    /// The running green thread.
    #[inline]
    pub(crate) fn current_green(&self) -> &Green {
        let p = self.current.get();
        if p.is_null() {
            fatal!("no current green thread");
        }
        // SAFETY: I1: the running green thread is in the slab until it dies, and a dying
        // one nulls `current` before it leaves the slab.
        unsafe { &*p }
    }

    /// Whether `g` is the running green thread.
    #[inline]
    pub(crate) fn is_current(&self, g: &Green) -> bool {
        ptr::eq(self.current.get(), g)
    }

    #[inline]
    fn main_green(&self) -> &Green {
        // SAFETY: the main green thread stays in the slab until teardown, whose end frees
        // the hub; no reference from here outlives that.
        unsafe { self.main.get() }
    }

    #[inline]
    fn next_token(&self) -> u64 {
        let t = self.next_token.get();
        self.next_token.set(t + 1);
        t
    }

    fn next_id(&self) -> u64 {
        let (mut next, mut end) = self.ids.get();
        if next == end {
            next = NEXT_GREEN_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        self.ids.set((next + 1, end));
        next
    }

    #[inline]
    fn slab_insert(&self, r: GreenRef) -> u32 {
        let g: *const Green = &*r;
        let slot = {
            let mut slab = self.slab.borrow_mut();
            slab.live += 1;
            match slab.free.pop() {
                Some(slot) => {
                    slab.entries[slot as usize] = Some(r);
                    slot
                }
                None => {
                    let Ok(slot) = u32::try_from(slab.entries.len()) else {
                        fatal!("too many green threads in one hub");
                    };
                    slab.entries.push(Some(r));
                    slot
                }
            }
        };
        if slot >= self.word_slots.get() {
            // Only for the main green thread: `reserve_for_spawn` did it for the others.
            match self.shared.words.try_ensure(slot) {
                Ok(n) => self.word_slots.set(n),
                Err(_) => fatal!("out of memory creating a hub"),
            }
        }
        // SAFETY: the slab now holds a reference to it.
        unsafe { (*g).slot.set(slot) };
        slot
    }

    #[inline]
    fn slab_get(&self, slot: u32) -> Option<GPtr> {
        let slab = self.slab.borrow();
        slab.entries
            .get(slot as usize)
            .and_then(|e| e.as_ref().map(GreenRef::ptr))
    }

    #[inline]
    fn slab_remove(&self, slot: u32) -> Option<GreenRef> {
        let mut slab = self.slab.borrow_mut();
        let r = slab.entries.get_mut(slot as usize).and_then(Option::take);
        if r.is_some() {
            slab.free.push(slot);
            slab.live -= 1;
        }
        r
    }

    /// Whether the green thread `id` still lives in `slot`.
    fn is_alive(&self, slot: u32, id: u64) -> bool {
        self.slab_get(slot).is_some_and(|p| {
            // SAFETY: I1: in the slab, so alive; no switch before the borrow ends.
            let g = unsafe { p.get() };
            g.id == id && !g.is_dead()
        })
    }

    // ------------------------------------------------------------------ spawning

    /// Makes room, fallibly, for one more green thread in every structure of the hub that
    /// would otherwise grow later, where failing is not an option: the slab and its free
    /// list, the park words, and the timer table (one entry per slot, see `timer.rs`). Near the `vm.max_map_count`
    /// limit, growing a large `Vec` needs a new mapping and can fail; this way `spawn`
    /// reports it, instead of a `sleep` aborting the process later. Cheap when there is
    /// room (a few comparisons).
    #[inline]
    fn reserve_for_spawn(&self) -> Result<(), SpawnError> {
        let live = {
            let slab = self.slab.borrow();
            if slab.free.is_empty() {
                drop(slab);
                self.grow_slab()?
            } else {
                slab.live + 1
            }
        };
        // One timer table entry per slab slot, the new green thread's included.
        let slots = self.slab.borrow().entries.len() + 1;
        if slots > self.timer_room.get() {
            self.grow_timers(slots.max(live))?;
        }
        Ok(())
    }

    /// [`reserve_for_spawn`](Self::reserve_for_spawn) when no slot is free: room for one
    /// more slot, its free-list entry and its park word. Returns the live count to plan
    /// for.
    #[cold]
    #[inline(never)]
    fn grow_slab(&self) -> Result<usize, SpawnError> {
        let oom = |_| SpawnError::OutOfMemory;
        let mut slab = self.slab.borrow_mut();
        slab.entries.try_reserve(1).map_err(oom)?;
        let slots = slab.entries.len() + 1;
        let free_len = slab.free.len();
        slab.free.try_reserve(slots - free_len).map_err(oom)?;
        let next = u32::try_from(slab.entries.len()).map_err(|_| SpawnError::OutOfMemory)?;
        if next >= self.word_slots.get() {
            self.word_slots
                .set(self.shared.words.try_ensure(next).map_err(oom)?);
        }
        Ok(slab.live + 1)
    }

    /// [`reserve_for_spawn`](Self::reserve_for_spawn) when the timer table may be too small.
    #[cold]
    #[inline(never)]
    fn grow_timers(&self, slots: usize) -> Result<(), SpawnError> {
        let mut timers = self.timers.borrow_mut();
        timers
            .try_reserve_for(slots)
            .map_err(|_| SpawnError::OutOfMemory)?;
        self.timer_room.set(timers.capacity());
        Ok(())
    }

    /// Creates a green thread; returns its typed handle unless `opts.detached`.
    pub(crate) fn spawn<F, T>(
        &self,
        f: F,
        opts: SpawnOpts,
    ) -> Result<Option<GreenThread<T>>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if size_of::<F>() <= MAX_INLINE_CLOSURE && align_of::<F>() <= 16 {
            self.spawn_placed::<F, T>(f, opts)
        } else {
            self.spawn_placed::<Box<F>, T>(Box::new(f), opts)
        }
    }

    /// [`spawn`](Self::spawn) with the closure `p` placed at the top of the new stack.
    fn spawn_placed<P, T>(
        &self,
        p: P,
        opts: SpawnOpts,
    ) -> Result<Option<GreenThread<T>>, SpawnError>
    where
        P: FnOnce() -> T + 'static,
        T: 'static,
    {
        // `spawn` only calls this with a small `P` (the other instantiation is dead code).
        assert!(size_of::<P>() <= MAX_INLINE_CLOSURE && align_of::<P>() <= 16);
        let name = opts.name.map(String::into_boxed_str);
        self.reserve_for_spawn()?;
        let stack = match self.hot.take() {
            // A hot stack has no name (`exit_current` clears it).
            Some(hot) if opts.stack_size == 0 || opts.stack_size == stack::DEFAULT_STACK_SIZE => {
                hot
            }
            other => {
                self.hot.set(other);
                stack::acquire(opts.stack_size)?
            }
        };
        if let Some(n) = &name {
            stack.set_name(Some(n));
        }
        let id = self.next_id();
        stack.set_ident(Some(id));
        let mut flags = 0;
        if opts.detached {
            flags |= flag::DETACHED;
        }
        if self.shutting_down.get() {
            flags |= flag::KILLED;
        }
        if let Start::At { .. } = opts.start {
            flags |= flag::DELAYED;
        }
        if opts.preserve_fp_env {
            flags |= flag::FP_ENV;
        }
        let block = GreenBox::<T>::alloc(id, name, stack.size(), flags);
        // SAFETY: freshly allocated; its one reference goes to the slab below.
        let r = unsafe { GreenRef::from_raw(block) };
        let g: &Green = &r;
        let top = stack.top() as usize;
        let closure = (top - size_of::<P>()) & !(align_of::<P>() - 1);
        let ctx_top = closure & !15;
        // The closure (at most MAX_INLINE_CLOSURE bytes) and the initial frame fit far
        // above the guard: a stack has at least MIN_STACK_SIZE usable bytes.
        debug_assert!(ctx_top - raw::INIT_SIZE > stack.bottom() as usize + 16 * 1024);
        // SAFETY: `closure .. closure + size_of::<P>()` lies in the top of the stack's
        // usable region (checked above), is aligned for `P`, and nothing uses it yet.
        unsafe { (closure as *mut P).write(p) };
        // SAFETY: `ctx_top` is 16-aligned and the INIT_SIZE bytes below it are unused
        // memory of a stack the block owns for as long as the context may run; `block`
        // is the `GreenBox<T>` that `entry::<P, T>` expects as its data.
        let sp = unsafe { raw::init(ctx_top as *mut u8, entry::<P, T>, block.as_ptr().cast()) };
        g.sp.set(sp);
        g.closure.set(closure as *mut u8);
        g.stack.set(Some(stack));
        let handle = if opts.detached {
            None
        } else {
            // SAFETY: allocated just above as a `GreenBox<T>`; alive (the slab's reference).
            Some(GreenThread::from_block(unsafe {
                block.cast::<GreenBox<T>>().as_ref()
            }))
        };
        let gp = r.ptr();
        let slot = self.slab_insert(r);
        // SAFETY: I1: just put in the slab.
        let g = unsafe { gp.get() };
        match opts.start {
            // SAFETY: new, so on no list; I1 keeps it alive while queued.
            Start::Now => unsafe { self.runq.push_back(g) },
            Start::At { deadline, local } => {
                let token = self.next_token();
                g.token.set(token);
                g.deadline.set(Some(deadline));
                if local {
                    let me = self.current_green();
                    g.spawner.set(Some((me.slot.get(), me.id)));
                }
                self.timers
                    .borrow_mut()
                    .push(deadline, slot, token, TimerKind::Start);
            }
        }
        Ok(handle)
    }

    // ------------------------------------------------------------------ switching

    /// Releases the stack of the green thread that died last. Runs right after every
    /// switch lands (and first thing in a new green thread).
    #[inline]
    pub(crate) fn after_resume(&self) {
        if let Some(stack) = self.graveyard.take() {
            self.recycle(stack);
        }
    }

    /// Keeps a dead green thread's stack in `hot` (default size), else gives it to the pool.
    #[inline]
    fn recycle(&self, stack: Stack) {
        if stack.size() != stack::DEFAULT_STACK_SIZE || self.shutting_down.get() {
            stack::release(stack);
        } else if let Some(old) = self.hot.replace(Some(stack)) {
            stack::release(old);
        }
    }

    /// Makes `to` (just taken off the run queue) the running green thread and switches to
    /// it from `from`, which has already been put where it waits (run queue, park) with
    /// its state changed. Returns when `from` is resumed.
    #[inline]
    fn switch_to(&self, from: &Green, to: GPtr) {
        // SAFETY: I1: `to` came off the run queue, so it is alive.
        let to_g = unsafe { to.get() };
        to_g.set_state(State::Running);
        if ptr::eq(from, to_g) {
            return;
        }
        self.current.set(to.as_ptr());
        // SAFETY: (raw::switch contract) `to` is suspended: it is New with a context made
        // by `raw::init`, or its last switch away published `sp`; it is resumed exactly
        // once for that suspension, because it left the run queue and is now Running. We
        // are on the hub's own OS thread (hubs are thread-local and green threads never
        // migrate), its stack is mapped (owned by its block, or the OS thread's stack for
        // the main green thread). `from.sp` is valid for writes (its block is alive, I1)
        // and nothing else writes it before `from` is resumed. No panic unwinds across:
        // callers never switch while `std::thread::panicking()`.
        if from.has(flag::FP_ENV) {
            self.switch_keeping_fp_env(from, to_g);
        } else {
            // SAFETY: see above.
            unsafe { raw::switch(from.sp.as_ptr(), to_g.sp.get(), 0) };
        }
        self.after_resume();
    }

    /// [`switch_to`](Self::switch_to)'s switch for a green thread spawned with
    /// `preserve_fp_env(true)`: the next one gets the default FP environment, and ours comes
    /// back when we are resumed (loads only where it is not the default).
    #[inline(never)]
    fn switch_keeping_fp_env(&self, from: &Green, to_g: &Green) {
        let saved = fp::leave();
        // SAFETY: as in `switch_to`, whose caller's checks this is part of.
        unsafe { raw::switch(from.sp.as_ptr(), to_g.sp.get(), 0) };
        // SAFETY: what `leave` returned in this green thread before the switch.
        unsafe { fp::restore(saved) };
    }

    /// Picks the next green thread to run: the front of the run queue. Ticks (drains the
    /// inbox, fires due timers) when the run queue is empty, when another OS thread has
    /// posted something, and otherwise at least every `max(TICK_MIN, run queue length)`
    /// picks, so a `yield_now` loop never starves a due timer, without reading the clock
    /// on every switch.
    /// Blocks the OS thread when nothing is ready ([`idle`](Self::idle)).
    #[inline]
    fn next_ready(&self) -> GPtr {
        let budget = self.budget.get();
        // A post from another OS thread (wake, interrupt) is picked up at once: one
        // relaxed load of a flag that is rarely written.
        if budget != 0
            && !self.shared.has_posts()
            && let Some(g) = self.runq.pop_front()
        {
            self.budget.set(budget - 1);
            return g;
        }
        self.next_ready_slow()
    }

    /// [`next_ready`](Self::next_ready) when it is time to tick, or nothing is queued.
    #[inline(never)]
    fn next_ready_slow(&self) -> GPtr {
        loop {
            self.tick();
            self.budget.set(self.runq.len().max(TICK_MIN));
            if let Some(g) = self.runq.pop_front() {
                return g;
            }
            self.idle();
        }
    }

    /// Picks up posted wakes and interrupts, fires due timers, and, while green threads
    /// wait for I/O and others are runnable, collects I/O readiness without blocking (so a
    /// busy run queue never starves sockets; when it is empty, `idle` polls anyway).
    fn tick(&self) {
        if self.shared.has_posts() {
            self.drain_inbox();
        }
        if !self.timers.borrow().is_empty() {
            self.fire_timers(Instant::now());
        }
        if self.io_waiters.get() != 0 && !self.runq.is_empty() {
            self.poll_io(Some(Duration::ZERO));
        }
    }

    fn drain_inbox(&self) {
        let mut wakes = self.spare.take();
        let interrupt = self.shared.take_posts(&mut wakes);
        for &(slot, seq) in &wakes {
            self.local_wake(slot, seq);
        }
        wakes.clear();
        self.spare.replace(wakes);
        if let Some(payload) = interrupt {
            self.interrupt_local(payload);
        }
        if self.shared.io.get().is_some() {
            self.drain_io_frees();
        }
    }

    /// Fires every timer due at `now`, in `(deadline, seq)` order.
    fn fire_timers(&self, now: Instant) {
        self.timers.borrow_mut().advance(now);
        loop {
            let t = match self.timers.borrow_mut().pop_due() {
                Some(t) => t,
                None => break,
            };
            let Some(p) = self.slab_get(t.slot) else {
                continue;
            };
            // SAFETY: I1: in the slab; no switch happens below.
            let g = unsafe { p.get() };
            match t.kind {
                TimerKind::Wake => {
                    if self.unpark(g, t.token, Wake::TimedOut).is_some() {
                        // SAFETY: now Ready and on no list; I1 keeps it alive.
                        unsafe { self.runq.push_back(g) };
                    }
                }
                TimerKind::Start => {
                    if g.state() == State::New && g.has(flag::DELAYED) && g.token.get() == t.token {
                        g.clear(flag::DELAYED);
                        g.deadline.set(None);
                        if let Some((slot, id)) = g.spawner.take()
                            && !self.is_alive(slot, id)
                        {
                            // spawn_after_local: the spawner has finished.
                            g.add(flag::CANCELLED);
                        }
                        // SAFETY: New and not yet queued (it waited for this timer).
                        unsafe { self.runq.push_back(g) };
                    }
                }
            }
        }
    }

    /// Cancels the pending timer of the green thread in `slot` (in place, O(1)).
    #[inline]
    fn cancel_timer(&self, slot: u32) {
        self.timers.borrow_mut().cancel(slot);
    }

    /// When the idle hub must look at its timers next (`timer.rs`: the earliest deadline,
    /// or earlier for a timer far ahead). Every pending timer is live: each way of ending
    /// a timed park or a delayed start cancels its timer.
    fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow().next_deadline()
    }

    /// Nothing is ready: block the OS thread until the next timer or a post from another
    /// OS thread, or report a deadlock if neither can ever come.
    fn idle(&self) {
        let deadline = self.next_deadline();
        if deadline.is_none()
            && self.external_parks.get() == 0
            && self.io_waiters.get() == 0
            && !self.shared.has_posts()
        {
            self.deadlock();
            return;
        }
        if deadline.is_none()
            && !self.stall_reported.get()
            && !self.has_registered_io()
            && let Some(after) = super::stall_report_after()
        {
            // Nothing runnable, no timer: only parks another OS thread may end. Wait at
            // most `after`; if nothing came, say so once (gevent would raise LoopExit,
            // Go print "all goroutines are asleep"; here another OS thread may still wake
            // us, so nothing fails).
            let until = Instant::now().checked_add(after);
            self.idle_wait(until);
            if !self.shared.has_posts() && until.is_some_and(|u| Instant::now() >= u) {
                self.stall_reported.set(true);
                self.print_stall_report(after);
            }
            return;
        }
        self.idle_wait(deadline);
        if self.shared.has_posts() {
            // Something happened: a later stall is a new one, reported again.
            self.stall_reported.set(false);
        }
    }

    /// The stall report: every green thread of this hub waits on something only another
    /// OS thread can end, and nothing has happened for `after`.
    #[cold]
    fn print_stall_report(&self, after: Duration) {
        use std::io::Write;
        let dump = self.snapshot(true);
        let mut text = format!("greenthread: stall: no green thread of hub {}", dump.hub_id);
        if let Some(n) = &dump.thread_name {
            text.push_str(&format!(" (OS thread '{n}')"));
        }
        text.push_str(&format!(
            " has run for {after:?}: every one waits on an object another OS thread may still \
             release, and no timer is pending. This is a deadlock unless another OS thread \
             acts (gevent: LoopExit). {} blocked:",
            dump.green_threads.len()
        ));
        for g in &dump.green_threads {
            text.push_str(&format!("\n  {g}"));
        }
        text.push('\n');
        let _ = std::io::stderr().write_all(text.as_bytes());
    }

    /// The idle wait itself: in the poller once the hub has one (I/O events, timers and
    /// posts all end it), else on the inbox's `Condvar`.
    fn idle_wait(&self, deadline: Option<Instant>) {
        if self.io.borrow().is_some() {
            self.idle_poll(deadline);
        } else {
            self.shared.wait(deadline);
        }
    }

    // ------------------------------------------------------------------ I/O (sched::io)

    /// [`idle`](Self::idle) once the hub has a poller: block in it until the next timer,
    /// an I/O event, or a post (which wakes it through the `mio::Waker`).
    #[cold]
    fn idle_poll(&self, deadline: Option<Instant>) {
        if !self.shared.begin_poll_sleep() {
            return;
        }
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.poll_io(timeout);
        self.shared.end_poll_sleep();
    }

    /// Collects I/O events (waiting up to `timeout`, `None`: until one comes) and makes
    /// the green threads waiting on them runnable.
    fn poll_io(&self, timeout: Option<Duration>) {
        let mut io = self.io.borrow_mut();
        let Some(d) = io.as_mut() else {
            return;
        };
        let Driver {
            poll,
            events,
            entries,
            ..
        } = &mut **d;
        if let Err(e) = poll.poll(events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return;
            }
            fatal!("the I/O poller failed: {e}");
        }
        for ev in events.iter() {
            if ev.token() == WAKER_TOKEN {
                continue;
            }
            let (idx, generation) = io_mod::untoken(ev.token());
            let Some(e) = entries
                .get_mut(idx as usize)
                .filter(|e| e.live && e.generation == generation)
            else {
                continue;
            };
            if ev.is_read_closed() {
                e.ready |= READ_CLOSED;
            }
            if ev.is_write_closed() {
                e.ready |= WRITE_CLOSED;
            }
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                e.ready |= READ;
                for (slot, token) in e.readers.drain(..) {
                    self.io_wake(slot, token);
                }
            }
            if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
                e.ready |= WRITE;
                for (slot, token) in e.writers.drain(..) {
                    self.io_wake(slot, token);
                }
            }
        }
    }

    /// Ends the I/O park `token` of the green thread in `slot`, if it still waits there.
    /// Borrows only the slab (never `io`).
    fn io_wake(&self, slot: u32, token: u64) {
        if let Some(p) = self.slab_get(slot) {
            // SAFETY: I1: in the slab; no switch below.
            let g = unsafe { p.get() };
            if self.unpark(g, token, Wake::Woken).is_some() {
                // SAFETY: now Ready and on no list; I1 keeps it alive.
                unsafe { self.runq.push_back(g) };
            }
        }
    }

    /// Frees the registrations that other OS threads gave up (sockets moved away).
    #[cold]
    fn drain_io_frees(&self) {
        let mut frees = self.io_spare.take();
        self.shared.take_io_frees(&mut frees);
        if let Some(d) = self.io.borrow_mut().as_mut() {
            for &(idx, generation) in &frees {
                d.release(idx, generation);
            }
        }
        frees.clear();
        self.io_spare.replace(frees);
    }

    /// Whether this hub has any source registered with its poller, or a green thread
    /// waiting for I/O: such a hub can be woken by the network even when no timer is
    /// pending and no park is external. (For the stall report of external-only hubs.)
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn has_registered_io(&self) -> bool {
        self.io_waiters.get() != 0 || self.io.borrow().as_ref().is_some_and(|d| d.registered != 0)
    }

    /// `(live registrations, I/O waiters, has_registered_io)`, for tests.
    #[cfg(test)]
    pub(crate) fn io_counts(&self) -> (usize, usize, bool) {
        let registered = self.io.borrow().as_ref().map_or(0, |d| d.registered);
        (registered, self.io_waiters.get(), self.has_registered_io())
    }

    /// Registers `src` (for reading and writing, edge-triggered) with this hub's poller,
    /// making the poller first if needed. Returns `(index, generation)`.
    pub(crate) fn io_register<S: mio::event::Source + ?Sized>(
        &self,
        src: &mut S,
        fd: u64,
    ) -> io::Result<(u32, u32)> {
        let mut io = self.io.borrow_mut();
        if io.is_none() {
            *io = Some(Box::new(Driver::new(&self.shared)?));
        }
        let Some(d) = io.as_mut() else {
            fatal!("the I/O driver vanished");
        };
        let (idx, generation) = d.alloc(fd)?;
        if let Err(e) = d.poll.registry().register(
            src,
            io_mod::token(idx, generation),
            mio::Interest::READABLE | mio::Interest::WRITABLE,
        ) {
            d.release(idx, generation);
            return Err(e);
        }
        Ok((idx, generation))
    }

    /// Removes a registration made by [`io_register`](Self::io_register); green threads
    /// still waiting on it (only possible for raw fds) wake and see it closed.
    pub(crate) fn io_deregister<S: mio::event::Source + ?Sized>(
        &self,
        src: &mut S,
        idx: u32,
        generation: u32,
    ) {
        let waiters = {
            let mut io = self.io.borrow_mut();
            let Some(d) = io.as_mut() else {
                return;
            };
            let _ = d.poll.registry().deregister(src);
            let Some(e) = d.entry(idx, generation) else {
                return;
            };
            let mut w = core::mem::take(&mut e.readers);
            w.append(&mut e.writers);
            d.release(idx, generation);
            w
        };
        for (slot, token) in waiters {
            self.io_wake(slot, token);
        }
    }

    /// Whether the readiness bit `dir` of a registration is set.
    #[inline]
    pub(crate) fn io_is_ready(&self, idx: u32, generation: u32, dir: u8) -> bool {
        match self
            .io
            .borrow_mut()
            .as_mut()
            .and_then(|d| d.entry(idx, generation))
        {
            Some(e) => e.ready & dir != 0,
            None => true,
        }
    }

    /// Clears the readiness bit `dir` (a call returned `WouldBlock`, or drained the
    /// buffer), unless that side is closed: an edge-triggered poller reports a hang-up
    /// once, and a read after it returns end of file without blocking.
    #[inline]
    pub(crate) fn io_clear(&self, idx: u32, generation: u32, dir: u8) {
        if let Some(e) = self
            .io
            .borrow_mut()
            .as_mut()
            .and_then(|d| d.entry(idx, generation))
        {
            let closed = (e.ready >> 2) & dir;
            e.ready = (e.ready & !dir) | closed;
        }
    }

    /// Parks the running green thread until the registration is ready for `dir` (its bit
    /// set by an event), `deadline` passes, or the registration is removed. A kill raises
    /// here (after the green thread left the entry's waiter list).
    ///
    /// # Errors
    /// If the OS thread is panicking (no switching then): an `Other` error.
    pub(crate) fn io_wait(
        &self,
        idx: u32,
        generation: u32,
        dir: u8,
        deadline: Option<Instant>,
        what: WaitOn,
    ) -> io::Result<IoWait> {
        let g = self.current_green();
        self.check_interrupt(g);
        if std::thread::panicking() {
            return Err(io::Error::other(
                "greenthread: cannot wait for I/O while the thread panics",
            ));
        }
        if let Some(d) = deadline
            && d <= Instant::now()
        {
            return Ok(IoWait::TimedOut);
        }
        let token = self.next_token();
        g.token.set(token);
        let me = (g.slot.get(), token);
        {
            let mut io = self.io.borrow_mut();
            let Some(e) = io.as_mut().and_then(|d| d.entry(idx, generation)) else {
                return Ok(IoWait::Closed);
            };
            if e.ready & dir != 0 {
                return Ok(IoWait::Ready);
            }
            if dir == READ {
                e.readers.push(me);
            } else {
                e.writers.push(me);
            }
        }
        self.io_waiters.set(self.io_waiters.get() + 1);
        let wake = self.park_current(g, what, deadline, false, false);
        self.io_waiters.set(self.io_waiters.get() - 1);
        let closed = {
            let mut io = self.io.borrow_mut();
            match io.as_mut().and_then(|d| d.entry(idx, generation)) {
                Some(e) => {
                    // Still listed after a timeout or a kill: leave.
                    e.readers.retain(|w| *w != me);
                    e.writers.retain(|w| *w != me);
                    false
                }
                None => true,
            }
        };
        match wake {
            Wake::Woken if closed => Ok(IoWait::Closed),
            Wake::Woken => Ok(IoWait::Ready),
            Wake::TimedOut => Ok(IoWait::TimedOut),
            Wake::Interrupted => {
                // Raises a kill; an interrupt handler that returns lets the call retry.
                self.check_interrupt(g);
                Ok(IoWait::Ready)
            }
            Wake::Deadlock => fatal!("a green thread waiting for I/O was reported deadlocked"),
        }
    }

    /// Every green thread is parked, no timer is pending, no park can be ended from
    /// another OS thread: make the main green thread's blocked call fail with a report.
    #[cold]
    fn deadlock(&self) {
        let main = self.main_green();
        if main.state() != State::Parked {
            fatal!(
                "deadlock detected while the main green thread is {:?}",
                main.state()
            );
        }
        let report = DeadlockReport::new(self.snapshot(true));
        *self.report.borrow_mut() = Some(report);
        if self
            .unpark(main, main.token.get(), Wake::Deadlock)
            .is_none()
        {
            fatal!("could not resume the main green thread after a deadlock");
        }
        // SAFETY: main is now Ready and on no list; alive until teardown.
        unsafe { self.runq.push_back(main) };
    }

    fn take_report(&self) -> DeadlockReport {
        match self.report.borrow_mut().take() {
            Some(r) => r,
            None => fatal!("deadlock wake without a report"),
        }
    }

    // ------------------------------------------------------------------ yield, park, wake

    /// `yield_now`: to the back of the run queue; every other ready green thread runs once
    /// first.
    #[inline]
    pub(crate) fn yield_current(&self) {
        let g = self.current_green();
        if g.pending.get() != 0 {
            self.check_interrupt(g);
        }
        if std::thread::panicking() {
            return;
        }
        g.set_state(State::Ready);
        // SAFETY: running, so on no list; I1 keeps it alive while queued.
        unsafe { self.runq.push_back(g) };
        let next = self.next_ready();
        self.switch_to(g, next);
        if g.pending.get() != 0 {
            self.check_interrupt(g);
        }
    }

    /// Parks the running green thread `g` (its token already set; if it waits for another
    /// green thread, already on that one's waiter list) and returns why it was resumed.
    ///
    /// Always inlined: `what` is then built in place (passed by pointer, the 32-byte copy
    /// stalled on store forwarding and showed up in spawn + wait's profile).
    #[inline(always)]
    fn park_current(
        &self,
        g: &Green,
        what: WaitOn,
        deadline: Option<Instant>,
        word: bool,
        external: bool,
    ) -> Wake {
        g.wait_on.set(Some(what));
        g.deadline.set(deadline);
        if word {
            g.add(flag::WORD);
        }
        if external {
            g.add(flag::EXTERNAL);
            self.external_parks.set(self.external_parks.get() + 1);
        }
        if let Some(d) = deadline {
            self.timers
                .borrow_mut()
                .push(d, g.slot.get(), g.token.get(), TimerKind::Wake);
        }
        g.set_state(State::Parked);
        let next = self.next_ready();
        self.switch_to(g, next);
        g.wake.get()
    }

    /// Ends the park `token` of `g` for `reason`, if it is still parked there: off its
    /// waiter list, timer cancelled, park word disarmed, state Ready (not queued: the
    /// caller queues it or switches to it). Returns the reason it will see, which is
    /// `Woken` if a `Waker` had already won the word.
    #[inline]
    fn unpark(&self, g: &Green, token: u64, reason: Wake) -> Option<Wake> {
        self.unpark_inner(g, token, reason, false)
    }

    /// [`unpark`](Self::unpark); `won`: the caller is a `Waker` that has already won the
    /// park word (so the park is `Woken` and the word needs no second compare-and-swap).
    #[inline(always)]
    fn unpark_inner(&self, g: &Green, token: u64, reason: Wake, won: bool) -> Option<Wake> {
        if g.state() != State::Parked || g.token.get() != token {
            return None;
        }
        let mut reason = reason;
        if won {
            debug_assert!(reason == Wake::Woken);
            debug_assert!(!g.has(flag::WORD) || !self.shared.words.is_armed(g.slot.get(), token));
        } else if g.has(flag::WORD) && !self.shared.words.disarm(g.slot.get(), token) {
            // A wake() won the park first (it may still sit in the inbox): it wins.
            reason = Wake::Woken;
        }
        if g.has(flag::EXTERNAL) {
            self.external_parks.set(self.external_parks.get() - 1);
        }
        g.clear(flag::WORD | flag::EXTERNAL);
        let list = g.list.get();
        if !list.is_null() {
            // SAFETY: a parked green thread is only ever on a join-waiter list, inside the
            // block of a green thread that is not dead (it empties the list before dying),
            // hence alive (I1).
            unsafe { (*list).remove(g) };
        }
        g.wait_on.set(None);
        if g.deadline.take().is_some() && reason != Wake::TimedOut {
            self.cancel_timer(g.slot.get());
        }
        g.wake.set(reason);
        g.set_state(State::Ready);
        Some(reason)
    }

    /// A `Waker` of this hub won the park `(slot, seq)` on this OS thread (or it came
    /// through the inbox): make the green thread runnable. The word is already disarmed
    /// (that is what winning means), so `unpark` does not try again: one locked
    /// instruction per wake, not two.
    #[inline]
    pub(crate) fn local_wake(&self, slot: u32, seq: u64) {
        if let Some(p) = self.slab_get(slot) {
            // SAFETY: I1: in the slab; no switch below.
            let g = unsafe { p.get() };
            if self.unpark_inner(g, seq, Wake::Woken, true).is_some() {
                // SAFETY: now Ready and on no list; I1 keeps it alive.
                unsafe { self.runq.push_back(g) };
            }
        }
    }

    /// Arms a park for the running green thread: `(its id, its slot, the token)`.
    pub(crate) fn arm_park(&self) -> (u64, u32, u64) {
        let g = self.current_green();
        let seq = self.next_token();
        g.token.set(seq);
        self.shared.words.arm(g.slot.get(), seq);
        (g.id, g.slot.get(), seq)
    }

    /// `Parker::park`. The plain case (armed, nothing pending, no deadline or one not known
    /// to have passed) is inlined so that few frames lie between the caller and the switch
    /// (see `join_wait`). No clock read: see `park_parker_slow`.
    #[inline]
    pub(crate) fn park_parker(
        &self,
        owner: u64,
        seq: u64,
        what: WaitOn,
        deadline: Option<Instant>,
        external: bool,
    ) -> Result<Wakeup, ParkError> {
        let g = self.current_green();
        if g.id == owner
            && g.token.get() == seq
            && g.pending.get() == 0
            && deadline.is_none_or(|d| !self.timers.borrow().surely_passed(d))
            && self.shared.words.is_armed(g.slot.get(), seq)
            && !std::thread::panicking()
        {
            return match self.park_current(g, what, deadline, true, external) {
                Wake::Woken => Ok(Wakeup::Woken),
                other => self.park_ended(other),
            };
        }
        self.park_parker_slow(owner, seq, what, deadline, external)
    }

    /// [`park_parker`](Self::park_parker) for everything but the plain case: misuse,
    /// a wake that already won, a pending interrupt, a panicking OS thread, a deadline.
    #[inline(never)]
    fn park_parker_slow(
        &self,
        owner: u64,
        seq: u64,
        what: WaitOn,
        deadline: Option<Instant>,
        external: bool,
    ) -> Result<Wakeup, ParkError> {
        let g = self.current_green();
        if g.id != owner {
            panic!(
                "greenthread: a Parker made by green thread {owner} was parked by green \
                 thread {}",
                g.id
            );
        }
        if g.token.get() != seq {
            panic!(
                "greenthread: this Parker was retired by a newer Parker of the same green thread"
            );
        }
        let (slot, words) = (g.slot.get(), &self.shared.words);
        // Each early exit disarms first: if that fails a wake won, and the park is Woken.
        let early = |err: Result<Wakeup, ParkError>| {
            if words.disarm(slot, seq) {
                err
            } else {
                Ok(Wakeup::Woken)
            }
        };
        if !words.is_armed(slot, seq) {
            return Ok(Wakeup::Woken);
        }
        if std::thread::panicking() {
            return early(Err(ParkError::Panicking));
        }
        if g.pending.get() != 0 {
            return early(Err(ParkError::Interrupted));
        }
        // No clock read: the caller computed the deadline from one a moment ago (sync's
        // timed calls check an `Instant` deadline themselves). A deadline that passed
        // since the last tick's reading just parks until the next tick, which fires it.
        if let Some(d) = deadline
            && self.timers.borrow().surely_passed(d)
        {
            return early(Ok(Wakeup::TimedOut));
        }
        match self.park_current(g, what, deadline, true, external) {
            Wake::Woken => Ok(Wakeup::Woken),
            other => self.park_ended(other),
        }
    }

    /// How a `Parker` park that was not won by a wake ended.
    #[cold]
    #[inline(never)]
    fn park_ended(&self, wake: Wake) -> Result<Wakeup, ParkError> {
        match wake {
            Wake::Woken => Ok(Wakeup::Woken),
            Wake::TimedOut => Ok(Wakeup::TimedOut),
            Wake::Interrupted => Err(ParkError::Interrupted),
            Wake::Deadlock => Err(ParkError::Deadlock(self.take_report())),
        }
    }

    /// `sleep_until`.
    pub(crate) fn sleep_until(&self, deadline: Instant) {
        let g = self.current_green();
        self.check_interrupt(g);
        if std::thread::panicking() {
            // No switching while panicking: the whole OS thread sleeps (docs/HUB.md).
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
            return;
        }
        // A deadline already passed is still a timer (eventlet's `sleep(0)`): it is ordered
        // after every timer due before it, which fire first.
        loop {
            g.token.set(self.next_token());
            match self.park_current(g, WaitOn::Sleep, Some(deadline), false, false) {
                Wake::TimedOut | Wake::Woken => return,
                Wake::Interrupted => {
                    // Raises, unless it was an interrupt handler that returned: then the
                    // sleep goes on until its deadline (as PEP 475 does for Python).
                    self.check_interrupt(g);
                    if deadline <= Instant::now() {
                        return;
                    }
                }
                Wake::Deadlock => fatal!("a sleeping green thread was resumed for a deadlock"),
            }
        }
    }

    /// `GreenThread::wait`: blocks until `target` is dead.
    ///
    /// Inlined, with the rare cases out of line: every `ret` executed after a stack switch
    /// lands mispredicts (the return-stack buffer holds the other stack's calls), so the
    /// fewer frames between the user's `wait`/`join` and the switch, the cheaper the wake.
    #[inline]
    pub(crate) fn join_wait(&self, target: &Green) -> Result<(), HubError> {
        loop {
            if target.is_dead() {
                return Ok(());
            }
            let g = self.current_green();
            if ptr::eq(g, target) || g.pending.get() != 0 || std::thread::panicking() {
                self.join_refused(g, target)?;
            }
            g.token.set(self.next_token());
            // SAFETY: `g` is running, so on no list; I1 keeps it alive while it is on the
            // list, and `target`'s block (not dead) does not move and outlives the
            // membership: a dying green thread empties its waiter list first.
            unsafe { target.waiters.push_back(g) };
            match self.park_current(g, WaitOn::Join { id: target.id }, None, false, false) {
                Wake::Woken => {}
                other => self.join_woken_otherwise(g, other)?,
            }
        }
    }

    /// The rare cases of [`join_wait`](Self::join_wait) before parking: waiting for
    /// itself (a deadlock), a pending interrupt (raised here), or a panicking OS thread.
    #[cold]
    #[inline(never)]
    fn join_refused(&self, g: &Green, target: &Green) -> Result<(), HubError> {
        if ptr::eq(g, target) {
            let mut me = self.info(g, Instant::now());
            me.state = GreenState::Parked;
            me.waiting_on = Some(WaitOn::Join { id: g.id });
            let dump = HubDump {
                hub_id: self.shared.id,
                thread_name: self.thread_name.clone(),
                green_threads: vec![me],
            };
            return Err(HubError::Deadlock(DeadlockReport::new(dump)));
        }
        self.check_interrupt(g);
        if std::thread::panicking() {
            return Err(HubError::Panicking);
        }
        Ok(())
    }

    /// A join park that ended other than by the target finishing.
    #[cold]
    #[inline(never)]
    fn join_woken_otherwise(&self, g: &Green, wake: Wake) -> Result<(), HubError> {
        match wake {
            Wake::Woken => Ok(()),
            Wake::Interrupted => {
                self.check_interrupt(g);
                Ok(())
            }
            Wake::Deadlock => Err(HubError::Deadlock(self.take_report())),
            Wake::TimedOut => fatal!("a join wait timed out without a deadline"),
        }
    }

    // ------------------------------------------------------------------ interrupts, kill

    /// Raises the pending interrupt of `g` (the running green thread), unless this OS
    /// thread is panicking. A kill stays pending, so it is raised again at every later
    /// switch point; an `interrupt_main` payload is raised once.
    #[inline]
    pub(crate) fn check_interrupt(&self, g: &Green) {
        let p = g.pending.get();
        if p != 0 && !std::thread::panicking() {
            self.raise(g, p);
        }
    }

    #[cold]
    #[inline(never)]
    fn raise(&self, g: &Green, p: u8) {
        if p & pending::KILL != 0 {
            if g.is_main() {
                // The main green thread never finishes, so there is nothing to keep
                // enforcing: a kill of it is raised once, like an interrupt.
                g.pending.set(p & !pending::KILL);
            }
            resume_unwind(Box::new(KillUnwind));
        }
        if p & pending::INTERRUPT != 0 {
            g.pending.set(p & !pending::INTERRUPT);
            let payload = self.interrupt.borrow_mut().take();
            if let Some(payload) = payload {
                match payload.downcast::<InterruptCall>() {
                    // A handler: run it here, on the main green thread; if it returns, so
                    // does this switch point (and the interrupted call resumes).
                    Ok(call) => (call.0)(),
                    Err(payload) => resume_unwind(payload),
                }
            }
        }
        if p & pending::RAISE != 0 {
            g.pending.set(g.pending.get() & !pending::RAISE);
            if let Some(payload) = super::raise::take(g.id) {
                resume_unwind(payload);
            }
        }
    }

    /// Takes a green thread that has not started (state `New`) off the run queue, or, if it
    /// waits for its start timer (`spawn_after`), cancels that timer in place.
    fn unqueue_new(&self, v: &Green) {
        if !self.runq.remove(v) {
            v.clear(flag::DELAYED);
            v.deadline.set(None);
            v.token.set(self.next_token());
            self.cancel_timer(v.slot.get());
        }
    }

    /// Cancels `v` (a green thread of this hub) if it has not started, **without
    /// switching** (unlike `kill`/`cancel`, which switch into it so it dies at once): it
    /// is queued to die in its turn, never running its closure. False if it has started
    /// or finished. For `Timeout`'s timer, whose drop must not be a switch point.
    pub(crate) fn cancel_quiet(&self, v: &Green) -> bool {
        if v.is_dead() || v.has(flag::STARTED) || v.state() != State::New {
            return false;
        }
        if !v.has(flag::KILLED | flag::CANCELLED) {
            v.add(flag::CANCELLED);
        }
        self.unqueue_new(v);
        // SAFETY: taken off every list above; I1 keeps it alive while queued.
        unsafe { self.runq.push_back(v) };
        true
    }

    /// Makes `v` (a green thread of this hub, not the running one) raise its queued
    /// `raise::raise_in` payload at its next switch point: a parked `v` is made runnable
    /// now, its blocking call ending as for a kill (`Wake::Interrupted`), but only once.
    pub(crate) fn raise_in(&self, v: &Green) {
        if v.is_dead() {
            return;
        }
        v.pending.set(v.pending.get() | pending::RAISE);
        if v.state() == State::Parked && self.unpark(v, v.token.get(), Wake::Interrupted).is_some()
        {
            // SAFETY: now Ready and on no list; I1 keeps it alive while queued.
            unsafe { self.runq.push_back(v) };
        }
    }

    /// Delivers an `interrupt_main` payload to this hub's main green thread (on the hub's
    /// OS thread). False if one is already pending or the hub shuts down.
    pub(crate) fn interrupt_local(&self, payload: Box<dyn Any + Send>) -> bool {
        let main = self.main_green();
        if self.shutting_down.get()
            || main.pending.get() & pending::INTERRUPT != 0
            || self.interrupt.borrow().is_some()
        {
            drop(payload);
            return false;
        }
        *self.interrupt.borrow_mut() = Some(payload);
        main.pending.set(main.pending.get() | pending::INTERRUPT);
        if self
            .unpark(main, main.token.get(), Wake::Interrupted)
            .is_some()
        {
            // SAFETY: main is now Ready and on no list; alive until teardown.
            unsafe { self.runq.push_back(main) };
        }
        true
    }

    /// [`CAN_UNWIND`], unless a unit test pretends this hub was built with
    /// `panic = "abort"` ([`pretend_abort`](Self::pretend_abort)).
    #[inline]
    fn can_unwind(&self) -> bool {
        #[cfg(test)]
        if self.pretend_abort.get() {
            return false;
        }
        CAN_UNWIND
    }

    /// `kill` (or `cancel`) of `v`, a green thread of this hub. Returns whether it was
    /// killed or cancelled now.
    pub(crate) fn kill(&self, v: &Green, cancel: bool) -> Result<bool, KillError> {
        if v.is_dead() {
            return Ok(false);
        }
        if v.has(flag::STARTED) {
            if cancel || (v.has(flag::EXITING) && !self.shutting_down.get()) {
                return Ok(false);
            }
            if !self.can_unwind() {
                return Err(KillError::CannotUnwind);
            }
            v.pending.set(v.pending.get() | pending::KILL);
        } else if !v.has(flag::KILLED | flag::CANCELLED) {
            v.add(if cancel {
                flag::CANCELLED
            } else {
                flag::KILLED
            });
        }
        let cur = self.current_green();
        if ptr::eq(cur, v) {
            self.check_interrupt(cur);
            return Ok(true);
        }
        // Take the victim out of wherever it waits, so it can be switched to now.
        match v.state() {
            State::New => self.unqueue_new(v),
            State::Ready => {
                self.runq.remove(v);
            }
            State::Parked => {
                self.unpark(v, v.token.get(), Wake::Interrupted);
            }
            State::Running | State::Dead => {
                fatal!("kill of green thread {} in state {:?}", v.id, v.state())
            }
        }
        if std::thread::panicking() {
            // No switching while panicking: it dies in its turn.
            // SAFETY: taken off every list above; I1 keeps it alive while queued.
            unsafe { self.runq.push_back(v) };
            return Ok(true);
        }
        cur.set_state(State::Ready);
        // SAFETY: running, so on no list; I1 keeps it alive while queued.
        unsafe { self.runq.push_back(cur) };
        self.switch_to(cur, GPtr::from(v));
        self.check_interrupt(cur);
        Ok(true)
    }

    // ------------------------------------------------------------------ exit, teardown

    /// The last act of a green thread (on its own stack): wake its waiters, become dead,
    /// hand the stack to whoever runs next, switch away for good.
    pub(crate) fn exit_current(&self) -> ! {
        let g = self.current_green();
        if g.is_main() {
            fatal!("the main green thread cannot exit");
        }
        // Waiters run in the order they started waiting.
        while let Some(w) = g.waiters.pop_front() {
            // SAFETY: I1: it was on the list, so alive; no switch below.
            let w = unsafe { w.get() };
            if self.unpark(w, w.token.get(), Wake::Woken).is_some() {
                // SAFETY: now Ready and on no list; I1 keeps it alive.
                unsafe { self.runq.push_back(w) };
            }
        }
        g.set_state(State::Dead);
        let stack = g.stack.take();
        if g.name.is_some()
            && let Some(s) = &stack
        {
            s.set_name(None);
        }
        if self.graveyard.replace(stack).is_some() {
            fatal!("two dead stacks waiting for release");
        }
        let slot = g.slot.get();
        self.current.set(ptr::null());
        // Drops the slab's reference; this may free the block. No user code runs: the
        // outcome was dropped already if no typed handle exists (I3/I4).
        drop(self.slab_remove(slot));
        let next = self.next_ready();
        // SAFETY: I1: it came off the run queue.
        let next_g = unsafe { next.get() };
        next_g.set_state(State::Running);
        self.current.set(next.as_ptr());
        if g.has(flag::FP_ENV) {
            // The next green thread runs in the default environment.
            let _ = fp::leave();
        }
        let mut dead_sp = 0usize;
        // SAFETY: (raw::switch contract) as in `switch_to` for `next`. `dead_sp` is on
        // this stack, which stays mapped until the next context takes it out of the
        // graveyard, after this switch has written it; nobody reads it. Nothing on this
        // stack needs dropping: `run` returned and every local above is trivially
        // droppable.
        unsafe { raw::switch(&mut dead_sp, next_g.sp.get(), 0) };
        fatal!("a finished green thread was resumed")
    }

    /// Whether the main green thread (the OS thread's own stack) is the one running.
    pub(crate) fn main_is_running(&self) -> bool {
        ptr::eq(self.current.get(), self.main.as_ptr())
    }

    /// Kills every live green thread at OS-thread exit, on the main green thread (the OS
    /// thread's own stack, in a thread-local destructor), and releases their stacks. Under
    /// `panic = "abort"`, or if the thread is panicking, started green threads cannot be
    /// unwound: they are abandoned, leaking their stacks and control blocks (freeing them
    /// could leave dangling pointers into them, e.g. pinned values).
    pub(crate) fn teardown(&self) {
        {
            let mut main = main_hub();
            if main
                .hub
                .as_ref()
                .is_some_and(|h| Arc::ptr_eq(h, &self.shared))
            {
                main.hub = None;
            }
        }
        if !ptr::eq(self.current.get(), self.main.as_ptr()) {
            fatal!("hub torn down while a green thread other than main runs");
        }
        self.shutting_down.set(true);
        // Nothing may be raised on the main green thread from here on: we run in a
        // thread-local destructor, and a panic there aborts.
        self.main_green().pending.set(0);
        drop(self.interrupt.borrow_mut().take());
        let can_unwind = self.can_unwind() && !std::thread::panicking();
        // Everything not started never will; everything started unwinds at its next
        // switch point (including ready ones that run before the main green thread
        // comes back).
        for p in self.live_others() {
            // SAFETY: I1: taken from the slab, no switch in this loop.
            let g = unsafe { p.get() };
            if !g.has(flag::STARTED) {
                g.add(flag::KILLED);
            } else if can_unwind {
                g.pending.set(g.pending.get() | pending::KILL);
            }
        }
        while let Some(p) = self.live_others().first().copied() {
            // SAFETY: I1: in the slab.
            let v = unsafe { p.get() };
            let killable = !std::thread::panicking() && (can_unwind || !v.has(flag::STARTED));
            if !killable || self.kill(v, false).is_err() {
                self.abandon(v);
            }
        }
        self.after_resume();
        // The main green thread's green-local values: it "finishes" now. Nothing may
        // switch here (a thread-local destructor), so a destructor that tries gets the
        // hub's refusal like any other call at this point.
        super::local::drop_all(&self.main_green().locals, &mut |p| {
            drop(p);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"greenthread: a green-local value's destructor panicked during hub teardown\n",
            );
        });
        if let Some(hot) = self.hot.take() {
            stack::release(hot);
        }
        self.shared.close();
        let main = self.main_green();
        main.set_main_dead();
        drop(self.slab_remove(0));
    }

    /// Every live green thread but main.
    fn live_others(&self) -> Vec<GPtr> {
        let slab = self.slab.borrow();
        slab.entries
            .iter()
            .flatten()
            .map(GreenRef::ptr)
            .filter(|p| *p != self.main)
            .collect()
    }

    /// Forgets a green thread that cannot be unwound (teardown under `panic = "abort"`):
    /// off every list and the slab, its stack and block leaked on purpose.
    #[cold]
    fn abandon(&self, v: &Green) {
        if v.has(flag::WORD) {
            // A parked green thread that will never run again: its park must be unwinnable,
            // so a release from another OS thread gives the permit to the next waiter
            // instead of to this one (which would leave a lock held by nobody).
            self.shared.words.disarm_slot(v.slot.get());
        }
        self.runq.remove(v);
        let list = v.list.get();
        if !list.is_null() {
            // SAFETY: as in `unpark`: a join-waiter list in a live block.
            unsafe { (*list).remove(v) };
        }
        core::mem::forget(v.stack.take());
        core::mem::forget(self.slab_remove(v.slot.get()));
    }

    // ------------------------------------------------------------------ introspection

    /// A snapshot of the live green threads (only the parked ones with `blocked_only`).
    pub(crate) fn snapshot(&self, blocked_only: bool) -> HubDump {
        let now = Instant::now();
        let mut green_threads = Vec::new();
        for p in self.live_all() {
            // SAFETY: I1: in the slab; no switch in this loop.
            let g = unsafe { p.get() };
            let info = self.info(g, now);
            if !blocked_only || info.state == GreenState::Parked {
                green_threads.push(info);
            }
        }
        green_threads.sort_by_key(|g| g.id);
        HubDump {
            hub_id: self.shared.id,
            thread_name: self.thread_name.clone(),
            green_threads,
        }
    }

    fn live_all(&self) -> Vec<GPtr> {
        let slab = self.slab.borrow();
        slab.entries.iter().flatten().map(GreenRef::ptr).collect()
    }

    fn info(&self, g: &Green, now: Instant) -> GreenInfo {
        let state = match g.state() {
            State::New if g.has(flag::DELAYED) => GreenState::Delayed,
            State::New => GreenState::NotStarted,
            State::Ready => GreenState::Ready,
            State::Running => GreenState::Running,
            State::Parked | State::Dead => GreenState::Parked,
        };
        GreenInfo {
            id: g.id,
            name: g.name.as_deref().map(String::from),
            state,
            waiting_on: g.wait_on.get(),
            time_left: g.deadline.get().map(|d| d.saturating_duration_since(now)),
            external: g.has(flag::EXTERNAL),
            is_main: g.is_main(),
            exiting: g.has(flag::EXITING),
            killed: g.pending.get() & pending::KILL != 0 || g.has(flag::KILLED),
            stack_size: g.stack_size,
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        // The hub is no longer reachable from its thread-local (`current.rs` replaced the
        // pointer first), so no waker gives a count back to the reserve any more.
        for _ in 0..self.shared_refs.replace(0) {
            // SAFETY: `shared_raw` came from `Arc::into_raw`; the reserve owns these
            // counts, and `self.shared` keeps one more, so the allocation stays alive.
            unsafe { Arc::decrement_strong_count(self.shared_raw.as_ptr()) };
        }
        for block in self.block_cache.get_mut().drain(..) {
            // SAFETY: the cache holds only blocks allocated with `BLOCK_LAYOUT` and no
            // longer used (see `drop_block`).
            unsafe { std::alloc::dealloc(block.as_ptr(), BLOCK_LAYOUT) };
        }
    }
}
