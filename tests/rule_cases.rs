//! Data-driven rule tests: every `testdata/rules/**/*.cases.yml` names one rule
//! file and a list of ECS events with the expected outcome.
//!
//! ```yaml
//! rule: rules/imds/some_rule.yml        # relative to the repository root
//! cases:
//!   - name: curl fetches AWS role credentials
//!     expect: match                     # or: no_match
//!     event: { "event": {"category": ["process"]}, "process": {...} }
//!   - name: exec then connect within 1 s        # sequences and counts:
//!     expect_alerts: 1                          # how many alerts the events give
//!     events:                                   # in arrival order (the engine
//!       - { "@timestamp": "...", ... }          # reorders by @timestamp)
//!       - { "@timestamp": "...", ... }
//! ```
//!
//! Each named rule file is loaded alone (it must compile without diagnostics).
//! A file with a Sigma correlation compiles into several rules; the rule under
//! test is the one rule that alerts on its own (the others are `generate:
//! false` stages). Each case's events go through the engine and end with
//! `flush()`, so cases do not share state, and every failing case is reported
//! by file and name before the test fails.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tripline::Event;
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::rule;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    rule: String,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// Single-event form: the outcome of `event`.
    #[serde(default)]
    expect: Option<Expect>,
    #[serde(default)]
    event: Option<serde_json::Value>,
    /// Multi-event form: the number of alerts `events` give.
    #[serde(default)]
    expect_alerts: Option<usize>,
    #[serde(default)]
    events: Option<Vec<serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Expect {
    Match,
    NoMatch,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            case_files(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".cases.yml") || n.ends_with(".cases.yaml"))
        {
            out.push(p);
        }
    }
}

/// Runs one case file; returns (cases run, failure messages).
fn run_file(path: &Path) -> (usize, Vec<String>) {
    let shown = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return (0, vec![format!("{shown}: cannot read: {e}")]),
    };
    let file: CaseFile = match yaml_serde::from_str(&text) {
        Ok(f) => f,
        Err(e) => return (0, vec![format!("{shown}: invalid case file: {e}")]),
    };
    let report = rule::load(&[root().join(&file.rule)], false);
    let alerting: Vec<usize> = (0..report.rules.len())
        .filter(|&i| !report.rules.is_silent(i))
        .collect();
    if !report.diagnostics.is_empty() || alerting.len() != 1 {
        let diags: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        return (
            0,
            vec![format!(
                "{shown}: rule {} must compile alone into exactly one alerting rule ({} compiled, {} alerting): {}",
                file.rule,
                report.rules.len(),
                alerting.len(),
                diags.join("; ")
            )],
        );
    }
    let rule_id = report.rules.rules()[alerting[0]].meta.id.clone();
    let mut failures = Vec::new();
    if file.cases.is_empty() {
        failures.push(format!("{shown}: no cases"));
    }
    // Every case runs with the prefilter on, off and with every rule a
    // candidate (STYLE.md practice 3); the outcome must be the same each way.
    for mode in [
        PrefilterMode::On,
        PrefilterMode::Off,
        PrefilterMode::AllCandidates,
    ] {
        let engine = Engine::with_options(
            report.rules.clone(),
            EngineOptions {
                prefilter: mode,
                ..EngineOptions::default()
            },
        );
        run_cases(&shown, &file, &rule_id, engine, mode, &mut failures);
    }
    (file.cases.len(), failures)
}

fn run_cases(
    shown: &str,
    file: &CaseFile,
    rule_id: &str,
    mut engine: Engine,
    mode: PrefilterMode,
    failures: &mut Vec<String>,
) {
    for case in &file.cases {
        let (events, single) = match (&case.event, &case.expect, &case.events, case.expect_alerts) {
            (Some(ev), Some(_), None, None) => (std::slice::from_ref(ev), true),
            (None, None, Some(evs), Some(_)) if !evs.is_empty() => (evs.as_slice(), false),
            _ => {
                failures.push(format!(
                    "{shown}: case {:?}: give either `event` and `expect`, or `events` and `expect_alerts`",
                    case.name
                ));
                continue;
            }
        };
        let mut alerts = Vec::new();
        for ev in events {
            engine.process(&Event::from_json(ev), &mut |a| alerts.push(a));
        }
        engine.flush(&mut |a| alerts.push(a));
        if let Some(expect) = case.expect {
            let got = if alerts.is_empty() {
                Expect::NoMatch
            } else {
                Expect::Match
            };
            if got != expect {
                failures.push(format!(
                    "{shown}: case {:?} (prefilter {mode:?}): expected {:?}, got {:?}",
                    case.name, expect, got
                ));
            }
        }
        if let Some(n) = case.expect_alerts
            && alerts.len() != n
        {
            failures.push(format!(
                "{shown}: case {:?} (prefilter {mode:?}): expected {n} alert(s), got {}",
                case.name,
                alerts.len()
            ));
        }
        for a in &alerts {
            if a.rule.id != rule_id || a.events.is_empty() || (single && a.events.len() != 1) {
                failures.push(format!("{shown}: case {:?}: malformed alert", case.name));
            }
        }
    }
}

#[test]
fn rule_cases() {
    let mut files = Vec::new();
    case_files(&root().join("testdata/rules"), &mut files);
    assert!(!files.is_empty(), "no testdata/rules/**/*.cases.yml found");
    let mut total = 0;
    let mut failures = Vec::new();
    for f in &files {
        let (n, fails) = run_file(f);
        total += n;
        failures.extend(fails);
    }
    eprintln!("{} case files, {total} cases", files.len());
    assert!(
        failures.is_empty(),
        "{} failing rule case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
