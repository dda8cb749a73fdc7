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
#    benign   : an IMDSv2 token PUT in the agent carve-out form, curl to the loopback server, and an
#               IMDSv1 request by curl under a cloud agent's parent executable
#               (/usr/share/ec2-instance-connect/eic_tripline_test, installed for the run)
#    attack   : the Atomic Red Team T1552.005-style behaviours -- AWS IMDSv1 and the atomic's IMDSv2
#               three-step flow, the Azure managed-identity token, the GCP service-account token via
#               metadata.google.internal, python3 urllib reading AWS credentials, and AWS over IPv6;
# 4. stops auditd, splits the log per phase (by audit key), runs `tripline scan` on each phase log and
#    on the trimmed log of our own processes, and compares the IMDS rule ids that fired, per process,
#    with the expected ones. Prints a PASS/FAIL table; exit 0 only if everything passed.
#
# Each behaviour runs as the child of its own parent shell, started after the audit rules were loaded
# (`ip netns exec NS sh WORK/run/BEHAVIOUR.sh`, the script starting the tool and waiting for it),
# so the parent's exec is in the log too and process.parent.{executable,entity_id} of the tool's events
# are known -- as on a host where auditd was running when the parent started. The runner script keeps
# the tool's arguments off the parent's command line.
#
# Cleanup (trap, also on failure or Ctrl-C): auditctl -D; auditctl -e 0; stop the servers and auditd;
# ip netns del; rm /etc/netns/<ns>; remove the cloud-agent stand-in (and its directory if we made it).
#
# Kernel audit is global: on a shared machine run it as `flock /tmp/auditd.lock tests/e2e/imds_real_auditd.sh`.
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
# shellcheck source=tests/e2e/lib.sh
source "$HERE/lib.sh"

KEY=tripline-e2e-$$
KEY_BENIGN=$KEY-benign
KEY_ATTACK=$KEY-attack
NS=tripline-imds-$$
META=169.254.169.254
META6=fd00:ec2::254
# A parent executable from the exclusion lists of seed 003 and of the rule pack (`/usr/share/ec2-instance-connect/*`)
AGENT_DIR=/usr/share/ec2-instance-connect
AGENT=$AGENT_DIR/eic_tripline_test

R_TOOL=fb91c4e7-6564-4404-b3b1-a14a98484434
R_CRED=3861e693-631c-4d6d-a4f9-6f07fdabffad
R_NET=b5e166e7-9433-4aed-ab01-ddfbd8b1ee1b
R_SEQ=fccccbe0-1d40-4060-9499-b5147a6172b1

# a standard root PATH: the recorded PATH searches (failed execve of sh) do not depend on the caller's
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# proxies would send the namespace's requests elsewhere
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

log() { printf '[imds-e2e] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------------------- cleanup
WORK=
NS_CREATED=0
ETC_NETNS_CREATED=0
AGENT_CREATED=0
AGENT_DIR_CREATED=0
SERVER_PIDS=()
RUNNING_PID=

cleanup() {
    local rc=$?
    set +e
    e2e_audit_cleanup
    for p in $RUNNING_PID "${SERVER_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in $RUNNING_PID "${SERVER_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    if [[ $NS_CREATED == 1 ]]; then
        ip netns del "$NS" 2>/dev/null
    fi
    rm -rf "/etc/netns/$NS"
    [[ $ETC_NETNS_CREATED == 1 ]] && rmdir /etc/netns 2>/dev/null
    [[ $AGENT_CREATED == 1 ]] && rm -f "$AGENT"
    [[ $AGENT_DIR_CREATED == 1 ]] && rmdir "$AGENT_DIR" 2>/dev/null
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

e2e_audit_preflight
[[ -e $AGENT ]] && die "$AGENT exists; this test installs (and removes) a file of that name and will not replace it"
ip netns list | grep -qw "$NS" && die "network namespace $NS already exists"

WORK=$(mktemp -d /tmp/tripline-imds-e2e.XXXXXX)
chmod 700 "$WORK"
mkdir -p "$WORK/out" "$WORK/run"

# ------------------------------------------------------------------------------------ private auditd
e2e_auditd_start

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

# ------------------------------------------------------------------------- cloud agent stand-in
[[ -d $AGENT_DIR ]] || { mkdir -p "$AGENT_DIR"; AGENT_DIR_CREATED=1; }
AGENT_CREATED=1
install -m 0755 "$(readlink -f /bin/sh)" "$AGENT"
log "cloud agent stand-in: $AGENT (a copy of $(readlink -f /bin/sh))"

# --------------------------------------------------------------------------------------- audit rules
add_rules() { # KEY
    auditctl -a always,exit -F arch=b64 -S execve -k "$1" >/dev/null
    auditctl -a always,exit -F arch=b64 -S connect -k "$1" >/dev/null
    auditctl -a always,exit -F arch=b32 -S execve -k "$1" >/dev/null 2>&1 || log "note: no b32 execve rule"
    auditctl -a always,exit -F arch=b32 -S connect -k "$1" >/dev/null 2>&1 || log "note: no b32 connect rule"
}

# sq ARG: ARG quoted for a POSIX shell script
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# run_ns PHASE BEHAVIOUR CONNECTS EXPECTED_RULE_IDS COMMAND... : runs COMMAND in the namespace as the
# child of a fresh parent: `ip netns exec NS PARENT WORK/run/BEHAVIOUR.sh` (PARENT: $RUN_PARENT, default
# sh; ip execs it in place, searching PATH for a bare name, which leaves failed execve records in the
# log as a shell's PATH search does), the script starting COMMAND in the background, writing its pid and
# waiting for it. The parent's exec happens while the audit rules are loaded, so it is in the log, and
# COMMAND is not on the parent's command line. Records tool pid and parent pid in runs.tsv; COMMAND's
# stdout is in $WORK/out/BEHAVIOUR.
run_ns() {
    local phase=$1 behaviour=$2 connects=$3 expected=$4
    shift 4
    local parent=${RUN_PARENT:-sh} script=$WORK/run/$behaviour.sh pidfile=$WORK/run/$behaviour.pid
    local rc=0 ppid pid a
    {
        printf '# %s: the parent of the tool process (written by imds_real_auditd.sh)\n' "$behaviour"
        for a in "$@"; do printf '%s ' "$(sq "$a")"; done
        printf '&\necho $! >%s\nwait $!\n' "$(sq "$pidfile")"
    } >"$script"
    ip netns exec "$NS" "$parent" "$script" >"$WORK/out/$behaviour" 2>"$WORK/out/$behaviour.err" &
    ppid=$!
    RUNNING_PID=$ppid
    wait "$ppid" || rc=$?
    RUNNING_PID=
    pid=$(cat "$pidfile" 2>/dev/null) || true
    [[ $pid =~ ^[0-9]+$ ]] || die "$behaviour: no pid from the runner script (exit code $rc)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$phase" "$behaviour" "$pid" "$rc" "$connects" "$expected" "$*" \
        "$ppid" "$parent" >>"$WORK/runs.tsv"
    if [[ $rc != 0 ]]; then
        cat "$WORK/out/$behaviour.err" >&2
        die "$behaviour: command failed with exit code $rc: $*"
    fi
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
# A cloud agent's helper reading the instance id (IMDSv1, no carve-out form): only its parent executable,
# on the exclusion lists of seed 003 and of the rule pack, makes it benign. The stand-in is an ELF copy of
# the shell, not a #! script: for a script the kernel (so auditd's exe=, and process.executable) names
# the interpreter, and the parent executable would be /usr/bin/dash.
RUN_PARENT=$AGENT run_ns benign benign-cloud-agent-parent 1 "" \
    curl -s "http://$META/latest/meta-data/instance-id"
expect_body benign-cloud-agent-parent i-0fake
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
e2e_audit_stop
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
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/benign.ndjson" benign "$WORK/benign.log" || FAIL=1
echo "== IMDS rule ids per process: attack phase log"
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/attack.ndjson" attack "$WORK/attack.log" || FAIL=1
echo "== tripline scan of the trimmed log (only this run's processes, both phases)"
scan trimmed "$WORK/trimmed.log" 1
"${HELPER[@]}" check "$WORK/expect.json" "$WORK/trimmed.ndjson" all "$WORK/trimmed.log" || FAIL=1

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
