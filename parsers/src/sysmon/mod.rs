//! Windows event logs (Sysmon first, every other channel generically) to ECS.
//!
//! Every input shape is first read into a [`WinEvent`] — the `System` block
//! and the `EventData` name/value pairs of one Windows event, whatever tool
//! exported it — and [`ecs::build`] maps that to an [`Event`](crate::Event).
//! The shapes:
//!
//! | shape | reader |
//! |---|---|
//! | raw `.evtx` | [`evtx::EvtxReader`] (the `evtx` crate, chunk by chunk) |
//! | `evtx_dump` JSON (`{"Event":{"System":…,"EventData":…}}`) | [`shapes::from_evtx_json`] |
//! | Winlogbeat / Elastic Agent (`winlog.*`) | [`shapes::from_winlogbeat`] |
//! | NXLog / OTRF-Mordor flat records | [`shapes::from_flat`] |
//! | PowerShell `Get-WinEvent \| ConvertTo-Json` | [`shapes::from_powershell`] |
//!
//! JSON framing (lines, arrays, concatenated objects) and shape detection
//! live in [`crate::json`].
//!
//! # Field mapping
//!
//! Follows Elastic's Sysmon integration and Elastic Defend's vocabulary; the
//! table is in [`ecs`].

pub mod cmdline;
pub mod ecs;
pub mod evtx;
pub mod shapes;

use serde_json::Value;

/// The Sysmon channel name.
pub const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";

/// One Windows event, as any exporter gave it: the `System` fields and the
/// `EventData` (or flattened `UserData`) pairs in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinEvent {
    /// `System/Provider/@Name`.
    pub provider_name: Option<String>,
    /// `System/Provider/@Guid`.
    pub provider_guid: Option<String>,
    /// `System/EventID`.
    pub event_id: Option<u32>,
    /// `System/Version`.
    pub version: Option<Value>,
    /// `System/Level`.
    pub level: Option<Value>,
    /// `System/Task`.
    pub task: Option<Value>,
    /// `System/Opcode`.
    pub opcode: Option<Value>,
    /// `System/Keywords`.
    pub keywords: Option<Value>,
    /// `System/EventRecordID`.
    pub record_id: Option<u64>,
    /// `System/Channel`.
    pub channel: Option<String>,
    /// `System/Computer`.
    pub computer: Option<String>,
    /// `System/TimeCreated/@SystemTime`, ns since the epoch.
    pub time_created_ns: Option<i64>,
    /// `System/Execution/@ProcessID` (the process that logged the event).
    pub process_id: Option<i64>,
    /// `System/Execution/@ThreadID`.
    pub thread_id: Option<i64>,
    /// `System/Security/@UserID` (a SID).
    pub user_sid: Option<String>,
    /// `EventData` (or flattened `UserData`), values as text.
    pub event_data: Vec<(String, String)>,
    /// The rendered message, when the exporter kept it.
    pub message: Option<String>,
    /// Shape-specific fields kept verbatim (dotted path -> value).
    pub extra: Vec<(String, Value)>,
}

impl WinEvent {
    /// The `EventData` value named `name` (first occurrence, exact name).
    pub fn data(&self, name: &str) -> Option<&str> {
        self.event_data
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Like [`WinEvent::data`], but `None` for the placeholders Sysmon writes
    /// for unknown values (empty, `-`).
    pub fn known(&self, name: &str) -> Option<&str> {
        self.data(name).filter(|v| !v.is_empty() && *v != "-")
    }

    /// Case-insensitive [`WinEvent::known`] (exporters disagree on
    /// `ProcessGuid` vs `ProcessGUID`).
    pub fn known_ci(&self, name: &str) -> Option<&str> {
        self.known(name).or_else(|| {
            self.event_data
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty() && *v != "-")
        })
    }

    /// True for events of the Sysmon channel (or provider).
    pub fn is_sysmon(&self) -> bool {
        self.channel
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case(SYSMON_CHANNEL))
            || self
                .provider_name
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case("Microsoft-Windows-Sysmon"))
    }
}

/// A JSON scalar as event-data text: strings as they are, numbers in decimal,
/// booleans as `true`/`false`, null as empty; arrays and objects as compact JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}
