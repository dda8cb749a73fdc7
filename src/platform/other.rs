//! Non-Unix (Windows): no inode in stable std (fingerprints identify files),
//! no SIGHUP; Ctrl-C ends the process without a handler.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

/// Always false: the state directory comes from `directories`.
pub fn is_root() -> bool {
    false
}

pub(super) fn file_id_impl(_md: &Metadata) -> Option<(u64, u64)> {
    None
}

#[cfg(windows)]
pub(super) fn read_at_impl(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::os::windows::fs::FileExt;
    file.seek_read(buf, offset)
}

#[cfg(not(windows))]
pub(super) fn read_at_impl(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates a new file for writing; fails if anything already exists at `path`.
///
/// # Errors
/// The file exists or cannot be created.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Opens a file for reading (refuses a symlink).
///
/// # Errors
/// The file does not exist, is a symlink, or cannot be opened.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to follow a symlink",
        ));
    }
    File::open(path)
}

/// Directory sync is not needed (or possible) here.
///
/// # Errors
/// Never.
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Termination and reload requests; without Unix signals nothing sets them.
#[derive(Debug, Clone)]
pub struct Signals;

impl Signals {
    /// Nothing to install.
    ///
    /// # Errors
    /// Never.
    pub fn install() -> io::Result<Signals> {
        Ok(Signals)
    }

    /// Always false.
    pub fn terminate(&self) -> bool {
        false
    }

    /// Always false.
    pub fn take_reload(&self) -> bool {
        false
    }
}
