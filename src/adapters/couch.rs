//! CouchDB over `fetch`: the [`Transport`] team sync replicates through. Sends what it is given,
//! with the credentials the settings name, and gives up after the request's timeout. Decides
//! nothing: what an answer means is `crate::sync`'s and `runtime::team_sync`'s business.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::runtime::team_sync::{SyncAuth, SyncSettings};
use crate::sync::{HttpRequest, HttpResponse, SyncError, Transport};

#[wasm_bindgen(inline_js = r#"
export async function piket_couch_fetch(method, url, body, auth, cookies, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const headers = { "Accept": "application/json" };
  if (body) headers["Content-Type"] = "application/json";
  if (auth) headers["Authorization"] = auth;
  try {
    const response = await fetch(url, {
      method, headers, body: body || undefined, cache: "no-store",
      credentials: cookies ? "include" : "omit", referrerPolicy: "no-referrer", signal: controller.signal,
    });
    return [response.status, await response.text()];
  } catch (e) {
    if (e && e.name === "AbortError") throw new Error("timed out");
    if (e instanceof TypeError) throw new Error("unreachable (offline, a wrong address, or CORS)");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn piket_couch_fetch(
        method: &str,
        url: &str,
        body: Option<String>,
        auth: Option<String>,
        cookies: bool,
        timeout_ms: u32,
    ) -> Result<js_sys::Promise, JsValue>;
}

/// `fetch` with the settings' sign-in.
pub struct Fetch {
    authorization: Option<String>,
    cookies: bool,
}

impl Fetch {
    pub fn new(settings: &SyncSettings) -> Fetch {
        Fetch { authorization: crate::runtime::team_sync::authorization(settings), cookies: settings.auth == SyncAuth::Cookie }
    }
}

fn describe(e: JsValue) -> SyncError {
    let text = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).or_else(|| e.as_string()).unwrap_or_else(|| "network error".into());
    SyncError::Network(text)
}

impl Transport for Fetch {
    async fn send(&self, r: HttpRequest) -> Result<HttpResponse, SyncError> {
        let promise = piket_couch_fetch(r.method.as_str(), &r.url, r.body, self.authorization.clone(), self.cookies, r.timeout_ms).map_err(describe)?;
        let answer = JsFuture::from(promise).await.map_err(describe)?;
        let pair = js_sys::Array::from(&answer);
        let status = pair.get(0).as_f64().unwrap_or(0.0) as u16;
        let body = pair.get(1).as_string().unwrap_or_default();
        Ok(HttpResponse { status, body })
    }
}
