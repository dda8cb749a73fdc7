//! A completed auditd event (its records) -> one ECS [`Event`].
//!
//! The field table lives in the [`crate::auditd`] module docs. Classification:
//!
//! 1. If the event has a *type record* — a record other than the syscall
//!    auxiliaries (`SYSCALL`, `URINGOP`, `EXECVE`, `PATH`, `CWD`, `SOCKADDR`,
//!    `PROCTITLE`, `OBJ_PID`, `FD_PAIR`, `BPRM_FCAPS`, `CAPSET`, `MMAP`, `IPC`,
//!    `MQ_*`, `OPENAT2`, `UNKNOWN[n]`, ...) — the first one decides
//!    (`USER_LOGIN`, `SERVICE_START`, `AVC`, `LOGIN`, ...), see [`type_class`].
//! 2. Otherwise the syscall decides: execve/execveat, connect, bind,
//!    accept/accept4 (also through i386/ppc/s390 `socketcall`),
//!    fork/vfork/clone/clone3, or any other syscall (action = its name).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::Value as Json;

use super::coalesce::CompletedEvent;
use super::lazy::AuditdFields;
use super::line::{Record, hex_decode, parse_execve_key};
use super::proctable::{Image, ProcTable};
use super::sockaddr::{self, SockAddr};
use super::tables::Arch;
use crate::Event;
use crate::ecs::LazyFields;

/// Records that only describe the syscall they belong to.
fn is_aux(r: &Record) -> bool {
    is_aux_type(&r.rtype())
}

/// True for record types that only describe the syscall they belong to.
pub fn is_aux_type(t: &str) -> bool {
    matches!(
        t,
        "SYSCALL"
            | "URINGOP"
            | "EXECVE"
            | "PATH"
            | "CWD"
            | "SOCKADDR"
            | "PROCTITLE"
            | "OBJ_PID"
            | "FD_PAIR"
            | "BPRM_FCAPS"
            | "CAPSET"
            | "MMAP"
            | "IPC"
            | "IPC_SET_PERM"
            | "MQ_OPEN"
            | "MQ_SENDRECV"
            | "MQ_NOTIFY"
            | "MQ_GETSETATTR"
            | "SOCKETCALL"
            | "KERNEL_OTHER"
            | "OPENAT2"
            | "REPLACE"
            | "EOE"
    ) || t.starts_with("UNKNOWN[")
}

/// `(event.category, event.type, event.action)` for a type record.
pub fn type_class(
    t: &str,
) -> Option<(
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
)> {
    const AUTH: &[&str] = &["authentication"];
    const IAM: &[&str] = &["iam"];
    const CONF: &[&str] = &["configuration"];
    const IDS: &[&str] = &["intrusion_detection"];
    const PROC: &[&str] = &["process"];
    const HOST: &[&str] = &["host"];
    const SESSION: &[&str] = &["session"];
    const INFO: &[&str] = &["info"];
    const START: &[&str] = &["start"];
    const END: &[&str] = &["end"];
    const CHANGE: &[&str] = &["change"];
    const USER_CHANGE: &[&str] = &["user", "change"];
    const GROUP_CHANGE: &[&str] = &["group", "change"];
    Some(match t {
        "USER_LOGIN" => (AUTH, START, "logged-in"),
        "USER_LOGOUT" => (AUTH, END, "logged-out"),
        "USER_AUTH" => (AUTH, INFO, "authenticated"),
        "USER_ACCT" => (AUTH, INFO, "was-authorized"),
        "USER_ERR" => (AUTH, &["error"], "error"),
        "CRED_ACQ" => (AUTH, INFO, "acquired-credentials"),
        "CRED_DISP" => (AUTH, INFO, "disposed-credentials"),
        "CRED_REFR" => (AUTH, INFO, "refreshed-credentials"),
        "GRP_AUTH" => (AUTH, INFO, "authenticated-to-group"),
        "LOGIN" => (AUTH, INFO, "changed-login-id"),
        "ANOM_LOGIN_FAILURES" => (AUTH, INFO, "failed-log-in-too-many-times"),
        "ANOM_LOGIN_LOCATION" => (AUTH, INFO, "attempted-log-in-from-unusual-place"),
        "ANOM_LOGIN_SESSIONS" => (AUTH, INFO, "opened-too-many-sessions"),
        "ANOM_LOGIN_TIME" => (AUTH, INFO, "attempted-log-in-during-unusual-hour"),
        "USER_START" => (SESSION, START, "started-session"),
        "USER_END" => (SESSION, END, "ended-session"),
        "ADD_USER" => (IAM, &["user", "creation"], "added-user-account"),
        "DEL_USER" => (IAM, &["user", "deletion"], "deleted-user-account"),
        "ADD_GROUP" => (IAM, &["group", "creation"], "added-group-account"),
        "DEL_GROUP" => (IAM, &["group", "deletion"], "deleted-group-account"),
        "USER_MGMT" => (IAM, USER_CHANGE, "modified-user-account"),
        "GRP_MGMT" => (IAM, GROUP_CHANGE, "modified-group-account"),
        "USER_CHAUTHTOK" => (IAM, USER_CHANGE, "changed-password"),
        "GRP_CHAUTHTOK" => (IAM, GROUP_CHANGE, "changed-group-password"),
        "ACCT_LOCK" => (IAM, USER_CHANGE, "locked-account"),
        "ACCT_UNLOCK" => (IAM, USER_CHANGE, "unlocked-account"),
        "CHUSER_ID" => (IAM, USER_CHANGE, "changed-user-id"),
        "CHGRP_ID" => (IAM, GROUP_CHANGE, "changed-group"),
        "USER_ROLE_CHANGE" | "ROLE_ASSIGN" | "ROLE_REMOVE" | "ROLE_MODIFY" => {
            (IAM, USER_CHANGE, "changed-role")
        }
        "SERVICE_START" => (PROC, START, "started-service"),
        "SERVICE_STOP" => (PROC, END, "stopped-service"),
        "USER_CMD" => (PROC, INFO, "ran-command"),
        "TTY" | "USER_TTY" => (PROC, INFO, "typed"),
        "DAEMON_START" => (PROC, START, "started-audit"),
        "DAEMON_END" => (PROC, END, "stopped-audit"),
        "DAEMON_ABORT" => (PROC, END, "aborted-audit"),
        "DAEMON_CONFIG" | "DAEMON_RECONFIG" => (CONF, CHANGE, "configured-audit"),
        "SYSTEM_BOOT" => (HOST, START, "booted-system"),
        "SYSTEM_SHUTDOWN" => (HOST, END, "shutdown-system"),
        "SYSTEM_RUNLEVEL" => (HOST, CHANGE, "changed-to-runlevel"),
        "TIME_ADJNTPVAL" | "TIME_INJOFFSET" => (HOST, CHANGE, "changed-system-time"),
        "CONFIG_CHANGE" => (CONF, CHANGE, "changed-audit-configuration"),
        "USYS_CONFIG" => (CONF, CHANGE, "changed-configuration"),
        "NETFILTER_CFG" => (
            &["configuration", "network"],
            CHANGE,
            "loaded-firewall-rule",
        ),
        "MAC_POLICY_LOAD" | "USER_MAC_POLICY_LOAD" => (CONF, CHANGE, "loaded-selinux-policy"),
        "MAC_STATUS" | "USER_MAC_STATUS" => (CONF, CHANGE, "changed-selinux-enforcement"),
        "MAC_CONFIG_CHANGE" | "USER_MAC_CONFIG_CHANGE" => (CONF, CHANGE, "changed-selinux-boolean"),
        "KERN_MODULE" => (&["driver"], CHANGE, "loaded-kernel-module"),
        "SOFTWARE_UPDATE" => (&["package"], CHANGE, "software-updated"),
        "AVC" => (IDS, INFO, "violated-selinux-policy"),
        "USER_AVC" => (IDS, INFO, "access-permission"),
        "SELINUX_ERR" | "USER_SELINUX_ERR" => (IDS, INFO, "caused-mac-policy-error"),
        "SECCOMP" => (IDS, INFO, "violated-seccomp-policy"),
        "ANOM_PROMISCUOUS" => (IDS, INFO, "changed-promiscuous-mode-on-device"),
        "ANOM_ABEND" => (IDS, INFO, "crashed-program"),
        "ANOM_LINK" => (IDS, INFO, "used-suspicious-link"),
        "ANOM_CREAT" => (IDS, INFO, "created-suspicious-file"),
        t if t.starts_with("ANOM_") => (IDS, INFO, "anomaly"),
        _ => return None,
    })
}

fn s(v: Option<Cow<'_, str>>) -> Option<String> {
    v.map(Cow::into_owned)
}

/// `?`, empty and `(none)` mean "no value" in auditd.
fn meaningful(v: Option<String>) -> Option<String> {
    v.filter(|x| !x.is_empty() && x != "?" && x != "(none)")
}

fn int(r: &Record, k: &str) -> Option<i64> {
    int_of(r.text(k).as_deref())
}

fn int_of(v: Option<&str>) -> Option<i64> {
    v?.trim().parse().ok()
}

fn st(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// `/usr/bin/python2.7;58d1ccfb (deleted)` -> `/usr/bin/python2.7`: the kernel
/// appends ` (deleted)` when the binary was removed while running, and rpm
/// replaces binaries through `NAME;HEXID` temporaries. The raw value stays in
/// `auditd.data.exe`.
pub fn clean_exe(exe: &str) -> &str {
    let e = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    if let Some((base, tag)) = e.rsplit_once(';')
        && tag.len() == 8
        && tag.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return base;
    }
    e
}

fn basename(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// EXECVE `aN` / `aN[i]` across every EXECVE record of the event.
fn execve_args(records: &[Record]) -> (Vec<String>, Option<i64>) {
    let mut whole: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let mut chunks: BTreeMap<usize, BTreeMap<usize, Vec<u8>>> = BTreeMap::new();
    let mut argc = None;
    for r in records.iter().filter(|r| r.is("EXECVE")) {
        if argc.is_none() {
            argc = int(r, "argc");
        }
        for (k, v, null) in r.fields_bytes() {
            if null {
                continue;
            }
            match parse_execve_key(k) {
                Some((n, None)) => {
                    whole.entry(n).or_insert_with(|| v.into_owned());
                }
                Some((n, Some(i))) => {
                    chunks
                        .entry(n)
                        .or_default()
                        .entry(i)
                        .or_insert_with(|| v.into_owned());
                }
                None => {}
            }
        }
    }
    for (n, parts) in chunks {
        whole
            .entry(n)
            .or_insert_with(|| parts.into_values().flatten().collect());
    }
    let max = whole.keys().next_back().copied();
    let args: Vec<String> = match max {
        None => Vec::new(),
        // Dense (the normal case): fill lost indexes with "" so positions hold.
        Some(m) if m < whole.len() + 64 => (0..=m)
            .map(|i| {
                whole
                    .get(&i)
                    .map_or_else(String::new, |b| String::from_utf8_lossy(b).into_owned())
            })
            .collect(),
        Some(_) => whole
            .values()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect(),
    };
    (args, argc)
}

/// PROCTITLE: NUL-separated argv (hex) or one quoted string.
fn proctitle_args(r: &Record) -> Vec<String> {
    let Some(b) = r.bytes("proctitle") else {
        return Vec::new();
    };
    let mut parts: Vec<String> = b
        .split(|&c| c == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

/// What the classification decided.
enum Kind {
    Exec,
    Connect,
    Bind,
    Accept,
    Fork(i64),
    Syscall,
    Typed,
}

/// The ECS mapping for one completed event.
pub fn build(ev: &CompletedEvent, table: &mut ProcTable) -> Event {
    let recs = &ev.records;
    let host: &[u8] = ev.key.node.as_deref().unwrap_or(b"");
    let mut e = Event {
        timestamp_ns: ev
            .key
            .sec
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(ev.key.nanos)),
        ..Event::default()
    };
    e.event.kind = Some("event".into());
    e.event.module = Some("auditd".into());
    e.event.dataset = Some("auditd.log".into());
    e.event.sequence = i64::try_from(ev.key.serial).ok();
    e.host.os_type = Some("linux".into());
    e.host.name = ev
        .key
        .node
        .as_deref()
        .map(|n| String::from_utf8_lossy(n).into_owned());

    let sys_ix = recs.iter().position(|r| r.is("SYSCALL") || r.is("URINGOP"));
    let typed_ix = recs.iter().position(|r| !is_aux(r));
    let main_ix = typed_ix.or(sys_ix).or((!recs.is_empty()).then_some(0));
    let typed = typed_ix.map(|i| &recs[i]);
    let main = main_ix.map(|i| &recs[i]);

    // auditd.data (the main record, then the SYSCALL record's other fields)
    // and auditd.records stay in compact form until an output needs them.
    // The mapping reads its fields there too (decoded once).
    let data_recs: Vec<usize> = main_ix
        .into_iter()
        .chain(sys_ix.filter(|s| Some(*s) != main_ix))
        .collect();
    let mut data = AuditdFields::new(recs, &data_recs);
    let mut derived: Vec<(&'static str, String)> = Vec::new();
    let sys_text = |k: &str| sys_ix.and_then(|i| data.text(i, k));

    // Syscall identity.
    let arch = sys_text("ARCH")
        .and_then(Arch::from_name)
        .or_else(|| sys_text("arch").and_then(Arch::from_hex))
        .filter(|_| sys_ix.is_some());
    let sc_name: Option<String> = sys_text("SYSCALL").map(str::to_string).or_else(|| {
        let nr: u32 = sys_text("syscall")?.parse().ok()?;
        arch?.syscall_name(nr).map(str::to_string)
    });
    let exit = int_of(sys_text("exit"));
    let success = sys_text("success").map(|v| v == "yes");
    let a0 = sys_text("a0").and_then(|v| u64::from_str_radix(v, 16).ok());
    let kind = if typed.is_some() {
        Kind::Typed
    } else {
        match sc_name.as_deref() {
            Some("execve" | "execveat") => Kind::Exec,
            Some("connect") => Kind::Connect,
            Some("bind") => Kind::Bind,
            Some("accept" | "accept4") => Kind::Accept,
            Some("socketcall") => match a0 {
                Some(2) => Kind::Bind,
                Some(3) => Kind::Connect,
                Some(5 | 18) => Kind::Accept,
                _ => Kind::Syscall,
            },
            // CLONE_THREAD (0x10000) in clone's flags makes a thread, not a process.
            Some("clone") if a0.is_some_and(|f| f & 0x1_0000 != 0) => Kind::Syscall,
            Some("fork" | "vfork" | "clone" | "clone3") if success != Some(false) => match exit {
                Some(child) if child > 0 => Kind::Fork(child),
                _ => Kind::Syscall,
            },
            _ => Kind::Syscall,
        }
    };

    if let Some(n) = &sc_name {
        derived.push(("syscall", n.clone()));
    }
    if let Some(n) = arch.and_then(|a| a.name()) {
        derived.push(("arch", n.to_string()));
    }

    // Process, user and outcome from the SYSCALL (or the type record).
    if let Some(pr) = sys_ix.or(main_ix) {
        let t = |k: &str| data.text(pr, k);
        e.process.pid = int_of(t("pid"));
        e.process.parent.pid = int_of(t("ppid"));
        if let Some(exe) = meaningful(st(t("exe"))) {
            let clean = clean_exe(&exe).to_string();
            e.process.name = Some(basename(&clean));
            e.process.executable = Some(clean);
        }
        if e.process.name.is_none() {
            e.process.name = meaningful(st(t("comm")));
        }
        e.user.id = meaningful(st(t("uid")));
        e.user.name = meaningful(st(t("UID")));
        let unset =
            |v: &Option<String>| v.as_deref() == Some("4294967295") || v.as_deref() == Some("-1");
        let auid = meaningful(st(t("auid")));
        if !unset(&auid)
            && let Some(a) = auid
        {
            e.extra.insert("user.audit.id".into(), Json::String(a));
            if let Some(n) = meaningful(st(t("AUID"))).filter(|n| n != "unset") {
                e.extra.insert("user.audit.name".into(), Json::String(n));
            }
        }
        for (raw, en, path) in [
            ("euid", "EUID", "user.effective"),
            ("gid", "GID", "user.group"),
        ] {
            if let Some(v) = meaningful(st(t(raw))) {
                e.extra.insert(format!("{path}.id"), Json::String(v));
            }
            if let Some(v) = meaningful(st(t(en))) {
                e.extra.insert(format!("{path}.name"), Json::String(v));
            }
        }
    }
    e.event.outcome = match success {
        Some(true) => Some("success".into()),
        Some(false) => Some("failure".into()),
        None => main_ix
            .and_then(|i| data.text(i, "res"))
            .and_then(|v| match v {
                "success" | "yes" | "1" => Some("success".to_string()),
                "failed" | "failure" | "no" | "0" => Some("failure".to_string()),
                _ => None,
            }),
    };

    let cwd = recs
        .iter()
        .position(|r| r.is("CWD"))
        .and_then(|i| meaningful(st(data.text(i, "cwd"))));
    let title_args = recs
        .iter()
        .find(|r| r.is("PROCTITLE"))
        .map(proctitle_args)
        .unwrap_or_default();
    if !title_args.is_empty() {
        e.process.title = Some(title_args.join(" "));
    }
    e.process.working_directory = cwd.clone();

    let seen = Image {
        executable: e.process.executable.clone(),
        name: e.process.name.clone(),
        ..Image::default()
    };

    match kind {
        Kind::Exec => {
            e.event.category = vec!["process".into()];
            e.event.action = Some("exec".into());
            let (mut args, argc) = execve_args(recs);
            if let Some(n) = argc {
                derived.push(("argc", n.to_string()));
            }
            if args.is_empty() {
                args = title_args.clone();
            }
            if !args.is_empty() {
                e.process.args_count = i64::try_from(args.len()).ok();
                e.process.command_line = Some(args.join(" "));
                e.process.args = args;
            }
            if success == Some(false) {
                // A failed execve does not replace the image: not a start.
                e.event.type_ = vec!["info".into()];
                apply_observed(&mut e, table, host, &seen);
            } else {
                e.event.type_ = vec!["start".into()];
                if let Some(pid) = e.process.pid {
                    let image = Image {
                        executable: e.process.executable.clone(),
                        name: e.process.name.clone(),
                        args: e.process.args.clone(),
                        command_line: e.process.command_line.clone(),
                        working_directory: cwd,
                    };
                    let (me, parent) =
                        table.exec(host, pid, e.process.parent.pid, e.timestamp_ns, image);
                    e.process.entity_id = Some(me.entity_id);
                    e.process.parent.entity_id = me.parent_entity_id;
                    e.process.parent.pid = me.ppid;
                    if let Some(p) = parent {
                        e.process.parent.executable = p.executable;
                        e.process.parent.name = p.name;
                        e.process.parent.args = p.args;
                        e.process.parent.command_line = p.command_line;
                    }
                }
            }
        }
        Kind::Fork(child) => {
            e.event.category = vec!["process".into()];
            e.event.type_ = vec!["start".into()];
            e.event.action = Some("fork".into());
            if let Some(ppid) = e.process.pid {
                let parent = table.observe(host, ppid, e.process.parent.pid, e.timestamp_ns, &seen);
                let me = table.fork(host, ppid, child, e.timestamp_ns, &seen);
                e.process.pid = Some(child);
                e.process.parent.pid = Some(ppid);
                e.process.entity_id = Some(me.entity_id);
                e.process.parent.entity_id = Some(parent.entity_id);
                e.process.parent.executable = parent.executable;
                e.process.parent.name = parent.name;
                e.process.parent.args = parent.args.clone();
                e.process.parent.command_line = parent.command_line;
                e.process.executable = me.executable.or(e.process.executable.take());
                e.process.name = me.name.or(e.process.name.take());
                e.process.args = me.args;
                e.process.args_count = (!e.process.args.is_empty())
                    .then(|| i64::try_from(e.process.args.len()).ok())
                    .flatten();
                e.process.command_line = me.command_line;
            }
        }
        Kind::Connect | Kind::Bind | Kind::Accept => {
            e.event.category = vec!["network".into()];
            let (types, action, dir): (&[&str], &str, &str) = match kind {
                Kind::Connect => (&["connection", "start"], "connection_attempted", "egress"),
                Kind::Accept => (&["connection", "start"], "connection_accepted", "ingress"),
                _ => (&["info"], "bound-socket", "ingress"),
            };
            e.event.type_ = types.iter().map(|t| t.to_string()).collect();
            e.event.action = Some(action.into());
            e.network.direction = Some(dir.into());
            if matches!(kind, Kind::Connect) && exit == Some(-115) {
                // EINPROGRESS: a non-blocking connect that was started;
                // whether it succeeded is not in the log.
                e.event.outcome = Some("unknown".into());
            }
            let sa = recs
                .iter()
                .find(|r| r.is("SOCKADDR"))
                .and_then(|r| r.raw("saddr"))
                .and_then(hex_decode)
                .and_then(|b| sockaddr::decode(&b, arch.map(Arch::big_endian)));
            if let Some(sa) = sa {
                derived.push(("socket.family", sa.family_name()));
                let ep = if matches!(kind, Kind::Connect) {
                    &mut e.destination
                } else {
                    &mut e.source
                };
                match sa {
                    SockAddr::Inet { ip, port } => {
                        let ip = match ip {
                            IpAddr::V6(v6) => {
                                v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
                            }
                            v4 => v4,
                        };
                        derived.push(("socket.addr", ip.to_string()));
                        derived.push(("socket.port", port.to_string()));
                        ep.ip = Some(ip.to_string());
                        ep.address = Some(ip.to_string());
                        ep.port = Some(i64::from(port));
                        e.network.type_ = Some(if ip.is_ipv4() { "ipv4" } else { "ipv6" }.into());
                    }
                    SockAddr::Unix(path) => {
                        derived.push(("socket.path", path.clone()));
                        if !path.is_empty() {
                            ep.address = Some(path);
                        }
                    }
                    SockAddr::Other(_) => {}
                }
            }
            apply_observed(&mut e, table, host, &seen);
        }
        Kind::Syscall => {
            e.event.action = Some(sc_name.clone().unwrap_or_else(|| {
                main.map_or_else(|| "unknown".into(), |r| r.rtype().to_ascii_lowercase())
            }));
            set_file_path(&mut e, recs, cwd.as_deref());
            if e.process.pid.is_some() {
                apply_observed(&mut e, table, host, &seen);
            }
        }
        Kind::Typed => {
            let r = typed.expect("typed record");
            let t = r.rtype();
            match type_class(&t) {
                Some((cats, types, action)) => {
                    e.event.category = cats.iter().map(|c| c.to_string()).collect();
                    e.event.type_ = types.iter().map(|c| c.to_string()).collect();
                    e.event.action = Some(action.into());
                }
                None => e.event.action = Some(t.to_ascii_lowercase()),
            }
            if t == "AVC" || t == "USER_AVC" {
                avc_details(&mut e, r);
            }
            // User-space messages: the account and peer they are about.
            let cats = &e.event.category;
            if cats
                .iter()
                .any(|c| c == "authentication" || c == "iam" || c == "session")
            {
                // The account the message is about, not the reporting daemon.
                let acct = meaningful(s(r.text("acct")));
                let id = meaningful(s(r.text("id")));
                if acct.is_some() || id.is_some() {
                    e.user.name = acct;
                    e.user.id = id;
                }
            }
            if let Some(addr) = meaningful(s(r.text("addr")))
                && let Ok(ip) = addr.parse::<IpAddr>()
            {
                e.source.ip = Some(ip.to_string());
                e.source.address = Some(addr);
            }
            set_file_path(&mut e, recs, cwd.as_deref());
            if e.process.pid.is_some() {
                apply_observed(&mut e, table, host, &seen);
            }
        }
    }

    for (k, v) in &derived {
        data.derive(k, v);
    }
    data.set_truncated(ev.truncated);
    e.lazy = Some(LazyFields::new(data));
    e
}

/// AVC: SELinux `seresult=denied` or AppArmor `apparmor="DENIED"`.
fn avc_details(e: &mut Event, r: &Record) {
    let apparmor = s(r.text("apparmor"));
    let verdict = apparmor
        .as_deref()
        .map(str::to_ascii_lowercase)
        .or_else(|| s(r.text("seresult")));
    match verdict.as_deref() {
        Some("denied") => e.event.type_ = vec!["denied".into()],
        Some("allowed" | "granted" | "audit") => e.event.type_ = vec!["allowed".into()],
        Some(other) if apparmor.is_some() => {
            // AppArmor STATUS etc.: profile management, not a policy decision.
            e.event.category = vec!["configuration".into()];
            e.event.type_ = vec!["change".into()];
            e.event.action = Some(format!("apparmor-{other}"));
            return;
        }
        _ => {}
    }
    if apparmor.is_some() && r.is("AVC") {
        e.event.action = Some("violated-apparmor-policy".into());
    }
}

/// `file.path` from the first non-PARENT PATH record, joined with CWD when relative.
fn set_file_path(e: &mut Event, recs: &[Record], cwd: Option<&str>) {
    let path = recs
        .iter()
        .filter(|r| r.is("PATH"))
        .find(|r| r.text("nametype").as_deref() != Some("PARENT"))
        .and_then(|r| meaningful(s(r.text("name"))));
    e.file_path = path.map(|p| match cwd {
        Some(c) if !p.starts_with('/') => format!("{}/{}", c.trim_end_matches('/'), p),
        _ => p,
    });
}

/// Fills entity ids, image and parent fields of a non-exec event from the table.
fn apply_observed(e: &mut Event, table: &mut ProcTable, host: &[u8], seen: &Image) {
    let Some(pid) = e.process.pid else {
        return;
    };
    let me = table.observe(host, pid, e.process.parent.pid, e.timestamp_ns, seen);
    e.process.entity_id = Some(me.entity_id);
    e.process.parent.entity_id = me.parent_entity_id;
    if e.process.executable.is_none() {
        e.process.executable = me.executable;
        e.process.name = me.name.or(e.process.name.take());
    }
    if e.process.args.is_empty() && !me.args.is_empty() {
        e.process.args_count = i64::try_from(me.args.len()).ok();
        e.process.args = me.args;
    }
    if e.process.command_line.is_none() {
        e.process.command_line = me.command_line;
    }
    if e.process.working_directory.is_none() {
        e.process.working_directory = me.working_directory;
    }
    if let Some(pp) = me.ppid.and_then(|pp| table.get(host, pp)) {
        e.process.parent.executable = pp.executable.clone();
        e.process.parent.name = pp.name.clone();
        e.process.parent.args = pp.args.clone();
        e.process.parent.command_line = pp.command_line.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exe_cleanup() {
        assert_eq!(
            clean_exe("/usr/bin/python2.7;58d1ccfb (deleted)"),
            "/usr/bin/python2.7"
        );
        assert_eq!(clean_exe("/usr/bin/x (deleted)"), "/usr/bin/x");
        assert_eq!(clean_exe("/opt/a;b"), "/opt/a;b");
        assert_eq!(clean_exe("/bin/sh"), "/bin/sh");
    }

    #[test]
    fn classes() {
        assert_eq!(type_class("USER_LOGIN").unwrap().0, &["authentication"]);
        assert_eq!(type_class("ADD_USER").unwrap().0, &["iam"]);
        assert_eq!(type_class("CONFIG_CHANGE").unwrap().0, &["configuration"]);
        assert_eq!(type_class("ANOM_WHATEVER").unwrap().2, "anomaly");
        assert!(type_class("BPF").is_none());
    }
}
