//! The stored audit chain: every timeline row the driver writes carries the SHA-256 link to its
//! incident's previous entry, archived incidents keep those hashes, backups carry them and are
//! refused when one no longer holds, and the audit log exports what is stored.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::audit::{self, Link, GENESIS};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentDetails};
use piket::runtime::driver::Driver;
use piket::runtime::ActionError;
use piket::storage::backup::{self, ImportError};
use piket::storage::chain::{self, AUDIT_CHAIN_PENDING};
use piket::storage::{ArchivedIncident, Batch, MemoryStore, Op, Record, Setting, Store, TimelineRow, STORES};
use pollster::block_on;
use serde_json::Value;

const WORLD: &str = r##"{
  "people": [
    {"id": "alice", "name": "Alice", "time_zone": "Europe/Amsterdam"},
    {"id": "bob", "name": "Bob", "time_zone": "Europe/Amsterdam"}
  ],
  "policies": [{"id": "quick", "name": "Quick", "levels": [
      {"targets": [{"person": "alice"}], "ack_timeout": "30s"},
      {"targets": [{"person": "bob"}]}
  ]}],
  "default_policy": "quick"
}"##;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(n)
}

fn configured() -> Driver<MemoryStore> {
    let world = parse_world(WORLD).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for p in world.policies {
        block_on(d.save(p, t0())).unwrap();
    }
    block_on(d.set_default_policy(Some("quick".into()), t0())).unwrap();
    d
}

fn open(id: &str, title: &str) -> Input {
    Input::Open { id: id.into(), by: Actor::Automation, details: IncidentDetails { title: title.into(), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() } }
}

fn note(id: &str, text: &str) -> Input {
    Input::AddNote { incident: id.into(), by: Actor::Automation, text: text.into() }
}

/// Two incidents: `inc-1` escalated and acknowledged (five entries or so), `inc-2` just opened;
/// and `old` resolved and archived.
fn with_history() -> Driver<MemoryStore> {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("old", "Yesterday's outage"))).unwrap();
    block_on(d.dispatch(secs(10), Input::Resolve { incident: "old".into(), by: Actor::Automation })).unwrap();
    block_on(d.dispatch(secs(20), note("old", "Fixed by a restart"))).unwrap();
    // Its page answered, nothing is pending: it can be archived.
    for s in d.due_sends("https://piket.example", secs(30)) {
        let ok = piket::runtime::outbox::Outcome::Http(piket::delivery::AttemptOutcome::status(200));
        block_on(d.record_attempt(&s.key, s.route, &ok, 1, secs(30))).unwrap();
    }
    assert_eq!(block_on(d.archive(t0() + Duration::days(2))).unwrap(), 1);
    let later = Duration::days(2);
    block_on(d.dispatch(t0() + later, open("inc-1", "Checkout down"))).unwrap();
    block_on(d.tick(t0() + later + Duration::seconds(31))).unwrap();
    block_on(d.dispatch(t0() + later + Duration::seconds(40), Input::Acknowledge { incident: "inc-1".into(), by: "bob".into() })).unwrap();
    block_on(d.dispatch(t0() + later + Duration::seconds(50), note("inc-1", "Rolling back"))).unwrap();
    block_on(d.dispatch(t0() + later + Duration::seconds(60), open("inc-2", "Search slow"))).unwrap();
    d
}

fn rows_of(d: &Driver<MemoryStore>, incident: &str) -> Vec<TimelineRow> {
    let mut rows: Vec<TimelineRow> =
        block_on(d.store().list::<TimelineRow>()).unwrap().into_iter().map(|e| e.value).filter(|r| r.incident == incident).collect();
    rows.sort_by_key(|r| r.seq);
    rows
}

fn check_rows(incident: &str, rows: &[TimelineRow]) -> Result<(), audit::ChainBreak> {
    let entries: Vec<_> = rows.iter().map(|r| r.entry.clone()).collect();
    let links: Vec<_> = rows.iter().map(|r| r.link.clone()).collect();
    audit::check(incident, &entries, &links)
}

fn backup_json(d: &Driver<MemoryStore>) -> Value {
    serde_json::from_str(&block_on(d.export(secs(3 * 86_400), true)).unwrap()).unwrap()
}

/// The `store` rows of a backup, by id.
fn row_mut<'a>(file: &'a mut Value, store: &str, id: &str) -> &'a mut Value {
    let rows = file["stores"][store].as_array_mut().unwrap();
    rows.iter_mut().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no {store}/{id} in the backup"))
}

/// Everything a store holds, to compare before and after a refused restore.
fn contents(d: &Driver<MemoryStore>) -> Vec<(String, Vec<piket::storage::Envelope<Value>>)> {
    STORES.iter().map(|s| (s.to_string(), block_on(d.store().list_raw(s)).unwrap())).collect()
}

/// A restore of `file` over a driver holding something else: refused with the chain error, and
/// nothing changed.
fn refused(file: &Value) -> ImportError {
    let mut target = configured();
    block_on(target.dispatch(t0(), open("keep-me", "Still here after a refused restore"))).unwrap();
    let before = contents(&target);
    let (target, err) = match block_on(target.import(&file.to_string(), secs(5))) {
        Ok(_) => panic!("a backup with a broken audit chain was restored"),
        Err(x) => x,
    };
    assert_eq!(contents(&target), before, "a refused restore changes nothing");
    assert!(target.engine().incident("keep-me").is_some());
    match err {
        ActionError::Import(e) => e,
        other => panic!("refused for another reason: {other}"),
    }
}

fn expect_break(err: ImportError, incident: &str, index: usize) {
    match &err {
        ImportError::BrokenChain { incident: i, index: n, .. } => {
            assert_eq!((i.as_str(), *n), (incident, index), "{err}");
        }
        other => panic!("expected a broken chain at {incident} entry {index}, got: {other}"),
    }
    let text = err.to_string();
    assert!(text.contains(&format!("Incident “{incident}”, entry {index}")), "{text}");
}

#[test]
fn rows_written_by_the_driver_carry_links_that_verify() {
    let mut d = with_history();
    let rows = rows_of(&d, "inc-1");
    assert!(rows.len() >= 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.link.is_some()), "every stored row carries its link");
    assert_eq!(rows[0].link.as_ref().unwrap().prev, GENESIS);
    for pair in rows.windows(2) {
        assert_eq!(pair[1].link.as_ref().unwrap().prev, pair[0].link.as_ref().unwrap().hash, "entry {} links to entry {}", pair[1].seq, pair[0].seq);
    }
    check_rows("inc-1", &rows).unwrap();
    let hashes: Vec<String> = rows.iter().map(|r| r.link.clone().unwrap().hash).collect();
    assert_eq!(hashes, audit::chain(d.engine().incident("inc-1").unwrap()), "the same hashes the export format defines");

    // Written after a reload, a row links to the last one stored before it.
    d = block_on(Driver::load(d.into_store())).unwrap();
    block_on(d.dispatch(secs(3 * 86_400), note("inc-1", "After a reload"))).unwrap();
    let after = rows_of(&d, "inc-1");
    assert_eq!(after.len(), rows.len() + 1);
    assert_eq!(after.last().unwrap().link.as_ref().unwrap().prev, *hashes.last().unwrap());
    check_rows("inc-1", &after).unwrap();

    // An archived incident keeps the hashes its rows were stored with.
    let archived = block_on(d.find_archived("old")).unwrap().unwrap();
    assert!(archived.incident.timeline.len() >= 3);
    assert_eq!(archived.chain, audit::chain(&archived.incident));
    audit::check("old", &archived.incident.timeline, &Link::of_chain(&archived.chain)).unwrap();

    // And the whole log verifies.
    let summary = audit::verify(&block_on(d.audit_log()).unwrap()).unwrap();
    assert_eq!(summary.incidents, 3);
}

#[test]
fn an_edited_entry_in_a_backup_is_refused_naming_incident_and_entry() {
    let d = with_history();
    let mut file = backup_json(&d);
    row_mut(&mut file, "timeline", "inc-1/00000001")["value"]["entry"]["detail"] = "Nobody was paged".into();
    expect_break(refused(&file), "inc-1", 1);

    // An archived entry likewise.
    let archived = block_on(d.find_archived("old")).unwrap().unwrap();
    let last = archived.incident.timeline.len() - 1;
    let mut file = backup_json(&d);
    row_mut(&mut file, "archive", &archived.key)["value"]["incident"]["timeline"][last]["detail"] = "Fixed by itself".into();
    expect_break(refused(&file), "old", last);

    // An edit with the link recomputed for that entry alone breaks the next one.
    let mut file = backup_json(&d);
    let row = row_mut(&mut file, "timeline", "inc-1/00000001");
    row["value"]["entry"]["detail"] = "Nobody was paged".into();
    let entry = serde_json::from_value(row["value"]["entry"].clone()).unwrap();
    let prev = row["value"]["link"]["prev"].as_str().unwrap().to_string();
    row["value"]["link"] = serde_json::to_value(Link::new("inc-1", 1, &prev, &entry)).unwrap();
    expect_break(refused(&file), "inc-1", 2);
}

#[test]
fn a_removed_entry_in_a_backup_is_refused_naming_incident_and_entry() {
    let d = with_history();
    let mut file = backup_json(&d);
    file["stores"]["timeline"].as_array_mut().unwrap().retain(|r| r["id"] != "inc-1/00000002");
    expect_break(refused(&file), "inc-1", 2);

    // Removed and the rest renumbered.
    let mut file = backup_json(&d);
    let rows = file["stores"]["timeline"].as_array_mut().unwrap();
    rows.retain(|r| r["id"] != "inc-1/00000001");
    for r in rows.iter_mut().filter(|r| r["value"]["incident"] == "inc-1") {
        let seq = r["value"]["seq"].as_u64().unwrap();
        if seq > 1 {
            r["value"]["seq"] = (seq - 1).into();
            r["id"] = format!("inc-1/{:08}", seq - 1).into();
        }
    }
    expect_break(refused(&file), "inc-1", 1);

    // An entry's link removed, after entries that have theirs.
    let mut file = backup_json(&d);
    let last = rows_of(&d, "inc-1").len() - 1;
    row_mut(&mut file, "timeline", &format!("inc-1/{last:08}"))["value"].as_object_mut().unwrap().remove("link");
    expect_break(refused(&file), "inc-1", last);

    // An archived incident's last entry removed: its chain still lists it.
    let archived = block_on(d.find_archived("old")).unwrap().unwrap();
    let mut file = backup_json(&d);
    row_mut(&mut file, "archive", &archived.key)["value"]["incident"]["timeline"].as_array_mut().unwrap().pop();
    expect_break(refused(&file), "old", archived.incident.timeline.len() - 1);
}

#[test]
fn a_reordered_entry_in_a_backup_is_refused_naming_incident_and_entry() {
    let d = with_history();
    // Two rows' entries swapped, each keeping its place and link.
    let mut file = backup_json(&d);
    let one = row_mut(&mut file, "timeline", "inc-1/00000001")["value"]["entry"].take();
    let two = std::mem::replace(&mut row_mut(&mut file, "timeline", "inc-1/00000002")["value"]["entry"], one);
    row_mut(&mut file, "timeline", "inc-1/00000001")["value"]["entry"] = two;
    expect_break(refused(&file), "inc-1", 1);

    // Two rows swapped whole (entry and link), renumbered to each other's place.
    let mut file = backup_json(&d);
    for (from, to) in [(1, 2), (2, 1)] {
        let row = row_mut(&mut file, "timeline", &format!("inc-1/{from:08}"));
        row["value"]["seq"] = to.into();
        row["id"] = format!("inc-1/{to:08}-moved").into();
    }
    for r in file["stores"]["timeline"].as_array_mut().unwrap() {
        if let Some(id) = r["id"].as_str().and_then(|id| id.strip_suffix("-moved")) {
            r["id"] = id.to_string().into();
        }
    }
    expect_break(refused(&file), "inc-1", 1);

    // An archived incident's entries reordered.
    let key = block_on(d.find_archived("old")).unwrap().unwrap().key;
    let mut file = backup_json(&d);
    row_mut(&mut file, "archive", &key)["value"]["incident"]["timeline"].as_array_mut().unwrap().swap(0, 1);
    expect_break(refused(&file), "old", 0);
}

#[test]
fn a_backup_from_before_the_chain_is_accepted_and_chained() {
    let d = with_history();
    let mut file = backup_json(&d);
    for r in file["stores"]["timeline"].as_array_mut().unwrap() {
        assert!(r["value"].as_object_mut().unwrap().remove("link").is_some(), "a backup carries the links");
    }
    for r in file["stores"]["archive"].as_array_mut().unwrap() {
        assert!(r["value"].as_object_mut().unwrap().remove("chain").is_some());
    }
    let (restored, _) = block_on(configured().import(&file.to_string(), secs(5))).map_err(|(_, e)| e).unwrap();
    for id in ["inc-1", "inc-2"] {
        let rows = rows_of(&restored, id);
        assert!(!rows.is_empty() && rows.iter().all(|r| r.link.is_some()), "{id} chained on import");
        assert_eq!(rows, rows_of(&d, id), "linked from the data as found: the same links as the original's");
    }
    let archived = block_on(restored.find_archived("old")).unwrap().unwrap();
    assert_eq!(archived.chain, block_on(d.find_archived("old")).unwrap().unwrap().chain);
    audit::verify(&block_on(restored.audit_log()).unwrap()).unwrap();
}

#[test]
fn backups_carry_the_stored_links_through_a_round_trip() {
    let d = with_history();
    let text = block_on(d.export(secs(3 * 86_400), false)).unwrap();
    let (restored, _) = block_on(configured().import(&text, secs(5))).map_err(|(_, e)| e).unwrap();
    for id in ["inc-1", "inc-2"] {
        assert_eq!(rows_of(&restored, id), rows_of(&d, id));
    }
    let archive = |d: &Driver<MemoryStore>| block_on(d.find_archived("old")).unwrap().unwrap();
    assert_eq!(archive(&restored).chain, archive(&d).chain);
    assert_eq!(block_on(restored.audit_log()).unwrap(), block_on(d.audit_log()).unwrap());

    // `piket audit export` writes the links the file holds.
    let history = backup::read_history(&text).unwrap();
    let stored: Vec<String> = rows_of(&d, "inc-1").into_iter().map(|r| r.link.unwrap().hash).collect();
    assert_eq!(history.links["inc-1"].iter().map(|l| l.clone().unwrap().hash).collect::<Vec<_>>(), stored);
    let path = std::env::temp_dir().join(format!("piket-audit-chain-{}.json", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_piket")).args(["audit", "export", path.to_str().unwrap()]).output().unwrap();
    std::fs::remove_file(&path).ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8(out.stdout).unwrap();
    assert_eq!(log, block_on(d.audit_log()).unwrap());
    let exported: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "entry" && l["incident"] == "inc-1")
        .map(|l| l["hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exported, stored);
}

#[test]
fn the_audit_log_exports_the_stored_links_so_an_edit_shows() {
    let d = with_history();
    audit::verify(&block_on(d.audit_log()).unwrap()).expect("what was written verifies");

    // Edit one stored entry's words after the fact, keeping its link.
    let mut row = rows_of(&d, "inc-1").remove(1);
    row.entry.detail = "Nobody was paged".into();
    block_on(d.store().put(&row, secs(3 * 86_400))).unwrap();
    let broken = audit::verify(&block_on(d.audit_log()).unwrap()).unwrap_err();
    assert_eq!((broken.incident.as_deref(), broken.index), (Some("inc-1"), Some(1)), "{broken}");
    // Read back by a new tab, it is still the stored link that is exported.
    let d = block_on(Driver::load(d.into_store())).unwrap();
    let broken = audit::verify(&block_on(d.audit_log()).unwrap()).unwrap_err();
    assert_eq!((broken.incident.as_deref(), broken.index), (Some("inc-1"), Some(1)), "{broken}");

    // An archived entry edited in place likewise.
    let d = with_history();
    let mut archived = block_on(d.find_archived("old")).unwrap().unwrap();
    archived.incident.timeline[1].detail = "Resolved by someone else".into();
    block_on(d.store().put(&archived, secs(3 * 86_400))).unwrap();
    let broken = audit::verify(&block_on(d.audit_log()).unwrap()).unwrap_err();
    assert_eq!((broken.incident.as_deref(), broken.index), (Some("old"), Some(1)), "{broken}");

    // Where a row has no stored link, the export computes one.
    let d = with_history();
    let mut row = rows_of(&d, "inc-2").remove(0);
    row.link = None;
    block_on(d.store().put(&row, secs(3 * 86_400))).unwrap();
    audit::verify(&block_on(d.audit_log()).unwrap()).unwrap();
}

/// A store as a Piket before the chain left it: the same rows without links, no archive chains,
/// and the marker the schema-6 upgrade leaves.
fn as_before_the_chain(d: &Driver<MemoryStore>) -> MemoryStore {
    let old = MemoryStore::new();
    let mut batch = Batch::new();
    for store in STORES {
        for e in block_on(d.store().list_raw(store)).unwrap() {
            let mut value = e.value;
            if store == TimelineRow::STORE {
                value.as_object_mut().unwrap().remove("link");
            }
            if store == ArchivedIncident::STORE {
                value.as_object_mut().unwrap().remove("chain");
            }
            batch.ops.push(Op::Put { store, id: e.id, value });
        }
    }
    batch.put(&chain::pending_marker());
    block_on(old.commit(batch, t0())).unwrap();
    old
}

#[test]
fn rows_stored_before_the_chain_are_linked_once_and_a_cut_short_linking_resumes() {
    let d = with_history();
    let old = as_before_the_chain(&d);
    assert!(block_on(old.list::<TimelineRow>()).unwrap().iter().all(|r| r.value.link.is_none()));

    // The first write fails (a full disk): the marker stays, so the next open links them.
    old.fail_next_commits(1);
    assert!(block_on(chain::link_unlinked(&old, secs(5))).is_err());
    assert!(block_on(old.list::<Setting>()).unwrap().iter().any(|s| s.id == AUDIT_CHAIN_PENDING));
    let linked = block_on(chain::link_unlinked(&old, secs(6))).unwrap();
    assert_eq!(linked, block_on(old.count(TimelineRow::STORE)).unwrap() + 1, "every row and the archived incident");
    assert!(!block_on(old.list::<Setting>()).unwrap().iter().any(|s| s.id == AUDIT_CHAIN_PENDING), "done: the marker is gone");
    assert_eq!(block_on(chain::link_unlinked(&old, secs(7))).unwrap(), 0, "nothing pending, nothing read");

    let migrated = block_on(Driver::load(old)).unwrap();
    for id in ["inc-1", "inc-2"] {
        assert_eq!(rows_of(&migrated, id), rows_of(&d, id), "{id}: linked from the data as found");
        check_rows(id, &rows_of(&migrated, id)).unwrap();
    }
    assert_eq!(block_on(migrated.find_archived("old")).unwrap().unwrap().chain, block_on(d.find_archived("old")).unwrap().unwrap().chain);

    // Without the marker nothing is touched.
    let untouched = as_before_the_chain(&d);
    block_on(untouched.delete::<Setting>(AUDIT_CHAIN_PENDING, t0())).unwrap();
    let commits = untouched.commit_count();
    assert_eq!(block_on(chain::link_unlinked(&untouched, secs(5))).unwrap(), 0);
    assert_eq!(untouched.commit_count(), commits);

    // A driver over rows that are still unlinked links its new rows to their computed hashes.
    let mut unlinked = block_on(Driver::load(as_before_the_chain(&d))).unwrap();
    block_on(unlinked.dispatch(secs(3 * 86_400), note("inc-1", "Later"))).unwrap();
    let rows = rows_of(&unlinked, "inc-1");
    assert_eq!(
        rows.last().unwrap().link,
        rows_of(
            &{
                let mut linked = block_on(Driver::load(d.into_store())).unwrap();
                block_on(linked.dispatch(secs(3 * 86_400), note("inc-1", "Later"))).unwrap();
                linked
            },
            "inc-1"
        )
        .last()
        .unwrap()
        .link
    );
    check_rows("inc-1", &rows).unwrap();
    audit::verify(&block_on(unlinked.audit_log()).unwrap()).unwrap();
}
