//! Tuning between the engine and the outputs: an allowlist of known-good
//! activity and per-rule throttling, both counted for the run summary.
//!
//! # Allowlist file (TOML, strict)
//!
//! ```toml
//! [[allow]]
//! rule = "3861e693-631c-4d6d-a4f9-6f07fdabffad"  # a rule id, or "*" for every rule
//! reason = "inventory agent reads the instance identity document"
//! expires = "2026-12-31"                          # optional: ignored (with a warning) from that day on
//! [allow.match]                                   # every condition must hold; `*` and `?` are wildcards,
//! "process.executable" = "/opt/inventory/bin/*"   # ASCII case-insensitive; a list means any of
//! "host.name" = ["web-1", "web-2"]
//! ```
//!
//! An entry without `match` conditions allows every alert of its rule. A field
//! named in `match` but missing from the alert's event never matches.
//!
//! # Throttling
//!
//! `Throttle { window, key }`: after an alert of rule R with key values K (the
//! values of the `key` fields in the alert's last event), further alerts of R
//! with the same K are suppressed until `window` of *event time* has passed, so
//! replay and live mode suppress the same alerts. The table of keys is bounded
//! ([`THROTTLE_MAX_KEYS`]); when full, the oldest keys are forgotten (counted).

use std::collections::HashMap;

use serde::Deserialize;
use tripline_parsers::ecs::{FieldRef, FieldValue};

use crate::alert::Alert;

/// Keys remembered by the throttle before the oldest are forgotten.
pub const THROTTLE_MAX_KEYS: usize = 100_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowFile {
    #[serde(default)]
    allow: Vec<AllowEntryConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowEntryConfig {
    rule: String,
    reason: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default, rename = "match")]
    match_: toml::Table,
}

/// One compiled allowlist entry.
#[derive(Debug)]
pub struct AllowEntry {
    /// Rule id, or `*`.
    pub rule: String,
    /// Why this is allowed (shown in the summary).
    pub reason: String,
    conditions: Vec<(FieldRef, Vec<String>)>,
    /// Alerts this entry suppressed.
    pub hits: u64,
}

/// The allowlist.
#[derive(Debug, Default)]
pub struct Allowlist {
    /// Active entries.
    pub entries: Vec<AllowEntry>,
    /// Entries skipped because they expired, as `(rule, reason, expires)`.
    pub expired: Vec<(String, String, String)>,
}

/// ASCII case-insensitive glob match with `*` and `?` (linear time).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn value_strings(v: FieldValue<'_>) -> Vec<String> {
    match v {
        FieldValue::Str(s) => vec![s.to_string()],
        FieldValue::Int(n) => vec![n.to_string()],
        FieldValue::Strs(l) => l.to_vec(),
        FieldValue::Json(j) => vec![match j {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }],
    }
}

impl Allowlist {
    /// Parses an allowlist file; `today` is `YYYY-MM-DD` (UTC) for expiry.
    ///
    /// # Errors
    /// Invalid TOML, an unknown key, a bad `expires` date, or a condition that
    /// is not a string or a list of strings; the message names the entry.
    pub fn parse(text: &str, today: &str) -> Result<Allowlist, String> {
        let file: AllowFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut list = Allowlist::default();
        for (i, e) in file.allow.into_iter().enumerate() {
            let what = format!("allow entry {} (rule {})", i + 1, e.rule);
            if let Some(exp) = &e.expires {
                chrono::NaiveDate::parse_from_str(exp, "%Y-%m-%d")
                    .map_err(|_| format!("{what}: expires must be YYYY-MM-DD, got {exp:?}"))?;
                if exp.as_str() <= today {
                    list.expired.push((e.rule, e.reason, exp.clone()));
                    continue;
                }
            }
            let mut conditions = Vec::new();
            for (field, v) in e.match_ {
                let pats = match v {
                    toml::Value::String(s) => vec![s],
                    toml::Value::Array(a) => a
                        .into_iter()
                        .map(|x| match x {
                            toml::Value::String(s) => Ok(s),
                            other => Err(format!(
                                "{what}: {field}: expected strings, got {}",
                                other.type_str()
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                    toml::Value::Integer(n) => vec![n.to_string()],
                    other => {
                        return Err(format!(
                            "{what}: {field}: expected a string or a list, got {}",
                            other.type_str()
                        ));
                    }
                };
                conditions.push((FieldRef::resolve(&field), pats));
            }
            list.entries.push(AllowEntry {
                rule: e.rule,
                reason: e.reason,
                conditions,
                hits: 0,
            });
        }
        Ok(list)
    }

    /// True (and the entry's hit counted) when an entry allows this alert.
    pub fn allows(&mut self, alert: &Alert) -> bool {
        let ev = alert.trigger();
        for e in &mut self.entries {
            if e.rule != "*" && e.rule != alert.rule.id {
                continue;
            }
            let all = e.conditions.iter().all(|(f, pats)| {
                ev.get_ref(f).is_some_and(|v| {
                    value_strings(v)
                        .iter()
                        .any(|s| pats.iter().any(|p| glob_match(p, s)))
                })
            });
            if all {
                e.hits += 1;
                return true;
            }
        }
        false
    }
}

/// Per-rule, per-key suppression of repeated alerts within a window of event time.
#[derive(Debug)]
pub struct Throttle {
    window_ns: i64,
    key: Vec<FieldRef>,
    last: HashMap<(String, Vec<String>), i64>,
    /// Alerts suppressed.
    pub suppressed: u64,
    /// Keys forgotten because the table was full.
    pub forgotten: u64,
}

impl Throttle {
    /// A throttle with `window_ns` of event time, keyed by rule id plus the values of `key` fields.
    pub fn new(window_ns: i64, key: &[String]) -> Throttle {
        Throttle {
            window_ns,
            key: key.iter().map(|k| FieldRef::resolve(k)).collect(),
            last: HashMap::new(),
            suppressed: 0,
            forgotten: 0,
        }
    }

    /// True when this alert repeats one of the same rule and key inside the window.
    pub fn suppress(&mut self, alert: &Alert) -> bool {
        let ev = alert.trigger();
        let vals: Vec<String> = self
            .key
            .iter()
            .map(|f| {
                ev.get_ref(f)
                    .map(|v| value_strings(v).join("\u{1f}"))
                    .unwrap_or_default()
            })
            .collect();
        let k = (alert.rule.id.clone(), vals);
        let t = ev.timestamp_ns;
        if let Some(&first) = self.last.get(&k)
            && t >= first
            && t - first < self.window_ns
        {
            self.suppressed += 1;
            return true;
        }
        if self.last.len() >= THROTTLE_MAX_KEYS && !self.last.contains_key(&k) {
            // Forget the oldest tenth: bounded memory, counted.
            let mut times: Vec<i64> = self.last.values().copied().collect();
            times.sort_unstable();
            let cut = times[times.len() / 10];
            let before = self.last.len();
            self.last.retain(|_, &mut v| v > cut);
            self.forgotten += (before - self.last.len()) as u64;
        }
        self.last.insert(k, t);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::RuleMeta;
    use std::sync::Arc;
    use tripline_parsers::Event;

    fn alert(rule: &str, exe: &str, host: &str, t: i64) -> Alert {
        let mut ev = Event {
            timestamp_ns: t,
            ..Event::default()
        };
        ev.process.executable = Some(exe.into());
        ev.host.name = Some(host.into());
        Alert {
            rule: Arc::new(RuleMeta {
                id: rule.into(),
                ..RuleMeta::default()
            }),
            events: vec![Arc::new(ev)],
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match("/opt/*/agent", "/opt/x/y/agent"));
        assert!(glob_match("WEB-?", "web-1"));
        assert!(!glob_match("web-?", "web-12"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "ac"));
        // Linear: a pathological pattern finishes at once.
        assert!(!glob_match(
            &"*a".repeat(50),
            &"a".repeat(10_000).replace("a", "b")
        ));
    }

    #[test]
    fn allowlist_matches_rule_and_fields_and_expires() {
        let text = r#"
[[allow]]
rule = "r1"
reason = "inventory agent"
[allow.match]
"process.executable" = "/opt/inventory/*"
"host.name" = ["web-1", "web-2"]

[[allow]]
rule = "*"
reason = "lab host"
expires = "2020-01-01"
[allow.match]
"host.name" = "lab"
"#;
        let mut a = Allowlist::parse(text, "2026-11-23").unwrap();
        assert_eq!(a.entries.len(), 1);
        assert_eq!(a.expired.len(), 1, "expired entries are set aside");
        assert!(a.allows(&alert("r1", "/opt/inventory/bin/agent", "WEB-2", 0)));
        assert!(!a.allows(&alert("r2", "/opt/inventory/bin/agent", "web-2", 0)));
        assert!(!a.allows(&alert("r1", "/usr/bin/curl", "web-2", 0)));
        assert!(!a.allows(&alert("r1", "/opt/inventory/bin/agent", "db-1", 0)));
        assert!(!a.allows(&alert("r1", "/opt/inventory/x", "lab", 0)));
        assert_eq!(a.entries[0].hits, 1);
    }

    #[test]
    fn allowlist_is_strict() {
        assert!(
            Allowlist::parse("[[allow]]\nrule = \"r\"\n", "2026-01-01").is_err(),
            "reason is required"
        );
        assert!(
            Allowlist::parse(
                "[[allow]]\nrule = \"r\"\nreason = \"x\"\ntypo = 1\n",
                "2026-01-01"
            )
            .is_err()
        );
        assert!(
            Allowlist::parse(
                "[[allow]]\nrule = \"r\"\nreason = \"x\"\nexpires = \"soon\"\n",
                "2026-01-01"
            )
            .is_err()
        );
    }

    #[test]
    fn throttle_by_rule_and_key_in_event_time() {
        let mut t = Throttle::new(10, &["host.name".to_string()]);
        assert!(!t.suppress(&alert("r", "/x", "a", 100)));
        assert!(
            t.suppress(&alert("r", "/y", "a", 105)),
            "same rule and host inside the window"
        );
        assert!(!t.suppress(&alert("r", "/x", "b", 105)), "another host");
        assert!(!t.suppress(&alert("q", "/x", "a", 105)), "another rule");
        assert!(!t.suppress(&alert("r", "/x", "a", 110)), "window over");
        assert_eq!(t.suppressed, 1);
    }
}
