//! Helpers shared by the integration tests (`mod common;`).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use tripline::{Event, Format};
use tripline_parsers::Location;

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the tripline binary with `args` in the repository root.
pub fn tripline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run tripline")
}

/// Every event of a line-oriented file (`path` relative to the repository
/// root or absolute), in emission order; malformed records are skipped (they
/// are the parsers' own tests' business).
pub fn parse_file(format: Format, path: impl AsRef<Path>) -> Vec<Event> {
    let path = root().join(path);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut parser = format.parser();
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
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
