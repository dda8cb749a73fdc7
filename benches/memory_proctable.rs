//! Memory benchmark of the auditd process table (issue 11, "Must show" 3):
//! ten million distinct pids on a thousand hosts, as exec events through the
//! real [`AuditdParser`] (line parser, coalescer, process table, ECS mapping)
//! and on into an [`Engine`] running the shipped rules, whose IMDS sequence
//! joins on `process.parent.entity_id`: every event brings a new pid, a new
//! entity id and a new join key.
//!
//! The process table may hold [`MAX_PROCESSES`] entries per parser and the
//! joiner its [`StateLimits`]; everything beyond must be evicted, and counted.
//! The join-key flood through a correlation alone is
//! `benches/sequence_memory.rs`; this one adds the pid/process-table side.
//!
//! Not a timed test: `cargo bench --bench memory_proctable` (`FLOOD_PIDS=1000000`
//! for a shorter run). Prints the caps, the eviction counters, throughput and
//! peak resident memory (`VmHWM`, Linux only), and exits non-zero when peak
//! RSS grows by more than [`BUDGET_MIB`]. Every tenth of the run it prints a
//! progress line (pids so far, resident and peak memory, table sizes), so a
//! long run shows the plateau as it goes. Ten million pids took 1,174 s of
//! CPU (about 117 µs an event through parser and engine, every event an
//! alert; 57 minutes wall under `nice -n 10` on the shared 2-core machine,
//! 2026-11-23): peak RSS grew 135.4 MiB of the 160 MiB budget.

use std::fmt::Write as _;
use std::time::Instant;

use tripline::engine::window::StateLimits;
use tripline::engine::{Engine, EngineOptions};
use tripline::rule::load;
use tripline_parsers::auditd::AuditdParser;
use tripline_parsers::auditd::proctable::{MAX_PROCESS_BYTES, MAX_PROCESSES};
use tripline_parsers::{Location, Parser};

/// Distinct pids in the flood (the issue asks for ten million).
const DEFAULT_PIDS: u64 = 10_000_000;

/// Hosts the pids are spread over (`node=` prefixes).
const HOSTS: u64 = 1_000;

/// Allowed growth of peak resident memory, in MiB: 16,384 process entries
/// of a few hundred bytes (~30 MiB with the hash table) plus the joiner's
/// caps (about 30,000 events) and allocator slack. Unbounded tables would
/// need gigabytes.
const BUDGET_MIB: f64 = 160.0;

#[path = "common/mem.rs"]
mod mem;
use mem::{env_u64, mib, rss_kib};

fn main() {
    let pids = env_u64("FLOOD_PIDS", DEFAULT_PIDS);
    let report = load(&[], true);
    let limits = StateLimits::default();
    let mut engine = Engine::with_options(
        report.rules,
        EngineOptions {
            limits,
            ..EngineOptions::default()
        },
    );
    let mut parser = AuditdParser::new();
    let before = rss_kib();
    let start = Instant::now();
    let (mut events, mut alerts, mut errors) = (0u64, 0u64, 0u64);
    let mut line = String::with_capacity(512);
    let step = (pids / 10).max(1);
    for i in 0..pids {
        if i > 0 && i % step == 0 {
            let (rss, hwm) = rss_kib().unwrap_or_default();
            let grew = before.map_or(0.0, |(_, hwm0)| mib(hwm.saturating_sub(hwm0)));
            let table = parser.process_table_mut();
            let (tlen, tbytes, tev) = (table.len(), table.bytes(), table.evicted());
            let state = engine.stats().state;
            println!(
                "progress: {i} pids, {:.0} s, RSS {:.1} MiB, peak {:.1} MiB (+{grew:.1}), process table {tlen} entries / {:.1} MiB est. ({tev} evicted), joiner keys {}",
                start.elapsed().as_secs_f64(),
                mib(rss),
                mib(hwm),
                tbytes as f64 / 1048576.0,
                state.keys
            );
        }
        let host = i % HOSTS;
        // Distinct (host, pid) for every i; parents are distinct too.
        let pid = 100 + i;
        let ppid = 1_000_000_000 + i;
        let secs = 1_700_000_000 + i / 1_000;
        let ms = i % 1_000;
        let serial = i + 1;
        for rec in 0..3 {
            line.clear();
            let _ = match rec {
                0 => write!(
                    line,
                    "node=h{host:04} type=SYSCALL msg=audit({secs}.{ms:03}:{serial}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid={ppid} pid={pid} auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts0 ses=1 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"exec\""
                ),
                1 => write!(
                    line,
                    "node=h{host:04} type=EXECVE msg=audit({secs}.{ms:03}:{serial}): argc=3 a0=\"curl\" a1=\"-s\" a2=\"http://169.254.169.254/latest/meta-data/\""
                ),
                _ => write!(
                    line,
                    "node=h{host:04} type=EOE msg=audit({secs}.{ms:03}:{serial}): "
                ),
            };
            let loc = Location {
                line: i * 3 + rec + 1,
                offset: 0,
            };
            let res = parser.feed(line.as_bytes(), loc, &mut |ev| {
                events += 1;
                engine.process(&ev, &mut |_| alerts += 1);
            });
            errors += u64::from(res.is_err());
        }
    }
    parser.flush(&mut |ev| {
        events += 1;
        engine.process(&ev, &mut |_| alerts += 1);
    });
    let during = rss_kib();
    let secs = start.elapsed().as_secs_f64();
    let table = parser.take_process_table();
    let coalesce = parser.stats();
    let state = engine.stats().state;

    println!(
        "memory_proctable: {pids} distinct pids on {HOSTS} hosts, exec events through AuditdParser + Engine ({} rules)",
        engine.rules().len()
    );
    println!(
        "caps: process table {MAX_PROCESSES} entries and {} MiB; joiner max_keys={} max_partials={} max_partials_per_key={} max_buffered={}",
        MAX_PROCESS_BYTES >> 20,
        limits.max_keys,
        limits.max_partials,
        limits.max_partials_per_key,
        limits.max_buffered
    );
    println!(
        "events {events}, parse errors {errors}, alerts {alerts}, {:.0} events/s ({secs:.1} s)",
        events as f64 / secs
    );
    println!(
        "process table: {} entries kept ({:.1} MiB est.), {} evicted; coalescer: {coalesce:?}",
        table.len(),
        table.bytes() as f64 / 1048576.0,
        table.evicted()
    );
    println!(
        "joiner: keys {} (evicted {}), partials {} (evicted {}, expired {})",
        state.keys,
        state.evicted_keys,
        state.partials,
        state.evicted_partials,
        state.expired_partials
    );
    assert!(table.len() <= MAX_PROCESSES, "process table over its cap");
    assert!(
        table.bytes() <= MAX_PROCESS_BYTES,
        "process table over its byte cap"
    );
    assert!(
        table.evicted() + table.len() as u64 >= pids,
        "every pid beyond the cap is an eviction"
    );
    assert!(state.keys <= limits.max_keys as u64 * engine.rules().len() as u64);
    match (before, during) {
        (Some((rss0, hwm0)), Some((rss1, hwm1))) => {
            let grew = mib(hwm1.saturating_sub(hwm0));
            println!(
                "RSS before {:.1} MiB (peak {:.1}), after {:.1} MiB (peak {:.1}): peak grew {grew:.1} MiB, budget {BUDGET_MIB} MiB",
                mib(rss0),
                mib(hwm0),
                mib(rss1),
                mib(hwm1)
            );
            if grew > BUDGET_MIB {
                eprintln!("memory_proctable: FAIL: peak RSS grew {grew:.1} MiB > {BUDGET_MIB} MiB");
                std::process::exit(1);
            }
        }
        _ => println!("RSS: not measured (no /proc/self/status on this platform)"),
    }
}
