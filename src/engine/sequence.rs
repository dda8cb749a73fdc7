//! The sequence joiner: one state machine for EQL `sequence` and Sigma
//! `temporal` / `temporal_ordered` correlations ([`SequenceSpec`]).
//!
//! A [`Sequencer`] runs one sequence rule: [`Sequencer::observe`] takes every
//! event (with the single-event rule results of the engine, see
//! [`Observation`]), [`Sequencer::expire`] moves event time forward without an
//! event (live mode, idle input), and [`Sequencer::flush`] ends the input.
//!
//! # Semantics
//!
//! - **Join keys.** Each stage names its key fields positionally (shared `by`
//!   fields plus per-stage `by` fields); a stage can only continue a partial
//!   whose key values are equal. A missing key field has the value "absent",
//!   which equals only "absent" (so a rule grouped by `host.id` still works on
//!   auditd logs without `node=`, all of whose events lack `host.id`).
//! - **Ordered sequences** (EQL, `temporal_ordered`) follow Elasticsearch's
//!   `SequenceMatcher`: every event matching the first stage starts a new
//!   partial for its key (earlier partials of that key stay); an event matching
//!   stage `s > 0` takes, among the key's partials waiting for stage `s`, the
//!   **most recent** one (the latest last event) and advances it; that partial
//!   and every older partial waiting for stage `s` leave the waiting list
//!   (Elasticsearch's `OrdinalGroup.trimBefore`). An event is checked against
//!   the stages from last to first, so it never fills two stages of one partial,
//!   but it may advance one partial and start another.
//! - **maxspan / timespan**: the last event minus the first event of a match
//!   must be `<= maxspan`: a stage exactly `maxspan` after the first matches,
//!   one nanosecond more does not. A partial that fails the check when a later
//!   stage arrives is dropped (`expired_partials`).
//! - **until**: an event matching `until` cancels every partial of its key
//!   (`cancelled_partials`); it is applied before the event's own stages.
//! - **Unordered sequences** (Sigma `temporal`) keep, per key, the most recent
//!   event of each stage; when at least `min_stages` stages hold an event
//!   within `maxspan` of the newest, the rule fires with those events in time
//!   order and the key starts over.
//! - **Time is event time** (`@timestamp`), never the wall clock; events are
//!   reordered within [`StateLimits::reorder_window_ns`] first (see
//!   [`super::window`]), so replay and live mode give the same alerts.
//! - **Memory is bounded** by [`StateLimits`]: keys per rule (least recently
//!   used evicted), partials per key (oldest evicted), partials per rule, events
//!   buffered for reordering. Every eviction is counted in [`StateStats`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tripline::engine::sequence::{Observation, Sequencer};
//! use tripline::engine::window::StateLimits;
//! use tripline::rule::ir::Field;
//! use tripline::rule::temporal::{SequenceSpec, Stage, StageCondition};
//! use tripline::rule::RuleMeta;
//! use tripline::Event;
//!
//! // Two single-event rules (indexes 0 and 1 of the rule set), in order, same
//! // host.id, within 1 s.
//! let stage = |r| Stage { condition: StageCondition::Rule(r), keys: vec![Field::parse("host.id")] };
//! let spec = SequenceSpec {
//!     stages: vec![stage(0), stage(1)],
//!     until: None,
//!     maxspan_ns: Some(1_000_000_000),
//!     ordered: true,
//!     min_stages: 2,
//! };
//! let mut seq = Sequencer::new(Arc::new(RuleMeta::default()), spec, StateLimits::default()).unwrap();
//! let mut alerts = Vec::new();
//! let mut ev = Event::default();
//! seq.observe(&Observation::new(&ev, &[true, false]), &mut |a| alerts.push(a));
//! ev.timestamp_ns = 400_000_000;
//! seq.observe(&Observation::new(&ev, &[false, true]), &mut |a| alerts.push(a));
//! seq.flush(&mut |a| alerts.push(a));
//! assert_eq!(alerts.len(), 1);
//! assert_eq!(alerts[0].events.len(), 2);
//! ```

use std::cell::OnceCell;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tripline_parsers::Event;

use super::matcher;
use super::window::{
    KeyTable, Reorder, SavedEvents, StateLimits, StateStats, encode_key, saved_events,
};
use crate::alert::Alert;
use crate::rule::RuleMeta;
use crate::rule::temporal::{RuleRef, SequenceSpec, StageCondition};

/// How often (in event time) partials that can no longer complete are swept
/// out, at the least; a sequence with a longer span sweeps once per span.
/// Sweeping only reclaims memory early: correctness never depends on it.
pub const MIN_SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// One event as the stateful rules see it: the event, the results of the
/// single-event rules on it (indexed like the rule set), and a shared copy made
/// on first need, so rules that keep the event share one allocation.
pub struct Observation<'a> {
    event: &'a Event,
    rule_hits: &'a [bool],
    shared: OnceCell<Arc<Event>>,
}

impl<'a> Observation<'a> {
    /// `rule_hits[i]`: the single-event rule `i` of the rule set matched `event`.
    pub fn new(event: &'a Event, rule_hits: &'a [bool]) -> Self {
        Observation {
            event,
            rule_hits,
            shared: OnceCell::new(),
        }
    }

    /// Like [`Observation::new`] for an event the caller already shares:
    /// rules that keep it take another reference instead of a copy.
    pub fn with_shared(event: &'a Arc<Event>, rule_hits: &'a [bool]) -> Self {
        Observation {
            event,
            rule_hits,
            shared: OnceCell::from(Arc::clone(event)),
        }
    }

    /// The event.
    pub fn event(&self) -> &'a Event {
        self.event
    }

    /// Did single-event rule `r` match? (False for an index out of range.)
    pub fn rule_hit(&self, r: RuleRef) -> bool {
        self.rule_hits.get(r).copied().unwrap_or(false)
    }

    /// The event behind a shared pointer (cloned once, on first call).
    pub fn shared(&self) -> Arc<Event> {
        self.shared
            .get_or_init(|| Arc::new(self.event.clone()))
            .clone()
    }

    /// Evaluates a stage condition on this event.
    pub fn matches(&self, c: &StageCondition) -> bool {
        match c {
            StageCondition::Detection(d) => matcher::matches(d, self.event),
            StageCondition::Rule(r) => self.rule_hit(*r),
        }
    }
}

/// What a rule learned about a buffered event on arrival.
#[derive(Clone, Copy)]
struct Hits {
    stages: u64,
    until: bool,
}

struct Partial {
    start: i64,
    last: i64,
    filled: u64,
    /// (stage, time, event) in fill order.
    slots: Vec<(usize, i64, Arc<Event>)>,
}

/// The open state of a [`Sequencer`], for live mode's checkpoint: the reorder
/// buffer, the event clock and every partial sequence. Events are stored once
/// each (ECS JSON, [`Event::to_json`]) and referenced by index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SequencerState {
    /// The events referenced by `buf` and `keys`.
    pub ev: Vec<Value>,
    /// Reorder buffer: (time, arrival number, event, stage mask, until).
    pub buf: Vec<(i64, u64, u32, u64, bool)>,
    /// (watermark, released up to, arrival counter, next sweep).
    pub clock: (i64, i64, u64, i64),
    /// Join keys, least recently used first, with their partials:
    /// (start, last, filled stages, [(stage, time, event)]).
    #[allow(clippy::type_complexity)]
    pub keys: Vec<(Vec<u8>, Vec<(i64, i64, u64, Vec<(u32, i64, u32)>)>)>,
}

impl SequencerState {
    /// True when there is nothing open.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.keys.is_empty()
    }
}

/// Runs one [`SequenceSpec`].
pub struct Sequencer {
    meta: Arc<RuleMeta>,
    spec: SequenceSpec,
    limits: StateLimits,
    reorder: Reorder<Hits>,
    keys: KeyTable<Vec<Partial>>,
    partials: usize,
    stats: StateStats,
    keybuf: Vec<u8>,
    next_sweep: i64,
}

impl Sequencer {
    /// A joiner for `spec`, alerting as `meta`.
    ///
    /// # Errors
    /// When the spec is malformed ([`SequenceSpec::validate`]).
    pub fn new(
        meta: Arc<RuleMeta>,
        spec: SequenceSpec,
        limits: StateLimits,
    ) -> Result<Sequencer, String> {
        spec.validate()?;
        Ok(Sequencer {
            meta,
            spec,
            limits: limits.sanitized(),
            reorder: Reorder::default(),
            keys: KeyTable::default(),
            partials: 0,
            stats: StateStats::default(),
            keybuf: Vec::new(),
            next_sweep: i64::MIN,
        })
    }

    /// The rule this joiner runs.
    pub fn meta(&self) -> &Arc<RuleMeta> {
        &self.meta
    }

    /// Counters, and the current number of keys and partials.
    pub fn stats(&self) -> StateStats {
        let mut s = self.stats;
        s.keys = self.keys.len() as u64;
        s.partials = self.partials as u64;
        s
    }

    /// The open state (see [`SequencerState`]).
    pub fn save_state(&self) -> SequencerState {
        let mut st = SequencerState::default();
        let mut evs = SavedEvents::default();
        for p in self.reorder.buffered() {
            let i = evs.index(&p.event);
            st.buf.push((p.ts, p.seq, i, p.info.stages, p.info.until));
        }
        let (w, r, seq) = self.reorder.clock();
        st.clock = (w, r, seq, self.next_sweep);
        for (k, list) in self.keys.iter() {
            let mut ps = Vec::with_capacity(list.len());
            for p in list {
                let slots = p
                    .slots
                    .iter()
                    .map(|(s, t, e)| (*s as u32, *t, evs.index(e)))
                    .collect();
                ps.push((p.start, p.last, p.filled, slots));
            }
            st.keys.push((k.to_vec(), ps));
        }
        st.ev = evs.into_json();
        st
    }

    /// Restores a saved state into this (fresh) joiner. Entries naming a
    /// missing event or stage are skipped, and the state limits hold.
    pub fn restore_state(&mut self, st: SequencerState) {
        let events = saved_events(&st.ev);
        let n = self.spec.stages.len();
        let (w, r, seq, sweep) = st.clock;
        self.reorder.set_clock(w, r, seq);
        self.next_sweep = sweep;
        for (ts, seq, i, stages, until) in st.buf {
            if self.reorder.len() >= self.limits.max_buffered {
                break;
            }
            if let Some(ev) = events.get(i as usize) {
                let hits = Hits { stages, until };
                self.reorder.push_at(ts, seq, ev.clone(), hits);
            }
        }
        for (k, ps) in st.keys {
            if self.keys.len() >= self.limits.max_keys {
                break;
            }
            if self.keys.peek_mut(&k).is_some() {
                continue;
            }
            let mut list = Vec::new();
            for (start, last, filled, slots) in ps {
                if list.len() >= self.limits.max_partials_per_key
                    || self.partials >= self.limits.max_partials
                {
                    break;
                }
                let slots: Option<Vec<_>> = slots
                    .into_iter()
                    .map(|(s, t, i)| {
                        let ev = events.get(i as usize)?;
                        ((s as usize) < n).then(|| (s as usize, t, ev.clone()))
                    })
                    .collect();
                if let Some(slots) = slots {
                    list.push(Partial {
                        start,
                        last,
                        filled,
                        slots,
                    });
                    self.partials += 1;
                }
            }
            if !list.is_empty() {
                self.keys.insert(Arc::from(k.as_slice()), list);
            }
        }
    }

    /// Takes one event. Alerts come out once the event is released from the
    /// reorder buffer, i.e. possibly during a later call.
    pub fn observe(&mut self, obs: &Observation<'_>, out: &mut dyn FnMut(Alert)) {
        let ev = obs.event();
        let ts = ev.timestamp_ns;
        let mut stages = 0u64;
        for (i, s) in self.spec.stages.iter().enumerate() {
            if obs.matches(&s.condition) {
                stages |= 1 << i;
            }
        }
        let until = self
            .spec
            .until
            .as_ref()
            .is_some_and(|u| obs.matches(&u.condition));
        self.reorder.advance(ts);
        if stages != 0 || until {
            let hits = Hits { stages, until };
            if self.reorder.is_late(ts) {
                self.stats.late_events += 1;
                self.step(ts, &obs.shared(), hits, out);
            } else {
                self.reorder.push(ts, obs.shared(), hits);
            }
        }
        self.release(false, out);
        self.maybe_sweep();
    }

    /// Moves event time to `now` (nanoseconds since the epoch) without an event:
    /// releases buffered events the window has passed and drops partials that
    /// can no longer complete. Live mode calls it when the input is idle, with
    /// the newest event time plus the idle time.
    pub fn expire(&mut self, now: i64, out: &mut dyn FnMut(Alert)) {
        self.reorder.advance(now);
        self.release(false, out);
        self.maybe_sweep();
    }

    /// End of input: processes every buffered event, then drops all partial
    /// state (an incomplete sequence cannot complete any more) and the event
    /// clock, so a following input starts afresh.
    pub fn flush(&mut self, out: &mut dyn FnMut(Alert)) {
        self.release(true, out);
        self.keys.clear();
        self.partials = 0;
        self.reorder.reset();
        self.next_sweep = i64::MIN;
    }

    fn release(&mut self, force: bool, out: &mut dyn FnMut(Alert)) {
        let (window, cap) = (self.limits.reorder_window_ns, self.limits.max_buffered);
        while let Some((p, overflow)) = self.reorder.pop_ready(window, cap, force) {
            if overflow {
                self.stats.reorder_overflow += 1;
            }
            self.step(p.ts, &p.event, p.info, out);
        }
    }

    /// Processes one event in time order.
    fn step(&mut self, ts: i64, ev: &Arc<Event>, hits: Hits, out: &mut dyn FnMut(Alert)) {
        if hits.until
            && let Some(u) = &self.spec.until
        {
            encode_key(&u.keys, ev, &mut self.keybuf);
            if let Some(ps) = self.keys.remove(&self.keybuf) {
                self.stats.cancelled_partials += ps.len() as u64;
                self.partials -= ps.len();
            }
        }
        if self.spec.ordered {
            self.step_ordered(ts, ev, hits.stages, out);
        } else {
            self.step_unordered(ts, ev, hits.stages, out);
        }
    }

    fn step_ordered(&mut self, ts: i64, ev: &Arc<Event>, mask: u64, out: &mut dyn FnMut(Alert)) {
        let n = self.spec.stages.len();
        for s in (1..n).rev() {
            if mask & (1 << s) == 0 {
                continue;
            }
            encode_key(&self.spec.stages[s].keys, ev, &mut self.keybuf);
            let Some(list) = self.keys.get_mut(&self.keybuf) else {
                continue;
            };
            // Partials waiting for stage s whose last event is not after this one.
            let waiting = |p: &Partial| p.filled.count_ones() as usize == s && p.last <= ts;
            let Some(pick) = list
                .iter()
                .enumerate()
                .filter(|(_, p)| waiting(p))
                .max_by_key(|(i, p)| (p.last, *i))
                .map(|(i, _)| i)
            else {
                continue;
            };
            let mut chosen = list.remove(pick);
            let before = list.len();
            list.retain(|p| !waiting(p));
            let dropped = 1 + before - list.len();
            let now_empty = list.is_empty();
            self.partials -= dropped;
            if now_empty {
                self.keys.remove(&self.keybuf);
            }
            if self
                .spec
                .maxspan_ns
                .is_some_and(|m| ts.saturating_sub(chosen.start) > m)
            {
                self.stats.expired_partials += 1;
                continue;
            }
            chosen.filled |= 1 << s;
            chosen.last = ts;
            chosen.slots.push((s, ts, ev.clone()));
            if s == n - 1 {
                out(self.alert(chosen.slots.into_iter().map(|(_, _, e)| e).collect()));
            } else {
                let key: Arc<[u8]> = Arc::from(self.keybuf.as_slice());
                self.add_partial(key, chosen);
            }
        }
        if mask & 1 != 0 {
            if n == 1 {
                out(self.alert(vec![ev.clone()]));
                return;
            }
            encode_key(&self.spec.stages[0].keys, ev, &mut self.keybuf);
            let key: Arc<[u8]> = Arc::from(self.keybuf.as_slice());
            self.add_partial(
                key,
                Partial {
                    start: ts,
                    last: ts,
                    filled: 1,
                    slots: vec![(0, ts, ev.clone())],
                },
            );
        }
    }

    fn step_unordered(&mut self, ts: i64, ev: &Arc<Event>, mask: u64, out: &mut dyn FnMut(Alert)) {
        let n = self.spec.stages.len();
        // The stages this event fills, grouped by their key value (stages may
        // read the key from differently named fields).
        let mut done = 0u64;
        for s in 0..n {
            if mask & (1 << s) == 0 || done & (1 << s) != 0 {
                continue;
            }
            encode_key(&self.spec.stages[s].keys, ev, &mut self.keybuf);
            let key_bytes = self.keybuf.clone();
            let mut same = 0u64;
            for t in s..n {
                if mask & (1 << t) == 0 || done & (1 << t) != 0 {
                    continue;
                }
                if t != s {
                    encode_key(&self.spec.stages[t].keys, ev, &mut self.keybuf);
                    if self.keybuf != key_bytes {
                        continue;
                    }
                }
                same |= 1 << t;
            }
            done |= same;
            let key: Arc<[u8]> = Arc::from(key_bytes.as_slice());
            if self.keys.get_mut(&key).is_none() {
                self.add_partial(
                    key.clone(),
                    Partial {
                        start: ts,
                        last: ts,
                        filled: 0,
                        slots: Vec::new(),
                    },
                );
            }
            let Some(list) = self.keys.get_mut(&key) else {
                continue;
            };
            let Some(p) = list.first_mut() else {
                continue;
            };
            for t in 0..n {
                if same & (1 << t) != 0 {
                    p.slots.retain(|(st, _, _)| *st != t);
                    p.slots.push((t, ts, ev.clone()));
                }
            }
            if let Some(m) = self.spec.maxspan_ns {
                p.slots.retain(|(_, t, _)| ts.saturating_sub(*t) <= m);
            }
            p.filled = p.slots.iter().fold(0, |acc, (st, _, _)| acc | (1 << st));
            p.last = ts;
            p.start = p.slots.iter().map(|(_, t, _)| *t).min().unwrap_or(ts);
            if p.filled.count_ones() as usize >= self.spec.min_stages {
                let mut slots = std::mem::take(&mut p.slots);
                slots.sort_by_key(|(st, t, _)| (*t, *st));
                let mut events: Vec<Arc<Event>> = Vec::with_capacity(slots.len());
                for (_, _, e) in slots {
                    if !events.iter().any(|x| Arc::ptr_eq(x, &e)) {
                        events.push(e);
                    }
                }
                self.keys.remove(&key);
                self.partials -= 1;
                out(self.alert(events));
            }
        }
    }

    /// Adds a partial under `key`, enforcing the caps.
    fn add_partial(&mut self, key: Arc<[u8]>, p: Partial) {
        if let Some(list) = self.keys.get_mut(&key) {
            list.push(p);
            if list.len() > self.limits.max_partials_per_key {
                // Oldest first: the partial that started first.
                if let Some(i) = list
                    .iter()
                    .enumerate()
                    .min_by_key(|(i, p)| (p.start, *i))
                    .map(|(i, _)| i)
                {
                    list.remove(i);
                    self.stats.evicted_partials += 1;
                    self.partials -= 1;
                }
            }
        } else {
            while self.keys.len() >= self.limits.max_keys {
                match self.keys.pop_oldest() {
                    Some((_, ps)) => {
                        self.stats.evicted_keys += 1;
                        self.stats.evicted_partials += ps.len() as u64;
                        self.partials -= ps.len();
                    }
                    None => break,
                }
            }
            self.keys.insert(key, vec![p]);
        }
        self.partials += 1;
        while self.partials > self.limits.max_partials {
            let Some((_, list)) = self.keys.oldest_mut() else {
                break;
            };
            if !list.is_empty() {
                list.remove(0);
                self.stats.evicted_partials += 1;
                self.partials -= 1;
            }
            if list.is_empty() {
                self.keys.pop_oldest();
            }
        }
    }

    /// Drops partials that can no longer complete: their first event is more
    /// than maxspan (plus the reorder window) behind the watermark.
    fn maybe_sweep(&mut self) {
        let Some(span) = self.spec.maxspan_ns else {
            return;
        };
        let now = self.reorder.watermark();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(span.max(MIN_SWEEP_INTERVAL_NS));
        let horizon = now
            .saturating_sub(self.limits.reorder_window_ns)
            .saturating_sub(span);
        let mut expired = 0usize;
        let ordered = self.spec.ordered;
        self.keys.retain(|_, list| {
            let before = list.len();
            if ordered {
                list.retain(|p| p.start >= horizon);
            } else {
                for p in list.iter_mut() {
                    p.slots.retain(|(_, t, _)| *t >= horizon);
                }
                list.retain(|p| !p.slots.is_empty());
            }
            expired += before - list.len();
            !list.is_empty()
        });
        self.partials -= expired;
        self.stats.expired_partials += expired as u64;
    }

    fn alert(&self, events: Vec<Arc<Event>>) -> Alert {
        Alert {
            rule: self.meta.clone(),
            events,
        }
    }
}

#[cfg(test)]
#[path = "sequence_tests.rs"]
mod tests;
