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
//! - A failure that retrying cannot fix (the server's certificate is untrusted
//!   or for another name, TLS cannot be set up) is returned at once.
//! - Nothing is acknowledged before the bulk response says so: `flush` returns
//!   only when every buffered document was accepted (201/200) or rejected for
//!   good; when retries are exhausted it returns an error and keeps the documents.
//!
//! # Transport
//!
//! `http://` or `https://`. HTTPS is TLS 1.2/1.3 through rustls (the `ring`
//! provider); the server certificate is verified against the system's trust
//! store (`rustls-native-certs`: the OS store on Windows and macOS, the
//! distribution's CA bundle on Linux; `SSL_CERT_FILE`/`SSL_CERT_DIR` override it),
//! or, with `?ca=FILE`, against the PEM certificate(s) in FILE only (a
//! private cluster CA). There is no option to skip verification.
//!
//! # Credentials
//!
//! An API key (`Authorization: ApiKey …`) wins over Basic auth. Looked up per
//! output: `?api_key=KEY` or `user:password@` in the URL, which the command
//! line refuses (`ps` shows it to every user: see `cli::output_arg`) so it can only come from the
//! configuration file; then the environment: `TRIPLINE_ES_API_KEY`, or
//! `TRIPLINE_ES_USERNAME` and `TRIPLINE_ES_PASSWORD`. Credentials never appear
//! in error messages or `Debug` output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

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
#[derive(Clone, PartialEq, Eq)]
pub struct ElasticTarget {
    /// `host:port`.
    pub addr: String,
    /// Index or data stream name.
    pub index: String,
    /// `user:password` for Basic auth.
    pub basic: Option<String>,
    /// `https://`: TLS, the server certificate verified.
    pub tls: bool,
    /// `?ca=FILE`: PEM CA certificate(s) trusted instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// `?api_key=KEY`: the API key (`Authorization: ApiKey KEY`).
    pub api_key: Option<String>,
}

impl std::fmt::Debug for ElasticTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hide = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("ElasticTarget")
            .field("addr", &self.addr)
            .field("index", &self.index)
            .field("basic", &hide(&self.basic))
            .field("tls", &self.tls)
            .field("ca", &self.ca)
            .field("api_key", &hide(&self.api_key))
            .finish()
    }
}

impl ElasticTarget {
    /// Parses `http[s]://[user:pass@]host:port/index[?ca=FILE&api_key=KEY]`
    /// (the part after `elasticsearch+` or `es+`). Query values are
    /// percent-decoded.
    ///
    /// # Errors
    /// Not `http://` or `https://`, no port, no index, an unknown parameter, or
    /// `ca=` without `https://`. The message never quotes the credentials.
    pub fn parse(url: &str) -> Result<ElasticTarget, String> {
        let shown = redact(url);
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("{shown}: expected http:// or https://"));
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, index) = rest
            .split_once('/')
            .ok_or_else(|| format!("{shown}: expected http[s]://HOST:PORT/INDEX"))?;
        let index = index.trim_end_matches('/');
        if index.is_empty() || index.contains('/') {
            return Err(format!(
                "{shown}: expected one index or data stream name after the host"
            ));
        }
        let (basic, hostport) = match authority.rsplit_once('@') {
            Some((cred, hp)) => (Some(cred.to_string()), hp),
            None => (None, authority),
        };
        match hostport.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => {}
            _ => return Err(format!("{shown}: expected HOST:PORT")),
        }
        let (mut ca, mut api_key) = (None, None);
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = percent_decode(v).ok_or_else(|| format!("{shown}: bad %-escape in {k}="))?;
            match k {
                "ca" if !v.is_empty() => ca = Some(PathBuf::from(v)),
                "api_key" if !v.is_empty() => api_key = Some(v),
                "ca" | "api_key" => return Err(format!("{shown}: {k}= needs a value")),
                _ => {
                    return Err(format!(
                        "{shown}: unknown parameter {k:?} (ca=FILE, api_key=KEY)"
                    ));
                }
            }
        }
        if ca.is_some() && !tls {
            return Err(format!("{shown}: ca= needs https://"));
        }
        Ok(ElasticTarget {
            addr: hostport.to_string(),
            index: index.to_string(),
            basic,
            tls,
            ca,
            api_key,
        })
    }

    /// True if the URL itself carries a secret (`user:pass@` or `api_key=`).
    pub fn has_credentials(&self) -> bool {
        self.basic.is_some() || self.api_key.is_some()
    }

    /// The host part of `addr`, without brackets around an IPv6 address.
    fn host(&self) -> &str {
        let h = self.addr.rsplit_once(':').map_or(&*self.addr, |(h, _)| h);
        h.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h)
    }
}

/// The URL with `user:pass@` and an `api_key=` value replaced by `***`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let rest = match rest.split_once('/') {
        Some((auth, path)) => match auth.rsplit_once('@') {
            Some((_, hp)) => format!("***@{hp}/{path}"),
            None => rest.to_string(),
        },
        None => match rest.rsplit_once('@') {
            Some((_, hp)) => format!("***@{hp}"),
            None => rest.to_string(),
        },
    };
    let mut out = if scheme.is_empty() {
        rest
    } else {
        format!("{scheme}://{rest}")
    };
    if let Some(q) = query {
        let q: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some(("api_key", _)) => "api_key=***".to_string(),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

/// `%XX` decoding (UTF-8); None on a bad escape.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The rustls client configuration: roots from `ca` (PEM) or the system store.
///
/// # Errors
/// The CA file cannot be read or holds no certificate, or the system store has none.
pub fn tls_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("CA file {}: {e}", p.display()))?;
            if certs.is_empty() {
                return Err(format!("CA file {}: no PEM certificate in it", p.display()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("CA file {}: {e}", p.display()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                return Err(format!(
                    "no trusted root certificate in the system store{}; give the cluster's CA with ?ca=FILE",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", why.join("; "))
                    }
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// A connection: plain TCP or TLS over it.
trait Conn: Read + Write {}
impl<T: Read + Write> Conn for T {}

/// Why a bulk request got no usable answer.
enum Failure {
    /// Worth another attempt after a backoff (connection refused, 429, 5xx, a cut response).
    Retry(String),
    /// Cannot succeed by retrying: the server's certificate is not trusted or
    /// not for this host, TLS cannot be set up, the peer cannot speak our TLS.
    Fatal(String),
}

impl Failure {
    fn of(e: std::io::Error) -> Failure {
        use rustls::Error as T;
        let fatal = e.kind() == std::io::ErrorKind::InvalidInput
            || e.get_ref()
                .and_then(|i| i.downcast_ref::<T>())
                .is_some_and(|t| {
                    matches!(
                        t,
                        T::InvalidCertificate(_)
                            | T::NoCertificatesPresented
                            | T::UnsupportedNameType
                            | T::PeerIncompatible(_)
                    )
                });
        if fatal {
            Failure::Fatal(e.to_string())
        } else {
            Failure::Retry(e.to_string())
        }
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
    basic: Option<String>,
    /// For `https://`: the client configuration, or why it could not be made.
    tls: Option<Result<Arc<rustls::ClientConfig>, String>>,
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
    /// A TLS setup error (unreadable `ca=` file) surfaces at the first send;
    /// [`ElasticSink::open`] reports it at once.
    pub fn new(target: ElasticTarget) -> ElasticSink {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let api_key = target
            .api_key
            .clone()
            .or_else(|| env("TRIPLINE_ES_API_KEY"));
        let basic = target.basic.clone().or_else(|| {
            env("TRIPLINE_ES_USERNAME")
                .map(|u| format!("{u}:{}", env("TRIPLINE_ES_PASSWORD").unwrap_or_default()))
        });
        let tls = target.tls.then(|| tls_config(target.ca.as_deref()));
        ElasticSink {
            target,
            api_key,
            basic,
            tls,
            pending: Vec::new(),
            pending_bytes: 0,
            accepted: 0,
            rejected: 0,
            retries: 0,
            backoff: FIRST_BACKOFF,
        }
    }

    /// [`ElasticSink::new`], failing now if TLS cannot be set up (an
    /// unreadable or empty `ca=` file, no system roots).
    ///
    /// # Errors
    /// The TLS setup error, naming the CA file.
    pub fn open(target: ElasticTarget) -> Result<ElasticSink, SinkError> {
        let sink = ElasticSink::new(target);
        if let Some(Err(e)) = &sink.tls {
            return Err(SinkError::Io(std::io::Error::other(e.clone())));
        }
        Ok(sink)
    }

    /// True when credentials would cross the network in clear text: plain
    /// `http://` with credentials to a host that is not loopback.
    pub fn sends_credentials_in_clear(&self) -> bool {
        let loopback = self.target.host() == "localhost"
            || self
                .target
                .host()
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        !self.target.tls && !loopback && (self.api_key.is_some() || self.basic.is_some())
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
        let tcp = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        tcp.set_read_timeout(Some(TIMEOUT))?;
        tcp.set_write_timeout(Some(TIMEOUT))?;
        let mut s: Box<dyn Conn> = match &self.tls {
            None => Box::new(tcp),
            Some(Err(e)) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    e.clone(),
                ));
            }
            Some(Ok(cfg)) => {
                let name = ServerName::try_from(self.target.host().to_string()).map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("TLS server name: {e}"),
                    )
                })?;
                let conn = rustls::ClientConnection::new(Arc::clone(cfg), name)
                    .map_err(std::io::Error::other)?;
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
        };
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
        } else if let Some(b) = &self.basic {
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
    fn send_once(&mut self, docs: &[String]) -> Result<Vec<String>, Failure> {
        let mut body = String::new();
        let action = json!({"create": {"_index": self.target.index}}).to_string();
        for d in docs {
            body.push_str(&action);
            body.push('\n');
            body.push_str(d);
            body.push('\n');
        }
        let resp = self.post(body.as_bytes()).map_err(Failure::of)?;
        if resp.status == 429 || resp.status >= 500 {
            return Err(Failure::Retry(format!("HTTP {}", resp.status)));
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
        let v: Value = serde_json::from_slice(&resp.body)
            .map_err(|e| Failure::Retry(format!("bad bulk response: {e}")))?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        if items.len() != docs.len() {
            return Err(Failure::Retry(format!(
                "bulk response has {} items for {} documents",
                items.len(),
                docs.len()
            )));
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
                Err(Failure::Fatal(e)) => {
                    self.pending_bytes = todo.iter().map(String::len).sum();
                    self.pending = todo;
                    return Err(SinkError::Io(std::io::Error::other(format!(
                        "elasticsearch bulk failed (not retried: retrying cannot help): {e}"
                    ))));
                }
                Err(Failure::Retry(_)) if attempt < MAX_ATTEMPTS => {
                    self.retries += 1;
                }
                Err(Failure::Retry(e)) => {
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
                basic: Some("elastic:secret".into()),
                tls: false,
                ca: None,
                api_key: None,
            })
        );
        assert_eq!(
            ElasticTarget::parse("https://[::1]:9200/alerts?ca=/etc/es%20ca.pem&api_key=a%3Db"),
            Ok(ElasticTarget {
                addr: "[::1]:9200".into(),
                index: "alerts".into(),
                basic: None,
                tls: true,
                ca: Some("/etc/es ca.pem".into()),
                api_key: Some("a=b".into()),
            })
        );
        assert_eq!(
            ElasticTarget::parse("https://[::1]:9200/alerts")
                .unwrap()
                .host(),
            "::1"
        );
        assert!(ElasticTarget::parse("http://h:9200/i?ca=x.pem").is_err());
        assert!(ElasticTarget::parse("https://h:9200/i?verify=no").is_err());
        assert!(ElasticTarget::parse("https://h:9200/i?ca=").is_err());
        assert!(ElasticTarget::parse("https://h:9200/i?api_key=%zz").is_err());
        assert!(ElasticTarget::parse("ftp://h:9200/i").is_err());
        assert!(ElasticTarget::parse("http://h:9200/").is_err());
        assert!(ElasticTarget::parse("http://h/i").is_err());
    }

    #[test]
    fn secrets_stay_out_of_messages() {
        let url = "https://elastic:hunter2@h:9200/i?api_key=sekrit&x=1";
        let err = ElasticTarget::parse(url).unwrap_err();
        assert!(!err.contains("hunter2") && !err.contains("sekrit"), "{err}");
        assert_eq!(redact(url), "https://***@h:9200/i?api_key=***&x=1");
        let t = ElasticTarget::parse("https://elastic:hunter2@h:9200/i?api_key=sekrit").unwrap();
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("sekrit"), "{dbg}");
        assert!(t.has_credentials());
    }

    #[test]
    fn a_bad_ca_file_fails_at_open() {
        let t = ElasticTarget::parse("https://127.0.0.1:9200/i?ca=/nonexistent/ca.pem").unwrap();
        let err = ElasticSink::open(t).err().expect("an error").to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let empty =
            std::env::temp_dir().join(format!("tripline-empty-ca-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let t = ElasticTarget::parse(&format!("https://127.0.0.1:9200/i?ca={}", empty.display()))
            .unwrap();
        let err = ElasticSink::open(t).err().expect("an error").to_string();
        let _ = std::fs::remove_file(&empty);
        assert!(err.contains("no PEM certificate"), "{err}");
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
