//! Leadership across tabs with Web Locks: the tab holding the `piket-clock` lock is the team's
//! clock. A lock is released only when its holder is destroyed (a frozen tab keeps it), so the
//! runtime pairs it with a heartbeat and [`Leadership::steal`]s when the heartbeat stops.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function piket_locks_supported() {
  return typeof navigator !== "undefined" && !!(navigator.locks && navigator.locks.request);
}
export function piket_request_lock(name, steal, onAcquired, onLost) {
  let release = null;
  const held = new Promise((resolve) => { release = resolve; });
  const ctrl = new AbortController();
  let granted = false;
  const options = steal ? { steal: true } : { signal: ctrl.signal };
  navigator.locks
    .request(name, options, () => { granted = true; onAcquired(); return held; })
    .then(() => { if (granted) onLost(); }, () => { if (granted) onLost(); });
  return { release: () => release(), abort: () => { if (!granted) ctrl.abort(); } };
}
"#)]
extern "C" {
    fn piket_locks_supported() -> bool;
    fn piket_request_lock(name: &str, steal: bool, on_acquired: &JsValue, on_lost: &JsValue) -> JsValue;
}

const LOCK: &str = "piket-clock";

/// One request for the clock lock (queued until granted, or stolen at once).
pub struct Leadership {
    handle: JsValue,
    _acquired: Closure<dyn FnMut()>,
    _lost: Closure<dyn FnMut()>,
}

impl Leadership {
    /// Whether this browser has Web Locks; without them every tab runs its own clock.
    pub fn supported() -> bool {
        piket_locks_supported()
    }

    /// Queues for the lock: `on_acquired` runs when this tab becomes the clock, `on_lost` if the
    /// lock is later taken away.
    pub fn request(on_acquired: Rc<dyn Fn()>, on_lost: Rc<dyn Fn()>) -> Leadership {
        Self::make(false, on_acquired, on_lost)
    }

    /// Takes the lock from a holder that stopped answering.
    pub fn steal(on_acquired: Rc<dyn Fn()>, on_lost: Rc<dyn Fn()>) -> Leadership {
        Self::make(true, on_acquired, on_lost)
    }

    fn make(steal: bool, on_acquired: Rc<dyn Fn()>, on_lost: Rc<dyn Fn()>) -> Leadership {
        let acquired = Closure::<dyn FnMut()>::new(move || on_acquired());
        let lost = Closure::<dyn FnMut()>::new(move || on_lost());
        let handle = piket_request_lock(LOCK, steal, acquired.as_ref(), lost.as_ref());
        Leadership { handle, _acquired: acquired, _lost: lost }
    }

    fn call(&self, method: &str) {
        if let Ok(f) = js_sys::Reflect::get(&self.handle, &method.into()) {
            if let Some(f) = wasm_bindgen::JsCast::dyn_ref::<js_sys::Function>(&f) {
                let _ = f.call0(&JsValue::NULL);
            }
        }
    }

    /// Lets go of the lock (on `pagehide`), so another tab takes over at once.
    pub fn release(&self) {
        self.call("release");
    }

    /// Withdraws a request that was not granted yet.
    pub fn abort(&self) {
        self.call("abort");
    }
}
