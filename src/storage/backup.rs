//! Backups: everything Piket keeps, as one JSON file, and back.
//!
//! ```json
//! { "piket_backup": 1, "schema": 2, "exported_at": "2026-11-26T02:00:00Z", "secrets_included": false,
//!   "stores": { "people": [ { "id": "…", "rev": 3, "updated_at": "…", "value": { … } } ], … } }
//! ```
//!
//! Reading a file never touches the database: [`parse_backup`] checks the whole file first
//! (size, JSON, version, every record's shape, references, incidents that hold together, every
//! stored audit link) and only then hands back a [`Batch`] that replaces the stores in one
//! transaction. A bad file changes nothing. Entries of a file from before the audit chain was
//! stored (no links at all) are linked in that batch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    archive_key, chain, ArchivedIncident, Batch, DigestChunk, Envelope, HistoryDigest, Link, Op, OutboxRow, Record, Setting, StoredIncident, TimelineRow,
    DERIVED, DIGESTS_COMPLETE, JOURNAL, SCHEMA_VERSION, STORES,
};
use crate::audit;
use crate::engine::escalation::check_incident;
use crate::engine::format::{parse_policies, validate};
use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::{MaintenanceWindow, Rule};
use crate::engine::schedule::OnCallSchedule;
use crate::engine::world::{Channel, Team, World};
use crate::insight::retro::Retrospective;

/// The backup format's version (the `piket_backup` field).
pub const BACKUP_VERSION: u32 = 1;
/// Larger files are refused before parsing.
pub const MAX_BACKUP_BYTES: usize = 20 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupFile {
    piket_backup: u32,
    #[serde(default)]
    schema: u32,
    exported_at: DateTime<Utc>,
    #[serde(default)]
    secrets_included: bool,
    stores: BTreeMap<String, Vec<Envelope<serde_json::Value>>>,
}

/// Why a file was refused. The database was not changed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ImportError {
    #[error("The file is {0:.1} MB; a Piket backup is at most 20 MB.")]
    TooLarge(f64),
    #[error("This is not a Piket backup: {0}")]
    NotABackup(String),
    #[error("This backup was written by a newer Piket (format {0}); this one reads format {BACKUP_VERSION}.")]
    UnsupportedVersion(u32),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// An entry's stored audit link does not hold: the file was edited after it was written.
    #[error("Incident “{incident}”, entry {index}: {why}")]
    BrokenChain { incident: crate::engine::IncidentId, index: usize, why: String },
}

/// What a restore will write, for the confirmation message.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    pub batch: Batch,
    /// Records per store.
    pub counts: BTreeMap<String, usize>,
    pub secrets_included: bool,
}

/// Secrets are webhook URLs (a person's personal webhook, a channel's address) and the reply
/// channel's signing key.
fn strip_secrets(store: &str, value: &mut serde_json::Value) {
    if store == "archive" {
        if let Some(rows) = value.get_mut("outbox").and_then(|r| r.as_array_mut()) {
            rows.iter_mut().for_each(|row| strip_secrets("outbox", row));
        }
        return;
    }
    if store == "outbox" {
        // A queued page carries the person's contact, and a webhook route its URL.
        if let Some(url) = value.pointer_mut("/delivery/contact/webhook_url") {
            *url = serde_json::Value::String(String::new());
        }
        if let Some(routes) = value.get_mut("routes").and_then(|r| r.as_array_mut()) {
            for route in routes {
                if let Some(url) = route.pointer_mut("/route/url") {
                    *url = serde_json::Value::String(String::new());
                }
            }
        }
        return;
    }
    let field = match store {
        "people" => value.get_mut("contact").and_then(|c| c.get_mut("webhook_url")),
        // The reply channel's team key signs phones' acknowledgements.
        "settings" if value.get("key").and_then(|k| k.as_str()) == Some("reply") => value.pointer_mut("/value/key"),
        // Team sync's database password.
        "settings" if value.get("key").and_then(|k| k.as_str()) == Some(super::TEAM_SYNC_SETTINGS) => value.pointer_mut("/value/password"),
        "channels" => value.get_mut("address"),
        _ => None,
    };
    if let Some(v) = field {
        if v.as_str().is_some_and(|s| !s.is_empty()) {
            *v = serde_json::Value::String(String::new());
        }
    }
}

/// Writes a backup of `stores` (as listed from a [`super::Store`]).
pub fn export(stores: Vec<(&'static str, Vec<Envelope<serde_json::Value>>)>, now: DateTime<Utc>, include_secrets: bool) -> String {
    let stores = stores
        .into_iter()
        .map(|(name, mut rows)| {
            // The clock's leadership epoch belongs to this browser, not to the data.
            // Nor does team sync's copy of the shared documents: a restore syncs afresh.
            rows.retain(|row| !(name == "settings" && (row.id == super::CLOCK_EPOCH || row.id == super::TEAM_SYNC_STATE)));
            if !include_secrets {
                for row in &mut rows {
                    strip_secrets(name, &mut row.value);
                }
            }
            (name.to_string(), rows)
        })
        .collect();
    let file = BackupFile { piket_backup: BACKUP_VERSION, schema: SCHEMA_VERSION, exported_at: now, secrets_included: include_secrets, stores };
    serde_json::to_string_pretty(&file).expect("a backup serializes")
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, (String, String)> {
    crate::json::from_str(text).map_err(|e| (if e.path.is_empty() { ".".to_string() } else { e.path }, e.message))
}

fn typed<T: Record>(store: &str, rows: &[Envelope<serde_json::Value>]) -> Result<Vec<T>, ImportError> {
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let value: T = crate::json::from_value(row.value.clone())
                .map_err(|e| ImportError::Invalid { path: format!("stores.{store}[{i}].value{}", dotted(&e.path)), message: e.message })?;
            if value.id() != row.id {
                return Err(ImportError::Invalid {
                    path: format!("stores.{store}[{i}].id"),
                    message: format!("“{}” does not match the record's own id “{}”", row.id, value.id()),
                });
            }
            Ok(value)
        })
        .collect()
}

fn first_error(errors: crate::engine::format::FormatErrors) -> ImportError {
    match errors.0.into_iter().next() {
        Some(first) => ImportError::Invalid { path: first.path, message: first.message },
        None => ImportError::Invalid { path: String::new(), message: "invalid".into() },
    }
}

fn dotted(path: &str) -> String {
    if path == "." || path.is_empty() {
        String::new()
    } else if path.starts_with('[') {
        path.to_string()
    } else {
        format!(".{path}")
    }
}

/// Checks a whole backup file and, when every part of it is sound, returns the batch that replaces
/// every store with its contents.
pub fn parse_backup(text: &str) -> Result<Restore, ImportError> {
    if text.len() > MAX_BACKUP_BYTES {
        return Err(ImportError::TooLarge(text.len() as f64 / (1024.0 * 1024.0)));
    }
    let probe: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ImportError::NotABackup(if e.is_eof() { format!("the file ends too early (truncated?) at line {}", e.line()) } else { e.to_string() }))?;
    match probe.get("piket_backup") {
        None => return Err(ImportError::NotABackup("it has no “piket_backup” field".into())),
        Some(v) => match v.as_u64() {
            Some(n) if n == BACKUP_VERSION as u64 => {}
            Some(n) => return Err(ImportError::UnsupportedVersion(n as u32)),
            None => return Err(ImportError::Invalid { path: "piket_backup".into(), message: format!("expected a version number, found {v}") }),
        },
    }
    // Markup in a string is data (a title pasted from an alert): Piket shows text as text, so it is
    // accepted, not refused.
    let file: BackupFile = parse_json(text).map_err(|(path, message)| ImportError::Invalid { path, message })?;
    for name in file.stores.keys() {
        if !STORES.contains(&name.as_str()) {
            return Err(ImportError::Invalid { path: format!("stores.{name}"), message: format!("unknown store; expected one of {}", STORES.join(", ")) });
        }
    }
    let empty = Vec::new();
    let rows = |name: &str| file.stores.get(name).unwrap_or(&empty);

    let world = world_in(&rows)?;
    validate(&world).map_err(first_error)?;
    let incidents = typed::<StoredIncident>("incidents", rows("incidents"))?;
    // The engine runs only incidents that hold together: refuse, naming the field, rather than
    // restore one that would stall the clock.
    for (i, stored) in incidents.iter().enumerate() {
        check_incident(&stored.incident)
            .map_err(|e| ImportError::Invalid { path: format!("stores.incidents[{i}].value.incident.{}", e.field), message: e.problem })?;
    }
    let known = |id: &str| incidents.iter().any(|s| s.incident.id == id);
    let timeline = typed::<TimelineRow>("timeline", rows("timeline"))?;
    for (i, row) in timeline.iter().enumerate() {
        if !known(&row.incident) {
            return Err(ImportError::Invalid {
                path: format!("stores.timeline[{i}].value.incident"),
                message: format!("no incident “{}” in this file", row.incident),
            });
        }
    }
    // Every stored audit link must hold; rows from before the chain was stored (none linked)
    // are linked here, so the restored database is chained throughout.
    let mut links: BTreeMap<String, Link> = BTreeMap::new();
    for (incident, rows) in chain::by_incident(timeline) {
        let entries: Vec<_> = rows.iter().map(|r| r.entry.clone()).collect();
        let stored: Vec<Option<Link>> = rows.iter().map(|r| r.link.clone()).collect();
        audit::check(&incident, &entries, &stored).map_err(|b| ImportError::BrokenChain { incident: incident.clone(), index: b.index, why: b.why })?;
        for (row, link) in rows.iter().zip(chain::resolve_rows(&incident, &rows)) {
            if row.link.is_none() {
                links.insert(row.id(), link);
            }
        }
    }
    for (i, row) in typed::<OutboxRow>("outbox", rows("outbox"))?.iter().enumerate() {
        if !known(&row.incident) {
            return Err(ImportError::Invalid {
                path: format!("stores.outbox[{i}].value.incident"),
                message: format!("no incident “{}” in this file", row.incident),
            });
        }
    }
    typed::<Setting>("settings", rows("settings"))?;
    let archive = typed::<ArchivedIncident>("archive", rows("archive"))?;
    for (i, archived) in archive.iter().enumerate() {
        let at = |field: &str| format!("stores.archive[{i}].value.{field}");
        let incident = &archived.incident;
        check_incident(incident).map_err(|e| ImportError::Invalid { path: at(&format!("incident.{}", e.field)), message: e.problem })?;
        let Some(resolved_at) = incident.resolved_at.filter(|_| !incident.is_open()) else {
            return Err(ImportError::Invalid { path: at("incident.status"), message: "only resolved incidents are archived".into() });
        };
        if archived.incident_id != incident.id || archived.key != archive_key(resolved_at, &incident.id) || known(&incident.id) {
            return Err(ImportError::Invalid {
                path: at("key"),
                message: format!("“{}” is not the archive key of incident “{}”, or the incident is also in the hot stores", archived.key, incident.id),
            });
        }
        if let Some(row) = archived.outbox.iter().find(|r| r.incident != incident.id) {
            return Err(ImportError::Invalid { path: at("outbox"), message: format!("a delivery of another incident (“{}”)", row.incident) });
        }
        audit::check(&incident.id, &incident.timeline, &Link::of_chain(&archived.chain)).map_err(|b| ImportError::BrokenChain {
            incident: incident.id.clone(),
            index: b.index,
            why: b.why,
        })?;
    }
    // A retrospective belongs to a resolved incident of the same file, and holds as the
    // Retrospectives screen would save it.
    for (i, retro) in typed::<Retrospective>("retrospectives", rows("retrospectives"))?.iter().enumerate() {
        let incident = incidents.iter().map(|s| &s.incident).chain(archive.iter().map(|a| &a.incident)).find(|x| x.id == retro.incident);
        if let Err(problems) = retro.validate(&world, incident) {
            let first = &problems[0];
            return Err(ImportError::Invalid { path: format!("stores.retrospectives[{i}].value.{}", first.path), message: first.message.clone() });
        }
        if rows("retrospectives")[i].id != retro.incident.as_str() {
            return Err(ImportError::Invalid {
                path: format!("stores.retrospectives[{i}].id"),
                message: format!("a retrospective is kept under its incident's id (“{}”)", retro.incident),
            });
        }
    }

    // Archived incidents from before the chain was stored get theirs.
    let new_chains: BTreeMap<&str, Vec<String>> =
        archive.iter().filter(|a| a.chain.is_empty() && !a.incident.timeline.is_empty()).map(|a| (a.key.as_str(), audit::chain(&a.incident))).collect();
    let mut batch = Batch { ops: Vec::new(), strict: true, fence: None };
    let mut counts = BTreeMap::new();
    for name in STORES {
        batch.ops.push(Op::Clear { store: name });
        let rows = rows(name);
        counts.insert(name.to_string(), rows.len());
        for row in rows {
            if name == "settings" && (row.id == super::CLOCK_EPOCH || row.id == super::TEAM_SYNC_STATE) {
                continue; // never taken from a file: the restoring tab keeps its own
            }
            if name == "settings" && (row.id == DIGESTS_COMPLETE || row.id == chain::AUDIT_CHAIN_PENDING) {
                continue; // said below, once the digests are rebuilt; everything is linked here
            }
            let mut value = row.value.clone();
            if name == "timeline" {
                if let (Some(link), Some(fields)) = (links.get(&row.id), value.as_object_mut()) {
                    fields.insert("link".into(), serde_json::to_value(link).expect("a link serializes"));
                }
            }
            if name == "archive" {
                if let (Some(chain), Some(fields)) = (new_chains.get(row.id.as_str()), value.as_object_mut()) {
                    fields.insert("chain".into(), serde_json::json!(chain));
                }
            }
            batch.ops.push(Op::Put { store: name, id: row.id.clone(), value });
        }
    }
    // Derived stores are never in a file: empty them and rebuild from what the file holds.
    for name in DERIVED {
        batch.ops.push(Op::Clear { store: name });
    }
    for chunk in DigestChunk::chunks(archive.iter().map(|a| HistoryDigest::of(&a.key, &a.incident)).collect()) {
        batch.put(&chunk);
    }
    batch.put(&Setting { key: DIGESTS_COMPLETE.into(), value: serde_json::json!(true) });
    debug_assert!(!STORES.contains(&JOURNAL));
    Ok(Restore { batch, counts, secrets_included: file.secrets_included })
}

/// Policies alone (`examples/policies.json`, or a backup's policies), checked against the people,
/// schedules, teams and channels already configured; returns the batch that adds or replaces them.
pub fn parse_policy_import(text: &str, current: &World) -> Result<(Batch, usize), ImportError> {
    if text.len() > MAX_BACKUP_BYTES {
        return Err(ImportError::TooLarge(text.len() as f64 / (1024.0 * 1024.0)));
    }
    let policies = parse_policies(text).map_err(first_error)?;
    let mut world = current.clone();
    for p in &policies {
        world.policies.retain(|q| q.id != p.id);
        world.policies.push(p.clone());
    }
    validate(&world).map_err(first_error)?;
    let mut batch = Batch { ops: Vec::new(), strict: false, fence: None };
    for p in &policies {
        batch.put(p);
    }
    Ok((batch, policies.len()))
}

/// What a report reads from a backup: the world configured in it, and every incident, hot or
/// archived, with its whole timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub world: World,
    pub incidents: Vec<crate::engine::incident::Incident>,
    /// The audit links stored with each incident's entries (same order as its timeline; `None`
    /// where a file from before the chain was stored has none).
    pub links: BTreeMap<crate::engine::IncidentId, Vec<Option<Link>>>,
    /// When the backup was taken.
    pub exported_at: DateTime<Utc>,
}

/// The configuration records of a backup's stores, typed (each failure names its row).
fn world_in<'a>(rows: &impl Fn(&str) -> &'a Vec<Envelope<serde_json::Value>>) -> Result<World, ImportError> {
    Ok(World {
        people: typed::<Person>("people", rows("people"))?,
        teams: typed::<Team>("teams", rows("teams"))?,
        channels: typed::<Channel>("channels", rows("channels"))?,
        schedules: typed::<OnCallSchedule>("schedules", rows("schedules"))?,
        policies: typed::<EscalationPolicy>("policies", rows("policies"))?,
        rules: typed::<Rule>("rules", rows("rules"))?,
        maintenance: typed::<MaintenanceWindow>("maintenance", rows("maintenance"))?,
        default_policy: None,
    })
}

/// A backup's world and incidents, after exactly the checks a restore runs ([`parse_backup`]):
/// hot incidents get their timeline rows back (in `seq` order), archived ones carry theirs.
pub fn read_history(text: &str) -> Result<History, ImportError> {
    parse_backup(text)?;
    let file: BackupFile = parse_json(text).map_err(|(path, message)| ImportError::Invalid { path, message })?;
    let empty = Vec::new();
    let rows = |name: &str| file.stores.get(name).unwrap_or(&empty);
    let world = world_in(&rows)?;
    let mut incidents: BTreeMap<crate::engine::IncidentId, crate::engine::incident::Incident> =
        typed::<StoredIncident>("incidents", rows("incidents"))?.into_iter().map(|s| (s.incident.id.clone(), s.incident)).collect();
    let mut timeline = typed::<TimelineRow>("timeline", rows("timeline"))?;
    timeline.sort_by(|a, b| (&a.incident, a.seq).cmp(&(&b.incident, b.seq)));
    let mut links: BTreeMap<crate::engine::IncidentId, Vec<Option<Link>>> = BTreeMap::new();
    for row in timeline {
        if let Some(i) = incidents.get_mut(&row.incident) {
            i.timeline.push(row.entry);
            links.entry(row.incident).or_default().push(row.link);
        }
    }
    let mut all: Vec<crate::engine::incident::Incident> = incidents.into_values().collect();
    for a in typed::<ArchivedIncident>("archive", rows("archive"))? {
        links.insert(a.incident.id.clone(), Link::of_chain(&a.chain));
        all.push(a.incident);
    }
    Ok(History { world, incidents: all, links, exported_at: file.exported_at })
}
