//! In-browser tests (wasm-bindgen-test in headless Chromium): storage on the real IndexedDB —
//! every store operation, the schema migration, the one-transaction guarantee, backups.
//! Run by `cargo xtask test` (or `cargo test --target wasm32-unknown-unknown --test browser`).
#![cfg(target_arch = "wasm32")]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentId};
use piket::engine::person::{Contact, Person, PersonError};
use piket::runtime::driver::Driver;
use piket::runtime::{people, ActionError};
use piket::storage::{Batch, IdbStore, OutboxRow, Setting, Store, StoredIncident, TimelineRow, DERIVED, JOURNAL, STORES};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[path = "fixtures/zones.rs"]
mod zones;

/// The same time-zone answers as natively (`tests/zones.rs`): one table, both builds.
#[wasm_bindgen_test]
fn zones_answer_as_they_do_natively() {
    zones::check();
}

fn fresh_name(test: &str) -> String {
    format!("piket-test-{test}-{}", uuid::Uuid::new_v4())
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn person(id: &str, name: &str) -> Person {
    Person {
        id: id.into(),
        name: name.into(),
        time_zone: "Europe/Amsterdam".into(),
        contact: Contact { ntfy_topic: format!("piket-{id}"), webhook_url: String::new(), email: String::new() },
        notes: "<b>not bold</b>".into(),
    }
}

const WORLD: &str = r#"{
  "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
  "policies": [{"id": "quick", "name": "Quick", "levels": [
      {"targets": [{"person": "alice"}], "ack_timeout": "30s"}, {"targets": [{"person": "bob"}]}]}]
}"#;

async fn configured(name: &str) -> Driver<IdbStore> {
    let mut d = Driver::load(IdbStore::open(name).await.unwrap()).await.unwrap();
    let world = parse_world(WORLD).unwrap();
    for p in world.people {
        d.save(p, t0()).await.unwrap();
    }
    for p in world.policies {
        d.save(p, t0()).await.unwrap();
    }
    d.set_default_policy(Some("quick".into()), t0()).await.unwrap();
    d
}

fn open_input(id: &str) -> Input {
    Input::Open { id: id.into(), by: Actor::Automation, details: serde_json::from_str(r#"{"title": "Checkout down", "severity": "sev1"}"#).unwrap() }
}

#[wasm_bindgen_test]
async fn put_list_delete_round_trip() {
    let store = IdbStore::open(&fresh_name("round-trip")).await.unwrap();
    store.put(&person("b", "Bob"), t0()).await.unwrap();
    store.put(&person("a", "Alice"), t0()).await.unwrap();
    store.put(&Person { name: "Bobby".into(), ..person("b", "Bob") }, t0() + Duration::minutes(5)).await.unwrap();

    let rows = store.list::<Person>().await.unwrap();
    let summary: Vec<_> = rows.iter().map(|e| (e.id.as_str(), e.rev, e.value.name.as_str())).collect();
    assert_eq!(summary, [("a", 1, "Alice"), ("b", 2, "Bobby")]);
    assert_eq!(rows[1].updated_at, t0() + Duration::minutes(5));
    assert_eq!(rows[0].value, person("a", "Alice"), "every field survives IndexedDB");

    store.delete::<Person>("a", t0()).await.unwrap();
    store.delete::<Person>("never-existed", t0()).await.unwrap();
    let ids: Vec<_> = store.list::<Person>().await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["b"]);
    let ops: Vec<_> = store.journal().await.unwrap().into_iter().map(|j| format!("{} {} {} r{}", j.op, j.store, j.id, j.rev)).collect();
    assert_eq!(ops, ["put people b r1", "put people a r1", "put people b r2", "delete people a r0", "delete people never-existed r0"]);
}

#[wasm_bindgen_test]
async fn every_store_takes_records() {
    let store = IdbStore::open(&fresh_name("stores")).await.unwrap();
    let mut names = store.store_names();
    names.sort();
    let mut want: Vec<String> = STORES.iter().chain(DERIVED.iter()).chain([&JOURNAL]).map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
    store.put(&Setting { key: "time_zone".into(), value: serde_json::json!("Europe/Amsterdam") }, t0()).await.unwrap();
    let settings = store.list::<Setting>().await.unwrap();
    assert_eq!(settings[0].value.value, serde_json::json!("Europe/Amsterdam"));
}

#[wasm_bindgen_test]
async fn a_version_1_database_upgrades_without_losing_anyone() {
    let name = fresh_name("migrate");
    let v1 = IdbStore::open_at(&name, 1).await.unwrap();
    assert_eq!(v1.store_names(), ["people"]);
    // A version-1 Piket wrote people as envelopes, without a journal.
    let raw = serde_json::json!({"id": "p1", "rev": 3, "updated_at": "2026-01-01T00:00:00Z", "value": person("p1", "Old Timer")});
    write_raw_v1(&v1, raw).await;
    v1.close();

    let v2 = IdbStore::open(&name).await.unwrap();
    assert!(v2.store_names().contains(&"incidents".to_string()));
    let people = v2.list::<Person>().await.unwrap();
    assert_eq!((people[0].id.as_str(), people[0].rev, people[0].value.name.as_str()), ("p1", 3, "Old Timer"));
    let mut d = Driver::load(v2).await.unwrap();
    let saved = people::save_person(&mut d, Person { name: "Still Here".into(), ..person("p1", "x") }, t0()).await.unwrap();
    assert_eq!(saved.name, "Still Here");
    assert_eq!(d.store().list::<Person>().await.unwrap()[0].rev, 4);
}

async fn write_raw_v1(store: &IdbStore, raw: serde_json::Value) {
    // Version 1 had no journal, so write around `commit` the way version 1 did: a plain put.
    store.write_raw_for_tests("people", raw).await.unwrap();
}

#[wasm_bindgen_test]
async fn refused_person_leaves_the_database_unchanged() {
    let mut d = Driver::load(IdbStore::open(&fresh_name("refused")).await.unwrap()).await.unwrap();
    people::save_person(&mut d, person("", "Dana"), t0()).await.unwrap();
    let before = d.store().list::<Person>().await.unwrap();
    let cases = [
        (person("", " dana "), ActionError::InvalidPerson(PersonError::DuplicateName("Dana".into()))),
        (person("", "  "), ActionError::InvalidPerson(PersonError::EmptyName)),
        (Person { time_zone: "Nowhere/Land".into(), ..person("", "Eve") }, ActionError::InvalidPerson(PersonError::UnknownTimeZone("Nowhere/Land".into()))),
    ];
    for (draft, want) in cases {
        assert_eq!(people::save_person(&mut d, draft, t0()).await, Err(want));
    }
    assert_eq!(d.store().list::<Person>().await.unwrap(), before);
}

#[wasm_bindgen_test]
async fn an_escalation_step_is_one_transaction_and_survives_reopening() {
    let name = fresh_name("step");
    let mut d = configured(&name).await;
    d.dispatch(t0(), open_input("inc-1")).await.unwrap();
    let step = d.tick(t0() + Duration::seconds(31)).await.unwrap();
    assert_eq!(step.queued.len(), 1);

    let reopened = Driver::load(IdbStore::open(&name).await.unwrap()).await.unwrap();
    assert_eq!(reopened.engine().incident("inc-1"), d.engine().incident("inc-1"));
    let outbox = reopened.store().list::<OutboxRow>().await.unwrap();
    assert_eq!(outbox.len(), 2, "alice, then bob");
    let timeline = reopened.store().list::<TimelineRow>().await.unwrap();
    assert_eq!(timeline.len(), d.engine().incident("inc-1").unwrap().timeline.len());
    let incident = &reopened.store().list::<StoredIncident>().await.unwrap()[0];
    assert_eq!(incident.value.status, "new");

    // A batch that fails half-way leaves nothing behind: the second put targets a store that
    // does not exist, so the first must be rolled back too.
    let mut batch = Batch::new();
    batch.put(&person("zz", "Half Way"));
    batch.ops.push(piket::storage::Op::Put { store: "no-such-store", id: "x".into(), value: serde_json::json!({}) });
    assert!(reopened.store().commit(batch, t0()).await.is_err());
    assert!(reopened.store().list::<Person>().await.unwrap().iter().all(|p| p.id != "zz"));
}

#[wasm_bindgen_test]
async fn backup_round_trip_and_refused_files_in_the_browser() {
    let mut d = configured(&fresh_name("backup-src")).await;
    d.dispatch(t0(), open_input("inc-1")).await.unwrap();
    let file = d.export(t0(), true).await.unwrap();

    let target = Driver::load(IdbStore::open(&fresh_name("backup-dst")).await.unwrap()).await.unwrap();
    let bad = file.replacen("\"piket_backup\": 1", "\"piket_backup\": \"one\"", 1);
    let (target, err) = match target.import(&bad, t0()).await {
        Ok(_) => panic!("accepted a bad file"),
        Err(x) => x,
    };
    assert!(err.to_string().contains("piket_backup"), "{err}");
    assert!(target.store().list::<Person>().await.unwrap().is_empty(), "nothing written");

    let (restored, _) = target.import(&file, t0()).await.map_err(|(_, e)| e).unwrap();
    assert_eq!(restored.world(), d.world());
    assert_eq!(restored.engine().incident("inc-1"), d.engine().incident("inc-1"));
}

/// `n` incidents opened and resolved a minute apart (`old-0` …) under the quick policy, their
/// pages answered, on a store as an older Piket left it.
async fn resolved_incidents(store: IdbStore, n: i64) -> Driver<IdbStore> {
    let mut d = Driver::load(store).await.unwrap();
    for p in parse_world(WORLD).unwrap().people {
        d.save(p, t0()).await.unwrap();
    }
    for p in parse_world(WORLD).unwrap().policies {
        d.save(p, t0()).await.unwrap();
    }
    d.set_default_policy(Some("quick".into()), t0()).await.unwrap();
    for k in 0..n {
        let id: IncidentId = format!("old-{k}").into();
        let at = t0() + Duration::minutes(k);
        let details = serde_json::from_value(serde_json::json!({"title": format!("Old {k}")})).unwrap();
        d.dispatch(at, Input::Open { id: id.clone(), by: Actor::Automation, details }).await.unwrap();
        d.dispatch(at, Input::Resolve { incident: id, by: Actor::Automation }).await.unwrap();
    }
    for s in d.due_sends("https://piket.example", t0() + Duration::minutes(n)) {
        let ok = piket::runtime::outbox::Outcome::Http(piket::delivery::AttemptOutcome::status(200));
        d.record_attempt(&s.key, s.route, &ok, 1, t0() + Duration::minutes(n)).await.unwrap();
    }
    d
}

#[wasm_bindgen_test]
async fn a_version_2_database_gains_the_archive_and_pages_it_newest_first() {
    // A version-2 Piket kept every resolved incident hot.
    let name = fresh_name("archive");
    let v2 = IdbStore::open_at(&name, 2).await.unwrap();
    assert!(!v2.store_names().contains(&"archive".to_string()));
    resolved_incidents(v2, 5).await.into_store().close();

    let v3 = IdbStore::open(&name).await.unwrap();
    assert!(v3.store_names().contains(&"archive".to_string()));
    let mut d = Driver::load(v3).await.unwrap();
    assert_eq!(d.engine().incidents().count(), 5, "still hot until archived");
    assert_eq!(d.archive(t0() + Duration::days(2)).await.unwrap(), 5);
    assert_eq!(d.engine().incidents().count(), 0);
    assert!(d.store().list::<StoredIncident>().await.unwrap().is_empty());
    assert!(d.store().list::<TimelineRow>().await.unwrap().is_empty());
    assert!(d.store().list::<OutboxRow>().await.unwrap().is_empty());

    let first = d.history(None, 2).await.unwrap();
    assert_eq!(first.iter().map(|a| a.incident.id.as_str()).collect::<Vec<_>>(), ["old-4", "old-3"]);
    let rest = d.history(Some(&first[1].key), 10).await.unwrap();
    assert_eq!(rest.iter().map(|a| a.incident.id.as_str()).collect::<Vec<_>>(), ["old-2", "old-1", "old-0"]);
    let found = d.find_archived("old-2").await.unwrap().expect("found by its id through the index");
    assert_eq!(found.incident.details.title, "Old 2");
    assert!(!found.incident.timeline.is_empty());
    assert!(d.find_archived("never").await.unwrap().is_none());
}

#[wasm_bindgen_test]
async fn a_version_3_archive_gains_its_digests_and_reads_them_as_the_archive_reads() {
    // A version-3 Piket archived incidents without digests.
    let name = fresh_name("digests");
    let v3 = IdbStore::open_at(&name, 3).await.unwrap();
    assert!(!v3.store_names().contains(&"digests".to_string()));
    let d = resolved_incidents(v3, 4).await;
    // Writing version 3's archive by hand: the archive record alone.
    let archived: Vec<_> = d.engine().incidents().cloned().collect();
    d.into_store().close();
    let v3 = IdbStore::open_at(&name, 3).await.unwrap();
    let mut batch = Batch::new();
    for i in &archived {
        let key = piket::storage::archive_key(i.resolved_at.unwrap(), &i.id);
        batch.put(&piket::storage::ArchivedIncident {
            key,
            incident_id: i.id.clone(),
            incident: i.clone(),
            recorded: Vec::new(),
            outbox: Vec::new(),
            chain: Vec::new(),
        });
        batch.delete::<StoredIncident>(&i.id);
    }
    v3.commit(batch, t0()).await.unwrap();
    v3.close();

    let v4 = IdbStore::open(&name).await.unwrap();
    assert!(v4.store_names().contains(&"digests".to_string()));
    assert_eq!(v4.count("archive").await.unwrap(), 4);
    let mut d = Driver::load(v4).await.unwrap();
    assert!(!d.digests_ready(), "an upgraded archive has no digests yet");
    assert_eq!(d.digest_archive(t0() + Duration::days(1)).await.unwrap(), 4);
    assert!(d.digests_ready());
    let (chunks, next) = d.digests(None, 10).await.unwrap();
    assert_eq!((chunks.len(), next), (1, None));
    let digests = &chunks[0].digests;
    let history = d.history(None, 10).await.unwrap();
    assert_eq!(digests.iter().map(|g| g.incident.id.as_str()).collect::<Vec<_>>(), ["old-3", "old-2", "old-1", "old-0"]);
    assert_eq!(digests.iter().map(|g| &g.key).collect::<Vec<_>>(), history.iter().map(|a| &a.key).collect::<Vec<_>>());
    assert_eq!(digests[0].incident.details.title, "Old 3");
    let (since, _) = d.past_since(t0() + Duration::minutes(2), piket::runtime::driver::PastCursor::Start).await.unwrap();
    assert_eq!(since.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["old-3", "old-2"], "read back through IndexedDB from a moment");
    assert!(Driver::load(d.into_store()).await.unwrap().digests_ready());
}

#[wasm_bindgen_test]
async fn a_version_4_database_gains_retrospectives_and_keeps_everything_else() {
    // A version-4 Piket had no retrospectives.
    let name = fresh_name("retrospectives");
    let v4 = IdbStore::open_at(&name, 4).await.unwrap();
    assert!(!v4.store_names().contains(&"retrospectives".to_string()));
    let mut d = Driver::load(v4).await.unwrap();
    for p in parse_world(WORLD).unwrap().people {
        d.save(p, t0()).await.unwrap();
    }
    for p in parse_world(WORLD).unwrap().policies {
        d.save(p, t0()).await.unwrap();
    }
    d.set_default_policy(Some("quick".into()), t0()).await.unwrap();
    let details = serde_json::from_value(serde_json::json!({"title": "Disk full"})).unwrap();
    d.dispatch(t0(), Input::Open { id: "disk".into(), by: Actor::Automation, details }).await.unwrap();
    d.dispatch(t0() + Duration::minutes(9), Input::Resolve { incident: "disk".into(), by: Actor::Automation }).await.unwrap();
    d.into_store().close();

    let v5 = IdbStore::open(&name).await.unwrap();
    assert!(v5.store_names().contains(&"retrospectives".to_string()));
    for store in STORES {
        assert!(v5.store_names().contains(&store.to_string()), "{store}");
    }
    let d = Driver::load(v5).await.unwrap();
    assert!(d.retrospectives().is_empty());
    assert_eq!(d.engine().incident("disk").map(|i| i.details.title.as_str()), Some("Disk full"), "what version 4 kept is still there");
    let retro = piket::insight::retro::Retrospective {
        incident: "disk".into(),
        summary: "Logs were never rotated.".into(),
        items: vec![piket::insight::retro::ActionItem { text: "Rotate logs".into(), owner: Some("alice".into()), due: None, done: false }],
    };
    let (d, reply) =
        piket::runtime::command::execute(d, piket::runtime::command::Command::SaveRetrospective { retrospective: retro.clone() }, t0() + Duration::hours(1))
            .await;
    reply.unwrap();
    let d = Driver::load(d.into_store()).await.unwrap();
    assert_eq!(d.retrospectives().get("disk"), Some(&retro), "read back from IndexedDB");
}

#[wasm_bindgen_test]
async fn a_version_5_database_has_every_timeline_entry_linked_after_the_upgrade() {
    // A version-5 Piket stored timeline rows and archived incidents without audit links.
    let name = fresh_name("audit-chain");
    let v5 = IdbStore::open_at(&name, 5).await.unwrap();
    let mut d = resolved_incidents(v5, 3).await;
    assert_eq!(d.archive(t0() + Duration::days(2)).await.unwrap(), 3);
    let later = t0() + Duration::days(2);
    d.dispatch(later, open_input("live")).await.unwrap();
    d.tick(later + Duration::seconds(31)).await.unwrap();
    d.dispatch(later + Duration::seconds(40), Input::AddNote { incident: "live".into(), by: Actor::Automation, text: "Looking".into() }).await.unwrap();
    // What this Piket links them to, to compare with what the upgrade computes from the data.
    let want_rows = d.store().list::<TimelineRow>().await.unwrap();
    let want_archive = d.store().list::<piket::storage::ArchivedIncident>().await.unwrap();
    assert!(want_rows.len() >= 3 && want_archive.len() == 3);
    // Rewritten as version 5 wrote them: the same rows without their links.
    for (store, field) in [("timeline", "link"), ("archive", "chain")] {
        for row in d.store().list_raw(store).await.unwrap() {
            let mut raw = serde_json::to_value(&row).unwrap();
            assert!(raw["value"].as_object_mut().unwrap().remove(field).is_some(), "{store}/{}", row.id);
            d.store().write_raw_for_tests(store, raw).await.unwrap();
        }
    }
    assert!(d.store().list::<TimelineRow>().await.unwrap().iter().all(|r| r.value.link.is_none()));
    d.into_store().close();

    let v6 = IdbStore::open(&name).await.unwrap();
    let rows = v6.list::<TimelineRow>().await.unwrap();
    assert!(rows.iter().all(|r| r.value.link.is_some()), "every row linked on opening");
    let rows: Vec<TimelineRow> = rows.into_iter().map(|e| e.value).collect();
    let entries: Vec<_> = rows.iter().map(|r| r.entry.clone()).collect();
    let links: Vec<_> = rows.iter().map(|r| r.link.clone()).collect();
    piket::audit::check("live", &entries, &links).expect("the links hold");
    assert_eq!(rows, want_rows.into_iter().map(|e| e.value).collect::<Vec<_>>(), "linked from the data as found");
    let archive = v6.list::<piket::storage::ArchivedIncident>().await.unwrap();
    for (got, want) in archive.iter().zip(&want_archive) {
        assert_eq!(got.value.chain.len(), got.value.incident.timeline.len());
        assert_eq!(got.value.chain, want.value.chain, "{}", got.id);
    }
    assert!(v6.list::<Setting>().await.unwrap().iter().all(|s| s.id != piket::storage::chain::AUDIT_CHAIN_PENDING), "the upgrade's marker is gone");
    let d = Driver::load(v6).await.unwrap();
    let summary = piket::audit::verify(&d.audit_log().await.unwrap()).expect("the audit log verifies");
    assert_eq!(summary.incidents, 4);
}
