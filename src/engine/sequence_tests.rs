use super::*;
use crate::rule::ir::{Detection, Expr, Field};
use crate::rule::temporal::Stage;

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;

/// Rule-referencing stages, all keyed by `keys`.
fn spec(stages: &[usize], keys: &[&str], maxspan: Option<i64>, ordered: bool) -> SequenceSpec {
    SequenceSpec {
        stages: stages
            .iter()
            .map(|&r| Stage {
                condition: StageCondition::Rule(r),
                keys: keys.iter().map(|k| Field::parse(k)).collect(),
            })
            .collect(),
        until: None,
        maxspan_ns: maxspan,
        ordered,
        min_stages: stages.len(),
    }
}

fn limits0() -> StateLimits {
    StateLimits {
        reorder_window_ns: 0,
        ..StateLimits::default()
    }
}

fn seq(spec: SequenceSpec, limits: StateLimits) -> Sequencer {
    let meta = RuleMeta {
        id: "seq".into(),
        ..RuleMeta::default()
    };
    Sequencer::new(Arc::new(meta), spec, limits).expect("valid spec")
}

fn ev(ts: i64, host: Option<&str>, pid: i64) -> Event {
    let mut e = Event {
        timestamp_ns: ts,
        ..Event::default()
    };
    e.host.id = host.map(String::from);
    e.process.pid = Some(pid);
    e
}

/// Feeds (event, rules that matched it); returns the alerts' events as pids.
fn run(s: &mut Sequencer, input: &[(Event, &[usize])]) -> Vec<Vec<i64>> {
    let mut alerts = Vec::new();
    for (e, hits) in input {
        let mut h = vec![false; 8];
        for &i in *hits {
            h[i] = true;
        }
        s.observe(&Observation::new(e, &h), &mut |a| alerts.push(a));
    }
    s.flush(&mut |a| alerts.push(a));
    alerts
        .iter()
        .map(|a| {
            a.events
                .iter()
                .map(|e| e.process.pid.unwrap_or(-1))
                .collect()
        })
        .collect()
}

#[test]
fn ordered_pair_fires_at_exactly_maxspan_not_one_ms_over() {
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[0]),
            (ev(S, Some("h"), 2), &[1]),
            (ev(10 * S, Some("h"), 3), &[0]),
            (ev(11 * S + MS, Some("h"), 4), &[1]),
        ],
    );
    assert_eq!(got, vec![vec![1, 2]]);
    assert_eq!(s.stats().expired_partials, 1);
}

#[test]
fn order_matters_and_keys_must_match() {
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[1]),
            (ev(10, Some("h"), 2), &[0]),
            (ev(20, Some("other"), 3), &[1]),
        ],
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn absent_key_groups_with_absent_only() {
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, None, 1), &[0]),
            (ev(10, Some("h"), 2), &[1]),
            (ev(20, None, 3), &[1]),
        ],
    );
    assert_eq!(got, vec![vec![1, 3]]);
}

#[test]
fn latest_partial_advances_and_older_ones_are_dropped() {
    // Elasticsearch: the most recent partial waiting for the stage advances;
    // it and every older partial waiting for that stage leave the list.
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(10 * S), true), limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[0]),
            (ev(10, Some("h"), 2), &[0]),
            (ev(20, Some("h"), 3), &[1]),
            (ev(30, Some("h"), 4), &[1]),
        ],
    );
    assert_eq!(got, vec![vec![2, 3]]);
}

#[test]
fn each_first_stage_event_starts_a_partial() {
    let mut s = seq(
        spec(&[0, 1, 2], &["host.id"], Some(10 * S), true),
        limits0(),
    );
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[0]),
            (ev(10, Some("h"), 2), &[1]),
            (ev(20, Some("h"), 3), &[0]),
            (ev(30, Some("h"), 4), &[1]),
            (ev(40, Some("h"), 5), &[2]),
        ],
    );
    // [3, 4] is the most recent partial waiting for stage 2; [1, 2] is older
    // and leaves with it.
    assert_eq!(got, vec![vec![3, 4, 5]]);
}

#[test]
fn an_event_fills_one_stage_per_partial() {
    // sequence [A] [A]: one event is not both stages.
    let mut s = seq(spec(&[0, 0], &["host.id"], Some(S), true), limits0());
    assert!(run(&mut s, &[(ev(0, Some("h"), 1), &[0])]).is_empty());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[0]),
            (ev(5, Some("h"), 2), &[0]),
            (ev(6, Some("h"), 3), &[0]),
        ],
    );
    // 2 completes [1, 2] and starts a partial that 3 completes.
    assert_eq!(got, vec![vec![1, 2], vec![2, 3]]);
}

#[test]
fn until_cancels_the_keys_partials() {
    let mut sp = spec(&[0, 1], &["host.id"], Some(S), true);
    sp.until = Some(Stage {
        condition: StageCondition::Rule(2),
        keys: vec![Field::parse("host.id")],
    });
    let mut s = seq(sp, limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[0]),
            (ev(0, Some("g"), 2), &[0]),
            (ev(5, Some("h"), 3), &[2]),
            (ev(10, Some("h"), 4), &[1]),
            (ev(10, Some("g"), 5), &[1]),
        ],
    );
    assert_eq!(got, vec![vec![2, 5]]);
    assert_eq!(s.stats().cancelled_partials, 1);
}

#[test]
fn per_stage_keys_join_positionally() {
    // sequence by host.id [exec] by process.parent.entity_id [connect] by process.entity_id
    let stage = |r, k: &str| Stage {
        condition: StageCondition::Rule(r),
        keys: vec![Field::parse("host.id"), Field::parse(k)],
    };
    let sp = SequenceSpec {
        stages: vec![
            stage(0, "process.parent.entity_id"),
            stage(1, "process.entity_id"),
        ],
        until: None,
        maxspan_ns: None,
        ordered: true,
        min_stages: 2,
    };
    let mut s = seq(sp, limits0());
    let mut a = ev(0, Some("h"), 1);
    a.process.parent.entity_id = Some("P".into());
    let mut b = ev(100 * S, Some("h"), 2);
    b.process.entity_id = Some("P".into());
    let mut c = ev(200 * S, Some("h"), 3);
    c.process.entity_id = Some("Q".into());
    let got = run(&mut s, &[(a.clone(), &[0]), (c, &[1]), (b, &[1])]);
    assert_eq!(got, vec![vec![1, 2]], "unbounded maxspan");
}

#[test]
fn inline_detection_stages() {
    let stage = |pid: i64| Stage {
        condition: StageCondition::Detection(Detection {
            filter: Expr::Const(true),
            condition: Expr::Pred(crate::rule::ir::Predicate {
                field: Field::parse("process.pid"),
                test: crate::rule::ir::Test::Int(pid),
            }),
        }),
        keys: vec![],
    };
    let sp = SequenceSpec {
        stages: vec![stage(1), stage(2)],
        until: None,
        maxspan_ns: Some(S),
        ordered: true,
        min_stages: 2,
    };
    let mut s = seq(sp, limits0());
    let got = run(&mut s, &[(ev(0, None, 1), &[]), (ev(1, None, 2), &[])]);
    assert_eq!(got, vec![vec![1, 2]]);
}

#[test]
fn out_of_order_within_the_window_is_reordered() {
    let limits = StateLimits {
        reorder_window_ns: 500 * MS,
        ..StateLimits::default()
    };
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits);
    // The connect (stage 1, t=300ms) is logged before the exec (stage 0, t=100ms).
    let got = run(
        &mut s,
        &[
            (ev(300 * MS, Some("h"), 2), &[1]),
            (ev(100 * MS, Some("h"), 1), &[0]),
        ],
    );
    assert_eq!(got, vec![vec![1, 2]]);
    assert_eq!(s.stats().late_events, 0);
}

#[test]
fn later_than_the_window_is_late_and_does_not_reorder() {
    let limits = StateLimits {
        reorder_window_ns: 500 * MS,
        ..StateLimits::default()
    };
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(10 * S), true), limits);
    let got = run(
        &mut s,
        &[
            (ev(2 * S, Some("h"), 2), &[1]),
            (ev(3 * S, Some("x"), 9), &[0]),
            (ev(100 * MS, Some("h"), 1), &[0]),
        ],
    );
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(s.stats().late_events, 1);
}

#[test]
fn replay_and_live_agree() {
    // Same events, one batch with flush vs. fed with expire() between them.
    let input: Vec<(Event, &[usize])> = vec![
        (ev(0, Some("h"), 1), &[0]),
        (ev(200 * MS, Some("h"), 3), &[1]),
        (ev(150 * MS, Some("h"), 2), &[0]),
        (ev(900 * MS, Some("h"), 4), &[1]),
    ];
    let limits = StateLimits::default();
    let mut a = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits);
    let replay = run(&mut a, &input);
    let mut b = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits);
    let mut live = Vec::new();
    for (e, hits) in &input {
        let mut h = vec![false; 2];
        for &i in *hits {
            h[i] = true;
        }
        b.observe(&Observation::new(e, &h), &mut |a| live.push(a));
        b.expire(e.timestamp_ns + 10 * MS, &mut |a| live.push(a));
    }
    b.expire(10 * S, &mut |a| live.push(a));
    let live: Vec<Vec<i64>> = live
        .iter()
        .map(|a| a.events.iter().map(|e| e.process.pid.unwrap()).collect())
        .collect();
    assert_eq!(replay, vec![vec![2, 3]]);
    assert_eq!(live, replay);
}

#[test]
fn caps_evict_oldest_and_count() {
    let limits = StateLimits {
        max_keys: 2,
        max_partials_per_key: 2,
        reorder_window_ns: 0,
        ..StateLimits::default()
    };
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits);
    let got = run(
        &mut s,
        &[
            (ev(0, Some("a"), 1), &[0]),
            (ev(1, Some("b"), 2), &[0]),
            (ev(2, Some("c"), 3), &[0]),
            (ev(3, Some("c"), 4), &[0]),
            (ev(4, Some("c"), 5), &[0]),
            (ev(5, Some("a"), 6), &[1]),
            (ev(6, Some("c"), 7), &[1]),
        ],
    );
    // "a" was evicted (least recently used) when "c" arrived; "c" kept its
    // two newest partials.
    assert_eq!(got, vec![vec![5, 7]]);
    let st = s.stats();
    assert_eq!(st.evicted_keys, 1);
    assert_eq!(st.evicted_partials, 2);
}

#[test]
fn flood_of_keys_stays_under_the_cap() {
    let limits = StateLimits {
        max_keys: 100,
        reorder_window_ns: 0,
        ..StateLimits::default()
    };
    let mut s = seq(spec(&[0, 1], &["process.entity_id"], Some(S), true), limits);
    let mut h = [true, false];
    for i in 0..10_000i64 {
        let mut e = ev(i, None, i);
        e.process.entity_id = Some(format!("k{i}"));
        s.observe(&Observation::new(&e, &h), &mut |_| panic!("no alert"));
        assert!(s.stats().keys <= 100);
    }
    assert_eq!(s.stats().evicted_keys, 9_900);
    h = [false, true];
    let mut e = ev(10_001, None, 1);
    e.process.entity_id = Some("k9999".into());
    let mut n = 0;
    s.observe(&Observation::new(&e, &h), &mut |_| n += 1);
    assert_eq!(n, 1, "the newest key survived");
}

#[test]
fn expired_partials_are_swept_by_event_time() {
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), limits0());
    let h = [true, false];
    for i in 0..50 {
        s.observe(
            &Observation::new(&ev(i * MS, Some(&format!("h{i}")), i), &h),
            &mut |_| {},
        );
    }
    assert_eq!(s.stats().keys, 50);
    s.expire(5 * S, &mut |_| {});
    assert_eq!(s.stats().keys, 0);
    assert_eq!(s.stats().expired_partials, 50);
}

#[test]
fn unordered_temporal_any_order_within_span() {
    let mut s = seq(spec(&[0, 1, 2], &["host.id"], Some(S), false), limits0());
    let got = run(
        &mut s,
        &[
            (ev(0, Some("h"), 1), &[2]),
            (ev(100 * MS, Some("h"), 2), &[0]),
            (ev(S, Some("h"), 3), &[1]),
            // a new round: 4 is too old by the time 6 arrives (1 ms over)
            (ev(2 * S, Some("h"), 4), &[0]),
            (ev(2 * S + 500 * MS, Some("h"), 5), &[1]),
            (ev(3 * S + MS, Some("h"), 6), &[2]),
        ],
    );
    assert_eq!(got, vec![vec![1, 2, 3]]);
}

#[test]
fn unordered_with_min_stages_and_one_event_in_two_stages() {
    let mut sp = spec(&[0, 1, 2], &["host.id"], Some(S), false);
    sp.min_stages = 2;
    let mut s = seq(sp, limits0());
    let got = run(&mut s, &[(ev(0, Some("h"), 1), &[0, 1])]);
    assert_eq!(got, vec![vec![1]]);
}

#[test]
fn malformed_specs_are_refused() {
    let mut sp = spec(&[0, 1], &["host.id"], Some(S), true);
    sp.stages[1].keys.clear();
    assert!(Sequencer::new(Arc::default(), sp, limits0()).is_err());
    let sp = spec(&[0; 65], &[], Some(S), true);
    assert!(Sequencer::new(Arc::default(), sp, limits0()).is_err());
    let sp = spec(&[], &[], Some(S), true);
    assert!(Sequencer::new(Arc::default(), sp, limits0()).is_err());
    let mut sp = spec(&[0, 1], &[], Some(S), true);
    sp.min_stages = 1;
    assert!(Sequencer::new(Arc::default(), sp, limits0()).is_err());
    // Zero caps are raised to one rather than dividing by or looping on zero.
    let zero = StateLimits {
        max_keys: 0,
        max_partials_per_key: 0,
        max_partials: 0,
        reorder_window_ns: -5,
        max_buffered: 0,
    };
    let mut s = seq(spec(&[0, 1], &["host.id"], Some(S), true), zero);
    let got = run(
        &mut s,
        &[(ev(0, Some("h"), 1), &[0]), (ev(1, Some("h"), 2), &[1])],
    );
    assert_eq!(got, vec![vec![1, 2]]);
}

/// Live mode's checkpoint: a joiner saved mid-sequence (one partial open, one
/// event still in the reorder buffer) and restored into a fresh one (through
/// JSON) completes the sequence exactly as the uninterrupted joiner does.
#[test]
fn saved_state_resumes_open_sequences() {
    let limits = StateLimits {
        reorder_window_ns: 2 * S,
        ..StateLimits::default()
    };
    let mk = || seq(spec(&[0, 1, 2], &["host.id"], Some(10 * S), true), limits);
    let input: Vec<(Event, &[usize])> = vec![
        (ev(S, Some("h"), 1), &[0]),
        (ev(2 * S, Some("h"), 2), &[1]),
        (ev(5 * S, Some("h"), 3), &[2]),
        (ev(6 * S, Some("g"), 4), &[0]),
    ];
    let mut whole = mk();
    let want = run(&mut whole, &input);
    assert_eq!(want, vec![vec![1, 2, 3]]);
    // Interrupted after the second event: stage 0 is a partial, stage 1 buffered.
    let mut a = mk();
    let mut alerts = Vec::new();
    for (e, hits) in &input[..2] {
        let mut h = vec![false; 8];
        for &i in *hits {
            h[i] = true;
        }
        a.observe(&Observation::new(e, &h), &mut |x| alerts.push(x));
    }
    assert!(alerts.is_empty());
    let st = a.save_state();
    assert!(!st.is_empty());
    let json = serde_json::to_string(&st).unwrap();
    let mut b = mk();
    b.restore_state(serde_json::from_str(&json).unwrap());
    assert_eq!(b.save_state(), st, "restore then save is the identity");
    assert_eq!(run(&mut b, &input[2..]), want);
    // Hostile state: out-of-range indexes are skipped, not a panic.
    let mut c = mk();
    c.restore_state(SequencerState {
        buf: vec![(0, 1, 99, 1, false)],
        keys: vec![(vec![1], vec![(0, 0, 1, vec![(7, 0, 0), (0, 0, 42)])])],
        ..SequencerState::default()
    });
    assert!(c.save_state().is_empty());
}
