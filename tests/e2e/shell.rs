//! The app shell: navigation, deep links that survive reload, phone width.

use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

#[tokio::test(flavor = "multi_thread")]
async fn navigation_reaches_every_screen() -> Result {
    let b = Browser::start().await?;
    b.open("/").await?;
    for (link, heading) in [
        ("Incidents", "Incidents"),
        ("Policies", "Policies"),
        ("Schedules", "Schedules"),
        ("People", "People"),
        ("Channels", "Channels"),
        ("Lab", "Lab"),
        ("Settings", "Settings"),
    ] {
        b.tap(&b.driver.find(By::LinkText(link)).await?).await?;
        b.wait_text("main h1", |t| t == heading).await?;
        let current = b.driver.find(By::Css("nav.app-nav a[aria-current='page']")).await?.text().await?;
        assert_eq!(current, link, "the current screen is marked in the navigation");
    }
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_links_survive_reload_in_path_and_hash_form() -> Result {
    let b = Browser::start().await?;
    b.open("/schedules").await?;
    b.wait_text("main h1", |t| t == "Schedules").await?;
    b.reload().await?;
    b.wait_text("main h1", |t| t == "Schedules").await?;

    b.open("/#/incidents/abc-123").await?;
    b.wait_text("main", |t| t.contains("abc-123")).await?;
    assert_eq!(crate::support::route_of(&b.driver.current_url().await?), "/incidents/abc-123");
    b.reload().await?;
    b.wait_text("main", |t| t.contains("abc-123")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn phone_width_has_no_sideways_scroll() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    b.open("/people").await?;
    b.fill("Name", "A person with a rather long name that must wrap on a phone").await?;
    b.fill("Time zone", "America/Argentina/ComodRivadavia").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains("rather long name")).await?;
    let widths: Vec<i64> = b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert()?;
    assert_eq!(widths[1], 360);
    assert!(widths[0] <= widths[1], "page is {}px wide in a {}px viewport", widths[0], widths[1]);
    b.quit().await
}
