//! `cargo bench` at the repository root lands here: the criterion benchmarks live in the
//! `benches/peers` workspace member (so plain `cargo test` never builds criterion or the
//! peer libraries), and this target says how to run them.

fn main() {
    println!(
        "greenthread's benchmarks are criterion benches in the benches/peers workspace member:\n\
         \n\
         \x20   cargo bench -p greenthread-peers                 # every bench, with the peers\n\
         \x20   cargo bench -p greenthread-peers --bench switch  # one concern (switch, stack, sched, sync, ...)\n\
         \x20   bash scripts/benchmarks.sh                       # all comparisons -> docs/BENCHMARKS.md\n\
         \n\
         See README.md, section Benchmarks."
    );
}
