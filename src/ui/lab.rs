//! The Lab: drills on a virtual clock, replays of past incidents against another policy, a coverage
//! check for gaps, and scenarios run from JSON.
//!
//! Everything is computed in the page by [`crate::runtime::lab`] on a clone of the world: nothing
//! is stored, nobody is paged. Text from the world or a scenario is rendered as text.

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use super::command::use_task;
use super::policies::fields::{datetime_input, local_text, parse_datetime_input, zone_named, Choice, Labelled};
use super::state::{browser_time_zone, AppState};
use crate::engine::format::SimulationLine;
use crate::engine::id::{IncidentId, PersonId, PolicyId};
use crate::engine::incident::Severity;
use crate::engine::time::Zone;
use crate::engine::world::World;
use crate::runtime::lab::{coverage, drill, run_scenario, Coverage, Drill, DrillSetup, Ending, Span, COVERAGE_DAYS, DRILL_HOURS};
use crate::runtime::replay::{replay, replay_with, Reach, Replay, REPLAY_LINES_SHOWN};

/// The example scenario the "Load the example scenario" button fills in.
const EXAMPLE_SCENARIO: &str = include_str!("../../examples/scenario-sev1-night.json");

fn severity_of(s: &str) -> Severity {
    Severity::from_str_or_default(s)
}

/// “at once”, “+10 min”, “+1 h 30 min”.
fn after(d: Duration) -> String {
    let m = d.num_minutes();
    match (m / 60, m % 60) {
        (0, 0) => "at once".into(),
        (0, m) => format!("+{m} min"),
        (h, 0) => format!("+{h} h"),
        (h, m) => format!("+{h} h {m} min"),
    }
}

/// “Mon 3 Mar 17:00 – Tue 4 Mar 09:00”.
fn span_text(zone: Zone, (from, to): Span) -> String {
    format!("{} – {}", local_text(zone, from), local_text(zone, to))
}

/// A drill's outcome, and when its clock stopped.
type DrillResult = (Result<Drill, String>, Option<DateTime<Utc>>);

#[component]
pub fn LabScreen() -> impl IntoView {
    view! {
        <section class="screen config lab">
            <h1>"Lab"</h1>
            <p class="lede">"Try your policies without paging anyone: everything here runs in this page on a virtual clock and nothing is saved."</p>
            <DrillPanel/>
            <ReplayPanel/>
            <CoveragePanel/>
            <ScenarioPanel/>
        </section>
    }
}

/// "The default (…)" first, then every policy by name.
fn policy_choices(w: &World) -> Vec<(String, String)> {
    let name = |p: &crate::engine::policy::EscalationPolicy| if p.name.is_empty() { p.id.to_string() } else { p.name.clone() };
    let default = w.default_policy.as_deref().and_then(|id| w.policy(id)).map(name);
    let mut options = vec![(String::new(), default.map(|n| format!("The default ({n})")).unwrap_or_else(|| "The default (none set)".into()))];
    options.extend(w.policies.iter().map(|p| (p.id.to_string(), name(p))));
    options
}

#[component]
fn DrillPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let zone = zone_named(&browser_time_zone());
    let policy = RwSignal::new(String::new());
    let severity = RwSignal::new("sev1".to_string());
    let start = RwSignal::new(datetime_input(zone, state.now.get_untracked()));
    let ack = RwSignal::new("nobody".to_string());
    let ack_minutes = RwSignal::new("5".to_string());
    let result: RwSignal<Option<DrillResult>> = RwSignal::new(None);

    let policy_options = move || state.world.with(policy_choices);
    let severity_options: Vec<(String, String)> =
        [("sev1", "SEV1 (critical)"), ("sev2", "SEV2"), ("sev3", "SEV3"), ("sev4", "SEV4 (low)")].into_iter().map(|(v, t)| (v.into(), t.into())).collect();
    let ack_options: Vec<(String, String)> = vec![("nobody".into(), "Nobody acknowledges".into()), ("after".into(), "Acknowledged after N minutes".into())];

    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(t0) = parse_datetime_input(zone, &start.get_untracked()) else {
            result.set(Some((Err("Choose when the incident opens.".into()), None)));
            return;
        };
        let ack_after = if ack.get_untracked() == "after" {
            match ack_minutes.get_untracked().trim().parse::<i64>() {
                Ok(m) if m >= 0 => Some(m),
                _ => {
                    result.set(Some((Err("Give the minutes until someone acknowledges as a whole number (0 or more).".into()), None)));
                    return;
                }
            }
        } else {
            None
        };
        let setup = DrillSetup {
            policy: Some(policy.get_untracked()).filter(|p| !p.is_empty()).map(PolicyId::from),
            severity: severity_of(&severity.get_untracked()),
            start: t0,
            ack_after,
        };
        result.set(Some((state.world.with_untracked(|w| drill(w, &setup)), Some(t0))));
    };

    view! {
        <section class="card lab-panel" aria-labelledby="lab-drill-title">
            <h2 id="lab-drill-title">"Drill"</h2>
            <p class="hint">{format!("Open a pretend incident and watch the policy's path for up to {DRILL_HOURS} hours. Rules and maintenance windows are left out, so the path is the policy's own.")}</p>
            <form class="form-stack" on:submit=run novalidate aria-label="Drill">
                <Labelled label="Policy" id="lab-policy">
                    {move || view! { <Choice id="lab-policy" options=policy_options() value=policy/> }}
                </Labelled>
                <div class="row lab-row">
                    <Labelled label="Severity" id="lab-severity">
                        <Choice id="lab-severity" options=severity_options value=severity/>
                    </Labelled>
                    <Labelled label="Starts at" id="lab-start" hint=format!("Your time ({}).", zone.name())>
                        <input id="lab-start" type="datetime-local" bind:value=start/>
                    </Labelled>
                </div>
                <div class="row lab-row">
                    <Labelled label="Acknowledgement" id="lab-ack">
                        <Choice id="lab-ack" options=ack_options value=ack/>
                    </Labelled>
                    <Show when=move || ack.get() == "after">
                        <Labelled label="Minutes until acknowledged" id="lab-ack-minutes" hint="The person paged last acknowledges.">
                            <input id="lab-ack-minutes" type="number" min="0" step="1" inputmode="numeric" bind:value=ack_minutes/>
                        </Labelled>
                    </Show>
                </div>
                <div class="actions">
                    <button type="submit" class="primary">"Run drill"</button>
                </div>
            </form>
            <div class="lab-drill-result" aria-live="polite">
                {move || result.get().map(|(r, t0)| match r {
                    Err(why) => view! { <p class="error" role="alert">{why}</p> }.into_any(),
                    Ok(d) => view! { <DrillResult drill=d start=t0.unwrap_or_default() zone=zone/> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[component]
fn DrillResult(drill: Drill, start: DateTime<Utc>, zone: Zone) -> impl IntoView {
    let first = drill.first_page_after.map(after).unwrap_or_else(|| "nobody was paged".into());
    let people = if drill.people.is_empty() { "nobody".to_string() } else { drill.people.join(", ") };
    let levels = drill.deepest_level.map(|l| format!("up to level {l}")).unwrap_or_else(|| "none".into());
    let repeats = match drill.repeats {
        0 => String::new(),
        1 => ", after going round once more".into(),
        n => format!(", after going round {n} more times"),
    };
    let ending = match &drill.ending {
        Ending::Acknowledged { by, at } => format!("acknowledged by {by} {}{repeats}", after(*at - start)),
        Ending::Stopped { at, why } => format!("stopped {} ({why}){repeats}", after(*at - start)),
        Ending::Waiting { level } => format!("waits at level {level}, which has no timeout{repeats}"),
        Ending::StillEscalating => format!("still escalating after {DRILL_HOURS} hours{repeats}"),
    };
    let head = format!("{} at {}", drill.policy_name, local_text(zone, start));
    view! {
        <h3 class="lab-head">{head}</h3>
        {drill.ack_note.clone().map(|n| view! { <p class="error" role="alert">{n}</p> })}
        <dl class="lab-measures">
            <div><dt>"Time to first page"</dt><dd>{first}</dd></div>
            <div><dt>"Pages"</dt><dd>{drill.pages.to_string()}</dd></div>
            <div><dt>"People paged"</dt><dd>{people}</dd></div>
            <div><dt>"Levels reached"</dt><dd>{levels}</dd></div>
            <div><dt>"End"</dt><dd>{ending}</dd></div>
        </dl>
        <table class="lab-table lab-timeline">
            <caption class="sr-only">"Drill timeline"</caption>
            <thead><tr><th scope="col">"Time"</th><th scope="col">"What"</th><th scope="col">"Who"</th></tr></thead>
            <tbody>
                {drill
                    .lines
                    .into_iter()
                    .map(|l| {
                        let when = format!("{} ({})", after(l.at - start), zone.local(l.at).format("%a %H:%M"));
                        view! {
                            <tr>
                                <td data-label="Time" class="lab-when">{when}</td>
                                <td data-label="What">{l.what}</td>
                                <td data-label="Who" class="lab-who">{l.who}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

/// The choice that replays the policy being edited.
const DRAFT: &str = "\u{1}draft";

#[component]
fn ReplayPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let zone = zone_named(&browser_time_zone());
    let policy = RwSignal::new(String::new());
    let period = RwSignal::new("30".to_string());
    let result: RwSignal<Option<Result<(Replay, Took), String>>> = RwSignal::new(None);
    let policy_options = move || state.world.with(policy_choices);
    let period_options: Vec<(String, String)> =
        [("1", "The last 24 hours"), ("7", "The last 7 days"), ("30", "The last 30 days"), ("90", "The last 90 days"), ("365", "The last year")]
            .into_iter()
            .map(|(v, t)| (v.into(), t.into()))
            .collect();
    // The policy being edited (unsaved) can be replayed too.
    let policy_options = move || {
        let mut options = policy_options();
        if let Some(d) = state.draft_policy.get() {
            options.push((DRAFT.into(), format!("The draft being edited ({})", if d.name.is_empty() { d.id.to_string() } else { d.name.clone() })));
        }
        options
    };
    // Replaying reads history from the archive first: one task, pending while it runs.
    // How long reading and replaying took is shown with the result.
    let replaying = use_task(move |(chosen, since, now): (String, DateTime<Utc>, DateTime<Utc>)| async move {
        let started = js_sys::Date::now();
        let r = match state.incidents_since(since).await {
            Err(e) => Err(format!("History could not be read: {e}")),
            Ok(incidents) => {
                let read = js_sys::Date::now();
                state
                    .world
                    .with_untracked(|w| match state.draft_policy.get_untracked().filter(|_| chosen == DRAFT) {
                        Some(draft) => Ok(replay_with(w, &incidents, draft, since, now)),
                        None => replay(w, &incidents, Some(chosen.as_str()), since, now),
                    })
                    .map(|r| (r, Took { read_ms: read - started, replay_ms: js_sys::Date::now() - read }))
            }
        };
        result.set(Some(r));
    });
    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if replaying.pending().get_untracked() {
            return;
        }
        let now = state.now.get_untracked();
        let days = period.get_untracked().parse::<i64>().unwrap_or(30);
        replaying.dispatch_local((policy.get_untracked(), now - Duration::days(days), now));
    };
    view! {
        <section class="card lab-panel" aria-labelledby="lab-replay-title">
            <h2 id="lab-replay-title">"Replay"</h2>
            <p class="hint">{format!("Run past incidents again with another policy: each opens at its own time and gets the acknowledgements and resolution it really got. Rules still apply, except routing to another policy. The table lists the {REPLAY_LINES_SHOWN} most recent; the totals count them all.")}</p>
            <form class="form-stack" on:submit=run novalidate aria-label="Replay">
                <div class="row lab-row">
                    <Labelled label="Replay with policy" id="replay-policy">
                        {move || view! { <Choice id="replay-policy" options=policy_options() value=policy/> }}
                    </Labelled>
                    <Labelled label="Incidents opened in" id="replay-period">
                        <Choice id="replay-period" options=period_options value=period/>
                    </Labelled>
                </div>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || replaying.pending().get()>"Replay incidents"</button>
                </div>
            </form>
            <div class="lab-replay-result" aria-live="polite">
                {move || result.get().map(|r| match r {
                    Err(why) => view! { <p class="error" role="alert">{why}</p> }.into_any(),
                    Ok((r, took)) => view! { <ReplayResult replay=r took=took zone=zone/> }.into_any(),
                })}
            </div>
        </section>
    }
}

/// “2 pages: Alice, Bob (level 2; first at once; 1 before the ack)”.
fn reach_text(r: &Reach, acknowledged: bool) -> String {
    if r.pages == 0 {
        return "nobody paged".into();
    }
    let pages = if r.pages == 1 { "1 page".to_string() } else { format!("{} pages", r.pages) };
    let level = r.deepest_level.map(|l| format!("level {l}; ")).unwrap_or_default();
    let first = r.first_page_after.map(|d| format!("first {}", after(d))).unwrap_or_default();
    let before = if acknowledged { format!("; {} before the ack", r.pages_before_ack) } else { String::new() };
    format!("{pages}: {} ({level}{first}{before})", r.people.join(", "))
}

/// How long a replay took: reading history, then replaying it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Took {
    read_ms: f64,
    replay_ms: f64,
}

#[component]
fn ReplayResult(replay: Replay, took: Took, zone: Zone) -> impl IntoView {
    if replay.lines.is_empty() {
        return view! { <p class="muted">"No incidents were opened in that period."</p> }.into_any();
    }
    let (actual, replayed) = (replay.actual_pages(), replay.replayed_pages());
    let n = replay.lines.len();
    let head = format!("{n} {} replayed with {}", if n == 1 { "incident" } else { "incidents" }, replay.policy_name);
    let change = match replayed.cmp(&actual) {
        std::cmp::Ordering::Equal => "the same number of pages".to_string(),
        std::cmp::Ordering::Greater => format!("{} more", replayed - actual),
        std::cmp::Ordering::Less => format!("{} fewer", actual - replayed),
    };
    let differ = replay.lines.iter().filter(|l| l.actual.people != l.replayed.people || l.actual.pages != l.replayed.pages).count();
    view! {
        <h3 class="lab-head">{head}</h3>
        <dl class="lab-measures">
            <div><dt>"Pages, as it went"</dt><dd>{actual.to_string()}</dd></div>
            <div><dt>"Pages with this policy"</dt><dd>{format!("{replayed} ({change})")}</dd></div>
            <div><dt>"Incidents that would go differently"</dt><dd>{differ.to_string()}</dd></div>
        </dl>
        <p class="muted lab-replay-took">
            {format!("History read in {:.2} s, replayed in {:.2} s.", took.read_ms / 1000.0, took.replay_ms / 1000.0)}
        </p>
        {(n > REPLAY_LINES_SHOWN).then(|| view! { <p class="muted">{format!("The {REPLAY_LINES_SHOWN} most recent of {n} are listed.")}</p> })}
        <table class="lab-table lab-replay">
            <caption class="sr-only">"Each incident, as it went and with this policy"</caption>
            <thead><tr><th scope="col">"Incident"</th><th scope="col">"As it went"</th><th scope="col">"With this policy"</th></tr></thead>
            <tbody>
                {replay
                    .lines
                    .into_iter()
                    .take(REPLAY_LINES_SHOWN)
                    .map(|l| {
                        let acknowledged = l.acknowledged_after.is_some();
                        let ack = match l.acknowledged_after.map(after) {
                            Some(a) if a.starts_with('+') => format!(", acknowledged after {}", &a[1..]),
                            Some(a) => format!(", acknowledged {a}"),
                            None => ", not acknowledged".into(),
                        };
                        let what = format!("{} ({}, {}{ack})", l.title, l.severity.as_str().to_uppercase(), local_text(zone, l.opened_at));
                        view! {
                            <tr>
                                <td data-label="Incident">{what}</td>
                                <td data-label="As it went">{reach_text(&l.actual, acknowledged)}</td>
                                <td data-label="With this policy">{reach_text(&l.replayed, acknowledged)}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn CoveragePanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let zone = zone_named(&browser_time_zone());
    let checked_at = RwSignal::new(state.now.get_untracked());
    let report = Memo::new(move |_| {
        let now = checked_at.get();
        state.world.with(|w| coverage(w, now))
    });
    view! {
        <section class="card lab-panel lab-coverage" aria-labelledby="lab-coverage-title">
            <h2 id="lab-coverage-title">{format!("Coverage, the next {COVERAGE_DAYS} days")}</h2>
            <div class="actions">
                <button type="button" on:click=move |_| checked_at.set(state.now.get_untracked())>"Check coverage"</button>
            </div>
            <div aria-live="polite">
                {move || {
                    let r = report.get();
                    view! { <CoverageReport report=r zone=zone checked=checked_at.get()/> }
                }}
            </div>
        </section>
    }
}

#[component]
fn CoverageReport(report: Coverage, zone: Zone, checked: DateTime<Utc>) -> impl IntoView {
    let clean = report.is_clean();
    let no_schedules = report.schedules.is_empty();
    view! {
        <p class="hint">{format!("Checked from {}.", local_text(zone, checked))}</p>
        {clean.then(|| view! { <p class="ok">"No gaps found"</p> })}
        <h3>"Schedules"</h3>
        {no_schedules.then(|| view! { <p class="muted">"No on-call schedules yet."</p> })}
        <ul class="plain lab-schedules">
            {report
                .schedules
                .into_iter()
                .map(|s| {
                    let gaps = s.gaps.len();
                    view! {
                        <li>
                            <strong>{s.name}</strong>
                            ": "
                            {if gaps == 0 { "someone is on call throughout".to_string() } else if gaps == 1 { "1 gap".into() } else { format!("{gaps} gaps") }}
                            {(gaps > 0).then(|| view! {
                                <ul class="lab-gaps">
                                    {s.gaps.into_iter().map(|g| view! { <li class="error">{format!("Nobody on call {}", span_text(zone, g))}</li> }).collect_view()}
                                </ul>
                            })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        {(!report.empty_levels.is_empty()).then(|| view! {
            <h3>"Levels that reach nobody"</h3>
            <ul class="plain">
                {report.empty_levels.into_iter().map(|l| {
                    let more = if l.times > 1 { format!(" (and {} more handoffs)", l.times - 1) } else { String::new() };
                    view! { <li class="error">{format!("{}: level {} reaches nobody at {}{more}; it would be skipped", l.policy, l.level, local_text(zone, l.first))}</li> }
                }).collect_view()}
            </ul>
        })}
        {(!report.no_ack_timeout.is_empty()).then(|| view! {
            <h3>"Levels without an acknowledgement timeout"</h3>
            <ul class="plain">{report.no_ack_timeout.into_iter().map(|t| view! { <li class="error">{t}</li> }).collect_view()}</ul>
        })}
        {report.default_policy.map(|t| view! {
            <h3>"Default policy"</h3>
            <p class="error">{t}</p>
        })}
        {(!report.unpaged.is_empty()).then(|| view! {
            <h3>"People no policy pages"</h3>
            <p>{report.unpaged.join(", ")}</p>
            <p class="hint">"Only a rule, a reassignment or a manual page can reach them."</p>
        })}
    }
}

#[component]
fn ScenarioPanel() -> impl IntoView {
    let text = RwSignal::new(String::new());
    let result: RwSignal<Option<Result<Vec<SimulationLine>, Vec<String>>>> = RwSignal::new(None);
    let run = move |_| result.set(Some(run_scenario(&text.get_untracked())));
    view! {
        <section class="card lab-panel lab-scenario" aria-labelledby="lab-scenario-title">
            <h2 id="lab-scenario-title">"Scenario"</h2>
            <p class="hint">"A world and timed inputs (alerts, acknowledgements, notes, resolutions) as JSON; times are in UTC."</p>
            <div class="form-stack">
                <Labelled label="Scenario JSON" id="lab-scenario-json">
                    <textarea id="lab-scenario-json" rows="10" spellcheck="false" autocomplete="off" bind:value=text></textarea>
                </Labelled>
                <div class="actions">
                    <button type="button" on:click=move |_| text.set(EXAMPLE_SCENARIO.to_string())>"Load the example scenario"</button>
                    <button type="button" class="primary" on:click=run>"Run scenario"</button>
                </div>
            </div>
            <div class="lab-scenario-result" aria-live="polite">
                {move || result.get().map(|r| match r {
                    Err(errors) => view! {
                        <div class="error" role="alert">
                            <p>"The scenario could not be read:"</p>
                            <ul>{errors.into_iter().map(|e| view! { <li>{e}</li> }).collect_view()}</ul>
                        </div>
                    }
                    .into_any(),
                    Ok(lines) if lines.is_empty() => view! { <p class="muted">"Nothing happened."</p> }.into_any(),
                    Ok(lines) => view! {
                        <p class="hint">{format!("{} lines.", lines.len())}</p>
                        <table class="lab-table lab-lines">
                            <caption class="sr-only">"Scenario output"</caption>
                            <thead><tr>
                                <th scope="col">"Time (UTC)"</th>
                                <th scope="col">"Incident"</th>
                                <th scope="col">"What"</th>
                                <th scope="col">"Level"</th>
                                <th scope="col">"Who"</th>
                                <th scope="col">"Detail"</th>
                            </tr></thead>
                            <tbody>
                                {lines.into_iter().map(|l| {
                                    let who = l.person.as_ref().map(PersonId::to_string).or_else(|| l.target.clone()).or_else(|| l.actor.clone().filter(|a| a != "automation")).unwrap_or_default();
                                    let level = match (l.level, l.pass) {
                                        (Some(n), Some(p)) if p > 0 => format!("{n} (loop {})", p + 1),
                                        (Some(n), _) => n.to_string(),
                                        _ => String::new(),
                                    };
                                    view! {
                                        <tr class:rejected=l.kind == "rejected">
                                            <td data-label="Time (UTC)" class="lab-when">{l.time.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                            <td data-label="Incident">{l.incident.map(IncidentId::into_string).unwrap_or_default()}</td>
                                            <td data-label="What">{l.kind.replace('_', " ")}</td>
                                            <td data-label="Level">{level}</td>
                                            <td data-label="Who" class="lab-who">{who}</td>
                                            <td data-label="Detail">{l.detail}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }
                    .into_any(),
                })}
            </div>
        </section>
    }
}
