//! The terminal view: one readable block per alert.
//!
//! Every string that came from a log (command lines, paths, host and user
//! names) is attacker-controlled: it goes through [`escape`] so control
//! characters, ANSI/OSC escape sequences, bidi overrides and zero-width
//! characters are shown as `\u{..}` and cannot move the cursor, recolor the
//! screen, set the clipboard (OSC 52) or reorder what the analyst reads.
//! Colours come only from tripline's own, fixed escape codes.

use std::io::Write;

use super::{AlertSink, SinkError};
use crate::alert::Alert;
use crate::pipeline::escape;
use crate::rule::Severity;

/// Longest command line shown before it is cut (the JSON output keeps it whole).
const MAX_SHOWN: usize = 2000;

/// Human-readable alerts for a terminal.
pub struct PrettySink<W: Write> {
    out: W,
    color: bool,
}

impl<W: Write> PrettySink<W> {
    /// A sink writing to `out`, with ANSI colours when `color`.
    pub fn new(out: W, color: bool) -> Self {
        PrettySink { out, color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;97;41",
        Severity::High => "1;31",
        Severity::Medium => "1;33",
        Severity::Low => "1;36",
        Severity::Informational => "2",
    }
}

/// Escapes and cuts a log string for display.
fn shown(s: &str) -> String {
    let e = escape(s);
    if e.chars().count() > MAX_SHOWN {
        let cut: String = e.chars().take(MAX_SHOWN).collect();
        format!("{cut}… ({} more characters)", e.chars().count() - MAX_SHOWN)
    } else {
        e
    }
}

impl<W: Write> AlertSink for PrettySink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<bool, SinkError> {
        let ev = alert.trigger();
        let r = &alert.rule;
        let ts = ev.timestamp_rfc3339();
        let level = format!("{:<8}", r.severity.name().to_uppercase());
        let mut block = format!(
            "{}  {}  {}\n",
            self.paint("2", &ts),
            self.paint(severity_color(r.severity), &level),
            self.paint("1", &escape(&r.name))
        );
        let indent = " ".repeat(ts.len() + 2);
        let mut facts = Vec::new();
        if let Some(h) = ev.host.name.as_deref() {
            facts.push(format!("host {}", shown(h)));
        }
        if let Some(u) = ev.user.name.as_deref().or(ev.user.id.as_deref()) {
            facts.push(format!("user {}", shown(u)));
        }
        if let Some(pid) = ev.process.pid {
            facts.push(format!("pid {pid}"));
        }
        if let Some(exe) = ev.process.executable.as_deref() {
            facts.push(shown(exe));
        }
        if let Some(ip) = ev.destination.ip.as_deref() {
            match ev.destination.port {
                Some(p) => facts.push(format!("-> {}:{p}", shown(ip))),
                None => facts.push(format!("-> {}", shown(ip))),
            }
        }
        if !facts.is_empty() {
            block.push_str(&format!("{indent}{}\n", facts.join("  ")));
        }
        if let Some(cl) = ev.process.command_line.as_deref() {
            block.push_str(&format!("{indent}{}\n", self.paint("36", &shown(cl))));
        }
        if let Some(parent) = ev.process.parent.executable.as_deref() {
            block.push_str(&format!("{indent}parent {}\n", shown(parent)));
        }
        let mut tail = format!("rule {}", escape(&r.id));
        let techniques: Vec<&str> = r
            .threat
            .iter()
            .flat_map(|t| &t.techniques)
            .flat_map(|te| {
                if te.subtechniques.is_empty() {
                    vec![te.id.as_str()]
                } else {
                    te.subtechniques.iter().map(|(id, _)| id.as_str()).collect()
                }
            })
            .collect();
        if !techniques.is_empty() {
            tail.push_str(&format!("  {}", escape(&techniques.join(","))));
        }
        if alert.events.len() > 1 {
            tail.push_str(&format!("  sequence of {} events", alert.events.len()));
        }
        block.push_str(&format!("{indent}{}\n", self.paint("2", &tail)));
        self.out.write_all(block.as_bytes())?;
        Ok(true)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::RuleMeta;
    use std::sync::Arc;
    use tripline_parsers::Event;

    fn hostile() -> Alert {
        let mut ev = Event::default();
        ev.process.command_line = Some(
            "curl http://169.254.169.254/ \x1b[2J\x1b]52;c;ZXZpbA==\x07 \u{202E}txt.exe\u{200B} a\0b".into(),
        );
        ev.process.executable = Some("/tmp/\x1b[31mred".into());
        ev.host.name = Some("h\x1b[1Aost".into());
        Alert {
            rule: Arc::new(RuleMeta {
                id: "r".into(),
                name: "N\x1bame".into(),
                severity: Severity::High,
                ..RuleMeta::default()
            }),
            events: vec![Arc::new(ev)],
        }
    }

    #[test]
    fn hostile_strings_are_escaped_and_colours_are_ours() {
        for color in [false, true] {
            let mut buf = Vec::new();
            let mut s = PrettySink::new(&mut buf, color);
            s.alert(&hostile()).unwrap();
            let text = String::from_utf8(buf).unwrap();
            // Only our SGR colour codes may contain ESC, and only when colour is on.
            let stripped = text
                .replace("\x1b[0m", "")
                .replace("\x1b[2m", "")
                .replace("\x1b[1m", "")
                .replace("\x1b[36m", "")
                .replace("\x1b[1;31m", "");
            assert!(!stripped.contains('\x1b'), "{text:?}");
            assert!(!text.contains('\0') && !text.contains('\x07'));
            assert!(!text.contains('\u{202E}') && !text.contains('\u{200B}'));
            assert!(text.contains("\\u{1b}]52;c;ZXZpbA==\\u{7}"), "{text}");
            assert!(text.contains("\\u{202e}txt.exe\\u{200b}"), "{text}");
            assert!(text.contains("a\\u{0}b"), "{text}");
            assert_eq!(color, text.contains("\x1b[1;31m"));
        }
    }
}
