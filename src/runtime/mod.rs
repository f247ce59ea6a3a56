//! The runtime: Piket's imperative shell around the engine.
//!
//! [`driver::Driver`] takes inputs (user actions, timeouts, wake-ups), runs the engine, persists the
//! result in one transaction, and only then hands back the effects to perform. It is generic over
//! the [`Store`](crate::storage::Store), so native tests drive it with
//! [`MemoryStore`](crate::storage::MemoryStore) on a virtual clock and the app with IndexedDB.
//! It never touches the DOM (that is `ui`) nor sends anything itself (that is the adapters).

pub mod command;
pub mod config;
pub mod delivery_view;
pub mod driver;
pub mod lab;
#[cfg(target_arch = "wasm32")]
pub mod live;
pub mod outbox;
pub mod people;
pub mod replay;
pub mod reports;
pub mod team_clock;
pub mod team_sync;
pub mod view;

use crate::engine::escalation::Rejected;
use crate::engine::format::FormatErrors;
use crate::engine::person::PersonError;
use crate::storage::backup::ImportError;
use crate::storage::StoreError;

impl ActionError {
    /// Another tab took the clock: this tab's write was refused (and nothing may be sent).
    pub fn is_fenced(&self) -> bool {
        matches!(self, ActionError::Storage(StoreError::Fenced))
    }
}

/// Why an action did not happen. Nothing was changed when one is returned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    InvalidPerson(#[from] PersonError),
    #[error("{0}")]
    Invalid(#[from] FormatErrors),
    #[error("{0}")]
    Rejected(#[from] Rejected),
    #[error("{0}")]
    Import(#[from] ImportError),
    #[error("{0}")]
    Storage(#[from] StoreError),
    /// A setting that does not hold, with the field it concerns.
    #[error("{field}: {message}")]
    InvalidSetting { field: String, message: String },
    /// The record a command names does not exist (any more).
    #[error("There is no {0}.")]
    NotFound(String),
}
