//! Insight: the figures a team reviews to see whether escalation made it faster and quieter —
//! MTTA and MTTR, escalation volume, efficiency and quality, configured timers against real ones,
//! alert fatigue and severity accuracy — computed from incidents' typed timelines.
//!
//! Owns: [`ReportQuery`], [`report`] and the plain-data [`Report`] (numbers and strings, all
//! `Serialize`, for the Reports screen, its charts and `piket report`), [`incident_rows`] and
//! [`csv`] (the incident list with every metric's column), [`retro`] (retrospectives and their
//! action items) and [`calendar`] (on-call shifts as iCalendar). Never: reads the clock (`now` is a
//! parameter), touches storage or the browser, or reads a timeline entry's `detail` (human words,
//! which history digests may drop): every figure comes from `kind`, `at`, `actor`, `level`,
//! `person` and the typed severity fields.
//!
//! Definitions (where the field leaves a choice, the one made here):
//! - **In the period:** an incident counts when it *opened* in `[from, to)` and passes every filter.
//!   What happened to it later (even after `to`) counts with it.
//! - **Durations** are whole seconds. **Percentiles** are nearest-rank: p90 is the smallest value
//!   with at least 90 % of the values at or below it; the median is p50 the same way (of 4 values,
//!   the 2nd). No interpolation, so every figure is a time that really happened.
//! - **MTTA:** opening → the first `acknowledged` entry. **MTTR:** opening → `resolved`.
//!   Per severity: the incident's severity at the end (after any change). Per policy level: the
//!   level current when the acknowledgement (resolution) happened — the level of the last `paged`
//!   or `escalated` entry before it.
//! - **Paged:** an incident that has at least one `paged` entry of a policy level. Escalation
//!   figures are shares of these.
//! - **Escalated:** the incident has an `escalated` entry (moved to another level, by timeout, by
//!   hand or by a rule). **Escalation rate:** escalated / paged.
//! - **Repeat escalations:** a service (or dedup key) with two or more escalated incidents in the
//!   period.
//! - **Time to escalation:** opening → the first `escalated` entry.
//! - **Handoff delay:** an `escalated` entry → the first *action* by a person paged at the level it
//!   moved to (paged after it and before the next escalation). An action is an `acknowledged`,
//!   `note`, `status_changed` or `resolved` entry whose actor is that person. Escalations whose
//!   level never acted are counted as `without_action`.
//! - **Resolution time of escalated incidents:** MTTR over escalated incidents only.
//! - **First-contact resolution:** a resolved, paged incident with no escalation, resolved by a
//!   person paged at level 1 — or, when a monitor or automation resolved it, acknowledged by one.
//!   Rate: those / resolved paged incidents.
//! - **Context passed:** for each escalation that paged someone, whether at its first page the
//!   incident had a summary, at least one evidence link and at least one `note` entry before that
//!   page. Summary and links are read from the incident's details as they are now (the timeline
//!   does not record when a folded alert added them; folding only ever adds), the notes from the
//!   timeline.
//! - **Pages:** `paged` and `ack_reminder` entries naming a person. **Night page:** one sent
//!   between 22:00 and 07:00 on the person's own clock (`Person::time_zone`, UTC when unknown).
//!   **Repeated page:** a page to a person for a dedup key they were already paged for in the
//!   period.
//! - **Fatigue threshold:** a responder is flagged above [`FATIGUE_PAGES_PER_WEEK`] pages or
//!   [`FATIGUE_NIGHT_PAGES_PER_WEEK`] night pages per 7 days of the period (see their docs).
//! - **Severity changed:** `severity_changed` entries after the opening instant or by a person
//!   (a rule setting severity as the incident opens is its classification, not a correction). Up
//!   means more severe (sev3 → sev1).
//! - **Configured timers:** per policy level, the level's timeout for each incident comes from
//!   the policy frozen onto that incident (what really ran), measured from the level's first page;
//!   an acknowledgement "came after the timeout had fired" when it came at or after the deadline
//!   (at the same instant the deadline fires first).

pub mod calendar;
pub mod csv;
pub mod retro;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::incident::{Actor, EntryKind, Incident, IncidentId, Severity};
use crate::engine::person::PersonId;
use crate::engine::policy::{EscalationPolicy, PolicyId, Target, TeamId, Timeout};
use crate::engine::time::{Minutes, Zone};
use crate::engine::world::World;

pub use csv::{csv, incident_rows, IncidentRow};

/// A responder is flagged above this many pages per 7 days: two a day on average. The SRE
/// practice Piket follows holds that an on-call person can handle about two incidents per
/// 12-hour shift; beyond that, pages stop being read.
pub const FATIGUE_PAGES_PER_WEEK: f64 = 14.0;
/// …or above this many night pages (22:00–07:00 their time) per 7 days: sleep broken more than
/// twice a week is the usual point at which on-call becomes unsustainable.
pub const FATIGUE_NIGHT_PAGES_PER_WEEK: f64 = 2.0;
/// Night starts at this local hour…
pub const NIGHT_FROM_HOUR: u32 = 22;
/// …and ends at this one.
pub const NIGHT_TO_HOUR: u32 = 7;
/// Lists of "noisiest" things keep this many.
pub const TOP: usize = 10;
/// The per-day series covers at most this many days.
pub const MAX_DAYS: i64 = 3_700;

/// Which incidents a report covers. The filters combine (all must hold); `None` is "any".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportQuery {
    /// Incidents opened at or after this…
    pub from: DateTime<Utc>,
    /// …and before this.
    pub to: DateTime<Utc>,
    /// The affected service (`details.service`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// A team: its policy levels target the team or its schedule, or a member was paged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The severity at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The policy the incident ran (frozen onto it), or asked for when it ran none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyId>,
    /// The zone the per-day series counts days in (UTC by default).
    #[serde(default)]
    pub time_zone: Zone,
}

impl ReportQuery {
    /// Every incident opened in `[from, to)`, no filter.
    pub fn period(from: DateTime<Utc>, to: DateTime<Utc>) -> ReportQuery {
        ReportQuery { from, to, service: None, team: None, severity: None, policy: None, time_zone: Zone::default() }
    }
    /// The `days` days up to `now` (the screen's 7, 30 or 90).
    pub fn last_days(now: DateTime<Utc>, days: i64) -> ReportQuery {
        ReportQuery::period(now - Duration::days(days), now)
    }
}

/// Median and p90 of a set of durations, in seconds (nearest-rank; see the module docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub count: usize,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

impl Stats {
    /// Sorts `values` and reads the percentiles.
    pub fn of(mut values: Vec<i64>) -> Stats {
        values.sort_unstable();
        Stats { count: values.len(), median_s: percentile(&values, 50), p90_s: percentile(&values, 90) }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// `part / whole`, or `None` when there is no whole.
fn share(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeverityTimes {
    pub severity: Severity,
    pub incidents: usize,
    pub mtta: Stats,
    pub mttr: Stats,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelTimes {
    /// 1-based.
    pub level: u32,
    /// Acknowledged at this level.
    pub mtta: Stats,
    /// Resolved at this level.
    pub mttr: Stats,
}

/// Everything in the period, counted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub incidents: usize,
    /// Not resolved at `now`.
    pub open: usize,
    /// Age of the oldest of those at `now`.
    pub oldest_open_s: Option<i64>,
    pub acknowledged: usize,
    pub resolved: usize,
    /// Paged someone at a policy level.
    pub paged: usize,
    pub escalated: usize,
    /// Pages to people (see the module docs).
    pub pages: usize,
    /// Alerts, counting those folded into an incident.
    pub alerts: u64,
}

/// A service or dedup key escalated more than once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepeatEscalation {
    /// `"service"` or `"dedup_key"`.
    pub by: String,
    pub value: String,
    /// Escalated incidents.
    pub incidents: usize,
    /// `escalated` entries over them.
    pub escalations: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Escalated / paged.
    pub escalation_rate: Option<f64>,
    /// Most escalated incidents first.
    pub repeat_escalations: Vec<RepeatEscalation>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    pub time_to_escalation: Stats,
    pub handoff_delay: Stats,
    /// Escalations whose next level never acted (ack, note, status change, resolve).
    pub handoffs_without_action: usize,
    pub resolution_of_escalated: Stats,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    pub first_contact_resolutions: usize,
    /// Of resolved, paged incidents.
    pub first_contact_resolution_rate: Option<f64>,
    /// Escalations that paged someone.
    pub escalations_paged: usize,
    pub context_passed: usize,
    pub context_passed_rate: Option<f64>,
}

/// One policy level's configured timeout beside what really happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimerCheck {
    pub policy: PolicyId,
    pub policy_name: String,
    /// 1-based.
    pub level: u32,
    /// The timeout as configured in the world now ("5 min", "sev1 5 min, default 30 min"), or
    /// the frozen copy's when the policy is gone; empty when there is none.
    pub configured: String,
    /// The same, in seconds, when it does not depend on severity.
    pub configured_s: Option<i64>,
    /// From the level's first page to the acknowledgement (resolution), over incidents that
    /// paged this level and were acknowledged (resolved).
    pub real: Stats,
    /// The same times, bucketed (the chart).
    pub histogram: Vec<Bucket>,
    /// Of `real.count`, those that came at or after the incident's own timeout for this level.
    pub after_timeout: usize,
    pub after_timeout_share: Option<f64>,
    /// One sentence for the screen.
    pub suggestion: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timers {
    /// Ack timeouts against times to acknowledge, by policy then level.
    pub ack: Vec<TimerCheck>,
    /// Resolution timeouts against times to resolve.
    pub resolution: Vec<TimerCheck>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Responder {
    pub person: PersonId,
    /// The person's name, or the id when they are no longer configured.
    pub name: String,
    pub pages: usize,
    pub night_pages: usize,
    pub repeated_pages: usize,
    /// Incidents they were paged for.
    pub incidents: usize,
    pub pages_per_week: f64,
    pub night_pages_per_week: f64,
    /// Above [`FATIGUE_PAGES_PER_WEEK`] or [`FATIGUE_NIGHT_PAGES_PER_WEEK`].
    pub above_threshold: bool,
}

/// A service, rule or dedup key, with the noise it made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub name: String,
    pub incidents: usize,
    pub pages: usize,
    pub alerts: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fatigue {
    /// Most pages first.
    pub responders: Vec<Responder>,
    pub pages: usize,
    pub night_pages: usize,
    pub repeated_pages: usize,
    /// Dedup keys paged more than once, most pages first (at most [`TOP`]).
    pub repeated_keys: Vec<Noise>,
    pub noisiest_services: Vec<Noise>,
    /// By rule id (the rules that acted on the incidents).
    pub noisiest_rules: Vec<Noise>,
    pub pages_per_week_threshold: f64,
    pub night_pages_per_week_threshold: f64,
    /// Ids of the responders above a threshold.
    pub above_threshold: Vec<PersonId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeverityAccuracy {
    /// Empty: incidents with no service.
    pub service: String,
    pub incidents: usize,
    pub changed: usize,
    pub up: usize,
    pub down: usize,
    /// Changed and changed back, or recorded before changes were typed.
    pub other: usize,
}

/// One bar of a histogram: `[from_s, to_s)` (`to_s` absent for the last, open bar).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub label: String,
    pub from_s: i64,
    pub to_s: Option<i64>,
    pub count: usize,
}

/// One day of the period (in the query's zone).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Day {
    pub date: NaiveDate,
    pub opened: usize,
    pub escalated: usize,
    pub resolved: usize,
    pub pages: usize,
    pub night_pages: usize,
    /// Median time to acknowledge of the incidents opened that day.
    pub mtta_median_s: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Charts {
    pub time_to_ack: Vec<Bucket>,
    pub time_to_resolve: Vec<Bucket>,
    pub per_day: Vec<Day>,
}

/// Every figure of the Reports screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub query: ReportQuery,
    pub now: DateTime<Utc>,
    pub totals: Totals,
    pub mtta: Stats,
    pub mttr: Stats,
    /// sev1 … sev4, each listed.
    pub by_severity: Vec<SeverityTimes>,
    /// Levels 1 … the deepest reached.
    pub by_level: Vec<LevelTimes>,
    pub volume: Volume,
    pub efficiency: Efficiency,
    pub quality: Quality,
    pub timers: Timers,
    pub fatigue: Fatigue,
    /// By service, most changed first.
    pub severity_accuracy: Vec<SeverityAccuracy>,
    pub charts: Charts,
}

// ---------------------------------------------------------------------------------------------
// One incident, read once.

/// What an escalation led to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handoff {
    pub at: DateTime<Utc>,
    /// Seconds to the next level's first action.
    pub delay_s: Option<i64>,
    /// `None` when the escalation paged nobody.
    pub context: Option<bool>,
}

/// Direction of a severity change over an incident's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Up,
    Down,
    Other,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Up => "up",
            Change::Down => "down",
            Change::Other => "other",
        }
    }
}

/// Everything the figures need from one incident, found in one pass over its timeline.
pub(crate) struct Facts<'a> {
    pub incident: &'a Incident,
    pub policy: Option<&'a EscalationPolicy>,
    pub ack: Option<(DateTime<Utc>, Option<u32>)>,
    pub acked_by: Option<&'a PersonId>,
    pub resolved: Option<(DateTime<Utc>, Option<u32>)>,
    pub handoffs: Vec<Handoff>,
    /// First page time of each level (1-based level, time), in order of first page.
    pub level_paged: Vec<(u32, DateTime<Utc>)>,
    /// (person, time) of every page.
    pub pages: Vec<(&'a PersonId, DateTime<Utc>)>,
    pub first_contact: bool,
    pub severity_change: Option<Change>,
}

impl<'a> Facts<'a> {
    pub fn of(incident: &'a Incident) -> Facts<'a> {
        let policy = incident.escalation.as_ref().map(|e| &e.policy);
        let timeline = &incident.timeline;
        let mut level: Option<u32> = None;
        let mut f = Facts {
            incident,
            policy: policy.map(|p| &**p),
            ack: None,
            acked_by: None,
            resolved: None,
            handoffs: Vec::new(),
            level_paged: Vec::new(),
            pages: Vec::new(),
            first_contact: false,
            severity_change: None,
        };
        let mut level1: Vec<&PersonId> = Vec::new();
        let mut resolver: Option<&PersonId> = None;
        let mut first_note: Option<usize> = None;
        // The escalation being followed: index in `handoffs`, its level, the people paged at it.
        let mut open_handoff: Option<(usize, u32, Vec<&PersonId>)> = None;
        let (mut sev_first, mut sev_last, mut sev_untyped) = (None::<Severity>, None::<Severity>, false);
        let context = !incident.details.summary.is_empty() && !incident.details.links.is_empty();
        for (i, e) in timeline.iter().enumerate() {
            match e.kind {
                EntryKind::Paged | EntryKind::AckReminder => {
                    if let Some(p) = &e.person {
                        f.pages.push((p, e.at));
                    }
                    if e.kind == EntryKind::Paged {
                        if let Some(l) = e.level {
                            level = Some(l);
                            if !f.level_paged.iter().any(|(x, _)| *x == l) {
                                f.level_paged.push((l, e.at));
                            }
                            if let Some(p) = &e.person {
                                if l == 1 && !level1.contains(&p) {
                                    level1.push(p);
                                }
                            }
                            if let Some((h, hl, people)) = open_handoff.as_mut() {
                                if *hl == l {
                                    if f.handoffs[*h].context.is_none() {
                                        f.handoffs[*h].context = Some(context && first_note.is_some_and(|n| n < i));
                                    }
                                    if let Some(p) = &e.person {
                                        people.push(p);
                                    }
                                }
                            }
                        }
                    }
                }
                EntryKind::Escalated => {
                    level = e.level.or(level);
                    let l = e.level.unwrap_or(0);
                    f.handoffs.push(Handoff { at: e.at, delay_s: None, context: None });
                    open_handoff = Some((f.handoffs.len() - 1, l, Vec::new()));
                }
                EntryKind::Acknowledged | EntryKind::Note | EntryKind::StatusChanged | EntryKind::Resolved => {
                    let person = match &e.actor {
                        Actor::Person(p) => Some(p),
                        Actor::Automation => None,
                    };
                    if let (Some((h, _, people)), Some(p)) = (open_handoff.as_ref(), person) {
                        if people.contains(&p) {
                            f.handoffs[*h].delay_s = Some((e.at - f.handoffs[*h].at).num_seconds());
                            open_handoff = None;
                        }
                    }
                    match e.kind {
                        EntryKind::Acknowledged if f.ack.is_none() => {
                            f.ack = Some((e.at, level));
                            f.acked_by = person;
                        }
                        EntryKind::Note if first_note.is_none() => first_note = Some(i),
                        EntryKind::Resolved => {
                            f.resolved = Some((e.at, level));
                            resolver = person;
                        }
                        _ => {}
                    }
                }
                EntryKind::SeverityChanged if e.at > incident.opened_at || matches!(e.actor, Actor::Person(_)) => match (e.severity_from, e.severity_to) {
                    (Some(from), Some(to)) => {
                        sev_first.get_or_insert(from);
                        sev_last = Some(to);
                    }
                    _ => sev_untyped = true,
                },
                _ => {}
            }
        }
        if f.resolved.is_none() {
            // An archived incident's timeline always ends with its resolution; trust the state.
            f.resolved = incident.resolved_at.map(|r| (r, level));
        }
        f.severity_change = match (sev_first, sev_last, sev_untyped) {
            (_, _, true) => Some(Change::Other),
            (Some(a), Some(b), _) if b < a => Some(Change::Up),
            (Some(a), Some(b), _) if b > a => Some(Change::Down),
            (Some(_), Some(_), _) => Some(Change::Other),
            _ => None,
        };
        let by_level1 = |p: Option<&PersonId>| p.is_some_and(|p| level1.contains(&p));
        f.first_contact = f.resolved.is_some()
            && f.handoffs.is_empty()
            && !f.level_paged.is_empty()
            && (by_level1(resolver) || (resolver.is_none() && by_level1(f.acked_by)));
        f
    }

    pub fn paged(&self) -> bool {
        !self.level_paged.is_empty()
    }
    pub fn escalated(&self) -> bool {
        !self.handoffs.is_empty()
    }
    pub fn time_to_ack(&self) -> Option<i64> {
        self.ack.map(|(t, _)| (t - self.incident.opened_at).num_seconds())
    }
    pub fn time_to_resolve(&self) -> Option<i64> {
        self.resolved.map(|(t, _)| (t - self.incident.opened_at).num_seconds())
    }
    pub fn time_to_escalation(&self) -> Option<i64> {
        self.handoffs.first().map(|h| (h.at - self.incident.opened_at).num_seconds())
    }
    pub fn policy_id(&self) -> Option<&'a str> {
        self.policy.map(|p| p.id.as_str()).or(self.incident.details.policy.as_deref())
    }
}

/// Time zones of people, parsed once per report.
/// A zone's UTC offsets over a span, looked up by binary search instead of asking the zone
/// database for every page (the report's hot path: a few hundred thousand pages).
pub(crate) struct Offsets {
    zone: Zone,
    lo: i64,
    hi: i64,
    starts: Vec<i64>,
    offsets: Vec<i64>,
}

impl Offsets {
    pub fn new(zone: Zone, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Offsets {
        let off = |t: DateTime<Utc>| i64::from(zone.offset_seconds(t));
        let mut o = Offsets { zone, lo: lo.timestamp(), hi: hi.timestamp(), starts: vec![lo.timestamp()], offsets: vec![off(lo)] };
        for t in zone.transitions(lo, hi) {
            o.starts.push(t.timestamp());
            o.offsets.push(off(t));
        }
        o
    }
    /// Seconds since the epoch on the zone's wall clock at `t`.
    pub fn local_seconds(&self, t: DateTime<Utc>) -> i64 {
        let s = t.timestamp();
        if s < self.lo || s > self.hi {
            return s + i64::from(self.zone.offset_seconds(t));
        }
        let i = self.starts.partition_point(|&x| x <= s).saturating_sub(1);
        s + self.offsets[i]
    }
    pub fn hour(&self, t: DateTime<Utc>) -> u32 {
        (self.local_seconds(t).rem_euclid(86_400) / 3600) as u32
    }
    pub fn date(&self, t: DateTime<Utc>) -> NaiveDate {
        DateTime::from_timestamp(self.local_seconds(t), 0).map_or_else(|| t.date_naive(), |d| d.date_naive())
    }
}

/// People's time zones, parsed once per report, with their offsets over the report's span.
pub(crate) struct Zones<'a> {
    world: &'a World,
    span: (DateTime<Utc>, DateTime<Utc>),
    people: HashMap<&'a str, usize>,
    tables: Vec<Offsets>,
}

impl<'a> Zones<'a> {
    /// Offsets are tabled over `[from − 1 day, to + 31 days]` (pages of incidents opened in the
    /// period come after it); outside, each is asked of the zone database.
    pub fn new(world: &'a World, query: &ReportQuery) -> Zones<'a> {
        let span = (query.from - Duration::days(1), query.to.max(query.from) + Duration::days(31));
        Zones { world, span, people: HashMap::new(), tables: Vec::new() }
    }
    pub fn is_night(&mut self, person: &'a str, at: DateTime<Utc>) -> bool {
        let table = self.table(person);
        self.is_night_in(table, at)
    }

    /// Whether `at` is night by offsets table `table` (from [`Zones::table`]).
    pub fn is_night_in(&self, table: usize, at: DateTime<Utc>) -> bool {
        let hour = self.tables[table].hour(at);
        !(NIGHT_TO_HOUR..NIGHT_FROM_HOUR).contains(&hour)
    }

    /// The offsets table of `person`'s zone, made the first time it is asked for.
    pub fn table(&mut self, person: &'a str) -> usize {
        match self.people.get(person) {
            Some(&i) => i,
            None => {
                let zone = self.world.person(person).and_then(|p| p.time_zone.parse().ok()).map(Zone).unwrap_or_default();
                let i = match self.tables.iter().position(|t| t.zone == zone) {
                    Some(i) => i,
                    None => {
                        self.tables.push(Offsets::new(zone, self.span.0, self.span.1));
                        self.tables.len() - 1
                    }
                };
                self.people.insert(person, i);
                i
            }
        }
    }
}

/// Whether an incident passes the query's filters (the period aside).
fn passes(world: &World, query: &ReportQuery, f: &Facts) -> bool {
    let d = &f.incident.details;
    if query.service.as_ref().is_some_and(|s| *s != d.service) {
        return false;
    }
    if query.severity.is_some_and(|s| s != d.severity) {
        return false;
    }
    if query.policy.as_deref().is_some_and(|p| Some(p) != f.policy_id()) {
        return false;
    }
    if let Some(team) = &query.team {
        let Some(t) = world.team(team) else { return false };
        let targets = f.policy.is_some_and(|p| {
            p.levels.iter().flat_map(|l| &l.targets).any(|x| match x {
                Target::Team(id) => id == team,
                Target::Schedule(s) => t.schedule.as_ref() == Some(s),
                _ => false,
            })
        });
        if !targets && !f.pages.iter().any(|(p, _)| t.members.contains(p)) {
            return false;
        }
    }
    true
}

/// The facts of every incident in the period that passes the filters.
pub(crate) fn facts_in<'a>(world: &World, incidents: impl IntoIterator<Item = &'a Incident>, query: &ReportQuery) -> Vec<Facts<'a>> {
    // The service and severity filters need no facts: check them before reading the timeline.
    let cheap = |i: &Incident| query.service.as_ref().is_none_or(|s| *s == i.details.service) && query.severity.is_none_or(|s| s == i.details.severity);
    incidents
        .into_iter()
        .filter(|i| i.opened_at >= query.from && i.opened_at < query.to && cheap(i))
        .map(Facts::of)
        .filter(|f| passes(world, query, f))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Histograms.

/// Bar edges of the time-to-acknowledge chart, in minutes.
const ACK_EDGES_MIN: [i64; 11] = [0, 1, 2, 5, 10, 15, 30, 60, 120, 240, 480];
/// Bar edges of the time-to-resolve chart, in minutes.
const RESOLVE_EDGES_MIN: [i64; 10] = [0, 15, 30, 60, 120, 240, 480, 1440, 2880, 10080];

fn span_words(minutes: i64) -> String {
    if minutes >= 1440 && minutes % 1440 == 0 {
        format!("{} d", minutes / 1440)
    } else if minutes >= 60 && minutes % 60 == 0 {
        format!("{} h", minutes / 60)
    } else {
        format!("{minutes} min")
    }
}

/// Counts `values` (seconds) into bars with these edges (minutes).
pub fn histogram(edges_min: &[i64], values: &[i64]) -> Vec<Bucket> {
    let mut bars: Vec<Bucket> = edges_min
        .iter()
        .enumerate()
        .map(|(i, &from)| {
            let to = edges_min.get(i + 1).copied();
            let label = match to {
                Some(to) if from == 0 => format!("< {}", span_words(to)),
                Some(to) => format!("{}–{}", span_words(from), span_words(to)),
                None => format!("≥ {}", span_words(from)),
            };
            Bucket { label, from_s: from * 60, to_s: to.map(|t| t * 60), count: 0 }
        })
        .collect();
    for &v in values {
        if let Some(b) = bars.iter_mut().rev().find(|b| v >= b.from_s) {
            b.count += 1;
        } else if let Some(first) = bars.first_mut() {
            first.count += 1; // a negative duration (clock skew in hand-edited data)
        }
    }
    bars
}

// ---------------------------------------------------------------------------------------------
// Configured timers.

/// A timeout in words: "5 min", or "sev1 5 min, sev2 10 min, default 30 min".
pub fn timeout_words(t: &Timeout) -> String {
    match t {
        Timeout::Always(m) => m.to_string(),
        Timeout::BySeverity(b) => {
            let parts: Vec<String> = [("sev1", b.sev1), ("sev2", b.sev2), ("sev3", b.sev3), ("sev4", b.sev4), ("default", b.default)]
                .into_iter()
                .filter_map(|(name, m)| m.map(|m| format!("{name} {m}")))
                .collect();
            parts.join(", ")
        }
    }
}

/// Lengths a suggestion rounds up to, in minutes.
const NICE_MIN: [i64; 18] = [1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 1440];

/// The first "nice" length at or above `seconds`, and strictly above `above_s`.
fn nice_length(seconds: i64, above_s: i64) -> Minutes {
    let want = seconds.max(above_s + 1);
    let m = NICE_MIN.iter().copied().find(|m| m * 60 >= want).unwrap_or_else(|| (want + 3599) / 3600 * 60);
    Minutes::from_minutes(m)
}

fn percent(x: f64) -> String {
    format!("{} %", (x * 100.0).round() as i64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    Ack,
    Resolution,
}

/// Samples of one (policy, level): seconds from the level's first page, and whether the
/// incident's own timeout had fired by then.
#[derive(Default)]
struct TimerSamples<'a> {
    name: &'a str,
    frozen: Option<&'a Timeout>,
    times: Vec<i64>,
    after: usize,
}

fn timer_checks(world: &World, facts: &[Facts], kind: TimerKind) -> Vec<TimerCheck> {
    // Samples by policy (numbered on first sight: one lookup of its id per incident), then level.
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut by_policy: Vec<(&str, Vec<Option<TimerSamples>>)> = Vec::new();
    for f in facts {
        let Some(policy) = f.policy else { continue };
        if f.level_paged.is_empty() {
            continue;
        }
        let next = by_policy.len();
        let slot = *index.entry(policy.id.as_str()).or_insert(next);
        if slot == next {
            by_policy.push((policy.id.as_str(), Vec::new()));
        }
        let levels = &mut by_policy[slot].1;
        let end = match kind {
            TimerKind::Ack => f.ack.map(|a| a.0),
            TimerKind::Resolution => f.resolved.map(|r| r.0),
        };
        for &(level, paged_at) in &f.level_paged {
            let Some(l) = policy.levels.get(level as usize - 1) else { continue };
            let timeout = match kind {
                TimerKind::Ack => l.ack_timeout.as_ref(),
                TimerKind::Resolution => l.resolution_timeout.as_ref(),
            };
            let at = level as usize - 1;
            if levels.len() <= at {
                levels.resize_with(at + 1, || None);
            }
            let g = levels[at].get_or_insert_with(TimerSamples::default);
            g.name = if policy.name.is_empty() { &policy.id } else { &policy.name };
            g.frozen = g.frozen.or(timeout);
            let Some(end) = end.filter(|e| *e >= paged_at) else { continue };
            let took = (end - paged_at).num_seconds();
            g.times.push(took);
            if timeout.and_then(|t| t.for_severity(f.incident.details.severity)).is_some_and(|t| took >= t.seconds()) {
                g.after += 1;
            }
        }
    }
    let edges: &[i64] = match kind {
        TimerKind::Ack => &ACK_EDGES_MIN,
        TimerKind::Resolution => &RESOLVE_EDGES_MIN,
    };
    // By policy id, then level, as the report lists them.
    by_policy.sort_unstable_by_key(|(id, _)| *id);
    let groups = by_policy.into_iter().flat_map(|(id, levels)| levels.into_iter().enumerate().filter_map(move |(at, g)| g.map(|g| ((id, at as u32 + 1), g))));
    groups
        .map(|((policy, level), g)| {
            let configured = world.policy(policy).and_then(|p| p.levels.get(level as usize - 1)).map(|l| match kind {
                TimerKind::Ack => l.ack_timeout.as_ref(),
                TimerKind::Resolution => l.resolution_timeout.as_ref(),
            });
            let timeout = configured.unwrap_or(g.frozen);
            let configured_s = match timeout {
                Some(Timeout::Always(m)) => Some(m.seconds()),
                _ => None,
            };
            let histogram = histogram(edges, &g.times);
            let real = Stats::of(g.times);
            let after_timeout_share = share(g.after, real.count);
            let suggestion = suggestion(kind, level, timeout, configured_s, &real, after_timeout_share);
            TimerCheck {
                policy: policy.into(),
                policy_name: g.name.to_string(),
                level,
                configured: timeout.map(timeout_words).unwrap_or_default(),
                configured_s,
                real,
                histogram,
                after_timeout: g.after,
                after_timeout_share,
                suggestion,
            }
        })
        .collect()
}

/// One sentence: "Level 1 waits 5 min; 62 % of acks took longer — consider 10 min or a faster
/// first page". Longer is suggested when at least half took longer than the timeout (the median
/// rounded up to a usual length); a timeout nearly every case beats by far is said to fit.
fn suggestion(kind: TimerKind, level: u32, timeout: Option<&Timeout>, configured_s: Option<i64>, real: &Stats, after: Option<f64>) -> String {
    let (what, waits) = match kind {
        TimerKind::Ack => ("acks", "waits"),
        TimerKind::Resolution => ("resolutions", "allows"),
    };
    let Some(timeout) = timeout else {
        return match real.median_s {
            Some(m) => format!(
                "Level {level} has no {} timeout; the median took {}.",
                if kind == TimerKind::Ack { "ack" } else { "resolution" },
                Minutes::from_seconds(m)
            ),
            None => format!("Level {level} has no {} timeout.", if kind == TimerKind::Ack { "ack" } else { "resolution" }),
        };
    };
    let words = timeout_words(timeout);
    let (Some(share), Some(median), Some(p90)) = (after, real.median_s, real.p90_s) else {
        return format!("Level {level} {waits} {words}; no {what} in the period.");
    };
    let base = format!("Level {level} {waits} {words}; {} of {what} took longer", percent(share));
    if share >= 0.5 {
        let longer = nice_length(median, configured_s.unwrap_or(0));
        match kind {
            TimerKind::Ack => format!("{base} — consider {longer} or a faster first page"),
            TimerKind::Resolution => format!("{base} — consider {longer}, or help the level resolve sooner"),
        }
    } else if configured_s.is_some_and(|c| p90 * 2 <= c) {
        format!("{base}; 90 % came within {} — it could be shorter", Minutes::from_seconds(p90))
    } else {
        format!("{base}; it fits")
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

/// Every figure of the Reports screen for the incidents opened in the query's period that pass
/// its filters. `incidents` may hold hot and archived incidents alike, in any order; `now` counts
/// which are still open. Pure and single-pass per incident (≈ 50 000 incidents in well under the
/// 300 ms goal natively; see `benches/insight.rs`).
pub fn report<'a>(world: &World, incidents: impl IntoIterator<Item = &'a Incident>, query: &ReportQuery, now: DateTime<Utc>) -> Report {
    let facts = facts_in(world, incidents, query);
    let mut zones = Zones::new(world, query);
    let period_days = ((query.to - query.from).num_seconds() as f64 / 86_400.0).max(1.0);

    // Totals, MTTA/MTTR, per severity and level.
    let mut totals = Totals { incidents: facts.len(), ..Totals::default() };
    let (mut tta, mut ttr) = (Vec::with_capacity(facts.len()), Vec::with_capacity(facts.len()));
    let mut by_sev: [(usize, Vec<i64>, Vec<i64>); 4] = Default::default();
    let mut by_level: BTreeMap<u32, (Vec<i64>, Vec<i64>)> = BTreeMap::new();
    // Volume, efficiency, quality.
    let (mut to_escalation, mut handoff, mut without_action, mut escalated_ttr) = (Vec::new(), Vec::new(), 0, Vec::new());
    let (mut fcr, mut resolved_paged, mut esc_paged, mut context) = (0, 0, 0, 0);
    let mut repeat: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
    // Fatigue.
    // Responders are numbered the first time they are paged, and dedup keys the first time they
    // are seen, so that each page costs one lookup of a name rather than three.
    struct Who<'a> {
        person: &'a PersonId,
        /// Their zone's offsets table in `zones`.
        zone: usize,
        pages: usize,
        night: usize,
        repeated: usize,
        incidents: usize,
        /// The last incident counted (incidents are read one at a time).
        last: Option<&'a str>,
    }
    let mut who: Vec<Who> = Vec::new();
    let mut who_index: HashMap<&str, usize> = HashMap::new();
    let mut key_index: HashMap<&str, usize> = HashMap::new();
    // The responders already paged for each dedup key (by number; a key has few).
    let mut paged_for: Vec<Vec<usize>> = Vec::new();
    // This incident's responders so far, so that repeated pages of one incident skip the lookup.
    let mut recent: Vec<(&str, usize)> = Vec::new();
    let mut keys: BTreeMap<&str, Noise> = BTreeMap::new();
    let mut services: BTreeMap<&str, Noise> = BTreeMap::new();
    let mut rules: BTreeMap<&str, Noise> = BTreeMap::new();
    let mut accuracy: BTreeMap<&str, SeverityAccuracy> = BTreeMap::new();
    // Per day.
    let zone = query.time_zone;
    let first_day = zone.local(query.from).date();
    let last_day = zone.local(query.to - Duration::seconds(1)).date().max(first_day);
    let days = (last_day - first_day).num_days().clamp(0, MAX_DAYS - 1) + 1;
    let mut per_day: Vec<(Day, Vec<i64>)> = (0..days)
        .map(|k| {
            let date = first_day + Duration::days(k);
            (Day { date, opened: 0, escalated: 0, resolved: 0, pages: 0, night_pages: 0, mtta_median_s: None }, Vec::new())
        })
        .collect();
    let day_offsets = Offsets::new(zone, query.from - Duration::days(1), query.to.max(query.from) + Duration::days(31));
    let day_of = |t: DateTime<Utc>| -> Option<usize> {
        let k = (day_offsets.date(t) - first_day).num_days();
        (0..days).contains(&k).then_some(k as usize)
    };

    for f in &facts {
        let i = f.incident;
        let d = &i.details;
        totals.alerts += u64::from(i.alert_count);
        let open = f.resolved.is_none_or(|(r, _)| r > now);
        if open {
            totals.open += 1;
            let age = (now - i.opened_at).num_seconds();
            totals.oldest_open_s = Some(totals.oldest_open_s.map_or(age, |a| a.max(age)));
        }
        let sev = &mut by_sev[d.severity as usize];
        sev.0 += 1;
        let opened_day = day_of(i.opened_at);
        if let Some(k) = opened_day {
            per_day[k].0.opened += 1;
        }
        if let Some(t) = f.time_to_ack() {
            totals.acknowledged += 1;
            tta.push(t);
            sev.1.push(t);
            if let Some(l) = f.ack.and_then(|a| a.1) {
                by_level.entry(l).or_default().0.push(t);
            }
            if let Some(k) = opened_day {
                per_day[k].1.push(t);
            }
        }
        if let Some(t) = f.time_to_resolve() {
            totals.resolved += 1;
            ttr.push(t);
            sev.2.push(t);
            if let Some(l) = f.resolved.and_then(|r| r.1) {
                by_level.entry(l).or_default().1.push(t);
            }
            if let Some(k) = f.resolved.and_then(|r| day_of(r.0)) {
                per_day[k].0.resolved += 1;
            }
            if f.paged() {
                resolved_paged += 1;
            }
            if f.escalated() {
                escalated_ttr.push(t);
            }
        }
        if f.paged() {
            totals.paged += 1;
        }
        fcr += usize::from(f.first_contact);
        if f.escalated() {
            totals.escalated += 1;
            if let Some(k) = opened_day {
                per_day[k].0.escalated += 1;
            }
            to_escalation.extend(f.time_to_escalation());
            for h in &f.handoffs {
                match h.delay_s {
                    Some(s) => handoff.push(s),
                    None => without_action += 1,
                }
                if let Some(c) = h.context {
                    esc_paged += 1;
                    context += usize::from(c);
                }
            }
            for (by, value) in [("service", d.service.as_str()), ("dedup_key", d.dedup_key.as_deref().unwrap_or(""))] {
                if !value.is_empty() {
                    let r = repeat.entry((by, value)).or_default();
                    r.0 += 1;
                    r.1 += f.handoffs.len();
                }
            }
        }

        // Pages.
        totals.pages += f.pages.len();
        let key = match d.dedup_key.as_deref() {
            Some(k) if !f.pages.is_empty() => {
                let next = key_index.len();
                let k = *key_index.entry(k).or_insert(next);
                if k == next {
                    paged_for.push(Vec::new());
                }
                Some(k)
            }
            _ => None,
        };
        recent.clear();
        for &(p, at) in &f.pages {
            let ix = match recent.iter().find(|(name, _)| *name == p.as_str()) {
                Some(&(_, ix)) => ix,
                None => {
                    let next = who.len();
                    let ix = *who_index.entry(p.as_str()).or_insert(next);
                    if ix == next {
                        who.push(Who { person: p, zone: zones.table(p), pages: 0, night: 0, repeated: 0, incidents: 0, last: None });
                    }
                    recent.push((p.as_str(), ix));
                    ix
                }
            };
            let w = &mut who[ix];
            w.pages += 1;
            if w.last != Some(i.id.as_str()) {
                w.incidents += 1;
                w.last = Some(&i.id);
            }
            if let Some(k) = key {
                if paged_for[k].contains(&ix) {
                    w.repeated += 1;
                } else {
                    paged_for[k].push(ix);
                }
            }
            let night = zones.is_night_in(w.zone, at);
            if night {
                w.night += 1;
            }
            if let Some(k) = day_of(at) {
                per_day[k].0.pages += 1;
                per_day[k].0.night_pages += usize::from(night);
            }
        }
        let pages = f.pages.len();
        let noise = |map: &mut BTreeMap<&'a str, Noise>, name: &'a str| {
            let n = map.entry(name).or_insert_with(|| Noise { name: name.to_string(), incidents: 0, pages: 0, alerts: 0 });
            n.incidents += 1;
            n.pages += pages;
            n.alerts += u64::from(i.alert_count);
        };
        if let Some(k) = d.dedup_key.as_deref() {
            noise(&mut keys, k);
        }
        if !d.service.is_empty() {
            noise(&mut services, &d.service);
        }
        for r in &i.applied_rules {
            noise(&mut rules, r);
        }
        let a = accuracy.entry(d.service.as_str()).or_insert_with(|| SeverityAccuracy {
            service: d.service.clone(),
            incidents: 0,
            changed: 0,
            up: 0,
            down: 0,
            other: 0,
        });
        a.incidents += 1;
        if let Some(c) = f.severity_change {
            a.changed += 1;
            match c {
                Change::Up => a.up += 1,
                Change::Down => a.down += 1,
                Change::Other => a.other += 1,
            }
        }
    }

    let by_severity = Severity::ALL
        .into_iter()
        .zip(by_sev)
        .map(|(severity, (incidents, a, r))| SeverityTimes { severity, incidents, mtta: Stats::of(a), mttr: Stats::of(r) })
        .collect();
    let deepest = by_level.keys().last().copied().unwrap_or(0);
    let by_level = (1..=deepest)
        .map(|level| {
            let (a, r) = by_level.remove(&level).unwrap_or_default();
            LevelTimes { level, mtta: Stats::of(a), mttr: Stats::of(r) }
        })
        .collect();

    let mut repeat_escalations: Vec<RepeatEscalation> = repeat
        .into_iter()
        .filter(|(_, (n, _))| *n >= 2)
        .map(|((by, value), (incidents, escalations))| RepeatEscalation { by: by.to_string(), value: value.to_string(), incidents, escalations })
        .collect();
    repeat_escalations.sort_by(|a, b| b.incidents.cmp(&a.incidents).then(b.escalations.cmp(&a.escalations)));

    let weeks = period_days / 7.0;
    let mut responders: Vec<Responder> = who
        .into_iter()
        .map(|w| {
            let p = w.person;
            let pages_per_week = w.pages as f64 / weeks;
            let night_pages_per_week = w.night as f64 / weeks;
            Responder {
                person: p.clone(),
                name: world.person(p).map_or_else(|| p.to_string(), |x| if x.name.is_empty() { p.to_string() } else { x.name.clone() }),
                pages: w.pages,
                night_pages: w.night,
                repeated_pages: w.repeated,
                incidents: w.incidents,
                pages_per_week,
                night_pages_per_week,
                above_threshold: pages_per_week > FATIGUE_PAGES_PER_WEEK || night_pages_per_week > FATIGUE_NIGHT_PAGES_PER_WEEK,
            }
        })
        .collect();
    responders.sort_by(|a, b| b.pages.cmp(&a.pages).then(a.person.cmp(&b.person)));
    let top = |map: BTreeMap<&str, Noise>, keep: fn(&Noise) -> bool| {
        let mut v: Vec<Noise> = map.into_values().filter(keep).collect();
        v.sort_by(|a, b| b.pages.cmp(&a.pages).then(b.incidents.cmp(&a.incidents)).then(a.name.cmp(&b.name)));
        v.truncate(TOP);
        v
    };
    let fatigue = Fatigue {
        pages: totals.pages,
        night_pages: responders.iter().map(|r| r.night_pages).sum(),
        repeated_pages: responders.iter().map(|r| r.repeated_pages).sum(),
        above_threshold: responders.iter().filter(|r| r.above_threshold).map(|r| r.person.clone()).collect(),
        responders,
        repeated_keys: top(keys, |n| n.pages > 1),
        noisiest_services: top(services, |_| true),
        noisiest_rules: top(rules, |_| true),
        pages_per_week_threshold: FATIGUE_PAGES_PER_WEEK,
        night_pages_per_week_threshold: FATIGUE_NIGHT_PAGES_PER_WEEK,
    };
    let mut severity_accuracy: Vec<SeverityAccuracy> = accuracy.into_values().collect();
    severity_accuracy.sort_by(|a, b| b.changed.cmp(&a.changed).then(a.service.cmp(&b.service)));

    let charts = Charts {
        time_to_ack: histogram(&ACK_EDGES_MIN, &tta),
        time_to_resolve: histogram(&RESOLVE_EDGES_MIN, &ttr),
        per_day: per_day
            .into_iter()
            .map(|(mut day, mtta)| {
                day.mtta_median_s = Stats::of(mtta).median_s;
                day
            })
            .collect(),
    };
    Report {
        query: query.clone(),
        now,
        mtta: Stats::of(tta),
        mttr: Stats::of(ttr),
        by_severity,
        by_level,
        volume: Volume { escalation_rate: share(totals.escalated, totals.paged), repeat_escalations },
        efficiency: Efficiency {
            time_to_escalation: Stats::of(to_escalation),
            handoff_delay: Stats::of(handoff),
            handoffs_without_action: without_action,
            resolution_of_escalated: Stats::of(escalated_ttr),
        },
        quality: Quality {
            first_contact_resolutions: fcr,
            first_contact_resolution_rate: share(fcr, resolved_paged),
            escalations_paged: esc_paged,
            context_passed: context,
            context_passed_rate: share(context, esc_paged),
        },
        timers: Timers { ack: timer_checks(world, &facts, TimerKind::Ack), resolution: timer_checks(world, &facts, TimerKind::Resolution) },
        fatigue,
        severity_accuracy,
        charts,
        totals,
    }
}

/// The incident ids a report counted, in the order given (for a screen listing them).
pub fn incidents_in<'a>(world: &World, incidents: impl IntoIterator<Item = &'a Incident>, query: &ReportQuery) -> Vec<IncidentId> {
    facts_in(world, incidents, query).into_iter().map(|f| f.incident.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let s = Stats::of(vec![40, 10, 30, 20]);
        assert_eq!((s.count, s.median_s, s.p90_s), (4, Some(20), Some(40)));
        let s = Stats::of((1..=10).collect());
        assert_eq!((s.median_s, s.p90_s), (Some(5), Some(9)));
        assert_eq!(Stats::of(vec![]), Stats { count: 0, median_s: None, p90_s: None });
        assert_eq!(Stats::of(vec![7]).p90_s, Some(7));
    }

    #[test]
    fn histogram_bars_are_half_open() {
        let bars = histogram(&[0, 1, 5], &[0, 59, 60, 299, 300, 10_000, -3]);
        let counts: Vec<(&str, usize)> = bars.iter().map(|b| (b.label.as_str(), b.count)).collect();
        assert_eq!(counts, [("< 1 min", 3), ("1 min–5 min", 2), ("≥ 5 min", 2)]);
    }

    #[test]
    fn suggested_lengths_round_up_to_usual_ones() {
        assert_eq!(nice_length(7 * 60 + 5, 300), Minutes::from_minutes(10));
        assert_eq!(nice_length(60, 300), Minutes::from_minutes(10), "always longer than configured");
        assert_eq!(nice_length(100 * 3600, 0), Minutes::from_minutes(100 * 60));
    }
}
