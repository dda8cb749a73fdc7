//! auditd events keep `auditd.data.*` and `auditd.records` in compact form
//! (`Event::lazy`, parsers/src/auditd/lazy.rs); the prefilter and the matcher
//! read them there without building JSON. This checks that every rule gives
//! the same verdict on such an event as on the same event with every field
//! as JSON (`Event::from_json(&ev.to_json())`), with the prefilter on and off.
//!
//! Events: every auditd capture in testdata, and one synthetic event per
//! rule that tests `auditd.records[]` fields (Sigma `service: auditd`),
//! written as audit.log text from the rule's own literals so that many match.

mod common;

use std::path::PathBuf;

use tripline::Event;
use tripline::Format;
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::rule::ir::{GlobPart, Predicate, Test};
use tripline::rule::{self, RuleKind};

fn captures() -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "log" || x == "txt") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&common::root().join("testdata/auditd"), &mut out);
    out.push(common::root().join("testdata/e2e/imds-real-audit.log"));
    out.sort();
    out
}

/// A text that a glob accepts.
fn sample(parts: &[GlobPart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            GlobPart::Lit(l) => l.as_str(),
            GlobPart::Star => " x",
            GlobPart::One => "a",
        })
        .collect()
}

/// `key=value` as auditd writes it: quoted when it can be, else hex.
fn field(key: &str, value: &str) -> String {
    if value.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        format!("{key}=\"{value}\"")
    } else {
        let hex: String = value.bytes().map(|b| format!("{b:02X}")).collect();
        format!("{key}={hex}")
    }
}

/// One audit event (as lines) per rule that reads `auditd.records[]`.
fn synthetic(rules: &rule::RuleSet) -> Vec<String> {
    let mut out = Vec::new();
    for (n, r) in rules.rules().iter().enumerate() {
        let RuleKind::Single(d) = &r.kind else {
            continue;
        };
        let mut preds: Vec<&Predicate> = Vec::new();
        d.filter.for_each_predicate(&mut |p| preds.push(p));
        d.condition.for_each_predicate(&mut |p| preds.push(p));
        let mut rtype = "SYSCALL".to_string();
        let mut fields = Vec::new();
        for p in preds {
            if p.field.base.path() != "auditd.records" {
                continue;
            }
            let Test::Str(m) = &p.test else { continue };
            let v = sample(&m.parts);
            match p.field.inner.as_slice() {
                [t] if t == "type"
                    && !v.is_empty()
                    && v.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
                {
                    rtype = v;
                }
                [f, k] if f == "fields" && !k.is_empty() && !k.contains(['=', ' ']) => {
                    fields.push(field(k, &v));
                }
                _ => {}
            }
        }
        if fields.is_empty() && rtype == "SYSCALL" {
            continue;
        }
        let stamp = format!("msg=audit(1700000000.{:03}:{}):", n % 1000, 100 + n);
        out.push(format!(
            "type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 pid={} ppid=1 uid=0 comm=\"sh\" exe=\"/bin/sh\" key=(null)",
            1000 + n
        ));
        out.push(format!("type={rtype} {stamp} {}", fields.join(" ")));
        out.push(format!("type=EOE {stamp}"));
    }
    out
}

fn parse(text: &[u8]) -> Vec<Event> {
    let mut parser = Format::Auditd.parser();
    let mut out = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let loc = tripline_parsers::Location {
            line: i as u64 + 1,
            offset: 0,
        };
        let _ = parser.feed(line, loc, &mut |e| out.push(e));
    }
    parser.flush(&mut |e| out.push(e));
    out
}

#[test]
fn rules_agree_on_compact_and_json_auditd_events() {
    let root = common::root();
    let report = rule::load(&[root.join("testdata/sigma-corpus")], true);
    let rules = report.rules;
    assert!(rules.len() >= 100, "rules compile ({})", rules.len());

    let mut events = Vec::new();
    for p in captures() {
        events.extend(parse(&std::fs::read(&p).expect("capture")));
    }
    let n_captured = events.len();
    let lines = synthetic(&rules);
    events.extend(parse(lines.join("\n").as_bytes()));
    assert!(n_captured > 150, "{n_captured} captured events");
    assert!(events.len() - n_captured > 20, "synthetic events");
    assert!(events.iter().all(|e| e.lazy.is_some()));

    let engine = |mode| {
        Engine::with_options(
            rules.clone(),
            EngineOptions {
                prefilter: mode,
                ..EngineOptions::default()
            },
        )
    };
    let mut engines = [
        engine(PrefilterMode::On),
        engine(PrefilterMode::Off),
        engine(PrefilterMode::On),
        engine(PrefilterMode::Off),
    ];
    let mut alerts = [0usize; 2];
    let mut bad = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        let json = Event::from_json(&ev.to_json());
        assert!(json.lazy.is_none());
        let run = |e: &mut Engine, ev: &Event| {
            let mut ids = Vec::new();
            e.process(ev, &mut |a| ids.push(a.rule.id.to_string()));
            ids
        };
        let got = [
            run(&mut engines[0], ev),
            run(&mut engines[1], ev),
            run(&mut engines[2], &json),
            run(&mut engines[3], &json),
        ];
        alerts[usize::from(i >= n_captured)] += got[3].len();
        if got.iter().any(|g| *g != got[3]) {
            bad.push(format!(
                "event {i}: compact on {:?} off {:?}, JSON on {:?} off {:?}\n  {}",
                got[0],
                got[1],
                got[2],
                got[3],
                ev.to_json()
            ));
        }
        // The event writes its compact fields as the JSON tree serializes.
        let mut w = Vec::new();
        ev.write_json(&mut w);
        assert_eq!(
            String::from_utf8_lossy(&w),
            serde_json::to_string(&ev.to_json()).expect("JSON"),
            "event {i}"
        );
    }
    assert!(
        bad.is_empty(),
        "{} event(s) differ:\n{}",
        bad.len(),
        bad[..bad.len().min(5)].join("\n")
    );
    eprintln!(
        "{} captured events: {} alerts; {} synthetic: {} alerts",
        n_captured,
        alerts[0],
        events.len() - n_captured,
        alerts[1]
    );
    // The synthetic events are made to match their rules: most must.
    assert!(alerts[1] * 2 >= events.len() - n_captured, "{alerts:?}");
}
