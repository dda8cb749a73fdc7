//! The Sigma front-end: `rsigma-parser` AST -> rule IR.
//!
//! `rsigma-parser` turns YAML into a typed AST (detections, modifiers,
//! conditions). This module lowers one [`SigmaRule`] into a [`Rule`]:
//!
//! - `logsource` -> the mapping entry's filter and field table ([`super::mapping`]),
//! - every named detection -> an [`Expr`] (maps AND, lists of maps OR, value
//!   lists OR unless `|all`), with wildcards, regexes and CIDRs compiled here,
//! - the condition (`and`/`or`/`not`, `1 of x*`, `all of them`) -> an [`Expr`]
//!   with the detections inlined.
//!
//! Anything it cannot honour exactly (an encoding modifier, `expand`,
//! `fieldref`, a correlation, an unmapped logsource) is an [`Unsupported`]
//! error naming the construct; the caller turns it into a per-rule diagnostic
//! and skips the rule. Nothing here panics on input.

use std::collections::HashMap;
use std::sync::Arc;

use rsigma_parser::{
    ConditionExpr, Detection as SDetection, DetectionItem, Modifier, Quantifier, SigmaRule,
    SigmaString, SigmaValue, SpecialChar, StringPart,
};

use super::ir::{
    Cidr, CmpOp, Detection, Expr, Field, GlobPart, Predicate, RegexMatch, Rule, RuleKind, StrKind,
    StrMatch, Test,
};
use super::mapping::{FieldTarget, LogsourceMapping, Mappings, logsource_key};
use super::meta::{RuleMeta, Severity};
use super::mitre::threats_from_tags;

/// Why a rule was skipped: the message, and a snippet of the rule source to
/// locate it by (the caller turns it into a line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Lowercase, specific.
    pub message: String,
    /// Text to search for in the rule file to find the line (`|base64offset`).
    pub locate: Option<String>,
}

impl Unsupported {
    fn new(message: impl Into<String>) -> Self {
        Unsupported {
            message: message.into(),
            locate: None,
        }
    }

    fn at(mut self, needle: impl Into<String>) -> Self {
        self.locate = Some(needle.into());
        self
    }
}

type Res<T> = Result<T, Unsupported>;

/// Compiles one parsed Sigma rule.
///
/// `path` is what diagnostics and alerts show; `ruleset` becomes `rule.ruleset`.
///
/// # Errors
/// [`Unsupported`] for the first construct the engine cannot run.
pub fn compile_rule(rule: &SigmaRule, path: &str, ruleset: &str, mappings: &Mappings) -> Res<Rule> {
    let meta = meta(rule, path, ruleset)?;
    let ls = &rule.logsource;
    let mapping = mappings
        .find(
            ls.product.as_deref(),
            ls.category.as_deref(),
            ls.service.as_deref(),
        )
        .ok_or_else(|| {
            Unsupported::new(format!(
                "unmapped logsource ({}): no entry in rules/mappings",
                logsource_key(
                    ls.product.as_deref(),
                    ls.category.as_deref(),
                    ls.service.as_deref()
                )
            ))
            .at("logsource")
        })?;
    let d = &rule.detection;
    if let Some(tf) = &d.timeframe {
        return Err(
            Unsupported::new(format!("timeframe {tf:?} (aggregation) is not supported"))
                .at("timeframe"),
        );
    }
    let mut cx = Compiler {
        mapping,
        named: &d.named,
        cache: HashMap::new(),
    };
    // Several conditions in a list are alternatives (Sigma spec).
    let mut alts = Vec::with_capacity(d.conditions.len());
    for c in &d.conditions {
        alts.push(cx.condition(c)?);
    }
    if alts.is_empty() {
        return Err(Unsupported::new("detection has no condition").at("condition"));
    }
    let exact = |field: &Field, values: &[String]| -> Res<Expr> {
        Ok(Expr::or(
            values
                .iter()
                .map(|v| {
                    Ok(Expr::Pred(Predicate {
                        field: field.clone(),
                        test: Test::Str(
                            StrMatch::literal(StrKind::Exact, v, false)
                                .map_err(Unsupported::new)?,
                        ),
                    }))
                })
                .collect::<Res<Vec<_>>>()?,
        ))
    };
    let mut pre = Vec::new();
    for f in &mapping.filter {
        let field = Field::parse(&f.field);
        if !f.any_of.is_empty() {
            pre.push(exact(&field, &f.any_of)?);
        }
        if !f.none_of.is_empty() {
            pre.push(Expr::not(exact(&field, &f.none_of)?));
        }
    }
    let filter = Expr::and(pre);
    Ok(Rule {
        meta: Arc::new(meta),
        kind: RuleKind::Single(Detection {
            filter,
            condition: Expr::or(alts),
        }),
    })
}

/// Rule metadata from the Sigma attributes.
fn meta(rule: &SigmaRule, path: &str, ruleset: &str) -> Res<RuleMeta> {
    let severity = rule
        .level
        .and_then(|l| Severity::from_name(l.as_str()))
        .unwrap_or_default();
    // A rule may carry its own score as a custom attribute (`risk_score: 80`).
    let risk_score = match rule.custom_attributes.get("risk_score") {
        None => severity.default_risk_score(),
        Some(v) => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if (0.0..=100.0).contains(&n) => n,
            _ => {
                return Err(Unsupported::new(format!(
                    "risk_score must be a number from 0 to 100, got {v:?}"
                ))
                .at("risk_score"));
            }
        },
    };
    let authors = rule
        .author
        .as_deref()
        .map(|a| {
            a.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(RuleMeta {
        id: rule
            .id
            .clone()
            .or_else(|| rule.name.clone())
            .unwrap_or_else(|| rule.title.clone()),
        name: rule.title.clone(),
        description: rule.description.clone().unwrap_or_default(),
        references: rule.references.clone(),
        authors,
        ruleset: ruleset.to_string(),
        tags: rule.tags.clone(),
        severity,
        risk_score,
        threat: threats_from_tags(&rule.tags),
        path: path.to_string(),
    })
}

struct Compiler<'a> {
    mapping: &'a LogsourceMapping,
    named: &'a HashMap<String, SDetection>,
    cache: HashMap<String, Expr>,
}

impl Compiler<'_> {
    fn condition(&mut self, c: &ConditionExpr) -> Res<Expr> {
        Ok(match c {
            ConditionExpr::And(v) => Expr::and(self.conditions(v)?),
            ConditionExpr::Or(v) => Expr::or(self.conditions(v)?),
            ConditionExpr::Not(e) => Expr::not(self.condition(e)?),
            ConditionExpr::Identifier(name) => self.named(name)?,
            ConditionExpr::Selector {
                quantifier,
                pattern,
            } => {
                let mut names: Vec<&String> = self
                    .named
                    .keys()
                    .filter(|n| pattern.matches_detection_name(n))
                    .collect();
                names.sort();
                if names.is_empty() {
                    return Err(Unsupported::new(format!(
                        "condition '{quantifier} of {pattern}' matches no detection"
                    ))
                    .at(format!("of {pattern}")));
                }
                let items = names
                    .into_iter()
                    .map(|n| self.named(n))
                    .collect::<Res<Vec<_>>>()?;
                match quantifier {
                    Quantifier::Any => Expr::or(items),
                    Quantifier::All => Expr::and(items),
                    Quantifier::Count(n) => {
                        let n = usize::try_from(*n).unwrap_or(usize::MAX);
                        match n {
                            0 => Expr::Const(true),
                            1 => Expr::or(items),
                            n if n > items.len() => Expr::Const(false),
                            n if n == items.len() => Expr::and(items),
                            n => Expr::AtLeast(n, items),
                        }
                    }
                }
            }
        })
    }

    fn conditions(&mut self, v: &[ConditionExpr]) -> Res<Vec<Expr>> {
        v.iter().map(|c| self.condition(c)).collect()
    }

    fn named(&mut self, name: &str) -> Res<Expr> {
        if let Some(e) = self.cache.get(name) {
            return Ok(e.clone());
        }
        let det = self.named.get(name).ok_or_else(|| {
            Unsupported::new(format!("condition references undefined detection '{name}'"))
                .at("condition")
        })?;
        let e = self.detection(det, name)?;
        self.cache.insert(name.to_string(), e.clone());
        Ok(e)
    }

    fn detection(&self, d: &SDetection, name: &str) -> Res<Expr> {
        Ok(match d {
            SDetection::AllOf(items) => Expr::and(
                items
                    .iter()
                    .map(|i| self.item(i, name))
                    .collect::<Res<Vec<_>>>()?,
            ),
            SDetection::AnyOf(subs) => Expr::or(
                subs.iter()
                    .map(|s| self.detection(s, name))
                    .collect::<Res<Vec<_>>>()?,
            ),
            SDetection::And(subs) => Expr::and(
                subs.iter()
                    .map(|s| self.detection(s, name))
                    .collect::<Res<Vec<_>>>()?,
            ),
            SDetection::Keywords(values) => {
                let item = DetectionItem {
                    field: rsigma_parser::FieldSpec::new(None, Vec::new()),
                    values: values.clone(),
                };
                self.item(&item, name)?
            }
            SDetection::ArrayMatch { field, .. } => {
                return Err(Unsupported::new(format!(
                    "array matching ({field}[any]/[all]) in detection '{name}' is not supported"
                ))
                .at(format!("{field}[")));
            }
            SDetection::Conditional { .. } => {
                return Err(Unsupported::new(format!(
                    "array block conditions in detection '{name}' are not supported"
                ))
                .at(name.to_string()));
            }
        })
    }

    /// One `field|mods: values` item.
    fn item(&self, item: &DetectionItem, det: &str) -> Res<Expr> {
        let mods = Mods::parse(&item.field.modifiers, item.field.name.as_deref(), det)?;
        let key = item.field.name.clone().unwrap_or_default();
        // Which fields the item reads.
        let fields: Vec<Field> = match &item.field.name {
            None => {
                if self.mapping.keywords.is_empty() {
                    return Err(Unsupported::new(format!(
                        "keyword detection '{det}': logsource {} has no keyword fields",
                        self.mapping.key()
                    ))
                    .at(det.to_string()));
                }
                self.mapping
                    .keywords
                    .iter()
                    .map(|k| Field::parse(k))
                    .collect()
            }
            Some(name) => match self.mapping.resolve(name) {
                None => {
                    return Err(Unsupported::new(format!(
                        "field '{name}' is not mapped for logsource {}",
                        self.mapping.key()
                    ))
                    .at(name.clone()));
                }
                Some(FieldTarget::Values(vm)) => {
                    return self.value_mapped(item, &mods, vm, name);
                }
                Some(FieldTarget::Field(f)) => vec![Field::parse(&f)],
            },
        };
        if mods.exists {
            let want = match item.values.as_slice() {
                [SigmaValue::Bool(b)] => *b,
                [SigmaValue::String(s)] if s.original.eq_ignore_ascii_case("true") => true,
                [SigmaValue::String(s)] if s.original.eq_ignore_ascii_case("false") => false,
                _ => {
                    return Err(Unsupported::new(format!(
                        "'{key}|exists' needs a single true/false value"
                    ))
                    .at(format!("{key}|")));
                }
            };
            return Ok(Expr::and(
                fields
                    .into_iter()
                    .map(|field| {
                        Expr::Pred(Predicate {
                            field,
                            test: Test::Exists(want),
                        })
                    })
                    .collect(),
            ));
        }
        let keyword = item.field.name.is_none();
        let mut per_value = Vec::with_capacity(item.values.len());
        for v in &item.values {
            let tests = self.tests(v, &mods, keyword, &key)?;
            // A keyword value may be in any keyword field; a field value in its field.
            let mut alts = Vec::new();
            for field in &fields {
                for t in &tests {
                    let p = Expr::Pred(Predicate {
                        field: field.clone(),
                        test: t.clone(),
                    });
                    alts.push(if mods.neq {
                        Expr::and(vec![
                            Expr::Pred(Predicate {
                                field: field.clone(),
                                test: Test::Exists(true),
                            }),
                            Expr::not(p),
                        ])
                    } else {
                        p
                    });
                }
            }
            per_value.push(Expr::or(alts));
        }
        if mods.all || mods.neq {
            Ok(Expr::and(per_value))
        } else {
            Ok(Expr::or(per_value))
        }
    }

    /// `Initiated: 'true'` -> `event.action == connection_attempted`.
    fn value_mapped(
        &self,
        item: &DetectionItem,
        mods: &Mods,
        vm: &super::mapping::ValueMapping,
        name: &str,
    ) -> Res<Expr> {
        if mods.any_value_modifier() {
            return Err(Unsupported::new(format!(
                "modifiers on value-translated field '{name}' are not supported"
            ))
            .at(format!("{name}|")));
        }
        let field = Field::parse(&vm.field);
        let mut alts = Vec::new();
        for v in &item.values {
            let raw = match v {
                SigmaValue::String(s) => s.original.clone(),
                SigmaValue::Bool(b) => b.to_string(),
                SigmaValue::Integer(n) => n.to_string(),
                other => {
                    return Err(Unsupported::new(format!(
                        "value {other} of '{name}' has no translation"
                    ))
                    .at(name.to_string()));
                }
            };
            let mapped = vm
                .map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&raw))
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    Unsupported::new(format!(
                        "value {raw:?} of '{name}' has no translation to {}",
                        vm.field
                    ))
                    .at(name.to_string())
                })?;
            alts.push(Expr::Pred(Predicate {
                field: field.clone(),
                test: Test::Str(
                    StrMatch::literal(StrKind::Exact, mapped, false).map_err(Unsupported::new)?,
                ),
            }));
        }
        Ok(if mods.all {
            Expr::and(alts)
        } else {
            Expr::or(alts)
        })
    }

    /// The test(s) for one value; several tests are alternatives.
    fn tests(&self, v: &SigmaValue, m: &Mods, keyword: bool, key: &str) -> Res<Vec<Test>> {
        let loc = || {
            if key.is_empty() {
                "|".to_string()
            } else {
                key.to_string()
            }
        };
        if let Some(op) = m.cmp {
            return match v {
                SigmaValue::Integer(n) => Ok(vec![Test::Cmp(op, *n as f64)]),
                SigmaValue::Float(f) => Ok(vec![Test::Cmp(op, *f)]),
                SigmaValue::String(s) => match s.original.trim().parse::<f64>() {
                    Ok(f) => Ok(vec![Test::Cmp(op, f)]),
                    Err(_) => Err(Unsupported::new(format!(
                        "'{key}' compares with a non-number {:?}",
                        s.original
                    ))
                    .at(loc())),
                },
                other => Err(Unsupported::new(format!(
                    "'{key}' compares with a non-number {other}"
                ))
                .at(loc())),
            };
        }
        if m.re {
            let SigmaValue::String(s) = v else {
                return Err(Unsupported::new(format!("'{key}|re' needs a string value")).at(loc()));
            };
            let r = RegexMatch::new(&s.original, m.i, m.m, m.s)
                .map_err(|e| Unsupported::new(e).at(loc()))?;
            return Ok(vec![Test::Regex(r)]);
        }
        if m.cidr {
            let text = match v {
                SigmaValue::String(s) => s.original.clone(),
                other => other.to_string(),
            };
            let c = Cidr::parse(&text).map_err(|e| Unsupported::new(e).at(loc()))?;
            return Ok(vec![Test::Cidr(c)]);
        }
        let shape = if keyword && m.shape == StrKind::Exact {
            // Keywords search the text (pySigma backends: full-text search).
            StrKind::Contains
        } else {
            m.shape
        };
        match v {
            SigmaValue::Null => {
                if shape != StrKind::Exact {
                    return Err(
                        Unsupported::new(format!("'{key}': null with a string modifier")).at(loc()),
                    );
                }
                Ok(vec![Test::Null])
            }
            SigmaValue::Bool(b) if shape == StrKind::Exact => Ok(vec![Test::Bool(*b)]),
            SigmaValue::Integer(n) if shape == StrKind::Exact => Ok(vec![Test::Int(*n)]),
            SigmaValue::Float(f) if shape == StrKind::Exact => Ok(vec![Test::Cmp(CmpOp::Eq, *f)]),
            SigmaValue::String(s) => Ok(vec![Test::Str(
                glob(s, shape, m.cased).map_err(|e| Unsupported::new(e).at(loc()))?,
            )]),
            other => {
                let s = SigmaString::new(&other.to_string());
                Ok(vec![Test::Str(
                    glob(&s, shape, m.cased).map_err(|e| Unsupported::new(e).at(loc()))?,
                )])
            }
        }
    }
}

/// A Sigma string (with its wildcards) under a shape modifier -> a string matcher.
fn glob(s: &SigmaString, shape: StrKind, cased: bool) -> Result<StrMatch, String> {
    let mut parts = Vec::with_capacity(s.parts.len() + 2);
    if matches!(shape, StrKind::Suffix | StrKind::Contains) {
        parts.push(GlobPart::Star);
    }
    for p in &s.parts {
        parts.push(match p {
            StringPart::Plain(t) => GlobPart::Lit(t.clone()),
            StringPart::Special(SpecialChar::WildcardMulti) => GlobPart::Star,
            StringPart::Special(SpecialChar::WildcardSingle) => GlobPart::One,
        });
    }
    if matches!(shape, StrKind::Prefix | StrKind::Contains) {
        parts.push(GlobPart::Star);
    }
    StrMatch::new(parts, cased)
}

/// The modifiers of one item, validated.
#[derive(Debug, Default)]
struct Mods {
    shape: StrKind,
    all: bool,
    re: bool,
    i: bool,
    m: bool,
    s: bool,
    cidr: bool,
    cased: bool,
    exists: bool,
    neq: bool,
    cmp: Option<CmpOp>,
}

impl Mods {
    fn parse(mods: &[Modifier], field: Option<&str>, det: &str) -> Res<Mods> {
        let mut m = Mods::default();
        let key = field.unwrap_or("");
        let shape = |m: &mut Mods, k: StrKind, name: &str| -> Res<()> {
            if m.shape != StrKind::Exact {
                return Err(Unsupported::new(format!(
                    "'{key}' combines two of contains/startswith/endswith ({name})"
                ))
                .at(format!("|{name}")));
            }
            m.shape = k;
            Ok(())
        };
        for md in mods {
            match md {
                Modifier::Contains => shape(&mut m, StrKind::Contains, "contains")?,
                Modifier::StartsWith => shape(&mut m, StrKind::Prefix, "startswith")?,
                Modifier::EndsWith => shape(&mut m, StrKind::Suffix, "endswith")?,
                Modifier::All => m.all = true,
                Modifier::Re => m.re = true,
                Modifier::IgnoreCase => m.i = true,
                Modifier::Multiline => m.m = true,
                Modifier::DotAll => m.s = true,
                Modifier::Cidr => m.cidr = true,
                Modifier::Cased => m.cased = true,
                Modifier::Exists => m.exists = true,
                Modifier::Neq => m.neq = true,
                Modifier::Gt => m.cmp = Some(CmpOp::Gt),
                Modifier::Gte => m.cmp = Some(CmpOp::Gte),
                Modifier::Lt => m.cmp = Some(CmpOp::Lt),
                Modifier::Lte => m.cmp = Some(CmpOp::Lte),
                other => {
                    let name = modifier_name(*other);
                    return Err(Unsupported::new(format!(
                        "modifier '{name}' (in '{key}|…' of detection '{det}') is not supported yet"
                    ))
                    .at(format!("|{name}")));
                }
            }
        }
        if (m.i || m.m || m.s) && !m.re {
            return Err(
                Unsupported::new(format!("'{key}': regex flags i/m/s without 're'")).at(key),
            );
        }
        let special = [m.re, m.cidr, m.exists, m.cmp.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if special > 1 || (special == 1 && (m.shape != StrKind::Exact || m.cased)) {
            return Err(Unsupported::new(format!(
                "'{key}': conflicting modifiers {:?}",
                mods.iter().map(|m| modifier_name(*m)).collect::<Vec<_>>()
            ))
            .at(key));
        }
        Ok(m)
    }

    fn any_value_modifier(&self) -> bool {
        self.shape != StrKind::Exact
            || self.re
            || self.cidr
            || self.cased
            || self.exists
            || self.neq
            || self.cmp.is_some()
    }
}

/// The modifier as written in Sigma.
fn modifier_name(m: Modifier) -> &'static str {
    match m {
        Modifier::Contains => "contains",
        Modifier::StartsWith => "startswith",
        Modifier::EndsWith => "endswith",
        Modifier::All => "all",
        Modifier::Base64 => "base64",
        Modifier::Base64Offset => "base64offset",
        Modifier::Wide => "wide",
        Modifier::Utf16be => "utf16be",
        Modifier::Utf16 => "utf16",
        Modifier::WindAsh => "windash",
        Modifier::Re => "re",
        Modifier::Cidr => "cidr",
        Modifier::Cased => "cased",
        Modifier::Exists => "exists",
        Modifier::Expand => "expand",
        Modifier::FieldRef => "fieldref",
        Modifier::Gt => "gt",
        Modifier::Gte => "gte",
        Modifier::Lt => "lt",
        Modifier::Lte => "lte",
        Modifier::Neq => "neq",
        Modifier::IgnoreCase => "i",
        Modifier::Multiline => "m",
        Modifier::DotAll => "s",
        Modifier::Minute => "minute",
        Modifier::Hour => "hour",
        Modifier::Day => "day",
        Modifier::Week => "week",
        Modifier::Month => "month",
        Modifier::Year => "year",
    }
}
