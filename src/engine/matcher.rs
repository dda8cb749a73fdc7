//! Exact evaluation of the rule IR against one event.
//!
//! Pure functions of (compiled rule, event): no state, no allocation on the
//! common paths (integers are formatted on the stack when a string pattern
//! meets an integer field; non-ASCII case folding is done by the regex engine).
//!
//! # Semantics
//!
//! - A field holding a list matches when any element matches.
//! - An absent field matches only `null` and `exists: false`.
//! - Integers compare as numbers and as their decimal text (Sigma
//!   `DestinationPort: 80` against an integer field, `'80'` against either).

use std::io::Write as _;

use serde_json::Value;
use tripline_parsers::{Event, FieldValue};

use crate::rule::ir::{Detection, Expr, Field, FieldRefMatch, Predicate, Test};

/// True if the event passes the detection's filter and condition.
pub fn matches(d: &Detection, ev: &Event) -> bool {
    eval(&d.filter, ev) && eval(&d.condition, ev)
}

/// Evaluates an expression.
pub fn eval(e: &Expr, ev: &Event) -> bool {
    match e {
        Expr::Const(b) => *b,
        Expr::And(v) => v.iter().all(|e| eval(e, ev)),
        Expr::Or(v) => v.iter().any(|e| eval(e, ev)),
        Expr::AtLeast(n, v) => {
            let mut hits = 0;
            for e in v {
                if eval(e, ev) {
                    hits += 1;
                    if hits >= *n {
                        return true;
                    }
                }
            }
            false
        }
        Expr::Not(e) => !eval(e, ev),
        Expr::Pred(p) => predicate(p, ev),
        Expr::Eql(q) => q.matches(ev),
    }
}

/// Evaluates one predicate.
pub fn predicate(p: &Predicate, ev: &Event) -> bool {
    match &p.test {
        Test::FieldRef(r) => return field_ref(p, r, ev),
        Test::TimePart(part, op, n) => {
            // Integers are nanoseconds since the epoch (`@timestamp`), strings RFC 3339.
            return texts(ev, &p.field, &mut |s, int| {
                let x = match int {
                    Some(ns) => part.of_ns(ns),
                    None => part.of_str(s),
                };
                x.is_some_and(|x| op.apply(x as f64, *n))
            });
        }
        _ => {}
    }
    if !p.field.inner.is_empty() {
        // A structured field still in its parser's compact form
        // (`auditd.records`): its string leaves, without building JSON.
        if let Some(lv) = ev.lazy_value(&p.field.base)
            && let Some(found) = lv.any_leaf(&p.field.inner, &mut |s| match &p.test {
                Test::Exists(want) => *want,
                Test::Null => s.is_empty(),
                t => string(t, s),
            })
        {
            return found.unwrap_or(matches!(p.test, Test::Null | Test::Exists(false)));
        }
        return inner(p, ev.get_ref(&p.field.base));
    }
    let v = ev.get_ref(&p.field.base);
    match v {
        None => matches!(p.test, Test::Null | Test::Exists(false)),
        Some(v) => match &p.test {
            Test::Exists(want) => *want,
            Test::Null => match v {
                FieldValue::Str(s) => s.is_empty(),
                FieldValue::Strs(l) => l.is_empty(),
                FieldValue::Json(j) => json_empty(j),
                FieldValue::Int(_) => false,
            },
            t => value(t, v),
        },
    }
}

/// A predicate on `base[].inner...`: the leaves reached through objects and arrays.
fn inner(p: &Predicate, v: Option<FieldValue<'_>>) -> bool {
    let Some(FieldValue::Json(j)) = v else {
        return matches!(p.test, Test::Null | Test::Exists(false));
    };
    let found = any_leaf(j, &p.field.inner, &mut |leaf| match &p.test {
        Test::Exists(want) => *want,
        Test::Null => json_empty(leaf),
        t => json(t, leaf),
    });
    match found {
        None => matches!(p.test, Test::Null | Test::Exists(false)),
        Some(b) => b,
    }
}

/// Applies `f` to the values at `path` below `j` (arrays searched element by
/// element); `None` when there is no such value, else whether `f` held for any.
fn any_leaf(j: &Value, path: &[String], f: &mut dyn FnMut(&Value) -> bool) -> Option<bool> {
    match j {
        Value::Null => None,
        Value::Array(a) => {
            let mut found = None;
            for x in a {
                match any_leaf(x, path, f) {
                    Some(true) => return Some(true),
                    Some(false) => found = Some(false),
                    None => {}
                }
            }
            found
        }
        _ if path.is_empty() => Some(f(j)),
        Value::Object(m) => member(m, &path[0]).and_then(|x| any_leaf(x, &path[1..], f)),
        _ => None,
    }
}

/// `m[key]`. Small objects (an auditd record and its fields) are searched by
/// comparing keys: cheaper than hashing the key, the same answer (keys are unique).
fn member<'a>(m: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    if m.len() <= 16 {
        m.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| v)
    } else {
        m.get(key)
    }
}

/// Sigma `fieldref`: some value of the field matches some value of the other field.
fn field_ref(p: &Predicate, r: &FieldRefMatch, ev: &Event) -> bool {
    texts(ev, &p.field, &mut |hay, _| {
        texts(ev, &r.other, &mut |pat, _| r.is_match(hay, pat))
    })
}

/// Calls `f` on the text of every scalar value of `field` (integers also
/// passed as numbers) until it returns true; false when none did or the field
/// is absent.
fn texts(ev: &Event, field: &Field, f: &mut dyn FnMut(&str, Option<i64>) -> bool) -> bool {
    fn json_texts(j: &Value, f: &mut dyn FnMut(&str, Option<i64>) -> bool) -> bool {
        match j {
            Value::Null | Value::Object(_) => false,
            Value::Bool(b) => f(if *b { "true" } else { "false" }, None),
            Value::Number(n) => match n.as_i64() {
                Some(i) => int_text(i, f),
                None => f(&n.to_string(), None),
            },
            Value::String(s) => f(s, None),
            Value::Array(a) => a.iter().any(|x| json_texts(x, f)),
        }
    }
    if !field.inner.is_empty()
        && let Some(lv) = ev.lazy_value(&field.base)
        && let Some(found) = lv.any_leaf(&field.inner, &mut |s| f(s, None))
    {
        return found.unwrap_or(false);
    }
    let v = ev.get_ref(&field.base);
    if !field.inner.is_empty() {
        let Some(FieldValue::Json(j)) = v else {
            return false;
        };
        return any_leaf(j, &field.inner, &mut |leaf| json_texts(leaf, f)).unwrap_or(false);
    }
    match v {
        None => false,
        Some(FieldValue::Str(s)) => f(s, None),
        Some(FieldValue::Int(n)) => int_text(n, f),
        Some(FieldValue::Strs(l)) => l.iter().any(|s| f(s, None)),
        Some(FieldValue::Json(j)) => json_texts(j, f),
    }
}

/// Formats `n` on the stack and passes it to `f`.
fn int_text(n: i64, f: &mut dyn FnMut(&str, Option<i64>) -> bool) -> bool {
    let mut buf = [0u8; 24];
    let mut w = &mut buf[..];
    let _ = write!(w, "{n}");
    let len = 24 - w.len();
    std::str::from_utf8(&buf[..len]).is_ok_and(|s| f(s, Some(n)))
}

fn json_empty(j: &Value) -> bool {
    match j {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn value(t: &Test, v: FieldValue<'_>) -> bool {
    match v {
        FieldValue::Str(s) => string(t, s),
        FieldValue::Int(n) => int(t, n),
        FieldValue::Strs(l) => l.iter().any(|s| string(t, s)),
        FieldValue::Json(j) => json(t, j),
    }
}

fn string(t: &Test, s: &str) -> bool {
    match t {
        Test::Str(m) => m.is_match(s),
        Test::Regex(r) => r.regex.is_match(s),
        Test::Cidr(c) => c.contains_str(s),
        Test::Int(n) => {
            let s = s.trim();
            s.parse::<i64>().is_ok_and(|x| x == *n)
                || s.parse::<f64>().is_ok_and(|x| x == *n as f64)
        }
        Test::Cmp(op, x) => s.trim().parse::<f64>().is_ok_and(|v| op.apply(v, *x)),
        Test::Bool(b) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Test::Null => s.is_empty(),
        Test::Exists(want) => *want,
        Test::FieldRef(_) | Test::TimePart(..) => false,
    }
}

fn int(t: &Test, n: i64) -> bool {
    match t {
        Test::Int(x) => n == *x,
        Test::Cmp(op, x) => op.apply(n as f64, *x),
        Test::Str(_) | Test::Regex(_) => {
            let mut buf = [0u8; 24];
            let mut w = &mut buf[..];
            let _ = write!(w, "{n}");
            let len = 24 - w.len();
            std::str::from_utf8(&buf[..len]).is_ok_and(|s| string(t, s))
        }
        Test::Bool(_) | Test::Cidr(_) | Test::Null | Test::FieldRef(_) | Test::TimePart(..) => {
            false
        }
        Test::Exists(want) => *want,
    }
}

fn json(t: &Test, j: &Value) -> bool {
    match j {
        Value::Null => matches!(t, Test::Null | Test::Exists(false)),
        Value::Bool(b) => match t {
            Test::Bool(x) => b == x,
            _ => string(t, if *b { "true" } else { "false" }),
        },
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => int(t, i),
            (None, Some(f)) => match t {
                Test::Cmp(op, x) => op.apply(f, *x),
                Test::Int(x) => f == *x as f64,
                _ => string(t, &n.to_string()),
            },
            _ => false,
        },
        Value::String(s) => string(t, s),
        Value::Array(a) => a.iter().any(|x| json(t, x)),
        Value::Object(_) => matches!(t, Test::Exists(true)),
    }
}
