//! macOS `log show|stream --style json|ndjson` framing (banner, `[{`, `},{`,
//! interrupted arrays, strings with braces) and the unified-log / eslogger /
//! ECS-input mappings behind it, line by line as tail and scan feed it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_parsers::macos::UnifiedLogParser;
use tripline_parsers::{Location, Parser};

fuzz_target!(|data: &[u8]| {
    let mut p = UnifiedLogParser::new();
    let mut n = 0usize;
    let mut offset = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let loc = Location {
            line: i as u64 + 1,
            offset,
        };
        offset += line.len() as u64 + 1;
        let _ = p.feed(line, loc, &mut |ev| {
            n += 1;
            let _ = ev.to_json();
        });
    }
    p.flush(&mut |_| n += 1);
    let _ = n;
});
