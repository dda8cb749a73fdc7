//! `tripline tail`: follow growing logs, alert as events arrive, survive
//! rotation and restarts.
//!
//! One thread does the work: it waits for a file-system notification (or the
//! poll interval), reads what is new in every followed file
//! ([`Follower`]), parses, runs the rules and writes alerts, then maybe
//! checkpoints. Because reading, matching and writing happen in that one
//! loop, a slow output slows reading: nothing queues up unbounded and nothing
//! is dropped. The notification channel holds one pending wake-up (more would
//! say nothing new). With `--audisp` (or `-`), a reader thread passes stdin
//! lines through a bounded channel, so a slow tripline slows auditd's
//! dispatcher queue rather than losing records.
//!
//! Exactly-once across restarts is [`checkpoint`](tripline::source::checkpoint)'s
//! design: resume offset + high-water mark + unreleased origins per file, the
//! output file's length, and the engine's state, in one atomic file.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tripline::engine::Engine;
use tripline::pipeline::escape;
use tripline::platform::{self, Signals};
use tripline::rule::{self, RuleSet};
use tripline::sink::{AlertSink, MultiSink, OutputSpec, SinkError};
use tripline::source::Line;
use tripline::source::checkpoint::{
    Checkpoint, CheckpointStore, Emitted, EngineState, FileCheckpoint, OutputMark, PathProcs,
    alert_key, checkpoint_name,
};
use tripline::source::follow::{FollowOptions, Follower, Handler, StartAt};
use tripline_parsers::auditd::AuditdParser;
use tripline_parsers::auditd::proctable::{ProcTable, SNAPSHOT_PROCESSES};
use tripline_parsers::{Event, Format, Location, Parser};

use super::Exit;
use crate::cli::TailArgs;

/// Bad-record messages printed per stream before the rest are only counted.
const ERRORS_PER_STREAM: u64 = 20;

/// After a file-system notification, wait this long before reading.
const BATCH_DELAY: Duration = Duration::from_millis(5);

/// While input flows, read every this often with notifications paused: at
/// 1,000 writes/s a notification per write woke two threads a thousand
/// times a second; a tick batches ~10 ms of writes into one pass.
const ACTIVE_TICK: Duration = Duration::from_millis(10);

/// Lines buffered between the stdin reader thread and the main loop.
const STDIN_QUEUE: usize = 4096;

/// A parser that reports each event's origin offset (see `checkpoint`).
enum LiveParser {
    /// Not yet known: detected from the first line.
    Undetected(Option<Format>),
    Auditd(Box<AuditdParser>),
    /// Other line formats: each event comes from the line that completed it.
    Other(Box<dyn Parser + Send>),
}

impl LiveParser {
    /// Picks the parser from the first line (or the forced format).
    fn detect(&mut self, line: &[u8]) {
        if let LiveParser::Undetected(forced) = self {
            let f = forced
                .or_else(|| Format::detect(line))
                .unwrap_or(Format::Auditd);
            *self = match f {
                Format::Auditd => LiveParser::Auditd(Box::default()),
                other => LiveParser::Other(other.parser()),
            };
        }
    }

    fn feed(
        &mut self,
        line: &[u8],
        loc: Location,
        out: &mut dyn FnMut(Event, u64),
    ) -> Result<(), tripline_parsers::ParseError> {
        match self {
            LiveParser::Undetected(_) => Ok(()),
            LiveParser::Auditd(p) => p.feed_at(line, loc, out),
            LiveParser::Other(p) => p.feed(line, loc, &mut |ev| out(ev, loc.offset)),
        }
    }

    /// Events the parser's assembly caps completed early so far.
    fn completed_early(&self) -> u64 {
        match self {
            LiveParser::Undetected(_) => 0,
            LiveParser::Auditd(p) => p.cap_stats().events_completed_early,
            LiveParser::Other(p) => p.cap_stats().events_completed_early,
        }
    }

    fn flush(&mut self, out: &mut dyn FnMut(Event, u64)) {
        match self {
            LiveParser::Undetected(_) => {}
            LiveParser::Auditd(p) => p.flush_at(out),
            LiveParser::Other(p) => p.flush(&mut |ev| out(ev, u64::MAX)),
        }
    }

    /// Completes auditd events quiet for `quiet_ms` at clock `now_ms`.
    fn expire(&mut self, now_ms: u64, quiet_ms: u64, out: &mut dyn FnMut(Event, u64)) {
        if let LiveParser::Auditd(p) = self {
            p.set_clock(now_ms);
            p.expire_quiet_at(quiet_ms, out);
        }
    }

    fn has_pending(&self) -> bool {
        matches!(self, LiveParser::Auditd(p) if p.has_pending())
    }

    fn pending(&self) -> Vec<u64> {
        match self {
            LiveParser::Auditd(p) => p.pending_offsets(),
            _ => Vec::new(),
        }
    }
}

/// Per-file state: the parser and what a restart must not emit again.
struct Stream {
    name: String,
    parser: LiveParser,
    /// Events originating before this offset were emitted before the restart...
    replay_hwm: u64,
    /// ...except these (they were still pending at the checkpoint).
    replay_keep: HashSet<u64>,
    last_input: Instant,
    dirty: bool,
}

/// Counters for the stats line.
#[derive(Debug, Default)]
struct Counters {
    lines: u64,
    bytes: u64,
    events: u64,
    alerts: u64,
    bad_records: u64,
    replay_suppressed: u64,
    dup_suppressed: u64,
    wakeups: u64,
    checkpoints: u64,
    reloads: u64,
}

/// Where NDJSON alerts go: a file opened for appending (the one read back
/// for exactly once), stdout, or nowhere (only other sinks).
enum Output {
    File { w: BufWriter<File>, path: PathBuf },
    Stdout(BufWriter<io::Stdout>),
    None(io::Sink),
}

impl Output {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::File { w, .. } => w,
            Output::Stdout(w) => w,
            Output::None(w) => w,
        }
    }

    /// Flushes; with `durable`, also fsyncs a file. Returns the mark for the checkpoint.
    fn flush(&mut self, durable: bool) -> io::Result<Option<OutputMark>> {
        match self {
            Output::File { w, path } => {
                w.flush()?;
                if durable {
                    w.get_ref().sync_data()?;
                }
                let md = w.get_ref().metadata()?;
                let id = platform::file_id(&md);
                Ok(Some(OutputMark {
                    path: path.clone(),
                    len: md.len(),
                    dev: id.map(|i| i.0),
                    ino: id.map(|i| i.1),
                }))
            }
            Output::Stdout(w) => {
                w.flush()?;
                Ok(None)
            }
            Output::None(_) => Ok(None),
        }
    }
}

/// Everything the follower's callbacks touch.
struct Ctx {
    engine: Engine,
    out: Output,
    /// The other outputs (`scan`'s sinks: syslog, Elasticsearch, pretty, stdout
    /// beside a file), flushed before each checkpoint.
    sinks: MultiSink,
    emitted: Emitted,
    forced: Option<Format>,
    quiet: bool,
    n: Counters,
    error: Option<anyhow::Error>,
    /// Alerts written since the last checkpoint.
    unsynced_alerts: u64,
    events: Vec<(Event, u64)>,
    printed_errors: u64,
    /// Milliseconds since start: the coalescer's clock for quiet-event expiry.
    clock_ms: u64,
    /// Newest event time seen (ns), for the engine's `expire`.
    newest_ns: i64,
    /// One auditd process table per followed path, shared by its files (the
    /// rotated ones and the current one: lineage survives rotation) and swapped
    /// into a file's parser for each call ([`Ctx::swap_table`]). Checkpointed.
    tables: HashMap<String, ProcTable>,
    /// Events completed early by the assembly caps of streams already finished
    /// (a rotated file's parser goes away with it; the stats line keeps its count).
    completed_early_closed: u64,
    /// The output mark of the checkpoint we resumed from, while alerts read
    /// back after it still wait to be suppressed: checkpoints keep it, so a
    /// second crash reads the same alerts back again.
    mark_floor: Option<OutputMark>,
}

impl Ctx {
    /// Swaps the path's shared process table into the stream's auditd parser,
    /// or (called again after the parser call) back out.
    fn swap_table(&mut self, st: &mut Stream) {
        if let LiveParser::Auditd(p) = &mut st.parser {
            if !self.tables.contains_key(&st.name) {
                self.tables.insert(st.name.clone(), ProcTable::new());
            }
            if let Some(t) = self.tables.get_mut(&st.name) {
                std::mem::swap(p.process_table_mut(), t);
            }
        }
    }

    fn bad_record(&mut self, name: &str, loc: Location, msg: &str) {
        self.n.bad_records += 1;
        if self.quiet || self.printed_errors >= ERRORS_PER_STREAM {
            return;
        }
        self.printed_errors += 1;
        eprintln!(
            "tripline: {}: bad record at byte {}: {}",
            escape(name),
            loc.offset,
            escape(msg)
        );
    }

    /// Runs the rules over the collected events and writes new alerts.
    fn process_events(&mut self, st: &mut Stream) {
        let events = std::mem::take(&mut self.events);
        for (ev, origin) in &events {
            if *origin < st.replay_hwm && !st.replay_keep.remove(origin) {
                self.n.replay_suppressed += 1;
                continue;
            }
            self.n.events += 1;
            self.newest_ns = self.newest_ns.max(ev.timestamp_ns);
            let mut alerts = Vec::new();
            self.engine.process(ev, &mut |a| alerts.push(a));
            for a in alerts {
                self.write_alert(&a);
            }
        }
        self.events = events;
        self.events.clear();
    }

    fn write_alert(&mut self, a: &tripline::alert::Alert) {
        if self.error.is_some() {
            return;
        }
        let v = a.to_json();
        // Already in the output file (written after the last checkpoint,
        // before a crash): not written there again. The other sinks cannot be
        // read back: they get it again (at least once).
        let in_file = !self.emitted.is_empty() && self.emitted.take(&alert_key(&v));
        if in_file {
            self.n.dup_suppressed += 1;
        }
        let mut res = Ok(());
        if !in_file {
            // The JSON Lines wire format of `sink::JsonlSink`, written here so the
            // output can be flushed, fsynced and measured for the checkpoint.
            let w = self.out.writer();
            res = serde_json::to_writer(&mut *w, &v)
                .map_err(io::Error::from)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(SinkError::from);
        }
        if res.is_ok() && !self.sinks.is_empty() {
            res = self.sinks.alert(a).map(|_| ());
        }
        match res {
            Ok(()) if in_file => {}
            Ok(()) => {
                self.n.alerts += 1;
                self.unsynced_alerts += 1;
            }
            Err(e) => self.error = Some(anyhow::Error::new(e).context("writing alerts")),
        }
    }

    /// Flushes the primary output (fsynced with `durable`) and delivers what
    /// the other sinks buffer; returns the output mark.
    fn flush_outputs(&mut self, durable: bool) -> Result<Option<OutputMark>> {
        let mark = self.out.flush(durable).context("flushing alerts")?;
        if !self.sinks.is_empty() {
            self.sinks.flush().context("flushing alert outputs")?;
        }
        Ok(mark)
    }

    fn expire_stream(&mut self, st: &mut Stream, quiet_ms: u64) {
        if !st.parser.has_pending() {
            return;
        }
        let mut evs = std::mem::take(&mut self.events);
        self.swap_table(st);
        st.parser
            .expire(self.clock_ms, quiet_ms, &mut |ev, o| evs.push((ev, o)));
        self.swap_table(st);
        self.events = evs;
        if !self.events.is_empty() {
            self.process_events(st);
        }
    }

    /// No input for a while: stateful rules move on by event time.
    fn expire_engine(&mut self, idle: Duration) {
        if self.newest_ns == 0 {
            return;
        }
        let now = self
            .newest_ns
            .saturating_add(i64::try_from(idle.as_nanos()).unwrap_or(i64::MAX));
        let mut alerts = Vec::new();
        self.engine.expire(now, &mut |a| alerts.push(a));
        for a in &alerts {
            self.write_alert(a);
        }
    }

    fn flush_stream(&mut self, st: &mut Stream) {
        let mut evs = std::mem::take(&mut self.events);
        self.swap_table(st);
        st.parser.flush(&mut |ev, o| evs.push((ev, o)));
        self.swap_table(st);
        self.events = evs;
        self.process_events(st);
    }
}

impl Handler for Ctx {
    type State = Stream;

    fn open(&mut self, path: &Path, resume: Option<&FileCheckpoint>) -> Stream {
        Stream {
            name: path.display().to_string(),
            parser: LiveParser::Undetected(self.forced),
            replay_hwm: resume.map_or(0, |r| r.hwm),
            replay_keep: resume
                .map_or_else(HashSet::new, |r| r.unreleased.iter().copied().collect()),
            last_input: Instant::now(),
            dirty: false,
        }
    }

    fn line(&mut self, st: &mut Stream, line: Line<'_>) {
        self.n.lines += 1;
        st.last_input = Instant::now();
        st.dirty = true;
        match line {
            Line::TooLong(loc, len) => {
                self.n.bytes += len + 1;
                let name = st.name.clone();
                self.bad_record(
                    &name,
                    loc,
                    &format!("line of {len} bytes is too long, skipped"),
                );
            }
            Line::Data(data, loc) => {
                self.n.bytes += data.len() as u64 + 1;
                let data = data.strip_suffix(b"\r").unwrap_or(data);
                if data.iter().all(u8::is_ascii_whitespace) {
                    return;
                }
                if let LiveParser::Auditd(p) = &mut st.parser {
                    p.set_clock(self.clock_ms);
                }
                st.parser.detect(data);
                let mut evs = std::mem::take(&mut self.events);
                self.swap_table(st);
                let res = st.parser.feed(data, loc, &mut |ev, o| evs.push((ev, o)));
                self.swap_table(st);
                self.events = evs;
                if let Err(e) = res {
                    let name = st.name.clone();
                    self.bad_record(&name, loc, &e.message);
                }
                if !self.events.is_empty() {
                    self.process_events(st);
                }
            }
        }
    }

    fn finish(&mut self, st: &mut Stream) {
        self.flush_stream(st);
        self.completed_early_closed += st.parser.completed_early();
    }

    fn pending(&self, st: &Stream) -> Vec<u64> {
        // Pending events that were emitted before the restart (warm-up, or
        // stragglers of released events) are not owed; those the resumed
        // checkpoint still owes are, whether fed again yet or not.
        let mut v: Vec<u64> = st
            .parser
            .pending()
            .into_iter()
            .filter(|o| *o >= st.replay_hwm || st.replay_keep.contains(o))
            .chain(st.replay_keep.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Loads rules like `scan` does; `Err` says why the set cannot be used.
fn load_rules(args: &TailArgs) -> std::result::Result<RuleSet, String> {
    let with_embedded = args.rules.is_empty() || args.default_rules;
    let report = rule::load(&args.rules, with_embedded);
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.file_error)
        .map(|d| d.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "{} rule file(s) could not be loaded: {}",
            errors.len(),
            errors.join("; ")
        ));
    }
    if report.rules.is_empty() {
        return Err("no rule compiled".into());
    }
    let skipped = report.total.saturating_sub(report.rules.len());
    if skipped > 0 && !args.quiet {
        eprintln!(
            "tripline: warning: {skipped} of {} rules skipped as unsupported (`tripline rules check` lists why)",
            report.total
        );
    }
    Ok(report.rules)
}

fn open_output(path: Option<&Path>) -> io::Result<Output> {
    Ok(match path {
        Some(p) => {
            let f = super::output_options().create(true).append(true).open(p)?;
            Output::File {
                w: BufWriter::with_capacity(64 << 10, f),
                path: std::path::absolute(p)?,
            }
        }
        None => Output::Stdout(BufWriter::with_capacity(64 << 10, io::stdout())),
    })
}

/// Splits the `-o` specs: the NDJSON file (at most one: it is read back for
/// exactly once) or stdout as the primary output, the rest as sinks.
fn open_outputs(args: &TailArgs) -> Result<(Output, MultiSink)> {
    let mut file = None;
    let mut stdout = args.outputs.is_empty();
    let mut rest = Vec::new();
    for spec in &args.outputs {
        match OutputSpec::parse(spec).map_err(anyhow::Error::msg)? {
            OutputSpec::File(p) if file.is_none() => file = Some(p),
            OutputSpec::File(p) => bail!(
                "at most one NDJSON file output ({} and {}): it is the one read back after a restart",
                file.as_deref().unwrap_or(Path::new("")).display(),
                p.display()
            ),
            OutputSpec::Stdout if !stdout => stdout = true,
            _ => rest.push(spec.clone()),
        }
    }
    let out = match (&file, stdout) {
        (Some(p), _) => {
            open_output(Some(p)).with_context(|| format!("cannot open output {}", p.display()))?
        }
        (None, true) => open_output(None)?,
        (None, false) => Output::None(io::sink()),
    };
    if file.is_some() && stdout {
        rest.push("-".into());
    }
    let sinks = if rest.is_empty() {
        MultiSink::default()
    } else {
        super::scan::open_sinks(&rest, &args.syslog_facility, "auto")?
    };
    Ok((out, sinks))
}

/// `tripline tail`.
pub fn tail(args: TailArgs) -> Result<Exit> {
    // First: a SIGTERM while rules load must still end the run cleanly.
    let signals = Signals::install().context("installing signal handlers")?;
    let forced = match args.format.as_deref() {
        Some(name) => match Format::from_name(name) {
            Some(f) => Some(f),
            None => bail!("unknown format {name:?}"),
        },
        None => None,
    };
    let rules = match load_rules(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tripline: error: {}; not tailing", escape(&e));
            return Ok(Exit::Error);
        }
    };
    let (out, sinks) = open_outputs(&args)?;
    let mut ctx = Ctx {
        engine: Engine::new(rules),
        out,
        sinks,
        emitted: Emitted::default(),
        forced,
        quiet: args.quiet,
        n: Counters::default(),
        error: None,
        unsynced_alerts: 0,
        events: Vec::new(),
        printed_errors: 0,
        clock_ms: 0,
        newest_ns: 0,
        tables: HashMap::new(),
        completed_early_closed: 0,
        mark_floor: None,
    };
    let stdin_mode = args.audisp || args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin_mode {
        if args.paths.len() > 1 {
            bail!("`-` (stdin) cannot be followed together with files");
        }
        return tail_stdin(&args, ctx, &signals);
    }
    if args.paths.is_empty() {
        bail!("nothing to follow: give one or more files, `-` or --audisp");
    }

    let paths: Vec<PathBuf> = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => platform::default_state_dir()
            .context("no state directory on this platform; pass --state-dir")?,
    };
    let store = CheckpointStore::new(&state_dir, &checkpoint_name(&paths))
        .with_context(|| format!("state directory {}", state_dir.display()))?;
    let ck = store
        .load()
        .with_context(|| format!("reading checkpoint {}", store.path().display()))?
        .unwrap_or_default();
    if let Some(state) = ck.engine.clone()
        && let Err(e) = ctx.engine.restore_state(state)
    {
        eprintln!("tripline: warning: engine state in the checkpoint not restored: {e}");
    }
    if let (Some(mark), Output::File { path, .. }) = (&ck.output, &ctx.out)
        && mark.path == *path
    {
        let same = std::fs::metadata(path).is_ok_and(|md| {
            platform::file_id(&md).is_none_or(|(d, i)| Some(d) == mark.dev && Some(i) == mark.ino)
        });
        if same {
            ctx.emitted = Emitted::read_back(path, mark.len)
                .with_context(|| format!("reading back {}", path.display()))?;
            ctx.mark_floor = Some(mark.clone());
        }
    }
    let start = if args.from_start {
        StartAt::Beginning
    } else {
        StartAt::End
    };
    for saved in ck.procs {
        if paths.contains(&saved.path) {
            let table = ProcTable::restore(saved.table);
            ctx.tables.insert(saved.path.display().to_string(), table);
        }
    }
    let mut followers = Vec::new();
    for p in &paths {
        let entries: Vec<FileCheckpoint> =
            ck.files.iter().filter(|e| e.path == *p).cloned().collect();
        // A restored process table already holds the lineage warm-up would rebuild.
        let has_table = ctx.tables.contains_key(&p.display().to_string());
        let opts = FollowOptions {
            start,
            max_line: args.max_line,
            warm_up: if has_table { 0 } else { args.warm_up },
        };
        let (f, notes) = Follower::new(p.clone(), &entries, opts, &mut ctx);
        for n in notes {
            eprintln!("tripline: warning: {}", escape(&n));
        }
        followers.push(f);
    }

    // A checkpoint before the first alert: from now on, the output read-back
    // covers every alert this run writes, even if it dies before its next checkpoint.
    save(&store, &mut ctx, &followers)?;

    let (tx, rx) = mpsc::sync_channel::<()>(1);
    let mut watcher = if args.poll {
        None
    } else {
        match watch(&paths, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                eprintln!(
                    "tripline: warning: file notifications unavailable ({e}); polling every {} ms",
                    args.poll_interval
                );
                None
            }
        }
    };
    let tick = Duration::from_millis(args.poll_interval.max(10));
    let ck_interval = Duration::from_millis(args.checkpoint_interval);
    let idle = Duration::from_millis(args.idle_flush);
    let stats_every = Duration::from_secs(args.stats_interval);
    let quiet = Duration::from_millis(args.event_timeout);
    let started = Instant::now();
    let mut last_input = Instant::now();
    let mut engine_idle = false;
    let mut last_ck = Instant::now();
    let mut last_stats = Instant::now();
    let mut dirty = false;
    // Notifications are paused while input flows (see ACTIVE_TICK).
    let mut paused = false;

    loop {
        if signals.take_reload() {
            reload(&args, &mut ctx);
        }
        let term = signals.terminate();
        ctx.clock_ms = started.elapsed().as_millis() as u64;
        let mut read = 0;
        for f in &mut followers {
            let path = f.path().display().to_string();
            read += f
                .poll(&mut ctx)
                .with_context(|| format!("reading {}", escape(&path)))?;
        }
        let mut pending = false;
        for f in &mut followers {
            for st in f.states_mut() {
                if st.dirty && st.last_input.elapsed() >= idle {
                    st.dirty = false;
                    ctx.flush_stream(st);
                }
                ctx.expire_stream(st, args.event_timeout);
                pending |= st.parser.has_pending();
            }
        }
        if read > 0 {
            last_input = Instant::now();
            engine_idle = false;
        } else if !engine_idle && last_input.elapsed() >= idle {
            engine_idle = true;
            ctx.expire_engine(last_input.elapsed());
        }
        if let Some(e) = ctx.error.take() {
            return Err(e);
        }
        dirty |= read > 0;
        // Alerts are flushed at once (latency) but made durable and
        // checkpointed at most every --checkpoint-interval: with -o FILE the
        // read-back of the output keeps a restart exact whatever the interval.
        dirty |= ctx.unsynced_alerts > 0;
        if term || (dirty && last_ck.elapsed() >= ck_interval) {
            save(&store, &mut ctx, &followers)?;
            last_ck = Instant::now();
            dirty = false;
        } else if read > 0 || ctx.unsynced_alerts > 0 {
            ctx.flush_outputs(false)?;
        }
        if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
            print_stats(&ctx, &followers, None);
            last_stats = Instant::now();
        }
        if term {
            if !args.quiet {
                print_stats(&ctx, &followers, None);
            }
            return Ok(Exit::Clean);
        }
        if read > 0 {
            if read >= tripline::source::follow::READ_BUDGET as u64 {
                continue; // catching up: read on at once
            }
            if !paused && let Some(w) = &mut watcher {
                w.pause();
                paused = true;
            }
            std::thread::sleep(ACTIVE_TICK);
            continue;
        }
        if paused && let Some(w) = &mut watcher {
            // Input stopped: re-arm notifications, then look once more for
            // what was written before they were armed.
            w.resume();
            paused = false;
            while rx.try_recv().is_ok() {}
            continue;
        }
        let wait = if pending { tick.min(quiet) } else { tick };
        match rx.recv_timeout(wait) {
            Ok(()) => {
                ctx.n.wakeups += 1;
                // Let a burst of writes land, then read them in one pass:
                // fewer wake-ups and reads per event, a few ms of latency.
                std::thread::sleep(BATCH_DELAY);
                while rx.try_recv().is_ok() {}
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(tick),
        }
    }
}

/// Flushes alerts (fsync when any were written), then writes the checkpoint that covers them.
fn save<S>(store: &CheckpointStore, ctx: &mut Ctx, followers: &[Follower<S>]) -> Result<()>
where
    Ctx: Handler<State = S>,
{
    let mut output = ctx.flush_outputs(ctx.unsynced_alerts > 0)?;
    if ctx.emitted.is_empty() {
        ctx.mark_floor = None;
    } else if let Some(floor) = &ctx.mark_floor {
        output = Some(floor.clone());
    }
    let ck = Checkpoint {
        files: followers.iter().flat_map(|f| f.checkpoints(ctx)).collect(),
        output,
        engine: ctx.engine.save_state(),
        procs: followers
            .iter()
            .filter_map(|f| {
                let t = ctx.tables.get(&f.path().display().to_string())?;
                (!t.is_empty()).then(|| PathProcs {
                    path: f.path().to_path_buf(),
                    table: t.snapshot(SNAPSHOT_PROCESSES),
                })
            })
            .collect(),
        ..Checkpoint::default()
    };
    store
        .save(&ck)
        .with_context(|| format!("writing checkpoint {}", store.path().display()))?;
    ctx.unsynced_alerts = 0;
    ctx.n.checkpoints += 1;
    Ok(())
}

fn reload(args: &TailArgs, ctx: &mut Ctx) {
    ctx.n.reloads += 1;
    match load_rules(args) {
        Ok(rules) => {
            let n = rules.len();
            let state = ctx.engine.save_state();
            let mut engine = Engine::new(rules);
            if let Some(s) = state
                && let Err(e) = engine.restore_state(s)
            {
                eprintln!("tripline: warning: engine state not carried over the reload: {e}");
            }
            ctx.engine = engine;
            eprintln!("tripline: reloaded rules on SIGHUP: {n} rules");
        }
        Err(e) => eprintln!(
            "tripline: error: rule reload on SIGHUP failed, keeping the old rules: {}",
            escape(&e)
        ),
    }
}

/// `stdin` is the `--audisp` stream (it has no follower).
fn print_stats(ctx: &Ctx, followers: &[Follower<Stream>], stdin: Option<&Stream>) {
    let lag: u64 = followers.iter().map(Follower::lag).sum();
    let files: usize = followers.iter().map(Follower::open_files).sum();
    let (mut rot, mut trunc, mut lost, mut lost_files) = (0, 0, 0, 0);
    for f in followers {
        rot += f.stats.rotations;
        trunc += f.stats.truncations;
        lost += f.stats.lost_bytes;
        lost_files += f.stats.lost_files;
    }
    // What the memory caps cut short: parser assembly, process tables, and
    // the sequence/count state (keys and partials evicted).
    let completed_early = ctx.completed_early_closed
        + followers
            .iter()
            .flat_map(Follower::states)
            .chain(stdin)
            .map(|st| st.parser.completed_early())
            .sum::<u64>();
    let table_evictions: u64 = ctx.tables.values().map(ProcTable::evicted).sum();
    let state = ctx.engine.stats().state;
    let n = &ctx.n;
    eprintln!(
        "tripline: stats: files={files} lag_bytes={lag} lines={} bytes={} events={} alerts={} \
         bad_records={} dropped_bytes={lost} lost_files={lost_files} rotations={rot} truncations={trunc} \
         replay_suppressed={} dup_suppressed={} wakeups={} checkpoints={} reloads={} \
         completed_early={completed_early} table_evictions={table_evictions} \
         state_evicted_keys={} state_evicted_partials={} state_late_events={}",
        n.lines,
        n.bytes,
        n.events,
        n.alerts,
        n.bad_records,
        n.replay_suppressed,
        n.dup_suppressed,
        n.wakeups,
        n.checkpoints,
        n.reloads,
        state.evicted_keys,
        state.evicted_partials,
        state.late_events
    );
}

/// A file-system watcher on the parent directory of every followed path
/// (creation, rename, deletion and writes of files in it) that wakes the
/// loop through a channel; paused while input flows.
struct DirWatch {
    w: notify::RecommendedWatcher,
    dirs: Vec<PathBuf>,
}

impl DirWatch {
    /// Stops notifications.
    fn pause(&mut self) {
        use notify::Watcher as _;
        for d in &self.dirs {
            let _ = self.w.unwatch(d);
        }
    }

    /// Starts notifications again (a directory that cannot be watched any
    /// more is still polled every --poll-interval).
    fn resume(&mut self) {
        use notify::Watcher as _;
        for d in &self.dirs {
            let _ = self.w.watch(d, notify::RecursiveMode::NonRecursive);
        }
    }
}

/// Watches the parent directory of every path and wakes the loop through `tx`.
fn watch(paths: &[PathBuf], tx: mpsc::SyncSender<()>) -> notify::Result<DirWatch> {
    use notify::Watcher as _;
    let mut w = notify::recommended_watcher(move |_res: notify::Result<notify::Event>| {
        // Full means a wake-up is already pending: nothing is lost.
        let _ = tx.try_send(());
    })?;
    let mut dirs: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            p.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for d in &dirs {
        w.watch(d, notify::RecursiveMode::NonRecursive)?;
    }
    Ok(DirWatch { w, dirs })
}

/// `--audisp` / `-`: records on stdin, through a bounded queue. No file
/// checkpoint: a stream cannot be re-read (auditd's dispatcher owns delivery).
fn tail_stdin(args: &TailArgs, mut ctx: Ctx, signals: &Signals) -> Result<Exit> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(STDIN_QUEUE);
    let max_line = args.max_line;
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut r = io::BufReader::with_capacity(256 << 10, io::stdin().lock());
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if line.len() > max_line + 1 {
                        line.truncate(max_line + 1);
                    }
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut st = ctx.open(Path::new("<stdin>"), None);
    let idle = Duration::from_millis(args.idle_flush);
    let stats_every = Duration::from_secs(args.stats_interval);
    let mut last_stats = Instant::now();
    let mut pos = Location { line: 0, offset: 0 };
    loop {
        if signals.take_reload() {
            reload(args, &mut ctx);
        }
        if signals.terminate() {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(250).min(idle)) {
            Ok(line) => {
                stdin_line(&mut ctx, &mut st, line, &mut pos, max_line);
                // Batch what is already queued before flushing the output.
                for _ in 0..1024 {
                    match rx.try_recv() {
                        Ok(line) => stdin_line(&mut ctx, &mut st, line, &mut pos, max_line),
                        Err(_) => break,
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                ctx.flush_stream(&mut st);
                let mut last = Vec::new();
                ctx.engine.flush(&mut |a| last.push(a));
                for a in &last {
                    ctx.write_alert(a);
                }
                break;
            }
        }
        if st.dirty && st.last_input.elapsed() >= idle {
            st.dirty = false;
            ctx.flush_stream(&mut st);
        }
        if let Some(e) = ctx.error.take() {
            return Err(e);
        }
        ctx.flush_outputs(false)?;
        if !stats_every.is_zero() && last_stats.elapsed() >= stats_every {
            print_stats(&ctx, &[], Some(&st));
            last_stats = Instant::now();
        }
    }
    if let Some(e) = ctx.error.take() {
        return Err(e);
    }
    ctx.flush_outputs(true)?;
    if !args.quiet {
        print_stats(&ctx, &[], Some(&st));
    }
    Ok(Exit::Clean)
}

fn stdin_line(ctx: &mut Ctx, st: &mut Stream, mut line: Vec<u8>, pos: &mut Location, max: usize) {
    pos.line += 1;
    let loc = *pos;
    pos.offset += line.len() as u64;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.len() > max {
        ctx.line(st, Line::TooLong(loc, line.len() as u64));
    } else {
        ctx.line(st, Line::Data(&line, loc));
    }
}
