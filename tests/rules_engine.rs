//! The Sigma front-end and matcher against events from the real auditd parser
//! (testdata/e2e/imds-real-audit.log): checks the logsource mapping
//! assumptions (process_creation = exec not fork, network_connection =
//! connect, `service: auditd` fields = per-record `auditd.records`).

mod common;

use std::collections::BTreeSet;

use tripline::engine::Engine;
use tripline::rule::load_sigma_str;
use tripline::{Event, Format};

fn events() -> Vec<Event> {
    common::parse_file(Format::Auditd, "testdata/e2e/imds-real-audit.log")
}

/// The pid of a behaviour's tool process, from the run's manifest.
fn pid_of(behaviour: &str) -> i64 {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/e2e/imds-real-audit.expect.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("manifest")).expect("JSON");
    doc["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .find(|p| p["behaviour"] == behaviour)
        .and_then(|p| p["pid"].as_i64())
        .unwrap_or_else(|| panic!("{behaviour} not in the manifest"))
}

const RULES: &str = r#"
title: auditd EXECVE of curl reading role credentials
id: t-auditd
logsource: {product: linux, service: auditd}
detection:
  sel:
    type: EXECVE
    a0: curl
    a2|contains: /iam/security-credentials
  condition: sel
---
title: exec of curl reading role credentials
id: t-proc
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
    CommandLine|contains: /iam/security-credentials
  condition: sel
---
title: exec of ip
id: t-ip
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /ip
  condition: sel
---
title: outbound connection to link-local metadata address
id: t-net
logsource: {product: linux, category: network_connection}
detection:
  sel:
    Initiated: 'true'
    DestinationIp|cidr:
      - 169.254.0.0/16
      - fd00:ec2::/32
  condition: sel
"#;

#[test]
fn sigma_rules_on_real_auditd_events() {
    let report = load_sigma_str(RULES, "inline.yml", "test");
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    assert_eq!(report.rules.len(), 4);
    let evs = events();
    assert!(!evs.is_empty());
    let mut engine = Engine::new(report.rules);
    let mut alerts = Vec::new();
    for e in &evs {
        engine.process(e, &mut |a| alerts.push(a));
    }
    engine.flush(&mut |a| alerts.push(a));
    assert_eq!(engine.stats().events, evs.len() as u64);
    assert_eq!(engine.stats().alerts, alerts.len() as u64);

    let pids = |id: &str| -> BTreeSet<i64> {
        alerts
            .iter()
            .filter(|a| a.rule.id == id)
            .filter_map(|a| a.trigger().process.pid)
            .collect()
    };
    // AWS IMDSv1 credentials and the IMDSv2 role-credentials step: both the
    // raw-record rule and the ECS rule see them; the benign token PUT and the
    // loopback health check are not there.
    let auditd = pids("t-auditd");
    let proc_ = pids("t-proc");
    let imdsv1 = pid_of("aws-imdsv1-credentials");
    assert!(auditd.contains(&imdsv1), "{auditd:?}");
    assert!(proc_.contains(&imdsv1), "{proc_:?}");
    // (The raw rule pins the URL to argv[2], so it sees fewer of them.)
    assert!(auditd.is_subset(&proc_), "{auditd:?} vs {proc_:?}");
    assert!(
        !proc_.contains(&pid_of("benign-imdsv2-token-put-carveout"))
            && !proc_.contains(&pid_of("benign-curl-loopback-server"))
    );

    // Every exec alert is an exec (never a fork, never a failed execve).
    for a in alerts
        .iter()
        .filter(|a| a.rule.id == "t-ip" || a.rule.id == "t-proc")
    {
        let ev = a.trigger();
        assert_eq!(ev.event.action.as_deref(), Some("exec"), "{:?}", ev.event);
        assert!(ev.event.type_.iter().any(|t| t == "start"));
    }
    assert!(!pids("t-ip").is_empty());

    // Connections to the metadata addresses, IPv4 and IPv6.
    let net: Vec<&Event> = alerts
        .iter()
        .filter(|a| a.rule.id == "t-net")
        .map(|a| a.trigger())
        .collect();
    assert!(!net.is_empty());
    let ips: BTreeSet<&str> = net
        .iter()
        .filter_map(|e| e.destination.ip.as_deref())
        .collect();
    assert!(ips.contains("169.254.169.254"), "{ips:?}");
    assert!(ips.contains("fd00:ec2::254"), "{ips:?}");
    for e in net {
        assert_eq!(e.event.action.as_deref(), Some("connection_attempted"));
    }
}
