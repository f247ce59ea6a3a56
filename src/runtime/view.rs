//! What the screens show, computed where native tests reach it. Screens format times in the
//! browser's zone and put these words on the page; they decide nothing themselves.

use chrono::{DateTime, Utc};

use crate::engine::escalation::{Delivery, Engine};
use crate::engine::incident::{EntryKind, Incident};
use crate::engine::schedule::Override;
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
            Some(Delivery::Page { person, .. }) => Some(world.person(person).map_or_else(|| person.clone(), |p| p.name.clone())),
            Some(Delivery::Post { channel }) => Some(format!(
                "channel {}",
                world.channel(channel).map_or_else(|| channel.clone(), |c| if c.name.is_empty() { c.id.clone() } else { c.name.clone() })
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
    pub incident: String,
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
pub fn new_override(kind: &str, person: String, replaces: String, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Result<Override, &'static str> {
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
    let name = |id: &Option<String>| id.as_deref().map(&name).unwrap_or_default();
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
        let cover = new_override("with", "bob".into(), String::new(), Some(t(0)), Some(t(60))).unwrap();
        assert_eq!(override_words(&cover, name, "now"), "BOB covers for whoever is on call, now");
        let swap = new_override("replace", "bob".into(), "ann".into(), Some(t(0)), Some(t(60))).unwrap();
        assert_eq!((swap.replace.as_deref(), swap.with.as_deref()), (Some("ann"), Some("bob")));
        assert_eq!(override_words(&swap, name, "now"), "BOB covers for ANN, now");
        assert_eq!(
            override_words(&new_override("add", "c".into(), String::new(), Some(t(0)), Some(t(1))).unwrap(), name, "x"),
            "C joins whoever is on call, x"
        );
        assert_eq!(override_words(&new_override("remove", "d".into(), String::new(), Some(t(0)), Some(t(1))).unwrap(), name, "x"), "D is off, x");
        assert_eq!(new_override("with", "bob".into(), String::new(), None, Some(t(1))), Err("Give both a start and an end."));
        assert_eq!(new_override("with", String::new(), String::new(), Some(t(0)), Some(t(1))), Err("Choose who the override is about."));
        assert_eq!(new_override("replace", "bob".into(), String::new(), Some(t(0)), Some(t(1))), Err("Choose who is replaced."));
        assert_eq!(new_override("with", "bob".into(), String::new(), Some(t(1)), Some(t(1))), Err("The end must be after the start."));
    }
}
