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

/// Reading history back: 10 000 digests (the Lab's Replay and Reports read a year of them), as
/// the app reads them, and the part of that which is only unpacking them.
#[wasm_bindgen_test]
async fn reading_ten_thousand_history_digests() {
    use piket::runtime::driver::{Driver, PastCursor};
    use piket::storage::{archive_key, Batch, DigestChunk, HistoryDigest, IdbStore, Store};
    let world = fixture::world();
    let mut engine = piket::engine::escalation::Engine::new();
    let details = serde_json::from_value(serde_json::json!({"title": "past", "severity": "sev2", "policy": "pol0"})).unwrap();
    let t0 = fixture::t0();
    let _ = engine.handle(&world, t0, piket::engine::escalation::Input::Open { id: "past".into(), by: piket::engine::Actor::Automation, details });
    let _ = engine.handle(&world, t0 + Duration::minutes(7), piket::engine::escalation::Input::Acknowledge { incident: "past".into(), by: "p0".into() });
    let _ = engine.handle(
        &world,
        t0 + Duration::minutes(30),
        piket::engine::escalation::Input::Resolve { incident: "past".into(), by: piket::engine::Actor::Automation },
    );
    let template = engine.incident("past").unwrap().clone();
    let store = IdbStore::open(&format!("piket-bench-{}", uuid::Uuid::new_v4())).await.unwrap();
    const N: usize = 10_000;
    let digests: Vec<HistoryDigest> = (0..N)
        .map(|k| {
            let mut i = template.clone();
            i.id = format!("past-{k:05}").into();
            HistoryDigest::of(&archive_key(i.resolved_at.unwrap() - Duration::minutes(k as i64), &i.id), &i)
        })
        .collect();
    let chunks = DigestChunk::chunks(digests);
    let mut batch = Batch::new();
    for c in &chunks {
        batch.put(c);
    }
    store.commit(batch, t0).await.unwrap();
    let stored: usize = chunks.iter().map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().len()).sum();
    let driver = Driver::load(store).await.unwrap();
    assert!(driver.digests_ready());

    let started = js_sys::Date::now();
    let mut cursor = PastCursor::Start;
    let mut read = 0;
    loop {
        let (page, next) = driver.past_since(t0 - Duration::days(365), cursor).await.unwrap();
        read += page.len();
        match next {
            Some(n) => cursor = n,
            None => break,
        }
    }
    let read_ms = js_sys::Date::now() - started;
    assert_eq!(read, N);

    let texts: Vec<serde_json::Value> = chunks.iter().map(|c| serde_json::to_value(c).unwrap()).collect();
    let started = js_sys::Date::now();
    for t in &texts {
        let c: DigestChunk = serde_json::from_value(t.clone()).unwrap();
        assert!(!c.digests.is_empty());
    }
    let unpack_ms = js_sys::Date::now() - started;
    console_log!(
        "bench-web: history: {N} digests ({} bytes stored, {} chunks) read in {read_ms:.0} ms, of which unpacking alone takes {unpack_ms:.0} ms",
        stored,
        chunks.len()
    );
}
