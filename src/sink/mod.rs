//! Alert sinks: where alerts go.

use std::io::Write;

use crate::alert::Alert;

/// An error writing alerts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The output could not be written.
    #[error("writing alerts: {0}")]
    Io(#[from] std::io::Error),
}

/// Receives alerts. `alert` returning `Ok(false)` asks the caller to stop.
pub trait AlertSink {
    /// Called once before the first alert.
    fn begin(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Takes one alert.
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError>;
    /// Called once at the end; flushes buffers.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// NDJSON: one ECS alert document per line.
pub struct JsonlSink<W: Write> {
    out: W,
}

impl<W: Write> JsonlSink<W> {
    /// A sink writing to `out` (buffer it yourself if it is unbuffered).
    pub fn new(out: W) -> Self {
        JsonlSink { out }
    }
}

impl<W: Write> AlertSink for JsonlSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        serde_json::to_writer(&mut self.out, &alert.to_json()).map_err(std::io::Error::from)?;
        self.out.write_all(b"\n")?;
        Ok(true)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}
