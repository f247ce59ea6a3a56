//! Storage: the only module that knows serialized schemas and IndexedDB.
//!
//! Everything Piket keeps goes through the [`Store`] trait. [`MemoryStore`] backs native tests and
//! the command-line tools; `IdbStore` (wasm only) keeps records in the browser's IndexedDB.
//! Each record is kept in an [`Envelope`] with a revision and an updated-at time, so a later
//! replication layer can tell which copy is newer. This module never decides anything: validation
//! belongs to the engine, sequencing to the runtime.

mod memory;
pub use memory::MemoryStore;

#[cfg(target_arch = "wasm32")]
mod idb;
#[cfg(target_arch = "wasm32")]
pub use idb::IdbStore;

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::engine::person::Person;

/// Version of the stored schema; raised with a migration whenever a store or index changes.
pub const SCHEMA_VERSION: u32 = 1;

/// A kind of record with its own object store.
pub trait Record: Serialize + DeserializeOwned + Clone + 'static {
    /// Object-store name (stable: part of the on-disk schema).
    const STORE: &'static str;
    fn id(&self) -> &str;
}

impl Record for Person {
    const STORE: &'static str = "people";
    fn id(&self) -> &str {
        &self.id
    }
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

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the browser's storage is not available: {0}")]
    Unavailable(String),
    #[error("storage is full: free some space or export and clear old incidents ({0})")]
    QuotaExceeded(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("storage failed: {0}")]
    Other(String),
}

/// Where Piket keeps its records.
///
/// Methods are async because IndexedDB is; the in-memory store answers at once.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Every record of a kind, in id order.
    async fn list<T: Record>(&self) -> Result<Vec<Envelope<T>>, StoreError>;
    /// Inserts or replaces a record, raising its revision; returns what was written.
    async fn put<T: Record>(&self, value: &T, now: DateTime<Utc>) -> Result<Envelope<T>, StoreError>;
    /// Removes a record; removing a missing id is not an error.
    async fn delete<T: Record>(&self, id: &str) -> Result<(), StoreError>;
}
