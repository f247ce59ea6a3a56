//! Adapters: thin wrappers around browser facilities, one per file. Each does one thing the
//! runtime asks of it and decides nothing (wasm only).

pub mod bus;
pub mod clock;
pub mod couch;
pub mod leader;
pub mod notify;
pub mod ntfy;
pub mod quota;
pub mod webhook;
