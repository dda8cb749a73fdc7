//! The raw auditd fields of an event (`auditd.data.*`, `auditd.records`) in
//! compact form: one text buffer with every record's type, keys and decoded
//! values, and ranges into it.
//!
//! Building `auditd.records` and `auditd.data.*` as JSON values cost about
//! as much as the rest of the parse (an allocation per key and value), and a
//! scan writes almost no event. [`AuditdFields`] is the [`LazySource`] of an
//! auditd [`Event`](crate::Event): rules read the values straight from the
//! buffer, and the JSON is built only when an output writes the event. The
//! JSON is exactly what the eager mapping built (the field table is in the
//! [`crate::auditd`] module docs):
//!
//! - `auditd.records`: `[{"type": T, "fields": {k: v}}]`, values decoded
//!   (unquoted, hex-decoded when the result is UTF-8, else the hex text),
//!   `(null)` -> `null`, a repeated key -> an array of its values;
//! - `auditd.data.K`: the first `K` of the main record, then of the SYSCALL
//!   record (values decoded, lossy UTF-8), replaced by the derived values
//!   (`syscall` name, `arch` name, `argc`, `socket.*`);
//! - `auditd.truncated`: `true` when a cap dropped records.
//!
//! It holds the whole `auditd` member and writes it itself
//! ([`LazySource::write_member`]), straight from the buffer.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::line::{Origin, Quote, Record, hex_decode, is_encodable};
use crate::ecs::{FieldValue, LazyGet, LazySource};
use crate::ecs_write::write_str;

/// Prefix of the `auditd.data.*` paths.
pub const DATA: &str = "auditd.data.";
/// The path of the records list.
pub const RECORDS: &str = "auditd.records";
/// The path of the truncation flag.
pub const TRUNCATED: &str = "auditd.truncated";

static TRUE: Value = Value::Bool(true);

/// One record: its type and its fields (a range of [`AuditdFields::fields`]).
#[derive(Debug, Clone)]
struct Rec {
    rtype: Range<u32>,
    fields: Range<u32>,
}

/// One field: ranges of [`AuditdFields::text`].
#[derive(Debug, Clone)]
struct Fld {
    key: Range<u32>,
    /// The value as `auditd.records` has it (lossless: hex that does not
    /// decode to UTF-8 stays hex).
    val: Range<u32>,
    /// The value as `auditd.data.*` has it (lossy UTF-8); usually `val`.
    lossy: Range<u32>,
    /// `(null)`.
    null: bool,
}

/// The compact form (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct AuditdFields {
    text: String,
    recs: Vec<Rec>,
    fields: Vec<Fld>,
    /// The records `auditd.data.*` is made of, in order (main, then SYSCALL).
    data_recs: Vec<u32>,
    /// Derived `auditd.data.*` values: key (without the prefix), value range.
    derived: Vec<(&'static str, Range<u32>)>,
    /// `auditd.truncated`.
    truncated: bool,
}

fn r32(r: Range<usize>) -> Range<u32> {
    // The coalescer caps an event at 8 MiB of records; decoded text is never longer.
    r.start as u32..r.end as u32
}

impl AuditdFields {
    /// The compact form of `recs`; `data` are the indexes of the records
    /// `auditd.data.*` is made of (main record first).
    pub fn new(recs: &[Record], data: &[usize]) -> AuditdFields {
        let mut buf = Vec::with_capacity(recs.iter().map(Record::byte_len).sum::<usize>() / 2);
        let mut out = AuditdFields {
            recs: Vec::with_capacity(recs.len()),
            fields: Vec::with_capacity(recs.iter().map(Record::len).sum()),
            data_recs: data.iter().map(|&i| i as u32).collect(),
            ..AuditdFields::default()
        };
        // Fast path: copy bytes and validate the whole buffer once; hex whose
        // bytes are not UTF-8 (or raw bytes that are not) is rare.
        out.fill(recs, &mut buf, false);
        match String::from_utf8(buf) {
            Ok(s) => out.text = s,
            Err(e) => {
                let mut buf = e.into_bytes();
                buf.clear();
                out.recs.clear();
                out.fields.clear();
                out.fill(recs, &mut buf, true);
                out.text = String::from_utf8(buf)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            }
        }
        out
    }

    /// Appends the records to `buf`. With `careful`, every piece is made
    /// valid UTF-8 as `Record::fields` (lossy) and `Record::fields_lossless`
    /// do; without, bytes are copied as they are.
    fn fill(&mut self, recs: &[Record], buf: &mut Vec<u8>, careful: bool) {
        let push = |buf: &mut Vec<u8>, b: &[u8]| -> Range<u32> {
            let start = buf.len();
            if careful {
                buf.extend_from_slice(String::from_utf8_lossy(b).as_bytes());
            } else {
                buf.extend_from_slice(b);
            }
            r32(start..buf.len())
        };
        for r in recs {
            let rtype = push(buf, r.rtype().as_bytes());
            let first = self.fields.len() as u32;
            let execve = r.is("EXECVE");
            for (k, raw, quote, origin) in r.raw_fields() {
                let key = push(buf, k);
                let null = quote == Quote::Bare && raw == b"(null)";
                let start = buf.len();
                let hex = quote == Quote::Bare
                    && origin != Origin::Enriched
                    && is_encodable(k, execve)
                    && hex_decode_into(raw, buf);
                let (val, lossy) = if !hex {
                    let v = push(buf, raw);
                    (v.clone(), v)
                } else if !careful || std::str::from_utf8(&buf[start..]).is_ok() {
                    let v = r32(start..buf.len());
                    (v.clone(), v)
                } else {
                    // Not UTF-8 once decoded: the records keep the hex text,
                    // `auditd.data` the lossy decoding.
                    let lossy_text = String::from_utf8_lossy(&buf[start..]).into_owned();
                    buf.truncate(start);
                    let val = push(buf, raw);
                    let lossy = push(buf, lossy_text.as_bytes());
                    (val, lossy)
                };
                self.fields.push(Fld {
                    key,
                    val,
                    lossy,
                    null,
                });
            }
            self.recs.push(Rec {
                rtype,
                fields: first..self.fields.len() as u32,
            });
        }
    }

    /// The first field `key` of record `rec`, decoded as [`Record::text`]
    /// decodes it (lossy UTF-8); `None` for `(null)` or no such field.
    pub fn text(&self, rec: usize, key: &str) -> Option<&str> {
        let r = self.recs.get(rec)?;
        let f = self.rec_fields(r).iter().find(|f| self.s(&f.key) == key)?;
        (!f.null).then(|| self.s(&f.lossy))
    }

    /// Sets `auditd.truncated`.
    pub fn set_truncated(&mut self, truncated: bool) {
        self.truncated = truncated;
    }

    /// Adds a derived `auditd.data.KEY` value (replacing the raw field `KEY`).
    pub fn derive(&mut self, key: &'static str, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        let r = r32(start..self.text.len());
        match self.derived.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = r,
            None => self.derived.push((key, r)),
        }
    }

    fn s(&self, r: &Range<u32>) -> &str {
        self.text
            .get(r.start as usize..r.end as usize)
            .unwrap_or_default()
    }

    fn rec_fields(&self, r: &Rec) -> &[Fld] {
        self.fields
            .get(r.fields.start as usize..r.fields.end as usize)
            .unwrap_or_default()
    }

    /// `auditd.data.KEY`: `Some(None)` for `(null)`.
    fn data(&self, key: &str) -> Option<Option<&str>> {
        if let Some((_, r)) = self.derived.iter().find(|(k, _)| *k == key) {
            return Some(Some(self.s(r)));
        }
        for &i in &self.data_recs {
            let Some(rec) = self.recs.get(i as usize) else {
                continue;
            };
            if let Some(f) = self.rec_fields(rec).iter().find(|f| self.s(&f.key) == key) {
                return Some((!f.null).then(|| self.s(&f.lossy)));
            }
        }
        None
    }

    /// `auditd.data` as (key, value) pairs: the first of each key, derived
    /// values replacing raw ones; `None` for `(null)`.
    fn data_leaves(&self) -> Vec<(&str, Option<&str>)> {
        // (key, rank, value): derived values rank first, then the raw
        // fields in order; the first of each key stays.
        let mut keyed: Vec<(&str, u32, Option<&str>)> = Vec::with_capacity(64);
        for (k, r) in &self.derived {
            keyed.push((k, 0, Some(self.s(r))));
        }
        let mut rank = 1;
        for &i in &self.data_recs {
            let Some(rec) = self.recs.get(i as usize) else {
                continue;
            };
            for f in self.rec_fields(rec) {
                keyed.push((self.s(&f.key), rank, (!f.null).then(|| self.s(&f.lossy))));
                rank += 1;
            }
        }
        keyed.sort_unstable_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        keyed.dedup_by(|later, first| later.0 == first.0);
        keyed.into_iter().map(|(k, _, v)| (k, v)).collect()
    }

    fn data_json(&self, out: &mut BTreeMap<String, Value>) {
        let mut key = String::with_capacity(64);
        for &i in &self.data_recs {
            let Some(rec) = self.recs.get(i as usize) else {
                continue;
            };
            for f in self.rec_fields(rec) {
                key.clear();
                key.push_str(DATA);
                key.push_str(self.s(&f.key));
                if !out.contains_key(key.as_str()) {
                    let v = if f.null {
                        Value::Null
                    } else {
                        Value::String(self.s(&f.lossy).to_string())
                    };
                    out.insert(key.clone(), v);
                }
            }
        }
        for (k, r) in &self.derived {
            out.insert(format!("{DATA}{k}"), Value::String(self.s(r).to_string()));
        }
    }

    fn records_json(&self) -> Value {
        Value::Array(
            self.recs
                .iter()
                .map(|r| {
                    let fs = self.rec_fields(r);
                    let mut fields = Map::with_capacity(fs.len());
                    for f in fs {
                        let v = if f.null {
                            Value::Null
                        } else {
                            Value::String(self.s(&f.val).to_string())
                        };
                        insert_repeated(&mut fields, self.s(&f.key), v);
                    }
                    let mut o = Map::with_capacity(2);
                    o.insert("type".into(), Value::String(self.s(&r.rtype).to_string()));
                    o.insert("fields".into(), Value::Object(fields));
                    Value::Object(o)
                })
                .collect(),
        )
    }
}

/// Inserts `key: v` into a record's `fields`; a repeated key becomes an
/// array of its values in arrival order.
fn insert_repeated(fields: &mut Map<String, Value>, key: &str, v: Value) {
    match fields.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(v);
        }
        Entry::Occupied(mut slot) => match slot.get_mut() {
            Value::Array(a) => a.push(v),
            prev => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
        },
    }
}

/// Appends the bytes of `s` hex-decoded to `buf` when `s` is non-empty,
/// of even length and all hex digits (as [`hex_decode`]); else leaves `buf`
/// as it was and returns false.
fn hex_decode_into(s: &[u8], buf: &mut Vec<u8>) -> bool {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    buf.extend(
        s.chunks_exact(2)
            .map(|p| hex_val(p[0]) << 4 | hex_val(p[1])),
    );
    debug_assert_eq!(hex_decode(s).map(|v| v.len()), Some(s.len() / 2));
    true
}

fn hex_val(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
    }
}

impl LazySource for AuditdFields {
    fn get(&self, path: &str) -> LazyGet<'_> {
        if let Some(key) = path.strip_prefix(DATA) {
            return match self.data(key) {
                Some(Some(v)) => LazyGet::Scalar(FieldValue::Str(v)),
                _ => LazyGet::Absent,
            };
        }
        if path == RECORDS {
            return LazyGet::Structured;
        }
        if path == TRUNCATED && self.truncated {
            return LazyGet::Scalar(FieldValue::Json(&TRUE));
        }
        LazyGet::Absent
    }

    fn heap_bytes(&self) -> usize {
        self.text.len()
            + self.recs.len() * std::mem::size_of::<Rec>()
            + self.fields.len() * std::mem::size_of::<Fld>()
            + self.data_recs.len() * 4
            + self.derived.len() * std::mem::size_of::<(&str, Range<u32>)>()
    }

    fn materialize(&self, out: &mut BTreeMap<String, Value>) {
        self.data_json(out);
        out.insert(RECORDS.into(), self.records_json());
        if self.truncated {
            out.insert(TRUNCATED.into(), Value::Bool(true));
        }
    }

    fn json_member(&self) -> Option<&str> {
        // `auditd.data.*` paths nest at their dots; two of them collide when
        // one is a dotted prefix of another (`socket` and `socket.addr`).
        // Only then is the JSON tree needed (the derived `socket.*` keys
        // are the only dotted ones unless the log is odd).
        let socket = self.derived.iter().any(|(k, _)| k.starts_with("socket."));
        for &i in &self.data_recs {
            let Some(rec) = self.recs.get(i as usize) else {
                continue;
            };
            for f in self.rec_fields(rec) {
                let k = self.s(&f.key);
                if k.contains('.') || (socket && k == "socket") {
                    return None;
                }
            }
        }
        Some("auditd")
    }

    fn write_member(&self, w: &mut Vec<u8>) {
        w.push(b'{');
        let data = self.data_leaves();
        if !data.is_empty() {
            let mut data = data;
            w.extend_from_slice(b"\"data\":");
            crate::ecs_write::write_str_object(w, &mut data);
            w.push(b',');
        }
        w.extend_from_slice(b"\"records\":[");
        let mut order: Vec<u32> = Vec::new();
        for (i, r) in self.recs.iter().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            w.extend_from_slice(b"{\"fields\":{");
            let fs = self.rec_fields(r);
            // Keys sorted (stable: a repeated key's values in arrival order).
            order.clear();
            order.extend(0..fs.len() as u32);
            if !order
                .is_sorted_by(|&a, &b| self.s(&fs[a as usize].key) <= self.s(&fs[b as usize].key))
            {
                order
                    .sort_by(|&a, &b| self.s(&fs[a as usize].key).cmp(self.s(&fs[b as usize].key)));
            }
            let mut j = 0;
            while j < order.len() {
                let key = self.s(&fs[order[j] as usize].key);
                let mut end = j + 1;
                while end < order.len() && self.s(&fs[order[end] as usize].key) == key {
                    end += 1;
                }
                if j > 0 {
                    w.push(b',');
                }
                write_str(w, key);
                w.push(b':');
                let many = end - j > 1;
                if many {
                    w.push(b'[');
                }
                for (n, &fi) in order[j..end].iter().enumerate() {
                    if n > 0 {
                        w.push(b',');
                    }
                    let f = &fs[fi as usize];
                    if f.null {
                        w.extend_from_slice(b"null");
                    } else {
                        write_str(w, self.s(&f.val));
                    }
                }
                if many {
                    w.push(b']');
                }
                j = end;
            }
            w.extend_from_slice(b"},\"type\":");
            write_str(w, self.s(&r.rtype));
            w.push(b'}');
        }
        w.push(b']');
        if self.truncated {
            w.extend_from_slice(b",\"truncated\":true");
        }
        w.push(b'}');
    }

    fn for_each_text(&self, path: &str, f: &mut dyn FnMut(&str)) {
        if path != RECORDS {
            return;
        }
        for r in &self.recs {
            f(self.s(&r.rtype));
            for fl in self.rec_fields(r) {
                if !fl.null {
                    f(self.s(&fl.val));
                }
            }
        }
    }

    fn any_leaf(
        &self,
        path: &str,
        inner: &[String],
        f: &mut dyn FnMut(&str) -> bool,
    ) -> Option<Option<bool>> {
        if path != RECORDS {
            return None;
        }
        let mut found = None;
        match inner {
            [t] if t == "type" => {
                for r in &self.recs {
                    if f(self.s(&r.rtype)) {
                        return Some(Some(true));
                    }
                    found = Some(false);
                }
            }
            [fs, key] if fs == "fields" => {
                for r in &self.recs {
                    for fl in self.rec_fields(r) {
                        if fl.null || self.s(&fl.key) != key {
                            continue;
                        }
                        if f(self.s(&fl.val)) {
                            return Some(Some(true));
                        }
                        found = Some(false);
                    }
                }
            }
            _ => return None,
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditd::line::{Value as RawValue, parse_line};

    /// The eager mapping this replaces, as the oracle.
    fn eager(recs: &[Record], data: &[usize]) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for &i in data {
            for (k, v, _) in recs[i].fields() {
                out.entry(format!("{DATA}{k}")).or_insert(match v {
                    RawValue::Null => Value::Null,
                    RawValue::Text(t) => Value::String(t.into_owned()),
                });
            }
        }
        let list = recs
            .iter()
            .map(|r| {
                let mut fields = Map::new();
                for (k, v) in r.fields_lossless() {
                    let v = match v {
                        RawValue::Null => Value::Null,
                        RawValue::Text(t) => Value::String(t.into_owned()),
                    };
                    insert_repeated(&mut fields, &k, v);
                }
                serde_json::json!({"type": r.rtype(), "fields": fields})
            })
            .collect();
        out.insert(RECORDS.into(), Value::Array(list));
        out
    }

    /// Every string leaf of `j` at `path` (arrays searched), as the matcher's `any_leaf`.
    fn leaves<'a>(j: &'a Value, path: &[String], out: &mut Vec<&'a str>) -> bool {
        match j {
            Value::Null => false,
            Value::Array(a) => {
                let mut found = false;
                for x in a {
                    found |= leaves(x, path, out);
                }
                found
            }
            Value::String(s) if path.is_empty() => {
                out.push(s);
                true
            }
            Value::Object(m) if !path.is_empty() => {
                m.get(&path[0]).is_some_and(|x| leaves(x, &path[1..], out))
            }
            _ => false,
        }
    }

    fn all_texts<'a>(j: &'a Value, out: &mut Vec<&'a str>) {
        match j {
            Value::String(s) => out.push(s),
            Value::Array(a) => a.iter().for_each(|x| all_texts(x, out)),
            Value::Object(m) => m.values().for_each(|x| all_texts(x, out)),
            _ => {}
        }
    }

    const LINES: &[&[u8]] = &[
        b"type=SYSCALL msg=audit(1.2:3): arch=c000003e syscall=59 success=yes exit=0 a0=55 pid=7 ppid=1 comm=\"sh\" exe=2F62696E2F7368 key=(null)\x1dARCH=x86_64 SYSCALL=execve UID=\"root\"",
        b"type=EXECVE msg=audit(1.2:3): argc=3 a0=\"sh\" a1=2D63 a2=FF00FE a3[0]=6869 a3[1]=\"x\" a0=\"dup\" a1=(null)",
        b"type=PATH msg=audit(1.2:3): item=0 name=C3A9 nametype=NORMAL comm=\"\xff\xfe\" \xc3=1 name=FF",
        b"type=USER_ACCT msg=audit(1.2:3): pid=1 uid=0 msg='op=PAM:accounting acct=\"bob\" exe=\"/usr/bin/sudo\" hostname=? addr=? terminal=/dev/pts/1 res=success'",
        b"type=AVC msg=audit(1.2:3): avc:  denied  { read write } for  pid=13010 comm=\"pickup\" tclass=dir",
        b"type=1300 msg=audit(1.2:3): syscall=42 key=6B6579",
        b"type=SOCKADDR msg=audit(1.2:3): saddr=02000050A9FEA9FE0000000000000000",
    ];

    fn check(recs: &[Record], data: &[usize]) {
        let mut lazy = AuditdFields::new(recs, data);
        lazy.derive("syscall", "execve");
        lazy.derive("socket.port", "80");
        lazy.derive("socket.port", "81");
        let mut want = eager(recs, data);
        want.insert(format!("{DATA}syscall"), Value::from("execve"));
        want.insert(format!("{DATA}socket.port"), Value::from("81"));
        let mut got = BTreeMap::new();
        lazy.materialize(&mut got);
        assert_eq!(got, want);
        // Scalar reads agree with the JSON (null reads as absent).
        for (path, v) in &want {
            let g = lazy.get(path);
            match v {
                Value::String(s) => assert_eq!(g, LazyGet::Scalar(FieldValue::Str(s)), "{path}"),
                Value::Null => assert_eq!(g, LazyGet::Absent, "{path}"),
                _ => assert_eq!(g, LazyGet::Structured, "{path}"),
            }
        }
        assert_eq!(lazy.get("auditd.data.nope"), LazyGet::Absent);
        assert_eq!(lazy.get("auditd.data"), LazyGet::Absent);
        assert_eq!(lazy.get("process.pid"), LazyGet::Absent);
        // Texts: the same multiset as a walk of the JSON.
        let mut texts = Vec::new();
        lazy.for_each_text(RECORDS, &mut |t| texts.push(t.to_string()));
        let mut want_texts = Vec::new();
        all_texts(&want[RECORDS], &mut want_texts);
        texts.sort();
        want_texts.sort();
        assert_eq!(texts, want_texts);
        // Leaves at `type` and `fields.K`, for every key there is and one there is not.
        let mut paths: Vec<Vec<String>> =
            vec![vec!["type".into()], vec!["fields".into(), "zz".into()]];
        for r in want[RECORDS].as_array().unwrap() {
            for k in r["fields"].as_object().unwrap().keys() {
                paths.push(vec!["fields".into(), k.clone()]);
            }
        }
        for p in &paths {
            let mut want_leaves = Vec::new();
            let found = leaves(&want[RECORDS], p, &mut want_leaves);
            let mut got_leaves = Vec::new();
            let r = lazy.any_leaf(RECORDS, p, &mut |s| {
                got_leaves.push(s.to_string());
                false
            });
            assert_eq!(r, Some(found.then_some(false)), "{p:?}");
            assert_eq!(got_leaves, want_leaves, "{p:?}");
            // Stops at the first hit.
            if let Some(first) = want_leaves.first() {
                let mut n = 0;
                let r = lazy.any_leaf(RECORDS, p, &mut |s| {
                    n += 1;
                    s == *first
                });
                assert_eq!((r, n), (Some(Some(true)), 1), "{p:?}");
            }
        }
        assert_eq!(
            lazy.any_leaf(RECORDS, &["fields".into()], &mut |_| true),
            None
        );
        written(&lazy);
        lazy.set_truncated(true);
        written(&lazy);
        assert_eq!(
            lazy.get(TRUNCATED),
            LazyGet::Scalar(FieldValue::Json(&TRUE))
        );
        assert_eq!(
            lazy.any_leaf("auditd.data.x", &["type".into()], &mut |_| true),
            None
        );
    }

    /// `write_member` writes what serializing the sorted tree gives.
    fn written(lazy: &AuditdFields) {
        let mut m = BTreeMap::new();
        lazy.materialize(&mut m);
        let mut root = Map::new();
        for (k, v) in m {
            crate::ecs::insert_path(&mut root, &k, v);
        }
        let mut doc = Value::Object(root);
        doc.sort_all_objects();
        match lazy.json_member() {
            Some(k) => {
                assert_eq!(k, "auditd");
                let mut w = Vec::new();
                lazy.write_member(&mut w);
                assert_eq!(
                    String::from_utf8_lossy(&w),
                    serde_json::to_string(&doc["auditd"]).unwrap()
                );
            }
            // Only when paths nest into each other.
            None => assert!(
                doc["auditd"]["data"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .any(|k| k.contains('.'))
            ),
        }
    }

    #[test]
    fn text_agrees_with_the_record() {
        let recs: Vec<Record> = LINES.iter().map(|l| parse_line(l).unwrap()).collect();
        let lazy = AuditdFields::new(&recs, &[]);
        for (i, r) in recs.iter().enumerate() {
            for (k, _, _, _) in
                r.raw_fields()
                    .chain([(&b"nope"[..], &b""[..], Quote::Bare, Origin::Raw)])
            {
                // The mapping looks fields up by ASCII names.
                let Ok(k) = std::str::from_utf8(k) else {
                    continue;
                };
                assert_eq!(lazy.text(i, k), r.text(k).as_deref(), "{i} {k}");
            }
        }
        assert_eq!(lazy.text(99, "a0"), None);
    }

    #[test]
    fn odd_keys_nest_or_fall_back() {
        for l in [
            &b"type=SYSCALL msg=audit(1.2:3): =x a=1 b=\"\" a=2"[..],
            b"type=SYSCALL msg=audit(1.2:3): socket=1 x=2",
            b"type=SYSCALL msg=audit(1.2:3): a.b=1 a=2",
            b"type=SYSCALL msg=audit(1.2:3): a.b=1 a.c=2 a-b=3 a=(null)",
        ] {
            let recs = vec![parse_line(l).unwrap()];
            let mut lazy = AuditdFields::new(&recs, &[0]);
            written(&lazy);
            lazy.derive("socket.family", "inet");
            lazy.derive("socket.addr", "1.2.3.4");
            written(&lazy);
        }
    }

    #[test]
    fn agrees_with_the_eager_mapping() {
        let recs: Vec<Record> = LINES.iter().map(|l| parse_line(l).unwrap()).collect();
        check(&recs, &[0]);
        check(&recs, &[3, 0]);
        check(&recs, &[1, 2]);
        check(&recs, &[]);
        // One record at a time too (the fast path holds for the UTF-8 ones).
        for (i, r) in recs.iter().enumerate() {
            check(std::slice::from_ref(r), &[0]);
            assert!(i < LINES.len());
        }
        check(&[], &[]);
    }
}
