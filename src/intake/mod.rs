//! Intake: turning what monitors and links tell us into engine inputs.
//!
//! Owns: reading a pasted or received alert payload — PagerDuty Events API v2 ([`pagerduty`]) or
//! Prometheus Alertmanager webhook v4 ([`alertmanager`]) — into [`Input`]s for the engine
//! ([`parse_payload`], format detected automatically), and reading an intake link
//! (`#/new?title=…&severity=SEV2…`) into pre-filled [`IncidentDetails`] ([`parse_intake_query`]).
//! Errors name the JSON path or query key that is wrong ([`IntakeError`]).
//!
//! Never: touches the browser, the clock, storage or the network; decides escalation (the engine
//! folds alerts by dedup key and refuses a resolve nothing matches); makes ids (the caller hands a
//! generator in, so the same payload and ids always give the same inputs).
//!
//! Choices where the formats leave room:
//! - A PagerDuty `acknowledge` is refused with [`IntakeError::AcknowledgeByKeyUnsupported`]: the
//!   engine acknowledges only an incident by id, on behalf of a person, so a monitor cannot take a
//!   page for someone. The error names the dedup key so a screen can offer to open that incident.
//! - A PagerDuty `trigger` without `dedup_key` gets the new incident's id as its key (PagerDuty
//!   makes one and returns it); a later `resolve` can name it.
//! - Timestamps are read leniently (RFC 3339, then `%Y-%m-%dT%H:%M:%S%.f%z`, which takes
//!   PagerDuty's `+0000`); one that still does not parse, and Go's zero time, count as absent.
//! - Evidence links keep only `http:`/`https:` URLs, so no `javascript:` link reaches a screen.
//! - An Alertmanager notification is one incident by default (one group, one page; its dedup key
//!   comes from the `groupKey`, and a `resolved` notification resolves it); one incident per alert
//!   is an option ([`AlertmanagerGrouping`], [`parse_payload_with`]). PagerDuty events ignore it.

pub mod alertmanager;
pub mod pagerduty;
pub mod query;
mod time;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::engine::{IncidentDetails, IncidentId, Input, Severity};

pub use alertmanager::AlertmanagerGrouping;
pub use query::{parse_intake_query, parse_intake_query_keeping};
pub use time::parse_timestamp;

/// The largest payload read: 1 MiB. Alertmanager truncates long alert groups itself
/// (`truncatedAlerts`), so a real webhook stays far below this.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// Makes the id for each incident a payload may open (the runtime passes a UUID maker).
pub type NewId<'a> = &'a mut dyn FnMut() -> IncidentId;

/// Why a payload or intake link could not be read. Nothing of it was taken in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    #[error("The payload is {bytes} bytes; Piket reads at most {limit} bytes.")]
    TooLarge { bytes: usize, limit: usize },
    #[error("The payload is empty.")]
    Empty,
    #[error("Not valid JSON: {0}")]
    NotJson(String),
    /// A field has the wrong type, a missing field, or a value the format does not allow.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "Not a payload Piket knows: expected a PagerDuty Events v2 event (with \"event_action\") \
         or an Alertmanager webhook (with \"alerts\")."
    )]
    UnknownFormat,
    #[error("This is a PagerDuty Events API response, not an event: paste the event that was sent.")]
    PagerDutyResponse,
    #[error("version: Alertmanager webhook version {0} is not supported; Piket reads version \"4\".")]
    UnsupportedVersion(String),
    #[error("alerts: the webhook carries no alert to open or resolve.")]
    NoAlerts,
    #[error(
        "PagerDuty acknowledge for dedup key “{dedup_key}”: Piket takes acknowledgements only from \
         a person, on the incident itself; open the incident and acknowledge it there."
    )]
    AcknowledgeByKeyUnsupported { dedup_key: String },
    #[error("The link is {bytes} bytes; Piket reads at most {limit} bytes.")]
    QueryTooLong { bytes: usize, limit: usize },
    #[error("Unknown field(s) in the link: {}.", .0.join(", "))]
    UnknownQueryKeys(Vec<String>),
    #[error("{0}: given more than once in the link.")]
    DuplicateQueryKey(String),
    #[error("{key}: {message}")]
    InvalidQueryValue { key: String, message: String },
}

/// Which format a payload was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    PagerDutyV2,
    AlertmanagerV4,
}

/// One input read from a payload, with the time the monitor says it happened (when it says so and
/// the time parses). The runtime hands the engine its own `now`; `at` is for the record.
#[derive(Clone, Debug, PartialEq)]
pub struct IntakeEvent {
    pub input: Input,
    pub at: Option<DateTime<Utc>>,
}

/// Everything read from one payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Intake {
    pub format: PayloadFormat,
    /// In payload order (Alertmanager: one for the whole notification, or one per alert with
    /// [`AlertmanagerGrouping::PerAlert`]).
    pub events: Vec<IntakeEvent>,
    /// Alerts Alertmanager left out of the payload (its `truncatedAlerts`); worth showing.
    pub truncated_alerts: u64,
}

/// Read a PagerDuty Events v2 or Alertmanager v4 payload into engine inputs, in payload order; an
/// Alertmanager notification is one incident ([`AlertmanagerGrouping::PerGroup`]).
/// `new_id` is called once per [`Input::Open`].
pub fn parse_payload(json: &str, new_id: NewId<'_>) -> Result<Vec<Input>, IntakeError> {
    parse_payload_with(json, AlertmanagerGrouping::default(), new_id)
}

/// Like [`parse_payload`], with Alertmanager notifications read as `grouping` says.
pub fn parse_payload_with(json: &str, grouping: AlertmanagerGrouping, new_id: NewId<'_>) -> Result<Vec<Input>, IntakeError> {
    Ok(parse_payload_detailed_with(json, grouping, new_id)?.events.into_iter().map(|e| e.input).collect())
}

/// Like [`parse_payload`], keeping the format, each event's time and Alertmanager's truncation count.
pub fn parse_payload_detailed(json: &str, new_id: NewId<'_>) -> Result<Intake, IntakeError> {
    parse_payload_detailed_with(json, AlertmanagerGrouping::default(), new_id)
}

/// Like [`parse_payload_detailed`], with Alertmanager notifications read as `grouping` says.
pub fn parse_payload_detailed_with(json: &str, grouping: AlertmanagerGrouping, new_id: NewId<'_>) -> Result<Intake, IntakeError> {
    if json.len() > MAX_PAYLOAD_BYTES {
        return Err(IntakeError::TooLarge { bytes: json.len(), limit: MAX_PAYLOAD_BYTES });
    }
    if json.trim().is_empty() {
        return Err(IntakeError::Empty);
    }
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| IntakeError::NotJson(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(IntakeError::Invalid { path: ".".into(), message: format!("expected an object, found {}", kind_of(&value)) });
    };
    if object.contains_key("event_action") {
        pagerduty::read(value, new_id)
    } else if object.contains_key("alerts") {
        alertmanager::read(value, grouping, new_id)
    } else if object.contains_key("status") && object.contains_key("message") && !object.contains_key("version") {
        Err(IntakeError::PagerDutyResponse)
    } else {
        Err(IntakeError::UnknownFormat)
    }
}

/// Deserialize with errors that name the JSON path (`alerts[0].labels: expected an object, …`).
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, IntakeError> {
    crate::json::from_value(value)
        .map_err(|e| IntakeError::Invalid { path: if e.path.is_empty() { ".".to_string() } else { e.path }, message: plain_words(&e.message) })
}

/// Like [`from_value`] for a value found at `prefix` (`payload`), so paths stay whole.
pub(crate) fn from_value_at<T: DeserializeOwned>(prefix: &str, value: serde_json::Value) -> Result<T, IntakeError> {
    from_value(value).map_err(|e| match e {
        IntakeError::Invalid { path, message } if path == "." => IntakeError::Invalid { path: prefix.to_string(), message },
        IntakeError::Invalid { path, message } => IntakeError::Invalid { path: format!("{prefix}.{path}"), message },
        other => other,
    })
}

/// serde says "map" and "sequence"; people pasting JSON say "object" and "array".
fn plain_words(message: &str) -> String {
    message
        .replace("expected string or map", "expected a string")
        .replace("a map", "an object")
        .replace("a sequence", "an array")
        .replace("map,", "object,")
        .replace("sequence,", "array,")
}

fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A severity word from the field (PagerDuty, Alertmanager labels, links), case-insensitive:
/// critical/page/fatal/emergency/sev1/p1 → SEV1; error/high/major/sev2/p2 → SEV2;
/// warning/warn/medium/minor/sev3/p3 → SEV3; info/informational/none/low/sev4/p4 → SEV4.
pub fn severity_from_word(word: &str) -> Option<Severity> {
    let w = word.trim().to_ascii_lowercase();
    Some(match w.as_str() {
        "critical" | "page" | "fatal" | "emergency" | "sev1" | "p1" | "1" => Severity::Sev1,
        "error" | "high" | "major" | "sev2" | "p2" | "2" => Severity::Sev2,
        "warning" | "warn" | "medium" | "minor" | "sev3" | "p3" | "3" => Severity::Sev3,
        "info" | "informational" | "none" | "low" | "sev4" | "p4" | "4" => Severity::Sev4,
        _ => return None,
    })
}

/// Whether a link is safe to show as evidence: an absolute `http:` or `https:` URL.
pub fn is_evidence_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")) && lower.len() > "https://".len() && !url.chars().any(char::is_whitespace)
}

/// Add a link to the evidence if it is an http(s) URL not already there.
pub(crate) fn add_evidence(details: &mut IncidentDetails, url: Option<&str>) {
    add_evidence_all(details, url);
}

/// Add every http(s) URL of `urls` not already there, in order. One set lookup per URL: a
/// payload near the size limit carries tens of thousands of links, and comparing each with every
/// one before it took half a second natively for 20 000 of them.
pub(crate) fn add_evidence_all<'a>(details: &mut IncidentDetails, urls: impl IntoIterator<Item = &'a str>) {
    let mut seen: std::collections::HashSet<String> = details.links.iter().cloned().collect();
    for url in urls.into_iter().map(str::trim) {
        if is_evidence_url(url) && !seen.contains(url) {
            seen.insert(url.to_string());
            details.links.push(url.to_string());
        }
    }
}

/// `Some(s)` unless `s` is empty or blank.
pub(crate) fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn counter() -> impl FnMut() -> IncidentId {
        let mut n = 0;
        move || {
            n += 1;
            format!("inc-{n}").into()
        }
    }

    #[test]
    fn refuses_payloads_over_the_limit() {
        let big = format!("{{\"alerts\": [], \"pad\": \"{}\"}}", "x".repeat(MAX_PAYLOAD_BYTES));
        let err = parse_payload(&big, &mut counter()).unwrap_err();
        assert!(matches!(err, IntakeError::TooLarge { limit: MAX_PAYLOAD_BYTES, .. }), "{err}");
        assert!(err.to_string().contains("at most 1048576 bytes"));
    }

    #[test]
    fn refuses_empty_and_non_json_and_non_objects() {
        assert_eq!(parse_payload("  \n", &mut counter()), Err(IntakeError::Empty));
        let err = parse_payload("{\"alerts\": [", &mut counter()).unwrap_err();
        assert!(matches!(err, IntakeError::NotJson(_)), "{err}");
        assert!(err.to_string().contains("EOF"), "{err}");
        let err = parse_payload("[1, 2]", &mut counter()).unwrap_err();
        assert_eq!(err.to_string(), ".: expected an object, found an array");
    }

    #[test]
    fn says_what_it_expected_when_the_format_is_unknown() {
        let err = parse_payload(r#"{"hello": "world"}"#, &mut counter()).unwrap_err();
        assert_eq!(err, IntakeError::UnknownFormat);
        assert!(err.to_string().contains("event_action") && err.to_string().contains("alerts"));
    }

    #[test]
    fn recognises_a_pagerduty_response_pasted_by_mistake() {
        let json = include_str!("../../tests/fixtures/payloads/pagerduty-response-202.json");
        assert_eq!(parse_payload(json, &mut counter()), Err(IntakeError::PagerDutyResponse));
    }

    #[test]
    fn severity_words_from_the_field() {
        for (w, s) in [("critical", 1), ("PAGE", 1), ("error", 2), ("High", 2), ("warning", 3), ("info", 4), ("none", 4), ("sev2", 2)] {
            assert_eq!(severity_from_word(w), Some(Severity::ALL[s - 1]), "{w}");
        }
        assert_eq!(severity_from_word("bogus"), None);
    }

    #[test]
    fn evidence_keeps_only_http_urls() {
        assert!(is_evidence_url("https://grafana.example.com/d/1"));
        assert!(is_evidence_url("HTTP://x.example"));
        assert!(!is_evidence_url("javascript:alert(1)"));
        assert!(!is_evidence_url("https://"));
        assert!(!is_evidence_url(""));
        assert!(!is_evidence_url("https://a b"));
    }

    #[test]
    fn the_engine_folds_repeats_and_resolves_by_key() {
        use crate::engine::{Engine, World};
        let world = World::default();
        let mut engine = Engine::new();
        let now = parse_timestamp("2025-01-01T00:00:00Z").unwrap();
        let mut ids = counter();
        let trigger = include_str!("../../tests/fixtures/payloads/pagerduty-trigger.json");
        for input in parse_payload(trigger, &mut ids).unwrap().into_iter().chain(parse_payload(trigger, &mut ids).unwrap()) {
            assert_eq!(engine.handle(&world, now, input).rejected, None);
        }
        assert_eq!(engine.incidents().count(), 1, "the repeat folded");
        assert_eq!(engine.incident("inc-1").unwrap().alert_count, 2);
        let resolve = include_str!("../../tests/fixtures/payloads/pagerduty-resolve.json");
        for input in parse_payload(resolve, &mut ids).unwrap() {
            assert_eq!(engine.handle(&world, now, input).rejected, None);
        }
        assert!(!engine.incident("inc-1").unwrap().is_open());

        let mixed = include_str!("../../tests/fixtures/payloads/alertmanager-mixed-firing-resolved.json");
        let per_alert = parse_payload_with(mixed, AlertmanagerGrouping::PerAlert, &mut ids).unwrap();
        let outcomes: Vec<_> = per_alert.into_iter().map(|i| engine.handle(&world, now, i).rejected).collect();
        // The resolved member was never opened here: the engine says so, intake does not guess.
        assert_eq!(outcomes, vec![None, Some(crate::engine::Rejected::NoOpenIncidentForKey("3b15fd163d36582e".into()))]);

        // By default the same notification is one group, firing: one incident, however many members.
        let before = engine.incidents().count();
        let grouped = parse_payload(mixed, &mut ids).unwrap();
        assert_eq!(grouped.len(), 1);
        assert_eq!(engine.handle(&world, now, grouped.into_iter().next().unwrap()).rejected, None);
        assert_eq!(engine.incidents().count(), before + 1);
    }

    #[test]
    fn pagerduty_ignores_the_alertmanager_grouping() {
        for name in ["pagerduty-trigger.json", "pagerduty-trigger-minimal.json", "pagerduty-resolve.json"] {
            let json = std::fs::read_to_string(format!("{}/tests/fixtures/payloads/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let by_group = parse_payload_detailed_with(&json, AlertmanagerGrouping::PerGroup, &mut counter()).unwrap();
            let by_alert = parse_payload_detailed_with(&json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap();
            assert_eq!(by_group, by_alert, "{name}");
            assert_eq!(by_group, parse_payload_detailed(&json, &mut counter()).unwrap(), "{name}");
            assert_eq!(by_group.format, PayloadFormat::PagerDutyV2);
        }
    }
}
