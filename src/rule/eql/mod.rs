//! EQL, the Event Query Language of Elastic's detection rules: parser,
//! compiler and evaluator of our own.
//!
//! [`compile`] turns query text into an [`EqlQuery`]: a single-event
//! filter (`process where ...`, `any where ...`) or a [`SequenceSpec`]
//! (`sequence by ... with maxspan=... [..] [..] until [..]`). Every error —
//! syntax, unknown function, bad regex, a construct we do not run — is an
//! [`EqlError`] with the line and column in the query.
//!
//! The grammar and semantics follow Elasticsearch's EQL syntax and function
//! reference: `==` is case-sensitive, `:` and the `~` forms (`in~`, `like~`,
//! `regex~`, `startsWith~`, ...) are not; `:` and `like` take `*` and `?`
//! wildcards; `regex` matches the whole value; a category matches when
//! `event.category` (a list in ECS) contains it. How missing fields behave is
//! in [`compile`](self::compile) ("Null semantics").
//!
//! # Example
//!
//! ```
//! use tripline::rule::eql;
//! use tripline::Event;
//!
//! let q = eql::compile(r#"process where process.name : "CURL" and process.args[1] == "-s""#).unwrap();
//! let ev = Event::from_json(&serde_json::json!({
//!     "event": {"category": ["process"]},
//!     "process": {"name": "curl", "args": ["curl", "-s"]}
//! }));
//! assert!(q.as_event().unwrap().matches(&ev));
//!
//! let err = eql::compile("process where process.name ==").unwrap_err();
//! assert_eq!((err.line, err.column), (1, 30));
//! ```
//!
//! # Design rationale
//!
//! - Hand-written lexer and precedence-climbing parser: exact error
//!   positions, no parser-generator dependency, and a nesting limit
//!   ([`parser::MAX_DEPTH`]) so hostile rule text cannot exhaust the stack.
//! - Matching is linear-time: wildcards go through the IR's `StrMatch`
//!   (prefix/suffix/substring fast paths, otherwise a `regex` automaton) and
//!   regexes through the `regex` crate; nothing is compiled per event.
//! - Sequences compile onto the engine's shared sequence joiner
//!   ([`SequenceSpec::to_joiner`] -> `rule::temporal::SequenceSpec`): each stage
//!   becomes an inline detection wrapping that stage's compiled filter, and the
//!   `by` keys become join-key fields. The joiner implements Elasticsearch's
//!   sequence semantics (maxspan inclusive, `until` cancels a key's partials).

pub mod ast;
pub mod compile;
pub mod func;
pub mod lexer;
pub mod parser;
pub mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use tripline_parsers::Event;

use super::ir::{Detection, Expr, Field};
use super::temporal;

use compile::{CExpr, CField, Compiler};

/// What kind of problem an [`EqlError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not valid EQL.
    Syntax,
    /// Valid EQL that tripline does not run (yet): `sample`, pipes, ...
    Unsupported,
    /// Valid syntax with a bad part: unknown function, bad regex or CIDR, ...
    Invalid,
}

/// A located problem in an EQL query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EqlError {
    /// What is wrong, lowercase and specific.
    pub message: String,
    /// 1-based line in the query text.
    pub line: usize,
    /// 1-based column (in characters) in that line.
    pub column: usize,
    /// Byte offset in the query text.
    pub offset: usize,
    /// Syntax, unsupported construct, or invalid part.
    pub kind: ErrorKind,
}

impl EqlError {
    /// An error at byte `offset` of `src`.
    pub fn at(src: &str, offset: usize, message: String) -> EqlError {
        let offset = offset.min(src.len());
        let mut off = offset;
        while !src.is_char_boundary(off) {
            off -= 1;
        }
        let before = &src[..off];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = src[line_start..off].chars().count() + 1;
        let kind = if message.starts_with("unsupported:") {
            ErrorKind::Unsupported
        } else if message.starts_with("unknown function")
            || message.contains("regex")
            || message.contains("cidr")
            || message.contains("(): ")
        {
            ErrorKind::Invalid
        } else {
            ErrorKind::Syntax
        };
        EqlError {
            message,
            line,
            column,
            offset,
            kind,
        }
    }

    fn unsupported(src: &str, offset: usize, message: String) -> EqlError {
        EqlError {
            kind: ErrorKind::Unsupported,
            ..EqlError::at(src, offset, message)
        }
    }
}

impl fmt::Display for EqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for EqlError {}

/// A compiled `category where condition`.
#[derive(Debug, Clone)]
pub struct EventFilter {
    /// The category (`None` for `any`).
    pub category: Option<String>,
    /// The condition.
    pub condition: CExpr,
}

impl EventFilter {
    /// True if the event has the category and satisfies the condition.
    pub fn matches(&self, ev: &Event) -> bool {
        if let Some(c) = &self.category
            && !ev.event.category.iter().any(|x| x == c)
        {
            return false;
        }
        self.condition.matches(ev)
    }
}

/// One compiled sequence stage: its filter and its full join key
/// (the shared `by` keys, then the stage's own).
#[derive(Debug, Clone)]
pub struct StageSpec {
    /// Which events the stage takes.
    pub filter: EventFilter,
    /// Join key expressions.
    pub keys: Vec<CExpr>,
    /// The stage's query text (`process where ...`).
    pub text: String,
}

/// A compiled `sequence`.
#[derive(Debug, Clone)]
pub struct SequenceSpec {
    /// The stages, `runs=` expanded.
    pub stages: Vec<StageSpec>,
    /// `until [...]`: a matching event with the same key drops the partial sequences.
    pub until: Option<StageSpec>,
    /// `maxspan` in nanoseconds: last event time - first event time must be <= this.
    pub maxspan_ns: Option<i64>,
}

impl SequenceSpec {
    /// The sequence as the engine's sequence joiner runs it: every stage an
    /// inline detection around its compiled filter, every join key a field.
    ///
    /// # Errors
    /// A join key that is not a plain field (`by length(x)`, `by a[0]`).
    pub fn to_joiner(&self) -> Result<temporal::SequenceSpec, String> {
        let stage = |st: &StageSpec| -> Result<temporal::Stage, String> {
            let keys = st
                .keys
                .iter()
                .map(|k| match k {
                    CExpr::Field(f) if f.rest.is_empty() => Ok(Field {
                        base: f.base.clone(),
                        inner: Vec::new(),
                    }),
                    CExpr::Field(f) => Err(format!(
                        "unsupported: join key {} (only plain fields can be join keys)",
                        f.text
                    )),
                    _ => Err(
                        "unsupported: computed join keys (only plain fields can be join keys)"
                            .into(),
                    ),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let q = EqlQuery {
                source: st.text.clone(),
                compiled: Compiled::Event(st.filter.clone()),
                fields: Vec::new(),
            };
            Ok(temporal::Stage {
                condition: temporal::StageCondition::Detection(Detection {
                    filter: Expr::Const(true),
                    condition: Expr::Eql(Arc::new(q)),
                }),
                keys,
            })
        };
        let spec = temporal::SequenceSpec {
            stages: self.stages.iter().map(stage).collect::<Result<_, _>>()?,
            until: self.until.as_ref().map(stage).transpose()?,
            maxspan_ns: self.maxspan_ns,
            ordered: true,
            min_stages: self.stages.len(),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// What a query compiled to.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// A single-event query.
    Event(EventFilter),
    /// A sequence.
    Sequence(SequenceSpec),
}

/// A compiled EQL query.
#[derive(Debug, Clone)]
pub struct EqlQuery {
    /// The query text.
    pub source: String,
    /// The compiled form.
    pub compiled: Compiled,
    /// Every field the query reads.
    pub fields: Vec<CField>,
}

impl EqlQuery {
    /// True if a single-event query matches `ev` (always false for a sequence,
    /// which runs on the engine's sequence joiner, see [`SequenceSpec::to_joiner`]).
    pub fn matches(&self, ev: &Event) -> bool {
        match &self.compiled {
            Compiled::Event(f) => f.matches(ev),
            Compiled::Sequence(_) => false,
        }
    }

    /// The single-event filter, if this is not a sequence.
    pub fn as_event(&self) -> Option<&EventFilter> {
        match &self.compiled {
            Compiled::Event(f) => Some(f),
            Compiled::Sequence(_) => None,
        }
    }

    /// The sequence, if this is one.
    pub fn as_sequence(&self) -> Option<&SequenceSpec> {
        match &self.compiled {
            Compiled::Sequence(s) => Some(s),
            Compiled::Event(_) => None,
        }
    }

    /// Fields named without `?` that no tripline parser produces as a typed
    /// ECS field: in Elasticsearch such a field must exist in the mapping;
    /// here it is read from the event's raw fields. Reported by `--explain`
    /// as a hint, never an error.
    pub fn unknown_fields(&self) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|f| !f.optional && matches!(f.base, tripline_parsers::ecs::FieldRef::Extra(_)))
            .map(|f| f.text.as_str())
            .collect()
    }
}

/// Parses and compiles an EQL query.
///
/// # Errors
/// An [`EqlError`] with the line and column of the first problem.
pub fn compile(src: &str) -> Result<EqlQuery, EqlError> {
    let q = parser::parse(src)?;
    if let Some(p) = q.pipes.first() {
        return Err(EqlError::unsupported(
            src,
            p.span.start,
            format!(
                "unsupported: pipe '| {}' (pipes are not run in detection rules)",
                p.name
            ),
        ));
    }
    let mut c = Compiler::new(src);
    let compiled = match &q.body {
        ast::Body::Event(e) => Compiled::Event(event_filter(&mut c, e)?),
        ast::Body::Sample(s) => {
            return Err(EqlError::unsupported(
                src,
                s.span.start,
                "unsupported: sample queries".into(),
            ));
        }
        ast::Body::Sequence(s) => {
            if s.stages.len() < 2 {
                return Err(EqlError::at(
                    src,
                    s.span.start,
                    "a sequence needs at least two stages".into(),
                ));
            }
            if let Some(st) = s.stages.iter().find(|st| st.missing) {
                return Err(EqlError::unsupported(
                    src,
                    st.query.span.start.saturating_sub(2),
                    "unsupported: missing-event stages ![...]".into(),
                ));
            }
            let shared: Vec<CExpr> = s.by.iter().map(|e| c.expr(e)).collect::<Result<_, _>>()?;
            let stage = |c: &mut Compiler<'_>, st: &ast::Stage| -> Result<StageSpec, EqlError> {
                let mut keys = shared.clone();
                for e in &st.by {
                    keys.push(c.expr(e)?);
                }
                let span = st.query.span;
                Ok(StageSpec {
                    filter: event_filter(c, &st.query)?,
                    keys,
                    text: src[span.start..span.end.min(src.len())].trim().to_string(),
                })
            };
            let stages = s
                .stages
                .iter()
                .map(|st| stage(&mut c, st))
                .collect::<Result<Vec<_>, _>>()?;
            let until = match &s.until {
                Some(u) => Some(stage(&mut c, u)?),
                None => None,
            };
            let n = stages[0].keys.len();
            let odd = s
                .stages
                .iter()
                .chain(s.until.iter())
                .zip(stages.iter().chain(until.iter()))
                .find(|(_, spec)| spec.keys.len() != n);
            if let Some((st, spec)) = odd {
                return Err(EqlError::at(
                    src,
                    st.query.span.start,
                    format!(
                        "every stage must join on the same number of keys: the first has {n}, this one {}",
                        spec.keys.len()
                    ),
                ));
            }
            Compiled::Sequence(SequenceSpec {
                stages,
                until,
                maxspan_ns: s.maxspan_ms.map(|ms| ms.saturating_mul(1_000_000)),
            })
        }
    };
    Ok(EqlQuery {
        source: src.to_string(),
        compiled,
        fields: c.fields,
    })
}

fn event_filter(c: &mut Compiler<'_>, e: &ast::EventQuery) -> Result<EventFilter, EqlError> {
    Ok(EventFilter {
        category: e.category.clone(),
        condition: c.expr(&e.condition)?,
    })
}
