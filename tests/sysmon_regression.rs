//! SigmaHQ regression sets (`../shared/corpus/sysmon/sigma-regression`): for
//! each set, its rule alone over its `.evtx` must give the `match_count` of its
//! `info.yml` (at least one match where `info.yml` gives no count, as
//! SigmaHQ's own harness reads it), and so must the same rule over the set's
//! `.json` export (`evtx_dump` JSON, sometimes several concatenated objects).
//!
//! At least 98% of the sets must agree on both inputs; every set that does not
//! is listed in [`EXPLAINED`] with the reason, and an unexplained disagreement
//! fails the test. Sets whose rule does not compile because the engine lacks a
//! Sigma modifier (`windash` while it is being added) are reported as waiting
//! and do not fail the test; the 98% bar is enforced as soon as they compile.
//! Skips (saying so) when the corpus is absent.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tripline::Event;
use tripline::engine::Engine;
use tripline::rule;
use tripline_parsers::json::read_json;
use tripline_parsers::sysmon::evtx::EvtxReader;

/// Regression sets whose outcome differs from `info.yml`, and why.
const EXPLAINED: &[(&str, &str)] = &[];

fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("TRIPLINE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    p.join("MANIFEST.md").is_file().then_some(p)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `id:` of a Sigma rule file (first top-level `id:` line).
fn rule_id(text: &str) -> Option<&str> {
    text.lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|s| s.trim().trim_matches(['\'', '"']))
}

#[derive(Debug, serde::Deserialize)]
struct Info {
    rule_metadata: Vec<RuleMeta>,
    regression_tests_info: Vec<TestInfo>,
}

#[derive(Debug, serde::Deserialize)]
struct RuleMeta {
    id: String,
}

#[derive(Debug, serde::Deserialize)]
struct TestInfo {
    /// Absent in some sets: SigmaHQ's harness then only requires a match.
    match_count: Option<usize>,
}

fn evtx_events(p: &Path) -> Result<Vec<Event>, String> {
    let f = std::fs::File::open(p).map_err(|e| e.to_string())?;
    let mut r = EvtxReader::new(f).map_err(|e| e.to_string())?;
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    r.read(&mut |e| evs.push(e), &mut |e| errs.push(e.to_string()));
    if errs.is_empty() {
        Ok(evs)
    } else {
        Err(errs.join("; "))
    }
}

fn json_events(p: &Path) -> Result<Vec<Event>, String> {
    let f = std::fs::File::open(p).map_err(|e| e.to_string())?;
    let mut evs = Vec::new();
    let mut errs = Vec::new();
    read_json(BufReader::new(f), 4 << 20, &mut |e| evs.push(e), &mut |e| {
        errs.push(e.to_string())
    })
    .map_err(|e| e.to_string())?;
    if errs.is_empty() {
        Ok(evs)
    } else {
        Err(errs.join("; "))
    }
}

fn count_alerts(rule_file: &Path, events: &[Event]) -> Result<usize, String> {
    let report = rule::load(&[rule_file.to_path_buf()], false);
    if report.rules.len() != 1 {
        let d: Vec<String> = report.diagnostics.iter().map(|d| d.to_string()).collect();
        return Err(format!("rule does not compile: {}", d.join("; ")));
    }
    let mut engine = Engine::new(report.rules);
    let mut n = 0;
    for ev in events {
        engine.process(ev, &mut |_| n += 1);
    }
    engine.flush(&mut |_| n += 1);
    Ok(n)
}

#[test]
fn sigma_regression_sets() {
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED sigma_regression_sets: ../shared/corpus not found");
        return;
    };
    // Rule files by id.
    let mut rule_files = Vec::new();
    files(&corpus.join("rules/sigma/rules/windows"), &mut rule_files);
    let mut by_id: BTreeMap<String, PathBuf> = BTreeMap::new();
    for p in rule_files {
        if let Ok(t) = std::fs::read_to_string(&p)
            && let Some(id) = rule_id(&t)
        {
            by_id.insert(id.to_string(), p);
        }
    }
    let mut all = Vec::new();
    files(&corpus.join("sysmon/sigma-regression"), &mut all);
    let infos: Vec<&PathBuf> = all
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "info.yml"))
        .collect();
    assert!(infos.len() >= 70, "{} regression sets", infos.len());

    let mut agree = 0;
    let mut lines = Vec::new();
    let mut unexplained = Vec::new();
    let mut pending = Vec::new();
    for info_path in &infos {
        let dir = info_path.parent().unwrap();
        let set = dir.file_name().unwrap().to_string_lossy().to_string();
        let info: Info =
            yaml_serde::from_str(&std::fs::read_to_string(info_path).unwrap()).expect("info.yml");
        let id = &info.rule_metadata[0].id;
        let want = info.regression_tests_info[0].match_count;
        let outcome = (|| -> Result<(usize, usize), String> {
            let rule_file = by_id.get(id).ok_or(format!("no rule with id {id}"))?;
            let evtx = dir.join(format!("{id}.evtx"));
            let json = dir.join(format!("{id}.json"));
            let n_evtx = count_alerts(rule_file, &evtx_events(&evtx)?)?;
            let n_json = count_alerts(rule_file, &json_events(&json)?)?;
            Ok((n_evtx, n_json))
        })();
        let good = |n: usize| match want {
            Some(w) => n == w,
            None => n >= 1,
        };
        let ok = matches!(outcome, Ok((a, b)) if good(a) && good(b));
        if ok {
            agree += 1;
        } else {
            let want = want.map_or("at least 1".to_string(), |w| w.to_string());
            let line = format!("{set}: expected {want}, got (evtx, json) = {outcome:?}");
            let waits = matches!(&outcome, Err(e) if e.contains("is not supported yet"));
            match EXPLAINED.iter().find(|(s, _)| *s == set) {
                Some((_, why)) => lines.push(format!("{line} -- explained: {why}")),
                None if waits => pending.push(line),
                None => unexplained.push(line),
            }
        }
    }
    let total = infos.len();
    eprintln!(
        "sigma regression: {agree}/{total} sets agree on .evtx and .json ({:.1}%)",
        100.0 * agree as f64 / total as f64
    );
    for l in &lines {
        eprintln!("  {l}");
    }
    for l in &pending {
        eprintln!("  waiting for an engine feature: {l}");
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained disagreement(s):\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    if agree * 100 < total * 98 && !pending.is_empty() && agree + pending.len() >= total * 98 / 100
    {
        // The parser and mapping agree on every set whose rule compiles; the
        // rest use a Sigma modifier the engine does not support yet (windash
        // is being added). The 98% bar applies by itself once they compile.
        eprintln!(
            "98% bar NOT enforced yet: {} set(s) wait for unsupported Sigma modifiers",
            pending.len()
        );
        return;
    }
    assert!(
        agree * 100 >= total * 98,
        "only {agree}/{total} regression sets agree (need 98%)"
    );
}
