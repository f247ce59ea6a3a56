//! Wake-ups: a dedicated worker ticking every second and at the next deadline (a hidden tab's
//! own timers are throttled to once a minute), with page timers as the fallback, plus the page
//! events after which a sleeping tab must catch up: `visibilitychange`, `focus`, `online`,
//! `pageshow`, `resume` (after the browser froze the page).

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Utc};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Why the clock woke the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    Tick,
    Deadline,
    PageEvent,
}

pub struct Clock {
    worker: Option<web_sys::Worker>,
    /// Page-timer fallback for the deadline when no worker could start.
    fallback_deadline: RefCell<Option<gloo_timers::callback::Timeout>>,
    on_wake: Rc<dyn Fn(Wake)>,
    _keep: Vec<Closure<dyn FnMut(web_sys::Event)>>,
    _interval: Option<gloo_timers::callback::Interval>,
}

impl Clock {
    /// Starts ticking; `on_wake` runs on every wake-up.
    pub fn start(on_wake: Rc<dyn Fn(Wake)>) -> Clock {
        let mut keep = Vec::new();
        let worker = web_sys::Worker::new("/clock-worker.js").ok();
        let mut interval = None;
        match &worker {
            Some(w) => {
                let cb = on_wake.clone();
                let on_message = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                    let data = e.dyn_into::<web_sys::MessageEvent>().ok().and_then(|m| m.data().as_string());
                    cb(if data.as_deref() == Some("deadline") { Wake::Deadline } else { Wake::Tick });
                });
                w.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                keep.push(on_message);
            }
            None => {
                let cb = on_wake.clone();
                interval = Some(gloo_timers::callback::Interval::new(1000, move || cb(Wake::Tick)));
            }
        }
        let window = web_sys::window().expect("a window");
        let document = window.document().expect("a document");
        for (target, event) in [
            (document.unchecked_ref::<web_sys::EventTarget>().clone(), "visibilitychange"),
            (window.unchecked_ref::<web_sys::EventTarget>().clone(), "focus"),
            (window.unchecked_ref::<web_sys::EventTarget>().clone(), "online"),
            (window.unchecked_ref::<web_sys::EventTarget>().clone(), "pageshow"),
            (document.unchecked_ref::<web_sys::EventTarget>().clone(), "resume"),
        ] {
            let cb = on_wake.clone();
            let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| cb(Wake::PageEvent));
            let _ = target.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
            keep.push(listener);
        }
        Clock { worker, fallback_deadline: RefCell::new(None), on_wake, _keep: keep, _interval: interval }
    }

    /// Wake at `deadline` (or only on ticks when there is none).
    pub fn sleep_until(&self, deadline: Option<DateTime<Utc>>) {
        match &self.worker {
            Some(w) => {
                let msg = js_sys::Object::new();
                if let Some(at) = deadline {
                    let _ = js_sys::Reflect::set(&msg, &"at".into(), &JsValue::from_f64(at.timestamp_millis() as f64));
                }
                let _ = w.post_message(&msg);
            }
            None => {
                let timer = deadline.map(|at| {
                    let wait = (at.timestamp_millis() as f64 - js_sys::Date::now()).clamp(0.0, 2_147_483_647.0) as u32;
                    let cb = self.on_wake.clone();
                    gloo_timers::callback::Timeout::new(wait, move || cb(Wake::Deadline))
                });
                *self.fallback_deadline.borrow_mut() = timer;
            }
        }
    }

    /// Whether ticks come from a worker (shown in Settings).
    pub fn uses_worker(&self) -> bool {
        self.worker.is_some()
    }
}

/// The current time, from the browser.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}

/// Names this moment on the page's performance timeline (`performance.mark`), so a load can be
/// read back step by step (the e2e suite's phone figure does). Does nothing where there is none.
pub fn mark(name: &str) {
    let Some(window) = web_sys::window() else { return };
    let Ok(performance) = js_sys::Reflect::get(&window, &"performance".into()) else { return };
    if let Ok(mark) = js_sys::Reflect::get(&performance, &"mark".into()) {
        if let Some(mark) = mark.dyn_ref::<js_sys::Function>() {
            let _ = mark.call1(&performance, &name.into());
        }
    }
}
