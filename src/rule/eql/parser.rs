//! EQL parser: tokens -> [`ast::Query`](super::ast::Query).
//!
//! Recursive descent for the query structure and precedence climbing for
//! expressions, lowest first: `or`, `and`, `not`, one comparison or predicate
//! (`==`, `:`, `in`, `like`, `regex`, ...), `+ -`, `* / %`, unary `-`, atoms.
//! Nesting is capped at [`MAX_DEPTH`] so hostile rule text cannot overflow
//! the stack; every error carries the line and column of the offending token.

use super::EqlError;
use super::ast::*;
use super::lexer::{Tok, Token, lex};

/// Deepest nesting of parentheses, `not`s, unary signs and calls accepted.
pub const MAX_DEPTH: usize = 100;

/// Most stages a sequence may have after `runs=` expansion.
pub const MAX_STAGES: usize = 256;

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "like", "regex", "where", "by", "with", "until", "sequence",
    "sample", "join", "true", "false", "null", "of",
];

/// Parses a complete EQL query.
///
/// # Errors
/// The first syntax error, located by line and column.
pub fn parse(src: &str) -> Result<Query, EqlError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let q = p.query()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.unexpected("end of query"));
    }
    Ok(q)
}

/// Parses one expression (no `category where`), as used by tests and tools.
///
/// # Errors
/// The first syntax error.
pub fn parse_expr(src: &str) -> Result<Expr, EqlError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr()?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(p.unexpected("end of expression"));
    }
    Ok(e)
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }

    fn tok(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.tok().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn err_here(&self, msg: String) -> EqlError {
        EqlError::at(self.src, self.tok().start, msg)
    }

    fn unexpected(&self, wanted: &str) -> EqlError {
        self.err_here(format!(
            "expected {wanted}, found {}",
            self.peek().describe()
        ))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident { name, tilde: false } if name == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<Token, EqlError> {
        if *self.peek() == t {
            Ok(self.bump())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn enter(&mut self) -> Result<(), EqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- query structure ---------------------------------------------------

    fn query(&mut self) -> Result<Query, EqlError> {
        let start = self.tok().start;
        let body = if self.is_kw("sequence") {
            self.bump();
            Body::Sequence(self.sequence(start)?)
        } else if self.is_kw("sample") {
            self.bump();
            let by = if self.eat_kw("by") {
                self.exprs()?
            } else {
                Vec::new()
            };
            let mut stages = Vec::new();
            while matches!(self.peek(), Tok::LBracket | Tok::MissingOpen) {
                stages.push(self.stage()?);
            }
            if stages.is_empty() {
                return Err(self.unexpected("'[' starting a sample stage"));
            }
            Body::Sample(Sample {
                by,
                stages,
                span: Span {
                    start,
                    end: start + 6,
                },
            })
        } else if self.is_kw("join") {
            return Err(self.err_here("join queries are not supported by Elasticsearch EQL".into()));
        } else {
            Body::Event(self.event_query()?)
        };
        let mut pipes = Vec::new();
        while matches!(self.peek(), Tok::Pipe) {
            let bar = self.bump();
            let name = match self.bump().tok {
                Tok::Ident { name, .. } => name,
                _ => {
                    return Err(EqlError::at(
                        self.src,
                        bar.start,
                        "expected a pipe name after '|'".into(),
                    ));
                }
            };
            let mut args = Vec::new();
            if !matches!(self.peek(), Tok::Pipe | Tok::Eof) {
                args = self.exprs()?;
            }
            pipes.push(Pipe {
                name,
                args,
                span: Span {
                    start: bar.start,
                    end: self.tok().start,
                },
            });
        }
        Ok(Query { body, pipes })
    }

    fn event_query(&mut self) -> Result<EventQuery, EqlError> {
        let t = self.bump();
        let category = match t.tok {
            Tok::Ident { name, tilde: false } if name == "any" => None,
            Tok::Ident { name, tilde: false } if !KEYWORDS.contains(&name.as_str()) => Some(name),
            Tok::Quoted(name) => Some(name),
            Tok::Str(name) => Some(name),
            other => {
                return Err(EqlError::at(
                    self.src,
                    t.start,
                    format!(
                        "expected an event category (or 'any', 'sequence', 'sample'), found {}",
                        other.describe()
                    ),
                ));
            }
        };
        if !self.eat_kw("where") {
            return Err(self.unexpected("'where'"));
        }
        let condition = self.expr()?;
        Ok(EventQuery {
            category,
            condition,
            span: Span {
                start: t.start,
                end: self.tok().start,
            },
        })
    }

    fn sequence(&mut self, start: usize) -> Result<Sequence, EqlError> {
        let mut by = Vec::new();
        let mut maxspan_ms = None;
        for _ in 0..2 {
            if self.is_kw("by") && by.is_empty() {
                self.bump();
                by = self.exprs()?;
            } else if self.is_kw("with") && maxspan_ms.is_none() {
                self.bump();
                match self.peek() {
                    Tok::Ident { name, .. } if name == "maxspan" => {
                        self.bump();
                    }
                    _ => return Err(self.unexpected("'maxspan'")),
                }
                if !matches!(self.peek(), Tok::Assign | Tok::EqEq) {
                    return Err(self.unexpected("'='"));
                }
                self.bump();
                maxspan_ms = Some(self.duration()?);
            }
        }
        let mut stages: Vec<Stage> = Vec::new();
        while matches!(self.peek(), Tok::LBracket | Tok::MissingOpen) {
            let at = self.tok().start;
            let st = self.stage()?;
            let n = st.runs as usize;
            if stages.len() + n > MAX_STAGES {
                return Err(EqlError::at(
                    self.src,
                    at,
                    format!("sequence has more than {MAX_STAGES} stages"),
                ));
            }
            for _ in 0..n {
                stages.push(st.clone());
            }
        }
        if stages.is_empty() {
            return Err(self.unexpected("'[' starting a sequence stage"));
        }
        let until = if self.eat_kw("until") {
            if !matches!(self.peek(), Tok::LBracket) {
                return Err(self.unexpected("'[' after 'until'"));
            }
            Some(self.stage()?)
        } else {
            None
        };
        Ok(Sequence {
            by,
            maxspan_ms,
            stages,
            until,
            span: Span {
                start,
                end: start + 8,
            },
        })
    }

    /// `5m`, `500ms`, `1s`, `2h`, `1d` -> milliseconds.
    fn duration(&mut self) -> Result<i64, EqlError> {
        let t = self.bump();
        let (n, unit) = match t.tok {
            Tok::Int(n, Some(u)) => (n, u),
            Tok::Int(_, None) => {
                return Err(EqlError::at(
                    self.src,
                    t.start,
                    "maxspan needs a time unit (ms, s, m, h or d)".into(),
                ));
            }
            other => {
                return Err(EqlError::at(
                    self.src,
                    t.start,
                    format!("expected a time span like 5m, found {}", other.describe()),
                ));
            }
        };
        let mult: i64 = match unit.as_str() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => {
                return Err(EqlError::at(
                    self.src,
                    t.start,
                    format!("unknown time unit {unit:?} (ms, s, m, h or d)"),
                ));
            }
        };
        n.checked_mul(mult)
            .ok_or_else(|| EqlError::at(self.src, t.start, "time span too large".into()))
    }

    fn stage(&mut self) -> Result<Stage, EqlError> {
        let open = self.bump();
        let missing = open.tok == Tok::MissingOpen;
        let query = self.event_query()?;
        self.expect(Tok::RBracket, "']' closing the stage")?;
        let mut by = Vec::new();
        let mut runs = 1;
        for _ in 0..2 {
            if self.is_kw("by") && by.is_empty() {
                self.bump();
                by = self.exprs()?;
            } else if self.is_kw("with") && runs == 1 {
                self.bump();
                match self.peek() {
                    Tok::Ident { name, .. } if name == "runs" => {
                        self.bump();
                    }
                    _ => return Err(self.unexpected("'runs'")),
                }
                if !matches!(self.peek(), Tok::Assign | Tok::EqEq) {
                    return Err(self.unexpected("'='"));
                }
                self.bump();
                let t = self.bump();
                runs = match t.tok {
                    Tok::Int(n, None) if (1..=MAX_STAGES as i64).contains(&n) => n as u32,
                    _ => {
                        return Err(EqlError::at(
                            self.src,
                            t.start,
                            format!("runs must be an integer from 1 to {MAX_STAGES}"),
                        ));
                    }
                };
            }
        }
        Ok(Stage {
            query,
            by,
            missing,
            runs,
        })
    }

    fn exprs(&mut self) -> Result<Vec<Expr>, EqlError> {
        let mut v = vec![self.expr()?];
        while matches!(self.peek(), Tok::Comma) {
            self.bump();
            v.push(self.expr()?);
        }
        Ok(v)
    }

    // ---- expressions -------------------------------------------------------

    /// An expression (the `or` level).
    fn expr(&mut self) -> Result<Expr, EqlError> {
        self.enter()?;
        let first = self.and_expr()?;
        let r = if self.is_kw("or") {
            let mut v = vec![first];
            while self.eat_kw("or") {
                v.push(self.and_expr()?);
            }
            Ok(Expr::Or(v))
        } else {
            Ok(first)
        };
        self.leave();
        r
    }

    fn and_expr(&mut self) -> Result<Expr, EqlError> {
        let first = self.not_expr()?;
        if !self.is_kw("and") {
            return Ok(first);
        }
        let mut v = vec![first];
        while self.eat_kw("and") {
            v.push(self.not_expr()?);
        }
        Ok(Expr::And(v))
    }

    fn not_expr(&mut self) -> Result<Expr, EqlError> {
        if self.is_kw("not") {
            self.bump();
            self.enter()?;
            let inner = self.not_expr();
            self.leave();
            return Ok(Expr::Not(Box::new(inner?)));
        }
        self.term()
    }

    /// One comparison or predicate on top of arithmetic.
    fn term(&mut self) -> Result<Expr, EqlError> {
        let lhs = self.sum()?;
        let t = self.tok().clone();
        let cmp = match &t.tok {
            Tok::EqEq | Tok::Assign => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        let span = Span {
            start: t.start,
            end: t.end,
        };
        if let Some(op) = cmp {
            self.bump();
            let rhs = self.sum()?;
            return Ok(Expr::Cmp(op, Box::new(lhs), Box::new(rhs), span));
        }
        match &t.tok {
            Tok::Colon => {
                self.bump();
                let patterns = self.patterns()?;
                Ok(Expr::Match {
                    op: MatchOp::Colon,
                    insensitive: true,
                    lhs: Box::new(lhs),
                    patterns,
                    span,
                })
            }
            Tok::Ident { name, tilde } if name == "like" || name == "regex" => {
                let op = if name == "like" {
                    MatchOp::Like
                } else {
                    MatchOp::Regex
                };
                let insensitive = *tilde;
                self.bump();
                let patterns = self.patterns()?;
                Ok(Expr::Match {
                    op,
                    insensitive,
                    lhs: Box::new(lhs),
                    patterns,
                    span,
                })
            }
            Tok::Ident { name, tilde } if name == "in" => {
                let insensitive = *tilde;
                self.bump();
                let list = self.in_list()?;
                Ok(Expr::In {
                    lhs: Box::new(lhs),
                    list,
                    insensitive,
                    negated: false,
                    span,
                })
            }
            Tok::Ident { name, tilde: false } if name == "not" => {
                // `x not in (...)`
                match self.peek_at(1).clone() {
                    Tok::Ident { name, tilde } if name == "in" => {
                        self.bump();
                        self.bump();
                        let list = self.in_list()?;
                        Ok(Expr::In {
                            lhs: Box::new(lhs),
                            list,
                            insensitive: tilde,
                            negated: true,
                            span,
                        })
                    }
                    _ => Err(self.err_here("expected 'in' after 'not' here".into())),
                }
            }
            _ => Ok(lhs),
        }
    }

    fn in_list(&mut self) -> Result<Vec<Expr>, EqlError> {
        self.expect(Tok::LParen, "'(' after 'in'")?;
        let mut v = Vec::new();
        loop {
            v.push(self.expr()?);
            if matches!(self.peek(), Tok::Comma) {
                self.bump();
                if matches!(self.peek(), Tok::RParen) {
                    break; // trailing comma
                }
            } else {
                break;
            }
        }
        self.expect(Tok::RParen, "')' or ',' in the list")?;
        Ok(v)
    }

    /// The right side of `:`, `like`, `regex`: one value or a parenthesized list.
    fn patterns(&mut self) -> Result<Vec<Expr>, EqlError> {
        if matches!(self.peek(), Tok::LParen) {
            self.in_list()
        } else {
            Ok(vec![self.unary()?])
        }
    }

    fn sum(&mut self) -> Result<Expr, EqlError> {
        let mut lhs = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ArithOp::Add,
                Tok::Minus => ArithOp::Sub,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.product()?;
            lhs = Expr::Arith(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn product(&mut self) -> Result<Expr, EqlError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => ArithOp::Mul,
                Tok::Slash => ArithOp::Div,
                Tok::Percent => ArithOp::Mod,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.unary()?;
            lhs = Expr::Arith(op, Box::new(lhs), Box::new(rhs));
        }
    }

    fn unary(&mut self) -> Result<Expr, EqlError> {
        match self.peek() {
            Tok::Minus | Tok::Plus => {
                let neg = matches!(self.peek(), Tok::Minus);
                self.bump();
                self.enter()?;
                let e = self.unary();
                self.leave();
                let e = e?;
                Ok(match (neg, e) {
                    (false, e) => e,
                    (true, Expr::Int(n)) => Expr::Int(n.wrapping_neg()),
                    (true, Expr::Float(f)) => Expr::Float(-f),
                    (true, e) => Expr::Neg(Box::new(e)),
                })
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Expr, EqlError> {
        let t = self.tok().clone();
        match t.tok {
            Tok::Str(s) => {
                self.bump();
                Ok(Expr::Str(s))
            }
            Tok::Int(n, None) => {
                self.bump();
                Ok(Expr::Int(n))
            }
            Tok::Int(_, Some(_)) => Err(self.err_here(format!(
                "unexpected {} (time units only follow maxspan=)",
                t.tok.describe()
            ))),
            Tok::Float(f) => {
                self.bump();
                Ok(Expr::Float(f))
            }
            Tok::LParen => {
                self.bump();
                self.enter()?;
                let e = self.expr();
                self.leave();
                let e = e?;
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Question => {
                self.bump();
                let next = self.tok().clone();
                if next.start != t.end {
                    return Err(self.err_here("expected a field name directly after '?'".into()));
                }
                let mut f = self.field()?;
                f.optional = true;
                f.span.start = t.start;
                Ok(Expr::Field(f))
            }
            Tok::Quoted(_) => Ok(Expr::Field(self.field()?)),
            Tok::Ident { ref name, tilde } => {
                match name.as_str() {
                    "true" if !tilde => {
                        self.bump();
                        return Ok(Expr::Bool(true));
                    }
                    "false" if !tilde => {
                        self.bump();
                        return Ok(Expr::Bool(false));
                    }
                    "null" if !tilde => {
                        self.bump();
                        return Ok(Expr::Null);
                    }
                    _ => {}
                }
                if matches!(self.peek_at(1), Tok::LParen) {
                    return self.call();
                }
                if tilde {
                    return Err(self.err_here(format!(
                        "unexpected '~' after {name:?} (only in~, like~, regex~ and functions take '~')"
                    )));
                }
                if KEYWORDS.contains(&name.as_str()) {
                    return Err(self.unexpected("a value"));
                }
                Ok(Expr::Field(self.field()?))
            }
            _ => Err(self.unexpected("a value")),
        }
    }

    fn call(&mut self) -> Result<Expr, EqlError> {
        let t = self.bump();
        let Tok::Ident { name, tilde } = t.tok else {
            return Err(EqlError::at(
                self.src,
                t.start,
                "expected a function name".into(),
            ));
        };
        self.bump(); // (
        self.enter()?;
        let mut args = Vec::new();
        let r = (|| {
            if !matches!(self.peek(), Tok::RParen) {
                loop {
                    args.push(self.expr()?);
                    if matches!(self.peek(), Tok::Comma) {
                        self.bump();
                    } else {
                        break;
                    }
                }
            }
            self.expect(Tok::RParen, "')' or ',' in the argument list")
        })();
        self.leave();
        let close = r?;
        Ok(Expr::Call {
            name,
            insensitive: tilde,
            args,
            span: Span {
                start: t.start,
                end: close.end,
            },
        })
    }

    fn field(&mut self) -> Result<FieldPath, EqlError> {
        let first = self.bump();
        let mut segments = vec![match first.tok {
            Tok::Ident { name, tilde: false } => Segment::Name(name),
            Tok::Quoted(q) => Segment::Name(q),
            other => {
                return Err(EqlError::at(
                    self.src,
                    first.start,
                    format!("expected a field name, found {}", other.describe()),
                ));
            }
        }];
        let mut end = first.end;
        loop {
            match self.peek() {
                Tok::Dot if self.tok().start == end => {
                    self.bump();
                    let t = self.bump();
                    match t.tok {
                        Tok::Ident { name, tilde: false } => segments.push(Segment::Name(name)),
                        Tok::Quoted(q) => segments.push(Segment::Name(q)),
                        // `a.1`: numeric segment (lexed as a float when glued).
                        Tok::Int(n, None) => segments.push(Segment::Name(n.to_string())),
                        other => {
                            return Err(EqlError::at(
                                self.src,
                                t.start,
                                format!(
                                    "expected a field name after '.', found {}",
                                    other.describe()
                                ),
                            ));
                        }
                    }
                    end = t.end;
                }
                // `process.args[0]`: an index glued to the name, `[` int `]`.
                Tok::LBracket
                    if self.tok().start == end
                        && matches!(self.peek_at(1), Tok::Int(_, None) | Tok::Minus) =>
                {
                    self.bump();
                    let neg = if matches!(self.peek(), Tok::Minus) {
                        self.bump();
                        true
                    } else {
                        false
                    };
                    let t = self.bump();
                    let Tok::Int(n, None) = t.tok else {
                        return Err(EqlError::at(
                            self.src,
                            t.start,
                            "expected an array index".into(),
                        ));
                    };
                    let close = self.expect(Tok::RBracket, "']' closing the array index")?;
                    segments.push(Segment::Index(if neg { -n } else { n }));
                    end = close.end;
                }
                _ => break,
            }
        }
        Ok(FieldPath {
            segments,
            optional: false,
            span: Span {
                start: first.start,
                end,
            },
        })
    }
}
