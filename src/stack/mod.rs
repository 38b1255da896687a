//! Green-thread stacks: guarded memory, a per-OS-thread pool, and a clear report when a
//! green thread overflows its stack.
//!
//! # Layout
//!
//! A [`Stack`]'s lowest page(s) are the *guard*, which faults on any access; everything above
//! is the *usable region*, read-write, whose size ([`Stack::size`]) is the requested size
//! rounded up to whole pages. Stacks grow down, so a green thread that runs out of stack
//! touches the guard and faults instead of silently writing over whatever lies below.
//!
//! Example: `Stack::new(1 << 20)` (1 MiB, the default) with 4 KiB pages at `0x7f3a_2c00_0000`:
//!
//! ```text
//!   0x7f3a_2c10_1000  +-----------------------------+ <- top()     one past the highest usable
//!                     | usable region               |              byte; page (so 16-) aligned
//!                     |   PROT_READ | PROT_WRITE    |
//!                     |   size() = 0x10_0000 bytes  |   the stack grows down from top();
//!                     |   pages are backed lazily,  |   untouched pages cost no memory
//!                     |   on first touch            |
//!   0x7f3a_2c00_1000  +-----------------------------+ <- bottom()  lowest usable byte
//!                     | guard, 4 KiB (guard_size()) |   a write here faults: SIGSEGV/SIGBUS,
//!                     |                             |   reported as "has overflowed its stack"
//!   0x7f3a_2c00_0000  +-----------------------------+
//! ```
//!
//! All memory is anonymous, private and `MAP_NORESERVE`: it reserves address space only, and
//! the kernel hands out physical pages as the green thread first touches them.
//!
//! # Strategies
//!
//! How the memory and the guard are made is chosen once per process ([`strategy`]):
//!
//! - [`StackStrategy::Slab`] (Linux 6.13+): stacks are carved from *slabs*, mappings of about
//!   256 MiB holding thousands of stacks back to back, and each guard is installed with
//!   `madvise(MADV_GUARD_INSTALL)`, a marker in the page tables that does not split the kernel
//!   VMA. A million guarded 64 KiB stacks take a few hundred mappings. A destroyed stack's
//!   pages go back to the OS at once (`MADV_DONTNEED`) and its slot is reused; an empty slab
//!   is unmapped. See `slab.rs`. Support is decided by behaviour, not by `madvise`'s return
//!   value: qemu-user accepts the advice and installs nothing, so a probe checks that the
//!   kernel refuses to read a freshly guarded page.
//! - [`StackStrategy::Mapping`] (everywhere else, or forced with [`STRATEGY_ENV`]`=mapping`):
//!   one mapping per stack (`memmap2`'s `MmapOptions::stack().no_reserve_swap()`) whose guard
//!   is `mprotect`ed to `PROT_NONE`. The guard splits the mapping into two kernel VMAs, which
//!   matters for the `vm.max_map_count` limit (65530 by default on Linux, so about 32,700 live
//!   stacks per process); hitting it makes [`Stack::new`] return [`StackError::Map`] or
//!   [`StackError::Protect`], never abort.
//!
//! Every stack, of either strategy, is registered with valgrind while it exists
//! (`VALGRIND_STACK_REGISTER`, a no-op outside valgrind; see `valgrind.rs`), so memcheck
//! recognises context switches (`scripts/memcheck.sh`).
//!
//! # Sizes
//!
//! - [`MIN_STACK_SIZE`] (32 KiB usable, guard excluded) is the floor Python's
//!   `_thread.stack_size` enforces, and the one gevent, minicoro and may use.
//! - [`DEFAULT_STACK_SIZE`] (1 MiB usable) is what a size of 0 means. See its docs for why.
//!
//! # Pool
//!
//! [`acquire`] and [`release`] keep a bounded LIFO of unused stacks per OS thread, so spawning
//! a green thread in steady state does not enter the kernel. The bound ([`set_pool_capacity`],
//! 128 by default) is the high-water mark: a stack released to a full pool goes back to the OS
//! at once, and [`trim_pool`] gives back what the pool holds.
//!
//! # Overflow reporting
//!
//! [`ensure_thread_ready`] installs, once per process, a `SIGSEGV`/`SIGBUS` handler that runs
//! on an alternate signal stack (installed per OS thread where there is none big enough). When
//! the faulting address lies in the guard of a live [`Stack`], it writes
//!
//! ```text
//! greenthread: green thread 7 'worker' (stack #12, 1048576 bytes) has overflowed its stack
//! fatal runtime error: stack overflow, aborting
//! ```
//!
//! to stderr with `write(2)` alone and aborts. The green-thread ident and name are there when
//! the owner set them ([`Stack::set_ident`], [`Stack::set_name`]). Any other fault is passed to
//! the handler that was installed before ours (Rust's standard library installs one that
//! reports overflows of OS-thread stacks), or, if that was the default action, the default is
//! restored and the faulting instruction re-executes, killing the process as it would have
//! without us.
//!
//! The handler finds "our" stacks through process-global, append-only lists (never freed, so
//! the handler can walk them without locks): one of slab descriptors, whose side tables hold
//! each slot's id, ident and name, and one of registry nodes, one per stack of the mapping
//! strategy, claimed when it is mapped and given back when it is unmapped. Nothing on the
//! context-switch path touches either.
//!
//! The hub unwinds the green threads left at OS-thread exit from a thread-local destructor,
//! after std has removed its alternate signal stack; it holds an alternate stack of its own
//! for that teardown (`teardown_altstack`), so an overflow there is reported the same way.
//!
//! ## Stack probes
//!
//! A single guard page only catches an overflow if every function touches its frame no more
//! than a page at a time. Rust relies on *stack probes* for this: on x86_64 (LLVM 16 and
//! later) and aarch64 (LLVM 18 and later) rustc emits inline probes in every function whose
//! frame is larger than a page, so even a frame far bigger than the guard faults in the guard
//! first (`tests/stack_guard.rs` checks this with a 256 KiB frame on a 64 KiB stack). Where
//! rustc's probe support is not established (every other architecture) the guard is 64 KiB
//! instead of one page. Foreign code compiled without `-fstack-clash-protection` can still
//! jump over the guard with a large enough frame.
//!
//! # Platforms
//!
//! Everything OS-specific (page size, the mapping and its guard, fault handling) is in `imp`:
//!
//! - `unix.rs` (with `mmap.rs`, and `slab.rs` on Linux) for every Unix, macOS included: what
//!   is described above.
//! - `windows.rs` for Windows: one `VirtualAlloc` reservation whose guard is a hard guard page
//!   (never accessible) under a 20 KiB soft guard of `PAGE_GUARD` pages, with the usable region
//!   committed read-write above. Windows has no alternate signal stack, so the overflow's
//!   exception runs on the overflowing stack itself: the soft guard, made accessible by the
//!   kernel's stack-guarantee logic (the context switch swaps the TEB's stack fields, so a green
//!   stack is "the thread's stack" while it runs), is where a vectored exception handler
//!   writes the same report before aborting. The usable region is committed up front, so on
//!   Windows [`Stack::new`] also fails when the system's commit limit is reached. See that
//!   file's docs for the layout.
//! - Other platforms get a stub whose [`Stack::new`] fails with [`StackError::Protect`]
//!   (`Unsupported`); no context-switch backend exists for them either.

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::io;

use static_assertions::const_assert;

// The platform fault handlers use the report; the placeholder platform has none.
#[cfg_attr(not(any(unix, windows)), allow(dead_code))]
mod overflow;
mod pool;
mod registry;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod slab;
mod valgrind;

cfg_if::cfg_if! {
    if #[cfg(unix)] {
        mod mmap;
        mod unix;
        use unix as imp;
        use mmap::Mapping;
    } else if #[cfg(windows)] {
        mod windows;
        use windows as imp;
        use windows::Mapping;
        pub(crate) use windows::teb_limits;
    } else {
        mod mmap;
        mod unsupported;
        use unsupported as imp;
        use mmap::Mapping;
    }
}

#[cfg(test)]
mod tests;

pub use pool::{
    DEFAULT_POOL_CAPACITY, acquire, pool_capacity, pooled_count, release, set_pool_capacity,
    trim_pool,
};

/// The smallest usable stack size accepted, in bytes (the guard is not counted): 32 KiB.
///
/// This is Python's `_thread.stack_size` floor, also used by gevent and minicoro. Code that
/// formats, does I/O through `std`, or is built without optimisations can need much more.
///
/// ```
/// use greenthread::stack::{MIN_STACK_SIZE, Stack, StackError};
///
/// assert!(Stack::new(MIN_STACK_SIZE).is_ok());
/// assert!(matches!(Stack::new(MIN_STACK_SIZE - 1), Err(StackError::TooSmall { .. })));
/// ```
pub const MIN_STACK_SIZE: usize = 32 * 1024;

/// The usable stack size used when 0 is requested, in bytes: 1 MiB.
///
/// The size only reserves address space: pages are backed when first touched and the mapping
/// is made with `MAP_NORESERVE`, so a parked green thread costs the pages it actually used
/// (typically a few KiB), however large its stack. 1 MiB leaves room for what real programs
/// do on a green thread (debug builds, `format!`, `std::io`, a few levels of recursion over
/// moderate frames), matches the default thread stack reserve on Windows, and still lets
/// a million green threads share a 64-bit address space (1 TiB of the 128 TiB a Linux
/// process has). Python uses the OS thread default (8 MiB on Linux) instead.
///
/// The price of a large reservation at very high thread counts is page tables: a parked
/// thread touches the top page of its stack, and each 2 MiB of address space with a touched
/// page costs a 4 KiB page-table page. With 1 MiB stacks that is 2 KiB per parked thread
/// (measured: 4.55 KiB resident + 2.01 KiB page tables each at 100,000), with 64 KiB stacks
/// 0.13 KiB (4.55 + 0.13 KiB each at 1,000,000). The default stays at 1 MiB because running
/// out of stack is fatal while page tables are cheap at ordinary counts; programs that park
/// hundreds of thousands of green threads should ask for smaller stacks (`Builder::stack_size`).
///
/// ```
/// use greenthread::stack::{DEFAULT_STACK_SIZE, Stack};
///
/// assert_eq!(Stack::new(0).unwrap().size(), DEFAULT_STACK_SIZE);
/// ```
pub const DEFAULT_STACK_SIZE: usize = 1024 * 1024;

/// The largest usable stack size accepted, in bytes: 1 TiB on 64-bit targets, 1 GiB on
/// 32-bit ones. Larger requests are [`StackError::TooLarge`] at once, before any system
/// call: no stack that size could be mapped next to the rest of a process (a 64-bit
/// process has 128 TiB of user address space at most, a 32-bit one 3-4 GiB).
///
/// ```
/// use greenthread::stack::{MAX_STACK_SIZE, Stack, StackError};
///
/// assert!(matches!(Stack::new(MAX_STACK_SIZE + 1), Err(StackError::TooLarge { .. })));
/// assert!(matches!(Stack::new(isize::MAX as usize), Err(StackError::TooLarge { .. })));
/// ```
pub const MAX_STACK_SIZE: usize = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// Alignment of [`Stack::top`] guaranteed on every platform, in bytes.
///
/// `top()` is in fact page aligned; this is the alignment every supported ABI requires of the
/// stack pointer at a call.
///
/// ```
/// use greenthread::stack::{STACK_ALIGN, Stack};
///
/// assert_eq!(Stack::new(0).unwrap().top() as usize % STACK_ALIGN, 0);
/// ```
pub const STACK_ALIGN: usize = 16;

// The minimum and default are whole pages for every page size up to 64 KiB, and keep their
// documented values.
const_assert!(MIN_STACK_SIZE == 32 * 1024);
const_assert!(DEFAULT_STACK_SIZE >= MIN_STACK_SIZE);
const_assert!(DEFAULT_STACK_SIZE.is_multiple_of(64 * 1024));
const_assert!(STACK_ALIGN.is_power_of_two());
// A page is at least 4 KiB everywhere we run, so page-aligned tops are STACK_ALIGN-aligned.
const_assert!(4096usize.is_multiple_of(STACK_ALIGN));

/// The least number of guard bytes below each stack: one page where rustc emits stack probes,
/// 64 KiB elsewhere (see "Stack probes" in the module docs), and on Windows a hard guard page
/// plus the soft guard an overflow handler runs in. Rounded up to whole pages.
#[cfg(windows)]
const GUARD_MIN: usize = imp::GUARD_BYTES;
#[cfg(all(not(windows), any(target_arch = "x86_64", target_arch = "aarch64")))]
const GUARD_MIN: usize = 1;
#[cfg(all(
    not(windows),
    not(any(target_arch = "x86_64", target_arch = "aarch64"))
))]
const GUARD_MIN: usize = 64 * 1024;

/// The system page size in bytes (cached after the first call).
///
/// ```
/// let page = greenthread::stack::page_size();
/// assert!(page.is_power_of_two() && page >= 4096);
/// ```
#[inline]
pub fn page_size() -> usize {
    match PAGE_SIZE.load(Ordering::Relaxed) {
        0 => init_page_size(),
        page => page,
    }
}

/// Cache of [`page_size`]; 0 until first queried.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);

#[cold]
#[inline(never)]
fn init_page_size() -> usize {
    let page = imp::query_page_size();
    if !page.is_power_of_two() || page < 4096 {
        crate::fatal::fatal!("the OS reported an unusable page size: {page}");
    }
    PAGE_SIZE.store(page, Ordering::Relaxed);
    page
}

/// Size of the guard below every [`Stack`], in bytes: a whole number of pages.
#[inline]
pub(crate) fn guard_size() -> usize {
    GUARD_MIN.next_multiple_of(page_size())
}

/// The usable size a request for `requested` bytes gets: 0 means [`DEFAULT_STACK_SIZE`], the
/// result is a whole number of pages, and the whole mapping (guard included) fits in `isize`.
#[inline]
pub(crate) fn usable_size(requested: usize) -> Result<usize, StackError> {
    let size = if requested == 0 {
        DEFAULT_STACK_SIZE
    } else {
        requested
    };
    if size < MIN_STACK_SIZE {
        return Err(StackError::TooSmall { requested });
    }
    let page = page_size();
    let too_large = StackError::TooLarge { requested };
    if size > MAX_STACK_SIZE {
        return Err(too_large);
    }
    // `page` is a power of two, so masking after adding `page - 1` rounds up.
    let Some(rounded) = size.checked_add(page - 1).map(|s| s & !(page - 1)) else {
        return Err(too_large);
    };
    match rounded.checked_add(guard_size()) {
        Some(total) if total <= isize::MAX as usize => Ok(rounded),
        _ => Err(too_large),
    }
}

/// Source of [`Stack::id`]: starts at 1 so that 0 never names a stack.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A green-thread stack: one mapping with guard page(s) at the low end and a usable region
/// above, unmapped on drop.
///
/// See the [module docs](self) for the layout. A `Stack` is [`Send`] (it may be created on one
/// OS thread and used on another) but not [`Sync`].
///
/// ```
/// use greenthread::stack::{Stack, page_size};
///
/// let stack = Stack::new(100_000).unwrap();
/// assert_eq!(stack.size() % page_size(), 0);
/// assert!(stack.size() >= 100_000);
/// assert_eq!(stack.top() as usize - stack.bottom() as usize, stack.size());
/// ```
pub struct Stack {
    /// Boxed so that a `Stack` is one pointer: the pool and the scheduler move stacks by
    /// value on every spawn and exit, and a 56-byte move costs more there than the box's
    /// one allocation per mapping (which already costs two system calls).
    inner: Box<Inner>,
    /// `Stack` is `Send` through `Mapping`, but not `Sync`: nothing needs to share one, and
    /// staying `!Sync` keeps the freedom to give it unsynchronised state later.
    _not_sync: PhantomData<Cell<()>>,
}

/// The owned parts of a [`Stack`].
struct Inner {
    mem: Memory,
    id: u64,
    /// Valgrind's id for the usable region (0 outside valgrind); deregistered on drop.
    valgrind_id: usize,
}

/// Where a stack's memory comes from: one code path per [`StackStrategy`].
enum Memory {
    /// Its own mapping ([`StackStrategy::Mapping`]), guard found through a registry node.
    Mapped {
        map: Mapping,
        node: &'static registry::Node,
    },
    /// A slot of a slab ([`StackStrategy::Slab`]); returned to the slab on drop.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Slot(slab::Slot),
}

impl Memory {
    fn top(&self) -> *mut u8 {
        match self {
            Memory::Mapped { map, .. } => map.top(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.top(),
        }
    }

    fn bottom(&self) -> *mut u8 {
        match self {
            Memory::Mapped { map, .. } => map.bottom(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.bottom(),
        }
    }

    fn usable(&self) -> usize {
        match self {
            Memory::Mapped { map, .. } => map.usable(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.usable(),
        }
    }

    #[cfg(test)]
    fn base(&self) -> *mut u8 {
        match self {
            Memory::Mapped { map, .. } => map.base(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.base(),
        }
    }

    fn set_name(&self, name: Option<&str>) {
        match self {
            Memory::Mapped { node, .. } => node.set_name(name),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.set_name(name),
        }
    }

    fn set_ident(&self, ident: Option<u64>) {
        match self {
            Memory::Mapped { node, .. } => node.set_ident(ident),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.set_ident(ident),
        }
    }

    #[inline]
    fn clear_labels(&self) {
        match self {
            Memory::Mapped { node, .. } => node.clear_labels(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(slot) => slot.clear_labels(),
        }
    }
}

impl Stack {
    /// Maps a new stack with at least `size` usable bytes.
    ///
    /// *Preconditions:* `size` is 0 (meaning [`DEFAULT_STACK_SIZE`]) or at least
    /// [`MIN_STACK_SIZE`].
    ///
    /// *Effects:* rounds the size up to whole pages; gets that many bytes plus the guard (one
    /// page on x86_64 and aarch64 Unix, 64 KiB on riscv64, 24 KiB on Windows: see "Stack
    /// probes" and "Platforms" in the module docs) as a slot of a slab or as one anonymous
    /// mapping, following [`strategy`]; makes the guard, at the low end, inaccessible;
    /// registers the guard for the overflow report. On any failure nothing stays mapped or
    /// reserved. This enters the kernel (a slab slot reused after an earlier stack was
    /// destroyed needs no guard install, only the allocator's lock); [`acquire`] reuses
    /// pooled stacks instead.
    ///
    /// ```
    /// use greenthread::stack::{Stack, StackError};
    ///
    /// let stack = Stack::new(64 * 1024)?;
    /// assert_eq!(stack.size(), 64 * 1024);
    /// # Ok::<(), StackError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// - [`StackError::TooSmall`] if `size` is nonzero and below [`MIN_STACK_SIZE`].
    /// - [`StackError::TooLarge`] if rounding `size` up, plus the guard, overflows `isize`.
    /// - [`StackError::Map`] if the kernel refuses the mapping: out of address space or
    ///   memory, `RLIMIT_AS`, or the `vm.max_map_count` limit.
    /// - [`StackError::Protect`] if making the guard inaccessible fails (at the
    ///   `vm.max_map_count` limit the split of the mapping can fail this way; a slab guard
    ///   install can fail when the kernel is out of memory for page tables).
    pub fn new(size: usize) -> Result<Stack, StackError> {
        Stack::with_usable_size(usable_size(size)?)
    }

    /// [`Stack::new`] for a size already checked and rounded by [`usable_size`].
    pub(crate) fn with_usable_size(usable: usize) -> Result<Stack, StackError> {
        let guard = guard_size();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mem = match strategy() {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            StackStrategy::Slab => Memory::Slot(slab::carve(usable, guard, id)?),
            _ => {
                let map = Mapping::new(usable, guard)?;
                let node = registry::register(map.base() as usize, guard, id, usable);
                Memory::Mapped { map, node }
            }
        };
        // Once per stack: a pooled stack stays registered while it waits in the pool (the
        // range is still a stack of ours) and is deregistered only when its mapping or slab
        // slot is given back.
        let valgrind_id = valgrind::register(mem.bottom() as usize, mem.top() as usize);
        Ok(Stack {
            inner: Box::new(Inner {
                mem,
                id,
                valgrind_id,
            }),
            _not_sync: PhantomData,
        })
    }

    /// One past the highest usable byte: where a fresh stack pointer starts. Page aligned,
    /// hence aligned to [`STACK_ALIGN`].
    ///
    /// ```
    /// use greenthread::stack::{STACK_ALIGN, Stack, page_size};
    ///
    /// let stack = Stack::new(0).unwrap();
    /// assert_eq!(stack.top() as usize % page_size(), 0);
    /// assert_eq!(stack.top() as usize % STACK_ALIGN, 0);
    /// ```
    pub fn top(&self) -> *mut u8 {
        self.inner.mem.top()
    }

    /// The lowest usable byte, just above the guard.
    ///
    /// ```
    /// use greenthread::stack::Stack;
    ///
    /// let stack = Stack::new(0).unwrap();
    /// // SAFETY: bottom() is the first byte of the stack's usable, read-write region.
    /// unsafe { stack.bottom().write(1) };
    /// ```
    pub fn bottom(&self) -> *mut u8 {
        self.inner.mem.bottom()
    }

    /// The usable size in bytes (`top() - bottom()`), a whole number of pages; the guard is
    /// not counted.
    ///
    /// ```
    /// use greenthread::stack::{MIN_STACK_SIZE, Stack, page_size};
    ///
    /// let stack = Stack::new(MIN_STACK_SIZE + 1).unwrap();
    /// assert_eq!(stack.size(), (MIN_STACK_SIZE + 1).next_multiple_of(page_size()));
    /// ```
    pub fn size(&self) -> usize {
        self.inner.mem.usable()
    }

    /// A nonzero id for this mapping, unique among all stacks created by this process. It
    /// stays the same while the stack goes through the pool, and appears in the overflow
    /// report as `stack #<id>`.
    ///
    /// ```
    /// use greenthread::stack::Stack;
    ///
    /// let (a, b) = (Stack::new(0).unwrap(), Stack::new(0).unwrap());
    /// assert!(a.id() != 0 && a.id() != b.id());
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Sets the green-thread name shown in the overflow report, or clears it with `None`.
    ///
    /// Names longer than 64 bytes are cut at a character boundary and end with `...`.
    /// [`release`] clears the name.
    ///
    /// ```
    /// use greenthread::stack::Stack;
    ///
    /// let stack = Stack::new(0).unwrap();
    /// stack.set_name(Some("worker-1"));
    /// stack.set_name(None);
    /// ```
    pub fn set_name(&self, name: Option<&str>) {
        self.inner.mem.set_name(name);
    }

    /// Sets the green-thread ident shown in the overflow report (`green thread <ident>`), or
    /// clears it with `None`. [`release`] clears it.
    ///
    /// ```
    /// use greenthread::stack::Stack;
    ///
    /// let stack = Stack::new(0).unwrap();
    /// stack.set_ident(Some(42));
    /// ```
    pub fn set_ident(&self, ident: Option<u64>) {
        self.inner.mem.set_ident(ident);
    }

    /// Clears the name and ident (for [`release`]): two stores, no loop.
    pub(crate) fn clear_labels(&self) {
        self.inner.mem.clear_labels();
    }

    /// Lowest address of the mapping (the start of the guard).
    #[cfg(test)]
    pub(crate) fn base(&self) -> *mut u8 {
        self.inner.mem.base()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Tell valgrind the range stops being a stack before it is given back.
        valgrind::deregister(self.inner.valgrind_id);
        // Forget the guard before the mapping goes (the field drops after this), so the
        // handler never attributes a fault in whatever is mapped there next to this stack.
        // A slab slot withdraws its label itself when dropped, before it is reused.
        match &self.inner.mem {
            Memory::Mapped { node, .. } => registry::unregister(node),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Memory::Slot(_) => {}
        }
    }
}

impl fmt::Debug for Stack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("id", &self.inner.id)
            .field("bottom", &self.bottom())
            .field("top", &self.top())
            .field("size", &self.size())
            .finish()
    }
}

/// How stacks get their memory and guard; chosen once per process, see [`strategy`].
///
/// ```
/// use greenthread::stack::{StackStrategy, strategy};
///
/// match strategy() {
///     StackStrategy::Slab => println!("slab stacks with MADV_GUARD_INSTALL guards"),
///     StackStrategy::Mapping => println!("one mapping and an mprotect'd guard per stack"),
///     _ => {}
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackStrategy {
    /// Stacks carved from large shared mappings, each with a guard region installed by
    /// `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+): about one kernel VMA per few thousand
    /// stacks, so a million guarded stacks fit under the default `vm.max_map_count`.
    Slab,
    /// One mapping per stack with an `mprotect`ed (Windows: `VirtualProtect`ed) guard: two
    /// kernel VMAs per stack on Linux, so about 32,700 live stacks at the default
    /// `vm.max_map_count`. The only strategy on macOS, Windows and kernels without guard
    /// regions, and under emulators that accept the advice without honouring it.
    Mapping,
}

/// Environment variable read once, when the first stack is created: `mapping` forces
/// [`StackStrategy::Mapping`] even where slab stacks would work (for testing the fallback, or
/// to rule the slab path out when debugging). Any other value, or none, lets the runtime
/// choose.
pub const STRATEGY_ENV: &str = "GREENTHREAD_STACK_STRATEGY";

/// 0: undecided; otherwise `1 + StackStrategy as u8`.
static STRATEGY: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

/// The strategy every stack of this process uses, decided on the first call (the first
/// stack created calls it): [`StackStrategy::Slab`] on Linux when a probe shows that guard
/// regions really work (a `write(2)` from a freshly guarded page fails with `EFAULT`) and
/// [`STRATEGY_ENV`] is not `mapping`; [`StackStrategy::Mapping`] otherwise. Never changes
/// afterwards.
///
/// ```
/// use greenthread::stack::{Stack, strategy};
///
/// let s = strategy();
/// let _stack = Stack::new(0).unwrap();
/// assert_eq!(strategy(), s); // decided once
/// ```
pub fn strategy() -> StackStrategy {
    match STRATEGY.load(Ordering::Relaxed) {
        1 => StackStrategy::Slab,
        2 => StackStrategy::Mapping,
        _ => decide_strategy(),
    }
}

#[cold]
#[inline(never)]
fn decide_strategy() -> StackStrategy {
    static DECIDE: std::sync::Once = std::sync::Once::new();
    DECIDE.call_once(|| {
        let forced = std::env::var_os(STRATEGY_ENV).is_some_and(|v| v == "mapping");
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let slab = !forced && slab::probe();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let slab = {
            let _ = forced;
            false
        };
        STRATEGY.store(if slab { 1 } else { 2 }, Ordering::Relaxed);
    });
    match STRATEGY.load(Ordering::Relaxed) {
        1 => StackStrategy::Slab,
        _ => StackStrategy::Mapping,
    }
}

/// Installs what the overflow report needs on the calling OS thread: the process-wide
/// `SIGSEGV`/`SIGBUS` handler (once per process) and an alternate signal stack (once per OS
/// thread, unless the thread already has one big enough).
///
/// The context layer calls this before it first runs code on a green stack on a thread.
/// After the first call on a thread it is a thread-local flag check. If the alternate signal
/// stack cannot be mapped (out of memory), an overflow on that thread still kills the
/// process, by `SIGSEGV` and without the message.
///
/// ```
/// greenthread::stack::ensure_thread_ready();
/// greenthread::stack::ensure_thread_ready(); // cheap from now on
/// ```
pub fn ensure_thread_ready() {
    std::thread_local! {
        static READY: Cell<bool> = const { Cell::new(false) };
    }
    if READY.with(Cell::get) {
        return;
    }
    imp::install_fault_handlers();
    imp::ensure_sigaltstack();
    READY.with(|ready| ready.set(true));
}

/// Keeps an alternate signal stack installed on the calling OS thread while the returned
/// guard lives (Unix; nothing elsewhere), so an overflow during OS-thread-exit teardown is
/// reported like any other.
///
/// std removes the alternate signal stack of its threads before their thread-local
/// destructors run, and the hub unwinds its remaining green threads from one of those. The
/// hub's teardown holds this guard for its whole duration: if the thread has no usable
/// alternate stack at that point, one is mapped and installed, and removed again on drop.
pub(crate) fn teardown_altstack() -> impl Sized {
    cfg_if::cfg_if! {
        if #[cfg(unix)] {
            imp::teardown_altstack()
        } else {
            // Windows reports overflows from the soft guard of the overflowing stack itself.
        }
    }
}

/// Why a stack could not be had.
///
/// ```
/// use greenthread::stack::{Stack, StackError};
///
/// let err = Stack::new(1000).unwrap_err();
/// assert!(matches!(err, StackError::TooSmall { requested: 1000 }));
/// assert_eq!(
///     err.to_string(),
///     "stack size 1000 is below the minimum of 32768 bytes"
/// );
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum StackError {
    /// The requested size is nonzero and below [`MIN_STACK_SIZE`]. Python raises
    /// `ValueError` for this in `_thread.stack_size`.
    TooSmall {
        /// The size that was asked for.
        requested: usize,
    },
    /// The requested size cannot be rounded up to whole pages plus the guard without
    /// overflowing `isize`.
    TooLarge {
        /// The size that was asked for.
        requested: usize,
    },
    /// The kernel refused the mapping: out of memory or address space, `RLIMIT_AS`, or the
    /// map-count limit (`vm.max_map_count` on Linux).
    Map {
        /// The usable size (rounded) of the stack being mapped; the guard comes on top.
        size: usize,
        /// The error `mmap` returned.
        source: io::Error,
    },
    /// Making the guard inaccessible failed; the mapping was removed again.
    Protect {
        /// The usable size (rounded) of the stack being mapped.
        size: usize,
        /// The error `mprotect` returned.
        source: io::Error,
    },
}

impl StackError {
    /// Whether this is the kernel running out of something (memory, address space, map
    /// count) rather than a bad size: retrying later, after other stacks were freed, may
    /// succeed.
    ///
    /// ```
    /// use greenthread::stack::Stack;
    ///
    /// assert!(!Stack::new(1).unwrap_err().is_exhaustion());
    /// ```
    pub fn is_exhaustion(&self) -> bool {
        matches!(self, StackError::Map { .. } | StackError::Protect { .. })
    }
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = |source: &io::Error| {
            if source.kind() == io::ErrorKind::OutOfMemory {
                " (out of memory or address space, or at the map-count limit, vm.max_map_count \
                 on Linux)"
            } else {
                ""
            }
        };
        match self {
            StackError::TooSmall { requested } => write!(
                f,
                "stack size {requested} is below the minimum of {MIN_STACK_SIZE} bytes"
            ),
            StackError::TooLarge { requested } => write!(
                f,
                "stack size {requested} is too large (rounded to whole pages plus the guard page \
                 it exceeds isize::MAX)"
            ),
            // The OS error itself is `source()`, not repeated here.
            StackError::Map { size, source } => {
                write!(f, "cannot map a stack of {size} bytes{}", hint(source))
            }
            StackError::Protect { size, source } => write!(
                f,
                "cannot protect the guard page of a stack of {size} bytes{}",
                hint(source)
            ),
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StackError::Map { source, .. } | StackError::Protect { source, .. } => Some(source),
            StackError::TooSmall { .. } | StackError::TooLarge { .. } => None,
        }
    }
}
