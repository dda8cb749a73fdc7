//! Counting correlations: Sigma `event_count` and `value_count` ([`CountSpec`]),
//! on the same time and key machinery as the sequence joiner ([`super::window`]).
//!
//! # Semantics
//!
//! - Events of any referenced rule are grouped by the `group-by` values (after
//!   `aliases`); a missing field groups as "absent", like sequence join keys.
//! - **Lower-bound conditions** (`gt`, `gte`, or both): a sliding window. When
//!   an event makes the count of events (`event_count`) or of distinct values
//!   (`value_count`) in `[t - timespan, t]` satisfy the condition, the rule fires
//!   with that event and the group starts over (one alert per burst, not one
//!   per event of a burst). An event exactly `timespan` before `t` counts.
//! - **Conditions with an upper bound** (`lt`, `lte`, `eq`, `neq`, ranges): a
//!   window opens at the group's first event and lasts `timespan` (inclusive);
//!   when it closes (a later event of the group falls outside it, or event time
//!   passes its end) the count is compared and the rule fires with the window's
//!   last event. Groups that never had an event never fire: "fewer than N" means
//!   "fewer than N, but at least one". At end of input ([`Counter::flush`])
//!   windows that event time has not closed yet are dropped, not judged.
//! - Only what decides the condition is kept: for a threshold N, the newest N
//!   timestamps or distinct values (hashed with a random key, kept in the
//!   saved state so a restored counter recognizes its values) per group. Thresholds above [`MAX_COUNT_THRESHOLD`] are refused when the rule
//!   loads, and the group cap shrinks so one rule keeps at most
//!   [`COUNT_ENTRY_BUDGET`] entries.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tripline_parsers::{Event, FieldValue};

use super::sequence::{MIN_SWEEP_INTERVAL_NS, Observation};
use super::window::{
    KeyTable, Reorder, SavedEvents, StateLimits, StateStats, encode_key, field_value, saved_events,
};
use crate::alert::Alert;
use crate::rule::RuleMeta;
use crate::rule::temporal::CountSpec;

/// Largest count threshold a rule may use. Counting to N keeps up to N
/// timestamps or values per group; published rules use thresholds in the tens
/// or hundreds.
pub const MAX_COUNT_THRESHOLD: u64 = 100_000;

/// Timestamps or distinct values one counting rule keeps over all its groups;
/// with threshold N the rule tracks at most `COUNT_ENTRY_BUDGET / N` groups
/// (8 MiB of timestamps).
pub const COUNT_ENTRY_BUDGET: usize = 1 << 20;

struct Group {
    /// Tumbling mode: the window's first event time.
    start: i64,
    /// Tumbling mode: events in the window (saturating).
    count: u64,
    /// Sliding `event_count`: newest event times, at most `need`.
    times: VecDeque<i64>,
    /// `value_count`: value hash -> newest time seen.
    values: HashMap<u64, i64>,
    /// The newest event, for the alert.
    last: Arc<Event>,
    last_ts: i64,
}

/// Runs one [`CountSpec`].
pub struct Counter {
    meta: Arc<RuleMeta>,
    spec: CountSpec,
    limits: StateLimits,
    monotone: bool,
    /// Sliding mode: entries that decide the condition. Tumbling: the count cap.
    need: usize,
    /// Secret prefix of every value hash (random per counter; saved with the
    /// state, so distinct values stay distinct across a restart and a log
    /// writer cannot craft values that collide).
    salt: (u64, u64),
    reorder: Reorder<u64>,
    groups: KeyTable<Group>,
    stats: StateStats,
    keybuf: Vec<u8>,
    next_sweep: i64,
}

impl Counter {
    /// A counter for `spec`, alerting as `meta`.
    ///
    /// # Errors
    /// When the spec is malformed or its threshold is above [`MAX_COUNT_THRESHOLD`].
    pub fn new(
        meta: Arc<RuleMeta>,
        spec: CountSpec,
        limits: StateLimits,
    ) -> Result<Counter, String> {
        spec.validate()?;
        if spec.rules.len() > 64 {
            return Err("a count correlation may refer to at most 64 rules".into());
        }
        let monotone = spec.condition.is_monotone();
        let top = if monotone {
            spec.condition.lower_bound()
        } else {
            // Counts above every bound compare alike: keep one more than the largest.
            spec.condition
                .predicates
                .iter()
                .map(|(_, v)| *v)
                .max()
                .unwrap_or(0)
                .saturating_add(1)
        };
        if top > MAX_COUNT_THRESHOLD {
            return Err(format!(
                "count threshold {top} is above the supported maximum {MAX_COUNT_THRESHOLD}"
            ));
        }
        let need = (top as usize).max(1);
        let mut limits = limits.sanitized();
        limits.max_keys = limits.max_keys.min((COUNT_ENTRY_BUDGET / need).max(1));
        Ok(Counter {
            meta,
            spec,
            limits,
            monotone,
            need,
            salt: {
                let s = RandomState::new();
                (s.hash_one(1u8), s.hash_one(2u8))
            },
            reorder: Reorder::default(),
            groups: KeyTable::default(),
            stats: StateStats::default(),
            keybuf: Vec::new(),
            next_sweep: i64::MIN,
        })
    }

    /// The rule this counter runs.
    pub fn meta(&self) -> &Arc<RuleMeta> {
        &self.meta
    }

    /// Counters, and the current number of groups (as keys and partials).
    pub fn stats(&self) -> StateStats {
        let mut s = self.stats;
        s.keys = self.groups.len() as u64;
        s.partials = self.groups.len() as u64;
        s
    }

    /// Takes one event (see [`super::sequence::Sequencer::observe`]).
    pub fn observe(&mut self, obs: &Observation<'_>, out: &mut dyn FnMut(Alert)) {
        let ts = obs.event().timestamp_ns;
        let mut mask = 0u64;
        for (i, r) in self.spec.rules.iter().enumerate() {
            if obs.rule_hit(*r) {
                mask |= 1 << i;
            }
        }
        self.reorder.advance(ts);
        if mask != 0 {
            if self.reorder.is_late(ts) {
                self.stats.late_events += 1;
                self.step(ts, &obs.shared(), mask, out);
            } else {
                self.reorder.push(ts, obs.shared(), mask);
            }
        }
        self.release(false, out);
        self.sweep(false, out);
    }

    /// Moves event time to `now` without an event (see [`super::sequence::Sequencer::expire`]).
    pub fn expire(&mut self, now: i64, out: &mut dyn FnMut(Alert)) {
        self.reorder.advance(now);
        self.release(false, out);
        self.sweep(false, out);
    }

    /// End of input: processes buffered events, judges the windows event time
    /// has closed, drops the rest.
    pub fn flush(&mut self, out: &mut dyn FnMut(Alert)) {
        self.release(true, out);
        self.sweep(true, out);
        self.groups.clear();
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

    fn value_hash(&self, v: Option<FieldValue<'_>>) -> u64 {
        let mut h = DefaultHasher::new();
        self.salt.hash(&mut h);
        match v {
            None => 0u8.hash(&mut h),
            Some(FieldValue::Str(s)) => (1u8, s).hash(&mut h),
            Some(FieldValue::Int(n)) => (2u8, n).hash(&mut h),
            Some(FieldValue::Strs(l)) => (3u8, l).hash(&mut h),
            Some(FieldValue::Json(j)) => (4u8, j.to_string()).hash(&mut h),
        }
        h.finish()
    }

    fn step(&mut self, ts: i64, ev: &Arc<Event>, mask: u64, out: &mut dyn FnMut(Alert)) {
        // The first referenced rule that matched decides which aliases apply.
        let r = mask.trailing_zeros() as usize;
        let value = match &self.spec.value_field {
            Some(fields) => {
                let v = field_value(&fields[r], ev);
                if v.is_none() {
                    // An event without the counted field adds no value.
                    return;
                }
                Some(self.value_hash(v))
            }
            None => None,
        };
        encode_key(&self.spec.keys[r], ev, &mut self.keybuf);
        let span = self.spec.timespan_ns;
        // Tumbling: an event past the group's window closes it first.
        if !self.monotone
            && let Some(g) = self.groups.peek_mut(&self.keybuf)
            && ts.saturating_sub(g.start) > span
        {
            let g = self.groups.remove(&self.keybuf).expect("present");
            self.judge(g, out);
        }
        let need = self.need;
        if self.groups.get_mut(&self.keybuf).is_none() {
            while self.groups.len() >= self.limits.max_keys {
                if self.groups.pop_oldest().is_none() {
                    break;
                }
                self.stats.evicted_keys += 1;
                self.stats.evicted_partials += 1;
            }
            let key: Arc<[u8]> = Arc::from(self.keybuf.as_slice());
            self.groups.insert(
                key,
                Group {
                    start: ts,
                    count: 0,
                    times: VecDeque::new(),
                    values: HashMap::new(),
                    last: ev.clone(),
                    last_ts: ts,
                },
            );
        }
        let Some(g) = self.groups.get_mut(&self.keybuf) else {
            return;
        };
        g.last = ev.clone();
        g.last_ts = ts;
        let lo = ts.saturating_sub(span);
        let fire = if self.monotone {
            match value {
                None => {
                    g.times.push_back(ts);
                    while g.times.front().is_some_and(|&t| t < lo) || g.times.len() > need {
                        g.times.pop_front();
                    }
                    g.times.len() >= need
                }
                Some(h) => {
                    g.values.insert(h, ts);
                    if g.values.len() >= need {
                        g.values.retain(|_, t| *t >= lo);
                    }
                    g.values.len() >= need
                }
            }
        } else {
            match value {
                None => g.count = g.count.saturating_add(1).min(need as u64),
                Some(h) => {
                    if g.values.len() < need || g.values.contains_key(&h) {
                        g.values.insert(h, ts);
                    }
                    g.count = g.values.len() as u64;
                }
            }
            false
        };
        if fire {
            let g = self.groups.remove(&self.keybuf).expect("present");
            out(self.alert(g.last));
        }
    }

    fn judge(&self, g: Group, out: &mut dyn FnMut(Alert)) {
        if self.spec.condition.holds(g.count) {
            out(self.alert(g.last));
        }
    }

    /// Judges closed windows (tumbling) or drops stale groups (sliding).
    fn sweep(&mut self, force: bool, out: &mut dyn FnMut(Alert)) {
        let now = self.reorder.watermark();
        if !force && now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(MIN_SWEEP_INTERVAL_NS);
        let span = self.spec.timespan_ns;
        let horizon = now.saturating_sub(self.limits.reorder_window_ns);
        let mut closed = Vec::new();
        let monotone = self.monotone;
        self.groups.retain(|_, g| {
            if monotone {
                g.last_ts.saturating_add(span) >= horizon
            } else if g.start.saturating_add(span) < horizon {
                closed.push((g.count, g.last.clone()));
                false
            } else {
                true
            }
        });
        for (count, last) in closed {
            if self.spec.condition.holds(count) {
                out(self.alert(last));
            }
        }
    }

    /// The open state (see [`CounterState`]).
    pub fn save_state(&self) -> CounterState {
        let mut st = CounterState {
            salt: self.salt,
            ..CounterState::default()
        };
        let mut evs = SavedEvents::default();
        for p in self.reorder.buffered() {
            let i = evs.index(&p.event);
            st.pending.push((p.ts, p.seq, i, p.info));
        }
        let (w, r, seq) = self.reorder.clock();
        st.clock = (w, r, seq, self.next_sweep);
        for (k, g) in self.groups.iter() {
            let i = evs.index(&g.last);
            let mut values: Vec<(u64, i64)> = g.values.iter().map(|(h, t)| (*h, *t)).collect();
            values.sort_unstable();
            st.groups.push(SavedGroup {
                key: k.to_vec(),
                start: g.start,
                count: g.count,
                times: g.times.iter().copied().collect(),
                values,
                last: i,
                last_ts: g.last_ts,
            });
        }
        st.ev = evs.into_json();
        st
    }

    /// Restores a saved state into this (fresh) counter. Entries naming a
    /// missing event are skipped, and the state limits hold.
    pub fn restore_state(&mut self, st: CounterState) {
        let events = saved_events(&st.ev);
        self.salt = st.salt;
        let (w, r, seq, sweep) = st.clock;
        self.reorder.set_clock(w, r, seq);
        self.next_sweep = sweep;
        let rules = self.spec.rules.len();
        for (ts, seq, i, mask) in st.pending {
            if self.reorder.len() >= self.limits.max_buffered {
                break;
            }
            // A mask naming rules this counter no longer refers to is stale.
            if mask == 0 || (rules < 64 && mask >> rules != 0) {
                continue;
            }
            if let Some(ev) = events.get(i as usize) {
                self.reorder.push_at(ts, seq, ev.clone(), mask);
            }
        }
        let need = self.need;
        for g in st.groups {
            if self.groups.len() >= self.limits.max_keys {
                break;
            }
            let Some(last) = events.get(g.last as usize) else {
                continue;
            };
            if self.groups.peek_mut(&g.key).is_some() {
                continue;
            }
            let skip = g.times.len().saturating_sub(need);
            let key: Arc<[u8]> = Arc::from(g.key.as_slice());
            self.groups.insert(
                key,
                Group {
                    start: g.start,
                    count: g.count.min(need as u64),
                    times: g.times.into_iter().skip(skip).collect(),
                    values: g.values.into_iter().take(need).collect(),
                    last: last.clone(),
                    last_ts: g.last_ts,
                },
            );
        }
    }

    fn alert(&self, ev: Arc<Event>) -> Alert {
        Alert {
            rule: self.meta.clone(),
            events: vec![ev],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::ir::Field;
    use crate::rule::temporal::{CountCondition, CountOp};

    const MS: i64 = 1_000_000;
    const S: i64 = 1_000 * MS;

    fn counter(value: bool, preds: &[(CountOp, u64)], window: i64) -> Counter {
        let spec = CountSpec {
            rules: vec![0],
            keys: vec![vec![Field::parse("user.name")]],
            value_field: value.then(|| vec![Field::parse("destination.ip")]),
            timespan_ns: 10 * S,
            condition: CountCondition {
                predicates: preds.to_vec(),
            },
        };
        let limits = StateLimits {
            reorder_window_ns: window,
            ..StateLimits::default()
        };
        Counter::new(Arc::default(), spec, limits).unwrap()
    }

    fn ev(ts: i64, user: &str, ip: &str) -> Event {
        let mut e = Event {
            timestamp_ns: ts,
            ..Event::default()
        };
        e.user.name = Some(user.into());
        e.destination.ip = Some(ip.into());
        e
    }

    /// Feeds events (all matching rule 0); returns alert timestamps.
    fn run(c: &mut Counter, evs: &[Event]) -> Vec<i64> {
        let mut out = Vec::new();
        for e in evs {
            c.observe(&Observation::new(e, &[true]), &mut |a| {
                out.push(a.trigger().timestamp_ns)
            });
        }
        c.flush(&mut |a| out.push(a.trigger().timestamp_ns));
        out
    }

    #[test]
    fn event_count_window_is_inclusive_at_exactly_timespan() {
        let mut c = counter(false, &[(CountOp::Gte, 3)], 0);
        let got = run(
            &mut c,
            &[ev(0, "u", "a"), ev(5 * S, "u", "a"), ev(10 * S, "u", "a")],
        );
        assert_eq!(got, vec![10 * S]);
        let mut c = counter(false, &[(CountOp::Gte, 3)], 0);
        let got = run(
            &mut c,
            &[
                ev(0, "u", "a"),
                ev(5 * S, "u", "a"),
                ev(10 * S + MS, "u", "a"),
            ],
        );
        assert!(got.is_empty(), "1 ms over: {got:?}");
    }

    #[test]
    fn event_count_groups_and_restarts_after_firing() {
        let mut c = counter(false, &[(CountOp::Gt, 1)], 0);
        let got = run(
            &mut c,
            &[
                ev(0, "u", "a"),
                ev(1, "v", "a"),
                ev(2, "u", "a"),
                ev(3, "u", "a"),
                ev(4, "u", "a"),
            ],
        );
        assert_eq!(got, vec![2, 4]);
    }

    #[test]
    fn event_count_out_of_order_within_window() {
        let mut c = counter(false, &[(CountOp::Gte, 3)], 500 * MS);
        // Sorted these are 0, 9.8 s, 10.2 s: no window of 10 s holds three.
        let got = run(
            &mut c,
            &[
                ev(10_200 * MS, "u", "a"),
                ev(9_800 * MS, "u", "a"),
                ev(0, "u", "a"),
            ],
        );
        assert!(got.is_empty(), "{got:?}");
        let mut c = counter(false, &[(CountOp::Gte, 3)], 500 * MS);
        let got = run(
            &mut c,
            &[
                ev(9_900 * MS, "u", "a"),
                ev(9_800 * MS, "u", "a"),
                ev(0, "u", "a"),
            ],
        );
        assert_eq!(got, vec![9_900 * MS]);
    }

    #[test]
    fn value_count_counts_distinct_values() {
        let mut c = counter(true, &[(CountOp::Gte, 3)], 0);
        let got = run(
            &mut c,
            &[
                ev(0, "u", "a"),
                ev(1, "u", "a"),
                ev(2, "u", "b"),
                ev(3, "v", "c"),
                ev(4, "u", "b"),
                ev(10 * S + 1, "u", "c"),
            ],
        );
        // at 10 s + 1 ns, "a" (seen at 0 and 1 ns) has left the window: a, b, c needs a at >= 1 ns.
        assert_eq!(got, vec![10 * S + 1]);
        let mut c = counter(true, &[(CountOp::Gte, 3)], 0);
        let got = run(
            &mut c,
            &[ev(0, "u", "a"), ev(4, "u", "b"), ev(10 * S + 1, "u", "c")],
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn upper_bound_conditions_judge_closed_windows() {
        // Fewer than 3 events in a 10 s window.
        let mut c = counter(false, &[(CountOp::Lt, 3)], 0);
        let got = run(
            &mut c,
            &[
                ev(0, "u", "a"),
                ev(10 * S, "u", "a"),
                // closes u's first window (2 events: fires with the window's last event)
                ev(10 * S + MS, "u", "a"),
                ev(11 * S, "u", "a"),
                ev(12 * S, "u", "a"),
                ev(40 * S, "v", "a"),
            ],
        );
        // u's second window (3 events) does not fire; v's window is still open at the end.
        assert_eq!(got, vec![10 * S]);
    }

    #[test]
    fn range_condition() {
        let mut c = counter(false, &[(CountOp::Gte, 2), (CountOp::Lte, 3)], 0);
        let evs: Vec<Event> = (0..4).map(|i| ev(i, "u", "a")).collect();
        let mut all = evs.clone();
        all.push(ev(60 * S, "w", "a"));
        assert!(run(&mut c, &all).is_empty(), "4 events is out of range");
        let mut c = counter(false, &[(CountOp::Gte, 2), (CountOp::Lte, 3)], 0);
        let mut some = evs[..3].to_vec();
        some.push(ev(60 * S, "w", "a"));
        assert_eq!(run(&mut c, &some), vec![2]);
    }

    /// Feeds `evs[..cut]` to one counter, saves its state through JSON,
    /// restores it into a fresh counter (a restarted process: a new hash key)
    /// and feeds the rest there.
    fn run_split(mk: &dyn Fn() -> Counter, evs: &[Event], cut: usize) -> Vec<i64> {
        let mut out = Vec::new();
        let mut a = mk();
        for e in &evs[..cut] {
            a.observe(&Observation::new(e, &[true]), &mut |x| {
                out.push(x.trigger().timestamp_ns)
            });
        }
        let st = a.save_state();
        let json = serde_json::to_string(&st).unwrap();
        let mut b = mk();
        b.restore_state(serde_json::from_str(&json).unwrap());
        assert_eq!(b.save_state(), st, "restore then save is the identity");
        out.extend(run(&mut b, &evs[cut..]));
        out
    }

    // See: issue 8. A restart of `tail` kept sequences but reset counting
    // windows: a burst split by a restart never reached its threshold.
    #[test]
    fn saved_state_continues_every_kind_of_count_across_a_restart() {
        let evs = [
            ev(0, "u", "a"),
            ev(MS, "v", "a"),
            ev(2 * MS, "u", "a"),
            ev(3 * MS, "u", "b"),
            ev(4 * MS, "u", "a"),
            ev(5 * MS, "v", "c"),
            ev(6 * MS, "u", "c"),
            ev(7 * MS, "v", "d"),
            ev(8 * MS, "x", "f"),
            ev(20 * S, "u", "d"),
            ev(21 * S, "w", "e"),
        ];
        type Kind<'a> = (bool, &'a [(CountOp, u64)], i64);
        let kinds: [Kind<'_>; 5] = [
            (false, &[(CountOp::Gte, 3)], 0),
            (false, &[(CountOp::Gte, 3)], 500 * MS),
            (true, &[(CountOp::Gte, 3)], 0),
            (false, &[(CountOp::Lt, 3)], 0),
            (true, &[(CountOp::Gte, 2), (CountOp::Lte, 3)], 0),
        ];
        for (value, preds, window) in kinds {
            let mk = || counter(value, preds, window);
            let whole = run(&mut mk(), &evs);
            assert!(!whole.is_empty(), "{value} {preds:?}: the case must fire");
            for cut in 0..=evs.len() {
                assert_eq!(
                    run_split(&mk, &evs, cut),
                    whole,
                    "value={value} {preds:?} window={window} restart after {cut} events"
                );
            }
        }
        // A repeated value after the restart is not a new distinct value.
        let mk = || counter(true, &[(CountOp::Gte, 2)], 0);
        let same = [ev(0, "u", "a"), ev(1, "u", "a"), ev(2, "u", "a")];
        assert!(run_split(&mk, &same, 1).is_empty());
    }

    // Checkpoints written before counters were saved hold bare sequence states.
    #[test]
    fn rule_states_of_both_kinds_and_the_old_format_load() {
        use crate::engine::sequence::SequencerState;
        use crate::engine::state::RuleState;
        let mut c = counter(false, &[(CountOp::Gte, 3)], 0);
        c.observe(&Observation::new(&ev(0, "u", "a"), &[true]), &mut |_| {});
        let count = RuleState::Count(c.save_state());
        let seq = SequencerState {
            clock: (1, 2, 3, 4),
            ..SequencerState::default()
        };
        let old = serde_json::to_string(&vec![("s".to_string(), seq.clone())]).unwrap();
        let got: Vec<(String, RuleState)> = serde_json::from_str(&old).unwrap();
        assert_eq!(got, vec![("s".into(), RuleState::Sequence(seq))]);
        let json = serde_json::to_string(&vec![("c".to_string(), count.clone())]).unwrap();
        let got: Vec<(String, RuleState)> = serde_json::from_str(&json).unwrap();
        assert_eq!(got, vec![("c".into(), count)]);
    }

    #[test]
    fn hostile_thresholds_are_refused_and_groups_capped() {
        let spec = CountSpec {
            rules: vec![0],
            keys: vec![vec![]],
            value_field: None,
            timespan_ns: S,
            condition: CountCondition {
                predicates: vec![(CountOp::Gte, u64::MAX)],
            },
        };
        assert!(Counter::new(Arc::default(), spec, StateLimits::default()).is_err());
        let mut c = counter(false, &[(CountOp::Gte, 1000)], 0);
        for i in 0..5_000 {
            c.observe(
                &Observation::new(&ev(i, &format!("u{i}"), "a"), &[true]),
                &mut |_| {},
            );
        }
        let st = c.stats();
        assert!(st.keys as usize <= COUNT_ENTRY_BUDGET / 1000, "{st:?}");
        assert!(st.evicted_keys > 0);
    }
}

/// A counter's open state, for live mode's checkpoint: buffered events,
/// groups, and the value-hash key. Events are ECS JSON, referenced by index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterState {
    /// The events referenced by `pending` and `groups`.
    pub ev: Vec<Value>,
    /// Reorder buffer: (time, arrival number, event, rule mask).
    pub pending: Vec<(i64, u64, u32, u64)>,
    /// (watermark, released up to, arrival counter, next sweep).
    pub clock: (i64, i64, u64, i64),
    /// The value-hash key the saved `values` were hashed with.
    pub salt: (u64, u64),
    /// Groups, least recently used first.
    pub groups: Vec<SavedGroup>,
}

impl CounterState {
    /// True when there is nothing open.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.groups.is_empty()
    }
}

/// One group of a [`CounterState`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedGroup {
    /// The encoded group-by key.
    pub key: Vec<u8>,
    /// Tumbling window start.
    pub start: i64,
    /// Tumbling count.
    pub count: u64,
    /// Sliding `event_count` times.
    pub times: Vec<i64>,
    /// `value_count`: (value hash, newest time).
    pub values: Vec<(u64, i64)>,
    /// The newest event (index into [`CounterState::ev`]).
    pub last: u32,
    /// Its time.
    pub last_ts: i64,
}
