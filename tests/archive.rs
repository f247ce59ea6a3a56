//! Years of history: resolved incidents leave the hot state for the archive, which is read a page
//! at a time, survives reloads and backups, and never takes an incident that can still change.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentDetails};
use piket::runtime::driver::{Driver, PastCursor, HOT_AFTER_RESOLVE};
use piket::runtime::outbox::Outcome;
use piket::storage::{MemoryStore, OutboxRow, Store, StoredIncident, TimelineRow};
use pollster::block_on;

const WORLD: &str = r##"{
  "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC", "contact": {"webhook_url": "https://hooks.example/secret-alice"}}],
  "policies": [{"id": "p", "name": "P", "levels": [{"targets": [{"person": "alice"}], "ack_timeout": 5}]}],
  "default_policy": "p"
}"##;

fn t(min: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::minutes(min)
}

fn driver() -> Driver<MemoryStore> {
    let world = parse_world(WORLD).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, t(0))).unwrap();
    }
    for p in world.policies {
        block_on(d.save(p, t(0))).unwrap();
    }
    block_on(d.set_default_policy(Some("p".into()), t(0))).unwrap();
    d
}

fn open(id: &str) -> Input {
    Input::Open {
        id: id.into(),
        by: Actor::Automation,
        details: IncidentDetails { title: format!("Incident {id}"), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() },
    }
}

/// Sends everything due (answered 200), so nothing is pending.
fn deliver(d: &mut Driver<MemoryStore>, now: DateTime<Utc>) {
    let sends = d.due_sends("https://piket.example", now);
    block_on(d.claim(&sends, now)).unwrap();
    for s in &sends {
        block_on(d.record_attempt(&s.key, s.route, &Outcome::Http(piket::delivery::AttemptOutcome::status(200)), 5, now)).unwrap();
    }
}

/// Opens `n` incidents, resolving each one a minute after the previous, and one that stays open.
fn with_history(n: usize) -> Driver<MemoryStore> {
    let mut d = driver();
    for k in 0..n {
        let id = format!("old-{k}");
        block_on(d.dispatch(t(k as i64), open(&id))).unwrap();
        deliver(&mut d, t(k as i64));
        block_on(d.dispatch(t(k as i64) + Duration::seconds(30), Input::Resolve { incident: id.into(), by: Actor::Automation })).unwrap();
        deliver(&mut d, t(k as i64) + Duration::seconds(30));
    }
    block_on(d.dispatch(t(n as i64), open("live"))).unwrap();
    deliver(&mut d, t(n as i64));
    d
}

#[test]
fn resolved_incidents_move_to_the_archive_after_a_day_with_their_timeline_and_deliveries() {
    let mut d = with_history(3);
    let before: Vec<_> = d.engine().incidents().cloned().collect();
    assert_eq!(block_on(d.archive(t(60))).unwrap(), 0, "nothing resolved a day ago yet");

    let later = t(2) + HOT_AFTER_RESOLVE + Duration::minutes(1);
    assert_eq!(block_on(d.archive(later)).unwrap(), 3);
    let hot: Vec<_> = d.engine().incidents().map(|i| i.id.clone()).collect();
    assert_eq!(hot, vec!["live".to_string()], "only the open incident stays hot");
    assert!(d.outbox().values().all(|r| r.incident == "live"));

    // The hot stores hold the open incident only; the archive holds each resolved one whole.
    let store = d.store();
    let incidents: Vec<_> = block_on(store.list::<StoredIncident>()).unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(incidents, vec!["live".to_string()]);
    assert!(block_on(store.list::<TimelineRow>()).unwrap().iter().all(|r| r.value.incident == "live"));
    assert!(block_on(store.list::<OutboxRow>()).unwrap().iter().all(|r| r.value.incident == "live"));
    let archived = block_on(d.find_archived("old-1")).unwrap().expect("archived");
    let original = before.iter().find(|i| i.id == "old-1").unwrap();
    assert_eq!(&archived.incident, original, "the incident and its whole timeline");
    assert_eq!(archived.recorded.len(), original.timeline.len());
    assert!(!archived.outbox.is_empty() && archived.outbox.iter().all(|r| r.incident == "old-1"));

    // Newest first, a page at a time.
    let first = block_on(d.history(None, 2)).unwrap();
    let ids: Vec<_> = first.iter().map(|a| a.incident.id.as_str()).collect();
    assert_eq!(ids, ["old-2", "old-1"]);
    let next = block_on(d.history(Some(&first[1].key), 2)).unwrap();
    assert_eq!(next.iter().map(|a| a.incident.id.as_str()).collect::<Vec<_>>(), ["old-0"]);

    // A reload reads the open incident only, and the archive is still there.
    let d = block_on(Driver::load(d.into_store())).unwrap();
    assert_eq!(d.engine().incidents().count(), 1);
    assert_eq!(block_on(d.history(None, 10)).unwrap().len(), 3);
}

#[test]
fn an_incident_with_a_delivery_still_pending_stays_hot() {
    let mut d = driver();
    block_on(d.dispatch(t(0), open("a"))).unwrap();
    block_on(d.dispatch(t(1), Input::Resolve { incident: "a".into(), by: Actor::Automation })).unwrap();
    // The page to Alice was never sent.
    assert_eq!(block_on(d.archive(t(1) + HOT_AFTER_RESOLVE * 3)).unwrap(), 0);
    deliver(&mut d, t(2));
    assert_eq!(block_on(d.archive(t(1) + HOT_AFTER_RESOLVE * 3)).unwrap(), 1);
}

#[test]
fn a_failed_archive_write_changes_nothing() {
    let mut d = with_history(2);
    let later = t(2) + HOT_AFTER_RESOLVE * 2;
    d.store().fail_next_commits(1);
    assert!(block_on(d.archive(later)).is_err());
    assert_eq!(d.engine().incidents().count(), 3, "still hot");
    assert!(block_on(d.history(None, 10)).unwrap().is_empty());
    assert_eq!(block_on(d.archive(later)).unwrap(), 2, "and the next pass moves them");
}

#[test]
fn a_recurring_rule_keeps_resolved_incidents_hot_as_long_as_it_looks_back() {
    let mut d = with_history(1);
    let rule = serde_json::from_value(serde_json::json!({
        "id": "flapping", "when": {"recurring": {"at_least": 3, "within": 4320, "same": "service"}}, "then": [{"set_priority": "urgent"}]
    }))
    .unwrap();
    block_on(d.save::<piket::engine::rules::Rule>(rule, t(10))).unwrap();
    assert_eq!(d.hot_window(), Duration::minutes(4320));
    assert_eq!(block_on(d.archive(t(0) + Duration::days(2))).unwrap(), 0, "the rule still counts it");
    assert_eq!(block_on(d.archive(t(0) + Duration::days(4))).unwrap(), 1);
}

#[test]
fn a_backup_carries_the_archive_and_refuses_a_tampered_one() {
    let mut d = with_history(2);
    block_on(d.archive(t(2) + HOT_AFTER_RESOLVE * 2)).unwrap();
    let text = block_on(d.export(t(3000), true)).unwrap();
    let fresh = block_on(Driver::load(MemoryStore::new())).unwrap();
    let (restored, _) = block_on(fresh.import(&text, t(3001))).map_err(|(_, e)| e).unwrap();
    assert_eq!(block_on(restored.history(None, 10)).unwrap().len(), 2);
    assert!(block_on(restored.find_archived("old-0")).unwrap().is_some());

    // An archived incident that is still open, or filed under another key, is refused.
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    file["stores"]["archive"][0]["value"]["key"] = "000000000000000/old-0".into();
    let fresh = block_on(Driver::load(MemoryStore::new())).unwrap();
    let err = block_on(fresh.import(&file.to_string(), t(3001))).err().expect("refused").1;
    assert!(err.to_string().contains("archive"), "{err}");
    // Without secrets, the archived deliveries keep no webhook URL either.
    let plain = block_on(d.export(t(3000), false)).unwrap();
    assert!(!plain.contains("secret-alice"), "the archived outbox leaks a webhook URL");
}

/// Every incident a driver would replay or report on from `since`, read to the end.
fn past_since(d: &Driver<MemoryStore>, since: DateTime<Utc>) -> Vec<piket::engine::incident::Incident> {
    let mut out = Vec::new();
    let mut cursor = PastCursor::Start;
    loop {
        let (page, next) = block_on(d.past_since(since, cursor)).unwrap();
        out.extend(page);
        match next {
            Some(n) => cursor = n,
            None => return out,
        }
    }
}

#[test]
fn each_archived_incident_has_a_compact_digest_that_a_restore_rebuilds_and_an_upgrade_backfills() {
    use piket::storage::{ArchivedIncident, Batch, DigestChunk, Op, Record, Setting, DIGESTS_COMPLETE};
    let mut d = with_history(3);
    block_on(d.archive(t(2) + HOT_AFTER_RESOLVE * 2)).unwrap();
    let (chunks, next) = block_on(d.digests(None, 10)).unwrap();
    assert_eq!((chunks.len(), next), (1, None), "three digests fit one chunk");
    let digests = &chunks[0].digests;
    let archived = block_on(d.history(None, 10)).unwrap();
    assert_eq!(
        digests.iter().map(|g| &g.key).collect::<Vec<_>>(),
        archived.iter().map(|a| &a.key).collect::<Vec<_>>(),
        "one per archived incident, same order"
    );
    for (g, a) in digests.iter().zip(&archived) {
        // The whole incident, frozen policy included, but for the words and page keys of its timeline.
        let mut want = a.incident.clone();
        for e in &mut want.timeline {
            e.key = None;
            e.detail.clear();
        }
        assert_eq!(g.incident, want);
        assert!(a.incident.timeline.iter().any(|e| !e.detail.is_empty()), "the archive keeps the words");
    }
    assert!(d.digests_ready());
    // Stored packed, as one string a chunk.
    let raw = block_on(d.store().list_raw(DigestChunk::STORE)).unwrap();
    assert!(raw.iter().all(|e| e.value.is_string()), "{:?}", raw[0].value);
    let packed = raw[0].value.as_str().unwrap().len();
    let json: usize = archived.iter().map(|a| serde_json::to_string(&a.incident).unwrap().len()).sum();
    assert!(packed * 2 < json, "packed {packed} bytes against {json} of JSON");
    // A damaged chunk is a clear error, not a panic.
    for hurt in [serde_json::json!("not-a-digest!"), serde_json::json!("AAAA"), serde_json::json!(raw[0].value.as_str().unwrap()[..40])] {
        let err = serde_json::from_value::<DigestChunk>(hurt).unwrap_err().to_string();
        assert!(err.contains("digest"), "{err}");
    }

    // Digests are derived: never in a backup, rebuilt by a restore.
    let text = block_on(d.export(t(3000), true)).unwrap();
    assert!(!text.contains("\"digests\""), "a backup carries no derived store");
    let (restored, _) = block_on(block_on(Driver::load(MemoryStore::new())).unwrap().import(&text, t(3001))).map_err(|(_, e)| e).unwrap();
    assert_eq!(block_on(restored.digests(None, 10)).unwrap().0, chunks);
    assert!(restored.digests_ready());

    // An archive from before digests existed (an upgrade from schema 3): not ready until the
    // clock has digested it, a batch at a time, and then the same digests as ever; meanwhile
    // history is read from the archive itself.
    let store = restored.into_store();
    let mut wipe = Batch::new();
    wipe.ops.push(Op::Clear { store: DigestChunk::STORE });
    wipe.delete::<Setting>(DIGESTS_COMPLETE);
    block_on(store.commit(wipe, t(3002))).unwrap();
    assert_eq!(block_on(store.count(ArchivedIncident::STORE)).unwrap(), 3);
    let mut upgraded = block_on(Driver::load(store)).unwrap();
    assert!(!upgraded.digests_ready());
    assert_eq!(past_since(&upgraded, t(-10)).len(), 3, "read from the archive meanwhile");
    assert_eq!(block_on(upgraded.digest_archive(t(3003))).unwrap(), 3);
    assert!(upgraded.digests_ready());
    assert_eq!(block_on(upgraded.digest_archive(t(3004))).unwrap(), 0, "nothing left to do");
    assert_eq!(block_on(upgraded.digests(None, 10)).unwrap().0, chunks);
    assert!(block_on(Driver::load(upgraded.into_store())).unwrap().digests_ready(), "and a reload knows it");
}

#[test]
fn history_since_a_moment_reads_chunk_by_chunk_and_stops_where_the_period_begins() {
    // 600 incidents resolved a minute apart, archived in two passes: 500 (two full chunks), then
    // 100 newer ones (the newest chunk is full, so a chunk of their own).
    let mut d = with_history(600);
    assert_eq!(block_on(d.archive(t(499) + HOT_AFTER_RESOLVE + Duration::minutes(1))).unwrap(), 500);
    assert_eq!(block_on(d.archive(t(700) + HOT_AFTER_RESOLVE)).unwrap(), 100);
    let (chunks, _) = block_on(d.digests(None, 10)).unwrap();
    assert_eq!(chunks.iter().map(|c| c.digests.len()).collect::<Vec<_>>(), [100, 250, 250]);
    assert_eq!(chunks[0].newest_resolved(), Some(t(599) + Duration::seconds(30)));

    // Everything, once each, newest first.
    let all = past_since(&d, t(-1));
    assert_eq!(all.len(), 600);
    assert_eq!(all[0].id, "old-599");
    assert_eq!(all[599].id, "old-0");
    // From a moment: exactly the incidents resolved since (old-k resolved at k min 30 s).
    let since = past_since(&d, t(300));
    assert_eq!(since.len(), 300);
    assert!(since.iter().all(|i| i.resolved_at.unwrap() >= t(300)));
    assert_eq!(since.last().unwrap().id, "old-300");
    assert!(past_since(&d, t(10_000)).is_empty());

    // A later pass of a few merges into the newest chunk while it has room.
    block_on(d.dispatch(t(800), open("late"))).unwrap();
    deliver(&mut d, t(800));
    block_on(d.dispatch(t(801), Input::Resolve { incident: "late".into(), by: Actor::Automation })).unwrap();
    deliver(&mut d, t(801));
    block_on(d.dispatch(t(802), Input::Resolve { incident: "live".into(), by: Actor::Automation })).unwrap();
    deliver(&mut d, t(802));
    assert_eq!(block_on(d.archive(t(900) + HOT_AFTER_RESOLVE)).unwrap(), 2);
    let (chunks, _) = block_on(d.digests(None, 10)).unwrap();
    assert_eq!(chunks.iter().map(|c| c.digests.len()).collect::<Vec<_>>(), [102, 250, 250]);
    assert_eq!(past_since(&d, t(-1)).len(), 602);
}
