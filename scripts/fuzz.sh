#!/bin/sh
# Runs every cargo-fuzz target of fuzz/ for a bounded number of runs.
#
#   scripts/fuzz.sh [RUNS [TARGET...]]
#
# RUNS defaults to 20000 per target; TARGETs default to all of `cargo fuzz list`. Each
# target starts from its committed seeds (fuzz/seeds/TARGET), copied into a temporary
# corpus so the work tree stays clean. The nightly toolchain is used when rustup has one
# (with AddressSanitizer), stable with `-s none` otherwise; FUZZ_TOOLCHAIN=stable|nightly
# forces one. Debug assertions (overflow checks) are on. Crash inputs are kept under
# fuzz/artifacts/TARGET/ (git-ignored). Exits non-zero if any target fails.
#
# CI smoke: scripts/fuzz.sh 2000; release bar (README, Robustness): scripts/fuzz.sh 200000
set -eu

runs=${1:-20000}
[ $# -gt 0 ] && shift
case $runs in
'' | *[!0-9]*)
    echo "usage: $0 [RUNS [TARGET...]]" >&2
    exit 2
    ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

toolchain=${FUZZ_TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
    if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
        toolchain=nightly
    else
        toolchain=stable
    fi
fi
case $toolchain in
nightly) fuzz="cargo +nightly fuzz" && sanitizer="" ;;
stable) fuzz="cargo +stable fuzz" && sanitizer="-s none" ;;
*)
    echo "fuzz.sh: FUZZ_TOOLCHAIN must be stable or nightly" >&2
    exit 2
    ;;
esac

if [ $# -eq 0 ]; then
    # shellcheck disable=SC2046
    set -- $($fuzz list)
fi

echo "fuzz.sh: building the fuzz targets ($toolchain${sanitizer:+, $sanitizer})" >&2
# shellcheck disable=SC2086
if ! $fuzz build $sanitizer -a >"${TMPDIR:-/tmp}/mcroute-fuzz-build.log" 2>&1; then
    cat "${TMPDIR:-/tmp}/mcroute-fuzz-build.log" >&2
    echo "fuzz.sh: the fuzz targets do not build" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcroute-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

failed=""
for target in "$@"; do
    corpus="$tmp/$target"
    mkdir -p "$corpus"
    if [ -d "seeds/$target" ]; then
        cp "seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$tmp/$target.log"
    start=$(date +%s)
    # shellcheck disable=SC2086
    if $fuzz run $sanitizer -a "$target" "$corpus" -- -runs="$runs" -max_len=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(sed -n 's/^#[0-9]*[^c]*cov: \([0-9]*\).*/\1/p' "$log" | tail -n 1)
        echo "fuzz.sh: $target: ok, ${execs:-?} runs, coverage ${cov:-?}, $(($(date +%s) - start)) s"
    else
        echo "fuzz.sh: $target: FAILED after $(($(date +%s) - start)) s" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written|artifact" "$log" | head -n 20 >&2 || true
        failed="$failed $target"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz.sh: failing targets:$failed (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: all $# targets passed $runs runs"
