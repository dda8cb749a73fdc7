//! The rotation-aware file follower behind `tripline tail`.
//!
//! A [`Follower`] follows one path. On every [`poll`](Follower::poll) it
//! notices what happened to the path since the last one and reads what is
//! new, as complete lines (a partial last line waits for its newline):
//!
//! - **rename + create** (logrotate's default, auditd's own rotation): the path
//!   now names another file (another inode) or nothing. The old file stays
//!   open as *rotated*; it is read to its end before the new file on every
//!   poll, and finished (its parser flushed) once it has not grown for
//!   [`ROTATED_GRACE`]. The new file is read from its start.
//! - **copytruncate**: the file got shorter than what was read. The follower
//!   looks for the copy (a sibling file with the same fingerprint that is at
//!   least as long as what was read) and finishes the old content from it,
//!   then reads the truncated file from its start. Without a copy, the bytes
//!   between what was read and the truncation are gone and are counted in
//!   [`FollowStats::lost_bytes`].
//! - **delete and re-create**, **a file that appears later**: the new file is
//!   read from its start.
//! - **compressed while we were down**: a checkpointed rotated file that is
//!   gone is looked for among the `.gz` siblings (by the fingerprint of its
//!   decompressed start) and finished from the decompressed stream.
//!
//! What happens to lines is the caller's business: a [`Handler`] gets each
//! line with its byte offset and holds one state value per open file (a
//! parser, in `tail`), created by [`Handler::open`] and finished by
//! [`Handler::finish`].
//!
//! # Design rationale
//!
//! Files are identified the way vector's file source does (its
//! `fingerprinter.rs`): by device and inode where the OS has them, plus a
//! checksum of the first bytes ([`FileIdentity`]), which tells a reused inode
//! from the file it once was and finds copies and renamed files after a
//! restart. Reading is plain `read` at the file's cursor on an fd that stays
//! open across a rename, so nothing written to the old name before the
//! writer reopened is missed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tripline_parsers::Location;

use crate::source::Line;
use crate::source::checkpoint::{
    FINGERPRINT_BYTES, FileCheckpoint, FileIdentity, fingerprint_bytes,
};

/// A gzip stream read in place of a rotated file.
type Gz = Box<flate2::read::MultiGzDecoder<File>>;

/// A rotated file is finished once it has not grown for this long.
pub const ROTATED_GRACE: Duration = Duration::from_secs(1);

/// Bytes read per file per poll at most, so one busy file cannot starve the others.
pub const READ_BUDGET: usize = 1 << 20;

const CHUNK: usize = 64 << 10;

/// Default warm-up: on resuming from a checkpoint, re-read up to this many bytes before the
/// resume offset first. Their events were emitted before (they are
/// suppressed by the high-water mark), but parsing them again rebuilds the
/// auditd process table, so lineage (`process.parent.*`) after a restart is
/// what it would have been without one.
pub const WARM_BYTES: u64 = 2 << 20;

/// What the follower tells its caller.
pub trait Handler {
    /// Per-file state (a parser).
    type State;
    /// A file was opened; `resume` is its checkpoint entry when it is resumed from one.
    fn open(&mut self, path: &Path, resume: Option<&FileCheckpoint>) -> Self::State;
    /// One complete line (without `\n`) or an over-long line that was skipped.
    fn line(&mut self, state: &mut Self::State, line: Line<'_>);
    /// The file is done (rotated away and idle, or truncated without a copy): flush.
    fn finish(&mut self, state: &mut Self::State);
    /// Origin offsets of events not yet emitted (for the checkpoint), ascending:
    /// events fed but still pending, and events a resumed checkpoint still owes.
    fn pending(&self, state: &Self::State) -> Vec<u64>;
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowStats {
    /// Rename/delete rotations seen.
    pub rotations: u64,
    /// Truncations (copytruncate) seen.
    pub truncations: u64,
    /// Bytes known to be lost (truncated before they were read and no copy found,
    /// or a checkpointed file that no longer exists).
    pub lost_bytes: u64,
    /// Checkpointed files that could not be found again.
    pub lost_files: u64,
}

/// One open file being read.
pub struct TailFile<S> {
    file: File,
    /// Set when the file is a gzip copy of the one checkpointed: reads come
    /// from the decompressed stream (offsets are decompressed offsets).
    gz: Option<Gz>,
    id: FileIdentity,
    /// File offset of the next byte to read.
    read_pos: u64,
    /// Bytes read but not yet consumed (a partial line).
    buf: Vec<u8>,
    line_no: u64,
    /// Discarding an over-long line: (its start, bytes so far).
    discarding: Option<(u64, u64)>,
    /// Started mid-line (warm-up): drop bytes up to the first newline silently.
    skip_partial: bool,
    /// The high-water mark of the checkpoint this file was resumed from: a
    /// checkpoint taken during warm-up must not move it back.
    floor_hwm: u64,
    rotated: bool,
    last_growth: Instant,
    /// Read buffer, kept between polls.
    chunk: Vec<u8>,
    /// The caller's state for this file.
    pub state: S,
}

impl<S> TailFile<S> {
    fn new(file: File, id: FileIdentity, start: u64, state: S) -> io::Result<TailFile<S>> {
        let mut file = file;
        file.seek(SeekFrom::Start(start))?;
        Ok(TailFile {
            file,
            gz: None,
            id,
            read_pos: start,
            buf: Vec::new(),
            line_no: 0,
            discarding: None,
            skip_partial: false,
            floor_hwm: 0,
            rotated: false,
            last_growth: Instant::now(),
            chunk: Vec::new(),
            state,
        })
    }

    /// Offset of the first byte not yet handed on as part of a line.
    pub fn consumed(&self) -> u64 {
        match self.discarding {
            Some((start, _)) => start,
            None => self.read_pos - self.buf.len() as u64,
        }
    }

    /// Bytes in the file not yet read.
    pub fn lag(&self) -> u64 {
        if self.gz.is_some() {
            return 0;
        }
        self.file
            .metadata()
            .map(|m| m.len().saturating_sub(self.read_pos))
            .unwrap_or(0)
    }

    /// Reads up to `budget` bytes, handing complete lines to `h`. Returns bytes read.
    fn read_lines<H: Handler<State = S>>(
        &mut self,
        h: &mut H,
        max_line: usize,
        budget: usize,
    ) -> io::Result<u64> {
        let mut total = 0usize;
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.resize(CHUNK, 0);
        let res = self.read_chunks(h, max_line, budget, &mut chunk, &mut total);
        self.chunk = chunk;
        res?;
        if total > 0 {
            self.last_growth = Instant::now();
            if self.gz.is_none()
                && self.id.fp_len < FINGERPRINT_BYTES as u64
                && self.id.fp_len < self.read_pos
            {
                // The fingerprint grows with a young file until it covers FINGERPRINT_BYTES.
                self.id = FileIdentity::of(&self.file)?;
            }
        }
        Ok(total as u64)
    }

    fn read_chunks<H: Handler<State = S>>(
        &mut self,
        h: &mut H,
        max_line: usize,
        budget: usize,
        chunk: &mut [u8],
        total: &mut usize,
    ) -> io::Result<()> {
        while *total < budget {
            let res = match &mut self.gz {
                Some(gz) => gz.read(chunk),
                None => self.file.read(chunk),
            };
            let n = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A corrupt or cut gzip stream ends there (hostile input).
                Err(_) if self.gz.is_some() => 0,
                Err(e) => return Err(e),
            };
            if n == 0 {
                break;
            }
            *total += n;
            let base = self.read_pos;
            self.read_pos += n as u64;
            let data = &chunk[..n];
            let mut start = 0;
            if self.skip_partial {
                match memchr::memchr(b'\n', data) {
                    Some(i) => {
                        self.skip_partial = false;
                        start = i + 1;
                    }
                    None => continue,
                }
            }
            while let Some(i) = memchr::memchr(b'\n', &data[start..]) {
                let end = start + i;
                if let Some((dstart, dlen)) = self.discarding.take() {
                    self.line_no += 1;
                    let loc = Location {
                        line: self.line_no,
                        offset: dstart,
                    };
                    h.line(&mut self.state, Line::TooLong(loc, dlen + i as u64));
                } else {
                    let offset = base + start as u64 - self.buf.len() as u64;
                    self.line_no += 1;
                    let loc = Location {
                        line: self.line_no,
                        offset,
                    };
                    if self.buf.is_empty() {
                        h.line(&mut self.state, Line::Data(&data[start..end], loc));
                    } else {
                        self.buf.extend_from_slice(&data[start..end]);
                        let line = std::mem::take(&mut self.buf);
                        h.line(&mut self.state, Line::Data(&line, loc));
                        self.buf = line;
                        self.buf.clear();
                    }
                }
                start = end + 1;
            }
            let rest = &data[start..];
            if let Some((_, dlen)) = &mut self.discarding {
                *dlen += rest.len() as u64;
            } else if self.buf.len() + rest.len() > max_line {
                let dstart = base + start as u64 - self.buf.len() as u64;
                self.discarding = Some((dstart, (self.buf.len() + rest.len()) as u64));
                self.buf = Vec::new();
            } else {
                self.buf.extend_from_slice(rest);
            }
        }
        Ok(())
    }

    /// A gzip stream (already advanced to `e.resume` by [`find_gz`]) resumed from entry `e`.
    fn new_at_gz(file: File, gz: Gz, e: &FileCheckpoint, state: S) -> TailFile<S> {
        TailFile {
            file,
            gz: Some(gz),
            id: e.id.clone(),
            read_pos: e.resume,
            buf: Vec::new(),
            line_no: 0,
            discarding: None,
            skip_partial: false,
            floor_hwm: e.hwm,
            rotated: true,
            last_growth: Instant::now(),
            chunk: Vec::new(),
            state,
        }
    }

    /// A file resumed from a checkpoint entry: warm-up from [`WARM_BYTES`] before it.
    fn resumed(file: File, e: &FileCheckpoint, warm: u64, state: S) -> io::Result<TailFile<S>> {
        let start = e.resume.saturating_sub(warm);
        let mut t = TailFile::new(file, e.id.clone(), start, state)?;
        // Warm-up starts mid-line; the resume offset itself is a line start.
        t.skip_partial = start > 0 && start < e.resume;
        t.floor_hwm = e.hwm;
        Ok(t)
    }

    fn checkpoint(&self, path: &Path, pending: Vec<u64>) -> FileCheckpoint {
        let hwm = self.consumed().max(self.floor_hwm);
        let resume = pending.first().copied().unwrap_or(hwm).min(hwm);
        // A young file's fingerprint covers only what was read: take what is
        // on disk now, so a restart does not mistake another file that reuses
        // the inode for it (a short fingerprint matches too much).
        let id = match self.gz {
            None if self.id.fp_len < FINGERPRINT_BYTES as u64
                && self.file.metadata().is_ok_and(|m| m.len() >= self.read_pos) =>
            {
                FileIdentity::of(&self.file).unwrap_or_else(|_| self.id.clone())
            }
            _ => self.id.clone(),
        };
        FileCheckpoint {
            path: path.to_path_buf(),
            id,
            resume,
            hwm,
            unreleased: pending,
            rotated: self.rotated,
        }
    }
}

/// Where to start a file that has no checkpoint entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// At its beginning.
    Beginning,
    /// After its last complete line (a partial last line is read once complete).
    End,
}

/// How a [`Follower`] starts and reads.
#[derive(Debug, Clone, Copy)]
pub struct FollowOptions {
    /// Where a file without a checkpoint entry starts.
    pub start: StartAt,
    /// Longer lines are skipped (reported as [`Line::TooLong`]).
    pub max_line: usize,
    /// Bytes re-read before a checkpoint's resume offset (see [`WARM_BYTES`]).
    pub warm_up: u64,
}

/// Follows one path across rotations.
pub struct Follower<S> {
    path: PathBuf,
    current: Option<TailFile<S>>,
    rotated: Vec<TailFile<S>>,
    max_line: usize,
    /// Counters.
    pub stats: FollowStats,
}

impl<S> Follower<S> {
    /// Starts following `path`, resuming the files in `entries` (this path's
    /// checkpoint entries) and starting a file without an entry at `opts.start`.
    /// Problems finding checkpointed files are returned as messages.
    pub fn new<H: Handler<State = S>>(
        path: PathBuf,
        entries: &[FileCheckpoint],
        opts: FollowOptions,
        h: &mut H,
    ) -> (Follower<S>, Vec<String>) {
        let start = opts.start;
        let mut f = Follower {
            path,
            current: None,
            rotated: Vec::new(),
            max_line: opts.max_line,
            stats: FollowStats::default(),
        };
        let mut notes = Vec::new();
        for e in entries {
            if !e.rotated
                && let Ok(file) = File::open(&f.path)
                && let Ok(md) = file.metadata()
                && (e.id.same_inode(&md) || e.id.ino.is_none())
                && e.id.same_content(&file).unwrap_or(false)
                && md.len() >= e.resume
            {
                match TailFile::resumed(file, e, opts.warm_up, h.open(&f.path, Some(e))) {
                    Ok(t) => f.current = Some(t),
                    Err(err) => notes.push(format!("{}: {err}", f.path.display())),
                }
                continue;
            }
            // Rotated away (while we were down, or before): find it by inode or content.
            match find_file(&f.path, &e.id, e.resume) {
                Some(file) => {
                    match TailFile::resumed(file, e, opts.warm_up, h.open(&f.path, Some(e))) {
                        Ok(mut t) => {
                            t.rotated = true;
                            f.rotated.push(t);
                        }
                        Err(err) => notes.push(format!("{}: {err}", f.path.display())),
                    }
                }
                None => {
                    // Compressed meanwhile (logrotate's compress, or delaycompress one rotation on).
                    if let Some((file, gz)) = find_gz(&f.path, &e.id, e.resume) {
                        let mut t = TailFile::new_at_gz(file, gz, e, h.open(&f.path, Some(e)));
                        t.rotated = true;
                        f.rotated.push(t);
                        continue;
                    }
                    f.stats.lost_files += 1;
                    notes.push(format!(
                        "{}: the file checkpointed at byte {} (rotated: {}) is gone; events after that offset in it were not read",
                        f.path.display(),
                        e.resume,
                        e.rotated
                    ));
                }
            }
        }
        if f.current.is_none()
            && let Ok(file) = File::open(&f.path)
        {
            // With a checkpoint, a file we have not seen appeared since: read all of it.
            let at = if !entries.is_empty() {
                StartAt::Beginning
            } else {
                start
            };
            match open_tail(file, at, h, &f.path) {
                Ok(t) => f.current = Some(t),
                Err(err) => notes.push(format!("{}: {err}", f.path.display())),
            }
        }
        (f, notes)
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the path for rotation, then reads rotated files (oldest first)
    /// and the current one. Returns the bytes read.
    ///
    /// # Errors
    /// Reading an open file failed.
    pub fn poll<H: Handler<State = S>>(&mut self, h: &mut H) -> io::Result<u64> {
        self.check_path(h)?;
        // Once the file now at the path has data, writers have moved on: a
        // rotated file read to its end is finished at once (a copy from
        // copytruncate never grows either). Otherwise wait ROTATED_GRACE.
        let moved_on = self
            .current
            .as_ref()
            .is_some_and(|c| c.read_pos > 0 || c.file.metadata().is_ok_and(|m| m.len() > 0));
        let mut total = 0;
        let mut i = 0;
        while i < self.rotated.len() {
            let t = &mut self.rotated[i];
            let n = t.read_lines(h, self.max_line, READ_BUDGET)?;
            total += n;
            if n == 0 && (moved_on || t.last_growth.elapsed() >= ROTATED_GRACE) {
                let mut t = self.rotated.remove(i);
                h.finish(&mut t.state);
                continue;
            }
            i += 1;
        }
        if let Some(t) = &mut self.current {
            total += t.read_lines(h, self.max_line, READ_BUDGET)?;
        }
        Ok(total)
    }

    fn check_path<H: Handler<State = S>>(&mut self, h: &mut H) -> io::Result<()> {
        let md = match std::fs::metadata(&self.path) {
            Ok(md) if md.is_file() => Some(md),
            Ok(_) => None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let Some(md) = md else {
            // Deleted or renamed away: finish what is left of it.
            if let Some(mut t) = self.current.take() {
                self.stats.rotations += 1;
                t.rotated = true;
                self.rotated.push(t);
            }
            return Ok(());
        };
        if let Some(cur) = &self.current {
            let moved = match crate::platform::file_id(&md) {
                Some(_) => !cur.id.same_inode(&md),
                // No inode: a different start means another file.
                None => File::open(&self.path)
                    .and_then(|f| cur.id.same_content(&f))
                    .map(|same| !same && md.len() >= cur.id.fp_len)
                    .unwrap_or(false),
            };
            if moved {
                let mut t = self.current.take().expect("checked");
                self.stats.rotations += 1;
                t.rotated = true;
                self.rotated.push(t);
            } else if cur.file.metadata()?.len() < cur.read_pos
                || !cur.id.same_content(&cur.file).unwrap_or(true)
            {
                // Shorter than what was read, or rewritten from the start
                // (truncated, then refilled past our offset before this poll).
                self.truncated(h)?;
                return Ok(());
            } else {
                return Ok(());
            }
        }
        if let Ok(file) = File::open(&self.path) {
            self.current = Some(open_tail(file, StartAt::Beginning, h, &self.path)?);
        }
        Ok(())
    }

    /// copytruncate: finish the old content from its copy, restart the file from 0.
    fn truncated<H: Handler<State = S>>(&mut self, h: &mut H) -> io::Result<()> {
        let mut cur = self.current.take().expect("called with a current file");
        self.stats.truncations += 1;
        match find_copy(&self.path, &cur.id, cur.read_pos) {
            Some(copy) => {
                // The copy's own identity (its inode), so a restart finds it again.
                let id = FileIdentity::of(&copy)?;
                let mut old = TailFile {
                    file: copy,
                    gz: None,
                    id,
                    read_pos: cur.read_pos,
                    buf: std::mem::take(&mut cur.buf),
                    line_no: cur.line_no,
                    discarding: cur.discarding,
                    skip_partial: cur.skip_partial,
                    floor_hwm: cur.floor_hwm,
                    rotated: true,
                    last_growth: Instant::now(),
                    chunk: Vec::new(),
                    state: h.open(&self.path, None),
                };
                old.file.seek(SeekFrom::Start(old.read_pos))?;
                std::mem::swap(&mut old.state, &mut cur.state);
                self.rotated.push(old);
            }
            None => {
                let size = cur.file.metadata()?.len();
                // Unknown how much was written before the truncation; at least
                // nothing between what we read and the old end is readable now.
                self.stats.lost_bytes += cur.lag().max(u64::from(size == 0));
                h.finish(&mut cur.state);
            }
        }
        let file = cur.file;
        self.current = Some(open_tail(file, StartAt::Beginning, h, &self.path)?);
        Ok(())
    }

    /// Checkpoint entries for every open file of this path.
    pub fn checkpoints<H: Handler<State = S>>(&self, h: &H) -> Vec<FileCheckpoint> {
        self.rotated
            .iter()
            .chain(self.current.iter())
            .map(|t| t.checkpoint(&self.path, h.pending(&t.state)))
            .collect()
    }

    /// Unread bytes over all open files of this path.
    pub fn lag(&self) -> u64 {
        self.rotated
            .iter()
            .chain(self.current.iter())
            .map(TailFile::lag)
            .sum()
    }

    /// Open files (current and rotated).
    pub fn open_files(&self) -> usize {
        self.rotated.len() + usize::from(self.current.is_some())
    }

    /// Every open file's state, rotated first.
    pub fn states(&self) -> impl Iterator<Item = &S> {
        self.rotated
            .iter()
            .chain(self.current.iter())
            .map(|t| &t.state)
    }

    /// Every open file's state, rotated first (mutable).
    pub fn states_mut(&mut self) -> impl Iterator<Item = &mut S> {
        self.rotated
            .iter_mut()
            .chain(self.current.iter_mut())
            .map(|t| &mut t.state)
    }
}

fn open_tail<S, H: Handler<State = S>>(
    file: File,
    at: StartAt,
    h: &mut H,
    path: &Path,
) -> io::Result<TailFile<S>> {
    let id = FileIdentity::of(&file)?;
    let start = match at {
        StartAt::Beginning => 0,
        StartAt::End => {
            let len = file.metadata()?.len();
            let back = len.min(CHUNK as u64);
            let mut tail = vec![0u8; back as usize];
            let n = crate::platform::read_at(&file, &mut tail, len - back)?;
            match memchr::memrchr(b'\n', &tail[..n]) {
                Some(i) => len - back + i as u64 + 1,
                None if back < CHUNK as u64 => 0,
                None => len,
            }
        }
    };
    TailFile::new(file, id, start, h.open(path, None))
}

/// Files beside `path` (same directory, not `path` itself, not compressed).
fn siblings(path: &Path) -> Vec<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut v: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    v.retain(|p| {
        p.file_name() != path.file_name()
            && !p
                .extension()
                .is_some_and(|e| e == "gz" || e == "xz" || e == "zst" || e == "bz2")
    });
    v.sort();
    v
}

/// A file with `id`: `path` itself or a sibling, by inode first, then by content
/// (a copy), at least `min_len` bytes long. A file that was empty (no
/// fingerprint to check) is only found empty: its inode may have been reused.
pub fn find_file(path: &Path, id: &FileIdentity, min_len: u64) -> Option<File> {
    let mut candidates = vec![path.to_path_buf()];
    candidates.extend(siblings(path));
    for p in &candidates {
        if let Ok(md) = std::fs::metadata(p)
            && md.is_file()
            && id.same_inode(&md)
            && md.len() >= min_len
            && (id.fp_len > 0 || md.len() == 0)
            && let Ok(f) = File::open(p)
            && id.same_content(&f).unwrap_or(false)
        {
            return Some(f);
        }
    }
    find_copy(path, id, min_len)
}

/// A `.gz` sibling of `path` whose decompressed start has the fingerprint of
/// `id` and that holds at least `skip` bytes: the open file and its decoder,
/// advanced past the first `skip` decompressed bytes.
pub fn find_gz(path: &Path, id: &FileIdentity, skip: u64) -> Option<(File, Gz)> {
    if id.fp_len == 0 {
        return None;
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut gzs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .collect();
    gzs.sort();
    let open = |p: &Path| -> Option<(File, Gz)> {
        let f = File::open(p).ok()?;
        let gz = Box::new(flate2::read::MultiGzDecoder::new(f.try_clone().ok()?));
        Some((f, gz))
    };
    for p in gzs {
        let Some((_, mut gz)) = open(&p) else {
            continue;
        };
        let mut head = vec![0u8; id.fp_len as usize];
        if gz.read_exact(&mut head).is_err() || fingerprint_bytes(&head) != id.fp {
            continue;
        }
        let Some((f, mut gz)) = open(&p) else {
            continue;
        };
        let skipped = io::copy(&mut (&mut gz).take(skip), &mut io::sink());
        if skipped.is_ok_and(|n| n == skip) {
            return Some((f, gz));
        }
    }
    None
}

/// A sibling of `path` with the same fingerprint as `id`, at least `min_len` bytes long.
pub fn find_copy(path: &Path, id: &FileIdentity, min_len: u64) -> Option<File> {
    if id.fp_len == 0 {
        return None;
    }
    for p in siblings(path) {
        if let Ok(md) = std::fs::metadata(&p)
            && md.is_file()
            && md.len() >= min_len
            && let Ok(f) = File::open(&p)
            && id.same_content(&f).unwrap_or(false)
        {
            return Some(f);
        }
    }
    None
}
