//! The driver on a virtual clock with the in-memory store: every step persisted in one
//! transaction, nothing lost or sent twice across reloads, failed writes, catch-up and backups.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::{Input, Rejected};
use piket::engine::format::parse_world;
use piket::engine::id::{IncidentId, PersonId};
use piket::engine::incident::{Actor, IncidentDetails};
use piket::engine::person::Person;
use piket::engine::policy::EscalationPolicy;
use piket::runtime::driver::Driver;
use piket::runtime::ActionError;
use piket::storage::backup::ImportError;
use piket::storage::{MemoryStore, OutboxRow, Store, StoredIncident, TimelineRow};
use pollster::block_on;

const WORLD: &str = r##"{
  "people": [
    {"id": "alice", "name": "Alice", "time_zone": "Europe/Amsterdam", "contact": {"ntfy_topic": "piket-alice", "webhook_url": "https://hooks.example/secret-alice"}},
    {"id": "bob", "name": "Bob", "time_zone": "Europe/Amsterdam"}
  ],
  "channels": [{"id": "war-room", "name": "#war-room", "address": "https://hooks.slack.com/services/T/B/SECRET"}],
  "policies": [{"id": "quick", "name": "Quick", "levels": [
      {"targets": [{"person": "alice"}], "ack_timeout": "30s"},
      {"targets": [{"person": "bob"}, {"channel": "war-room"}]}
  ]}],
  "default_policy": "quick"
}"##;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(n)
}

/// A driver whose store holds WORLD.
fn configured() -> Driver<MemoryStore> {
    let world = parse_world(WORLD).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for c in world.channels {
        block_on(d.save(c, t0())).unwrap();
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

fn outbox_keys<S: Store>(d: &Driver<S>) -> Vec<String> {
    d.outbox().keys().cloned().collect()
}

fn reload(d: Driver<MemoryStore>) -> Driver<MemoryStore> {
    block_on(Driver::load(d.into_store())).unwrap()
}

#[test]
fn pages_level_one_then_level_two_and_survives_reloads() {
    let mut d = configured();
    let step = block_on(d.dispatch(t0(), open("inc-1", "Checkout down"))).unwrap();
    assert_eq!(step.queued.len(), 1, "level 1 paged at once: {:?}", step.queued);
    assert_eq!(d.next_deadline(), Some(secs(30)));

    d = reload(d);
    assert!(block_on(d.tick(secs(29))).unwrap().queued.is_empty(), "nothing before the deadline");
    d = reload(d);
    let step = block_on(d.tick(secs(31))).unwrap();
    let targets: Vec<_> = step.queued.iter().map(|r| r.key.clone()).collect();
    assert_eq!(targets.len(), 2, "bob and the war-room channel: {targets:?}");
    assert!(step.queued.iter().all(|r| r.at == secs(30)), "intended time is the deadline");

    d = reload(d);
    assert!(block_on(d.tick(secs(3600))).unwrap().queued.is_empty(), "nothing is paged twice after a reload");
    assert_eq!(d.outbox().len(), 3);
    let timeline = &d.engine().incident("inc-1").unwrap().timeline;
    assert_eq!(d.recorded_at("inc-1").len(), timeline.len(), "every entry was stored");
}

#[test]
fn acknowledge_stops_further_pages() {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("inc-1", "Disk full"))).unwrap();
    block_on(d.dispatch(secs(10), Input::Acknowledge { incident: "inc-1".into(), by: "alice".into() })).unwrap();
    let d = reload(d);
    let mut d = d;
    assert!(block_on(d.tick(secs(600))).unwrap().queued.is_empty());
    assert_eq!(d.outbox().len(), 1);
}

#[test]
fn a_failed_write_changes_nothing_and_the_step_runs_again() {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("inc-1", "Latency"))).unwrap();
    let commits = d.store().commit_count();
    d.store().fail_next_commits(1);
    let err = block_on(d.tick(secs(45))).unwrap_err();
    assert!(matches!(err, ActionError::Storage(_)), "{err:?}");
    assert_eq!(d.store().commit_count(), commits);
    assert_eq!(d.outbox().len(), 1, "nothing queued in memory either");
    assert_eq!(d.next_deadline(), Some(secs(30)), "the deadline is still pending");

    let step = block_on(d.tick(secs(46))).unwrap();
    assert_eq!(step.queued.len(), 2);
    assert!(step.queued.iter().all(|r| r.at == secs(30)));
    let d = reload(d);
    let rows = block_on(d.store().list::<OutboxRow>()).unwrap();
    assert_eq!(rows.len(), 3);
}

/// What a tab holds in memory.
#[derive(Debug, PartialEq)]
struct Memory {
    engine: String,
    next_deadline: Option<DateTime<Utc>>,
    outbox: Vec<String>,
    /// How much of each incident's timeline is stored.
    recorded: Vec<(IncidentId, usize)>,
}

fn memory(d: &Driver<MemoryStore>) -> Memory {
    Memory {
        engine: serde_json::to_string(d.engine()).unwrap(),
        next_deadline: d.next_deadline(),
        outbox: outbox_keys(d),
        recorded: d.engine().incidents().map(|i| (i.id.clone(), d.recorded_at(&i.id).len())).collect(),
    }
}

fn alert(id: &str, dedup_key: &str) -> Input {
    Input::Open { id: id.into(), by: Actor::Automation, details: serde_json::from_value(serde_json::json!({"title": id, "dedup_key": dedup_key})).unwrap() }
}

fn full_disk(d: &mut Driver<MemoryStore>, now: DateTime<Utc>, input: Option<Input>) {
    let before = memory(d);
    let commits = d.store().commit_count();
    d.store().fail_next_commits(1);
    let result = match input {
        Some(input) => block_on(d.dispatch(now, input)),
        None => block_on(d.tick(now)),
    };
    assert!(matches!(result, Err(ActionError::Storage(_))), "{result:?}");
    assert_eq!(memory(d), before, "a failed write changes nothing in memory");
    assert_eq!(d.store().commit_count(), commits, "nor in storage");
}

#[test]
fn a_failed_write_leaves_no_new_incident_no_resolve_and_no_catch_up_behind() {
    let mut d = configured();
    block_on(d.dispatch(t0(), alert("inc-1", "db-primary"))).unwrap();

    // A new incident with its own dedup key: gone, and its key with it.
    full_disk(&mut d, secs(5), Some(alert("inc-2", "db-replica")));
    assert!(d.engine().incident("inc-2").is_none());
    let by_key = block_on(d.dispatch(secs(6), Input::ResolveByKey { dedup_key: "db-replica".into(), by: Actor::Automation }));
    assert!(matches!(by_key, Err(ActionError::Rejected(Rejected::NoOpenIncidentForKey(_)))), "{by_key:?}");

    // A resolve by key: still open, its deadline still pending, and alerts still fold into it.
    full_disk(&mut d, secs(7), Some(Input::ResolveByKey { dedup_key: "db-primary".into(), by: Actor::Automation }));
    assert!(d.engine().incident("inc-1").unwrap().is_open());
    assert_eq!(d.next_deadline(), Some(secs(30)));
    block_on(d.dispatch(secs(8), alert("inc-3", "db-primary"))).unwrap();
    assert_eq!(d.engine().incident("inc-1").unwrap().alert_count, 2, "folded into the open incident");
    assert!(d.engine().incident("inc-3").is_none());

    // A catch-up: the same pages fall due on the next wake, at their intended time.
    full_disk(&mut d, secs(600), None);
    let step = block_on(d.tick(secs(600))).unwrap();
    assert_eq!(step.queued.len(), 2, "bob and the war-room: {:?}", step.queued);
    assert!(step.queued.iter().all(|r| r.at == secs(30)));

    // The retried steps stored exactly what memory holds.
    let incidents: Vec<_> = d.engine().incidents().cloned().collect();
    let kept = memory(&d);
    let d = reload(d);
    assert_eq!(d.engine().incidents().cloned().collect::<Vec<_>>(), incidents);
    let reloaded = memory(&d);
    assert_eq!((reloaded.outbox, reloaded.recorded), (kept.outbox, kept.recorded));
}

#[test]
fn a_refused_input_is_reported_and_changes_nothing() {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("inc-1", "A"))).unwrap();
    let before = d.store().commit_count();
    let err = block_on(d.dispatch(secs(1), Input::Acknowledge { incident: "nope".into(), by: "alice".into() })).unwrap_err();
    assert!(matches!(err, ActionError::Rejected(_)), "{err:?}");
    assert_eq!(d.store().commit_count(), before, "a refused input with nothing due writes nothing");
}

#[test]
fn catching_up_after_sleep_matches_ticking_every_few_seconds() {
    let mut sleepy = configured();
    let mut steady = configured();
    for d in [&mut sleepy, &mut steady] {
        block_on(d.dispatch(t0(), open("inc-1", "A"))).unwrap();
        block_on(d.dispatch(t0(), open("inc-2", "B"))).unwrap();
    }
    block_on(sleepy.tick(secs(3600))).unwrap();
    for s in (5..=3600).step_by(5) {
        block_on(steady.tick(secs(s))).unwrap();
    }
    assert_eq!(outbox_keys(&sleepy), outbox_keys(&steady));
    for id in ["inc-1", "inc-2"] {
        let a = &sleepy.engine().incident(id).unwrap().timeline;
        let b = &steady.engine().incident(id).unwrap().timeline;
        assert_eq!(a, b, "same entries, same intended times, same order");
    }
    let sleepy = reload(sleepy);
    let rows = block_on(sleepy.store().list::<TimelineRow>()).unwrap();
    let late: Vec<_> = rows.iter().map(|r| r.value.lateness()).filter(|l| *l > Duration::zero()).collect();
    assert!(late.iter().any(|l| *l >= Duration::minutes(59)), "lateness is recorded: {late:?}");
}

#[test]
fn every_write_is_journaled_with_a_revision() {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("inc-1", "A"))).unwrap();
    block_on(d.tick(secs(31))).unwrap();
    let journal = block_on(d.store().journal()).unwrap();
    let incident_revs: Vec<u64> = journal.iter().filter(|j| j.store == "incidents").map(|j| j.rev).collect();
    assert_eq!(incident_revs, [1, 2]);
    let rows = block_on(d.store().list::<StoredIncident>()).unwrap();
    assert_eq!((rows[0].rev, rows[0].updated_at), (2, secs(31)));
}

#[test]
fn removing_a_person_a_policy_pages_is_refused() {
    let mut d = configured();
    let err = block_on(d.remove::<Person>("alice", t0())).unwrap_err();
    assert!(err.to_string().contains("alice"), "{err}");
    assert!(d.world().person("alice").is_some());
    let d = reload(d);
    assert!(d.world().person("alice").is_some());
}

#[test]
fn export_then_import_gives_the_same_data_and_ids() {
    let mut d = configured();
    block_on(d.dispatch(t0(), open("inc-1", "A"))).unwrap();
    block_on(d.tick(secs(31))).unwrap();
    let file = block_on(d.export(secs(40), true)).unwrap();

    let fresh = block_on(Driver::load(MemoryStore::new())).unwrap();
    let (restored, summary) = block_on(fresh.import(&file, secs(50))).map_err(|(_, e)| e).unwrap();
    assert_eq!(summary.counts["people"], 2);
    assert_eq!(restored.world(), d.world());
    assert_eq!(outbox_keys(&restored), outbox_keys(&d));
    assert_eq!(restored.engine().incident("inc-1"), d.engine().incident("inc-1"));
    assert_eq!(restored.next_deadline(), d.next_deadline());
}

#[test]
fn exports_leave_webhook_urls_out_unless_asked() {
    let d = configured();
    let without = block_on(d.export(t0(), false)).unwrap();
    assert!(!without.contains("secret-alice") && !without.contains("SECRET"), "{without}");
    let with = block_on(d.export(t0(), true)).unwrap();
    assert!(with.contains("secret-alice") && with.contains("SECRET"));
}

#[test]
fn bad_backups_are_refused_with_a_reason_and_change_nothing() {
    let d = configured();
    let good = block_on(d.export(t0(), true)).unwrap();
    let wrong_type = good.replacen("\"name\": \"Alice\"", "\"name\": 42", 1);
    let dangling = good.replacen("\"person\": \"alice\"", "\"person\": \"zed\"", 1);
    let junk = "x".repeat(50 * 1024 * 1024);
    type Check = Box<dyn Fn(&ImportError) -> bool>;
    let cases: Vec<(String, Check)> = vec![
        (good.replace("\"piket_backup\": 1", "\"piket_backup\": 7"), Box::new(|e| matches!(e, ImportError::UnsupportedVersion(7)))),
        (good[..good.len() / 2].to_string(), Box::new(|e| matches!(e, ImportError::NotABackup(m) if m.contains("truncated")))),
        (wrong_type, Box::new(|e| matches!(e, ImportError::Invalid { path, .. } if path == "stores.people[0].value.name"))),
        (dangling, Box::new(|e| matches!(e, ImportError::Invalid { message, .. } if message.contains("zed")))),
        (junk, Box::new(|e| matches!(e, ImportError::TooLarge(mb) if *mb > 49.0))),
        ("{\"hello\": 1}".into(), Box::new(|e| matches!(e, ImportError::NotABackup(_)))),
    ];
    let mut d = d;
    for (file, check) in cases {
        let before = d.store().commit_count();
        let world = d.world().clone();
        let (back, err) = match block_on(d.import(&file, t0())) {
            Ok(_) => panic!("accepted a bad file"),
            Err(x) => x,
        };
        d = back;
        match &err {
            ActionError::Import(e) => assert!(check(e), "unexpected error: {e}"),
            other => panic!("unexpected error: {other}"),
        }
        assert_eq!(d.store().commit_count(), before, "the database is unchanged ({err})");
        assert_eq!(d.world(), &world);
    }
}

#[test]
fn policies_import_alone_and_are_checked_against_the_people() {
    let mut d = configured();
    let ok = r#"[{"id": "night", "name": "Night", "levels": [{"targets": [{"person": "bob"}]}]}]"#;
    assert_eq!(block_on(d.import_policies(ok, t0())).unwrap(), 1);
    assert!(d.world().policy("night").is_some());
    let bad = r#"[{"id": "x", "levels": [{"targets": [{"person": "nobody"}]}]}]"#;
    let err = block_on(d.import_policies(bad, t0())).unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
    let d = reload(d);
    let ids: Vec<_> = d.world().policies.iter().map(|p: &EscalationPolicy| p.id.clone()).collect();
    assert_eq!(ids, ["night", "quick"]);
}

#[test]
fn phase_channels_get_posts_at_their_transitions() {
    let mut d = configured();
    let channels = r##"{"channels": [
        {"id": "crit", "name": "#critical", "phase": "critical", "kind": "slack", "address": "https://hooks.slack.com/services/T/B/C"},
        {"id": "war", "name": "#war-room-phase", "phase": "war_room", "kind": "generic", "address": "https://hooks.example/war"},
        {"id": "retro", "name": "#retro", "phase": "retro", "kind": "generic", "address": "https://hooks.example/retro"}
    ]}"##;
    for c in parse_world(channels).unwrap().channels {
        block_on(d.save(c, t0())).unwrap();
    }
    let details = serde_json::from_str(r#"{"title": "Database down", "severity": "sev1"}"#).unwrap();
    block_on(d.dispatch(t0(), Input::Open { id: "inc-1".into(), by: Actor::Automation, details })).unwrap();
    block_on(d.dispatch(secs(5), Input::Acknowledge { incident: "inc-1".into(), by: "alice".into() })).unwrap();
    block_on(d.dispatch(secs(9), Input::Resolve { incident: "inc-1".into(), by: Actor::person("alice") })).unwrap();
    let posts: Vec<String> = d.outbox().keys().filter(|k| k.contains("/phase/")).cloned().collect();
    assert_eq!(posts.len(), 3, "{posts:?}");
    assert!(posts.iter().any(|k| k.ends_with("/crit")) && posts.iter().any(|k| k.ends_with("/war")) && posts.iter().any(|k| k.ends_with("/retro")));

    let sends = d.due_sends("https://piket.example", secs(10));
    let retro = sends.iter().find(|s| s.key.ends_with("/retro")).expect("the retro post is due");
    match &retro.send {
        piket::runtime::outbox::Send::Http(spec) => {
            let body: serde_json::Value = serde_json::from_str(&spec.body).unwrap();
            assert_eq!(body["event"], "resolved");
            assert_eq!(body["incident"]["url"], "https://piket.example/#/incidents/inc-1");
        }
        other => panic!("expected an HTTP post, got {other:?}"),
    }

    // A SEV3 without customer impact posts nowhere on opening.
    block_on(d.dispatch(secs(20), open("inc-2", "Minor"))).unwrap();
    assert!(!d.outbox().keys().any(|k| k.starts_with("inc-2/phase/")));
}

#[test]
fn a_channel_with_a_bad_kind_or_url_is_refused() {
    use piket::runtime::command::{execute, Command, ConfigItem};
    let d = configured();
    let bad: piket::engine::world::Channel = serde_json::from_str(r#"{"id": "x", "name": "X", "kind": "pager", "address": "https://a.example"}"#).unwrap();
    let (d, reply) = block_on(execute(d, Command::Save { item: ConfigItem::Channel(bad) }, t0()));
    assert!(reply.unwrap_err().message.contains("pager"));
    let bad_url: piket::engine::world::Channel = serde_json::from_str(r#"{"id": "y", "name": "Y", "kind": "slack", "address": "not a url"}"#).unwrap();
    let (d, reply) = block_on(execute(d, Command::Save { item: ConfigItem::Channel(bad_url) }, t0()));
    assert!(reply.unwrap_err().message.contains("url"));
    assert!(d.world().channel("x").is_none() && d.world().channel("y").is_none());
}

#[test]
fn moving_a_rule_changes_which_runs_first_and_survives_a_reload() {
    use piket::engine::incident::Severity;
    use piket::engine::rules::Rule;
    let mut d = configured();
    for (id, severity) in [("loud", "sev1"), ("quiet", "sev4")] {
        let rule: Rule = serde_json::from_value(serde_json::json!({"id": id, "then": [{"set_severity": severity}], "stop": true})).unwrap();
        block_on(d.save(rule, t0())).unwrap();
    }
    let order = |d: &Driver<MemoryStore>| d.world().rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(order(&d), ["loud", "quiet"]);
    block_on(d.dispatch(t0(), open("inc-1", "A"))).unwrap();
    assert_eq!(d.engine().incident("inc-1").unwrap().details.severity, Severity::Sev1, "the first rule stops the list");

    block_on(d.move_rule("quiet", true, secs(1))).unwrap();
    assert_eq!(order(&d), ["quiet", "loud"]);
    block_on(d.move_rule("quiet", true, secs(2))).unwrap();
    assert_eq!(order(&d), ["quiet", "loud"], "the first rule cannot go higher");
    let mut d = reload(d);
    assert_eq!(order(&d), ["quiet", "loud"], "the order is stored");
    block_on(d.dispatch(secs(3), open("inc-2", "B"))).unwrap();
    assert_eq!(d.engine().incident("inc-2").unwrap().details.severity, Severity::Sev4);

    let err = block_on(d.move_rule("gone", false, secs(4))).unwrap_err();
    assert_eq!(err.to_string(), "There is no rule gone.");
}

#[test]
fn a_catch_up_pages_each_person_once_and_says_what_it_folded() {
    let world = parse_world(
        r#"{"people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
            "policies": [{"id": "loop", "name": "Loop", "levels": [
                {"targets": [{"person": "alice"}], "ack_timeout": "1m"},
                {"targets": [{"person": "bob"}], "ack_timeout": "1m"}], "repeat": {"times": 5}}],
            "default_policy": "loop"}"#,
    )
    .unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for p in world.policies {
        block_on(d.save(p, t0())).unwrap();
    }
    block_on(d.set_default_policy(Some("loop".into()), t0())).unwrap();
    block_on(d.dispatch(t0(), open("inc-1", "Flood"))).unwrap();

    // The tab slept 30 minutes: eleven level steps fell due.
    let step = block_on(d.tick(secs(30 * 60))).unwrap();
    let sent: Vec<&OutboxRow> = step.queued.iter().filter(|r| r.state != piket::storage::DeliveryState::Folded).collect();
    let mut people: Vec<PersonId> = sent
        .iter()
        .map(|r| match &r.delivery {
            piket::engine::escalation::Delivery::Page { person, .. } => person.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    people.sort();
    assert_eq!(people, ["alice", "bob"], "one page each: {:?}", step.queued.iter().map(|r| (&r.key, r.state)).collect::<Vec<_>>());
    assert!(step.queued.len() > 2, "the rest were folded, not lost: {}", step.queued.len());
    let incident = d.engine().incident("inc-1").unwrap();
    let note = incident.timeline.iter().find(|e| e.detail.starts_with("Caught up after a sleep")).expect("the timeline says so");
    assert!(note.detail.contains("late") && note.detail.contains("alice") && note.detail.contains("bob"), "{}", note.detail);
    let folded_keys: Vec<&String> = step.queued.iter().filter(|r| r.state == piket::storage::DeliveryState::Folded).map(|r| &r.key).collect();
    assert!(d.due_sends("https://piket.example", secs(30 * 60)).iter().all(|s| !folded_keys.contains(&&s.key)), "folded pages are never sent");

    // Ticking every few seconds pages each step as it comes: nothing is folded then.
    let mut e = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in d.world().people.clone() {
        block_on(e.save(p, t0())).unwrap();
    }
    for p in d.world().policies.clone() {
        block_on(e.save(p, t0())).unwrap();
    }
    block_on(e.set_default_policy(Some("loop".into()), t0())).unwrap();
    block_on(e.dispatch(t0(), open("inc-1", "Flood"))).unwrap();
    let mut folded = 0;
    for s in (5..=30 * 60).step_by(5) {
        folded += block_on(e.tick(secs(s))).unwrap().queued.iter().filter(|r| r.state == piket::storage::DeliveryState::Folded).count();
    }
    assert_eq!(folded, 0);
}

#[test]
fn a_leader_that_lost_the_clock_writes_and_sends_nothing() {
    use std::rc::Rc;
    let store = Rc::new(MemoryStore::new());
    let mut a = leader_with_world(&store);
    block_on(a.dispatch(t0(), open("inc-1", "Hung leader"))).unwrap();
    // A claims Alice's page and starts sending; then it hangs.
    let sends = a.due_sends("https://piket.example", t0());
    assert!(!sends.is_empty());
    block_on(a.claim(&sends, t0())).unwrap();

    // Another tab takes the clock while A is hung, and fires level 2 on time.
    let mut b = block_on(Driver::load(store.clone())).unwrap();
    assert_eq!(block_on(b.take_clock(secs(5))).unwrap(), 2);
    assert!(b.due_sends("https://piket.example", secs(5)).is_empty(), "A's claim is fresh: B leaves the page in flight alone");
    let step = block_on(b.tick(secs(30))).unwrap();
    assert!(!step.queued.is_empty(), "B pages level 2");
    let b_sends = b.due_sends("https://piket.example", secs(30));
    block_on(b.claim(&b_sends, secs(30))).unwrap();

    // A wakes with its old state: it may neither write its stale step nor claim anything to send.
    let journal_before = block_on(store.journal()).unwrap().len();
    assert!(matches!(block_on(a.tick(secs(31))), Err(ActionError::Storage(piket::storage::StoreError::Fenced))));
    let stale = a.due_sends("https://piket.example", secs(31));
    assert!(matches!(block_on(a.claim(&stale, secs(31))), Err(ActionError::Storage(piket::storage::StoreError::Fenced))));
    assert!(matches!(block_on(a.dispatch(secs(31), Input::Acknowledge { incident: "inc-1".into(), by: "alice".into() })), Err(ActionError::Storage(_))));
    assert_eq!(block_on(store.journal()).unwrap().len(), journal_before, "nothing written by the old leader");

    // Once A's claim has aged past the lease, B sends what A may never have finished.
    assert!(!b.due_sends("https://piket.example", secs(5 + piket::runtime::driver::CLAIM_LEASE_SECS)).is_empty());
}

#[test]
fn a_finished_send_is_not_held_back_by_its_claim_after_a_takeover() {
    use std::rc::Rc;
    let store = Rc::new(MemoryStore::new());
    let mut a = leader_with_world(&store);
    block_on(a.dispatch(t0(), open("inc-1", "Refused"))).unwrap();
    let sends = a.due_sends("https://piket.example", t0());
    block_on(a.claim(&sends, t0())).unwrap();
    for s in &sends {
        let outcome = piket::runtime::outbox::Outcome::Http(piket::delivery::AttemptOutcome::status(400));
        block_on(a.record_attempt(&s.key, s.route, &outcome, 5, t0())).unwrap();
    }
    // The page reloads (a new epoch) and someone presses Retry at once.
    let mut b = block_on(Driver::load(store.clone())).unwrap();
    block_on(b.take_clock(secs(2))).unwrap();
    let key = sends[0].key.clone();
    block_on(b.retry_delivery(&key, secs(2))).unwrap();
    assert!(!b.due_sends("https://piket.example", secs(2)).is_empty(), "the finished attempt left no claim behind");
}

/// A driver over a shared store that took the clock (epoch 1) and holds WORLD.
fn leader_with_world(store: &std::rc::Rc<MemoryStore>) -> Driver<std::rc::Rc<MemoryStore>> {
    let world = parse_world(WORLD).unwrap();
    let mut a = block_on(Driver::load(store.clone())).unwrap();
    assert_eq!(block_on(a.take_clock(t0())).unwrap(), 1);
    for p in world.people {
        block_on(a.save(p, t0())).unwrap();
    }
    for c in world.channels {
        block_on(a.save(c, t0())).unwrap();
    }
    for p in world.policies {
        block_on(a.save(p, t0())).unwrap();
    }
    block_on(a.set_default_policy(Some("quick".into()), t0())).unwrap();
    a
}
