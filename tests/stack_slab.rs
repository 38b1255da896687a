//! The two stack strategies (issue 13): slab stacks with `MADV_GUARD_INSTALL` guard regions,
//! chosen by behaviour, and the per-stack mapping fallback, forced with
//! `GREENTHREAD_STACK_STRATEGY=mapping`. Everything that depends on the strategy runs in a
//! child process, where the strategy is decided afresh.

mod support;

use std::hint::black_box;
use std::time::Duration;

use greenthread::stack::{self, STRATEGY_ENV, StackStrategy};
#[cfg(target_os = "linux")]
use greenthread::stack::{Stack, StackError};

/// The environment that makes a child use one mapping per stack.
const FORCE_MAPPING: &[(&str, &str)] = &[(STRATEGY_ENV, "mapping")];

static_assertions::assert_impl_all!(
    StackStrategy: Send,
    Sync,
    Copy,
    Eq,
    core::hash::Hash,
    core::fmt::Debug
);

/// A field of `/proc/self/status`, in KiB.
#[cfg(target_os = "linux")]
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Mappings of at least 200 MiB: slabs (about 256 MiB each), nothing else this test maps.
#[cfg(target_os = "linux")]
fn slab_sized_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            let range = l.split(' ').next().unwrap_or("");
            let (a, b) = range.split_once('-').unwrap_or(("0", "0"));
            let a = usize::from_str_radix(a, 16).unwrap_or(0);
            let b = usize::from_str_radix(b, 16).unwrap_or(0);
            b.saturating_sub(a) >= 200 << 20
        })
        .count()
}

/// Skips (returning true) when this process does not use slab stacks: kernels before 6.13,
/// other OSes, and emulators that ignore guard regions.
fn not_slab() -> bool {
    support::skip_if(
        stack::strategy() != StackStrategy::Slab,
        "qemu-user, Windows, macOS or Linux before 6.13",
        "slab stacks need MADV_GUARD_INSTALL guard regions that really fault; the \
         per-stack mapping strategy is in use",
    )
}

/// The strategy follows the kernel's behaviour, not `madvise`'s return value: slab stacks
/// exactly when a write into a freshly guarded page really faults.
#[cfg(target_os = "linux")]
#[test]
fn strategy_is_slab_exactly_when_guards_work() {
    if support::is_child() {
        if std::env::var_os("PROBE_GUARD").is_some() {
            let page = stack::page_size();
            // SAFETY: a fresh private anonymous mapping; nothing else uses it.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(p, libc::MAP_FAILED);
            // SAFETY: advice on our own scratch page (102 = MADV_GUARD_INSTALL).
            let rc = unsafe { libc::madvise(p, page, 102) };
            eprintln!("madvise returned {rc}");
            // SAFETY: the child is meant to die here if the guard works.
            unsafe { p.cast::<u8>().write_volatile(1) };
            eprintln!("no guard");
            return;
        }
        eprintln!("strategy: {:?}", stack::strategy());
        return;
    }
    let raw = support::run_in_child_with_env(
        "strategy_is_slab_exactly_when_guards_work",
        &[("PROBE_GUARD", "1")],
    );
    let guards_work = raw.status.code().is_none();
    if guards_work {
        raw.assert_segfault();
    } else {
        raw.assert_stderr_contains("no guard");
    }
    let chosen = support::run_in_child("strategy_is_slab_exactly_when_guards_work");
    chosen.assert_success();
    let expect = if guards_work { "Slab" } else { "Mapping" };
    chosen.assert_stderr_contains(&format!("strategy: {expect}\n"));
    let forced =
        support::run_in_child_with_env("strategy_is_slab_exactly_when_guards_work", FORCE_MAPPING);
    forced.assert_stderr_contains("strategy: Mapping\n");
}

/// Ten thousand slab stacks add a handful of mappings (not 20,000), and dropping them all
/// gives every slab back.
#[cfg(target_os = "linux")]
#[test]
fn slab_stacks_share_mappings() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Slab);
        let before = support::map_count();
        let stacks: Vec<Stack> = (0..10_000)
            .map(|_| Stack::new(64 * 1024).unwrap())
            .collect();
        let during = support::map_count();
        eprintln!("mappings: {before} -> {during}");
        assert!(during - before <= 8, "{before} -> {during}");
        // Every stack is distinct, page aligned and of the requested size.
        let mut bottoms: Vec<usize> = stacks.iter().map(|s| s.bottom() as usize).collect();
        bottoms.sort_unstable();
        bottoms.dedup();
        assert_eq!(bottoms.len(), stacks.len());
        assert!(stacks.iter().all(|s| s.size() == 64 * 1024));
        drop(stacks);
        let after = support::map_count();
        assert!(after <= before + 1, "slabs kept: {before} -> {after}");
        return;
    }
    if not_slab() {
        return;
    }
    support::run_in_child("slab_stacks_share_mappings").assert_success();
}

/// Slab stacks made on several OS threads at once and destroyed on another one: every stack
/// is distinct, and once all are gone the slabs are unmapped again (no slot or slab leaks
/// through the shared allocator).
#[cfg(target_os = "linux")]
#[test]
fn slab_stacks_move_between_threads() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Slab);
        // OS threads map things of their own (thread stacks glibc caches, a malloc arena per
        // thread), so count only mappings of slab size (256 MiB; arenas are 64 MiB).
        let before = slab_sized_mappings();
        let (tx, rx) = std::sync::mpsc::channel::<Stack>();
        let makers: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        let s = Stack::new(128 * 1024).unwrap();
                        s.set_ident(Some(i));
                        tx.send(s).unwrap();
                        // Churn on this thread too, racing the receiver's drops.
                        drop(Stack::new(128 * 1024).unwrap());
                    }
                })
            })
            .collect();
        drop(tx);
        let mut kept = Vec::new();
        for (i, s) in rx.iter().enumerate() {
            if i % 2 == 0 {
                kept.push(s);
            }
        }
        for m in makers {
            m.join().unwrap();
        }
        let mut bottoms: Vec<usize> = kept.iter().map(|s| s.bottom() as usize).collect();
        bottoms.sort_unstable();
        bottoms.dedup();
        assert_eq!(bottoms.len(), 10_000);
        drop(kept);
        let after = slab_sized_mappings();
        assert!(after <= before + 1, "slabs kept: {before} -> {after}");
        return;
    }
    if not_slab() {
        return;
    }
    support::run_in_child("slab_stacks_move_between_threads").assert_success();
}

/// A slab stack's pages go back to the OS when it is destroyed: the next stack carved in the
/// same slot reads zeros, and its pages are not resident.
#[cfg(target_os = "linux")]
#[test]
fn destroyed_slab_stack_returns_its_pages() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Slab);
        let page = stack::page_size();
        let a = Stack::new(256 * 1024).unwrap();
        let (bottom, size) = (a.bottom(), a.size());
        // SAFETY: the stack's usable region is ours to write.
        unsafe { core::ptr::write_bytes(bottom, 0xa5, size) };
        drop(a);
        let b = Stack::new(256 * 1024).unwrap();
        assert_eq!(b.bottom(), bottom, "the freed slot is reused first");
        let mut resident = vec![0u8; size / page];
        // SAFETY: `b`'s range is mapped; `resident` has one byte per page.
        let rc = unsafe { libc::mincore(bottom.cast(), size, resident.as_mut_ptr()) };
        assert_eq!(rc, 0);
        assert!(resident.iter().all(|r| r & 1 == 0), "pages still resident");
        // SAFETY: the range is `b`'s usable region.
        let bytes = unsafe { core::slice::from_raw_parts(bottom, size) };
        assert!(bytes.iter().all(|&x| x == 0), "old contents survived");
        return;
    }
    if not_slab() {
        return;
    }
    support::run_in_child("destroyed_slab_stack_returns_its_pages").assert_success();
}

/// `trim_pool` gives pooled stacks' memory back, for both strategies: resident memory falls
/// by (nearly) all the pages the pooled stacks had touched.
#[cfg(target_os = "linux")]
#[test]
fn trim_pool_returns_memory() {
    if support::is_child() {
        eprintln!("strategy: {:?}", stack::strategy());
        stack::release(stack::acquire(64 * 1024).unwrap());
        stack::trim_pool();
        let stacks: Vec<Stack> = (0..100)
            .map(|_| stack::acquire(64 * 1024).unwrap())
            .collect();
        for s in &stacks {
            // SAFETY: the top 32 KiB of the usable region are ours to write.
            unsafe { core::ptr::write_bytes(s.top().sub(32 * 1024), 1, 32 * 1024) };
        }
        for s in stacks {
            stack::release(s);
        }
        assert_eq!(stack::pooled_count(), 100);
        let before = status_kib("VmRSS:");
        assert_eq!(stack::trim_pool(), 100);
        assert_eq!(stack::pooled_count(), 0);
        let after = status_kib("VmRSS:");
        eprintln!("VmRSS {before} -> {after} KiB");
        // 100 x 32 KiB were touched; at least 90% of it must be gone.
        assert!(
            before - after.min(before) >= 2880,
            "{before} -> {after} KiB"
        );
        return;
    }
    for env in [&[][..], FORCE_MAPPING] {
        let out = support::run_in_child_with_env("trim_pool_returns_memory", env);
        out.assert_success();
    }
}

/// Address-space exhaustion with slab stacks is a typed error, and freeing stacks (their
/// slabs) makes room again.
#[cfg(target_os = "linux")]
#[test]
fn slab_exhaustion_under_rlimit_as_is_an_error() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Slab);
        let mut stacks = Vec::with_capacity(4096);
        // Warm up: the first slab of the class and the allocator's tables.
        stacks.push(Stack::new(0).unwrap());
        let vm_kib = status_kib("VmSize:");
        let limit = (vm_kib + 64 * 1024) * 1024; // 64 MiB of headroom: less than one slab
        let rl = libc::rlimit {
            rlim_cur: limit as libc::rlim_t,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit only reads `rl`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) }, 0);
        let err = loop {
            match Stack::new(0) {
                Ok(s) => stacks.push(s),
                Err(e) => break e,
            }
            assert!(stacks.len() < 4096, "RLIMIT_AS did not stop mapping");
        };
        eprintln!("after {} stacks: {err}", stacks.len());
        assert!(
            matches!(&err, StackError::Map { source, .. }
                if source.kind() == std::io::ErrorKind::OutOfMemory),
            "{err:?}"
        );
        assert!(err.is_exhaustion());
        stacks.pop();
        Stack::new(0).expect("a freed slot makes room again");
        return;
    }
    if not_slab() {
        return;
    }
    if support::skip_if(
        std::env::var_os("GREENTHREAD_TEST_RUNNER").is_some(),
        "qemu-user",
        "setrlimit(RLIMIT_AS) has no effect under qemu-user",
    ) {
        return;
    }
    let out = support::run_in_child("slab_exhaustion_under_rlimit_as_is_an_error");
    out.assert_success();
}

/// Recurses forever with a 256-byte frame the optimiser cannot remove.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 256];
    frame[0] = depth as u8;
    black_box(&mut frame);
    recurse(depth + 1).wrapping_add(u64::from(frame[1]))
}

/// Parks `n` named green threads on 64 KiB stacks, then makes number `n * 2 / 3` overflow.
fn overflow_one_of(n: usize) -> ! {
    let victim = n * 2 / 3;
    eprintln!("strategy: {:?}", stack::strategy());
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let gt = greenthread::Builder::new()
            .name(format!("worker-{i}"))
            .stack_size(64 * 1024)
            .spawn(move || {
                greenthread::sleep(Duration::from_millis(if i == victim {
                    1
                } else {
                    3_600_000
                }));
                if i == victim {
                    recurse(0);
                }
            })
            .unwrap_or_else(|e| panic!("spawn {i}: {e}"));
        handles.push(gt);
    }
    eprintln!("spawned {n}");
    greenthread::sleep(Duration::from_secs(3600));
    unreachable!("no overflow");
}

/// Overflow in one of 100,000 live slab stacks names that green thread.
#[test]
fn overflow_in_one_of_100k_slab_threads_names_it() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Slab);
        overflow_one_of(100_000);
    }
    if not_slab() {
        return;
    }
    let out = support::run_in_child("overflow_in_one_of_100k_slab_threads_names_it");
    out.assert_aborted();
    out.assert_stderr_contains("strategy: Slab\n");
    out.assert_stderr_contains("spawned 100000\n");
    out.assert_stderr_contains("'worker-66666' (stack #");
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack\n");
}

/// Live threads for the fallback's test: the default `vm.max_map_count` (65530) allows about
/// 32,700 stacks of one mapping plus guard each on Linux; Windows commits every stack's usable
/// region up front, and Wine's commit limit stops near 26,000 such 64 KiB stacks.
const MAPPED_THREADS: usize = if cfg!(windows) { 20_000 } else { 30_000 };

/// The same with the per-stack fallback, at [`MAPPED_THREADS`] threads.
#[test]
fn overflow_in_one_of_many_mapped_threads_names_it() {
    if support::is_child() {
        assert_eq!(stack::strategy(), StackStrategy::Mapping);
        overflow_one_of(MAPPED_THREADS);
    }
    let out = support::run_in_child_with_env(
        "overflow_in_one_of_many_mapped_threads_names_it",
        FORCE_MAPPING,
    );
    out.assert_aborted();
    out.assert_stderr_contains("strategy: Mapping\n");
    out.assert_stderr_contains(&format!("spawned {MAPPED_THREADS}\n"));
    out.assert_stderr_contains(&format!("'worker-{}' (stack #", MAPPED_THREADS * 2 / 3));
    out.assert_stderr_contains(", 65536 bytes) has overflowed its stack\n");
}
