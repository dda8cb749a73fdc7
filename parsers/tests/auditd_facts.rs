//! Hand-checked facts about the auditd corpus, beyond the golden files.

mod common;

use common::{parse_bytes, parse_file, testdata};
use serde_json::Value;
use tripline_parsers::Event;

fn render(evs: &[Event]) -> Vec<String> {
    evs.iter().map(|e| e.to_json().to_string()).collect()
}

fn data<'a>(e: &'a Event, k: &str) -> Option<&'a str> {
    e.extra_value(&format!("auditd.data.{k}"))
        .and_then(Value::as_str)
}

#[test]
fn normal_log_imds_connect_with_hex_exe() {
    let (evs, errs) = parse_file("go-libaudit/testdata/normal.log");
    assert!(errs.is_empty());
    let c = &evs[0];
    assert_eq!(c.event.sequence, Some(58));
    assert_eq!(c.event.category, ["network"]);
    assert_eq!(c.event.type_, ["connection", "start"]);
    assert_eq!(c.event.action.as_deref(), Some("connection_attempted"));
    assert_eq!(c.destination.ip.as_deref(), Some("169.254.169.254"));
    assert_eq!(c.destination.port, Some(80));
    assert_eq!(c.network.type_.as_deref(), Some("ipv4"));
    assert_eq!(c.network.direction.as_deref(), Some("egress"));
    assert_eq!(c.process.executable.as_deref(), Some("/usr/bin/python2.7"));
    assert_eq!(c.process.name.as_deref(), Some("python2.7"));
    assert_eq!(c.process.pid, Some(1172));
    // EINPROGRESS: an attempt whose result the log does not tell.
    assert_eq!(c.event.outcome.as_deref(), Some("unknown"));
    assert_eq!(
        data(c, "exe"),
        Some("/usr/bin/python2.7;58d1ccfb (deleted)")
    );
    assert_eq!(data(c, "syscall"), Some("connect"));
    assert_eq!(data(c, "socket.family"), Some("inet"));
    assert!(c.process.entity_id.is_some() && c.process.parent.entity_id.is_some());

    let grep = &evs[1];
    assert_eq!(grep.event.action.as_deref(), Some("exec"));
    assert_eq!(grep.process.args, ["grep", "--color=auto", "mapping"]);
    assert_eq!(
        grep.process.command_line.as_deref(),
        Some("grep --color=auto mapping")
    );
    assert_eq!(
        grep.process.working_directory.as_deref(),
        Some("/home/andrew_kroh")
    );
    assert_eq!(grep.process.parent.pid, Some(12041));
    assert_eq!(data(grep, "key"), Some("user_commands"));

    let unix = &evs[3];
    assert_eq!(unix.destination.address.as_deref(), Some("public/pickup"));
    assert_eq!(unix.destination.ip, None);
    assert_eq!(data(unix, "socket.family"), Some("local"));
}

#[test]
fn out_of_order_matches_normal_and_lost_messages_only_differs_in_serial() {
    let (normal, _) = parse_file("go-libaudit/testdata/normal.log");
    let (ooo, errs) = parse_file("go-libaudit/testdata/out_of_order.log");
    assert!(errs.is_empty());
    assert_eq!(render(&ooo), render(&normal));

    let (lost, errs) = parse_file("go-libaudit/testdata/lost_messages.log");
    assert!(errs.is_empty());
    assert_eq!(lost.len(), normal.len());
    assert_eq!(lost[0].event.sequence, Some(49));
    assert_eq!(lost[0].destination.ip.as_deref(), Some("169.254.169.254"));
    assert_eq!(render(&lost[1..]), render(&normal[1..]));
}

#[test]
fn rollover_keeps_arrival_order() {
    let (evs, errs) = parse_file("go-libaudit/testdata/rollover.log");
    assert!(errs.is_empty());
    let seq: Vec<_> = evs.iter().map(|e| e.event.sequence.unwrap()).collect();
    assert_eq!(seq, [4294967294, 4294967295, 0, 1, 2]);
    assert_eq!(evs[1].event.action.as_deref(), Some("exec"));
}

fn laurel_json(name: &str) -> Value {
    let p = testdata().join("auditd/laurel").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn argv(v: &Value) -> Vec<String> {
    v["ARGV"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn execve_long_args_match_laurel() {
    let (evs, errs) = parse_file("laurel/record-execve-long.txt");
    assert!(errs.is_empty());
    let e = &evs[0];
    let want = argv(&laurel_json("record-execve-long.json")["EXECVE"]);
    let lens: Vec<usize> = e.process.args.iter().map(String::len).collect();
    assert_eq!(lens, [9, 8192]);
    assert_eq!(e.process.args, want);
    assert_eq!(e.process.args_count, Some(2));
    assert!(e.process.args[1].starts_with("baaa"));
    assert!(e.process.args[1].contains("daaa") && e.process.args[1].contains("faaa"));
    let title = argv(&laurel_json("record-execve-long.json")["PROCTITLE"]).join(" ");
    assert_eq!(e.process.title.as_deref(), Some(title.as_str()));
}

/// Every laurel rendering with an EXECVE or PROCTITLE agrees with ours.
#[test]
fn argv_and_proctitle_agree_with_laurel_renderings() {
    let dir = testdata().join("auditd/laurel");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let txt = name.replace(".json", ".txt");
        let text = std::fs::read_to_string(&path).unwrap();
        let docs: Vec<Value> = serde_json::Deserializer::from_str(&text)
            .into_iter::<Value>()
            .map(Result::unwrap)
            .collect();
        let (evs, _) = parse_file(&format!("laurel/{txt}"));
        // laurel drops some events by configuration (record-syscall-key);
        // compare only where the renderings line up one to one.
        if docs.len() != evs.len() {
            continue;
        }
        for (j, e) in docs.iter().zip(&evs) {
            if j.get("EXECVE").is_some() {
                assert_eq!(e.process.args, argv(&j["EXECVE"]), "{txt}");
                checked += 1;
            }
            if j.get("PROCTITLE").is_some() {
                assert_eq!(
                    e.process.title.as_deref(),
                    Some(argv(&j["PROCTITLE"]).join(" ").as_str()),
                    "{txt}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "checked {checked}");
}

#[test]
fn execve_enriched_with_node() {
    let (evs, errs) = parse_file("laurel/record-execve.txt");
    assert!(errs.is_empty());
    let e = &evs[0];
    assert_eq!(e.host.name.as_deref(), Some("work"));
    assert_eq!(e.process.args, ["whoami"]);
    assert_eq!(e.process.executable.as_deref(), Some("/usr/bin/whoami"));
    assert_eq!(e.process.title.as_deref(), Some("whoami"));
    assert_eq!(e.user.id.as_deref(), Some("0"));
    assert_eq!(e.user.name.as_deref(), Some("root"));
    assert_eq!(e.extra_value("user.audit.name").unwrap(), "user");
    assert_eq!(data(e, "syscall"), Some("execve"));
    assert_eq!(data(e, "arch"), Some("x86_64"));
}

#[test]
fn perl_reverse_shell_script_is_decoded() {
    let (evs, _) = parse_file("laurel/record-perl-reverse-shell.txt");
    let e = &evs[0];
    assert_eq!(e.process.args[..2], ["perl", "-e"]);
    assert!(e.process.args[2].starts_with("use Socket;$i=\"10.0.0.1\";$p=1234;"));
    assert!(e.process.args[2].ends_with("exec(\"/bin/sh -i\");};"));
    assert!(
        e.process
            .command_line
            .as_deref()
            .unwrap()
            .contains("/bin/sh -i")
    );
    assert_eq!(e.process.working_directory.as_deref(), Some("/root"));
}

#[test]
fn connect_ipv6_einprogress_and_unix_failure() {
    let (evs, _) = parse_file("laurel/record-connect.txt");
    assert_eq!(evs[0].destination.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(evs[0].event.outcome.as_deref(), Some("success"));
    assert_eq!(evs[1].destination.ip.as_deref(), Some("::1"));
    assert_eq!(evs[1].destination.port, Some(11211));
    assert_eq!(evs[1].network.type_.as_deref(), Some("ipv6"));
    assert_eq!(evs[1].event.outcome.as_deref(), Some("unknown"));

    let (evs, _) = parse_file("laurel/record-nscd.txt");
    assert_eq!(
        evs[0].destination.address.as_deref(),
        Some("/var/run/nscd/socket")
    );
    assert_eq!(evs[0].event.outcome.as_deref(), Some("failure"));
    assert_eq!(evs[0].event.action.as_deref(), Some("connection_attempted"));
}

#[test]
fn bind_on_big_endian_host() {
    let (evs, _) = parse_file("laurel/record-bind-ipv4-bigendian.txt");
    let e = &evs[0];
    assert_eq!(e.event.action.as_deref(), Some("bound-socket"));
    assert_eq!(e.source.ip.as_deref(), Some("0.0.0.0"));
    assert_eq!(e.source.port, Some(55555));
    assert_eq!(e.process.title.as_deref(), Some("nc -l -p 55555"));
}

#[test]
fn user_space_records() {
    let (evs, _) = parse_file("laurel/line-user-acct.txt");
    assert_eq!(evs[0].event.category, ["authentication"]);
    assert_eq!(evs[0].user.name.as_deref(), Some("user"));
    assert_eq!(evs[0].process.executable.as_deref(), Some("/usr/bin/sudo"));

    let (evs, _) = parse_file("laurel/record-service-start.txt");
    let e = &evs[0];
    assert_eq!(e.event.action.as_deref(), Some("started-service"));
    assert_eq!(data(e, "unit"), Some("apt-daily"));
    let types: Vec<_> = e
        .extra_value("auditd.records")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["SERVICE_START", "SYSCALL", "SOCKADDR", "UNKNOWN[1420]"]
    );

    let (evs, _) = parse_file("go-libaudit/auparse/audit-ubuntu16.log");
    assert_eq!(evs[0].event.outcome.as_deref(), Some("failure"));
    assert_eq!(evs[0].user.name.as_deref(), Some("(invalid user)"));
    assert_eq!(evs[0].source.ip.as_deref(), Some("179.38.151.221"));
    assert_eq!(evs[2].event.type_, ["denied"]);
}

#[test]
fn lineage_through_fork_and_exec() {
    let (evs, _) = parse_file("laurel/shell-proc-trace.txt");
    let find = |pid: i64, action: &str| {
        evs.iter()
            .find(|e| e.process.pid == Some(pid) && e.event.action.as_deref() == Some(action))
            .unwrap()
    };
    let script = find(71505, "exec");
    let grep = find(71507, "exec");
    assert_eq!(grep.process.parent.entity_id, script.process.entity_id);
    assert_eq!(
        grep.process.parent.command_line.as_deref(),
        Some("/bin/sh ./src/testdata/double-fork/test-script.sh")
    );
    // The fork event of 71507 and its exec agree on the parent.
    assert_eq!(
        find(71507, "fork").process.parent.entity_id,
        script.process.entity_id
    );

    let (ordered, _) = parse_file("laurel/shell-proc-trace.txt");
    let (reordered, _) = parse_file("laurel/shell-proc-trace-reordered.txt");
    let procs = |v: &[Event]| v.iter().map(|e| e.process.clone()).collect::<Vec<_>>();
    assert_eq!(procs(&reordered), procs(&ordered));
}

/// The IMDS sequence rule joins an exec and the later connect of the same
/// process on `process.parent.entity_id`; network rules need the command line.
#[test]
fn exec_then_connect_join_on_parent_entity() {
    let log = b"type=SYSCALL msg=audit(1700000000.100:1): arch=c000003e syscall=59 success=yes exit=0 ppid=100 pid=200 uid=0 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)
type=EXECVE msg=audit(1700000000.100:1): argc=2 a0=\"curl\" a1=\"http://169.254.169.254/latest/meta-data/\"
type=CWD msg=audit(1700000000.100:1): cwd=\"/tmp\"
type=EOE msg=audit(1700000000.100:1):
type=SYSCALL msg=audit(1700000000.200:2): arch=c000003e syscall=42 success=no exit=-115 ppid=100 pid=200 uid=0 comm=\"curl\" exe=\"/usr/bin/curl\" key=(null)
type=SOCKADDR msg=audit(1700000000.200:2): saddr=02000050A9FEA9FE0000000000000000
type=EOE msg=audit(1700000000.200:2):
";
    let (evs, errs) = parse_bytes(log);
    assert!(errs.is_empty());
    let (exec, conn) = (&evs[0], &evs[1]);
    assert!(exec.process.parent.entity_id.is_some());
    assert_eq!(exec.process.parent.entity_id, conn.process.parent.entity_id);
    assert_eq!(exec.process.entity_id, conn.process.entity_id);
    assert_eq!(
        conn.process.command_line.as_deref(),
        Some("curl http://169.254.169.254/latest/meta-data/")
    );
    assert_eq!(conn.process.working_directory.as_deref(), Some("/tmp"));
    assert_eq!(conn.destination.ip.as_deref(), Some("169.254.169.254"));
}

#[test]
fn i386_socketcall_connect_and_aarch64_exec() {
    let log = b"type=SYSCALL msg=audit(1.0:1): arch=40000003 syscall=102 success=yes exit=0 a0=3 a1=ffd0 pid=5 ppid=1 exe=\"/usr/bin/wget\"
type=SOCKADDR msg=audit(1.0:1): saddr=0200005001020304
type=EOE msg=audit(1.0:1):
type=SYSCALL msg=audit(1.0:2): arch=c00000b7 syscall=221 success=yes exit=0 pid=6 ppid=1 exe=\"/usr/bin/id\"
type=EOE msg=audit(1.0:2):
";
    let (evs, errs) = parse_bytes(log);
    assert!(errs.is_empty());
    assert_eq!(evs[0].event.action.as_deref(), Some("connection_attempted"));
    assert_eq!(evs[0].destination.ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(evs[1].event.action.as_deref(), Some("exec"));
}
