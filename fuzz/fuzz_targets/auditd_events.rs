//! auditd event assembly over line sequences: the coalescer (EOE joins,
//! reordering, caps), the process table and the ECS mapping, fed through the
//! same entry points live mode uses. The input is a log: lines split on `\n`.
//! A line `#clock N` / `#quiet N` (comments to the parser) drives the clock
//! and quiet-event expiry, so the fuzzer can reach the live-mode paths.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_parsers::auditd::AuditdParser;
use tripline_parsers::{Location, Parser};

fuzz_target!(|data: &[u8]| {
    let mut p = AuditdParser::new();
    let mut n = 0usize;
    let mut offset = 0u64;
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let loc = Location {
            line: i as u64 + 1,
            offset,
        };
        offset += line.len() as u64 + 1;
        if let Some(rest) = line.strip_prefix(b"#clock ") {
            if let Some(v) = num(rest) {
                p.set_clock(v);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"#quiet ") {
            if let Some(v) = num(rest) {
                p.expire_quiet_at(v, &mut |_, _| n += 1);
            }
            continue;
        }
        let _ = p.feed_at(line, loc, &mut |ev, _| {
            n += 1;
            let _ = ev.to_json();
        });
        let _ = p.has_pending();
        let _ = p.pending_offsets();
    }
    p.flush(&mut |ev| {
        n += 1;
        let _ = ev.to_json();
    });
    let _ = (n, p.stats());
});

fn num(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}
