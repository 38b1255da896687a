//! Parks N green threads and reports what they cost: resident memory (`VmRSS`), page tables
//! (`VmPTE`) and kernel mappings per thread, the time to spawn and park them against the
//! physical floor measured in the same run, and the memory left after they finish and the
//! stack pool is trimmed.
//!
//! ```text
//! cargo run --release --example parked                          # N = 10,000, 1 MiB stacks
//! cargo run --release --example parked -- 1000000 --stack-size 65536
//! cargo run --release --example parked -- 30000 --no-floor
//! GREENTHREAD_STACK_STRATEGY=mapping cargo run --release --example parked -- 30000
//! ```
//!
//! Each green thread sleeps (a timer-heap entry) on its own stack: the pages it touched
//! (entry frame, closure, the sleep's frames) stay resident, the rest of its stack is only
//! reserved. With slab stacks (Linux 6.13+, see `greenthread::stack::StackStrategy`) a few
//! thousand stacks share one kernel mapping; with one mapping per stack (the fallback) each
//! costs two, so the default `vm.max_map_count` of 65530 allows about 32,700 of them: past
//! that, spawning fails with an error (never a crash) and the example reports what it
//! reached.
//!
//! The floor (`--no-floor` skips it) is what the hardware and kernel charge for N fresh
//! guarded stacks of the same stride, whatever the runtime: one `MAP_NORESERVE` mapping,
//! a guard installed per stack (`MADV_GUARD_INSTALL` with slab stacks, `mprotect` with the
//! fallback, one small mapping each so the VMAs are split as the fallback splits them), and
//! one write to the top page of each stack (its first-touch page fault). It is measured
//! before the green threads are spawned and unmapped again.

use std::time::{Duration, Instant};

use greenthread::Builder;
use greenthread::sched::SpawnError;
use greenthread::stack::{self, StackStrategy};

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

/// Guard bytes below each stack, as the stack layer lays them out.
fn guard_bytes() -> usize {
    let s = stack::Stack::new(64 * 1024).expect("a stack");
    // The guard sits right below bottom(); its size is the page size on x86_64 and aarch64.
    let _ = s;
    if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
        stack::page_size()
    } else {
        64 * 1024
    }
}

/// Time for the physical floor of `n` fresh guarded stacks of `usable` bytes: see the module
/// docs. Returns `None` where it cannot be measured.
#[cfg(target_os = "linux")]
fn floor(n: usize, usable: usize, strategy: StackStrategy) -> Option<Duration> {
    let guard = guard_bytes();
    let stride = guard + usable;
    let len = n.checked_mul(stride)?;
    // SAFETY: a fresh anonymous mapping; nothing else uses it, unmapped below.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return None;
    }
    let base = base as usize;
    let t = Instant::now();
    for i in 0..n {
        let lo = base + i * stride;
        // SAFETY: inside our scratch mapping, page aligned; nothing references it.
        let rc = unsafe {
            match strategy {
                StackStrategy::Slab => libc::madvise(lo as *mut _, guard, 102),
                _ => libc::mprotect(lo as *mut _, guard, libc::PROT_NONE),
            }
        };
        if rc != 0 {
            // SAFETY: our mapping.
            unsafe { libc::munmap(base as *mut _, len) };
            return None;
        }
        // SAFETY: the top page of slot i is read-write memory of our mapping.
        unsafe { ((lo + stride - 8) as *mut u64).write_volatile(i as u64) };
    }
    let elapsed = t.elapsed();
    // SAFETY: our mapping, no longer used.
    unsafe { libc::munmap(base as *mut _, len) };
    Some(elapsed)
}

#[cfg(not(target_os = "linux"))]
fn floor(_: usize, _: usize, _: StackStrategy) -> Option<Duration> {
    None
}

fn main() {
    let mut n: usize = 10_000;
    let mut size: usize = 0;
    let mut with_floor = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stack-size" => {
                size = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--stack-size takes a size in bytes")
            }
            "--no-floor" => with_floor = false,
            _ => n = arg.parse().expect("N must be a number"),
        }
    }
    let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());

    // Warm up the hub and the allocator so they are not counted.
    for _ in 0..10 {
        Builder::new()
            .stack_size(size)
            .spawn(|| ())
            .unwrap()
            .join()
            .unwrap();
    }
    let usable = stack::acquire(size).map(|s| s.size()).unwrap_or(size);
    let strategy = stack::strategy();
    let floor = if with_floor {
        floor(n, usable, strategy)
    } else {
        None
    };
    let mut handles = Vec::with_capacity(n);
    let rss0 = status_kib("VmRSS:");
    let pte0 = status_kib("VmPTE:");
    let maps0 = map_count();
    let t0 = Instant::now();

    let mut stopped: Option<SpawnError> = None;
    for _ in 0..n {
        match Builder::new()
            .stack_size(size)
            .spawn(|| greenthread::sleep(Duration::from_secs(3600)))
        {
            Ok(gt) => handles.push(gt),
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    greenthread::yield_now(); // every one of them runs until it parks in its sleep
    let spawned = handles.len();
    let elapsed = t0.elapsed();
    let rss = status_kib("VmRSS:").saturating_sub(rss0);
    let pte = status_kib("VmPTE:").saturating_sub(pte0);
    let maps = map_count().saturating_sub(maps0);

    if let Some(e) = &stopped {
        println!(
            "spawning stopped after {spawned} of {n} green threads (vm.max_map_count = \
             {max_maps}): {e}"
        );
    }
    let parked = greenthread::dump()
        .green_threads
        .iter()
        .filter(|g| g.state == greenthread::sched::GreenState::Parked)
        .count();
    println!(
        "{parked} parked green threads ({} KiB stacks, {strategy:?} strategy, \
         vm.max_map_count = {max_maps}), spawned and parked in {elapsed:.2?} \
         ({:.2} us each)",
        usable / 1024,
        elapsed.as_secs_f64() * 1e6 / spawned.max(1) as f64,
    );
    if spawned > 0 {
        println!(
            "resident memory: +{rss} KiB = {:.2} KiB per green thread (VmRSS delta); page \
             tables +{pte} KiB = {:.2} KiB each (VmPTE); total {:.2} KiB each; +{maps} \
             mappings",
            rss as f64 / spawned as f64,
            pte as f64 / spawned as f64,
            (rss + pte) as f64 / spawned as f64,
        );
    }
    if let Some(f) = floor {
        println!(
            "floor (guard install + first touch of {n} fresh stacks, same run): {f:.2?}; \
             spawn+park = {:.2}x the floor",
            elapsed.as_secs_f64() / f.as_secs_f64() * n as f64 / spawned.max(1) as f64
        );
    }

    let t1 = Instant::now();
    for gt in &handles {
        gt.kill();
    }
    println!("killed all {spawned} in {:.2?}", t1.elapsed());
    drop(handles);
    greenthread::yield_now();
    let pooled = stack::pooled_count();
    let rss_pooled = status_kib("VmRSS:");
    let trimmed = stack::trim_pool();
    let rss_end = status_kib("VmRSS:");
    println!(
        "after exit: VmRSS {rss_pooled} KiB with {pooled} stacks pooled (capacity {}); \
         trim_pool released {trimmed}: VmRSS {rss_end} KiB, {:+} KiB against the start \
         ({rss0} KiB); VmPTE {} KiB; {} mappings",
        stack::pool_capacity(),
        rss_end as i64 - rss0 as i64,
        status_kib("VmPTE:"),
        map_count(),
    );
    // What is left is mostly heap the allocator keeps for reuse (control blocks, the hub's
    // tables); glibc gives its free pages back on request.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions.
        unsafe { libc::malloc_trim(0) };
        let rss_heap = status_kib("VmRSS:");
        println!(
            "after malloc_trim(0): VmRSS {rss_heap} KiB, {:+} KiB against the start",
            rss_heap as i64 - rss0 as i64
        );
    }
    if stopped.is_some() {
        std::process::exit(2);
    }
}
