//! macOS inputs: the unified log (`log show` / `log stream` in the `json` and
//! `ndjson` styles), Endpoint Security via `eslogger`, and ECS documents
//! exported from Elastic agents (Elastic Endpoint on macOS first of all).
//!
//! | input | framing | read by | event |
//! |---|---|---|---|
//! | `log show --style json` | one JSON array, pretty-printed (`[{`, `},{`, `}]`) | [`UnifiedLogParser`] (`--format unifiedlog`, detected) or [`crate::json::read_json`] | [`unifiedlog::from_entry`] |
//! | `log stream --style json` | the same array, never closed while streaming | [`UnifiedLogParser`] | [`unifiedlog::from_entry`] |
//! | `log show\|stream --style ndjson` | JSON lines after a text banner; `log show` ends with `{"count":N,"finished":1}` | [`UnifiedLogParser`] or the JSON lines reader | [`unifiedlog::from_entry`] |
//! | `eslogger exec fork exit ...` | JSON lines, one `es_message_t` each | the JSON lines reader | [`eslogger::from_message`] |
//! | Elastic Endpoint / Beats ECS | hits, arrays, EQL responses (unwrapped by [`crate::json`]) | [`crate::json::read_json`] | [`ecs_input::from_ecs`] |
//!
//! Every event gets `host.os.type: macos` (ECS input keeps what the document
//! says). Fields without an ECS home stay under `macos.unified_log.*` and
//! `macos.es.*`, so nothing the source said is lost.
//!
//! # Example
//!
//! ```
//! use tripline_parsers::{Format, Location};
//!
//! let line = br#"{"time":"2025-01-02T03:04:05.000000000Z","event_type":9,"version":7,"process":{"audit_token":{"pid":500,"pidversion":10,"euid":501,"ruid":501,"egid":20,"rgid":20,"auid":501,"asid":100},"ppid":400,"executable":{"path":"/bin/zsh","path_truncated":false}},"event":{"exec":{"target":{"audit_token":{"pid":500,"pidversion":11,"euid":501,"ruid":501,"egid":20,"rgid":20,"auid":501,"asid":100},"ppid":400,"parent_audit_token":{"pid":400,"pidversion":3},"executable":{"path":"/usr/bin/curl","path_truncated":false}},"args":["curl","-s","http://169.254.169.254/"],"cwd":{"path":"/tmp","path_truncated":false}}}}"#;
//! let mut p = Format::Json.parser();
//! let mut evs = Vec::new();
//! p.feed(line, Location::default(), &mut |e| evs.push(e)).unwrap();
//! assert_eq!(evs[0].event.action.as_deref(), Some("exec"));
//! assert_eq!(evs[0].process.entity_id.as_deref(), Some("500-11"));
//! assert_eq!(evs[0].process.parent.entity_id.as_deref(), Some("400-3"));
//! assert_eq!(evs[0].process.command_line.as_deref(), Some("curl -s http://169.254.169.254/"));
//! ```
//!
//! # Design rationale
//!
//! Shape detection looks at key names Apple documents and that no other
//! source uses together (`eventMessage` + `processImagePath`/`machTimestamp`
//! for the unified log, `event` + `process.audit_token` + `mach_time`/
//! `global_seq_num` for `es_message_t`), so a generic ECS document is never
//! mistaken for them. The unified-log reader is line based and splits JSON
//! objects with a byte-level brace counter, so a `log show` array of several
//! GB is read one entry at a time whatever its layout, and a truncated entry
//! costs one error.

use serde_json::Value;

use crate::Event;

pub mod ecs_input;
pub mod eslogger;
mod framing;
pub mod unifiedlog;

pub use framing::UnifiedLogParser;

/// Banner lines `log show` / `log stream` print before the entries.
const BANNERS: &[&[u8]] = &[
    b"Filtering the log data using",
    b"Skipping info and debug messages",
    b"getpwuid_r did not find a match",
    b"Timestamp ",
];

/// True if `line` (trimmed) is one of the text lines the `log` tool prints
/// around its JSON output.
pub fn is_banner(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    BANNERS.iter().any(|b| t.starts_with(b))
}

/// True if the first bytes of an input look like `log show|stream` output in
/// a JSON style that is not plain JSON lines: the banner line, or the `[{`
/// line that opens the pretty-printed `--style json` array.
pub fn looks_like_unified_log(head: &[u8]) -> bool {
    let h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let h = h.trim_ascii_start();
    let first = match memchr::memchr(b'\n', h) {
        Some(i) => &h[..i],
        None => h,
    };
    is_banner(first) || first.trim_ascii() == b"[{"
}

/// A macOS document shape, or `None` for any other JSON document.
pub fn shape(doc: &Value) -> Option<Shape> {
    let o = doc.as_object()?;
    if o.contains_key("eventMessage")
        || (o.contains_key("machTimestamp") && o.contains_key("eventType"))
        || (o.contains_key("processImagePath") && o.contains_key("traceID"))
    {
        return Some(Shape::UnifiedLog);
    }
    if o.len() <= 3
        && o.get("finished").is_some_and(Value::is_number)
        && o.get("count").is_some_and(Value::is_number)
    {
        return Some(Shape::UnifiedLogTrailer);
    }
    let proc_token = o
        .get("process")
        .and_then(|p| p.get("audit_token"))
        .is_some();
    if o.get("event").is_some_and(Value::is_object)
        && proc_token
        && (o.contains_key("mach_time")
            || o.contains_key("global_seq_num")
            || o.contains_key("event_type")
            || o.contains_key("schema_version"))
    {
        return Some(Shape::EsMessage);
    }
    None
}

/// The macOS document shapes recognized by [`shape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One unified log entry (`log show|stream --style json|ndjson`).
    UnifiedLog,
    /// The `{"count":N,"finished":1}` line ending `log show --style ndjson`.
    UnifiedLogTrailer,
    /// One Endpoint Security message as `eslogger` prints it.
    EsMessage,
}

/// Converts a document of a macOS shape; `None` if `doc` is not one (the
/// caller tries the other shapes).
///
/// # Errors
/// The document has a macOS shape but cannot be converted (message says why).
pub fn convert(doc: &Value, out: &mut dyn FnMut(Event)) -> Option<Result<(), String>> {
    let r = match shape(doc)? {
        Shape::UnifiedLog => unifiedlog::from_entry(doc).map(out),
        Shape::UnifiedLogTrailer => Ok(()),
        Shape::EsMessage => eslogger::from_message(doc).map(out),
    };
    Some(r)
}

/// The last path component (`/usr/bin/curl` -> `curl`).
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Flattens `v` under `prefix` into dotted leaves of `ev.extra` (arrays and
/// scalars are leaves, `null` is dropped), so rules can name any raw field.
pub(crate) fn keep_raw(ev: &mut Event, prefix: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                keep_raw(ev, &format!("{prefix}.{k}"), x);
            }
        }
        other => {
            ev.extra.insert(prefix.to_string(), other.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert!(looks_like_unified_log(
            b"Filtering the log data using \"process == \\\"curl\\\"\"\n{\"a\":1}"
        ));
        assert!(looks_like_unified_log(b"\n[{\n  \"traceID\" : 1,"));
        assert!(!looks_like_unified_log(b"[\n  {\"_source\": {}}"));
        assert!(!looks_like_unified_log(b"{\"eventMessage\":\"x\"}"));
        assert!(!looks_like_unified_log(b"type=SYSCALL msg=audit(1:2):"));
    }

    #[test]
    fn shapes() {
        let ul = serde_json::json!({"eventMessage": "x", "processImagePath": "/a"});
        assert_eq!(shape(&ul), Some(Shape::UnifiedLog));
        let tr = serde_json::json!({"count": 2, "finished": 1});
        assert_eq!(shape(&tr), Some(Shape::UnifiedLogTrailer));
        let es = serde_json::json!({"event": {"exit": {"stat": 0}}, "process": {"audit_token": {"pid": 1}}, "mach_time": 1});
        assert_eq!(shape(&es), Some(Shape::EsMessage));
        let ecs = serde_json::json!({"event": {"action": "exec"}, "process": {"pid": 1}});
        assert_eq!(shape(&ecs), None);
    }
}
