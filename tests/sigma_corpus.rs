//! The SigmaHQ Linux and macOS rules in `testdata/sigma-corpus/` (see
//! testdata/ATTRIBUTION.md): every rule compiles, per logsource, and the
//! `service: auditd` rules only read record fields and record types that the
//! auditd parser actually produces (the completeness check of the Linux
//! auditd mapping, against every golden `testdata/auditd/**/*.ecs.jsonl`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use tripline::rule::ir::{GlobPart, Test};
use tripline::rule::{self, RuleKind};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn corpus_compiles_completely() {
    let r = rule::load(&[root().join("testdata/sigma-corpus")], false);
    let diags: Vec<String> = r.diagnostics.iter().map(ToString::to_string).collect();
    assert!(diags.is_empty(), "{}", diags.join("\n"));
    assert_eq!(r.total, 247);
    assert_eq!(r.rules.len(), 247);
    let by: BTreeMap<&str, (usize, usize)> = r
        .by_logsource
        .iter()
        .map(|(k, v)| (k.as_str(), (v.total, v.compiled)))
        .collect();
    assert_eq!(by.get("linux/process_creation/-"), Some(&(122, 122)));
    assert_eq!(by.get("linux/network_connection/-"), Some(&(5, 5)));
    assert_eq!(by.get("linux/-/auditd"), Some(&(53, 53)));
    assert_eq!(by.get("macos/process_creation/-"), Some(&(67, 67)));
}

fn golden_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            golden_files(&p, out);
        } else if p.to_string_lossy().ends_with(".ecs.jsonl") {
            out.push(p);
        }
    }
}

/// Record types and, per type, the field keys the parser emitted in the golden files.
fn parser_vocabulary() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut files = Vec::new();
    golden_files(&root().join("testdata/auditd"), &mut files);
    assert!(!files.is_empty(), "no auditd golden files");
    let (mut types, mut keys) = (BTreeSet::new(), BTreeSet::new());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines() {
            let Ok(doc) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(recs) = doc.pointer("/auditd/records").and_then(Value::as_array) else {
                continue;
            };
            for rec in recs {
                if let Some(t) = rec.get("type").and_then(Value::as_str) {
                    types.insert(t.to_string());
                }
                if let Some(m) = rec.get("fields").and_then(Value::as_object) {
                    keys.extend(m.keys().cloned());
                }
            }
        }
    }
    (types, keys)
}

/// Record fields the parser never emits in the golden data, but that exist in
/// real logs the golden set does not cover. Each is named with the reason.
const KNOWN_ABSENT_KEYS: &[(&str, &str)] = &[];

#[test]
fn auditd_rules_read_what_the_parser_produces() {
    let r = rule::load(&[root().join("testdata/sigma-corpus/linux/auditd")], false);
    assert_eq!(r.rules.len(), 53);
    let (types, keys) = parser_vocabulary();
    let mut missing_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut missing_types: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in r.rules.rules() {
        let RuleKind::Single(d) = &rule.kind else {
            continue;
        };
        d.condition.for_each_predicate(&mut |p| {
            if p.field.base.path() != "auditd.records" {
                // Keyword detections search process.command_line / title / message.
                return;
            }
            match p.field.inner.as_slice() {
                [t] if t == "type" => {
                    if let Test::Str(m) = &p.test
                        && let [GlobPart::Lit(v)] = m.parts.as_slice()
                        && !types.iter().any(|t| t.eq_ignore_ascii_case(v))
                    {
                        missing_types
                            .entry(v.clone())
                            .or_default()
                            .push(rule.meta.path.clone());
                    }
                }
                [f, k] if f == "fields" => {
                    if !keys.contains(k.as_str()) && !KNOWN_ABSENT_KEYS.iter().any(|(x, _)| x == k)
                    {
                        missing_keys
                            .entry(k.clone())
                            .or_default()
                            .push(rule.meta.path.clone());
                    }
                }
                other => panic!("unexpected auditd field path {other:?}"),
            }
        });
    }
    eprintln!(
        "parser vocabulary: {} record types, {} field keys",
        types.len(),
        keys.len()
    );
    assert!(
        missing_keys.is_empty(),
        "auditd rules read record fields the parser never emits: {missing_keys:#?}"
    );
    // Record types: rules may name types the golden logs happen not to contain;
    // list them, and require that at least the common ones are covered.
    eprintln!("record types named by rules but absent from the golden logs: {missing_types:?}");
    for t in ["SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE"] {
        assert!(types.contains(t), "golden logs lack {t}");
    }
}
