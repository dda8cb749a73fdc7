//! Raw `.evtx` files (Windows XML EventLog) through the `evtx` crate.
//!
//! The parser reads the file chunk by chunk (64 KiB each) from any
//! `Read + Seek`, so memory stays bounded whatever the file size. Each chunk's
//! records are rendered to `evtx_dump`'s JSON shape by the crate's chunk
//! renderer (the one `evtx_dump` itself uses: compiled template programs run
//! straight on each record's BinXML, into one buffer per chunk) and read as
//! [`shapes::from_evtx_json`](super::shapes::from_evtx_json) reads an
//! `evtx_dump` export, so a raw file and its export give the same events.
//!
//! # Performance
//!
//! The crate (0.15) exposes no parsed tree below its JSON and XML renderers
//! (its IR and token walker are crate-private; `EvtxRecord::template_instances`
//! gives the substitution values without the template's names), so JSON stays
//! the interface. Its chunk renderer skips the per-record content build and
//! the per-record `Vec` of `records_json_bytes`.
//!
//! Building a `serde_json::Value` tree of each record (a map per element, a
//! `String` per key) and then copying it into a [`WinEvent`] cost more than
//! the crate's rendering itself. The common record (a `System` block and an
//! `EventData` of named scalars) is therefore read straight from the rendered
//! bytes by a small strict reader of the JSON subset the renderer writes
//! (strings, integers, booleans, null, objects): `EventData` pairs go into the
//! [`WinEvent`] as they are read, and of the `System` block only the scalar
//! children and the wanted attributes become (scalar) `Value`s, read with
//! `from_evtx_json`'s rules. Anything else (`UserData`, `RenderingInfo`,
//! unnamed `Data`, nested or non-integer values, repeated names, a non-object
//! where an object belongs, bytes that are not JSON) takes the `Value` path; a
//! test compares both paths on every corpus record. The event is then built by
//! [`ecs::build_owned`], which moves the strings instead of copying them.
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

use std::borrow::Cow;
use std::io::{Read, Seek};

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings, RenderedChunkItem};

use serde_json::Value;

use super::{WinEvent, ecs, shapes};
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
        // The chunk renderer `evtx_dump` uses: each record straight from its
        // BinXML through the compiled template program, into one buffer per
        // chunk. `records_json_bytes` first builds every record's content
        // (validated substitution values) and then renders it into a `Vec`
        // of its own.
        for chunk in self.parser.chunks_json_bytes(false) {
            let mut start = 0;
            for item in &chunk.items {
                let (record_id, json) = match item {
                    RenderedChunkItem::Record {
                        event_record_id,
                        end,
                    } => {
                        // Each record's bytes end with `\n`.
                        let json = chunk.data.get(start..end.saturating_sub(1));
                        start = *end;
                        (*event_record_id, json.unwrap_or_default())
                    }
                    RenderedChunkItem::Failed(e) => {
                        stats.errors += 1;
                        err(to_parse_error(e));
                        continue;
                    }
                };
                match win_event(json) {
                    Ok(Some(w)) => {
                        stats.records += 1;
                        out(ecs::build_owned(w));
                    }
                    Ok(None) => {
                        stats.errors += 1;
                        err(ParseError::record(record_id, "record has no System block"));
                    }
                    Err(e) => {
                        stats.errors += 1;
                        err(ParseError::record(
                            record_id,
                            format!("record rendered to invalid JSON: {e}"),
                        ));
                    }
                }
            }
        }
        stats
    }
}

/// One rendered record (`evtx_dump`'s JSON shape) as a [`WinEvent`]; `None`
/// when it has no `System` block. Same result as
/// [`shapes::from_evtx_json`] on the parsed `Value` (see the module docs).
///
/// # Errors
/// The bytes are not JSON.
pub fn win_event(json: &[u8]) -> Result<Option<WinEvent>, serde_json::Error> {
    if let Some(w) = direct(json) {
        return Ok(w);
    }
    let doc: Value = serde_json::from_slice(json)?;
    Ok(shapes::from_evtx_json(&doc))
}

/// The direct read: `None` when the record needs the `Value` path (an
/// uncommon shape, or bytes that are not JSON, for which the `Value` path
/// gives the error). It accepts a subset of JSON (integers only, no nesting
/// deeper than [`MAX_DEPTH`]), so whatever it reads, `serde_json` reads the
/// same way.
fn direct(json: &[u8]) -> Option<Option<WinEvent>> {
    // Checked once here (`serde_json` rejects invalid UTF-8 in strings, and
    // any non-ASCII byte outside one is a syntax error anyway).
    let s = std::str::from_utf8(json).ok()?;
    let mut parts = Parts::default();
    let mut sc = Scan { s, b: json, i: 0 };
    let mut event_seen = false;
    sc.object(|sc, k| {
        if !sc.first(&k, "Event", &mut event_seen, 1)? {
            return Some(());
        }
        sc.object(|sc, k| match &*k {
            "System" if !parts.has_system => {
                parts.has_system = true;
                system(sc, &mut parts)
            }
            "EventData" if !parts.has_event_data => {
                parts.has_event_data = true;
                // `null`: no data, for the `Value` path too.
                if sc.peek()? == b'n' {
                    return (sc.scalar()? == Scalar::Null).then_some(());
                }
                event_data(sc, &mut parts.event_data)
            }
            "System" | "EventData" | "UserData" | "RenderingInfo" => None,
            _ => sc.skip(2),
        })
    })?;
    sc.ws();
    if sc.i != json.len() {
        return None;
    }
    if !parts.has_system {
        return Some(None);
    }
    let mut w = parts.system();
    w.event_data = parts.event_data;
    Some(Some(w))
}

/// The `System` block: its scalar children as `Value`s, the wanted attributes
/// of `Provider`, `TimeCreated`, `Execution`, `Security`; a repeated child
/// (where the `Value` path keeps the last one) or a nested value goes to the
/// `Value` path.
fn system(sc: &mut Scan<'_>, parts: &mut Parts) -> Option<()> {
    sc.object(|sc, k| {
        let Some(i) = SYSTEM_KEYS.iter().position(|n| *n == k) else {
            return sc.skip(3);
        };
        if parts.seen & (1 << i) != 0 {
            return None;
        }
        parts.seen |= 1 << i;
        if i < FIRST_ATTR_ELEMENT {
            parts.scalars[i] = Some(sc.scalar()?.into_value());
            return Some(());
        }
        // `{"#attributes": {...}, ...}`: the wanted attributes as `Value`s.
        // Anything but an object (Windows writes `"Security": null`) has no
        // attributes, for the `Value` path too.
        if sc.peek()? != b'{' {
            return sc.skip(3);
        }
        let element = SYSTEM_KEYS[i];
        let mut has_attributes = false;
        sc.object(|sc, k| {
            if !sc.first(&k, "#attributes", &mut has_attributes, 4)? {
                return Some(());
            }
            if sc.peek()? != b'{' {
                return sc.skip(4);
            }
            sc.object(|sc, k| {
                let slot = SYSTEM_ATTRS
                    .iter()
                    .position(|(e, a)| *e == element && *a == k);
                match slot {
                    Some(j) if parts.attrs[j].is_none() => {
                        parts.attrs[j] = Some(sc.scalar()?.into_value());
                        Some(())
                    }
                    Some(_) => None,
                    None => sc.skip(5),
                }
            })
        })
    })
}

/// `{"Name": scalar, ...}`: `#…` keys skipped; unnamed `Data`, nested values,
/// floats and repeated names go to the `Value` path.
fn event_data(sc: &mut Scan<'_>, out: &mut Vec<(String, String)>) -> Option<()> {
    sc.object(|sc, k| {
        if k.starts_with('#') {
            return sc.skip(3);
        }
        if k == "Data" || out.iter().any(|(n, _)| *n == k) {
            return None;
        }
        let text = match sc.scalar()? {
            Scalar::Str(s) => s.into_owned(),
            Scalar::Int(_, t) => t.to_owned(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => String::new(),
        };
        out.push((k.into_owned(), text));
        Some(())
    })
}

/// The `System` children read (bit i of `Parts::seen`), in this order.
const SYSTEM_KEYS: [&str; 13] = [
    "EventID",
    "Version",
    "Level",
    "Task",
    "Opcode",
    "Keywords",
    "EventRecordID",
    "Channel",
    "Computer",
    "Provider",
    "TimeCreated",
    "Execution",
    "Security",
];
/// The first element of `SYSTEM_KEYS` whose value is read from `#attributes`.
const FIRST_ATTR_ELEMENT: usize = 9;
/// `(element, attribute)` read from the elements' `#attributes`.
const SYSTEM_ATTRS: [(&str, &str); 7] = [
    ("Provider", "Name"),
    ("Provider", "EventSourceName"),
    ("Provider", "Guid"),
    ("TimeCreated", "SystemTime"),
    ("Execution", "ProcessID"),
    ("Execution", "ThreadID"),
    ("Security", "UserID"),
];
/// What the direct read collected.
#[derive(Default)]
struct Parts {
    has_system: bool,
    has_event_data: bool,
    /// Values of `SYSTEM_KEYS[..FIRST_ATTR_ELEMENT]`.
    scalars: [Option<Value>; FIRST_ATTR_ELEMENT],
    /// Values of `SYSTEM_ATTRS`.
    attrs: [Option<Value>; 7],
    /// `System` children seen (bit i: `SYSTEM_KEYS[i]`).
    seen: u32,
    event_data: Vec<(String, String)>,
}

impl Parts {
    /// The `System` fields, exactly as `shapes::from_evtx_json` reads them.
    fn system(&mut self) -> WinEvent {
        fn str_of(v: Option<Value>) -> Option<String> {
            match v? {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        }
        use super::shapes::int_of;
        let [
            event_id,
            version,
            level,
            task,
            opcode,
            keywords,
            record_id,
            channel,
            computer,
        ] = std::mem::take(&mut self.scalars);
        let [name, source_name, guid, time, pid, tid, user] = std::mem::take(&mut self.attrs);
        WinEvent {
            provider_name: str_of(name).or_else(|| str_of(source_name)),
            provider_guid: str_of(guid),
            event_id: int_of(event_id.as_ref()).and_then(|i| u32::try_from(i).ok()),
            version,
            level,
            task,
            opcode,
            keywords,
            record_id: int_of(record_id.as_ref()).and_then(|i| u64::try_from(i).ok()),
            channel: str_of(channel),
            computer: str_of(computer),
            time_created_ns: str_of(time).and_then(|s| ecs::parse_rfc3339(&s)),
            process_id: int_of(pid.as_ref()),
            thread_id: int_of(tid.as_ref()),
            user_sid: str_of(user),
            ..Default::default()
        }
    }
}

/// Values nested deeper than this go to the `Value` path (`serde_json`
/// stops at 128).
const MAX_DEPTH: u32 = 64;

/// A JSON scalar the direct read takes.
#[derive(PartialEq)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// An integer `serde_json` reads as one, and its text (canonical: JSON
    /// allows no leading zeros or `+`, so it is what `Number::to_string` gives).
    Int(Value, &'a str),
    Bool(bool),
    Null,
}

impl Scalar<'_> {
    fn into_value(self) -> Value {
        match self {
            Scalar::Str(s) => Value::String(s.into_owned()),
            Scalar::Int(v, _) => v,
            Scalar::Bool(b) => Value::Bool(b),
            Scalar::Null => Value::Null,
        }
    }
}

/// A strict reader of the JSON subset the direct read takes; every method
/// returns `None` at anything else (the caller then takes the `Value` path).
struct Scan<'a> {
    /// The text being read, valid UTF-8 ...
    s: &'a str,
    /// ... and its bytes.
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace (not consumed).
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// An object: `f(self, key)` reads each value.
    fn object(&mut self, mut f: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.items(b'}', |sc| {
            let k = sc.string()?;
            sc.eat(b':')?;
            f(sc, k)
        })
    }

    /// The items of an object or array up to its `close` byte, each read by
    /// `item` (the opening byte has been read).
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// For an object's key `k` whose value is read only under `name`, which
    /// the `Value` path takes the last of: `Some(true)` the first time `k` is
    /// `name` (`seen` remembers it), `None` the second time, and for any other
    /// key `Some(false)` once its value is skipped (`depth` as in `skip`).
    fn first(&mut self, k: &str, name: &str, seen: &mut bool, depth: u32) -> Option<bool> {
        if k != name {
            self.skip(depth)?;
            return Some(false);
        }
        (!std::mem::replace(seen, true)).then_some(true)
    }

    /// Skips a value (`depth`: the objects and arrays it is in).
    fn skip(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'{' if depth < MAX_DEPTH => self.object(|sc, _| sc.skip(depth + 1)),
            b'[' if depth < MAX_DEPTH => {
                self.i += 1;
                self.items(b']', |sc| sc.skip(depth + 1))
            }
            b'{' | b'[' => None,
            _ => self.scalar().map(drop),
        }
    }

    /// A string, a bool, null or an integer; `None` at anything else.
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        let (word, v): (&[u8], _) = match self.peek()? {
            b'"' => return self.string().map(Scalar::Str),
            b't' => (b"true", Scalar::Bool(true)),
            b'f' => (b"false", Scalar::Bool(false)),
            b'n' => (b"null", Scalar::Null),
            _ => return self.int(),
        };
        self.b[self.i..].starts_with(word).then(|| {
            self.i += word.len();
            v
        })
    }

    /// An integer as `serde_json` reads it (`u64`, or a negative `i64`);
    /// `None` for fractions, exponents, `-0` and out-of-range integers, which
    /// it reads as floats, and for what is not a JSON number.
    fn int(&mut self) -> Option<Scalar<'a>> {
        let start = self.i;
        let neg = self.b.get(self.i) == Some(&b'-');
        let digits = start + usize::from(neg);
        let mut end = digits;
        while let Some(b'0'..=b'9') = self.b.get(end) {
            end += 1;
        }
        let first = *self.b.get(digits)?;
        if end == digits
            || (first == b'0' && end - digits > 1)
            || matches!(self.b.get(end), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        // ASCII digits and `-`.
        let text = self.s.get(start..end)?;
        let v = if neg {
            Value::from(text.parse::<i64>().ok().filter(|n| *n != 0)?)
        } else {
            Value::from(text.parse::<u64>().ok()?)
        };
        self.i = end;
        Some(Scalar::Int(v, text))
    }

    /// A string, borrowed when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let end = special(self.b, start);
        self.i = end;
        match *self.b.get(end)? {
            b'"' => {
                self.i += 1;
                // `"` is ASCII: a character boundary.
                self.s.get(start..end).map(Cow::Borrowed)
            }
            b'\\' => self.escaped(start),
            _ => None,
        }
    }

    /// The rest of a string that has escapes (`start`: its first byte; the
    /// reader is at the first `\`).
    fn escaped(&mut self, start: usize) -> Option<Cow<'a, str>> {
        let mut out = String::with_capacity(self.i - start + 16);
        let mut run = start;
        loop {
            // At the end of a run of plain bytes (`b[run..i]`); what ends it:
            let end = special(self.b, run);
            out.push_str(self.s.get(run..end)?);
            self.i = end + 1;
            match *self.b.get(end)? {
                b'"' => return Some(Cow::Owned(out)),
                b'\\' => {}
                _ => return None,
            }
            let e = *self.b.get(self.i)?;
            self.i += 1;
            let plain = match e {
                b'"' | b'\\' | b'/' => char::from(e),
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            };
            out.push(plain);
            run = self.i;
        }
    }

    /// `XXXX` after `\u` (and a `\uXXXX` low surrogate after a high one);
    /// `None` for a lone surrogate, which `serde_json` rejects.
    fn unicode_escape(&mut self) -> Option<char> {
        let hi = self.hex4()?;
        if !(0xD800..0xDC00).contains(&hi) {
            return char::from_u32(hi);
        }
        if self.b.get(self.i..self.i + 2)? != b"\\u" {
            return None;
        }
        self.i += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &c in h {
            v = v * 16 + char::from(c).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }
}

/// The index of the first `"`, `\` or control character (which JSON strings
/// must escape) in `b[i..]`, or `b.len()`. Eight bytes at a time, as
/// `serde_json` scans strings.
fn special(b: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(word) = b.get(i..i + 8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let quote = w ^ (LO * u64::from(b'"'));
        let backslash = w ^ (LO * u64::from(b'\\'));
        // The high bit of each byte that is zero / below 0x20 (bytes above
        // the first such one may be flagged wrongly; only the first is used).
        let hits = (quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (w.wrapping_sub(LO * 0x20) & !w);
        if hits & HI != 0 {
            return i + (hits & HI).trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct read against the `Value` path, on shapes the corpus may lack.
    #[test]
    fn direct_read_matches_value_path_on_odd_shapes() {
        let sys = r##""System":{"Provider":{"#attributes":{"Name":"P"}},"EventID":{"#attributes":{"Qualifiers":0},"#text":4688},"Channel":"Security","Computer":"h","TimeCreated":{"#attributes":{"SystemTime":"2020-01-01T00:00:00.5Z"}}}"##;
        let cases = [
            r##"{"Event":{SYS,"EventData":{"A":"x","B":7,"C":true,"D":null,"#attributes":{"k":1}}}}"##,
            r##"{"Event":{SYS,"EventData":{"Data":["a","b"]}}}"##,
            r##"{"Event":{SYS,"EventData":{"Data":{"#text":"a"}}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":1.5}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":{"#text":"x"}}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"1","A":"2"}}}"##,
            r##"{"Event":{SYS,"EventData":null}}"##,
            r##"{"Event":{SYS,"EventData":"text"}}"##,
            r##"{"Event":{SYS,"UserData":{"X":{"Y":"z"}}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"1"},"RenderingInfo":{"Message":"m"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A\u0041":"\"q\""}}}"##,
            r##"{"Event":{SYS,SYS}}"##,
            r##"{"Event":{"System":{"EventID":"0x10","EventID":5}}}"##,
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"a"},"#attributes":{"Guid":"g"}}}}}"##,
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"a","Name":"b"}}}}}"##,
            r##"{"Event":{"System":{"Provider":"x","Execution":{"#attributes":null},"Channel":7}}}"##,
            r##"{"Event":{"System":{"Provider":{"#attributes":{"EventSourceName":"s"}},"EventRecordID":"12","Execution":{"#attributes":{"ProcessID":"0x10","ThreadID":-1}}}}}"##,
            r##"{"Event":{"System":{"EventID":{"#text":"7"},"EventRecordID":18446744073709551615,"Security":{"#attributes":{}}}}}"##,
            r##"{"Event":{"System":[1]}}"##,
            r##"{"Event":{"System":{"TimeCreated":{"#attributes":{"SystemTime":"bogus"}},"Computer":true}}}"##,
            r##"{"Event":{"EventData":{"A":"1"}}}"##,
            r##"{"Event":[1,2]}"##,
            r##"[1]"##,
            r##"{"Other":1}"##,
            // The direct reader's JSON: whitespace, escapes, numbers, nesting.
            " {\"Event\" : { SYS , \"EventData\" :\n{\"A\":\t\"x\" ,\"B\":-7 } } } \r\n",
            r##"{"Event":{SYS,"EventData":{"A":"C:\\Windows\\x.exe","B":"\u00e9\u20ac\ud83d\ude00 \/\b\f\n\r\t","C":"é€😀"}}}"##,
            r##"{"Event":{SYS,"EventData":{"\u0041":"\u0000"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"\ud83d"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"\ude00"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"\ud83d\u0041"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"\x"}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"\u12"}}}"##,
            "{\"Event\":{SYS,\"EventData\":{\"A\":\"a\tb\"}}}",
            "{\"Event\":{SYS,\"EventData\":{\"A\":\"a\u{7f}b\"}}}",
            r##"{"Event":{SYS,"EventData":{"A":-0,"B":0}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":007}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":1e5,"B":2E-1}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":18446744073709551615,"B":-9223372036854775808}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":18446744073709551616}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":-9223372036854775809}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":-}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":tru}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":nullx}}}"##,
            r##"{"Event":{SYS,"EventData":{"A":"1",}}}"##,
            r##"{"Event":{SYS,"EventData":{"A" "1"}}}"##,
            r##"{"Event":{SYS,"EventData":{,}}}"##,
            r##"{"Event":{SYS,"X":[1,{"y":[true,null,"s",-2]},[]],"EventData":{}}}"##,
            r##"{"Event":{SYS,"X":[1 2]}}"##,
            r##"{"Event":{SYS,"X":[1,]}}"##,
            r##"{"Event":{SYS,"X":1.5}}"##,
            r##"{"Event":{"System":{"EventID":1,"Correlation":{"#attributes":{"ActivityID":"{A}"}},"Keywords":"0x8000000000000000","Level":4,"Version":5}}}"##,
            r##"{"Event":{SYS},"Event":{SYS}}"##,
            r##"{"Event":{"System":{"Security":null,"Execution":{"#attributes":[1,{}]},"Provider":[{"#attributes":{"Name":"p"}}]}}}"##,
            r##"{"Event":{"System":{"Security":nul}}}"##,
            r##"{"Event":{"System":{"Security":{"#attributes":"x","#attributes":{"UserID":"S"}}}}}"##,
            r##"{"Event":{SYS,"EventData":nul}}"##,
            r##"{"Event":{SYS,"EventData":null,"EventData":{"A":"1"}}}"##,
            "{\"Event\":{SYS}}\u{0}",
            "{\"Event\":{SYS,\"EventData\":{\"A\":\"\u{e9}\"}}}",
        ];
        let deep = format!(
            "{{\"Event\":{{{sys},\"X\":{}1{}}}}}",
            "[".repeat(100),
            "]".repeat(100)
        );
        let deeper = format!(
            "{{\"Event\":{{{sys},\"X\":{}1{}}}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let cases = cases
            .iter()
            .map(|c| c.replace("SYS", sys))
            .chain([deep, deeper]);
        for c in cases {
            match serde_json::from_str::<Value>(&c) {
                Ok(doc) => assert_eq!(
                    win_event(c.as_bytes()).unwrap_or_else(|e| panic!("{c}: {e}")),
                    shapes::from_evtx_json(&doc),
                    "{c}"
                ),
                Err(_) => assert!(win_event(c.as_bytes()).is_err(), "{c}"),
            }
        }
        assert!(win_event(b"{\"Event\":").is_err());
        assert!(win_event(b"{} x").is_err());
        // Invalid UTF-8 inside a string, and outside one.
        assert!(win_event(b"{\"Event\":{\"EventData\":{\"A\":\"\xff\"}}}").is_err());
        assert!(win_event(b"{\"Event\":{\"EventData\":{\"A\":1}}}\xff").is_err());
        // Every prefix of a record is an error, never a panic.
        let whole =
            format!("{{\"Event\":{{{sys},\"EventData\":{{\"A\":\"\\u00e9x\",\"B\":12}}}}}}");
        for n in 0..whole.len() {
            assert!(win_event(&whole.as_bytes()[..n]).is_err(), "{n}");
        }
        assert!(win_event(whole.as_bytes()).unwrap().is_some());
    }

    /// `special` finds the first `"`, `\` or control byte at every position
    /// of an 8-byte word and in the tail.
    #[test]
    fn special_finds_the_first_escape_byte() {
        for len in 0..20 {
            for at in 0..=len {
                for c in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                    // Non-ASCII, space and plain bytes before `at`, non-ASCII after.
                    let mut b: Vec<u8> = (0..len)
                        .map(|i| match i {
                            i if i > at => 0xe9,
                            i => [0xe9, b' ', b'a', 0x7f][i % 4],
                        })
                        .collect();
                    if at < len {
                        b[at] = c;
                    }
                    for from in 0..=at {
                        assert_eq!(special(&b, from), at, "{len} {at} {c} {from}");
                    }
                }
            }
        }
        assert_eq!(special("é\"".as_bytes(), 0), 2);
        assert_eq!(special(b" !#[]~\x7f\x80\xff", 0), 9);
    }
}
