//! Never panic, never page twice, in the real browser: hostile backups are refused naming the
//! problem, Piket's own exports with markup restore, a forced crash shows the recovery page (and
//! exporting works from it), and a leader hung while another tab took the clock sends nothing
//! again when it wakes.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thirtyfour::prelude::*;

use crate::clock::{backup_with, idb_all, open_incident, restore};
use crate::delivery::Receiver;
use crate::support::{Browser, Result};

/// A backup whose live incident sits at level 7 of a 3-level frozen policy.
fn level_seven_backup() -> std::path::PathBuf {
    let now = "2026-11-29T00:00:00Z";
    let env = |id: &str, value: Value| json!({"id": id, "rev": 1, "updated_at": now, "value": value});
    let policy = json!({"id": "p", "name": "P", "levels": [
        {"targets": [{"person": "alice"}], "ack_timeout": 5}, {"targets": [{"person": "alice"}], "ack_timeout": 5}, {"targets": [{"person": "alice"}]}]});
    let incident = json!({
        "id": "inc-7", "details": {"title": "Level seven", "severity": "sev2"}, "status": "new",
        "opened_at": now, "status_since": now, "alert_count": 1, "last_seen": now,
        "escalation": {"policy": policy, "level": 6, "loop": 0, "repeats_used": 0, "level_since": now,
                       "stage": {"stage": "paging"}, "timers": {"ack": "2026-11-29T00:05:00Z"}, "reminders_sent": 0},
        "applied_rules": [], "timeline": []
    });
    let file = json!({
        "piket_backup": 1, "schema": 2, "exported_at": now, "secrets_included": true,
        "stores": {
            "people": [env("alice", json!({"id": "alice", "name": "Alice", "time_zone": "UTC"}))],
            "policies": [env("p", policy)],
            "incidents": [env("inc-7", json!({"incident": incident, "deadline_ms": null, "status": "new", "service": ""}))],
        }
    });
    let path = std::env::temp_dir().join(format!("piket-e2e-level7-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_built_to_crash_the_clock_is_refused_and_pikets_own_export_with_markup_restores() -> Result {
    let b = Browser::start().await?;
    b.open("/settings").await?;
    b.field("Restore from backup").await?.send_keys(level_seven_backup().display().to_string()).await?;
    b.click("Replace everything").await?;
    b.wait_text(".settings .error", |t| t.contains("stores.incidents[0].value.incident.escalation.level") && t.contains("level 7 of a policy with 3 levels"))
        .await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;

    // Piket's own export of an incident titled with markup comes back.
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice", "time_zone": "UTC"})], 60)).await?;
    let title = "Disk <b>full</b> on db1 & x<y";
    let id = open_incident(&b, title).await?;
    b.open("/settings").await?;
    // Read the export the way Settings' download builds it: every store, as the app writes them.
    let mut stores = serde_json::Map::new();
    for name in ["people", "policies", "incidents", "timeline", "outbox", "settings"] {
        stores.insert(name.into(), Value::Array(idb_all(&b, name).await?));
    }
    let file = json!({"piket_backup": 1, "schema": 2, "exported_at": "2026-11-29T00:00:00Z", "secrets_included": true, "stores": stores});
    let path = std::env::temp_dir().join(format!("piket-e2e-markup-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&file)?)?;
    restore(&b, &path).await?;
    b.open(&format!("/incidents/{id}")).await?;
    b.wait_text("main h1", |t| t.contains(title)).await?;
    assert!(b.driver.find_all(By::Css("main b")).await?.is_empty(), "markup stays text");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_shows_the_recovery_page_and_export_works_from_it() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice Crash", "time_zone": "UTC"})], 60)).await?;
    open_incident(&b, "Before the crash").await?;
    b.driver.goto(format!("{}/?crash-test=1", crate::support::base_url())).await?;
    b.wait_text("#recovery h1", |t| t == "Piket stopped").await?;
    b.wait_text(".recovery-why", |t| t.contains("crash test requested")).await?;
    b.click("Export my data").await?;
    b.wait_text(".recovery-status", |t| t.starts_with("Exported")).await?;
    let exported: String = b.driver.execute("return JSON.stringify(window.piketRecoveredExport)", vec![]).await?.convert()?;
    let exported: Value = serde_json::from_str(&exported)?;
    let incidents = exported["stores"]["incidents"].as_array().cloned().unwrap_or_default();
    assert_eq!(incidents.len(), 1, "{exported}");
    // Every store a backup holds, history (the archive) included.
    let mut names: Vec<&str> = exported["stores"].as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    names.sort_unstable();
    let mut want = piket::storage::STORES.to_vec();
    want.sort_unstable();
    assert_eq!(names, want, "the recovery export leaves a store out");
    assert_eq!(incidents[0]["value"]["incident"]["details"]["title"], "Before the crash");
    // The recovered file restores (Piket's own restore checks it).
    let path = std::env::temp_dir().join(format!("piket-e2e-recovered-{}.json", std::process::id()));
    std::fs::write(&path, exported.to_string())?;
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_piket")).args(["check", "backup"]).arg(&path).output()?;
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    b.click("Open without the clock").await?;
    b.wait_for(By::Css("nav.app-nav a")).await?;
    b.wait_text(".clock-status", |t| t.contains("Safe mode")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_leader_that_wakes_after_a_takeover_sends_nothing_again() -> Result {
    let receiver = Receiver::start();
    let people = vec![
        json!({"id": "alice", "name": "Alice Hung", "time_zone": "UTC", "contact": {"webhook_url": format!("{}/alice", receiver.url)}}),
        json!({"id": "bob", "name": "Bob Backup", "time_zone": "UTC", "contact": {"webhook_url": format!("{}/bob", receiver.url)}}),
    ];
    let b = Browser::start().await?;
    restore(&b, &backup_with(people, 6)).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    let leader = b.driver.window().await?;
    let follower = b.driver.new_tab().await?;
    b.driver.switch_to_window(follower.clone()).await?;
    b.open("/incidents").await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running in another tab")).await?;

    b.driver.switch_to_window(leader.clone()).await?;
    open_incident(&b, "Hung leader").await?;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    // Whichever tab keeps the clock now is the one to hang.
    let status = |b: &Browser| {
        let driver = b.driver.clone();
        async move { driver.find(By::Css(".clock-status")).await?.text().await }
    };
    let (hung, other) = if status(&b).await?.contains("Clock running here") { (leader, follower) } else { (follower, leader) };
    b.driver.switch_to_window(hung.clone()).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    // Hang its main thread for 15 s (a busy loop, as a runaway script or a stalled machine
    // would), starting just after this call returns.
    b.driver.execute("setTimeout(() => { const end = Date.now() + 15000; while (Date.now() < end) {} }, 100)", vec![]).await?;
    let hung_at = Instant::now();

    b.driver.switch_to_window(other.clone()).await?;
    b.wait_text_within(".clock-status", Duration::from_secs(12), |t| t.contains("Clock running here")).await?;
    let took = hung_at.elapsed();
    println!("the other tab took the clock {took:?} into the hang");
    assert!(took > Duration::from_secs(2), "it waited for the heartbeat to stop");
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert!(got.iter().any(|r| r.path == "/bob"), "the new clock paged level 2 on time: {got:?}");
    let leader = hung;

    // The old leader wakes; give it time to do whatever it would.
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(hung_at.elapsed()) + Duration::from_secs(8)).await;
    let got = receiver.received();
    let count = |p: &str| got.iter().filter(|r| r.path == p).count();
    assert_eq!((count("/alice"), count("/bob")), (1, 1), "each page sent once: {:?}", got.iter().map(|r| &r.path).collect::<Vec<_>>());
    b.driver.switch_to_window(leader).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running in another tab")).await?;
    b.quit().await
}
