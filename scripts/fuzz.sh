#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each, and fails if
# any of them finds a crash (a panic, a failed property check, a sanitizer
# report, an input that runs longer than the per-input timeout).
#
#   scripts/fuzz.sh                        every target, 60 s each
#   scripts/fuzz.sh domain_names           only the named targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh       longer runs
#   FUZZ_SANITIZER=none scripts/fuzz.sh    without AddressSanitizer (faster)
#
# Works on the stable toolchain: cargo-fuzz's nightly-only compiler flags are
# enabled with RUSTC_BOOTSTRAP=1. cargo-fuzz is installed when missing. Builds
# go to fuzz/target (the first one compiles wasmtime with coverage
# instrumentation and takes a while) and run under `nice`.
#
# Corpora live in fuzz/corpus/<target> (not committed) and are seeded from
# the committed inputs in fuzz/seeds/<target>. Crashing inputs are written to
# fuzz/artifacts/<target>/; the script prints each one with the command that
# replays it. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
export RUSTC_BOOTSTRAP=1
# Debug assertions and overflow checks on: an arithmetic overflow is a finding.
flags=(-a --sanitizer "$sanitizer")

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    nice -n 10 cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "==> building ${targets[*]} (sanitizer: $sanitizer)"
if [ "$#" -gt 0 ]; then
    for t in "${targets[@]}"; do
        nice -n 10 cargo fuzz build "${flags[@]}" "$t"
    done
else
    nice -n 10 cargo fuzz build "${flags[@]}"
fi

logs="fuzz/target/fuzz-logs"
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus"
    if [ -d "fuzz/seeds/$t" ]; then
        cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$logs/$t.log"
    echo "==> fuzzing $t for ${seconds}s (corpus $corpus, log $log)"
    set +e
    nice -n 10 cargo fuzz run "${flags[@]}" "$t" "$corpus" -- \
        -max_total_time="$seconds" -timeout=20 -print_final_stats=1 >"$log" 2>&1
    status=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    summary+=("$t: ${runs:-?} runs, ${rate:-?} exec/s, exit $status")
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "!!! $t failed (exit $status); the end of its log:"
        tail -n 40 "$log"
        grep -o "Test unit written to [^ ]*" "$log" | sed 's/^Test unit written to //' |
            while read -r artifact; do
                echo "!!! crashing input: $artifact"
                echo "    replay: RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $t $artifact"
            done
    fi
done

echo
echo "==> summary"
printf '    %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "==> crashes or failures in: ${failed[*]}" >&2
    exit 1
fi
echo "==> no crashes"
