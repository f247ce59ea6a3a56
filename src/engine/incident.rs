//! Incidents: what is wrong, how bad, who has it, and the append-only timeline of everything that
//! happened to it.
//!
//! Owns: [`IncidentDetails`] (what a reporter or a monitor tells us), [`Incident`] (the details plus
//! the state the engine keeps), [`Status`], [`Severity`], [`Priority`], [`Actor`] and
//! [`TimelineEntry`]. Never: decides escalation (that is [`super::escalation`]) or edits a timeline
//! entry once written.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::person::PersonId;
use super::policy::PolicyId;
use super::rules::RuleId;

pub use super::id::IncidentId;

/// SEV1 (critical) … SEV4 (low). Written `"sev1"` … `"sev4"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Sev1,
    Sev2,
    #[default]
    Sev3,
    Sev4,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Sev1, Severity::Sev2, Severity::Sev3, Severity::Sev4];
    pub fn as_str(self) -> &'static str {
        ["sev1", "sev2", "sev3", "sev4"][self as usize]
    }
    /// Reads `"sev1"` … `"sev4"` (what [`Severity::as_str`] writes); anything else is SEV3, the
    /// default.
    pub fn from_str_or_default(s: &str) -> Severity {
        Severity::ALL.into_iter().find(|v| v.as_str() == s).unwrap_or_default()
    }
}

/// How urgently a human should look, set by people or rules ("production and customer impact → urgent").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent,
    High,
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        ["urgent", "high", "normal", "low"][self as usize]
    }
}

/// New → Triage → Investigating → Mitigating → Resolved; Acknowledged is the moment a human took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    New,
    Triage,
    Acknowledged,
    Investigating,
    Mitigating,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        ["new", "triage", "acknowledged", "investigating", "mitigating", "resolved"][self as usize]
    }
    /// Statuses that say a human is working on it: moving to one counts as an acknowledgement.
    pub fn means_someone_has_it(self) -> bool {
        matches!(self, Status::Acknowledged | Status::Investigating | Status::Mitigating)
    }
}

/// Who did something: a person (by id) or `"automation"` (the engine itself: timeouts, rules).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    Automation,
    Person(PersonId),
}

impl Actor {
    pub fn person(id: impl Into<PersonId>) -> Actor {
        Actor::Person(id.into())
    }
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Automation => "automation",
            Actor::Person(id) => id,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "automation" { Actor::Automation } else { Actor::Person(s.into()) })
    }
}

fn is_empty(s: &str) -> bool {
    s.is_empty()
}

/// What a reporter or a monitor tells us about an incident. Everything but the title is optional.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentDetails {
    pub title: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub summary: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Type or category ("database", "network", "security").
    #[serde(default, rename = "type", skip_serializing_if = "is_empty")]
    pub kind: String,
    /// The affected service ("payments").
    #[serde(default, skip_serializing_if = "is_empty")]
    pub service: String,
    /// Where it came from: a monitor's name, "person", "api".
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: String,
    /// "production", "staging".
    #[serde(default, skip_serializing_if = "is_empty")]
    pub environment: String,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub customer_impact: bool,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub sla_tier: String,
    /// Evidence: dashboards, logs, runbooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_empty")]
    pub reporter: String,
    /// Alerts with the same key fold into the open incident instead of opening another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The policy the reporter asked for; rules may route elsewhere, the world's default is the fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyId>,
}

/// `text` cut to `max` characters (marked), for a line of the timeline.
pub fn short(text: &str, max: usize) -> String {
    let mut t = text.to_string();
    bounded(&mut t, max);
    t
}

/// Cuts `text` to at most `max` characters, ending with "… [truncated]" when it was longer (a
/// pasted payload, not something a person typed). Keeps the text valid UTF-8.
pub fn bounded(text: &mut String, max: usize) {
    const MARK: &str = "… [truncated]";
    if text.chars().count() <= max {
        return;
    }
    let keep = max.saturating_sub(MARK.chars().count());
    let cut = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    text.truncate(cut);
    text.push_str(MARK);
}

impl IncidentDetails {
    /// The same details with every text field cut to a size a person would type (the title to
    /// `title_max`, the rest to `text_max`; at most 50 links and 100 labels), marked where cut.
    pub fn bounded(mut self, title_max: usize, text_max: usize) -> IncidentDetails {
        bounded(&mut self.title, title_max);
        for field in [
            &mut self.summary,
            &mut self.kind,
            &mut self.service,
            &mut self.source,
            &mut self.environment,
            &mut self.region,
            &mut self.sla_tier,
            &mut self.reporter,
        ] {
            bounded(field, text_max);
        }
        if let Some(k) = self.dedup_key.as_mut() {
            bounded(k, 1000);
        }
        self.links.truncate(50);
        for link in &mut self.links {
            bounded(link, 2000);
        }
        while self.labels.len() > 100 {
            self.labels.pop_last();
        }
        for value in self.labels.values_mut() {
            bounded(value, 1000);
        }
        self
    }
}

/// Who acknowledged, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: PersonId,
    pub at: DateTime<Utc>,
}

/// An incident and the state the engine keeps for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub details: IncidentDetails,
    pub status: Status,
    pub opened_at: DateTime<Utc>,
    /// When the status last changed (for "status unchanged for X → escalate").
    pub status_since: DateTime<Utc>,
    /// Alerts folded into this incident, counting the one that opened it.
    pub alert_count: u32,
    pub last_seen: DateTime<Utc>,
    pub acknowledged: Option<Acknowledgement>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The person it was last reassigned to, if any.
    pub assignee: Option<PersonId>,
    /// Why nobody is paged for it (a rule, a maintenance window), when that is the case.
    pub suppressed: Option<String>,
    /// The escalation in progress: the policy frozen at start, the cursor, pending deadlines.
    pub escalation: Option<super::escalation::Escalation>,
    /// Rules that already acted on this incident (a rule acts once per incident).
    pub applied_rules: Vec<RuleId>,
    /// Append-only.
    pub timeline: Vec<TimelineEntry>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.status != Status::Resolved
    }
}

/// What a timeline entry records. Written in snake_case (`"paged"`, `"level_skipped"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Opened,
    AlertFolded,
    RuleApplied,
    Suppressed,
    MaintenanceEnded,
    /// The escalation moved to a level (by timeout, by hand, by a rule).
    Escalated,
    Paged,
    Posted,
    LevelSkipped,
    LoopStarted,
    /// The policy ran out of levels and does not repeat (or has no loops left).
    EscalationStopped,
    CheckpointWaiting,
    CheckpointConfirmed,
    CheckpointTimedOut,
    Acknowledged,
    Unacknowledged,
    AckReminder,
    Reassigned,
    Snoozed,
    SnoozeEnded,
    Note,
    StatusChanged,
    SeverityChanged,
    PriorityChanged,
    Resolved,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        // Same words serde writes.
        match self {
            EntryKind::Opened => "opened",
            EntryKind::AlertFolded => "alert_folded",
            EntryKind::RuleApplied => "rule_applied",
            EntryKind::Suppressed => "suppressed",
            EntryKind::MaintenanceEnded => "maintenance_ended",
            EntryKind::Escalated => "escalated",
            EntryKind::Paged => "paged",
            EntryKind::Posted => "posted",
            EntryKind::LevelSkipped => "level_skipped",
            EntryKind::LoopStarted => "loop_started",
            EntryKind::EscalationStopped => "escalation_stopped",
            EntryKind::CheckpointWaiting => "checkpoint_waiting",
            EntryKind::CheckpointConfirmed => "checkpoint_confirmed",
            EntryKind::CheckpointTimedOut => "checkpoint_timed_out",
            EntryKind::Acknowledged => "acknowledged",
            EntryKind::Unacknowledged => "unacknowledged",
            EntryKind::AckReminder => "ack_reminder",
            EntryKind::Reassigned => "reassigned",
            EntryKind::Snoozed => "snoozed",
            EntryKind::SnoozeEnded => "snooze_ended",
            EntryKind::Note => "note",
            EntryKind::StatusChanged => "status_changed",
            EntryKind::SeverityChanged => "severity_changed",
            EntryKind::PriorityChanged => "priority_changed",
            EntryKind::Resolved => "resolved",
        }
    }
}

/// One line of an incident's audit trail. Flat on purpose: the screen lists it, the CLI prints it as
/// a JSON line, and pages carry their idempotency key here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// The intended time: for automatic steps, the deadline they belong to (not when a sleepy tab
    /// got round to it).
    pub at: DateTime<Utc>,
    pub kind: EntryKind,
    pub actor: Actor,
    /// Policy level, 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    /// Pass through the policy, 0-based (see [`super::escalation`] for what starts a new one).
    #[serde(default, rename = "loop", skip_serializing_if = "Option::is_none")]
    pub pass: Option<u32>,
    /// The policy target that led here, as `kind:id` (`schedule:primary`, `channel:major-incident`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonId>,
    /// Idempotency key of a page or post; never emitted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `severity_changed` only: the severity before and after, typed, so reports never read
    /// `detail` (absent on entries recorded before these fields existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_from: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_to: Option<Severity>,
    /// Human words: why, what changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl TimelineEntry {
    pub fn new(at: DateTime<Utc>, kind: EntryKind, actor: Actor) -> TimelineEntry {
        TimelineEntry {
            at,
            kind,
            actor,
            level: None,
            pass: None,
            target: None,
            person: None,
            key: None,
            severity_from: None,
            severity_to: None,
            detail: String::new(),
        }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> TimelineEntry {
        self.detail = detail.into();
        self
    }
    pub fn level(mut self, level_index: usize, pass: u32) -> TimelineEntry {
        self.level = Some(level_index as u32 + 1);
        self.pass = Some(pass);
        self
    }
}
