//! Backups built to crash the clock are refused with a message naming the problem — by restore
//! and by `piket check backup`, which run the same checks — while Piket's own exports, markup in
//! a title included, restore. An incident that slipped into storage anyway is left out of the
//! engine, not run.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentDetails};
use piket::runtime::driver::Driver;
use piket::runtime::ActionError;
use piket::storage::backup::{parse_backup, ImportError};
use piket::storage::{MemoryStore, Store};
use pollster::block_on;
use serde_json::{json, Value};

const WORLD: &str = r##"{
  "people": [
    {"id": "alice", "name": "Alice", "time_zone": "UTC"},
    {"id": "bob", "name": "Bob", "time_zone": "UTC"},
    {"id": "carol", "name": "Carol", "time_zone": "UTC"}
  ],
  "policies": [{"id": "p", "name": "P", "levels": [
      {"targets": [{"person": "alice"}], "ack_timeout": "5m"},
      {"targets": [{"person": "bob"}], "ack_timeout": "5m"},
      {"targets": [{"person": "carol"}], "ack_timeout": "5m"}
  ], "repeat": {"times": 2}}],
  "default_policy": "p"
}"##;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()
}

/// A driver with one live incident (titled `title`), and its export with secrets.
fn live(title: &str) -> (Driver<MemoryStore>, String) {
    let w = parse_world(WORLD).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in w.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for p in w.policies {
        block_on(d.save(p, t0())).unwrap();
    }
    block_on(d.set_default_policy(Some("p".into()), t0())).unwrap();
    let details = IncidentDetails { title: title.into(), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() };
    block_on(d.dispatch(t0(), Input::Open { id: "inc-1".into(), by: Actor::Automation, details })).unwrap();
    let file = block_on(d.export(t0(), true)).unwrap();
    (d, file)
}

/// The export with the live incident changed by `edit`.
fn edited(file: &str, edit: impl Fn(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(file).unwrap();
    edit(&mut v["stores"]["incidents"][0]["value"]["incident"]);
    serde_json::to_string(&v).unwrap()
}

fn refused(file: &str) -> (String, String) {
    match parse_backup(file) {
        Ok(_) => panic!("a hostile backup was accepted"),
        Err(ImportError::Invalid { path, message }) => (path, message),
        Err(other) => panic!("refused, but not naming a field: {other}"),
    }
}

/// Hostile files and the field each must be refused for.
fn hostile() -> Vec<(&'static str, String, &'static str)> {
    let (_, file) = live("Disk full");
    let far = (t0() + Duration::minutes(5)).to_rfc3339();
    vec![
        ("a level past its policy's levels", edited(&file, |i| i["escalation"]["level"] = json!(6)), "escalation.level"),
        ("a frozen policy with no levels", edited(&file, |i| i["escalation"]["policy"]["levels"] = json!([])), "escalation.policy.levels"),
        ("a checkpoint timer without its checkpoint", edited(&file, |i| i["escalation"]["timers"]["checkpoint"] = json!(far)), "escalation.timers.checkpoint"),
        ("a reminder timer without its setting", edited(&file, |i| i["escalation"]["timers"]["reminder"] = json!(far)), "escalation.timers.reminder"),
        ("a stale timer without its setting", edited(&file, |i| i["escalation"]["timers"]["stale"] = json!(far)), "escalation.timers.stale"),
        (
            "a resolved incident that still pages",
            edited(&file, |i| {
                i["status"] = json!("resolved");
                i["resolved_at"] = json!(far);
            }),
            "escalation.stage",
        ),
        ("a loop counter at u32::MAX", edited(&file, |i| i["escalation"]["loop"] = json!(u32::MAX)), "escalation.loop"),
        ("more repeats used than the policy has", edited(&file, |i| i["escalation"]["repeats_used"] = json!(99)), "escalation.repeats_used"),
        ("acknowledged before it opened", edited(&file, |i| i["acknowledged"] = json!({"by": "alice", "at": "2000-01-01T00:00:00Z"})), "acknowledged.at"),
    ]
}

#[test]
fn backups_built_to_crash_the_clock_are_refused_naming_the_field() {
    for (what, file, field) in hostile() {
        let (path, message) = refused(&file);
        assert!(path.ends_with(field) && path.starts_with("stores.incidents[0].value.incident."), "{what}: {path}: {message}");
        // Restore refuses it too, and changes nothing.
        let (d, _) = live("Disk full");
        let commits = d.store().commit_count();
        let Err((d, ActionError::Import(_))) = block_on(d.import(&file, t0())) else { panic!("{what}: restore accepted it") };
        assert_eq!(d.store().commit_count(), commits, "{what}: nothing written");
    }
}

#[test]
fn an_overflowing_timeout_is_refused_in_every_form() {
    let (_, file) = live("Disk full");
    for timeout in [json!("100000000000000d"), json!(1e15), json!("31d"), json!(43201)] {
        let bad = edited(&file, |i| i["escalation"]["policy"]["levels"][0]["ack_timeout"] = timeout.clone());
        let (path, message) = refused(&bad);
        assert!(path.contains("ack_timeout") && message.contains("30 days"), "{timeout}: {path}: {message}");
    }
}

#[test]
fn pikets_own_export_with_markup_in_a_title_restores() {
    let title = "Disk <b>full</b> on db1 & x<y";
    let (d, file) = live(title);
    let (d, restore) = block_on(d.import(&file, t0())).map_err(|(_, e)| e).unwrap();
    assert!(restore.counts["incidents"] == 1);
    assert_eq!(d.engine().incident("inc-1").unwrap().details.title, title, "markup is data: kept as written");
}

#[test]
fn a_ten_megabyte_title_is_cut_and_marked_not_carried_through_every_step() {
    let (d, file) = live("x");
    let huge = edited(&file, |i| i["details"]["title"] = json!("A".repeat(10 * 1024 * 1024)));
    let (mut d, _) = block_on(d.import(&huge, t0())).map_err(|(_, e)| e).unwrap();
    let title = &d.engine().incident("inc-1").unwrap().details.title;
    assert!(title.chars().count() <= piket::engine::escalation::TITLE_MAX && title.ends_with("[truncated]"), "{}", title.len());
    block_on(d.tick(t0() + Duration::hours(1))).unwrap();
    // Typed or pasted in, too.
    let details = IncidentDetails { title: "B".repeat(100_000), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() };
    block_on(d.dispatch(t0(), Input::Open { id: "inc-2".into(), by: Actor::Automation, details })).unwrap();
    assert!(d.engine().incident("inc-2").unwrap().details.title.chars().count() <= piket::engine::escalation::TITLE_MAX);
}

#[test]
fn an_inconsistent_incident_already_in_storage_is_left_out_and_the_rest_runs() {
    let (d, file) = live("Good one");
    // Sneak a bad incident in next to the good one, past restore's checks (as an older version or
    // a hand edit might have written it).
    let store = d.into_store();
    let mut v: Value = serde_json::from_str(&file).unwrap();
    let mut bad = v["stores"]["incidents"][0]["value"].clone();
    bad["incident"]["id"] = json!("inc-bad");
    bad["incident"]["escalation"]["level"] = json!(6);
    v["stores"]["incidents"].as_array_mut().unwrap().push(json!({"id": "inc-bad", "rev": 1, "updated_at": "2026-11-29T02:00:00Z", "value": bad}));
    let stored: piket::storage::StoredIncident = serde_json::from_value(v["stores"]["incidents"][1]["value"].clone()).unwrap();
    block_on(store.put(&stored, t0())).unwrap();
    let mut d = block_on(Driver::load(store)).unwrap();
    assert_eq!(d.left_out().len(), 1);
    assert_eq!(d.left_out()[0].0, "inc-bad");
    assert!(d.left_out()[0].1.contains("escalation.level"), "{:?}", d.left_out());
    let step = block_on(d.tick(t0() + Duration::minutes(6))).unwrap();
    assert!(!step.queued.is_empty(), "the good incident still escalates");
}

#[test]
fn the_cli_runs_the_same_checks_as_restore() {
    let dir = std::env::temp_dir().join(format!("piket-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |file: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_piket")).args(["check", "backup"]).arg(file).output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    for (n, (what, file, field)) in hostile().into_iter().enumerate() {
        let path = dir.join(format!("bad-{n}.json"));
        std::fs::write(&path, file).unwrap();
        let (code, said) = run(&path);
        assert_eq!(code, 1, "{what}: {said}");
        assert!(said.contains(field), "{what}: {said}");
    }
    let (_, good) = live("Disk <b>full</b>");
    let path = dir.join("good.json");
    std::fs::write(&path, good).unwrap();
    assert_eq!(run(&path).0, 0, "{}", run(&path).1);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/example-team.json");
    assert_eq!(run(&example).0, 0, "{}", run(&example).1);
}
