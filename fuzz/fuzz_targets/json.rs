//! Every JSON shape through the framing reader: Sysmon exports (evtx_dump,
//! Winlogbeat, NXLog/OTRF, PowerShell), ECS documents, macOS unified-log and
//! eslogger JSON, search responses; as JSON lines, arrays, pretty-printed or
//! concatenated objects. Also the line parser (`--format json` in tail).
//! The first byte picks the reader's buffer size and the document cap, so
//! the boundary and size-limit paths are reached.
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use tripline_parsers::json::{JsonLinesParser, read_json};
use tripline_parsers::{Location, Parser};

fuzz_target!(|data: &[u8]| {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let cap = 1 + (knob as usize & 0x0f) * 97;
    let max_doc = if knob & 0x80 != 0 {
        1 << 20
    } else {
        64 + (knob as usize & 0x70) * 8
    };
    let mut n = 0usize;
    let _ = read_json(
        BufReader::with_capacity(cap, input),
        max_doc,
        &mut |ev| {
            n += 1;
            let _ = ev.to_json();
        },
        &mut |e| {
            let _ = e.to_string();
        },
    );
    let mut p = JsonLinesParser;
    for (i, line) in input.split(|&b| b == b'\n').enumerate() {
        let loc = Location {
            line: i as u64 + 1,
            offset: 0,
        };
        let _ = p.feed(line, loc, &mut |_| n += 1);
    }
    let _ = n;
});
