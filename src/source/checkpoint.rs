//! Checkpoints for live mode: where each followed file was, which of its
//! events were already emitted, how far the alert output got, and the
//! engine's open state, in one versioned JSON file written atomically.
//!
//! # Design rationale
//!
//! A restart must emit every alert not yet emitted and none twice, even after
//! `kill -9`. Three facts make that possible:
//!
//! 1. **Resume offset.** The auditd parser hands events on in arrival order of
//!    their first record, so every event whose first record lies before the
//!    oldest *pending* event (still being assembled, or complete but held)
//!    has been handed on. A restart re-reads from that offset
//!    ([`FileCheckpoint::resume`]) and so sees every pending event whole.
//! 2. **High-water mark.** Lines up to [`FileCheckpoint::hwm`] were already fed
//!    to the parser. On re-reading, an event whose first record lies before
//!    the mark was already emitted, unless its origin offset is listed in
//!    [`FileCheckpoint::unreleased`]; such events are suppressed before they
//!    reach the engine (so the engine state saved in the same checkpoint is
//!    not fed them twice).
//! 3. **Output mark.** Alerts are flushed to the sink before the checkpoint
//!    that covers them is written. Alerts written after the last checkpoint
//!    (a crash between the two) are found again by reading the output file
//!    after [`OutputMark::len`]; their keys ([`alert_key`]) suppress the same
//!    alerts when they are produced again. A torn last line is cut off and
//!    its alert emitted again. With stdout there is nothing to read back:
//!    alerts written since the last checkpoint (at most `--checkpoint-interval`
//!    ago) can be written again after a `kill -9`; SIGTERM checkpoints first.
//!
//! The file is written to a temporary name created with `O_EXCL|O_NOFOLLOW`
//! and mode 0600, fsynced, renamed over the checkpoint and the directory
//! fsynced (vector `lib/file-source-common/src/checkpointer.rs` does the same
//! dance). It carries a [`CHECKPOINT_VERSION`]; an unknown version is refused
//! with a message instead of being misread.
//!
//! The auditd process table of each followed path goes in
//! [`Checkpoint::procs`] (its most recently used entries): warm-up re-reading
//! cannot rebuild lineage whose exec is in a rotated file that is gone.
//!
//! Engine state (the sequence joiner's open partial sequences) goes in
//! [`Checkpoint::engine`], an opaque JSON value produced and consumed through
//! [`EngineState`].
//!
//! # Example
//!
//! ```
//! use tripline::source::checkpoint::{Checkpoint, CheckpointStore};
//! let dir = std::env::temp_dir().join(format!("tripline-doc-ckpt-{}", std::process::id()));
//! let store = CheckpointStore::new(&dir, "example").unwrap();
//! let mut ck = Checkpoint::default();
//! ck.output = None;
//! store.save(&ck).unwrap();
//! assert_eq!(store.load().unwrap().unwrap().version, tripline::source::checkpoint::CHECKPOINT_VERSION);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tripline_parsers::auditd::proctable::ProcSnapshot;

use crate::platform;

/// Version of the checkpoint file layout.
pub const CHECKPOINT_VERSION: u32 = 1;

/// Bytes at the start of a file hashed into its fingerprint.
pub const FINGERPRINT_BYTES: usize = 1024;

/// Everything a restart needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// Layout version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// One entry per open file (the followed file and rotated files still being finished).
    pub files: Vec<FileCheckpoint>,
    /// How far the alert output file got, if alerts go to a file.
    pub output: Option<OutputMark>,
    /// Open state of stateful rules (sequence joiner), see [`EngineState`].
    pub engine: Option<Value>,
    /// The auditd process table of each followed path (bounded, see
    /// [`ProcSnapshot`]), as of [`FileCheckpoint::hwm`]: lineage survives a
    /// restart even when the exec that created an entry is in a file that was
    /// rotated away (and compressed) meanwhile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub procs: Vec<PathProcs>,
}

/// The process table of one followed path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PathProcs {
    /// The followed path.
    pub path: PathBuf,
    /// Its table.
    pub table: ProcSnapshot,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            version: CHECKPOINT_VERSION,
            files: Vec::new(),
            output: None,
            engine: None,
            procs: Vec::new(),
        }
    }
}

/// A file's identity: device and inode where the OS has them, and a
/// fingerprint of its first bytes (which survives copies and tells a reused
/// inode from the file it used to be).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileIdentity {
    /// Device number (Unix).
    pub dev: Option<u64>,
    /// Inode number (Unix).
    pub ino: Option<u64>,
    /// FNV-1a 64 of the first [`fp_len`](Self::fp_len) bytes, as 16 hex digits.
    pub fp: String,
    /// How many bytes the fingerprint covers (less than [`FINGERPRINT_BYTES`] while the file is shorter).
    pub fp_len: u64,
}

impl FileIdentity {
    /// The identity of an open file.
    ///
    /// # Errors
    /// The file cannot be stat'ed or read.
    pub fn of(file: &File) -> io::Result<FileIdentity> {
        let md = file.metadata()?;
        let id = platform::file_id(&md);
        let (fp, fp_len) = fingerprint(file, FINGERPRINT_BYTES)?;
        Ok(FileIdentity {
            dev: id.map(|i| i.0),
            ino: id.map(|i| i.1),
            fp,
            fp_len,
        })
    }

    /// True if `file` has the same fingerprint (over this identity's `fp_len` bytes).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn same_content(&self, file: &File) -> io::Result<bool> {
        let (fp, n) = fingerprint(file, self.fp_len as usize)?;
        Ok(n == self.fp_len && fp == self.fp)
    }

    /// True if `md` has this identity's device and inode (false when either is unknown).
    pub fn same_inode(&self, md: &std::fs::Metadata) -> bool {
        match (platform::file_id(md), self.dev, self.ino) {
            (Some((d, i)), Some(sd), Some(si)) => d == sd && i == si,
            _ => false,
        }
    }
}

/// FNV-1a 64 of the first `max` (at most [`FINGERPRINT_BYTES`]) bytes of `file`; returns (hex, bytes hashed).
///
/// # Errors
/// The file cannot be read.
pub fn fingerprint(file: &File, max: usize) -> io::Result<(String, u64)> {
    let mut buf = [0u8; FINGERPRINT_BYTES];
    let max = max.min(FINGERPRINT_BYTES);
    let n = platform::read_at(file, &mut buf[..max], 0)?;
    Ok((format!("{:016x}", fnv1a(&buf[..n])), n as u64))
}

/// The fingerprint (hex) of bytes already read (the start of a decompressed file).
pub fn fingerprint_bytes(b: &[u8]) -> String {
    format!("{:016x}", fnv1a(b))
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Where reading of one file stands.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileCheckpoint {
    /// The path followed (for a rotated file: the path it was followed under).
    pub path: PathBuf,
    /// The file's identity.
    pub id: FileIdentity,
    /// Where to start re-reading: the first record of the oldest event not yet emitted
    /// (or [`hwm`](Self::hwm) when none is pending). Always at a line start.
    pub resume: u64,
    /// Every line before this offset was fed to the parser.
    pub hwm: u64,
    /// Origin offsets (first record) of events in `[resume, hwm)` not yet emitted.
    pub unreleased: Vec<u64>,
    /// True if the file was rotated away from `path` and is being finished.
    pub rotated: bool,
}

/// How far the alert output file got at the checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputMark {
    /// The output file.
    pub path: PathBuf,
    /// Its length after the last flush before the checkpoint.
    pub len: u64,
    /// Its identity (device, inode) where known, so a replaced file is not misread.
    pub dev: Option<u64>,
    /// See `dev`.
    pub ino: Option<u64>,
}

/// Stateful engine parts that survive a restart (the sequence joiner's open
/// partial sequences, the counting rules' windows). The engine serializes its state into an opaque JSON
/// value; [`Checkpoint::engine`] stores it verbatim.
///
/// Contract: [`save_state`](Self::save_state) is called right after the
/// events covered by the checkpoint were processed, and
/// [`restore_state`](Self::restore_state) once, before any event, with what
/// `save_state` returned. Events already covered are never fed again.
pub trait EngineState {
    /// The open state, or `None` when there is none.
    fn save_state(&self) -> Option<Value>;
    /// Restores a saved state.
    ///
    /// # Errors
    /// The value is not a state this engine understands (a message; the caller starts empty).
    fn restore_state(&mut self, state: Value) -> Result<(), String>;
}

/// The stateful rules' open state by rule id ([`crate::engine::state::RuleState`]):
/// the sequence joiner's reorder buffers and partial sequences, and the
/// counting rules' buffers, groups and value-hash key.
impl EngineState for crate::engine::Engine {
    fn save_state(&self) -> Option<Value> {
        self.open_state()
    }

    fn restore_state(&mut self, state: Value) -> Result<(), String> {
        self.restore_open_state(state)
    }
}

/// Reads and writes one checkpoint file in a state directory.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    path: PathBuf,
    tmp: PathBuf,
}

impl CheckpointStore {
    /// A store for checkpoint `name` (a file `NAME.json`) in `dir`, created
    /// (mode 0700) if missing.
    ///
    /// # Errors
    /// The directory cannot be created or is a symlink.
    pub fn new(dir: &Path, name: &str) -> io::Result<CheckpointStore> {
        platform::ensure_state_dir(dir)?;
        Ok(CheckpointStore {
            dir: dir.to_path_buf(),
            path: dir.join(format!("{name}.json")),
            tmp: dir.join(format!("{name}.json.tmp")),
        })
    }

    /// The checkpoint file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved checkpoint, or `None` when there is none yet.
    ///
    /// # Errors
    /// It cannot be read (a symlink is refused), is not valid JSON, or has an unknown version.
    pub fn load(&self) -> io::Result<Option<Checkpoint>> {
        let mut f = match platform::open_nofollow(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut s = String::new();
        f.read_to_string(&mut s)?;
        let v: Value = serde_json::from_str(&s).map_err(io::Error::other)?;
        let version = v.get("version").and_then(Value::as_u64).unwrap_or(0);
        if version != u64::from(CHECKPOINT_VERSION) {
            return Err(io::Error::other(format!(
                "checkpoint {} has version {version}, this tripline reads version {CHECKPOINT_VERSION}",
                self.path.display()
            )));
        }
        serde_json::from_value(v)
            .map(Some)
            .map_err(io::Error::other)
    }

    /// Writes `ck` atomically: temp file (0600, never through a symlink) + fsync + rename + directory fsync.
    ///
    /// # Errors
    /// Writing, syncing or renaming failed; the previous checkpoint is intact.
    pub fn save(&self, ck: &Checkpoint) -> io::Result<()> {
        let data = serde_json::to_vec(ck).map_err(io::Error::other)?;
        // A temp file left by a crash: remove it (remove_file never follows a symlink).
        match std::fs::remove_file(&self.tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut f = platform::create_private(&self.tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&self.tmp, &self.path)?;
        platform::sync_dir(&self.dir)
    }
}

/// The name of the checkpoint for a set of followed paths (order does not matter):
/// `tail-` and 16 hex digits of a hash of the absolute paths.
pub fn checkpoint_name(paths: &[PathBuf]) -> String {
    let mut v: Vec<String> = paths
        .iter()
        .map(|p| {
            std::path::absolute(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    format!("tail-{:016x}", fnv1a(v.join("\0").as_bytes()))
}

/// The identity of an alert for de-duplication across restarts: the rule id
/// and, for each matching event, its time, host, sequence number and origin
/// (falling back to the whole event when it has no sequence number).
pub fn alert_key(alert: &Value) -> String {
    let rule = alert
        .pointer("/rule/id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut key = String::from(rule);
    let events = alert
        .pointer("/tripline/events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for ev in events {
        key.push('|');
        match ev.pointer("/event/sequence") {
            Some(seq) => {
                for p in ["/@timestamp", "/host/name", "/host/id"] {
                    if let Some(v) = ev.pointer(p) {
                        key.push_str(&v.to_string());
                    }
                    key.push(',');
                }
                key.push_str(&seq.to_string());
            }
            None => key.push_str(&ev.to_string()),
        }
    }
    key
}

/// Alerts found in the output after the checkpointed length: they were
/// emitted but not yet covered by a checkpoint. Counts per [`alert_key`].
#[derive(Debug, Default)]
pub struct Emitted {
    seen: HashMap<String, u32>,
    /// How many alerts were read back.
    pub total: u64,
}

impl Emitted {
    /// Reads the alerts in `path` after byte `from`. A torn last line (no
    /// newline: the process died mid-write) is cut off the file, so the alert
    /// it held is written again whole. Returns an empty set if the file is
    /// shorter than `from` (replaced or truncated by someone else).
    ///
    /// # Errors
    /// The file cannot be read or truncated.
    pub fn read_back(path: &Path, from: u64) -> io::Result<Emitted> {
        let mut out = Emitted::default();
        let mut f = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < from {
            return Ok(out);
        }
        let mut buf = vec![0u8; (len - from) as usize];
        platform::read_at(&f, &mut buf, from)?;
        let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < buf.len() {
            f.set_len(from + complete as u64)?;
            f.flush()?;
        }
        for line in buf[..complete].split(|&b| b == b'\n') {
            if line.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(line) {
                *out.seen.entry(alert_key(&v)).or_default() += 1;
                out.total += 1;
            }
        }
        Ok(out)
    }

    /// True (and forgets one occurrence) if an alert with `key` was already emitted.
    pub fn take(&mut self, key: &str) -> bool {
        match self.seen.get_mut(key) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// True when nothing is left to suppress.
    pub fn is_empty(&self) -> bool {
        self.seen.values().all(|n| *n == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tripline-ckpt-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_load_roundtrip_and_version_check() {
        let d = tmpdir("rt");
        let store = CheckpointStore::new(&d, "x").unwrap();
        assert!(store.load().unwrap().is_none());
        let ck = Checkpoint {
            files: vec![FileCheckpoint {
                path: "a.log".into(),
                id: FileIdentity {
                    dev: Some(1),
                    ino: Some(2),
                    fp: "00".into(),
                    fp_len: 0,
                },
                resume: 10,
                hwm: 20,
                unreleased: vec![10, 15],
                rotated: false,
            }],
            engine: Some(serde_json::json!({"seq": 1})),
            ..Checkpoint::default()
        };
        store.save(&ck).unwrap();
        store.save(&ck).unwrap();
        assert_eq!(store.load().unwrap().unwrap(), ck);
        std::fs::write(store.path(), br#"{"version": 99}"#).unwrap();
        assert!(store.load().is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    // Symlinks need privileges on Windows; the O_NOFOLLOW behaviour is Unix's.
    #[cfg(unix)]
    #[test]
    fn symlinks_in_the_state_dir_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let d = tmpdir("sym");
        let store = CheckpointStore::new(&d, "x").unwrap();
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, store.path()).unwrap();
        assert!(store.load().is_err(), "a symlinked checkpoint is refused");
        std::os::unix::fs::symlink(&victim, d.join("x.json.tmp")).unwrap();
        store.save(&Checkpoint::default()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        let md = std::fs::symlink_metadata(store.path()).unwrap();
        assert!(md.is_file());
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn read_back_counts_alerts_and_cuts_a_torn_line() {
        let d = tmpdir("rb");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("out.ndjson");
        let a = r#"{"rule":{"id":"r1"},"tripline":{"events":[{"@timestamp":"t","event":{"sequence":5}}]}}"#;
        std::fs::write(&p, format!("{a}\n{a}\n{a}\n{{\"rule\":{{\"id")).unwrap();
        let first = a.len() as u64 + 1;
        let mut e = Emitted::read_back(&p, first).unwrap();
        assert_eq!(e.total, 2);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), first * 3);
        let v: Value = serde_json::from_str(a).unwrap();
        let k = alert_key(&v);
        assert!(e.take(&k) && e.take(&k) && !e.take(&k));
        assert!(e.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn names_do_not_depend_on_order() {
        let a = checkpoint_name(&["x".into(), "y".into()]);
        assert_eq!(a, checkpoint_name(&["y".into(), "x".into(), "x".into()]));
        assert_ne!(a, checkpoint_name(&["x".into()]));
    }
}
