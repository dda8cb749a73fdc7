//! Alert sinks: where alerts go. Several at once: every alert goes to every sink.
//!
//! Output specifications (`-o/--output`, repeatable):
//!
//! | spec | sink |
//! |---|---|
//! | `-` | NDJSON on stdout (the default when no `-o` is given and stdout is not a terminal) |
//! | `pretty`, `pretty:PATH` | the human view ([`pretty`]) on stdout or into a file (the default on a terminal) |
//! | `PATH` | NDJSON into a file (created or truncated) |
//! | `syslog+udp://HOST:PORT` | RFC 5424 over UDP ([`syslog`]) |
//! | `syslog+tcp://HOST:PORT` | RFC 5424 over TCP, octet-counted framing |
//! | `syslog+unix:///dev/log` | RFC 5424 to a unix datagram socket (unix only) |
//! | `elasticsearch+http://HOST:PORT/INDEX` (or `es+http://…`) | Elasticsearch `_bulk` ([`elastic`]) |
//! | `es+https://HOST:PORT/INDEX[?ca=FILE]` | the same over TLS (rustls), the server verified against the system's roots or FILE |

pub mod elastic;
pub mod pretty;
pub mod syslog;

use std::io::Write;
use std::path::PathBuf;

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
    /// Takes one alert whose JSON document (what [`crate::alert::AlertWriter::write`]
    /// writes for it) was already written, e.g. by the thread that found it
    /// in a parallel scan. The default ignores `json` and calls [`alert`](Self::alert).
    fn alert_with_json(&mut self, alert: &Alert, json: &[u8]) -> Result<bool, SinkError> {
        let _ = json;
        self.alert(alert)
    }
    /// True when this sink writes alerts' JSON documents, so that writing them
    /// ahead ([`alert_with_json`](Self::alert_with_json)) saves it work.
    fn uses_json(&self) -> bool {
        false
    }
    /// Called once at the end; flushes buffers.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    /// Delivers what is buffered, and may be called any number of times
    /// (live mode calls it before each checkpoint). The default calls
    /// [`finish`](Self::finish), which for every built-in sink only flushes.
    fn flush(&mut self) -> Result<(), SinkError> {
        self.finish()
    }
}

/// One parsed `--output` specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputSpec {
    /// NDJSON to stdout.
    Stdout,
    /// NDJSON to a file.
    File(PathBuf),
    /// The human view to stdout (`None`) or a file.
    Pretty(Option<PathBuf>),
    /// RFC 5424 syslog.
    Syslog(syslog::Transport),
    /// Elasticsearch `_bulk`.
    Elastic(elastic::ElasticTarget),
}

impl OutputSpec {
    /// Parses `-`, a path, or `syslog+udp://`, `syslog+tcp://`, `syslog+unix://` URLs.
    ///
    /// # Errors
    /// A `syslog+…` URL without a host and port (or path), or an unknown `syslog+` scheme.
    pub fn parse(spec: &str) -> Result<OutputSpec, String> {
        if spec == "-" {
            return Ok(OutputSpec::Stdout);
        }
        if spec == "pretty" || spec == "pretty:-" {
            return Ok(OutputSpec::Pretty(None));
        }
        if let Some(p) = spec.strip_prefix("pretty:") {
            return Ok(OutputSpec::Pretty(Some(PathBuf::from(p))));
        }
        if let Some(url) = spec
            .strip_prefix("elasticsearch+")
            .or_else(|| spec.strip_prefix("es+"))
        {
            return elastic::ElasticTarget::parse(url).map(OutputSpec::Elastic);
        }
        let Some(rest) = spec.strip_prefix("syslog+") else {
            return Ok(OutputSpec::File(PathBuf::from(spec)));
        };
        let (scheme, target) = rest
            .split_once("://")
            .ok_or_else(|| format!("{spec}: expected syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT or syslog+unix:///PATH"))?;
        let hostport = |t: &str| -> Result<String, String> {
            let t = t.trim_end_matches('/');
            match t.rsplit_once(':') {
                Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(t.to_string()),
                _ => Err(format!("{spec}: expected HOST:PORT after {scheme}://")),
            }
        };
        Ok(OutputSpec::Syslog(match scheme {
            "udp" => syslog::Transport::Udp(hostport(target)?),
            "tcp" => syslog::Transport::Tcp(hostport(target)?),
            "unix" if target.starts_with('/') => syslog::Transport::Unix(PathBuf::from(target)),
            "unix" => return Err(format!("{spec}: expected an absolute socket path")),
            other => {
                return Err(format!(
                    "{spec}: unknown syslog transport {other:?} (udp, tcp, unix)"
                ));
            }
        }))
    }
}

/// Sends every alert to each of several sinks, in order.
#[derive(Default)]
pub struct MultiSink {
    sinks: Vec<Box<dyn AlertSink>>,
}

impl MultiSink {
    /// A sink fanning out to `sinks`.
    pub fn new(sinks: Vec<Box<dyn AlertSink>>) -> Self {
        MultiSink { sinks }
    }
}

impl AlertSink for MultiSink {
    fn begin(&mut self) -> Result<(), SinkError> {
        self.sinks.iter_mut().try_for_each(|s| s.begin())
    }

    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        let mut go_on = true;
        for s in &mut self.sinks {
            go_on &= s.alert(alert)?;
        }
        Ok(go_on)
    }

    fn alert_with_json(&mut self, alert: &Alert, json: &[u8]) -> Result<bool, SinkError> {
        let mut go_on = true;
        for s in &mut self.sinks {
            go_on &= s.alert_with_json(alert, json)?;
        }
        Ok(go_on)
    }

    fn uses_json(&self) -> bool {
        self.sinks.iter().any(|s| s.uses_json())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.sinks.iter_mut().try_for_each(|s| s.finish())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.sinks.iter_mut().try_for_each(|s| s.flush())
    }
}

impl MultiSink {
    /// True when there is no sink.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

/// NDJSON: one ECS alert document per line.
pub struct JsonlSink<W: Write> {
    out: W,
    /// One document is serialized here, then written with one call: `out`
    /// is often a `Box<dyn Write>`, and serde_json writes token by token.
    line: Vec<u8>,
    writer: crate::alert::AlertWriter,
}

impl<W: Write> JsonlSink<W> {
    /// A sink writing to `out` (buffer it yourself if it is unbuffered).
    pub fn new(out: W) -> Self {
        JsonlSink {
            out,
            line: Vec::with_capacity(16 << 10),
            writer: crate::alert::AlertWriter::new(),
        }
    }
}

impl<W: Write> AlertSink for JsonlSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        self.line.clear();
        self.writer.write(alert, &mut self.line);
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        if self.line.capacity() > 1 << 20 {
            // One huge alert (a 4 MB command line) does not pin its buffer.
            self.line = Vec::with_capacity(16 << 10);
        }
        Ok(true)
    }

    fn alert_with_json(&mut self, _alert: &Alert, json: &[u8]) -> Result<bool, SinkError> {
        self.out.write_all(json)?;
        self.out.write_all(b"\n")?;
        Ok(true)
    }

    fn uses_json(&self) -> bool {
        true
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs() {
        assert_eq!(OutputSpec::parse("-"), Ok(OutputSpec::Stdout));
        assert_eq!(
            OutputSpec::parse("alerts.ndjson"),
            Ok(OutputSpec::File("alerts.ndjson".into()))
        );
        assert_eq!(
            OutputSpec::parse("syslog+udp://127.0.0.1:514"),
            Ok(OutputSpec::Syslog(syslog::Transport::Udp(
                "127.0.0.1:514".into()
            )))
        );
        assert_eq!(
            OutputSpec::parse("syslog+tcp://[::1]:6514"),
            Ok(OutputSpec::Syslog(syslog::Transport::Tcp(
                "[::1]:6514".into()
            )))
        );
        assert_eq!(
            OutputSpec::parse("syslog+unix:///dev/log"),
            Ok(OutputSpec::Syslog(syslog::Transport::Unix(
                "/dev/log".into()
            )))
        );
        assert_eq!(OutputSpec::parse("pretty"), Ok(OutputSpec::Pretty(None)));
        assert_eq!(
            OutputSpec::parse("pretty:view.txt"),
            Ok(OutputSpec::Pretty(Some("view.txt".into())))
        );
        assert!(matches!(
            OutputSpec::parse("es+http://127.0.0.1:9200/alerts"),
            Ok(OutputSpec::Elastic(_))
        ));
        assert!(matches!(
            OutputSpec::parse("elasticsearch+https://h:9200/alerts?ca=ca.pem"),
            Ok(OutputSpec::Elastic(t)) if t.tls && t.ca.is_some()
        ));
        assert!(OutputSpec::parse("es+ftp://h:9200/alerts").is_err());
        assert!(OutputSpec::parse("syslog+udp://nohost").is_err());
        assert!(OutputSpec::parse("syslog+smoke://x:1").is_err());
        assert!(OutputSpec::parse("syslog+unix://relative").is_err());
    }
}
