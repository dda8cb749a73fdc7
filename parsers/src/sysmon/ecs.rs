//! [`WinEvent`] -> ECS [`Event`], after Elastic's Sysmon integration and
//! Elastic Defend's vocabulary.
//!
//! # Every event
//!
//! | ECS field | source |
//! |---|---|
//! | `@timestamp` | Sysmon `UtcTime`, else `System/TimeCreated/@SystemTime` |
//! | `event.kind` | `event` |
//! | `event.code` | `EventID` (text) |
//! | `event.provider` | provider name |
//! | `event.module` / `event.dataset` | `sysmon` / `windows.sysmon_operational` for Sysmon; `windows` / `windows.<channel>` otherwise (`windows.security`, `windows.powershell_operational`, …) |
//! | `host.name` | `Computer` |
//! | `host.os.type` | `windows` |
//! | `message` | the rendered message, when the exporter kept one |
//! | `winlog.channel`, `winlog.provider_name`, `winlog.provider_guid`, `winlog.computer_name`, `winlog.record_id`, `winlog.event_id` (text, as Winlogbeat 8), `winlog.version`, `winlog.level`, `winlog.task`, `winlog.opcode`, `winlog.keywords`, `winlog.process.pid`, `winlog.process.thread.id`, `winlog.user.identifier` | the `System` block |
//! | `winlog.event_data.<Name>` | every `EventData` pair, value as text (numbers in decimal, booleans `true`/`false`); `UserData` flattened the same way; unnamed `Data` as `param1`, `param2`, … |
//!
//! The `winlog.event_data.*` fields are not in [`Event::extra`]: they stay
//! the `EventData` pairs, as [`Event::lazy`], which rules read directly and
//! writers turn into JSON (same output); read them with [`Event::get`],
//! [`Event::extra_value`] or [`Event::extra_fields`].
//!
//! # Sysmon events
//!
//! All Sysmon events with a subject process: `process.pid` (`ProcessId`, or
//! `SourceProcessId`), `process.entity_id` (`ProcessGuid` / `SourceProcessGuid`,
//! lowercase with braces, as Sysmon renders it), `process.executable` (`Image` /
//! `SourceImage`), `process.name` (its basename); `user.name` / `user.domain`
//! from `User` (`DOMAIN\name`). Placeholders (`-`, empty) are not mapped.
//!
//! | EventID | `event.category` | `event.type` | `event.action` | more |
//! |---|---|---|---|---|
//! | 1 process create | `process` | `start` | `start` | `process.{command_line,args,args_count,working_directory}`, `process.pe.{original_file_name,description,product,company,file_version,imphash}`, `process.hash.{md5,sha1,sha256}` (from `Hashes`, lowercase), `process.parent.{pid,entity_id,executable,name,command_line,args}` |
//! | 2 file creation time changed | `file` | `change` | `creation_time_changed` | `file.*` |
//! | 3 network connection | `network` | `connection`, `start` | `connection_attempted` (`Initiated=true`), else `connection_accepted` | `source.{ip,port,address,domain}`, `destination.{ip,port,address,domain}`, `network.{transport,direction,type}` (`egress`/`ingress`; `ipv4`/`ipv6`) |
//! | 5 process terminated | `process` | `end` | `end` | |
//! | 6 driver loaded | `driver` | `start` | `load` | `file.{path,name}`, `file.hash.*`, `file.code_signature.{subject_name,status,exists,valid}` |
//! | 7 image loaded | `library` | `start` | `load` | `file.*` and `dll.{path,name}`, `dll.hash.*`, `dll.pe.*`, `dll.code_signature.*` |
//! | 8 CreateRemoteThread | `process` | `change` | `create_remote_thread` | `process.*` = source; target in `winlog.event_data` |
//! | 10 process access | `process` | `access` | `access` | `process.*` = source |
//! | 11 file create | `file` | `creation` | `creation` | `file.{path,name,directory,extension}` |
//! | 12, 13, 14 registry | `registry` | `creation`/`deletion`/`change` | `creation`/`deletion`/`modification`/`rename` | `registry.{path,hive,key,value,data.strings}` |
//! | 15 file stream hash | `file` | `creation` | `stream_created` | `file.*`, `file.hash.*` |
//! | 17, 18 pipe | `file` | `creation` / `access` | `pipe_created` / `pipe_connected` | `file.name` = `PipeName` |
//! | 22 DNS query | `network` | `protocol`, `info` | `lookup_result` | `dns.question.name`, `dns.resolved_ip` (the IPs of `QueryResults`; CNAMEs stay in the raw field), `network.protocol: dns` |
//! | 23, 26 file delete | `file` | `deletion` | `deletion` | `file.*` |
//! | 25 process tampering | `process` | `change` | `tampering` | |
//! | other | — | — | — | `winlog.event_data.*` only |
//!
//! # Other channels
//!
//! Every event of another channel gets the common fields, with its
//! `EventData` under `winlog.event_data.*`. Two more are mapped, after
//! Elastic's Security and PowerShell integrations:
//!
//! | channel, EventID | `event.category` | `event.type` | `event.action` | more |
//! |---|---|---|---|---|
//! | Security 4688 process created | `process` | `start` | `created-process` | `process.{pid,executable,name}` (`NewProcessId` (hex), `NewProcessName`), `process.{command_line,args,args_count}` (when command-line auditing is on), `process.parent.{pid,executable,name}` (`ProcessId`, `ParentProcessName`), `user.{id,name,domain}` (the subject), `user.target.{name,domain,id}` |
//! | PowerShell Operational 4104 script block | `process` | `info` | `Execute a Remote Command` | `powershell.file.script_block_text`, `powershell.file.script_block_id`, `powershell.sequence`, `powershell.total`, `file.{path,name,directory,extension}` (`Path`), `user.id` |
//!
//! With `event.category: process` and `event.type: start`, Security 4688
//! events fall under the Sigma `process_creation` logsource like Sysmon
//! EID 1 (`rules/mappings/windows.yml`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{WinEvent, cmdline};
use crate::Event;
use crate::ecs::{FieldValue, LazyFields, LazyGet, LazySource};

/// Maps one Windows event to ECS (see the module docs).
pub fn build(w: &WinEvent) -> Event {
    let mut ev = map(w);
    finish(&mut ev, w.event_data.clone(), w.extra.iter().cloned());
    ev
}

/// [`build`], moving the event's strings into the [`Event`] instead of
/// copying them (the raw EVTX path, where the [`WinEvent`] is not kept).
pub fn build_owned(mut w: WinEvent) -> Event {
    let message = w.message.take();
    let mut ev = map(&w);
    ev.message = message;
    let extra = std::mem::take(&mut w.extra);
    finish(&mut ev, w.event_data, extra);
    ev
}

/// Adds the `EventData` pairs (as [`Event::lazy`], see [`EventData`]) and
/// then the shape's extra fields where no field is yet.
fn finish(
    ev: &mut Event,
    data: Vec<(String, String)>,
    extra: impl IntoIterator<Item = (String, Value)>,
) {
    let data = (!data.is_empty()).then_some(EventData(data));
    for (k, v) in extra {
        if data.as_ref().is_some_and(|d| d.value(&k).is_some()) {
            continue;
        }
        ev.extra.entry(k).or_insert(v);
    }
    ev.lazy = data.map(LazyFields::new);
}

/// The `winlog.event_data.*` fields of one event, kept as the `EventData`
/// name/value pairs the shape reader made: rules read them from the pairs,
/// and the JSON values (a `String` key and value each in a map) are made
/// only when the event is written (`tripline convert`, an alert). A name
/// that repeats holds its last value, as inserting into a map would.
#[derive(Debug)]
struct EventData(Vec<(String, String)>);

impl EventData {
    /// The value at the dotted `path`, if it is one of these fields.
    fn value(&self, path: &str) -> Option<&str> {
        let name = path.strip_prefix(EVENT_DATA)?;
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl LazySource for EventData {
    fn get(&self, path: &str) -> LazyGet<'_> {
        match self.value(path) {
            Some(v) => LazyGet::Scalar(FieldValue::Str(v)),
            None => LazyGet::Absent,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.len() + std::mem::size_of::<(String, String)>())
            .sum()
    }

    fn materialize(&self, out: &mut BTreeMap<String, Value>) {
        for (k, v) in &self.0 {
            out.insert(event_data_key(k), Value::from(v.as_str()));
        }
    }

    // Every value is a string: nothing is structured.
    fn for_each_text(&self, _path: &str, _f: &mut dyn FnMut(&str)) {}
}

const EVENT_DATA: &str = "winlog.event_data.";

/// `winlog.event_data.<name>`.
fn event_data_key(name: &str) -> String {
    let mut k = String::with_capacity(EVENT_DATA.len() + name.len());
    k.push_str(EVENT_DATA);
    k.push_str(name);
    k
}

/// Everything but the `EventData` pairs and the shape's extra fields, which
/// the callers add last: no field mapped here is a `winlog.event_data.*`
/// key, and a shape's extra field never replaces a mapped one.
fn map(w: &WinEvent) -> Event {
    let mut ev = Event::default();
    ev.event.kind = Some("event".into());
    ev.host.os_type = Some("windows".into());
    ev.host.name = w.computer.clone();
    ev.message = w.message.clone();
    let sysmon = w.is_sysmon();

    if let Some(id) = w.event_id {
        ev.extra
            .insert("event.code".into(), Value::from(id.to_string()));
        let code = ev.extra["event.code"].clone();
        ev.extra.insert("winlog.event_id".into(), code);
    }
    if let Some(p) = &w.provider_name {
        ev.extra
            .insert("event.provider".into(), Value::from(p.as_str()));
        ev.extra
            .insert("winlog.provider_name".into(), Value::from(p.as_str()));
    }
    let put = |ev: &mut Event, k: &str, v: &Option<Value>| {
        if let Some(v) = v {
            ev.extra.insert(k.into(), v.clone());
        }
    };
    put(
        &mut ev,
        "winlog.provider_guid",
        &w.provider_guid.as_deref().map(Value::from),
    );
    put(
        &mut ev,
        "winlog.channel",
        &w.channel.as_deref().map(Value::from),
    );
    put(
        &mut ev,
        "winlog.computer_name",
        &w.computer.as_deref().map(Value::from),
    );
    put(&mut ev, "winlog.record_id", &w.record_id.map(Value::from));
    put(&mut ev, "winlog.version", &w.version);
    put(&mut ev, "winlog.level", &w.level);
    put(&mut ev, "winlog.task", &w.task);
    put(&mut ev, "winlog.opcode", &w.opcode);
    put(&mut ev, "winlog.keywords", &w.keywords);
    put(
        &mut ev,
        "winlog.process.pid",
        &w.process_id.map(Value::from),
    );
    put(
        &mut ev,
        "winlog.process.thread.id",
        &w.thread_id.map(Value::from),
    );
    put(
        &mut ev,
        "winlog.user.identifier",
        &w.user_sid.as_deref().map(Value::from),
    );
    if sysmon {
        ev.event.module = Some("sysmon".into());
        ev.event.dataset = Some("windows.sysmon_operational".into());
    } else {
        ev.event.module = Some("windows".into());
        if let Some(c) = &w.channel {
            ev.event.dataset = Some(format!("windows.{}", dataset_suffix(c)));
        }
    }

    ev.timestamp_ns = w
        .known("UtcTime")
        .filter(|_| sysmon)
        .and_then(parse_utc_time)
        .or(w.time_created_ns)
        .unwrap_or(0);

    match w.event_id {
        Some(id) if sysmon => sysmon_event(w, id, &mut ev),
        Some(4688) if w.channel.as_deref() == Some("Security") => {
            security_process_create(w, &mut ev)
        }
        Some(4104) if is_powershell_operational(w) => script_block(w, &mut ev),
        _ => {}
    }
    ev
}

fn is_powershell_operational(w: &WinEvent) -> bool {
    w.channel.as_deref().is_some_and(|c| {
        c.eq_ignore_ascii_case("Microsoft-Windows-PowerShell/Operational")
            || c.eq_ignore_ascii_case("PowerShellCore/Operational")
    })
}

/// Security 4688 "A new process has been created", as Elastic's Security
/// integration maps it: `NewProcessId`/`NewProcessName` are the new process,
/// `ProcessId`/`ParentProcessName` its creator (ids in hex), the subject
/// user is the one who started it, the target user (Windows 10+) the new
/// process's own account when it differs.
fn security_process_create(w: &WinEvent, ev: &mut Event) {
    cat(ev, &["process"], &["start"], "created-process");
    let p = &mut ev.process;
    p.pid = w.known("NewProcessId").and_then(parse_int);
    p.executable = w.known("NewProcessName").map(str::to_string);
    p.name = p.executable.as_deref().map(basename).map(str::to_string);
    // Empty unless "Include command line in process creation events" is on.
    if let Some(c) = w.known("CommandLine") {
        p.args = cmdline::split(c);
        p.args_count = Some(p.args.len() as i64);
        p.command_line = Some(c.to_string());
    }
    p.parent.pid = w.known("ProcessId").and_then(parse_int);
    p.parent.executable = w.known("ParentProcessName").map(str::to_string);
    p.parent.name = p
        .parent
        .executable
        .as_deref()
        .map(basename)
        .map(str::to_string);
    ev.user.id = w.known("SubjectUserSid").map(str::to_string);
    ev.user.name = w.known("SubjectUserName").map(str::to_string);
    if let Some(d) = w.known("SubjectDomainName") {
        ev.extra.insert("user.domain".into(), Value::from(d));
    }
    if let Some(n) = w.known("TargetUserName") {
        ev.extra.insert("user.target.name".into(), Value::from(n));
        if let Some(d) = w.known("TargetDomainName") {
            ev.extra.insert("user.target.domain".into(), Value::from(d));
        }
        if let Some(id) = w.known("TargetUserSid").filter(|s| *s != "S-1-0-0") {
            ev.extra.insert("user.target.id".into(), Value::from(id));
        }
    }
}

/// PowerShell 4104 script block logging, as Elastic's PowerShell integration
/// maps it: `powershell.file.script_block_{text,id}`, `powershell.sequence` /
/// `powershell.total` (a long block is split over several events),
/// `file.*` from `Path` (empty for interactive input), `user.id` from the
/// record's security id. `event.action` is the task's name, which the raw
/// record only has as a number (task 2 of the provider).
fn script_block(w: &WinEvent, ev: &mut Event) {
    cat(ev, &["process"], &["info"], "Execute a Remote Command");
    if let Some(t) = w.data("ScriptBlockText").filter(|t| !t.is_empty()) {
        ev.extra
            .insert("powershell.file.script_block_text".into(), Value::from(t));
    }
    if let Some(id) = w.known("ScriptBlockId") {
        ev.extra
            .insert("powershell.file.script_block_id".into(), Value::from(id));
    }
    for (src, dst) in [
        ("MessageNumber", "powershell.sequence"),
        ("MessageTotal", "powershell.total"),
    ] {
        if let Some(n) = w.known(src).and_then(parse_int) {
            ev.extra.insert(dst.into(), Value::from(n));
        }
    }
    file(w, "Path", "file", ev);
    ev.user.id = w.user_sid.clone();
}

/// `Microsoft-Windows-PowerShell/Operational` -> `powershell_operational`.
fn dataset_suffix(channel: &str) -> String {
    let c = channel
        .strip_prefix("Microsoft-Windows-")
        .unwrap_or(channel);
    let mut out = String::with_capacity(c.len());
    for ch in c.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn cat(ev: &mut Event, category: &[&str], types: &[&str], action: &str) {
    ev.event.category = category.iter().map(|s| s.to_string()).collect();
    ev.event.type_ = types.iter().map(|s| s.to_string()).collect();
    ev.event.action = Some(action.to_string());
}

fn sysmon_event(w: &WinEvent, id: u32, ev: &mut Event) {
    subject(w, ev);
    match id {
        1 => {
            cat(ev, &["process"], &["start"], "start");
            process_create(w, ev);
        }
        2 => {
            cat(ev, &["file"], &["change"], "creation_time_changed");
            file(w, "TargetFilename", "file", ev);
        }
        3 => {
            cat(ev, &["network"], &["connection", "start"], "");
            network(w, ev);
        }
        5 => cat(ev, &["process"], &["end"], "end"),
        6 => {
            cat(ev, &["driver"], &["start"], "load");
            file(w, "ImageLoaded", "file", ev);
            hashes(w, "file", ev);
            signature(w, "file", ev);
        }
        7 => {
            cat(ev, &["library"], &["start"], "load");
            file(w, "ImageLoaded", "file", ev);
            file(w, "ImageLoaded", "dll", ev);
            hashes(w, "dll", ev);
            signature(w, "dll", ev);
            pe(w, "dll.pe", ev);
        }
        8 => cat(ev, &["process"], &["change"], "create_remote_thread"),
        10 => cat(ev, &["process"], &["access"], "access"),
        11 => {
            cat(ev, &["file"], &["creation"], "creation");
            file(w, "TargetFilename", "file", ev);
        }
        12..=14 => registry(w, id, ev),
        15 => {
            cat(ev, &["file"], &["creation"], "stream_created");
            file(w, "TargetFilename", "file", ev);
            hashes(w, "file", ev);
        }
        17 | 18 => {
            let (ty, action) = if id == 17 {
                ("creation", "pipe_created")
            } else {
                ("access", "pipe_connected")
            };
            cat(ev, &["file"], &[ty], action);
            if let Some(p) = w.known("PipeName") {
                ev.extra.insert("file.name".into(), Value::from(p));
            }
        }
        22 => {
            cat(ev, &["network"], &["protocol", "info"], "lookup_result");
            dns(w, ev);
        }
        23 | 26 => {
            cat(ev, &["file"], &["deletion"], "deletion");
            file(w, "TargetFilename", "file", ev);
            hashes(w, "file", ev);
        }
        25 => cat(ev, &["process"], &["change"], "tampering"),
        _ => {}
    }
}

/// The subject process and user, common to most Sysmon events.
fn subject(w: &WinEvent, ev: &mut Event) {
    let p = &mut ev.process;
    p.pid = w
        .known("ProcessId")
        .or_else(|| w.known("SourceProcessId"))
        .and_then(parse_int);
    p.entity_id = w
        .known_ci("ProcessGuid")
        .or_else(|| w.known_ci("SourceProcessGuid"))
        .map(guid);
    p.executable = w
        .known("Image")
        .or_else(|| w.known("SourceImage"))
        .map(str::to_string);
    p.name = p.executable.as_deref().map(basename).map(str::to_string);
    if let Some(u) = w.known("User").or_else(|| w.known("SourceUser")) {
        split_user(u, ev);
    }
}

fn split_user(u: &str, ev: &mut Event) {
    match u.split_once('\\') {
        Some((d, n)) => {
            ev.user.name = Some(n.to_string());
            ev.extra.insert("user.domain".into(), Value::from(d));
        }
        None => ev.user.name = Some(u.to_string()),
    }
}

fn process_create(w: &WinEvent, ev: &mut Event) {
    let p = &mut ev.process;
    if let Some(c) = w.data("CommandLine") {
        p.args = cmdline::split(c);
        p.args_count = Some(p.args.len() as i64);
        p.command_line = Some(c.to_string());
    }
    p.working_directory = w.known("CurrentDirectory").map(str::to_string);
    let pp = &mut p.parent;
    pp.pid = w.known("ParentProcessId").and_then(parse_int);
    pp.entity_id = w
        .known_ci("ParentProcessGuid")
        .filter(|g| !is_zero_guid(g))
        .map(guid);
    pp.executable = w.known("ParentImage").map(str::to_string);
    pp.name = pp.executable.as_deref().map(basename).map(str::to_string);
    if let Some(c) = w.known("ParentCommandLine") {
        pp.args = cmdline::split(c);
        pp.command_line = Some(c.to_string());
    }
    pe(w, "process.pe", ev);
    hashes(w, "process", ev);
}

fn pe(w: &WinEvent, prefix: &str, ev: &mut Event) {
    for (src, dst) in [
        ("OriginalFileName", "original_file_name"),
        ("Description", "description"),
        ("Product", "product"),
        ("Company", "company"),
        ("FileVersion", "file_version"),
    ] {
        if let Some(v) = w.known(src) {
            ev.extra.insert(join(&[prefix, ".", dst]), Value::from(v));
        }
    }
}

/// `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` -> `<entity>.hash.{sha1,md5,sha256}`
/// and `<entity>.pe.imphash` (where ECS keeps the import hash); other
/// algorithms stay in the raw `Hashes` only.
fn hashes(w: &WinEvent, entity: &str, ev: &mut Event) {
    let Some(h) = w.known("Hashes").or_else(|| w.known("Hash")) else {
        return;
    };
    for part in h.split(',') {
        if let Some((alg, val)) = part.split_once('=') {
            let alg = alg.trim().to_ascii_lowercase();
            let path = match alg.as_str() {
                "md5" | "sha1" | "sha256" | "sha384" | "sha512" => join(&[entity, ".hash.", &alg]),
                "imphash" => join(&[entity, ".pe.imphash"]),
                _ => continue,
            };
            ev.extra
                .insert(path, Value::from(val.trim().to_ascii_lowercase()));
        }
    }
}

fn signature(w: &WinEvent, prefix: &str, ev: &mut Event) {
    if let Some(s) = w.known("Signature") {
        ev.extra.insert(
            join(&[prefix, ".code_signature.subject_name"]),
            Value::from(s),
        );
    }
    if let Some(s) = w.known("SignatureStatus") {
        ev.extra
            .insert(join(&[prefix, ".code_signature.status"]), Value::from(s));
        ev.extra.insert(
            join(&[prefix, ".code_signature.valid"]),
            Value::from(s.eq_ignore_ascii_case("valid")),
        );
    }
    if let Some(s) = w.known("Signed") {
        ev.extra.insert(
            join(&[prefix, ".code_signature.exists"]),
            Value::from(s.eq_ignore_ascii_case("true")),
        );
    }
}

/// `file.{path,name,directory,extension}` (or `dll.{path,name}`) from a path field.
fn file(w: &WinEvent, field: &str, prefix: &str, ev: &mut Event) {
    let Some(path) = w.known(field) else { return };
    if prefix == "file" {
        ev.file_path = Some(path.to_string());
    } else {
        ev.extra.insert(join(&[prefix, ".path"]), Value::from(path));
    }
    let name = basename(path);
    ev.extra.insert(join(&[prefix, ".name"]), Value::from(name));
    if prefix == "file" {
        if name.len() < path.len() {
            let dir = &path[..path.len() - name.len()];
            let dir = dir.strip_suffix(['\\', '/']).unwrap_or(dir);
            ev.extra.insert("file.directory".into(), Value::from(dir));
        }
        if let Some((stem, ext)) = name.rsplit_once('.')
            && !stem.is_empty()
            && !ext.is_empty()
        {
            ev.extra.insert("file.extension".into(), Value::from(ext));
        }
    }
}

fn network(w: &WinEvent, ev: &mut Event) {
    let initiated = w
        .known("Initiated")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    ev.event.action = Some(
        if initiated {
            "connection_attempted"
        } else {
            "connection_accepted"
        }
        .into(),
    );
    ev.network.direction = Some(if initiated { "egress" } else { "ingress" }.into());
    ev.network.transport = w.known("Protocol").map(|p| p.to_ascii_lowercase());
    let v6 = w
        .known("SourceIsIpv6")
        .or_else(|| w.known("DestinationIsIpv6"))
        .map(|v| v.eq_ignore_ascii_case("true"));
    ev.network.type_ = v6.map(|v| if v { "ipv6" } else { "ipv4" }.into());
    for ([ip, port, host], ep) in [
        (["SourceIp", "SourcePort", "SourceHostname"], &mut ev.source),
        (
            ["DestinationIp", "DestinationPort", "DestinationHostname"],
            &mut ev.destination,
        ),
    ] {
        ep.ip = w.known(ip).map(str::to_string);
        ep.address = ep.ip.clone();
        ep.port = w.known(port).and_then(parse_int);
        ep.domain = w.known(host).map(str::to_string);
    }
    if let Some(n) = w.known("DestinationPortName") {
        ev.extra.insert("network.protocol".into(), Value::from(n));
    }
}

fn registry(w: &WinEvent, id: u32, ev: &mut Event) {
    let et = w.known("EventType").unwrap_or("");
    let (ty, action) = match et {
        "CreateKey" => ("creation", "creation"),
        "DeleteKey" | "DeleteValue" => ("deletion", "deletion"),
        "RenameKey" => ("change", "rename"),
        _ if id == 12 => ("change", "modification"),
        _ => ("change", "modification"),
    };
    cat(ev, &["registry"], &[ty], action);
    let Some(path) = w.known("TargetObject") else {
        return;
    };
    ev.extra.insert("registry.path".into(), Value::from(path));
    let (hive, rest) = match path.split_once('\\') {
        Some((h, r)) => (h, r),
        None => (path, ""),
    };
    let hive = match hive.to_ascii_uppercase().as_str() {
        "HKLM" | "HKEY_LOCAL_MACHINE" => Some("HKLM"),
        "HKU" | "HKEY_USERS" => Some("HKU"),
        "HKCR" | "HKEY_CLASSES_ROOT" => Some("HKCR"),
        "HKCU" | "HKEY_CURRENT_USER" => Some("HKCU"),
        "HKCC" | "HKEY_CURRENT_CONFIG" => Some("HKCC"),
        _ => None,
    };
    if let Some(h) = hive {
        ev.extra.insert("registry.hive".into(), Value::from(h));
        let is_value = id == 13 || et == "DeleteValue";
        if is_value {
            if let Some((key, value)) = rest.rsplit_once('\\') {
                ev.extra.insert("registry.key".into(), Value::from(key));
                ev.extra.insert("registry.value".into(), Value::from(value));
            }
        } else if !rest.is_empty() {
            ev.extra.insert("registry.key".into(), Value::from(rest));
        }
    }
    if let Some(d) = w.known("Details") {
        ev.extra.insert("registry.data.strings".into(), json!([d]));
    }
}

/// EID 22: `QueryName`, `QueryResults` (`type:  5 a.b.c;::ffff:1.2.3.4;…`).
fn dns(w: &WinEvent, ev: &mut Event) {
    ev.dns_question_name = w.known("QueryName").map(str::to_string);
    ev.extra
        .insert("network.protocol".into(), Value::from("dns"));
    let Some(results) = w.known("QueryResults") else {
        return;
    };
    // The answers (`type:  5 edge.example.net`, IPs) stay in the raw
    // QueryResults; `dns.answers` (an array of objects) is not mapped.
    let mut ips = Vec::new();
    for item in results.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        if item.starts_with("type:") {
            continue;
        }
        let ip = item.strip_prefix("::ffff:").unwrap_or(item);
        if ip.parse::<std::net::IpAddr>().is_ok() {
            ips.push(Value::from(ip));
        }
    }
    if !ips.is_empty() {
        ev.extra.insert("dns.resolved_ip".into(), Value::Array(ips));
    }
}

/// The concatenation of `parts` (field paths, without `format!`).
fn join(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// The file name part of a Windows (or POSIX) path.
pub fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// A GUID in Sysmon's rendering: lowercase, with braces.
pub fn guid(g: &str) -> String {
    let inner = g.trim().trim_start_matches('{').trim_end_matches('}');
    let mut s = String::with_capacity(inner.len() + 2);
    s.push('{');
    s.extend(inner.chars().map(|c| c.to_ascii_lowercase()));
    s.push('}');
    s
}

fn is_zero_guid(g: &str) -> bool {
    g.bytes().all(|b| matches!(b, b'0' | b'-' | b'{' | b'}'))
}

/// Decimal or `0x` hex integer.
pub fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Sysmon `UtcTime` (`2019-12-05 04:41:52.717`) as ns since the epoch.
pub fn parse_utc_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = fixed_time(s.as_bytes(), b' ', None) {
        return t;
    }
    let dt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    dt.and_utc().timestamp_nanos_opt()
}

/// RFC 3339 (`2025-12-10T04:33:20.562782Z`) as ns since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = fixed_time(s.as_bytes(), b'T', Some(b'Z')) {
        return t;
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()?
        .timestamp_nanos_opt()
}

/// The common spelling of both timestamp formats read without chrono's
/// format parser: `YYYY-MM-DD<sep>HH:MM:SS`, then `.` and 1 to 9 digits or
/// nothing, then `end` if given. `None` for anything else (and for second
/// 60), which the caller hands to chrono; `Some(None)` for a date or time out
/// of range, which chrono rejects too.
fn fixed_time(b: &[u8], sep: u8, end: Option<u8>) -> Option<Option<i64>> {
    let b = match end {
        Some(e) => b.strip_suffix(&[e])?,
        None => b,
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != sep
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', frac @ ..] if (1..=9).contains(&frac.len()) => {
            num(20..b.len())? * 10u32.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    if sec >= 60 {
        return None;
    }
    let t = chrono::NaiveDate::from_ymd_opt(y as i32, mo, d)
        .and_then(|date| date.and_hms_nano_opt(h, mi, sec, nanos))
        .and_then(|dt| dt.and_utc().timestamp_nanos_opt());
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: u32, data: &[(&str, &str)]) -> WinEvent {
        WinEvent {
            event_id: Some(id),
            channel: Some(super::super::SYSMON_CHANNEL.into()),
            computer: Some("host1".into()),
            event_data: data
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn process_create() {
        let e = build(&w(
            1,
            &[
                ("UtcTime", "2019-12-05 04:41:52.717"),
                ("ProcessGuid", "0197231E-F810-6938-B710-000000000800"),
                ("ProcessId", "7732"),
                ("Image", r"C:\Windows\System32\bitsadmin.exe"),
                ("CommandLine", r#"bitsadmin  /transfer "n x" https://a/b"#),
                ("User", r"CORP\alice"),
                ("Hashes", "MD5=AB,SHA256=CD,IMPHASH=EF"),
                ("ParentProcessGuid", "00000000-0000-0000-0000-000000000000"),
                ("ParentImage", "-"),
                ("ParentProcessId", "14736"),
            ],
        ));
        assert_eq!(e.event.action.as_deref(), Some("start"));
        assert_eq!(e.process.pid, Some(7732));
        assert_eq!(
            e.process.entity_id.as_deref(),
            Some("{0197231e-f810-6938-b710-000000000800}")
        );
        assert_eq!(e.process.name.as_deref(), Some("bitsadmin.exe"));
        assert_eq!(
            e.process.args,
            vec!["bitsadmin", "/transfer", "n x", "https://a/b"]
        );
        assert_eq!(e.process.parent.pid, Some(14736));
        assert_eq!(e.process.parent.entity_id, None);
        assert_eq!(e.process.parent.executable, None);
        assert_eq!(e.user.name.as_deref(), Some("alice"));
        assert_eq!(e.extra["user.domain"], "CORP");
        assert_eq!(e.extra["process.hash.md5"], "ab");
        assert_eq!(
            e.get("winlog.event_data.User"),
            Some(FieldValue::Str(r"CORP\alice"))
        );
        assert!(!e.extra.contains_key("winlog.event_data.User"));
        assert_eq!(
            e.extra_value("winlog.event_data.User"),
            Some(&json!(r"CORP\alice"))
        );
        assert_eq!(e.timestamp_rfc3339(), "2019-12-05T04:41:52.717Z");
        assert_eq!(e.host.name.as_deref(), Some("host1"));
    }

    #[test]
    fn network_and_dns() {
        let e = build(&w(
            3,
            &[
                ("Initiated", "true"),
                ("Protocol", "tcp"),
                ("SourceIp", "10.0.0.1"),
                ("SourcePort", "50000"),
                ("SourceIsIpv6", "false"),
                ("DestinationIp", "169.254.169.254"),
                ("DestinationPort", "80"),
                ("DestinationHostname", "instance-data.ec2.internal"),
            ],
        ));
        assert_eq!(e.event.action.as_deref(), Some("connection_attempted"));
        assert_eq!(e.network.direction.as_deref(), Some("egress"));
        assert_eq!(e.network.type_.as_deref(), Some("ipv4"));
        assert_eq!(e.destination.port, Some(80));
        assert_eq!(
            e.destination.domain.as_deref(),
            Some("instance-data.ec2.internal")
        );
        let d = build(&w(
            22,
            &[
                ("QueryName", "example.org"),
                (
                    "QueryResults",
                    "type:  5 edge.example.net;::ffff:93.184.216.34;",
                ),
            ],
        ));
        assert_eq!(d.dns_question_name.as_deref(), Some("example.org"));
        assert_eq!(d.extra["dns.resolved_ip"], json!(["93.184.216.34"]));
    }

    #[test]
    fn registry_split() {
        let e = build(&w(
            13,
            &[
                ("EventType", "SetValue"),
                ("TargetObject", r"HKLM\SOFTWARE\Run\evil"),
                ("Details", "c:\\x.exe"),
            ],
        ));
        assert_eq!(e.extra["registry.key"], r"SOFTWARE\Run");
        assert_eq!(e.extra["registry.value"], "evil");
        assert_eq!(e.event.category, vec!["registry"]);
    }

    #[test]
    fn security_4688_and_powershell_4104() {
        let mut e = w(
            4688,
            &[
                ("SubjectUserSid", "S-1-5-18"),
                ("SubjectUserName", "HOST$"),
                ("SubjectDomainName", "WORKGROUP"),
                ("NewProcessId", "0x1bc4"),
                ("NewProcessName", r"C:\Windows\System32\cmd.exe"),
                ("CommandLine", r#"cmd /c "echo a""#),
                ("ProcessId", "0x274"),
                ("ParentProcessName", r"C:\Windows\explorer.exe"),
                ("TargetUserName", "-"),
                ("TargetUserSid", "S-1-0-0"),
            ],
        );
        e.channel = Some("Security".into());
        let ev = build(&e);
        assert_eq!(ev.event.category, ["process"]);
        assert_eq!(ev.event.type_, ["start"]);
        assert_eq!(ev.process.pid, Some(0x1bc4));
        assert_eq!(ev.process.name.as_deref(), Some("cmd.exe"));
        assert_eq!(ev.process.args, ["cmd", "/c", "echo a"]);
        assert_eq!(ev.process.parent.pid, Some(0x274));
        assert_eq!(ev.process.parent.name.as_deref(), Some("explorer.exe"));
        assert_eq!(ev.user.id.as_deref(), Some("S-1-5-18"));
        assert_eq!(ev.extra["user.domain"], "WORKGROUP");
        assert!(!ev.extra.contains_key("user.target.name"), "placeholder");
        // Not Security: raw fields only.
        e.channel = Some("Application".into());
        assert!(build(&e).event.category.is_empty());

        let mut p = w(
            4104,
            &[
                ("MessageNumber", "1"),
                ("MessageTotal", "2"),
                ("ScriptBlockText", "IEX (New-Object Net.WebClient)"),
                ("ScriptBlockId", "f5521cbd-656e-4296-b74d-9ffb4eec23b0"),
                ("Path", r"C:\Users\a\x.ps1"),
            ],
        );
        p.channel = Some("Microsoft-Windows-PowerShell/Operational".into());
        p.user_sid = Some("S-1-5-21-1".into());
        let ev = build(&p);
        assert_eq!(ev.event.type_, ["info"]);
        assert_eq!(
            ev.extra["powershell.file.script_block_text"],
            "IEX (New-Object Net.WebClient)"
        );
        assert_eq!(ev.extra["powershell.total"], 2);
        assert_eq!(ev.extra["file.name"], "x.ps1");
        assert_eq!(ev.user.id.as_deref(), Some("S-1-5-21-1"));
    }

    #[test]
    fn timestamps_as_chrono_reads_them() {
        let chrono_utc = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f")
                .ok()?
                .and_utc()
                .timestamp_nanos_opt()
        };
        let chrono_rfc = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s.trim())
                .ok()?
                .timestamp_nanos_opt()
        };
        for body in [
            "2019-12-05 04:41:52.717",
            "2019-12-05 04:41:52",
            "2019-12-05 04:41:52.",
            "2019-12-05 04:41:52.1",
            "2019-12-05 04:41:52.123456789",
            "2019-12-05 04:41:52.1234567891",
            "2019-12-05 04:41:60.5",
            "2019-12-05 24:00:00.000",
            "2019-12-05 23:60:00",
            "2019-02-29 00:00:00",
            "2020-02-29 00:00:00",
            "2019-13-01 00:00:00",
            "2019-00-01 00:00:00",
            "2019-12-00 00:00:00",
            "0000-01-01 00:00:00",
            "1677-09-21 00:12:43.145224191",
            "1677-09-21 00:12:43.145224192",
            "2262-04-11 23:47:16.854775807",
            "2262-04-11 23:47:16.854775808",
            "9999-12-31 23:59:59.999999999",
            " 2019-12-05 04:41:52.717 ",
            "2019-12-05 04:41:52.71x",
            "2019-12-05 04:41:5",
            "2019-1-05 04:41:52",
            "+2019-12-05 04:41:52",
            "2019-12-05 4:41:52.717",
            "2019-12-05 04:41:52+00:00",
            "",
        ] {
            assert_eq!(parse_utc_time(body), chrono_utc(body), "{body:?}");
            for (sep, end) in [
                ("T", "Z"),
                ("T", "z"),
                ("t", "Z"),
                (" ", "Z"),
                ("T", "+02:00"),
                ("T", ""),
            ] {
                let r = format!("{}{end}", body.replacen(' ', sep, 1));
                assert_eq!(parse_rfc3339(&r), chrono_rfc(&r), "{r:?}");
            }
        }
    }

    #[test]
    fn dataset_names() {
        assert_eq!(dataset_suffix("Security"), "security");
        assert_eq!(
            dataset_suffix("Microsoft-Windows-PowerShell/Operational"),
            "powershell_operational"
        );
        assert_eq!(dataset_suffix("Windows PowerShell"), "windows_powershell");
    }
}
