//! The 3 a.m. moment: a phone with a weak signal opens Piket for the first time. A fresh profile
//! on a throttled phone (CPU ×4, "Fast 3G": 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip)
//! loads the app from a host that compresses, and the suite prints how long it took until the
//! first screen had content, and how many bytes crossed the wire. A figure, not a timed test: it
//! fails only when the first screen never comes.

use std::time::Duration;

use serde_json::json;
use thirtyfour::extensions::cdp::ChromeDevTools;
use thirtyfour::prelude::*;

use crate::support::{Browser, Result, StaticServer};

/// The throttled phone profile of the measurement.
const LATENCY_MS: u32 = 150;
const DOWN_BITS: u32 = 1_600_000;
const UP_BITS: u32 = 750_000;
const CPU_SLOWDOWN: u32 = 4;

/// How many cold loads the figure is the median of (each in a fresh profile).
const LOADS: usize = 3;

/// One cold load's figures, in seconds and KB.
struct Load {
    first_content: f64,
    wire_kb: f64,
    wasm_gzip_kb: f64,
    wasm_raw_kb: f64,
    page_in: f64,
    wasm_asked: f64,
    wasm_in: f64,
    /// The app's own marks: its code started, the page drawn (before data), storage open, stored
    /// data read.
    started: f64,
    drawn: f64,
    storage_open: f64,
    loaded: f64,
}

#[tokio::test]
async fn a_throttled_phone_gets_the_first_screen_and_the_figure_is_printed() -> Result {
    // `cargo xtask test` runs this test on its own, so the figure is the phone's, not the
    // machine's load from other tests' browsers.
    let host = StaticServer::start_gzip();
    let mut loads = Vec::new();
    for _ in 0..LOADS {
        let load = cold_load(&host.url).await?;
        println!(
            "e2e: phone load: first content after {:.2} s, {:.0} KB over the wire (page in at {:.2} s; wasm {:.0} KB gzipped, \
             {:.0} KB raw, asked for at {:.2} s, in at {:.2} s; the app started at {:.2} s, drew at {:.2} s, storage open at {:.2} s, read at {:.2} s)",
            load.first_content,
            load.wire_kb,
            load.page_in,
            load.wasm_gzip_kb,
            load.wasm_raw_kb,
            load.wasm_asked,
            load.wasm_in,
            load.started,
            load.drawn,
            load.storage_open,
            load.loaded,
        );
        loads.push(load);
    }
    loads.sort_by(|a, b| a.first_content.total_cmp(&b.first_content));
    let median = &loads[LOADS / 2];
    println!(
        "e2e: phone first load (CPU ×{CPU_SLOWDOWN}, {:.1} Mbit/s, {LATENCY_MS} ms RTT, gzip host): first content after {:.2} s \
         (median of {LOADS} cold loads, {:.2}–{:.2} s), {:.0} KB over the wire; the wasm {:.0} KB gzipped ({:.0} KB raw) took {:.1} s to arrive",
        DOWN_BITS as f64 / 1e6,
        median.first_content,
        loads[0].first_content,
        loads[LOADS - 1].first_content,
        median.wire_kb,
        median.wasm_gzip_kb,
        median.wasm_raw_kb,
        median.wasm_in - median.wasm_asked,
    );
    host.stop();
    Ok(())
}

/// A fresh profile on the throttled phone opens Piket; the page's own clock says when.
async fn cold_load(url: &str) -> Result<Load> {
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

    b.driver.goto(format!("{url}/")).await?;
    // First content: the first-run card of a fresh device (the Incidents screen once set up).
    b.driver
        .query(By::Css(".first-run, .incident-list, .empty-state"))
        .wait(Duration::from_secs(180), Duration::from_millis(20))
        .first()
        .await
        .map_err(|e| format!("no first screen within 3 minutes on the throttled phone: {e}"))?;
    // The page's own clock from navigation start, and what each file cost on the wire. Where the
    // time went: the page, the wasm's fetch (it starts as the page is parsed: index.html preloads
    // it), and what ran after it arrived (compiling the rest, starting, the first render).
    let figures = b
        .driver
        .execute(
            r#"const nav = performance.getEntriesByType("navigation")[0];
               const res = performance.getEntriesByType("resource");
               const wire = res.reduce((n, r) => n + (r.transferSize || 0), nav ? nav.transferSize : 0);
               const wasm = res.filter(r => r.name.endsWith(".wasm")).map(r => [r.transferSize, r.decodedBodySize, r.startTime, r.responseEnd]);
               const at = name => { const m = performance.getEntriesByName(name)[0]; return m ? m.startTime : 0; };
               return [performance.now(), wire, wasm[0] || [0, 0, 0, 0], nav ? nav.responseEnd : 0,
                       [at("piket:start"), at("piket:drawn"), at("piket:storage-open"), at("piket:loaded")]];"#,
            vec![],
        )
        .await?;
    type Figures = (f64, f64, (f64, f64, f64, f64), f64, (f64, f64, f64, f64));
    let (page_ms, wire, wasm, html_ms, marks): Figures = figures.convert()?;
    b.quit().await?;
    assert!(wire > 0.0, "the page reports what it transferred");
    assert!(wasm.1 > 0.0, "the page fetched its wasm");
    Ok(Load {
        first_content: page_ms / 1000.0,
        wire_kb: wire / 1024.0,
        wasm_gzip_kb: wasm.0 / 1024.0,
        wasm_raw_kb: wasm.1 / 1024.0,
        page_in: html_ms / 1000.0,
        wasm_asked: wasm.2 / 1000.0,
        wasm_in: wasm.3 / 1000.0,
        started: marks.0 / 1000.0,
        drawn: marks.1 / 1000.0,
        storage_open: marks.2 / 1000.0,
        loaded: marks.3 / 1000.0,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_screen_whose_code_cannot_be_fetched_says_so_and_opens_when_tried_again() -> Result {
    // The first screen needs only the main module; every other screen's code is fetched when it
    // first opens. The network fails in between: the screen says so and offers to try again.
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let host = StaticServer::start_refusing_lazy_modules(refuse.clone());
    let b = Browser::start().await?;
    b.driver.goto(format!("{}/", host.url)).await?;
    b.driver.query(By::Css(".first-run, .incident-list, .empty-state")).wait(Duration::from_secs(30), Duration::from_millis(50)).first().await?;
    let nav = |name: &str| By::XPath(format!("//nav[contains(@class,'app-nav')]//a[normalize-space()='{name}']"));
    b.tap(&b.wait_for(nav("People")).await?).await?;
    b.wait_text("main [role=alert]", |t| t.contains("could not be loaded") && t.contains("Check the connection")).await?;
    assert!(b.driver.find_all(By::Css("main h1")).await?.is_empty(), "no half-drawn screen");

    // Back online: the same screen opens on "Try again", and the others open too.
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    b.tap(&b.wait_for(By::XPath("//main//button[normalize-space()='Try again']")).await?).await?;
    if let Err(e) = b.wait_text("main h1", |t| t == "People").await {
        // Say why when the app stopped (the recovery page) rather than only that it did.
        let why = match b.driver.find_all(By::Css(".recovery-why")).await?.first() {
            Some(el) => el.text().await?,
            None => String::new(),
        };
        return Err(format!("{e} {why}").into());
    }
    for (link, title) in [("Policies", "Policies"), ("Schedules", "Schedules"), ("Settings", "Settings"), ("Lab", "Lab"), ("Reports", "Reports")] {
        b.tap(&b.wait_for(nav(link)).await?).await?;
        b.wait_text("main h1", |t| t == title).await?;
    }
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clock_whose_code_cannot_be_fetched_says_so_refuses_actions_and_runs_once_it_can() -> Result {
    // The clock tab's work (ticks, delivery, incident actions) is its own lazily loaded module.
    // Its fetch fails from the start: the first screen still comes, the header says the clock is
    // not running and why, and an incident cannot be opened (nothing half-done is stored).
    let (refuse, host, b) = first_screen_without("clock").await?;
    crate::incidents::seed_at(&b, &host.url).await?;
    b.open_at(&host.url, "/new").await?;
    b.fill("Title", "Checkout database is down").await?;
    b.click("Open incident").await?;
    b.wait_text("main", |t| t.contains("the clock's code did not load") && t.contains("Nothing was changed")).await?;
    b.open_at(&host.url, "/incidents").await?;
    b.wait_text(".empty-state", |t| t.contains("No open incidents")).await?;

    // Back online: the clock starts by itself, and the same action pages.
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    b.open_at(&host.url, "/new").await?;
    b.fill("Title", "Checkout database is down").await?;
    b.click("Open incident").await?;
    b.wait_text("main h1", |t| t == "Checkout database is down").await?;
    b.wait_text("ol.timeline > li", |t| t.contains("Paged") && t.contains("Alice Example")).await?;
    b.quit().await
}

#[test]
fn the_bundle_has_its_404_copy_and_preloads_the_split_loader() {
    // Static hosts that serve 404.html for unknown paths open the app on deep links; the split
    // hook writes it last, after it added the loader's preload to index.html.
    let dist = crate::support::dist();
    let index = std::fs::read_to_string(dist.join("index.html")).expect("dist/index.html");
    assert_eq!(std::fs::read_to_string(dist.join("404.html")).expect("dist/404.html"), index);
    let loader = index
        .split("rel=\"modulepreload\" href=\"/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.starts_with("lazy-") && href.ends_with("/loader.js"))
        .expect("index.html preloads the split loader");
    assert!(dist.join(loader).is_file(), "{loader} is in dist/");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tab_whose_own_code_cannot_be_fetched_says_so_refuses_commands_and_joins_once_it_can() -> Result {
    // The tab's wiring (the other tabs' bus, the clock lock, wake-ups) is the module `tab`,
    // fetched once the first screen has its data. Its fetch fails: the first screen still comes,
    // the header says why no clock runs, and a command is refused with nothing changed.
    let (refuse, host, b) = first_screen_without("tab").await?;
    crate::incidents::restore_seed_at(&b, &host.url, |t| t.contains("its code did not load") && t.contains("Nothing was changed")).await?;
    b.open_at(&host.url, "/people").await?;
    b.wait_text("main", |t| !t.contains("Alice Example") && t.contains("People")).await?;

    // Back online: the tab joins by itself, runs the clock, and the same restore works.
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    b.wait_text(".clock-status", |t| t.contains("Clock running here")).await?;
    crate::incidents::seed_at(&b, &host.url).await?;
    b.open_at(&host.url, "/new").await?;
    b.fill("Title", "Checkout database is down").await?;
    b.click("Open incident").await?;
    b.wait_text("ol.timeline > li", |t| t.contains("Paged") && t.contains("Alice Example")).await?;
    b.quit().await
}

/// A phone-sized browser opens Piket from a host that refuses the split module `module`: the
/// first screen comes, and the header says the clock's code could not be loaded (on one line
/// that wraps: no sideways scroll). The flag lets the module through once cleared.
async fn first_screen_without(module: &'static str) -> Result<(std::sync::Arc<std::sync::atomic::AtomicBool>, StaticServer, Browser)> {
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let host = StaticServer::start_refusing_split(refuse.clone(), module);
    let b = Browser::start_sized(360, 740).await?;
    b.open_at(&host.url, "/").await?;
    b.driver.query(By::Css(".first-run, .incident-list, .empty-state")).wait(Duration::from_secs(30), Duration::from_millis(50)).first().await?;
    b.wait_text(".clock-status", |t| t.contains("clock's code could not be loaded") && t.contains("Check the connection")).await?;
    let scroll: Vec<i64> = b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert()?;
    assert!(scroll[0] <= scroll[1], "the header fits 360 px: {scroll:?}");
    Ok((refuse, host, b))
}
