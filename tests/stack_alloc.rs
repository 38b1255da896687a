//! Stack allocation: size rules, alignment, the guard page, the pool, and exhaustion.
//!
//! Tests that change process-wide state (pool capacity, resource limits) or that count the
//! process's mappings run in a child process (see `support`), so the test threads running
//! beside them neither disturb them nor are disturbed. Those that read `/proc` run on Linux
//! only; the rest run on every platform.
//!
//! The tests that count mappings or exhaust the map count describe the per-stack mapping
//! strategy, so their children force it ([`FORCE_MAPPING`]); `tests/stack_slab.rs` has the
//! slab strategy's counterparts.

mod support;

use std::hint::black_box;

use greenthread::stack::{
    self, DEFAULT_STACK_SIZE, MIN_STACK_SIZE, STACK_ALIGN, Stack, StackError, StackStrategy,
    page_size,
};

/// The environment that makes a child use one mapping per stack.
const FORCE_MAPPING: &[(&str, &str)] = &[(stack::STRATEGY_ENV, "mapping")];

#[test]
fn below_minimum_is_rejected() {
    let err = Stack::new(32_767).unwrap_err();
    assert!(
        matches!(err, StackError::TooSmall { requested: 32_767 }),
        "{err:?}"
    );
    assert!(!err.is_exhaustion());
    assert!(matches!(
        stack::acquire(32_767),
        Err(StackError::TooSmall { requested: 32_767 })
    ));
    assert!(matches!(
        Stack::new(1),
        Err(StackError::TooSmall { requested: 1 })
    ));
}

#[test]
fn minimum_is_accepted() {
    let stack = Stack::new(32_768).unwrap();
    assert_eq!(stack.size(), 32_768usize.next_multiple_of(page_size()));
    assert_eq!(MIN_STACK_SIZE, 32_768);
}

#[test]
fn zero_means_default() {
    assert_eq!(Stack::new(0).unwrap().size(), DEFAULT_STACK_SIZE);
    assert_eq!(stack::acquire(0).unwrap().size(), DEFAULT_STACK_SIZE);
}

#[test]
fn sizes_round_up_to_whole_pages() {
    let page = page_size();
    for requested in [
        MIN_STACK_SIZE + 1,
        MIN_STACK_SIZE + page - 1,
        MIN_STACK_SIZE + page,
        100_000,
        DEFAULT_STACK_SIZE + 1,
    ] {
        let stack = Stack::new(requested).unwrap();
        assert_eq!(
            stack.size(),
            requested.next_multiple_of(page),
            "{requested}"
        );
        assert_eq!(stack.size() % page, 0);
    }
}

#[test]
fn oversized_requests_are_typed_errors() {
    for requested in [
        usize::MAX,
        usize::MAX - page_size(),
        isize::MAX as usize,
        greenthread::stack::MAX_STACK_SIZE * 2,
        greenthread::stack::MAX_STACK_SIZE + 1,
    ] {
        let err = Stack::new(requested).unwrap_err();
        assert!(
            matches!(err, StackError::TooLarge { requested: r } if r == requested),
            "{requested:#x}: {err:?}"
        );
        assert!(
            !err.is_exhaustion(),
            "a size no stack can have is not exhaustion"
        );
    }
    // The kernel's refusal (`StackError::Map`) is covered by the RLIMIT_AS exhaustion test.
}

#[test]
fn top_and_bottom_are_aligned() {
    let page = page_size();
    for size in [0, MIN_STACK_SIZE, 100_000] {
        let stack = Stack::new(size).unwrap();
        let (top, bottom) = (stack.top() as usize, stack.bottom() as usize);
        assert_eq!(top % page, 0);
        assert_eq!(top % 16, 0);
        assert_eq!(top % STACK_ALIGN, 0);
        assert_eq!(bottom % page, 0);
        assert_eq!(top - bottom, stack.size());
    }
}

#[test]
fn whole_usable_range_is_writable() {
    let stack = Stack::new(0).unwrap();
    let (bottom, top) = (stack.bottom(), stack.top());
    let page = page_size();
    // SAFETY: every address written is in bottom..top, the stack's usable read-write region,
    // which we own and nothing else references.
    unsafe {
        bottom.write_volatile(0xA5);
        top.sub(1).write_volatile(0x5A);
        let mut p = bottom;
        while p < top {
            p.write_volatile(1);
            p = p.add(page);
        }
        assert_eq!(top.sub(1).read_volatile(), 0x5A);
        assert_eq!(bottom.add(page).read_volatile(), 1);
    }
}

#[test]
fn ids_are_unique_and_nonzero() {
    let stacks: Vec<Stack> = (0..16)
        .map(|_| Stack::new(MIN_STACK_SIZE).unwrap())
        .collect();
    let mut ids: Vec<u64> = stacks.iter().map(Stack::id).collect();
    assert!(ids.iter().all(|&id| id != 0));
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), stacks.len());
}

/// A write just below `bottom()` lands in the guard and is reported as an overflow of that
/// stack, naming it, once the handler is installed.
#[test]
fn guard_write_is_reported() {
    if support::is_child() {
        stack::ensure_thread_ready();
        let stack = Stack::new(64 * 1024).unwrap();
        stack.set_name(Some("guard-test"));
        eprintln!("expect: (stack #{}, {} bytes)", stack.id(), stack.size());
        // SAFETY: we are the child process, which is meant to die of this fault.
        unsafe { write_into_guard(&stack) };
        unreachable!("the guard page write did not fault");
    }
    // The default strategy (slab stacks where guard regions work) and the forced fallback.
    for env in [&[][..], FORCE_MAPPING] {
        let out = support::run_in_child_with_env("guard_write_is_reported", env);
        out.assert_aborted();
        let expect = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("expect: "))
            .expect("child printed the stack id")
            .to_owned();
        out.assert_stderr_contains(&format!(
            "greenthread: green thread 'guard-test' {expect} has overflowed its stack"
        ));
        out.assert_stderr_contains("fatal runtime error: stack overflow, aborting");
    }
}

/// Without our handler the guard still faults: the process dies by SIGSEGV (on Windows, of
/// the unhandled guard-page exception).
#[test]
fn guard_write_faults_without_handler() {
    if support::is_child() {
        let stack = Stack::new(64 * 1024).unwrap();
        // SAFETY: we are the child process, which is meant to die of this fault.
        unsafe { write_into_guard(&stack) };
        unreachable!("the guard page write did not fault");
    }
    for env in [&[][..], FORCE_MAPPING] {
        let out = support::run_in_child_with_env("guard_write_faults_without_handler", env);
        #[cfg(unix)]
        out.assert_segfault();
        #[cfg(windows)]
        out.assert_exit_code(support::STATUS_GUARD_PAGE_VIOLATION);
        out.assert_stderr_lacks("greenthread: green thread");
    }
}

/// Writes into the highest guard byte, just below `bottom()`.
///
/// # Safety
///
/// Faults by design; only call in a child process that is meant to die.
unsafe fn write_into_guard(stack: &Stack) {
    let guard_byte = black_box(stack.bottom().wrapping_sub(1));
    // SAFETY: not sound to complete, by design (see above): the write faults first, and the
    // fault kills the process.
    unsafe { guard_byte.write_volatile(1) };
}

#[test]
fn pool_reuses_stacks_of_the_same_size() {
    let a = stack::acquire(0).unwrap();
    let id = a.id();
    stack::release(a);
    let b = stack::acquire(0).unwrap();
    assert_eq!(b.id(), id, "a warm pool hands back the released stack");
    // A different size is not served from the pool.
    stack::release(b);
    let c = stack::acquire(64 * 1024).unwrap();
    assert_ne!(c.id(), id);
    assert_eq!(c.size(), 64 * 1024);
    // Requests that round to the same size share pooled stacks.
    let c_id = c.id();
    stack::release(c);
    let d = stack::acquire(64 * 1024 - 100).unwrap();
    assert_eq!(d.id(), c_id);
}

#[test]
fn pools_are_per_os_thread() {
    let s = stack::acquire(MIN_STACK_SIZE).unwrap();
    let id = s.id();
    stack::release(s);
    let other = std::thread::spawn(|| stack::acquire(MIN_STACK_SIZE).unwrap().id())
        .join()
        .unwrap();
    assert_ne!(other, id);
    assert_eq!(stack::acquire(MIN_STACK_SIZE).unwrap().id(), id);
}

#[test]
fn pool_capacity_is_honoured() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Mapping);
        assert_eq!(stack::pool_capacity(), stack::DEFAULT_POOL_CAPACITY);
        assert_eq!(stack::set_pool_capacity(4), stack::DEFAULT_POOL_CAPACITY);
        let stacks: Vec<Stack> = (0..10).map(|_| stack::acquire(0).unwrap()).collect();
        #[cfg(target_os = "linux")]
        let before = support::map_count();
        for s in stacks {
            stack::release(s);
        }
        assert_eq!(stack::pooled_count(), 4);
        // The 6 stacks beyond the bound were unmapped (2 mappings each: guard + usable).
        #[cfg(target_os = "linux")]
        assert_eq!(support::map_count(), before - 6 * 2);
        // Lowering the bound trims this thread's pool at once.
        assert_eq!(stack::set_pool_capacity(2), 4);
        assert_eq!(stack::pooled_count(), 2);
        assert_eq!(stack::set_pool_capacity(0), 2);
        assert_eq!(stack::pooled_count(), 0);
        stack::release(stack::acquire(0).unwrap());
        assert_eq!(stack::pooled_count(), 0, "capacity 0 disables pooling");
        return;
    }
    support::run_in_child_with_env("pool_capacity_is_honoured", FORCE_MAPPING).assert_success();
}

/// 100,000 acquire/release cycles and 100,000 new/drop cycles leave no mapping behind, and a
/// dropped stack's range is really unmapped.
#[cfg(target_os = "linux")]
#[test]
fn churn_leaves_no_mappings() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Mapping);
        // Warm up everything that maps lazily (the pool's Vec, registry nodes, reading maps).
        stack::release(stack::acquire(0).unwrap());
        stack::release(stack::acquire(MIN_STACK_SIZE).unwrap());
        drop(Stack::new(0).unwrap());
        let before = support::map_count();
        for i in 0..100_000usize {
            let s = stack::acquire(if i % 7 == 0 { MIN_STACK_SIZE } else { 0 }).unwrap();
            black_box(&s);
            stack::release(s);
        }
        for _ in 0..100_000 {
            drop(black_box(Stack::new(0).unwrap()));
        }
        let after = support::map_count();
        assert_eq!(after, before, "the number of mappings changed");

        let s = Stack::new(0).unwrap();
        let range = format!("{:x}-{:x} ", s.bottom() as usize, s.top() as usize);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(maps.contains(&range), "{range} not in maps");
        drop(s);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        assert!(!maps.contains(&range), "dropped stack still mapped");
        return;
    }
    support::run_in_child_with_env("churn_leaves_no_mappings", FORCE_MAPPING).assert_success();
}

/// Exhaustion of the address-space limit: `Stack::new` and `acquire` return a typed error;
/// freeing stacks makes allocation work again.
#[cfg(target_os = "linux")]
#[test]
fn exhaustion_under_rlimit_as_is_an_error() {
    if support::skip_if(
        !rlimit_as_is_enforced(),
        "qemu-user",
        "setrlimit(RLIMIT_AS) has no effect: qemu-user ignores it so as not to limit the \
         emulator's own memory",
    ) {
        return;
    }
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Mapping);
        // Warm the registry's free list so no allocation happens near the limit.
        let warm: Vec<Stack> = (0..256)
            .map(|_| Stack::new(MIN_STACK_SIZE).unwrap())
            .collect();
        drop(warm);
        let mut stacks = Vec::with_capacity(1024);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmSize:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        let limit = (vm_kib + 64 * 1024) * 1024; // 64 MiB of headroom
        // rlim_t is 32 bits wide on 32-bit Arm.
        #[allow(clippy::unnecessary_cast)]
        let rl = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit only reads `rl`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) }, 0);
        let err = loop {
            match stack::acquire(0) {
                Ok(s) => stacks.push(s),
                Err(e) => break e,
            }
            assert!(stacks.len() < 1000, "RLIMIT_AS did not stop mapping");
        };
        eprintln!("after {} stacks: {err}", stacks.len());
        assert!(
            matches!(&err, StackError::Map { source, .. }
                if source.kind() == std::io::ErrorKind::OutOfMemory),
            "{err:?}"
        );
        assert!(err.is_exhaustion());
        assert!(Stack::new(0).is_err());
        stacks.truncate(stacks.len() - 2);
        Stack::new(0).expect("freeing stacks makes room again");
        return;
    }
    let out =
        support::run_in_child_with_env("exhaustion_under_rlimit_as_is_an_error", FORCE_MAPPING);
    out.assert_success();
    out.assert_stderr_contains("cannot map a stack of 1048576 bytes");
}

/// Whether a lowered `RLIMIT_AS` reads back: a no-op under qemu-user, which does not pass
/// `setrlimit(RLIMIT_AS)` on to the host. Sets a 64 TiB soft limit (far above anything the
/// tests map) and restores the previous one.
#[cfg(target_os = "linux")]
// rlim_t is 32 bits wide on 32-bit Arm: the casts are not no-ops everywhere.
#[allow(clippy::unnecessary_cast)]
fn rlimit_as_is_enforced() -> bool {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the structs passed to them.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut old), 0);
        let probe = libc::rlimit {
            // 64 TiB, or the largest finite value where rlim_t is 32 bits wide.
            rlim_cur: (1u64 << 46)
                .min(libc::rlim_t::MAX as u64 - 1)
                .min(old.rlim_max as u64) as libc::rlim_t,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &probe), 0);
        let mut now = old;
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut now), 0);
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &old), 0);
        now.rlim_cur == probe.rlim_cur
    }
}

/// Exhaustion of the kernel's map count (`vm.max_map_count`, 65530 by default: about 32,700
/// guarded stacks): an error comes back, never a crash, and dropping the stacks unmaps them.
#[cfg(target_os = "linux")]
#[test]
fn exhaustion_of_map_count_is_an_error() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Mapping);
        let max: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(usize::MAX);
        if max > 300_000 {
            eprintln!("vm.max_map_count = {max}: too high to exhaust quickly, skipped");
            return;
        }
        // Reserve up front: nothing may need a new mapping once the limit is reached.
        let mut stacks = Vec::with_capacity(max / 2 + 1024);
        let before = support::map_count();
        let err = loop {
            match Stack::new(MIN_STACK_SIZE) {
                Ok(s) => stacks.push(s),
                Err(e) => break e,
            }
            assert!(stacks.len() <= max, "map count limit never reached");
        };
        let count = stacks.len();
        drop(stacks);
        eprintln!("after {count} stacks: {err}");
        assert!(count > max / 4, "failed too early: {count} stacks, {err}");
        match &err {
            StackError::Map { source, .. } | StackError::Protect { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::OutOfMemory, "{err}")
            }
            other => panic!("unexpected error {other:?}"),
        }
        let after = support::map_count();
        if !support::skip_if(
            support::maps_unreliable_under_qemu(),
            "qemu-user",
            "the mapping count of a 32-bit guest is not reliable",
        ) {
            assert!(after <= before, "mappings leaked: {before} -> {after}");
        }
        return;
    }
    let out = support::run_in_child_with_env("exhaustion_of_map_count_is_an_error", FORCE_MAPPING);
    out.assert_success();
    if !out.stderr.contains("skipped") {
        out.assert_stderr_contains("vm.max_map_count");
    }
}
