//! Elastic detection-rules TOML: metadata plus an EQL query, loaded unmodified.
//!
//! Reads the `[metadata]` and `[rule]` tables of a rule file from Elastic's
//! `detection-rules` repository. `type = "eql"` rules compile through
//! [`super::eql`] into a rule the engine runs; every other rule type (`query`
//! (KQL/Lucene), `esql`, `threshold`, `new_terms`, `machine_learning`,
//! `threat_match`) is named in a per-rule diagnostic and skipped, never an error.
//! A TOML syntax error is a file error with its line.
//!
//! # Example
//!
//! ```
//! use tripline::rule::elastic::parse_rule;
//!
//! let text = r#"
//! [metadata]
//! maturity = "production"
//!
//! [rule]
//! rule_id = "0b9c1c3d-0000-4000-8000-000000000000"
//! name = "curl to IMDS"
//! description = "curl reaching the metadata service"
//! severity = "medium"
//! risk_score = 47
//! type = "eql"
//! language = "eql"
//! query = '''
//! process where process.name : "curl" and process.args : "*169.254.169.254*"
//! '''
//! "#;
//! let r = parse_rule(text).unwrap();
//! assert_eq!(r.meta.name, "curl to IMDS");
//! assert_eq!(r.maturity.as_deref(), Some("production"));
//! assert_eq!(r.query_line, Some(14));
//! ```

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::eql::{self, EqlError};
use super::ir::{Detection, Expr, Rule, RuleKind};
use super::meta::{RuleMeta, Severity, Threat, ThreatTechnique};
use super::{Diagnostic, Loader};

#[derive(Debug, Default, Deserialize)]
struct File {
    #[serde(default)]
    metadata: Metadata,
    rule: Option<RuleTable>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    maturity: Option<String>,
    creation_date: Option<String>,
    updated_date: Option<String>,
    #[serde(default)]
    integration: StrOrList,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum StrOrList {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl StrOrList {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrOrList::None => Vec::new(),
            StrOrList::One(s) => vec![s],
            StrOrList::Many(v) => v,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct RuleTable {
    rule_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    description: String,
    severity: Option<String>,
    risk_score: Option<f64>,
    #[serde(rename = "type")]
    type_: Option<String>,
    language: Option<String>,
    query: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    author: Vec<String>,
    from: Option<String>,
    #[serde(default)]
    index: Vec<String>,
    #[serde(default)]
    threat: Vec<ThreatEntry>,
}

#[derive(Debug, Default, Deserialize)]
struct ThreatEntry {
    #[serde(default)]
    tactic: Named,
    #[serde(default)]
    technique: Vec<TechniqueEntry>,
}

#[derive(Debug, Default, Deserialize)]
struct Named {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Default, Deserialize)]
struct TechniqueEntry {
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    subtechnique: Vec<Named>,
}

/// One Elastic rule file, parsed (the query not yet compiled).
#[derive(Debug, Clone, PartialEq)]
pub struct ElasticRule {
    /// What an alert says about the rule (`path` and `ruleset` left empty).
    pub meta: RuleMeta,
    /// `rule.type` (`eql`, `query`, `esql`, ...).
    pub rule_type: String,
    /// `rule.language`, when given.
    pub language: Option<String>,
    /// `rule.query`.
    pub query: Option<String>,
    /// 1-based line in the file where the query text starts.
    pub query_line: Option<usize>,
    /// `rule.from` (`now-9m`): the look-back Kibana uses; informational here.
    pub from: Option<String>,
    /// `rule.index`: the index patterns the rule reads in Elastic.
    pub index: Vec<String>,
    /// `metadata.maturity` (`production`, `development`, `deprecated`).
    pub maturity: Option<String>,
    /// `metadata.creation_date` / `updated_date`.
    pub dates: (Option<String>, Option<String>),
    /// `metadata.integration`.
    pub integration: Vec<String>,
}

/// A rule file that could not be used, with the line it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Parses the TOML of one Elastic rule file.
///
/// # Errors
/// Invalid TOML or a file without a `[rule]` table (with the line, when known).
pub fn parse_rule(text: &str) -> Result<ElasticRule, TomlError> {
    let file: File = toml::from_str(text).map_err(|e| TomlError {
        line: e.span().map(|s| line_at(text, s.start)),
        message: format!("invalid TOML: {}", e.message()),
    })?;
    let Some(r) = file.rule else {
        return Err(TomlError {
            line: None,
            message: "no [rule] table: not an Elastic detection rule".into(),
        });
    };
    let severity = r
        .severity
        .as_deref()
        .and_then(Severity::from_name)
        .unwrap_or_default();
    let threat = r
        .threat
        .into_iter()
        .map(|t| Threat {
            tactic_id: t.tactic.id,
            tactic_name: t.tactic.name,
            techniques: t
                .technique
                .into_iter()
                .map(|te| ThreatTechnique {
                    id: te.id,
                    name: te.name,
                    subtechniques: te
                        .subtechnique
                        .into_iter()
                        .map(|s| (s.id, s.name))
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let meta = RuleMeta {
        id: r.rule_id.unwrap_or_default(),
        name: r.name.unwrap_or_default(),
        description: r.description.trim().to_string(),
        references: r.references,
        authors: r.author,
        ruleset: String::new(),
        tags: r.tags,
        severity,
        risk_score: r
            .risk_score
            .unwrap_or_else(|| severity.default_risk_score()),
        threat,
        path: String::new(),
    };
    Ok(ElasticRule {
        meta,
        rule_type: r.type_.unwrap_or_default(),
        language: r.language,
        query_line: r.query.as_ref().and_then(|_| query_line(text)),
        query: r.query,
        from: r.from,
        index: r.index,
        maturity: file.metadata.maturity,
        dates: (file.metadata.creation_date, file.metadata.updated_date),
        integration: file.metadata.integration.into_vec(),
    })
}

/// Compiles a parsed EQL rule into the IR.
///
/// # Errors
/// The query's [`EqlError`] (positions relative to the query text).
pub fn compile(r: &ElasticRule, path: &str, ruleset: &str) -> Result<Rule, EqlError> {
    let text = r.query.as_deref().unwrap_or_default();
    let q = eql::compile(text)?;
    let mut meta = r.meta.clone();
    meta.path = path.to_string();
    meta.ruleset = ruleset.to_string();
    let kind = match q.as_sequence() {
        Some(s) => RuleKind::Sequence(s.to_joiner().map_err(|m| EqlError::at(text, 0, m))?),
        None => RuleKind::Single(Detection {
            filter: Expr::Const(true),
            condition: Expr::Eql(Arc::new(q)),
        }),
    };
    Ok(Rule {
        meta: Arc::new(meta),
        kind,
    })
}

/// Line in the file of an error at `e.line` of the query.
fn file_line(r: &ElasticRule, e: &EqlError) -> Option<usize> {
    r.query_line.map(|l| l + e.line - 1)
}

/// Loads one rule file (called by the rule loader for `.toml`).
pub(super) fn load_file(l: &mut Loader, p: &Path, shown: &str, ruleset: &str) {
    match std::fs::read(p) {
        Err(e) => {
            l.total += 1;
            l.diag_file(shown, None, &format!("cannot read rule file: {e}"));
        }
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_str(l, &text, shown, ruleset),
            Err(e) => {
                l.total += 1;
                l.diag_file(
                    shown,
                    None,
                    &format!(
                        "rule file is not UTF-8 (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                );
            }
        },
    }
}

/// Loads one rule file's text (embedded packs, tests).
pub(super) fn load_str(l: &mut Loader, text: &str, shown: &str, ruleset: &str) {
    l.total += 1;
    let r = match parse_rule(text) {
        Ok(r) => r,
        Err(e) => return l.diag_file(shown, e.line, &e.message),
    };
    let label = if r.meta.id.is_empty() {
        r.meta.name.clone()
    } else {
        r.meta.id.clone()
    };
    let skip = |l: &mut Loader, line: Option<usize>, message: String| {
        l.diagnostics.push(Diagnostic {
            path: shown.to_string(),
            line,
            rule: Some(label.clone()),
            message,
            file_error: false,
        });
    };
    if r.rule_type != "eql" {
        let what = match (r.rule_type.as_str(), r.language.as_deref()) {
            ("query", Some(lang)) => format!("query ({lang})"),
            ("", _) => "(none)".to_string(),
            (t, _) => t.to_string(),
        };
        return skip(
            l,
            None,
            format!("unsupported rule type {what}: only eql rules run; rule skipped"),
        );
    }
    if r.query.is_none() {
        return skip(l, None, "eql rule without a query; rule skipped".into());
    }
    match compile(&r, shown, ruleset) {
        Ok(rule) => {
            if let Some(first) = l.ids.get(&rule.meta.id) {
                return skip(
                    l,
                    None,
                    format!("duplicate rule id (already loaded from {first}); skipped"),
                );
            }
            l.ids.insert(rule.meta.id.clone(), shown.to_string());
            l.rules.push(rule);
        }
        Err(e) => {
            let line = file_line(&r, &e);
            skip(
                l,
                line,
                format!("eql {}:{}: {}; rule skipped", e.line, e.column, e.message),
            )
        }
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line where the text of the top-level `query` key starts (TOML drops
/// the newline right after an opening `'''`/`"""`).
fn query_line(text: &str) -> Option<usize> {
    let mut in_rule = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_rule = t.starts_with("[rule]");
            continue;
        }
        if !in_rule {
            continue;
        }
        let Some(rest) = t.strip_prefix("query") else {
            continue;
        };
        let Some(v) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let v = v.trim_start();
        let multi = v.starts_with("'''") || v.starts_with("\"\"\"");
        return Some(if multi && v[3..].trim().is_empty() {
            i + 2
        } else {
            i + 1
        });
    }
    None
}
