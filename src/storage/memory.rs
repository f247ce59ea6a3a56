//! An in-memory [`Store`] for native tests and tools. Records are kept as JSON, so the same
//! schema mistakes IndexedDB would meet show up here too.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ArchivedIncident, Batch, Envelope, JournalEntry, Op, Record, Store, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    records: RefCell<BTreeMap<&'static str, BTreeMap<String, Envelope<serde_json::Value>>>>,
    journal: RefCell<Vec<JournalEntry>>,
    /// Test hook: the next commits fail as a full disk would, changing nothing.
    fail_commits: Cell<u32>,
    commits: Cell<u32>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// Makes the next `n` commits fail with [`StoreError::QuotaExceeded`].
    pub fn fail_next_commits(&self, n: u32) {
        self.fail_commits.set(n);
    }
    /// How many commits succeeded (each is one transaction).
    pub fn commit_count(&self) -> u32 {
        self.commits.get()
    }
}

impl Store for MemoryStore {
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError> {
        self.list_raw(T::STORE).await?.iter().map(typed::<T>).collect()
    }

    async fn page<T: Record>(&self, after: Option<&str>, limit: usize) -> Result<Vec<Envelope<T>>, StoreError> {
        let records = self.records.borrow();
        let Some(table) = records.get(T::STORE) else { return Ok(Vec::new()) };
        let rows: Box<dyn Iterator<Item = &Envelope<serde_json::Value>>> = match after {
            Some(after) => Box::new(table.range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)).map(|(_, v)| v)),
            None => Box::new(table.values()),
        };
        rows.take(limit).map(typed::<T>).collect()
    }

    async fn find_archived(&self, incident: &str) -> Result<Option<ArchivedIncident>, StoreError> {
        let records = self.records.borrow();
        let Some(table) = records.get(ArchivedIncident::STORE) else { return Ok(None) };
        let found = table.values().find(|e| e.value.get("incident_id").and_then(|v| v.as_str()) == Some(incident));
        found.map(typed::<ArchivedIncident>).transpose().map(|e| e.map(|e| e.value))
    }

    async fn count(&self, store: &'static str) -> Result<usize, StoreError> {
        Ok(self.records.borrow().get(store).map_or(0, |m| m.len()))
    }

    async fn list_raw(&self, store: &'static str) -> Result<Vec<Envelope<serde_json::Value>>, StoreError> {
        Ok(self.records.borrow().get(store).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn commit(&self, batch: Batch, now: DateTime<Utc>) -> Result<(), StoreError> {
        if self.fail_commits.get() > 0 {
            self.fail_commits.set(self.fail_commits.get() - 1);
            return Err(StoreError::QuotaExceeded("QuotaExceededError (simulated)".into()));
        }
        let mut records = self.records.borrow_mut();
        if let Some(epoch) = batch.fence {
            let stored = records.get("settings").and_then(|t| t.get(super::CLOCK_EPOCH)).map_or(0, |e| super::epoch_of(&e.value));
            if stored != epoch {
                return Err(StoreError::Fenced);
            }
        }
        let mut journal = self.journal.borrow_mut();
        for op in batch.ops {
            match op {
                Op::Put { store, id, value } => {
                    let table = records.entry(store).or_default();
                    let rev = table.get(&id).map_or(1, |e| e.rev + 1);
                    journal.push(JournalEntry { store: store.into(), id: id.clone(), rev, at: now, op: "put".into() });
                    table.insert(id.clone(), Envelope { id, rev, updated_at: now, value });
                }
                Op::Delete { store, id } => {
                    records.entry(store).or_default().remove(&id);
                    journal.push(JournalEntry { store: store.into(), id, rev: 0, at: now, op: "delete".into() });
                }
                Op::Clear { store } => {
                    records.entry(store).or_default().clear();
                    journal.push(JournalEntry { store: store.into(), id: "*".into(), rev: 0, at: now, op: "clear".into() });
                }
            }
        }
        self.commits.set(self.commits.get() + 1);
        Ok(())
    }

    async fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.journal.borrow().clone())
    }
}

fn typed<T: Record>(e: &Envelope<serde_json::Value>) -> Result<Envelope<T>, StoreError> {
    let value = crate::json::stored_from_value(e.value.clone()).map_err(|err| StoreError::Corrupt(format!("{}/{}: {err}", T::STORE, e.id)))?;
    Ok(Envelope { id: e.id.clone(), rev: e.rev, updated_at: e.updated_at, value })
}
