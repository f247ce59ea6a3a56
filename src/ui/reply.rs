//! Settings → "Acknowledge from phones": the reply channel's server, topic and signing key, whether
//! the clock is listening, and what it refused lately.

use leptos::prelude::*;

use super::clock::span;
use super::command::{use_command_then, Outcome};
use super::state::AppState;
use crate::runtime::command::Command;
use crate::runtime::live::{ReplyLink, Role};

#[component]
pub fn ReplyChannelSettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let enabled = RwSignal::new(false);
    let server = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let command = use_command_then(move |reply| message.set(Some(reply.clone().map(|d| d.message).map_err(|e| e.message))));
    let busy = move || command.pending();
    // The form follows what is stored (after a save, a restore, or another tab's change).
    Effect::new(move |_| {
        let view = state.reply.get();
        enabled.set(view.settings.enabled);
        server.set(view.settings.server.clone());
    });

    let save = move |new_topic: bool, new_key: bool| {
        command.dispatch(Command::SetReplyChannel {
            enabled: enabled.get_untracked(),
            server: server.get_untracked().trim().to_string(),
            new_topic,
            new_key,
            entropy: Vec::new(),
        });
    };
    let copy = move |_| {
        let topic = state.reply.get_untracked().settings.topic;
        if let Some(w) = web_sys::window() {
            let _ = w.navigator().clipboard().write_text(&topic);
            message.set(Some(Ok(format!("Copied {topic}."))));
        }
    };
    let error_for = move |field: &'static str| {
        move || command.refusal().filter(|r| r.field.as_deref() == Some(field)).map(|r| view! { <p class="error field-error" role="alert">{r.message}</p> })
    };

    view! {
        <section class="card form-stack reply-channel" aria-labelledby="reply-title">
            <h2 id="reply-title">"Acknowledge from phones"</h2>
            <ReplyIntro/>
            <label class="check">
                <input type="checkbox" bind:checked=enabled />
                " Accept acknowledgements from phones"
            </label>
            <div class="field">
                <label for="reply-server">"ntfy server for replies"</label>
                <input id="reply-server" type="url" inputmode="url" autocomplete="off" bind:value=server
                    placeholder=move || state.delivery.get().ntfy_server />
                <p class="muted hint">"Empty: the ntfy server set in Channels."</p>
                {error_for("server")}
            </div>
            <div class="field">
                <span class="label" id="reply-topic-label">"Reply topic"</span>
                {move || {
                    let topic = state.reply.get().settings.topic;
                    if topic.is_empty() {
                        view! { <p class="muted" aria-labelledby="reply-topic-label">"None yet: one is made when you turn this on."</p> }.into_any()
                    } else {
                        view! { <p><code class="reply-topic" aria-labelledby="reply-topic-label">{topic}</code></p> }.into_any()
                    }
                }}
                {error_for("topic")}
                <div class="actions">
                    <button type="button" on:click=copy disabled=move || state.reply.get().settings.topic.is_empty()>"Copy topic"</button>
                    <button type="button" on:click=move |_| save(true, false) disabled=busy>"New topic"</button>
                </div>
            </div>
            <div class="field">
                <span class="label">"Signing key"</span>
                <p class="muted">
                    {move || if state.reply.get().has_key { "A 256-bit key is kept in this browser. It goes into a backup only when you include secrets." } else { "No key yet: one is made when you turn this on." }}
                </p>
                {error_for("key")}
                <div class="actions">
                    <button type="button" on:click=move |_| save(false, true) disabled=busy>"New signing key"</button>
                </div>
            </div>
            <div class="actions">
                <button type="button" class="primary" on:click=move |_| save(false, false) disabled=busy>"Save reply channel"</button>
            </div>
            <Outcome message=message/>
            <p class="reply-status" role="status">{move || listening(&state)}</p>
            <ReplyTally/>
        </section>
    }
}

/// What the reply channel does, and who can send to it.
#[component]
fn ReplyIntro() -> impl IntoView {
    view! {
            <p class="muted">
                "When this is on, every page to a person carries a one-tap Acknowledge: a button in the ntfy app, and a link in Slack, Teams, Discord, webhooks and notifications. "
                "The phone sends a signed acknowledgement to a reply topic on ntfy; the clock listens there and applies it at the time ntfy received it."
            </p>
            <p class="warning-note">
                "Anyone who knows the reply topic can send to it. Only acknowledgements signed with this team's key are accepted, each once, within 24 hours of the page. "
                "On ntfy.sh every topic is public to whoever knows its name: a self-hosted ntfy with access control keeps the topic private."
            </p>
    }
}

/// How many acknowledgements were applied and refused, and the last refusals.
#[component]
fn ReplyTally() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
            {move || {
                let view = state.reply.get();
                let s = view.state;
                let refusals: Vec<_> = s.refusals.iter().rev().map(|r| {
                    let line = format!("{} — {}{}", r.at.format("%Y-%m-%d %H:%M:%S UTC"), r.why.words(), if r.detail.is_empty() { String::new() } else { format!(": {}", r.detail) });
                    view! { <li>{line}</li> }
                }).collect();
                view! {
                    <p class="muted reply-counts">{format!("Acknowledgements applied: {} · refused: {}", s.accepted, s.refused_total())}</p>
                    <Show when={let empty = refusals.is_empty(); move || !empty}>
                        <h3>"Last refusals"</h3>
                    </Show>
                    <ul class="reply-refusals">{refusals}</ul>
                }
            }}
    }
}

/// Whether the clock listens to the reply topic, in words.
fn listening(state: &AppState) -> String {
    let view = state.reply.get();
    if !view.settings.enabled {
        return "Off: pages carry no acknowledgement links.".into();
    }
    let Some(clock) = state.clock.get() else { return "Starting…".into() };
    match (clock.role, clock.reply) {
        (Role::Follower, _) => format!("The clock's tab listens on {}.", view.server),
        (_, ReplyLink::Listening { since }) => format!("Listening on {} (last heard {} ago).", view.server, span(clock.now - since)),
        (_, ReplyLink::Unreachable { error, at }) => {
            format!("Cannot reach {}: {error} ({} ago). Trying again; acknowledgements wait there for 12 hours.", view.server, span(clock.now - at))
        }
        (_, ReplyLink::Connecting) => format!("Connecting to {}…", view.server),
        (_, ReplyLink::Off) => "Not listening yet.".into(),
    }
}
