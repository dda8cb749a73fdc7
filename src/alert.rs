//! Alerts: ECS documents that say which rule fired on which event(s).
//!
//! # Wire format
//!
//! An alert is one JSON object (one line in NDJSON output):
//!
//! - `@timestamp`: the time of the (last) matching event.
//! - `event.kind: "alert"`, `event.severity`, `event.risk_score`, `event.category`/`event.type`/`event.action` of the matching event,
//! - `rule.{id,uuid,name,description,reference,author,ruleset}`, `threat.{framework,tactic,technique,technique.subtechnique}.*`
//!   (MITRE ATT&CK; ECS's shape: one object whose leaves are arrays),
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

/// `threat.*` in ECS's shape: one object whose leaves are arrays
/// (`threat.tactic.id: ["TA0006", "TA0007"]`, `threat.technique.subtechnique.id: ["T1552.005"]`),
/// deduplicated in rule order. ECS defines these leaves as arrays and `threat`
/// itself as an object; Elasticsearch flattens arrays of objects the same way,
/// so nothing a query can see is lost.
fn threat_json(threats: &[crate::rule::Threat]) -> Option<Value> {
    fn push(list: &mut Vec<Value>, v: String) {
        let v = Value::String(v);
        if !list.contains(&v) {
            list.push(v);
        }
    }
    let (mut tac_id, mut tac_name, mut tac_ref) = (Vec::new(), Vec::new(), Vec::new());
    let (mut te_id, mut te_name, mut te_ref) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sub_id, mut sub_name, mut sub_ref) = (Vec::new(), Vec::new(), Vec::new());
    for t in threats {
        if !t.tactic_id.is_empty() {
            push(&mut tac_id, t.tactic_id.clone());
            push(
                &mut tac_ref,
                format!("https://attack.mitre.org/tactics/{}/", t.tactic_id),
            );
        }
        if !t.tactic_name.is_empty() {
            push(&mut tac_name, t.tactic_name.clone());
        }
        for te in &t.techniques {
            push(&mut te_id, te.id.clone());
            push(
                &mut te_ref,
                format!("https://attack.mitre.org/techniques/{}/", te.id),
            );
            if !te.name.is_empty() {
                push(&mut te_name, te.name.clone());
            }
            for (id, name) in &te.subtechniques {
                push(&mut sub_id, id.clone());
                push(
                    &mut sub_ref,
                    format!(
                        "https://attack.mitre.org/techniques/{}/",
                        id.replace('.', "/")
                    ),
                );
                if !name.is_empty() {
                    push(&mut sub_name, name.clone());
                }
            }
        }
    }
    if tac_id.is_empty() && tac_name.is_empty() && te_id.is_empty() {
        return None;
    }
    fn obj(fields: [(&str, Vec<Value>); 3]) -> Map<String, Value> {
        fields
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), Value::Array(v)))
            .collect()
    }
    let mut threat = Map::new();
    threat.insert("framework".into(), json!("MITRE ATT&CK"));
    let tactic = obj([("id", tac_id), ("name", tac_name), ("reference", tac_ref)]);
    if !tactic.is_empty() {
        threat.insert("tactic".into(), Value::Object(tactic));
    }
    let mut technique = obj([("id", te_id), ("name", te_name), ("reference", te_ref)]);
    let sub = obj([("id", sub_id), ("name", sub_name), ("reference", sub_ref)]);
    if !sub.is_empty() {
        technique.insert("subtechnique".into(), Value::Object(sub));
    }
    if !technique.is_empty() {
        threat.insert("technique".into(), Value::Object(technique));
    }
    Some(Value::Object(threat))
}

/// Top-level members of an alert copied from the triggering event, in order.
const PIVOTS: [&str; 10] = [
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
];

/// The parts of an alert that depend only on the rule, serialized once.
#[derive(Debug)]
struct RuleJson {
    /// Keeps the rule's allocation (not its contents) alive, so the pointer used
    /// as the cache key is never reused; a dead one marks an entry of rules that
    /// were replaced (SIGHUP reload in `tail`).
    rule: std::sync::Weak<RuleMeta>,
    /// `,"severity":N,"risk_score":X}` (closes `event`) and the members after it,
    /// up to and including `,"message":` (without the message itself).
    middle: Vec<u8>,
    /// `,"tripline":{"rule_path":"...","events":[`.
    tail: Vec<u8>,
}

/// Writes alerts as NDJSON documents without building `serde_json::Value` trees:
/// the event parts stream from [`Event::json_view`], the rule parts are
/// serialized once per rule. The bytes equal `serde_json::to_writer(&alert.to_json())`
/// (tested), so every sink may use either.
#[derive(Debug, Default)]
pub struct AlertWriter {
    rules: std::collections::HashMap<usize, RuleJson>,
    /// Cache size at which entries of dropped rules are swept.
    prune_at: usize,
}

impl AlertWriter {
    /// A writer with an empty rule cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn rule_json(&mut self, r: &Arc<RuleMeta>) -> &RuleJson {
        let key = Arc::as_ptr(r) as usize;
        if !self.rules.contains_key(&key) && self.rules.len() >= self.prune_at {
            // Entries of rule sets dropped by a reload; amortized over the inserts.
            self.rules.retain(|_, j| j.rule.strong_count() > 0);
            self.prune_at = (2 * self.rules.len()).max(1024);
        }
        self.rules.entry(key).or_insert_with(|| {
            let full = Alert::rule_members(r);
            let mut middle = Vec::new();
            middle.extend_from_slice(b",\"severity\":");
            let _ = serde_json::to_writer(&mut middle, &r.severity.number());
            middle.extend_from_slice(b",\"risk_score\":");
            let _ = serde_json::to_writer(&mut middle, &r.risk_score);
            middle.push(b'}');
            for (k, v) in &full {
                middle.push(b',');
                let _ = serde_json::to_writer(&mut middle, k);
                middle.push(b':');
                let _ = serde_json::to_writer(&mut middle, v);
            }
            middle.extend_from_slice(b",\"message\":");
            let mut tail = b",\"tripline\":{\"rule_path\":".to_vec();
            let _ = serde_json::to_writer(&mut tail, &r.path);
            tail.extend_from_slice(b",\"events\":[");
            RuleJson {
                rule: Arc::downgrade(r),
                middle,
                tail,
            }
        })
    }

    /// Appends `alert` as one JSON object (no newline).
    pub fn write(&mut self, alert: &Alert, w: &mut Vec<u8>) {
        let trig = alert.trigger();
        let Some(view) = trig.json_view() else {
            let _ = serde_json::to_writer(&mut *w, &alert.to_json());
            return;
        };
        w.push(b'{');
        let mut comma = false;
        for key in PIVOTS {
            comma |= view.write_member(key, comma, w);
        }
        if comma {
            w.push(b',');
        }
        w.extend_from_slice(b"\"event\":{\"kind\":\"alert\"");
        let e = &trig.event;
        if !e.category.is_empty() {
            w.extend_from_slice(b",\"category\":");
            let _ = serde_json::to_writer(&mut *w, &e.category);
        }
        if !e.type_.is_empty() {
            w.extend_from_slice(b",\"type\":");
            let _ = serde_json::to_writer(&mut *w, &e.type_);
        }
        if let Some(a) = &e.action {
            w.extend_from_slice(b",\"action\":");
            write_str(w, a);
        }
        if let Some(m) = &e.module {
            w.extend_from_slice(b",\"module\":");
            write_str(w, m);
        }
        let rj = self.rule_json(&alert.rule);
        w.extend_from_slice(&rj.middle);
        write_str(w, &alert.message());
        w.extend_from_slice(&rj.tail);
        let last = alert.events.len() - 1;
        for (i, ev) in alert.events.iter().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            if i == last {
                view.write(w);
            } else {
                ev.write_json(w);
            }
        }
        w.extend_from_slice(b"]}}");
    }
}

fn write_str(w: &mut Vec<u8>, s: &str) {
    tripline_parsers::ecs_write::write_str(w, s);
}

/// A rule that fired, with the event(s) that made it fire.
#[derive(Debug, Clone)]
pub struct Alert {
    /// The rule.
    pub rule: Arc<RuleMeta>,
    /// Matching events, in order (one for a single-event rule, one per stage for a sequence).
    pub events: Vec<Arc<Event>>,
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
            for key in PIVOTS {
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

        for (k, v) in Alert::rule_members(r) {
            doc.insert(k.into(), v);
        }
        doc.insert("message".into(), json!(self.message()));
        doc.insert(
            "tripline".into(),
            json!({
                "rule_path": r.path,
                "events": self.events.iter().map(|e| e.to_json()).collect::<Vec<_>>(),
            }),
        );
        Value::Object(doc)
    }

    /// The members of an alert that depend only on the rule, in document order:
    /// `rule`, `log`, `threat` (when mapped), `tags` (when any).
    fn rule_members(r: &RuleMeta) -> Vec<(&'static str, Value)> {
        let mut out = Vec::with_capacity(4);
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
        out.push(("rule", Value::Object(rule)));
        out.push(("log", json!({"level": r.severity.name()})));

        if let Some(threat) = threat_json(&r.threat) {
            out.push(("threat", threat));
        }
        if !r.tags.is_empty() {
            out.push(("tags", json!(r.tags)));
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &Arc<RuleMeta>) -> Alert {
        Alert {
            rule: Arc::clone(rule),
            events: vec![Arc::new(Event::default())],
        }
    }

    /// Rules replaced by a reload leave the writer's cache; live ones stay.
    #[test]
    fn the_rule_cache_forgets_dropped_rules() {
        let mut w = AlertWriter::new();
        let live = Arc::new(RuleMeta {
            id: "live".into(),
            ..RuleMeta::default()
        });
        let mut buf = Vec::new();
        w.write(&alert(&live), &mut buf);
        for i in 0..5_000 {
            let gone = Arc::new(RuleMeta {
                id: format!("reloaded-{i}"),
                ..RuleMeta::default()
            });
            buf.clear();
            w.write(&alert(&gone), &mut buf);
            assert_eq!(
                serde_json::from_slice::<Value>(&buf).unwrap()["rule"]["id"],
                json!(format!("reloaded-{i}"))
            );
        }
        assert!(w.rules.len() <= 2048, "{} cached rules", w.rules.len());
        assert!(w.rules.contains_key(&(Arc::as_ptr(&live) as usize)));
        buf.clear();
        w.write(&alert(&live), &mut buf);
        assert_eq!(
            serde_json::from_slice::<Value>(&buf).unwrap()["rule"]["id"],
            json!("live")
        );
    }
}
