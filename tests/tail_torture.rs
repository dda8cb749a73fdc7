//! The short `cargo test` variant of the `tripline tail` torture test
//! (tests/e2e/tail_torture.py; CI runs the 50-cycle version through
//! tests/e2e/tail_torture.sh on a release build): a few SIGKILL restarts at
//! random moments during rename and copytruncate rotations, at a rate a
//! debug build keeps up with; every alert exactly once.

// Unix only: the driver kills tripline with SIGKILL and rotates a file that is
// open for writing (rename over an open file is not possible on Windows).
//
// IGNORED, known failure (see: issue 8): about one run in three has one extra
// alert. The process table is not saved in the checkpoint, so after a kill the
// connect() of a process whose exec lies before the warm-up window (in the
// rotated file) carries no command line; the network rule's IMDSv2 carve-out
// needs it, and fires. PROCTITLE cannot stand in: the kernel cuts it at 128
// bytes, before the URL. The fix is to checkpoint the live part of the process
// table. Run it with `cargo test --test tail_torture -- --ignored`.
#[cfg(unix)]
#[test]
#[ignore = "known failure: process lineage is not checkpointed, one extra alert in ~1/3 runs (issue 8)"]
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
        // A debug build re-reads a 2 MiB warm-up too slowly to keep up.
        .args(["--warm-up", "262144"])
        .output()
        .expect("run the torture driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "torture test failed:\n{stdout}");
    assert!(stdout.contains("RESULT: PASS"));
}
