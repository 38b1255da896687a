#!/usr/bin/env bash
# Memory per parked green thread / coroutine: greenthread (both stack strategies) against
# corosensei, may and generator, one process per library (benches/peers/src/bin/mem_peers.rs),
# and greenthread at a million threads (examples/parked.rs). Prints a Markdown table.
#
#   bash scripts/memory_peers.sh                  # N = 30,000 per library, 64 KiB stacks
#   N=10000 STACK=1048576 bash scripts/memory_peers.sh
#   MILLION=1 bash scripts/memory_peers.sh        # also greenthread at 1,000,000 (~5 GiB RAM)
#
# 30,000 is below the ~32,700 stacks that one-mapping-plus-guard designs (corosensei, may,
# generator, greenthread's fallback) reach at the default vm.max_map_count of 65530.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-30000}
stack=${STACK:-65536}

cargo build -q --release -p greenthread-peers --bin mem_peers
cargo build -q --release --example parked
bin=target/release/mem_peers

echo "| library | N | stack | resident per thread | page tables per thread | mappings added |"
echo "|---|---|---|---|---|---|"
row() {
    local label=$1
    shift
    "$@" | while IFS=$'\t' read -r _ count rss pte maps; do
        echo "| $label | $count | $((stack / 1024)) KiB | $rss KiB | $pte KiB | $maps |"
    done
}
row "greenthread (slab stacks)" "$bin" greenthread "$n" "$stack"
row "greenthread (per-stack mappings)" env GREENTHREAD_STACK_STRATEGY=mapping "$bin" greenthread "$n" "$stack"
row "greenthread Coroutine (no hub, slab stacks)" "$bin" greenthread-coroutine "$n" "$stack"
row "corosensei 0.3 (DefaultStack)" "$bin" corosensei "$n" "$stack"
row "may 0.3 (1 worker)" "$bin" may "$n" "$stack"
row "generator 0.8" "$bin" generator "$n" "$stack"
if [ "${MILLION:-0}" = 1 ]; then
    ./target/release/examples/parked 1000000 --stack-size "$stack" --no-floor
fi
