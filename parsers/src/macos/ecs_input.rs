//! ECS documents as input: exports of Elastic Endpoint (Elastic Defend),
//! Auditbeat, Packetbeat and Winlogbeat, already in ECS. They pass through
//! with type checks:
//!
//! - every field tripline types (`process.pid`, `event.category`,
//!   `@timestamp`, ... see [`crate::ecs::Known`]) must have a JSON type that
//!   fits: integers may be numeric strings, an array field may be a single
//!   string; anything else rejects the document with the field named;
//! - every other field is kept as given (`process.Ext.*` of Elastic Endpoint,
//!   `http.*`, `user_agent.*` of Packetbeat, ...), so rules see it;
//! - `host.os.type`, when missing, is taken from `host.os.platform` or
//!   `host.os.family` (`macos`/`darwin`, `linux`, `windows`): Elastic Endpoint
//!   7.x exports predate `host.os.type`, which today's rules test.
//!
//! The Elasticsearch wrappers (`_source`, `hits.hits[]`, `hits.events[]`,
//! `hits.sequences[].events[]`) are unwrapped by [`crate::json`] first.

use serde_json::Value;

use crate::Event;
use crate::ecs::Known;

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        _ if prefix.is_empty() => {}
        other => out.push((prefix.to_string(), other.clone())),
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}...", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

/// Builds an event from one ECS document.
///
/// # Errors
/// A typed field holds a value of the wrong type (the message names it).
pub fn from_ecs(doc: &Value) -> Result<Event, String> {
    let mut flat = Vec::new();
    flatten("", doc, &mut flat);
    let mut ev = Event::default();
    for (path, v) in flat {
        match Known::from_path(&path) {
            Some(_) if v.is_null() => {}
            Some(_) => {
                if !ev.set_path(&path, &v) {
                    return Err(format!(
                        "ECS field `{path}` has the wrong type: {}",
                        describe(&v)
                    ));
                }
            }
            None => {
                ev.extra.insert(path, v);
            }
        }
    }
    if ev.host.os_type.is_none() {
        let os = ["host.os.platform", "host.os.family"]
            .iter()
            .filter_map(|k| ev.extra.get(*k).and_then(Value::as_str))
            .find_map(|p| match p.to_ascii_lowercase().as_str() {
                "macos" | "darwin" => Some("macos"),
                "linux" => Some("linux"),
                "windows" => Some("windows"),
                _ => None,
            });
        ev.host.os_type = os.map(str::to_string);
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passes_through_and_fills_os_type() {
        let e = from_ecs(&json!({
            "@timestamp": "2021-01-14T23:38:44.60906Z",
            "process": {"pid": "9520", "Ext": {"ancestry": []}, "args": ["a"]},
            "event": {"category": "process"},
            "host": {"os": {"platform": "macos"}}
        }))
        .unwrap();
        assert_eq!(e.process.pid, Some(9520));
        assert_eq!(e.event.category, vec!["process"]);
        assert_eq!(e.host.os_type.as_deref(), Some("macos"));
        assert_eq!(e.extra["process.Ext.ancestry"], json!([]));
    }

    #[test]
    fn wrong_types_are_named() {
        let err = from_ecs(&json!({"process": {"pid": "nine"}})).unwrap_err();
        assert!(err.contains("`process.pid`"), "{err}");
        let err = from_ecs(&json!({"@timestamp": "soon"})).unwrap_err();
        assert!(err.contains("@timestamp"), "{err}");
        assert!(from_ecs(&json!({"event": {"category": [{"a": 1}]}})).is_err());
    }
}
