//! Commands: every change a screen can ask for, as data.
//!
//! Only the tab that holds the clock (the leader) changes anything; other tabs send it their
//! commands over a BroadcastChannel and wait for the [`Reply`]. So commands and replies are plain
//! serializable values, and [`execute`] runs one against a [`Driver`] — natively testable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::driver::Driver;
use super::{people, ActionError};
use crate::engine::escalation::Input;
use crate::engine::id::{IncidentId, PolicyId, RuleId};
use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::{MaintenanceWindow, Rule};
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::{Channel, Team};
use crate::storage::Store;

/// A configuration record to add or replace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum ConfigItem {
    Person(Person),
    Team(Team),
    Channel(Channel),
    Schedule(OnCallSchedule),
    Policy(EscalationPolicy),
    Rule(Rule),
    Maintenance(MaintenanceWindow),
}

impl ConfigItem {
    /// The store its records are kept in, as problems' paths name it (`policies[2].levels[0]`).
    pub fn store(&self) -> &'static str {
        match self {
            ConfigItem::Person(_) => "people",
            ConfigItem::Team(_) => "teams",
            ConfigItem::Channel(_) => "channels",
            ConfigItem::Schedule(_) => "schedules",
            ConfigItem::Policy(_) => "policies",
            ConfigItem::Rule(_) => "rules",
            ConfigItem::Maintenance(_) => "maintenance",
        }
    }

    /// The record's id.
    pub fn id(&self) -> String {
        match self {
            ConfigItem::Person(x) => x.id.to_string(),
            ConfigItem::Team(x) => x.id.to_string(),
            ConfigItem::Channel(x) => x.id.to_string(),
            ConfigItem::Schedule(x) => x.id.to_string(),
            ConfigItem::Policy(x) => x.id.to_string(),
            ConfigItem::Rule(x) => x.id.to_string(),
            ConfigItem::Maintenance(x) => x.id.clone(),
        }
    }
}

macro_rules! config_items {
    ($($record:ty => $variant:ident),*) => {$(
        impl From<$record> for ConfigItem {
            fn from(record: $record) -> ConfigItem {
                ConfigItem::$variant(record)
            }
        }
    )*};
}
config_items!(Person => Person, Team => Team, Channel => Channel, OnCallSchedule => Schedule, EscalationPolicy => Policy, Rule => Rule, MaintenanceWindow => Maintenance);

/// Which kind of configuration record (for removal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    Person,
    Team,
    Channel,
    Schedule,
    Policy,
    Rule,
    Maintenance,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// An input for the engine (open, acknowledge, resolve, …).
    Dispatch {
        input: Input,
    },
    Save {
        item: ConfigItem,
    },
    Remove {
        kind: ConfigKind,
        id: String,
    },
    SetDefaultPolicy {
        policy: Option<PolicyId>,
    },
    /// Replace everything with a backup file's contents.
    Restore {
        file: String,
    },
    /// Add or replace policies from a file of policies.
    ImportPolicies {
        file: String,
    },
    /// Add or replace a resolved incident's retrospective.
    SaveRetrospective {
        retrospective: crate::insight::retro::Retrospective,
    },
    /// Send a failed delivery's failed routes again.
    RetryDelivery {
        key: String,
    },
    /// Run a rule one place earlier (`up`) or later.
    MoveRule {
        id: RuleId,
        up: bool,
    },
    SetDeliverySettings {
        settings: super::outbox::DeliverySettings,
    },
    /// Settings → "Acknowledge from phones": turn the reply channel on or off, set its server,
    /// and make a new reply topic or signing key when asked (or when there is none yet).
    SetReplyChannel {
        enabled: bool,
        server: String,
        #[serde(default)]
        new_topic: bool,
        #[serde(default)]
        new_key: bool,
        /// 48 random bytes from `crypto.getRandomValues` (16 for a topic, 32 for a key), filled
        /// in by the tab that sends the command.
        #[serde(default)]
        entropy: Vec<u8>,
    },
    /// Settings → Team sync: the database, sign-in and this device's name; on or off.
    SetTeamSync {
        settings: super::team_sync::SyncSettings,
    },
    /// A configuration conflict settled: this version (`rev`) of the record `doc` wins everywhere.
    KeepVersion {
        doc: String,
        rev: String,
    },
}

/// Why a command was refused, in words for the screen, with what it concerns as data: the kind of
/// refusal, the form field, and each problem at its path. Screens read these fields; none parses
/// the message's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Every problem, one per line.
    pub message: String,
    #[serde(default)]
    pub cause: Cause,
    /// The form field it concerns (a person's `topic`, a setting's `server`).
    #[serde(default)]
    pub field: Option<String>,
    /// Each problem with its path in the configuration (`policies[2].levels[0].targets`).
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// The kind of refusal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// What was asked does not hold (a form, a file, an action on an incident).
    #[default]
    Refused,
    /// Another tab has taken over the clock; this tab changed nothing.
    Fenced,
    /// The runtime or its storage is still starting.
    Starting,
    /// The tab holding the clock did not answer.
    NoAnswer,
    /// Storage failed; nothing was saved.
    Storage,
}

/// One problem with what was asked, where it is: a JSON path in the configuration
/// (`policies[2].levels[0].targets`, `""` for the whole) and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Refusal {
    /// A refusal that is only words (no path, no field).
    pub fn new(cause: Cause, message: impl Into<String>) -> Refusal {
        let message = message.into();
        Refusal { problems: vec![Problem { path: String::new(), message: message.clone() }], message, cause, field: None }
    }

    /// The command was refused because another tab has taken the clock.
    pub fn fenced(&self) -> bool {
        self.cause == Cause::Fenced
    }

    /// The problems as seen from one record of `store` (`policies`): paths inside a record of that
    /// store lose their `policies[2].`; a problem elsewhere keeps its whole text at `""`.
    pub fn problems_in(&self, store: &str) -> Vec<(String, String)> {
        if self.problems.is_empty() {
            return vec![(String::new(), self.message.clone())];
        }
        self.problems
            .iter()
            .map(|p| {
                let inside = p.path.strip_prefix(store).and_then(|rest| rest.strip_prefix('[')).and_then(|rest| rest.split_once(']'));
                match inside {
                    Some((_, after)) => (after.trim_start_matches('.').to_string(), p.message.clone()),
                    None if p.path.is_empty() || p.path == "." => (String::new(), p.message.clone()),
                    None => (String::new(), format!("{}: {}", p.path, p.message)),
                }
            })
            .collect()
    }
}

impl From<ActionError> for Refusal {
    fn from(e: ActionError) -> Refusal {
        let field = match &e {
            ActionError::InvalidPerson(p) => Some(p.field().to_string()),
            ActionError::InvalidSetting { field, .. } => Some(field.clone()),
            _ => None,
        };
        let cause = match &e {
            ActionError::Storage(crate::storage::StoreError::Fenced) => Cause::Fenced,
            ActionError::Storage(_) => Cause::Storage,
            _ => Cause::Refused,
        };
        let problems = match &e {
            ActionError::Invalid(errors) => errors.0.iter().map(|p| Problem { path: p.path.clone(), message: p.message.clone() }).collect(),
            ActionError::Import(crate::storage::backup::ImportError::Invalid { path, message }) => {
                vec![Problem { path: path.clone(), message: message.clone() }]
            }
            _ => vec![Problem { path: String::new(), message: e.to_string() }],
        };
        Refusal { message: e.to_string(), cause, field, problems }
    }
}

/// What a command did: a short confirmation ("Alice saved.") and the id it concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
    #[serde(default)]
    pub id: Option<String>,
}

pub type Reply = Result<Done, Refusal>;

/// An incident action (open, acknowledge, resolve, …): the command of the 3 a.m. path. In the web
/// app its code is in the clock's module, which the clock tab loads at its first tick; the
/// configuration commands of [`execute`] are in a module of their own.
pub async fn dispatch<S: Store>(mut driver: Driver<S>, input: Input, now: DateTime<Utc>) -> (Driver<S>, Reply) {
    let id = input.incident_id().map(IncidentId::to_string);
    let reply = driver.dispatch(now, input).await.map(|_| Done { message: "Done.".into(), id });
    (driver, reply.map_err(Refusal::from))
}

/// Runs one command. The driver is taken and given back because a restore replaces it.
pub async fn execute<S: Store>(mut driver: Driver<S>, command: Command, now: DateTime<Utc>) -> (Driver<S>, Reply) {
    let reply = match command {
        Command::Restore { file } => {
            return match driver.import(&file, now).await {
                Ok((d, restore)) => {
                    let total: usize = restore.counts.values().sum();
                    let secrets = if restore.secrets_included { "" } else { " Webhook URLs were not in the file: enter them again." };
                    (d, Ok(Done { message: format!("Restored {total} records.{secrets}"), id: None }))
                }
                Err((d, e)) => (d, Err(e.into())),
            };
        }
        Command::Dispatch { input } => return dispatch(driver, input, now).await,
        Command::Save { item } => save(&mut driver, item, now).await,
        Command::Remove { kind, id } => remove(&mut driver, kind, &id, now).await.map(|_| Done { message: "Removed.".into(), id: Some(id) }),
        Command::SetDefaultPolicy { policy } => driver.set_default_policy(policy, now).await.map(|_| Done { message: "Default policy set.".into(), id: None }),
        Command::SaveRetrospective { retrospective } => {
            let id = retrospective.incident.to_string();
            driver.save_retrospective(retrospective, now).await.map(|_| Done { message: "Retrospective saved.".into(), id: Some(id) })
        }
        Command::RetryDelivery { key } => driver.retry_delivery(&key, now).await.map(|_| Done { message: "Queued again.".into(), id: Some(key) }),
        Command::MoveRule { id, up } => driver.move_rule(&id, up, now).await.map(|_| Done { message: "Rule order saved.".into(), id: Some(id.into()) }),
        Command::SetDeliverySettings { settings } => {
            driver.set_delivery_settings(settings, now).await.map(|_| Done { message: "Delivery settings saved.".into(), id: None })
        }
        Command::SetReplyChannel { enabled, server, new_topic, new_key, entropy } => {
            set_reply_channel(&mut driver, enabled, server, new_topic, new_key, &entropy, now).await
        }
        Command::SetTeamSync { settings } => {
            let on = settings.enabled;
            driver
                .set_team_sync(settings, now)
                .await
                .map(|_| Done { message: if on { "Team sync is on.".into() } else { "Team sync is off: everything stays on this device.".into() }, id: None })
        }
        Command::KeepVersion { doc, rev } => match crate::sync::Rev::parse(&rev) {
            Ok(rev) => super::team_sync::keep_version(&mut driver, &doc, &rev, now)
                .await
                .map(|_| Done { message: "Kept. The other devices take it at their next sync.".into(), id: Some(doc) })
                .map_err(ActionError::NotFound),
            Err(e) => Err(ActionError::NotFound(e.to_string())),
        },
        Command::ImportPolicies { file } => driver.import_policies(&file, now).await.map(|n| Done { message: format!("Imported {n} policies."), id: None }),
    };
    (driver, reply.map_err(Refusal::from))
}

async fn set_reply_channel<S: Store>(
    d: &mut Driver<S>,
    enabled: bool,
    server: String,
    new_topic: bool,
    new_key: bool,
    entropy: &[u8],
    now: DateTime<Utc>,
) -> Result<Done, ActionError> {
    let mut settings = d.reply_settings().clone();
    settings.enabled = enabled;
    settings.server = server;
    let topic_needed = new_topic || settings.topic.is_empty();
    let key_needed = new_key || settings.team_key().is_none();
    if topic_needed || key_needed {
        let Ok(random) = <[u8; 48]>::try_from(entropy) else {
            return Err(ActionError::InvalidSetting { field: "key".into(), message: "this browser gave no random numbers; nothing was changed".into() });
        };
        if topic_needed {
            settings.topic = crate::reply::token::topic_from(random[..16].try_into().expect("16 bytes"));
        }
        if key_needed {
            settings.key = crate::reply::TeamKey::from_bytes(random[16..].try_into().expect("32 bytes")).to_base64();
        }
    }
    d.set_reply_settings(settings, now).await?;
    let message = match (enabled, new_topic, new_key) {
        (_, true, _) => "New reply topic saved: subscribe phones' links afresh (old links stop working).",
        (_, _, true) => "New signing key saved: links sent before now no longer acknowledge.",
        (true, _, _) => "Acknowledge from phones is on.",
        (false, _, _) => "Acknowledge from phones is off.",
    };
    Ok(Done { message: message.into(), id: None })
}

async fn save<S: Store>(d: &mut Driver<S>, item: ConfigItem, now: DateTime<Utc>) -> Result<Done, ActionError> {
    let (id, what) = match item {
        ConfigItem::Person(p) => {
            let p = people::save_person(d, p, now).await?;
            (p.id.into(), p.name)
        }
        ConfigItem::Team(mut t) => {
            fill_id(&mut t.id);
            let t = d.save(t, now).await?;
            (t.id.into(), t.name)
        }
        ConfigItem::Channel(mut c) => {
            fill_id(&mut c.id);
            if let Err(e) = super::outbox::channel_config(&c) {
                return Err(ActionError::Invalid(crate::engine::format::FormatErrors(vec![crate::engine::format::FormatError {
                    path: String::new(),
                    message: e,
                }])));
            }
            let c = d.save(c, now).await?;
            (c.id.into(), c.name)
        }
        ConfigItem::Schedule(mut s) => {
            fill_id(&mut s.id);
            let s = d.save(s, now).await?;
            (s.id.into(), s.name)
        }
        ConfigItem::Policy(mut p) => {
            fill_id(&mut p.id);
            let p = d.save(p, now).await?;
            (p.id.into(), p.name)
        }
        ConfigItem::Rule(mut r) => {
            fill_id(&mut r.id);
            let r = d.save(r, now).await?;
            (r.id.into(), r.name)
        }
        ConfigItem::Maintenance(mut m) => {
            fill_id(&mut m.id);
            let m = d.save(m, now).await?;
            (m.id.clone(), m.id)
        }
    };
    let what = if what.is_empty() { "It".to_string() } else { what };
    Ok(Done { message: format!("{what} saved."), id: Some(id) })
}

/// Gives a new item (no id yet) a fresh one: a person, a team, a rule… or a maintenance window.
fn fill_id<Id: std::ops::Deref<Target = str> + From<String>>(id: &mut Id) {
    if id.trim().is_empty() {
        *id = Id::from(uuid::Uuid::new_v4().to_string());
    }
}

async fn remove<S: Store>(d: &mut Driver<S>, kind: ConfigKind, id: &str, now: DateTime<Utc>) -> Result<(), ActionError> {
    match kind {
        ConfigKind::Person => d.remove::<Person>(id, now).await,
        ConfigKind::Team => d.remove::<Team>(id, now).await,
        ConfigKind::Channel => d.remove::<Channel>(id, now).await,
        ConfigKind::Schedule => d.remove::<OnCallSchedule>(id, now).await,
        ConfigKind::Policy => d.remove::<EscalationPolicy>(id, now).await,
        ConfigKind::Rule => d.remove::<Rule>(id, now).await,
        ConfigKind::Maintenance => d.remove::<MaintenanceWindow>(id, now).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::format::{FormatError, FormatErrors};

    #[test]
    fn a_refusal_carries_its_problems_with_their_paths() {
        let errors = FormatErrors(vec![
            FormatError { path: "policies[2].levels[0].targets".into(), message: "a level needs someone to page".into() },
            FormatError { path: "policies[2]".into(), message: "the name is taken: Ops".into() },
            FormatError { path: "rules[0].policy".into(), message: "no policy p".into() },
            FormatError { path: String::new(), message: "nothing to save".into() },
        ]);
        let refusal = Refusal::from(ActionError::Invalid(errors));
        assert_eq!(refusal.cause, Cause::Refused);
        assert_eq!(refusal.problems.len(), 4);
        assert_eq!(
            refusal.problems_in("policies"),
            vec![
                ("levels[0].targets".to_string(), "a level needs someone to page".to_string()),
                (String::new(), "the name is taken: Ops".to_string()),
                (String::new(), "rules[0].policy: no policy p".to_string()),
                (String::new(), "nothing to save".to_string()),
            ]
        );
        // The words stay as they were, one problem a line.
        assert!(refusal.message.starts_with("policies[2].levels[0].targets: a level needs someone to page\n"));
        // Followers hear refusals over a BroadcastChannel: they travel as JSON and come back whole.
        let json = serde_json::to_string(&refusal).unwrap();
        assert_eq!(serde_json::from_str::<Refusal>(&json).unwrap(), refusal);
    }

    #[test]
    fn a_fenced_write_is_known_by_its_cause_not_its_words() {
        let fenced = Refusal::from(ActionError::Storage(crate::storage::StoreError::Fenced));
        assert!(fenced.fenced());
        assert!(!Refusal::new(Cause::Refused, fenced.message.clone()).fenced());
        let full = Refusal::from(ActionError::Storage(crate::storage::StoreError::QuotaExceeded("x".into())));
        assert_eq!(full.cause, Cause::Storage);
        assert_eq!(full.problems_in("teams"), vec![(String::new(), full.message.clone())]);
        // A reply from an older tab, without the new fields, still reads.
        let old: Refusal = serde_json::from_str(r#"{"message":"no","field":null}"#).unwrap();
        assert_eq!(old.problems_in("teams"), vec![(String::new(), "no".to_string())]);
    }
}
