//! Storage quota: ask the browser to keep Piket's data (`navigator.storage.persist()`), and how
//! much space it uses.

use wasm_bindgen_futures::JsFuture;

/// What Settings shows about storage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageInfo {
    pub persisted: Option<bool>,
    pub usage_bytes: Option<f64>,
    pub quota_bytes: Option<f64>,
}

fn manager() -> Option<web_sys::StorageManager> {
    let navigator = web_sys::window()?.navigator();
    // Absent in old browsers and insecure contexts.
    js_sys::Reflect::get(&navigator, &"storage".into()).ok().filter(|v| !v.is_undefined())?;
    Some(navigator.storage())
}

/// Asks for persistent storage (so the browser does not evict incidents under pressure).
pub async fn request_persist() -> Option<bool> {
    let promise = manager()?.persist().ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
}

pub async fn info() -> StorageInfo {
    let Some(m) = manager() else { return StorageInfo::default() };
    let persisted = match m.persisted() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_bool()),
        Err(_) => None,
    };
    let (usage_bytes, quota_bytes) = match m.estimate() {
        Ok(p) => match JsFuture::from(p).await {
            Ok(est) => (
                js_sys::Reflect::get(&est, &"usage".into()).ok().and_then(|v| v.as_f64()),
                js_sys::Reflect::get(&est, &"quota".into()).ok().and_then(|v| v.as_f64()),
            ),
            Err(_) => (None, None),
        },
        Err(_) => (None, None),
    };
    StorageInfo { persisted, usage_bytes, quota_bytes }
}
