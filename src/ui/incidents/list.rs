//! The incident list: open incidents first, by severity then by time left to the next escalation
//! (a live countdown); filters; resolved ones in their own tab.
//!
//! Stays fast with thousands of incidents: a memo reduces each incident to a small [`Row`] once per
//! snapshot, filters and sorting are memos over those rows, and only the first [`PAGE`] rows (more
//! on "Show more") are in the page. The countdown is the only thing that changes every second.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::route::Route;

use super::{
    countdown, incident_deadline, parse_severity, parse_status, severity_label, severity_short, stage_words, status_label, use_me, AppState, STATUSES,
};
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::{EntryKind, Incident, Severity, Status};
use crate::ui::command::use_task;

/// Rows rendered at first, and added by each "Show more".
const PAGE: usize = 50;

/// What the list shows of an incident (and filters on).
#[derive(Clone, Debug, PartialEq)]
struct Row {
    id: IncidentId,
    title: String,
    severity: Severity,
    status: Status,
    service: String,
    alert_count: u32,
    deadline: Option<DateTime<Utc>>,
    stage: String,
    opened_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    /// People it concerns: assignee, acknowledger, everyone paged (for "mine").
    people: Vec<PersonId>,
    acknowledged_by: Option<PersonId>,
}

impl Row {
    fn of(i: &Incident) -> Row {
        let mut people: Vec<PersonId> =
            i.timeline.iter().filter(|e| matches!(e.kind, EntryKind::Paged | EntryKind::AckReminder)).filter_map(|e| e.person.clone()).collect();
        people.extend(i.assignee.clone());
        people.extend(i.acknowledged.as_ref().map(|a| a.by.clone()));
        people.sort();
        people.dedup();
        Row {
            id: i.id.clone(),
            title: i.details.title.clone(),
            severity: i.details.severity,
            status: i.status,
            service: i.details.service.clone(),
            alert_count: i.alert_count,
            deadline: incident_deadline(i),
            stage: stage_words(i),
            opened_at: i.opened_at,
            resolved_at: i.resolved_at,
            people,
            acknowledged_by: i.acknowledged.as_ref().map(|a| a.by.clone()),
        }
    }
}

/// What a row shows: it is rendered again only when this changed.
type RowKey = (IncidentId, String, &'static str, Severity, u32, Option<DateTime<Utc>>, String, Option<PersonId>);

fn row_key(r: &Row) -> RowKey {
    (r.id.clone(), r.title.clone(), r.status.as_str(), r.severity, r.alert_count, r.deadline, r.stage.clone(), r.acknowledged_by.clone())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Open,
    Resolved,
}

/// What the list is narrowed to: the tab and the filters.
#[derive(Clone, Copy)]
struct ListFilter {
    tab: RwSignal<Tab>,
    status: RwSignal<String>,
    severity: RwSignal<String>,
    service: RwSignal<String>,
    /// Only incidents that concern "I am".
    mine: RwSignal<bool>,
}

impl ListFilter {
    fn new() -> Self {
        ListFilter {
            tab: RwSignal::new(Tab::Open),
            status: RwSignal::default(),
            severity: RwSignal::default(),
            service: RwSignal::default(),
            mine: RwSignal::default(),
        }
    }

    /// The rows of its tab that pass the filters: open ones most severe first, then the one
    /// escalating soonest, nothing pending last; resolved ones newest first.
    fn apply(self, rows: &[Row], me: &str) -> Vec<Row> {
        let tab = self.tab.get();
        let status = parse_status(&self.status.get());
        let severity = parse_severity(&self.severity.get());
        let service = self.service.get();
        let mine = self.mine.get() && !me.is_empty();
        let mut out: Vec<Row> = rows
            .iter()
            .filter(|r| (r.status == Status::Resolved) == (tab == Tab::Resolved))
            .filter(|r| status.is_none_or(|s| r.status == s))
            .filter(|r| severity.is_none_or(|s| r.severity == s))
            .filter(|r| service.is_empty() || r.service == service)
            .filter(|r| !mine || r.people.iter().any(|p| p == me))
            .cloned()
            .collect();
        match tab {
            Tab::Open => out.sort_by(|a, b| {
                (a.severity, a.deadline.is_none(), a.deadline, std::cmp::Reverse(a.opened_at)).cmp(&(
                    b.severity,
                    b.deadline.is_none(),
                    b.deadline,
                    std::cmp::Reverse(b.opened_at),
                ))
            }),
            Tab::Resolved => out.sort_by_key(|r| std::cmp::Reverse(r.resolved_at.unwrap_or(r.opened_at))),
        }
        out
    }
}

#[component]
pub fn IncidentList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let me = use_me();
    let filter = ListFilter::new();
    let tab = filter.tab;
    let shown = RwSignal::new(PAGE);
    let older = use_task(move |()| state.load_history());

    // The hot incidents, then history read from the archive (older; each incident once).
    let rows = Memo::new(move |_| {
        let mut rows = state.incidents.with(|all| all.iter().map(Row::of).collect::<Vec<_>>());
        state.history.with(|past| {
            for p in past {
                if !rows.iter().any(|r| r.id == p.incident.id) {
                    rows.push(Row::of(&p.incident));
                }
            }
        });
        rows
    });
    let open_count = Memo::new(move |_| rows.with(|r| r.iter().filter(|r| r.status != Status::Resolved).count()));
    let resolved_count = Memo::new(move |_| rows.with(|r| r.iter().filter(|r| r.status == Status::Resolved).count()));
    let services = Memo::new(move |_| {
        let mut s: Vec<String> = rows.with(|r| r.iter().map(|r| r.service.clone()).filter(|s| !s.is_empty()).collect());
        s.sort_by_key(|x| x.to_lowercase());
        s.dedup();
        s
    });
    let filtered = Memo::new(move |_| rows.with(|rows| filter.apply(rows, &me.get())));
    // A new filter starts from the top again.
    Effect::new(move |_| {
        filter.tab.track();
        filter.status.track();
        filter.severity.track();
        filter.service.track();
        filter.mine.track();
        shown.set(PAGE);
    });
    let visible = Memo::new(move |_| filtered.with(|f| f.iter().take(shown.get()).cloned().collect::<Vec<_>>()));
    let hidden = move || filtered.with(|f| f.len()).saturating_sub(shown.get());
    // More resolved incidents are in the archive than were read so far.
    let resolved_text = Signal::derive(move || if state.history_done.get() { resolved_count.get().to_string() } else { format!("{}+", resolved_count.get()) });

    view! {
        <section class="screen incidents">
            <div class="screen-head">
                <h1>"Incidents"</h1>
                <a class="button primary" href=Route::NewIncident.href()>"Open an incident"</a>
            </div>
            // With incidents open, they come first on a phone's first screen; the set-up and
            // on-call cards follow the list.
            <Show when=move || open_count.get() == 0>
                <crate::ui::first_run::FirstRunCard/>
                <OnCallNow/>
            </Show>
            <div class="tabs" role="group" aria-label="Which incidents">
                <TabButton tab=tab value=Tab::Open label="Open" count=Signal::derive(move || open_count.get().to_string())/>
                <TabButton tab=tab value=Tab::Resolved label="Resolved" count=resolved_text/>
            </div>
            <Filters filter=filter me=me services=services/>

            <Show when=move || state.loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <Show
                    when=move || filtered.with(|f| !f.is_empty())
                    fallback=move || view! { <Empty tab=tab.get() any=Signal::derive(move || open_count.get() + resolved_count.get() > 0) /> }
                >
                    <ul class="incident-list" aria-label="Incidents">
                        <For each=move || visible.get() key=row_key let:row>
                            <IncidentRow row=row />
                        </For>
                    </ul>
                    <Show when=move || { hidden() > 0 }>
                        <button type="button" class="show-more" on:click=move |_| shown.update(|n| *n += PAGE)>
                            {move || format!("Show more ({} more)", hidden())}
                        </button>
                    </Show>
                </Show>
            </Show>
            <Show when=move || { state.loaded.get() && hidden() == 0 && tab.get() == Tab::Resolved && !state.history_done.get() }>
                <button type="button" class="show-more" on:click=move |_| {
                    shown.update(|n| *n += PAGE);
                    older.dispatch_local(());
                }>"Show older incidents"</button>
            </Show>
            <Show when=move || { open_count.get() > 0 }>
                <OnCallNow/>
                <crate::ui::first_run::FirstRunCard/>
            </Show>
        </section>
    }
}

#[component]
fn TabButton(tab: RwSignal<Tab>, value: Tab, label: &'static str, count: Signal<String>) -> impl IntoView {
    view! {
        <button type="button" class="tab" aria-pressed=move || (tab.get() == value).to_string() on:click=move |_| tab.set(value)>
            {label} " " <span class="count">{move || count.get()}</span>
        </button>
    }
}

/// Status, severity, service, who I am, and "Only mine".
#[component]
fn Filters(filter: ListFilter, me: RwSignal<String>, services: Memo<Vec<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let statuses = STATUSES.into_iter().filter(|s| *s != Status::Resolved).map(|s| (s.as_str().to_string(), status_label(s).to_string())).collect::<Vec<_>>();
    let severities = Severity::ALL.into_iter().map(|s| (s.as_str().to_string(), severity_label(s).to_string())).collect::<Vec<_>>();
    view! {
        <details class="filters">
            <summary>"Filters"</summary>
            <div class="filter-grid">
                <FilterSelect id="filter-status" label="Status" any="Any status" value=filter.status options=Signal::derive(move || statuses.clone())/>
                <FilterSelect id="filter-severity" label="Severity" any="Any severity" value=filter.severity options=Signal::derive(move || severities.clone())/>
                <FilterSelect id="filter-service" label="Service" any="Any service" value=filter.service
                    options=Signal::derive(move || services.get().into_iter().map(|s| (s.clone(), s)).collect())/>
                <FilterSelect id="filter-me" label="I am" any="Not chosen" value=me
                    options=Signal::derive(move || state.people().into_iter().map(|p| (p.id.into(), p.name)).collect())/>
                <label class="check">
                    <input type="checkbox" bind:checked=filter.mine disabled=move || me.get().is_empty() />
                    " Only mine"
                </label>
            </div>
        </details>
    }
}

/// A filter: "any" (empty), or one of `options` (value, text).
#[component]
fn FilterSelect(id: &'static str, label: &'static str, any: &'static str, value: RwSignal<String>, options: Signal<Vec<(String, String)>>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                <option value="">{any}</option>
                <For each=move || options.get() key=|o| o.clone() let:o>
                    <option value=o.0.clone()>{o.1.clone()}</option>
                </For>
            </select>
        </div>
    }
}

#[component]
fn Empty(tab: Tab, any: Signal<bool>) -> impl IntoView {
    match tab {
        Tab::Resolved => view! { <div class="empty-state"><p>"No resolved incidents match."</p></div> }.into_any(),
        Tab::Open => view! {
            <div class="empty-state">
                <p>{move || if any.get() { "No open incidents match. " } else { "No open incidents. " }}
                    <a href=Route::NewIncident.href()>"Open an incident"</a>
                    " by hand, or paste an alert from PagerDuty or Alertmanager on that screen."
                </p>
            </div>
        }
        .into_any(),
    }
}

#[component]
fn IncidentRow(row: Row) -> impl IntoView {
    let state = expect_context::<AppState>();
    let deadline = row.deadline;
    let countdown_text = move || deadline.map(|d| format!("next step {}", countdown(d, state.now.get())));
    let acked = row.acknowledged_by.as_ref().map(|p| format!("Acknowledged by {}", state.person_name(p)));
    let sev = row.severity;
    view! {
        <li>
            <a class="card incident-row" href=Route::Incident(row.id.to_string()).href() data-severity=sev.as_str()>
                <span class="sev-badge" data-severity=sev.as_str()>{severity_short(sev)}</span>
                <span class="row-main">
                    <strong class="incident-title">{row.title.clone()}</strong>
                    <span class="muted row-meta">
                        {status_label(row.status)}
                        {(!row.service.is_empty()).then(|| format!(" · {}", row.service))}
                        {" · "}{row.stage.clone()}
                    </span>
                    {acked.map(|a| view! { <span class="muted">{a}</span> })}
                </span>
                <span class="row-side">
                    {(row.alert_count > 1).then(|| view! {
                        <span class="fold-count" title="Alerts folded into this incident">{format!("{} alerts", row.alert_count)}</span>
                    })}
                    <span class="countdown">{countdown_text}</span>
                </span>
            </a>
        </li>
    }
}

/// "On call now" for every schedule, on the home screen.
#[component]
fn OnCallNow() -> impl IntoView {
    let state = expect_context::<AppState>();
    let lines = Memo::new(move |_| {
        // Refresh each minute, not each second.
        let now = state.now.get();
        let minute = now - chrono::Duration::seconds(now.timestamp() % 60);
        state.world.with(|w| {
            w.schedules
                .iter()
                .map(|s| {
                    let text = crate::ui::schedules::on_call_now(w, s, minute);
                    (if s.name.is_empty() { s.id.to_string() } else { s.name.clone() }, text.trim_start_matches("On call now: ").to_string())
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <Show when=move || !lines.get().is_empty()>
            <section class="card on-call-now" aria-labelledby="on-call-now-title">
                <h2 id="on-call-now-title">"On call now"</h2>
                <ul class="plain">
                    {move || lines.get().into_iter().map(|(name, text)| view! { <li><strong>{name}</strong>": "{text}</li> }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}
