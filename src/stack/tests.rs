//! Unit tests of the stack layer that need private access.

use super::*;

#[test]
fn usable_size_rules() {
    let page = page_size();
    assert_eq!(usable_size(0).unwrap(), DEFAULT_STACK_SIZE);
    assert!(matches!(
        usable_size(MIN_STACK_SIZE - 1),
        Err(StackError::TooSmall { requested }) if requested == MIN_STACK_SIZE - 1
    ));
    assert_eq!(
        usable_size(MIN_STACK_SIZE).unwrap(),
        MIN_STACK_SIZE.next_multiple_of(page)
    );
    assert_eq!(
        usable_size(MIN_STACK_SIZE + 1).unwrap(),
        (MIN_STACK_SIZE + 1).next_multiple_of(page)
    );
    for huge in [
        usize::MAX,
        usize::MAX - page + 1,
        isize::MAX as usize,
        1 << (usize::BITS - 1),
    ] {
        assert!(
            matches!(usable_size(huge), Err(StackError::TooLarge { requested }) if requested == huge),
            "{huge:#x}"
        );
    }
}

#[test]
fn guard_is_whole_pages_below_bottom() {
    let stack = Stack::new(0).unwrap();
    let guard = guard_size();
    assert!(guard >= page_size() && guard.is_multiple_of(page_size()));
    assert_eq!(stack.base() as usize + guard, stack.bottom() as usize);
}

#[test]
fn registry_tracks_the_guard_while_mapped() {
    let stack = Stack::new(0).unwrap();
    let base = stack.base() as usize;
    let hit = registry::find(base).expect("a live stack's guard is registered");
    assert_eq!((hit.id, hit.size), (stack.id(), stack.size()));
    assert!(registry::find(base + guard_size() - 1).is_some());
    assert!(registry::find(stack.bottom() as usize).is_none());
    stack.set_name(Some("w"));
    stack.set_ident(Some(3));
    let hit = registry::find(base).unwrap();
    assert_eq!((&hit.name[..hit.name_len], hit.ident), (&b"w"[..], 3));
    drop(stack);
    // The node may be reused by a concurrent test, but never for this range with the old id.
    assert!(registry::find(base).is_none_or(|h| h.id != hit.id));
}

#[test]
fn release_clears_report_labels() {
    let stack = Stack::new(MIN_STACK_SIZE).unwrap();
    stack.set_name(Some("old"));
    stack.set_ident(Some(5));
    let base = stack.base() as usize;
    let id = stack.id();
    release(stack);
    // Still pooled on this thread (the default capacity is far above what tests hold).
    if let Some(hit) = registry::find(base).filter(|h| h.id == id) {
        assert_eq!((hit.name_len, hit.ident), (0, 0));
    }
}

/// The guard really is inaccessible and the usable region read-write, per the kernel.
#[cfg(target_os = "linux")]
#[test]
fn kernel_sees_guard_and_usable_region() {
    // qemu-user reserves a 32-bit guest's whole address space as one PROT_NONE host mapping
    // and lists the guest's PROT_NONE guard merged with it (or not at all): nothing to read.
    if cfg!(target_pointer_width = "32")
        && std::env::var("GREENTHREAD_TEST_RUNNER").is_ok_and(|r| r.contains("qemu"))
    {
        eprintln!("SKIPPED under qemu-user: kernel_sees_guard_and_usable_region: 32-bit guest");
        return;
    }
    let stack = Stack::new(64 * 1024).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let find = |lo: usize, hi: usize| {
        maps.lines()
            .find_map(|line| {
                let (range, rest) = line.split_once(' ')?;
                let (a, b) = range.split_once('-')?;
                let a = usize::from_str_radix(a, 16).ok()?;
                let b = usize::from_str_radix(b, 16).ok()?;
                (a <= lo && hi <= b).then(|| rest[..4].to_string())
            })
            .unwrap_or_default()
    };
    let base = stack.base() as usize;
    match strategy() {
        // One mapping per stack: the guard is a PROT_NONE mapping of its own.
        StackStrategy::Mapping => {
            assert_eq!(find(base, stack.bottom() as usize), "---p");
            assert_eq!(find(stack.bottom() as usize, stack.top() as usize), "rw-p");
        }
        // A slab: guard and stack lie in one read-write mapping; the guard is a marker in
        // the page tables, which the kernel itself refuses to read from.
        StackStrategy::Slab => {
            assert_eq!(find(base, stack.top() as usize), "rw-p");
            assert_eq!(kernel_can_read(base), Err(libc::EFAULT));
            assert_eq!(kernel_can_read(stack.bottom() as usize), Ok(()));
        }
    }
}

/// Whether `write(2)` can read a byte at `addr` (into a pipe): the kernel's view of a page.
#[cfg(target_os = "linux")]
fn kernel_can_read(addr: usize) -> Result<(), i32> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the kernel validates the source address itself; the pipe is ours.
    let n = unsafe { libc::write(fds[1], addr as *const libc::c_void, 1) };
    let err = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: both descriptors were created above and are closed once.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    if n == 1 { Ok(()) } else { Err(err) }
}

static_assertions::assert_impl_all!(Stack: Send, core::fmt::Debug);
static_assertions::assert_not_impl_any!(Stack: Sync);
static_assertions::assert_impl_all!(StackError: Send, Sync, std::error::Error);
// One pointer: the pool and the scheduler move stacks by value on every spawn.
static_assertions::assert_eq_size!(Stack, usize);
