//! The engine: runs a compiled [`RuleSet`] over events and emits alerts.
//!
//! Single-event rules are evaluated exactly on every event ([`matcher`]).
//! Stateful rules (sequences and counts, [`sequence`], [`count`]) then see the
//! event together with those results; their alerts can come later, from
//! [`Engine::expire`] or [`Engine::flush`].

pub mod count;
pub mod matcher;
pub mod sequence;
pub mod state;
pub mod window;

use tripline_parsers::Event;

use crate::alert::Alert;
use crate::rule::{RuleKind, RuleSet};

/// Counters reported in the run summary.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Events seen.
    pub events: u64,
    /// Rule evaluations performed.
    pub evaluations: u64,
    /// Alerts emitted.
    pub alerts: u64,
    /// Sequence and count state: evictions, expiries, late events, current size.
    pub state: window::StateStats,
}

/// Runs rules over events.
pub struct Engine {
    rules: RuleSet,
    stats: EngineStats,
    stateful: state::StatefulRules,
    /// Per single-event rule: did it match the current event (for stateful rules).
    hits: Vec<bool>,
}

impl Engine {
    /// An engine over `rules`.
    pub fn new(rules: RuleSet) -> Self {
        Engine::with_limits(rules, window::StateLimits::default())
    }

    /// An engine over `rules` whose stateful rules keep state within `limits`.
    pub fn with_limits(rules: RuleSet, limits: window::StateLimits) -> Self {
        let stateful = state::StatefulRules::new(&rules, limits);
        let hits = vec![false; rules.len()];
        Engine {
            rules,
            stats: EngineStats::default(),
            stateful,
            hits,
        }
    }

    /// The rules this engine runs.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates every rule against `event`, pushing one alert per matching rule into `out`
    /// (in rule load order).
    pub fn process(&mut self, event: &Event, out: &mut dyn FnMut(Alert)) {
        self.stats.events += 1;
        for (i, rule) in self.rules.rules().iter().enumerate() {
            if let RuleKind::Single(d) = &rule.kind {
                self.stats.evaluations += 1;
                let hit = matcher::matches(d, event);
                self.hits[i] = hit;
                if hit && !self.rules.is_silent(i) {
                    self.stats.alerts += 1;
                    out(Alert {
                        rule: rule.meta.clone(),
                        events: vec![event.clone()],
                    });
                }
            }
        }
        if !self.stateful.is_empty() {
            let alerts = &mut self.stats.alerts;
            self.stateful.observe(event, &self.hits, &mut |a| {
                *alerts += 1;
                out(a)
            });
        }
    }

    /// Moves event time to `now` (ns since the epoch) when no event came:
    /// stateful rules release reordered events and drop expired state. Event
    /// time only moves forward; live mode passes the newest event time plus the
    /// time the input has been idle.
    pub fn expire(&mut self, now: i64, out: &mut dyn FnMut(Alert)) {
        let alerts = &mut self.stats.alerts;
        self.stateful.expire(now, &mut |a| {
            *alerts += 1;
            out(a)
        });
    }

    /// End of input: stateful rules process what they buffered and drop partial state.
    pub fn flush(&mut self, out: &mut dyn FnMut(Alert)) {
        let alerts = &mut self.stats.alerts;
        self.stateful.flush(&mut |a| {
            *alerts += 1;
            out(a)
        });
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.state = self.stateful.stats();
        s
    }
}
