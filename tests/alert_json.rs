//! The streaming alert writer (`AlertWriter`, used by the NDJSON sink) against
//! the tree (`Alert::to_json`, used by the syslog and Elasticsearch sinks):
//! for every alert the embedded pack and the copied Sigma corpus raise on the
//! test logs, the bytes must agree.

mod common;

use std::sync::Arc;

use tripline::Format;
use tripline::alert::AlertWriter;
use tripline::engine::Engine;
use tripline::rule::load;

use common::{parse_file, root};

#[test]
fn streaming_alerts_match_the_tree() {
    let report = load(&[root().join("testdata/sigma-corpus")], true);
    assert!(report.rules.len() > 100, "{} rules", report.rules.len());
    let mut engine = Engine::new(report.rules);
    let mut events = Vec::new();
    for f in [
        "testdata/e2e/imds-real-audit.log",
        "testdata/auditd/go-libaudit/testdata/normal.log",
        "testdata/auditd/laurel/fork-sleep-exec.txt",
    ] {
        events.extend(parse_file(Format::Auditd, f));
    }
    let mut alerts = Vec::new();
    for e in events {
        engine.process_shared(&Arc::new(e), &mut |a| alerts.push(a));
    }
    engine.flush(&mut |a| alerts.push(a));
    assert!(alerts.len() >= 20, "only {} alerts", alerts.len());
    assert!(
        alerts.iter().any(|a| a.events.len() > 1),
        "no sequence alert to compare"
    );
    let mut writer = AlertWriter::new();
    for a in &alerts {
        let mut fast = Vec::new();
        writer.write(a, &mut fast);
        let slow = serde_json::to_vec(&a.to_json()).expect("json");
        assert!(
            fast == slow,
            "rule {}: streaming writer differs\n fast: {:.600}\n tree: {:.600}",
            a.rule.id,
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
    }
}
