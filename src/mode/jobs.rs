//! `tripline scan --jobs N`: the inputs of a multi-input scan parsed and
//! matched in parallel, alerts in exactly the order of `--jobs 1`.
//!
//! # How it works
//!
//! - Every input (file, or stdin) is an independent stream. `N` worker
//!   threads take inputs in order (the next unclaimed one when a worker is
//!   free); a worker reads its input, applies --since/--until/--host and
//!   evaluates the single-event rules with its own [`Engine`] over a copy of
//!   the rules.
//! - The main thread takes the workers' results input by input, in input
//!   order, and each input's events in file order: alerts go to the outputs
//!   in the order a single-threaded scan writes them.
//! - Sequences and counts (stateful rules) run on the main thread only: a
//!   worker passes each event on with the indices of the single-event rules
//!   (sequence stages included) it matched, and the main engine sees the
//!   events of all inputs in the same order as with `--jobs 1`. A sequence
//!   whose stages are in different files therefore joins exactly as it does
//!   single-threaded, whichever workers read the files. When the rules have
//!   no stateful rule, events stay in the workers and only alerts cross.
//! - Memory stays bounded: each input's results go through a channel of
//!   [`QUEUE`] batches of [`BATCH`] events; a worker that runs ahead of the
//!   main thread waits.
//! - Bad-record messages are printed by the workers as they meet them, so the
//!   messages of different inputs may interleave on stderr; counts and the
//!   summary are the same as with `--jobs 1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Result;
use tripline::Event;
use tripline::alert::Alert;
use tripline::engine::Engine;
use tripline::filter::EventFilter;
use tripline::pipeline::{ErrorReporter, InputFailure, ReadStats, read_input_tracked};
use tripline::source::Input;
use tripline_parsers::Format;

/// Events per batch sent from a worker to the main thread.
const BATCH: usize = 256;
/// Batches in flight per input.
const QUEUE: usize = 4;

/// The default `--jobs`: the number of cores available to the process.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// What one event gave: its single-event alerts and, when the rules have
/// stateful rules, the event and the single-event rules it matched.
struct Item {
    alerts: Vec<Alert>,
    stateful: Option<(Arc<Event>, Vec<u32>)>,
}

/// The end of one input.
struct Done {
    stats: ReadStats,
    filtered: u64,
    result: Result<(), InputFailure>,
}

enum Msg {
    Items(Vec<Item>),
    Done(Done),
}

/// How the scan reads its inputs (shared by the workers).
pub struct ReadPlan<'a> {
    /// The inputs, in order.
    pub inputs: &'a [Input],
    /// `--format`.
    pub format: Option<Format>,
    /// `--max-line`.
    pub max_line: usize,
    /// --since/--until/--host.
    pub filter: &'a EventFilter,
    /// Bad-record messages printed per input.
    pub errors_per_input: u64,
    /// `--quiet`.
    pub quiet: bool,
    /// Per input, where its reader publishes the bytes read (the progress line).
    pub positions: &'a [Arc<std::sync::atomic::AtomicU64>],
}

/// The outcome of one input, for the caller's summary.
pub struct InputOutcome {
    /// Counters of the input.
    pub stats: ReadStats,
    /// Events dropped by --since/--until/--host.
    pub filtered: u64,
    /// Whether the input could be read.
    pub result: Result<(), InputFailure>,
}

/// Scans `plan.inputs` with `jobs` workers. `engine` is the main engine: its
/// stateful rules see every event, its counters get the workers' counts.
/// `on_input(i)` is called when the main thread starts taking input `i`'s
/// results, `on_alert` for every alert in `--jobs 1` order, `on_end(i, outcome)`
/// at the end of input `i`. The first error of `on_alert` stops the scan.
pub fn scan(
    plan: &ReadPlan<'_>,
    jobs: usize,
    engine: &mut Engine,
    on_input: &mut dyn FnMut(usize),
    on_alert: &mut dyn FnMut(Alert) -> Result<()>,
    on_end: &mut dyn FnMut(usize, InputOutcome),
) -> Result<()> {
    let n = plan.inputs.len();
    let (senders, receivers): (Vec<SyncSender<Msg>>, Vec<Receiver<Msg>>) =
        (0..n).map(|_| sync_channel(QUEUE)).unzip();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let stateful = engine.has_stateful();
    std::thread::scope(|scope| -> Result<()> {
        let mut workers = Vec::new();
        for _ in 0..jobs.clamp(1, n.max(1)) {
            // The compiled prefilter is shared, not rebuilt per worker.
            let mut worker = engine.worker();
            let (senders, next, stop) = (&senders, &next, &stop);
            workers.push(scope.spawn(move || {
                let mut reporter = ErrorReporter::new(plan.errors_per_input, plan.quiet);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    read_one(
                        plan,
                        i,
                        &mut worker,
                        stateful,
                        &mut reporter,
                        &senders[i],
                        stop,
                    );
                }
                worker.stats()
            }));
        }
        let res = collect(receivers, engine, on_input, on_alert, on_end);
        if res.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        for w in workers {
            match w.join() {
                Ok(s) => engine.add_counts(&s),
                Err(_) => anyhow::bail!("a scan worker thread panicked"),
            }
        }
        res
    })
}

/// The main thread's side: every input's results, in input order.
fn collect(
    receivers: Vec<Receiver<Msg>>,
    engine: &mut Engine,
    on_input: &mut dyn FnMut(usize),
    on_alert: &mut dyn FnMut(Alert) -> Result<()>,
    on_end: &mut dyn FnMut(usize, InputOutcome),
) -> Result<()> {
    let mut pending = Vec::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        on_input(i);
        loop {
            match rx.recv() {
                Ok(Msg::Items(items)) => {
                    for it in items {
                        for a in it.alerts {
                            on_alert(a)?;
                        }
                        if let Some((ev, hits)) = it.stateful {
                            engine.process_stateful(&ev, &hits, &mut |a| pending.push(a));
                            for a in pending.drain(..) {
                                on_alert(a)?;
                            }
                        }
                    }
                }
                Ok(Msg::Done(d)) => {
                    on_end(
                        i,
                        InputOutcome {
                            stats: d.stats,
                            filtered: d.filtered,
                            result: d.result,
                        },
                    );
                    break;
                }
                // The worker died (a panic, reported at the join).
                Err(_) => return Ok(()),
            }
        }
    }
    Ok(())
}

/// A worker's side: reads input `i`, sends its results in batches.
fn read_one(
    plan: &ReadPlan<'_>,
    i: usize,
    engine: &mut Engine,
    stateful: bool,
    reporter: &mut ErrorReporter,
    tx: &SyncSender<Msg>,
    stop: &AtomicBool,
) {
    let mut stats = ReadStats::default();
    let mut filtered = 0u64;
    let mut batch: Vec<Item> = Vec::with_capacity(BATCH);
    let mut gone = false;
    let mut hits = Vec::new();
    let result = read_input_tracked(
        &plan.inputs[i],
        plan.format,
        plan.max_line,
        &mut stats,
        reporter,
        &plan.positions[i],
        &mut |ev| {
            if gone {
                return;
            }
            if !plan.filter.keep(&ev) {
                filtered += 1;
                return;
            }
            let ev = Arc::new(ev);
            let mut alerts = Vec::new();
            engine.process_single(&ev, &mut |a| alerts.push(a));
            let stateful = stateful.then(|| {
                engine.last_hits(&mut hits);
                (ev, hits.clone())
            });
            if alerts.is_empty() && stateful.is_none() {
                return;
            }
            batch.push(Item { alerts, stateful });
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                gone = tx.send(Msg::Items(full)).is_err() || stop.load(Ordering::Relaxed);
            }
        },
    );
    if gone {
        return;
    }
    if !batch.is_empty() && tx.send(Msg::Items(batch)).is_err() {
        return;
    }
    let _ = tx.send(Msg::Done(Done {
        stats,
        filtered,
        result,
    }));
}
