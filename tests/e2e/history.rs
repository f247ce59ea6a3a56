//! Years of history: resolved incidents live in the archive, the Resolved tab reads it a page at a
//! time, an old incident's link still opens it, and the clock tab archives what was resolved over a
//! day ago.

use chrono::{Duration, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentId};
use piket::runtime::driver::Driver;
use piket::storage::MemoryStore;
use pollster::block_on;
use thirtyfour::prelude::*;

use crate::clock::{idb_all, restore};
use crate::support::{Browser, Result};

/// 60 incidents resolved days ago and already archived, one resolved two days ago still in the hot
/// stores (as a version-2 Piket left it), and one open.
fn history_backup() -> std::path::PathBuf {
    let world = parse_world(
        r#"{"people": [{"id": "ops", "name": "Ops Person", "time_zone": "UTC"}],
            "policies": [{"id": "p", "name": "P", "levels": [{"targets": [{"person": "ops"}], "ack_timeout": 30}]}],
            "default_policy": "p"}"#,
    )
    .unwrap();
    let now = Utc::now();
    let start = now - Duration::days(10);
    let mut d = crate::support::team_driver(world, "p", start);
    let deliver = crate::support::deliver_due;
    let cycle = |d: &mut Driver<MemoryStore>, id: IncidentId, title: String, at: chrono::DateTime<Utc>| {
        let details = serde_json::from_value(serde_json::json!({"title": title})).unwrap();
        block_on(d.dispatch(at, Input::Open { id: id.clone(), by: Actor::Automation, details })).unwrap();
        deliver(d, at);
        block_on(d.dispatch(at + Duration::minutes(3), Input::Resolve { incident: id, by: Actor::Automation })).unwrap();
        deliver(d, at + Duration::minutes(3));
    };
    for k in 0..60 {
        cycle(&mut d, format!("old-{k:02}").into(), format!("Old incident {k:02}"), start + Duration::minutes(10 * k));
    }
    while block_on(d.archive(now - Duration::days(5))).unwrap() > 0 {}
    cycle(&mut d, "recent".into(), "Resolved two days ago".into(), now - Duration::days(2));
    let details = serde_json::from_value(serde_json::json!({"title": "Still open"})).unwrap();
    block_on(d.dispatch(now, Input::Open { id: "live".into(), by: Actor::Automation, details })).unwrap();
    let path = std::env::temp_dir().join(format!("piket-e2e-history-{}.json", std::process::id()));
    std::fs::write(&path, block_on(d.export(now, true)).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_read_a_page_at_a_time_and_old_links_still_open() -> Result {
    let b = Browser::start().await?;
    restore(&b, &history_backup()).await?;

    // The clock archives the incident resolved two days ago: only the open one stays hot.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let hot: Vec<String> = idb_all(&b, "incidents").await?.iter().map(|e| e["id"].as_str().unwrap_or("").to_string()).collect();
        if hot == ["live"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still hot: {hot:?}");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(idb_all(&b, "archive").await?.len(), 61);

    b.open("/incidents").await?;
    b.wait_text(".incident-list", |t| t.contains("Still open")).await?;
    b.click("Resolved 50+").await?;
    b.wait_text(".incident-list", |t| t.contains("Resolved two days ago")).await?;
    let rows = b.driver.find_all(By::Css(".incident-list .incident-row")).await?;
    assert_eq!(rows.len(), 50, "one page of history");
    b.click("Show older incidents").await?;
    b.wait_text(".tabs", |t| t.contains("Resolved 61")).await?;
    b.wait_text(".incident-list", |t| t.contains("Old incident 00")).await?;
    // Newest first.
    let text = b.driver.find(By::Css(".incident-list")).await?.text().await?;
    assert!(text.find("Resolved two days ago") < text.find("Old incident 59") && text.find("Old incident 59") < text.find("Old incident 00"), "{text}");

    // A link to an archived incident opens it, timeline and deliveries included.
    b.open("/incidents/old-07").await?;
    b.wait_text("main h1", |t| t == "Old incident 07").await?;
    b.wait_text("ol.timeline", |t| t.contains("Resolved") && t.contains("Paged")).await?;
    b.quit().await
}
