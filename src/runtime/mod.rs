//! The runtime: Piket's imperative shell around the engine.
//!
//! Screens dispatch user actions here; the runtime runs the engine's rules, persists the result
//! through a [`Store`], and hands back what changed. It is generic over the store, so native
//! tests drive it with [`crate::storage::MemoryStore`] and the app with IndexedDB. It never
//! touches the DOM; that is the `ui` module's job.

pub mod people;

use crate::engine::person::PersonError;
use crate::storage::StoreError;

/// Why an action did not happen. Nothing was changed when one is returned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    InvalidPerson(#[from] PersonError),
    #[error("{0}")]
    Storage(#[from] StoreError),
}
