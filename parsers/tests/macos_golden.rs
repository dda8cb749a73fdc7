//! Golden ECS snapshots for macOS inputs: every file under
//! `testdata/macos/{unified_log,eslogger,elastic}` (one per format and shape:
//! `log show --style json` array, `log stream --style json` stream,
//! `log show --style ndjson`, eslogger exec/fork/exit/open, eslogger message
//! version 10 with array audit tokens, Elastic Endpoint single hit,
//! concatenated hits, JSON array, EQL `hits.events` and `hits.sequences`
//! responses) against `<input>.ecs.jsonl` (one `Event::to_json()` per line).
//!
//! ECS input passes through (see `tripline_parsers::macos::ecs_input`): its
//! snapshots are `<input>.passthrough.jsonl`, because they hold the source's
//! own non-ECS fields (Elastic Endpoint's `*.Ext.*`, `elastic.agent.id`, and
//! `group.id` as a number in 7.10 exports). `tests/ecs_conformance.rs` checks
//! every `.ecs.jsonl` (what tripline's own mappings emit); it does not judge
//! what a third-party document said.
//!
//! The format is detected from the first bytes exactly as `tripline scan`
//! does, and line-based formats are fed line by line like the CLI does.
//!
//! `TRIPLINE_BLESS=1 cargo test -p tripline-parsers --test macos_golden`
//! rewrites the expected files; review the diff before committing.

mod common;

use std::io::BufReader;
use std::path::{Path, PathBuf};

use common::golden::Golden;
use tripline_parsers::json::read_json;
use tripline_parsers::{Event, Format, Location};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/macos")
}

fn inputs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["unified_log", "eslogger", "elastic"] {
        for e in std::fs::read_dir(dir().join(sub)).expect("testdata/macos") {
            let p = e.unwrap().path();
            let n = p.to_string_lossy();
            if !n.ends_with(".ecs.jsonl") && !n.ends_with(".passthrough.jsonl") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// Events and error messages of one input, read the way the CLI reads it.
fn parse(p: &Path) -> (Format, Vec<Event>, Vec<String>) {
    let bytes = std::fs::read(p).unwrap();
    let format = Format::detect(&bytes[..bytes.len().min(8192)]).expect("detected");
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    if format.is_line_based() {
        let mut parser = format.parser();
        let mut offset = 0u64;
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let loc = Location {
                line: i as u64 + 1,
                offset,
            };
            offset += line.len() as u64 + 1;
            if let Err(e) = parser.feed(line, loc, &mut |e| evs.push(e)) {
                errs.push(e.to_string());
            }
        }
        parser.flush(&mut |e| evs.push(e));
    } else {
        read_json(
            BufReader::new(&bytes[..]),
            1 << 20,
            &mut |e| evs.push(e),
            &mut |e| errs.push(e.to_string()),
        )
        .unwrap();
    }
    (format, evs, errs)
}

#[test]
fn golden_macos_ecs_output() {
    let inputs = inputs();
    assert!(
        inputs.len() >= 10,
        "golden inputs missing: {}",
        inputs.len()
    );
    let mut golden = Golden::new();
    for p in &inputs {
        let (format, evs, errs) = parse(p);
        let name = p.strip_prefix(dir()).unwrap().display().to_string();
        eprintln!("{name}: {} ({} events)", format.name(), evs.len());
        if !errs.is_empty() || evs.is_empty() {
            golden.fail(format!("{name}: {} events, errors {errs:?}", evs.len()));
        }
        let suffix = if p.starts_with(dir().join("elastic")) {
            "passthrough"
        } else {
            "ecs"
        };
        let path = PathBuf::from(format!("{}.{suffix}.jsonl", p.display()));
        golden.check(&name, &evs, &path);
    }
    golden.finish();
}

/// Facts each format must get right, independent of the snapshots.
#[test]
fn format_facts() {
    let d = dir();
    // Detection: the pretty array and the banner go to the line reader.
    let (f, show, _) = parse(&d.join("unified_log/log_show_style_json.json"));
    assert_eq!(f, Format::UnifiedLog);
    assert_eq!(show.len(), 7);
    let (f, stream, _) = parse(&d.join("unified_log/log_stream_style_json.txt"));
    assert_eq!(f, Format::UnifiedLog);
    assert_eq!(stream.len(), 4);
    let (_, nd, _) = parse(&d.join("unified_log/log_show_style_ndjson.ndjson"));
    assert_eq!(nd.len(), 7, "the count/finished trailer is not an event");
    for evs in [&show, &nd] {
        assert!(
            evs.iter()
                .all(|e| e.host.os_type.as_deref() == Some("macos"))
        );
        let sudo = &evs[1];
        assert_eq!(sudo.event.action.as_deref(), Some("exec"));
        assert_eq!(sudo.process.executable.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(sudo.timestamp_rfc3339(), "2025-03-04T09:15:03.402911000Z");
        assert_eq!(sudo.extra["event.timezone"], "+01:00");
        let nw = &evs[2];
        assert_eq!(nw.destination.ip.as_deref(), Some("169.254.169.254"));
        assert_eq!(nw.process.name.as_deref(), Some("python3.12"));
        assert_eq!(evs[3].process.name.as_deref(), Some("curl"));
        assert!(evs[4].destination.ip.is_none(), "redacted host");
        assert!(evs[5].event.action.is_none(), "sudo failure is not a start");
    }

    let (_, es, _) = parse(&d.join("eslogger/eslogger_exec_fork_exit.jsonl"));
    let actions: Vec<_> = es
        .iter()
        .map(|e| e.event.action.as_deref().unwrap())
        .collect();
    assert_eq!(actions, ["fork", "exec", "open", "end"]);
    let (fork, exec, exit) = (&es[0], &es[1], &es[3]);
    // fork: the child (pid 4242) of zsh 4100; exec: a new image, the same parent.
    assert_eq!(fork.process.entity_id.as_deref(), Some("4242-15342"));
    assert_eq!(fork.process.parent.entity_id.as_deref(), Some("4100-15320"));
    assert_eq!(exec.process.entity_id.as_deref(), Some("4242-15343"));
    assert_eq!(exec.process.parent.entity_id, fork.process.parent.entity_id);
    assert_eq!(exec.process.parent.executable.as_deref(), Some("/bin/zsh"));
    assert_eq!(
        exec.process.working_directory.as_deref(),
        Some("/Users/alice")
    );
    assert_eq!(
        exec.process.command_line.as_deref(),
        Some("curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/")
    );
    assert_eq!(
        exec.extra["process.code_signature.signing_id"],
        "com.apple.curl"
    );
    assert_eq!(exit.process.entity_id, exec.process.entity_id);
    assert_eq!(exit.extra["process.exit_code"], 7);
    let (_, v10, _) = parse(&d.join("eslogger/eslogger_v10_audit_token_arrays.jsonl"));
    assert_eq!(v10[0].process.entity_id.as_deref(), Some("5100-20002"));
    assert_eq!(
        v10[0].process.parent.entity_id.as_deref(),
        Some("5090-19990")
    );

    let (_, hit, _) = parse(&d.join("elastic/hit_execution_suspicious_path_masquerading.json"));
    assert_eq!(hit.len(), 1);
    assert_eq!(
        hit[0].host.os_type.as_deref(),
        Some("macos"),
        "from host.os.platform"
    );
    assert_eq!(hit[0].process.pid, Some(9520));
    let (_, seq, _) = parse(&d.join("elastic/eql_sequences_imds_curl.json"));
    assert_eq!(seq.len(), 2);
    assert_eq!(seq[1].event.action.as_deref(), Some("exec"));
}
