//! [`Store`] on the browser's IndexedDB.
//!
//! One database, `piket`, at [`SCHEMA_VERSION`]; one object store per record kind, keyed by the
//! envelope's `id`, plus the auto-numbered `journal`. Migrations run in `upgradeneeded`, one step
//! per version, so a database written by any earlier version opens without losing anything.

use chrono::{DateTime, Utc};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{TransactionDurability, TransactionMode, TransactionOptions};
use indexed_db_futures::KeyPath;

use indexed_db_futures::KeyRange;
use serde_json::Value;
use wasm_bindgen::JsValue;

use super::{ArchivedIncident, Batch, Envelope, JournalEntry, Op, Record, Store, StoreError, JOURNAL, SCHEMA_VERSION};

/// Piket's IndexedDB database.
pub struct IdbStore {
    db: Database,
}

impl IdbStore {
    /// Opens (creating or upgrading as needed) the database called `name`; the app uses
    /// `"piket"`, tests a fresh name each.
    pub async fn open(name: &str) -> Result<IdbStore, StoreError> {
        Self::open_at(name, SCHEMA_VERSION).await
    }

    /// Opens at an older schema version: lets tests write a database as an earlier Piket did.
    #[doc(hidden)]
    pub async fn open_at(name: &str, version: u32) -> Result<IdbStore, StoreError> {
        let db = Database::open(name)
            .with_version(version)
            .with_on_upgrade_needed(move |event, db| {
                let old = event.old_version() as u32;
                // Version 1: people.
                if old < 1 {
                    db.create_object_store("people").with_key_path(KeyPath::One("id")).build()?;
                }
                // Version 2: the rest of the configuration, incidents and what happens to them.
                if old < 2 && version >= 2 {
                    for store in ["teams", "channels", "schedules", "policies", "rules", "maintenance", "timeline", "outbox", "settings"] {
                        db.create_object_store(store).with_key_path(KeyPath::One("id")).build()?;
                    }
                    let incidents = db.create_object_store("incidents").with_key_path(KeyPath::One("id")).build()?;
                    incidents.create_index("by_deadline", KeyPath::One("value.deadline_ms")).build()?;
                    incidents.create_index("by_status", KeyPath::One("value.status")).build()?;
                    incidents.create_index("by_service", KeyPath::One("value.service")).build()?;
                    db.create_object_store(JOURNAL).with_auto_increment(true).build()?;
                }
                // Version 3: the archive of resolved incidents, newest first by key, found by id.
                if old < 3 && version >= 3 {
                    let archive = db.create_object_store("archive").with_key_path(KeyPath::One("id")).build()?;
                    archive.create_index("by_incident", KeyPath::One("value.incident_id")).build()?;
                }
                // Version 4: a compact digest of each archived incident, under the archive's key.
                // Archives written before are digested by the clock after the upgrade.
                if old < 4 && version >= 4 {
                    db.create_object_store("digests").with_key_path(KeyPath::One("id")).build()?;
                }
                // Version 5: retrospectives of resolved incidents, keyed by the incident's id.
                if old < 5 && version >= 5 {
                    db.create_object_store("retrospectives").with_key_path(KeyPath::One("id")).build()?;
                }
                // Version 6: every timeline row carries its audit link, every archived incident
                // its chain. Rows written before have none: the upgrade itself only says so (in
                // its own transaction, so the version cannot be raised without it), and
                // `link_unlinked` links them right after opening.
                if (2..6).contains(&old) && version >= 6 {
                    mark_audit_chain_pending(&db)?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = IdbStore { db };
        if version >= 6 {
            // Cut short (the tab closed), this resumes on the next open; failing (a full disk),
            // Piket still runs, linking new rows to hashes computed from the old ones.
            if let Err(e) = super::chain::link_unlinked(&store, now()).await {
                web_sys::console::warn_1(&format!("Piket: the audit chain of older timeline entries is not stored yet: {e}").into());
            }
        }
        Ok(store)
    }

    /// Every row of one object store, in key order, as JSON.
    async fn all_rows(&self, store_name: &str) -> Result<Vec<Value>, StoreError> {
        if !self.has(store_name) {
            return Ok(Vec::new());
        }
        let tx = self.db.transaction(store_name).build().map_err(fail)?;
        let store = tx.object_store(store_name).map_err(fail)?;
        let rows = store.get_all::<JsValue>().primitive().map_err(fail)?.await.map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut array = Vec::new();
        for row in rows {
            array.push(row.map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        as_json(store_name, array)
    }

    /// Every record of one object store, in key order.
    async fn get_all<T: serde::de::DeserializeOwned>(&self, store_name: &str) -> Result<Vec<Envelope<T>>, StoreError> {
        self.all_rows(store_name).await?.into_iter().map(|row| envelope_of(store_name, row)).collect()
    }

    /// Whether this database has the store: one opened at an older version (a migration test
    /// writing as an earlier Piket did) lacks the later ones, which then read as empty.
    fn has(&self, store_name: &str) -> bool {
        self.db.object_store_names().any(|n| n == store_name)
    }

    /// Names of the object stores this database has (for the migration test).
    pub fn store_names(&self) -> Vec<String> {
        self.db.object_store_names().collect()
    }

    /// Closes the connection (so a test can reopen at another version).
    pub fn close(self) {
        self.db.close();
    }
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// Leaves the [`super::chain::AUDIT_CHAIN_PENDING`] settings row in the upgrade transaction.
/// That transaction is reached only through a store created in it, so one is created for the
/// purpose and deleted again before the upgrade ends.
fn mark_audit_chain_pending(db: &Database) -> indexed_db_futures::Result<()> {
    const SCRATCH: &str = "upgrade-scratch";
    let scratch = db.create_object_store(SCRATCH).build()?;
    let settings = scratch.transaction().object_store("settings")?;
    let marker = super::chain::pending_marker();
    let row = Envelope { id: marker.key.clone(), rev: 1, updated_at: now(), value: marker };
    let row = to_js(&row).map_err(|e| indexed_db_futures::error::Error::from(js_sys::Error::new(&e.to_string())))?;
    let _request = settings.put(row).primitive()?;
    db.delete_object_store(SCRATCH)?;
    Ok(())
}

/// A record as the JS object IndexedDB keeps: written as JSON text by serde_json and made an object
/// by the browser's `JSON.parse`, the mirror of how rows are read (see [`as_json`]).
fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, StoreError> {
    let text = serde_json::to_string(value).map_err(|e| StoreError::Other(format!("a record could not be written: {e}")))?;
    js_sys::JSON::parse(&text).map_err(|_| StoreError::Other("a record could not be written as JSON".into()))
}

/// Rows read from IndexedDB, as JSON: they go through the browser's own `JSON.stringify` and then
/// serde_json, many times faster for large nested records than converting each JS object field by
/// field, and the one way every record is read (see `crate::json`).
fn as_json(store_name: &str, rows: Vec<JsValue>) -> Result<Vec<Value>, StoreError> {
    let array: js_sys::Array = rows.into_iter().collect();
    let text: String = js_sys::JSON::stringify(&array).map_err(|_| StoreError::Corrupt(format!("{store_name}: rows that cannot be read as JSON")))?.into();
    match crate::json::parse(&text) {
        Ok(Value::Array(rows)) => Ok(rows),
        Ok(_) => Err(StoreError::Corrupt(format!("{store_name}: rows that are not a list"))),
        Err(e) => Err(StoreError::Corrupt(format!("{store_name}: {e}"))),
    }
}

/// One stored row, `{id, rev, updated_at, value}`, as an [`Envelope`] of `T`. The envelope's
/// fields are taken apart by hand so that only `T` itself is deserialized: one copy of its code
/// for every way Piket reads it.
fn envelope_of<T: serde::de::DeserializeOwned>(store_name: &str, row: Value) -> Result<Envelope<T>, StoreError> {
    let Value::Object(mut row) = row else { return Err(StoreError::Corrupt(format!("{store_name}: a row that is not an object"))) };
    let Some(Value::String(id)) = row.remove("id") else { return Err(StoreError::Corrupt(format!("{store_name}: a row without an id"))) };
    let corrupt = |e: crate::json::PathError| StoreError::Corrupt(format!("{store_name}/{id}: {e}"));
    let rev = row.get("rev").and_then(Value::as_u64).ok_or_else(|| StoreError::Corrupt(format!("{store_name}/{id}: no revision")))?;
    let updated_at: DateTime<Utc> = crate::json::stored_from_value(row.remove("updated_at").unwrap_or(Value::Null)).map_err(corrupt)?;
    // A stored `null` reads back as no field at all (IndexedDB keeps it as `undefined`).
    let value = crate::json::stored_from_value(row.remove("value").unwrap_or(Value::Null)).map_err(corrupt)?;
    Ok(Envelope { id, rev, updated_at, value })
}

fn fail(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    if text.contains("Quota") {
        StoreError::QuotaExceeded(text)
    } else {
        StoreError::Other(text)
    }
}

impl Store for IdbStore {
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError> {
        self.get_all(T::STORE).await
    }

    async fn list_raw(&self, store_name: &'static str) -> Result<Vec<Envelope<serde_json::Value>>, StoreError> {
        self.get_all(store_name).await
    }

    async fn commit(&self, batch: Batch, now: DateTime<Utc>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut names: Vec<&str> = batch
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { store, .. } | Op::Delete { store, .. } | Op::Clear { store } => *store,
            })
            .collect();
        names.push(JOURNAL);
        if batch.fence.is_some() {
            names.push("settings");
        }
        names.sort_unstable();
        names.dedup();
        let mut options = TransactionOptions::new();
        options.set_durability(if batch.strict { TransactionDurability::Strict } else { TransactionDurability::Relaxed });
        let tx = self.db.transaction(names).with_mode(TransactionMode::Readwrite).with_options(options).build().map_err(fail)?;
        let journal = tx.object_store(JOURNAL).map_err(fail)?;
        if let Some(epoch) = batch.fence {
            // Read inside the same transaction as the writes: no other tab can raise the epoch
            // between this check and the commit.
            let settings = tx.object_store("settings").map_err(fail)?;
            let row: Option<JsValue> = settings.get(super::CLOCK_EPOCH).primitive().map_err(fail)?.await.map_err(fail)?;
            let row = match row {
                Some(row) => Some(envelope_of::<serde_json::Value>("settings", as_json("settings", vec![row])?.remove(0))?),
                None => None,
            };
            if row.map_or(0, |r| super::epoch_of(&r.value)) != epoch {
                let _ = tx.abort().await;
                return Err(StoreError::Fenced);
            }
        }
        // Revisions: read the previous envelope of every record this batch puts, all at once —
        // except in stores the batch empties first (a restore), where every record starts at 1.
        let mut cleared: Vec<&str> = Vec::new();
        let mut to_read: Vec<(&str, String)> = Vec::new();
        for op in &batch.ops {
            match op {
                Op::Clear { store } => cleared.push(store),
                Op::Put { store, id, .. } if !cleared.contains(store) => to_read.push((store, id.clone())),
                _ => {}
            }
        }
        let mut reads = Vec::with_capacity(to_read.len());
        for (name, id) in &to_read {
            let store = tx.object_store(name).map_err(fail)?;
            reads.push(store.get::<JsValue, _, _>(id.as_str()).primitive().map_err(fail)?);
        }
        let mut revs: std::collections::HashMap<(&str, String), u64> = std::collections::HashMap::new();
        for ((name, id), read) in to_read.into_iter().zip(futures::future::join_all(reads).await) {
            // Only the previous revision is needed: read that one field of the stored object.
            if let Some(previous) = read.map_err(fail)? {
                let rev = js_sys::Reflect::get(&previous, &JsValue::from_str("rev")).ok().and_then(|r| r.as_f64()).unwrap_or(0.0);
                revs.insert((name, id), rev as u64);
            }
        }
        // Then issue every write in order without waiting for each: IndexedDB runs a
        // transaction's requests in order, and any failure aborts the whole transaction.
        for op in batch.ops {
            let entry = match op {
                Op::Put { store: name, id, value } => {
                    let rev = revs.get(&(name, id.clone())).map_or(1, |r| r + 1);
                    revs.insert((name, id.clone()), rev);
                    let store = tx.object_store(name).map_err(fail)?;
                    let _request = store.put(to_js(&Envelope { id: id.clone(), rev, updated_at: now, value })?).primitive().map_err(fail)?;
                    JournalEntry { store: name.into(), id, rev, at: now, op: "put".into() }
                }
                Op::Delete { store: name, id } => {
                    let store = tx.object_store(name).map_err(fail)?;
                    let _request = store.delete(id.as_str()).primitive().map_err(fail)?;
                    revs.remove(&(name, id.clone()));
                    JournalEntry { store: name.into(), id, rev: 0, at: now, op: "delete".into() }
                }
                Op::Clear { store: name } => {
                    let _request = tx.object_store(name).map_err(fail)?.clear().map_err(fail)?;
                    revs.retain(|(s, _), _| *s != name);
                    JournalEntry { store: name.into(), id: "*".into(), rev: 0, at: now, op: "clear".into() }
                }
            };
            let _request = journal.add(to_js(&entry)?).primitive().map_err(fail)?;
        }
        tx.commit().await.map_err(fail)?;
        Ok(())
    }

    async fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let rows = self.all_rows(JOURNAL).await?;
        rows.into_iter().map(|row| crate::json::stored_from_value(row).map_err(|e| StoreError::Corrupt(format!("{JOURNAL}: {e}")))).collect()
    }

    async fn page<T: Record>(&self, after: Option<&str>, limit: usize) -> Result<Vec<Envelope<T>>, StoreError> {
        let tx = self.db.transaction(T::STORE).build().map_err(fail)?;
        let store = tx.object_store(T::STORE).map_err(fail)?;
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let rows = match after {
            Some(after) => {
                let from = KeyRange::LowerBound(after.to_string(), true);
                store.get_all::<JsValue>().with_query::<String, KeyRange<String>>(from).with_limit(limit).primitive().map_err(fail)?.await
            }
            None => store.get_all::<JsValue>().with_limit(limit).primitive().map_err(fail)?.await,
        };
        let mut array = Vec::new();
        for row in rows.map_err(|e| StoreError::Corrupt(e.to_string()))? {
            array.push(row.map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        as_json(T::STORE, array)?.into_iter().map(|row| envelope_of(T::STORE, row)).collect()
    }

    async fn count(&self, store_name: &'static str) -> Result<usize, StoreError> {
        if !self.has(store_name) {
            return Ok(0);
        }
        let tx = self.db.transaction(store_name).build().map_err(fail)?;
        let store = tx.object_store(store_name).map_err(fail)?;
        let n = store.count().primitive().map_err(fail)?.await.map_err(fail)?;
        Ok(n as usize)
    }

    async fn find_archived(&self, incident: &str) -> Result<Option<ArchivedIncident>, StoreError> {
        let tx = self.db.transaction(ArchivedIncident::STORE).build().map_err(fail)?;
        let store = tx.object_store(ArchivedIncident::STORE).map_err(fail)?;
        let index = store.index("by_incident").map_err(fail)?;
        let row: Option<JsValue> = index.get(incident).primitive().map_err(fail)?.await.map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let Some(row) = row else { return Ok(None) };
        let mut rows = as_json(ArchivedIncident::STORE, vec![row])?;
        Ok(Some(envelope_of::<ArchivedIncident>(ArchivedIncident::STORE, rows.remove(0))?.value))
    }
}

impl IdbStore {
    /// Writes one raw value, bypassing envelopes and the journal, as an older Piket would have:
    /// only for the migration tests.
    #[doc(hidden)]
    pub async fn write_raw_for_tests(&self, store_name: &str, value: serde_json::Value) -> Result<(), StoreError> {
        let tx = self.db.transaction(store_name).with_mode(TransactionMode::Readwrite).build().map_err(fail)?;
        tx.object_store(store_name).map_err(fail)?.put(to_js(&value)?).primitive().map_err(fail)?.await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(())
    }
}
