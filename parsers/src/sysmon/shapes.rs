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
use crate::json::node::{Json, Kind, text};

fn str_of<J: Json>(v: Option<&J>) -> Option<String> {
    match v?.kind() {
        Kind::Str(s) => Some(s.to_string()),
        Kind::Num(n) => Some(n.to_string()),
        Kind::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An integer from a JSON number or a decimal/hex string (shared with the EVTX reader).
pub(super) fn int_of(v: Option<&Value>) -> Option<i64> {
    int_of_json(v)
}

/// An RFC 3339 string as ns since the epoch (what `str_of` then
/// `parse_rfc3339` gives: numbers and booleans never parse).
fn time_of<J: Json>(v: Option<&J>) -> Option<i64> {
    match v?.kind() {
        Kind::Str(s) => parse_rfc3339(s),
        _ => None,
    }
}

fn int_of_json<J: Json>(v: Option<&J>) -> Option<i64> {
    match v?.kind() {
        Kind::Num(n) => n.as_i64().or_else(|| n.as_u64().map(|u| u as i64)),
        Kind::Str(s) => super::ecs::parse_int(s),
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
    winlogbeat(doc)
}

/// [`from_winlogbeat`] for any [`Json`] view (one pass over `winlog`).
pub(crate) fn winlogbeat<J: Json>(doc: &J) -> Option<WinEvent> {
    let wl = doc.get("winlog")?;
    let [
        provider_name,
        provider_guid,
        event_id,
        version,
        task,
        opcode,
        keywords,
        record_id,
        channel,
        computer_name,
        process,
        user,
        event_data,
        user_data,
    ] = {
        let mut s: [Option<&J>; 14] = [None; 14];
        for (k, v) in wl.entries() {
            let i = match k {
                "provider_name" => 0,
                "provider_guid" => 1,
                "event_id" => 2,
                "version" => 3,
                "task" => 4,
                "opcode" => 5,
                "keywords" => 6,
                "record_id" => 7,
                "channel" => 8,
                "computer_name" => 9,
                "process" => 10,
                "user" => 11,
                "event_data" => 12,
                "user_data" => 13,
                _ => continue,
            };
            s[i] = Some(v);
        }
        s
    };
    let mut w = WinEvent {
        provider_name: str_of(provider_name),
        provider_guid: str_of(provider_guid),
        event_id: int_of_json(event_id).and_then(|i| u32::try_from(i).ok()),
        version: version.map(J::to_value),
        level: doc.get("log").and_then(|l| l.get("level")).map(J::to_value),
        task: task.map(J::to_value),
        opcode: opcode.map(J::to_value),
        keywords: keywords.map(J::to_value),
        record_id: int_of_json(record_id).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(channel),
        computer: str_of(computer_name)
            .or_else(|| str_of(doc.get("host").and_then(|h| h.get("name")))),
        time_created_ns: time_of(doc.get("@timestamp")),
        process_id: int_of_json(process.and_then(|p| p.get("pid"))),
        thread_id: int_of_json(
            process
                .and_then(|p| p.get("thread"))
                .and_then(|t| t.get("id")),
        ),
        user_sid: str_of(user.and_then(|u| u.get("identifier"))),
        message: str_of(doc.get("message")),
        ..Default::default()
    };
    for m in [event_data, user_data].into_iter().flatten() {
        if m.is_object() {
            w.event_data.reserve(m.len_if_object().unwrap_or(0));
            for (k, v) in m.entries() {
                w.event_data.push((k.to_string(), text(v)));
            }
        }
    }
    Some(w)
}

/// What a flat record's top-level field is to [`flat`]: a `System` or
/// shipper field (`Some`), read into slot `i` (`Some(Some(i))`), or event
/// data (`None`). `ProviderName` is both event data and read, see [`flat`].
///
/// The NXLog / OTRF field names that are `System` metadata or shipper
/// fields, not event data: `@timestamp`, `@version`, `AccountName`,
/// `AccountType`, `Category`, `Channel`, `Domain`, `ERROR_EVT_UNRESOLVED`,
/// `EventID`, `EventReceivedTime`, `EventTime`, `EventType`,
/// `ExecutionProcessID`, `ExecutionThreadID`, `Hostname`, `Keywords`,
/// `Level`, `Message`, `Opcode`, `OpcodeValue`, `ProcessID`, `ProviderGuid`,
/// `RecordNumber`, `Severity`, `SeverityValue`, `SourceModuleName`,
/// `SourceModuleType`, `SourceName`, `Task`, `ThreadID`, `TimeCreated`,
/// `UserID`, `Version`, `host`, `port`, `tags`, `type`.
fn flat_meta(k: &str) -> Option<Option<usize>> {
    // By length first: each key is compared with the few names of its length.
    let slot = match k.len() {
        4 => match k {
            "Task" => F_TASK,
            "host" | "port" | "tags" | "type" => return Some(None),
            _ => return None,
        },
        5 => match k {
            "Level" => F_LEVEL,
            _ => return None,
        },
        6 => match k {
            "Domain" => return Some(None),
            "Opcode" => F_OPCODE,
            "UserID" => F_USER_ID,
            _ => return None,
        },
        7 => match k {
            "Channel" => F_CHANNEL,
            "EventID" => F_EVENT_ID,
            "Message" => F_MESSAGE,
            "Version" => F_VERSION,
            _ => return None,
        },
        8 => match k {
            "@version" | "Category" => return Some(None),
            "Hostname" => F_HOSTNAME,
            "Keywords" => F_KEYWORDS,
            "Severity" => F_SEVERITY,
            "ThreadID" => F_THREAD_ID,
            _ => return None,
        },
        9 => match k {
            "EventTime" | "EventType" => return Some(None),
            "ProcessID" => F_PROCESS_ID,
            _ => return None,
        },
        10 => match k {
            "@timestamp" => F_TIMESTAMP,
            "SourceName" => F_SOURCE_NAME,
            _ => return None,
        },
        11 => match k {
            "AccountName" | "AccountType" => return Some(None),
            "OpcodeValue" => F_OPCODE_VALUE,
            "TimeCreated" => F_TIME_CREATED,
            _ => return None,
        },
        12 => match k {
            "ProviderGuid" => F_PROVIDER_GUID,
            "RecordNumber" => F_RECORD_NUMBER,
            _ => return None,
        },
        13 => match k {
            "SeverityValue" => return Some(None),
            _ => return None,
        },
        16 => match k {
            "SourceModuleName" | "SourceModuleType" => return Some(None),
            _ => return None,
        },
        17 => match k {
            "EventReceivedTime" => return Some(None),
            "ExecutionThreadID" => F_EXECUTION_THREAD_ID,
            _ => return None,
        },
        18 => match k {
            "ExecutionProcessID" => F_EXECUTION_PROCESS_ID,
            _ => return None,
        },
        20 => match k {
            "ERROR_EVT_UNRESOLVED" => return Some(None),
            _ => return None,
        },
        _ => return None,
    };
    Some(Some(slot))
}

const F_SOURCE_NAME: usize = 0;
const F_PROVIDER_NAME: usize = 1;
const F_PROVIDER_GUID: usize = 2;
const F_EVENT_ID: usize = 3;
const F_VERSION: usize = 4;
const F_LEVEL: usize = 5;
const F_SEVERITY: usize = 6;
const F_TASK: usize = 7;
const F_OPCODE_VALUE: usize = 8;
const F_OPCODE: usize = 9;
const F_KEYWORDS: usize = 10;
const F_RECORD_NUMBER: usize = 11;
const F_CHANNEL: usize = 12;
const F_HOSTNAME: usize = 13;
const F_TIME_CREATED: usize = 14;
const F_TIMESTAMP: usize = 15;
const F_PROCESS_ID: usize = 16;
const F_EXECUTION_PROCESS_ID: usize = 17;
const F_THREAD_ID: usize = 18;
const F_EXECUTION_THREAD_ID: usize = 19;
const F_USER_ID: usize = 20;
const F_MESSAGE: usize = 21;
const F_SLOTS: usize = 22;

/// True if `doc` looks like an NXLog / OTRF flat Windows record.
pub fn is_flat(doc: &Value) -> bool {
    doc.get("EventID").is_some()
        && (doc.get("SourceName").is_some()
            || doc.get("Channel").is_some()
            || doc.get("Hostname").is_some())
}

/// Reads an NXLog / OTRF flat record.
pub fn from_flat(doc: &Value) -> Option<WinEvent> {
    flat(doc)
}

/// [`from_flat`] for any [`Json`] view, in one pass over the members.
pub(crate) fn flat<J: Json>(doc: &J) -> Option<WinEvent> {
    if !doc.is_object() {
        return None;
    }
    let mut s: [Option<&J>; F_SLOTS] = [None; F_SLOTS];
    let mut event_data = Vec::with_capacity(doc.len_if_object().unwrap_or(0));
    for (k, v) in doc.entries() {
        match flat_meta(k) {
            Some(Some(i)) => s[i] = Some(v),
            Some(None) => {}
            None => {
                if k == "ProviderName" {
                    s[F_PROVIDER_NAME] = Some(v);
                }
                event_data.push((k.to_string(), text(v)));
            }
        }
    }
    let mut w = WinEvent {
        provider_name: str_of(s[F_SOURCE_NAME]).or_else(|| str_of(s[F_PROVIDER_NAME])),
        provider_guid: str_of(s[F_PROVIDER_GUID]),
        event_id: int_of_json(s[F_EVENT_ID]).and_then(|i| u32::try_from(i).ok()),
        version: s[F_VERSION].map(J::to_value),
        level: s[F_LEVEL].or(s[F_SEVERITY]).map(J::to_value),
        task: s[F_TASK].map(J::to_value),
        opcode: s[F_OPCODE_VALUE].or(s[F_OPCODE]).map(J::to_value),
        keywords: s[F_KEYWORDS].map(J::to_value),
        record_id: int_of_json(s[F_RECORD_NUMBER]).and_then(|i| u64::try_from(i).ok()),
        channel: str_of(s[F_CHANNEL]),
        computer: str_of(s[F_HOSTNAME]),
        time_created_ns: time_of(s[F_TIME_CREATED]).or_else(|| time_of(s[F_TIMESTAMP])),
        process_id: int_of_json(s[F_PROCESS_ID].or(s[F_EXECUTION_PROCESS_ID])),
        thread_id: int_of_json(s[F_THREAD_ID].or(s[F_EXECUTION_THREAD_ID])),
        user_sid: str_of(s[F_USER_ID]),
        message: str_of(s[F_MESSAGE]),
        event_data,
        ..Default::default()
    };
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
    flatten_where(&mut prefix.to_string(), v, &|_| true, &|_| true, out);
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
    flatten_where(&mut prefix.to_string(), v, &may_hold, &kept, out);
}

/// Calls `f` with the path and value of every leaf [`flatten_kept`] (from
/// the root) would give, in the same order, without cloning them.
///
/// What `keep` can still match below a path is carried down as a bit set
/// (bit i: `keep[i]` starts with the path and a `.`) plus whether a
/// `prefix.` entry already holds the path, so each member costs a compare
/// with the entries still alive, not a scan of every entry on the whole
/// path. `keep` has at most 64 entries, none empty or starting with `.`.
pub(crate) fn for_each_kept<J: Json>(v: &J, keep: &[&str], f: &mut dyn FnMut(&str, &J)) {
    assert!(keep.len() <= 64, "for_each_kept: at most 64 paths");
    debug_assert!(keep.iter().all(|k| !k.is_empty() && !k.starts_with('.')));
    if v.len_if_object().is_some_and(|n| n > 0) {
        let live = u64::MAX.checked_shr(64 - keep.len() as u32).unwrap_or(0);
        kept_members(&mut String::new(), v, keep, live, false, f);
    }
}

/// The members of the non-empty object `v` at `path` (see [`for_each_kept`]).
fn kept_members<J: Json>(
    path: &mut String,
    v: &J,
    keep: &[&str],
    live: u64,
    all: bool,
    f: &mut dyn FnMut(&str, &J),
) {
    let len = path.len();
    // Where the rest of a live entry starts: past the path and its `.`.
    let off = if len == 0 { 0 } else { len + 1 };
    for (k, x) in v.entries() {
        let (mut exact, mut below, mut held) = (false, 0u64, all);
        let mut bits = live;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let r = &keep[i][off..];
            if r == k {
                exact = true;
            }
            if r.len() > k.len() && r.as_bytes()[k.len()] == b'.' && r.starts_with(k) {
                below |= 1 << i;
            }
            if (r.is_empty() || r.ends_with('.')) && k.starts_with(r) {
                held = true;
            }
        }
        if !(exact || held || below != 0) {
            continue;
        }
        if len > 0 {
            path.push('.');
        }
        path.push_str(k);
        if x.len_if_object().is_some_and(|n| n > 0) {
            kept_members(path, x, keep, below, held, f);
        } else if (exact || held) && !path.is_empty() {
            f(path, x);
        }
        path.truncate(len);
    }
}

/// The leaves below the object members whose path passes `walk`, those
/// whose path passes `leaf`. `path` is the path of `v`, restored on return.
fn flatten_where<J: Json>(
    path: &mut String,
    v: &J,
    walk: &dyn Fn(&str) -> bool,
    leaf: &dyn Fn(&str) -> bool,
    out: &mut Vec<(String, Value)>,
) {
    match v.len_if_object() {
        Some(n) if n > 0 => {
            let len = path.len();
            for (k, x) in v.entries() {
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                if walk(path) {
                    flatten_where(path, x, walk, leaf, out);
                }
                path.truncate(len);
            }
        }
        _ if path.is_empty() => {}
        _ => {
            if leaf(path) {
                out.push((path.clone(), v.to_value()));
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

    const KEEP: &[&str] = &[
        "agent.id",
        "host.hostname",
        "host.os.",
        "log.level",
        "tags",
        "process.",
        "a.b.c",
        "a.b.d.",
        "x",
    ];

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
        let keep = KEEP;
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
        flatten_kept("", &doc, keep, &mut got);
        assert_eq!(got, expected);
        assert_eq!(got.len(), 8, "{got:?}");
    }

    #[test]
    fn for_each_kept_is_flatten_kept() {
        let keep = KEEP;
        for doc in [
            json!({
                "winlog": {"event_data": {"Image": "x"}, "channel": "c"},
                "host": {"os": {"name": "w", "build": "1", "x": {}}, "hostname": "h", "name": "n"},
                "process": {"pid": 4, "parent": {"name": "p", "args": [1]}, "x": {}},
                "agent": {"id": "a", "hostname": "ah", "id.x": 1},
                "tags": ["t"],
                "log": {"level": {"a": 1}, "file": {"path": "/x"}},
            }),
            // Dotted and empty keys, prefixes of entries, objects where leaves are kept.
            json!({
                "host.os": {"name": 1, "": 2, "os.": 3},
                "host": {"os.name": 1, "os.": {"x": 1}, "os": 2, "hostname": {}, "": {"os": 1}},
                "process.pid": 5,
                "process.": {"": 1},
                "a": {"b.c": 1, "b": {"c": {"x": 1}, "d": 2, "d.e": 3, "dd": 4}, "b.d": {"": 5}},
                "a.b": {"c": [1], "d.": 6},
                "": {"x": 1, "agent": {"id": 1}},
                "x": {},
                "tags.": 1,
                "tag": 1,
            }),
            json!({}),
            json!([1]),
        ] {
            let mut want = Vec::new();
            flatten_kept("", &doc, keep, &mut want);
            let mut got = Vec::new();
            for_each_kept(&doc, keep, &mut |p, v| got.push((p.to_string(), v.clone())));
            assert_eq!(got, want, "{doc}");
        }
    }

    #[test]
    fn flat_meta_names() {
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
        for k in FLAT_META {
            assert!(flat_meta(k).is_some(), "{k}");
        }
        for k in ["ProviderName", "ProcessId", "Image", "task", "", "EventId"] {
            assert!(flat_meta(k).is_none(), "{k}");
        }
        let mut slots: Vec<_> = FLAT_META.iter().filter_map(|k| flat_meta(k)?).collect();
        slots.push(F_PROVIDER_NAME);
        slots.sort_unstable();
        assert_eq!(slots, (0..F_SLOTS).collect::<Vec<_>>());
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
