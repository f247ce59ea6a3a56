//! Reports over a large history: every figure of the Reports screen over 50 000 incidents (goal
//! ≤ 300 ms natively), the CSV of the same incidents, and the audit log's export and verification.
//!
//! `cargo bench --bench insight -- --warm-up-time 1 --measurement-time 3`
//!
//! The history is made by the real engine on the benches' shared world (50 policies of three
//! levels, 20 three-layer schedules, 40 people): one incident a minute for about 35 days, a
//! quarter acknowledged at level 1 within minutes, a quarter after escalating, some with notes
//! and severity changes, every one resolved.
//!
//! On the 2-core dev machine (bench profile = release: `opt-level = "z"` + LTO, as shipped), 50 000
//! incidents, 644 327 entries, 290 700 pages: the report ≈ 304 ms (≈ 390 ms before responders, dedup
//! keys and policies were numbered once per report; 500 ms before people's zone offsets were
//! tabled), one service 12 ms, the CSV 330 ms, the audit export 4.0 s and verify 4.5 s. What is
//! left is reading each timeline into its facts and the report's own passes over them.

use chrono::Duration;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use piket::engine::{Actor, Engine, Incident, Input, Severity, World};
use piket::insight::{csv, incident_rows, report, ReportQuery};
use serde_json::json;

#[path = "fixture.rs"]
#[allow(dead_code)]
mod fixture;
use fixture::{t0, world};

const HISTORY: usize = 50_000;

/// 50 000 resolved incidents, one a minute from `t0`, run through the engine.
fn history(world: &World) -> Vec<Incident> {
    // Every step of every incident, run in time order (the engine's clock never goes back).
    let mut steps: Vec<(chrono::DateTime<chrono::Utc>, usize, Input)> = Vec::with_capacity(HISTORY * 4);
    for i in 0..HISTORY {
        let at = t0() + Duration::minutes(i as i64);
        let id: piket::engine::IncidentId = format!("h-{i:05}").into();
        let severity = ["sev1", "sev2", "sev3", "sev4"][i % 4];
        let details = serde_json::from_value(json!({
            "title": format!("incident {i}"), "severity": severity, "policy": format!("pol{}", i % 50),
            "service": format!("svc{}", i % 30), "dedup_key": format!("key{}", i % 500),
            "summary": if i % 3 == 0 { "what we know" } else { "" },
            "links": if i % 3 == 0 { vec!["https://dash.example"] } else { vec![] }
        }))
        .unwrap();
        let person: piket::engine::PersonId = format!("p{}", i % 40).into();
        let mut add = |minutes: i64, input: Input| steps.push((at + Duration::minutes(minutes), steps.len(), input));
        add(0, Input::Open { id: id.clone(), by: Actor::Automation, details });
        if i % 5 == 0 {
            add(1, Input::AddNote { incident: id.clone(), by: Actor::person(person.clone()), text: "looking".into() });
        }
        match i % 4 {
            0 => add(3, Input::Acknowledge { incident: id.clone(), by: person.clone() }),
            1 => add(25, Input::Acknowledge { incident: id.clone(), by: person.clone() }),
            2 if i % 7 == 0 => add(4, Input::ChangeSeverity { incident: id.clone(), by: Actor::person(person.clone()), severity: Severity::Sev1 }),
            _ => {}
        }
        add(40 + (i % 90) as i64, Input::Resolve { incident: id.clone(), by: Actor::person(person) });
    }
    steps.sort_by_key(|(t, n, _)| (*t, *n));
    let mut engine = Engine::new();
    let mut out = Vec::with_capacity(HISTORY);
    for (k, (t, _, input)) in steps.into_iter().enumerate() {
        let _ = engine.handle(world, t, input);
        // Keep the engine small: what is resolved leaves, as the driver's archive does.
        if k % 1000 == 0 {
            out.extend(engine.archive_resolved(t));
        }
    }
    out.extend(engine.archive_resolved(t0() + Duration::days(400)));
    out
}

fn reports(c: &mut Criterion) {
    let world = world();
    let incidents = history(&world);
    assert_eq!(incidents.len(), HISTORY);
    let entries: usize = incidents.iter().map(|i| i.timeline.len()).sum();
    let query = ReportQuery::period(t0(), t0() + Duration::days(40));
    let now = t0() + Duration::days(40);
    let r = report(&world, &incidents, &query, now);
    eprintln!(
        "history: {} incidents, {entries} timeline entries; {} escalated, {} pages, MTTA median {:?} s",
        r.totals.incidents, r.totals.escalated, r.totals.pages, r.mtta.median_s
    );
    assert_eq!(r.totals.incidents, HISTORY);

    c.bench_function("report: every figure over 50k incidents", |b| b.iter(|| black_box(report(&world, &incidents, &query, now))));
    let filtered = ReportQuery { service: Some("svc3".into()), ..query.clone() };
    c.bench_function("report: 50k incidents, one service", |b| b.iter(|| black_box(report(&world, &incidents, &filtered, now))));
    c.bench_function("csv: 50k incidents", |b| b.iter(|| black_box(csv(&incident_rows(&world, &incidents, &query)))));
    let log = piket::audit::export(&incidents);
    c.bench_function("audit: export 50k incidents", |b| b.iter(|| black_box(piket::audit::export(&incidents))));
    c.bench_function("audit: verify 50k incidents", |b| b.iter(|| black_box(piket::audit::verify(&log).is_ok())));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = reports
}
criterion_main!(benches);
