#![cfg(not(target_arch = "wasm32"))]
//! Properties of the escalation engine over random policies and random input sequences:
//! determinism, catch-up (one jump == minute steps == persisted after every call == every call
//! first rolled back), unique idempotency keys, no effect before its deadline, nothing after resolve, nothing paged after an
//! acknowledgement except what the policy asks for after one, each level reached once per loop.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::{Effect, Engine, Input, ReassignTo};
use piket::engine::{EntryKind, IncidentId, PersonId, World};
use proptest::prelude::*;
use serde_json::json;

#[derive(Clone, Debug)]
struct LevelRecipe {
    /// 0..=2 person p0..p2, 3 schedule, 4 channel, 5 team.
    targets: Vec<u8>,
    ack_secs: Option<u32>,
    resolution_secs: Option<u32>,
    /// (timeout seconds, on_timeout 0 proceed / 1 skip / 2 stop)
    checkpoint: Option<(u32, u8)>,
    night_only: bool,
}

#[derive(Clone, Debug)]
struct PolicyRecipe {
    levels: Vec<LevelRecipe>,
    repeat: Option<(u32, u32)>,
    reminder_secs: Option<u32>,
    stale_secs: Option<u32>,
}

#[derive(Clone, Debug)]
enum Act {
    Open { id: u8, sev: u8, key: Option<u8>, policy: u8 },
    Ack { id: u8, who: u8 },
    Unack { id: u8, who: u8 },
    Resolve { id: u8 },
    EscalateNow { id: u8 },
    Snooze { id: u8, secs: u32 },
    Severity { id: u8, sev: u8 },
    Status { id: u8, status: u8 },
    ReassignPerson { id: u8, who: u8 },
    ReassignLevel { id: u8, level: u8 },
    Confirm { id: u8, who: u8 },
    Note { id: u8 },
}

fn level() -> impl Strategy<Value = LevelRecipe> {
    (
        prop::collection::vec(0u8..6, 1..3),
        prop::option::weighted(0.85, 30u32..1800),
        prop::option::of(60u32..3600),
        prop::option::weighted(0.2, (30u32..900, 0u8..3)),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(targets, ack_secs, resolution_secs, checkpoint, night_only)| LevelRecipe {
            targets,
            ack_secs,
            resolution_secs,
            checkpoint,
            night_only,
        })
}

fn policy() -> impl Strategy<Value = PolicyRecipe> {
    (
        prop::collection::vec(level(), 1..4),
        prop::option::of((1u32..3, 1u32..4)),
        prop::option::weighted(0.3, 300u32..3600),
        prop::option::weighted(0.3, 600u32..3600),
    )
        .prop_map(|(levels, repeat, reminder_secs, stale_secs)| PolicyRecipe { levels, repeat, reminder_secs, stale_secs })
}

fn act() -> impl Strategy<Value = Act> {
    let id = 0u8..3;
    prop_oneof![
        3 => (id.clone(), 0u8..4, prop::option::of(0u8..2), 0u8..2).prop_map(|(id, sev, key, policy)| Act::Open { id, sev, key, policy }),
        2 => (id.clone(), 0u8..3).prop_map(|(id, who)| Act::Ack { id, who }),
        1 => (id.clone(), 0u8..3).prop_map(|(id, who)| Act::Unack { id, who }),
        1 => id.clone().prop_map(|id| Act::Resolve { id }),
        1 => id.clone().prop_map(|id| Act::EscalateNow { id }),
        1 => (id.clone(), 60u32..5400).prop_map(|(id, secs)| Act::Snooze { id, secs }),
        1 => (id.clone(), 0u8..4).prop_map(|(id, sev)| Act::Severity { id, sev }),
        1 => (id.clone(), 0u8..5).prop_map(|(id, status)| Act::Status { id, status }),
        1 => (id.clone(), 0u8..3).prop_map(|(id, who)| Act::ReassignPerson { id, who }),
        1 => (id.clone(), 1u8..4).prop_map(|(id, level)| Act::ReassignLevel { id, level }),
        1 => (id.clone(), 0u8..3).prop_map(|(id, who)| Act::Confirm { id, who }),
        1 => id.prop_map(|id| Act::Note { id }),
    ]
}

fn on_timeout(on: u8) -> &'static str {
    ["proceed", "skip", "stop"][on as usize]
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 8, 7, 0, 0).unwrap() // the schedule's 08:00 restriction opens an hour in
}

fn world(policies: &[PolicyRecipe]) -> World {
    let target = |t: u8| match t {
        0..=2 => json!({"person": format!("p{t}")}),
        3 => json!({"schedule": "rot"}),
        4 => json!({"channel": "ch"}),
        _ => json!({"team": "t"}),
    };
    let policies: Vec<serde_json::Value> = policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let levels: Vec<serde_json::Value> = p
                .levels
                .iter()
                .map(|l| {
                    let mut v = json!({"targets": l.targets.iter().map(|t| target(*t)).collect::<Vec<_>>()});
                    if let Some(s) = l.ack_secs {
                        v["ack_timeout"] = json!(format!("{s}s"));
                    }
                    if let Some(s) = l.resolution_secs {
                        v["resolution_timeout"] = json!(format!("{s}s"));
                    }
                    if let Some((s, on)) = l.checkpoint {
                        v["checkpoint"] = json!({"prompt": "go?", "timeout": format!("{s}s"), "on_timeout": on_timeout(on)});
                    }
                    if l.night_only {
                        v["only_during"] = json!([{"from": "20:00", "to": "08:00"}]);
                    }
                    v
                })
                .collect();
            let mut v = json!({"id": format!("pol{i}"), "levels": levels});
            if let Some((times, from)) = p.repeat {
                v["repeat"] = json!({"times": times, "from_level": from.min(p.levels.len() as u32)});
            }
            if let Some(s) = p.reminder_secs {
                v["ack_reminder"] = json!(format!("{s}s"));
            }
            if let Some(s) = p.stale_secs {
                v["escalate_if_status_unchanged"] = json!(format!("{s}s"));
            }
            v
        })
        .collect();
    // Random policies may be dead ends; the engine must cope with those too, so no validation here.
    serde_json::from_value(json!({
        "people": (0..3).map(|i| json!({"id": format!("p{i}"), "name": format!("P{i}"), "time_zone": "UTC"})).collect::<Vec<_>>(),
        "channels": [{"id": "ch"}],
        "teams": [{"id": "t", "members": ["p1", "p2"]}],
        "schedules": [{"id": "rot", "time_zone": "UTC", "layers": [{"people": ["p0", "p1"], "start": "2025-01-01T00:00",
            "every": {"hours": 1}, "restrictions": [{"from": "08:00", "to": "20:00"}]}]}],
        "policies": policies,
        "default_policy": "pol0"
    }))
    .expect("a world")
}

const STATUSES: [&str; 5] = ["new", "triage", "investigating", "mitigating", "resolved"];

fn inputs(acts: &[(u32, Act)]) -> Vec<(DateTime<Utc>, Input)> {
    let mut t = start();
    let sev = |s: u8| serde_json::from_value(json!(format!("sev{}", s + 1))).unwrap();
    let person = |w: u8| PersonId::from(format!("p{w}"));
    let inc = |i: u8| IncidentId::from(format!("i{i}"));
    acts.iter()
        .map(|(delay, a)| {
            t += Duration::seconds(*delay as i64);
            let input = match a.clone() {
                Act::Open { id, sev: s, key, policy } => Input::Open {
                    id: inc(id),
                    by: piket::engine::Actor::Automation,
                    details: serde_json::from_value(json!({"title": "t", "severity": format!("sev{}", s + 1),
                        "dedup_key": key.map(|k| format!("k{k}")), "policy": format!("pol{policy}")}))
                    .unwrap(),
                },
                Act::Ack { id, who } => Input::Acknowledge { incident: inc(id), by: person(who) },
                Act::Unack { id, who } => Input::Unacknowledge { incident: inc(id), by: person(who) },
                Act::Resolve { id } => Input::Resolve { incident: inc(id), by: piket::engine::Actor::Automation },
                Act::EscalateNow { id } => Input::EscalateNow { incident: inc(id), by: piket::engine::Actor::person("p0") },
                Act::Snooze { id, secs } => Input::Snooze { incident: inc(id), by: person(0), until: t + Duration::seconds(secs as i64) },
                Act::Severity { id, sev: s } => Input::ChangeSeverity { incident: inc(id), by: piket::engine::Actor::person("p1"), severity: sev(s) },
                Act::Status { id, status } => Input::ChangeStatus {
                    incident: inc(id),
                    by: piket::engine::Actor::person("p2"),
                    status: serde_json::from_value(json!(STATUSES[status as usize])).unwrap(),
                },
                Act::ReassignPerson { id, who } => {
                    Input::Reassign { incident: inc(id), by: piket::engine::Actor::person("p0"), to: ReassignTo::Person(person(who)) }
                }
                Act::ReassignLevel { id, level } => {
                    Input::Reassign { incident: inc(id), by: piket::engine::Actor::person("p0"), to: ReassignTo::Level(level as u32) }
                }
                Act::Confirm { id, who } => Input::ConfirmCheckpoint { incident: inc(id), by: person(who) },
                Act::Note { id } => Input::AddNote { incident: inc(id), by: piket::engine::Actor::person("p1"), text: "n".into() },
            };
            (t, input)
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Clock {
    /// Only at inputs, then one jump to the end: a tab that slept.
    Jump,
    /// Every minute in between.
    Minutes,
    /// Every minute, and the engine saved and loaded after every call (as the runtime persists it).
    MinutesPersisted,
    /// Every minute, each call first run as a step that is rolled back (a failed write), checked to
    /// have left the engine as it was, then run again and committed.
    MinutesRolledBack,
}

/// One call: its `now`, and what it returned (effects, whether the input was refused).
struct Call {
    now: DateTime<Utc>,
    effects: Vec<Effect>,
    refused: bool,
}

fn drive(world: &World, inputs: &[(DateTime<Utc>, Input)], clock: Clock) -> (Vec<Call>, String) {
    let end = inputs.last().map_or(start(), |(t, _)| *t) + Duration::hours(6);
    let mut engine = Engine::new();
    let mut calls = Vec::new();
    let mut t = start();
    let step_to = |engine: &mut Engine, calls: &mut Vec<Call>, until: DateTime<Utc>, t: &mut DateTime<Utc>| {
        if clock == Clock::Jump {
            return;
        }
        while *t + Duration::minutes(1) <= until {
            *t += Duration::minutes(1);
            let now = *t;
            let effects = match clock {
                Clock::MinutesRolledBack => undone_then_done(world, engine, now, false, |e| e.handle_timeout(world, now)),
                _ => engine.handle_timeout(world, now),
            };
            calls.push(Call { now, effects, refused: false });
            if clock == Clock::MinutesPersisted {
                *engine = serde_json::from_str(&serde_json::to_string(&*engine).unwrap()).unwrap();
            }
        }
    };
    for (at, input) in inputs {
        step_to(&mut engine, &mut calls, *at, &mut t);
        let outcome = match clock {
            Clock::MinutesRolledBack => undone_then_done(world, &mut engine, *at, true, |e| e.handle(world, *at, input.clone())),
            _ => engine.handle(world, *at, input.clone()),
        };
        calls.push(Call { now: *at, effects: outcome.effects, refused: outcome.rejected.is_some() });
        if clock == Clock::MinutesPersisted {
            engine = serde_json::from_str(&serde_json::to_string(&engine).unwrap()).unwrap();
        }
    }
    step_to(&mut engine, &mut calls, end, &mut t);
    calls.push(Call { now: end, effects: engine.handle_timeout(world, end), refused: false });
    (calls, serde_json::to_string(&engine).unwrap())
}

/// Runs `call` as a step and rolls it back, checks that the engine is as it was (with dedup probes
/// when `probe`: they cost four more steps), then runs it again and commits.
fn undone_then_done<T>(world: &World, engine: &mut Engine, now: DateTime<Utc>, probe: bool, call: impl Fn(&mut Engine) -> T) -> T {
    let before = engine.clone();
    engine.begin();
    let _ = call(engine);
    engine.rollback();
    if let Err(why) = same_engine(world, &before, engine, now, probe) {
        panic!("a rolled-back step at {now} changed the engine: {why}");
    }
    engine.begin();
    let out = call(engine);
    engine.commit();
    out
}

/// Whether two engines are the same as far as anyone can tell: the same serialized form, the same
/// next deadline, and alerts with each dedup key (and monitors resolving by key) landing on the
/// same incidents.
fn same_engine(world: &World, a: &Engine, b: &Engine, now: DateTime<Utc>, probe: bool) -> Result<(), String> {
    let (ja, jb) = (serde_json::to_string(a).unwrap(), serde_json::to_string(b).unwrap());
    if ja != jb {
        return Err(format!("serialized:\n{ja}\n{jb}"));
    }
    if a.poll_timeout() != b.poll_timeout() {
        return Err(format!("poll_timeout {:?} vs {:?}", a.poll_timeout(), b.poll_timeout()));
    }
    for key in ["k0", "k1"].into_iter().filter(|_| probe) {
        let alert = Input::Open {
            id: "probe".into(),
            by: piket::engine::Actor::Automation,
            details: serde_json::from_value(json!({"title": "probe", "dedup_key": key})).unwrap(),
        };
        let resolve = Input::ResolveByKey { dedup_key: key.into(), by: piket::engine::Actor::Automation };
        for probe in [alert, resolve] {
            let (mut a, mut b) = (a.clone(), b.clone());
            let (oa, ob) = (a.handle(world, now, probe.clone()), b.handle(world, now, probe.clone()));
            if oa != ob || serde_json::to_string(&a).unwrap() != serde_json::to_string(&b).unwrap() {
                return Err(format!("{probe:?} lands differently:\n{oa:?}\n{ob:?}"));
            }
        }
    }
    Ok(())
}

fn flat(calls: &[Call]) -> Vec<Effect> {
    calls.iter().flat_map(|c| c.effects.iter().cloned()).collect()
}

fn refusals(calls: &[Call]) -> Vec<(DateTime<Utc>, bool)> {
    calls.iter().filter(|c| c.refused).map(|c| (c.now, c.refused)).collect()
}

/// The invariants over one run; returns the first violation.
fn invariants(calls: &[Call]) -> Result<(), String> {
    let mut keys = BTreeSet::new();
    let mut reached: BTreeMap<(IncidentId, u32, u32), DateTime<Utc>> = BTreeMap::new();
    let mut resolved = BTreeSet::new();
    let mut acked: BTreeSet<IncidentId> = BTreeSet::new();
    let mut last_cause: BTreeMap<IncidentId, (EntryKind, String)> = BTreeMap::new();
    let mut prev_now: Option<DateTime<Utc>> = None;
    for call in calls {
        for e in &call.effects {
            let (inc, x) = (&e.incident, &e.entry);
            // No effect before its deadline, none from the past either.
            if x.at > call.now || prev_now.is_some_and(|p| x.at < p || (x.at == p && x.at != call.now)) {
                return Err(format!("{inc}: {:?} at {} in a call at {} (previous call {prev_now:?})", x.kind, x.at, call.now));
            }
            if let Some(k) = &x.key {
                if !keys.insert(k.clone()) {
                    return Err(format!("key {k} emitted twice"));
                }
            }
            if resolved.contains(inc) && x.kind != EntryKind::Note {
                return Err(format!("{inc}: {:?} after resolve", x.kind));
            }
            match x.kind {
                EntryKind::Paged | EntryKind::Posted => {
                    if let (Some(l), Some(p)) = (x.level, x.pass) {
                        let at = *reached.entry((inc.clone(), l, p)).or_insert(x.at);
                        if at != x.at {
                            return Err(format!("{inc}: level {l} loop {p} reached at {at} and again at {}", x.at));
                        }
                    }
                    if acked.contains(inc) {
                        let (kind, detail) = last_cause.get(inc).cloned().unwrap_or((EntryKind::Opened, String::new()));
                        let after_ack_by_design = match kind {
                            EntryKind::Escalated => !detail.contains("not acknowledged"),
                            EntryKind::Reassigned | EntryKind::CheckpointConfirmed => true,
                            _ => false,
                        };
                        if !after_ack_by_design {
                            return Err(format!("{inc}: paged after acknowledge, caused by {kind:?} “{detail}”"));
                        }
                    }
                }
                EntryKind::LevelSkipped | EntryKind::LoopStarted | EntryKind::AckReminder => {}
                kind => {
                    last_cause.insert(inc.clone(), (kind, x.detail.clone()));
                }
            }
            match x.kind {
                EntryKind::Acknowledged => {
                    acked.insert(inc.clone());
                }
                EntryKind::Unacknowledged | EntryKind::SnoozeEnded => {
                    acked.remove(inc);
                }
                EntryKind::Resolved => {
                    resolved.insert(inc.clone());
                }
                EntryKind::AckReminder if !acked.contains(inc) => return Err(format!("{inc}: ack reminder while not acknowledged")),
                _ => {}
            }
        }
        prev_now = Some(call.now);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn catch_up_determinism_and_invariants(
        policies in prop::collection::vec(policy(), 2..=2),
        acts in prop::collection::vec((0u32..2400, act()), 1..25),
    ) {
        let world = world(&policies);
        let inputs = inputs(&acts);
        let (jump, jump_state) = drive(&world, &inputs, Clock::Jump);
        let (again, again_state) = drive(&world, &inputs, Clock::Jump);
        prop_assert_eq!(flat(&jump), flat(&again), "same inputs, same times: same effects");
        prop_assert_eq!(&jump_state, &again_state);

        let (minutes, minutes_state) = drive(&world, &inputs, Clock::Minutes);
        prop_assert_eq!(flat(&jump), flat(&minutes), "one jump and minute steps differ");
        prop_assert_eq!(refusals(&jump), refusals(&minutes));
        prop_assert_eq!(&jump_state, &minutes_state);

        let (persisted, _) = drive(&world, &inputs, Clock::MinutesPersisted);
        prop_assert_eq!(flat(&minutes), flat(&persisted), "saving and loading the engine changed what it does");

        let (rolled_back, rolled_back_state) = drive(&world, &inputs, Clock::MinutesRolledBack);
        prop_assert_eq!(flat(&minutes), flat(&rolled_back), "a rolled-back step changed what the engine does next");
        prop_assert_eq!(&minutes_state, &rolled_back_state);

        for calls in [&jump, &minutes] {
            if let Err(why) = invariants(calls) {
                prop_assert!(false, "{}", why);
            }
        }
    }
}

/// The checker itself must catch what it claims to: feed it broken streams.
#[test]
fn the_invariant_checker_catches_violations() {
    let t = start();
    let effect = |kind: EntryKind, at: DateTime<Utc>, key: Option<&str>, level: Option<u32>| {
        let mut entry = piket::engine::TimelineEntry::new(at, kind, piket::engine::Actor::Automation);
        entry.key = key.map(String::from);
        entry.level = level;
        entry.pass = level.map(|_| 0);
        Effect { incident: "i".into(), entry, delivery: None }
    };
    let escalated_by_ack_timeout = |at| {
        let mut e = effect(EntryKind::Escalated, at, None, Some(2));
        e.entry.detail = "level 1 not acknowledged within 5 min".into();
        e
    };
    let call = |now, effects| Call { now, effects, refused: false };
    let m = |n| t + Duration::minutes(n);
    let cases: Vec<(Vec<Call>, &str)> = vec![
        (
            vec![call(m(1), vec![effect(EntryKind::Paged, m(1), Some("k"), Some(1))]), call(m(2), vec![effect(EntryKind::Paged, m(2), Some("k"), Some(2))])],
            "twice",
        ),
        (vec![call(m(1), vec![effect(EntryKind::Paged, m(2), Some("k"), Some(1))])], "in a call at"),
        (vec![call(m(1), vec![effect(EntryKind::Resolved, m(1), None, None), effect(EntryKind::Paged, m(1), Some("k"), Some(1))])], "after resolve"),
        (
            vec![call(m(1), vec![effect(EntryKind::Paged, m(1), Some("a"), Some(1))]), call(m(2), vec![effect(EntryKind::Paged, m(2), Some("b"), Some(1))])],
            "reached at",
        ),
        (
            vec![
                call(m(1), vec![effect(EntryKind::Acknowledged, m(1), None, None)]),
                call(m(2), vec![escalated_by_ack_timeout(m(2)), effect(EntryKind::Paged, m(2), Some("b"), Some(2))]),
            ],
            "paged after acknowledge",
        ),
    ];
    for (calls, want) in cases {
        let got = invariants(&calls).expect_err("a violation");
        assert!(got.contains(want), "{got} should mention “{want}”");
    }
}
