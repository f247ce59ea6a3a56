//! Acknowledgements from phones, natively: the reply channel's settings, the token a page
//! carries, and the clock applying what comes back through ntfy — at the time ntfy received it,
//! at most once, and never when forged, expired or replayed.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, TimeZone, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::id::PersonId;
use piket::engine::incident::{Actor, EntryKind, IncidentDetails};
use piket::reply::token::read_confirmation;
use piket::reply::{PageToAck, ReplyMessage, Why};
use piket::runtime::command::{execute, Command};
use piket::runtime::driver::Driver;
use piket::runtime::outbox::Send;
use piket::storage::MemoryStore;
use pollster::block_on;
use proptest::prelude::*;
use serde_json::Value;

const ORIGIN: &str = "https://piket.example";

fn world(l1: u32, l2: u32) -> String {
    format!(
        r##"{{
  "people": [
    {{"id": "alice", "name": "Alice", "time_zone": "Europe/Amsterdam", "contact": {{"ntfy_topic": "piket-alice"}}}},
    {{"id": "bob", "name": "Bob", "time_zone": "Europe/Amsterdam", "contact": {{"ntfy_topic": "piket-bob"}}}},
    {{"id": "carol", "name": "Carol", "time_zone": "Europe/Amsterdam"}}
  ],
  "policies": [{{"id": "p", "name": "P", "levels": [
      {{"targets": [{{"person": "alice"}}], "ack_timeout": "{l1}s"}},
      {{"targets": [{{"person": "bob"}}], "ack_timeout": "{l2}s"}},
      {{"targets": [{{"person": "carol"}}]}}
  ]}}],
  "default_policy": "p"
}}"##
    )
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap()
}

fn secs(n: i64) -> DateTime<Utc> {
    t0() + Duration::seconds(n)
}

fn run(d: Driver<MemoryStore>, command: Command) -> (Driver<MemoryStore>, Result<String, String>) {
    let (d, reply) = block_on(execute(d, command, t0()));
    (d, reply.map(|r| r.message).map_err(|r| r.message))
}

/// A driver with the world, and the reply channel turned on.
fn configured(l1: u32, l2: u32) -> Driver<MemoryStore> {
    let w = parse_world(&world(l1, l2)).unwrap();
    let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in w.people {
        block_on(d.save(p, t0())).unwrap();
    }
    for p in w.policies {
        block_on(d.save(p, t0())).unwrap();
    }
    block_on(d.set_default_policy(Some("p".into()), t0())).unwrap();
    let entropy: Vec<u8> = (0..48).map(|i| (i * 7 + 3) as u8).collect();
    let (d, reply) = run(d, Command::SetReplyChannel { enabled: true, server: "https://ntfy.example".into(), new_topic: false, new_key: false, entropy });
    reply.unwrap();
    d
}

fn open(d: &mut Driver<MemoryStore>, id: &str) {
    let input = Input::Open {
        id: id.into(),
        by: Actor::Automation,
        details: IncidentDetails { title: "Disk <b>full</b>".into(), ..serde_json::from_str(r#"{"title": ""}"#).unwrap() },
    };
    block_on(d.dispatch(t0(), input)).unwrap();
}

/// Alice's token for an incident's level-1 page, as the page's ntfy message carries it: the
/// http action's body, and the confirmation key from the "Open" link.
fn alices_ntfy_action(d: &Driver<MemoryStore>) -> (Value, String) {
    for due in d.due_sends(ORIGIN, secs(0)) {
        if let Send::Http(spec) = due.send {
            let body: Value = serde_json::from_str(&spec.body).unwrap();
            if body["topic"] == "piket-alice" {
                let link = body["actions"][1]["url"].as_str().unwrap().to_string();
                let ckey = link.rsplit('.').next().unwrap().to_string();
                return (body["actions"][0].clone(), ckey);
            }
        }
    }
    panic!("no ntfy page to Alice");
}

fn message(id: &str, at: DateTime<Utc>, text: &str) -> ReplyMessage {
    ReplyMessage { id: id.into(), time: at.timestamp(), message: text.into() }
}

fn pages(d: &Driver<MemoryStore>, incident: &str) -> Vec<(DateTime<Utc>, PersonId)> {
    d.engine()
        .incident(incident)
        .unwrap()
        .timeline
        .iter()
        .filter(|e| e.kind == EntryKind::Paged)
        .map(|e| (e.at, e.person.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn the_ntfy_page_carries_a_signed_http_acknowledge_that_the_clock_applies_and_confirms() {
    let mut d = configured(30, 30);
    open(&mut d, "inc-1");
    let (action, ckey) = alices_ntfy_action(&d);
    assert_eq!(action["action"], "http");
    assert_eq!(action["clear"], true);
    let topic = &d.reply_settings().topic;
    assert!(topic.starts_with("piket-") && topic.len() == 6 + 32, "{topic}");
    assert_eq!(action["url"].as_str().unwrap(), format!("https://ntfy.example/{topic}"));

    // The phone posts the body; ntfy stamps it at 00:10.
    let out = block_on(d.receive_reply(&message("m1", secs(10), action["body"].as_str().unwrap()), secs(10))).unwrap();
    assert!(out.step.is_some());
    let incident = d.engine().incident("inc-1").unwrap();
    assert_eq!(incident.acknowledged.as_ref().map(|a| (a.by.as_str(), a.at)), Some(("alice", secs(10))));
    assert!(incident.timeline.iter().any(|e| e.detail.contains("Acknowledged from phone (ntfy)")));
    let confirmation = read_confirmation(out.answer.as_deref().unwrap(), &ckey).expect("signed with the link's key");
    assert!(confirmation.ok && confirmation.why == "acknowledged", "{confirmation:?}");

    block_on(d.tick(secs(600))).unwrap();
    assert_eq!(pages(&d, "inc-1"), [(secs(0), "alice".into())], "level 2 is never paged");
    assert_eq!(d.reply_state().accepted, 1);
}

#[test]
fn an_ack_sent_before_the_deadline_wins_even_when_the_clock_wakes_after_it() {
    let mut d = configured(30, 30);
    open(&mut d, "inc-1");
    let (action, _) = alices_ntfy_action(&d);
    // The tab slept from 00:05 to 02:00; Alice tapped at 00:20; the clock catches up first.
    block_on(d.tick(secs(5))).unwrap();
    block_on(d.receive_reply(&message("m1", secs(20), action["body"].as_str().unwrap()), secs(120))).unwrap();
    block_on(d.tick(secs(120))).unwrap();
    assert_eq!(pages(&d, "inc-1").len(), 1, "{:?}", pages(&d, "inc-1"));
    let note = d.engine().incident("inc-1").unwrap().timeline.iter().find(|e| e.detail.contains("from phone")).unwrap().detail.clone();
    assert!(note.contains("1 min 40 s"), "lateness is said: {note}");
    assert_eq!(d.recorded_at("inc-1").last(), Some(&secs(120)), "recorded when applied");
}

#[test]
fn forged_expired_replayed_and_resolved_tokens_change_nothing_and_are_counted() {
    let mut d = configured(30, 30);
    open(&mut d, "inc-1");
    open(&mut d, "inc-2");
    let (action, ckey) = alices_ntfy_action(&d);
    let token = action["body"].as_str().unwrap().to_string();

    // Forged: the same claims signed with another key.
    let other = piket::reply::ReplySettings { key: piket::reply::TeamKey::from_bytes([9; 32]).to_base64(), ..d.reply_settings().clone() };
    let forged = other.minter("").unwrap().mint(&PageToAck {
        incident: "inc-1",
        page_key: "k",
        person: "alice",
        person_name: "Alice",
        title: "x",
        severity: Default::default(),
        paged_at: t0(),
    });
    let before = d.engine().incident("inc-1").unwrap().clone();
    let out = block_on(d.receive_reply(&message("f", secs(5), &forged.token), secs(5))).unwrap();
    assert_eq!(out.refused, Some(Why::Forged));
    assert!(out.answer.unwrap().starts_with("piket-confirm:"), "an unsigned refusal");
    // Junk and the clock's own answers.
    assert_eq!(block_on(d.receive_reply(&message("j", secs(5), "<script>alert(1)</script>"), secs(5))).unwrap().refused, Some(Why::Malformed));
    assert_eq!(block_on(d.receive_reply(&message("c", secs(5), "piket-confirm:abc.def"), secs(5))).unwrap().refused, None);
    // Expired: received 24 h and a second after the page.
    let late = block_on(d.receive_reply(&message("e", secs(24 * 3600 + 1), &token), secs(5))).unwrap();
    assert_eq!(late.refused, Some(Why::Expired));
    assert_eq!(d.engine().incident("inc-1").unwrap(), &before, "nothing changed");

    // Applied once, then replayed (after a reload, too).
    block_on(d.receive_reply(&message("ok", secs(6), &token), secs(6))).unwrap();
    let mut d = block_on(Driver::load(d.into_store())).unwrap();
    let replay = block_on(d.receive_reply(&message("r", secs(7), &token), secs(7))).unwrap();
    assert_eq!(replay.refused, Some(Why::Used));
    let said = read_confirmation(replay.answer.as_deref().unwrap(), &ckey).unwrap();
    assert_eq!((said.ok, said.why.as_str(), said.at), (false, "used", secs(6).timestamp_millis()));
    // The same message id twice is one message.
    assert_eq!(
        block_on(d.receive_reply(&message("r", secs(7), &token), secs(8))).unwrap(),
        piket::runtime::driver::ReplyOutcome { answer: None, step: None, refused: None }
    );

    // A resolved incident: Alice's token for inc-2 no longer acts.
    let mut d2 = d;
    let token2 = d2.reply_settings().minter("").unwrap().mint(&PageToAck {
        incident: "inc-2",
        page_key: "inc-2/L1",
        person: "alice",
        person_name: "Alice",
        title: "x",
        severity: Default::default(),
        paged_at: t0(),
    });
    block_on(d2.dispatch(secs(8), Input::Resolve { incident: "inc-2".into(), by: Actor::Person("bob".into()) })).unwrap();
    assert_eq!(block_on(d2.receive_reply(&message("z", secs(9), &token2.token), secs(9))).unwrap().refused, Some(Why::Resolved));

    let s = d2.reply_state();
    assert_eq!(s.accepted, 1);
    assert_eq!(s.refused_total(), 5, "{:?}", s.refused);
    assert_eq!(s.refusals.iter().map(|r| r.why).collect::<Vec<_>>(), [Why::Forged, Why::Malformed, Why::Expired, Why::Used, Why::Resolved]);
}

#[test]
fn off_means_no_links_and_no_listening_and_the_key_stays_out_of_backups() {
    let d = configured(30, 30);
    let key = d.reply_settings().key.clone();
    let plain = block_on(d.export(t0(), false)).unwrap();
    assert!(!plain.contains(&key), "the key is a secret");
    let full = block_on(d.export(t0(), true)).unwrap();
    assert!(full.contains(&key), "…included when asked");
    let (mut d, reply) = run(d, Command::SetReplyChannel { enabled: false, server: String::new(), new_topic: false, new_key: false, entropy: vec![] });
    reply.unwrap();
    assert_eq!(d.reply_listen(), None);
    open(&mut d, "inc-1");
    for due in d.due_sends(ORIGIN, secs(0)) {
        if let Send::Http(spec) = due.send {
            assert!(!spec.body.contains("/ack/"), "no acknowledgement link when off: {}", spec.body);
        }
    }
    // Turning it on without randomness is refused and changes nothing.
    let (d, reply) = run(d, Command::SetReplyChannel { enabled: true, server: String::new(), new_topic: true, new_key: false, entropy: vec![] });
    assert!(reply.is_err());
    assert!(!d.reply_settings().enabled);
    let (_, reply) =
        run(d, Command::SetReplyChannel { enabled: true, server: "javascript:alert(1)".into(), new_topic: false, new_key: false, entropy: vec![1; 48] });
    assert!(reply.unwrap_err().starts_with("server"), "a bad server is named");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// An acknowledgement ntfy received at `t` changes nothing before `t` and prevents every page
    /// after `t`, however long the clock slept before catching up.
    #[test]
    fn an_ack_received_at_t_changes_nothing_before_t_and_stops_every_page_after(
        l1 in 5u32..120, l2 in 5u32..120, t in 0i64..300, slept_from in 0i64..300, woke_after in 0i64..600,
    ) {
        let slept_from = slept_from.min(t);
        let woke = t + woke_after;

        let mut without = configured(l1, l2);
        open(&mut without, "inc");
        block_on(without.tick(secs(1000))).unwrap();

        let mut with = configured(l1, l2);
        open(&mut with, "inc");
        block_on(with.tick(secs(slept_from))).unwrap();
        let token = with.reply_settings().minter("").unwrap().mint(&PageToAck { incident: "inc", page_key: "inc/L1", person: "alice", person_name: "Alice", title: "x", severity: Default::default(), paged_at: t0() });
        block_on(with.receive_reply(&message("m", secs(t), &token.token), secs(woke))).unwrap();
        block_on(with.tick(secs(1000))).unwrap();

        let before: Vec<_> = pages(&without, "inc").into_iter().filter(|(at, _)| *at <= secs(t)).collect();
        prop_assert_eq!(pages(&with, "inc"), before);
    }
}
