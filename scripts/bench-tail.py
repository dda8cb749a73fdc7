#!/usr/bin/env python3
"""Resource and latency benchmark for `tripline tail`.

Appends auditd events (copies of testdata/e2e/imds-real-audit.log with fresh
time stamps and serials, each event written with one write(2) the way auditd
does) to a log at RATE events/s for DURATION seconds while `tripline tail`
follows it, and reports:

  cpu        tripline's user+system CPU time / wall time (share of one core)
  rss        peak resident set size (VmHWM)
  latency    write-to-alert latency p50/p99/max over the alerts: from the write
             of an event's last record to the moment its alert line appears in
             the output file (read with inotify-free polling every 1 ms)

Usage: bench-tail.py [--tripline target/release/tripline] [--rate 1000] [--duration 60]
Prints one summary line; exit 0.
"""

import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HDR = re.compile(rb"msg=audit\((\d+\.\d+):(\d+)\)")


def load_events(path):
    groups = collections.OrderedDict()
    with open(path, "rb") as f:
        for line in f:
            m = HDR.search(line)
            if m:
                groups.setdefault(m.group(0), []).append(line.rstrip(b"\n"))
    return list(groups.values())


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tck


def proc_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tripline", default=os.path.join(REPO, "target", "release", "tripline"))
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--alert-every", type=int, default=100,
                    help="every Nth event is an IMDS hit (the rest are benign events of the same capture)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tripline-bench.")
    log = os.path.join(work, "audit.log")
    os.makedirs(os.path.join(work, "out"))
    out = os.path.join(work, "out", "alerts.ndjson")
    open(log, "wb").close()
    proc = subprocess.Popen([args.tripline, "tail", "-q", "--state-dir", os.path.join(work, "st"), "-o", out, log],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "stderr"), "wb"))
    time.sleep(0.5)
    template = os.path.join(REPO, "testdata", "e2e", "imds-real-audit.log")
    events = load_events(template)
    # Split the capture into events that alert and events that do not.
    res = subprocess.run([args.tripline, "scan", "-q", template], capture_output=True)
    hit_serials = {json.loads(l)["tripline"]["events"][-1]["event"]["sequence"] for l in res.stdout.splitlines() if l}
    hits = [e for e in events if int(HDR.search(e[0]).group(2)) in hit_serials]
    benign = [e for e in events if int(HDR.search(e[0]).group(2)) not in hit_serials]
    written = {}  # serial -> monotonic time of the write
    arrived = {}
    stop = threading.Event()

    def reader():
        pos = 0
        buf = b""
        while True:
            try:
                with open(out, "rb") as f:
                    f.seek(pos)
                    data = f.read()
            except FileNotFoundError:
                data = b""
            now = time.monotonic()
            if data:
                pos += len(data)
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    a = json.loads(line)
                    seq = a["tripline"]["events"][-1]["event"]["sequence"]
                    arrived.setdefault(seq, now)
            elif stop.is_set():
                break
            else:
                time.sleep(0.001)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    cpu0 = proc_cpu(proc.pid)
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < args.duration:
        ev = hits[(n // args.alert_every) % len(hits)] if n % args.alert_every == 0 else benign[n % len(benign)]
        serial = 5_000_000 + n
        ms = 1_900_000_000_000 + n
        stamp = b"msg=audit(%d.%03d:%d)" % (ms // 1000, ms % 1000, serial)
        os.write(fd, b"".join(HDR.sub(stamp, l) + b"\n" for l in ev))
        written[serial] = time.monotonic()
        n += 1
        ahead = n / args.rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    wall = time.monotonic() - t0
    cpu1 = proc_cpu(proc.pid)
    time.sleep(1.5)
    stop.set()
    t.join(timeout=5)
    hwm = proc_hwm_kb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    os.close(fd)
    lat = [(arrived[s] - written[s]) * 1000 for s in arrived if s in written]
    print("bench-tail: rate=%d/s duration=%.0fs events=%d alerting_events=1/%d alerts=%d cpu=%.2f%% of one core peak_rss=%.1f MB "
          "latency_ms p50=%.1f p99=%.1f max=%.1f" % (
              args.rate, wall, n, args.alert_every, len(arrived), 100 * (cpu1 - cpu0) / wall, hwm / 1024.0,
              pct(lat, 50), pct(lat, 99), max(lat) if lat else float("nan")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
