//! Retrospectives through the command a screen sends: saved only for a resolved incident (hot or
//! archived), refused with each problem at its path and nothing written, read back by a reload and
//! carried by backups.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentDetails};
use piket::insight::retro::{ActionItem, Retrospective};
use piket::runtime::command::{execute, Cause, Command, Reply};
use piket::runtime::driver::Driver;
use piket::runtime::outbox::Outcome;
use piket::storage::{MemoryStore, Store};
use pollster::block_on;

const WORLD: &str = r#"{
  "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
  "policies": [{"id": "p", "name": "P", "levels": [{"targets": [{"person": "alice"}], "ack_timeout": "5m"}]}],
  "default_policy": "p"
}"#;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn open(id: &str) -> Input {
    Input::Open {
        id: id.into(),
        by: Actor::Automation,
        details: IncidentDetails { title: format!("Incident {id}"), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() },
    }
}

/// A driver with `done` resolved and `live` still open.
fn driver() -> Driver<MemoryStore> {
    let world = parse_world(WORLD).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for p in world.policies {
        block_on(d.save(p, t0())).unwrap();
    }
    block_on(d.set_default_policy(Some("p".into()), t0())).unwrap();
    block_on(d.dispatch(t0(), open("done"))).unwrap();
    // The page went out, so nothing is pending once it is resolved (it can be archived).
    let sends = d.due_sends("https://piket.example", t0());
    block_on(d.claim(&sends, t0())).unwrap();
    for s in &sends {
        block_on(d.record_attempt(&s.key, s.route, &Outcome::Http(piket::delivery::AttemptOutcome::status(200)), 5, t0())).unwrap();
    }
    block_on(d.dispatch(t0() + Duration::minutes(20), Input::Resolve { incident: "done".into(), by: Actor::Person("alice".into()) })).unwrap();
    block_on(d.dispatch(t0(), open("live"))).unwrap();
    d
}

fn retro(incident: &str, items: Vec<ActionItem>) -> Retrospective {
    Retrospective { incident: incident.into(), summary: "The disk filled up.".into(), items }
}

fn item(text: &str, owner: Option<&str>, due: Option<(i32, u32, u32)>) -> ActionItem {
    ActionItem { text: text.into(), owner: owner.map(Into::into), due: due.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()), done: false }
}

fn send(d: Driver<MemoryStore>, r: Retrospective) -> (Driver<MemoryStore>, Reply) {
    block_on(execute(d, Command::SaveRetrospective { retrospective: r }, t0() + Duration::hours(1)))
}

fn stored(d: &Driver<MemoryStore>) -> Vec<Retrospective> {
    block_on(d.store().list::<Retrospective>()).unwrap().into_iter().map(|e| e.value).collect()
}

#[test]
fn a_resolved_incident_gets_a_retrospective_that_a_reload_reads_back() {
    let r = retro("done", vec![item("Alert on disk at 80 %", Some("bob"), Some((2026, 3, 9))), item("Write the runbook", None, None)]);
    let (d, reply) = send(driver(), r.clone());
    let done = reply.unwrap();
    assert_eq!(done.id.as_deref(), Some("done"));
    assert_eq!(d.retrospectives().get("done"), Some(&r));
    assert_eq!(stored(&d), vec![r.clone()]);

    // Editing replaces it: the item is ticked off.
    let mut edited = r.clone();
    edited.items[0].done = true;
    let (d, reply) = send(d, edited.clone());
    reply.unwrap();
    assert_eq!(stored(&d), vec![edited.clone()]);

    let reloaded = block_on(Driver::load(d.into_store())).unwrap();
    assert_eq!(reloaded.retrospectives().values().cloned().collect::<Vec<_>>(), vec![edited]);
}

#[test]
fn a_bad_retrospective_is_refused_at_its_paths_and_changes_nothing() {
    let first = retro("done", vec![item("Alert on disk", Some("bob"), None)]);
    let (d, reply) = send(driver(), first.clone());
    reply.unwrap();
    let commits = d.store().commit_count();

    let bad = retro("done", vec![item("Fine", None, None), item("   ", None, None), item("Ask Carol", Some("carol"), None)]);
    let (d, reply) = send(d, bad);
    let refusal = reply.unwrap_err();
    assert_eq!(refusal.cause, Cause::Refused);
    let paths: Vec<&str> = refusal.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["items[1].text", "items[2].owner"]);
    assert!(refusal.problems[1].message.contains("carol"), "{:?}", refusal.problems);
    assert_eq!(d.store().commit_count(), commits, "nothing written");
    assert_eq!(stored(&d), vec![first.clone()]);
    assert_eq!(d.retrospectives().get("done"), Some(&first));
}

#[test]
fn only_a_resolved_incident_that_exists_gets_one() {
    let (d, reply) = send(driver(), retro("live", vec![]));
    let refusal = reply.unwrap_err();
    assert_eq!(refusal.problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["incident"]);
    let (d, reply) = send(d, retro("nope", vec![]));
    assert!(reply.unwrap_err().problems[0].message.contains("nope"));
    assert!(stored(&d).is_empty());
    assert!(d.retrospectives().is_empty());
}

#[test]
fn an_archived_incident_gets_one_too_and_backups_carry_them() {
    let mut d = driver();
    // Two days on, the resolved incident is in the archive, no longer hot.
    while block_on(d.archive(t0() + Duration::days(2))).unwrap() > 0 {}
    assert!(d.engine().incident("done").is_none());
    let r = retro("done", vec![item("Alert on disk", Some("alice"), Some((2026, 3, 1)))]);
    let (d, reply) = send(d, r.clone());
    reply.unwrap();

    let file = block_on(d.export(t0() + Duration::days(2), true)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["stores"]["retrospectives"][0]["id"], "done");
    let (fresh, restore) = block_on(driver().import(&file, t0() + Duration::days(2))).map_err(|(_, e)| e).unwrap();
    assert_eq!(restore.counts["retrospectives"], 1);
    assert_eq!(fresh.retrospectives().get("done"), Some(&r));

    // A file whose retrospective names no incident of the file is refused, naming it.
    let mut orphan = json.clone();
    orphan["stores"]["retrospectives"][0]["value"]["incident"] = "gone".into();
    let orphan = orphan.to_string();
    let e = block_on(driver().import(&orphan, t0())).err().unwrap().1;
    assert!(e.to_string().contains("stores.retrospectives[0]"), "{e}");
}
