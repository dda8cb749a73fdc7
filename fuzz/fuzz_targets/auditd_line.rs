//! One auditd line -> record: `auditd::line::parse_line` on arbitrary bytes,
//! then every accessor the ECS mapping uses. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline_parsers::auditd::line::parse_line;

fuzz_target!(|data: &[u8]| {
    let Ok(rec) = parse_line(data) else {
        return;
    };
    let _ = rec.rtype();
    let _ = rec.node();
    let _ = rec.timestamp_ns();
    let _ = rec.byte_len();
    for (k, v, _, _) in rec.raw_fields() {
        let _ = (k.len(), v.len());
    }
    for (k, v, _) in rec.fields() {
        let _ = (k.len(), v.as_str());
    }
    for (k, v) in rec.fields_lossless() {
        let _ = (k.len(), v.as_str());
    }
    for (k, v, _) in rec.fields_bytes() {
        let _ = (k.len(), v.len());
    }
    for key in ["a0", "exe", "comm", "saddr", "proctitle", "name", "cwd"] {
        let _ = rec.text(key);
        let _ = rec.bytes(key);
    }
});
