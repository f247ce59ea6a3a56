//! The team's incidents over team sync (`team_sync` shares the configuration).
//!
//! One device runs the escalation clock: the one holding the lease ([`crate::sync::lease`]).
//! - It publishes every incident it runs as the document `incident:<id>` (the incident without
//!   its timeline, and how many entries the timeline has), and each timeline entry as an
//!   immutable document `timeline:<id>:<seq>`, created once and never changed (the audit trail
//!   on the server is append-only too). Only the clock's device writes these, so they do not
//!   conflict; the entries are written before the incident document that counts them.
//! - Every other device takes those documents in ([`Driver::adopt_incidents`]), fires no deadline
//!   and sends nothing: its screens show the team's incidents as the clock runs them.
//! - An action taken on another device (acknowledge, note, resolve, escalate now, a new incident)
//!   is written as a command document `command:<uuid>`. The clock reads it from the change feed,
//!   applies it as if it had been done there, and writes its answer into the same document.
//! - Before the clock sends a page or post, it creates the claim `sent:<key>:<route>`, a create
//!   with no `_rev` that the database accepts once. The key is the engine's idempotency key, the
//!   same on every device, so a device that takes the clock over and catches up does not send
//!   again what the device before it sent.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::command::{Done, Reply};
use super::driver::Driver;
use super::team_sync::SyncState;
use crate::engine::escalation::Input;
use crate::engine::incident::{Incident, IncidentId, TimelineEntry};
use crate::storage::Store;
use crate::sync::{seq_zero, HttpDb, Rev, SyncError, Transport};

pub const INCIDENT_PREFIX: &str = "incident:";
pub const TIMELINE_PREFIX: &str = "timeline:";
pub const COMMAND_PREFIX: &str = "command:";
pub const CLAIM_PREFIX: &str = "sent:";

/// What this device is to the team's escalation clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamRole {
    /// No team sync: this device runs its own clock.
    Solo,
    /// Team sync, holding the lease: this device runs the team's clock.
    Holder,
    /// Team sync, another device runs the clock (or none is known to yet): nothing fires here.
    Follower,
}

impl TeamRole {
    /// Whether deadlines fire and pages go out from this device.
    pub fn runs_clock(self) -> bool {
        self != TeamRole::Follower
    }
}

pub fn incident_doc_id(id: &str) -> String {
    format!("{INCIDENT_PREFIX}{id}")
}

/// The body of an incident's document: the incident without its timeline's entries, and their
/// number (`timeline`).
pub fn incident_body(incident: &Incident) -> Map<String, Value> {
    let mut value = serde_json::to_value(incident).expect("incidents serialize");
    value["timeline"] = Value::Array(Vec::new());
    let mut body = Map::new();
    body.insert("kind".into(), Value::from("incident"));
    body.insert("timeline".into(), Value::from(incident.timeline.len()));
    body.insert("value".into(), value);
    body
}

/// `timeline:<incident>:<seq>`, the sequence number zero-padded so the ids sort in order.
pub fn timeline_doc_id(incident: &str, seq: usize) -> String {
    format!("{TIMELINE_PREFIX}{incident}:{seq:06}")
}

/// The body of one timeline entry's document.
pub fn timeline_body(incident: &Incident, seq: usize) -> Option<Map<String, Value>> {
    let entry = incident.timeline.get(seq)?;
    let mut body = Map::new();
    body.insert("kind".into(), Value::from("timeline"));
    body.insert("incident".into(), Value::from(incident.id.to_string()));
    body.insert("seq".into(), Value::from(seq));
    body.insert("entry".into(), serde_json::to_value(entry).expect("entries serialize"));
    Some(body)
}

/// Reads a timeline entry's document; it must be the entry its id names.
pub fn read_entry(doc_id: &str, body: &Map<String, Value>) -> Result<TimelineEntry, String> {
    let incident = body.get("incident").and_then(Value::as_str).ok_or("it names no incident")?;
    let seq = body.get("seq").and_then(Value::as_u64).ok_or("it has no sequence number")?;
    if timeline_doc_id(incident, seq as usize) != doc_id {
        return Err("it is not the entry its id names".into());
    }
    let entry = body.get("entry").ok_or("it holds no entry")?;
    crate::json::from_value(entry.clone()).map_err(|e| format!("this version cannot read it: {e}"))
}

/// A document's own fields (without `_id`, `_rev`, `_conflicts`…).
fn own_fields(doc: &Value) -> Map<String, Value> {
    doc.as_object().map(|o| o.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// Reads an incident document (it must hold the incident its id names): the incident with no
/// timeline entries, and how many its timeline has.
pub fn read_incident(doc_id: &str, body: &Map<String, Value>) -> Result<(Incident, usize), String> {
    let value = body.get("value").ok_or("it holds no incident")?;
    let incident: Incident = crate::json::from_value(value.clone()).map_err(|e| format!("this version cannot read it: {e}"))?;
    if incident_doc_id(&incident.id) != doc_id {
        return Err(format!("it holds incident {:?}, not the one its id names", incident.id.to_string()));
    }
    let entries = body.get("timeline").and_then(Value::as_u64).ok_or("it does not say how long its timeline is")?;
    if !incident.timeline.is_empty() {
        return Err("its timeline entries are in the document itself, not in timeline documents".into());
    }
    Ok((incident, entries as usize))
}

/// A command document: `input` as another device asked for it.
pub fn command_doc(input: &Input, from: &str, device: &str, at: DateTime<Utc>) -> Value {
    json!({"kind": "command", "input": input, "from": from, "device": device, "at": at.to_rfc3339()})
}

/// The answer written into a command document.
fn answer_of(reply: &Reply, device: &str, now: DateTime<Utc>) -> Value {
    match reply {
        Ok(done) => json!({"ok": true, "message": done.message, "id": done.id, "device": device, "at": now.to_rfc3339()}),
        Err(refusal) => json!({"ok": false, "message": refusal.message, "device": device, "at": now.to_rfc3339()}),
    }
}

/// A command document's answer, once the clock has written one.
pub fn read_answer(doc: &Value) -> Option<Result<Done, String>> {
    let answer = doc.get("answer").filter(|a| a.is_object())?;
    let message = answer.get("message").and_then(Value::as_str).unwrap_or("").to_string();
    Some(match answer.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(Done { message, id: answer.get("id").and_then(Value::as_str).map(str::to_string) }),
        _ => Err(message),
    })
}

/// What one exchange did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exchanged {
    /// Incidents taken in from the clock's documents.
    pub adopted: usize,
    /// Commands from other devices applied and answered here.
    pub answered: usize,
    /// Incident documents written.
    pub published: usize,
    /// Documents that could not be taken in, with why.
    pub refused: Vec<(String, String)>,
}

const FEED_PAGE: usize = 500;
/// At most this many feed pages a round (10 000 changes): a first sync of a large team takes a
/// few rounds rather than holding the tab's driver (and every action waiting for it) in one.
/// Entries read for incidents whose document comes in a later round are kept in memory.
const FEED_PAGES_PER_ROUND: usize = 20;
const WRITE_BATCH: usize = 200;

/// After the lease: reads the change feed (incidents, their entries, commands), takes in the
/// clock's incidents, and, holding the clock, answers commands and publishes what changed here.
pub async fn exchange<S: Store, T: Transport>(
    mut driver: Driver<S>,
    remote: &HttpDb<T>,
    state: &mut SyncState,
    now: DateTime<Utc>,
) -> (Driver<S>, Result<Exchanged, SyncError>) {
    let holder = driver.team_role() == TeamRole::Holder;
    let mut out = Exchanged::default();

    // 1. The change feed, from where this device left it.
    let mut since = state.feed.clone().unwrap_or_else(seq_zero);
    let mut incoming: BTreeMap<String, (Rev, Map<String, Value>)> = BTreeMap::new();
    for _ in 0..FEED_PAGES_PER_ROUND {
        let (docs, last, read) = match remote.changed_docs(&since, FEED_PAGE, &[INCIDENT_PREFIX, TIMELINE_PREFIX, COMMAND_PREFIX]).await {
            Ok(page) => page,
            Err(e) => return (driver, Err(e)),
        };
        for (id, doc) in docs {
            let Some(doc) = doc else {
                state.commands.remove(&id);
                continue;
            };
            if id.starts_with(TIMELINE_PREFIX) {
                state.entries.insert(id, own_fields(&doc));
                continue;
            }
            let Some(rev) = doc.get("_rev").and_then(Value::as_str).and_then(|r| Rev::parse(r).ok()) else { continue };
            if id.starts_with(COMMAND_PREFIX) {
                if read_answer(&doc).is_some() {
                    state.commands.remove(&id);
                } else if state.commands.get(&id).is_none_or(|d| read_answer(d).is_none()) {
                    state.commands.insert(id, doc);
                }
            } else {
                incoming.insert(id, (rev, own_fields(&doc)));
            }
        }
        since = last;
        if read < FEED_PAGE {
            break;
        }
    }

    // 2. The clock's incidents, each with the entries it counts.
    let mut adopt = Vec::new();
    let mut meta: BTreeMap<IncidentId, (String, Rev, String, usize)> = BTreeMap::new();
    for (doc_id, (rev, body)) in incoming {
        if state.incidents.get(&doc_id).is_some_and(|(r, _)| *r == rev) {
            continue; // written here, or taken in already
        }
        let h = super::team_sync::hash(Some(&body));
        let (mut incident, entries) = match read_incident(&doc_id, &body) {
            Ok(read) => read,
            Err(why) => {
                out.refused.push((doc_id.clone(), why));
                state.incidents.insert(doc_id, (rev, String::new()));
                continue;
            }
        };
        let mine = driver.engine().incident(&incident.id);
        let have = mine.map_or(0, |m| m.timeline.len());
        let same = || mine.is_some_and(|m| super::team_sync::hash(Some(&incident_body(m))) == h);
        let take = match mine {
            None => true,
            // The clock keeps its own unless the other knew more (a device that ran the clock
            // while this one could not reach the database).
            Some(_) if holder => entries > have,
            Some(_) => entries > have || (entries == have && !same()),
        };
        if !take {
            if holder && !same() {
                // Ours differs from what the database holds: written again, on its revision.
                state.incidents.insert(doc_id, (rev, String::new()));
                driver.mark_team_dirty([incident.id]);
            } else if !holder && entries < have {
                out.refused.push((doc_id.clone(), "its timeline is shorter than this device's copy (the audit trail only grows)".into()));
                state.incidents.insert(doc_id, (rev, String::new()));
            } else {
                state.incidents.insert(doc_id, (rev, h));
            }
            continue;
        }
        // This device's entries stand; the new ones come from their documents (read from the
        // feed, or fetched when the feed brought them in an earlier round).
        let missing = (have..entries).any(|seq| !state.entries.contains_key(&timeline_doc_id(&incident.id, seq)));
        if missing {
            match remote.docs_between(&timeline_doc_id(&incident.id, have), &timeline_doc_id(&incident.id, entries.saturating_sub(1))).await {
                Ok(docs) => state.entries.extend(docs.into_iter().map(|(id, doc)| (id, own_fields(&doc)))),
                Err(e) => return (driver, Err(e)),
            }
        }
        let mut timeline = mine.map(|m| m.timeline.clone()).unwrap_or_default();
        let mut broken = None;
        for seq in have..entries {
            let entry_id = timeline_doc_id(&incident.id, seq);
            match state.entries.get(&entry_id).map(|body| read_entry(&entry_id, body)) {
                Some(Ok(entry)) => timeline.push(entry),
                Some(Err(why)) => broken = Some(format!("timeline entry {seq}: {why}")),
                None => broken = Some(format!("timeline entry {seq} is not in the database")),
            }
            if broken.is_some() {
                break;
            }
        }
        if let Some(why) = broken {
            out.refused.push((doc_id.clone(), why));
            state.incidents.insert(doc_id, (rev, String::new()));
            continue;
        }
        incident.timeline = timeline;
        meta.insert(incident.id.clone(), (doc_id, rev, h, entries));
        adopt.push(incident);
    }
    if !adopt.is_empty() {
        match driver.adopt_incidents(adopt, now).await {
            Ok((count, refused)) => {
                out.adopted = count;
                let refused_ids: BTreeSet<IncidentId> = refused.iter().map(|(id, _)| id.clone()).collect();
                for (id, (doc_id, rev, h, entries)) in meta {
                    let h = if refused_ids.contains(&id) { String::new() } else { h };
                    state.timelines.insert(doc_id.clone(), entries);
                    state.incidents.insert(doc_id, (rev, h));
                }
                out.refused.extend(refused.into_iter().map(|(id, why)| (incident_doc_id(&id), why)));
            }
            Err(e) => return (driver, Err(SyncError::Storage(e.to_string()))),
        }
    }
    // Entries this device holds now need not be kept.
    state.entries.retain(|_, body| {
        let (Some(incident), Some(seq)) = (body.get("incident").and_then(Value::as_str), body.get("seq").and_then(Value::as_u64)) else { return false };
        driver.engine().incident(incident).is_none_or(|i| i.timeline.len() as u64 <= seq)
    });
    state.feed = Some(since);

    if !holder {
        // Open incidents this device ran before it joined (the team has never seen them) are
        // handed to the clock: created once, never updated from here.
        let handover: Vec<IncidentId> =
            driver.engine().incidents().filter(|i| i.is_open() && !state.incidents.contains_key(&incident_doc_id(&i.id))).map(|i| i.id.clone()).collect();
        let (_, failed) = publish(&driver, remote, state, &handover, &mut out).await;
        forget_archived(&driver, state);
        return (driver, failed.map_or(Ok(out), Err));
    }

    // 3. Commands from other devices, oldest first. The answer is kept before it is written, so
    // a failed write is retried without applying the command twice.
    let mut pending: Vec<(String, Value)> = state.commands.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    pending.sort_by(|a, b| a.1.get("at").and_then(Value::as_str).cmp(&b.1.get("at").and_then(Value::as_str)));
    let device = driver.team_sync_settings().device.clone();
    for (id, mut doc) in pending {
        if read_answer(&doc).is_none() {
            let reply = match doc.get("input").cloned().map(crate::json::from_value::<Input>) {
                // As `command::execute` runs a dispatch (called directly: the whole of
                // `execute` would be a second time in the bundle, inside the sync round).
                Some(Ok(input)) => {
                    let id = input.incident_id().map(IncidentId::to_string);
                    driver.dispatch(now, input).await.map(|_| Done { message: "Done.".into(), id }).map_err(super::command::Refusal::from)
                }
                Some(Err(e)) => Err(super::command::Refusal::new(super::command::Cause::Refused, format!("The team clock cannot read this command: {e}"))),
                None => Err(super::command::Refusal::new(super::command::Cause::Refused, "The command names no action.")),
            };
            doc["answer"] = answer_of(&reply, &device, now);
            state.commands.insert(id.clone(), doc.clone());
            out.answered += 1;
        }
        match remote.put_doc(&id, &doc).await {
            // Answered (or changed meanwhile by someone else: theirs stands).
            Ok(_) => {
                state.commands.remove(&id);
            }
            Err(e) if matches!(e.status(), Some(409 | 404)) => {
                state.commands.remove(&id);
            }
            Err(e) => return (driver, Err(e)),
        }
    }

    // 4. Publish every incident that changed here.
    let dirty: Vec<IncidentId> = driver.take_team_dirty().into_iter().collect();
    let (again, failed) = publish(&driver, remote, state, &dirty, &mut out).await;
    driver.mark_team_dirty(again);
    forget_archived(&driver, state);
    match failed {
        Some(e) => (driver, Err(e)),
        None => (driver, Ok(out)),
    }
}

/// Writes these incidents where they differ from what the database holds: first each new
/// timeline entry (created once; one already there is fine), then the incident's document on the
/// revision this device knows (none: a create). Returns the incidents to try again, and the
/// first request that failed.
async fn publish<S: Store, T: Transport>(
    driver: &Driver<S>,
    remote: &HttpDb<T>,
    state: &mut SyncState,
    ids: &[IncidentId],
    out: &mut Exchanged,
) -> (Vec<IncidentId>, Option<SyncError>) {
    struct Write {
        id: IncidentId,
        hash: String,
        entries: usize,
        doc: Value,
    }
    let mut writes = Vec::new();
    let mut entry_docs = Vec::new();
    for id in ids {
        let Some(incident) = driver.engine().incident(id) else { continue };
        let body = incident_body(incident);
        let hash = super::team_sync::hash(Some(&body));
        let doc_id = incident_doc_id(id);
        let known = state.incidents.get(&doc_id);
        if known.is_some_and(|(_, kh)| *kh == hash) {
            continue;
        }
        let written = state.timelines.get(&doc_id).copied().unwrap_or(0).min(incident.timeline.len());
        for seq in written..incident.timeline.len() {
            let mut entry = timeline_body(incident, seq).expect("in range");
            entry.insert("_id".into(), Value::from(timeline_doc_id(id, seq)));
            entry_docs.push((id.clone(), Value::Object(entry)));
        }
        let mut doc = body;
        doc.insert("_id".into(), Value::from(doc_id));
        if let Some((rev, _)) = known {
            doc.insert("_rev".into(), Value::from(rev.to_string()));
        }
        writes.push(Write { id: id.clone(), hash, entries: incident.timeline.len(), doc: Value::Object(doc) });
    }
    let mut again = BTreeSet::new();
    let mut failed = None;
    // The entries first: an incident document never counts an entry the database lacks.
    for batch in entry_docs.chunks(WRITE_BATCH) {
        match remote.write_docs(batch.iter().map(|(_, d)| d.clone()).collect()).await {
            Ok(results) => {
                for ((id, _), (_, result)) in batch.iter().zip(results) {
                    if result.as_ref().is_err_and(|e| e != "conflict") {
                        again.insert(id.clone());
                    }
                }
            }
            Err(e) => {
                again.extend(batch.iter().map(|(id, _)| id.clone()));
                failed.get_or_insert(e);
            }
        }
    }
    let writes: Vec<Write> = writes.into_iter().filter(|w| !again.contains(&w.id)).collect();
    for batch in writes.chunks(WRITE_BATCH) {
        match remote.write_docs(batch.iter().map(|w| w.doc.clone()).collect()).await {
            Ok(results) => {
                for (w, (doc_id, result)) in batch.iter().zip(results) {
                    match result {
                        Ok(rev) => {
                            state.timelines.insert(doc_id.clone(), w.entries);
                            state.incidents.insert(doc_id, (rev, w.hash.clone()));
                            out.published += 1;
                        }
                        Err(error) => {
                            if error == "conflict" {
                                // Written meanwhile elsewhere (or before this device knew its
                                // revision): learn the revision, write again next round.
                                if let Ok(Some(current)) = remote.get_doc(&doc_id).await {
                                    if let Some(rev) = current.get("_rev").and_then(Value::as_str).and_then(|r| Rev::parse(r).ok()) {
                                        state.incidents.insert(doc_id, (rev, String::new()));
                                    }
                                }
                            }
                            again.insert(w.id.clone());
                        }
                    }
                }
            }
            Err(e) => {
                again.extend(batch.iter().map(|w| w.id.clone()));
                failed.get_or_insert(e);
            }
        }
    }
    (again.into_iter().collect(), failed)
}

/// Forgets the revisions of incidents no longer hot here (archived: they do not change again),
/// so the state stays the size of the hot incidents, not of all history.
fn forget_archived<S: Store>(driver: &Driver<S>, state: &mut SyncState) {
    let hot = |doc_id: &String| doc_id.strip_prefix(INCIDENT_PREFIX).is_some_and(|id| driver.engine().incident(id).is_some());
    state.incidents.retain(|doc_id, _| hot(doc_id));
    state.timelines.retain(|doc_id, _| hot(doc_id));
}

/// Whether the clock may send a route: its claim was created here now or before (`Mine`), or
/// another device's clock claimed it (`Elsewhere`), or the database could not say (`Unknown`:
/// it is sent, since a page sent twice beats a page lost).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    Mine,
    Elsewhere(String),
    Unknown,
}

pub fn claim_doc_id(key: &str, route: usize) -> String {
    format!("{CLAIM_PREFIX}{key}:{route}")
}

/// Claims the routes about to be sent (`(key, route)`), one create each; returns each one's claim.
pub async fn claim_sends<T: Transport>(remote: &HttpDb<T>, me: &str, device: &str, routes: &[(String, usize)], now: DateTime<Utc>) -> Vec<Claim> {
    let docs: Vec<Value> =
        routes.iter().map(|(key, route)| json!({"_id": claim_doc_id(key, *route), "holder": me, "device": device, "at": now.to_rfc3339()})).collect();
    let Ok(results) = remote.write_docs(docs).await else { return vec![Claim::Unknown; routes.len()] };
    let by_id: BTreeMap<String, Result<Rev, String>> = results.into_iter().collect();
    let mut out = Vec::with_capacity(routes.len());
    for (key, route) in routes {
        let id = claim_doc_id(key, *route);
        out.push(match by_id.get(&id) {
            Some(Ok(_)) => Claim::Mine,
            Some(Err(e)) if e == "conflict" => match remote.get_doc(&id).await {
                Ok(Some(doc)) if doc.get("holder").and_then(Value::as_str) == Some(me) => Claim::Mine,
                Ok(Some(doc)) => Claim::Elsewhere(doc.get("device").and_then(Value::as_str).unwrap_or("another device").to_string()),
                _ => Claim::Unknown,
            },
            _ => Claim::Unknown,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_document_must_hold_the_incident_its_id_names() {
        let mut engine = crate::engine::escalation::Engine::new();
        let details = serde_json::from_value(json!({"title": "Disk full"})).unwrap();
        let open = Input::Open { id: "i-1".into(), by: crate::engine::incident::Actor::Automation, details };
        assert_eq!(engine.handle(&crate::engine::world::World::default(), DateTime::from_timestamp(1_800_000_000, 0).unwrap(), open).rejected, None);
        let incident = engine.incident("i-1").unwrap().clone();
        let body = incident_body(&incident);
        let (bare, entries) = read_incident("incident:i-1", &body).unwrap();
        assert_eq!(entries, incident.timeline.len());
        assert_eq!(bare, Incident { timeline: Vec::new(), ..incident.clone() });
        let entry = timeline_body(&incident, 0).unwrap();
        assert_eq!(read_entry(&timeline_doc_id("i-1", 0), &entry).unwrap(), incident.timeline[0]);
        assert!(read_entry(&timeline_doc_id("i-1", 1), &entry).unwrap_err().contains("not the entry its id names"));
        assert_eq!(timeline_doc_id("i-1", 7), "timeline:i-1:000007");
        assert!(read_incident("incident:i-2", &body).unwrap_err().contains("not the one its id names"));
        let mut broken = body.clone();
        broken.insert("value".into(), json!({"id": "i-1", "status": 7}));
        assert!(read_incident("incident:i-1", &broken).unwrap_err().contains("cannot read"));
    }

    #[test]
    fn a_command_reads_back_its_answer() {
        let input = Input::Acknowledge { incident: "i-1".into(), by: "ada".into() };
        let mut doc = command_doc(&input, "dev-1", "Ada's phone", DateTime::from_timestamp(1_800_000_000, 0).unwrap());
        assert_eq!(read_answer(&doc), None);
        assert_eq!(crate::json::from_value::<Input>(doc["input"].clone()).unwrap(), input);
        let now = DateTime::from_timestamp(1_800_000_001, 0).unwrap();
        doc["answer"] = answer_of(&Ok(Done { message: "Acknowledged.".into(), id: None }), "Desk", now);
        assert_eq!(read_answer(&doc), Some(Ok(Done { message: "Acknowledged.".into(), id: None })));
        doc["answer"] = answer_of(&Err(super::super::command::Refusal::new(super::super::command::Cause::Refused, "Already resolved.")), "Desk", now);
        assert_eq!(read_answer(&doc), Some(Err("Already resolved.".into())));
    }
}
