//! The whole engine on arbitrary events: a fixed rule set (the shipped IMDS
//! pack, the engine test rules, Sigma correlations and EQL sequences), an
//! optional fuzzer-written Sigma rule, fuzzer-chosen engine options (prefilter
//! mode and every state limit, zeros and tiny caps included) and a stream of
//! events, `expire` calls (event time jumping forwards and backwards) and
//! flushes. Alerts are rendered to JSON as the sinks do.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use tripline::Event;
use tripline::engine::window::StateLimits;
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::rule::{RuleSet, elastic, load, load_sigma_str};

/// Stateful rules beside the shipped ones: every correlation type and an EQL
/// sequence with `until`, all keyed on fields the fuzzer sets.
const CORRELATIONS: &str = r#"
title: fuzz base
id: 00000000-0000-0000-0000-00000000f001
name: fuzz_base
logsource: {category: process_creation, product: linux}
detection:
  sel:
    Image|endswith: [/curl, /wget, sh]
  condition: sel
---
title: fuzz count
id: 00000000-0000-0000-0000-00000000f002
correlation:
  type: event_count
  rules: [fuzz_base]
  group-by: [User]
  timespan: 1m
  condition: {gte: 3}
---
title: fuzz values
id: 00000000-0000-0000-0000-00000000f003
correlation:
  type: value_count
  rules: [fuzz_base]
  group-by: [Computer]
  timespan: 10s
  condition: {field: User, gt: 2}
---
title: fuzz temporal
id: 00000000-0000-0000-0000-00000000f004
correlation:
  type: temporal_ordered
  rules: [fuzz_base, fuzz_base]
  group-by: [ProcessId]
  timespan: 5s
"#;

const EQL: &str = r#"
[rule]
rule_id = "fuzz-eql-seq"
name = "fuzz eql sequence"
type = "eql"
language = "eql"
severity = "high"
query = '''
sequence by host.id, process.entity_id with maxspan=30s
  [process where event.type == "start" and process.name : ("curl", "wget*")]
  [network where destination.ip == "169.254.169.254"] with runs=2
until [process where event.type == "end"]
'''
"#;

static RULES: LazyLock<RuleSet> = LazyLock::new(|| {
    let mut set = load(&[], true).rules;
    for text in [
        include_str!("../../testdata/rules/engine/engine_auditd.yml"),
        include_str!("../../testdata/rules/engine/engine_conditions.yml"),
        include_str!("../../testdata/rules/engine/engine_network.yml"),
        include_str!("../../testdata/rules/engine/engine_string_modifiers.yml"),
        CORRELATIONS,
    ] {
        for r in load_sigma_str(text, "fuzz.yml", "fuzz").rules.rules() {
            set.push(r.clone());
        }
    }
    if let Ok(r) = elastic::parse_rule(EQL)
        && let Ok(r) = elastic::compile(&r, "fuzz.toml", "fuzz")
    {
        set.push(r);
    }
    set
});

/// Field paths the fuzzer sets: typed ECS fields, raw auditd/winlog fields and
/// unknown ones.
const FIELDS: &[&str] = &[
    "event.category",
    "event.type",
    "event.action",
    "event.outcome",
    "event.module",
    "host.id",
    "host.name",
    "host.os.type",
    "process.pid",
    "process.entity_id",
    "process.name",
    "process.executable",
    "process.args",
    "process.command_line",
    "process.working_directory",
    "process.parent.pid",
    "process.parent.entity_id",
    "process.parent.name",
    "process.parent.executable",
    "user.id",
    "user.name",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "source.ip",
    "network.transport",
    "dns.question.name",
    "url.full",
    "file.path",
    "message",
    "auditd.data.a0",
    "auditd.data.syscall",
    "winlog.event_data.Image",
    "winlog.event_data.User",
    "winlog.event_data.ProcessId",
    "winlog.computer_name",
    "tags",
];

/// Strings the rules look for, so the fuzzer reaches matches and sequences.
const WORDS: &[&str] = &[
    "process",
    "network",
    "start",
    "end",
    "exec",
    "connection_attempted",
    "linux",
    "windows",
    "curl",
    "/usr/bin/curl",
    "wget",
    "sh",
    "169.254.169.254",
    "fd00:ec2::254",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "metadata.google.internal",
    "EXECVE",
    "root",
    "0",
    "",
];

#[derive(Arbitrary, Debug)]
enum Val {
    Str(String),
    Word(u8),
    Int(i64),
    Bool(bool),
    List(Vec<u8>),
    Null,
}

#[derive(Arbitrary, Debug)]
struct Ev {
    /// Event time step in ms (negative: out of order).
    dt_ms: i16,
    fields: Vec<(u8, Val)>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Event(Ev),
    Expire(i32),
    Flush,
}

#[derive(Arbitrary, Debug)]
struct Input {
    prefilter: u8,
    max_keys: u8,
    max_partials_per_key: u8,
    max_partials: u16,
    reorder_window_ms: i16,
    max_buffered: u8,
    sigma: Option<String>,
    ops: Vec<Op>,
}

fn word(i: u8) -> Value {
    Value::from(WORDS[i as usize % WORDS.len()])
}

fn value(v: &Val) -> Value {
    match v {
        Val::Str(s) => Value::from(s.as_str()),
        Val::Word(i) => word(*i),
        Val::Int(n) => json!(n),
        Val::Bool(b) => json!(b),
        Val::List(ws) => Value::Array(ws.iter().take(8).map(|&w| word(w)).collect()),
        Val::Null => Value::Null,
    }
}

fuzz_target!(|input: Input| {
    let mut rules = RULES.clone();
    if let Some(text) = &input.sigma {
        for r in load_sigma_str(text, "fuzz-extra.yml", "fuzz").rules.rules() {
            rules.push(r.clone());
        }
    }
    let options = EngineOptions {
        prefilter: match input.prefilter % 3 {
            0 => PrefilterMode::On,
            1 => PrefilterMode::Off,
            _ => PrefilterMode::AllCandidates,
        },
        limits: StateLimits {
            max_keys: input.max_keys as usize,
            max_partials_per_key: input.max_partials_per_key as usize,
            max_partials: input.max_partials as usize,
            reorder_window_ns: i64::from(input.reorder_window_ms) * 1_000_000,
            max_buffered: input.max_buffered as usize,
        },
    };
    let mut engine = Engine::with_options(rules, options);
    let mut now: i64 = 1_700_000_000_000_000_000;
    let mut alerts = 0usize;
    let mut sink = |a: tripline::alert::Alert| {
        alerts += 1;
        let _ = a.to_json();
    };
    for op in input.ops.iter().take(256) {
        match op {
            Op::Event(e) => {
                now = now.saturating_add(i64::from(e.dt_ms) * 1_000_000);
                let mut ev = Event {
                    timestamp_ns: now,
                    ..Event::default()
                };
                for (f, v) in e.fields.iter().take(32) {
                    let path = FIELDS[*f as usize % FIELDS.len()];
                    let v = value(v);
                    if !ev.set_path(path, &v) {
                        ev.extra.insert(path.to_string(), v);
                    }
                }
                engine.process(&ev, &mut sink);
            }
            Op::Expire(ms) => {
                engine.expire(now.saturating_add(i64::from(*ms) * 1_000_000), &mut sink)
            }
            Op::Flush => engine.flush(&mut sink),
        }
    }
    engine.flush(&mut sink);
    let _ = engine.stats();
});
