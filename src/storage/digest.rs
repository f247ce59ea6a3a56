//! The stored form of a [`super::DigestChunk`]: a year of history is read back at once (the Lab's
//! Replay, reports), so digests are packed with postcard (a few hundred bytes each, times as Unix
//! milliseconds), a chunk of them kept as one base64 string. The browser then reads a few hundred
//! flat strings, and decoding a digest takes microseconds instead of parsing a kilobyte of JSON.
//!
//! The packed shapes below mirror the engine's types field by field, with nothing skipped or
//! renamed (postcard is not self-describing: every field is always written, in order). The one
//! nested record, the policy frozen onto the incident, is kept as its JSON text in a table at the
//! head of the chunk, once per distinct policy, so a chunk parses each policy it holds once.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::HistoryDigest;
use crate::engine::escalation::{Escalation, Stage, Timers};
use crate::engine::incident::{Acknowledgement, Actor, EntryKind, Incident, IncidentDetails, Priority, Severity, Status, TimelineEntry};
use crate::engine::policy::EscalationPolicy;

/// Raised whenever a packed shape changes; a digest of another version is refused (and the
/// archive record it came from still holds everything).
const PACKED_VERSION: u8 = 1;

#[derive(Serialize, Deserialize)]
struct Packed {
    key: String,
    id: String,
    details: PackedDetails,
    status: Status,
    opened_ms: i64,
    status_since_ms: i64,
    alert_count: u32,
    last_seen_ms: i64,
    acknowledged: Option<(String, i64)>,
    resolved_ms: Option<i64>,
    assignee: Option<String>,
    suppressed: Option<String>,
    escalation: Option<PackedEscalation>,
    applied_rules: Vec<String>,
    timeline: Vec<PackedEntry>,
}

#[derive(Serialize, Deserialize)]
struct PackedDetails {
    title: String,
    summary: String,
    severity: Severity,
    priority: Option<Priority>,
    kind: String,
    service: String,
    source: String,
    environment: String,
    region: String,
    customer_impact: bool,
    sla_tier: String,
    links: Vec<String>,
    labels: BTreeMap<String, String>,
    reporter: String,
    dedup_key: Option<String>,
    policy: Option<String>,
}

/// A resolved incident's escalation is at rest (stage done, no timer pending): its policy and
/// where its cursor stopped are all there is to keep.
#[derive(Serialize, Deserialize)]
struct PackedEscalation {
    /// Index into the chunk's table of frozen policies.
    policy: u32,
    level: u32,
    pass: u32,
    repeats_used: u32,
    level_since_ms: i64,
    reminders_sent: u32,
}

#[derive(Serialize, Deserialize)]
struct PackedEntry {
    at_ms: i64,
    kind: EntryKind,
    /// `None`: automation.
    actor: Option<String>,
    level: Option<u32>,
    pass: Option<u32>,
    target: Option<String>,
    person: Option<String>,
    detail: String,
    severity_from: Option<Severity>,
    severity_to: Option<Severity>,
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| format!("time {ms} ms is out of range"))
}

/// The stored text of a chunk of digests.
pub(super) fn pack(digests: &[HistoryDigest]) -> String {
    let mut policies = Vec::new();
    let packed: Vec<Packed> = digests.iter().map(|d| packed(d, &mut policies)).collect();
    let bytes = postcard::to_allocvec(&(PACKED_VERSION, policies, packed)).expect("digests pack");
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Index of `policy` in a chunk's table of policy texts, adding it when new.
fn policy_index(policy: &EscalationPolicy, table: &mut Vec<String>) -> u32 {
    let text = serde_json::to_string(policy).expect("a policy serializes");
    let at = table.iter().position(|t| *t == text).unwrap_or_else(|| {
        table.push(text);
        table.len() - 1
    });
    at as u32
}

fn packed(d: &HistoryDigest, policies: &mut Vec<String>) -> Packed {
    let i = &d.incident;
    let x = &i.details;
    Packed {
        key: d.key.clone(),
        id: i.id.to_string(),
        details: PackedDetails {
            title: x.title.clone(),
            summary: x.summary.clone(),
            severity: x.severity,
            priority: x.priority,
            kind: x.kind.clone(),
            service: x.service.clone(),
            source: x.source.clone(),
            environment: x.environment.clone(),
            region: x.region.clone(),
            customer_impact: x.customer_impact,
            sla_tier: x.sla_tier.clone(),
            links: x.links.clone(),
            labels: x.labels.clone(),
            reporter: x.reporter.clone(),
            dedup_key: x.dedup_key.clone(),
            policy: x.policy.as_ref().map(|p| p.to_string()),
        },
        status: i.status,
        opened_ms: ms(i.opened_at),
        status_since_ms: ms(i.status_since),
        alert_count: i.alert_count,
        last_seen_ms: ms(i.last_seen),
        acknowledged: i.acknowledged.as_ref().map(|a| (a.by.to_string(), ms(a.at))),
        resolved_ms: i.resolved_at.map(ms),
        assignee: i.assignee.as_ref().map(|a| a.to_string()),
        suppressed: i.suppressed.clone(),
        escalation: i.escalation.as_ref().map(|e| PackedEscalation {
            policy: policy_index(&e.policy, policies),
            level: e.level as u32,
            pass: e.pass,
            repeats_used: e.repeats_used,
            level_since_ms: ms(e.level_since),
            reminders_sent: e.reminders_sent,
        }),
        applied_rules: i.applied_rules.iter().map(|r| r.to_string()).collect(),
        timeline: i
            .timeline
            .iter()
            .map(|e| PackedEntry {
                at_ms: ms(e.at),
                kind: e.kind,
                actor: match &e.actor {
                    Actor::Automation => None,
                    Actor::Person(p) => Some(p.to_string()),
                },
                level: e.level,
                pass: e.pass,
                target: e.target.clone(),
                person: e.person.as_ref().map(|p| p.to_string()),
                detail: e.detail.clone(),
                severity_from: e.severity_from,
                severity_to: e.severity_to,
            })
            .collect(),
    }
}

/// A chunk of digests back from its stored text.
pub(super) fn unpack(text: &str) -> Result<Vec<HistoryDigest>, String> {
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD.decode(text).map_err(|e| format!("history digests are not base64: {e}"))?;
    let version = bytes.first().copied().unwrap_or(0);
    if version != PACKED_VERSION {
        return Err(format!("history digests of version {version} (this Piket reads {PACKED_VERSION})"));
    }
    let (_, texts, packed): (u8, Vec<String>, Vec<Packed>) = postcard::from_bytes(&bytes).map_err(|e| format!("history digests could not be unpacked: {e}"))?;
    let policies = texts
        .iter()
        .map(|text| crate::json::stored_from_str::<EscalationPolicy>(text).map(Arc::new).map_err(|e| format!("a history digest's policy: {e}")))
        .collect::<Result<Vec<_>, String>>()?;
    packed.into_iter().map(|p| unpacked(p, &policies)).collect()
}

fn unpacked(p: Packed, policies: &[Arc<EscalationPolicy>]) -> Result<HistoryDigest, String> {
    let escalation = match p.escalation {
        None => None,
        Some(e) => {
            let policy = policies.get(e.policy as usize).cloned().ok_or_else(|| format!("a history digest names policy {} of {}", e.policy, policies.len()))?;
            Some(Escalation {
                policy,
                level: e.level as usize,
                pass: e.pass,
                repeats_used: e.repeats_used,
                level_since: time(e.level_since_ms)?,
                stage: Stage::Done,
                timers: Timers::default(),
                reminders_sent: e.reminders_sent,
            })
        }
    };
    let d = p.details;
    let incident = Incident {
        id: p.id.into(),
        details: IncidentDetails {
            title: d.title,
            summary: d.summary,
            severity: d.severity,
            priority: d.priority,
            kind: d.kind,
            service: d.service,
            source: d.source,
            environment: d.environment,
            region: d.region,
            customer_impact: d.customer_impact,
            sla_tier: d.sla_tier,
            links: d.links,
            labels: d.labels,
            reporter: d.reporter,
            dedup_key: d.dedup_key,
            policy: d.policy.map(Into::into),
        },
        status: p.status,
        opened_at: time(p.opened_ms)?,
        status_since: time(p.status_since_ms)?,
        alert_count: p.alert_count,
        last_seen: time(p.last_seen_ms)?,
        acknowledged: match p.acknowledged {
            Some((by, at)) => Some(Acknowledgement { by: by.into(), at: time(at)? }),
            None => None,
        },
        resolved_at: p.resolved_ms.map(time).transpose()?,
        assignee: p.assignee.map(Into::into),
        suppressed: p.suppressed,
        escalation,
        applied_rules: p.applied_rules.into_iter().map(Into::into).collect(),
        timeline: p
            .timeline
            .into_iter()
            .map(|e| {
                Ok(TimelineEntry {
                    at: time(e.at_ms)?,
                    kind: e.kind,
                    actor: e.actor.map_or(Actor::Automation, |p| Actor::Person(p.into())),
                    level: e.level,
                    pass: e.pass,
                    target: e.target,
                    person: e.person.map(Into::into),
                    key: None,
                    detail: e.detail,
                    severity_from: e.severity_from,
                    severity_to: e.severity_to,
                })
            })
            .collect::<Result<_, String>>()?,
    };
    Ok(HistoryDigest { key: p.key, incident })
}
