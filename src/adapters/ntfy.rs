//! The reply topic on ntfy: a catch-up poll (`GET /<topic>/json?poll=1&since=…`), a live
//! subscription (`GET /<topic>/sse?since=…`, an `EventSource`), and random bytes for new topics and
//! keys. Decides nothing: the runtime judges every message it hands back.
//!
//! ntfy's SSE frames carry no `id:` and it ignores `Last-Event-ID`, so the browser's own
//! reconnect would replay from the first `since`: on any error the subscription closes itself and
//! reports it, and the runtime reconnects with `since=<last id>`.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
export async function piket_ntfy_poll(url, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer", signal: controller.signal });
    if (!response.ok) throw new Error(`ntfy answered HTTP ${response.status}`);
    return await response.text();
  } catch (e) {
    if (e && e.name === "AbortError") throw new Error(`ntfy did not answer within ${Math.round(timeoutMs / 1000)} s`);
    if (e instanceof TypeError) throw new Error("ntfy could not be reached (network or CORS)");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
export function piket_ntfy_subscribe(url, onMessage, onState) {
  const source = new EventSource(url);
  source.onmessage = (event) => onMessage(event.data);
  const alive = () => onState("open");
  source.onopen = alive;
  source.addEventListener("open", alive);
  source.addEventListener("keepalive", alive);
  source.onerror = () => { source.close(); onState("error"); };
  return source;
}
export function piket_ntfy_close(source) {
  if (source) source.close();
}
export function piket_random_bytes(n) {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return bytes;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn piket_ntfy_poll(url: &str, timeout_ms: u32) -> Result<js_sys::Promise, JsValue>;
    fn piket_ntfy_subscribe(url: &str, on_message: &Closure<dyn FnMut(String)>, on_state: &Closure<dyn FnMut(String)>) -> JsValue;
    fn piket_ntfy_close(source: &JsValue);
    fn piket_random_bytes(n: u32) -> js_sys::Uint8Array;
}

fn topic_url(server: &str, topic: &str, kind: &str, since: &str) -> String {
    let since: String = since.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
    format!("{}/{}/{kind}?since={since}", server.trim_end_matches('/'), topic)
}

/// Every cached message of the topic since `since`, as JSON lines (ntfy's stream format).
pub async fn poll(server: &str, topic: &str, since: &str, timeout_ms: u32) -> Result<Vec<String>, String> {
    let url = format!("{}&poll=1", topic_url(server, topic, "json", since));
    let promise = piket_ntfy_poll(&url, timeout_ms).map_err(describe)?;
    let text = JsFuture::from(promise).await.map_err(describe)?;
    Ok(text.as_string().unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

/// A live subscription; closed when dropped.
pub struct Subscription {
    source: JsValue,
    _on_message: Closure<dyn FnMut(String)>,
    _on_state: Closure<dyn FnMut(String)>,
}

impl Subscription {
    /// Subscribes from `since`. `on_message` gets each frame's data (a JSON message, or `open` /
    /// `keepalive` JSON), `on_state` gets `"open"` when the stream is live and `"error"` once when
    /// it broke (the subscription is closed by then).
    pub fn open(server: &str, topic: &str, since: &str, on_message: Rc<dyn Fn(String)>, on_state: Rc<dyn Fn(&str)>) -> Subscription {
        let on_message = Closure::<dyn FnMut(String)>::new(move |data: String| on_message(data));
        let on_state = Closure::<dyn FnMut(String)>::new(move |state: String| on_state(&state));
        let source = piket_ntfy_subscribe(&topic_url(server, topic, "sse", since), &on_message, &on_state);
        Subscription { source, _on_message: on_message, _on_state: on_state }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        piket_ntfy_close(&self.source);
    }
}

/// `n` bytes from `crypto.getRandomValues`.
pub fn random_bytes(n: u32) -> Vec<u8> {
    piket_random_bytes(n).to_vec()
}

fn describe(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "ntfy could not be reached".into())
}
