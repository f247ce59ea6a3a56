//! The engine's hot paths: one tick over 10 000 open incidents (goal ≤ 1 ms), one acknowledgement
//! on a tab holding them, and "who is on call at T" on a three-layer schedule with overrides.
//!
//! `cargo bench --bench engine -- --warm-up-time 1 --measurement-time 3`
//!
//! On the 2-core dev machine (release profile, i.e. `opt-level = "z"` + LTO as shipped), 10k open
//! incidents over 50 policies and 20 schedules: a tick with one second of deadlines due (≈40 effects)
//! ≈ 0.1 ms; a tick with a minute's backlog (1 821 effects) ≈ 2.6 ms (3.6 ms before ticks fired
//! incidents in place), i.e. ≈ 1.4 µs per effect and nothing per incident that is not due;
//! `poll_timeout` ≈ 2 ns; `on_call_at` on 3 layers with overrides ≈ 0.35 µs; `next_handoff` ≈ 4.7 µs.
//! An acknowledgement: the engine step ≈ 5 µs, the driver's whole step (engine, one transaction to
//! the memory store, adopt) ≈ 30 µs — it was ≈ 88 ms while every step cloned the engine first,
//! which alone costs ≈ 60 ms (`clone: 10k open incidents`).

use chrono::{DateTime, Duration, Utc};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use piket::engine::{Engine, IncidentId, Input, OnCallSchedule, World};
use piket::runtime::driver::Driver;
use piket::storage::{Batch, MemoryStore, Store, StoredIncident, TimelineRow};
use pollster::block_on;

#[path = "fixture.rs"]
mod fixture;
use fixture::{busy_engine, schedule, t0, world, INCIDENTS};

fn tick(c: &mut Criterion) {
    let world = world();
    let engine = busy_engine(&world);
    let now = t0() + Duration::hours(1);
    assert!(engine.incidents().filter(|i| i.is_open()).count() == INCIDENTS);
    let due_within = |d: Duration| {
        let mut e = engine.clone();
        e.handle_timeout(&world, now + d).len()
    };
    eprintln!("effects in the next minute: {}, the next second: {}", due_within(Duration::minutes(1)), due_within(Duration::seconds(1)));

    // The usual tick: a driver woke on time, little or nothing is due.
    c.bench_function("tick: 10k open incidents, one second of deadlines due", |b| {
        b.iter_batched(
            || engine.clone(),
            |mut e| {
                // Hand the engine back so dropping 10 000 incidents is not timed.
                let out = e.handle_timeout(&world, now + Duration::seconds(1));
                (e, out)
            },
            BatchSize::LargeInput,
        )
    });
    // A throttled tab waking once a minute (Chrome's budget for hidden pages).
    c.bench_function("tick: 10k open incidents, one minute of deadlines due", |b| {
        b.iter_batched(
            || engine.clone(),
            |mut e| {
                let out = e.handle_timeout(&world, now + Duration::minutes(1));
                (e, out)
            },
            BatchSize::LargeInput,
        )
    });
    c.bench_function("poll_timeout: 10k open incidents", |b| b.iter(|| black_box(engine.poll_timeout())));
}

/// A driver over a memory store holding the bench world and `engine`'s incidents, as a tab holds
/// them after loading.
fn loaded_driver(world: &World, engine: &Engine, now: DateTime<Utc>) -> Driver<MemoryStore> {
    let store = MemoryStore::new();
    let mut batch = Batch::new();
    for p in &world.people {
        batch.put(p);
    }
    for c in &world.channels {
        batch.put(c);
    }
    for s in &world.schedules {
        batch.put(s);
    }
    for p in &world.policies {
        batch.put(p);
    }
    for i in engine.incidents() {
        batch.put(&StoredIncident::new(i, None));
        for (seq, entry) in i.timeline.iter().enumerate() {
            batch.put(&TimelineRow { incident: i.id.clone(), seq: seq as u32, entry: entry.clone(), recorded_at: now, link: None });
        }
    }
    block_on(store.commit(batch, now)).expect("seed the store");
    block_on(Driver::load(store)).expect("load the bench driver")
}

/// One acknowledgement on a tab holding 10 000 open incidents: the engine step alone, and the
/// driver's whole step (engine, one transaction to the memory store, adopt).
fn acknowledge(c: &mut Criterion) {
    let world = world();
    let mut engine = busy_engine(&world);
    let now = t0() + Duration::hours(1);
    // Fire what is due, so that each acknowledgement below is the whole step.
    let _ = engine.handle_timeout(&world, now);
    assert!(engine.poll_timeout().is_some_and(|t| t > now));
    let unacked: Vec<IncidentId> = engine.incidents().filter(|i| i.is_open() && i.acknowledged.is_none()).map(|i| i.id.clone()).collect();
    assert!(unacked.len() > 9_000, "{} unacknowledged", unacked.len());
    let ack = |k: usize| Input::Acknowledge { incident: unacked[k % unacked.len()].clone(), by: "p0".into() };
    let unack = |k: usize| Input::Unacknowledge { incident: unacked[k % unacked.len()].clone(), by: "p0".into() };

    // What each step used to pay before it could start: a copy of every incident.
    c.bench_function("clone: 10k open incidents", |b| b.iter(|| black_box(engine.clone())));
    let mut e = engine.clone();
    let mut k = 0;
    c.bench_function("engine: acknowledge as an undoable step, 10k open incidents", |b| {
        b.iter(|| {
            k += 1;
            e.begin();
            let out = e.handle(&world, now, ack(k));
            e.commit();
            let _ = e.handle(&world, now, unack(k));
            black_box(out)
        })
    });

    let mut driver = loaded_driver(&world, &engine, now);
    let mut k = 0;
    c.bench_function("driver: acknowledge, 10k open incidents", |b| {
        b.iter_custom(|iters| {
            let mut timed = std::time::Duration::ZERO;
            for _ in 0..iters {
                k += 1;
                let start = std::time::Instant::now();
                let step = block_on(driver.dispatch(now, ack(k))).expect("acknowledged");
                timed += start.elapsed();
                black_box(step);
                // Give it back (untimed), so the next round finds it unacknowledged again.
                block_on(driver.dispatch(now, unack(k))).expect("unacknowledged");
            }
            timed
        })
    });
}

fn who_is_on_call(c: &mut Criterion) {
    let schedule: OnCallSchedule = serde_json::from_value(schedule(0)).unwrap();
    let instants: Vec<DateTime<Utc>> = (0..96).map(|k| t0() + Duration::minutes(k * 37)).collect();
    let mut k = 0;
    c.bench_function("on_call_at: 3 layers + overrides", |b| {
        b.iter(|| {
            k = (k + 1) % instants.len();
            black_box(schedule.on_call_at(black_box(instants[k])))
        })
    });
    c.bench_function("next_handoff: 3 layers + overrides", |b| {
        b.iter(|| {
            k = (k + 1) % instants.len();
            black_box(schedule.next_handoff(black_box(instants[k])))
        })
    });
}

/// The Lab's Replay over a year of history: 10 000 past incidents (each acknowledged after 7 min
/// and resolved after 30), replayed against another policy.
fn replay_history(c: &mut Criterion) {
    let world = world();
    let mut engine = Engine::new();
    let details = serde_json::from_value(serde_json::json!({"title": "past", "severity": "sev2", "policy": "pol0"})).unwrap();
    let _ = engine.handle(&world, t0(), Input::Open { id: "past".into(), by: piket::engine::Actor::Automation, details });
    let _ = engine.handle(&world, t0() + Duration::minutes(7), Input::Acknowledge { incident: "past".into(), by: "p0".into() });
    let _ = engine.handle(&world, t0() + Duration::minutes(30), Input::Resolve { incident: "past".into(), by: piket::engine::Actor::Automation });
    let template = engine.incident("past").unwrap().clone();
    let past: Vec<_> = (0..10_000)
        .map(|k| {
            let mut i = template.clone();
            i.id = format!("past-{k}").into();
            let shift = Duration::minutes(50 * k);
            i.opened_at -= shift;
            i.resolved_at = i.resolved_at.map(|r| r - shift);
            i.timeline.iter_mut().for_each(|e| e.at -= shift);
            i
        })
        .collect();
    let policy = world.policy("pol3").unwrap().clone();
    let now = t0() + Duration::hours(1);
    c.bench_function("replay: 10k past incidents against another policy", |b| {
        b.iter(|| black_box(piket::runtime::replay::replay_with(&world, &past, policy.clone(), now - Duration::days(365), now).lines.len()))
    });
}

criterion_group!(benches, tick, acknowledge, who_is_on_call, replay_history);
criterion_main!(benches);
