//! Incidents through every layer: the form with its rules preview, a pasted Alertmanager payload,
//! intake links, the list with its countdown, the incident page and its timeline, and a one-tap
//! acknowledgement on a phone-sized screen.

use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

/// Two people, a two-level policy and a rule routing database incidents to it (as urgent).
const SEED: &str = r#"{
  "piket_backup": 1, "schema": 2, "exported_at": "2025-01-01T00:00:00Z", "secrets_included": false,
  "stores": {
    "people": [
      { "id": "alice", "rev": 1, "updated_at": "2025-01-01T00:00:00Z",
        "value": { "id": "alice", "name": "Alice Example", "time_zone": "UTC", "contact": {} } },
      { "id": "bob", "rev": 1, "updated_at": "2025-01-01T00:00:00Z",
        "value": { "id": "bob", "name": "Bob Example", "time_zone": "UTC", "contact": {} } }
    ],
    "policies": [
      { "id": "primary", "rev": 1, "updated_at": "2025-01-01T00:00:00Z",
        "value": { "id": "primary", "name": "Primary", "levels": [
          { "name": "On call", "targets": [{ "person": "alice" }], "ack_timeout": 5 },
          { "name": "Backup", "targets": [{ "person": "bob" }] }
        ] } }
    ],
    "rules": [
      { "id": "db-urgent", "rev": 1, "updated_at": "2025-01-01T00:00:00Z",
        "value": { "id": "db-urgent", "name": "Databases are urgent",
          "when": { "field": "title", "contains": "database" },
          "then": [{ "set_priority": "urgent" }, { "route_to": "primary" }] } }
    ]
  }
}"#;

/// Restores [`SEED`] through Settings' "Restore from backup".
async fn seed(b: &Browser) -> Result {
    seed_at(b, crate::support::base_url()).await
}

/// [`seed`], for the app served at `base`.
pub(crate) async fn seed_at(b: &Browser, base: &str) -> Result {
    restore_seed_at(b, base, |t| t.contains("Restored")).await
}

/// Gives Settings' "Restore from backup" [`SEED`] and waits until the screen says what `answered` looks for.
pub(crate) async fn restore_seed_at(b: &Browser, base: &str, answered: impl Fn(&str) -> bool) -> Result {
    let path = std::env::temp_dir().join(format!("piket-e2e-seed-{}-{}.json", std::process::id(), uuid_like()));
    std::fs::write(&path, SEED)?;
    b.open_at(base, "/settings").await?;
    b.field("Restore from backup").await?.send_keys(path.display().to_string()).await?;
    b.click("Replace everything").await?;
    let seen = b.wait_text("main", answered).await;
    let _ = std::fs::remove_file(&path);
    seen.map(|_| ())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// Opens an incident through the form and returns its id (from the page it lands on).
async fn open_through_form(b: &Browser, title: &str, service: &str) -> Result<String> {
    b.open("/new").await?;
    b.fill("Title", title).await?;
    b.fill("Service", service).await?;
    b.click("Open incident").await?;
    b.wait_text("main h1", |t| t == title).await?;
    let url = b.driver.current_url().await?;
    let id = crate::support::route_of(&url).strip_prefix("/incidents/").ok_or_else(|| format!("landed on {url}"))?.to_string();
    Ok(id)
}

async fn select(b: &Browser, label: &str, value: &str) -> Result {
    let el = b.field(label).await?;
    el.find(By::Css(format!("option[value='{value}']"))).await?.click().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn open_an_incident_through_the_form_and_follow_it() -> Result {
    let b = Browser::start().await?;
    seed(&b).await?;
    b.open("/").await?;
    b.wait_text(".empty-state", |t| t.contains("No open incidents") && t.contains("Open an incident")).await?;

    b.tap(&b.driver.find(By::LinkText("Open an incident")).await?).await?;
    b.wait_text("main h1", |t| t == "Open an incident").await?;
    b.wait_text(".rules-preview-policy", |t| t.contains("none")).await?;
    b.fill("Title", "Primary database down").await?;
    b.fill("Summary", "Writes time out since 14:02").await?;
    select(&b, "Severity", "sev2").await?;
    b.fill("Service", "payments").await?;
    // The rules ran as we typed: before submitting, the preview says what will happen.
    b.wait_text(".rules-preview-priority", |t| t == "urgent").await?;
    b.wait_text(".rules-preview-policy", |t| t == "Primary").await?;
    b.wait_text(".rules-preview-first", |t| t == "Alice Example").await?;
    b.wait_text(".rules-preview-rules", |t| t.contains("Databases are urgent")).await?;
    b.click("Open incident").await?;

    b.wait_text("main h1", |t| t == "Primary database down").await?;
    b.wait_text("ol.timeline > li", |t| t.contains("Paged") && t.contains("Alice Example") && t.contains("Opened") && t.contains("Rule applied")).await?;
    let first = b.driver.find(By::Css("ol.timeline > li")).await?.text().await?;
    assert!(first.contains("Paged"), "newest first: {first}");
    b.wait_text(".paged-now", |t| t.contains("Alice Example")).await?;
    b.wait_text(".next-step", |t| t.starts_with("In 4 min") || t.starts_with("In 5 min")).await?;
    b.wait_text(".next-step", |t| t.contains("Bob Example")).await?;

    b.fill("Note", "Failing over to the replica").await?;
    b.click("Add note").await?;
    // The first action on a device asks who you are, then goes ahead.
    b.click("I am Bob Example").await?;
    b.wait_text("ol.timeline > li:first-child", |t| t.contains("Note") && t.contains("Failing over to the replica") && t.contains("Bob Example")).await?;
    b.wait_text(".acting-as", |t| t.contains("You act as Bob Example")).await?;

    b.tap(&b.driver.find(By::LinkText("Incidents")).await?).await?;
    let row = b.wait_text("ul.incident-list a", |t| t.contains("Primary database down") && t.contains("next step in")).await?;
    assert!(row.contains("SEV2") && row.contains("payments"), "{row}");
    b.tap(&b.driver.find(By::Css("ul.incident-list a")).await?).await?;
    b.wait_text("main h1", |t| t == "Primary database down").await?;

    // Severity first: a SEV1 opened later is listed above it.
    b.open("/new?title=Checkout%20down&severity=sev1").await?;
    b.wait_text(".rules-preview", |t| t.contains("SEV1")).await?;
    b.click("Open incident").await?;
    b.wait_text("main h1", |t| t == "Checkout down").await?;
    b.open("/incidents").await?;
    let list = b.wait_text("ul.incident-list a", |t| t.contains("Checkout down") && t.contains("Primary database down")).await?;
    assert!(list.find("Checkout down") < list.find("Primary database down"), "{list}");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledge_in_one_tap_on_a_phone() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    seed(&b).await?;
    let id = open_through_form(&b, "Orders database is read-only", "orders").await?;

    // From a notification: ?ack=1 asks who you are (once per device), then acknowledges.
    b.open(&format!("/incidents/{id}?ack=1")).await?;
    b.wait_text(".who-am-i", |t| t.contains("Who are you?")).await?;
    b.click("I am Alice Example").await?;
    b.wait_text("ol.timeline > li:first-child", |t| t.contains("Acknowledged") && t.contains("Alice Example")).await?;
    b.wait_text(".ack-state", |t| t.contains("Acknowledged by Alice Example")).await?;
    assert!(!b.button("Acknowledge").await?.is_enabled().await?);

    let sizes = b
        .driver
        .execute(
            "const r = [...document.querySelectorAll('.big-actions button')].map(b => b.getBoundingClientRect().height);
             return [document.documentElement.scrollWidth, window.innerWidth, Math.min(...r)];",
            vec![],
        )
        .await?;
    let sizes: Vec<f64> = sizes.convert()?;
    assert!(sizes[0] <= sizes[1], "no sideways scroll at 360 px: {sizes:?}");
    assert!(sizes[2] >= 48.0, "thumb-sized buttons: {sizes:?}");

    b.click("Resolve").await?;
    b.wait_text("ol.timeline > li:first-child", |t| t.contains("Resolved")).await?;
    b.open("/incidents").await?;
    b.wait_text(".empty-state", |t| t.contains("No open incidents")).await?;
    b.click("Resolved 1").await?;
    b.wait_text("ul.incident-list a", |t| t.contains("Orders database is read-only")).await?;
    let scroll: Vec<i64> = b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert()?;
    assert!(scroll[0] <= scroll[1], "the list fits 360 px: {scroll:?}");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_markup_in_a_title_renders_as_text() -> Result {
    let b = Browser::start().await?;
    let hostile = "<img src=x onerror=alert(1)>";
    let id = open_through_form(&b, hostile, "").await?;
    assert!(!id.is_empty());
    b.wait_text("ol.timeline > li", |t| t.contains(hostile) && t.contains("no escalation policy")).await?;
    assert!(b.driver.find_all(By::Css("main img")).await?.is_empty(), "markup became an element");
    b.open("/incidents").await?;
    b.wait_text("ul.incident-list a", |t| t.contains(hostile)).await?;
    assert!(b.driver.find_all(By::Css("main img")).await?.is_empty(), "markup became an element in the list");
    assert_eq!(b.driver.title().await?, "Piket");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pasted_alertmanager_payload_opens_then_folds() -> Result {
    let payload = r#"{"version": "4", "status": "firing", "receiver": "piket", "groupKey": "{}:{alertname=\"DiskFull\"}",
      "alerts": [{"status": "firing", "fingerprint": "e2e-disk-full-1",
        "labels": {"alertname": "DiskFull", "severity": "critical", "service": "storage"},
        "annotations": {"summary": "Disk full on db-1"}, "startsAt": "2025-01-01T00:00:00Z"}]}"#;
    let b = Browser::start().await?;
    b.open("/new").await?;
    b.fill("Alert JSON", "{\"hello\": 1}").await?;
    b.click("Take in alert").await?;
    b.wait_text("#alert-payload-error", |t| t.contains("Not a payload Piket knows")).await?;

    b.fill("Alert JSON", payload).await?;
    b.click("Take in alert").await?;
    b.wait_text(".paste-results", |t| t.contains("Opened")).await?;
    b.open("/incidents").await?;
    b.wait_text("ul.incident-list a", |t| t.contains("DiskFull") || t.contains("Disk full")).await?;

    b.open("/new").await?;
    b.fill("Alert JSON", payload).await?;
    b.click("Take in alert").await?;
    b.wait_text(".paste-results", |t| t.contains("Folded into")).await?;
    b.open("/incidents").await?;
    let row = b.wait_text("ul.incident-list a", |t| t.contains("2 alerts")).await?;
    assert_eq!(b.driver.find_all(By::Css("ul.incident-list > li")).await?.len(), 1, "the repeat folded: {row}");
    assert!(row.contains("SEV1"), "{row}");
    b.tap(&b.driver.find(By::Css("ul.incident-list a")).await?).await?;
    b.wait_text("ol.timeline > li", |t| t.contains("Alert folded in") && t.contains("no escalation policy")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn intake_links_prefill_the_form() -> Result {
    let b = Browser::start().await?;
    b.open("/#/new?title=Disk%20full%20on%20db-1&severity=critical&service=storage&link=https%3A%2F%2Fgrafana.example.com%2Fd%2F1").await?;
    b.wait_text("main h1", |t| t == "Open an incident").await?;
    assert_eq!(b.field("Title").await?.value().await?.as_deref(), Some("Disk full on db-1"));
    assert_eq!(b.field("Severity").await?.value().await?.as_deref(), Some("sev1"));
    assert_eq!(b.field("Service").await?.value().await?.as_deref(), Some("storage"));
    assert_eq!(b.field("Evidence links").await?.value().await?.as_deref(), Some("https://grafana.example.com/d/1"));
    assert_eq!(crate::support::route_of(&b.driver.current_url().await?), "/new");

    b.open("/new?title=Queue%20backlog&severity=SEV4").await?;
    b.wait_text("main h1", |t| t == "Open an incident").await?;
    assert_eq!(b.field("Title").await?.value().await?.as_deref(), Some("Queue backlog"));
    assert_eq!(b.field("Severity").await?.value().await?.as_deref(), Some("sev4"));

    b.open("/new?sevrity=SEV1").await?;
    b.wait_text("main [role=alert]", |t| t.contains("sevrity")).await?;

    // A title is required; the error is inline.
    b.open("/new").await?;
    b.click("Open incident").await?;
    b.wait_text("#inc-title-error", |t| t.contains("title is required")).await?;
    b.quit().await
}
