//! Runs one timer workload a given number of times, for instruction counts under
//! callgrind (issue 19). The cost of one round trip is the difference between two runs
//! with different counts, divided by the difference, which cancels the setup:
//!
//! ```text
//! cargo build --release -p greenthread-peers --bin timer_callgrind
//! for mode in greenthread greenthread_timeout tokio tokio_timeout; do
//!   for n in 100000 200000; do
//!     valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!       target/release/timer_callgrind $mode $n 2>&1 | grep 'Collected'
//!   done
//! done
//! ```
//!
//! Modes: `greenthread`, `greenthread_timeout` (every wait an `acquire_timeout(1 s)`),
//! `tokio`, `tokio_timeout` (`tokio::time::timeout(1 s)`); an optional third argument
//! puts that many sleepers (an hour each) in the background.

#[path = "../../../workloads/timers.rs"]
mod workloads;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().expect("mode");
    let iters: u64 = args.next().expect("iterations").parse().expect("a count");
    let sleepers: usize = args.next().map_or(0, |s| s.parse().expect("a count"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let t = match mode.as_str() {
        "greenthread" => {
            workloads::with_sleepers(sleepers, || workloads::semaphore_ping_pong(iters, false))
        }
        "greenthread_timeout" => {
            workloads::with_sleepers(sleepers, || workloads::semaphore_ping_pong(iters, true))
        }
        "tokio" => workloads::tokio_with_sleepers(&rt, sleepers, || {
            rt.block_on(workloads::tokio_semaphore_ping_pong(iters, false))
        }),
        "tokio_timeout" => workloads::tokio_with_sleepers(&rt, sleepers, || {
            rt.block_on(workloads::tokio_semaphore_ping_pong(iters, true))
        }),
        other => panic!("unknown mode {other}"),
    };
    println!("{mode} {iters} {sleepers}: {t:?}");
}
