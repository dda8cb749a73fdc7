//! Unit tests: every operator, function and sequence clause, parse + eval,
//! and error positions.

use serde_json::json;
use tripline_parsers::Event;

use std::sync::Arc;

use super::{ErrorKind, compile};
use crate::engine::Engine;
use crate::rule::{Rule, RuleKind, RuleMeta, RuleSet};

fn ev(j: serde_json::Value) -> Event {
    Event::from_json(&j)
}

fn proc_ev() -> Event {
    ev(json!({
        "@timestamp": "2024-01-01T00:00:00Z",
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"id": "h1", "os": {"type": "linux"}},
        "process": {
            "pid": 42, "name": "curl", "executable": "/usr/bin/curl",
            "args": ["curl", "-s", "http://169.254.169.254/latest/"],
            "command_line": "curl -s http://169.254.169.254/latest/",
            "parent": {"executable": "/bin/bash", "entity_id": "p1"}
        },
        "destination": {"ip": "169.254.169.254", "port": 80},
        "auditd": {"data": {"a1": "2", "flag": true, "ratio": 1.5, "list": ["A", "b"]}},
        "user": {"name": "Ålice"}
    }))
}

#[track_caller]
fn yes(cond: &str) {
    let q = format!("process where {cond}");
    let c = compile(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert!(c.matches(&proc_ev()), "expected a match: {cond}");
}

#[track_caller]
fn no(cond: &str) {
    let q = format!("process where {cond}");
    let c = compile(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
    assert!(!c.matches(&proc_ev()), "expected no match: {cond}");
}

#[track_caller]
fn err(q: &str, line: usize, col: usize, needle: &str) {
    let e = compile(q)
        .err()
        .unwrap_or_else(|| panic!("expected an error: {q}"));
    assert_eq!((e.line, e.column), (line, col), "{q}: {e}");
    assert!(e.message.contains(needle), "{q}: {e} (wanted {needle:?})");
}

#[test]
fn categories_and_any() {
    assert!(compile("process where true").unwrap().matches(&proc_ev()));
    assert!(!compile("network where true").unwrap().matches(&proc_ev()));
    assert!(compile("any where true").unwrap().matches(&proc_ev()));
    assert!(compile("`process` where true").unwrap().matches(&proc_ev()));
    // event.category is a list: `process where` means it contains "process".
    let e = ev(json!({"event": {"category": ["network", "process"]}}));
    assert!(compile("process where true").unwrap().matches(&e));
    assert!(compile("network where true").unwrap().matches(&e));
}

#[test]
fn equality_is_case_sensitive() {
    yes(r#"process.name == "curl""#);
    no(r#"process.name == "CURL""#);
    yes(r#"process.name != "CURL""#);
    no(r#"process.name != "curl""#);
    yes(r#"process.name = "curl""#);
    yes("process.pid == 42");
    yes("destination.port == 80");
    yes(r#"auditd.data.a1 == "2""#);
    yes("auditd.data.a1 == 2"); // text holding a number equals the number
    yes("auditd.data.flag == true");
    yes("auditd.data.ratio == 1.5");
    yes(r#"user.name == "Ålice""#);
}

#[test]
fn ordering() {
    yes("process.pid > 41");
    yes("process.pid >= 42");
    no("process.pid > 42");
    yes("process.pid < 43");
    yes("process.pid <= 42");
    no("process.pid < 42");
    yes(r#"process.name < "d""#);
    yes(r#"process.name > "CURL""#); // byte order: lowercase sorts after uppercase
    yes("auditd.data.a1 < 3");
    yes("auditd.data.ratio > 1");
}

#[test]
fn colon_is_case_insensitive_with_wildcards() {
    yes(r#"process.name : "CURL""#);
    yes(r#"process.name : "cu*""#);
    yes(r#"process.name : "c?rl""#);
    no(r#"process.name : "c?l""#);
    yes(r#"process.name : ("wget", "CU*")"#);
    no(r#"process.name : ("wget", "nc")"#);
    yes(r#"process.executable : "/USR/*/curl""#);
    yes(r#"user.name : "ålice""#);
    // A list field matches when any element does.
    yes(r#"process.args : "-S""#);
    yes(r#"process.args : "*169.254.169.254*""#);
    no(r#"process.args : "-x""#);
}

#[test]
fn like_and_regex() {
    yes(r#"process.name like "cu*""#);
    no(r#"process.name like "CU*""#);
    yes(r#"process.name like~ "CU*""#);
    yes(r#"process.name like~ ("x", "C?RL")"#);
    yes(r#"process.name regex "c[a-z]+""#);
    no(r#"process.name regex "c""#); // whole-value match
    no(r#"process.name regex "C.*""#);
    yes(r#"process.name regex~ "C.*""#);
    yes(r#"process.executable regex """/usr/bin/\w+""""#);
    yes(r#"process.name regex ("x", "cur.")"#);
    err(
        r#"process where process.name regex "a@b""#,
        1,
        28,
        "Lucene operator",
    );
    err(
        r#"process where process.name regex "(""#,
        1,
        28,
        "invalid regex",
    );
}

#[test]
fn in_and_not_in() {
    yes(r#"process.name in ("wget", "curl")"#);
    no(r#"process.name in ("wget", "CURL")"#);
    yes(r#"process.name in~ ("wget", "CURL")"#);
    yes(r#"process.name not in ("wget", "CURL")"#);
    no(r#"process.name not in ("wget", "curl")"#);
    no(r#"process.name not in~ ("wget", "CURL")"#);
    yes("process.pid in (1, 42)");
    yes(r#"process.args in ("-s")"#);
    no(r#"process.args not in ("-s")"#);
    yes(r#"process.name in ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "curl")"#);
    yes(r#"process.name in~ ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "CuRl")"#);
    yes(r#"process.name in (concat("cu", "rl"))"#);
    yes("process.pid in (40 + 2)");
}

#[test]
fn boolean_logic_and_precedence() {
    yes(r#"process.name == "curl" and process.pid == 42"#);
    no(r#"process.name == "curl" and process.pid == 1"#);
    yes(r#"process.name == "x" or process.pid == 42"#);
    yes(r#"not process.name == "x""#);
    // not binds tighter than and/or, looser than comparisons.
    yes(r#"not process.name == "x" and process.pid == 42"#);
    no(r#"not (process.name == "x" or process.pid == 42)"#);
    yes(r#"process.pid == 1 or process.pid == 2 or process.name : "curl""#);
    yes(r#"(process.pid == 42)"#);
    yes("not not true");
    yes("1 + 2 * 3 == 7");
    yes("(1 + 2) * 3 == 9");
    yes("-process.pid == -42");
    yes("10 % 4 == 2");
    yes("7 / 2 == 3");
    yes("7.0 / 2 == 3.5");
    yes("process.pid - 2 == 40");
}

#[test]
fn missing_fields_and_null() {
    // Field predicates on a missing field are false; their negations are true
    // (Elasticsearch's must_not).
    no(r#"process.title == "x""#);
    yes(r#"process.title != "x""#);
    no(r#"process.title : "x""#);
    yes(r#"not process.title : "x""#);
    no(r#"process.title in ("x")"#);
    yes(r#"process.title not in ("x")"#);
    no("process.title < 5");
    yes("process.title == null");
    no("process.title != null");
    yes("process.name != null");
    yes("null == process.title");
    yes("?nope.field == null");
    // Computed values: three-valued; null stays null through `not`.
    no(r#"startsWith(process.title, "x")"#);
    no(r#"not startsWith(process.title, "x")"#);
    yes(r#"not (startsWith(process.title, "x") and true)"#);
    no(r#"length(process.title) > 0"#);
    no(r#"not length(process.title) > 0"#);
}

#[test]
fn fields_indices_and_escapes() {
    yes(r#"process.args[0] == "curl""#);
    yes(r#"process.args[1] == "-s""#);
    yes(r#"process.args[-1] : "*latest/""#);
    yes("process.args[9] == null");
    yes(r#"auditd.data.list[1] == "b""#);
    yes(r#"`process`.`name` == "curl""#);
    yes(r#"?process.name == "curl""#);
    yes(r#"process.name == "cu\u{72}l""#);
    yes(r#"process.name == "cu\u0072l""#);
    yes(r#""a\tb" == "a	b""#);
    yes(r#""a\"b" == """a"b""""#);
    yes(r#""a\\b" == ?"a\b""#);
    yes(r#"length("a\nb") == 3"#);
    yes("@timestamp > 0");
}

#[test]
fn comments_and_whitespace() {
    yes("// leading comment\nprocess.pid == 42 /* inline */ and\n  /* multi\nline */ true");
}

#[test]
fn functions() {
    yes(r#"startsWith(process.name, "cu")"#);
    no(r#"startsWith(process.name, "CU")"#);
    yes(r#"startsWith~(process.name, "CU")"#);
    yes(r#"startswith~(process.name, "CU")"#);
    yes(r#"endsWith(process.executable, "/curl")"#);
    yes(r#"endsWith~(process.executable, "/CURL")"#);
    yes(r#"stringContains(process.command_line, "169.254")"#);
    yes(r#"stringContains~(process.command_line, "LATEST")"#);
    yes(r#"startsWith(process.args, "-")"#);
    yes(r#"cidrMatch(destination.ip, "10.0.0.0/8", "169.254.0.0/16")"#);
    yes(r#"cidrmatch(destination.ip, "169.254.169.254/32")"#);
    no(r#"cidrMatch(destination.ip, "10.0.0.0/8", "fd00::/8")"#);
    yes(r#"length(process.name) == 4"#);
    yes(r#"length(process.args) == 3"#);
    yes(r#"length(user.name) == 5"#);
    yes(r#"wildcard(process.name, "CU*", "x")"#);
    yes(r#"match(process.name, "c.*")"#);
    yes(r#"concat(process.name, "-", process.pid) == "curl-42""#);
    yes(r#"concat(process.title, "x") == null"#);
    yes(r#"substring(process.name, 1) == "url""#);
    yes(r#"substring(process.name, 1, 3) == "ur""#);
    yes(r#"substring(process.name, -3, -1) == "ur""#);
    yes(r#"substring(process.name, 0, -1) == "cur""#);
    yes(r#"indexOf(process.name, "r") == 2"#);
    yes(r#"indexOf(process.name, "x") == null"#);
    yes(r#"indexOf(process.name, "c", 1) == null"#);
    yes(r#"indexOf~(process.name, "R") == 2"#);
    yes(r#"number("42") == 42"#);
    yes(r#"number("ff", 16) == 255"#);
    yes(r#"number("0x1F", 16) == 31"#);
    yes(r#"number("1.5") == 1.5"#);
    yes(r#"number("x") == null"#);
    yes(r#"string(process.pid) == "42""#);
    yes(r#"add(process.pid, 1) == 43"#);
    yes(r#"subtract(process.pid, 2) == 40"#);
    yes(r#"multiply(process.pid, 2) == 84"#);
    yes(r#"divide(process.pid, 4) == 10"#);
    yes(r#"divide(process.pid, 0) == null"#);
    yes(r#"modulo(process.pid, 5) == 2"#);
    yes(r#"between(process.command_line, "//", "/") == "169.254.169.254""#);
    yes(r#"between(process.command_line, "-", "/", true) == "s http://169.254.169.254/latest""#);
    yes(r#"between~(process.command_line, "CURL ", " ") == "-s""#);
    yes(r#"not startsWith~(string(destination.ip), string(host.os.type))"#);
}

#[test]
fn function_errors() {
    err("process where nope(1)", 1, 15, "unknown function nope()");
    err("process where length(1, 2)", 1, 15, "takes 1 arguments");
    err(
        r#"process where length~("x")"#,
        1,
        15,
        "no case-insensitive",
    );
    err(
        r#"process where cidrMatch(destination.ip, "10.0.0.0/33")"#,
        1,
        15,
        "invalid cidr",
    );
    err(
        r#"process where cidrMatch(destination.ip, process.name)"#,
        1,
        15,
        "string literals",
    );
}

#[test]
fn syntax_errors_have_positions() {
    err("process where process.name ==", 1, 30, "expected a value");
    err(
        "process where\n  process.name == \"x\" and\n  (a == 1",
        3,
        10,
        "expected ')'",
    );
    err(
        "process where a == \"unterminated",
        1,
        20,
        "unterminated string",
    );
    err("process where a == 'single'", 1, 20, "single-quoted");
    err("process where a == \"\\q\"", 1, 21, "unknown escape");
    err("process where a = = 1", 1, 19, "expected a value");
    err("process a == 1", 1, 9, "expected 'where'");
    err("where a == 1", 1, 1, "expected an event category");
    err("process where a == 1 b", 1, 22, "expected end of query");
    err("process where a == 5m", 1, 20, "time units");
    err("process where a # 1", 1, 17, "unexpected character");
    err("process where /* x", 1, 15, "unterminated /*");
    err("process where a in 1", 1, 20, "expected '('");
    err("process where `a", 1, 15, "unterminated backtick");
    err("process where a not 1", 1, 17, "expected 'in'");
    err("process where a : b", 1, 17, "string literals");
    err("sequence [process where true]", 1, 1, "at least two stages");
    err(
        "sequence with maxspan=5 [process where true] [process where true]",
        1,
        23,
        "time unit",
    );
    err(
        "sequence with maxspan=5y [process where true] [process where true]",
        1,
        23,
        "unknown time unit",
    );
    err(
        "sequence by a [process where true] by b [process where true]",
        1,
        42,
        "same number of keys",
    );
}

#[test]
fn hostile_input_does_not_panic() {
    let deep = format!("process where {}true{}", "(".repeat(500), ")".repeat(500));
    let e = compile(&deep).unwrap_err();
    assert!(e.message.contains("nested deeper"), "{e}");
    let nots = format!("process where {}true", "not ".repeat(500));
    assert!(compile(&nots).is_err());
    let neg = format!("process where {}1 == 1", "-".repeat(500));
    assert!(compile(&neg).is_err());
    for q in [
        "",
        "process",
        "process where",
        "sequence",
        "sequence [",
        "sequence by",
        "?",
        "?\"",
        "\"\"\"",
        "process where a[",
        "process where a[1",
        "process where \"\\u{110000}\"",
        "process where \"\\u{}\"",
        "process where \"\\u12\"",
        "process where 99999999999999999999",
        "process where a.",
        "process where f(",
        "process where f(1,",
        "sample by x",
        "process where a | ",
        "process where é == 1",
        "process where \u{0}",
    ] {
        let _ = compile(q);
    }
    // Every prefix of a real query parses or fails cleanly.
    let seed = include_str!("../../../testdata/eql/seeds/001_fb6c7d2e9855348f.eql");
    for (i, _) in seed.char_indices() {
        let _ = compile(&seed[..i]);
    }
}

#[test]
fn unsupported_constructs_are_reported() {
    let e = compile("process where true | head 5").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("pipe '| head'"), "{e}");
    let e = compile("sample by host.id [process where true] [network where true]").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let e = compile("sequence by host.id with maxspan=5m [any where true] ![any where true]")
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("missing-event"), "{e}");
    assert_eq!((e.line, e.column), (1, 54));
}

// ---- sequences ---------------------------------------------------------------

fn at(ms: i64, cat: &str, extra: serde_json::Value) -> Event {
    let mut e = ev(extra);
    e.event.category = vec![cat.to_string()];
    e.timestamp_ns = ms * 1_000_000;
    e
}

/// Runs a sequence query through the engine (the shared sequence joiner) and
/// returns each alert's event times in milliseconds.
fn run(q: &str, events: &[Event]) -> Vec<Vec<i64>> {
    let c = compile(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let spec = c.as_sequence().expect("a sequence").to_joiner().unwrap();
    let rule = Rule {
        meta: Arc::new(RuleMeta {
            id: "seq".into(),
            ..RuleMeta::default()
        }),
        kind: RuleKind::Sequence(spec),
    };
    let mut engine = Engine::new(RuleSet::from_rules(vec![rule]));
    let mut out = Vec::new();
    let mut push = |a: crate::alert::Alert| {
        out.push(
            a.events
                .iter()
                .map(|e| e.timestamp_ns / 1_000_000)
                .collect(),
        )
    };
    for e in events {
        engine.process(e, &mut push);
    }
    engine.flush(&mut push);
    out
}

#[test]
fn sequence_parses_every_clause() {
    let q = compile(
        "sequence by host.id with maxspan=2s\n  [process where true] by process.pid\n  [network where true] by process.pid with runs=2\nuntil [process where event.action == \"end\"] by process.pid",
    )
    .unwrap();
    let s = q.as_sequence().unwrap();
    assert_eq!(s.stages.len(), 3);
    assert_eq!(s.maxspan_ns, Some(2_000_000_000));
    assert!(s.until.is_some());
    assert!(s.stages.iter().all(|st| st.keys.len() == 2));
    let q =
        compile("sequence with maxspan=500ms by host.id [process where true] [network where true]")
            .unwrap();
    assert_eq!(q.as_sequence().unwrap().maxspan_ns, Some(500_000_000));
    for (span, ns) in [
        ("1m", 60_000_000_000i64),
        ("1h", 3_600_000_000_000),
        ("1d", 86_400_000_000_000),
    ] {
        let q = compile(&format!(
            "sequence with maxspan={span} [process where true] [network where true]"
        ))
        .unwrap();
        assert_eq!(q.as_sequence().unwrap().maxspan_ns, Some(ns));
    }
}

#[test]
fn sequence_order_and_keys() {
    let q = "sequence by host.id [process where true] [network where true]";
    let h = |id: &str| json!({"host": {"id": id}});
    // In order, same key.
    assert_eq!(
        run(q, &[at(1, "process", h("a")), at(2, "network", h("a"))]),
        vec![vec![1, 2]]
    );
    // Wrong order: no match.
    assert!(run(q, &[at(1, "network", h("a")), at(2, "process", h("a"))]).is_empty());
    // Different keys: no match.
    assert!(run(q, &[at(1, "process", h("a")), at(2, "network", h("b"))]).is_empty());
    // A later first-stage event replaces an earlier one of the same key.
    assert_eq!(
        run(
            q,
            &[
                at(1, "process", h("a")),
                at(2, "process", h("a")),
                at(3, "network", h("a"))
            ]
        ),
        vec![vec![2, 3]]
    );
    // A completed partial is consumed.
    assert_eq!(
        run(
            q,
            &[
                at(1, "process", h("a")),
                at(2, "network", h("a")),
                at(3, "network", h("a"))
            ]
        ),
        vec![vec![1, 2]]
    );
    // Missing key fields join with each other.
    assert_eq!(
        run(
            q,
            &[at(1, "process", json!({})), at(2, "network", json!({}))]
        ),
        vec![vec![1, 2]]
    );
}

#[test]
fn sequence_per_stage_keys() {
    let q = "sequence [process where true] by process.entity_id [network where true] by process.parent.entity_id";
    let p = json!({"process": {"entity_id": "X"}});
    let n = json!({"process": {"parent": {"entity_id": "X"}}});
    let n2 = json!({"process": {"parent": {"entity_id": "Y"}}});
    assert_eq!(
        run(q, &[at(1, "process", p.clone()), at(2, "network", n)]),
        vec![vec![1, 2]]
    );
    assert!(run(q, &[at(1, "process", p), at(2, "network", n2)]).is_empty());
}

#[test]
fn sequence_maxspan_is_inclusive() {
    let q = "sequence with maxspan=1s [process where true] [network where true]";
    assert_eq!(
        run(
            q,
            &[at(0, "process", json!({})), at(1000, "network", json!({}))]
        ),
        vec![vec![0, 1000]]
    );
    assert!(
        run(
            q,
            &[at(0, "process", json!({})), at(1001, "network", json!({}))]
        )
        .is_empty()
    );
    let q =
        "sequence with maxspan=10ms [process where true] [file where true] [network where true]";
    assert_eq!(
        run(
            q,
            &[
                at(0, "process", json!({})),
                at(5, "file", json!({})),
                at(10, "network", json!({}))
            ]
        ),
        vec![vec![0, 5, 10]]
    );
    assert!(
        run(
            q,
            &[
                at(0, "process", json!({})),
                at(5, "file", json!({})),
                at(11, "network", json!({}))
            ]
        )
        .is_empty()
    );
}

#[test]
fn sequence_until_cancels() {
    let q = "sequence by host.id [process where true] [network where true] until [file where true]";
    let h = |id: &str| json!({"host": {"id": id}});
    assert!(
        run(
            q,
            &[
                at(1, "process", h("a")),
                at(2, "file", h("a")),
                at(3, "network", h("a"))
            ]
        )
        .is_empty()
    );
    // `until` of another key cancels nothing.
    assert_eq!(
        run(
            q,
            &[
                at(1, "process", h("a")),
                at(2, "file", h("b")),
                at(3, "network", h("a"))
            ]
        ),
        vec![vec![1, 3]]
    );
    // A new first stage after the cancellation starts over.
    assert_eq!(
        run(
            q,
            &[
                at(1, "process", h("a")),
                at(2, "file", h("a")),
                at(3, "process", h("a")),
                at(4, "network", h("a"))
            ]
        ),
        vec![vec![3, 4]]
    );
}

#[test]
fn sequence_runs_repeat_a_stage() {
    let q = "sequence by user.name [authentication where event.outcome == \"failure\"] with runs=3 [authentication where event.outcome == \"success\"]";
    let f = json!({"user": {"name": "u"}, "event": {"outcome": "failure"}});
    let s = json!({"user": {"name": "u"}, "event": {"outcome": "success"}});
    let two = [
        at(1, "authentication", f.clone()),
        at(2, "authentication", f.clone()),
        at(3, "authentication", s.clone()),
    ];
    assert!(run(q, &two).is_empty());
    let three = [
        at(1, "authentication", f.clone()),
        at(2, "authentication", f.clone()),
        at(3, "authentication", f),
        at(4, "authentication", s),
    ];
    assert_eq!(run(q, &three), vec![vec![1, 2, 3, 4]]);
}

#[test]
fn one_event_fills_one_stage() {
    // An event matching both stages cannot complete a sequence alone.
    let q = "sequence [any where true] [any where true]";
    assert!(run(q, &[at(1, "process", json!({}))]).is_empty());
    assert_eq!(
        run(
            q,
            &[at(1, "process", json!({})), at(2, "process", json!({}))]
        ),
        vec![vec![1, 2]]
    );
}

#[test]
fn seeds_parse_and_compile() {
    for (name, text) in [
        (
            "001",
            include_str!("../../../testdata/eql/seeds/001_fb6c7d2e9855348f.eql"),
        ),
        (
            "002",
            include_str!("../../../testdata/eql/seeds/002_67de771ee602a3f6.eql"),
        ),
        (
            "003",
            include_str!("../../../testdata/eql/seeds/003_29f1e13843c467e5.eql"),
        ),
        (
            "004",
            include_str!("../../../testdata/eql/seeds/004_da2adef725dfc9d9.eql"),
        ),
    ] {
        let q = compile(text).unwrap_or_else(|e| panic!("seed {name}: {e}"));
        let is_seq = q.as_sequence().is_some();
        assert_eq!(is_seq, name == "001" || name == "003", "seed {name}");
    }
}
