//! The CLI contract: subcommands, exit codes, NDJSON on stdout, summaries and
//! located errors on stderr, and dirty input that never stops a scan.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn tripline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn testdata(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
        .display()
        .to_string()
}

fn ndjson(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad json line {l:?}: {e}")))
        .collect()
}

/// A scratch directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("tripline-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const NORMAL: &str = "auditd/go-libaudit/testdata/normal.log";

#[test]
fn scan_normal_log_flags_the_imds_connect() {
    // Must show #3: go-libaudit normal.log has a real connect() to 169.254.169.254:80 by a
    // hex-encoded python exe; it becomes a network event and the IP-keyed rule fires.
    let out = tripline(&["scan", &testdata(NORMAL)]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = ndjson(&out.stdout);
    let net: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["destination"]["ip"] == "169.254.169.254")
        .collect();
    assert!(!net.is_empty(), "no alert on the IMDS connect: {alerts:#?}");
    let a = net[0];
    assert_eq!(a["event"]["kind"], "alert");
    assert_eq!(a["destination"]["port"], 80);
    assert!(
        a["process"]["executable"]
            .as_str()
            .unwrap()
            .starts_with("/usr/bin/python2.7")
    );
    assert!(a["rule"]["id"].is_string() && a["rule"]["name"].is_string());
    let threat = &a["threat"];
    assert_eq!(threat["framework"], "MITRE ATT&CK");
    let subs = threat["technique"]["subtechnique"]["id"]
        .as_array()
        .expect("subtechnique ids");
    assert!(subs.iter().any(|x| x == "T1552.005"), "{threat}");
    assert!(
        threat["tactic"]["id"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "TA0006"))
    );
    assert_eq!(
        a["tripline"]["events"][0]["event"]["action"],
        "connection_attempted"
    );
    let summary = String::from_utf8_lossy(&out.stderr);
    assert!(summary.contains("alerts"), "summary missing: {summary}");
}

#[test]
fn convert_emits_ecs_events_and_exit_0() {
    let out = tripline(&["convert", &testdata(NORMAL)]);
    assert_eq!(out.status.code(), Some(0));
    let events = ndjson(&out.stdout);
    assert_eq!(events.len(), 5, "MANIFEST says 5 events in normal.log");
    let connect = events
        .iter()
        .find(|e| e["destination"]["ip"] == "169.254.169.254")
        .expect("connect event");
    assert_eq!(connect["event"]["category"][0], "network");
    assert_eq!(connect["destination"]["port"], 80);
}

#[test]
fn stdin_and_dash_are_read() {
    use std::io::Write;
    let data = std::fs::read(testdata(NORMAL)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["convert", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(ndjson(&out.stdout).len(), 5);
}

#[test]
fn benign_log_exits_0_with_no_alerts() {
    let out = tripline(&["scan", &testdata("auditd/laurel/record-execve.txt")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_input_is_exit_2_naming_the_file() {
    let out = tripline(&["scan", "/nonexistent/audit.log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/audit.log"));
}

#[test]
fn usage_error_is_exit_2() {
    assert_eq!(tripline(&["scan", "--no-such-flag"]).status.code(), Some(2));
    assert_eq!(tripline(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn output_file_receives_the_alerts() {
    let dir = Scratch::new("out");
    let path = dir.0.join("alerts.ndjson");
    let out = tripline(&["scan", &testdata(NORMAL), "-o", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let alerts = ndjson(&std::fs::read(&path).unwrap());
    assert!(!alerts.is_empty());
}

#[test]
fn unparsable_rule_file_is_exit_2_naming_it() {
    let dir = Scratch::new("badrule");
    let bad = dir.0.join("broken.yml");
    std::fs::write(&bad, "title: [unclosed\n  detection: {{{\n").unwrap();
    let out = tripline(&["scan", "--rules", bad.to_str().unwrap(), &testdata(NORMAL)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken.yml"));

    let out = tripline(&["rules", "check", "--json", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["compiled"], 0);
    assert!(
        v["failed"][0]["path"]
            .as_str()
            .unwrap()
            .contains("broken.yml")
    );
}

#[test]
fn rules_check_json_on_the_shipped_pack() {
    let out = tripline(&["rules", "check", "--json", "rules/imds"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = v["total"].as_u64().unwrap();
    assert!(total >= 4, "the IMDS pack has at least 4 rules");
    assert_eq!(v["compiled"].as_u64().unwrap(), total);
    assert_eq!(v["failed"].as_array().unwrap().len(), 0);
}

#[test]
fn explicit_rules_replace_the_embedded_pack_unless_default_rules() {
    // A rule that never fires on normal.log: the embedded IMDS pack is then not loaded.
    let dir = Scratch::new("rules");
    let rule = dir.0.join("never.yml");
    std::fs::write(
        &rule,
        "title: never\nid: 8e0f8f5e-0000-4000-8000-000000000001\nlogsource: {product: linux, category: process_creation}\n\
         detection:\n  sel:\n    CommandLine|contains: 'zz-not-present-zz'\n  condition: sel\nlevel: low\n",
    )
    .unwrap();
    let out = tripline(&["scan", "--rules", rule.to_str().unwrap(), &testdata(NORMAL)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = tripline(&[
        "scan",
        "--rules",
        rule.to_str().unwrap(),
        "--default-rules",
        &testdata(NORMAL),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

/// Must show #5: truncated records, binary garbage, a 1 MB line, invalid UTF-8,
/// unknown record types and a missing EOE: no panic, every bad record reported
/// with file and line, every good event still produced, and the exit status
/// reflects alerts, not noise.
#[test]
fn dirty_input_is_reported_and_survived() {
    let dir = Scratch::new("dirty");
    let normal = std::fs::read(testdata(NORMAL)).unwrap();
    let mut data: Vec<u8> = Vec::new();
    let mut bad_lines = Vec::new();
    let mut line_no = 0;
    let mut push = |data: &mut Vec<u8>, line: &[u8], bad: bool, bad_lines: &mut Vec<usize>| {
        line_no += 1;
        data.extend_from_slice(line);
        data.push(b'\n');
        if bad {
            bad_lines.push(line_no);
        }
    };
    // Good records with bad lines in between.
    let good: Vec<&[u8]> = normal
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for (i, l) in good.iter().enumerate() {
        push(&mut data, l, false, &mut bad_lines);
        match i {
            1 => push(
                &mut data,
                b"type=SYSCALL msg=audit(1491",
                true,
                &mut bad_lines,
            ),
            3 => push(
                &mut data,
                b"\x00\x01\xff\xfe garbage \x1b[2J\x00\x00",
                true,
                &mut bad_lines,
            ),
            5 => {
                // A 1 MB record whose header is broken.
                let mut big = b"type=EXECVE msg=audit(14920000garbage".to_vec();
                big.extend(std::iter::repeat_n(b'A', 1 << 20));
                push(&mut data, &big, true, &mut bad_lines);
            }
            7 => push(
                &mut data,
                b"msg=audit(): \xff\xfe\xfd",
                true,
                &mut bad_lines,
            ),
            _ => {}
        }
    }
    // An unknown record type is not an error: it becomes an event.
    push(
        &mut data,
        b"type=UNKNOWN[9999] msg=audit(1492000001.000:777): foo=bar baz=\"\xff\xfequx\"",
        false,
        &mut bad_lines,
    );
    // An event whose EOE never comes (end of input completes it).
    push(
        &mut data,
        b"type=SYSCALL msg=audit(1492000002.000:778): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"id\" exe=\"/usr/bin/id\" key=(null)",
        false,
        &mut bad_lines,
    );
    let file = dir.0.join("dirty-audit.log");
    std::fs::write(&file, &data).unwrap();
    let f = file.to_str().unwrap();

    let out = tripline(&["scan", "--format", "auditd", f]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "alerts fired, so exit 1 despite the noise; stderr: {stderr}"
    );
    for n in &bad_lines {
        assert!(
            stderr.contains(&format!("dirty-audit.log:{n}:")),
            "bad line {n} not reported with file and line; stderr: {stderr}"
        );
    }
    assert!(!stderr.contains('\x1b'), "escape sequences reached stderr");
    assert!(stderr.len() < 64 << 10, "the 1 MB line was echoed");

    let clean = tripline(&["convert", &testdata(NORMAL)]);
    let clean_events = ndjson(&clean.stdout);
    let out = tripline(&["convert", "--format", "auditd", f]);
    let events = ndjson(&out.stdout);
    // Every good event of normal.log survives, plus the unknown-type event and the EOE-less one.
    for ev in &clean_events {
        let seq = &ev["event"]["sequence"];
        assert!(
            events
                .iter()
                .any(|e| &e["event"]["sequence"] == seq && e["@timestamp"] == ev["@timestamp"]),
            "event {seq} lost in the dirty file"
        );
    }
    assert!(events.iter().any(|e| e["event"]["sequence"] == 777));
    assert!(
        events
            .iter()
            .any(|e| e["event"]["sequence"] == 778 && e["process"]["executable"] == "/usr/bin/id")
    );
}

/// Windows paths: a drive letter and backslashes, for a file and a directory
/// (CI runs this suite under Wine, where the repository is on drive Z:).
#[cfg(windows)]
#[test]
fn windows_paths_with_drive_letters_and_backslashes() {
    let dir =
        std::fs::canonicalize(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")).unwrap();
    let dir = dir.display().to_string();
    let dir = dir.strip_prefix(r"\\?\").unwrap_or(&dir).to_string();
    assert_eq!(dir.as_bytes()[1], b':', "no drive letter in {dir}");
    let file = format!(r"{dir}\auditd\go-libaudit\testdata\normal.log");
    let out = tripline(&["scan", &file]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        ndjson(&out.stdout)
            .iter()
            .any(|a| a["destination"]["ip"] == "169.254.169.254")
    );

    let out = tripline(&["scan", &format!(r"{dir}\e2e")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = ndjson(&out.stdout);
    // The same alerts as through the forward-slash path of the same file.
    let plain = tripline(&["scan", &testdata("e2e/imds-real-audit.log")]);
    assert!(!alerts.is_empty());
    assert_eq!(
        alerts,
        ndjson(&plain.stdout),
        "drive-letter directory walk and plain path differ"
    );
}

/// Terminal injection: a command line carrying ESC sequences (clear screen,
/// colour), OSC 52 (set clipboard), bidi overrides, zero-width characters and
/// NULs is shown escaped in the human view and kept exact in the JSON.
#[test]
fn hostile_command_line_is_escaped_in_the_terminal_view_and_exact_in_json() {
    let dir = Scratch::new("inject");
    let evil = "http://169.254.169.254/latest/meta-data/iam/security-credentials/\x1b[2J\x1b[31mOK\x1b]52;c;ZXZpbA==\x07\u{202E}gpj.exe\u{200B}\0tail";
    let hex: String = evil.bytes().map(|b| format!("{b:02X}")).collect();
    let log = format!(
        "type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=100 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)\n\
         type=EXECVE msg=audit(1700000000.100:10): argc=2 a0=\"curl\" a1={hex}\n\
         type=CWD msg=audit(1700000000.100:10): cwd=\"/root\"\n\
         type=EOE msg=audit(1700000000.100:10): \n"
    );
    let input = dir.0.join("evil-audit.log");
    std::fs::write(&input, log).unwrap();
    let view = dir.0.join("view.txt");
    let json = dir.0.join("alerts.ndjson");
    let out = tripline(&[
        "scan",
        input.to_str().unwrap(),
        "--color",
        "always",
        "-o",
        &format!("pretty:{}", view.display()),
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = ndjson(&std::fs::read(&json).unwrap());
    assert!(!alerts.is_empty());
    for a in &alerts {
        assert_eq!(
            a["process"]["command_line"],
            format!("curl {evil}"),
            "JSON keeps the bytes exact"
        );
    }
    let text = std::fs::read_to_string(&view).unwrap();
    // The only ESC bytes left are tripline's own SGR colour codes.
    let mut rest = text.as_str();
    while let Some(i) = rest.find('\x1b') {
        let seq = &rest[i..];
        let end = seq.find('m').expect("an SGR sequence");
        assert!(
            seq[1..end].starts_with('[')
                && seq[2..end].bytes().all(|b| b.is_ascii_digit() || b == b';'),
            "foreign escape sequence in the view: {:?}",
            &seq[..end.min(20)]
        );
        rest = &seq[end..];
    }
    assert!(!text.contains('\x07') && !text.contains('\0'));
    assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'));
    assert!(text.contains("\\u{1b}]52;c;ZXZpbA==\\u{7}"), "{text}");
    assert!(text.contains("\\u{1b}[2J"), "{text}");
    assert!(
        text.contains("\\u{202e}gpj.exe\\u{200b}\\u{0}tail"),
        "{text}"
    );
}

const REAL: &str = "e2e/imds-real-audit.log";

fn alert_count(args: &[&str]) -> (Option<i32>, usize, String) {
    let out = tripline(args);
    (
        out.status.code(),
        ndjson(&out.stdout).len(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn since_until_and_host_filter_events_before_rules() {
    let f = testdata(REAL);
    let (_, all, _) = alert_count(&["scan", &f]);
    assert!(all > 0);
    // The log was written on 2026-11-23.
    let (code, n, err) = alert_count(&["scan", &f, "--since", "2026-11-24"]);
    assert_eq!((code, n), (Some(0), 0), "{err}");
    assert!(
        err.contains("events outside --since/--until/--host were skipped"),
        "{err}"
    );
    assert_eq!(alert_count(&["scan", &f, "--until", "2026-11-23"]).1, 0);
    assert_eq!(
        alert_count(&["scan", &f, "--since", "2026-11-23", "--until", "2026-11-24"]).1,
        all
    );
    assert_eq!(
        alert_count(&["scan", &f, "--since", "5000w"]).1,
        all,
        "a duration before now"
    );
    // The log carries no node= names, so a host filter keeps nothing.
    assert_eq!(alert_count(&["scan", &f, "--host", "web-1"]).1, 0);
    let (code, _, err) = alert_count(&["scan", &f, "--since", "yesterday-ish"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("RFC 3339"), "{err}");
}

#[test]
fn allowlist_and_throttle_suppress_and_count() {
    let dir = Scratch::new("tune");
    let f = testdata(REAL);
    let all: Vec<Value> = ndjson(&tripline(&["scan", &f]).stdout);
    let cred = "3861e693-631c-4d6d-a4f9-6f07fdabffad";
    // The python3 urllib client of the capture (python3 -> python3.11 on Debian 12).
    let is_py = |a: &Value| {
        a["process"]["executable"]
            .as_str()
            .is_some_and(|e| e.starts_with("/usr/bin/python3"))
    };
    let by_py = all
        .iter()
        .filter(|a| a["rule"]["id"] == cred && is_py(a))
        .count();
    assert!(by_py > 0);
    let list = dir.0.join("allow.toml");
    std::fs::write(
        &list,
        format!(
            "[[allow]]\nrule = \"{cred}\"\nreason = \"python client in the lab\"\nexpires = \"2999-01-01\"\n\
             [allow.match]\n\"process.executable\" = \"/usr/*/python3*\"\n\n\
             [[allow]]\nrule = \"*\"\nreason = \"old exception\"\nexpires = \"2001-01-01\"\n"
        ),
    )
    .unwrap();
    let out = tripline(&["scan", &f, "--allowlist", list.to_str().unwrap()]);
    let kept = ndjson(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(kept.len(), all.len() - by_py, "{err}");
    assert!(kept.iter().all(|a| !is_py(a) || a["rule"]["id"] != cred));
    assert!(
        err.contains(&format!(
            "allowlist: {by_py} alerts of rule {cred} suppressed (python client in the lab)"
        )),
        "{err}"
    );
    assert!(err.contains("expired on 2001-01-01"), "{err}");

    std::fs::write(
        &list,
        "[[allow]]\nrule = \"x\"\nreason = \"r\"\nbogus = 1\n",
    )
    .unwrap();
    let out = tripline(&["scan", &f, "--allowlist", list.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a strict allowlist: unknown keys are errors"
    );

    let out = tripline(&["scan", &f, "--throttle", "1h"]);
    let throttled = ndjson(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(throttled.len() < all.len());
    assert!(
        err.contains(&format!(
            "throttle: {} repeated alerts suppressed",
            all.len() - throttled.len()
        )),
        "{err}"
    );
    // Each (rule, host, executable) survives exactly once within the hour.
    let mut seen = std::collections::BTreeSet::new();
    for a in &throttled {
        assert!(seen.insert((
            a["rule"]["id"].to_string(),
            a["process"]["executable"].to_string()
        )));
    }
}

#[test]
fn completions_and_man_page_come_from_the_cli_definitions() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = tripline(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("tripline") && text.contains("--since"),
            "{shell}: {text:.200}"
        );
    }
    assert_eq!(tripline(&["completions", "tcsh"]).status.code(), Some(2));
    let out = tripline(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let roff = String::from_utf8_lossy(&out.stdout);
    for page in [
        "tripline 1",
        "tripline-scan 1",
        "tripline-convert 1",
        "tripline-tail 1",
        "tripline-rules 1",
    ] {
        assert!(roff.contains(&format!(".TH {page}")), "missing {page}");
    }
    assert!(roff.contains("allowlist"), "options are documented");
    for section in [".SH SIGNALS", ".SH STATE", ".SH EXIT STATUS", ".SH FILES"] {
        assert!(roff.contains(section), "missing {section}");
    }
    // The Debian package ships packaging/man/tripline.1: it must be this
    // output, not a hand-kept copy that drifts from the options.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/man/tripline.1"),
    )
    .expect("packaging/man/tripline.1");
    assert!(
        shipped.replace("\r\n", "\n") == roff,
        "packaging/man/tripline.1 is stale: regenerate it with \
         `cargo run -q -- man > packaging/man/tripline.1`"
    );
}

#[test]
fn config_file_supplies_defaults_and_flags_win() {
    let dir = Scratch::new("config");
    let f = testdata(REAL);
    let out_file = dir.0.join("from-config.ndjson");
    let cfg = dir.0.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[output]\noutputs = [{:?}]\n[tuning]\nthrottle = \"1h\"\n",
            out_file.display().to_string()
        ),
    )
    .unwrap();
    let out = tripline(&["scan", "--config", cfg.to_str().unwrap(), &f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "alerts went to the configured file");
    let from_cfg = ndjson(&std::fs::read(&out_file).unwrap());
    let all = ndjson(&tripline(&["scan", &f]).stdout);
    assert!(
        !from_cfg.is_empty() && from_cfg.len() < all.len(),
        "the configured throttle applies"
    );
    // Flags win: -o - sends alerts to stdout instead.
    let out = tripline(&["scan", "--config", cfg.to_str().unwrap(), "-o", "-", &f]);
    assert_eq!(ndjson(&out.stdout).len(), from_cfg.len());
    // Strict: an unknown key is an error naming the file.
    std::fs::write(&cfg, "[output]\noutputz = []\n").unwrap();
    let out = tripline(&["scan", "--config", cfg.to_str().unwrap(), &f]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml") && err.contains("outputz"),
        "{err}"
    );
}

// See: issue 11. A directory scan read testdata/e2e/*.expect.json (alert
// expectations, not events) as JSON input and reported every document as a
// bad record; now such a file is skipped with the note for unknown formats.
#[test]
fn stray_json_found_in_a_directory_is_skipped_with_one_note() {
    let dir = Scratch::new("stray-json");
    let expect = std::fs::read(testdata("e2e/imds-real-audit.expect.json")).unwrap();
    std::fs::write(dir.0.join("a.expect.json"), &expect).unwrap();
    std::fs::write(dir.0.join("b.json"), "[1, 2, 3]\n").unwrap();
    let ecs = r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"category":["process"],"type":["start"]},"process":{"pid":7,"name":"id"}}"#;
    std::fs::write(dir.0.join("c.ndjson"), format!("{ecs}\n{ecs}\n")).unwrap();
    let out = tripline(&["convert", &dir.0.display().to_string()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(!err.contains("unrecognized JSON"), "stderr: {err}");
    assert!(
        err.contains("skipped 2 file(s) found in directories"),
        "stderr: {err}"
    );
    assert!(err.contains("0 bad records"), "stderr: {err}");
    assert_eq!(ndjson(&out.stdout).len(), 2, "the event log is still read");

    // Named on the command line, the same file is read and its documents reported.
    let named = dir.0.join("a.expect.json").display().to_string();
    let out = tripline(&["convert", &named]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unrecognized JSON document"), "stderr: {err}");
}

// The stats line of `tail` reports what the memory caps cut short, as the
// scan summary does: 1,500 auditd events left open (no EOE) on an
// `--audisp` stream are more than the 1,024 the assembler keeps in flight.
#[test]
fn tail_stats_line_counts_events_the_assembly_caps_completed_early() {
    use std::io::Write as _;
    let state = Scratch::new("stats-caps");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["tail", "--audisp", "--state-dir"])
        .arg(&state.0)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tripline tail --audisp");
    let mut input = String::new();
    for i in 0..1_500 {
        input.push_str(&format!(
            "type=SYSCALL msg=audit(1700000000.000:{}): arch=c000003e syscall=59 \
             success=yes exit=0 pid={} ppid=1 uid=0 comm=\"x\" exe=\"/usr/bin/x\"\n",
            i + 1,
            1000 + i
        ));
    }
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child
        .wait_with_output()
        .expect("tail exits at end of stdin");
    let err = String::from_utf8_lossy(&out.stderr);
    let stats = err
        .lines()
        .rfind(|l| l.starts_with("tripline: stats:"))
        .unwrap_or_else(|| panic!("no stats line in {err}"));
    let field = |k: &str| -> u64 {
        let v = stats
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {stats}"));
        v.parse().expect("number")
    };
    assert_eq!(field("events"), 1_500, "{stats}");
    assert!(field("completed_early") >= 1_500 - 1_024, "{stats}");
    assert_eq!(field("state_evicted_keys"), 0, "{stats}");
}
