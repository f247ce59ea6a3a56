//! Schedules: rotations (people in order, handoff time, length, zone), layers, restrictions,
//! overrides and holidays; who is on call now; and a 14-day timeline with gaps in red.
//!
//! The timeline asks the engine's own [`OnCallSchedule::on_call_at`] and `next_handoff`, so it shows
//! exactly who a page would reach. Segments run from handoff to handoff (never sampled per minute).

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;

use crate::ui::command::{Alert, Outcome};

use crate::route::Route;
use crate::ui::nav::use_nav;
use serde_json::{json, Value};

use super::editor::{use_editor, Draft, Editor, EditorFooter};
use super::policies::fields::{
    dates_json, dates_text, datetime_input, local_text, parse_datetime_input, problem_at, problems_of, take_choice, uid, zone_named, Choice, ChoiceField,
    Labelled, Problems, WindowForm, WindowsEditor,
};
use super::row_actions::{ConfigList, RowActions};
use super::state::{browser_time_zone, AppState};
use crate::engine::format::parse_schedules;
use crate::engine::id::{PersonId, ScheduleId};
use crate::engine::person::time_zone_names;
use crate::engine::schedule::{Layer, OnCallSchedule, Override, RotationLength};
use crate::runtime::command::ConfigKind;
use crate::runtime::view::{new_override, override_words, timeline_days};

/// Days the timeline shows.
pub const TIMELINE_DAYS: i64 = 14;
pub use crate::runtime::view::on_call_now;

/// The 14-day timeline (class `oncall-timeline`; gaps have class `gap`).
#[component]
pub fn OnCallTimeline(schedule: Signal<Option<OnCallSchedule>>, now: DateTime<Utc>) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="oncall-timeline" role="list" aria-label="Who is on call, the next 14 days">
            {move || {
                let Some(s) = schedule.get() else {
                    return view! { <p class="muted">"Complete the rotation above to see who is on call."</p> }.into_any();
                };
                state
                    .world
                    .with(|world| timeline_days(world, &s, now, TIMELINE_DAYS))
                    .into_iter()
                    .map(|day| {
                        let spoken = day.bars.iter().map(|b| format!("{} {}", b.label, b.span)).collect::<Vec<_>>().join(", ");
                        let bars = day
                            .bars
                            .into_iter()
                            .map(|b| {
                                let class = b.colour.map_or("seg gap".to_string(), |i| format!("seg p{}", i % 6));
                                let text = if b.colour.is_none() { "gap".to_string() } else { b.label.clone() };
                                view! {
                                    <span class=class style=format!("left:{:.3}%;width:{:.3}%", b.left, b.width) title=format!("{} {}", b.label, b.span)>{text}</span>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="day" class:weekend=day.weekend role="listitem">
                                <span class="day-label">{day.date.format("%a %-d %b").to_string()}</span>
                                <div class="bar" aria-hidden="true">{bars}</div>
                                <span class="sr-only">{spoken}</span>
                            </div>
                        }
                    })
                    .collect_view()
                    .into_any()
            }}
        </div>
    }
}

#[component]
pub fn SchedulesScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let confirm_remove = RwSignal::new(None::<String>);
    view! {
        <section class="screen config">
            <h1>"Schedules"</h1>
            <p class="lede">"Rotations decide who a schedule target pages at any moment: handoffs in a time zone, restrictions such as office hours, overrides and holidays."</p>
            <div class="actions">
                <button type="button" class="primary" on:click=move |_| nav.go(Route::Schedule("new".into()))>"New schedule"</button>
            </div>
            <ConfigList empty=move || state.world.with(|w| w.schedules.is_empty()) empty_text="No on-call schedules yet. A rotation hands the pager from one person to the next: daily, weekly, or every few days or hours.">
                <ul class="config-list" aria-label="Schedules">
                    <For each=move || state.world.with(|w| w.schedules.clone()) key=|s| format!("{s:?}") let:schedule>
                        <ScheduleRow schedule=schedule confirm_remove=confirm_remove/>
                    </For>
                </ul>
            </ConfigList>
        </section>
    }
}

#[component]
fn ScheduleRow(schedule: OnCallSchedule, confirm_remove: RwSignal<Option<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let name = if schedule.name.trim().is_empty() { format!("Untitled schedule ({})", schedule.id) } else { schedule.name.clone() };
    let id = schedule.id.to_string();
    let now_text = {
        let s = schedule.clone();
        move || state.world.with(|w| on_call_now(w, &s, state.now.get()))
    };
    let route = Route::Schedule(id.clone());
    let (link_name, confirm_name) = (name.clone(), name.clone());
    view! {
        <li class="card config-item">
            <div class="config-main">
                <a href=route.href() class="config-name">{link_name}</a>
                <span class="muted">{format!("{} · {}", schedule.time_zone.name(), if schedule.layers.len() == 1 { "1 layer".to_string() } else { format!("{} layers", schedule.layers.len()) })}</span>
                <span class="oncall-now">{now_text}</span>
            </div>
            <RowActions name=name.clone() id=id.clone() kind=ConfigKind::Schedule question=format!("Remove {confirm_name}?") confirm_remove=confirm_remove
                on_edit=Callback::new(move |_| nav.go(route.clone())) />
        </li>
    }
}

/// One rotation layer as typed.
#[derive(Clone, Copy)]
struct LayerForm {
    uid: u64,
    name: RwSignal<String>,
    people: RwSignal<Vec<String>>,
    start_date: RwSignal<String>,
    handoff: RwSignal<String>,
    /// `daily`, `weekly`, `days`, `hours`.
    length: RwSignal<String>,
    count: RwSignal<String>,
    restrictions: RwSignal<Vec<WindowForm>>,
}

impl LayerForm {
    fn new(today: String) -> LayerForm {
        LayerForm {
            uid: uid(),
            name: RwSignal::new(String::new()),
            people: RwSignal::new(Vec::new()),
            start_date: RwSignal::new(today),
            handoff: RwSignal::new("09:00".into()),
            length: RwSignal::new("weekly".into()),
            count: RwSignal::new("2".into()),
            restrictions: RwSignal::new(Vec::new()),
        }
    }

    fn of(l: &Layer) -> LayerForm {
        let f = LayerForm::new(l.start.0.date().to_string());
        f.name.set(l.name.clone());
        f.people.set(l.people.iter().map(PersonId::to_string).collect());
        f.handoff.set(l.start.0.format("%H:%M").to_string());
        let (length, count) = match l.every {
            RotationLength::Daily => ("daily", 2),
            RotationLength::Weekly => ("weekly", 2),
            RotationLength::Days(n) => ("days", n),
            RotationLength::Hours(n) => ("hours", n),
        };
        f.length.set(length.into());
        f.count.set(count.to_string());
        f.restrictions.set(l.restrictions.iter().map(WindowForm::of).collect());
        f
    }

    fn json(self) -> Value {
        let count = self.count.get();
        let n = || count.trim().parse::<u64>().map(|n| json!(n)).unwrap_or(json!(count.trim()));
        let every = match self.length.get().as_str() {
            "daily" => json!("daily"),
            "days" => json!({ "days": n() }),
            "hours" => json!({ "hours": n() }),
            _ => json!("weekly"),
        };
        let mut v = json!({
            "people": self.people.get(),
            "start": format!("{}T{}", self.start_date.get().trim(), self.handoff.get().trim()),
            "every": every,
        });
        if !self.name.get().trim().is_empty() {
            v["name"] = json!(self.name.get().trim());
        }
        let restrictions: Vec<Value> = self.restrictions.get().into_iter().map(WindowForm::json).collect();
        if !restrictions.is_empty() {
            v["restrictions"] = json!(restrictions);
        }
        v
    }
}

#[derive(Clone, Copy, Default)]
struct ScheduleForm {
    id: RwSignal<String>,
    name: RwSignal<String>,
    time_zone: RwSignal<String>,
    layers: RwSignal<Vec<LayerForm>>,
    overrides: RwSignal<Vec<Override>>,
    holidays: RwSignal<String>,
}

impl ScheduleForm {
    fn new(time_zone: String, today: String) -> ScheduleForm {
        ScheduleForm { time_zone: RwSignal::new(time_zone), layers: RwSignal::new(vec![LayerForm::new(today)]), ..Default::default() }
    }
}

impl Draft for ScheduleForm {
    type Record = OnCallSchedule;

    fn fill(self, s: &OnCallSchedule) {
        self.id.set(s.id.to_string());
        self.name.set(s.name.clone());
        self.time_zone.set(s.time_zone.name().into());
        self.layers.set(s.layers.iter().map(LayerForm::of).collect());
        self.overrides.set(s.overrides.clone());
        self.holidays.set(dates_text(&s.holidays));
    }

    fn record(self) -> Result<OnCallSchedule, Problems> {
        let new = self.id.get().trim().is_empty();
        let mut v = json!({
            "id": if new { "new-schedule".to_string() } else { self.id.get() },
            "name": self.name.get().trim(),
            "time_zone": self.time_zone.get().trim(),
            "layers": self.layers.get().into_iter().map(LayerForm::json).collect::<Vec<_>>(),
        });
        let overrides = self.overrides.get();
        if !overrides.is_empty() {
            v["overrides"] = serde_json::to_value(overrides).unwrap_or_default();
        }
        let holidays = dates_json(&self.holidays.get());
        if holidays.as_array().is_some_and(|a| !a.is_empty()) {
            v["holidays"] = holidays;
        }
        let mut s = parse_schedules(&Value::Array(vec![v]).to_string()).map(|mut v| v.remove(0)).map_err(problems_of)?;
        if new {
            s.id = ScheduleId::default();
        }
        Ok(s)
    }
}

/// The route `/schedules/:id` (`new` for a new schedule).
#[component]
pub fn ScheduleEditorScreen() -> impl IntoView {
    let id = use_nav().address().with_untracked(|a| a.route.id().unwrap_or_default().to_string());
    view! { <ScheduleEditor id=id/> }
}

#[component]
fn ScheduleEditor(id: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let tz = browser_time_zone();
    let now = state.now.get_untracked();
    let today = zone_named(&tz).local(now).date().to_string();
    let form = ScheduleForm::new(tz, today.clone());
    let editor = use_editor(form, "Not saved: fix what is marked below.", move |editor, done| {
        let id = done.id.clone().unwrap_or_default();
        if form.id.get_untracked().is_empty() {
            form.id.set(id.clone());
            nav.replace(Route::Schedule(id));
        }
        editor.status.set("Saved.".into());
    });
    let missing = editor.load(id, |w, id| w.schedule(id).cloned());
    let problems = editor.problems(|| false);
    let at = move |path: &str| Editor::<ScheduleForm>::at(problems, path);
    let preview = Signal::derive(move || editor.checked.get().ok());

    view! {
        <section class="screen config">
            <p><a href=Route::Schedules.href() class="back-link">"← All schedules"</a></p>
            <h1>{move || if form.id.get().is_empty() { "New schedule" } else { "Edit schedule" }}</h1>
            <Show when=move || missing.get()>
                <p class="error" role="alert">"No schedule with this id is stored on this device."</p>
            </Show>
            <p class="oncall-now">{move || match preview.get() {
                Some(s) => state.world.with(|w| on_call_now(w, &s, state.now.get())),
                None => String::new(),
            }}</p>
            <form class="card form-stack" on:submit=editor.on_submit() novalidate aria-label="Schedule">
                <Labelled label="Schedule name" id="schedule-name" error=at("name")>
                    <input id="schedule-name" type="text" autocomplete="off" bind:value=form.name/>
                </Labelled>
                <Labelled label="Time zone" id="schedule-tz" hint="Handoffs and hours are read in this zone (safe across daylight saving)." error=at("time_zone")>
                    <input id="schedule-tz" type="text" list="schedule-zones" autocomplete="off" bind:value=form.time_zone/>
                </Labelled>
                <datalist id="schedule-zones">
                    {time_zone_names().map(|z| view! { <option value=z></option> }).collect_view()}
                </datalist>

                <For each=move || form.layers.get() key=|l| l.uid let:layer>
                    <LayerEditor layer=layer form=form problems=problems/>
                </For>
                <div class="actions">
                    <button type="button" on:click={
                        let today = today.clone();
                        move |_| form.layers.update(|ls| ls.push(LayerForm::new(today.clone())))
                    }>"Add layer"</button>
                </div>
                <p class="hint">"Layers are listed bottom to top: where a higher layer has someone on call, it wins (e.g. office hours on top of a weekly rotation)."</p>

                <OverridesEditor form=form problems=problems/>

                <Labelled label="Holidays" id="schedule-holidays" hint="Dates as YYYY-MM-DD, separated by commas; restrictions can be closed on them." error=at("holidays")>
                    <input id="schedule-holidays" type="text" autocomplete="off" bind:value=form.holidays/>
                </Labelled>

                <EditorFooter problems=problems.into() status=editor.status save=editor.save label="Save schedule"/>
            </form>

            <CalendarExport id=form.id/>

            <section class="card" aria-labelledby="timeline-title">
                <h2 id="timeline-title">"The next 14 days"</h2>
                <p class="hint">"Red: nobody is on call; a page to this schedule would reach nobody and the level is skipped."</p>
                <OnCallTimeline schedule=preview now=now/>
            </section>
        </section>
    }
}

#[component]
fn LayerEditor(layer: LayerForm, form: ScheduleForm, problems: Memo<Problems>) -> impl IntoView {
    let index = Memo::new(move |_| form.layers.with(|ls| ls.iter().position(|l| l.uid == layer.uid).unwrap_or(0)));
    let n = move || index.get() + 1;
    let count = move || form.layers.with(Vec::len);
    let at = move |suffix: &'static str| Signal::derive(move || problem_at(&problems.get(), &format!("layers[{}].{suffix}", index.get())));
    let u = layer.uid;
    let what = Signal::derive(move || format!("layer {} restrictions", n()));
    view! {
        <fieldset class="level">
            <legend>{move || format!("Layer {}", n())}</legend>
            <Labelled label="Layer name (optional)" id=format!("ly{u}-name")>
                <input id=format!("ly{u}-name") type="text" autocomplete="off" placeholder="Weekly" bind:value=layer.name/>
            </Labelled>
            <LayerPeople layer=layer n=Signal::derive(n) error=at("people")/>
            <div class="row">
                <Labelled label="Rotation starts on" id=format!("ly{u}-date") error=at("start")>
                    <input id=format!("ly{u}-date") type="date" bind:value=layer.start_date/>
                </Labelled>
                <Labelled label="Handoff time" id=format!("ly{u}-handoff")>
                    <input id=format!("ly{u}-handoff") type="time" bind:value=layer.handoff/>
                </Labelled>
            </div>
            <div class="row">
                <ChoiceField id=format!("ly{u}-length") label="Rotation length" options=vec![
                        ("daily".into(), "Daily".into()),
                        ("weekly".into(), "Weekly".into()),
                        ("days".into(), "Every N days".into()),
                        ("hours".into(), "Every N hours".into()),
                    ] value=layer.length/>
                <Show when=move || matches!(layer.length.get().as_str(), "days" | "hours")>
                    <Labelled label="Days or hours per shift" id=format!("ly{u}-count") error=at("every")>
                        <input id=format!("ly{u}-count") type="number" min="1" inputmode="numeric" bind:value=layer.count/>
                    </Labelled>
                </Show>
            </div>
            <h3 class="sub">"Restrictions"</h3>
            <p class="hint">"Empty: this layer is on call around the clock. With hours (e.g. weekdays 09:00–17:00) it has someone only inside them."</p>
            <WindowsEditor windows=layer.restrictions what=what/>
            <div class="actions">
                <button type="button" class="small danger" prop:disabled=move || { count() <= 1 } aria-label=move || format!("Remove layer {}", n())
                    on:click=move |_| form.layers.update(|ls| ls.retain(|l| l.uid != layer.uid))>"Remove layer"</button>
            </div>
        </fieldset>
    }
}

/// A layer's people in rotation order, each movable and removable, and a select to add one.
#[component]
fn LayerPeople(layer: LayerForm, n: Signal<usize>, error: Signal<Option<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let n = move || n.get();
    let u = layer.uid;
    let add_person = move |ev: leptos::ev::Event| {
        let id = take_choice(&ev);
        if !id.is_empty() {
            layer.people.update(|ps| ps.push(id));
        }
    };
    let move_person = move |i: usize, delta: isize| {
        layer.people.update(|ps| {
            let j = i as isize + delta;
            if j >= 0 && (j as usize) < ps.len() {
                ps.swap(i, j as usize);
            }
        })
    };
    view! {
            <div class="field">
                <span class="field-label" id=format!("ly{u}-people-label")>"People, in order"</span>
                <ol class="rotation" aria-labelledby=format!("ly{u}-people-label")>
                    {move || {
                        let people = layer.people.get();
                        if people.is_empty() {
                            return view! { <li class="muted">"Nobody yet: add people below."</li> }.into_any();
                        }
                        let last = people.len() - 1;
                        people
                            .into_iter()
                            .enumerate()
                            .map(|(i, id)| {
                                let name = state.person_name(&id);
                                view! {
                                    <li class="chip">
                                        <span>{name.clone()}</span>
                                        <button type="button" class="small" prop:disabled=i == 0 aria-label=format!("Move {name} earlier in layer {}", n()) on:click=move |_| move_person(i, -1)>"↑"</button>
                                        <button type="button" class="small" prop:disabled=i == last aria-label=format!("Move {name} later in layer {}", n()) on:click=move |_| move_person(i, 1)>"↓"</button>
                                        <button type="button" class="small" aria-label=format!("Remove {name} from layer {}", n()) on:click=move |_| layer.people.update(|ps| { ps.remove(i); })>"×"</button>
                                    </li>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }}
                </ol>
                <Alert message=error class="field-error"/>
            </div>
            <div class="field">
                <label for=format!("ly{u}-add")>{move || format!("Add person to layer {}", n())}</label>
                <select id=format!("ly{u}-add") on:change=add_person>
                    <option value="" selected>"Choose a person…"</option>
                    {move || state.people().into_iter().map(|p| view! { <option value=p.id.to_string()>{p.name.clone()}</option> }).collect_view()}
                </select>
            </div>
    }
}

#[component]
fn OverridesEditor(form: ScheduleForm, problems: Memo<Problems>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let who = RwSignal::new(String::new());
    let kind = RwSignal::new("with".to_string());
    let replaces = RwSignal::new(String::new());
    let zone = move || zone_named(&form.time_zone.get());
    let now = state.now.get_untracked();
    let from = RwSignal::new(datetime_input(zone_named(&form.time_zone.get_untracked()), now));
    let to = RwSignal::new(datetime_input(zone_named(&form.time_zone.get_untracked()), now + Duration::hours(12)));
    let error = RwSignal::new(None::<String>);
    let people = move || {
        let mut v = vec![(String::new(), "Choose a person…".to_string())];
        v.extend(state.people().into_iter().map(|p| (p.id.into(), p.name)));
        v
    };
    let add = move |_| {
        let start = parse_datetime_input(zone(), &from.get_untracked());
        let end = parse_datetime_input(zone(), &to.get_untracked());
        match new_override(&kind.get_untracked(), who.get_untracked().into(), replaces.get_untracked().into(), start, end) {
            Ok(o) => {
                error.set(None);
                form.overrides.update(|os| os.push(o));
            }
            Err(e) => error.set(Some(e.into())),
        }
    };
    let describe = move |o: &Override| {
        let z = zone();
        override_words(o, |id| state.person_name(id), &format!("{} → {}", local_text(z, o.start), local_text(z, o.end)))
    };
    view! {
        <fieldset class="group">
            <legend>"Overrides"</legend>
            <p class="hint">"“I'll cover Tuesday night”: one person takes over (or joins, or is off) for a while."</p>
            <ul class="plain-list">
                {move || form.overrides.get().into_iter().enumerate().map(|(i, o)| {
                    let text = describe(&o);
                    let err = problems.with(|p| p.iter().filter(|(path, _)| path.starts_with(&format!("overrides[{i}]"))).map(|(_, m)| m.clone()).collect::<Vec<_>>().join(" "));
                    view! {
                        <li>
                            <span>{text.clone()}</span>
                            " "
                            <button type="button" class="small" aria-label=format!("Remove override: {text}") on:click=move |_| form.overrides.update(|os| { os.remove(i); })>"Remove"</button>
                            {(!err.is_empty()).then(|| view! { <p class="field-error" role="alert">{err}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <div class="row">
                <div class="field">
                    <label for="ovr-who">"Who"</label>
                    {move || view! { <Choice id="ovr-who" options=people() value=who/> }}
                </div>
                <ChoiceField id="ovr-kind" label="Override kind" options=vec![
                        ("with".into(), "covers for whoever is on call".into()),
                        ("replace".into(), "covers for one person".into()),
                        ("add".into(), "joins whoever is on call".into()),
                        ("remove".into(), "is off (taken out)".into()),
                    ] value=kind/>
                <Show when=move || kind.get() == "replace">
                    <div class="field">
                        <label for="ovr-replaces">"Covers for"</label>
                        {move || view! { <Choice id="ovr-replaces" options=people() value=replaces/> }}
                    </div>
                </Show>
            </div>
            <div class="row">
                <div class="field">
                    <label for="ovr-from">"Override from"</label>
                    <input id="ovr-from" type="datetime-local" bind:value=from/>
                </div>
                <div class="field">
                    <label for="ovr-to">"Override until"</label>
                    <input id="ovr-to" type="datetime-local" bind:value=to/>
                </div>
            </div>
            <Alert message=error class="field-error"/>
            <div class="actions">
                <button type="button" on:click=add>"Add override"</button>
            </div>
        </fieldset>
    }
}

/// Days of shifts a calendar file covers.
pub const CALENDAR_DAYS: i64 = 90;

/// "Export calendar (.ics)": the saved schedule's shifts for the next [`CALENDAR_DAYS`] days.
#[component]
fn CalendarExport(id: RwSignal<String>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let message = RwSignal::new(None::<Result<String, String>>);
    let export = move |_| {
        let id = id.get_untracked();
        let now = state.now.get_untracked();
        let made = state.world.with_untracked(|w| crate::insight::calendar::schedule_ics(w, &id, now, CALENDAR_DAYS, now));
        message.set(Some(match made {
            Err(_) if id.is_empty() => Err("Save the schedule first.".into()),
            Err(e) => Err(e.to_string()),
            Ok(ics) => {
                let name = format!("piket-schedule-{id}.ics");
                super::download::download(&name, "text/calendar", &ics).map(|_| format!("The next {CALENDAR_DAYS} days saved as {name}."))
            }
        }));
    };
    view! {
        <section class="card" aria-labelledby="calendar-title">
            <h2 id="calendar-title">"Calendar"</h2>
            <p class="hint">{format!("The saved schedule's shifts for the next {CALENDAR_DAYS} days, as an iCalendar file with real time zones.")}</p>
            <div class="actions">
                <button type="button" on:click=export>"Export calendar (.ics)"</button>
            </div>
            <Outcome message=message/>
        </section>
    }
}
