#!/usr/bin/env bash
# Instructions per operation, counted by callgrind: each workload of
# benches/peers/src/bin/instr_count.rs runs with N1 and N2 operations and the script prints
# (Ir(N2) - Ir(N1)) / (N2 - N1), so setup and teardown cancel out. Instruction counts are
# stable on a shared, noisy machine, where times are not.
#
#   bash scripts/instructions.sh                                # every workload
#   bash scripts/instructions.sh switch_round_trip/greenthread  # some of them
#   OUT=file bash scripts/instructions.sh                       # also write `id<TAB>count`
#
# Workload ids are criterion's (`group/implementation`), so bench_report can put the counts
# beside the times.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2000}
N2=${N2:-22000}
all=(switch_round_trip/greenthread switch_round_trip/greenthread_fp_env
     switch_round_trip/corosensei yield_ping_pong/greenthread
     yield_ping_pong/greenthread_fp_env yield_ping_pong/may spawn_run_wait/greenthread
     spawn_run_wait/tokio ping_pong/greenthread_Semaphore ping_pong/tokio_Semaphore
     uncontended/greenthread_Lock uncontended/std_Mutex)
if [ $# -gt 0 ]; then all=("$@"); fi
cargo build -q --release -p greenthread-peers --bin instr_count
bin=target/release/instr_count
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-40s %12s\n' workload 'instr/op'
[ -n "${OUT:-}" ] && : > "$OUT"
for w in "${all[@]}"; do
    a=$(ir "$w" "$N1")
    b=$(ir "$w" "$N2")
    per=$(awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }')
    printf '%-40s %12s\n' "$w" "$per"
    [ -n "${OUT:-}" ] && printf '%s\t%s\n' "$w" "$per" >> "$OUT"
done
