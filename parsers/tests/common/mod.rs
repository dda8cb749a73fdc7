//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod golden;

use std::path::{Path, PathBuf};

use tripline_parsers::{Event, Location, ParseError, Parser, auditd::AuditdParser};

/// `testdata/` at the workspace root.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// Feeds `input` line by line (split on `\n`) into a fresh auditd parser,
/// then flushes. Returns the events in emission order and the errors.
pub fn parse_bytes(input: &[u8]) -> (Vec<Event>, Vec<ParseError>) {
    let mut p = AuditdParser::new();
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut offset = 0u64;
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let loc = Location {
            line: i as u64 + 1,
            offset,
        };
        offset += line.len() as u64 + 1;
        if let Err(e) = p.feed(line, loc, &mut |ev| events.push(ev)) {
            errors.push(e);
        }
    }
    p.flush(&mut |ev| events.push(ev));
    (events, errors)
}

/// Parses a file under `testdata/auditd/`.
pub fn parse_file(rel: &str) -> (Vec<Event>, Vec<ParseError>) {
    let path = testdata().join("auditd").join(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_bytes(&bytes)
}

/// Every golden input under `testdata/auditd/` (`*.log`, `*.txt` except
/// README.txt), as paths relative to it, sorted.
pub fn golden_inputs() -> Vec<String> {
    let root = testdata().join("auditd");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read testdata dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if (name.ends_with(".log") || name.ends_with(".txt")) && name != "README.txt" {
                let rel = path.strip_prefix(&root).expect("under root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}
