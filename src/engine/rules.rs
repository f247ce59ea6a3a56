//! Rules and maintenance windows: what the team decided about incidents before they happen
//! ("title contains security → start at the SecOps level", "disk alerts on staging → suppress").
//!
//! Owns: [`Rule`], [`Condition`] (over fields, labels and text: equals, one of, contains, matches;
//! all/any/not; recurring), [`Action`], [`MaintenanceWindow`], and the glob matcher behind
//! `matches` (`*` and `?`, no regular expressions: the regex crate would cost ~500 KB of wasm).
//! Never: changes an incident itself — the escalation applies the actions a rule returns.
//!
//! Text comparisons ignore case.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::incident::{IncidentDetails, Priority, Severity, Status};
use super::policy::{PolicyId, Target};
use super::time::Minutes;

pub use super::id::RuleId;

/// When `when` holds for an incident (on opening, and on each later change), the actions run — once
/// per incident. Rules run in order; `stop` ends the list for an incident it matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: RuleId,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Absent: every incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    pub then: Vec<Action>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop: bool,
}

/// What a rule does. JSON: one key per action, e.g. `{"set_priority": "urgent"}`,
/// `{"route_to": "payments"}`, `{"start_at_level": 3}`, `{"add_targets": [{"person": "lead"}]}`,
/// `{"suppress": "known flapping check"}`, `{"escalate_faster": 0.5}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    SetPriority(Priority),
    SetSeverity(Severity),
    /// Escalate with this policy instead of the requested or default one (on opening only).
    RouteTo(PolicyId),
    /// Start at this level, 1-based (on opening); on a later change, jump forward to it.
    StartAtLevel(u32),
    /// Page these too, with the first level on opening or with the current level later.
    AddTargets(Vec<Target>),
    /// Page nobody; the incident is kept and the reason recorded (on opening only).
    Suppress(String),
    /// Multiply every timeout of the frozen policy by this factor in (0, 1] (on opening only).
    EscalateFaster(f64),
}

/// A condition. JSON, one shape per object:
/// `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`,
/// `{"field": "title", "contains": "security"}` (or `equals`, `one_of: [...]`, `matches: "*db-?*"`),
/// `{"recurring": {"at_least": 3, "within": 60, "same": "service"}}`.
///
/// Fields: title, summary, text (title and summary), severity, priority, type, service, source,
/// environment, region, customer_impact ("true"/"false"), sla_tier, reporter, dedup_key, status,
/// and `labels.NAME`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ConditionForm", into = "ConditionForm")]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Field { field: Field, test: Test },
    Recurring(Recurring),
}

impl Condition {
    /// The longest look-back of a "recurring" test in this condition (none: `None`).
    pub fn longest_lookback(&self) -> Option<chrono::Duration> {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().filter_map(Condition::longest_lookback).max(),
            Condition::Not(c) => c.longest_lookback(),
            Condition::Field { .. } => None,
            Condition::Recurring(r) => Some(r.within.duration()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Title,
    Summary,
    Text,
    Severity,
    Priority,
    Type,
    Service,
    Source,
    Environment,
    Region,
    CustomerImpact,
    SlaTier,
    Reporter,
    DedupKey,
    Status,
    Label(String),
}

const FIELD_NAMES: [(&str, Field); 15] = [
    ("title", Field::Title),
    ("summary", Field::Summary),
    ("text", Field::Text),
    ("severity", Field::Severity),
    ("priority", Field::Priority),
    ("type", Field::Type),
    ("service", Field::Service),
    ("source", Field::Source),
    ("environment", Field::Environment),
    ("region", Field::Region),
    ("customer_impact", Field::CustomerImpact),
    ("sla_tier", Field::SlaTier),
    ("reporter", Field::Reporter),
    ("dedup_key", Field::DedupKey),
    ("status", Field::Status),
];

impl Field {
    fn parse(name: &str) -> Option<Field> {
        if let Some(label) = name.strip_prefix("labels.") {
            return (!label.is_empty()).then(|| Field::Label(label.to_string()));
        }
        FIELD_NAMES.iter().find(|(n, _)| *n == name).map(|(_, f)| f.clone())
    }
    fn name(&self) -> String {
        match self {
            Field::Label(l) => format!("labels.{l}"),
            f => FIELD_NAMES.iter().find(|(_, g)| g == f).map(|(n, _)| n.to_string()).unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    Equals(String),
    OneOf(Vec<String>),
    Contains(String),
    /// Glob: `*` any run of characters, `?` one character; the whole value must match.
    Matches(String),
}

/// "N incidents with this service (or dedup key) in the last X, counting this one".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recurring {
    pub at_least: u32,
    pub within: Minutes,
    pub same: RecurBy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecurBy {
    Service,
    DedupKey,
}

/// The JSON shape of a condition, checked into a [`Condition`].
#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<Vec<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not: Option<Box<Condition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recurring: Option<Recurring>,
}

impl TryFrom<ConditionForm> for Condition {
    type Error = String;
    fn try_from(f: ConditionForm) -> Result<Condition, String> {
        let tests = [f.equals.is_some(), f.one_of.is_some(), f.contains.is_some(), f.matches.is_some()].iter().filter(|b| **b).count();
        let shapes = [f.all.is_some(), f.any.is_some(), f.not.is_some(), f.field.is_some() || tests > 0, f.recurring.is_some()].iter().filter(|b| **b).count();
        if shapes != 1 {
            return Err("a condition needs exactly one of: all, any, not, field (with a test), recurring".into());
        }
        if let Some(all) = f.all {
            return Ok(Condition::All(all));
        }
        if let Some(any) = f.any {
            return Ok(Condition::Any(any));
        }
        if let Some(not) = f.not {
            return Ok(Condition::Not(not));
        }
        if let Some(r) = f.recurring {
            if r.at_least == 0 {
                return Err("recurring.at_least: expected a count > 0".into());
            }
            return Ok(Condition::Recurring(r));
        }
        let name = f.field.ok_or("a field test needs \"field\"")?;
        let field = Field::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = FIELD_NAMES.iter().map(|(n, _)| *n).collect();
            format!("unknown field “{name}” (known: {}, labels.NAME)", known.join(", "))
        })?;
        if tests != 1 {
            return Err(format!("field “{name}” needs exactly one test: equals, one_of, contains, matches"));
        }
        let test = if let Some(v) = f.equals {
            Test::Equals(v)
        } else if let Some(v) = f.one_of {
            Test::OneOf(v)
        } else if let Some(v) = f.contains {
            Test::Contains(v)
        } else {
            Test::Matches(f.matches.unwrap_or_default())
        };
        Ok(Condition::Field { field, test })
    }
}

impl From<Condition> for ConditionForm {
    fn from(c: Condition) -> ConditionForm {
        match c {
            Condition::All(v) => ConditionForm { all: Some(v), ..Default::default() },
            Condition::Any(v) => ConditionForm { any: Some(v), ..Default::default() },
            Condition::Not(v) => ConditionForm { not: Some(v), ..Default::default() },
            Condition::Recurring(r) => ConditionForm { recurring: Some(r), ..Default::default() },
            Condition::Field { field, test } => {
                let mut f = ConditionForm { field: Some(field.name()), ..Default::default() };
                match test {
                    Test::Equals(v) => f.equals = Some(v),
                    Test::OneOf(v) => f.one_of = Some(v),
                    Test::Contains(v) => f.contains = Some(v),
                    Test::Matches(v) => f.matches = Some(v),
                }
                f
            }
        }
    }
}

/// What a condition is evaluated against.
pub struct Facts<'a> {
    pub details: &'a IncidentDetails,
    pub status: Status,
    /// Counts incidents opened in the last `within` sharing the service or dedup key with this one,
    /// this one included.
    pub recent: &'a dyn Fn(RecurBy, Minutes) -> u32,
}

impl Condition {
    pub fn holds(&self, facts: &Facts) -> bool {
        match self {
            Condition::All(cs) => cs.iter().all(|c| c.holds(facts)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(facts)),
            Condition::Not(c) => !c.holds(facts),
            Condition::Recurring(r) => (facts.recent)(r.same, r.within) >= r.at_least,
            Condition::Field { field, test } => {
                let d = facts.details;
                let owned;
                let value: &str = match field {
                    Field::Title => &d.title,
                    Field::Summary => &d.summary,
                    Field::Text => {
                        owned = format!("{}\n{}", d.title, d.summary);
                        &owned
                    }
                    Field::Severity => d.severity.as_str(),
                    Field::Priority => d.priority.map(Priority::as_str).unwrap_or(""),
                    Field::Type => &d.kind,
                    Field::Service => &d.service,
                    Field::Source => &d.source,
                    Field::Environment => &d.environment,
                    Field::Region => &d.region,
                    Field::CustomerImpact => {
                        if d.customer_impact {
                            "true"
                        } else {
                            "false"
                        }
                    }
                    Field::SlaTier => &d.sla_tier,
                    Field::Reporter => &d.reporter,
                    Field::DedupKey => d.dedup_key.as_deref().unwrap_or(""),
                    Field::Status => facts.status.as_str(),
                    Field::Label(name) => d.labels.get(name).map(String::as_str).unwrap_or(""),
                };
                test.passes(value)
            }
        }
    }
}

impl Test {
    fn passes(&self, value: &str) -> bool {
        let value = value.to_lowercase();
        match self {
            Test::Equals(v) => value == v.to_lowercase(),
            Test::OneOf(vs) => vs.iter().any(|v| value == v.to_lowercase()),
            Test::Contains(v) => value.contains(&v.to_lowercase()),
            Test::Matches(p) => glob(&p.to_lowercase(), &value),
        }
    }
}

/// Whole-string glob match: `*` is any run of characters (also none), `?` exactly one.
/// Linear backtracking on the last `*`, so no pattern can blow up.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A time range in which matching incidents page nobody (planned work, a known outage). An incident
/// opened inside it is kept and marked suppressed; if it is still open when the window ends, its
/// escalation starts then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Absent: every incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching: Option<Condition>,
}

impl MaintenanceWindow {
    pub fn covers(&self, t: DateTime<Utc>, facts: &Facts) -> bool {
        self.start <= t && t < self.end && self.matching.as_ref().is_none_or(|c| c.holds(facts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*breach*", "possible data breach detected", true),
            ("*breach*", "all good", false),
            ("db-?", "db-1", true),
            ("db-?", "db-12", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    fn check(condition: &str, details: &str, want: bool) {
        let c: Condition = serde_json::from_str(condition).unwrap();
        let d: IncidentDetails = serde_json::from_str(details).unwrap();
        let recent = |_: RecurBy, _: Minutes| 1;
        assert_eq!(c.holds(&Facts { details: &d, status: Status::New, recent: &recent }), want, "{condition} on {details}");
    }

    #[test]
    fn conditions() {
        let security = r#"{"title":"Security: odd logins","severity":"sev2"}"#;
        check(r#"{"field":"title","contains":"security"}"#, security, true);
        check(r#"{"field":"severity","one_of":["sev1","sev2"]}"#, security, true);
        check(r#"{"all":[{"field":"severity","equals":"sev1"},{"field":"title","contains":"security"}]}"#, security, false);
        check(r#"{"any":[{"field":"severity","equals":"sev1"},{"field":"title","matches":"security:*"}]}"#, security, true);
        check(r#"{"not":{"field":"labels.team","equals":"db"}}"#, r#"{"title":"x","labels":{"team":"DB"}}"#, false);
        check(r#"{"field":"customer_impact","equals":"true"}"#, r#"{"title":"x","customer_impact":true}"#, true);
        check(r#"{"recurring":{"at_least":2,"within":60,"same":"service"}}"#, security, false);
    }

    #[test]
    fn malformed_conditions_say_why() {
        let cases = [
            (r#"{"field":"titel","contains":"x"}"#, "unknown field “titel”"),
            (r#"{"field":"title"}"#, "needs exactly one test"),
            (r#"{"all":[],"any":[]}"#, "exactly one of"),
            (r#"{"field":"title","contains":"x","equals":"y"}"#, "needs exactly one test"),
        ];
        for (json, want) in cases {
            let err = serde_json::from_str::<Condition>(json).unwrap_err().to_string();
            assert!(err.contains(want), "{json}: {err}");
        }
    }
}
