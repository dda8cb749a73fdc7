//! The EQL syntax tree, as parsed (before field resolution and compilation).

/// A byte range in the query text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A whole query: an event query, a sequence or a sample, then pipes.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The query proper.
    pub body: Body,
    /// `| head 5`, ... (parsed; not run).
    pub pipes: Vec<Pipe>,
}

/// The part of a query before the pipes.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `process where ...`, `any where ...`.
    Event(EventQuery),
    /// `sequence ...`.
    Sequence(Sequence),
    /// `sample by ... [..] [..]`.
    Sample(Sample),
}

/// `category where condition`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventQuery {
    /// The event category; `None` for `any`.
    pub category: Option<String>,
    /// The condition.
    pub condition: Expr,
    /// Where the query starts.
    pub span: Span,
}

/// `sequence [by ...] [with maxspan=...] stage... [until stage]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// Join keys shared by every stage.
    pub by: Vec<Expr>,
    /// `maxspan`, in milliseconds.
    pub maxspan_ms: Option<i64>,
    /// The stages, in order (`with runs=N` already expanded into N stages).
    pub stages: Vec<Stage>,
    /// `until [...]`.
    pub until: Option<Stage>,
    /// Where `sequence` is.
    pub span: Span,
}

/// One bracketed stage of a sequence or sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The stage's event query.
    pub query: EventQuery,
    /// The stage's own join keys (after the shared ones).
    pub by: Vec<Expr>,
    /// `![...]`: a missing-event stage.
    pub missing: bool,
    /// `with runs=N` as written (1 when absent).
    pub runs: u32,
}

/// `sample by ... [..] [..]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Shared join keys.
    pub by: Vec<Expr>,
    /// The stages.
    pub stages: Vec<Stage>,
    /// Where `sample` is.
    pub span: Span,
}

/// `| name args...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    /// The pipe's name (`head`, `tail`, `filter`, ...).
    pub name: String,
    /// Its arguments.
    pub args: Vec<Expr>,
    /// Where it is.
    pub span: Span,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (case-sensitive for strings).
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

/// A string-matching operator with a pattern (or list of patterns) on the right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `:`: case-insensitive equality with `*`/`?` wildcards.
    Colon,
    /// `like` / `like~`: wildcard match, case-sensitive unless `~`.
    Like,
    /// `regex` / `regex~`: whole-string regular expression, case-sensitive unless `~`.
    Regex,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A field (`process.args[0]`, `?user.name`).
    Field(FieldPath),
    /// `not e`.
    Not(Box<Expr>),
    /// `a and b and ...`.
    And(Vec<Expr>),
    /// `a or b or ...`.
    Or(Vec<Expr>),
    /// `a <op> b`.
    Cmp(CmpOp, Box<Expr>, Box<Expr>, Span),
    /// `a <op> b` (arithmetic).
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    /// `-a`.
    Neg(Box<Expr>),
    /// `a : p`, `a like~ (p, q)`, ...
    Match {
        /// The operator.
        op: MatchOp,
        /// `~`: case-insensitive.
        insensitive: bool,
        /// The value tested.
        lhs: Box<Expr>,
        /// The patterns (constants).
        patterns: Vec<Expr>,
        /// Where the operator is.
        span: Span,
    },
    /// `a in (x, y)`, `a in~ (...)`, `a not in (...)`.
    In {
        /// The value tested.
        lhs: Box<Expr>,
        /// The candidates.
        list: Vec<Expr>,
        /// `in~`.
        insensitive: bool,
        /// `not in`.
        negated: bool,
        /// Where the operator is.
        span: Span,
    },
    /// `name(args)` / `name~(args)`.
    Call {
        /// The function name as written.
        name: String,
        /// `~`: case-insensitive variant.
        insensitive: bool,
        /// Arguments.
        args: Vec<Expr>,
        /// Where the call is.
        span: Span,
    },
}

/// A field reference as written.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPath {
    /// Path segments: names and array indices.
    pub segments: Vec<Segment>,
    /// `?field`: no unknown-field diagnostic, a missing field is `null`.
    pub optional: bool,
    /// Where it is.
    pub span: Span,
}

/// One segment of a field path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// A name (`process`, `` `my-field` ``).
    Name(String),
    /// `[0]`.
    Index(i64),
}

impl FieldPath {
    /// The dotted path of the leading names (`process.args` for `process.args[0]`).
    pub fn dotted_prefix(&self) -> String {
        let mut s = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Name(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                Segment::Index(_) => break,
            }
        }
        s
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.optional {
            write!(f, "?")?;
        }
        let mut first = true;
        for seg in &self.segments {
            match seg {
                Segment::Name(n) => {
                    if !first {
                        write!(f, ".")?;
                    }
                    let plain = n.chars().enumerate().all(|(i, c)| {
                        c == '_' || c == '@' || c.is_alphabetic() || (i > 0 && c.is_ascii_digit())
                    });
                    if plain {
                        write!(f, "{n}")?;
                    } else {
                        write!(f, "`{n}`")?;
                    }
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}
