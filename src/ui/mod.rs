//! The Leptos app: the shell (header, navigation, routes) and one module per screen.
//!
//! Screens read signals from [`state::AppState`] and dispatch actions through it; they never call
//! storage or adapters directly. Everything a user typed is rendered as text, never as HTML.

mod channels;
mod charts;
mod clock;
mod command;
mod download;
mod editor;
pub(crate) mod first_run;
mod incidents;
mod lab;
mod lazy;
pub(crate) mod nav;
mod people;
mod placeholder;
mod policies;
mod reply;
mod reports;
mod row_actions;
mod rules;
pub(crate) mod schedules;
mod settings;
mod state;
mod team_sync;
mod teams;

use crate::route::{Route, Screen};
use leptos::prelude::*;
use nav::Nav;
use state::AppState;
use wasm_bindgen::JsCast;

/// Mounts the app on `<body>`.
pub fn start() {
    crate::adapters::clock::mark("piket:start");
    // The app is here: the loading note in index.html goes.
    if let Some(loading) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("loading")) {
        loading.remove();
    }
    leptos::mount::mount_to_body(App);
    crate::adapters::clock::mark("piket:drawn");
    lazy::preload_all();
    if query_flag("crash-test") {
        // A drill: what Piket does if it ever stops (the recovery page). Documented in README.
        panic!("crash test requested with ?crash-test=1");
    }
}

/// Whether the page's address has `?<name>=1`.
pub(crate) fn query_flag(name: &str) -> bool {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    search.trim_start_matches('?').split('&').any(|kv| kv == format!("{name}=1") || kv == name)
}

/// Replaces the page with the recovery page (defined in index.html, plain JS, so it works after
/// the wasm instance died).
pub fn show_recovery(why: &str) {
    let Some(window) = web_sys::window() else { return };
    if let Ok(f) = js_sys::Reflect::get(&window, &"piketRecover".into()) {
        if let Some(f) = f.dyn_ref::<js_sys::Function>() {
            let _ = f.call1(&wasm_bindgen::JsValue::NULL, &why.into());
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.start();

    let nav = Nav::install();
    let section = Memo::new(move |_| nav.address().with(|a| a.route.section()));
    let link = move |to: Route, name: &'static str| {
        let here = to.screen();
        view! { <a href=to.href() aria-current=move || (section.get() == here).then_some("page")>{name}</a> }
    };
    // A new screen, incident or query mounts the screen again: an intake link (`#/new?title=…`)
    // or a notification's `#/incidents/42?ack=1` followed in an open tab acts like a fresh load.
    // An editor's id is left out: one that saved `new` under its real id carries on.
    let screen = Memo::new(move |_| {
        nav.address().with(|a| {
            let id = if let Route::Incident(id) = &a.route { id.clone() } else { String::new() };
            (a.route.screen(), id, a.query.clone())
        })
    });

    view! {
        <header class="app-header">
            <a href=Route::Incidents.href() class="brand">"Piket"</a>
            <clock::ClockBadge/>
        </header>
        <nav class="app-nav" aria-label="Main">
            {link(Route::Incidents, "Incidents")}
            {link(Route::Policies, "Policies")}
            {link(Route::Schedules, "Schedules")}
            {link(Route::People, "People")}
            {link(Route::Teams, "Teams")}
            {link(Route::Rules, "Rules")}
            {link(Route::Channels, "Channels")}
            {link(Route::Reports, "Reports")}
            {link(Route::Lab, "Lab")}
            {link(Route::Settings, "Settings")}
        </nav>
        <Show when=move || state.load_error.get().is_some()>
            <p class="banner error" role="alert">{move || state.load_error.get().unwrap_or_default()}</p>
        </Show>
        <main id="main">
            {move || match screen.get().0 {
                Screen::Incidents => view! { <incidents::IncidentList/> }.into_any(),
                Screen::NewIncident => lazy::deferred(lazy::new_incident),
                Screen::Incident => lazy::deferred(lazy::incident),
                Screen::Policies => lazy::deferred(lazy::policies),
                Screen::Policy => lazy::deferred(lazy::policy),
                Screen::Schedules => lazy::deferred(lazy::schedules),
                Screen::Schedule => lazy::deferred(lazy::schedule),
                Screen::Teams => lazy::deferred(lazy::teams),
                Screen::Rules => lazy::deferred(lazy::rules),
                Screen::People => lazy::deferred(lazy::people),
                Screen::Channels => lazy::deferred(lazy::channels),
                Screen::Reports => lazy::deferred(lazy::reports),
                Screen::Lab => lazy::deferred(lazy::lab),
                Screen::Settings => lazy::deferred(lazy::settings),
                Screen::NotFound => view! { <placeholder::NotFound/> }.into_any(),
            }}
        </main>
    }
}
