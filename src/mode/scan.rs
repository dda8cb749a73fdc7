//! `tripline scan` and `tripline convert`: read inputs, parse, (match), write NDJSON.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context, Result};
use tripline::engine::{Engine, EngineOptions, PrefilterMode};
use tripline::filter::parse_duration;
use tripline::pipeline::{ErrorReporter, InputFailure, ReadStats, escape, read_input_tracked};
use tripline::rule;
use tripline::sink::elastic::ElasticSink;
use tripline::sink::pretty::PrettySink;
use tripline::sink::syslog::{SyslogSink, facility_from_name};
use tripline::sink::{AlertSink, JsonlSink, MultiSink, OutputSpec};
use tripline::source::collect_inputs;
use tripline::tune::{Allowlist, Throttle};
use tripline_parsers::Format;

use super::{Exit, open_output};
use crate::cli::{ConvertArgs, InputArgs, ScanArgs};

/// Bad-record messages printed per input before the rest are only counted.
const ERRORS_PER_INPUT: u64 = 20;

fn forced_format(args: &InputArgs) -> Option<Format> {
    // clap already restricted the value to known names.
    args.format.as_deref().and_then(Format::from_name)
}

/// A one-line progress display on stderr, redrawn at most every 100 ms, only
/// when stderr is a terminal (and not `--quiet`): per file, its number, name
/// and size, then bytes read so far (of the size, with a percentage), the read
/// rate and the events parsed from it.
struct Progress {
    on: bool,
    drawn: bool,
    last: std::time::Instant,
    /// When the current file was started, and how far its reader was then
    /// (with --jobs a worker may have read ahead): the rate is from there.
    began: std::time::Instant,
    began_at: u64,
    events: u64,
    size: Option<u64>,
    /// Bytes read from the current input, published by the reader.
    position: std::sync::Arc<std::sync::atomic::AtomicU64>,
    label: String,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        use std::io::IsTerminal;
        let now = std::time::Instant::now();
        Progress {
            on: !quiet && std::io::stderr().is_terminal(),
            drawn: false,
            last: now,
            began: now,
            began_at: 0,
            events: 0,
            size: None,
            position: Default::default(),
            label: String::new(),
        }
    }

    /// A new input; `position` is where its reader publishes the bytes read.
    fn start(
        &mut self,
        i: usize,
        n: usize,
        name: &str,
        size: Option<u64>,
        position: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) {
        self.events = 0;
        self.size = size;
        self.began = std::time::Instant::now();
        self.began_at = position.load(std::sync::atomic::Ordering::Relaxed);
        self.position = position;
        if !self.on {
            return;
        }
        let size = size
            .map(|b| format!(" ({})", human_bytes(b)))
            .unwrap_or_default();
        self.label = format!("[{}/{n}] {}{size}", i + 1, escape(name));
        self.draw();
    }

    fn tick(&mut self) {
        self.events += 1;
        if self.on && self.events.is_multiple_of(1024) && self.last.elapsed().as_millis() >= 100 {
            self.draw();
        }
    }

    /// Redraws if the last drawing is 100 ms old (for `--jobs`, where events
    /// are counted by the workers and only alerts reach this thread).
    fn refresh(&mut self) {
        if self.on && self.last.elapsed().as_millis() >= 100 {
            self.draw();
        }
    }

    /// Shows the file's final count, `events` if the reader counted them
    /// (then the next `start` or `clear` replaces the line).
    fn end_file(&mut self, events: Option<u64>) {
        if let Some(n) = events {
            self.events = n;
        }
        if self.on {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.last = std::time::Instant::now();
        self.drawn = true;
        eprint!("\r\x1b[2K{}  {}", self.label, self.status());
    }

    /// `12.0 MB of 40.0 MB (30%), 85.1 MB/s, 52113 events` (no total for stdin).
    fn status(&self) -> String {
        let read = self.position.load(std::sync::atomic::Ordering::Relaxed);
        let secs = self.began.elapsed().as_secs_f64();
        let of = match self.size {
            Some(total) if total > 0 => format!(
                " of {} ({:.0}%)",
                human_bytes(total),
                100.0 * read.min(total) as f64 / total as f64
            ),
            _ => String::new(),
        };
        let rate = if secs > 0.0 {
            human_bytes((read.saturating_sub(self.began_at) as f64 / secs) as u64)
        } else {
            human_bytes(0)
        };
        format!(
            "{} read{of}, {rate}/s, {} events",
            human_bytes(read),
            self.events
        )
    }

    /// Erases the line (before an alert is written to the same terminal, and at the end).
    fn clear(&mut self) {
        if self.drawn {
            self.drawn = false;
            eprint!("\r\x1b[2K");
        }
    }
}

/// `512 B`, `3.4 kB`, `12.0 MB`, `1.2 GB` (decimal units).
fn human_bytes(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.1} GB", b as f64 / 1e9),
    }
}

/// What [`read_all`] does with the inputs.
enum Work<'a> {
    /// Calls this on every event that passes --since/--until/--host, one input after the other.
    Events(&'a mut dyn FnMut(tripline::Event) -> Result<()>),
    /// Runs `engine` over the events, the inputs on `jobs` threads when there
    /// are several (see [`super::jobs`]); alerts to `on_alert` in input order,
    /// with their JSON document when `alert_json` and a worker thread wrote it.
    Scan {
        jobs: usize,
        engine: &'a mut Engine,
        alert_json: bool,
        on_alert: &'a mut super::jobs::OnAlert<'a>,
    },
}

/// Runs one engine step (`process_shared` for an event, `flush` at the end)
/// and hands its alerts to `push` in order. The engine's callback cannot fail
/// and a sink can: alerts are collected first; the first error stops.
fn push_alerts(
    step: impl FnOnce(&mut dyn FnMut(tripline::alert::Alert)),
    push: &mut dyn FnMut(tripline::alert::Alert) -> Result<()>,
) -> Result<()> {
    let mut pending = Vec::new();
    step(&mut |a| pending.push(a));
    pending.into_iter().try_for_each(push)
}

/// Reads every input (see [`Work`]); returns the stats and whether an input failed.
fn read_all(
    args: &InputArgs,
    progress: &std::cell::RefCell<Progress>,
    work: Work<'_>,
) -> Result<(ReadStats, bool)> {
    let filter = args.filter()?;
    let mut filtered = 0u64;
    let (inputs, errors) = collect_inputs(&args.paths);
    let mut failed = !errors.is_empty();
    let mut stats = ReadStats::default();
    for e in &errors {
        eprintln!("tripline: {}", escape(&e.to_string()));
        stats.input_errors += 1;
    }
    let format = forced_format(args);
    let mut unrecognized = 0u64;
    // Where each input's reader publishes how far it has read (for the progress line).
    let positions: Vec<std::sync::Arc<std::sync::atomic::AtomicU64>> =
        inputs.iter().map(|_| Default::default()).collect();
    let start_input = |i: usize| {
        let input = &inputs[i];
        let size = match input {
            tripline::source::Input::File { path, .. } => {
                std::fs::metadata(path).ok().map(|m| m.len())
            }
            tripline::source::Input::Stdin => None,
        };
        progress.borrow_mut().start(
            i,
            inputs.len(),
            &input.display_name(),
            size,
            std::sync::Arc::clone(&positions[i]),
        );
    };
    // The end of one input, whichever way it was read.
    let mut end_input =
        |input: &tripline::source::Input, res: Result<(), InputFailure>, stats: &mut ReadStats| {
            if let Err(InputFailure::Unrecognized) = res
                && !input.is_explicit()
            {
                unrecognized += 1;
                return;
            }
            if let Err(e) = res {
                failed = true;
                stats.input_errors += 1;
                eprintln!("tripline: {}: {}", escape(&input.display_name()), e);
            }
        };
    let mut sequential = |on_event: &mut dyn FnMut(tripline::Event) -> Result<()>,
                          stats: &mut ReadStats,
                          filtered: &mut u64|
     -> Result<()> {
        let mut reporter = ErrorReporter::new(ERRORS_PER_INPUT, args.quiet);
        let mut sink_error: Option<anyhow::Error> = None;
        for (i, input) in inputs.iter().enumerate() {
            start_input(i);
            let res = read_input_tracked(
                input,
                format,
                args.max_line,
                stats,
                &mut reporter,
                &positions[i],
                &mut |ev| {
                    progress.borrow_mut().tick();
                    if !filter.keep(&ev) {
                        *filtered += 1;
                        return;
                    }
                    if sink_error.is_none()
                        && let Err(e) = on_event(ev)
                    {
                        sink_error = Some(e);
                    }
                },
            );
            progress.borrow_mut().end_file(None);
            if let Some(e) = sink_error.take() {
                progress.borrow_mut().clear();
                return Err(e);
            }
            end_input(input, res, stats);
        }
        Ok(())
    };
    match work {
        Work::Events(on_event) => sequential(on_event, &mut stats, &mut filtered)?,
        Work::Scan {
            jobs,
            engine,
            alert_json,
            on_alert,
        } if jobs > 1 && inputs.len() > 1 => {
            let plan = super::jobs::ReadPlan {
                inputs: &inputs,
                format,
                max_line: args.max_line,
                filter: &filter,
                errors_per_input: ERRORS_PER_INPUT,
                quiet: args.quiet,
                positions: &positions,
                alert_json,
            };
            let res = super::jobs::scan(
                &plan,
                jobs,
                engine,
                &mut |i| start_input(i),
                &mut |a, json| {
                    progress.borrow_mut().refresh();
                    on_alert(a, json)
                },
                &mut |i, outcome| {
                    progress.borrow_mut().end_file(Some(outcome.stats.events));
                    stats.add(&outcome.stats);
                    filtered += outcome.filtered;
                    end_input(&inputs[i], outcome.result, &mut stats);
                },
            );
            if res.is_err() {
                progress.borrow_mut().clear();
            }
            res?;
        }
        Work::Scan {
            engine, on_alert, ..
        } => sequential(
            &mut |ev| {
                // Shared: alerts and stateful rules keep a reference, not a copy.
                let ev = std::sync::Arc::new(ev);
                push_alerts(|out| engine.process_shared(&ev, out), &mut |a| {
                    on_alert(&a, None)
                })
            },
            &mut stats,
            &mut filtered,
        )?,
    }
    progress.borrow_mut().clear();
    if !filter.is_empty() && !args.quiet {
        eprintln!("tripline: {filtered} events outside --since/--until/--host were skipped");
    }
    if unrecognized > 0 && !args.quiet {
        eprintln!(
            "tripline: note: skipped {unrecognized} file(s) found in directories whose format (or JSON document shape) was not recognized"
        );
    }
    Ok((stats, failed))
}

fn summary_line(stats: &ReadStats) -> String {
    format!(
        "{} inputs ({} unreadable), {} bytes, {} records, {} events, {} bad records",
        stats.inputs,
        stats.input_errors,
        stats.bytes,
        stats.records,
        stats.events,
        stats.bad_records
    )
}

/// [`open_output`] (a file, or stdout for `None`/`-`), with an error naming the output.
fn open_output_named(path: Option<&std::path::Path>) -> Result<Box<dyn Write>> {
    open_output(path).with_context(|| {
        format!(
            "cannot open output {}",
            path.unwrap_or("-".as_ref()).display()
        )
    })
}

/// Opens every `--output` (stdout when none is given); a bad spec or an
/// unreachable receiver is an error before any input is read.
pub fn open_sinks(specs: &[String], facility: &str, color: &str) -> Result<MultiSink> {
    use std::io::IsTerminal;
    let facility = facility_from_name(facility)
        .with_context(|| format!("unknown syslog facility {facility:?}"))?;
    let tty = std::io::stdout().is_terminal();
    let specs: Vec<&str> = if specs.is_empty() {
        vec![if tty { "pretty" } else { "-" }]
    } else {
        specs.iter().map(String::as_str).collect()
    };
    let color_for = |to_stdout: bool| match color {
        "always" => true,
        "never" => false,
        _ => {
            to_stdout
                && tty
                && std::env::var_os("NO_COLOR").is_none()
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    };
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    for spec in specs {
        let parsed = OutputSpec::parse(spec).map_err(anyhow::Error::msg)?;
        sinks.push(match parsed {
            OutputSpec::Stdout => Box::new(JsonlSink::new(open_output_named(None)?)),
            OutputSpec::File(p) => Box::new(JsonlSink::new(open_output_named(Some(&p))?)),
            OutputSpec::Pretty(path) => {
                let color = color_for(path.is_none());
                Box::new(PrettySink::new(open_output_named(path.as_deref())?, color))
            }
            OutputSpec::Elastic(t) => {
                let shown = tripline::sink::elastic::redact(spec);
                let es = ElasticSink::open(t)
                    .with_context(|| format!("cannot set up output {shown}"))?;
                if es.sends_credentials_in_clear() {
                    eprintln!(
                        "tripline: warning: output {shown}: credentials are sent in clear text over http:// to a remote host; use es+https://"
                    );
                }
                Box::new(es)
            }
            OutputSpec::Syslog(t) => Box::new(
                SyslogSink::new(t.clone(), facility)
                    .with_context(|| format!("cannot reach syslog output {spec}"))?,
            ),
        });
    }
    Ok(MultiSink::new(sinks))
}

/// One summary line on the prefilter: how many exact evaluations it let
/// through, of how many possible, and how many of those matched.
fn prefilter_line(s: &tripline::engine::EngineStats) -> String {
    let pct = |a: u64, b: u64| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    format!(
        "prefilter: {} of {} rule evaluations ({:.2}%) were candidates, {} confirmed ({:.1}% of candidates)",
        s.evaluations,
        s.possible,
        pct(s.evaluations, s.possible),
        s.confirmed,
        pct(s.confirmed, s.evaluations)
    )
}

/// One summary line on what the parsers' memory caps cut short (None when
/// nothing was): a flood of open events or distinct pids shows here.
fn caps_line(stats: &ReadStats) -> Option<String> {
    if stats.events_completed_early == 0 && stats.table_evictions == 0 {
        return None;
    }
    Some(format!(
        "parser caps: {} events completed early (too many events or bytes being assembled), \
         {} process-table entries evicted",
        stats.events_completed_early, stats.table_evictions
    ))
}

/// One summary line on the sequence and count rules' state (None when the
/// rule set has none): what the caps evicted, what expired, what came late.
fn state_line(engine: &Engine) -> Option<String> {
    let n = engine
        .rules()
        .rules()
        .iter()
        .filter(|r| !matches!(r.kind, rule::RuleKind::Single(_)))
        .count();
    if n == 0 {
        return None;
    }
    let s = engine.stats().state;
    Some(format!(
        "{n} sequence/count rules: {} keys and {} partial matches evicted by the state caps, \
         {} partials expired, {} cancelled by until, {} late events, {} reorder-buffer overflows",
        s.evicted_keys,
        s.evicted_partials,
        s.expired_partials,
        s.cancelled_partials,
        s.late_events,
        s.reorder_overflow
    ))
}

/// `tripline scan`.
pub fn scan(mut args: ScanArgs) -> Result<Exit> {
    let (cfg, cfg_path) = crate::cli::config::load(args.config.as_deref())?;
    if let Some(p) = &cfg_path
        && !args.input.quiet
    {
        eprintln!("tripline: using config file {}", p.display());
    }
    args.merge_config(cfg);
    let with_embedded = args.rules.is_empty() || args.default_rules;
    let report = rule::load_with(&args.rules, with_embedded, &args.mapping.load_options()?);
    let mut file_errors = 0;
    for d in report.diagnostics.iter().filter(|d| d.file_error) {
        file_errors += 1;
        eprintln!("tripline: error: {}", escape(&d.to_string()));
    }
    if file_errors > 0 {
        eprintln!("tripline: {file_errors} rule file(s) could not be loaded; not scanning");
        return Ok(Exit::Error);
    }
    // Diagnostics that are not file errors are either skipped rules or warnings
    // about rules that still loaded; count skipped rules from the totals.
    let skipped = report.total.saturating_sub(report.rules.len());
    if !report.diagnostics.is_empty() && !args.input.quiet {
        for d in report.diagnostics.iter().take(5) {
            eprintln!("tripline: warning: {}", escape(&d.to_string()));
        }
        if report.diagnostics.len() > 5 {
            eprintln!(
                "tripline: warning: {} more rule diagnostics (`tripline rules check` lists them all)",
                report.diagnostics.len() - 5
            );
        }
        if skipped > 0 {
            eprintln!(
                "tripline: warning: {skipped} of {} rules skipped as unsupported",
                report.total
            );
        }
    }
    if report.rules.is_empty() {
        eprintln!("tripline: error: no rule compiled; nothing to scan for");
        return Ok(Exit::Error);
    }
    let rule_count = report.rules.len();
    let options = EngineOptions {
        prefilter: if args.no_prefilter {
            PrefilterMode::Off
        } else {
            PrefilterMode::On
        },
        ..EngineOptions::default()
    };
    let mut engine = Engine::with_options(report.rules, options);
    let mut allowlist = match &args.allowlist {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read allowlist {}", p.display()))?;
            let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
            let list = Allowlist::parse(&text, &today)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            for (rule, reason, exp) in &list.expired {
                eprintln!(
                    "tripline: warning: {}: allow entry for rule {} ({}) expired on {exp}; ignored",
                    p.display(),
                    escape(rule),
                    escape(reason)
                );
            }
            Some(list)
        }
        None => None,
    };
    let mut throttle = match &args.throttle {
        Some(d) => Some(Throttle::new(
            parse_duration(d).map_err(anyhow::Error::msg)?,
            &args.throttle_key,
        )),
        None => None,
    };
    let mut sink = open_sinks(
        &args.outputs,
        args.syslog_facility.as_deref().unwrap_or("auth"),
        args.color.as_deref().unwrap_or("auto"),
    )?;
    sink.begin()?;
    let mut alerts = 0u64;
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_severity: BTreeMap<rule::Severity, u64> = BTreeMap::new();
    let progress = std::cell::RefCell::new(Progress::new(args.input.quiet));
    // `json`: the alert's JSON document, when a --jobs worker wrote it.
    let mut push =
        |a: &tripline::alert::Alert, json: Option<&[u8]>, sink: &mut MultiSink| -> Result<()> {
            // The human view and the progress line may share a terminal.
            progress.borrow_mut().clear();
            if allowlist.as_mut().is_some_and(|l| l.allows(a))
                || throttle.as_mut().is_some_and(|t| t.suppress(a))
            {
                return Ok(());
            }
            alerts += 1;
            *by_rule
                .entry(format!("{} [{}]", a.rule.name, a.rule.severity.name()))
                .or_default() += 1;
            *by_severity.entry(a.rule.severity).or_default() += 1;
            match json {
                Some(doc) => sink.alert_with_json(a, doc)?,
                None => sink.alert(a)?,
            };
            Ok(())
        };
    let alert_json = sink.uses_json();
    let (stats, failed) = read_all(
        &args.input,
        &progress,
        Work::Scan {
            jobs: args
                .jobs
                .map_or_else(super::jobs::default_jobs, usize::from),
            engine: &mut engine,
            alert_json,
            on_alert: &mut |a, json| push(a, json, &mut sink),
        },
    )?;
    push_alerts(|out| engine.flush(out), &mut |a| push(&a, None, &mut sink))?;
    sink.finish()?;
    if !args.input.quiet {
        eprintln!(
            "tripline: scanned {}; {rule_count} rules; {alerts} alerts",
            summary_line(&stats)
        );
        eprintln!("tripline: {}", prefilter_line(&engine.stats()));
        if let Some(l) = caps_line(&stats) {
            eprintln!("tripline: {l}");
        }
        if let Some(l) = state_line(&engine) {
            eprintln!("tripline: {l}");
        }
        if !by_severity.is_empty() {
            let sev: Vec<String> = by_severity
                .iter()
                .rev()
                .map(|(s, n)| format!("{n} {}", s.name()))
                .collect();
            eprintln!("tripline: alerts by severity: {}", sev.join(", "));
        }
        for (rule, n) in &by_rule {
            eprintln!("tripline:   {n:>6}  {}", escape(rule));
        }
        if let Some(l) = &allowlist {
            for e in l.entries.iter().filter(|e| e.hits > 0) {
                eprintln!(
                    "tripline: allowlist: {} alerts of rule {} suppressed ({})",
                    e.hits,
                    escape(&e.rule),
                    escape(&e.reason)
                );
            }
        }
        if let Some(t) = &throttle
            && (t.suppressed > 0 || t.forgotten > 0)
        {
            eprintln!(
                "tripline: throttle: {} repeated alerts suppressed ({} keys forgotten at the cap)",
                t.suppressed, t.forgotten
            );
        }
    }
    Ok(if failed {
        Exit::Error
    } else if alerts > 0 {
        Exit::Alerts
    } else {
        Exit::Clean
    })
}

/// `tripline convert`.
pub fn convert(args: ConvertArgs) -> Result<Exit> {
    let mut out = open_output_named(args.output.as_deref())?;
    let progress = std::cell::RefCell::new(Progress::new(args.input.quiet));
    let mut line = Vec::with_capacity(16 << 10);
    let (stats, failed) = read_all(
        &args.input,
        &progress,
        Work::Events(&mut |ev| {
            line.clear();
            ev.write_json(&mut line);
            line.push(b'\n');
            out.write_all(&line)?;
            if line.capacity() > 1 << 20 {
                line = Vec::with_capacity(16 << 10);
            }
            Ok(())
        }),
    )?;
    out.flush()?;
    if !args.input.quiet {
        eprintln!("tripline: converted {}", summary_line(&stats));
    }
    Ok(if failed { Exit::Error } else { Exit::Clean })
}
