//! Screens whose capability has not landed yet: each says plainly what it will hold.
//! No fake data is shown.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
fn Empty(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <section class="screen">
            <h1>{title}</h1>
            <div class="empty-state">
                <p>{text}</p>
            </div>
        </section>
    }
}

#[component]
pub fn Incidents() -> impl IntoView {
    view! { <Empty title="Incidents" text="No incidents yet. Open incidents will be listed here by severity, with a live countdown to their next escalation."/> }
}

#[component]
pub fn Incident() -> impl IntoView {
    let params = use_params_map();
    view! {
        <section class="screen">
            <h1>"Incident"</h1>
            <div class="empty-state">
                <p>"No incident with id " <code>{move || params.read().get("id").unwrap_or_default()}</code> " is stored on this device."</p>
            </div>
        </section>
    }
}

#[component]
pub fn Policies() -> impl IntoView {
    view! { <Empty title="Policies" text="No escalation policies yet. A policy lists who is paged first, who next, and after how long."/> }
}

#[component]
pub fn Schedules() -> impl IntoView {
    view! { <Empty title="Schedules" text="No on-call schedules yet. Rotations, overrides and holidays will show who is on call now and for the next two weeks."/> }
}

#[component]
pub fn Lab() -> impl IntoView {
    view! { <Empty title="Lab" text="Simulate incidents against your policies on a virtual clock, check coverage for gaps, and replay past incidents."/> }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! { <Empty title="Not found" text="This page does not exist. Use the navigation to get back."/> }
}
