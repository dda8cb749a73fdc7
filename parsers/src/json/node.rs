//! A JSON document borrowed from its input, and the read-only view the
//! shape readers share with [`serde_json::Value`].
//!
//! # Design rationale
//!
//! A `Value` costs a `String` per key and per string and an `IndexMap` (with
//! its hash table) per object (`serde_json`'s `preserve_order` is on: the
//! `evtx` crate turns it on for the whole build). A Windows event of 30 to 60
//! fields spent more time being built into that tree and dropped than being
//! mapped to ECS. A [`Node`] keeps keys and strings borrowed from the input
//! when they hold no escapes and an object as a `Vec` of pairs in document
//! order.
//!
//! It reads the same as the `Value` would: a repeated key keeps its first
//! position and its last value (what `IndexMap::insert` does), numbers are
//! `serde_json::Number`s, and [`Node::to_value`] gives back the exact `Value`
//! (the documents of shapes without a [`Node`] reader take that path). The
//! shape readers are written once, against [`Json`], for both.

use std::borrow::Cow;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON document whose keys and strings borrow from the input when they
/// can (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Num(Number),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    /// Members in document order, keys unique.
    Obj(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// A scalar or container, as the shape readers look at it.
pub(crate) enum Kind<'j> {
    Null,
    Bool(bool),
    Num(&'j Number),
    Str(&'j str),
    Arr,
    Obj,
}

/// Read access to a JSON document: [`Value`] and [`Node`].
pub(crate) trait Json: Sized {
    /// What this value is.
    fn kind(&self) -> Kind<'_>;
    /// The member `key` of an object; `None` for other values.
    fn get(&self, key: &str) -> Option<&Self>;
    /// The members of an object in document order; nothing for other values.
    fn entries(&self) -> impl Iterator<Item = (&str, &Self)>;
    /// Number of members of an object.
    fn len_if_object(&self) -> Option<usize>;
    /// The same document as a [`Value`].
    fn to_value(&self) -> Value;

    fn is_object(&self) -> bool {
        matches!(self.kind(), Kind::Obj)
    }
}

impl Json for Value {
    fn kind(&self) -> Kind<'_> {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(b) => Kind::Bool(*b),
            Value::Number(n) => Kind::Num(n),
            Value::String(s) => Kind::Str(s),
            Value::Array(_) => Kind::Arr,
            Value::Object(_) => Kind::Obj,
        }
    }
    fn get(&self, key: &str) -> Option<&Self> {
        Value::get(self, key)
    }
    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        self.as_object()
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
    }
    fn len_if_object(&self) -> Option<usize> {
        self.as_object().map(Map::len)
    }
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl Json for Node<'_> {
    fn kind(&self) -> Kind<'_> {
        match self {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(*b),
            Node::Num(n) => Kind::Num(n),
            Node::Str(s) => Kind::Str(s),
            Node::Arr(_) => Kind::Arr,
            Node::Obj(_) => Kind::Obj,
        }
    }
    fn get(&self, key: &str) -> Option<&Self> {
        match self {
            Node::Obj(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn entries(&self) -> impl Iterator<Item = (&str, &Self)> {
        let m: &[(Cow<'_, str>, Node<'_>)] = match self {
            Node::Obj(m) => m,
            _ => &[],
        };
        m.iter().map(|(k, v)| (k.as_ref(), v))
    }
    fn len_if_object(&self) -> Option<usize> {
        match self {
            Node::Obj(m) => Some(m.len()),
            _ => None,
        }
    }
    fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(n) => Value::Number(n.clone()),
            Node::Str(s) => Value::String(s.to_string()),
            Node::Arr(a) => Value::Array(a.iter().map(Node::to_value).collect()),
            Node::Obj(m) => {
                let mut o = Map::with_capacity(m.len());
                for (k, v) in m {
                    o.insert(k.to_string(), v.to_value());
                }
                Value::Object(o)
            }
        }
    }
}

/// A JSON scalar as event-data text, as [`crate::sysmon::value_text`] gives
/// it for a `Value`: strings as they are, numbers in decimal, booleans as
/// `true`/`false`, null as empty; arrays and objects as compact JSON.
pub(crate) fn text<J: Json>(v: &J) -> String {
    match v.kind() {
        Kind::Str(s) => s.to_string(),
        Kind::Null => String::new(),
        Kind::Bool(b) => b.to_string(),
        Kind::Num(n) => n.to_string(),
        Kind::Arr | Kind::Obj => v.to_value().to_string(),
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut scratch = Vec::new();
        d.deserialize_any(NodeVisitor {
            scratch: &mut scratch,
        })
    }
}

/// Builds a [`Node`]. The members of the objects being read are gathered in
/// one `scratch` for the whole document, each object then gets a `Vec` of
/// its exact size (instead of one grown member by member).
struct NodeVisitor<'s, 'de> {
    scratch: &'s mut Vec<(Cow<'de, str>, Node<'de>)>,
}

impl<'de> DeserializeSeed<'de> for NodeVisitor<'_, 'de> {
    type Value = Node<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A map key, borrowed when it has no escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Visitor<'de> for NodeVisitor<'_, 'de> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any valid JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'de>, E> {
        Ok(Node::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'de>, E> {
        Ok(Node::Num(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node<'de>, E> {
        // As `Value` does: a non-finite float is null.
        Ok(Number::from_f64(v).map_or(Node::Null, Node::Num))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }
    fn visit_none<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node<'de>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = seq.next_element_seed(NodeVisitor {
            scratch: &mut *self.scratch,
        })? {
            v.push(x);
        }
        Ok(Node::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let scratch = self.scratch;
        let base = scratch.len();
        // Bit (a hash of the key) set for every key so far: a repeated key is
        // only searched for when its bit is already set.
        let mut seen = 0u64;
        while let Some(Key(k)) = map.next_key()? {
            let v = map.next_value_seed(NodeVisitor {
                scratch: &mut *scratch,
            })?;
            let bit = 1u64 << key_hash(&k);
            if seen & bit != 0
                && let Some(slot) = scratch[base..].iter_mut().find(|(x, _)| *x == k)
            {
                // As `IndexMap::insert`: first position, last value.
                slot.1 = v;
                continue;
            }
            seen |= bit;
            scratch.push((k, v));
        }
        Ok(Node::Obj(scratch.drain(base..).collect()))
    }
}

/// 0..64 from a key's length and its first and last bytes.
fn key_hash(k: &str) -> u32 {
    let b = k.as_bytes();
    let (first, last) = match b {
        [] => (0, 0),
        [f, .., l] => (*f, *l),
        [f] => (*f, *f),
    };
    (b.len() as u32)
        .wrapping_mul(31)
        .wrapping_add(u32::from(first).wrapping_mul(7))
        .wrapping_add(u32::from(last))
        % 64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(s: &str) -> (Node<'_>, Value) {
        (
            serde_json::from_str(s).unwrap(),
            serde_json::from_str(s).unwrap(),
        )
    }

    #[test]
    fn to_value_is_the_value() {
        for s in [
            r#"{"a":1,"b":[1,-2,3.5,1e300,"x\"y",null,true],"c":{"d":{}},"e":"\u00e9\\"}"#,
            r#"{"k":1,"j":2,"k":3,"j":{"x":1},"z":[]}"#,
            r#"[{"a":"b"},18446744073709551615,-9223372036854775808,0.1]"#,
            r#""plain""#,
        ] {
            let (n, v) = both(s);
            assert_eq!(n.to_value(), v, "{s}");
            assert_eq!(n.to_value().to_string(), v.to_string(), "{s}");
        }
    }

    #[test]
    fn repeated_keys_read_as_the_value_reads_them() {
        let (n, v) = both(r#"{"a":1,"b":2,"a":3,"ab":4,"ba":5,"b":6}"#);
        let nk: Vec<_> = n.entries().map(|(k, x)| (k, x.to_value())).collect();
        let vk: Vec<_> = v.entries().map(|(k, x)| (k, x.clone())).collect();
        assert_eq!(nk, vk);
        assert_eq!(Json::get(&n, "a").map(Json::to_value), Some(Value::from(3)));
    }

    // The shape readers iterate members in document order for both views;
    // `Value` does so only with serde_json's `preserve_order`.
    #[test]
    fn value_objects_keep_document_order() {
        let v: Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(v.entries().next().map(|(k, _)| k), Some("b"));
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let n: Node<'_> = serde_json::from_str(r#"{"k":"plain","e":"a\\b"}"#).unwrap();
        let Node::Obj(m) = n else { panic!() };
        assert!(matches!(m[0].0, Cow::Borrowed(_)));
        assert!(matches!(m[0].1, Node::Str(Cow::Borrowed("plain"))));
        assert!(matches!(&m[1].1, Node::Str(Cow::Owned(s)) if s == "a\\b"));
    }
}
