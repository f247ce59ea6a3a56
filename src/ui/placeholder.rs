//! Screens whose capability has not landed yet: each says plainly what it will hold.
//! No fake data is shown.

use leptos::prelude::*;

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
pub fn NotFound() -> impl IntoView {
    view! { <Empty title="Not found" text="This page does not exist. Use the navigation to get back."/> }
}
