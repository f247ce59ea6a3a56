//! The escalation state machine: incidents in, pages out, on a clock it is handed.
//!
//! Owns: [`Engine`] (every incident, its frozen policy and cursor, and the index of pending
//! deadlines), [`Input`], [`Effect`] and [`Rejected`]. Driven like quinn-proto: [`Engine::handle`]
//! for something that happened, [`Engine::handle_timeout`] when the clock reaches
//! [`Engine::poll_timeout`]. Never: reads the clock, sends anything, or sleeps — the runtime persists
//! the engine after each call and then delivers the effects it returned.
//!
//! Architecture invariants:
//! - **Intended time.** An automatic step happens *at its deadline*, whatever `now` is when the
//!   runtime gets round to it: timeline entries carry the deadline, and the next deadline is
//!   computed from it. So a tab that slept an hour and catches up in one call produces exactly the
//!   effects, times and order of one that ticked every minute.
//! - **Order.** Due deadlines fire in (time, incident id, timer) order; an input first fires every
//!   deadline up to its `now`, then applies.
//! - **Idempotency keys** are `incident/L<level>/loop<n>/<target>/<person>` for level pages and
//!   posts, `incident/reminder<n>/…` and `incident/reassign<n>/…` for the others. Each (level, loop)
//!   is entered at most once: whatever would re-enter a level (a snooze ending, a reassignment to an
//!   earlier or the same level) starts a new loop instead. A loop started by hand does not use up the
//!   policy's `repeat.times`.
//! - **The policy is frozen** onto the incident when it starts (with rules' added targets and speed-up
//!   folded in), so later edits of the policy never derail a live incident.
//! - After **resolve**, nothing more happens to an incident. After **acknowledge**, only what the
//!   policy asks for after an acknowledgement pages anyone: the ack reminder, a level's resolution
//!   timeout, "status unchanged for X".

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::incident::{Acknowledgement, Actor, EntryKind, Incident, IncidentDetails, IncidentId, Priority, Severity, Status, TimelineEntry};
use super::person::{Contact, PersonId};
use super::policy::{ChannelId, CheckpointTimeout, EscalationPolicy, Target};
use super::rules::{Action, Facts, RecurBy};
use super::time::Minutes;
use super::world::World;

/// Something that happened, as the runtime (or a scenario) reports it.
/// JSON: `{"input": "acknowledge", "incident": "inc-1", "by": "alice"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case", deny_unknown_fields)]
#[allow(clippy::large_enum_variant)] // one input at a time, never stored in bulk
pub enum Input {
    /// A new incident, or an alert: with a dedup key matching an open incident it folds into that
    /// one (and `id` is not used).
    #[serde(alias = "alert")]
    Open {
        id: IncidentId,
        #[serde(default = "automation")]
        by: Actor,
        details: IncidentDetails,
    },
    /// "Resolve" from a monitor: resolves the open incident with this dedup key.
    ResolveByKey {
        dedup_key: String,
        #[serde(default = "automation")]
        by: Actor,
    },
    Acknowledge {
        incident: IncidentId,
        by: PersonId,
    },
    /// Give it back: the current level's ack timeout starts again.
    Unacknowledge {
        incident: IncidentId,
        by: PersonId,
    },
    Resolve {
        incident: IncidentId,
        #[serde(default = "automation")]
        by: Actor,
    },
    /// To a person (paged now, must acknowledge) or to a level (1-based; paged now).
    Reassign {
        incident: IncidentId,
        by: Actor,
        to: ReassignTo,
    },
    EscalateNow {
        incident: IncidentId,
        by: Actor,
    },
    /// Quiet until `until`; then it is unacknowledged and the current level paged again (a new loop).
    Snooze {
        incident: IncidentId,
        by: PersonId,
        until: DateTime<Utc>,
    },
    AddNote {
        incident: IncidentId,
        by: Actor,
        text: String,
    },
    ChangeStatus {
        incident: IncidentId,
        by: Actor,
        status: Status,
    },
    /// Re-evaluates the current level's timeouts for the new severity.
    ChangeSeverity {
        incident: IncidentId,
        by: Actor,
        severity: Severity,
    },
    /// Let a paused escalation page the level waiting behind a checkpoint.
    ConfirmCheckpoint {
        incident: IncidentId,
        by: PersonId,
    },
}

impl Input {
    /// The incident this input names: the new one's id for `open`, none for `resolve_by_key`.
    pub fn incident_id(&self) -> Option<&IncidentId> {
        match self {
            Input::Open { id, .. } => Some(id),
            Input::ResolveByKey { .. } => None,
            Input::Acknowledge { incident, .. }
            | Input::Unacknowledge { incident, .. }
            | Input::Resolve { incident, .. }
            | Input::Reassign { incident, .. }
            | Input::EscalateNow { incident, .. }
            | Input::Snooze { incident, .. }
            | Input::AddNote { incident, .. }
            | Input::ChangeStatus { incident, .. }
            | Input::ChangeSeverity { incident, .. }
            | Input::ConfirmCheckpoint { incident, .. } => Some(incident),
        }
    }
}

fn automation() -> Actor {
    Actor::Automation
}

/// JSON: `{"person": "bob"}` or `{"level": 2}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReassignTo {
    Person(PersonId),
    Level(u32),
}

/// Why an input was refused. The input itself then changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("No incident “{0}”.")]
    UnknownIncident(IncidentId),
    #[error("An incident “{0}” already exists.")]
    DuplicateIncident(IncidentId),
    #[error("Incident “{0}” is already resolved.")]
    AlreadyResolved(IncidentId),
    #[error("No open incident has the dedup key “{0}”.")]
    NoOpenIncidentForKey(String),
    #[error("Already acknowledged by {0}.")]
    AlreadyAcknowledged(PersonId),
    #[error("It is not acknowledged.")]
    NotAcknowledged,
    #[error("No checkpoint is waiting for confirmation.")]
    NoCheckpointWaiting,
    #[error("Nobody is being paged for it (suppressed, snoozed, held by maintenance, or no policy).")]
    NotEscalating,
    #[error("The policy has no level {0}.")]
    UnknownLevel(u32),
    #[error("There is no further level to escalate to.")]
    NoFurtherLevel,
    #[error("No person “{0}”.")]
    UnknownPerson(PersonId),
    #[error("Snooze until a time after now.")]
    SnoozeInThePast,
    #[error("Snooze until a time before the year 10000.")]
    SnoozeTooFar,
}

/// What [`Engine::handle`] did: the effects (deadlines that fell due first, then the input's), and
/// why the input was refused, if it was.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub effects: Vec<Effect>,
    pub rejected: Option<Rejected>,
}

/// What the runtime must do or show: every effect is a timeline entry of `incident`; the ones with a
/// `delivery` must also be sent (once: `entry.key` is the idempotency key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub incident: IncidentId,
    pub entry: TimelineEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

impl Effect {
    /// The intended time (the deadline this effect belongs to, or the input's time).
    pub fn at(&self) -> DateTime<Utc> {
        self.entry.at
    }
    pub fn key(&self) -> Option<&str> {
        self.entry.key.as_deref()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Delivery {
    /// Page a person through their contact details.
    Page { person: PersonId, contact: Contact },
    /// Post to a channel.
    Post { channel: ChannelId },
}

/// Where an incident's escalation stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// The current level was paged; waiting for its timeouts.
    Paging,
    /// The current level waits behind its checkpoint.
    AwaitingCheckpoint,
    Snoozed {
        until: DateTime<Utc>,
    },
    /// Opened inside a maintenance window; escalation starts when it ends.
    Held {
        until: DateTime<Utc>,
    },
    /// Ran out of levels (or a checkpoint said stop). Ack reminders still run.
    Stopped,
    /// Resolved.
    Done,
}

/// Pending deadlines of one incident. Fired in this field order when they fall together.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// End of a snooze or of a maintenance hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Wake,
    Checkpoint,
    Ack,
    Resolution,
    Stale,
    Reminder,
}

impl Timers {
    fn next(&self) -> Option<(DateTime<Utc>, Timer)> {
        [
            (self.wake, Timer::Wake),
            (self.checkpoint, Timer::Checkpoint),
            (self.ack, Timer::Ack),
            (self.resolution, Timer::Resolution),
            (self.stale, Timer::Stale),
            (self.reminder, Timer::Reminder),
        ]
        .into_iter()
        .filter_map(|(t, k)| t.map(|t| (t, k)))
        .min_by_key(|(t, _)| *t) // first in field order on ties
    }
    fn clear(&mut self, timer: Timer) {
        match timer {
            Timer::Wake => self.wake = None,
            Timer::Checkpoint => self.checkpoint = None,
            Timer::Ack => self.ack = None,
            Timer::Resolution => self.resolution = None,
            Timer::Stale => self.stale = None,
            Timer::Reminder => self.reminder = None,
        }
    }
}

/// An incident's escalation: the frozen policy, the cursor and the pending deadlines
/// (Grafana OnCall's escalation snapshot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// The policy as it was when the incident started, with rules' changes folded in. Shared:
    /// thousands of past incidents froze the same policy, and only a change copies it.
    pub policy: Arc<EscalationPolicy>,
    /// Current level, 0-based.
    pub level: usize,
    /// Current loop, 0-based.
    #[serde(rename = "loop")]
    pub pass: u32,
    /// Loops started by `repeat` (limited by `repeat.times`).
    pub repeats_used: u32,
    /// When the current level was paged: its timeouts count from here.
    pub level_since: DateTime<Utc>,
    pub stage: Stage,
    pub timers: Timers,
    pub reminders_sent: u32,
}

/// The most loops an incident may have gone through (a policy repeats at most 100 times; loops
/// started by hand add a few). A stored count past this is corrupt, and it keeps page keys far
/// from overflowing.
pub const MAX_LOOPS: u32 = 10_000;
/// The longest title the engine keeps (characters); longer ones are cut and marked.
pub const TITLE_MAX: usize = 500;
/// The longest summary, note or other free text the engine keeps (characters).
pub const TEXT_MAX: usize = 20_000;

fn within_time_range(t: DateTime<Utc>) -> DateTime<Utc> {
    super::time::within_range(t)
}

/// Why a stored incident cannot be run: the first problem found, with the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Inconsistent {
    pub field: String,
    pub problem: String,
}

fn inconsistent(field: &str, problem: impl Into<String>) -> Inconsistent {
    Inconsistent { field: field.to_string(), problem: problem.into() }
}

/// Whether a stored incident holds together: the escalation's level and loop are inside its
/// frozen policy, every pending timer has the setting it belongs to, the stage agrees with the
/// status, and times are in order. The engine runs only incidents that pass; restore refuses a file
/// with one that does not. (Oversized text is not a reason to refuse: [`bound_incident`] cuts it.)
pub fn check_incident(i: &Incident) -> Result<(), Inconsistent> {
    if i.id.trim().is_empty() || i.id.len() > 200 {
        return Err(inconsistent("id", "must be 1–200 characters"));
    }
    let (first, last) = super::time::time_range();
    let mut times = vec![("opened_at", Some(i.opened_at)), ("status_since", Some(i.status_since)), ("last_seen", Some(i.last_seen))];
    times.push(("acknowledged.at", i.acknowledged.as_ref().map(|a| a.at)));
    times.push(("resolved_at", i.resolved_at));
    if let Some(e) = &i.escalation {
        let t = &e.timers;
        times.extend([
            ("escalation.level_since", Some(e.level_since)),
            ("escalation.timers.wake", t.wake),
            ("escalation.timers.checkpoint", t.checkpoint),
            ("escalation.timers.ack", t.ack),
            ("escalation.timers.resolution", t.resolution),
            ("escalation.timers.stale", t.stale),
            ("escalation.timers.reminder", t.reminder),
        ]);
    }
    if let Some((field, _)) = times.iter().find(|(_, t)| t.is_some_and(|t| t < first || t > last)) {
        return Err(inconsistent(field, "outside the years 1970–9999"));
    }
    if i.status_since < i.opened_at || i.last_seen < i.opened_at {
        return Err(inconsistent("status_since", "is before the incident opened"));
    }
    if i.acknowledged.as_ref().is_some_and(|a| a.at < i.opened_at) {
        return Err(inconsistent("acknowledged.at", "is before the incident opened"));
    }
    match (i.status == Status::Resolved, i.resolved_at) {
        (true, None) => return Err(inconsistent("resolved_at", "a resolved incident needs the time it was resolved")),
        (false, Some(_)) => return Err(inconsistent("resolved_at", format!("set, but the status is “{}”", i.status.as_str()))),
        (_, Some(r)) if r < i.opened_at => return Err(inconsistent("resolved_at", "is before the incident opened")),
        _ => {}
    }
    let Some(e) = &i.escalation else { return Ok(()) };
    let levels = e.policy.levels.len();
    if levels == 0 {
        return Err(inconsistent("escalation.policy.levels", "the frozen policy has no levels"));
    }
    if e.level >= levels {
        return Err(inconsistent("escalation.level", format!("level {} of a policy with {levels} levels", e.level + 1)));
    }
    if e.pass > MAX_LOOPS {
        return Err(inconsistent("escalation.loop", format!("{}; at most {MAX_LOOPS}", e.pass)));
    }
    let repeats = e.policy.repeat.as_ref().map_or(0, |r| r.times);
    if e.repeats_used > repeats {
        return Err(inconsistent("escalation.repeats_used", format!("{} of the policy's {repeats} repeats", e.repeats_used)));
    }
    let level = &e.policy.levels[e.level];
    let t = &e.timers;
    if t.checkpoint.is_some() && level.checkpoint.is_none() {
        return Err(inconsistent("escalation.timers.checkpoint", "a checkpoint timer on a level without a checkpoint"));
    }
    if t.reminder.is_some() && e.policy.ack_reminder.is_none() {
        return Err(inconsistent("escalation.timers.reminder", "an ack reminder timer, but the policy has no ack reminder"));
    }
    if t.stale.is_some() && e.policy.escalate_if_status_unchanged.is_none() {
        return Err(inconsistent("escalation.timers.stale", "a “status unchanged” timer, but the policy has no such setting"));
    }
    let resolved = i.status == Status::Resolved;
    if resolved != (e.stage == Stage::Done) {
        return Err(inconsistent("escalation.stage", format!("“{}” does not agree with the status “{}”", stage_name(&e.stage), i.status.as_str())));
    }
    if resolved && t.next().is_some() {
        return Err(inconsistent("escalation.timers", "a resolved incident still has pending deadlines"));
    }
    if matches!(e.stage, Stage::Snoozed { .. } | Stage::Held { .. }) && t.wake.is_none() && !resolved {
        return Err(inconsistent("escalation.timers.wake", "snoozed or held with no time to wake"));
    }
    Ok(())
}

/// Cuts an incident's text to the sizes the engine keeps ([`TITLE_MAX`], [`TEXT_MAX`]), marked
/// where cut: a stored 10 MB title must not slow every step that carries the incident.
pub fn bound_incident(i: &mut Incident) {
    if i.details.title.len() > TITLE_MAX || i.details.summary.len() > TEXT_MAX || i.details.service.len() > TEXT_MAX {
        i.details = std::mem::take(&mut i.details).bounded(TITLE_MAX, TEXT_MAX);
    }
    for entry in &mut i.timeline {
        if entry.detail.len() > TEXT_MAX {
            super::incident::bounded(&mut entry.detail, TEXT_MAX);
        }
    }
}

fn stage_name(stage: &Stage) -> &'static str {
    match stage {
        Stage::Paging => "paging",
        Stage::AwaitingCheckpoint => "awaiting_checkpoint",
        Stage::Snoozed { .. } => "snoozed",
        Stage::Held { .. } => "held",
        Stage::Stopped => "stopped",
        Stage::Done => "done",
    }
}

/// All incidents and their pending deadlines. Serializable: the runtime persists it after every
/// call. The deadline and dedup indexes are rebuilt on load.
///
/// A step can be undone: between [`Engine::begin`] and [`Engine::commit`] the engine keeps what
/// each change replaced (the first version of every incident it touches, the index entries, the
/// clock), and [`Engine::rollback`] puts exactly that back. The runtime adopts a step only once its
/// transaction committed; this is how it does so without copying every incident first.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "EngineRecord")]
pub struct Engine {
    /// Boxed: an incident is a large record, and a step moves it out of the map and back.
    incidents: BTreeMap<IncidentId, Box<Incident>>,
    /// Each incident's earliest pending deadline, so a tick touches only due incidents (mini-redis).
    #[serde(skip)]
    deadlines: BTreeSet<(DateTime<Utc>, IncidentId)>,
    /// Open incidents by dedup key, for folding alerts.
    #[serde(skip)]
    open_by_key: BTreeMap<String, IncidentId>,
    /// The latest `now` seen; time never runs backwards inside the engine.
    clock: Option<DateTime<Utc>>,
    /// What the step in progress replaced, while one is (see [`Engine::begin`]).
    #[serde(skip)]
    undo: Option<UndoLog>,
    /// Timelines only, no effects (see [`Engine::quiet`]).
    #[serde(skip)]
    quiet: bool,
}

/// What a step changed, kept so that [`Engine::rollback`] can restore the engine exactly.
#[derive(Clone, Debug, Default)]
struct UndoLog {
    clock: Option<DateTime<Utc>>,
    /// Every incident the step touched, as it was before the step.
    originals: BTreeMap<IncidentId, Original>,
    /// Index changes in the order they were made; undone in reverse.
    index: Vec<IndexChange>,
}

/// An incident as it was before a step touched it.
#[derive(Clone, Debug)]
enum Original {
    /// It did not exist (the step opened it).
    Absent,
    /// Everything but the timeline, which only ever grows: its length is enough to cut it back.
    Grown { incident: Incident, timeline_len: usize },
    /// Everything, for an incident the step takes out of the engine.
    Whole(Incident),
}

#[derive(Clone, Debug)]
enum IndexChange {
    DeadlineAdded((DateTime<Utc>, IncidentId)),
    DeadlineRemoved((DateTime<Utc>, IncidentId)),
    /// A dedup key was set or removed; what it held before.
    Key(String, Option<IncidentId>),
}

impl UndoLog {
    /// Keeps the incident as it is now, unless the step already touched it.
    fn keep(&mut self, incident: &mut Incident) {
        if self.originals.contains_key(&incident.id) {
            return;
        }
        let timeline = std::mem::take(&mut incident.timeline);
        let original = Original::Grown { incident: incident.clone(), timeline_len: timeline.len() };
        incident.timeline = timeline;
        self.originals.insert(incident.id.clone(), original);
    }

    /// Keeps an incident about to leave the engine whole (its timeline will not be there to cut
    /// back).
    fn keep_leaving(&mut self, current: &Incident) {
        let whole = match self.originals.remove(&current.id) {
            None => Original::Whole(current.clone()),
            Some(Original::Grown { mut incident, timeline_len }) => {
                incident.timeline = current.timeline.iter().take(timeline_len).cloned().collect();
                Original::Whole(incident)
            }
            // Opened by this step (it leaves no trace), or already kept whole.
            Some(other) => other,
        };
        self.originals.insert(current.id.clone(), whole);
    }
}

#[derive(Deserialize)]
struct EngineRecord {
    incidents: BTreeMap<IncidentId, Incident>,
    clock: Option<DateTime<Utc>>,
}

impl From<EngineRecord> for Engine {
    fn from(r: EngineRecord) -> Engine {
        let mut engine = Engine { clock: r.clock, ..Engine::default() };
        for (_, incident) in r.incidents {
            if check_incident(&incident).is_ok() {
                engine.put_back(Box::new(incident));
            }
        }
        engine
    }
}

fn deadline(incident: &Incident) -> Option<DateTime<Utc>> {
    incident.escalation.as_ref().and_then(|e| e.timers.next()).map(|(t, _)| t)
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// An engine that writes every incident's timeline as usual but hands back no effects: for
    /// replaying the past, where nothing is delivered and the timeline is all that is read. It
    /// saves copying each entry and its delivery into an effect.
    pub fn quiet() -> Engine {
        Engine { quiet: true, ..Engine::default() }
    }

    /// Rebuilds an engine from stored incidents (the runtime persists incidents one by one, not
    /// the engine as a whole).
    pub fn restore(incidents: impl IntoIterator<Item = Incident>) -> Engine {
        Engine::restore_checked(incidents).0
    }

    /// [`Engine::restore`], returning the incidents left out because they do not hold together
    /// ([`check_incident`]): the engine never runs an inconsistent incident.
    pub fn restore_checked(incidents: impl IntoIterator<Item = Incident>) -> (Engine, Vec<(IncidentId, Inconsistent)>) {
        let mut engine = Engine::default();
        let mut left_out = Vec::new();
        for incident in incidents {
            match check_incident(&incident) {
                Ok(()) => engine.put_back(Box::new(incident)),
                Err(why) => left_out.push((incident.id.clone(), why)),
            }
        }
        (engine, left_out)
    }

    /// The earliest pending deadline: call [`Engine::handle_timeout`] then (or on waking, whichever
    /// comes first).
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    pub fn incident(&self, id: &str) -> Option<&Incident> {
        self.incidents.get(id).map(|i| &**i)
    }

    /// Starts a step that can be undone: from now on the engine keeps what each change replaces,
    /// until [`Engine::commit`] or [`Engine::rollback`]. A step left open (neither) is rolled back
    /// first: it was never adopted.
    pub fn begin(&mut self) {
        self.rollback();
        self.undo = Some(UndoLog { clock: self.clock, ..UndoLog::default() });
    }

    /// Keeps the step's changes and forgets what they replaced.
    pub fn commit(&mut self) {
        self.undo = None;
    }

    /// Puts the engine back exactly as it was at [`Engine::begin`]: every incident the step
    /// touched, opened or took out, the deadline and dedup indexes, and the clock. Without a step
    /// in progress, changes nothing.
    pub fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else { return };
        for change in undo.index.into_iter().rev() {
            match change {
                IndexChange::DeadlineAdded(entry) => {
                    self.deadlines.remove(&entry);
                }
                IndexChange::DeadlineRemoved(entry) => {
                    self.deadlines.insert(entry);
                }
                IndexChange::Key(key, Some(id)) => {
                    self.open_by_key.insert(key, id);
                }
                IndexChange::Key(key, None) => {
                    self.open_by_key.remove(&key);
                }
            }
        }
        for (id, original) in undo.originals {
            let current = self.incidents.remove(&id);
            match original {
                Original::Absent => {}
                Original::Grown { mut incident, timeline_len } => {
                    // Every way out of the map keeps the incident whole first, so it is here.
                    debug_assert!(current.is_some(), "{id} left the engine without being kept whole");
                    let mut timeline = current.map(|c| c.timeline).unwrap_or_default();
                    timeline.truncate(timeline_len);
                    incident.timeline = timeline;
                    self.incidents.insert(id, Box::new(incident));
                }
                Original::Whole(incident) => {
                    self.incidents.insert(id, Box::new(incident));
                }
            }
        }
        self.clock = undo.clock;
    }

    /// Every incident, by id.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values().map(|i| &**i)
    }

    /// Take resolved incidents out of the engine (for an archive), those resolved before `before`.
    /// They no longer count for "recurring" rules.
    pub fn archive_resolved(&mut self, before: DateTime<Utc>) -> Vec<Incident> {
        let ids: Vec<IncidentId> = self.incidents.values().filter(|i| i.resolved_at.is_some_and(|r| r < before)).map(|i| i.id.clone()).collect();
        let archived: Vec<Incident> = ids.into_iter().filter_map(|id| self.incidents.remove(&id)).map(|i| *i).collect();
        if let Some(undo) = self.undo.as_mut() {
            archived.iter().for_each(|i| undo.keep_leaving(i));
        }
        archived
    }

    /// Takes in an incident as another device's clock wrote it (team sync), in place of this
    /// engine's version of it, with its deadline and dedup key indexed as a step would. Nothing
    /// fires: only the device that runs the clock fires deadlines. One that does not hold together
    /// is refused and changes nothing.
    pub fn adopt(&mut self, incident: Incident) -> Result<(), Inconsistent> {
        check_incident(&incident)?;
        // Kept whole: the adopted timeline may be another than this one's grown.
        if let (Some(undo), Some(current)) = (self.undo.as_mut(), self.incidents.get(&incident.id)) {
            undo.keep_leaving(current);
        }
        if let Some(mine) = self.take(&incident.id) {
            // Its dedup key goes with it when the new version has another (or none).
            if let Some(key) = mine.details.dedup_key.as_ref().filter(|k| incident.details.dedup_key.as_ref() != Some(*k)) {
                if self.open_by_key.get(key) == Some(&mine.id) {
                    self.open_by_key.remove(key);
                    self.noted(IndexChange::Key(key.clone(), Some(mine.id.clone())));
                }
            }
        }
        self.put_back(Box::new(incident));
        Ok(())
    }

    /// Takes one resolved incident out of the engine (it moved to the archive). An open incident
    /// stays: only what can no longer change leaves.
    pub fn remove_resolved(&mut self, id: &str) -> Option<Incident> {
        if self.incidents.get(id).is_none_or(|i| i.is_open()) {
            return None;
        }
        let incident = self.incidents.remove(id)?;
        if let Some(undo) = self.undo.as_mut() {
            undo.keep_leaving(&incident);
        }
        Some(*incident)
    }

    /// Fire every deadline up to `now`, in order. Entries carry each deadline's own time.
    pub fn handle_timeout(&mut self, world: &World, now: DateTime<Utc>) -> Vec<Effect> {
        let now = self.tick_clock(now);
        // Room for a typical escalation per due deadline (an entry, pages, a post): a catch-up of
        // thousands of effects then grows its list once or not at all, instead of a dozen times.
        let due = self.deadlines.iter().take_while(|(t, _)| *t <= now).count();
        let mut out = Vec::with_capacity(due.saturating_mul(4));
        self.fire_due(world, now, &mut out);
        out
    }

    /// Apply an input at `now`, after firing every deadline up to `now` (their effects come first).
    /// An input that cannot apply is refused with a reason and changes nothing itself; the
    /// deadlines fired before it stand, and their effects are in the outcome either way.
    pub fn handle(&mut self, world: &World, now: DateTime<Utc>, input: Input) -> Outcome {
        let now = self.tick_clock(now);
        let mut effects = Vec::new();
        self.fire_due(world, now, &mut effects);
        if let Err(r) = self.check(world, &input) {
            return Outcome { effects, rejected: Some(r) };
        }
        self.apply(world, now, input, &mut effects);
        // An input can make a deadline due at once (a severity change shortening a timeout).
        self.fire_due(world, now, &mut effects);
        Outcome { effects, rejected: None }
    }

    fn tick_clock(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let now = within_time_range(now);
        let now = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(now);
        now
    }

    fn fire_due(&mut self, world: &World, now: DateTime<Utc>, out: &mut Vec<Effect>) {
        while self.deadlines.first().is_some_and(|(t, _)| *t <= now) {
            let Some((t, id)) = self.deadlines.pop_first() else { break };
            if let Some(undo) = self.undo.as_mut() {
                undo.index.push(IndexChange::DeadlineRemoved((t, id.clone())));
            }
            // Worked on in place: a timer never evaluates rules, so it needs no other incident.
            let Some(incident) = self.incidents.get_mut(&id) else { continue };
            if let Some(undo) = self.undo.as_mut() {
                undo.keep(incident);
            }
            if incident.is_open() {
                let mut step = Step { world, out, quiet: self.quiet, history: None };
                step.fire(incident, t);
            } else if let Some(e) = incident.escalation.as_mut() {
                // Nothing happens to a resolved incident: a leftover deadline is dropped.
                e.timers = Timers::default();
            }
            index(&mut self.deadlines, &mut self.open_by_key, &mut self.undo, incident);
        }
    }

    /// Whether an input can apply to the engine as it is now.
    fn check(&self, world: &World, input: &Input) -> Result<(), Rejected> {
        let open = |id: &IncidentId| -> Result<&Incident, Rejected> {
            let i = self.incidents.get(id).ok_or_else(|| Rejected::UnknownIncident(id.clone()))?;
            if i.is_open() {
                Ok(i)
            } else {
                Err(Rejected::AlreadyResolved(id.clone()))
            }
        };
        let person = |p: &PersonId| world.person(p).map(|_| ()).ok_or_else(|| Rejected::UnknownPerson(p.clone()));
        match input {
            Input::Open { id, details, .. } => {
                let folds = details.dedup_key.as_ref().is_some_and(|k| self.open_by_key.contains_key(k));
                if !folds && self.incidents.contains_key(id) {
                    return Err(Rejected::DuplicateIncident(id.clone()));
                }
            }
            Input::ResolveByKey { dedup_key, .. } => {
                if !self.open_by_key.contains_key(dedup_key) {
                    return Err(Rejected::NoOpenIncidentForKey(dedup_key.clone()));
                }
            }
            Input::Acknowledge { incident, by } => {
                person(by)?;
                if let Some(a) = &open(incident)?.acknowledged {
                    return Err(Rejected::AlreadyAcknowledged(a.by.clone()));
                }
            }
            Input::Unacknowledge { incident, by } => {
                person(by)?;
                if open(incident)?.acknowledged.is_none() {
                    return Err(Rejected::NotAcknowledged);
                }
            }
            Input::Resolve { incident, .. } | Input::ChangeSeverity { incident, .. } | Input::ChangeStatus { incident, .. } => {
                open(incident)?;
            }
            Input::AddNote { incident, .. } => {
                self.incidents.get(incident).ok_or_else(|| Rejected::UnknownIncident(incident.clone()))?;
            }
            Input::Reassign { incident, to, .. } => {
                let i = open(incident)?;
                match to {
                    ReassignTo::Person(p) => person(p)?,
                    ReassignTo::Level(k) => {
                        let e = active(i)?;
                        if *k == 0 || *k as usize > e.policy.levels.len() {
                            return Err(Rejected::UnknownLevel(*k));
                        }
                    }
                }
            }
            Input::EscalateNow { incident, .. } => {
                let e = active(open(incident)?)?;
                let last = e.level + 1 >= e.policy.levels.len();
                let loops_left = e.policy.repeat.as_ref().is_some_and(|r| e.repeats_used < r.times);
                if e.stage == Stage::Stopped || (last && !loops_left) {
                    return Err(Rejected::NoFurtherLevel);
                }
            }
            Input::Snooze { incident, by, until } => {
                person(by)?;
                active(open(incident)?)?;
                if Some(*until) <= self.clock {
                    return Err(Rejected::SnoozeInThePast);
                }
                if *until > super::time::time_range().1 {
                    return Err(Rejected::SnoozeTooFar);
                }
            }
            Input::ConfirmCheckpoint { incident, by } => {
                person(by)?;
                let e = open(incident)?.escalation.as_ref().ok_or(Rejected::NoCheckpointWaiting)?;
                if e.stage != Stage::AwaitingCheckpoint {
                    return Err(Rejected::NoCheckpointWaiting);
                }
            }
        }
        Ok(())
    }

    fn apply(&mut self, world: &World, now: DateTime<Utc>, input: Input, out: &mut Vec<Effect>) {
        let id = match &input {
            Input::Open { details, .. } => match details.dedup_key.as_ref().and_then(|k| self.open_by_key.get(k)) {
                Some(open) => open.clone(),
                None => {
                    let Input::Open { id, by, details } = input else { unreachable!() };
                    let mut step = Step { world, out, quiet: self.quiet, history: Some(&self.incidents) };
                    let incident = step.open(now, id.clone(), by, details);
                    self.put_back(Box::new(incident));
                    return;
                }
            },
            Input::ResolveByKey { dedup_key, .. } => match self.open_by_key.get(dedup_key) {
                Some(id) => id.clone(),
                None => return,
            },
            other => match other.incident_id() {
                Some(id) => id.clone(),
                None => return,
            },
        };
        let Some(mut incident) = self.take(&id) else { return };
        let mut step = Step { world, out, quiet: self.quiet, history: Some(&self.incidents) };
        step.apply(&mut incident, now, input);
        self.put_back(incident);
    }

    /// Remove an incident from the map and its index entries, to work on it.
    fn take(&mut self, id: &str) -> Option<Box<Incident>> {
        let mut incident = self.incidents.remove(id)?;
        if let Some(undo) = self.undo.as_mut() {
            undo.keep(&mut incident);
        }
        if let Some(t) = deadline(&incident) {
            let entry = (t, incident.id.clone());
            if self.deadlines.remove(&entry) {
                self.noted(IndexChange::DeadlineRemoved(entry));
            }
        }
        Some(incident)
    }

    /// Put an incident (back) and index it.
    fn put_back(&mut self, incident: Box<Incident>) {
        index(&mut self.deadlines, &mut self.open_by_key, &mut self.undo, &incident);
        if let Some(undo) = self.undo.as_mut() {
            if !undo.originals.contains_key(&incident.id) {
                // New to the engine, or replacing one nothing took out first.
                let original = self.incidents.get(&incident.id).map_or(Original::Absent, |i| Original::Whole(Incident::clone(i)));
                undo.originals.insert(incident.id.clone(), original);
            }
        }
        self.incidents.insert(incident.id.clone(), incident);
    }

    /// Records an index change for [`Engine::rollback`], while a step is in progress.
    fn noted(&mut self, change: IndexChange) {
        if let Some(undo) = self.undo.as_mut() {
            undo.index.push(change);
        }
    }
}

/// Files an incident's pending deadline and dedup key in the indexes (any older deadline entry of
/// it is already out), noting each change while a step is in progress.
fn index(
    deadlines: &mut BTreeSet<(DateTime<Utc>, IncidentId)>,
    open_by_key: &mut BTreeMap<String, IncidentId>,
    undo: &mut Option<UndoLog>,
    incident: &Incident,
) {
    if let Some(key) = &incident.details.dedup_key {
        let indexed = open_by_key.get(key) == Some(&incident.id);
        let before = if incident.is_open() && !indexed {
            Some(open_by_key.insert(key.clone(), incident.id.clone()))
        } else if !incident.is_open() && indexed {
            Some(open_by_key.remove(key))
        } else {
            None
        };
        if let (Some(before), Some(undo)) = (before, undo.as_mut()) {
            undo.index.push(IndexChange::Key(key.clone(), before));
        }
    }
    if let Some(t) = deadline(incident) {
        let entry = (t, incident.id.clone());
        if let Some(undo) = undo.as_mut() {
            if deadlines.insert(entry.clone()) {
                undo.index.push(IndexChange::DeadlineAdded(entry));
            }
        } else {
            deadlines.insert(entry);
        }
    }
}

/// The loop after `pass`, unless that would pass [`MAX_LOOPS`] (checked: a wrapped count would
/// reuse old page keys, and those pages would be dropped as already sent).
fn next_loop(pass: u32) -> Option<u32> {
    pass.checked_add(1).filter(|p| *p <= MAX_LOOPS)
}

fn active(i: &Incident) -> Result<&Escalation, Rejected> {
    match &i.escalation {
        Some(e) if !matches!(e.stage, Stage::Held { .. } | Stage::Snoozed { .. } | Stage::Done) => Ok(e),
        _ => Err(Rejected::NotEscalating),
    }
}

/// What a page or post belongs to, for its idempotency key.
enum PageStep {
    /// Level index (0-based) and loop.
    Level(usize, u32),
    /// The n-th ack reminder.
    Reminder(u32),
    /// The n-th reassignment to a person.
    Reassign(usize),
}

/// One call's worth of work on one incident: the world to look things up in, where effects go, and
/// the other incidents (for "recurring" rules).
struct Step<'a> {
    world: &'a World,
    out: &'a mut Vec<Effect>,
    /// Nothing goes to `out` (an [`Engine::quiet`] one).
    quiet: bool,
    /// `None` while firing timers: only inputs evaluate rules.
    history: Option<&'a BTreeMap<IncidentId, Box<Incident>>>,
}

impl Step<'_> {
    fn record(&mut self, incident: &mut Incident, entry: TimelineEntry) {
        self.emit(incident, entry, None)
    }

    fn emit(&mut self, incident: &mut Incident, entry: TimelineEntry, delivery: Option<Delivery>) {
        if self.quiet {
            incident.timeline.push(entry);
        } else {
            incident.timeline.push(entry.clone());
            self.out.push(Effect { incident: incident.id.clone(), entry, delivery });
        }
    }

    /// Incidents opened in the last `within` up to `now` sharing service or dedup key, plus this one.
    fn recent(&self, details: &IncidentDetails, now: DateTime<Utc>, by: RecurBy, within: Minutes) -> u32 {
        let value = |d: &IncidentDetails| match by {
            RecurBy::Service => Some(d.service.clone()).filter(|s| !s.is_empty()),
            RecurBy::DedupKey => d.dedup_key.clone(),
        };
        let Some(mine) = value(details) else { return 1 };
        let since = now - within.duration();
        debug_assert!(self.history.is_some(), "rules evaluated while firing a timer");
        let Some(history) = self.history else { return 1 };
        1 + history.values().filter(|i| i.opened_at > since && i.opened_at <= now && value(&i.details).as_ref() == Some(&mine)).count() as u32
    }

    /// Rules that newly hold for the incident, in order (stopping after a matching `stop` rule).
    fn matching_rules(&self, incident: &Incident, now: DateTime<Utc>) -> Vec<usize> {
        let recent = |by: RecurBy, within: Minutes| self.recent(&incident.details, now, by, within);
        let facts = Facts { details: &incident.details, status: incident.status, recent: &recent };
        let mut found = Vec::new();
        for (i, rule) in self.world.rules.iter().enumerate() {
            if rule.when.as_ref().is_none_or(|c| c.holds(&facts)) {
                if !incident.applied_rules.contains(&rule.id) {
                    found.push(i);
                }
                if rule.stop {
                    break;
                }
            }
        }
        found
    }

    fn open(&mut self, now: DateTime<Utc>, id: IncidentId, by: Actor, details: IncidentDetails) -> Incident {
        let details = details.bounded(TITLE_MAX, TEXT_MAX);
        let mut incident = Incident {
            id,
            details,
            status: Status::New,
            opened_at: now,
            status_since: now,
            alert_count: 1,
            last_seen: now,
            acknowledged: None,
            resolved_at: None,
            assignee: None,
            suppressed: None,
            escalation: None,
            applied_rules: Vec::new(),
            timeline: Vec::new(),
        };
        let opened = TimelineEntry::new(now, EntryKind::Opened, by).detail(format!("{} ({})", incident.details.title, incident.details.severity.as_str()));
        self.record(&mut incident, opened);

        // Rules, one at a time: each sees what the ones before it changed.
        let (mut route, mut start, mut added, mut suppress, mut faster) = (None, None, Vec::<Target>::new(), None, 1.0f64);
        let mut checked = 0;
        while checked < self.world.rules.len() {
            let Some(&i) = self.matching_rules(&incident, now).first() else { break };
            checked += 1;
            let world = self.world;
            let rule = &world.rules[i];
            incident.applied_rules.push(rule.id.clone());
            self.record(&mut incident, rule_entry(now, rule));
            for action in &rule.then {
                match action {
                    Action::SetPriority(p) => set_priority(self, &mut incident, now, *p),
                    Action::SetSeverity(s) => {
                        let entry = severity_entry(now, Actor::Automation, incident.details.severity, *s);
                        incident.details.severity = *s;
                        self.record(&mut incident, entry);
                    }
                    Action::RouteTo(p) => route = Some(p.clone()),
                    Action::StartAtLevel(k) => start = Some(*k),
                    Action::AddTargets(t) => added.extend(t.iter().cloned()),
                    Action::Suppress(why) => suppress = Some(why.clone()),
                    Action::EscalateFaster(f) => faster *= f.clamp(0.01, 1.0),
                }
            }
        }

        if let Some(why) = suppress {
            incident.suppressed = Some(why.clone());
            self.record(&mut incident, TimelineEntry::new(now, EntryKind::Suppressed, Actor::Automation).detail(why));
            return incident;
        }
        let policy_id = route.or_else(|| incident.details.policy.clone()).or_else(|| self.world.default_policy.clone());
        let Some(mut policy) = policy_id.as_deref().and_then(|p| self.world.policy(p)).cloned() else {
            let why = match policy_id {
                Some(p) => format!("no escalation policy “{p}”: nobody is paged"),
                None => "no escalation policy: nobody is paged".to_string(),
            };
            self.record(&mut incident, TimelineEntry::new(now, EntryKind::EscalationStopped, Actor::Automation).detail(why));
            return incident;
        };
        if policy.levels.is_empty() {
            self.record(&mut incident, TimelineEntry::new(now, EntryKind::EscalationStopped, Actor::Automation).detail("the policy has no levels"));
            return incident;
        }
        let start_index = start.map_or(0, |k| (k.max(1) as usize - 1).min(policy.levels.len() - 1));
        if faster < 1.0 {
            for level in &mut policy.levels {
                level.ack_timeout = level.ack_timeout.as_ref().map(|t| t.scaled(faster));
                level.resolution_timeout = level.resolution_timeout.as_ref().map(|t| t.scaled(faster));
            }
        }
        for t in added {
            if !policy.levels[start_index].targets.contains(&t) {
                policy.levels[start_index].targets.push(t);
            }
        }
        let mut escalation = Escalation {
            policy: Arc::new(policy),
            level: start_index,
            pass: 0,
            repeats_used: 0,
            level_since: now,
            stage: Stage::Paging,
            timers: Timers::default(),
            reminders_sent: 0,
        };

        let recent = |by: RecurBy, within: Minutes| self.recent(&incident.details, now, by, within);
        let facts = Facts { details: &incident.details, status: incident.status, recent: &recent };
        let held =
            self.world.maintenance.iter().find(|w| w.covers(now, &facts)).map(|w| (w.end, if w.name.is_empty() { w.id.clone() } else { w.name.clone() }));
        if let Some((until, name)) = held {
            escalation.stage = Stage::Held { until };
            escalation.timers.wake = Some(until);
            incident.escalation = Some(escalation);
            incident.suppressed = Some(format!("maintenance: {name}"));
            let entry =
                TimelineEntry::new(now, EntryKind::Suppressed, Actor::Automation).detail(format!("maintenance window “{name}” until {}", until.to_rfc3339()));
            self.record(&mut incident, entry);
            return incident;
        }
        incident.escalation = Some(escalation);
        self.start(&mut incident, now);
        incident
    }

    /// Begin paging at the escalation's start level.
    fn start(&mut self, incident: &mut Incident, at: DateTime<Utc>) {
        let Some(e) = incident.escalation.as_mut() else { return };
        e.timers.stale = e.policy.escalate_if_status_unchanged.map(|x| x.after(at));
        let level = e.level;
        self.enter_level(incident, at, level, false);
    }

    /// Reach level `index` at `at` (skipping levels that do not apply or reach nobody, pausing at
    /// checkpoints unless `confirmed`).
    fn enter_level(&mut self, incident: &mut Incident, at: DateTime<Utc>, index: usize, mut confirmed: bool) {
        let mut index = index;
        let severity = incident.details.severity;
        let acknowledged = incident.acknowledged.is_some();
        // Each pass over the policy can skip each level once; a bound keeps a policy of empty levels
        // that repeats from ever spinning.
        let bound = {
            let Some(e) = incident.escalation.as_ref() else { return };
            e.policy.levels.len() * (e.policy.repeat.as_ref().map_or(0, |r| r.times.min(100) as usize) + 2) + 2
        };
        for _ in 0..bound {
            let (applies, checkpoint, pass) = {
                let Some(e) = incident.escalation.as_mut() else { return };
                let Some(level) = e.policy.levels.get(index) else {
                    return self.stop(incident, at, "the policy has no such level");
                };
                let checkpoint = level.checkpoint.clone();
                e.level = index;
                e.stage = Stage::Paging;
                e.timers.ack = None;
                e.timers.resolution = None;
                e.timers.checkpoint = None;
                (e.policy.level_applies(index, at), checkpoint, e.pass)
            };
            let skip_reason = if !applies {
                Some("outside the level's hours")
            } else if let (Some(cp), false, Some(e)) = (&checkpoint, confirmed, incident.escalation.as_mut()) {
                e.stage = Stage::AwaitingCheckpoint;
                e.timers.checkpoint = (!acknowledged).then(|| cp.timeout.after(at));
                let entry = TimelineEntry::new(at, EntryKind::CheckpointWaiting, Actor::Automation).level(index, pass).detail(cp.prompt.clone());
                self.record(incident, entry);
                return;
            } else {
                let Some(level) = incident.escalation.as_ref().and_then(|e| e.policy.levels.get(index)) else { return };
                let deliveries = self.recipients(&level.targets, at);
                if deliveries.is_empty() {
                    Some("nobody on call for its targets")
                } else {
                    let Some(e) = incident.escalation.as_mut() else { return };
                    let Some(level) = e.policy.levels.get(index) else { return };
                    e.level_since = at;
                    e.timers.ack = if acknowledged { None } else { level.ack_timeout.as_ref().and_then(|t| t.for_severity(severity)).map(|d| d.after(at)) };
                    e.timers.resolution = level.resolution_timeout.as_ref().and_then(|t| t.for_severity(severity)).map(|d| d.after(at));
                    for (target, delivery) in deliveries {
                        self.deliver(incident, at, PageStep::Level(index, pass), &target, delivery, String::new());
                    }
                    return;
                }
            };
            let entry = TimelineEntry::new(at, EntryKind::LevelSkipped, Actor::Automation).level(index, pass).detail(skip_reason.unwrap_or_default());
            self.record(incident, entry);
            match self.next_level(incident, at) {
                Some(next) => {
                    index = next;
                    confirmed = false;
                }
                None => return self.stop(incident, at, "no further level"),
            }
        }
        self.stop(incident, at, "every level was skipped")
    }

    /// Pages and posts for a level's targets at `at`: one page per person (the first target that
    /// reaches them), one post per channel.
    fn recipients(&self, targets: &[Target], at: DateTime<Utc>) -> Vec<(String, Delivery)> {
        let mut out: Vec<(String, Delivery)> = Vec::new();
        let mut people = Vec::new();
        for target in targets {
            let name = target.to_string();
            let reached: Vec<PersonId> = match target {
                Target::Person(p) => vec![p.clone()],
                Target::Schedule(s) => self.world.schedule(s).map(|s| s.on_call_at(at)).unwrap_or_default(),
                Target::Team(t) => match self.world.team(t) {
                    Some(team) => match team.schedule.as_deref().and_then(|s| self.world.schedule(s)) {
                        Some(s) => s.on_call_at(at),
                        None => team.members.clone(),
                    },
                    None => Vec::new(),
                },
                Target::Channel(c) => {
                    if self.world.channel(c).is_some() && !out.iter().any(|(_, d)| matches!(d, Delivery::Post { channel } if channel == c)) {
                        out.push((name.clone(), Delivery::Post { channel: c.clone() }));
                    }
                    Vec::new()
                }
            };
            for p in reached {
                if people.contains(&p) {
                    continue;
                }
                if let Some(person) = self.world.person(&p) {
                    out.push((name.clone(), Delivery::Page { person: p.clone(), contact: person.contact.clone() }));
                    people.push(p);
                }
            }
        }
        out
    }

    /// Emit a page or post, keyed by the step it belongs to.
    fn deliver(&mut self, incident: &mut Incident, at: DateTime<Utc>, step: PageStep, target: &str, delivery: Delivery, detail: String) {
        let (kind, person) = match (&delivery, &step) {
            (Delivery::Page { person, .. }, PageStep::Reminder(_)) => (EntryKind::AckReminder, Some(person.clone())),
            (Delivery::Page { person, .. }, _) => (EntryKind::Paged, Some(person.clone())),
            (Delivery::Post { .. }, _) => (EntryKind::Posted, None),
        };
        let level = match step {
            PageStep::Level(index, pass) => Some((index, pass)),
            _ => None,
        };
        // `incident/step/target[/person]`, written in one go (this runs for every page of a tick).
        let mut key = String::with_capacity(incident.id.len() + target.len() + person.as_ref().map_or(0, |p| p.len()) + 24);
        key.push_str(&incident.id);
        let _ = match step {
            PageStep::Level(index, pass) => write!(key, "/L{}/loop{pass}/", index + 1),
            PageStep::Reminder(n) => write!(key, "/reminder{n}/"),
            PageStep::Reassign(n) => write!(key, "/reassign{n}/"),
        };
        key.push_str(target);
        if let Some(p) = &person {
            key.push('/');
            key.push_str(p);
        }
        let mut entry = TimelineEntry::new(at, kind, Actor::Automation);
        if let Some((index, pass)) = level {
            entry = entry.level(index, pass);
        }
        entry.target = Some(target.to_string());
        entry.person = person;
        entry.key = Some(key);
        entry.detail = detail;
        self.emit(incident, entry, Some(delivery));
    }

    /// The level after the current one, starting a repeat loop if the policy allows; `None` when
    /// the policy is exhausted.
    fn next_level(&mut self, incident: &mut Incident, at: DateTime<Utc>) -> Option<usize> {
        let e = incident.escalation.as_mut()?;
        if e.level + 1 < e.policy.levels.len() {
            return Some(e.level + 1);
        }
        let repeat = e.policy.repeat.as_ref()?;
        if e.repeats_used >= repeat.times {
            return None;
        }
        // Checked: a loop count at its limit stops rather than wrapping into old page keys.
        let pass = next_loop(e.pass)?;
        e.repeats_used += 1;
        e.pass = pass;
        let from = (repeat.from_level.max(1) as usize - 1).min(e.policy.levels.len().saturating_sub(1));
        let entry = TimelineEntry::new(at, EntryKind::LoopStarted, Actor::Automation).detail(format!(
            "repeat {} of {}, from level {}",
            e.repeats_used,
            repeat.times,
            from + 1
        ));
        self.record(incident, entry);
        Some(from)
    }

    fn stop(&mut self, incident: &mut Incident, at: DateTime<Utc>, why: &str) {
        if let Some(e) = incident.escalation.as_mut() {
            e.stage = Stage::Stopped;
            let reminder = e.timers.reminder;
            e.timers = Timers { reminder, ..Timers::default() };
        }
        self.record(incident, TimelineEntry::new(at, EntryKind::EscalationStopped, Actor::Automation).detail(why));
    }

    /// Move to the next level (or loop, or stop), saying why.
    fn escalate(&mut self, incident: &mut Incident, at: DateTime<Utc>, actor: Actor, why: String) {
        match self.next_level(incident, at) {
            Some(next) => {
                let pass = incident.escalation.as_ref().map_or(0, |e| e.pass);
                self.record(incident, TimelineEntry::new(at, EntryKind::Escalated, actor).level(next, pass).detail(why));
                self.enter_level(incident, at, next, false);
            }
            None => self.stop(incident, at, &format!("{why}; no further level")),
        }
    }

    /// Fire the incident's earliest timer, due at `t`.
    fn fire(&mut self, incident: &mut Incident, t: DateTime<Utc>) {
        let Some(e) = incident.escalation.as_mut() else { return };
        let Some((due, timer)) = e.timers.next() else { return };
        debug_assert_eq!(due, t);
        e.timers.clear(timer);
        let level = e.level;
        let severity = incident.details.severity;
        match timer {
            Timer::Wake => match e.stage.clone() {
                Stage::Snoozed { .. } => {
                    let Some(pass) = next_loop(e.pass) else { return self.stop(incident, t, "loop limit reached") };
                    e.pass = pass;
                    e.timers.reminder = None;
                    let unacked = incident.acknowledged.take().is_some();
                    if unacked && incident.status == Status::Acknowledged {
                        incident.status = Status::Triage;
                        incident.status_since = t;
                    }
                    self.record(incident, TimelineEntry::new(t, EntryKind::SnoozeEnded, Actor::Automation));
                    self.start(incident, t);
                }
                Stage::Held { .. } => {
                    incident.suppressed = None;
                    if incident.acknowledged.is_some() {
                        e.stage = Stage::Stopped;
                        self.record(
                            incident,
                            TimelineEntry::new(t, EntryKind::MaintenanceEnded, Actor::Automation).detail("acknowledged during maintenance: nobody is paged"),
                        );
                    } else {
                        self.record(incident, TimelineEntry::new(t, EntryKind::MaintenanceEnded, Actor::Automation).detail("still open: escalation starts"));
                        self.start(incident, t);
                    }
                }
                _ => {}
            },
            Timer::Checkpoint => {
                // A timer whose setting is gone (hand-edited data) is dropped, not obeyed.
                let Some(cp) = e.policy.levels.get(level).and_then(|l| l.checkpoint.clone()) else { return };
                let pass = e.pass;
                let entry = TimelineEntry::new(t, EntryKind::CheckpointTimedOut, Actor::Automation)
                    .level(level, pass)
                    .detail(format!("nobody confirmed within {}", cp.timeout));
                self.record(incident, entry);
                match cp.on_timeout {
                    CheckpointTimeout::Proceed => self.enter_level(incident, t, level, true),
                    CheckpointTimeout::Skip => {
                        let entry = TimelineEntry::new(t, EntryKind::LevelSkipped, Actor::Automation).level(level, pass).detail("checkpoint not confirmed");
                        self.record(incident, entry);
                        match self.next_level(incident, t) {
                            Some(next) => self.enter_level(incident, t, next, false),
                            None => self.stop(incident, t, "no further level"),
                        }
                    }
                    CheckpointTimeout::Stop => self.stop(incident, t, "checkpoint not confirmed"),
                }
            }
            Timer::Ack => {
                let d = e
                    .policy
                    .levels
                    .get(level)
                    .and_then(|l| l.ack_timeout.as_ref())
                    .and_then(|x| x.for_severity(severity))
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                self.escalate(incident, t, Actor::Automation, format!("level {} not acknowledged within {d}", level + 1));
            }
            Timer::Resolution => {
                let d = e
                    .policy
                    .levels
                    .get(level)
                    .and_then(|l| l.resolution_timeout.as_ref())
                    .and_then(|x| x.for_severity(severity))
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                self.escalate(incident, t, Actor::Automation, format!("not resolved within {d} of level {}", level + 1));
            }
            Timer::Stale => {
                let Some(x) = e.policy.escalate_if_status_unchanged else { return };
                if matches!(e.stage, Stage::Paging | Stage::AwaitingCheckpoint) {
                    let why = format!("status “{}” unchanged for {x}", incident.status.as_str());
                    self.escalate(incident, t, Actor::Automation, why);
                    if let Some(e) = incident.escalation.as_mut().filter(|e| e.stage != Stage::Stopped) {
                        e.timers.stale = Some(x.after(t)).filter(|next| *next > t);
                    }
                }
            }
            Timer::Reminder => {
                let Some(every) = e.policy.ack_reminder else { return };
                let Some(ack) = incident.acknowledged.clone() else { return };
                e.reminders_sent = e.reminders_sent.saturating_add(1);
                // Never re-armed at the same instant (that would fire forever).
                e.timers.reminder = Some(every.after(t)).filter(|next| *next > t);
                let n = e.reminders_sent;
                if let Some(person) = self.world.person(&ack.by) {
                    let delivery = Delivery::Page { person: ack.by.clone(), contact: person.contact.clone() };
                    let detail = format!("acknowledged {} ago and still not resolved", Minutes::from_seconds((t - ack.at).num_seconds()));
                    self.deliver(incident, t, PageStep::Reminder(n), &format!("person:{}", ack.by), delivery, detail);
                }
            }
        }
    }

    fn apply(&mut self, incident: &mut Incident, now: DateTime<Utc>, input: Input) {
        match input {
            Input::Open { by, details, .. } => {
                incident.alert_count += 1;
                incident.last_seen = now;
                let n = incident.alert_count;
                let title = details.title.clone();
                let details = details.bounded(TITLE_MAX, TEXT_MAX);
                let title = super::incident::short(&title, 200);
                let learned = merge_folded(&mut incident.details, details);
                let detail = if learned.is_empty() { format!("alert #{n}: {title}") } else { format!("alert #{n}: {title} ({})", learned.join(", ")) };
                let entry = TimelineEntry::new(now, EntryKind::AlertFolded, by).detail(detail);
                self.record(incident, entry);
                self.rules_on_change(incident, now);
            }
            Input::ResolveByKey { by, .. } | Input::Resolve { by, .. } => self.resolve(incident, now, by),
            Input::Acknowledge { by, .. } => self.acknowledge(incident, now, by, "".into()),
            Input::Unacknowledge { by, .. } => {
                incident.acknowledged = None;
                if incident.status == Status::Acknowledged {
                    incident.status = Status::Triage;
                    incident.status_since = now;
                }
                self.record(incident, TimelineEntry::new(now, EntryKind::Unacknowledged, Actor::Person(by)));
                let severity = incident.details.severity;
                if let Some(e) = incident.escalation.as_mut() {
                    e.timers.reminder = None;
                    let Some(level) = e.policy.levels.get(e.level) else { return };
                    match e.stage {
                        Stage::Paging => e.timers.ack = level.ack_timeout.as_ref().and_then(|t| t.for_severity(severity)).map(|d| d.after(now)),
                        Stage::AwaitingCheckpoint => e.timers.checkpoint = level.checkpoint.as_ref().map(|c| c.timeout.after(now)),
                        _ => {}
                    }
                }
            }
            Input::Reassign { by, to, .. } => match to {
                ReassignTo::Person(p) => {
                    let n = incident.timeline.iter().filter(|x| x.kind == EntryKind::Reassigned).count() + 1;
                    if incident.acknowledged.take().is_some() {
                        self.record(incident, TimelineEntry::new(now, EntryKind::Unacknowledged, by.clone()).detail("reassigned"));
                    }
                    incident.assignee = Some(p.clone());
                    let mut entry = TimelineEntry::new(now, EntryKind::Reassigned, by).detail(format!("to {p}"));
                    entry.person = Some(p.clone());
                    self.record(incident, entry);
                    let contact = self.world.person(&p).map(|x| x.contact.clone()).unwrap_or_default();
                    self.deliver(incident, now, PageStep::Reassign(n), &format!("person:{p}"), Delivery::Page { person: p.clone(), contact }, String::new());
                    let severity = incident.details.severity;
                    if let Some(e) = incident.escalation.as_mut().filter(|e| e.stage == Stage::Paging) {
                        e.timers.reminder = None;
                        e.timers.ack =
                            e.policy.levels.get(e.level).and_then(|l| l.ack_timeout.as_ref()).and_then(|t| t.for_severity(severity)).map(|d| d.after(now));
                    }
                }
                ReassignTo::Level(k) => {
                    let Some(e) = incident.escalation.as_mut() else { return };
                    let index = (k as usize).saturating_sub(1);
                    let onward = index > e.level && e.stage != Stage::Stopped;
                    if !onward {
                        let Some(pass) = next_loop(e.pass) else { return self.stop(incident, now, "loop limit reached") };
                        e.pass = pass;
                    }
                    e.timers.reminder = None;
                    let pass = e.pass;
                    if incident.acknowledged.take().is_some() {
                        self.record(incident, TimelineEntry::new(now, EntryKind::Unacknowledged, by.clone()).detail("reassigned"));
                    }
                    let entry = TimelineEntry::new(now, EntryKind::Reassigned, by).level(index, pass).detail(format!("to level {k}"));
                    self.record(incident, entry);
                    self.enter_level(incident, now, index, true);
                }
            },
            Input::EscalateNow { by, .. } => self.escalate(incident, now, by, "escalated by hand".into()),
            Input::Snooze { by, until, .. } => {
                let Some(e) = incident.escalation.as_mut() else { return };
                e.stage = Stage::Snoozed { until };
                e.timers = Timers { wake: Some(until), ..Timers::default() };
                self.record(incident, TimelineEntry::new(now, EntryKind::Snoozed, Actor::Person(by)).detail(format!("until {}", until.to_rfc3339())));
            }
            Input::AddNote { by, mut text, .. } => {
                super::incident::bounded(&mut text, TEXT_MAX);
                self.record(incident, TimelineEntry::new(now, EntryKind::Note, by).detail(text))
            }
            Input::ChangeStatus { by, status, .. } => {
                if status == incident.status {
                    return;
                }
                if status == Status::Resolved {
                    return self.resolve(incident, now, by);
                }
                let entry = TimelineEntry::new(now, EntryKind::StatusChanged, by.clone()).detail(format!("{} → {}", incident.status.as_str(), status.as_str()));
                incident.status = status;
                incident.status_since = now;
                self.record(incident, entry);
                if let Some(e) = incident.escalation.as_mut() {
                    if let (Some(x), Stage::Paging | Stage::AwaitingCheckpoint) = (e.policy.escalate_if_status_unchanged, &e.stage) {
                        e.timers.stale = Some(x.after(now));
                    }
                }
                if let (Actor::Person(p), true, None) = (&by, status.means_someone_has_it(), &incident.acknowledged) {
                    let p = p.clone();
                    self.acknowledge(incident, now, p, format!("by moving it to {}", status.as_str()));
                }
                self.rules_on_change(incident, now);
            }
            Input::ChangeSeverity { by, severity, .. } => {
                if severity == incident.details.severity {
                    return;
                }
                let entry = severity_entry(now, by, incident.details.severity, severity);
                self.set_severity(incident, now, severity, entry);
                self.rules_on_change(incident, now);
            }
            Input::ConfirmCheckpoint { by, .. } => {
                let Some(e) = incident.escalation.as_ref() else { return };
                let (level, pass) = (e.level, e.pass);
                self.record(incident, TimelineEntry::new(now, EntryKind::CheckpointConfirmed, Actor::Person(by)).level(level, pass));
                self.enter_level(incident, now, level, true);
            }
        }
    }

    fn acknowledge(&mut self, incident: &mut Incident, now: DateTime<Utc>, by: PersonId, how: String) {
        incident.acknowledged = Some(Acknowledgement { by: by.clone(), at: now });
        let status_changed = matches!(incident.status, Status::New | Status::Triage);
        if status_changed {
            incident.status = Status::Acknowledged;
            incident.status_since = now;
        }
        self.record(incident, TimelineEntry::new(now, EntryKind::Acknowledged, Actor::Person(by)).detail(how));
        if let Some(e) = incident.escalation.as_mut() {
            if let (true, Some(x), Stage::Paging | Stage::AwaitingCheckpoint) = (status_changed, e.policy.escalate_if_status_unchanged, &e.stage) {
                e.timers.stale = Some(x.after(now));
            }
            e.timers.ack = None;
            e.timers.checkpoint = None;
            if matches!(e.stage, Stage::Paging | Stage::AwaitingCheckpoint | Stage::Stopped) {
                e.timers.reminder = e.policy.ack_reminder.map(|r| r.after(now));
            }
        }
    }

    fn resolve(&mut self, incident: &mut Incident, now: DateTime<Utc>, by: Actor) {
        incident.status = Status::Resolved;
        incident.status_since = now;
        incident.resolved_at = Some(now);
        if let Some(e) = incident.escalation.as_mut() {
            e.stage = Stage::Done;
            e.timers = Timers::default();
        }
        self.record(incident, TimelineEntry::new(now, EntryKind::Resolved, by));
    }

    fn set_severity(&mut self, incident: &mut Incident, now: DateTime<Utc>, severity: Severity, entry: TimelineEntry) {
        incident.details.severity = severity;
        self.record(incident, entry);
        let acknowledged = incident.acknowledged.is_some();
        if let Some(e) = incident.escalation.as_mut().filter(|e| e.stage == Stage::Paging) {
            let Some(level) = e.policy.levels.get(e.level) else { return };
            let since = e.level_since;
            // Count from when the level was paged; a deadline already passed is due now.
            let rearm = |t: &Option<super::policy::Timeout>| t.as_ref().and_then(|t| t.for_severity(severity)).map(|d| (d.after(since)).max(now));
            if !acknowledged {
                e.timers.ack = rearm(&level.ack_timeout);
            }
            if e.timers.resolution.is_some() || level.resolution_timeout.is_some() {
                e.timers.resolution = rearm(&level.resolution_timeout);
            }
        }
    }

    /// Rules evaluated again after a change: those that now hold for the first time act.
    /// Routing, suppression and speed-up shape only how an incident starts; on a change, priority,
    /// severity, added targets (paged now with the current level) and start-at-level (a jump
    /// forward) apply.
    fn rules_on_change(&mut self, incident: &mut Incident, now: DateTime<Utc>) {
        for _ in 0..self.world.rules.len() {
            let Some(&i) = self.matching_rules(incident, now).first() else { return };
            let world = self.world;
            let rule = &world.rules[i];
            incident.applied_rules.push(rule.id.clone());
            self.record(incident, rule_entry(now, rule));
            for action in &rule.then {
                match action {
                    Action::SetPriority(p) => set_priority(self, incident, now, *p),
                    Action::SetSeverity(s) if *s != incident.details.severity => {
                        let entry = severity_entry(now, Actor::Automation, incident.details.severity, *s);
                        self.set_severity(incident, now, *s, entry);
                    }
                    Action::AddTargets(targets) => self.add_targets(incident, now, targets),
                    Action::StartAtLevel(k) => {
                        let Some(e) = incident.escalation.as_ref().filter(|e| matches!(e.stage, Stage::Paging | Stage::AwaitingCheckpoint)) else { continue };
                        let index = (*k as usize).clamp(1, e.policy.levels.len().max(1)) - 1;
                        if index > e.level {
                            let pass = e.pass;
                            let entry =
                                TimelineEntry::new(now, EntryKind::Escalated, Actor::Automation).level(index, pass).detail(format!("rule “{}”", rule.id));
                            self.record(incident, entry);
                            self.enter_level(incident, now, index, false);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Add targets to the current level of the frozen policy and page the new ones now.
    fn add_targets(&mut self, incident: &mut Incident, now: DateTime<Utc>, targets: &[Target]) {
        let Some(e) = incident.escalation.as_mut().filter(|e| e.stage == Stage::Paging) else { return };
        let (index, pass) = (e.level, e.pass);
        let Some(level) = Arc::make_mut(&mut e.policy).levels.get_mut(index) else { return };
        let new: Vec<Target> = targets.iter().filter(|t| !level.targets.contains(t)).cloned().collect();
        level.targets.extend(new.iter().cloned());
        let already: Vec<String> = incident
            .timeline
            .iter()
            .filter(|x| x.level == Some(index as u32 + 1) && x.pass == Some(pass) && x.key.is_some())
            .filter_map(|x| x.person.as_ref().map(PersonId::to_string).or_else(|| x.target.clone()))
            .collect();
        for (target, delivery) in self.recipients(&new, now) {
            let who = match &delivery {
                Delivery::Page { person, .. } => person.to_string(),
                Delivery::Post { .. } => target.clone(),
            };
            if !already.contains(&who) {
                self.deliver(incident, now, PageStep::Level(index, pass), &target, delivery, "added by a rule".into());
            }
        }
    }
}

fn set_priority(step: &mut Step, incident: &mut Incident, now: DateTime<Utc>, p: Priority) {
    if incident.details.priority == Some(p) {
        return;
    }
    let from = incident.details.priority.map_or("none", Priority::as_str);
    incident.details.priority = Some(p);
    step.record(incident, TimelineEntry::new(now, EntryKind::PriorityChanged, Actor::Automation).detail(format!("{from} → {}", p.as_str())));
}

fn severity_entry(now: DateTime<Utc>, by: Actor, from: Severity, to: Severity) -> TimelineEntry {
    let mut entry = TimelineEntry::new(now, EntryKind::SeverityChanged, by).detail(format!("{} → {}", from.as_str(), to.as_str()));
    (entry.severity_from, entry.severity_to) = (Some(from), Some(to));
    entry
}

fn rule_entry(now: DateTime<Utc>, rule: &super::rules::Rule) -> TimelineEntry {
    let name = if rule.name.is_empty() { rule.id.as_str() } else { &rule.name };
    let actions: Vec<String> = rule.then.iter().map(|a| serde_json::to_string(a).unwrap_or_default()).collect();
    TimelineEntry::new(now, EntryKind::RuleApplied, Actor::Automation).detail(format!("{name}: {}", actions.join(", ")))
}

/// At most this many evidence links and labels an incident gathers from folded alerts.
const MAX_FOLDED_LINKS: usize = 50;
const MAX_FOLDED_LABELS: usize = 100;

/// What a folded alert adds to its incident: evidence links and labels it did not have yet, blank
/// fields filled in, and customer impact once any alert reports it. Nothing already there is
/// overwritten (the title, severity and what people set stay as they are). Returns what it learned,
/// in words for the timeline.
fn merge_folded(into: &mut IncidentDetails, alert: IncidentDetails) -> Vec<String> {
    let mut learned = Vec::new();
    let mut links = 0;
    for link in alert.links {
        if into.links.len() < MAX_FOLDED_LINKS && !into.links.contains(&link) {
            into.links.push(link);
            links += 1;
        }
    }
    if links > 0 {
        learned.push(if links == 1 { "1 new link".to_string() } else { format!("{links} new links") });
    }
    let mut labels = 0;
    for (k, v) in alert.labels {
        if into.labels.len() < MAX_FOLDED_LABELS && !into.labels.contains_key(&k) {
            into.labels.insert(k, v);
            labels += 1;
        }
    }
    if labels > 0 {
        learned.push(if labels == 1 { "1 new label".to_string() } else { format!("{labels} new labels") });
    }
    for (name, field, value) in [
        ("summary", &mut into.summary, alert.summary),
        ("service", &mut into.service, alert.service),
        ("environment", &mut into.environment, alert.environment),
        ("region", &mut into.region, alert.region),
    ] {
        if field.is_empty() && !value.is_empty() {
            *field = value;
            learned.push(name.to_string());
        }
    }
    if alert.customer_impact && !into.customer_impact {
        into.customer_impact = true;
        learned.push("customer impact".to_string());
    }
    learned
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 5, 9, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn world() -> World {
        serde_json::from_value(json!({
            "people": [{"id": "alice", "name": "Alice", "time_zone": "UTC"}, {"id": "bob", "name": "Bob", "time_zone": "UTC"}],
            "channels": [{"id": "ops"}],
            "policies": [{"id": "two", "levels": [
                {"targets": [{"person": "alice"}], "ack_timeout": 5},
                {"targets": [{"person": "bob"}, {"channel": "ops"}], "ack_timeout": 10}
            ], "repeat": {"times": 1}, "ack_reminder": 20, "escalate_if_status_unchanged": 60}],
            "default_policy": "two"
        }))
        .unwrap()
    }

    fn open(id: &str, key: Option<&str>) -> Input {
        let details = serde_json::from_value(json!({"title": format!("{id} is down"), "dedup_key": key})).unwrap();
        Input::Open { id: id.into(), by: Actor::Automation, details }
    }

    /// inc-1 (dedup key "disk") paging, inc-2 acknowledged, inc-0 resolved.
    fn base() -> Engine {
        let world = world();
        let mut e = Engine::new();
        for (at, input) in [
            (t(0), open("inc-0", Some("old"))),
            (t(0), Input::Resolve { incident: "inc-0".into(), by: Actor::Automation }),
            (t(0), open("inc-1", Some("disk"))),
            (t(1), open("inc-2", None)),
            (t(2), Input::Acknowledge { incident: "inc-2".into(), by: "alice".into() }),
        ] {
            assert_eq!(e.handle(&world, at, input).rejected, None);
        }
        e
    }

    type State = (BTreeMap<IncidentId, Incident>, BTreeSet<(DateTime<Utc>, IncidentId)>, BTreeMap<String, IncidentId>, Option<DateTime<Utc>>);

    /// Everything the engine holds, indexes included.
    fn state(e: &Engine) -> State {
        (e.incidents.clone().into_iter().map(|(k, v)| (k, *v)).collect(), e.deadlines.clone(), e.open_by_key.clone(), e.clock)
    }

    /// The indexes an engine rebuilt from its incidents would have.
    fn rebuilt(e: &Engine) -> State {
        let mut again = Engine::restore(e.incidents().cloned());
        again.clock = e.clock;
        state(&again)
    }

    /// What a step does, at minutes after [`t`].
    #[allow(clippy::large_enum_variant)] // a handful, in one test
    enum Call {
        Handle(i64, Input),
        Timeout(i64),
        Archive(i64),
    }

    fn run(e: &mut Engine, world: &World, calls: &[Call]) {
        for call in calls {
            match call {
                Call::Handle(m, input) => drop(e.handle(world, t(*m), input.clone())),
                Call::Timeout(m) => drop(e.handle_timeout(world, t(*m))),
                Call::Archive(m) => assert!(!e.archive_resolved(t(*m)).is_empty(), "something to archive"),
            }
        }
    }

    #[test]
    fn an_adopted_incident_replaces_this_engines_version_with_its_indexes_and_fires_nothing() {
        let world = world();
        let mut desk = base();
        let mut phone = base();
        // The desk's clock moves inc-1 on (an escalation) and resolves it; the phone adopts each.
        drop(desk.handle_timeout(&world, t(6)));
        let escalated = desk.incident("inc-1").unwrap().clone();
        phone.begin();
        phone.adopt(escalated.clone()).unwrap();
        phone.commit();
        assert_eq!(phone.incident("inc-1"), Some(&escalated));
        assert_eq!(state(&phone).1, rebuilt(&phone).1, "the deadline index follows the adopted version");
        assert_eq!(phone.poll_timeout(), desk.poll_timeout());
        drop(desk.handle(&world, t(7), Input::Resolve { incident: "inc-1".into(), by: Actor::Automation }));
        phone.begin();
        phone.adopt(desk.incident("inc-1").unwrap().clone()).unwrap();
        phone.commit();
        assert_eq!(state(&phone), rebuilt(&phone), "resolved: its dedup key is free again");
        assert!(!phone.open_by_key.contains_key("disk"));
        // Undone whole, like any step.
        let before = state(&phone);
        phone.begin();
        phone.adopt(base().incident("inc-1").unwrap().clone()).unwrap();
        phone.rollback();
        assert_eq!(state(&phone), before);
        // One that does not hold together is refused and changes nothing.
        let mut broken = escalated;
        broken.resolved_at = Some(t(8));
        assert!(phone.adopt(broken).is_err());
        assert_eq!(state(&phone), before);
    }

    #[test]
    fn a_rolled_back_step_leaves_everything_as_it_was() {
        let world = world();
        let resolve = |id: &str| Input::Resolve { incident: id.into(), by: Actor::Automation };
        let by_key = |key: &str| Input::ResolveByKey { dedup_key: key.into(), by: Actor::Automation };
        let steps: Vec<(&str, Vec<Call>)> = vec![
            ("a new incident with a new dedup key", vec![Call::Handle(3, open("inc-3", Some("cpu")))]),
            ("an alert folding into inc-1", vec![Call::Handle(3, open("ignored", Some("disk")))]),
            ("a new incident reusing a resolved one's key", vec![Call::Handle(3, open("inc-4", Some("old")))]),
            ("resolve by key", vec![Call::Handle(3, by_key("disk"))]),
            ("resolve", vec![Call::Handle(3, resolve("inc-2"))]),
            ("acknowledge", vec![Call::Handle(3, Input::Acknowledge { incident: "inc-1".into(), by: "bob".into() })]),
            ("snooze", vec![Call::Handle(3, Input::Snooze { incident: "inc-1".into(), by: "bob".into(), until: t(50) })]),
            ("a tick with escalations and reminders due", vec![Call::Timeout(45)]),
            ("an input after its due deadlines", vec![Call::Handle(30, open("inc-5", Some("net")))]),
            ("a refused input after due deadlines", vec![Call::Handle(30, resolve("nope"))]),
            (
                "resolve, open with the same key, resolve, archive",
                vec![Call::Handle(3, by_key("disk")), Call::Handle(4, open("inc-6", Some("disk"))), Call::Handle(5, resolve("inc-6")), Call::Archive(10)],
            ),
        ];
        for (name, calls) in &steps {
            let mut e = base();
            let before = state(&e);
            assert_eq!(before, rebuilt(&e), "{name}: the base indexes hold");
            e.begin();
            run(&mut e, &world, calls);
            let after = state(&e);
            assert_ne!(after, before, "{name}: the step changed something");
            assert_eq!(after, rebuilt(&e), "{name}: the step keeps its indexes right");
            e.rollback();
            assert_eq!(state(&e), before, "{name}: rolled back");
            assert!(e.undo.is_none(), "{name}: the step is over");

            // Committed, the same step leaves what it leaves without any step around it.
            let mut plain = base();
            run(&mut plain, &world, calls);
            e.begin();
            run(&mut e, &world, calls);
            e.commit();
            assert_eq!(state(&e), state(&plain), "{name}: committed");
            assert!(e.undo.is_none());
        }
    }

    #[test]
    fn a_quiet_engine_writes_the_same_timelines_and_hands_back_no_effects() {
        let world = world();
        let inputs = [
            (0, open("inc-1", Some("disk"))),
            (1, open("inc-2", None)),
            (2, Input::Acknowledge { incident: "inc-2".into(), by: "alice".into() }),
            (40, Input::Resolve { incident: "inc-1".into(), by: Actor::Automation }),
        ];
        let (mut loud, mut quiet) = (Engine::new(), Engine::quiet());
        let mut effects = 0;
        for (m, input) in inputs {
            effects += loud.handle(&world, t(m), input.clone()).effects.len();
            assert!(quiet.handle(&world, t(m), input).effects.is_empty());
        }
        effects += loud.handle_timeout(&world, t(90)).len();
        assert!(quiet.handle_timeout(&world, t(90)).is_empty());
        assert!(effects > 5, "pages, posts and escalations happened: {effects}");
        assert_eq!(state(&quiet), state(&loud));
    }

    #[test]
    fn beginning_a_step_rolls_back_one_left_open() {
        let world = world();
        let mut e = base();
        let before = state(&e);
        e.begin();
        let _ = e.handle(&world, t(3), open("inc-3", Some("cpu")));
        e.begin();
        assert_eq!(state(&e), before, "the unfinished step was never adopted");
        e.commit();
        e.rollback();
        assert_eq!(state(&e), before, "rollback with no step in progress changes nothing");
    }
}
