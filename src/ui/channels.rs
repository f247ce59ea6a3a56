//! Channels: where posts go (ntfy, Slack, Teams, Discord, any JSON webhook), with a message
//! preview and a test send; the ntfy server for people's topics; and failed deliveries, each with
//! a Retry button.

use leptos::prelude::*;

use crate::ui::command::Alert;

use super::command::{use_command, use_task, Outcome};
use super::editor::{use_editor, Draft};
use super::policies::fields::{ChoiceField, Problems, TextField};
use super::state::AppState;
use crate::delivery::{self, ChannelConfig, ChannelKind, Event, Message, PLACEHOLDERS};
use crate::engine::world::Channel;
use crate::runtime::command::{Command, ConfigKind};
use crate::runtime::outbox::{channel_config, DeliverySettings};
use crate::runtime::view::{DeliveryRow, DeliveryStatus};

const KINDS: [(&str, &str); 5] =
    [("ntfy", "ntfy"), ("slack", "Slack"), ("teams", "Microsoft Teams"), ("discord", "Discord"), ("generic", "Generic JSON webhook")];
const PHASES: [(&str, &str); 6] = [
    ("", "Any phase (posted to when a policy names it)"),
    ("critical", "Critical (SEV1/SEV2 detected)"),
    ("war_room", "War room (active work)"),
    ("leadership", "Leadership (management updates)"),
    ("comms", "Comms (customer communication)"),
    ("retro", "Retro (post-incident review)"),
];

#[derive(Clone, Copy, Default)]
struct ChannelForm {
    id: RwSignal<String>,
    name: RwSignal<String>,
    kind: RwSignal<String>,
    /// Typed URL; empty while editing means "keep the saved one".
    address: RwSignal<String>,
    saved_address: RwSignal<String>,
    topic: RwSignal<String>,
    phase: RwSignal<String>,
    template: RwSignal<String>,
}

impl ChannelForm {
    fn new() -> Self {
        ChannelForm { kind: RwSignal::new("slack".into()), ..Default::default() }
    }

    fn clear(self) {
        self.fill(&Channel {
            id: Default::default(),
            name: String::new(),
            phase: None,
            address: String::new(),
            kind: "slack".into(),
            topic: String::new(),
            template: String::new(),
        });
    }

    fn draft(self) -> Channel {
        let typed = self.address.get().trim().to_string();
        Channel {
            id: self.id.get().into(),
            name: self.name.get().trim().to_string(),
            phase: crate::json::from_value(serde_json::Value::String(self.phase.get())).ok(),
            address: if typed.is_empty() { self.saved_address.get() } else { typed },
            kind: self.kind.get(),
            topic: self.topic.get().trim().to_string(),
            template: self.template.get(),
        }
    }
}

impl Draft for ChannelForm {
    type Record = Channel;

    fn fill(self, c: &Channel) {
        self.id.set(c.id.to_string());
        self.name.set(c.name.clone());
        self.kind.set(c.kind.clone());
        self.address.set(String::new());
        self.saved_address.set(c.address.clone());
        self.topic.set(c.topic.clone());
        self.phase.set(c.phase.map(phase_value).unwrap_or_default());
        self.template.set(c.template.clone());
    }

    fn record(self) -> Result<Channel, Problems> {
        let draft = self.draft();
        channel_config(&draft).map(|_| draft).map_err(|e| vec![(String::new(), e)])
    }
}

fn choices(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(v, l)| (v.to_string(), l.to_string())).collect()
}

fn phase_value(p: crate::engine::world::Phase) -> String {
    serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("Webhook", |(_, l)| l)
}

/// A sample page, for the preview.
fn sample(origin: &str) -> Message {
    Message {
        event: Event::Paged,
        incident_id: "example".into(),
        title: "Checkout error rate above 5%".into(),
        summary: "Payments API returns 502 for a third of requests.".into(),
        severity: Default::default(),
        status: Default::default(),
        service: "payments".into(),
        url: format!("{origin}/#/incidents/example"),
        level: Some(1),
        person: Some("Alice".into()),
        at: chrono::DateTime::from_timestamp(1_764_122_400, 0).unwrap_or_default(),
        acks: Vec::new(),
    }
}

fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

#[component]
pub fn ChannelsScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let form = ChannelForm::new();
    let failed = Memo::new(move |_| state.outbox.with(|rows| rows.iter().filter(|r| r.status == DeliveryStatus::Failed).cloned().collect::<Vec<_>>()));

    view! {
        <section class="screen channels">
            <h1>"Channels"</h1>
            <p class="lede">"Where Piket posts: chat rooms and webhooks. People are paged on their own ntfy topic or webhook (see People) and by notification on this device."</p>

            <section class="card" aria-labelledby="failed-title">
                <h2 id="failed-title">"Failed deliveries"</h2>
                <Show when=move || !failed.get().is_empty() fallback=|| view! { <p class="muted">"None: every page and post so far was delivered or is still being tried."</p> }>
                    <ul class="failed-list">
                        <For each=move || failed.get() key=|r| (r.key.clone(), r.attempts, r.failed_words.clone()) let:row>
                            <FailedRow row=row />
                        </For>
                    </ul>
                </Show>
            </section>

            <ul class="channel-list" aria-label="Channels">
                <For each=move || state.world.get().channels key=|c| format!("{c:?}") let:channel>
                    <ChannelRow channel=channel form=form />
                </For>
            </ul>
            <Show when=move || state.world.with(|w| w.channels.is_empty())>
                <div class="empty-state"><p>"No channels yet. Add the Slack, Teams or Discord room where incidents are announced, or an ntfy topic the whole team follows."</p></div>
            </Show>

            <ChannelEditor form=form/>
            <NtfyServerForm/>
        </section>
    }
}

/// What a channel as drafted is sent for a sample page: the message, the body, and how it is sent.
fn channel_preview(draft: Channel) -> (String, String, String) {
    let config = ChannelConfig {
        kind: crate::json::from_value(serde_json::Value::String(draft.kind.clone())).unwrap_or(ChannelKind::Generic),
        url: if draft.address.is_empty() { "https://example.invalid/hook".into() } else { draft.address.clone() },
        topic: Some(if draft.topic.is_empty() { "topic".into() } else { draft.topic.clone() }),
        template: (!draft.template.is_empty()).then(|| draft.template.clone()),
        no_cors: false,
    };
    if let Some(t) = config.template.as_deref() {
        if let Err(e) = delivery::validate_template(t) {
            return (format!("Template: {e}"), String::new(), String::new());
        }
    }
    let spec = delivery::request(&config, &sample(&origin()));
    let body = serde_json::from_str::<serde_json::Value>(&spec.body).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(spec.body.clone());
    let note = if spec.status_readable() {
        "Sent as JSON; the answer is checked and failures are retried.".to_string()
    } else {
        "Sent as a simple request (no-cors): it arrives, but a web page cannot read the answer, so the delivery log says “unverified”.".to_string()
    };
    (delivery::message_text(&config, &sample(&origin())), body, note)
}

/// Add or edit a channel, with a preview of what it is sent and a test send.
#[component]
fn ChannelEditor(form: ChannelForm) -> impl IntoView {
    let state = expect_context::<AppState>();
    let test = use_task(move |draft: Channel| async move { state.test_channel(draft).await });
    let editor = use_editor(form, "", move |editor, _| {
        editor.reset();
        test.clear();
        form.clear();
    });
    // The draft's problem once a save was tried, else the runtime's refusal, in its words.
    let error = move || {
        let draft = if editor.tried.get() { editor.checked.get().err() } else { None };
        draft.map(|p| p.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("\n")).or_else(|| editor.save.error())
    };
    let test_result = move || if test.pending().get() { Some(Ok("Sending…".to_string())) } else { test.value().get() };
    let editing = move || !form.id.get().is_empty();
    let preview = move || channel_preview(form.draft());
    let send_test = move |_| {
        test.dispatch_local(form.draft());
    };

    view! {
            <form class="card form" on:submit=editor.on_submit() novalidate aria-labelledby="channel-form-title">
                <h2 id="channel-form-title">{move || if editing() { "Edit channel" } else { "Add a channel" }}</h2>
                <TextField id="channel-name" label="Channel name" value=form.name/>
                <ChoiceField id="channel-kind" label="Kind" options=choices(&KINDS) value=form.kind/>
                <div class="field">
                    <label for="channel-url">{move || if form.kind.get() == "ntfy" { "ntfy server" } else { "Webhook URL" }}</label>
                    <input id="channel-url" type="url" autocomplete="off" bind:value=form.address
                        placeholder=move || if form.saved_address.get().is_empty() { String::new() } else { format!("{} (unchanged; type to replace)", delivery::mask_url(&form.saved_address.get())) } />
                </div>
                <Show when=move || form.kind.get() == "ntfy">
                    <TextField id="channel-topic" label="ntfy topic" value=form.topic/>
                </Show>
                <ChoiceField id="channel-phase" label="Phase" options=choices(&PHASES) value=form.phase/>
                <div class="field wide">
                    <label for="channel-template">"Message template"</label>
                    <textarea id="channel-template" rows="2" bind:value=form.template
                        placeholder="Empty: Piket's wording. Example: {{severity}} {{title}} — {{url}}"></textarea>
                    <p class="muted small">"Placeholders: " {PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect::<Vec<_>>().join(" ")}</p>
                </div>
                <div class="field wide preview" aria-live="polite">
                    <span class="label">"Preview"</span>
                    <p class="preview-text">{move || preview().0}</p>
                    <pre class="preview-body">{move || preview().1}</pre>
                    <p class="muted small">{move || preview().2}</p>
                </div>
                <Show when=move || error().is_some()>
                    <p class="error" role="alert">{error}</p>
                </Show>
                <Outcome message=Signal::derive(test_result)/>
                <div class="actions">
                    <button type="submit" class="primary" prop:disabled=move || editor.save.pending()>{move || if editing() { "Save changes" } else { "Save channel" }}</button>
                    <button type="button" on:click=send_test>"Send test"</button>
                    <Show when=editing>
                        <button type="button" on:click=move |_| { form.clear(); editor.reset(); test.clear(); }>"Cancel edit"</button>
                    </Show>
                </div>
            </form>

    }
}

/// The ntfy server people's topics are paged through.
#[component]
fn NtfyServerForm() -> impl IntoView {
    let state = expect_context::<AppState>();
    // The field follows what is stored (after a save, a restore, or another tab's change).
    let ntfy_server = RwSignal::new(state.delivery.get_untracked().ntfy_server);
    Effect::new(move |_| ntfy_server.set(state.delivery.get().ntfy_server));
    let save = use_command();
    let save_delivery = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let settings = DeliverySettings { ntfy_server: ntfy_server.get_untracked().trim().to_string(), ..state.delivery.get_untracked() };
        save.dispatch(Command::SetDeliverySettings { settings });
    };
    view! {
            <form class="card form-stack" on:submit=save_delivery aria-labelledby="ntfy-title">
                <h2 id="ntfy-title">"ntfy for people"</h2>
                <p class="muted">"People with an ntfy topic are paged through this server (the ntfy app on their phone subscribes to their topic)."</p>
                <div class="field">
                    <label for="ntfy-server">"ntfy server"</label>
                    <input id="ntfy-server" type="url" bind:value=ntfy_server />
                </div>
                <div class="actions"><button type="submit">"Save ntfy server"</button></div>
                <Outcome message=Signal::derive(move || save.words())/>
            </form>
    }
}

#[component]
fn ChannelRow(channel: Channel, form: ChannelForm) -> impl IntoView {
    let removal = use_command();
    let name = if channel.name.is_empty() { channel.id.to_string() } else { channel.name.clone() };
    let phase = channel.phase.map(phase_value).and_then(|p| PHASES.iter().find(|(v, _)| *v == p).map(|(_, l)| *l));
    let edit = channel.clone();
    let id = channel.id.to_string();
    view! {
        <li class="card channel">
            <div>
                <strong>{name.clone()}</strong>
                <span class="muted">" · "{kind_label(&channel.kind)}</span>
                <div class="muted small">{delivery::mask_url(&channel.address)}{(!channel.topic.is_empty()).then(|| format!(" · topic {}", delivery::mask_secret(&channel.topic)))}</div>
                {phase.map(|p| view! { <div class="muted small">{p}</div> })}
            </div>
            <div class="actions">
                <button type="button" aria-label=format!("Edit {name}") on:click=move |_| form.fill(&edit)>"Edit"</button>
                <button type="button" aria-label=format!("Remove {name}") on:click=move |_| removal.dispatch(Command::Remove { kind: ConfigKind::Channel, id: id.clone() })>"Remove"</button>
            </div>
            <Alert message=Signal::derive(move || removal.error())/>
        </li>
    }
}

#[component]
fn FailedRow(row: DeliveryRow) -> impl IntoView {
    let state = expect_context::<AppState>();
    let title =
        state.incidents.with(|list| list.iter().find(|i| i.id == row.incident).map(|i| i.details.title.clone())).unwrap_or_else(|| row.incident.to_string());
    let key = row.key.clone();
    let retry = use_command();
    let href = format!("/incidents/{}", row.incident);
    // Who or what it was for, which way, how many attempts and why it stopped, in words.
    let words = row.failed_words.clone();
    view! {
        <li class="failed">
            <a href=href>{title.clone()}</a>
            <span class="muted small">" · "{words}</span>
            <button type="button" aria-label=format!("Retry delivery for {title}") on:click=move |_| retry.dispatch(Command::RetryDelivery { key: key.clone() })>"Retry"</button>
        </li>
    }
}
