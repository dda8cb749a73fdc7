//! The streaming alert writer (`AlertWriter`, used by the NDJSON sink) against
//! the tree (`Alert::to_json`, used by the syslog and Elasticsearch sinks):
//! for every alert the embedded pack and the copied Sigma corpus raise on the
//! test logs, the bytes must agree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tripline::alert::AlertWriter;
use tripline::engine::Engine;
use tripline::rule::load;
use tripline::{Event, Format};
use tripline_parsers::Location;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn parse(format: Format, path: &Path) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut parser = format.parser();
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let loc = Location {
            line: i as u64 + 1,
            offset: 0,
        };
        let _ = parser.feed(line, loc, &mut |e| out.push(e));
    }
    parser.flush(&mut |e| out.push(e));
    out
}

#[test]
fn streaming_alerts_match_the_tree() {
    let report = load(&[root().join("testdata/sigma-corpus")], true);
    assert!(report.rules.len() > 100, "{} rules", report.rules.len());
    let mut engine = Engine::new(report.rules);
    let mut events = parse(
        Format::Auditd,
        &root().join("testdata/e2e/imds-real-audit.log"),
    );
    for f in ["testdata/auditd/laurel/normal.log", "testdata/auditd/otrf"] {
        let p = root().join(f);
        if p.is_file() {
            events.extend(parse(Format::Auditd, &p));
        }
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
