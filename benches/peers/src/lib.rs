//! Comparison benchmarks live in `benches/peers.rs`; this library is empty.
