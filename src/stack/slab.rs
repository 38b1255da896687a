//! Slab stacks (Linux 6.13+): many stacks carved from one large mapping, each with a guard
//! region installed by `madvise(MADV_GUARD_INSTALL)`, which marks pages in the page tables
//! without splitting the kernel VMA.
//!
//! # Why
//!
//! A per-stack mapping with an `mprotect`ed guard page is two VMAs, so the default
//! `vm.max_map_count` (65530) stops a process at about 32,700 live stacks. A slab of a few
//! thousand stacks is one VMA whatever the number of guards in it, so a million guarded stacks
//! cost a few hundred VMAs.
//!
//! # Layout
//!
//! A slab for stacks of `usable` bytes with a `guard`-byte guard (the same sizes as the
//! per-stack strategy, see the module docs of `stack`) is one anonymous private
//! `MAP_NORESERVE` mapping:
//!
//! ```text
//!   base + n*stride + labels   +------------------------------+
//!                              | names: n x 72 B  (Name)      |  touched only for named
//!   base + n*stride            | labels: n x 16 B (id, ident) |  green threads / every live one
//!                              +------------------------------+
//!                              | slot n-1: usable | guard     |
//!                              |   ...                        |
//!   base + stride              +------------------------------+
//!                              | slot 0: usable region        |  <- top of slot 0
//!                              |         guard region (MADV_GUARD_INSTALL)
//!   base                       +------------------------------+
//! ```
//!
//! `stride = guard + usable`; slot `i`'s guard starts at `base + i*stride`. A guard is
//! installed when its slot is first handed out and stays installed (guard markers survive
//! `MADV_DONTNEED`) until the slab is unmapped. The side tables at the top hold, per slot,
//! what the overflow report prints: the stack's id and green-thread ident (16 bytes, written
//! for every live stack) and its name (72 bytes, written only if the green thread is named;
//! clearing an empty name writes nothing, so an unnamed thread never dirties that page).
//!
//! # Lifecycle
//!
//! - [`carve`] takes a free slot of the requested size class (most recently freed first),
//!   else the next never-used slot of the newest slab, else maps a new slab. One process-wide
//!   mutex guards the bookkeeping; it is taken only when a stack is created or destroyed,
//!   never on the pool's reuse path.
//! - Dropping a [`Slot`] (the `Stack` left the pool, or the pool was full or trimmed) returns
//!   its dirty pages with `MADV_DONTNEED` (`MADV_FREE` would leave them counted in `VmRSS`)
//!   and puts the slot on its slab's free list. A slab whose slots are all free is unmapped,
//!   side tables and page tables with it, unless it is the one its class carves new slots
//!   from.
//!
//! # Overflow report
//!
//! Every slab descriptor ever created is on a lock-free, append-only list of leaked
//! descriptors (recycled, never freed), like the per-stack registry. [`find`], called from
//! the fault handler, walks it with atomic loads: an address in the slot range of a live slab
//! whose offset within its slot is below `guard`, in a slot whose label has a nonzero id, is
//! an overflow of that stack; the label and name are read from the side tables. No lock, no
//! allocation.
//!
//! # Support, decided by behaviour
//!
//! Kernels before 6.13 reject advice 102 with `EINVAL`. qemu-user (which runs the aarch64 and
//! riscv64 CI) accepts it and does nothing, which would leave every stack unguarded. So
//! [`probe`] installs a guard on a scratch page and checks that the kernel refuses to read it:
//! `write(2)` from the guarded page into a pipe must fail with `EFAULT`, and from the page
//! above it must succeed. Anything else selects the per-stack mappings. The choice is made
//! once per process (see `stack::strategy`).

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::io;
use std::sync::{Mutex, PoisonError};

use super::registry::{Hit, Name};
use super::{StackError, page_size};

/// `MADV_GUARD_INSTALL` (Linux 6.13): install guard markers over a range.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Address space a slab aims for: 256 MiB, i.e. about 3,800 stacks of 64 KiB or 255 of
/// 1 MiB, so a million 64 KiB stacks take about 260 slabs (VMAs).
const SLAB_BYTES: usize = 256 << 20;
/// Bounds on the slots in one slab.
const MAX_SLOTS: usize = 1 << 16;

/// Per-slot label in the side table. All zero means "no live stack here".
#[repr(C)]
struct Label {
    /// `Stack::id` of the live stack in the slot; 0 while the slot is free.
    id: AtomicU64,
    /// Green-thread ident for the report; 0 for none.
    ident: AtomicU64,
}

/// One slab, as the fault handler sees it. Leaked on creation and recycled, never freed.
pub(crate) struct Slab {
    /// Next descriptor ever created (older); set before publication, never changed.
    next: AtomicPtr<Slab>,
    /// Lowest address of the mapping; 0 while the descriptor is not in use. Published last.
    base: AtomicUsize,
    /// Number of slots.
    slots: AtomicUsize,
    /// Bytes per slot: guard + usable.
    stride: AtomicUsize,
    /// Guard bytes at the low end of each slot.
    guard: AtomicUsize,
    /// Usable bytes of each slot.
    usable: AtomicUsize,
    /// Address of the `Label` array.
    labels: AtomicUsize,
    /// Address of the `Name` array.
    names: AtomicUsize,
    /// Length of the whole mapping.
    len: AtomicUsize,
    /// Index of this slab's bookkeeping in `Alloc::states`; only touched with `ALLOC` held.
    state: AtomicUsize,
}

/// Head of the list of every descriptor ever created (newest first).
static HEAD: AtomicPtr<Slab> = AtomicPtr::new(ptr::null_mut());

/// Bookkeeping behind [`carve`] and slot release.
static ALLOC: Mutex<Alloc> = Mutex::new(Alloc {
    states: Vec::new(),
    free_states: Vec::new(),
    classes: Vec::new(),
    free_descs: Vec::new(),
});

struct Alloc {
    /// Per-slab state, indexed by `Slab::state`; `None` once the slab is unmapped.
    states: Vec<Option<State>>,
    /// Indices of `None` entries in `states`.
    free_states: Vec<usize>,
    /// One entry per stack size in use.
    classes: Vec<Class>,
    /// Descriptors of unmapped slabs, for reuse.
    free_descs: Vec<&'static Slab>,
}

/// The slabs of one usable size.
struct Class {
    usable: usize,
    /// The slab new slots are carved from (`State::fresh < slots`), if any.
    bump: Option<usize>,
    /// Slabs with freed slots, most recently listed last.
    with_free: Vec<usize>,
}

/// Bookkeeping of one live slab.
struct State {
    desc: &'static Slab,
    /// Index of its class in `Alloc::classes`.
    class: usize,
    /// Freed slots (guard installed, pages returned), reused most recent first.
    free: Vec<u32>,
    /// Slots `fresh..` have never been handed out (no guard installed yet).
    fresh: usize,
    /// Slots currently handed out.
    live: usize,
    /// Whether this slab is on its class's `with_free` list.
    listed: bool,
}

// SAFETY: `Alloc` holds only `&'static Slab` (whose fields are atomics, so `Slab` is `Sync`)
// and plain data; it is only used behind `ALLOC`.
unsafe impl Send for Alloc {}

/// A stack slot handed out by [`carve`]: returned to its slab when dropped.
pub(crate) struct Slot {
    slab: &'static Slab,
    index: usize,
    /// Lowest usable byte.
    bottom: *mut u8,
    usable: usize,
}

// SAFETY: a `Slot` exclusively owns its slot's memory and label and hands out addresses
// only; releasing it (Drop) is valid on any thread, under the allocator's mutex.
unsafe impl Send for Slot {}

impl Slot {
    #[cfg(test)]
    /// Lowest address of the slot: the start of its guard.
    pub(crate) fn base(&self) -> *mut u8 {
        self.bottom
            .wrapping_sub(self.slab.guard.load(Ordering::Relaxed))
    }

    /// Lowest usable byte.
    pub(crate) fn bottom(&self) -> *mut u8 {
        self.bottom
    }

    /// One past the highest usable byte.
    pub(crate) fn top(&self) -> *mut u8 {
        self.bottom.wrapping_add(self.usable)
    }

    /// Usable bytes.
    pub(crate) fn usable(&self) -> usize {
        self.usable
    }

    fn label(&self) -> &'static Label {
        // SAFETY: the label array holds `slots` entries, `index < slots`, and lives as long
        // as the slab, which outlives every slot handed out from it.
        unsafe { label_at(self.slab, self.index) }
    }

    fn name(&self) -> &'static Name {
        // SAFETY: as for `label`.
        unsafe { name_at(self.slab, self.index) }
    }

    /// Sets the report ident (`None` or 0 for none).
    pub(crate) fn set_ident(&self, ident: Option<u64>) {
        self.label()
            .ident
            .store(ident.unwrap_or(0), Ordering::Relaxed);
    }

    /// Sets the report name.
    pub(crate) fn set_name(&self, name: Option<&str>) {
        self.name().set(name);
    }

    /// Clears ident and name; writes the name's page only if a name was set.
    #[inline]
    pub(crate) fn clear_labels(&self) {
        self.label().ident.store(0, Ordering::Relaxed);
        self.name().clear();
    }
}

/// The label of slot `i` of `slab`.
///
/// # Safety
///
/// `slab` must be live (mapped) for the returned lifetime as used, and `i < slots`.
unsafe fn label_at(slab: &Slab, i: usize) -> &'static Label {
    let addr = slab.labels.load(Ordering::Relaxed) + i * size_of::<Label>();
    // SAFETY: the caller guarantees the slab is mapped and `i` in range; the side table is
    // zero-filled or written only through atomics, and all-zero is a valid `Label`.
    unsafe { &*(addr as *const Label) }
}

/// The name of slot `i` of `slab`.
///
/// # Safety
///
/// As for [`label_at`].
unsafe fn name_at(slab: &Slab, i: usize) -> &'static Name {
    let addr = slab.names.load(Ordering::Relaxed) + i * size_of::<Name>();
    // SAFETY: as in `label_at`; all-zero is a valid (empty) `Name`.
    unsafe { &*(addr as *const Name) }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let label = self.label();
        // Withdraw the label first, so the fault handler no longer attributes this slot.
        label.id.store(0, Ordering::Release);
        label.ident.store(0, Ordering::Relaxed);
        self.name().clear();
        // Return the pages (the guard stays installed). Failure only means the memory stays
        // resident until the slot is reused or the slab unmapped.
        // SAFETY: the usable range is ours, page aligned, and nothing references it any more
        // (the stack is being destroyed); DONTNEED on private anonymous memory refills it
        // with zeros on the next touch.
        unsafe { libc::madvise(self.bottom.cast(), self.usable, libc::MADV_DONTNEED) };
        let mut alloc = ALLOC.lock().unwrap_or_else(PoisonError::into_inner);
        alloc.release(self.slab, self.index);
    }
}

/// Carves a stack of `usable` bytes (whole pages) with a `guard`-byte guard below it, and
/// labels it with `id`.
///
/// # Errors
///
/// [`StackError::Map`] if a new slab cannot be mapped, [`StackError::Protect`] if the guard
/// cannot be installed.
pub(crate) fn carve(usable: usize, guard: usize, id: u64) -> Result<Slot, StackError> {
    let mut alloc = ALLOC.lock().unwrap_or_else(PoisonError::into_inner);
    let (slab, index) = alloc.take(usable, guard)?;
    drop(alloc);
    let stride = guard + usable;
    let base = slab.base.load(Ordering::Relaxed) + index * stride;
    let slot = Slot {
        slab,
        index,
        bottom: (base + guard) as *mut u8,
        usable,
    };
    // Publish the label: from here on a fault in this slot's guard is reported.
    slot.label().ident.store(0, Ordering::Relaxed);
    slot.label().id.store(id, Ordering::Release);
    Ok(slot)
}

impl Alloc {
    /// A slot of the class: reused, fresh (guard installed now), or from a new slab.
    fn take(&mut self, usable: usize, guard: usize) -> Result<(&'static Slab, usize), StackError> {
        let class = match self.classes.iter().position(|c| c.usable == usable) {
            Some(c) => c,
            None => {
                self.classes.push(Class {
                    usable,
                    bump: None,
                    with_free: Vec::new(),
                });
                self.classes.len() - 1
            }
        };
        // 1. A freed slot (guard already installed).
        while let Some(&si) = self.classes[class].with_free.last() {
            let Some(state) = self.states.get_mut(si).and_then(Option::as_mut) else {
                self.classes[class].with_free.pop();
                continue;
            };
            match state.free.pop() {
                Some(i) => {
                    if state.free.is_empty() {
                        state.listed = false;
                        self.classes[class].with_free.pop();
                    }
                    state.live += 1;
                    return Ok((state.desc, i as usize));
                }
                None => {
                    state.listed = false;
                    self.classes[class].with_free.pop();
                }
            }
        }
        // 2. A never-used slot of the newest slab, else a new slab.
        let si = match self.classes[class].bump {
            Some(si)
                if self.states[si]
                    .as_ref()
                    .is_some_and(|s| s.fresh < slots_of(s)) =>
            {
                si
            }
            _ => {
                let si = self.new_slab(class, usable, guard)?;
                self.classes[class].bump = Some(si);
                si
            }
        };
        let Some(state) = self.states[si].as_mut() else {
            crate::fatal::fatal!("slab state vanished while carving");
        };
        let i = state.fresh;
        let stride = guard + usable;
        let lo = state.desc.base.load(Ordering::Relaxed) + i * stride;
        // SAFETY: `lo .. lo + guard` is page aligned, inside the slab we own, and not
        // handed out to anyone (slot `i` is fresh), so revoking access breaks no reference.
        if unsafe { libc::madvise(lo as *mut libc::c_void, guard, MADV_GUARD_INSTALL) } != 0 {
            return Err(StackError::Protect {
                size: usable,
                source: io::Error::last_os_error(),
            });
        }
        state.fresh += 1;
        state.live += 1;
        Ok((state.desc, i))
    }

    /// Maps a new slab for `class` and returns its state index.
    fn new_slab(&mut self, class: usize, usable: usize, guard: usize) -> Result<usize, StackError> {
        let page = page_size();
        let stride = guard + usable;
        let slots = (SLAB_BYTES / stride).clamp(1, MAX_SLOTS);
        let map_err = |source| StackError::Map {
            size: usable,
            source,
        };
        let too_large = || map_err(io::Error::from(io::ErrorKind::OutOfMemory));
        let stacks_len = slots.checked_mul(stride).ok_or_else(too_large)?;
        let labels_len = (slots * size_of::<Label>()).next_multiple_of(page);
        let names_len = (slots * size_of::<Name>()).next_multiple_of(page);
        let len = stacks_len
            .checked_add(labels_len + names_len)
            .filter(|&l| l <= isize::MAX as usize)
            .ok_or_else(too_large)?;
        // SAFETY: an anonymous private mapping at an address the kernel chooses: no
        // existing memory is affected.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(map_err(io::Error::last_os_error()));
        }
        let base = base as usize;
        let si = match self.free_states.pop() {
            Some(si) => si,
            None => {
                self.states.push(None);
                self.states.len() - 1
            }
        };
        let desc: &'static Slab = match self.free_descs.pop() {
            Some(d) => d,
            None => {
                let d: &'static Slab = Box::leak(Box::new(Slab {
                    next: AtomicPtr::new(ptr::null_mut()),
                    base: AtomicUsize::new(0),
                    slots: AtomicUsize::new(0),
                    stride: AtomicUsize::new(0),
                    guard: AtomicUsize::new(0),
                    usable: AtomicUsize::new(0),
                    labels: AtomicUsize::new(0),
                    names: AtomicUsize::new(0),
                    len: AtomicUsize::new(0),
                    state: AtomicUsize::new(0),
                }));
                // Appends are serialised by ALLOC; readers see `next` through HEAD's Release.
                d.next
                    .store(HEAD.load(Ordering::Relaxed), Ordering::Relaxed);
                HEAD.store(ptr::from_ref(d).cast_mut(), Ordering::Release);
                d
            }
        };
        desc.slots.store(slots, Ordering::Relaxed);
        desc.stride.store(stride, Ordering::Relaxed);
        desc.guard.store(guard, Ordering::Relaxed);
        desc.usable.store(usable, Ordering::Relaxed);
        desc.labels.store(base + stacks_len, Ordering::Relaxed);
        desc.names
            .store(base + stacks_len + labels_len, Ordering::Relaxed);
        desc.len.store(len, Ordering::Relaxed);
        desc.state.store(si, Ordering::Relaxed);
        // Publish: a reader that sees `base` (Acquire) sees the fields above.
        desc.base.store(base, Ordering::Release);
        self.states[si] = Some(State {
            desc,
            class,
            free: Vec::new(),
            fresh: 0,
            live: 0,
            listed: false,
        });
        Ok(si)
    }

    /// Takes slot `index` of `slab` back; unmaps the slab if it is empty and not its class's
    /// carving slab.
    fn release(&mut self, slab: &'static Slab, index: usize) {
        let si = slab.state.load(Ordering::Relaxed);
        let Some(state) = self.states.get_mut(si).and_then(Option::as_mut) else {
            crate::fatal::fatal!("released a slot of an unknown slab");
        };
        state.live -= 1;
        let class = state.class;
        if state.live == 0 && self.classes[class].bump != Some(si) {
            self.classes[class].with_free.retain(|&s| s != si);
            self.states[si] = None;
            self.free_states.push(si);
            let base = slab.base.load(Ordering::Relaxed);
            let len = slab.len.load(Ordering::Relaxed);
            // Withdraw the descriptor before the memory goes.
            slab.base.store(0, Ordering::Release);
            // SAFETY: the slab's mapping is ours and no slot of it is handed out any more.
            unsafe { libc::munmap(base as *mut libc::c_void, len) };
            self.free_descs.push(slab);
            return;
        }
        state.free.push(index as u32);
        if !state.listed {
            state.listed = true;
            self.classes[class].with_free.push(si);
        }
    }
}

fn slots_of(state: &State) -> usize {
    state.desc.slots.load(Ordering::Relaxed)
}

/// Finds the live slab stack whose guard contains `addr`.
///
/// Async-signal-safe: atomic loads only, no locks, no allocation, no panics.
pub(crate) fn find(addr: usize) -> Option<Hit> {
    let mut cursor = HEAD.load(Ordering::Acquire);
    while !cursor.is_null() {
        // SAFETY: every pointer in the list is a leaked `Box<Slab>`, never freed, published
        // with a Release store that our Acquire loads pair with.
        let slab = unsafe { &*cursor };
        cursor = slab.next.load(Ordering::Acquire);
        let base = slab.base.load(Ordering::Acquire);
        if base == 0 || addr < base {
            continue;
        }
        let stride = slab.stride.load(Ordering::Relaxed);
        let slots = slab.slots.load(Ordering::Relaxed);
        let off = addr - base;
        if stride == 0 || off / stride >= slots {
            continue;
        }
        if off % stride >= slab.guard.load(Ordering::Relaxed) {
            return None; // In a usable region: not an overflow.
        }
        let i = off / stride;
        // SAFETY: the slab is live (`base` nonzero) and `i < slots`. A guard hit comes from
        // the thread running on that slot's stack, so the slab cannot be unmapped under us.
        let (label, name) = unsafe { (label_at(slab, i), name_at(slab, i)) };
        let id = label.id.load(Ordering::Acquire);
        if id == 0 {
            return None; // A free slot: no stack of ours runs there.
        }
        let (name, name_len) = name.snapshot();
        let hit = Hit {
            id,
            size: slab.usable.load(Ordering::Relaxed),
            ident: label.ident.load(Ordering::Relaxed),
            name,
            name_len,
        };
        core::sync::atomic::fence(Ordering::Acquire);
        return (slab.base.load(Ordering::Relaxed) == base).then_some(hit);
    }
    None
}

/// Whether `madvise(MADV_GUARD_INSTALL)` really installs guards here: a guard on a scratch
/// page must make `write(2)` from that page fail with `EFAULT`, and the page above must stay
/// readable by the kernel.
pub(crate) fn probe() -> bool {
    let page = page_size();
    // SAFETY: a fresh anonymous mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return false;
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let piped = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == 0;
    let works = piped && {
        // SAFETY: `p` is our page-aligned scratch mapping, referenced by nothing.
        let installed = unsafe { libc::madvise(p, page, MADV_GUARD_INSTALL) } == 0;
        installed && {
            // SAFETY: writes from our own mapping to our own pipe; the kernel validates the
            // source range itself (that is the point: it must refuse the guarded page).
            let guarded = unsafe { libc::write(fds[1], p, 1) };
            let err = io::Error::last_os_error().raw_os_error();
            // SAFETY: as above; the page above the guard is ordinary memory.
            let above = unsafe { libc::write(fds[1], p.cast::<u8>().add(page).cast(), 1) };
            guarded == -1 && err == Some(libc::EFAULT) && above == 1
        }
    };
    if piped {
        // SAFETY: both descriptors were created above and are closed once.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
    // SAFETY: the scratch mapping is ours and nothing references it.
    unsafe { libc::munmap(p, 2 * page) };
    works
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_matches_the_kernel() {
        // On this crate's Linux CI kernel (6.18) guards work natively; under qemu-user the
        // advice is accepted but ignored, and the probe must say no. Either way it must
        // agree with what a real write into a guarded page does, which is checked in the
        // child-process tests (tests/stack_slab.rs).
        let _ = probe();
    }

    #[test]
    fn slots_reuse_freed_ones_first() {
        if !probe() {
            return;
        }
        let page = page_size();
        let usable = 40 * page; // a size class of its own in this test binary
        let a = carve(usable, page, 1).unwrap();
        let b = carve(usable, page, 2).unwrap();
        assert!(core::ptr::eq(a.slab, b.slab));
        assert_eq!(b.index, a.index + 1);
        assert_eq!(a.top() as usize + page, b.bottom() as usize);
        let (slab, ia) = (a.slab, a.index);
        drop(a);
        let c = carve(usable, page, 3).unwrap();
        assert!(
            core::ptr::eq(c.slab, slab) && c.index == ia,
            "freed slot reused"
        );
        // Labels reach the report lookup; a free slot's guard does not.
        c.set_ident(Some(5));
        c.set_name(Some("x"));
        let hit = find(c.base() as usize).expect("guard of a live slot");
        assert_eq!((hit.id, hit.ident, hit.size), (3, 5, usable));
        assert_eq!(&hit.name[..hit.name_len], b"x");
        assert!(find(c.bottom() as usize).is_none());
        let b_guard = b.base() as usize;
        drop(b);
        assert!(find(b_guard).is_none(), "freed slot is not reported");
        drop(c);
    }
}
