//! Sigma loader: rule text (one or more YAML documents, correlations,
//! filters) -> compiled rules or per-rule diagnostics. Never a panic, and
//! YAML alias bombs must stay bounded (libFuzzer's -rss_limit_mb and
//! -timeout catch the blow-ups). The compiled rules also run once over a
//! small fixed event, so compile-time regexes, wildcards and modifiers are
//! exercised against data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tripline::Event;
use tripline::engine::Engine;
use tripline::rule::load_sigma_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let report = load_sigma_str(text, "fuzz.yml", "fuzz");
    for d in &report.diagnostics {
        let _ = d.to_string();
    }
    let mut engine = Engine::new(report.rules);
    let ev = Event::from_json(&serde_json::json!({
        "@timestamp": "2024-01-01T00:00:00Z",
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"name": "h", "os": {"type": "linux"}},
        "process": {"pid": 42, "name": "curl", "executable": "/usr/bin/curl",
                    "command_line": "curl http://169.254.169.254/latest/meta-data/",
                    "args": ["curl", "http://169.254.169.254/latest/meta-data/"]},
        "destination": {"ip": "169.254.169.254", "port": 80},
        "user": {"name": "root", "id": "0"}
    }));
    let mut n = 0usize;
    engine.process(&ev, &mut |_| n += 1);
    engine.flush(&mut |_| n += 1);
});
