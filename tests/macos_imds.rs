//! macOS end to end (issue 7):
//!
//! 1. `curl http://169.254.169.254/latest/meta-data/iam/security-credentials/`
//!    seen through an eslogger exec and through Elastic Endpoint ECS exports
//!    (a JSON array of hits, an EQL `hits.sequences` response) raises the IMDS
//!    command-line alerts of the shipped pack, through `tripline scan`.
//! 2. The SigmaHQ macOS `process_creation` corpus compiles and runs over the
//!    macOS ECS dataset (the Elastic Endpoint exports of
//!    `shared/corpus/macos/elastic-endpoint-ecs` plus tripline's macOS
//!    fixtures); alerts per rule are printed. The six hand-edited files that
//!    are not JSON give errors naming the file and position; the others run.
//!    Skipped when the shared corpus is absent (`TRIPLINE_SHARED_CORPUS`
//!    overrides `../shared/corpus`).
//! 3. Seed 004 (EQL, HTTP GET of a credential path with process fields) fires
//!    on a Packetbeat `network_traffic` HTTP event of curl and not on the same
//!    request by the SSM agent with an AWS SDK user agent.
//!
//! See: issue 7

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use tripline::engine::Engine;
use tripline::rule::eql;
use tripline::rule::ir::{Detection, Expr};
use tripline::rule::{self, Rule, RuleKind, RuleMeta, RuleSet};
use tripline::{Event, Format};
use tripline_parsers::json::read_json;
use tripline_parsers::{Location, ParseError};

const SUSPICIOUS_TOOL_MACOS: &str = "1ee67280-3714-4923-8dac-3d434e2ff0fe";
const CREDENTIAL_PATH_MACOS: &str = "986357cc-f2ac-4ad9-a093-d62c09426d97";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> PathBuf {
    std::env::var_os("TRIPLINE_SHARED_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"))
}

/// Rule ids of the alerts `tripline scan` prints for `input`.
fn scan_rule_ids(input: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["scan", "--quiet", input])
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{input}: alerts expected; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["rule"]["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn imds_curl_through_eslogger_and_elastic_endpoint_raises_the_command_line_alerts() {
    for input in [
        "testdata/macos/eslogger/eslogger_exec_fork_exit.jsonl",
        "testdata/macos/elastic/array_imds_curl_exec.json",
        "testdata/macos/elastic/eql_sequences_imds_curl.json",
    ] {
        let ids = scan_rule_ids(input);
        eprintln!("{input}: {ids:?}");
        // One alert per rule: the exec, not the fork, nor the exit.
        assert_eq!(
            ids,
            [SUSPICIOUS_TOOL_MACOS, CREDENTIAL_PATH_MACOS],
            "{input}"
        );
    }
    // The eslogger message version 10 (audit tokens as arrays): python urllib.
    let ids = scan_rule_ids("testdata/macos/eslogger/eslogger_v10_audit_token_arrays.jsonl");
    assert_eq!(ids, [SUSPICIOUS_TOOL_MACOS, CREDENTIAL_PATH_MACOS]);
    // The unified log: `sudo curl ...` is logged by sudo with its COMMAND=.
    let ids = scan_rule_ids("testdata/macos/unified_log/log_show_style_ndjson.ndjson");
    eprintln!("unified log ndjson: {ids:?}");
    assert_eq!(ids, [SUSPICIOUS_TOOL_MACOS, CREDENTIAL_PATH_MACOS]);
}

/// Events and errors of one JSON input (any framing, as `scan` reads it).
fn read(path: &Path) -> (Vec<Event>, Vec<ParseError>) {
    let bytes = std::fs::read(path).unwrap();
    let (mut evs, mut errs) = (Vec::new(), Vec::new());
    let format = Format::detect(&bytes[..bytes.len().min(8192)]);
    if format.is_some_and(Format::is_line_based) {
        let mut p = format.unwrap().parser();
        let mut offset = 0u64;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let loc = Location {
                line: i as u64 + 1,
                offset,
            };
            offset += line.len() as u64 + 1;
            if let Err(e) = p.feed(line, loc, &mut |e| evs.push(e)) {
                errs.push(e);
            }
        }
        p.flush(&mut |e| evs.push(e));
    } else {
        read_json(
            BufReader::new(&bytes[..]),
            1 << 20,
            &mut |e| evs.push(e),
            &mut |e| errs.push(e),
        )
        .unwrap();
    }
    (evs, errs)
}

fn files_under(d: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(d) else { return };
    let mut v: Vec<_> = rd.map(|e| e.unwrap().path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            let n = p.to_string_lossy();
            if !n.ends_with(".ecs.jsonl") && !n.ends_with(".passthrough.jsonl") {
                out.push(p);
            }
        }
    }
}

#[test]
fn sigma_macos_process_creation_corpus_over_the_macos_ecs_dataset() {
    let rules_dir = corpus().join("rules/sigma/rules/macos/process_creation");
    let data_dir = corpus().join("macos/elastic-endpoint-ecs");
    if !rules_dir.is_dir() || !data_dir.is_dir() {
        eprintln!("skipped: shared corpus not found at {}", corpus().display());
        return;
    }
    // The dataset: every Elastic Endpoint export, then tripline's macOS fixtures.
    let mut files = Vec::new();
    files_under(&data_dir, &mut files);
    let n_corpus = files.len();
    for sub in ["eslogger", "unified_log", "elastic"] {
        files_under(&root().join("testdata/macos").join(sub), &mut files);
    }
    let mut events = Vec::new();
    let mut bad_files = Vec::new();
    for f in &files {
        let (evs, errs) = read(f);
        for e in &errs {
            // file + position, as scan prints them
            let msg = format!("{}: {e}", f.display());
            assert!(e.line > 0 || e.offset > 0, "unlocated: {msg}");
            eprintln!("error: {msg}");
        }
        if !errs.is_empty() {
            // '/'-separated on every platform (the Windows suite runs under Wine).
            bad_files.push(
                f.strip_prefix(&data_dir)
                    .unwrap_or(f)
                    .display()
                    .to_string()
                    .replace('\\', "/"),
            );
        }
        events.extend(evs);
    }
    bad_files.sort();
    // MANIFEST: six hand-edited files are not valid JSON.
    let invalid = [
        "Defense_Evasion/evasion_execution_electron_tcc_bypass_nodejs_childproc_osascript_apfell.json",
        "Defense_Evasion/evasion_susp_zip_file_launchagent_for_office_sandbox_evasion.json",
        "Discovery/discovery_system_profile_sw_vers.json",
        "Execution/execution_scripting_python.json",
        "Lateral_Movement/lateral_movement_ssh_from_python_procexec.json",
        "Persistence/persistence_execution_hidden_loginitem_creation_osascript.json",
    ];
    assert_eq!(
        bad_files, invalid,
        "exactly the six invalid files give errors"
    );
    let macos_events = events
        .iter()
        .filter(|e| e.host.os_type.as_deref() == Some("macos"))
        .count();
    assert_eq!(macos_events, events.len(), "every event is a macOS one");

    let report = rule::load(std::slice::from_ref(&rules_dir), false);
    for d in &report.diagnostics {
        eprintln!("diagnostic: {d}");
    }
    let compiled = report.rules.len();
    eprintln!(
        "Sigma macOS process_creation: {} rules, {compiled} compiled; dataset: {} files ({n_corpus} Elastic Endpoint exports), {} events",
        report.total,
        files.len(),
        events.len()
    );
    assert_eq!(compiled, report.total, "every rule compiles");
    let names: BTreeMap<String, String> = report
        .rules
        .metas()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    let mut engine = Engine::new(report.rules);
    let mut per_rule: BTreeMap<String, usize> = BTreeMap::new();
    let mut sink = |a: tripline::alert::Alert| *per_rule.entry(a.rule.id.clone()).or_default() += 1;
    for e in &events {
        engine.process(e, &mut sink);
    }
    engine.flush(&mut sink);
    let total: usize = per_rule.values().sum();
    eprintln!(
        "alerts per rule ({} rules fired, {total} alerts):",
        per_rule.len()
    );
    for (id, n) in &per_rule {
        eprintln!(
            "  {n:>3}  {id}  {}",
            names.get(id).map_or("", String::as_str)
        );
    }
    assert!(total > 0, "the macOS corpus raises some alerts");
}

fn seed004() -> RuleSet {
    let path = root().join("testdata/eql/seeds/004_da2adef725dfc9d9.eql");
    let text = std::fs::read_to_string(path).unwrap();
    let q = eql::compile(&text).unwrap();
    assert!(q.as_sequence().is_none(), "a single-event query");
    RuleSet::from_rules(vec![Rule {
        meta: Arc::new(RuleMeta {
            id: "004".into(),
            name: "seed 004".into(),
            ..RuleMeta::default()
        }),
        kind: RuleKind::Single(Detection {
            filter: Expr::Const(true),
            condition: Expr::Eql(Arc::new(q)),
        }),
    }])
}

#[test]
fn seed_004_fires_on_packetbeat_http_by_curl_not_by_a_cloud_agent() {
    let d = root().join("testdata/macos/packetbeat");
    let mut fired = BTreeMap::new();
    for f in [
        "network_traffic_http_imds_curl.ndjson",
        "network_traffic_http_imds_ssm_agent.ndjson",
    ] {
        let (evs, errs) = read(&d.join(f));
        assert!(errs.is_empty(), "{f}: {errs:?}");
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].event.module.as_deref(), Some("network_traffic"));
        let mut engine = Engine::new(seed004());
        let mut n = 0;
        for e in &evs {
            engine.process(e, &mut |_| n += 1);
        }
        engine.flush(&mut |_| n += 1);
        fired.insert(f, n);
    }
    eprintln!("seed 004 alerts: {fired:?}");
    assert_eq!(fired["network_traffic_http_imds_curl.ndjson"], 1);
    assert_eq!(fired["network_traffic_http_imds_ssm_agent.ndjson"], 0);
}
