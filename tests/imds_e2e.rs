//! The IMDS rule pack against a real auditd log.
//!
//! `testdata/e2e/imds-real-audit.log` was recorded by a real auditd while `tests/e2e/imds_real_auditd.sh`
//! ran the Atomic Red Team T1552.005-style behaviours (and three benign requests) against a fake metadata
//! service in a network namespace; `imds-real-audit.expect.json` names the pid of every tool process it
//! started and of its parent (a fresh shell, or a cloud agent stand-in, exec'd while recording).
//! See testdata/e2e/README.md. Here the built binary scans that log and, per process, exactly the
//! expected IMDS rules must fire: the four behaviours are detected; the benign runs, the curl
//! carve-out forms and the parents are not.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{root, tripline};
use serde_json::Value;

const TOOL: &str = "fb91c4e7-6564-4404-b3b1-a14a98484434"; // suspicious tool (medium)
const LOCATION: &str = "34d7697e-d698-45ea-90f6-341ab139fa88"; // unusual location (medium)
const CRED: &str = "3861e693-631c-4d6d-a4f9-6f07fdabffad"; // credential/token path (high)
const NET: &str = "b5e166e7-9433-4aed-ab01-ddfbd8b1ee1b"; // network connection (medium)
const SEQ: &str = "fccccbe0-1d40-4060-9499-b5147a6172b1"; // exec then connect within 1 s (sequence, medium)
const IMDS_RULES: [&str; 5] = [TOOL, LOCATION, CRED, NET, SEQ];

/// Behaviour -> the IMDS rules that must fire for its process (and no others).
fn expected_by_behaviour() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let set = |ids: &[&'static str]| ids.iter().copied().collect::<BTreeSet<_>>();
    BTreeMap::from([
        // benign: the IMDSv2 token PUT in the agent carve-out form, curl to a loopback server, and an
        // IMDSv1 instance-id request whose parent is a cloud agent (/usr/share/ec2-instance-connect/*)
        ("benign-imdsv2-token-put-carveout", set(&[])),
        ("benign-curl-loopback-server", set(&[])),
        ("benign-cloud-agent-parent", set(&[])),
        // (1) AWS credentials: IMDSv1 with curl, and the atomic's IMDSv2 flow (token PUT, role, credentials);
        // the IMDSv2 requests use the carve-out forms, so only the credential-path rule sees them
        // (the sequence rule's exec stage carries the same carve-outs)
        ("aws-imdsv1-credentials", set(&[TOOL, CRED, NET, SEQ])),
        ("aws-imdsv2-1-token-put", set(&[])),
        ("aws-imdsv2-2-role-name", set(&[CRED])),
        ("aws-imdsv2-3-role-credentials", set(&[CRED])),
        // (2) Azure managed-identity token with -H Metadata:true (carve-out form for the tool/network rules)
        ("azure-managed-identity-token", set(&[CRED])),
        // (3) GCP service-account token via metadata.google.internal
        ("gcp-service-account-token", set(&[TOOL, CRED, NET, SEQ])),
        // (4) python3 urllib reading the AWS credentials path
        (
            "python3-urllib-aws-credentials",
            set(&[TOOL, CRED, NET, SEQ]),
        ),
        // extra: AWS over IPv6 (fd00:ec2::254)
        ("aws-ipv6-credentials", set(&[TOOL, CRED, NET, SEQ])),
    ])
}

fn ndjson(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}

struct Proc {
    behaviour: String,
    pid: u64,
    parent_pid: u64,
    manifest_expected: BTreeSet<String>,
}

fn manifest() -> Vec<Proc> {
    let text = std::fs::read_to_string(root().join("testdata/e2e/imds-real-audit.expect.json"))
        .expect("read testdata/e2e/imds-real-audit.expect.json");
    let doc: Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["processes"]
        .as_array()
        .expect("processes array")
        .iter()
        .map(|p| Proc {
            behaviour: p["behaviour"].as_str().unwrap().to_string(),
            pid: p["pid"].as_u64().unwrap(),
            parent_pid: p["parent_pid"].as_u64().unwrap(),
            manifest_expected: p["expected_rules"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

fn alert_pid(a: &Value) -> Option<u64> {
    a.pointer("/process/pid")
        .and_then(Value::as_u64)
        .or_else(|| {
            a.pointer("/tripline/events")
                .and_then(Value::as_array)
                .and_then(|evs| evs.last())
                .and_then(|e| e.pointer("/process/pid"))
                .and_then(Value::as_u64)
        })
}

#[test]
fn manifest_and_test_agree_on_expectations() {
    let table = expected_by_behaviour();
    let procs = manifest();
    assert_eq!(
        procs.len(),
        table.len(),
        "manifest and test list different behaviours"
    );
    for p in &procs {
        let want = table
            .get(p.behaviour.as_str())
            .unwrap_or_else(|| panic!("behaviour {} unknown to the test", p.behaviour));
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(want, p.manifest_expected, "{}", p.behaviour);
    }
}

#[test]
fn real_auditd_log_fires_expected_imds_rules_per_process() {
    let out = tripline(&["scan", "testdata/e2e/imds-real-audit.log"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "scan must exit 1 (alerts fired); stderr:\n{stderr}"
    );
    let alerts = ndjson(&out.stdout);
    let procs = manifest();
    let table = expected_by_behaviour();

    let mut fired: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for a in &alerts {
        let id = a
            .pointer("/rule/id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !IMDS_RULES.contains(&id) {
            continue;
        }
        assert!(
            a.pointer("/rule/name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty()),
            "alert without rule.name: {a}"
        );
        let pid = alert_pid(a).unwrap_or_else(|| panic!("IMDS alert without process.pid: {a}"));
        assert!(
            procs.iter().any(|p| p.pid == pid),
            "IMDS alert for pid {pid}, which is not one of this run's tools (a parent?): {a}"
        );
        fired.entry(pid).or_default().insert(id.to_string());
    }

    let mut report = Vec::new();
    let mut failed = false;
    for p in &procs {
        let want: BTreeSet<String> = table[p.behaviour.as_str()]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = fired.get(&p.pid).cloned().unwrap_or_default();
        let ok = want == got;
        failed |= !ok;
        report.push(format!(
            "{:<5} {:<34} pid {:<7} expected {:?} fired {:?}",
            if ok { "PASS" } else { "FAIL" },
            p.behaviour,
            p.pid,
            want,
            got
        ));
    }
    assert!(
        !failed,
        "per-process IMDS rule ids:\n{}\nstderr:\n{stderr}",
        report.join("\n")
    );
}

#[test]
fn real_auditd_network_alerts_carry_destination_and_command_line() {
    let out = tripline(&["scan", "testdata/e2e/imds-real-audit.log"]);
    let alerts = ndjson(&out.stdout);
    let net: Vec<&Value> = alerts
        .iter()
        .filter(|a| a.pointer("/rule/id").and_then(Value::as_str) == Some(NET))
        .collect();
    assert!(!net.is_empty(), "no network-connection alert");
    let mut ips = BTreeSet::new();
    for a in net {
        let ip = a
            .pointer("/destination/ip")
            .and_then(Value::as_str)
            .unwrap_or_default();
        ips.insert(ip.to_string());
        let cl = a
            .pointer("/process/command_line")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            !cl.is_empty(),
            "connect() alert without process.command_line (process table fill): {a}"
        );
        let exe = a
            .pointer("/process/executable")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(
            exe == "/usr/bin/curl" || exe.starts_with("/usr/bin/python3"),
            "unexpected executable {exe:?}"
        );
        assert!(
            a.pointer("/tripline/events")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty())
        );
    }
    assert_eq!(
        ips,
        BTreeSet::from(["169.254.169.254".to_string(), "fd00:ec2::254".to_string()]),
        "destination.ip of the network alerts"
    );
}

/// Every tool's exec and connect events name their parent: its exec (after
/// `ip netns exec`, the runner shell or the cloud agent stand-in) is in the
/// log, and the process table links them by pid and entity id.
#[test]
fn real_auditd_log_resolves_each_tools_parent() {
    let out = tripline(&["convert", "testdata/e2e/imds-real-audit.log"]);
    let events = ndjson(&out.stdout);
    for p in manifest() {
        let parent_execs: Vec<&Value> = events
            .iter()
            .filter(|e| {
                e.pointer("/process/pid").and_then(Value::as_u64) == Some(p.parent_pid)
                    && e.pointer("/event/action").and_then(Value::as_str) == Some("exec")
                    && e.pointer("/event/outcome").and_then(Value::as_str) != Some("failure")
            })
            .collect();
        let parent = parent_execs
            .last()
            .unwrap_or_else(|| panic!("{}: no exec of parent pid {}", p.behaviour, p.parent_pid));
        let mine: Vec<&Value> = events
            .iter()
            .filter(|e| e.pointer("/process/pid").and_then(Value::as_u64) == Some(p.pid))
            .collect();
        assert!(!mine.is_empty(), "{}: no events", p.behaviour);
        for e in mine {
            assert_eq!(
                e.pointer("/process/parent/pid").and_then(Value::as_u64),
                Some(p.parent_pid),
                "{}: {e}",
                p.behaviour
            );
            assert_eq!(
                e.pointer("/process/parent/entity_id"),
                parent.pointer("/process/entity_id"),
                "{}: {e}",
                p.behaviour
            );
            assert_eq!(
                e.pointer("/process/parent/executable"),
                parent.pointer("/process/executable"),
                "{}: {e}",
                p.behaviour
            );
        }
        let exe = parent
            .pointer("/process/executable")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if p.behaviour == "benign-cloud-agent-parent" {
            assert_eq!(exe, "/usr/share/ec2-instance-connect/eic_tripline_test");
        } else {
            assert!(exe.ends_with("sh"), "{}: parent {exe:?}", p.behaviour);
        }
    }
}

#[test]
fn real_auditd_log_converts_to_exec_and_connect_events() {
    let out = tripline(&["convert", "testdata/e2e/imds-real-audit.log"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = ndjson(&out.stdout);
    let curl_exec = events.iter().any(|e| {
        e.pointer("/event/action").and_then(Value::as_str) == Some("exec")
            && e.pointer("/process/executable").and_then(Value::as_str) == Some("/usr/bin/curl")
            && e.pointer("/process/command_line")
                .and_then(Value::as_str)
                .is_some_and(|c| {
                    c.contains("-H Metadata-Flavor: Google http://metadata.google.internal/")
                })
    });
    assert!(
        curl_exec,
        "no curl exec event with the GCP command line (hex-encoded argv decoded and joined)"
    );
    for ip in ["169.254.169.254", "fd00:ec2::254", "127.0.0.1"] {
        let connect = events.iter().any(|e| {
            e.pointer("/event/action").and_then(Value::as_str) == Some("connection_attempted")
                && e.pointer("/destination/ip").and_then(Value::as_str) == Some(ip)
                && e.pointer("/destination/port")
                    .and_then(Value::as_u64)
                    .is_some()
        });
        assert!(connect, "no connection_attempted event to {ip}");
    }
}

/// The sequence rule's alerts carry both stages in order: the exec of the
/// process, then its connection attempt to the metadata service, at most 1 s
/// apart and with the same parent (the join key).
#[test]
fn real_auditd_sequence_alerts_carry_exec_then_connect() {
    let out = tripline(&["scan", "testdata/e2e/imds-real-audit.log"]);
    let alerts = ndjson(&out.stdout);
    let seq: Vec<&Value> = alerts
        .iter()
        .filter(|a| a.pointer("/rule/id").and_then(Value::as_str) == Some(SEQ))
        .collect();
    assert_eq!(seq.len(), 4, "one sequence alert per connecting tool");
    for a in seq {
        let evs = a
            .pointer("/tripline/events")
            .and_then(Value::as_array)
            .expect("tripline.events");
        assert_eq!(evs.len(), 2, "{a}");
        let get = |e: &Value, p: &str| e.pointer(p).cloned().unwrap_or(Value::Null);
        assert_eq!(get(&evs[0], "/event/action"), "exec");
        assert_eq!(get(&evs[1], "/event/action"), "connection_attempted");
        assert_eq!(get(&evs[0], "/process/pid"), get(&evs[1], "/process/pid"));
        assert_eq!(
            get(&evs[0], "/process/parent/entity_id"),
            get(&evs[1], "/process/parent/entity_id")
        );
        assert!(get(&evs[0], "/@timestamp").as_str() <= get(&evs[1], "/@timestamp").as_str());
        let ip = get(&evs[1], "/destination/ip");
        assert!(ip == "169.254.169.254" || ip == "fd00:ec2::254", "{ip}");
    }
    // The stage rules (generate: false) never alert on their own.
    for id in [
        "d0dd753a-021b-478e-b41c-82648895ab78",
        "a32263bc-2300-437a-b6cf-b15559c8a0f5",
    ] {
        assert!(
            !alerts
                .iter()
                .any(|a| a.pointer("/rule/id").and_then(Value::as_str) == Some(id)),
            "stage rule {id} alerted alone"
        );
    }
}
