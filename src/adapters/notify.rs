//! Web Notifications through the service worker (`showNotification` is the only way on Android),
//! with an Acknowledge action; the service worker's registration; and the messages it sends back
//! when someone taps a notification.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::engine::id::{IncidentId, PersonId};

#[wasm_bindgen(inline_js = r#"
export function piket_sw_register(url) {
  if (!("serviceWorker" in navigator)) return Promise.resolve(false);
  return navigator.serviceWorker.register(url).then(() => true, () => false);
}
export function piket_notification_permission() {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}
export function piket_request_permission() {
  if (typeof Notification === "undefined") return Promise.resolve("unsupported");
  return Notification.requestPermission();
}
async function registration() {
  if (!("serviceWorker" in navigator)) return null;
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), 10000));
  return Promise.race([navigator.serviceWorker.ready, timeout]);
}
export async function piket_show_notification(title, body, tag, url, incident, person, ackUrl) {
  if (typeof Notification === "undefined") throw new Error("this browser has no notifications");
  if (Notification.permission !== "granted") throw new Error("notifications are not allowed in this browser (Settings → Notifications)");
  const options = {
    body, tag, data: { url, incident, person: person || null, ack_url: ackUrl || null },
    requireInteraction: true, renotify: true, icon: "/icon-192.png", badge: "/icon-192.png",
    actions: person ? [{ action: "ack", title: "Acknowledge" }] : [],
  };
  const reg = await registration();
  if (reg) { await reg.showNotification(title, options); return; }
  delete options.actions;
  new Notification(title, options);
}
export function piket_on_sw_message(callback) {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => callback(JSON.stringify(event.data || {})));
  }
}
"#)]
extern "C" {
    fn piket_sw_register(url: &str) -> js_sys::Promise;
    fn piket_notification_permission() -> String;
    fn piket_request_permission() -> js_sys::Promise;
    #[wasm_bindgen(catch)]
    fn piket_show_notification(
        title: &str,
        body: &str,
        tag: &str,
        url: &str,
        incident: &str,
        person: Option<String>,
        ack_url: Option<String>,
    ) -> Result<js_sys::Promise, JsValue>;
    fn piket_on_sw_message(callback: &Closure<dyn FnMut(String)>);
}

/// Registers `/sw.js` (offline shell, notification taps). False when the browser has no service
/// workers or refused.
pub async fn register_service_worker() -> bool {
    JsFuture::from(piket_sw_register("/sw.js")).await.ok().and_then(|v| v.as_bool()).unwrap_or(false)
}

/// `granted`, `denied`, `default` (not asked yet) or `unsupported`.
pub fn permission() -> String {
    piket_notification_permission()
}

/// Asks the user (must follow a click). Returns the new permission.
pub async fn request_permission() -> String {
    JsFuture::from(piket_request_permission()).await.ok().and_then(|v| v.as_string()).unwrap_or_else(|| "unsupported".into())
}

/// Shows a notification. `person` adds the Acknowledge action (acknowledging as them).
/// `ack_url` (the page's one-tap acknowledgement link) rides in the notification's data.
pub async fn show(title: &str, body: &str, tag: &str, url: &str, incident: &str, person: Option<String>, ack_url: Option<String>) -> Result<(), String> {
    let promise = piket_show_notification(title, body, tag, url, incident, person, ack_url).map_err(describe)?;
    JsFuture::from(promise).await.map(|_| ()).map_err(describe)
}

fn describe(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "the notification could not be shown".into())
}

/// What the service worker tells the page.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The Acknowledge action of a page's notification was tapped.
    Ack { incident: IncidentId, person: PersonId },
    /// The notification itself was tapped: show the incident.
    Open { incident: Option<IncidentId> },
}

/// Calls `on_message` for every message the service worker posts to this page.
pub fn on_worker_message(on_message: Rc<dyn Fn(WorkerMessage)>) {
    let cb = Closure::<dyn FnMut(String)>::new(move |text: String| {
        if let Ok(message) = crate::json::stored_from_str(&text) {
            on_message(message);
        }
    });
    piket_on_sw_message(&cb);
    cb.forget(); // lives as long as the page
}
