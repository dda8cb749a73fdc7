//! ECS conformance: every field tripline emits — in events (all golden outputs
//! under testdata) and in alerts (scans of the bundled logs) — is checked against
//! the ECS definitions in `testdata/ecs/ecs_flat.yml` (elastic/ecs, Apache-2.0):
//! the name exists, the JSON type fits the ECS type, the value is an array only
//! where ECS normalizes the field to an array, and `event.kind`, `event.category`
//! and `event.type` use allowed values.
//!
//! Fields under a documented custom namespace are exempt (see
//! [`CUSTOM_NAMESPACES`] and the README's field tables).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

/// Namespaces that are ours or the source's, documented in the README.
const CUSTOM_NAMESPACES: &[&str] = &[
    // raw auditd records and fields (README: auditd -> ECS).
    "auditd.",
    // auditbeat's login-uid extension of `user` (auid), kept for auditd users.
    "user.audit.",
    // raw Windows event fields, as Winlogbeat and Elastic's Sysmon integration name them.
    "winlog.",
    // PowerShell script block fields, as Elastic's PowerShell integration names them
    // (powershell.file.script_block_text, ...; README: Windows -> ECS).
    "powershell.",
    // macOS unified log / Endpoint Security raw fields.
    "macos.",
    // tripline's own alert fields (matched events, rule path).
    "tripline.",
];

#[derive(Debug, Deserialize)]
struct FieldDef {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    normalize: Vec<String>,
    #[serde(default)]
    allowed_values: Vec<AllowedValue>,
}

#[derive(Debug, Deserialize)]
struct AllowedValue {
    name: String,
}

fn ecs() -> BTreeMap<String, FieldDef> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ecs/ecs_flat.yml");
    let text = std::fs::read_to_string(path).unwrap();
    yaml_serde::from_str(&text).unwrap()
}

/// How a leaf came to hold several values.
#[derive(Debug, Clone, PartialEq)]
enum Multi {
    /// A single value.
    No,
    /// The leaf itself is an array.
    Leaf,
    /// The leaf sits under an array of objects at this path (`dns.answers`).
    Under(String),
}

/// Flattens a document to (dotted path, leaf, how multi-valued) triples.
fn flatten(prefix: &str, v: &Value, multi: Multi, out: &mut Vec<(String, Value, Multi)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, multi.clone(), out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for x in items {
                flatten(prefix, x, Multi::Under(prefix.to_string()), out);
            }
        }
        Value::Array(items) => {
            for x in items {
                out.push((prefix.to_string(), x.clone(), Multi::Leaf));
            }
            if items.is_empty() {
                out.push((prefix.to_string(), Value::Null, Multi::Leaf));
            }
        }
        other => out.push((prefix.to_string(), other.clone(), multi)),
    }
}

fn type_ok(ecs_type: &str, v: &Value) -> bool {
    match ecs_type {
        "keyword" | "wildcard" | "match_only_text" | "text" | "constant_keyword" => v.is_string(),
        "long" | "integer" | "short" | "byte" | "unsigned_long" => v.is_i64() || v.is_u64(),
        "float" | "scaled_float" | "double" | "half_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "ip" => v
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "date" => v
            .as_str()
            .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
        "object" | "flattened" | "nested" => true,
        "geo_point" => v.is_object() || v.is_string(),
        _ => false,
    }
}

fn check(doc: &Value, origin: &str, ecs: &BTreeMap<String, FieldDef>, problems: &mut Vec<String>) {
    let mut leaves = Vec::new();
    flatten("", doc, Multi::No, &mut leaves);
    for (path, v, multi) in leaves {
        if CUSTOM_NAMESPACES.iter().any(|ns| path.starts_with(ns)) {
            continue;
        }
        let Some(def) = ecs.get(&path) else {
            problems.push(format!("{origin}: `{path}` is not an ECS field"));
            continue;
        };
        if v.is_null() {
            problems.push(format!("{origin}: `{path}` is null or an empty array"));
            continue;
        }
        if !type_ok(&def.type_, &v) {
            problems.push(format!(
                "{origin}: `{path}` = {v} does not fit ECS type {}",
                def.type_
            ));
        }
        let is_array = |d: &FieldDef| d.normalize.iter().any(|n| n == "array");
        let multi_ok = match &multi {
            Multi::No => true,
            Multi::Leaf => is_array(def),
            // An array of objects is fine where ECS makes that object an array
            // (`dns.answers`), or the leaf itself.
            Multi::Under(parent) => is_array(def) || ecs.get(parent).is_some_and(is_array),
        };
        if !multi_ok {
            problems.push(format!(
                "{origin}: `{path}` holds several values but ECS does not make it an array"
            ));
        }
        if !def.allowed_values.is_empty() {
            let s = v.as_str().unwrap_or("");
            if !def.allowed_values.iter().any(|a| a.name == s) {
                problems.push(format!(
                    "{origin}: `{path}` = {v} is not an allowed ECS value"
                ));
            }
        }
    }
}

fn golden_outputs() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        let mut v: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
        v.sort();
        for p in v {
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".ecs.jsonl") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut out,
    );
    out
}

#[test]
fn events_in_every_golden_output_conform_to_ecs() {
    let ecs = ecs();
    let files = golden_outputs();
    assert!(files.len() >= 40, "golden outputs missing: {}", files.len());
    let mut problems = Vec::new();
    let mut docs = 0;
    for f in &files {
        for (i, line) in std::fs::read_to_string(f).unwrap().lines().enumerate() {
            let doc: Value = serde_json::from_str(line).unwrap();
            check(
                &doc,
                &format!("{}:{}", f.display(), i + 1),
                &ecs,
                &mut problems,
            );
            docs += 1;
        }
    }
    eprintln!(
        "ECS conformance: {docs} events in {} golden files",
        files.len()
    );
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn alerts_conform_to_ecs() {
    let ecs = ecs();
    let mut problems = Vec::new();
    let mut docs = 0;
    for input in [
        "testdata/e2e/imds-real-audit.log",
        "testdata/auditd/go-libaudit/testdata/normal.log",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(["scan", "--quiet", input])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{input}: alerts expected");
        for (i, line) in String::from_utf8(out.stdout).unwrap().lines().enumerate() {
            let doc: Value = serde_json::from_str(line).unwrap();
            assert_eq!(doc["event"]["kind"], "alert");
            check(&doc, &format!("alert {i} of {input}"), &ecs, &mut problems);
            docs += 1;
        }
    }
    eprintln!("ECS conformance: {docs} alerts");
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checker itself: each kind of violation is caught (a test that cannot fail proves nothing).
#[test]
fn checker_catches_each_kind_of_violation() {
    let ecs = ecs();
    let bad = serde_json::json!({
        "process": {"pid": "42", "name": ["a", "b"], "no_such_field": 1},
        "event": {"category": ["bogus"], "kind": "event"},
        "auditd": {"anything": {"goes": [1, {"x": 2}]}},
        "destination": {"ip": "not-an-ip"},
        "dns": {"answers": [{"data": "1.2.3.4", "type": "A"}, {"data": "5.6.7.8", "type": "A"}]},
        "threat": [{"framework": "MITRE ATT&CK"}, {"framework": "MITRE ATT&CK"}],
    });
    let mut problems = Vec::new();
    check(&bad, "bad", &ecs, &mut problems);
    problems.dedup();
    let text = problems.join("\n");
    assert!(
        text.contains("`process.pid` = \"42\" does not fit"),
        "{text}"
    );
    assert!(
        text.contains("`process.name` holds several values"),
        "{text}"
    );
    assert!(
        text.contains("`process.no_such_field` is not an ECS field"),
        "{text}"
    );
    assert!(
        text.contains("`event.category` = \"bogus\" is not an allowed"),
        "{text}"
    );
    assert!(
        text.contains("`destination.ip` = \"not-an-ip\" does not fit"),
        "{text}"
    );
    // `threat` is not an array in ECS, so several `threat.framework` values are wrong;
    // `dns.answers` is, so its leaves may repeat.
    assert!(
        text.contains("`threat.framework` holds several values"),
        "{text}"
    );
    assert!(!text.contains("dns.answers"), "{text}");
    assert_eq!(problems.len(), 6, "{text}");
}
