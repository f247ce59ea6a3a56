//! Team sync in the browser: two devices (separate browser profiles, so separate IndexedDBs)
//! share their configuration through pouchdb-server, set up through Settings → Team sync.

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use crate::couch::{start_server, Server};
use crate::support::{base_url, Browser, Result};

/// Turns team sync on in Settings with this device name; creates the database when asked.
async fn join(b: &Browser, server: &Server, device: &str) -> Result {
    b.open("/settings").await?;
    b.fill("Server", &server.url()).await?;
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
    let server = start_server();
    server.allow_origin(base_url());
    let desk = Browser::start().await?;
    let phone = Browser::start_phone().await?;

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
