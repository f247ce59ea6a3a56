//! A policy as typed in the editor, and its way to and from [`EscalationPolicy`].
//!
//! Every field is a signal of its own (so typing in one re-renders nothing else); the draft is
//! turned into the policy JSON format and read back with [`parse_policies`], which names the path
//! of anything wrong (`levels[1].ack_timeout`).

use leptos::prelude::*;
use serde_json::{json, Value};

use super::fields::{dates_json, dates_text, minutes_json, minutes_text, problems_of, uid, Problems, WindowForm};
use crate::engine::format::parse_policies;
use crate::engine::id::PolicyId;
use crate::engine::policy::{CheckpointTimeout, EscalationPolicy, Level, Target, Timeout};
use crate::engine::time::Minutes;

/// A timeout as typed: one length, and optional lengths for SEV1…SEV4.
#[derive(Clone, Copy)]
pub struct TimeoutForm {
    pub base: RwSignal<String>,
    pub by_severity: [RwSignal<String>; 4],
}

impl TimeoutForm {
    fn new(base: &str) -> TimeoutForm {
        TimeoutForm { base: RwSignal::new(base.into()), by_severity: std::array::from_fn(|_| RwSignal::new(String::new())) }
    }

    fn of(t: Option<&Timeout>) -> TimeoutForm {
        let f = TimeoutForm::new("");
        match t {
            None => {}
            Some(Timeout::Always(m)) => f.base.set(minutes_text(*m)),
            Some(Timeout::BySeverity(b)) => {
                let text = |m: Option<Minutes>| m.map(minutes_text).unwrap_or_default();
                f.base.set(text(b.default));
                for (slot, m) in f.by_severity.iter().zip([b.sev1, b.sev2, b.sev3, b.sev4]) {
                    slot.set(text(m));
                }
            }
        }
        f
    }

    fn json(self) -> Option<Value> {
        let base = minutes_json(&self.base.get());
        let specific: Vec<Option<Value>> = self.by_severity.iter().map(|s| minutes_json(&s.get())).collect();
        if specific.iter().all(Option::is_none) {
            return base;
        }
        let mut map = serde_json::Map::new();
        for (name, v) in ["sev1", "sev2", "sev3", "sev4"].iter().zip(specific) {
            if let Some(v) = v {
                map.insert(name.to_string(), v);
            }
        }
        if let Some(b) = base {
            map.insert("default".into(), b);
        }
        Some(Value::Object(map))
    }

    pub fn has_overrides(self) -> bool {
        self.by_severity.iter().any(|s| !s.get_untracked().trim().is_empty())
    }
}

/// One level as typed.
#[derive(Clone, Copy)]
pub struct LevelForm {
    pub uid: u64,
    pub name: RwSignal<String>,
    pub targets: RwSignal<Vec<Target>>,
    pub ack: TimeoutForm,
    pub resolution: TimeoutForm,
    pub only_during: RwSignal<Vec<WindowForm>>,
    pub except_during: RwSignal<Vec<WindowForm>>,
    pub checkpoint: RwSignal<bool>,
    pub checkpoint_prompt: RwSignal<String>,
    pub checkpoint_timeout: RwSignal<String>,
    pub checkpoint_on_timeout: RwSignal<String>,
}

impl LevelForm {
    pub fn new() -> LevelForm {
        LevelForm {
            uid: uid(),
            name: RwSignal::new(String::new()),
            targets: RwSignal::new(Vec::new()),
            ack: TimeoutForm::new("15"),
            resolution: TimeoutForm::new(""),
            only_during: RwSignal::new(Vec::new()),
            except_during: RwSignal::new(Vec::new()),
            checkpoint: RwSignal::new(false),
            checkpoint_prompt: RwSignal::new(String::new()),
            checkpoint_timeout: RwSignal::new("15".into()),
            checkpoint_on_timeout: RwSignal::new("proceed".into()),
        }
    }

    fn of(l: &Level) -> LevelForm {
        let f = LevelForm::new();
        f.name.set(l.name.clone());
        f.targets.set(l.targets.clone());
        let ack = TimeoutForm::of(l.ack_timeout.as_ref());
        let res = TimeoutForm::of(l.resolution_timeout.as_ref());
        let f = LevelForm { ack, resolution: res, ..f };
        f.only_during.set(l.only_during.iter().map(WindowForm::of).collect());
        f.except_during.set(l.except_during.iter().map(WindowForm::of).collect());
        if let Some(cp) = &l.checkpoint {
            f.checkpoint.set(true);
            f.checkpoint_prompt.set(cp.prompt.clone());
            f.checkpoint_timeout.set(minutes_text(cp.timeout));
            f.checkpoint_on_timeout.set(
                match cp.on_timeout {
                    CheckpointTimeout::Proceed => "proceed",
                    CheckpointTimeout::Skip => "skip",
                    CheckpointTimeout::Stop => "stop",
                }
                .into(),
            );
        }
        f
    }

    fn json(self) -> Value {
        let mut v = json!({ "targets": self.targets.get() });
        let name = self.name.get();
        if !name.trim().is_empty() {
            v["name"] = json!(name.trim());
        }
        if let Some(t) = self.ack.json() {
            v["ack_timeout"] = t;
        }
        if let Some(t) = self.resolution.json() {
            v["resolution_timeout"] = t;
        }
        let only: Vec<Value> = self.only_during.get().into_iter().map(WindowForm::json).collect();
        if !only.is_empty() {
            v["only_during"] = json!(only);
        }
        let except: Vec<Value> = self.except_during.get().into_iter().map(WindowForm::json).collect();
        if !except.is_empty() {
            v["except_during"] = json!(except);
        }
        if self.checkpoint.get() {
            v["checkpoint"] = json!({
                "prompt": self.checkpoint_prompt.get(),
                "timeout": minutes_json(&self.checkpoint_timeout.get()).unwrap_or(json!("")),
                "on_timeout": self.checkpoint_on_timeout.get(),
            });
        }
        v
    }
}

/// The whole policy as typed.
#[derive(Clone, Copy, Default)]
pub struct PolicyForm {
    /// Empty for a new policy (the runtime gives it an id).
    pub id: RwSignal<String>,
    pub name: RwSignal<String>,
    pub levels: RwSignal<Vec<LevelForm>>,
    pub repeat: RwSignal<bool>,
    pub repeat_times: RwSignal<String>,
    pub repeat_from: RwSignal<String>,
    pub ack_reminder: RwSignal<String>,
    pub stale: RwSignal<String>,
    pub time_zone: RwSignal<String>,
    pub holidays: RwSignal<String>,
}

impl PolicyForm {
    pub fn new(time_zone: String) -> PolicyForm {
        PolicyForm {
            levels: RwSignal::new(vec![LevelForm::new()]),
            repeat_times: RwSignal::new("1".into()),
            repeat_from: RwSignal::new("1".into()),
            time_zone: RwSignal::new(time_zone),
            ..Default::default()
        }
    }

    /// The draft in the policy format (tracked: a memo over it follows every keystroke).
    pub fn json(self) -> Value {
        let mut v = json!({
            "id": self.id.get(),
            "name": self.name.get().trim(),
            "levels": self.levels.get().into_iter().map(LevelForm::json).collect::<Vec<_>>(),
            "time_zone": self.time_zone.get().trim(),
        });
        let holidays = dates_json(&self.holidays.get());
        if holidays.as_array().is_some_and(|a| !a.is_empty()) {
            v["holidays"] = holidays;
        }
        if self.repeat.get() {
            let number = |s: String| s.trim().parse::<u64>().map(|n| json!(n)).unwrap_or(json!(s.trim()));
            v["repeat"] = json!({ "times": number(self.repeat_times.get()), "from_level": number(self.repeat_from.get()) });
        }
        if let Some(m) = minutes_json(&self.ack_reminder.get()) {
            v["ack_reminder"] = m;
        }
        if let Some(m) = minutes_json(&self.stale.get()) {
            v["escalate_if_status_unchanged"] = m;
        }
        v
    }
}

impl crate::ui::editor::Draft for PolicyForm {
    type Record = EscalationPolicy;

    fn fill(self, p: &EscalationPolicy) {
        self.id.set(p.id.to_string());
        self.name.set(p.name.clone());
        self.levels.set(p.levels.iter().map(LevelForm::of).collect());
        self.repeat.set(p.repeat.is_some());
        if let Some(r) = &p.repeat {
            self.repeat_times.set(r.times.to_string());
            self.repeat_from.set(r.from_level.to_string());
        }
        self.ack_reminder.set(p.ack_reminder.map(minutes_text).unwrap_or_default());
        self.stale.set(p.escalate_if_status_unchanged.map(minutes_text).unwrap_or_default());
        self.time_zone.set(p.time_zone.name().to_string());
        self.holidays.set(dates_text(&p.holidays));
    }

    /// The draft read by the engine's parser: a policy, or every problem with its path.
    fn record(self) -> Result<EscalationPolicy, Problems> {
        let mut json = self.json();
        let new = self.id.get().trim().is_empty();
        if new {
            json["id"] = json!("new-policy");
        }
        let text = Value::Array(vec![json]).to_string();
        let mut policy = parse_policies(&text).map(|mut v| v.remove(0)).map_err(problems_of)?;
        if new {
            policy.id = PolicyId::default();
        }
        Ok(policy)
    }
}
