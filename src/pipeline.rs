//! One input through its parser: lines in, events out, bad records counted and reported.
//!
//! Shared by `scan` and `convert` (and later `tail`): the caller decides what
//! happens to each event.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tripline_parsers::sysmon::evtx::EvtxReader;
use tripline_parsers::{Event, Format, Location, ParseError, json};

use crate::source::{Input, Line, LineReader, peek_head};

/// Counters for one run, summed over inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Inputs read (fully or partly).
    pub inputs: u64,
    /// Inputs that could not be opened, read or recognized.
    pub input_errors: u64,
    /// Non-empty lines seen.
    pub records: u64,
    /// Events produced by the parsers.
    pub events: u64,
    /// Records rejected (malformed or too long).
    pub bad_records: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Events the parsers completed early by their memory caps (auditd:
    /// events or bytes being assembled at once).
    pub events_completed_early: u64,
    /// Entries the parsers evicted from their lookup tables (the auditd
    /// process table).
    pub table_evictions: u64,
}

impl ReadStats {
    /// Adds one input's counters (kept beside the fields, so a new counter is
    /// summed where it is declared).
    pub fn add(&mut self, s: &ReadStats) {
        self.inputs += s.inputs;
        self.input_errors += s.input_errors;
        self.records += s.records;
        self.events += s.events;
        self.bad_records += s.bad_records;
        self.bytes += s.bytes;
        self.events_completed_early += s.events_completed_early;
        self.table_evictions += s.table_evictions;
    }
}

/// Where bad-record messages go; rate-limited per input so a garbage file
/// cannot flood the terminal. Messages are escaped: log bytes never reach the
/// terminal raw.
pub struct ErrorReporter {
    /// Messages printed per input before the rest are only counted.
    pub per_input_limit: u64,
    printed: u64,
    suppressed: u64,
    quiet: bool,
}

impl ErrorReporter {
    /// A reporter printing at most `per_input_limit` messages per input to stderr.
    pub fn new(per_input_limit: u64, quiet: bool) -> Self {
        ErrorReporter {
            per_input_limit,
            printed: 0,
            suppressed: 0,
            quiet,
        }
    }

    fn start_input(&mut self) {
        self.printed = 0;
        self.suppressed = 0;
    }

    /// Reports one bad record of a binary or multi-line input (EVTX record
    /// id, JSON document) at `input`.
    pub fn bad_record_err(&mut self, input: &str, e: &ParseError) {
        if self.quiet {
            return;
        }
        if self.printed < self.per_input_limit {
            self.printed += 1;
            eprintln!(
                "tripline: {}: bad record: {}",
                escape(input),
                escape(&e.to_string())
            );
        } else {
            self.suppressed += 1;
        }
    }

    /// Reports one bad record at `input:line`.
    pub fn bad_record(&mut self, input: &str, loc: Location, msg: &str) {
        if self.quiet {
            return;
        }
        if self.printed < self.per_input_limit {
            self.printed += 1;
            eprintln!(
                "tripline: {}:{}: bad record (byte {}): {}",
                escape(input),
                loc.line,
                loc.offset,
                escape(msg)
            );
        } else {
            self.suppressed += 1;
        }
    }

    fn end_input(&mut self, input: &str) {
        if self.suppressed > 0 && !self.quiet {
            eprintln!(
                "tripline: {}: {} more bad records not shown",
                escape(input),
                self.suppressed
            );
        }
    }
}

/// Escapes control characters, bidi controls and zero-width characters so a
/// string from a log cannot move the cursor or recolor a terminal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bad = c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}');
        if bad {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputFailure {
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// No parser recognized the first bytes.
    #[error("unrecognized format (use --format to force one)")]
    Unrecognized,
}

/// Reads one input: detects (or uses the forced) format, parses every line and
/// calls `on_event` for each event. Bad records are counted and reported; only
/// failures to open, read or recognize the input are returned as errors.
///
/// # Errors
/// The input cannot be opened or read, or its format is not recognized.
pub fn read_input(
    input: &Input,
    forced: Option<Format>,
    max_line: usize,
    stats: &mut ReadStats,
    reporter: &mut ErrorReporter,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), InputFailure> {
    let position = Arc::new(AtomicU64::new(0));
    read_input_tracked(
        input, forced, max_line, stats, reporter, &position, on_event,
    )
}

/// [`read_input`], publishing in `position` how far into the input the reader
/// is (bytes consumed, or the EVTX reader's file position) while it runs: a
/// progress display reads it from `on_event`. Reset to 0 first.
///
/// # Errors
/// As [`read_input`].
pub fn read_input_tracked(
    input: &Input,
    forced: Option<Format>,
    max_line: usize,
    stats: &mut ReadStats,
    reporter: &mut ErrorReporter,
    position: &Arc<AtomicU64>,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), InputFailure> {
    let name = input.display_name();
    position.store(0, Ordering::Relaxed);
    let mut reader: Box<dyn io::BufRead + Send> = Box::new(Tracked {
        inner: input.open()?,
        position: Arc::clone(position),
    });
    let format = match forced {
        Some(f) => f,
        None => {
            let head = peek_head(&mut reader)?;
            if head.is_empty() {
                stats.inputs += 1;
                return Ok(());
            }
            Format::detect(&head).ok_or(InputFailure::Unrecognized)?
        }
    };
    // A JSON file found in a directory that is no event log (a test
    // expectation, a manifest): skipped like an unknown format, not one bad
    // record per document (see: issue 11). Named files are read regardless.
    if format == Format::Json
        && !input.is_explicit()
        && json::first_document_unrecognized(&peek_head(&mut reader)?)
    {
        return Err(InputFailure::Unrecognized);
    }
    stats.inputs += 1;
    reporter.start_input();
    if !format.is_line_based() {
        let result = read_whole(
            input, reader, format, max_line, stats, reporter, position, on_event,
        );
        reporter.end_input(&name);
        return result;
    }
    let mut parser = format.parser();
    let mut lines = LineReader::new(reader, max_line);
    let mut events = 0u64;
    let mut emit = |ev: Event| {
        events += 1;
        on_event(ev);
    };
    let result = loop {
        match lines.next_line() {
            Ok(None) => break Ok(()),
            Ok(Some(Line::TooLong(loc, len))) => {
                stats.records += 1;
                stats.bad_records += 1;
                reporter.bad_record(
                    &name,
                    loc,
                    &format!("line of {len} bytes exceeds the {max_line}-byte limit, skipped"),
                );
            }
            Ok(Some(Line::Data(line, loc))) => {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                stats.records += 1;
                if let Err(e) = parser.feed(line, loc, &mut emit) {
                    stats.bad_records += 1;
                    reporter.bad_record(&name, loc, &e.message);
                }
            }
            Err(e) => break Err(InputFailure::Io(e)),
        }
    };
    // Whatever was read is still emitted, even when reading failed midway.
    parser.flush(&mut emit);
    let caps = parser.cap_stats();
    stats.events_completed_early += caps.events_completed_early;
    stats.table_evictions += caps.table_evictions;
    stats.events += events;
    stats.bytes += lines.offset();
    reporter.end_input(&name);
    result
}

/// Largest EVTX read from a non-seekable input (stdin), which must be held in memory.
const MAX_UNSEEKABLE_EVTX: u64 = 1 << 30;

/// Reads a format that is not line based: EVTX (seekable, chunk by chunk) and
/// JSON in any framing.
#[allow(clippy::too_many_arguments)]
fn read_whole(
    input: &Input,
    mut reader: Box<dyn io::BufRead + Send>,
    format: Format,
    max_line: usize,
    stats: &mut ReadStats,
    reporter: &mut ErrorReporter,
    position: &Arc<AtomicU64>,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), InputFailure> {
    let name = input.display_name();
    let mut events = 0u64;
    let mut bad = 0u64;
    let mut emit = |ev: Event| {
        events += 1;
        on_event(ev);
    };
    let mut report = |e: ParseError| {
        bad += 1;
        reporter.bad_record_err(&name, &e);
    };
    let result = match format {
        Format::Evtx => {
            let (mut evtx, len) = match input {
                Input::File { path, .. } => {
                    drop(reader);
                    let f = std::fs::File::open(path)?;
                    let len = f.metadata()?.len();
                    let f = Tracked {
                        inner: f,
                        position: Arc::clone(position),
                    };
                    let r = EvtxReader::new(Box::new(f) as Box<dyn ReadSeek>);
                    (r, len)
                }
                Input::Stdin => {
                    let mut buf = Vec::new();
                    reader
                        .by_ref()
                        .take(MAX_UNSEEKABLE_EVTX)
                        .read_to_end(&mut buf)?;
                    let len = buf.len() as u64;
                    let r = EvtxReader::new(Box::new(io::Cursor::new(buf)) as Box<dyn ReadSeek>);
                    (r, len)
                }
            };
            match evtx.as_mut() {
                Ok(r) => {
                    let st = r.read(&mut emit, &mut report);
                    stats.records += st.records + st.errors;
                    stats.bytes += len;
                    Ok(())
                }
                Err(e) => Err(InputFailure::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    e.to_string(),
                ))),
            }
        }
        _ => match json::read_json(reader, max_line, &mut emit, &mut report) {
            Ok(st) => {
                stats.records += st.documents;
                stats.bytes += st.bytes;
                Ok(())
            }
            Err(e) => Err(InputFailure::Io(e)),
        },
    };
    stats.bad_records += bad;
    stats.events += events;
    result
}

/// A reader that publishes its position: bytes consumed (`read`, `consume`),
/// or where a seek landed.
struct Tracked<R> {
    inner: R,
    position: Arc<AtomicU64>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: io::BufRead> io::BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.position.fetch_add(amt as u64, Ordering::Relaxed);
    }
}

impl<R: io::Seek> io::Seek for Tracked<R> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let p = self.inner.seek(pos)?;
        self.position.store(p, Ordering::Relaxed);
        Ok(p)
    }
}

/// A seekable byte source for EVTX.
trait ReadSeek: io::Read + io::Seek + Send {}
impl<T: io::Read + io::Seek + Send> ReadSeek for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralizes_terminal_sequences() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{202E}y"), "x\\u{202e}y");
        assert_eq!(escape("plain /usr/bin/curl"), "plain /usr/bin/curl");
    }
}
