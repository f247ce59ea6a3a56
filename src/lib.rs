//! Piket: incident escalation that runs entirely in the browser.
//!
//! Layout (see ARCHITECTURE.md): [`engine`] is the pure functional core; [`storage`] keeps records
//! (IndexedDB in the browser, memory in tests); [`runtime`] runs actions through the engine and
//! storage; `ui` (wasm only) is the Leptos app.

#[cfg(target_arch = "wasm32")]
pub mod adapters;
/// A tamper-evident audit trail: timeline entries chained by SHA-256, daily chain heads, JSON Lines.
pub mod audit;
/// What to send to ntfy, Slack, Teams, Discord or a webhook, and when to retry.
pub mod delivery;
pub mod engine;
/// Reports (escalation metrics, timers against real ones, alert fatigue), retrospectives, calendars.
pub mod insight;
/// Alert payloads (PagerDuty v2, Alertmanager v4) and intake links into engine inputs.
pub mod intake;
/// Typed JSON reads, all through one deserializer, with errors that name the path.
pub mod json;
/// Acknowledgements from phones through ntfy: signed tokens and the clock's verdict on each.
pub mod reply;
/// The app's addresses (`#/incidents/42`): routes, parsed and written.
pub mod route;
pub mod runtime;
pub mod storage;
/// Team sync: CouchDB's replication protocol (revision trees, checkpoints), pure and generic.
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod ui;
