#![cfg(not(target_arch = "wasm32"))]
//! Escalation scenarios on a virtual clock, data-driven: a world, timed inputs, and the timeline
//! they must produce (one line per effect: `MM-DD HH:MM incident kind [Llevel.loop] [target]
//! [person] [— detail]`). Every scenario is also checked against the engine's invariants.

use std::collections::{BTreeMap, BTreeSet};

use piket::engine::format::{self, Scenario, SimulationLine};
use piket::engine::IncidentId;
use serde_json::{json, Value};

/// Kinds whose detail is part of the expectation (the why of a step).
const EXPLAINED: [&str; 8] =
    ["escalated", "level_skipped", "escalation_stopped", "suppressed", "rejected", "checkpoint_waiting", "loop_started", "maintenance_ended"];

fn render(lines: &[SimulationLine]) -> String {
    let mut out = String::new();
    for l in lines {
        if matches!(l.kind.as_str(), "rule_applied" | "priority_changed") {
            continue;
        }
        out += &format!("{} {} {}", l.time.format("%m-%d %H:%M"), l.incident.as_deref().unwrap_or("-"), l.kind);
        if let Some(level) = l.level {
            out += &format!(" L{level}.{}", l.pass.unwrap_or(0));
        }
        if let Some(t) = &l.target {
            out += &format!(" {t}");
        }
        if let Some(p) = l.person.as_ref().filter(|p| l.target.as_deref() != Some(&format!("person:{p}"))) {
            out += &format!(" {p}");
        }
        if EXPLAINED.contains(&l.kind.as_str()) && !l.detail.is_empty() {
            out += &format!(" — {}", l.detail);
        }
        out += "\n";
    }
    out
}

fn trim_lines(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect()
}

/// The world every scenario starts from; `patch` replaces top-level keys.
fn world(patch: Value) -> Value {
    let people: Vec<Value> = ["alice", "bob", "carol", "sam", "erin", "sec", "nina", "dave"]
        .iter()
        .map(|id| json!({"id": id, "name": id.to_uppercase(), "time_zone": "UTC", "contact": {"ntfy_topic": format!("piket-{id}")}}))
        .collect();
    let mut w = json!({
        "people": people,
        "channels": [{"id": "major-incident", "name": "#major-incident", "phase": "critical"}],
        "schedules": [
            {"id": "primary", "time_zone": "UTC", "layers": [{"people": ["alice", "bob"], "start": "2025-01-06T09:00", "every": "weekly"}]},
            {"id": "backup", "time_zone": "UTC", "layers": [{"people": ["carol"], "start": "2025-01-01T00:00", "every": "daily"}]}
        ],
        "policies": [{
            "id": "field",
            "levels": [
                {"targets": [{"schedule": "primary"}], "ack_timeout": {"sev1": 10, "default": 30}},
                {"targets": [{"schedule": "backup"}, {"person": "sam"}], "ack_timeout": 30, "resolution_timeout": 45},
                {"targets": [{"person": "erin"}, {"channel": "major-incident"}]}
            ]
        }],
        "default_policy": "field"
    });
    for (k, v) in patch.as_object().expect("a patch is an object") {
        w[k] = v.clone();
    }
    w
}

fn run(world: Value, inputs: Value, until: &str) -> format::Simulation {
    let scenario = json!({"world": world, "inputs": inputs, "until": until});
    let scenario: Scenario = format::parse_scenario(&scenario.to_string()).unwrap_or_else(|e| panic!("scenario does not parse:\n{e}"));
    let sim = format::simulate(&scenario);
    check_invariants(&sim.lines);
    sim
}

fn check(world: Value, inputs: Value, until: &str, expect: &str) {
    let sim = run(world, inputs, until);
    let got = render(&sim.lines);
    let want = trim_lines(expect);
    assert!(got == want, "timeline differs.\n--- got:\n{got}--- want:\n{want}");
}

/// What must hold for any timeline: keys unique, time never goes back, a (level, loop) is reached
/// at one instant, and nothing happens to a resolved incident but notes.
fn check_invariants(lines: &[SimulationLine]) {
    let mut keys = BTreeSet::new();
    let mut reached: BTreeMap<(IncidentId, u32, u32), chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    let mut resolved = BTreeSet::new();
    let mut last = None;
    for l in lines {
        if l.kind == "rejected" {
            continue;
        }
        assert!(last <= Some(l.time), "time went back at {l:?}");
        last = Some(l.time);
        let incident = l.incident.clone().unwrap_or_default();
        if let Some(k) = &l.key {
            assert!(keys.insert(k.clone()), "key {k} emitted twice");
        }
        // Targets a rule adds to the current level later are paged then; the level is not re-reached.
        let added_later = l.detail == "added by a rule";
        if let (Some(level), Some(pass), "paged" | "posted", false) = (l.level, l.pass, l.kind.as_str(), added_later) {
            let at = *reached.entry((incident.clone(), level, pass)).or_insert(l.time);
            assert_eq!(at, l.time, "level {level} loop {pass} of {incident} reached twice");
        }
        assert!(!resolved.contains(&incident) || l.kind == "note", "{l:?} after resolve");
        if l.kind == "resolved" {
            resolved.insert(incident);
        }
    }
}

#[test]
fn field_example_sev1_at_two_in_the_night() {
    // Nobody answers: primary, then backup and senior after 10 min, then the manager and the
    // major-incident channel when level 2's ack timeout (30 min) runs out.
    check(
        world(json!({})),
        json!([{"at": "2025-01-08T02:00:00Z", "input": "open", "id": "i1", "details": {"title": "Orders DB down", "severity": "sev1"}}]),
        "2025-01-08T05:00:00Z",
        "01-08 02:00 i1 opened
         01-08 02:00 i1 paged L1.0 schedule:primary alice
         01-08 02:10 i1 escalated L2.0 — level 1 not acknowledged within 10 min
         01-08 02:10 i1 paged L2.0 schedule:backup carol
         01-08 02:10 i1 paged L2.0 person:sam
         01-08 02:40 i1 escalated L3.0 — level 2 not acknowledged within 30 min
         01-08 02:40 i1 paged L3.0 person:erin
         01-08 02:40 i1 posted L3.0 channel:major-incident",
    );
    // The senior takes it at 02:15 but it is still unresolved 45 minutes after level 2 was paged.
    check(
        world(json!({})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "i1", "details": {"title": "Orders DB down", "severity": "sev1"}},
            {"at": "2025-01-08T02:15:00Z", "input": "acknowledge", "incident": "i1", "by": "sam"},
            {"at": "2025-01-08T03:10:00Z", "input": "resolve", "incident": "i1", "by": "sam"}
        ]),
        "2025-01-08T05:00:00Z",
        "01-08 02:00 i1 opened
         01-08 02:00 i1 paged L1.0 schedule:primary alice
         01-08 02:10 i1 escalated L2.0 — level 1 not acknowledged within 10 min
         01-08 02:10 i1 paged L2.0 schedule:backup carol
         01-08 02:10 i1 paged L2.0 person:sam
         01-08 02:15 i1 acknowledged
         01-08 02:55 i1 escalated L3.0 — not resolved within 45 min of level 2
         01-08 02:55 i1 paged L3.0 person:erin
         01-08 02:55 i1 posted L3.0 channel:major-incident
         01-08 03:10 i1 resolved",
    );
    // Acknowledged and resolved quickly: nobody else is woken.
    check(
        world(json!({})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "i1", "details": {"title": "Orders DB down", "severity": "sev1"}},
            {"at": "2025-01-08T02:04:00Z", "input": "acknowledge", "incident": "i1", "by": "alice"},
            {"at": "2025-01-08T02:30:00Z", "input": "resolve", "incident": "i1", "by": "alice"},
            {"at": "2025-01-08T02:31:00Z", "input": "acknowledge", "incident": "i1", "by": "bob"}
        ]),
        "2025-01-08T05:00:00Z",
        "01-08 02:00 i1 opened
         01-08 02:00 i1 paged L1.0 schedule:primary alice
         01-08 02:04 i1 acknowledged
         01-08 02:30 i1 resolved
         01-08 02:31 i1 rejected — Incident “i1” is already resolved.",
    );
}

fn one_level_policy(schedule: &str) -> Value {
    json!([{"id": "p", "levels": [{"targets": [{"schedule": schedule}]}]}])
}

fn opens(times: &[(&str, &str)]) -> Value {
    Value::Array(times.iter().map(|(id, at)| json!({"at": at, "input": "open", "id": id, "details": {"title": "x"}})).collect())
}

#[test]
fn dst_handoffs_in_amsterdam() {
    // Daily at 09:00 local from Friday 2025-03-28 (alice), Saturday bob, Sunday (DST starts) alice…
    let schedules = json!([{"id": "ams", "time_zone": "Europe/Amsterdam",
        "layers": [{"people": ["alice", "bob"], "start": "2025-03-28T09:00", "every": "daily"}]}]);
    check(
        world(json!({"schedules": schedules, "policies": one_level_policy("ams"), "default_policy": "p"})),
        opens(&[
            ("sat-0859", "2025-03-29T07:59:00Z"), // 08:59 CET: Friday's shift
            ("sat-0900", "2025-03-29T08:00:00Z"), // 09:00 CET
            ("sun-0859", "2025-03-30T06:59:00Z"), // 08:59 CEST: the 23-hour shift is still Saturday's
            ("sun-0900", "2025-03-30T07:00:00Z"), // 09:00 CEST
            ("oct-0859", "2025-10-26T07:59:00Z"), // 08:59 CET after the clocks went back: a 25-hour shift
            ("oct-0900", "2025-10-26T08:00:00Z"), // 09:00 CET
        ]),
        "2025-10-26T09:00:00Z",
        "03-29 07:59 sat-0859 opened
         03-29 07:59 sat-0859 paged L1.0 schedule:ams alice
         03-29 08:00 sat-0900 opened
         03-29 08:00 sat-0900 paged L1.0 schedule:ams bob
         03-30 06:59 sun-0859 opened
         03-30 06:59 sun-0859 paged L1.0 schedule:ams bob
         03-30 07:00 sun-0900 opened
         03-30 07:00 sun-0900 paged L1.0 schedule:ams alice
         10-26 07:59 oct-0859 opened
         10-26 07:59 oct-0859 paged L1.0 schedule:ams bob
         10-26 08:00 oct-0900 opened
         10-26 08:00 oct-0900 paged L1.0 schedule:ams alice",
    );
}

#[test]
fn dst_handoffs_in_new_york() {
    // Daily at 02:30 local from Friday 2025-03-07 (carol). On 2025-03-09 02:30 does not exist: the
    // handoff moves to 03:30 EDT (07:30Z). On 2025-11-02 the clocks go back: 02:30 EST is 07:30Z.
    let schedules = json!([{"id": "ny", "time_zone": "America/New_York",
        "layers": [{"people": ["carol", "dave"], "start": "2025-03-07T02:30", "every": "daily"}]}]);
    check(
        world(json!({"schedules": schedules, "policies": one_level_policy("ny"), "default_policy": "p"})),
        opens(&[("mar-a", "2025-03-09T07:29:00Z"), ("mar-b", "2025-03-09T07:30:00Z"), ("nov-a", "2025-11-02T07:29:00Z"), ("nov-b", "2025-11-02T07:30:00Z")]),
        "2025-11-02T08:00:00Z",
        "03-09 07:29 mar-a opened
         03-09 07:29 mar-a paged L1.0 schedule:ny dave
         03-09 07:30 mar-b opened
         03-09 07:30 mar-b paged L1.0 schedule:ny carol
         11-02 07:29 nov-a opened
         11-02 07:29 nov-a paged L1.0 schedule:ny dave
         11-02 07:30 nov-b opened
         11-02 07:30 nov-b paged L1.0 schedule:ny carol",
    );
}

#[test]
fn overnight_restriction_puts_the_night_layer_on_top() {
    let schedules = json!([{"id": "n", "time_zone": "Europe/Amsterdam", "layers": [
        {"people": ["dave"], "start": "2025-01-01T00:00", "every": "daily"},
        {"people": ["nina"], "start": "2025-01-01T00:00", "every": "daily", "restrictions": [{"from": "22:00", "to": "06:00"}]}
    ]}]);
    check(
        world(json!({"schedules": schedules, "policies": one_level_policy("n"), "default_policy": "p"})),
        opens(&[("a", "2025-01-08T20:59:00Z"), ("b", "2025-01-08T21:00:00Z"), ("c", "2025-01-09T04:59:00Z"), ("d", "2025-01-09T05:00:00Z")]),
        "2025-01-09T06:00:00Z",
        "01-08 20:59 a opened
         01-08 20:59 a paged L1.0 schedule:n dave
         01-08 21:00 b opened
         01-08 21:00 b paged L1.0 schedule:n nina
         01-09 04:59 c opened
         01-09 04:59 c paged L1.0 schedule:n nina
         01-09 05:00 d opened
         01-09 05:00 d paged L1.0 schedule:n dave",
    );
}

#[test]
fn overrides_and_an_empty_level_skipped() {
    let schedules = json!([{"id": "primary", "time_zone": "UTC",
    "layers": [{"people": ["alice", "bob"], "start": "2025-01-06T09:00", "every": "weekly"}],
    "overrides": [
        {"start": "2025-01-08T00:00:00Z", "end": "2025-01-08T12:00:00Z", "replace": "alice", "with": "carol"},
        {"start": "2025-01-08T12:00:00Z", "end": "2025-01-08T13:00:00Z", "add": "sam"},
        {"start": "2025-01-08T13:00:00Z", "end": "2025-01-08T14:00:00Z", "remove": "alice"}
    ]}]);
    let policies = json!([{"id": "p", "levels": [
        {"targets": [{"schedule": "primary"}], "ack_timeout": 5},
        {"targets": [{"person": "erin"}]}
    ]}]);
    check(
        world(json!({"schedules": schedules, "policies": policies, "default_policy": "p"})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "replaced", "details": {"title": "x"}},
            {"at": "2025-01-08T02:01:00Z", "input": "acknowledge", "incident": "replaced", "by": "carol"},
            {"at": "2025-01-08T12:30:00Z", "input": "open", "id": "added", "details": {"title": "x"}},
            {"at": "2025-01-08T12:31:00Z", "input": "acknowledge", "incident": "added", "by": "sam"},
            {"at": "2025-01-08T13:30:00Z", "input": "open", "id": "removed", "details": {"title": "x"}}
        ]),
        "2025-01-08T14:00:00Z",
        "01-08 02:00 replaced opened
         01-08 02:00 replaced paged L1.0 schedule:primary carol
         01-08 02:01 replaced acknowledged
         01-08 12:30 added opened
         01-08 12:30 added paged L1.0 schedule:primary alice
         01-08 12:30 added paged L1.0 schedule:primary sam
         01-08 12:31 added acknowledged
         01-08 13:30 removed opened
         01-08 13:30 removed level_skipped L1.0 — nobody on call for its targets
         01-08 13:30 removed paged L2.0 person:erin",
    );
}

#[test]
fn duplicate_alerts_fold_into_the_open_incident() {
    let alert = |at: &str, id: &str| json!({"at": at, "input": "alert", "id": id, "details": {"title": "Disk 91% on db-1", "dedup_key": "disk-db-1"}});
    let sim = run(
        world(json!({})),
        json!([
            alert("2025-01-08T02:00:00Z", "a1"),
            alert("2025-01-08T02:05:00Z", "a2"),
            alert("2025-01-08T02:06:00Z", "a3"),
            {"at": "2025-01-08T02:10:00Z", "input": "resolve_by_key", "dedup_key": "disk-db-1"},
            alert("2025-01-08T02:20:00Z", "a4"),
            {"at": "2025-01-08T02:21:00Z", "input": "resolve_by_key", "dedup_key": "nothing-open"}
        ]),
        "2025-01-08T02:30:00Z",
    );
    let want = "01-08 02:00 a1 opened
                01-08 02:00 a1 paged L1.0 schedule:primary alice
                01-08 02:05 a1 alert_folded
                01-08 02:06 a1 alert_folded
                01-08 02:10 a1 resolved
                01-08 02:20 a4 opened
                01-08 02:20 a4 paged L1.0 schedule:primary alice
                01-08 02:21 - rejected — No open incident has the dedup key “nothing-open”.";
    assert_eq!(render(&sim.lines), trim_lines(want));
    let a1 = sim.engine.incident("a1").unwrap();
    assert_eq!((a1.alert_count, a1.last_seen.to_rfc3339()), (3, "2025-01-08T02:06:00+00:00".to_string()));
    assert!(sim.engine.incident("a2").is_none(), "a folded alert opens no incident");
}

#[test]
fn a_folded_alert_adds_what_is_new_and_overwrites_nothing() {
    let rules = json!([{"id": "impact", "when": {"field": "customer_impact", "equals": "true"}, "then": [{"set_priority": "urgent"}]}]);
    let sim = run(
        world(json!({"rules": rules})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "alert", "id": "a1", "details": {"title": "Checkout 5xx", "dedup_key": "checkout",
                "links": ["https://grafana/d/1"], "labels": {"instance": "web-1", "alertname": "Checkout5xx"}}},
            {"at": "2025-01-08T02:05:00Z", "input": "alert", "id": "a2", "details": {"title": "Checkout 5xx (again)", "dedup_key": "checkout", "severity": "sev4",
                "summary": "error rate 7%", "service": "checkout", "customer_impact": true,
                "links": ["https://grafana/d/1", "https://logs/q"], "labels": {"instance": "web-2", "zone": "eu-1"}}}
        ]),
        "2025-01-08T02:10:00Z",
    );
    let a1 = sim.engine.incident("a1").unwrap();
    let d = &a1.details;
    assert_eq!(d.title, "Checkout 5xx", "the title stays");
    assert_eq!(d.severity, piket::engine::incident::Severity::Sev3, "the severity stays (sev3 is the default)");
    assert_eq!(d.links, ["https://grafana/d/1", "https://logs/q"]);
    assert_eq!(d.labels["instance"], "web-1", "a label already there is not overwritten");
    assert_eq!(d.labels["zone"], "eu-1");
    assert_eq!((d.summary.as_str(), d.service.as_str(), d.customer_impact), ("error rate 7%", "checkout", true), "blanks are filled");
    let folded = sim.lines.iter().find(|l| l.kind == "alert_folded").unwrap();
    assert_eq!(folded.detail, "alert #2: Checkout 5xx (again) (1 new link, 1 new label, summary, service, customer impact)");
    assert_eq!(a1.details.priority, Some(piket::engine::incident::Priority::Urgent), "rules see what the fold added");
}

#[test]
fn suppression_by_rule_and_by_maintenance_window() {
    let rules = json!([{"id": "staging-disk",
        "when": {"all": [{"field": "environment", "equals": "staging"}, {"field": "labels.alertname", "matches": "Disk*"}]},
        "then": [{"suppress": "staging disk alert"}]}]);
    let maintenance = json!([{"id": "m", "name": "search reindex", "start": "2025-01-08T03:00:00Z", "end": "2025-01-08T04:00:00Z",
        "matching": {"field": "service", "equals": "search"}}]);
    check(
        world(json!({"rules": rules, "maintenance": maintenance})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "s1", "details": {"title": "disk", "environment": "staging", "labels": {"alertname": "DiskFull"}}},
            {"at": "2025-01-08T03:10:00Z", "input": "open", "id": "m1", "details": {"title": "search slow", "service": "search", "severity": "sev1"}},
            {"at": "2025-01-08T03:20:00Z", "input": "open", "id": "m2", "details": {"title": "search slow", "service": "search"}},
            {"at": "2025-01-08T03:30:00Z", "input": "resolve", "incident": "m2"},
            {"at": "2025-01-08T03:40:00Z", "input": "open", "id": "other", "details": {"title": "api slow", "service": "api"}},
            {"at": "2025-01-08T03:41:00Z", "input": "acknowledge", "incident": "other", "by": "alice"}
        ]),
        "2025-01-08T04:05:00Z",
        "01-08 02:00 s1 opened
         01-08 02:00 s1 suppressed — staging disk alert
         01-08 03:10 m1 opened
         01-08 03:10 m1 suppressed — maintenance window “search reindex” until 2025-01-08T04:00:00+00:00
         01-08 03:20 m2 opened
         01-08 03:20 m2 suppressed — maintenance window “search reindex” until 2025-01-08T04:00:00+00:00
         01-08 03:30 m2 resolved
         01-08 03:40 other opened
         01-08 03:40 other paged L1.0 schedule:primary alice
         01-08 03:41 other acknowledged
         01-08 04:00 m1 maintenance_ended — still open: escalation starts
         01-08 04:00 m1 paged L1.0 schedule:primary alice",
    );
}

#[test]
fn repeat_loops_then_stop() {
    let policies = json!([{"id": "p", "levels": [
        {"targets": [{"person": "alice"}], "ack_timeout": 5},
        {"targets": [{"person": "bob"}], "ack_timeout": "5m"}
    ], "repeat": {"times": 2, "from_level": 2}}]);
    check(
        world(json!({"policies": policies, "default_policy": "p"})),
        json!([{"at": "2025-01-08T02:00:00Z", "input": "open", "id": "i", "details": {"title": "x"}}]),
        "2025-01-08T03:00:00Z",
        "01-08 02:00 i opened
         01-08 02:00 i paged L1.0 person:alice
         01-08 02:05 i escalated L2.0 — level 1 not acknowledged within 5 min
         01-08 02:05 i paged L2.0 person:bob
         01-08 02:10 i loop_started — repeat 1 of 2, from level 2
         01-08 02:10 i escalated L2.1 — level 2 not acknowledged within 5 min
         01-08 02:10 i paged L2.1 person:bob
         01-08 02:15 i loop_started — repeat 2 of 2, from level 2
         01-08 02:15 i escalated L2.2 — level 2 not acknowledged within 5 min
         01-08 02:15 i paged L2.2 person:bob
         01-08 02:20 i escalation_stopped — level 2 not acknowledged within 5 min; no further level",
    );
}

#[test]
fn business_hours_level_and_human_checkpoint() {
    let policies = json!([{"id": "pay", "time_zone": "Europe/Amsterdam", "holidays": ["2025-01-01"], "levels": [
        {"targets": [{"person": "alice"}], "ack_timeout": 5},
        {"targets": [{"person": "sam"}], "ack_timeout": 5,
         "only_during": [{"days": "weekdays", "from": "09:00", "to": "17:00", "holidays": "exclude"}]},
        {"targets": [{"person": "erin"}], "ack_timeout": 5,
         "checkpoint": {"prompt": "Page the payments vendor?", "timeout": 15}}
    ]}]);
    check(
        world(json!({"policies": policies, "default_policy": "pay"})),
        json!([
            // 03:00 local on a Wednesday: the business-hours level is skipped; a human confirms.
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "night", "details": {"title": "x"}},
            {"at": "2025-01-08T02:12:00Z", "input": "confirm_checkpoint", "incident": "night", "by": "erin"},
            // 11:00 local: sam is in; nobody confirms, so after 15 min it proceeds.
            {"at": "2025-01-08T10:00:00Z", "input": "open", "id": "day", "details": {"title": "x"}}
        ]),
        "2025-01-08T11:00:00Z",
        "01-08 02:00 night opened
         01-08 02:00 night paged L1.0 person:alice
         01-08 02:05 night escalated L2.0 — level 1 not acknowledged within 5 min
         01-08 02:05 night level_skipped L2.0 — outside the level's hours
         01-08 02:05 night checkpoint_waiting L3.0 — Page the payments vendor?
         01-08 02:12 night checkpoint_confirmed L3.0
         01-08 02:12 night paged L3.0 person:erin
         01-08 02:17 night escalation_stopped — level 3 not acknowledged within 5 min; no further level
         01-08 10:00 day opened
         01-08 10:00 day paged L1.0 person:alice
         01-08 10:05 day escalated L2.0 — level 1 not acknowledged within 5 min
         01-08 10:05 day paged L2.0 person:sam
         01-08 10:10 day escalated L3.0 — level 2 not acknowledged within 5 min
         01-08 10:10 day checkpoint_waiting L3.0 — Page the payments vendor?
         01-08 10:25 day checkpoint_timed_out L3.0
         01-08 10:25 day paged L3.0 person:erin
         01-08 10:30 day escalation_stopped — level 3 not acknowledged within 5 min; no further level",
    );
}

#[test]
fn security_goes_straight_to_the_senior_level_with_secops() {
    let rules = json!([{"id": "security", "when": {"field": "title", "contains": "security"},
        "then": [{"start_at_level": 2}, {"add_targets": [{"person": "sec"}]}, {"set_priority": "urgent"}]}]);
    let sim = run(
        world(json!({"rules": rules})),
        json!([
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "sec-1", "details": {"title": "SECURITY: leaked deploy token"}},
            {"at": "2025-01-08T02:00:00Z", "input": "open", "id": "web-1", "details": {"title": "Web latency high"}}
        ]),
        "2025-01-08T02:20:00Z",
    );
    let want = "01-08 02:00 sec-1 opened
                01-08 02:00 sec-1 paged L2.0 schedule:backup carol
                01-08 02:00 sec-1 paged L2.0 person:sam
                01-08 02:00 sec-1 paged L2.0 person:sec
                01-08 02:00 web-1 opened
                01-08 02:00 web-1 paged L1.0 schedule:primary alice";
    assert_eq!(render(&sim.lines), trim_lines(want));
    let sec = sim.engine.incident("sec-1").unwrap();
    assert_eq!(sec.details.priority, Some(piket::engine::Priority::Urgent));
    assert_eq!(sec.applied_rules, vec!["security".to_string()]);
}

#[test]
fn lifecycle_inputs() {
    let policies = json!([
        {"id": "life", "ack_reminder": 30, "levels": [
            {"targets": [{"person": "alice"}], "ack_timeout": {"sev1": 5, "default": 20}},
            {"targets": [{"person": "bob"}], "ack_timeout": 10},
            {"targets": [{"person": "erin"}]}
        ]},
        {"id": "stuck", "escalate_if_status_unchanged": 30, "levels": [
            {"targets": [{"person": "alice"}], "ack_timeout": 5},
            {"targets": [{"person": "bob"}], "ack_timeout": 5},
            {"targets": [{"person": "erin"}]}
        ]}
    ]);
    let open = |at: &str, id: &str, policy: &str| json!({"at": at, "input": "open", "id": id, "details": {"title": id, "policy": policy}});
    check(
        world(json!({"policies": policies, "default_policy": "life"})),
        json!([
            // A severity change re-evaluates the running timeout: SEV1's 5 min have passed already.
            open("2025-01-08T00:00:00Z", "sev", "life"),
            {"at": "2025-01-08T00:08:00Z", "input": "change_severity", "incident": "sev", "by": "alice", "severity": "sev1"},
            {"at": "2025-01-08T00:19:00Z", "input": "resolve", "incident": "sev", "by": "bob"},
            // Acknowledged: a reminder after 30 min; given back: the ack timeout starts again.
            open("2025-01-08T01:00:00Z", "ack", "life"),
            {"at": "2025-01-08T01:10:00Z", "input": "acknowledge", "incident": "ack", "by": "alice"},
            {"at": "2025-01-08T01:50:00Z", "input": "unacknowledge", "incident": "ack", "by": "alice"},
            {"at": "2025-01-08T02:15:00Z", "input": "resolve", "incident": "ack", "by": "bob"},
            // Snoozed for an hour: then it is paged again, in a new loop.
            open("2025-01-08T03:00:00Z", "snooze", "life"),
            {"at": "2025-01-08T03:05:00Z", "input": "snooze", "incident": "snooze", "by": "alice", "until": "2025-01-08T04:00:00Z"},
            {"at": "2025-01-08T04:01:00Z", "input": "reassign", "incident": "snooze", "by": "alice", "to": {"person": "carol"}},
            {"at": "2025-01-08T04:02:00Z", "input": "reassign", "incident": "snooze", "by": "carol", "to": {"level": 3}},
            {"at": "2025-01-08T04:03:00Z", "input": "escalate_now", "incident": "snooze", "by": "erin"},
            {"at": "2025-01-08T04:04:00Z", "input": "resolve", "incident": "snooze", "by": "erin"},
            // Acknowledged but the status sits still: pulled up every 30 min.
            open("2025-01-08T06:00:00Z", "stuck", "stuck"),
            {"at": "2025-01-08T06:01:00Z", "input": "acknowledge", "incident": "stuck", "by": "alice"},
            {"at": "2025-01-08T06:40:00Z", "input": "change_status", "incident": "stuck", "by": "bob", "status": "investigating"}
        ]),
        "2025-01-08T08:00:00Z",
        "01-08 00:00 sev opened
         01-08 00:00 sev paged L1.0 person:alice
         01-08 00:08 sev severity_changed
         01-08 00:08 sev escalated L2.0 — level 1 not acknowledged within 5 min
         01-08 00:08 sev paged L2.0 person:bob
         01-08 00:18 sev escalated L3.0 — level 2 not acknowledged within 10 min
         01-08 00:18 sev paged L3.0 person:erin
         01-08 00:19 sev resolved
         01-08 01:00 ack opened
         01-08 01:00 ack paged L1.0 person:alice
         01-08 01:10 ack acknowledged
         01-08 01:40 ack ack_reminder person:alice
         01-08 01:50 ack unacknowledged
         01-08 02:10 ack escalated L2.0 — level 1 not acknowledged within 20 min
         01-08 02:10 ack paged L2.0 person:bob
         01-08 02:15 ack resolved
         01-08 03:00 snooze opened
         01-08 03:00 snooze paged L1.0 person:alice
         01-08 03:05 snooze snoozed
         01-08 04:00 snooze snooze_ended
         01-08 04:00 snooze paged L1.1 person:alice
         01-08 04:01 snooze reassigned carol
         01-08 04:01 snooze paged person:carol
         01-08 04:02 snooze reassigned L3.1
         01-08 04:02 snooze paged L3.1 person:erin
         01-08 04:03 snooze rejected — There is no further level to escalate to.
         01-08 04:04 snooze resolved
         01-08 06:00 stuck opened
         01-08 06:00 stuck paged L1.0 person:alice
         01-08 06:01 stuck acknowledged
         01-08 06:31 stuck escalated L2.0 — status “acknowledged” unchanged for 30 min
         01-08 06:31 stuck paged L2.0 person:bob
         01-08 06:40 stuck status_changed
         01-08 07:10 stuck escalated L3.0 — status “investigating” unchanged for 30 min
         01-08 07:10 stuck paged L3.0 person:erin
         01-08 07:40 stuck escalation_stopped — status “investigating” unchanged for 30 min; no further level",
    );
}

#[test]
fn the_cli_example_scenario_keeps_its_timeline() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/scenario-sev1-night.json")).unwrap();
    let sim = format::simulate(&format::parse_scenario(&text).unwrap());
    check_invariants(&sim.lines);
    let pages: Vec<String> =
        sim.lines.iter().filter(|l| l.key.is_some()).map(|l| format!("{} {}", l.time.format("%H:%M"), l.key.as_deref().unwrap())).collect();
    assert_eq!(
        pages,
        [
            "01:00 inc-1/L1/loop0/schedule:primary/alice",
            "01:10 inc-1/L2/loop0/schedule:backup/carol",
            "01:10 inc-1/L2/loop0/person:sam/sam",
            "01:55 inc-1/L3/loop0/person:erin/erin",
            "01:55 inc-1/L3/loop0/channel:major-incident",
            "02:14 inc-1/reminder1/person:sam/sam",
            "03:00 inc-2/L2/loop0/schedule:backup/carol",
            "03:00 inc-2/L2/loop0/person:sam/sam",
            "03:00 inc-2/L2/loop0/person:sec/sec",
            "03:45 inc-2/L3/loop0/person:erin/erin",
            "03:45 inc-2/L3/loop0/channel:major-incident",
        ]
    );
}

#[test]
fn rules_on_change_and_recurring_alerts() {
    let rules = json!([
        {"id": "flapping", "when": {"recurring": {"at_least": 3, "within": 60, "same": "dedup_key"}}, "then": [{"escalate_faster": 0.5}]},
        {"id": "sev1-manager", "when": {"field": "severity", "equals": "sev1"}, "then": [{"add_targets": [{"person": "erin"}]}]}
    ]);
    let flap = |at: &str, id: &str| json!({"at": at, "input": "alert", "id": id, "details": {"title": "queue lag", "dedup_key": "flap"}});
    let resolve = |at: &str| json!({"at": at, "input": "resolve_by_key", "dedup_key": "flap"});
    check(
        world(json!({"rules": rules})),
        json!([
            flap("2025-01-08T00:00:00Z", "r1"),
            resolve("2025-01-08T00:01:00Z"),
            flap("2025-01-08T00:10:00Z", "r2"),
            resolve("2025-01-08T00:11:00Z"),
            // The third in an hour: every timeout halved (30 → 15 min, 30 → 15 min).
            flap("2025-01-08T00:20:00Z", "r3"),
            // Raised to SEV1 later: the manager is added to the current level and paged now, and
            // SEV1's 10-minute ack timeout counts from when level 1 was paged.
            {"at": "2025-01-08T01:00:00Z", "input": "open", "id": "c1", "details": {"title": "checkout errors"}},
            {"at": "2025-01-08T01:05:00Z", "input": "change_severity", "incident": "c1", "by": "alice", "severity": "sev1"}
        ]),
        "2025-01-08T01:12:00Z",
        "01-08 00:00 r1 opened
         01-08 00:00 r1 paged L1.0 schedule:primary alice
         01-08 00:01 r1 resolved
         01-08 00:10 r2 opened
         01-08 00:10 r2 paged L1.0 schedule:primary alice
         01-08 00:11 r2 resolved
         01-08 00:20 r3 opened
         01-08 00:20 r3 paged L1.0 schedule:primary alice
         01-08 00:35 r3 escalated L2.0 — level 1 not acknowledged within 15 min
         01-08 00:35 r3 paged L2.0 schedule:backup carol
         01-08 00:35 r3 paged L2.0 person:sam
         01-08 00:50 r3 escalated L3.0 — level 2 not acknowledged within 15 min
         01-08 00:50 r3 paged L3.0 person:erin
         01-08 00:50 r3 posted L3.0 channel:major-incident
         01-08 01:00 c1 opened
         01-08 01:00 c1 paged L1.0 schedule:primary alice
         01-08 01:05 c1 severity_changed
         01-08 01:05 c1 paged L1.0 person:erin
         01-08 01:10 c1 escalated L2.0 — level 1 not acknowledged within 10 min
         01-08 01:10 c1 paged L2.0 schedule:backup carol
         01-08 01:10 c1 paged L2.0 person:sam",
    );
}

#[test]
fn refused_inputs_say_why_and_change_nothing() {
    let open = |at: &str, id: &str| json!({"at": at, "input": "open", "id": id, "details": {"title": id}});
    let cases: Vec<(Value, &str)> = vec![
        (open("2025-01-08T02:01:00Z", "i"), "An incident “i” already exists."),
        (json!({"at": "2025-01-08T02:01:00Z", "input": "acknowledge", "incident": "nope", "by": "alice"}), "No incident “nope”."),
        (json!({"at": "2025-01-08T02:01:00Z", "input": "acknowledge", "incident": "i", "by": "mallory"}), "No person “mallory”."),
        (json!({"at": "2025-01-08T02:01:00Z", "input": "unacknowledge", "incident": "i", "by": "alice"}), "It is not acknowledged."),
        (json!({"at": "2025-01-08T02:01:00Z", "input": "confirm_checkpoint", "incident": "i", "by": "alice"}), "No checkpoint is waiting for confirmation."),
        (
            json!({"at": "2025-01-08T02:01:00Z", "input": "snooze", "incident": "i", "by": "alice", "until": "2025-01-08T02:00:00Z"}),
            "Snooze until a time after now.",
        ),
        (json!({"at": "2025-01-08T02:01:00Z", "input": "reassign", "incident": "i", "by": "alice", "to": {"level": 4}}), "The policy has no level 4."),
    ];
    for (input, why) in cases {
        let sim = run(world(json!({})), json!([open("2025-01-08T02:00:00Z", "i"), input]), "2025-01-08T02:05:00Z");
        let refused: Vec<&str> = sim.lines.iter().filter(|l| l.kind == "rejected").map(|l| l.detail.as_str()).collect();
        assert_eq!(refused, [why]);
        let i = sim.engine.incident("i").unwrap();
        assert_eq!(i.timeline.len(), 2, "a refused input left a trace: {:?}", i.timeline);
    }
}
