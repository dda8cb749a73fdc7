//! The compare-or-bless loop of the golden ECS snapshot tests (`golden`,
//! `sysmon_golden`, `macos_golden`): each input's events, one
//! `Event::to_json()` per line in emission order, against its snapshot file.
//!
//! With `TRIPLINE_BLESS=1` the snapshots are rewritten instead; review the
//! diff before committing.

use std::path::Path;

use tripline_parsers::Event;

/// Collects the differences of one test run; [`Golden::finish`] fails the
/// test if there are any.
pub struct Golden {
    bless: bool,
    failures: Vec<String>,
}

impl Golden {
    /// Reads `TRIPLINE_BLESS`.
    pub fn new() -> Golden {
        Golden {
            bless: std::env::var_os("TRIPLINE_BLESS").is_some_and(|v| v == "1"),
            failures: Vec::new(),
        }
    }

    /// Compares `events` with the snapshot at `golden` (or rewrites it when
    /// blessing); `name` names the input in the failure message.
    pub fn check(&mut self, name: &str, events: &[Event], golden: &Path) {
        let got = render(events);
        if self.bless {
            std::fs::write(golden, &got)
                .unwrap_or_else(|e| panic!("write {}: {e}", golden.display()));
            return;
        }
        let want = std::fs::read_to_string(golden).unwrap_or_default();
        if got != want {
            let (n, g, w) = got
                .lines()
                .zip(want.lines().chain(std::iter::repeat("<missing>")))
                .enumerate()
                .find(|(_, (g, w))| g != w)
                .map(|(i, (g, w))| (i + 1, g.to_string(), w.to_string()))
                .unwrap_or((0, "<line count differs>".into(), String::new()));
            self.failures.push(format!(
                "{name}: event {n} differs\n  got:  {g:.300}\n  want: {w:.300}"
            ));
        }
    }

    /// Records a failure that is not a snapshot difference (errors while
    /// reading an input, no events).
    pub fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }

    /// Fails the test if any input differed.
    pub fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} golden file(s) differ (TRIPLINE_BLESS=1 to rewrite):\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// One `Event::to_json()` per line.
pub fn render(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&serde_json::to_string(&e.to_json()).expect("json"));
        s.push('\n');
    }
    s
}
