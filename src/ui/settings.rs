//! Settings: the clock, notifications, acknowledgements from phones, storage, backup and restore.

use leptos::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::clock::span;
use super::command::{use_command_then, use_task, Outcome};
use super::download::download;
use super::state::AppState;
use crate::runtime::command::Command;
use crate::runtime::live::Role;

/// The text of the file chosen in an `<input type=file>`.
async fn chosen_file_text(input: &web_sys::HtmlInputElement) -> Result<String, String> {
    let file = input.files().and_then(|f| f.get(0)).ok_or("Choose a file first.")?;
    let text = JsFuture::from(file.text()).await.map_err(|_| "The file could not be read.")?;
    text.as_string().ok_or_else(|| "The file could not be read as text.".into())
}

#[component]
pub fn SettingsScreen() -> impl IntoView {
    view! {
        <section class="screen settings">
            <h1>"Settings"</h1>

            <ClockCard/>

            <NotificationSettings/>

            <super::reply::ReplyChannelSettings/>
            <super::team_sync::TeamSyncSettings/>

            <StorageCard/>

            <BackupCard/>

            <AuditCard/>
        </section>
    }
}

/// Whether this tab keeps the clock, and where its ticks come from.
#[component]
fn ClockCard() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
            <section class="card" aria-labelledby="clock-title">
                <h2 id="clock-title">"Escalation clock"</h2>
                {move || state.clock.get().map(|c| {
                    let role = match c.role {
                        Role::Leader => "This tab keeps the clock: it fires escalations and sends pages.",
                        Role::Follower => "Another tab of this browser keeps the clock; this one shows the same incidents and passes your actions to it.",
                        Role::Starting => "Starting…",
                        Role::Safe => "Safe mode: this tab keeps no clock and sends nothing. Export, restore a good backup or fix what went wrong, then reload Piket without “?safe=1”.",
                    };
                    let ticks = if c.uses_worker { "Ticks come from a background worker (not slowed down when the tab is hidden)." } else { "Ticks come from page timers (a hidden tab may only wake once a minute)." };
                    let last = c.last_run.map(|t| format!("Last run: {} ago.", span(c.now - t))).unwrap_or_default();
                    view! { <p>{role}</p><p class="muted">{ticks}" "{last}</p> }
                })}
            </section>
    }
}

/// Whether the browser keeps Piket's data, and how much room it takes.
#[component]
fn StorageCard() -> impl IntoView {
    let state = expect_context::<AppState>();
    let storage = LocalResource::new(move || async move { state.storage_info().await });
    view! {
            <section class="card" aria-labelledby="storage-title">
                <h2 id="storage-title">"Storage"</h2>
                <Suspense fallback=|| view! { <p class="muted">"Reading storage…"</p> }>
                    {move || storage.get().map(|info| match info {
                        Some(info) => view! { <p class="storage-persisted">{info.persisted_words()}</p><p class="muted">{info.usage_words()}</p> }.into_any(),
                        None => view! { <p class="muted">"Starting…"</p> }.into_any(),
                    })}
                </Suspense>
            </section>
    }
}

/// Download a backup, restore one (after a confirmation), import policies.
#[component]
fn BackupCard() -> impl IntoView {
    let state = expect_context::<AppState>();
    let include_secrets = RwSignal::new(false);
    let backup_message = RwSignal::new(None::<Result<String, String>>);
    let pending_restore = RwSignal::new(None::<String>);
    let restore_input = NodeRef::<leptos::html::Input>::new();
    let policies_input = NodeRef::<leptos::html::Input>::new();

    let export = use_task(move |include: bool| async move {
        let result = match state.export(include).await {
            Ok(text) => {
                let name = format!("piket-backup-{}.json", state.now.get_untracked().format("%Y-%m-%d"));
                download(&name, "application/json", &text).map(|_| format!("Backup saved as {name}."))
            }
            Err(e) => Err(e),
        };
        backup_message.set(Some(result));
    });
    let read_restore = use_task(move |input: web_sys::HtmlInputElement| async move {
        match chosen_file_text(&input).await {
            Ok(text) => {
                backup_message.set(None);
                pending_restore.set(Some(text));
            }
            Err(e) => backup_message.set(Some(Err(e))),
        }
    });
    let restore = use_command_then(move |reply| backup_message.set(Some(reply.clone().map(|d| d.message).map_err(|e| e.message))));
    let import = use_task(move |input: web_sys::HtmlInputElement| async move {
        let result = match chosen_file_text(&input).await {
            Ok(file) => state.run(Command::ImportPolicies { file }).await.map(|d| d.message).map_err(|e| e.message),
            Err(e) => Err(e),
        };
        backup_message.set(Some(result));
    });
    let on_download = move |_| {
        export.dispatch_local(include_secrets.get_untracked());
    };
    let on_restore_chosen = move |_| {
        if let Some(input) = restore_input.get() {
            read_restore.dispatch_local(input);
        }
    };
    let on_restore_confirm = move |_| {
        if let Some(file) = pending_restore.get_untracked() {
            pending_restore.set(None);
            restore.dispatch(Command::Restore { file });
        }
    };
    let on_policies_chosen = move |_| {
        if let Some(input) = policies_input.get() {
            import.dispatch_local(input);
        }
    };

    view! {
            <section class="card form-stack" aria-labelledby="backup-title">
                <h2 id="backup-title">"Backup and restore"</h2>
                <p class="muted">"One JSON file with people, schedules, policies, rules, channels, incidents and their timelines."</p>
                <label class="check">
                    <input type="checkbox" bind:checked=include_secrets />
                    " Include webhook URLs (they are secrets: keep such a file safe)"
                </label>
                <div class="actions">
                    <button type="button" class="primary" on:click=on_download>"Download backup"</button>
                </div>
                <div class="field">
                    <label for="restore-file">"Restore from backup"</label>
                    <input id="restore-file" type="file" accept="application/json,.json" node_ref=restore_input on:change=on_restore_chosen />
                </div>
                <Show when=move || pending_restore.get().is_some()>
                    <div class="confirm-box" role="alertdialog" aria-labelledby="restore-confirm-text">
                        <p id="restore-confirm-text">"Replace everything on this device with this backup? Incidents and settings here now will be gone."</p>
                        <div class="actions">
                            <button type="button" class="danger" on:click=on_restore_confirm>"Replace everything"</button>
                            <button type="button" on:click=move |_| pending_restore.set(None)>"Cancel"</button>
                        </div>
                    </div>
                </Show>
                <div class="field">
                    <label for="policies-file">"Import policies"</label>
                    <input id="policies-file" type="file" accept="application/json,.json" node_ref=policies_input on:change=on_policies_chosen />
                </div>
                <Outcome message=backup_message/>
            </section>
    }
}

/// Honest words about what this browser can do with notifications.
fn platform_note() -> &'static str {
    let ua = web_sys::window().and_then(|w| w.navigator().user_agent().ok()).unwrap_or_default();
    let ios = ua.contains("iPhone") || ua.contains("iPad");
    let safari = ua.contains("Safari") && !ua.contains("Chrome") && !ua.contains("Chromium") && !ua.contains("Android");
    if ios {
        "On iPhone and iPad, notifications work only after “Add to Home Screen” (iOS 16.4 or later), and they have no Acknowledge button: tap to open the incident."
    } else if safari {
        "Safari shows notifications without action buttons: tap a notification to open the incident and acknowledge there."
    } else {
        "Notifications carry an Acknowledge button; tapping the notification opens the incident."
    }
}

#[component]
fn NotificationSettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let permission = RwSignal::new(state.notification_permission());
    Effect::new(move |_| {
        // The runtime starts after the first render: read the permission again once it has.
        if state.clock.get().is_some() {
            permission.set(state.notification_permission());
        }
    });
    let ask = use_task(move |()| async move { permission.set(state.request_notification_permission().await) });
    let send = use_task(move |()| async move { state.test_notification().await.map(|_| "Test notification sent.".to_string()) });
    let allow = move |_| {
        ask.dispatch_local(());
    };
    let test = move |_| {
        send.dispatch_local(());
    };
    view! {
        <section class="card form-stack" aria-labelledby="notify-title">
            <h2 id="notify-title">"Notifications"</h2>
            <p>"The tab that keeps the clock shows every page as a notification on this device, so a desk machine rings even when Piket is in the background. Phones are best reached through ntfy (set a topic on each person)."</p>
            <p class="muted">{platform_note()}</p>
            <p class="notify-permission">{move || match permission.get().as_str() {
                "granted" => "Notifications are allowed on this device.",
                "denied" => "Notifications are blocked for Piket. Allow them in the browser's site settings (the icon left of the address), then reload.",
                "unsupported" => "This browser cannot show notifications.",
                _ => "Notifications are not allowed yet.",
            }}</p>
            <div class="actions">
                <Show when=move || permission.get() == "default">
                    <button type="button" class="primary" on:click=allow>"Allow notifications"</button>
                </Show>
                <button type="button" on:click=test disabled=move || permission.get() != "granted">"Send test notification"</button>
            </div>
            <Outcome message=send.value()/>
        </section>
    }
}

/// "Export audit log": every incident's timeline, hot and archived, as the hash-chained JSON
/// Lines that `piket audit verify` checks, with the links stored beside each entry.
#[component]
fn AuditCard() -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<Result<String, String>>);
    let export = use_task(move |_: ()| async move {
        let result = match state.audit_log().await {
            Ok(text) => {
                let name = format!("piket-audit-{}.jsonl", state.now.get_untracked().format("%Y-%m-%d"));
                // Said at once when what is stored no longer holds (edited after it was written).
                let said = match crate::audit::verify(&text) {
                    Ok(sum) => format!("The audit log of {} incidents ({} entries) saved as {name}; last chain head {}.", sum.incidents, sum.entries, sum.head),
                    Err(broken) => format!("The audit log was saved as {name}, but a stored entry no longer matches its link: {broken}."),
                };
                download(&name, "application/jsonl", &text).map(|_| said)
            }
            Err(e) => Err(e),
        };
        message.set(Some(result));
    });
    view! {
        <section class="card form-stack" aria-labelledby="audit-title">
            <h2 id="audit-title">"Audit log"</h2>
            <p class="muted">"Every timeline entry of every incident, each linked to the one before by its SHA-256, with a chain head for each day. Check a file with “piket audit verify FILE”."</p>
            <div class="actions">
                <button type="button" on:click=move |_| { export.dispatch_local(()); } disabled=move || export.pending().get()>"Export audit log"</button>
            </div>
            <Outcome message=message/>
        </section>
    }
}
