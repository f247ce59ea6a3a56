//! Settings → Team sync: the CouchDB database this team shares, sign-in, this device's name,
//! "Test connection" (and "Create the database" when it is missing), how the last round went,
//! what waits, and conflicts with "Keep mine" / "Keep theirs".

use leptos::prelude::*;

use super::command::{use_command_then, use_task, CommandHook, Outcome};
use super::state::AppState;
use crate::runtime::command::Command;
use crate::runtime::team_sync::{ConflictView, SyncAuth, SyncSettings};

#[component]
pub fn TeamSyncSettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let enabled = RwSignal::new(false);
    let server = RwSignal::new(String::new());
    let database = RwSignal::new(String::new());
    let auth = RwSignal::new("none".to_string());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let device = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let missing_db = RwSignal::new(false);
    // The form follows what is stored (after a save, a restore, or another tab's change) — only
    // when that changes, not on every snapshot, so a sync round never wipes what is being typed.
    let stored = Memo::new(move |_| state.team.get().settings);
    Effect::new(move |_| {
        let s = stored.get();
        enabled.set(s.enabled);
        server.set(s.server);
        database.set(if s.database.is_empty() { "piket".into() } else { s.database });
        auth.set(
            match s.auth {
                SyncAuth::None => "none",
                SyncAuth::Basic => "basic",
                SyncAuth::Cookie => "cookie",
            }
            .into(),
        );
        username.set(s.username);
        password.set(s.password);
        device.set(s.device);
    });
    let form = move || SyncSettings {
        enabled: enabled.get_untracked(),
        server: server.get_untracked().trim().to_string(),
        database: database.get_untracked().trim().to_string(),
        auth: match auth.get_untracked().as_str() {
            "basic" => SyncAuth::Basic,
            "cookie" => SyncAuth::Cookie,
            _ => SyncAuth::None,
        },
        username: username.get_untracked(),
        password: password.get_untracked(),
        device: device.get_untracked(),
    };
    let command = use_command_then(move |reply| message.set(Some(reply.clone().map(|d| d.message).map_err(|e| e.message))));
    let test = use_task(move |s: SyncSettings| async move { state.test_team_sync(s).await });
    let create = use_task(move |s: SyncSettings| async move { state.create_team_database(s).await });
    Effect::new(move |_| {
        if let Some(r) = test.value().get() {
            missing_db.set(matches!(&r, Err((_, true))));
            message.set(Some(r.map_err(|(m, _)| m)));
        }
    });
    Effect::new(move |_| {
        if let Some(r) = create.value().get() {
            if r.is_ok() {
                missing_db.set(false);
            }
            message.set(Some(r));
        }
    });
    let busy = move || command.pending() || test.pending().get() || create.pending().get();
    let error_for = move |field: &'static str| {
        move || command.refusal().filter(|r| r.field.as_deref() == Some(field)).map(|r| view! { <p class="error field-error" role="alert">{r.message}</p> })
    };
    let signs_in = move || auth.get() != "none";

    view! {
        <section class="card form-stack team-sync" aria-labelledby="team-sync-title">
            <h2 id="team-sync-title">"Team sync"</h2>
            <p class="muted">
                "Share people, schedules, policies, rules and channels with the team's other devices through a CouchDB database "
                "(or PouchDB Server, Cloudant). Everything stays on this device too, and works offline; off, nothing leaves it."
            </p>
            <label class="check">
                <input type="checkbox" bind:checked=enabled />
                " Sync with the team's database"
            </label>
            <div class="field">
                <label for="sync-server">"Server"</label>
                <input id="sync-server" type="url" inputmode="url" autocomplete="off" bind:value=server placeholder="https://couch.example.com" />
                {error_for("server")}
            </div>
            <div class="field">
                <label for="sync-database">"Database"</label>
                <input id="sync-database" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" bind:value=database />
                {error_for("database")}
            </div>
            <div class="field">
                <label for="sync-auth">"Sign-in"</label>
                <select id="sync-auth" prop:value=move || auth.get() on:change=move |ev| auth.set(event_target_value(&ev))>
                    <option value="none">"None"</option>
                    <option value="basic">"User name and password (basic)"</option>
                    <option value="cookie">"User name and password (session cookie)"</option>
                </select>
            </div>
            <Show when=signs_in>
                <div class="field">
                    <label for="sync-user">"User name"</label>
                    <input id="sync-user" type="text" autocomplete="username" autocapitalize="none" bind:value=username />
                    {error_for("username")}
                </div>
                <div class="field">
                    <label for="sync-password">"Password"</label>
                    <input id="sync-password" type="password" autocomplete="current-password" bind:value=password />
                </div>
            </Show>
            <div class="field">
                <label for="sync-device">"This device's name"</label>
                <input id="sync-device" type="text" autocomplete="off" bind:value=device placeholder="Ops desk" />
                {error_for("device")}
            </div>
            <div class="actions">
                <button type="button" class="primary" aria-label="Save team sync" on:click=move |_| command.dispatch(Command::SetTeamSync { settings: form() }) disabled=busy>"Save"</button>
                <button type="button" on:click=move |_| { message.set(None); test.dispatch(form()); } disabled=busy>"Test connection"</button>
                <Show when=move || missing_db.get()>
                    <button type="button" on:click=move |_| { create.dispatch(form()); } disabled=busy>"Create the database"</button>
                </Show>
            </div>
            <Outcome message=message/>
            <SyncStatus/>
        </section>
    }
}

/// How the last round went, what waits and what conflicts.
#[component]
fn SyncStatus() -> impl IntoView {
    let state = expect_context::<AppState>();
    let team = state.team;
    // Made once for the screen, not per card: a card rebuilt by a snapshot must not drop the
    // command its button started.
    let keep = use_command_then(|_| {});
    let conflicts = Memo::new(move |_| {
        let t = team.get();
        if t.settings.enabled {
            t.conflicts
        } else {
            Vec::new()
        }
    });
    view! {
        <div class="sync-status" aria-live="polite">
            {move || {
                let t = team.get();
                if !t.settings.enabled {
                    return None;
                }
                let line = match (&t.error, t.last_sync) {
                    (Some(e), _) => view! { <p class="error" role="alert">"Not synced: " {e.clone()}</p> }.into_any(),
                    (None, Some(at)) => {
                        let at = at.with_timezone(&chrono::Local).format("%H:%M:%S").to_string();
                        view! { <p class="ok">{format!("In sync: {} shared records; last change synced at {at}.", t.documents)}</p> }.into_any()
                    }
                    (None, None) => view! { <p class="muted">"Not synced yet."</p> }.into_any(),
                };
                Some(line)
            }}
            {move || {
                let waiting = team.get().waiting;
                (!waiting.is_empty()).then(|| view! {
                    <h3>"Waiting to apply here"</h3>
                    <ul class="sync-waiting">
                        {waiting.into_iter().map(|(what, why)| view! { <li><strong>{what}</strong>": "{why}</li> }).collect_view()}
                    </ul>
                })
            }}
            {move || {
                (!conflicts.get().is_empty()).then(|| view! {
                    <h3>"Conflicts"</h3>
                    <p class="muted">"Two devices changed these at once. The version marked “in use” applies on every device; keep the other one instead if it is right."</p>
                })
            }}
            // Keyed by document and versions: a snapshot that changes nothing else leaves each card
            // (and the button being pressed) in place.
            <For each=move || conflicts.get() key=|c| (c.doc.clone(), c.versions.iter().map(|v| v.rev.to_string()).collect::<Vec<_>>()) let:c>
                <ConflictCard conflict=c keep=keep/>
            </For>
            // Outside the cards: "Kept." stays once its card is gone.
            <Outcome message=Signal::derive(move || keep.words())/>
        </div>
    }
}

#[component]
fn ConflictCard(conflict: ConflictView, keep: CommandHook) -> impl IntoView {
    let doc = conflict.doc.clone();
    let label = conflict.label.clone();
    view! {
        <article class="conflict" aria-label=format!("Conflict: {label}")>
            <h4>{label.clone()}</h4>
            {conflict.versions.into_iter().map(|v| {
                let whose = if v.mine { "Mine" } else { "Theirs" };
                let title = format!("{whose}{}", if v.winner { " (in use)" } else { "" });
                let command = Command::KeepVersion { doc: doc.clone(), rev: v.rev.to_string() };
                let name = format!("Keep {} for {label}", whose.to_lowercase());
                view! {
                    <div class="version">
                        <p><strong>{title}</strong></p>
                        <pre class="version-text">{v.text}</pre>
                        <button type="button" aria-label=name on:click=move |_| keep.dispatch(command.clone()) disabled=move || keep.pending()>
                            {format!("Keep {}", whose.to_lowercase())}
                        </button>
                    </div>
                }
            }).collect_view()}
        </article>
    }
}
