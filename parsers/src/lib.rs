//! `tripline-parsers`: bytes in, ECS events out.
//!
//! This crate turns the logs a host already writes into [`Event`]s shaped after
//! the Elastic Common Schema (ECS). It knows nothing of rules, alerts or the CLI:
//! the engine in the `tripline` crate consumes the events it produces.
//!
//! Every parser reads `&[u8]` with no UTF-8 assumption. A malformed record is one
//! [`ParseError`] (with line and byte offset) and the stream goes on; nothing panics.
//!
//! # Example
//!
//! ```
//! use tripline_parsers::{Format, Location, Parser};
//!
//! let log = b"type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 pid=10 ppid=1 uid=0 comm=\"id\" exe=\"/usr/bin/id\"\n\
//! type=EOE msg=audit(1700000000.123:42): \n";
//! let mut parser = Format::Auditd.parser();
//! let mut events = Vec::new();
//! for (i, line) in log.split(|&b| b == b'\n').enumerate() {
//!     if line.is_empty() { continue; }
//!     let loc = Location { line: i as u64 + 1, offset: 0 };
//!     parser.feed(line, loc, &mut |ev| events.push(ev)).unwrap();
//! }
//! parser.flush(&mut |ev| events.push(ev));
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].process.executable.as_deref(), Some("/usr/bin/id"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auditd;
pub mod ecs;
pub mod ecs_write;
pub mod json;
pub mod macos;
pub mod sysmon;

pub use ecs::{Event, FieldValue};

/// Where a line came from inside its input: 1-based line number and the byte
/// offset of the line's first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the start of the line within the input.
    pub offset: u64,
}

/// A record that could not be parsed. The caller adds the file name.
///
/// Line-based formats locate it by line and byte offset; binary EVTX by
/// record id (when the record header was readable) or byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    /// 1-based line number of the bad record (0 for binary inputs).
    pub line: u64,
    /// Byte offset of the bad record.
    pub offset: u64,
    /// The record id (EVTX `EventRecordID`), when the input numbers its records.
    pub record: Option<u64>,
    /// What was wrong, lowercase and specific.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.record {
            Some(r) => write!(f, "record {r}: {}", self.message),
            None if self.line == 0 => write!(f, "byte {}: {}", self.offset, self.message),
            None => write!(
                f,
                "line {} (byte {}): {}",
                self.line, self.offset, self.message
            ),
        }
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    /// Builds an error at `loc`.
    pub fn new(loc: Location, message: impl Into<String>) -> Self {
        ParseError {
            line: loc.line,
            offset: loc.offset,
            record: None,
            message: message.into(),
        }
    }

    /// An error for the record with this id (binary formats).
    pub fn record(id: u64, message: impl Into<String>) -> Self {
        ParseError {
            line: 0,
            offset: 0,
            record: Some(id),
            message: message.into(),
        }
    }

    /// An error at a byte offset of a binary or multi-line input.
    pub fn at_byte(offset: u64, message: impl Into<String>) -> Self {
        ParseError {
            line: 0,
            offset,
            record: None,
            message: message.into(),
        }
    }
}

/// A push parser: lines in, 0..n events out per line.
///
/// Implementations may hold state (auditd joins records into events); `flush`
/// emits whatever is still pending at end of input.
pub trait Parser {
    /// Feeds one line (without its trailing newline).
    ///
    /// # Errors
    /// Returns a [`ParseError`] when the line is not a valid record; the parser
    /// stays usable and the next line is parsed normally.
    fn feed(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError>;

    /// Emits every event still being assembled.
    fn flush(&mut self, out: &mut dyn FnMut(Event));

    /// What the parser's memory caps cut short so far (none for stateless parsers).
    fn cap_stats(&self) -> CapStats {
        CapStats::default()
    }
}

/// What a parser's memory caps cut short (see: issue 11, SECURITY.md): the
/// run summary reports them, so a flood meant to push state out is visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapStats {
    /// Events completed early because too many events, or too many bytes,
    /// were being assembled at once (auditd).
    pub events_completed_early: u64,
    /// Entries evicted from a parser's lookup table (the auditd process table).
    pub table_evictions: u64,
}

/// The input formats tripline understands. A closed enum: each variant
/// dispatches to one concrete parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Linux audit.log text (raw or enriched).
    Auditd,
    /// Raw Windows `.evtx` (binary; read by [`sysmon::evtx::EvtxReader`], not line by line).
    Evtx,
    /// JSON documents: Windows event exports (`evtx_dump`, Winlogbeat, NXLog /
    /// OTRF, PowerShell) and ECS documents, as JSON lines, a JSON array or
    /// concatenated objects (read by [`json::read_json`]).
    Json,
    /// macOS `log show|stream --style json|ndjson` output, banner and array
    /// framing included, read line by line ([`macos::UnifiedLogParser`]).
    /// Plain JSON lines of the unified log (and `eslogger`) are also read as
    /// [`Format::Json`].
    UnifiedLog,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: &'static [Format] = &[
        Format::Evtx,
        Format::UnifiedLog,
        Format::Json,
        Format::Auditd,
    ];

    /// The name used on the command line (`--format auditd`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Auditd => "auditd",
            Format::Evtx => "evtx",
            Format::Json => "json",
            Format::UnifiedLog => "unifiedlog",
        }
    }

    /// Parses a format name as given to `--format`.
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// Guesses the format from the first bytes of an input, or `None`.
    pub fn detect(head: &[u8]) -> Option<Format> {
        if sysmon::evtx::looks_like_evtx(head) {
            return Some(Format::Evtx);
        }
        // Before JSON: `log` output opens with a banner or a bare `[{` line.
        if macos::looks_like_unified_log(head) {
            return Some(Format::UnifiedLog);
        }
        // Before auditd: a JSON document may quote an audit record.
        if json::looks_like_json(head) {
            return Some(Format::Json);
        }
        if auditd::looks_like_auditd(head) {
            return Some(Format::Auditd);
        }
        None
    }

    /// True if the format is read line by line through [`Format::parser`];
    /// false for [`Format::Evtx`] (binary, needs `Read + Seek`) and
    /// [`Format::Json`] (arrays and pretty-printed objects span lines), which
    /// callers read with [`sysmon::evtx::EvtxReader`] and [`json::read_json`].
    pub fn is_line_based(self) -> bool {
        matches!(self, Format::Auditd | Format::UnifiedLog)
    }

    /// A fresh line parser for this format. For [`Format::Json`] it parses
    /// JSON lines only; for [`Format::Evtx`] every line is an error (see
    /// [`Format::is_line_based`]).
    pub fn parser(self) -> Box<dyn Parser + Send> {
        match self {
            Format::Auditd => Box::new(auditd::AuditdParser::new()),
            Format::Json => Box::new(json::JsonLinesParser),
            Format::UnifiedLog => Box::new(macos::UnifiedLogParser::new()),
            Format::Evtx => Box::new(json::NotLineBased),
        }
    }
}
