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
