#!/usr/bin/env bash
# CI wrapper for the `tripline tail` torture test (tests/e2e/tail_torture.py): 50+ SIGKILL/SIGTERM
# restarts at random moments while a writer appends auditd events at a high rate and rotates the
# log (rename, copytruncate, gzip of the previous file); the alerts must equal `tripline scan` over
# everything written, exactly. Needs only python3 and a release build (a debug build cannot keep
# up with 1,000 events/s on a 2-core machine, and an unread rotated file gzipped away is lost).
#
# Environment: TRIPLINE (default target/release/tripline), CYCLES (default 50), RATE (events/s,
# default 1000), SEED (random by default; printed, so a failure can be replayed).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TRIPLINE=${TRIPLINE:-${CARGO_TARGET_DIR:-$REPO/target}/release/tripline}
[[ -x $TRIPLINE ]] || { echo "tail_torture: no binary at $TRIPLINE (cargo build --release)" >&2; exit 2; }
args=(--tripline "$TRIPLINE" --cycles "${CYCLES:-50}" --rate "${RATE:-1000}" --with-sequences)
[[ -n ${SEED:-} ]] && args+=(--seed "$SEED")
exec python3 "$HERE/tail_torture.py" "${args[@]}"
