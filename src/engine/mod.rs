//! The engine: runs a compiled [`RuleSet`] over events and emits alerts.
//!
//! Today every rule is a single-event rule, evaluated exactly on every event
//! ([`matcher`]). The Aho-Corasick prefilter (which narrows the rules to
//! evaluate) and the sequence joiner come next; [`Engine::flush`] already
//! exists for the stateful rules they bring.

pub mod matcher;

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
}

/// Runs rules over events.
pub struct Engine {
    rules: RuleSet,
    stats: EngineStats,
}

impl Engine {
    /// An engine over `rules`.
    pub fn new(rules: RuleSet) -> Self {
        Engine {
            rules,
            stats: EngineStats::default(),
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
        for rule in self.rules.rules() {
            match &rule.kind {
                RuleKind::Single(d) => {
                    self.stats.evaluations += 1;
                    if matcher::matches(d, event) {
                        self.stats.alerts += 1;
                        out(Alert {
                            rule: rule.meta.clone(),
                            events: vec![event.clone()],
                        });
                    }
                }
            }
        }
    }

    /// Emits whatever stateful rules still hold at end of input (none yet).
    pub fn flush(&mut self, _out: &mut dyn FnMut(Alert)) {}

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}
