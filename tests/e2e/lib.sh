# Shared parts of the real-auditd end-to-end scripts (imds_real_auditd.sh, tail_real_auditd.sh).
# Sourced, not run. The caller defines log() and die(), sets WORK (its private temp dir) before
# e2e_auditd_start, and calls e2e_audit_cleanup from its EXIT trap.
#
#   e2e_audit_preflight  refuse to run over another audit daemon, a locked audit configuration or
#                        loaded audit rules (this test clears all rules on exit)
#   e2e_auditd_start     write WORK/conf/auditd.conf (log WORK/audit.log, ENRICHED, flush = DATA) and
#                        start a private `auditd -n -c WORK/conf`; wait until it is registered
#   sync_log             wait until everything recorded so far is in the log (sentinel exec)
#   e2e_audit_stop       sync_log, then remove all audit rules, disable audit and stop auditd
#   e2e_audit_cleanup    for the EXIT trap: remove rules, disable audit, stop auditd (TERM, then KILL)
#
# Kernel audit is global: run one of these scripts at a time (CI runs them one after the other;
# on a shared machine wrap them in `flock /tmp/auditd.lock`).

AUDITD_PID=
AUDIT_TOUCHED=0

e2e_audit_preflight() {
    local status other_pid enabled existing
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
(rules keyed tripline-e2e-* or tripline-tail-e2e-* are leftovers of a killed run: remove them with auditctl -D):
$existing"
    fi
}

e2e_auditd_start() {
    mkdir -p "$WORK/conf/plugins.d"
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
        if ! kill -0 "$AUDITD_PID" 2>/dev/null; then
            cat "$WORK/auditd.out" >&2
            AUDITD_PID=
            die "auditd exited at start"
        fi
        [[ $(auditctl -s | awk '$1 == "pid" {print $2}') == "$AUDITD_PID" ]] && break
        sleep 0.1
    done
    [[ $(auditctl -s | awk '$1 == "pid" {print $2}') == "$AUDITD_PID" ]] ||
        die "auditd (pid $AUDITD_PID) did not register with the kernel"
    log "auditd pid $AUDITD_PID writing $WORK/audit.log"
}

# sync_log: auditd writes asynchronously, and records still in the kernel backlog are lost when
# recording stops. Run a sentinel exec (recorded while an execve rule is loaded) and wait (up to
# 10 s) until its record is in the log: auditd writes in order, so everything before it is there too.
sync_log() {
    local pid
    /bin/true &
    pid=$!
    wait "$pid" || true
    for _ in $(seq 100); do
        grep -q " pid=$pid .*SYSCALL=execve" "$WORK/audit.log" 2>/dev/null && return 0
        sleep 0.1
    done
    log "warning: the sentinel exec (pid $pid) did not reach the log within 10 s"
}

_e2e_stop_auditd() {
    [[ -n $AUDITD_PID ]] || return 0
    kill -TERM "$AUDITD_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$AUDITD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$AUDITD_PID" 2>/dev/null
    wait "$AUDITD_PID" 2>/dev/null
    AUDITD_PID=
    return 0
}

# Normal end of recording: flush (sentinel), stop recording, stop auditd (it closes the log).
e2e_audit_stop() {
    sync_log
    auditctl -D >/dev/null
    auditctl -e 0 >/dev/null
    _e2e_stop_auditd || true
}

# EXIT trap part (runs with set +e): also after a failure or an interrupt.
e2e_audit_cleanup() {
    if [[ $AUDIT_TOUCHED == 1 ]]; then
        auditctl -D >/dev/null 2>&1
        auditctl -e 0 >/dev/null 2>&1
    fi
    _e2e_stop_auditd
}
