//! Prometheus Alertmanager webhook (version 4) into engine inputs. How many incidents one
//! notification makes is the caller's choice ([`AlertmanagerGrouping`]):
//!
//! **One incident per notification** ([`AlertmanagerGrouping::PerGroup`], the default): an
//! Alertmanager notification is one group of alerts (its `group_by` labels), and in the field one
//! group is one incident, one page.
//! - Dedup key = [`group_dedup_key`]: SHA-256 (hex) of the `groupKey`, the key Alertmanager's own
//!   PagerDuty integration sends as `dedup_key` for the group; so the next notification for the
//!   same group folds into the open incident (counted) and the group's `resolved` finds it. A
//!   sender without `groupKey` (older senders, GoAlert's tests) gets the hash of
//!   `<receiver>:<groupLabels>` instead, written like a group key (`{alertname="X"}`).
//! - Group `status` `resolved` → [`Input::ResolveByKey`] for that key. `firing` → one
//!   [`Input::Open`], even when some members are resolved (the firing ones are listed). Without a
//!   group status, the group is firing when any alert is.
//! - title ← `commonAnnotations.summary`, else `.title`, else `commonLabels.alertname`, else the
//!   only firing alert's title, else "Alertmanager group for <receiver>"; followed by the group
//!   labels in parentheses (`alertname` left out when it is the title already).
//! - summary ← `commonAnnotations.description` (else `.details`, `.message`), a count line (firing,
//!   resolved, receiver, the readable `groupKey`), then one line per firing alert: its labels that
//!   differ from `commonLabels` and its summary/description where they differ from the common
//!   ones. At most [`MAX_LISTED_ALERTS`] lines, then "… and N more"; then `truncatedAlerts`.
//! - severity ← `commonLabels.severity` (the per-alert mapping, [`super::severity_from_word`]);
//!   without a common one, the most severe of the firing alerts' `severity` labels; else SEV3.
//! - service, type, environment, region ← `commonLabels` as for one alert (below); labels ←
//!   `commonLabels`; evidence ← `commonAnnotations.runbook_url`, `.dashboard_url`, `externalURL`,
//!   then each firing alert's `generatorURL` (http/https only, at most [`MAX_GROUP_LINKS`]).
//! - `commonLabels`/`commonAnnotations` missing or `null`: the ones shared by every alert, as
//!   Alertmanager computes them.
//! - Time: the earliest firing `startsAt`; for a resolve, the latest `endsAt`.
//!
//! **One incident per alert** ([`AlertmanagerGrouping::PerAlert`]), one input per alert, in order:
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
//! Both: lenient where real senders are: `version` may be missing (older senders, GoAlert's tests)
//! but if present must be "4"; maps may be `null`; fields beyond the format are ignored. Every
//! alert needs a status, its own or the group's.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{add_evidence, from_value, non_blank, parse_timestamp, severity_from_word, Intake, IntakeError, IntakeEvent, NewId, PayloadFormat};
use crate::engine::incident::short;
use crate::engine::{Actor, IncidentDetails, Input};

type Labels = BTreeMap<String, String>;

/// How many incidents one Alertmanager notification makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AlertmanagerGrouping {
    /// One incident per notification (the alert group), keyed by the group: one page per group.
    #[default]
    PerGroup,
    /// One incident per alert, keyed by its fingerprint (each firing alert pages on its own).
    PerAlert,
}

/// At most this many firing alerts are listed in a group incident's summary ("… and N more").
pub const MAX_LISTED_ALERTS: usize = 50;
/// At most this many evidence links a group incident starts with (folds may add more, up to the
/// engine's own bound).
pub const MAX_GROUP_LINKS: usize = 20;
/// Each listed alert's line is cut to this many characters.
const MAX_ALERT_LINE: usize = 300;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Webhook {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    group_labels: Option<Labels>,
    #[serde(default)]
    common_labels: Option<Labels>,
    #[serde(default)]
    common_annotations: Option<Labels>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
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

pub(crate) fn read(value: Value, grouping: AlertmanagerGrouping, new_id: NewId<'_>) -> Result<Intake, IntakeError> {
    let mut webhook: Webhook = from_value(value)?;
    match &webhook.version {
        None | Some(Value::Null) => {}
        Some(Value::String(v)) if v == "4" => {}
        Some(Value::Number(n)) if n.as_u64() == Some(4) => {}
        Some(other) => return Err(IntakeError::UnsupportedVersion(other.to_string())),
    }
    if webhook.alerts.is_empty() {
        return Err(IntakeError::NoAlerts);
    }
    let mut statuses = Vec::with_capacity(webhook.alerts.len());
    for (i, alert) in webhook.alerts.iter().enumerate() {
        statuses.push(alert.status.or(webhook.status).ok_or_else(|| IntakeError::Invalid {
            path: format!("alerts[{i}].status"),
            message: "missing (and the webhook has no status either); expected \"firing\" or \"resolved\"".into(),
        })?);
    }
    let truncated_alerts = webhook.truncated_alerts.unwrap_or(0);
    let events = match grouping {
        AlertmanagerGrouping::PerAlert => {
            std::mem::take(&mut webhook.alerts).into_iter().zip(statuses).map(|(alert, status)| read_alert(alert, status, new_id)).collect()
        }
        AlertmanagerGrouping::PerGroup => vec![read_group(&webhook, &statuses, new_id)],
    };
    Ok(Intake { format: PayloadFormat::AlertmanagerV4, events, truncated_alerts })
}

/// The dedup key of an Alertmanager group: SHA-256 of its `groupKey`, as 64 lower-case hex digits
/// (what Alertmanager's `notify.Key.Hash` gives, and its PagerDuty integration sends as
/// `dedup_key`). Without a group key (blank or missing), the hash of `<receiver>:<groupLabels>`,
/// the labels written like Alertmanager writes them in a group key (`{job="foo"}`).
pub fn group_dedup_key(group_key: Option<&str>, receiver: Option<&str>, group_labels: &BTreeMap<String, String>) -> String {
    let material = match non_blank(group_key) {
        Some(k) => k.to_string(),
        None => format!("{}:{}", receiver.unwrap_or_default().trim(), label_set(group_labels)),
    };
    Sha256::digest(material.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A label set as Prometheus writes one: `{a="1", b="2"}`, sorted by name, values quoted.
fn label_set(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// The whole notification as one input: a resolve for the group when it resolved, else an open
/// (that folds into the group's incident when one is open).
fn read_group(webhook: &Webhook, statuses: &[Status], new_id: NewId<'_>) -> IntakeEvent {
    let group_labels = webhook.group_labels.clone().unwrap_or_default();
    let dedup_key = group_dedup_key(webhook.group_key.as_deref(), webhook.receiver.as_deref(), &group_labels);
    let any_firing = statuses.contains(&Status::Firing);
    let status = webhook.status.unwrap_or(if any_firing { Status::Firing } else { Status::Resolved });
    if status == Status::Resolved {
        let at = webhook.alerts.iter().filter_map(|a| a.ends_at.as_deref().and_then(parse_timestamp)).max();
        return IntakeEvent { input: Input::ResolveByKey { dedup_key, by: Actor::Automation }, at };
    }
    let firing: Vec<&Alert> = webhook.alerts.iter().zip(statuses).filter(|(_, s)| **s == Status::Firing).map(|(a, _)| a).collect();
    let resolved = webhook.alerts.len() - firing.len();
    let common_labels = webhook.common_labels.clone().unwrap_or_else(|| shared(webhook.alerts.iter().map(|a| a.labels.as_ref())));
    let common_annotations = webhook.common_annotations.clone().unwrap_or_else(|| shared(webhook.alerts.iter().map(|a| a.annotations.as_ref())));
    let receiver = non_blank(webhook.receiver.as_deref());

    // Title: what the whole group is about, and the labels it was grouped by.
    let alertname = pick(&common_labels, &["alertname"]);
    let base = pick(&common_annotations, &["summary", "title"])
        .or(alertname)
        .or_else(|| match firing.as_slice() {
            [only] => alert_title(only),
            _ => None,
        })
        .map(str::to_string)
        .unwrap_or_else(|| match receiver {
            Some(r) => format!("Alertmanager group for {r}"),
            None => "Alertmanager alert group".to_string(),
        });
    let grouped_by: Vec<String> =
        group_labels.iter().filter(|(k, v)| !(k.as_str() == "alertname" && v.trim() == base)).map(|(k, v)| format!("{k}={v}")).collect();
    let title = if grouped_by.is_empty() { base } else { format!("{base} ({})", grouped_by.join(", ")) };

    // Summary: the common description, a count, then the firing alerts (bounded).
    let mut summary = String::new();
    if let Some(d) = pick(&common_annotations, &["description", "details", "message"]) {
        summary.push_str(d);
        summary.push_str("\n\n");
    }
    summary.push_str(&plural(firing.len() as u64, "alert", "alerts"));
    summary.push_str(" firing");
    if resolved > 0 {
        summary.push_str(&format!(", {resolved} resolved"));
    }
    summary.push_str(" in this Alertmanager notification");
    match (receiver, non_blank(webhook.group_key.as_deref())) {
        (Some(r), Some(k)) => summary.push_str(&format!(" (receiver {r}, group {k})")),
        (Some(r), None) => summary.push_str(&format!(" (receiver {r})")),
        (None, Some(k)) => summary.push_str(&format!(" (group {k})")),
        (None, None) => {}
    }
    summary.push('.');
    for alert in firing.iter().take(MAX_LISTED_ALERTS) {
        summary.push_str("\n- ");
        summary.push_str(&alert_line(alert, &common_labels, &common_annotations));
    }
    if firing.len() > MAX_LISTED_ALERTS {
        summary.push_str(&format!("\n… and {} more firing.", firing.len() - MAX_LISTED_ALERTS));
    }
    if let Some(n) = webhook.truncated_alerts.filter(|n| *n > 0) {
        summary.push_str(&format!("\nAlertmanager left {} out of this notification (truncatedAlerts: {n}).", plural(n, "more alert", "more alerts")));
    }

    let text = |names: &[&str]| pick(&common_labels, names).unwrap_or_default().to_string();
    let severity = pick(&common_labels, &["severity"])
        .and_then(severity_from_word)
        .or_else(|| firing.iter().filter_map(|a| a.labels.as_ref().and_then(|l| pick(l, &["severity"])).and_then(severity_from_word)).min())
        .unwrap_or_default();
    let mut details = IncidentDetails {
        title,
        summary,
        severity,
        kind: text(&["type"]),
        service: text(&["service", "job"]),
        source: "alertmanager".into(),
        environment: text(&["environment", "env"]),
        region: text(&["region"]),
        ..IncidentDetails::default()
    };
    let urls = [pick(&common_annotations, &["runbook_url"]), pick(&common_annotations, &["dashboard_url"]), webhook.external_url.as_deref()]
        .into_iter()
        .chain(firing.iter().map(|a| a.generator_url.as_deref()));
    for url in urls {
        if details.links.len() >= MAX_GROUP_LINKS {
            break;
        }
        add_evidence(&mut details, url);
    }
    details.labels = common_labels;
    details.dedup_key = Some(dedup_key);
    let at = firing.iter().filter_map(|a| a.starts_at.as_deref().and_then(parse_timestamp)).min();
    IntakeEvent { input: Input::Open { id: new_id(), by: Actor::Automation, details }, at }
}

/// The entries every map has (a missing map has none), as Alertmanager computes `commonLabels`.
fn shared<'a>(mut maps: impl Iterator<Item = Option<&'a Labels>>) -> Labels {
    let Some(first) = maps.next() else { return Labels::new() };
    let mut common = first.cloned().unwrap_or_default();
    for map in maps {
        common.retain(|k, v| map.and_then(|m| m.get(k)) == Some(v));
        if common.is_empty() {
            break;
        }
    }
    common
}

/// What one alert says its title is (no fallback).
fn alert_title(alert: &Alert) -> Option<&str> {
    alert.annotations.as_ref().and_then(|a| pick(a, &["summary", "title"])).or_else(|| alert.labels.as_ref().and_then(|l| pick(l, &["alertname"])))
}

/// One firing alert in a group's summary: its labels that differ from the common ones, and its
/// summary and description where they differ from the common annotations.
fn alert_line(alert: &Alert, common_labels: &Labels, common_annotations: &Labels) -> String {
    let own: Vec<String> =
        alert.labels.iter().flatten().filter(|(k, v)| common_labels.get(*k) != Some(*v) && !v.trim().is_empty()).map(|(k, v)| format!("{k}={v}")).collect();
    let annotations = alert.annotations.clone().unwrap_or_default();
    let differs = |names: &[&str]| pick(&annotations, names).filter(|text| pick(common_annotations, names) != Some(*text));
    let said: Vec<&str> = [differs(&["summary", "title"]), differs(&["description", "details", "message"])].into_iter().flatten().collect();
    let mut line = own.join(", ");
    if !said.is_empty() {
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&said.join(" — "));
    }
    if line.is_empty() {
        line = match non_blank(alert.fingerprint.as_deref()) {
            Some(f) => format!("alert {f} (the group's labels)"),
            None => "an alert with the group's labels".to_string(),
        };
    }
    short(&line, MAX_ALERT_LINE)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    use super::super::{parse_payload, parse_payload_detailed, parse_payload_detailed_with, parse_payload_with};
    use super::*;
    use crate::engine::Severity;

    const MULTIPLE: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-multiple.json");
    const GROUPED: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-grouped.json");
    const MIXED: &str = include_str!("../../tests/fixtures/payloads/alertmanager-mixed-firing-resolved.json");
    const MINIMAL: &str = include_str!("../../tests/fixtures/payloads/alertmanager-firing-minimal.json");

    /// The payload read one incident per alert (the behaviour before issue 11, now an option).
    fn per_alert(json: &str) -> Vec<Input> {
        parse_payload_with(json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap()
    }

    fn per_alert_detailed(json: &str) -> Intake {
        parse_payload_detailed_with(json, AlertmanagerGrouping::PerAlert, &mut counter()).unwrap()
    }

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
        let intake = per_alert_detailed(MULTIPLE);
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
        let inputs = per_alert(GROUPED);
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
        let intake = per_alert_detailed(MIXED);
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
        let intake = per_alert_detailed(MINIMAL);
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
        let opened = per_alert(firing);
        let (_, d) = open(&opened[0]);
        assert_eq!((d.environment.as_str(), d.region.as_str()), ("prod", "eu-west"));
        let closed = per_alert(resolved);
        assert_eq!(closed, vec![Input::ResolveByKey { dedup_key: d.dedup_key.clone().unwrap(), by: Actor::Automation }]);
    }

    #[test]
    fn severity_labels_map_as_documented() {
        for (word, sev) in [("critical", 1), ("page", 1), ("error", 2), ("high", 2), ("warning", 3), ("info", 4), ("none", 4), ("weird", 3)] {
            let json = format!(r#"{{"version":"4","alerts":[{{"status":"firing","labels":{{"severity":"{word}"}}}}]}}"#);
            let inputs = per_alert(&json);
            assert_eq!(open(&inputs[0]).1.severity, Severity::ALL[sev - 1], "{word}");
        }
    }

    #[test]
    fn evidence_from_annotations_and_null_maps() {
        let json = r#"{"version":4,"truncatedAlerts":3,"commonLabels":null,"alerts":[{"status":"firing","labels":null,
            "annotations":{"runbook_url":"https://runbooks.example/db","dashboard_url":"javascript:alert(1)"},
            "generatorURL":"https://prom.example/graph","startsAt":"garbage"}]}"#;
        let intake = per_alert_detailed(json);
        assert_eq!(intake.truncated_alerts, 3);
        assert_eq!(intake.events[0].at, None);
        let (_, d) = open(&intake.events[0].input);
        assert_eq!(d.links, vec!["https://prom.example/graph".to_string(), "https://runbooks.example/db".to_string()]);
        assert_eq!(d.dedup_key.as_deref(), Some("cbf29ce484222325"));
    }

    fn group_open(json: &str) -> (IntakeEvent, IncidentDetails) {
        let intake = parse_payload_detailed(json, &mut counter()).unwrap();
        assert_eq!(intake.events.len(), 1, "one notification, one input");
        let event = intake.events.into_iter().next().unwrap();
        let details = open(&event.input).1.clone();
        (event, details)
    }

    #[test]
    fn group_dedup_key_is_alertmanagers_group_key_hash() {
        // sha256("{}:{}"), what Alertmanager's PagerDuty integration sends as dedup_key for that group.
        let key = group_dedup_key(Some("{}:{}"), Some("goalert"), &Labels::new());
        assert_eq!(key, "cc9772a1ec901d26ef71dae861793e4d08979fa5030a3f0a5f3ba549f1f2d0b6");
        assert_eq!(group_dedup_key(Some("  "), Some("goalert"), &Labels::new()), group_dedup_key(None, Some("goalert"), &Labels::new()), "blank is missing");
        // Without a group key: receiver and group labels, written like a group key.
        let by_labels = group_dedup_key(None, Some("ops"), &labels(&[("job", "db"), ("alertname", "Slow")]));
        assert_eq!(by_labels, group_dedup_key(Some(r#"ops:{alertname="Slow", job="db"}"#), None, &Labels::new()));
    }

    #[test]
    fn a_group_is_one_incident_keyed_by_its_group() {
        let (event, d) = group_open(MULTIPLE);
        assert_eq!(open(&event.input).0, "inc-1");
        assert_eq!(d.dedup_key, Some(group_dedup_key(Some("{}:{}"), None, &Labels::new())));
        assert_eq!(d.title, "InstanceDown", "commonLabels.alertname; no group labels");
        assert_eq!(d.severity, Severity::Sev1, "commonLabels.severity critical");
        assert_eq!(d.service, "prometheus");
        assert_eq!(d.source, "alertmanager");
        assert_eq!(
            d.labels,
            labels(&[("alertname", "InstanceDown"), ("code", "200"), ("job", "prometheus"), ("monitor", "codelab-monitor"), ("severity", "critical")])
        );
        assert_eq!(
            d.links,
            vec!["http://pop-os:9093".to_string(), "http://pop-os:9090/graph?g0.expr=promhttp_metric_handler_requests_total+%3E+20&g0.tab=1".to_string()]
        );
        assert_eq!(
            d.summary,
            "2 alerts firing in this Alertmanager notification (receiver goalert, group {}:{}).\n\
             - instance=127.0.0.1:9090: Instance 127.0.0.1:9090 down — 127.0.0.1:9090 of job prometheus has been down for more than 1 minute.\n\
             - instance=localhost:9090: Instance localhost:9090 down — localhost:9090 of job prometheus has been down for more than 1 minute."
        );
        assert_eq!(event.at.unwrap().to_rfc3339(), "2020-08-08T02:21:08.326990857+00:00", "the earliest firing startsAt");
    }

    #[test]
    fn group_labels_name_the_group_and_common_annotations_are_not_repeated() {
        let (_, d) = group_open(GROUPED);
        assert_eq!(d.title, "InstanceDown", "alertname is the title already");
        assert_eq!(d.dedup_key, Some(group_dedup_key(Some("{}:{alertname=\"InstanceDown\"}"), None, &Labels::new())));
        assert!(d.links.is_empty(), "empty externalURL and generatorURLs are no evidence: {:?}", d.links);
        assert!(
            d.summary.contains("\n- group=production, instance=localhost:8081: Instance localhost:8081 down — localhost:8081 of job node"),
            "{}",
            d.summary
        );

        let json = r#"{"status":"firing","receiver":"ops","groupKey":"{}:{cluster=\"eu\", job=\"db\"}",
            "groupLabels":{"job":"db","cluster":"eu"},"commonLabels":{"job":"db","cluster":"eu","alertname":"Slow"},
            "commonAnnotations":{"summary":"Database slow","description":"p99 over 2 s","runbook_url":"https://runbooks.example/db"},
            "alerts":[{"status":"firing","labels":{"job":"db","cluster":"eu","alertname":"Slow","instance":"db-1"},
                       "annotations":{"summary":"Database slow","description":"p99 over 2 s"},"generatorURL":"https://prom.example/g1"},
                      {"status":"firing","labels":{"job":"db","cluster":"eu","alertname":"Slow","instance":"db-2"},
                       "annotations":{"summary":"Database slow","description":"p99 over 5 s"},"generatorURL":"javascript:alert(1)"}]}"#;
        let (_, d) = group_open(json);
        assert_eq!(d.title, "Database slow (cluster=eu, job=db)");
        assert_eq!(d.severity, Severity::Sev3, "no severity anywhere: the default");
        assert_eq!(
            d.summary,
            "p99 over 2 s\n\n2 alerts firing in this Alertmanager notification (receiver ops, group {}:{cluster=\"eu\", job=\"db\"}).\n\
             - instance=db-1\n\
             - instance=db-2: p99 over 5 s"
        );
        assert_eq!(d.links, vec!["https://runbooks.example/db".to_string(), "https://prom.example/g1".to_string()]);
    }

    #[test]
    fn a_firing_group_with_resolved_members_lists_the_firing_ones() {
        let (_, d) = group_open(MIXED);
        assert_eq!(d.title, "Alertmanager group for webhook (job=foo)", "no summary or alertname in common; two members");
        assert_eq!(d.severity, Severity::Sev3, "the firing member is a warning; the resolved critical does not count");
        assert_eq!(d.labels, labels(&[("job", "foo")]));
        assert_eq!(d.links, vec!["http://example.com/".to_string()]);
        assert_eq!(
            d.summary,
            "1 alert firing, 1 resolved in this Alertmanager notification (receiver webhook, group {}:{job=\"foo\"}).\n\
             - severity=warning: something happened"
        );
    }

    #[test]
    fn a_resolved_group_resolves_by_its_key() {
        let resolved = MIXED.replace("\"firing\"", "\"resolved\"");
        let intake = parse_payload_detailed(&resolved, &mut counter()).unwrap();
        let key = group_dedup_key(Some("{}:{job=\"foo\"}"), None, &Labels::new());
        assert_eq!(intake.events.len(), 1);
        assert_eq!(intake.events[0].input, Input::ResolveByKey { dedup_key: key, by: Actor::Automation });
        assert_eq!(intake.events[0].at.unwrap().to_rfc3339(), "0001-01-01T00:00:02+00:00", "the latest endsAt");
        // Without a group status, the alerts decide: all resolved.
        let json = r#"{"groupKey":"g","alerts":[{"status":"resolved"},{"status":"resolved"}]}"#;
        let key = group_dedup_key(Some("g"), None, &Labels::new());
        assert_eq!(parse_payload(json, &mut counter()).unwrap(), vec![Input::ResolveByKey { dedup_key: key, by: Actor::Automation }]);
    }

    #[test]
    fn severity_of_a_group_without_a_common_one_is_its_worst_firing_alert() {
        let json = r#"{"status":"firing","groupKey":"k","alerts":[
            {"labels":{"severity":"warning"}},{"labels":{"severity":"high"}},{"status":"resolved","labels":{"severity":"critical"}},{"labels":{"severity":"info"}}]}"#;
        assert_eq!(group_open(json).1.severity, Severity::Sev2);
        for (word, sev) in [("critical", 1), ("error", 2), ("high", 2), ("warning", 3), ("info", 4), ("weird", 3)] {
            let json = format!(r#"{{"status":"firing","commonLabels":{{"severity":"{word}"}},"alerts":[{{"labels":{{"severity":"{word}"}}}}]}}"#);
            assert_eq!(group_open(&json).1.severity, Severity::ALL[sev - 1], "{word}");
        }
    }

    #[test]
    fn a_sender_without_group_key_or_common_maps_still_makes_one_group() {
        // GoAlert's test payload: no groupKey, no groupLabels; commonLabels that do not match the alert.
        let (_, d) = group_open(MINIMAL);
        assert_eq!(d.dedup_key, Some(group_dedup_key(None, Some("alert-name-receiver-1"), &Labels::new())));
        assert_ne!(d.dedup_key, Some(group_dedup_key(None, Some("another-receiver"), &Labels::new())));
        assert_eq!(d.title, "InstanceDown", "commonLabels.alertname, as GoAlert pages it");
        assert_eq!(d.labels, labels(&[("alertname", "InstanceDown"), ("instance", "foobar")]));
        assert_eq!(
            d.summary,
            "1 alert firing in this Alertmanager notification (receiver alert-name-receiver-1).\n- alertname=TestAlert: My alert summary — My description"
        );
        assert_eq!(d.links, vec!["http://my.url".to_string()]);

        // No common maps at all: the ones every alert shares, as Alertmanager computes them.
        let json = r#"{"status":"firing","receiver":"r","alerts":[
            {"labels":{"alertname":"DiskFull","severity":"critical","host":"a"},"annotations":{"summary":"Disk full"}},
            {"labels":{"alertname":"DiskFull","severity":"critical","host":"b"},"annotations":{"summary":"Disk full"}}]}"#;
        let (_, d) = group_open(json);
        assert_eq!(d.labels, labels(&[("alertname", "DiskFull"), ("severity", "critical")]));
        assert_eq!((d.title.as_str(), d.severity), ("Disk full", Severity::Sev1));
        assert!(d.summary.ends_with("\n- host=a\n- host=b"), "{}", d.summary);
    }

    #[test]
    fn the_only_firing_alert_titles_a_group_without_common_words() {
        let json = r#"{"status":"firing","alerts":[{"labels":{"job":"x"},"annotations":{"summary":"Only one"}},
            {"status":"resolved","labels":{"job":"y"},"annotations":{"summary":"Gone"}}]}"#;
        assert_eq!(group_open(json).1.title, "Only one");
        let json = r#"{"status":"firing","alerts":[{"labels":{"job":"x"}},{"labels":{"job":"y"}}]}"#;
        assert_eq!(group_open(json).1.title, "Alertmanager alert group");
    }

    #[test]
    fn a_huge_group_is_listed_bounded() {
        let alerts: Vec<String> = (0..5_000)
            .map(|i| {
                format!(
                    r#"{{"labels":{{"alertname":"A","i":"{i}"}},"generatorURL":"https://prom.example/{i}","annotations":{{"description":"{}"}}}}"#,
                    "x".repeat(if i < 100 { 700 } else { 0 })
                )
            })
            .collect();
        let json = format!(r#"{{"status":"firing","groupKey":"k","truncatedAlerts":7,"alerts":[{}]}}"#, alerts.join(","));
        let (_, d) = group_open(&json);
        assert_eq!(d.summary.lines().filter(|l| l.starts_with("- ")).count(), MAX_LISTED_ALERTS);
        assert!(d.summary.lines().all(|l| l.chars().count() <= MAX_ALERT_LINE + 2), "each line is cut");
        assert!(d.summary.contains("\n… and 4950 more firing.\n"), "{}", d.summary.lines().last().unwrap_or_default());
        assert!(d.summary.ends_with("Alertmanager left 7 more alerts out of this notification (truncatedAlerts: 7)."));
        assert!(d.summary.chars().count() < crate::engine::escalation::TEXT_MAX, "{}", d.summary.len());
        assert_eq!(d.links.len(), MAX_GROUP_LINKS);
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
            for grouping in [AlertmanagerGrouping::PerGroup, AlertmanagerGrouping::PerAlert] {
                let err = parse_payload_with(json, grouping, &mut counter()).unwrap_err();
                assert_eq!(err.to_string(), *expected, "{json} {grouping:?}");
            }
        }
        let err = parse_payload(r#"{"groupKey":5,"alerts":[{"status":"firing"}]}"#, &mut counter()).unwrap_err();
        assert_eq!(err.to_string(), "groupKey: invalid type: integer `5`, expected a string");
    }

    #[test]
    fn truncated_fixtures_never_panic() {
        for text in [MULTIPLE, GROUPED, MIXED, MINIMAL] {
            for cut in (0..text.len()).step_by(7) {
                if text.is_char_boundary(cut) {
                    let _ = parse_payload(&text[..cut], &mut counter());
                    let _ = parse_payload_with(&text[..cut], AlertmanagerGrouping::PerAlert, &mut counter());
                }
            }
        }
    }
}
