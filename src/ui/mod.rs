//! The Leptos app: the shell (header, navigation, routes) and one module per screen.
//!
//! Screens read signals from [`state::AppState`] and dispatch actions through it; they never call
//! storage or adapters directly. Everything a user typed is rendered as text, never as HTML.

mod channels;
mod clock;
pub(crate) mod first_run;
mod incidents;
mod lab;
mod people;
mod placeholder;
mod policies;
mod reply;
mod row_actions;
mod rules;
pub(crate) mod schedules;
mod settings;
mod state;
mod teams;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

use state::AppState;
use wasm_bindgen::JsCast;

/// Mounts the app on `<body>`.
pub fn start() {
    adopt_hash_route();
    // The app is here: the loading note in index.html goes.
    if let Some(loading) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("loading")) {
        loading.remove();
    }
    leptos::mount::mount_to_body(App);
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

/// Links of the form `…/#/incidents/42` (what notifications and bookmarks carry, since they work on
/// any static host) become the path route `/incidents/42` before the router starts.
fn adopt_hash_route() {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    let Ok(hash) = location.hash() else { return };
    if let Some(route) = hash.strip_prefix('#').filter(|h| h.starts_with('/')) {
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(route));
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.start();

    view! {
        <Router>
            <header class="app-header">
                <A href="/" attr:class="brand">"Piket"</A>
                <clock::ClockBadge/>
            </header>
            <nav class="app-nav" aria-label="Main">
                <A href="/incidents">"Incidents"</A>
                <A href="/policies">"Policies"</A>
                <A href="/schedules">"Schedules"</A>
                <A href="/people">"People"</A>
                <A href="/teams">"Teams"</A>
                <A href="/rules">"Rules"</A>
                <A href="/channels">"Channels"</A>
                <A href="/lab">"Lab"</A>
                <A href="/settings">"Settings"</A>
            </nav>
            <Show when=move || state.load_error.get().is_some()>
                <p class="banner error" role="alert">{move || state.load_error.get().unwrap_or_default()}</p>
            </Show>
            <main id="main">
                <Routes fallback=|| view! { <placeholder::NotFound/> }>
                    <Route path=path!("/") view=incidents::IncidentList/>
                    <Route path=path!("/incidents") view=incidents::IncidentList/>
                    <Route path=path!("/new") view=incidents::NewIncident/>
                    <Route path=path!("/incidents/:id") view=incidents::IncidentPage/>
                    <Route path=path!("/policies") view=policies::PoliciesScreen/>
                    <Route path=path!("/policies/:id") view=policies::PolicyEditorScreen/>
                    <Route path=path!("/schedules") view=schedules::SchedulesScreen/>
                    <Route path=path!("/schedules/:id") view=schedules::ScheduleEditorScreen/>
                    <Route path=path!("/teams") view=teams::TeamsScreen/>
                    <Route path=path!("/rules") view=rules::RulesScreen/>
                    <Route path=path!("/people") view=people::PeopleScreen/>
                    <Route path=path!("/channels") view=channels::ChannelsScreen/>
                    <Route path=path!("/lab") view=lab::LabScreen/>
                    <Route path=path!("/settings") view=settings::SettingsScreen/>
                </Routes>
            </main>
        </Router>
    }
}
