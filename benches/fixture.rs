//! The busy tab the benches measure, shared by the native criterion bench (`benches/engine.rs`)
//! and the same figure in the browser (`tests/browser_bench.rs`, `cargo xtask bench-web`): 10 000
//! open incidents over 50 policies, 20 three-layer schedules and 40 people.

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::{Engine, Input, World};
use serde_json::json;

pub const INCIDENTS: usize = 10_000;
const POLICIES: usize = 50;
const SCHEDULES: usize = 20;
const PEOPLE: usize = 40;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 0, 0, 0).unwrap()
}

pub fn schedule(i: usize) -> serde_json::Value {
    let p = |k: usize| format!("p{}", (i * 3 + k) % PEOPLE);
    let zone = ["Europe/Amsterdam", "America/New_York", "Asia/Tokyo"][i % 3];
    json!({
        "id": format!("s{i}"),
        "time_zone": zone,
        "layers": [
            {"people": [p(0), p(1), p(2), p(3)], "start": "2025-01-06T09:00", "every": "weekly"},
            {"people": [p(4), p(5)], "start": "2025-01-06T09:00", "every": "daily",
             "restrictions": [{"days": "weekdays", "from": "09:00", "to": "17:00", "holidays": "exclude"}]},
            {"people": [p(6)], "start": "2025-01-06T00:00", "every": {"hours": 12},
             "restrictions": [{"from": "22:00", "to": "06:00"}]}
        ],
        "overrides": [
            {"start": "2025-03-04T00:00:00Z", "end": "2025-03-06T00:00:00Z", "replace": p(0), "with": p(7)},
            {"start": "2025-03-05T10:00:00Z", "end": "2025-03-05T12:00:00Z", "add": p(8)},
            {"start": "2025-03-05T20:00:00Z", "end": "2025-03-05T21:00:00Z", "remove": p(6)}
        ],
        "holidays": ["2025-04-21", "2025-12-25"]
    })
}

pub fn world() -> World {
    let policies: Vec<_> = (0..POLICIES)
        .map(|i| {
            json!({"id": format!("pol{i}"), "levels": [
                {"targets": [{"schedule": format!("s{}", i % SCHEDULES)}], "ack_timeout": {"sev1": 5, "default": 5 + i % 25}},
                {"targets": [{"schedule": format!("s{}", (i + 1) % SCHEDULES)}, {"person": format!("p{}", i % PEOPLE)}], "ack_timeout": 15, "resolution_timeout": 45},
                {"targets": [{"person": format!("p{}", (i + 7) % PEOPLE)}, {"channel": "major"}], "ack_timeout": 20}
            ], "repeat": {"times": 2}, "ack_reminder": 30})
        })
        .collect();
    serde_json::from_value(json!({
        "people": (0..PEOPLE).map(|i| json!({"id": format!("p{i}"), "name": format!("P{i}"), "time_zone": "UTC"})).collect::<Vec<_>>(),
        "channels": [{"id": "major"}],
        "schedules": (0..SCHEDULES).map(schedule).collect::<Vec<_>>(),
        "policies": policies,
    }))
    .expect("bench world")
}

/// 10 000 incidents opened over the hour before `t0() + 1h`, spread over the 50 policies.
pub fn busy_engine(world: &World) -> Engine {
    let mut engine = Engine::new();
    for i in 0..INCIDENTS {
        let at = t0() + Duration::milliseconds((i as i64) * 3_600_000 / INCIDENTS as i64);
        let severity = ["sev1", "sev2", "sev3", "sev4"][i % 4];
        let details =
            serde_json::from_value(json!({"title": format!("incident {i}"), "severity": severity, "policy": format!("pol{}", i % POLICIES)})).unwrap();
        let outcome = engine.handle(world, at, Input::Open { id: format!("inc-{i:05}").into(), by: piket::engine::Actor::Automation, details });
        assert!(outcome.rejected.is_none());
    }
    engine
}
