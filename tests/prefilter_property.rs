//! Property test of the prefilter contract (STYLE.md practice 3): random
//! events against every corpus rule give identical alerts with the prefilter
//! on, off, and with every rule a candidate.
//!
//! Rules: the Linux and macOS SigmaHQ rules copied into `testdata/sigma-corpus/`
//! (see testdata/ATTRIBUTION.md), the embedded packs, and — when the shared
//! corpus is next to the repository (`../shared/corpus/rules/sigma/rules/windows`)
//! or `TRIPLINE_SIGMA_CORPUS` names a Sigma tree — those rules too.
//!
//! Events are generated from the rules themselves, so that many come close to
//! matching: a deterministic xorshift picks a rule, fills some of the fields
//! its predicates read with values built from the predicate's own glob (random
//! case, noise in the wildcards, now and then a character dropped or a
//! look-alike non-ASCII letter such as the Kelvin sign), adds fields and
//! fragments of other rules, and noise. `TRIPLINE_PROPTEST_EVENTS` sets the
//! number of events (default 2,000, because debug-build regexes are slow; the
//! issue report runs `TRIPLINE_PROPTEST_EVENTS=100000 cargo test --release
//! --test prefilter_property`) and `TRIPLINE_PROPTEST_SEED` the seed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};
use tripline::Event;
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::rule::ir::{Expr, Field, GlobPart, Predicate, Test};
use tripline::rule::{self, RuleKind};

/// xorshift64*: small, deterministic, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

const NOISE: &[&str] = &[
    "",
    " ",
    "x",
    "/usr/bin/",
    "-c ",
    " --help",
    "C:\\Windows\\System32\\",
    "\u{212A}",
    "\u{17F}",
    "é",
    "169.254.169.254",
    "/tmp/",
    "192.168.1.10",
    "AAAA",
];

/// Every predicate of an expression.
fn predicates<'a>(e: &'a Expr, out: &mut Vec<&'a Predicate>) {
    e.for_each_predicate(&mut |p| out.push(p));
}

/// A value that satisfies (or nearly satisfies) `t`, or `None` to leave the field out.
fn value_for(t: &Test, r: &mut Rng) -> Option<Value> {
    Some(match t {
        Test::Str(m) => {
            let mut s = String::new();
            for p in &m.parts {
                match p {
                    GlobPart::Lit(l) => {
                        for c in l.chars() {
                            if !m.cased && r.chance(30) {
                                s.extend(c.to_uppercase());
                            } else if !m.cased && r.chance(30) {
                                s.extend(c.to_lowercase());
                            } else {
                                s.push(c);
                            }
                        }
                    }
                    GlobPart::Star => s.push_str(NOISE[r.below(NOISE.len())]),
                    GlobPart::One => s.push(*r.pick(&['a', '1', '-', '/', 'é'])),
                }
            }
            // Near misses: drop a character, or swap an ASCII letter for a look-alike.
            if r.chance(10) && !s.is_empty() {
                let mut cs: Vec<char> = s.chars().collect();
                let i = r.below(cs.len());
                if r.chance(50) {
                    cs.remove(i);
                } else if cs[i].eq_ignore_ascii_case(&'k') {
                    cs[i] = '\u{212A}';
                } else if cs[i].eq_ignore_ascii_case(&'s') {
                    cs[i] = '\u{17F}';
                }
                s = cs.into_iter().collect();
            }
            Value::String(s)
        }
        Test::Int(n) => {
            if r.chance(50) {
                json!(n)
            } else {
                json!(n.to_string())
            }
        }
        Test::Cmp(_, x) => json!((*x as i64) + r.below(3) as i64 - 1),
        Test::Bool(b) => json!(if r.chance(50) {
            json!(b)
        } else {
            json!(b.to_string())
        }),
        Test::Cidr(c) => {
            let base = c.addr.to_string();
            match base.rsplit_once('.') {
                Some((head, _)) if c.addr.is_ipv4() => json!(format!("{head}.{}", r.below(256))),
                _ => json!(base),
            }
        }
        Test::Null => return None,
        Test::Exists(_) => json!(r.pick(NOISE).to_string()),
        Test::Regex(_) => json!(format!("{}{}", r.pick(NOISE), r.pick(NOISE))),
        _ => json!(r.pick(NOISE).to_string()),
    })
}

/// Adds `v` to the flat field map: strings on the same field are joined (so
/// `contains|all` rules can match), list fields collect elements.
fn put(fields: &mut BTreeMap<String, Value>, f: &Field, v: Value, r: &mut Rng) {
    if !f.inner.is_empty() {
        // auditd.records[].fields.a0: one JSON record per value.
        let mut rec = serde_json::Map::new();
        let mut cur = &mut rec;
        for (i, k) in f.inner.iter().enumerate() {
            if i + 1 == f.inner.len() {
                cur.insert(k.clone(), v.clone());
            } else {
                cur = cur
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()))
                    .as_object_mut()
                    .expect("object just inserted");
            }
        }
        let list = fields
            .entry(f.base.path().to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(a) = list {
            a.push(Value::Object(rec));
        }
        return;
    }
    let path = f.base.path().to_string();
    let is_list = matches!(
        path.as_str(),
        "process.args" | "process.parent.args" | "event.category" | "event.type"
    );
    match (fields.get_mut(&path), v) {
        (Some(Value::Array(a)), v) => a.push(v),
        (Some(Value::String(old)), Value::String(s)) if !is_list && old.len() < 400 => {
            let sep = if r.chance(50) { " " } else { "" };
            *old = format!("{old}{sep}{s}");
        }
        (_, v) => {
            let v = if is_list { Value::Array(vec![v]) } else { v };
            fields.insert(path, v);
        }
    }
}

fn event_from(fields: BTreeMap<String, Value>) -> Event {
    let mut ev = Event::default();
    for (path, v) in fields {
        if !ev.set_path(&path, &v) {
            ev.extra.insert(path, v);
        }
    }
    ev
}

#[test]
fn prefilter_on_off_and_all_candidates_agree_on_random_events() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("testdata/sigma-corpus")];
    let shared = root.join("../shared/corpus/rules/sigma/rules/windows");
    if let Ok(extra) = std::env::var("TRIPLINE_SIGMA_CORPUS") {
        paths.push(PathBuf::from(extra));
    } else if shared.is_dir() {
        paths.push(shared);
    }
    let report = rule::load(&paths, true);
    let rules = report.rules;
    assert!(rules.len() >= 247, "corpus rules compile ({})", rules.len());
    let n_events: usize = std::env::var("TRIPLINE_PROPTEST_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    let seed: u64 = std::env::var("TRIPLINE_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0072_6970_6c69_6e65);

    // Per single-event rule: its filter and condition predicates.
    let mut per_rule: Vec<(Vec<&Predicate>, Vec<&Predicate>)> = Vec::new();
    for r in rules.rules() {
        if let RuleKind::Single(d) = &r.kind {
            let (mut f, mut c) = (Vec::new(), Vec::new());
            predicates(&d.filter, &mut f);
            predicates(&d.condition, &mut c);
            per_rule.push((f, c));
        }
    }
    let all_preds: Vec<&Predicate> = per_rule.iter().flat_map(|(_, c)| c.clone()).collect();

    let engine = |mode| {
        Engine::with_options(
            rules.clone(),
            EngineOptions {
                prefilter: mode,
                ..EngineOptions::default()
            },
        )
    };
    let mut on = engine(PrefilterMode::On);
    let mut off = engine(PrefilterMode::Off);
    let mut all = engine(PrefilterMode::AllCandidates);

    let mut r = Rng(seed | 1);
    let mut alerts = 0usize;
    let mut mismatches = Vec::new();
    for i in 0..n_events {
        let mut fields = BTreeMap::new();
        let (filter, cond) = r.pick(&per_rule).clone();
        // The logsource filter most of the time, so the rule can match.
        if r.chance(85) {
            for p in &filter {
                if let Some(v) = value_for(&p.test, &mut r) {
                    put(&mut fields, &p.field, v, &mut r);
                }
            }
        }
        // About a dozen of the rule's predicates at most: rules with hundreds of
        // alternatives would otherwise make kilobyte-long fields.
        let keep = (1200 / cond.len().max(1)).clamp(1, 70) as u64;
        for p in &cond {
            if r.chance(keep)
                && let Some(v) = value_for(&p.test, &mut r)
            {
                put(&mut fields, &p.field, v, &mut r);
            }
        }
        // Fragments of other rules, and noise.
        for _ in 0..r.below(4) {
            let p = *r.pick(&all_preds);
            if let Some(v) = value_for(&p.test, &mut r) {
                put(&mut fields, &p.field, v, &mut r);
            }
        }
        if r.chance(30) {
            fields.insert(
                "process.command_line".into(),
                json!(format!("{}{}", r.pick(NOISE), r.pick(NOISE))),
            );
        }
        let ev = event_from(fields);
        let run = |e: &mut Engine| {
            let mut ids = Vec::new();
            e.process(&ev, &mut |a| ids.push(a.rule.id.to_string()));
            ids
        };
        let (a, b, c) = (run(&mut on), run(&mut off), run(&mut all));
        alerts += b.len();
        if a != b || b != c {
            mismatches.push(format!(
                "event {i}: on {a:?} off {b:?} all-candidates {c:?}\n  {}",
                serde_json::to_string(&ev.to_json()).unwrap_or_default()
            ));
        }
    }
    let (s_on, s_off) = (on.stats(), off.stats());
    eprintln!(
        "{} rules, {n_events} events, {alerts} alerts; prefilter on: {} exact evaluations of {} ({:.2}%), off: {}",
        rules.len(),
        s_on.evaluations,
        s_on.possible,
        100.0 * s_on.evaluations as f64 / s_on.possible.max(1) as f64,
        s_off.evaluations
    );
    assert!(
        mismatches.is_empty(),
        "{} event(s) differ:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The test means something only if many events match.
    assert!(
        alerts >= n_events / 10,
        "only {alerts} alerts on {n_events} events"
    );
    assert!(s_on.evaluations < s_off.evaluations);
}
