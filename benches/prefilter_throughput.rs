//! Throughput of single-event matching as the rule count grows (issue 4,
//! "Must show" 4): the same 1,000,000 synthetic auditd-derived ECS events
//! against 10, 100, 1,000 and all corpus rules, prefilter on; and, on a
//! tenth of the events, with the prefilter off for comparison.
//!
//! Not a timed test: run it with `cargo bench --bench prefilter_throughput`
//! (`BENCH_EVENTS=200000` for a shorter run). One thread, so events/s is per core.
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
//! generator does not take part in the timing.

use std::path::PathBuf;
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
    let mut rules: Vec<_> = report
        .rules
        .rules()
        .iter()
        .filter(|r| matches!(r.kind, RuleKind::Single(_)))
        .cloned()
        .collect();
    // Deterministic Fisher-Yates shuffle.
    let mut r = Rng(42);
    for i in (1..rules.len()).rev() {
        let j = r.below(i + 1);
        rules.swap(i, j);
    }
    rules
}

fn run(rules: &RuleSet, evs: &[Event], total: usize, mode: PrefilterMode) -> (f64, u64, f64) {
    let mut engine = Engine::with_options(
        rules.clone(),
        EngineOptions {
            prefilter: mode,
            ..EngineOptions::default()
        },
    );
    let mut alerts = 0u64;
    let start = Instant::now();
    for i in 0..total {
        engine.process(&evs[i % evs.len()], &mut |_| alerts += 1);
    }
    let secs = start.elapsed().as_secs_f64();
    let s = engine.stats();
    let share = s.evaluations as f64 / s.possible.max(1) as f64;
    (total as f64 / secs, alerts, share)
}

fn main() {
    let total: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let all = corpus();
    let (evs, imds) = events(50_000.min(total));
    println!(
        "prefilter_throughput: {total} events (pool of {}, {imds} IMDS in the pool), {} corpus rules available, 1 thread",
        evs.len(),
        all.len()
    );
    println!(
        "{:>6}  {:>14}  {:>10}  {:>22}  {:>16}",
        "rules", "events/s (on)", "alerts", "rules evaluated/event", "events/s (off)"
    );
    let mut base = None;
    for n in [10, 100, 1000, all.len()] {
        let n = n.min(all.len());
        let set = RuleSet::from_rules(all[..n].to_vec());
        let (eps, alerts, share) = run(&set, &evs, total, PrefilterMode::On);
        let (eps_off, alerts_off, _) = run(&set, &evs, total / 10, PrefilterMode::Off);
        // Same alerts either way (off ran a tenth of the events: compare per event).
        let _ = alerts_off;
        let b = *base.get_or_insert(eps);
        println!(
            "{n:>6}  {eps:>14.0}  {alerts:>10}  {:>9.3}% ({:>7.2} rules)  {eps_off:>16.0}   ({:.0}% of the 10-rule throughput)",
            100.0 * share,
            share * n as f64,
            100.0 * eps / b
        );
    }
}
