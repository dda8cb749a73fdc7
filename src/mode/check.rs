//! `tripline rules check`: load and compile rules only, and say what failed and why.
//!
//! Text output: every diagnostic (`file:line: rule ID: reason`), then a table
//! of rules seen and compiled per Sigma logsource (`product/category/service`),
//! then the total. `--json` prints one object:
//! `{"total":N,"compiled":M,"failed":[{"path","reason"}],"by_logsource":{"linux/process_creation/-":{"total":N,"compiled":M}},"filters":{"loaded":N,"applied":M}}`.
//! `--explain RULE_ID` prints the compiled rule and its prefilter fragments.

use anyhow::Result;
use serde_json::json;
use tripline::engine::prefilter::Prefilter;
use tripline::pipeline::escape;
use tripline::rule;

use super::Exit;
use crate::cli::CheckArgs;

fn pct(a: usize, b: usize) -> f64 {
    if b > 0 {
        100.0 * a as f64 / b as f64
    } else {
        0.0
    }
}

/// `tripline rules check`.
pub fn check(args: CheckArgs) -> Result<Exit> {
    let report = rule::load_with(&args.paths, false, &args.mapping.load_options()?);
    let compiled = report.rules.len();
    let file_error = report.diagnostics.iter().any(|d| d.file_error);
    // Rules outside the Sigma detection rules (EQL, correlations) have no logsource row.
    let (ls_total, ls_compiled) = report
        .by_logsource
        .values()
        .fold((0, 0), |(t, c), v| (t + v.total, c + v.compiled));
    let other = (
        report.total.saturating_sub(ls_total),
        compiled.saturating_sub(ls_compiled),
    );
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
        let mut by_ls = serde_json::Map::new();
        for (k, v) in &report.by_logsource {
            by_ls.insert(k.clone(), json!({"total": v.total, "compiled": v.compiled}));
        }
        if other.0 > 0 || other.1 > 0 {
            by_ls.insert(
                "other".into(),
                json!({"total": other.0, "compiled": other.1}),
            );
        }
        println!(
            "{}",
            json!({
                "total": report.total,
                "compiled": compiled,
                "failed": failed,
                "by_logsource": by_ls,
                "filters": {"loaded": report.filters.0, "applied": report.filters.1},
            })
        );
    } else if args.explain.is_empty() {
        for d in &report.diagnostics {
            println!("{}", escape(&d.to_string()));
        }
        if !report.by_logsource.is_empty() {
            println!(
                "{:<44} {:>7} {:>9} {:>7}",
                "logsource", "rules", "compiled", "%"
            );
            let mut rows: Vec<(String, usize, usize)> = report
                .by_logsource
                .iter()
                .map(|(k, v)| (k.clone(), v.total, v.compiled))
                .collect();
            if other.0 > 0 || other.1 > 0 {
                rows.push(("other (EQL, correlations)".into(), other.0, other.1));
            }
            for (k, t, c) in rows {
                println!("{:<44} {t:>7} {c:>9} {:>6.1}%", escape(&k), pct(c, t));
            }
        }
        if report.filters.0 > 0 {
            println!(
                "{} filter rule(s), applied {} time(s)",
                report.filters.0, report.filters.1
            );
        }
        println!(
            "{} rules, {} compiled ({:.1}%), {} skipped",
            report.total,
            compiled,
            pct(compiled, report.total),
            report.total.saturating_sub(compiled)
        );
    }
    if !args.explain.is_empty() {
        let prefilter = Prefilter::new(&report.rules);
        let mut missing = false;
        for want in &args.explain {
            let mut found = false;
            for (i, r) in report.rules.rules().iter().enumerate() {
                let m = &r.meta;
                if m.id.eq_ignore_ascii_case(want) || m.name.eq_ignore_ascii_case(want) {
                    found = true;
                    let text = r.explain() + &prefilter.explain(i);
                    for line in text.lines() {
                        println!("{}", escape(line));
                    }
                }
            }
            if !found {
                missing = true;
                eprintln!(
                    "tripline: no compiled rule has id or title {:?}",
                    escape(want)
                );
            }
        }
        if missing {
            return Ok(Exit::Error);
        }
    }
    Ok(if file_error {
        Exit::Error
    } else if compiled < report.total {
        Exit::Alerts
    } else {
        Exit::Clean
    })
}
