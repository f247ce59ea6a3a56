//! Reports: whether escalation made the team faster and quieter. A period (7, 30 or 90 days, or
//! custom dates) and filters (service, team, severity, policy); every figure of
//! [`crate::insight::Report`] over the same history the Lab's Replay reads (archived and hot
//! incidents), as SVG charts each with a table of its numbers; the incident list as CSV; and the
//! open and overdue action items of retrospectives.
//!
//! The figures are computed by [`crate::insight`], their words and chart shapes by
//! [`crate::runtime::reports`]; this screen only lays them out. Every text is a text node.

use std::collections::BTreeSet;

use chrono::Duration;
use leptos::prelude::*;

use super::charts::{BarChart, ChartWithTable, DataTable, LineChart};
use super::command::use_task;
use super::download::download;
use super::policies::fields::{zone_named, Choice, Labelled};
use super::state::{browser_time_zone, AppState};
use crate::engine::id::{PolicyId, TeamId};
use crate::engine::incident::Severity;
use crate::insight::retro::open_and_overdue;
use crate::insight::{csv, incident_rows, report, IncidentRow, Report, ReportQuery, Stats};
use crate::route::Route;
use crate::runtime::reports::{self as words, duration, period_query, Table};

/// A report and the incident rows of the same query (for the CSV).
#[derive(Clone)]
struct Computed {
    report: Report,
    rows: Vec<IncidentRow>,
}

/// `(label, value in minutes, words)` for a bar of a duration.
fn minutes_bar(label: String, seconds: Option<i64>) -> (String, f64, String) {
    (label, seconds.unwrap_or(0) as f64 / 60.0, duration(seconds))
}

fn options(first: &str, rest: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    std::iter::once((String::new(), first.to_string())).chain(rest).collect()
}

#[component]
pub fn ReportsScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let zone = zone_named(&browser_time_zone());
    let today = zone.local(state.now.get_untracked()).date();
    let period = RwSignal::new("30".to_string());
    let from = RwSignal::new((today - Duration::days(29)).to_string());
    let to = RwSignal::new(today.to_string());
    let (service, team, severity, policy) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let result: RwSignal<Option<Result<Computed, String>>> = RwSignal::new(None);
    let services_seen: RwSignal<BTreeSet<String>> = RwSignal::new(BTreeSet::new());
    let csv_message = RwSignal::new(None::<Result<String, String>>);

    // Reading history and computing: one task, pending while it runs.
    let computing = use_task(move |query: ReportQuery| async move {
        let r = match state.incidents_since(query.from).await {
            Err(e) => Err(format!("History could not be read: {e}")),
            Ok(incidents) => {
                services_seen.update(|s| s.extend(incidents.iter().map(|i| i.details.service.clone()).filter(|s| !s.is_empty())));
                let now = state.now.get_untracked();
                Ok(state.world.with_untracked(|w| Computed { report: report(w, &incidents, &query, now), rows: incident_rows(w, &incidents, &query) }))
            }
        };
        result.set(Some(r));
    });

    // The query as the controls stand; the report follows every change.
    let query = move || -> Result<ReportQuery, String> {
        let mut q = period_query(&period.get(), &from.get(), &to.get(), zone, state.now.get_untracked())?;
        let chosen = |s: RwSignal<String>| Some(s.get()).filter(|v| !v.is_empty());
        q.service = chosen(service);
        q.team = chosen(team).map(TeamId::from);
        q.severity = chosen(severity).map(|s| Severity::from_str_or_default(&s));
        q.policy = chosen(policy).map(PolicyId::from);
        Ok(q)
    };
    Effect::new(move |_| {
        if !state.loaded.get() {
            return;
        }
        match query() {
            Ok(q) => {
                computing.dispatch_local(q);
            }
            Err(why) => result.set(Some(Err(why))),
        }
    });

    let period_options: Vec<(String, String)> = [("7", "The last 7 days"), ("30", "The last 30 days"), ("90", "The last 90 days"), ("custom", "Custom dates")]
        .into_iter()
        .map(|(v, t)| (v.into(), t.into()))
        .collect();
    let severity_options = options("Any severity", Severity::ALL.into_iter().map(|s| (s.as_str().to_string(), s.as_str().to_uppercase())));
    let team_options = move || {
        options(
            "Any team",
            state
                .world
                .with(|w| w.teams.iter().map(|t| (t.id.to_string(), if t.name.is_empty() { t.id.to_string() } else { t.name.clone() })).collect::<Vec<_>>()),
        )
    };
    let policy_options = move || {
        options(
            "Any policy",
            state
                .world
                .with(|w| w.policies.iter().map(|p| (p.id.to_string(), if p.name.is_empty() { p.id.to_string() } else { p.name.clone() })).collect::<Vec<_>>()),
        )
    };
    let service_options = move || options("Any service", services_seen.get().into_iter().map(|s| (s.clone(), s)));

    let on_csv = move |_| {
        let Some(Ok(c)) = result.get_untracked() else { return };
        let q = &c.report.query;
        let name = format!("piket-incidents-{}-{}.csv", zone.local(q.from).format("%Y-%m-%d"), zone.local(q.to).format("%Y-%m-%d"));
        csv_message.set(Some(download(&name, "text/csv", &csv(&c.rows)).map(|_| format!("{} incidents saved as {name}.", c.rows.len()))));
    };

    view! {
        <section class="screen reports">
            <h1>"Reports"</h1>
            <form class="card form-stack report-controls" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default() novalidate aria-label="Report period and filters">
                <div class="row report-row">
                    <Labelled label="Period" id="report-period">
                        <Choice id="report-period" options=period_options value=period/>
                    </Labelled>
                    <Show when=move || period.get() == "custom">
                        <Labelled label="From" id="report-from">
                            <input id="report-from" type="date" bind:value=from/>
                        </Labelled>
                        <Labelled label="To" id="report-to" hint="Both days included.">
                            <input id="report-to" type="date" bind:value=to/>
                        </Labelled>
                    </Show>
                </div>
                <div class="row report-row">
                    <Labelled label="Service" id="report-service">
                        {move || view! { <Choice id="report-service" options=service_options() value=service/> }}
                    </Labelled>
                    <Labelled label="Team" id="report-team">
                        {move || view! { <Choice id="report-team" options=team_options() value=team/> }}
                    </Labelled>
                    <Labelled label="Severity" id="report-severity">
                        <Choice id="report-severity" options=severity_options value=severity/>
                    </Labelled>
                    <Labelled label="Policy" id="report-policy">
                        {move || view! { <Choice id="report-policy" options=policy_options() value=policy/> }}
                    </Labelled>
                </div>
            </form>
            <p class="muted" aria-live="polite">{move || computing.pending().get().then_some("Reading history…")}</p>
            {move || result.get().map(|r| match r {
                Err(why) => view! { <p class="error" role="alert">{why}</p> }.into_any(),
                Ok(c) => view! {
                    <div class="actions">
                        <button type="button" on:click=on_csv>"Download CSV"</button>
                    </div>
                    <super::command::Outcome message=csv_message/>
                    <ReportView report=c.report/>
                }.into_any(),
            })}
            <ActionItems/>
        </section>
    }
}

/// Every figure of one report.
#[component]
fn ReportView(report: Report) -> impl IntoView {
    let r = report;
    if r.totals.incidents == 0 {
        return view! { <p class="muted report-empty">"No incidents were opened in this period (with these filters)."</p> }.into_any();
    }
    let severity_bars: Vec<_> = r.by_severity.iter().map(|s| minutes_bar(s.severity.as_str().to_uppercase(), s.mtta.median_s)).collect();
    let level_bars: Vec<_> = r.by_level.iter().map(|l| minutes_bar(format!("Level {}", l.level), l.mtta.median_s)).collect();
    let histogram_bars = |b: &[crate::insight::Bucket]| b.iter().map(|b| (b.label.clone(), b.count as f64, b.count.to_string())).collect::<Vec<_>>();
    let responder_bars: Vec<_> = r.fatigue.responders.iter().map(|p| (p.name.clone(), p.pages as f64, p.pages.to_string())).collect();
    let days = &r.charts.per_day;
    let (first_day, last_day) = (
        days.first().map(|d| d.date.format("%-d %b").to_string()).unwrap_or_default(),
        days.last().map(|d| d.date.format("%-d %b").to_string()).unwrap_or_default(),
    );
    let opened: Vec<f64> = days.iter().map(|d| d.opened as f64).collect();
    let flagged: Vec<String> = r.fatigue.responders.iter().filter(|p| p.above_threshold).map(|p| p.name.clone()).collect();
    let suggestions: Vec<String> = r.timers.ack.iter().chain(&r.timers.resolution).map(|c| format!("{}: {}", c.policy_name, c.suggestion)).collect();
    let (ack_histogram, resolve_histogram) = (histogram_bars(&r.charts.time_to_ack), histogram_bars(&r.charts.time_to_resolve));
    let stat_words = |s: &Stats| format!("median {}, p90 {}", duration(s.median_s), duration(s.p90_s));
    view! {
        <section class="card report-section" aria-labelledby="report-headline">
            <h2 id="report-headline">"In this period"</h2>
            <dl class="report-figures">
                {words::headline(&r).into_iter().map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
            </dl>
        </section>

        <section class="card report-section" aria-labelledby="report-times">
            <h2 id="report-times">"Time to acknowledge and resolve"</h2>
            <p>{format!("MTTA {}; MTTR {}.", stat_words(&r.mtta), stat_words(&r.mttr))}</p>
            <ChartWithTable title="MTTA median per severity" table=words::by_severity(&r)>
                <BarChart label="MTTA median per severity, in minutes" items=severity_bars/>
            </ChartWithTable>
            <ChartWithTable title="MTTA median per policy level" table=words::by_level(&r)>
                <BarChart label="MTTA median per policy level, in minutes" items=level_bars/>
            </ChartWithTable>
            <ChartWithTable title="Time to acknowledge" table=words::histogram("Time to acknowledge", &r.charts.time_to_ack)>
                <BarChart label="Time to acknowledge: incidents per range" items=ack_histogram/>
            </ChartWithTable>
            <ChartWithTable title="Time to resolve" table=words::histogram("Time to resolve", &r.charts.time_to_resolve)>
                <BarChart label="Time to resolve: incidents per range" items=resolve_histogram/>
            </ChartWithTable>
            <ChartWithTable title="Incidents opened per day" table=words::per_day(&r)>
                <LineChart label="Incidents opened per day" values=opened first=first_day last=last_day/>
            </ChartWithTable>
        </section>

        <section class="card report-section" aria-labelledby="report-escalation">
            <h2 id="report-escalation">"Escalation"</h2>
            <DataTable table=words::efficiency(&r)/>
            <DataTable table=words::repeat_escalations(&r)/>
        </section>

        <section class="card report-section" aria-labelledby="report-timers">
            <h2 id="report-timers">"Configured timers against real ones"</h2>
            <ul class="report-suggestions">{suggestions.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
            <DataTable table=words::timers("Ack timeouts against times to acknowledge", &r.timers.ack)/>
            <DataTable table=words::timers("Resolution timeouts against times to resolve", &r.timers.resolution)/>
        </section>

        <section class="card report-section" aria-labelledby="report-fatigue">
            <h2 id="report-fatigue">"Alert fatigue"</h2>
            <p>{format!("{} pages, {} at night, {} repeated for the same dedup key.", r.fatigue.pages, r.fatigue.night_pages, r.fatigue.repeated_pages)}</p>
            <p class="report-flagged">{if flagged.is_empty() { "Nobody is above the threshold.".to_string() } else { format!("Above the threshold: {}.", flagged.join(", ")) }}</p>
            <p class="hint">{words::threshold_note(&r)}</p>
            <ChartWithTable title="Pages per responder" table=words::responders(&r)>
                <BarChart label="Pages per responder" items=responder_bars/>
            </ChartWithTable>
            <DataTable table=words::noise("Noisiest services", "Service", &r.fatigue.noisiest_services)/>
            <DataTable table=words::noise("Noisiest rules", "Rule", &r.fatigue.noisiest_rules)/>
            <DataTable table=words::noise("Repeated pages per dedup key", "Dedup key", &r.fatigue.repeated_keys)/>
        </section>

        <section class="card report-section" aria-labelledby="report-accuracy">
            <h2 id="report-accuracy">"Severity accuracy"</h2>
            <DataTable table=words::severity_accuracy(&r)/>
        </section>
    }
    .into_any()
}

/// Open and overdue action items of every retrospective, each linked to its incident.
#[component]
fn ActionItems() -> impl IntoView {
    let state = expect_context::<AppState>();
    let zone = zone_named(&browser_time_zone());
    let table = Memo::new(move |_| {
        let today = zone.local(state.now.get()).date();
        let items = state.retrospectives.with(|r| open_and_overdue(r, today));
        (state.world.with(|w| words::open_items(&items, w)), items.into_iter().map(|i| i.incident).collect::<Vec<_>>())
    });
    view! {
        <section class="card report-section" aria-labelledby="report-items">
            <h2 id="report-items">"Open action items"</h2>
            {move || {
                let (t, incidents): (Table, Vec<_>) = table.get();
                if t.rows.is_empty() {
                    return view! { <p class="muted">"No open action items. Resolved incidents get a retrospective on their page."</p> }.into_any();
                }
                let head = t.head.clone();
                view! {
                    <table class="report-table action-items">
                        <caption>{t.caption}</caption>
                        <thead><tr>{t.head.into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}</tr></thead>
                        <tbody>
                            {t.rows.into_iter().zip(incidents).map(|(row, id)| {
                                let overdue = row[3].starts_with("overdue");
                                let last = row.len() - 1;
                                let head = head.clone();
                                view! {
                                    <tr class:overdue=overdue>
                                        {row.into_iter().enumerate().map(|(i, cell)| {
                                            let label = head.get(i).cloned().unwrap_or_default();
                                            if i == last {
                                                view! { <td data-label=label><a href=Route::Incident(id.to_string()).href()>{cell}</a></td> }.into_any()
                                            } else {
                                                view! { <td data-label=label>{cell}</td> }.into_any()
                                            }
                                        }).collect_view()}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}
