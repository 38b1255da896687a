#!/usr/bin/env bash
# Cross-architecture CI for greenthread: the whole test suite under emulation, and full-codegen
# builds for the Apple targets. Called by .ci/run; runs on its own too (from anywhere).
#
#   .ci/cross.sh [TARGET...]      default: all the targets below
#   CROSS_PROFILES="debug release" (default) runs each target in both profiles.
#
#   aarch64-unknown-linux-gnu     cargo test under qemu-aarch64
#   riscv64gc-unknown-linux-gnu   cargo test under qemu-riscv64
#   armv7-unknown-linux-gnueabihf cargo test under qemu-arm (-Zbuild-std)
#   x86_64-pc-windows-gnu         cargo test under wine (mingw-w64 link)
#   aarch64-apple-darwin          compile only (no SDK or Mach-O linker on Linux)
#   x86_64-apple-darwin           compile only
#
# Needs ../shared/cross (setup.sh, test.sh) beside the repository, or CROSS_DIR pointing at it.
# setup.sh installs Debian packages (idempotent, ~1 s when already done). Every target shares
# one absolute CROSS_TARGET_DIR (default target/cross), so a rerun only rebuilds what changed;
# caching that directory between CI runs saves the std builds (about a minute per target).
#
# Tests that the emulator itself cannot support print "SKIPPED under <emulator>: <reason>"
# and pass; the summary at the end lists them per target.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

CROSS_DIR=${CROSS_DIR:-$root/../shared/cross}
[ -x "$CROSS_DIR/test.sh" ] || { echo "cross.sh: $CROSS_DIR/test.sh not found (set CROSS_DIR)" >&2; exit 2; }
export CROSS_TARGET_DIR=${CROSS_TARGET_DIR:-$root/target/cross}
case "$CROSS_TARGET_DIR" in /*) ;; *) CROSS_TARGET_DIR=$root/$CROSS_TARGET_DIR ;; esac
# Context-switch tests touch per-thread state (signal stacks, pools): keep them serial.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-1}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(aarch64-unknown-linux-gnu riscv64gc-unknown-linux-gnu armv7-unknown-linux-gnueabihf
             x86_64-pc-windows-gnu
             aarch64-apple-darwin x86_64-apple-darwin)
fi

logs=$CROSS_TARGET_DIR/logs
mkdir -p "$logs"
step() { printf '\n=== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "cross setup"
bash "$CROSS_DIR/setup.sh"

# The qemu command line test.sh uses as cargo's runner. Crash tests start the test binary
# again in a child process; without binfmt_misc the child must go through the emulator too
# (tests/support/mod.rs reads GREENTHREAD_TEST_RUNNER).
qemu_runner() {
    local arch=$1
    echo "qemu-$arch -L /usr/$arch-linux-gnu -E LD_LIBRARY_PATH=/usr/$arch-linux-gnu/lib"
}

# Apple: test.sh builds the tests with `cargo test --no-run`, which builds the dev-dependencies
# for the target. criterion (a dev-dependency of the benches) pulls in `alloca`, whose build
# script compiles C with the target's C compiler, which does not exist for Apple here. Until
# criterion leaves the root crate's dev-dependencies, build the library alone, with the same
# toolchain and full codegen: the assembly is in the library, and an rlib needs no linker.
apple_build() {
    local target=$1; shift
    if sed -n '/^\[dev-dependencies\]/,/^\[/p' Cargo.toml | grep -q '^criterion'; then
        echo "[cross] criterion is a dev-dependency: building the library only (see cross.sh)"
        local sdk=$CROSS_TARGET_DIR/cross-empty-sdk/MacOSX.sdk
        mkdir -p "$sdk"
        env -u RUSTUP_TOOLCHAIN RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc \
            RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$CROSS_TARGET_DIR" SDKROOT="$sdk" \
            /usr/bin/cargo build --lib --target "$target" -Zbuild-std=std,panic_unwind "$@"
    else
        "$CROSS_DIR/test.sh" "$target" --lib --tests "$@"
    fi
}

# run_target TARGET [cargo args...]: the suite (or, for Apple, the build) for one target;
# the extra args are e.g. --release.
run_target() {
    local target=$1; shift
    case "$target" in
        aarch64-unknown-linux-gnu|riscv64gc-unknown-linux-gnu|armv7-unknown-linux-gnueabihf)
            local arch=${target%%-*}
            arch=${arch%gc}
            local runner tt
            runner=$(qemu_runner "$arch")
            case "$target" in
                armv7-*) runner="qemu-arm -L /usr/arm-linux-gnueabihf -E LD_LIBRARY_PATH=/usr/arm-linux-gnueabihf/lib" ;;
            esac
            tt=$(printf '%s' "$target" | tr 'a-z.-' 'A-Z__')
            export "CARGO_TARGET_${tt}_RUNNER=$runner"
            GREENTHREAD_TEST_RUNNER="$runner" "$CROSS_DIR/test.sh" "$target" --no-fail-fast "$@"
            ;;
        x86_64-pc-windows-gnu)
            "$CROSS_DIR/test.sh" "$target" --no-fail-fast "$@"
            ;;
        *-apple-darwin)
            apple_build "$target" "$@"
            ;;
        *)
            "$CROSS_DIR/test.sh" "$target" "$@"
            ;;
    esac
}

# Profiles to run every target in: users build release, so both by default. The doc tests
# run in the debug profile only (they are the same code; under emulation each is a separate
# binary, and they are a third of a target's time); release runs the library's and the
# integration tests.
read -r -a profiles <<< "${CROSS_PROFILES:-debug release}"

# Each target gets its own target directory (the std built for it is reused across runs),
# so two targets can run at once: the emulated test runs are single-threaded (the suites
# run serially), so two lanes use both cores. CROSS_LANES=1 runs everything in order.
lanes=${CROSS_LANES:-2}

# run_one TARGET PROFILE: one run, logged to $logs/TARGET.PROFILE.log; the result and the
# seconds it took go to $logs/TARGET.PROFILE.result.
run_one() {
    local target=$1 profile=$2 start rc
    start=$(date +%s)
    local extra=()
    if [ "$profile" = release ]; then
        extra=(--release)
        case "$target" in *-apple-darwin) ;; *) extra+=(--lib --tests) ;; esac
    fi
    rc=ok
    CROSS_TARGET_DIR="$CROSS_TARGET_DIR/$target" run_target "$target" "${extra[@]}" \
        > "$logs/$target.$profile.log" 2>&1 || rc=FAILED
    echo "$rc $(( $(date +%s) - start ))" > "$logs/$target.$profile.result"
    printf '[cross] %-38s %s (%ss)\n' "$target/$profile" "$rc" "$(( $(date +%s) - start ))"
}

runs=()
for target in "${targets[@]}"; do
    for profile in "${profiles[@]}"; do
        runs+=("$target/$profile")
        rm -f "$logs/$target.$profile.result"
    done
done

# Deal the targets round-robin into the lanes; each lane runs its targets in order.
declare -a lane_targets
for i in "${!targets[@]}"; do
    l=$(( i % lanes ))
    lane_targets[$l]="${lane_targets[$l]:-} ${targets[$i]}"
done
step "cross runs: ${#runs[@]} in $lanes lane(s); logs in $logs"
pids=()
for l in $(seq 0 $(( lanes - 1 ))); do
    (
        for target in ${lane_targets[$l]:-}; do
            for profile in "${profiles[@]}"; do
                run_one "$target" "$profile"
            done
        done
    ) &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
# Wine leaves a wineserver running for a few seconds; don't let it outlive CI's step.
if command -v wineserver >/dev/null 2>&1; then wineserver -k 2>/dev/null || true; fi

failed=0
for run in "${runs[@]}"; do
    f="$logs/${run%/*}.${run##*/}"
    if ! grep -q '^ok ' "$f.result" 2>/dev/null; then
        failed=1
        printf '\n=== %s FAILED: the end of its log (%s.log)\n' "$run" "$f"
        grep -E '^(test .* FAILED|---- |thread .* panicked|error(\[|:))' "$f.log" | head -40 || true
        tail -40 "$f.log" || true
    fi
done

step "cross summary"
for run in "${runs[@]}"; do
    f="$logs/${run%/*}.${run##*/}"
    read -r rc secs < "$f.result" 2>/dev/null || { rc=MISSING; secs=0; }
    printf '%-38s %-7s %4ss\n' "$run" "$rc" "$secs"
    grep -ho 'SKIPPED under .*' "$f.log" 2>/dev/null | sort -u | sed 's/^/    /' || true
done
exit $failed
