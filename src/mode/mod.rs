//! One module per subcommand, and the one place that maps outcomes to exit codes.

pub mod check;
pub mod scan;
pub mod tail;

use std::fs::File;
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

/// Opens the output: a file (created or truncated) or stdout, buffered.
pub fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(BufWriter::with_capacity(256 << 10, File::create(p)?))
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

    #[test]
    fn exit_codes_are_the_documented_numbers() {
        assert_eq!(Exit::Clean as u8, 0);
        assert_eq!(Exit::Alerts as u8, 1);
        assert_eq!(Exit::Error as u8, 2);
        assert!(Exit::Error > Exit::Alerts && Exit::Alerts > Exit::Clean);
    }
}
