//! The terminal view, driven through a real terminal: tmux runs `tripline scan`
//! in a pane (stdout and stderr both a TTY), and the captured screen must show
//! readable alert blocks, no leftover of the progress line, and end with the
//! run summary.
//!
//! Needs tmux; without it the test prints SKIPPED unless
//! `TRIPLINE_REQUIRE_TMUX=1` (set by `.ci/run`). Unix only: tmux.
#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(socket: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn scan_on_a_terminal_shows_alerts_then_the_summary() {
    if Command::new("tmux").arg("-V").output().is_err() {
        if std::env::var("TRIPLINE_REQUIRE_TMUX").is_ok_and(|v| v == "1") {
            panic!("tmux not found but TRIPLINE_REQUIRE_TMUX=1");
        }
        eprintln!("SKIPPED scan_on_a_terminal_shows_alerts_then_the_summary: tmux not installed");
        return;
    }
    let socket = format!("tripline-test-{}", std::process::id());
    let raw = std::env::temp_dir().join(format!("{socket}.raw"));
    let _ = std::fs::remove_file(&raw);
    // Wait for the pipe below before scanning, so the raw byte stream is recorded whole.
    let cmd = format!(
        "until [ -e {raw} ]; do sleep 0.05; done; cd {} && {} scan testdata/e2e/imds-real-audit.log; echo __EXIT=$?__; sleep 60",
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO_BIN_EXE_tripline"),
        raw = raw.display(),
    );
    let out = tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "50",
            "-e",
            "TERM=xterm-256color",
            &cmd,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Record everything the pane receives (escape sequences included).
    let pipe = tmux(
        &socket,
        &["pipe-pane", "-t", "0", &format!("cat >> {}", raw.display())],
    );
    assert!(
        pipe.status.success(),
        "{}",
        String::from_utf8_lossy(&pipe.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let screen = loop {
        // -S - : the whole scrollback; -J joins wrapped lines.
        let cap = tmux(&socket, &["capture-pane", "-p", "-J", "-S", "-", "-t", "0"]);
        let text = String::from_utf8_lossy(&cap.stdout).to_string();
        if text.contains("__EXIT=") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = tmux(&socket, &["kill-server"]);
    let stream = String::from_utf8_lossy(&std::fs::read(&raw).unwrap_or_default()).to_string();
    let _ = std::fs::remove_file(&raw);

    // The progress line was drawn (file, size; bytes read of the size, rate,
    // events) and erased in place. The last drawing for the file shows all of
    // it read. Sizes are decimal kB with one decimal (the file is 100-999 kB).
    let len = std::fs::metadata(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/e2e/imds-real-audit.log"
    ))
    .unwrap()
    .len();
    assert!((100_000..1_000_000).contains(&len), "{len} bytes");
    let kb = format!("{:.1} kB", len as f64 / 1000.0);
    assert!(
        stream.contains(&format!(
            "[1/1] testdata/e2e/imds-real-audit.log ({kb})  0 B read of {kb} (0%), "
        )),
        "no progress line at the start of the file in the terminal stream:\n{stream:?}"
    );
    let done = format!("[1/1] testdata/e2e/imds-real-audit.log ({kb})  {kb} read of {kb} (100%), ");
    let at = stream
        .find(&done)
        .unwrap_or_else(|| panic!("no progress line with every byte read:\n{stream:?}"));
    let rest = &stream[at + done.len()..];
    let (rate, rest) = rest.split_once("/s, ").expect("a read rate");
    assert!(
        rate.ends_with(" B")
            || rate.ends_with("kB")
            || rate.ends_with("MB")
            || rate.ends_with("GB"),
        "rate {rate:?}"
    );
    let events: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(
        events.parse::<u64>().is_ok_and(|n| n > 0) && rest[events.len()..].starts_with(" events"),
        "no event count after the rate: {rest:?}"
    );
    assert!(
        stream.contains("\r\u{1b}[2K"),
        "the progress line is never erased"
    );

    assert!(
        screen.contains("__EXIT=1__"),
        "scan did not finish with alerts:\n{screen}"
    );
    // Alert blocks: level, rule name, the command line.
    assert!(
        screen.contains("HIGH")
            && screen.contains("Cloud Instance Metadata Credential or Token Request"),
        "{screen}"
    );
    assert!(screen.contains("security-credentials"), "{screen}");
    // No progress remnant: the progress line is erased before alerts and at the end.
    assert!(
        !screen.contains(" events\u{1b}")
            && !screen
                .lines()
                .any(|l| l.contains("[1/1]") && l.contains("HIGH")),
        "{screen}"
    );
    // The last lines before the exit marker are the summary.
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    let end = lines.iter().position(|l| l.contains("__EXIT=")).unwrap();
    let summary: Vec<&str> = lines[..end]
        .iter()
        .rev()
        .take_while(|l| l.starts_with("tripline:"))
        .copied()
        .collect();
    assert!(
        summary.iter().any(|l| l.contains("alerts by severity")),
        "does not end with the summary:\n{screen}"
    );
    assert!(
        summary.iter().any(|l| l.contains("scanned 1 inputs")),
        "does not end with the summary:\n{screen}"
    );
}
