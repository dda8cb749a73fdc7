//! Event assembly: records sharing `(node, timestamp, serial)` form one event.
//!
//! An event is complete, and handed on, when the first of these happens:
//!
//! 1. its `EOE` record arrives (kernel events with a syscall context), or
//!    its `PROCTITLE` after a `SYSCALL` (the kernel writes `PROCTITLE` last,
//!    just before `EOE`, and audit.log omits `EOE`);
//! 2. it is *eager* — its first record is not a syscall auxiliary
//!    (user-space and daemon messages, types 1100–1299 and 2100–2999, and
//!    kernel records that may stand alone such as `AVC`, `ANOM_*`,
//!    `LOGIN`; see [`is_standalone_type`]) — and a record of a different
//!    event arrives. A message that the kernel attached to a syscall
//!    (`SERVICE_START` + `SYSCALL`/`SOCKADDR`/`EOE`, laurel
//!    `record-service-start.txt`) arrives back to back and stays one event:
//!    once a `SYSCALL` joins, the event waits for its `EOE` like any other;
//! 3. it falls out of the reorder window: more than [`REORDER_WINDOW_EVENTS`]
//!    newer events have started since it **and** the newest event time seen is
//!    more than [`REORDER_WINDOW_MS`] past its own. Both conditions, so that
//!    neither a burst of events within one millisecond nor a sparse log with
//!    second-long gaps between events (go-libaudit `out_of_order.log`, which
//!    has no `EOE` at all) cuts an event short;
//! 4. more than [`MAX_IN_FLIGHT`] events are pending, or their records
//!    (held completed events included) total more than
//!    [`MAX_IN_FLIGHT_BYTES`]: the oldest is completed early (counted in
//!    [`CoalesceStats::evicted`] and [`CoalesceStats::evicted_bytes`]);
//! 5. [`Coalescer::flush`] at end of input.
//!
//! Completed events are *released* in arrival order (of their first
//! record): an event completed by its `EOE` waits until every older pending
//! event is complete too. auditd writes interleaved events with their `EOE`s
//! in any order (laurel `shell-proc-trace-reordered.txt`); releasing in
//! arrival order keeps a parent's exec ahead of its children's, which the
//! process table needs. Completed-but-held events count against
//! [`MAX_IN_FLIGHT`].
//!
//! Serial numbers are only compared for equality, so rollover
//! (4294967295 -> 0) and gaps from lost messages need no special case;
//! nothing is ever sorted by serial.
//!
//! A record that arrives after its event was completed (a *late* record,
//! detected for the last [`RECENT_COMPLETED`] events) is dropped and reported
//! as an error; a late `EOE` is ignored silently.
//!
//! Memory is bounded: at most [`MAX_IN_FLIGHT`] pending events holding at
//! most [`MAX_IN_FLIGHT_BYTES`] bytes of records together, each at most
//! [`MAX_RECORDS_PER_EVENT`] records and [`MAX_EVENT_BYTES`] bytes; records
//! beyond a per-event cap are dropped with an error and the event is flagged
//! `truncated`.
//!
//! # Live mode
//!
//! The coalescer has no clock: it completes events on input only. A tail loop
//! should call `flush` after about a second without new input, which
//! completes the last eager event (auditd writes a whole kernel event at
//! once, so nothing is cut short by that).
//!
//! For checkpoints, [`Coalescer::push_at`] tags each event with the byte
//! offset of its first record and [`Coalescer::pending_offsets`] lists the
//! events not yet handed on: the smallest is the safe resume offset.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::line::Record;

/// Newer events that must have started before an event without `EOE` may be
/// completed by the reorder window.
pub const REORDER_WINDOW_EVENTS: u64 = 16;
/// Event time (ms) that must have passed before an event without `EOE` may be
/// completed by the reorder window.
pub const REORDER_WINDOW_MS: i64 = 2_000;
/// Cap on pending events; the oldest is completed early beyond it.
pub const MAX_IN_FLIGHT: usize = 1_024;
/// Cap on records per event (a huge argv is a few hundred EXECVE records).
pub const MAX_RECORDS_PER_EVENT: usize = 2_048;
/// Cap on bytes per event (auditd's own argv limit is far below this).
pub const MAX_EVENT_BYTES: usize = 8 << 20;
/// Cap on the bytes ([`Record::byte_len`]) of all pending events together,
/// held completed events included; the oldest is completed early beyond it.
/// Without it the two caps above allow 1,024 × 8 MiB (see: issue 11).
pub const MAX_IN_FLIGHT_BYTES: usize = 64 << 20;
/// How many completed event keys are remembered to recognize late records.
pub const RECENT_COMPLETED: usize = 4_096;

/// What identifies an event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    /// `node=` value, if any.
    pub node: Option<Box<[u8]>>,
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Serial number.
    pub serial: u64,
}

impl EventKey {
    fn of(r: &Record) -> EventKey {
        EventKey {
            node: r.node().map(Box::from),
            sec: r.sec,
            nanos: r.nanos,
            serial: r.serial,
        }
    }

    /// Event time in milliseconds.
    pub fn millis(&self) -> i64 {
        self.sec
            .saturating_mul(1000)
            .saturating_add(i64::from(self.nanos / 1_000_000))
    }
}

/// A completed event: its records in arrival order (without `EOE`).
#[derive(Debug, Clone)]
pub struct CompletedEvent {
    /// The event's identity.
    pub key: EventKey,
    /// Records in arrival order.
    pub records: Vec<Record>,
    /// True if records were dropped because a cap was hit.
    pub truncated: bool,
    /// Byte offset of the event's first record in its input, as given to
    /// [`Coalescer::push_at`] (0 when fed through [`Coalescer::push`]).
    /// Live mode uses it to tell which events a checkpoint already covered.
    pub offset: u64,
}

/// Counters, for `stats` output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoalesceStats {
    /// Records accepted.
    pub records: u64,
    /// Events completed.
    pub events: u64,
    /// Events completed early because [`MAX_IN_FLIGHT`] was exceeded.
    pub evicted: u64,
    /// Events completed early because [`MAX_IN_FLIGHT_BYTES`] was exceeded.
    pub evicted_bytes: u64,
    /// Records dropped because their event had already been completed.
    pub late: u64,
    /// Records dropped by the per-event caps.
    pub dropped: u64,
}

#[derive(Debug)]
struct InFlight {
    key: EventKey,
    records: Vec<Record>,
    bytes: usize,
    eager: bool,
    truncated: bool,
    offset: u64,
    /// The caller's clock when the last record joined (see [`Coalescer::set_clock`]).
    touched: u64,
}

/// Joins records into events. See the module docs for the completion rules.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// Pending events by arrival id (so the first entry is the oldest).
    inflight: BTreeMap<u64, InFlight>,
    index: HashMap<EventKey, u64>,
    /// Ids of pending eager events (few: usually zero or one).
    eager: Vec<u64>,
    next_id: u64,
    newest_ms: i64,
    done: HashSet<EventKey>,
    done_order: VecDeque<EventKey>,
    /// Completed events held back until every older event is complete, with
    /// their bytes.
    ready: BTreeMap<u64, (usize, CompletedEvent)>,
    /// Bytes of the records in `inflight` and `ready`.
    bytes: usize,
    stats: CoalesceStats,
    /// Caller-supplied clock (ms), see [`Coalescer::set_clock`].
    clock: u64,
}

/// True for record types that can make an event on their own: everything
/// but the records that only describe a syscall (`SYSCALL`, `PATH`, `CWD`,
/// `EXECVE`, `SOCKADDR`, `PROCTITLE`, ... — the same set the ECS mapping
/// treats as auxiliary).
pub fn is_standalone_type(rtype: &str) -> bool {
    !super::ecs::is_aux_type(rtype)
}

impl Coalescer {
    /// An empty coalescer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters so far.
    pub fn stats(&self) -> CoalesceStats {
        self.stats
    }

    /// Number of pending events.
    pub fn pending(&self) -> usize {
        self.inflight.len()
    }

    /// Adds one record; calls `out` for every event it completes.
    ///
    /// # Errors
    /// A message when the record was dropped (late, or over a cap). The
    /// coalescer stays consistent.
    pub fn push(&mut self, rec: Record, out: &mut dyn FnMut(CompletedEvent)) -> Result<(), String> {
        self.push_at(rec, 0, out)
    }

    /// [`push`](Self::push) for a record whose line starts at byte `offset` of
    /// its input; a new event remembers the offset of its first record
    /// ([`CompletedEvent::offset`], [`pending_offsets`](Self::pending_offsets)).
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_at(
        &mut self,
        rec: Record,
        offset: u64,
        out: &mut dyn FnMut(CompletedEvent),
    ) -> Result<(), String> {
        let key = EventKey::of(&rec);
        let id = self.index.get(&key).copied();

        // Rule 2: any record of another event completes pending eager events.
        if !self.eager.is_empty() {
            let others: Vec<u64> = self
                .eager
                .iter()
                .copied()
                .filter(|e| Some(*e) != id)
                .collect();
            for e in others {
                self.complete(e, out);
            }
        }

        if rec.is("EOE") {
            if let Some(id) = id {
                self.complete(id, out);
            }
            return Ok(());
        }

        if let Some(id) = id {
            let ev = self
                .inflight
                .get_mut(&id)
                .expect("index and inflight agree");
            if ev.records.len() >= MAX_RECORDS_PER_EVENT
                || ev.bytes.saturating_add(rec.byte_len()) > MAX_EVENT_BYTES
            {
                ev.truncated = true;
                self.stats.dropped += 1;
                return Err(format!(
                    "event {} exceeds {} records or {} bytes; record dropped",
                    key.serial, MAX_RECORDS_PER_EVENT, MAX_EVENT_BYTES
                ));
            }
            if ev.eager && (rec.is("SYSCALL") || rec.is("URINGOP")) {
                ev.eager = false;
                self.eager.retain(|e| *e != id);
            }
            ev.bytes += rec.byte_len();
            self.bytes += rec.byte_len();
            ev.touched = self.clock;
            // Rule 1b: the kernel logs PROCTITLE last in a syscall event
            // (audit_log_exit: SYSCALL, aux records, PATHs, PROCTITLE, EOE),
            // and audit.log carries no EOE: PROCTITLE after a SYSCALL completes it.
            let last = rec.is("PROCTITLE") && ev.records.iter().any(|r| r.is("SYSCALL"));
            ev.records.push(rec);
            self.stats.records += 1;
            if last {
                self.complete(id, out);
            }
            self.enforce_byte_budget(out);
            return Ok(());
        }

        if self.done.contains(&key) {
            self.stats.late += 1;
            return Err(format!(
                "record {} of event {} arrived after the event was completed; dropped",
                rec.rtype(),
                key.serial
            ));
        }

        // A new event.
        let id = self.next_id;
        self.next_id += 1;
        self.newest_ms = self.newest_ms.max(key.millis());
        let eager = is_standalone_type(&rec.rtype());
        if eager {
            self.eager.push(id);
        }
        self.index.insert(key.clone(), id);
        self.bytes += rec.byte_len();
        self.inflight.insert(
            id,
            InFlight {
                key,
                bytes: rec.byte_len(),
                records: vec![rec],
                eager,
                truncated: false,
                offset,
                touched: self.clock,
            },
        );
        self.stats.records += 1;

        // Rule 4: bounded in-flight set (held completed events count too).
        while self.inflight.len() + self.ready.len() > MAX_IN_FLIGHT && !self.inflight.is_empty() {
            let oldest = *self.inflight.keys().next().expect("non-empty");
            self.stats.evicted += 1;
            self.complete(oldest, out);
        }
        self.enforce_byte_budget(out);
        // Rule 3: the reorder window, oldest first.
        while let Some((&oid, ev)) = self.inflight.iter().next() {
            let newer = self.next_id - oid - 1;
            if newer > REORDER_WINDOW_EVENTS
                && self.newest_ms.saturating_sub(ev.key.millis()) > REORDER_WINDOW_MS
            {
                self.complete(oid, out);
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Offsets of the first records of every event not yet handed on (still
    /// being assembled, or complete but held behind an older one), ascending.
    ///
    /// Events are handed on in arrival order, so every event whose first
    /// record lies before the smallest of these offsets has been handed on:
    /// that offset is where a restarted reader must resume so that no event
    /// is lost.
    pub fn pending_offsets(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .inflight
            .values()
            .map(|e| e.offset)
            .chain(self.ready.values().map(|(_, e)| e.offset))
            .collect();
        v.sort_unstable();
        v
    }

    /// Sets the clock (milliseconds, any origin, never going back) that
    /// stamps records as they join their event. The coalescer never reads a
    /// clock itself: live mode sets it before feeding and then calls
    /// [`expire_quiet`](Self::expire_quiet).
    pub fn set_clock(&mut self, now_ms: u64) {
        self.clock = self.clock.max(now_ms);
    }

    /// Completes every pending event that has received no record for
    /// `quiet_ms` of the caller's clock (laurel's `EXPIRE_INFLIGHT_TIMEOUT`
    /// idea, on wall time): auditd writes the records of a kernel event
    /// together and its log has no `EOE`, so an event that has been quiet for
    /// a few milliseconds is complete. Without this, an event would wait for
    /// the reorder window (rule 3), which needs newer events.
    pub fn expire_quiet(&mut self, quiet_ms: u64, out: &mut dyn FnMut(CompletedEvent)) {
        let ids: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, e)| e.touched.saturating_add(quiet_ms) <= self.clock)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.complete(id, out);
        }
    }

    /// Completes every pending event, oldest first.
    pub fn flush(&mut self, out: &mut dyn FnMut(CompletedEvent)) {
        let ids: Vec<u64> = self.inflight.keys().copied().collect();
        for id in ids {
            self.complete(id, out);
        }
        self.release(out);
    }

    /// Hands on held events that no older pending event precedes.
    fn release(&mut self, out: &mut dyn FnMut(CompletedEvent)) {
        let oldest_pending = self.inflight.keys().next().copied().unwrap_or(u64::MAX);
        while let Some(entry) = self.ready.first_entry() {
            if *entry.key() > oldest_pending {
                break;
            }
            let (bytes, ev) = entry.remove();
            self.bytes -= bytes;
            out(ev);
        }
    }

    /// Rule 4, total bytes: completes the oldest pending events until the
    /// records held fit [`MAX_IN_FLIGHT_BYTES`]. Completing the oldest
    /// pending event hands it on at once, with the held events behind it.
    fn enforce_byte_budget(&mut self, out: &mut dyn FnMut(CompletedEvent)) {
        while self.bytes > MAX_IN_FLIGHT_BYTES {
            let Some(&oldest) = self.inflight.keys().next() else {
                break;
            };
            self.stats.evicted_bytes += 1;
            self.complete(oldest, out);
        }
    }

    fn complete(&mut self, id: u64, out: &mut dyn FnMut(CompletedEvent)) {
        let Some(ev) = self.inflight.remove(&id) else {
            return;
        };
        self.index.remove(&ev.key);
        if ev.eager {
            self.eager.retain(|e| *e != id);
        }
        if self.done.insert(ev.key.clone()) {
            self.done_order.push_back(ev.key.clone());
            if self.done_order.len() > RECENT_COMPLETED
                && let Some(old) = self.done_order.pop_front()
            {
                self.done.remove(&old);
            }
        }
        self.stats.events += 1;
        self.ready.insert(
            id,
            (
                ev.bytes,
                CompletedEvent {
                    key: ev.key,
                    records: ev.records,
                    truncated: ev.truncated,
                    offset: ev.offset,
                },
            ),
        );
        self.release(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auditd::line::parse_line;

    fn run(lines: &[&str]) -> (Vec<(u64, Vec<String>)>, usize) {
        let mut c = Coalescer::new();
        let mut evs = Vec::new();
        let mut errs = 0;
        let mut out = |e: CompletedEvent| {
            evs.push((
                e.key.serial,
                e.records.iter().map(|r| r.rtype().into_owned()).collect(),
            ))
        };
        for l in lines {
            if c.push(parse_line(l.as_bytes()).unwrap(), &mut out).is_err() {
                errs += 1;
            }
        }
        c.flush(&mut out);
        (evs, errs)
    }

    fn rec(t: &str, sec: u64, serial: u64) -> String {
        format!("type={t} msg=audit({sec}.000:{serial}): x=1")
    }

    #[test]
    fn eoe_completes_at_once_interleaved() {
        let (evs, errs) = run(&[
            &rec("SYSCALL", 1, 1),
            &rec("SYSCALL", 1, 2),
            &rec("PATH", 1, 1),
            &rec("EOE", 1, 2),
            &rec("EOE", 1, 1),
        ]);
        assert_eq!(errs, 0);
        // Released in arrival order even though 2's EOE came first.
        assert_eq!(
            evs,
            vec![
                (1, vec!["SYSCALL".into(), "PATH".into()]),
                (2, vec!["SYSCALL".into()])
            ]
        );
    }

    #[test]
    fn user_messages_are_standalone_but_absorb_their_syscall() {
        let (evs, _) = run(&[
            &rec("USER_ACCT", 1, 1),
            &rec("CRED_ACQ", 1, 2),
            &rec("SERVICE_START", 1, 3),
            &rec("SYSCALL", 1, 3),
            &rec("SOCKADDR", 1, 3),
            &rec("EOE", 1, 3),
            &rec("USER_END", 1, 4),
        ]);
        let serials: Vec<u64> = evs.iter().map(|e| e.0).collect();
        assert_eq!(serials, vec![1, 2, 3, 4]);
        assert_eq!(evs[2].1, vec!["SERVICE_START", "SYSCALL", "SOCKADDR"]);
    }

    #[test]
    fn rollover_and_gaps_are_just_keys() {
        let (evs, errs) = run(&[
            &rec("SYSCALL", 1, 4294967294),
            &rec("SYSCALL", 2, 4294967295),
            &rec("SYSCALL", 2, 0),
            &rec("SOCKADDR", 2, 4294967295),
            &rec("SYSCALL", 2, 1),
            &rec("SYSCALL", 2, 9),
        ]);
        assert_eq!(errs, 0);
        let serials: Vec<u64> = evs.iter().map(|e| e.0).collect();
        assert_eq!(serials, vec![4294967294, 4294967295, 0, 1, 9]);
        assert_eq!(evs[1].1.len(), 2);
    }

    #[test]
    fn reorder_window_needs_events_and_time() {
        // Many events inside one second: nothing completes by the window.
        let mut lines: Vec<String> = (0..40).map(|i| rec("SYSCALL", 1, i)).collect();
        lines.push(rec("PATH", 1, 0)); // late by 40 events but same second: joins.
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (evs, errs) = run(&refs);
        assert_eq!(errs, 0);
        assert_eq!(evs.len(), 40);
        assert_eq!(evs[0].1, vec!["SYSCALL", "PATH"]);

        // Time moves on and enough events follow: the first completes early,
        // and a straggler for it is a late record.
        let mut lines: Vec<String> = vec![rec("SYSCALL", 1, 0)];
        lines.extend((1..=REORDER_WINDOW_EVENTS + 1).map(|i| rec("SYSCALL", 10, i)));
        lines.push(rec("PATH", 1, 0));
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (evs, errs) = run(&refs);
        assert_eq!(errs, 1);
        assert_eq!(evs[0], (0, vec!["SYSCALL".to_string()]));
        assert_eq!(evs.len(), REORDER_WINDOW_EVENTS as usize + 2);
    }

    #[test]
    fn in_flight_cap() {
        let mut c = Coalescer::new();
        let mut n = 0;
        for i in 0..(MAX_IN_FLIGHT as u64 + 10) {
            c.push(
                parse_line(rec("SYSCALL", 1, i).as_bytes()).unwrap(),
                &mut |_| n += 1,
            )
            .unwrap();
        }
        assert_eq!(n, 10);
        assert_eq!(c.pending(), MAX_IN_FLIGHT);
        assert_eq!(c.stats().evicted, 10);
    }

    // See: issue 11. The caps on events in flight and bytes per event allowed
    // 1,024 × 8 MiB pending; the total is capped too, oldest first.
    #[test]
    fn in_flight_bytes_cap() {
        let mut c = Coalescer::new();
        let mut out = Vec::new();
        let arg = "A".repeat(1 << 20);
        let n = (MAX_IN_FLIGHT_BYTES >> 20) as u64 + 8;
        for i in 0..n {
            let line = format!("type=EXECVE msg=audit(1.000:{i}): argc=1 a0=\"{arg}\"");
            c.push(parse_line(line.as_bytes()).unwrap(), &mut |e| {
                out.push(e.key.serial)
            })
            .unwrap();
            assert!(c.bytes <= MAX_IN_FLIGHT_BYTES, "{} bytes held", c.bytes);
        }
        let early = c.stats().evicted_bytes;
        assert!((8..=9).contains(&early), "{early} completed early");
        assert_eq!(out, (0..early).collect::<Vec<_>>(), "oldest first");
        assert_eq!(c.stats().evicted, 0);
        c.flush(&mut |e| out.push(e.key.serial));
        assert_eq!(out, (0..n).collect::<Vec<_>>());
        assert_eq!(c.bytes, 0);
    }

    #[test]
    fn records_per_event_cap() {
        let mut c = Coalescer::new();
        let mut errs = 0;
        for _ in 0..MAX_RECORDS_PER_EVENT + 5 {
            if c.push(
                parse_line(rec("PATH", 1, 1).as_bytes()).unwrap(),
                &mut |_| {},
            )
            .is_err()
            {
                errs += 1;
            }
        }
        assert_eq!(errs, 5);
        let mut got = None;
        c.flush(&mut |e| got = Some((e.records.len(), e.truncated)));
        assert_eq!(got, Some((MAX_RECORDS_PER_EVENT, true)));
    }

    #[test]
    fn held_events_are_released_when_the_oldest_completes() {
        let mut c = Coalescer::new();
        let mut got = Vec::new();
        for l in [rec("SYSCALL", 1, 1), rec("SYSCALL", 1, 2), rec("EOE", 1, 2)] {
            c.push(parse_line(l.as_bytes()).unwrap(), &mut |e| {
                got.push(e.key.serial)
            })
            .unwrap();
        }
        assert!(got.is_empty(), "2 waits for 1");
        c.push(parse_line(rec("EOE", 1, 1).as_bytes()).unwrap(), &mut |e| {
            got.push(e.key.serial)
        })
        .unwrap();
        assert_eq!(got, vec![1, 2]);
    }

    #[test]
    fn pending_offsets_mark_the_safe_resume_point() {
        let mut c = Coalescer::new();
        let mut got = Vec::new();
        let lines = [
            (rec("SYSCALL", 1, 1), 0),
            (rec("SYSCALL", 1, 2), 10),
            (rec("PATH", 1, 1), 20),
            (rec("EOE", 1, 2), 30),
        ];
        for (l, off) in &lines {
            c.push_at(parse_line(l.as_bytes()).unwrap(), *off, &mut |e| {
                got.push((e.key.serial, e.offset))
            })
            .unwrap();
        }
        // 2 is complete but held behind 1: both are pending.
        assert!(got.is_empty());
        assert_eq!(c.pending_offsets(), vec![0, 10]);
        c.push_at(
            parse_line(rec("EOE", 1, 1).as_bytes()).unwrap(),
            40,
            &mut |e| got.push((e.key.serial, e.offset)),
        )
        .unwrap();
        assert_eq!(got, vec![(1, 0), (2, 10)]);
        assert!(c.pending_offsets().is_empty());
    }

    #[test]
    fn quiet_events_expire_on_the_callers_clock() {
        let mut c = Coalescer::new();
        let mut got = Vec::new();
        c.set_clock(100);
        c.push(
            parse_line(rec("SYSCALL", 1, 1).as_bytes()).unwrap(),
            &mut |_| {},
        )
        .unwrap();
        c.set_clock(130);
        c.push(
            parse_line(rec("SYSCALL", 1, 2).as_bytes()).unwrap(),
            &mut |_| {},
        )
        .unwrap();
        c.expire_quiet(50, &mut |e| got.push(e.key.serial));
        assert!(got.is_empty());
        c.set_clock(150);
        c.expire_quiet(50, &mut |e| got.push(e.key.serial));
        assert_eq!(got, vec![1]);
        c.set_clock(10); // never goes back
        c.expire_quiet(50, &mut |e| got.push(e.key.serial));
        assert_eq!(got, vec![1]);
        c.set_clock(180);
        c.expire_quiet(50, &mut |e| got.push(e.key.serial));
        assert_eq!(got, vec![1, 2]);
    }

    #[test]
    fn proctitle_completes_a_syscall_event() {
        let mut c = Coalescer::new();
        let mut got = Vec::new();
        for l in [
            rec("SYSCALL", 1, 1),
            rec("SOCKADDR", 1, 1),
            rec("PROCTITLE", 1, 1),
        ] {
            c.push(parse_line(l.as_bytes()).unwrap(), &mut |e| {
                got.push((e.key.serial, e.records.len()))
            })
            .unwrap();
        }
        assert_eq!(got, vec![(1, 3)]);
        // A lone PROCTITLE (no SYSCALL yet) does not.
        c.push(
            parse_line(rec("PROCTITLE", 1, 2).as_bytes()).unwrap(),
            &mut |_| panic!("completed without a SYSCALL"),
        )
        .unwrap();
    }

    #[test]
    fn late_eoe_is_silent() {
        let (evs, errs) = run(&[
            &rec("USER_LOGIN", 1, 1),
            &rec("SYSCALL", 1, 2),
            &rec("EOE", 1, 1),
        ]);
        assert_eq!(errs, 0);
        assert_eq!(evs.len(), 2);
    }
}
