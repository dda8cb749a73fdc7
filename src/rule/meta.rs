//! Rule metadata carried into alerts.

/// Severity as Sigma `level` / Elastic `severity` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// Informational.
    Informational,
    /// Low.
    #[default]
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Lowercase name (`medium`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a Sigma level or Elastic severity name.
    pub fn from_name(s: &str) -> Option<Severity> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// `event.severity`: a number that orders severities (ECS leaves the scale to the source).
    pub fn number(self) -> i64 {
        match self {
            Severity::Informational => 1,
            Severity::Low => 21,
            Severity::Medium => 47,
            Severity::High => 73,
            Severity::Critical => 99,
        }
    }

    /// Default `event.risk_score` for a severity when the rule gives none
    /// (Elastic's convention: low 21, medium 47, high 73, critical 99).
    pub fn default_risk_score(self) -> f64 {
        self.number() as f64
    }
}

/// A MITRE ATT&CK technique (with optional sub-technique) under a tactic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThreatTechnique {
    /// `T1552`.
    pub id: String,
    /// `Unsecured Credentials` (empty when unknown).
    pub name: String,
    /// Sub-technique ids (`T1552.005`) with their names.
    pub subtechniques: Vec<(String, String)>,
}

/// One `threat` entry: a tactic and the techniques under it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Threat {
    /// Tactic id (`TA0006`), empty when the rule names only techniques.
    pub tactic_id: String,
    /// Tactic name (`Credential Access`).
    pub tactic_name: String,
    /// Techniques.
    pub techniques: Vec<ThreatTechnique>,
}

/// Everything about a rule that an alert carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RuleMeta {
    /// `rule.id` (Sigma `id`, Elastic `rule_id`).
    pub id: String,
    /// `rule.name` (Sigma `title`, Elastic `name`).
    pub name: String,
    /// `rule.description`.
    pub description: String,
    /// `rule.reference` (URLs).
    pub references: Vec<String>,
    /// `rule.author`.
    pub authors: Vec<String>,
    /// `rule.ruleset`: the pack or directory the rule came from (`imds`, `sigma`, ...).
    pub ruleset: String,
    /// Sigma tags / Elastic tags as written.
    pub tags: Vec<String>,
    /// Severity.
    pub severity: Severity,
    /// `event.risk_score` (0-100).
    pub risk_score: f64,
    /// MITRE ATT&CK mapping.
    pub threat: Vec<Threat>,
    /// File the rule was loaded from (`embedded:rules/imds/x.yml` for embedded rules).
    pub path: String,
}
