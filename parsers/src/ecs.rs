//! The normalized event: a subset of the Elastic Common Schema (ECS) as typed
//! fields, plus every other field the source gave as raw values.
//!
//! Typed fields hold what rules and outputs touch on every event; the rest
//! stays under `extra`, keyed by dotted ECS-style path (`auditd.data.syscall`,
//! `auditd.records`, ...), so `tripline convert` loses nothing and a rule can
//! still ask for a raw field.
//!
//! # Design rationale
//!
//! Rules name fields as strings. The engine resolves each name once, at rule
//! compile time, into a [`FieldRef`]; reading a field from an event is then a
//! `match`, not a string hash. Only fields outside the typed set go through the
//! `extra` map.
//!
//! A parser may keep raw fields out of `extra` in its own compact form, as
//! [`LazyFields`] in [`Event::lazy`]: the auditd parser keeps every record's
//! decoded fields in one buffer instead of building `auditd.data.*` and
//! `auditd.records` as JSON values for every event. Rules read them
//! directly ([`Event::get_ref`], [`Event::lazy_value`]); the JSON values are
//! made once, on first need, when an output writes the event.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

/// One normalized event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// `@timestamp`, nanoseconds since the Unix epoch (UTC).
    pub timestamp_ns: i64,
    /// `event.*`.
    pub event: EventMeta,
    /// `host.*`.
    pub host: Host,
    /// `process.*` (and `process.parent.*`).
    pub process: Process,
    /// `user.*`.
    pub user: User,
    /// `source.*`.
    pub source: Endpoint,
    /// `destination.*`.
    pub destination: Endpoint,
    /// `network.*`.
    pub network: Network,
    /// `dns.question.name`.
    pub dns_question_name: Option<String>,
    /// `url.*`.
    pub url: Url,
    /// `file.path`.
    pub file_path: Option<String>,
    /// `message`.
    pub message: Option<String>,
    /// Every other field, keyed by dotted path. Values are JSON.
    pub extra: BTreeMap<String, Value>,
    /// More raw fields, in the parser's compact form (see [`LazyFields`]).
    /// A path is in `extra` or here, never in both.
    pub lazy: Option<LazyFields>,
}

/// What a [`LazySource`] holds at a path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LazyGet<'a> {
    /// Nothing (or JSON `null`, which rules read as absent).
    Absent,
    /// A scalar (or a list of strings), borrowed from the compact form.
    Scalar(FieldValue<'a>),
    /// A structured value (objects, arrays of objects): read it with
    /// [`LazyValue`], or as JSON through [`LazyFields::json`].
    Structured,
}

/// Raw fields a parser keeps in its own compact form, turned into JSON only
/// when something needs JSON (see the module docs).
///
/// Implementations must agree with themselves: [`materialize`](Self::materialize)
/// is the truth (what `extra` would have held), and the other methods read
/// the same values without building it.
pub trait LazySource: Send + Sync + fmt::Debug {
    /// The value at dotted `path`.
    fn get(&self, path: &str) -> LazyGet<'_>;

    /// Every path this source holds, with its JSON value.
    fn materialize(&self, out: &mut BTreeMap<String, Value>);

    /// About how many bytes of memory the source holds (what a bounded
    /// queue of events charges for it; see [`Event::approx_bytes`]).
    fn heap_bytes(&self) -> usize;

    /// For a [`LazyGet::Structured`] path: calls `f` with the text of every
    /// string leaf (at any depth), as the prefilter scans a JSON value.
    /// Leaves that are not strings may be left out only if the source never
    /// has any.
    fn for_each_text(&self, path: &str, f: &mut dyn FnMut(&str));

    /// For a [`LazyGet::Structured`] path: the leaves at the keys `inner`
    /// below it, arrays searched element by element (the matcher's
    /// `field[].inner` paths), passed as text to `f` until it returns true.
    /// `Some(None)` when there is no such leaf (JSON `null` counts as none),
    /// `Some(Some(held))` otherwise; `None` when the source cannot answer
    /// without JSON (the caller then reads [`LazyFields::json`]). Only valid
    /// when every leaf at `inner` is a string or `null`.
    fn any_leaf(
        &self,
        path: &str,
        inner: &[String],
        f: &mut dyn FnMut(&str) -> bool,
    ) -> Option<Option<bool>> {
        let _ = (path, inner, f);
        None
    }

    /// The top-level member (`auditd`) this source holds whole and can
    /// write itself with [`write_member`](Self::write_member), so that
    /// writing the event needs no JSON values; `None` (the default) when it
    /// cannot, and output goes through [`materialize`](Self::materialize).
    /// No path of [`Event::extra`] may start with it.
    fn json_member(&self) -> Option<&str> {
        None
    }

    /// Appends the JSON value of [`json_member`](Self::json_member): byte
    /// for byte the member of the [`materialize`](Self::materialize)d
    /// paths nested, with the keys of every object sorted. Only called when
    /// `json_member` returned a name.
    fn write_member(&self, w: &mut Vec<u8>) {
        let _ = w;
    }
}

/// An event's [`LazySource`] and, once something asked for it, its JSON.
#[derive(Clone)]
pub struct LazyFields {
    src: Arc<dyn LazySource>,
    json: OnceLock<BTreeMap<String, Value>>,
}

impl LazyFields {
    /// Wraps a source.
    pub fn new(src: impl LazySource + 'static) -> LazyFields {
        LazyFields {
            src: Arc::new(src),
            json: OnceLock::new(),
        }
    }

    /// The source.
    pub fn source(&self) -> &dyn LazySource {
        &*self.src
    }

    /// Every field as JSON, keyed by dotted path (built on the first call).
    pub fn json(&self) -> &BTreeMap<String, Value> {
        self.json.get_or_init(|| {
            let mut m = BTreeMap::new();
            self.src.materialize(&mut m);
            m
        })
    }

    /// About how many bytes the source and, once made, its JSON hold.
    pub fn approx_bytes(&self) -> usize {
        self.src.heap_bytes()
            + self.json.get().map_or(0, |m| {
                m.iter()
                    .map(|(k, v)| k.len() + json_bytes(v))
                    .sum::<usize>()
            })
    }

    /// Reads `path` as a rule does (`null` is absent).
    pub fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        match self.src.get(path) {
            LazyGet::Absent => None,
            LazyGet::Scalar(v) => Some(v),
            LazyGet::Structured => self.json().get(path).and_then(json_field),
        }
    }
}

impl fmt::Debug for LazyFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyFields").field(self.json()).finish()
    }
}

impl PartialEq for LazyFields {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// A structured field still in its source's compact form (see [`Event::lazy_value`]).
#[derive(Clone, Copy)]
pub struct LazyValue<'a> {
    src: &'a dyn LazySource,
    path: &'a str,
}

impl LazyValue<'_> {
    /// Calls `f` with the text of every string leaf (see [`LazySource::for_each_text`]).
    pub fn for_each_text(&self, f: &mut dyn FnMut(&str)) {
        self.src.for_each_text(self.path, f);
    }

    /// The leaves at `inner` as text (see [`LazySource::any_leaf`]).
    pub fn any_leaf(
        &self,
        inner: &[String],
        f: &mut dyn FnMut(&str) -> bool,
    ) -> Option<Option<bool>> {
        self.src.any_leaf(self.path, inner, f)
    }
}

impl fmt::Debug for LazyValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyValue")
            .field("path", &self.path)
            .finish()
    }
}

/// A JSON value as a rule reads it (`null` is absent).
fn json_field(v: &Value) -> Option<FieldValue<'_>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(FieldValue::Str(s)),
        Value::Number(n) if n.is_i64() => n.as_i64().map(FieldValue::Int),
        other => Some(FieldValue::Json(other)),
    }
}

/// `event.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventMeta {
    /// `event.kind` (`event` for parsed records; `alert` is set on alerts).
    pub kind: Option<String>,
    /// `event.category` (an array in ECS).
    pub category: Vec<String>,
    /// `event.type` (an array in ECS).
    pub type_: Vec<String>,
    /// `event.action`.
    pub action: Option<String>,
    /// `event.outcome`: `success`, `failure` or `unknown`.
    pub outcome: Option<String>,
    /// `event.module` (`auditd`, `sysmon`, ...).
    pub module: Option<String>,
    /// `event.dataset`.
    pub dataset: Option<String>,
    /// `event.sequence`: the source's own sequence number (auditd serial).
    pub sequence: Option<i64>,
}

/// `host.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Host {
    /// `host.id`.
    pub id: Option<String>,
    /// `host.name`.
    pub name: Option<String>,
    /// `host.os.type`: `linux`, `windows` or `macos`.
    pub os_type: Option<String>,
}

/// `process.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    /// `process.pid`.
    pub pid: Option<i64>,
    /// `process.entity_id`: stable id of this process instance.
    pub entity_id: Option<String>,
    /// `process.name`.
    pub name: Option<String>,
    /// `process.executable`.
    pub executable: Option<String>,
    /// `process.args`.
    pub args: Vec<String>,
    /// `process.args_count`.
    pub args_count: Option<i64>,
    /// `process.command_line`.
    pub command_line: Option<String>,
    /// `process.working_directory`.
    pub working_directory: Option<String>,
    /// `process.title` (auditd PROCTITLE).
    pub title: Option<String>,
    /// `process.parent.*`.
    pub parent: Parent,
}

/// `process.parent.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parent {
    /// `process.parent.pid`.
    pub pid: Option<i64>,
    /// `process.parent.entity_id`.
    pub entity_id: Option<String>,
    /// `process.parent.name`.
    pub name: Option<String>,
    /// `process.parent.executable`.
    pub executable: Option<String>,
    /// `process.parent.command_line`.
    pub command_line: Option<String>,
    /// `process.parent.args`.
    pub args: Vec<String>,
}

/// `user.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    /// `user.id`.
    pub id: Option<String>,
    /// `user.name`.
    pub name: Option<String>,
}

/// `source.*` / `destination.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoint {
    /// `*.ip`.
    pub ip: Option<String>,
    /// `*.port`.
    pub port: Option<i64>,
    /// `*.address` (an IP, a domain or a unix socket path).
    pub address: Option<String>,
    /// `*.domain`.
    pub domain: Option<String>,
}

/// `network.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Network {
    /// `network.transport` (`tcp`, `udp`, ...).
    pub transport: Option<String>,
    /// `network.direction` (`egress`, `ingress`, ...).
    pub direction: Option<String>,
    /// `network.type` (`ipv4`, `ipv6`).
    pub type_: Option<String>,
}

/// `url.*` fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Url {
    /// `url.original`.
    pub original: Option<String>,
    /// `url.domain`.
    pub domain: Option<String>,
    /// `url.path`.
    pub path: Option<String>,
}

/// A borrowed field value, as rules see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string.
    Str(&'a str),
    /// An integer.
    Int(i64),
    /// A list of strings (`process.args`, `event.category`).
    Strs(&'a [String]),
    /// Any other JSON value from `extra`.
    Json(&'a Value),
}

macro_rules! known_fields {
    ($( $variant:ident => $path:literal ),* $(,)?) => {
        /// A typed field of [`Event`], named by its ECS path.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Known { $( $variant ),* }

        impl Known {
            /// Every typed field.
            pub const ALL: &'static [Known] = &[ $( Known::$variant ),* ];

            /// The field's ECS path.
            pub fn path(self) -> &'static str {
                match self { $( Known::$variant => $path ),* }
            }

            /// The typed field with this ECS path.
            pub fn from_path(path: &str) -> Option<Known> {
                match path { $( $path => Some(Known::$variant), )* _ => None }
            }
        }
    };
}

known_fields! {
    Timestamp => "@timestamp",
    EventKind => "event.kind",
    EventCategory => "event.category",
    EventType => "event.type",
    EventAction => "event.action",
    EventOutcome => "event.outcome",
    EventModule => "event.module",
    EventDataset => "event.dataset",
    EventSequence => "event.sequence",
    HostId => "host.id",
    HostName => "host.name",
    HostOsType => "host.os.type",
    ProcessPid => "process.pid",
    ProcessEntityId => "process.entity_id",
    ProcessName => "process.name",
    ProcessExecutable => "process.executable",
    ProcessArgs => "process.args",
    ProcessArgsCount => "process.args_count",
    ProcessCommandLine => "process.command_line",
    ProcessWorkingDirectory => "process.working_directory",
    ProcessTitle => "process.title",
    ParentPid => "process.parent.pid",
    ParentEntityId => "process.parent.entity_id",
    ParentName => "process.parent.name",
    ParentExecutable => "process.parent.executable",
    ParentCommandLine => "process.parent.command_line",
    ParentArgs => "process.parent.args",
    UserId => "user.id",
    UserName => "user.name",
    SourceIp => "source.ip",
    SourcePort => "source.port",
    SourceAddress => "source.address",
    SourceDomain => "source.domain",
    DestinationIp => "destination.ip",
    DestinationPort => "destination.port",
    DestinationAddress => "destination.address",
    DestinationDomain => "destination.domain",
    NetworkTransport => "network.transport",
    NetworkDirection => "network.direction",
    NetworkType => "network.type",
    DnsQuestionName => "dns.question.name",
    UrlOriginal => "url.original",
    UrlDomain => "url.domain",
    UrlPath => "url.path",
    FilePath => "file.path",
    Message => "message",
}

/// A field name resolved once, at rule compile time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// One of the typed fields.
    Known(Known),
    /// A dotted path looked up in [`Event::extra`].
    Extra(String),
}

impl FieldRef {
    /// Resolves a dotted ECS path.
    pub fn resolve(path: &str) -> FieldRef {
        match Known::from_path(path) {
            Some(k) => FieldRef::Known(k),
            None => FieldRef::Extra(path.to_string()),
        }
    }

    /// The dotted path this reference names.
    pub fn path(&self) -> &str {
        match self {
            FieldRef::Known(k) => k.path(),
            FieldRef::Extra(p) => p,
        }
    }
}

fn s(v: &Option<String>) -> Option<FieldValue<'_>> {
    v.as_deref().map(FieldValue::Str)
}

fn i(v: Option<i64>) -> Option<FieldValue<'static>> {
    v.map(FieldValue::Int)
}

fn list(v: &[String]) -> Option<FieldValue<'_>> {
    if v.is_empty() {
        None
    } else {
        Some(FieldValue::Strs(v))
    }
}

/// About how many bytes a JSON value holds (strings, keys and a node each).
fn json_bytes(v: &Value) -> usize {
    const NODE: usize = std::mem::size_of::<Value>();
    NODE + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(json_bytes).sum(),
        Value::Object(o) => o.iter().map(|(k, v)| k.len() + NODE + json_bytes(v)).sum(),
        _ => 0,
    }
}

impl Event {
    /// About how many bytes of memory the event holds: its strings, lists,
    /// raw fields and lazy source (an estimate for memory budgets: queues
    /// that hold events charge this, so a few huge events cannot slip past
    /// a budget set for typical ones).
    pub fn approx_bytes(&self) -> usize {
        fn o(s: &Option<String>) -> usize {
            s.as_ref().map_or(0, String::len)
        }
        fn l(v: &[String]) -> usize {
            v.iter()
                .map(|s| s.len() + std::mem::size_of::<String>())
                .sum()
        }
        let e = &self.event;
        let p = &self.process;
        let strings = [
            &e.kind,
            &e.action,
            &e.outcome,
            &e.module,
            &e.dataset,
            &self.host.id,
            &self.host.name,
            &self.host.os_type,
            &p.entity_id,
            &p.name,
            &p.executable,
            &p.command_line,
            &p.working_directory,
            &p.title,
            &p.parent.entity_id,
            &p.parent.name,
            &p.parent.executable,
            &p.parent.command_line,
            &self.user.id,
            &self.user.name,
            &self.source.ip,
            &self.source.address,
            &self.source.domain,
            &self.destination.ip,
            &self.destination.address,
            &self.destination.domain,
            &self.network.transport,
            &self.network.direction,
            &self.network.type_,
            &self.dns_question_name,
            &self.url.original,
            &self.url.domain,
            &self.url.path,
            &self.file_path,
            &self.message,
        ];
        std::mem::size_of::<Event>()
            + strings.iter().map(|s| o(s)).sum::<usize>()
            + l(&e.category)
            + l(&e.type_)
            + l(&p.args)
            + l(&p.parent.args)
            + self
                .extra
                .iter()
                .map(|(k, v)| k.len() + json_bytes(v))
                .sum::<usize>()
            + self.lazy.as_ref().map_or(0, LazyFields::approx_bytes)
    }

    /// Reads a field by dotted path (resolves the path on every call; rules
    /// use [`Event::get_ref`] with a pre-resolved [`FieldRef`]).
    pub fn get(&self, path: &str) -> Option<FieldValue<'_>> {
        self.get_ref(&FieldRef::resolve(path))
    }

    /// Reads a pre-resolved field.
    pub fn get_ref(&self, field: &FieldRef) -> Option<FieldValue<'_>> {
        match field {
            FieldRef::Known(k) => self.get_known(*k),
            FieldRef::Extra(p) => match self.extra.get(p.as_str()) {
                Some(v) => json_field(v),
                None => self.lazy.as_ref().and_then(|l| l.get(p)),
            },
        }
    }

    /// `field` when it is a structured value still in compact form (auditd's
    /// `auditd.records`): its leaves can be read without building JSON.
    /// `None` for every other field (read those with [`Event::get_ref`]).
    pub fn lazy_value<'a>(&'a self, field: &'a FieldRef) -> Option<LazyValue<'a>> {
        let FieldRef::Extra(p) = field else {
            return None;
        };
        let src = self.lazy.as_ref()?.source();
        matches!(src.get(p), LazyGet::Structured).then_some(LazyValue { src, path: p })
    }

    /// The raw field at dotted `path` as JSON, from [`Event::extra`] or [`Event::lazy`].
    pub fn extra_value(&self, path: &str) -> Option<&Value> {
        self.extra
            .get(path)
            .or_else(|| self.lazy.as_ref().and_then(|l| l.json().get(path)))
    }

    /// Every raw field ([`Event::extra`] and [`Event::lazy`]) in path order,
    /// as one map would hold them.
    pub fn extra_fields(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        let mut a = self.extra.iter().peekable();
        let mut b = self
            .lazy
            .as_ref()
            .map(|l| l.json().iter())
            .into_iter()
            .flatten()
            .peekable();
        std::iter::from_fn(move || {
            let order = match (a.peek(), b.peek()) {
                (None, None) => return None,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(x), Some(y)) => x.0.cmp(y.0),
            };
            if order == std::cmp::Ordering::Equal {
                // Not supposed to happen: `extra` wins.
                b.next();
            }
            let take_a = order != std::cmp::Ordering::Greater;
            let (k, v) = if take_a { a.next()? } else { b.next()? };
            Some((k.as_str(), v))
        })
    }

    /// Reads a typed field.
    pub fn get_known(&self, k: Known) -> Option<FieldValue<'_>> {
        use Known::*;
        match k {
            Timestamp => Some(FieldValue::Int(self.timestamp_ns)),
            EventKind => s(&self.event.kind),
            EventCategory => list(&self.event.category),
            EventType => list(&self.event.type_),
            EventAction => s(&self.event.action),
            EventOutcome => s(&self.event.outcome),
            EventModule => s(&self.event.module),
            EventDataset => s(&self.event.dataset),
            EventSequence => i(self.event.sequence),
            HostId => s(&self.host.id),
            HostName => s(&self.host.name),
            HostOsType => s(&self.host.os_type),
            ProcessPid => i(self.process.pid),
            ProcessEntityId => s(&self.process.entity_id),
            ProcessName => s(&self.process.name),
            ProcessExecutable => s(&self.process.executable),
            ProcessArgs => list(&self.process.args),
            ProcessArgsCount => i(self.process.args_count),
            ProcessCommandLine => s(&self.process.command_line),
            ProcessWorkingDirectory => s(&self.process.working_directory),
            ProcessTitle => s(&self.process.title),
            ParentPid => i(self.process.parent.pid),
            ParentEntityId => s(&self.process.parent.entity_id),
            ParentName => s(&self.process.parent.name),
            ParentExecutable => s(&self.process.parent.executable),
            ParentCommandLine => s(&self.process.parent.command_line),
            ParentArgs => list(&self.process.parent.args),
            UserId => s(&self.user.id),
            UserName => s(&self.user.name),
            SourceIp => s(&self.source.ip),
            SourcePort => i(self.source.port),
            SourceAddress => s(&self.source.address),
            SourceDomain => s(&self.source.domain),
            DestinationIp => s(&self.destination.ip),
            DestinationPort => i(self.destination.port),
            DestinationAddress => s(&self.destination.address),
            DestinationDomain => s(&self.destination.domain),
            NetworkTransport => s(&self.network.transport),
            NetworkDirection => s(&self.network.direction),
            NetworkType => s(&self.network.type_),
            DnsQuestionName => s(&self.dns_question_name),
            UrlOriginal => s(&self.url.original),
            UrlDomain => s(&self.url.domain),
            UrlPath => s(&self.url.path),
            FilePath => s(&self.file_path),
            Message => s(&self.message),
        }
    }

    /// `@timestamp` as RFC 3339 with millisecond (or finer, when present) precision.
    pub fn timestamp_rfc3339(&self) -> String {
        format_timestamp(self.timestamp_ns)
    }

    /// The event as a nested ECS JSON document (`tripline convert` output).
    pub fn to_json(&self) -> Value {
        let mut root = Map::new();
        root.insert("@timestamp".into(), Value::String(self.timestamp_rfc3339()));
        for &k in Known::ALL {
            if k == Known::Timestamp {
                continue;
            }
            let v = match self.get_known(k) {
                None => continue,
                Some(FieldValue::Str(s)) => Value::String(s.to_string()),
                Some(FieldValue::Int(n)) => Value::from(n),
                Some(FieldValue::Strs(l)) => Value::from(l.to_vec()),
                Some(FieldValue::Json(j)) => j.clone(),
            };
            insert_path(&mut root, k.path(), v);
        }
        for (path, v) in self.extra_fields() {
            insert_path(&mut root, path, v.clone());
        }
        let mut doc = Value::Object(root);
        // Keys sorted at every level, whether or not serde_json's
        // `preserve_order` feature is on (the `evtx` crate turns it on for the
        // whole build): output stays byte-stable across builds.
        doc.sort_all_objects();
        doc
    }
}

impl Event {
    /// Builds an event from an ECS JSON document (nested or dotted keys).
    ///
    /// Typed fields are filled from their ECS paths; every other leaf is kept in
    /// [`Event::extra`] under its dotted path. `@timestamp` is parsed as RFC 3339.
    /// Used for rule test cases and for ECS JSON input.
    pub fn from_json(doc: &Value) -> Event {
        let mut flat = Vec::new();
        flatten("", doc, &mut flat);
        let mut ev = Event::default();
        for (path, v) in flat {
            if !ev.set_path(&path, &v) {
                ev.extra.insert(path, v);
            }
        }
        ev
    }

    /// Sets a typed field from a JSON value; false if `path` is not a typed
    /// field or the value has the wrong shape (the caller keeps it raw).
    pub fn set_path(&mut self, path: &str, v: &Value) -> bool {
        let Some(k) = Known::from_path(path) else {
            return false;
        };
        let st = || match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let int = || match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        };
        let strs = || match v {
            Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>(),
            Value::String(s) => Some(vec![s.clone()]),
            _ => None,
        };
        macro_rules! set {
            ($dst:expr, $f:expr) => {
                match $f() {
                    Some(x) => {
                        $dst = x.into();
                        true
                    }
                    None => false,
                }
            };
        }
        use Known::*;
        match k {
            Timestamp => match v {
                Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
                    Ok(dt) => {
                        self.timestamp_ns = dt.timestamp_nanos_opt().unwrap_or(0);
                        true
                    }
                    Err(_) => false,
                },
                Value::Number(n) => match n.as_i64() {
                    Some(ms) => {
                        self.timestamp_ns = ms.saturating_mul(1_000_000);
                        true
                    }
                    None => false,
                },
                _ => false,
            },
            EventKind => set!(self.event.kind, st),
            EventCategory => set!(self.event.category, strs),
            EventType => set!(self.event.type_, strs),
            EventAction => set!(self.event.action, st),
            EventOutcome => set!(self.event.outcome, st),
            EventModule => set!(self.event.module, st),
            EventDataset => set!(self.event.dataset, st),
            EventSequence => set!(self.event.sequence, int),
            HostId => set!(self.host.id, st),
            HostName => set!(self.host.name, st),
            HostOsType => set!(self.host.os_type, st),
            ProcessPid => set!(self.process.pid, int),
            ProcessEntityId => set!(self.process.entity_id, st),
            ProcessName => set!(self.process.name, st),
            ProcessExecutable => set!(self.process.executable, st),
            ProcessArgs => set!(self.process.args, strs),
            ProcessArgsCount => set!(self.process.args_count, int),
            ProcessCommandLine => set!(self.process.command_line, st),
            ProcessWorkingDirectory => set!(self.process.working_directory, st),
            ProcessTitle => set!(self.process.title, st),
            ParentPid => set!(self.process.parent.pid, int),
            ParentEntityId => set!(self.process.parent.entity_id, st),
            ParentName => set!(self.process.parent.name, st),
            ParentExecutable => set!(self.process.parent.executable, st),
            ParentCommandLine => set!(self.process.parent.command_line, st),
            ParentArgs => set!(self.process.parent.args, strs),
            UserId => set!(self.user.id, st),
            UserName => set!(self.user.name, st),
            SourceIp => set!(self.source.ip, st),
            SourcePort => set!(self.source.port, int),
            SourceAddress => set!(self.source.address, st),
            SourceDomain => set!(self.source.domain, st),
            DestinationIp => set!(self.destination.ip, st),
            DestinationPort => set!(self.destination.port, int),
            DestinationAddress => set!(self.destination.address, st),
            DestinationDomain => set!(self.destination.domain, st),
            NetworkTransport => set!(self.network.transport, st),
            NetworkDirection => set!(self.network.direction, st),
            NetworkType => set!(self.network.type_, st),
            DnsQuestionName => set!(self.dns_question_name, st),
            UrlOriginal => set!(self.url.original, st),
            UrlDomain => set!(self.url.domain, st),
            UrlPath => set!(self.url.path, st),
            FilePath => set!(self.file_path, st),
            Message => set!(self.message, st),
        }
    }
}

/// Flattens nested JSON objects into (dotted path, leaf) pairs. Arrays are leaves.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        _ if prefix.is_empty() => {}
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC (`2024-01-02T03:04:05.678Z`).
pub fn format_timestamp(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(dt) => {
            if nanos.is_multiple_of(1_000_000) {
                dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            } else {
                dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
            }
        }
        None => "1970-01-01T00:00:00.000Z".to_string(),
    }
}

/// Inserts `v` at dotted `path` into a nested JSON object, creating objects on
/// the way. A path that runs into a non-object keeps the dotted remainder as a
/// flat key, so nothing is ever dropped.
pub fn insert_path(root: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            // Look up before inserting: an owned key is only made for a new
            // object, and most heads (`auditd`, `process`) already exist.
            match root.get_mut(head) {
                Some(Value::Object(m)) => insert_path(m, rest, v),
                Some(_) => {
                    root.insert(path.to_string(), v);
                }
                None => {
                    let mut m = Map::new();
                    insert_path(&mut m, rest, v);
                    root.insert(head.to_string(), Value::Object(m));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn approx_bytes_counts_what_the_event_holds() {
        let small = Event::default().approx_bytes();
        let mut ev = Event::default();
        ev.process.command_line = Some("x".repeat(10 << 20));
        ev.process.args = vec!["y".repeat(1 << 20); 3];
        ev.extra
            .insert("auditd.data.a0".into(), Value::from("z".repeat(1 << 20)));
        let big = ev.approx_bytes();
        assert!(big >= small + (14 << 20), "{small} -> {big}");
        assert!(big < small + (15 << 20), "{small} -> {big}");
    }

    use super::*;

    #[test]
    fn known_paths_round_trip() {
        for &k in Known::ALL {
            assert_eq!(Known::from_path(k.path()), Some(k));
        }
    }

    #[test]
    fn to_json_nests_and_keeps_extra() {
        let mut ev = Event::default();
        ev.process.parent.pid = Some(7);
        ev.extra
            .insert("auditd.data.syscall".into(), Value::from("connect"));
        let j = ev.to_json();
        assert_eq!(j["process"]["parent"]["pid"], 7);
        assert_eq!(j["auditd"]["data"]["syscall"], "connect");
        assert_eq!(j["@timestamp"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn from_json_round_trips() {
        let doc = serde_json::json!({
            "@timestamp": "2024-05-06T07:08:09.123Z",
            "event": {"category": ["process"], "type": ["start"], "action": "exec"},
            "process": {"pid": 42, "args": ["curl", "-s"], "parent": {"executable": "/bin/sh"}},
            "auditd": {"data": {"syscall": "execve"}},
            "destination.ip": "169.254.169.254"
        });
        let ev = Event::from_json(&doc);
        assert_eq!(ev.process.pid, Some(42));
        assert_eq!(ev.process.args, vec!["curl", "-s"]);
        assert_eq!(ev.process.parent.executable.as_deref(), Some("/bin/sh"));
        assert_eq!(ev.destination.ip.as_deref(), Some("169.254.169.254"));
        assert_eq!(
            ev.get("auditd.data.syscall"),
            Some(FieldValue::Str("execve"))
        );
        assert_eq!(ev.timestamp_rfc3339(), "2024-05-06T07:08:09.123Z");
        assert_eq!(Event::from_json(&ev.to_json()), ev);
    }

    #[test]
    fn extra_lookup() {
        let mut ev = Event::default();
        ev.extra.insert("auditd.data.a0".into(), Value::from("3"));
        assert_eq!(ev.get("auditd.data.a0"), Some(FieldValue::Str("3")));
        assert_eq!(ev.get("process.name"), None);
    }
}
