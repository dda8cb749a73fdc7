use serde_json::json;
use tripline_parsers::Event;

use crate::engine::Engine;
use crate::rule::{LoadReport, load_sigma_str};

const MS: i64 = 1_000_000;

/// Two base rules (an exec of curl, a connect to IMDS) and `corr` after them.
fn load(corr: &str) -> LoadReport {
    let text = format!(
        "title: curl exec\n\
         name: base_exec\n\
         logsource: {{product: linux, category: process_creation}}\n\
         detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\n\
         level: low\n\
         ---\n\
         title: imds connect\n\
         id: 00000000-0000-4000-8000-00000000c001\n\
         logsource: {{product: linux, category: network_connection}}\n\
         detection:\n  sel:\n    DestinationIp: 169.254.169.254\n  condition: sel\n\
         level: low\n\
         ---\n{corr}"
    );
    load_sigma_str(&text, "corr.yml", "test")
}

fn exec(ts_ms: i64, parent: &str, user: &str) -> Event {
    let mut e = Event::from_json(&json!({
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "process": {"executable": "/usr/bin/curl", "name": "curl",
                    "parent": {"entity_id": parent}},
        "user": {"name": user},
    }));
    e.timestamp_ns = ts_ms * MS;
    e
}

fn connect(ts_ms: i64, parent: &str, ip: &str) -> Event {
    let mut e = Event::from_json(&json!({
        "event": {"category": ["network"], "action": "connection_attempted"},
        "process": {"executable": "/usr/bin/curl", "parent": {"entity_id": parent}},
        "destination": {"ip": ip},
        "user": {"name": "root"},
    }));
    e.timestamp_ns = ts_ms * MS;
    e
}

/// Runs events through an engine over `r`; returns (rule id, event count) per alert.
fn alerts(r: LoadReport, evs: &[Event]) -> Vec<(String, usize)> {
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    let mut e = Engine::new(r.rules);
    let mut out = Vec::new();
    for ev in evs {
        e.process(ev, &mut |a| out.push(a));
    }
    e.flush(&mut |a| out.push(a));
    out.iter()
        .map(|a| (a.rule.id.clone(), a.events.len()))
        .collect()
}

const ORDERED: &str = "title: exec then connect
id: 00000000-0000-4000-8000-0000000000aa
correlation:
  type: temporal_ordered
  rules: [base_exec, 00000000-0000-4000-8000-00000000c001]
  group-by: [ParentProcessGuid]
  timespan: 1s
level: medium
";

fn seq_id() -> String {
    "00000000-0000-4000-8000-0000000000aa".into()
}

#[test]
fn temporal_ordered_fires_at_exactly_timespan_and_silences_base_rules() {
    // ParentProcessGuid is mapped for process_creation but not for
    // network_connection: passthrough there, so alias it.
    let corr = ORDERED.replace(
        "  group-by: [ParentProcessGuid]\n",
        "  group-by: [pgid]\n  aliases:\n    pgid:\n      base_exec: ParentProcessGuid\n      00000000-0000-4000-8000-00000000c001: process.parent.entity_id\n",
    );
    let got = alerts(
        load(&corr),
        &[
            exec(0, "P", "root"),
            connect(1000, "P", "169.254.169.254"),
            exec(5000, "Q", "root"),
            connect(6001, "Q", "169.254.169.254"),
        ],
    );
    assert_eq!(got, vec![(seq_id(), 2)]);
}

#[test]
fn temporal_ordered_needs_order_and_same_group() {
    let corr = ORDERED.replace("ParentProcessGuid", "process.parent.entity_id");
    let got = alerts(
        load(&corr),
        &[
            connect(0, "P", "169.254.169.254"),
            exec(10, "P", "root"),
            exec(20, "Q", "root"),
            connect(30, "R", "169.254.169.254"),
        ],
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn out_of_order_events_are_joined() {
    // auditd may log the connect (the later syscall) before the exec.
    let corr = ORDERED.replace("ParentProcessGuid", "process.parent.entity_id");
    let got = alerts(
        load(&corr),
        &[connect(300, "P", "169.254.169.254"), exec(100, "P", "root")],
    );
    assert_eq!(got, vec![(seq_id(), 2)]);
}

#[test]
fn generate_true_keeps_base_rule_alerts() {
    let corr =
        ORDERED.replace("ParentProcessGuid", "process.parent.entity_id") + "generate: true\n";
    let got = alerts(
        load(&corr),
        &[exec(0, "P", "root"), connect(10, "P", "169.254.169.254")],
    );
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&("base_exec".into(), 1)));
    assert!(got.contains(&(seq_id(), 2)));
}

#[test]
fn temporal_any_order() {
    let corr = ORDERED
        .replace("temporal_ordered", "temporal")
        .replace("ParentProcessGuid", "process.parent.entity_id");
    let got = alerts(
        load(&corr),
        &[
            connect(0, "P", "169.254.169.254"),
            exec(1000, "P", "root"),
            connect(5000, "Q", "169.254.169.254"),
            exec(6001, "Q", "root"),
        ],
    );
    assert_eq!(got, vec![(seq_id(), 2)]);
}

#[test]
fn event_count_with_mapped_group_by() {
    let corr = "title: many curls\nid: c0000000-0000-4000-8000-000000000001\n\
        correlation:\n  type: event_count\n  rules: base_exec\n  group-by: [User]\n  timespan: 10s\n\
        \x20 condition: {gte: 3}\nlevel: low\n";
    let got = alerts(
        load(corr),
        &[
            exec(0, "P", "alice"),
            exec(1, "P", "bob"),
            exec(5000, "P", "alice"),
            exec(10_000, "P", "alice"),
            exec(10_001, "P", "bob"),
        ],
    );
    assert_eq!(
        got,
        vec![("c0000000-0000-4000-8000-000000000001".into(), 1)]
    );
    let got = alerts(
        load(corr),
        &[
            exec(0, "P", "alice"),
            exec(5000, "P", "alice"),
            exec(10_001, "P", "alice"),
        ],
    );
    assert!(got.is_empty(), "1 ms over the timespan: {got:?}");
}

#[test]
fn value_count_distinct_destinations() {
    let corr = "title: scan\nid: c0000000-0000-4000-8000-000000000002\n\
        correlation:\n  type: value_count\n  rules: [00000000-0000-4000-8000-00000000c001]\n\
        \x20 group-by: [process.parent.entity_id]\n  timespan: 1m\n\
        \x20 condition: {gte: 1, field: DestinationIp}\nlevel: low\n";
    let got = alerts(load(corr), &[connect(0, "P", "169.254.169.254")]);
    assert_eq!(got.len(), 1);
    let corr = corr.replace("gte: 1,", "gte: 2,");
    let got = alerts(
        load(&corr),
        &[
            connect(0, "P", "169.254.169.254"),
            connect(1, "P", "169.254.169.254"),
        ],
    );
    assert!(got.is_empty(), "one distinct value: {got:?}");
}

#[test]
fn correlation_may_come_before_its_rules() {
    let text = format!(
        "{}---\ntitle: curl exec\nname: base_exec\n\
         logsource: {{product: linux, category: process_creation}}\n\
         detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\n\
         ---\ntitle: imds connect\nid: 00000000-0000-4000-8000-00000000c001\n\
         logsource: {{product: linux, category: network_connection}}\n\
         detection:\n  sel:\n    DestinationIp: 169.254.169.254\n  condition: sel\n",
        ORDERED.replace("ParentProcessGuid", "process.parent.entity_id")
    );
    let r = load_sigma_str(&text, "x.yml", "t");
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(r.rules.len(), 3);
    assert_eq!(r.total, 3);
}

#[test]
fn unsupported_correlations_are_located_diagnostics() {
    let cases = [
        (
            ORDERED.replace("base_exec", "no_such_rule"),
            "unknown rule 'no_such_rule'",
        ),
        (
            "title: value sum\ncorrelation:\n  type: value_sum\n  rules: base_exec\n  timespan: 1m\n  condition: {gte: 1, field: x}\n"
                .to_string(),
            "value_sum is not supported",
        ),
        (
            ORDERED.replace("  timespan: 1s\n", "  timespan: 1s\n  window: tumbling\n"),
            "window tumbling",
        ),
        (
            ORDERED.replace("  timespan: 1s\n", "  timespan: 1s\n  condition: base_exec and x\n"),
            "extended",
        ),
        (
            "title: count too high\ncorrelation:\n  type: event_count\n  rules: base_exec\n  timespan: 1m\n  condition: {gte: 999999999}\n"
                .to_string(),
            "above the supported maximum",
        ),
    ];
    for (corr, want) in cases {
        let r = load(&corr);
        assert_eq!(r.rules.len(), 2, "{corr}");
        assert_eq!(r.total, 3);
        assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
        let d = &r.diagnostics[0];
        assert!(d.message.contains(want), "{d}");
        assert!(d.message.ends_with("rule skipped"), "{d}");
        assert!(!d.file_error);
        assert_eq!(d.line, Some(19), "{d}");
        // The base rules of a skipped correlation alert on their own.
        assert!(!r.rules.is_silent(0));
    }
}
