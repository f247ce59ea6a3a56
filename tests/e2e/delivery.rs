//! Reaching people: webhook bodies per channel kind, retries, refusals and outages against a
//! local receiver; a notification's Acknowledge action; the app shell offline.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use thirtyfour::prelude::*;

use crate::clock::{backup_with, idb_all, open_incident, restore};
use crate::support::{Browser, HttpRequest, HttpResponse, MiniServer, Result, StaticServer};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: String,
}

/// A local HTTP receiver that records requests and answers with statuses queued by the test
/// (200 when none is queued), with CORS headers like ntfy's.
pub struct Receiver {
    pub url: String,
    server: MiniServer,
    pub got: Arc<Mutex<Vec<Received>>>,
    pub answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Self::start_on(0, Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(VecDeque::new())))
    }

    fn start_on(port: u16, got: Arc<Mutex<Vec<Received>>>, answers: Arc<Mutex<VecDeque<u16>>>) -> Receiver {
        let (got2, answers2) = (got.clone(), answers.clone());
        let server = MiniServer::start(
            port,
            Arc::new(move |request: HttpRequest| {
                let cors = vec![
                    ("Access-Control-Allow-Origin".to_string(), "*".to_string()),
                    ("Access-Control-Allow-Headers".to_string(), "content-type".to_string()),
                    ("Access-Control-Allow-Methods".to_string(), "POST, OPTIONS".to_string()),
                ];
                if request.method == "OPTIONS" {
                    return HttpResponse { status: 204, headers: cors, body: Vec::new() };
                }
                got2.lock().unwrap().push(Received {
                    path: request.path.clone(),
                    content_type: request.header("Content-Type").unwrap_or("").to_string(),
                    body: String::from_utf8_lossy(&request.body).into_owned(),
                });
                let status = answers2.lock().unwrap().pop_front().unwrap_or(200);
                HttpResponse { status, headers: cors, body: b"{}".to_vec() }
            }),
        );
        Receiver { url: format!("http://127.0.0.1:{}", server.port), server, got, answers }
    }

    /// Stops answering: connections are refused until [`Receiver::restart`].
    pub fn stop(&self) {
        self.server.stop();
    }

    /// Comes back on the same address, keeping what it recorded.
    pub fn restart(&self) -> Receiver {
        Self::start_on(self.server.port, self.got.clone(), self.answers.clone())
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn add_channel(b: &Browser, name: &str, kind_label: &str, url: &str, topic: Option<&str>) -> Result {
    b.open("/channels").await?;
    b.fill("Channel name", name).await?;
    let kind = b.field("Kind").await?;
    kind.find(By::XPath(format!("./option[normalize-space()='{kind_label}']"))).await?.click().await?;
    if let Some(t) = topic {
        b.fill("ntfy topic", t).await?;
    }
    b.fill(if kind_label == "ntfy" { "ntfy server" } else { "Webhook URL" }, url).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_channel_kind_sends_its_own_format() -> Result {
    let receiver = Receiver::start();
    let b = Browser::start().await?;
    let cases: Vec<(&str, &str, Option<&str>, &str)> = vec![
        ("Team ntfy", "ntfy", Some("piket-team"), "Delivered: HTTP 200"),
        ("Slack room", "Slack", None, "no-cors"),
        ("Teams room", "Microsoft Teams", None, "no-cors"),
        ("Discord room", "Discord", None, "Delivered: HTTP 200"),
        ("Any webhook", "Generic JSON webhook", None, "Delivered: HTTP 200"),
    ];
    for (i, (name, kind, topic, expect)) in cases.iter().enumerate() {
        let url = if *kind == "ntfy" { receiver.url.clone() } else { format!("{}/{}", receiver.url, name.replace(' ', "-")) };
        add_channel(&b, name, kind, &url, *topic).await?;
        b.wait_text(".preview-text", |t| t.contains("Checkout error rate")).await?;
        b.click("Send test").await?;
        b.wait_text(".channels form", |t| t.contains(expect)).await?;
        b.click("Save channel").await?;
        b.wait_text(".channel-list", |t| t.contains(name)).await?;
        receiver.wait_for(i + 1, Duration::from_secs(10)).await;
    }
    let got = receiver.received();
    assert_eq!(got.len(), 5, "{got:?}");
    let json = |r: &Received| serde_json::from_str::<Value>(&r.body).unwrap();

    let ntfy = json(&got[0]);
    assert_eq!(got[0].path, "/", "ntfy is posted to the server root");
    assert_eq!((ntfy["topic"].as_str(), ntfy["priority"].is_number()), (Some("piket-team"), true), "{ntfy}");
    assert!(ntfy["message"].as_str().unwrap().contains("Test message from Piket") && ntfy["title"].is_string());

    assert!(got[1].content_type.starts_with("text/plain"), "Slack goes as a simple request: {}", got[1].content_type);
    assert!(json(&got[1])["text"].as_str().unwrap().contains("Test message"));
    assert!(json(&got[1])["blocks"].is_array());

    let teams = json(&got[2]);
    assert_eq!(teams["type"], "message");
    assert_eq!(teams["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");

    let discord = json(&got[3]);
    assert!(discord["content"].as_str().unwrap().chars().count() <= 2000);
    assert!(discord["embeds"].is_array());

    let generic = json(&got[4]);
    assert_eq!(generic["event"], "test");
    assert!(generic["incident"]["title"].is_string());

    // The saved list shows no secret.
    let listed = b.driver.find(By::Css(".channel-list")).await?.text().await?;
    assert!(!listed.contains("Any-webhook"), "webhook URLs are masked: {listed}");
    b.quit().await
}

fn person_with_webhook(url: &str) -> Vec<Value> {
    vec![json!({"id": "alice", "name": "Alice Hook", "time_zone": "UTC", "contact": {"webhook_url": url}})]
}

/// The outbox row of the only page, once it is no longer pending.
async fn settled_row(b: &Browser, within: Duration) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let rows = idb_all(b, "outbox").await?;
        if let Some(row) = rows.first() {
            if row["value"]["state"] != "pending" || Instant::now() > deadline {
                return Ok(row["value"].clone());
            }
        } else if Instant::now() > deadline {
            return Err("no page was queued".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_is_retried_and_delivered_once() -> Result {
    let receiver = Receiver::start();
    receiver.answers.lock().unwrap().push_back(500);
    let b = Browser::start().await?;
    restore(&b, &backup_with(person_with_webhook(&format!("{}/alice", receiver.url)), 60)).await?;
    let id = open_incident(&b, "Webhook flaky").await?;
    let row = settled_row(&b, Duration::from_secs(15)).await?;
    assert_eq!(row["state"], "delivered", "{row}");
    let webhook_attempts: Vec<_> = row["attempts"].as_array().unwrap().iter().filter(|a| a["route"] == "webhook").map(|a| a["status"].clone()).collect();
    assert_eq!(webhook_attempts, [json!(500), json!(200)]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 2, "one failure, one delivery, nothing more");
    let body: Value = serde_json::from_str(&got[1].body)?;
    assert_eq!(body["event"], "paged");
    assert_eq!(body["incident"]["id"], json!(id));
    assert!(body["incident"]["url"].as_str().unwrap().ends_with(&format!("/#/incidents/{id}")));
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_goes_to_failed_deliveries_without_a_retry_storm() -> Result {
    let receiver = Receiver::start();
    receiver.answers.lock().unwrap().push_back(400);
    let b = Browser::start().await?;
    restore(&b, &backup_with(person_with_webhook(&format!("{}/alice", receiver.url)), 60)).await?;
    open_incident(&b, "Webhook refuses").await?;
    let row = settled_row(&b, Duration::from_secs(15)).await?;
    assert_eq!(row["state"], "failed", "{row}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(receiver.received().len(), 1, "a 4xx is final");

    b.open("/channels").await?;
    b.wait_text(".failed-list", |t| t.contains("Webhook refuses")).await?;
    b.click("Retry delivery for Webhook refuses").await?;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    b.wait_text("#failed-title + p, .channels", |t| t.contains("None: every page")).await?;
    assert_eq!(receiver.received().len(), 2);
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_retried_until_the_receiver_is_back() -> Result {
    let receiver = Receiver::start();
    let b = Browser::start().await?;
    restore(&b, &backup_with(person_with_webhook(&format!("{}/alice", receiver.url)), 60)).await?;
    receiver.stop();
    open_incident(&b, "Receiver down").await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let back = receiver.restart();
    let got = back.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 1, "delivered once the receiver is back");
    let row = settled_row(&b, Duration::from_secs(10)).await?;
    assert_eq!(row["state"], "delivered", "{row}");
    let attempts: Vec<_> = row["attempts"].as_array().unwrap().iter().filter(|a| a["route"] == "webhook").collect();
    assert!(attempts.len() >= 3, "several network errors, then success: {attempts:?}");
    assert!(attempts[..attempts.len() - 1].iter().all(|a| a["status"].is_null()));
    assert_eq!(attempts.last().unwrap()["status"], 200);
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_acknowledge_action_of_a_notification_acknowledges() -> Result {
    let b = Browser::start_with_notifications().await?;
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice Notified", "time_zone": "UTC"})], 60)).await?;
    // The service worker shows pages; let it finish installing (it caches the shell first).
    let ready: bool = b
        .driver
        // Headless Chromium reconciles its notification database with the displayed notifications
        // on the first `getNotifications` of a session, and drops one shown a moment before that
        // it has not yet counted as displayed. Listing once here, before any page, keeps that
        // reconciliation from racing the page under test.
        .execute_async(
            "const done = arguments[arguments.length - 1]; navigator.serviceWorker.ready.then((r) => r.getNotifications()).then(() => done(true), () => done(false));",
            vec![],
        )
        .await?
        .convert()?;
    assert!(ready, "the service worker is active");
    let id = open_incident(&b, "Notify me").await?;
    let script = r#"
        const done = arguments[arguments.length - 1];
        navigator.serviceWorker.ready
          .then((reg) => reg.getNotifications())
          .then((list) => done(JSON.stringify(list.map((n) => ({ tag: n.tag, title: n.title, actions: (n.actions || []).map((a) => a.action), data: n.data })))))
          .catch((e) => done(JSON.stringify({ error: String(e) })));
    "#;
    let deadline = Instant::now() + Duration::from_secs(15);
    let shown: Vec<Value> = loop {
        let text: String = b.driver.execute_async(script, vec![]).await?.convert()?;
        let v: Value = serde_json::from_str(&text)?;
        if v.as_array().is_some_and(|a| !a.is_empty()) || Instant::now() > deadline {
            break v.as_array().cloned().unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if shown.len() != 1 {
        let outbox = idb_all(&b, "outbox").await?;
        return Err(format!("expected one notification, saw {shown:?}; outbox: {outbox:?}").into());
    }
    assert_eq!(shown[0]["actions"], json!(["ack"]));
    assert_eq!(shown[0]["data"]["incident"], json!(id));
    assert!(shown[0]["title"].as_str().unwrap().contains("Notify me"));

    b.wait_text("ol.timeline", |t| t.contains("delivered (1 attempt; last: notification shown)")).await?;

    // What Chromium does when the Acknowledge button is pressed: the worker's click handler.
    let tag = shown[0]["tag"].as_str().unwrap().to_string();
    b.driver
        .execute(
            "navigator.serviceWorker.controller ? navigator.serviceWorker.controller.postMessage({type: 'click-notification', tag: arguments[0], action: 'ack'}) : navigator.serviceWorker.ready.then(r => r.active.postMessage({type: 'click-notification', tag: arguments[0], action: 'ack'}))",
            vec![json!(tag)],
        )
        .await?;
    b.wait_text("ol.timeline", |t| t.contains("Acknowledged") && t.contains("Acknowledged from notification")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shell_opens_offline_after_the_first_visit() -> Result {
    let server = StaticServer::start();
    let b = Browser::start().await?;
    b.open_at(&server.url, "/people").await?;
    // Wait until the service worker controls the page (it caches the shell when it installs).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let controlled: bool = b.driver.execute("return !!navigator.serviceWorker.controller", vec![]).await?.convert()?;
        if controlled {
            break;
        }
        if Instant::now() > deadline {
            return Err("the service worker never took control".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop();
    b.driver.refresh().await?;
    b.wait_for(By::Css("nav.app-nav a")).await?;
    b.wait_text("main h1", |t| t == "People").await?;
    b.open_at(&server.url, "/settings").await?;
    b.wait_text("main h1", |t| t == "Settings").await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_opened_with_no_tab_acknowledges_as_the_paged_person() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice Away", "time_zone": "UTC"})], 60)).await?;
    let id = open_incident(&b, "Opened from a notification").await?;
    // What the service worker opens when no Piket tab is left.
    b.open(&format!("/#/incidents/{id}?ack=1&by=alice&from=notification")).await?;
    b.wait_text("ol.timeline", |t| t.contains("Acknowledged") && t.contains("Acknowledged from notification") && t.contains("Alice Away")).await?;
    b.quit().await
}
