//! The tabs' message bus: a BroadcastChannel carrying JSON strings between Piket tabs of one
//! browser (heartbeats, "something changed", commands to the leader and their replies).

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub struct Bus {
    channel: Option<web_sys::BroadcastChannel>,
    _on_message: Option<Closure<dyn FnMut(web_sys::MessageEvent)>>,
}

impl Bus {
    /// Joins the bus; `on_message` gets every message other tabs post. Without BroadcastChannel
    /// the bus is silent (the tab then works alone).
    pub fn join(name: &str, on_message: Rc<dyn Fn(String)>) -> Bus {
        let Ok(channel) = web_sys::BroadcastChannel::new(name) else {
            return Bus { channel: None, _on_message: None };
        };
        let cb = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(text) = e.data().as_string() {
                on_message(text);
            }
        });
        channel.set_onmessage(Some(cb.as_ref().unchecked_ref()));
        Bus { channel: Some(channel), _on_message: Some(cb) }
    }

    pub fn post(&self, message: &str) {
        if let Some(c) = &self.channel {
            let _ = c.post_message(&JsValue::from_str(message));
        }
    }
}
