//! The incident list with every metric's column, as plain rows and as CSV (RFC 4180).
//!
//! Text a person or a monitor typed (title, service, dedup key, names) is data, never a formula:
//! a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
//! (OWASP's advice against CSV injection), and any cell holding a comma, a quote or a line break
//! is quoted with its quotes doubled, so every title reads back exactly as written (with the `'`
//! where one was added).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{facts_in, Facts, ReportQuery, Zones};
use crate::engine::incident::{Incident, IncidentId};
use crate::engine::world::World;

/// One incident of a report, with the figures it contributes to. Times are RFC 3339 UTC,
/// durations whole seconds; empty where it does not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: IncidentId,
    pub title: String,
    pub service: String,
    pub severity: String,
    pub policy: String,
    pub dedup_key: String,
    pub opened_at: String,
    pub acknowledged_at: String,
    pub acknowledged_by: String,
    /// The level current at the acknowledgement.
    pub ack_level: Option<u32>,
    pub resolved_at: String,
    pub resolve_level: Option<u32>,
    pub time_to_ack_s: Option<i64>,
    pub time_to_resolve_s: Option<i64>,
    pub escalations: usize,
    pub time_to_escalation_s: Option<i64>,
    /// Of the first escalation.
    pub handoff_delay_s: Option<i64>,
    /// Of the first escalation that paged someone: `"yes"`, `"no"` or empty.
    pub context_passed: String,
    pub first_contact_resolution: bool,
    pub pages: usize,
    pub night_pages: usize,
    pub people_paged: usize,
    pub alerts: u32,
    /// `"up"`, `"down"`, `"other"`, or empty when unchanged.
    pub severity_changed: String,
    /// Ids of the rules that acted, separated by spaces.
    pub rules: String,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn row<'a>(f: &Facts<'a>, zones: &mut Zones<'a>) -> IncidentRow {
    let i = f.incident;
    let d = &i.details;
    let mut people: Vec<&str> = f.pages.iter().map(|(p, _)| p.as_str()).collect();
    people.sort_unstable();
    people.dedup();
    IncidentRow {
        id: i.id.clone(),
        title: d.title.clone(),
        service: d.service.clone(),
        severity: d.severity.as_str().to_string(),
        policy: f.policy_id().unwrap_or_default().to_string(),
        dedup_key: d.dedup_key.clone().unwrap_or_default(),
        opened_at: time(i.opened_at),
        acknowledged_at: f.ack.map(|a| time(a.0)).unwrap_or_default(),
        acknowledged_by: f.acked_by.map(|p| p.to_string()).unwrap_or_default(),
        ack_level: f.ack.and_then(|a| a.1),
        resolved_at: f.resolved.map(|r| time(r.0)).unwrap_or_default(),
        resolve_level: f.resolved.and_then(|r| r.1),
        time_to_ack_s: f.time_to_ack(),
        time_to_resolve_s: f.time_to_resolve(),
        escalations: f.handoffs.len(),
        time_to_escalation_s: f.time_to_escalation(),
        handoff_delay_s: f.handoffs.first().and_then(|h| h.delay_s),
        context_passed: match f.handoffs.iter().find_map(|h| h.context) {
            Some(true) => "yes".into(),
            Some(false) => "no".into(),
            None => String::new(),
        },
        first_contact_resolution: f.first_contact,
        pages: f.pages.len(),
        night_pages: f.pages.iter().filter(|(p, at)| zones.is_night(p, *at)).count(),
        people_paged: people.len(),
        alerts: i.alert_count,
        severity_changed: f.severity_change.map(|c| c.as_str().to_string()).unwrap_or_default(),
        rules: i.applied_rules.join(" "),
    }
}

/// The rows of the incidents a [`super::report`] with the same arguments counts, in the order
/// given.
pub fn incident_rows<'a>(world: &World, incidents: impl IntoIterator<Item = &'a Incident>, query: &ReportQuery) -> Vec<IncidentRow> {
    let mut zones = Zones::new(world, query);
    facts_in(world, incidents, query).iter().map(|f| row(f, &mut zones)).collect()
}

/// The CSV header, in column order.
pub const CSV_COLUMNS: [&str; 25] = [
    "id",
    "title",
    "service",
    "severity",
    "policy",
    "dedup_key",
    "opened_at",
    "acknowledged_at",
    "acknowledged_by",
    "ack_level",
    "resolved_at",
    "resolve_level",
    "time_to_ack_s",
    "time_to_resolve_s",
    "escalations",
    "time_to_escalation_s",
    "handoff_delay_s",
    "context_passed",
    "first_contact_resolution",
    "pages",
    "night_pages",
    "people_paged",
    "alerts",
    "severity_changed",
    "rules",
];

/// A cell of text someone typed: neutralised against formulas, then quoted where needed.
pub fn text_cell(text: &str, out: &mut String) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = text.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

fn number_cell<T: std::fmt::Display>(n: Option<T>, out: &mut String) {
    if let Some(n) = n {
        use std::fmt::Write as _;
        let _ = write!(out, "{n}");
    }
}

/// The rows as CSV: a header line, then one line per incident, lines ending in CRLF (RFC 4180).
pub fn csv(rows: &[IncidentRow]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 256);
    out.push_str(&CSV_COLUMNS.join(","));
    out.push_str("\r\n");
    for r in rows {
        let texts = [r.id.as_str(), &r.title, &r.service, &r.severity, &r.policy, &r.dedup_key, &r.opened_at, &r.acknowledged_at, &r.acknowledged_by];
        for t in texts {
            text_cell(t, &mut out);
            out.push(',');
        }
        number_cell(r.ack_level, &mut out);
        out.push(',');
        text_cell(&r.resolved_at, &mut out);
        out.push(',');
        number_cell(r.resolve_level, &mut out);
        out.push(',');
        number_cell(r.time_to_ack_s, &mut out);
        out.push(',');
        number_cell(r.time_to_resolve_s, &mut out);
        out.push(',');
        number_cell(Some(r.escalations), &mut out);
        out.push(',');
        number_cell(r.time_to_escalation_s, &mut out);
        out.push(',');
        number_cell(r.handoff_delay_s, &mut out);
        out.push(',');
        text_cell(&r.context_passed, &mut out);
        out.push(',');
        out.push_str(if r.first_contact_resolution { "true" } else { "false" });
        out.push(',');
        number_cell(Some(r.pages), &mut out);
        out.push(',');
        number_cell(Some(r.night_pages), &mut out);
        out.push(',');
        number_cell(Some(r.people_paged), &mut out);
        out.push(',');
        number_cell(Some(r.alerts), &mut out);
        out.push(',');
        text_cell(&r.severity_changed, &mut out);
        out.push(',');
        text_cell(&r.rules, &mut out);
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(s: &str) -> String {
        let mut out = String::new();
        text_cell(s, &mut out);
        out
    }

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
