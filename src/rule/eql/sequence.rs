//! Running EQL sequences: a small state machine per rule, behind
//! [`SequenceBackend`] so it can be moved onto the engine's shared sequence
//! joiner (`engine::sequence`) once that lands, without touching the compiler.
//!
//! # Semantics (Elasticsearch / the eql reference implementation)
//!
//! - Per join key and per stage there is at most one partial sequence. A new
//!   event matching stage 0 starts a partial, replacing an older one that has
//!   not advanced; an event matching stage *i* advances the partial waiting
//!   at stage *i* (and takes it away from there).
//! - Stages are tried last to first, so one event advances at most one partial
//!   and never completes two stages at once.
//! - `maxspan`: the last event's time minus the first's must be **at most**
//!   maxspan (equal matches, one nanosecond more does not). Times are event
//!   times, so replay and live mode agree.
//! - `until`: an event matching it drops every partial with its key.
//! - Memory is bounded: at most [`MAX_PARTIALS`] partials per stage; past that,
//!   expired partials go first, then the oldest, and evictions are counted.

use std::collections::HashMap;

use tripline_parsers::Event;

use super::SequenceSpec;
use super::value::Scalar;

/// Partials kept per stage of one rule before the oldest are evicted.
pub const MAX_PARTIALS: usize = 10_000;

/// Where sequence state lives: the local sequencer today, the shared joiner later.
pub trait SequenceBackend: Send {
    /// Feeds one event; calls `out` with the events of each completed sequence, in stage order.
    fn observe(&mut self, spec: &SequenceSpec, ev: &Event, out: &mut dyn FnMut(Vec<Event>));
    /// Partial sequences dropped because of the memory cap.
    fn evictions(&self) -> u64;
}

#[derive(Debug, Clone)]
struct Partial {
    first_ns: i64,
    events: Vec<Event>,
}

/// The built-in sequence state machine (see the module docs).
#[derive(Debug, Default)]
pub struct LocalSequencer {
    /// `lookups[i]`: partials that matched stages `0..i`, waiting for stage `i`.
    lookups: Vec<HashMap<String, Partial>>,
    evictions: u64,
}

impl LocalSequencer {
    /// Empty state.
    pub fn new() -> Self {
        LocalSequencer::default()
    }

    /// Partial sequences held (all stages).
    pub fn partials(&self) -> usize {
        self.lookups.iter().map(HashMap::len).sum()
    }

    fn insert(&mut self, i: usize, key: String, p: Partial, now: i64, maxspan: Option<i64>) {
        let map = &mut self.lookups[i];
        if map.len() >= MAX_PARTIALS && !map.contains_key(&key) {
            if let Some(span) = maxspan {
                // Expired partials can never complete: dropping them is not an eviction.
                map.retain(|_, p| now.saturating_sub(p.first_ns) <= span);
            }
            if map.len() >= MAX_PARTIALS
                && let Some(old) = map
                    .iter()
                    .min_by_key(|(_, p)| p.first_ns)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&old);
                self.evictions += 1;
            }
        }
        map.insert(key, p);
    }
}

impl SequenceBackend for LocalSequencer {
    fn observe(&mut self, spec: &SequenceSpec, ev: &Event, out: &mut dyn FnMut(Vec<Event>)) {
        let n = spec.stages.len();
        if self.lookups.len() != n {
            self.lookups = (0..n).map(|_| HashMap::new()).collect();
        }
        let now = ev.timestamp_ns;
        if let Some(u) = &spec.until
            && u.filter.matches(ev)
        {
            let k = key(&u.keys, ev);
            for l in &mut self.lookups {
                l.remove(&k);
            }
        }
        let in_span = |p: &Partial| match spec.maxspan_ns {
            Some(span) => now.saturating_sub(p.first_ns) <= span,
            None => true,
        };
        for i in (0..n).rev() {
            let st = &spec.stages[i];
            if !st.filter.matches(ev) {
                continue;
            }
            let k = key(&st.keys, ev);
            if i == 0 {
                let p = Partial {
                    first_ns: now,
                    events: vec![ev.clone()],
                };
                self.insert(1, k, p, now, spec.maxspan_ns);
                continue;
            }
            let Some(mut p) = self.lookups[i].remove(&k) else {
                continue;
            };
            if !in_span(&p) {
                continue;
            }
            p.events.push(ev.clone());
            if i + 1 == n {
                out(p.events);
            } else {
                self.insert(i + 1, k, p, now, spec.maxspan_ns);
            }
        }
    }

    fn evictions(&self) -> u64 {
        self.evictions
    }
}

/// The join key of an event for a stage: typed values joined with separators
/// (`"1"` the string and `1` the number are different keys, as in Elasticsearch).
fn key(exprs: &[super::CExpr], ev: &Event) -> String {
    let mut k = String::new();
    for e in exprs {
        let v = e.eval(ev);
        let v = v.first();
        v.any(&mut |x| {
            match x {
                Scalar::Null => k.push('n'),
                Scalar::Bool(b) => k.push_str(if b { "bt" } else { "bf" }),
                Scalar::Int(n) => {
                    k.push('i');
                    k.push_str(&n.to_string());
                }
                Scalar::Float(f) => {
                    k.push('f');
                    k.push_str(&f.to_string());
                }
                Scalar::Str(s) => {
                    k.push('s');
                    k.push_str(s);
                }
                Scalar::Object => k.push('o'),
            }
            true
        });
        k.push('\u{0}');
    }
    k
}
