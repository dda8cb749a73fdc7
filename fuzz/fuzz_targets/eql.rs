//! EQL: the query parser and compiler on arbitrary text, and the Elastic
//! detection-rules TOML front-end (`type = "eql"`) around it. The input is
//! tried both ways: as a bare query and as a TOML rule file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline::Event;
use tripline::rule::{elastic, eql};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match eql::compile(text) {
        Ok(q) => {
            let _ = q.unknown_fields();
            if let Some(seq) = q.as_sequence() {
                let _ = seq.to_joiner();
            }
            let ev = Event::from_json(&serde_json::json!({
                "@timestamp": "2024-01-01T00:00:00Z",
                "event": {"category": ["process"], "type": ["start"]},
                "process": {"pid": 7, "name": "sh", "args": ["sh", "-c", "id"],
                            "command_line": "sh -c id", "parent": {"name": "bash"}},
                "destination": {"ip": "10.0.0.1", "port": 443}
            }));
            let _ = q.matches(&ev);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(r) = elastic::parse_rule(text) {
        let _ = elastic::compile(&r, "fuzz.toml", "fuzz");
    }
});
