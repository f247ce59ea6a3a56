//! The Lab's computations: drills, coverage checks and scenarios, all pure and thrown away.
//!
//! A drill runs a throwaway [`Engine`] on a clone of the world on a virtual clock (the same approach
//! as the policy editor's path preview, plus an optional acknowledgement and measures). The coverage
//! check asks the schedules' own `on_call_at`/`next_handoff`, sampling only at handoffs. Nothing here
//! is stored, paged or posted, and nothing reads the clock: "now" is a parameter.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use crate::engine::escalation::{Engine, Input};
use crate::engine::format::{parse_scenario, simulate, SimulationLine};
use crate::engine::id::{IncidentId, PersonId, PolicyId};
use crate::engine::incident::{Actor, EntryKind, IncidentDetails, Severity};
use crate::engine::policy::Target;
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::World;

/// How far a drill runs the clock.
pub const DRILL_HOURS: i64 = 12;
/// At most this many deadlines are stepped (a repeating policy with short timeouts stops here).
const DRILL_STEPS: usize = 500;
/// How far ahead the coverage check looks.
pub const COVERAGE_DAYS: i64 = 14;
/// At most this many handoffs are followed per schedule.
const MAX_HANDOFFS: usize = 1000;

/// What to drill.
#[derive(Clone, Debug, PartialEq)]
pub struct DrillSetup {
    /// The policy to run; `None` for the world's default.
    pub policy: Option<PolicyId>,
    pub severity: Severity,
    pub start: DateTime<Utc>,
    /// Minutes after the start at which the person paged last acknowledges; `None`: nobody does.
    pub ack_after: Option<i64>,
}

/// One line of a drill's timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct DrillLine {
    pub at: DateTime<Utc>,
    pub what: String,
    /// People or channels, by name; empty when nobody in particular.
    pub who: String,
}

/// How a drill ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// Someone acknowledged (by name, when).
    Acknowledged { by: String, at: DateTime<Utc> },
    /// The policy ran out of levels (or every level was skipped).
    Stopped { at: DateTime<Utc>, why: String },
    /// Nothing more would happen: the last level paged has no timeout, so it waits for an answer.
    Waiting { level: u32 },
    /// Still escalating when the drill's clock ran out.
    StillEscalating,
}

/// A drill's timeline and measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Drill {
    pub policy_name: String,
    pub lines: Vec<DrillLine>,
    pub first_page_after: Option<Duration>,
    pub pages: usize,
    /// Everyone paged, by name, in order of first page.
    pub people: Vec<String>,
    /// The highest level paged or skipped (1-based).
    pub deepest_level: Option<u32>,
    /// How many times the policy went round again.
    pub repeats: u32,
    pub ending: Ending,
    /// Set when the chosen acknowledgement could not happen (nobody had been paged yet).
    pub ack_note: Option<String>,
}

fn person_name(world: &World, id: &str) -> String {
    world.person(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())
}

fn channel_name(world: &World, id: &str) -> String {
    world.channel(id).map(|c| c.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.to_string())
}

/// Runs a drill; `Err` says why it cannot run (no such policy, no default).
pub fn drill(world: &World, setup: &DrillSetup) -> Result<Drill, String> {
    let policy_id = match setup.policy.clone().filter(|p| !p.is_empty()).or_else(|| world.default_policy.clone()) {
        Some(id) => id,
        None => return Err("Choose a policy: there is no default policy.".into()),
    };
    let policy = world.policy(&policy_id).ok_or_else(|| format!("No policy “{policy_id}”."))?.clone();
    // The policy's own path: no rule reroutes it and no maintenance window silences it.
    let mut world = world.clone();
    world.rules.clear();
    world.maintenance.clear();

    let start = setup.start;
    let end = start + Duration::hours(DRILL_HOURS);
    let ack_at = setup.ack_after.map(|m| start + Duration::minutes(m.max(0)));
    let id = IncidentId::new("drill");
    let mut engine = Engine::new();
    let details = IncidentDetails { title: "Drill".into(), severity: setup.severity, policy: Some(policy.id.clone()), ..IncidentDetails::default() };
    let mut effects = engine.handle(&world, start, Input::Open { id: id.clone(), by: Actor::Automation, details }).effects;
    let mut ack_pending = ack_at;
    let mut ack_note = None;
    for _ in 0..DRILL_STEPS {
        let next = engine.poll_timeout();
        if let Some(t) = ack_pending.filter(|t| next.is_none_or(|n| *t < n) && *t <= end) {
            ack_pending = None;
            let last_paged = effects.iter().rev().find(|e| e.entry.kind == EntryKind::Paged).and_then(|e| e.entry.person.clone());
            match last_paged {
                Some(by) => {
                    let out = engine.handle(&world, t, Input::Acknowledge { incident: id.clone(), by });
                    effects.extend(out.effects);
                    if let Some(r) = out.rejected {
                        ack_note = Some(format!("The acknowledgement was refused: {r}"));
                    }
                }
                None => ack_note = Some("Nobody had been paged by then, so nobody could acknowledge.".into()),
            }
            continue;
        }
        match next {
            Some(t) if t <= end => effects.extend(engine.handle_timeout(&world, t)),
            _ => break,
        }
    }
    if let Some(t) = ack_pending {
        if t > end {
            ack_note = Some(format!("The acknowledgement falls after the drill's {DRILL_HOURS} hours."));
        }
    }

    let quiet = engine.poll_timeout().is_none();
    let mut drill = Drill {
        policy_name: if policy.name.is_empty() { policy.id.to_string() } else { policy.name.clone() },
        lines: Vec::new(),
        first_page_after: None,
        pages: 0,
        people: Vec::new(),
        deepest_level: None,
        repeats: 0,
        ending: Ending::StillEscalating,
        ack_note,
    };
    for effect in &effects {
        let e = &effect.entry;
        let level = e.level.map(|l| format!("Level {l}")).unwrap_or_default();
        if matches!(e.kind, EntryKind::Paged | EntryKind::LevelSkipped) {
            drill.deepest_level = drill.deepest_level.max(e.level);
        }
        let (what, who) = match e.kind {
            EntryKind::Opened => (format!("Opened ({})", setup.severity.as_str().to_uppercase()), String::new()),
            EntryKind::Paged => {
                let name = e.person.as_deref().map(|p| person_name(&world, p)).unwrap_or_default();
                drill.pages += 1;
                drill.first_page_after.get_or_insert(e.at - start);
                if !drill.people.contains(&name) {
                    drill.people.push(name.clone());
                }
                let what = if e.detail.is_empty() { format!("{level} paged") } else { format!("{level} paged ({})", e.detail) };
                (what.trim().to_string(), name)
            }
            EntryKind::Posted => {
                let channel = e.target.as_deref().and_then(|t| t.strip_prefix("channel:")).unwrap_or_default();
                (format!("{level} posted").trim().to_string(), channel_name(&world, channel))
            }
            EntryKind::Escalated => (format!("Escalated to level {}", e.level.unwrap_or_default()), e.detail.clone()),
            EntryKind::LevelSkipped => (format!("{level} skipped: {}", e.detail), String::new()),
            EntryKind::LoopStarted => {
                drill.repeats += 1;
                (format!("Went round again ({})", e.detail), String::new())
            }
            EntryKind::EscalationStopped => {
                drill.ending = Ending::Stopped { at: e.at, why: e.detail.clone() };
                (format!("Escalation stopped ({})", e.detail), String::new())
            }
            EntryKind::CheckpointWaiting => (format!("{level} waits for confirmation: “{}”", e.detail), String::new()),
            EntryKind::CheckpointTimedOut => (format!("Nobody confirmed: {}", e.detail), String::new()),
            EntryKind::Acknowledged => {
                let by = person_name(&world, e.actor.as_str());
                drill.ending = Ending::Acknowledged { by: by.clone(), at: e.at };
                ("Acknowledged".into(), by)
            }
            EntryKind::AckReminder => ("Reminder to the acknowledger".into(), e.person.as_deref().map(|p| person_name(&world, p)).unwrap_or_default()),
            _ => continue,
        };
        drill.lines.push(DrillLine { at: e.at, what, who });
    }
    if quiet && drill.ending == Ending::StillEscalating {
        drill.ending = Ending::Waiting { level: drill.deepest_level.unwrap_or(1) };
    }
    Ok(drill)
}

/// A stretch of time.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// Stretches from `from` to `to` when nobody is on call on `s` (from handoff to handoff).
pub fn schedule_gaps(s: &OnCallSchedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
    let mut gaps: Vec<Span> = Vec::new();
    let mut cursor = from;
    for _ in 0..MAX_HANDOFFS {
        if cursor >= to {
            break;
        }
        let next = s.next_handoff(cursor).filter(|t| *t < to).unwrap_or(to);
        if s.on_call_at(cursor).is_empty() {
            match gaps.last_mut() {
                Some(g) if g.1 == cursor => g.1 = next,
                _ => gaps.push((cursor, next)),
            }
        }
        cursor = next;
    }
    gaps
}

/// A schedule and its gaps.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleCoverage {
    pub name: String,
    pub gaps: Vec<Span>,
}

/// A policy level that reaches nobody at some moments.
#[derive(Clone, Debug, PartialEq)]
pub struct EmptyLevel {
    pub policy: String,
    pub level: u32,
    /// The first moment it reaches nobody.
    pub first: DateTime<Utc>,
    /// How many of the sampled moments (handoffs) it reaches nobody at.
    pub times: usize,
}

/// Everything the coverage check found.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Coverage {
    pub schedules: Vec<ScheduleCoverage>,
    pub empty_levels: Vec<EmptyLevel>,
    /// “Policy name: level 1 has no acknowledgement timeout for SEV3, SEV4”.
    pub no_ack_timeout: Vec<String>,
    /// What is wrong with the default policy, if anything.
    pub default_policy: Option<String>,
    /// People no policy can page, by name.
    pub unpaged: Vec<String>,
}

impl Coverage {
    pub fn is_clean(&self) -> bool {
        self.schedules.iter().all(|s| s.gaps.is_empty())
            && self.empty_levels.is_empty()
            && self.no_ack_timeout.is_empty()
            && self.default_policy.is_none()
            && self.unpaged.is_empty()
    }
}

/// The schedules a target asks at the moment it is paged.
fn target_schedules<'w>(world: &'w World, t: &Target) -> Vec<&'w OnCallSchedule> {
    match t {
        Target::Schedule(s) => world.schedule(s).into_iter().collect(),
        Target::Team(t) => world.team(t).and_then(|t| t.schedule.as_deref()).and_then(|s| world.schedule(s)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Whether `targets` reach anyone (a person, or a channel to post to) at `at`, as the engine sees it.
fn reaches_someone(world: &World, targets: &[Target], at: DateTime<Utc>) -> bool {
    targets.iter().any(|t| match t {
        Target::Person(p) => world.person(p).is_some(),
        Target::Schedule(s) => world.schedule(s).is_some_and(|s| s.on_call_at(at).iter().any(|p| world.person(p).is_some())),
        Target::Team(id) => world.team(id).is_some_and(|team| {
            let people = match team.schedule.as_deref().and_then(|s| world.schedule(s)) {
                Some(s) => s.on_call_at(at),
                None => team.members.clone(),
            };
            people.iter().any(|p| world.person(p).is_some())
        }),
        Target::Channel(c) => world.channel(c).is_some(),
    })
}

/// Everyone a schedule can ever put on call.
fn schedule_people(s: &OnCallSchedule, out: &mut BTreeSet<PersonId>) {
    out.extend(s.layers.iter().flat_map(|l| l.people.iter().cloned()));
    out.extend(s.overrides.iter().flat_map(|o| o.add.iter().chain(o.with.iter()).cloned()));
}

/// Gaps and dead ends in the next [`COVERAGE_DAYS`] days from `now`.
pub fn coverage(world: &World, now: DateTime<Utc>) -> Coverage {
    let to = now + Duration::days(COVERAGE_DAYS);
    let mut report = Coverage {
        schedules: world
            .schedules
            .iter()
            .map(|s| ScheduleCoverage { name: if s.name.is_empty() { s.id.to_string() } else { s.name.clone() }, gaps: schedule_gaps(s, now, to) })
            .collect(),
        ..Coverage::default()
    };

    let mut reachable = BTreeSet::new();
    for p in &world.policies {
        let name = if p.name.is_empty() { p.id.to_string() } else { p.name.clone() };
        let last = p.levels.len().saturating_sub(1);
        for (i, level) in p.levels.iter().enumerate() {
            // Who the level reaches changes only at its schedules' handoffs: sample there.
            let mut instants = BTreeSet::from([now]);
            for s in level.targets.iter().flat_map(|t| target_schedules(world, t)) {
                let mut cursor = now;
                for _ in 0..MAX_HANDOFFS {
                    match s.next_handoff(cursor).filter(|t| *t < to) {
                        Some(t) => {
                            instants.insert(t);
                            cursor = t;
                        }
                        None => break,
                    }
                }
            }
            let empty: Vec<_> = instants.into_iter().filter(|&t| !reaches_someone(world, &level.targets, t)).collect();
            if let Some(&first) = empty.first() {
                report.empty_levels.push(EmptyLevel { policy: name.clone(), level: i as u32 + 1, first, times: empty.len() });
            }
            if i < last {
                let missing: Vec<String> = Severity::ALL
                    .into_iter()
                    .filter(|&sev| level.ack_timeout.as_ref().and_then(|t| t.for_severity(sev)).is_none())
                    .map(|sev| sev.as_str().to_uppercase())
                    .collect();
                if !missing.is_empty() {
                    let which = if missing.len() == Severity::ALL.len() { String::new() } else { format!(" for {}", missing.join(", ")) };
                    report
                        .no_ack_timeout
                        .push(format!("{name}: level {} has no acknowledgement timeout{which}, so nobody after it is paged for lack of an answer", i + 1));
                }
            }
            for t in &level.targets {
                match t {
                    Target::Person(p) => {
                        reachable.insert(p.clone());
                    }
                    Target::Schedule(_) | Target::Team(_) => {
                        for s in target_schedules(world, t) {
                            schedule_people(s, &mut reachable);
                        }
                        if let Target::Team(id) = t {
                            if let Some(team) = world.team(id).filter(|t| t.schedule.is_none()) {
                                reachable.extend(team.members.iter().cloned());
                            }
                        }
                    }
                    Target::Channel(_) => {}
                }
            }
        }
    }

    report.default_policy = match &world.default_policy {
        Some(id) if world.policy(id).is_none() => Some(format!("The default policy “{id}” does not exist: incidents that no rule routes reach nobody.")),
        None if !world.policies.is_empty() => Some("There is no default policy: incidents that no rule routes reach nobody.".into()),
        _ => None,
    };
    report.unpaged = world.people.iter().filter(|p| !reachable.contains(&p.id)).map(|p| p.name.clone()).collect();
    report
}

/// A scenario's text run: its lines, or every problem as “path: message”.
pub fn run_scenario(json: &str) -> Result<Vec<SimulationLine>, Vec<String>> {
    match parse_scenario(json) {
        Ok(scenario) => Ok(simulate(&scenario).lines),
        Err(errors) => Err(errors.0.iter().map(|e| e.to_string()).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../examples/scenario-sev1-night.json");

    fn example_world() -> World {
        parse_scenario(EXAMPLE).unwrap().world
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_drill_nobody_answers_climbs_every_level_and_waits_at_the_last() {
        let world = example_world();
        let setup = DrillSetup { policy: None, severity: Severity::Sev1, start: at("2025-03-05T01:00:00Z"), ack_after: None };
        let d = drill(&world, &setup).unwrap();
        assert_eq!(d.policy_name, "Production: major incidents");
        assert_eq!(d.first_page_after, Some(Duration::zero()));
        assert_eq!(d.people.first().map(String::as_str), Some("Alice Jansen"), "{d:#?}");
        assert!(d.people.iter().any(|p| p == "Sam Okafor") && d.people.iter().any(|p| p == "Erin Bakker"), "{:?}", d.people);
        assert_eq!(d.deepest_level, Some(3));
        assert_eq!(d.ending, Ending::Waiting { level: 3 }, "the last level has no timeout");
        assert_eq!(d.pages, d.lines.iter().filter(|l| l.what.contains("paged")).count());
        assert!(d.lines.iter().any(|l| l.who == "#major-incident"));
        assert!(d.lines.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn a_drill_acknowledged_early_stays_at_level_one() {
        let world = example_world();
        let setup = DrillSetup { policy: Some("major".into()), severity: Severity::Sev1, start: at("2025-03-05T01:00:00Z"), ack_after: Some(5) };
        let d = drill(&world, &setup).unwrap();
        assert_eq!(d.ending, Ending::Acknowledged { by: "Alice Jansen".into(), at: at("2025-03-05T01:05:00Z") });
        assert_eq!(d.deepest_level, Some(1));
        assert!(d.ack_note.is_none());
    }

    #[test]
    fn a_drill_reports_repeats_and_the_stop() {
        let world: World = serde_json::from_str(
            r#"{"people":[{"id":"a","name":"Ann","time_zone":"UTC"}],
                "policies":[{"id":"p","levels":[{"targets":[{"person":"a"}],"ack_timeout":10}],"repeat":{"times":2}}]}"#,
        )
        .unwrap();
        let setup = DrillSetup { policy: Some("p".into()), severity: Severity::Sev3, start: at("2025-03-05T01:00:00Z"), ack_after: None };
        let d = drill(&world, &setup).unwrap();
        assert_eq!((d.pages, d.repeats), (3, 2), "{d:#?}");
        assert_eq!(d.people, ["Ann"]);
        assert!(matches!(d.ending, Ending::Stopped { at: t, .. } if t == at("2025-03-05T01:30:00Z")), "{:?}", d.ending);
    }

    #[test]
    fn a_drill_needs_a_policy() {
        let mut world = example_world();
        world.default_policy = None;
        let setup = DrillSetup { policy: None, severity: Severity::Sev2, start: at("2025-03-05T01:00:00Z"), ack_after: None };
        assert!(drill(&world, &setup).is_err());
        let setup = DrillSetup { policy: Some("nope".into()), ..setup };
        assert!(drill(&world, &setup).unwrap_err().contains("nope"));
    }

    #[test]
    fn gaps_run_from_handoff_to_handoff() {
        let s: OnCallSchedule = serde_json::from_str(
            r#"{"id":"s","time_zone":"UTC","layers":[{"people":["a"],"start":"2025-03-03T00:00","every":"daily",
                "restrictions":[{"days":"all","from":"09:00","to":"17:00"}]}]}"#,
        )
        .unwrap();
        let gaps = schedule_gaps(&s, at("2025-03-03T12:00:00Z"), at("2025-03-05T00:00:00Z"));
        assert_eq!(gaps, [(at("2025-03-03T17:00:00Z"), at("2025-03-04T09:00:00Z")), (at("2025-03-04T17:00:00Z"), at("2025-03-05T00:00:00Z"))]);
    }

    #[test]
    fn coverage_finds_dead_ends_and_people_nobody_pages() {
        let mut world = example_world();
        let report = coverage(&world, at("2025-03-05T00:00:00Z"));
        assert_eq!(report.schedules.len(), 2);
        assert!(report.default_policy.is_none());
        assert_eq!(report.unpaged, ["Sofia Costa"], "only a rule pages SecOps");
        // Payments level 2 (Sam) is limited to hours but always reaches Sam: not a dead end.
        assert!(report.empty_levels.is_empty(), "{:?}", report.empty_levels);

        world.default_policy = Some("gone".into());
        world.schedules[1].layers.clear();
        if let Some(crate::engine::policy::Timeout::BySeverity(b)) = &mut world.policies[0].levels[0].ack_timeout {
            b.default = None;
        }
        let report = coverage(&world, at("2025-03-05T00:00:00Z"));
        assert!(report.default_policy.as_deref().unwrap().contains("gone"));
        assert_eq!(report.schedules[1].gaps.len(), 1, "the emptied backup schedule is one long gap");
        assert_eq!(report.no_ack_timeout.len(), 1);
        assert!(report.no_ack_timeout[0].contains("SEV3, SEV4"), "{:?}", report.no_ack_timeout);
        assert!(!report.is_clean());
    }

    #[test]
    fn a_clean_world_has_nothing_to_report() {
        let world: World = serde_json::from_str(
            r#"{"people":[{"id":"a","name":"Ann","time_zone":"UTC"}],
                "policies":[{"id":"p","levels":[{"targets":[{"person":"a"}]}]}],"default_policy":"p"}"#,
        )
        .unwrap();
        assert!(coverage(&world, at("2025-03-05T00:00:00Z")).is_clean());
    }

    #[test]
    fn scenarios_run_or_name_the_path() {
        let lines = run_scenario(EXAMPLE).unwrap();
        assert!(lines.iter().any(|l| l.kind == "paged"));
        let errors = run_scenario(r#"{"world":{},"inputs":[{"at":"2025-01-01T00:00:00Z","input":"open","id":"i","details":{"title":"x","severity":"sev9"}}]}"#)
            .unwrap_err();
        assert!(errors[0].starts_with("inputs[0]"), "{errors:?}");
        assert!(run_scenario("{").is_err());
    }
}
