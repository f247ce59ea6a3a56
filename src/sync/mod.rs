//! Team sync: Piket's records shared through CouchDB's replication protocol.
//!
//! Pure, like the engine: nothing here touches the network or the browser. The protocol is
//! written against the [`Db`] trait, which both ends of a replication implement — the local
//! document store ([`MemoryDb`]: revision trees kept beside Piket's own stores) and a CouchDB
//! database over HTTP ([`HttpDb`], generic over a [`Transport`]: `fetch` in the browser, a plain
//! socket in native tests). [`replicate`] copies every change one way, as CouchDB's replication
//! protocol describes it: compare the checkpoints (`_local/` on both sides), read `_changes`
//! (`style=all_docs`), ask `_revs_diff` what is missing, fetch those revisions with their history
//! (`_bulk_get`, falling back to `open_revs`), write them with `_bulk_docs` and `new_edits: false`,
//! and record a checkpoint after each batch.
//!
//! - `rev.rs` — revisions (`N-hash`), revision trees, the winner, conflicts, stemming.
//! - `local.rs` — the local document store: trees, leaf bodies, a sequence of changes.
//! - `http.rs` — the protocol's requests and answers, over a [`Transport`].
//! - `replicate.rs` — one-way replication and its checkpoints.
//! - `lease.rs` — the team clock's lease: which device runs the clock, taken and renewed by PUT.

mod http;
pub mod lease;
mod local;
mod replicate;
pub mod rev;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use http::{encode, HttpDb, HttpRequest, HttpResponse, Method, Transport};
pub use local::{LocalDocs, MemoryDb};
pub use replicate::{replicate, start_seq, Checkpoint, CheckpointEntry, Options, Outcome};
pub use rev::{BadRev, Rev, RevTree, Revisions};

/// A position in a database's change feed: a number for PouchDB, an opaque string for CouchDB 2+.
pub type Seq = Value;

/// The sequence before the first change.
pub fn seq_zero() -> Seq {
    Value::from(0)
}

/// One document in a change feed, with every leaf revision (`style=all_docs`).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: Seq,
    pub id: String,
    pub revs: Vec<Rev>,
    /// Whether the winning revision is a deletion.
    pub deleted: bool,
}

/// A page of a change feed.
#[derive(Clone, Debug, PartialEq)]
pub struct Changes {
    pub results: Vec<Change>,
    pub last_seq: Seq,
}

/// Revisions wanted, per document id.
pub type RevMap = BTreeMap<String, Vec<Rev>>;

/// One revision of a document with its history, as `_bulk_get` and `open_revs` return it and
/// `_bulk_docs` with `new_edits: false` takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct RevDoc {
    pub id: String,
    pub rev: Rev,
    pub deleted: bool,
    pub revisions: Revisions,
    /// The document's own fields (none starting with `_`).
    pub body: Map<String, Value>,
}

impl RevDoc {
    /// The document as CouchDB writes it.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("_id".into(), Value::from(self.id.clone()));
        doc.insert("_rev".into(), Value::from(self.rev.to_string()));
        if self.deleted {
            doc.insert("_deleted".into(), Value::Bool(true));
        }
        doc.insert("_revisions".into(), serde_json::to_value(&self.revisions).expect("plain fields"));
        for (k, v) in &self.body {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }

    /// Reads a document with `_id`, `_rev` and `_revisions`; other `_` fields are dropped.
    pub fn from_json(doc: &Value) -> Result<RevDoc, SyncError> {
        let bad = |what: &str| SyncError::Malformed(format!("a document {what}"));
        let obj = doc.as_object().ok_or_else(|| bad("that is not an object"))?;
        let id = obj.get("_id").and_then(Value::as_str).ok_or_else(|| bad("without _id"))?.to_string();
        let rev_text = obj.get("_rev").and_then(Value::as_str).ok_or_else(|| bad("without _rev"))?;
        let rev = Rev::parse(rev_text).map_err(|e| SyncError::Malformed(e.to_string()))?;
        let revisions: Revisions = match obj.get("_revisions") {
            Some(v) => serde_json::from_value(v.clone()).map_err(|_| bad("with unreadable _revisions"))?,
            None => Revisions { start: rev.pos, ids: vec![rev.hash.clone()] },
        };
        if revisions.start != rev.pos || revisions.ids.first() != Some(&rev.hash) {
            return Err(bad("whose _revisions does not start at its _rev"));
        }
        revisions.revs().map_err(|e| SyncError::Malformed(e.to_string()))?;
        let deleted = obj.get("_deleted").and_then(Value::as_bool).unwrap_or(false);
        let body = obj.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(RevDoc { id, rev, deleted, revisions, body })
    }
}

/// What went wrong talking to a database.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SyncError {
    /// No answer at all: offline, refused, a name that does not resolve, or (in a browser) a
    /// server that does not allow this page's origin (CORS).
    #[error("no answer from the database: {0}")]
    Network(String),
    /// The database answered with an error status.
    #[error("the database answered {status}: {error}{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") })]
    Http { status: u16, error: String, reason: String },
    /// The answer was not what the protocol says.
    #[error("the database's answer could not be read: {0}")]
    Malformed(String),
    /// The local store failed.
    #[error("local storage failed: {0}")]
    Storage(String),
}

impl SyncError {
    pub fn status(&self) -> Option<u16> {
        match self {
            SyncError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// One end of a replication.
#[allow(async_fn_in_trait)]
pub trait Db {
    /// Identifies the database in replication ids (its URL, or the device's store id).
    fn identity(&self) -> String;
    /// Changes after `since`, at most `limit`. With `wait_ms`, an end that can wait for a change
    /// (a longpoll) may wait up to that long when there is none.
    async fn changes(&self, since: &Seq, limit: usize, wait_ms: Option<u32>) -> Result<Changes, SyncError>;
    /// Which of these revisions the database does not have.
    async fn revs_diff(&self, revs: &RevMap) -> Result<RevMap, SyncError>;
    /// These revisions with their history. A revision the database no longer has is left out.
    async fn get_revs(&self, revs: &RevMap) -> Result<Vec<RevDoc>, SyncError>;
    /// Stores revisions as they are (`new_edits: false`); returns the ids it refused, with why.
    async fn put_revs(&self, docs: &[RevDoc]) -> Result<Vec<(String, String)>, SyncError>;
    /// A `_local/` document (not replicated): checkpoints.
    async fn get_local(&self, id: &str) -> Result<Option<Value>, SyncError>;
    async fn put_local(&self, id: &str, doc: &Value) -> Result<(), SyncError>;
}

#[derive(Deserialize, Serialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    reason: String,
}
