#!/usr/bin/env bash
# Builds every fuzz target and runs each for FUZZ_SECONDS (default 30) from
# the seed corpora. Fails on the first crash, leak, timeout or OOM; libFuzzer
# leaves the reproducer in fuzz/artifacts/<target>/.
#
#   fuzz/ci.sh                 # all targets, 30 s each
#   FUZZ_SECONDS=600 fuzz/ci.sh json evtx
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-30}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
./seed.sh >/dev/null
cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
    # EVTX seeds are whole files (68 KiB); text targets stay small.
    case $t in
        evtx) max_len=131072 ;;
        auditd_events | json | macos_unifiedlog | sigma_load) max_len=65536 ;;
        *) max_len=8192 ;;
    esac
    echo "== $t (${secs}s)"
    log=$(mktemp)
    status=0
    cargo +nightly fuzz run -O "$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log"
        echo "fuzz/ci.sh: $t failed (exit $status); reproducer in fuzz/artifacts/$t/"
        exit 1
    fi
    rm -f "$log"
done
