//! Replay: past incidents run again against another policy, to see what it would have done.
//!
//! Each past incident is opened again in a throwaway [`Engine`] at its own opening time, with the
//! chosen policy instead of the one it had, and the people's answers it actually got are played
//! back at the times they happened: acknowledgements, "give it back"s and the resolution. Rules and
//! maintenance windows still apply (so noise that was suppressed stays suppressed), except that no
//! rule may route it to another policy. What comes out is measured the same way as what actually
//! happened: pages, people, the deepest level, the time to the first page.
//!
//! Pure like the rest of the Lab: nothing is stored or sent, and "now" is a parameter.

use chrono::{DateTime, Duration, Utc};

use crate::engine::escalation::{Engine, Input};
use crate::engine::id::{IncidentId, PolicyId};
use crate::engine::incident::{Actor, EntryKind, Incident, Severity, TimelineEntry};
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::Action;
use crate::engine::world::World;

/// The Lab lists this many incidents (the most recent); its totals count every one replayed.
pub const REPLAY_LINES_SHOWN: usize = 200;
/// An incident still open is followed at most this long after it opened.
const REPLAY_MAX_DAYS: i64 = 7;
/// At most this many deadlines are stepped per incident.
const REPLAY_STEPS: usize = 500;
const REPLAY_ID: &str = "replay";

/// Pages and reach, of what happened or of a replay, up to the incident's resolution.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reach {
    pub pages: usize,
    /// Everyone paged, by name, in order of first page.
    pub people: Vec<String>,
    /// The highest level paged or skipped (1-based).
    pub deepest_level: Option<u32>,
    pub first_page_after: Option<Duration>,
    /// Pages sent before the (first) acknowledgement, or all of them when nobody acknowledged.
    pub pages_before_ack: usize,
}

/// One past incident: how it went, and how it would have gone.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayLine {
    pub incident: IncidentId,
    pub title: String,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    /// When it was first acknowledged, after opening; `None` if nobody did.
    pub acknowledged_after: Option<Duration>,
    pub actual: Reach,
    pub replayed: Reach,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    pub policy_name: String,
    /// Every incident opened in the period, newest first.
    pub lines: Vec<ReplayLine>,
}

impl Replay {
    pub fn actual_pages(&self) -> usize {
        self.lines.iter().map(|l| l.actual.pages).sum()
    }
    pub fn replayed_pages(&self) -> usize {
        self.lines.iter().map(|l| l.replayed.pages).sum()
    }
}

/// Replays the incidents opened at or after `since` against `policy` (`None`: the world's default).
/// `Err` says why it cannot run.
pub fn replay(world: &World, incidents: &[Incident], policy: Option<&str>, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Replay, String> {
    let policy_id = match policy.filter(|p| !p.is_empty()).map(PolicyId::from).or_else(|| world.default_policy.clone()) {
        Some(id) => id,
        None => return Err("Choose a policy: there is no default policy.".into()),
    };
    let policy = world.policy(&policy_id).ok_or_else(|| format!("No policy “{policy_id}”."))?.clone();
    Ok(replay_with(world, incidents, policy, since, now))
}

/// Replays the incidents opened at or after `since` against `policy` as given — a draft still
/// being edited, never saved — in place of any saved policy with its id.
pub fn replay_with(world: &World, incidents: &[Incident], policy: EscalationPolicy, since: DateTime<Utc>, now: DateTime<Utc>) -> Replay {
    let mut world = world.clone();
    for rule in &mut world.rules {
        rule.then.retain(|a| !matches!(a, Action::RouteTo(_)));
    }
    let policy_name = if policy.name.is_empty() { policy.id.to_string() } else { policy.name.clone() };
    let policy_id = policy.id.clone();
    world.policies.retain(|p| p.id != policy_id);
    world.policies.push(policy);

    // No upper bound: an incident opened a moment after the screen's clock last moved still counts.
    let mut past: Vec<&Incident> = incidents.iter().filter(|i| i.opened_at >= since).collect();
    past.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then_with(|| a.id.cmp(&b.id)));
    past.dedup_by(|a, b| a.id == b.id);
    let lines = past.into_iter().map(|incident| replay_one(&world, incident, &policy_id, now)).collect();
    Replay { policy_name, lines }
}

fn replay_one(world: &World, incident: &Incident, policy: &PolicyId, now: DateTime<Utc>) -> ReplayLine {
    let start = incident.opened_at;
    let end = incident.resolved_at.unwrap_or(now).min(start + Duration::days(REPLAY_MAX_DAYS));
    // The people's answers, in time order (the timeline is append-only, so already in order).
    let answers: Vec<(DateTime<Utc>, Input)> = incident
        .timeline
        .iter()
        .filter(|e| e.at <= end)
        .filter_map(|e| {
            let input = match (e.kind, &e.actor) {
                (EntryKind::Acknowledged, Actor::Person(by)) => Input::Acknowledge { incident: REPLAY_ID.into(), by: by.clone() },
                (EntryKind::Unacknowledged, Actor::Person(by)) => Input::Unacknowledge { incident: REPLAY_ID.into(), by: by.clone() },
                (EntryKind::Resolved, by) => Input::Resolve { incident: REPLAY_ID.into(), by: by.clone() },
                _ => return None,
            };
            Some((e.at, input))
        })
        .collect();

    let mut details = incident.details.clone();
    details.policy = Some(policy.clone());
    details.dedup_key = None;
    // Quiet: the replayed timeline is all that is read.
    let mut engine = Engine::quiet();
    let _ = engine.handle(world, start, Input::Open { id: REPLAY_ID.into(), by: Actor::Automation, details });
    let mut answers = answers.into_iter().peekable();
    for _ in 0..REPLAY_STEPS {
        let next = engine.poll_timeout().filter(|t| *t <= end);
        // An answer goes before a deadline at the same moment, as a person beats the clock.
        let answer_first = answers.peek().is_some_and(|(at, _)| next.is_none_or(|n| *at <= n));
        if answer_first {
            let (at, input) = answers.next().expect("peeked");
            let _ = engine.handle(world, at, input);
        } else if let Some(t) = next {
            engine.handle_timeout(world, t);
        } else {
            break;
        }
    }
    let replayed = engine.incident(REPLAY_ID).map_or(&[][..], |i| &i.timeline[..]);
    let actual = || incident.timeline.iter().filter(|e| e.at <= end);
    ReplayLine {
        incident: incident.id.clone(),
        title: incident.details.title.clone(),
        severity: incident.details.severity,
        opened_at: start,
        acknowledged_after: actual().find(|e| e.kind == EntryKind::Acknowledged).map(|e| e.at - start),
        actual: reach(world, actual(), start),
        replayed: reach(world, replayed.iter(), start),
    }
}

fn reach<'a>(world: &World, timeline: impl Iterator<Item = &'a TimelineEntry>, start: DateTime<Utc>) -> Reach {
    let mut r = Reach::default();
    let mut acknowledged = false;
    for e in timeline {
        match e.kind {
            EntryKind::Acknowledged => acknowledged = true,
            EntryKind::Paged => {
                r.pages += 1;
                if !acknowledged {
                    r.pages_before_ack += 1;
                }
                r.first_page_after.get_or_insert(e.at - start);
                let name = e.person.as_deref().map(|p| world.person(p).map(|p| p.name.clone()).unwrap_or_else(|| p.to_string())).unwrap_or_default();
                if !r.people.contains(&name) {
                    r.people.push(name);
                }
                r.deepest_level = r.deepest_level.max(e.level);
            }
            EntryKind::LevelSkipped => r.deepest_level = r.deepest_level.max(e.level),
            _ => {}
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::parse_world;

    const WORLD: &str = r#"{
      "people": [
        {"id": "alice", "name": "Alice", "time_zone": "UTC"},
        {"id": "bob", "name": "Bob", "time_zone": "UTC"},
        {"id": "carol", "name": "Carol", "time_zone": "UTC"}
      ],
      "policies": [
        {"id": "patient", "name": "Patient", "levels": [
          {"targets": [{"person": "alice"}], "ack_timeout": "30m"},
          {"targets": [{"person": "bob"}]}
        ]},
        {"id": "eager", "name": "Eager", "levels": [
          {"targets": [{"person": "alice"}], "ack_timeout": "5m"},
          {"targets": [{"person": "bob"}], "ack_timeout": "5m"},
          {"targets": [{"person": "carol"}]}
        ]}
      ],
      "rules": [
        {"id": "noise", "when": {"field": "title", "contains": "flapping"}, "then": [{"suppress": "known flapping check"}]},
        {"id": "elsewhere", "then": [{"route_to": "patient"}]}
      ],
      "default_policy": "patient"
    }"#;

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-11-20T03:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes)
    }

    /// An incident as it really went under `patient`: opened at `t(open)`, acknowledged by Alice
    /// `ack` minutes later, resolved `resolve` minutes after opening.
    fn past(world: &World, id: &str, title: &str, open: i64, ack: Option<i64>, resolve: Option<i64>) -> Incident {
        let mut engine = Engine::new();
        let details = serde_json::from_value(serde_json::json!({"title": title, "severity": "sev2", "policy": "patient"})).unwrap();
        let _ = engine.handle(world, t(open), Input::Open { id: id.into(), by: Actor::Automation, details });
        let mut events: Vec<(i64, Input)> = Vec::new();
        if let Some(a) = ack {
            events.push((open + a, Input::Acknowledge { incident: id.into(), by: "alice".into() }));
        }
        if let Some(r) = resolve {
            events.push((open + r, Input::Resolve { incident: id.into(), by: Actor::person("alice") }));
        }
        for (at, input) in events {
            while let Some(due) = engine.poll_timeout().filter(|d| *d <= t(at)) {
                engine.handle_timeout(world, due);
            }
            assert!(engine.handle(world, t(at), input).rejected.is_none());
        }
        engine.incident(id).unwrap().clone()
    }

    #[test]
    fn a_draft_never_saved_replays_in_place_of_the_saved_policy() {
        let world = parse_world(WORLD).unwrap();
        let history = vec![past(&world, "slow-ack", "Disk full", 0, Some(12), Some(40))];
        // "patient" as it is being edited: Carol first, Bob after two minutes.
        let draft: EscalationPolicy = serde_json::from_value(serde_json::json!({"id": "patient", "name": "Patient (draft)", "levels": [
            {"targets": [{"person": "carol"}], "ack_timeout": "2m"}, {"targets": [{"person": "bob"}]}
        ]}))
        .unwrap();
        let r = replay_with(&world, &history, draft, t(-60), t(120));
        assert_eq!(r.policy_name, "Patient (draft)");
        assert_eq!(r.lines[0].replayed.people, ["Carol", "Bob"]);
        assert_eq!(r.lines[0].actual.people, ["Alice"], "what happened is what happened");
        // Every incident of the period is replayed: no cap.
        let many: Vec<Incident> = (0..250).map(|k| past(&world, &format!("i{k}"), "Disk full", k % 60, Some(3), Some(9))).collect();
        let r = replay(&world, &many, Some("eager"), t(-60), t(120)).unwrap();
        assert_eq!(r.lines.len(), 250);
    }

    #[test]
    fn a_faster_policy_would_have_woken_more_people_before_the_ack() {
        let world = parse_world(WORLD).unwrap();
        // Alice took 12 minutes to acknowledge: under "patient" only she was paged.
        let history = vec![past(&world, "slow-ack", "Disk full", 0, Some(12), Some(40))];
        let r = replay(&world, &history, Some("eager"), t(-60), t(120)).unwrap();
        assert_eq!(r.policy_name, "Eager");
        let line = &r.lines[0];
        assert_eq!(line.acknowledged_after, Some(Duration::minutes(12)));
        assert_eq!(line.actual.pages, 1);
        assert_eq!(line.actual.people, ["Alice"]);
        // "eager" pages Bob at 5 min and Carol at 10 min, all before Alice's ack at 12.
        assert_eq!(line.replayed.people, ["Alice", "Bob", "Carol"]);
        assert_eq!(line.replayed.pages_before_ack, 3);
        assert_eq!(line.replayed.deepest_level, Some(3));
        assert_eq!((r.actual_pages(), r.replayed_pages()), (1, 3));
    }

    #[test]
    fn an_unanswered_incident_climbs_until_it_is_resolved_and_suppressed_noise_stays_quiet() {
        let world = parse_world(WORLD).unwrap();
        let history = vec![past(&world, "nobody", "Queue stuck", 0, None, Some(8)), past(&world, "noise", "flapping ping check", 30, None, Some(35))];
        let r = replay(&world, &history, Some("eager"), t(-60), t(120)).unwrap();
        assert_eq!(r.lines.iter().map(|l| l.incident.as_str()).collect::<Vec<_>>(), ["noise", "nobody"], "newest first");
        let noise = &r.lines[0];
        assert_eq!((noise.actual.pages, noise.replayed.pages), (0, 0), "the suppressing rule still applies");
        let nobody = &r.lines[1];
        // Resolved at 8 min: "eager" reached Bob (5 min) but not Carol (10 min).
        assert_eq!(nobody.replayed.people, ["Alice", "Bob"]);
        assert_eq!(nobody.acknowledged_after, None);
        assert_eq!(nobody.replayed.pages_before_ack, 2, "no ack: every page counts");
    }

    #[test]
    fn the_period_limits_what_is_replayed_and_a_missing_policy_is_refused() {
        let world = parse_world(WORLD).unwrap();
        let history = vec![past(&world, "old", "Old", 0, Some(1), Some(2)), past(&world, "new", "New", 60, Some(1), Some(2))];
        let r = replay(&world, &history, None, t(30), t(120)).unwrap();
        assert_eq!(r.policy_name, "Patient", "the default policy");
        assert_eq!(r.lines.len(), 1);
        assert_eq!(r.lines[0].incident, "new");
        assert_eq!(replay(&world, &history, Some("gone"), t(0), t(120)).unwrap_err(), "No policy “gone”.");
        let mut no_default = world.clone();
        no_default.default_policy = None;
        assert!(replay(&no_default, &history, None, t(0), t(120)).unwrap_err().contains("no default policy"));
    }
}
