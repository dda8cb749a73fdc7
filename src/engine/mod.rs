//! The engine: runs a compiled [`RuleSet`] over events and emits alerts.
//!
//! STUB: filled in by the rule-engine work (prefilter.rs, matcher.rs, sequence.rs).

use tripline_parsers::Event;

use crate::alert::Alert;
use crate::rule::RuleSet;

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

    /// Evaluates every rule against `event`, pushing alerts into `out`.
    pub fn process(&mut self, event: &Event, out: &mut dyn FnMut(Alert)) {
        self.stats.events += 1;
        let _ = (&self.rules, event, out);
    }

    /// Emits whatever stateful rules still hold at end of input.
    pub fn flush(&mut self, _out: &mut dyn FnMut(Alert)) {}

    /// Counters so far.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }
}
