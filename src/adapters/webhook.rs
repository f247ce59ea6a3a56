//! Sends a [`RequestSpec`] with `fetch` and reports what came back, and how long it took.
//! Decides nothing: retrying is the runtime's business.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::delivery::{AttemptOutcome, Mode, RequestSpec};

/// Performs the request; returns the outcome and the latency in milliseconds.
pub async fn send(spec: &RequestSpec) -> (AttemptOutcome, u32) {
    let started = js_sys::Date::now();
    let outcome = match fetch(spec).await {
        Ok(response) => {
            if response.type_() == web_sys::ResponseType::Opaque {
                AttemptOutcome::Opaque
            } else {
                let retry_after = response
                    .headers()
                    .get("Retry-After")
                    .ok()
                    .flatten()
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .and_then(|s| chrono::TimeDelta::try_seconds(s.clamp(0, 86_400 * 365)));
                AttemptOutcome::Status { code: response.status(), retry_after }
            }
        }
        Err(e) => AttemptOutcome::NetworkError(e),
    };
    (outcome, (js_sys::Date::now() - started).max(0.0) as u32)
}

async fn fetch(spec: &RequestSpec) -> Result<web_sys::Response, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(spec.method);
    init.set_body(&spec.body.clone().into());
    init.set_mode(match spec.mode {
        Mode::Cors => web_sys::RequestMode::Cors,
        Mode::NoCors => web_sys::RequestMode::NoCors,
    });
    init.set_credentials(web_sys::RequestCredentials::Omit);
    init.set_referrer_policy(web_sys::ReferrerPolicy::NoReferrer);
    let headers = web_sys::Headers::new().map_err(|_| "no headers".to_string())?;
    headers.set("Content-Type", spec.content_type).map_err(|_| "bad content type".to_string())?;
    init.set_headers(&headers);
    let request = web_sys::Request::new_with_str_and_init(&spec.url, &init).map_err(|e| format!("{e:?}"))?;
    let window = web_sys::window().ok_or("no window")?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| "network error".into()))?;
    response.dyn_into::<web_sys::Response>().map_err(|_| "not a response".to_string())
}
