//! Thousands of incidents: the page stays usable. Prints the figures (how long the list, a tab
//! switch and an acknowledgement take with 3 000 open incidents); asserts only generous bounds.

use std::time::{Duration, Instant};

use chrono::Utc;
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::Actor;
use piket::runtime::driver::Driver;
use piket::storage::MemoryStore;
use thirtyfour::prelude::*;

use crate::clock::restore;
use crate::support::{Browser, Result};

const INCIDENTS: usize = 3000;

/// A backup with a small team and `INCIDENTS` open incidents, made by the real driver.
fn big_backup() -> std::path::PathBuf {
    let world = parse_world(
        r#"{"people": [{"id": "ops", "name": "Ops Person", "time_zone": "UTC"}],
            "policies": [{"id": "slow", "name": "Slow", "levels": [{"targets": [{"person": "ops"}], "ack_timeout": 60}, {"targets": [{"person": "ops"}]}]}],
            "default_policy": "slow"}"#,
    )
    .unwrap();
    let now = Utc::now();
    let mut d = pollster::block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        pollster::block_on(d.save(p, now)).unwrap();
    }
    for p in world.policies {
        pollster::block_on(d.save(p, now)).unwrap();
    }
    pollster::block_on(d.set_default_policy(Some("slow".into()), now)).unwrap();
    for i in 0..INCIDENTS {
        let severity = ["sev1", "sev2", "sev3", "sev4"][i % 4];
        let details =
            serde_json::from_value(serde_json::json!({"title": format!("Incident number {i}"), "severity": severity, "service": format!("svc{}", i % 7)}))
                .unwrap();
        pollster::block_on(d.dispatch(now, Input::Open { id: format!("inc-{i:05}"), by: Actor::Automation, details })).unwrap();
    }
    let mut file: serde_json::Value = serde_json::from_str(&pollster::block_on(d.export(now, true)).unwrap()).unwrap();
    // The first pages were delivered long ago: leave the outbox out, so the test measures the screens.
    file["stores"]["outbox"] = serde_json::json!([]);
    let path = std::env::temp_dir().join(format!("piket-e2e-scale-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn three_thousand_open_incidents_stay_usable() -> Result {
    let path = big_backup();
    let b = Browser::start().await?;
    restore(&b, &path).await?;

    let started = Instant::now();
    b.open("/incidents").await?;
    b.wait_text(".incident-list", |t| t.contains("Incident number")).await?;
    let list = started.elapsed();
    let rows = b.driver.find_all(By::Css(".incident-list > li")).await?.len();
    b.wait_text(".screen", |t| t.contains("Show more")).await?;

    let tab = |name: &'static str| By::XPath(format!("//button[contains(@class,'tab')][starts-with(normalize-space(),'{name}')]"));
    let started = Instant::now();
    b.tap(&b.driver.find(tab("Resolved")).await?).await?;
    b.wait_text(".screen", |t| !t.contains("Show more")).await?;
    b.tap(&b.driver.find(tab("Open")).await?).await?;
    b.wait_text(".incident-list", |t| t.contains("Incident number")).await?;
    let tabs = started.elapsed();

    let first = b.driver.find(By::Css(".incident-list > li a")).await?;
    b.tap(&first).await?;
    b.wait_for(By::Css("ol.timeline")).await?;
    let started = Instant::now();
    b.click("Acknowledge").await?;
    b.click("I am Ops Person").await?;
    b.wait_text("ol.timeline", |t| t.contains("Acknowledged")).await?;
    let ack = started.elapsed();

    println!(
        "scale: {INCIDENTS} open incidents: list shown in {:.2} s ({rows} rows rendered), tab switch {:.2} s, acknowledge to timeline {:.2} s",
        list.as_secs_f64(),
        tabs.as_secs_f64(),
        ack.as_secs_f64()
    );
    assert!(rows <= 100, "the list renders a page of rows, not thousands: {rows}");
    assert!(list < Duration::from_secs(15) && ack < Duration::from_secs(15), "unusably slow: list {list:?}, ack {ack:?}");
    b.quit().await
}
