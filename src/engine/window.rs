//! Time and key machinery shared by the stateful rules ([`super::sequence`],
//! [`super::count`]): state limits, join keys, a capped key table with
//! least-recently-used eviction, and the reorder buffer.
//!
//! # Design rationale
//!
//! - **Event time only.** Every decision compares event timestamps
//!   (`@timestamp`); the "clock" is the watermark, the newest event time seen.
//!   Replaying a log and tailing it live give the same alerts.
//! - **Reorder, then evaluate exactly.** auditd writes an event when its
//!   syscall *exits*, so a blocking `connect()` or `execve()` can be logged after
//!   events that started later. Rather than loosening the ordering checks, each
//!   stateful rule buffers the events relevant to it and releases them in
//!   timestamp order once the watermark has moved [`StateLimits::reorder_window_ns`]
//!   past them. The window only delays alerts; it never changes them (as long as
//!   no event is later than the window; those are counted as `late` and processed
//!   at once).
//! - **Memory is bounded whatever the input.** Keys per rule, partial matches
//!   per key and per rule, and buffered events per rule are all capped; the
//!   least recently used key (or the oldest partial) goes first, and every
//!   eviction is counted in [`StateStats`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use tripline_parsers::{Event, FieldValue};

use crate::rule::ir::Field;

/// Default cap on join keys (or groups) one stateful rule tracks at a time.
///
/// Why 10,000: a sequence key is typically a process, a parent process or a
/// user on one host; a busy host starts a few hundred processes per second, so
/// with spans of seconds to minutes ten thousand live keys covers real traffic
/// by an order of magnitude, while a flood of distinct keys (the attack on any
/// joiner) stays at a few megabytes per rule.
pub const DEFAULT_MAX_KEYS_PER_RULE: usize = 10_000;

/// Default cap on partial sequences per join key.
///
/// EQL keeps every first-stage match as its own partial until a later stage
/// consumes it; a key that keeps matching the first stage (a shell running
/// `curl` in a loop) would otherwise grow without bound. Eight is more than any
/// published rule needs to be correct for realistic bursts.
pub const DEFAULT_MAX_PARTIALS_PER_KEY: usize = 8;

/// Default cap on partial sequences (or count windows) per rule, over all keys.
///
/// Each partial holds the events of its matched stages (shared `Arc`s), so this
/// bounds a rule's event memory: at most this many partials times (stages - 1)
/// events.
pub const DEFAULT_MAX_PARTIALS_PER_RULE: usize = 20_000;

/// Default out-of-order window: events are released in timestamp order once the
/// watermark is this far past them.
///
/// Why 500 ms: auditd logs at syscall exit, so blocking syscalls (a `connect()`
/// waiting for a SYN-ACK, an `execve()` loading a large binary) show up late by
/// milliseconds to a few hundred; half a second covers them while keeping live
/// sequence alerts well under a second late.
pub const DEFAULT_REORDER_WINDOW_NS: i64 = 500_000_000;

/// Default cap on events buffered for reordering per rule. When it overflows,
/// the oldest buffered event is released early (counted as `reorder_overflow`).
pub const DEFAULT_MAX_BUFFERED_EVENTS: usize = 10_000;

/// Limits for one stateful rule's state. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLimits {
    /// Join keys (groups) tracked at once; the least recently used is evicted.
    pub max_keys: usize,
    /// Partial sequences per key; the oldest is evicted.
    pub max_partials_per_key: usize,
    /// Partial sequences (or count windows) per rule; the least recently used
    /// key loses its oldest partial.
    pub max_partials: usize,
    /// Out-of-order tolerance in nanoseconds (0: process events as they come).
    pub reorder_window_ns: i64,
    /// Events held for reordering.
    pub max_buffered: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits {
            max_keys: DEFAULT_MAX_KEYS_PER_RULE,
            max_partials_per_key: DEFAULT_MAX_PARTIALS_PER_KEY,
            max_partials: DEFAULT_MAX_PARTIALS_PER_RULE,
            reorder_window_ns: DEFAULT_REORDER_WINDOW_NS,
            max_buffered: DEFAULT_MAX_BUFFERED_EVENTS,
        }
    }
}

impl StateLimits {
    /// The limits with every cap at least 1 and the window not negative.
    pub fn sanitized(self) -> StateLimits {
        StateLimits {
            max_keys: self.max_keys.max(1),
            max_partials_per_key: self.max_partials_per_key.max(1),
            max_partials: self.max_partials.max(1),
            reorder_window_ns: self.reorder_window_ns.max(0),
            max_buffered: self.max_buffered.max(1),
        }
    }
}

/// Counters of one stateful rule (summed over rules in `EngineStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Keys evicted because the key cap was reached.
    pub evicted_keys: u64,
    /// Partial sequences (or count windows) evicted by a cap.
    pub evicted_partials: u64,
    /// Partial sequences dropped because their span can no longer be met.
    pub expired_partials: u64,
    /// Partial sequences cancelled by an `until` event.
    pub cancelled_partials: u64,
    /// Events older than the reorder window behind the watermark, processed at once.
    pub late_events: u64,
    /// Events released early because the reorder buffer was full.
    pub reorder_overflow: u64,
    /// Keys tracked right now.
    pub keys: u64,
    /// Partial sequences (or count windows) held right now.
    pub partials: u64,
}

impl StateStats {
    /// Adds `o`'s counters (and current sizes) to `self`.
    pub fn add(&mut self, o: &StateStats) {
        self.evicted_keys += o.evicted_keys;
        self.evicted_partials += o.evicted_partials;
        self.expired_partials += o.expired_partials;
        self.cancelled_partials += o.cancelled_partials;
        self.late_events += o.late_events;
        self.reorder_overflow += o.reorder_overflow;
        self.keys += o.keys;
        self.partials += o.partials;
    }
}

/// A join key: the values of the key fields, encoded without loss into one
/// byte string (a tag byte per value, lengths prefixed), so keys compare
/// exactly and cost one allocation.
pub type Key = Arc<[u8]>;

/// Longest join key kept verbatim. A longer one (a group-by on a command line,
/// say) is replaced by a 128-bit hash keyed with per-process random keys, so
/// one rule's key memory stays below `max_keys` times this whatever the
/// events hold; a collision would need 2^64 work against secret keys.
pub const MAX_KEY_BYTES: usize = 256;

const TAG_HASHED: u8 = 0xff;

fn hash_long_key(buf: &mut Vec<u8>) {
    use std::hash::{BuildHasher, Hasher};
    static KEYS: std::sync::OnceLock<[std::collections::hash_map::RandomState; 2]> =
        std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut out = Vec::with_capacity(17);
    out.push(TAG_HASHED);
    for k in keys {
        let mut h = k.build_hasher();
        h.write(buf);
        out.extend_from_slice(&h.finish().to_le_bytes());
    }
    *buf = out;
}

const TAG_ABSENT: u8 = 0;
const TAG_STR: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_LIST: u8 = 3;
const TAG_JSON: u8 = 4;

fn push_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    out.extend_from_slice(b);
}

/// The value of `f` in `ev`: the event field, or for `a[].b` the JSON below it
/// (first path only). JSON `null` reads as absent.
pub fn field_value<'a>(f: &Field, ev: &'a Event) -> Option<FieldValue<'a>> {
    let v = ev.get_ref(&f.base)?;
    if f.inner.is_empty() {
        return match v {
            FieldValue::Json(serde_json::Value::Null) => None,
            v => Some(v),
        };
    }
    let FieldValue::Json(mut cur) = v else {
        return None;
    };
    for k in &f.inner {
        cur = cur.get(k)?;
    }
    match cur {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(FieldValue::Str(s)),
        serde_json::Value::Number(n) if n.is_i64() => n.as_i64().map(FieldValue::Int),
        other => Some(FieldValue::Json(other)),
    }
}

/// Encodes the values of `fields` in `ev` as a [`Key`] into `buf` (cleared first).
///
/// A field the event lacks is encoded as "absent": events that all lack a
/// group-by field group together, and never with an event that has it. (The
/// alternative, "an absent key never matches", would make a rule grouped by
/// `host.id` blind on every auditd log written without `node=`.) Strings
/// compare case-sensitively; an integer and its decimal text are different keys.
pub fn encode_key(fields: &[Field], ev: &Event, buf: &mut Vec<u8>) {
    buf.clear();
    for f in fields {
        let v = field_value(f, ev);
        match v {
            None | Some(FieldValue::Json(serde_json::Value::Null)) => buf.push(TAG_ABSENT),
            Some(FieldValue::Str(s)) => {
                buf.push(TAG_STR);
                push_bytes(buf, s.as_bytes());
            }
            Some(FieldValue::Int(n)) => {
                buf.push(TAG_INT);
                buf.extend_from_slice(&n.to_le_bytes());
            }
            Some(FieldValue::Strs(l)) => {
                buf.push(TAG_LIST);
                buf.extend_from_slice(&(l.len() as u64).to_le_bytes());
                for s in l {
                    push_bytes(buf, s.as_bytes());
                }
            }
            Some(FieldValue::Json(j)) => {
                buf.push(TAG_JSON);
                push_bytes(buf, j.to_string().as_bytes());
            }
        }
    }
    if buf.len() > MAX_KEY_BYTES {
        hash_long_key(buf);
    }
}

const NIL: u32 = u32::MAX;

struct Slot<V> {
    key: Key,
    value: V,
    prev: u32,
    next: u32,
}

/// A map from [`Key`] to per-key state, ordered by last use, with O(1)
/// lookup, touch, insert and removal of the least recently used entry.
pub struct KeyTable<V> {
    map: HashMap<Key, u32>,
    slots: Vec<Option<Slot<V>>>,
    free: Vec<u32>,
    /// Least recently used.
    head: u32,
    /// Most recently used.
    tail: u32,
}

impl<V> Default for KeyTable<V> {
    fn default() -> Self {
        KeyTable {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }
}

impl<V> KeyTable<V> {
    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn slot(&self, i: u32) -> &Slot<V> {
        self.slots[i as usize]
            .as_ref()
            .expect("linked slot is occupied")
    }

    fn slot_mut(&mut self, i: u32) -> &mut Slot<V> {
        self.slots[i as usize]
            .as_mut()
            .expect("linked slot is occupied")
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let s = self.slot(i);
            (s.prev, s.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slot_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slot_mut(next).prev = prev;
        }
    }

    fn link_back(&mut self, i: u32) {
        let tail = self.tail;
        {
            let s = self.slot_mut(i);
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.head = i;
        } else {
            self.slot_mut(tail).next = i;
        }
        self.tail = i;
    }

    /// The state of `key`, marked most recently used.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = *self.map.get(key)?;
        if self.tail != i {
            self.unlink(i);
            self.link_back(i);
        }
        Some(&mut self.slot_mut(i).value)
    }

    /// The state of `key` without touching its recency.
    pub fn peek_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = *self.map.get(key)?;
        Some(&mut self.slot_mut(i).value)
    }

    /// Inserts a new key (which must not be present) as most recently used.
    pub fn insert(&mut self, key: Key, value: V) -> &mut V {
        let slot = Slot {
            key: key.clone(),
            value,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, i);
        self.link_back(i);
        &mut self.slot_mut(i).value
    }

    /// Removes `key`, returning its state.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        let i = self.map.remove(key)?;
        Some(self.take(i))
    }

    fn take(&mut self, i: u32) -> V {
        self.unlink(i);
        let s = self.slots[i as usize].take().expect("occupied");
        self.free.push(i);
        s.value
    }

    /// The least recently used key and its state.
    pub fn oldest_mut(&mut self) -> Option<(&Key, &mut V)> {
        if self.head == NIL {
            return None;
        }
        let s = self.slots[self.head as usize].as_mut()?;
        Some((&s.key, &mut s.value))
    }

    /// Removes the least recently used entry.
    pub fn pop_oldest(&mut self) -> Option<(Key, V)> {
        if self.head == NIL {
            return None;
        }
        let i = self.head;
        let key = self.slot(i).key.clone();
        self.map.remove(&key);
        Some((key, self.take(i)))
    }

    /// Every entry, least recently used first (for checkpoints).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &V)> {
        let mut i = self.head;
        std::iter::from_fn(move || {
            if i == NIL {
                return None;
            }
            let s = self.slots.get(i as usize)?.as_ref()?;
            i = s.next;
            Some((&s.key, &s.value))
        })
    }

    /// Keeps only the entries for which `f` returns true (in recency order).
    pub fn retain(&mut self, mut f: impl FnMut(&Key, &mut V) -> bool) {
        let mut i = self.head;
        while i != NIL {
            let next = self.slot(i).next;
            let keep = {
                let s = self.slot_mut(i);
                f(&s.key.clone(), &mut s.value)
            };
            if !keep {
                let key = self.slot(i).key.clone();
                self.map.remove(&key);
                self.take(i);
            }
            i = next;
        }
        if self.map.is_empty() {
            // Give the memory of a flood back.
            self.slots = Vec::new();
            self.free = Vec::new();
            self.map = HashMap::new();
        }
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        *self = KeyTable::default();
    }
}

/// An event waiting in the reorder buffer, with what the rule already knows about it.
pub struct Pending<T> {
    /// Event time.
    pub ts: i64,
    /// Arrival number (ties in `ts` keep arrival order).
    pub seq: u64,
    /// The event.
    pub event: Arc<Event>,
    /// Rule-specific facts computed on arrival (which stages matched).
    pub info: T,
}

impl<T> PartialEq for Pending<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl<T> Eq for Pending<T> {}
impl<T> PartialOrd for Pending<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Pending<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// Holds events until the watermark is a window past them, then yields them
/// in (timestamp, arrival) order.
pub struct Reorder<T> {
    heap: BinaryHeap<Reverse<Pending<T>>>,
    seq: u64,
    watermark: i64,
    released_up_to: i64,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder {
            heap: BinaryHeap::new(),
            seq: 0,
            watermark: i64::MIN,
            released_up_to: i64::MIN,
        }
    }
}

impl<T> Reorder<T> {
    /// The newest event time seen (or passed to [`Reorder::advance`]).
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Events buffered.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Forgets everything: a new input starts (after end of input).
    pub fn reset(&mut self) {
        *self = Reorder::default();
    }

    /// Moves the watermark forward to `ts` (never back).
    pub fn advance(&mut self, ts: i64) {
        self.watermark = self.watermark.max(ts);
    }

    /// True if an event at `ts` is older than what was already released: it can
    /// no longer be put in order and is processed at once.
    pub fn is_late(&self, ts: i64) -> bool {
        ts < self.released_up_to
    }

    /// The buffered events, in no particular order (for checkpoints).
    pub fn buffered(&self) -> impl Iterator<Item = &Pending<T>> {
        self.heap.iter().map(|r| &r.0)
    }

    /// (watermark, released up to, arrival counter), for checkpoints.
    pub fn clock(&self) -> (i64, i64, u64) {
        (self.watermark, self.released_up_to, self.seq)
    }

    /// Restores what [`clock`](Self::clock) and [`buffered`](Self::buffered)
    /// returned (call on an empty buffer, then [`push_at`](Self::push_at) each event).
    pub fn set_clock(&mut self, watermark: i64, released_up_to: i64, seq: u64) {
        self.watermark = watermark;
        self.released_up_to = released_up_to;
        self.seq = seq;
    }

    /// Buffers a restored event with its original arrival number.
    pub fn push_at(&mut self, ts: i64, seq: u64, event: Arc<Event>, info: T) {
        self.seq = self.seq.max(seq);
        self.heap.push(Reverse(Pending {
            ts,
            seq,
            event,
            info,
        }));
    }

    /// Buffers an event.
    pub fn push(&mut self, ts: i64, event: Arc<Event>, info: T) {
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            ts,
            seq: self.seq,
            event,
            info,
        }));
    }

    /// The next event to process: the oldest one if it is at least `window`
    /// behind the watermark, if `force`, or if more than `cap` are buffered.
    /// The bool says whether it was released early because of the cap.
    pub fn pop_ready(
        &mut self,
        window: i64,
        cap: usize,
        force: bool,
    ) -> Option<(Pending<T>, bool)> {
        let top = self.heap.peek()?;
        let due = top.0.ts <= self.watermark.saturating_sub(window);
        let over = self.heap.len() > cap;
        if !(due || force || over) {
            return None;
        }
        let p = self.heap.pop()?.0;
        self.released_up_to = self.released_up_to.max(p.ts);
        Some((p, over && !due && !force))
    }
}

/// The events a saved state refers to, as ECS JSON, each written once
/// however many entries share it (entries hold its index).
#[derive(Default)]
pub struct SavedEvents {
    json: Vec<serde_json::Value>,
    index: HashMap<*const Event, u32>,
}

impl SavedEvents {
    /// The index of `ev`, writing its JSON on first sight.
    pub fn index(&mut self, ev: &Arc<Event>) -> u32 {
        let json = &mut self.json;
        *self.index.entry(Arc::as_ptr(ev)).or_insert_with(|| {
            json.push(ev.to_json());
            (json.len() - 1) as u32
        })
    }

    /// The events' JSON, in index order.
    pub fn into_json(self) -> Vec<serde_json::Value> {
        self.json
    }
}

/// The events of a saved state (ECS JSON, referenced by index), rebuilt.
pub fn saved_events(ev: &[serde_json::Value]) -> Vec<Arc<Event>> {
    ev.iter().map(|v| Arc::new(Event::from_json(v))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Arc::from(s.as_bytes())
    }

    #[test]
    fn key_table_lru_order() {
        let mut t: KeyTable<u32> = KeyTable::default();
        t.insert(key("a"), 1);
        t.insert(key("b"), 2);
        t.insert(key("c"), 3);
        *t.get_mut(b"a").unwrap() += 10;
        assert_eq!(
            t.pop_oldest().map(|(k, v)| (k.to_vec(), v)),
            Some((b"b".to_vec(), 2))
        );
        assert_eq!(t.remove(b"c"), Some(3));
        assert_eq!(t.len(), 1);
        t.insert(key("d"), 4);
        assert_eq!(t.oldest_mut().map(|(_, v)| *v), Some(11));
        t.retain(|_, v| *v > 10);
        assert_eq!(t.len(), 1);
        assert!(t.peek_mut(b"d").is_none());
        t.retain(|_, _| false);
        assert!(t.is_empty());
        assert!(t.pop_oldest().is_none());
    }

    #[test]
    fn keys_distinguish_absent_empty_and_types() {
        let f = [Field::parse("host.id"), Field::parse("process.pid")];
        let mut a = Vec::new();
        let mut b = Vec::new();
        let mut ev = Event::default();
        encode_key(&f, &ev, &mut a);
        ev.host.id = Some(String::new());
        encode_key(&f, &ev, &mut b);
        assert_ne!(a, b, "absent != empty string");
        ev.host.id = Some("7".into());
        encode_key(&f, &ev, &mut a);
        ev.host.id = None;
        ev.process.pid = Some(7);
        encode_key(&f, &ev, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn long_keys_are_hashed_but_still_distinct() {
        let f = [Field::parse("process.command_line")];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut ev = Event::default();
        ev.process.command_line = Some("x".repeat(10_000));
        encode_key(&f, &ev, &mut a);
        encode_key(&f, &ev, &mut b);
        assert_eq!(a, b);
        assert!(a.len() <= MAX_KEY_BYTES);
        ev.process.command_line = Some("x".repeat(9_999) + "y");
        encode_key(&f, &ev, &mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn reorder_releases_in_time_order_after_window() {
        let mut r: Reorder<()> = Reorder::default();
        let ev = Arc::new(Event::default());
        for ts in [30, 10, 20] {
            r.advance(ts);
            r.push(ts, ev.clone(), ());
        }
        assert!(r.pop_ready(15, 100, false).is_some_and(|(p, _)| p.ts == 10));
        assert!(r.pop_ready(15, 100, false).is_none());
        assert!(r.is_late(5));
        let mut got = Vec::new();
        while let Some((p, _)) = r.pop_ready(15, 100, true) {
            got.push(p.ts);
        }
        assert_eq!(got, vec![20, 30]);
    }
}
