#!/usr/bin/env bash
# End-to-end test of the IMDS rule pack against a REAL auditd (run as root, e.g. by CI).
#
# 1. starts a private auditd (`auditd -n -c CONFDIR`, log in a temp dir) -- refuses to run if another
#    auditd is registered with the kernel or if audit rules already exist;
# 2. builds a network namespace with 169.254.169.254/32 and fd00:ec2::254/128 on its lo, an /etc/netns
#    hosts file mapping metadata.google.internal to 169.254.169.254, and a fake metadata server
#    (fake_imds.py) plus a neutral HTTP server on 127.0.0.1:8080 inside it. Every request runs via
#    `ip netns exec`: nothing is ever sent to a metadata or other non-loopback address of the host;
# 3. records two phases with audit rules under two unique keys (execve + connect, b64 and b32):
#    benign   : an IMDSv2 token PUT in the agent carve-out form, curl to the loopback server
#    attack   : the Atomic Red Team T1552.005-style behaviours -- AWS IMDSv1 and the atomic's IMDSv2
#               three-step flow, the Azure managed-identity token, the GCP service-account token via
#               metadata.google.internal, python3 urllib reading AWS credentials, and AWS over IPv6;
# 4. stops auditd, splits the log per phase (by audit key), runs `tripline scan` on each phase log and
#    on the trimmed log of our own processes, and compares the IMDS rule ids that fired, per process,
#    with the expected ones. Prints a PASS/FAIL table; exit 0 only if everything passed.
#
# Cleanup (trap, also on failure or Ctrl-C): auditctl -D; auditctl -e 0; stop the servers and auditd;
# ip netns del; rm /etc/netns/<ns>.
#
# Environment: TRIPLINE   binary to test (default: target/debug/tripline)
#              SAVE_TESTDATA=1  also write testdata/e2e/imds-real-audit.{log,expect.json} from this run
#              KEEP_WORK=1      keep the temp dir (audit.log, phase logs, alerts) even on success
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TRIPLINE=${TRIPLINE:-$REPO/target/debug/tripline}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
HELPER=("$PY" "$HERE/audit_events.py")

KEY=tripline-e2e-$$
KEY_BENIGN=$KEY-benign
KEY_ATTACK=$KEY-attack
NS=tripline-imds-$$
META=169.254.169.254
META6=fd00:ec2::254

R_TOOL=fb91c4e7-6564-4404-b3b1-a14a98484434
R_CRED=3861e693-631c-4d6d-a4f9-6f07fdabffad
R_NET=b5e166e7-9433-4aed-ab01-ddfbd8b1ee1b
R_SEQ=fccccbe0-1d40-4060-9499-b5147a6172b1

# proxies would send the namespace's requests elsewhere
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

log() { printf '[imds-e2e] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------------------- cleanup
WORK=
AUDITD_PID=
AUDIT_TOUCHED=0
NS_CREATED=0
ETC_NETNS_CREATED=0
SERVER_PIDS=()
RUNNING_PID=

cleanup() {
    local rc=$?
    set +e
    if [[ $AUDIT_TOUCHED == 1 ]]; then
        auditctl -D >/dev/null 2>&1
        auditctl -e 0 >/dev/null 2>&1
    fi
    for p in $RUNNING_PID "${SERVER_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in $RUNNING_PID "${SERVER_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    if [[ -n $AUDITD_PID ]]; then
        kill -TERM "$AUDITD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$AUDITD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$AUDITD_PID" 2>/dev/null
        wait "$AUDITD_PID" 2>/dev/null
    fi
    if [[ $NS_CREATED == 1 ]]; then
        ip netns del "$NS" 2>/dev/null
    fi
    rm -rf "/etc/netns/$NS"
    [[ $ETC_NETNS_CREATED == 1 ]] && rmdir /etc/netns 2>/dev/null
    if [[ -n $WORK ]]; then
        if [[ $rc == 0 && -z ${KEEP_WORK:-} ]]; then
            rm -rf "$WORK"
        else
            log "work directory kept: $WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------------------------------- preflight
[[ $EUID == 0 ]] || die "must run as root (auditd, auditctl, ip netns)"
for c in auditd auditctl ip curl; do
    command -v "$c" >/dev/null || die "missing command: $c"
done
[[ -x $TRIPLINE ]] || die "tripline binary not found at $TRIPLINE (cargo build, or set TRIPLINE)"

status=$(auditctl -s) || die "auditctl -s failed (no kernel audit support?)"
other_pid=$(awk '$1 == "pid" {print $2}' <<<"$status")
enabled=$(awk '$1 == "enabled" {print $2}' <<<"$status")
if [[ ${other_pid:-0} != 0 ]]; then
    die "another audit daemon (pid $other_pid) is registered with the kernel; refusing to fight it. Stop it first (e.g. systemctl stop auditd) and re-run."
fi
[[ $enabled != 2 ]] || die "kernel audit configuration is locked (enabled=2); cannot run"
existing=$(auditctl -l)
if [[ $existing != "No rules" ]]; then
    die "audit rules already loaded; this test clears all rules on exit (auditctl -D) and will not run over them
(rules keyed tripline-e2e-* are leftovers of a killed run of this test: remove them with auditctl -D):
$existing"
fi
ip netns list | grep -qw "$NS" && die "network namespace $NS already exists"

WORK=$(mktemp -d /tmp/tripline-imds-e2e.XXXXXX)
chmod 700 "$WORK"
mkdir -p "$WORK/conf/plugins.d" "$WORK/out"

# ------------------------------------------------------------------------------------ private auditd
cat >"$WORK/conf/auditd.conf" <<EOF
local_events = yes
write_logs = yes
log_file = $WORK/audit.log
log_format = ENRICHED
flush = DATA
max_log_file = 100
num_logs = 2
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
plugin_dir = $WORK/conf/plugins.d
end_of_event_timeout = 2
EOF
chmod 640 "$WORK/conf/auditd.conf"

AUDIT_TOUCHED=1 # auditd enables kernel audit when it starts
auditd -n -c "$WORK/conf" >"$WORK/auditd.out" 2>&1 &
AUDITD_PID=$!
for _ in $(seq 50); do
    kill -0 "$AUDITD_PID" 2>/dev/null || { cat "$WORK/auditd.out" >&2; AUDITD_PID=; die "auditd exited at start"; }
    [[ $(auditctl -s | awk '$1 == "pid" {print $2}') == "$AUDITD_PID" ]] && break
    sleep 0.1
done
[[ $(auditctl -s | awk '$1 == "pid" {print $2}') == "$AUDITD_PID" ]] || die "auditd (pid $AUDITD_PID) did not register with the kernel"
log "auditd pid $AUDITD_PID writing $WORK/audit.log"

# ------------------------------------------------------------------------------- namespace + servers
ip netns add "$NS"
NS_CREATED=1
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$META/32" dev lo
ip -n "$NS" -6 addr add "$META6/128" dev lo nodad
[[ -d /etc/netns ]] || ETC_NETNS_CREATED=1
mkdir -p "/etc/netns/$NS"
printf '127.0.0.1 localhost\n::1 localhost\n%s metadata.google.internal metadata\n' "$META" >"/etc/netns/$NS/hosts"

start_server() {
    ip netns exec "$NS" "$PY" "$HERE/fake_imds.py" "$@" >>"$WORK/servers.log" 2>&1 &
    SERVER_PIDS+=($!)
}
start_server --bind "$META" --port 80
start_server --bind "$META6" --port 80
start_server --bind 127.0.0.1 --port 8080 --plain

# readiness: before any audit rule exists, so these requests are not recorded
for url in "http://$META/healthz" "http://[$META6]/healthz" "http://127.0.0.1:8080/healthz"; do
    for _ in $(seq 50); do
        ip netns exec "$NS" curl -s -g -m 1 -o /dev/null "$url" && break
        sleep 0.1
    done
    ip netns exec "$NS" curl -sf -g -m 1 -o /dev/null "$url" || { cat "$WORK/servers.log" >&2; die "fake server not answering at $url"; }
done
log "namespace $NS ready (fake IMDS on $META and [$META6], plain server on 127.0.0.1:8080)"

# --------------------------------------------------------------------------------------- audit rules
add_rules() { # KEY
    auditctl -a always,exit -F arch=b64 -S execve -k "$1" >/dev/null
    auditctl -a always,exit -F arch=b64 -S connect -k "$1" >/dev/null
    auditctl -a always,exit -F arch=b32 -S execve -k "$1" >/dev/null 2>&1 || log "note: no b32 execve rule"
    auditctl -a always,exit -F arch=b32 -S connect -k "$1" >/dev/null 2>&1 || log "note: no b32 connect rule"
}

# run_ns PHASE BEHAVIOUR CONNECTS EXPECTED_RULE_IDS COMMAND... : runs COMMAND in the namespace
# (ip netns exec execs in place, so $! is the pid of the command itself), records it in runs.tsv;
# its stdout is in $WORK/out/BEHAVIOUR
run_ns() {
    local phase=$1 behaviour=$2 connects=$3 expected=$4
    shift 4
    local rc=0 pid
    ip netns exec "$NS" "$@" >"$WORK/out/$behaviour" 2>"$WORK/out/$behaviour.err" &
    pid=$!
    RUNNING_PID=$pid
    wait "$pid" || rc=$?
    RUNNING_PID=
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$behaviour" "$pid" "$rc" "$connects" "$expected" "$*" >>"$WORK/runs.tsv"
    if [[ $rc != 0 ]]; then
        cat "$WORK/out/$behaviour.err" >&2
        die "$behaviour: command failed with exit code $rc: $*"
    fi
}
# sync_log: auditd writes asynchronously, and records still in the kernel backlog are lost when
# recording stops. Run a sentinel exec (recorded by the execve rule) and wait (up to 10 s) until
# its record is in the log: auditd writes in order, so everything before it is there too.
sync_log() {
    local pid
    /bin/true & pid=$!
    wait "$pid" || true
    for _ in $(seq 100); do
        grep -q " pid=$pid .*SYSCALL=execve" "$WORK/audit.log" 2>/dev/null && return 0
        sleep 0.1
    done
    log "warning: the sentinel exec (pid $pid) did not reach the log within 10 s"
}
expect_body() { # BEHAVIOUR SUBSTRING
    grep -q -- "$2" "$WORK/out/$1" || { cat "$WORK/out/$1" >&2; die "$1: response lacks '$2'"; }
}

# ---- phase 1: benign
add_rules "$KEY_BENIGN"
auditctl -e 1 >/dev/null
run_ns benign benign-imdsv2-token-put-carveout 1 "" \
    curl -s -X PUT "http://$META/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600"
expect_body benign-imdsv2-token-put-carveout AQAEA
run_ns benign benign-curl-loopback-server 1 "" \
    curl -s http://127.0.0.1:8080/healthz
expect_body benign-curl-loopback-server ok
sync_log
auditctl -D -k "$KEY_BENIGN" >/dev/null

# ---- phase 2: attack (Atomic Red Team T1552.005-style)
add_rules "$KEY_ATTACK"
run_ns attack aws-imdsv1-credentials 1 "$R_TOOL,$R_CRED,$R_NET,$R_SEQ" \
    curl -s "http://$META/latest/meta-data/iam/security-credentials/"
expect_body aws-imdsv1-credentials tripline-e2e-role
# the atomic's IMDSv2 flow, step by step (token PUT -> role name -> role credentials)
run_ns attack aws-imdsv2-1-token-put 1 "" \
    curl -s --connect-timeout 2 -m 5 -X PUT "http://$META/latest/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 21600"
token=$(cat "$WORK/out/aws-imdsv2-1-token-put")
[[ $token == AQAEA* ]] || die "IMDSv2 token PUT returned no token"
run_ns attack aws-imdsv2-2-role-name 1 "$R_CRED" \
    curl -s --connect-timeout 2 -m 5 -H "X-aws-ec2-metadata-token: $token" "http://$META/latest/meta-data/iam/security-credentials/"
role=$(cat "$WORK/out/aws-imdsv2-2-role-name")
[[ $role == tripline-e2e-role ]] || die "IMDSv2 role lookup returned '$role'"
run_ns attack aws-imdsv2-3-role-credentials 1 "$R_CRED" \
    curl -s --connect-timeout 2 -m 5 -H "X-aws-ec2-metadata-token: $token" "http://$META/latest/meta-data/iam/security-credentials/$role" -o "$WORK/out/T1552.005_aws_imds_creds.json"
grep -q AccessKeyId "$WORK/out/T1552.005_aws_imds_creds.json" || die "IMDSv2 credentials not retrieved"
run_ns attack azure-managed-identity-token 1 "$R_CRED" \
    curl -s -H Metadata:true "http://$META/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/"
expect_body azure-managed-identity-token access_token
run_ns attack gcp-service-account-token 1 "$R_TOOL,$R_CRED,$R_NET,$R_SEQ" \
    curl -s -H "Metadata-Flavor: Google" http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
expect_body gcp-service-account-token access_token
run_ns attack python3-urllib-aws-credentials 1 "$R_TOOL,$R_CRED,$R_NET,$R_SEQ" \
    "$PY" -c "import urllib.request as u; print(u.urlopen('http://$META/latest/meta-data/iam/security-credentials/', timeout=5).read().decode())"
expect_body python3-urllib-aws-credentials tripline-e2e-role
run_ns attack aws-ipv6-credentials 1 "$R_TOOL,$R_CRED,$R_NET,$R_SEQ" \
    curl -s -g "http://[$META6]/latest/meta-data/iam/security-credentials/"
expect_body aws-ipv6-credentials tripline-e2e-role
sync_log

# stop recording, stop auditd (flushes and closes the log)
auditctl -D >/dev/null
auditctl -e 0 >/dev/null
kill -TERM "$AUDITD_PID"
for _ in $(seq 50); do kill -0 "$AUDITD_PID" 2>/dev/null || break; sleep 0.1; done
wait "$AUDITD_PID" 2>/dev/null || true
AUDITD_PID=
log "recording done: $(wc -l <"$WORK/audit.log") lines in $WORK/audit.log"

# ------------------------------------------------------------------------------------------ analysis
"${HELPER[@]}" manifest "$WORK/runs.tsv" "$WORK/expect.json" >&2
"${HELPER[@]}" split "$WORK/audit.log" "$KEY_BENIGN" "$WORK/benign.log" >&2
"${HELPER[@]}" split "$WORK/audit.log" "$KEY_ATTACK" "$WORK/attack.log" >&2
"${HELPER[@]}" trim "$WORK/audit.log" "$WORK/expect.json" "$WORK/trimmed.log" >&2

FAIL=0
echo "== raw audit records (independent of tripline): execve and connect() per process"
"${HELPER[@]}" raw "$WORK/trimmed.log" "$WORK/expect.json" || FAIL=1

scan() { # NAME LOG EXPECTED_EXIT
    local rc=0
    "$TRIPLINE" scan "$2" >"$WORK/$1.ndjson" 2>"$WORK/$1.stderr" || rc=$?
    local n
    n=$(grep -c . "$WORK/$1.ndjson" || true)
    if [[ $rc == "$3" ]]; then
        echo "  scan $1: exit $rc (expected $3), $n alert(s)  PASS"
    else
        echo "  scan $1: exit $rc (expected $3), $n alert(s)  FAIL"
        sed 's/^/    stderr: /' "$WORK/$1.stderr" | head -20
        FAIL=1
    fi
}

echo "== tripline scan, per phase log (events recorded under each phase's audit key)"
scan benign "$WORK/benign.log" 0
scan attack "$WORK/attack.log" 1
echo "== IMDS rule ids per process: benign phase log"
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/benign.ndjson" benign || FAIL=1
echo "== IMDS rule ids per process: attack phase log"
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/attack.ndjson" attack || FAIL=1
echo "== tripline scan of the trimmed log (only this run's processes, both phases)"
scan trimmed "$WORK/trimmed.log" 1
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/trimmed.ndjson" all || FAIL=1

if [[ -n ${SAVE_TESTDATA:-} ]]; then
    mkdir -p "$REPO/testdata/e2e"
    cp "$WORK/trimmed.log" "$REPO/testdata/e2e/imds-real-audit.log"
    cp "$WORK/expect.json" "$REPO/testdata/e2e/imds-real-audit.expect.json"
    log "saved testdata/e2e/imds-real-audit.log and .expect.json"
fi

if [[ $FAIL == 0 ]]; then
    echo "RESULT: PASS"
else
    echo "RESULT: FAIL"
fi
exit "$FAIL"
