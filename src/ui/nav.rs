//! Where the page is, as a signal: the address's fragment (`#/incidents/42`) read into an
//! [`Address`], followed through link clicks, typed or pasted addresses, back and forward.
//!
//! Links are plain `<a href="#/…">`: the browser changes the fragment without reloading and we
//! hear `hashchange`. Code that moves on by itself (an editor that saved) calls [`Nav::go`].

use leptos::prelude::*;
use wasm_bindgen::JsValue;

use crate::route::{Address, Route};

#[derive(Clone, Copy)]
pub struct Nav {
    address: RwSignal<Address>,
}

impl Nav {
    /// Reads the address, listens for changes and provides the [`Nav`] to every screen. A path
    /// link (`/incidents/42`, from a host with a fallback) becomes its fragment form first, so the
    /// address bar holds what a reload can open anywhere.
    pub fn install() -> Nav {
        adopt_path_link();
        let address = RwSignal::new(current().unwrap_or_default());
        let follow = move || {
            if let Some(now) = current() {
                if address.with_untracked(|a| *a != now) {
                    address.set(now);
                    scroll_to_top();
                }
            }
        };
        // Both: a fragment change fires `hashchange`; going back between entries we pushed may
        // fire only `popstate`.
        let on_hash = window_event_listener(leptos::ev::hashchange, move |_| follow());
        let on_pop = window_event_listener(leptos::ev::popstate, move |_| follow());
        on_cleanup(move || {
            on_hash.remove();
            on_pop.remove();
        });
        let nav = Nav { address };
        provide_context(nav);
        nav
    }

    pub fn address(&self) -> RwSignal<Address> {
        self.address
    }

    /// Moves to `route`, as a new history entry.
    pub fn go(&self, route: Route) {
        self.set(Address { route, query: String::new() }, false);
    }

    /// Moves to `route` in place of the current entry (back does not return to what it replaced).
    pub fn replace(&self, route: Route) {
        self.set(Address { route, query: String::new() }, true);
    }

    fn set(&self, to: Address, replace: bool) {
        if let Some(history) = web_sys::window().and_then(|w| w.history().ok()) {
            let fragment = to.fragment();
            let _ = if replace {
                history.replace_state_with_url(&JsValue::NULL, "", Some(&fragment))
            } else {
                history.push_state_with_url(&JsValue::NULL, "", Some(&fragment))
            };
        }
        if self.address.with_untracked(|a| *a != to) {
            self.address.set(to);
        }
        scroll_to_top();
    }
}

pub fn use_nav() -> Nav {
    expect_context::<Nav>()
}

/// The address the page shows now, from its fragment (`None` for an in-page anchor like `#main`).
fn current() -> Option<Address> {
    let hash = web_sys::window()?.location().hash().ok()?;
    Address::from_fragment(&hash)
}

fn adopt_path_link() {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let (Ok(path), Ok(search), Ok(hash)) = (location.pathname(), location.search(), location.hash()) else { return };
    if !hash.is_empty() {
        return;
    }
    if let Some(address) = Address::from_path(&path, &search) {
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("/{}", address.fragment())));
        }
    }
}

fn scroll_to_top() {
    if let Some(w) = web_sys::window() {
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
}
