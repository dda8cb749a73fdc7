//! Elasticsearch `_bulk`: alerts as ECS documents into an index or a data stream.
//!
//! # Contract
//!
//! - Alerts are buffered and sent in batches of at most [`BATCH_DOCS`] documents
//!   or [`BATCH_BYTES`] bytes of NDJSON, and at `finish`/`flush`. Each document
//!   is a `create` action (required by data streams, fine for indices).
//! - The body is gzip-compressed (`Content-Encoding: gzip`).
//! - A whole request answered 429 or 5xx, or a connection failure, is retried
//!   with exponential backoff ([`MAX_ATTEMPTS`] attempts, from [`FIRST_BACKOFF`]).
//! - A 200 response with `errors: true` is read item by item: items with status
//!   429 or 5xx are sent again (only those); other failed items (a 400 mapping
//!   error, say) cannot succeed by retrying: they are counted in
//!   [`ElasticSink::rejected`] and reported on stderr with the reason.
//! - Nothing is acknowledged before the bulk response says so: `flush` returns
//!   only when every buffered document was accepted (201/200) or rejected for
//!   good; when retries are exhausted it returns an error and keeps the documents.
//!
//! Only plain `http://` is spoken here (no TLS yet): put Elasticsearch behind a
//! local TLS-terminating proxy or use syslog for remote shipping.
//! Credentials: `user:password@` in the URL (Basic), or an API key in the
//! environment variable `TRIPLINE_ES_API_KEY` (`Authorization: ApiKey …`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use super::{AlertSink, SinkError};
use crate::alert::Alert;

/// Documents per bulk request.
pub const BATCH_DOCS: usize = 500;
/// NDJSON bytes per bulk request (before compression).
pub const BATCH_BYTES: usize = 5 << 20;
/// Attempts per batch before `flush` gives up.
pub const MAX_ATTEMPTS: u32 = 8;
/// First retry delay; doubled on every attempt.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Socket timeout for connect, write and read.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body we read (a bulk response for a full batch is far smaller).
const MAX_RESPONSE: u64 = 64 << 20;

/// Where the documents go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElasticTarget {
    /// `host:port`.
    pub addr: String,
    /// Index or data stream name.
    pub index: String,
    /// `user:password` for Basic auth.
    pub basic: Option<String>,
}

impl ElasticTarget {
    /// Parses `http://[user:pass@]host:port/index` (the part after `elasticsearch+` or `es+`).
    ///
    /// # Errors
    /// Not `http://`, no port, or no index.
    pub fn parse(url: &str) -> Result<ElasticTarget, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("{url}: only http:// is supported (no TLS yet; see the README)")
        })?;
        let (authority, index) = rest
            .split_once('/')
            .ok_or_else(|| format!("{url}: expected http://HOST:PORT/INDEX"))?;
        let index = index.trim_end_matches('/');
        if index.is_empty() || index.contains('/') {
            return Err(format!(
                "{url}: expected one index or data stream name after the host"
            ));
        }
        let (basic, hostport) = match authority.rsplit_once('@') {
            Some((cred, hp)) => (Some(cred.to_string()), hp),
            None => (None, authority),
        };
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {}
            _ => return Err(format!("{url}: expected HOST:PORT")),
        }
        Ok(ElasticTarget {
            addr: hostport.to_string(),
            index: index.to_string(),
            basic,
        })
    }
}

/// A parsed HTTP response.
struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Sends alerts to Elasticsearch's `_bulk` API.
pub struct ElasticSink {
    target: ElasticTarget,
    api_key: Option<String>,
    pending: Vec<String>,
    pending_bytes: usize,
    /// Documents Elasticsearch accepted.
    pub accepted: u64,
    /// Documents Elasticsearch rejected for good (e.g. mapping errors).
    pub rejected: u64,
    /// Retries (whole requests and single documents).
    pub retries: u64,
    backoff: Duration,
}

impl ElasticSink {
    /// A sink for `target`; nothing is sent until the first batch fills or `flush`.
    pub fn new(target: ElasticTarget) -> ElasticSink {
        ElasticSink {
            target,
            api_key: std::env::var("TRIPLINE_ES_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            pending: Vec::new(),
            pending_bytes: 0,
            accepted: 0,
            rejected: 0,
            retries: 0,
            backoff: FIRST_BACKOFF,
        }
    }

    /// Uses `d` as the first retry delay (tests use a short one).
    pub fn with_backoff(mut self, d: Duration) -> Self {
        self.backoff = d;
        self
    }

    fn post(&self, body: &[u8]) -> std::io::Result<Response> {
        let addr = self
            .target
            .addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
        let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        s.set_read_timeout(Some(TIMEOUT))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(body)?;
        let body = gz.finish()?;
        let mut head = format!(
            "POST /{}/_bulk HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-ndjson\r\n\
             Content-Encoding: gzip\r\nAccept-Encoding: identity\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.target.index,
            self.target.addr,
            body.len()
        );
        if let Some(k) = &self.api_key {
            head.push_str(&format!("Authorization: ApiKey {k}\r\n"));
        } else if let Some(b) = &self.target.basic {
            head.push_str(&format!(
                "Authorization: Basic {}\r\n",
                base64(b.as_bytes())
            ));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        s.write_all(&body)?;
        s.flush()?;
        read_response(BufReader::new(s))
    }

    /// Sends `docs` (NDJSON document lines); returns the ones to retry.
    fn send_once(&mut self, docs: &[String]) -> Result<Vec<String>, String> {
        let mut body = String::new();
        let action = json!({"create": {"_index": self.target.index}}).to_string();
        for d in docs {
            body.push_str(&action);
            body.push('\n');
            body.push_str(d);
            body.push('\n');
        }
        let resp = self.post(body.as_bytes()).map_err(|e| e.to_string())?;
        if resp.status == 429 || resp.status >= 500 {
            return Err(format!("HTTP {}", resp.status));
        }
        if resp.status != 200 {
            // The whole request is wrong (bad index name, auth): retrying cannot help.
            self.rejected += docs.len() as u64;
            eprintln!(
                "tripline: elasticsearch rejected a bulk request: HTTP {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body[..resp.body.len().min(500)])
            );
            return Ok(Vec::new());
        }
        let v: Value =
            serde_json::from_slice(&resp.body).map_err(|e| format!("bad bulk response: {e}"))?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.len() != docs.len() {
            return Err(format!(
                "bulk response has {} items for {} documents",
                items.len(),
                docs.len()
            ));
        }
        let mut retry = Vec::new();
        for (doc, item) in docs.iter().zip(items) {
            let r = item
                .as_object()
                .and_then(|o| o.values().next())
                .cloned()
                .unwrap_or(Value::Null);
            let status = r["status"].as_u64().unwrap_or(0);
            if (200..300).contains(&status) {
                self.accepted += 1;
            } else if status == 429 || status >= 500 {
                retry.push(doc.clone());
            } else {
                self.rejected += 1;
                eprintln!(
                    "tripline: elasticsearch rejected an alert: status {status}: {}",
                    crate::pipeline::escape(&r["error"].to_string())
                );
            }
        }
        Ok(retry)
    }

    /// Sends everything pending; returns when Elasticsearch has answered for every document.
    ///
    /// # Errors
    /// Retries exhausted: the documents stay pending.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let mut todo = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let mut delay = self.backoff;
        let mut attempt = 0;
        while !todo.is_empty() {
            attempt += 1;
            match self.send_once(&todo) {
                Ok(retry) => {
                    if !retry.is_empty() {
                        self.retries += retry.len() as u64;
                    }
                    todo = retry;
                }
                Err(e) if attempt < MAX_ATTEMPTS => {
                    self.retries += 1;
                    let _ = e;
                }
                Err(e) => {
                    self.pending_bytes = todo.iter().map(String::len).sum();
                    self.pending = todo;
                    return Err(SinkError::Io(std::io::Error::other(format!(
                        "elasticsearch bulk failed after {attempt} attempts: {e}"
                    ))));
                }
            }
            if !todo.is_empty() {
                if attempt >= MAX_ATTEMPTS {
                    self.pending_bytes = todo.iter().map(String::len).sum();
                    self.pending = todo;
                    return Err(SinkError::Io(std::io::Error::other(format!(
                        "elasticsearch kept refusing {} documents after {attempt} attempts",
                        self.pending.len()
                    ))));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
        Ok(())
    }
}

impl AlertSink for ElasticSink {
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        let doc = alert.to_json().to_string();
        self.pending_bytes += doc.len();
        self.pending.push(doc);
        if self.pending.len() >= BATCH_DOCS || self.pending_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(true)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}

fn read_response<R: BufRead>(mut r: R) -> std::io::Result<Response> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad HTTP status line"))?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                break;
            }
            if body.len() as u64 + size > MAX_RESPONSE {
                return Err(bad("response too large"));
            }
            (&mut r).take(size).read_to_end(&mut body)?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else {
        (&mut r)
            .take(length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE))
            .read_to_end(&mut body)?;
    }
    Ok(Response { status, body })
}

/// Standard base64 (RFC 4648) for the Basic auth header.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        assert_eq!(
            ElasticTarget::parse(
                "http://elastic:secret@127.0.0.1:9200/logs-tripline.alerts-default"
            ),
            Ok(ElasticTarget {
                addr: "127.0.0.1:9200".into(),
                index: "logs-tripline.alerts-default".into(),
                basic: Some("elastic:secret".into())
            })
        );
        assert!(ElasticTarget::parse("https://h:9200/i").is_err());
        assert!(ElasticTarget::parse("http://h:9200/").is_err());
        assert!(ElasticTarget::parse("http://h/i").is_err());
    }

    #[test]
    fn base64_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn reads_chunked_and_sized_responses() {
        let r = read_response(&b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdXX"[..]).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcd"[..]));
        let r = read_response(&b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"[..]).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (429, &b"abcde"[..]));
    }
}
