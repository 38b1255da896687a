//! The mapping under a [`Stack`](super::Stack) (and under the alternate signal stack): one
//! anonymous mapping from memmap2 whose low end is made inaccessible.
//!
//! The owning value ([`Mapping`]) exists as soon as the kernel has handed out the region, so
//! when protecting the guard fails, dropping it unmaps the region again (Boost's and
//! corosensei's rule: no failure path may leak a mapping).

use core::ptr::NonNull;

use memmap2::{MmapMut, MmapOptions};

use super::{StackError, imp};

/// An anonymous mapping of `guard + usable` bytes whose lowest `guard` bytes are `PROT_NONE`.
/// Unmapped on drop (by memmap2's `MmapMut`).
pub(crate) struct Mapping {
    /// Lowest address of the mapping (start of the guard). Taken from `MmapMut::as_mut_ptr`
    /// while we held the map mutably, so writes through addresses derived from it are
    /// allowed.
    base: NonNull<u8>,
    /// Guard bytes at the low end; a whole number of pages.
    guard: usize,
    /// Usable bytes above the guard; a whole number of pages.
    usable: usize,
    /// Owns the region; dropping it unmaps `base .. base + guard + usable`.
    _map: MmapMut,
}

// SAFETY: a `Mapping` exclusively owns its region and hands out only addresses; it has no
// thread affinity (munmap may run on any thread), so moving it to another thread is sound.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `guard + usable` bytes and makes the low `guard` bytes inaccessible.
    ///
    /// `usable` and `guard` must be whole pages and their sum must not exceed `isize::MAX`
    /// (checked by `usable_size`); a violation is an internal error.
    ///
    /// # Errors
    ///
    /// [`StackError::Map`] if the mapping fails, [`StackError::Protect`] if the guard
    /// protection fails (the mapping is gone again in that case).
    pub(crate) fn new(usable: usize, guard: usize) -> Result<Mapping, StackError> {
        let page = super::page_size();
        let total = match usable.checked_add(guard) {
            Some(total)
                if usable.is_multiple_of(page)
                    && guard.is_multiple_of(page)
                    && guard > 0
                    && usable > 0 =>
            {
                total
            }
            _ => crate::fatal::fatal!(
                "stack mapping of {usable} usable + {guard} guard bytes is not whole pages"
            ),
        };
        let mut map = MmapOptions::new()
            .len(total)
            .stack()
            .no_reserve_swap()
            .map_anon()
            .map_err(|source| StackError::Map {
                size: usable,
                source,
            })?;
        let Some(base) = NonNull::new(map.as_mut_ptr()) else {
            crate::fatal::fatal!("mmap returned a null mapping");
        };
        // Own the region before anything else can fail: from here on, an early return drops
        // `mapping`, which unmaps it.
        let mapping = Mapping {
            base,
            guard,
            usable,
            _map: map,
        };
        // SAFETY: `base .. base + guard` is the page-aligned start of the mapping we own,
        // which nothing else references yet (protect_none's requirement).
        unsafe { imp::protect_none(base.as_ptr(), guard) }.map_err(|source| {
            StackError::Protect {
                size: usable,
                source,
            }
        })?;
        Ok(mapping)
    }

    /// Lowest address of the mapping: the start of the guard.
    pub(crate) fn base(&self) -> *mut u8 {
        self.base.as_ptr()
    }

    /// Lowest usable byte, just above the guard.
    pub(crate) fn bottom(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard)
    }

    /// One past the highest usable byte.
    pub(crate) fn top(&self) -> *mut u8 {
        self.base.as_ptr().wrapping_add(self.guard + self.usable)
    }

    /// Usable bytes.
    pub(crate) fn usable(&self) -> usize {
        self.usable
    }
}
