//! Logsource mappings: which events a Sigma `logsource` means, and which ECS
//! field each Sigma field name reads. Data, not code: `rules/mappings/*.yml`,
//! compiled into the binary through [`EMBEDDED_FILES`](super::EMBEDDED_FILES).
//!
//! # Schema
//!
//! ```yaml
//! logsources:
//!   - product: linux              # product / category / service: the rule's logsource
//!     category: process_creation  # must name exactly these keys (absent = must be absent)
//!     description: exec events    # free text, optional
//!     filter:                     # every entry must hold (AND)
//!       - field: event.category   # ECS field; a list field matches when any element does
//!         any_of: [process]       # case-insensitive equality with one of these
//!       - field: event.action
//!         none_of: [fork]         # and with none of these (absent passes)
//!     fields:                     # Sigma field -> ECS field (exact name, then case-insensitive)
//!       Image: process.executable
//!       type: auditd.records[].type # `[]`: search each element of a JSON array
//!     values:                     # Sigma fields whose *values* translate too
//!       Initiated:
//!         field: event.action
//!         map: { "true": connection_attempted, "false": connection_accepted }
//!     unmapped: passthrough       # passthrough (own name) | reject | prefix
//!     prefix: auditd.data.        # with `unmapped: prefix`: prepended to the Sigma name
//!     keywords: [message]         # fields that field-less (keyword) detections search
//! placeholders:                   # values for Sigma `|expand` (`%name%`), any file
//!   Admins: [adm_*, root]
//! ```
//!
//! Every struct denies unknown fields, so a typo in a mapping file fails the
//! build's unit tests instead of silently mapping nothing.
//!
//! # Design rationale
//!
//! pySigma expresses the same thing as processing pipelines (field name
//! mapping + logsource conditions); a table is enough for ECS and keeps the
//! mapping reviewable by people who do not read Rust.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A mapping file (`rules/mappings/*.yml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// The logsources this file maps.
    #[serde(default)]
    pub logsources: Vec<LogsourceMapping>,
    /// Values of Sigma `expand` placeholders (`%Admins%` -> its values; each
    /// value may use Sigma wildcards). A rule using a placeholder without a
    /// value here is skipped with a diagnostic.
    #[serde(default)]
    pub placeholders: BTreeMap<String, Vec<String>>,
}

/// One logsource: its event filter and field names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsourceMapping {
    /// Sigma `logsource.product`.
    #[serde(default)]
    pub product: Option<String>,
    /// Sigma `logsource.category`.
    #[serde(default)]
    pub category: Option<String>,
    /// Sigma `logsource.service`.
    #[serde(default)]
    pub service: Option<String>,
    /// What the logsource is (for `--explain` and humans).
    #[serde(default)]
    pub description: String,
    /// Preconditions on the event, ANDed.
    #[serde(default)]
    pub filter: Vec<FilterCondition>,
    /// Sigma field name -> ECS field path.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Sigma fields whose values are translated as well.
    #[serde(default)]
    pub values: BTreeMap<String, ValueMapping>,
    /// What happens to Sigma fields not in `fields`/`values`.
    #[serde(default)]
    pub unmapped: Unmapped,
    /// The prefix for `unmapped: prefix` (`auditd.data.`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Fields searched by keyword (field-less) detections.
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// `field` equals (case-insensitively) one of `any_of` (when given) and none of
/// `none_of` (an absent field passes `none_of`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterCondition {
    /// ECS field path (`a.b[].c` descends into the JSON array `a.b`).
    pub field: String,
    /// Accepted values.
    #[serde(default)]
    pub any_of: Vec<String>,
    /// Rejected values.
    #[serde(default)]
    pub none_of: Vec<String>,
}

/// A Sigma field whose values become values of another field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMapping {
    /// ECS field the translated value is compared with.
    pub field: String,
    /// Sigma value (lowercase) -> ECS value.
    pub map: BTreeMap<String, String>,
}

/// Policy for Sigma fields the table does not name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Unmapped {
    /// Use the Sigma name as the field path.
    #[default]
    Passthrough,
    /// The rule is skipped with a diagnostic.
    Reject,
    /// Prepend [`LogsourceMapping::prefix`] (`auditd.data.` + `a0`).
    Prefix,
}

/// Where a Sigma field name points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldTarget<'a> {
    /// An ECS (or raw) field path.
    Field(String),
    /// A value-translated field.
    Values(&'a ValueMapping),
}

impl LogsourceMapping {
    /// True if this entry maps the rule logsource (`product`, `category`, `service`).
    /// Keys compare case-insensitively; an absent key matches only an absent key.
    pub fn matches(
        &self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> bool {
        fn eq(a: Option<&String>, b: Option<&str>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
        }
        eq(self.product.as_ref(), product)
            && eq(self.category.as_ref(), category)
            && eq(self.service.as_ref(), service)
    }

    /// `product/category/service` for messages.
    pub fn key(&self) -> String {
        logsource_key(
            self.product.as_deref(),
            self.category.as_deref(),
            self.service.as_deref(),
        )
    }

    /// Resolves a Sigma field name; `None` when the policy is `reject` and the
    /// field is not in the table.
    pub fn resolve(&self, sigma: &str) -> Option<FieldTarget<'_>> {
        let find = |m: &BTreeMap<String, String>| -> Option<String> {
            m.get(sigma).cloned().or_else(|| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(sigma))
                    .map(|(_, v)| v.clone())
            })
        };
        if let Some(v) = self.values.get(sigma).or_else(|| {
            self.values
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(sigma))
                .map(|(_, v)| v)
        }) {
            return Some(FieldTarget::Values(v));
        }
        if let Some(f) = find(&self.fields) {
            return Some(FieldTarget::Field(f));
        }
        match &self.unmapped {
            Unmapped::Passthrough => Some(FieldTarget::Field(sigma.to_string())),
            Unmapped::Reject => None,
            Unmapped::Prefix => Some(FieldTarget::Field(format!(
                "{}{sigma}",
                self.prefix.as_deref().unwrap_or("")
            ))),
        }
    }
}

/// `product/category/service` with `-` for absent keys.
pub fn logsource_key(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
) -> String {
    format!(
        "product={} category={} service={}",
        product.unwrap_or("-"),
        category.unwrap_or("-"),
        service.unwrap_or("-")
    )
}

/// `product/category/service` with `-` for absent keys (the `rules check` table key).
pub fn logsource_label(
    product: Option<&str>,
    category: Option<&str>,
    service: Option<&str>,
) -> String {
    format!(
        "{}/{}/{}",
        product.unwrap_or("-"),
        category.unwrap_or("-"),
        service.unwrap_or("-")
    )
}

/// All logsource mappings, in file order.
#[derive(Debug, Clone, Default)]
pub struct Mappings {
    /// The entries.
    pub logsources: Vec<LogsourceMapping>,
    /// `expand` placeholder values, by name (without the `%`s).
    pub placeholders: BTreeMap<String, Vec<String>>,
}

impl Mappings {
    /// Parses one mapping file.
    ///
    /// # Errors
    /// A message naming the YAML problem (with its line when the parser gives one).
    pub fn parse(text: &str) -> Result<MappingFile, String> {
        let f = yaml_serde::from_str::<MappingFile>(text).map_err(|e| e.to_string())?;
        for (i, l) in f.logsources.iter().enumerate() {
            if let Some(f) = l
                .filter
                .iter()
                .find(|f| f.any_of.is_empty() && f.none_of.is_empty())
            {
                return Err(format!(
                    "logsources[{i}] ({}): filter on {} needs any_of or none_of",
                    l.key(),
                    f.field
                ));
            }
            if (l.unmapped == Unmapped::Prefix) != l.prefix.is_some() {
                return Err(format!(
                    "logsources[{i}] ({}): `prefix` goes with `unmapped: prefix`, and only with it",
                    l.key()
                ));
            }
        }
        Ok(f)
    }

    /// Loads every embedded `rules/mappings/*.yml`; errors come back as
    /// `(path, message)` (a broken shipped mapping is a build bug, but it is
    /// still reported, never a panic).
    pub fn embedded() -> (Mappings, Vec<(String, String)>) {
        let mut m = Mappings::default();
        let mut errors = Vec::new();
        for (path, text) in super::EMBEDDED_FILES {
            if !path.starts_with("rules/mappings/")
                || !(path.ends_with(".yml") || path.ends_with(".yaml"))
            {
                continue;
            }
            match Mappings::parse(text) {
                Ok(f) => {
                    m.logsources.extend(f.logsources);
                    m.placeholders.extend(f.placeholders);
                }
                Err(e) => errors.push((path.to_string(), e)),
            }
        }
        (m, errors)
    }

    /// The entry for a rule's logsource.
    pub fn find(
        &self,
        product: Option<&str>,
        category: Option<&str>,
        service: Option<&str>,
    ) -> Option<&LogsourceMapping> {
        self.logsources
            .iter()
            .find(|l| l.matches(product, category, service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_mappings_parse() {
        let (m, errors) = Mappings::embedded();
        assert!(errors.is_empty(), "{errors:?}");
        let pc = m
            .find(Some("linux"), Some("process_creation"), None)
            .expect("process_creation mapped");
        assert_eq!(
            pc.resolve("Image"),
            Some(FieldTarget::Field("process.executable".into()))
        );
        assert_eq!(
            pc.resolve("image"),
            Some(FieldTarget::Field("process.executable".into()))
        );
        assert_eq!(
            pc.resolve("Whatever"),
            Some(FieldTarget::Field("Whatever".into()))
        );
        let nc = m
            .find(Some("Linux"), Some("network_connection"), None)
            .expect("network_connection mapped");
        assert!(matches!(
            nc.resolve("Initiated"),
            Some(FieldTarget::Values(_))
        ));
        let au = m.find(Some("linux"), None, Some("auditd")).expect("auditd");
        assert_eq!(
            au.resolve("a0"),
            Some(FieldTarget::Field("auditd.records[].fields.a0".into()))
        );
        assert!(m.find(Some("linux"), Some("file_event"), None).is_none());
        // rules/mappings/windows.yml (Sysmon): raw EventData through `unmapped: prefix`.
        let wpc = m
            .find(Some("windows"), Some("process_creation"), None)
            .expect("windows process_creation mapped");
        assert_eq!(
            wpc.resolve("Hashes"),
            Some(FieldTarget::Field("winlog.event_data.Hashes".into()))
        );
    }

    #[test]
    fn schema_is_strict() {
        let bad = "logsources:\n  - product: linux\n    feilds: {}\n";
        let e = Mappings::parse(bad).unwrap_err();
        assert!(e.contains("feilds"), "{e}");
        let ok = "logsources:\n  - product: x\n    unmapped: reject\n  - product: y\n    unmapped: prefix\n    prefix: raw.\n";
        let f = Mappings::parse(ok).unwrap();
        assert_eq!(f.logsources[0].unmapped, Unmapped::Reject);
        assert_eq!(f.logsources[1].unmapped, Unmapped::Prefix);
        assert!(Mappings::parse("logsources:\n  - product: y\n    unmapped: prefix\n").is_err());
        assert_eq!(f.logsources[0].resolve("A"), None);
        assert_eq!(
            f.logsources[1].resolve("A"),
            Some(FieldTarget::Field("raw.A".into()))
        );
    }
}
