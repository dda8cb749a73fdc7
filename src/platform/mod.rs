//! Small platform shims for live mode: the state directory, file identity,
//! signals and safe file creation.
//!
//! Everything that differs between Unix and Windows lives here, behind `cfg`,
//! so [`crate::source::follow`] and [`crate::source::checkpoint`] stay
//! portable. On Windows there is no inode in stable std, so files are
//! identified by a fingerprint of their first bytes only, and only Ctrl-C
//! ends the process (a checkpoint is written after every batch, so an abrupt
//! end loses nothing).

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(not(unix))]
mod other;
#[cfg(not(unix))]
pub use other::*;

/// Where checkpoints go by default: `/var/lib/tripline` for root on Unix,
/// else the platform state directory from `directories`
/// (`$XDG_STATE_HOME/tripline`, `~/Library/Application Support/tripline`,
/// `%LOCALAPPDATA%\tripline\data`).
pub fn default_state_dir() -> Option<PathBuf> {
    if is_root() {
        return Some(PathBuf::from("/var/lib/tripline"));
    }
    let dirs = directories::ProjectDirs::from("", "", "tripline")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_path_buf(),
    )
}

/// Creates `dir` (and parents) if needed, private to the owner, and refuses a
/// state directory that is itself a symlink.
///
/// # Errors
/// The directory cannot be created, or it is a symlink or not a directory.
pub fn ensure_state_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(md) if md.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("state directory {} is a symlink; refusing", dir.display()),
        )),
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("state directory {} is not a directory", dir.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private_dir(dir),
        Err(e) => Err(e),
    }
}

/// A file's identity where the OS gives one: `(device, inode)`.
pub fn file_id(md: &Metadata) -> Option<(u64, u64)> {
    file_id_impl(md)
}

/// Reads up to `buf.len()` bytes at `offset` without moving any cursor the
/// caller relies on. Returns the bytes read (short at end of file).
///
/// # Errors
/// The read failed.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match read_at_impl(file, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
