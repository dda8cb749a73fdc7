//! The stateful rules of a rule set, run together: one [`Sequencer`] or
//! [`Counter`] per sequence or count rule, fed with every event and the
//! single-event results the engine already computed for it.

use std::sync::Arc;

use tripline_parsers::Event;

use super::count::Counter;
use super::matcher;
use super::sequence::{Observation, Sequencer, SequencerState};
use super::window::{StateLimits, StateStats};
use crate::alert::Alert;
use crate::rule::ir::Detection;
use crate::rule::temporal::StageCondition;
use crate::rule::{RuleKind, RuleSet};

/// What the stateful rules of a rule set look at: the single-event rules
/// their stages, `until` clauses and counts refer to, and their inline
/// conditions (EQL stages).
///
/// An event for which [`StatefulNeeds::wants`] is false fills no stage, no
/// `until` and no count of any stateful rule: observing it only moves event
/// time forward, exactly like [`StatefulRules::expire`] at its timestamp
/// (parallel scans rely on this: such events stay in the workers).
#[derive(Debug, Default)]
pub struct StatefulNeeds {
    /// Per rule index: a stateful rule refers to this single-event rule.
    referenced: Vec<bool>,
    /// The inline stage and `until` conditions.
    inline: Vec<Detection>,
}

impl StatefulNeeds {
    /// The needs of the stateful rules of `rules` (nothing when it has none).
    pub fn new(rules: &RuleSet) -> StatefulNeeds {
        let mut n = StatefulNeeds {
            referenced: vec![false; rules.len()],
            inline: Vec::new(),
        };
        let add = |n: &mut StatefulNeeds, c: &StageCondition| match c {
            StageCondition::Rule(r) => {
                if let Some(x) = n.referenced.get_mut(*r) {
                    *x = true;
                }
            }
            StageCondition::Detection(d) => n.inline.push(d.clone()),
        };
        for r in rules.rules() {
            match &r.kind {
                RuleKind::Sequence(spec) => {
                    for st in spec.stages.iter().chain(spec.until.iter()) {
                        add(&mut n, &st.condition);
                    }
                }
                RuleKind::Count(spec) => {
                    for &i in &spec.rules {
                        add(&mut n, &StageCondition::Rule(i));
                    }
                }
                _ => {}
            }
        }
        n
    }

    /// True if some stateful rule can use `event`: one of the single-event
    /// rules in `hits` (the indices that matched it) is referenced, or an
    /// inline condition matches it.
    pub fn wants(&self, event: &Event, hits: impl IntoIterator<Item = u32>) -> bool {
        hits.into_iter()
            .any(|i| self.referenced.get(i as usize).copied().unwrap_or(false))
            || self.inline.iter().any(|d| matcher::matches(d, event))
    }
}

enum Runner {
    Sequence(Box<Sequencer>),
    Count(Box<Counter>),
}

/// Every stateful rule of a [`RuleSet`], in load order.
#[derive(Default)]
pub struct StatefulRules {
    runners: Vec<Runner>,
    /// Rules whose spec the engine refused (validated at load time, so only
    /// hand-built rule sets get here): (rule id, reason).
    rejected: Vec<(String, String)>,
}

impl StatefulRules {
    /// Builds the runners of every `Sequence` and `Count` rule of `rules`.
    pub fn new(rules: &RuleSet, limits: StateLimits) -> StatefulRules {
        let mut s = StatefulRules::default();
        for r in rules.rules() {
            let built = match &r.kind {
                RuleKind::Sequence(spec) => Sequencer::new(r.meta.clone(), spec.clone(), limits)
                    .map(|s| Runner::Sequence(Box::new(s))),
                RuleKind::Count(spec) => Counter::new(r.meta.clone(), spec.clone(), limits)
                    .map(|c| Runner::Count(Box::new(c))),
                _ => continue,
            };
            match built {
                Ok(runner) => s.runners.push(runner),
                Err(e) => s.rejected.push((r.meta.id.clone(), e)),
            }
        }
        s
    }

    /// True when the rule set has no stateful rule.
    pub fn is_empty(&self) -> bool {
        self.runners.is_empty()
    }

    /// Rules that could not be run: (rule id, reason).
    pub fn rejected(&self) -> &[(String, String)] {
        &self.rejected
    }

    /// Feeds one event; `rule_hits[i]` says whether single-event rule `i` matched it.
    pub fn observe(&mut self, event: &Event, rule_hits: &[bool], out: &mut dyn FnMut(Alert)) {
        self.observe_obs(&Observation::new(event, rule_hits), out);
    }

    /// Like [`StatefulRules::observe`] for an event the caller already shares.
    pub fn observe_shared(
        &mut self,
        event: &Arc<Event>,
        rule_hits: &[bool],
        out: &mut dyn FnMut(Alert),
    ) {
        self.observe_obs(&Observation::with_shared(event, rule_hits), out);
    }

    fn observe_obs(&mut self, obs: &Observation<'_>, out: &mut dyn FnMut(Alert)) {
        for r in &mut self.runners {
            match r {
                Runner::Sequence(s) => s.observe(obs, out),
                Runner::Count(c) => c.observe(obs, out),
            }
        }
    }

    /// Moves event time to `now` (see [`Sequencer::expire`]).
    pub fn expire(&mut self, now: i64, out: &mut dyn FnMut(Alert)) {
        for r in &mut self.runners {
            match r {
                Runner::Sequence(s) => s.expire(now, out),
                Runner::Count(c) => c.expire(now, out),
            }
        }
    }

    /// End of input (see [`Sequencer::flush`]).
    pub fn flush(&mut self, out: &mut dyn FnMut(Alert)) {
        for r in &mut self.runners {
            match r {
                Runner::Sequence(s) => s.flush(out),
                Runner::Count(c) => c.flush(out),
            }
        }
    }

    /// The open state of the sequence and counting rules, by rule id.
    pub fn save_state(&self) -> Vec<(String, RuleState)> {
        self.runners
            .iter()
            .filter_map(|r| match r {
                Runner::Sequence(s) => {
                    let st = s.save_state();
                    (!st.is_empty()).then(|| (s.meta().id.clone(), RuleState::Sequence(st)))
                }
                Runner::Count(c) => {
                    let st = c.save_state();
                    (!st.is_empty()).then(|| (c.meta().id.clone(), RuleState::Count(st)))
                }
            })
            .collect()
    }

    /// Restores [`save_state`](Self::save_state)'s result into the rules of
    /// the same id (before any event); states of rules no longer loaded are dropped.
    pub fn restore_state(&mut self, states: Vec<(String, RuleState)>) {
        for (id, st) in states {
            for r in &mut self.runners {
                match (r, &st) {
                    (Runner::Sequence(s), RuleState::Sequence(_)) if s.meta().id == id => {
                        if let RuleState::Sequence(st) = st {
                            s.restore_state(st);
                        }
                        break;
                    }
                    (Runner::Count(c), RuleState::Count(_)) if c.meta().id == id => {
                        if let RuleState::Count(st) = st {
                            c.restore_state(st);
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Counters summed over the stateful rules.
    pub fn stats(&self) -> StateStats {
        let mut t = StateStats::default();
        for r in &self.runners {
            t.add(&match r {
                Runner::Sequence(s) => s.stats(),
                Runner::Count(c) => c.stats(),
            });
        }
        t
    }
}

/// The saved state of one stateful rule. Untagged: checkpoints written before
/// counters were saved hold bare [`SequencerState`]s and still load.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum RuleState {
    /// A sequence or temporal correlation.
    Sequence(SequencerState),
    /// An `event_count` / `value_count` correlation.
    Count(super::count::CounterState),
}
