//! Storage: the only module that knows serialized schemas and IndexedDB.
//!
//! Everything Piket keeps goes through the [`Store`] trait. [`MemoryStore`] backs native tests and
//! the command-line tools; `IdbStore` (wasm only) keeps records in the browser's IndexedDB.
//! Each record is kept in an [`Envelope`] with a revision and an updated-at time, and every write
//! is journaled, so a later replication layer can tell which copy is newer and what changed.
//! Writes go in a [`Batch`]: one transaction, all or nothing. This module never decides anything:
//! validation belongs to the engine, sequencing to the runtime.

pub mod backup;
pub mod chain;
mod digest;
mod memory;
pub use memory::MemoryStore;

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::IdbStore;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub use crate::audit::Link;
use crate::engine::id::{ChannelId, IncidentId};
use crate::engine::incident::{EntryKind, Incident, TimelineEntry};
use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::{MaintenanceWindow, Rule};
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::{Channel, Team};
use crate::insight::retro::Retrospective;

/// Version of the stored schema; raised with a migration step whenever a store or index changes.
/// 1: people. 2: everything else (config, incidents, timeline, outbox, settings, journal).
/// 3: `archive`, resolved incidents moved out of the hot stores (index `by_incident`).
/// 4: `digests`, a compact copy of each archived incident for reading a year of history at once.
/// 5: `retrospectives`, one per resolved incident, keyed by the incident's id.
/// 6: the audit chain is stored: every timeline row carries its [`Link`], every archived incident
///    its `chain`; rows written before are linked right after the upgrade ([`chain::link_unlinked`]).
pub const SCHEMA_VERSION: u32 = 6;

/// A kind of record with its own object store.
pub trait Record: Serialize + DeserializeOwned + Clone + 'static {
    /// Object-store name (stable: part of the on-disk schema).
    const STORE: &'static str;
    fn id(&self) -> String;
}

macro_rules! record {
    ($t:ty, $store:literal, |$v:ident| $id:expr) => {
        impl Record for $t {
            const STORE: &'static str = $store;
            fn id(&self) -> String {
                let $v = self;
                $id
            }
        }
    };
}

record!(Person, "people", |p| p.id.to_string());
record!(Team, "teams", |t| t.id.to_string());
record!(Channel, "channels", |c| c.id.to_string());
record!(OnCallSchedule, "schedules", |s| s.id.to_string());
record!(EscalationPolicy, "policies", |p| p.id.to_string());
record!(Rule, "rules", |r| r.id.to_string());
record!(MaintenanceWindow, "maintenance", |m| m.id.clone());
record!(StoredIncident, "incidents", |i| i.incident.id.to_string());
record!(TimelineRow, "timeline", |t| t.id());
record!(OutboxRow, "outbox", |o| o.key.clone());
record!(Setting, "settings", |s| s.key.clone());
record!(ArchivedIncident, "archive", |a| a.key.clone());
record!(DigestChunk, "digests", |c| c.key.clone());
record!(Retrospective, "retrospectives", |r| r.incident.to_string());

/// Every object store, in the order a backup lists them. The journal is internal.
pub const STORES: [&str; 13] = [
    "people",
    "teams",
    "channels",
    "schedules",
    "policies",
    "rules",
    "maintenance",
    "incidents",
    "timeline",
    "outbox",
    "settings",
    "archive",
    "retrospectives",
];
/// Stores derived from others: never exported, emptied and rebuilt by a restore.
pub const DERIVED: [&str; 1] = ["digests"];
/// The append-only log of every write (store, id, revision, time, put or delete).
pub const JOURNAL: &str = "journal";

/// An incident as stored: its timeline lives in the `timeline` store, and the fields the
/// screens query by are copied out so IndexedDB can index them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredIncident {
    /// The incident with an empty `timeline`.
    pub incident: Incident,
    /// Earliest pending deadline, in Unix milliseconds (index `by_deadline`).
    pub deadline_ms: Option<i64>,
    /// Status name (index `by_status`).
    pub status: String,
    /// Affected service (index `by_service`).
    pub service: String,
}

impl StoredIncident {
    pub fn new(incident: &Incident, deadline: Option<DateTime<Utc>>) -> StoredIncident {
        let mut incident = incident.clone();
        incident.timeline.clear();
        StoredIncident {
            deadline_ms: deadline.map(|d| d.timestamp_millis()),
            status: incident.status.as_str().to_string(),
            service: incident.details.service.clone(),
            incident,
        }
    }
}

/// A resolved incident moved out of the hot stores (`incidents`, `timeline`, `outbox`) once
/// nothing about it can change any more: the incident with its whole timeline, when each entry
/// was recorded, and its deliveries, in one record. Keyed by [`archive_key`], so key order is
/// newest first and history reads a page at a time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchivedIncident {
    pub key: String,
    /// The incident's id (index `by_incident`).
    pub incident_id: IncidentId,
    pub incident: Incident,
    /// When each timeline entry was recorded (same order as the timeline).
    #[serde(default)]
    pub recorded: Vec<DateTime<Utc>>,
    /// Every page and post of the incident, with their attempts.
    #[serde(default)]
    pub outbox: Vec<OutboxRow>,
    /// The audit hash of each timeline entry (same order as the timeline), carried over from the
    /// links its rows had; empty only in records written before the chain was stored.
    #[serde(default)]
    pub chain: Vec<String>,
}

/// A compact copy of one archived incident, under the same key: what reading a year of history at
/// once needs (the Lab's Replay, reports) and nothing else — the incident with the typed part of
/// its timeline, without the words of each entry, its page keys, when each was recorded, or the
/// delivery log. Derived from the archive: written in the same transaction as its
/// [`ArchivedIncident`], never exported, rebuilt by a restore and, after an upgrade, by the clock.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryDigest {
    pub key: String,
    pub incident: Incident,
}

impl HistoryDigest {
    /// The digest of an archived incident. Entry words are kept only where they are the one place
    /// that names what acted (a rule applied, a suppression).
    pub fn of(key: &str, incident: &Incident) -> HistoryDigest {
        let mut incident = incident.clone();
        for e in &mut incident.timeline {
            e.key = None;
            if !matches!(e.kind, EntryKind::RuleApplied | EntryKind::Suppressed) {
                e.detail.clear();
            }
        }
        HistoryDigest { key: key.to_string(), incident }
    }
}

/// Digests kept in one record. A browser reads a few hundred records far faster than 50 000, and
/// each packs to a few hundred bytes.
pub const DIGESTS_PER_CHUNK: usize = 250;

/// Up to [`DIGESTS_PER_CHUNK`] history digests in one record, keyed by the smallest archive key
/// among them (its newest resolution), so plain key order reads the newest history first and a
/// reader can stop at the first chunk whose newest incident resolved before the period began.
/// Stored packed, as one short string (see `digest.rs`).
#[derive(Clone, Debug, PartialEq)]
pub struct DigestChunk {
    pub key: String,
    /// Newest resolved first.
    pub digests: Vec<HistoryDigest>,
}

impl DigestChunk {
    /// Chunks of at most [`DIGESTS_PER_CHUNK`] for these digests, each sorted newest first.
    pub fn chunks(mut digests: Vec<HistoryDigest>) -> Vec<DigestChunk> {
        digests.sort_by(|a, b| a.key.cmp(&b.key));
        digests.dedup_by(|a, b| a.key == b.key);
        let mut out = Vec::new();
        while !digests.is_empty() {
            let rest = digests.split_off(digests.len().min(DIGESTS_PER_CHUNK));
            out.push(DigestChunk { key: digests[0].key.clone(), digests });
            digests = rest;
        }
        out
    }

    /// When the newest incident in the chunk was resolved (from its key).
    pub fn newest_resolved(&self) -> Option<DateTime<Utc>> {
        resolved_of_key(&self.key)
    }
}

impl Serialize for DigestChunk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&digest::pack(&self.digests))
    }
}

impl<'de> Deserialize<'de> for DigestChunk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<DigestChunk, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        let digests = digest::unpack(&text).map_err(serde::de::Error::custom)?;
        let key = digests.first().map(|g| g.key.clone()).ok_or_else(|| serde::de::Error::custom("an empty chunk of history digests"))?;
        Ok(DigestChunk { key, digests })
    }
}

/// The settings row saying every archived incident has its digest (written by a restore, by the
/// clock once it has digested an upgraded archive, and by every archive pass after that).
pub const DIGESTS_COMPLETE: &str = "history-digests";

/// The latest time an archive key can hold (9999-12-31T23:59:59.999Z), in Unix milliseconds.
const ARCHIVE_MAX_MS: i64 = 253_402_300_799_999;

/// An archived incident's key: its resolution time counted down from the year 9999, then its id,
/// so the archive lists newest first in plain key order (`000…/id`).
pub fn archive_key(resolved_at: DateTime<Utc>, id: &str) -> String {
    let ms = resolved_at.timestamp_millis().clamp(0, ARCHIVE_MAX_MS);
    format!("{:015}/{id}", ARCHIVE_MAX_MS - ms)
}

/// The resolution time an archive key was made from.
pub fn resolved_of_key(key: &str) -> Option<DateTime<Utc>> {
    let down: i64 = key.get(..15)?.parse().ok()?;
    DateTime::from_timestamp_millis(ARCHIVE_MAX_MS - down)
}

/// One timeline entry of one incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub incident: IncidentId,
    /// Position in the incident's timeline, from 0.
    pub seq: u32,
    pub entry: TimelineEntry,
    /// When the runtime actually recorded it; later than `entry.at` when a sleeping tab caught up.
    pub recorded_at: DateTime<Utc>,
    /// The entry's audit link to the incident's previous entry, as it was written (none only in
    /// rows written before the chain was stored, until they are linked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
}

impl TimelineRow {
    pub fn id(&self) -> String {
        format!("{}/{:08}", self.incident, self.seq)
    }
    /// How late this step fired, when it fired late at all.
    pub fn lateness(&self) -> chrono::Duration {
        self.recorded_at - self.entry.at
    }
}

/// A page or post waiting to be (or already) delivered. Keyed by the engine's idempotency key,
/// so the same page can never be queued twice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxRow {
    pub key: String,
    pub incident: IncidentId,
    /// What to deliver.
    pub delivery: crate::engine::escalation::Delivery,
    /// Intended time (the deadline the page belongs to).
    pub at: DateTime<Utc>,
    pub queued_at: DateTime<Utc>,
    /// Summary of the routes: pending while any route is, failed when one gave up.
    pub state: DeliveryState,
    /// Every attempt on every route, oldest first (the incident's delivery log).
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// When the next route is due (pending rows only).
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The ways this page or post goes out (a notification, ntfy, a webhook, a channel).
    #[serde(default)]
    pub routes: Vec<RouteState>,
    /// What the message announces, when it is not the timeline entry with the same key (posts to
    /// an incident's phase channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<crate::delivery::Event>,
}

/// One way a page or post goes out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "via")]
pub enum Route {
    /// A Web Notification on this device, with an Acknowledge action.
    Notification,
    /// The person's ntfy topic on the configured ntfy server.
    Ntfy { topic: String },
    /// The person's own webhook (generic JSON).
    Webhook { url: String },
    /// A configured channel.
    Channel { id: ChannelId },
}

/// Where one route stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteState {
    pub route: Route,
    pub status: RouteStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub first_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last outcome, in words.
    #[serde(default)]
    pub last: String,
    /// Which clock epoch is sending it, since when: another epoch leaves it alone for a while,
    /// so a send in flight during a handover is not repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
}

/// A route being sent by the tab holding clock epoch `epoch`, since `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub epoch: u64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteStatus {
    Pending,
    Delivered,
    /// Sent, but the answer cannot be read (`no-cors`).
    Unverified,
    Failed,
    /// Not available here (notifications not allowed): does not count as reaching anyone.
    Skipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Sent, but the target's answer cannot be read (`no-cors`).
    Unverified,
    Failed,
    /// Not sent: a catch-up made several of this person's (or channel's) pages due at once, and
    /// they were folded into one.
    Folded,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// Which route (`notification`, `ntfy`, `webhook`, `channel:<id>`).
    #[serde(default)]
    pub route: String,
    /// HTTP status; 0 for an opaque answer; None for a network error.
    pub status: Option<u16>,
    pub latency_ms: u32,
    #[serde(default)]
    pub note: String,
}

/// A named setting (JSON value).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
}

/// How a record is kept: the value plus what replication needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub id: String,
    /// Starts at 1; every write of the same id adds one.
    pub rev: u64,
    pub updated_at: DateTime<Utc>,
    pub value: T,
}

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub store: String,
    pub id: String,
    pub rev: u64,
    pub at: DateTime<Utc>,
    /// `"put"`, `"delete"`, or `"clear"` (the whole store; `id` is `*`).
    pub op: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the browser's storage is not available: {0}")]
    Unavailable(String),
    #[error("storage is full: nothing was saved. Free some space, or export and clear old incidents ({0})")]
    QuotaExceeded(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("storage failed, nothing was saved: {0}")]
    Other(String),
    /// The batch was fenced with an epoch that is no longer the clock's.
    #[error("another tab has taken over the clock; this tab changed nothing")]
    Fenced,
}

/// One write inside a [`Batch`].
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Put {
        store: &'static str,
        id: String,
        value: serde_json::Value,
    },
    Delete {
        store: &'static str,
        id: String,
    },
    /// Empty a whole store (restore from backup).
    Clear {
        store: &'static str,
    },
}

/// Writes applied together in one transaction: all of them or none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub ops: Vec<Op>,
    /// Flush to disk before reporting success (IndexedDB `durability: "strict"`): for writes that
    /// must survive a crash, such as a page about to be sent.
    pub strict: bool,
    /// Commit only while the stored clock epoch ([`CLOCK_EPOCH`]) is this one; otherwise write
    /// nothing and fail with [`StoreError::Fenced`]. The tab keeping the clock fences every write,
    /// so a leader that was hung while another tab took over cannot write (or send) anything.
    pub fence: Option<u64>,
}

/// The settings row holding the clock's leadership epoch: `{"epoch": N}`. Each tab that takes the
/// clock raises it. Storage's own: never exported, never restored.
pub const CLOCK_EPOCH: &str = "clock-epoch";

/// Team sync's settings row: exported, but its password is a secret like webhook URLs.
pub const TEAM_SYNC_SETTINGS: &str = "team-sync";
/// Team sync's per-device state (the synced documents, checkpoints): never exported or restored;
/// a restored device syncs afresh.
pub const TEAM_SYNC_STATE: &str = "team-sync-state";

/// The epoch in a settings row's value.
pub fn epoch_of(value: &serde_json::Value) -> u64 {
    value.get("value").and_then(|v| v.get("epoch")).and_then(|e| e.as_u64()).unwrap_or(0)
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }
    pub fn put<T: Record>(&mut self, value: &T) -> &mut Self {
        let json = serde_json::to_value(value).expect("records serialize to JSON");
        self.ops.push(Op::Put { store: T::STORE, id: value.id(), value: json });
        self
    }
    pub fn delete<T: Record>(&mut self, id: &str) -> &mut Self {
        self.ops.push(Op::Delete { store: T::STORE, id: id.to_string() });
        self
    }
    pub fn clear(&mut self, store: &'static str) -> &mut Self {
        self.ops.push(Op::Clear { store });
        self
    }
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// A shared store (several drivers over one database, as several tabs are).
impl<S: Store> Store for std::rc::Rc<S> {
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError> {
        (**self).list().await
    }
    async fn list_raw(&self, store: &'static str) -> Result<Vec<Envelope<serde_json::Value>>, StoreError> {
        (**self).list_raw(store).await
    }
    async fn commit(&self, batch: Batch, now: DateTime<Utc>) -> Result<(), StoreError> {
        (**self).commit(batch, now).await
    }
    async fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        (**self).journal().await
    }
    async fn page<T: Record>(&self, after: Option<&str>, limit: usize) -> Result<Vec<Envelope<T>>, StoreError> {
        (**self).page(after, limit).await
    }
    async fn find_archived(&self, incident: &str) -> Result<Option<ArchivedIncident>, StoreError> {
        (**self).find_archived(incident).await
    }
    async fn count(&self, store: &'static str) -> Result<usize, StoreError> {
        (**self).count(store).await
    }
}

/// Where Piket keeps its records.
///
/// Methods are async because IndexedDB is; the in-memory store answers at once.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Every record of a kind, in id order.
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError>;
    /// Every record of a store as raw JSON envelopes (for backups).
    async fn list_raw(&self, store: &'static str) -> Result<Vec<Envelope<serde_json::Value>>, StoreError>;
    /// Applies every write in one transaction, raising revisions and journaling each write.
    async fn commit(&self, batch: Batch, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// The journal, oldest first.
    async fn journal(&self) -> Result<Vec<JournalEntry>, StoreError>;
    /// Up to `limit` records of a kind in key order, starting after the key `after`.
    async fn page<T: Record>(&self, after: Option<&str>, limit: usize) -> Result<Vec<Envelope<T>>, StoreError>;
    /// The archived incident with this incident id, if it was archived.
    async fn find_archived(&self, incident: &str) -> Result<Option<ArchivedIncident>, StoreError>;
    /// How many records a store holds.
    async fn count(&self, store: &'static str) -> Result<usize, StoreError>;

    /// Inserts or replaces one record.
    async fn put<T: Record>(&self, value: &T, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.put(value);
        self.commit(batch, now).await
    }
    /// Removes one record; removing a missing id is not an error.
    async fn delete<T: Record>(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut batch = Batch::new();
        batch.delete::<T>(id);
        self.commit(batch, now).await
    }
}
