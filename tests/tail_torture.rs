//! The short `cargo test` variant of the `tripline tail` torture test
//! (tests/e2e/tail_torture.py; CI runs the 50-cycle version through
//! tests/e2e/tail_torture.sh on a release build): a few SIGKILL restarts at
//! random moments during rename and copytruncate rotations, at a rate a
//! debug build keeps up with; every alert exactly once.

// Unix only: the driver kills tripline with SIGKILL and rotates a file that is
// open for writing (rename over an open file is not possible on Windows).
//
// Exactly once needs the checkpoint to carry the process table (a connect whose
// exec lies in a rotated, since gzipped file keeps its command line and so the
// network rule's IMDSv2 carve-out) and rotated files to be found again inside
// their .gz, and the sequence joiner's open partials (the IMDS pack's
// exec-then-connect sequence rule is included) (issue 8).
#[cfg(unix)]
#[test]
fn tail_survives_rotation_and_kill_9_exactly_once() {
    use std::process::Command;
    let python = ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| Command::new(p).arg("--version").output().is_ok());
    let Some(python) = python else {
        eprintln!("skipped: no python3");
        return;
    };
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/tail_torture.py"
        ))
        .args(["--tripline", env!("CARGO_BIN_EXE_tripline")])
        .args(["--cycles", "8", "--rate", "150", "--rotate-every", "1.0"])
        .arg("--with-sequences")
        // A debug build re-reads a 2 MiB warm-up too slowly to keep up.
        .args(["--warm-up", "262144"])
        .output()
        .expect("run the torture driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "torture test failed:\n{stdout}");
    assert!(stdout.contains("RESULT: PASS"));
}
