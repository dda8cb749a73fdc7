//! Memory benchmark of the sequence joiner (issue 4, "Must show" 5): a flood
//! of distinct join keys must keep resident memory bounded by the state caps.
//!
//! A Sigma `temporal_ordered` correlation (exec of curl, then a connection to
//! the metadata service, grouped by `process.parent.entity_id`) runs through
//! the whole [`Engine`] while every event is a first-stage match with a new
//! parent: each one opens a partial sequence under a key never seen before.
//! The joiner may keep at most `max_keys` keys and `max_partials` partials;
//! everything else must be evicted (and counted).
//!
//! Not a timed test: run it with `cargo bench --bench sequence_memory`
//! (`FLOOD_KEYS=1000000` for a shorter run). It prints the configured caps, the
//! eviction counters, throughput, and peak resident memory (`VmHWM` from
//! `/proc/self/status`, Linux only) before and after the flood, and exits
//! non-zero if the growth exceeds [`BUDGET_MIB`].

use std::time::Instant;

use tripline::Event;
use tripline::engine::window::StateLimits;
use tripline::engine::{Engine, EngineOptions};
use tripline::rule::load_sigma_str;

/// Distinct join keys in the flood (issue 4 asks for ten million).
const DEFAULT_KEYS: u64 = 10_000_000;

/// Allowed growth of peak resident memory during the flood, in MiB. The state
/// caps (10,000 keys, 20,000 partials of one event each, 10,000 buffered
/// events) hold about 30,000 events of a few hundred bytes: a few tens of MiB
/// including allocator slack. Unbounded state would need gigabytes.
const BUDGET_MIB: f64 = 128.0;

const RULES: &str = r#"
title: flood stage 1
name: flood_exec
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: /curl
  condition: sel
---
title: flood stage 2
name: flood_connect
logsource: {product: linux, category: network_connection}
detection:
  sel:
    DestinationIp: 169.254.169.254
  condition: sel
---
title: flood sequence
id: 5f1c0000-0000-4000-8000-00000000f100
correlation:
  type: temporal_ordered
  rules: [flood_exec, flood_connect]
  group-by: [process.parent.entity_id]
  timespan: 1s
level: low
"#;

#[path = "common/mem.rs"]
mod mem;
use mem::{env_u64, mib, rss_kib};

fn main() {
    let keys = env_u64("FLOOD_KEYS", DEFAULT_KEYS);
    let report = load_sigma_str(RULES, "bench.yml", "bench");
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    let limits = StateLimits::default();
    let mut engine = Engine::with_options(
        report.rules,
        EngineOptions {
            limits,
            ..EngineOptions::default()
        },
    );
    let mut ev = Event::from_json(&serde_json::json!({
        "event": {"category": ["process"], "type": ["start"], "action": "exec",
                  "module": "auditd", "outcome": "success"},
        "host": {"name": "flood-host", "os": {"type": "linux"}},
        "process": {"pid": 4242, "name": "curl", "executable": "/usr/bin/curl",
                    "command_line": "curl -s http://example.invalid/",
                    "args": ["curl", "-s", "http://example.invalid/"],
                    "working_directory": "/root",
                    "parent": {"pid": 4000, "executable": "/bin/bash"}},
        "user": {"id": "0", "name": "root"},
    }));
    let before = rss_kib();
    let start = Instant::now();
    let mut alerts = 0u64;
    let mut parent = String::new();
    for i in 0..keys {
        use std::fmt::Write as _;
        parent.clear();
        let _ = write!(parent, "parent-{i:016x}");
        ev.process.parent.entity_id = Some(parent.clone());
        // One event per microsecond of event time: 10 s for ten million keys,
        // so the caps, not the 1 s span, bound the state.
        ev.timestamp_ns = 1_700_000_000_000_000_000 + i as i64 * 1_000;
        engine.process(&ev, &mut |_| alerts += 1);
    }
    let during = rss_kib();
    let stats = engine.stats();
    engine.flush(&mut |_| alerts += 1);
    let secs = start.elapsed().as_secs_f64();
    let s = stats.state;
    println!("sequence joiner memory flood: {keys} distinct join keys, one temporal_ordered rule");
    println!(
        "caps: max_keys {}, max_partials_per_key {}, max_partials {}, max_buffered {}, reorder window {} ms",
        limits.max_keys,
        limits.max_partials_per_key,
        limits.max_partials,
        limits.max_buffered,
        limits.reorder_window_ns / 1_000_000
    );
    println!(
        "state at the end: {} keys, {} partials; evicted {} keys and {} partials; {} expired; {} reorder overflows; {} alerts",
        s.keys,
        s.partials,
        s.evicted_keys,
        s.evicted_partials,
        s.expired_partials,
        s.reorder_overflow,
        alerts
    );
    println!(
        "{:.2} s, {:.0} events/s",
        secs,
        keys as f64 / secs.max(1e-9)
    );
    let mut ok = s.keys as usize <= limits.max_keys
        && s.partials as usize <= limits.max_partials
        && (keys <= limits.max_keys as u64 || s.evicted_keys > 0);
    match (before, during) {
        (Some((rss0, hwm0)), Some((rss1, hwm1))) => {
            let _ = hwm0;
            let growth = mib(hwm1.saturating_sub(rss0));
            println!(
                "resident memory: {:.1} MiB before the flood, {:.1} MiB after; peak (VmHWM) {:.1} MiB; growth {:.1} MiB (budget {BUDGET_MIB} MiB)",
                mib(rss0),
                mib(rss1),
                mib(hwm1),
                growth
            );
            ok &= growth <= BUDGET_MIB;
        }
        _ => println!("resident memory: /proc/self/status not available on this platform"),
    }
    if !ok {
        println!("FAIL: state or memory above the caps");
        std::process::exit(1);
    }
    println!("PASS: state within the caps, every excess key evicted and counted");
}
