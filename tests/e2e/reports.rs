//! Reports end to end: a backup made by the native driver (four incidents, one escalated, one with
//! a retrospective whose action item is overdue) restored into the app, then the Reports screen at
//! 360 px and 1280 px: figures worked out by hand, a table for every chart, no sideways scroll on
//! a phone, the CSV download, and open action items — including one added on an incident's page.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, Utc};
use piket::engine::escalation::Input;
use piket::engine::format::parse_world;
use piket::engine::incident::{Actor, IncidentId};
use piket::insight::retro::{ActionItem, Retrospective};
use piket::runtime::driver::Driver;
use piket::storage::MemoryStore;
use pollster::block_on;
use serde_json::json;
use thirtyfour::prelude::*;

use crate::clock::restore;
use crate::screens::shot;
use crate::support::{Browser, Result};

/// The overdue item's due date: three days before today (UTC, as the browser's zone is here).
fn overdue_date() -> NaiveDate {
    (Utc::now() - Duration::days(3)).date_naive()
}

/// Four incidents, times to acknowledge 2, 4, 8 and 1 min: MTTA median (nearest rank, 2nd of 4)
/// is 2 min, p90 (4th of 4) 8 min. "esc" waited past level 1's 5 min and went to Bob: escalation
/// rate 1 of 4 paged, 25 %. "first" has a retrospective with an overdue item.
fn reports_backup() -> std::path::PathBuf {
    let world = parse_world(
        r#"{"people": [{"id": "alice", "name": "Alice Ops", "time_zone": "UTC"}, {"id": "bob", "name": "Bob Backup", "time_zone": "UTC"}],
            "policies": [{"id": "p", "name": "Primary", "levels": [
                {"targets": [{"person": "alice"}], "ack_timeout": 5},
                {"targets": [{"person": "bob"}], "ack_timeout": 30}]}],
            "default_policy": "p"}"#,
    )
    .unwrap();
    let now = Utc::now();
    let start = now - Duration::days(5);
    let mut d = crate::support::team_driver(world, "p", start);
    let deliver = crate::support::deliver_due;
    let open = |d: &mut Driver<MemoryStore>, id: &str, title: &str, service: &str, at| {
        let details = serde_json::from_value(json!({"title": title, "service": service})).unwrap();
        block_on(d.dispatch(at, Input::Open { id: IncidentId::from(id), by: Actor::Automation, details })).unwrap();
        deliver(d, at);
    };
    let ack = |d: &mut Driver<MemoryStore>, id: &str, who: &str, at| {
        block_on(d.dispatch(at, Input::Acknowledge { incident: id.into(), by: who.into() })).unwrap();
    };
    let resolve = |d: &mut Driver<MemoryStore>, id: &str, who: &str, at| {
        block_on(d.dispatch(at, Input::Resolve { incident: id.into(), by: Actor::Person(who.into()) })).unwrap();
    };
    let m = Duration::minutes;
    let t = now - Duration::days(3);
    open(&mut d, "first", "Checkout errors", "payments", t);
    ack(&mut d, "first", "alice", t + m(2));
    resolve(&mut d, "first", "alice", t + m(10));
    let t = now - Duration::days(2);
    open(&mut d, "second", "Disk almost full", "storage", t);
    ack(&mut d, "second", "alice", t + m(4));
    resolve(&mut d, "second", "alice", t + m(20));
    let t = now - Duration::days(1) - Duration::hours(2);
    open(&mut d, "esc", "Queue backlog", "payments", t);
    block_on(d.tick(t + m(5))).unwrap();
    deliver(&mut d, t + m(5));
    ack(&mut d, "esc", "bob", t + m(8));
    resolve(&mut d, "esc", "bob", t + m(30));
    let t = now - Duration::hours(2);
    open(&mut d, "live", "Slow search", "search", t);
    ack(&mut d, "live", "alice", t + m(1));
    let retro = Retrospective {
        incident: "first".into(),
        summary: "A bad deploy.".into(),
        items: vec![ActionItem { text: "Add a canary stage".into(), owner: Some("bob".into()), due: Some(overdue_date()), done: false }],
    };
    block_on(d.save_retrospective(retro, now)).unwrap();
    let path = std::env::temp_dir().join(format!("piket-e2e-reports-{}.json", std::process::id()));
    std::fs::write(&path, block_on(d.export(now, true)).unwrap()).unwrap();
    path
}

/// Records every Blob the page makes a link for, and stops the download itself.
const CAPTURE_DOWNLOADS: &str = r#"
    window.__made = [];
    const make = URL.createObjectURL;
    URL.createObjectURL = function (blob) { window.__made.push(blob); return make.call(URL, blob); };
    window.__names = [];
    HTMLAnchorElement.prototype.click = function () { window.__names.push(this.download); };
"#;

/// The last file the page offered: its name, type and text.
async fn last_download(b: &Browser) -> Result<(String, String, String)> {
    let script = r#"
        const done = arguments[0];
        const blob = window.__made[window.__made.length - 1];
        const name = window.__names[window.__names.length - 1];
        if (!blob) { done(null); return; }
        blob.text().then((text) => done([name, blob.type, text]));
    "#;
    let found: Option<(String, String, String)> = b.driver.execute_async(script, vec![]).await?.convert()?;
    Ok(found.ok_or("no file was offered")?)
}

async fn no_sideways_scroll(b: &Browser) -> Result {
    let (scroll, inner): (i64, i64) =
        b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert::<Vec<i64>>().map(|v| (v[0], v[1]))?;
    assert!(scroll <= inner, "the page scrolls sideways: {scroll} > {inner}");
    Ok(())
}

async fn check_reports(b: &Browser) -> Result {
    b.open("/reports").await?;
    let figures = b.wait_text_within(".report-figures", StdDuration::from_secs(30), |t| t.contains("MTTA median")).await?;
    let figure = |label: &str| figures.lines().skip_while(|l| *l != label).nth(1).unwrap_or_default().to_string();
    assert_eq!(figure("Incidents"), "4", "{figures}");
    assert_eq!(figure("MTTA median"), "2 min", "{figures}");
    assert_eq!(figure("MTTA p90"), "8 min", "{figures}");
    assert_eq!(figure("Still open"), "1", "{figures}");
    assert!(figure("Escalation rate").starts_with("25 %"), "{figures}");

    // Every chart has an accessible name and its numbers as a table.
    let charts = b.driver.find_all(By::Css("figure.report-chart")).await?;
    assert!(charts.len() >= 5, "{} charts", charts.len());
    for chart in &charts {
        let svg = chart.find(By::Css("svg[role='img']")).await?;
        assert!(!svg.attr("aria-label").await?.unwrap_or_default().is_empty());
        chart.find(By::Css("details table")).await?;
    }
    let fatigue = b.wait_text(".reports", |t| t.contains("Alert fatigue")).await?;
    assert!(fatigue.contains("Level 1 waits 5 min"), "a suggestion for level 1: {fatigue}");

    // The overdue action item of the restored retrospective.
    let items = b.wait_text(".action-items", |t| t.contains("Add a canary stage")).await?;
    assert!(items.contains("overdue by 3 days") && items.contains("Bob Backup"), "{items}");

    // The incident list as CSV.
    b.driver.execute(CAPTURE_DOWNLOADS, vec![]).await?;
    b.click("Download CSV").await?;
    b.wait_text(".reports", |t| t.contains("4 incidents saved as piket-incidents-")).await?;
    let (name, kind, text) = last_download(b).await?;
    assert!(name.ends_with(".csv"), "{name}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "a header and four incidents: {text}");
    assert!(lines[0].starts_with("id,"), "{}", lines[0]);
    assert!(text.contains("Checkout errors") && text.contains("Queue backlog"), "{text}");

    // Filters: only the payments service (first and esc, acknowledged after 2 and 8 min).
    b.choose("Service", "payments").await?;
    b.wait_text(".report-figures", |t| t.lines().skip_while(|l| *l != "Incidents").nth(1) == Some("2")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_show_real_figures_on_a_phone_and_a_desktop() -> Result {
    let backup = reports_backup();

    let phone = Browser::start_phone().await?;
    restore(&phone, &backup).await?;
    check_reports(&phone).await?;
    phone.choose("Service", "").await?;
    phone.wait_text(".report-figures", |t| t.lines().skip_while(|l| *l != "Incidents").nth(1) == Some("4")).await?;
    no_sideways_scroll(&phone).await?;
    phone.driver.execute("document.querySelector('figure.report-chart').scrollIntoView()", vec![]).await?;
    shot(&phone, "reports-phone").await?;
    phone.quit().await?;

    let desk = Browser::start_sized(1280, 900).await?;
    restore(&desk, &backup).await?;
    check_reports(&desk).await?;
    desk.choose("Service", "").await?;
    desk.wait_text(".report-figures", |t| t.lines().skip_while(|l| *l != "Incidents").nth(1) == Some("4")).await?;
    no_sideways_scroll(&desk).await?;
    shot(&desk, "reports-desktop").await?;

    // A retrospective written on an incident's page shows up in Reports.
    desk.open("/incidents/second").await?;
    desk.wait_text("main h1", |t| t == "Disk almost full").await?;
    desk.fill("Summary", "The disk alert came too late.").await?;
    desk.click("Add action item").await?;
    desk.fill("Action item 1", "Alert at 80 %").await?;
    desk.choose("Owner", "alice").await?;
    let due = (Utc::now() - Duration::days(1)).date_naive().to_string();
    desk.driver
        .execute(
            "const i = document.getElementById('retro-item-0-due'); i.value = arguments[0]; i.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![json!(due)],
        )
        .await?;
    desk.click("Save retrospective").await?;
    desk.wait_text(".retro", |t| t.contains("Retrospective saved.")).await?;
    // An item without words is refused at its field, and nothing changes.
    desk.click("Add action item").await?;
    desk.click("Save retrospective").await?;
    desk.wait_text(".retro", |t| t.contains("say what is to be done")).await?;

    desk.open("/reports").await?;
    let items = desk.wait_text(".action-items", |t| t.contains("Alert at 80 %")).await?;
    assert!(items.contains("overdue by 1 day") && items.contains("Alice Ops"), "{items}");
    assert!(items.find("Add a canary stage") < items.find("Alert at 80 %"), "most overdue first: {items}");
    desk.quit().await
}

/// The audit log and a schedule's calendar as a user downloads them on a phone, read back natively:
/// the log verifies, and an edited, a removed and a reordered entry are caught; every shift in the
/// calendar names whoever `on_call_at` says is on call then.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_and_a_calendar_download_and_check_out() -> Result {
    let b = Browser::start_phone().await?;
    restore(&b, &reports_backup()).await?;
    b.open("/settings").await?;
    b.driver.execute(CAPTURE_DOWNLOADS, vec![]).await?;
    b.click("Export audit log").await?;
    b.wait_text_within(".screen", StdDuration::from_secs(30), |t| t.contains("saved as piket-audit-")).await?;
    let (name, kind, log) = last_download(&b).await?;
    assert!(name.starts_with("piket-audit-") && name.ends_with(".jsonl"), "{name}");
    assert_eq!(kind, "application/jsonl");
    let summary = piket::audit::verify(&log).map_err(|e| format!("the app's audit log does not verify: {e}"))?;
    assert_eq!(summary.incidents, 4, "{log}");

    let lines: Vec<&str> = log.lines().collect();
    let second_entry = lines.iter().position(|l| l.contains(r#""type":"entry""#) && l.contains(r#""index":1"#)).ok_or("no second entry")?;
    let mut edited: serde_json::Value = serde_json::from_str(lines[second_entry])?;
    edited["entry"]["at"] = json!("2020-01-01T00:00:00Z");
    let mut tampered = lines.clone();
    let edited = edited.to_string();
    tampered[second_entry] = &edited;
    let broken = piket::audit::verify(&(tampered.join("\n") + "\n")).expect_err("an edited entry is caught");
    assert_eq!(broken.line, second_entry + 1, "{broken}");
    let mut removed = lines.clone();
    removed.remove(second_entry);
    assert!(piket::audit::verify(&(removed.join("\n") + "\n")).is_err(), "a removed entry is caught");
    let mut reordered = lines.clone();
    reordered.swap(second_entry - 1, second_entry);
    assert!(piket::audit::verify(&(reordered.join("\n") + "\n")).is_err(), "a reordered entry is caught");
    b.quit().await?;

    // A schedule's calendar from the example team.
    let b = Browser::start_phone().await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    let said = b.wait_text_within(".first-run-slot", StdDuration::from_secs(60), |t| t.contains("is loaded") || t.contains("could not")).await?;
    assert!(said.contains("is loaded"), "{said}");
    b.open("/schedules/example-primary").await?;
    b.wait_text(".screen", |t| t.contains("Export calendar (.ics)")).await?;
    b.driver.execute(CAPTURE_DOWNLOADS, vec![]).await?;
    b.click("Export calendar (.ics)").await?;
    b.wait_text(".screen", |t| t.contains("saved as piket-schedule-example-primary.ics")).await?;
    let (name, kind, ics) = last_download(&b).await?;
    assert_eq!(name, "piket-schedule-example-primary.ics");
    assert!(kind.starts_with("text/calendar"), "{kind}");
    // The example team lives in the browser's own zone.
    let browser_zone: String = b.driver.execute("return Intl.DateTimeFormat().resolvedOptions().timeZone", vec![]).await?.convert()?;
    b.quit().await?;

    let world = piket::engine::format::parse_world(&example_world(&browser_zone))?;
    let schedule = world.schedule("example-primary").ok_or("no example schedule")?;
    let zone = schedule.time_zone;
    let unfolded = icalendar::parser::unfold(&ics);
    let calendar = icalendar::parser::read_calendar(&unfolded).map_err(|e| format!("the calendar does not parse: {e}"))?;
    let mut shifts = 0;
    for event in calendar.components.iter().filter(|c| c.name.as_str() == "VEVENT") {
        let prop = |name: &str| event.properties.iter().find(|p| p.name.as_str() == name).ok_or(format!("an event without {name}"));
        let start = prop("DTSTART")?;
        let value = start.val.as_str();
        let at = match value.strip_suffix('Z') {
            Some(utc) => chrono::NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")?.and_utc(),
            None => {
                let tzid = start.params.iter().find(|p| p.key.as_str() == "TZID").and_then(|p| p.val.as_ref()).map(|v| v.as_str().to_string());
                assert_eq!(tzid.as_deref(), Some(zone.name()), "a wall-clock start carries the schedule's zone");
                zone.instant(chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")?)
            }
        } + Duration::minutes(1);
        let on_call: Vec<String> = schedule.on_call_at(at).iter().map(|p| world.person(p).map(|p| p.name.clone()).unwrap_or_default()).collect();
        let summary = prop("SUMMARY")?.val.as_str().to_string();
        assert!(!on_call.is_empty() && on_call.iter().all(|n| summary.contains(n.as_str())), "{summary} at {at}: on call {on_call:?}");
        shifts += 1;
    }
    assert!(shifts >= 12, "a weekly rotation over 90 days: {shifts} shifts");
    Ok(())
}

/// The example team's people and schedules as a world file, in `zone` as the app loads them.
fn example_world(zone: &str) -> String {
    let file: serde_json::Value = serde_json::from_str(include_str!("../../examples/example-team.json")).unwrap();
    let values = |store: &str| file["stores"][store].as_array().unwrap().iter().map(|r| r["value"].clone()).collect::<Vec<_>>();
    let mut schedules = values("schedules");
    schedules.iter_mut().for_each(|s| s["time_zone"] = json!(zone));
    json!({"people": values("people"), "schedules": schedules}).to_string()
}
