//! Process table: `process.entity_id` and lineage for auditd events.
//!
//! auditd has no process GUIDs. tripline derives one per process *image*:
//! `entity_id = hex(FNV-1a-64(host, pid, start time))`, where the start time
//! is the timestamp of the exec (or fork/clone) event that created the entry
//! — 16 hex characters, stable across runs over the same input.
//!
//! * **exec** (`execve`/`execveat`): a new entry for `pid` (new entity id) whose
//!   parent is the current entry of `ppid`; the parent's executable, name,
//!   args and command line fill `process.parent.*`.
//! * **fork/clone/vfork** (the child pid is the syscall's `exit=`): a new entry
//!   for the child, copying the parent's image (the child runs the same
//!   program until it execs). Any older entry for a reused pid is replaced,
//!   so a reused pid never inherits a stranger's lineage.
//! * **any other event with a pid** (connect, ...): looks the pid up; when
//!   unknown, a placeholder entry is created from the SYSCALL record (entity
//!   id from the first time the pid was seen), so that every later event of
//!   that process, and the exec events of its children, agree on the ids.
//!
//! The table holds at most [`MAX_PROCESSES`] entries and [`MAX_PROCESS_BYTES`]
//! bytes (an entry keeps its command line and arguments, which the log
//! writer controls) per parser; beyond either cap the least recently used
//! eighth is evicted in one sweep (amortized O(log n) per insert), repeated
//! until both hold. An evicted process that shows up again gets a new
//! placeholder id.
//!
//! Live mode checkpoints the table ([`ProcTable::snapshot`] /
//! [`ProcTable::restore`]): the [`SNAPSHOT_PROCESSES`] most recently used
//! entries, so lineage survives a restart even when the exec that created an
//! entry lies in a file that was rotated and compressed meanwhile.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Cap on tracked processes (per parser, i.e. per input stream). Lineage
/// needs the processes that are still running or recently ran; the least
/// recently used are evicted first, so long-lived parents (shells, daemons)
/// stay. 16,384 keeps a 1 GB scan under the 64 MB memory goal (issue 10):
/// at 65,536 the full table alone took ~60 MB of the 110 MB peak.
pub const MAX_PROCESSES: usize = 16_384;

/// Cap on the bytes the tracked processes hold together (per parser), as
/// [`ProcTable::bytes`] estimates them. 16,384 entries of a few hundred
/// bytes fit; without it, long command lines (up to the coalescer's 8 MiB
/// per event) could make the entry cap worth gigabytes (see: issue 11).
pub const MAX_PROCESS_BYTES: usize = 32 << 20;

/// Estimated bytes per entry besides its strings: the key, the entry, the
/// `String`/`Vec` headers and the hash table's slot, rounded up for
/// allocator overhead.
const ENTRY_OVERHEAD: usize = 256;

/// Entries a [`ProcTable::snapshot`] keeps at most (the most recently used).
pub const SNAPSHOT_PROCESSES: usize = 4096;

/// What the table knows about one process. Serialized compactly (short
/// names, empty fields left out) for checkpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcInfo {
    /// This process's entity id.
    #[serde(rename = "e")]
    pub entity_id: String,
    /// Parent pid, when known.
    #[serde(rename = "pp", default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<i64>,
    /// The parent's entity id, when known.
    #[serde(rename = "pe", default, skip_serializing_if = "Option::is_none")]
    pub parent_entity_id: Option<String>,
    /// `process.executable`.
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// `process.name`.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `process.args`.
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// `process.command_line`.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub command_line: Option<String>,
    /// `process.working_directory`.
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

/// One entry of a [`ProcSnapshot`]: host (index into [`ProcSnapshot::hosts`]), pid, what is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedProc(pub u32, pub i64, pub ProcInfo);

/// A bounded copy of a [`ProcTable`] for a checkpoint: entries least recently
/// used first, hosts (raw bytes, usually one, empty without `node=`) stored once.
/// `command_line` is left out when it is `args` joined by spaces (the usual case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    /// Host names (bytes) referenced by the entries.
    pub hosts: Vec<Vec<u8>>,
    /// The entries, least recently used first.
    pub procs: Vec<SavedProc>,
}

/// The image a process runs, as an exec event describes it.
#[derive(Debug, Clone, Default)]
pub struct Image {
    /// `process.executable`.
    pub executable: Option<String>,
    /// `process.name`.
    pub name: Option<String>,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.command_line`.
    pub command_line: Option<String>,
    /// `process.working_directory`.
    pub working_directory: Option<String>,
}

#[derive(Debug)]
struct Entry {
    info: ProcInfo,
    used: u64,
    /// [`entry_bytes`] when last counted.
    bytes: usize,
}

/// Estimated memory of one entry (see [`ENTRY_OVERHEAD`]).
fn entry_bytes(host: &[u8], info: &ProcInfo) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    ENTRY_OVERHEAD
        + host.len()
        + info.entity_id.len()
        + opt(&info.parent_entity_id)
        + opt(&info.executable)
        + opt(&info.name)
        + info
            .args
            .iter()
            .map(|a| a.len() + std::mem::size_of::<String>())
            .sum::<usize>()
        + opt(&info.command_line)
        + opt(&info.working_directory)
}

/// A process: host (the `node=` bytes, empty without) and pid.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    host: Box<[u8]>,
    pid: i64,
}

/// A [`Key`] borrowed, so that lookups need no allocation: the map is
/// searched with `&dyn AsKey` (`Key: Borrow<dyn AsKey>`).
trait AsKey {
    fn host(&self) -> &[u8];
    fn pid(&self) -> i64;
}

impl AsKey for Key {
    fn host(&self) -> &[u8] {
        &self.host
    }
    fn pid(&self) -> i64 {
        self.pid
    }
}

impl AsKey for (&[u8], i64) {
    fn host(&self) -> &[u8] {
        self.0
    }
    fn pid(&self) -> i64 {
        self.1
    }
}

impl<'a> std::borrow::Borrow<dyn AsKey + 'a> for Key {
    fn borrow(&self) -> &(dyn AsKey + 'a) {
        self
    }
}

impl std::hash::Hash for dyn AsKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.host().hash(h);
        self.pid().hash(h);
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self as &dyn AsKey).hash(h);
    }
}

impl PartialEq for dyn AsKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pid() == other.pid() && self.host() == other.host()
    }
}

impl Eq for dyn AsKey + '_ {}

/// The table. One per parser (i.e. per input stream).
#[derive(Debug, Default)]
pub struct ProcTable {
    map: HashMap<Key, Entry>,
    tick: u64,
    /// Sum of the entries' [`Entry::bytes`].
    bytes: usize,
    /// Entries dropped by the [`MAX_PROCESSES`] and [`MAX_PROCESS_BYTES`] caps so far.
    evicted: u64,
}

/// 16 hex characters of FNV-1a-64 over host, pid and time.
pub fn entity_id(host: &[u8], pid: i64, time_ns: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(host);
    eat(&[0]);
    eat(&pid.to_le_bytes());
    eat(&time_ns.to_le_bytes());
    format!("{h:016x}")
}

impl ProcTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A number that changes whenever the table may have changed (for
    /// callers that cache a [`snapshot`](Self::snapshot)).
    pub fn generation(&self) -> u64 {
        self.tick
    }

    /// The `max` most recently used entries (see [`ProcSnapshot`]).
    pub fn snapshot(&self, max: usize) -> ProcSnapshot {
        let mut v: Vec<_> = self.map.iter().collect();
        if v.len() > max {
            let cut = v.len() - max;
            v.select_nth_unstable_by_key(cut, |(_, e)| e.used);
            v.drain(..cut);
        }
        v.sort_unstable_by_key(|(_, e)| e.used);
        let mut snap = ProcSnapshot::default();
        for (Key { host, pid }, e) in v {
            let h = match snap.hosts.iter().position(|x| x[..] == host[..]) {
                Some(i) => i,
                None => {
                    snap.hosts.push(host.to_vec());
                    snap.hosts.len() - 1
                }
            };
            let mut info = e.info.clone();
            if info.command_line.is_some()
                && !info.args.is_empty()
                && info.command_line.as_deref() == Some(info.args.join(" ").as_str())
            {
                info.command_line = None;
            }
            snap.procs.push(SavedProc(h as u32, *pid, info));
        }
        snap
    }

    /// A table holding a snapshot's entries (at most [`MAX_PROCESSES`]; entries
    /// naming an unknown host index are skipped).
    pub fn restore(snap: ProcSnapshot) -> ProcTable {
        let mut t = ProcTable::new();
        for SavedProc(h, pid, mut info) in snap.procs {
            let Some(host) = snap.hosts.get(h as usize) else {
                continue;
            };
            if info.command_line.is_none() && !info.args.is_empty() {
                info.command_line = Some(info.args.join(" "));
            }
            t.insert(host, pid, info);
        }
        t
    }

    /// Number of tracked processes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Entries evicted by the [`MAX_PROCESSES`] and [`MAX_PROCESS_BYTES`]
    /// caps so far (issue 11: bounded tables count what they drop).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Estimated bytes held by the entries (at most [`MAX_PROCESS_BYTES`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// True if no process is tracked.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn touch(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    fn insert(&mut self, host: &[u8], pid: i64, info: ProcInfo) {
        let used = self.touch();
        let bytes = entry_bytes(host, &info);
        self.bytes += bytes;
        if let Some(old) = self.map.insert(
            Key {
                host: Box::from(host),
                pid,
            },
            Entry { info, used, bytes },
        ) {
            self.bytes -= old.bytes;
        }
        // One sweep per insert usually; more when a few entries are huge.
        while self.map.len() > MAX_PROCESSES || self.bytes > MAX_PROCESS_BYTES {
            let mut ticks: Vec<u64> = self.map.values().map(|e| e.used).collect();
            let cut = ticks.len() / 8;
            let (_, nth, _) = ticks.select_nth_unstable(cut);
            let limit = *nth;
            let before = self.map.len();
            let mut freed = 0;
            self.map.retain(|_, e| {
                let keep = e.used > limit;
                if !keep {
                    freed += e.bytes;
                }
                keep
            });
            self.bytes -= freed;
            self.evicted += (before - self.map.len()) as u64;
        }
    }

    /// The entry for `pid`, creating a placeholder (entity id from `time_ns`)
    /// when unknown. `seen` fills a placeholder's image and ppid.
    pub fn observe(
        &mut self,
        host: &[u8],
        pid: i64,
        ppid: Option<i64>,
        time_ns: i64,
        seen: &Image,
    ) -> ProcInfo {
        let used = self.touch();
        if let Some(e) = self.map.get_mut(&(host, pid) as &dyn AsKey) {
            e.used = used;
            if e.info.ppid.is_none() {
                e.info.ppid = ppid;
            }
            // A placeholder made for a parent learns its image when the
            // process itself shows up.
            if e.info.executable.is_none() && seen.executable.is_some() {
                e.info.executable = seen.executable.clone();
                e.info.name = seen.name.clone();
                let bytes = entry_bytes(host, &e.info);
                self.bytes = self.bytes - e.bytes + bytes;
                e.bytes = bytes;
            }
            return e.info.clone();
        }
        let parent_entity_id = ppid.map(|pp| self.parent_id(host, pp, time_ns));
        let info = ProcInfo {
            entity_id: entity_id(host, pid, time_ns),
            ppid,
            parent_entity_id,
            executable: seen.executable.clone(),
            name: seen.name.clone(),
            args: seen.args.clone(),
            command_line: seen.command_line.clone(),
            working_directory: seen.working_directory.clone(),
        };
        self.insert(host, pid, info.clone());
        info
    }

    /// The entity id of `ppid`, creating an image-less placeholder when unknown.
    fn parent_id(&mut self, host: &[u8], ppid: i64, time_ns: i64) -> String {
        let used = self.touch();
        if let Some(e) = self.map.get_mut(&(host, ppid) as &dyn AsKey) {
            e.used = used;
            return e.info.entity_id.clone();
        }
        let info = ProcInfo {
            entity_id: entity_id(host, ppid, time_ns),
            ..ProcInfo::default()
        };
        let id = info.entity_id.clone();
        self.insert(host, ppid, info);
        id
    }

    /// The entry for `pid`, if tracked (no placeholder is created).
    pub fn get(&self, host: &[u8], pid: i64) -> Option<&ProcInfo> {
        self.map.get(&(host, pid) as &dyn AsKey).map(|e| &e.info)
    }

    /// Records an exec by `pid` (child of `ppid`) at `time_ns`. Returns the new
    /// entry and a snapshot of the parent's entry. When the syscall reports
    /// `ppid` 1 but the table knows the process's original parent (it was
    /// reparented to init after its parent exited), the original parent is
    /// kept; the returned entry's `ppid` says which one was used.
    pub fn exec(
        &mut self,
        host: &[u8],
        pid: i64,
        ppid: Option<i64>,
        time_ns: i64,
        image: Image,
    ) -> (ProcInfo, Option<ProcInfo>) {
        // Reparented to init because the real parent exited (laurel
        // fork-sleep-exec.txt): keep the lineage the table already knows.
        let known = self
            .map
            .get(&(host, pid) as &dyn AsKey)
            .and_then(|e| e.info.ppid);
        let ppid = match (ppid, known) {
            (Some(1), Some(k)) if k != 1 => Some(k),
            _ => ppid,
        };
        let parent = ppid.map(|pp| {
            self.parent_id(host, pp, time_ns);
            self.get(host, pp).cloned().unwrap_or_default()
        });
        let info = ProcInfo {
            entity_id: entity_id(host, pid, time_ns),
            ppid,
            parent_entity_id: parent.as_ref().map(|p| p.entity_id.clone()),
            executable: image.executable,
            name: image.name,
            args: image.args,
            command_line: image.command_line,
            working_directory: image.working_directory,
        };
        self.insert(host, pid, info.clone());
        (info, parent)
    }

    /// Records that `parent` created `child` at `time_ns` (fork/clone/vfork).
    /// Returns the child's new entry.
    pub fn fork(
        &mut self,
        host: &[u8],
        parent: i64,
        child: i64,
        time_ns: i64,
        seen: &Image,
    ) -> ProcInfo {
        let p = self.observe(host, parent, None, time_ns, seen);
        let info = ProcInfo {
            entity_id: entity_id(host, child, time_ns),
            ppid: Some(parent),
            parent_entity_id: Some(p.entity_id.clone()),
            executable: p.executable.clone(),
            name: p.name.clone(),
            args: p.args.clone(),
            command_line: p.command_line.clone(),
            working_directory: p.working_directory.clone(),
        };
        self.insert(host, child, info.clone());
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(exe: &str) -> Image {
        Image {
            executable: Some(exe.into()),
            name: exe.rsplit('/').next().map(str::to_string),
            args: vec![exe.into()],
            command_line: Some(exe.into()),
            working_directory: None,
        }
    }

    #[test]
    fn exec_then_connect_share_parent_entity() {
        let mut t = ProcTable::new();
        let (curl, parent) = t.exec(b"h", 200, Some(100), 5, img("/usr/bin/curl"));
        assert!(parent.is_some());
        let later = t.observe(b"h", 200, Some(100), 9, &Image::default());
        assert_eq!(later.entity_id, curl.entity_id);
        assert_eq!(later.parent_entity_id, curl.parent_entity_id);
        assert_eq!(later.executable.as_deref(), Some("/usr/bin/curl"));
    }

    #[test]
    fn parent_fields_come_from_earlier_exec() {
        let mut t = ProcTable::new();
        let (sh, _) = t.exec(b"h", 100, Some(1), 1, img("/bin/sh"));
        let (_, parent) = t.exec(b"h", 200, Some(100), 2, img("/usr/bin/curl"));
        let parent = parent.unwrap();
        assert_eq!(parent.entity_id, sh.entity_id);
        assert_eq!(parent.executable.as_deref(), Some("/bin/sh"));
    }

    #[test]
    fn fork_replaces_reused_pid() {
        let mut t = ProcTable::new();
        let (old, _) = t.exec(b"h", 300, Some(50), 1, img("/usr/bin/old"));
        t.exec(b"h", 100, Some(1), 2, img("/bin/bash"));
        let child = t.fork(b"h", 100, 300, 3, &Image::default());
        assert_ne!(child.entity_id, old.entity_id);
        assert_eq!(child.ppid, Some(100));
        assert_eq!(child.executable.as_deref(), Some("/bin/bash"));
        let (_, parent) = t.exec(b"h", 301, Some(300), 4, img("/bin/ls"));
        assert_eq!(parent.unwrap().entity_id, child.entity_id);
    }

    #[test]
    fn reparented_child_keeps_lineage() {
        let mut t = ProcTable::new();
        let (p, _) = t.exec(b"h", 10, Some(5), 1, img("/bin/parent"));
        t.fork(b"h", 10, 11, 2, &Image::default());
        let (child, parent) = t.exec(b"h", 11, Some(1), 3, img("/bin/true"));
        assert_eq!(child.ppid, Some(10));
        assert_eq!(
            child.parent_entity_id.as_deref(),
            Some(p.entity_id.as_str())
        );
        assert_eq!(parent.unwrap().executable.as_deref(), Some("/bin/parent"));
    }

    #[test]
    fn hosts_are_separate_and_ids_stable() {
        assert_eq!(entity_id(b"a", 1, 2), entity_id(b"a", 1, 2));
        assert_ne!(entity_id(b"a", 1, 2), entity_id(b"b", 1, 2));
        assert_eq!(entity_id(b"a", 1, 2).len(), 16);
    }

    #[test]
    fn snapshot_round_trips_most_recent_entries() {
        let mut t = ProcTable::new();
        t.exec(b"h", 100, Some(1), 1, img("/bin/sh"));
        let (curl, _) = t.exec(b"h", 200, Some(100), 2, img("/usr/bin/curl"));
        t.observe(b"other", 7, None, 3, &Image::default());
        let mut snap = t.snapshot(SNAPSHOT_PROCESSES);
        assert_eq!(snap.hosts.len(), 2);
        assert_eq!(snap.procs.len(), 4, "sh, curl, curl's parent 1, pid 7");
        let json = serde_json::to_string(&snap).unwrap();
        assert!(
            !json.contains("\"c\""),
            "command line = args, left out: {json}"
        );
        let back: ProcSnapshot = serde_json::from_str(&json).unwrap();
        let r = ProcTable::restore(back);
        assert_eq!(r.get(b"h", 200), Some(&curl));
        assert_eq!(r.len(), t.len());
        // Bounded: the most recently used survive.
        snap = t.snapshot(2);
        let r = ProcTable::restore(snap);
        assert_eq!(r.len(), 2);
        assert!(r.get(b"other", 7).is_some() && r.get(b"h", 200).is_some());
        // Hostile input: an unknown host index is skipped.
        let bad: ProcSnapshot =
            serde_json::from_str(r#"{"hosts":[],"procs":[[3,1,{"e":"x"}]]}"#).unwrap();
        assert!(ProcTable::restore(bad).is_empty());
    }

    #[test]
    fn bounded() {
        let mut t = ProcTable::new();
        for pid in 0..(MAX_PROCESSES as i64 + 100) {
            t.observe(b"h", pid, None, pid, &Image::default());
        }
        assert!(t.len() <= MAX_PROCESSES);
        // the most recent ones survive
        assert!(t.get(b"h", MAX_PROCESSES as i64 + 99).is_some());
    }

    // See: issue 11. The entry cap alone let 65,536 long command lines
    // (attacker-chosen, up to 8 MiB an event) hold gigabytes.
    #[test]
    fn bounded_in_bytes() {
        let mut t = ProcTable::new();
        let long = "A".repeat(1 << 20);
        let n = (MAX_PROCESS_BYTES >> 20) as i64 + 36;
        for pid in 0..n {
            let image = Image {
                command_line: Some(long.clone()),
                ..Image::default()
            };
            t.exec(b"h", pid, Some(1), pid, image);
            assert!(t.bytes() <= MAX_PROCESS_BYTES, "{} bytes", t.bytes());
            let counted: usize = t.map.values().map(|e| e.bytes).sum();
            assert_eq!(counted, t.bytes());
        }
        assert!(t.evicted() > 0);
        assert!(t.len() < n as usize);
        assert!(t.get(b"h", n - 1).is_some(), "the most recent survives");
        assert!(t.get(b"h", 0).is_none(), "the oldest went first");
    }
}
