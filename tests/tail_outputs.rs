//! `tripline tail -o`: every output `scan` has, several at once. The NDJSON
//! file and a syslog (UDP, on 127.0.0.1) receiver get the same alerts as
//! `scan`; with only a syslog output nothing goes to stdout; two files are
//! refused (only one can be read back for exactly once).
//!
//! Unix only: the run is stopped with SIGTERM.
#![cfg(unix)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tripline");

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-tail-out-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn input(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/e2e/imds-real-audit.log");
    let dst = dir.join("audit.log");
    std::fs::copy(src, &dst).unwrap();
    dst
}

fn expected(log: &Path) -> usize {
    let out = Command::new(BIN)
        .args(["scan", "-q"])
        .arg(log)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn file_and_syslog_get_every_alert() {
    let d = tmpdir("both");
    let log = input(&d);
    let want = expected(&log);
    assert!(want > 0);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let out = d.join("alerts.ndjson");
    let mut child = Command::new(BIN)
        .args(["tail", "-q", "--from-start", "--state-dir"])
        .arg(d.join("st"))
        .arg("-o")
        .arg(&out)
        .args(["-o", &format!("syslog+udp://127.0.0.1:{port}")])
        .arg(&log)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = vec![0u8; 1 << 16];
    while got < want && Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with('<'));
            got += 1;
        }
    }
    let file_lines = |p: &Path| {
        std::fs::read_to_string(p)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    while file_lines(&out) < want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let stdout = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(got, want, "syslog messages");
    assert_eq!(file_lines(&out), want, "file alerts");
    assert!(stdout.is_empty(), "a file output: nothing on stdout");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn two_files_are_refused() {
    let d = tmpdir("two");
    let log = input(&d);
    let out = Command::new(BIN)
        .args(["tail", "--state-dir"])
        .arg(d.join("st"))
        .args(["-o", "a.ndjson", "-o", "b.ndjson"])
        .arg(&log)
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most one NDJSON file output"));
    std::fs::remove_dir_all(&d).unwrap();
}
