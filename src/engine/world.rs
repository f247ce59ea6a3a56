//! The world an escalation runs in: people, teams, channels, schedules, policies, rules and
//! maintenance windows — everything a team configures, as opposed to incidents, which happen.
//!
//! Owns: [`World`], [`Team`], [`Channel`] and lookups by id. Never: holds incident state (that is
//! [`super::escalation::Engine`]) or knows how a channel is delivered to (the runtime's adapters do).

use serde::{Deserialize, Serialize};

use super::person::{Person, PersonId};
use super::policy::{ChannelId, EscalationPolicy, PolicyId, ScheduleId, TeamId};
use super::rules::{MaintenanceWindow, Rule};
use super::schedule::OnCallSchedule;

/// Everything configured. Lists keep the order the team wrote (rules run in that order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub people: Vec<Person>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub channels: Vec<Channel>,
    #[serde(default)]
    pub schedules: Vec<OnCallSchedule>,
    #[serde(default)]
    pub policies: Vec<EscalationPolicy>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// The policy for incidents that ask for none and that no rule routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_policy: Option<PolicyId>,
}

/// A group of people owning a domain (database, network, payments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub id: TeamId,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub members: Vec<PersonId>,
    /// Paging the team pages whoever is on call here; without one, every member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleId>,
}

/// Somewhere to post (a Slack or Teams channel, an ntfy topic, a webhook).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub id: ChannelId,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Where the runtime delivers: the webhook URL, or the ntfy server. A secret (masked on
    /// screens, left out of exports unless asked); the engine only passes the channel id on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// How the runtime delivers: `ntfy`, `slack`, `teams`, `discord` or `generic` (JSON).
    #[serde(default = "generic", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// ntfy only: the topic.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub topic: String,
    /// The message, with placeholders such as `{{title}}`; empty for Piket's wording.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub template: String,
}

fn generic() -> String {
    "generic".into()
}

/// What a channel is for during an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Critical,
    WarRoom,
    Leadership,
    Comms,
    Retro,
}

impl World {
    pub fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }
    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }
    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }
    pub fn schedule(&self, id: &str) -> Option<&OnCallSchedule> {
        self.schedules.iter().find(|s| s.id == id)
    }
    pub fn policy(&self, id: &str) -> Option<&EscalationPolicy> {
        self.policies.iter().find(|p| p.id == id)
    }
}
