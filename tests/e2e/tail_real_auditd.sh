#!/usr/bin/env bash
# `tripline tail` against a REAL auditd, with write-to-alert latency (run as root).
#
# Same setup as imds_real_auditd.sh (whose helpers it reuses): a private auditd writing to a temp
# log, a network namespace with 169.254.169.254 on its loopback and the fake metadata server in it.
# `tripline tail` follows the live log; the script runs N curls to the fake IMDS in the namespace
# and, for each, measures from the moment auditd finished writing the curl's connect() event to the
# log (its last record, PROCTITLE; polled every 1 ms) to the moment the alert for it appears in
# tripline's output (also polled).
# Prints latency p50/p99/max and PASS if every curl alerted.
#
# Safety: audit rules only under a unique key; on exit (trap, also on failure): auditctl -D;
# auditctl -e 0; stop auditd, tripline and the server; ip netns del. Traffic only inside the
# namespace. Refuses to run while imds_real_auditd.sh runs, or over another auditd or rules.
# The private auditd (config, start, preflight, flush and stop) comes from lib.sh, shared with
# imds_real_auditd.sh. On a shared machine: `flock /tmp/auditd.lock tests/e2e/tail_real_auditd.sh`.
#
# Environment: TRIPLINE (default target/release/tripline), N (default 20).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TRIPLINE=${TRIPLINE:-${CARGO_TARGET_DIR:-$REPO/target}/release/tripline}
N=${N:-20}
PY=$(command -v python3)
KEY=tripline-tail-e2e-$$
NS=tripline-tail-$$
META=169.254.169.254
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
log() { printf '[tail-e2e] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"

WORK= TAIL_PID= SERVER_PID= NS_CREATED=0
cleanup() {
    local rc=$?
    set +e
    e2e_audit_cleanup
    for p in $TAIL_PID $SERVER_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [[ $NS_CREATED == 1 ]] && ip netns del "$NS" 2>/dev/null
    if [[ -n $WORK ]]; then
        if [[ $rc == 0 && -z ${KEEP_WORK:-} ]]; then rm -rf "$WORK"; else log "work directory kept: $WORK"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $EUID == 0 ]] || die "must run as root"
pgrep -f imds_real_auditd >/dev/null && die "imds_real_auditd.sh is running; kernel audit is global, run one at a time"
[[ -x $TRIPLINE ]] || die "no tripline binary at $TRIPLINE"
e2e_audit_preflight

WORK=$(mktemp -d /tmp/tripline-tail-e2e.XXXXXX)
chmod 700 "$WORK"
mkdir -p "$WORK/out"
e2e_auditd_start

ip netns add "$NS"; NS_CREATED=1
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$META/32" dev lo
ip netns exec "$NS" "$PY" "$HERE/fake_imds.py" --bind "$META" --port 80 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do ip netns exec "$NS" curl -s -m 1 -o /dev/null "http://$META/healthz" && break; sleep 0.1; done

"$TRIPLINE" tail --state-dir "$WORK/state" -o "$WORK/out/alerts.ndjson" "$WORK/audit.log" 2>"$WORK/tail.err" &
TAIL_PID=$!
sleep 0.5
auditctl -a always,exit -F arch=b64 -S execve -k "$KEY" >/dev/null
auditctl -a always,exit -F arch=b64 -S connect -k "$KEY" >/dev/null
auditctl -e 1 >/dev/null

# The measuring helper: runs the curls one at a time, polls the log and the output every 1 ms.
rc=0
"$PY" - "$NS" "$META" "$N" "$WORK/audit.log" "$WORK/out/alerts.ndjson" <<'PYEOF' || rc=$?
import json, os, re, subprocess, sys, time
ns, meta, n, logp, outp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
lat, missing = [], 0
def size(p):
    try: return os.path.getsize(p)
    except FileNotFoundError: return 0
for i in range(n):
    log0, out0 = size(logp), size(outp)
    p = subprocess.Popen(["ip", "netns", "exec", ns, "curl", "-s", "-m", "2", "-o", "/dev/null",
                          "http://%s/latest/meta-data/iam/security-credentials/" % meta])
    pid = p.pid
    t_log, t_alert = None, None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and t_alert is None:
        now = time.monotonic()
        if t_log is None and size(logp) > log0:
            with open(logp, "rb") as f:
                f.seek(log0)
                data = f.read()
            m = re.search(rb"msg=audit\(([0-9.]+:[0-9]+)\): arch=\S+ syscall=42 .* pid=%d " % pid, data)
            # the event's last record (PROCTITLE) is on disk: the event is fully written
            if m and re.search(rb"type=PROCTITLE msg=audit\(" + re.escape(m.group(1)) + rb"\)", data):
                t_log = now
        if size(outp) > out0:
            with open(outp, "rb") as f:
                f.seek(out0)
                for line in f.read().splitlines():
                    try:
                        a = json.loads(line)
                    except ValueError:
                        continue
                    if a.get("process", {}).get("pid") == pid and a.get("destination", {}).get("ip") == meta:
                        t_alert = now
        time.sleep(0.001)
    p.wait()
    if t_alert is None or t_log is None:
        missing += 1
        print("  curl pid %d: %s" % (pid, "no alert" if t_alert is None else "connect record not seen"))
    else:
        lat.append((t_alert - t_log) * 1000)
    time.sleep(0.2)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] if lat else float("nan")
print("tail-real-auditd: %d curls, %d alerted; write-to-alert latency ms p50=%.1f p99=%.1f max=%.1f"
      % (n, len(lat), q(50), q(99), max(lat) if lat else float("nan")))
print("RESULT: %s" % ("PASS" if missing == 0 else "FAIL"))
sys.exit(0 if missing == 0 else 1)
PYEOF
# flush (so a kept audit.log is complete) and stop recording
e2e_audit_stop
exit "$rc"
