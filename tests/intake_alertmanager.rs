#![cfg(not(target_arch = "wasm32"))]
//! Issue 11 (bug 8): one Alertmanager notification is one incident, one page. A 20-alert group
//! made from the GoAlert example payload (`tests/fixtures/payloads/alertmanager-firing-multiple.json`,
//! its alert repeated for 20 instances), read by intake and run through the engine.

use chrono::{DateTime, Utc};
use piket::engine::escalation::{Delivery, Engine, Input};
use piket::engine::{format, Actor, IncidentDetails, IncidentId, World};
use piket::intake::alertmanager::{group_dedup_key, label_fingerprint};
use piket::intake::{parse_payload, parse_payload_detailed, parse_payload_with, AlertmanagerGrouping};
use serde_json::{json, Value};

const MULTIPLE: &str = include_str!("fixtures/payloads/alertmanager-firing-multiple.json");

/// sha256("{}:{}"): what Alertmanager's own PagerDuty integration sends as `dedup_key` for the
/// fixture's group (root route, no `group_by`).
const GROUP_KEY_HASH: &str = "cc9772a1ec901d26ef71dae861793e4d08979fa5030a3f0a5f3ba549f1f2d0b6";

fn instance(i: usize) -> String {
    format!("10.0.0.{i}:9090")
}

/// The fixture's notification with `n` alerts (instances 10.0.0.1 … 10.0.0.n), the first
/// `resolved` of them resolved, the group's status and `truncatedAlerts` as given.
fn group(n: usize, resolved: usize, status: &str, truncated: u64) -> String {
    let mut payload: Value = serde_json::from_str(MULTIPLE).unwrap();
    let template = payload["alerts"][0].clone();
    let alerts: Vec<Value> = (1..=n)
        .map(|i| {
            let mut a = template.clone();
            let inst = instance(i);
            a["labels"]["instance"] = json!(inst);
            let labels = serde_json::from_value(a["labels"].clone()).unwrap();
            a["fingerprint"] = json!(label_fingerprint(&labels));
            a["annotations"]["summary"] = json!(format!("Instance {inst} down"));
            a["annotations"]["details"] = json!(format!("{inst} of job prometheus has been down for more than 1 minute."));
            if i <= resolved {
                a["status"] = json!("resolved");
                a["endsAt"] = json!("2020-08-08T15:00:00Z");
            }
            a
        })
        .collect();
    payload["alerts"] = json!(alerts);
    payload["status"] = json!(status);
    payload["truncatedAlerts"] = json!(truncated);
    payload.to_string()
}

fn counter() -> impl FnMut() -> IncidentId {
    let mut n = 0;
    move || {
        n += 1;
        format!("inc-{n}").into()
    }
}

fn open(input: &Input) -> (&str, &IncidentDetails) {
    match input {
        Input::Open { id, details, .. } => (id, details),
        other => panic!("expected an open, got {other:?}"),
    }
}

#[test]
fn a_twenty_alert_group_is_one_open_with_the_groups_key() {
    let inputs = parse_payload(&group(20, 0, "firing", 0), &mut counter()).unwrap();
    assert_eq!(inputs.len(), 1, "one notification, one incident");
    let (id, d) = open(&inputs[0]);
    assert_eq!(id, "inc-1");
    assert_eq!(d.dedup_key.as_deref(), Some(GROUP_KEY_HASH));
    assert_eq!(d.dedup_key, Some(group_dedup_key(Some("{}:{}"), Some("goalert"), &Default::default())));
    assert_eq!(d.title, "InstanceDown");
    assert_eq!(d.severity, piket::engine::Severity::Sev1, "commonLabels.severity = critical");
    assert!(d.summary.starts_with("20 alerts firing in this Alertmanager notification (receiver goalert, group {}:{})."), "{}", d.summary);
    for i in 1..=20 {
        let inst = instance(i);
        assert!(d.summary.contains(&format!("\n- instance={inst}: Instance {inst} down — ")), "alert {i} is named:\n{}", d.summary);
    }
    assert!(!d.summary.contains("and 0 more") && !d.summary.contains("truncated"), "{}", d.summary);
    assert_eq!(d.labels.get("alertname").map(String::as_str), Some("InstanceDown"));
    assert!(!d.labels.contains_key("instance"), "labels are the common ones");
    assert_eq!(d.links.first().map(String::as_str), Some("http://pop-os:9093"), "externalURL");
}

#[test]
fn the_same_group_again_has_the_same_key_and_folds() {
    let mut ids = counter();
    let first = parse_payload(&group(20, 0, "firing", 0), &mut ids).unwrap();
    let again = parse_payload(&group(20, 0, "firing", 0), &mut ids).unwrap();
    let partly_resolved = parse_payload(&group(20, 5, "firing", 0), &mut ids).unwrap();
    let key = |inputs: &[Input]| open(&inputs[0]).1.dedup_key.clone();
    assert_eq!(key(&first), key(&again));
    assert_eq!(key(&first), key(&partly_resolved), "resolved members do not change the group");
    let d = open(&partly_resolved[0]).1;
    assert!(d.summary.starts_with("15 alerts firing, 5 resolved"), "{}", d.summary);
    assert!(!d.summary.contains(&format!("instance={}:", instance(5))), "resolved ones are not listed");
    assert!(d.summary.contains(&format!("instance={}:", instance(6))));

    let (world, now) = world();
    let mut engine = Engine::new();
    for input in first.into_iter().chain(again).chain(partly_resolved) {
        assert_eq!(engine.handle(&world, now, input).rejected, None);
    }
    assert_eq!(engine.incidents().count(), 1);
    assert_eq!(engine.incident("inc-1").unwrap().alert_count, 3, "each notification counted");
}

#[test]
fn a_resolved_group_resolves_by_key() {
    let inputs = parse_payload(&group(20, 20, "resolved", 0), &mut counter()).unwrap();
    assert_eq!(inputs, vec![Input::ResolveByKey { dedup_key: GROUP_KEY_HASH.into(), by: Actor::Automation }]);
}

#[test]
fn one_incident_per_alert_is_still_an_option() {
    let json = group(20, 0, "firing", 0);
    let inputs = parse_payload_with(&json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap();
    assert_eq!(inputs.len(), 20);
    for (i, input) in inputs.iter().enumerate() {
        let (id, d) = open(input);
        assert_eq!(id, format!("inc-{}", i + 1));
        assert_eq!(d.dedup_key.as_deref(), Some(label_fingerprint(&d.labels).as_str()), "keyed by the alert's fingerprint");
        assert_eq!(d.title, format!("Instance {} down", instance(i + 1)));
    }
    // A resolved member resolves its own incident.
    let inputs = parse_payload_with(&group(3, 1, "firing", 0), AlertmanagerGrouping::PerAlert, &mut counter()).unwrap();
    assert!(matches!(&inputs[0], Input::ResolveByKey { .. }));
    assert_eq!(inputs.len(), 3);
    // The default is one per group.
    assert_eq!(AlertmanagerGrouping::default(), AlertmanagerGrouping::PerGroup);
}

#[test]
fn truncated_alerts_are_mentioned() {
    let intake = parse_payload_detailed(&group(20, 0, "firing", 5), &mut counter()).unwrap();
    assert_eq!(intake.truncated_alerts, 5);
    let d = open(&intake.events[0].input).1;
    assert!(d.summary.ends_with("\nAlertmanager left 5 more alerts out of this notification (truncatedAlerts: 5)."), "{}", d.summary);
}

/// One person on call through one policy, as the default.
fn world() -> (World, DateTime<Utc>) {
    let world = json!({
        "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC", "contact": {"ntfy_topic": "piket-alice"}}],
        "policies": [{"id": "ops", "levels": [{"targets": [{"person": "alice"}], "ack_timeout": 30}]}],
        "default_policy": "ops"
    });
    let world = format::parse_world(&world.to_string()).unwrap_or_else(|e| panic!("{e}"));
    (world, "2025-01-01T02:00:00Z".parse().unwrap())
}

/// Run the inputs at `now`; how many pages they queued.
fn pages(engine: &mut Engine, world: &World, now: DateTime<Utc>, inputs: Vec<Input>) -> usize {
    let mut pages = 0;
    for input in inputs {
        let outcome = engine.handle(world, now, input);
        assert_eq!(outcome.rejected, None);
        pages += outcome.effects.iter().filter(|e| matches!(e.delivery, Some(Delivery::Page { .. }))).count();
    }
    pages
}

#[test]
fn a_twenty_alert_group_pages_once_not_twenty_times() {
    let (world, now) = world();
    let json = group(20, 0, "firing", 0);

    let mut engine = Engine::new();
    let mut ids = counter();
    assert_eq!(pages(&mut engine, &world, now, parse_payload(&json, &mut ids).unwrap()), 1, "one group, one page");
    assert_eq!(engine.incidents().count(), 1);
    let later = now + chrono::Duration::minutes(5);
    assert_eq!(pages(&mut engine, &world, later, parse_payload(&json, &mut ids).unwrap()), 0, "the next notification folds, pages nobody");
    assert_eq!(engine.incident("inc-1").unwrap().alert_count, 2);
    let resolved = group(20, 20, "resolved", 0);
    assert_eq!(pages(&mut engine, &world, later, parse_payload(&resolved, &mut ids).unwrap()), 0);
    assert!(!engine.incident("inc-1").unwrap().is_open(), "the group's resolve closed it");

    // The option: each alert its own incident and its own page, as before.
    let mut engine = Engine::new();
    let per_alert = parse_payload_with(&json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap();
    assert_eq!(pages(&mut engine, &world, now, per_alert), 20);
    assert_eq!(engine.incidents().count(), 20);
}

#[test]
fn a_one_alert_notification_reads_as_before_but_for_key_and_summary() {
    // The e2e paste test's payload: no commonLabels, commonAnnotations or groupLabels.
    let json = r#"{"version": "4", "status": "firing", "receiver": "piket", "groupKey": "{}:{alertname=\"DiskFull\"}",
      "alerts": [{"status": "firing", "fingerprint": "e2e-disk-full-1",
        "labels": {"alertname": "DiskFull", "severity": "critical", "service": "storage"},
        "annotations": {"summary": "Disk full on db-1"}, "startsAt": "2025-01-01T00:00:00Z"}]}"#;
    let group = parse_payload(json, &mut counter()).unwrap();
    let alert = parse_payload_with(json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap();
    let (g, a) = (open(&group[0]).1, open(&alert[0]).1);
    assert_eq!((g.title.as_str(), g.severity, g.service.as_str()), ("Disk full on db-1", piket::engine::Severity::Sev1, "storage"));
    assert_eq!((&g.title, g.severity, &g.service, &g.labels, &g.links), (&a.title, a.severity, &a.service, &a.labels, &a.links));
    assert_eq!(a.dedup_key.as_deref(), Some("e2e-disk-full-1"));
    assert_eq!(g.dedup_key, Some(group_dedup_key(Some("{}:{alertname=\"DiskFull\"}"), None, &Default::default())));
}
