//! Security 4688 and PowerShell 4104 under Sigma's logsources: 4688 events
//! (OTRF excerpt, command-line auditing on) answer `process_creation` rules
//! like Sysmon EID 1 does, through the same ECS `process.*` fields; 4104
//! events (built from Microsoft's documented schema) answer `ps_script`
//! rules on `ScriptBlockText`. Sysmon process creations are not script blocks.

use std::io::BufReader;
use std::path::PathBuf;

use tripline::Event;
use tripline::engine::Engine;
use tripline::rule;
use tripline_parsers::json::read_json;

fn events(rel: &str) -> Vec<Event> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/sysmon/json")
        .join(rel);
    let f = std::fs::File::open(&p).unwrap();
    let mut evs = Vec::new();
    read_json(BufReader::new(f), 1 << 20, &mut |e| evs.push(e), &mut |e| {
        panic!("{rel}: {e}")
    })
    .unwrap();
    evs
}

/// Record ids (else process ids) of the events `rule` (one Sigma document) fires on.
fn fired(rule: &str, evs: &[Event]) -> Vec<i64> {
    let report = rule::load_sigma_str(rule, "test.yml", "test");
    assert_eq!(report.rules.len(), 1, "{:?}", report.diagnostics);
    let mut engine = Engine::new(report.rules);
    let mut ids = Vec::new();
    for e in evs {
        engine.process(e, &mut |a| {
            let ev = a.events.last().unwrap();
            let rec = ev.extra.get("winlog.record_id").and_then(|v| v.as_i64());
            ids.push(rec.or(ev.process.pid).unwrap_or(-1));
        });
    }
    engine.flush(&mut |_| {});
    ids
}

const CMSTP: &str = r"
title: cmstp with an INF, started from PowerShell
id: 00000000-0000-4000-8000-000000004688
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\cmstp.exe'
    ParentImage|endswith: '\powershell.exe'
    CommandLine|contains: '.inf'
  condition: selection
level: high
";

const DOWNLOAD_CRADLE: &str = r"
title: download cradle in a script block
id: 00000000-0000-4000-8000-000000004104
logsource: {product: windows, category: ps_script}
detection:
  selection:
    ScriptBlockText|contains|all: ['New-Object Net.WebClient', '.DownloadString(']
  condition: selection
level: high
";

const RUN_KEY_SCRIPT: &str = r"
title: Run key from a script file
id: 00000000-0000-4000-8000-000000004105
logsource: {product: windows, category: ps_script}
detection:
  selection:
    ScriptBlockText|contains: 'CurrentVersion\Run'
    Path|endswith: '.ps1'
  condition: selection
level: medium
";

#[test]
fn security_4688_is_a_process_creation() {
    let evs = events("otrf_flat_security_4688_excerpt.json");
    assert_eq!(evs.len(), 5);
    assert!(evs.iter().all(|e| e.event.type_ == ["start"]));
    // cmstp.exe, pid 0x24f0.
    assert_eq!(fired(CMSTP, &evs), [0x24f0]);
    // The Sysmon process creations of another capture are not 4688s but match
    // the same logsource: nothing in the cmstp rule is Security-specific.
    assert!(fired(CMSTP, &events("otrf_flat_cmd_bitsadmin_excerpt.json")).is_empty());
}

#[test]
fn powershell_4104_is_a_ps_script() {
    let evs = events("evtx_dump_powershell_4104.json");
    assert_eq!(evs.len(), 3);
    assert_eq!(fired(DOWNLOAD_CRADLE, &evs), [1201]);
    assert_eq!(fired(RUN_KEY_SCRIPT, &evs), [1202]);
    // A Sysmon process creation is never a script block.
    assert!(
        fired(
            DOWNLOAD_CRADLE,
            &events("otrf_flat_cmd_bitsadmin_excerpt.json")
        )
        .is_empty()
    );
}
