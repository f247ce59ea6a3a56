//! Escalation policies: who is pulled in, in what order, after how long.
//!
//! Owns: [`EscalationPolicy`], [`Level`], [`Target`], [`Timeout`] (per severity), [`Repeat`] and
//! [`Checkpoint`] — the data a designer writes. Never: keeps incident state or reads the clock; a
//! policy is frozen onto an incident when it starts (see [`super::escalation`]), so editing one never
//! derails a live incident.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::incident::Severity;
use super::time::{Minutes, TimeWindow, Zone};

pub use super::id::{ChannelId, PolicyId, ScheduleId, TeamId};

/// Ordered levels: level 1 is the primary on-call; each next level is pulled in when the previous
/// one's acknowledgement or resolution timeout runs out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationPolicy {
    pub id: PolicyId,
    #[serde(default)]
    pub name: String,
    pub levels: Vec<Level>,
    /// After the last level: repeat (N more loops, from level K), or stop when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Repeat>,
    /// After an acknowledgement, page the acknowledger again every this long until it is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_reminder: Option<Minutes>,
    /// Escalate to the next level when the status has not changed for this long (even when
    /// acknowledged: a stuck incident is pulled up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_if_status_unchanged: Option<Minutes>,
    /// The zone levels' `only_during`/`except_during` windows are read in.
    #[serde(default)]
    pub time_zone: Zone,
    /// Dates the windows' `holidays` setting refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<NaiveDate>,
}

/// One step of a policy: its targets are paged in parallel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub targets: Vec<Target>,
    /// No acknowledgement within this long after the level was paged → next level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout: Option<Timeout>,
    /// Not resolved within this long after the level was paged (acknowledged or not) → next level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_timeout: Option<Timeout>,
    /// The level takes part only inside one of these windows (policy zone); empty: always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_during: Vec<TimeWindow>,
    /// The level is skipped inside any of these windows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_during: Vec<TimeWindow>,
    /// Escalation pauses before paging this level until someone confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

/// Who a level reaches. JSON: `{"person": "alice"}`, `{"schedule": "primary"}`, `{"team": "db"}`,
/// `{"channel": "major-incident"}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Person(super::person::PersonId),
    /// Whoever is on call on the schedule at the moment the level is reached.
    Schedule(ScheduleId),
    /// The team's schedule when it has one, otherwise every member.
    Team(TeamId),
    /// A post to a channel (Slack, Teams, ntfy topic…), nobody in particular.
    Channel(ChannelId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Person(id) => write!(f, "person:{id}"),
            Target::Schedule(id) => write!(f, "schedule:{id}"),
            Target::Team(id) => write!(f, "team:{id}"),
            Target::Channel(id) => write!(f, "channel:{id}"),
        }
    }
}

/// After the last level, go round again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repeat {
    /// How many more loops (1..=100).
    pub times: u32,
    /// The level a loop starts from, 1-based.
    #[serde(default = "first_level")]
    pub from_level: u32,
}

fn first_level() -> u32 {
    1
}

/// A pause before a high-risk step: escalation waits until someone confirms, at most `timeout`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// What the confirmer is asked ("Page the payments vendor?").
    pub prompt: String,
    pub timeout: Minutes,
    #[serde(default)]
    pub on_timeout: CheckpointTimeout,
}

/// What happens when nobody confirms a checkpoint in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointTimeout {
    /// Page the level anyway.
    #[default]
    Proceed,
    /// Skip the level and go on to the next.
    Skip,
    /// Stop escalating.
    Stop,
}

/// A timeout, the same for every severity (`10`, `"90s"`) or per severity
/// (`{"sev1": 5, "sev2": 10, "default": 30}`; a severity with neither has no timeout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timeout {
    Always(Minutes),
    BySeverity(BySeverity),
}

#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BySeverity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sev1: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sev2: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sev3: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sev4: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Minutes>,
}

impl Timeout {
    pub fn for_severity(&self, severity: Severity) -> Option<Minutes> {
        match self {
            Timeout::Always(m) => Some(*m),
            Timeout::BySeverity(b) => {
                let specific = match severity {
                    Severity::Sev1 => b.sev1,
                    Severity::Sev2 => b.sev2,
                    Severity::Sev3 => b.sev3,
                    Severity::Sev4 => b.sev4,
                };
                specific.or(b.default)
            }
        }
    }

    /// Every length scaled (for "recurring → escalate faster").
    pub fn scaled(&self, factor: f64) -> Timeout {
        let s = |m: Option<Minutes>| m.map(|m| m.scaled(factor));
        match self {
            Timeout::Always(m) => Timeout::Always(m.scaled(factor)),
            Timeout::BySeverity(b) => {
                Timeout::BySeverity(BySeverity { sev1: s(b.sev1), sev2: s(b.sev2), sev3: s(b.sev3), sev4: s(b.sev4), default: s(b.default) })
            }
        }
    }
}

impl Serialize for Timeout {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Timeout::Always(m) => m.serialize(s),
            Timeout::BySeverity(b) => b.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timeout, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("expected minutes > 0, or minutes per severity such as {\"sev1\": 5, \"default\": 30}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timeout, E> {
                Minutes::deserialize(de::value::U64Deserializer::<E>::new(v)).map(Timeout::Always)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timeout, E> {
                Minutes::deserialize(de::value::I64Deserializer::<E>::new(v)).map(Timeout::Always)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timeout, E> {
                Minutes::deserialize(de::value::F64Deserializer::<E>::new(v)).map(Timeout::Always)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timeout, E> {
                Minutes::deserialize(de::value::StrDeserializer::<E>::new(v)).map(Timeout::Always)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Timeout, A::Error> {
                BySeverity::deserialize(de::value::MapAccessDeserializer::new(map)).map(Timeout::BySeverity)
            }
        }
        d.deserialize_any(V)
    }
}

impl EscalationPolicy {
    /// Whether level `index` takes part at instant `t` (its local-time windows).
    pub fn level_applies(&self, index: usize, t: chrono::DateTime<chrono::Utc>) -> bool {
        let level = &self.levels[index];
        let inside = |w: &TimeWindow| w.contains(self.time_zone, &self.holidays, t);
        (level.only_during.is_empty() || level.only_during.iter().any(inside)) && !level.except_during.iter().any(inside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_by_severity() {
        let t: Timeout = serde_json::from_str(r#"{"sev1": 5, "default": "30m"}"#).unwrap();
        let cases = [(Severity::Sev1, Some(300)), (Severity::Sev2, Some(1800)), (Severity::Sev4, Some(1800))];
        for (sev, want) in cases {
            assert_eq!(t.for_severity(sev).map(Minutes::seconds), want, "{sev:?}");
        }
        let only: Timeout = serde_json::from_str(r#"{"sev1": 5}"#).unwrap();
        assert_eq!(only.for_severity(Severity::Sev3), None);
        let fixed: Timeout = serde_json::from_str("10").unwrap();
        assert_eq!(fixed.for_severity(Severity::Sev3), Some(Minutes::from_minutes(10)));
        assert!(serde_json::from_str::<Timeout>(r#"{"sev5": 5}"#).is_err());
    }

    #[test]
    fn targets_read_as_kind_and_id() {
        let t: Vec<Target> = serde_json::from_str(r#"[{"person":"alice"},{"schedule":"primary"},{"channel":"mi"}]"#).unwrap();
        let shown: Vec<String> = t.iter().map(|t| t.to_string()).collect();
        assert_eq!(shown, ["person:alice", "schedule:primary", "channel:mi"]);
    }
}
