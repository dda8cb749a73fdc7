//! Alerts: ECS documents that say which rule fired on which event(s).
//!
//! # Wire format
//!
//! An alert is one JSON object (one line in NDJSON output):
//!
//! - `@timestamp`: the time of the (last) matching event.
//! - `event.kind: "alert"`, `event.severity`, `event.risk_score`, `event.category`/`event.type`/`event.action` of the matching event,
//! - `rule.{id,name,description,reference,author,ruleset}`, `threat[]` (MITRE ATT&CK framework, tactic, technique, subtechnique),
//! - `host.*`, `process.*`, `user.*`, `destination.*`, ... copied from the matching event so a SIEM can pivot on them,
//! - `message`: `"<rule name> (<severity>)"` and a short description of the matching event,
//! - `tripline.events`: the matching event(s) in full, in order (one per sequence stage),
//!   `tripline.rule_path`: where the rule was loaded from.
//!
//! Strings are UTF-8; bytes that were not valid UTF-8 in the log were replaced
//! with U+FFFD by the parser (the raw fields keep the original encoding).

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tripline_parsers::Event;

use crate::rule::RuleMeta;

/// A rule that fired, with the event(s) that made it fire.
#[derive(Debug, Clone)]
pub struct Alert {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// Matching events, in order (one for a single-event rule, one per stage for a sequence).
    pub events: Vec<Event>,
}

impl Alert {
    /// The last matching event (the one that completed the match).
    ///
    /// # Panics
    /// Never: an alert always holds at least one event (constructors guarantee it).
    pub fn trigger(&self) -> &Event {
        self.events.last().expect("an alert has at least one event")
    }

    /// The alert as an ECS JSON document.
    pub fn to_json(&self) -> Value {
        let trig = self.trigger();
        let base = trig.to_json();
        let mut doc = Map::new();
        // Pivot fields of the triggering event, at the top level like Elastic's alerts.
        if let Value::Object(m) = &base {
            for key in [
                "@timestamp",
                "host",
                "process",
                "user",
                "source",
                "destination",
                "network",
                "dns",
                "url",
                "file",
            ] {
                if let Some(v) = m.get(key) {
                    doc.insert(key.to_string(), v.clone());
                }
            }
        }
        let r = &self.rule;
        let mut event = Map::new();
        event.insert("kind".into(), json!("alert"));
        if !trig.event.category.is_empty() {
            event.insert("category".into(), json!(trig.event.category));
        }
        if !trig.event.type_.is_empty() {
            event.insert("type".into(), json!(trig.event.type_));
        }
        if let Some(a) = &trig.event.action {
            event.insert("action".into(), json!(a));
        }
        if let Some(m) = &trig.event.module {
            event.insert("module".into(), json!(m));
        }
        event.insert("severity".into(), json!(r.severity.number()));
        event.insert("risk_score".into(), json!(r.risk_score));
        doc.insert("event".into(), Value::Object(event));

        let mut rule = Map::new();
        rule.insert("id".into(), json!(r.id));
        rule.insert("uuid".into(), json!(r.id));
        rule.insert("name".into(), json!(r.name));
        if !r.description.is_empty() {
            rule.insert("description".into(), json!(r.description));
        }
        if !r.references.is_empty() {
            rule.insert("reference".into(), json!(r.references.join(" ")));
        }
        if !r.authors.is_empty() {
            rule.insert("author".into(), json!(r.authors));
        }
        if !r.ruleset.is_empty() {
            rule.insert("ruleset".into(), json!(r.ruleset));
        }
        doc.insert("rule".into(), Value::Object(rule));
        doc.insert("log".into(), json!({"level": r.severity.name()}));

        if !r.threat.is_empty() {
            let threats: Vec<Value> = r
                .threat
                .iter()
                .map(|t| {
                    let mut o = Map::new();
                    o.insert("framework".into(), json!("MITRE ATT&CK"));
                    if !t.tactic_id.is_empty() || !t.tactic_name.is_empty() {
                        let mut tac = Map::new();
                        if !t.tactic_id.is_empty() {
                            tac.insert("id".into(), json!(t.tactic_id));
                            tac.insert(
                                "reference".into(),
                                json!(format!("https://attack.mitre.org/tactics/{}/", t.tactic_id)),
                            );
                        }
                        if !t.tactic_name.is_empty() {
                            tac.insert("name".into(), json!(t.tactic_name));
                        }
                        o.insert("tactic".into(), Value::Object(tac));
                    }
                    if !t.techniques.is_empty() {
                        let techs: Vec<Value> = t
                            .techniques
                            .iter()
                            .map(|te| {
                                let mut m = Map::new();
                                m.insert("id".into(), json!(te.id));
                                if !te.name.is_empty() {
                                    m.insert("name".into(), json!(te.name));
                                }
                                m.insert(
                                    "reference".into(),
                                    json!(format!(
                                        "https://attack.mitre.org/techniques/{}/",
                                        te.id
                                    )),
                                );
                                if !te.subtechniques.is_empty() {
                                    let subs: Vec<Value> = te
                                        .subtechniques
                                        .iter()
                                        .map(|(id, name)| {
                                            let mut s = Map::new();
                                            s.insert("id".into(), json!(id));
                                            if !name.is_empty() {
                                                s.insert("name".into(), json!(name));
                                            }
                                            s.insert(
                                                "reference".into(),
                                                json!(format!(
                                                    "https://attack.mitre.org/techniques/{}/",
                                                    id.replace('.', "/")
                                                )),
                                            );
                                            Value::Object(s)
                                        })
                                        .collect();
                                    m.insert("subtechnique".into(), Value::Array(subs));
                                }
                                Value::Object(m)
                            })
                            .collect();
                        o.insert("technique".into(), Value::Array(techs));
                    }
                    Value::Object(o)
                })
                .collect();
            doc.insert("threat".into(), Value::Array(threats));
        }
        if !r.tags.is_empty() {
            doc.insert("tags".into(), json!(r.tags));
        }
        doc.insert("message".into(), json!(self.message()));
        doc.insert(
            "tripline".into(),
            json!({
                "rule_path": r.path,
                "events": self.events.iter().map(Event::to_json).collect::<Vec<_>>(),
            }),
        );
        Value::Object(doc)
    }

    /// A one-line human summary: rule, severity and what the process did.
    pub fn message(&self) -> String {
        let ev = self.trigger();
        let what = if let Some(cl) = &ev.process.command_line {
            format!("command line: {cl}")
        } else if let Some(ip) = &ev.destination.ip {
            let exe = ev.process.executable.as_deref().unwrap_or("?");
            match ev.destination.port {
                Some(p) => format!("{exe} connected to {ip}:{p}"),
                None => format!("{exe} connected to {ip}"),
            }
        } else if let Some(exe) = &ev.process.executable {
            format!("process: {exe}")
        } else {
            ev.event.action.clone().unwrap_or_default()
        };
        format!(
            "{} ({}): {}",
            self.rule.name,
            self.rule.severity.name(),
            what
        )
    }
}
