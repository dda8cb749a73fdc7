//! Lowering the EQL syntax tree into an evaluable form, and evaluating it.
//!
//! Compilation resolves every field name once to a [`FieldRef`], folds
//! literal lists into sets, and compiles wildcards (through the IR's
//! [`StrMatch`], linear-time) and regexes (the `regex` crate) once.
//!
//! # Null semantics (Elasticsearch's, as its query translation gives them)
//!
//! Elasticsearch runs an EQL condition as a Lucene query where it can and as
//! a script where it must, and the two treat missing values differently.
//! We reproduce both:
//!
//! - A *field predicate* (a field compared with literals: `==`, `!=`, `<`,
//!   `:`, `like`, `regex`, `in`) on a missing field is **false**, and its
//!   negation (`!=`, `not in`, `not field : "x"`) is **true**: Elasticsearch
//!   turns `not`/`!=` into a `must_not` clause, which missing documents pass.
//! - Anything computed (a function call, arithmetic, a field compared with
//!   another field) is evaluated with three-valued logic: a `null` operand
//!   makes the comparison `null`, `not null` stays `null`, and `null` counts
//!   as false where it meets `and`/`or` or the top of the condition
//!   (Elasticsearch's `nullSafeFilter`).
//! - `field == null` / `field != null` test presence (an empty list is missing).
//! - A list-valued field (`process.args`, `event.category`) matches when any
//!   element does; `!=` and `not in` are the negations, so they hold only when
//!   no element matches.

use std::collections::HashSet;

use regex::{Regex, RegexBuilder};
use tripline_parsers::Event;
use tripline_parsers::ecs::FieldRef;

use super::EqlError;
use super::ast::{self, ArithOp, CmpOp, Expr, MatchOp, Segment};
use super::func::{self, Func};
use super::value::{Num, Scalar, Value, eq_fold, scalar_cmp, scalar_eq};
use crate::rule::ir::{GlobPart, StrMatch};

/// Compiled regexes may use at most this much memory each.
const REGEX_SIZE_LIMIT: usize = 1 << 22;

/// Literal sets larger than this are hashed.
const SET_HASH_MIN: usize = 12;

/// A compiled expression.
#[derive(Debug, Clone)]
pub enum CExpr {
    /// A literal.
    Const(Value<'static>),
    /// A field read.
    Field(CField),
    /// `not`.
    Not(Box<CExpr>),
    /// `and`.
    And(Vec<CExpr>),
    /// `or`.
    Or(Vec<CExpr>),
    /// `x == null` (`true`) / `x != null` (`false`).
    IsNull(Box<CExpr>, bool),
    /// A comparison.
    Cmp {
        /// Operator.
        op: CmpOp,
        /// Left side.
        lhs: Box<CExpr>,
        /// Right side.
        rhs: Box<CExpr>,
        /// A field against a literal (two-valued; see the module docs).
        query: bool,
    },
    /// `:`, `like`, `regex` against compiled patterns.
    Match {
        /// The value tested.
        lhs: Box<CExpr>,
        /// The patterns.
        pats: Vec<Pattern>,
        /// A field against literals.
        query: bool,
    },
    /// `in` / `in~` / `not in` against literals.
    InSet {
        /// The value tested.
        lhs: Box<CExpr>,
        /// The literals.
        set: LitSet,
        /// `not in`.
        negated: bool,
        /// A field against literals.
        query: bool,
    },
    /// `in` with computed candidates.
    InExprs {
        /// The value tested.
        lhs: Box<CExpr>,
        /// Candidates.
        list: Vec<CExpr>,
        /// `in~`.
        fold: bool,
        /// `not in`.
        negated: bool,
    },
    /// Arithmetic.
    Arith(ArithOp, Box<CExpr>, Box<CExpr>),
    /// A function call.
    Call(Box<func::Call>),
}

/// A field resolved to an event accessor, with array indices / keys below it.
#[derive(Debug, Clone, PartialEq)]
pub struct CField {
    /// The event field.
    pub base: FieldRef,
    /// `[0]`, `.key` after the base.
    pub rest: Vec<Segment>,
    /// Written as `?field`.
    pub optional: bool,
    /// The field as written.
    pub text: String,
}

impl CField {
    /// Reads the field from `ev`.
    pub fn get<'e>(&self, ev: &'e Event) -> Value<'e> {
        let mut v = Value::from_field(ev.get_ref(&self.base));
        for seg in &self.rest {
            v = match seg {
                Segment::Index(i) => v.index(*i),
                Segment::Name(k) => match v {
                    Value::Json(serde_json::Value::Object(m)) => {
                        m.get(k).map(Value::from_json).unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                },
            };
        }
        v
    }
}

/// One compiled pattern of `:`/`like`/`regex`.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A wildcard (or plain) pattern.
    Glob(StrMatch),
    /// A regular expression (whole-value match).
    Regex(Regex),
}

impl Pattern {
    /// True if `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        match self {
            Pattern::Glob(m) => m.is_match(s),
            Pattern::Regex(r) => r.is_match(s),
        }
    }
}

/// A set of literals for `in`.
#[derive(Debug, Clone, Default)]
pub struct LitSet {
    /// String literals (lowercased when `fold`).
    strs: Vec<String>,
    /// The same strings hashed, for big sets.
    hashed: Option<HashSet<String>>,
    /// Non-string literals.
    others: Vec<Value<'static>>,
    /// `in~`.
    fold: bool,
}

impl LitSet {
    /// The set's literals when all are strings (lowercased when `in~`);
    /// `None` when it also holds numbers or booleans.
    pub fn strings(&self) -> Option<&[String]> {
        self.others.is_empty().then_some(self.strs.as_slice())
    }

    fn contains(&self, x: Scalar<'_>) -> bool {
        if let Scalar::Str(s) = x {
            let hit = if let Some(h) = &self.hashed {
                if self.fold {
                    h.contains(&fold(s))
                } else {
                    h.contains(s)
                }
            } else if self.fold {
                self.strs.iter().any(|l| eq_fold(s, l))
            } else {
                self.strs.iter().any(|l| l == s)
            };
            if hit {
                return true;
            }
        } else if !self.strs.is_empty()
            && matches!(x, Scalar::Int(_) | Scalar::Float(_) | Scalar::Bool(_))
        {
            // `port in ("80")`: lenient, as `==` is.
            if self
                .strs
                .iter()
                .any(|l| scalar_eq(x, Scalar::Str(l), self.fold))
            {
                return true;
            }
        }
        self.others
            .iter()
            .any(|o| o.any(&mut |y| scalar_eq(x, y, self.fold)))
    }
}

fn fold(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// Three-valued truth: `None` is EQL's `null`.
pub type Tri = Option<bool>;

impl CExpr {
    /// True if the event satisfies the expression (`null` counts as false).
    pub fn matches(&self, ev: &Event) -> bool {
        self.truth(ev).unwrap_or(false)
    }

    /// Whether this node is evaluated like an Elasticsearch script
    /// (three-valued) rather than a query (two-valued).
    fn is_script(&self) -> bool {
        match self {
            CExpr::Cmp { query, .. } | CExpr::Match { query, .. } | CExpr::InSet { query, .. } => {
                !query
            }
            CExpr::InExprs { .. } | CExpr::Call(_) | CExpr::Arith(..) | CExpr::Field(_) => true,
            CExpr::Not(x) => x.is_script(),
            CExpr::Const(_) | CExpr::And(_) | CExpr::Or(_) | CExpr::IsNull(..) => false,
        }
    }

    /// The truth value of the expression for `ev`.
    pub fn truth(&self, ev: &Event) -> Tri {
        match self {
            CExpr::And(v) => Some(v.iter().all(|e| e.matches(ev))),
            CExpr::Or(v) => Some(v.iter().any(|e| e.matches(ev))),
            CExpr::Not(x) => {
                if x.is_script() {
                    x.truth(ev).map(|b| !b)
                } else {
                    Some(!x.matches(ev))
                }
            }
            CExpr::IsNull(x, want) => Some(x.eval(ev).is_null() == *want),
            CExpr::Cmp {
                op,
                lhs,
                rhs,
                query,
            } => {
                let a = lhs.eval(ev);
                let b = rhs.eval(ev);
                if a.is_null() || b.is_null() {
                    return if *query { Some(*op == CmpOp::Ne) } else { None };
                }
                Some(compare(*op, &a, &b))
            }
            CExpr::Match { lhs, pats, query } => {
                let a = lhs.eval(ev);
                if a.is_null() {
                    return if *query { Some(false) } else { None };
                }
                Some(a.any(&mut |x| match x {
                    Scalar::Str(s) => pats.iter().any(|p| p.is_match(s)),
                    Scalar::Int(n) => {
                        let s = n.to_string();
                        pats.iter().any(|p| p.is_match(&s))
                    }
                    Scalar::Float(f) => {
                        let s = f.to_string();
                        pats.iter().any(|p| p.is_match(&s))
                    }
                    Scalar::Bool(b) => {
                        let s = if b { "true" } else { "false" };
                        pats.iter().any(|p| p.is_match(s))
                    }
                    Scalar::Null | Scalar::Object => false,
                }))
            }
            CExpr::InSet {
                lhs,
                set,
                negated,
                query,
            } => {
                let a = lhs.eval(ev);
                if a.is_null() {
                    return if *query { Some(*negated) } else { None };
                }
                Some(a.any(&mut |x| set.contains(x)) != *negated)
            }
            CExpr::InExprs {
                lhs,
                list,
                fold,
                negated,
            } => {
                let a = lhs.eval(ev);
                if a.is_null() {
                    return None;
                }
                let found = list.iter().any(|c| {
                    let b = c.eval(ev);
                    a.any(&mut |x| b.any(&mut |y| scalar_eq(x, y, *fold)))
                });
                Some(found != *negated)
            }
            other => match other.eval(ev).first() {
                Value::Null => None,
                Value::Bool(b) => Some(b),
                Value::Int(n) => Some(n != 0),
                Value::Float(x) => Some(x != 0.0),
                Value::Str(s) => Some(!s.is_empty()),
                _ => Some(true),
            },
        }
    }

    /// The value of the expression for `ev`.
    pub fn eval<'e>(&'e self, ev: &'e Event) -> Value<'e> {
        match self {
            CExpr::Const(v) => borrow(v),
            CExpr::Field(f) => f.get(ev),
            CExpr::Arith(op, a, b) => {
                let (Some(x), Some(y)) = (a.eval(ev).first().as_num(), b.eval(ev).first().as_num())
                else {
                    return Value::Null;
                };
                func::arith(*op, x, y)
                    .map(Num::value)
                    .unwrap_or(Value::Null)
            }
            CExpr::Call(c) => c.eval(ev),
            other => match other.truth(ev) {
                Some(b) => Value::Bool(b),
                None => Value::Null,
            },
        }
    }
}

/// A literal as a value borrowing its text (no allocation per event).
fn borrow<'e>(v: &'e Value<'static>) -> Value<'e> {
    match v {
        Value::Str(s) => Value::Str(std::borrow::Cow::Borrowed(s.as_ref())),
        other => other.clone(),
    }
}

fn compare(op: CmpOp, a: &Value<'_>, b: &Value<'_>) -> bool {
    match op {
        CmpOp::Eq => a.any(&mut |x| b.any(&mut |y| scalar_eq(x, y, false))),
        CmpOp::Ne => !a.any(&mut |x| b.any(&mut |y| scalar_eq(x, y, false))),
        _ => a.any(&mut |x| {
            b.any(&mut |y| {
                scalar_cmp(x, y).is_some_and(|o| match op {
                    CmpOp::Lt => o.is_lt(),
                    CmpOp::Le => o.is_le(),
                    CmpOp::Gt => o.is_gt(),
                    CmpOp::Ge => o.is_ge(),
                    CmpOp::Eq | CmpOp::Ne => false,
                })
            })
        }),
    }
}

/// Lowers AST expressions; remembers every field it resolved.
pub struct Compiler<'s> {
    src: &'s str,
    /// Every field the query reads (for `--explain` and the unknown-field report).
    pub fields: Vec<CField>,
}

impl<'s> Compiler<'s> {
    /// A compiler for expressions parsed from `src` (for error positions).
    pub fn new(src: &'s str) -> Self {
        Compiler {
            src,
            fields: Vec::new(),
        }
    }

    fn err(&self, at: usize, msg: String) -> EqlError {
        EqlError::at(self.src, at, msg)
    }

    /// Compiles an expression.
    ///
    /// # Errors
    /// Unknown functions, wrong argument counts, bad patterns, non-constant
    /// patterns, with the position of the construct.
    pub fn expr(&mut self, e: &Expr) -> Result<CExpr, EqlError> {
        Ok(match e {
            Expr::Null => CExpr::Const(Value::Null),
            Expr::Bool(b) => CExpr::Const(Value::Bool(*b)),
            Expr::Int(n) => CExpr::Const(Value::Int(*n)),
            Expr::Float(x) => CExpr::Const(Value::Float(*x)),
            Expr::Str(s) => CExpr::Const(Value::Str(s.clone().into())),
            Expr::Field(f) => CExpr::Field(self.field(f)),
            Expr::Not(x) => match self.expr(x)? {
                CExpr::Not(inner) => *inner,
                CExpr::Const(Value::Bool(b)) => CExpr::Const(Value::Bool(!b)),
                c => CExpr::Not(Box::new(c)),
            },
            Expr::And(v) => CExpr::And(v.iter().map(|x| self.expr(x)).collect::<Result<_, _>>()?),
            Expr::Or(v) => CExpr::Or(v.iter().map(|x| self.expr(x)).collect::<Result<_, _>>()?),
            Expr::Neg(x) => CExpr::Arith(
                ArithOp::Sub,
                Box::new(CExpr::Const(Value::Int(0))),
                Box::new(self.expr(x)?),
            ),
            Expr::Arith(op, a, b) => {
                CExpr::Arith(*op, Box::new(self.expr(a)?), Box::new(self.expr(b)?))
            }
            Expr::Cmp(op, a, b, _) => {
                // `x == null` / `null != x`: presence tests.
                let (a, b) = if matches!(**a, Expr::Null) {
                    (b, a)
                } else {
                    (a, b)
                };
                if matches!(**b, Expr::Null) && matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return Ok(CExpr::IsNull(Box::new(self.expr(a)?), *op == CmpOp::Eq));
                }
                let query = is_field(a) && is_literal(b);
                CExpr::Cmp {
                    op: *op,
                    lhs: Box::new(self.expr(a)?),
                    rhs: Box::new(self.expr(b)?),
                    query,
                }
            }
            Expr::Match {
                op,
                insensitive,
                lhs,
                patterns,
                span,
            } => {
                let mut pats = Vec::with_capacity(patterns.len());
                for p in patterns {
                    let text = match p {
                        Expr::Str(s) => s.clone(),
                        Expr::Int(n) => n.to_string(),
                        Expr::Float(x) => x.to_string(),
                        Expr::Bool(b) => b.to_string(),
                        _ => {
                            return Err(self.err(
                                span.start,
                                "the right side of ':', 'like' and 'regex' must be string literals"
                                    .into(),
                            ));
                        }
                    };
                    pats.push(self.pattern(*op, *insensitive, &text, span.start)?);
                }
                CExpr::Match {
                    query: is_field(lhs),
                    lhs: Box::new(self.expr(lhs)?),
                    pats,
                }
            }
            Expr::In {
                lhs,
                list,
                insensitive,
                negated,
                ..
            } => {
                let c_lhs = Box::new(self.expr(lhs)?);
                if list.iter().all(is_literal) {
                    let mut set = LitSet {
                        fold: *insensitive,
                        ..LitSet::default()
                    };
                    for x in list {
                        match x {
                            Expr::Str(s) => {
                                set.strs
                                    .push(if *insensitive { fold(s) } else { s.clone() })
                            }
                            Expr::Null => {}
                            other => {
                                if let CExpr::Const(v) = self.expr(other)? {
                                    set.others.push(v);
                                }
                            }
                        }
                    }
                    if set.strs.len() >= SET_HASH_MIN {
                        set.hashed = Some(set.strs.iter().cloned().collect());
                    }
                    CExpr::InSet {
                        query: is_field(lhs),
                        lhs: c_lhs,
                        set,
                        negated: *negated,
                    }
                } else {
                    CExpr::InExprs {
                        lhs: c_lhs,
                        list: list
                            .iter()
                            .map(|x| self.expr(x))
                            .collect::<Result<_, _>>()?,
                        fold: *insensitive,
                        negated: *negated,
                    }
                }
            }
            Expr::Call {
                name,
                insensitive,
                args,
                span,
            } => {
                let Some(f) = Func::lookup(name) else {
                    return Err(self.err(span.start, format!("unknown function {name}()")));
                };
                let cargs = args
                    .iter()
                    .map(|x| self.expr(x))
                    .collect::<Result<Vec<_>, _>>()?;
                let call = func::Call::new(f, *insensitive, cargs)
                    .map_err(|m| self.err(span.start, format!("{name}(): {m}")))?;
                CExpr::Call(Box::new(call))
            }
        })
    }

    fn field(&mut self, f: &ast::FieldPath) -> CField {
        let prefix = f.dotted_prefix();
        let names = f
            .segments
            .iter()
            .take_while(|s| matches!(s, Segment::Name(_)))
            .count();
        let c = CField {
            base: FieldRef::resolve(&prefix),
            rest: f.segments[names..].to_vec(),
            optional: f.optional,
            text: f.to_string(),
        };
        if !self.fields.contains(&c) {
            self.fields.push(c.clone());
        }
        c
    }

    fn pattern(
        &self,
        op: MatchOp,
        insensitive: bool,
        text: &str,
        at: usize,
    ) -> Result<Pattern, EqlError> {
        match op {
            MatchOp::Colon | MatchOp::Like => {
                let cased = op == MatchOp::Like && !insensitive;
                let mut parts = Vec::new();
                let mut lit = String::new();
                for c in text.chars() {
                    match c {
                        '*' | '?' => {
                            if !lit.is_empty() {
                                parts.push(GlobPart::Lit(std::mem::take(&mut lit)));
                            }
                            parts.push(if c == '*' {
                                GlobPart::Star
                            } else {
                                GlobPart::One
                            });
                        }
                        c => lit.push(c),
                    }
                }
                if !lit.is_empty() {
                    parts.push(GlobPart::Lit(lit));
                }
                StrMatch::new(parts, cased)
                    .map(Pattern::Glob)
                    .map_err(|m| self.err(at, m))
            }
            MatchOp::Regex => regex(text, insensitive)
                .map(Pattern::Regex)
                .map_err(|m| self.err(at, m)),
        }
    }
}

/// Compiles an EQL (Lucene-dialect) regular expression for a whole-value match.
///
/// Lucene's optional operators (`@`, `&`, `~`, `<n-m>`, `#`) have no
/// equivalent here and are reported; escapes of punctuation that Rust's regex
/// syntax does not know (`\_`, `\/`) are accepted.
pub fn regex(pattern: &str, insensitive: bool) -> Result<Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() || e == ' ' => {
                    out.push_str(&regex::escape(&e.to_string()));
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => return Err(format!("regex {pattern:?} ends with a backslash")),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A leading `]` or `^]` is literal.
                let rest = chars.as_str();
                if let Some(r) = rest.strip_prefix('^') {
                    out.push('^');
                    chars.next();
                    if r.starts_with(']') {
                        out.push_str("\\]");
                        chars.next();
                    }
                } else if rest.starts_with(']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '@' | '&' | '~' | '#' | '<' | '>' if !in_class => {
                return Err(format!(
                    "regex {pattern:?}: the Lucene operator '{c}' is not supported (escape it to match it literally)"
                ));
            }
            '"' if !in_class => out.push('"'),
            c => out.push(c),
        }
    }
    RegexBuilder::new(&format!("^(?:{out})$"))
        .case_insensitive(insensitive)
        .dot_matches_new_line(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pattern:?}: {e}"))
}

fn is_field(e: &Expr) -> bool {
    matches!(e, Expr::Field(_))
}

fn is_literal(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Null | Expr::Bool(_) | Expr::Int(_) | Expr::Float(_) | Expr::Str(_)
    )
}
