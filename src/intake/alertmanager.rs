//! Prometheus Alertmanager webhook (version 4) into engine inputs: one input per alert, in order.
//!
//! - A `firing` alert → [`Input::Open`] with dedup key = the alert's `fingerprint`, or, when the
//!   sender left it out, the same fingerprint Alertmanager computes from the labels
//!   ([`label_fingerprint`]); so repeats fold into one incident and a later `resolved` finds it.
//! - A `resolved` alert → [`Input::ResolveByKey`]. Each alert's own `status` counts (a group
//!   whose status is `firing` may carry resolved members); an alert without one takes the group's.
//!
//! Field mapping: title ← `annotations.summary`, else `annotations.title`, else `labels.alertname`,
//! else "Alert <fingerprint>"; summary ← `annotations.description`, else `.details`, else
//! `.message`; severity ← `labels.severity` (critical/page → SEV1, error/high → SEV2,
//! warning → SEV3, info/none → SEV4, see [`super::severity_from_word`]; missing or unknown → SEV3,
//! the engine's default); service ← `labels.service`, else `labels.job`; type ← `labels.type`;
//! environment ← `labels.environment`, else `labels.env`; region ← `labels.region`; labels ← the
//! alert's labels (the group's `commonLabels` are not merged: an alert's own labels are complete);
//! evidence ← `generatorURL`, `annotations.runbook_url`, `annotations.dashboard_url` (http/https
//! only); source ← `"alertmanager"`. Time: `startsAt` for firing, `endsAt` for resolved.
//!
//! Lenient where real senders are: `version` may be missing (older senders, GoAlert's tests) but if
//! present must be "4"; maps may be `null`; fields beyond the format are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{add_evidence, from_value, non_blank, parse_timestamp, severity_from_word, Intake, IntakeError, IntakeEvent, NewId, PayloadFormat};
use crate::engine::{Actor, IncidentDetails, Input};

type Labels = BTreeMap<String, String>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    alerts: Vec<Alert>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Firing,
    Resolved,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    labels: Option<Labels>,
    #[serde(default)]
    annotations: Option<Labels>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
}

pub(crate) fn read(value: Value, new_id: NewId<'_>) -> Result<Intake, IntakeError> {
    let webhook: Webhook = from_value(value)?;
    match &webhook.version {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "4" => {}
        Some(Value::Number(n)) if n.as_u64() == Some(4) => {}
        Some(other) => return Err(IntakeError::UnsupportedVersion(other.to_string())),
    }
    if webhook.alerts.is_empty() {
        return Err(IntakeError::NoAlerts);
    }
    let mut events = Vec::with_capacity(webhook.alerts.len());
    for (i, alert) in webhook.alerts.into_iter().enumerate() {
        let status = alert.status.or(webhook.status).ok_or_else(|| IntakeError::Invalid {
            path: format!("alerts[{i}].status"),
            message: "missing (and the webhook has no status either); expected \"firing\" or \"resolved\"".into(),
        })?;
        events.push(read_alert(alert, status, new_id));
    }
    Ok(Intake { format: PayloadFormat::AlertmanagerV4, events, truncated_alerts: webhook.truncated_alerts.unwrap_or(0) })
}

fn read_alert(alert: Alert, status: Status, new_id: NewId<'_>) -> IntakeEvent {
    let labels = alert.labels.unwrap_or_default();
    let annotations = alert.annotations.unwrap_or_default();
    let dedup_key = match non_blank(alert.fingerprint.as_deref()) {
        Some(f) => f.to_string(),
        None => label_fingerprint(&labels),
    };
    if status == Status::Resolved {
        let at = alert.ends_at.as_deref().and_then(parse_timestamp);
        return IntakeEvent { input: Input::ResolveByKey { dedup_key, by: Actor::Automation }, at };
    }
    let text = |map: &Labels, names: &[&str]| pick(map, names).unwrap_or_default().to_string();
    let title =
        pick(&annotations, &["summary", "title"]).or_else(|| pick(&labels, &["alertname"])).map(str::to_string).unwrap_or_else(|| format!("Alert {dedup_key}"));
    let mut details = IncidentDetails {
        title,
        summary: text(&annotations, &["description", "details", "message"]),
        severity: pick(&labels, &["severity"]).and_then(severity_from_word).unwrap_or_default(),
        kind: text(&labels, &["type"]),
        service: text(&labels, &["service", "job"]),
        source: "alertmanager".into(),
        environment: text(&labels, &["environment", "env"]),
        region: text(&labels, &["region"]),
        ..IncidentDetails::default()
    };
    add_evidence(&mut details, alert.generator_url.as_deref());
    add_evidence(&mut details, pick(&annotations, &["runbook_url"]));
    add_evidence(&mut details, pick(&annotations, &["dashboard_url"]));
    details.labels = labels;
    details.dedup_key = Some(dedup_key);
    let at = alert.starts_at.as_deref().and_then(parse_timestamp);
    IntakeEvent { input: Input::Open { id: new_id(), by: Actor::Automation, details }, at }
}

/// The first of `names` with a non-blank value in `map`.
fn pick<'a>(map: &'a Labels, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| non_blank(map.get(*n).map(String::as_str)))
}

/// The fingerprint Alertmanager gives a label set (Prometheus `LabelSet.Fingerprint`): FNV-1a 64
/// over the labels sorted by name, each name and value followed by the byte 0xff, written as 16
/// lower-case hex digits.
pub fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    let add = |h: u64, bytes: &[u8]| bytes.iter().fold(h, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    let hash = labels.iter().fold(OFFSET, |h, (name, value)| {
        let h = add(add(h, name.as_bytes()), &[0xff]);
        add(add(h, value.as_bytes()), &[0xff])
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::super::tests::counter;
    use super::super::{parse_payload, parse_payload_detailed};
    use super::*;
    use crate::engine::Severity;

    const MULTIPLE: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-multiple.json");
    const GROUPED: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-grouped.json");
    const MIXED: &str = include_str!("../../tests/fixtures/payloads/alertmanager-mixed-firing-resolved.json");
    const MINIMAL: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-minimal.json");

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn open(input: &Input) -> (&str, &IncidentDetails) {
        match input {
            Input::Open { id, details, .. } => (id, details),
            other => panic!("expected an open, got {other:?}"),
        }
    }

    #[test]
    fn fingerprint_matches_alertmanagers_own() {
        // The fixtures' fingerprints were computed by Alertmanager from these label sets.
        assert_eq!(label_fingerprint(&labels(&[("severity", "warning"), ("job", "foo")])), "9266ef3da838ad95");
        assert_eq!(label_fingerprint(&labels(&[("severity", "critical"), ("job", "foo")])), "3b15fd163d36582e");
        assert_eq!(label_fingerprint(&Labels::new()), "cbf29ce484222325");
    }

    #[test]
    fn firing_multiple_opens_one_incident_per_alert() {
        let intake = parse_payload_detailed(MULTIPLE, &mut counter()).unwrap();
        assert_eq!(intake.format, PayloadFormat::AlertmanagerV4);
        assert_eq!(intake.truncated_alerts, 0);
        assert_eq!(intake.events.len(), 2);
        let (id, d) = open(&intake.events[0].input);
        assert_eq!(id, "inc-1");
        let expected = IncidentDetails {
            title: "Instance 127.0.0.1:9090 down".into(),
            summary: "127.0.0.1:9090 of job prometheus has been down for more than 1 minute.".into(),
            severity: Severity::Sev1,
            service: "prometheus".into(),
            source: "alertmanager".into(),
            links: vec!["http://pop-os:9090/graph?g0.expr=promhttp_metric_handler_requests_total+%3E+20&g0.tab=1".into()],
            labels: labels(&[
                ("alertname", "InstanceDown"),
                ("code", "200"),
                ("instance", "127.0.0.1:9090"),
                ("job", "prometheus"),
                ("monitor", "codelab-monitor"),
                ("severity", "critical"),
            ]),
            dedup_key: Some("791cec13fcba0368".into()),
            ..IncidentDetails::default()
        };
        assert_eq!(*d, expected);
        assert_eq!(intake.events[0].at.unwrap().to_rfc3339(), "2020-08-08T14:32:08.326990857+00:00");
        let (id, d) = open(&intake.events[1].input);
        assert_eq!(id, "inc-2");
        assert_eq!(d.dedup_key.as_deref(), Some("8df98227bdd81384"));
        assert_eq!(d.title, "Instance localhost:9090 down");
    }

    #[test]
    fn grafana_style_titles_and_empty_generator_url() {
        let inputs = parse_payload(GROUPED, &mut counter()).unwrap();
        assert_eq!(inputs.len(), 2);
        let (_, d) = open(&inputs[1]);
        assert_eq!(d.title, "Instance localhost:8082 down");
        assert_eq!(d.summary, "localhost:8082 of job node has been down for more than 1 minute.");
        assert_eq!(d.severity, Severity::Sev1);
        assert_eq!(d.service, "node");
        assert!(d.links.is_empty(), "empty generatorURL is no evidence");
        assert_eq!(d.dedup_key.as_deref(), Some("f8f08d4e32c61a9d"));
    }

    #[test]
    fn mixed_group_opens_the_firing_and_resolves_the_resolved() {
        let intake = parse_payload_detailed(MIXED, &mut counter()).unwrap();
        assert_eq!(intake.events.len(), 2);
        let (_, d) = open(&intake.events[0].input);
        assert_eq!(d.title, "Alert 9266ef3da838ad95", "no summary, title or alertname");
        assert_eq!(d.summary, "something happened");
        assert_eq!(d.severity, Severity::Sev3);
        assert_eq!(d.service, "foo");
        assert_eq!(intake.events[0].at.unwrap().to_rfc3339(), "0001-01-01T00:00:01+00:00");
        assert_eq!(intake.events[1].input, Input::ResolveByKey { dedup_key: "3b15fd163d36582e".into(), by: Actor::Automation });
        assert_eq!(intake.events[1].at.unwrap().to_rfc3339(), "0001-01-01T00:00:02+00:00");
    }

    #[test]
    fn minimal_webhook_is_accepted_and_keyed_by_its_labels() {
        let intake = parse_payload_detailed(MINIMAL, &mut counter()).unwrap();
        assert_eq!(intake.events.len(), 1);
        assert_eq!(intake.events[0].at, None);
        let (_, d) = open(&intake.events[0].input);
        assert_eq!(d.title, "My alert summary");
        assert_eq!(d.summary, "My description");
        assert_eq!(d.severity, Severity::Sev3);
        assert_eq!(d.labels, labels(&[("alertname", "TestAlert")]), "commonLabels are not merged in");
        assert_eq!(d.dedup_key, Some(label_fingerprint(&labels(&[("alertname", "TestAlert")]))));
    }

    #[test]
    fn resolving_without_fingerprint_finds_the_same_key() {
        let firing = r#"{"alerts":[{"status":"firing","labels":{"alertname":"A","env":"prod","region":"eu-west"}}]}"#;
        let resolved = r#"{"status":"resolved","alerts":[{"labels":{"region":"eu-west","alertname":"A","env":"prod"}}]}"#;
        let opened = parse_payload(firing, &mut counter()).unwrap();
        let (_, d) = open(&opened[0]);
        assert_eq!((d.environment.as_str(), d.region.as_str()), ("prod", "eu-west"));
        let closed = parse_payload(resolved, &mut counter()).unwrap();
        assert_eq!(closed, vec![Input::ResolveByKey { dedup_key: d.dedup_key.clone().unwrap(), by: Actor::Automation }]);
    }

    #[test]
    fn severity_labels_map_as_documented() {
        for (word, sev) in [("critical", 1), ("page", 1), ("error", 2), ("high", 2), ("warning", 3), ("info", 4), ("none", 4), ("weird", 3)] {
            let json = format!(r#"{{"version":"4","alerts":[{{"status":"firing","labels":{{"severity":"{word}"}}}}]}}"#);
            let inputs = parse_payload(&json, &mut counter()).unwrap();
            assert_eq!(open(&inputs[0]).1.severity, Severity::ALL[sev - 1], "{word}");
        }
    }

    #[test]
    fn evidence_from_annotations_and_null_maps() {
        let json = r#"{"version":4,"truncatedAlerts":3,"commonLabels":null,"alerts":[{"status":"firing","labels":null,
            "annotations":{"runbook_url":"https://runbooks.example/db","dashboard_url":"javascript:alert(1)"},
            "generatorURL":"https://prom.example/graph","startsAt":"garbage"}]}"#;
        let intake = parse_payload_detailed(json, &mut counter()).unwrap();
        assert_eq!(intake.truncated_alerts, 3);
        assert_eq!(intake.events[0].at, None);
        let (_, d) = open(&intake.events[0].input);
        assert_eq!(d.links, vec!["https://prom.example/graph".to_string(), "https://runbooks.example/db".to_string()]);
        assert_eq!(d.dedup_key.as_deref(), Some("cbf29ce484222325"));
    }

    #[test]
    fn malformed_webhooks_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (r#"{"alerts":[{"status":"firing","labels":"x"}]}"#, "alerts[0].labels: invalid type: string \"x\", expected an object"),
            (
                r#"{"alerts":[{"status":"firing"},{"status":"firing","labels":{"severity":2}}]}"#,
                "alerts[1].labels.severity: invalid type: integer `2`, expected a string",
            ),
            (r#"{"alerts":[{"status":"burning"}]}"#, "alerts[0].status: unknown variant `burning`, expected `firing` or `resolved`"),
            (r#"{"alerts":[{"labels":{}}]}"#, "alerts[0].status: missing (and the webhook has no status either); expected \"firing\" or \"resolved\""),
            (r#"{"alerts":{}}"#, "alerts: invalid type: object, expected an array"),
            (r#"{"alerts":null}"#, "alerts: invalid type: null, expected an array"),
            (r#"{"alerts":[3]}"#, "alerts[0]: invalid type: integer `3`, expected struct Alert"),
            (r#"{"version":"4","alerts":[]}"#, "alerts: the webhook carries no alert to open or resolve."),
            (r#"{"version":"3","alerts":[{"status":"firing"}]}"#, "version: Alertmanager webhook version \"3\" is not supported; Piket reads version \"4\"."),
            (r#"{"version":5,"alerts":[{"status":"firing"}]}"#, "version: Alertmanager webhook version 5 is not supported; Piket reads version \"4\"."),
            (r#"{"alerts":[{"status":"firing","startsAt":5}]}"#, "alerts[0].startsAt: invalid type: integer `5`, expected a string"),
        ];
        for (json, expected) in cases {
            let err = parse_payload(json, &mut counter()).unwrap_err();
            assert_eq!(err.to_string(), *expected, "{json}");
        }
    }

    #[test]
    fn truncated_fixtures_never_panic() {
        for text in [MULTIPLE, GROUPED, MIXED, MINIMAL] {
            for cut in (0..text.len()).step_by(7) {
                if text.is_char_boundary(cut) {
                    let _ = parse_payload(&text[..cut], &mut counter());
                }
            }
        }
    }
}
