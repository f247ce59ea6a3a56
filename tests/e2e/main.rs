//! End-to-end tests: the built `dist/` in headless Chromium, driven as a user would
//! (visible labels, clicks, typing, reloads).
//!
//! Run by `cargo xtask test`, which builds `dist/` first and sets `PIKET_DIST`.
//! By hand: `trunk build --release && cargo test --features e2e --test e2e`.
#![cfg(not(target_arch = "wasm32"))]

mod a11y;
mod clock;
mod config;
#[path = "../common/couch.rs"]
mod couch;
mod delivery;
mod first_load;
mod history;
mod incidents;
mod lab;
mod never_panic;
mod ntfy;
mod papercuts;
mod people;
mod phone_ack;
mod reports;
mod scale;
mod screens;
mod shell;
mod support;
mod team_sync;
