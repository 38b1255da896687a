#!/usr/bin/env bash
# Regenerates docs/BENCHMARKS.md's table and docs/benchmarks.svg: runs every peer comparison
# bench (greenthread and its peers in the same criterion run), measures resident memory per
# parked green thread, counts instructions per iteration with callgrind
# (scripts/instructions.sh), and writes both files. Takes several minutes on 2 cores.
#
#   bash scripts/benchmarks.sh            # full criterion settings
#   QUICK=1 bash scripts/benchmarks.sh    # shorter measurement, for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

args=()
if [ "${QUICK:-0}" = 1 ]; then args=(-- --warm-up-time 1 --measurement-time 3); fi

for b in switch_peers sched_peers sync_peers; do
    cargo bench -p greenthread-peers --bench "$b" "${args[@]}"
done

extra=$(mktemp)
if [ -f examples/parked.rs ]; then
    # The example prints "resident memory: +N KiB = X KiB per green thread ...".
    cargo run --release --example parked -- 10000 \
        | sed -n "s/.*= \([0-9.]*\) KiB per green thread.*/memory per parked green thread (10,000 parked, default stack)\t\1\tKiB resident/p" > "$extra" || true
fi

# Instructions per iteration (callgrind), shown beside the times.
instr=$(mktemp)
if command -v valgrind >/dev/null; then
    OUT="$instr" bash scripts/instructions.sh
fi

cargo run -q -p greenthread-peers --bin bench_report -- \
    --criterion target/criterion --out-md docs/BENCHMARKS.md --out-svg docs/benchmarks.svg \
    --extra "$extra" --instructions "$instr"
rm -f "$extra" "$instr"
echo "wrote docs/BENCHMARKS.md and docs/benchmarks.svg"
