#!/usr/bin/env python3
"""Helpers for imds_real_auditd.sh (standard library only).

  split LOG KEY OUT            keep the events (all records of one serial) whose SYSCALL carries key=KEY
  trim LOG MANIFEST OUT        keep the events whose SYSCALL pid is one of the manifest's processes or
                               of their parents
  raw LOG MANIFEST             sanity check of the raw log, independent of tripline: each manifest
                               process and its parent have an execve event, and the process (when it
                               should) a connect() event
  manifest TSV OUT             build the manifest JSON from the script's tab-separated run list
                               (phase, behaviour, pid, exit code, connects 0/1, expected rule ids, command,
                               parent pid, parent executable)
  check MANIFEST NDJSON PHASE [LOG]
                               compare tripline alerts with the manifest's expected rule ids per process;
                               prints one PASS/FAIL row per process, exits 1 on any FAIL; with LOG, a FAIL
                               row also shows the process's exec-to-metadata-connect gap (the sequence
                               rule's maxspan is 1 s: a loaded machine can start curl slower than that)

An auditd event is every record sharing `msg=audit(SECONDS.MILLIS:SERIAL)`; auditd writes the records of
one event contiguously, and this file never reorders them.
"""

import json
import re
import sys
from collections import OrderedDict

HDR = re.compile(r"msg=audit\((\d+\.\d+):(\d+)\)")
# ENRICHED format appends the interpreted fields after a 0x1d separator: look only before it.
FIELD = lambda name: re.compile(r"(?:^| )" + name + r"=(\"[^\"]*\"|\S+)")
KEY_RE, PID_RE, SYSNO_RE = FIELD("key"), FIELD("pid"), FIELD("syscall")

IMDS_RULES = {
    "fb91c4e7-6564-4404-b3b1-a14a98484434": "suspicious-tool",
    "34d7697e-d698-45ea-90f6-341ab139fa88": "unusual-location",
    "3861e693-631c-4d6d-a4f9-6f07fdabffad": "credential-path",
    "b5e166e7-9433-4aed-ab01-ddfbd8b1ee1b": "network-connection",
    "fccccbe0-1d40-4060-9499-b5147a6172b1": "exec-then-connect-sequence",
}


def events(path):
    """Yields (serial_id, [lines]) in file order; lines without an audit header are skipped."""
    groups = OrderedDict()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            m = HDR.search(line)
            if not m:
                continue
            groups.setdefault(m.group(1) + ":" + m.group(2), []).append(line)
    return groups.items()


def syscall_field(lines, rx):
    for line in lines:
        if line.startswith("type=SYSCALL "):
            m = rx.search(line.split("\x1d", 1)[0])
            if m:
                return m.group(1).strip('"')
    return None


def load_manifest(path):
    with open(path) as f:
        return json.load(f)


def cmd_manifest(tsv, out):
    procs = []
    with open(tsv) as f:
        for line in f:
            (phase, behaviour, pid, rc, connects, expected, command, ppid,
             parent) = line.rstrip("\n").split("\t")
            procs.append({"phase": phase, "behaviour": behaviour, "pid": int(pid), "exit_code": int(rc),
                          "connects": connects == "1",
                          "expected_rules": [r for r in expected.split(",") if r],
                          "command": command, "parent_pid": int(ppid), "parent_executable": parent})
    with open(out, "w") as o:
        json.dump({"rules": IMDS_RULES, "processes": procs}, o, indent=2)
        o.write("\n")
    print(f"{out}: {len(procs)} processes")


def cmd_split(log, key, out):
    n = 0
    with open(out, "w", encoding="utf-8", errors="surrogateescape") as o:
        for _, lines in events(log):
            if syscall_field(lines, KEY_RE) == key:
                o.writelines(lines)
                n += 1
    print(f"{out}: {n} events with key {key}")


def cmd_trim(log, manifest, out):
    procs = load_manifest(manifest)["processes"]
    pids = {str(p["pid"]) for p in procs} | {str(p["parent_pid"]) for p in procs}
    n = 0
    with open(out, "w", encoding="utf-8", errors="surrogateescape") as o:
        for _, lines in events(log):
            if syscall_field(lines, PID_RE) in pids:
                o.writelines(lines)
                n += 1
    print(f"{out}: {n} events of {len(pids)} processes (tools and their parents)")


def cmd_raw(log, manifest):
    man = load_manifest(manifest)
    seen = {}
    for _, lines in events(log):
        pid = syscall_field(lines, PID_RE)
        sysno = syscall_field(lines, SYSNO_RE)
        if pid is None:
            continue
        d = seen.setdefault(pid, {"execve": 0, "connect": 0, "sockaddr": []})
        if sysno == "59":
            d["execve"] += 1
        elif sysno == "42":
            d["connect"] += 1
            for line in lines:
                if line.startswith("type=SOCKADDR "):
                    d["sockaddr"].append(line.split("\x1d", 1)[-1].strip())
    bad = 0
    for p in man["processes"]:
        none = {"execve": 0, "connect": 0, "sockaddr": []}
        d = seen.get(str(p["pid"]), none)
        pd = seen.get(str(p["parent_pid"]), none)
        ok = d["execve"] >= 1 and (d["connect"] >= 1 or not p.get("connects", True)) and pd["execve"] >= 1
        bad += not ok
        print(f"  raw {'ok  ' if ok else 'MISSING'} pid={p['pid']:<7} execve={d['execve']} connect={d['connect']}"
              f"  parent pid={p['parent_pid']:<7} execve={pd['execve']}  {p['behaviour']}")
    return 1 if bad else 0


def alert_pid(a):
    pid = (a.get("process") or {}).get("pid")
    if pid is None:
        evs = (a.get("tripline") or {}).get("events") or []
        if evs:
            pid = (evs[-1].get("process") or {}).get("pid")
    return pid


META_SADDR = re.compile(r"laddr=(169\.254\.169\.254|fd00:ec2::254) ")


def exec_connect_gaps(log):
    """pid -> seconds from its last successful execve to its first connect() to a metadata address."""
    execs, connects = {}, {}
    for serial, lines in events(log):
        pid = syscall_field(lines, PID_RE)
        sysno = syscall_field(lines, SYSNO_RE)
        t = float(serial.split(":")[0])
        if sysno == "59" and syscall_field(lines, FIELD("success")) == "yes":
            execs[pid] = t
        elif sysno == "42" and pid not in connects:
            if any(l.startswith("type=SOCKADDR ") and META_SADDR.search(l) for l in lines):
                connects[pid] = t
    return {pid: connects[pid] - execs[pid] for pid in connects if pid in execs}


def cmd_check(manifest, ndjson, phase, log=None):
    man = load_manifest(manifest)
    procs = [p for p in man["processes"] if phase in ("all", p["phase"])]
    fired = {}
    foreign = []
    with open(ndjson) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            a = json.loads(line)
            rid = (a.get("rule") or {}).get("id")
            if rid not in IMDS_RULES:
                continue
            pid = alert_pid(a)
            fired.setdefault(pid, set()).add(rid)
            if pid not in {p["pid"] for p in procs}:
                foreign.append((pid, rid, (a.get("process") or {}).get("command_line")))
    short = lambda ids: ",".join(sorted(IMDS_RULES[i] for i in ids)) or "-"
    bad = 0
    print(f"  {'phase':<7} {'behaviour':<34} {'pid':>7}  {'expected':<48} {'fired':<48} result")
    for p in procs:
        exp = set(p["expected_rules"])
        got = fired.get(p["pid"], set())
        ok = exp == got
        bad += not ok
        print(f"  {p['phase']:<7} {p['behaviour']:<34} {p['pid']:>7}  {short(exp):<48} {short(got):<48} "
              f"{'PASS' if ok else 'FAIL'}")
        if not ok and log:
            gap = exec_connect_gaps(log).get(str(p["pid"]))
            if gap is not None:
                print(f"    pid {p['pid']}: exec to metadata connect() took {gap:.3f} s")
    for pid, rid, cl in foreign:
        bad += 1
        print(f"  FAIL unexpected IMDS alert {IMDS_RULES[rid]} from pid {pid} not in this phase: {cl!r}")
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "manifest" and len(args) == 2:
        return cmd_manifest(*args)
    if cmd == "split" and len(args) == 3:
        return cmd_split(*args)
    if cmd == "trim" and len(args) == 3:
        return cmd_trim(*args)
    if cmd == "raw" and len(args) == 2:
        return cmd_raw(*args)
    if cmd == "check" and len(args) in (3, 4):
        return cmd_check(*args)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
