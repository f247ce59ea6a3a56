//! The header's clock status: whether this tab, another tab, or nobody is keeping the
//! escalation clock, always visible.

use leptos::prelude::*;

use super::state::AppState;
use crate::runtime::live::Role;
use crate::sync::lease::Standing;

/// Human words for a duration ("14 min", "2 h 5 min", "40 s").
pub use crate::runtime::view::span_words as span;

fn is_phone() -> bool {
    web_sys::window().and_then(|w| w.match_media("(pointer: coarse) and (max-width: 700px)").ok().flatten()).is_some_and(|m| m.matches())
}

#[component]
pub fn ClockBadge() -> impl IntoView {
    let state = expect_context::<AppState>();
    let phone = is_phone();
    // As the runtime decides it: with team sync on, this device runs a clock only while the
    // last round found the lease its own (or it held it and the database went away).
    let team_follows = move || state.team.with(|t| t.settings.enabled && t.clock != Some(Standing::Mine));
    let team_known = move || state.team.with(|t| t.clock.is_some());
    let view_state = move || {
        let Some(status) = state.clock.get() else {
            return ("starting", "Starting the clock…".to_string());
        };
        let silent = status.last_run.map(|t| status.now - t);
        let ticked_for = status.last_tick.map(|t| status.now - t);
        match status.role {
            Role::Safe => ("stale", "Safe mode: no clock runs in this tab and nothing is sent".to_string()),
            // The tab's own module (its bus, the clock lock) is not in yet: no clock can start here.
            Role::Starting if status.code_missing => (
                "stale",
                "The clock's code could not be loaded — nothing is paged from this tab until it is. Check the connection; it tries again every few seconds."
                    .to_string(),
            ),
            Role::Leader if status.code_missing => {
                ("stale", "The clock's code could not be loaded — nothing is paged until it is. Check the connection; it tries again every second.".to_string())
            }
            // The driver's own heartbeat, not the lock: a leader whose ticks stopped says so.
            Role::Leader
                if ticked_for.is_none_or(|d| d > chrono::Duration::seconds(10))
                    && status.leading_since.is_some_and(|t| status.now - t > chrono::Duration::seconds(10)) =>
            {
                (
                    "stale",
                    format!(
                        "The clock in this tab has stopped{} — pages may be late. Reload the page to restart it.",
                        ticked_for.map(|d| format!(" (last ran {} ago)", span(d))).unwrap_or_default()
                    ),
                )
            }
            // With team sync, another device runs the team's clock: this tab only keeps this
            // device in step with it.
            Role::Leader if team_follows() && team_known() => ("here", "Synced here with the team's clock".to_string()),
            Role::Leader if team_follows() => ("starting", "No clock runs here until the team's database answers".to_string()),
            Role::Leader => match status.caught_up {
                Some(late) if late > chrono::Duration::seconds(60) => {
                    ("here", format!("Clock running here — caught up; steps fired {} late: this tab was asleep", span(late)))
                }
                _ => ("here", "Clock running here".to_string()),
            },
            Role::Follower if status.last_heartbeat.is_some_and(|h| status.now - h < chrono::Duration::seconds(5)) => {
                ("other", "Clock running in another tab".to_string())
            }
            _ => match silent {
                Some(s) if s > chrono::Duration::seconds(90) => ("stale", format!("No clock has run for {} — pages may be late", span(s))),
                _ => ("starting", "Looking for the clock…".to_string()),
            },
        }
    };
    // With team sync: which device runs the team's clock (its lease, renewed every few seconds).
    let team_clock = move || {
        let team = state.team.get();
        let now = state.clock.with(|c| c.as_ref().map(|s| s.now)).unwrap_or_else(chrono::Utc::now);
        team.clock.map(|c| team_clock_words(&c, &team.settings.device, now))
    };
    view! {
        <div class="clock-status" role="status" aria-live="polite" data-state=move || view_state().0>
            <span class="dot" aria-hidden="true"></span>
            <span class="clock-text">{move || view_state().1}</span>
            {move || team_clock().map(|t| view! { <span class="clock-team">{t}</span> })}
            // Only what is true on this device, and only when it matters: a phone keeping the
            // clock keeps it only while Piket stays open on screen.
            <Show when=move || phone && !team_follows() && state.clock.with(|c| c.as_ref().is_some_and(|s| s.role == Role::Leader))>
                <span class="clock-hint">"This phone is the clock only while Piket stays open here; keep it open on a desk machine."</span>
            </Show>
        </div>
    }
}

/// The header's words for the team clock's lease.
pub fn team_clock_words(standing: &Standing, this_device: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    match standing {
        Standing::Mine => format!("Team clock running on this device ({this_device})"),
        Standing::Other { device } => format!("Team clock running on {device}"),
        Standing::Free { since: Some(t), device } => format!(
            "No team clock has run for {}{}",
            span((now - *t).max(chrono::Duration::zero())),
            device.as_ref().map(|d| format!(" (last: {d})")).unwrap_or_default()
        ),
        Standing::Free { since: None, .. } => "No team clock has run yet".to_string(),
    }
}
