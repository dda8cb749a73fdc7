//! Runtime values of EQL expressions and the comparison rules between them.
//!
//! A value read from an event borrows from it (no copy of strings); list
//! fields (`process.args`, `event.category`, JSON arrays of raw fields) stay
//! borrowed too, and every comparison treats a list as "any element".

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value as Json;
use tripline_parsers::FieldValue;

/// An EQL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`, or a missing field.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// A list of strings borrowed from the event.
    Strs(&'a [String]),
    /// A JSON array from a raw field.
    Json(&'a Json),
    /// A list built by an expression.
    List(Vec<Value<'a>>),
}

/// One element of a value (a list's item, or the value itself).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'v> {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'v str),
    /// A JSON object (compares with nothing).
    Object,
}

impl<'a> Value<'a> {
    /// The value of an event field.
    pub fn from_field(v: Option<FieldValue<'a>>) -> Value<'a> {
        match v {
            None => Value::Null,
            Some(FieldValue::Str(s)) => Value::Str(Cow::Borrowed(s)),
            Some(FieldValue::Int(n)) => Value::Int(n),
            Some(FieldValue::Strs([])) => Value::Null,
            Some(FieldValue::Strs(l)) => Value::Strs(l),
            Some(FieldValue::Json(j)) => Value::from_json(j),
        }
    }

    /// A JSON value (scalars become scalars; arrays and objects stay borrowed).
    pub fn from_json(j: &'a Json) -> Value<'a> {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Value::Str(Cow::Borrowed(s)),
            Json::Array(a) if a.iter().all(Json::is_null) => Value::Null,
            other => Value::Json(other),
        }
    }

    /// True for `null`, a missing field and an empty list.
    pub fn is_null(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Strs(l) => l.is_empty(),
            Value::List(l) => l.iter().all(Value::is_null),
            _ => false,
        }
    }

    /// Calls `f` on each element (once for a scalar); true as soon as `f` is.
    pub fn any(&self, f: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
        match self {
            Value::Null => f(Scalar::Null),
            Value::Bool(b) => f(Scalar::Bool(*b)),
            Value::Int(n) => f(Scalar::Int(*n)),
            Value::Float(x) => f(Scalar::Float(*x)),
            Value::Str(s) => f(Scalar::Str(s)),
            Value::Strs(l) => l.iter().any(|s| f(Scalar::Str(s))),
            Value::Json(j) => json_any(j, f, 0),
            Value::List(l) => l.iter().any(|v| v.any(f)),
        }
    }

    /// The first element (EQL functions that take one string use it).
    pub fn first(&self) -> Value<'_> {
        match self {
            Value::Strs(l) => l
                .first()
                .map(|s| Value::Str(Cow::Borrowed(s.as_str())))
                .unwrap_or(Value::Null),
            Value::Json(Json::Array(a)) => a.first().map(Value::from_json).unwrap_or(Value::Null),
            Value::List(l) => l.first().map(Value::first).unwrap_or(Value::Null),
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
            Value::Json(j) => Value::from_json(j),
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Int(n) => Value::Int(*n),
            Value::Float(x) => Value::Float(*x),
        }
    }

    /// Number of elements for a list (`length(process.args)`), else `None`.
    pub fn list_len(&self) -> Option<usize> {
        match self {
            Value::Strs(l) => Some(l.len()),
            Value::Json(Json::Array(a)) => Some(a.len()),
            Value::List(l) => Some(l.len()),
            _ => None,
        }
    }

    /// The `i`th element of a list (negative counts from the end).
    pub fn index(&self, i: i64) -> Value<'a> {
        let pick = |len: usize| -> Option<usize> {
            let i = if i < 0 { len as i64 + i } else { i };
            (0..len as i64).contains(&i).then_some(i as usize)
        };
        match self {
            Value::Strs(l) => pick(l.len())
                .map(|k| Value::Str(Cow::Borrowed(l[k].as_str())))
                .unwrap_or(Value::Null),
            Value::Json(Json::Array(a)) => pick(a.len())
                .map(|k| Value::from_json(&a[k]))
                .unwrap_or(Value::Null),
            Value::List(l) => pick(l.len()).map(|k| l[k].clone()).unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// The value as text, for `string()` and `concat()`; `None` for null.
    pub fn to_text(&self) -> Option<String> {
        match self.first() {
            Value::Null => None,
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(n) => Some(n.to_string()),
            Value::Float(x) => Some(x.to_string()),
            Value::Str(s) => Some(s.into_owned()),
            Value::Json(j) => Some(j.to_string()),
            Value::Strs(_) | Value::List(_) => None,
        }
    }

    /// The value as a string slice, when it is a plain string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a number (strings holding a number count).
    pub fn as_num(&self) -> Option<Num> {
        match self {
            Value::Int(n) => Some(Num::Int(*n)),
            Value::Float(x) => Some(Num::Float(*x)),
            Value::Str(s) => parse_num(s),
            _ => None,
        }
    }
}

fn json_any(j: &Json, f: &mut dyn FnMut(Scalar<'_>) -> bool, depth: usize) -> bool {
    match j {
        Json::Null => f(Scalar::Null),
        Json::Bool(b) => f(Scalar::Bool(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => f(Scalar::Int(i)),
            None => f(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
        },
        Json::String(s) => f(Scalar::Str(s)),
        Json::Array(a) if depth < 8 => a.iter().any(|x| json_any(x, f, depth + 1)),
        Json::Array(_) | Json::Object(_) => f(Scalar::Object),
    }
}

/// A number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

impl Num {
    /// As a float.
    pub fn f(self) -> f64 {
        match self {
            Num::Int(n) => n as f64,
            Num::Float(x) => x,
        }
    }

    /// Back to a value.
    pub fn value(self) -> Value<'static> {
        match self {
            Num::Int(n) => Value::Int(n),
            Num::Float(x) => Value::Float(x),
        }
    }
}

/// Parses an integer or float written as text (surrounding spaces allowed).
pub fn parse_num(s: &str) -> Option<Num> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(Num::Int(n));
    }
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(Num::Float)
}

/// Case-insensitive string equality (ASCII fast path, Unicode lowercase otherwise).
pub fn eq_fold(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Equality of two elements: strings by text (case-folded when `fold`),
/// numbers by value, a string holding a number equals that number
/// (raw auditd fields are text), booleans equal `true`/`false` text.
pub fn scalar_eq(a: Scalar<'_>, b: Scalar<'_>, fold: bool) -> bool {
    use Scalar::*;
    match (a, b) {
        (Null, _) | (_, Null) | (Object, _) | (_, Object) => false,
        (Str(x), Str(y)) => {
            if fold {
                eq_fold(x, y)
            } else {
                x == y
            }
        }
        (Int(x), Int(y)) => x == y,
        (Int(_) | Float(_), Int(_) | Float(_)) => num(a) == num(b),
        (Str(s), Int(_) | Float(_)) | (Int(_) | Float(_), Str(s)) => {
            let n = if matches!(a, Str(_)) { b } else { a };
            parse_num(s).is_some_and(|p| match (p, n) {
                (Num::Int(x), Int(y)) => x == y,
                (p, n) => Some(p.f()) == num(n),
            })
        }
        (Bool(x), Bool(y)) => x == y,
        (Bool(x), Str(s)) | (Str(s), Bool(x)) => {
            s.eq_ignore_ascii_case(if x { "true" } else { "false" })
        }
        (Bool(_), _) | (_, Bool(_)) => false,
    }
}

fn num(s: Scalar<'_>) -> Option<f64> {
    match s {
        Scalar::Int(n) => Some(n as f64),
        Scalar::Float(x) => Some(x),
        _ => None,
    }
}

/// Ordering of two elements: numbers numerically (text that holds a number
/// counts as that number when the other side is a number), strings by bytes
/// (case-sensitive, like Elasticsearch keyword ranges). `None` when the two
/// cannot be ordered (null, booleans against numbers, ...).
pub fn scalar_cmp(a: Scalar<'_>, b: Scalar<'_>) -> Option<Ordering> {
    use Scalar::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(&y)),
        (Int(_) | Float(_), Int(_) | Float(_)) => num(a)?.partial_cmp(&num(b)?),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Str(s), Int(_) | Float(_)) => parse_num(s)?.f().partial_cmp(&num(b)?),
        (Int(_) | Float(_), Str(s)) => num(a)?.partial_cmp(&parse_num(s)?.f()),
        (Bool(x), Bool(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}
