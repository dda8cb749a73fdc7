//! Linux auditd: `audit.log` text (raw or ENRICHED) to ECS events.
//!
//! Pipeline: [`line`](mod@line) parses one line into a [`line::Record`] (no UTF-8
//! assumption, fields are ranges into the line); [`coalesce`] joins the
//! records of one event (same `node`, time stamp and serial) until `EOE`, the
//! reorder window or end of input; [`ecs`] maps the event to an
//! [`Event`], using [`proctable`] for `process.entity_id` and lineage.
//!
//! Blank lines and lines starting with `#` (comments in test captures) are
//! skipped. A line that is not an audit record is one [`ParseError`]; the
//! stream goes on.
//!
//! # Example
//!
//! ```
//! use tripline_parsers::{auditd::AuditdParser, Location, Parser};
//!
//! let mut p = AuditdParser::new();
//! let mut out = Vec::new();
//! let lines: [&[u8]; 3] = [
//!     b"type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e syscall=42 success=no exit=-115 ppid=1 pid=1172 uid=0 comm=\"google_accounts\" exe=2F7573722F62696E2F707974686F6E322E37 key=(null)",
//!     b"type=SOCKADDR msg=audit(1492037289.295:58): saddr=02000050A9FEA9FE0000000000000000",
//!     b"type=EOE msg=audit(1492037289.295:58): ",
//! ];
//! for (i, l) in lines.iter().enumerate() {
//!     p.feed(l, Location { line: i as u64 + 1, offset: 0 }, &mut |e| out.push(e)).unwrap();
//! }
//! p.flush(&mut |e| out.push(e));
//! let ev = &out[0];
//! assert_eq!(ev.event.action.as_deref(), Some("connection_attempted"));
//! assert_eq!(ev.destination.ip.as_deref(), Some("169.254.169.254"));
//! assert_eq!(ev.destination.port, Some(80));
//! assert_eq!(ev.process.executable.as_deref(), Some("/usr/bin/python2.7"));
//! ```
//!
//! # Field mapping (auditd -> ECS)
//!
//! | ECS field | auditd source |
//! |---|---|
//! | `@timestamp` | `msg=audit(SEC.MILLIS:…)` |
//! | `event.kind` | always `event` |
//! | `event.module` / `event.dataset` | `auditd` / `auditd.log` |
//! | `event.sequence` | the serial in `msg=audit(…:SERIAL)` |
//! | `event.category`, `event.type`, `event.action` | see *Classification* below |
//! | `event.outcome` | SYSCALL `success=yes/no` -> `success`/`failure`; user-space `res=success/failed`; a connect with `exit=-115` (EINPROGRESS) -> `unknown` |
//! | `host.name` | `node=` prefix, when present |
//! | `host.os.type` | always `linux` |
//! | `process.pid` / `process.parent.pid` | SYSCALL `pid` / `ppid` (for a fork: the child from `exit`, parent = `pid`; for an exec reporting `ppid=1` after the real parent exited, the parent the process table knows — raw value in `auditd.data.ppid`) |
//! | `process.executable` | `exe` (hex decoded; a trailing ` (deleted)` and an rpm `;XXXXXXXX` temp suffix removed — raw value in `auditd.data.exe`) |
//! | `process.name` | basename of `process.executable`, else `comm` |
//! | `process.args`, `process.args_count` | EXECVE `aN` and `aN[i]` chunks (hex decoded, joined across EXECVE records); PROCTITLE when there is no EXECVE |
//! | `process.command_line` | `process.args` joined with single spaces |
//! | `process.working_directory` | CWD `cwd` |
//! | `process.title` | PROCTITLE `proctitle` (NUL-separated argv joined with spaces) |
//! | `process.entity_id`, `process.parent.entity_id` | process table: 16 hex chars of FNV-1a(host, pid, exec/fork time), see [`proctable`] |
//! | `process.parent.{executable,name,args,command_line}` | process table: the parent's earlier exec (or fork) |
//! | `user.id` / `user.name` | `uid` / enriched `UID`; for authentication, session and iam events: `acct` (and `id`) |
//! | `user.audit.id` / `user.audit.name` | `auid` / enriched `AUID` (omitted when unset, 4294967295) |
//! | `user.effective.{id,name}`, `user.group.{id,name}` | `euid`/`EUID`, `gid`/`GID` |
//! | `destination.{ip,port,address}` | connect: SOCKADDR `saddr` (AF_INET/AF_INET6; IPv4-mapped IPv6 shown as IPv4; AF_UNIX: `address` = path, `@name` for abstract sockets) |
//! | `source.{ip,port,address}` | bind/accept: SOCKADDR `saddr`; user-space records: `addr` when it is an IP |
//! | `network.type` | `ipv4` / `ipv6` from the socket family |
//! | `network.direction` | connect `egress`; bind, accept `ingress` |
//! | `file.path` | first non-`PARENT` PATH `name` (joined with CWD when relative), for events other than exec and network |
//! | `auditd.data.*` | every field of the main record (the type record, else SYSCALL), then the SYSCALL's other fields; decoded values as strings, `(null)` as null. `auditd.data.syscall` is the syscall *name* (enriched `SYSCALL=` or the built-in x86_64/i386/aarch64/arm/ppc/s390 tables), `auditd.data.arch` the arch name; user-space `msg='…'` fields are flattened in; enriched fields keep their upper-case names (`auditd.data.AUID`) |
//! | `auditd.data.argc` | EXECVE `argc` |
//! | `auditd.data.socket.{family,addr,port,path}` | decoded SOCKADDR (`family`: `inet`, `inet6`, `local`, `netlink`, ...) |
//! | `auditd.records` | every record in arrival order (except EOE): `[{"type": "SYSCALL", "fields": {...}}]`; values decoded, but hex whose bytes are not UTF-8 is kept as the hex text, so nothing is lost; a repeated key becomes an array |
//! | `auditd.truncated` | `true` when records were dropped by a per-event cap |
//!
//! # Classification
//!
//! | event | `event.category` | `event.type` | `event.action` |
//! |---|---|---|---|
//! | execve/execveat, success | `process` | `start` | `exec` |
//! | execve/execveat, failed | `process` | `info` | `exec` |
//! | fork/vfork/clone/clone3 (not `CLONE_THREAD`) | `process` | `start` | `fork` |
//! | connect (incl. `socketcall` SYS_CONNECT) | `network` | `connection`, `start` | `connection_attempted` |
//! | accept/accept4 | `network` | `connection`, `start` | `connection_accepted` |
//! | bind | `network` | `info` | `bound-socket` |
//! | any other syscall | — | — | the syscall name (`ptrace`, `write`, ...) |
//! | USER_LOGIN / USER_LOGOUT | `authentication` | `start` / `end` | `logged-in` / `logged-out` |
//! | USER_AUTH, USER_ACCT, CRED_ACQ/DISP/REFR, LOGIN, USER_ERR | `authentication` | `info` (`error`) | `authenticated`, `was-authorized`, `acquired-credentials`, ..., `changed-login-id` |
//! | USER_START / USER_END | `session` | `start` / `end` | `started-session` / `ended-session` |
//! | ADD_USER, DEL_USER, ADD_GROUP, DEL_GROUP, USER_MGMT, GRP_MGMT, USER_CHAUTHTOK, ... | `iam` | `user`/`group` + `creation`/`deletion`/`change` | `added-user-account`, ... |
//! | SERVICE_START / SERVICE_STOP | `process` | `start` / `end` | `started-service` / `stopped-service` |
//! | USER_CMD, TTY, USER_TTY | `process` | `info` | `ran-command`, `typed` |
//! | SYSTEM_BOOT/SHUTDOWN/RUNLEVEL, TIME_ADJNTPVAL | `host` | `start`/`end`/`change` | `booted-system`, ..., `changed-system-time` |
//! | CONFIG_CHANGE, DAEMON_CONFIG, USYS_CONFIG, MAC_* | `configuration` | `change` | `changed-audit-configuration`, ... |
//! | AVC, USER_AVC, SELINUX_ERR, SECCOMP | `intrusion_detection` | `denied` / `allowed` / `info` | `violated-selinux-policy`, `violated-apparmor-policy`, `access-permission`, ... (AppArmor `STATUS`: `configuration`/`change`, `apparmor-status`) |
//! | ANOM_* | `intrusion_detection` (ANOM_LOGIN_*: `authentication`) | `info` | `changed-promiscuous-mode-on-device`, `crashed-program`, ... |
//! | KERN_MODULE | `driver` | `change` | `loaded-kernel-module` |
//! | anything else | — | — | the record type in lower case (`unknown[1420]`, `bpf`) |
//!
//! Names follow Elastic Defend for exec and connections and auditbeat for the
//! rest. The event's *type record* (the first record that is not a syscall
//! auxiliary such as PATH, CWD or SOCKADDR) decides the class; without one,
//! the syscall does.

pub mod coalesce;
pub mod ecs;
pub mod lazy;
pub mod line;
pub mod proctable;
pub mod sockaddr;
mod tables;

use crate::{Event, Location, ParseError, Parser};

/// True if `head` (the first bytes of an input) looks like audit.log text:
/// the first non-blank, non-comment line starts with `type=` or `node=` and
/// carries an `audit(` stamp, or any line has `msg=audit(`.
pub fn looks_like_auditd(head: &[u8]) -> bool {
    if memchr::memmem::find(head, b"msg=audit(").is_some() {
        return true;
    }
    let first = head
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    match first {
        Some(l) => {
            (l.starts_with(b"type=") || l.starts_with(b"node="))
                && memchr::memmem::find(l, b"audit(").is_some()
        }
        None => false,
    }
}

/// The auditd push parser: lines in, one event per completed audit event out.
///
/// One parser per input stream: the coalescer and the process table are
/// per-stream state.
#[derive(Debug, Default)]
pub struct AuditdParser {
    coalescer: coalesce::Coalescer,
    table: proctable::ProcTable,
}

impl AuditdParser {
    /// A parser with default limits (see [`coalesce`] and [`proctable`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Coalescing counters so far.
    pub fn stats(&self) -> coalesce::CoalesceStats {
        self.coalescer.stats()
    }

    /// [`Parser::feed`] that also passes each event's *origin*: the byte
    /// offset (from `loc`) of the event's first record. Live mode uses it with
    /// [`pending_offsets`](Self::pending_offsets) to checkpoint exactly.
    ///
    /// # Errors
    /// As [`Parser::feed`].
    pub fn feed_at(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event, u64),
    ) -> Result<(), ParseError> {
        let t = line.trim_ascii();
        if t.is_empty() || t.starts_with(b"#") {
            return Ok(());
        }
        let rec = line::parse_line(t).map_err(|m| ParseError::new(loc, m))?;
        let table = &mut self.table;
        self.coalescer
            .push_at(rec, loc.offset, &mut |ev| {
                let off = ev.offset;
                out(ecs::build(&ev, table), off)
            })
            .map_err(|m| ParseError::new(loc, m))
    }

    /// [`Parser::flush`] with each event's origin offset (see [`feed_at`](Self::feed_at)).
    pub fn flush_at(&mut self, out: &mut dyn FnMut(Event, u64)) {
        let table = &mut self.table;
        self.coalescer.flush(&mut |ev| {
            let off = ev.offset;
            out(ecs::build(&ev, table), off)
        });
    }

    /// A parser that starts with `table` (the process table of the stream's
    /// previous file, so lineage survives log rotation).
    pub fn with_process_table(table: proctable::ProcTable) -> Self {
        AuditdParser {
            coalescer: coalesce::Coalescer::default(),
            table,
        }
    }

    /// Takes the process table out (leaving an empty one), for the parser of
    /// the file that follows this one after a rotation.
    pub fn take_process_table(&mut self) -> proctable::ProcTable {
        std::mem::take(&mut self.table)
    }

    /// The process table, e.g. to swap in a table shared by the files of one
    /// followed path (live mode) for a call.
    pub fn process_table_mut(&mut self) -> &mut proctable::ProcTable {
        &mut self.table
    }

    /// Sets the clock that stamps arriving records (see [`coalesce::Coalescer::set_clock`]).
    pub fn set_clock(&mut self, now_ms: u64) {
        self.coalescer.set_clock(now_ms);
    }

    /// Emits the events that have been quiet for `quiet_ms` (see
    /// [`coalesce::Coalescer::expire_quiet`]), with their origin offsets.
    pub fn expire_quiet_at(&mut self, quiet_ms: u64, out: &mut dyn FnMut(Event, u64)) {
        let table = &mut self.table;
        self.coalescer.expire_quiet(quiet_ms, &mut |ev| {
            let off = ev.offset;
            out(ecs::build(&ev, table), off)
        });
    }

    /// True while any event is being assembled (cheaper than [`pending_offsets`](Self::pending_offsets)).
    pub fn has_pending(&self) -> bool {
        self.coalescer.pending() > 0
    }

    /// Origin offsets of the events fed but not yet emitted, ascending (see
    /// [`coalesce::Coalescer::pending_offsets`]).
    pub fn pending_offsets(&self) -> Vec<u64> {
        self.coalescer.pending_offsets()
    }
}

impl Parser for AuditdParser {
    fn feed(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError> {
        let t = line.trim_ascii();
        if t.is_empty() || t.starts_with(b"#") {
            return Ok(());
        }
        let rec = line::parse_line(t).map_err(|m| ParseError::new(loc, m))?;
        let table = &mut self.table;
        self.coalescer
            .push(rec, &mut |ev| out(ecs::build(&ev, table)))
            .map_err(|m| ParseError::new(loc, m))
    }

    fn flush(&mut self, out: &mut dyn FnMut(Event)) {
        let table = &mut self.table;
        self.coalescer.flush(&mut |ev| out(ecs::build(&ev, table)));
    }

    fn cap_stats(&self) -> crate::CapStats {
        let s = self.coalescer.stats();
        crate::CapStats {
            events_completed_early: s.evicted + s.evicted_bytes,
            table_evictions: self.table.evicted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert!(looks_like_auditd(b"type=SYSCALL msg=audit(1.2:3): x=1\n"));
        assert!(looks_like_auditd(
            b"node=a type=SYSCALL msg=audit(1.2:3): x=1\n"
        ));
        assert!(looks_like_auditd(
            b"# comment\n\ntype=EOE msg=audit(1.2:3):\n"
        ));
        assert!(!looks_like_auditd(b"{\"json\": 1}\n"));
        assert!(!looks_like_auditd(b""));
    }
}
