//! PagerDuty Events API v2 (`POST /v2/enqueue` bodies) into engine inputs.
//!
//! - `trigger` → [`Input::Open`]; the engine folds it into the open incident with the same
//!   `dedup_key`. Without a `dedup_key` the new incident's id becomes the key.
//! - `resolve` → [`Input::ResolveByKey`].
//! - `acknowledge` → [`IntakeError::AcknowledgeByKeyUnsupported`] (the engine has no
//!   acknowledge-by-key: only a person acknowledges, by incident id).
//!
//! Field mapping for a trigger: `payload.summary` → title; `payload.severity` critical → SEV1,
//! error → SEV2, warning → SEV3, info → SEV4; `payload.component` → service (else
//! `payload.source`); `payload.class` → type (else `payload.group`); `client` → source (else
//! `"pagerduty"`); `custom_details` → labels (strings as they are, other values as JSON text; a
//! details value that is not an object becomes the label `details`), then `source`, `component`,
//! `group` and `class` as labels of the same names (these win over custom details);
//! `links[].href`, `client_url` and `images[].src` → evidence (http/https only).
//! `routing_key` is not kept: it is an integration secret.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{add_evidence_all, from_value, from_value_at, non_blank, parse_timestamp, Intake, IntakeError, IntakeEvent, NewId, PayloadFormat};
use crate::engine::{Actor, IncidentDetails, Input, Severity};

#[derive(Deserialize)]
struct Event {
    event_action: Action,
    #[serde(default)]
    dedup_key: Option<String>,
    /// Read only for a trigger (PagerDuty ignores it otherwise).
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    client: Option<String>,
    #[serde(default)]
    client_url: Option<String>,
    #[serde(default)]
    links: Option<Vec<Link>>,
    #[serde(default)]
    images: Option<Vec<Image>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Action {
    Trigger,
    Acknowledge,
    Resolve,
}

#[derive(Deserialize)]
struct Payload {
    summary: String,
    source: String,
    severity: PdSeverity,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    custom_details: Option<Value>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum PdSeverity {
    Critical,
    Error,
    Warning,
    Info,
}

impl From<PdSeverity> for Severity {
    fn from(s: PdSeverity) -> Severity {
        match s {
            PdSeverity::Critical => Severity::Sev1,
            PdSeverity::Error => Severity::Sev2,
            PdSeverity::Warning => Severity::Sev3,
            PdSeverity::Info => Severity::Sev4,
        }
    }
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

#[derive(Deserialize)]
struct Image {
    src: String,
}

pub(crate) fn read(value: Value, new_id: NewId<'_>) -> Result<Intake, IntakeError> {
    let event: Event = from_value(value)?;
    let dedup_key = non_blank(event.dedup_key.as_deref()).map(str::to_string);
    let needs_key = |action: &str| IntakeError::Invalid { path: "dedup_key".into(), message: format!("required for {action} event") };
    let event = match event.event_action {
        Action::Resolve => {
            IntakeEvent { input: Input::ResolveByKey { dedup_key: dedup_key.ok_or_else(|| needs_key("a resolve"))?, by: Actor::Automation }, at: None }
        }
        Action::Acknowledge => return Err(IntakeError::AcknowledgeByKeyUnsupported { dedup_key: dedup_key.ok_or_else(|| needs_key("an acknowledge"))? }),
        Action::Trigger => trigger(event, dedup_key, new_id)?,
    };
    Ok(Intake { format: PayloadFormat::PagerDutyV2, events: vec![event], truncated_alerts: 0 })
}

fn trigger(event: Event, dedup_key: Option<String>, new_id: NewId<'_>) -> Result<IntakeEvent, IntakeError> {
    let payload = match event.payload {
        None | Some(Value::Null) => return Err(IntakeError::Invalid { path: "payload".into(), message: "required for a trigger event".into() }),
        Some(v) => from_value_at::<Payload>("payload", v)?,
    };
    let title = non_blank(Some(&payload.summary))
        .ok_or_else(|| IntakeError::Invalid { path: "payload.summary".into(), message: "must not be empty".into() })?
        .to_string();
    let mut labels = custom_details_as_labels(payload.custom_details);
    for (name, value) in
        [("source", Some(&payload.source)), ("component", payload.component.as_ref()), ("group", payload.group.as_ref()), ("class", payload.class.as_ref())]
    {
        if let Some(v) = non_blank(value.map(String::as_str)) {
            labels.insert(name.to_string(), v.to_string());
        }
    }
    let id = new_id();
    let mut details = IncidentDetails {
        title,
        severity: payload.severity.into(),
        service: non_blank(payload.component.as_deref()).or(non_blank(Some(&payload.source))).unwrap_or_default().to_string(),
        kind: non_blank(payload.class.as_deref()).or(non_blank(payload.group.as_deref())).unwrap_or_default().to_string(),
        source: non_blank(event.client.as_deref()).unwrap_or("pagerduty").to_string(),
        labels,
        dedup_key: Some(dedup_key.unwrap_or_else(|| id.to_string())),
        ..IncidentDetails::default()
    };
    let links = event.links.iter().flatten().map(|l| l.href.as_str());
    let images = event.images.iter().flatten().map(|i| i.src.as_str());
    add_evidence_all(&mut details, links.chain(event.client_url.as_deref()).chain(images));
    let at = payload.timestamp.as_deref().and_then(parse_timestamp);
    Ok(IntakeEvent { input: Input::Open { id, by: Actor::Automation, details }, at })
}

/// Custom details as labels: strings as they are, other values as their JSON text.
fn custom_details_as_labels(details: Option<Value>) -> BTreeMap<String, String> {
    let text = |v: Value| match v {
        Value::String(s) => s,
        other => other.to_string(),
    };
    match details {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(map)) => map.into_iter().map(|(k, v)| (k, text(v))).collect(),
        Some(other) => BTreeMap::from([("details".to_string(), text(other))]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::counter;
    use super::super::{parse_payload, parse_payload_detailed};
    use super::*;

    const TRIGGER: &str = include_str!("../../tests/fixtures/payloads/pagerduty-trigger.json");
    const TRIGGER_MINIMAL: &str = include_str!("../../tests/fixtures/payloads/pagerduty-trigger-minimal.json");
    const ACKNOWLEDGE: &str = include_str!("../../tests/fixtures/payloads/pagerduty-acknowledge.json");
    const RESOLVE: &str = include_str!("../../tests/fixtures/payloads/pagerduty-resolve.json");

    fn open_details(input: &Input) -> (&str, &IncidentDetails) {
        match input {
            Input::Open { id, by, details } => {
                assert_eq!(*by, Actor::Automation);
                (id, details)
            }
            other => panic!("expected an open, got {other:?}"),
        }
    }

    #[test]
    fn trigger_fixture_opens_with_every_field_mapped() {
        let intake = parse_payload_detailed(TRIGGER, &mut counter()).unwrap();
        assert_eq!(intake.format, PayloadFormat::PagerDutyV2);
        assert_eq!(intake.events.len(), 1);
        let event = &intake.events[0];
        // The '+0000' offset that strict RFC 3339 refuses.
        assert_eq!(event.at.unwrap().to_rfc3339(), "2015-07-17T08:42:58.315+00:00");
        let (id, d) = open_details(&event.input);
        assert_eq!(id, "inc-1");
        let expected = IncidentDetails {
            title: "DISK at 99% on machine prod-datapipe03.example.com".into(),
            severity: Severity::Sev1,
            service: "mysql".into(),
            kind: "disk".into(),
            source: "Sample Monitoring Service".into(),
            links: vec![
                "http://pagerduty.example.com".into(),
                "https://monitoring.service.com".into(),
                "https://chart.googleapis.com/chart?chs=600x400&chd=t:6,2,9,5,2,5,7,4,8,2,1&cht=lc&chds=a&chxt=y&chm=D,0033FF,0,0,5,1".into(),
            ],
            labels: BTreeMap::from(
                [
                    ("free space", "1%"),
                    ("ping time", "1500ms"),
                    ("load avg", "0.75"),
                    ("source", "prod-datapipe03.example.com"),
                    ("component", "mysql"),
                    ("group", "prod-datapipe"),
                    ("class", "disk"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            ),
            dedup_key: Some("srv01/mysql".into()),
            ..IncidentDetails::default()
        };
        assert_eq!(*d, expected);
    }

    #[test]
    fn minimal_trigger_gets_its_id_as_dedup_key() {
        let inputs = parse_payload(TRIGGER_MINIMAL, &mut counter()).unwrap();
        let (id, d) = open_details(&inputs[0]);
        assert_eq!(d.dedup_key.as_deref(), Some(id));
        assert_eq!(d.service, "prod-datapipe03.example.com");
        assert_eq!(d.source, "pagerduty");
        assert_eq!(d.kind, "");
        assert!(d.links.is_empty());
    }

    #[test]
    fn resolve_fixture_resolves_by_key() {
        let mut calls = 0;
        let inputs = parse_payload(RESOLVE, &mut || {
            calls += 1;
            "unused".into()
        })
        .unwrap();
        assert_eq!(inputs, vec![Input::ResolveByKey { dedup_key: "srv01/mysql".into(), by: Actor::Automation }]);
        assert_eq!(calls, 0, "no id is made for a resolve");
    }

    #[test]
    fn acknowledge_fixture_is_refused_clearly() {
        let err = parse_payload(ACKNOWLEDGE, &mut counter()).unwrap_err();
        assert_eq!(err, IntakeError::AcknowledgeByKeyUnsupported { dedup_key: "srv01/mysql".into() });
        assert!(err.to_string().contains("srv01/mysql"));
    }

    #[test]
    fn severities_map_to_sev_levels() {
        for (word, sev) in [("critical", Severity::Sev1), ("error", Severity::Sev2), ("warning", Severity::Sev3), ("info", Severity::Sev4)] {
            let json = TRIGGER_MINIMAL.replace("\"critical\"", &format!("\"{word}\""));
            let inputs = parse_payload(&json, &mut counter()).unwrap();
            assert_eq!(open_details(&inputs[0]).1.severity, sev, "{word}");
        }
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (r#"{"event_action":"explode","dedup_key":"k"}"#, "event_action: unknown variant `explode`, expected one of `trigger`, `acknowledge`, `resolve`"),
            (r#"{"event_action":"resolve"}"#, "dedup_key: required for a resolve event"),
            (r#"{"event_action":"resolve","dedup_key":"  "}"#, "dedup_key: required for a resolve event"),
            (r#"{"event_action":"acknowledge"}"#, "dedup_key: required for an acknowledge event"),
            (r#"{"event_action":"trigger"}"#, "payload: required for a trigger event"),
            (r#"{"event_action":"trigger","payload":{"summary":"x","source":"y"}}"#, "payload: missing field `severity`"),
            (r#"{"event_action":"trigger","payload":{"summary":"","source":"y","severity":"info"}}"#, "payload.summary: must not be empty"),
            (
                r#"{"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"fatal"}}"#,
                "payload.severity: unknown variant `fatal`, expected one of `critical`, `error`, `warning`, `info`",
            ),
            (
                r#"{"event_action":"trigger","payload":{"summary":3,"source":"y","severity":"info"}}"#,
                "payload.summary: invalid type: integer `3`, expected a string",
            ),
            (
                r#"{"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"},"links":{"href":"h"}}"#,
                "links: invalid type: object, expected an array",
            ),
            (
                r#"{"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info"},"links":[{"text":"no href"}]}"#,
                "links[0]: missing field `href`",
            ),
            (r#"{"event_action":"trigger","payload":"disk full"}"#, "payload: invalid type: string \"disk full\", expected struct Payload"),
            (
                r#"{"event_action":"trigger","payload":{"summary":"x","source":"y","severity":"info","custom_details":{"a":1},"timestamp":7}}"#,
                "payload.timestamp: invalid type: integer `7`, expected a string",
            ),
            (r#"{"event_action":7}"#, "event_action: invalid type: integer `7`, expected a string"),
        ];
        for (json, expected) in cases {
            let err = parse_payload(json, &mut counter()).unwrap_err();
            assert_eq!(err.to_string(), *expected, "{json}");
        }
    }

    #[test]
    fn a_resolve_ignores_whatever_payload_it_carries() {
        let json = r#"{"event_action":"resolve","dedup_key":"k","payload":{"summary":5}}"#;
        assert_eq!(parse_payload(json, &mut counter()).unwrap(), vec![Input::ResolveByKey { dedup_key: "k".into(), by: Actor::Automation }]);
    }

    #[test]
    fn thousands_of_links_stay_in_order_without_repeats() {
        // Found by `cargo xtask fuzz`: a trigger near the 1 MiB limit with ~20 000 links took
        // half a second in release (each link was compared with every one before it).
        let href = |i: usize| format!("https://grafana.example/d/{}", i % 10_000);
        let links: Vec<serde_json::Value> = (0..20_000).map(|i| serde_json::json!({ "href": href(i) })).collect();
        let images: Vec<serde_json::Value> =
            (0..3).map(|i| serde_json::json!({ "src": href(i * 7) })).chain([serde_json::json!({"src": "https://img.example/x"})]).collect();
        let json = serde_json::json!({
            "event_action": "trigger",
            "payload": {"summary": "many links", "source": "s", "severity": "info"},
            "links": links, "images": images, "client_url": "https://grafana.example/d/3",
        })
        .to_string();
        assert!(json.len() < crate::intake::MAX_PAYLOAD_BYTES);
        let inputs = parse_payload(&json, &mut counter()).unwrap();
        let (_, d) = open_details(&inputs[0]);
        assert_eq!(d.links.len(), 10_001);
        assert_eq!(d.links[..2], [href(0), href(1)]);
        assert_eq!(d.links[9_999], href(9_999));
        assert_eq!(d.links[10_000], "https://img.example/x");
    }

    #[test]
    fn hostile_links_are_not_evidence_and_odd_details_are_kept() {
        let json = r#"{"event_action":"trigger","dedup_key":"k","links":[{"href":"javascript:alert(1)"},{"href":"https://ok.example/x"},{"href":"https://ok.example/x"}],
            "payload":{"summary":"<img src=x onerror=alert(1)>","source":"s","severity":"warning","timestamp":"not a time","custom_details":"free text"}}"#;
        let intake = parse_payload_detailed(json, &mut counter()).unwrap();
        assert_eq!(intake.events[0].at, None);
        let (_, d) = open_details(&intake.events[0].input);
        assert_eq!(d.title, "<img src=x onerror=alert(1)>");
        assert_eq!(d.links, vec!["https://ok.example/x".to_string()]);
        assert_eq!(d.labels.get("details").map(String::as_str), Some("free text"));
    }
}
