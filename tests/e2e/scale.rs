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

/// A driver on the in-memory store with one person and a slow two-level default policy, set up at `at`.
fn ops_team(at: chrono::DateTime<Utc>) -> Driver<MemoryStore> {
    let world = parse_world(
        r#"{"people": [{"id": "ops", "name": "Ops Person", "time_zone": "UTC"}],
            "policies": [{"id": "slow", "name": "Slow", "levels": [{"targets": [{"person": "ops"}], "ack_timeout": 60}, {"targets": [{"person": "ops"}]}]}],
            "default_policy": "slow"}"#,
    )
    .unwrap();
    let mut d = pollster::block_on(Driver::load(MemoryStore::new())).unwrap();
    for p in world.people {
        pollster::block_on(d.save(p, at)).unwrap();
    }
    for p in world.policies {
        pollster::block_on(d.save(p, at)).unwrap();
    }
    pollster::block_on(d.set_default_policy(Some("slow".into()), at)).unwrap();
    d
}

/// A backup with a small team and `INCIDENTS` open incidents, made by the real driver.
fn big_backup() -> std::path::PathBuf {
    let now = Utc::now();
    let mut d = ops_team(now);
    for i in 0..INCIDENTS {
        let severity = ["sev1", "sev2", "sev3", "sev4"][i % 4];
        let details =
            serde_json::from_value(serde_json::json!({"title": format!("Incident number {i}"), "severity": severity, "service": format!("svc{}", i % 7)}))
                .unwrap();
        pollster::block_on(d.dispatch(now, Input::Open { id: format!("inc-{i:05}").into(), by: Actor::Automation, details })).unwrap();
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

const OPEN_WITH_HISTORY: usize = 1000;
const HISTORY: usize = 50_000;

/// A backup with `OPEN_WITH_HISTORY` open incidents and one archived incident, the template the
/// page copies into `HISTORY` archived ones.
fn backup_with_history() -> (std::path::PathBuf, serde_json::Value) {
    use piket::runtime::outbox::Outcome;
    let now = Utc::now();
    let then = now - chrono::Duration::days(3);
    let mut d = ops_team(then);
    let details = serde_json::from_value(serde_json::json!({"title": "Template", "service": "svc"})).unwrap();
    pollster::block_on(d.dispatch(then, Input::Open { id: "template".into(), by: Actor::Automation, details })).unwrap();
    pollster::block_on(d.dispatch(then + chrono::Duration::minutes(2), Input::Acknowledge { incident: "template".into(), by: "ops".into() })).unwrap();
    pollster::block_on(d.dispatch(then + chrono::Duration::minutes(9), Input::Resolve { incident: "template".into(), by: Actor::Automation })).unwrap();
    let sends = d.due_sends("https://piket.example", then + chrono::Duration::minutes(9));
    pollster::block_on(d.claim(&sends, then + chrono::Duration::minutes(9))).unwrap();
    for s in &sends {
        let ok = Outcome::Http(piket::delivery::AttemptOutcome::status(200));
        pollster::block_on(d.record_attempt(&s.key, s.route, &ok, 5, then + chrono::Duration::minutes(9))).unwrap();
    }
    assert_eq!(pollster::block_on(d.archive(now)).unwrap(), 1);
    for i in 0..OPEN_WITH_HISTORY {
        let severity = ["sev1", "sev2", "sev3"][i % 3];
        let details = serde_json::from_value(serde_json::json!({"title": format!("Open number {i}"), "severity": severity})).unwrap();
        pollster::block_on(d.dispatch(now, Input::Open { id: format!("open-{i:05}").into(), by: Actor::Automation, details })).unwrap();
    }
    let mut file: serde_json::Value = serde_json::from_str(&pollster::block_on(d.export(now, true)).unwrap()).unwrap();
    file["stores"]["outbox"] = serde_json::json!([]);
    let template = file["stores"]["archive"][0].clone();
    let path = std::env::temp_dir().join(format!("piket-e2e-history-scale-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    (path, template)
}

/// Copies the template into `count` archived incidents, resolved ten minutes apart, in one
/// IndexedDB transaction, as a year of use by a Piket without history digests would have left
/// them: the clock then digests them as after an upgrade.
const SEED_HISTORY: &str = r#"
const [template, count, done] = arguments;
const open = indexedDB.open("piket");
open.onsuccess = () => {
  const db = open.result;
  const tx = db.transaction(["archive", "digests", "settings"], "readwrite");
  const store = tx.objectStore("archive");
  // As a Piket before digests left it: no digests, and no word that they are complete.
  tx.objectStore("digests").clear();
  tx.objectStore("settings").delete("history-digests");
  const maxMs = 253402300799999;
  const last = Date.parse(template.value.incident.resolved_at);
  for (let k = 0; k < count; k++) {
    const id = "hist-" + String(k).padStart(6, "0");
    const resolved = last - (k + 1) * 600000;
    const key = String(maxMs - resolved).padStart(15, "0") + "/" + id;
    const v = structuredClone(template.value);
    v.key = key; v.incident_id = id; v.incident.id = id;
    v.incident.details.title = "History " + k;
    // The whole incident moves back in time with its resolution.
    const delta = resolved - last;
    const shift = (iso) => new Date(Date.parse(iso) + delta).toISOString();
    v.incident.opened_at = shift(v.incident.opened_at);
    v.incident.resolved_at = shift(v.incident.resolved_at);
    if (v.incident.acknowledged) v.incident.acknowledged.at = shift(v.incident.acknowledged.at);
    for (const e of v.incident.timeline) e.at = shift(e.at);
    v.recorded = v.recorded.map(shift);
    for (const r of v.outbox) r.incident = id;
    store.put({ id: key, rev: 1, updated_at: template.updated_at, value: v });
  }
  tx.oncomplete = () => { db.close(); done("ok"); };
  tx.onerror = () => done("error: " + tx.error);
};
open.onerror = () => done("error: " + open.error);
"#;

/// Waits in the page until `selector` matches, and returns the page's clock (ms since the
/// navigation started) at that frame.
const WHEN_SHOWN: &str = r#"
const [selector, done] = arguments;
const check = () => document.querySelector(selector) ? done(performance.now()) : requestAnimationFrame(check);
check();
"#;

/// Clicks the button named `arguments[0]` and returns the milliseconds until an element matching
/// `arguments[1]` contains `arguments[2]` (an acknowledgement is committed to IndexedDB before the
/// screen changes; a replay's heading shows once it is done).
const TIME_CLICK: &str = r#"
const [name, selector, text, done] = arguments;
const button = [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === name);
const start = performance.now();
button.click();
const check = () => {
  const el = document.querySelector(selector);
  if (el && el.textContent.includes(text)) done(performance.now() - start);
  else requestAnimationFrame(check);
};
check();
"#;

#[tokio::test(flavor = "multi_thread")]
async fn fifty_thousand_resolved_and_a_thousand_open_incidents() -> Result {
    let (path, template) = backup_with_history();
    let b = Browser::start().await?;
    restore(&b, &path).await?;
    b.driver.set_script_timeout(Duration::from_secs(180)).await?;
    let seeding = Instant::now();
    println!("scale: template record {} bytes", template.to_string().len());
    let seeded: String = b.driver.execute_async(SEED_HISTORY, vec![template, serde_json::json!(HISTORY)]).await?.convert()?;
    assert_eq!(seeded, "ok");
    println!("scale: {HISTORY} archived incidents written in {:.1} s", seeding.elapsed().as_secs_f64());

    // The clock digests the archive as after an upgrade, a fifth of a second a tick.
    b.open("/incidents").await?;
    b.driver.refresh().await?;
    let digesting = Instant::now();
    // Done once the clock writes the settings row saying so.
    let complete = "const done = arguments[0]; const o = indexedDB.open('piket'); o.onsuccess = () => { const r = o.result.transaction('settings').objectStore('settings').get('history-digests'); r.onsuccess = () => { o.result.close(); done(r.result !== undefined); }; };";
    loop {
        let done: bool = b.driver.execute_async(complete, vec![]).await?.convert()?;
        if done {
            break;
        }
        assert!(digesting.elapsed() < Duration::from_secs(300), "the archive was not digested in 5 min");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let digested = digesting.elapsed();
    let chunks = crate::clock::idb_all(&b, "digests").await?.len();
    println!("scale: upgrade: {} archived incidents digested by the clock into {chunks} chunks in {:.1} s", HISTORY + 1, digested.as_secs_f64());

    // A cold start: the open incidents and the first page of history, nothing more.
    b.driver.refresh().await?;
    let first_row: f64 = b.driver.execute_async(WHEN_SHOWN, vec![serde_json::json!(".incident-row")]).await?.convert()?;
    b.wait_text(".tabs", |t| t.contains("Resolved 50+")).await?;
    let history_shown: f64 = b.driver.execute("return performance.now()", vec![]).await?.convert()?;

    // Acknowledge one (the first time asks who you are; the second is timed).
    b.open("/incidents/open-00001").await?;
    b.click("Acknowledge").await?;
    b.click("I am Ops Person").await?;
    b.wait_text(".ack-state", |t| t.contains("Acknowledged by")).await?;
    b.open("/incidents/open-00002").await?;
    b.wait_for(By::Css(".big-actions")).await?;
    let ack_ms: f64 = b.driver.execute_async(TIME_CLICK, vec!["Acknowledge".into(), ".ack-state".into(), "Acknowledged by".into()]).await?.convert()?;
    let archived = crate::clock::idb_all(&b, "archive").await?.len();

    // A year of history replayed against the default policy in the Lab (read from the archive,
    // replayed, shown). The seeded incidents were resolved ten minutes apart over 347 days.
    b.open("/lab").await?;
    b.wait_for(By::Id("replay-period")).await?;
    thirtyfour::components::SelectElement::new(&b.field("Incidents opened in").await?).await?.select_by_value("365").await?;
    let replay_ms: f64 =
        b.driver.execute_async(TIME_CLICK, vec!["Replay incidents".into(), ".lab-replay-result h3".into(), "replayed".into()]).await?.convert()?;
    let replayed = b.driver.find(By::Css(".lab-replay-result h3")).await?.text().await?;
    let took = b.driver.find(By::Css(".lab-replay-took")).await?.text().await?;

    println!(
        "scale: {HISTORY} resolved + {OPEN_WITH_HISTORY} open: first row painted {first_row:.0} ms after navigation (goal ≤ 1000), \
         first page of history by {history_shown:.0} ms, acknowledgement to committed and shown {ack_ms:.0} ms (goal ≤ 50), \
         replay of every incident of the last 365 days {replay_ms:.0} ms (goal ≤ 1000): {replayed}; {took}"
    );
    assert!(replayed.starts_with(&format!("{} incidents replayed", HISTORY + 1 + OPEN_WITH_HISTORY)), "every incident replayed: {replayed}");
    assert_eq!(archived, HISTORY + 1, "the archive holds every resolved incident");
    assert!(first_row < 15_000.0 && ack_ms < 5_000.0, "unusably slow: first row {first_row} ms, ack {ack_ms} ms");
    b.quit().await
}
