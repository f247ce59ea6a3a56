//! The escalation clock in a real browser: pages fire on time from IndexedDB-backed state,
//! survive reloads without loss or repetition, and exactly one tab keeps the clock.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Browser, Result};

/// Writes a backup file holding `people` (JSON values) and a policy paging the first person at
/// once and the second after `ack_secs`, as the default policy.
pub fn backup_with(people: Vec<Value>, ack_secs: u32) -> std::path::PathBuf {
    let now = "2026-11-26T00:00:00Z";
    let env = |id: &str, value: Value| json!({"id": id, "rev": 1, "updated_at": now, "value": value});
    let ids: Vec<String> = people.iter().map(|p| p["id"].as_str().unwrap().to_string()).collect();
    let mut levels = vec![json!({"name": "Primary", "targets": [{"person": ids[0]}], "ack_timeout": format!("{ack_secs}s")})];
    if let Some(second) = ids.get(1) {
        levels.push(json!({"name": "Backup", "targets": [{"person": second}]}));
    } else {
        levels[0].as_object_mut().unwrap().remove("ack_timeout");
    }
    let file = json!({
        "piket_backup": 1, "schema": 2, "exported_at": now, "secrets_included": true,
        "stores": {
            "people": people.iter().map(|p| env(p["id"].as_str().unwrap(), p.clone())).collect::<Vec<_>>(),
            "policies": [env("quick", json!({"id": "quick", "name": "Quick test policy", "levels": levels}))],
            "settings": [env("world", json!({"key": "world", "value": {"default_policy": "quick", "rule_order": []}}))],
        }
    });
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("piket-e2e-backup-{}-{n}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    path
}

/// Alice (paged at once) and Bob (after `ack_secs`).
fn backup_file(ack_secs: u32) -> std::path::PathBuf {
    backup_with(
        vec![json!({"id": "alice", "name": "Alice Primary", "time_zone": "UTC"}), json!({"id": "bob", "name": "Bob Backup", "time_zone": "UTC"})],
        ack_secs,
    )
}

pub async fn restore(b: &Browser, path: &std::path::Path) -> Result {
    b.open("/settings").await?;
    b.field("Restore from backup").await?.send_keys(path.display().to_string()).await?;
    b.click("Replace everything").await?;
    b.wait_text_within(".settings", Duration::from_secs(60), |t| t.contains("Restored")).await?;
    Ok(())
}

/// Reads a whole object store of the app's IndexedDB from inside the page.
pub async fn idb_all(b: &Browser, store: &str) -> Result<Vec<Value>> {
    let script = r#"
        const [store, done] = arguments;
        const open = indexedDB.open("piket");
        open.onsuccess = () => {
            const db = open.result;
            const req = db.transaction(store).objectStore(store).getAll();
            req.onsuccess = () => { done(JSON.stringify(req.result)); db.close(); };
            req.onerror = () => done("[]");
        };
        open.onerror = () => done("[]");
    "#;
    let text: String = b.driver.execute_async(script, vec![json!(store)]).await?.convert()?;
    Ok(serde_json::from_str(&text)?)
}

/// Idempotency keys of the pages queued so far.
pub async fn outbox_keys(b: &Browser) -> Result<Vec<String>> {
    let mut keys: Vec<String> = idb_all(b, "outbox").await?.iter().map(|r| r["id"].as_str().unwrap_or("").to_string()).collect();
    keys.sort();
    Ok(keys)
}

/// Paged timeline entries (their keys), in storage, so duplicates would show.
async fn paged_keys(b: &Browser) -> Result<Vec<String>> {
    let mut keys: Vec<String> = idb_all(b, "timeline")
        .await?
        .iter()
        .filter(|r| r["value"]["entry"]["kind"] == "paged")
        .filter_map(|r| r["value"]["entry"]["key"].as_str().map(str::to_string))
        .collect();
    keys.sort();
    Ok(keys)
}

async fn wait_for_pages(b: &Browser, n: usize, within: Duration) -> Result<Vec<String>> {
    let deadline = Instant::now() + within;
    loop {
        let keys = outbox_keys(b).await?;
        if keys.len() >= n || Instant::now() > deadline {
            return Ok(keys);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Opens an incident through the form and returns its id.
pub async fn open_incident(b: &Browser, title: &str) -> Result<String> {
    b.open("/new?severity=sev1").await?;
    b.fill("Title", title).await?;
    b.click("Open incident").await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = b.driver.current_url().await?;
        if let Some(id) = crate::support::route_of(&url).strip_prefix("/incidents/") {
            return Ok(id.to_string());
        }
        if Instant::now() > deadline {
            return Err(format!("no incident page after opening; at {url}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_refuses_a_bad_file_and_accepts_a_good_one() -> Result {
    let b = Browser::start().await?;
    let bad = std::env::temp_dir().join(format!("piket-e2e-bad-{}.json", std::process::id()));
    std::fs::write(
        &bad,
        r#"{"piket_backup": 1, "exported_at": "2026-01-01T00:00:00Z", "stores": {"people": [{"id": "x", "rev": 1, "updated_at": "2026-01-01T00:00:00Z", "value": {"id": "x", "name": 5}}]}}"#,
    )?;
    b.open("/settings").await?;
    b.field("Restore from backup").await?.send_keys(bad.display().to_string()).await?;
    b.click("Replace everything").await?;
    b.wait_text(".settings .error", |t| t.contains("stores.people[0].value.name")).await?;
    b.open("/people").await?;
    b.wait_text("main", |t| t.contains("No one here yet")).await?;

    restore(&b, &backup_file(60)).await?;
    b.open("/people").await?;
    b.wait_text(".people-list", |t| t.contains("Alice Primary") && t.contains("Bob Backup")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn level_two_is_paged_after_the_timeout_and_acknowledge_stops_it() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_file(3)).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;

    let first = open_incident(&b, "Checkout is down").await?;
    let keys = wait_for_pages(&b, 2, Duration::from_secs(15)).await?;
    assert_eq!(keys.len(), 2, "alice at once, bob after 3 s: {keys:?}");
    assert!(keys.iter().any(|k| k.contains("alice")) && keys.iter().any(|k| k.contains("bob")), "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(&first)));

    let second = open_incident(&b, "Search is slow").await?;
    b.click("Acknowledge").await?;
    b.click("I am Alice Primary").await?;
    b.wait_text("ol.timeline", |t| t.contains("Acknowledged")).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let keys = outbox_keys(&b).await?;
    let second_pages: Vec<_> = keys.iter().filter(|k| k.starts_with(&second)).collect();
    assert_eq!(second_pages.len(), 1, "only level 1 was paged before the ack: {second_pages:?}");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn reloading_mid_escalation_loses_no_page_and_sends_none_twice() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_file(4)).await?;
    let id = open_incident(&b, "Payments failing").await?;
    // Reload at uneven moments across the 4 s timeout.
    for pause_ms in [300u64, 1700, 900, 2300, 600] {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        b.reload().await?;
    }
    let keys = wait_for_pages(&b, 2, Duration::from_secs(15)).await?;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let paged = paged_keys(&b).await?;
    assert_eq!(paged, keys, "each page appears once in the timeline, and every queued page is in it");
    assert!(paged.iter().all(|k| k.starts_with(&id)));
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tabs_page_once_and_the_survivor_takes_over() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_file(3)).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    let first_tab = b.driver.window().await?;

    let second_tab = b.driver.new_tab().await?;
    b.driver.switch_to_window(second_tab.clone()).await?;
    b.open("/incidents").await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running in another tab")).await?;

    // The follower opens the incident: its command runs in the leader's tab.
    let id = open_incident(&b, "Two tabs").await?;
    let keys = wait_for_pages(&b, 2, Duration::from_secs(15)).await?;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(paged_keys(&b).await?, keys, "each page happened once");
    assert!(keys.iter().all(|k| k.starts_with(&id)));

    // Close the leader: the other tab takes the clock within a few seconds.
    b.driver.switch_to_window(first_tab).await?;
    b.driver.close_window().await?;
    b.driver.switch_to_window(second_tab).await?;
    let started = Instant::now();
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "takeover took {took:?}");

    // The new leader escalates: a second incident pages level 2 from this tab.
    let id2 = open_incident(&b, "After takeover").await?;
    let keys = wait_for_pages(&b, 4, Duration::from_secs(15)).await?;
    assert_eq!(keys.iter().filter(|k| k.starts_with(&id2)).count(), 2, "{keys:?}");
    b.quit().await
}

/// Lateness of every stored timeline entry: (kind, seconds between intended and recorded time).
async fn lateness(b: &Browser) -> Result<Vec<(String, f64)>> {
    let rows = idb_all(b, "timeline").await?;
    Ok(rows
        .iter()
        .map(|r| {
            let at = chrono::DateTime::parse_from_rfc3339(r["value"]["entry"]["at"].as_str().unwrap()).unwrap();
            let recorded = chrono::DateTime::parse_from_rfc3339(r["value"]["recorded_at"].as_str().unwrap()).unwrap();
            (r["value"]["entry"]["kind"].as_str().unwrap_or("").to_string(), (recorded - at).num_milliseconds() as f64 / 1000.0)
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_tab_catches_up_in_order_and_says_how_late() -> Result {
    use thirtyfour::extensions::cdp::ChromeDevTools;
    let b = Browser::start().await?;
    restore(&b, &backup_file(3)).await?;
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    let id = open_incident(&b, "Asleep at the desk").await?;
    let visible = wait_for_pages(&b, 2, Duration::from_secs(15)).await?;
    assert_eq!(visible.len(), 2);
    let on_time = lateness(&b).await?;
    let escalated = on_time.iter().find(|(k, _)| k == "escalated").map(|(_, s)| *s).unwrap_or(f64::NAN);
    println!("lateness in a visible tab: level 2 escalated {escalated:.2} s after its deadline");
    assert!(escalated < 3.0, "a visible tab fires within a tick: {escalated} s");

    // Freeze the page the way a browser does to a background tab, across a deadline.
    let second = open_incident(&b, "Paged while frozen").await?;
    let cdp = ChromeDevTools::new(b.driver.handle.clone());
    cdp.execute_cdp_with_params("Page.setWebLifecycleState", json!({"state": "frozen"})).await?;
    tokio::time::sleep(Duration::from_secs(70)).await;
    cdp.execute_cdp_with_params("Page.setWebLifecycleState", json!({"state": "active"})).await?;

    let keys = wait_for_pages(&b, 4, Duration::from_secs(20)).await?;
    assert_eq!(keys.iter().filter(|k| k.starts_with(&second)).count(), 2, "nothing lost while frozen: {keys:?}");
    assert_eq!(keys.iter().filter(|k| k.starts_with(&id)).count(), 2, "nothing repeated: {keys:?}");
    let rows = idb_all(&b, "timeline").await?;
    let late: Vec<f64> = rows
        .iter()
        .filter(|r| r["value"]["incident"] == json!(second) && r["value"]["entry"]["kind"] == "escalated")
        .map(|r| {
            let at = chrono::DateTime::parse_from_rfc3339(r["value"]["entry"]["at"].as_str().unwrap()).unwrap();
            let recorded = chrono::DateTime::parse_from_rfc3339(r["value"]["recorded_at"].as_str().unwrap()).unwrap();
            (recorded - at).num_milliseconds() as f64 / 1000.0
        })
        .collect();
    println!("lateness after a 70 s freeze: level 2 escalated {late:?} s after its deadline");
    assert!(late.iter().all(|s| *s > 60.0), "the step fired late and says so: {late:?}");
    b.wait_text(".clock-status", |t| t.contains("caught up") && t.contains("late")).await?;
    b.driver.goto(format!("{}/#/incidents/{second}", crate::support::base_url())).await?;
    b.wait_text("ol.timeline", |t| t.contains("late: this tab was asleep")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn editing_a_policy_leaves_live_incidents_on_their_frozen_path() -> Result {
    let b = Browser::start().await?;
    let people = vec![
        json!({"id": "alice", "name": "Alice Primary", "time_zone": "UTC"}),
        json!({"id": "bob", "name": "Bob Backup", "time_zone": "UTC"}),
        json!({"id": "carol", "name": "Carol Newcomer", "time_zone": "UTC"}),
    ];
    restore(&b, &backup_with(people, 8)).await?;
    let live = open_incident(&b, "Opened before the edit").await?;

    // The policy changes while that incident escalates: level 2 becomes Carol, after 3 s.
    let edited = std::env::temp_dir().join(format!("piket-e2e-policies-{}.json", std::process::id()));
    std::fs::write(
        &edited,
        serde_json::to_string(&json!([{"id": "quick", "name": "Quick test policy", "levels": [
            {"name": "Primary", "targets": [{"person": "alice"}], "ack_timeout": "3s"},
            {"name": "Backup", "targets": [{"person": "carol"}]}
        ]}]))?,
    )?;
    b.open("/settings").await?;
    b.field("Import policies").await?.send_keys(edited.display().to_string()).await?;
    b.wait_text(".settings", |t| t.contains("Imported 1 policies")).await?;
    let after = open_incident(&b, "Opened after the edit").await?;

    let keys = wait_for_pages(&b, 4, Duration::from_secs(25)).await?;
    let of = |id: &str| keys.iter().filter(|k| k.starts_with(id)).cloned().collect::<Vec<_>>();
    assert!(of(&live).iter().any(|k| k.ends_with("/bob")), "the live incident kept its frozen level 2: {keys:?}");
    assert!(!of(&live).iter().any(|k| k.contains("carol")), "{keys:?}");
    assert!(of(&after).iter().any(|k| k.ends_with("/carol")), "a new incident follows the edited policy: {keys:?}");
    b.quit().await
}
