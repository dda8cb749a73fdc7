//! Writing an [`Event`] as JSON straight from its fields, without building a
//! `serde_json::Value` tree first.
//!
//! [`Event::to_json`] builds the nested document (typed fields, then every
//! `extra` path, objects sorted at every level). That costs an allocation per
//! key and value; for `tripline convert` and for alerts, which write the event
//! once and drop it, [`Event::write_json`] produces the same bytes by walking
//! the leaves in nested-sorted order and opening and closing objects as the
//! paths change.
//!
//! The two must agree byte for byte (tested over every golden event). When two
//! paths collide — one is a leaf and a prefix of another (`a` and `a.b`), or
//! the same path is both typed and raw — `to_json` resolves it in insertion
//! order; the streaming writer does not try to: [`Event::json_view`] returns
//! `None` and callers fall back to the tree.

use std::cmp::Ordering;
use std::sync::OnceLock;

use serde_json::Value;

use crate::ecs::{Event, FieldValue, Known, LazySource};

/// One leaf of the document, borrowed from the event.
#[derive(Debug, Clone, Copy)]
enum Leaf<'a> {
    Str(&'a str),
    Int(i64),
    Strs(&'a [String]),
    Json(&'a Value),
    Timestamp(i64),
    /// A top-level member a [`LazySource`] writes itself.
    Lazy(&'a dyn LazySource),
}

/// The order of nested objects with sorted keys: paths compared segment by
/// segment (`a.b` < `a-b`, because `a` < `a-b`).
fn nested_cmp(a: &str, b: &str) -> Ordering {
    // Segment by segment is bytewise with the dot below every other byte
    // (a shorter segment is a prefix of the longer one and sorts first).
    let rank = |c: u8| if c == b'.' { 0 } else { u16::from(c) + 1 };
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    match (a.get(n), b.get(n)) {
        (Some(&x), Some(&y)) => rank(x).cmp(&rank(y)),
        _ => a.len().cmp(&b.len()),
    }
}

fn known_order() -> &'static [Known] {
    static ORDER: OnceLock<Vec<Known>> = OnceLock::new();
    ORDER.get_or_init(|| {
        let mut v = Known::ALL.to_vec();
        v.sort_by(|a, b| nested_cmp(a.path(), b.path()));
        v
    })
}

/// An event's leaves in output order, ready to be written whole or one
/// top-level member at a time.
#[derive(Debug)]
pub struct JsonView<'a> {
    leaves: Vec<(&'a str, Leaf<'a>)>,
}

impl Event {
    /// The event's leaves in the order [`Event::to_json`] would write them;
    /// `None` when paths collide (see the module documentation).
    pub fn json_view(&self) -> Option<JsonView<'_>> {
        let mut known = Vec::with_capacity(24);
        for &k in known_order() {
            let leaf = match k {
                Known::Timestamp => Leaf::Timestamp(self.timestamp_ns),
                _ => match self.get_known(k) {
                    None => continue,
                    Some(FieldValue::Str(s)) => Leaf::Str(s),
                    Some(FieldValue::Int(n)) => Leaf::Int(n),
                    Some(FieldValue::Strs(l)) => Leaf::Strs(l),
                    Some(FieldValue::Json(j)) => Leaf::Json(j),
                },
            };
            known.push((k.path(), leaf));
        }
        // A lazy source that writes its member itself is one leaf; one that
        // cannot is read as JSON.
        let lazy = self
            .lazy
            .as_ref()
            .and_then(|l| Some((l.source().json_member()?, l.source())));
        let mut extra: Vec<(&str, Leaf<'_>)> = match lazy {
            Some((member, src)) => self
                .extra
                .iter()
                .map(|(p, v)| (p.as_str(), Leaf::Json(v)))
                .chain(std::iter::once((member, Leaf::Lazy(src))))
                .collect(),
            None => self
                .extra_fields()
                .map(|(p, v)| (p, Leaf::Json(v)))
                .collect(),
        };
        // BTreeMap order is bytewise; it differs from nested order only when a
        // key holds a byte below '.' (`-`, space, ...).
        if !extra.is_sorted_by(|a, b| nested_cmp(a.0, b.0) != Ordering::Greater) {
            extra.sort_by(|a, b| nested_cmp(a.0, b.0));
        }
        let mut leaves = Vec::with_capacity(known.len() + extra.len());
        let (mut i, mut j) = (0, 0);
        while i < known.len() && j < extra.len() {
            if nested_cmp(known[i].0, extra[j].0) == Ordering::Greater {
                leaves.push(extra[j]);
                j += 1;
            } else {
                leaves.push(known[i]);
                i += 1;
            }
        }
        leaves.extend_from_slice(&known[i..]);
        leaves.extend_from_slice(&extra[j..]);
        let collide = leaves.windows(2).any(|w| {
            let (a, b) = (w[0].0, w[1].0);
            b.len() >= a.len()
                && b.starts_with(a)
                && (b.len() == a.len() || b.as_bytes()[a.len()] == b'.')
        });
        if collide {
            None
        } else {
            Some(JsonView { leaves })
        }
    }

    /// Appends the event as one JSON object, byte for byte what
    /// `serde_json::to_writer(w, &self.to_json())` writes.
    pub fn write_json(&self, w: &mut Vec<u8>) {
        match self.json_view() {
            Some(v) => v.write(w),
            None => write_value_sorted(w, &self.to_json()),
        }
    }
}

impl JsonView<'_> {
    /// Appends the whole document as one JSON object.
    pub fn write(&self, w: &mut Vec<u8>) {
        write_object(w, &self.leaves, 0);
    }

    /// Appends `"key":value` for the top-level member `key` (an object for
    /// `host`, `process`, ...; a plain value for `@timestamp`), preceded by a
    /// comma when `comma`. Returns false, writing nothing, when the document
    /// has no such member.
    pub fn write_member(&self, key: &str, comma: bool, w: &mut Vec<u8>) -> bool {
        let first = |p: &str| {
            p.strip_prefix(key)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        };
        let Some(start) = self.leaves.iter().position(|(p, _)| first(p)) else {
            return false;
        };
        let len = self.leaves[start..]
            .iter()
            .take_while(|(p, _)| first(p))
            .count();
        if comma {
            w.push(b',');
        }
        write_str(w, key);
        w.push(b':');
        let members = &self.leaves[start..start + len];
        if members.len() == 1 && members[0].0 == key {
            write_leaf(w, members[0].1);
        } else {
            write_object(w, members, 1);
        }
        true
    }
}

/// Writes `leaves` (nested-sorted, no collisions) as one object, skipping the
/// first `depth` segments of every path (they name the object itself).
fn write_object(w: &mut Vec<u8>, leaves: &[(&str, Leaf<'_>)], depth: usize) {
    w.push(b'{');
    let mut open: Vec<&str> = Vec::with_capacity(4);
    // One buffer for every leaf's segments (this runs per event and alert).
    let mut parents: Vec<&str> = Vec::with_capacity(8);
    let mut first = true;
    for &(path, leaf) in leaves {
        parents.clear();
        parents.extend(path.split('.').skip(depth));
        let last = parents.pop().unwrap_or("");
        let common = open
            .iter()
            .zip(&parents)
            .take_while(|(a, b)| a == b)
            .count();
        while open.len() > common {
            open.pop();
            w.push(b'}');
            first = false;
        }
        for seg in &parents[common..] {
            if !first {
                w.push(b',');
            }
            write_str(w, seg);
            w.extend_from_slice(b":{");
            open.push(seg);
            first = true;
        }
        if !first {
            w.push(b',');
        }
        write_str(w, last);
        w.push(b':');
        write_leaf(w, leaf);
        first = false;
    }
    for _ in open {
        w.push(b'}');
    }
    w.push(b'}');
}

fn write_leaf(w: &mut Vec<u8>, leaf: Leaf<'_>) {
    match leaf {
        Leaf::Str(s) => write_str(w, s),
        Leaf::Int(n) => {
            let _ = serde_json::to_writer(&mut *w, &n);
        }
        Leaf::Strs(list) => {
            w.push(b'[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    w.push(b',');
                }
                write_str(w, s);
            }
            w.push(b']');
        }
        Leaf::Json(v) => write_value_sorted(w, v),
        Leaf::Timestamp(ns) => write_str(w, &crate::ecs::format_timestamp(ns)),
        Leaf::Lazy(src) => src.write_member(w),
    }
}

/// Writes an object of string (or `null`) leaves named by dotted paths, as
/// the nested, sorted tree of those paths would be written. The paths must
/// not collide (none is a dotted prefix of another, no two are equal);
/// `leaves` is sorted in place.
pub(crate) fn write_str_object(w: &mut Vec<u8>, leaves: &mut [(&str, Option<&str>)]) {
    if !leaves.is_sorted_by(|a, b| nested_cmp(a.0, b.0) != Ordering::Greater) {
        leaves.sort_by(|a, b| nested_cmp(a.0, b.0));
    }
    let leaves: Vec<(&str, Leaf<'_>)> = leaves
        .iter()
        .map(|&(p, v)| (p, v.map_or(Leaf::Json(&Value::Null), Leaf::Str)))
        .collect();
    write_object(w, &leaves, 0);
}

/// A JSON string, escaped as serde_json escapes it.
pub fn write_str(w: &mut Vec<u8>, s: &str) {
    // serde_json escapes `"`, `\\` and control characters only; most
    // strings have none and are copied as they are.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        w.reserve(s.len() + 2);
        w.push(b'"');
        w.extend_from_slice(s.as_bytes());
        w.push(b'"');
        return;
    }
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *w, s);
}

/// A JSON value with the keys of every object sorted (what
/// `Value::sort_all_objects` then serialization would give).
pub fn write_value_sorted(w: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<(&String, &Value)> = m.iter().collect();
            if !keys.is_sorted_by(|a, b| a.0 <= b.0) {
                keys.sort_by(|a, b| a.0.cmp(b.0));
            }
            w.push(b'{');
            for (i, (k, v)) in keys.into_iter().enumerate() {
                if i > 0 {
                    w.push(b',');
                }
                write_str(w, k);
                w.push(b':');
                write_value_sorted(w, v);
            }
            w.push(b'}');
        }
        Value::Array(a) => {
            w.push(b'[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    w.push(b',');
                }
                write_value_sorted(w, v);
            }
            w.push(b']');
        }
        Value::String(s) => write_str(w, s),
        other => {
            let _ = serde_json::to_writer(&mut *w, other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(ev: &Event) {
        let mut fast = Vec::new();
        ev.write_json(&mut fast);
        let slow = serde_json::to_vec(&ev.to_json()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow)
        );
    }

    #[test]
    fn agrees_with_the_tree_on_odd_paths() {
        let mut ev = Event {
            timestamp_ns: 1_700_000_000_123_000_000,
            ..Event::default()
        };
        ev.process.pid = Some(7);
        ev.process.args = vec!["a\"b".into(), "\u{1b}[2J".into()];
        ev.process.parent.pid = Some(1);
        ev.host.name = Some("h".into());
        for (k, v) in [
            ("process.thread.id", json!(3)),
            ("process-x", json!("dash sorts before the dot bytewise")),
            ("process.parent.z", json!(null)),
            ("a.b.c", json!({"z": 1, "a": [{"y": 2, "b": 3}]})),
            ("a.bb", json!(1.5)),
            ("A", json!(true)),
            ("1", json!("digit before @")),
            ("", json!("empty key")),
            ("x..y", json!("empty segment")),
        ] {
            ev.extra.insert(k.into(), v);
        }
        assert!(ev.json_view().is_some());
        same(&ev);
    }

    #[test]
    fn collisions_fall_back_to_the_tree() {
        let mut ev = Event::default();
        ev.process.pid = Some(7);
        ev.extra.insert("process.pid.x".into(), json!(1));
        assert!(ev.json_view().is_none());
        same(&ev);
        let mut ev = Event::default();
        ev.process.pid = Some(7);
        ev.extra.insert("process".into(), json!("flat"));
        assert!(ev.json_view().is_none());
        same(&ev);
        let mut ev = Event::default();
        ev.extra.insert("a".into(), json!(1));
        ev.extra.insert("a.b".into(), json!(2));
        same(&ev);
    }

    #[test]
    fn nested_order_is_segment_order() {
        let words = [
            "", ".", "..", "a", "a.", "a.b", "a-b", "a b", "a\u{0}", "a.\u{0}", "ab", "a.b.c",
            "a.bb", "b", "é", "a.é", "A", "a/b", "a,b",
        ];
        for x in words {
            for y in words {
                assert_eq!(
                    nested_cmp(x, y),
                    x.split('.').cmp(y.split('.')),
                    "{x:?} {y:?}"
                );
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        for s in [
            "",
            "plain",
            "q\"uote",
            "back\\slash",
            "tab\t",
            "\u{1}\u{1f}",
            "\u{7f}",
            "é ü 日本",
            "\u{2028}",
            "/slash",
        ] {
            let mut w = Vec::new();
            write_str(&mut w, s);
            assert_eq!(w, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn members_are_the_subtrees() {
        let mut ev = Event::default();
        ev.process.pid = Some(7);
        ev.process.parent.pid = Some(1);
        ev.host.name = Some("h".into());
        let v = ev.json_view().unwrap();
        let mut w = b"{".to_vec();
        assert!(v.write_member("@timestamp", false, &mut w));
        assert!(v.write_member("process", true, &mut w));
        assert!(!v.write_member("user", true, &mut w));
        assert!(!v.write_member("proc", true, &mut w));
        w.push(b'}');
        let doc: Value = serde_json::from_slice(&w).unwrap();
        let full = ev.to_json();
        assert_eq!(doc["process"], full["process"]);
        assert_eq!(doc["@timestamp"], full["@timestamp"]);
    }
}
