//! Timer costs of greenthread against tokio, in one criterion run (issue 19), so the
//! ratios can be read off one report (the machine is noisy; compare within a run).
//!
//! - `timed_ping_pong/*`: one iteration is one round trip between two green threads (tokio:
//!   tasks on a current-thread runtime) through two semaphores that start empty, as
//!   `sync_peers`' `ping_pong`; the `_timeout_1s` variants wrap every wait in a 1 s timeout
//!   (`Semaphore::acquire_timeout`; `tokio::time::timeout`), which never fires: what the
//!   timeout adds is the cost of arming and cancelling a timer.
//! - `arm_cancel/*_sleepers_N`: the timed round trip with `N` green threads (tasks) asleep
//!   for an hour in the background, so `N` timers are pending: the cost per arm and cancel
//!   should not grow with `N`.
//!
//! ```text
//! cargo bench -p greenthread-peers --bench timer_peers -- --warm-up-time 1 --measurement-time 3
//! ```

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

#[path = "../../workloads/timers.rs"]
mod workloads;
use workloads::{
    semaphore_ping_pong, tokio_semaphore_ping_pong, tokio_with_sleepers, with_sleepers,
};

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

fn timed_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("timed_ping_pong");
    group.bench_function("greenthread_Semaphore", |b| {
        b.iter_custom(|iters| semaphore_ping_pong(iters, false))
    });
    group.bench_function("greenthread_Semaphore_timeout_1s", |b| {
        b.iter_custom(|iters| semaphore_ping_pong(iters, true))
    });
    let rt = tokio_rt();
    group.bench_function("tokio_Semaphore", |b| {
        b.iter_custom(|iters| rt.block_on(tokio_semaphore_ping_pong(iters, false)))
    });
    group.bench_function("tokio_Semaphore_timeout_1s", |b| {
        b.iter_custom(|iters| rt.block_on(tokio_semaphore_ping_pong(iters, true)))
    });
    group.finish();
}

/// Background sleepers; a million needs smaller stacks than `vm.max_map_count` (65,530
/// mappings here) allows today, so this stops at 25,000.
const SLEEPERS: [usize; 4] = [0, 1_000, 10_000, 25_000];

fn arm_cancel(c: &mut Criterion) {
    let mut group = c.benchmark_group("arm_cancel");
    for n in SLEEPERS {
        group.bench_with_input(BenchmarkId::new("greenthread_sleepers", n), &n, |b, &n| {
            with_sleepers(n, || {
                b.iter_custom(|iters| semaphore_ping_pong(iters, true))
            })
        });
    }
    let rt = tokio_rt();
    for n in SLEEPERS {
        group.bench_with_input(BenchmarkId::new("tokio_sleepers", n), &n, |b, &n| {
            tokio_with_sleepers(&rt, n, || {
                b.iter_custom(|iters| rt.block_on(tokio_semaphore_ping_pong(iters, true)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, timed_ping_pong, arm_cancel);
criterion_main!(benches);
