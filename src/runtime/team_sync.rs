//! Team sync for configuration: a device's people, teams, channels, schedules, policies, rules,
//! maintenance windows and default policy, kept as one synced document each
//! (`config:<store>:<id>`, the body being the record as a [`ConfigItem`]) and replicated through
//! CouchDB with [`crate::sync`].
//!
//! A round, on the tab that holds this browser's clock: record the local edits since the last round
//! as new revisions (each on the revision the device last agreed with, so two devices editing the
//! same record make a conflict, not a lost edit), push, pull, then apply every document whose
//! winner changed through the ordinary commands (validated against the whole world, as an edit in
//! the screens is). A winner that does not apply yet (a policy naming a person that has not
//! arrived) waits and is tried again next round; the screen lists it with why.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::command::{execute, Command, ConfigItem, ConfigKind};
use super::driver::Driver;
use crate::engine::id::{PolicyId, RuleId};
use crate::engine::world::World;
use crate::storage::Store;
use crate::sync::{replicate, HttpDb, LocalDocs, MemoryDb, Options, Rev, SyncError, Transport};

/// Every synced configuration document's id starts so.
pub const CONFIG_PREFIX: &str = "config:";

/// Settings rows (storage names them: the password is a backup secret, the state never exported).
pub const SYNC_SETTINGS: &str = crate::storage::TEAM_SYNC_SETTINGS;
pub const SYNC_STATE: &str = crate::storage::TEAM_SYNC_STATE;

/// How a device signs in to the database.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncAuth {
    /// Nobody (a server that admits anyone, or one behind the same origin's login).
    #[default]
    None,
    /// `Authorization: Basic` on every request.
    Basic,
    /// A cookie session from `POST /_session`.
    Cookie,
}

/// Settings → Team sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSettings {
    #[serde(default)]
    pub enabled: bool,
    /// The server (`https://couch.example.com`).
    #[serde(default)]
    pub server: String,
    /// The database (`piket`).
    #[serde(default)]
    pub database: String,
    #[serde(default)]
    pub auth: SyncAuth,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    /// How this device is named to the others ("Ops desk", "Ada's phone").
    #[serde(default)]
    pub device: String,
}

impl SyncSettings {
    /// The database's address.
    pub fn database_url(&self) -> String {
        format!("{}/{}", self.server.trim_end_matches('/'), crate::sync::encode(&self.database))
    }

    /// The settings without the password (what the screens are sent).
    pub fn masked(&self) -> SyncSettings {
        SyncSettings { password: if self.password.is_empty() { String::new() } else { self.masked_password() }, ..self.clone() }
    }

    /// What stands for a stored password on the screens; saved back, it keeps the stored one.
    pub fn masked_password(&self) -> String {
        "••••••••".into()
    }
}

/// The `Authorization` header basic sign-in sends (none for the other kinds).
pub fn authorization(settings: &SyncSettings) -> Option<String> {
    use base64::Engine as _;
    (settings.auth == SyncAuth::Basic).then(|| {
        let pair = format!("{}:{}", settings.username, settings.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    })
}

/// Checks settings before they are saved: `Err((field, message))`.
pub fn validate(s: &SyncSettings) -> Result<(), (String, String)> {
    let field = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
    if !s.enabled && s.server.trim().is_empty() {
        return Ok(());
    }
    let server = s.server.trim();
    if !(server.starts_with("https://") || server.starts_with("http://")) || server.len() < 10 || server.contains(char::is_whitespace) {
        return field("server", "Enter the server's address, starting with https:// (or http:// on your own network).");
    }
    if server[8..].contains(['?', '#']) {
        return field("server", "The server's address has no ? or #: enter the database name below.");
    }
    // CouchDB's rule for database names.
    let db = s.database.as_str();
    let first_ok = db.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok || !db.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_$()+-/".contains(c)) || db.len() > 238 {
        return field("database", "A database name starts with a lowercase letter and has only a-z, 0-9 and _$()+-/.");
    }
    if s.auth != SyncAuth::None && (s.username.trim().is_empty() || s.password.is_empty()) {
        return field("username", "Enter the user name and password, or choose no sign-in.");
    }
    if s.device.trim().is_empty() || s.device.chars().count() > 60 {
        return field("device", "Name this device (up to 60 characters), so the others can tell who holds the clock.");
    }
    Ok(())
}

/// What a device remembers between rounds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncState {
    pub docs: LocalDocs,
    /// Per document: the revision this device's configuration last matched, and the hash of the
    /// body it had then (empty when the record was absent).
    #[serde(default)]
    pub synced: BTreeMap<String, (Rev, String)>,
    /// Revisions this device wrote (so a conflict can say which version is "mine").
    #[serde(default)]
    pub mine: BTreeSet<Rev>,
    /// Winners that could not be applied yet, with why.
    #[serde(default)]
    pub waiting: BTreeMap<String, String>,
    #[serde(default)]
    pub last_sync: Option<DateTime<Utc>>,
    /// Why the last round failed, when it did.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The team's incidents as the database holds them: per `incident:` document, its revision
    /// and the hash of its body (empty when this device's version differs and is to be written).
    #[serde(default)]
    pub incidents: BTreeMap<String, (Rev, String)>,
    /// How far this device has read the database's change feed for incidents and commands.
    #[serde(default)]
    pub feed: Option<Value>,
    /// Commands from other devices not answered yet (the document as read, with its `_rev`):
    /// kept so a device that takes the clock over still answers them.
    #[serde(default)]
    pub commands: BTreeMap<String, Value>,
    /// Whether this device held the team clock's lease at the last round that reached the
    /// database: after a reload while the database is away, it runs the clock again.
    #[serde(default)]
    pub held_clock: bool,
    /// Per incident document: how many of its timeline entries the database holds.
    #[serde(default)]
    pub timelines: BTreeMap<String, usize>,
    /// Timeline entries read from the feed for incidents not yet taken in (kept in memory only;
    /// fetched again when missing).
    #[serde(skip)]
    pub entries: BTreeMap<String, Map<String, Value>>,
}

/// The configuration documents a world makes: id → body.
pub fn config_docs(world: &World) -> BTreeMap<String, Map<String, Value>> {
    let mut out = BTreeMap::new();
    let mut add = |item: ConfigItem| {
        let doc = format!("config:{}:{}", item.store(), item.id());
        if let Value::Object(body) = serde_json::to_value(&item).expect("records serialize") {
            out.insert(doc, body);
        }
    };
    world.people.iter().for_each(|x| add(x.clone().into()));
    world.teams.iter().for_each(|x| add(x.clone().into()));
    world.channels.iter().for_each(|x| add(x.clone().into()));
    world.schedules.iter().for_each(|x| add(x.clone().into()));
    world.policies.iter().for_each(|x| add(x.clone().into()));
    world.rules.iter().for_each(|x| add(x.clone().into()));
    world.maintenance.iter().for_each(|x| add(x.clone().into()));
    if let Some(p) = &world.default_policy {
        let mut body = Map::new();
        body.insert("kind".into(), Value::from("default_policy"));
        body.insert("value".into(), Value::from(p.to_string()));
        out.insert(DEFAULT_POLICY_DOC.into(), body);
    }
    // The order rules run in (it matters: a rule can stop the ones after it).
    if world.rules.len() > 1 {
        let mut body = Map::new();
        body.insert("kind".into(), Value::from("rule_order"));
        body.insert("value".into(), Value::from(world.rules.iter().map(|r| Value::from(r.id.to_string())).collect::<Vec<_>>()));
        out.insert(RULE_ORDER_DOC.into(), body);
    }
    out
}

const DEFAULT_POLICY_DOC: &str = "config:settings:default-policy";
const RULE_ORDER_DOC: &str = "config:settings:rule-order";

pub(crate) fn hash(body: Option<&Map<String, Value>>) -> String {
    let Some(body) = body else { return String::new() };
    let digest = Sha256::digest(Value::Object(body.clone()).to_string().as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Records every local edit since the last round as a revision; returns how many.
pub fn record_local_edits(world: &World, state: &mut SyncState) -> usize {
    let desired = config_docs(world);
    let mut ids: BTreeSet<String> = desired.keys().cloned().collect();
    ids.extend(state.synced.keys().filter(|k| k.starts_with("config:")).cloned());
    let mut edits = 0;
    for id in ids {
        if state.waiting.contains_key(&id) {
            // A change from elsewhere has not applied here yet: it goes first.
            continue;
        }
        let body = desired.get(&id);
        let h = hash(body);
        let base = state.synced.get(&id).cloned();
        if base.as_ref().is_some_and(|(_, bh)| *bh == h) {
            continue;
        }
        if base.is_none() && body.is_none() {
            continue;
        }
        let on = base.map(|(r, _)| r).filter(|r| state.docs.tree(&id).is_some_and(|t| t.is_leaf(r)));
        let rev = match (body, on) {
            (Some(b), on) => state.docs.edit_on(&id, on.as_ref(), Some(b.clone())),
            (None, Some(on)) => state.docs.edit_on(&id, Some(&on), None),
            (None, None) => continue,
        };
        state.mine.insert(rev.clone());
        state.synced.insert(id, (rev, h));
        edits += 1;
    }
    edits
}

/// A change the winners ask of this device's configuration.
#[derive(Clone, Debug, PartialEq)]
pub enum Apply {
    Save(String, Box<ConfigItem>),
    Remove(String, ConfigKind, String),
    DefaultPolicy(String, Option<PolicyId>),
    /// The order rules run in (after every rule is saved).
    RuleOrder(String, Vec<RuleId>),
    /// A winner this version cannot read (a newer version's field, a hand edit): it waits.
    Unreadable(String, String),
}

fn kind_of(store: &str) -> Option<(ConfigKind, usize)> {
    Some(match store {
        "people" => (ConfigKind::Person, 0),
        "teams" => (ConfigKind::Team, 1),
        "channels" => (ConfigKind::Channel, 2),
        "schedules" => (ConfigKind::Schedule, 3),
        "policies" => (ConfigKind::Policy, 4),
        "rules" => (ConfigKind::Rule, 5),
        "maintenance" => (ConfigKind::Maintenance, 6),
        "settings" => (ConfigKind::Policy, 7),
        _ => return None,
    })
}

/// The rule order applies once every rule it names is saved (after the default policy's 7).
const RULE_ORDER_AFTER: usize = 8;

/// What to apply, in an order that lets references resolve: saves from people to rules, then the
/// default policy, then removals from rules back to people.
pub fn changes_to_apply(world: &World, state: &SyncState) -> Vec<Apply> {
    let have = config_docs(world);
    let mut saves = Vec::new();
    let mut removes = Vec::new();
    let ids: Vec<String> = state.docs.ids().filter(|id| id.starts_with("config:")).map(str::to_string).collect();
    for id in ids {
        let Some(winner) = state.docs.winner(&id) else { continue };
        if state.synced.get(&id).is_some_and(|(r, _)| *r == winner) {
            continue;
        }
        let body = state.docs.get(&id).map(|(_, b)| b.clone());
        if hash(body.as_ref()) == hash(have.get(&id)) {
            continue; // already so here
        }
        let mut parts = id.splitn(3, ':');
        let (_, store, record) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let Some((kind, order)) = kind_of(store) else { continue };
        if id == RULE_ORDER_DOC {
            let order = body.as_ref().and_then(|b| b.get("value")).and_then(Value::as_array);
            let order = order.map(|ids| ids.iter().filter_map(Value::as_str).map(RuleId::from).collect()).unwrap_or_default();
            saves.push((RULE_ORDER_AFTER, Apply::RuleOrder(id.clone(), order)));
            continue;
        }
        if id == DEFAULT_POLICY_DOC {
            let policy = body.as_ref().and_then(|b| b.get("value")).and_then(Value::as_str).map(PolicyId::from);
            saves.push((order, Apply::DefaultPolicy(id.clone(), policy)));
            continue;
        }
        match body {
            Some(b) => match crate::json::from_value::<ConfigItem>(Value::Object(b)) {
                // A document must hold the record its id names: else applying it would overwrite
                // another record (a hand edit, or a hostile writer).
                Ok(item) if item.store() != store || item.id() != record => {
                    saves.push((order, Apply::Unreadable(id.clone(), format!("It holds {} {:?}, not the record its id names.", item.store(), item.id()))))
                }
                Ok(item) => saves.push((order, Apply::Save(id.clone(), Box::new(item)))),
                // Unreadable (a newer version's field, a hand edit): left waiting, with why.
                Err(e) => saves.push((order, Apply::Unreadable(id.clone(), format!("This version cannot read it: {e}")))),
            },
            None => removes.push((order, Apply::Remove(id.clone(), kind, record.to_string()))),
        }
    }
    saves.sort_by_key(|(o, _)| *o);
    removes.sort_by_key(|(o, _)| std::cmp::Reverse(*o));
    saves.into_iter().chain(removes).map(|(_, a)| a).collect()
}

/// After applying: every document whose winner was applied (`applied`: the configuration may hold
/// it with defaults filled in) or that the configuration already matches is agreed; the rest whose
/// winner moved wait, with `why`.
pub fn settle(world: &World, state: &mut SyncState, applied: &BTreeSet<String>, why: &BTreeMap<String, String>) {
    let have = config_docs(world);
    let ids: Vec<String> = state.docs.ids().filter(|id| id.starts_with("config:")).map(str::to_string).collect();
    for id in ids {
        let Some(winner) = state.docs.winner(&id) else { continue };
        let body = state.docs.get(&id).map(|(_, b)| b.clone());
        let h = hash(have.get(&id));
        if applied.contains(&id) || hash(body.as_ref()) == h {
            state.synced.insert(id.clone(), (winner, h));
            state.waiting.remove(&id);
        } else if state.synced.get(&id).is_none_or(|(r, _)| *r != winner) {
            let reason = why.get(&id).cloned().unwrap_or_else(|| "not applied yet".into());
            state.waiting.insert(id, reason);
        }
    }
}

/// One configuration conflict, for the screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    pub doc: String,
    pub winner: Rev,
    pub winner_body: Map<String, Value>,
    pub winner_is_mine: bool,
    /// Each losing version, and whether this device wrote it.
    pub losers: Vec<(Rev, Map<String, Value>, bool)>,
}

pub fn conflicts(state: &SyncState) -> Vec<Conflict> {
    state
        .docs
        .conflicted()
        .into_iter()
        .filter_map(|doc| {
            let (winner, body) = state.docs.get(&doc).map(|(r, b)| (r, b.clone()))?;
            let losers = state.docs.conflicts(&doc).into_iter().map(|(r, b)| {
                let mine = state.mine.contains(&r);
                (r, b, mine)
            });
            Some(Conflict { winner_is_mine: state.mine.contains(&winner), doc, winner, winner_body: body, losers: losers.collect() })
        })
        .collect()
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Round {
    pub local_edits: usize,
    pub pushed: usize,
    pub pulled: usize,
    pub applied: usize,
    pub waiting: usize,
    pub conflicts: usize,
    pub refused: Vec<(String, String)>,
    /// Incidents taken in from the team clock's documents.
    pub adopted: usize,
    /// Commands from other devices answered (holding the clock).
    pub answered: usize,
    /// Incident documents written (holding the clock).
    pub published: usize,
}

/// Reads the sync state as stored (the driver keeps its own copy from load: [`Driver::team_state`]).
pub async fn load_state<S: Store>(driver: &Driver<S>) -> SyncState {
    driver.setting(SYNC_STATE).await.and_then(|v| crate::json::from_value(v).ok()).unwrap_or_default()
}

/// One round against `remote`: local edits, push, pull, apply, and the state saved. The driver is
/// passed through ([`execute`] takes it by value).
pub async fn round<S: Store, T: Transport>(
    mut driver: Driver<S>,
    remote: &HttpDb<T>,
    device_id: &str,
    now: DateTime<Utc>,
) -> (Driver<S>, Result<Round, SyncError>) {
    let mut state = driver.team_state().clone();
    // The first round names this device's store for good (its replication ids).
    if state.docs.uuid.is_empty() {
        state.docs.uuid = device_id.to_string();
    }
    let device_id = state.docs.uuid.clone();
    let device_name = driver.team_sync_settings().device.clone();
    let mut out = Round { local_edits: record_local_edits(driver.world(), &mut state), ..Round::default() };
    let local = MemoryDb { docs: std::cell::RefCell::new(std::mem::take(&mut state.docs)) };
    let session = format!("{device_id}-{}", now.timestamp_millis());
    let options = |direction: &str| Options {
        replication_id: format!("piket-{device_id}-{direction}"),
        session_id: session.clone(),
        batch: 200,
        wait_ms: None,
        // Only Piket's configuration: not design documents, nor whatever else the database holds.
        only_prefix: Some(CONFIG_PREFIX),
    };
    let result = async {
        let pushed = replicate(&local, remote, &options("push")).await?;
        let pulled = replicate(remote, &local, &options("pull")).await?;
        // The team clock's lease: taken when free, renewed when due, else who holds it.
        let clock = crate::sync::lease::hold(remote, &device_id, &device_name, now).await?;
        Ok::<_, SyncError>((pushed, pulled, clock))
    }
    .await;
    state.docs = local.docs.into_inner();
    match result {
        Ok((pushed, pulled, clock)) => {
            state.held_clock = clock == crate::sync::lease::Standing::Mine;
            driver.set_team_clock(Some(clock));
            out.pushed = pushed.docs_written;
            out.pulled = pulled.docs_written;
            out.refused = pushed.refused;
        }
        Err(e) => {
            // Local edits are recorded (their revisions go next time); nothing else changed.
            state.last_error = Some(e.to_string());
            driver.team_unreachable();
            let saved = driver.save_team_state(state, now).await;
            return (driver, Err(saved.err().map_or(e, |s| SyncError::Storage(s.to_string()))));
        }
    }
    let mut why = BTreeMap::new();
    let mut applied = BTreeSet::new();
    for change in changes_to_apply(driver.world(), &state) {
        let (doc, command) = match change {
            Apply::Save(doc, item) => (doc, Command::Save { item: *item }),
            Apply::Remove(doc, kind, id) => (doc, Command::Remove { kind, id }),
            Apply::DefaultPolicy(doc, policy) => (doc, Command::SetDefaultPolicy { policy }),
            Apply::RuleOrder(doc, order) => {
                match driver.set_rule_order(order, now).await {
                    Ok(()) => {
                        out.applied += 1;
                        applied.insert(doc);
                    }
                    Err(e) => {
                        why.insert(doc, e.to_string());
                    }
                }
                continue;
            }
            Apply::Unreadable(doc, reason) => {
                why.insert(doc, reason);
                continue;
            }
        };
        let (d, reply) = execute(driver, command, now).await;
        driver = d;
        match reply {
            Ok(_) => {
                out.applied += 1;
                applied.insert(doc);
            }
            Err(refusal) => {
                why.insert(doc, refusal.message);
            }
        }
    }
    settle(driver.world(), &mut state, &applied, &why);
    // The team's incidents: taken in from the clock, or (holding it) commands answered and
    // incidents published.
    let (d, exchanged) = super::team_clock::exchange(driver, remote, &mut state, now).await;
    driver = d;
    match exchanged {
        Ok(x) => {
            out.adopted = x.adopted;
            out.answered = x.answered;
            out.published = x.published;
            out.refused.extend(x.refused);
        }
        Err(e) => {
            state.last_error = Some(e.to_string());
            let saved = driver.save_team_state(state, now).await;
            return (driver, Err(saved.err().map_or(e, |s| SyncError::Storage(s.to_string()))));
        }
    }
    state.last_error = None;
    out.waiting = state.waiting.len();
    out.conflicts = state.docs.conflicted().len();
    if state != *driver.team_state() {
        state.last_sync = Some(now);
    }
    if let Err(e) = driver.save_team_state(state, now).await {
        return (driver, Err(SyncError::Storage(e.to_string())));
    }
    (driver, Ok(out))
}

/// "Keep this version" for a conflict: the chosen revision's body wins everywhere once synced.
pub async fn keep_version<S: Store>(driver: &mut Driver<S>, doc: &str, keep: &Rev, now: DateTime<Utc>) -> Result<(), String> {
    let mut state = driver.team_state().clone();
    let kept = state.docs.resolve(doc, keep).ok_or_else(|| format!("version {keep} of {doc}"))?;
    state.mine.insert(kept);
    driver.save_team_state(state, now).await.map_err(|e| e.to_string())
}

/// Team sync as the Settings screen shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TeamSyncView {
    /// Without the password.
    pub settings: SyncSettings,
    pub last_sync: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// Synced documents this device holds.
    pub documents: usize,
    /// Changes from other devices that do not apply here yet: (what, why).
    pub waiting: Vec<(String, String)>,
    pub conflicts: Vec<ConflictView>,
    /// Who runs the team's clock, as the last round found it (`None`: sync off or not reached).
    pub clock: Option<crate::sync::lease::Standing>,
}

/// A record two devices changed at once.
#[derive(Clone, Debug, PartialEq)]
pub struct ConflictView {
    pub doc: String,
    /// "Person Alice", "Policy quick".
    pub label: String,
    /// The winner (applied everywhere) first, then each losing version.
    pub versions: Vec<VersionView>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VersionView {
    pub rev: Rev,
    /// Written on this device.
    pub mine: bool,
    pub winner: bool,
    /// The record as text (JSON), to compare.
    pub text: String,
}

/// "Person Alice" for `config:people:alice`.
pub fn label(doc: &str, body: Option<&Map<String, Value>>) -> String {
    let mut parts = doc.splitn(3, ':');
    let (_, store, id) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(doc));
    let kind = match store {
        "people" => "Person",
        "teams" => "Team",
        "channels" => "Channel",
        "schedules" => "Schedule",
        "policies" => "Policy",
        "rules" => "Rule",
        "maintenance" => "Maintenance window",
        "settings" if id == "rule-order" => return "Rule order".into(),
        "settings" => return "Default policy".into(),
        _ => "Record",
    };
    let name = body.and_then(|b| b.get("value")).and_then(|v| v.get("name")).and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or(id);
    format!("{kind} {name}")
}

pub fn view(settings: &SyncSettings, state: &SyncState) -> TeamSyncView {
    let text = |b: &Map<String, Value>| serde_json::to_string_pretty(b.get("value").unwrap_or(&Value::Null)).unwrap_or_default();
    TeamSyncView {
        settings: settings.masked(),
        last_sync: state.last_sync,
        error: state.last_error.clone(),
        documents: state.docs.ids().count(),
        waiting: state.waiting.iter().map(|(doc, why)| (label(doc, state.docs.get(doc).map(|(_, b)| b)), why.clone())).collect(),
        conflicts: conflicts(state)
            .into_iter()
            .map(|c| {
                let mut versions = vec![VersionView { rev: c.winner.clone(), mine: c.winner_is_mine, winner: true, text: text(&c.winner_body) }];
                versions.extend(c.losers.iter().map(|(rev, body, mine)| VersionView { rev: rev.clone(), mine: *mine, winner: false, text: text(body) }));
                ConflictView { label: label(&c.doc, Some(&c.winner_body)), doc: c.doc, versions }
            })
            .collect(),
        clock: None,
    }
}

/// What "Test connection" found wrong, in words that say what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionProblem {
    /// No answer at all: down, a wrong address, or (most often) CORS not enabled for this page.
    Unreachable {
        server: String,
        origin: String,
    },
    /// Something answered, but not CouchDB.
    NotCouchDb {
        server: String,
    },
    /// The user name or password was refused.
    Unauthorized,
    /// Signed in, but not a member of this database.
    Forbidden {
        database: String,
    },
    /// The database does not exist (the screen offers to create it).
    MissingDatabase {
        database: String,
    },
    Other(String),
}

impl std::fmt::Display for ConnectionProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionProblem::Unreachable { server, origin } => write!(
                f,
                "No answer from {server}. If it is running, it does not allow this page: enable CORS on it, for this page's origin ({origin}). \
                 On CouchDB 3: [chttpd] enable_cors = true; [cors] origins = {origin}, credentials = true, \
                 methods = GET, PUT, POST, HEAD, DELETE, headers = accept, authorization, content-type, origin, referer."
            ),
            ConnectionProblem::NotCouchDb { server } => {
                write!(f, "{server} answered, but it is not CouchDB (or a server that speaks its replication protocol). Check the address.")
            }
            ConnectionProblem::Unauthorized => write!(f, "The server refused the user name or password (401)."),
            ConnectionProblem::Forbidden { database } => {
                write!(f, "Signed in, but this user may not use the database {database} (403): add the user to the database's _security members.")
            }
            ConnectionProblem::MissingDatabase { database } => write!(f, "There is no database {database} on this server yet."),
            ConnectionProblem::Other(e) => write!(f, "{e}"),
        }
    }
}

/// Signs in for a cookie session (`POST /_session`); the browser keeps the cookie.
pub async fn sign_in<T: Transport>(settings: &SyncSettings, remote: &HttpDb<T>) -> Result<(), SyncError> {
    let body = serde_json::json!({ "name": settings.username, "password": settings.password });
    remote.call(crate::sync::Method::Post, format!("{}/_session", settings.server.trim_end_matches('/')), Some(body), 10_000).await.map(|_| ())
}

/// "Test connection": the server is CouchDB, the sign-in works, the database is there. Returns
/// what the database holds, in words.
pub async fn check<T: Transport>(settings: &SyncSettings, remote: &HttpDb<T>, origin: &str) -> Result<String, ConnectionProblem> {
    let server = settings.server.trim_end_matches('/').to_string();
    let other = |e: SyncError| ConnectionProblem::Other(e.to_string());
    if let Err((_, message)) = validate(&SyncSettings { enabled: true, ..settings.clone() }) {
        return Err(ConnectionProblem::Other(message));
    }
    match remote.call(crate::sync::Method::Get, format!("{server}/"), None, 10_000).await {
        Ok(welcome) => {
            let couch = welcome.get("couchdb").is_some() || welcome.get("express-pouchdb").is_some() || welcome.get("vendor").is_some();
            if !couch {
                return Err(ConnectionProblem::NotCouchDb { server });
            }
        }
        Err(SyncError::Network(_)) => return Err(ConnectionProblem::Unreachable { server, origin: origin.to_string() }),
        Err(SyncError::Http { status: 401, .. }) => return Err(ConnectionProblem::Unauthorized),
        Err(SyncError::Malformed(_)) | Err(SyncError::Http { .. }) => return Err(ConnectionProblem::NotCouchDb { server }),
        Err(e) => return Err(other(e)),
    }
    if settings.auth == SyncAuth::Cookie {
        match sign_in(settings, remote).await {
            Ok(()) => {}
            Err(SyncError::Http { status: 401, .. }) => return Err(ConnectionProblem::Unauthorized),
            Err(e) => return Err(other(e)),
        }
    }
    let database = settings.database.clone();
    match remote.call(crate::sync::Method::Get, remote.url.clone(), None, 10_000).await {
        Ok(info) => {
            let docs = info.get("doc_count").and_then(Value::as_u64).unwrap_or(0);
            Ok(format!("Connected: the database {database} holds {docs} document{}.", if docs == 1 { "" } else { "s" }))
        }
        Err(SyncError::Http { status: 401, .. }) => Err(ConnectionProblem::Unauthorized),
        Err(SyncError::Http { status: 403, .. }) => Err(ConnectionProblem::Forbidden { database }),
        Err(SyncError::Http { status: 404, .. }) => Err(ConnectionProblem::MissingDatabase { database }),
        Err(SyncError::Network(_)) => Err(ConnectionProblem::Unreachable { server, origin: origin.to_string() }),
        Err(e) => Err(other(e)),
    }
}

/// "Create the database" (needs a server admin's sign-in on CouchDB).
pub async fn create_database<T: Transport>(settings: &SyncSettings, remote: &HttpDb<T>) -> Result<String, String> {
    if settings.auth == SyncAuth::Cookie {
        sign_in(settings, remote).await.map_err(|e| e.to_string())?;
    }
    match remote.call(crate::sync::Method::Put, remote.url.clone(), None, 10_000).await {
        Ok(_) | Err(SyncError::Http { status: 412, .. }) => Ok(format!("The database {} is ready.", settings.database)),
        Err(SyncError::Http { status: 401 | 403, .. }) => Err("Only a server admin may create a database: sign in as one, or ask yours to create it.".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_state_reads_back_from_its_stored_text() {
        let mut state = SyncState { docs: LocalDocs::new("d1"), ..SyncState::default() };
        let r = state.docs.put("config:people:a", json!({"kind": "person", "value": {"id": "a"}}).as_object().unwrap().clone());
        state.docs.put("config:people:a", json!({"kind": "person", "value": {"id": "a", "name": "A"}}).as_object().unwrap().clone());
        state.synced.insert("config:people:a".into(), (r.clone(), "h".into()));
        state.mine.insert(r);
        state.waiting.insert("config:policies:x".into(), "why".into());
        let text = serde_json::to_string(&state).unwrap();
        let back: SyncState = crate::json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back, state);
    }
}
