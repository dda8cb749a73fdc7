//! The engine: runs a compiled [`RuleSet`] over events and emits alerts.
//!
//! Single-event rules are evaluated exactly on every event ([`matcher`]).
//! Stateful rules (sequences and counts, [`sequence`], [`count`]) then see the
//! event together with those results; their alerts can come later, from
//! [`Engine::expire`] or [`Engine::flush`].

pub mod count;
pub mod matcher;
pub mod prefilter;
pub mod sequence;
pub mod state;
pub mod window;

use std::sync::Arc;

use tripline_parsers::Event;

use crate::alert::Alert;
use crate::rule::{RuleKind, RuleSet};

/// Counters reported in the run summary.
#[derive(Debug, Clone, Default)]
pub struct EngineStats {
    /// Events seen.
    pub events: u64,
    /// Exact single-event rule evaluations performed (the prefilter's candidates).
    pub evaluations: u64,
    /// Exact evaluations that matched (confirmed candidates).
    pub confirmed: u64,
    /// Single-event rule evaluations without a prefilter (events x single-event rules).
    pub possible: u64,
    /// Alerts emitted.
    pub alerts: u64,
    /// Sequence and count state: evictions, expiries, late events, current size.
    pub state: window::StateStats,
}

/// How the engine narrows the rules to evaluate per event (see [`prefilter`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PrefilterMode {
    /// Evaluate only the prefilter's candidates (the default).
    #[default]
    On,
    /// No prefilter: evaluate every rule on every event (`--no-prefilter`).
    Off,
    /// Run the prefilter but treat every rule as a candidate (tests the
    /// candidate path; compare ripgrep's `every_line_is_candidate`).
    AllCandidates,
}

/// Engine options.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// The prefilter mode.
    pub prefilter: PrefilterMode,
    /// Sequence and count state limits.
    pub limits: window::StateLimits,
}

/// Runs rules over events.
pub struct Engine {
    rules: RuleSet,
    mode: PrefilterMode,
    /// Shared with the [`Engine::worker`]s (immutable; per-event state is in `scratch`).
    prefilter: Option<Arc<prefilter::Prefilter>>,
    scratch: prefilter::Scratch,
    /// Candidate rule indices of the current event (reused).
    candidates: Vec<u32>,
    /// Every single-event rule index (the candidates without a prefilter).
    singles: Vec<u32>,
    stats: EngineStats,
    stateful: state::StatefulRules,
    /// What the stateful rules look at (`None` without stateful rules);
    /// shared with the [`Engine::worker`]s.
    needs: Option<Arc<state::StatefulNeeds>>,
    /// Per single-event rule: did it match the current event (for stateful rules).
    hits: Vec<bool>,
}

impl Engine {
    /// An engine over `rules`.
    pub fn new(rules: RuleSet) -> Self {
        Engine::with_limits(rules, window::StateLimits::default())
    }

    /// An engine over `rules` whose stateful rules keep state within `limits`.
    pub fn with_limits(rules: RuleSet, limits: window::StateLimits) -> Self {
        Engine::with_options(
            rules,
            EngineOptions {
                limits,
                ..EngineOptions::default()
            },
        )
    }

    /// An engine over `rules` with `options`.
    pub fn with_options(rules: RuleSet, options: EngineOptions) -> Self {
        let stateful = state::StatefulRules::new(&rules, options.limits);
        let needs = (!stateful.is_empty()).then(|| Arc::new(state::StatefulNeeds::new(&rules)));
        let hits = vec![false; rules.len()];
        let prefilter = match options.prefilter {
            PrefilterMode::Off => None,
            _ => Some(Arc::new(prefilter::Prefilter::new(&rules))),
        };
        let scratch = prefilter
            .as_deref()
            .map(prefilter::Prefilter::scratch)
            .unwrap_or_default();
        let singles = rules
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.kind, RuleKind::Single(_)))
            .map(|(i, _)| i as u32)
            .collect();
        Engine {
            mode: options.prefilter,
            prefilter,
            scratch,
            candidates: Vec::new(),
            singles,
            rules,
            stats: EngineStats::default(),
            stateful,
            needs,
            hits,
        }
    }

    /// An engine for another thread of a parallel scan: the same rules and
    /// prefilter mode, the compiled prefilter shared (not rebuilt: it is most
    /// of an engine's memory), fresh counters and state. It is meant for
    /// [`Engine::process_single`]; stateful rules run on the original.
    pub fn worker(&self) -> Engine {
        let rules = self.rules.clone();
        Engine {
            mode: self.mode,
            prefilter: self.prefilter.clone(),
            scratch: self.scratch.clone(),
            candidates: Vec::new(),
            singles: self.singles.clone(),
            stats: EngineStats::default(),
            stateful: state::StatefulRules::default(),
            needs: self.needs.clone(),
            hits: vec![false; rules.len()],
            rules,
        }
    }

    /// The rules this engine runs.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates every rule against `event`, pushing one alert per matching rule into `out`
    /// (in rule load order). Alerts share one copy of the event, made on the first match;
    /// [`Engine::process_shared`] avoids even that copy.
    pub fn process(&mut self, event: &Event, out: &mut dyn FnMut(Alert)) {
        self.process_inner(event, None, out);
    }

    /// Like [`Engine::process`] for an event the caller already holds in an [`Arc`]:
    /// alerts and stateful rules keep references to it, never a copy.
    pub fn process_shared(&mut self, event: &Arc<Event>, out: &mut dyn FnMut(Alert)) {
        self.process_inner(event, Some(event), out);
    }

    fn process_inner(
        &mut self,
        event: &Event,
        shared: Option<&Arc<Event>>,
        out: &mut dyn FnMut(Alert),
    ) {
        let copy = self.single_inner(event, shared.cloned(), out);
        self.stateful_inner(event, copy.as_ref(), out);
    }

    /// The first half of [`Engine::process_shared`]: the single-event rules
    /// only. Which of them matched is kept until the next call ([`Engine::last_hits`]).
    pub fn process_single(&mut self, event: &Arc<Event>, out: &mut dyn FnMut(Alert)) {
        self.single_inner(event, Some(Arc::clone(event)), out);
    }

    /// The single-event rules; returns the shared copy of the event if one was made.
    fn single_inner(
        &mut self,
        event: &Event,
        mut copy: Option<Arc<Event>>,
        out: &mut dyn FnMut(Alert),
    ) -> Option<Arc<Event>> {
        self.stats.events += 1;
        self.stats.possible += self.singles.len() as u64;
        match (&self.prefilter, self.mode) {
            (Some(p), PrefilterMode::On) => {
                p.candidates(event, &mut self.scratch, &mut self.candidates);
            }
            (Some(p), _) => {
                // Exercise the scan, then ignore its verdict.
                p.candidates(event, &mut self.scratch, &mut self.candidates);
                self.candidates.clear();
                self.candidates.extend_from_slice(&self.singles);
            }
            (None, _) => {
                self.candidates.clear();
                self.candidates.extend_from_slice(&self.singles);
            }
        }
        self.hits.fill(false);
        for &i in &self.candidates {
            let i = i as usize;
            let rule = &self.rules.rules()[i];
            if let RuleKind::Single(d) = &rule.kind {
                self.stats.evaluations += 1;
                let hit = matcher::matches(d, event);
                self.hits[i] = hit;
                self.stats.confirmed += u64::from(hit);
                if hit && !self.rules.is_silent(i) {
                    self.stats.alerts += 1;
                    let ev = copy.get_or_insert_with(|| Arc::new(event.clone()));
                    out(Alert {
                        rule: rule.meta.clone(),
                        events: vec![Arc::clone(ev)],
                    });
                }
            }
        }
        copy
    }

    /// The stateful rules see `event` with the results of the last single-event evaluation.
    fn stateful_inner(
        &mut self,
        event: &Event,
        copy: Option<&Arc<Event>>,
        out: &mut dyn FnMut(Alert),
    ) {
        if !self.stateful.is_empty() {
            let alerts = &mut self.stats.alerts;
            let mut push = |a| {
                *alerts += 1;
                out(a)
            };
            match copy {
                Some(ev) => self.stateful.observe_shared(ev, &self.hits, &mut push),
                None => self.stateful.observe(event, &self.hits, &mut push),
            }
        }
    }

    /// True when the rule set has sequence or count rules.
    pub fn has_stateful(&self) -> bool {
        !self.stateful.is_empty()
    }

    /// The single-event rules (indices, ascending) that matched the event of
    /// the last [`Engine::process_single`], into `into`.
    pub fn last_hits(&self, into: &mut Vec<u32>) {
        into.clear();
        into.extend(
            self.candidates
                .iter()
                .copied()
                .filter(|&i| self.hits[i as usize]),
        );
    }

    /// Whether the event of the last [`Engine::process_single`] (`event`)
    /// can fill a stage, an `until` or a count of a stateful rule. When it
    /// cannot, [`Engine::process_stateful`] on it only moves event time,
    /// exactly as [`Engine::expire`] at its timestamp does (an engine from
    /// [`Engine::worker`] answers for the stateful rules of the original).
    pub fn stateful_wants(&self, event: &Event) -> bool {
        self.needs.as_ref().is_some_and(|n| {
            n.wants(
                event,
                self.candidates
                    .iter()
                    .copied()
                    .filter(|&i| self.hits[i as usize]),
            )
        })
    }

    /// The second half of [`Engine::process_shared`] for an event whose
    /// single-event rules another engine over the same rules evaluated
    /// (parallel scans): `hits` are its [`Engine::last_hits`].
    pub fn process_stateful(
        &mut self,
        event: &Arc<Event>,
        hits: &[u32],
        out: &mut dyn FnMut(Alert),
    ) {
        if self.stateful.is_empty() {
            return;
        }
        self.hits.fill(false);
        for &i in hits {
            if let Some(h) = self.hits.get_mut(i as usize) {
                *h = true;
            }
        }
        self.stateful_inner(event, Some(event), out);
    }

    /// Adds another engine's per-event counters (parallel scans: the workers'
    /// single-event work) to this one's.
    pub fn add_counts(&mut self, other: &EngineStats) {
        self.stats.events += other.events;
        self.stats.evaluations += other.evaluations;
        self.stats.confirmed += other.confirmed;
        self.stats.possible += other.possible;
        self.stats.alerts += other.alerts;
    }

    /// Moves event time to `now` (ns since the epoch) when no event came:
    /// stateful rules release reordered events and drop expired state. Event
    /// time only moves forward; live mode passes the newest event time plus the
    /// time the input has been idle.
    pub fn expire(&mut self, now: i64, out: &mut dyn FnMut(Alert)) {
        let alerts = &mut self.stats.alerts;
        self.stateful.expire(now, &mut |a| {
            *alerts += 1;
            out(a)
        });
    }

    /// End of input: stateful rules process what they buffered and drop partial state.
    pub fn flush(&mut self, out: &mut dyn FnMut(Alert)) {
        let alerts = &mut self.stats.alerts;
        self.stateful.flush(&mut |a| {
            *alerts += 1;
            out(a)
        });
    }

    /// The open state of the sequence and counting rules (for live mode's checkpoint), or
    /// `None` when nothing is open.
    pub fn open_state(&self) -> Option<serde_json::Value> {
        if self.stateful.is_empty() {
            return None;
        }
        let st = self.stateful.save_state();
        if st.is_empty() {
            return None;
        }
        serde_json::to_value(st).ok()
    }

    /// Restores what [`open_state`](Self::open_state) returned, before any event.
    ///
    /// # Errors
    /// The value is not such a state.
    pub fn restore_open_state(&mut self, v: serde_json::Value) -> Result<(), String> {
        let st: Vec<(String, state::RuleState)> =
            serde_json::from_value(v).map_err(|e| e.to_string())?;
        self.stateful.restore_state(st);
        Ok(())
    }

    /// Counters so far.
    pub fn stats(&self) -> EngineStats {
        let mut s = self.stats.clone();
        s.state = self.stateful.stats();
        s
    }
}
