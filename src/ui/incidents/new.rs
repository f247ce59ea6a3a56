//! Intake: the new-incident form (grouped as identification, classification, source, evidence and
//! business context) with a live preview of what the rules would do, a box to paste a PagerDuty
//! Events v2 or Alertmanager v4 payload, and intake links (`/new?title=…&severity=…`) that pre-fill
//! the form.
//!
//! The preview runs the pure engine on a throwaway copy: a fresh [`Engine`] handles the draft's
//! `Open` against the configured world and the effects say what would happen. Nothing is stored.
//! (Rules about recurring alerts see no history there, so they may fire for real but not in the preview.)

use leptos::prelude::*;

use crate::route::Route;
use crate::ui::nav::use_nav;

use super::{known_me, new_incident_id, parse_severity, severity_label, use_me, AppState};
use crate::engine::escalation::{Delivery, Engine, Input};
use crate::engine::id::{IncidentId, PolicyId};
use crate::engine::incident::{Actor, EntryKind, IncidentDetails, Priority, Severity};
use crate::engine::world::World;
use crate::intake::{is_evidence_url, parse_intake_query_keeping, parse_payload_detailed_with, AlertmanagerGrouping, IntakeError};
use crate::runtime::command::Command;
use crate::ui::command::{use_command_then, use_task, Alert};
use crate::ui::policies::fields::TextField;

/// The form's fields, as typed.
#[derive(Clone, Copy, Default)]
struct DraftForm {
    title: RwSignal<String>,
    summary: RwSignal<String>,
    severity: RwSignal<String>,
    kind: RwSignal<String>,
    service: RwSignal<String>,
    source: RwSignal<String>,
    links: RwSignal<String>,
    sla_tier: RwSignal<String>,
    customer_impact: RwSignal<bool>,
    environment: RwSignal<String>,
    region: RwSignal<String>,
    policy: RwSignal<String>,
    /// What an intake link set that has no field here (labels, dedup key, priority, reporter).
    base: RwSignal<IncidentDetails>,
}

impl DraftForm {
    fn new() -> Self {
        DraftForm {
            severity: RwSignal::new(Severity::default().as_str().to_string()),
            source: RwSignal::new("person".into()),
            base: RwSignal::new(IncidentDetails::default()),
            ..Default::default()
        }
    }

    fn fill(self, d: IncidentDetails) {
        self.title.set(d.title.clone());
        self.summary.set(d.summary.clone());
        self.severity.set(d.severity.as_str().to_string());
        self.kind.set(d.kind.clone());
        self.service.set(d.service.clone());
        if !d.source.is_empty() {
            self.source.set(d.source.clone());
        }
        self.links.set(d.links.join("\n"));
        self.sla_tier.set(d.sla_tier.clone());
        self.customer_impact.set(d.customer_impact);
        self.environment.set(d.environment.clone());
        self.region.set(d.region.clone());
        self.policy.set(d.policy.as_ref().map(PolicyId::to_string).unwrap_or_default());
        self.base.set(d);
    }

    /// The details as typed (tracked: the preview follows every keystroke).
    fn draft(self) -> IncidentDetails {
        let base = self.base.get();
        IncidentDetails {
            title: self.title.get().trim().to_string(),
            summary: self.summary.get().trim().to_string(),
            severity: parse_severity(&self.severity.get()).unwrap_or_default(),
            priority: base.priority,
            kind: self.kind.get().trim().to_string(),
            service: self.service.get().trim().to_string(),
            source: self.source.get().trim().to_string(),
            environment: self.environment.get().trim().to_string(),
            region: self.region.get().trim().to_string(),
            customer_impact: self.customer_impact.get(),
            sla_tier: self.sla_tier.get().trim().to_string(),
            links: link_lines(&self.links.get()).filter(|l| is_evidence_url(l)).map(str::to_string).collect(),
            labels: base.labels,
            reporter: base.reporter,
            dedup_key: base.dedup_key,
            policy: Some(self.policy.get()).filter(|p| !p.is_empty()).map(PolicyId::from),
        }
    }
}

fn link_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

/// What opening the draft now would do.
#[derive(Clone, Debug, PartialEq, Default)]
struct Preview {
    priority: Option<Priority>,
    severity: Severity,
    /// Policy name and the level it starts at.
    policy: Option<(String, usize)>,
    rules: Vec<String>,
    /// Who is paged (and channels posted to) first.
    first: Vec<String>,
    /// Why nobody would be paged, or what it would wait for.
    notes: Vec<String>,
}

fn preview(world: &World, now: chrono::DateTime<chrono::Utc>, details: IncidentDetails) -> Preview {
    let mut engine = Engine::new();
    let id = IncidentId::new("preview");
    let outcome = engine.handle(world, now, Input::Open { id: id.clone(), by: Actor::Automation, details });
    let Some(incident) = engine.incident(&id) else { return Preview::default() };
    let mut p = Preview {
        priority: incident.details.priority,
        severity: incident.details.severity,
        policy: incident.escalation.as_ref().map(|e| (if e.policy.name.is_empty() { e.policy.id.to_string() } else { e.policy.name.clone() }, e.level + 1)),
        ..Preview::default()
    };
    for effect in outcome.effects {
        let e = effect.entry;
        match e.kind {
            EntryKind::RuleApplied => p.rules.push(e.detail),
            EntryKind::Paged | EntryKind::Posted => {
                let who = match effect.delivery {
                    Some(Delivery::Page { person, .. }) => world.person(&person).map_or_else(|| person.to_string(), |x| x.name.clone()),
                    Some(Delivery::Post { channel }) => {
                        format!(
                            "channel {}",
                            world.channel(&channel).map_or_else(|| channel.to_string(), |c| if c.name.is_empty() { c.id.to_string() } else { c.name.clone() })
                        )
                    }
                    None => continue,
                };
                if !p.first.contains(&who) {
                    p.first.push(who);
                }
            }
            EntryKind::Suppressed | EntryKind::EscalationStopped | EntryKind::CheckpointWaiting | EntryKind::LevelSkipped => {
                p.notes.push(format!("{}: {}", super::kind_words(e.kind), e.detail));
            }
            _ => {}
        }
    }
    p
}

/// One line of what a pasted payload did.
#[derive(Clone, Debug, PartialEq)]
struct PasteResult {
    ok: bool,
    text: String,
    incident: Option<IncidentId>,
}

/// Intake-link parameters whose problem is shown next to a field of the form (the rest above it).
const MARKED_KEYS: [&str; 3] = ["severity", "service", "link"];

#[component]
pub fn NewIncident() -> impl IntoView {
    let state = expect_context::<AppState>();
    let me = use_me();
    let form = DraftForm::new();
    let nav = use_nav();
    let title_error = RwSignal::new(None::<String>);
    let links_error = RwSignal::new(None::<String>);
    let link_error = RwSignal::new(None::<String>);
    // Problems with an intake link's parameters, by the parameter's key.
    let query_errors = RwSignal::new(std::collections::BTreeMap::<String, String>::new());

    // An intake link pre-fills the form (once, as the screen opens).
    prefill_from_link(&nav.address().with_untracked(|a| a.query.clone()), form, links_error, query_errors, link_error);

    let draft = Memo::new(move |_| form.draft());
    let preview = Memo::new(move |_| {
        let d = draft.get();
        let now = state.now.get_untracked();
        state.world.with(|w| preview(w, now, d))
    });

    // Where to go once it is open: the new incident, or the one it folds into.
    let opened = StoredValue::new(None::<IncidentId>);
    let open = use_command_then(move |reply| {
        if let (Ok(_), Some(id)) = (reply, opened.get_value()) {
            nav.go(Route::Incident(id.into_string()));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if open.pending() {
            return;
        }
        let mut details = draft.get_untracked();
        title_error.set(None);
        links_error.set(None);
        open.clear();
        let bad: Vec<String> = form.links.with_untracked(|l| link_lines(l).filter(|l| !is_evidence_url(l)).map(str::to_string).collect());
        if details.title.is_empty() {
            title_error.set(Some("A title is required: say what is wrong in a few words.".into()));
        }
        if !bad.is_empty() {
            links_error.set(Some(format!("Evidence links must be http:// or https:// addresses, one per line; not: {}", bad.join(", "))));
        }
        if details.title.is_empty() || !bad.is_empty() {
            return;
        }
        let me = known_me(state, &me.get_untracked());
        if details.reporter.is_empty() {
            if let Some(m) = &me {
                details.reporter = state.person_name(m);
            }
        }
        let folds_into = details.dedup_key.as_ref().and_then(|k| {
            state.incidents.with_untracked(|all| all.iter().find(|i| i.is_open() && i.details.dedup_key.as_ref() == Some(k)).map(|i| i.id.clone()))
        });
        let id = new_incident_id();
        let by = me.map(Actor::Person).unwrap_or(Actor::Automation);
        let input = Input::Open { id: id.clone(), by, details };
        opened.set_value(Some(folds_into.unwrap_or(id)));
        open.dispatch(Command::Dispatch { input });
    };

    view! {
        <section class="screen new-incident">
            <h1>"Open an incident"</h1>
            <Alert message=link_error/>
            <form class="card form incident-form" on:submit=submit novalidate aria-label="New incident">
                <WhatIsWrong form=form title_error=title_error/>
                <Classification form=form marked=query_errors/>
                <SourceAndEvidence form=form links_error=links_error/>
                <BusinessContext form=form/>
                <Show when=move || form.base.with(|b| !b.labels.is_empty() || b.dedup_key.is_some())>
                    <p class="muted from-link">
                        {move || form.base.with(|b| {
                            let mut parts: Vec<String> = b.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                            if let Some(k) = &b.dedup_key {
                                parts.push(format!("dedup key {k}"));
                            }
                            format!("From the link: {}", parts.join(", "))
                        })}
                    </p>
                </Show>

                <PreviewCard preview=preview />

                <Alert message=Signal::derive(move || open.error())/>
                <div class="actions">
                    <button type="submit" class="primary big" disabled=move || open.pending()>"Open incident"</button>
                </div>
            </form>

            <PasteAlert />
        </section>
    }
}

/// Fills the form from an intake link's query (`?title=…&severity=sev2`), keeping every valid
/// field and marking the bad ones next to their field (or above the form).
fn prefill_from_link(
    search: &str,
    form: DraftForm,
    links_error: RwSignal<Option<String>>,
    query_errors: RwSignal<std::collections::BTreeMap<String, String>>,
    link_error: RwSignal<Option<String>>,
) {
    if !search.trim_start_matches('?').is_empty() {
        // Keep every valid field; mark the bad ones next to their field (or above the form).
        let (details, problems) = parse_intake_query_keeping(search);
        form.fill(details);
        let mut elsewhere = Vec::new();
        let mut marks = std::collections::BTreeMap::new();
        for problem in problems {
            match problem {
                IntakeError::InvalidQueryValue { key, message } if MARKED_KEYS.contains(&key.as_str()) => {
                    marks.insert(key, message);
                }
                other => elsewhere.push(other.to_string()),
            }
        }
        if let Some(m) = marks.get("link") {
            links_error.set(Some(format!("From the link: {m}")));
        }
        query_errors.set(marks);
        if !elsewhere.is_empty() {
            link_error.set(Some(format!("Part of the link could not be read; everything else was filled in. {}", elsewhere.join(" "))));
        }
    }
}

/// The suggestions of a text field (`list=id`).
#[component]
fn Suggestions(id: &'static str, values: &'static [&'static str]) -> impl IntoView {
    view! {
        <datalist id=id>
            {values.iter().map(|v| view! { <option value=*v></option> }).collect_view()}
        </datalist>
    }
}

#[component]
fn WhatIsWrong(form: DraftForm, title_error: RwSignal<Option<String>>) -> impl IntoView {
    view! {
                <fieldset>
                    <legend>"What is wrong"</legend>
                    <div class="field">
                        <label for="inc-title">"Title"</label>
                        <input id="inc-title" type="text" autocomplete="off" required bind:value=form.title
                            aria-invalid=move || title_error.get().is_some().to_string() aria-describedby="inc-title-error" />
                        <p class="field-error" id="inc-title-error" role="alert">{move || title_error.get()}</p>
                    </div>
                    <div class="field">
                        <label for="inc-summary">"Summary"</label>
                        <textarea id="inc-summary" rows="3" bind:value=form.summary></textarea>
                    </div>
                </fieldset>
    }
}

#[component]
fn Classification(form: DraftForm, marked: RwSignal<std::collections::BTreeMap<String, String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let marked = move |key: &'static str| move || marked.with(|m| m.get(key).map(|e| format!("From the link: {e}")));
    let policies = move || {
        state
            .world
            .with(|w| w.policies.iter().map(|p| (p.id.to_string(), if p.name.is_empty() { p.id.to_string() } else { p.name.clone() })).collect::<Vec<_>>())
    };

    view! {
                <fieldset>
                    <legend>"Classification"</legend>
                    <div class="field">
                        <label for="inc-severity">"Severity"</label>
                        <select id="inc-severity" prop:value=move || form.severity.get() on:change=move |ev| form.severity.set(event_target_value(&ev))>
                            {Severity::ALL.into_iter().map(|s| view! { <option value=s.as_str() selected=move || form.severity.get() == s.as_str()>{severity_label(s)}</option> }).collect_view()}
                        </select>
                        <p class="field-error" role="alert">{marked("severity")}</p>
                    </div>
                    <TextField id="inc-type" label="Type" value=form.kind list="inc-types" placeholder="database, network, security…">
                    <Suggestions id="inc-types" values=&["database", "network", "security", "performance", "availability", "payments", "deployment"]/>
                    </TextField>
                    <TextField id="inc-service" label="Service" value=form.service>
                    <p class="field-error" role="alert">{marked("service")}</p>
                    </TextField>
                    <div class="field">
                        <label for="inc-policy">"Escalation policy"</label>
                        <select id="inc-policy" prop:value=move || form.policy.get() on:change=move |ev| form.policy.set(event_target_value(&ev))>
                            <option value="">"Decided by rules and the default"</option>
                            {move || policies().into_iter().map(|(id, name)| {
                                let sel = id.clone();
                                view! { <option value=id selected=move || form.policy.get() == sel>{name}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                </fieldset>
    }
}

#[component]
fn SourceAndEvidence(form: DraftForm, links_error: RwSignal<Option<String>>) -> impl IntoView {
    view! {
                <fieldset>
                    <legend>"Source and evidence"</legend>
                    <TextField id="inc-source" label="Source" value=form.source list="inc-sources">
                    <Suggestions id="inc-sources" values=&["person", "monitoring", "api"]/>
                    </TextField>
                    <div class="field">
                        <label for="inc-links">"Evidence links"</label>
                        <textarea id="inc-links" rows="2" placeholder="https://… (one per line: dashboards, logs, runbooks)" bind:value=form.links
                            aria-invalid=move || links_error.get().is_some().to_string() aria-describedby="inc-links-error"></textarea>
                        <p class="field-error" id="inc-links-error" role="alert">{move || links_error.get()}</p>
                    </div>
                </fieldset>
    }
}

#[component]
fn BusinessContext(form: DraftForm) -> impl IntoView {
    view! {
                <fieldset>
                    <legend>"Business context"</legend>
                    <TextField id="inc-env" label="Environment" value=form.environment list="inc-envs">
                    <Suggestions id="inc-envs" values=&["production", "staging"]/>
                    </TextField>
                    <TextField id="inc-region" label="Region" value=form.region/>
                    <TextField id="inc-sla" label="SLA tier" value=form.sla_tier/>
                    <label class="check">
                        <input id="inc-impact" type="checkbox" bind:checked=form.customer_impact />
                        " Customers are affected"
                    </label>
                </fieldset>
    }
}

#[component]
fn PreviewCard(preview: Memo<Preview>) -> impl IntoView {
    view! {
        <section class="rules-preview" aria-labelledby="preview-title" aria-live="polite">
            <h2 id="preview-title">"If you open it now"</h2>
            <dl class="facts">
                <dt>"Priority"</dt>
                <dd class="rules-preview-priority">{move || preview.with(|p| p.priority.map_or("none set".to_string(), |x| x.as_str().to_string()))}</dd>
                <dt>"Severity"</dt>
                <dd>{move || preview.with(|p| severity_label(p.severity))}</dd>
                <dt>"Policy"</dt>
                <dd class="rules-preview-policy">{move || preview.with(|p| match &p.policy {
                    Some((name, 1)) => name.clone(),
                    Some((name, level)) => format!("{name}, starting at level {level}"),
                    None => "none: nobody is paged".to_string(),
                })}</dd>
                <dt>"Pages first"</dt>
                <dd class="rules-preview-first">{move || preview.with(|p| if p.first.is_empty() { "nobody".to_string() } else { p.first.join(", ") })}</dd>
                <dt>"Rules that fire"</dt>
                <dd class="rules-preview-rules">{move || preview.with(|p| if p.rules.is_empty() { "none".to_string() } else { p.rules.join("; ") })}</dd>
            </dl>
            <ul class="rules-preview-notes">
                {move || preview.with(|p| p.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view())}
            </ul>
        </section>
    }
}

#[component]
fn PasteAlert() -> impl IntoView {
    let state = expect_context::<AppState>();
    let payload = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let results = RwSignal::new(Vec::<PasteResult>::new());
    // Off: an Alertmanager notification (one alert group) is one incident.
    let per_alert = RwSignal::new(false);

    // Each event of the payload is one command, sent in order.
    let take = use_task(move |intake: crate::intake::Intake| async move {
        let mut lines = Vec::new();
        for event in intake.events {
            let (what, incident) = describe(state, &event.input);
            match state.run(Command::Dispatch { input: event.input }).await {
                Ok(_) => lines.push(PasteResult { ok: true, text: what, incident }),
                Err(r) => lines.push(PasteResult { ok: false, text: format!("{what}: refused. {}", r.message), incident: None }),
            }
        }
        if intake.truncated_alerts > 0 {
            lines.push(PasteResult {
                ok: false,
                text: format!("Alertmanager left out {} more alerts (truncatedAlerts).", intake.truncated_alerts),
                incident: None,
            });
        }
        if lines.iter().all(|l| l.ok) {
            payload.set(String::new());
        }
        results.set(lines);
    });
    let take_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if take.pending().get_untracked() {
            return;
        }
        error.set(None);
        results.set(Vec::new());
        let text = payload.get_untracked();
        let mut ids = new_incident_id;
        let grouping = if per_alert.get_untracked() { AlertmanagerGrouping::PerAlert } else { AlertmanagerGrouping::PerGroup };
        let intake = match parse_payload_detailed_with(&text, grouping, &mut ids) {
            Ok(i) => i,
            Err(e) => {
                error.set(Some(e.to_string()));
                return;
            }
        };
        take.dispatch_local(intake);
    };

    view! {
        <form class="card form paste-alert" on:submit=take_in novalidate aria-labelledby="paste-title">
            <h2 id="paste-title">"Paste an alert"</h2>
            <p class="muted">"A PagerDuty Events v2 event or an Alertmanager v4 webhook: it opens, folds into or resolves incidents by its dedup key."</p>
            <div class="field wide">
                <label for="alert-payload">"Alert JSON"</label>
                <textarea id="alert-payload" rows="6" spellcheck="false" autocomplete="off" bind:value=payload
                    aria-invalid=move || error.get().is_some().to_string() aria-describedby="alert-payload-error"></textarea>
                <p class="field-error" id="alert-payload-error" role="alert">{move || error.get()}</p>
            </div>
            <label class="check">
                <input id="alert-per-alert" type="checkbox" bind:checked=per_alert />
                " One incident per Alertmanager alert"
            </label>
            <div class="actions">
                <button type="submit" disabled=move || take.pending().get()>"Take in alert"</button>
            </div>
            <ul class="paste-results" role="status">
                {move || results.get().into_iter().map(|r| {
                    let class = if r.ok { "ok" } else { "error" };
                    view! {
                        <li class=class>
                            {r.text}
                            {r.incident.map(|id| view! { " " <a href=Route::Incident(id.to_string()).href()>"Open it"</a> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </form>
    }
}

/// What an input from a payload is about to do, and the incident it concerns.
fn describe(state: AppState, input: &Input) -> (String, Option<IncidentId>) {
    let open_with_key = |key: &str| {
        state.incidents.with_untracked(|all| {
            all.iter().find(|i| i.is_open() && i.details.dedup_key.as_deref() == Some(key)).map(|i| (i.id.clone(), i.details.title.clone(), i.alert_count))
        })
    };
    match input {
        Input::Open { id, details, .. } => match details.dedup_key.as_deref().and_then(open_with_key) {
            Some((open, title, n)) => (format!("Folded into “{title}” (alert {} of it)", n + 1), Some(open)),
            None => (format!("Opened “{}”", details.title), Some(id.clone())),
        },
        Input::ResolveByKey { dedup_key, .. } => match open_with_key(dedup_key) {
            Some((open, title, _)) => (format!("Resolved “{title}”"), Some(open)),
            None => (format!("Resolve for dedup key “{dedup_key}”"), None),
        },
        _ => ("An input".to_string(), None),
    }
}
