//! Elasticsearch `_bulk` against an in-test HTTP server that implements the
//! documented bulk request/response contract (no Elasticsearch can run on the
//! build machine, so this server stands in for it): NDJSON action/document
//! pairs, gzip bodies, a `200` with per-item statuses and `errors: true`, and
//! whole-request `429`/`503`.
//!
//! Scripted behaviour: the first request gets 503, the second 429; on the
//! third, two documents fail with item status 429 and one with 503; the rest
//! succeed. The sink must retry the whole request twice and then only the three
//! failed documents, so every alert is stored exactly once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use flate2::read::GzDecoder;
use serde_json::{Value, json};

#[derive(Default)]
struct Server {
    requests: u32,
    stored: Vec<Value>,
    batch_sizes: Vec<usize>,
    gzip: bool,
}

fn serve(listener: TcpListener, state: Arc<Mutex<Server>>) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { break };
        let mut r = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        if line.starts_with("QUIT") {
            break;
        }
        assert!(
            line.starts_with("POST /tripline-alerts/_bulk HTTP/1.1"),
            "{line}"
        );
        let (mut len, mut gz, mut ndjson) = (0usize, false, false);
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            gz |= l == "content-encoding: gzip";
            ndjson |= l == "content-type: application/x-ndjson";
        }
        assert!(ndjson, "bulk bodies are NDJSON");
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        let text = if gz {
            let mut s = String::new();
            GzDecoder::new(&body[..]).read_to_string(&mut s).unwrap();
            s
        } else {
            String::from_utf8(body).unwrap()
        };
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() % 2, 0, "action/document pairs");
        let mut st = state.lock().unwrap();
        st.requests += 1;
        st.gzip |= gz;
        let n = st.requests;
        let reply = |conn: &mut std::net::TcpStream, status: &str, body: &str| {
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).unwrap();
        };
        if n == 1 {
            reply(
                &mut conn,
                "503 Service Unavailable",
                r#"{"error":"unavailable"}"#,
            );
            continue;
        }
        if n == 2 {
            reply(&mut conn, "429 Too Many Requests", r#"{"error":"busy"}"#);
            continue;
        }
        st.batch_sizes.push(lines.len() / 2);
        let mut items = Vec::new();
        let mut errors = false;
        for (i, pair) in lines.chunks(2).enumerate() {
            let action: Value = serde_json::from_str(pair[0]).unwrap();
            assert_eq!(action["create"]["_index"], "tripline-alerts");
            let doc: Value = serde_json::from_str(pair[1]).unwrap();
            let fail = if n == 3 && (i == 1 || i == 4) {
                Some(429)
            } else if n == 3 && i == 6 {
                Some(503)
            } else {
                None
            };
            match fail {
                Some(code) => {
                    errors = true;
                    items.push(json!({"create": {"_index": "tripline-alerts", "status": code,
                        "error": {"type": "es_rejected_execution_exception", "reason": "try again"}}}));
                }
                None => {
                    st.stored.push(doc);
                    items.push(json!({"create": {"_index": "tripline-alerts", "_id": format!("{n}-{i}"), "status": 201}}));
                }
            }
        }
        let body = json!({"took": 1, "errors": errors, "items": items}).to_string();
        reply(&mut conn, "200 OK", &body);
    }
}

#[test]
fn bulk_batches_gzip_retries_and_loses_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(Server::default()));
    let server = {
        let state = state.clone();
        std::thread::spawn(move || serve(listener, state))
    };
    let dir = std::env::temp_dir().join(format!("tripline-es-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("alerts.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["scan", "--quiet", "testdata/e2e/imds-real-audit.log"])
        .args([
            "-o",
            &format!("elasticsearch+http://{addr}/tripline-alerts"),
        ])
        .args(["-o", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    std::net::TcpStream::connect(addr)
        .unwrap()
        .write_all(b"QUIT\r\n")
        .unwrap();
    server.join().unwrap();

    let st = state.lock().unwrap();
    assert!(st.gzip, "bodies are gzip-compressed");
    assert_eq!(
        st.requests, 4,
        "503, 429, a partial failure, then the 3 failed documents only"
    );
    assert_eq!(
        st.batch_sizes,
        vec![alerts.len(), 3],
        "the retry carries only the failed documents"
    );
    assert_eq!(st.stored.len(), alerts.len(), "every alert stored once");
    for a in &alerts {
        assert_eq!(
            st.stored.iter().filter(|s| *s == a).count(),
            1,
            "stored exactly once: {}",
            a["message"]
        );
    }
}
