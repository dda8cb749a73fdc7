//! Hostile and broken input: no panic, every bad line is one error with its
//! line number, every good event is still produced.

mod common;

use common::parse_bytes;

fn good_event(serial: u32, exe: &str) -> String {
    format!(
        "type=SYSCALL msg=audit(1700000000.000:{serial}): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid={serial} uid=0 comm=\"x\" exe=\"{exe}\" key=(null)\n\
         type=EXECVE msg=audit(1700000000.000:{serial}): argc=1 a0=\"{exe}\"\n\
         type=EOE msg=audit(1700000000.000:{serial}): \n"
    )
}

#[test]
fn mixed_garbage_keeps_good_events_and_locates_errors() {
    let mut input: Vec<u8> = Vec::new();
    let mut bad_lines = Vec::new();
    let mut line_no = 0u64;
    let mut push = |input: &mut Vec<u8>, text: &[u8], bad: bool, bad_lines: &mut Vec<u64>| {
        for l in text.split_inclusive(|&b| b == b'\n') {
            line_no += 1;
            if bad {
                bad_lines.push(line_no);
            }
            input.extend_from_slice(l);
            if !l.ends_with(b"\n") {
                input.push(b'\n');
            }
        }
    };
    push(
        &mut input,
        good_event(1, "/bin/a").as_bytes(),
        false,
        &mut bad_lines,
    );
    // truncated records
    push(
        &mut input,
        b"type=SYSCALL msg=audit(1700000000.000:",
        true,
        &mut bad_lines,
    );
    push(&mut input, b"type=SYSCALL msg=aud", true, &mut bad_lines);
    // binary garbage, NULs, terminal escapes
    push(
        &mut input,
        b"\x00\x01\x02\xff\xfe\x1b[2J\x1b]0;pwned\x07",
        true,
        &mut bad_lines,
    );
    push(
        &mut input,
        good_event(2, "/bin/b").as_bytes(),
        false,
        &mut bad_lines,
    );
    // invalid UTF-8 and NULs inside an otherwise valid record: not an error
    push(
        &mut input,
        b"type=SYSCALL msg=audit(1700000000.000:3): arch=c000003e syscall=59 success=yes exit=0 pid=3 ppid=1 comm=\"\xff\x00\" exe=\"/bin/\xc3\x28\"\ntype=EOE msg=audit(1700000000.000:3):\n",
        false,
        &mut bad_lines,
    );
    // unknown record types are kept, not errors
    push(
        &mut input,
        b"type=UNKNOWN[1334] msg=audit(1700000000.000:4): prog-id=7 op=LOAD\n",
        false,
        &mut bad_lines,
    );
    push(
        &mut input,
        b"type=BRAND_NEW msg=audit(1700000000.000:5): x=1\n",
        false,
        &mut bad_lines,
    );
    // a 1 MB line: one valid EXECVE arg
    let mut big = b"type=SYSCALL msg=audit(1700000000.000:6): arch=c000003e syscall=59 success=yes exit=0 pid=6 ppid=1 exe=\"/bin/big\"\ntype=EXECVE msg=audit(1700000000.000:6): argc=2 a0=\"big\" a1=".to_vec();
    big.extend(std::iter::repeat_n(b'4', 1 << 20)); // hex "44..." -> "DDD..."
    big.extend_from_slice(b"\ntype=EOE msg=audit(1700000000.000:6):\n");
    push(&mut input, &big, false, &mut bad_lines);
    // a 1 MB garbage line
    let garbage: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i % 251) as u8)
        .filter(|&b| b != b'\n')
        .collect();
    push(&mut input, &garbage, true, &mut bad_lines);
    // a missing EOE at the end
    push(
        &mut input,
        b"type=SYSCALL msg=audit(1700000001.000:7): arch=c000003e syscall=42 success=yes exit=0 pid=7 ppid=1 exe=\"/bin/nc\"\ntype=SOCKADDR msg=audit(1700000001.000:7): saddr=0200",
        false,
        &mut bad_lines,
    );

    let (evs, errs) = parse_bytes(&input);
    let err_lines: Vec<u64> = errs.iter().map(|e| e.line).collect();
    assert_eq!(err_lines, bad_lines, "{errs:?}");
    let seq: Vec<i64> = evs.iter().map(|e| e.event.sequence.unwrap()).collect();
    assert_eq!(seq, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(evs[2].process.executable.as_deref(), Some("/bin/\u{fffd}("));
    assert_eq!(evs[3].event.action.as_deref(), Some("unknown[1334]"));
    assert_eq!(evs[4].event.action.as_deref(), Some("brand_new"));
    assert_eq!(evs[5].process.args[1].len(), 1 << 19);
    assert_eq!(evs[6].event.action.as_deref(), Some("connection_attempted"));
    assert_eq!(
        evs[6].destination.ip, None,
        "truncated saddr gives no address"
    );
    // every error carries a byte offset that points at its line
    for e in &errs {
        assert!(e.offset < input.len() as u64);
    }
    // JSON rendering never fails
    for e in &evs {
        let _ = e.to_json().to_string();
    }
}

#[test]
fn random_bytes_never_panic() {
    // Deterministic xorshift: lines made of audit-ish fragments and noise.
    let frags: &[&[u8]] = &[
        b"type=",
        b"SYSCALL",
        b"EXECVE",
        b"SOCKADDR",
        b"EOE",
        b"USER_LOGIN",
        b"node=x ",
        b" msg=audit(",
        b"1700000000.1",
        b":",
        b"42",
        b"): ",
        b"a0=",
        b"a1[0]=",
        b"a1_len=",
        b"saddr=",
        b"0A00",
        b"0200",
        b"01002F",
        b"\"",
        b"'",
        b"{",
        b"}",
        b"msg='",
        b"=",
        b" ",
        b"\x1d",
        b"\x00",
        b"\xff",
        b"exe=",
        b"2F62",
        b"(null)",
        b"syscall=59",
        b"syscall=42",
        b"arch=c000003e",
        b"exit=12",
        b"syscall=56",
        b"pid=1",
        b"ppid=1",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut input = Vec::new();
    for _ in 0..5_000 {
        let n = next() % 24;
        for _ in 0..n {
            let r = next();
            if r % 5 == 0 {
                input.push((r >> 8) as u8);
            } else {
                input.extend_from_slice(frags[(r >> 16) as usize % frags.len()]);
            }
        }
        input.push(b'\n');
    }
    let (evs, errs) = parse_bytes(&input);
    for e in &evs {
        let _ = e.to_json().to_string();
    }
    assert!(evs.len() + errs.len() > 0);
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    let (evs, errs) = parse_bytes(b"# a comment\n\n   \r\n\ttype=EOE msg=audit(1.0:1):\n");
    assert!(errs.is_empty());
    assert!(evs.is_empty());
}
