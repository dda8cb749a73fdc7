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
//! Every modifier of the Sigma modifiers appendix (2.1) is honoured: the
//! string transformations (`contains`/`startswith`/`endswith`, `windash`,
//! `base64`, `base64offset`, `utf16le`/`wide`/`utf16be`/`utf16`, `expand`) run
//! in the order written and may turn one value into several alternatives;
//! `re` (+`i`/`m`/`s`), `cidr`, `exists`, `cased`, `neq`, `gt`/`gte`/`lt`/`lte`,
//! `fieldref` and the time parts become their own tests. Sigma filter rules
//! ([`compile_filter`], [`filter_applies`]) are ANDed into the rules they name.
//!
//! Anything it cannot honour exactly (an unmapped logsource or field, a
//! placeholder without a configured value, conflicting modifiers, array
//! matching) is an [`Unsupported`] error naming the construct; the caller
//! turns it into a per-rule diagnostic and skips the rule. Nothing here panics
//! on input.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rsigma_parser::{
    ConditionExpr, Detection as SDetection, DetectionItem, FilterRule, FilterRuleTarget, LogSource,
    Modifier, Quantifier, SigmaRule, SigmaString, SigmaValue, SpecialChar, StringPart,
};

use super::ir::{
    Cidr, CmpOp, Detection, Expr, Field, FieldRefMatch, GlobPart, Predicate, RegexMatch, Rule,
    RuleKind, StrKind, StrMatch, Test, TimePart,
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
        placeholders: &mappings.placeholders,
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
    placeholders: &'a BTreeMap<String, Vec<String>>,
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
        let mods = Mods::parse(&item.field.modifiers, item.field.name.as_deref())?;
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
        if let Some(part) = m.time {
            let op = m.cmp.unwrap_or(CmpOp::Eq);
            let n = number(v).ok_or_else(|| {
                Unsupported::new(format!(
                    "'{key}|{}' needs a number, got {v}",
                    part_name(part)
                ))
                .at(loc())
            })?;
            return Ok(vec![Test::TimePart(part, op, n)]);
        }
        if let Some(op) = m.cmp {
            return match number(v) {
                Some(n) => Ok(vec![Test::Cmp(op, n)]),
                None => Err(
                    Unsupported::new(format!("'{key}' compares with a non-number {v}")).at(loc()),
                ),
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
        if m.fieldref {
            let SigmaValue::String(s) = v else {
                return Err(
                    Unsupported::new(format!("'{key}|fieldref' needs a field name")).at(loc()),
                );
            };
            let other = match self.mapping.resolve(&s.original) {
                Some(FieldTarget::Field(f)) => Field::parse(&f),
                Some(FieldTarget::Values(_)) => {
                    return Err(Unsupported::new(format!(
                        "'{key}|fieldref' names value-translated field '{}'",
                        s.original
                    ))
                    .at(loc()));
                }
                None => {
                    return Err(Unsupported::new(format!(
                        "field '{}' (fieldref of '{key}') is not mapped for logsource {}",
                        s.original,
                        self.mapping.key()
                    ))
                    .at(loc()));
                }
            };
            return Ok(vec![Test::FieldRef(FieldRefMatch {
                other,
                kind: m.shape,
                cased: m.cased,
            })]);
        }
        match v {
            SigmaValue::Null => {
                if !m.steps.is_empty() || m.expand {
                    return Err(
                        Unsupported::new(format!("'{key}': null with a string modifier")).at(loc()),
                    );
                }
                return Ok(vec![Test::Null]);
            }
            SigmaValue::Bool(b) if m.steps.is_empty() && !keyword => {
                return Ok(vec![Test::Bool(*b)]);
            }
            SigmaValue::Integer(n) if m.steps.is_empty() && !keyword => {
                return Ok(vec![Test::Int(*n)]);
            }
            SigmaValue::Float(f) if m.steps.is_empty() && !keyword => {
                return Ok(vec![Test::Cmp(CmpOp::Eq, *f)]);
            }
            _ => {}
        }
        let s = match v {
            SigmaValue::String(s) => s.clone(),
            other => SigmaString::new(&other.to_string()),
        };
        let mut alts = vec![glob_parts(&s)];
        if m.expand {
            alts = expand_placeholders(alts, self.placeholders)
                .map_err(|e| Unsupported::new(format!("'{key}|expand': {e}")).at(loc()))?;
        }
        let mut utf16_bom = false;
        for step in &m.steps {
            alts = apply_step(*step, alts, utf16_bom)
                .map_err(|e| Unsupported::new(format!("'{key}|{}': {e}", step.name())).at(loc()))?;
            utf16_bom |= *step == Step::Utf16;
            if alts.len() > MAX_EXPANSIONS {
                return Err(Unsupported::new(format!(
                    "'{key}': modifiers expand one value into more than {MAX_EXPANSIONS} alternatives"
                ))
                .at(loc()));
            }
        }
        // Keywords search the text (pySigma backends: full-text search).
        if keyword && m.shape == StrKind::Exact {
            alts = apply_step(Step::Shape(StrKind::Contains), alts, false)
                .map_err(|e| Unsupported::new(e).at(loc()))?;
        }
        let mut out = Vec::with_capacity(alts.len());
        for parts in alts {
            out.push(Test::Str(
                StrMatch::new(parts, m.cased).map_err(|e| Unsupported::new(e).at(loc()))?,
            ));
        }
        Ok(out)
    }
}

/// More alternatives than this from one value (windash, base64offset, expand)
/// is a diagnostic rather than a blow-up.
const MAX_EXPANSIONS: usize = 4096;

fn number(v: &SigmaValue) -> Option<f64> {
    match v {
        SigmaValue::Integer(n) => Some(*n as f64),
        SigmaValue::Float(f) => Some(*f),
        SigmaValue::String(s) => s.original.trim().parse::<f64>().ok(),
        _ => None,
    }
}

/// A Sigma string's wildcards and literals as glob parts.
fn glob_parts(s: &SigmaString) -> Vec<GlobPart> {
    s.parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => GlobPart::Lit(t.clone()),
            StringPart::Special(SpecialChar::WildcardMulti) => GlobPart::Star,
            StringPart::Special(SpecialChar::WildcardSingle) => GlobPart::One,
        })
        .collect()
}

/// One value transformation, applied in the order the modifiers are written
/// (pySigma applies them the same way: `base64offset|contains` encodes, then
/// wraps each variant in wildcards).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Shape(StrKind),
    WindAsh,
    Base64,
    Base64Offset,
    Utf16le,
    Utf16be,
    Utf16,
}

impl Step {
    fn is_encoding(self) -> bool {
        !matches!(self, Step::Shape(_))
    }

    fn name(self) -> &'static str {
        match self {
            Step::Shape(StrKind::Prefix) => "startswith",
            Step::Shape(StrKind::Suffix) => "endswith",
            Step::Shape(_) => "contains",
            Step::WindAsh => "windash",
            Step::Base64 => "base64",
            Step::Base64Offset => "base64offset",
            Step::Utf16le => "utf16le",
            Step::Utf16be => "utf16be",
            Step::Utf16 => "utf16",
        }
    }
}

/// The dash characters `windash` makes interchangeable (Sigma modifiers appendix
/// 2.1: hyphen-minus, slash, en dash, em dash, horizontal bar).
pub const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Applies one step to every alternative.
fn apply_step(
    step: Step,
    alts: Vec<Vec<GlobPart>>,
    utf16_bom: bool,
) -> Result<Vec<Vec<GlobPart>>, String> {
    let mut out = Vec::with_capacity(alts.len());
    for mut parts in alts {
        match step {
            Step::Shape(k) => {
                let star_first = matches!(parts.first(), Some(GlobPart::Star));
                let star_last = matches!(parts.last(), Some(GlobPart::Star));
                if matches!(k, StrKind::Suffix | StrKind::Contains) && !star_first {
                    parts.insert(0, GlobPart::Star);
                }
                if matches!(k, StrKind::Prefix | StrKind::Contains) && !star_last {
                    parts.push(GlobPart::Star);
                }
                out.push(parts);
            }
            Step::WindAsh => windash(&parts, &mut out),
            Step::Base64 | Step::Base64Offset => {
                let mut data = Vec::new();
                for p in &parts {
                    match p {
                        GlobPart::Lit(t) => data.extend_from_slice(t.as_bytes()),
                        _ => return Err("base64 encoding of a value with wildcards".into()),
                    }
                }
                // `utf16` put U+FEFF in front; in the encoded bytes it is the
                // UTF-16LE byte order mark FF FE, not its UTF-8 form EF BB BF.
                if utf16_bom && data.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    data.splice(0..3, [0xFF, 0xFE]);
                }
                if step == Step::Base64 {
                    out.push(vec![GlobPart::Lit(base64_encode(&data))]);
                } else {
                    for v in base64_offsets(&data) {
                        out.push(vec![GlobPart::Lit(v)]);
                    }
                }
            }
            Step::Utf16le | Step::Utf16be | Step::Utf16 => {
                let mut enc = Vec::with_capacity(parts.len() + 1);
                if step == Step::Utf16 {
                    enc.push(GlobPart::Lit("\u{FEFF}".into()));
                }
                for p in parts {
                    enc.push(match p {
                        GlobPart::Lit(t) => GlobPart::Lit(utf16(&t, step == Step::Utf16be)?),
                        other => other,
                    });
                }
                out.push(enc);
            }
        }
    }
    Ok(out)
}

/// The text whose UTF-8 bytes are `s` in UTF-16 (pySigma: encode, then decode
/// as UTF-8, so only characters below U+0080 survive).
fn utf16(s: &str, be: bool) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(s.len() * 2);
    for u in s.encode_utf16() {
        bytes.extend_from_slice(&if be { u.to_be_bytes() } else { u.to_le_bytes() });
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("only ASCII text can be UTF-16 encoded, not {s:?}"))
}

/// Every permutation of the dash characters at the places pySigma's
/// `\B[-/]\b` finds them in each literal: a `-` or `/` not preceded by a word
/// character and followed by one (`-param-name`: only the first dash).
fn windash(parts: &[GlobPart], out: &mut Vec<Vec<GlobPart>>) {
    let mut acc: Vec<Vec<GlobPart>> = vec![Vec::with_capacity(parts.len())];
    for p in parts {
        let GlobPart::Lit(t) = p else {
            for a in &mut acc {
                a.push(p.clone());
            }
            continue;
        };
        let chars: Vec<char> = t.chars().collect();
        let mut cur: Vec<String> = vec![String::new()];
        for (i, &c) in chars.iter().enumerate() {
            let prev_word = i > 0 && is_word(chars[i - 1]);
            let next_word = chars.get(i + 1).is_some_and(|&n| is_word(n));
            if (c == '-' || c == '/') && !prev_word && next_word {
                let mut next = Vec::with_capacity(cur.len() * WINDASH.len());
                for s in &cur {
                    for d in WINDASH {
                        let mut s = s.clone();
                        s.push(d);
                        next.push(s);
                    }
                }
                cur = next;
            } else {
                for s in &mut cur {
                    s.push(c);
                }
            }
        }
        let mut nacc = Vec::with_capacity(acc.len() * cur.len());
        for a in &acc {
            for s in &cur {
                let mut a = a.clone();
                a.push(GlobPart::Lit(s.clone()));
                nacc.push(a);
            }
        }
        acc = nacc;
        if acc.len() > MAX_EXPANSIONS {
            break;
        }
    }
    out.extend(acc);
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as Python's `b64encode`.
pub fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The three `base64offset` variants: `data` encoded after 0, 1 and 2 bytes of
/// padding, cut to the characters that do not depend on the surrounding bytes
/// (pySigma `SigmaBase64OffsetModifier`: start offsets 0, 2, 3; the end cut by
/// none, 3 or 2 characters depending on `(len + shift) % 3`).
pub fn base64_offsets(data: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_CUT: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(data);
            let enc = base64_encode(&padded);
            let end = enc.len().saturating_sub(END_CUT[(data.len() + i) % 3]);
            enc.get(START[i]..end).unwrap_or("").to_string()
        })
        .collect()
}

/// Replaces `%name%` placeholders in literals with each configured value
/// (values may hold Sigma wildcards).
fn expand_placeholders(
    alts: Vec<Vec<GlobPart>>,
    table: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Vec<GlobPart>>, String> {
    let mut out = Vec::new();
    for parts in alts {
        let mut acc: Vec<Vec<GlobPart>> = vec![Vec::new()];
        for p in parts {
            let GlobPart::Lit(t) = &p else {
                for a in &mut acc {
                    a.push(p.clone());
                }
                continue;
            };
            for (placeholder, text) in placeholder_tokens(t) {
                if !placeholder {
                    for a in &mut acc {
                        a.push(GlobPart::Lit(text.clone()));
                    }
                    continue;
                }
                let values = table
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&text))
                    .map(|(_, v)| v)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| {
                        format!(
                            "placeholder %{text}% has no configured value (rules/mappings `placeholders:`)"
                        )
                    })?;
                let mut next = Vec::with_capacity(acc.len() * values.len());
                for a in &acc {
                    for v in values {
                        let mut a = a.clone();
                        a.extend(glob_parts(&SigmaString::new(v)));
                        next.push(a);
                    }
                }
                acc = next;
                if acc.len() > MAX_EXPANSIONS {
                    return Err(format!(
                        "placeholders expand into more than {MAX_EXPANSIONS} values"
                    ));
                }
            }
        }
        out.extend(acc);
    }
    Ok(out)
}

/// Splits a literal into text and `%name%` placeholders; `\\%` is a plain `%`
/// (Sigma rules specification, "Placeholders").
fn placeholder_tokens(t: &str) -> Vec<(bool, String)> {
    let chars: Vec<char> = t.chars().collect();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && chars.get(i + 1) == Some(&'%') {
            text.push('%');
            i += 2;
            continue;
        }
        if c == '%'
            && let Some(j) = (i + 1..chars.len()).find(|&j| chars[j] == '%')
        {
            let name: String = chars[i + 1..j].iter().collect();
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                if !text.is_empty() {
                    out.push((false, std::mem::take(&mut text)));
                }
                out.push((true, name));
                i = j + 1;
                continue;
            }
        }
        text.push(c);
        i += 1;
    }
    if !text.is_empty() {
        out.push((false, text));
    }
    out
}

fn part_name(p: TimePart) -> &'static str {
    match p {
        TimePart::Minute => "minute",
        TimePart::Hour => "hour",
        TimePart::Day => "day",
        TimePart::Week => "week",
        TimePart::Month => "month",
        TimePart::Year => "year",
    }
}

/// The modifiers of one item, validated.
#[derive(Debug, Default)]
struct Mods {
    /// The string shape (`contains`/`startswith`/`endswith`), also in `steps`.
    shape: StrKind,
    /// Value transformations in the order written.
    steps: Vec<Step>,
    all: bool,
    re: bool,
    i: bool,
    m: bool,
    s: bool,
    cidr: bool,
    cased: bool,
    exists: bool,
    neq: bool,
    expand: bool,
    fieldref: bool,
    time: Option<TimePart>,
    cmp: Option<CmpOp>,
}

impl Mods {
    fn parse(mods: &[Modifier], field: Option<&str>) -> Res<Mods> {
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
            m.steps.push(Step::Shape(k));
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
                Modifier::WindAsh => m.steps.push(Step::WindAsh),
                Modifier::Base64 => m.steps.push(Step::Base64),
                Modifier::Base64Offset => m.steps.push(Step::Base64Offset),
                Modifier::Wide => m.steps.push(Step::Utf16le),
                Modifier::Utf16be => m.steps.push(Step::Utf16be),
                Modifier::Utf16 => m.steps.push(Step::Utf16),
                Modifier::Expand => m.expand = true,
                Modifier::FieldRef => m.fieldref = true,
                Modifier::Minute => m.time = Some(TimePart::Minute),
                Modifier::Hour => m.time = Some(TimePart::Hour),
                Modifier::Day => m.time = Some(TimePart::Day),
                Modifier::Week => m.time = Some(TimePart::Week),
                Modifier::Month => m.time = Some(TimePart::Month),
                Modifier::Year => m.time = Some(TimePart::Year),
            }
        }
        let conflict = || {
            Unsupported::new(format!(
                "'{key}': conflicting modifiers {:?}",
                mods.iter().map(|m| modifier_name(*m)).collect::<Vec<_>>()
            ))
            .at(key)
        };
        if (m.i || m.m || m.s) && !m.re {
            return Err(
                Unsupported::new(format!("'{key}': regex flags i/m/s without 're'")).at(key),
            );
        }
        let encoding = m.steps.iter().any(|s| s.is_encoding());
        // Modifiers that replace string matching altogether.
        let special = [
            m.re,
            m.cidr,
            m.exists,
            m.fieldref,
            m.time.is_some() || m.cmp.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if special > 1 {
            return Err(conflict());
        }
        // `fieldref` keeps contains/startswith/endswith and `cased` (pySigma
        // `SigmaFieldReference.starts_with/ends_with`); the others take none.
        if special == 1
            && (encoding || m.expand || (!m.fieldref && (m.shape != StrKind::Exact || m.cased)))
        {
            return Err(conflict());
        }
        Ok(m)
    }

    fn any_value_modifier(&self) -> bool {
        !self.steps.is_empty()
            || self.re
            || self.cidr
            || self.cased
            || self.exists
            || self.neq
            || self.expand
            || self.fieldref
            || self.time.is_some()
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

/// Compiles a Sigma filter rule's detection for one rule it applies to, with
/// that rule's logsource `mapping`, so the filter's field names resolve the way
/// the rule's own do. Several conditions are alternatives.
///
/// # Errors
/// [`Unsupported`] for the first construct the engine cannot run.
pub fn compile_filter(
    f: &FilterRule,
    mapping: &LogsourceMapping,
    mappings: &Mappings,
) -> Res<Expr> {
    let d = &f.detection;
    let mut cx = Compiler {
        mapping,
        placeholders: &mappings.placeholders,
        named: &d.named,
        cache: HashMap::new(),
    };
    let mut alts = Vec::with_capacity(d.conditions.len());
    for c in &d.conditions {
        alts.push(cx.condition(c)?);
    }
    if alts.is_empty() {
        return Err(Unsupported::new("filter has no condition").at("condition"));
    }
    Ok(Expr::or(alts))
}

/// True if filter `f` applies to a rule with logsource `ls`, `id`, `title` and
/// `name` (pySigma `SigmaFilter._should_apply_on_rule`): every logsource key the
/// filter sets equals the rule's (case-insensitively), and `rules` is `any`/`all`
/// or names the rule by id, name or title.
pub fn filter_applies(
    f: &FilterRule,
    ls: &LogSource,
    id: Option<&str>,
    title: &str,
    name: Option<&str>,
) -> bool {
    if let Some(fl) = &f.logsource {
        let key = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (None, _) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (Some(_), None) => false,
        };
        if !(key(&fl.product, &ls.product)
            && key(&fl.category, &ls.category)
            && key(&fl.service, &ls.service))
        {
            return false;
        }
    }
    match &f.rules {
        FilterRuleTarget::Any => true,
        FilterRuleTarget::Specific(list) => list.iter().any(|r| {
            let r = r.trim();
            id.is_some_and(|i| i.eq_ignore_ascii_case(r))
                || name.is_some_and(|n| n == r)
                || title == r
        }),
    }
}
