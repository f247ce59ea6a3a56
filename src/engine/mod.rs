//! The escalation engine: Piket's functional core.
//!
//! Everything here is plain Rust. The engine never reads the clock (time is always a parameter),
//! never touches the browser (no `web_sys`, `leptos`, `wasm_bindgen`, `gloo`), and performs no I/O:
//! inputs go in, state changes and effects come out. That is what lets every escalation behaviour be a
//! fast, deterministic, native test on a virtual clock.
//!
//! Layout:
//! - [`time`]: minutes, zones, wall-clock windows, the DST rule.
//! - [`tz`]: the IANA time zone database (names, offsets, abbreviations).
//! - [`id`]: one identifier type per kind of thing (incident, person, policy, …).
//! - [`person`]: responders and their contacts.
//! - [`incident`]: incidents, statuses, the timeline.
//! - [`policy`]: escalation policies (levels, targets, timeouts, repeat, checkpoints).
//! - [`schedule`]: on-call schedules (rotations, layers, restrictions, overrides).
//! - [`rules`]: rules and maintenance windows.
//! - [`world`]: everything configured, together.
//! - [`escalation`]: the [`Engine`] state machine: `handle`, `handle_timeout`, `poll_timeout`.
//! - [`format`]: the JSON formats, their validation, and scenarios (`simulate`).
//!
//! Determinism: maps that affect output are `BTreeMap`s; ids come in with inputs; ties break by
//! incident id.

pub mod escalation;
pub mod format;
pub mod id;
pub mod incident;
pub mod person;
pub mod policy;
pub mod rules;
pub mod schedule;
pub mod time;
pub mod tz;
pub mod world;

pub use escalation::{Delivery, Effect, Engine, Input, Outcome, ReassignTo, Rejected};
pub use format::{
    parse_people, parse_policies, parse_rules, parse_scenario, parse_schedules, parse_world, simulate, validate, FormatError, FormatErrors, Scenario,
};
pub use id::{ChannelId, IncidentId, PersonId, PolicyId, RuleId, ScheduleId, TeamId};
pub use incident::{Actor, EntryKind, Incident, IncidentDetails, Priority, Severity, Status, TimelineEntry};
pub use policy::{EscalationPolicy, Level, Target, Timeout};
pub use schedule::OnCallSchedule;
pub use time::Minutes;
pub use world::World;
