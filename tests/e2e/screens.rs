//! The main screens render with real data at phone and desktop size. With
//! `PIKET_SCREENSHOTS=<dir>` set, each is also saved as a PNG (how `docs/screenshots` is made:
//! `PIKET_SCREENSHOTS=docs/screenshots cargo xtask test --only e2e`).

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

pub async fn shot(b: &Browser, name: &str) -> Result {
    if let Ok(dir) = std::env::var("PIKET_SCREENSHOTS") {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        std::fs::create_dir_all(&dir)?;
        b.driver.screenshot(&dir.join(format!("{name}.png"))).await?;
    }
    Ok(())
}

async fn tour(b: &Browser, size: &str) -> Result {
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", Duration::from_secs(60), |t| t.contains("is loaded")).await?;

    b.open("/new?title=Checkout%20error%20rate%20above%205%25&severity=sev1&service=payments").await?;
    b.wait_text(".rules-preview", |t| t.contains("(example)")).await?;
    shot(b, &format!("new-incident-{size}")).await?;
    b.click("Open incident").await?;
    b.wait_text("ol.timeline", |t| t.contains("Paged")).await?;
    b.wait_text("main h1", |t| t.contains("Checkout error rate")).await?;
    shot(b, &format!("incident-{size}")).await?;

    for (path, heading, name) in [
        ("/incidents", "Incidents", "incidents"),
        ("/policies/example-policy", "", "policy"),
        ("/schedules/example-primary", "", "schedule"),
        ("/rules", "Rules", "rules"),
        ("/channels", "Channels", "channels"),
        ("/settings", "Settings", "settings"),
    ] {
        b.open(path).await?;
        b.wait_for(By::Css("main h1")).await?;
        if !heading.is_empty() {
            b.wait_text("main h1", |t| t == heading).await?;
        }
        shot(b, &format!("{name}-{size}")).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_screens_on_a_phone() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    tour(&b, "phone").await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_main_screens_on_a_desktop() -> Result {
    let b = Browser::start_sized(1280, 900).await?;
    tour(&b, "desktop").await?;
    b.quit().await
}
