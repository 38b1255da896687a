//! The hub (scheduler core) and green threads: `spawn`, `spawn_n`, `spawn_after(_local)`,
//! `sleep`, `yield_now`, `current`, `kill`, [`GreenThread`], parking for the lock layer.
//!
//! # Model
//!
//! - **One hub per OS thread**, created on first use. The OS thread's own stack is its
//!   *main green thread*. Green threads never move to another OS thread, so their handles
//!   are `!Send` (PITFALLS 28).
//! - **Cooperative.** A green thread runs until it calls a *switch point*: [`yield_now`],
//!   [`sleep`], [`GreenThread::wait`], [`GreenThread::kill`], [`Parker::park`] (every
//!   blocking lock operation), or finishes. [`spawn`] does not switch: the new green thread
//!   runs once the spawner reaches a switch point.
//! - **FIFO.** One run queue; whoever becomes runnable goes to the back; the front runs
//!   next. `yield_now()` lets every other ready green thread run once, then continues.
//! - **Symmetric switching.** There is no hub context: the green thread that stops
//!   running picks the next one and switches straight to it (one `context::raw::switch`).
//!   When nothing is ready it blocks the OS thread itself, until the next timer or a wake
//!   from another OS thread (a `Condvar` wait; no spinning), or, once one of its green
//!   threads has waited for I/O, in the OS poller (`docs/IO.md`).
//! - **Timers**: a hierarchical timing wheel with O(1) arm and cancel (in place); due
//!   timers fire exactly in `(deadline, seq)` order, so equal deadlines fire in scheduling
//!   order. Due timers are fired at
//!   *ticks*: whenever the run queue is empty, when another OS thread posted a wake, and at
//!   least every `max(16, run queue length)` switches, so a `sleep(0)` loop never starves
//!   a due timer while a plain yield does not read the clock.
//! - **Parking** ([`Parker`], [`Waker`]): the primitive the locks are built on; a wake from
//!   another OS thread is posted to the owning hub, never switched to.
//! - **Kill** raises a private payload with [`std::panic::resume_unwind`] at the victim's
//!   switch point, after switching into it at once; destructors run, no panic message.
//! - **Deadlock**: when every green thread of a hub is blocked, no timer is pending and no
//!   park can be ended by another OS thread, the main green thread's blocked call fails
//!   with a [`DeadlockReport`] listing every blocked green thread.
//! - **Thread exit** kills every live green thread of the hub (their stacks unwind) and
//!   returns their stacks.
//!
//! `docs/HUB.md` has the full design: which stack code runs on, the state table, what
//! blocks a green thread and what blocks the OS thread, error-handling rules, and the
//! designs that were rejected. In short, the rejected alternatives: a hub context every
//! switch bounces through (two switches per yield); reading the clock on every switch; a
//! `VecDeque` run queue with lazy deletion (stale entries, double runs after a kill);
//! atomically counted control blocks and per-park wake allocations (wakers name a slot
//! and a token instead); re-raising panics in `wait` (several waiters, one payload);
//! switching while panicking (std's panic count is per OS thread); abandoning stacks
//! under `panic = "abort"` (unsound with pinned data); migrating green threads.
//!
//! # Parking and waking
//!
//! [`Parker`] and [`Waker`] are what the lock layer (and anything else that blocks a green
//! thread until some other party says so) is built on.
//!
//! ```text
//!   green thread G (hub H)                         anyone (any OS thread)
//!   ----------------------                         ----------------------
//!   let p = Parker::new();      // arms a park token
//!   queue.lock().push(p.waker());                  let w = queue.lock().pop();
//!   // (release internal locks; do not switch)     if !w.wake() { /* stale: try the next */ }
//!   match p.park(what, deadline, external) {
//!       Ok(Wakeup::Woken)    => /* a wake() for this park returned true */
//!       Ok(Wakeup::TimedOut) => /* no wake() for this park ever returns true */
//!       Err(ParkError::Interrupted) => { /* killed: leave the queue */ check_interrupt() }
//!       Err(ParkError::Deadlock(_) | ParkError::Panicking) => /* leave the queue */
//!   }
//! ```
//!
//! - **Exactly one winner.** Each park has a token (a per-hub sequence number, never
//!   reused) and a *word* in the hub's shared state holding `token << 1 | ARMED`.
//!   [`Waker::wake`] and the hub (timeout, kill, deadlock, hub shutdown) both try to clear
//!   `ARMED` with one compare-and-swap; whoever succeeds decides how the park ends. So a
//!   `wake()` that returns true is always reported to the parker as [`Wakeup::Woken`]
//!   (even if a timeout or a kill was racing), and a park that ends any other way makes
//!   every `wake()` for it return false: the lock layer can then hand its permit to the
//!   next waiter, nothing is lost. Wakes for an old park, or after the parker gave up,
//!   find another token (or no `ARMED`) and return false.
//! - **Wakes are never lost.** A `wake()` that lands between [`Parker::new`] and
//!   [`Parker::park`] (possible from another OS thread once the lock layer has published
//!   the waker) clears `ARMED`; `park` sees it and returns `Woken` without switching.
//! - **Same OS thread**: `wake()` makes the parked green thread runnable at once (back of
//!   the run queue) and returns; it never switches. **Another OS thread**: `wake()` posts
//!   the token to the owning hub's inbox (a `Mutex<Vec>`), and notifies the hub's
//!   `Condvar` if that OS thread sleeps for want of work. The hub picks the inbox up at its
//!   next switch. Stacks are never switched across OS threads (PITFALLS 29).
//! - **Kill while parked.** The hub clears `ARMED` (if it can) and switches into the
//!   green thread at once; `park` returns [`ParkError::Interrupted`], and the kill stays
//!   pending: the lock layer leaves its queue, then calls [`check_interrupt`], which
//!   unwinds. If a `wake()` had already won, `park` returns `Woken` instead (the permit is
//!   the green thread's) and the kill is raised at its next switch point or
//!   `check_interrupt`.
//! - **`external`** says another OS thread may call `wake()` for this park. The deadlock
//!   detector counts such parks as "can still be woken"; marking a park that only green
//!   threads of this hub can end as external just delays the deadlock report (forever, if
//!   there is no timer).
//! - Between `Parker::new` and `park`, do not switch (no yield, sleep or other blocking
//!   call): a same-thread wake would then find the green thread running, not parked. (It
//!   still is not lost: `park` returns `Woken` at once.) One `Parker` per green thread at a
//!   time: creating a second one retires the first (its wakes return false, parking it
//!   panics).
//!
//! # Decisions where the Python peers differ or are silent
//!
//! - `wait` *returns* a panic as [`WaitError::Exited`]`(`[`Exit::Panicked`]`)`; eventlet
//!   re-raises. [`GreenThread::join`] hands the payload over for `resume_unwind`.
//! - `kill` switches into the victim at once (eventlet schedules the killer, gevent blocks
//!   it); the killer continues in its FIFO turn.
//! - Links run before any waiter returns; linking a finished green thread calls at once.
//! - A blocking call while the OS thread panics never switches (see [`sleep`],
//!   [`HubError::Panicking`], [`ParkError::Panicking`]).
//! - Under `panic = "abort"`, killing a started green thread is an error
//!   ([`KillError::CannotUnwind`]).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! let worker = greenthread::spawn(|| {
//!     let mut sum = 0;
//!     for i in 1..=3 {
//!         sum += i;
//!         greenthread::sleep(Duration::from_millis(1)); // other green threads run
//!     }
//!     sum
//! });
//! let ticker = greenthread::spawn(|| {
//!     for _ in 0..3 {
//!         greenthread::yield_now();
//!     }
//! });
//! assert_eq!(worker.join().unwrap(), 6);
//! ticker.join().unwrap();
//! ```

use core::any::Any;
use std::time::{Duration, Instant};

mod current;
mod dump;
mod error;
mod green;
mod hub;
pub(crate) mod io;
mod local;
mod park;
pub(crate) mod raise;
mod runqueue;
mod timer;

#[cfg(test)]
mod tests;

pub use dump::{DeadlockReport, GreenInfo, GreenState, HubDump};
pub use error::{Exit, HubError, JoinError, KillError, Panic, ParkError, SpawnError, WaitError};
pub use green::{GreenHandle, GreenThread, LinkId};
pub use local::{GreenLocal, LocalAccessError};
pub use park::{HubHandle, Parker, WaitOn, Waker, Wakeup, interrupt_main, interrupt_main_call};

use error::THREAD_EXITING_MSG;
use hub::{SpawnOpts, Start};

/// Spawns a green thread running `f` on a stack of the default size, and returns its
/// handle. It does not run yet: it is put at the back of the run queue and runs once the
/// caller reaches a switch point (yield, sleep, wait, ...).
///
/// # Python equivalent
/// `eventlet.spawn(func)` / `gevent.spawn(func)`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let ran = Rc::new(Cell::new(false));
/// let r = Rc::clone(&ran);
/// let gt = greenthread::spawn(move || r.set(true));
/// assert!(!ran.get()); // not yet: we have not yielded
/// gt.wait().unwrap();
/// assert!(ran.get());
/// ```
///
/// # Thread-locals: never switch inside a `thread_local!` initializer or destructor
///
/// All green threads of an OS thread share its `thread_local!` values, and std assumes
/// nothing else touches a key while its lazy initializer runs. If green thread A switches
/// inside an initializer and green thread B initialises the same key meanwhile, std later
/// overwrites B's value with A's and drops B's under any reference B still holds: a
/// use-after-free that the compiler cannot catch. So never call anything that may switch
/// (yield, sleep, a contended lock, a wait, I/O) inside a `thread_local!` initializer or
/// destructor. For per-green-thread state, whose initializer may switch, use
/// [`green_local!`](crate::green_local).
///
/// # Panics
/// If no stack can be had (see [`Builder::spawn`] for the fallible form). A panic inside
/// `f` does not propagate here: it is caught on the green thread's stack and handed to its
/// waiters ([`GreenThread::wait`]).
pub fn spawn<F, T>(f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new().spawn(f).unwrap_or_else(|e| spawn_failed(e))
}

/// Spawns a green thread with no handle: the cheapest spawn. A panic in it is reported on
/// stderr (the panic hook's message, then one line from the hub) and the hub goes on.
///
/// # Python equivalent
/// `eventlet.spawn_n(func)`.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let n = Rc::new(Cell::new(0));
/// for _ in 0..3 {
///     let n = Rc::clone(&n);
///     greenthread::spawn_n(move || n.set(n.get() + 1));
/// }
/// greenthread::yield_now();
/// assert_eq!(n.get(), 3);
/// ```
///
/// # Panics
/// If no stack can be had ([`Builder::spawn_n`] returns the error instead).
pub fn spawn_n<F>(f: F)
where
    F: FnOnce() + 'static,
{
    Builder::new()
        .spawn_n(f)
        .unwrap_or_else(|e| spawn_failed(e))
}

/// Spawns a green thread that becomes runnable after at least `delay`, even if the spawner
/// has finished by then. [`GreenThread::cancel`] before it starts prevents it from running.
///
/// # Python equivalent
/// `eventlet.spawn_after(seconds, func)`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let t0 = Instant::now();
/// let gt = greenthread::spawn_after(Duration::from_millis(5), Instant::now);
/// assert!(gt.join().unwrap() >= t0 + Duration::from_millis(5));
/// ```
///
/// # Panics
/// If no stack can be had ([`Builder::spawn_after`] returns the error instead).
pub fn spawn_after<F, T>(delay: Duration, f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn_after(delay, f)
        .unwrap_or_else(|e| spawn_failed(e))
}

/// Like [`spawn_after`], but the green thread never runs if the green thread that spawned
/// it has finished by the time `delay` has passed: it is then cancelled
/// ([`Exit::Cancelled`]: its links are called, its waiters woken).
///
/// # Python equivalent
/// `eventlet.spawn_after_local(seconds, func)`.
///
/// ```
/// use std::time::Duration;
///
/// let parent = greenthread::spawn(|| {
///     greenthread::spawn_after_local(Duration::from_millis(1), || unreachable!())
/// });
/// let orphan = parent.join().unwrap(); // the parent is finished
/// assert!(orphan.wait().unwrap_err().exit().unwrap().is_cancelled());
/// ```
///
/// # Panics
/// If no stack can be had ([`Builder::spawn_after_local`] returns the error instead).
pub fn spawn_after_local<F, T>(delay: Duration, f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    Builder::new()
        .spawn_after_local(delay, f)
        .unwrap_or_else(|e| spawn_failed(e))
}

#[cold]
#[inline(never)]
fn spawn_failed(e: SpawnError) -> ! {
    panic!("greenthread: failed to spawn a green thread: {e}")
}

/// Suspends the calling green thread for at least `d`; other green threads run meanwhile.
///
/// The sleep is a timer, zero included (eventlet's `sleep(0)` is a timer too): every timer
/// due by the time it is made fires first, in deadline order and then in the order they
/// were made, so a `spawn_after(Duration::ZERO, f)` followed by `sleep(Duration::ZERO)`
/// has started `f` by the time the sleeper resumes, and every green thread that was ready
/// runs before it too. [`yield_now`] is the cheaper, clock-free yield that does not
/// promise this for timers (see `docs/HUB.md`).
///
/// If `d` is too large to add to the current time it sleeps for a century.
///
/// # Python equivalent
/// `eventlet.sleep(seconds)` / `gevent.sleep(seconds)`, `sleep(0)` included.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// let started = Rc::new(Cell::new(false));
/// let s = Rc::clone(&started);
/// let gt = greenthread::spawn_after(Duration::ZERO, move || s.set(true));
/// greenthread::sleep(Duration::ZERO); // the due timer fires before we resume
/// assert!(started.get());
/// assert!(!gt.cancel()); // too late: it started
/// ```
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let t0 = Instant::now();
/// greenthread::sleep(Duration::from_millis(2));
/// assert!(t0.elapsed() >= Duration::from_millis(2));
/// ```
///
/// # Panics
/// If the calling green thread is killed while it sleeps, the kill unwinds it from here.
/// While this OS thread is panicking (a `sleep` in a `Drop` during unwinding) the whole OS
/// thread sleeps instead: switching is refused then (see `docs/HUB.md`).
#[inline]
pub fn sleep(d: Duration) {
    sleep_until(deadline_after(d));
}

/// Suspends the calling green thread until `deadline` (at least); other green threads run
/// meanwhile. A deadline in the past is a timer due now, as [`sleep`]`(Duration::ZERO)`.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let deadline = Instant::now() + Duration::from_millis(2);
/// greenthread::sleep_until(deadline);
/// assert!(Instant::now() >= deadline);
/// ```
///
/// # Panics
/// As [`sleep`].
pub fn sleep_until(deadline: Instant) {
    match current::hub() {
        Ok(hub) => hub.sleep_until(deadline),
        Err(_) => {
            let now = Instant::now();
            if deadline > now {
                std::thread::sleep(deadline - now);
            }
        }
    }
}

/// `now + d`, or a century from now if that overflows.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    const YEAR: u64 = 365 * 24 * 3600;
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(100 * YEAR)))
        .or_else(|| now.checked_add(Duration::from_secs(YEAR)))
        .unwrap_or(now)
}

/// Lets every other ready green thread run once, then continues: the cooperative yield.
/// Does nothing if no other green thread is ready (it still picks up due timers and wakes
/// from other OS threads).
///
/// # Python equivalent
/// `gevent.sleep(0)` (a yield to the other ready greenlets). eventlet's `sleep(0)` is a
/// timer that also lets every due timer fire first: that is
/// [`sleep`]`(Duration::ZERO)`.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for name in ["a", "b"] {
///     let log = Rc::clone(&log);
///     greenthread::spawn_n(move || {
///         for i in 0..2 {
///             log.borrow_mut().push(format!("{name}{i}"));
///             greenthread::yield_now();
///         }
///     });
/// }
/// greenthread::sleep(std::time::Duration::from_millis(1));
/// assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
///
/// # Thread-locals: never switch inside a `thread_local!` initializer or destructor
///
/// All green threads of an OS thread share its `thread_local!` values, and std assumes
/// nothing else touches a key while its lazy initializer runs. If green thread A switches
/// inside an initializer and green thread B initialises the same key meanwhile, std later
/// overwrites B's value with A's and drops B's under any reference B still holds: a
/// use-after-free that the compiler cannot catch. So never call anything that may switch
/// (yield, sleep, a contended lock, a wait, I/O) inside a `thread_local!` initializer or
/// destructor. For per-green-thread state, whose initializer may switch, use
/// [`green_local!`](crate::green_local).
///
/// # Panics
/// If the calling green thread has been killed (a kill it caught earlier is raised again
/// here). While this OS thread is panicking, it does nothing.
#[inline]
pub fn yield_now() {
    if let Ok(hub) = current::hub() {
        hub.yield_current();
    }
}

/// A handle to the calling green thread (the main green thread when called outside any
/// spawned one).
///
/// # Python equivalent
/// `eventlet.getcurrent()` / `gevent.getcurrent()`; its [`id`](GreenHandle::id) is
/// `_thread.get_ident()`.
///
/// ```
/// let main = greenthread::current();
/// let child = greenthread::spawn(|| greenthread::current().id());
/// assert_ne!(child.join().unwrap(), main.id());
/// ```
///
/// # Panics
/// If called from a thread-local destructor after this OS thread's hub shut down.
pub fn current() -> GreenHandle {
    match current::hub() {
        Ok(hub) => GreenHandle::new(hub.current_green()),
        Err(_) => panic!("greenthread: {THREAD_EXITING_MSG}"),
    }
}

/// Same as [`current`] (the eventlet/gevent name).
///
/// ```
/// assert_eq!(greenthread::getcurrent(), greenthread::current());
/// ```
///
/// # Panics
/// As [`current`].
pub fn getcurrent() -> GreenHandle {
    current()
}

/// Kills `gt`; see [`GreenThread::kill`].
///
/// # Python equivalent
/// `eventlet.greenthread.kill(g)`.
///
/// ```
/// let gt = greenthread::spawn(|| ());
/// greenthread::kill(&gt);
/// assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
/// ```
///
/// # Panics
/// As [`GreenThread::kill`].
pub fn kill<T: 'static>(gt: &GreenThread<T>) {
    gt.kill();
}

/// A snapshot of every live green thread of this OS thread's hub: id, name, state, what
/// it waits on. `Display` prints one line per green thread.
///
/// ```
/// let _sleeper = greenthread::spawn(|| greenthread::sleep(std::time::Duration::from_secs(1)));
/// greenthread::yield_now();
/// println!("{}", greenthread::dump());
/// assert_eq!(greenthread::dump().green_threads.len(), 2);
/// ```
pub fn dump() -> HubDump {
    match current::hub() {
        Ok(hub) => hub.snapshot(false),
        Err(_) => HubDump {
            hub_id: 0,
            thread_name: None,
            green_threads: Vec::new(),
        },
    }
}

/// Raises the calling green thread's pending interrupt now, if it has one: a kill (see
/// [`GreenThread::kill`]), or, on the main green thread, an [`interrupt_main`] payload.
/// Does nothing otherwise, or while this OS thread is panicking.
///
/// This is a switch point that does not switch: long computations can call it to be
/// killable, and the lock layer calls it after cleaning up from
/// [`ParkError::Interrupted`].
///
/// ```
/// greenthread::sched::check_interrupt(); // nothing pending: returns
/// ```
///
/// # Panics
/// Unwinds with the pending interrupt's payload, which is the point.
pub fn check_interrupt() {
    if let Some(hub) = current::existing() {
        hub.check_interrupt(hub.current_green());
    }
}

/// Ends the calling green thread now: unwinds its stack (destructors run, no panic
/// message) like a kill of itself; its waiters see [`Exit::Killed`]. On the main green
/// thread it unwinds the OS thread's own stack from here.
///
/// The hook for `_thread.exit()`.
///
/// ```
/// let gt = greenthread::spawn(|| {
///     greenthread::sched::exit();
/// });
/// assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
/// ```
///
/// # Panics
/// Always unwinds (that is how it ends the green thread). Under `panic = "abort"` that
/// aborts the process.
pub fn exit() -> ! {
    if let Some(hub) = current::existing() {
        let g = hub.current_green();
        if !g.is_main() {
            g.pending.set(g.pending.get() | green::pending::KILL);
        }
    }
    std::panic::resume_unwind(Box::new(hub::KillUnwind))
}

/// Whether a panic payload caught with [`std::panic::catch_unwind`] is the one a kill (or
/// [`exit`]) unwinds with. Code that catches panics should let this one go on with
/// [`std::panic::resume_unwind`]; if it does not, the kill is raised again at the next
/// switch point anyway.
///
/// ```
/// use std::panic::{catch_unwind, resume_unwind};
///
/// let gt = greenthread::spawn(|| {
///     let r = catch_unwind(|| greenthread::sleep(std::time::Duration::from_secs(60)));
///     if let Err(p) = r {
///         assert!(greenthread::sched::is_kill_payload(&*p));
///         resume_unwind(p);
///     }
/// });
/// greenthread::yield_now();
/// gt.kill();
/// assert!(gt.wait().unwrap_err().exit().unwrap().is_killed());
/// ```
pub fn is_kill_payload(payload: &(dyn Any + Send)) -> bool {
    hub::is_kill_payload(payload)
}

/// Spawns green threads with a name or a stack size, like [`std::thread::Builder`]; its
/// `spawn` methods return an error instead of panicking when no stack can be had.
///
/// ```
/// use greenthread::Builder;
///
/// let gt = Builder::new()
///     .name("parser")
///     .stack_size(64 * 1024)
///     .spawn(|| greenthread::current().name().unwrap().len())
///     .unwrap();
/// assert_eq!(gt.join().unwrap(), 6);
/// ```
#[derive(Debug, Default, Clone)]
#[must_use = "a Builder does nothing until one of its spawn methods is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: usize,
    preserve_fp_env: bool,
}

impl Builder {
    /// A builder for a green thread with no name and the default stack size
    /// ([`stack::DEFAULT_STACK_SIZE`](crate::stack::DEFAULT_STACK_SIZE)).
    ///
    /// ```
    /// let gt = greenthread::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(gt.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the green thread: shown by [`dump`], deadlock reports, the stack-overflow
    /// report and [`GreenHandle::name`].
    ///
    /// ```
    /// let gt = greenthread::Builder::new().name("x").spawn(|| ()).unwrap();
    /// assert_eq!(gt.name(), Some("x"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes, rounded up to whole pages; 0 means the default.
    /// Below [`stack::MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE) (32 KiB) the spawn
    /// fails. The stack costs address space up front and memory only as it is touched.
    ///
    /// ```
    /// let r = greenthread::Builder::new().stack_size(4096).spawn(|| ());
    /// assert!(r.is_err());
    /// ```
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = size;
        self
    }

    /// Whether the green thread keeps its own floating-point control state while other
    /// green threads run (default `false`).
    ///
    /// The control state is the rounding mode, the exception masks and flush-to-zero:
    /// MXCSR bits 6..15 and the x87 control word on x86_64, FPCR on aarch64, `frm` on
    /// riscv64 (status flags are not included). Rust code assumes the default environment,
    /// so code that changes it must normally restore it before any call, and so before any
    /// switch point (`sleep`, a lock, a join...). With `true`, the green thread may stay in
    /// its own environment across switch points: when it switches away, the green thread
    /// that runs next gets the default environment, and its own comes back when it is
    /// resumed. It starts in the default environment. The cost is one read of the control
    /// state per switch away (on x86_64 `stmxcsr` + `fnstcw`, a few nanoseconds) plus the
    /// loads, which run only while its state is not the default. Green threads that did not
    /// opt in pay nothing.
    ///
    /// Resuming a [`Coroutine`](crate::Coroutine) is a call, not a switch point: a green
    /// thread in a non-default environment passes it to a coroutine that did not opt in
    /// ([`CoroutineBuilder::preserve_fp_env`](crate::CoroutineBuilder::preserve_fp_env)).
    ///
    /// ```
    /// let gt = greenthread::Builder::new()
    ///     .preserve_fp_env(true)
    ///     .spawn(|| {
    ///         greenthread::sleep(std::time::Duration::ZERO);
    ///         0.1f64 + 0.2
    ///     })
    ///     .unwrap();
    /// assert_eq!(gt.join().unwrap(), 0.1 + 0.2);
    /// ```
    pub fn preserve_fp_env(mut self, preserve: bool) -> Builder {
        self.preserve_fp_env = preserve;
        self
    }

    fn opts(self, start: Start, detached: bool) -> SpawnOpts {
        SpawnOpts {
            name: self.name,
            preserve_fp_env: self.preserve_fp_env,
            stack_size: self.stack_size,
            start,
            detached,
        }
    }

    fn spawn_with<F, T>(self, f: F, start: Start) -> Result<GreenThread<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let hub = current::hub().map_err(|_| SpawnError::ThreadExiting)?;
        match hub.spawn(f, self.opts(start, false))? {
            Some(gt) => Ok(gt),
            None => unreachable!("a spawn that is not detached returns a handle"),
        }
    }

    /// [`spawn`](fn@spawn) with this builder's settings.
    ///
    /// ```
    /// use greenthread::sched::SpawnError;
    ///
    /// let gt = greenthread::Builder::new().spawn(|| "ok")?;
    /// assert_eq!(gt.join().unwrap(), "ok");
    /// # Ok::<(), SpawnError>(())
    /// ```
    ///
    /// # Errors
    /// - [`SpawnError::Stack`]: the stack size is invalid, or the kernel refused the
    ///   mapping (out of memory, or the process has reached `vm.max_map_count`; see
    ///   [`StackError::is_exhaustion`](crate::StackError::is_exhaustion)).
    /// - [`SpawnError::ThreadExiting`]: called from a thread-local destructor after this
    ///   OS thread's hub shut down.
    pub fn spawn<F, T>(self, f: F) -> Result<GreenThread<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.spawn_with(f, Start::Now)
    }

    /// [`spawn_n`](fn@spawn_n) with this builder's settings.
    ///
    /// ```
    /// greenthread::Builder::new().name("fire-and-forget").spawn_n(|| ()).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub fn spawn_n<F>(self, f: F) -> Result<(), SpawnError>
    where
        F: FnOnce() + 'static,
    {
        let hub = current::hub().map_err(|_| SpawnError::ThreadExiting)?;
        hub.spawn(f, self.opts(Start::Now, true)).map(|_| ())
    }

    /// [`spawn_after`](fn@spawn_after) with this builder's settings.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gt = greenthread::Builder::new()
    ///     .spawn_after(Duration::from_millis(1), || 2)
    ///     .unwrap();
    /// assert_eq!(gt.join().unwrap(), 2);
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub fn spawn_after<F, T>(self, delay: Duration, f: F) -> Result<GreenThread<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let deadline = deadline_after(delay);
        self.spawn_with(
            f,
            Start::At {
                deadline,
                local: false,
            },
        )
    }

    /// [`spawn_after_local`](fn@spawn_after_local) with this builder's settings.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let gt = greenthread::Builder::new()
    ///     .spawn_after_local(Duration::from_millis(1), || 3)
    ///     .unwrap();
    /// assert_eq!(gt.join().unwrap(), 3); // the main green thread is still alive
    /// ```
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn).
    pub fn spawn_after_local<F, T>(
        self,
        delay: Duration,
        f: F,
    ) -> Result<GreenThread<T>, SpawnError>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let deadline = deadline_after(delay);
        self.spawn_with(
            f,
            Start::At {
                deadline,
                local: true,
            },
        )
    }
}

/// How long a hub may sit with nothing runnable, no timer pending and only parks that
/// another OS thread may end, before it prints a stall report: 5 seconds by default.
pub const DEFAULT_STALL_REPORT_AFTER: Duration = Duration::from_secs(5);

/// The stall-report delay in milliseconds; `u64::MAX` means off.
static STALL_REPORT_MS: core::sync::atomic::AtomicU64 =
    core::sync::atomic::AtomicU64::new(DEFAULT_STALL_REPORT_AFTER.as_millis() as u64);

/// Sets (process-wide) how long a hub waits, with nothing runnable, no timer pending and
/// only parks another OS thread may end (waits on shareable locks, joins of nothing, ...),
/// before it prints a **stall report** on stderr: every blocked green thread and what it
/// waits on, each marked "may still be woken from another OS thread". It is printed once
/// per stall and fails no call: such a wait is not provably a deadlock (another OS thread
/// may still release the lock), so, unlike the deadlock report of a local object, it only
/// informs. `None` turns it off. Default: [`DEFAULT_STALL_REPORT_AFTER`].
///
/// gevent raises `LoopExit` and Go prints "all goroutines are asleep" in the provable case;
/// this is the report for the case neither can prove.
///
/// ```
/// use std::time::Duration;
///
/// greenthread::sched::set_stall_report_after(Some(Duration::from_secs(30)));
/// assert_eq!(greenthread::sched::stall_report_after(), Some(Duration::from_secs(30)));
/// greenthread::sched::set_stall_report_after(None); // off
/// assert_eq!(greenthread::sched::stall_report_after(), None);
/// greenthread::sched::set_stall_report_after(Some(greenthread::sched::DEFAULT_STALL_REPORT_AFTER));
/// ```
pub fn set_stall_report_after(after: Option<Duration>) {
    let ms = match after {
        None => u64::MAX,
        Some(d) => u64::try_from(d.as_millis())
            .unwrap_or(u64::MAX - 1)
            .min(u64::MAX - 1),
    };
    STALL_REPORT_MS.store(ms, core::sync::atomic::Ordering::Relaxed);
}

/// The current stall-report delay; `None` when off. See [`set_stall_report_after`].
///
/// ```
/// assert!(greenthread::sched::stall_report_after().is_some()); // on by default
/// ```
pub fn stall_report_after() -> Option<Duration> {
    match STALL_REPORT_MS.load(core::sync::atomic::Ordering::Relaxed) {
        u64::MAX => None,
        ms => Some(Duration::from_millis(ms)),
    }
}
