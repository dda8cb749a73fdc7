//! JSON inputs: framing (JSON lines, a top-level array, concatenated or
//! pretty-printed objects) and shape detection per document.
//!
//! Memory stays bounded: JSON lines are read one line at a time (a line over
//! the limit is one error and is skipped), a top-level array is streamed
//! element by element, concatenated objects one object at a time.
//!
//! # Shapes (checked per document, in this order)
//!
//! | shape | recognized by | read by |
//! |---|---|---|
//! | Elasticsearch hit / search / EQL response | `_source`, `hits.hits[]`, `hits.events[]`, `hits.sequences[].events[]` | unwrapped, then each document below |
//! | `evtx_dump` | `Event.System` | [`sysmon::shapes::from_evtx_json`](crate::sysmon::shapes::from_evtx_json) |
//! | Winlogbeat / Elastic Agent | a `winlog` object | [`sysmon::shapes::from_winlogbeat`](crate::sysmon::shapes::from_winlogbeat), plus the document's own fields |
//! | PowerShell `Get-WinEvent \| ConvertTo-Json` | `Id`, `ProviderName`, `Properties`/`LogName` | [`sysmon::shapes::from_powershell`](crate::sysmon::shapes::from_powershell) |
//! | NXLog / OTRF flat | `EventID` with `SourceName`/`Channel`/`Hostname` | [`sysmon::shapes::from_flat`](crate::sysmon::shapes::from_flat) |
//! | unified log entry, `eslogger` message | Apple's key names (see [`crate::macos::shape`]) | [`crate::macos::convert`] |
//! | ECS document | `@timestamp`, `event`, `ecs`, `process` or `host` | [`crate::macos::ecs_input::from_ecs`] |
//!
//! Any other document is one [`ParseError`].

use std::cell::Cell;
use std::io::{self, BufRead};

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use crate::sysmon::{ecs, shapes};
use crate::{Event, Location, ParseError, Parser};

pub(crate) mod node;

use node::{Json, Node};

/// True if the first non-blank byte of `head` (after an optional UTF-8 BOM)
/// opens a JSON object or array.
pub fn looks_like_json(head: &[u8]) -> bool {
    let h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    matches!(
        h.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{') | Some(b'[')
    )
}

/// Start of the message for a document of no known shape (see [`convert`]).
const UNRECOGNIZED: &str = "unrecognized JSON document";

/// True when `head` (the first bytes of an input) holds a whole first JSON
/// document — or, for an array, a whole first element — and [`convert`]
/// recognizes no shape in it: a JSON file that is not an event log (a
/// test expectation, a config, a package manifest). False when it is
/// recognized or cannot be told from `head` (truncated, invalid).
///
/// Directory scans skip such files with one note instead of one error per
/// document (see: issue 11).
pub fn first_document_unrecognized(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut rest = head.trim_ascii_start();
    if let Some(r) = rest.strip_prefix(b"[") {
        rest = r.trim_ascii_start();
    }
    let Some(Ok(doc)) = serde_json::Deserializer::from_slice(rest)
        .into_iter::<Value>()
        .next()
    else {
        return false;
    };
    match convert(&doc, &mut |_| {}) {
        Err(m) => m.starts_with(UNRECOGNIZED) || m == NOT_AN_OBJECT,
        Ok(()) => false,
    }
}

const NOT_AN_OBJECT: &str = "not a JSON object";

/// Turns one JSON document into events (several for search responses).
///
/// # Errors
/// The document has no recognized shape.
pub fn convert(doc: &Value, out: &mut dyn FnMut(Event)) -> Result<(), String> {
    convert_depth(doc, out, 0)
}

fn convert_depth(doc: &Value, out: &mut dyn FnMut(Event), depth: u32) -> Result<(), String> {
    if depth > 4 {
        return Err("JSON documents nested too deeply".into());
    }
    if let Value::Array(a) = doc {
        for d in a {
            convert_depth(d, out, depth + 1)?;
        }
        return Ok(());
    }
    if !doc.is_object() {
        return Err(NOT_AN_OBJECT.into());
    }
    if let Some(src) = doc.get("_source") {
        return convert_depth(src, out, depth + 1);
    }
    if let Some(hits) = doc.get("hits").filter(|h| h.is_object()) {
        let mut any = false;
        for key in ["hits", "events"] {
            if let Some(Value::Array(a)) = hits.get(key) {
                any = true;
                for d in a {
                    convert_depth(d, out, depth + 1)?;
                }
            }
        }
        if let Some(Value::Array(seqs)) = hits.get("sequences") {
            any = true;
            for s in seqs {
                if let Some(Value::Array(a)) = s.get("events") {
                    for d in a {
                        convert_depth(d, out, depth + 1)?;
                    }
                }
            }
        }
        if any {
            return Ok(());
        }
    }
    // macOS: unified log entries, eslogger messages (see `crate::macos`).
    if let Some(r) = crate::macos::convert(doc, out) {
        return r;
    }
    if shapes::is_evtx_json(doc) {
        let w = shapes::from_evtx_json(doc).ok_or("bad evtx_dump event")?;
        out(ecs::build(&w));
    } else if shapes::is_winlogbeat(doc) {
        let w = shapes::from_winlogbeat(doc).ok_or("bad winlog document")?;
        let mut ev = ecs::build(&w);
        overlay(doc, &mut ev);
        out(ev);
    } else if shapes::is_powershell(doc) {
        let w = shapes::from_powershell(doc).ok_or("bad Get-WinEvent record")?;
        out(ecs::build(&w));
    } else if shapes::is_flat(doc) {
        let w = shapes::from_flat(doc).ok_or("bad flat Windows record")?;
        out(ecs::build(&w));
    } else if ["@timestamp", "event", "ecs", "process", "host"]
        .iter()
        .any(|k| doc.get(k).is_some())
    {
        // ECS documents pass through with type checks (`crate::macos::ecs_input`).
        out(crate::macos::ecs_input::from_ecs(doc)?);
    } else {
        return Err(format!("{UNRECOGNIZED} (keys: {})", shapes::keys(doc)));
    }
    Ok(())
}

/// The shapes [`convert_node`] reads from a [`Node`] itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direct {
    Winlogbeat,
    Flat,
}

/// The shape [`convert`] would find in `doc`, when it is one read straight
/// from the [`Node`]; `None` for every other document, and for any document
/// with a key that one of the shapes [`convert`] checks first looks at
/// (those go through [`convert`] itself). One pass over the top-level keys.
fn direct_shape(doc: &Node<'_>) -> Option<Direct> {
    let Node::Obj(m) = doc else { return None };
    let (mut winlog, mut event_id, mut flat_key, mut id, mut provider) =
        (false, false, false, false, false);
    for (k, v) in m {
        match k.as_ref() {
            // Search responses, macOS shapes, `evtx_dump`.
            "_source" | "hits" | "eventMessage" | "machTimestamp" | "processImagePath"
            | "finished" | "mach_time" | "global_seq_num" | "event_type" | "schema_version"
            | "Event" => return None,
            "winlog" => winlog = v.is_object(),
            "EventID" => event_id = true,
            "SourceName" | "Channel" | "Hostname" => flat_key = true,
            "Id" => id = true,
            "ProviderName" => provider = true,
            _ => {}
        }
    }
    if winlog {
        Some(Direct::Winlogbeat)
    } else if id && provider {
        // Possibly PowerShell's `Get-WinEvent`.
        None
    } else if event_id && flat_key {
        Some(Direct::Flat)
    } else {
        None
    }
}

/// [`convert`] for a borrowed document: the Windows shapes of most event
/// volume (Winlogbeat, NXLog / OTRF flat) are read from the [`Node`], every
/// other document goes through [`convert`] as a `Value`. Same events.
fn convert_node(doc: &Node<'_>, out: &mut dyn FnMut(Event)) -> Result<(), String> {
    match direct_shape(doc) {
        Some(Direct::Winlogbeat) => {
            let w = shapes::winlogbeat(doc).ok_or("bad winlog document")?;
            let mut ev = ecs::build_owned(w);
            overlay(doc, &mut ev);
            out(ev);
        }
        Some(Direct::Flat) => {
            let w = shapes::flat(doc).ok_or("bad flat Windows record")?;
            out(ecs::build_owned(w));
        }
        None => convert(&doc.to_value(), out)?,
    }
    Ok(())
}

/// Winlogbeat fields kept next to the Windows mapping (ECS names only:
/// Winlogbeat 7 also writes non-ECS extras such as `agent.hostname` and
/// `host.os.build`, which are dropped).
const WINLOGBEAT_KEEP: &[&str] = &[
    "agent.id",
    "agent.name",
    "agent.type",
    "agent.version",
    "agent.ephemeral_id",
    "ecs.version",
    "host.id",
    "host.hostname",
    "host.ip",
    "host.mac",
    "host.architecture",
    "host.os.",
    "log.level",
    "rule.name",
    "event.created",
    "event.ingested",
    "event.original",
    "tags",
    "labels.",
    "process.",
    "user.",
    "source.",
    "destination.",
    "network.",
    "file.",
    "dns.question.",
    "registry.",
];

/// Adds a Winlogbeat document's own ECS fields (agent, host, log, what the
/// shipper mapped) where the Windows mapping left them empty.
fn overlay<J: Json>(doc: &J, ev: &mut Event) {
    shapes::for_each_kept(doc, WINLOGBEAT_KEEP, &mut |path, v| {
        let non_ecs = path == "host.os.build";
        if non_ecs || ev.get(path).is_some() {
            return;
        }
        let v = v.to_value();
        if !ev.set_path(path, &v) {
            ev.extra.entry(path.to_string()).or_insert(v);
        }
    });
}

/// Counters of one [`read_json`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JsonStats {
    /// Documents read (lines, array elements or objects).
    pub documents: u64,
    /// Documents rejected (invalid JSON, unknown shape, too long).
    pub errors: u64,
    /// Bytes consumed.
    pub bytes: u64,
}

/// Reads a JSON input in any framing (see the module docs): events to `out`,
/// bad documents to `err`.
///
/// # Errors
/// Only reading failures; bad documents go to `err`.
pub fn read_json<R: BufRead>(
    mut r: R,
    max_doc: usize,
    out: &mut dyn FnMut(Event),
    err: &mut dyn FnMut(ParseError),
) -> io::Result<JsonStats> {
    let mut stats = JsonStats::default();
    // Skip a BOM and leading blanks, then decide on the framing.
    let mut skipped = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(stats);
        }
        let n = if skipped == 0 && buf.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            buf.iter().take_while(|b| b.is_ascii_whitespace()).count()
        };
        if n == 0 {
            break;
        }
        r.consume(n);
        skipped += n as u64;
    }
    let head = r.fill_buf()?;
    if head.first() == Some(&b'[') {
        read_array(r, skipped, max_doc, &mut stats, out, err)?;
    } else {
        read_documents(r, skipped, max_doc, false, &mut stats, out, err)?;
    }
    Ok(stats)
}

/// A reader that counts consumed bytes (for error offsets) and fails with
/// [`io::ErrorKind::FileTooLarge`] once more than `max` bytes were read since
/// `mark` (the start of the current array element; see: issue 11).
struct Counting<'c, R> {
    inner: R,
    pos: &'c Cell<u64>,
    mark: &'c Cell<u64>,
    max: u64,
}

impl<R: BufRead> io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos.get() - self.mark.get() > self.max {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("JSON document exceeds the {}-byte limit", self.max),
            ));
        }
        let n = self.inner.read(buf)?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

fn json_error(base: u64, e: &serde_json::Error) -> ParseError {
    let mut pe = ParseError::at_byte(base, format!("invalid JSON: {e}"));
    pe.line = e.line() as u64;
    pe
}

/// JSON lines, concatenated and pretty-printed objects, in one pass: lines
/// are gathered until they hold complete documents (a document can only end
/// on a line ending in `}` or `]`), so JSON lines cost one parse per line and
/// a syntax error costs one document: reading resumes at the next line that
/// starts with `{` (from the start when `resync`).
fn read_documents<R: BufRead>(
    mut r: R,
    base: u64,
    max_doc: usize,
    mut resync: bool,
    stats: &mut JsonStats,
    out: &mut dyn FnMut(Event),
    err: &mut dyn FnMut(ParseError),
) -> io::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_loc = Location::default();
    // Bytes of `pending_loc`'s line before the start of `pending`.
    let mut pending_col = 0u64;
    let mut line = Vec::new();
    let mut offset = base;
    let mut line_no = 0u64;
    loop {
        line.clear();
        let start = offset;
        let (len, too_long, eof) = read_line_bounded(&mut r, &mut line, max_doc)?;
        offset += len;
        if len == 0 && eof {
            break;
        }
        line_no += 1;
        let loc = Location {
            line: line_no,
            offset: start,
        };
        let trimmed = line.trim_ascii();
        if resync {
            if !trimmed.starts_with(b"{") {
                continue;
            }
            resync = false;
        }
        if too_long || pending.len() + line.len() > max_doc {
            stats.documents += 1;
            stats.errors += 1;
            let at = if pending.is_empty() { loc } else { pending_loc };
            err(ParseError::new(
                at,
                format!("JSON document exceeds the {max_doc}-byte limit, skipped"),
            ));
            pending.clear();
            resync = true;
            continue;
        }
        if trimmed.is_empty() && pending.is_empty() {
            continue;
        }
        if pending.is_empty() {
            pending_loc = loc;
            pending_col = 0;
        }
        pending.extend_from_slice(&line);
        pending.push(b'\n');
        if !(trimmed.ends_with(b"}") || trimmed.ends_with(b"]") || eof) {
            continue;
        }
        // Parse every complete document in `pending`; after a syntax error,
        // retry from the next line of `pending` that starts with `{`.
        loop {
            // Valid UTF-8 is checked once for the whole buffer rather than
            // string by string (`from_slice` checks each, `from_str` none).
            let (consumed, failed) = match std::str::from_utf8(&pending) {
                Ok(text) => parse_all(
                    serde_json::Deserializer::from_str(text).into_iter(),
                    pending_loc,
                    stats,
                    out,
                    err,
                ),
                Err(_) => parse_all(
                    serde_json::Deserializer::from_slice(&pending).into_iter(),
                    pending_loc,
                    stats,
                    out,
                    err,
                ),
            };
            let Some(e) = failed else {
                // The rest, if any, starts a document that goes on in the next lines.
                drain_front(&mut pending, &mut pending_loc, &mut pending_col, consumed);
                if pending.iter().all(u8::is_ascii_whitespace) {
                    pending.clear();
                }
                break;
            };
            // The documents before the error are done: retrying from the start
            // of `pending` would emit them again (see: issue 11).
            let parsed_from = pending_loc.line;
            drain_front(&mut pending, &mut pending_loc, &mut pending_col, consumed);
            if let Some(i) = pending.iter().position(|b| !b.is_ascii_whitespace())
                && (pending[i] == b',' || (pending[i] == b']' && stats.documents > 0))
            {
                // Hits pasted out of an array (`{..},\n{..}]`, seen in the
                // macOS Elastic Endpoint exports, and the rest of an array
                // after a skipped oversized element): a comma between
                // documents is a separator, a `]` after them closes the array.
                drain_front(&mut pending, &mut pending_loc, &mut pending_col, i + 1);
                continue;
            }
            // Blank lines before the failed document: locate it at its first line.
            let ws = pending
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            let blank = memchr::memrchr(b'\n', &pending[..ws]).map_or(0, |n| n + 1);
            drain_front(&mut pending, &mut pending_loc, &mut pending_col, blank);
            stats.documents += 1;
            stats.errors += 1;
            // Located at the document's first line; serde's line/column are
            // counted from where this parse started and stay in the message.
            let doc_line = (e.line() as u64).saturating_sub(pending_loc.line - parsed_from);
            err(ParseError::new(
                pending_loc,
                format!("invalid JSON (document line {doc_line}): {e}"),
            ));
            // Lines of `pending` after the first: find one that opens a document.
            let mut pos = memchr::memchr(b'\n', &pending).map_or(pending.len(), |i| i + 1);
            while pos < pending.len() {
                let end =
                    memchr::memchr(b'\n', &pending[pos..]).map_or(pending.len(), |i| pos + i + 1);
                if pending[pos..end].trim_ascii_start().starts_with(b"{") {
                    break;
                }
                pos = end;
            }
            if pos >= pending.len() {
                pending.clear();
                resync = true;
                break;
            }
            drain_front(&mut pending, &mut pending_loc, &mut pending_col, pos);
        }
        if eof {
            break;
        }
    }
    if !pending.iter().all(u8::is_ascii_whitespace) {
        stats.documents += 1;
        stats.errors += 1;
        err(ParseError::new(
            pending_loc,
            "truncated JSON document at end of input",
        ));
    }
    stats.bytes = offset;
    Ok(())
}

/// Converts the documents of `stream` (errors located at `loc`) up to the
/// end or the first syntax error. Returns the bytes consumed and that error.
fn parse_all<'a, R: serde_json::de::Read<'a>>(
    mut stream: serde_json::StreamDeserializer<'a, R, Node<'a>>,
    loc: Location,
    stats: &mut JsonStats,
    out: &mut dyn FnMut(Event),
    err: &mut dyn FnMut(ParseError),
) -> (usize, Option<serde_json::Error>) {
    let mut failed = None;
    for item in stream.by_ref() {
        match item {
            Ok(doc) => {
                stats.documents += 1;
                if let Err(m) = convert_node(&doc, out) {
                    stats.errors += 1;
                    err(ParseError::new(loc, m));
                }
            }
            Err(e) if e.is_eof() => break,
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    (stream.byte_offset(), failed)
}

/// Drops the first `n` bytes of `pending`, moving `loc` (the line where
/// `pending` starts, `col` bytes into it) past them.
fn drain_front(pending: &mut Vec<u8>, loc: &mut Location, col: &mut u64, n: usize) {
    let gone = &pending[..n];
    match memchr::memrchr(b'\n', gone) {
        Some(last) => {
            loc.line += memchr::memchr_iter(b'\n', gone).count() as u64;
            loc.offset += *col + last as u64 + 1;
            *col = (n - last - 1) as u64;
        }
        None => *col += n as u64,
    }
    pending.drain(..n);
}

struct ArrayVisitor<'a> {
    /// Bytes read so far, and where the current element started.
    pos: &'a Cell<u64>,
    mark: &'a Cell<u64>,
    stats: &'a mut JsonStats,
    out: &'a mut dyn FnMut(Event),
    err: &'a mut dyn FnMut(ParseError),
}

impl<'de> Visitor<'de> for ArrayVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of documents")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        while let Some(doc) = seq.next_element::<Node>()? {
            self.mark.set(self.pos.get());
            i += 1;
            self.stats.documents += 1;
            if let Err(m) = convert_node(&doc, self.out) {
                self.stats.errors += 1;
                (self.err)(ParseError::at_byte(0, format!("array element {i}: {m}")));
            }
        }
        Ok(())
    }
}

fn read_array<R: BufRead>(
    r: R,
    base: u64,
    max_doc: usize,
    stats: &mut JsonStats,
    out: &mut dyn FnMut(Event),
    err: &mut dyn FnMut(ParseError),
) -> io::Result<()> {
    let (pos, mark) = (Cell::new(0), Cell::new(0));
    let mut counting = Counting {
        inner: r,
        pos: &pos,
        mark: &mark,
        max: max_doc as u64,
    };
    let res = {
        let mut de = serde_json::Deserializer::from_reader(&mut counting);
        let visitor = ArrayVisitor {
            pos: &pos,
            mark: &mark,
            stats: &mut *stats,
            out: &mut *out,
            err: &mut *err,
        };
        (&mut de).deserialize_seq(visitor)
    };
    match res {
        Ok(()) => {}
        // An oversized element (see: issue 11): reported, and the rest of the
        // input is read as concatenated documents, which resync at the next `{` line.
        Err(e) if e.io_error_kind() == Some(io::ErrorKind::FileTooLarge) => {
            stats.documents += 1;
            stats.errors += 1;
            err(ParseError::at_byte(
                base + mark.get(),
                format!("array element: JSON document exceeds the {max_doc}-byte limit, skipped"),
            ));
            // Resync: the rest of the oversized element's line is not a document.
            return read_documents(
                counting.inner,
                base + pos.get(),
                max_doc,
                true,
                stats,
                out,
                err,
            );
        }
        Err(e) if e.is_io() => return Err(io::Error::other(e.to_string())),
        Err(e) => {
            stats.errors += 1;
            err(json_error(base, &e));
        }
    }
    stats.bytes = base + pos.get();
    Ok(())
}

/// Reads one line into `buf` (without `\n`), keeping at most `max` bytes.
/// Returns (bytes consumed, too long, end of input).
fn read_line_bounded<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(u64, bool, bool)> {
    let mut consumed = 0u64;
    let mut too_long = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, too_long, true));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let data = if done { take - 1 } else { take };
        if !too_long {
            if buf.len() + data > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&chunk[..data]);
            }
        }
        r.consume(take);
        consumed += take as u64;
        if done {
            return Ok((consumed, too_long, false));
        }
    }
}

/// JSON lines through the line-based [`Parser`] interface: one document per line.
#[derive(Debug, Default)]
pub struct JsonLinesParser;

impl Parser for JsonLinesParser {
    fn feed(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let doc: Node<'_> = serde_json::from_slice(line)
            .map_err(|e| ParseError::new(loc, format!("invalid JSON: {e}")))?;
        convert_node(&doc, out).map_err(|m| ParseError::new(loc, m))
    }

    fn flush(&mut self, _out: &mut dyn FnMut(Event)) {}
}

/// The line parser of a format that is not line based ([`crate::Format::Evtx`]).
#[derive(Debug, Default)]
pub struct NotLineBased;

impl Parser for NotLineBased {
    fn feed(
        &mut self,
        _line: &[u8],
        loc: Location,
        _out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError> {
        Err(ParseError::new(
            loc,
            "binary format: read it with sysmon::evtx::EvtxReader, not line by line",
        ))
    }

    fn flush(&mut self, _out: &mut dyn FnMut(Event)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<Event>, Vec<ParseError>) {
        let mut evs = Vec::new();
        let mut errs = Vec::new();
        read_json(
            io::BufReader::with_capacity(16, input),
            1 << 20,
            &mut |e| evs.push(e),
            &mut |e| errs.push(e),
        )
        .unwrap();
        (evs, errs)
    }

    const A: &str = r#"{"@timestamp":"2024-01-01T00:00:00Z","process":{"pid":1}}"#;
    const B: &str = r#"{"@timestamp":"2024-01-01T00:00:01Z","process":{"pid":2}}"#;

    #[test]
    fn framings() {
        let lines = format!("{A}\n\n{B}\n");
        let (e, x) = run(lines.as_bytes());
        assert_eq!((e.len(), x.len()), (2, 0));
        let arr = format!(" [\n{A},\n{B}\n]\n");
        let (e, x) = run(arr.as_bytes());
        assert_eq!((e.len(), x.len()), (2, 0));
        assert_eq!(e[1].process.pid, Some(2));
        let pretty = "{\n \"@timestamp\": \"2024-01-01T00:00:00Z\"\n}\n{\n \"event\": {}\n}";
        let (e, x) = run(pretty.as_bytes());
        assert_eq!((e.len(), x.len()), (2, 0));
        let concat = format!("{A}{B}");
        let (e, x) = run(concat.as_bytes());
        assert_eq!((e.len(), x.len()), (2, 0));
    }

    #[test]
    fn bad_lines_are_errors_and_the_rest_goes_on() {
        let input = format!("{A}\n{{\"broken\n{{\"x\":1}}\n{B}\n");
        let (e, x) = run(input.as_bytes());
        assert_eq!(e.len(), 2);
        assert_eq!(x.len(), 2);
        assert_eq!(x[0].line, 2);
        assert!(x[1].message.contains("unrecognized"), "{}", x[1].message);
    }

    // See: issue 11. After the comma between pasted hits, the parse that
    // failed on the closing `]` was retried from the start of the buffer and
    // emitted the last hit twice (and reported the `]` as invalid JSON).
    #[test]
    fn pasted_hits_ending_an_array_are_emitted_once() {
        let doc = |pid: u32| {
            format!(r#"{{"@timestamp":"2024-01-01T00:00:00Z","process":{{"pid":{pid}}}}}"#)
        };
        for (input, want) in [
            (format!("{},\n{}]", doc(2), doc(3)), &[2, 3][..]),
            (format!("{},\n{}]\n", doc(2), doc(3)), &[2, 3]),
            (
                format!("{},\n{},\n{}\n]\n", doc(1), doc(2), doc(3)),
                &[1, 2, 3],
            ),
            (format!("{}, {}]", doc(2), doc(3)), &[2, 3]),
        ] {
            let (e, x) = run(input.as_bytes());
            let pids: Vec<_> = e.iter().filter_map(|e| e.process.pid).collect();
            assert_eq!(pids, want, "{input:?}");
            assert!(x.is_empty(), "{input:?}: {x:?}");
        }
    }

    #[test]
    fn errors_after_pasted_hits_are_located_and_do_not_repeat_them() {
        let input = format!("{A},\n{B},\n{{\"broken\n{A}\n");
        let (e, x) = run(input.as_bytes());
        let pids: Vec<_> = e.iter().map(|e| e.process.pid).collect();
        assert_eq!(pids, [Some(1), Some(2), Some(1)]);
        assert_eq!(x.len(), 1, "{x:?}");
        assert_eq!(x[0].line, 3, "{x:?}");
        assert_eq!(x[0].offset, (A.len() + B.len() + 4) as u64, "{x:?}");
    }

    #[test]
    fn search_responses_unwrap() {
        let doc = format!(r#"{{"hits":{{"events":[{{"_source":{A}}},{{"_source":{B}}}]}}}}"#);
        let (e, x) = run(doc.as_bytes());
        assert_eq!((e.len(), x.len()), (2, 0));
    }

    #[test]
    fn unrecognized_first_documents() {
        let expect = br#"{
  "rules": {"fb91c4e7": "suspicious-tool"},
  "alerts": [{"rule": "x"}]
}"#;
        assert!(first_document_unrecognized(expect));
        assert!(first_document_unrecognized(
            b"\xEF\xBB\xBF [ {\"name\": 1}, {}]"
        ));
        assert!(first_document_unrecognized(b"[1, 2, 3]"));
        assert!(!first_document_unrecognized(A.as_bytes()));
        assert!(!first_document_unrecognized(
            format!("[{A},\n{B}]").as_bytes()
        ));
        // Undecided: a truncated first document, invalid JSON, nothing.
        assert!(!first_document_unrecognized(b"{\"rules\": {\"a\": "));
        assert!(!first_document_unrecognized(b"{broken}"));
        assert!(!first_document_unrecognized(b"[]"));
        assert!(!first_document_unrecognized(b""));
    }

    /// Every document: the [`Node`] path gives what [`convert`] gives for its `Value`.
    fn same_events(doc: &str) {
        let v: Value = serde_json::from_str(doc).unwrap();
        let n: Node<'_> = serde_json::from_str(doc).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ra = convert(&v, &mut |e| a.push(e));
        let rb = convert_node(&n, &mut |e| b.push(e));
        assert_eq!(ra, rb, "{doc}");
        assert_eq!(a, b, "{doc}");
    }

    #[test]
    fn node_path_equals_value_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata");
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("sysmon/json"),
            root.join("macos"),
            root.join("ecs"),
        ];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "json" || x == "jsonl") {
                    files.push(p);
                }
            }
        }
        let mut docs = 0;
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            for item in serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>() {
                let Ok(doc) = item else { break };
                let elems = match doc {
                    Value::Array(a) => a,
                    d => vec![d],
                };
                for d in elems {
                    same_events(&d.to_string());
                    docs += 1;
                }
            }
        }
        assert!(docs > 50, "{docs} documents in {files:?}");
        // Repeated keys, escapes, placeholders, the shapes checked before these two.
        for doc in [
            r#"{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","Image":"a","Image":"C:\\b.exe","ProcessId":"7","ProcessID":4,"ProcessID":5,"ProcessGuid":"{X}","ProcessGUID":"{Y}"}"#,
            r#"{"EventID":"0x10","Hostname":"h","Level":null,"Severity":"INFO","Opcode":1,"OpcodeValue":null,"User":"D\\u","n":1.5,"b":true,"o":{"x":[1]},"a":[1,"x"]}"#,
            r#"{"EventID":4688,"Channel":"Security","Id":1,"ProviderName":"p","LogName":"Security"}"#,
            r#"{"EventID":1,"Channel":"c","Event":{"System":{"EventID":1}}}"#,
            r#"{"EventID":1,"Channel":"c","hits":{"hits":[]}}"#,
            r#"{"EventID":1,"Channel":"c","eventMessage":"m","processImagePath":"/x"}"#,
            r#"{"@timestamp":"2024-01-01T00:00:00Z","winlog":{"event_id":"1","channel":"Microsoft-Windows-Sysmon/Operational","event_data":{"Image":"x","Image":"y"},"user_data":{"Image":"z"},"process":{"pid":1,"thread":{"id":2}}},"winlog":{"event_id":3,"provider_name":"Microsoft-Windows-Sysmon","event_data":{"DestinationIp":"1.2.3.4","Initiated":"true"}},"host":{"name":"h","os":{"build":"1","name":"w"},"ip":["1.2.3.4"]},"process":{"pid":"x","args":[1,"a"],"parent":{}},"labels":{"a":{"b":1}},"tags":"t","log":{"level":"info"}}"#,
            r#"{"winlog":[],"EventID":1,"Hostname":"h"}"#,
            r#"{"winlog":{},"Id":1,"ProviderName":"p","Properties":[]}"#,
            r#"{"EventID":1}"#,
            r#"[{"EventID":1,"Hostname":"h"},{"_source":{"EventID":2,"Hostname":"h"}}]"#,
            r#"{}"#,
            r#"1"#,
        ] {
            same_events(doc);
        }
    }

    #[test]
    fn detection() {
        assert!(looks_like_json(b"\xEF\xBB\xBF  {\"a\":1}"));
        assert!(looks_like_json(b"\n[{}]"));
        assert!(!looks_like_json(b"type=SYSCALL msg=audit(1:2): a=1"));
    }
}
