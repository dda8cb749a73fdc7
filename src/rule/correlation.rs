//! Sigma correlation rules -> the stateful IR ([`super::temporal`]).
//!
//! A correlation names other rules (`rules:` by `id` or `name`), anywhere in
//! the same load set, including earlier or later documents of the same file,
//! so correlations are collected while files load ([`Pending::add`]) and
//! compiled once every rule is known ([`Pending::resolve`]).
//!
//! | Sigma `type` | compiles to |
//! |---|---|
//! | `temporal_ordered` | [`SequenceSpec`], ordered, every rule in order |
//! | `temporal` | [`SequenceSpec`], unordered; `condition: {gte: N}` with N >= 2 means "N of the rules" |
//! | `event_count` | [`CountSpec`] |
//! | `value_count` | [`CountSpec`] with `condition.field` |
//!
//! - `group-by` fields are Sigma field names, resolved per referenced rule
//!   through that rule's logsource mapping (so `ParentProcessGuid` becomes
//!   `process.parent.entity_id` for a `process_creation` rule), after `aliases`
//!   (`aliases: {pgid: {rule_a: ProcessGuid, rule_b: ParentProcessGuid}}`).
//! - `timespan` is the maxspan: a match's last event is at most `timespan`
//!   after its first (inclusive).
//! - `generate: false` (the default): the referenced rules do not alert on
//!   their own; a rule referenced by several correlations alerts if any of them
//!   says `generate: true`.
//! - Not supported (the correlation is skipped with a diagnostic): the
//!   `value_sum`/`value_avg`/`value_percentile`/`value_median` types, `window:
//!   tumbling|session`, extended (boolean-expression) conditions, and
//!   correlations of correlations.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, SigmaRule,
    WindowMode,
};

use super::Diagnostic;
use super::ir::{Field, Rule, RuleKind};
use super::mapping::{FieldTarget, Mappings};
use super::meta::{RuleMeta, Severity};
use super::mitre::threats_from_tags;
use super::temporal::{
    CountCondition, CountOp, CountSpec, RuleRef, SequenceSpec, Stage, StageCondition,
};
use crate::engine::count::Counter;
use crate::engine::window::StateLimits;

/// A compiled single-event rule a correlation may name.
struct Target {
    index: RuleRef,
    id: String,
    name: Option<String>,
    logsource: (Option<String>, Option<String>, Option<String>),
}

struct Waiting {
    rule: CorrelationRule,
    path: String,
    ruleset: String,
    line: Option<usize>,
}

/// Correlations seen while loading, and the rules they may refer to.
#[derive(Default)]
pub struct Pending {
    targets: Vec<Target>,
    waiting: Vec<Waiting>,
}

impl Pending {
    /// Records that the Sigma rule `r` compiled into rule number `index`.
    pub fn note_rule(&mut self, r: &SigmaRule, index: RuleRef, id: &str) {
        self.targets.push(Target {
            index,
            id: id.to_string(),
            name: r.name.clone(),
            logsource: (
                r.logsource.product.clone(),
                r.logsource.category.clone(),
                r.logsource.service.clone(),
            ),
        });
    }

    /// Queues a correlation found in `path` (rule starting at `line`).
    pub fn add(&mut self, rule: &CorrelationRule, path: &str, ruleset: &str, line: Option<usize>) {
        self.waiting.push(Waiting {
            rule: rule.clone(),
            path: path.to_string(),
            ruleset: ruleset.to_string(),
            line,
        });
    }

    /// True if no correlation is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Compiles every queued correlation, appending the compiled ones to `rules`
    /// (their ids must not be in `ids`) and a diagnostic per skipped one.
    /// Returns the indexes of rules that must not alert on their own.
    pub fn resolve(
        self,
        rules: &mut Vec<Rule>,
        ids: &mut HashMap<String, String>,
        mappings: &Mappings,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> HashSet<RuleRef> {
        let mut silenced = HashSet::new();
        let mut generating = HashSet::new();
        for w in &self.waiting {
            let label = w.rule.id.clone().unwrap_or_else(|| w.rule.title.clone());
            let diag = |message: String| Diagnostic {
                path: w.path.clone(),
                line: w.line,
                rule: Some(label.clone()),
                message,
                file_error: false,
            };
            match self.compile(w, mappings) {
                Ok((rule, refs)) => {
                    if let Some(first) = ids.get(&rule.meta.id) {
                        diagnostics.push(diag(format!(
                            "duplicate rule id (already loaded from {first}); skipped"
                        )));
                        continue;
                    }
                    ids.insert(rule.meta.id.clone(), w.path.clone());
                    if w.rule.generate {
                        generating.extend(refs.iter().copied());
                    } else {
                        silenced.extend(refs.iter().copied());
                    }
                    rules.push(rule);
                }
                Err(msg) => diagnostics.push(diag(format!("{msg}; rule skipped"))),
            }
        }
        silenced.retain(|i| !generating.contains(i));
        silenced
    }

    fn find(&self, reference: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.id == reference).or_else(|| {
            self.targets
                .iter()
                .find(|t| t.name.as_deref() == Some(reference))
        })
    }

    fn compile(&self, w: &Waiting, mappings: &Mappings) -> Result<(Rule, Vec<RuleRef>), String> {
        let c = &w.rule;
        let kind = c.correlation_type.as_str();
        if !matches!(
            c.correlation_type,
            CorrelationType::EventCount
                | CorrelationType::ValueCount
                | CorrelationType::Temporal
                | CorrelationType::TemporalOrdered
        ) {
            return Err(format!("sigma correlation type {kind} is not supported"));
        }
        if c.window != WindowMode::Sliding {
            return Err(format!(
                "correlation window {} is not supported",
                c.window.as_str()
            ));
        }
        if c.rules.is_empty() {
            return Err("correlation names no rules".into());
        }
        let mut targets = Vec::with_capacity(c.rules.len());
        for r in &c.rules {
            let t = self.find(r).ok_or_else(|| {
                if self.waiting.iter().any(|x| {
                    x.rule.id.as_deref() == Some(r.as_str())
                        || x.rule.name.as_deref() == Some(r.as_str())
                }) {
                    format!("correlation refers to correlation '{r}': chained correlations are not supported")
                } else {
                    format!("correlation refers to unknown rule '{r}' (no compiled rule has this id or name)")
                }
            })?;
            targets.push(t);
        }
        let timespan_ns = i64::try_from(c.timespan.seconds)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000_000))
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("invalid timespan {:?}", c.timespan.original))?;
        // Per referenced rule: the group-by fields, after aliases and mapping.
        let mut keys = Vec::with_capacity(targets.len());
        for t in &targets {
            let mut fs = Vec::with_capacity(c.group_by.len());
            for g in &c.group_by {
                fs.push(field_for(c, t, g, mappings)?);
            }
            keys.push(fs);
        }
        let refs: Vec<RuleRef> = targets.iter().map(|t| t.index).collect();
        let (predicates, value_field) = match &c.condition {
            CorrelationCondition::Threshold {
                predicates, field, ..
            } => (predicates.clone(), field.clone()),
            CorrelationCondition::Extended(_) => {
                return Err("extended (boolean) correlation conditions are not supported".into());
            }
        };
        let kind_ir = match c.correlation_type {
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => {
                let ordered = c.correlation_type == CorrelationType::TemporalOrdered;
                let n = targets.len();
                // rsigma gives `gte: 1` when the condition is absent: all rules.
                let k = match predicates.as_slice() {
                    [(ConditionOperator::Gte, k)] => usize::try_from(*k).unwrap_or(usize::MAX),
                    _ => {
                        return Err(format!(
                            "{kind} supports only 'condition: {{gte: N}}' (or none)"
                        ));
                    }
                };
                if k > n {
                    return Err(format!("condition gte {k} can never hold with {n} rules"));
                }
                if ordered && k > 1 && k != n {
                    return Err(format!(
                        "temporal_ordered needs all {n} rules in order; condition gte {k} is not supported"
                    ));
                }
                let stages = refs
                    .iter()
                    .zip(keys)
                    .map(|(&r, keys)| Stage {
                        condition: StageCondition::Rule(r),
                        keys,
                    })
                    .collect();
                let spec = SequenceSpec {
                    stages,
                    until: None,
                    maxspan_ns: Some(timespan_ns),
                    ordered,
                    min_stages: if ordered || k <= 1 { n } else { k },
                };
                spec.validate()?;
                RuleKind::Sequence(spec)
            }
            _ => {
                let value_count = c.correlation_type == CorrelationType::ValueCount;
                let value_field = match (value_count, value_field) {
                    (true, Some(f)) if f.len() == 1 => {
                        let mut per_rule = Vec::with_capacity(targets.len());
                        for t in &targets {
                            per_rule.push(field_for(c, t, &f[0], mappings)?);
                        }
                        Some(per_rule)
                    }
                    (true, Some(_)) => {
                        return Err("value_count over several fields is not supported".into());
                    }
                    (true, None) => return Err("value_count needs 'condition.field'".into()),
                    (false, _) => None,
                };
                let predicates = predicates
                    .iter()
                    .map(|&(op, v)| {
                        let op = match op {
                            ConditionOperator::Gt => CountOp::Gt,
                            ConditionOperator::Gte => CountOp::Gte,
                            ConditionOperator::Lt => CountOp::Lt,
                            ConditionOperator::Lte => CountOp::Lte,
                            ConditionOperator::Eq => CountOp::Eq,
                            ConditionOperator::Neq => CountOp::Neq,
                        };
                        (op, v)
                    })
                    .collect();
                let spec = CountSpec {
                    rules: refs.clone(),
                    keys,
                    value_field,
                    timespan_ns,
                    condition: CountCondition { predicates },
                };
                // The same checks the engine makes (threshold cap included).
                Counter::new(Arc::default(), spec.clone(), StateLimits::default())?;
                RuleKind::Count(spec)
            }
        };
        Ok((
            Rule {
                meta: Arc::new(meta(c, &w.path, &w.ruleset)),
                kind: kind_ir,
            },
            refs,
        ))
    }
}

/// The event field a correlation field name means for one referenced rule.
fn field_for(
    c: &CorrelationRule,
    t: &Target,
    name: &str,
    mappings: &Mappings,
) -> Result<Field, String> {
    let aliased = c
        .aliases
        .iter()
        .find(|a| a.alias == name)
        .map(|a| {
            a.mapping
                .get(&t.id)
                .or_else(|| t.name.as_ref().and_then(|n| a.mapping.get(n)))
                .cloned()
                .ok_or_else(|| format!("alias '{name}' has no field for rule '{}'", t.id))
        })
        .transpose()?;
    let sigma_name = aliased.as_deref().unwrap_or(name);
    let (p, cat, svc) = &t.logsource;
    let m = mappings
        .find(p.as_deref(), cat.as_deref(), svc.as_deref())
        .ok_or_else(|| format!("rule '{}' has an unmapped logsource", t.id))?;
    match m.resolve(sigma_name) {
        Some(FieldTarget::Field(f)) => Ok(Field::parse(&f)),
        Some(FieldTarget::Values(_)) => Err(format!(
            "group-by field '{sigma_name}' is value-translated for rule '{}'",
            t.id
        )),
        None => Err(format!(
            "group-by field '{sigma_name}' is not mapped for the logsource of rule '{}'",
            t.id
        )),
    }
}

fn meta(c: &CorrelationRule, path: &str, ruleset: &str) -> RuleMeta {
    let severity = c
        .level
        .and_then(|l| Severity::from_name(l.as_str()))
        .unwrap_or_default();
    RuleMeta {
        id: c
            .id
            .clone()
            .or_else(|| c.name.clone())
            .unwrap_or_else(|| c.title.clone()),
        name: c.title.clone(),
        description: c.description.clone().unwrap_or_default(),
        references: c.references.clone(),
        authors: c
            .author
            .as_deref()
            .map(|a| {
                a.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        ruleset: ruleset.to_string(),
        tags: c.tags.clone(),
        severity,
        risk_score: severity.default_risk_score(),
        threat: threats_from_tags(&c.tags),
        path: path.to_string(),
    }
}

#[cfg(test)]
#[path = "correlation_tests.rs"]
mod tests;
