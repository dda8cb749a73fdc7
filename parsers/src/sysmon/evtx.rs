//! Raw `.evtx` files (Windows XML EventLog) through the `evtx` crate.
//!
//! The parser reads the file chunk by chunk (64 KiB each) from any
//! `Read + Seek`, so memory stays bounded whatever the file size. Each record
//! is rendered to `evtx_dump`'s JSON shape (the crate's cheapest output: its
//! compiled-template JSON renderer) and read as
//! [`shapes::from_evtx_json`](super::shapes::from_evtx_json) reads an
//! `evtx_dump` export, so a raw file and its export give the same events.
//!
//! # Performance
//!
//! Building a `serde_json::Value` tree of each record (a map per element, a
//! `String` per key) and then copying it into a [`WinEvent`] cost more than
//! the crate's rendering itself. The common record (a `System` block and an
//! `EventData` of named scalars) is therefore read straight from the rendered
//! bytes: `EventData` pairs go into the [`WinEvent`] as they are parsed, and
//! of the `System` block only the scalar children and the wanted attributes
//! become (scalar) `Value`s, read with `from_evtx_json`'s rules. Anything
//! else (`UserData`, `RenderingInfo`, unnamed `Data`, nested or non-integer
//! values, repeated names, a non-object where an object belongs) takes the
//! `Value` path; a test compares both paths on every corpus record. The event is then built by
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

use std::io::{Read, Seek};

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::{WinEvent, ecs, shapes, value_text};
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
                Ok(r) => match win_event(&r.data) {
                    Ok(Some(w)) => {
                        stats.records += 1;
                        out(ecs::build_owned(w));
                    }
                    Ok(None) => {
                        stats.errors += 1;
                        err(ParseError::record(
                            r.event_record_id,
                            "record has no System block",
                        ));
                    }
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

/// One rendered record (`evtx_dump`'s JSON shape) as a [`WinEvent`]; `None`
/// when it has no `System` block. Same result as
/// [`shapes::from_evtx_json`] on the parsed `Value` (see the module docs).
///
/// # Errors
/// The bytes are not JSON.
pub fn win_event(json: &[u8]) -> Result<Option<WinEvent>, serde_json::Error> {
    let mut parts = Parts::default();
    let mut de = serde_json::Deserializer::from_slice(json);
    Root(&mut parts).deserialize(&mut de)?;
    de.end()?;
    if parts.fallback {
        let doc: Value = serde_json::from_slice(json)?;
        return Ok(shapes::from_evtx_json(&doc));
    }
    if !parts.has_system {
        return Ok(None);
    }
    let mut w = parts.system();
    w.event_data = parts.event_data;
    Ok(Some(w))
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
/// What the direct read collected; `fallback` when the record needs the
/// `Value` path.
#[derive(Default)]
struct Parts {
    has_system: bool,
    /// Values of `SYSTEM_KEYS[..FIRST_ATTR_ELEMENT]`.
    scalars: [Option<Value>; FIRST_ATTR_ELEMENT],
    /// Values of `SYSTEM_ATTRS`.
    attrs: [Option<Value>; 7],
    /// `System` children seen (bit i: `SYSTEM_KEYS[i]`), and `#attributes`
    /// seen in the attribute elements (bit 16 + i).
    seen: u32,
    /// The attribute element being read (an index into `SYSTEM_KEYS`).
    element: usize,
    event_data: Vec<(String, String)>,
    fallback: bool,
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
        let event_id = event_id.as_ref().map(|v| match v {
            Value::Object(m) => m.get("#text").unwrap_or(v),
            _ => v,
        });
        WinEvent {
            provider_name: str_of(name).or_else(|| str_of(source_name)),
            provider_guid: str_of(guid),
            event_id: int_of(event_id).and_then(|i| u32::try_from(i).ok()),
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

    /// Gives up on the direct read (the caller re-reads the record as a
    /// `Value`); skips the rest of `map`, whose last value has been read.
    fn bail<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        self.fallback = true;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_string().into()))
            }
        }
        d.deserialize_str(V)
    }
}

/// Runs `f` on a JSON object, or sets `fallback` and skips any other value.
macro_rules! object_visitor {
    ($name:ident, |$parts:ident, $map:ident| $body:block) => {
        struct $name<'p>(&'p mut Parts);
        impl<'de> DeserializeSeed<'de> for $name<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.deserialize_any(self)
            }
        }
        impl<'de> Visitor<'de> for $name<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<(), A::Error> {
                let $parts = self.0;
                $body
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                self.0.fallback = true;
                Ok(())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                self.0.fallback = true;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(())
            }
        }
    };
}

// `{"Event": {...}}`; other top-level keys are ignored, as `from_evtx_json` does.
object_visitor!(Root, |parts, map| {
    while let Some(k) = map.next_key::<Key>()? {
        if k.0 == "Event" {
            map.next_value_seed(EventSeed(parts))?;
        } else {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok(())
});

// `{"System": {...}, "EventData": {...}}`.
object_visitor!(EventSeed, |parts, map| {
    while let Some(k) = map.next_key::<Key>()? {
        match &*k.0 {
            "System" if !parts.has_system => {
                parts.has_system = true;
                map.next_value_seed(SystemSeed(parts))?;
            }
            "EventData" if parts.event_data.is_empty() => {
                map.next_value_seed(EventDataSeed(parts))?;
            }
            "System" | "EventData" | "UserData" | "RenderingInfo" => {
                map.next_value::<IgnoredAny>()?;
                return parts.bail(map);
            }
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
});

// The `System` block: its scalar children as `Value`s, the wanted attributes
// of `Provider`, `TimeCreated`, `Execution`, `Security`; a repeated child
// (where the `Value` path keeps the last one) goes to the `Value` path.
object_visitor!(SystemSeed, |parts, map| {
    while let Some(k) = map.next_key::<Key>()? {
        let Some(i) = SYSTEM_KEYS.iter().position(|n| *n == k.0) else {
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        if parts.seen & (1 << i) != 0 {
            map.next_value::<IgnoredAny>()?;
            return parts.bail(map);
        }
        parts.seen |= 1 << i;
        if i < FIRST_ATTR_ELEMENT {
            parts.scalars[i] = Some(map.next_value()?);
        } else {
            parts.element = i;
            map.next_value_seed(AttrElement(parts))?;
        }
    }
    Ok(())
});

// `{"#attributes": {...}, ...}` of one `System` child.
object_visitor!(AttrElement, |parts, map| {
    while let Some(k) = map.next_key::<Key>()? {
        if k.0 != "#attributes" {
            map.next_value::<IgnoredAny>()?;
            continue;
        }
        let bit = 1 << (16 + parts.element);
        if parts.seen & bit != 0 {
            map.next_value::<IgnoredAny>()?;
            return parts.bail(map);
        }
        parts.seen |= bit;
        map.next_value_seed(Attributes(parts))?;
    }
    Ok(())
});

// The attributes themselves: the wanted ones as `Value`s.
object_visitor!(Attributes, |parts, map| {
    let element = SYSTEM_KEYS[parts.element];
    while let Some(k) = map.next_key::<Key>()? {
        let slot = SYSTEM_ATTRS
            .iter()
            .position(|(e, a)| *e == element && *a == k.0);
        match slot {
            Some(j) if parts.attrs[j].is_none() => parts.attrs[j] = Some(map.next_value()?),
            Some(_) => {
                map.next_value::<IgnoredAny>()?;
                return parts.bail(map);
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
});

// `{"Name": scalar, ...}`: `#…` keys skipped; unnamed `Data`, nested values,
// floats and repeated names go to the `Value` path.
object_visitor!(EventDataSeed, |parts, map| {
    while let Some(k) = map.next_key::<Key>()? {
        if k.0.starts_with('#') {
            map.next_value::<IgnoredAny>()?;
            continue;
        }
        let v: Value = map.next_value()?;
        let plain = match &v {
            Value::Object(_) | Value::Array(_) => false,
            Value::Number(n) => !n.is_f64(),
            _ => true,
        };
        if !plain || k.0 == "Data" || parts.event_data.iter().any(|(n, _)| n.as_str() == &*k.0) {
            return parts.bail(map);
        }
        let text = match v {
            Value::String(s) => s,
            other => value_text(&other),
        };
        parts.event_data.push((k.0.into_owned(), text));
    }
    Ok(())
});

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
        ];
        for c in cases {
            let c = c.replace("SYS", sys);
            let doc: Value = serde_json::from_str(&c).unwrap_or_else(|e| panic!("{c}: {e}"));
            assert_eq!(
                win_event(c.as_bytes()).unwrap_or_else(|e| panic!("{c}: {e}")),
                shapes::from_evtx_json(&doc),
                "{c}"
            );
        }
        assert!(win_event(b"{\"Event\":").is_err());
        assert!(win_event(b"{} x").is_err());
    }
}
