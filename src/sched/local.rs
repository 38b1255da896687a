//! Green-thread-local storage: [`green_local!`](crate::green_local) and [`GreenLocal`].
//!
//! # Why not `thread_local!`
//!
//! A `std::thread_local!` value belongs to the OS thread, so every green thread of a hub
//! shares it. Worse, std's lazy initialisation assumes that nothing else touches a key
//! while its initializer runs: if green thread A switches inside the initializer of key K
//! (a blocking call, a `yield_now`), green thread B can initialise K too and hold a
//! reference into B's value across a switch; when A's initializer finishes, std stores A's
//! value over B's and drops B's value under B's reference (a use-after-free from safe
//! code). std offers no hook to intercept this, so the rule is: **never switch inside a
//! `thread_local!` initializer or destructor** (see `docs/ARCHITECTURE.md`).
//!
//! `green_local!` is the answer for per-green-thread state: each green thread gets its own
//! value, created lazily on first access **on that green thread**, and the initializer may
//! switch, block, or be killed (nobody else ever sees a half-made value: other green
//! threads have their own). The values are dropped on the green thread's own stack when its
//! function finishes (returns, panics or is killed), before its outcome is published, so
//! by the time a waiter or a link sees it finished, its locals are gone. The main green
//! thread's values are dropped when its hub is torn down (OS-thread exit).
//!
//! # Layout
//!
//! Each green thread's control block has a pointer to a `Vec` of slots, indexed by a
//! process-wide key number each `GreenLocal` takes on first use. A value is boxed, so it
//! never moves while a reference to it is lent out, even when the vector grows because
//! the same green thread initialises another key inside `with`. Only the owning green
//! thread reads or writes its slots: no atomics, no locks on the access path beyond one
//! TLS load (the hub pointer).

use core::any::Any;
use core::cell::Cell;
use core::fmt;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::current;
use super::green::Green;

/// One green thread's values, by key number.
pub(crate) type Locals = Vec<Slot>;

/// A slot of [`Locals`].
pub(crate) enum Slot {
    /// Never initialised, or dropped.
    Empty,
    /// Its initializer is running on this green thread (a nested access is a bug, as for
    /// `thread_local!`).
    Initializing,
    /// The value.
    Value(Box<dyn Any>),
}

/// Source of key numbers; 0 means "not assigned yet" in [`GreenLocal::key`].
static NEXT_KEY: AtomicUsize = AtomicUsize::new(1);

/// A green-thread-local value, declared with [`green_local!`](crate::green_local): every
/// green thread (the main one of each OS thread included) has its own, created on its
/// first access from that green thread and dropped when that green thread finishes.
///
/// Unlike `std::thread_local!`, the initializer may switch (sleep, block on a lock, spawn
/// and wait), and green threads of one OS thread never share a value.
///
/// `GreenLocal<T>` is `Send + Sync` whatever `T` is (it is a `static` holding only the
/// initializer and a key number); values never leave the green thread that made them,
/// and [`with`](Self::with) lends them by reference for the closure's duration only.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// greenthread::green_local! {
///     /// How many requests this green thread has served.
///     static SERVED: Cell<u32> = Cell::new(0);
/// }
///
/// let workers: Vec<_> = (0..3)
///     .map(|n| {
///         greenthread::spawn(move || {
///             for _ in 0..=n {
///                 SERVED.with(|s| s.set(s.get() + 1));
///                 greenthread::yield_now(); // the others run meanwhile, with their own
///             }
///             SERVED.with(Cell::get)
///         })
///     })
///     .collect();
/// let served: Vec<u32> = workers.into_iter().map(|w| w.join().unwrap()).collect();
/// assert_eq!(served, [1, 2, 3]);
/// assert_eq!(SERVED.with(Cell::get), 0); // the main green thread's own value
/// ```
///
/// The initializer may block; a green thread racing it gets its own value:
///
/// ```
/// use std::time::Duration;
///
/// greenthread::green_local! {
///     static CONN: String = {
///         greenthread::sleep(Duration::from_millis(1)); // e.g. a connect
///         format!("connection of green thread {}", greenthread::getcurrent().id())
///     };
/// }
///
/// let a = greenthread::spawn(|| CONN.with(|c| c.clone()));
/// let b = greenthread::spawn(|| CONN.with(|c| c.clone()));
/// let (a_id, b_id) = (a.id(), b.id());
/// assert_eq!(a.join().unwrap(), format!("connection of green thread {a_id}"));
/// assert_eq!(b.join().unwrap(), format!("connection of green thread {b_id}"));
/// ```
pub struct GreenLocal<T: 'static> {
    init: fn() -> T,
    /// Key number, assigned on first use (0: not yet).
    key: AtomicUsize,
}

/// The error of [`GreenLocal::try_with`]: the value cannot be reached now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalAccessError {
    /// This OS thread's hub has been torn down (a thread-local destructor runs after it).
    HubGone,
    /// Accessed from inside its own initializer on the same green thread.
    Recursive,
}

impl fmt::Display for LocalAccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocalAccessError::HubGone => {
                "cannot access a green-local value: this OS thread's hub has been torn down"
            }
            LocalAccessError::Recursive => {
                "cannot access a green-local value from inside its own initializer"
            }
        })
    }
}

impl std::error::Error for LocalAccessError {}

impl<T: 'static> GreenLocal<T> {
    /// A key whose values are made by `init`. Used by [`green_local!`](crate::green_local);
    /// `const`, so it can initialise a `static`.
    ///
    /// ```
    /// static COUNT: greenthread::GreenLocal<u8> = greenthread::GreenLocal::new(|| 7);
    /// assert_eq!(COUNT.with(|c| *c), 7);
    /// ```
    pub const fn new(init: fn() -> T) -> GreenLocal<T> {
        GreenLocal {
            init,
            key: AtomicUsize::new(0),
        }
    }

    /// This key's number, assigned on first use.
    fn key(&self) -> usize {
        // Relaxed: the number is only an index; any thread that loses the race below
        // reads the winner's number through the compare-exchange.
        let k = self.key.load(Ordering::Relaxed);
        if k != 0 {
            return k - 1;
        }
        let new = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        match self
            .key
            .compare_exchange(0, new, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => new - 1,
            Err(won) => won - 1,
        }
    }

    /// Calls `f` with the running green thread's value, creating it first (with the
    /// initializer, which may switch) if this green thread has none yet.
    ///
    /// ```
    /// greenthread::green_local!(static NAME: String = String::from("anonymous"));
    /// assert_eq!(NAME.with(|n| n.len()), 9);
    /// ```
    ///
    /// # Panics
    /// If the value cannot be reached ([`try_with`](Self::try_with) says why), or if the
    /// initializer panics (the slot stays empty; the next access tries again).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`with`](Self::with), but returns an error instead of panicking when the value
    /// cannot be reached.
    ///
    /// ```
    /// greenthread::green_local!(static N: u32 = 1);
    /// assert_eq!(N.try_with(|n| *n + 1), Ok(2));
    /// ```
    ///
    /// # Errors
    /// [`LocalAccessError::HubGone`] from a thread-local destructor that runs after this OS
    /// thread's hub was torn down; [`LocalAccessError::Recursive`] from inside this key's
    /// own initializer on the same green thread.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, LocalAccessError> {
        let hub = current::hub().map_err(|_| LocalAccessError::HubGone)?;
        let g = hub.current_green();
        let key = self.key();
        let value = match lookup::<T>(g, key)? {
            Some(v) => v,
            None => self.initialize(g, key),
        };
        // SAFETY: `value` points into a box owned by this green thread's slot `key`, which
        // is only emptied when this green thread has finished running user code (`drop_all`,
        // called after its function returned or unwound) or by this function's own failure
        // path, never while a `with` of this green thread is on its stack; the box's
        // contents do not move when the slot vector grows.
        Ok(f(unsafe { &*value }))
    }

    /// Runs the initializer for slot `key` of `g` (the running green thread) and stores
    /// the value; returns a pointer to it.
    #[cold]
    fn initialize(&'static self, g: &Green, key: usize) -> *const T {
        set_slot(g, key, Slot::Initializing);
        /// Empties the slot again if the initializer unwinds (panic, kill).
        struct Reset<'a>(&'a Green, usize);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                set_slot(self.0, self.1, Slot::Empty);
            }
        }
        let reset = Reset(g, key);
        let boxed = Box::new((self.init)());
        core::mem::forget(reset);
        let p: *const T = &*boxed;
        set_slot(g, key, Slot::Value(boxed));
        p
    }
}

impl<T: 'static> fmt::Debug for GreenLocal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenLocal")
            .field("type", &core::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

/// The value of slot `key` of `g`, if made; an error if its initializer is running.
fn lookup<T: 'static>(g: &Green, key: usize) -> Result<Option<*const T>, LocalAccessError> {
    let p = g.locals.get();
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: `g.locals` is either null or a `Box<Locals>` owned by `g`, touched only by
    // `g` itself (the running green thread), and no reference into the vector is held
    // across user code (see `try_with`).
    let locals = unsafe { &*p };
    match locals.get(key) {
        None | Some(Slot::Empty) => Ok(None),
        Some(Slot::Initializing) => Err(LocalAccessError::Recursive),
        Some(Slot::Value(b)) => match b.downcast_ref::<T>() {
            Some(v) => Ok(Some(v)),
            None => crate::fatal::fatal!("green-local slot {key} holds another type"),
        },
    }
}

/// Stores `slot` at `key` in `g`'s locals (creating them), dropping what was there.
fn set_slot(g: &Green, key: usize, slot: Slot) {
    let mut p = g.locals.get();
    if p.is_null() {
        p = Box::into_raw(Box::new(Locals::new()));
        g.locals.set(p);
    }
    // SAFETY: as in `lookup`; the mutable borrow ends before anything user-defined runs
    // (the old slot is moved out and dropped after it).
    let old = unsafe {
        let locals = &mut *p;
        if locals.len() <= key {
            locals.resize_with(key + 1, || Slot::Empty);
        }
        core::mem::replace(&mut locals[key], slot)
    };
    drop(old);
}

/// Drops every green-local value of `g`, the running green thread (or, at teardown, the
/// main one), in key order. A destructor may access green-locals again (making new
/// values); those are dropped in a further round, up to a bound after which they are
/// leaked rather than loop forever. A destructor that panics is reported by `report`
/// and the others still run.
pub(crate) fn drop_all(g: &Cell<*mut Locals>, report: &mut dyn FnMut(Box<dyn Any + Send>)) {
    for _ in 0..8 {
        let p = g.replace(core::ptr::null_mut());
        if p.is_null() {
            return;
        }
        // SAFETY: taken out of the green thread's field, which now holds null: we own the
        // box and nothing else can reach it.
        let locals = unsafe { Box::from_raw(p) };
        for slot in locals.into_iter() {
            if let Slot::Value(v) = slot
                && let Err(payload) =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(v)))
            {
                report(payload);
            }
        }
    }
    // Still refilled after 8 rounds: leak what is left (the pointer is dropped without
    // freeing the box), as std does for thread-locals that keep coming back.
    g.set(core::ptr::null_mut());
}

/// Declares green-thread-local statics: each green thread gets its own value, made lazily
/// by the initializer expression on first access (which may switch), and dropped when the
/// green thread finishes. Syntax as `std::thread_local!`; each item becomes a
/// `static NAME: `[`GreenLocal<T>`](crate::GreenLocal).
///
/// ```
/// use std::cell::RefCell;
///
/// greenthread::green_local! {
///     static LOG: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
///     pub(crate) static DEPTH: std::cell::Cell<u32> = std::cell::Cell::new(0);
/// }
///
/// LOG.with(|l| l.borrow_mut().push("main"));
/// greenthread::spawn(|| LOG.with(|l| assert!(l.borrow().is_empty()))).join().unwrap();
/// assert_eq!(LOG.with(|l| l.borrow().len()), 1);
/// ```
#[macro_export]
macro_rules! green_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::GreenLocal<$t> = $crate::GreenLocal::new({
            fn __green_local_init() -> $t {
                $init
            }
            __green_local_init
        });
        $crate::green_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::green_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
