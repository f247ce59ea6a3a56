//! The time-zone answers of `fixtures/zones.rs`, natively (`tests/browser.rs` runs them in wasm).
#![cfg(not(target_arch = "wasm32"))]

#[path = "fixtures/zones.rs"]
mod zones;

#[test]
fn zones_answer_as_the_database_says() {
    zones::check();
}
