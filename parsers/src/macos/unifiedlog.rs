//! One unified log entry (as `log show|stream --style json|ndjson` prints it)
//! -> one ECS [`Event`].
//!
//! | entry key | ECS |
//! |---|---|
//! | `timestamp` (`2024-05-06 07:08:09.123456-0700`, local time with offset) | `@timestamp` (UTC), `event.timezone` (`-07:00`) |
//! | `processID` | `process.pid` |
//! | `processImagePath` | `process.executable`, `process.name` |
//! | `eventMessage` | `message` |
//! | `messageType` (`Default`, `Info`, `Debug`, `Error`, `Fault`) | `log.level` (lowercase) |
//! | `threadID` | `process.thread.id` |
//! | `userID` | `user.id` |
//! | every other key (`subsystem`, `category`, `messageType`, `eventType`, `senderImagePath`, `formatString`, `traceID`, `machTimestamp`, `bootUUID`, `backtrace`, ...) | `macos.unified_log.<key>`, Apple's name kept |
//!
//! Entries whose message has one of the forms below become process or network
//! events (see `docs/macos.md`); everything else is `event.kind: event` with
//! no category.
//!
//! 1. `sudo` (`processImagePath` ending in `/sudo`): `<user> : TTY=<tty> ; PWD=<dir> ;
//!    USER=<runas> ; COMMAND=<command line>` -> `event.category: process`,
//!    `event.type: start`, `event.action: exec`, `process.command_line`,
//!    `process.args` (split on blanks: sudo logs the command joined by
//!    spaces), `process.executable` (first word), `process.working_directory`,
//!    `user.name` (who ran sudo), `user.effective.name` (`USER=`), and the sudo
//!    process as `process.parent.*`. The new process's pid is not in the log.
//! 2. Network.framework connection start, `[C<n> <host>:<port> <tcp|udp|quic>, ...] start`
//!    -> `event.category: network`, `event.type: connection, start`,
//!    `event.action: connection_attempted`, `destination.ip` (an IP literal)
//!    or `destination.domain`, `destination.port`, `network.transport`.
//! 3. Sandbox denials, `Sandbox: <name>(<pid>) deny(<n>) network-outbound <ip>:<port>`
//!    -> `connection_attempted` with `event.outcome: failure`; the process
//!    is the one named in the message, not the kernel that logged it.

use chrono::{DateTime, FixedOffset, NaiveDateTime};
use serde_json::Value;

use super::{basename, keep_raw};
use crate::Event;

/// Keys mapped to ECS and not repeated under `macos.unified_log`.
const MAPPED: &[&str] = &[
    "timestamp",
    "processID",
    "processImagePath",
    "eventMessage",
    "threadID",
    "userID",
];

/// Parses the `timestamp` of an entry: `2024-05-06 07:08:09.123456-0700`
/// (what `log` prints), or RFC 3339.
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .or_else(|| {
            // Without an offset: UTC (never guessed from the local zone).
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc().fixed_offset())
        })
}

/// Converts one unified log entry.
///
/// # Errors
/// The entry is not an object, or its `timestamp` is missing or unreadable.
pub fn from_entry(doc: &Value) -> Result<Event, String> {
    let o = doc
        .as_object()
        .ok_or("unified log entry is not an object")?;
    let ts = o
        .get("timestamp")
        .and_then(Value::as_str)
        .ok_or("unified log entry without a timestamp")?;
    let dt = parse_timestamp(ts).ok_or_else(|| format!("unreadable timestamp {ts:?}"))?;
    let mut ev = Event {
        timestamp_ns: dt.timestamp_nanos_opt().unwrap_or(0),
        ..Event::default()
    };
    ev.extra.insert(
        "event.timezone".into(),
        Value::from(dt.offset().to_string()),
    );
    ev.event.kind = Some("event".into());
    ev.event.module = Some("unified_log".into());
    ev.event.dataset = Some("unified_log.log".into());
    ev.host.os_type = Some("macos".into());
    ev.process.pid = o.get("processID").and_then(Value::as_i64);
    if let Some(p) = o
        .get("processImagePath")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        ev.process.executable = Some(p.to_string());
        ev.process.name = Some(basename(p).to_string());
    }
    if let Some(t) = o.get("threadID").and_then(Value::as_i64) {
        ev.extra.insert("process.thread.id".into(), Value::from(t));
    }
    if let Some(u) = o.get("userID").and_then(Value::as_i64) {
        ev.user.id = Some(u.to_string());
    }
    if let Some(mt) = o
        .get("messageType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        ev.extra
            .insert("log.level".into(), Value::from(mt.to_ascii_lowercase()));
    }
    ev.message = o
        .get("eventMessage")
        .and_then(Value::as_str)
        .map(str::to_string);
    for (k, v) in o {
        if !MAPPED.contains(&k.as_str()) {
            keep_raw(&mut ev, &format!("macos.unified_log.{k}"), v);
        }
    }
    if let Some(msg) = ev.message.clone() {
        let subsystem = o.get("subsystem").and_then(Value::as_str).unwrap_or("");
        if ev.process.name.as_deref() == Some("sudo") {
            sudo_command(&msg, &mut ev);
        } else if subsystem == "com.apple.network" {
            nw_connection_start(&msg, &mut ev);
        } else if msg.contains("Sandbox: ") {
            sandbox_network_deny(&msg, &mut ev);
        }
    }
    Ok(ev)
}

/// `alice : TTY=ttys001 ; PWD=/Users/alice ; USER=root ; COMMAND=/usr/bin/id -u`
/// (sudo's own log line; older releases prefix `sudo[pid]: ` or the user).
fn sudo_command(msg: &str, ev: &mut Event) {
    let Some((head, command)) = msg.split_once("COMMAND=") else {
        return;
    };
    let command = command.trim();
    if command.is_empty() {
        return;
    }
    let mut fields = head.split(" ; ");
    let Some(first) = fields.next() else { return };
    let Some((user, tty)) = first.rsplit_once(" : ") else {
        return;
    };
    if !tty.trim_start().starts_with("TTY=") {
        return;
    }
    let user = user.trim().rsplit(' ').next().unwrap_or("").trim();
    let mut pwd = None;
    let mut runas = None;
    for f in fields {
        let f = f.trim();
        if let Some(v) = f.strip_prefix("PWD=") {
            pwd = Some(v);
        } else if let Some(v) = f.strip_prefix("USER=") {
            runas = Some(v);
        }
    }
    // The sudo process becomes the parent of the command it started.
    let sudo = std::mem::take(&mut ev.process);
    ev.process.parent.pid = sudo.pid;
    ev.process.parent.executable = sudo.executable;
    ev.process.parent.name = sudo.name;
    if let Some(t) = ev.extra.remove("process.thread.id") {
        ev.extra.insert("macos.unified_log.threadID".into(), t);
    }
    let args: Vec<String> = command.split_whitespace().map(str::to_string).collect();
    ev.process.executable = args.first().cloned();
    ev.process.name = args.first().map(|a| basename(a).to_string());
    ev.process.args_count = Some(args.len() as i64);
    ev.process.args = args;
    ev.process.command_line = Some(command.to_string());
    ev.process.working_directory = pwd.map(str::to_string);
    if !user.is_empty() {
        ev.user.name = Some(user.to_string());
    }
    if let Some(r) = runas {
        ev.extra
            .insert("user.effective.name".into(), Value::from(r.to_string()));
    }
    ev.event.category = vec!["process".into()];
    ev.event.type_ = vec!["start".into()];
    ev.event.action = Some("exec".into());
}

/// Splits `host:port` (IPv6 in brackets or bare with the last colon).
fn host_port(s: &str) -> Option<(&str, i64)> {
    let (h, p) = s.rsplit_once(':')?;
    let port = p.parse::<u16>().ok()?;
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    (!h.is_empty()).then_some((h, i64::from(port)))
}

fn set_destination(ev: &mut Event, host: &str, port: i64) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        ev.destination.ip = Some(ip.to_string());
        ev.destination.address = Some(ip.to_string());
        ev.network.type_ = Some(if ip.is_ipv4() { "ipv4" } else { "ipv6" }.into());
    } else if host.contains('#') || host.contains('<') {
        // Redacted by the log's privacy rules (`Hostname#1a2b3c4d`, `<private>`).
        return false;
    } else {
        ev.destination.domain = Some(host.to_string());
        ev.destination.address = Some(host.to_string());
    }
    ev.destination.port = Some(port);
    true
}

fn network_attempt(ev: &mut Event) {
    ev.event.category = vec!["network".into()];
    ev.event.type_ = vec!["connection".into(), "start".into()];
    ev.event.action = Some("connection_attempted".into());
    ev.network.direction = Some("egress".into());
}

/// `[C12 169.254.169.254:80 tcp, url: http://..., definite, attribution: developer] start`
fn nw_connection_start(msg: &str, ev: &mut Event) {
    let Some(inner) = msg
        .trim()
        .strip_suffix("] start")
        .and_then(|m| m.strip_prefix("[C"))
    else {
        return;
    };
    let mut words = inner.split([' ', ',']).filter(|w| !w.is_empty());
    let (Some(id), Some(endpoint), Some(transport)) = (words.next(), words.next(), words.next())
    else {
        return;
    };
    if !id.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return;
    }
    let transport = transport.to_ascii_lowercase();
    if !matches!(transport.as_str(), "tcp" | "udp" | "quic") {
        return;
    }
    let Some((host, port)) = host_port(endpoint) else {
        return;
    };
    if !set_destination(ev, host, port) {
        return;
    }
    ev.network.transport = Some(if transport == "quic" {
        "udp".into()
    } else {
        transport
    });
    network_attempt(ev);
}

/// `Sandbox: curl(4242) deny(1) network-outbound 169.254.169.254:80`
fn sandbox_network_deny(msg: &str, ev: &mut Event) {
    let Some(rest) = msg.split_once("Sandbox: ").map(|(_, r)| r) else {
        return;
    };
    let Some((name, rest)) = rest.split_once('(') else {
        return;
    };
    let Some((pid, rest)) = rest.split_once(')') else {
        return;
    };
    let Ok(pid) = pid.parse::<i64>() else { return };
    let rest = rest.trim_start();
    let Some(rest) = rest.strip_prefix("deny(") else {
        return;
    };
    let Some((_, rest)) = rest.split_once(") ") else {
        return;
    };
    let Some(target) = rest.strip_prefix("network-outbound ") else {
        return;
    };
    let target = target.split_whitespace().next().unwrap_or("");
    let Some((host, port)) = host_port(target) else {
        return;
    };
    if !set_destination(ev, host, port) {
        return;
    }
    // The logger (kernel, sandboxd) stays raw; the denied process is the subject.
    let logger = std::mem::take(&mut ev.process);
    if let Some(p) = logger.executable {
        ev.extra
            .insert("macos.unified_log.processImagePath".into(), Value::from(p));
    }
    if let Some(p) = logger.pid {
        ev.extra
            .insert("macos.unified_log.processID".into(), Value::from(p));
    }
    if let Some(t) = ev.extra.remove("process.thread.id") {
        ev.extra.insert("macos.unified_log.threadID".into(), t);
    }
    ev.process.pid = Some(pid);
    ev.process.name = Some(name.trim().to_string());
    network_attempt(ev);
    ev.event.outcome = Some("failure".into());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(path: &str, subsystem: &str, msg: &str) -> Event {
        from_entry(&json!({
            "timestamp": "2024-05-06 07:08:09.123456-0700",
            "processID": 321, "processImagePath": path, "threadID": 9,
            "subsystem": subsystem, "category": "c", "messageType": "Default",
            "eventType": "logEvent", "eventMessage": msg
        }))
        .unwrap()
    }

    #[test]
    fn plain_entry() {
        let e = entry("/usr/libexec/x", "com.apple.x", "hello");
        assert_eq!(e.timestamp_rfc3339(), "2024-05-06T14:08:09.123456000Z");
        assert_eq!(e.extra["event.timezone"], "-07:00");
        assert_eq!(e.process.name.as_deref(), Some("x"));
        assert_eq!(e.extra["macos.unified_log.subsystem"], "com.apple.x");
        assert_eq!(e.extra["log.level"], "default");
        assert!(e.event.category.is_empty());
    }

    #[test]
    fn sudo_is_a_process_start() {
        let e = entry(
            "/usr/bin/sudo",
            "com.apple.sudo",
            "    alice : TTY=ttys001 ; PWD=/Users/alice ; USER=root ; COMMAND=/usr/bin/curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        );
        assert_eq!(e.event.action.as_deref(), Some("exec"));
        assert_eq!(e.process.executable.as_deref(), Some("/usr/bin/curl"));
        assert_eq!(e.process.args.len(), 3);
        assert_eq!(e.process.parent.pid, Some(321));
        assert_eq!(e.user.name.as_deref(), Some("alice"));
        assert_eq!(e.extra["user.effective.name"], "root");
        assert_eq!(e.process.working_directory.as_deref(), Some("/Users/alice"));
        // Not a command line: stays a log event.
        let e = entry("/usr/bin/sudo", "", "alice : 3 incorrect password attempts");
        assert!(e.event.action.is_none());
    }

    #[test]
    fn network_forms() {
        let e = entry(
            "/usr/bin/python3",
            "com.apple.network",
            "[C4 169.254.169.254:80 tcp, url: http://169.254.169.254/latest/meta-data/, definite, attribution: developer] start",
        );
        assert_eq!(e.event.action.as_deref(), Some("connection_attempted"));
        assert_eq!(e.destination.ip.as_deref(), Some("169.254.169.254"));
        assert_eq!(e.destination.port, Some(80));
        assert_eq!(e.network.transport.as_deref(), Some("tcp"));
        let redacted = entry(
            "/usr/bin/python3",
            "com.apple.network",
            "[C5 Hostname#1a2b3c4d:443 tcp, definite] start",
        );
        assert!(redacted.event.action.is_none());
        let s = entry(
            "/kernel",
            "",
            "Sandbox: curl(4242) deny(1) network-outbound 169.254.169.254:80",
        );
        assert_eq!(s.process.pid, Some(4242));
        assert_eq!(s.process.name.as_deref(), Some("curl"));
        assert_eq!(s.event.outcome.as_deref(), Some("failure"));
        assert_eq!(s.extra["macos.unified_log.processImagePath"], "/kernel");
    }

    #[test]
    fn hostile_entries_never_panic() {
        for m in [
            "COMMAND=",
            " : TTY= ; COMMAND=x",
            "[C] start",
            "[C1 :: tcp] start",
            "[C1 [::1]:99999 tcp] start",
            "Sandbox: (",
            "Sandbox: a(1) deny(",
            "Sandbox: a(x) deny(1) network-outbound 1.2.3.4:5",
        ] {
            for p in ["/usr/bin/sudo", "/bin/x"] {
                let _ = entry(p, "com.apple.network", m);
            }
        }
        assert!(from_entry(&json!({"eventMessage": "x"})).is_err());
        assert!(from_entry(&json!({"timestamp": "yesterday"})).is_err());
    }
}
