//! Syslog against a real `rsyslogd` started by the test on 127.0.0.1 (UDP and
//! TCP): every alert arrives whole and rsyslog parses it as RFC 5424 with the
//! right app-name, severity, facility and structured data.
//!
//! Needs Debian's `rsyslog`. Without it the test prints SKIPPED, unless
//! `TRIPLINE_REQUIRE_RSYSLOG=1` (set by `.ci/run`), where that is a failure.
//! Unix only: rsyslog does not run on Windows.
#![cfg(unix)]

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Rsyslog {
    child: Child,
    dir: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rsyslogd() -> Option<PathBuf> {
    ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &Path, udp: u16, tcp: u16) -> Rsyslog {
    let dir = std::env::temp_dir().join(format!("tripline-rsyslog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.log");
    let conf = format!(
        r#"global(workDirectory="{dir}" maxMessageSize="1m")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="string"
  string="%protocol-version%|%app-name%|%syslogseverity-text%|%syslogfacility-text%|%hostname%|%procid%|%msgid%|%structured-data%|%msg%\n")
ruleset(name="tripline") {{
  action(type="omfile" file="{out}" template="fields")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="tripline")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tripline")
"#,
        dir = dir.display(),
        out = out.display(),
    );
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new(bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Rsyslog { child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    r
}

#[test]
fn every_alert_arrives_whole_as_rfc5424_over_udp_and_tcp() {
    let Some(bin) = rsyslogd() else {
        if std::env::var("TRIPLINE_REQUIRE_RSYSLOG").is_ok_and(|v| v == "1") {
            panic!("rsyslogd not found but TRIPLINE_REQUIRE_RSYSLOG=1 (install Debian's rsyslog)");
        }
        eprintln!(
            "SKIPPED every_alert_arrives_whole_as_rfc5424_over_udp_and_tcp: rsyslogd not installed"
        );
        return;
    };
    let (udp, tcp) = (free_udp_port(), free_tcp_port());
    let rs = start(&bin, udp, tcp);
    let file = rs.dir.join("alerts.ndjson");
    let out = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "scan",
            "--quiet",
            "testdata/e2e/imds-real-audit.log",
            "--syslog-facility",
            "local3",
        ])
        .args(["-o", &format!("syslog+udp://127.0.0.1:{udp}")])
        .args(["-o", &format!("syslog+tcp://127.0.0.1:{tcp}")])
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
    assert!(alerts.len() >= 15, "the real log raises 19 alerts");

    // UDP and TCP: each alert twice.
    let want = alerts.len() * 2;
    let log = rs.dir.join("out.log");
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines: Vec<String> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= want || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        lines.len(),
        want,
        "rsyslog received {} of {want} messages",
        lines.len()
    );

    let mut seen = vec![0u32; alerts.len()];
    for line in &lines {
        let f: Vec<&str> = line.splitn(9, '|').collect();
        assert_eq!(f.len(), 9, "{line}");
        assert_eq!(f[0], "1", "not parsed as RFC 5424: {line}");
        assert_eq!(f[1], "tripline");
        assert_eq!(f[3], "local3");
        assert_eq!(f[6], "alert");
        let doc: Value = serde_json::from_str(f[8])
            .unwrap_or_else(|e| panic!("MSG is not whole JSON ({e}): {line}"));
        let i = alerts
            .iter()
            .position(|a| a == &doc)
            .expect("MSG differs from the alert written to the file");
        seen[i] += 1;
        let rule = &alerts[i]["rule"];
        let sev = match alerts[i]["log"]["level"].as_str().unwrap() {
            "critical" => "crit",
            "high" => "err",
            "medium" => "warning",
            "low" => "notice",
            _ => "info",
        };
        assert_eq!(f[2], sev, "{line}");
        assert!(
            f[7].starts_with(&format!(
                "[tripline@32473 rule_id=\"{}\"",
                rule["id"].as_str().unwrap()
            )),
            "structured data: {}",
            f[7]
        );
        assert!(f[7].contains(&format!(
            "severity=\"{}\"",
            alerts[i]["log"]["level"].as_str().unwrap()
        )));
    }
    assert!(
        seen.iter().all(|&n| n == 2),
        "each alert once over UDP and once over TCP: {seen:?}"
    );
}
