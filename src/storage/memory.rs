//! An in-memory [`Store`] for native tests and tools.

use std::cell::RefCell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Envelope, Record, Store, StoreError};

/// Records as JSON, keyed by (store, id): serializing on the way in and out catches the same
/// schema mistakes IndexedDB would.
#[derive(Default)]
pub struct MemoryStore {
    records: RefCell<BTreeMap<(&'static str, String), (u64, DateTime<Utc>, String)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError> {
        let records = self.records.borrow();
        records
            .iter()
            .filter(|((store, _), _)| *store == T::STORE)
            .map(|((_, id), (rev, updated_at, json))| {
                let value = serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("{}/{id}: {e}", T::STORE)))?;
                Ok(Envelope { id: id.clone(), rev: *rev, updated_at: *updated_at, value })
            })
            .collect()
    }

    async fn put<T: Record>(&self, value: &T, now: DateTime<Utc>) -> Result<Envelope<T>, StoreError> {
        let json = serde_json::to_string(value).map_err(|e| StoreError::Other(e.to_string()))?;
        let key = (T::STORE, value.id().to_string());
        let mut records = self.records.borrow_mut();
        let rev = records.get(&key).map_or(1, |(rev, _, _)| rev + 1);
        records.insert(key, (rev, now, json));
        Ok(Envelope { id: value.id().to_string(), rev, updated_at: now, value: value.clone() })
    }

    async fn delete<T: Record>(&self, id: &str) -> Result<(), StoreError> {
        self.records.borrow_mut().remove(&(T::STORE, id.to_string()));
        Ok(())
    }
}
