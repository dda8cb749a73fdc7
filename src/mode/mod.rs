//! One module per subcommand, and the one place that maps outcomes to exit codes.

pub mod check;
pub mod jobs;
pub mod scan;
pub mod tail;

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// The process exit status. We deliberately differ from grep ("0 = found"):
/// a cron job or an agent wrapper asks "did anything fire?", so alerts are 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Ran, no alerts (or `rules check`: every rule compiled).
    Clean = 0,
    /// Ran, alerts fired (or `rules check`: some rules were skipped).
    Alerts = 1,
    /// Usage error, unreadable input or unparsable rule file.
    Error = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Options for the files tripline writes alerts to: created with mode 0600
/// on Unix (alerts quote command lines, which can hold secrets; see: issue 11).
/// An existing file keeps its mode.
pub fn output_options() -> OpenOptions {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Opens the output: a file (created 0600, or truncated) or stdout, buffered.
pub fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => {
            let f = output_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)?;
            Box::new(BufWriter::with_capacity(256 << 10, f))
        }
        _ => Box::new(BufWriter::with_capacity(256 << 10, io::stdout().lock())),
    })
}

/// True if the error (or its source chain) is a broken pipe: `tripline ... | head` exits cleanly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue 11. Alert files were created 0666 & ~umask (world-readable).
    #[cfg(unix)]
    #[test]
    fn alert_outputs_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tripline-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("alerts.ndjson");
        let _ = std::fs::remove_file(&p);
        open_output(Some(&p)).unwrap().write_all(b"{}\n").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let q = dir.join("tail.ndjson");
        let _ = std::fs::remove_file(&q);
        output_options().create(true).append(true).open(&q).unwrap();
        assert_eq!(
            std::fs::metadata(&q).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        assert_eq!(Exit::Clean as u8, 0);
        assert_eq!(Exit::Alerts as u8, 1);
        assert_eq!(Exit::Error as u8, 2);
        assert!(Exit::Error > Exit::Alerts && Exit::Alerts > Exit::Clean);
    }
}
