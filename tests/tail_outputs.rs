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

// See: issue 8. Counting correlations (`event_count`) keep their windows in
// the checkpoint: seven curl execs split by a restart fire the "seven curls"
// rule once, as a scan of the whole log does. The curl execs alert too
// (`generate: true`), which shows when the first run has read its half.
#[test]
fn count_windows_survive_a_restart() {
    let d = tmpdir("count");
    let rules = d.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("base.yml"),
        "title: curl exec\nid: 0c0c0c0c-0000-4000-8000-000000000001\nname: curl_exec\n\
         logsource:\n  product: linux\n  category: process_creation\n\
         detection:\n  sel:\n    Image|endswith: '/curl'\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("count.yml"),
        "title: seven curls\nid: 0c0c0c0c-0000-4000-8000-000000000002\n\
         correlation:\n  type: event_count\n  rules: curl_exec\n  timespan: 1h\n\
         \x20 generate: true\n  condition:\n    gte: 7\nlevel: medium\n",
    )
    .unwrap();
    let full = input(&d);
    let text = std::fs::read_to_string(&full).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let log = d.join("live.log");
    std::fs::write(&log, lines[..half].join("\n") + "\n").unwrap();
    let scan = |p: &Path| -> Vec<String> {
        let out = Command::new(BIN)
            .args(["scan", "-q", "--rules"])
            .arg(&rules)
            .arg(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    };
    let count_alerts = |v: &[String]| v.iter().filter(|l| l.contains("seven curls")).count();
    let whole = scan(&full);
    assert_eq!(count_alerts(&whole), 1, "the whole log fires once");
    let first = scan(&log);
    assert_eq!(
        count_alerts(&first),
        0,
        "the first half alone does not fire"
    );
    assert!(
        first.len() >= 2,
        "curl execs in the first half: {}",
        first.len()
    );
    let out = d.join("alerts.ndjson");
    let run = |want: usize, from_start: bool| {
        let mut cmd = Command::new(BIN);
        cmd.args(["tail", "-q", "--rules"]).arg(&rules);
        if from_start {
            cmd.arg("--from-start");
        }
        let mut child = cmd
            .arg("--state-dir")
            .arg(d.join("st"))
            .arg("-o")
            .arg(&out)
            .arg(&log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let lines = || {
            std::fs::read_to_string(&out)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        while lines() < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(child.wait().unwrap().success());
    };
    // The single-event alerts of the first half (the last event may still be
    // open: the restart completes it), then the rest of the log.
    run(first.len().saturating_sub(1), true);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all((lines[half..].join("\n") + "\n").as_bytes())
        })
        .unwrap();
    run(whole.len(), false);
    let got: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        (count_alerts(&got), got.len()),
        (1, whole.len()),
        "(count alerts, all alerts) after the restart vs the scan of the whole log"
    );
}
