//! Acknowledging from a phone, end to end: the desk tab pages through ntfy (the protocol-faithful
//! stand-in), the phone acts — as the ntfy app's http action, or as a second browser profile
//! opening the `/ack/` link from a Slack message — and the clock applies it, once, in order with
//! its deadlines, even after a freeze or an ntfy outage.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thirtyfour::prelude::*;

use crate::clock::{idb_all, open_incident, restore};
use crate::delivery::Receiver;
use crate::ntfy::{perform_http_action, NtfyStandIn};
use crate::support::{Browser, Result};

/// The team key the backups below carry (the e2e tests mint forgeries against it).
const KEY: [u8; 32] = [7; 32];
const REPLY_TOPIC: &str = "piket-0123456789abcdef0123456789abcdef";

struct Team<'a> {
    ntfy: &'a str,
    /// Level 1's ack timeout, seconds.
    ack_secs: u32,
    /// A Slack receiver for a channel level 1 also posts to.
    slack: Option<&'a str>,
    /// The reply channel already on (else it is turned on in Settings).
    reply_on: bool,
}

/// A backup: Alice (ntfy topic) at level 1, Bob at level 2 after `ack_secs`.
fn team_backup(team: &Team) -> std::path::PathBuf {
    let now = "2026-11-29T00:00:00Z";
    let env = |id: &str, value: Value| json!({"id": id, "rev": 1, "updated_at": now, "value": value});
    let mut level1 = vec![json!({"person": "alice"})];
    let mut channels = vec![];
    if let Some(slack) = team.slack {
        level1.push(json!({"channel": "oncall-room"}));
        channels.push(env("oncall-room", json!({"id": "oncall-room", "name": "#oncall", "kind": "slack", "address": slack})));
    }
    let mut settings = vec![
        env("world", json!({"key": "world", "value": {"default_policy": "quick", "rule_order": []}})),
        env("delivery", json!({"key": "delivery", "value": {"ntfy_server": team.ntfy, "retry_limit_secs": 600}})),
    ];
    if team.reply_on {
        let key = base64_url(&KEY);
        settings.push(env("reply", json!({"key": "reply", "value": {"enabled": true, "server": "", "topic": REPLY_TOPIC, "key": key, "enabled_at": now}})));
    }
    let file = json!({
        "piket_backup": 1, "schema": 2, "exported_at": now, "secrets_included": true,
        "stores": {
            "people": [
                env("alice", json!({"id": "alice", "name": "Alice Phone", "time_zone": "UTC", "contact": {"ntfy_topic": "piket-alice"}})),
                env("bob", json!({"id": "bob", "name": "Bob Backup", "time_zone": "UTC", "contact": {"ntfy_topic": "piket-bob"}})),
            ],
            "channels": channels,
            "policies": [env("quick", json!({"id": "quick", "name": "Quick", "levels": [
                {"name": "Primary", "targets": level1, "ack_timeout": format!("{}s", team.ack_secs)},
                {"name": "Backup", "targets": [{"person": "bob"}]},
            ]}))],
            "settings": settings,
        }
    });
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("piket-e2e-phone-{}-{n}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string_pretty(&file).unwrap()).unwrap();
    path
}

fn base64_url(bytes: &[u8]) -> String {
    piket::reply::TeamKey::from_bytes(bytes.try_into().unwrap()).to_base64()
}

/// The desk: a browser holding the team, the clock, and (once on) the reply channel.
async fn desk(team: &Team<'_>) -> Result<Browser> {
    let b = Browser::start().await?;
    restore(&b, &team_backup(team)).await?;
    if !team.reply_on {
        b.open("/settings").await?;
        let on = b.wait_for(By::XPath("//label[contains(., 'Accept acknowledgements from phones')]/input")).await?;
        b.tap(&on).await?;
        b.click("Save reply channel").await?;
        b.wait_text(".reply-channel", |t| t.contains("Acknowledge from phones is on")).await?;
    }
    b.open("/settings").await?;
    b.wait_text(".reply-status", |t| t.contains("Listening on")).await?;
    Ok(b)
}

/// The page's ntfy message to a person's topic, once it arrived.
async fn page_to(ntfy: &NtfyStandIn, topic: &str, title: &str) -> Result<Value> {
    let title = title.to_string();
    ntfy.wait_for_message(topic, Duration::from_secs(15), move |m| m["title"].as_str().is_some_and(|t| t.contains(&title)))
        .await
        .ok_or_else(|| format!("no page on {topic}: {:?}", ntfy.messages(topic)).into())
}

/// Timeline rows of an incident in storage.
async fn timeline(b: &Browser, incident: &str) -> Result<Vec<Value>> {
    Ok(idb_all(b, "timeline").await?.into_iter().map(|r| r["value"].clone()).filter(|v| v["incident"] == incident).collect())
}

async fn wait_acknowledged(b: &Browser, incident: &str, within: Duration) -> Result<Vec<Value>> {
    let deadline = Instant::now() + within;
    loop {
        let rows = timeline(b, incident).await?;
        if rows.iter().any(|r| r["entry"]["kind"] == "acknowledged") {
            return Ok(rows);
        }
        if Instant::now() > deadline {
            return Err(format!("not acknowledged within {within:?}: {rows:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn paged(rows: &[Value]) -> Vec<String> {
    rows.iter().filter(|r| r["entry"]["kind"] == "paged").filter_map(|r| r["entry"]["person"].as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ntfy_acknowledge_button_acknowledges_on_the_desk_and_level_two_is_never_paged() -> Result {
    let ntfy = NtfyStandIn::start();
    let b = desk(&Team { ntfy: &ntfy.url, ack_secs: 8, slack: None, reply_on: false }).await?;
    assert_eq!(ntfy.subscribers(&b.driver.find(By::Css(".reply-topic")).await?.text().await?), 1, "the clock listens");

    let id = open_incident(&b, "Disk <b>full</b> on db1").await?;
    let page = page_to(&ntfy, "piket-alice", "Disk <b>full</b> on db1").await?;
    let actions = page["actions"].as_array().unwrap();
    assert!(actions.len() <= 3);
    assert_eq!((actions[0]["action"].as_str(), actions[0]["label"].as_str(), actions[0]["clear"].as_bool()), (Some("http"), Some("Acknowledge"), Some(true)));
    assert_eq!((actions[1]["action"].as_str(), actions[1]["label"].as_str()), (Some("view"), Some("Open")));
    assert!(actions[1]["url"].as_str().unwrap().contains("/ack/#"));

    // The phone app performs the action itself.
    let tapped = Instant::now();
    let (status, _) = perform_http_action(&actions[0]).await?;
    assert_eq!(status, 200);
    let rows = wait_acknowledged(&b, &id, Duration::from_secs(2)).await?;
    println!("phone acknowledgement reached the desk's storage in {:?}", tapped.elapsed());
    b.wait_text("ol.timeline", |t| t.contains("Acknowledged from phone (ntfy)") && t.contains("Alice Phone")).await?;
    assert!(rows.iter().any(|r| r["entry"]["detail"].as_str().is_some_and(|d| d.contains("Acknowledged from phone (ntfy)"))));

    // The clock confirmed on the reply topic.
    let reply_topic = actions[0]["url"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    ntfy.wait_for_message(&reply_topic, Duration::from_secs(5), |m| m["message"].as_str().is_some_and(|t| t.starts_with("piket-confirm:")))
        .await
        .ok_or("no confirmation")?;

    // Past level 1's timeout: nobody else was paged.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(paged(&timeline(&b, &id).await?), ["alice"]);
    assert!(ntfy.messages("piket-bob").is_empty(), "Bob was never paged");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn tap_to_acknowledged_latency_over_twenty_pages() -> Result {
    let ntfy = NtfyStandIn::start();
    let b = desk(&Team { ntfy: &ntfy.url, ack_secs: 600, slack: None, reply_on: true }).await?;
    let mut latencies = Vec::new();
    for n in 0..20 {
        let title = format!("Latency probe {n}");
        let id = open_incident(&b, &title).await?;
        let page = page_to(&ntfy, "piket-alice", &title).await?;
        let tapped = Instant::now();
        perform_http_action(&page["actions"][0]).await?;
        wait_acknowledged(&b, &id, Duration::from_secs(10)).await?;
        latencies.push(tapped.elapsed());
    }
    latencies.sort();
    println!("tap-to-acknowledged latency over 20 pages: median {:?}, min {:?}, max {:?}", latencies[10], latencies[0], latencies[19]);
    assert!(latencies[10] < Duration::from_secs(2), "{latencies:?}");
    b.quit().await
}

/// Reads the `/ack/` page's state and status text.
async fn ack_state(phone: &Browser) -> Result<(String, String)> {
    let result = phone.driver.find(By::Id("result")).await?;
    let state = result.attr("data-state").await?.unwrap_or_default();
    let status = phone.driver.find(By::Id("status")).await?.text().await?;
    Ok((state, status))
}

async fn wait_ack_state(phone: &Browser, want: &str, within: Duration) -> Result<String> {
    let deadline = Instant::now() + within;
    loop {
        let (state, status) = ack_state(phone).await?;
        if state == want {
            return Ok(status);
        }
        if Instant::now() > deadline {
            return Err(format!("the /ack/ page is {state:?} ({status:?}), not {want:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Replaces the payload's title in a link, keeping the signature (a forgery).
fn tamper(link: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (base, fragment) = link.split_once('#').unwrap();
    let parts: Vec<&str> = fragment.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    claims["by"] = json!("bob");
    claims["name"] = json!("Bob Backup");
    format!("{base}#{}.{}.{}", b64.encode(serde_json::to_vec(&claims).unwrap()), parts[1], parts[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_with_nothing_stored_acknowledges_from_the_slack_link_once() -> Result {
    let ntfy = NtfyStandIn::start();
    let slack = Receiver::start();
    let b = desk(&Team { ntfy: &ntfy.url, ack_secs: 600, slack: Some(&format!("{}/slack", slack.url)), reply_on: true }).await?;
    let id = open_incident(&b, "Payments 502 <script>alert(1)</script>").await?;
    let got = slack.wait_for(1, Duration::from_secs(15)).await;
    let body: Value = serde_json::from_str(&got.first().ok_or("no Slack post")?.body)?;
    let buttons = body["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").ok_or("no buttons")?["elements"].clone();
    assert_eq!(buttons[0]["text"]["text"], "Acknowledge");
    let link = buttons[0]["url"].as_str().unwrap().to_string();
    assert!(link.contains("/ack/#"), "{link}");

    // A second browser profile, phone-sized: nothing stored.
    let phone = Browser::start_sized(360, 740).await?;
    phone.driver.goto(&link).await?;
    phone.wait_text("#title", |t| t == "Payments 502 <script>alert(1)</script>").await?;
    phone.wait_text("#severity", |t| t == "SEV1").await?;
    phone.wait_text("#person", |t| t.contains("Alice Phone")).await?;
    assert_eq!(wait_ack_state(&phone, "idle", Duration::from_secs(5)).await.map(|_| ()).is_ok(), true, "opening the link does not act");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(timeline(&b, &id).await?.iter().all(|r| r["entry"]["kind"] != "acknowledged"), "a GET never acts");
    let scroll: bool = phone.driver.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await?.convert()?;
    assert!(scroll, "no sideways scroll on a phone");
    if let Ok(dir) = std::env::var("PIKET_SCREENSHOTS") {
        phone.driver.screenshot(&std::path::Path::new(&dir).join("ack-phone.png")).await?;
    }
    phone.click("Acknowledge").await?;
    let confirmed = wait_ack_state(&phone, "confirmed", Duration::from_secs(10)).await?;
    assert!(confirmed.contains("Acknowledged — confirmed by the clock at"), "{confirmed}");
    if let Ok(dir) = std::env::var("PIKET_SCREENSHOTS") {
        phone.driver.screenshot(&std::path::Path::new(&dir).join("ack-phone-confirmed.png")).await?;
    }
    wait_acknowledged(&b, &id, Duration::from_secs(5)).await?;

    // The same link again: refused as used, nothing changes.
    phone.driver.goto("about:blank").await?;
    phone.driver.goto(&link).await?;
    wait_ack_state(&phone, "idle", Duration::from_secs(5)).await?;
    phone.click("Acknowledge").await?;
    let used = wait_ack_state(&phone, "refused", Duration::from_secs(10)).await?;
    assert!(used.contains("already used"), "{used}");

    // A forged link (the claims changed, the signature kept): refused, nothing changes.
    phone.driver.goto("about:blank").await?;
    phone.driver.goto(&tamper(&link)).await?;
    phone.wait_text("#person", |t| t.contains("Bob Backup")).await?;
    phone.click("Acknowledge").await?;
    let forged = wait_ack_state(&phone, "refused", Duration::from_secs(10)).await?;
    assert!(forged.contains("not signed by your team's key"), "{forged}");

    let rows = timeline(&b, &id).await?;
    let acks: Vec<_> = rows.iter().filter(|r| r["entry"]["kind"] == "acknowledged").map(|r| r["entry"]["actor"].clone()).collect();
    assert_eq!(acks.len(), 1, "acknowledged once, by Alice: {acks:?}");
    b.open("/settings").await?;
    b.wait_text(".reply-counts", |t| t.contains("applied: 1") && t.contains("refused: 2")).await?;
    b.wait_text(".reply-refusals", |t| t.contains("replayed") && t.contains("forged")).await?;
    phone.quit().await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_clock_honours_an_ack_sent_before_the_deadline_it_slept_through() -> Result {
    use thirtyfour::extensions::cdp::ChromeDevTools;
    let ntfy = NtfyStandIn::start();
    // Level 1 waits 15 s: room for a busy machine to get the page out and freeze the tab well
    // before the deadline the phone's tap must beat.
    let b = desk(&Team { ntfy: &ntfy.url, ack_secs: 15, slack: None, reply_on: true }).await?;
    let opened = Instant::now();
    let id = open_incident(&b, "Frozen desk").await?;
    let page = page_to(&ntfy, "piket-alice", "Frozen desk").await?;

    let cdp = ChromeDevTools::new(b.driver.handle.clone());
    cdp.execute_cdp_with_params("Page.setWebLifecycleState", json!({"state": "frozen"})).await?;
    perform_http_action(&page["actions"][0]).await?;
    assert!(opened.elapsed() < Duration::from_secs(14), "the tap must come before level 1's deadline: {:?}", opened.elapsed());
    // Sleep through level 1's deadline.
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(opened.elapsed())).await;
    cdp.execute_cdp_with_params("Page.setWebLifecycleState", json!({"state": "active"})).await?;

    let rows = wait_acknowledged(&b, &id, Duration::from_secs(15)).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows_after = timeline(&b, &id).await?;
    assert_eq!(paged(&rows_after), ["alice"], "level 2 is not paged: {rows:?}");
    assert!(ntfy.messages("piket-bob").is_empty());
    let note = rows_after.iter().filter_map(|r| r["entry"]["detail"].as_str()).find(|d| d.contains("from phone")).unwrap_or_default().to_string();
    assert!(note.contains("before the clock applied it"), "lateness is said: {note}");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_ntfy_down_the_phone_says_so_and_the_clock_catches_up_when_it_is_back() -> Result {
    let ntfy = NtfyStandIn::start();
    let b = desk(&Team { ntfy: &ntfy.url, ack_secs: 600, slack: None, reply_on: true }).await?;
    let id = open_incident(&b, "ntfy outage").await?;
    let page = page_to(&ntfy, "piket-alice", "ntfy outage").await?;
    let link = page["actions"][1]["url"].as_str().unwrap().to_string();

    ntfy.stop();
    let phone = Browser::start_sized(360, 740).await?;
    phone.driver.goto(&link).await?;
    wait_ack_state(&phone, "idle", Duration::from_secs(5)).await?;
    phone.click("Acknowledge").await?;
    let down = wait_ack_state(&phone, "unreachable", Duration::from_secs(10)).await?;
    assert!(down.contains("Could not reach ntfy"), "{down}");
    b.open("/settings").await?;
    b.wait_text_within(".reply-status", Duration::from_secs(20), |t| t.contains("Cannot reach")).await?;

    ntfy.restart();
    let requests_before = ntfy.requests().len();
    phone.click("Retry").await?;
    let confirmed = wait_ack_state(&phone, "confirmed", Duration::from_secs(20)).await?;
    assert!(confirmed.contains("confirmed by the clock"), "{confirmed}");
    wait_acknowledged(&b, &id, Duration::from_secs(5)).await?;
    let resumed: Vec<_> =
        ntfy.requests()[requests_before..].iter().filter(|(m, p)| m == "GET" && p.contains(REPLY_TOPIC) && p.contains("since=")).cloned().collect();
    assert!(!resumed.is_empty(), "the clock subscribed again with since=: {:?}", ntfy.requests());
    b.wait_text_within(".reply-status", Duration::from_secs(10), |t| t.contains("Listening on")).await?;
    phone.quit().await?;
    b.quit().await
}
