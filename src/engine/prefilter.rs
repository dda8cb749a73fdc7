//! The prefilter: which rules can possibly match an event, from one
//! Aho-Corasick pass per string field.
//!
//! At compile time every single-event rule gets a *necessary condition*: a
//! boolean formula ([`Need`]) over *fragments* — a literal that must occur,
//! ASCII case-insensitively, somewhere in one field's text — that holds on
//! every event the rule matches (its logsource filter included). All fragments
//! of a field go into one automaton. Per event, each field with patterns is
//! scanned once, ASCII case-insensitively; the fragments found
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
//! # Event classes
//!
//! Most rules cannot apply to most events at all: a Windows process-creation
//! rule never matches a Linux connect, whatever its command line says. The
//! conjuncts of the logsource filters that read plain fields only
//! (`host.os.type`, `event.category`, `event.type`, `event.action`: the
//! mapping tables' `any_of`/`none_of`) become *class conditions* (at most 64,
//! the most shared first). An event's *class key* is the exact values of the
//! fields they read; per key the conditions are evaluated once, exactly, by
//! the matcher itself, and the rules whose class conditions all hold form the
//! event's *view*: the automata of those rules' fragments only, their
//! triggers and their always-candidates. So an event scans only the fields and
//! fragments of rules that can apply to it, and the class conditions
//! themselves leave the formulas (they hold on every event of the view).
//!
//! Views are built on first use and shared by every thread (at most
//! [`MAX_VIEWS`]; classes beyond that use the view of all rules, still
//! correct); each [`Scratch`] remembers the class keys it has seen (at most
//! [`MAX_CLASS_KEYS`], then it forgets them all), so the per-event cost of
//! the classes is reading a few fields and one hash lookup. No false negative
//! follows by construction: a rule outside the view has a class condition, a
//! conjunct of its filter, that is false on the event, and the matcher would
//! evaluate that same conjunct the same way.
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
//! `auditd.records`). The automata are ASCII case-insensitive over the
//! lowercase fragments, so nothing is lowercased: a string is scanned in
//! place, the texts of a list or JSON value are copied into one reused buffer,
//! separated by a newline, and scanned in one pass (a fragment across a
//! separator is only a spurious candidate). An absent field yields no
//! fragment, and rightly so: a string predicate on an absent field is false.
//!
//! # Design rationale
//!
//! Triggers keep the per-event work proportional to the fragments present,
//! not to the number of rules: a rule is indexed under one clause of its
//! formula (a disjunction of fragments that must hold), chosen from the
//! rule's own condition before its logsource filter (`event.category:
//! process` is on every exec) and preferring fragments few other rules need
//! (a fragment in many rules, `execve` or `\\windows\\`, is in many
//! events), then the longest ones. This is
//! the classic "one necessary literal per rule" trick of multi-pattern
//! engines (compare ripgrep's `find_candidate_line`), extended with a full
//! formula check so that rules with several required fragments are skipped
//! when only one of them shows up.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
    /// Pattern id -> view-local fragment id.
    frags: Vec<u32>,
}

/// Per-rule prefilter data.
#[derive(Debug, Clone)]
struct RuleNeed {
    /// The necessary condition, without the rule's class conditions (which
    /// hold on every event of every view the rule is in).
    need: Need,
    /// Fragments the rule is indexed under; `None`: always a candidate.
    triggers: Option<Vec<u32>>,
    /// The class conditions the rule needs (bits of [`Classes::conds`]).
    class: u64,
}

/// Event classes: the logsource filters' conditions on a few fields
/// (`host.os.type`, `event.category`, ...), evaluated exactly, decide which
/// rules can apply to an event at all (see the module docs, "Event classes").
#[derive(Debug, Default)]
struct Classes {
    /// The fields the conditions read: an event's class key is their values.
    fields: Vec<FieldRef>,
    /// Class conditions (at most 64), each a conjunct of some rules' filter.
    conds: Vec<Expr>,
    /// The distinct condition sets of the rules (`RuleNeed::class` values).
    groups: Vec<u64>,
}

/// The scan data of one set of applicable rules: the automata of their
/// fragments only, and which rules each fragment triggers.
#[derive(Debug)]
struct View {
    fields: Vec<FieldScan>,
    /// View-local fragment id -> global fragment id.
    global: Vec<u32>,
    /// View-local fragment id -> rules triggered by it.
    by_frag: Vec<Vec<u32>>,
    /// Rules of the view with no literal need, in rule order.
    always: Vec<u32>,
}

/// Views built so far, by the set of applicable groups.
#[derive(Debug, Default)]
struct ViewCache {
    by_groups: HashMap<Vec<u64>, Arc<View>>,
}

/// At most this many views are built; events of further classes use the view of all rules.
const MAX_VIEWS: usize = 128;
/// A scratch space remembers at most this many class keys (then forgets them all).
const MAX_CLASS_KEYS: usize = 4096;
/// Class keys longer than this are not remembered (hostile `host.os.type` values).
const MAX_KEY_LEN: usize = 1024;

/// The compiled prefilter of a [`RuleSet`]. Shared by the threads of a scan;
/// per-event state lives in [`Scratch`].
#[derive(Debug)]
pub struct Prefilter {
    /// Distinguishes prefilters, so a scratch space is never used with another one.
    id: u64,
    /// Field index -> path, for `--explain`.
    paths: Vec<String>,
    /// Field index -> field.
    fields_of: Vec<FieldRef>,
    frags: Vec<Fragment>,
    rules: Vec<RuleNeed>,
    classes: Classes,
    /// Fields with at least one fragment (for [`Prefilter::field_count`]).
    field_total: usize,
    /// Rules with no literal need, over all classes.
    always_total: usize,
    views: Mutex<ViewCache>,
    /// The view of every rule (events of classes beyond [`MAX_VIEWS`]).
    all: OnceLock<Arc<View>>,
}

/// Reusable per-event buffers (one per thread of evaluation).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    owner: u64,
    present: Vec<u64>,
    touched: Vec<u32>,
    seen: Vec<u32>,
    stamp: u32,
    /// The texts of a list or JSON field, joined for one scan.
    buf: Vec<u8>,
    key: Vec<u8>,
    /// Class key -> index in `class_views`, for the classes this thread has seen.
    class_ix: HashMap<Box<[u8]>, usize>,
    class_views: Vec<Arc<View>>,
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
/// clause that always contains a fragment. Of the clauses of an AND, the one
/// likely to be present least often: no fragment shorter than 4 bytes if
/// possible, then none that more than 4 rules need (a fragment many rules
/// need, `.exe`, `execve`, `/bin/`, is one most events have), then the
/// longest shortest fragment, the fewest fragments, the least shared.
/// `uses[f]`: how many rules' formulas contain fragment `f`.
fn triggers(n: &Need, frags: &[Fragment], uses: &[u32]) -> Option<Vec<u32>> {
    match n {
        Need::True => None,
        Need::Frag(f) => Some(vec![*f]),
        Need::Or(v) => {
            let mut out = Vec::new();
            for c in v {
                out.extend(triggers(c, frags, uses)?);
            }
            out.sort_unstable();
            out.dedup();
            Some(out)
        }
        Need::And(v) => v
            .iter()
            .filter_map(|c| triggers(c, frags, uses))
            .min_by_key(|t| {
                let shortest = t
                    .iter()
                    .map(|&f| frags[f as usize].text.len())
                    .min()
                    .unwrap_or(0);
                let shared = t.iter().map(|&f| uses[f as usize]).max().unwrap_or(0);
                (
                    shortest < 4,
                    shared > 4,
                    usize::MAX - shortest.min(16),
                    t.len(),
                    shared,
                )
            }),
    }
}

/// Calls `f` on every fragment of a formula.
fn each_frag(n: &Need, f: &mut dyn FnMut(u32)) {
    match n {
        Need::True => {}
        Need::Frag(x) => f(*x),
        Need::And(v) | Need::Or(v) => v.iter().for_each(|c| each_frag(c, f)),
    }
}

/// A conjunct of a logsource filter that can serve as a class condition: its
/// predicates read plain fields (no `[]` path, no other field), so its truth is
/// a function of those fields' values alone.
fn is_class_expr(e: &Expr) -> bool {
    match e {
        Expr::Const(_) => true,
        Expr::And(v) | Expr::Or(v) | Expr::AtLeast(_, v) => v.iter().all(is_class_expr),
        Expr::Not(e) => is_class_expr(e),
        Expr::Pred(p) => p.field.inner.is_empty() && !matches!(p.test, Test::FieldRef(_)),
        Expr::Eql(_) => false,
    }
}

/// The top-level conjuncts of an expression.
fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::And(v) => v.iter().collect(),
        Expr::Const(true) => Vec::new(),
        e => vec![e],
    }
}

/// Serializes a field value into a class key, faithfully (distinct values, distinct bytes).
fn push_key(key: &mut Vec<u8>, v: Option<FieldValue<'_>>) {
    let text = |key: &mut Vec<u8>, s: &[u8]| {
        key.extend_from_slice(&(s.len() as u64).to_le_bytes());
        key.extend_from_slice(s);
    };
    match v {
        None => key.push(0),
        Some(FieldValue::Str(s)) => {
            key.push(1);
            text(key, s.as_bytes());
        }
        Some(FieldValue::Strs(l)) => {
            key.push(2);
            key.extend_from_slice(&(l.len() as u64).to_le_bytes());
            for s in l {
                text(key, s.as_bytes());
            }
        }
        Some(FieldValue::Int(n)) => {
            key.push(3);
            key.extend_from_slice(&n.to_le_bytes());
        }
        Some(FieldValue::Json(j)) => {
            key.push(4);
            text(key, j.to_string().as_bytes());
        }
    }
}

impl Prefilter {
    /// Builds the prefilter of `rules`. Rules that are not single-event rules
    /// (sequences, counts) are always candidates here.
    pub fn new(rules: &RuleSet) -> Prefilter {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let mut b = Builder {
            fields: Vec::new(),
            field_ix: HashMap::new(),
            frags: Vec::new(),
            frag_ix: HashMap::new(),
        };
        // Class conditions: the filter conjuncts on plain fields, the most
        // shared first, at most 64 of them.
        let mut cond_ix: HashMap<String, usize> = HashMap::new();
        let mut cond_exprs: Vec<(usize, Expr)> = Vec::new();
        for r in rules.rules() {
            if let RuleKind::Single(d) = &r.kind {
                for c in conjuncts(&d.filter) {
                    if is_class_expr(c) {
                        let k = format!("{c:?}");
                        let i = *cond_ix.entry(k).or_insert_with(|| {
                            cond_exprs.push((0, c.clone()));
                            cond_exprs.len() - 1
                        });
                        cond_exprs[i].0 += 1;
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..cond_exprs.len()).collect();
        order.sort_by_key(|&i| (usize::MAX - cond_exprs[i].0, i));
        order.truncate(64);
        let mut bit_of: HashMap<String, u32> = HashMap::new();
        let mut classes = Classes::default();
        for (bit, &i) in order.iter().enumerate() {
            let e = &cond_exprs[i].1;
            bit_of.insert(format!("{e:?}"), bit as u32);
            e.for_each_predicate(&mut |p| {
                if !classes.fields.contains(&p.field.base) {
                    classes.fields.push(p.field.base.clone());
                }
            });
            classes.conds.push(e.clone());
        }
        let mut needs = Vec::with_capacity(rules.len());
        for r in rules.rules() {
            let (filter, cond, class) = match &r.kind {
                RuleKind::Single(d) => {
                    let mut class = 0u64;
                    let mut rest = Vec::new();
                    for c in conjuncts(&d.filter) {
                        match bit_of.get(&format!("{c:?}")) {
                            Some(&bit) if is_class_expr(c) => class |= 1 << bit,
                            _ => rest.push(b.need(c)),
                        }
                    }
                    (Need::and(rest), b.need(&d.condition), class)
                }
                #[allow(unreachable_patterns)]
                _ => (Need::True, Need::True, 0),
            };
            needs.push((filter, cond, class));
        }
        let mut uses = vec![0u32; b.frags.len()];
        for (filter, cond, _) in &needs {
            let mut mine = Vec::new();
            each_frag(filter, &mut |f| mine.push(f));
            each_frag(cond, &mut |f| mine.push(f));
            mine.sort_unstable();
            mine.dedup();
            for f in mine {
                uses[f as usize] += 1;
            }
        }
        let mut out_rules = Vec::with_capacity(needs.len());
        let mut always_total = 0;
        for (filter, cond, class) in needs {
            // Index under the rule's own condition first: the logsource filter
            // (`event.category: process`) holds on most events.
            let trig =
                triggers(&cond, &b.frags, &uses).or_else(|| triggers(&filter, &b.frags, &uses));
            always_total += usize::from(trig.is_none());
            if !classes.groups.contains(&class) {
                classes.groups.push(class);
            }
            out_rules.push(RuleNeed {
                need: Need::and(vec![filter, cond]),
                triggers: trig,
                class,
            });
        }
        let mut with_frags = vec![false; b.fields.len()];
        for f in &b.frags {
            with_frags[f.field] = true;
        }
        Prefilter {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            paths: b.fields.iter().map(|f| f.path().to_string()).collect(),
            field_total: with_frags.iter().filter(|&&x| x).count(),
            frags: b.frags,
            rules: out_rules,
            classes,
            always_total,
            views: Mutex::new(ViewCache::default()),
            all: OnceLock::new(),
            fields_of: b.fields,
        }
    }

    /// Builds the view of the rules `member` accepts.
    fn build_view(&self, member: &dyn Fn(&RuleNeed) -> bool) -> View {
        let mut local_of: HashMap<u32, u32> = HashMap::new();
        let mut global = Vec::new();
        let mut by_frag: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !member(r) {
                continue;
            }
            // Every fragment of the formula is scanned for, not only the
            // triggers: `holds` reads them all.
            each_frag(&r.need, &mut |g| {
                local_of.entry(g).or_insert_with(|| {
                    global.push(g);
                    by_frag.push(Vec::new());
                    (global.len() - 1) as u32
                });
            });
            match &r.triggers {
                Some(t) => {
                    for g in t {
                        let l = local_of[g];
                        by_frag[l as usize].push(i as u32);
                    }
                }
                None => always.push(i as u32),
            }
        }
        let mut per_field: Vec<Vec<u32>> = vec![Vec::new(); self.fields_of.len()];
        for (l, &g) in global.iter().enumerate() {
            per_field[self.frags[g as usize].field].push(l as u32);
        }
        let mut fields = Vec::new();
        for (fi, ids) in per_field.into_iter().enumerate() {
            if ids.is_empty() {
                continue;
            }
            let pats: Vec<&[u8]> = ids
                .iter()
                .map(|&l| self.frags[global[l as usize] as usize].text.as_bytes())
                .collect();
            // Fragments are lowercase; matching them ASCII case-insensitively
            // scans the event's text in place (no lowercased copy). Non-ASCII
            // bytes match themselves, as they did in the lowercased copy.
            let build = |kind| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .ascii_case_insensitive(true)
                    .kind(kind)
                    .build(&pats)
            };
            // A DFA is fastest; fall back to the automaton's own choice if it is too big.
            let Ok(ac) = build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None)) else {
                // Cannot happen for non-empty byte patterns; if it did, make every
                // rule that needs these fragments a candidate (no false negative).
                for &l in &ids {
                    always.extend_from_slice(&by_frag[l as usize]);
                }
                continue;
            };
            fields.push(FieldScan {
                field: self.fields_of[fi].clone(),
                ac,
                frags: ids,
            });
        }
        always.sort_unstable();
        always.dedup();
        View {
            fields,
            global,
            by_frag,
            always,
        }
    }

    /// The view for the class whose condition bits `truth` are true.
    fn view_for(&self, truth: u64) -> Arc<View> {
        let mut groups = vec![0u64; self.classes.groups.len().div_ceil(64)];
        for (g, &need) in self.classes.groups.iter().enumerate() {
            if need & truth == need {
                groups[g / 64] |= 1 << (g % 64);
            }
        }
        let all = || {
            Arc::clone(
                self.all
                    .get_or_init(|| Arc::new(self.build_view(&|_| true))),
            )
        };
        // A poisoned lock only means another thread panicked while building:
        // the map itself is consistent.
        let mut cache = self.views.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.by_groups.get(&groups) {
            return Arc::clone(v);
        }
        if cache.by_groups.len() >= MAX_VIEWS {
            drop(cache);
            return all();
        }
        let v = Arc::new(self.build_view(&|r| r.class & truth == r.class));
        cache.by_groups.insert(groups, Arc::clone(&v));
        v
    }

    /// The class condition bits that hold on `ev`.
    fn truth(&self, ev: &Event) -> u64 {
        let mut t = 0u64;
        for (bit, c) in self.classes.conds.iter().enumerate() {
            if crate::engine::matcher::eval(c, ev) {
                t |= 1 << bit;
            }
        }
        t
    }

    /// Number of distinct fragments.
    pub fn fragment_count(&self) -> usize {
        self.frags.len()
    }

    /// Number of fields scanned per event (at most).
    pub fn field_count(&self) -> usize {
        self.field_total
    }

    /// Rules that are candidates for every event of their class (no literal need).
    pub fn always_count(&self) -> usize {
        self.always_total
    }

    /// Number of class conditions (logsource filter conjuncts evaluated per event class).
    pub fn class_condition_count(&self) -> usize {
        self.classes.conds.len()
    }

    /// Number of views built so far (one per set of applicable rules seen).
    pub fn view_count(&self) -> usize {
        let cache = self.views.lock().unwrap_or_else(|e| e.into_inner());
        cache.by_groups.len() + usize::from(self.all.get().is_some())
    }

    /// A fresh scratch space sized for this prefilter.
    pub fn scratch(&self) -> Scratch {
        Scratch {
            owner: self.id,
            present: vec![0; self.frags.len().div_ceil(64)],
            touched: Vec::new(),
            seen: vec![0; self.rules.len()],
            stamp: 0,
            buf: Vec::with_capacity(4096),
            key: Vec::with_capacity(256),
            class_ix: HashMap::new(),
            class_views: Vec::new(),
        }
    }

    /// The candidate rules for `ev`, as rule indices in ascending order, into `out`.
    pub fn candidates(&self, ev: &Event, s: &mut Scratch, out: &mut Vec<u32>) {
        out.clear();
        if s.owner != self.id {
            *s = self.scratch();
        }
        s.key.clear();
        for f in &self.classes.fields {
            push_key(&mut s.key, ev.get_ref(f));
        }
        let fresh;
        let view: &View = match s.class_ix.get(s.key.as_slice()) {
            Some(&i) => &s.class_views[i],
            None => {
                let v = self.view_for(self.truth(ev));
                if s.key.len() <= MAX_KEY_LEN {
                    if s.class_ix.len() >= MAX_CLASS_KEYS {
                        s.class_ix.clear();
                        s.class_views.clear();
                    }
                    s.class_ix
                        .insert(s.key.as_slice().into(), s.class_views.len());
                    s.class_views.push(v);
                    &s.class_views[s.class_views.len() - 1]
                } else {
                    fresh = v;
                    &fresh
                }
            }
        };
        s.touched.clear();
        for fs in &view.fields {
            let mut hits = Hits {
                fs,
                view,
                present: &mut s.present,
                touched: &mut s.touched,
            };
            if let Some(lv) = ev.lazy_value(&fs.field) {
                // A structured field still in compact form (`auditd.records`):
                // the same leaf texts as `push_json`, without building JSON.
                s.buf.clear();
                lv.for_each_text(&mut |t| push_text(&mut s.buf, t.as_bytes()));
                hits.text(&s.buf);
            } else if let Some(v) = ev.get_ref(&fs.field) {
                match v {
                    // One text: scanned in place.
                    FieldValue::Str(t) => hits.text(t.as_bytes()),
                    // Many small texts (list elements, JSON leaves): copied into
                    // one buffer and scanned in one pass, cheaper than a pass each.
                    v => {
                        s.buf.clear();
                        push_value(&mut s.buf, v);
                        hits.text(&s.buf);
                    }
                }
            }
        }
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.seen.iter_mut().for_each(|x| *x = 0);
            s.stamp = 1;
        }
        for &l in &s.touched {
            for &r in &view.by_frag[l as usize] {
                let seen = &mut s.seen[r as usize];
                if *seen != s.stamp {
                    *seen = s.stamp;
                    if self.rules[r as usize].need.holds(&s.present) {
                        out.push(r);
                    }
                }
            }
        }
        for &l in &s.touched {
            let g = view.global[l as usize];
            s.present[(g / 64) as usize] = 0;
        }
        out.extend_from_slice(&view.always);
        out.sort_unstable();
        out.dedup();
    }

    /// The fragments rule `index` needs, for `rules check --explain`.
    pub fn explain(&self, index: usize) -> String {
        let Some(r) = self.rules.get(index) else {
            return String::new();
        };
        let mut s = String::new();
        let class: Vec<String> = (0..self.classes.conds.len())
            .filter(|&b| r.class & (1 << b) != 0)
            .map(|b| self.classes.conds[b].to_string())
            .collect();
        if !class.is_empty() {
            s.push_str("  prefilter event class: ");
            s.push_str(&class.join(" and "));
            s.push('\n');
        }
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

/// Found fragments of one field's scan.
struct Hits<'a> {
    fs: &'a FieldScan,
    view: &'a View,
    /// Fragments found (global ids).
    present: &'a mut [u64],
    /// Fragments found (view-local ids), each once.
    touched: &'a mut Vec<u32>,
}

impl Hits<'_> {
    /// One overlapping Aho-Corasick pass over a text (ASCII case-insensitive).
    fn text(&mut self, t: &[u8]) {
        for m in self.fs.ac.find_overlapping_iter(t) {
            let l = self.fs.frags[m.pattern().as_usize()];
            let g = self.view.global[l as usize];
            let (w, bit) = ((g / 64) as usize, 1u64 << (g % 64));
            if self.present[w] & bit == 0 {
                self.present[w] |= bit;
                self.touched.push(l);
            }
        }
    }
}

/// Separator between the texts of one field in the scan buffer. A fragment
/// that spans it is a spurious hit: one more candidate, never a lost one.
const SEP: u8 = b'\n';

fn push_text(buf: &mut Vec<u8>, text: &[u8]) {
    buf.extend_from_slice(text);
    buf.push(SEP);
}

fn push_int(buf: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 24];
    let mut w = &mut tmp[..];
    let _ = write!(w, "{n}");
    let len = 24 - w.len();
    push_text(buf, &tmp[..len]);
}

/// Appends every text of a field value to `buf` (as is: the automata ignore ASCII case).
fn push_value(buf: &mut Vec<u8>, v: FieldValue<'_>) {
    match v {
        FieldValue::Str(s) => push_text(buf, s.as_bytes()),
        FieldValue::Strs(l) => {
            for s in l {
                push_text(buf, s.as_bytes());
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
        Value::Bool(b) => push_text(buf, if *b { b"true" } else { b"false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => push_int(buf, i),
            None => push_text(buf, n.to_string().as_bytes()),
        },
        Value::String(s) => push_text(buf, s.as_bytes()),
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

    /// Candidates and exact matches of every rule of `set` on `ev`.
    fn verdicts(p: &Prefilter, set: &RuleSet, s: &mut Scratch, ev: &Event) -> Vec<(bool, bool)> {
        let mut out = Vec::new();
        p.candidates(ev, s, &mut out);
        set.rules()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let hit = match &r.kind {
                    RuleKind::Single(d) => crate::engine::matcher::matches(d, ev),
                    _ => false,
                };
                (out.contains(&(i as u32)), hit)
            })
            .collect()
    }

    const CLASS_RULES: &str = r#"
title: windows whoami
id: win-whoami
logsource: {product: windows, category: process_creation}
detection:
  sel: {CommandLine|contains: whoami}
  condition: sel
---
title: linux whoami
id: lin-whoami
logsource: {product: linux, category: process_creation}
detection:
  sel: {CommandLine|contains: whoami}
  condition: sel
---
title: windows connect
id: win-net
logsource: {product: windows, category: network_connection}
detection:
  sel: {DestinationIp|startswith: '169.254.'}
  condition: sel
---
title: auditd any
id: auditd-any
logsource: {product: linux, service: auditd}
detection:
  sel: {type: EXECVE, a0|contains: whoami}
  condition: sel
"#;

    /// Event classes: a rule whose logsource excludes the event is no
    /// candidate even when its own condition would match, and is one as
    /// soon as the logsource fields say it may apply (also when they are
    /// absent or unknown and its filter does not require them).
    #[test]
    fn event_classes_skip_only_rules_whose_logsource_fails() {
        let report = crate::rule::load_sigma_str(CLASS_RULES, "c.yml", "test");
        assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
        let set = report.rules;
        assert_eq!(set.len(), 4);
        let p = Prefilter::new(&set);
        assert!(
            p.class_condition_count() >= 4,
            "{}",
            p.class_condition_count()
        );
        assert!(
            p.explain(0).contains("prefilter event class:"),
            "{}",
            p.explain(0)
        );
        let ev = |os: Option<&str>, cat: Option<&str>, action: &str, cmd: &str| {
            let mut j = serde_json::json!({
                "event": {"type": ["start"], "action": action},
                "process": {"command_line": cmd},
                "destination": {"ip": "169.254.169.254"},
                "auditd": {"records": [{"type": "EXECVE", "fields": {"a0": cmd}}]},
            });
            if let Some(os) = os {
                j["host"] = serde_json::json!({"os": {"type": os}});
            }
            if let Some(c) = cat {
                j["event"]["category"] = serde_json::json!([c]);
            }
            Event::from_json(&j)
        };
        let mut s = p.scratch();
        // (candidate, matches) per rule: win-whoami, lin-whoami, win-net, auditd-any.
        let cases = [
            // A Windows exec: only the Windows exec rule (auditd rules are for Linux).
            (
                ev(Some("windows"), Some("process"), "start", "whoami /all"),
                [true, false, false, false],
            ),
            // The same command line on Linux: the Windows rule would match
            // without its logsource, but the class excludes it.
            (
                ev(Some("linux"), Some("process"), "exec", "whoami"),
                [false, true, false, true],
            ),
            // Case of the class values does not matter (case-insensitive filter).
            (
                ev(Some("WINDOWS"), Some("PROCESS"), "start", "WHOAMI"),
                [true, false, false, false],
            ),
            // No host.os.type: the Linux mapping only excludes windows/macos.
            (
                ev(None, Some("process"), "exec", "whoami"),
                [false, true, false, true],
            ),
            // An unknown category: no process rule applies, the auditd one does.
            (
                ev(Some("linux"), Some("registry"), "exec", "whoami"),
                [false, false, false, true],
            ),
            // No category at all.
            (
                ev(Some("linux"), None, "exec", "whoami"),
                [false, false, false, true],
            ),
            // macOS: neither the Linux nor the Windows nor the auditd rules.
            (
                ev(Some("macos"), Some("process"), "start", "whoami"),
                [false, false, false, false],
            ),
            // A Windows connection.
            (
                ev(
                    Some("windows"),
                    Some("network"),
                    "connection_attempted",
                    "x",
                ),
                [false, false, true, false],
            ),
            // Forks are no Linux process creation.
            (
                ev(Some("linux"), Some("process"), "fork", "whoami"),
                [false, false, false, true],
            ),
        ];
        // Twice: the second pass goes through the scratch space's class cache.
        for _ in 0..2 {
            for (i, (e, want)) in cases.iter().enumerate() {
                let got = verdicts(&p, &set, &mut s, e);
                for (r, &(cand, hit)) in got.iter().enumerate() {
                    assert!(
                        !hit || cand,
                        "case {i}: rule {r} matches but is no candidate"
                    );
                    assert_eq!(hit, want[r], "case {i}: rule {r} match");
                    assert_eq!(cand, want[r], "case {i}: rule {r} candidate");
                }
            }
        }
        // A scratch space of another prefilter is reset, not misused.
        let q = Prefilter::new(&set);
        let got = verdicts(&q, &set, &mut s, &cases[1].0);
        assert_eq!(
            got.iter().map(|x| x.0).collect::<Vec<_>>(),
            [false, true, false, true]
        );
    }

    /// Hostile class values (a new `host.os.type` on every event, some
    /// longer than a cached key may be) stay correct and bounded.
    #[test]
    fn many_and_long_class_keys_stay_correct() {
        let set = crate::rule::load_sigma_str(CLASS_RULES, "c.yml", "test").rules;
        let p = Prefilter::new(&set);
        let mut s = p.scratch();
        for i in 0..(MAX_CLASS_KEYS + 50) {
            let os = if i % 7 == 0 {
                "x".repeat(MAX_KEY_LEN + 1)
            } else {
                format!("os{i}")
            };
            let e = Event::from_json(&serde_json::json!({
                "host": {"os": {"type": os}},
                "event": {"category": ["process"], "type": ["start"], "action": "exec"},
                "process": {"command_line": "whoami"},
            }));
            let got = verdicts(&p, &set, &mut s, &e);
            // Not windows: the Linux rule applies, the Windows one does not.
            assert_eq!(got[0], (false, false));
            assert_eq!(got[1], (true, true));
        }
        assert!(s.class_ix.len() <= MAX_CLASS_KEYS);
        assert!(p.views.lock().map(|v| v.by_groups.len()).unwrap_or(0) <= MAX_VIEWS);
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
