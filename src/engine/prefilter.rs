//! The prefilter: which rules can possibly match an event, from one
//! Aho-Corasick pass per string field.
//!
//! At compile time every single-event rule gets a *necessary condition*: a
//! boolean formula ([`Need`]) over *fragments* — a literal that must occur,
//! ASCII case-insensitively, somewhere in one field's text — that holds on
//! every event the rule matches (its logsource filter included). All fragments
//! of a field go into one automaton. Per event, each field with patterns is
//! lowercased once into a reused buffer and scanned once; the fragments found
//! *trigger* the rules indexed under them, whose formula is then checked
//! against the set of fragments found. Only the rules that pass (plus those
//! with no literal need at all) are evaluated exactly by the matcher.
//!
//! # The contract
//!
//! The prefilter never gives a false negative: if the matcher would say yes,
//! the rule is a candidate. It is tested by comparison — every rule case and a
//! property test over the corpus rules run with the prefilter on, off and with
//! every rule a candidate, and the alerts must be identical.
//!
//! # Deriving the formula (all rules of [`need`])
//!
//! - A string predicate (equality, prefix, suffix, contains, glob) needs each
//!   of its literal pieces on its field (AND). Under case-insensitive matching
//!   a piece is cut at its non-ASCII letters: the matcher folds those the
//!   Unicode way, which may turn them into ASCII (`K` Kelvin sign vs `k`);
//!   every other character (ASCII, and non-ASCII non-letters such as emoji or
//!   U+202E) matches itself up to ASCII case, so it stays in the fragment.
//!   Pieces shorter than [`MIN_FRAGMENT`] bytes are "always possible".
//! - `and` is AND, `or` and `n of` are OR (at least one must hold).
//! - `not`, regexes, CIDRs, numbers, booleans, `null`, `exists`, `fieldref`
//!   and time parts are "always possible" (`true`): they carry no literal the
//!   event must contain.
//! - EQL event queries (`Expr::Eql`) the same way, over the compiled EQL: the
//!   category is a fragment on `event.category`; `and`/`or` as above; a field
//!   predicate (`:`/`like` wildcards, `==` a string, `in` strings) needs its
//!   literal on its field, since EQL field predicates are false on a missing
//!   field; everything else (`not`, `!=`, `not in`, regexes, functions,
//!   arithmetic, numbers) is `true`. `==` and `in` may compare with Unicode
//!   lowercasing, so their literals are also cut at `k` and `i`
//!   ([`fragments_of_folded`]). EQL sequences are stateful rules: not here.
//! - Windash, base64offset and placeholder expansions are separate values, so
//!   they come out as OR of their alternatives.
//!
//! # What the scan sees
//!
//! The text the matcher would test, or more of it: a string; each element of
//! a list field (`process.args`); an integer formatted in decimal (a rule may
//! say `DestinationPort: '443'` as a string); every leaf of a JSON value (so
//! `auditd.records[].fields.a0` is covered by scanning all of
//! `auditd.records`). All texts of one field are lowercased into one reused
//! buffer, separated by a newline, and scanned in one pass; a fragment across
//! a separator is only a spurious candidate. An absent field yields no
//! fragment, and rightly so: a string predicate on an absent field is false.
//!
//! # Design rationale
//!
//! Triggers keep the per-event work proportional to the fragments present,
//! not to the number of rules: a rule is indexed under one clause of its
//! formula (a disjunction of fragments that must hold), chosen from the
//! rule's own condition before its logsource filter (`event.category:
//! process` is on every exec) and preferring the longest fragments. This is
//! the classic "one necessary literal per rule" trick of multi-pattern
//! engines (compare ripgrep's `find_candidate_line`), extended with a full
//! formula check so that rules with several required fragments are skipped
//! when only one of them shows up.

use std::collections::HashMap;
use std::io::Write as _;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde_json::Value;
use tripline_parsers::{Event, FieldValue, ecs::FieldRef};

use crate::rule::eql::EventFilter as EqlFilter;
use crate::rule::eql::ast::CmpOp;
use crate::rule::eql::compile::{CExpr, Pattern};
use crate::rule::eql::value::Value as EqlValue;
use crate::rule::ir::{Expr, Predicate, StrMatch, Test, folds_unicode};
use crate::rule::{RuleKind, RuleSet};

/// Literal pieces shorter than this (in bytes) are not worth looking for.
pub const MIN_FRAGMENT: usize = 2;

/// A necessary condition over fragment ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Nothing is required.
    True,
    /// Fragment `id` must be present.
    Frag(u32),
    /// All must hold.
    And(Vec<Need>),
    /// One must hold.
    Or(Vec<Need>),
}

impl Need {
    fn and(v: Vec<Need>) -> Need {
        let mut out = Vec::with_capacity(v.len());
        for n in v {
            match n {
                Need::True => {}
                Need::And(inner) => out.extend(inner),
                n => {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        match out.len() {
            0 => Need::True,
            1 => out.pop().unwrap_or(Need::True),
            _ => Need::And(out),
        }
    }

    fn or(v: Vec<Need>) -> Need {
        let mut out = Vec::with_capacity(v.len());
        for n in v {
            match n {
                Need::True => return Need::True,
                Need::Or(inner) => out.extend(inner),
                n => {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
        }
        match out.len() {
            // An empty OR comes from `Expr::Or([])` (false): requiring nothing is still correct.
            0 => Need::True,
            1 => out.pop().unwrap_or(Need::True),
            _ => Need::Or(out),
        }
    }

    fn holds(&self, present: &[u64]) -> bool {
        match self {
            Need::True => true,
            Need::Frag(f) => present[(*f / 64) as usize] & (1 << (f % 64)) != 0,
            Need::And(v) => v.iter().all(|n| n.holds(present)),
            Need::Or(v) => v.iter().any(|n| n.holds(present)),
        }
    }
}

/// A fragment: a lowercase literal on one field.
#[derive(Debug, Clone)]
struct Fragment {
    field: usize,
    text: String,
}

/// One field with patterns and its automaton.
#[derive(Debug)]
struct FieldScan {
    field: FieldRef,
    ac: AhoCorasick,
    /// Pattern id -> fragment id.
    frags: Vec<u32>,
}

/// Per-rule prefilter data.
#[derive(Debug, Clone)]
struct RuleNeed {
    need: Need,
    /// Fragments the rule is indexed under; `None`: always a candidate.
    triggers: Option<Vec<u32>>,
}

/// The compiled prefilter of a [`RuleSet`]. Immutable; per-event state lives in [`Scratch`].
#[derive(Debug)]
pub struct Prefilter {
    fields: Vec<FieldScan>,
    /// Field index -> path, for `--explain`.
    paths: Vec<String>,
    frags: Vec<Fragment>,
    rules: Vec<RuleNeed>,
    /// Fragment id -> rules triggered by it.
    by_frag: Vec<Vec<u32>>,
    /// Rules with no literal need, in rule order.
    always: Vec<u32>,
}

/// Reusable per-event buffers (one per thread of evaluation).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    present: Vec<u64>,
    touched: Vec<u32>,
    seen: Vec<u32>,
    stamp: u32,
    lower: Vec<u8>,
}

struct Builder {
    fields: Vec<FieldRef>,
    field_ix: HashMap<FieldRef, usize>,
    frags: Vec<Fragment>,
    frag_ix: HashMap<(usize, String), u32>,
}

impl Builder {
    fn frag(&mut self, field: &FieldRef, text: String) -> u32 {
        let fi = match self.field_ix.get(field) {
            Some(&i) => i,
            None => {
                self.fields.push(field.clone());
                self.field_ix.insert(field.clone(), self.fields.len() - 1);
                self.fields.len() - 1
            }
        };
        let key = (fi, text);
        if let Some(&id) = self.frag_ix.get(&key) {
            return id;
        }
        let id = self.frags.len() as u32;
        self.frags.push(Fragment {
            field: fi,
            text: key.1.clone(),
        });
        self.frag_ix.insert(key, id);
        id
    }

    /// The necessary condition of `e` (see the module docs).
    fn need(&mut self, e: &Expr) -> Need {
        match e {
            Expr::Const(_) | Expr::Not(_) => Need::True,
            Expr::Eql(q) => match q.as_event() {
                Some(f) => self.eql_filter(f),
                None => Need::True,
            },
            Expr::And(v) => {
                let v = v.iter().map(|e| self.need(e)).collect();
                Need::and(v)
            }
            Expr::Or(v) => {
                let v = v.iter().map(|e| self.need(e)).collect();
                Need::or(v)
            }
            Expr::AtLeast(n, v) => {
                if *n == 0 {
                    Need::True
                } else {
                    let v = v.iter().map(|e| self.need(e)).collect();
                    Need::or(v)
                }
            }
            Expr::Pred(p) => self.pred(p),
            // Compiled EQL conditions expose no predicates: always possible.
            #[allow(unreachable_patterns)]
            _ => Need::True,
        }
    }

    fn pred(&mut self, p: &Predicate) -> Need {
        let Test::Str(m) = &p.test else {
            return Need::True;
        };
        // Keyed by the event field: a `base[].inner` path is covered by
        // scanning all of `base` (see `push_json`).
        self.str_match(&p.field.base, m)
    }

    /// Every literal piece of `m` on `field`.
    fn str_match(&mut self, field: &FieldRef, m: &StrMatch) -> Need {
        let mut all = Vec::new();
        for lit in m.literals() {
            for piece in fragments_of(lit, m.cased) {
                all.push(Need::Frag(self.frag(field, piece)));
            }
        }
        Need::and(all)
    }

    /// A string literal the value of `field` equals (EQL `==`, `in`),
    /// compared exactly or with Unicode lowercasing: see [`fragments_of_folded`].
    fn equal_text(&mut self, field: &FieldRef, lit: &str) -> Need {
        let t = lit.trim();
        // `port == "80"` holds for 80 and "080": numbers are not text.
        if t.parse::<f64>().is_ok()
            || t.eq_ignore_ascii_case("true")
            || t.eq_ignore_ascii_case("false")
        {
            return Need::True;
        }
        let all = fragments_of_folded(lit)
            .into_iter()
            .map(|piece| Need::Frag(self.frag(field, piece)))
            .collect();
        Need::and(all)
    }

    /// A compiled EQL event query (see the module docs on EQL).
    fn eql_filter(&mut self, f: &EqlFilter) -> Need {
        let category = match &f.category {
            Some(c) => self.equal_text(&FieldRef::resolve("event.category"), c),
            None => Need::True,
        };
        let cond = self.eql(&f.condition);
        Need::and(vec![category, cond])
    }

    fn eql(&mut self, e: &CExpr) -> Need {
        let field = |e: &CExpr| match e {
            CExpr::Field(f) => Some(f.base.clone()),
            _ => None,
        };
        match e {
            CExpr::And(v) => {
                let v = v.iter().map(|e| self.eql(e)).collect();
                Need::and(v)
            }
            CExpr::Or(v) => {
                let v = v.iter().map(|e| self.eql(e)).collect();
                Need::or(v)
            }
            // Field predicates are false on a missing field (compile.rs, "Null semantics").
            CExpr::Match {
                lhs,
                pats,
                query: true,
            } => match field(lhs) {
                Some(f) => {
                    let alts = pats
                        .iter()
                        .map(|p| match p {
                            Pattern::Glob(m) => self.str_match(&f, m),
                            Pattern::Regex(_) => Need::True,
                        })
                        .collect();
                    Need::or(alts)
                }
                None => Need::True,
            },
            CExpr::Cmp {
                op: CmpOp::Eq,
                lhs,
                rhs,
                query: true,
            } => match (field(lhs), &**rhs) {
                (Some(f), CExpr::Const(EqlValue::Str(s))) => self.equal_text(&f, s),
                _ => Need::True,
            },
            CExpr::InSet {
                lhs,
                set,
                negated: false,
                query: true,
            } => match (field(lhs), set.strings()) {
                (Some(f), Some(strs)) if !strs.is_empty() => {
                    let alts = strs.iter().map(|s| self.equal_text(&f, s)).collect();
                    Need::or(alts)
                }
                _ => Need::True,
            },
            // `not`, functions, arithmetic, field-to-field comparisons, `!=`,
            // `not in`, null tests: no literal the event must contain.
            _ => Need::True,
        }
    }
}

/// The lowercase pieces of a literal the prefilter may require.
fn fragments_of(lit: &str, cased: bool) -> Vec<String> {
    let lower = |s: &str| s.to_ascii_lowercase();
    if cased || lit.is_ascii() {
        return if lit.len() >= MIN_FRAGMENT {
            vec![lower(lit)]
        } else {
            Vec::new()
        };
    }
    lit.split(|c: char| folds_unicode(c, cased))
        .filter(|s| s.len() >= MIN_FRAGMENT)
        .map(lower)
        .collect()
}

/// The pieces of a literal an equal text must contain when the comparison
/// may fold case the Unicode way (EQL's `in~`, `==` on folded sets): as
/// [`fragments_of`] case-insensitively, and also cut at `k` and `i`, the only
/// ASCII letters a non-ASCII character lowercases to (U+212A Kelvin sign to
/// `k`, U+0130 to `i` + U+0307), so no fragment asks for text the event
/// may spell otherwise.
fn fragments_of_folded(lit: &str) -> Vec<String> {
    fragments_of(lit, false)
        .iter()
        .flat_map(|f| f.split(['k', 'i']))
        .filter(|s| s.len() >= MIN_FRAGMENT)
        .map(str::to_string)
        .collect()
}

/// The fragments a rule is indexed under, or `None` if the formula has no
/// clause that always contains a fragment.
fn triggers(n: &Need, frags: &[Fragment]) -> Option<Vec<u32>> {
    match n {
        Need::True => None,
        Need::Frag(f) => Some(vec![*f]),
        Need::Or(v) => {
            let mut out = Vec::new();
            for c in v {
                out.extend(triggers(c, frags)?);
            }
            out.sort_unstable();
            out.dedup();
            Some(out)
        }
        Need::And(v) => v.iter().filter_map(|c| triggers(c, frags)).max_by_key(|t| {
            let shortest = t
                .iter()
                .map(|&f| frags[f as usize].text.len())
                .min()
                .unwrap_or(0);
            (shortest.min(16), usize::MAX - t.len())
        }),
    }
}

impl Prefilter {
    /// Builds the prefilter of `rules`. Rules that are not single-event rules
    /// (sequences, counts) are always candidates here.
    pub fn new(rules: &RuleSet) -> Prefilter {
        let mut b = Builder {
            fields: Vec::new(),
            field_ix: HashMap::new(),
            frags: Vec::new(),
            frag_ix: HashMap::new(),
        };
        let mut needs = Vec::with_capacity(rules.len());
        for r in rules.rules() {
            let (filter, cond) = match &r.kind {
                RuleKind::Single(d) => (b.need(&d.filter), b.need(&d.condition)),
                #[allow(unreachable_patterns)]
                _ => (Need::True, Need::True),
            };
            needs.push((filter, cond));
        }
        let mut out_rules = Vec::with_capacity(needs.len());
        let mut by_frag = vec![Vec::new(); b.frags.len()];
        let mut always = Vec::new();
        for (i, (filter, cond)) in needs.into_iter().enumerate() {
            // Index under the rule's own condition first: the logsource filter
            // (`event.category: process`) holds on most events.
            let trig = triggers(&cond, &b.frags).or_else(|| triggers(&filter, &b.frags));
            match &trig {
                Some(t) => {
                    for &f in t {
                        by_frag[f as usize].push(i as u32);
                    }
                }
                None => always.push(i as u32),
            }
            out_rules.push(RuleNeed {
                need: Need::and(vec![filter, cond]),
                triggers: trig,
            });
        }
        let mut per_field: Vec<Vec<u32>> = vec![Vec::new(); b.fields.len()];
        for (id, f) in b.frags.iter().enumerate() {
            per_field[f.field].push(id as u32);
        }
        let mut fields = Vec::new();
        for (fi, ids) in per_field.into_iter().enumerate() {
            if ids.is_empty() {
                continue;
            }
            let pats: Vec<&[u8]> = ids
                .iter()
                .map(|&id| b.frags[id as usize].text.as_bytes())
                .collect();
            let build = |kind| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .kind(kind)
                    .build(&pats)
            };
            // A DFA is fastest; fall back to the automaton's own choice if it is too big.
            let Ok(ac) = build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)) else {
                // Cannot happen for non-empty byte patterns; if it did, make every
                // rule that needs these fragments a candidate (no false negative).
                for &id in &ids {
                    for &r in &by_frag[id as usize] {
                        always.push(r);
                    }
                }
                continue;
            };
            fields.push(FieldScan {
                field: b.fields[fi].clone(),
                ac,
                frags: ids,
            });
        }
        always.sort_unstable();
        always.dedup();
        Prefilter {
            fields,
            paths: b.fields.iter().map(|f| f.path().to_string()).collect(),
            frags: b.frags,
            rules: out_rules,
            by_frag,
            always,
        }
    }

    /// Number of distinct fragments.
    pub fn fragment_count(&self) -> usize {
        self.frags.len()
    }

    /// Number of fields scanned per event (at most).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Rules that are candidates for every event (no literal need).
    pub fn always_count(&self) -> usize {
        self.always.len()
    }

    /// A fresh scratch space sized for this prefilter.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            present: vec![0; self.frags.len().div_ceil(64)],
            touched: Vec::new(),
            seen: vec![0; self.rules.len()],
            stamp: 0,
            lower: Vec::with_capacity(4096),
        }
    }

    /// The candidate rules for `ev`, as rule indices in ascending order, into `out`.
    pub fn candidates(&self, ev: &Event, s: &mut Scratch, out: &mut Vec<u32>) {
        out.clear();
        if s.present.len() * 64 < self.frags.len() || s.seen.len() < self.rules.len() {
            *s = self.scratch();
        }
        for &f in &s.touched {
            s.present[(f / 64) as usize] = 0;
        }
        s.touched.clear();
        for fs in &self.fields {
            if let Some(lv) = ev.lazy_value(&fs.field) {
                // A structured field still in compact form (`auditd.records`):
                // the same leaf texts as `push_json`, without building JSON.
                s.lower.clear();
                lv.for_each_text(&mut |t| push_lower(&mut s.lower, t.as_bytes()));
                scan(fs, &s.lower, &mut s.present, &mut s.touched);
            } else if let Some(v) = ev.get_ref(&fs.field) {
                s.lower.clear();
                push_value(&mut s.lower, v);
                scan(fs, &s.lower, &mut s.present, &mut s.touched);
            }
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.seen.iter_mut().for_each(|x| *x = 0);
            s.stamp = 1;
        }
        for &f in &s.touched {
            for &r in &self.by_frag[f as usize] {
                let seen = &mut s.seen[r as usize];
                if *seen != s.stamp {
                    *seen = s.stamp;
                    if self.rules[r as usize].need.holds(&s.present) {
                        out.push(r);
                    }
                }
            }
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
    }

    /// The fragments rule `index` needs, for `rules check --explain`.
    pub fn explain(&self, index: usize) -> String {
        let Some(r) = self.rules.get(index) else {
            return String::new();
        };
        let mut s = String::new();
        s.push_str("  prefilter need: ");
        self.render(&r.need, &mut s);
        s.push('\n');
        match &r.triggers {
            None => s.push_str("  prefilter triggers: none (evaluated on every event)\n"),
            Some(t) => {
                s.push_str("  prefilter triggers (any of): ");
                let names: Vec<String> = t.iter().map(|&f| self.frag_name(f)).collect();
                s.push_str(&names.join(", "));
                s.push('\n');
            }
        }
        s
    }

    fn frag_name(&self, f: u32) -> String {
        let fr = &self.frags[f as usize];
        let field = self.paths.get(fr.field).map_or("", String::as_str);
        format!("{field}~{:?}", fr.text)
    }

    fn render(&self, n: &Need, s: &mut String) {
        match n {
            Need::True => s.push_str("true"),
            Need::Frag(f) => s.push_str(&self.frag_name(*f)),
            Need::And(v) | Need::Or(v) => {
                let op = if matches!(n, Need::And(_)) {
                    " and "
                } else {
                    " or "
                };
                s.push('(');
                for (i, c) in v.iter().enumerate() {
                    if i > 0 {
                        s.push_str(op);
                    }
                    self.render(c, s);
                }
                s.push(')');
            }
        }
    }
}

/// Separator between the texts of one field in the scan buffer. A fragment
/// that spans it is a spurious hit: one more candidate, never a lost one.
const SEP: u8 = b'\n';

fn push_lower(buf: &mut Vec<u8>, text: &[u8]) {
    buf.extend(text.iter().map(u8::to_ascii_lowercase));
    buf.push(SEP);
}

fn push_int(buf: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 24];
    let mut w = &mut tmp[..];
    let _ = write!(w, "{n}");
    let len = 24 - w.len();
    push_lower(buf, &tmp[..len]);
}

/// Appends every text of a field value to `buf`, lowercased.
fn push_value(buf: &mut Vec<u8>, v: FieldValue<'_>) {
    match v {
        FieldValue::Str(s) => push_lower(buf, s.as_bytes()),
        FieldValue::Strs(l) => {
            for s in l {
                push_lower(buf, s.as_bytes());
            }
        }
        FieldValue::Int(n) => push_int(buf, n),
        FieldValue::Json(j) => push_json(buf, j),
    }
}

/// Every leaf the matcher could compare as text, at any depth (object members
/// too: more text only adds fragments, never hides one). This covers every
/// `base[].inner` path below the field with one walk and no key lookups.
fn push_json(buf: &mut Vec<u8>, j: &Value) {
    match j {
        Value::Null => {}
        Value::Bool(b) => push_lower(buf, if *b { b"true" } else { b"false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => push_int(buf, i),
            None => push_lower(buf, n.to_string().as_bytes()),
        },
        Value::String(s) => push_lower(buf, s.as_bytes()),
        Value::Array(a) => {
            for x in a {
                push_json(buf, x);
            }
        }
        Value::Object(m) => {
            for x in m.values() {
                push_json(buf, x);
            }
        }
    }
}

/// One overlapping Aho-Corasick pass over a field's lowercased texts.
fn scan(fs: &FieldScan, buf: &[u8], present: &mut [u64], touched: &mut Vec<u32>) {
    for m in fs.ac.find_overlapping_iter(buf) {
        let f = fs.frags[m.pattern().as_usize()];
        let (w, bit) = ((f / 64) as usize, 1u64 << (f % 64));
        if present[w] & bit == 0 {
            present[w] |= bit;
            touched.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_split_non_ascii_when_folding() {
        assert_eq!(fragments_of("Curl", false), vec!["curl"]);
        assert_eq!(fragments_of("ab\u{212A}cd", false), vec!["ab", "cd"]);
        assert_eq!(fragments_of("ab\u{212A}cd", true), vec!["ab\u{212A}cd"]);
        // Non-letters match themselves: an emoji or U+202E is a fragment.
        assert_eq!(fragments_of("\u{1F600}", false), vec!["\u{1F600}"]);
        assert_eq!(fragments_of("A\u{202E}b", false), vec!["a\u{202E}b"]);
        assert_eq!(fragments_of("\u{430}x", false), Vec::<String>::new());
        assert!(fragments_of("x", false).is_empty());
    }

    /// EQL event queries go through the prefilter; on events built to tempt
    /// it (case, the Kelvin sign, numbers as text, missing fields) the
    /// candidates always include every rule that matches.
    #[test]
    fn eql_queries_are_prefiltered_without_false_negatives() {
        use std::sync::Arc;

        use crate::rule::RuleMeta;
        use crate::rule::ir::{Detection, Rule};
        let queries = [
            r#"process where process.name : "curl*" and process.args : "*169.254.169.254*""#,
            r#"process where process.name == "curl""#,
            r#"process where process.name in~ ("wget", "kubectl")"#,
            r#"process where process.name in ("wget", "KUBECTL")"#,
            r#"network where destination.port == "080""#,
            r#"network where destination.port in ("80", "443")"#,
            r#"any where process.name : "python*" or process.executable like~ "*/PERL""#,
            r#"process where not process.name : "bash" and process.name != "sh""#,
            r#"process where process.name regex~ "cu.l""#,
        ];
        let mut rules = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            let c = crate::rule::eql::compile(q).expect(q);
            rules.push(Rule {
                meta: Arc::new(RuleMeta {
                    id: format!("q{i}"),
                    ..RuleMeta::default()
                }),
                kind: RuleKind::Single(Detection {
                    filter: Expr::Const(true),
                    condition: Expr::Eql(Arc::new(c)),
                }),
            });
        }
        let set = RuleSet::from_rules(rules);
        let p = Prefilter::new(&set);
        let names = [
            "curl",
            "CURL",
            "wget",
            "\u{212A}ubectl",
            "kubectl",
            "python3",
            "bash",
            "sh",
            "cuRl",
        ];
        let mut events = Vec::new();
        for cat in ["process", "network"] {
            for name in names {
                for port in [80, 443, 8080] {
                    events.push(Event::from_json(&serde_json::json!({
                        "event": {"category": [cat]},
                        "process": {
                            "name": name,
                            "executable": format!("/usr/bin/{name}"),
                            "args": [name, "http://169.254.169.254/latest"],
                        },
                        "destination": {"port": port},
                    })));
                }
            }
        }
        events.push(Event::from_json(
            &serde_json::json!({"event": {"category": ["process"]}}),
        ));
        let mut s = p.scratch();
        let mut out = Vec::new();
        let mut matched = 0;
        let mut skipped = 0;
        for ev in &events {
            p.candidates(ev, &mut s, &mut out);
            for (i, r) in set.rules().iter().enumerate() {
                let RuleKind::Single(d) = &r.kind else {
                    continue;
                };
                let hit = crate::engine::matcher::matches(d, ev);
                matched += usize::from(hit);
                let candidate = out.contains(&(i as u32));
                skipped += usize::from(!candidate);
                assert!(
                    !hit || candidate,
                    "{} matches {ev:?} but is no candidate",
                    queries[i]
                );
            }
        }
        assert!(matched > 20, "{matched}");
        // The prefilter does narrow: most (rule, event) pairs are not candidates.
        assert!(skipped > events.len() * queries.len() / 2, "{skipped}");
        // `not`/`!=` and regexes carry no literal, but their category does.
        assert_eq!(p.always_count(), 0);
        assert!(
            p.explain(7).contains("event.category~\"process\""),
            "{}",
            p.explain(7)
        );
    }

    #[test]
    fn need_simplifies() {
        assert_eq!(Need::or(vec![Need::Frag(1), Need::True]), Need::True);
        assert_eq!(Need::and(vec![Need::Frag(1), Need::True]), Need::Frag(1));
        assert_eq!(Need::and(vec![Need::Frag(1), Need::Frag(1)]), Need::Frag(1));
        let present = [0b10u64];
        assert!(Need::Or(vec![Need::Frag(0), Need::Frag(1)]).holds(&present));
        assert!(!Need::And(vec![Need::Frag(0), Need::Frag(1)]).holds(&present));
    }
}
