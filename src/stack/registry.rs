//! Process-global registry of live stacks, readable from a signal handler.
//!
//! The fault handler must decide whether a faulting address lies in the guard of one of our
//! stacks without taking a lock or allocating (neither is async-signal-safe), on any OS
//! thread. So the registry is a singly linked list of [`Node`]s that are never freed and
//! never unlinked: a reader walks it with plain atomic loads, and every field it reads is an
//! atomic. Stacks come and go by *claiming* and *releasing* nodes:
//!
//! - [`register`] (on `Stack::new`) takes a node from the free list, or leaks a new one and
//!   pushes it on the front of the list, fills it in, and publishes it last by storing the
//!   guard's base address (`Release`).
//! - [`unregister`] (on `Stack` drop, before the unmap) stores 0 there, then returns the node
//!   to the free list.
//!
//! Both run under one `Mutex` (the free list); only stack creation and destruction pay for it,
//! never the pool or the context switch. The number of nodes is the peak number of live
//! stacks, 128 bytes each (on 64-bit targets).
//!
//! # Consistency
//!
//! A node's `guard_lo` is the validity flag: 0 means free. [`find`] reads it (`Acquire`),
//! reads the other fields, then reads it again and discards the snapshot if it changed. A
//! fault in a guard page comes from the thread running on that stack, whose owner cannot be
//! unmapping it at the same time, so for the node that matters the snapshot is stable; the
//! re-check only protects against misreading *other* nodes being recycled concurrently.
//! The name bytes are written by the stack's owner (a `Stack` is not `Sync`) while no code
//! runs on the stack, so they are not torn in practice; if they were, the report would show a
//! garbled name, nothing worse.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Bytes of green-thread name kept for the report; longer names are cut and end in `...`.
pub(crate) const NAME_CAP: usize = 64;

/// One registry entry. Lives forever once allocated.
pub(crate) struct Node {
    /// Next node in the list (older nodes); set before the node is published, never changed.
    next: AtomicPtr<Node>,
    /// Next node on the free list; only accessed with [`FREE`] locked.
    free_next: AtomicPtr<Node>,
    /// Lowest address of the stack's guard, or 0 while the node is free.
    guard_lo: AtomicUsize,
    /// Bytes of guard starting at `guard_lo`.
    guard_len: AtomicUsize,
    /// `Stack::id` of the owner.
    id: AtomicU64,
    /// Usable bytes of the owner.
    size: AtomicUsize,
    /// Green-thread ident shown in the report; 0 for none.
    ident: AtomicU64,
    /// Green-thread name shown in the report.
    name: Name,
}

/// A green-thread name for the report, readable from a signal handler: a length and up to
/// [`NAME_CAP`] UTF-8 bytes, all atomics. All zero is "no name", so a zero-filled mapping
/// holds valid, empty `Name`s (the slab side tables rely on this).
#[repr(C)]
pub(crate) struct Name {
    /// Number of valid bytes in `bytes`; 0 for no name.
    len: AtomicUsize,
    /// UTF-8 name bytes (possibly cut, see [`NAME_CAP`]).
    bytes: [AtomicU8; NAME_CAP],
}

impl Name {
    /// An empty name.
    pub(crate) const fn new() -> Name {
        Name {
            len: AtomicUsize::new(0),
            bytes: [const { AtomicU8::new(0) }; NAME_CAP],
        }
    }

    /// Stores `name` (cut to [`NAME_CAP`] bytes at a character boundary, ending in `...`),
    /// or clears it.
    pub(crate) fn set(&self, name: Option<&str>) {
        let name = name.unwrap_or("");
        if name.is_empty() {
            self.clear();
            return;
        }
        let (kept, ellipsis) = if name.len() <= NAME_CAP {
            (name, "")
        } else {
            let mut end = NAME_CAP - 3;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            (&name[..end], "...")
        };
        // Invalidate first so a reader never pairs the new length with old bytes.
        self.len.store(0, Ordering::Relaxed);
        for (slot, byte) in self.bytes.iter().zip(kept.bytes().chain(ellipsis.bytes())) {
            slot.store(byte, Ordering::Relaxed);
        }
        self.len
            .store(kept.len() + ellipsis.len(), Ordering::Release);
    }

    /// Clears the name. Writes only if there is one, so clearing an empty name never dirties
    /// its page (slab side tables stay untouched for unnamed green threads).
    #[inline]
    pub(crate) fn clear(&self) {
        if self.len.load(Ordering::Relaxed) != 0 {
            self.len.store(0, Ordering::Relaxed);
        }
    }

    /// Copies the name out: (bytes, valid length). Async-signal-safe.
    pub(crate) fn snapshot(&self) -> ([u8; NAME_CAP], usize) {
        let len = self.len.load(Ordering::Acquire).min(NAME_CAP);
        let mut out = [0u8; NAME_CAP];
        for (o, slot) in out.iter_mut().zip(&self.bytes).take(len) {
            *o = slot.load(Ordering::Relaxed);
        }
        (out, len)
    }
}

/// Head of the list of all nodes ever allocated (newest first). Written only with [`FREE`]
/// locked; read lock-free by [`find`].
static HEAD: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());

/// The free list: head of a chain through `Node::free_next`.
static FREE: Mutex<FreeList> = Mutex::new(FreeList(ptr::null_mut()));

/// Head of the free list (null when empty).
struct FreeList(*mut Node);

// SAFETY: the pointer is to a leaked, never-freed `Node` (which is `Sync`); it is only
// dereferenced with the mutex held, so moving the list between threads is sound.
unsafe impl Send for FreeList {}

/// Takes a node for a newly mapped stack and publishes its guard range.
pub(crate) fn register(guard_lo: usize, guard_len: usize, id: u64, size: usize) -> &'static Node {
    let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
    let node: &'static Node = if free.0.is_null() {
        let node: &'static Node = Box::leak(Box::new(Node {
            next: AtomicPtr::new(ptr::null_mut()),
            free_next: AtomicPtr::new(ptr::null_mut()),
            guard_lo: AtomicUsize::new(0),
            guard_len: AtomicUsize::new(0),
            id: AtomicU64::new(0),
            size: AtomicUsize::new(0),
            ident: AtomicU64::new(0),
            name: Name::new(),
        }));
        // Appends are serialised by FREE, so a load + store is enough; readers see `next`
        // through the Release store of HEAD.
        node.next
            .store(HEAD.load(Ordering::Relaxed), Ordering::Relaxed);
        HEAD.store(ptr::from_ref(node).cast_mut(), Ordering::Release);
        node
    } else {
        // SAFETY: nodes on the free list are leaked `Box<Node>`s, valid for 'static.
        let node: &'static Node = unsafe { &*free.0 };
        free.0 = node.free_next.load(Ordering::Relaxed);
        node
    };
    drop(free);
    node.guard_len.store(guard_len, Ordering::Relaxed);
    node.id.store(id, Ordering::Relaxed);
    node.size.store(size, Ordering::Relaxed);
    node.ident.store(0, Ordering::Relaxed);
    node.name.clear();
    // Publish: a reader that sees this guard_lo (Acquire) sees the fields above.
    node.guard_lo.store(guard_lo, Ordering::Release);
    node
}

/// Withdraws a stack's guard range (before it is unmapped) and frees its node.
pub(crate) fn unregister(node: &'static Node) {
    node.guard_lo.store(0, Ordering::Release);
    let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
    node.free_next.store(free.0, Ordering::Relaxed);
    free.0 = ptr::from_ref(node).cast_mut();
}

impl Node {
    /// Stores the report name (see `Stack::set_name`).
    pub(crate) fn set_name(&self, name: Option<&str>) {
        self.name.set(name);
    }

    /// Clears name and ident, cheaply (for the pool's release path).
    #[inline]
    pub(crate) fn clear_labels(&self) {
        self.name.clear();
        self.ident.store(0, Ordering::Relaxed);
    }

    /// Stores the report ident (see `Stack::set_ident`); `None` and `Some(0)` mean none.
    pub(crate) fn set_ident(&self, ident: Option<u64>) {
        self.ident.store(ident.unwrap_or(0), Ordering::Relaxed);
    }
}

/// What the overflow report says about the stack whose guard was hit.
#[derive(Clone, Copy)]
pub(crate) struct Hit {
    /// `Stack::id`.
    pub(crate) id: u64,
    /// Usable bytes.
    pub(crate) size: usize,
    /// Green-thread ident, 0 for none.
    pub(crate) ident: u64,
    /// Name bytes; `name[..name_len]` is the name (UTF-8 unless torn, see module docs).
    pub(crate) name: [u8; NAME_CAP],
    /// Valid bytes in `name`.
    pub(crate) name_len: usize,
}

/// Finds the live stack whose guard contains `addr`.
///
/// Async-signal-safe: only atomic loads, no locks, no allocation, no panics.
pub(crate) fn find(addr: usize) -> Option<Hit> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(hit) = super::slab::find(addr) {
        return Some(hit);
    }
    let mut cursor = HEAD.load(Ordering::Acquire);
    while !cursor.is_null() {
        // SAFETY: every pointer in the list is a leaked `Box<Node>` that is never freed, and
        // was published with a Release store that our Acquire loads pair with.
        let node = unsafe { &*cursor };
        if let Some(hit) = node.hit(addr) {
            return Some(hit);
        }
        cursor = node.next.load(Ordering::Acquire);
    }
    None
}

impl Node {
    /// A snapshot of this node if it is live and its guard contains `addr`.
    fn hit(&self, addr: usize) -> Option<Hit> {
        let lo = self.guard_lo.load(Ordering::Acquire);
        if lo == 0 || addr < lo || addr - lo >= self.guard_len.load(Ordering::Relaxed) {
            return None;
        }
        let (name, name_len) = self.name.snapshot();
        let hit = Hit {
            id: self.id.load(Ordering::Relaxed),
            size: self.size.load(Ordering::Relaxed),
            ident: self.ident.load(Ordering::Relaxed),
            name,
            name_len,
        };
        // Re-check: if the node was recycled while we read it, the snapshot may mix owners.
        core::sync::atomic::fence(Ordering::Acquire);
        (self.guard_lo.load(Ordering::Relaxed) == lo).then_some(hit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_sees_only_live_guards() {
        // Addresses in the top half of the address space: no real stack is ever there.
        let lo = usize::MAX - (1 << 20);
        let node = register(lo, 4096, 77, 65536);
        let hit = find(lo).expect("guard base is in the guard");
        assert_eq!(
            (hit.id, hit.size, hit.ident, hit.name_len),
            (77, 65536, 0, 0)
        );
        assert!(find(lo + 4095).is_some());
        assert!(
            find(lo + 4096).is_none(),
            "first usable byte is not the guard"
        );
        assert!(find(lo - 1).is_none());
        unregister(node);
        assert!(find(lo).is_none(), "a freed node must not match");
    }

    #[test]
    fn nodes_are_recycled() {
        let lo = usize::MAX - (4 << 20);
        let a = register(lo, 4096, 1, 1);
        unregister(a);
        let b = register(lo + 8192, 4096, 2, 1);
        // The free list is LIFO and this test holds the only node it just freed, unless
        // another test raced us; either way `b` must be live and `a`'s range dead.
        assert!(find(lo).is_none());
        assert_eq!(find(lo + 8192).map(|h| h.id), Some(2));
        unregister(b);
    }

    #[test]
    fn names_are_cut_at_char_boundaries() {
        let lo = usize::MAX - (8 << 20);
        let node = register(lo, 4096, 3, 1);
        let long = "é".repeat(40); // 80 bytes
        node.set_name(Some(&long));
        let hit = find(lo).unwrap();
        let name = core::str::from_utf8(&hit.name[..hit.name_len]).unwrap();
        assert!(name.ends_with("..."));
        assert!(name.len() <= NAME_CAP);
        assert_eq!(name, format!("{}...", "é".repeat(30)));
        node.set_name(Some("short"));
        node.set_ident(Some(9));
        let hit = find(lo).unwrap();
        assert_eq!(&hit.name[..hit.name_len], b"short");
        assert_eq!(hit.ident, 9);
        node.set_name(None);
        node.set_ident(None);
        let hit = find(lo).unwrap();
        assert_eq!((hit.name_len, hit.ident), (0, 0));
        unregister(node);
    }
}
