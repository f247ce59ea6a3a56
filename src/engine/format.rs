//! Piket's JSON formats — people, schedules, policies, rules, a whole world, and scenarios (a world
//! plus timed inputs) — with errors that name the path (`[0].levels[2].ack_timeout: expected minutes
//! > 0`), and [`simulate`], which runs a scenario on a virtual clock.
//!
//! Owns: parsing (`parse_*`), the validation pass ([`validate`]: references, ranges, shapes serde
//! cannot see) and the scenario runner. Never: reads files or the clock (the CLI and the importer
//! hand it text). Examples of every format live in `examples/` at the repository root.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::escalation::{Effect, Engine, Input, Rejected};
use super::id::{IncidentId, PersonId};
use super::person::Person;
use super::policy::{EscalationPolicy, Target};
use super::rules::{Action, Rule};
use super::schedule::{OnCallSchedule, RotationLength};
use super::time::TimeWindow;
use super::world::World;

/// One problem in a document: where (`policies[0].levels[2].ack_timeout`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == "." {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found, one per line when shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatErrors(pub Vec<FormatError>);

impl fmt::Display for FormatErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FormatErrors {}

fn parse<T: DeserializeOwned>(json: &str) -> Result<T, FormatErrors> {
    crate::json::from_str(json).map_err(|e| FormatErrors(vec![FormatError { path: e.path, message: e.message }]))
}

fn checked<T>(value: T, errors: Vec<FormatError>) -> Result<T, FormatErrors> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(FormatErrors(errors))
    }
}

/// A JSON array of people (`examples/people.json`).
pub fn parse_people(json: &str) -> Result<Vec<Person>, FormatErrors> {
    let people: Vec<Person> = parse(json)?;
    let mut v = Validation::default();
    v.people(&people, "");
    checked(people, v.errors)
}

/// A JSON array of on-call schedules (`examples/schedules.json`). People are not checked here
/// (see [`validate`] for a whole world).
pub fn parse_schedules(json: &str) -> Result<Vec<OnCallSchedule>, FormatErrors> {
    let schedules: Vec<OnCallSchedule> = parse(json)?;
    let mut v = Validation::default();
    v.schedules(&schedules, "");
    checked(schedules, v.errors)
}

/// A JSON array of escalation policies (`examples/policies.json`).
pub fn parse_policies(json: &str) -> Result<Vec<EscalationPolicy>, FormatErrors> {
    let policies: Vec<EscalationPolicy> = parse(json)?;
    let mut v = Validation::default();
    v.policies(&policies, "");
    checked(policies, v.errors)
}

/// A JSON array of rules (`examples/rules.json`).
pub fn parse_rules(json: &str) -> Result<Vec<Rule>, FormatErrors> {
    let rules: Vec<Rule> = parse(json)?;
    let mut v = Validation::default();
    v.rules(&rules, "");
    checked(rules, v.errors)
}

/// A whole world, checked including references between its parts.
pub fn parse_world(json: &str) -> Result<World, FormatErrors> {
    let world: World = parse(json)?;
    let errors = validate(&world).err().map(|e| e.0).unwrap_or_default();
    checked(world, errors)
}

/// A scenario, checked: its world, and inputs in time order.
pub fn parse_scenario(json: &str) -> Result<Scenario, FormatErrors> {
    let scenario: Scenario = parse(json)?;
    let mut v = Validation { world: Some(&scenario.world), ..Validation::default() };
    v.world(&scenario.world, "world.");
    for (i, pair) in scenario.inputs.windows(2).enumerate() {
        if pair[1].at < pair[0].at {
            v.error(format!("inputs[{}].at", i + 1), "inputs must be in time order");
        }
    }
    if let (Some(until), Some(last)) = (scenario.until, scenario.inputs.last()) {
        if until < last.at {
            v.error("until".into(), "must not be before the last input");
        }
    }
    let errors = v.errors;
    checked(scenario, errors)
}

/// Check a world: unique ids, references that exist, ranges that make sense.
pub fn validate(world: &World) -> Result<(), FormatErrors> {
    let mut v = Validation { world: Some(world), ..Validation::default() };
    v.world(world, "");
    checked((), v.errors)
}

#[derive(Default)]
struct Validation<'w> {
    /// When set, references are checked against it.
    world: Option<&'w World>,
    errors: Vec<FormatError>,
}

impl Validation<'_> {
    fn error(&mut self, path: String, message: impl Into<String>) {
        self.errors.push(FormatError { path, message: message.into() });
    }

    fn unique<'a>(&mut self, ids: impl Iterator<Item = &'a str>, path: &str, what: &str) {
        let mut seen = BTreeSet::new();
        for (i, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.error(format!("{path}[{i}].id"), format!("a {what} needs an id"));
            } else if !seen.insert(id) {
                self.error(format!("{path}[{i}].id"), format!("another {what} already has the id “{id}”"));
            }
        }
    }

    fn world(&mut self, w: &World, at: &str) {
        self.people(&w.people, &format!("{at}people"));
        self.unique(w.teams.iter().map(|t| t.id.as_str()), &format!("{at}teams"), "team");
        for (i, t) in w.teams.iter().enumerate() {
            for (j, m) in t.members.iter().enumerate() {
                self.person_ref(m, format!("{at}teams[{i}].members[{j}]"));
            }
            if let Some(s) = &t.schedule {
                if w.schedule(s).is_none() {
                    self.error(format!("{at}teams[{i}].schedule"), format!("no schedule “{s}”"));
                }
            }
        }
        self.unique(w.channels.iter().map(|c| c.id.as_str()), &format!("{at}channels"), "channel");
        self.schedules(&w.schedules, &format!("{at}schedules"));
        self.policies(&w.policies, &format!("{at}policies"));
        self.rules(&w.rules, &format!("{at}rules"));
        self.unique(w.maintenance.iter().map(|m| m.id.as_str()), &format!("{at}maintenance"), "maintenance window");
        for (i, m) in w.maintenance.iter().enumerate() {
            if m.end <= m.start {
                self.error(format!("{at}maintenance[{i}].end"), "must be after start");
            }
        }
        if let Some(p) = &w.default_policy {
            if w.policy(p).is_none() {
                self.error(format!("{at}default_policy"), format!("no policy “{p}”"));
            }
        }
    }

    fn people(&mut self, people: &[Person], path: &str) {
        self.unique(people.iter().map(|p| p.id.as_str()), path, "person");
        for (i, p) in people.iter().enumerate() {
            if p.id == "automation" {
                self.error(format!("{path}[{i}].id"), "“automation” is reserved for the engine's own actions");
            }
            if let Err(e) = p.clone().validated(&people[..i]) {
                self.error(format!("{path}[{i}].{}", e.field()), e.to_string());
            }
        }
    }

    fn person_ref(&mut self, id: &str, path: String) {
        if let Some(w) = self.world {
            if w.person(id).is_none() {
                self.error(path, format!("no person “{id}”"));
            }
        }
    }

    fn window(&mut self, w: &TimeWindow, path: String) {
        if w.from.is_some() != w.to.is_some() {
            self.error(path, "give both from and to, or neither (whole days)");
        }
    }

    fn schedules(&mut self, schedules: &[OnCallSchedule], path: &str) {
        self.unique(schedules.iter().map(|s| s.id.as_str()), path, "schedule");
        for (i, s) in schedules.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if s.layers.is_empty() {
                self.error(format!("{at}.layers"), "a schedule needs at least one layer");
            }
            for (j, l) in s.layers.iter().enumerate() {
                let at = format!("{at}.layers[{j}]");
                if l.people.is_empty() {
                    self.error(format!("{at}.people"), "a rotation needs at least one person");
                }
                for (k, p) in l.people.iter().enumerate() {
                    self.person_ref(p, format!("{at}.people[{k}]"));
                }
                if matches!(l.every, RotationLength::Days(0) | RotationLength::Hours(0)) {
                    self.error(format!("{at}.every"), "expected a length > 0");
                }
                for (k, w) in l.restrictions.iter().enumerate() {
                    self.window(w, format!("{at}.restrictions[{k}]"));
                }
            }
            for (j, o) in s.overrides.iter().enumerate() {
                let at = format!("{at}.overrides[{j}]");
                if o.end <= o.start {
                    self.error(format!("{at}.end"), "must be after start");
                }
                let kinds = [o.add.is_some(), o.remove.is_some(), o.with.is_some()].iter().filter(|b| **b).count();
                if kinds != 1 {
                    self.error(at.clone(), "an override needs exactly one of: add, remove, with (optionally with replace)");
                }
                if o.replace.is_some() && o.with.is_none() {
                    self.error(format!("{at}.with"), "replace needs with (who takes over)");
                }
                for (field, p) in [("add", &o.add), ("remove", &o.remove), ("replace", &o.replace), ("with", &o.with)] {
                    if let Some(p) = p {
                        self.person_ref(p, format!("{at}.{field}"));
                    }
                }
            }
        }
    }

    fn target(&mut self, t: &Target, path: String) {
        let Some(w) = self.world else { return };
        let missing = match t {
            Target::Person(id) => w.person(id).is_none().then(|| format!("no person “{id}”")),
            Target::Schedule(id) => w.schedule(id).is_none().then(|| format!("no schedule “{id}”")),
            Target::Team(id) => w.team(id).is_none().then(|| format!("no team “{id}”")),
            Target::Channel(id) => w.channel(id).is_none().then(|| format!("no channel “{id}”")),
        };
        if let Some(m) = missing {
            self.error(path, m);
        }
    }

    fn policies(&mut self, policies: &[EscalationPolicy], path: &str) {
        self.unique(policies.iter().map(|p| p.id.as_str()), path, "policy");
        for (i, p) in policies.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if p.levels.is_empty() {
                self.error(format!("{at}.levels"), "a policy needs at least one level");
            }
            for (j, l) in p.levels.iter().enumerate() {
                let at = format!("{at}.levels[{j}]");
                if l.targets.is_empty() {
                    self.error(format!("{at}.targets"), "a level needs at least one target");
                }
                for (k, t) in l.targets.iter().enumerate() {
                    self.target(t, format!("{at}.targets[{k}]"));
                }
                let last = j + 1 == p.levels.len();
                if l.ack_timeout.is_none() && l.resolution_timeout.is_none() && (!last || p.repeat.is_some()) {
                    self.error(at.clone(), "a dead end: give ack_timeout or resolution_timeout (only a last level that does not repeat may wait forever)");
                }
                for (k, w) in l.only_during.iter().enumerate() {
                    self.window(w, format!("{at}.only_during[{k}]"));
                }
                for (k, w) in l.except_during.iter().enumerate() {
                    self.window(w, format!("{at}.except_during[{k}]"));
                }
                if let Some(cp) = &l.checkpoint {
                    if cp.prompt.trim().is_empty() {
                        self.error(format!("{at}.checkpoint.prompt"), "say what is to be confirmed");
                    }
                }
            }
            if let Some(r) = &p.repeat {
                if !(1..=100).contains(&r.times) {
                    self.error(format!("{at}.repeat.times"), "expected 1 to 100 loops");
                }
                if r.from_level == 0 || r.from_level as usize > p.levels.len() {
                    self.error(format!("{at}.repeat.from_level"), format!("expected a level from 1 to {}", p.levels.len()));
                }
            }
        }
    }

    fn rules(&mut self, rules: &[Rule], path: &str) {
        self.unique(rules.iter().map(|r| r.id.as_str()), path, "rule");
        for (i, r) in rules.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if r.then.is_empty() {
                self.error(format!("{at}.then"), "a rule needs at least one action");
            }
            let routed = r.then.iter().find_map(|a| match a {
                Action::RouteTo(p) => Some(p.clone()),
                _ => None,
            });
            for (j, a) in r.then.iter().enumerate() {
                let at = format!("{at}.then[{j}]");
                match a {
                    Action::RouteTo(p) => {
                        if self.world.is_some_and(|w| w.policy(p).is_none()) {
                            self.error(format!("{at}.route_to"), format!("no policy “{p}”"));
                        }
                    }
                    Action::StartAtLevel(k) => {
                        let most = self.world.map(|w| match routed.as_deref().and_then(|p| w.policy(p)) {
                            Some(p) => p.levels.len(),
                            None => w.policies.iter().map(|p| p.levels.len()).max().unwrap_or(0),
                        });
                        if *k == 0 || most.is_some_and(|m| *k as usize > m) {
                            self.error(format!("{at}.start_at_level"), format!("expected a level from 1 to {}", most.unwrap_or(u32::MAX as usize)));
                        }
                    }
                    Action::AddTargets(ts) => {
                        for (k, t) in ts.iter().enumerate() {
                            self.target(t, format!("{at}.add_targets[{k}]"));
                        }
                    }
                    Action::EscalateFaster(f) => {
                        if !(*f > 0.0 && *f <= 1.0) {
                            self.error(format!("{at}.escalate_faster"), "expected a factor in (0, 1], e.g. 0.5 halves every timeout");
                        }
                    }
                    Action::SetPriority(_) | Action::SetSeverity(_) | Action::Suppress(_) => {}
                }
            }
        }
    }
}

/// A world and what happens in it, for drills, CI checks of a policy, and tests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub world: World,
    /// In time order.
    pub inputs: Vec<TimedInput>,
    /// Run the virtual clock up to here after the last input (default: 24 hours after it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// An input and when it happens: `{"at": "2025-03-01T02:00:00Z", "input": "acknowledge", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedInput {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub input: Input,
}

/// One line of a simulation's output (the CLI prints these as JSON lines).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulationLine {
    pub time: DateTime<Utc>,
    /// A timeline kind (`paged`, `escalated`…) or `rejected` for an input the engine refused.
    pub kind: String,
    pub incident: Option<IncidentId>,
    pub level: Option<u32>,
    #[serde(rename = "loop")]
    pub pass: Option<u32>,
    pub target: Option<String>,
    pub person: Option<PersonId>,
    pub key: Option<String>,
    pub actor: Option<String>,
    pub detail: String,
}

impl From<&Effect> for SimulationLine {
    fn from(e: &Effect) -> SimulationLine {
        let x = &e.entry;
        SimulationLine {
            time: x.at,
            kind: x.kind.as_str().to_string(),
            incident: Some(e.incident.clone()),
            level: x.level,
            pass: x.pass,
            target: x.target.clone(),
            person: x.person.clone(),
            key: x.key.clone(),
            actor: Some(x.actor.to_string()),
            detail: x.detail.clone(),
        }
    }
}

/// What a scenario produced: every effect in order, plus refused inputs in their place.
pub struct Simulation {
    pub lines: Vec<SimulationLine>,
    pub effects: Vec<Effect>,
    pub engine: Engine,
}

/// Run a scenario: each input at its time (deadlines before it fire first), then the clock up to
/// `until`.
pub fn simulate(scenario: &Scenario) -> Simulation {
    let mut engine = Engine::new();
    let (mut lines, mut effects) = (Vec::new(), Vec::new());
    for timed in &scenario.inputs {
        let incident = timed.input.incident_id().cloned();
        let outcome = engine.handle(&scenario.world, timed.at, timed.input.clone());
        lines.extend(outcome.effects.iter().map(SimulationLine::from));
        effects.extend(outcome.effects);
        if let Some(r) = outcome.rejected {
            lines.push(rejected(timed.at, incident, r));
        }
    }
    let end = scenario.until.or_else(|| scenario.inputs.last().map(|i| i.at + Duration::hours(24)));
    if let Some(end) = end {
        let out = engine.handle_timeout(&scenario.world, end);
        lines.extend(out.iter().map(SimulationLine::from));
        effects.extend(out);
    }
    Simulation { lines, effects, engine }
}

fn rejected(at: DateTime<Utc>, incident: Option<IncidentId>, r: Rejected) -> SimulationLine {
    SimulationLine {
        time: at,
        kind: "rejected".into(),
        incident,
        level: None,
        pass: None,
        target: None,
        person: None,
        key: None,
        actor: None,
        detail: r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(result: Result<(), FormatErrors>, want: &[&str]) {
        let got = result.err().map(|e| e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap_or_default();
        assert_eq!(got.len(), want.len(), "got {got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "got “{g}”, want it to start with “{w}”");
        }
    }

    #[test]
    fn parse_errors_name_the_path() {
        let bad_timeout = r#"[{"id":"p","levels":[{"targets":[{"person":"a"}],"ack_timeout":5},{"targets":[{"person":"a"}],"ack_timeout":5},{"targets":[{"person":"a"}],"ack_timeout":0}]}]"#;
        check(parse_policies(bad_timeout).map(|_| ()), &["[0].levels[2].ack_timeout: expected minutes > 0"]);
        let unknown = r#"[{"id":"p","levels":[{"targets":[{"person":"a"}],"ack_timout":5}]}]"#;
        check(parse_policies(unknown).map(|_| ()), &["[0].levels[0].ack_timout: unknown field `ack_timout`"]);
        let bad_target = r#"[{"id":"p","levels":[{"targets":[{"pager":"a"}]}]}]"#;
        check(parse_policies(bad_target).map(|_| ()), &["[0].levels[0].targets[0]: unknown variant `pager`"]);
        let bad_zone = r#"[{"id":"s","time_zone":"Mars/Base","layers":[]}]"#;
        check(parse_schedules(bad_zone).map(|_| ()), &["[0].time_zone: “Mars/Base” is not a known time zone"]);
        let bad_condition = r#"[{"id":"r","when":{"all":[{"field":"titel","contains":"x"}]},"then":[{"suppress":"x"}]}]"#;
        check(parse_rules(bad_condition).map(|_| ()), &["[0].when.all[0]: unknown field “titel”"]);
    }

    #[test]
    fn validation_names_the_path() {
        let world = r#"{
            "people":[{"id":"a","name":"Ann","time_zone":"UTC"},{"id":"b","name":"ann","time_zone":"UTC"}],
            "schedules":[{"id":"s","time_zone":"UTC","layers":[{"people":["a","zed"],"start":"2025-01-01T09:00","every":{"days":0}}],
                "overrides":[{"start":"2025-01-02T00:00:00Z","end":"2025-01-01T00:00:00Z","add":"a"}]}],
            "policies":[{"id":"p","levels":[{"targets":[{"schedule":"nope"}]},{"targets":[{"person":"a"}]}],"repeat":{"times":2,"from_level":3}}],
            "rules":[{"id":"r","then":[{"route_to":"q"},{"escalate_faster":2}]}],
            "default_policy":"p"
        }"#;
        check(
            parse_world(world).map(|_| ()),
            &[
                "people[1].name: Someone named “Ann” already exists.",
                "schedules[0].layers[0].people[1]: no person “zed”",
                "schedules[0].layers[0].every: expected a length > 0",
                "schedules[0].overrides[0].end: must be after start",
                "policies[0].levels[0].targets[0]: no schedule “nope”",
                "policies[0].levels[0]: a dead end",
                "policies[0].levels[1]: a dead end",
                "policies[0].repeat.from_level: expected a level from 1 to 2",
                "rules[0].then[0].route_to: no policy “q”",
                "rules[0].then[1].escalate_faster: expected a factor",
            ],
        );
    }

    #[test]
    fn scenario_inputs_read_flat() {
        let s = r#"{"world":{},"inputs":[
            {"at":"2025-01-01T00:00:00Z","input":"open","id":"i","details":{"title":"x"}},
            {"at":"2025-01-01T00:01:00Z","input":"acknowledge","incident":"i","by":"a"}]}"#;
        let scenario = parse_scenario(s).unwrap();
        assert_eq!(scenario.inputs.len(), 2);
        let bad = r#"{"world":{},"inputs":[{"at":"2025-01-01T00:00:00Z","input":"acknowledge","incident":"i","by":"a","extra":1}]}"#;
        assert!(parse_scenario(bad).is_err());
        let unordered = r#"{"world":{},"inputs":[
            {"at":"2025-01-01T00:01:00Z","input":"resolve","incident":"i"},
            {"at":"2025-01-01T00:00:00Z","input":"resolve","incident":"i"}]}"#;
        check(parse_scenario(unordered).map(|_| ()), &["inputs[1].at: inputs must be in time order"]);
    }
}
