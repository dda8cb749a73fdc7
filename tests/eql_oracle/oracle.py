#!/usr/bin/env python3
"""Differential-test oracle for tripline's EQL engine: the Python `eql` package.

Generates random events and EQL queries (single-event and sequences) from a
seed, runs every query through `eql` (Elastic's reference implementation, in
Elasticsearch syntax mode), and writes one JSON document:

    {"events": [...ECS JSON...], "cases": [{"query": str, "sequence": bool,
     "expected": [[event id, ...], ...]}]}

tests/eql_oracle.rs evaluates the same queries with tripline and compares.
Test-only: tripline never depends on Python. Install the oracle with
`python3 -m pip install eql==1.0.1`.

The generator stays inside the semantics both implementations share and
documents where `eql` 1.0.1 differs from Elasticsearch (and so from tripline):
- `==`, `!=` and `in` are case-insensitive in `eql`; case-sensitive in
  Elasticsearch. Event strings are lowercase and case-sensitive operators get
  lowercase operands, so both agree.
- `eql` does not treat `?` as a wildcard in `:`; patterns use `*` only.
- `regex` is a prefix match (`re.match`) in `eql`, a whole-value match in
  Elasticsearch: patterns end in `.*`.
- `eql` evaluates `not`/`!=` on a missing field with three-valued logic;
  Elasticsearch's query translation does not. Every generated event has every
  field, so missing fields never meet a negation here.
- list-valued fields are not compared element-wise by `eql`: fields are scalars.
- `maxspan` below one second truncates to 0 in `eql`: spans are whole seconds.
"""

import argparse
import json
import random
import sys

import eql

NAMES = ["curl", "wget", "python3", "bash", "sh", "node", "nc", "ip"]
DIRS = ["/usr/bin/", "/tmp/", "/opt/agent/", "/dev/shm/"]
CMDS = [
    "curl -s http://169.254.169.254/latest/meta-data/",
    "wget -q http://10.0.0.5/x.sh",
    "python3 -c import os",
    "bash -c id",
    "sh /tmp/run.sh",
    "node server.js",
    "nc -l 4444",
    "ip addr show",
]
IPS = ["169.254.169.254", "10.0.0.5", "127.0.0.1", "192.168.1.20", "fd00:ec2::254"]
PORTS = [22, 80, 443, 8080]
USERS = ["root", "alice", "bob"]
HOSTS = ["h1", "h2"]
PARENTS = ["p1", "p2", "p3"]
CATS = ["process", "network", "file"]

STR_FIELDS = {
    "process.name": NAMES,
    "process.executable": [d + n for d in DIRS for n in NAMES],
    "process.command_line": CMDS,
    "destination.ip": IPS,
    "user.name": USERS,
    "host.id": HOSTS,
    "process.parent.entity_id": PARENTS,
}
NUM_FIELDS = {"process.pid": (1, 40), "destination.port": (0, 9000)}


def gen_event(rng, i, t):
    name = rng.choice(NAMES)
    return {
        "id": i,
        "@timestamp": t,
        "event": {"category": [rng.choice(CATS)]},
        "host": {"id": rng.choice(HOSTS)},
        "user": {"name": rng.choice(USERS)},
        "process": {
            "name": name,
            "executable": rng.choice(DIRS) + name,
            "command_line": rng.choice(CMDS),
            "pid": rng.randint(1, 40),
            "parent": {"entity_id": rng.choice(PARENTS)},
        },
        "destination": {"ip": rng.choice(IPS), "port": rng.choice(PORTS)},
    }


def q(s):
    return json.dumps(s)


def mixed_case(rng, s):
    return "".join(c.upper() if rng.random() < 0.4 else c for c in s)


def wildcard(rng, s):
    """A `*` pattern that matches `s`, or a near miss."""
    if rng.random() < 0.2:
        s = s[:-1] + "z"
    k = rng.randint(0, 3)
    if k == 0 or len(s) < 3:
        return s
    a = rng.randint(1, len(s) - 1)
    if k == 1:
        return s[:a] + "*"
    if k == 2:
        return "*" + s[a:]
    b = rng.randint(a, len(s))
    return "*" + s[a:b] + "*"


def regex_of(s):
    lit = s[: max(1, len(s) // 2)]
    out = "".join("\\\\" + c if c in ".+()[]{}|^$*?\\/" else c for c in lit)
    return out + ".*"


def atom(rng):
    k = rng.randint(0, 13)
    f = rng.choice(list(STR_FIELDS))
    v = rng.choice(STR_FIELDS[f])
    if k == 0:
        return f"{f} == {q(v)}"
    if k == 1:
        return f"{f} != {q(v)}"
    if k == 2:
        return f"{f} : {q(mixed_case(rng, wildcard(rng, v)))}"
    if k == 3:
        pats = ", ".join(q(mixed_case(rng, wildcard(rng, rng.choice(STR_FIELDS[f])))) for _ in range(rng.randint(1, 3)))
        return f"{f} : ({pats})"
    if k == 4:
        vals = ", ".join(q(x) for x in rng.sample(STR_FIELDS[f], min(3, len(STR_FIELDS[f]))))
        return f"{f} {rng.choice(['in', 'not in'])} ({vals})"
    if k == 5:
        vals = ", ".join(q(mixed_case(rng, x)) for x in rng.sample(STR_FIELDS[f], 2))
        return f"{f} in~ ({vals})"
    if k == 6:
        return f"{f} like {q(wildcard(rng, v))}"
    if k == 7:
        return f"{f} like~ {q(mixed_case(rng, wildcard(rng, v)))}"
    if k == 8:
        return f"{f} regex {q(regex_of(v))}"
    if k == 9:
        fn = rng.choice(["startsWith", "endsWith", "stringContains"])
        sub = v[: rng.randint(1, len(v))] if fn == "startsWith" else v[rng.randint(0, len(v) - 1):]
        if rng.random() < 0.5:
            return f"{fn}~({f}, {q(mixed_case(rng, sub))})"
        return f"{fn}({f}, {q(sub)})"
    if k == 10:
        nets = rng.sample(["169.254.0.0/16", "10.0.0.0/8", "127.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"], 2)
        return f"cidrMatch(destination.ip, {q(nets[0])}, {q(nets[1])})"
    if k == 11:
        return f"length({f}) {rng.choice(['==', '<', '>=', '!='])} {rng.randint(2, 20)}"
    nf = rng.choice(list(NUM_FIELDS))
    lo, hi = NUM_FIELDS[nf]
    n = rng.choice(PORTS) if nf == "destination.port" else rng.randint(lo, hi)
    return f"{nf} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} {n}"


def expr(rng, depth=0):
    r = rng.random()
    if depth >= 2 or r < 0.4:
        a = atom(rng)
        return f"not {a}" if rng.random() < 0.15 else a
    op = rng.choice(["and", "or"])
    parts = [expr(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    e = f" {op} ".join(f"({p})" for p in parts)
    return f"not ({e})" if rng.random() < 0.15 else e


def single_query(rng):
    cat = rng.choice(CATS + ["any"])
    return f"{cat} where {expr(rng)}"


def sequence_query(rng):
    n = rng.randint(2, 3)
    head = "sequence"
    if rng.random() < 0.8:
        head += " by host.id"
    if rng.random() < 0.6:
        head += f" with maxspan={rng.randint(1, 8)}s"
    per_stage = rng.random() < 0.3
    stages = []
    for _ in range(n):
        cat = rng.choice(CATS + ["any"])
        st = f"[{cat} where {expr(rng, 1)}]"
        if per_stage:
            st += " by process.parent.entity_id"
        stages.append(st)
    s = head + " " + " ".join(stages)
    if rng.random() < 0.3:
        u = f"[{rng.choice(CATS)} where {atom(rng)}]"
        if per_stage:
            u += " by process.parent.entity_id"
        s += " until " + u
    return s


def run(query, events):
    with eql.parser.elasticsearch_syntax, eql.parser.ignore_missing_functions:
        parsed = eql.parse_query(query)
    engine = eql.PythonEngine({"time_unit": 1000})
    out = []
    engine.add_output_hook(lambda r: out.append([e.data["id"] for e in r.events]))
    engine.add_query(parsed)
    engine.stream_events([eql.Event(e["event"]["category"][0], e["@timestamp"], e) for e in events])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", type=int, default=120)
    ap.add_argument("--singles", type=int, default=300)
    ap.add_argument("--sequences", type=int, default=150)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    t, events = 1_700_000_000_000, []
    for i in range(a.events):
        t += rng.choice([0, 1, 100, 500, 999, 1000, 1001, 2000, 4000])
        events.append(gen_event(rng, i, t))
    cases = []
    for _ in range(a.singles):
        qq = single_query(rng)
        cases.append({"query": qq, "sequence": False, "expected": run(qq, events)})
    for _ in range(a.sequences):
        qq = sequence_query(rng)
        cases.append({"query": qq, "sequence": True, "expected": run(qq, events)})
    doc = json.dumps({"eql_version": eql.__version__, "events": events, "cases": cases})
    if a.out == "-":
        sys.stdout.write(doc)
    else:
        with open(a.out, "w") as f:
            f.write(doc)


if __name__ == "__main__":
    main()
