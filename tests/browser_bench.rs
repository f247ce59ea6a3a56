//! The engine's tick in the browser, beside the native criterion figure: `cargo xtask bench-web`
//! runs this (release build, headless Chromium) and `benches/engine.rs` in the same run and prints
//! both. Goal: a tick over 10 000 open incidents in wasm within 3× the native figure.
#![cfg(target_arch = "wasm32")]

#[path = "../benches/fixture.rs"]
mod fixture;

use chrono::Duration;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Ticks measured (each on its own copy of the busy engine, made before the clock starts).
const RUNS: usize = 30;

#[wasm_bindgen_test]
fn tick_over_ten_thousand_open_incidents_with_a_minute_due() {
    let world = fixture::world();
    let engine = fixture::busy_engine(&world);
    let now = fixture::t0() + Duration::hours(1) + Duration::minutes(1);
    let mut copies: Vec<_> = (0..RUNS).map(|_| engine.clone()).collect();
    let started = js_sys::Date::now();
    let mut effects = 0;
    for e in copies.iter_mut() {
        effects = e.handle_timeout(&world, now).len();
    }
    let per_tick = (js_sys::Date::now() - started) / RUNS as f64;
    assert!(effects > 1000, "a minute's backlog is due: {effects} effects");
    console_log!("bench-web: tick: {} open incidents, one minute of deadlines due ({effects} effects): {per_tick:.3} ms in wasm", fixture::INCIDENTS);
}
