#!/usr/bin/env python3
"""Torture test for `tripline tail`: rotation + kill -9 at random moments, exactly-once alerts.

A writer thread appends auditd events (copies of the real IMDS capture in
testdata/e2e/imds-real-audit.log, each with a fresh unique time stamp and
serial) to WORK/audit.log at a high rate, sometimes splitting a line across two
writes (a partial last line must wait for its newline). Every so often it
rotates the log, alternating:

  rename        gzip audit.log.1 -> audit.log.N.gz (if any), mv audit.log audit.log.1,
                reopen audit.log (auditd's and logrotate's default)
  copytruncate  gzip audit.log.1 (if any), cp audit.log audit.log.1, truncate audit.log
                (the writer keeps its O_APPEND fd)

so old files are gzipped one rotation later (logrotate's delaycompress). Meanwhile
the driver starts `tripline tail --state-dir ST -o alerts.ndjson audit.log`
and, at random moments, kills it with SIGKILL (sometimes SIGTERM) and restarts
it, CYCLES times. At the end it lets the last tripline catch up, stops it, and
compares the alerts in alerts.ndjson with `tripline scan` over everything the
writer wrote (in write order): the multisets of (rule id, @timestamp,
event.sequence) must be equal -- no alert lost, none duplicated.

Usage: tail_torture.py --tripline BIN [--cycles 50] [--rate 1000] [--seed N] [--work DIR]
Exit 0 on PASS. Prints a one-line summary.
"""

import argparse
import collections
import gzip
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TEMPLATE = os.path.join(REPO, "testdata", "e2e", "imds-real-audit.log")
HDR = re.compile(rb"msg=audit\((\d+\.\d+):(\d+)\)")


def load_events(path):
    groups = collections.OrderedDict()
    with open(path, "rb") as f:
        for line in f:
            m = HDR.search(line)
            if not m:
                continue
            groups.setdefault(m.group(0), []).append(line.rstrip(b"\n"))
    return list(groups.values())


class Writer(threading.Thread):
    def __init__(self, work, events, rate, rotate_every, rng):
        super().__init__(daemon=True)
        self.work = work
        self.log = os.path.join(work, "audit.log")
        # Not beside audit.log: its start is the first log file's start, so
        # tripline would rightly take it for a copy of that file.
        os.makedirs(os.path.join(work, "truth"), exist_ok=True)
        self.truth = open(os.path.join(work, "truth", "truth.log"), "wb")
        self.events = events
        self.rate = rate
        self.rotate_every = rotate_every
        self.rng = rng
        self.stop = threading.Event()
        self.written = 0
        self.rotations = collections.Counter()
        self.gz = 0
        self.fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def stamp(self, n):
        ms = 1_900_000_000_000 + 7 * n
        return b"msg=audit(%d.%03d:%d)" % (ms // 1000, ms % 1000, 1_000_000 + n)

    def gzip_old(self):
        old = self.log + ".1"
        if os.path.exists(old):
            self.gz += 1
            with open(old, "rb") as src, gzip.open("%s.%d.gz" % (self.log, self.gz + 1), "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.unlink(old)

    def rotate(self, kind):
        self.gzip_old()
        if kind == "rename":
            os.rename(self.log, self.log + ".1")
            os.close(self.fd)
            self.fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        else:
            shutil.copyfile(self.log, self.log + ".1")
            os.truncate(self.log, 0)
        self.rotations[kind] += 1

    def run(self):
        n = 0
        kinds = ["rename", "copytruncate"]
        next_rot = time.monotonic() + self.rotate_every * self.rng.uniform(0.5, 1.5)
        t0 = time.monotonic()
        while not self.stop.is_set():
            ev = self.events[n % len(self.events)]
            stamp = self.stamp(n)
            data = b"".join(HDR.sub(stamp, l) + b"\n" for l in ev)
            self.truth.write(data)
            if self.rng.random() < 0.05:
                # A partial line: the reader must wait for the rest.
                cut = self.rng.randrange(1, len(data))
                os.write(self.fd, data[:cut])
                time.sleep(0.002)
                os.write(self.fd, data[cut:])
            else:
                os.write(self.fd, data)
            n += 1
            self.written = n
            if time.monotonic() >= next_rot:
                self.rotate(kinds[sum(self.rotations.values()) % 2])
                next_rot = time.monotonic() + self.rotate_every * self.rng.uniform(0.5, 1.5)
            # pace to `rate` events per second
            ahead = n / self.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
        self.truth.close()
        os.close(self.fd)


def alert_keys(path):
    keys = collections.Counter()
    bad = 0
    with open(path, "rb") as f:
        for line in f:
            try:
                a = json.loads(line)
            except ValueError:
                bad += 1
                continue
            evs = a["tripline"]["events"]
            keys[(a["rule"]["id"],) + tuple((e.get("@timestamp"), e.get("event", {}).get("sequence")) for e in evs)] += 1
    return keys, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tripline", required=True)
    ap.add_argument("--cycles", type=int, default=50)
    ap.add_argument("--rate", type=int, default=1000, help="events per second")
    ap.add_argument("--rotate-every", type=float, default=1.0, help="seconds between rotations (jittered)")
    ap.add_argument("--max-run", type=float, default=1.2, help="longest run before a kill (seconds)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--warm-up", default=None, help="tripline tail --warm-up BYTES")
    ap.add_argument("--with-sequences", action="store_true",
                    help="also run and compare the pack's sequence rule (its open partials are checkpointed)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = args.work or tempfile.mkdtemp(prefix="tripline-torture.")
    os.makedirs(work, exist_ok=True)
    state = os.path.join(work, "state")
    out = os.path.join(work, "alerts.ndjson")
    errlog = open(os.path.join(work, "tripline.stderr"), "ab")
    # The IMDS pack's rules (scan and tail get the same set); the sequence rule
    # only with --with-sequences (the CI wrapper and the cargo test pass it).
    rules = os.path.join(work, "rules")
    os.makedirs(rules, exist_ok=True)
    src = os.path.join(REPO, "rules", "imds")
    for name in sorted(os.listdir(src)):
        text = open(os.path.join(src, name), encoding="utf-8").read()
        if args.with_sequences or "correlation:" not in text:
            shutil.copy(os.path.join(src, name), rules)
    cmd = [args.tripline, "tail", "--from-start", "--state-dir", state, "-o", out, "--rules", rules,
           "--checkpoint-interval", "200", os.path.join(work, "audit.log")]
    if args.warm_up:
        cmd[2:2] = ["--warm-up", args.warm_up]

    writer = Writer(work, load_events(TEMPLATE), args.rate, args.rotate_every, rng)
    writer.start()
    kills = collections.Counter()
    proc = None
    try:
        for _ in range(args.cycles):
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errlog)
            time.sleep(rng.uniform(0.05, args.max_run))
            if proc.poll() is not None:
                print("tripline exited early with %s (see %s/tripline.stderr)" % (proc.returncode, work))
                return 1
            sig = signal.SIGKILL if rng.random() < 0.8 else signal.SIGTERM
            proc.send_signal(sig)
            rc = proc.wait()
            kills[signal.Signals(sig).name] += 1
            if sig == signal.SIGTERM and rc != 0:
                print("tripline exited %s on SIGTERM (see %s/tripline.stderr)" % (rc, work))
                return 1
        writer.stop.set()
        writer.join()
        # Last run: catch up, then stop cleanly.
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errlog)
        ck_dir = state
        deadline = time.monotonic() + 120
        size = os.path.getsize(os.path.join(work, "audit.log"))
        stable_since, last = None, None
        while time.monotonic() < deadline:
            time.sleep(0.2)
            ck = None
            for name in os.listdir(ck_dir):
                if name.endswith(".json"):
                    with open(os.path.join(ck_dir, name)) as f:
                        ck = json.load(f)
            done = ck and len(ck["files"]) == 1 and ck["files"][0]["hwm"] == size and not ck["files"][0]["unreleased"]
            cur = (done, os.path.getsize(out) if os.path.exists(out) else 0)
            if done and cur == last:
                stable_since = stable_since or time.monotonic()
                if time.monotonic() - stable_since > 2.5:
                    break
            else:
                stable_since = None
            last = cur
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        proc = None
    finally:
        writer.stop.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    truth = os.path.join(work, "truth", "truth.log")
    expected_out = os.path.join(work, "expected.ndjson")
    with open(expected_out, "wb") as f:
        subprocess.run([args.tripline, "scan", "-q", "--rules", rules, truth], stdout=f, check=False)
    want, _ = alert_keys(expected_out)
    got, torn = alert_keys(out)
    missing = want - got
    dup = got - want
    summary = ("torture: seed=%d cycles=%d kills=%s events=%d rotations=%s gz=%d expected_alerts=%d got=%d "
               "missing=%d duplicated_or_extra=%d torn_lines=%d" % (
                   seed, args.cycles, dict(kills), writer.written, dict(writer.rotations), writer.gz,
                   sum(want.values()), sum(got.values()), sum(missing.values()), sum(dup.values()), torn))
    print(summary)
    ok = not missing and not dup and torn == 0 and sum(want.values()) > 0
    if not ok:
        for k, n in list(missing.items())[:5]:
            print("  missing %dx %s" % (n, k))
        for k, n in list(dup.items())[:5]:
            print("  extra   %dx %s" % (n, k))
        print("work directory kept: %s" % work)
    elif not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print("RESULT: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
