//! Rules: metadata, the rule IR, and the front-ends that load rule files into a [`RuleSet`].
//!
//! STUB: filled in by the rule-engine work.

use std::path::PathBuf;

pub mod meta;

pub use meta::{RuleMeta, Severity, Threat, ThreatTechnique};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}
pub use embedded::EMBEDDED_FILES;

/// What went wrong with one rule or rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule file.
    pub path: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The rule's id or title, when known.
    pub rule: Option<String>,
    /// What is wrong, lowercase and specific.
    pub message: String,
    /// True when the whole file could not be read or parsed (exit status 2);
    /// false when one rule uses something unsupported and was skipped.
    pub file_error: bool,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(r) = &self.rule {
            write!(f, ": rule {r}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A compiled set of rules.
#[derive(Debug, Default)]
pub struct RuleSet {}

impl RuleSet {
    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        0
    }

    /// True if no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The result of loading rules: what compiled, how many were seen, and every diagnostic.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The compiled rules.
    pub rules: RuleSet,
    /// Rules seen (compiled or not).
    pub total: usize,
    /// Per-file and per-rule problems.
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads rules from files and directories (recursive), plus the embedded pack when `with_embedded`.
pub fn load(paths: &[PathBuf], with_embedded: bool) -> LoadReport {
    let _ = (paths, with_embedded);
    LoadReport::default()
}
