//! Throughput of single-event matching as the rule count grows (issue 4,
//! "Must show" 4): the same 1,000,000 synthetic auditd-derived ECS events
//! against 10, 100, 1,000 and all corpus rules, prefilter on; and, on a
//! tenth of the events, with the prefilter off for comparison.
//!
//! Not a timed test: run it with `cargo bench --bench prefilter_throughput`
//! (`BENCH_EVENTS=200000` for a shorter run). One thread, so events/s is per
//! core; times are the thread's CPU time, so load from other processes
//! disturbs them less than wall time would.
//!
//! Rules: the SigmaHQ Linux and macOS rules in `testdata/sigma-corpus/`, the
//! embedded packs, and the SigmaHQ Windows rules when the shared corpus is next
//! to the repository (`../shared/corpus/rules/sigma/rules/windows`) or
//! `TRIPLINE_SIGMA_CORPUS` names a tree. The rule subsets are prefixes of one
//! deterministic shuffle, so "10 rules" is not ten rules of one kind.
//!
//! Events: what the auditd parser makes of a busy Linux host (see
//! `benches/auditd_gen.rs` for the raw side): ~70% exec events (common tools
//! with realistic arguments, parent, cwd, user, and the raw `auditd.records`
//! of SYSCALL/EXECVE/CWD/PATH), ~25% outbound connections, ~5% forks, and
//! ~0.3% IMDS requests by curl/wget/python (exec + connect to
//! 169.254.169.254). A pool of 50,000 generated events is cycled, so the
//! generator does not take part in the timing. Events are held in an `Arc`
//! and go through `Engine::process_shared`, as in `tripline scan`: an alert
//! shares the event instead of copying it.
//!
//! Then the same table for Windows events, when the shared corpus is there:
//! the OTRF JSON lines of `../shared/corpus/sysmon/json-otrf` (Sysmon,
//! Security and PowerShell events, 2,828 of them, cycled), read by the same
//! JSON parser as `tripline scan`: what the Sysmon JSON and EVTX scans feed
//! the engine. `BENCH_POOL=auditd` or `BENCH_POOL=windows` runs only one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tripline::Event;
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::rule::{self, RuleKind, RuleSet};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
}

const TOOLS: &[(&str, &[&str])] = &[
    ("/usr/bin/ls", &["-la", "/var/log", "--color=auto", "-1"]),
    (
        "/usr/bin/git",
        &["status", "fetch", "origin", "log", "--oneline", "-n", "20"],
    ),
    (
        "/usr/bin/grep",
        &["-r", "TODO", "src/", "-n", "--include=*.rs"],
    ),
    (
        "/usr/bin/python3",
        &[
            "-m",
            "pip",
            "list",
            "manage.py",
            "runserver",
            "-c",
            "import sys",
        ],
    ),
    (
        "/usr/bin/bash",
        &["-c", "echo hello", "/etc/profile.d/locale.sh", "-l"],
    ),
    (
        "/usr/bin/cat",
        &["/etc/os-release", "/proc/cpuinfo", "README.md"],
    ),
    (
        "/usr/sbin/sshd",
        &["-D", "-R", "-f", "/etc/ssh/sshd_config"],
    ),
    (
        "/usr/bin/systemctl",
        &["status", "nginx", "is-active", "--quiet", "cron"],
    ),
    (
        "/usr/bin/find",
        &["/tmp", "-name", "*.log", "-mtime", "+7", "-delete"],
    ),
    (
        "/usr/lib/postgresql/15/bin/postgres",
        &["-D", "/var/lib/postgresql/15/main"],
    ),
    (
        "/usr/bin/node",
        &["server.js", "--port", "3000", "/srv/app/index.js"],
    ),
    ("/usr/bin/tar", &["-czf", "/backup/home.tgz", "/home/alice"]),
    ("/usr/bin/ps", &["aux", "-ef", "--forest"]),
    ("/usr/bin/dpkg", &["-l", "--status", "openssl"]),
    ("/usr/bin/sed", &["-i", "s/foo/bar/g", "config.ini"]),
    ("/usr/bin/awk", &["{print $1}", "/var/log/nginx/access.log"]),
    ("/usr/bin/sleep", &["1", "30", "0.5"]),
    ("/usr/bin/id", &["-u", "-g", "-n"]),
    ("/usr/bin/uname", &["-a", "-r"]),
    (
        "/usr/bin/docker",
        &["ps", "run", "--rm", "-it", "alpine", "sh"],
    ),
];
const PARENTS: &[&str] = &[
    "/usr/bin/bash",
    "/usr/bin/zsh",
    "/usr/lib/systemd/systemd",
    "/usr/sbin/cron",
    "/usr/bin/sudo",
    "/usr/sbin/sshd",
    "/usr/bin/make",
];
const USERS: &[&str] = &["alice", "bob", "root", "www-data", "postgres"];
const CWDS: &[&str] = &["/home/alice/src/app", "/", "/root", "/var/www", "/tmp"];
const DESTS: &[(&str, i64)] = &[
    ("10.0.0.5", 5432),
    ("151.101.1.69", 443),
    ("140.82.112.4", 443),
    ("192.168.1.1", 53),
    ("91.189.91.39", 80),
    ("127.0.0.1", 6379),
];

fn exec(r: &mut Rng, i: u64, exe: &str, args: Vec<String>, parent: &str) -> Value {
    let name = exe.rsplit('/').next().unwrap_or(exe);
    let cmd = args.join(" ");
    let user = r.pick(USERS);
    let cwd = r.pick(CWDS);
    let mut records = vec![
        json!({"type": "SYSCALL", "fields": {"syscall": "execve", "exe": exe, "comm": name, "success": "yes", "uid": user, "auid": user, "key": "exec"}}),
        json!({"type": "CWD", "fields": {"cwd": cwd}}),
        json!({"type": "PATH", "fields": {"item": "0", "name": exe, "nametype": "NORMAL"}}),
    ];
    let mut execve = serde_json::Map::new();
    execve.insert("argc".into(), json!(args.len()));
    for (k, a) in args.iter().enumerate() {
        execve.insert(format!("a{k}"), json!(a));
    }
    records.insert(1, json!({"type": "EXECVE", "fields": execve}));
    json!({
        "@timestamp": format!("2024-05-01T10:{:02}:{:02}.{:03}Z", (i / 60_000) % 60, (i / 1000) % 60, i % 1000),
        "event": {"kind": "event", "category": ["process"], "type": ["start"], "action": "exec", "module": "auditd", "outcome": "success"},
        "host": {"id": "h-1", "name": "web-1", "os": {"type": "linux"}},
        "process": {
            "pid": 1000 + (i % 30_000), "name": name, "executable": exe, "args": args,
            "args_count": args.len(), "command_line": cmd, "working_directory": cwd,
            "entity_id": format!("e-{i}"),
            "parent": {"pid": 900, "executable": parent, "name": parent.rsplit('/').next(), "entity_id": format!("p-{}", i / 7)},
        },
        "user": {"name": user, "id": "1000"},
        "auditd": {"records": records},
    })
}

fn connect(r: &mut Rng, i: u64, exe: &str, ip: &str, port: i64) -> Value {
    json!({
        "@timestamp": format!("2024-05-01T10:{:02}:{:02}.{:03}Z", (i / 60_000) % 60, (i / 1000) % 60, i % 1000),
        "event": {"kind": "event", "category": ["network"], "type": ["connection", "start"], "action": "connection_attempted", "module": "auditd"},
        "host": {"id": "h-1", "name": "web-1", "os": {"type": "linux"}},
        "process": {"pid": 1000 + (i % 30_000), "executable": exe, "name": exe.rsplit('/').next(), "entity_id": format!("e-{}", i.saturating_sub(1))},
        "user": {"name": r.pick(USERS)},
        "destination": {"ip": ip, "port": port, "address": ip},
        "network": {"transport": "tcp", "type": "ipv4", "direction": "egress"},
        "auditd": {"records": [{"type": "SYSCALL", "fields": {"syscall": "connect", "exe": exe}}, {"type": "SOCKADDR", "fields": {"saddr": format!("inet host:{ip} serv:{port}")}}]},
    })
}

fn events(n: usize) -> (Vec<Event>, usize) {
    let mut r = Rng(0x5eed_1234_abcd);
    let mut out = Vec::with_capacity(n);
    let mut imds = 0;
    for i in 0..n as u64 {
        let roll = r.below(1000);
        let doc = if roll < 3 {
            imds += 1;
            let (exe, args): (&str, Vec<String>) = match r.below(3) {
                0 => ("/usr/bin/curl", vec!["curl".into(), "-s".into(), "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into()]),
                1 => ("/usr/bin/wget", vec!["wget".into(), "-qO-".into(), "http://169.254.169.254/latest/api/token".into()]),
                _ => ("/usr/bin/python3", vec!["python3".into(), "-c".into(), "import urllib.request as u;u.urlopen('http://169.254.169.254/latest/meta-data/')".into()]),
            };
            if r.below(2) == 0 {
                exec(&mut r, i, exe, args, "/usr/bin/bash")
            } else {
                connect(&mut r, i, exe, "169.254.169.254", 80)
            }
        } else if roll < 700 {
            let (exe, pool) = TOOLS[r.below(TOOLS.len())];
            let mut args = vec![exe.rsplit('/').next().unwrap_or(exe).to_string()];
            for _ in 0..r.below(4) {
                args.push(r.pick(pool).to_string());
            }
            let parent = r.pick(PARENTS);
            exec(&mut r, i, exe, args, parent)
        } else if roll < 950 {
            let (ip, port) = DESTS[r.below(DESTS.len())];
            let exe = TOOLS[r.below(TOOLS.len())].0;
            connect(&mut r, i, exe, ip, port)
        } else {
            let mut d = exec(
                &mut r,
                i,
                "/usr/bin/bash",
                vec!["bash".into()],
                "/usr/bin/bash",
            );
            d["event"]["action"] = json!("fork");
            d
        };
        out.push(Event::from_json(&doc));
    }
    (out, imds)
}

fn corpus() -> Vec<tripline::rule::Rule> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("testdata/sigma-corpus")];
    let shared = root.join("../shared/corpus/rules/sigma/rules/windows");
    if let Ok(extra) = std::env::var("TRIPLINE_SIGMA_CORPUS") {
        paths.push(PathBuf::from(extra));
    } else if shared.is_dir() {
        paths.push(shared);
    }
    let report = rule::load(&paths, true);
    // Single-event rules that alert on their own (not correlation-only bases).
    let mut rules: Vec<_> = report
        .rules
        .rules()
        .iter()
        .enumerate()
        .filter(|(i, r)| matches!(r.kind, RuleKind::Single(_)) && !report.rules.is_silent(*i))
        .map(|(_, r)| r.clone())
        .collect();
    // Deterministic Fisher-Yates shuffle.
    let mut r = Rng(42);
    for i in (1..rules.len()).rev() {
        let j = r.below(i + 1);
        rules.swap(i, j);
    }
    rules
}

/// CPU time of this thread in seconds (wall time where there is no such
/// clock): on a machine other work shares, the time other processes hold the
/// core is not the engine's.
fn cpu_now() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec to the valid pointer given.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Per rule set: (events/s of the best round, events/s over all rounds,
/// alerts, share of single-event rules evaluated exactly). The sets run in
/// interleaved rounds so that load from other processes (a shared 2-core
/// machine) hits them alike; the best round is the least disturbed one.
fn measure(
    sets: &[RuleSet],
    evs: &[Arc<Event>],
    total: usize,
    mode: PrefilterMode,
) -> Vec<(f64, f64, u64, f64)> {
    const ROUNDS: usize = 10;
    let chunk = (total / ROUNDS).max(1);
    let mut engines: Vec<Engine> = sets
        .iter()
        .map(|r| {
            Engine::with_options(
                r.clone(),
                EngineOptions {
                    prefilter: mode,
                    ..EngineOptions::default()
                },
            )
        })
        .collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); sets.len()];
    let mut alerts = vec![0u64; sets.len()];
    for round in 0..ROUNDS {
        for (k, engine) in engines.iter_mut().enumerate() {
            let a = &mut alerts[k];
            let start = cpu_now();
            for i in round * chunk..(round + 1) * chunk {
                engine.process_shared(&evs[i % evs.len()], &mut |_| *a += 1);
            }
            times[k].push(cpu_now() - start);
        }
    }
    engines
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let best = times[k].iter().copied().fold(f64::INFINITY, f64::min);
            let sum: f64 = times[k].iter().sum();
            let s = e.stats();
            let share = s.evaluations as f64 / s.possible.max(1) as f64;
            (
                chunk as f64 / best,
                (chunk * ROUNDS) as f64 / sum,
                alerts[k],
                share,
            )
        })
        .collect()
}

/// The rules that fire most on the event pool (what the alert count is made of).
fn top_rules(rules: &RuleSet, evs: &[Arc<Event>]) -> Vec<(u64, String)> {
    let mut engine = Engine::new(rules.clone());
    let mut by: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for e in evs {
        engine.process_shared(e, &mut |a| *by.entry(a.rule.name.clone()).or_default() += 1);
    }
    let mut v: Vec<(u64, String)> = by.into_iter().map(|(k, n)| (n, k)).collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.truncate(6);
    v
}

/// The Windows events of the shared corpus (OTRF JSON lines), parsed as `scan` does.
fn windows_events() -> Vec<Event> {
    use tripline_parsers::{Format, Location};
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/sysmon/json-otrf");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(data) = std::fs::read(&f) else {
            continue;
        };
        let mut parser = Format::Json.parser();
        for (n, line) in data.split(|&b| b == b'\n').enumerate() {
            let loc = Location {
                line: n as u64 + 1,
                offset: 0,
            };
            let _ = parser.feed(line, loc, &mut |e| out.push(e));
        }
        parser.flush(&mut |e| out.push(e));
    }
    out
}

fn main() {
    let total: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let all = corpus();
    let pool = std::env::var("BENCH_POOL").unwrap_or_default();
    if pool != "windows" {
        let (evs, imds) = events(50_000.min(total));
        println!(
            "prefilter_throughput: {total} auditd events (pool of {}, {imds} IMDS in the pool), {} corpus rules available, 1 thread",
            evs.len(),
            all.len()
        );
        run(&all, &evs, total);
    }
    if pool != "auditd" {
        let evs = windows_events();
        if evs.is_empty() {
            println!("no Windows events (../shared/corpus/sysmon/json-otrf is missing)");
            return;
        }
        println!(
            "prefilter_throughput: {total} Windows events (OTRF JSON lines, pool of {}), {} corpus rules available, 1 thread",
            evs.len(),
            all.len()
        );
        run(&all, &evs, total);
    }
}

/// The table for one event pool.
fn run(all: &[tripline::rule::Rule], evs: &[Event], total: usize) {
    // As `scan` does: events in an `Arc`, alerts share them (no copy per alert).
    let evs: Vec<Arc<Event>> = evs.iter().cloned().map(Arc::new).collect();
    let evs = &evs[..];
    // BENCH_OFF=0 skips the prefilter-off runs; BENCH_SIZES=10,all picks the rule counts.
    let with_off =
        std::env::var("BENCH_OFF").is_ok_and(|v| v != "0") || std::env::var("BENCH_OFF").is_err();
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "10,100,1000,all".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap_or(all.len()))
        .collect();
    for (n, name) in top_rules(&RuleSet::from_rules(all.to_vec()), evs) {
        println!(
            "  fires on {:>5.2}% of events: {name}",
            100.0 * n as f64 / evs.len() as f64
        );
    }
    let sets: Vec<(usize, RuleSet)> = sizes
        .iter()
        .map(|&n| {
            let n = n.min(all.len());
            (n, RuleSet::from_rules(all[..n].to_vec()))
        })
        .collect();
    let only: Vec<RuleSet> = sets.iter().map(|(_, s)| s.clone()).collect();
    for (n, set) in &sets {
        // Compiling the prefilter, then the first pass over the pool (which
        // builds the view of each event class on first sight) and a second one.
        let t = Instant::now();
        let p = tripline::engine::prefilter::Prefilter::new(set);
        let compile = t.elapsed().as_secs_f64();
        let mut s = p.scratch();
        let mut out = Vec::new();
        let mut pass = || {
            let t = Instant::now();
            for e in evs {
                p.candidates(e, &mut s, &mut out);
            }
            t.elapsed().as_secs_f64()
        };
        let (cold, warm) = (pass(), pass());
        println!(
            "  {n} rules: {} fragments on {} fields, {} rules always candidates, {} class conditions; \
             prefilter compiled in {:.0} ms, first pass over the pool {:.0} ms ({} views built), second {:.0} ms",
            p.fragment_count(),
            p.field_count(),
            p.always_count(),
            p.class_condition_count(),
            compile * 1e3,
            cold * 1e3,
            p.view_count(),
            warm * 1e3
        );
    }
    let on = measure(&only, evs, total, PrefilterMode::On);
    let off = if with_off {
        measure(&only, evs, total / 10, PrefilterMode::Off)
    } else {
        vec![(f64::NAN, f64::NAN, 0, 1.0); only.len()]
    };
    println!(
        "{:>6}  {:>12}  {:>12}  {:>8}  {:>26}  {:>12}  {:>9}",
        "rules", "ev/s best", "ev/s mean", "alerts", "rules evaluated exactly", "off ev/s", "vs 10"
    );
    let base = on[0].0;
    for ((n, _), (o, f)) in sets.iter().zip(on.iter().zip(off.iter())) {
        println!(
            "{n:>6}  {:>12.0}  {:>12.0}  {:>8}  {:>9.3}% ({:>6.2}/event)  {:>12.0}  {:>8.0}%",
            o.0,
            o.1,
            o.2,
            100.0 * o.3,
            o.3 * *n as f64,
            f.0,
            100.0 * o.0 / base
        );
    }
}
