//! [`Store`] on the browser's IndexedDB.
//!
//! One database, `piket`, at [`SCHEMA_VERSION`]; one object store per record kind, keyed by the
//! envelope's `id`. Migrations run in `upgradeneeded`, one step per version.

use chrono::{DateTime, Utc};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;

use super::{Envelope, Record, Store, StoreError, SCHEMA_VERSION};
use crate::engine::person::Person;

/// Piket's IndexedDB database.
pub struct IdbStore {
    db: Database,
}

impl IdbStore {
    /// Opens (creating or upgrading as needed) the database called `name`; the app uses
    /// `"piket"`, tests a fresh name each.
    pub async fn open(name: &str) -> Result<IdbStore, StoreError> {
        let db = Database::open(name)
            .with_version(SCHEMA_VERSION)
            .with_on_upgrade_needed(|event, db| {
                let old = event.old_version() as u32;
                if old < 1 {
                    db.create_object_store(Person::STORE).with_key_path("id".into()).build()?;
                }
                Ok(())
            })
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(IdbStore { db })
    }
}

fn fail(e: impl std::fmt::Display) -> StoreError {
    let text = e.to_string();
    if text.contains("QuotaExceeded") {
        StoreError::QuotaExceeded(text)
    } else {
        StoreError::Other(text)
    }
}

impl Store for IdbStore {
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError> {
        let tx = self.db.transaction(T::STORE).build().map_err(fail)?;
        let store = tx.object_store(T::STORE).map_err(fail)?;
        let rows: Vec<Envelope<T>> = store
            .get_all()
            .serde()
            .map_err(fail)?
            .await
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(rows)
    }

    async fn put<T: Record>(&self, value: &T, now: DateTime<Utc>) -> Result<Envelope<T>, StoreError> {
        let tx = self.db.transaction(T::STORE).with_mode(TransactionMode::Readwrite).build().map_err(fail)?;
        let store = tx.object_store(T::STORE).map_err(fail)?;
        let previous: Option<Envelope<T>> = store.get(value.id()).serde().map_err(fail)?.await.map_err(fail)?;
        let envelope = Envelope {
            id: value.id().to_string(),
            rev: previous.map_or(1, |p| p.rev + 1),
            updated_at: now,
            value: value.clone(),
        };
        store.put(&envelope).serde().map_err(fail)?.await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(envelope)
    }

    async fn delete<T: Record>(&self, id: &str) -> Result<(), StoreError> {
        let tx = self.db.transaction(T::STORE).with_mode(TransactionMode::Readwrite).build().map_err(fail)?;
        let store = tx.object_store(T::STORE).map_err(fail)?;
        store.delete(id).await.map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        Ok(())
    }
}
