//! EQL functions (Elasticsearch's function reference), compiled once.
//!
//! Names are matched case-insensitively (`cidrmatch` = `cidrMatch`); a `~`
//! after the name selects the case-insensitive variant where one exists.
//! A `null` argument makes a function `null` (except `concat`, which skips
//! nulls only when Elasticsearch does not: it returns `null`), and a
//! list-valued argument stands for its elements where the function tests
//! strings (`startsWith(process.args, "-")` holds if any argument does).

use std::borrow::Cow;

use tripline_parsers::Event;

use super::ast::ArithOp;
use super::compile::{CExpr, regex};
use super::value::{Num, Scalar, Value, eq_fold};
use crate::rule::ir::{Cidr, GlobPart, StrMatch};

/// A supported function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `add(a, b)`
    Add,
    /// `between(source, left, right[, greedy])`
    Between,
    /// `cidrMatch(ip, cidr...)`
    CidrMatch,
    /// `concat(...)`
    Concat,
    /// `divide(a, b)`
    Divide,
    /// `endsWith(s, suffix)`
    EndsWith,
    /// `indexOf(s, sub[, start])`
    IndexOf,
    /// `length(s)`
    Length,
    /// `modulo(a, b)`
    Modulo,
    /// `multiply(a, b)`
    Multiply,
    /// `number(s[, base])`
    Number,
    /// `startsWith(s, prefix)`
    StartsWith,
    /// `string(x)`
    String,
    /// `stringContains(s, sub)`
    StringContains,
    /// `substring(s, start[, end])`
    Substring,
    /// `subtract(a, b)`
    Subtract,
    /// `wildcard(s, pattern...)` (the eql language's form of `like~`)
    Wildcard,
    /// `match(s, regex...)` (the eql language's form of `regex`)
    Match,
}

impl Func {
    /// The function with this name (case-insensitive).
    pub fn lookup(name: &str) -> Option<Func> {
        Some(match name.to_ascii_lowercase().as_str() {
            "add" => Func::Add,
            "between" => Func::Between,
            "cidrmatch" => Func::CidrMatch,
            "concat" => Func::Concat,
            "divide" => Func::Divide,
            "endswith" => Func::EndsWith,
            "indexof" => Func::IndexOf,
            "length" => Func::Length,
            "modulo" => Func::Modulo,
            "multiply" => Func::Multiply,
            "number" => Func::Number,
            "startswith" => Func::StartsWith,
            "string" => Func::String,
            "stringcontains" => Func::StringContains,
            "substring" => Func::Substring,
            "subtract" => Func::Subtract,
            "wildcard" => Func::Wildcard,
            "match" => Func::Match,
            _ => return None,
        })
    }

    /// (minimum, maximum) argument counts.
    fn arity(self) -> (usize, usize) {
        match self {
            Func::Add | Func::Divide | Func::Modulo | Func::Multiply | Func::Subtract => (2, 2),
            Func::Between => (3, 4),
            Func::CidrMatch | Func::Wildcard | Func::Match => (2, usize::MAX),
            Func::Concat => (1, usize::MAX),
            Func::EndsWith | Func::StartsWith | Func::StringContains => (2, 2),
            Func::IndexOf => (2, 3),
            Func::Length | Func::String => (1, 1),
            Func::Number => (1, 2),
            Func::Substring => (2, 3),
        }
    }

    fn has_insensitive(self) -> bool {
        matches!(
            self,
            Func::Between
                | Func::EndsWith
                | Func::IndexOf
                | Func::StartsWith
                | Func::StringContains
                | Func::Wildcard
                | Func::Match
        )
    }
}

/// A compiled call.
#[derive(Debug, Clone)]
pub struct Call {
    func: Func,
    fold: bool,
    args: Vec<CExpr>,
    /// `cidrMatch` networks, when every network argument is a literal.
    cidrs: Vec<Cidr>,
    /// `wildcard`/`match` patterns, compiled once.
    pats: Vec<super::compile::Pattern>,
}

impl Call {
    /// Checks the arguments and precompiles literal networks and patterns.
    ///
    /// # Errors
    /// Wrong argument count, `~` on a function without a case-insensitive
    /// variant, an invalid CIDR, wildcard or regex, or a non-literal pattern.
    pub fn new(func: Func, fold: bool, args: Vec<CExpr>) -> Result<Call, String> {
        let (min, max) = func.arity();
        if args.len() < min || args.len() > max {
            return Err(if min == max {
                format!("takes {min} arguments, got {}", args.len())
            } else if max == usize::MAX {
                format!("takes at least {min} arguments, got {}", args.len())
            } else {
                format!("takes {min} to {max} arguments, got {}", args.len())
            });
        }
        if fold && !func.has_insensitive() {
            return Err("has no case-insensitive (~) variant".into());
        }
        let mut call = Call {
            func,
            fold,
            args,
            cidrs: Vec::new(),
            pats: Vec::new(),
        };
        let lits = |args: &[CExpr]| -> Result<Vec<String>, String> {
            args.iter()
                .map(|a| match a {
                    CExpr::Const(Value::Str(s)) => Ok(s.to_string()),
                    _ => Err("patterns must be string literals".to_string()),
                })
                .collect()
        };
        match func {
            Func::CidrMatch => {
                for s in lits(&call.args[1..])? {
                    call.cidrs.push(Cidr::parse(&s)?);
                }
            }
            Func::Wildcard => {
                for s in lits(&call.args[1..])? {
                    // Case-insensitive, as in the eql language.
                    call.pats
                        .push(super::compile::Pattern::Glob(glob(&s, false)?));
                }
            }
            Func::Match => {
                for s in lits(&call.args[1..])? {
                    call.pats
                        .push(super::compile::Pattern::Regex(regex(&s, fold)?));
                }
            }
            _ => {}
        }
        Ok(call)
    }

    /// Evaluates the call.
    pub fn eval<'e>(&'e self, ev: &'e Event) -> Value<'e> {
        let arg = |i: usize| self.args[i].eval(ev);
        let fold = self.fold;
        match self.func {
            Func::Add | Func::Subtract | Func::Multiply | Func::Divide | Func::Modulo => {
                let op = match self.func {
                    Func::Add => ArithOp::Add,
                    Func::Subtract => ArithOp::Sub,
                    Func::Multiply => ArithOp::Mul,
                    Func::Divide => ArithOp::Div,
                    _ => ArithOp::Mod,
                };
                match (arg(0).first().as_num(), arg(1).first().as_num()) {
                    (Some(a), Some(b)) => arith(op, a, b).map(Num::value).unwrap_or(Value::Null),
                    _ => Value::Null,
                }
            }
            Func::StartsWith | Func::EndsWith | Func::StringContains => {
                let (s, sub) = (arg(0), arg(1));
                let Some(sub) = sub.to_text() else {
                    return Value::Null;
                };
                if s.is_null() {
                    return Value::Null;
                }
                let f = self.func;
                Value::Bool(s.any(&mut |x| match x {
                    Scalar::Str(h) => str_test(f, h, &sub, fold),
                    Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_) => {
                        let h = scalar_text(x);
                        str_test(f, &h, &sub, fold)
                    }
                    _ => false,
                }))
            }
            Func::CidrMatch => {
                let ip = arg(0);
                if ip.is_null() {
                    return Value::Null;
                }
                let nets = &self.cidrs;
                Value::Bool(ip.any(&mut |x| match x {
                    Scalar::Str(s) => nets.iter().any(|c| c.contains_str(s)),
                    _ => false,
                }))
            }
            Func::Wildcard | Func::Match => {
                let s = arg(0);
                if s.is_null() {
                    return Value::Null;
                }
                Value::Bool(s.any(&mut |x| match x {
                    Scalar::Str(h) => self.pats.iter().any(|p| p.is_match(h)),
                    _ => false,
                }))
            }
            Func::Concat => {
                let mut out = String::new();
                for a in &self.args {
                    match a.eval(ev).to_text() {
                        Some(t) => out.push_str(&t),
                        None => return Value::Null,
                    }
                }
                Value::Str(Cow::Owned(out))
            }
            Func::Length => {
                let v = arg(0);
                if let Some(n) = v.list_len() {
                    return Value::Int(n as i64);
                }
                match v.to_text() {
                    Some(t) => Value::Int(t.chars().count() as i64),
                    None => Value::Null,
                }
            }
            Func::String => match arg(0).to_text() {
                Some(t) => Value::Str(Cow::Owned(t)),
                None => Value::Null,
            },
            Func::Number => {
                let Some(t) = arg(0).to_text() else {
                    return Value::Null;
                };
                let base = if self.args.len() > 1 {
                    match arg(1).first().as_num() {
                        Some(Num::Int(b)) if (2..=36).contains(&b) => b as u32,
                        _ => return Value::Null,
                    }
                } else {
                    10
                };
                let t = t.trim();
                if base == 10 {
                    return super::value::parse_num(t)
                        .map(Num::value)
                        .unwrap_or(Value::Null);
                }
                let digits = if base == 16 {
                    t.strip_prefix("0x")
                        .or_else(|| t.strip_prefix("0X"))
                        .unwrap_or(t)
                } else {
                    t
                };
                i64::from_str_radix(digits, base)
                    .map(Value::Int)
                    .unwrap_or(Value::Null)
            }
            Func::IndexOf => {
                let (Some(s), Some(sub)) = (arg(0).to_text(), arg(1).to_text()) else {
                    return Value::Null;
                };
                let start = if self.args.len() > 2 {
                    match arg(2).first().as_num() {
                        Some(Num::Int(n)) => n.max(0) as usize,
                        None => 0,
                        _ => return Value::Null,
                    }
                } else {
                    0
                };
                let (s, sub) = if fold {
                    (s.to_lowercase(), sub.to_lowercase())
                } else {
                    (s, sub)
                };
                let chars: Vec<(usize, char)> = s.char_indices().collect();
                if start > chars.len() {
                    return Value::Null;
                }
                let from = chars.get(start).map(|(b, _)| *b).unwrap_or(s.len());
                match s[from..].find(&sub) {
                    Some(b) => {
                        let byte = from + b;
                        Value::Int(chars.iter().take_while(|(i, _)| *i < byte).count() as i64)
                    }
                    None => Value::Null,
                }
            }
            Func::Substring => {
                let Some(s) = arg(0).to_text() else {
                    return Value::Null;
                };
                let chars: Vec<char> = s.chars().collect();
                let len = chars.len() as i64;
                let norm = |i: i64| -> i64 { if i < 0 { (len + i).max(0) } else { i.min(len) } };
                let start = match arg(1).first().as_num() {
                    Some(Num::Int(n)) => norm(n),
                    _ => return Value::Null,
                };
                let end = if self.args.len() > 2 {
                    match arg(2).first() {
                        Value::Null => len,
                        v => match v.as_num() {
                            Some(Num::Int(n)) => norm(n),
                            _ => return Value::Null,
                        },
                    }
                } else {
                    len
                };
                if start >= end {
                    return Value::Str(Cow::Borrowed(""));
                }
                Value::Str(Cow::Owned(
                    chars[start as usize..end as usize].iter().collect(),
                ))
            }
            Func::Between => {
                let (Some(s), Some(l), Some(r)) =
                    (arg(0).to_text(), arg(1).to_text(), arg(2).to_text())
                else {
                    return Value::Null;
                };
                let greedy = self.args.len() > 3 && matches!(arg(3).first(), Value::Bool(true));
                let (hs, ls, rs) = if fold {
                    (s.to_lowercase(), l.to_lowercase(), r.to_lowercase())
                } else {
                    (s.clone(), l, r)
                };
                // Byte offsets of the folded text map back only when folding kept the length.
                let same = hs.len() == s.len();
                let Some(a) = hs.find(&ls) else {
                    return Value::Str(Cow::Borrowed(""));
                };
                let from = a + ls.len();
                let end = if greedy {
                    hs[from..].rfind(&rs)
                } else {
                    hs[from..].find(&rs)
                };
                match end {
                    Some(e) => {
                        let src = if same { &s } else { &hs };
                        Value::Str(Cow::Owned(src[from..from + e].to_string()))
                    }
                    None => Value::Str(Cow::Borrowed("")),
                }
            }
        }
    }
}

fn scalar_text(x: Scalar<'_>) -> String {
    match x {
        Scalar::Int(n) => n.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Str(s) => s.to_string(),
        Scalar::Null | Scalar::Object => String::new(),
    }
}

fn str_test(f: Func, h: &str, sub: &str, fold: bool) -> bool {
    if !fold {
        return match f {
            Func::StartsWith => h.starts_with(sub),
            Func::EndsWith => h.ends_with(sub),
            _ => h.contains(sub),
        };
    }
    if h.is_ascii() && sub.is_ascii() {
        let (hb, sb) = (h.as_bytes(), sub.as_bytes());
        return match f {
            Func::StartsWith => hb.len() >= sb.len() && hb[..sb.len()].eq_ignore_ascii_case(sb),
            Func::EndsWith => {
                hb.len() >= sb.len() && hb[hb.len() - sb.len()..].eq_ignore_ascii_case(sb)
            }
            _ => sb.is_empty() || hb.windows(sb.len()).any(|w| w.eq_ignore_ascii_case(sb)),
        };
    }
    let (h, sub) = (h.to_lowercase(), sub.to_lowercase());
    let _ = eq_fold;
    match f {
        Func::StartsWith => h.starts_with(&sub),
        Func::EndsWith => h.ends_with(&sub),
        _ => h.contains(&sub),
    }
}

fn glob(text: &str, cased: bool) -> Result<StrMatch, String> {
    let mut parts = Vec::new();
    for c in text.chars() {
        parts.push(match c {
            '*' => GlobPart::Star,
            '?' => GlobPart::One,
            c => GlobPart::Lit(c.to_string()),
        });
    }
    StrMatch::new(parts, cased)
}

/// Integer arithmetic stays integral (checked; overflow and division by zero
/// give `None`, i.e. `null`); anything with a float is float arithmetic.
pub fn arith(op: ArithOp, a: Num, b: Num) -> Option<Num> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Div => x.checked_div(y),
            ArithOp::Mod => x.checked_rem(y),
        }
        .map(Num::Int),
        _ => {
            let (x, y) = (a.f(), b.f());
            let r = match op {
                ArithOp::Add => x + y,
                ArithOp::Sub => x - y,
                ArithOp::Mul => x * y,
                ArithOp::Div if y == 0.0 => return None,
                ArithOp::Div => x / y,
                ArithOp::Mod if y == 0.0 => return None,
                ArithOp::Mod => x % y,
            };
            r.is_finite().then_some(Num::Float(r))
        }
    }
}
