//! Line-based splitting of `log show|stream` JSON output into documents.
//!
//! `--style json` prints one array, pretty-printed by Foundation: `[{` on the
//! first line, `},{` between entries, `}]` at the end (and no `]` at all when
//! `log stream` is interrupted). `--style ndjson` prints one entry per line.
//! Both start with a text banner when a predicate is given. A brace counter
//! that knows JSON strings splits all of these into objects without caring
//! about the layout, holding at most one entry in memory.

use crate::{Event, Location, ParseError, Parser};

/// Largest unified-log entry kept (bytes of JSON). Entries carry a message
/// and a backtrace; Apple caps messages far below this.
pub const MAX_ENTRY: usize = 1 << 20;

/// The line parser of [`crate::Format::UnifiedLog`]: `log show|stream` output
/// in the `json` or `ndjson` style, with or without its banner.
///
/// Each complete JSON object goes through [`crate::json::convert`], so a
/// stray eslogger or ECS line in the same stream is still understood.
#[derive(Debug, Default)]
pub struct UnifiedLogParser {
    buf: Vec<u8>,
    depth: u32,
    in_string: bool,
    escape: bool,
    /// Where the object being assembled started.
    start: Location,
    /// Skipping an oversized object until its depth returns to 0.
    skipping: bool,
}

impl UnifiedLogParser {
    /// A parser at the start of an input.
    pub fn new() -> Self {
        Self::default()
    }

    fn complete(&mut self, out: &mut dyn FnMut(Event)) -> Result<(), ParseError> {
        let at = self.start;
        let doc = serde_json::from_slice::<serde_json::Value>(&self.buf)
            .map_err(|e| ParseError::new(at, format!("invalid JSON entry: {e}")));
        self.buf.clear();
        crate::json::convert(&doc?, out).map_err(|m| ParseError::new(at, m))
    }
}

impl Parser for UnifiedLogParser {
    fn feed(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if self.depth == 0 && super::is_banner(line) {
            return Ok(());
        }
        let mut first_err = None;
        for (i, &b) in line.iter().enumerate() {
            if self.depth == 0 {
                match b {
                    b'{' => {
                        self.depth = 1;
                        self.in_string = false;
                        self.escape = false;
                        self.skipping = false;
                        self.start = loc;
                        self.buf.clear();
                        self.buf.push(b);
                    }
                    // The array framing of `--style json`.
                    b'[' | b']' | b',' => {}
                    b if b.is_ascii_whitespace() => {}
                    _ => {
                        first_err.get_or_insert_with(|| {
                            ParseError::new(
                                loc,
                                format!("unexpected text outside a JSON entry at column {}", i + 1),
                            )
                        });
                        break;
                    }
                }
                continue;
            }
            if !self.skipping {
                self.buf.push(b);
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        if self.skipping {
                            self.skipping = false;
                        } else if let Err(e) = self.complete(out) {
                            first_err.get_or_insert(e);
                        }
                    }
                }
                _ => {}
            }
        }
        if self.depth > 0 && !self.skipping {
            // Lines end inside an entry: keep them apart as JSON whitespace.
            self.buf.push(b'\n');
            if self.buf.len() > MAX_ENTRY {
                self.buf = Vec::new();
                self.skipping = true;
                first_err.get_or_insert_with(|| {
                    ParseError::new(
                        self.start,
                        format!("unified log entry exceeds {MAX_ENTRY} bytes, skipped"),
                    )
                });
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// An entry still open at the end of input (an interrupted `log stream`)
    /// is dropped: it cannot be parsed.
    fn flush(&mut self, _out: &mut dyn FnMut(Event)) {
        self.buf.clear();
        self.depth = 0;
        self.skipping = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Event>, Vec<ParseError>) {
        let mut p = UnifiedLogParser::new();
        let (mut evs, mut errs) = (Vec::new(), Vec::new());
        let mut offset = 0u64;
        for (i, line) in text.split('\n').enumerate() {
            let loc = Location {
                line: i as u64 + 1,
                offset,
            };
            offset += line.len() as u64 + 1;
            if let Err(e) = p.feed(line.as_bytes(), loc, &mut |e| evs.push(e)) {
                errs.push(e);
            }
        }
        p.flush(&mut |e| evs.push(e));
        (evs, errs)
    }

    const E1: &str = "{\n  \"traceID\" : 1,\n  \"eventMessage\" : \"a } { \\\" ]\",\n  \"processImagePath\" : \"/usr/bin/a\",\n  \"processID\" : 1,\n  \"timestamp\" : \"2024-01-01 00:00:00.000000+0000\"\n}";

    #[test]
    fn pretty_array_stream_and_ndjson() {
        let arr = format!("[{E1}]");
        let (e, x) = run(&format!("{arr}\n"));
        assert_eq!((e.len(), x.len()), (1, 0), "{x:?}");
        assert_eq!(e[0].message.as_deref(), Some("a } { \" ]"));
        // Two entries joined by `},{`, never closed (interrupted stream).
        let two = format!("[{},{}", E1, E1);
        let (e, x) = run(&two);
        assert_eq!((e.len(), x.len()), (2, 0));
        let nd = "Filtering the log data using \"x\"\n{\"eventMessage\":\"m\",\"processID\":2,\"timestamp\":\"2024-01-01 00:00:00.000000+0000\"}\n{\"count\":1,\"finished\":1}\n";
        let (e, x) = run(nd);
        assert_eq!((e.len(), x.len()), (1, 0), "{x:?}");
    }

    #[test]
    fn errors_are_located_and_the_rest_goes_on() {
        let text = "{\"eventMessage\": tru}\ngarbage\n{\"eventMessage\":\"ok\",\"timestamp\":\"2024-01-01 00:00:00.000000+0000\"}\n";
        let (e, x) = run(text);
        assert_eq!(e.len(), 1);
        assert_eq!(x.len(), 2);
        assert_eq!((x[0].line, x[1].line), (1, 2));
        assert_eq!(x[1].offset, 22);
    }

    #[test]
    fn oversized_entries_are_skipped_with_bounded_memory() {
        let mut p = UnifiedLogParser::new();
        let big = "x".repeat(64 * 1024);
        let mut errs = 0;
        let mut n = 0;
        let _ = p.feed(b"{\"eventMessage\":[", Location::default(), &mut |_| n += 1);
        for _ in 0..40 {
            let l = format!("\"{big}\",");
            if p.feed(l.as_bytes(), Location::default(), &mut |_| n += 1)
                .is_err()
            {
                errs += 1;
            }
            assert!(p.buf.len() <= MAX_ENTRY + big.len() + 8);
        }
        let _ = p.feed(b"\"\"]}", Location::default(), &mut |_| n += 1);
        let ok = br#"{"eventMessage":"m","timestamp":"2024-01-01 00:00:00.000000+0000"}"#;
        p.feed(ok, Location::default(), &mut |_| n += 1).unwrap();
        assert_eq!((errs, n), (1, 1));
    }
}
