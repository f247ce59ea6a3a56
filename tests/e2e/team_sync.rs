//! Team sync in the browser: two devices (separate browser profiles, so separate IndexedDBs)
//! share their configuration through pouchdb-server, set up through Settings → Team sync.

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use crate::couch::{start_server, Outage, Server};
use crate::support::{base_url, Browser, Result};

/// A server that admits the app's origin, a desk (1280 px) and a phone (360 px), each with its
/// own browser profile.
async fn desk_and_phone() -> Result<(Server, Browser, Browser)> {
    let server = start_server();
    server.allow_origin(base_url());
    Ok((server, Browser::start().await?, Browser::start_phone().await?))
}

/// Turns team sync on in Settings with this device name; creates the database when asked.
async fn join(b: &Browser, server: &Server, device: &str) -> Result {
    join_at(b, &server.url(), device).await
}

async fn join_at(b: &Browser, server: &str, device: &str) -> Result {
    b.open("/settings").await?;
    b.fill("Server", server).await?;
    b.fill("Database", "team").await?;
    b.fill("This device's name", device).await?;
    b.click("Test connection").await?;
    let said = b.wait_text(".team-sync", |t| t.contains("Connected:") || t.contains("There is no database")).await?;
    if said.contains("There is no database") {
        b.click("Create the database").await?;
        b.wait_text(".team-sync", |t| t.contains("The database team is ready.")).await?;
    }
    let on = b.wait_for(By::XPath("//label[contains(., 'Sync with the team')]/input")).await?;
    if !on.is_selected().await? {
        b.tap(&on).await?;
    }
    b.click("Save team sync").await?;
    b.wait_text(".team-sync", |t| t.contains("Team sync is on.")).await?;
    Ok(())
}

async fn add_person(b: &Browser, name: &str) -> Result {
    b.open("/people").await?;
    b.fill("Name", name).await?;
    b.fill("Time zone", "Europe/Amsterdam").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains(name)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_made_on_one_device_appears_on_the_other() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;

    // Test connection explains a server that is not there.
    desk.open("/settings").await?;
    desk.fill("Server", "http://127.0.0.1:1").await?;
    desk.fill("This device's name", "Desk").await?;
    desk.click("Test connection").await?;
    desk.wait_text(".team-sync", |t| t.contains("No answer from http://127.0.0.1:1") && t.contains("enable_cors")).await?;

    join(&desk, &server, "Desk").await?;
    add_person(&desk, "Alice Example").await?;
    join(&phone, &server, "Ada's phone").await?;
    phone.open("/people").await?;
    let started = Instant::now();
    phone.wait_text_within(".people-list", Duration::from_secs(20), |t| t.contains("Alice Example")).await?;
    println!("team sync: a person added on the desk showed on the phone after {:.1} s", started.elapsed().as_secs_f32());

    // And back: the phone's edit reaches the desk.
    add_person(&phone, "Bob Example").await?;
    desk.open("/people").await?;
    desk.wait_text_within(".people-list", Duration::from_secs(20), |t| t.contains("Bob Example")).await?;

    // Both keep it after a reload (it is in each device's own storage).
    phone.reload().await?;
    phone.open("/people").await?;
    phone.wait_text(".people-list", |t| t.contains("Alice Example") && t.contains("Bob Example")).await?;
    desk.open("/settings").await?;
    desk.wait_text(".sync-status", |t| t.contains("In sync")).await?;
    desk.quit().await?;
    phone.quit().await
}

/// Turns the already set-up sync off or on again.
async fn set_sync(b: &Browser, on: bool) -> Result {
    b.open("/settings").await?;
    let toggle = b.wait_for(By::XPath("//label[contains(., 'Sync with the team')]/input")).await?;
    if toggle.is_selected().await? != on {
        b.tap(&toggle).await?;
    }
    b.click("Save team sync").await?;
    b.wait_text(".team-sync", |t| t.contains(if on { "Team sync is on." } else { "Team sync is off" })).await?;
    Ok(())
}

async fn set_notes(b: &Browser, person: &str, notes: &str) -> Result {
    b.open("/people").await?;
    b.click(&format!("Edit {person}")).await?;
    b.fill("Notes", notes).await?;
    b.click("Save changes").await?;
    b.wait_text(".people-list", |t| t.contains(person)).await?;
    Ok(())
}

async fn notes_of(b: &Browser, person: &str) -> Result<String> {
    b.open("/people").await?;
    b.click(&format!("Edit {person}")).await?;
    let notes = b.field("Notes").await?.prop("value").await?.unwrap_or_default();
    Ok(notes)
}

/// The text of the version marked "(in use)" in the conflict card, once there is one.
async fn version_in_use(b: &Browser) -> Result<String> {
    b.open("/settings").await?;
    b.wait_text_within(".sync-status", Duration::from_secs(20), |t| t.contains("Conflicts") && t.contains("Person Alice Example")).await?;
    let v = b.wait_for(By::XPath("//article[contains(@class,'conflict')]//div[contains(@class,'version')][.//strong[contains(., '(in use)')]]")).await?;
    Ok(v.text().await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_made_apart_conflict_alike_on_both_devices_and_keep_mine_settles_it() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;
    join(&desk, &server, "Desk").await?;
    add_person(&desk, "Alice Example").await?;
    join(&phone, &server, "Phone").await?;
    phone.open("/people").await?;
    phone.wait_text_within(".people-list", Duration::from_secs(20), |t| t.contains("Alice Example")).await?;

    // Both edit Alice while apart, then sync again.
    set_sync(&desk, false).await?;
    set_sync(&phone, false).await?;
    set_notes(&desk, "Alice Example", "desk: call first").await?;
    set_notes(&phone, "Alice Example", "phone: text first").await?;
    set_sync(&desk, true).await?;
    set_sync(&phone, true).await?;

    let (on_desk, on_phone) = (version_in_use(&desk).await?, version_in_use(&phone).await?);
    // The versions' text wraps: the phone's page does not grow sideways (a wider page would be
    // zoomed out, and a tap would land beside the button).
    let widths: Vec<i64> =
        phone.driver.execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]", vec![]).await?.convert()?;
    assert!(widths[0] <= widths[1], "the phone's settings scroll sideways with a conflict shown: {widths:?}");
    let winner_notes = |text: &str| if text.contains("desk: call first") { "desk: call first" } else { "phone: text first" };
    assert_eq!(winner_notes(&on_desk), winner_notes(&on_phone), "both devices use the same version:\n{on_desk}\n---\n{on_phone}");
    // Each device calls its own version "Mine".
    assert_ne!(on_desk.starts_with("Mine"), on_phone.starts_with("Mine"), "{on_desk}\n---\n{on_phone}");
    let winner = winner_notes(&on_desk);
    assert_eq!(notes_of(&desk, "Alice Example").await?, winner);
    assert_eq!(notes_of(&phone, "Alice Example").await?, winner);

    // The device whose version lost keeps it after all.
    let (loser, other, kept) = if on_desk.starts_with("Mine") { (&phone, &desk, "phone: text first") } else { (&desk, &phone, "desk: call first") };
    loser.open("/settings").await?;
    loser.click("Keep mine for Person Alice Example").await?;
    loser.wait_text(".sync-status", |t| t.contains("Kept.") || !t.contains("Conflicts")).await?;
    for b in [loser, other] {
        b.open("/settings").await?;
        b.wait_text_within(".sync-status", Duration::from_secs(20), |t| t.contains("In sync") && !t.contains("Conflicts")).await?;
    }
    let started = Instant::now();
    while notes_of(other, "Alice Example").await? != kept {
        assert!(started.elapsed() < Duration::from_secs(20), "the kept version did not reach the other device");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(notes_of(loser, "Alice Example").await?, kept);
    desk.quit().await?;
    phone.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_server_down_both_keep_working_and_converge_afterwards() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;
    let relay = Outage::start(server.port);
    join_at(&desk, &relay.url(), "Desk").await?;
    join_at(&phone, &relay.url(), "Phone").await?;
    add_person(&desk, "Alice Example").await?;
    phone.open("/people").await?;
    phone.wait_text_within(".people-list", Duration::from_secs(20), |t| t.contains("Alice Example")).await?;

    relay.set_down(true);
    let down = Instant::now();
    // Both go on working: edits are kept and shown locally.
    add_person(&desk, "Bob Example").await?;
    add_person(&phone, "Carol Example").await?;
    desk.open("/settings").await?;
    desk.wait_text_within(".sync-status", Duration::from_secs(20), |t| t.contains("Not synced")).await?;
    // The server stays away for a minute: both fail round after round meanwhile.
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(down.elapsed())).await;
    phone.open("/people").await?;
    phone.wait_text(".people-list", |t| t.contains("Carol Example") && !t.contains("Bob Example")).await?;

    relay.set_down(false);
    println!("team sync: the server was down for {:.0} s", down.elapsed().as_secs_f32());
    let back = Instant::now();
    for b in [&desk, &phone] {
        b.open("/people").await?;
        b.wait_text_within(".people-list", Duration::from_secs(30), |t| {
            t.contains("Alice Example") && t.contains("Bob Example") && t.contains("Carol Example")
        })
        .await?;
    }
    println!("team sync: both devices converged {:.1} s after the server came back", back.elapsed().as_secs_f32());
    desk.open("/settings").await?;
    desk.wait_text_within(".sync-status", Duration::from_secs(20), |t| t.contains("In sync")).await?;
    desk.quit().await?;
    phone.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_device_runs_the_team_clock_and_another_takes_over_after_it_closes() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;
    join(&desk, &server, "Desk").await?;
    desk.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on this device (Desk)")).await?;
    join(&phone, &server, "Ada's phone").await?;
    // The desk holds the lease; the phone, arriving second, is told so and does not take it.
    phone.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on Desk")).await?;
    tokio::time::sleep(Duration::from_secs(6)).await;
    phone.wait_text(".clock-status", |t| t.contains("Team clock running on Desk")).await?;
    desk.wait_text(".clock-status", |t| t.contains("Team clock running on this device (Desk)")).await?;

    // The desk closes: its lease runs out (15 s after its last renewal) and the phone takes over.
    let closed = Instant::now();
    desk.quit().await?;
    phone.wait_text_within(".clock-status", Duration::from_secs(30), |t| t.contains("Team clock running on this device (Ada's phone)")).await?;
    let took = closed.elapsed();
    println!("team sync: the phone took the team clock {:.1} s after the desk closed (lease 15 s)", took.as_secs_f32());
    assert!(took > Duration::from_secs(4), "took over before the desk's lease could have run out ({took:?})");
    let lease: serde_json::Value =
        serde_json::from_str(&crate::couch::http(&format!("{}/team/lease%3Aclock?conflicts=true", server.url()), "GET", None, 5_000)?.body)?;
    assert_eq!(lease["device"], "Ada's phone", "{lease}");
    assert!(lease.get("_conflicts").is_none(), "{lease}");
    phone.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incident_on_the_desks_clock_shows_on_the_phone_and_the_phones_ack_reaches_the_clock() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;
    join(&desk, &server, "Desk").await?;
    desk.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on this device (Desk)")).await?;
    add_person(&desk, "Alice Example").await?;
    join(&phone, &server, "Ada's phone").await?;
    phone.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on Desk")).await?;
    // The phone runs no clock of its own now, and says so (not "keep Piket open here").
    let header = phone.wait_text(".clock-status", |t| t.contains("Synced here with the team's clock")).await?;
    assert!(!header.contains("This phone is the clock"), "{header}");
    // The header's longer lines wrap on a 360 px phone: no sideways scroll (which would zoom out).
    let (scroll, client): (u32, u32) =
        phone.driver.execute("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]", vec![]).await?.convert()?;
    assert!(scroll <= client, "the phone's page is {scroll} px wide on a {client} px screen");
    phone.open("/people").await?;
    phone.wait_text_within(".people-list", Duration::from_secs(10), |t| t.contains("Alice Example")).await?;

    // The desk's clock opens an incident; the phone lists it within seconds.
    desk.open("/new?title=Disk%20full%20on%20db-1&severity=sev2").await?;
    desk.click("Open incident").await?;
    desk.wait_text("main h1", |t| t == "Disk full on db-1").await?;
    let opened = Instant::now();
    phone.open("/incidents").await?;
    phone.wait_text_within("ul.incident-list", Duration::from_secs(10), |t| t.contains("Disk full on db-1")).await?;
    println!("team sync: an incident opened on the desk was listed on the phone after {:.1} s", opened.elapsed().as_secs_f32());

    // Ada acknowledges on the phone: a command document, applied by the desk's clock.
    phone.tap(&phone.driver.find(By::Css("ul.incident-list a")).await?).await?;
    phone.wait_text("main h1", |t| t == "Disk full on db-1").await?;
    phone.click("Acknowledge").await?;
    phone.wait_text(".who-am-i", |t| t.contains("Who are you?")).await?;
    let tapped = Instant::now();
    phone.click("I am Alice Example").await?;
    desk.wait_text_within(".ack-state", Duration::from_secs(10), |t| t.contains("Acknowledged by Alice Example")).await?;
    let reached = tapped.elapsed();
    println!("team sync: the phone's acknowledgement reached the desk's clock after {:.2} s", reached.as_secs_f32());
    // The phone shows it as the clock has it.
    phone.wait_text_within(".ack-state", Duration::from_secs(10), |t| t.contains("Acknowledged by Alice Example")).await?;
    let timeline = desk.wait_text("ol.timeline", |t| t.contains("Acknowledged")).await?;
    assert_eq!(timeline.matches("Acknowledged").count(), 1, "applied once: {timeline}");
    assert!(reached < Duration::from_secs(3), "the acknowledgement took {reached:?} to reach the clock");
    desk.quit().await?;
    phone.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn after_the_clocks_device_closes_the_phone_pages_the_next_level_and_nobody_is_paged_twice() -> Result {
    let (server, desk, phone) = desk_and_phone().await?;
    let receiver = crate::delivery::Receiver::start();
    let hook =
        |id: &str, name: &str| serde_json::json!({"id": id, "name": name, "time_zone": "UTC", "contact": {"webhook_url": format!("{}/{id}", receiver.url)}});
    // Alice is paged at once, Bob 25 s later if nobody acknowledges.
    crate::clock::restore(&desk, &crate::clock::backup_with(vec![hook("alice", "Alice Hook"), hook("bob", "Bob Hook")], 25)).await?;
    join(&desk, &server, "Desk").await?;
    desk.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on this device (Desk)")).await?;
    join(&phone, &server, "Ada's phone").await?;
    phone.wait_text_within(".clock-status", Duration::from_secs(10), |t| t.contains("Team clock running on Desk")).await?;
    phone.open("/people").await?;
    phone.wait_text_within(".people-list", Duration::from_secs(10), |t| t.contains("Bob Hook")).await?;

    crate::clock::open_incident(&desk, "Disk full on db-1").await?;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/alice"], "the desk's clock pages Alice");
    phone.open("/incidents").await?;
    phone.wait_text_within("ul.incident-list", Duration::from_secs(10), |t| t.contains("Disk full on db-1")).await?;

    // The desk closes. The phone takes the clock once the lease runs out, and pages Bob when his
    // turn comes, from the incident as the desk last published it; Alice is not paged again.
    desk.quit().await?;
    phone.wait_text_within(".clock-status", Duration::from_secs(30), |t| t.contains("Team clock running on this device (Ada's phone)")).await?;
    let got = receiver.wait_for(2, Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/alice", "/bob"], "each level paged once ({} before the wait ended)", got.len());
    phone.open("/incidents").await?;
    phone.tap(&phone.driver.find(By::Css("ul.incident-list a")).await?).await?;
    phone.wait_text("ol.timeline", |t| t.contains("Bob Hook")).await?;
    phone.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_desks_joining_at_once_get_one_team_clock_and_every_page_is_sent_once() -> Result {
    let server = start_server();
    server.allow_origin(base_url());
    let (a, b) = (Browser::start().await?, Browser::start().await?);
    let receiver = crate::delivery::Receiver::start();
    let hook =
        |id: &str, name: &str| serde_json::json!({"id": id, "name": name, "time_zone": "UTC", "contact": {"webhook_url": format!("{}/{id}", receiver.url)}});
    let backup = crate::clock::backup_with(vec![hook("alice", "Alice Hook"), hook("bob", "Bob Hook")], 300);
    crate::clock::restore(&a, &backup).await?;
    crate::clock::restore(&b, &backup).await?;
    // Both join at the same moment and race for the lease.
    let (ja, jb) = tokio::join!(join(&a, &server, "Desk A"), join(&b, &server, "Desk B"));
    ja?;
    jb?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let running = |t: &str| t.contains("Team clock running on");
    let la = a.wait_text_within(".clock-team", Duration::from_secs(15), running).await?;
    let lb = b.wait_text_within(".clock-team", Duration::from_secs(15), running).await?;
    let holders = [&la, &lb].iter().filter(|l| l.contains("this device")).count();
    assert_eq!(holders, 1, "exactly one clock: {la:?} / {lb:?}");
    let (holder, other) = if la.contains("this device") { (&a, &b) } else { (&b, &a) };
    other.wait_text(".clock-team", |t| t.contains(if la.contains("this device") { "Desk A" } else { "Desk B" })).await?;

    // An alert opened on the desk without the clock goes to the clock as a command: Alice is
    // paged once, by the clock, and both desks show the incident.
    crate::clock::open_incident(other, "Disk full on db-1").await?;
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let paths: Vec<String> = receiver.received().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/alice"], "paged once ({} at first)", got.len());
    for b in [holder, other] {
        b.open("/incidents").await?;
        b.wait_text_within("ul.incident-list", Duration::from_secs(10), |t| t.contains("Disk full on db-1")).await?;
    }
    a.quit().await?;
    b.quit().await
}
