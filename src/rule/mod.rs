//! Rules: metadata, the rule IR, and the front-ends that load rule files into a [`RuleSet`].
//!
//! [`load`] walks files and directories, parses every Sigma file with
//! `rsigma-parser`, lowers each rule into the IR ([`ir`]) through the logsource
//! mapping table ([`mapping`]), and reports every problem as a located
//! [`Diagnostic`]. A rule is either compiled or named in a diagnostic: never
//! dropped silently.
//!
//! # Example
//!
//! ```
//! use tripline::rule::load_sigma_str;
//!
//! let report = load_sigma_str(
//!     "title: curl to IMDS\n\
//!      id: 6f1a2b3c-0000-4000-8000-000000000001\n\
//!      logsource: {product: linux, category: process_creation}\n\
//!      detection:\n  sel:\n    CommandLine|contains: 169.254.169.254\n  condition: sel\n\
//!      level: high\n",
//!     "example.yml",
//!     "example",
//! );
//! assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
//! assert_eq!(report.rules.len(), 1);
//! println!("{}", report.rules.rules()[0].explain());
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub mod correlation;
pub mod elastic;
pub mod eql;
pub mod ir;
pub mod mapping;
pub mod meta;
pub mod mitre;
pub mod sigma;
pub mod temporal;

pub use ir::{Rule, RuleKind};
pub use meta::{RuleMeta, Severity, Threat, ThreatTechnique};

use mapping::Mappings;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}
pub use embedded::EMBEDDED_FILES;

/// What went wrong with one rule or rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule file.
    pub path: String,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The rule's id or title, when known.
    pub rule: Option<String>,
    /// What is wrong, lowercase and specific.
    pub message: String,
    /// True when the whole file could not be read or parsed (exit status 2);
    /// false when one rule uses something unsupported and was skipped.
    pub file_error: bool,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(r) = &self.rule {
            write!(f, ": rule {r}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A compiled set of rules.
#[derive(Debug, Default, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Single-event rules that only feed correlations (Sigma `generate: false`).
    silent: HashSet<usize>,
}

impl RuleSet {
    /// A set of already compiled rules.
    pub fn from_rules(rules: Vec<Rule>) -> Self {
        RuleSet {
            rules,
            silent: HashSet::new(),
        }
    }

    /// True if rule `index` matches only as part of a correlation and does not
    /// alert on its own (Sigma correlation with `generate: false`).
    pub fn is_silent(&self, index: usize) -> bool {
        self.silent.contains(&index)
    }

    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True if no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The compiled rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Metadata of every compiled rule, in load order.
    pub fn metas(&self) -> impl Iterator<Item = &Arc<RuleMeta>> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// The compiled form of the rules whose id or name equals `which`
    /// (case-insensitive), for `--explain`; empty if none does.
    pub fn explain(&self, which: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| {
                r.meta.id.eq_ignore_ascii_case(which) || r.meta.name.eq_ignore_ascii_case(which)
            })
            .map(Rule::explain)
            .collect()
    }

    /// Adds a rule.
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }
}

impl Rule {
    /// A readable rendering of the compiled rule (`--explain`).
    pub fn explain(&self) -> String {
        let m = &self.meta;
        let mut s = format!(
            "rule {} ({})\n  name: {}\n  path: {}\n  ruleset: {}\n  severity: {} (risk {})\n",
            m.id,
            "sigma",
            m.name,
            m.path,
            m.ruleset,
            m.severity.name(),
            m.risk_score
        );
        for t in &m.threat {
            let techs: Vec<String> = t
                .techniques
                .iter()
                .map(|te| {
                    let subs: Vec<&str> =
                        te.subtechniques.iter().map(|(i, _)| i.as_str()).collect();
                    if subs.is_empty() {
                        te.id.clone()
                    } else {
                        format!("{} [{}]", te.id, subs.join(", "))
                    }
                })
                .collect();
            s.push_str(&format!(
                "  threat: {} {}: {}\n",
                t.tactic_id,
                t.tactic_name,
                techs.join(", ")
            ));
        }
        match &self.kind {
            RuleKind::Single(d) => {
                s.push_str(&format!(
                    "  filter: {}\n  condition: {}\n",
                    d.filter, d.condition
                ));
            }
            RuleKind::Sequence(q) => {
                s.push_str(&format!(
                    "  sequence: {} stages, {}, maxspan {}\n",
                    q.stages.len(),
                    if q.ordered { "in order" } else { "any order" },
                    q.maxspan_ns
                        .map(|n| format!("{} ms", n / 1_000_000))
                        .unwrap_or_else(|| "unbounded".into())
                ));
                let stages = q.stages.iter().map(|st| ("stage", st)).enumerate();
                for (i, (what, st)) in stages.chain(q.until.iter().map(|u| (0, ("until", u)))) {
                    let cond = match &st.condition {
                        temporal::StageCondition::Rule(r) => format!("rule #{r} of the set"),
                        temporal::StageCondition::Detection(d) => {
                            format!("filter {} condition {}", d.filter, d.condition)
                        }
                    };
                    let keys: Vec<String> = st.keys.iter().map(ToString::to_string).collect();
                    s.push_str(&format!("  {what} {i}: {cond}; by [{}]\n", keys.join(", ")));
                }
            }
            RuleKind::Count(c) => {
                s.push_str(&format!(
                    "  count: {} of rules {:?} within {} ms, fires when {}\n",
                    if c.value_field.is_some() {
                        "distinct values"
                    } else {
                        "events"
                    },
                    c.rules,
                    c.timespan_ns / 1_000_000,
                    c.condition
                ));
                if let Some(k) = c.keys.first() {
                    let keys: Vec<String> = k.iter().map(ToString::to_string).collect();
                    s.push_str(&format!("  group by [{}]\n", keys.join(", ")));
                }
            }
        }
        s
    }
}

/// The result of loading rules: what compiled, how many were seen, and every diagnostic.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The compiled rules.
    pub rules: RuleSet,
    /// Rules seen (compiled or not).
    pub total: usize,
    /// Per-file and per-rule problems.
    pub diagnostics: Vec<Diagnostic>,
    /// Sigma detection rules seen and compiled, per logsource
    /// (`product/category/service`, `-` for an absent key).
    pub by_logsource: std::collections::BTreeMap<String, LogsourceCount>,
    /// Sigma filter rules loaded, and how many (filter, rule) pairs they were applied to.
    pub filters: (usize, usize),
}

/// Rules of one logsource: seen and compiled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LogsourceCount {
    /// Rules seen.
    pub total: usize,
    /// Rules compiled.
    pub compiled: usize,
}

/// A compiled Sigma rule's identity, for applying filter rules.
#[derive(Debug, Clone)]
struct SigmaSource {
    logsource: rsigma_parser::LogSource,
    id: Option<String>,
    title: String,
    name: Option<String>,
}

/// A Sigma filter rule waiting for the whole load set.
#[derive(Debug)]
struct PendingFilter {
    filter: rsigma_parser::FilterRule,
    path: String,
    line: Option<usize>,
}

/// Loads rules from files and directories (recursive), plus the embedded pack when `with_embedded`.
///
/// - Directories are walked recursively in name order; `.yml`/`.yaml` files are
///   Sigma, `.toml` files are Elastic detection rules ([`elastic`]: `type = "eql"`
///   compiles, other rule types are reported as unsupported in a per-rule
///   diagnostic), other files are skipped silently. While walking, rule test
///   files (`*.cases.yml`) and `rules/mappings/` are skipped too: they are not rules.
/// - A file named explicitly is always parsed as Sigma (except `.toml`).
/// - The embedded pack is every `rules/**` file of [`EMBEDDED_FILES`] outside
///   `rules/mappings/`, shown as `embedded:rules/<pack>/<file>`.
/// - `rule.ruleset` is the name of the directory argument (`imds` for
///   `rules/imds/`), the parent directory of a file argument, and the pack
///   directory for embedded rules.
///
/// Never panics on bad input; every problem is a [`Diagnostic`].
pub fn load(paths: &[PathBuf], with_embedded: bool) -> LoadReport {
    load_with(paths, with_embedded, &LoadOptions::default())
}

/// Extra configuration for [`load_with`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Additional mapping files (`--mapping FILE`): `(shown path, YAML text)`,
    /// read after the embedded `rules/mappings/*.yml`. Their logsource entries
    /// are tried first, so a file can override a shipped logsource.
    pub mappings: Vec<(String, String)>,
    /// `expand` placeholder values (`--placeholder NAME=VALUE`), added to the
    /// values of the mapping files.
    pub placeholders: Vec<(String, String)>,
}

/// [`load`] with extra mappings and placeholder values. A mapping file that
/// does not parse is a file-level [`Diagnostic`].
pub fn load_with(paths: &[PathBuf], with_embedded: bool, opts: &LoadOptions) -> LoadReport {
    let mut l = Loader::new();
    let mut extra = Vec::new();
    for (path, text) in &opts.mappings {
        match Mappings::parse(text) {
            Ok(f) => {
                extra.extend(f.logsources);
                l.mappings.placeholders.extend(f.placeholders);
            }
            Err(e) => {
                let line = line_in_message(&e);
                l.diag_file(path, line, &format!("invalid logsource mapping: {e}"));
            }
        }
    }
    extra.append(&mut l.mappings.logsources);
    l.mappings.logsources = extra;
    for (name, value) in &opts.placeholders {
        l.mappings
            .placeholders
            .entry(name.clone())
            .or_default()
            .push(value.clone());
    }
    for p in paths {
        if p.is_dir() {
            let ruleset = dir_name(p);
            l.walk(p, &ruleset, 0);
        } else if p.exists() {
            let ruleset = p.parent().map(dir_name).unwrap_or_default();
            l.file(p, &ruleset, true);
        } else {
            l.diag_file(&p.display().to_string(), None, "no such file or directory");
        }
    }
    if with_embedded {
        for (path, text) in EMBEDDED_FILES {
            let Some(rest) = path.strip_prefix("rules/") else {
                continue;
            };
            if rest.starts_with("mappings/") {
                continue;
            }
            let ruleset = match rest.split_once('/') {
                Some((pack, _)) => pack,
                None => "",
            };
            let shown = format!("embedded:{path}");
            if path.ends_with(".toml") {
                elastic::load_str(&mut l, text, &shown, ruleset);
            } else {
                l.sigma(text, &shown, ruleset);
            }
        }
    }
    l.finish()
}

/// Loads the Sigma rules in one YAML text (one or more documents), as if read
/// from `path` in pack `ruleset`. Used by tests, fuzzing and `--explain` of a snippet.
pub fn load_sigma_str(text: &str, path: &str, ruleset: &str) -> LoadReport {
    let mut l = Loader::new();
    l.sigma(text, path, ruleset);
    l.finish()
}

/// Longest run of `not` (with only blanks and `(` between) that a Sigma file
/// may hold; deeper than any real condition, far below what overflows a stack.
const MAX_NOT_CHAIN: usize = 32;

/// The 1-based line where a run of more than [`MAX_NOT_CHAIN`] `not` tokens
/// starts, if any (see: issue 11).
fn not_chain_line(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'*';
    let (mut run, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b'(' {
            i += 1;
            continue;
        }
        let at_word = i == 0 || !ident(b[i - 1]);
        if at_word && b[i..].starts_with(b"not") && !b.get(i + 3).is_some_and(|&n| ident(n)) {
            if run == 0 {
                start = i;
            }
            run += 1;
            if run > MAX_NOT_CHAIN {
                return Some(1 + b[..start].iter().filter(|&&c| c == b'\n').count());
            }
            i += 3;
        } else {
            run = 0;
            i += 1;
        }
    }
    None
}

/// Deepest `[`/`{` nesting a Sigma file may hold (the YAML parser stops at
/// 128 anyway, but only after a scan quadratic in the depth).
const MAX_FLOW_DEPTH: usize = 256;

/// The 1-based line where `[`/`{` nesting first exceeds [`MAX_FLOW_DEPTH`]
/// (counted naively, quotes included; reset at each `---`), if it does (see: issue 11).
fn deep_flow_line(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        if line.starts_with("---") {
            depth = 0;
        }
        for c in line.bytes() {
            match c {
                b'[' | b'{' => depth += 1,
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_FLOW_DEPTH {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Depth limit for directory walks (symlink loops).
const MAX_DEPTH: usize = 32;

struct Loader {
    mappings: Mappings,
    rules: Vec<Rule>,
    ids: HashMap<String, String>,
    total: usize,
    diagnostics: Vec<Diagnostic>,
    correlations: correlation::Pending,
    /// Rule index -> its Sigma identity (filters apply by id/title/logsource).
    sources: HashMap<usize, SigmaSource>,
    filters: Vec<PendingFilter>,
    by_logsource: std::collections::BTreeMap<String, LogsourceCount>,
}

impl Loader {
    fn new() -> Self {
        let (mappings, errors) = Mappings::embedded();
        let mut l = Loader {
            mappings,
            rules: Vec::new(),
            ids: HashMap::new(),
            total: 0,
            diagnostics: Vec::new(),
            correlations: correlation::Pending::default(),
            sources: HashMap::new(),
            filters: Vec::new(),
            by_logsource: std::collections::BTreeMap::new(),
        };
        for (path, e) in errors {
            let line = line_in_message(&e);
            l.diag_file(
                &format!("embedded:{path}"),
                line,
                &format!("invalid logsource mapping: {e}"),
            );
        }
        l
    }

    fn finish(mut self) -> LoadReport {
        // Filters name rules from anywhere in the load set: apply them once all are loaded
        // (and before correlations, which see the filtered rules).
        let applied = self.apply_filters();
        // Correlations name rules from anywhere in the load set: compile them last.
        let silent = std::mem::take(&mut self.correlations).resolve(
            &mut self.rules,
            &mut self.ids,
            &self.mappings,
            &mut self.diagnostics,
        );
        LoadReport {
            rules: RuleSet {
                rules: self.rules,
                silent,
            },
            total: self.total,
            diagnostics: self.diagnostics,
            by_logsource: self.by_logsource,
            filters: (self.filters.len(), applied),
        }
    }

    /// ANDs every Sigma filter rule into the rules it applies to (pySigma
    /// semantics: `(rule condition) and (filter condition)`; write `not
    /// selection` in the filter to exclude). A filter that cannot be compiled
    /// for a rule disables that rule (it never matches) with a diagnostic rather
    /// than letting it run unfiltered. Returns the number of (filter, rule) pairs applied.
    fn apply_filters(&mut self) -> usize {
        let mut applied = 0;
        let filters = std::mem::take(&mut self.filters);
        for pf in &filters {
            let f = &pf.filter;
            let label = f.id.clone().unwrap_or_else(|| f.title.clone());
            let mut hits = 0;
            for (i, rule) in self.rules.iter_mut().enumerate() {
                let Some(src) = self.sources.get(&i) else {
                    continue;
                };
                if !sigma::filter_applies(
                    f,
                    &src.logsource,
                    src.id.as_deref(),
                    &src.title,
                    src.name.as_deref(),
                ) {
                    continue;
                }
                let RuleKind::Single(d) = &mut rule.kind else {
                    continue;
                };
                hits += 1;
                let ls = &src.logsource;
                let compiled = self
                    .mappings
                    .find(
                        ls.product.as_deref(),
                        ls.category.as_deref(),
                        ls.service.as_deref(),
                    )
                    .ok_or_else(|| "the rule's logsource has no mapping".to_string())
                    .and_then(|m| {
                        sigma::compile_filter(f, m, &self.mappings).map_err(|u| u.message)
                    });
                match compiled {
                    Ok(e) => {
                        let cond = std::mem::replace(&mut d.condition, ir::Expr::Const(true));
                        d.condition = ir::Expr::and(vec![cond, e]);
                        applied += 1;
                    }
                    Err(msg) => {
                        d.condition = ir::Expr::Const(false);
                        self.diagnostics.push(Diagnostic {
                            path: pf.path.clone(),
                            line: pf.line,
                            rule: Some(label.clone()),
                            message: format!(
                                "filter cannot be applied to rule {}: {msg}; that rule is disabled",
                                rule.meta.id
                            ),
                            file_error: false,
                        });
                    }
                }
            }
            if hits == 0 {
                self.diagnostics.push(Diagnostic {
                    path: pf.path.clone(),
                    line: pf.line,
                    rule: Some(label),
                    message: "filter applies to no loaded rule".into(),
                    file_error: false,
                });
            }
        }
        self.filters = filters;
        applied
    }

    fn diag_file(&mut self, path: &str, line: Option<usize>, msg: &str) {
        self.diagnostics.push(Diagnostic {
            path: path.to_string(),
            line,
            rule: None,
            message: msg.to_string(),
            file_error: true,
        });
    }

    fn walk(&mut self, dir: &Path, ruleset: &str, depth: usize) {
        let shown = dir.display().to_string();
        if depth > MAX_DEPTH {
            self.diag_file(&shown, None, "directory nesting too deep (symlink loop?)");
            return;
        }
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.diag_file(&shown, None, &format!("cannot read directory: {e}"));
                return;
            }
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                let is_mappings = name == "mappings"
                    && p.parent()
                        .and_then(|d| d.file_name())
                        .and_then(|n| n.to_str())
                        == Some("rules");
                if !is_mappings && !name.starts_with('.') {
                    self.walk(&p, ruleset, depth + 1);
                }
            } else if name.ends_with(".cases.yml") || name.ends_with(".cases.yaml") {
                // Rule test cases (tests/rule_cases.rs), not rules.
            } else {
                self.file(&p, ruleset, false);
            }
        }
    }

    fn file(&mut self, p: &Path, ruleset: &str, explicit: bool) {
        let shown = p.display().to_string();
        let ext = p
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("toml") => return elastic::load_file(self, p, &shown, ruleset),
            Some("yml" | "yaml") => {}
            _ if explicit => {}
            _ => return,
        }
        match std::fs::read(p) {
            Err(e) => self.diag_file(&shown, None, &format!("cannot read rule file: {e}")),
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => self.sigma(&text, &shown, ruleset),
                Err(e) => self.diag_file(
                    &shown,
                    None,
                    &format!(
                        "rule file is not UTF-8 (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                ),
            },
        }
    }

    fn sigma(&mut self, text: &str, path: &str, ruleset: &str) {
        // See: issue 11. rsigma's Pratt parser recurses once per prefix `not`
        // without counting depth: a few thousand overflow the stack.
        // The YAML scanner is quadratic in flow nesting (`[[[[...`), long before
        // its recursion limit errors: refuse deep flow nesting up front.
        if let Some(line) = not_chain_line(text) {
            self.total += 1;
            self.diag_file(
                path,
                Some(line),
                &format!("condition chains more than {MAX_NOT_CHAIN} `not`s; refusing the file"),
            );
            return;
        }
        if let Some(line) = deep_flow_line(text) {
            self.total += 1;
            self.diag_file(
                path,
                Some(line),
                &format!("YAML nested deeper than {MAX_FLOW_DEPTH} `[`/`{{`; refusing the file"),
            );
            return;
        }
        let coll = match rsigma_parser::parse_sigma_yaml(text) {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                self.total += 1;
                self.diag_file(
                    path,
                    line_in_message(&msg),
                    &format!("invalid sigma file: {msg}"),
                );
                return;
            }
        };
        for e in &coll.errors {
            if is_metadata_warning(e) {
                // rsigma still built the rule; say what was ignored.
                self.diagnostics.push(Diagnostic {
                    path: path.to_string(),
                    line: line_of(text, 0, warning_key(e)),
                    rule: None,
                    message: format!("ignored: {} (rule loaded without it)", lower_first(e)),
                    file_error: false,
                });
            } else {
                self.total += 1;
                let line = line_in_message(e).or_else(|| locate_parse_error(text, e));
                self.diag_file(
                    path,
                    line,
                    &format!("invalid sigma rule: {}", lower_first(e)),
                );
            }
        }
        if coll.is_empty() && coll.errors.is_empty() {
            self.diag_file(path, None, "no sigma rule in file");
        }
        for r in &coll.rules {
            self.total += 1;
            let ls_key = mapping::logsource_label(
                r.logsource.product.as_deref(),
                r.logsource.category.as_deref(),
                r.logsource.service.as_deref(),
            );
            self.by_logsource.entry(ls_key.clone()).or_default().total += 1;
            let start = rule_line(text, &r.title);
            let label = r.id.clone().unwrap_or_else(|| r.title.clone());
            match sigma::compile_rule(r, path, ruleset, &self.mappings) {
                Ok(rule) => {
                    if let Some(first) = self.ids.get(&rule.meta.id) {
                        self.diagnostics.push(Diagnostic {
                            path: path.to_string(),
                            line: start,
                            rule: Some(label),
                            message: format!(
                                "duplicate rule id (already loaded from {first}); skipped"
                            ),
                            file_error: false,
                        });
                        continue;
                    }
                    self.ids.insert(rule.meta.id.clone(), path.to_string());
                    self.correlations
                        .note_rule(r, self.rules.len(), &rule.meta.id);
                    self.by_logsource.entry(ls_key).or_default().compiled += 1;
                    self.sources.insert(
                        self.rules.len(),
                        SigmaSource {
                            logsource: r.logsource.clone(),
                            id: r.id.clone(),
                            title: r.title.clone(),
                            name: r.name.clone(),
                        },
                    );
                    self.rules.push(rule);
                }
                Err(u) => {
                    let line = u
                        .locate
                        .as_deref()
                        .and_then(|n| line_of(text, start.unwrap_or(1) - 1, n))
                        .or(start);
                    self.diagnostics.push(Diagnostic {
                        path: path.to_string(),
                        line,
                        rule: Some(label),
                        message: format!("{}; rule skipped", u.message),
                        file_error: false,
                    });
                }
            }
        }
        for c in &coll.correlations {
            self.total += 1;
            self.correlations
                .add(c, path, ruleset, rule_line(text, &c.title));
        }
        // Filter rules are not detections: they are not counted in `total`.
        for f in &coll.filters {
            self.filters.push(PendingFilter {
                filter: f.clone(),
                path: path.to_string(),
                line: rule_line(text, &f.title),
            });
        }
    }
}

fn dir_name(p: &Path) -> String {
    let name = |p: &Path| p.file_name().and_then(|n| n.to_str()).map(String::from);
    name(p)
        .or_else(|| p.canonicalize().ok().and_then(|c| name(&c)))
        .unwrap_or_default()
}

/// rsigma reports these through `errors` but still returns the rule.
fn is_metadata_warning(e: &str) -> bool {
    e.starts_with("invalid status:")
        || e.starts_with("invalid level:")
        || e.starts_with("invalid sigma-version")
        || e.starts_with("related[")
        || e.starts_with("'related' must")
}

fn warning_key(e: &str) -> &'static str {
    if e.starts_with("invalid status") {
        "status:"
    } else if e.starts_with("invalid level") {
        "level:"
    } else if e.starts_with("invalid sigma-version") {
        "sigma-version:"
    } else {
        "related:"
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `... at line 12 column 3` -> 12.
fn line_in_message(msg: &str) -> Option<usize> {
    let i = msg.find("line ")?;
    let digits: String = msg[i + 5..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Best-effort line for an rsigma document error.
fn locate_parse_error(text: &str, e: &str) -> Option<usize> {
    if e.starts_with("Condition") {
        return line_of(text, 0, "condition:");
    }
    if let Some(rest) = e.strip_prefix("Unknown modifier '") {
        let m = rest.split('\'').next().unwrap_or("");
        return line_of(text, 0, &format!("|{m}"));
    }
    if e.contains("`not` is not a value modifier") {
        return line_of(text, 0, "|not");
    }
    None
}

/// 1-based line of the first line at or after `from` (0-based) containing `needle`.
fn line_of(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
}

/// 1-based line where the rule with `title` starts: its document's `---`
/// separator (+1) or line 1, found through the `title:` line.
fn rule_line(text: &str, title: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let t = lines.iter().position(|l| {
        let l = l.trim_start();
        l.starts_with("title:") && l.contains(title)
    })?;
    let start = lines[..t]
        .iter()
        .rposition(|l| l.trim_end() == "---")
        .map(|i| i + 1)
        .unwrap_or(0);
    // Skip leading comments/blank lines of the document.
    let first = (start..=t)
        .find(|&i| {
            let l = lines[i].trim();
            !l.is_empty() && !l.starts_with('#')
        })
        .unwrap_or(t);
    Some(first + 1)
}

#[cfg(test)]
mod spec_tests;
#[cfg(test)]
mod tests;
