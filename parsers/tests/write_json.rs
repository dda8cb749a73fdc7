//! `Event::write_json` (the streaming writer) against `Event::to_json` (the
//! tree) over every golden ECS document in testdata: the bytes must agree.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tripline_parsers::Event;

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read testdata") {
        let p = entry.expect("entry").path();
        if p.is_dir() {
            jsonl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "jsonl") {
            out.push(p);
        }
    }
}

#[test]
fn streaming_writer_matches_the_tree_on_every_golden_event() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
    let mut files = Vec::new();
    jsonl_files(&root, &mut files);
    files.sort();
    let (mut events, mut streamed) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        for (n, line) in text.lines().enumerate() {
            let Ok(doc) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if !doc.is_object() {
                continue;
            }
            let ev = Event::from_json(&doc);
            let mut fast = Vec::new();
            ev.write_json(&mut fast);
            let slow = serde_json::to_vec(&ev.to_json()).expect("json");
            assert!(
                fast == slow,
                "{}:{}: streaming writer differs\n fast: {:.400}\n tree: {:.400}",
                f.display(),
                n + 1,
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow)
            );
            events += 1;
            streamed += usize::from(ev.json_view().is_some());
        }
    }
    assert!(events >= 150, "only {events} golden events found");
    // Collisions fall back to the tree; they must stay the exception.
    assert!(
        streamed * 100 >= events * 99,
        "{streamed} of {events} streamed"
    );
}
