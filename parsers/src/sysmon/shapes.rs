//! The JSON shapes Windows events are exported in, each read into a
//! [`WinEvent`].
//!
//! - **`evtx_dump`** (the `evtx` crate's JSON, also what SigmaHQ keeps next to
//!   its regression `.evtx` files): `{"Event": {"#attributes": …, "System":
//!   {"Provider": {"#attributes": {"Name", "Guid"}}, "EventID", …,
//!   "TimeCreated": {"#attributes": {"SystemTime"}}, …}, "EventData": {…}}}`.
//!   Raw `.evtx` records are rendered to this shape too.
//! - **Winlogbeat / Elastic Agent**: `winlog.{channel, event_id, provider_name,
//!   computer_name, record_id, process, user, event_data, user_data}` next to
//!   whatever ECS fields the shipper already set.
//! - **NXLog / OTRF-Mordor flat records**: System fields under NXLog names
//!   (`EventID`, `SourceName`, `Hostname`, `RecordNumber`, `ProcessID`, …) and
//!   every `EventData` field at top level. In the 2019 Mordor captures the
//!   Sysmon subject's `ProcessId` is not a field at all (NXLog's `ProcessID` is
//!   the Sysmon service's own pid); it is read back from `Message`.
//! - **PowerShell `Get-WinEvent | ConvertTo-Json`**: .NET `EventLogRecord`
//!   properties (`Id`, `ProviderName`, `LogName`, `MachineName`, `RecordId`,
//!   `TimeCreated`, `ProcessId`, `ThreadId`, `UserId`, `Properties[].Value`,
//!   `Message`). `Properties` are positional: Sysmon names come from the
//!   `Name: value` lines of `Message` (Sysmon renders every field that way), else
//!   from the Sysmon schema's field order for EIDs 1, 3, 5, 11 and 22; other
//!   providers get `param1`, `param2`, ….

use serde_json::Value;

use super::ecs::{parse_rfc3339, parse_utc_time};
use super::{WinEvent, value_text};

fn str_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer from a JSON number or a decimal/hex string (shared with the EVTX reader).
pub(super) fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Value::String(s) => super::ecs::parse_int(s),
        _ => None,
    }
}

/// `{"#attributes": {...}, "#text": x}` -> `x`; anything else as is.
fn text_node(v: &Value) -> &Value {
    match v {
        Value::Object(m) => m.get("#text").unwrap_or(v),
        _ => v,
    }
}

fn attr<'a>(v: Option<&'a Value>, name: &str) -> Option<&'a Value> {
    v?.get("#attributes")?.get(name)
}

/// True if `doc` is an `evtx_dump` JSON event.
pub fn is_evtx_json(doc: &Value) -> bool {
    doc.get("Event").and_then(|e| e.get("System")).is_some()
}

/// Reads an `evtx_dump` JSON event (`{"Event": {"System": …, "EventData": …}}`).
pub fn from_evtx_json(doc: &Value) -> Option<WinEvent> {
    let event = doc.get("Event")?;
    let sys = event.get("System")?;
    let mut w = WinEvent {
        provider_name: str_of(attr(sys.get("Provider"), "Name"))
            .or_else(|| str_of(attr(sys.get("Provider"), "EventSourceName"))),
        provider_guid: str_of(attr(sys.get("Provider"), "Guid")),
        event_id: sys
            .get("EventID")
            .map(text_node)
            .and_then(|v| int_of(Some(v)))
            .and_then(|i| u32::try_from(i).ok()),
        version: sys.get("Version").cloned(),
        level: sys.get("Level").cloned(),
        task: sys.get("Task").cloned(),
        opcode: sys.get("Opcode").cloned(),
        keywords: sys.get("Keywords").cloned(),
        record_id: int_of(sys.get("EventRecordID")).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(sys.get("Channel")),
        computer: str_of(sys.get("Computer")),
        time_created_ns: str_of(attr(sys.get("TimeCreated"), "SystemTime"))
            .and_then(|s| parse_rfc3339(&s)),
        process_id: int_of(attr(sys.get("Execution"), "ProcessID")),
        thread_id: int_of(attr(sys.get("Execution"), "ThreadID")),
        user_sid: str_of(attr(sys.get("Security"), "UserID")),
        ..Default::default()
    };
    if let Some(ed) = event.get("EventData") {
        event_data_from_xml_json(ed, &mut w.event_data);
    }
    if let Some(ud) = event.get("UserData") {
        flatten_user_data(ud, &mut w.event_data);
    }
    if let Some(m) = event
        .get("RenderingInfo")
        .and_then(|r| r.get("Message"))
        .and_then(Value::as_str)
    {
        w.message = Some(m.to_string());
    }
    Some(w)
}

/// `EventData` as the XML-to-JSON renderers give it: named `Data` elements as
/// keys; unnamed ones as `Data` (a string, an array or `{"#text": …}`).
fn event_data_from_xml_json(ed: &Value, out: &mut Vec<(String, String)>) {
    let Value::Object(m) = ed else {
        if !ed.is_null() {
            out.push(("param1".into(), value_text(ed)));
        }
        return;
    };
    for (k, v) in m {
        if k.starts_with('#') {
            continue;
        }
        if k == "Data" {
            let inner = text_node(v);
            match inner {
                Value::Array(a) => {
                    for (i, x) in a.iter().enumerate() {
                        out.push((format!("param{}", i + 1), value_text(text_node(x))));
                    }
                }
                other => out.push(("param1".into(), value_text(other))),
            }
            continue;
        }
        out.push((k.clone(), value_text(text_node(v))));
    }
}

/// `UserData` holds one provider-defined element; its leaves become event data.
fn flatten_user_data(ud: &Value, out: &mut Vec<(String, String)>) {
    fn walk(v: &Value, out: &mut Vec<(String, String)>, depth: usize) {
        let Value::Object(m) = v else { return };
        for (k, x) in m {
            if k.starts_with('#') {
                continue;
            }
            match x {
                Value::Object(_) if depth < 8 => walk(x, out, depth + 1),
                other => out.push((k.clone(), value_text(other))),
            }
        }
    }
    walk(ud, out, 0);
}

/// True if `doc` is a Winlogbeat / Elastic Agent document.
pub fn is_winlogbeat(doc: &Value) -> bool {
    doc.get("winlog").is_some_and(Value::is_object)
}

/// Reads the `winlog.*` part of a Winlogbeat document. The caller keeps the
/// document's other fields.
pub fn from_winlogbeat(doc: &Value) -> Option<WinEvent> {
    let wl = doc.get("winlog")?;
    let mut w = WinEvent {
        provider_name: str_of(wl.get("provider_name")),
        provider_guid: str_of(wl.get("provider_guid")),
        event_id: int_of(wl.get("event_id")).and_then(|i| u32::try_from(i).ok()),
        version: wl.get("version").cloned(),
        level: doc.get("log").and_then(|l| l.get("level")).cloned(),
        task: wl.get("task").cloned(),
        opcode: wl.get("opcode").cloned(),
        keywords: wl.get("keywords").cloned(),
        record_id: int_of(wl.get("record_id")).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(wl.get("channel")),
        computer: str_of(wl.get("computer_name"))
            .or_else(|| str_of(doc.get("host").and_then(|h| h.get("name")))),
        time_created_ns: str_of(doc.get("@timestamp")).and_then(|s| parse_rfc3339(&s)),
        process_id: int_of(wl.get("process").and_then(|p| p.get("pid"))),
        thread_id: int_of(
            wl.get("process")
                .and_then(|p| p.get("thread"))
                .and_then(|t| t.get("id")),
        ),
        user_sid: str_of(wl.get("user").and_then(|u| u.get("identifier"))),
        message: str_of(doc.get("message")),
        ..Default::default()
    };
    for key in ["event_data", "user_data"] {
        if let Some(Value::Object(m)) = wl.get(key) {
            for (k, v) in m {
                w.event_data.push((k.clone(), value_text(v)));
            }
        }
    }
    Some(w)
}

/// NXLog / OTRF field names that are `System` metadata or shipper fields, not event data.
const FLAT_META: &[&str] = &[
    "@timestamp",
    "@version",
    "AccountName",
    "AccountType",
    "Category",
    "Channel",
    "Domain",
    "ERROR_EVT_UNRESOLVED",
    "EventID",
    "EventReceivedTime",
    "EventTime",
    "EventType",
    "ExecutionProcessID",
    "ExecutionThreadID",
    "Hostname",
    "Keywords",
    "Level",
    "Message",
    "Opcode",
    "OpcodeValue",
    "ProcessID",
    "ProviderGuid",
    "RecordNumber",
    "Severity",
    "SeverityValue",
    "SourceModuleName",
    "SourceModuleType",
    "SourceName",
    "Task",
    "ThreadID",
    "TimeCreated",
    "UserID",
    "Version",
    "host",
    "port",
    "tags",
    "type",
];

/// True if `doc` looks like an NXLog / OTRF flat Windows record.
pub fn is_flat(doc: &Value) -> bool {
    doc.get("EventID").is_some()
        && (doc.get("SourceName").is_some()
            || doc.get("Channel").is_some()
            || doc.get("Hostname").is_some())
}

/// Reads an NXLog / OTRF flat record.
pub fn from_flat(doc: &Value) -> Option<WinEvent> {
    let m = doc.as_object()?;
    let mut w = WinEvent {
        provider_name: str_of(m.get("SourceName")).or_else(|| str_of(m.get("ProviderName"))),
        provider_guid: str_of(m.get("ProviderGuid")),
        event_id: int_of(m.get("EventID")).and_then(|i| u32::try_from(i).ok()),
        version: m.get("Version").cloned(),
        level: m.get("Level").or_else(|| m.get("Severity")).cloned(),
        task: m.get("Task").cloned(),
        opcode: m.get("OpcodeValue").or_else(|| m.get("Opcode")).cloned(),
        keywords: m.get("Keywords").cloned(),
        record_id: int_of(m.get("RecordNumber")).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(m.get("Channel")),
        computer: str_of(m.get("Hostname")),
        time_created_ns: str_of(m.get("TimeCreated"))
            .and_then(|s| parse_rfc3339(&s))
            .or_else(|| str_of(m.get("@timestamp")).and_then(|s| parse_rfc3339(&s))),
        process_id: int_of(m.get("ProcessID").or_else(|| m.get("ExecutionProcessID"))),
        thread_id: int_of(m.get("ThreadID").or_else(|| m.get("ExecutionThreadID"))),
        user_sid: str_of(m.get("UserID")),
        message: str_of(m.get("Message")),
        ..Default::default()
    };
    for (k, v) in m {
        if FLAT_META.contains(&k.as_str()) {
            continue;
        }
        w.event_data.push((k.clone(), value_text(v)));
    }
    if w.is_sysmon()
        && w.data("ProcessId").is_none()
        && let Some(pid) = w
            .message
            .as_deref()
            .and_then(|msg| message_field(msg, "ProcessId"))
    {
        w.event_data.push(("ProcessId".into(), pid.to_string()));
    }
    Some(w)
}

/// The value of a `Name: value` line in a rendered Sysmon message.
pub fn message_field<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

/// True if `doc` looks like a PowerShell `Get-WinEvent | ConvertTo-Json` record.
pub fn is_powershell(doc: &Value) -> bool {
    doc.get("Id").is_some()
        && doc.get("ProviderName").is_some()
        && (doc.get("Properties").is_some() || doc.get("LogName").is_some())
}

/// Sysmon field order per EventID (schema 4.90, Sysmon 15), for records with
/// positional values only.
fn sysmon_names(id: u32, n: usize) -> Option<&'static [&'static str]> {
    const EID1: &[&str] = &[
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "Image",
        "FileVersion",
        "Description",
        "Product",
        "Company",
        "OriginalFileName",
        "CommandLine",
        "CurrentDirectory",
        "User",
        "LogonGuid",
        "LogonId",
        "TerminalSessionId",
        "IntegrityLevel",
        "Hashes",
        "ParentProcessGuid",
        "ParentProcessId",
        "ParentImage",
        "ParentCommandLine",
        "ParentUser",
    ];
    const EID3: &[&str] = &[
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "Image",
        "User",
        "Protocol",
        "Initiated",
        "SourceIsIpv6",
        "SourceIp",
        "SourceHostname",
        "SourcePort",
        "SourcePortName",
        "DestinationIsIpv6",
        "DestinationIp",
        "DestinationHostname",
        "DestinationPort",
        "DestinationPortName",
    ];
    const EID5: &[&str] = &[
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "Image",
        "User",
    ];
    const EID11: &[&str] = &[
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "Image",
        "TargetFilename",
        "CreationUtcTime",
        "User",
    ];
    const EID22: &[&str] = &[
        "RuleName",
        "UtcTime",
        "ProcessGuid",
        "ProcessId",
        "QueryName",
        "QueryStatus",
        "QueryResults",
        "Image",
        "User",
    ];
    let names = match id {
        1 => EID1,
        3 => EID3,
        5 => EID5,
        11 => EID11,
        22 => EID22,
        _ => return None,
    };
    // Older schemas have the same order minus trailing fields (ParentUser, User).
    (n <= names.len() && n + 1 >= names.len()).then(|| &names[..n])
}

/// .NET `DateTime` as ConvertTo-Json writes it: `/Date(ms)/` (Windows
/// PowerShell 5.1) or ISO 8601 with offset (PowerShell 7).
fn ps_time(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    let s = match v {
        Value::String(s) => s.as_str(),
        // PowerShell 7 with -Depth may write a DateTime as {"value": ..., "DateTime": ...}.
        Value::Object(m) => return ps_time(m.get("value")),
        _ => return None,
    };
    if let Some(rest) = s.strip_prefix("/Date(") {
        let num: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        return num
            .parse::<i64>()
            .ok()
            .map(|ms| ms.saturating_mul(1_000_000));
    }
    parse_rfc3339(s).or_else(|| parse_utc_time(s))
}

/// Reads a PowerShell `Get-WinEvent | ConvertTo-Json` record.
pub fn from_powershell(doc: &Value) -> Option<WinEvent> {
    let m = doc.as_object()?;
    let mut w = WinEvent {
        provider_name: str_of(m.get("ProviderName")),
        provider_guid: str_of(m.get("ProviderId")),
        event_id: int_of(m.get("Id")).and_then(|i| u32::try_from(i).ok()),
        version: m.get("Version").cloned(),
        level: m.get("Level").cloned(),
        task: m.get("Task").cloned(),
        opcode: m.get("Opcode").cloned(),
        keywords: m.get("Keywords").cloned(),
        record_id: int_of(m.get("RecordId")).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(m.get("LogName")),
        computer: str_of(m.get("MachineName")),
        time_created_ns: ps_time(m.get("TimeCreated")),
        process_id: int_of(m.get("ProcessId")),
        thread_id: int_of(m.get("ThreadId")),
        user_sid: match m.get("UserId") {
            Some(Value::Object(u)) => str_of(u.get("Value")),
            other => str_of(other),
        },
        message: str_of(m.get("Message")),
        ..Default::default()
    };
    let values: Vec<String> = match m.get("Properties") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|p| match p {
                Value::Object(o) => value_text(o.get("Value").unwrap_or(&Value::Null)),
                other => value_text(other),
            })
            .collect(),
        _ => Vec::new(),
    };
    let sysmon = w.is_sysmon();
    let from_message = if sysmon {
        w.message
            .as_deref()
            .map(sysmon_message_fields)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if from_message.len() == values.len() && !values.is_empty() {
        // Names and text from the message: Sysmon's own rendering (`LogonId:
        // 0x31FFB`, GUIDs in braces), as in .evtx; Properties would give the
        // hex fields as decimal numbers.
        w.event_data = from_message;
    } else if let Some(names) = w
        .event_id
        .and_then(|id| sysmon_names(id, values.len()))
        .filter(|_| sysmon)
    {
        for (k, v) in names.iter().zip(values) {
            w.event_data.push((k.to_string(), v));
        }
    } else if !from_message.is_empty() {
        w.event_data = from_message;
    } else {
        for (i, v) in values.into_iter().enumerate() {
            w.event_data.push((format!("param{}", i + 1), v));
        }
    }
    for key in ["LevelDisplayName", "TaskDisplayName", "OpcodeDisplayName"] {
        if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
            w.extra
                .push((format!("winlog.powershell.{key}"), v.clone()));
        }
    }
    Some(w)
}

/// `Name: value` pairs of a rendered Sysmon message (first line is the title).
fn sysmon_message_fields(msg: &str) -> Vec<(String, String)> {
    msg.lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.trim();
            (!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric()))
                .then(|| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Flattens a JSON object into `(dotted path, leaf)` pairs (arrays are leaves).
pub fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    flatten_where(prefix, v, &|_| true, &|_| true, out);
}

/// [`flatten`] restricted to the paths `keep` names: `path == k`, or `k`
/// ends with `.` and is a prefix of the path. Subtrees that cannot hold such
/// a path are not walked and nothing outside them is cloned (a Winlogbeat
/// document's `winlog` object, most of it, is skipped whole).
pub fn flatten_kept(prefix: &str, v: &Value, keep: &[&str], out: &mut Vec<(String, Value)>) {
    let kept = |p: &str| {
        keep.iter()
            .any(|k| p == *k || (k.ends_with('.') && p.starts_with(k)))
    };
    // Some kept path lies at or below `p`.
    let may_hold = |p: &str| {
        keep.iter().any(|k| {
            p == *k
                || k.strip_prefix(p).is_some_and(|rest| rest.starts_with('.'))
                || (k.ends_with('.') && p.starts_with(k))
        })
    };
    flatten_where(prefix, v, &may_hold, &kept, out);
}

/// The leaves below the object members whose path passes `walk`, those whose path passes `leaf`.
fn flatten_where(
    prefix: &str,
    v: &Value,
    walk: &dyn Fn(&str) -> bool,
    leaf: &dyn Fn(&str) -> bool,
    out: &mut Vec<(String, Value)>,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if walk(&p) {
                    flatten_where(&p, x, walk, leaf, out);
                }
            }
        }
        _ if prefix.is_empty() => {}
        other => {
            if leaf(prefix) {
                out.push((prefix.to_string(), other.clone()));
            }
        }
    }
}

/// A document's keys, for shape detection messages.
pub fn keys(doc: &Value) -> String {
    match doc {
        Value::Object(m) => m.keys().take(6).cloned().collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_kept_is_flatten_filtered() {
        let doc = json!({
            "winlog": {"event_data": {"Image": "x"}, "channel": "c"},
            "host": {"os": {"name": "w", "build": "1"}, "hostname": "h", "name": "n"},
            "process": {"pid": 4, "parent": {"name": "p"}},
            "agent": {"id": "a", "hostname": "ah"},
            "tags": ["t"],
            "log": {"level": "info", "file": {"path": "/x"}},
        });
        let keep = [
            "agent.id",
            "host.hostname",
            "host.os.",
            "log.level",
            "tags",
            "process.",
        ];
        let mut all = Vec::new();
        flatten("", &doc, &mut all);
        let expected: Vec<_> = all
            .into_iter()
            .filter(|(p, _)| {
                keep.iter()
                    .any(|k| p == k || (k.ends_with('.') && p.starts_with(k)))
            })
            .collect();
        let mut got = Vec::new();
        flatten_kept("", &doc, &keep, &mut got);
        assert_eq!(got, expected);
        assert_eq!(got.len(), 8, "{got:?}");
    }

    #[test]
    fn flat_2019_pid_from_message() {
        let doc = json!({
            "EventID": 3, "SourceName": "Microsoft-Windows-Sysmon",
            "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "IT001",
            "ProcessID": 3140, "Image": "C:\\x.exe", "Initiated": "true",
            "Message": "Network connection detected:\r\nRuleName: \r\nUtcTime: 2019-12-05 04:41:52.717\r\nProcessGuid: {a}\r\nProcessId: 2864\r\nImage: C:\\x.exe"
        });
        let w = from_flat(&doc).unwrap();
        assert_eq!(w.process_id, Some(3140));
        assert_eq!(w.data("ProcessId"), Some("2864"));
        assert_eq!(w.data("Image"), Some("C:\\x.exe"));
        assert_eq!(w.data("Channel"), None);
    }

    #[test]
    fn powershell_positional() {
        let doc = json!({
            "Id": 5, "ProviderName": "Microsoft-Windows-Sysmon",
            "LogName": "Microsoft-Windows-Sysmon/Operational", "MachineName": "pc",
            "TimeCreated": "/Date(1700000000123)/",
            "Properties": [{"Value": "-"}, {"Value": "2023-11-14 22:13:20.120"}, {"Value": "0197231e-f810-6938-b710-000000000800"}, {"Value": 42}, {"Value": "C:\\a.exe"}, {"Value": "X\\y"}]
        });
        let w = from_powershell(&doc).unwrap();
        assert_eq!(w.data("ProcessId"), Some("42"));
        assert_eq!(w.data("User"), Some("X\\y"));
        assert_eq!(w.time_created_ns, Some(1_700_000_000_123_000_000));
    }
}
