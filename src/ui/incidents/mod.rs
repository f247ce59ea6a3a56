//! The incident screens: the list (`/`, `/incidents`), intake (`/new`: the form, a pasted alert,
//! an intake link) and the incident page (`/incidents/:id`, the one a phone opens from a page).
//!
//! Owns: the words screens use for severities, statuses and timeline entries; "who am I on this
//! device" (kept in `localStorage`, so a phone acknowledges in one tap); read-only previews
//! computed by running the pure engine on a throwaway copy (what a new incident would page, who is
//! paged next). Never: changes anything except through [`AppState::run`].

mod list;
mod new;
mod page;
mod retro;

pub use list::IncidentList;
pub use new::NewIncident;
pub use page::IncidentPage;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::route::Route;

use super::state::AppState;
use crate::engine::escalation::{Escalation, Stage};
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::{Actor, EntryKind, Incident, Severity, Status};

/// Where the chosen "me" (a person id) is kept on this device.
const ME_KEY: &str = "piket.me";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The person this device acts as, as stored; empty when none was chosen.
pub fn stored_me() -> String {
    local_storage().and_then(|s| s.get_item(ME_KEY).ok().flatten()).unwrap_or_default()
}

/// Remember (or forget, with an empty id) who this device acts as.
pub fn store_me(id: &str) {
    if let Some(s) = local_storage() {
        let _ = if id.is_empty() { s.remove_item(ME_KEY) } else { s.set_item(ME_KEY, id) };
    }
}

/// A signal of "me", read from this device and written back on every change.
pub fn use_me() -> RwSignal<String> {
    let me = RwSignal::new(stored_me());
    Effect::new(move |_| store_me(&me.get()));
    me
}

/// "me", when it names someone who exists.
pub fn known_me(state: AppState, me: &str) -> Option<PersonId> {
    (!me.is_empty() && state.world.with(|w| w.person(me).is_some())).then(|| me.into())
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Sev1 => "SEV1 critical",
        Severity::Sev2 => "SEV2 high",
        Severity::Sev3 => "SEV3 medium",
        Severity::Sev4 => "SEV4 low",
    }
}

pub fn severity_short(s: Severity) -> &'static str {
    ["SEV1", "SEV2", "SEV3", "SEV4"][s as usize]
}

pub fn parse_severity(s: &str) -> Option<Severity> {
    Severity::ALL.into_iter().find(|x| x.as_str() == s)
}

pub const STATUSES: [Status; 6] = [Status::New, Status::Triage, Status::Acknowledged, Status::Investigating, Status::Mitigating, Status::Resolved];

pub fn status_label(s: Status) -> &'static str {
    match s {
        Status::New => "New",
        Status::Triage => "Triage",
        Status::Acknowledged => "Acknowledged",
        Status::Investigating => "Investigating",
        Status::Mitigating => "Mitigating",
        Status::Resolved => "Resolved",
    }
}

pub fn parse_status(s: &str) -> Option<Status> {
    STATUSES.into_iter().find(|x| x.as_str() == s)
}

/// A timeline entry's kind in words.
pub fn kind_words(k: EntryKind) -> &'static str {
    match k {
        EntryKind::Opened => "Opened",
        EntryKind::AlertFolded => "Alert folded in",
        EntryKind::RuleApplied => "Rule applied",
        EntryKind::Suppressed => "Suppressed",
        EntryKind::MaintenanceEnded => "Maintenance ended",
        EntryKind::Escalated => "Escalated",
        EntryKind::Paged => "Paged",
        EntryKind::Posted => "Posted",
        EntryKind::LevelSkipped => "Level skipped",
        EntryKind::LoopStarted => "Loop started",
        EntryKind::EscalationStopped => "Escalation stopped",
        EntryKind::CheckpointWaiting => "Checkpoint waiting",
        EntryKind::CheckpointConfirmed => "Checkpoint confirmed",
        EntryKind::CheckpointTimedOut => "Checkpoint timed out",
        EntryKind::Acknowledged => "Acknowledged",
        EntryKind::Unacknowledged => "Unacknowledged",
        EntryKind::AckReminder => "Ack reminder",
        EntryKind::Reassigned => "Reassigned",
        EntryKind::Snoozed => "Snoozed",
        EntryKind::SnoozeEnded => "Snooze ended",
        EntryKind::Note => "Note",
        EntryKind::StatusChanged => "Status changed",
        EntryKind::SeverityChanged => "Severity changed",
        EntryKind::PriorityChanged => "Priority changed",
        EntryKind::Resolved => "Resolved",
    }
}

/// Who did something, in words.
pub fn actor_name(state: AppState, actor: &Actor) -> String {
    match actor {
        Actor::Automation => "Piket".to_string(),
        Actor::Person(id) => state.person_name(id),
    }
}

/// The incident's next pending deadline (the escalation's earliest timer), if any.
pub fn next_deadline(e: &Escalation) -> Option<DateTime<Utc>> {
    let t = &e.timers;
    [t.wake, t.checkpoint, t.ack, t.resolution, t.stale, t.reminder].into_iter().flatten().min()
}

pub fn incident_deadline(i: &Incident) -> Option<DateTime<Utc>> {
    if !i.is_open() {
        return None;
    }
    i.escalation.as_ref().and_then(next_deadline)
}

/// Where the escalation stands, in a few words.
pub fn stage_words(i: &Incident) -> String {
    if !i.is_open() {
        return "Resolved".into();
    }
    if let Some(why) = &i.suppressed {
        if i.escalation.is_none() {
            return format!("Suppressed: {why}");
        }
    }
    match &i.escalation {
        None => "Nobody is paged (no policy)".into(),
        Some(e) => {
            let level = e.level + 1;
            match &e.stage {
                Stage::Paging => format!("Level {level} paged"),
                Stage::AwaitingCheckpoint => format!("Level {level} waits for a checkpoint"),
                Stage::Snoozed { until } => format!("Snoozed until {}", clock_time(*until)),
                Stage::Held { until } => format!("Held by maintenance until {}", clock_time(*until)),
                Stage::Stopped => "Escalation stopped".into(),
                Stage::Done => "Done".into(),
            }
        }
    }
}

/// A time on this device's clock: `14:05` today, `Tue 3 Jun 14:05` otherwise.
pub fn clock_time(t: DateTime<Utc>) -> String {
    local_time(t, "%H:%M")
}

/// Like [`clock_time`] with seconds (timeline entries).
pub fn clock_time_exact(t: DateTime<Utc>) -> String {
    local_time(t, "%H:%M:%S")
}

/// `t` on this device's clock in `time_format`, with the day in front when it is not today.
fn local_time(t: DateTime<Utc>, time_format: &str) -> String {
    let local = t.with_timezone(&chrono::Local);
    if local.date_naive() == chrono::Local::now().date_naive() {
        local.format(time_format).to_string()
    } else {
        local.format(&format!("%a %-d %b {time_format}")).to_string()
    }
}

/// "in 4 min" / "4 min overdue".
pub fn countdown(deadline: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if deadline >= now {
        format!("in {}", super::clock::span(deadline - now))
    } else {
        format!("{} overdue", super::clock::span(now - deadline))
    }
}

/// A fresh incident id.
pub fn new_incident_id() -> IncidentId {
    uuid::Uuid::new_v4().to_string().into()
}

/// "Who are you?": one tap on a name chooses "me" on this device and runs what was waiting.
#[component]
pub fn WhoAmI(
    /// Called with the chosen person's id.
    on_pick: Callback<PersonId>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="card who-am-i" role="group" aria-labelledby="who-am-i-title">
            <h2 id="who-am-i-title">"Who are you?"</h2>
            <p class="muted">"Piket remembers your choice on this device."</p>
            <Show
                when=move || state.world.with(|w| !w.people.is_empty())
                fallback=|| view! {
                    <p>"Nobody is set up yet. " <a href=Route::People.href()>"Add yourself on the People screen"</a> " first."</p>
                }
            >
                <ul class="who-list">
                    <For each=move || state.people() key=|p| (p.id.clone(), p.name.clone()) let:person>
                        {
                            let id = person.id.clone();
                            view! {
                                <li>
                                    <button type="button" class="big" aria-label=format!("I am {}", person.name)
                                        on:click=move |_| on_pick.run(id.clone())>
                                        {person.name.clone()}
                                    </button>
                                </li>
                            }
                        }
                    </For>
                </ul>
            </Show>
            {on_cancel.map(|c| view! { <button type="button" on:click=move |_| c.run(())>"Cancel"</button> })}
        </div>
    }
}
