//! The stateful part of the rule IR: sequences (EQL `sequence`, Sigma
//! `temporal` / `temporal_ordered`) and counts (Sigma `event_count` /
//! `value_count`).
//!
//! Front-ends build these; `engine::sequence` and `engine::count` run them.
//! Nothing here knows which language a rule came from: a Sigma
//! `temporal_ordered` correlation and an EQL `sequence by ... with maxspan=...`
//! compile to the same [`SequenceSpec`].
//!
//! # Example: an EQL sequence, built by hand
//!
//! ```
//! use tripline::rule::ir::{Detection, Expr, Field};
//! use tripline::rule::temporal::{SequenceSpec, Stage, StageCondition};
//!
//! // sequence by host.id with maxspan=1s
//! //   [process where true] by process.entity_id
//! //   [network where true] by process.entity_id
//! let stage = |keys: &[&str]| Stage {
//!     condition: StageCondition::Detection(Detection {
//!         filter: Expr::Const(true),
//!         condition: Expr::Const(true),
//!     }),
//!     keys: keys.iter().map(|k| Field::parse(k)).collect(),
//! };
//! let spec = SequenceSpec {
//!     stages: vec![
//!         stage(&["host.id", "process.entity_id"]),
//!         stage(&["host.id", "process.entity_id"]),
//!     ],
//!     until: None,
//!     maxspan_ns: Some(1_000_000_000),
//!     ordered: true,
//!     min_stages: 2,
//! };
//! assert!(spec.validate().is_ok());
//! ```

use std::fmt;

use super::ir::{Detection, Field};

/// Upper bound on the stages of one sequence: stage sets are `u64` bit masks.
/// EQL `runs=` expands stages, so a hostile rule could ask for thousands; 64 is
/// far beyond any published rule (the Elastic corpus uses at most 5).
pub const MAX_STAGES: usize = 64;

/// Upper bound on join-key fields per stage; more would only make keys huge.
pub const MAX_KEY_FIELDS: usize = 16;

/// Index of a single-event rule in the same [`RuleSet`](super::RuleSet).
pub type RuleRef = usize;

/// What one stage (or the `until` clause) of a sequence matches.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per rule; boxing buys nothing
pub enum StageCondition {
    /// An inline single-event condition (EQL `[process where ...]`).
    Detection(Detection),
    /// "The single-event rule at this index matched the event" (a rule a Sigma
    /// correlation names in `rules:`). The engine evaluates that rule once per
    /// event and hands the result to every correlation that refers to it.
    Rule(RuleRef),
}

/// One stage of a sequence: its condition and its join-key fields.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The condition an event must meet to fill this stage.
    pub condition: StageCondition,
    /// Join-key fields, positionally: the sequence-wide `by` fields first, then
    /// the stage's own `by` fields (EQL), or the `group-by` fields after
    /// `aliases` (Sigma). Every stage (and `until`) has the same number; the
    /// values at the same position must be equal across the stages of one match.
    /// A field the event lacks takes the value "absent", which equals only
    /// "absent" (see `engine::sequence`).
    pub keys: Vec<Field>,
}

/// A sequence of stages joined by key within a time span.
#[derive(Debug, Clone)]
pub struct SequenceSpec {
    /// The stages (at least one, at most [`MAX_STAGES`]).
    pub stages: Vec<Stage>,
    /// EQL `until [...]`: an event matching it for a key cancels that key's
    /// partial sequences.
    pub until: Option<Stage>,
    /// The whole match must fit in this span: last event time minus first event
    /// time <= `maxspan_ns`. `None`: unbounded (EQL without `maxspan`; the state
    /// caps still bound memory).
    pub maxspan_ns: Option<i64>,
    /// Stages must occur in order (EQL, Sigma `temporal_ordered`); otherwise in
    /// any order (Sigma `temporal`).
    pub ordered: bool,
    /// Unordered sequences only: how many distinct stages must be filled
    /// (Sigma `temporal` with `condition: {gte: N}`); ordered sequences need
    /// every stage and must set this to `stages.len()`.
    pub min_stages: usize,
}

impl SequenceSpec {
    /// Checks the shape: stage count, key arity, `min_stages`, span.
    ///
    /// # Errors
    /// A lowercase message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.stages.len();
        if n == 0 {
            return Err("a sequence needs at least one stage".into());
        }
        if n > MAX_STAGES {
            return Err(format!(
                "a sequence may have at most {MAX_STAGES} stages, this one has {n}"
            ));
        }
        let arity = self.stages[0].keys.len();
        if arity > MAX_KEY_FIELDS {
            return Err(format!(
                "at most {MAX_KEY_FIELDS} join-key fields are supported, got {arity}"
            ));
        }
        let stages = self.stages.iter().chain(self.until.iter());
        if stages.clone().any(|s| s.keys.len() != arity) {
            return Err("every stage must have the same number of join keys".into());
        }
        if self.ordered && self.min_stages != n {
            return Err("an ordered sequence needs all of its stages".into());
        }
        if self.min_stages == 0 || self.min_stages > n {
            return Err(format!(
                "needs between 1 and {n} stages to match, got {}",
                self.min_stages
            ));
        }
        if self.maxspan_ns.is_some_and(|s| s < 0) {
            return Err("negative maxspan".into());
        }
        Ok(())
    }
}

/// A comparison in a count condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountOp {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `==`
    Eq,
    /// `!=`
    Neq,
}

/// A count condition: every predicate must hold (`gt: 10` + `lte: 20` is a range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountCondition {
    /// The predicates, ANDed; never empty.
    pub predicates: Vec<(CountOp, u64)>,
}

impl CountCondition {
    /// True if `n` satisfies every predicate.
    pub fn holds(&self, n: u64) -> bool {
        self.predicates.iter().all(|&(op, v)| match op {
            CountOp::Gt => n > v,
            CountOp::Gte => n >= v,
            CountOp::Lt => n < v,
            CountOp::Lte => n <= v,
            CountOp::Eq => n == v,
            CountOp::Neq => n != v,
        })
    }

    /// True if only lower bounds (`gt`/`gte`) are given: once the condition
    /// holds, more events keep it true, so it can be decided as events arrive.
    /// Other conditions are decided when a window closes.
    pub fn is_monotone(&self) -> bool {
        self.predicates
            .iter()
            .all(|(op, _)| matches!(op, CountOp::Gt | CountOp::Gte))
    }

    /// The smallest count that can satisfy a monotone condition (saturating).
    pub fn lower_bound(&self) -> u64 {
        self.predicates
            .iter()
            .map(|&(op, v)| match op {
                CountOp::Gt => v.saturating_add(1),
                _ => v,
            })
            .max()
            .unwrap_or(0)
    }
}

impl fmt::Display for CountCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (op, v)) in self.predicates.iter().enumerate() {
            if i > 0 {
                write!(f, " and ")?;
            }
            let s = match op {
                CountOp::Gt => ">",
                CountOp::Gte => ">=",
                CountOp::Lt => "<",
                CountOp::Lte => "<=",
                CountOp::Eq => "==",
                CountOp::Neq => "!=",
            };
            write!(f, "{s} {v}")?;
        }
        Ok(())
    }
}

/// Counting events, or distinct values of a field, per group within a time span
/// (Sigma `event_count`, `value_count`).
#[derive(Debug, Clone)]
pub struct CountSpec {
    /// The single-event rules whose matches are counted (any of them).
    pub rules: Vec<RuleRef>,
    /// Per referenced rule (same order as `rules`), the group-by fields after aliases.
    pub keys: Vec<Vec<Field>>,
    /// `value_count`: per referenced rule, the field whose distinct values are
    /// counted; `None` for `event_count`.
    pub value_field: Option<Vec<Field>>,
    /// The window length.
    pub timespan_ns: i64,
    /// When the count fires.
    pub condition: CountCondition,
}

impl CountSpec {
    /// Checks the shape.
    ///
    /// # Errors
    /// A lowercase message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.is_empty() {
            return Err("a count correlation needs at least one rule".into());
        }
        if self.keys.len() != self.rules.len() {
            return Err("one group-by field list per rule is needed".into());
        }
        let arity = self.keys[0].len();
        if arity > MAX_KEY_FIELDS {
            return Err(format!(
                "at most {MAX_KEY_FIELDS} group-by fields are supported, got {arity}"
            ));
        }
        if self.keys.iter().any(|k| k.len() != arity) {
            return Err("every rule must have the same number of group-by fields".into());
        }
        if let Some(v) = &self.value_field
            && v.len() != self.rules.len()
        {
            return Err("one value field per rule is needed".into());
        }
        if self.condition.predicates.is_empty() {
            return Err("empty count condition".into());
        }
        if self.timespan_ns <= 0 {
            return Err("the timespan must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_conditions() {
        let c = CountCondition {
            predicates: vec![(CountOp::Gt, 2), (CountOp::Lte, 4)],
        };
        assert!(!c.holds(2) && c.holds(3) && c.holds(4) && !c.holds(5));
        assert!(!c.is_monotone());
        let c = CountCondition {
            predicates: vec![(CountOp::Gt, 2)],
        };
        assert!(c.is_monotone());
        assert_eq!(c.lower_bound(), 3);
        assert_eq!(c.to_string(), "> 2");
    }
}
