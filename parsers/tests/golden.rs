//! Golden tests: every auditd input under `testdata/auditd/` against its
//! expected ECS output `<input>.ecs.jsonl` (one `Event::to_json()` per line,
//! in emission order).
//!
//! `TRIPLINE_BLESS=1 cargo test -p tripline-parsers --test golden` rewrites
//! the expected files; review the diff before committing.

mod common;

use common::golden::Golden;
use common::{golden_inputs, parse_file, testdata};

#[test]
fn golden_ecs_output() {
    let inputs = golden_inputs();
    assert!(
        inputs.len() >= 49,
        "golden inputs missing: {}",
        inputs.len()
    );
    let mut golden = Golden::new();
    for rel in &inputs {
        let (events, _) = parse_file(rel);
        let path = testdata().join("auditd").join(format!("{rel}.ecs.jsonl"));
        golden.check(rel, &events, &path);
    }
    golden.finish();
}

/// `(file, events, events with an EXECVE record, connect events)` from
/// `/work/shared/corpus/MANIFEST.md` (events = distinct node/time/serial).
const MANIFEST: &[(&str, usize, usize, usize)] = &[
    ("audit-userspace/test.log", 7, 0, 0),
    ("audit-userspace/test2.log", 7, 0, 0),
    ("go-libaudit/auparse/audit-rhel6.log", 2, 0, 0),
    ("go-libaudit/auparse/audit-ubuntu14.log", 1, 0, 0),
    ("go-libaudit/auparse/audit-ubuntu16.log", 3, 0, 0),
    ("go-libaudit/auparse/audit-ubuntu17.log", 1, 0, 0),
    ("go-libaudit/auparse/test2.log", 7, 0, 0),
    ("go-libaudit/testdata/lost_messages.log", 5, 2, 2),
    ("go-libaudit/testdata/normal.log", 5, 2, 2),
    ("go-libaudit/testdata/out_of_order.log", 5, 2, 2),
    ("go-libaudit/testdata/rollover.log", 5, 0, 2),
    ("laurel/fork-sleep-exec.txt", 3, 2, 0),
    ("laurel/line-user-acct.txt", 1, 0, 0),
    ("laurel/record-adjntpval.txt", 1, 0, 0),
    ("laurel/record-anom-promiscuous.txt", 1, 0, 0),
    ("laurel/record-avc-apparmor.txt", 1, 0, 0),
    ("laurel/record-bind-ipv4-bigendian.txt", 1, 0, 0),
    ("laurel/record-connect.txt", 2, 0, 2),
    ("laurel/record-execve-long.txt", 1, 1, 0),
    ("laurel/record-execve.txt", 1, 1, 0),
    ("laurel/record-login.txt", 1, 0, 0),
    ("laurel/record-nscd.txt", 1, 0, 1),
    ("laurel/record-perl-reverse-shell.txt", 1, 1, 0),
    ("laurel/record-ptrace.txt", 1, 0, 0),
    ("laurel/record-service-start.txt", 1, 0, 0),
    ("laurel/record-syscall-key.txt", 3, 0, 0),
    ("laurel/record-syscall-nullkey.txt", 3, 0, 0),
    ("laurel/record-uringop.txt", 1, 0, 0),
    ("laurel/record-weblogic.txt", 1, 1, 0),
    ("laurel/shell-proc-trace-reordered.txt", 9, 4, 0),
    ("laurel/shell-proc-trace.txt", 9, 4, 0),
    ("laurel/tree/00.txt", 1, 1, 0),
    ("laurel/tree/01.txt", 1, 1, 0),
    ("laurel/tree/02.txt", 1, 1, 0),
    ("laurel/tree/03.txt", 1, 1, 0),
    ("laurel/tree/04.txt", 1, 1, 0),
    ("laurel/tree/05.txt", 1, 1, 0),
    ("laurel/tree/06.txt", 1, 1, 0),
    ("laurel/tree/07.txt", 1, 1, 0),
    ("laurel/tree/08.txt", 1, 1, 0),
    ("laurel/tree/09.txt", 1, 1, 0),
    ("laurel/tree/10.txt", 1, 1, 0),
    ("laurel/tree/11.txt", 1, 1, 0),
    ("laurel/tree/12.txt", 1, 1, 0),
    ("laurel/tree/13.txt", 1, 1, 0),
    ("laurel/tree/14.txt", 1, 1, 0),
    ("laurel/tree/15.txt", 1, 1, 0),
    ("laurel/tree/16.txt", 1, 1, 0),
    ("otrf/sh_arp_cache_2020-11-10074812.log", 2, 2, 0),
];

#[test]
fn manifest_counts_and_no_errors() {
    let inputs = golden_inputs();
    assert_eq!(
        inputs.len(),
        MANIFEST.len(),
        "every input is in the manifest table"
    );
    let mut bad = Vec::new();
    for &(rel, events, execve, connect) in MANIFEST {
        let (evs, errs) = parse_file(rel);
        if !errs.is_empty() {
            bad.push(format!("{rel}: errors {errs:?}"));
        }
        let n_execve = evs
            .iter()
            .filter(|e| {
                e.extra_value("auditd.records")
                    .unwrap()
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|r| r["type"] == "EXECVE"))
            })
            .count();
        let n_connect = evs
            .iter()
            .filter(|e| e.event.action.as_deref() == Some("connection_attempted"))
            .count();
        let got = (evs.len(), n_execve, n_connect);
        if got != (events, execve, connect) {
            bad.push(format!(
                "{rel}: got (events, execve, connect) = {got:?}, manifest says {:?}",
                (events, execve, connect)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
