//! Runs one communication workload `n` times, for `valgrind --tool=callgrind`: the
//! instructions per message are (count at n) - (count at 0), divided by n.
//!
//! ```text
//! cargo build --release -p greenthread-peers --bin comm_callgrind
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 target/release/comm_callgrind channel_one_hub 0
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.n target/release/comm_callgrind channel_one_hub 100000
//! ```
//!
//! Workloads: `channel_one_hub`, `tokio_mpsc`, `event`, `pool_imap`, `semaphore_pool`.

#[path = "../../../workloads/comm.rs"]
mod workloads;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("channel_one_hub");
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    match which {
        "channel_one_hub" => drop(workloads::channel_one_hub(n)),
        "event" => drop(workloads::event_ping_pong(n)),
        "pool_imap" => drop(workloads::pool_imap(n)),
        "semaphore_pool" => drop(workloads::semaphore_pool(n)),
        "tokio_mpsc" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(128);
                let p = tokio::spawn(async move {
                    for i in 0..n {
                        tx.send(i).await.unwrap();
                    }
                });
                let mut sum = 0u64;
                for _ in 0..n {
                    sum = sum.wrapping_add(rx.recv().await.unwrap());
                }
                p.await.unwrap();
                std::hint::black_box(sum);
            });
        }
        other => eprintln!("unknown workload {other}"),
    }
}
