#!/usr/bin/env bash
# Instructions per operation, counted by callgrind: each workload of
# benches/peers/src/bin/instr_count.rs runs with N1 and N2 operations and the script prints
# (Ir(N2) - Ir(N1)) / (N2 - N1), so setup and teardown cancel out. Instruction counts are
# stable on a shared, noisy machine, where times are not.
#
#   bash scripts/instructions.sh                     # every workload
#   bash scripts/instructions.sh switch/greenthread  # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2000}
N2=${N2:-22000}
all=(switch/greenthread switch/greenthread_fp_env switch/corosensei
     yield/greenthread yield/greenthread_fp_env yield/may
     spawn/greenthread spawn/tokio semaphore/greenthread semaphore/tokio
     uncontended/greenthread_Lock uncontended/std_Mutex)
if [ $# -gt 0 ]; then all=("$@"); fi
cargo build -q --release -p greenthread-peers --bin instr_count
bin=target/release/instr_count
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-32s %12s\n' workload 'instr/op'
for w in "${all[@]}"; do
    a=$(ir "$w" "$N1")
    b=$(ir "$w" "$N2")
    awk -v w="$w" -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" \
        'BEGIN { printf "%-32s %12.1f\n", w, (b - a) / (n2 - n1) }'
done
