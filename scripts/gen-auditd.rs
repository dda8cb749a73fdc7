//! Deterministic generator of a realistic audit.log for the benchmark harness
//! (`scripts/bench`, issue 10). Not a test and not timed itself.
//!
//! ```text
//! cargo run --release --example auditd_gen -- BYTES [SEED] > /tmp/audit.log
//! ```
//!
//! Writes about BYTES bytes of auditd text in the ENRICHED format Debian's
//! auditd writes by default (interpreted fields after a 0x1D byte), one audit
//! event after another with increasing time stamps and serials:
//!
//! | share of events | event | records |
//! |---|---|---|
//! | ~36% | execve | SYSCALL, EXECVE (quoted and hex args; ~2% long args split in `aN_len` / `aN[i]` chunks), CWD, PATH x2, PROCTITLE (hex), EOE |
//! | ~14% | connect | SYSCALL, SOCKADDR (inet/inet6/unix), PROCTITLE, EOE |
//! | ~14% | openat | SYSCALL, CWD, PATH, PROCTITLE, EOE |
//! | ~8% | clone | SYSCALL, PROCTITLE, EOE |
//! | ~28% | user space | USER_ACCT, CRED_ACQ, USER_START, USER_LOGIN, USER_END, CRED_DISP, SERVICE_START/STOP (one line each, no EOE) |
//! | ~0.3% | IMDS | curl/wget/python exec to 169.254.169.254 then its connect (the embedded pack fires) |
//!
//! Same seed, same bytes. A small xorshift PRNG: no dependency.

use std::io::{self, BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
}

const SEP: u8 = 0x1d;

/// (exe, argv templates): an argv template's `{}` takes a random word.
const PROGRAMS: &[(&str, &[&str])] = &[
    ("/usr/bin/bash", &["bash", "-c", "{}"]),
    ("/usr/bin/dash", &["sh", "-c", "{}"]),
    ("/usr/bin/ls", &["ls", "-la", "/var/log/{}"]),
    ("/usr/bin/cat", &["cat", "/etc/{}"]),
    ("/usr/bin/grep", &["grep", "-r", "{}", "/etc"]),
    (
        "/usr/bin/python3.11",
        &["python3", "/opt/app/{}.py", "--verbose"],
    ),
    ("/usr/bin/systemctl", &["systemctl", "status", "{}.service"]),
    (
        "/usr/bin/git",
        &["git", "-C", "/srv/{}", "pull", "--ff-only"],
    ),
    ("/usr/bin/ps", &["ps", "aux"]),
    ("/usr/bin/awk", &["awk", "-F:", "{print $1}", "/etc/passwd"]),
    ("/usr/bin/sed", &["sed", "-n", "s/{}/x/p", "/etc/hosts"]),
    (
        "/usr/bin/find",
        &["find", "/tmp", "-name", "*.{}", "-mtime", "+7"],
    ),
    ("/usr/sbin/cron", &["/usr/sbin/CRON", "-f"]),
    (
        "/usr/bin/tar",
        &["tar", "czf", "/var/backups/{}.tgz", "/etc"],
    ),
    ("/usr/bin/sudo", &["sudo", "-u", "www-data", "{}"]),
    (
        "/usr/bin/curl",
        &["curl", "-fsSL", "https://example.com/{}"],
    ),
    ("/usr/bin/dpkg", &["dpkg", "-l"]),
    ("/usr/bin/id", &["id", "-u"]),
    ("/usr/bin/uname", &["uname", "-a"]),
    ("/usr/lib/openssh/sshd", &["sshd: {} [priv]"]),
];

const WORDS: &[&str] = &[
    "nginx",
    "app",
    "backup",
    "deploy",
    "worker",
    "metrics",
    "report",
    "syslog",
    "auth",
    "sessions",
    "hello world",
    "a b c",
    "cache",
    "tmpfiles",
    "échec",
];

/// Weighted by repetition: www-data (whose execs the webshell rules flag) is rare.
const USERS: &[(u32, &str)] = &[
    (0, "root"),
    (0, "root"),
    (0, "root"),
    (0, "root"),
    (0, "root"),
    (0, "root"),
    (0, "root"),
    (1000, "alice"),
    (1000, "alice"),
    (1000, "alice"),
    (1000, "alice"),
    (1001, "bob"),
    (1001, "bob"),
    (1001, "bob"),
    (109, "postgres"),
    (109, "postgres"),
    (109, "postgres"),
    (109, "postgres"),
    (109, "postgres"),
    (33, "www-data"),
];

const UNITS: &[&str] = &[
    "apt-daily",
    "logrotate",
    "man-db",
    "systemd-tmpfiles-clean",
    "fstrim",
    "cron",
    "nginx",
];

struct Gen<W: Write> {
    out: W,
    rng: Rng,
    ms: u64,
    serial: u64,
    written: u64,
    line: Vec<u8>,
    pids: Vec<u32>,
    next_pid: u32,
}

fn hex(bytes: &[u8], out: &mut Vec<u8>) {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        out.push(H[(b >> 4) as usize]);
        out.push(H[(b & 15) as usize]);
    }
}

/// auditd's choice: quoted when printable without spaces/quotes, else hex.
fn arg_value(v: &[u8], out: &mut Vec<u8>) {
    if v.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'"') {
        out.push(b'"');
        out.extend_from_slice(v);
        out.push(b'"');
    } else {
        hex(v, out);
    }
}

impl<W: Write> Gen<W> {
    fn stamp(&mut self) -> String {
        format!("{}.{:03}:{}", self.ms / 1000, self.ms % 1000, self.serial)
    }

    fn emit(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.written += self.line.len() as u64;
        self.out.write_all(&self.line)?;
        self.line.clear();
        Ok(())
    }

    fn head(&mut self, rtype: &str, stamp: &str) {
        self.line.clear();
        write!(self.line, "type={rtype} msg=audit({stamp}): ").unwrap();
    }

    fn pid(&mut self) -> u32 {
        // A bounded pool of live processes (bounded process table, reused pids).
        if self.pids.len() < 4096 || self.rng.chance(50) {
            self.next_pid = if self.next_pid >= 4_194_000 {
                300
            } else {
                self.next_pid + 1 + self.rng.below(7) as u32
            };
            let p = self.next_pid;
            if self.pids.len() < 4096 {
                self.pids.push(p);
            } else {
                let i = self.rng.below(self.pids.len() as u64) as usize;
                self.pids[i] = p;
            }
            p
        } else {
            *self.rng.pick(&self.pids)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn syscall(
        &mut self,
        stamp: &str,
        nr: u32,
        name: &str,
        ok: bool,
        exit: i64,
        items: u32,
        ppid: u32,
        pid: u32,
        user: (u32, &str),
        comm: &str,
        exe: &str,
    ) {
        self.head("SYSCALL", stamp);
        let a0 = self.rng.next() & 0xffff_ffff_ffff;
        let a1 = self.rng.next() & 0xffff_ffff_ffff;
        let tty = if user.0 >= 1000 { "pts0" } else { "(none)" };
        let (auid, ses, auname) = if user.0 >= 1000 {
            (user.0, 3u32, user.1)
        } else {
            (4_294_967_295, 4_294_967_295, "unset")
        };
        let key = match name {
            "execve" => "\"exec\"",
            "connect" => "\"network_connect\"",
            _ => "(null)",
        };
        write!(
            self.line,
            "arch=c000003e syscall={nr} success={} exit={exit} a0={a0:x} a1={a1:x} a2=0 a3=0 items={items} ppid={ppid} pid={pid} auid={auid} uid={u} gid={u} euid={u} suid={u} fsuid={u} egid={u} sgid={u} fsgid={u} tty={tty} ses={ses} comm=\"{comm}\" exe=\"{exe}\" subj=unconfined key={key}",
            if ok { "yes" } else { "no" },
            u = user.0,
        )
        .unwrap();
        self.line.push(SEP);
        write!(
            self.line,
            "ARCH=x86_64 SYSCALL={name} AUID=\"{auname}\" UID=\"{n}\" GID=\"{n}\" EUID=\"{n}\" SUID=\"{n}\" FSUID=\"{n}\" EGID=\"{n}\" SGID=\"{n}\" FSGID=\"{n}\"",
            n = user.1
        )
        .unwrap();
    }

    fn proctitle(&mut self, stamp: &str, argv: &[Vec<u8>]) -> io::Result<()> {
        self.head("PROCTITLE", stamp);
        self.line.extend_from_slice(b"proctitle=");
        let mut t = Vec::new();
        for (i, a) in argv.iter().enumerate() {
            if i > 0 {
                t.push(0);
            }
            t.extend_from_slice(a);
        }
        t.truncate(128); // the kernel caps PROCTITLE
        hex(&t, &mut self.line);
        self.emit()
    }

    fn cwd(&mut self, stamp: &str, dir: &str) -> io::Result<()> {
        self.head("CWD", stamp);
        write!(self.line, "cwd=\"{dir}\"").unwrap();
        self.emit()
    }

    fn path(&mut self, stamp: &str, item: u32, name: &str, nametype: &str) -> io::Result<()> {
        self.head("PATH", stamp);
        let inode = 100_000 + self.rng.below(900_000);
        write!(
            self.line,
            "item={item} name=\"{name}\" inode={inode} dev=fe:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype={nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
        )
        .unwrap();
        self.line.push(SEP);
        self.line.extend_from_slice(b"OUID=\"root\" OGID=\"root\"");
        self.emit()
    }

    fn eoe(&mut self, stamp: &str) -> io::Result<()> {
        self.head("EOE", stamp);
        self.line.pop(); // "type=EOE msg=audit(...):" has no trailing space
        self.emit()
    }

    fn begin_event(&mut self) -> String {
        self.ms += 1 + self.rng.below(4);
        self.serial += 1;
        self.stamp()
    }

    fn exec(&mut self, exe: &str, argv: Vec<Vec<u8>>, user: (u32, &str)) -> io::Result<u32> {
        let stamp = self.begin_event();
        let ppid = self.pid();
        let pid = self.pid();
        let comm: String = String::from_utf8_lossy(&argv[0])
            .rsplit('/')
            .next()
            .unwrap_or("x")
            .chars()
            .take(15)
            .collect();
        self.syscall(
            &stamp, 59, "execve", true, 0, 2, ppid, pid, user, &comm, exe,
        );
        self.emit()?;
        // EXECVE: args longer than the kernel's chunk size are split.
        const CHUNK: usize = 3750; // bytes per aN[i] chunk (7500 hex chars)
        self.head("EXECVE", &stamp);
        write!(self.line, "argc={}", argv.len()).unwrap();
        for (n, a) in argv.iter().enumerate() {
            if a.len() > CHUNK {
                write!(self.line, " a{n}_len={}", a.len() * 2).unwrap();
                for (i, c) in a.chunks(CHUNK).enumerate() {
                    if i > 0 {
                        self.emit()?;
                        self.head("EXECVE", &stamp);
                    }
                    write!(self.line, " a{n}[{i}]=").unwrap();
                    hex(c, &mut self.line);
                }
            } else {
                write!(self.line, " a{n}=").unwrap();
                arg_value(a, &mut self.line);
            }
        }
        self.emit()?;
        let dir = if user.0 >= 1000 {
            format!("/home/{}", user.1)
        } else {
            "/".to_string()
        };
        self.cwd(&stamp, &dir)?;
        self.path(&stamp, 0, exe, "NORMAL")?;
        self.path(&stamp, 1, "/lib64/ld-linux-x86-64.so.2", "NORMAL")?;
        self.proctitle(&stamp, &argv)?;
        self.eoe(&stamp)?;
        Ok(pid)
    }

    fn random_exec(&mut self) -> io::Result<()> {
        let (exe, tmpl) = *self.rng.pick(PROGRAMS);
        let word = *self.rng.pick(WORDS);
        let mut argv: Vec<Vec<u8>> = tmpl
            .iter()
            .map(|t| t.replace("{}", word).into_bytes())
            .collect();
        if self.rng.chance(20) {
            // A long argument (a script or a base64 blob), 4-24 KB.
            let len = 4096 + self.rng.below(20_000) as usize;
            let mut blob = Vec::with_capacity(len);
            while blob.len() < len {
                blob.extend_from_slice(
                    b"echo step; for f in /srv/data/*; do gzip -9 \"$f\"; done; ",
                );
            }
            blob.truncate(len);
            argv.push(blob);
        }
        let user = *self.rng.pick(USERS);
        self.exec(exe, argv, user).map(drop)
    }

    fn connect(
        &mut self,
        pid: Option<u32>,
        exe: &str,
        dest: Option<([u8; 4], u16)>,
    ) -> io::Result<()> {
        let stamp = self.begin_event();
        let ppid = self.pid();
        let pid = pid.unwrap_or_else(|| self.pid());
        let user = if dest.is_some() {
            (0, "root")
        } else {
            *self.rng.pick(USERS)
        };
        let comm = exe.rsplit('/').next().unwrap_or("x").to_string();
        let kind = if dest.is_some() {
            0
        } else {
            self.rng.below(10)
        };
        let ok = kind >= 7 || self.rng.chance(500);
        let exit = if ok { 0 } else { -115 };
        self.syscall(
            &stamp, 42, "connect", ok, exit, 0, ppid, pid, user, &comm, exe,
        );
        self.emit()?;
        self.head("SOCKADDR", &stamp);
        self.line.extend_from_slice(b"saddr=");
        let mut sa = Vec::new();
        match (dest, kind) {
            (Some(_), _) | (None, 0..=5) => {
                let (ip, port) = dest.unwrap_or_else(|| {
                    let r = self.rng.next();
                    (
                        [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8],
                        *self.rng.pick(&[443u16, 80, 5432, 53, 8080]),
                    )
                });
                sa.extend_from_slice(&[2, 0]);
                sa.extend_from_slice(&port.to_be_bytes());
                sa.extend_from_slice(&ip);
                sa.extend_from_slice(&[0; 8]);
            }
            (None, 6..=7) => {
                let r = self.rng.next();
                sa.extend_from_slice(&[10, 0]);
                sa.extend_from_slice(&443u16.to_be_bytes());
                sa.extend_from_slice(&[0; 4]);
                sa.extend_from_slice(&[0x2a, 0x01, 0x04, 0xf8]);
                sa.extend_from_slice(&r.to_be_bytes());
                sa.extend_from_slice(&[0, 0, 0, 1]);
                sa.extend_from_slice(&[0; 4]);
            }
            _ => {
                sa.extend_from_slice(&[1, 0]);
                sa.extend_from_slice(b"/run/systemd/journal/socket");
                sa.push(0);
            }
        }
        hex(&sa, &mut self.line);
        self.emit()?;
        let argv = vec![comm.clone().into_bytes()];
        self.proctitle(&stamp, &argv)?;
        self.eoe(&stamp)
    }

    fn openat(&mut self) -> io::Result<()> {
        let stamp = self.begin_event();
        let ppid = self.pid();
        let pid = self.pid();
        let (exe, tmpl) = *self.rng.pick(PROGRAMS);
        let comm = tmpl[0].rsplit('/').next().unwrap_or("x").to_string();
        let user = *self.rng.pick(USERS);
        let file = *self.rng.pick(&[
            "/etc/shadow",
            "/etc/passwd",
            "/etc/ssh/sshd_config",
            "/var/log/auth.log",
            "/etc/sudoers",
            "/root/.ssh/authorized_keys",
        ]);
        let ok = user.0 == 0 || self.rng.chance(300);
        let exit = if ok { 3 } else { -13 };
        self.syscall(
            &stamp, 257, "openat", ok, exit, 1, ppid, pid, user, &comm, exe,
        );
        self.emit()?;
        self.cwd(&stamp, "/")?;
        self.path(&stamp, 0, file, "NORMAL")?;
        let argv: Vec<Vec<u8>> = tmpl
            .iter()
            .map(|t| t.replace("{}", "x").into_bytes())
            .collect();
        self.proctitle(&stamp, &argv)?;
        self.eoe(&stamp)
    }

    fn clone_ev(&mut self) -> io::Result<()> {
        let stamp = self.begin_event();
        let ppid = self.pid();
        let pid = self.pid();
        let child = self.pid();
        let user = *self.rng.pick(USERS);
        self.syscall(
            &stamp,
            56,
            "clone",
            true,
            i64::from(child),
            0,
            ppid,
            pid,
            user,
            "bash",
            "/usr/bin/bash",
        );
        self.emit()?;
        self.proctitle(&stamp, &[b"bash".to_vec()])?;
        self.eoe(&stamp)
    }

    fn user_space(&mut self) -> io::Result<()> {
        let stamp = self.begin_event();
        let pid = self.pid();
        let (uid, name) = *self.rng.pick(USERS);
        let ip = format!("10.0.{}.{}", self.rng.below(256), self.rng.below(256));
        let ok = !self.rng.chance(80);
        let res = if ok { "success" } else { "failed" };
        let which = self.rng.below(8);
        let (rtype, msg) = match which {
            0 => (
                "USER_ACCT",
                format!(
                    "op=PAM:accounting grantors=pam_permit acct=\"{name}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res={res}"
                ),
            ),
            1 => (
                "CRED_ACQ",
                format!(
                    "op=PAM:setcred grantors=pam_permit acct=\"{name}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res={res}"
                ),
            ),
            2 => (
                "USER_START",
                format!(
                    "op=PAM:session_open grantors=pam_unix acct=\"{name}\" exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=ssh res={res}"
                ),
            ),
            3 => (
                "USER_LOGIN",
                format!(
                    "op=login id={uid} exe=\"/usr/sbin/sshd\" hostname={ip} addr={ip} terminal=/dev/pts/0 res={res}"
                ),
            ),
            4 => (
                "USER_END",
                format!(
                    "op=PAM:session_close grantors=pam_unix acct=\"{name}\" exe=\"/usr/sbin/cron\" hostname=? addr=? terminal=cron res=success"
                ),
            ),
            5 => (
                "CRED_DISP",
                format!(
                    "op=PAM:setcred grantors=pam_permit acct=\"{name}\" exe=\"/usr/sbin/cron\" hostname=? addr=? terminal=cron res=success"
                ),
            ),
            6 => (
                "SERVICE_START",
                format!(
                    "unit={} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success",
                    self.rng.pick(UNITS)
                ),
            ),
            _ => (
                "SERVICE_STOP",
                format!(
                    "unit={} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success",
                    self.rng.pick(UNITS)
                ),
            ),
        };
        let (pid, uid_field, auid, ses) = if which >= 6 {
            (1, 0, 4_294_967_295u32, 4_294_967_295u32)
        } else {
            (pid, 0, uid, 7)
        };
        self.head(rtype, &stamp);
        write!(
            self.line,
            "pid={pid} uid={uid_field} auid={auid} ses={ses} subj=unconfined msg='{msg}'"
        )
        .unwrap();
        self.line.push(SEP);
        let auname = if auid == 4_294_967_295 { "unset" } else { name };
        write!(self.line, "UID=\"root\" AUID=\"{auname}\"").unwrap();
        if which < 4 {
            write!(self.line, " ID=\"{name}\"").unwrap();
        }
        self.emit()
    }

    fn imds(&mut self) -> io::Result<()> {
        let (exe, argv): (&str, Vec<&str>) = match self.rng.below(3) {
            0 => (
                "/usr/bin/curl",
                vec![
                    "curl",
                    "-s",
                    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
                ],
            ),
            1 => (
                "/usr/bin/wget",
                vec![
                    "wget",
                    "-qO-",
                    "http://169.254.169.254/latest/meta-data/iam/security-credentials/admin-role",
                ],
            ),
            _ => (
                "/usr/bin/python3.11",
                vec![
                    "python3",
                    "-c",
                    "import urllib.request as u; print(u.urlopen('http://169.254.169.254/latest/api/token').read())",
                ],
            ),
        };
        let argv = argv.into_iter().map(|a| a.as_bytes().to_vec()).collect();
        let pid = self.exec(exe, argv, (0, "root"))?;
        self.connect(Some(pid), exe, Some(([169, 254, 169, 254], 80)))
    }
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let target: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(42);
    let stdout = io::stdout();
    let mut g = Gen {
        out: BufWriter::with_capacity(1 << 20, stdout.lock()),
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        ms: 1_750_000_000_000,
        serial: 1000,
        written: 0,
        line: Vec::with_capacity(64 << 10),
        pids: Vec::new(),
        next_pid: 300,
    };
    while g.written < target {
        match g.rng.below(1000) {
            0..=2 => g.imds()?,
            3..=362 => g.random_exec()?,
            363..=502 => {
                let exe = *g.rng.pick(&[
                    "/usr/bin/curl",
                    "/usr/sbin/nginx",
                    "/usr/bin/python3.11",
                    "/usr/lib/apt/methods/http",
                    "/usr/sbin/sshd",
                ]);
                g.connect(None, exe, None)?
            }
            503..=642 => g.openat()?,
            643..=722 => g.clone_ev()?,
            _ => g.user_space()?,
        }
    }
    g.out.flush()
}
