//! Syslog (RFC 5424) over UDP, TCP (RFC 6587 octet-counted framing) or a unix
//! datagram socket.
//!
//! # Wire format
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME tripline PROCID alert [tripline@32473 rule_id="…" rule_name="…" severity="high" risk_score="73" event_action="exec"] {"@timestamp":…}
//! ```
//!
//! - PRI = facility × 8 + severity; severity from the rule level: critical → 2
//!   (crit), high → 3 (err), medium → 4 (warning), low → 5 (notice),
//!   informational → 6 (info). Facility defaults to `auth` (4).
//! - TIMESTAMP is the alert's `@timestamp`; HOSTNAME the alert's `host.name`
//!   (`-` when the log did not say); APP-NAME `tripline`; PROCID our pid;
//!   MSGID `alert`.
//! - The structured-data element uses enterprise number 32473, which IANA
//!   reserves for documentation: tripline has no private enterprise number.
//! - MSG is the whole ECS alert document as one line of JSON (no BOM: RFC 5424
//!   allows MSG-ANY, and a BOM breaks JSON parsers downstream).
//! - A UDP datagram holds at most [`MAX_UDP_MESSAGE`] bytes: a larger alert is
//!   sent without `tripline.events` (the matched events in full; the pivot
//!   fields stay) and carries `truncated="true"` in its structured data. TCP and
//!   unix sockets carry any size.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use serde_json::Value;

use super::{AlertSink, SinkError};
use crate::alert::Alert;
use crate::rule::Severity;

/// Largest UDP payload we send (the IPv4 maximum is 65,507 bytes).
pub const MAX_UDP_MESSAGE: usize = 65_000;

/// How long a TCP connect or write may take before the alert is an error.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// UDP to `host:port`.
    Udp(String),
    /// TCP to `host:port`, octet-counted framing.
    Tcp(String),
    /// A unix datagram socket such as `/dev/log`.
    Unix(std::path::PathBuf),
}

/// Syslog facilities by name (RFC 5424 table 1).
pub fn facility_from_name(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "authpriv" => 10,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// Syslog severity for a rule level.
pub fn syslog_severity(s: Severity) -> u8 {
    match s {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Informational => 6,
    }
}

/// Escapes an SD-PARAM value: `"`, `\` and `]` get a backslash (RFC 5424 6.3.3).
fn sd_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A HEADER field: printable US-ASCII without spaces, at most `max` bytes, `-` when empty.
fn header_field(s: Option<&str>, max: usize) -> String {
    let v: String = s
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if v.is_empty() { "-".to_string() } else { v }
}

/// Formats one alert as an RFC 5424 message. `compact` drops `tripline.events` from MSG.
pub fn format_message(alert: &Alert, facility: u8, pid: u32, compact: bool) -> String {
    let doc = alert.to_json();
    let trig = alert.trigger();
    let pri = facility as u32 * 8 + syslog_severity(alert.rule.severity) as u32;
    let host = header_field(trig.host.name.as_deref(), 255);
    let mut msg = format!(
        "<{pri}>1 {} {host} tripline {pid} alert [tripline@32473 rule_id=\"",
        trig.timestamp_rfc3339()
    );
    sd_escape(&alert.rule.id, &mut msg);
    msg.push_str("\" rule_name=\"");
    sd_escape(&alert.rule.name, &mut msg);
    msg.push_str("\" severity=\"");
    msg.push_str(alert.rule.severity.name());
    msg.push_str(&format!("\" risk_score=\"{}\"", alert.rule.risk_score));
    if let Some(a) = &trig.event.action {
        msg.push_str(" event_action=\"");
        sd_escape(a, &mut msg);
        msg.push('"');
    }
    if compact {
        msg.push_str(" truncated=\"true\"");
    }
    msg.push_str("] ");
    let body = if compact {
        let mut d = doc;
        if let Some(t) = d.get_mut("tripline").and_then(Value::as_object_mut) {
            t.remove("events");
        }
        d
    } else {
        doc
    };
    msg.push_str(&body.to_string());
    msg
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixDatagram),
}

/// Sends alerts to a syslog receiver.
pub struct SyslogSink {
    transport: Transport,
    facility: u8,
    pid: u32,
    conn: Option<Conn>,
    /// Alerts sent without `tripline.events` because they did not fit a datagram.
    pub compacted: u64,
}

impl SyslogSink {
    /// Connects (TCP) or binds (UDP, unix) now, so a wrong address fails at start-up.
    ///
    /// # Errors
    /// The address does not resolve or the connection is refused.
    pub fn new(transport: Transport, facility: u8) -> io::Result<SyslogSink> {
        let mut s = SyslogSink {
            transport,
            facility,
            pid: std::process::id(),
            conn: None,
            compacted: 0,
        };
        s.conn = Some(s.connect()?);
        Ok(s)
    }

    fn connect(&self) -> io::Result<Conn> {
        match &self.transport {
            Transport::Udp(addr) => {
                let target = addr
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
                let bind = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let sock = UdpSocket::bind(bind)?;
                sock.connect(target)?;
                Ok(Conn::Udp(sock))
            }
            Transport::Tcp(addr) => {
                let target = addr
                    .to_socket_addrs()?
                    .next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
                let s = TcpStream::connect_timeout(&target, TCP_TIMEOUT)?;
                s.set_write_timeout(Some(TCP_TIMEOUT))?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            #[cfg(unix)]
            Transport::Unix(path) => {
                let s = std::os::unix::net::UnixDatagram::unbound()?;
                s.connect(path)?;
                Ok(Conn::Unix(s))
            }
            #[cfg(not(unix))]
            Transport::Unix(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "unix sockets are not available on this platform",
            )),
        }
    }

    fn send(&mut self, msg: &str) -> io::Result<()> {
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        let res = match self.conn.as_mut().expect("connected above") {
            Conn::Udp(s) => s.send(msg.as_bytes()).map(|_| ()),
            Conn::Tcp(s) => {
                let mut framed = Vec::with_capacity(msg.len() + 12);
                framed.extend_from_slice(format!("{} ", msg.len()).as_bytes());
                framed.extend_from_slice(msg.as_bytes());
                s.write_all(&framed).and_then(|_| s.flush())
            }
            #[cfg(unix)]
            Conn::Unix(s) => s.send(msg.as_bytes()).map(|_| ()),
        };
        if res.is_err() {
            // Reconnect next time (a restarted receiver, a dropped TCP connection).
            self.conn = None;
        }
        res
    }
}

impl AlertSink for SyslogSink {
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        let mut msg = format_message(alert, self.facility, self.pid, false);
        if !matches!(self.transport, Transport::Tcp(_)) && msg.len() > MAX_UDP_MESSAGE {
            msg = format_message(alert, self.facility, self.pid, true);
            self.compacted += 1;
        }
        // One retry after a reconnect: TCP peers close idle connections.
        if self.send(&msg).is_err() {
            self.send(&msg)?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        if let Some(Conn::Tcp(s)) = self.conn.as_mut() {
            s.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::RuleMeta;
    use std::sync::Arc;
    use tripline_parsers::Event;

    fn alert() -> Alert {
        let mut ev = Event {
            timestamp_ns: 1_700_000_000_123_000_000,
            ..Event::default()
        };
        ev.host.name = Some("web 1".into());
        ev.event.action = Some("exec".into());
        ev.process.command_line = Some("curl \"]\\x".into());
        Alert {
            rule: Arc::new(RuleMeta {
                id: "r-1".into(),
                name: "Bad \"thing\" ]".into(),
                severity: Severity::High,
                risk_score: 73.0,
                ..RuleMeta::default()
            }),
            events: vec![Arc::new(ev)],
        }
    }

    #[test]
    fn rfc5424_header_and_structured_data() {
        let m = format_message(&alert(), 4, 77, false);
        assert!(
            m.starts_with("<35>1 2023-11-14T22:13:20.123Z web1 tripline 77 alert [tripline@32473 rule_id=\"r-1\" rule_name=\"Bad \\\"thing\\\" \\]\" severity=\"high\" risk_score=\"73\" event_action=\"exec\"] {"),
            "{m}"
        );
        let json_start = m.find("] {").unwrap() + 2;
        let doc: Value = serde_json::from_str(&m[json_start..]).unwrap();
        assert_eq!(doc["process"]["command_line"], "curl \"]\\x");
        assert!(doc["tripline"]["events"].is_array());
    }

    #[test]
    fn compact_drops_the_event_copies() {
        let m = format_message(&alert(), 4, 77, true);
        assert!(m.contains("truncated=\"true\""));
        let doc: Value = serde_json::from_str(&m[m.find("] {").unwrap() + 2..]).unwrap();
        assert!(doc["tripline"]["events"].is_null());
        assert_eq!(doc["rule"]["id"], "r-1");
    }

    #[test]
    fn severities_and_facilities() {
        assert_eq!(syslog_severity(Severity::Critical), 2);
        assert_eq!(syslog_severity(Severity::Informational), 6);
        assert_eq!(facility_from_name("local7"), Some(23));
        assert_eq!(facility_from_name("nope"), None);
    }
}
