//! Unit tests of the Sigma front-end and the matcher: every modifier and
//! condition form, case rules, lists, CIDRs, regex flags and diagnostics.

use serde_json::json;
use tripline_parsers::Event;

use super::*;
use crate::engine::matcher;

/// Compiles one rule body (logsource linux/process_creation unless `ls` says
/// otherwise) and returns the report.
fn compile(ls: &str, detection: &str) -> LoadReport {
    let text = format!(
        "title: t\nid: test-rule\nlogsource:\n{ls}\ndetection:\n{detection}\nlevel: medium\n"
    );
    load_sigma_str(&text, "t.yml", "test")
}

const PROC: &str = "  product: linux\n  category: process_creation";
const NET: &str = "  product: linux\n  category: network_connection";
const AUDITD: &str = "  product: linux\n  service: auditd";

fn rule(ls: &str, detection: &str) -> Rule {
    let r = compile(ls, detection);
    assert!(
        r.diagnostics.is_empty(),
        "unexpected diagnostics: {:#?}",
        r.diagnostics
    );
    assert_eq!(r.rules.len(), 1);
    r.rules.rules()[0].clone()
}

fn hit(r: &Rule, ev: serde_json::Value) -> bool {
    let ev = Event::from_json(&ev);
    match &r.kind {
        RuleKind::Single(d) => matcher::matches(d, &ev),
        _ => false,
    }
}

fn exec(extra: serde_json::Value) -> serde_json::Value {
    let mut base = json!({
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
    });
    merge(&mut base, extra);
    base
}

fn conn(extra: serde_json::Value) -> serde_json::Value {
    let mut base = json!({
        "event": {"category": ["network"], "action": "connection_attempted"},
    });
    merge(&mut base, extra);
    base
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn one_diag(ls: &str, detection: &str) -> Diagnostic {
    let r = compile(ls, detection);
    assert_eq!(r.rules.len(), 0, "rule should be skipped");
    assert_eq!(r.total, 1);
    assert_eq!(r.diagnostics.len(), 1, "{:#?}", r.diagnostics);
    r.diagnostics[0].clone()
}

fn cmd(c: &str) -> serde_json::Value {
    exec(json!({"process": {"command_line": c}}))
}

#[test]
fn plain_value_is_case_insensitive_exact() {
    let r = rule(PROC, "  sel:\n    Image: /usr/bin/curl\n  condition: sel");
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/usr/bin/curl"}}))
    ));
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/USR/BIN/CURL"}}))
    ));
    assert!(!hit(
        &r,
        exec(json!({"process": {"executable": "/usr/bin/curl2"}}))
    ));
    // The logsource filter applies.
    assert!(!hit(
        &r,
        conn(json!({"process": {"executable": "/usr/bin/curl"}}))
    ));
}

#[test]
fn contains_startswith_endswith() {
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|contains: 169.254.169.254\n    Image|endswith: /curl\n    ParentImage|startswith: /bin/\n  condition: sel",
    );
    let ev = |c: &str, i: &str, p: &str| {
        exec(json!({"process": {"command_line": c, "executable": i, "parent": {"executable": p}}}))
    };
    assert!(hit(
        &r,
        ev(
            "curl http://169.254.169.254/latest",
            "/usr/bin/CURL",
            "/bin/bash"
        )
    ));
    assert!(!hit(
        &r,
        ev("curl http://example.com", "/usr/bin/curl", "/bin/bash")
    ));
    assert!(!hit(
        &r,
        ev("curl 169.254.169.254", "/usr/bin/curly", "/bin/bash")
    ));
    assert!(!hit(
        &r,
        ev("curl 169.254.169.254", "/usr/bin/curl", "/usr/bin/bash")
    ));
}

#[test]
fn value_lists_are_or_and_all_is_and() {
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|contains:\n      - wget\n      - curl\n  condition: sel",
    );
    assert!(hit(&r, cmd("wget x")));
    assert!(hit(&r, cmd("CURL x")));
    assert!(!hit(&r, cmd("nc x")));
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|contains|all:\n      - curl\n      - /latest/meta-data\n  condition: sel",
    );
    assert!(hit(
        &r,
        cmd("curl http://169.254.169.254/latest/meta-data/")
    ));
    assert!(!hit(&r, cmd("curl http://169.254.169.254/")));
}

#[test]
fn list_of_maps_is_or() {
    let r = rule(
        PROC,
        "  sel:\n    - Image|endswith: /curl\n      CommandLine|contains: meta\n    - Image|endswith: /wget\n  condition: sel",
    );
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/bin/curl", "command_line": "curl meta"}}))
    ));
    assert!(!hit(
        &r,
        exec(json!({"process": {"executable": "/bin/curl", "command_line": "curl x"}}))
    ));
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/bin/wget"}}))
    ));
}

#[test]
fn wildcards_and_escapes() {
    let r = rule(
        PROC,
        "  sel:\n    CommandLine: 'curl *169.254.169.25?*'\n  condition: sel",
    );
    assert!(hit(&r, cmd("curl -s http://169.254.169.254/latest")));
    assert!(hit(&r, cmd("CURL 169.254.169.250")));
    assert!(!hit(&r, cmd("wget 169.254.169.254")));
    assert!(!hit(&r, cmd("curl 169.254.169.2")));
    // Escaped wildcards are literal.
    let r = rule(
        PROC,
        "  sel:\n    CommandLine: 'echo \\*\\?'\n  condition: sel",
    );
    assert!(hit(&r, cmd("echo *?")));
    assert!(!hit(&r, cmd("echo ab")));
    // Regex metacharacters in a glob are literal.
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|contains: 'a.b*(c)'\n  condition: sel",
    );
    assert!(hit(&r, cmd("xx a.b--(c) yy")));
    assert!(!hit(&r, cmd("xx axb--(c) yy")));
    // A lone `*` needs the field to be present.
    let r = rule(PROC, "  sel:\n    CommandLine: '*'\n  condition: sel");
    assert!(hit(&r, cmd("")));
    assert!(!hit(&r, exec(json!({}))));
}

#[test]
fn cased_modifier() {
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|contains|cased: AWS_SECRET\n  condition: sel",
    );
    assert!(hit(&r, cmd("echo $AWS_SECRET")));
    assert!(!hit(&r, cmd("echo $aws_secret")));
}

#[test]
fn regex_and_flags() {
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|re: 'curl .*169\\.254'\n  condition: sel",
    );
    assert!(hit(&r, cmd("x curl -s 169.254.169.254")));
    assert!(
        !hit(&r, cmd("CURL -s 169.254.169.254")),
        "re is case-sensitive"
    );
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|re|i: '^curl'\n  condition: sel",
    );
    assert!(hit(&r, cmd("CURL x")));
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|re|m: '^token$'\n  condition: sel",
    );
    assert!(hit(&r, cmd("a\ntoken\nb")));
    let r2 = rule(
        PROC,
        "  sel:\n    CommandLine|re: '^token$'\n  condition: sel",
    );
    assert!(!hit(&r2, cmd("a\ntoken\nb")));
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|re|s: 'a.b'\n  condition: sel",
    );
    assert!(hit(&r, cmd("a\nb")));
    let r2 = rule(PROC, "  sel:\n    CommandLine|re: 'a.b'\n  condition: sel");
    assert!(!hit(&r2, cmd("a\nb")));
}

#[test]
fn cidr_v4_and_v6() {
    let r = rule(
        NET,
        "  sel:\n    DestinationIp|cidr:\n      - 169.254.0.0/16\n      - fd00:ec2::/32\n  condition: sel",
    );
    assert!(hit(
        &r,
        conn(json!({"destination": {"ip": "169.254.169.254"}}))
    ));
    assert!(hit(
        &r,
        conn(json!({"destination": {"ip": "fd00:ec2::254"}}))
    ));
    assert!(!hit(&r, conn(json!({"destination": {"ip": "10.1.2.3"}}))));
    assert!(!hit(
        &r,
        conn(json!({"destination": {"ip": "fd00:ec3::1"}}))
    ));
    assert!(!hit(&r, conn(json!({}))));
}

#[test]
fn numbers_compare_as_numbers_and_strings() {
    let r = rule(NET, "  sel:\n    DestinationPort: 80\n  condition: sel");
    assert!(hit(&r, conn(json!({"destination": {"port": 80}}))));
    assert!(!hit(&r, conn(json!({"destination": {"port": 8080}}))));
    let r = rule(NET, "  sel:\n    DestinationPort: '80'\n  condition: sel");
    assert!(hit(&r, conn(json!({"destination": {"port": 80}}))));
    let r = rule(
        NET,
        "  sel:\n    DestinationPort|startswith: '80'\n  condition: sel",
    );
    assert!(hit(&r, conn(json!({"destination": {"port": 8080}}))));
    // Integer rule value against a raw string field.
    let r = rule(AUDITD, "  sel:\n    a1: 3\n  condition: sel");
    assert!(hit(&r, records(&[("EXECVE", json!({"a1": "3"}))])));
    assert!(!hit(&r, records(&[("EXECVE", json!({"a1": "30"}))])));
    let r = rule(
        NET,
        "  sel:\n    DestinationPort|gte: 1024\n    SourcePort|lt: 1024\n  condition: sel",
    );
    assert!(hit(
        &r,
        conn(json!({"destination": {"port": 8080}, "source": {"port": 22}}))
    ));
    assert!(!hit(
        &r,
        conn(json!({"destination": {"port": 80}, "source": {"port": 22}}))
    ));
}

#[test]
fn list_fields_match_any_element() {
    let r = rule(PROC, "  sel:\n    process.args: '-s'\n  condition: sel");
    assert!(hit(
        &r,
        exec(json!({"process": {"args": ["curl", "-S", "x"]}}))
    ));
    assert!(!hit(&r, exec(json!({"process": {"args": ["curl", "x"]}}))));
    let r = rule(
        PROC,
        "  sel:\n    process.args|contains|all: [curl, token]\n  condition: sel",
    );
    assert!(hit(
        &r,
        exec(json!({"process": {"args": ["curl", "-H", "X-aws-ec2-metadata-token: x"]}}))
    ));
}

#[test]
fn null_and_exists() {
    let r = rule(
        PROC,
        "  sel:\n    Image|endswith: /curl\n    ParentImage: null\n  condition: sel",
    );
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/bin/curl"}}))
    ));
    assert!(!hit(
        &r,
        exec(json!({"process": {"executable": "/bin/curl", "parent": {"executable": "/bin/sh"}}}))
    ));
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|exists: true\n  condition: sel",
    );
    assert!(hit(&r, cmd("x")));
    assert!(!hit(&r, exec(json!({}))));
    let r = rule(
        PROC,
        "  sel:\n    CommandLine|exists: false\n  condition: sel",
    );
    assert!(!hit(&r, cmd("x")));
    assert!(hit(&r, exec(json!({}))));
}

#[test]
fn booleans_and_value_translation() {
    let r = rule(
        NET,
        "  sel:\n    Initiated: 'true'\n    DestinationPort: 80\n  condition: sel",
    );
    assert!(hit(&r, conn(json!({"destination": {"port": 80}}))));
    let accepted = json!({"event": {"category": ["network"], "action": "connection_accepted"}, "destination": {"port": 80}});
    assert!(!hit(&r, accepted.clone()));
    let r = rule(NET, "  sel:\n    Initiated: false\n  condition: sel");
    assert!(hit(&r, accepted));
    let r = rule(AUDITD, "  sel:\n    success: true\n  condition: sel");
    assert!(hit(&r, records(&[("SYSCALL", json!({"success": true}))])));
    assert!(hit(&r, records(&[("SYSCALL", json!({"success": "TRUE"}))])));
    assert!(!hit(&r, records(&[("SYSCALL", json!({"success": "no"}))])));
}

#[test]
fn conditions_and_or_not_parens() {
    let r = rule(
        PROC,
        "  a:\n    CommandLine|contains: aa\n  b:\n    CommandLine|contains: bb\n  c:\n    CommandLine|contains: cc\n  condition: a and (b or c) and not (c and b)",
    );
    assert!(hit(&r, cmd("aa bb")));
    assert!(hit(&r, cmd("aa cc")));
    assert!(!hit(&r, cmd("aa bb cc")));
    assert!(!hit(&r, cmd("bb cc")));
}

#[test]
fn quantified_selectors() {
    let det = "  sel_a:\n    CommandLine|contains: aa\n  sel_b:\n    CommandLine|contains: bb\n  filter:\n    CommandLine|contains: zz\n";
    let r = rule(
        PROC,
        &format!("{det}  condition: 1 of sel_* and not filter"),
    );
    assert!(hit(&r, cmd("aa")));
    assert!(hit(&r, cmd("bb")));
    assert!(!hit(&r, cmd("aa zz")));
    let r = rule(PROC, &format!("{det}  condition: all of sel_*"));
    assert!(hit(&r, cmd("aa bb")));
    assert!(!hit(&r, cmd("aa")));
    let r = rule(PROC, &format!("{det}  condition: 1 of them"));
    assert!(hit(&r, cmd("zz")));
    assert!(!hit(&r, cmd("yy")));
    let r = rule(PROC, &format!("{det}  condition: all of them"));
    assert!(hit(&r, cmd("aa bb zz")));
    assert!(!hit(&r, cmd("aa bb")));
    let r = rule(PROC, &format!("{det}  condition: 2 of them"));
    assert!(hit(&r, cmd("aa zz")));
    assert!(!hit(&r, cmd("aa")));
    // A list of conditions: alternatives.
    let r = rule(
        PROC,
        &format!("{det}  condition:\n    - sel_a\n    - filter"),
    );
    assert!(hit(&r, cmd("zz")));
    assert!(hit(&r, cmd("aa")));
    assert!(!hit(&r, cmd("bb")));
}

#[test]
fn keywords() {
    let r = rule(
        AUDITD,
        "  sel:\n    type: EXECVE\n  kw:\n    '|all':\n      - grep\n      - password\n  condition: sel and kw",
    );
    let ev = |c: &str| json!({"auditd": {"records": [{"type": "EXECVE", "fields": {}}]}, "process": {"command_line": c}});
    assert!(hit(&r, ev("grep -ri PASSWORD /etc")));
    assert!(!hit(&r, ev("grep -ri user /etc")));
    let r = rule(
        PROC,
        "  kw:\n    - '--to-ports 42'\n    - 'nc -l'\n  condition: kw",
    );
    assert!(hit(&r, cmd("iptables ... --to-ports 4242")));
    assert!(!hit(&r, cmd("iptables")));
}

/// An auditd event as the parser shapes it: `auditd.records = [{type, fields}]`.
fn records(recs: &[(&str, serde_json::Value)]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = recs
        .iter()
        .map(|(t, f)| json!({"type": t, "fields": f}))
        .collect();
    json!({"event": {"module": "auditd"}, "auditd": {"records": list}})
}

#[test]
fn auditd_fields_are_searched_per_record() {
    let r = rule(
        AUDITD,
        "  sel:\n    type: EXECVE\n    a0|endswith: iptables\n    a1: ['-t', '-A']\n  condition: sel",
    );
    let ex = r.explain();
    assert!(ex.contains("auditd.records[].type == \"EXECVE\""), "{ex}");
    assert!(hit(
        &r,
        records(&[
            ("SYSCALL", json!({"a0": "7ffd1234", "syscall": "execve"})),
            (
                "EXECVE",
                json!({"argc": "3", "a0": "/sbin/iptables", "a1": "-t", "a2": "nat"})
            ),
        ])
    ));
    assert!(!hit(
        &r,
        records(&[("SYSCALL", json!({"a0": "/sbin/iptables", "a1": "-t"}))])
    ));
    // A repeated key is an array: any element.
    assert!(hit(
        &r,
        records(&[("EXECVE", json!({"a0": ["x", "/sbin/iptables"], "a1": "-A"}))])
    ));
    // Absent fields: null and exists.
    let r = rule(
        AUDITD,
        "  sel:\n    type: EXECVE\n    key: null\n  condition: sel",
    );
    assert!(hit(&r, records(&[("EXECVE", json!({"a0": "x"}))])));
    assert!(!hit(&r, records(&[("EXECVE", json!({"key": "k"}))])));
    let r = rule(AUDITD, "  sel:\n    key|exists: true\n  condition: sel");
    assert!(hit(&r, records(&[("SYSCALL", json!({"key": "k"}))])));
    assert!(!hit(&r, records(&[("SYSCALL", json!({}))])));
    assert!(!hit(&r, json!({})));
}

#[test]
fn process_creation_excludes_forks() {
    let r = rule(PROC, "  sel:\n    Image|endswith: /bash\n  condition: sel");
    assert!(hit(
        &r,
        exec(json!({"process": {"executable": "/bin/bash"}}))
    ));
    let fork = json!({"event": {"category": ["process"], "type": ["start"], "action": "fork"}, "process": {"executable": "/bin/bash"}});
    assert!(!hit(&r, fork));
    let no_action = json!({"event": {"category": ["process"], "type": ["start"]}, "process": {"executable": "/bin/bash"}});
    assert!(hit(&r, no_action));
}

#[test]
fn neq_modifier() {
    let r = rule(PROC, "  sel:\n    User|neq: root\n  condition: sel");
    assert!(hit(&r, exec(json!({"user": {"name": "ubuntu"}}))));
    assert!(!hit(&r, exec(json!({"user": {"name": "ROOT"}}))));
    assert!(!hit(&r, exec(json!({}))));
}

#[test]
fn metadata_and_mitre() {
    let text = "title: IMDS credential theft\nid: abc-1\ndescription: d\nreferences: [https://x]\nauthor: A, B\n\
                tags: [attack.credential_access, attack.t1552.005]\nlogsource: {product: linux, category: process_creation}\n\
                detection:\n  sel:\n    Image: x\n  condition: sel\nlevel: high\nrisk_score: 80\n";
    let r = load_sigma_str(text, "rules/imds/x.yml", "imds");
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let m = &r.rules.rules()[0].meta;
    assert_eq!(m.id, "abc-1");
    assert_eq!(m.name, "IMDS credential theft");
    assert_eq!(m.authors, vec!["A", "B"]);
    assert_eq!(m.severity, Severity::High);
    assert_eq!(m.risk_score, 80.0);
    assert_eq!(m.ruleset, "imds");
    assert_eq!(m.path, "rules/imds/x.yml");
    assert_eq!(m.threat[0].tactic_id, "TA0006");
    assert_eq!(m.threat[0].techniques[0].subtechniques[0].0, "T1552.005");
    // Without risk_score the severity decides.
    let r = load_sigma_str(&text.replace("risk_score: 80\n", ""), "x.yml", "imds");
    assert_eq!(r.rules.rules()[0].meta.risk_score, 73.0);
    let ex = r.rules.explain("abc-1");
    assert_eq!(ex.len(), 1);
    assert!(ex[0].contains("process.executable == \"x\""), "{}", ex[0]);
    assert!(ex[0].contains("event.category == \"process\""), "{}", ex[0]);
}

#[test]
fn unsupported_constructs_are_located_diagnostics() {
    let d = one_diag(
        PROC,
        "  sel:\n    CommandLine|base64|contains: secret*\n  condition: sel",
    );
    assert!(!d.file_error);
    assert!(d.message.contains("base64"), "{d}");
    assert_eq!(d.line, Some(8), "{d}");
    assert_eq!(d.rule.as_deref(), Some("test-rule"));
    let d = one_diag(
        PROC,
        "  sel:\n    CommandLine|expand: '%x%'\n  condition: sel",
    );
    assert!(d.message.contains("expand"), "{d}");
    let d = one_diag(
        PROC,
        "  sel:\n    CommandLine|fieldref|cidr: Image\n  condition: sel",
    );
    assert!(d.message.contains("conflicting"), "{d}");
    let d = one_diag(
        "  product: linux\n  category: file_event",
        "  sel:\n    TargetFilename: x\n  condition: sel",
    );
    assert!(d.message.contains("unmapped logsource"), "{d}");
    assert!(d.message.contains("file_event"), "{d}");
    assert_eq!(d.line, Some(3));
    let d = one_diag(
        PROC,
        "  sel:\n    Image: x\n  condition: sel\n  timeframe: 5m",
    );
    assert!(d.message.contains("timeframe"), "{d}");
    let d = one_diag(PROC, "  sel:\n    Image|re: '(unclosed'\n  condition: sel");
    assert!(d.message.contains("regular expression"), "{d}");
    let d = one_diag(PROC, "  sel:\n    Image|cidr: 'nope/8'\n  condition: sel");
    assert!(d.message.contains("cidr"), "{d}");
    let d = one_diag(PROC, "  sel:\n    Image: x\n  condition: 1 of filter_*");
    assert!(d.message.contains("matches no detection"), "{d}");
    let d = one_diag(PROC, "  sel:\n    Image: x\n  condition: sel and other");
    assert!(d.message.contains("undefined detection 'other'"), "{d}");
    let d = one_diag(NET, "  sel:\n    Initiated: maybe\n  condition: sel");
    assert!(d.message.contains("no translation"), "{d}");
}

#[test]
fn file_level_errors() {
    let r = load_sigma_str("title: [unclosed\n", "bad.yml", "x");
    assert_eq!(r.rules.len(), 0);
    assert!(
        r.diagnostics.iter().all(|d| d.file_error),
        "{:?}",
        r.diagnostics
    );
    assert!(!r.diagnostics.is_empty());
    let r = load_sigma_str("title: t\nlogsource: {product: linux}\n", "bad.yml", "x");
    assert!(r.diagnostics[0].file_error);
    assert!(
        r.diagnostics[0].message.contains("detection"),
        "{:?}",
        r.diagnostics
    );
    let r = compile(PROC, "  sel:\n    Image|nosuchmod: x\n  condition: sel");
    assert!(r.diagnostics[0].file_error);
    assert_eq!(r.diagnostics[0].line, Some(8), "{:?}", r.diagnostics);
    let r = compile(PROC, "  sel:\n    Image: x\n  condition: sel and and");
    assert!(r.diagnostics[0].file_error);
    assert_eq!(r.diagnostics[0].line, Some(9), "{:?}", r.diagnostics);
    let r = load_sigma_str("", "empty.yml", "x");
    assert_eq!(r.diagnostics.len(), 1);
    assert!(r.diagnostics[0].file_error);
}

#[test]
fn correlations_and_multi_document_files() {
    let text = "title: base\nid: r1\nname: base\nlogsource: {product: linux, category: process_creation}\n\
                detection:\n  sel:\n    Image: x\n  condition: sel\n---\n\
                title: many\nid: c1\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 10\n";
    let r = load_sigma_str(text, "c.yml", "x");
    // Both documents of the file compile: the base rule and the event_count
    // correlation over it (correlations are supported since the joiner landed).
    assert_eq!(r.total, 2);
    assert_eq!(r.rules.len(), 2, "{:?}", r.diagnostics);
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    let ids: Vec<&str> = r.rules.metas().map(|m| m.id.as_str()).collect();
    assert!(ids.contains(&"r1") && ids.contains(&"c1"), "{ids:?}");

    // A correlation naming a rule that is not in the load set is a per-rule diagnostic.
    let orphan = "title: many\nid: c2\ncorrelation:\n  type: event_count\n  rules: [nowhere]\n  group-by: [User]\n  timespan: 5m\n  condition:\n    gte: 10\n";
    let r = load_sigma_str(orphan, "o.yml", "x");
    assert_eq!(r.rules.len(), 0);
    assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
    assert!(!r.diagnostics[0].file_error);
    assert_eq!(r.diagnostics[0].rule.as_deref(), Some("c2"));
}

#[test]
fn duplicate_ids_are_reported() {
    let one = "title: a\nid: same\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    Image: x\n  condition: sel\n";
    let r = load_sigma_str(&format!("{one}---\n{one}"), "d.yml", "x");
    assert_eq!(r.rules.len(), 1);
    assert_eq!(r.total, 2);
    assert!(r.diagnostics[0].message.contains("duplicate rule id"));
}

#[test]
fn load_walks_directories_and_reports_toml() {
    let dir = std::env::temp_dir().join(format!("tripline-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pack/sub")).unwrap();
    std::fs::write(
        dir.join("pack/sub/a.yml"),
        "title: a\nid: a\nlogsource: {product: linux, category: process_creation}\ndetection:\n  sel:\n    Image: x\n  condition: sel\n",
    )
    .unwrap();
    std::fs::write(dir.join("pack/b.toml"), "[rule]\n").unwrap();
    std::fs::write(dir.join("pack/notes.txt"), "hello").unwrap();
    std::fs::write(dir.join("pack/a.cases.yml"), "rule: x\ncases: []\n").unwrap();
    let r = load(&[dir.join("pack"), dir.join("missing.yml")], false);
    assert_eq!(r.rules.len(), 1);
    assert_eq!(r.rules.rules()[0].meta.ruleset, "pack");
    assert_eq!(r.total, 2);
    let toml = r
        .diagnostics
        .iter()
        .find(|d| d.path.ends_with("b.toml"))
        .unwrap();
    assert!(!toml.file_error);
    assert!(
        toml.message.contains("unsupported rule type"),
        "{}",
        toml.message
    );
    let missing = r
        .diagnostics
        .iter()
        .find(|d| d.path.ends_with("missing.yml"))
        .unwrap();
    assert!(missing.file_error);
    assert_eq!(r.diagnostics.len(), 2, "{:?}", r.diagnostics);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn embedded_pack_loads_cleanly() {
    let r = load(&[], true);
    // The shipped pack must run in full: no rule may be skipped.
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(r.rules.len(), r.total);
    for m in r.rules.metas() {
        assert!(m.path.starts_with("embedded:rules/"), "{}", m.path);
        assert!(!m.path.contains("mappings"));
    }
}

/// Loads `dir` and prints how many rules compile and the diagnostics by reason.
fn corpus_report(dir: &std::path::Path) -> LoadReport {
    let r = load(&[dir.to_path_buf()], false);
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for d in &r.diagnostics {
        let key = d
            .message
            .split(['\'', '(', '"', ':'])
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        *reasons.entry(key).or_default() += 1;
    }
    let mut reasons: Vec<_> = reasons.into_iter().collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    eprintln!(
        "{}: {} of {} rules compile; diagnostics by reason: {reasons:#?}",
        dir.display(),
        r.rules.len(),
        r.total
    );
    r
}

/// The public Sigma corpus, when the shared checkout is present (it is not on a
/// fresh machine, and then this test does nothing).
#[test]
fn corpus_linux_rules() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/rules/sigma/rules/linux");
    if !dir.is_dir() {
        eprintln!("corpus not present at {}; skipped", dir.display());
        return;
    }
    let r = corpus_report(&dir);
    for d in &r.diagnostics {
        eprintln!("  {d}");
    }
    assert!(r.total > 0);
    assert!(
        r.diagnostics.iter().all(|d| !d.file_error),
        "file errors in the corpus"
    );
    // Every rule is either compiled or named in a diagnostic.
    assert!(r.rules.len() + r.diagnostics.len() >= r.total);
}

/// Any Sigma tree: `TRIPLINE_SIGMA_CORPUS=DIR cargo test --lib corpus_any -- --ignored --nocapture`.
#[test]
#[ignore = "needs TRIPLINE_SIGMA_CORPUS"]
fn corpus_any() {
    let Some(dir) = std::env::var_os("TRIPLINE_SIGMA_CORPUS") else {
        return;
    };
    let r = corpus_report(std::path::Path::new(&dir));
    assert!(r.rules.len() + r.diagnostics.len() >= r.total);
}
