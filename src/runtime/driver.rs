//! The driver: inputs in, engine step, one transaction, effects out.
//!
//! Every call follows the same order: run the engine as an undoable step ([`Engine::begin`]), write
//! the new state, the new timeline entries and any new outbox rows in **one** transaction (strict
//! durability when a page is queued), and only when that succeeded adopt the step
//! ([`Engine::commit`]) and return the effects. A failed write (a full disk) rolls the engine back,
//! leaving memory and storage exactly as they were, so the same deadlines fire again on the next
//! wake and nothing is lost or sent twice. The step copies only the incidents it touches, never the
//! whole engine.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::ConfigRecord;
use super::outbox::{self, DeliverySettings, DueSend, Outcome};
use super::team_sync::{self, SyncSettings, SyncState, TeamSyncView};
use super::ActionError;
use crate::audit::{self, Link};
use crate::engine::escalation::{Effect, Engine, Input, Rejected};
use crate::engine::format::validate;
use crate::engine::id::{PolicyId, RuleId};
use crate::engine::incident::Actor;
use crate::engine::incident::{Incident, IncidentId, TimelineEntry};
use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::{MaintenanceWindow, Rule};
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::{Channel, Team, World};
use crate::insight::retro::Retrospective;
use crate::reply::{ReplyMessage, ReplySettings, ReplyState, Verdict, Why};
use crate::storage::backup::{self, Restore};
use crate::storage::{
    archive_key, chain, ArchivedIncident, Batch, DeliveryState, DigestChunk, HistoryDigest, OutboxRow, Record, Setting, Store, StoreError, StoredIncident,
    TimelineRow, CLOCK_EPOCH, DIGESTS_COMPLETE, DIGESTS_PER_CHUNK, STORES,
};

/// World-wide settings that are not records of their own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct WorldSettings {
    #[serde(default)]
    default_policy: Option<PolicyId>,
    /// Rules run in this order.
    #[serde(default)]
    rule_order: Vec<RuleId>,
}

const WORLD_SETTINGS: &str = "world";
const DELIVERY_SETTINGS: &str = "delivery";
/// Settings → "Acknowledge from phones" (holds the team key: a secret in backups).
pub const REPLY_SETTINGS: &str = "reply";
/// What the clock remembers of the reply topic.
const REPLY_STATE: &str = "reply-state";

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Timeline effects, in order; the ones with a delivery were queued in the outbox.
    pub effects: Vec<Effect>,
    /// Outbox rows this step queued (the pages and posts to send now).
    pub queued: Vec<OutboxRow>,
}

pub struct Driver<S: Store> {
    store: S,
    engine: Engine,
    world: World,
    /// Timeline entries already stored, per incident (the next row's `seq`).
    stored_timeline: BTreeMap<IncidentId, u32>,
    /// When each stored timeline entry was recorded (for lateness), per incident and seq.
    recorded: BTreeMap<IncidentId, Vec<DateTime<Utc>>>,
    /// The audit hash of each stored timeline entry, per incident and seq: the next row links to
    /// the last, and an archived incident keeps them.
    chains: BTreeMap<IncidentId, Vec<String>>,
    outbox: BTreeMap<String, OutboxRow>,
    settings: WorldSettings,
    delivery: DeliverySettings,
    reply: ReplySettings,
    reply_state: ReplyState,
    /// Stored incidents not run because they do not hold together, with why.
    left_out: Vec<(IncidentId, String)>,
    /// The clock epoch this driver writes under (see [`Driver::take_clock`]); `None` in tools.
    fence: Option<u64>,
    /// Whether every archived incident has its [`HistoryDigest`] (false after an upgrade, until
    /// [`Driver::digest_archive`] has caught up), and where that catching up has got to.
    digests_ready: bool,
    digest_cursor: Option<String>,
    /// Every retrospective, by incident (small: a summary and a few items each).
    retrospectives: BTreeMap<IncidentId, Retrospective>,
    team_sync: SyncSettings,
    /// Team sync's documents and bookkeeping, read once at load and kept equal to what is stored.
    team_state: SyncState,
    team_view: TeamSyncView,
    /// The team clock's lease as the last round found it (not stored: a round finds it again).
    team_clock: Option<crate::sync::lease::Standing>,
    /// Incidents changed here since team sync last published them (all of them after a load).
    team_dirty: BTreeSet<IncidentId>,
}

/// How long a route claimed by another clock epoch is left alone before this one sends it.
pub const CLAIM_LEASE_SECS: i64 = 30;

/// The settings row saying every archived incident has its digest.
fn digests_complete() -> Setting {
    Setting { key: DIGESTS_COMPLETE.into(), value: serde_json::json!(true) }
}

fn epoch_row(epoch: u64) -> Setting {
    Setting { key: CLOCK_EPOCH.into(), value: serde_json::json!({ "epoch": epoch }) }
}

/// A step this much later than its deadline counts as caught up (the tab slept, or a backup was
/// restored): its pages are folded, one per person and channel per incident.
pub const CATCH_UP_LATE_SECS: i64 = 60;

/// Which pages of a catch-up are folded, and what each incident's timeline says about it.
struct Folding {
    keys: BTreeSet<String>,
    notes: Vec<(IncidentId, String)>,
}

/// Among the pages and posts in `effects` that fire more than [`CATCH_UP_LATE_SECS`] late, keeps
/// the last one per incident and recipient and folds the others.
fn fold_catch_up(effects: &[Effect], now: DateTime<Utc>) -> Folding {
    let late = |e: &Effect| (now - e.at()).num_seconds() > CATCH_UP_LATE_SECS;
    let recipient = |d: &crate::engine::escalation::Delivery| match d {
        crate::engine::escalation::Delivery::Page { person, .. } => format!("person:{person}"),
        crate::engine::escalation::Delivery::Post { channel } => format!("channel:{channel}"),
    };
    // The last page per (incident, recipient) in this step is the one sent.
    let mut last: BTreeMap<(IncidentId, String), usize> = BTreeMap::new();
    for (i, e) in effects.iter().enumerate() {
        if let (Some(d), Some(_)) = (&e.delivery, e.key()) {
            last.insert((e.incident.clone(), recipient(d)), i);
        }
    }
    let mut keys = BTreeSet::new();
    let mut per_incident: BTreeMap<IncidentId, (usize, BTreeSet<String>, i64, i64)> = BTreeMap::new();
    for (i, e) in effects.iter().enumerate() {
        let (Some(d), Some(key)) = (&e.delivery, e.key()) else { continue };
        if !late(e) || last.get(&(e.incident.clone(), recipient(d))) == Some(&i) {
            continue;
        }
        keys.insert(key.to_string());
        let late_by = (now - e.at()).num_seconds();
        let entry = per_incident.entry(e.incident.clone()).or_insert((0, BTreeSet::new(), late_by, late_by));
        entry.0 += 1;
        entry.1.insert(recipient(d).split_once(':').map_or(String::new(), |(_, who)| who.to_string()));
        entry.2 = entry.2.min(late_by);
        entry.3 = entry.3.max(late_by);
    }
    let notes = per_incident
        .into_iter()
        .map(|(incident, (n, who, min, max))| {
            let who: Vec<String> = who.into_iter().collect();
            let note = format!(
                "Caught up after a sleep: {n} page{} {}–{} late folded into one per recipient ({}), so nobody is paged twice for the same catch-up",
                if n == 1 { "" } else { "s" },
                human_duration(min),
                human_duration(max),
                who.join(", ")
            );
            (incident, note)
        })
        .collect();
    Folding { keys, notes }
}

/// Everything [`Driver::load`] reads.
#[derive(Default)]
struct Loaded {
    engine: Engine,
    world: World,
    stored_timeline: BTreeMap<IncidentId, u32>,
    recorded: BTreeMap<IncidentId, Vec<DateTime<Utc>>>,
    chains: BTreeMap<IncidentId, Vec<String>>,
    outbox: BTreeMap<String, OutboxRow>,
    settings: WorldSettings,
    delivery: DeliverySettings,
    reply: ReplySettings,
    reply_state: ReplyState,
    left_out: Vec<(IncidentId, String)>,
    digests_ready: bool,
    retrospectives: BTreeMap<IncidentId, Retrospective>,
    team_sync: SyncSettings,
    /// Team sync's documents and bookkeeping, read once at load and kept equal to what is stored.
    team_state: SyncState,
    team_view: TeamSyncView,
}

/// What a message from the reply topic did.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplyOutcome {
    /// The ntfy message text to publish back for the phone (a signed confirmation or refusal).
    pub answer: Option<String>,
    /// The acknowledgement's step, when one was applied.
    pub step: Option<Step>,
    /// A refusal, when the message changed nothing.
    pub refused: Option<Why>,
}

/// A resolved incident stays hot at least this long (see [`Driver::hot_window`]).
pub const HOT_AFTER_RESOLVE: chrono::Duration = chrono::Duration::hours(24);
/// Where [`Driver::past_since`] goes on reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PastCursor {
    Start,
    /// After this digest chunk.
    Digests(String),
    /// After this archive key (read while an upgrade is still being digested).
    Archive(String),
}

/// Digest chunks read per page of [`Driver::past_since`] (5 000 incidents).
const PAST_CHUNKS_PER_PAGE: usize = 20;
/// Archived incidents read per page while digests are not ready.
const PAST_ARCHIVED_PER_PAGE: usize = 1000;

/// Incidents archived per transaction.
pub const ARCHIVE_BATCH: usize = 500;

impl<S: Store> Driver<S> {
    /// Reads everything from `store`.
    pub async fn load(store: S) -> Result<Driver<S>, ActionError> {
        Self::try_load(store).await.map_err(|(_, e)| e)
    }

    /// [`Driver::load`], giving the store back when reading fails.
    pub async fn try_load(store: S) -> Result<Driver<S>, (S, ActionError)> {
        match Self::read(&store).await {
            Ok(l) => Ok(Driver::assemble(store, l)),
            Err(e) => Err((store, e)),
        }
    }

    async fn read(store: &S) -> Result<Loaded, ActionError> {
        let stored_settings = store.list::<Setting>().await?;
        let setting = |key: &str| stored_settings.iter().find(|s| s.id == key).map(|s| s.value.value.clone());
        let settings: WorldSettings = setting(WORLD_SETTINGS).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let delivery: DeliverySettings = setting(DELIVERY_SETTINGS).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let reply: ReplySettings = setting(REPLY_SETTINGS).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let reply_state: ReplyState = setting(REPLY_STATE).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let team_sync: SyncSettings = setting(team_sync::SYNC_SETTINGS).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let team_state: SyncState = setting(team_sync::SYNC_STATE).and_then(|v| crate::json::stored_from_value(v).ok()).unwrap_or_default();
        let team_view = team_sync::view(&team_sync, &team_state);
        let mut world = World {
            people: values(store.list::<Person>().await?),
            teams: values(store.list::<Team>().await?),
            channels: values(store.list::<Channel>().await?),
            schedules: values(store.list::<OnCallSchedule>().await?),
            policies: values(store.list::<EscalationPolicy>().await?),
            rules: values(store.list::<Rule>().await?),
            maintenance: values(store.list::<MaintenanceWindow>().await?),
            default_policy: settings.default_policy.clone(),
        };
        order_rules(&mut world.rules, &settings.rule_order);

        let mut timelines = chain::by_incident(values(store.list::<TimelineRow>().await?));
        let mut incidents = BTreeMap::new();
        let mut stored_timeline = BTreeMap::new();
        let mut recorded = BTreeMap::new();
        let mut chains = BTreeMap::new();
        for stored in values(store.list::<StoredIncident>().await?) {
            let mut incident = stored.incident;
            let rows = timelines.remove(&incident.id).unwrap_or_default();
            stored_timeline.insert(incident.id.clone(), rows.len() as u32);
            recorded.insert(incident.id.clone(), rows.iter().map(|r| r.recorded_at).collect());
            // Stored links as they are (hashing only rows from before the chain was stored).
            chains.insert(incident.id.clone(), chain::resolve_rows(&incident.id, &rows).into_iter().map(|l| l.hash).collect());
            incident.timeline = rows.into_iter().map(|r| r.entry).collect();
            crate::engine::escalation::bound_incident(&mut incident);
            incidents.insert(incident.id.clone(), incident);
        }
        // An incident that does not hold together (hand-edited, or written by a buggy version) is
        // left out rather than run: one bad record must not stop the clock for every other one.
        let (engine, left_out) = Engine::restore_checked(incidents.into_values());
        let left_out = left_out.into_iter().map(|(id, why)| (id, why.to_string())).collect();
        let outbox = values(store.list::<OutboxRow>().await?).into_iter().map(|r| (r.key.clone(), r)).collect();
        let digests_ready = setting(DIGESTS_COMPLETE).is_some() || store.count(ArchivedIncident::STORE).await? == 0;
        let retrospectives = values(store.list::<Retrospective>().await?).into_iter().map(|r| (r.incident.clone(), r)).collect();
        Ok(Loaded {
            engine,
            world,
            stored_timeline,
            recorded,
            chains,
            outbox,
            settings,
            delivery,
            reply,
            reply_state,
            left_out,
            digests_ready,
            retrospectives,
            team_sync,
            team_state,
            team_view,
        })
    }

    /// A driver over `store` holding nothing yet.
    fn empty(store: S) -> Driver<S> {
        Driver::assemble(store, Loaded::default())
    }

    /// A driver over `store` with what was read from it (not yet the clock: no fence).
    fn assemble(store: S, l: Loaded) -> Driver<S> {
        let team_dirty = l.engine.incidents().map(|i| i.id.clone()).collect();
        Driver {
            store,
            engine: l.engine,
            world: l.world,
            stored_timeline: l.stored_timeline,
            recorded: l.recorded,
            chains: l.chains,
            outbox: l.outbox,
            settings: l.settings,
            delivery: l.delivery,
            reply: l.reply,
            reply_state: l.reply_state,
            left_out: l.left_out,
            fence: None,
            digests_ready: l.digests_ready,
            digest_cursor: None,
            retrospectives: l.retrospectives,
            team_sync: l.team_sync,
            team_state: l.team_state,
            team_view: l.team_view,
            team_clock: None,
            team_dirty,
        }
    }

    /// Becomes the clock: raises the stored clock epoch and fences every later write with it, so
    /// that once another tab takes over, nothing this driver does is written or sent. Returns the
    /// new epoch.
    pub async fn take_clock(&mut self, now: DateTime<Utc>) -> Result<u64, ActionError> {
        let current = self
            .store
            .list::<Setting>()
            .await?
            .into_iter()
            .find(|s| s.id == CLOCK_EPOCH)
            .map_or(0, |s| s.value.value.get("epoch").and_then(|e| e.as_u64()).unwrap_or(0));
        let epoch = current + 1;
        let mut batch = Batch::new();
        batch.put(&epoch_row(epoch));
        batch.strict = true;
        self.store.commit(batch, now).await?;
        self.fence = Some(epoch);
        Ok(epoch)
    }

    /// The clock epoch this driver writes under.
    pub fn epoch(&self) -> Option<u64> {
        self.fence
    }

    /// Writes under an epoch taken earlier (after reloading from storage in the same tab).
    pub fn resume_clock(&mut self, epoch: u64) {
        self.fence = Some(epoch);
    }

    /// Writes a batch under this driver's fence.
    async fn commit(&self, mut batch: Batch, now: DateTime<Utc>) -> Result<(), StoreError> {
        batch.fence = self.fence;
        self.store.commit(batch, now).await
    }

    /// Claims the routes about to be sent, in one fenced transaction: when another tab has taken
    /// the clock since, this fails with [`StoreError::Fenced`] and nothing may be sent.
    pub async fn claim(&mut self, sends: &[DueSend], now: DateTime<Utc>) -> Result<(), ActionError> {
        let Some(epoch) = self.fence else { return Ok(()) };
        let mut rows: BTreeMap<String, OutboxRow> = BTreeMap::new();
        for due in sends {
            if !rows.contains_key(&due.key) {
                if let Some(row) = self.outbox.get(&due.key) {
                    rows.insert(due.key.clone(), row.clone());
                }
            }
            if let Some(r) = rows.get_mut(&due.key).and_then(|row| row.routes.get_mut(due.route)) {
                r.claim = Some(crate::storage::Claim { epoch, at: now });
            }
        }
        let mut batch = Batch::new();
        for row in rows.values() {
            batch.put(row);
        }
        batch.strict = true;
        self.commit(batch, now).await?;
        self.outbox.extend(rows);
        Ok(())
    }

    /// Stored incidents the engine does not run, and why (shown as a warning).
    pub fn left_out(&self) -> &[(IncidentId, String)] {
        &self.left_out
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
    pub fn world(&self) -> &World {
        &self.world
    }
    pub fn store(&self) -> &S {
        &self.store
    }
    /// Gives the store back (to reload from it, as a new page would).
    pub fn into_store(self) -> S {
        self.store
    }
    /// Every outbox row, by key.
    pub fn outbox(&self) -> &BTreeMap<String, OutboxRow> {
        &self.outbox
    }
    /// When each of an incident's timeline entries was recorded (same order as its timeline).
    pub fn recorded_at(&self, incident: &str) -> &[DateTime<Utc>] {
        self.recorded.get(incident).map(Vec::as_slice).unwrap_or(&[])
    }
    /// The earliest pending deadline: sleep until then.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.engine.poll_timeout()
    }

    /// Something happened (a user action, an alert). A refused input changes nothing and is
    /// returned as [`ActionError::Rejected`]; deadlines that were due still fire and are kept.
    pub async fn dispatch(&mut self, now: DateTime<Utc>, input: Input) -> Result<Step, ActionError> {
        self.engine.begin();
        let outcome = self.engine.handle(&self.world, now, input);
        let step = self.persist(now, outcome.effects, Vec::new()).await?;
        match outcome.rejected {
            Some(why) => Err(ActionError::Rejected(why)),
            None => Ok(step),
        }
    }

    /// The clock woke us: fire every deadline up to `now`, in order. When that catches up on
    /// steps more than [`CATCH_UP_LATE_SECS`] late (a long sleep, a restore), each person and
    /// channel gets at most one page per incident; the timeline says what was folded and how late.
    pub async fn tick(&mut self, now: DateTime<Utc>) -> Result<Step, ActionError> {
        if self.engine.poll_timeout().is_none_or(|t| t > now) {
            return Ok(Step { effects: Vec::new(), queued: Vec::new() });
        }
        self.engine.begin();
        let mut effects = self.engine.handle_timeout(&self.world, now);
        let folding = fold_catch_up(&effects, now);
        for (incident, note) in &folding.notes {
            let note = Input::AddNote { incident: incident.clone(), by: Actor::Automation, text: note.clone() };
            effects.extend(self.engine.handle(&self.world, now, note).effects);
        }
        self.persist_folding(now, effects, Vec::new(), &folding.keys).await
    }

    /// Writes the engine's step in progress (and `extra` settings) in one transaction, then adopts
    /// it; a failed write rolls it back.
    async fn persist(&mut self, now: DateTime<Utc>, effects: Vec<Effect>, extra: Vec<Setting>) -> Result<Step, ActionError> {
        self.persist_folding(now, effects, extra, &BTreeSet::new()).await
    }

    /// [`Driver::persist`], queuing the pages keyed in `folded` as folded (never sent).
    async fn persist_folding(&mut self, now: DateTime<Utc>, effects: Vec<Effect>, extra: Vec<Setting>, folded: &BTreeSet<String>) -> Result<Step, ActionError> {
        self.persist_step(now, effects, extra, folded, true).await
    }

    /// Writes a step; with `queue` false (incidents adopted from the team clock) nothing is
    /// queued to send, not even a phase's post.
    async fn persist_step(
        &mut self,
        now: DateTime<Utc>,
        effects: Vec<Effect>,
        extra: Vec<Setting>,
        folded: &BTreeSet<String>,
        queue: bool,
    ) -> Result<Step, ActionError> {
        let engine = &self.engine;
        let touched: BTreeSet<&IncidentId> = effects.iter().map(|e| &e.incident).collect();
        let mut batch = Batch::new();
        for setting in &extra {
            batch.put(setting);
        }
        let mut new_counts = Vec::new();
        for id in &touched {
            let Some(incident) = engine.incident(id) else { continue };
            batch.put(&StoredIncident::new(incident, deadline_of(engine, incident)));
            let from = self.stored_timeline.get(*id).copied().unwrap_or(0);
            // Each new row links to the one stored before it.
            let mut prev = match (from as usize).checked_sub(1) {
                None => audit::GENESIS.to_string(),
                Some(last) => match self.chains.get(*id).and_then(|c| c.get(last)) {
                    Some(hash) => hash.clone(),
                    None => audit::chain(incident).get(last).cloned().unwrap_or_else(|| audit::GENESIS.to_string()),
                },
            };
            let mut hashes = Vec::new();
            for (seq, entry) in incident.timeline.iter().enumerate().skip(from as usize) {
                let link = Link::new(id, seq, &prev, entry);
                prev = link.hash.clone();
                hashes.push(link.hash.clone());
                batch.put(&TimelineRow { incident: (*id).clone(), seq: seq as u32, entry: entry.clone(), recorded_at: now, link: Some(link) });
            }
            new_counts.push(((*id).clone(), from, incident.timeline.len() as u32, hashes));
        }
        let mut queued = Vec::new();
        for effect in effects.iter().filter(|_| queue) {
            let (Some(delivery), Some(key)) = (&effect.delivery, effect.key()) else { continue };
            if self.outbox.contains_key(key) || queued.iter().any(|q: &OutboxRow| q.key == key) {
                continue; // idempotent: a key is queued once, ever
            }
            let mut row = OutboxRow {
                key: key.to_string(),
                incident: effect.incident.clone(),
                delivery: delivery.clone(),
                at: effect.at(),
                queued_at: now,
                state: DeliveryState::Pending,
                attempts: Vec::new(),
                next_attempt_at: Some(now),
                routes: super::outbox::routes_for(delivery, now),
                event: None,
            };
            if folded.contains(key) {
                outbox::fold(&mut row);
            }
            queued.push(row);
        }
        for row in outbox::phase_posts(&effects, engine, &self.world, now).into_iter().filter(|_| queue) {
            if !self.outbox.contains_key(&row.key) && !queued.iter().any(|q| q.key == row.key) {
                queued.push(row);
            }
        }
        for row in &queued {
            batch.put(row);
        }
        batch.strict = !queued.is_empty();
        if !batch.is_empty() {
            if let Err(e) = self.commit(batch, now).await {
                self.engine.rollback();
                return Err(e.into());
            }
        }

        self.engine.commit();
        self.team_dirty.extend(touched.into_iter().cloned());
        for (id, from, to, hashes) in new_counts {
            self.stored_timeline.insert(id.clone(), to);
            let chain = self.chains.entry(id.clone()).or_default();
            chain.truncate(from as usize);
            chain.extend(hashes);
            let rec = self.recorded.entry(id).or_default();
            rec.truncate(from as usize);
            rec.resize(to as usize, now);
        }
        for row in &queued {
            self.outbox.insert(row.key.clone(), row.clone());
        }
        Ok(Step { effects, queued })
    }

    /// Settings → Team sync, with the password (the runtime's eyes only).
    pub fn team_sync_settings(&self) -> &SyncSettings {
        &self.team_sync
    }

    /// Team sync as the screens show it.
    pub fn team_view(&self) -> &TeamSyncView {
        &self.team_view
    }

    pub fn team_state(&self) -> &SyncState {
        &self.team_state
    }

    /// Stores team sync's state when it changed (a quiet round writes nothing) and keeps it.
    pub async fn save_team_state(&mut self, state: SyncState, now: DateTime<Utc>) -> Result<(), ActionError> {
        if state != self.team_state {
            self.put_setting(team_sync::SYNC_STATE, &state, now).await?;
        }
        self.team_view = team_sync::view(&self.team_sync, &state);
        self.team_view.clock = self.team_clock.clone();
        self.team_state = state;
        Ok(())
    }

    /// What the last team-sync round found of the team clock's lease.
    pub fn set_team_clock(&mut self, clock: Option<crate::sync::lease::Standing>) {
        if clock == Some(crate::sync::lease::Standing::Mine) && self.team_clock != clock {
            // Taking the clock over: every incident is published again where it differs.
            self.team_dirty = self.engine.incidents().map(|i| i.id.clone()).collect();
        }
        self.team_view.clock = clock.clone();
        self.team_clock = clock;
    }

    /// A round could not reach the database: a device that held the team clock keeps running it
    /// (pages must not stop because the database is away), also when it was reloaded meanwhile;
    /// any other does not start.
    pub fn team_unreachable(&mut self) {
        let mine = self.team_clock == Some(crate::sync::lease::Standing::Mine) || self.team_state.held_clock;
        self.set_team_clock(mine.then_some(crate::sync::lease::Standing::Mine));
    }

    /// Whether this device runs the escalation clock: always without team sync; with it, only
    /// while it holds the team clock's lease.
    pub fn team_role(&self) -> super::team_clock::TeamRole {
        use super::team_clock::TeamRole;
        match (self.team_sync.enabled, &self.team_clock) {
            (false, _) => TeamRole::Solo,
            (true, Some(crate::sync::lease::Standing::Mine)) => TeamRole::Holder,
            (true, _) => TeamRole::Follower,
        }
    }

    /// The incidents changed since the last call (for team sync to publish).
    pub fn take_team_dirty(&mut self) -> BTreeSet<IncidentId> {
        std::mem::take(&mut self.team_dirty)
    }

    /// Marks incidents to publish again (a write the database refused).
    pub fn mark_team_dirty(&mut self, ids: impl IntoIterator<Item = IncidentId>) {
        self.team_dirty.extend(ids);
    }

    /// Takes in incidents as the team clock's device wrote them, in one transaction: each
    /// replaces this device's version whole (its timeline rows and audit links are stored as a
    /// step's are). One that does not hold together is left out, with why. Nothing fires and
    /// nothing is queued: the device holding the clock pages.
    pub async fn adopt_incidents(&mut self, incidents: Vec<Incident>, now: DateTime<Utc>) -> Result<(usize, Vec<(IncidentId, String)>), ActionError> {
        self.engine.begin();
        let mut adopted = BTreeSet::new();
        let mut refused = Vec::new();
        for incident in incidents {
            let id = incident.id.clone();
            // The audit trail only grows: a copy must extend this device's timeline as stored.
            if let Some(mine) = self.engine.incident(&id) {
                if !incident.timeline.starts_with(&mine.timeline) {
                    refused.push((id, "its timeline does not extend this device's copy (the audit trail only grows)".into()));
                    continue;
                }
            }
            match self.engine.adopt(incident) {
                Ok(()) => {
                    adopted.insert(id);
                }
                Err(why) => refused.push((id, why.to_string())),
            }
        }
        let effects = adopted
            .iter()
            .filter_map(|id| self.engine.incident(id))
            .filter_map(|i| i.timeline.last().map(|entry| Effect { incident: i.id.clone(), entry: entry.clone(), delivery: None }))
            .collect();
        let count = adopted.len();
        self.persist_step(now, effects, Vec::new(), &BTreeSet::new(), false).await?;
        // They came from the team: nothing to publish back.
        self.team_dirty.retain(|id| !adopted.contains(id));
        Ok((count, refused))
    }

    /// Saves Settings → Team sync. A masked password (as the screens were sent it) keeps the
    /// stored one.
    pub async fn set_team_sync(&mut self, mut settings: SyncSettings, now: DateTime<Utc>) -> Result<(), ActionError> {
        settings.server = settings.server.trim().trim_end_matches('/').to_string();
        settings.database = settings.database.trim().to_string();
        settings.username = settings.username.trim().to_string();
        settings.device = settings.device.trim().to_string();
        if settings.password == SyncSettings::default().masked_password() {
            settings.password = self.team_sync.password.clone();
        }
        team_sync::validate(&settings).map_err(|(field, message)| ActionError::InvalidSetting { field, message })?;
        self.put_setting(team_sync::SYNC_SETTINGS, &settings, now).await?;
        self.team_view.settings = settings.masked();
        if !settings.enabled {
            self.set_team_clock(None);
        }
        self.team_sync = settings;
        Ok(())
    }

    /// A settings row as stored (read afresh), for modules that keep their own (team sync).
    pub async fn setting(&self, key: &str) -> Option<serde_json::Value> {
        let rows = self.store.list::<Setting>().await.ok()?;
        rows.into_iter().find(|s| s.id == key).map(|s| s.value.value)
    }

    /// Writes a settings row under this driver's fence.
    pub async fn put_setting<T: Serialize>(&self, key: &str, value: &T, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut batch = Batch::new();
        batch.put(&setting_record(key, value));
        Ok(self.commit(batch, now).await?)
    }

    /// Delivery settings (ntfy server, retry limit).
    pub fn delivery_settings(&self) -> &DeliverySettings {
        &self.delivery
    }

    pub async fn set_delivery_settings(&mut self, settings: DeliverySettings, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut batch = Batch::new();
        batch.put(&Setting { key: DELIVERY_SETTINGS.into(), value: serde_json::to_value(&settings).expect("settings serialize") });
        self.commit(batch, now).await?;
        self.delivery = settings;
        Ok(())
    }

    /// Settings → "Acknowledge from phones" (with the key: the runtime's eyes only).
    pub fn reply_settings(&self) -> &ReplySettings {
        &self.reply
    }
    /// What the clock remembers of the reply topic.
    pub fn reply_state(&self) -> &ReplyState {
        &self.reply_state
    }
    /// Where the reply channel listens, when it is on: (server, topic, since).
    pub fn reply_listen(&self) -> Option<(String, String, String)> {
        self.reply.minter(&self.delivery.ntfy_server).map(|m| (m.server, m.topic, self.reply_state.since(&self.reply)))
    }

    /// Saves the reply channel's settings. A new topic or key starts afresh: the next catch-up
    /// starts from now, and links minted with an old key stop acting.
    pub async fn set_reply_settings(&mut self, mut settings: ReplySettings, now: DateTime<Utc>) -> Result<(), ActionError> {
        crate::reply::validate(&settings).map_err(|(field, message)| ActionError::InvalidSetting { field, message })?;
        settings.server = settings.server.trim().trim_end_matches('/').to_string();
        settings.topic = settings.topic.trim().to_string();
        let mut state = self.reply_state.clone();
        let restarted = settings.enabled
            && (!self.reply.enabled
                || settings.topic != self.reply.topic
                || settings.server_or(&self.delivery.ntfy_server) != self.reply.server_or(&self.delivery.ntfy_server));
        if restarted {
            settings.enabled_at = Some(now);
            state.last_id = None;
        }
        let mut batch = Batch::new();
        batch.put(&setting_record(REPLY_SETTINGS, &settings));
        batch.put(&setting_record(REPLY_STATE, &state));
        self.commit(batch, now).await?;
        self.reply = settings;
        self.reply_state = state;
        Ok(())
    }

    /// One message from the reply topic (live or caught up), received by ntfy at `message.time`.
    /// A verified acknowledgement is applied **at that time**: deadlines due before it fire first,
    /// and none after it pages anyone. The token is marked used in the same transaction. Anything
    /// else changes nothing but the counters. `now` is when the clock got round to it.
    pub async fn receive_reply(&mut self, message: &ReplyMessage, now: DateTime<Utc>) -> Result<ReplyOutcome, ActionError> {
        let none = ReplyOutcome { answer: None, step: None, refused: None };
        let Some(key) = self.reply.team_key().filter(|_| self.reply.enabled) else { return Ok(none) };
        let mut state = self.reply_state.clone();
        let verdict = crate::reply::judge(&key, &state, message);
        if verdict == Verdict::Ignore && state.has_seen(&message.id) {
            return Ok(none);
        }
        state.saw(message);
        let (token, at) = match verdict {
            Verdict::Ignore => return self.keep_reply_state(state, none, now).await,
            Verdict::Refuse { why, detail, answer } => {
                state.refuse(why, detail, now);
                return self.keep_reply_state(state, ReplyOutcome { answer, step: None, refused: Some(why) }, now).await;
            }
            Verdict::Acknowledge { token, at } => (token, at),
        };
        let claims = &token.claims;
        let refuse = |mut state: ReplyState, why: Why, text: String| {
            state.refuse(why, format!("{} for {}", claims.title, claims.name), now);
            let answer = crate::reply::answer(&key, &token, false, why.as_str(), now, text);
            (state, ReplyOutcome { answer: Some(answer), step: None, refused: Some(why) })
        };
        match self.engine.incident(&claims.inc) {
            None => {
                let (state, outcome) = refuse(state, Why::Unknown, String::new());
                return self.keep_reply_state(state, outcome, now).await;
            }
            Some(i) if !i.is_open() => {
                let (state, outcome) = refuse(state, Why::Resolved, String::new());
                return self.keep_reply_state(state, outcome, now).await;
            }
            Some(_) => {}
        }
        self.engine.begin();
        let ack = Input::Acknowledge { incident: claims.inc.clone(), by: claims.by.clone() };
        let outcome = self.engine.handle(&self.world, at, ack);
        let mut effects = outcome.effects;
        let (ok, why, text) = match outcome.rejected {
            None => {
                let late = (now - at).num_seconds();
                let mut note = "Acknowledged from phone (ntfy)".to_string();
                if late >= 2 {
                    note += &format!(": ntfy received it {} before the clock applied it", human_duration(late));
                }
                let note = Input::AddNote { incident: claims.inc.clone(), by: Actor::Person(claims.by.clone()), text: note };
                effects.extend(self.engine.handle(&self.world, at, note).effects);
                (true, "acknowledged", String::new())
            }
            Some(Rejected::AlreadyAcknowledged(by)) => {
                let name = self.world.person(&by).map_or_else(|| by.to_string(), |p| p.name.clone());
                (true, "already", format!("by {name}"))
            }
            Some(Rejected::AlreadyResolved(_)) => (false, "resolved", String::new()),
            Some(other) => (false, "unknown", other.to_string()),
        };
        if ok {
            state.use_token(&token.id, claims.exp, now);
            state.accepted += 1;
        } else {
            let why = if why == "resolved" { Why::Resolved } else { Why::Unknown };
            state.refuse(why, format!("{} for {}", claims.title, claims.name), now);
        }
        let extra = vec![setting_record(REPLY_STATE, &state)];
        let step = self.persist(now, effects, extra).await?;
        self.reply_state = state;
        let answer = crate::reply::answer(&key, &token, ok, why, now, text);
        Ok(ReplyOutcome { answer: Some(answer), step: Some(step), refused: None })
    }

    async fn keep_reply_state(&mut self, state: ReplyState, outcome: ReplyOutcome, now: DateTime<Utc>) -> Result<ReplyOutcome, ActionError> {
        let mut batch = Batch::new();
        batch.put(&setting_record(REPLY_STATE, &state));
        self.commit(batch, now).await?;
        self.reply_state = state;
        Ok(outcome)
    }

    /// Every route due at `now`, with what to send; `origin` is the app's address for links.
    pub fn due_sends(&self, origin: &str, now: DateTime<Utc>) -> Vec<DueSend> {
        let rows: Vec<&OutboxRow> = self.outbox.values().filter(|r| r.state == DeliveryState::Pending && r.next_attempt_at.is_some_and(|t| t <= now)).collect();
        let lookup = |id: &str| self.engine.incident(id);
        let acks = self.reply.minter(&self.delivery.ntfy_server);
        let mut due = outbox::due(&rows, &lookup, &self.world, &self.delivery, acks.as_ref(), origin, now);
        // A route another epoch claimed moments ago may be on the wire: leave it for a while.
        due.retain(|d| {
            let claim = self.outbox.get(&d.key).and_then(|r| r.routes.get(d.route)).and_then(|r| r.claim);
            claim.is_none_or(|c| Some(c.epoch) == self.fence || (now - c.at).num_seconds() >= CLAIM_LEASE_SECS)
        });
        due
    }

    /// Records what an attempt came back with (relaxed durability: the page itself is already
    /// safely queued; losing an attempt record at worst repeats the attempt).
    pub async fn record_attempt(&mut self, key: &str, route: usize, result: &Outcome, latency_ms: u32, now: DateTime<Utc>) -> Result<(), ActionError> {
        let Some(mut row) = self.outbox.get(key).cloned() else { return Ok(()) };
        outbox::record(&mut row, route, result, latency_ms, &self.delivery, now);
        self.write_outbox(row, now).await
    }

    /// Queues a failed delivery's failed routes again (the "Retry" button).
    pub async fn retry_delivery(&mut self, key: &str, now: DateTime<Utc>) -> Result<(), ActionError> {
        let Some(mut row) = self.outbox.get(key).cloned() else { return Ok(()) };
        outbox::retry(&mut row, now);
        self.write_outbox(row, now).await
    }

    async fn write_outbox(&mut self, row: OutboxRow, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut batch = Batch::new();
        batch.put(&row);
        self.commit(batch, now).await?;
        self.outbox.insert(row.key.clone(), row);
        Ok(())
    }

    /// Adds or replaces a configuration record, after checking the whole world still holds
    /// together (every reference resolves). Live incidents keep the policy they were frozen with.
    pub async fn save<T: ConfigRecord>(&mut self, value: T, now: DateTime<Utc>) -> Result<T, ActionError> {
        let mut world = self.world.clone();
        value.clone().upsert_into(&mut world);
        validate(&world)?;
        let mut batch = Batch::new();
        batch.put(&value);
        let mut settings = self.settings.clone();
        if T::STORE == Rule::STORE && !settings.rule_order.iter().any(|r| *r == value.id()) {
            settings.rule_order.push(value.id().into());
            batch.put(&settings_record(&settings));
        }
        self.commit(batch, now).await?;
        self.world = world;
        self.settings = settings;
        Ok(value)
    }

    /// Removes a configuration record, unless something still refers to it.
    pub async fn remove<T: ConfigRecord>(&mut self, id: &str, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut world = self.world.clone();
        T::remove_from(&mut world, id);
        if world.default_policy.as_deref() == Some(id) && T::STORE == EscalationPolicy::STORE {
            world.default_policy = None;
        }
        validate(&world)?;
        let mut batch = Batch::new();
        batch.delete::<T>(id);
        let mut settings = self.settings.clone();
        settings.rule_order.retain(|r| r != id);
        settings.default_policy = world.default_policy.clone();
        batch.put(&settings_record(&settings));
        self.commit(batch, now).await?;
        self.world = world;
        self.settings = settings;
        Ok(())
    }

    /// Moves a rule one place earlier (`up`) or later in the order rules run. Moving the first
    /// rule up, or the last down, changes nothing.
    pub async fn move_rule(&mut self, id: &str, up: bool, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut order: Vec<RuleId> = self.world.rules.iter().map(|r| r.id.clone()).collect();
        let Some(at) = order.iter().position(|r| r == id) else {
            return Err(ActionError::NotFound(format!("rule {id}")));
        };
        let to = if up { at.checked_sub(1) } else { Some(at + 1).filter(|&to| to < order.len()) };
        let Some(to) = to else { return Ok(()) };
        order.swap(at, to);
        self.set_rule_order(order, now).await
    }

    /// Sets the order rules run in (team sync: the order another device chose). Rules it does not
    /// name keep their place after those it does.
    pub async fn set_rule_order(&mut self, order: Vec<RuleId>, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut rules = self.world.rules.clone();
        order_rules(&mut rules, &order);
        let settings = WorldSettings { rule_order: rules.iter().map(|r| r.id.clone()).collect(), ..self.settings.clone() };
        let mut batch = Batch::new();
        batch.put(&settings_record(&settings));
        self.commit(batch, now).await?;
        self.world.rules = rules;
        self.settings = settings;
        Ok(())
    }

    /// Every retrospective, by incident.
    pub fn retrospectives(&self) -> &BTreeMap<IncidentId, Retrospective> {
        &self.retrospectives
    }

    /// Adds or replaces the retrospective of a resolved incident (hot or archived), after
    /// [`Retrospective::validate`]: a refusal names each problem at its path (`items[1].owner`)
    /// and writes nothing.
    pub async fn save_retrospective(&mut self, retro: Retrospective, now: DateTime<Utc>) -> Result<(), ActionError> {
        let archived = match self.engine.incident(&retro.incident) {
            Some(_) => None,
            None => self.store.find_archived(&retro.incident).await?,
        };
        let incident = self.engine.incident(&retro.incident).or(archived.as_ref().map(|a| &a.incident));
        retro.validate(&self.world, incident).map_err(|problems| {
            crate::engine::format::FormatErrors(problems.into_iter().map(|p| crate::engine::format::FormatError { path: p.path, message: p.message }).collect())
        })?;
        let mut batch = Batch::new();
        batch.put(&retro);
        self.commit(batch, now).await?;
        self.retrospectives.insert(retro.incident.clone(), retro);
        Ok(())
    }

    /// The policy for incidents that ask for none and that no rule routes.
    pub async fn set_default_policy(&mut self, policy: Option<PolicyId>, now: DateTime<Utc>) -> Result<(), ActionError> {
        let mut world = self.world.clone();
        world.default_policy = policy.clone();
        validate(&world)?;
        let settings = WorldSettings { default_policy: policy, ..self.settings.clone() };
        let mut batch = Batch::new();
        batch.put(&settings_record(&settings));
        self.commit(batch, now).await?;
        self.world = world;
        self.settings = settings;
        Ok(())
    }

    /// Everything, as one JSON file. Webhook URLs are left out unless `include_secrets`.
    pub async fn export(&self, now: DateTime<Utc>, include_secrets: bool) -> Result<String, ActionError> {
        let mut stores = Vec::new();
        for name in STORES {
            stores.push((name, self.store.list_raw(name).await?));
        }
        Ok(backup::export(stores, now, include_secrets))
    }

    /// The audit log (JSON Lines, see [`crate::audit`]) of every incident as **stored**, hot and
    /// archived: each entry with the link stored beside it, computed only where a row has none,
    /// so an entry edited in storage after it was written shows as a broken link.
    pub async fn audit_log(&self) -> Result<String, ActionError> {
        let hot = chain::by_incident(values(self.store.list::<TimelineRow>().await?));
        let hot: Vec<(IncidentId, Vec<TimelineEntry>, Vec<Option<Link>>)> = hot
            .into_iter()
            .map(|(id, rows)| {
                let links = rows.iter().map(|r| r.link.clone()).collect();
                (id, rows.into_iter().map(|r| r.entry).collect(), links)
            })
            .collect();
        let mut archived = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.page::<ArchivedIncident>(after.as_deref(), ARCHIVE_BATCH).await?;
            let done = page.len() < ARCHIVE_BATCH;
            after = page.last().map(|e| e.id.clone());
            archived.extend(page.into_iter().map(|e| {
                let links = Link::of_chain(&e.value.chain);
                (e.value.incident, links)
            }));
            if done {
                break;
            }
        }
        let trails = hot
            .iter()
            .map(|(id, entries, links)| audit::Trail { incident: id, entries, links })
            .chain(archived.iter().map(|(i, links)| audit::Trail { incident: &i.id, entries: &i.timeline, links }));
        Ok(audit::export_linked(trails))
    }

    /// How long a resolved incident stays hot (in memory, in the engine) before it is archived: a
    /// day, or the longest look-back of a "recurring" rule when that is longer, so such rules
    /// still count it.
    pub fn hot_window(&self) -> chrono::Duration {
        let longest = self.world.rules.iter().filter_map(|r| r.when.as_ref()?.longest_lookback()).max();
        longest.map_or(HOT_AFTER_RESOLVE, |l| l.max(HOT_AFTER_RESOLVE))
    }

    /// Moves resolved incidents that can no longer change out of the hot stores into the archive:
    /// resolved longer than [`Driver::hot_window`] ago, with no delivery still pending. At most
    /// [`ARCHIVE_BATCH`] at a time, each in one transaction with its timeline and deliveries.
    /// Returns how many moved.
    pub async fn archive(&mut self, now: DateTime<Utc>) -> Result<usize, ActionError> {
        let before = now - self.hot_window();
        let pending: BTreeSet<&str> = self.outbox.values().filter(|r| r.state == DeliveryState::Pending).map(|r| r.incident.as_str()).collect();
        let ids: Vec<IncidentId> = self
            .engine
            .incidents()
            .filter(|i| !i.is_open() && i.resolved_at.is_some_and(|r| r < before) && !pending.contains(i.id.as_str()))
            .take(ARCHIVE_BATCH)
            .map(|i| i.id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        // Each moving incident's deliveries, in one pass over the outbox.
        let mut deliveries: BTreeMap<&str, Vec<OutboxRow>> = ids.iter().map(|id| (id.as_str(), Vec::new())).collect();
        for row in self.outbox.values() {
            if let Some(rows) = deliveries.get_mut(row.incident.as_str()) {
                rows.push(row.clone());
            }
        }
        let mut batch = Batch::new();
        let mut digests = Vec::new();
        for id in &ids {
            let Some(incident) = self.engine.incident(id) else { continue };
            let Some(resolved_at) = incident.resolved_at else { continue };
            let outbox = deliveries.remove(id.as_str()).unwrap_or_default();
            for row in &outbox {
                batch.delete::<OutboxRow>(&row.key);
            }
            for seq in 0..self.stored_timeline.get(id).copied().unwrap_or(0) {
                batch.delete::<TimelineRow>(&format!("{id}/{seq:08}"));
            }
            batch.delete::<StoredIncident>(id);
            let key = archive_key(resolved_at, id);
            digests.push(HistoryDigest::of(&key, incident));
            // The hashes its rows were stored with (computed only for an incident that has none).
            let chain = match self.chains.get(id) {
                Some(chain) if chain.len() == incident.timeline.len() => chain.clone(),
                _ => audit::chain(incident),
            };
            batch.put(&ArchivedIncident { key, incident_id: id.clone(), incident: incident.clone(), recorded: self.recorded_at(id).to_vec(), outbox, chain });
        }
        // Their digests join the newest chunk while it has room (an archive pass usually moves a
        // few incidents, newer than any before), else start chunks of their own.
        let newest = self.store.page::<DigestChunk>(None, 1).await?.into_iter().next().map(|e| e.value);
        if let Some(chunk) = newest.filter(|c| c.digests.len() + digests.len() <= DIGESTS_PER_CHUNK) {
            batch.delete::<DigestChunk>(&chunk.key);
            digests.extend(chunk.digests);
        }
        for chunk in DigestChunk::chunks(digests) {
            batch.put(&chunk);
        }
        if self.digests_ready {
            batch.put(&digests_complete());
        }
        self.commit(batch, now).await?;
        for id in &ids {
            self.engine.remove_resolved(id);
            self.stored_timeline.remove(id);
            self.recorded.remove(id);
            self.chains.remove(id);
        }
        let gone: BTreeSet<&IncidentId> = ids.iter().collect();
        self.outbox.retain(|_, r| !gone.contains(&r.incident));
        Ok(ids.len())
    }

    /// A page of archived incidents, newest resolved first, after the archive key `after`.
    pub async fn history(&self, after: Option<&str>, limit: usize) -> Result<Vec<ArchivedIncident>, ActionError> {
        Ok(self.store.page::<ArchivedIncident>(after, limit).await?.into_iter().map(|e| e.value).collect())
    }

    /// History digests (the compact copies of archived incidents) from `chunks` chunks after the
    /// chunk key `after`, newest chunk first, and where the next page starts (`None`: no more).
    /// Chunks may overlap in time: a reader looking back to a moment stops at the first chunk
    /// whose newest incident resolved before it ([`DigestChunk::newest_resolved`]).
    pub async fn digests(&self, after: Option<&str>, chunks: usize) -> Result<(Vec<DigestChunk>, Option<String>), ActionError> {
        let page: Vec<DigestChunk> = self.store.page::<DigestChunk>(after, chunks).await?.into_iter().map(|e| e.value).collect();
        let next = (page.len() == chunks).then(|| page.last().map(|c| c.key.clone())).flatten();
        Ok((page, next))
    }

    /// One page of every archived incident resolved at or after `since` (so every one opened
    /// since then), newest first, and where the next page starts (`None`: that was all). Reads
    /// digests when every archived incident has one, else the archive itself (while an upgrade is
    /// still being digested); a read keeps to the way it started. Chunks can overlap, so the same
    /// incident may come twice in one read: callers keep the first.
    pub async fn past_since(&self, since: DateTime<Utc>, from: PastCursor) -> Result<(Vec<Incident>, Option<PastCursor>), ActionError> {
        let digests = match &from {
            PastCursor::Start => self.digests_ready,
            PastCursor::Digests(_) => true,
            PastCursor::Archive(_) => false,
        };
        let after = match &from {
            PastCursor::Start => None,
            PastCursor::Digests(k) | PastCursor::Archive(k) => Some(k.as_str()),
        };
        if digests {
            let (chunks, next) = self.digests(after, PAST_CHUNKS_PER_PAGE).await?;
            let mut out = Vec::new();
            for chunk in chunks {
                if chunk.newest_resolved().is_some_and(|r| r < since) {
                    return Ok((out, None));
                }
                out.extend(chunk.digests.into_iter().map(|d| d.incident).filter(|i| i.resolved_at.is_some_and(|r| r >= since)));
            }
            Ok((out, next.map(PastCursor::Digests)))
        } else {
            let page = self.history(after, PAST_ARCHIVED_PER_PAGE).await?;
            let full = page.len() == PAST_ARCHIVED_PER_PAGE;
            let last = page.last().map(|a| a.key.clone());
            let out: Vec<Incident> = page.into_iter().map(|a| a.incident).take_while(|i| i.resolved_at.is_some_and(|r| r >= since)).collect();
            let next = (full && out.len() == PAST_ARCHIVED_PER_PAGE).then_some(last).flatten();
            Ok((out, next.map(PastCursor::Archive)))
        }
    }

    /// Whether every archived incident has its digest, so history can be read from digests alone.
    /// False after an upgrade from a Piket that had no digests, until [`Driver::digest_archive`]
    /// has caught up.
    pub fn digests_ready(&self) -> bool {
        self.digests_ready
    }

    /// Digests the next [`ARCHIVE_BATCH`] archived incidents that came from before digests
    /// existed, in one transaction. Returns how many were written (0 once all are done).
    pub async fn digest_archive(&mut self, now: DateTime<Utc>) -> Result<usize, ActionError> {
        if self.digests_ready {
            return Ok(0);
        }
        let page = self.store.page::<ArchivedIncident>(self.digest_cursor.as_deref(), ARCHIVE_BATCH).await?;
        let mut batch = Batch::new();
        for chunk in DigestChunk::chunks(page.iter().map(|row| HistoryDigest::of(&row.value.key, &row.value.incident)).collect()) {
            batch.put(&chunk);
        }
        let done = page.len() < ARCHIVE_BATCH;
        if done {
            batch.put(&digests_complete());
        }
        self.commit(batch, now).await?;
        self.digest_cursor = page.last().map(|r| r.id.clone());
        self.digests_ready = done;
        Ok(page.len())
    }

    /// One archived incident, by its id.
    pub async fn find_archived(&self, incident: &str) -> Result<Option<ArchivedIncident>, ActionError> {
        Ok(self.store.find_archived(incident).await?)
    }

    /// Replaces everything with a backup's contents, after checking the whole file. A refused file
    /// changes nothing.
    pub async fn import(self, text: &str, now: DateTime<Utc>) -> Result<(Driver<S>, Restore), (Driver<S>, ActionError)> {
        let fence = self.fence;
        let restore = match backup::parse_backup(text) {
            Ok(r) => r,
            Err(e) => return Err((self, e.into())),
        };
        // The clock's epoch is storage's own: keep it through the restore, so this tab stays the
        // clock (and a file cannot carry one in).
        let mut batch = restore.batch.clone();
        if let Some(epoch) = self.fence {
            batch.put(&epoch_row(epoch));
        }
        if let Err(e) = self.commit(batch, now).await {
            return Err((self, e.into()));
        }
        match Driver::try_load(self.store).await {
            Ok(mut driver) => {
                driver.fence = fence;
                Ok((driver, restore))
            }
            // Written but not readable back: hand back an empty driver over the same store, so the
            // tab keeps running and a reload reads again.
            Err((store, e)) => Err((Driver::empty(store), e)),
        }
    }

    /// Adds or replaces policies from a file of policies alone.
    pub async fn import_policies(&mut self, text: &str, now: DateTime<Utc>) -> Result<usize, ActionError> {
        let (batch, count) = backup::parse_policy_import(text, &self.world)?;
        self.commit(batch, now).await?;
        let policies = crate::engine::format::parse_policies(text)?;
        for p in policies {
            p.upsert_into(&mut self.world);
        }
        Ok(count)
    }
}

fn values<T>(rows: Vec<crate::storage::Envelope<T>>) -> Vec<T> {
    rows.into_iter().map(|e| e.value).collect()
}

fn order_rules(rules: &mut [Rule], order: &[RuleId]) {
    rules.sort_by_key(|r| order.iter().position(|id| *id == r.id).unwrap_or(usize::MAX));
}

fn setting_record<T: Serialize>(key: &str, value: &T) -> Setting {
    Setting { key: key.into(), value: serde_json::to_value(value).expect("settings serialize") }
}

/// "2 min 10 s", "45 s", "3 h 5 min".
fn human_duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn settings_record(settings: &WorldSettings) -> Setting {
    Setting { key: WORLD_SETTINGS.into(), value: serde_json::to_value(settings).expect("settings serialize") }
}

fn deadline_of(_engine: &Engine, incident: &Incident) -> Option<DateTime<Utc>> {
    let timers = &incident.escalation.as_ref()?.timers;
    [timers.wake, timers.checkpoint, timers.ack, timers.resolution, timers.stale, timers.reminder].into_iter().flatten().min()
}
