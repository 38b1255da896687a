//! Per-OS-thread pool of unused stacks, so that spawning a green thread in steady state costs
//! no system call and no allocation.
//!
//! # Policy
//!
//! - One pool per OS thread (a `thread_local`), matching the one-hub-per-OS-thread design: no
//!   locking, and a stack's touched pages stay warm in the cache of the core that used them.
//! - LIFO: [`acquire`] takes the most recently released stack of the requested (rounded)
//!   size; its top pages are the likeliest to still be resident and in the TLB.
//! - Bounded: at most [`pool_capacity`] stacks per OS thread (default
//!   [`DEFAULT_POOL_CAPACITY`]); [`release`] past that unmaps the stack. The bound is one
//!   process-wide setting applied to every thread's pool.
//! - Pooled stacks keep the pages their last user touched (no `madvise`: that would be a
//!   system call per spawn). The worst case a pool holds resident is therefore capacity x
//!   stack size, for stacks that were used to their full depth.
//! - When the OS thread exits, the pool's destructor unmaps every stack in it.

use core::cell::RefCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::{Stack, StackError, usable_size};

/// Default for [`pool_capacity`]: 128 stacks per OS thread, enough to absorb the spawn/exit
/// churn of a busy hub while bounding what an idle one keeps mapped (128 default stacks are
/// 128 MiB of address space, resident only as far as they were touched).
///
/// ```
/// use greenthread::stack::{DEFAULT_POOL_CAPACITY, pool_capacity};
///
/// assert_eq!(pool_capacity(), DEFAULT_POOL_CAPACITY); // unless changed
/// ```
pub const DEFAULT_POOL_CAPACITY: usize = 128;

/// The per-thread bound, shared by all threads.
static CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_POOL_CAPACITY);

std::thread_local! {
    /// This OS thread's unused stacks with their usable sizes, most recently released last.
    /// The size is kept beside the stack so the search reads one array, not every stack.
    static POOL: RefCell<Vec<(usize, Stack)>> = const { RefCell::new(Vec::new()) };
}

/// Gets a stack of at least `size` usable bytes (0 means the default): from this OS thread's
/// pool if it holds one of the same rounded size, else a new one from [`Stack::new`].
///
/// A pooled stack is handed out as its last user left it: its memory is not cleared.
///
/// ```
/// use greenthread::stack;
///
/// let a = stack::acquire(0).unwrap();
/// let id = a.id();
/// stack::release(a);
/// let b = stack::acquire(0).unwrap(); // the same stack, back from the pool
/// assert_eq!(b.id(), id);
/// ```
///
/// # Errors
///
/// As [`Stack::new`]: a size below the minimum or too large is rejected before the pool is
/// looked at, and a fresh mapping can fail.
pub fn acquire(size: usize) -> Result<Stack, StackError> {
    let usable = usable_size(size)?;
    let pooled = POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let i = pool.iter().rposition(|&(size, _)| size == usable)?;
            Some(pool.swap_remove(i).1)
        })
        .ok()
        .flatten();
    match pooled {
        Some(stack) => Ok(stack),
        None => Stack::with_usable_size(usable),
    }
}

/// Gives a stack back: to this OS thread's pool if it holds fewer than [`pool_capacity`]
/// stacks, else it is unmapped. Its name and ident (for the overflow report) are cleared.
///
/// The caller must be done with everything on the stack: the next [`acquire`] may hand it to
/// a new green thread at once.
///
/// ```
/// use greenthread::stack;
///
/// let s = stack::acquire(64 * 1024).unwrap();
/// stack::release(s);
/// assert!(stack::pooled_count() >= 1);
/// ```
pub fn release(stack: Stack) {
    stack.clear_labels();
    let capacity = CAPACITY.load(Ordering::Relaxed);
    let size = stack.size();
    // A stack the pool does not take (full, or the thread is exiting) is unmapped, out of the
    // pool's borrow.
    if let Ok(Some(rejected)) = POOL.try_with(|pool| match pool.try_borrow_mut() {
        Ok(mut pool) if pool.len() < capacity => {
            pool.push((size, stack));
            None
        }
        _ => Some(stack),
    }) {
        unmap(rejected);
    }
}

/// Drops a stack the pool did not take; out of line, off the hot path.
#[cold]
#[inline(never)]
fn unmap(stack: Stack) {
    drop(stack);
}

/// Sets how many stacks each OS thread's pool may hold and returns the previous bound.
///
/// The setting is process-wide. The calling thread's pool is trimmed to the new bound at
/// once; other threads' pools shrink as their stacks are next acquired (a full pool unmaps
/// what is released to it). 0 disables pooling.
///
/// ```
/// use greenthread::stack;
///
/// let old = stack::set_pool_capacity(4);
/// assert_eq!(stack::pool_capacity(), 4);
/// stack::set_pool_capacity(old);
/// ```
pub fn set_pool_capacity(n: usize) -> usize {
    let old = CAPACITY.swap(n, Ordering::Relaxed);
    let excess = POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            // Keep the most recently released (warmest) stacks.
            let excess = pool.len().saturating_sub(n);
            Some(pool.drain(..excess).collect::<Vec<_>>())
        })
        .ok()
        .flatten();
    drop(excess);
    old
}

/// Gives every stack in the calling OS thread's pool back to the OS and returns how many
/// there were: slab stacks return their pages (`MADV_DONTNEED`, see [`StackStrategy`](
/// super::StackStrategy)) and their slot, per-stack mappings are unmapped. The pool's
/// capacity is unchanged; later releases fill it again.
///
/// The pool is already a high-water mark: past [`pool_capacity`] a released stack goes
/// straight back to the OS. What an idle pool keeps resident is the pages its stacks'
/// last users touched; call this after a burst to give those back too.
///
/// ```
/// use greenthread::stack;
///
/// stack::release(stack::acquire(0).unwrap());
/// assert!(stack::trim_pool() >= 1);
/// assert_eq!(stack::pooled_count(), 0);
/// ```
pub fn trim_pool() -> usize {
    let all = POOL
        .try_with(|pool| {
            pool.try_borrow_mut()
                .ok()
                .map(|mut p| core::mem::take(&mut *p))
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    let n = all.len();
    drop(all);
    n
}

/// The current per-OS-thread pool bound (default [`DEFAULT_POOL_CAPACITY`]).
///
/// ```
/// use greenthread::stack;
///
/// stack::set_pool_capacity(16);
/// assert_eq!(stack::pool_capacity(), 16);
/// ```
pub fn pool_capacity() -> usize {
    CAPACITY.load(Ordering::Relaxed)
}

/// Number of stacks in the calling OS thread's pool. For tests and diagnostics.
///
/// ```
/// let _ = greenthread::stack::pooled_count();
/// ```
#[doc(hidden)]
pub fn pooled_count() -> usize {
    POOL.try_with(|pool| pool.try_borrow().map_or(0, |p| p.len()))
        .unwrap_or(0)
}
