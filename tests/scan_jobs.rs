//! `tripline scan --jobs N` against `--jobs 1`: the same alerts, byte for
//! byte and in the same order, and sequences whose stages are in different
//! files still join (stateful rules see every input's events in input order;
//! see src/mode/jobs.rs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{root, tripline};

const SEQ: &str = "fccccbe0-1d40-4060-9499-b5147a6172b1"; // IMDS: exec then connect within 1 s

/// A fresh directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

/// The audit event serial of a record line (`msg=audit(T:SERIAL)`).
fn serial(line: &str) -> Option<&str> {
    let start = line.find("msg=audit(")? + "msg=audit(".len();
    let rest = &line[start..];
    let colon = rest.find(':')?;
    let end = rest.find(')')?;
    rest.get(colon + 1..end)
}

/// Splits the real auditd log after every event holding an EXECVE record, so
/// each exec is in one file and what the process did next (its connect to
/// the metadata service) in the following ones.
fn split_after_execs(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(root().join("testdata/e2e/imds-real-audit.log"))
        .expect("read the real auditd log");
    let mut files: Vec<String> = vec![String::new()];
    let mut prev_serial: Option<String> = None;
    let mut event_has_execve = false;
    for line in text.lines() {
        let s = serial(line).map(str::to_string);
        if s.is_some() && s != prev_serial {
            if event_has_execve {
                files.push(String::new());
            }
            event_has_execve = false;
            prev_serial = s;
        }
        event_has_execve |= line.starts_with("type=EXECVE");
        let last = files.last_mut().expect("one file");
        last.push_str(line);
        last.push('\n');
    }
    files
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let p = dir.join(format!("part-{i:03}.log"));
            std::fs::write(&p, body).expect("write part");
            p
        })
        .collect()
}

fn scan(jobs: &str, inputs: &[PathBuf]) -> Output {
    let mut args = vec!["scan", "-q", "-o", "-", "--jobs", jobs];
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    tripline(&args)
}

fn seq_alerts(out: &Output) -> usize {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(SEQ))
        .count()
}

#[test]
fn jobs_give_the_same_alerts_in_the_same_order() {
    let dir = temp_dir("scan-jobs");
    let mut inputs = split_after_execs(&dir);
    assert!(
        inputs.len() > 8,
        "the log splits into {} files",
        inputs.len()
    );
    // Other formats in the same run: Sysmon JSON shapes, more auditd.
    for entry in std::fs::read_dir(root().join("testdata/sysmon/json")).expect("sysmon json") {
        inputs.push(entry.expect("dir entry").path());
    }
    inputs.sort();
    let one = scan("1", &inputs);
    assert!(one.status.code() == Some(1), "alerts expected: {one:?}");
    assert!(!one.stdout.is_empty());
    for jobs in ["2", "3", "16"] {
        let many = scan(jobs, &inputs);
        assert_eq!(many.status.code(), one.status.code(), "--jobs {jobs}");
        assert!(
            many.stdout == one.stdout,
            "--jobs {jobs} wrote different alerts than --jobs 1:\n{}\n---\n{}",
            String::from_utf8_lossy(&many.stdout),
            String::from_utf8_lossy(&one.stdout)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The IMDS sequence (exec of a tool, then its connect within 1 s) fires as
/// often with every event in a file of its own as on the whole log, with one
/// worker and with several: every stage pair spans two files, often read by
/// different workers. The events are the log's ECS form (`tripline convert`):
/// a raw auditd log cut between an exec and its connect loses the process
/// context the auditd parser keeps per input, with any --jobs.
#[test]
fn sequences_join_across_files() {
    let whole = tripline(&["scan", "-q", "-o", "-", "testdata/e2e/imds-real-audit.log"]);
    let expected = seq_alerts(&whole);
    assert_eq!(expected, 4, "the whole log's sequence alerts");
    let ecs = tripline(&["convert", "-q", "testdata/e2e/imds-real-audit.log"]);
    assert!(ecs.status.success());
    let dir = temp_dir("scan-jobs-seq");
    let parts: Vec<PathBuf> = String::from_utf8_lossy(&ecs.stdout)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let p = dir.join(format!("event-{i:04}.json"));
            std::fs::write(&p, format!("{line}\n")).expect("write event");
            p
        })
        .collect();
    assert!(parts.len() > 50, "{} events", parts.len());
    let one = scan("1", &parts);
    assert_eq!(seq_alerts(&one), expected, "--jobs 1");
    for jobs in ["2", "4"] {
        let out = scan(jobs, &parts);
        assert_eq!(seq_alerts(&out), expected, "--jobs {jobs}");
        assert!(
            out.stdout == one.stdout,
            "--jobs {jobs} differs from --jobs 1"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Summary counters add up over the workers.
#[test]
fn jobs_summary_counts_every_input() {
    let dir = temp_dir("scan-jobs-summary");
    let parts = split_after_execs(&dir);
    // A file in the test's directory, not /dev/null: the suite also runs on Windows.
    let sink = dir.join("alerts.ndjson").display().to_string();
    let summary = |jobs: &str| {
        let mut args = vec!["scan", "-o", sink.as_str(), "--jobs", jobs];
        let names: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
        args.extend(names.iter().map(String::as_str));
        let out = tripline(&args);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        err.lines()
            .filter(|l| l.starts_with("tripline: scanned") || l.starts_with("tripline: prefilter"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let one = summary("1");
    assert!(one.contains(&format!("{} inputs", parts.len())), "{one}");
    assert_eq!(summary("2"), one);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sigma rules for the synthetic streams below: two single-event rules
/// (alerting: `generate: true`), an ordered sequence of them by host, a "fewer than 3 execs in 2 s"
/// count (judged when event time closes its window, so its alerts come from
/// events no rule matches), and a sliding "at least 4 connects in 5 s" count.
const STREAM_SIGMA: &str = "title: curl exec
id: 00000000-0000-4000-8000-0000000000a1
name: t_exec
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
  condition: sel
level: low
---
title: imds connect
id: 00000000-0000-4000-8000-0000000000a2
name: t_connect
logsource: {product: linux, category: network_connection}
detection:
  sel:
    DestinationIp: 169.254.169.254
  condition: sel
level: low
---
title: exec then connect
id: 00000000-0000-4000-8000-0000000000a3
correlation:
  type: temporal_ordered
  rules: [t_exec, t_connect]
  group-by: [host.name]
  timespan: 2s
generate: true
level: high
---
title: few execs
id: 00000000-0000-4000-8000-0000000000a4
correlation:
  type: event_count
  rules: [t_exec]
  group-by: [host.name]
  timespan: 2s
  condition: {lt: 3}
level: medium
---
title: connect burst
id: 00000000-0000-4000-8000-0000000000a5
correlation:
  type: event_count
  rules: [t_connect]
  group-by: [host.name]
  timespan: 5s
  condition: {gte: 4}
level: medium
";

/// An EQL sequence whose stages are inline conditions (not rules of the set).
const STREAM_EQL: &str = r#"[rule]
rule_id = "00000000-0000-4000-8000-0000000000a6"
name = "wget then connect"
description = "wget, then a connect of the same host within 3 s"
severity = "high"
risk_score = 73
type = "eql"
language = "eql"
query = '''
sequence by host.name with maxspan=3s
  [process where process.name == "wget"]
  [network where destination.ip == "169.254.169.254"]
'''
"#;

/// One ECS event as `tripline convert` writes it: `t` in ms after a fixed
/// instant, on host `host`; `kind` 0 = noise exec, 1 = curl, 2 = wget, 3 =
/// connect to the metadata service, 4 = other connect.
fn stream_event(t: i64, host: &str, kind: u32) -> String {
    let secs = 1_767_225_600 + t / 1000; // 2026-01-01T00:00:00Z
    let ts = chrono_free_rfc3339(secs, t % 1000);
    let (what, body) = match kind {
        1 => (
            "process",
            r#""process":{"executable":"/usr/bin/curl","name":"curl","pid":7}"#,
        ),
        2 => (
            "process",
            r#""process":{"executable":"/usr/bin/wget","name":"wget","pid":8}"#,
        ),
        3 => (
            "network",
            r#""destination":{"ip":"169.254.169.254","port":80}"#,
        ),
        4 => ("network", r#""destination":{"ip":"10.0.0.1","port":443}"#),
        _ => (
            "process",
            r#""process":{"executable":"/usr/bin/ls","name":"ls","pid":9}"#,
        ),
    };
    let (action, ty) = if what == "process" {
        ("exec", "start")
    } else {
        ("connection_attempted", "connection")
    };
    format!(
        r#"{{"@timestamp":"{ts}","event":{{"action":"{action}","category":["{what}"],"kind":"event","module":"auditd","type":["{ty}"]}},"host":{{"name":"{host}","os":{{"type":"linux"}}}},{body}}}"#
    )
}

/// `secs` since the epoch plus `ms`, as RFC 3339 UTC (days from civil, no
/// dependency).
fn chrono_free_rfc3339(secs: i64, ms: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A deterministic stream of `n` events for `host`, 50 ms apart from `start`:
/// mostly noise, with curl execs, wget execs and connects to the metadata
/// service (bursts of them) at irregular places.
fn host_stream(host: &str, start: i64, n: usize, seed: u64) -> Vec<(i64, String)> {
    let mut x = seed;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let kind = match x % 40 {
                0..=1 => 1,
                2 => 2,
                3..=5 => 3,
                6..=9 => 4,
                _ => 0,
            };
            let t = start + i as i64 * 50;
            (t, stream_event(t, host, kind))
        })
        .collect()
}

/// The lines of two streams, merged in time order.
fn in_time_order(a: &[(i64, String)], b: &[(i64, String)]) -> Vec<String> {
    let mut merged: Vec<&(i64, String)> = a.iter().chain(b).collect();
    merged.sort_by_key(|(t, _)| *t);
    merged.into_iter().map(|(_, l)| l.clone()).collect()
}

/// Writes `lines` into `files` files of `dir` (created) named
/// `{prefix}-NNN.json`, in order, each a contiguous run.
fn write_parts(dir: &Path, prefix: &str, lines: &[String], files: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("create the parts' directory");
    let per = lines.len().div_ceil(files);
    lines
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let p = dir.join(format!("{prefix}-{i:03}.json"));
            std::fs::write(&p, chunk.join("\n") + "\n").expect("write part");
            p
        })
        .collect()
}

/// `scan --jobs J` over `inputs` with the stream rules: (alerts, the summary
/// lines that count events and stateful state).
fn scan_streams(rules: &Path, jobs: &str, inputs: &[PathBuf]) -> (Vec<u8>, String) {
    let mut args = vec!["scan", "-o", "-", "--jobs", jobs, "--rules"];
    let rules = rules.display().to_string();
    args.push(&rules);
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = tripline(&args);
    assert_eq!(out.status.code(), Some(1), "alerts expected: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let summary = err
        .lines()
        .filter(|l| !l.contains("bad record"))
        .collect::<Vec<_>>()
        .join("\n");
    (out.stdout, summary)
}

/// Every stream layout below gives, with any --jobs, the alerts and summary of
/// --jobs 1 (which are those of one engine over the inputs in order).
fn assert_jobs_agree(name: &str, rules: &Path, inputs: &[PathBuf], ids: &[&str]) {
    let (one, one_summary) = scan_streams(rules, "1", inputs);
    let text = String::from_utf8_lossy(&one);
    for id in ids {
        assert!(
            text.lines().any(|l| l.contains(id)),
            "{name}: no alert of {id} with --jobs 1"
        );
    }
    for jobs in ["2", "3", "8"] {
        let (many, summary) = scan_streams(rules, jobs, inputs);
        assert!(
            many == one,
            "{name}: --jobs {jobs} wrote different alerts than --jobs 1"
        );
        assert_eq!(summary, one_summary, "{name}: --jobs {jobs} summary");
    }
}

fn stream_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(rules.join("stream.yml"), STREAM_SIGMA).expect("write sigma");
    std::fs::write(rules.join("stream_eql.toml"), STREAM_EQL).expect("write eql");
    rules
}

const STREAM_IDS: [&str; 4] = [
    "00000000-0000-4000-8000-0000000000a3",
    "00000000-0000-4000-8000-0000000000a4",
    "00000000-0000-4000-8000-0000000000a5",
    "00000000-0000-4000-8000-0000000000a6",
];

/// One host's stream cut into consecutive files: sequences and counts span
/// file boundaries, and the workers read neighbouring files at once.
#[test]
fn jobs_sequence_spans_files_of_one_host() {
    let dir = temp_dir("scan-jobs-one-host");
    let rules = stream_rules(&dir);
    let lines: Vec<String> = host_stream("alpha", 0, 3000, 7)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let inputs = write_parts(&dir, "alpha", &lines, 6);
    assert_jobs_agree("one host", &rules, &inputs, &STREAM_IDS);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two hosts over the same time: interleaved within files, and (second
/// layout) one host's files after the other's, so the second host's events
/// are older than the event time the first host's files reached (late events).
#[test]
fn jobs_two_hosts_interleave() {
    let dir = temp_dir("scan-jobs-two-hosts");
    let rules = stream_rules(&dir);
    let a = host_stream("alpha", 0, 2000, 11);
    let b = host_stream("bravo", 20, 2000, 23);
    let merged = in_time_order(&a, &b);
    let inputs = write_parts(&dir.join("mixed"), "both", &merged, 5);
    assert_jobs_agree("interleaved", &rules, &inputs, &STREAM_IDS);

    let by_host = dir.join("by-host");
    let only = |s: &[(i64, String)]| s.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
    let mut inputs = write_parts(&by_host, "a", &only(&a), 4);
    inputs.extend(write_parts(&by_host, "b", &only(&b), 4));
    assert_jobs_agree("host after host", &rules, &inputs, &STREAM_IDS);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Many small files (more than any queue depth), some of them empty: the
/// order of 200 inputs is kept whichever worker finishes first.
#[test]
fn jobs_many_files() {
    let dir = temp_dir("scan-jobs-many");
    let rules = stream_rules(&dir);
    let merged = in_time_order(
        &host_stream("alpha", 0, 3000, 5),
        &host_stream("bravo", 7, 3000, 9),
    );
    let mut inputs = write_parts(&dir, "part", &merged, 200);
    for i in 0..3 {
        let p = dir.join(format!("part-{:03}-empty.json", i * 50));
        std::fs::write(&p, "").expect("write empty");
        inputs.push(p);
    }
    inputs.sort();
    assert!(inputs.len() >= 200, "{} inputs", inputs.len());
    assert_jobs_agree("many files", &rules, &inputs, &STREAM_IDS);
    let _ = std::fs::remove_dir_all(&dir);
}
