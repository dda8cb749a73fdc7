//! One Endpoint Security message, as `eslogger` prints it (one JSON object per
//! line: `es_message_t` with `es_process_t`, `es_file_t` and the event union,
//! field names as in the EndpointSecurity headers) -> one ECS [`Event`].
//!
//! | message | ECS |
//! |---|---|
//! | `time` | `@timestamp` |
//! | `exec` | `event.category: process`, `event.type: start`, `event.action: exec`; `process.*` from `event.exec.target`, `process.args` from `event.exec.args`, `process.working_directory` from `event.exec.cwd.path`, `process.env_vars` from `event.exec.env`; `process.parent.*` from the calling `process` (the image that called exec: in the fork+exec pattern, the image the parent ran when it forked) |
//! | `fork` | `event.type: start`, `event.action: fork`; `process.*` = `event.fork.child`, `process.parent.*` = the forking `process` |
//! | `exit` | `event.type: end`, `event.action: end` (Elastic Defend's words); `process.exit_code` from the wait status when the process exited normally |
//! | any other event | `event.action: <name>` (`open`, `rename`, `signal`, ...), `process.*` = the acting process, `file.path` for the file events listed in [`FILE_EVENTS`], the event body under `macos.es.<name>.*` |
//!
//! A process (`es_process_t`) maps to `process.pid` (audit token pid),
//! `process.entity_id` = `<pid>-<pidversion>` (the audit token's pid version
//! changes on every exec and never repeats for a pid within a boot, so a
//! reused pid never inherits a stranger's lineage), `process.parent.entity_id`
//! from `parent_audit_token`, `process.executable`, `process.name`,
//! `process.start` (`start_time`), `process.user.id`/`process.real_user.id`/
//! `process.group.id`/`process.real_group.id` (euid/ruid/egid/rgid),
//! `process.group_leader.pid` (`group_id`), `process.session_leader.pid`
//! (`session_id`), and the code signature: `process.code_signature.signing_id`,
//! `.team_id`, `.flags` (`codesigning_flags`, decimal), `.exists`, and
//! `process.hash.cdhash`. `is_platform_binary`, `original_ppid`, the
//! responsible process and the executable's `stat` stay under `macos.es.*`.
//!
//! Audit tokens come as objects (`{"pid":..,"pidversion":..}`, eslogger
//! message versions up to 9) or as the raw `audit_token_t` array
//! `[auid, euid, egid, ruid, rgid, pid, asid, pidversion]` (version 10,
//! macOS 26); both are read.

use serde_json::{Map, Value};

use super::{basename, keep_raw};
use crate::Event;

/// File events whose path becomes `file.path`: (event, key of the `es_file_t`,
/// ECS `event.type`).
pub const FILE_EVENTS: &[(&str, &str, &str)] = &[
    ("open", "file", "access"),
    ("close", "target", "access"),
    ("create", "destination.existing_file", "creation"),
    ("write", "target", "change"),
    ("truncate", "target", "change"),
    ("unlink", "target", "deletion"),
    ("rename", "source", "change"),
    ("setextattr", "target", "change"),
    ("deleteextattr", "target", "change"),
    ("setmode", "target", "change"),
    ("setowner", "target", "change"),
    ("setflags", "target", "change"),
    ("utimes", "target", "change"),
    ("link", "source", "creation"),
    ("clone", "source", "creation"),
];

/// A decoded audit token.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditToken {
    /// Audit user id.
    pub auid: Option<i64>,
    /// Effective uid.
    pub euid: Option<i64>,
    /// Effective gid.
    pub egid: Option<i64>,
    /// Real uid.
    pub ruid: Option<i64>,
    /// Real gid.
    pub rgid: Option<i64>,
    /// Process id.
    pub pid: Option<i64>,
    /// Audit session id.
    pub asid: Option<i64>,
    /// Pid version: changes on exec, unique per pid within a boot.
    pub pidversion: Option<i64>,
}

impl AuditToken {
    /// Reads an audit token in either eslogger form.
    pub fn from_json(v: &Value) -> Option<AuditToken> {
        match v {
            Value::Object(m) => {
                let g = |k: &str| m.get(k).and_then(Value::as_i64);
                Some(AuditToken {
                    auid: g("auid"),
                    euid: g("euid"),
                    egid: g("egid"),
                    ruid: g("ruid"),
                    rgid: g("rgid"),
                    pid: g("pid"),
                    asid: g("asid"),
                    pidversion: g("pidversion"),
                })
            }
            // audit_token_t val[0..8], as audit_token_to_au32 orders it.
            Value::Array(a) if a.len() == 8 => {
                let g = |i: usize| a[i].as_i64();
                Some(AuditToken {
                    auid: g(0),
                    euid: g(1),
                    egid: g(2),
                    ruid: g(3),
                    rgid: g(4),
                    pid: g(5),
                    asid: g(6),
                    pidversion: g(7),
                })
            }
            _ => None,
        }
    }

    /// `<pid>-<pidversion>`, the `process.entity_id` of this process image.
    pub fn entity_id(&self) -> Option<String> {
        Some(format!("{}-{}", self.pid?, self.pidversion?))
    }
}

fn path_of(file: Option<&Value>) -> Option<String> {
    file?
        .get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

fn get_path<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

/// Sets `process.*` (not `parent`) from an `es_process_t`.
fn set_process(ev: &mut Event, p: &Value, raw_prefix: &str) {
    let tok = p.get("audit_token").and_then(AuditToken::from_json);
    if let Some(t) = tok {
        ev.process.pid = t.pid;
        ev.process.entity_id = t.entity_id();
        let mut id = |k: &str, v: Option<i64>| {
            if let Some(v) = v {
                ev.extra.insert(k.into(), Value::from(v.to_string()));
            }
        };
        id("process.user.id", t.euid);
        id("process.real_user.id", t.ruid);
        id("process.group.id", t.egid);
        id("process.real_group.id", t.rgid);
        if let Some(euid) = t.euid {
            ev.user.id = Some(euid.to_string());
        }
    }
    if let Some(exe) = path_of(p.get("executable")) {
        ev.process.name = Some(basename(&exe).to_string());
        ev.process.executable = Some(exe);
    }
    ev.process.parent.pid = p.get("ppid").and_then(Value::as_i64);
    ev.process.parent.entity_id = p
        .get("parent_audit_token")
        .and_then(AuditToken::from_json)
        .and_then(|t| t.entity_id());
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            ev.extra.insert(k.into(), v);
        }
    };
    put(
        "process.start",
        p.get("start_time").filter(|v| v.is_string()).cloned(),
    );
    put(
        "process.group_leader.pid",
        p.get("group_id").filter(|v| v.is_i64()).cloned(),
    );
    put(
        "process.session_leader.pid",
        p.get("session_id").filter(|v| v.is_i64()).cloned(),
    );
    let nonempty = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Value::from)
    };
    let signing_id = nonempty("signing_id");
    put(
        "process.code_signature.exists",
        Some(Value::from(signing_id.is_some())),
    );
    put("process.code_signature.signing_id", signing_id);
    put("process.code_signature.team_id", nonempty("team_id"));
    put(
        "process.code_signature.flags",
        p.get("codesigning_flags")
            .and_then(Value::as_i64)
            .map(|f| Value::from(f.to_string())),
    );
    put(
        "process.hash.cdhash",
        nonempty("cdhash")
            .map(|v| Value::from(v.as_str().unwrap_or_default().to_ascii_lowercase())),
    );
    for k in [
        "is_platform_binary",
        "is_es_client",
        "original_ppid",
        "cs_validation_category",
    ] {
        if let Some(v) = p.get(k) {
            keep_raw(ev, &format!("{raw_prefix}.{k}"), v);
        }
    }
    if let Some(t) = p
        .get("responsible_audit_token")
        .and_then(AuditToken::from_json)
    {
        if let Some(pid) = t.pid {
            ev.extra
                .insert(format!("{raw_prefix}.responsible.pid"), Value::from(pid));
        }
        if let Some(id) = t.entity_id() {
            ev.extra.insert(
                format!("{raw_prefix}.responsible.entity_id"),
                Value::from(id),
            );
        }
    }
    if let Some(tty) = path_of(p.get("tty")) {
        ev.extra
            .insert(format!("{raw_prefix}.tty"), Value::from(tty));
    }
}

/// Moves what [`set_process`] wrote for a process into `process.parent.*`.
/// With `whole`, also its start time and signing identity (for fork, where
/// the message's process is the parent itself).
fn as_parent(ev: &mut Event, p: &Value, whole: bool) {
    let mut tmp = Event::default();
    set_process(&mut tmp, p, "macos.es.process");
    ev.process.parent.pid = tmp.process.pid;
    ev.process.parent.entity_id = tmp.process.entity_id;
    ev.process.parent.executable = tmp.process.executable;
    ev.process.parent.name = tmp.process.name;
    let parent_keep = [
        "process.start",
        "process.code_signature.signing_id",
        "process.code_signature.team_id",
    ];
    for (k, v) in tmp.extra {
        if whole && parent_keep.contains(&k.as_str()) {
            let k = k.replacen("process.", "process.parent.", 1);
            ev.extra.insert(k, v);
        } else if k.starts_with("macos.") {
            ev.extra.insert(k, v);
        }
    }
}

/// Converts one `eslogger` message.
///
/// # Errors
/// The message has no readable `time` or no event body.
pub fn from_message(doc: &Value) -> Result<Event, String> {
    let o = doc.as_object().ok_or("eslogger message is not an object")?;
    let time = o
        .get("time")
        .and_then(Value::as_str)
        .ok_or("eslogger message without a time")?;
    let dt = chrono::DateTime::parse_from_rfc3339(time)
        .map_err(|e| format!("unreadable eslogger time {time:?}: {e}"))?;
    let body: &Map<String, Value> = o
        .get("event")
        .and_then(Value::as_object)
        .ok_or("eslogger message without an event")?;
    let (name, data) = body
        .iter()
        .next()
        .ok_or("eslogger message with an empty event")?;
    let proc_ = o
        .get("process")
        .ok_or("eslogger message without a process")?;
    let mut ev = Event {
        timestamp_ns: dt.timestamp_nanos_opt().unwrap_or(0),
        ..Event::default()
    };
    ev.event.kind = Some("event".into());
    ev.event.module = Some("endpoint_security".into());
    ev.event.dataset = Some("endpoint_security.eslogger".into());
    ev.event.action = Some(name.clone());
    ev.event.sequence = o.get("global_seq_num").and_then(Value::as_i64);
    ev.host.os_type = Some("macos".into());
    if let Some(t) = o
        .get("thread")
        .and_then(|t| t.get("thread_id"))
        .and_then(Value::as_i64)
    {
        ev.extra.insert("process.thread.id".into(), Value::from(t));
    }
    for k in [
        "event_type",
        "version",
        "schema_version",
        "seq_num",
        "mach_time",
        "action_type",
    ] {
        if let Some(v) = o.get(k) {
            keep_raw(&mut ev, &format!("macos.es.{k}"), v);
        }
    }
    match name.as_str() {
        "exec" => {
            let target = data.get("target").ok_or("exec event without a target")?;
            as_parent(&mut ev, proc_, false);
            let caller = std::mem::take(&mut ev.process.parent);
            set_process(&mut ev, target, "macos.es.target");
            // The target's ppid and parent token name the real parent; the
            // caller (same pid, previous image) gives its executable.
            ev.process.parent.executable = caller.executable;
            ev.process.parent.name = caller.name;
            if ev.process.parent.pid.is_none() {
                ev.process.parent.pid = proc_.get("ppid").and_then(Value::as_i64);
            }
            let args: Vec<String> = data
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !args.is_empty() {
                ev.process.command_line = Some(args.join(" "));
                ev.process.args_count = Some(args.len() as i64);
                ev.process.args = args;
            }
            ev.process.working_directory = path_of(data.get("cwd"));
            if let Some(env) = data.get("env").filter(|e| e.is_array()) {
                ev.extra.insert("process.env_vars".into(), env.clone());
            }
            if let Some(s) = path_of(data.get("script")) {
                ev.extra
                    .insert("macos.es.exec.script".into(), Value::from(s));
            }
            for k in [
                "dyld_exec_path",
                "image_cputype",
                "image_cpusubtype",
                "last_fd",
            ] {
                if let Some(v) = data.get(k) {
                    keep_raw(&mut ev, &format!("macos.es.exec.{k}"), v);
                }
            }
            ev.event.category = vec!["process".into()];
            ev.event.type_ = vec!["start".into()];
        }
        "fork" => {
            let child = data.get("child").ok_or("fork event without a child")?;
            as_parent(&mut ev, proc_, true);
            let parent = std::mem::take(&mut ev.process.parent);
            set_process(&mut ev, child, "macos.es.child");
            ev.process.parent.executable = parent.executable;
            ev.process.parent.name = parent.name;
            ev.process.parent.pid = ev.process.parent.pid.or(parent.pid);
            if parent.entity_id.is_some() {
                // The forking process, exactly (the child's parent token says the same).
                ev.process.parent.entity_id = parent.entity_id;
            }
            ev.event.category = vec!["process".into()];
            ev.event.type_ = vec!["start".into()];
        }
        "exit" => {
            set_process(&mut ev, proc_, "macos.es.process");
            if let Some(stat) = data.get("stat").and_then(Value::as_i64) {
                ev.extra
                    .insert("macos.es.exit.stat".into(), Value::from(stat));
                // <sys/wait.h>: WIFEXITED / WEXITSTATUS / WTERMSIG
                if stat & 0x7f == 0 {
                    ev.extra
                        .insert("process.exit_code".into(), Value::from((stat >> 8) & 0xff));
                } else {
                    ev.extra
                        .insert("macos.es.exit.signal".into(), Value::from(stat & 0x7f));
                }
            }
            ev.event.category = vec!["process".into()];
            ev.event.type_ = vec!["end".into()];
            ev.event.action = Some("end".into());
        }
        other => {
            set_process(&mut ev, proc_, "macos.es.process");
            keep_raw(&mut ev, &format!("macos.es.{other}"), data);
            if let Some((_, key, ty)) = FILE_EVENTS.iter().find(|(n, _, _)| *n == other)
                && let Some(p) = path_of(get_path(data, key))
            {
                ev.file_path = Some(p);
                ev.event.category = vec!["file".into()];
                ev.event.type_ = vec![(*ty).to_string()];
            }
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn proc_(pid: i64, pv: i64, exe: &str, ppid: i64, ppv: i64) -> Value {
        json!({"audit_token": {"pid": pid, "pidversion": pv, "euid": 501, "ruid": 501, "egid": 20, "rgid": 20, "auid": 501, "asid": 100},
               "parent_audit_token": {"pid": ppid, "pidversion": ppv},
               "ppid": ppid, "original_ppid": ppid, "executable": {"path": exe, "path_truncated": false},
               "signing_id": "com.apple.x", "team_id": null, "cdhash": "ABCDEF", "codesigning_flags": 570506001,
               "is_platform_binary": true, "start_time": "2025-01-02T03:04:04.000000Z", "group_id": pid, "session_id": 1})
    }

    fn msg(process: Value, event: Value) -> Value {
        json!({"time": "2025-01-02T03:04:05.123456789Z", "mach_time": 1, "global_seq_num": 7, "event_type": 9,
               "version": 7, "schema_version": 1, "process": process, "event": event})
    }

    #[test]
    fn exec_lineage_and_signature() {
        let m = msg(
            proc_(500, 10, "/bin/zsh", 400, 3),
            json!({"exec": {"target": proc_(500, 11, "/usr/bin/curl", 400, 3),
                            "args": ["curl", "-s", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"],
                            "cwd": {"path": "/Users/alice"}, "env": ["HOME=/Users/alice"], "script": null}}),
        );
        let e = from_message(&m).unwrap();
        assert_eq!(e.event.action.as_deref(), Some("exec"));
        assert_eq!(e.process.entity_id.as_deref(), Some("500-11"));
        assert_eq!(e.process.parent.entity_id.as_deref(), Some("400-3"));
        assert_eq!(e.process.parent.pid, Some(400));
        assert_eq!(e.process.parent.executable.as_deref(), Some("/bin/zsh"));
        assert_eq!(e.process.name.as_deref(), Some("curl"));
        assert_eq!(e.process.working_directory.as_deref(), Some("/Users/alice"));
        assert_eq!(e.extra["process.code_signature.signing_id"], "com.apple.x");
        assert_eq!(e.extra["process.hash.cdhash"], "abcdef");
        assert_eq!(e.timestamp_rfc3339(), "2025-01-02T03:04:05.123456789Z");
    }

    #[test]
    fn fork_exit_other_and_array_tokens() {
        let f = from_message(&msg(
            proc_(400, 3, "/bin/zsh", 1, 1),
            json!({"fork": {"child": proc_(500, 10, "/bin/zsh", 400, 3)}}),
        ))
        .unwrap();
        assert_eq!(f.event.action.as_deref(), Some("fork"));
        assert_eq!(f.process.entity_id.as_deref(), Some("500-10"));
        assert_eq!(f.process.parent.entity_id.as_deref(), Some("400-3"));
        let x = from_message(&msg(
            proc_(500, 11, "/usr/bin/curl", 400, 3),
            json!({"exit": {"stat": 256}}),
        ))
        .unwrap();
        assert_eq!(x.event.action.as_deref(), Some("end"));
        assert_eq!(x.extra["process.exit_code"], 1);
        let o = from_message(&msg(
            proc_(500, 11, "/usr/bin/curl", 400, 3),
            json!({"open": {"fflag": 1, "file": {"path": "/etc/hosts"}}}),
        ))
        .unwrap();
        assert_eq!(o.file_path.as_deref(), Some("/etc/hosts"));
        assert_eq!(o.extra["macos.es.open.fflag"], 1);
        let t =
            AuditToken::from_json(&json!([501, 501, 20, 501, 20, 21497, 100013, 38282])).unwrap();
        assert_eq!(t.entity_id().as_deref(), Some("21497-38282"));
    }

    #[test]
    fn hostile_messages_are_errors_not_panics() {
        for d in [
            json!({}),
            json!({"time": "x", "event": {}, "process": {}}),
            json!({"time": "2025-01-02T03:04:05Z", "event": {}, "process": {}}),
            json!({"time": "2025-01-02T03:04:05Z", "event": {"exec": {}}, "process": {}}),
            json!({"time": "2025-01-02T03:04:05Z", "event": {"exec": {"target": 1, "args": [1, null]}}, "process": []}),
            json!({"time": "2025-01-02T03:04:05Z", "event": {"fork": {"child": {"audit_token": [1]}}}, "process": {"audit_token": "x"}}),
            json!({"time": "2025-01-02T03:04:05Z", "event": {"exit": {"stat": "x"}}, "process": {"executable": 3}}),
        ] {
            let _ = from_message(&d);
        }
        assert!(from_message(&json!({})).is_err());
    }
}
