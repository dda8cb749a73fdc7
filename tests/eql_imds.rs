//! Seed EQL sequences (testdata/eql/seeds/001 and 003, Elastic's "Unusual Instance
//! Metadata Service (IMDS) API Request") on the real auditd log of the IMDS
//! behaviours (testdata/e2e/imds-real-audit.log, see testdata/e2e/README.md),
//! run through the engine and the shared sequence joiner.
//!
//! Both queries require `process.parent.executable != null` on the exec stage.
//! In the recorded log the parent (the test script's shell) was started before
//! the audit rules were loaded, so no event names its executable: as recorded,
//! both sequences stay silent, which is the correct answer for that input. The
//! other tests give the parent's executable back (what tripline knows when it
//! saw the parent's exec), once as the script's shell and once as a cloud
//! agent from the queries' exclusion lists.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;
use tripline::engine::Engine;
use tripline::rule::eql;
use tripline::rule::{Rule, RuleKind, RuleMeta, RuleSet};
use tripline::{Event, Format};
use tripline_parsers::Location;

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn events() -> Vec<Event> {
    let log = std::fs::read(format!("{}/testdata/e2e/imds-real-audit.log", root()))
        .expect("testdata/e2e/imds-real-audit.log");
    let mut parser = Format::Auditd.parser();
    let mut out = Vec::new();
    for (i, line) in log.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let loc = Location {
            line: i as u64 + 1,
            offset: 0,
        };
        let _ = parser.feed(line, loc, &mut |e| out.push(e));
    }
    parser.flush(&mut |e| out.push(e));
    out
}

/// pid -> behaviour, from the run's manifest.
fn behaviours() -> BTreeMap<i64, String> {
    let text = std::fs::read_to_string(format!(
        "{}/testdata/e2e/imds-real-audit.expect.json",
        root()
    ))
    .expect("manifest");
    let doc: Value = serde_json::from_str(&text).expect("manifest is JSON");
    doc["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| {
            (
                p["pid"].as_i64().expect("pid"),
                p["behaviour"].as_str().expect("behaviour").to_string(),
            )
        })
        .collect()
}

fn seed(name: &str) -> Rule {
    let path = format!("{}/testdata/eql/seeds/{name}", root());
    let text = std::fs::read_to_string(&path).expect("seed fixture");
    let q = eql::compile(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let spec = q
        .as_sequence()
        .expect("a sequence")
        .to_joiner()
        .expect("joinable");
    Rule {
        meta: Arc::new(RuleMeta {
            id: name.to_string(),
            name: name.to_string(),
            ..RuleMeta::default()
        }),
        kind: RuleKind::Sequence(spec),
    }
}

/// Behaviours (by the pid of the sequence's network event) for which the seed fired.
fn fired(name: &str, events: &[Event]) -> BTreeSet<String> {
    let by_pid = behaviours();
    let mut engine = Engine::new(RuleSet::from_rules(vec![seed(name)]));
    let mut hits = BTreeSet::new();
    let mut push = |a: tripline::alert::Alert| {
        assert_eq!(a.events.len(), 2, "two stages");
        let (exec, net) = (&a.events[0], &a.events[1]);
        assert_eq!(exec.event.action.as_deref(), Some("exec"));
        assert_eq!(net.destination.ip.as_deref(), Some("169.254.169.254"));
        assert_eq!(exec.process.parent.entity_id, net.process.parent.entity_id);
        let pid = net.process.pid.expect("pid");
        hits.insert(
            by_pid
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| format!("pid {pid}")),
        );
    };
    for e in events {
        engine.process(e, &mut push);
    }
    engine.flush(&mut push);
    hits
}

fn with_parent_executable(exe: &str) -> Vec<Event> {
    let mut evs = events();
    for e in &mut evs {
        if e.process.parent.pid.is_some() {
            e.process.parent.executable = Some(exe.to_string());
        }
    }
    evs
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn as_recorded_the_parent_executable_is_unknown_so_both_stay_silent() {
    let evs = events();
    assert!(
        evs.iter()
            .any(|e| e.event.action.as_deref() == Some("exec"))
    );
    assert!(evs.iter().all(|e| e.process.parent.executable.is_none()));
    assert_eq!(fired("003_29f1e13843c467e5.eql", &evs), set(&[]));
    assert_eq!(fired("001_fb6c7d2e9855348f.eql", &evs), set(&[]));
}

/// Every behaviour whose process connected to 169.254.169.254 (not the
/// loopback server, not the IPv6 endpoint fd00:ec2::254).
const IPV4_IMDS: &[&str] = &[
    "benign-imdsv2-token-put-carveout",
    "aws-imdsv1-credentials",
    "aws-imdsv2-1-token-put",
    "aws-imdsv2-2-role-name",
    "aws-imdsv2-3-role-credentials",
    "azure-managed-identity-token",
    "gcp-service-account-token",
    "python3-urllib-aws-credentials",
];

/// The events without the exec of the `ip netns exec` wrapper: what a host
/// records when the shell runs the tool directly.
fn without_wrapper(evs: Vec<Event>) -> Vec<Event> {
    evs.into_iter()
        .filter(|e| {
            !(e.event.action.as_deref() == Some("exec") && e.process.name.as_deref() == Some("ip"))
        })
        .collect()
}

#[test]
fn seed_003_fires_for_curl_and_python_reaching_imds() {
    // Seed 003 has no IMDSv2 carve-out: every curl/python process that reached
    // 169.254.169.254 fires; the loopback request and the IPv6 endpoint do not.
    let evs = with_parent_executable("/usr/bin/bash");
    assert_eq!(fired("003_29f1e13843c467e5.eql", &evs), set(IPV4_IMDS));
    assert_eq!(
        fired("003_29f1e13843c467e5.eql", &without_wrapper(evs)),
        set(IPV4_IMDS)
    );
}

#[test]
fn seed_001_honours_the_imdsv2_carve_out() {
    // Without the wrapper, the carve-out (IMDSv2 token PUT with the TTL header,
    // token-header GETs, Azure `-H Metadata:true`) keeps /usr/bin/curl silent;
    // IMDSv1 curl, the GCP token and python3 fire.
    let evs = with_parent_executable("/usr/bin/bash");
    assert_eq!(
        fired("001_fb6c7d2e9855348f.eql", &without_wrapper(evs.clone())),
        set(&[
            "aws-imdsv1-credentials",
            "gcp-service-account-token",
            "python3-urllib-aws-credentials",
        ])
    );
    // With the wrapper, its own exec (`/usr/bin/ip`, the metadata URL on its
    // command line, same parent) fills the exec stage: the carve-out exempts
    // only /usr/bin/curl, so every IPv4 IMDS request fires, as it would in
    // Elastic on the same telemetry.
    assert_eq!(fired("001_fb6c7d2e9855348f.eql", &evs), set(IPV4_IMDS));
}

#[test]
fn cloud_agent_parents_are_silent() {
    // Parent executables from each query's exclusion list.
    for (seed, agent) in [
        ("003_29f1e13843c467e5.eql", "/usr/sbin/dhclient-script"),
        (
            "003_29f1e13843c467e5.eql",
            "/usr/share/ec2-instance-connect/eic_run_authorized_keys",
        ),
        ("001_fb6c7d2e9855348f.eql", "/usr/bin/cloud-init"),
        ("001_fb6c7d2e9855348f.eql", "/usr/sbin/waagent"),
    ] {
        assert_eq!(
            fired(seed, &with_parent_executable(agent)),
            set(&[]),
            "{seed} under {agent}"
        );
    }
}
