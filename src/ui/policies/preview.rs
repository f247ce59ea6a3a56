//! The live preview of a draft policy's path: who would be paged, and when, if an incident of a
//! given severity opened at a given time and nobody answered.
//!
//! Computed purely: a throwaway [`Engine`] on a clone of the world (without rules or maintenance
//! windows, so the path is the policy's own) runs the incident from the chosen instant, stepping
//! to each `poll_timeout()` for a few hours. Nothing is saved and nobody is paged.

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use super::fields::local_text;
use crate::engine::escalation::{Engine, Input};
use crate::engine::incident::{Actor, EntryKind, IncidentDetails, Severity};
use crate::engine::policy::EscalationPolicy;
use crate::engine::world::World;

/// How far the preview runs the clock.
pub const PREVIEW_HOURS: i64 = 6;
/// At most this many deadlines are stepped (a repeating policy with short timeouts stops here).
const PREVIEW_STEPS: usize = 200;

/// What happens at one instant of the path.
#[derive(Clone, Debug, PartialEq)]
pub struct PathStep {
    pub at: DateTime<Utc>,
    /// People paged, by name, in the engine's order.
    pub paged: Vec<String>,
    /// Channels posted to, and other things worth saying (a skipped level, a checkpoint, the end).
    pub notes: Vec<String>,
}

/// The path of `policy` for an incident of `severity` opened at `start`, grouped by instant.
pub fn path_of(world: &World, policy: &EscalationPolicy, severity: Severity, start: DateTime<Utc>) -> Vec<PathStep> {
    let mut world = world.clone();
    world.rules.clear();
    world.maintenance.clear();
    let mut policy = policy.clone();
    if policy.id.trim().is_empty() {
        policy.id = "draft-preview".into();
    }
    world.policies.retain(|p| p.id != policy.id);
    world.policies.push(policy.clone());

    let mut engine = Engine::new();
    let details = IncidentDetails { title: "Preview".into(), severity, policy: Some(policy.id.clone()), ..IncidentDetails::default() };
    let outcome = engine.handle(&world, start, Input::Open { id: "preview".into(), by: Actor::Automation, details });
    let mut effects = outcome.effects;
    let end = start + Duration::hours(PREVIEW_HOURS);
    for _ in 0..PREVIEW_STEPS {
        match engine.poll_timeout() {
            Some(t) if t <= end => effects.extend(engine.handle_timeout(&world, t)),
            _ => break,
        }
    }

    let mut steps: Vec<PathStep> = Vec::new();
    for effect in effects {
        let e = &effect.entry;
        let level = e.level.map(|l| format!("level {l}")).unwrap_or_default();
        let (page, note) = match e.kind {
            EntryKind::Paged => (e.person.as_deref().map(|p| world.person(p).map(|x| x.name.clone()).unwrap_or_else(|| p.to_string())), None),
            EntryKind::Posted => {
                let channel = e.target.as_deref().and_then(|t| t.strip_prefix("channel:")).unwrap_or_default();
                let name = world.channel(channel).map(|c| c.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| channel.to_string());
                (None, Some(format!("post to {name}")))
            }
            EntryKind::LevelSkipped => (None, Some(format!("{level} skipped ({})", e.detail))),
            EntryKind::CheckpointWaiting => (None, Some(format!("{level} waits for confirmation: “{}”", e.detail))),
            EntryKind::CheckpointTimedOut => (None, Some(format!("nobody confirmed: {}", e.detail))),
            EntryKind::LoopStarted => (None, Some(e.detail.clone())),
            EntryKind::EscalationStopped => (None, Some(format!("escalation stops ({})", e.detail))),
            EntryKind::AckReminder => (None, None),
            _ => (None, None),
        };
        if page.is_none() && note.is_none() {
            continue;
        }
        if steps.last().is_none_or(|s| s.at != e.at) {
            steps.push(PathStep { at: e.at, paged: Vec::new(), notes: Vec::new() });
        }
        let step = steps.last_mut().expect("just pushed");
        if let Some(p) = page {
            if !step.paged.contains(&p) {
                step.paged.push(p);
            }
        }
        if let Some(n) = note {
            step.notes.push(n);
        }
    }
    steps
}

/// “+20 s”, “+10 min”, “+1 h 30 min” (to the second: a 20 s timeout is not “+0 min”).
fn after(d: Duration) -> String {
    crate::engine::time::offset_text(d.num_seconds())
}

/// The preview list (class `path-preview`): one line per instant.
#[component]
pub fn PathPreview(
    steps: Signal<Result<Vec<PathStep>, String>>,
    start: Signal<Option<DateTime<Utc>>>,
    severity: Signal<Severity>,
    zone: Signal<crate::engine::time::Zone>,
) -> impl IntoView {
    view! {
        <div class="path-preview" aria-live="polite">
            {move || match (steps.get(), start.get()) {
                (Err(why), _) => view! { <p class="muted">{why}</p> }.into_any(),
                (Ok(_), None) => view! { <p class="muted">"Choose when the incident opens."</p> }.into_any(),
                (Ok(list), Some(t0)) => {
                    let zone = zone.get();
                    let head = format!("{} at {} →", severity.get().as_str().to_uppercase(), local_text(zone, t0));
                    let empty = list.is_empty();
                    view! {
                        <p class="path-head"><strong>{head}</strong></p>
                        <ol class="path-steps">
                            {list
                                .into_iter()
                                .map(|s| {
                                    let when = if s.at == t0 { "now".to_string() } else { format!("{} ({})", after(s.at - t0), zone.local(s.at).format("%a %H:%M")) };
                                    let who = s.paged.join(" + ");
                                    let notes = s.notes.join("; ");
                                    view! {
                                        <li>
                                            <span class="path-when">{when}</span>
                                            " "
                                            <span class="path-who">{who}</span>
                                            {(!notes.is_empty()).then(|| view! { <span class="path-note">{notes}</span> })}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                        {empty.then(|| view! { <p class="error">"Nobody would be paged."</p> })}
                        <p class="muted small">{format!("Nobody acknowledges; the first {PREVIEW_HOURS} hours.")}</p>
                    }
                    .into_any()
                }
            }}
        </div>
    }
}
