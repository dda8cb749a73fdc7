//! Unix: inode identity, `O_NOFOLLOW` opens, 0600/0700 modes, signals as flags.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// True when running as root (euid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub(super) fn file_id_impl(md: &Metadata) -> Option<(u64, u64)> {
    Some((md.dev(), md.ino()))
}

pub(super) fn read_at_impl(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.read_at(buf, offset)
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates a new file for writing, mode 0600; fails if anything (a file or a
/// symlink) already exists at `path`, so a planted symlink is never followed.
///
/// # Errors
/// The file exists or cannot be created.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens a file for reading without following a symlink at its last component.
///
/// # Errors
/// The file does not exist, is a symlink, or cannot be opened.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Makes a rename inside `dir` durable.
///
/// # Errors
/// The directory cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Termination and reload requests, set by signal handlers (SIGTERM, SIGINT;
/// SIGHUP) and polled by the tail loop.
#[derive(Debug, Clone)]
pub struct Signals {
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers.
    ///
    /// # Errors
    /// A handler could not be installed.
    pub fn install() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let term = Arc::new(AtomicBool::new(false));
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGTERM, Arc::clone(&term))?;
        signal_hook::flag::register(SIGINT, Arc::clone(&term))?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&hup))?;
        Ok(Signals { term, hup })
    }

    /// True once SIGTERM or SIGINT arrived.
    pub fn terminate(&self) -> bool {
        self.term.load(Ordering::Relaxed)
    }

    /// True once per SIGHUP (clears the flag).
    pub fn take_reload(&self) -> bool {
        self.hup.swap(false, Ordering::Relaxed)
    }
}
