//! The rule IR: what every front-end (Sigma today, EQL next) compiles into.
//!
//! A [`Rule`] is metadata plus a [`RuleKind`]. A single-event rule is a
//! [`Detection`]: a logsource *filter* (from the mapping table) and a
//! *condition*, both [`Expr`] trees over field [`Predicate`]s.
//!
//! # Design rationale
//!
//! - Everything expensive is compiled here, once: wildcards and regexes become
//!   [`regex::Regex`], CIDRs become address/prefix pairs, field names become
//!   [`FieldRef`]s. Evaluating an event (see `engine::matcher`) allocates nothing
//!   except for case-folding non-ASCII text.
//! - String predicates keep their literal fragments visible
//!   ([`StrMatch::literals`]): the Aho-Corasick prefilter of the next issue
//!   collects them per field without re-parsing anything.
//! - [`RuleKind`] is an enum so that correlations and sequences (stateful,
//!   several stages) slot in beside single-event rules.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use regex::Regex;
use tripline_parsers::ecs::FieldRef;

use super::RuleMeta;

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What an alert says about the rule.
    pub meta: Arc<RuleMeta>,
    /// How the rule matches.
    pub kind: RuleKind,
}

/// How a rule matches events.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RuleKind {
    /// One event decides (Sigma detection rules, EQL queries without `sequence`).
    Single(Detection),
    /// Several events in order (or in any order), joined by key within a span:
    /// EQL `sequence`, Sigma `temporal` / `temporal_ordered` (see [`super::temporal`]).
    Sequence(super::temporal::SequenceSpec),
    /// Events or distinct values counted per group within a span: Sigma
    /// `event_count` / `value_count` (see [`super::temporal`]).
    Count(super::temporal::CountSpec),
}

/// A single-event detection: the logsource filter AND the rule's condition.
#[derive(Debug, Clone)]
pub struct Detection {
    /// Preconditions from the logsource mapping (`event.category: process`, ...).
    pub filter: Expr,
    /// The rule's own condition.
    pub condition: Expr,
}

/// A boolean expression over field predicates.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Always true / always false (an empty selection, an empty value list).
    Const(bool),
    /// Every child is true (true when empty).
    And(Vec<Expr>),
    /// Some child is true (false when empty).
    Or(Vec<Expr>),
    /// At least `n` children are true (Sigma `2 of sel_*`).
    AtLeast(usize, Vec<Expr>),
    /// The child is false.
    Not(Box<Expr>),
    /// A test on one field.
    Pred(Predicate),
    /// A compiled EQL condition (Elastic rules, see [`super::eql`]): evaluated
    /// as a whole by [`super::eql::EqlQuery::matches`]. It exposes no
    /// predicates, so the prefilter must treat it as "always a candidate".
    Eql(Arc<super::eql::EqlQuery>),
}

impl Expr {
    /// Builds an AND, flattening nested ANDs and dropping `true`s.
    pub fn and(items: Vec<Expr>) -> Expr {
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::Const(true) => {}
                Expr::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.iter().any(|e| matches!(e, Expr::Const(false))) {
            return Expr::Const(false);
        }
        match out.len() {
            0 => Expr::Const(true),
            1 => out.pop().unwrap_or(Expr::Const(true)),
            _ => Expr::And(out),
        }
    }

    /// Builds an OR, flattening nested ORs and dropping `false`s.
    pub fn or(items: Vec<Expr>) -> Expr {
        let mut out = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::Const(false) => {}
                Expr::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.iter().any(|e| matches!(e, Expr::Const(true))) {
            return Expr::Const(true);
        }
        match out.len() {
            0 => Expr::Const(false),
            1 => out.pop().unwrap_or(Expr::Const(false)),
            _ => Expr::Or(out),
        }
    }

    /// Negation (double negation cancels).
    #[allow(clippy::should_implement_trait)]
    pub fn not(e: Expr) -> Expr {
        match e {
            Expr::Not(inner) => *inner,
            Expr::Const(b) => Expr::Const(!b),
            other => Expr::Not(Box::new(other)),
        }
    }

    /// Calls `f` on every predicate in the tree (the prefilter walks it this way).
    pub fn for_each_predicate<'a>(&'a self, f: &mut dyn FnMut(&'a Predicate)) {
        match self {
            Expr::Const(_) => {}
            Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => {
                for e in v {
                    e.for_each_predicate(f);
                }
            }
            Expr::Not(e) => e.for_each_predicate(f),
            Expr::Pred(p) => f(p),
            Expr::Eql(_) => {}
        }
    }
}

/// A field as a rule names it: an event field resolved at compile time, and
/// optionally a path below it into a JSON value (`auditd.records[].type`:
/// the `type` of every element of `auditd.records`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The event field.
    pub base: FieldRef,
    /// Keys below `base`; arrays on the way are searched element by element.
    pub inner: Vec<String>,
}

impl Field {
    /// Parses `a.b` (an event field) or `a.b[].c.d` (field `a.b`, then `c`, `d`
    /// inside each array element).
    pub fn parse(path: &str) -> Field {
        match path.split_once("[]") {
            None => Field {
                base: FieldRef::resolve(path),
                inner: Vec::new(),
            },
            Some((base, rest)) => Field {
                base: FieldRef::resolve(base),
                inner: rest
                    .split(['.', '[', ']'])
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect(),
            },
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.base.path())?;
        if !self.inner.is_empty() {
            write!(f, "[].{}", self.inner.join("."))?;
        }
        Ok(())
    }
}

/// A test on one field of the event.
#[derive(Debug, Clone)]
pub struct Predicate {
    /// The field, resolved at compile time.
    pub field: Field,
    /// The test.
    pub test: Test,
}

/// What a predicate checks. A field holding a list matches when any element does.
#[derive(Debug, Clone)]
pub enum Test {
    /// String equality / prefix / suffix / substring / glob.
    Str(StrMatch),
    /// A regular expression (unanchored search).
    Regex(RegexMatch),
    /// The field is an IP address inside a network.
    Cidr(Cidr),
    /// Numeric equality with an integer; a string field holding that integer matches too.
    Int(i64),
    /// Numeric comparison `field <op> value`.
    Cmp(CmpOp, f64),
    /// Boolean equality (`true`/`false` strings match too).
    Bool(bool),
    /// The field is absent or empty (Sigma `null`).
    Null,
    /// The field is present (`true`) or absent (`false`).
    Exists(bool),
    /// The field's value compared with another field of the same event (Sigma `fieldref`).
    FieldRef(FieldRefMatch),
    /// A calendar part of a timestamp field (UTC), compared numerically
    /// (Sigma `minute`, `hour`, `day`, `week`, `month`, `year`).
    TimePart(TimePart, CmpOp, f64),
}

/// Sigma `fieldref`: this field's value against another field's value.
#[derive(Debug, Clone)]
pub struct FieldRefMatch {
    /// The other field.
    pub other: Field,
    /// Equality, prefix (`startswith`), suffix (`endswith`) or substring (`contains`):
    /// the other field's value is the pattern.
    pub kind: StrKind,
    /// Case-sensitive (Sigma `cased`); ASCII case-insensitive otherwise.
    pub cased: bool,
}

impl FieldRefMatch {
    /// True if `hay` matches the other field's value `pat` under this match's shape.
    pub fn is_match(&self, hay: &str, pat: &str) -> bool {
        let (h, n) = (hay.as_bytes(), pat.as_bytes());
        let eq = |a: &[u8], b: &[u8]| {
            if self.cased {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match self.kind {
            StrKind::Exact | StrKind::Any | StrKind::Glob => h.len() == n.len() && eq(h, n),
            StrKind::Prefix => h.len() >= n.len() && eq(&h[..n.len()], n),
            StrKind::Suffix => h.len() >= n.len() && eq(&h[h.len() - n.len()..], n),
            StrKind::Contains => {
                n.is_empty() || (h.len() >= n.len() && h.windows(n.len()).any(|w| eq(w, n)))
            }
        }
    }
}

/// A calendar part of a timestamp (Sigma time modifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    /// 0..=59
    Minute,
    /// 0..=23
    Hour,
    /// Day of month, 1..=31
    Day,
    /// ISO week number, 1..=53
    Week,
    /// 1..=12
    Month,
    /// The year.
    Year,
}

impl TimePart {
    /// The part of `ns` (nanoseconds since the epoch, UTC).
    pub fn of_ns(self, ns: i64) -> Option<i64> {
        use chrono::{Datelike, Timelike};
        let t = chrono::DateTime::from_timestamp(ns.div_euclid(1_000_000_000), 0)?;
        Some(match self {
            TimePart::Minute => i64::from(t.minute()),
            TimePart::Hour => i64::from(t.hour()),
            TimePart::Day => i64::from(t.day()),
            TimePart::Week => i64::from(t.iso_week().week()),
            TimePart::Month => i64::from(t.month()),
            TimePart::Year => i64::from(t.year()),
        })
    }

    /// The part of an RFC 3339 timestamp string.
    pub fn of_str(self, s: &str) -> Option<i64> {
        let t = chrono::DateTime::parse_from_rfc3339(s.trim()).ok()?;
        t.timestamp_nanos_opt().and_then(|ns| self.of_ns(ns))
    }

    fn name(self) -> &'static str {
        match self {
            TimePart::Minute => "minute",
            TimePart::Hour => "hour",
            TimePart::Day => "day",
            TimePart::Week => "week",
            TimePart::Month => "month",
            TimePart::Year => "year",
        }
    }
}

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

impl CmpOp {
    /// Applies the operator.
    pub fn apply(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
        }
    }
}

/// The shape of a string match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrKind {
    /// The whole value equals the pattern.
    #[default]
    Exact,
    /// The value starts with the pattern.
    Prefix,
    /// The value ends with the pattern.
    Suffix,
    /// The value contains the pattern.
    Contains,
    /// Any value at all (a lone `*`); the field must be present.
    Any,
    /// A glob with `*`/`?` inside (`*`-only globs by substring search, others as an anchored regex).
    Glob,
}

/// One piece of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobPart {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled string match, case-insensitive unless `cased`.
#[derive(Debug, Clone)]
pub struct StrMatch {
    /// Shape of the match.
    pub kind: StrKind,
    /// Glob parts as written (literals unescaped); for non-glob kinds a single literal.
    pub parts: Vec<GlobPart>,
    /// Case-sensitive (Sigma `cased`).
    pub cased: bool,
    /// For non-glob kinds: the literal, lowercased when case-insensitive.
    needle: String,
    /// A glob of literals and `*` only, matched by substring search (lowercased
    /// pieces when case-insensitive; only built when they are ASCII).
    star: Option<StarGlob>,
    /// The other globs (with `?`, or non-ASCII case-insensitive literals) and
    /// non-ASCII case-insensitive literals, compiled once.
    regex: Option<Regex>,
    /// The regex cannot match an ASCII text (a character of the pattern has no
    /// ASCII case variant): ASCII texts, the common case, skip the regex.
    ascii_never: bool,
}

/// A glob made of literals and `*`: `prefix*mid*mid*suffix`, any of them
/// possibly empty. Matched without a regex: the prefix and suffix in place,
/// then each middle piece at its leftmost occurrence after the previous one
/// (leftmost is never worse for `*`-only globs, so this is exact).
#[derive(Debug, Clone)]
struct StarGlob {
    prefix: Vec<u8>,
    mids: Vec<Vec<u8>>,
    suffix: Vec<u8>,
}

impl StarGlob {
    /// `None` unless `parts` (normalised) has no `?` and, when case-insensitive,
    /// only ASCII literals.
    fn new(parts: &[GlobPart], cased: bool) -> Option<StarGlob> {
        let mut lits = Vec::new();
        for p in parts {
            match p {
                GlobPart::One => return None,
                GlobPart::Lit(s) if s.chars().any(|c| folds_unicode(c, cased)) => return None,
                GlobPart::Lit(s) => lits.push(if cased {
                    s.as_bytes().to_vec()
                } else {
                    s.to_ascii_lowercase().into_bytes()
                }),
                GlobPart::Star => {}
            }
        }
        let starts_lit = matches!(parts.first(), Some(GlobPart::Lit(_)));
        let ends_lit = matches!(parts.last(), Some(GlobPart::Lit(_)));
        let prefix = if starts_lit {
            lits.remove(0)
        } else {
            Vec::new()
        };
        let suffix = match (ends_lit, lits.pop()) {
            (true, Some(l)) => l,
            (true, None) => return None, // a lone literal: not a glob
            (false, l) => {
                lits.extend(l);
                Vec::new()
            }
        };
        Some(StarGlob {
            prefix,
            mids: lits,
            suffix,
        })
    }

    fn is_match(&self, hay: &[u8], cased: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| {
            if cased {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        let (p, s) = (self.prefix.len(), self.suffix.len());
        if hay.len() < p + s
            || !eq(&hay[..p], &self.prefix)
            || !eq(&hay[hay.len() - s..], &self.suffix)
        {
            return false;
        }
        let mut rest = &hay[p..hay.len() - s];
        for m in &self.mids {
            let found = if cased {
                memchr::memmem::find(rest, m)
            } else {
                find_ascii_ci(rest, m)
            };
            match found {
                Some(i) => rest = &rest[i + m.len()..],
                None => return false,
            }
        }
        true
    }
}

impl StrMatch {
    /// Compiles a glob (`parts`) into the cheapest matcher that implements it.
    ///
    /// # Errors
    /// When the equivalent regex exceeds the size limit.
    pub fn new(parts: Vec<GlobPart>, cased: bool) -> Result<StrMatch, String> {
        // Merge adjacent literals and collapse runs of `*`.
        let mut norm: Vec<GlobPart> = Vec::with_capacity(parts.len());
        for p in parts {
            match (norm.last_mut(), p) {
                (Some(GlobPart::Lit(a)), GlobPart::Lit(b)) => a.push_str(&b),
                (Some(GlobPart::Star), GlobPart::Star) => {}
                (_, GlobPart::Lit(b)) if b.is_empty() => {}
                (_, p) => norm.push(p),
            }
        }
        let lit_at = |i: usize| match norm.get(i) {
            Some(GlobPart::Lit(s)) => Some(s.clone()),
            _ => None,
        };
        let star_at = |i: usize| matches!(norm.get(i), Some(GlobPart::Star));
        let (kind, lit) = match norm.len() {
            0 => (StrKind::Exact, Some(String::new())),
            1 if star_at(0) => (StrKind::Any, None),
            1 => (StrKind::Exact, lit_at(0)),
            2 if star_at(0) => (StrKind::Suffix, lit_at(1)),
            2 if star_at(1) => (StrKind::Prefix, lit_at(0)),
            3 if star_at(0) && star_at(2) => (StrKind::Contains, lit_at(1)),
            _ => (StrKind::Glob, None),
        };
        let (kind, lit) = match (kind, lit) {
            (StrKind::Any, _) => (StrKind::Any, String::new()),
            (k, Some(l)) => (k, l),
            (_, None) => (StrKind::Glob, String::new()),
        };
        let star = if kind == StrKind::Glob {
            StarGlob::new(&norm, cased)
        } else {
            None
        };
        // Only non-ASCII letters need the regex's Unicode case folding: every
        // other character matches itself (see `push_lit`).
        let needs_regex = (kind == StrKind::Glob && star.is_none())
            || (kind != StrKind::Glob && lit.chars().any(|c| folds_unicode(c, cased)));
        let regex = if needs_regex {
            let mut re = String::from("(?s)");
            let anchored_start = !matches!(kind, StrKind::Suffix | StrKind::Contains);
            let anchored_end = !matches!(kind, StrKind::Prefix | StrKind::Contains);
            if anchored_start {
                re.push('^');
            }
            if kind == StrKind::Glob {
                for p in &norm {
                    match p {
                        GlobPart::Lit(s) => push_lit(&mut re, s, cased),
                        GlobPart::Star => re.push_str(".*"),
                        GlobPart::One => re.push('.'),
                    }
                }
            } else {
                push_lit(&mut re, &lit, cased);
            }
            if anchored_end {
                re.push('$');
            }
            Some(
                regex::RegexBuilder::new(&re)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("cannot compile wildcard pattern: {e}"))?,
            )
        } else {
            None
        };
        let ascii_never = regex.is_some() && needs_non_ascii(&norm, cased);
        let needle = if cased { lit } else { lit.to_ascii_lowercase() };
        Ok(StrMatch {
            kind,
            parts: norm,
            cased,
            needle,
            star,
            regex,
            ascii_never,
        })
    }

    /// A plain literal match of `kind` (no wildcard interpretation).
    ///
    /// # Errors
    /// As [`StrMatch::new`].
    pub fn literal(kind: StrKind, text: &str, cased: bool) -> Result<StrMatch, String> {
        let lit = GlobPart::Lit(text.to_string());
        let parts = match kind {
            StrKind::Exact => vec![lit],
            StrKind::Prefix => vec![lit, GlobPart::Star],
            StrKind::Suffix => vec![GlobPart::Star, lit],
            StrKind::Contains => vec![GlobPart::Star, lit, GlobPart::Star],
            StrKind::Any | StrKind::Glob => vec![GlobPart::Star],
        };
        StrMatch::new(parts, cased)
    }

    /// Literal fragments every matching value contains (for the prefilter).
    /// Empty for `Any` and for globs without literal text.
    pub fn literals(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                GlobPart::Lit(s) if !s.is_empty() => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Matches one string value.
    pub fn is_match(&self, hay: &str) -> bool {
        if let Some(g) = &self.star {
            return g.is_match(hay.as_bytes(), self.cased);
        }
        if let Some(re) = &self.regex {
            return !(self.ascii_never && hay.is_ascii()) && re.is_match(hay);
        }
        let (h, n) = (hay.as_bytes(), self.needle.as_bytes());
        let eq = |a: &[u8], b: &[u8]| {
            if self.cased {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match self.kind {
            StrKind::Any => true,
            StrKind::Exact => h.len() == n.len() && eq(h, n),
            StrKind::Prefix => h.len() >= n.len() && eq(&h[..n.len()], n),
            StrKind::Suffix => h.len() >= n.len() && eq(&h[h.len() - n.len()..], n),
            StrKind::Contains => {
                if n.is_empty() {
                    true
                } else if self.cased {
                    memchr::memmem::find(h, n).is_some()
                } else {
                    find_ascii_ci(h, n).is_some()
                }
            }
            // Globs always carry a star glob or a regex.
            StrKind::Glob => false,
        }
    }
}

/// ASCII case-insensitive substring search for a lowercase `needle` (the
/// position of its leftmost occurrence): memchr2 finds candidate starts (the
/// first byte in either case), then one compare.
fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let Some(&first) = needle.first() else {
        return Some(0);
    };
    let (lo, up) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    let mut pos = 0;
    while let Some(i) = memchr::memchr2(lo, up, &hay[pos..]) {
        let start = pos + i;
        let w = hay.get(start..start + needle.len())?;
        if w.eq_ignore_ascii_case(needle) {
            return Some(start);
        }
        pos = start + 1;
    }
    None
}

/// True when `c` in a case-insensitive pattern needs Unicode case folding (a
/// non-ASCII letter); every other character matches only itself or, for
/// ASCII letters, its ASCII case variant.
pub fn folds_unicode(c: char, cased: bool) -> bool {
    !cased && !c.is_ascii() && c.is_alphabetic()
}

/// True when some character every match must contain (a literal of `parts`)
/// cannot be ASCII: a non-ASCII character matched exactly, or a non-ASCII
/// letter none of whose case variants is ASCII (not the Kelvin sign, say).
fn needs_non_ascii(parts: &[GlobPart], cased: bool) -> bool {
    let mut buf = [0u8; 4];
    parts.iter().any(|p| match p {
        GlobPart::Lit(s) => s.chars().any(|c| {
            if c.is_ascii() {
                return false;
            }
            if !folds_unicode(c, cased) {
                return true;
            }
            let re = format!("^(?i:{})$", regex::escape(c.encode_utf8(&mut buf)));
            regex::Regex::new(&re).is_ok_and(|re| {
                !(0u8..128).any(|b| re.is_match(std::str::from_utf8(&[b]).unwrap_or("")))
            })
        }),
        _ => false,
    })
}

/// Appends the literal `s` to a regex. Case-insensitive matching is ASCII
/// case folding for ASCII characters (`k` matches `k`/`K`, never the Kelvin
/// sign) and Unicode simple case folding for the others, so an ASCII run of a
/// pattern only ever matches the same ASCII run (up to ASCII case) of the
/// text: the prefilter relies on this to look for ASCII runs only.
fn push_lit(re: &mut String, s: &str, cased: bool) {
    let mut buf = [0u8; 4];
    for c in s.chars() {
        let esc = regex::escape(c.encode_utf8(&mut buf));
        if cased || !c.is_alphabetic() {
            re.push_str(&esc);
        } else if c.is_ascii() {
            re.push('[');
            re.push(c.to_ascii_lowercase());
            re.push(c.to_ascii_uppercase());
            re.push(']');
        } else {
            re.push_str("(?i:");
            re.push_str(&esc);
            re.push(')');
        }
    }
}

/// A compiled Sigma `re` value.
#[derive(Debug, Clone)]
pub struct RegexMatch {
    /// The pattern as written.
    pub pattern: String,
    /// Flags as written (`i`, `m`, `s`).
    pub flags: String,
    /// The compiled regex.
    pub regex: Regex,
}

impl RegexMatch {
    /// Compiles `pattern` with Sigma's `re` flags.
    ///
    /// # Errors
    /// When the pattern is not a valid regex (or too large).
    pub fn new(pattern: &str, i: bool, m: bool, s: bool) -> Result<RegexMatch, String> {
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(i)
            .multi_line(m)
            .dot_matches_new_line(s)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| format!("invalid regular expression {pattern:?}: {e}"))?;
        let flags = [(i, 'i'), (m, 'm'), (s, 's')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
        Ok(RegexMatch {
            pattern: pattern.to_string(),
            flags,
            regex,
        })
    }
}

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fe80::/10` or a bare address (a host route).
    ///
    /// # Errors
    /// On a malformed address or prefix length.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("invalid cidr {s:?}: bad address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("invalid cidr {s:?}: bad prefix length"))?,
            None => max,
        };
        let addr = match addr {
            IpAddr::V4(v) => IpAddr::V4(mask4(u32::from(v), prefix).into()),
            IpAddr::V6(v) => IpAddr::V6(mask6(u128::from(v), prefix).into()),
        };
        Ok(Cidr { addr, prefix })
    }

    /// True if `ip` is inside the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v) => v.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(u32::from(a), self.prefix) == u32::from(n),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(u128::from(a), self.prefix) == u128::from(n),
            _ => false,
        }
    }

    /// Parses and tests a textual address; false for anything that is not an IP.
    pub fn contains_str(&self, s: &str) -> bool {
        let s = s.trim();
        // `[::1]` and zone ids (`fe80::1%eth0`) are accepted.
        let s = s.trim_start_matches('[').trim_end_matches(']');
        let s = s.split('%').next().unwrap_or(s);
        s.parse().is_ok_and(|ip| self.contains(ip))
    }
}

fn mask4(a: u32, p: u8) -> u32 {
    if p == 0 {
        0
    } else {
        a & (u32::MAX << (32 - p))
    }
}

fn mask6(a: u128, p: u8) -> u128 {
    if p == 0 {
        0
    } else {
        a & (u128::MAX << (128 - p))
    }
}

// ---- --explain rendering -------------------------------------------------

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, op: &str, v: &[Expr]| {
            write!(f, "(")?;
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{e}")?;
            }
            write!(f, ")")
        };
        match self {
            Expr::Const(b) => write!(f, "{b}"),
            Expr::And(v) => list(f, "and", v),
            Expr::Or(v) => list(f, "or", v),
            Expr::AtLeast(n, v) => {
                write!(f, "{n} of ")?;
                list(f, ",", v)
            }
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::Pred(p) => write!(f, "{p}"),
            Expr::Eql(q) => write!(f, "eql({})", q.source.trim()),
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.test)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Str(s) => write!(f, "{s}"),
            Test::Regex(r) => write!(f, "regex{} {:?}", r.flags, r.pattern),
            Test::Cidr(c) => write!(f, "in {}/{}", c.addr, c.prefix),
            Test::Int(n) => write!(f, "== {n}"),
            Test::Cmp(op, n) => write!(f, "{} {n}", op.symbol()),
            Test::Bool(b) => write!(f, "== {b}"),
            Test::Null => write!(f, "is null"),
            Test::Exists(true) => write!(f, "exists"),
            Test::Exists(false) => write!(f, "does not exist"),
            Test::FieldRef(r) => {
                let op = match r.kind {
                    StrKind::Prefix => "startswith",
                    StrKind::Suffix => "endswith",
                    StrKind::Contains => "contains",
                    _ => "==",
                };
                let case = if r.cased { ":cased" } else { "" };
                write!(f, "{op}{case} field {}", r.other)
            }
            Test::TimePart(p, op, n) => write!(f, "{} {} {n}", p.name(), op.symbol()),
        }
    }
}

impl fmt::Display for StrMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.kind {
            StrKind::Exact => "==",
            StrKind::Prefix => "startswith",
            StrKind::Suffix => "endswith",
            StrKind::Contains => "contains",
            StrKind::Any => return write!(f, "is any string"),
            StrKind::Glob => "like",
        };
        let case = if self.cased { ":cased" } else { "" };
        let mut text = String::new();
        if self.kind == StrKind::Glob {
            for p in &self.parts {
                match p {
                    GlobPart::Lit(s) => text.push_str(&s.replace('*', "\\*").replace('?', "\\?")),
                    GlobPart::Star => text.push('*'),
                    GlobPart::One => text.push('?'),
                }
            }
        } else {
            text = self.literals().concat();
        }
        write!(f, "{op}{case} {text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(s: &str) -> Vec<GlobPart> {
        let mut v = Vec::new();
        for c in s.chars() {
            match c {
                '*' => v.push(GlobPart::Star),
                '?' => v.push(GlobPart::One),
                c => v.push(GlobPart::Lit(c.to_string())),
            }
        }
        v
    }

    #[test]
    fn glob_shapes() {
        let m = StrMatch::new(glob("*curl*"), false).unwrap();
        assert_eq!(m.kind, StrKind::Contains);
        assert_eq!(m.literals(), vec!["curl"]);
        assert!(m.is_match("/usr/bin/CURL -s"));
        let m = StrMatch::new(glob("*/curl"), false).unwrap();
        assert_eq!(m.kind, StrKind::Suffix);
        assert!(m.is_match("/usr/bin/Curl"));
        assert!(!m.is_match("/usr/bin/curly"));
        let m = StrMatch::new(glob("/usr/*"), false).unwrap();
        assert_eq!(m.kind, StrKind::Prefix);
        let m = StrMatch::new(glob("a*b?c"), false).unwrap();
        assert_eq!(m.kind, StrKind::Glob);
        assert_eq!(m.literals(), vec!["a", "b", "c"]);
        assert!(m.is_match("AxxbYc"));
        assert!(!m.is_match("AxxbYYc"));
        let m = StrMatch::new(glob("**"), false).unwrap();
        assert_eq!(m.kind, StrKind::Any);
        assert!(m.is_match(""));
    }

    /// The `*`-only glob matcher against the regex it replaces, on every
    /// pattern and text over a small alphabet (exhaustive up to short lengths).
    #[test]
    fn star_glob_agrees_with_regex() {
        let alpha = ['a', 'B', '\\', '.', 'é'];
        let mut words = vec![String::new()];
        for len in 1..=4 {
            let mut next = Vec::new();
            for w in words.iter().filter(|w| w.chars().count() == len - 1) {
                for c in alpha {
                    next.push(format!("{w}{c}"));
                }
            }
            words.extend(next);
        }
        let mut pats = Vec::new();
        for w in words.iter().filter(|w| w.chars().count() <= 3) {
            // Every way of putting stars between the characters of `w`.
            let chars: Vec<char> = w.chars().collect();
            for mask in 0..(1u32 << (chars.len() + 1)) {
                let mut p = String::new();
                for (i, c) in chars.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        p.push('*');
                    }
                    p.push(*c);
                }
                if mask & (1 << chars.len()) != 0 {
                    p.push('*');
                }
                pats.push(p);
            }
        }
        let mut checked = 0;
        for cased in [false, true] {
            for p in &pats {
                let m = StrMatch::new(glob(p), cased).unwrap();
                if m.kind != StrKind::Glob {
                    continue;
                }
                let mut re = String::from("(?s)^");
                for c in p.chars() {
                    match c {
                        '*' => re.push_str(".*"),
                        c => push_lit(&mut re, &c.to_string(), cased),
                    }
                }
                re.push('$');
                let re = Regex::new(&re).unwrap();
                for w in &words {
                    assert_eq!(
                        m.is_match(w),
                        re.is_match(w),
                        "{p:?} cased={cased} on {w:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
        // The star matcher is used where it can be; `?` and case-folded non-ASCII stay regexes.
        assert!(StrMatch::new(glob("a*b*c"), false).unwrap().star.is_some());
        assert!(StrMatch::new(glob("a*b?c"), false).unwrap().star.is_none());
        assert!(StrMatch::new(glob("a*é*c"), false).unwrap().star.is_none());
        assert!(StrMatch::new(glob("a*é*c"), true).unwrap().star.is_some());
    }

    #[test]
    fn case_rules() {
        let m = StrMatch::literal(StrKind::Exact, "Curl", true).unwrap();
        assert!(m.is_match("Curl"));
        assert!(!m.is_match("curl"));
        let m = StrMatch::literal(StrKind::Contains, "ÄRGER", false).unwrap();
        assert!(m.is_match("viel ärger hier"));
        let m = StrMatch::literal(StrKind::Exact, "a.b", false).unwrap();
        assert!(!m.is_match("axb"));
    }

    #[test]
    fn field_paths() {
        let f = Field::parse("auditd.records[].fields.a0");
        assert_eq!(f.base.path(), "auditd.records");
        assert_eq!(f.inner, vec!["fields", "a0"]);
        assert_eq!(f.to_string(), "auditd.records[].fields.a0");
        let f = Field::parse("process.args");
        assert!(f.inner.is_empty());
        assert_eq!(f.to_string(), "process.args");
    }

    #[test]
    fn cidr_v4_v6() {
        let c = Cidr::parse("169.254.0.0/16").unwrap();
        assert!(c.contains_str("169.254.169.254"));
        assert!(c.contains_str("::ffff:169.254.1.1"));
        assert!(!c.contains_str("10.0.0.1"));
        assert!(!c.contains_str("not an ip"));
        let c = Cidr::parse("fd00:ec2::/32").unwrap();
        assert!(c.contains_str("fd00:ec2::254"));
        assert!(c.contains_str("[fd00:ec2::254]"));
        assert!(!c.contains_str("fd00:ec3::254"));
        assert!(!c.contains_str("169.254.169.254"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains_str("8.8.8.8"));
        assert!(Cidr::parse("1.2.3.4").unwrap().contains_str("1.2.3.4"));
        assert!(Cidr::parse("1.2.3.4/33").is_err());
        assert!(Cidr::parse("x/8").is_err());
    }

    #[test]
    fn expr_builders_simplify() {
        assert!(matches!(Expr::and(vec![]), Expr::Const(true)));
        assert!(matches!(Expr::or(vec![]), Expr::Const(false)));
        assert!(matches!(
            Expr::and(vec![Expr::Const(true), Expr::Const(false)]),
            Expr::Const(false)
        ));
        assert!(matches!(
            Expr::not(Expr::not(Expr::Const(true))),
            Expr::Const(true)
        ));
    }
}
