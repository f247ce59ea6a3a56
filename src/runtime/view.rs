//! What the screens show, computed where native tests reach it. Screens format times in the
//! browser's zone and put these words on the page; they decide nothing themselves.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};

use crate::engine::escalation::{Delivery, Engine, Input};
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::{Actor, EntryKind, Incident, IncidentDetails, Severity};
use crate::engine::rules::Rule;
use crate::engine::schedule::{OnCallSchedule, Override};
use crate::engine::world::World;
use crate::storage::{DeliveryState, OutboxRow};

/// What happens next to an open incident: when, who is paged and what else changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextStep {
    pub at: DateTime<Utc>,
    /// People and channels paged, by name, each once.
    pub pages: Vec<String>,
    /// Everything else that happens then, in words ("the escalation stops").
    pub events: Vec<String>,
}

/// The incident's next step, worked out by running its next deadline on a copy of it.
pub fn next_step(world: &World, incident: &Incident) -> Option<NextStep> {
    let mut engine = Engine::restore([incident.clone()]);
    let at = engine.poll_timeout()?;
    let mut step = NextStep { at, pages: Vec::new(), events: Vec::new() };
    for effect in engine.handle_timeout(world, at) {
        let name = match &effect.delivery {
            Some(Delivery::Page { person, .. }) => Some(world.person(person).map_or_else(|| person.to_string(), |p| p.name.clone())),
            Some(Delivery::Post { channel }) => Some(format!(
                "channel {}",
                world.channel(channel).map_or_else(|| channel.to_string(), |c| if c.name.is_empty() { c.id.to_string() } else { c.name.clone() })
            )),
            None => None,
        };
        match name {
            Some(n) if !step.pages.contains(&n) => step.pages.push(n),
            Some(_) => {}
            None => {
                if let Some(words) = future_words(effect.entry.kind, &effect.entry.detail) {
                    if !step.events.contains(&words) {
                        step.events.push(words);
                    }
                }
            }
        }
    }
    Some(step)
}

/// A timeline entry that has not happened yet, in the future tense (`None`: not worth saying).
fn future_words(kind: EntryKind, detail: &str) -> Option<String> {
    let base = match kind {
        EntryKind::Escalated => "the incident escalates",
        EntryKind::LevelSkipped => "a level is skipped",
        EntryKind::LoopStarted => "the policy starts again from its first level",
        EntryKind::EscalationStopped => "the escalation stops",
        EntryKind::CheckpointWaiting => "the escalation waits for a checkpoint",
        EntryKind::CheckpointTimedOut => "the checkpoint times out",
        EntryKind::Unacknowledged => "the acknowledgement runs out",
        EntryKind::SnoozeEnded => "the snooze ends",
        EntryKind::MaintenanceEnded => "the maintenance window ends",
        EntryKind::Resolved => "the incident resolves",
        EntryKind::StatusChanged => "the status changes",
        // Pages and posts are listed by name; the rest do not happen on a timer.
        _ => return None,
    };
    let detail = detail.trim().trim_end_matches('.');
    Some(if detail.is_empty() { base.to_string() } else { format!("{base} ({detail})") })
}

impl NextStep {
    /// One sentence: "In 5 min (at 10:04), Piket pages Bob and the escalation stops."
    /// `clock` is `at` as the reader's clock shows it.
    pub fn sentence(&self, now: DateTime<Utc>, clock: &str) -> String {
        let when = if self.at >= now { format!("In {} (at {clock})", span_words(self.at - now)) } else { format!("Any moment now (due at {clock})") };
        let mut clauses = Vec::new();
        if !self.pages.is_empty() {
            clauses.push(format!("Piket pages {}", and_list(&self.pages)));
        }
        clauses.extend(self.events.iter().cloned());
        if clauses.is_empty() {
            return format!("{when}, a timer runs out.");
        }
        format!("{when}, {}.", and_list(&clauses))
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "40 s", "14 min", "2 h 5 min".
pub fn span_words(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// Where a page or post stands, as the screens show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Sent, but the target's answer cannot be read.
    Unverified,
    Failed,
    /// Not sent: folded into a later page to the same person.
    Folded,
}

impl DeliveryStatus {
    /// One lower-case word (the row's `data-state`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Unverified => "unverified",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Folded => "folded",
        }
    }
}

/// One page or post as the screens show it: plain data, built by the runtime from the outbox, so
/// screens never see a stored row.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryRow {
    pub key: String,
    pub incident: IncidentId,
    pub delivery: Delivery,
    /// Intended time.
    pub at: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// When the next try is due (pending rows that were tried already).
    pub next_try: Option<DateTime<Utc>>,
    pub attempts: usize,
    /// The last attempt in words ("HTTP 500, timeout").
    pub last_attempt: Option<String>,
    /// For whom, which way and why it stopped (see [`failed_row_text`](super::delivery_view::failed_row_text)).
    pub failed_words: String,
}

impl DeliveryRow {
    pub fn of(row: &OutboxRow, world: &World) -> DeliveryRow {
        let last_attempt = row.attempts.last().map(|a| {
            // A notification has no HTTP answer: its note says what happened.
            if a.route == "notification" && !a.note.is_empty() {
                return a.note.clone();
            }
            let status = a.status.map_or("network error".to_string(), |s| if s == 0 { "opaque answer".into() } else { format!("HTTP {s}") });
            if a.note.is_empty() {
                status
            } else {
                format!("{status}, {}", a.note)
            }
        });
        let status = match row.state {
            DeliveryState::Pending => DeliveryStatus::Pending,
            DeliveryState::Delivered => DeliveryStatus::Delivered,
            DeliveryState::Unverified => DeliveryStatus::Unverified,
            DeliveryState::Failed => DeliveryStatus::Failed,
            DeliveryState::Folded => DeliveryStatus::Folded,
        };
        let failed_words = if status == DeliveryStatus::Failed { super::delivery_view::failed_row_text(row, world) } else { String::new() };
        DeliveryRow {
            key: row.key.clone(),
            incident: row.incident.clone(),
            delivery: row.delivery.clone(),
            at: row.at,
            status,
            next_try: row.next_attempt_at,
            attempts: row.attempts.len(),
            last_attempt,
            failed_words,
        }
    }

    /// Where it stands in words, "pending, next try 10:05 (2 attempts; last: HTTP 500)"; `clock`
    /// writes a time as the reader's clock shows it.
    pub fn words(&self, clock: impl Fn(DateTime<Utc>) -> String) -> String {
        let tries = self.attempts;
        let state = match self.status {
            DeliveryStatus::Pending => match self.next_try {
                Some(t) if tries > 0 => format!("pending, next try {}", clock(t)),
                _ => "pending".to_string(),
            },
            DeliveryStatus::Delivered => "delivered".to_string(),
            DeliveryStatus::Unverified => "sent (the target's answer cannot be read)".to_string(),
            DeliveryStatus::Failed => "failed".to_string(),
            DeliveryStatus::Folded => "not sent: folded into a later page to the same person (caught up after a sleep)".to_string(),
        };
        match (tries, &self.last_attempt) {
            (0, _) | (_, None) => state,
            (n, Some(last)) => format!("{state} ({n} {}; last: {last})", if n == 1 { "attempt" } else { "attempts" }),
        }
    }
}

/// Whether the browser keeps Piket's data, and how much room it takes (Settings → Storage).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageUse {
    pub persisted: Option<bool>,
    pub usage_bytes: Option<f64>,
    pub quota_bytes: Option<f64>,
}

impl StorageUse {
    pub fn persisted_words(&self) -> &'static str {
        match self.persisted {
            Some(true) => "Persistent storage granted: the browser will not clear Piket's data to free space.",
            Some(false) => "Persistent storage not granted: under storage pressure the browser may clear Piket's data. Keep backups.",
            None => "This browser does not say whether Piket's data is persistent. Keep backups.",
        }
    }

    pub fn usage_words(&self) -> String {
        match (self.usage_bytes, self.quota_bytes) {
            (Some(u), Some(q)) => format!("Using {} of {} available.", megabytes(u), megabytes(q)),
            _ => "Usage unknown.".to_string(),
        }
    }
}

fn megabytes(bytes: f64) -> String {
    format!("{:.1} MB", bytes / (1024.0 * 1024.0))
}

/// An override as the Overrides form describes it: `kind` is `with` (covers for whoever is on
/// call), `replace` (covers for `replaces`), `add` (joins) or `remove` (is off). The problem in
/// words when the form does not describe one.
pub fn new_override(
    kind: &str,
    person: PersonId,
    replaces: PersonId,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<Override, &'static str> {
    let (Some(start), Some(end)) = (start, end) else { return Err("Give both a start and an end.") };
    if person.is_empty() {
        return Err("Choose who the override is about.");
    }
    let mut o = Override { start, end, add: None, remove: None, replace: None, with: None };
    match kind {
        "add" => o.add = Some(person),
        "remove" => o.remove = Some(person),
        "replace" => {
            if replaces.is_empty() {
                return Err("Choose who is replaced.");
            }
            o.replace = Some(replaces);
            o.with = Some(person);
        }
        _ => o.with = Some(person),
    }
    if end <= start {
        return Err("The end must be after the start.");
    }
    Ok(o)
}

/// An override in one line: "Bob covers for Alice, Tue 22:00 → Wed 07:00"; `name` gives a person's
/// name, `span` is the override's time in the reader's words.
pub fn override_words(o: &Override, name: impl Fn(&str) -> String, span: &str) -> String {
    let name = |id: &Option<PersonId>| id.as_deref().map(&name).unwrap_or_default();
    if o.add.is_some() {
        format!("{} joins whoever is on call, {span}", name(&o.add))
    } else if o.remove.is_some() {
        format!("{} is off, {span}", name(&o.remove))
    } else if o.replace.is_some() {
        format!("{} covers for {}, {span}", name(&o.with), name(&o.replace))
    } else {
        format!("{} covers for whoever is on call, {span}", name(&o.with))
    }
}

/// The incident the Rules screen's test box describes: its fields as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestIncident {
    pub title: String,
    pub service: String,
    pub environment: String,
    /// `sev1` … `sev4`.
    pub severity: String,
    pub customer_impact: bool,
    /// `name=value`, separated by commas.
    pub labels: String,
}

impl TestIncident {
    /// The incident's details: `pasted` JSON when there is some (or where it cannot be read, as
    /// `path: problem`), else the fields.
    pub fn details(&self, pasted: &str) -> Result<IncidentDetails, String> {
        if !pasted.trim().is_empty() {
            return crate::json::from_str::<IncidentDetails>(pasted).map_err(|e| if e.path.is_empty() { format!(".: {}", e.message) } else { e.to_string() });
        }
        let severity = crate::json::from_value::<Severity>(serde_json::json!(self.severity)).unwrap_or_default();
        let labels = self
            .labels
            .split(',')
            .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
            .filter(|(k, _)| !k.is_empty())
            .collect();
        Ok(IncidentDetails {
            title: self.title.clone(),
            service: self.service.clone(),
            environment: self.environment.clone(),
            severity,
            customer_impact: self.customer_impact,
            labels,
            ..IncidentDetails::default()
        })
    }
}

/// What the test box found: the rules that fired, in order, what the incident became, and whether
/// the rule being edited took part.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleTest {
    pub fired: Vec<String>,
    pub outcome: Vec<String>,
    pub draft_included: bool,
}

/// Opens `details` on a throwaway engine with `world`'s rules in their order, the rule being
/// edited (`draft`) in its place or last, and reports which rules fired and what the incident
/// became. Nothing is saved and nobody is paged.
pub fn try_rules(world: &World, draft: Option<Rule>, details: IncidentDetails, now: DateTime<Utc>) -> RuleTest {
    let mut world = world.clone();
    let draft_included = draft.is_some();
    if let Some(mut rule) = draft {
        if rule.id.is_empty() {
            rule.id = "draft-rule".into();
        }
        match world.rules.iter().position(|r| r.id == rule.id) {
            Some(i) => world.rules[i] = rule,
            None => world.rules.push(rule),
        }
    }
    let mut engine = Engine::new();
    let outcome = engine.handle(&world, now, Input::Open { id: "rule-test".into(), by: Actor::Automation, details });
    let fired: Vec<String> = outcome.effects.iter().filter(|e| e.entry.kind == EntryKind::RuleApplied).map(|e| e.entry.detail.clone()).collect();
    let mut said = Vec::new();
    if let Some(i) = engine.incident("rule-test") {
        said.push(format!("severity {}", i.details.severity.as_str().to_uppercase()));
        said.push(format!("priority {}", i.details.priority.map(|p| p.as_str()).unwrap_or("not set")));
        match (&i.suppressed, &i.escalation) {
            (Some(why), _) => said.push(format!("suppressed: {why}")),
            (None, Some(e)) => {
                let name = if e.policy.name.is_empty() { e.policy.id.to_string() } else { e.policy.name.clone() };
                said.push(format!("policy “{name}”, starting at level {}", e.level + 1));
            }
            (None, None) => said.push("no policy: nobody is paged".into()),
        }
        let paged: Vec<String> = outcome
            .effects
            .iter()
            .filter(|e| e.entry.kind == EntryKind::Paged)
            .filter_map(|e| e.entry.person.as_deref())
            .map(|p| world.person(p).map(|x| x.name.clone()).unwrap_or_else(|| p.to_string()))
            .collect();
        if !paged.is_empty() {
            said.push(format!("pages now: {}", paged.join(" + ")));
        }
    }
    RuleTest { fired, outcome: said, draft_included }
}

/// At most this many segments are computed (a schedule handing off every hour for 14 days is 336).
const MAX_SEGMENTS: usize = 1000;

/// People by name, "Alice + Bob", or "nobody".
fn names(world: &World, ids: &[PersonId]) -> String {
    if ids.is_empty() {
        return "nobody".into();
    }
    ids.iter().map(|id| world.person(id).map(|p| p.name.clone()).unwrap_or_else(|| id.to_string())).collect::<Vec<_>>().join(" + ")
}

/// Who is on call from `from` to `to`, as (start, end, people) from handoff to handoff.
pub fn segments(s: &OnCallSchedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>, Vec<PersonId>)> {
    let mut out = Vec::new();
    let mut cursor = from;
    while cursor < to && out.len() < MAX_SEGMENTS {
        let who = s.on_call_at(cursor);
        let next = s.next_handoff(cursor).filter(|t| *t < to).unwrap_or(to);
        out.push((cursor, next, who));
        cursor = next;
    }
    out
}

/// “On call now: Alice, until Mon 09:00 (then Bob)”, in the schedule's zone.
pub fn on_call_now(world: &World, s: &OnCallSchedule, now: DateTime<Utc>) -> String {
    let who = s.on_call_at(now);
    let mut text = if who.is_empty() { "Nobody is on call now".to_string() } else { format!("On call now: {}", names(world, &who)) };
    if let Some(next) = s.next_handoff(now) {
        let at = s.time_zone.local(next).format("%a %-d %b %H:%M");
        text.push_str(&format!(", until {at} (then {})", names(world, &s.on_call_at(next))));
    }
    text
}

/// One day of the on-call timeline, in the schedule's zone.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineDay {
    pub date: NaiveDate,
    pub weekend: bool,
    /// Who is on call that day, from handoff to handoff (cut at midnight).
    pub bars: Vec<TimelineBar>,
}

/// Someone's (or nobody's) time on call within a day.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineBar {
    /// Where it starts and how long it is, in percent of the day.
    pub left: f64,
    pub width: f64,
    /// "09:00–24:00".
    pub span: String,
    /// Who, by name ("nobody" for a gap).
    pub label: String,
    /// The same people keep the same colour across the days; `None` is a gap.
    pub colour: Option<usize>,
}

/// Who is on call each of `days` days from the day of `now`, day by day.
pub fn timeline_days(world: &World, s: &OnCallSchedule, now: DateTime<Utc>, days: i64) -> Vec<TimelineDay> {
    let zone = s.time_zone;
    let today = zone.local(now).date();
    let midnight = |d: NaiveDate| zone.instant(d.and_time(NaiveTime::MIN));
    let all = segments(s, midnight(today), midnight(today + Duration::days(days)));
    let mut palette: Vec<Vec<PersonId>> = Vec::new();
    (0..days)
        .map(|d| {
            let date = today + Duration::days(d);
            let (start, end) = (midnight(date), midnight(date + Duration::days(1)));
            let length = (end - start).num_seconds().max(1) as f64;
            let bars = all
                .iter()
                .filter(|(a, b, _)| *b > start && *a < end)
                .map(|(a, b, who)| {
                    let (a, b) = ((*a).max(start), (*b).min(end));
                    let colour = (!who.is_empty()).then(|| {
                        palette.iter().position(|p| p == who).unwrap_or_else(|| {
                            palette.push(who.clone());
                            palette.len() - 1
                        })
                    });
                    TimelineBar {
                        left: (a - start).num_seconds() as f64 / length * 100.0,
                        width: (b - a).num_seconds() as f64 / length * 100.0,
                        span: format!(
                            "{}–{}",
                            zone.local(a).format("%H:%M"),
                            if b == end { "24:00".to_string() } else { zone.local(b).format("%H:%M").to_string() }
                        ),
                        label: names(world, who),
                        colour,
                    }
                })
                .collect();
            TimelineDay { date, weekend: matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun), bars }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap() + Duration::minutes(min)
    }

    #[test]
    fn the_next_step_reads_as_one_sentence() {
        let step = NextStep { at: t(5), pages: vec!["Bob".into(), "Carol".into()], events: vec![] };
        assert_eq!(step.sentence(t(0), "10:05"), "In 5 min (at 10:05), Piket pages Bob and Carol.");
        let stop = NextStep { at: t(0) + Duration::seconds(20), pages: vec![], events: vec!["the escalation stops (no level left)".into()] };
        assert_eq!(stop.sentence(t(0), "10:00"), "In 20 s (at 10:00), the escalation stops (no level left).");
        let both = NextStep { at: t(1), pages: vec!["Ann".into()], events: vec!["the policy starts again from its first level".into()] };
        assert_eq!(both.sentence(t(0), "10:01"), "In 1 min (at 10:01), Piket pages Ann and the policy starts again from its first level.");
        assert_eq!(step.sentence(t(6), "10:05"), "Any moment now (due at 10:05), Piket pages Bob and Carol.");
        let three = and_list(&["a".into(), "b".into(), "c".into()]);
        assert_eq!(three, "a, b and c");
    }

    #[test]
    fn the_next_step_of_a_real_incident_names_who_is_paged() {
        let world: World = serde_json::from_value(serde_json::json!({
            "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
            "policies": [{"id": "p", "name": "P", "levels": [
                {"targets": [{"person": "alice"}], "ack_timeout": 5},
                {"targets": [{"person": "bob"}], "ack_timeout": 5}
            ]}],
            "default_policy": "p"
        }))
        .unwrap();
        let mut engine = Engine::default();
        let open = crate::engine::escalation::Input::Open {
            id: "i".into(),
            by: crate::engine::incident::Actor::Automation,
            details: crate::engine::incident::IncidentDetails { title: "Down".into(), ..Default::default() },
        };
        assert!(engine.handle(&world, t(0), open).rejected.is_none());
        let incident = engine.incident("i").unwrap();
        let step = next_step(&world, incident).expect("level 2 is due");
        assert_eq!(step.at, t(5));
        assert_eq!(step.pages, vec!["Bob".to_string()]);
        assert!(step.sentence(t(0), "10:05").starts_with("In 5 min (at 10:05), Piket pages Bob"), "{}", step.sentence(t(0), "10:05"));
    }

    #[test]
    fn a_delivery_row_reads_in_words_without_its_stored_shape() {
        let world = World::default();
        let mut row = OutboxRow {
            key: "k".into(),
            incident: "i".into(),
            delivery: Delivery::Post { channel: "ops".into() },
            at: t(0),
            queued_at: t(0),
            state: DeliveryState::Pending,
            attempts: vec![],
            next_attempt_at: Some(t(2)),
            routes: vec![],
            event: None,
        };
        let clock = |at: DateTime<Utc>| at.format("%H:%M").to_string();
        assert_eq!(DeliveryRow::of(&row, &world).words(clock), "pending");
        row.attempts.push(crate::storage::Attempt { at: t(1), route: "webhook".into(), status: Some(500), latency_ms: 3, note: "timeout".into() });
        let view = DeliveryRow::of(&row, &world);
        assert_eq!(view.status.as_str(), "pending");
        assert_eq!(view.words(clock), "pending, next try 10:02 (1 attempt; last: HTTP 500, timeout)");
        row.attempts.push(crate::storage::Attempt { at: t(2), route: "webhook".into(), status: None, latency_ms: 3, note: String::new() });
        row.state = DeliveryState::Failed;
        let failed = DeliveryRow::of(&row, &world);
        assert_eq!(failed.words(clock), "failed (2 attempts; last: network error)");
        assert!(failed.failed_words.starts_with("post to "), "{}", failed.failed_words);
        row.state = DeliveryState::Folded;
        row.attempts.clear();
        assert!(DeliveryRow::of(&row, &world).failed_words.is_empty());
        assert_eq!(DeliveryRow::of(&row, &world).status.as_str(), "folded");
    }

    #[test]
    fn storage_use_reads_in_words() {
        let info = StorageUse { persisted: Some(true), usage_bytes: Some(3.0 * 1024.0 * 1024.0), quota_bytes: Some(1024.0 * 1024.0 * 1024.0) };
        assert!(info.persisted_words().starts_with("Persistent storage granted"));
        assert_eq!(info.usage_words(), "Using 3.0 MB of 1024.0 MB available.");
        assert_eq!(StorageUse::default().usage_words(), "Usage unknown.");
        assert!(StorageUse::default().persisted_words().starts_with("This browser does not say"));
    }

    #[test]
    fn an_override_is_built_from_the_form_or_says_what_is_missing() {
        let name = |id: &str| id.to_uppercase();
        let cover = new_override("with", "bob".into(), PersonId::default(), Some(t(0)), Some(t(60))).unwrap();
        assert_eq!(override_words(&cover, name, "now"), "BOB covers for whoever is on call, now");
        let swap = new_override("replace", "bob".into(), "ann".into(), Some(t(0)), Some(t(60))).unwrap();
        assert_eq!((swap.replace.as_deref(), swap.with.as_deref()), (Some("ann"), Some("bob")));
        assert_eq!(override_words(&swap, name, "now"), "BOB covers for ANN, now");
        assert_eq!(
            override_words(&new_override("add", "c".into(), PersonId::default(), Some(t(0)), Some(t(1))).unwrap(), name, "x"),
            "C joins whoever is on call, x"
        );
        assert_eq!(override_words(&new_override("remove", "d".into(), PersonId::default(), Some(t(0)), Some(t(1))).unwrap(), name, "x"), "D is off, x");
        assert_eq!(new_override("with", "bob".into(), PersonId::default(), None, Some(t(1))), Err("Give both a start and an end."));
        assert_eq!(new_override("with", PersonId::default(), PersonId::default(), Some(t(0)), Some(t(1))), Err("Choose who the override is about."));
        assert_eq!(new_override("replace", "bob".into(), PersonId::default(), Some(t(0)), Some(t(1))), Err("Choose who is replaced."));
        assert_eq!(new_override("with", "bob".into(), PersonId::default(), Some(t(1)), Some(t(1))), Err("The end must be after the start."));
    }

    fn rules_world() -> World {
        serde_json::from_value(serde_json::json!({
            "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}],
            "policies": [{"id": "p", "name": "Primary", "levels": [{"targets": [{"person": "alice"}], "ack_timeout": 5}]}],
            "rules": [{"id": "r1", "name": "Payments are urgent", "when": {"field": "service", "equals": "payments"}, "then": [{"set_priority": "urgent"}]}],
            "default_policy": "p"
        }))
        .unwrap()
    }

    #[test]
    fn the_rule_test_box_reads_its_fields_or_pasted_json() {
        let fields = TestIncident {
            title: "Down".into(),
            service: "payments".into(),
            severity: "sev2".into(),
            labels: "team = db, =x, bad".into(),
            ..Default::default()
        };
        let details = fields.details("").unwrap();
        assert_eq!((details.title.as_str(), details.service.as_str(), details.severity), ("Down", "payments", Severity::Sev2));
        assert_eq!(details.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(), vec![("team", "db")]);
        let pasted = fields.details(r#"{"title": "From JSON", "service": "api"}"#).unwrap();
        assert_eq!(pasted.title, "From JSON");
        let wrong = fields.details(r#"{"title": 3}"#).unwrap_err();
        assert!(wrong.starts_with("title: "), "{wrong}");
    }

    #[test]
    fn the_rule_test_box_says_which_rules_fire_with_the_draft_in_its_place() {
        let world = rules_world();
        let details = IncidentDetails { title: "Down".into(), service: "payments".into(), ..Default::default() };
        let saved = try_rules(&world, None, details.clone(), t(0));
        assert_eq!(saved.fired.len(), 1, "{saved:?}");
        assert!(saved.outcome.contains(&"priority urgent".to_string()), "{saved:?}");
        assert!(saved.outcome.contains(&"policy “Primary”, starting at level 1".to_string()), "{saved:?}");
        assert!(saved.outcome.contains(&"pages now: Alice".to_string()), "{saved:?}");
        assert!(!saved.draft_included);
        // The rule being edited replaces its saved self: here it no longer matches payments.
        let mut draft = world.rules[0].clone();
        draft.when = serde_json::from_value(serde_json::json!({"field": "service", "equals": "search"})).unwrap();
        let edited = try_rules(&world, Some(draft), details, t(0));
        assert!(edited.fired.is_empty(), "{edited:?}");
        assert!(edited.outcome.contains(&"priority not set".to_string()), "{edited:?}");
        assert!(edited.draft_included);
        // Nothing was saved.
        assert_eq!(world.rules[0].name, "Payments are urgent");
    }

    #[test]
    fn the_on_call_timeline_runs_from_handoff_to_handoff_day_by_day() {
        let world: World = serde_json::from_value(serde_json::json!({
            "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
            "schedules": [{"id": "s", "name": "Primary", "time_zone": "UTC", "layers": [
                {"people": ["alice", "bob"], "start": "2026-01-01T09:00", "every": "daily",
                 "restrictions": [{"days": "daily", "from": "09:00", "to": "21:00"}]}
            ]}]
        }))
        .unwrap();
        let s = &world.schedules[0];
        let days = timeline_days(&world, s, t(0), 2);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].date, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        assert!(!days[0].weekend);
        let first: Vec<(&str, &str, Option<usize>)> = days[0].bars.iter().map(|b| (b.span.as_str(), b.label.as_str(), b.colour)).collect();
        assert_eq!(first, vec![("00:00–09:00", "nobody", None), ("09:00–21:00", "Alice", Some(0)), ("21:00–24:00", "nobody", None)]);
        assert_eq!(days[0].bars[1].left, 37.5);
        assert_eq!(days[0].bars[1].width, 50.0);
        // Bob keeps his own colour; the widths of a day add up to the whole day.
        assert_eq!(days[1].bars.iter().find(|b| b.label == "Bob").map(|b| b.colour), Some(Some(1)));
        assert!((days[1].bars.iter().map(|b| b.width).sum::<f64>() - 100.0).abs() < 1e-9);
        assert_eq!(on_call_now(&world, s, t(0)), "On call now: Alice, until Thu 1 Jan 21:00 (then nobody)");
    }
}
