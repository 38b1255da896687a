//! Parks N green threads with the default stack (1 MiB reserved each) and reports the
//! resident memory they cost: the `VmRSS` delta of `/proc/self/status` divided by N.
//!
//! ```text
//! cargo run --release --example parked            # N = 10,000
//! cargo run --release --example parked -- 30000
//! cargo run --release --example parked -- 100000  # stops at the vm.max_map_count limit
//! ```
//!
//! Each green thread sleeps (a timer-heap entry) on its own stack: the pages it touched
//! (entry frame, closure, the sleep's frames) stay resident, the rest of its 1 MiB is only
//! reserved. Every stack is two kernel mappings (guard + usable), so the default
//! `vm.max_map_count` of 65530 allows about 32,700 of them; past that, spawning fails
//! with an error (never a crash) and the example reports what it reached.

use std::time::{Duration, Instant};

use greenthread::Builder;
use greenthread::sched::SpawnError;

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

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N must be a number"))
        .unwrap_or(10_000);
    let max_maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());

    // Warm up the hub and the allocator so they are not counted.
    for _ in 0..10 {
        greenthread::spawn(|| ()).join().unwrap();
    }
    let mut handles = Vec::with_capacity(n);
    let rss0 = status_kib("VmRSS:");
    let pte0 = status_kib("VmPTE:");
    let maps0 = map_count();
    let t0 = Instant::now();

    let mut stopped: Option<SpawnError> = None;
    for _ in 0..n {
        match Builder::new().spawn(|| greenthread::sleep(Duration::from_secs(3600))) {
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
    let maps = map_count() - maps0;

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
        "{parked} parked green threads (default stack, {} KiB reserved each), spawned and \
         parked in {elapsed:.2?}",
        greenthread::stack::DEFAULT_STACK_SIZE / 1024
    );
    if spawned > 0 {
        println!(
            "resident memory: +{rss} KiB = {:.2} KiB per green thread (VmRSS delta); page \
             tables +{pte} KiB = {:.2} KiB each (VmPTE); +{maps} mappings",
            rss as f64 / spawned as f64,
            pte as f64 / spawned as f64,
        );
    }

    let t1 = Instant::now();
    for gt in &handles {
        gt.kill();
    }
    println!("killed all {spawned} in {:.2?}", t1.elapsed());
    drop(handles);
    if stopped.is_some() {
        std::process::exit(2);
    }
}
