//! What a new user tripped over (issue 11), each with the test that would have caught it.

use serde_json::json;

use crate::clock::{backup_with, restore};
use crate::support::{Browser, Result};

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_intake_parameter_keeps_the_rest_and_is_marked_at_its_field() -> Result {
    let b = Browser::start().await?;
    b.open("/#/new?title=Disk+full&severity=sev2&link=ftp://x").await?;
    b.wait_text("#inc-links-error", |t| t.contains("From the link") && t.contains("link")).await?;
    let title = b.field("Title").await?.value().await?.unwrap_or_default();
    let severity = b.field("Severity").await?.prop("value").await?.unwrap_or_default();
    assert_eq!((title.as_str(), severity.as_str()), ("Disk full", "sev2"), "every valid field is kept");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seconds_long_timeout_is_shown_in_seconds() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice", "time_zone": "UTC"}), json!({"id": "bob", "name": "Bob", "time_zone": "UTC"})], 20))
        .await?;
    b.open("/policies/quick").await?;
    b.wait_text(".path-preview", |t| t.contains("+20 s") && !t.contains("+0 min")).await?;
    let shown = b.field("Ack timeout (minutes)").await?.value().await?.unwrap_or_default();
    assert_eq!(shown, "20s", "not a fraction of a minute");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_personal_webhook_is_refused_at_its_field_on_save() -> Result {
    let b = Browser::start().await?;
    b.open("/people").await?;
    b.fill("Name", "Mallory").await?;
    b.fill("Time zone", "UTC").await?;
    b.fill("Webhook URL", "javascript:alert(1)").await?;
    b.click("Add person").await?;
    b.wait_text(".screen", |t| t.contains("Webhook URL must start with https://")).await?;
    let invalid = b.field("Webhook URL").await?.attr("aria-invalid").await?.unwrap_or_default();
    assert_eq!(invalid, "true", "the error is at the field");
    assert!(b.people_names().await?.is_empty(), "nothing was saved");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_delivery_says_for_whom_and_why_in_words() -> Result {
    let receiver = crate::delivery::Receiver::start();
    receiver.answers.lock().unwrap().push_back(400);
    let b = Browser::start().await?;
    let alice = json!({"id": "alice", "name": "Alice Hook", "time_zone": "UTC", "contact": {"webhook_url": format!("{}/alice", receiver.url)}});
    restore(&b, &backup_with(vec![alice], 60)).await?;
    crate::clock::open_incident(&b, "Webhook refuses").await?;
    // Let the attempt finish here before leaving the page.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while crate::clock::idb_all(&b, "outbox").await?.first().is_none_or(|r| r["value"]["state"] != "failed") && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.open("/channels").await?;
    let row = b.wait_text(".failed-list", |t| t.contains("Webhook refuses")).await?;
    assert!(row.contains("Alice Hook") && row.contains("webhook") && row.contains("refused with HTTP 400"), "{row}");
    assert!(!row.contains('{') && !row.contains("attempt(s)") && !row.contains("Refused"), "words, not debug text: {row}");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alertmanager_group_of_twenty_alerts_is_one_incident() -> Result {
    let alerts: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            json!({"status": "firing", "fingerprint": format!("fp-{i}"), "labels": {"alertname": "HighLatency", "severity": "critical", "instance": format!("web-{i}")},
                   "annotations": {"summary": "Latency above 2 s"}, "startsAt": "2025-01-01T00:00:00Z"})
        })
        .collect();
    let payload = json!({"version": "4", "status": "firing", "receiver": "piket", "groupKey": "{}:{alertname=\"HighLatency\"}",
        "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "Latency above 2 s"}, "externalURL": "http://alertmanager.example", "alerts": alerts});
    let b = Browser::start().await?;
    b.open("/new").await?;
    b.fill("Alert JSON", &payload.to_string()).await?;
    b.click("Take in alert").await?;
    b.wait_text(".paste-results", |t| t.contains("Opened")).await?;
    b.open("/incidents").await?;
    b.wait_text("ul.incident-list a", |t| t.contains("Latency above 2 s")).await?;
    let rows = b.driver.find_all(thirtyfour::By::Css("ul.incident-list > li")).await?.len();
    assert_eq!(rows, 1, "one notification, one incident");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_screen_is_in_the_navigation_in_one_row_on_a_phone() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    b.open("/incidents").await?;
    let mut names = Vec::new();
    for a in b.driver.find_all(thirtyfour::By::Css("nav.app-nav a")).await? {
        names.push(a.text().await?);
    }
    for want in ["Incidents", "Policies", "Schedules", "People", "Teams", "Rules", "Channels", "Lab", "Settings"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    let nav_height: f64 = b.driver.execute("return document.querySelector('nav.app-nav').getBoundingClientRect().height", vec![]).await?.convert()?;
    assert!(nav_height < 70.0, "one row, not {nav_height} px");
    let fits: bool = b.driver.execute("return document.documentElement.scrollWidth <= window.innerWidth", vec![]).await?.convert()?;
    assert!(fits, "no sideways scroll of the page");
    let rules = b.wait_for(thirtyfour::By::XPath("//nav[contains(@class,'app-nav')]//a[normalize-space()='Rules']")).await?;
    b.tap(&rules).await?;
    b.wait_text("main h1", |t| t == "Rules").await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_deep_link_opens_without_a_crash() -> Result {
    let b = Browser::start().await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", std::time::Duration::from_secs(60), |t| t.contains("is loaded")).await?;
    let id = crate::clock::open_incident(&b, "Deep link").await?;
    for path in [
        "/policies/example-policy".to_string(),
        "/schedules/example-primary".to_string(),
        format!("/incidents/{id}"),
        "/lab".into(),
        "/teams".into(),
        "/rules".into(),
        "/new?title=x".into(),
        "/#/policies/example-policy".into(),
        "/#/schedules/example-primary".into(),
    ] {
        b.open(&path).await?;
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        assert!(b.driver.find_all(thirtyfour::By::Id("recovery")).await?.is_empty(), "{path} crashed the app");
        // The next navigation inside the app works too.
        let settings = b.wait_for(thirtyfour::By::XPath("//nav[contains(@class,'app-nav')]//a[normalize-space()='Settings']")).await?;
        b.tap(&settings).await?;
        b.wait_text("main h1", |t| t == "Settings").await?;
        assert!(b.driver.find_all(thirtyfour::By::Id("recovery")).await?.is_empty(), "navigating on from {path} crashed the app");
    }
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_load_is_never_blank_and_says_so_when_it_fails() -> Result {
    // While the wasm loads, index.html itself says so; once the app runs, the note is gone.
    let b = Browser::start().await?;
    b.open("/incidents").await?;
    let html: String = b
        .driver
        .execute_async("const done = arguments[arguments.length - 1]; fetch('/index.html').then((r) => r.text()).then(done, () => done(''));", vec![])
        .await?
        .convert()?;
    assert!(html.contains("id=\"loading\"") && html.contains("Loading Piket"), "a loading note needing no wasm");
    assert!(b.driver.find_all(thirtyfour::By::Id("loading")).await?.is_empty(), "gone once the app runs");

    // A host that cannot serve the wasm: the note says Piket could not start.
    let dist = std::path::PathBuf::from(std::env::var("PIKET_DIST").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/dist").into()));
    let broken = crate::support::MiniServer::start(
        0,
        std::sync::Arc::new(move |request: crate::support::HttpRequest| {
            let path = request.path.split(['?', '#']).next().unwrap_or("/").trim_start_matches('/').to_string();
            let file = if path.is_empty() || !dist.join(&path).is_file() { dist.join("index.html") } else { dist.join(&path) };
            if path.ends_with(".wasm") {
                return crate::support::HttpResponse { status: 404, headers: vec![], body: b"gone".to_vec() };
            }
            let kind = if path.ends_with(".js") { "text/javascript" } else { "text/html; charset=utf-8" };
            crate::support::HttpResponse { status: 200, headers: vec![("Content-Type".into(), kind.into())], body: std::fs::read(file).unwrap_or_default() }
        }),
    );
    b.driver.goto(format!("http://127.0.0.1:{}/incidents", broken.port)).await?;
    b.wait_text_within("#loading-text", std::time::Duration::from_secs(20), |t| t.contains("could not start")).await?;
    broken.stop();
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_survive_a_reload_on_a_host_with_no_fallback() -> Result {
    // The shared test server answers unknown paths with 404, as `python3 -m http.server` does.
    let b = Browser::start().await?;
    b.open("/").await?;
    let nav = |name: &str| thirtyfour::By::XPath(format!("//nav[contains(@class,'app-nav')]//a[normalize-space()='{name}']"));
    b.tap(&b.wait_for(nav("Policies")).await?).await?;
    b.wait_text("main h1", |t| t == "Policies").await?;
    let url = b.driver.current_url().await?;
    assert_eq!((url.path(), crate::support::route_of(&url).as_str()), ("/", "/policies"), "the screen is in the fragment: {url}");
    b.reload().await?;
    b.wait_text("main h1", |t| t == "Policies").await?;

    // Back and forward move between screens.
    b.tap(&b.wait_for(nav("People")).await?).await?;
    b.wait_text("main h1", |t| t == "People").await?;
    b.driver.back().await?;
    b.wait_text("main h1", |t| t == "Policies").await?;
    b.driver.forward().await?;
    b.wait_text("main h1", |t| t == "People").await?;

    // A host with a fallback answers an old path link with the app: it opens the screen and the
    // address becomes the form a reload can open anywhere.
    let fallback = crate::support::StaticServer::start_with_fallback();
    b.driver.goto(format!("{}/schedules", fallback.url)).await?;
    b.wait_text("main h1", |t| t == "Schedules").await?;
    let url = b.driver.current_url().await?;
    assert_eq!((url.path(), crate::support::route_of(&url).as_str()), ("/", "/schedules"));
    fallback.stop();
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_link_followed_in_an_open_tab_shows_its_screen() -> Result {
    let b = Browser::start().await?;
    b.open("/").await?;
    b.wait_for(thirtyfour::By::Css("main h1")).await?;
    // Same document, new fragment: no reload, the screen must follow.
    b.driver.goto(format!("{}/#/new?title=Disk+full&severity=sev2", crate::support::base_url())).await?;
    b.wait_text("main h1", |t| t == "Open an incident").await?;
    assert_eq!(b.field("Title").await?.value().await?.as_deref(), Some("Disk full"));
    // Another intake link while the form is open fills it again.
    b.driver.goto(format!("{}/#/new?title=Queue+backlog", crate::support::base_url())).await?;
    b.wait_for(thirtyfour::By::Css("main h1")).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while b.field("Title").await?.value().await?.as_deref() != Some("Queue backlog") {
        assert!(std::time::Instant::now() < deadline, "the second link did not fill the form");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_keeping_the_clock_is_told_what_is_true_and_sees_open_incidents_first() -> Result {
    let b = Browser::start_phone().await?;
    b.open("/").await?;
    let coarse: bool = b.driver.execute("return matchMedia('(pointer: coarse)').matches", vec![]).await?.convert()?;
    assert!(coarse, "the phone profile has a touch pointer");
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    let hint = b.wait_text(".clock-hint", |t| !t.is_empty()).await?;
    assert!(!hint.contains("receives pages"), "this phone runs the clock; it was told otherwise: {hint}");
    assert!(hint.contains("clock"), "{hint}");

    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", std::time::Duration::from_secs(60), |t| t.contains("is loaded")).await?;
    for title in ["Checkout down", "Payments down", "Login down"] {
        crate::clock::open_incident(&b, title).await?;
    }
    b.open("/incidents").await?;
    b.wait_for(thirtyfour::By::Css(".incident-row")).await?;
    let (top, fold): (f64, f64) =
        b.driver.execute("return [document.querySelector('.incident-row').getBoundingClientRect().top, window.innerHeight]", vec![]).await?.convert()?;
    assert!(top + 60.0 < fold, "the first open incident is on the first screen (top {top} of {fold})");
    b.quit().await
}

/// Controls smaller than 44 px on the page (a link inside a sentence is exempt, as WCAG 2.5.8 says).
const SMALL_TARGETS: &str = r#"
const out = [];
for (const el of document.querySelectorAll('a[href], button, input[type=checkbox], select, summary')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.height === 0 || el.closest('#recovery')) continue;
  let target = el;
  if (el.matches('input[type=checkbox]')) target = el.closest('.check') || el.closest('label') || el;
  if (el.matches('a') && !el.classList.contains('card')) {
    const own = el.textContent.trim().length, around = el.parentElement.textContent.trim().length;
    if (around > own + 3) continue;
  }
  const r = target.getBoundingClientRect();
  if (r.height < 43.5) out.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 40)}": ${Math.round(r.height)} px`);
}
return out;
"#;

#[tokio::test(flavor = "multi_thread")]
async fn every_tap_target_on_a_phone_is_44_px() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", std::time::Duration::from_secs(60), |t| t.contains("is loaded")).await?;
    let id = crate::clock::open_incident(&b, "Tap targets").await?;
    let incident = format!("/incidents/{id}");
    let mut small = Vec::new();
    for path in [
        "/incidents",
        "/new",
        &incident,
        "/policies",
        "/policies/example-policy",
        "/schedules",
        "/schedules/example-primary",
        "/teams",
        "/rules",
        "/people",
        "/channels",
        "/lab",
        "/settings",
    ] {
        b.open(path).await?;
        b.wait_for(thirtyfour::By::Css("main h1")).await?;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let found: Vec<String> = b.driver.execute(SMALL_TARGETS, vec![]).await?.convert()?;
        small.extend(found.into_iter().map(|f| format!("{path}: {f}")));
    }
    assert!(small.is_empty(), "tap targets under 44 px:\n{}", small.join("\n"));
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_pill_lines_up_with_the_severity_badge() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    b.open("/").await?;
    let id = crate::clock::open_incident(&b, "Aligned").await?;
    b.open(&format!("/incidents/{id}")).await?;
    b.wait_for(thirtyfour::By::Css(".badges .sev-badge")).await?;
    let boxes: Vec<(f64, f64)> = b
        .driver
        .execute("return [...document.querySelectorAll('.incident-page .badges > span')].map((e) => { const r = e.getBoundingClientRect(); return [r.top, r.height]; })", vec![])
        .await?
        .convert()?;
    assert!(boxes.len() >= 2, "{boxes:?}");
    for (top, height) in &boxes {
        assert!((top - boxes[0].0).abs() < 1.0 && (height - boxes[0].1).abs() < 1.0, "pills of one row share top and height: {boxes:?}");
    }
    b.quit().await
}
