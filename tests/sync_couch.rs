//! Team sync against a real CouchDB-protocol server: pouchdb-server, in memory on a free loopback
//! port (`cargo xtask setup` installs it into tools/npm). Two devices' local document stores
//! replicate through it with `piket::sync`, over a plain HTTP/1.1 socket.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use piket::sync::{replicate, Db, HttpDb, HttpRequest, HttpResponse, MemoryDb, Options, Rev, SyncError, Transport};
use pollster::block_on;
use serde_json::{json, Map, Value};

#[path = "common/couch.rs"]
mod couch;
use couch::{http, start_server};

// ---------------------------------------------------------------------------------------------
/// The native transport, with a switch that takes the network away and a log of what was asked.
#[derive(Default)]
struct Socket {
    offline: Cell<bool>,
    /// Answer 404 to `_bulk_get`, as CouchDB 1.x does.
    no_bulk_get: bool,
    /// Sent as `Authorization` on every request.
    authorization: Option<String>,
    asked: RefCell<Vec<String>>,
}

impl Transport for Socket {
    async fn send(&self, r: HttpRequest) -> Result<HttpResponse, SyncError> {
        let path = r.url.split("://").nth(1).and_then(|u| u.split_once('/')).map_or("", |(_, p)| p).to_string();
        self.asked.borrow_mut().push(format!("{} {path}", r.method.as_str()));
        if self.offline.get() {
            return Err(SyncError::Network("connection refused".into()));
        }
        if self.no_bulk_get && path.contains("/_bulk_get") {
            return Ok(HttpResponse { status: 404, body: r#"{"error":"not_found","reason":"missing"}"#.into() });
        }
        couch::http_with(&r.url, r.method.as_str(), r.body.as_deref(), r.timeout_ms, self.authorization.as_deref())
    }
}

// ---------------------------------------------------------------------------------------------
// Devices

struct Device {
    name: &'static str,
    local: MemoryDb,
    remote: HttpDb<Socket>,
    runs: Cell<u32>,
}

impl Device {
    fn new(name: &'static str, db_url: &str) -> Device {
        Device::with(name, db_url, Socket::default())
    }

    fn with(name: &'static str, db_url: &str, socket: Socket) -> Device {
        Device { name, local: MemoryDb::new(name), remote: HttpDb::new(socket, db_url), runs: Cell::new(0) }
    }

    fn options(&self, direction: &str) -> Options {
        self.runs.set(self.runs.get() + 1);
        Options {
            replication_id: format!("piket-{}-{direction}", self.name),
            session_id: format!("{}-{}", self.name, self.runs.get()),
            batch: 100,
            wait_ms: None,
            only_prefix: None,
        }
    }

    /// Push, then pull: what the app does each round.
    fn sync(&self) -> Result<(usize, usize), SyncError> {
        let pushed = block_on(replicate(&self.local, &self.remote, &self.options("push")))?;
        let pulled = block_on(replicate(&self.remote, &self.local, &self.options("pull")))?;
        assert!(pushed.refused.is_empty() && pulled.refused.is_empty(), "refused: {:?} {:?}", pushed.refused, pulled.refused);
        Ok((pushed.docs_written, pulled.docs_written))
    }

    fn put(&self, id: &str, v: Value) -> Rev {
        self.local.docs.borrow_mut().put(id, v.as_object().unwrap().clone())
    }

    fn get(&self, id: &str) -> Option<Map<String, Value>> {
        self.local.docs.borrow().get(id).map(|(_, b)| b.clone())
    }

    fn winner(&self, id: &str) -> Option<Rev> {
        self.local.docs.borrow().winner(id)
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn configuration_made_on_one_device_appears_on_the_other() {
    let server = start_server();
    let db = server.create_db("team");
    let (desk, phone) = (Device::new("desk", &db), Device::new("phone", &db));
    desk.put("person:ada", json!({"name": "Ada", "ntfy": "ada-pages"}));
    desk.put("policy:web", json!({"levels": [{"targets": ["person:ada"], "ack_timeout": 5}]}));
    assert_eq!(desk.sync().unwrap(), (2, 0));
    assert_eq!(phone.sync().unwrap(), (0, 2));
    assert_eq!(phone.get("person:ada").unwrap()["name"], "Ada");
    assert_eq!(phone.winner("policy:web"), desk.winner("policy:web"));

    // An edit and a deletion on the phone reach the desk.
    phone.put("person:ada", json!({"name": "Ada L.", "ntfy": "ada-pages"}));
    phone.local.docs.borrow_mut().delete("policy:web").unwrap();
    phone.sync().unwrap();
    desk.sync().unwrap();
    assert_eq!(desk.get("person:ada").unwrap()["name"], "Ada L.");
    assert!(desk.get("policy:web").is_none());

    // The server holds the same winners.
    let doc = block_on(desk.remote.get_doc("person:ada")).unwrap().unwrap();
    assert_eq!(doc["_rev"], desk.winner("person:ada").unwrap().to_string());
    assert!(block_on(desk.remote.get_doc("policy:web")).unwrap().is_none());
}

#[test]
fn simultaneous_edits_settle_on_the_same_winner_everywhere() {
    let server = start_server();
    let db = server.create_db("team");
    let (desk, phone) = (Device::new("desk", &db), Device::new("phone", &db));
    desk.put("schedule:primary", json!({"rotation": ["ada", "bob"]}));
    desk.sync().unwrap();
    phone.sync().unwrap();
    // Both edit the same revision before either syncs.
    desk.put("schedule:primary", json!({"rotation": ["ada", "bob", "cy"]}));
    phone.put("schedule:primary", json!({"rotation": ["bob", "ada"]}));
    desk.sync().unwrap();
    phone.sync().unwrap();
    desk.sync().unwrap();
    let winner = desk.winner("schedule:primary").unwrap();
    assert_eq!(phone.winner("schedule:primary"), Some(winner.clone()));
    let server_doc = block_on(desk.remote.get_doc("schedule:primary")).unwrap().unwrap();
    assert_eq!(server_doc["_rev"], winner.to_string(), "CouchDB's rule and ours pick the same winner");
    assert_eq!(server_doc["_conflicts"].as_array().map(Vec::len), Some(1));
    assert_eq!(desk.local.docs.borrow().conflicts("schedule:primary").len(), 1);
    assert_eq!(desk.get("schedule:primary"), phone.get("schedule:primary"));

    // "Keep theirs" on the phone: the loser's body wins and the conflict is gone everywhere.
    let (loser, loser_body) = phone.local.docs.borrow().conflicts("schedule:primary")[0].clone();
    phone.local.docs.borrow_mut().resolve("schedule:primary", &loser).unwrap();
    phone.sync().unwrap();
    desk.sync().unwrap();
    assert_eq!(desk.get("schedule:primary").unwrap(), loser_body);
    assert!(desk.local.docs.borrow().conflicts("schedule:primary").is_empty());
    let server_doc = block_on(desk.remote.get_doc("schedule:primary")).unwrap().unwrap();
    assert!(server_doc.get("_conflicts").is_none(), "{server_doc}");
}

#[test]
fn checkpoints_on_both_sides_mean_a_second_run_reads_nothing() {
    let server = start_server();
    let db = server.create_db("team");
    let desk = Device::new("desk", &db);
    for i in 0..250 {
        desk.put(&format!("timeline:inc-1:{i:04}"), json!({"at": i, "text": "paged"}));
    }
    desk.sync().unwrap();
    let first: Vec<String> = desk.remote.transport.asked.borrow_mut().drain(..).collect();
    assert!(first.iter().filter(|r| r.contains("_bulk_docs")).count() >= 3, "batches of 100: {first:?}");
    let pushed = block_on(replicate(&desk.local, &desk.remote, &desk.options("push"))).unwrap();
    assert_eq!(pushed.changes_read, 0, "the push resumed from its checkpoint");
    let pulled = block_on(replicate(&desk.remote, &desk.local, &desk.options("pull"))).unwrap();
    assert_eq!((pulled.changes_read, pulled.docs_written), (0, 0), "the pull resumed from its checkpoint");
    let checkpoint = block_on(desk.remote.get_local("piket-desk-push")).unwrap().unwrap();
    assert_eq!(checkpoint["source_last_seq"], json!(250));

    // A checkpoint lost on the server: the push starts over, and writes nothing twice.
    let url = desk.remote.doc_url("_local/piket-desk-push");
    let rev = checkpoint["_rev"].as_str().unwrap().to_string();
    assert_eq!(http(&format!("{url}?rev={rev}"), "DELETE", None, 5_000).unwrap().status, 200);
    let again = block_on(replicate(&desk.local, &desk.remote, &desk.options("push"))).unwrap();
    assert_eq!((again.changes_read, again.missing_found, again.docs_written), (250, 0, 0));
}

#[test]
fn offline_devices_keep_working_and_converge_afterwards() {
    let server = start_server();
    let db = server.create_db("team");
    let (desk, phone) = (Device::new("desk", &db), Device::new("phone", &db));
    desk.put("team:ops", json!({"members": ["ada"]}));
    desk.sync().unwrap();
    phone.sync().unwrap();
    desk.remote.transport.offline.set(true);
    phone.remote.transport.offline.set(true);
    for i in 0..20 {
        desk.put(&format!("timeline:inc-7:desk-{i}"), json!({"n": i}));
        phone.put(&format!("command:phone-{i}"), json!({"ack": "inc-7"}));
    }
    desk.put("team:ops", json!({"members": ["ada", "bob"]}));
    assert!(matches!(desk.sync(), Err(SyncError::Network(_))));
    assert!(matches!(phone.sync(), Err(SyncError::Network(_))));
    assert_eq!(desk.get("timeline:inc-7:desk-19").unwrap()["n"], 19, "local work goes on");
    desk.remote.transport.offline.set(false);
    phone.remote.transport.offline.set(false);
    desk.sync().unwrap();
    phone.sync().unwrap();
    desk.sync().unwrap();
    let ids = |d: &Device| d.local.docs.borrow().ids().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(ids(&desk), ids(&phone));
    assert_eq!(ids(&desk).len(), 41);
    assert_eq!(phone.get("team:ops").unwrap()["members"], json!(["ada", "bob"]));
}

/// The first full sync of a large database: every document arrives, with its history, and the
/// figure is printed (documents per second, pushing from one device and pulling on another).
#[test]
fn a_first_full_sync_of_ten_thousand_documents_arrives_whole() {
    let server = start_server();
    let db = server.create_db("team");
    let (desk, phone) = (Device::new("desk", &db), Device::new("phone", &db));
    const N: usize = 10_000;
    for i in 0..N {
        desk.put(
            &format!("config:incidents:{i:05}"),
            json!({"kind": "incident", "value": {"title": format!("disk full on db-{i}"), "severity": "sev2", "status": "resolved"}}),
        );
    }
    let started = Instant::now();
    let pushed = block_on(replicate(&desk.local, &desk.remote, &desk.options("push"))).unwrap();
    let push_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let pulled = block_on(replicate(&phone.remote, &phone.local, &phone.options("pull"))).unwrap();
    let pull_secs = started.elapsed().as_secs_f64();
    assert_eq!((pushed.docs_written, pulled.docs_written), (N, N));
    assert_eq!(phone.local.docs.borrow().ids().count(), N);
    assert_eq!(phone.get("config:incidents:04321").unwrap()["value"]["title"], "disk full on db-4321");
    println!(
        "team sync: first full sync of {N} documents through pouchdb-server: push {:.0} docs/s ({push_secs:.1} s), pull {:.0} docs/s ({pull_secs:.1} s)",
        N as f64 / push_secs,
        N as f64 / pull_secs
    );
}

#[test]
fn a_server_without_bulk_get_is_read_through_open_revs() {
    let server = start_server();
    let db = server.create_db("team");
    let desk = Device::new("desk", &db);
    desk.put("person:ada", json!({"name": "Ada"}));
    desk.put("person:ada", json!({"name": "Ada L."}));
    desk.sync().unwrap();
    let old = Device::with("old", &db, Socket { no_bulk_get: true, ..Socket::default() });
    assert_eq!(old.sync().unwrap(), (0, 1));
    assert_eq!(old.get("person:ada").unwrap()["name"], "Ada L.");
    assert_eq!(old.local.docs.borrow().tree("person:ada").unwrap().len(), 2, "the history came too");
    let asked = old.remote.transport.asked.borrow();
    assert!(asked.iter().any(|r| r.contains("open_revs=")), "{asked:?}");
}

#[test]
fn a_longpoll_answers_a_change_and_gives_up_when_none_comes() {
    let server = start_server();
    let db = server.create_db("team");
    let desk = Device::new("desk", &db);
    desk.put("incident:1", json!({"status": "triggered"}));
    desk.sync().unwrap();
    let since = block_on(desk.remote.changes(&json!(0), 100, None)).unwrap().last_seq;
    // Nothing comes: the feed ends (the server's timeout, or ours a little after it).
    let started = Instant::now();
    let empty = block_on(desk.remote.changes(&since, 100, Some(1_000))).unwrap();
    assert!(empty.results.is_empty());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // A change made while the poll waits ends it at once with that change.
    let writer_url = db.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        http(&format!("{writer_url}/command:phone-1"), "PUT", Some(r#"{"ack":"1"}"#), 5_000).unwrap().status
    });
    let started = Instant::now();
    let got = block_on(desk.remote.changes(&since, 100, Some(20_000))).unwrap();
    assert_eq!(writer.join().unwrap(), 201);
    assert_eq!(got.results.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["command:phone-1"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn errors_name_what_went_wrong() {
    let server = start_server();
    let missing = Device::new("desk", &format!("{}/nosuchdb", server.url()));
    missing.put("person:ada", json!({"name": "Ada"}));
    match missing.sync() {
        Err(SyncError::Http { status: 404, .. }) => {}
        other => panic!("a missing database should be a 404, got {other:?}"),
    }
    let nobody = Device::new("desk", "http://127.0.0.1:1/team");
    assert!(matches!(nobody.sync(), Err(SyncError::Network(_))));
    // Garbage from something that is not CouchDB is an error, not a crash or an empty sync.
    let garbage = Device::new("desk", &format!("{}/_utils", server.url()));
    garbage.put("person:ada", json!({"name": "Ada"}));
    assert!(garbage.sync().is_err());
}

// ---------------------------------------------------------------------------------------------
// Two Piket devices (drivers over their own stores) sharing configuration

mod config {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use piket::engine::format::parse_world;
    use piket::engine::person::Person;
    use piket::runtime::driver::Driver;
    use piket::runtime::team_sync::{self, conflicts, keep_version, load_state, round};
    use piket::storage::{MemoryStore, Store};

    const WORLD: &str = r##"{
      "people": [
        {"id": "alice", "name": "Alice", "time_zone": "Europe/Amsterdam", "contact": {"ntfy_topic": "piket-alice"}},
        {"id": "bob", "name": "Bob", "time_zone": "Europe/Amsterdam"}
      ],
      "policies": [{"id": "quick", "name": "Quick", "levels": [
          {"targets": [{"person": "alice"}], "ack_timeout": "30s"},
          {"targets": [{"person": "bob"}]}
      ]}],
      "default_policy": "quick"
    }"##;

    fn t(n: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap() + chrono::Duration::seconds(n)
    }

    struct Piket {
        id: &'static str,
        driver: Option<Driver<MemoryStore>>,
        remote: HttpDb<Socket>,
    }

    impl Piket {
        fn new(id: &'static str, db: &str) -> Piket {
            Piket { id, driver: Some(block_on(Driver::load(MemoryStore::new())).unwrap()), remote: HttpDb::new(Socket::default(), db) }
        }
        fn d(&mut self) -> &mut Driver<MemoryStore> {
            self.driver.as_mut().unwrap()
        }
        fn sync(&mut self, at: i64) -> team_sync::Round {
            let (d, r) = block_on(round(self.driver.take().unwrap(), &self.remote, self.id, t(at)));
            self.driver = Some(d);
            r.unwrap_or_else(|e| panic!("{}: {e}", self.id))
        }
        fn person(&mut self, id: &str) -> Option<Person> {
            self.d().world().people.iter().find(|p| p.id.as_ref() as &str == id).cloned()
        }
    }

    #[test]
    fn a_teams_configuration_reaches_every_device_in_dependency_order() {
        let server = start_server();
        let db = server.create_db("team");
        let mut desk = Piket::new("desk", &db);
        let world = parse_world(WORLD).unwrap();
        for p in world.people {
            block_on(desk.d().save(p, t(0))).unwrap();
        }
        block_on(desk.d().save(world.policies[0].clone(), t(0))).unwrap();
        block_on(desk.d().set_default_policy(Some("quick".into()), t(0))).unwrap();
        let r = desk.sync(1);
        assert_eq!((r.local_edits, r.pushed), (4, 4));

        let mut phone = Piket::new("phone", &db);
        let r = phone.sync(2);
        assert_eq!((r.pulled, r.applied, r.waiting), (4, 4, 0), "{r:?}");
        assert_eq!(phone.d().world(), desk.d().world());
        // Nothing changed: a second round on either side writes nothing, here or on the server.
        phone.sync(3);
        desk.sync(3);
        let journal = |p: &mut Piket| block_on(p.d().store().journal()).unwrap().len();
        let (pj, dj) = (journal(&mut phone), journal(&mut desk));
        let server_seq = block_on(desk.remote.changes(&json!(0), 1000, None)).unwrap().last_seq;
        assert_eq!(phone.sync(4).local_edits, 0);
        assert_eq!(desk.sync(4).local_edits, 0);
        assert_eq!((journal(&mut phone), journal(&mut desk)), (pj, dj), "a quiet round stores nothing");
        assert_eq!(block_on(desk.remote.changes(&json!(0), 1000, None)).unwrap().last_seq, server_seq, "nor sends anything");

        // The phone renames Bob and removes the default policy; the desk follows.
        let mut bob = phone.person("bob").unwrap();
        bob.name = "Bobby".into();
        block_on(phone.d().save(bob, t(5))).unwrap();
        block_on(phone.d().set_default_policy(None, t(5))).unwrap();
        assert_eq!(phone.sync(6).local_edits, 2);
        let r = desk.sync(7);
        assert_eq!(r.applied, 2, "{r:?}");
        assert_eq!(desk.person("bob").unwrap().name, "Bobby");
        assert_eq!(desk.d().world().default_policy, None);
        // And the desk's store holds it: a reload sees the same.
        let reloaded = block_on(Driver::load(desk.driver.take().unwrap().into_store())).unwrap();
        assert_eq!(reloaded.world().people.iter().find(|p| p.id.as_ref() as &str == "bob").unwrap().name, "Bobby");
    }

    #[test]
    fn the_same_record_edited_on_two_devices_is_a_conflict_both_settle_alike() {
        let server = start_server();
        let db = server.create_db("team");
        let mut desk = Piket::new("desk", &db);
        let world = parse_world(WORLD).unwrap();
        block_on(desk.d().save(world.people[0].clone(), t(0))).unwrap();
        desk.sync(1);
        let mut phone = Piket::new("phone", &db);
        phone.sync(2);
        let mut a = desk.person("alice").unwrap();
        a.notes = "desk says: call first".into();
        block_on(desk.d().save(a, t(3))).unwrap();
        let mut b = phone.person("alice").unwrap();
        b.notes = "phone says: text first".into();
        block_on(phone.d().save(b, t(3))).unwrap();
        desk.sync(4);
        phone.sync(5);
        desk.sync(6);
        let (na, nb) = (desk.person("alice").unwrap().notes, phone.person("alice").unwrap().notes);
        assert_eq!(na, nb, "both devices apply the same winner");
        let desk_state = block_on(load_state(desk.d()));
        let phone_state = block_on(load_state(phone.d()));
        let (dc, pc) = (conflicts(&desk_state), conflicts(&phone_state));
        assert_eq!(dc.len(), 1);
        assert_eq!(pc.len(), 1);
        assert_eq!(dc[0].winner, pc[0].winner);
        // Exactly one device wrote the winner: there it is "mine", on the other "theirs".
        assert_ne!(dc[0].winner_is_mine, pc[0].winner_is_mine);
        assert_ne!(dc[0].losers[0].2, pc[0].losers[0].2);

        // The device whose version lost keeps it ("keep mine"): everyone gets it, no conflict left.
        let (loser_side, other) = if dc[0].winner_is_mine { (&mut phone, &mut desk) } else { (&mut desk, &mut phone) };
        let state = block_on(load_state(loser_side.d()));
        let conflict = &conflicts(&state)[0];
        let wanted = conflict.losers[0].1["value"]["notes"].as_str().unwrap().to_string();
        block_on(keep_version(loser_side.d(), &conflict.doc, &conflict.losers[0].0, t(7))).unwrap();
        loser_side.sync(8);
        other.sync(9);
        assert_eq!(loser_side.person("alice").unwrap().notes, wanted);
        assert_eq!(other.person("alice").unwrap().notes, wanted);
        assert!(conflicts(&block_on(load_state(other.d()))).is_empty());
        assert!(conflicts(&block_on(load_state(loser_side.d()))).is_empty());
    }

    #[test]
    fn a_backup_keeps_the_sync_password_out_and_never_carries_the_sync_state() {
        let server = start_server();
        let db = server.create_db("team");
        let mut desk = Piket::new("desk", &db);
        let settings = team_sync::SyncSettings {
            enabled: true,
            server: server.url(),
            database: "team".into(),
            auth: team_sync::SyncAuth::Basic,
            username: "ops".into(),
            password: "hunter2-secret".into(),
            device: "Desk".into(),
        };
        block_on(desk.d().set_team_sync(settings, t(0))).unwrap();
        block_on(desk.d().save(parse_world(WORLD).unwrap().people[0].clone(), t(0))).unwrap();
        desk.sync(1);
        let without = block_on(desk.d().export(t(2), false)).unwrap();
        assert!(!without.contains("hunter2-secret"), "the password is a secret");
        assert!(without.contains("\"username\": \"ops\""), "the rest of the settings is kept");
        assert!(!without.contains("team-sync-state"), "the sync state is this device's own");
        let with = block_on(desk.d().export(t(2), true)).unwrap();
        assert!(with.contains("hunter2-secret") && !with.contains("team-sync-state"));
    }

    #[test]
    fn a_hostile_database_changes_nothing_it_should_not() {
        let server = start_server();
        let db = server.create_db("team");
        let put = |id: &str, body: Value| assert_eq!(http(&format!("{db}/{id}"), "PUT", Some(&body.to_string()), 5_000).unwrap().status, 201, "{id}");
        put("_design/evil", json!({"views": {}}));
        put("junk:1", json!({"anything": true}));
        // A person whose name is markup: kept as text (the screens never render it as HTML).
        put("config:people:x", json!({"kind": "person", "value": {"id": "x", "name": "<img src=x onerror=alert(1)>", "time_zone": "UTC"}}));
        // Configuration this version cannot read, and one whose id and body disagree on the kind.
        put("config:people:y", json!({"kind": "person", "value": {"id": "y", "name": "Y", "time_zone": "UTC", "shoe_size": 44}}));
        put("config:policies:z", json!({"kind": "rocket", "value": {}}));
        // A document whose body is another record than its id names: it would overwrite Bob.
        put("config:people:w", json!({"kind": "person", "value": {"id": "bob", "name": "Not Bob", "time_zone": "UTC"}}));
        put("config:teams:v", json!({"kind": "person", "value": {"id": "v", "name": "V", "time_zone": "UTC"}}));
        let mut phone = Piket::new("phone", &db);
        let r = phone.sync(1);
        assert_eq!((r.applied, r.waiting), (1, 4), "{r:?}");
        assert!(phone.person("bob").is_none() && phone.person("v").is_none());
        assert!(block_on(load_state(phone.d())).waiting["config:people:w"].contains("not the record its id names"));
        assert_eq!(phone.person("x").unwrap().name, "<img src=x onerror=alert(1)>");
        assert!(phone.person("y").is_none());
        let state = block_on(load_state(phone.d()));
        assert!(state.docs.ids().all(|id| id.starts_with("config:")), "only Piket's documents are kept: {:?}", state.docs.ids().collect::<Vec<_>>());
        assert!(state.waiting["config:people:y"].contains("cannot read"), "{:?}", state.waiting);
        // Nothing of it is pushed back or deleted on the server.
        phone.sync(2);
        assert!(block_on(phone.remote.get_doc("config:people:y")).unwrap().is_some());
        assert!(block_on(phone.remote.get_doc("junk:1")).unwrap().is_some());
    }

    #[test]
    fn the_order_rules_run_in_reaches_every_device() {
        let server = start_server();
        let db = server.create_db("team");
        let mut desk = Piket::new("desk", &db);
        for (id, why) in [("flapping", "known flapping check"), ("noise", "noisy probe")] {
            let rule: piket::engine::rules::Rule = serde_json::from_value(json!({"id": id, "then": [{"suppress": why}]})).unwrap();
            block_on(desk.d().save(rule, t(0))).unwrap();
        }
        block_on(desk.d().move_rule("noise", true, t(1))).unwrap();
        desk.sync(2);
        let mut phone = Piket::new("phone", &db);
        phone.sync(3);
        let order = |p: &mut Piket| p.d().world().rules.iter().map(|r| r.id.to_string()).collect::<Vec<_>>();
        assert_eq!(order(&mut phone), ["noise", "flapping"]);
        // Moved back on the phone: the desk follows, and a reload keeps it.
        block_on(phone.d().move_rule("flapping", true, t(4))).unwrap();
        assert_eq!(phone.sync(5).local_edits, 1);
        desk.sync(6);
        assert_eq!(order(&mut desk), ["flapping", "noise"]);
        let reloaded = block_on(Driver::load(desk.driver.take().unwrap().into_store())).unwrap();
        assert_eq!(reloaded.world().rules.iter().map(|r| r.id.to_string()).collect::<Vec<_>>(), ["flapping", "noise"]);
        assert_eq!(team_sync::label("config:settings:rule-order", None), "Rule order");
    }

    #[test]
    fn a_record_that_cannot_apply_yet_waits_and_is_not_pushed_back_deleted() {
        let server = start_server();
        let db = server.create_db("team");
        // Written straight to the server: a policy naming a person nobody has.
        let policy = json!({"kind": "policy", "value": {"id": "night", "name": "Night", "levels": [{"targets": [{"person": "zed"}]}]}});
        assert_eq!(http(&format!("{db}/config:policies:night"), "PUT", Some(&policy.to_string()), 5_000).unwrap().status, 201);
        let mut phone = Piket::new("phone", &db);
        let r = phone.sync(1);
        assert_eq!((r.applied, r.waiting), (0, 1), "{r:?}");
        let state = block_on(load_state(phone.d()));
        assert!(state.waiting["config:policies:night"].to_lowercase().contains("zed"), "{:?}", state.waiting);
        // Next rounds keep it waiting, and do not delete it on the server.
        phone.sync(2);
        assert!(block_on(phone.remote.get_doc("config:policies:night")).unwrap().is_some());
        // Once Zed arrives, the policy applies.
        let zed = json!({"kind": "person", "value": {"id": "zed", "name": "Zed", "time_zone": "UTC"}});
        assert_eq!(http(&format!("{db}/config:people:zed"), "PUT", Some(&zed.to_string()), 5_000).unwrap().status, 201);
        let r = phone.sync(3);
        assert_eq!((r.applied, r.waiting), (2, 0), "{r:?}");
        assert!(phone.d().world().policies.iter().any(|p| p.id.as_ref() as &str == "night"));
    }
}

mod connection {
    use super::*;
    use piket::runtime::team_sync::{check, create_database, ConnectionProblem, SyncAuth, SyncSettings};

    fn settings(server: &str, database: &str) -> SyncSettings {
        SyncSettings { enabled: true, server: server.into(), database: database.into(), auth: SyncAuth::None, device: "Desk".into(), ..SyncSettings::default() }
    }

    fn remote(s: &SyncSettings) -> HttpDb<Socket> {
        HttpDb::new(Socket { authorization: piket::runtime::team_sync::authorization(s), ..Socket::default() }, &s.database_url())
    }

    #[test]
    fn test_connection_says_what_is_wrong_and_creates_a_missing_database() {
        let server = start_server();
        let origin = "http://127.0.0.1:8080";
        let s = settings(&server.url(), "piket");
        match block_on(check(&s, &remote(&s), origin)) {
            Err(ConnectionProblem::MissingDatabase { database }) => assert_eq!(database, "piket"),
            other => panic!("{other:?}"),
        }
        assert_eq!(block_on(create_database(&s, &remote(&s))).unwrap(), "The database piket is ready.");
        assert!(block_on(create_database(&s, &remote(&s))).is_ok(), "creating it again is fine");
        let ok = block_on(check(&s, &remote(&s), origin)).unwrap();
        assert!(ok.contains("holds 0 documents"), "{ok}");

        let down = settings("http://127.0.0.1:1", "piket");
        let problem = block_on(check(&down, &remote(&down), origin)).unwrap_err();
        assert!(matches!(problem, ConnectionProblem::Unreachable { .. }));
        let words = problem.to_string();
        assert!(words.contains("enable_cors") && words.contains(origin), "{words}");

        // Nothing typed yet: said before anything is asked of the network.
        let empty = settings("", "piket");
        match block_on(check(&empty, &remote(&empty), origin)) {
            Err(ConnectionProblem::Other(m)) => assert!(m.contains("server's address"), "{m}"),
            other => panic!("{other:?}"),
        }
        // Something that is not CouchDB: pouchdb-server's own Fauxton page stands in for it.
        let not_couch = settings(&format!("{}/_utils", server.url()), "piket");
        assert!(matches!(block_on(check(&not_couch, &remote(&not_couch), origin)), Err(ConnectionProblem::NotCouchDb { .. })), "a web page is not CouchDB");
    }

    #[test]
    fn sign_in_is_refused_with_a_wrong_password_and_accepted_with_the_right_one() {
        let server = start_server();
        let user = json!({"name": "ops", "password": "s3cret", "roles": ["piket"], "type": "user"});
        let r = http(&format!("{}/_users/org.couchdb.user:ops", server.url()), "PUT", Some(&user.to_string()), 5_000).unwrap();
        assert!(r.status == 201 || r.status == 202, "{}", r.body);
        server.create_db("piket");
        let mut s = SyncSettings { auth: SyncAuth::Cookie, username: "ops".into(), password: "wrong".into(), ..settings(&server.url(), "piket") };
        assert_eq!(block_on(check(&s, &remote(&s), "http://127.0.0.1:8080")), Err(ConnectionProblem::Unauthorized));
        s.password = "s3cret".into();
        let ok = block_on(check(&s, &remote(&s), "http://127.0.0.1:8080")).unwrap();
        assert!(ok.starts_with("Connected"), "{ok}");
        // Basic sign-in: the header Piket sends is refused with the wrong password, taken with the right one.
        let mut b = SyncSettings { auth: SyncAuth::Basic, password: "wrong".into(), ..s.clone() };
        assert_eq!(block_on(check(&b, &remote(&b), "http://127.0.0.1:8080")), Err(ConnectionProblem::Unauthorized));
        b.password = "s3cret".into();
        assert!(block_on(check(&b, &remote(&b), "http://127.0.0.1:8080")).unwrap().starts_with("Connected"));
    }
}

// ---------------------------------------------------------------------------------------------
// The team clock's lease

mod lease {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use piket::sync::lease::{hold, parse, Standing, LEASE_DOC, LEASE_MS};

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap() + Duration::milliseconds(ms)
    }

    fn lease_doc(db: &str) -> Value {
        let r = http(&format!("{db}/{}?conflicts=true", piket::sync::encode(LEASE_DOC)), "GET", None, 5_000).unwrap();
        serde_json::from_str(&r.body).unwrap()
    }

    #[test]
    fn two_desks_racing_get_one_clock_and_the_other_takes_over_only_after_it_expires() {
        let server = start_server();
        let db = server.create_db("team");
        let (desk, other) = (HttpDb::new(Socket::default(), &db), HttpDb::new(Socket::default(), &db));
        // Nobody has held it: the first to ask takes it; the second, a moment later, is told who.
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", t(0))).unwrap(), Standing::Mine);
        assert_eq!(block_on(hold(&other, "other-id", "Other desk", t(10))).unwrap(), Standing::Other { device: "Desk".into() });
        // Renewing is a write only when a third of the lease is left: a quiet round asks, writes nothing.
        let rev = lease_doc(&db)["_rev"].as_str().unwrap().to_string();
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", t(1_000))).unwrap(), Standing::Mine);
        assert_eq!(lease_doc(&db)["_rev"], rev.as_str());
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", t(LEASE_MS - 9_000))).unwrap(), Standing::Mine);
        assert_ne!(lease_doc(&db)["_rev"], rev.as_str(), "renewed");
        // The desk closes. Until its lease runs out the other device waits; then it takes over.
        let expires = t(LEASE_MS - 9_000 + LEASE_MS);
        assert_eq!(block_on(hold(&other, "other-id", "Other desk", expires - Duration::milliseconds(1))).unwrap(), Standing::Other { device: "Desk".into() });
        assert_eq!(block_on(hold(&other, "other-id", "Other desk", expires)).unwrap(), Standing::Mine);
        // The desk comes back while the other holds it: it does not take it back.
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", expires + Duration::milliseconds(100))).unwrap(), Standing::Other { device: "Other desk".into() });
        assert_eq!(lease_doc(&db)["holder"], "other-id");
    }

    #[test]
    fn a_stale_rev_is_refused_with_409_and_the_writer_learns_who_holds_it() {
        let server = start_server();
        let db = server.create_db("team");
        let desk = HttpDb::new(Socket::default(), &db);
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", t(0))).unwrap(), Standing::Mine);
        let stale = lease_doc(&db)["_rev"].as_str().unwrap().to_string();
        // Both read the expired lease; the desk writes first, the other then PUTs on the old _rev.
        assert_eq!(block_on(hold(&desk, "desk-id", "Desk", t(LEASE_MS + 1))).unwrap(), Standing::Mine);
        let late = json!({"holder": "other-id", "device": "Other desk", "expires": t(2 * LEASE_MS), "_rev": stale});
        let r = http(&format!("{db}/{}", piket::sync::encode(LEASE_DOC)), "PUT", Some(&late.to_string()), 5_000).unwrap();
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(lease_doc(&db)["holder"], "desk-id");
    }

    #[test]
    fn when_two_writes_both_win_on_a_cluster_the_winning_revision_keeps_the_clock_alone() {
        let server = start_server();
        let db = server.create_db("team");
        let (a, b) = (HttpDb::new(Socket::default(), &db), HttpDb::new(Socket::default(), &db));
        // What a cluster with w=2 can leave: two children of the same lease revision.
        let base = parse(&json!({"_rev": "1-aaaa", "holder": "gone", "device": "Old desk", "expires": t(0)})).unwrap();
        let bulk = json!({"new_edits": false, "docs": [
            {"_id": LEASE_DOC, "_rev": base.rev.to_string(), "holder": "gone", "device": "Old desk", "expires": t(0)},
            {"_id": LEASE_DOC, "_rev": "2-1111", "_revisions": {"start": 2, "ids": ["1111", "aaaa"]}, "holder": "a-id", "device": "Desk A", "expires": t(LEASE_MS)},
            {"_id": LEASE_DOC, "_rev": "2-9999", "_revisions": {"start": 2, "ids": ["9999", "aaaa"]}, "holder": "b-id", "device": "Desk B", "expires": t(LEASE_MS)}
        ]});
        let r = http(&format!("{db}/_bulk_docs"), "POST", Some(&bulk.to_string()), 5_000).unwrap();
        assert!(r.status < 300, "{}", r.body);
        assert_eq!(lease_doc(&db)["_conflicts"], json!(["2-1111"]));
        // Each reads it back: the higher hash wins, as CouchDB picks it, and only its holder runs.
        let seen_by_a = block_on(hold(&a, "a-id", "Desk A", t(100))).unwrap();
        let seen_by_b = block_on(hold(&b, "b-id", "Desk B", t(100))).unwrap();
        assert_eq!(seen_by_a, Standing::Other { device: "Desk B".into() });
        assert_eq!(seen_by_b, Standing::Mine);
        // The winner closed the losing branch: the next reader sees one lease, no conflict.
        let doc = lease_doc(&db);
        assert_eq!(doc["holder"], "b-id");
        assert!(doc.get("_conflicts").is_none(), "{doc}");
        assert_eq!(block_on(hold(&a, "a-id", "Desk A", t(200))).unwrap(), Standing::Other { device: "Desk B".into() });
    }
}

mod team_clock {
    //! The team's incidents: one clock publishes them, the others take them in and send their
    //! actions as commands, and a page is sent once across devices and takeovers.
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
    use piket::engine::escalation::Input;
    use piket::engine::format::parse_world;
    use piket::engine::incident::{Actor, Status as IncidentStatus};
    use piket::runtime::driver::Driver;
    use piket::runtime::team_clock::{claim_sends, command_doc, read_answer, Claim, TeamRole};
    use piket::runtime::team_sync::{round, Round, SyncSettings};
    use piket::storage::MemoryStore;
    use piket::sync::lease::LEASE_MS;

    const WORLD: &str = r##"{
      "people": [
        {"id": "alice", "name": "Alice", "time_zone": "UTC", "contact": {"ntfy_topic": "piket-alice"}},
        {"id": "bob", "name": "Bob", "time_zone": "UTC", "contact": {"ntfy_topic": "piket-bob"}}
      ],
      "policies": [{"id": "quick", "name": "Quick", "levels": [
          {"targets": [{"person": "alice"}], "ack_timeout": "30s"},
          {"targets": [{"person": "bob"}]}
      ]}],
      "default_policy": "quick"
    }"##;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 3, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    struct Piket {
        id: &'static str,
        driver: Option<Driver<MemoryStore>>,
        remote: HttpDb<Socket>,
        /// Every route this device sent: (key, route).
        sent: Vec<(String, usize)>,
    }

    /// The pages (keys) among sent routes, each once.
    fn pages(sent: &[(String, usize)]) -> Vec<String> {
        let mut keys: Vec<String> = sent.iter().map(|(k, _)| k.clone()).collect();
        keys.dedup();
        keys
    }

    impl Piket {
        fn new(id: &'static str, name: &str, db: &str) -> Piket {
            let mut driver = block_on(Driver::load(MemoryStore::new())).unwrap();
            let settings =
                SyncSettings { enabled: true, server: "http://127.0.0.1:5984".into(), database: "team".into(), device: name.into(), ..SyncSettings::default() };
            block_on(driver.set_team_sync(settings, t(0))).unwrap();
            Piket { id, driver: Some(driver), remote: HttpDb::new(Socket::default(), db), sent: Vec::new() }
        }
        fn d(&mut self) -> &mut Driver<MemoryStore> {
            self.driver.as_mut().unwrap()
        }
        fn sync(&mut self, at: i64) -> Round {
            let (d, r) = block_on(round(self.driver.take().unwrap(), &self.remote, self.id, t(at)));
            self.driver = Some(d);
            r.unwrap_or_else(|e| panic!("{}: {e}", self.id))
        }
        /// What the app's clock does when it wakes: fire what is due, then claim and send.
        fn run_clock(&mut self, at: i64) {
            if !self.d().team_role().runs_clock() {
                return;
            }
            block_on(self.d().tick(t(at))).unwrap();
            let sends = self.d().due_sends("https://piket.example", t(at));
            let routes: Vec<(String, usize)> = sends.iter().map(|s| (s.key.clone(), s.route)).collect();
            let claims = block_on(claim_sends(&self.remote, self.id, self.id, &routes, t(at)));
            for (route, claim) in routes.into_iter().zip(claims) {
                let outcome = match claim {
                    Claim::Mine | Claim::Unknown => {
                        self.sent.push(route.clone());
                        piket::runtime::outbox::Outcome::Shown
                    }
                    Claim::Elsewhere(device) => piket::runtime::outbox::Outcome::Elsewhere(device),
                };
                block_on(self.d().record_attempt(&route.0, route.1, &outcome, 5, t(at))).unwrap();
            }
        }
        fn status(&mut self, incident: &str) -> IncidentStatus {
            let id = self.id;
            self.d().engine().incident(incident).unwrap_or_else(|| panic!("{id} has no {incident}")).status
        }
    }

    fn open(id: &str) -> Input {
        let details = json!({"title": "Disk full on db-1", "dedup_key": "db-1/disk"});
        Input::Open { id: id.into(), by: Actor::Automation, details: serde_json::from_value(details).unwrap() }
    }

    /// The desk holds the clock, with the team's configuration; the phone has synced it.
    fn desk_and_phone(db: &str) -> (Piket, Piket) {
        let mut desk = Piket::new("desk-id", "Desk", db);
        let world = parse_world(WORLD).unwrap();
        for p in world.people {
            block_on(desk.d().save(p, t(0))).unwrap();
        }
        block_on(desk.d().save(world.policies[0].clone(), t(0))).unwrap();
        block_on(desk.d().set_default_policy(Some("quick".into()), t(0))).unwrap();
        desk.sync(0);
        let mut phone = Piket::new("phone-id", "Ada's phone", db);
        phone.sync(1);
        assert_eq!((desk.d().team_role(), phone.d().team_role()), (TeamRole::Holder, TeamRole::Follower));
        (desk, phone)
    }

    #[test]
    fn the_clock_publishes_incidents_and_answers_a_phones_acknowledgement() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, mut phone) = desk_and_phone(&db);
        block_on(desk.d().dispatch(t(2), open("i-1"))).unwrap();
        desk.run_clock(2);
        assert_eq!(desk.sync(2).published, 1);
        assert_eq!(phone.sync(3).adopted, 1);
        assert_eq!(phone.d().engine().incident("i-1"), desk.d().engine().incident("i-1"), "the phone shows the incident as the clock runs it");
        assert!(phone.d().outbox().is_empty(), "and queues nothing to send");
        // The phone's deadlines are the clock's, but nothing fires there.
        phone.run_clock(40);
        assert!(phone.sent.is_empty());

        // Ada acknowledges on the phone: a command document, answered by the clock.
        let ack = Input::Acknowledge { incident: "i-1".into(), by: "alice".into() };
        block_on(phone.remote.put_doc("command:c-1", &command_doc(&ack, "phone-id", "Ada's phone", t(4)))).unwrap();
        let r = desk.sync(5);
        assert_eq!((r.answered, r.published), (1, 1), "{r:?}");
        assert_eq!(desk.status("i-1"), IncidentStatus::Acknowledged);
        let answered = block_on(phone.remote.get_doc("command:c-1")).unwrap().unwrap();
        assert!(read_answer(&answered).unwrap().is_ok(), "{answered}");
        phone.sync(6);
        assert_eq!(phone.status("i-1"), IncidentStatus::Acknowledged);
        // Answered once: later rounds apply nothing again.
        assert_eq!(desk.sync(7).answered, 0);
        // A command the clock refuses is answered with why, and changes nothing.
        let bad = Input::Acknowledge { incident: "nope".into(), by: "alice".into() };
        block_on(phone.remote.put_doc("command:c-2", &command_doc(&bad, "phone-id", "Ada's phone", t(8)))).unwrap();
        desk.sync(9);
        let refused = block_on(phone.remote.get_doc("command:c-2")).unwrap().unwrap();
        assert!(read_answer(&refused).unwrap().is_err(), "{refused}");
        // Alice's first page (notification and ntfy), and nothing since the ack.
        assert_eq!(pages(&desk.sent), ["i-1/L1/loop0/person:alice/alice"], "{:?}", desk.sent);
    }

    #[test]
    fn two_desks_racing_give_one_clock_and_every_page_is_sent_once() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, _phone) = desk_and_phone(&db);
        let mut other = Piket::new("other-id", "Other desk", &db);
        other.sync(1);
        // Both desks get the same alert: the clock opens it, the other sends it as a command,
        // and the clock folds it into the open incident by its dedup key.
        block_on(desk.d().dispatch(t(2), open("i-2"))).unwrap();
        assert_eq!(other.d().team_role(), TeamRole::Follower);
        block_on(other.remote.put_doc("command:alert", &command_doc(&open("i-2b"), "other-id", "Other desk", t(2)))).unwrap();
        for s in 2..40 {
            desk.run_clock(s);
            other.run_clock(s);
            if s % 2 == 0 {
                desk.sync(s);
                other.sync(s);
            }
        }
        let mut routes: Vec<(String, usize)> = desk.sent.iter().chain(&other.sent).cloned().collect();
        assert_eq!(pages(&routes), ["i-2/L1/loop0/person:alice/alice", "i-2/L2/loop0/person:bob/bob"], "alice, then bob after 30 s");
        let sent = routes.len();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), sent, "no route sent twice: {routes:?}");
        assert!(other.sent.is_empty(), "the device without the lease sends nothing");
        assert_eq!(other.d().engine().incident("i-2"), desk.d().engine().incident("i-2"));
        assert_eq!(desk.d().engine().incident("i-2").unwrap().alert_count, 2, "the second alert folded in");
        assert!(desk.d().engine().incident("i-2b").is_none());

        // A claim is accepted once: a second device's claim on a sent route is refused.
        let claims = block_on(claim_sends(&other.remote, "other-id", "Other desk", &desk.sent, t(41)));
        assert_eq!(claims, vec![Claim::Elsewhere("desk-id".into()); desk.sent.len()]);
        assert_eq!(block_on(claim_sends(&desk.remote, "desk-id", "desk-id", &desk.sent[..1], t(41))), vec![Claim::Mine], "a retry of its own");
    }

    #[test]
    fn when_the_clock_closes_the_other_device_takes_over_and_catches_up_without_paging_twice() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, mut phone) = desk_and_phone(&db);
        block_on(desk.d().dispatch(t(2), open("i-3"))).unwrap();
        for s in (2..=30).step_by(2) {
            desk.run_clock(s);
            desk.sync(s);
            phone.sync(s + 1);
        }
        // At 32 s the desk escalates to Bob and pages him, then closes before its next round:
        // the team's documents still say "Alice paged".
        desk.run_clock(32);
        assert_eq!(pages(&desk.sent).len(), 2, "alice, then bob");
        // The phone waits for the lease to run out, then runs the clock from what it took in.
        let mut s = 32;
        while phone.d().team_role() != TeamRole::Holder {
            assert!(s < 32 + LEASE_MS / 1000 + 4, "the phone never took over");
            assert!(phone.sent.is_empty(), "no clock of its own while the desk's lease lives ({s} s)");
            phone.run_clock(s);
            s += 1;
            phone.sync(s);
        }
        assert!(s >= 30 + LEASE_MS / 1000, "not before the desk's lease ran out ({s} s)");
        phone.run_clock(s);
        assert!(phone.sent.is_empty(), "Bob's page was claimed by the desk: not sent again: {:?}", phone.sent);
        let bob = phone.d().outbox().values().find(|r| r.key.contains("bob")).expect("the escalation fired on the phone too");
        assert!(format!("{:?}", bob.routes).contains("Desk") || format!("{:?}", bob.routes).contains("desk-id"), "{:?}", bob.routes);
        // And it publishes from now on: the incident document shows the escalation.
        phone.sync(s + 1);
        let doc = block_on(phone.remote.get_doc("incident:i-3")).unwrap().unwrap();
        assert_eq!(doc["value"]["escalation"]["level"], 1, "{doc}");
    }

    #[test]
    fn hostile_incident_and_command_documents_change_nothing_they_should_not() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, mut phone) = desk_and_phone(&db);
        block_on(desk.d().dispatch(t(2), open("i-4"))).unwrap();
        desk.sync(2);
        phone.sync(3);
        let put = |id: &str, body: Value| assert_eq!(http(&format!("{db}/{id}"), "PUT", Some(&body.to_string()), 5_000).unwrap().status, 201, "{id}");
        let mut real = block_on(desk.remote.get_doc("incident:i-4")).unwrap().unwrap();
        let entries = real["timeline"].as_u64().unwrap();
        assert!(entries >= 2, "{real}");
        // An incident under another's id, one that does not read, one that does not hold together.
        let mut other = real.clone();
        other.as_object_mut().unwrap().retain(|k, _| !k.starts_with('_'));
        put("incident:i-5", other.clone());
        put("incident:i-6", json!({"kind": "incident", "timeline": 0, "value": {"id": "i-6", "status": "<script>"}}));
        let mut broken = other.clone();
        broken["value"]["id"] = json!("i-7");
        broken["timeline"] = json!(0);
        broken["value"]["resolved_at"] = json!("2020-01-01T00:00:00Z");
        put("incident:i-7", broken);
        // One that counts entries nobody wrote.
        let mut longer = other.clone();
        longer["value"]["id"] = json!("i-9");
        longer["timeline"] = json!(5);
        put("incident:i-9", longer);
        // A rewritten history of the real one: a shorter timeline, and its first entry changed.
        real["timeline"] = json!(1);
        assert_eq!(http(&format!("{db}/incident:i-4"), "PUT", Some(&real.to_string()), 5_000).unwrap().status, 201);
        let entry_url = format!("{db}/{}", piket::sync::encode("timeline:i-4:000000"));
        let mut first: Value = serde_json::from_str(&http(&entry_url, "GET", None, 5_000).unwrap().body).unwrap();
        first["entry"]["detail"] = json!("nothing happened");
        assert_eq!(http(&entry_url, "PUT", Some(&first.to_string()), 5_000).unwrap().status, 201);
        // A command that is no action at all.
        put("command:junk", json!({"kind": "command", "input": {"type": "rm -rf"}, "at": "2026-12-03T03:00:05Z"}));
        let r = phone.sync(5);
        assert_eq!(r.adopted, 0, "{r:?}");
        let why: Vec<String> = r.refused.iter().map(|(id, why)| format!("{id}: {why}")).collect();
        assert_eq!(why.len(), 5, "{why:#?}");
        assert!(why.iter().any(|w| w.starts_with("incident:i-5") && w.contains("not the one its id names")), "{why:#?}");
        assert!(why.iter().any(|w| w.starts_with("incident:i-6") && w.contains("cannot read")), "{why:#?}");
        assert!(why.iter().any(|w| w.starts_with("incident:i-9") && w.contains("not in the database")), "{why:#?}");
        assert!(why.iter().any(|w| w.starts_with("incident:i-4") && w.contains("audit trail only grows")), "{why:#?}");
        assert_eq!(phone.d().engine().incidents().count(), 1);
        assert_eq!(phone.d().engine().incident("i-4"), desk.d().engine().incident("i-4"), "the phone's copy is kept, its first entry too");
        // The clock answers the junk command with why, and writes its own incident back.
        let r = desk.sync(6);
        assert_eq!(r.answered, 1, "{r:?}");
        assert!(read_answer(&block_on(desk.remote.get_doc("command:junk")).unwrap().unwrap()).unwrap().unwrap_err().contains("cannot read"));
        desk.sync(7);
        let back = block_on(desk.remote.get_doc("incident:i-4")).unwrap().unwrap();
        assert_eq!(back["timeline"], entries, "the clock's own version is written again");
        assert!(["i-5", "i-7", "i-9"].iter().all(|id| desk.d().engine().incident(id).is_none()));
    }

    /// README's `validate_doc_update`, as written there.
    fn readme_validation() -> String {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let start = readme.find("function (newDoc, oldDoc, userCtx, secObj) {").expect("README shows the function");
        let end = start + readme[start..].find("\n```").unwrap();
        readme[start..end].to_string()
    }

    #[test]
    fn the_readmes_validate_doc_update_admits_what_piket_writes_and_refuses_the_rest() {
        let server = start_server();
        let db = server.create_db("team");
        let design = json!({"validate_doc_update": readme_validation()});
        assert_eq!(http(&format!("{db}/_design/piket"), "PUT", Some(&design.to_string()), 5_000).unwrap().status, 201);
        // Everything Piket writes goes through: configuration, the lease, incidents, commands, claims.
        let (mut desk, mut phone) = desk_and_phone(&db);
        block_on(desk.d().dispatch(t(2), open("i-8"))).unwrap();
        desk.run_clock(2);
        assert_eq!(desk.sync(2).published, 1);
        let ack = Input::Acknowledge { incident: "i-8".into(), by: "alice".into() };
        block_on(phone.remote.put_doc("command:c-8", &command_doc(&ack, "phone-id", "Ada's phone", t(3)))).unwrap();
        assert_eq!(desk.sync(4).answered, 1);
        phone.sync(5);
        assert_eq!(phone.status("i-8"), IncidentStatus::Acknowledged);
        assert_eq!(desk.sent.len(), 2, "both routes claimed and sent: {:?}", desk.sent);
        // A claim cannot be rewritten (to send a page again), nor can anything else be stored.
        let claim = block_on(desk.remote.get_doc(&piket::runtime::team_clock::claim_doc_id(&desk.sent[0].0, 0))).unwrap().unwrap();
        let mut stolen = claim.clone();
        stolen["holder"] = json!("thief");
        let id = claim["_id"].as_str().unwrap();
        assert_eq!(http(&format!("{db}/{}", piket::sync::encode(id)), "PUT", Some(&stolen.to_string()), 5_000).unwrap().status, 403);
        assert_eq!(http(&format!("{db}/junk:1"), "PUT", Some(r#"{"anything": true}"#), 5_000).unwrap().status, 403);
        assert_eq!(http(&format!("{db}/incident:x"), "PUT", Some(r#"{"kind": "incident", "value": 3}"#), 5_000).unwrap().status, 403);
        // Nor can a timeline entry be rewritten: the audit trail on the server only grows.
        let entry_url = format!("{db}/{}", piket::sync::encode("timeline:i-8:000000"));
        let mut first: Value = serde_json::from_str(&http(&entry_url, "GET", None, 5_000).unwrap().body).unwrap();
        assert_eq!(first["kind"], "timeline", "{first}");
        first["entry"]["detail"] = json!("nothing happened");
        assert_eq!(http(&entry_url, "PUT", Some(&first.to_string()), 5_000).unwrap().status, 403);
    }

    #[test]
    fn a_first_full_sync_of_ten_thousand_incidents_arrives_whole() {
        const N: usize = 10_000;
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, mut phone) = desk_and_phone(&db);
        // Ten thousand incidents on the desk's clock, each with a page on its timeline.
        block_on(desk.d().dispatch(t(2), open("seed"))).unwrap();
        let seed = desk.d().engine().incident("seed").unwrap().clone();
        let many: Vec<_> = (0..N)
            .map(|i| {
                let mut incident = seed.clone();
                incident.id = format!("i-{i:05}").into();
                incident.details.dedup_key = Some(format!("db-{i}/disk"));
                incident.details.title = format!("Disk full on db-{i}");
                incident
            })
            .collect();
        block_on(desk.d().adopt_incidents(many, t(2))).unwrap();
        let ids: Vec<_> = desk.d().engine().incidents().map(|i| i.id.clone()).collect();
        desk.d().mark_team_dirty(ids);
        let started = Instant::now();
        let r = desk.sync(3);
        let publish_secs = started.elapsed().as_secs_f64();
        assert_eq!(r.published, N + 1, "{:?}", (r.published, r.refused.len()));
        // A few rounds (at most 10 000 changes each), none holding the phone for long.
        let started = Instant::now();
        let (mut adopted, mut rounds, mut longest) = (0, 0, 0.0f64);
        while adopted < N + 1 {
            assert!(rounds < 10, "{adopted} incidents taken in after {rounds} rounds");
            let round_started = Instant::now();
            let r = phone.sync(4 + rounds);
            assert!(r.refused.is_empty(), "{:?}", &r.refused[..3.min(r.refused.len())]);
            longest = longest.max(round_started.elapsed().as_secs_f64());
            adopted += r.adopted;
            rounds += 1;
        }
        let pull_secs = started.elapsed().as_secs_f64();
        assert!(rounds > 1, "the first sync is spread over rounds");
        assert_eq!(phone.d().engine().incident("i-04321").unwrap().details.title, "Disk full on db-4321");
        assert_eq!(phone.d().engine().incidents().count(), N + 1);
        // A further round reads only what is new: nothing.
        assert_eq!(phone.sync(20).adopted, 0);
        // Each incident is its document and one per timeline entry.
        let docs = (N + 1) * (1 + seed.timeline.len());
        println!(
            "team sync: first full sync of {N} incidents ({docs} documents) through pouchdb-server: the clock published {:.0} docs/s ({publish_secs:.1} s), \
             the phone took them in at {:.0} docs/s ({pull_secs:.1} s in {rounds} rounds, the longest {longest:.1} s)",
            docs as f64 / publish_secs,
            docs as f64 / pull_secs
        );
    }

    #[test]
    fn a_device_that_joins_hands_its_open_incidents_to_the_clock() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, _phone) = desk_and_phone(&db);
        // A laptop with the team's configuration runs alone for a while (sync off), opens an
        // incident, then joins the team.
        let mut laptop = Piket::new("laptop-id", "Laptop", &db);
        laptop.sync(1);
        let mut settings = laptop.d().team_sync_settings().clone();
        settings.enabled = false;
        block_on(laptop.d().set_team_sync(settings.clone(), t(1))).unwrap();
        assert_eq!(laptop.d().team_role(), TeamRole::Solo);
        block_on(laptop.d().dispatch(t(2), open("from-laptop"))).unwrap();
        settings.enabled = true;
        block_on(laptop.d().set_team_sync(settings, t(2))).unwrap();
        let r = laptop.sync(3);
        assert_eq!(r.published, 1, "handed over: {r:?}");
        assert_eq!(laptop.sync(4).published, 0, "once");
        assert_eq!(desk.sync(5).adopted, 1);
        // The desk's clock runs it from there: Bob is paged when Alice's 30 s are up.
        desk.run_clock(33);
        assert_eq!(pages(&desk.sent), ["from-laptop/L2/loop0/person:bob/bob"]);
        assert!(laptop.sent.is_empty());
        // The state keeps only hot incidents' revisions: once archived, they are forgotten.
        block_on(desk.d().dispatch(t(40), Input::Resolve { incident: "from-laptop".into(), by: Actor::Automation })).unwrap();
        desk.sync(41);
        assert!(desk.d().team_state().incidents.contains_key("incident:from-laptop"));
        block_on(desk.d().archive(t(41) + chrono::Duration::days(2))).unwrap();
        desk.sync(42);
        assert!(!desk.d().team_state().incidents.contains_key("incident:from-laptop"), "{:?}", desk.d().team_state().incidents.keys().collect::<Vec<_>>());
    }

    #[test]
    fn a_clock_reloaded_while_the_database_is_away_keeps_paging_and_a_phone_does_not_start() {
        let server = start_server();
        let db = server.create_db("team");
        let (mut desk, mut phone) = desk_and_phone(&db);
        block_on(desk.d().dispatch(t(2), open("i-10"))).unwrap();
        desk.run_clock(2);
        desk.sync(2);
        phone.sync(3);
        // The database goes away; both browsers are reloaded (the lease's standing was in memory).
        for p in [&mut desk, &mut phone] {
            p.remote.transport.offline.set(true);
            let store = p.driver.take().unwrap().into_store();
            p.driver = Some(block_on(Driver::load(store)).unwrap());
            assert_eq!(p.d().team_role(), TeamRole::Follower, "unknown until a round");
            let (d, r) = block_on(round(p.driver.take().unwrap(), &p.remote, p.id, t(20)));
            p.driver = Some(d);
            assert!(r.is_err());
        }
        assert_eq!(desk.d().team_role(), TeamRole::Holder, "the desk held the clock: it runs it while the database is away");
        assert_eq!(phone.d().team_role(), TeamRole::Follower, "the phone never did: it does not start one");
        // Bob's turn comes while the database is away: the desk pages him (no claim can be made).
        desk.run_clock(33);
        phone.run_clock(33);
        assert_eq!(pages(&desk.sent), ["i-10/L1/loop0/person:alice/alice", "i-10/L2/loop0/person:bob/bob"]);
        assert!(phone.sent.is_empty());
    }
}
