//! Raw `.evtx` files (Windows XML EventLog) through the `evtx` crate.
//!
//! The parser reads the file chunk by chunk (64 KiB each) from any
//! `Read + Seek`, so memory stays bounded whatever the file size. Each record
//! is rendered to `evtx_dump`'s JSON shape and read by
//! [`shapes::from_evtx_json`](super::shapes::from_evtx_json), so a raw file and
//! its `evtx_dump` export give the same events.
//!
//! A corrupt chunk or record is one [`ParseError`] (record id when the crate
//! knows it, else the chunk number and offset) and the rest of the file goes on.
//!
//! # Example
//!
//! ```no_run
//! use tripline_parsers::sysmon::evtx::EvtxReader;
//! let f = std::fs::File::open("Security.evtx").unwrap();
//! let mut reader = EvtxReader::new(f).unwrap();
//! let stats = reader.read(&mut |ev| println!("{:?}", ev.event.action), &mut |e| eprintln!("{e}"));
//! println!("{} records", stats.records);
//! ```

use std::io::{Read, Seek};

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use super::{ecs, shapes};
use crate::{Event, ParseError};

/// The EVTX file magic.
pub const MAGIC: &[u8; 8] = b"ElfFile\0";

/// True if `head` starts with the EVTX file magic.
pub fn looks_like_evtx(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// Counters of one [`EvtxReader::read`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvtxStats {
    /// Records read (turned into events).
    pub records: u64,
    /// Records or chunks that could not be read.
    pub errors: u64,
}

/// A `.evtx` reader over any seekable byte source.
pub struct EvtxReader<R: Read + Seek> {
    parser: EvtxParser<R>,
}

impl<R: Read + Seek + 'static> EvtxReader<R> {
    /// Opens an EVTX stream (reads and checks the file header).
    ///
    /// # Errors
    /// The input has no EVTX file header or cannot be read.
    pub fn new(input: R) -> Result<Self, ParseError> {
        let parser = EvtxParser::from_read_seek(input)
            .map_err(|e| ParseError::at_byte(0, format!("not an EVTX file: {}", chain(&e))))?;
        let settings = ParserSettings::default()
            .num_threads(1)
            .indent(false)
            .separate_json_attributes(false);
        Ok(EvtxReader {
            parser: parser.with_configuration(settings),
        })
    }

    /// `next_record_id` from the file header (records written so far + 1, for
    /// a log that started at record 1).
    pub fn header_next_record_id(&self) -> u64 {
        self.parser.header().next_record_id
    }

    /// Reads every record: events to `out`, errors to `err`. Never panics on
    /// corrupt input.
    pub fn read(
        &mut self,
        out: &mut dyn FnMut(Event),
        err: &mut dyn FnMut(ParseError),
    ) -> EvtxStats {
        let mut stats = EvtxStats::default();
        for rec in self.parser.records_json_bytes() {
            match rec {
                Ok(r) => match serde_json::from_slice::<serde_json::Value>(&r.data) {
                    Ok(doc) => match shapes::from_evtx_json(&doc) {
                        Some(w) => {
                            stats.records += 1;
                            out(ecs::build(&w));
                        }
                        None => {
                            stats.errors += 1;
                            err(ParseError::record(
                                r.event_record_id,
                                "record has no System block",
                            ));
                        }
                    },
                    Err(e) => {
                        stats.errors += 1;
                        err(ParseError::record(
                            r.event_record_id,
                            format!("record rendered to invalid JSON: {e}"),
                        ));
                    }
                },
                Err(e) => {
                    stats.errors += 1;
                    err(to_parse_error(&e));
                }
            }
        }
        stats
    }
}

/// The error and its sources, joined with `: `.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(c) = cur {
        if depth > 8 {
            break;
        }
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
        depth += 1;
    }
    s
}

fn to_parse_error(e: &EvtxError) -> ParseError {
    match e {
        EvtxError::FailedToParseRecord { record_id, .. } => {
            ParseError::record(*record_id, chain(e))
        }
        EvtxError::FailedToParseChunk { chunk_id, .. } => {
            // Chunks start after the 4 KiB file header and are 64 KiB each.
            ParseError::at_byte(4096 + chunk_id.saturating_mul(65536), chain(e))
        }
        EvtxError::FailedToReadRecordAt {
            chunk: Some(c),
            offset,
            ..
        } => ParseError::at_byte(
            4096 + c.saturating_mul(65536).saturating_add(*offset),
            chain(e),
        ),
        other => ParseError::at_byte(0, chain(other)),
    }
}
