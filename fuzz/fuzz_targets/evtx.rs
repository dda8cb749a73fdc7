//! The EVTX path: `EvtxReader` over arbitrary bytes (file header, chunks,
//! BinXML, templates), then the Sysmon/Windows -> ECS mapping. Inputs without
//! the `ElfFile\0` magic get a valid-looking prefix half of the time, so the
//! fuzzer spends its time past the header check.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use tripline_parsers::sysmon::evtx::{EvtxReader, MAGIC};

fuzz_target!(|data: &[u8]| {
    let input: Vec<u8> = if data.starts_with(MAGIC) || data.first().is_some_and(|b| b & 1 == 0) {
        data.to_vec()
    } else {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&data[1.min(data.len())..]);
        v
    };
    let Ok(mut r) = EvtxReader::new(Cursor::new(input)) else {
        return;
    };
    let _ = r.header_next_record_id();
    let mut n = 0usize;
    let _ = r.read(
        &mut |ev| {
            n += 1;
            let _ = ev.to_json();
        },
        &mut |e| {
            let _ = e.to_string();
        },
    );
});
