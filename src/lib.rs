//! tripline's engine: rules, matcher, sequence joiner, alerts and sinks.
//!
//! Data flows one way: a source yields bytes, a [`tripline_parsers::Parser`]
//! turns them into ECS [`Event`]s, the [`engine::Engine`] runs the compiled
//! [`rule::RuleSet`] over each event and pushes [`alert::Alert`]s into a
//! [`sink::AlertSink`].
//!
//! The CLI lives in `main.rs` and its modules; nothing here parses arguments.
#![deny(missing_docs)]

pub mod alert;
pub mod engine;
pub mod filter;
pub mod pipeline;
pub mod platform;
pub mod rule;
pub mod sink;
pub mod source;
pub mod tune;

pub use tripline_parsers::{Event, Format};
