//! Elastic's detection rules (the `shared/corpus/rules/elastic` tree beside
//! the repository, or `TRIPLINE_ELASTIC_CORPUS`, when present) load through `rule::load`: at least 95% of the
//! EQL rules compile, and every rule that does not is skipped with a reason.
//! The reasons are printed grouped by construct.

use std::collections::BTreeMap;
use std::path::PathBuf;

use tripline::rule::{RuleKind, load};

#[test]
fn elastic_corpus_coverage() {
    let dir = std::env::var_os("TRIPLINE_ELASTIC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/rules/elastic")
        });
    if !dir.is_dir() {
        println!("SKIPPED: {} not found", dir.display());
        return;
    }
    let r = load(&[dir], false);
    assert!(
        r.diagnostics.iter().all(|d| !d.file_error),
        "file errors: {:?}",
        r.diagnostics
            .iter()
            .filter(|d| d.file_error)
            .collect::<Vec<_>>()
    );
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for d in &r.diagnostics {
        // "eql 3:2: unsupported: missing-event stages ![...]; rule skipped" -> the construct.
        let m = d.message.splitn(3, ": ").last().unwrap_or(&d.message);
        *groups
            .entry(m.trim_end_matches("; rule skipped").to_string())
            .or_default() += 1;
    }
    let sequences = r
        .rules
        .rules()
        .iter()
        .filter(|x| matches!(x.kind, RuleKind::Sequence(_)))
        .count();
    println!(
        "{} rules, {} compiled ({} sequences), {} skipped",
        r.total,
        r.rules.len(),
        sequences,
        r.total - r.rules.len()
    );
    for (why, n) in &groups {
        println!("  {n:4}  {why}");
    }
    assert!(r.total > 0);
    assert!(
        r.rules.len() * 100 >= r.total * 95,
        "only {} of {} rules compiled",
        r.rules.len(),
        r.total
    );
}
