//! Linux auditd: `audit.log` text (raw or enriched) to ECS events.
//!
//! STUB: filled in by the auditd parser work (line.rs, coalesce.rs, ecs.rs, proctable.rs).

use crate::{Event, Location, ParseError, Parser};

/// True if `head` (the first bytes of an input) looks like audit.log text.
pub fn looks_like_auditd(head: &[u8]) -> bool {
    memchr::memmem::find(head, b"msg=audit(").is_some()
}

/// The auditd push parser: lines in, one event per completed audit event out.
#[derive(Debug, Default)]
pub struct AuditdParser {}

impl AuditdParser {
    /// A parser with default limits.
    pub fn new() -> Self {
        AuditdParser {}
    }
}

impl Parser for AuditdParser {
    fn feed(
        &mut self,
        _line: &[u8],
        _loc: Location,
        _out: &mut dyn FnMut(Event),
    ) -> Result<(), ParseError> {
        Ok(())
    }

    fn flush(&mut self, _out: &mut dyn FnMut(Event)) {}
}
