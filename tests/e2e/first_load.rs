//! The 3 a.m. moment: a phone with a weak signal opens Piket for the first time. A fresh profile
//! on a throttled phone (CPU ×4, "Fast 3G": 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip)
//! loads the app from a host that compresses, and the suite prints how long it took until the
//! first screen had content, and how many bytes crossed the wire. A figure, not a timed test: it
//! fails only when the first screen never comes.

use std::time::{Duration, Instant};

use serde_json::json;
use thirtyfour::extensions::cdp::ChromeDevTools;
use thirtyfour::prelude::*;

use crate::support::{Browser, Result, StaticServer};

/// The throttled phone profile of the measurement.
const LATENCY_MS: u32 = 150;
const DOWN_BITS: u32 = 1_600_000;
const UP_BITS: u32 = 750_000;
const CPU_SLOWDOWN: u32 = 4;

#[tokio::test]
async fn a_throttled_phone_gets_the_first_screen_and_the_figure_is_printed() -> Result {
    let host = StaticServer::start_gzip();
    let b = Browser::start_phone().await?;
    let cdp = ChromeDevTools::new(b.driver.handle.clone());
    cdp.execute_cdp("Network.enable").await?;
    cdp.execute_cdp_with_params("Network.setCacheDisabled", json!({"cacheDisabled": true})).await?;
    cdp.execute_cdp_with_params(
        "Network.emulateNetworkConditions",
        json!({"offline": false, "latency": LATENCY_MS, "downloadThroughput": DOWN_BITS / 8, "uploadThroughput": UP_BITS / 8}),
    )
    .await?;
    cdp.execute_cdp_with_params("Emulation.setCPUThrottlingRate", json!({"rate": CPU_SLOWDOWN})).await?;

    let started = Instant::now();
    b.driver.goto(format!("{}/", host.url)).await?;
    // First content: the first-run card of a fresh device (the Incidents screen once set up).
    b.driver
        .query(By::Css(".first-run, .incident-list, .empty-state"))
        .wait(Duration::from_secs(180), Duration::from_millis(50))
        .first()
        .await
        .map_err(|e| format!("no first screen within 3 minutes on the throttled phone: {e}"))?;
    let wall = started.elapsed().as_secs_f64();
    // The page's own clock from navigation start, and what each file cost on the wire.
    let figures = b
        .driver
        .execute(
            r#"const nav = performance.getEntriesByType("navigation")[0];
               const res = performance.getEntriesByType("resource");
               const wire = res.reduce((n, r) => n + (r.transferSize || 0), nav ? nav.transferSize : 0);
               const wasm = res.filter(r => r.name.endsWith(".wasm")).map(r => [r.transferSize, r.decodedBodySize, r.responseEnd - r.startTime]);
               return [performance.now(), wire, wasm[0] || [0, 0, 0]];"#,
            vec![],
        )
        .await?;
    let (page_ms, wire, wasm): (f64, f64, (f64, f64, f64)) = figures.convert()?;
    println!(
        "e2e: phone first load (CPU ×{CPU_SLOWDOWN}, {:.1} Mbit/s, {LATENCY_MS} ms RTT, gzip host): first content after {:.1} s \
         (page clock; {wall:.1} s by the test's), {:.0} KB over the wire; the wasm {:.0} KB gzipped ({:.0} KB raw) took {:.1} s to arrive",
        DOWN_BITS as f64 / 1e6,
        page_ms / 1000.0,
        wire / 1024.0,
        wasm.0 / 1024.0,
        wasm.1 / 1024.0,
        wasm.2 / 1000.0,
    );
    assert!(wire > 0.0, "the page reports what it transferred");
    b.quit().await?;
    host.stop();
    Ok(())
}
