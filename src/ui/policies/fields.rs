//! Form parts the configuration screens share: labelled fields, selects, time windows, target
//! names, minutes and local times as people read them, and errors that name a JSON path.
//!
//! The configuration forms keep what was typed as text, turn it into the engine's JSON format and
//! read it back with the engine's own parsers, so a form and an imported file are refused with the
//! same words. Nothing here renders HTML from text.

use std::cell::Cell;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use leptos::prelude::*;

use crate::ui::command::Alert;
use serde_json::{json, Value};

use crate::engine::format::FormatErrors;
use crate::engine::policy::Target;
use crate::engine::time::{Minutes, TimeWindow, Zone};
use crate::engine::world::World;

thread_local! {
    static NEXT_UID: Cell<u64> = const { Cell::new(1) };
}

/// A number unique in this tab: keys rows of a form and makes element ids unique.
pub fn uid() -> u64 {
    NEXT_UID.with(|n| {
        let v = n.get();
        n.set(v + 1);
        v
    })
}

/// Problems found in a draft, each at a JSON path relative to the record (`levels[1].ack_timeout`),
/// or at `""` for the record as a whole.
pub type Problems = Vec<(String, String)>;

/// Reads the engine's errors for a document holding one record (`[{…}]`): paths lose the `[0].`.
pub fn problems_of(errors: FormatErrors) -> Problems {
    errors
        .0
        .into_iter()
        .map(|e| {
            let path = e.path.strip_prefix("[0]").unwrap_or(&e.path).trim_start_matches('.').to_string();
            (path, e.message)
        })
        .collect()
}

/// The value chosen in a "Choose…" select, which then shows its prompt again (it adds to a list).
pub fn take_choice(ev: &leptos::ev::Event) -> String {
    let value = event_target_value(ev);
    if let Some(target) = ev.target() {
        let _ = js_sys::Reflect::set(&target, &"value".into(), &"".into());
    }
    value
}

/// The message for exactly `path`, if any.
pub fn problem_at(problems: &Problems, path: &str) -> Option<String> {
    let found: Vec<&str> = problems.iter().filter(|(p, _)| p == path).map(|(_, m)| m.as_str()).collect();
    (!found.is_empty()).then(|| found.join(" "))
}

/// Every problem as one line each, with its path in words.
pub fn problems_text(problems: &Problems) -> String {
    problems.iter().map(|(p, m)| if p.is_empty() { m.clone() } else { format!("{}: {m}", readable_path(p)) }).collect::<Vec<_>>().join("\n")
}

/// `levels[1].ack_timeout` → `level 2 › ack timeout`.
pub fn readable_path(path: &str) -> String {
    path.split('.')
        .map(|part| match part.split_once('[') {
            Some((name, index)) => {
                let n = index.trim_end_matches(']').parse::<usize>().map(|i| (i + 1).to_string()).unwrap_or_default();
                format!("{} {n}", name.trim_end_matches('s').replace('_', " "))
            }
            None => part.replace('_', " "),
        })
        .collect::<Vec<_>>()
        .join(" › ")
}

/// Minutes as typed back into a form (`10`, `1.5`).
pub fn minutes_text(m: Minutes) -> String {
    crate::engine::time::length_field_text(m)
}

/// What a minutes field holds, as the format reads it: a number, or text with units (`"1h30m"`);
/// `None` when empty.
pub fn minutes_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    Some(match t.replace(',', ".").parse::<f64>() {
        Ok(n) => json!(n),
        Err(_) => json!(t),
    })
}

/// A target in words: “Alice”, “Primary on-call (schedule)”.
pub fn target_name(world: &World, t: &Target) -> String {
    match t {
        Target::Person(id) => world.person(id).map(|p| p.name.clone()).unwrap_or_else(|| format!("{id} (unknown person)")),
        Target::Schedule(id) => {
            format!("{} (schedule)", world.schedule(id).map(|s| s.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.to_string()))
        }
        Target::Team(id) => format!("{} (team)", world.team(id).map(|s| s.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.to_string())),
        Target::Channel(id) => format!("{} (channel)", world.channel(id).map(|s| s.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| id.to_string())),
    }
}

/// A select's value (`person:alice`, as [`Target`] displays) back into a target.
pub fn target_from_key(key: &str) -> Option<Target> {
    let (kind, id) = key.split_once(':')?;
    Some(match kind {
        "person" => Target::Person(id.into()),
        "schedule" => Target::Schedule(id.into()),
        "team" => Target::Team(id.into()),
        "channel" => Target::Channel(id.into()),
        _ => return None,
    })
}

/// Every target the world offers, grouped for a picker: (group, [(key, name)]).
pub fn target_choices(world: &World) -> Vec<(&'static str, Vec<(String, String)>)> {
    let mut people: Vec<(String, String)> = world.people.iter().map(|p| (format!("person:{}", p.id), p.name.clone())).collect();
    people.sort_by_key(|(_, n)| n.to_lowercase());
    let named = |id: &str, name: &str| if name.is_empty() { id.to_string() } else { name.to_string() };
    vec![
        ("People", people),
        ("Schedules (whoever is on call)", world.schedules.iter().map(|s| (format!("schedule:{}", s.id), named(&s.id, &s.name))).collect()),
        ("Teams", world.teams.iter().map(|s| (format!("team:{}", s.id), named(&s.id, &s.name))).collect()),
        ("Channels", world.channels.iter().map(|s| (format!("channel:{}", s.id), named(&s.id, &s.name))).collect()),
    ]
}

/// An instant in a zone, as on-call people say it: “Sat 1 Mar 03:00”.
pub fn local_text(zone: Zone, t: DateTime<Utc>) -> String {
    zone.local(t).format("%a %-d %b %H:%M").to_string()
}

/// The value of a `datetime-local` input for an instant in a zone.
pub fn datetime_input(zone: Zone, t: DateTime<Utc>) -> String {
    zone.local(t).format("%Y-%m-%dT%H:%M").to_string()
}

/// A `datetime-local` input's value, read in a zone.
pub fn parse_datetime_input(zone: Zone, text: &str) -> Option<DateTime<Utc>> {
    let naive =
        NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M").or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S")).ok()?;
    Some(zone.instant(naive))
}

/// A zone by IANA name (UTC when unknown).
pub fn zone_named(name: &str) -> Zone {
    name.trim().parse().map(Zone).unwrap_or_default()
}

/// Dates typed as `2025-12-25, 2025-12-26` into the format's list (bad ones kept as text, so the
/// parser names them).
pub fn dates_json(text: &str) -> Value {
    Value::Array(text.split([',', ' ', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(|s| json!(s)).collect())
}

pub fn dates_text(dates: &[NaiveDate]) -> String {
    dates.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}

/// One weekly window as typed: days, from, to, and how holidays count.
#[derive(Clone, Copy)]
pub struct WindowForm {
    pub uid: u64,
    pub days: RwSignal<String>,
    pub from: RwSignal<String>,
    pub to: RwSignal<String>,
    pub holidays: RwSignal<String>,
}

pub const DAY_CHOICES: [(&str, &str); 10] = [
    ("daily", "Every day"),
    ("weekdays", "Weekdays (Mon–Fri)"),
    ("weekends", "Weekends"),
    ("mon", "Mondays"),
    ("tue", "Tuesdays"),
    ("wed", "Wednesdays"),
    ("thu", "Thursdays"),
    ("fri", "Fridays"),
    ("sat", "Saturdays"),
    ("sun", "Sundays"),
];

impl WindowForm {
    pub fn new(days: &str, from: &str, to: &str) -> WindowForm {
        WindowForm {
            uid: uid(),
            days: RwSignal::new(days.into()),
            from: RwSignal::new(from.into()),
            to: RwSignal::new(to.into()),
            holidays: RwSignal::new("ignore".into()),
        }
    }

    pub fn of(w: &TimeWindow) -> WindowForm {
        let v = serde_json::to_value(w).unwrap_or_default();
        let days = match &v["days"] {
            Value::String(s) => s.clone(),
            Value::Array(list) => list.iter().filter_map(|d| d.as_str()).collect::<Vec<_>>().join(","),
            _ => "daily".into(),
        };
        let f = WindowForm::new(&days, v["from"].as_str().unwrap_or(""), v["to"].as_str().unwrap_or(""));
        f.holidays.set(v["holidays"].as_str().unwrap_or("ignore").to_string());
        f
    }

    /// The window in the format (read back by the engine's parser, which names what is wrong).
    pub fn json(self) -> Value {
        let days = self.days.get();
        let mut v = json!({
            "days": if days.contains(',') { json!(days.split(',').map(str::trim).collect::<Vec<_>>()) } else { json!(days) },
        });
        let (from, to) = (self.from.get(), self.to.get());
        if !from.trim().is_empty() || !to.trim().is_empty() {
            v["from"] = json!(from.trim());
            v["to"] = json!(to.trim());
        }
        let holidays = self.holidays.get();
        if holidays != "ignore" {
            v["holidays"] = json!(holidays);
        }
        v
    }
}

/// A labelled one-line text input; `list` names a datalist of suggestions, `children` follow the
/// input (that datalist, a problem).
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] list: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id type="text" list=list autocomplete="off" placeholder=placeholder bind:value=value />
            {children.map(|c| c())}
        </div>
    }
}

/// A labelled [`Choice`].
#[component]
pub fn ChoiceField(#[prop(into)] id: String, label: &'static str, options: Vec<(String, String)>, value: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <Choice id=id options=options value=value/>
        </div>
    }
}

/// A `<select>` whose options are (value, text); the chosen value lives in `value`.
#[component]
pub fn Choice(
    #[prop(into)] id: String,
    options: Vec<(String, String)>,
    value: RwSignal<String>,
    #[prop(optional, into)] aria_label: Option<String>,
) -> impl IntoView {
    // A value that is none of the options (a custom list of days) is kept as an option of its own.
    let mut options = options;
    let current = value.get_untracked();
    if !current.is_empty() && !options.iter().any(|(v, _)| *v == current) {
        options.push((current.clone(), current));
    }
    view! {
        <select id=id aria-label=aria_label on:change=move |ev| value.set(event_target_value(&ev)) prop:value=move || value.get()>
            {options
                .into_iter()
                .map(|(v, text)| {
                    let selected = {
                        let v = v.clone();
                        move || value.get() == v
                    };
                    view! { <option value=v selected=selected>{text}</option> }
                })
                .collect_view()}
        </select>
    }
}

/// A labelled field with its inline error (shown with role="alert" when present).
#[component]
pub fn Labelled(
    #[prop(into)] label: String,
    #[prop(into)] id: String,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(into, default = Signal::derive(|| None))] error: Signal<Option<String>>,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {children()}
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <Alert message=error class="field-error"/>
        </div>
    }
}

/// Editor for a list of weekly windows (“only during”, “except during”, rotation restrictions).
#[component]
pub fn WindowsEditor(
    windows: RwSignal<Vec<WindowForm>>,
    /// What the windows are, for the add/remove buttons' names (“Level 1 only during”).
    #[prop(into)]
    what: Signal<String>,
    /// Default window for “Add”.
    #[prop(default = ("weekdays", "09:00", "17:00"))]
    new_window: (&'static str, &'static str, &'static str),
) -> impl IntoView {
    view! {
        <div class="windows">
            <For each=move || windows.get() key=|w| w.uid let:w>
                {
                    let id = format!("w{}", w.uid);
                    let position = move || windows.with(|ws| ws.iter().position(|x| x.uid == w.uid).map(|i| i + 1).unwrap_or(0));
                    view! {
                        <div class="window-row">
                            <ChoiceField id=format!("{id}-days") label="Days" options=DAY_CHOICES.iter().map(|(v, t)| (v.to_string(), t.to_string())).collect() value=w.days/>
                            <div class="field">
                                <label for=format!("{id}-from")>"From"</label>
                                <input id=format!("{id}-from") type="time" bind:value=w.from/>
                            </div>
                            <div class="field">
                                <label for=format!("{id}-to")>"To"</label>
                                <input id=format!("{id}-to") type="time" bind:value=w.to/>
                            </div>
                            <ChoiceField id=format!("{id}-hol") label="On holidays" options=vec![
                                    ("ignore".into(), "As any other day".into()),
                                    ("exclude".into(), "Closed".into()),
                                    ("only".into(), "Only on holidays".into()),
                                ] value=w.holidays/>
                            <button type="button" class="small"
                                aria-label=move || format!("Remove window {} of {}", position(), what.get())
                                on:click=move |_| windows.update(|ws| ws.retain(|x| x.uid != w.uid))>"Remove"</button>
                        </div>
                    }
                }
            </For>
            <button type="button" class="small"
                aria-label=move || format!("Add a window to {}", what.get())
                on:click=move |_| windows.update(|ws| ws.push(WindowForm::new(new_window.0, new_window.1, new_window.2)))>
                "Add hours"
            </button>
        </div>
    }
}
