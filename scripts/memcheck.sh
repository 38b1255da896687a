#!/usr/bin/env bash
# Runs the scheduler, sync, context and stack test binaries (and the library's unit tests)
# under valgrind's memcheck and fails on any memcheck error or any test failure.
#
#   bash scripts/memcheck.sh             # debug build (about a minute on 2 cores, plus the build)
#   bash scripts/memcheck.sh --release   # release build: one known report, see below
#
# Release builds: memcheck reports "Conditional jump or move depends on uninitialised value"
# in Hub::spawn (dropping the unset `name: Option<Box<str>>` on the error path of
# sched_basic's builder_stack_sizes, origin: a stack slot of Hub::spawn). It is there with or
# without the stack changes; the debug build, which CI runs, is clean.
#
# Every green-thread and coroutine stack is registered with valgrind (src/stack/valgrind.rs),
# so stack switches are not reported. Tests run one at a time (--test-threads=1) to keep
# valgrind's serialised threads predictable. Child-process crash tests re-execute the test
# binary natively (no --trace-children), so their deliberate aborts are not memcheck errors.
#
# Skipped, with the reason (environment, not memory errors):
#   stack_alloc                 asks the kernel for a 4 EiB mapping and expects ENOMEM;
#                               valgrind's mmap wrapper answers EINVAL.
#   wait_across_threads         sleeps 20 ms and assumes the other OS thread is parked by
#                               then; valgrind runs threads one at a time, much slower.
#   dropping_the_handle_detaches
#                               sleeps 10 ms and assumes a green thread spawned just before
#                               has started its 1 ms sleep by then (valgrind on a loaded
#                               machine can take longer than 9 ms to get there).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
if [ "${1:-}" = --release ]; then profile=(--release); fi

command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is not installed" >&2; exit 2; }

tests=()
for f in tests/sched_*.rs tests/sync_*.rs tests/context_*.rs tests/stack_guard.rs \
    tests/stack_slab.rs tests/stack_teardown.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done

# Build, and collect "name<TAB>path" of every test executable.
list=$(cargo test "${profile[@]}" --no-run --lib "${tests[@]}" --message-format=json \
    | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["target"]["name"] + "\t" + m["executable"])
')

logdir=$(mktemp -d)
failed=0
while IFS=$'\t' read -r name exe; do
    skip=()
    case "$name" in
        sync_cross_thread) skip=(--skip wait_across_threads) ;;
        sched_basic) skip=(--skip dropping_the_handle_detaches) ;;
    esac
    log="$logdir/$name.log"
    if valgrind --tool=memcheck --error-exitcode=99 --errors-for-leak-kinds=none -q \
        "$exe" --test-threads=1 -q "${skip[@]}" >"$log" 2>&1; then
        echo "memcheck: $name ok"
    else
        rc=$?
        failed=1
        if [ "$rc" = 99 ]; then
            echo "memcheck: $name: memcheck errors:"
        else
            echo "memcheck: $name: test failure (exit $rc):"
        fi
        grep -E '^==[0-9]+== ' "$log" | head -60 || true
        grep -E 'FAILED|panicked' "$log" | head -20 || true
    fi
done <<<"$list"
rm -rf "$logdir"
if [ "$failed" != 0 ]; then
    echo "memcheck: FAILED" >&2
    exit 1
fi
echo "memcheck: all clean"
