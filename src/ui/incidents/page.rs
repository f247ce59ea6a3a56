//! The incident page: the one a phone opens from a page. Acknowledge and Resolve at the top, who is
//! paged now and who is next (with a countdown), the timeline newest first (with lateness and
//! delivery state), and every other action: note, status, severity, reassign, escalate now, snooze,
//! checkpoint. `?ack=1` acknowledges in one tap.
//!
//! "Who is next" is a dry run: the incident alone in a throwaway [`Engine`], stepped to its next
//! deadline against the configured world. Nothing is stored.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use crate::ui::command::Alert;

use crate::route::Route;
use crate::ui::nav::use_nav;

use super::{
    actor_name, clock_time, clock_time_exact, kind_words, known_me, parse_severity, parse_status, severity_label, severity_short, stage_words, status_label,
    use_me, AppState, WhoAmI, STATUSES,
};
use crate::engine::escalation::{Delivery, Input, ReassignTo, Stage};
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::{Actor, EntryKind, Incident, Severity, Status, TimelineEntry};
use crate::intake::is_evidence_url;
use crate::runtime::command::Command;
use crate::runtime::view::DeliveryRow;
use crate::ui::command::{use_command, use_command_then, CommandHook};

/// Something a responder does to the incident.
#[derive(Clone, Debug, PartialEq)]
enum Action {
    Acknowledge,
    Unacknowledge,
    Resolve,
    Note(String),
    Status(Status),
    Severity(Severity),
    Reassign(ReassignTo),
    EscalateNow,
    Snooze(DateTime<Utc>),
    ConfirmCheckpoint,
}

impl Action {
    /// Actions the engine takes only from a person.
    fn needs_person(&self) -> bool {
        matches!(self, Action::Acknowledge | Action::Unacknowledge | Action::Snooze(_) | Action::ConfirmCheckpoint)
    }

    fn input(self, incident: IncidentId, me: Option<PersonId>) -> Option<Input> {
        let by = me.clone().map(Actor::Person).unwrap_or(Actor::Automation);
        Some(match self {
            Action::Acknowledge => Input::Acknowledge { incident, by: me? },
            Action::Unacknowledge => Input::Unacknowledge { incident, by: me? },
            Action::Resolve => Input::Resolve { incident, by },
            Action::Note(text) => Input::AddNote { incident, by, text },
            Action::Status(status) => Input::ChangeStatus { incident, by, status },
            Action::Severity(severity) => Input::ChangeSeverity { incident, by, severity },
            Action::Reassign(to) => Input::Reassign { incident, by, to },
            Action::EscalateNow => Input::EscalateNow { incident, by },
            Action::Snooze(until) => Input::Snooze { incident, by: me?, until },
            Action::ConfirmCheckpoint => Input::ConfirmCheckpoint { incident, by: me? },
        })
    }

    fn done(&self) -> &'static str {
        match self {
            Action::Acknowledge => "Acknowledged: you have it.",
            Action::Unacknowledge => "Given back: the level's timeout runs again.",
            Action::Resolve => "Resolved.",
            Action::Note(_) => "Note added.",
            Action::Status(_) => "Status changed.",
            Action::Severity(_) => "Severity changed.",
            Action::Reassign(_) => "Reassigned.",
            Action::EscalateNow => "Escalated.",
            Action::Snooze(_) => "Snoozed.",
            Action::ConfirmCheckpoint => "Checkpoint confirmed.",
        }
    }
}

fn channel_name(state: AppState, id: &str) -> String {
    state.world.with(|w| w.channel(id).map(|c| if c.name.is_empty() { c.id.to_string() } else { c.name.clone() })).unwrap_or_else(|| id.to_string())
}

/// Who the current level paged (people and channels), by name.
fn paged_now(state: AppState, i: &Incident) -> Vec<String> {
    let Some(e) = i.escalation.as_ref().filter(|e| matches!(e.stage, Stage::Paging | Stage::Stopped)) else { return Vec::new() };
    let mut names = Vec::new();
    for entry in i.timeline.iter().filter(|x| x.level == Some(e.level as u32 + 1) && x.pass == Some(e.pass)) {
        let name = match (entry.kind, &entry.person, &entry.target) {
            (EntryKind::Paged, Some(p), _) => state.person_name(p),
            (EntryKind::Posted, _, Some(t)) => format!("channel {}", channel_name(state, t.strip_prefix("channel:").unwrap_or(t))),
            _ => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    let address = use_nav().address();
    let me = use_me();
    let id = Memo::new(move |_| address.with(|a| a.route.id().unwrap_or_default().to_string()));
    let incident = Memo::new(move |_| {
        let id = id.get();
        // A hot incident, or one read back from the archive (a link to an old incident).
        state.incidents.with(|all| all.iter().find(|i| i.id == id).cloned()).or_else(|| state.past_incident(&id).map(|p| p.incident))
    });

    let pending = RwSignal::new(None::<Action>);
    let choosing = RwSignal::new(false);
    let acting = Acting::new();
    let (notice, command) = (acting.notice, acting.command);
    let busy = Signal::derive(move || acting.busy());

    let run = move |action: Action, who: Option<PersonId>| {
        if let Some(input) = action.clone().input(id.get_untracked().into(), who) {
            acting.send(action, input, None);
        }
    };
    // Every action goes through here: it asks who you are first when that is not known yet.
    let act = move |action: Action| {
        let who = known_me(state, &me.get_untracked());
        let anyone = state.world.with_untracked(|w| !w.people.is_empty());
        if who.is_none() && (action.needs_person() || anyone) {
            pending.set(Some(action));
            choosing.set(true);
            return;
        }
        run(action, who);
    };
    let on_pick = Callback::new(move |person: PersonId| {
        me.set(person.to_string());
        choosing.set(false);
        if let Some(action) = pending.get_untracked() {
            pending.set(None);
            run(action, Some(person));
        }
    });
    let on_cancel = Callback::new(move |_| {
        pending.set(None);
        choosing.set(false);
    });

    // `?ack=1` (from a notification): acknowledge as soon as the incident is known, once.
    AckFromAddress::read(address).start(incident, me, acting, act);

    view! {
        <section class="screen incident-page">
            <Show when=move || state.loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <Show
                    when=move || incident.with(|i| i.is_some())
                    fallback=move || view! { <NoSuchIncident id=id/> }
                >
                    <Head incident=incident />
                    <BigActions incident=incident act=act busy=busy />
                    <Alert message=Signal::derive(move || command.error())/>
                    <Show when=move || notice.get().is_some()>
                        <p class="notice" role="status">{move || notice.get()}</p>
                    </Show>
                    <Show when=move || choosing.get()>
                        <WhoAmI on_pick=on_pick on_cancel=on_cancel />
                    </Show>
                    <ActingAs me=me choosing=choosing />
                    <Paging incident=incident act=act />
                    <NoteForm act=act busy=busy />
                    <super::retro::RetroCard incident=incident />
                    <Timeline incident=incident />
                    <Changes incident=incident act=act busy=busy />
                    <Deliveries id=id />
                </Show>
            </Show>
        </section>
    }
}

/// The page's commands, one at a time: the action's confirmation once it went through, or its
/// refusal, and a note added after it when asked.
#[derive(Clone, Copy)]
struct Acting {
    command: CommandHook,
    note: CommandHook,
    /// What the command on its way is for (its confirmation).
    last: StoredValue<Option<Action>>,
    /// A note to add once it went through.
    follow_up: StoredValue<Option<Input>>,
    notice: RwSignal<Option<String>>,
}

impl Acting {
    fn new() -> Self {
        let (last, follow_up, notice) = (StoredValue::new(None::<Action>), StoredValue::new(None::<Input>), RwSignal::new(None::<String>));
        let note = use_command();
        let command = use_command_then(move |reply| {
            if reply.is_ok() {
                if let Some(input) = follow_up.get_value() {
                    note.dispatch(Command::Dispatch { input });
                }
                if let Some(action) = last.get_value() {
                    notice.set(Some(action.done().to_string()));
                }
            }
            follow_up.set_value(None);
        });
        Acting { command, note, last, follow_up, notice }
    }

    fn send(self, action: Action, input: Input, then_note: Option<Input>) {
        self.notice.set(None);
        self.command.clear();
        self.last.set_value(Some(action));
        self.follow_up.set_value(then_note);
        self.command.dispatch(Command::Dispatch { input });
    }

    fn busy(self) -> bool {
        self.command.pending() || self.note.pending()
    }
}

#[component]
fn NoSuchIncident(id: Memo<String>) -> impl IntoView {
    view! {
        <h1>"Incident"</h1>
        <div class="empty-state">
            <p>"No incident with id " <code>{move || id.get()}</code> " is stored on this device. "
                <a href=Route::Incidents.href() class="back-link">"Back to incidents"</a></p>
        </div>
    }
}

/// `?ack=1&by=alice&from=notification`: an acknowledgement the address asks for, handled once.
#[derive(Clone, Copy)]
struct AckFromAddress {
    wants: bool,
    by: StoredValue<Option<String>>,
    from_notification: bool,
    handled: StoredValue<bool>,
}

impl AckFromAddress {
    fn read(address: RwSignal<crate::route::Address>) -> Self {
        address.with_untracked(|a| AckFromAddress {
            wants: a.param("ack").is_some_and(|v| v == "1" || v == "true"),
            // A notification's Acknowledge action names the paged person and says where it came from.
            by: StoredValue::new(a.param("by")),
            from_notification: a.param("from").is_some_and(|v| v == "notification"),
            handled: StoredValue::new(false),
        })
    }

    /// Acknowledges once the incident is known: as the person the address names, else through
    /// `act` (which asks who).
    fn start(self, incident: Memo<Option<Incident>>, me: RwSignal<String>, acting: Acting, act: impl Fn(Action) + 'static) {
        let state = expect_context::<AppState>();
        Effect::new(move |_| match self.wanted(state, incident, acting.notice) {
            Some(Some(by)) => {
                me.set(by.to_string());
                let Some(id) = incident.with_untracked(|i| i.as_ref().map(|i| i.id.clone())) else { return };
                let note = self.from_notification.then(|| Input::AddNote {
                    incident: id.clone(),
                    by: Actor::Person(by.clone()),
                    text: "Acknowledged from notification".into(),
                });
                acting.send(Action::Acknowledge, Input::Acknowledge { incident: id, by }, note);
            }
            Some(None) => act(Action::Acknowledge),
            None => {}
        });
    }

    /// Once the incident is known: `Some(Some(person))` to acknowledge as them, `Some(None)` to
    /// ask who is acknowledging; `None` when there is nothing (more) to do, with the reason said.
    fn wanted(self, state: AppState, incident: Memo<Option<Incident>>, notice: RwSignal<Option<String>>) -> Option<Option<PersonId>> {
        if !self.wants || self.handled.get_value() || !state.loaded.get() {
            return None;
        }
        let (open, acked) = incident.with(|i| i.as_ref().map(|i| (i.is_open(), i.acknowledged.clone())))?;
        self.handled.set_value(true);
        match (open, acked) {
            (false, _) => notice.set(Some("This incident is already resolved.".into())),
            (true, Some(a)) => notice.set(Some(format!("Already acknowledged by {}.", state.person_name(&a.by)))),
            (true, None) => return Some(self.by.get_value().and_then(|by| known_me(state, &by))),
        }
        None
    }
}

/// Acknowledge and Resolve, and who acknowledged.
#[component]
fn BigActions<F>(incident: Memo<Option<Incident>>, act: F, busy: Signal<bool>) -> impl IntoView
where
    F: Fn(Action) + Copy + Send + Sync + 'static,
{
    let state = expect_context::<AppState>();
    view! {
                    <div class="big-actions">
                        <button type="button" class="primary big"
                            disabled=move || busy.get() || incident.with(|i| i.as_ref().is_none_or(|i| !i.is_open() || i.acknowledged.is_some()))
                            on:click=move |_| act(Action::Acknowledge)>
                            "Acknowledge"
                        </button>
                        <button type="button" class="big resolve"
                            disabled=move || busy.get() || incident.with(|i| i.as_ref().is_none_or(|i| !i.is_open()))
                            on:click=move |_| act(Action::Resolve)>
                            "Resolve"
                        </button>
                        <p class="ack-state">
                            {move || incident.with(|i| i.as_ref().map(|i| match (&i.acknowledged, i.resolved_at) {
                                (_, Some(t)) => format!("Resolved at {}.", clock_time(t)),
                                (Some(a), None) => format!("Acknowledged by {} at {}.", state.person_name(&a.by), clock_time(a.at)),
                                (None, None) => "Nobody has acknowledged it yet.".to_string(),
                            }))}
                        </p>
                    </div>
    }
}

/// Who this device acts as, with a way to change it.
#[component]
fn ActingAs(me: RwSignal<String>, choosing: RwSignal<bool>) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
                    <p class="acting-as muted">
                        {move || match known_me(state, &me.get()) {
                            Some(p) => format!("You act as {} on this device. ", state.person_name(&p)),
                            None => "You have not said who you are on this device. ".to_string(),
                        }}
                        <button type="button" class="link" on:click=move |_| choosing.set(true)>"Change who I am"</button>
                    </p>
    }
}

#[component]
fn Head(incident: Memo<Option<Incident>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let with = move |f: fn(&Incident) -> String| move || incident.with(|i| i.as_ref().map(f).unwrap_or_default());
    let links = move || incident.with(|i| i.as_ref().map(|i| i.details.links.clone()).unwrap_or_default());
    view! {
        <header class="incident-head">
            <h1>{with(|i| i.details.title.clone())}</h1>
            <p class="badges">
                <span class="sev-badge" data-severity=with(|i| i.details.severity.as_str().to_string())>{with(|i| severity_short(i.details.severity).to_string())}</span>
                <span class="badge">{with(|i| status_label(i.status).to_string())}</span>
                {move || incident.with(|i| i.as_ref().and_then(|i| i.details.priority).map(|p| view! { <span class="badge">{format!("priority {}", p.as_str())}</span> }))}
                {move || incident.with(|i| i.as_ref().filter(|i| i.alert_count > 1).map(|i| view! { <span class="badge fold-count">{format!("{} alerts", i.alert_count)}</span> }))}
            </p>
            <p class="muted meta">
                {move || incident.with(|i| i.as_ref().map(|i| {
                    let d = &i.details;
                    let mut parts = vec![format!("opened {} ago", super::super::clock::span(state.now.get() - i.opened_at))];
                    for (label, v) in [("service", &d.service), ("type", &d.kind), ("env", &d.environment), ("region", &d.region), ("SLA", &d.sla_tier), ("source", &d.source), ("reported by", &d.reporter)] {
                        if !v.is_empty() {
                            parts.push(format!("{label} {v}"));
                        }
                    }
                    if d.customer_impact {
                        parts.push("customers affected".into());
                    }
                    if let Some(a) = &i.assignee {
                        parts.push(format!("assigned to {}", state.person_name(a)));
                    }
                    parts.join(" · ")
                }).unwrap_or_default())}
            </p>
            <Show when=move || incident.with(|i| i.as_ref().is_some_and(|i| !i.details.summary.is_empty()))>
                <p class="summary">{with(|i| i.details.summary.clone())}</p>
            </Show>
            <Show when=move || !links().is_empty()>
                <ul class="evidence" aria-label="Evidence">
                    {move || links().into_iter().map(|l| if is_evidence_url(&l) {
                        view! { <li><a href=l.clone() target="_blank" rel="noopener noreferrer">{l.clone()}</a></li> }.into_any()
                    } else {
                        view! { <li>{l}</li> }.into_any()
                    }).collect_view()}
                </ul>
            </Show>
        </header>
    }
}

#[component]
fn Paging<F>(incident: Memo<Option<Incident>>, act: F) -> impl IntoView
where
    F: Fn(Action) + Copy + Send + Sync + 'static,
{
    let state = expect_context::<AppState>();
    let now_paged = Memo::new(move |_| incident.with(|i| i.as_ref().map(|i| paged_now(state, i)).unwrap_or_default()));
    let next = Memo::new(move |_| incident.with(|i| i.as_ref().and_then(|i| state.world.with(|w| crate::runtime::view::next_step(w, i)))));
    let checkpoint = Memo::new(move |_| {
        incident.with(|i| {
            let e = i.as_ref().filter(|i| i.is_open())?.escalation.as_ref()?;
            (e.stage == Stage::AwaitingCheckpoint).then(|| e.policy.levels[e.level].checkpoint.as_ref().map(|c| c.prompt.clone()).unwrap_or_default())
        })
    });
    view! {
        <section class="card paging" aria-labelledby="paging-title">
            <h2 id="paging-title">{move || incident.with(|i| i.as_ref().map(stage_words).unwrap_or_default())}</h2>
            <p class="paged-now">
                <strong>"Paged now: "</strong>
                {move || now_paged.with(|n| if n.is_empty() { "nobody".to_string() } else { n.join(", ") })}
            </p>
            <p class="next-step">
                {move || match next.get() {
                    None => "Nothing more is scheduled.".to_string(),
                    Some(step) => step.sentence(state.now.get(), &clock_time(step.at)),
                }}
            </p>
            <Show when=move || checkpoint.with(|c| c.is_some())>
                <div class="checkpoint">
                    <p><strong>"Checkpoint: "</strong>{move || checkpoint.get().unwrap_or_default()}</p>
                    <button type="button" class="primary" on:click=move |_| act(Action::ConfirmCheckpoint)>"Confirm checkpoint"</button>
                </div>
            </Show>
        </section>
    }
}

#[component]
fn NoteForm<F>(act: F, busy: Signal<bool>) -> impl IntoView
where
    F: Fn(Action) + Copy + Send + Sync + 'static,
{
    let text = RwSignal::new(String::new());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let t = text.get_untracked().trim().to_string();
        if t.is_empty() {
            return;
        }
        text.set(String::new());
        act(Action::Note(t));
    };
    view! {
        <form class="note-form" on:submit=submit>
            <label for="note-text">"Note"</label>
            <textarea id="note-text" rows="2" placeholder="What you see, what you tried" bind:value=text></textarea>
            <button type="submit" disabled=move || busy.get()>"Add note"</button>
        </form>
    }
}

#[component]
fn Timeline(incident: Memo<Option<Incident>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = move || incident.with(|i| i.as_ref().map(|i| i.id.clone()).unwrap_or_default());
    // Delivery state by idempotency key, for pages and posts.
    let delivery = Memo::new(move |_| {
        let id = id();
        deliveries_of(state, &id).iter().map(|r| (r.key.clone(), r.words(clock_time))).collect::<BTreeMap<_, _>>()
    });
    let entries = Memo::new(move |_| {
        let id = id();
        let recorded = state.recorded.with(|r| r.get(&id).cloned()).or_else(|| state.past_incident(&id).map(|p| p.recorded)).unwrap_or_default();
        incident.with(|i| {
            i.as_ref()
                .map(|i| i.timeline.iter().enumerate().map(|(n, e)| (n, e.clone(), recorded.get(n).copied())).rev().collect::<Vec<_>>())
                .unwrap_or_default()
        })
    });
    view! {
        <section aria-labelledby="timeline-title">
            <h2 id="timeline-title">"Timeline"</h2>
            <ol class="timeline" reversed>
                <For each=move || entries.get() key=|(n, e, r)| (*n, e.key.clone(), *r) let:item>
                    <Entry entry=item.1 recorded=item.2 delivery=delivery />
                </For>
            </ol>
        </section>
    }
}

#[component]
fn Entry(entry: TimelineEntry, recorded: Option<DateTime<Utc>>, delivery: Memo<BTreeMap<String, String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let late = recorded.map(|r| r - entry.at).filter(|d| *d >= Duration::seconds(60));
    let key = entry.key.clone();
    let person = entry.person.as_ref().map(|p| state.person_name(p));
    view! {
        <li class="entry" data-kind=entry.kind.as_str()>
            <time datetime=entry.at.to_rfc3339()>{clock_time_exact(entry.at)}</time>
            " "
            <span class="kind">{kind_words(entry.kind)}</span>
            {person.map(|p| view! { " " <strong class="person">{p}</strong> })}
            {entry.level.map(|l| format!(" · level {l}"))}
            <span class="actor muted">{format!(" · by {}", actor_name(state, &entry.actor))}</span>
            {(!entry.detail.is_empty()).then(|| view! { <span class="detail">{entry.detail.clone()}</span> })}
            {late.map(|d| view! { <span class="late">{format!("fired {} late: this tab was asleep", super::super::clock::span(d))}</span> })}
            {move || key.as_ref().and_then(|k| delivery.with(|m| m.get(k).cloned())).map(|w| view! { <span class="delivery muted">{format!("delivery: {w}")}</span> })}
        </li>
    }
}

#[component]
fn Changes<F>(incident: Memo<Option<Incident>>, act: F, busy: Signal<bool>) -> impl IntoView
where
    F: Fn(Action) + Copy + Send + Sync + 'static,
{
    let state = expect_context::<AppState>();
    let current = move |f: fn(&Incident) -> String| incident.with(|i| i.as_ref().map(f).unwrap_or_default());
    let status = RwSignal::new(current(|i| i.status.as_str().to_string()));
    let severity = RwSignal::new(current(|i| i.details.severity.as_str().to_string()));
    let snooze = RwSignal::new("30".to_string());
    // Follow changes made elsewhere (another tab, a rule).
    Effect::new(move |_| status.set(current(|i| i.status.as_str().to_string())));
    Effect::new(move |_| severity.set(current(|i| i.details.severity.as_str().to_string())));

    let open = move || incident.with(|i| i.as_ref().is_some_and(|i| i.is_open()));
    let acknowledged = move || incident.with(|i| i.as_ref().is_some_and(|i| i.acknowledged.is_some()));
    let do_snooze = move |_| {
        let minutes: i64 = snooze.get_untracked().parse().unwrap_or(30);
        act(Action::Snooze(state.now.get_untracked() + Duration::minutes(minutes)));
    };

    view! {
        <Show when=open>
            <section class="card changes" aria-labelledby="changes-title">
                <h2 id="changes-title">"Change"</h2>
                <ChangeSelect id="change-status" label="Status" value=status busy=busy button="Change status"
                    options={STATUSES.into_iter().map(|s| (s.as_str().to_string(), status_label(s).to_string())).collect::<Vec<_>>()}
                    on_change=Callback::new(move |v: String| if let Some(s) = parse_status(&v) { act(Action::Status(s)) })/>
                <ChangeSelect id="change-severity" label="Severity" value=severity busy=busy button="Change severity"
                    options={Severity::ALL.into_iter().map(|s| (s.as_str().to_string(), severity_label(s).to_string())).collect::<Vec<_>>()}
                    on_change=Callback::new(move |v: String| if let Some(s) = parse_severity(&v) { act(Action::Severity(s)) })/>
                <ReassignRow incident=incident act=act busy=busy/>
                <div class="change-row">
                    <div class="field">
                        <label for="change-snooze">"Snooze for"</label>
                        <select id="change-snooze" prop:value=move || snooze.get() on:change=move |ev| snooze.set(event_target_value(&ev))>
                            {[(15, "15 min"), (30, "30 min"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours"), (480, "8 hours")].map(|(m, l)| {
                                view! { <option value=m.to_string() selected=m == 30>{l}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                    <button type="button" disabled=move || busy.get() on:click=do_snooze>
                        {move || {
                            let minutes: i64 = snooze.get().parse().unwrap_or(30);
                            format!("Snooze until {}", clock_time(state.now.get() + Duration::minutes(minutes)))
                        }}
                    </button>
                </div>
                <div class="actions">
                    <button type="button" disabled=move || busy.get() on:click=move |_| act(Action::EscalateNow)>"Escalate now"</button>
                    <Show when=acknowledged>
                        <button type="button" disabled=move || busy.get() on:click=move |_| act(Action::Unacknowledge)>"Give it back"</button>
                    </Show>
                </div>
            </section>
        </Show>
    }
}

/// An incident's pages and posts: from the hot outbox, or from the archive for an old incident.
fn deliveries_of(state: AppState, id: &str) -> Vec<DeliveryRow> {
    let hot: Vec<DeliveryRow> = state.outbox.with(|rows| rows.iter().filter(|r| r.incident == id).cloned().collect());
    if !hot.is_empty() || state.incidents.with(|all| all.iter().any(|i| i.id == id)) {
        return hot;
    }
    state.past_incident(id).map(|p| p.outbox).unwrap_or_default()
}

/// A select and the button that applies what it shows (status, severity, reassignment).
#[component]
fn ChangeSelect(
    id: &'static str,
    label: &'static str,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    /// The empty first option, when there is one (nothing chosen yet).
    #[prop(optional)]
    prompt: Option<&'static str>,
    value: RwSignal<String>,
    button: &'static str,
    busy: Signal<bool>,
    on_change: Callback<String>,
) -> impl IntoView {
    view! {
        <div class="change-row">
            <div class="field">
                <label for=id>{label}</label>
                <select id=id prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                    {prompt.map(|p| view! { <option value="">{p}</option> })}
                    {move || options.get().into_iter().map(|(v, l)| {
                        let chosen = v.clone();
                        view! { <option value=v selected=move || value.get() == chosen>{l}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button type="button" disabled=move || busy.get() || value.with(String::is_empty) on:click=move |_| on_change.run(value.get_untracked())>{button}</button>
        </div>
    }
}

/// Reassign to a person, or back to a level of the incident's policy.
#[component]
fn ReassignRow<F>(incident: Memo<Option<Incident>>, act: F, busy: Signal<bool>) -> impl IntoView
where
    F: Fn(Action) + Copy + Send + Sync + 'static,
{
    let state = expect_context::<AppState>();
    let reassign = RwSignal::new(String::new());
    let options = Signal::derive(move || {
        let mut options: Vec<(String, String)> = state.people().into_iter().map(|p| (format!("person:{}", p.id), p.name)).collect();
        let levels =
            incident.with(|i| i.as_ref().and_then(|i| i.escalation.as_ref()).map(|e| e.policy.levels.iter().map(|l| l.name.clone()).collect::<Vec<_>>()));
        for (n, name) in levels.unwrap_or_default().into_iter().enumerate().map(|(n, name)| (n + 1, name)) {
            options.push((format!("level:{n}"), if name.is_empty() { format!("Level {n}") } else { format!("Level {n}: {name}") }));
        }
        options
    });
    let on_change = Callback::new(move |v: String| {
        let to = if let Some(p) = v.strip_prefix("person:") {
            ReassignTo::Person(p.into())
        } else if let Some(l) = v.strip_prefix("level:").and_then(|l| l.parse().ok()) {
            ReassignTo::Level(l)
        } else {
            return;
        };
        act(Action::Reassign(to));
    });
    view! {
        <ChangeSelect id="change-assignee" label="Reassign to" prompt="Choose a person or level" options=options value=reassign busy=busy button="Reassign" on_change=on_change/>
    }
}

#[component]
fn Deliveries(id: Memo<String>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let rows = Memo::new(move |_| deliveries_of(state, &id.get()));
    view! {
        <Show when=move || rows.with(|r| !r.is_empty())>
            <section aria-labelledby="deliveries-title">
                <h2 id="deliveries-title">"Deliveries"</h2>
                <ul class="deliveries">
                    {move || rows.get().into_iter().map(|r| {
                        let to = match &r.delivery {
                            Delivery::Page { person, .. } => format!("Page to {}", state.person_name(person)),
                            Delivery::Post { channel } => format!("Post to channel {}", channel_name(state, channel)),
                        };
                        view! {
                            <li data-state=r.status.as_str()>
                                <strong>{to}</strong>{format!(" at {}: ", clock_time(r.at))}{r.words(clock_time)}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}
