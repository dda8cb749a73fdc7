//! Elasticsearch `_bulk` over HTTPS (`es+https://`) against an in-test TLS
//! server (rustls; no Elasticsearch can run on the build machine, so this
//! server stands in for it, as in tests/elastic_bulk.rs). Every run makes its
//! own certificates with rcgen: a test CA, a server certificate for 127.0.0.1
//! signed by it, one for another name, and an unrelated CA.
//!
//! Shown: the alerts arrive whole over TLS when the CA is given with `?ca=` and
//! when it comes from the system store (`SSL_CERT_FILE`, which
//! rustls-native-certs honours); the API key and Basic credentials come from
//! the environment or the config file and arrive as headers; an untrusted
//! certificate or one for another name stops the run at once (no retries,
//! nothing sent); credentials in `-o` on the command line are refused.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flate2::read::GzDecoder;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};

/// One bulk request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    authorization: Option<String>,
    docs: Vec<Value>,
}

/// A TLS server answering every bulk request with every document created.
fn serve_tls(cfg: Arc<rustls::ServerConfig>) -> (SocketAddr, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    // Detached: it ends with the test process.
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { break };
            let conn = rustls::ServerConnection::new(Arc::clone(&cfg)).unwrap();
            let tls = rustls::StreamOwned::new(conn, tcp);
            // A client that rejects our certificate ends the handshake: an error here.
            let _ = handle(tls, &log);
        }
    });
    (addr, seen)
}

/// Reads one bulk request, logs it, then answers (logged first: the client may
/// exit, and the test look, as soon as the answer is read).
fn handle(
    tls: rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
    log: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut r = BufReader::new(tls);
    let mut line = String::new();
    r.read_line(&mut line)?;
    assert!(
        line.starts_with("POST /tripline-alerts/_bulk HTTP/1.1"),
        "{line}"
    );
    let (mut len, mut gz, mut authorization) = (0usize, false, None);
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        let (k, v) = (k.to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => len = v.parse().unwrap(),
            "content-encoding" => gz = v == "gzip",
            "authorization" => authorization = Some(v.to_string()),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let mut text = String::new();
    if gz {
        GzDecoder::new(&body[..]).read_to_string(&mut text)?;
    } else {
        text = String::from_utf8(body).unwrap();
    }
    let lines: Vec<&str> = text.lines().collect();
    let docs: Vec<Value> = lines
        .chunks(2)
        .map(|p| serde_json::from_str(p[1]).unwrap())
        .collect();
    let items: Vec<Value> = (0..docs.len())
        .map(|i| json!({"create": {"_index": "tripline-alerts", "_id": i.to_string(), "status": 201}}))
        .collect();
    log.lock().unwrap().push(Request {
        authorization,
        docs,
    });
    let body = json!({"took": 1, "errors": false, "items": items}).to_string();
    let tls = r.get_mut();
    write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}

struct Pki {
    dir: PathBuf,
    ca_pem: PathBuf,
    other_ca_pem: PathBuf,
    /// Server certificate for 127.0.0.1, signed by the test CA.
    good: Arc<rustls::ServerConfig>,
    /// Server certificate for `elastic.example`, signed by the test CA.
    wrong_name: Arc<rustls::ServerConfig>,
}

fn ca(name: &str) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (cert, Issuer::new(p, key))
}

fn server_config(
    names: &[&str],
    ca_cert: &rcgen::Certificate,
    issuer: &Issuer<'_, KeyPair>,
) -> Arc<rustls::ServerConfig> {
    let p =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = p.signed_by(&key, issuer).unwrap();
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap(),
    )
}

fn pki() -> Pki {
    let dir = std::env::temp_dir().join(format!("tripline-es-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca_cert, issuer) = ca("tripline test CA");
    let (other_cert, _) = ca("unrelated CA");
    let ca_pem = dir.join("ca.pem");
    let other_ca_pem = dir.join("other-ca.pem");
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&other_ca_pem, other_cert.pem()).unwrap();
    Pki {
        good: server_config(&["127.0.0.1"], &ca_cert, &issuer),
        wrong_name: server_config(&["elastic.example"], &ca_cert, &issuer),
        dir,
        ca_pem,
        other_ca_pem,
    }
}

/// `tripline scan` of the IMDS sample with `args`, no ambient ES credentials.
fn scan(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tripline"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scan", "--quiet", "testdata/e2e/imds-real-audit.log"])
        .args(args)
        .env_remove("TRIPLINE_ES_API_KEY")
        .env_remove("TRIPLINE_ES_USERNAME")
        .env_remove("TRIPLINE_ES_PASSWORD")
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("TRIPLINE_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The alerts of the IMDS sample as NDJSON (the reference).
fn expected_alerts(dir: &Path) -> Vec<Value> {
    let f = dir.join("alerts.ndjson");
    let o = scan(&["-o", f.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    std::fs::read_to_string(&f)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Checks that the server stored exactly `want`, in order (a short message, not two dumps).
fn assert_stored(seen: &Mutex<Vec<Request>>, want: &[Value]) {
    let got = stored(seen);
    assert_eq!(got.len(), want.len(), "documents stored vs alerts");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "document {i} differs: {} vs {}",
            g["message"],
            w["message"]
        );
    }
}

fn stored(seen: &Mutex<Vec<Request>>) -> Vec<Value> {
    seen.lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.docs.clone())
        .collect()
}

#[test]
fn https_bulk_with_verified_certificates_and_credentials() {
    let pki = pki();
    let want = expected_alerts(&pki.dir);
    assert!(!want.is_empty());
    let (addr, seen) = serve_tls(Arc::clone(&pki.good));
    let url = |q: &str| format!("es+https://{addr}/tripline-alerts{q}");

    // 1. ?ca=FILE, API key from the environment.
    let ca_q = format!("?ca={}", pki.ca_pem.display());
    let api_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
    let o = scan(&["-o", &url(&ca_q)], &[("TRIPLINE_ES_API_KEY", api_key)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    {
        let s = seen.lock().unwrap();
        assert!(!s.is_empty());
        for r in s.iter() {
            assert_eq!(r.authorization, Some(format!("ApiKey {api_key}")));
        }
    }
    assert_stored(&seen, &want);
    seen.lock().unwrap().clear();

    // 2. The system store (SSL_CERT_FILE), Basic auth from the environment.
    let ca_file = pki.ca_pem.to_str().unwrap();
    let o = scan(
        &["-o", &url("")],
        &[
            ("SSL_CERT_FILE", ca_file),
            ("TRIPLINE_ES_USERNAME", "tripline_writer"),
            ("TRIPLINE_ES_PASSWORD", "s3cret:with:colons"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // base64("tripline_writer:s3cret:with:colons")
    let basic = "Basic dHJpcGxpbmVfd3JpdGVyOnMzY3JldDp3aXRoOmNvbG9ucw==";
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|r| r.authorization.as_deref() == Some(basic))
    );
    assert_stored(&seen, &want);
    seen.lock().unwrap().clear();

    // 3. Credentials in the URL are accepted from the config file.
    let cfg = pki.dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[output]\noutputs = [{:?}]\n",
            format!(
                "es+https://elastic:changeme@{addr}/tripline-alerts?ca={}",
                pki.ca_pem.display()
            )
        ),
    )
    .unwrap();
    let o = scan(&["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // base64("elastic:changeme")
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="))
    );
    assert_stored(&seen, &want);
    seen.lock().unwrap().clear();

    // 4. ... and refused on the command line, without echoing the password in our message.
    let o = scan(
        &[
            "-o",
            &format!("es+https://elastic:changeme@{addr}/tripline-alerts"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("credentials on the command line"),
        "{}",
        stderr(&o)
    );
    let o = scan(
        &[
            "-o",
            &format!("es+https://{addr}/tripline-alerts?api_key=abc"),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(seen.lock().unwrap().is_empty());

    // 5. A certificate from a CA we do not trust: fails at once, nothing stored.
    let t = Instant::now();
    let o = scan(
        &["-o", &url("")],
        &[("SSL_CERT_FILE", pki.other_ca_pem.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("UnknownIssuer"), "{}", stderr(&o));
    assert!(stderr(&o).contains("not retried"), "{}", stderr(&o));
    assert!(
        t.elapsed().as_secs() < 5,
        "a certificate failure is not retried with backoff"
    );
    assert!(seen.lock().unwrap().is_empty());

    // 6. A certificate from the trusted CA for another name.
    let (addr2, seen2) = serve_tls(Arc::clone(&pki.wrong_name));
    let o = scan(
        &["-o", &format!("es+https://{addr2}/tripline-alerts{ca_q}")],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not valid for name"), "{}", stderr(&o));
    assert!(seen2.lock().unwrap().is_empty());

    // 7. An unreadable CA file is an error before any input is read.
    let o = scan(&["-o", &url("?ca=/nonexistent/ca.pem")], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("/nonexistent/ca.pem"), "{}", stderr(&o));

    let _ = std::fs::remove_dir_all(&pki.dir);
}
