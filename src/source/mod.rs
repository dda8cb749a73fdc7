//! Sources: where bytes come from (files, directories, stdin) and how they are
//! split into lines.
//!
//! # Design rationale
//!
//! Lines are split with `memchr` over a large buffer, and a line longer than the
//! configured maximum is never held in memory: its bytes are skipped up to the
//! next newline and the caller is told its location and length, so one hostile
//! 100 MB line costs no more memory than a short one.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use tripline_parsers::Location;

pub mod checkpoint;
pub mod follow;

/// Default cap on one line: longer lines are reported and skipped.
pub const DEFAULT_MAX_LINE: usize = 4 << 20;

/// Buffer size for reading inputs.
const READ_BUFFER: usize = 256 << 10;

/// Bytes looked at to detect an input's format.
pub const DETECT_BYTES: usize = 64 << 10;

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file on disk; `explicit` when named on the command line rather than
    /// found by walking a directory (an unrecognized explicit file is an error,
    /// an unrecognized file found in a directory is skipped with a note).
    File {
        /// The path.
        path: PathBuf,
        /// Named on the command line.
        explicit: bool,
    },
}

impl Input {
    /// False for files found by walking a directory.
    pub fn is_explicit(&self) -> bool {
        match self {
            Input::Stdin => true,
            Input::File { explicit, .. } => *explicit,
        }
    }

    /// How the input is named in messages (`<stdin>` or the path).
    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_string(),
            Input::File { path, .. } => path.display().to_string(),
        }
    }

    /// Opens the input for buffered reading.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub fn open(&self) -> io::Result<Box<dyn BufRead + Send>> {
        Ok(match self {
            Input::Stdin => Box::new(BufReader::with_capacity(READ_BUFFER, io::stdin())),
            Input::File { path, .. } => {
                Box::new(BufReader::with_capacity(READ_BUFFER, File::open(path)?))
            }
        })
    }
}

/// An input path that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct InputError {
    /// The path as given or found.
    pub path: String,
    /// What went wrong.
    #[source]
    pub source: io::Error,
}

/// Expands command-line paths into inputs: `-` is stdin, directories are walked
/// recursively (entries sorted by name, symlinks to directories not followed),
/// files are taken as they are. No paths means stdin.
pub fn collect_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    if paths.is_empty() {
        inputs.push(Input::Stdin);
    }
    for p in paths {
        if p.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Ok(md) if md.is_dir() => walk(p, &mut inputs, &mut errors),
            Ok(_) => inputs.push(Input::File {
                path: p.clone(),
                explicit: true,
            }),
            Err(e) => errors.push(InputError {
                path: p.display().to_string(),
                source: e,
            }),
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path, inputs: &mut Vec<Input>, errors: &mut Vec<InputError>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(InputError {
                path: dir.display().to_string(),
                source: e,
            });
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => walk(&p, inputs, errors),
            Ok(md) if md.is_file() => inputs.push(Input::File {
                path: p,
                explicit: false,
            }),
            Ok(md) if md.file_type().is_symlink() => match std::fs::metadata(&p) {
                Ok(t) if t.is_file() => inputs.push(Input::File {
                    path: p,
                    explicit: false,
                }),
                Ok(_) => {}
                Err(e) => errors.push(InputError {
                    path: p.display().to_string(),
                    source: e,
                }),
            },
            Ok(_) => {}
            Err(e) => errors.push(InputError {
                path: p.display().to_string(),
                source: e,
            }),
        }
    }
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A complete line (without `\n`; a trailing `\r` is kept for the parser to judge).
    Data(&'a [u8], Location),
    /// A line longer than the maximum: skipped, `len` bytes long.
    TooLong(Location, u64),
}

/// Splits a reader into lines with a bounded line length.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max_line: usize,
    line_no: u64,
    offset: u64,
    eof: bool,
    /// Bytes of the line last returned straight from the reader's buffer,
    /// consumed at the next call (the line borrowed them until then).
    pending: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader that reports lines longer than `max_line` as [`Line::TooLong`].
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            buf: Vec::new(),
            max_line,
            line_no: 0,
            offset: 0,
            eof: false,
            pending: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next line, or `None` at end of input. A last line without a newline is returned too.
    ///
    /// # Errors
    /// Reading failed.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        if self.pending > 0 {
            self.inner.consume(self.pending);
            self.pending = 0;
        }
        if self.eof {
            return Ok(None);
        }
        self.buf.clear();
        let start = self.offset;
        // Fast path: the whole line is in the reader's buffer. Return it in
        // place, without copying (the common case with a large buffer).
        let found = loop {
            match self.inner.fill_buf() {
                Ok(chunk) => break memchr::memchr(b'\n', chunk).filter(|&i| i <= self.max_line),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(i) = found {
            self.pending = i + 1;
            self.offset += (i + 1) as u64;
            self.line_no += 1;
            let loc = Location {
                line: self.line_no,
                offset: start,
            };
            // The same buffered bytes again (`fill_buf` does not read while
            // its buffer holds unconsumed data).
            let chunk = self.inner.fill_buf()?;
            return Ok(Some(Line::Data(&chunk[..i], loc)));
        }
        let mut len: u64 = 0;
        let mut too_long = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                self.eof = true;
                if len == 0 {
                    return Ok(None);
                }
                break;
            }
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let data_len = if done { take - 1 } else { take };
            if !too_long {
                if self.buf.len() + data_len > self.max_line {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(&chunk[..data_len]);
                }
            }
            len += data_len as u64;
            self.inner.consume(take);
            self.offset += take as u64;
            if done {
                break;
            }
        }
        self.line_no += 1;
        let loc = Location {
            line: self.line_no,
            offset: start,
        };
        if too_long {
            Ok(Some(Line::TooLong(loc, len)))
        } else {
            Ok(Some(Line::Data(&self.buf, loc)))
        }
    }
}

/// Reads up to [`DETECT_BYTES`] from the start of a buffered reader without consuming them.
///
/// # Errors
/// Reading failed.
pub fn peek_head<R: BufRead + ?Sized>(r: &mut R) -> io::Result<Vec<u8>> {
    let buf = r.fill_buf()?;
    Ok(buf[..buf.len().min(DETECT_BYTES)].to_vec())
}

/// Reads a whole small reader (for tests).
#[doc(hidden)]
pub fn read_all<R: Read>(mut r: R) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut r = LineReader::new(BufReader::with_capacity(7, input), max);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(match l {
                Line::Data(d, loc) => {
                    format!("{}@{}:{}", String::from_utf8_lossy(d), loc.line, loc.offset)
                }
                Line::TooLong(loc, n) => format!("TOOLONG({n})@{}:{}", loc.line, loc.offset),
            });
        }
        out
    }

    #[test]
    fn splits_lines_with_locations() {
        assert_eq!(
            lines(b"ab\ncd\n\nef", 100),
            vec!["ab@1:0", "cd@2:3", "@3:6", "ef@4:7"]
        );
    }

    #[test]
    fn long_lines_are_skipped_not_buffered() {
        let mut input = vec![b'x'; 1000];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(&input, 100), vec!["TOOLONG(1000)@1:0", "ok@2:1001"]);
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(lines(b"", 10).is_empty());
    }
}
