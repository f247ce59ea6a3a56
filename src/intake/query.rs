//! Intake links: `#/new?title=…&severity=SEV2&service=…` pre-fills the new-incident form, so
//! monitoring links and bookmarks open an incident in one tap.
//!
//! Keys (values percent-decoded, `+` is a space; an empty value counts as not given):
//! `title`, `summary`, `severity` (SEV1…SEV4, or a field word such as `critical`, see
//! [`super::severity_from_word`]), `priority` (urgent|high|normal|low), `type`, `service`,
//! `source`, `environment`, `region`, `customer_impact` (true|false|yes|no|1|0), `sla_tier`,
//! `reporter`, `dedup_key`, `policy`, `link` (repeatable: each one an http/https evidence URL),
//! and `labels.<name>` (one label each).
//!
//! Choice: an unknown key is an error that lists every unknown key ([`IntakeError::UnknownQueryKeys`]),
//! and so is a key given twice (except `link`): a misspelt `sevrity=SEV1` silently opening at the
//! default severity is worse at 3 a.m. than a form that says which words it did not understand.
//! A missing title is not an error: the link pre-fills, the form asks for what is missing.

use super::{is_evidence_url, severity_from_word, IntakeError};
use crate::engine::{IncidentDetails, PolicyId, Priority};

/// The longest intake query read (64 KiB; browsers cut URLs elsewhere, this keeps a paste bounded).
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Read an intake link's query (`title=…&severity=SEV2…`; a leading `?`, or everything up to the
/// first `?` as in `#/new?…`, is skipped) into the details it pre-fills.
pub fn parse_intake_query(query: &str) -> Result<IncidentDetails, IntakeError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(IntakeError::QueryTooLong { bytes: query.len(), limit: MAX_QUERY_BYTES });
    }
    let query = query.split_once('?').map_or(query, |(_, q)| q);
    let mut details = IncidentDetails::default();
    let mut seen: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key, raw_key)?;
        let value = decode(&key, raw_value)?;
        if key != "link" {
            if seen.contains(&key) {
                return Err(IntakeError::DuplicateQueryKey(key));
            }
            seen.push(key.clone());
        }
        let value = value.trim();
        if !apply(&mut details, &key, value)? && !unknown.contains(&key) {
            unknown.push(key);
        }
    }
    if !unknown.is_empty() {
        return Err(IntakeError::UnknownQueryKeys(unknown));
    }
    Ok(details)
}

/// Like [`parse_intake_query`], but one bad parameter does not wipe the rest: every valid field is
/// kept, and each problem is returned (an [`IntakeError::InvalidQueryValue`] names its key, so a
/// form can mark the field). A link that is too long keeps nothing.
pub fn parse_intake_query_keeping(query: &str) -> (IncidentDetails, Vec<IntakeError>) {
    let mut details = IncidentDetails::default();
    if query.len() > MAX_QUERY_BYTES {
        return (details, vec![IntakeError::QueryTooLong { bytes: query.len(), limit: MAX_QUERY_BYTES }]);
    }
    let query = query.split_once('?').map_or(query, |(_, q)| q);
    let mut problems = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = match decode(raw_key, raw_key) {
            Ok(k) => k,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let value = match decode(&key, raw_value) {
            Ok(v) => v,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        if key != "link" {
            if seen.contains(&key) {
                problems.push(IntakeError::DuplicateQueryKey(key));
                continue;
            }
            seen.push(key.clone());
        }
        // A field is applied to a copy, so a bad value leaves the field as it was.
        let mut next = details.clone();
        match apply(&mut next, &key, value.trim()) {
            Ok(true) => details = next,
            Ok(false) if !unknown.contains(&key) => unknown.push(key),
            Ok(false) => {}
            Err(e) => problems.push(e),
        }
    }
    if !unknown.is_empty() {
        problems.push(IntakeError::UnknownQueryKeys(unknown));
    }
    (details, problems)
}

/// Set one field; `false` when the key is not one Piket knows.
fn apply(d: &mut IncidentDetails, key: &str, value: &str) -> Result<bool, IntakeError> {
    let invalid = |message: String| IntakeError::InvalidQueryValue { key: key.to_string(), message };
    let text = |field: &mut String| *field = value.to_string();
    match key {
        "title" => text(&mut d.title),
        "summary" => text(&mut d.summary),
        "type" => text(&mut d.kind),
        "service" => text(&mut d.service),
        "source" => text(&mut d.source),
        "environment" => text(&mut d.environment),
        "region" => text(&mut d.region),
        "sla_tier" => text(&mut d.sla_tier),
        "reporter" => text(&mut d.reporter),
        "dedup_key" => d.dedup_key = Some(value.to_string()).filter(|v| !v.is_empty()),
        "policy" => d.policy = Some(value).filter(|v| !v.is_empty()).map(PolicyId::from),
        "severity" if value.is_empty() => {}
        "severity" => d.severity = severity_from_word(value).ok_or_else(|| invalid(format!("“{value}” is not a severity; use SEV1, SEV2, SEV3 or SEV4")))?,
        "priority" if value.is_empty() => {}
        "priority" => {
            d.priority = Some(match value.to_ascii_lowercase().as_str() {
                "urgent" => Priority::Urgent,
                "high" => Priority::High,
                "normal" => Priority::Normal,
                "low" => Priority::Low,
                _ => return Err(invalid(format!("“{value}” is not a priority; use urgent, high, normal or low"))),
            })
        }
        "customer_impact" => {
            d.customer_impact = match value.to_ascii_lowercase().as_str() {
                "" | "false" | "no" | "0" | "off" => false,
                "true" | "yes" | "1" | "on" => true,
                _ => return Err(invalid(format!("“{value}” is not yes or no"))),
            }
        }
        "link" if value.is_empty() => {}
        "link" if !is_evidence_url(value) => return Err(invalid(format!("“{value}” is not an http or https URL"))),
        "link" => {
            if !d.links.iter().any(|l| l == value) {
                d.links.push(value.to_string());
            }
        }
        _ => match key.strip_prefix("labels.") {
            Some("") => return Err(invalid("a label needs a name after “labels.”".into())),
            Some(name) => {
                if !value.is_empty() {
                    d.labels.insert(name.to_string(), value.to_string());
                }
            }
            None => return Ok(false),
        },
    }
    Ok(true)
}

/// Percent-decode one key or value (`+` is a space). A `%` not followed by two hex digits is kept
/// as it is (people type "99%"); the decoded bytes must be UTF-8.
fn decode(key: &str, raw: &str) -> Result<String, IntakeError> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| IntakeError::InvalidQueryValue { key: key.to_string(), message: "not valid UTF-8 after percent-decoding".into() })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::Severity;

    #[test]
    fn one_bad_parameter_keeps_every_good_one_and_names_itself() {
        let (d, problems) = parse_intake_query_keeping("#/new?title=Disk+full&severity=sev2&link=ftp://x&service=db&priority=soon");
        assert_eq!((d.title.as_str(), d.severity, d.service.as_str()), ("Disk full", Severity::Sev2, "db"));
        assert!(d.links.is_empty() && d.priority.is_none());
        let keys: Vec<&str> = problems
            .iter()
            .map(|p| match p {
                IntakeError::InvalidQueryValue { key, .. } => key.as_str(),
                other => panic!("{other}"),
            })
            .collect();
        assert_eq!(keys, ["link", "priority"]);
        // The strict form still refuses the whole link.
        assert!(parse_intake_query("#/new?title=Disk+full&severity=sev2&link=ftp://x").is_err());
        let (_, problems) = parse_intake_query_keeping(&format!("title={}", "x".repeat(MAX_QUERY_BYTES)));
        assert!(matches!(problems[..], [IntakeError::QueryTooLong { .. }]));
    }

    #[test]
    fn reads_every_field_with_percent_decoding() {
        let d = parse_intake_query(
            "#/new?title=DB%20primary+down%20%E2%80%94%2099%&severity=SEV2&service=payments&summary=replica%20lag%0Aand%20errors\
             &environment=production&region=us-east-1&dedup_key=db%2Fprimary&labels.team=db&labels.tier=gold\
             &type=database&priority=urgent&customer_impact=yes&sla_tier=gold&reporter=alice&policy=major&source=grafana\
             &link=https%3A%2F%2Fgrafana.example%2Fd%2F1&link=https://logs.example/q?x=1",
        )
        .unwrap();
        let expected = IncidentDetails {
            title: "DB primary down — 99%".into(),
            summary: "replica lag\nand errors".into(),
            severity: Severity::Sev2,
            priority: Some(Priority::Urgent),
            kind: "database".into(),
            service: "payments".into(),
            source: "grafana".into(),
            environment: "production".into(),
            region: "us-east-1".into(),
            customer_impact: true,
            sla_tier: "gold".into(),
            links: vec!["https://grafana.example/d/1".into(), "https://logs.example/q?x=1".into()],
            labels: BTreeMap::from([("team".to_string(), "db".to_string()), ("tier".to_string(), "gold".to_string())]),
            reporter: "alice".into(),
            dedup_key: Some("db/primary".into()),
            policy: Some("major".into()),
        };
        assert_eq!(d, expected);
    }

    #[test]
    fn accepts_bare_and_question_mark_queries_and_empty_ones() {
        assert_eq!(parse_intake_query("title=x").unwrap().title, "x");
        assert_eq!(parse_intake_query("?title=x&&").unwrap().title, "x");
        assert_eq!(parse_intake_query("").unwrap(), IncidentDetails::default());
        let d = parse_intake_query("title=&severity=&dedup_key=").unwrap();
        assert_eq!((d.severity, d.dedup_key), (Severity::Sev3, None));
        assert_eq!(parse_intake_query("severity=sev1").unwrap().severity, Severity::Sev1);
        assert_eq!(parse_intake_query("severity=critical").unwrap().severity, Severity::Sev1);
    }

    #[test]
    fn hostile_text_stays_text() {
        let d = parse_intake_query("title=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E").unwrap();
        assert_eq!(d.title, "<img src=x onerror=alert(1)>");
        let err = parse_intake_query("link=javascript:alert(1)").unwrap_err();
        assert_eq!(err.to_string(), "link: “javascript:alert(1)” is not an http or https URL");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            ("title=x&sevrity=SEV1&utm_source=a&sevrity=SEV2", IntakeError::DuplicateQueryKey("sevrity".into())),
            ("title=x&sevrity=SEV1&utm_source=a", IntakeError::UnknownQueryKeys(vec!["sevrity".into(), "utm_source".into()])),
            ("title=a&title=b", IntakeError::DuplicateQueryKey("title".into())),
            ("labels.=x", IntakeError::InvalidQueryValue { key: "labels.".into(), message: "a label needs a name after “labels.”".into() }),
            ("title=%FF", IntakeError::InvalidQueryValue { key: "title".into(), message: "not valid UTF-8 after percent-decoding".into() }),
        ];
        for (q, expected) in cases {
            assert_eq!(parse_intake_query(q), Err(expected), "{q}");
        }
        assert_eq!(parse_intake_query("severity=SEV9").unwrap_err().to_string(), "severity: “SEV9” is not a severity; use SEV1, SEV2, SEV3 or SEV4");
        assert_eq!(parse_intake_query("priority=meh").unwrap_err().to_string(), "priority: “meh” is not a priority; use urgent, high, normal or low");
        assert_eq!(parse_intake_query("customer_impact=maybe").unwrap_err().to_string(), "customer_impact: “maybe” is not yes or no");
        assert_eq!(parse_intake_query("a=1&b=2").unwrap_err().to_string(), "Unknown field(s) in the link: a, b.");
        let long = format!("title={}", "x".repeat(MAX_QUERY_BYTES));
        assert!(matches!(parse_intake_query(&long), Err(IntakeError::QueryTooLong { .. })));
    }

    #[test]
    fn odd_percent_signs_never_panic() {
        for q in ["title=%", "title=%4", "title=%zz", "%=%", "title=100%25", "title=%E2%82"] {
            let _ = parse_intake_query(q);
        }
        assert_eq!(parse_intake_query("title=%4").unwrap().title, "%4");
        assert_eq!(parse_intake_query("title=100%25").unwrap().title, "100%");
    }
}
