//! OTRF `covenant_persiststartup` (2019 NXLog JSON lines, Sysmon + Security):
//! the AWS cfn-bootstrap agent's Sysmon EID 3 connections to
//! 169.254.169.254:80 become network events with the right process (its pid is
//! only in `Message` in this capture), the IP-keyed IMDS rule fires on exactly
//! those, and the tool-keyed IMDS rules (curl/wget/python command lines, paths)
//! stay silent over the whole file. Skips, saying so, without ../shared.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::PathBuf;

use tripline::Event;
use tripline::engine::Engine;
use tripline::rule;
use tripline_parsers::json::read_json;

const FILE: &str = "sysmon/json-otrf/covenant_persiststartup_2019-12-05044154.json";
const WINDOWS_IMDS: &str = "dbedb382-b140-4420-b95f-d47a67751e2f";
const LINUX_IMDS: &str = "b5e166e7-9433-4aed-ab01-ddfbd8b1ee1b";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("TRIPLINE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    p.join(FILE).is_file().then_some(p)
}

fn events() -> Option<Vec<Event>> {
    let corpus = corpus()?;
    let f = std::fs::File::open(corpus.join(FILE)).unwrap();
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    let st = read_json(BufReader::new(f), 4 << 20, &mut |e| evs.push(e), &mut |e| {
        errs.push(e)
    })
    .unwrap();
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(st.documents, 1238, "manifest: 1238 lines");
    Some(evs)
}

/// (process.executable, process.pid) of an alert's event.
type Subject = (Option<String>, Option<i64>);

fn is_imds(e: &Event) -> bool {
    e.destination.ip.as_deref() == Some("169.254.169.254")
}

#[test]
fn imds_connections_have_the_agent_process() {
    let Some(evs) = events() else {
        eprintln!("SKIPPED imds_connections_have_the_agent_process: ../shared/corpus not found");
        return;
    };
    let sysmon3: Vec<&Event> = evs
        .iter()
        .filter(|e| e.event.module.as_deref() == Some("sysmon"))
        .filter(|e| e.extra.get("event.code").and_then(|v| v.as_str()) == Some("3"))
        .collect();
    assert_eq!(sysmon3.len(), 113, "manifest: 113 Sysmon EID 3");
    // Every EID 3 of this 2019 capture has its subject pid from Message.
    assert!(sysmon3.iter().all(|e| e.process.pid.is_some()));
    let imds: Vec<&&Event> = sysmon3.iter().filter(|e| is_imds(e)).collect();
    assert_eq!(imds.len(), 2);
    for e in imds {
        assert_eq!(
            e.process.executable.as_deref(),
            Some(r"C:\Program Files\Amazon\cfn-bootstrap\winhup.exe")
        );
        assert_eq!(e.process.name.as_deref(), Some("winhup.exe"));
        assert_eq!(e.process.pid, Some(2980));
        // NXLog's top-level ProcessID is the Sysmon service, kept apart.
        assert_ne!(
            e.extra.get("winlog.process.pid").and_then(|v| v.as_i64()),
            Some(2980)
        );
        assert_eq!(e.destination.port, Some(80));
        assert_eq!(
            e.destination.domain.as_deref(),
            Some("instance-data.ec2.internal")
        );
        assert_eq!(e.event.action.as_deref(), Some("connection_attempted"));
        assert_eq!(e.network.direction.as_deref(), Some("egress"));
        assert_eq!(e.network.transport.as_deref(), Some("tcp"));
        assert_eq!(e.host.os_type.as_deref(), Some("windows"));
        assert!(e.process.entity_id.as_deref().unwrap().starts_with('{'));
    }
}

#[test]
fn ip_keyed_rule_fires_tool_keyed_rules_do_not() {
    let Some(evs) = events() else {
        eprintln!(
            "SKIPPED ip_keyed_rule_fires_tool_keyed_rules_do_not: ../shared/corpus not found"
        );
        return;
    };
    let report = rule::load(&[root().join("rules/imds")], false);
    assert!(report.rules.len() >= 5, "IMDS pack incl. the Windows rule");
    let mut engine = Engine::new(report.rules);
    let mut by_rule: BTreeMap<String, Vec<Subject>> = BTreeMap::new();
    for e in &evs {
        engine.process(e, &mut |a| {
            let t = a.events.last().expect("alert event");
            by_rule
                .entry(a.rule.id.clone())
                .or_default()
                .push((t.process.executable.clone(), t.process.pid));
        });
    }
    engine.flush(&mut |_| {});
    let winhup = (
        Some(r"C:\Program Files\Amazon\cfn-bootstrap\winhup.exe".to_string()),
        Some(2980),
    );
    assert_eq!(
        by_rule.get(WINDOWS_IMDS),
        Some(&vec![winhup.clone(), winhup.clone()]),
        "{by_rule:?}"
    );
    // Nothing else may fire: the Linux variant's logsource filters out
    // host.os.type windows (rules/mappings/linux.yml), and the tool-keyed
    // rules do not match the AWS agent.
    assert!(!by_rule.contains_key(LINUX_IMDS), "{by_rule:?}");
    for (id, hits) in &by_rule {
        assert!(
            id == WINDOWS_IMDS,
            "unexpected alert from rule {id}: {hits:?}"
        );
    }
}
