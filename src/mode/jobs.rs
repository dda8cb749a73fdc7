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
//! - Sequences and counts (stateful rules) run on the main thread only, over
//!   the events of all inputs in the order of `--jobs 1`, so a sequence whose
//!   stages are in different files joins exactly as it does single-threaded,
//!   whichever workers read the files. Only the events some stateful rule can
//!   use cross to the main thread ([`Engine::stateful_wants`]: one of the
//!   single-event rules it matched is a stage or counted rule, or an inline
//!   stage condition matches it), with the indices of the rules they matched.
//!   Any other event would only move the stateful rules' event time, which
//!   takes effect only when it moves forward: for those, the worker sends just
//!   the timestamp of each one newer than every earlier event of its input (a
//!   tick), and the main thread moves event time there ([`Engine::expire`]),
//!   exactly what observing the event would do. When the rules have no
//!   stateful rule, only alerts cross.
//! - Memory stays bounded: workers send their results in batches, and a
//!   worker whose input is not the one the main thread is taking waits while
//!   the results in flight exceed [`AHEAD_BUDGET`] (events held by alerts or
//!   stateful records count [`EVENT_WEIGHT`] each); the input the main thread
//!   is taking may have [`HEAD_BUDGET`] in flight. A worker can thus finish an
//!   input while the one before it is still being read (the results of a
//!   scan are mostly small: ticks, and the few events that alert), and the
//!   input being taken never waits for the others.
//! - Bad-record messages are printed by the workers as they meet them, so the
//!   messages of different inputs may interleave on stderr; counts and the
//!   summary are the same as with `--jobs 1`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};

use anyhow::Result;
use tripline::Event;
use tripline::alert::Alert;
use tripline::engine::Engine;
use tripline::filter::EventFilter;
use tripline::pipeline::{ErrorReporter, InputFailure, ReadStats, read_input_tracked};
use tripline::source::Input;
use tripline_parsers::Format;

/// Results per batch at most (a batch also ends at [`BATCH_EVENTS`]).
const BATCH: usize = 2048;
/// Events held (by alerts and stateful records) per batch at most.
const BATCH_EVENTS: usize = 64;
/// A batch also ends once its events and documents weigh this much.
const BATCH_BYTES: usize = 1 << 20;
/// The least weight of one event held in flight (a nominal size: a parsed
/// event is a few kilobytes); a larger event weighs its
/// [`Event::approx_bytes`], so huge events cannot slip past the budgets.
const EVENT_WEIGHT: usize = 4096;

/// What holding `ev` in flight weighs.
fn event_weight(ev: &Event) -> usize {
    EVENT_WEIGHT.max(ev.approx_bytes())
}
/// Weight in flight of the inputs after the one the main thread is taking.
const AHEAD_BUDGET: usize = 64 << 20;
/// Weight in flight of the input the main thread is taking.
const HEAD_BUDGET: usize = 8 << 20;

/// Takes one alert, in `--jobs 1` order, with its JSON document when a
/// worker wrote it.
pub type OnAlert<'a> = dyn FnMut(&Alert, Option<&[u8]>) -> Result<()> + 'a;

/// The default `--jobs`: the number of cores available to the process.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// One result of a worker, in the order of its input.
enum Item {
    /// A single-event rule's alert, with its JSON document when the outputs
    /// use it (written by the worker: that is much of the work per alert).
    Alert(Alert, Option<Box<[u8]>>),
    /// An event some stateful rule can use, with the single-event rules it matched.
    Stateful(Arc<Event>, Box<[u32]>),
    /// An event no stateful rule uses, newer than the input's earlier events:
    /// its timestamp.
    Tick(i64),
}

/// The end of one input.
struct Done {
    stats: ReadStats,
    filtered: u64,
    result: Result<(), InputFailure>,
}

enum Msg {
    /// Results, their weight in flight, and the worker that sent them.
    Items(Vec<Item>, usize, usize),
    Done(Done),
}

/// The weight of a batch in flight: its items, the weight of the events
/// they hold and the bytes of the alerts' JSON documents.
fn weight(items: usize, events: usize, json: usize) -> usize {
    items * std::mem::size_of::<Item>() + events + json
}

/// Results in flight: what bounds the workers' lead over the main thread.
struct Budget {
    state: Mutex<Flight>,
    changed: Condvar,
}

struct Flight {
    /// The input the main thread is taking.
    head: usize,
    /// Weight in flight per input.
    per_input: Vec<usize>,
    /// Weight in flight of every input but the head.
    ahead: usize,
    /// The scan is over (an output failed): nobody waits any more.
    stopped: bool,
}

impl Flight {
    /// May input `i` put `w` more in flight? The head within [`HEAD_BUDGET`],
    /// the others within [`AHEAD_BUDGET`] together; a batch always fits when
    /// nothing it would wait for is in flight.
    fn fits(&self, i: usize, w: usize) -> bool {
        if self.head == i {
            let mine = self.per_input[i];
            mine + w <= HEAD_BUDGET || mine == 0
        } else {
            self.ahead + w <= AHEAD_BUDGET || self.ahead == 0
        }
    }
}

impl Budget {
    fn new(inputs: usize) -> Budget {
        Budget {
            state: Mutex::new(Flight {
                head: 0,
                per_input: vec![0; inputs],
                ahead: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flight> {
        // A poisoned lock only means another thread panicked (reported at the join).
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until input `i` may put `w` more in flight, and counts it; false
    /// when the scan stopped.
    fn acquire(&self, i: usize, w: usize) -> bool {
        let mut f = self.lock();
        while !f.stopped && !f.fits(i, w) {
            f = self
                .changed
                .wait(f)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        if f.stopped {
            return false;
        }
        f.per_input[i] += w;
        if f.head != i {
            f.ahead += w;
        }
        true
    }

    /// The main thread took `w` of input `i` (the head).
    fn release(&self, i: usize, w: usize) {
        let mut f = self.lock();
        f.per_input[i] -= w;
        drop(f);
        self.changed.notify_all();
    }

    /// The main thread starts taking input `i`.
    fn set_head(&self, i: usize) {
        let mut f = self.lock();
        if f.head != i {
            f.head = i;
            let w = f.per_input[i];
            f.ahead -= w;
        }
        drop(f);
        self.changed.notify_all();
    }

    /// Nobody takes results any more: waiting workers give up.
    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
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
    /// The workers write the JSON document of the alerts they find
    /// ([`tripline::sink::AlertSink::uses_json`]).
    pub alert_json: bool,
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
/// stateful rules see every event they can use (and the others' event time),
/// its counters get the workers' counts. `on_input(i)` is called when the main
/// thread starts taking input `i`'s results, `on_alert` for every alert in
/// `--jobs 1` order (with its JSON document if `plan.alert_json` and a worker
/// found it), `on_end(i, outcome)` at the end of input `i`. The first error
/// of `on_alert` stops the scan.
pub fn scan(
    plan: &ReadPlan<'_>,
    jobs: usize,
    engine: &mut Engine,
    on_input: &mut dyn FnMut(usize),
    on_alert: &mut OnAlert<'_>,
    on_end: &mut dyn FnMut(usize, InputOutcome),
) -> Result<()> {
    let n = plan.inputs.len();
    let (senders, receivers): (Vec<Sender<Msg>>, Vec<Receiver<Msg>>) =
        (0..n).map(|_| channel()).unzip();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let budget = Budget::new(n);
    let stateful = engine.has_stateful();
    let jobs = jobs.clamp(1, n.max(1));
    // Taken batches go back to their worker, which drops them: what a
    // thread allocates is freed by that thread (freeing across threads costs
    // the allocator far more), and the batch's buffer is used again.
    let (recycle, recycled): (Vec<_>, Vec<_>) = (0..jobs).map(|_| channel::<Vec<Item>>()).unzip();
    std::thread::scope(|scope| -> Result<()> {
        let mut workers = Vec::new();
        for (id, recycled) in recycled.into_iter().enumerate() {
            // The compiled prefilter is shared, not rebuilt per worker.
            let mut worker = engine.worker();
            let (senders, next, stop, budget) = (&senders, &next, &stop, &budget);
            workers.push(scope.spawn(move || {
                let mut reporter = ErrorReporter::new(plan.errors_per_input, plan.quiet);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let out = Out {
                        tx: &senders[i],
                        budget,
                        input: i,
                        worker: id,
                        recycled: &recycled,
                    };
                    read_one(plan, i, &mut worker, stateful, &mut reporter, &out, stop);
                }
                worker.stats()
            }));
        }
        let res = collect(
            receivers, &recycle, engine, &budget, on_input, on_alert, on_end,
        );
        // However the collection ended, no worker may wait for it any more.
        stop.store(true, Ordering::Relaxed);
        budget.stop();
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
    recycle: &[Sender<Vec<Item>>],
    engine: &mut Engine,
    budget: &Budget,
    on_input: &mut dyn FnMut(usize),
    on_alert: &mut OnAlert<'_>,
    on_end: &mut dyn FnMut(usize, InputOutcome),
) -> Result<()> {
    let mut pending = Vec::new();
    for (i, rx) in receivers.into_iter().enumerate() {
        budget.set_head(i);
        on_input(i);
        loop {
            match rx.recv() {
                Ok(Msg::Items(items, w, worker)) => {
                    budget.release(i, w);
                    for it in &items {
                        match it {
                            Item::Alert(a, json) => on_alert(a, json.as_deref())?,
                            Item::Stateful(ev, hits) => {
                                engine.process_stateful(ev, hits, &mut |a| pending.push(a));
                            }
                            Item::Tick(ts) => engine.expire(*ts, &mut |a| pending.push(a)),
                        }
                        for a in pending.drain(..) {
                            on_alert(&a, None)?;
                        }
                    }
                    // A worker that has finished drops nothing more: then here.
                    let _ = recycle[worker].send(items);
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

/// Where a worker sends the results of one input.
struct Out<'a> {
    tx: &'a Sender<Msg>,
    budget: &'a Budget,
    input: usize,
    /// This worker's number, and the batches the main thread has taken from it.
    worker: usize,
    recycled: &'a Receiver<Vec<Item>>,
}

impl Out<'_> {
    /// Sends a batch holding events that weigh `events` and `json` bytes of
    /// alert documents (after waiting for room); false when nobody takes results
    /// any more.
    fn send(&self, items: Vec<Item>, events: usize, json: usize) -> bool {
        let w = weight(items.len(), events, json);
        self.budget.acquire(self.input, w)
            && self.tx.send(Msg::Items(items, w, self.worker)).is_ok()
    }

    /// An empty batch: a taken one if there is one (its results are dropped
    /// here, by the thread that made them), else a new one.
    fn empty_batch(&self) -> Vec<Item> {
        let mut spare = None;
        while let Ok(mut taken) = self.recycled.try_recv() {
            taken.clear();
            spare.get_or_insert(taken);
        }
        spare.unwrap_or_else(|| Vec::with_capacity(BATCH))
    }
}

/// A worker's side: reads input `i`, sends its results in batches.
fn read_one(
    plan: &ReadPlan<'_>,
    i: usize,
    engine: &mut Engine,
    stateful: bool,
    reporter: &mut ErrorReporter,
    out: &Out<'_>,
    stop: &AtomicBool,
) {
    let mut stats = ReadStats::default();
    let mut filtered = 0u64;
    let mut batch: Vec<Item> = out.empty_batch();
    let mut held = 0usize;
    let mut held_bytes = 0usize;
    let mut json_bytes = 0usize;
    let mut writer = plan.alert_json.then(tripline::alert::AlertWriter::new);
    let mut gone = false;
    let mut hits = Vec::new();
    // The newest event time of this input so far: an event no stateful rule
    // uses moves the main engine's event time only when it is newer (the
    // main engine has seen every earlier event of this input). i64::MAX is
    // always passed on: there the sequence rules' sweep clock saturates.
    let mut newest = i64::MIN;
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
            // The alerts and the stateful record below all share this one
            // event: it is weighed once, and charged once.
            let mut weight = 0;
            engine.process_single(&ev, &mut |a| {
                held += 1;
                if weight == 0 {
                    weight = event_weight(&ev);
                }
                let json = writer.as_mut().map(|w| {
                    let mut doc = Vec::new();
                    w.write(&a, &mut doc);
                    json_bytes += doc.len();
                    doc.into_boxed_slice()
                });
                batch.push(Item::Alert(a, json));
            });
            if stateful {
                let ts = ev.timestamp_ns;
                if engine.stateful_wants(&ev) {
                    engine.last_hits(&mut hits);
                    held += 1;
                    if weight == 0 {
                        weight = event_weight(&ev);
                    }
                    batch.push(Item::Stateful(ev, hits.as_slice().into()));
                } else if ts > newest || ts == i64::MAX {
                    batch.push(Item::Tick(ts));
                }
                newest = newest.max(ts);
            }
            held_bytes += weight;
            if batch.len() >= BATCH
                || held >= BATCH_EVENTS
                || held_bytes + json_bytes >= BATCH_BYTES
            {
                let full = std::mem::replace(&mut batch, out.empty_batch());
                held = 0;
                let (events, json) = (
                    std::mem::take(&mut held_bytes),
                    std::mem::take(&mut json_bytes),
                );
                gone = !out.send(full, events, json) || stop.load(Ordering::Relaxed);
            }
        },
    );
    if gone {
        return;
    }
    if !batch.is_empty() && !out.send(batch, held_bytes, json_bytes) {
        return;
    }
    let _ = out.tx.send(Msg::Done(Done {
        stats,
        filtered,
        result,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(head: usize, per_input: Vec<usize>) -> Flight {
        let ahead = per_input
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != head)
            .map(|(_, w)| w)
            .sum();
        Flight {
            head,
            per_input,
            ahead,
            stopped: false,
        }
    }

    #[test]
    fn inputs_ahead_share_one_budget_and_the_head_has_its_own() {
        let w = weight(1, EVENT_WEIGHT, 100);
        // Inputs after the head wait once the budget is used, whichever holds it.
        let f = flight(0, vec![0, AHEAD_BUDGET - w, 0]);
        assert!(f.fits(1, w));
        assert!(f.fits(2, w));
        assert!(!f.fits(2, w + 1));
        // The head never waits for them.
        let f = flight(0, vec![0, AHEAD_BUDGET, AHEAD_BUDGET]);
        assert!(f.fits(0, HEAD_BUDGET));
        assert!(!f.fits(2, w));
        // The head is bounded on its own (the main thread may be slow to write).
        let f = flight(1, vec![0, HEAD_BUDGET, 0]);
        assert!(!f.fits(1, w));
        assert!(f.fits(2, w));
        // A batch larger than a budget still goes when nothing is in flight.
        let f = flight(0, vec![0, 0]);
        assert!(f.fits(0, HEAD_BUDGET + 1));
        assert!(f.fits(1, AHEAD_BUDGET + 1));
    }
}
