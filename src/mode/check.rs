//! `tripline rules check`: load and compile rules only, and say what failed and why.

use anyhow::Result;
use serde_json::json;
use tripline::pipeline::escape;
use tripline::rule;

use super::Exit;
use crate::cli::CheckArgs;

/// `tripline rules check`.
pub fn check(args: CheckArgs) -> Result<Exit> {
    let report = rule::load(&args.paths, false);
    let compiled = report.rules.len();
    let file_error = report.diagnostics.iter().any(|d| d.file_error);
    if args.json {
        let failed: Vec<_> = report
            .diagnostics
            .iter()
            .map(|d| {
                let mut reason = String::new();
                if let Some(l) = d.line {
                    reason.push_str(&format!("line {l}: "));
                }
                if let Some(r) = &d.rule {
                    reason.push_str(&format!("rule {r}: "));
                }
                reason.push_str(&d.message);
                json!({"path": d.path, "reason": reason})
            })
            .collect();
        println!(
            "{}",
            json!({"total": report.total, "compiled": compiled, "failed": failed})
        );
    } else {
        for d in &report.diagnostics {
            println!("{}", escape(&d.to_string()));
        }
        let pct = if report.total > 0 {
            100.0 * compiled as f64 / report.total as f64
        } else {
            0.0
        };
        println!(
            "{} rules, {} compiled ({pct:.1}%), {} skipped",
            report.total,
            compiled,
            report.total.saturating_sub(compiled)
        );
    }
    Ok(if file_error {
        Exit::Error
    } else if compiled < report.total {
        Exit::Alerts
    } else {
        Exit::Clean
    })
}
