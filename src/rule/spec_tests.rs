//! The Sigma specification's own examples, one test per modifier and per
//! condition form (SigmaHQ/sigma-specification: `sigma-rules-specification.md`,
//! `sigma-appendix-modifiers.md`, `sigma-filters-specification.md`; expected
//! encodings cross-checked against pySigma's `sigma/modifiers.py`).

use serde_json::{Value, json};
use tripline_parsers::Event;

use super::sigma::{base64_encode, base64_offsets};
use super::*;
use crate::engine::matcher;

/// Rule text for a linux/process_creation rule with this detection body.
fn text(detection: &str) -> String {
    format!(
        "title: spec\nid: spec-rule\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n{detection}\nlevel: medium\n"
    )
}

fn rule(detection: &str) -> Rule {
    let r = load_sigma_str(&text(detection), "spec.yml", "spec");
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(r.rules.len(), 1);
    r.rules.rules()[0].clone()
}

fn diag(detection: &str) -> Diagnostic {
    let r = load_sigma_str(&text(detection), "spec.yml", "spec");
    assert_eq!(r.rules.len(), 0, "rule should be skipped");
    assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
    r.diagnostics[0].clone()
}

/// An exec event with `fields` merged in (top-level keys are raw fields).
fn ev(fields: Value) -> Event {
    let mut doc = json!({"event": {"category": ["process"], "type": ["start"], "action": "exec"}});
    if let (Value::Object(d), Value::Object(f)) = (&mut doc, fields) {
        d.extend(f);
    }
    Event::from_json(&doc)
}

fn hit(r: &Rule, fields: Value) -> bool {
    let RuleKind::Single(d) = &r.kind else {
        panic!("not a single-event rule");
    };
    matcher::matches(d, &ev(fields))
}

fn cl(c: &str) -> Value {
    json!({"process": {"command_line": c}})
}

#[test]
fn maps_are_and_lists_are_or() {
    // "matches on EventLog 'Security' and (Event ID 517 or Event ID 1102)"
    let r = rule(
        "  selection:\n    EventLog: Security\n    EventID:\n      - 517\n      - 1102\n  condition: selection",
    );
    assert!(hit(&r, json!({"EventLog": "security", "EventID": 517})));
    assert!(hit(&r, json!({"EventLog": "Security", "EventID": "1102"})));
    assert!(!hit(&r, json!({"EventLog": "Security", "EventID": 4624})));
    assert!(!hit(&r, json!({"EventLog": "System", "EventID": 517})));
    // List of maps: Image ends with example.exe OR Description contains 'Test executable'.
    let r = rule(
        "  selection:\n    - Image|endswith: '\\example.exe'\n    - Description|contains: 'Test executable'\n  condition: selection",
    );
    assert!(hit(
        &r,
        json!({"process": {"executable": "C:\\x\\EXAMPLE.exe"}})
    ));
    assert!(hit(&r, json!({"Description": "a test Executable here"})));
    assert!(!hit(
        &r,
        json!({"process": {"executable": "C:\\x\\example.exe.bak"}})
    ));
}

#[test]
fn keyword_lists_or_and_all() {
    let r = rule(
        "  keywords:\n    - 'EVILSERVICE'\n    - 'svchost.exe -n evil'\n  condition: keywords",
    );
    assert!(hit(&r, cl("sc start evilservice now")));
    assert!(hit(&r, cl("C:\\svchost.exe -n evil")));
    assert!(!hit(&r, cl("svchost.exe -k netsvcs")));
    let r = rule(
        "  keywords_cmdlet:\n    '|all':\n      - 'OabVirtualDirectory'\n      - ' -ExternalUrl '\n  condition: keywords_cmdlet",
    );
    assert!(hit(&r, cl("Set-OabVirtualDirectory -ExternalUrl http://x")));
    assert!(!hit(
        &r,
        cl("Set-OabVirtualDirectory -InternalUrl http://x")
    ));
}

#[test]
fn wildcards_and_escaping() {
    // `prog?.exe`, `antivirus_V*.exe`
    let r = rule(
        "  sel:\n    Image:\n      - 'prog?.exe'\n      - 'antivirus_V*.exe'\n  condition: sel",
    );
    for (img, want) in [
        ("progA.exe", true),
        ("progAB.exe", false),
        ("antivirus_V21.2.1.exe", true),
        ("antivirus_V1.exe", true),
        ("antivirus.exe", false),
    ] {
        assert_eq!(
            hit(&r, json!({"process": {"executable": img}})),
            want,
            "{img}"
        );
    }
    // `\*` is a plain star; `\\*` a backslash then a wildcard; `\\\*` backslash and star.
    let r = rule("  sel:\n    CommandLine: 'a\\*b'\n  condition: sel");
    assert!(hit(&r, cl("a*b")));
    assert!(!hit(&r, cl("axxb")));
    let r = rule("  sel:\n    CommandLine: 'a\\\\*'\n  condition: sel");
    assert!(hit(&r, cl("a\\anything")));
    assert!(!hit(&r, cl("a*")));
    let r = rule("  sel:\n    CommandLine: 'a\\\\\\*'\n  condition: sel");
    assert!(hit(&r, cl("a\\*")));
    assert!(!hit(&r, cl("a\\x")));
    // A plain backslash not before a wildcard is itself.
    let r = rule("  sel:\n    Image|endswith: '\\cmd.exe'\n  condition: sel");
    assert!(hit(
        &r,
        json!({"process": {"executable": "C:\\Windows\\CMD.EXE"}})
    ));
}

#[test]
fn contains_startswith_endswith() {
    let r = rule(
        "  sel:\n    CommandLine|contains: something\n    Image|startswith: 'adm'\n    ParentImage|endswith: '\\cmd.exe'\n  condition: sel",
    );
    let f = |c: &str, i: &str, p: &str| json!({"process": {"command_line": c, "executable": i, "parent": {"executable": p}}});
    assert!(hit(&r, f("x SomeThing y", "ADMtool", "c:\\cmd.exe")));
    assert!(!hit(&r, f("x some thing y", "ADMtool", "c:\\cmd.exe")));
    assert!(!hit(&r, f("something", "tooladm", "c:\\cmd.exe")));
    assert!(!hit(&r, f("something", "adm", "c:\\cmd.exe.x")));
}

#[test]
fn cased_is_case_sensitive() {
    let r = rule("  sel:\n    CommandLine|contains|cased: 'FromBase64'\n  condition: sel");
    assert!(hit(&r, cl("[Convert]::FromBase64String(x)")));
    assert!(!hit(&r, cl("[convert]::frombase64string(x)")));
}

#[test]
fn windash_permutations() {
    // All five dash characters, in both directions.
    let r = rule("  sel:\n    CommandLine|windash|contains: ' -encodedcommand '\n  condition: sel");
    for d in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hit(&r, cl(&format!("powershell {d}EncodedCommand abc"))),
            "{d}"
        );
    }
    assert!(!hit(&r, cl("powershell +encodedcommand abc")));
    let r = rule("  sel:\n    CommandLine|windash|contains: '/c'\n  condition: sel");
    assert!(hit(&r, cl("cmd -c whoami")));
    assert!(hit(&r, cl("cmd /c whoami")));
    // pySigma: "in -param-name the first dash will be expanded into /param-name
    // while the second dash is left untouched".
    let r = rule("  sel:\n    CommandLine|windash: '-param-name'\n  condition: sel");
    assert!(hit(&r, cl("-param-name")));
    assert!(hit(&r, cl("/param-name")));
    assert!(hit(&r, cl("\u{2014}param-name")));
    assert!(!hit(&r, cl("-param/name")));
    // Two flags: every combination (5 x 5).
    let r = rule("  sel:\n    CommandLine|windash|contains: '-a -b'\n  condition: sel");
    assert!(hit(&r, cl("x /a \u{2013}b")));
    assert!(hit(&r, cl("x -a /b")));
    // Combined with `all`.
    let r = rule(
        "  sel:\n    CommandLine|windash|contains|all:\n      - ' -a '\n      - ' -b '\n  condition: sel",
    );
    assert!(hit(&r, cl("x /a /b ")));
    assert!(!hit(&r, cl("x /a ")));
}

#[test]
fn base64_and_offsets() {
    assert_eq!(base64_encode(b"http://"), "aHR0cDovLw==");
    assert_eq!(base64_encode(b""), "");
    assert_eq!(base64_encode(b"f"), "Zg==");
    assert_eq!(base64_encode(b"fo"), "Zm8=");
    assert_eq!(
        base64_offsets(b"foobar"),
        ["Zm9vYmFy", "Zvb2Jhc", "mb29iYX"]
    );
    assert_eq!(
        base64_offsets(b"http://"),
        ["aHR0cDovL", "h0dHA6Ly", "odHRwOi8v"]
    );
    let r = rule("  sel:\n    CommandLine|base64: 'http://'\n  condition: sel");
    assert!(hit(&r, cl("aHR0cDovLw==")));
    assert!(!hit(&r, cl("x aHR0cDovLw==")));
    // `x|base64offset|contains: 'http://'` (the modifiers appendix example):
    // found at every byte offset of the encoded text.
    let r = rule("  sel:\n    CommandLine|base64offset|contains: 'http://'\n  condition: sel");
    for prefix in ["", "a", "ab", "abc", "abcd"] {
        let enc = base64_encode(format!("{prefix}http://evil/x").as_bytes());
        assert!(hit(&r, cl(&format!("powershell -e {enc}"))), "{prefix}");
    }
    assert!(!hit(&r, cl(&base64_encode(b"https://evil"))));
    // Wildcards cannot be encoded: a located diagnostic.
    let d = diag("  sel:\n    CommandLine|base64: 'a*'\n  condition: sel");
    assert!(d.message.contains("base64"), "{d}");
    assert_eq!(d.line, Some(8), "{d}");
}

#[test]
fn utf16_encodings_with_base64() {
    // utf16le: cmd > 63 00 6d 00 64 00; utf16be: 00 63 00 6d 00 64; utf16: FF FE 63 00 6d 00 64 00.
    let le = [0x63u8, 0, 0x6d, 0, 0x64, 0];
    let be = [0u8, 0x63, 0, 0x6d, 0, 0x64];
    let bom = [0xFFu8, 0xFE, 0x63, 0, 0x6d, 0, 0x64, 0];
    for (m, bytes) in [
        ("utf16le", &le[..]),
        ("wide", &le[..]),
        ("utf16be", &be[..]),
        ("utf16", &bom[..]),
    ] {
        let r = rule(&format!(
            "  sel:\n    CommandLine|{m}|base64: 'cmd'\n  condition: sel"
        ));
        assert!(hit(&r, cl(&base64_encode(bytes))), "{m}");
        assert!(!hit(&r, cl(&base64_encode(b"cmd"))), "{m}");
    }
    assert_eq!(base64_encode(&bom), "//5jAG0AZAA=");
    // PowerShell -EncodedCommand is UTF-16LE: base64offset finds it anywhere.
    let r = rule(
        "  sel:\n    CommandLine|wide|base64offset|contains: 'Invoke-Expression'\n  condition: sel",
    );
    for prefix in ["", "x", "xy", "$a = 1; "] {
        let text: Vec<u8> = format!("{prefix}Invoke-Expression $b")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(
            hit(&r, cl(&format!("powershell -enc {}", base64_encode(&text)))),
            "{prefix:?}"
        );
    }
    // Without base64 the encoded text is matched as is (NULs included).
    let r = rule("  sel:\n    CommandLine|wide|contains: 'cmd'\n  condition: sel");
    assert!(hit(&r, cl("x c\0m\0d\0 y")));
    // Only ASCII survives the pySigma-compatible UTF-16 step.
    let d = diag("  sel:\n    CommandLine|wide|base64: 'é'\n  condition: sel");
    assert!(
        d.message.contains("wide") || d.message.contains("utf16"),
        "{d}"
    );
}

#[test]
fn regex_and_flags() {
    // Case-sensitive by default; i, m, s sub-modifiers.
    let r = rule("  sel:\n    CommandLine|re: 'Foo.bar'\n  condition: sel");
    assert!(hit(&r, cl("xFooXbar")));
    assert!(!hit(&r, cl("xfooXbar")));
    let r = rule("  sel:\n    CommandLine|re|i: 'Foo.bar'\n  condition: sel");
    assert!(hit(&r, cl("xfooXbar")));
    let r = rule("  sel:\n    CommandLine|re|m: '^second$'\n  condition: sel");
    assert!(hit(&r, cl("first\nsecond\nthird")));
    let r = rule("  sel:\n    CommandLine|re: '^second$'\n  condition: sel");
    assert!(!hit(&r, cl("first\nsecond\nthird")));
    let r = rule("  sel:\n    CommandLine|re|s: 'a.b'\n  condition: sel");
    assert!(hit(&r, cl("a\nb")));
    let r = rule("  sel:\n    CommandLine|re: 'a.b'\n  condition: sel");
    assert!(!hit(&r, cl("a\nb")));
}

#[test]
fn cidr_values() {
    // `DestinationIp|cidr: 10.0.0.0/8` (appendix), v4 and v6.
    let r = rule(
        "  sel:\n    DestinationIp|cidr:\n      - 10.0.0.0/8\n      - 'fe80::/10'\n  condition: sel",
    );
    assert!(hit(&r, json!({"DestinationIp": "10.1.2.3"})));
    assert!(hit(&r, json!({"DestinationIp": "fe80::1"})));
    assert!(!hit(&r, json!({"DestinationIp": "11.0.0.1"})));
}

#[test]
fn numeric_comparisons() {
    let r = rule("  sel:\n    Size|gt: 10\n    Count|lte: 5\n  condition: sel");
    assert!(hit(&r, json!({"Size": 11, "Count": 5})));
    assert!(hit(&r, json!({"Size": "11.5", "Count": "4"})));
    assert!(!hit(&r, json!({"Size": 10, "Count": 5})));
    assert!(!hit(&r, json!({"Size": 11, "Count": 6})));
    let r = rule("  sel:\n    Size|gte: 10\n    Count|lt: 5\n  condition: sel");
    assert!(hit(&r, json!({"Size": 10, "Count": 4})));
    assert!(!hit(&r, json!({"Size": 10, "Count": 5})));
    assert!(!hit(&r, json!({"Size": "ten", "Count": 1})));
}

#[test]
fn null_empty_and_exists() {
    // "To get an expression that say `not null` ... negate it in the condition."
    let r = rule(
        "  selection:\n    EventID: 4738\n  filter:\n    PasswordLastSet: null\n  condition: selection and not filter",
    );
    assert!(hit(
        &r,
        json!({"EventID": 4738, "PasswordLastSet": "2024-01-01"})
    ));
    assert!(!hit(&r, json!({"EventID": 4738})));
    assert!(!hit(&r, json!({"EventID": 4738, "PasswordLastSet": null})));
    // `''` is an empty value.
    let r = rule("  sel:\n    Comment: ''\n  condition: sel");
    assert!(hit(&r, json!({"Comment": ""})));
    assert!(!hit(&r, json!({"Comment": "x"})));
    // exists: presence only, "not its value, be it empty".
    let r = rule(
        "  selection:\n    EventID: 4738\n    PasswordLastSet|exists: true\n  condition: selection",
    );
    assert!(hit(&r, json!({"EventID": 4738, "PasswordLastSet": ""})));
    assert!(!hit(&r, json!({"EventID": 4738})));
    let r = rule("  sel:\n    PasswordLastSet|exists: false\n  condition: sel");
    assert!(hit(&r, json!({})));
    assert!(!hit(&r, json!({"PasswordLastSet": "x"})));
}

#[test]
fn neq_strings_and_numbers() {
    let r = rule("  sel:\n    User|neq: root\n    EventID|neq: 1\n  condition: sel");
    assert!(hit(&r, json!({"user": {"name": "alice"}, "EventID": 2})));
    assert!(!hit(&r, json!({"user": {"name": "ROOT"}, "EventID": 2})));
    assert!(!hit(&r, json!({"user": {"name": "alice"}, "EventID": 1})));
}

#[test]
fn fieldref_compares_fields() {
    let r = rule("  sel:\n    ParentImage|fieldref: Image\n  condition: sel");
    let p = |a: &str, b: &str| json!({"process": {"executable": a, "parent": {"executable": b}}});
    assert!(hit(&r, p("/bin/sh", "/BIN/SH")));
    assert!(!hit(&r, p("/bin/sh", "/bin/bash")));
    assert!(!hit(&r, json!({"process": {"executable": "/bin/sh"}})));
    let r = rule("  sel:\n    CommandLine|fieldref|contains: Image\n  condition: sel");
    assert!(hit(
        &r,
        json!({"process": {"executable": "/usr/bin/id", "command_line": "sudo /usr/bin/id -u"}})
    ));
    let r = rule("  sel:\n    CommandLine|fieldref|startswith: Image\n  condition: sel");
    assert!(!hit(
        &r,
        json!({"process": {"executable": "/usr/bin/id", "command_line": "sudo /usr/bin/id -u"}})
    ));
    let r = rule("  sel:\n    CommandLine|fieldref|endswith|cased: Image\n  condition: sel");
    assert!(hit(
        &r,
        json!({"process": {"executable": "Id", "command_line": "x Id"}})
    ));
    assert!(!hit(
        &r,
        json!({"process": {"executable": "Id", "command_line": "x id"}})
    ));
    // neq + fieldref (appendix 2.1).
    let r = rule("  sel:\n    ParentImage|fieldref|neq: Image\n  condition: sel");
    assert!(hit(&r, p("/bin/sh", "/bin/bash")));
    assert!(!hit(&r, p("/bin/sh", "/bin/sh")));
}

#[test]
fn expand_placeholders() {
    let mut l = Loader::new();
    l.mappings
        .placeholders
        .insert("Administrators".into(), vec!["adm_*".into(), "root".into()]);
    l.sigma(
        &text("  sel:\n    User|expand: '%Administrators%'\n  condition: sel"),
        "spec.yml",
        "spec",
    );
    let r = l.finish();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let rule = r.rules.rules()[0].clone();
    assert!(hit(&rule, json!({"user": {"name": "ADM_bob"}})));
    assert!(hit(&rule, json!({"user": {"name": "root"}})));
    assert!(!hit(&rule, json!({"user": {"name": "bob"}})));
    // `\%plain%name%`: `%plain` is text, `%name%` the placeholder.
    let mut l = Loader::new();
    l.mappings
        .placeholders
        .insert("name".into(), vec!["X".into()]);
    l.sigma(
        &text("  sel:\n    CommandLine|expand: '\\%plain%name%'\n  condition: sel"),
        "spec.yml",
        "spec",
    );
    let r = l.finish();
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let rule = r.rules.rules()[0].clone();
    assert!(hit(&rule, cl("%plainx")));
    // Without expand, `%name%` is a literal value.
    let r = rule_plain();
    assert!(hit(&r, cl("%Servers%")));
    // No configured value: the rule is rejected with a located diagnostic.
    let d = diag("  sel:\n    User|expand: '%Servers%'\n  condition: sel");
    assert!(d.message.contains("%Servers%"), "{d}");
    assert!(d.message.contains("expand"), "{d}");
    assert_eq!(d.line, Some(8), "{d}");
}

fn rule_plain() -> Rule {
    rule("  sel:\n    CommandLine: '%Servers%'\n  condition: sel")
}

#[test]
fn time_modifiers() {
    // 2024-03-05T14:07:00Z
    let ts = "2024-03-05T14:07:00Z";
    let r = rule("  sel:\n    '@timestamp|hour': 14\n    '@timestamp|minute': 7\n  condition: sel");
    assert!(hit(&r, json!({"@timestamp": ts})));
    let r = rule(
        "  sel:\n    '@timestamp|month': 3\n    '@timestamp|day': 5\n    '@timestamp|year': 2024\n    '@timestamp|week': 10\n  condition: sel",
    );
    assert!(hit(&r, json!({"@timestamp": ts})));
    let r = rule("  sel:\n    '@timestamp|hour': 3\n  condition: sel");
    assert!(!hit(&r, json!({"@timestamp": ts})));
}

#[test]
fn condition_forms() {
    let dets = "  selection1:\n    CommandLine|contains: s1\n  selection2:\n    CommandLine|contains: s2\n  keywords1:\n    - k1\n  keywords2:\n    - k2\n  filter1:\n    CommandLine|contains: f1\n  filter2:\n    CommandLine|contains: f2\n  _example:\n    CommandLine|contains: hidden\n";
    let check = |cond: &str, cases: &[(&str, bool)]| {
        let r = rule(&format!("{dets}  condition: {cond}"));
        for (c, want) in cases {
            assert_eq!(hit(&r, cl(c)), *want, "{cond} on {c:?}");
        }
    };
    check(
        "keywords1 or keywords2",
        &[("k1", true), ("k2", true), ("s1", false)],
    );
    check(
        "selection1 and keywords1",
        &[("s1 k1", true), ("s1", false)],
    );
    // `1 of them` excludes identifiers starting with `_`.
    check(
        "1 of them",
        &[("f2", true), ("hidden", false), ("nothing", false)],
    );
    check(
        "all of them",
        &[("s1 s2 k1 k2 f1 f2", true), ("s1 s2 k1 k2 f1", false)],
    );
    check("all of selection*", &[("s1 s2", true), ("s1", false)]);
    check(
        "1 of selection* and keywords1",
        &[("s2 k1", true), ("s2", false), ("k1", false)],
    );
    check(
        "1 of selection* and not 1 of filter*",
        &[("s1", true), ("s1 f2", false), ("f1", false)],
    );
    check(
        "keywords1 and not filter1",
        &[("k1", true), ("k1 f1", false)],
    );
    check(
        "selection1 and (keywords1 or keywords2)",
        &[("s1 k2", true), ("s1", false), ("k2", false)],
    );
    // Precedence: or < and < not.
    check(
        "selection1 or keywords1 and not filter1",
        &[("s1 f1", true), ("k1 f1", false), ("k1", true)],
    );
    check(
        "not selection1 and keywords1",
        &[("k1", true), ("s1 k1", false)],
    );
    check("2 of selection*", &[("s1 s2", true), ("s1", false)]);
    check("_example", &[("hidden", true)]);
    // A list of conditions is OR-linked.
    let r = rule(&format!(
        "{dets}  condition:\n    - selection1\n    - keywords2"
    ));
    assert!(hit(&r, cl("s1")));
    assert!(hit(&r, cl("k2")));
    assert!(!hit(&r, cl("k1")));
}
