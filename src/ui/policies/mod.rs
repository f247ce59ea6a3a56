//! Policies: the list (with the default policy) and the editor, with a live preview of the path.
//!
//! The editor keeps a draft; saving sends it through the runtime, which validates it against
//! everything else before writing. Editing never touches a live incident: the engine froze the
//! policy onto each incident when it started.

pub mod fields;
mod form;
pub mod preview;

use leptos::prelude::*;

use crate::ui::command::Alert;

use crate::route::Route;
use crate::ui::nav::use_nav;

use self::fields::{
    datetime_input, parse_datetime_input, problem_at, take_choice, target_choices, target_from_key, target_name, zone_named, Choice, ChoiceField, Labelled,
    Problems, WindowsEditor,
};
use self::form::{LevelForm, PolicyForm, TimeoutForm};
use self::preview::{path_of, PathPreview};
use super::command::use_command;
use super::editor::{use_editor, Editor, EditorFooter};
use super::first_run::FirstRunCard;
use super::row_actions::{ConfigList, RowActions};
use super::state::{browser_time_zone, AppState};
use crate::engine::id::PolicyId;
use crate::engine::incident::Severity;
use crate::engine::person::time_zone_names;
use crate::engine::policy::EscalationPolicy;
use crate::runtime::command::{Command, ConfigKind};

/// A policy summed up in one line: “Primary (schedule) → Carol + Dana → Erin”.
fn path_summary(state: AppState, p: &EscalationPolicy) -> String {
    state.world.with(|w| p.levels.iter().map(|l| l.targets.iter().map(|t| target_name(w, t)).collect::<Vec<_>>().join(" + ")).collect::<Vec<_>>().join(" → "))
}

fn display_name(p: &EscalationPolicy) -> String {
    if p.name.trim().is_empty() {
        format!("Untitled policy ({})", p.id)
    } else {
        p.name.clone()
    }
}

#[component]
pub fn PoliciesScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let confirm_remove = RwSignal::new(None::<String>);
    let set_default = use_command();
    let default_choice = RwSignal::new(String::new());
    Effect::new(move |_| default_choice.set(state.world.with(|w| w.default_policy.as_ref().map(PolicyId::to_string).unwrap_or_default())));
    Effect::new(move |prev: Option<String>| {
        let chosen = default_choice.get();
        if let Some(prev) = prev {
            let current = state.world.with_untracked(|w| w.default_policy.clone().unwrap_or_default());
            if chosen != prev && chosen != current {
                let policy = (!chosen.is_empty()).then(|| PolicyId::from(chosen.clone()));
                set_default.dispatch(Command::SetDefaultPolicy { policy });
            }
        }
        chosen
    });

    view! {
        <section class="screen config">
            <h1>"Policies"</h1>
            <p class="lede">"Who is paged first, who next, and after how long. Rules can route an incident to a policy; the default policy takes the rest."</p>
            <FirstRunCard/>
            <div class="actions">
                <button type="button" class="primary" on:click=move |_| nav.go(Route::Policy("new".into()))>"New policy"</button>
                <a href=Route::Rules.href() class="button-link">"Rules"</a>
                <a href=Route::Teams.href() class="button-link">"Teams"</a>
            </div>
            <ConfigList empty=move || state.world.with(|w| w.policies.is_empty()) empty_text="No escalation policies yet. A policy lists who is paged first (level 1), who next, and after how long nobody acknowledging pulls in the next level.">
                <div class="field">
                    <label for="default-policy">"Default policy"</label>
                    {move || {
                        let mut options = vec![(String::new(), "None: incidents no rule routes page nobody".to_string())];
                        options.extend(state.world.with(|w| w.policies.iter().map(|p| (p.id.to_string(), display_name(p))).collect::<Vec<_>>()));
                        view! { <Choice id="default-policy" options=options value=default_choice/> }
                    }}
                    <Alert message=Signal::derive(move || set_default.error()) class="field-error"/>
                </div>
                <ul class="config-list" aria-label="Policies">
                    <For each=move || state.world.with(|w| w.policies.clone()) key=|p| (p.id.clone(), p.name.clone(), p.levels.len()) let:policy>
                        <PolicyRow policy=policy confirm_remove=confirm_remove/>
                    </For>
                </ul>
            </ConfigList>
        </section>
    }
}

#[component]
fn PolicyRow(policy: EscalationPolicy, confirm_remove: RwSignal<Option<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let name = display_name(&policy);
    let id = policy.id.to_string();
    let summary = path_summary(state, &policy);
    let is_default = {
        let id = id.clone();
        move || state.world.with(|w| w.default_policy.as_deref() == Some(id.as_str()))
    };
    let route = Route::Policy(id.clone());
    let levels = policy.levels.len();
    let link_name = name.clone();
    let confirm_name = name.clone();
    view! {
        <li class="card config-item">
            <div class="config-main">
                <a href=route.href() class="config-name">{link_name}</a>
                <Show when=is_default.clone()><span class="badge">"default"</span></Show>
                <span class="muted">{format!("{levels} level{}: {summary}", if levels == 1 { "" } else { "s" })}</span>
            </div>
            <RowActions name=name.clone() id=id.clone() kind=ConfigKind::Policy question=format!("Remove {confirm_name}? Open incidents keep their path.") confirm_remove=confirm_remove
                on_edit=Callback::new(move |_| nav.go(route.clone())) />
        </li>
    }
}

/// The route `/policies/:id` (`new` for a new policy).
#[component]
pub fn PolicyEditorScreen() -> impl IntoView {
    // Read once: the editor replaces `new` by the saved id itself, without starting over.
    let id = use_nav().address().with_untracked(|a| a.route.id().unwrap_or_default().to_string());
    view! { <PolicyEditor id=id/> }
}

const SEVERITY_OPTIONS: [(&str, &str); 4] = [("sev1", "SEV1 (critical)"), ("sev2", "SEV2"), ("sev3", "SEV3"), ("sev4", "SEV4 (low)")];

fn severity_of(s: &str) -> Severity {
    Severity::from_str_or_default(s)
}

const NOT_SAVED: &str = "Not saved: fix what is marked below.";

#[component]
fn PolicyEditor(id: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    let nav = use_nav();
    let form = PolicyForm::new(browser_time_zone());
    let make_default = RwSignal::new(false);
    let default = use_command();
    let editor = use_editor(form, NOT_SAVED, move |editor, done| {
        let id = done.id.clone().unwrap_or_default();
        let was_default = state.world.with_untracked(|w| w.default_policy.clone());
        let want = make_default.get_untracked();
        if want != (was_default.as_deref() == Some(id.as_str())) {
            default.dispatch(Command::SetDefaultPolicy { policy: want.then(|| PolicyId::from(id.clone())) });
        }
        if form.id.get_untracked().is_empty() {
            form.id.set(id.clone());
            nav.replace(Route::Policy(id));
        }
        editor.status.set("Saved. Incidents already open keep the path they started with.".into());
    });
    // A default that could not be set is said after the save's own words.
    Effect::new(move |_| {
        if let Some(e) = default.error() {
            editor.status.set(format!("Saved, but it could not become the default: {e}"));
        }
    });
    // The Lab can replay this policy as it stands, before it is saved.
    Effect::new(move |_| {
        if let Ok(p) = editor.checked.get() {
            state.draft_policy.set(Some(p));
        }
    });
    let missing = editor.load(id.clone(), |w, id| w.policy(id).cloned());
    let is_new = id == "new";
    // Whether it is the default is read once, when the stored policy is in the form.
    let defaulted = RwSignal::new(false);
    Effect::new(move |_| {
        let id = form.id.get();
        if defaulted.get_untracked() || !state.loaded.get() || missing.get() || (!is_new && id.is_empty()) {
            return;
        }
        let default = state.world.with_untracked(|w| w.default_policy.clone());
        make_default.set(if is_new { default.is_none() } else { default.as_deref() == Some(id.as_str()) });
        defaulted.set(true);
    });
    let problems = editor.problems(|| false);
    let at = move |path: &str| Editor::<PolicyForm>::at(problems, path);

    view! {
        <section class="screen config">
            <p><a href=Route::Policies.href() class="back-link">"← All policies"</a></p>
            <h1>{move || if form.id.get().is_empty() { "New policy" } else { "Edit policy" }}</h1>
            <p class="note">"Saving changes the path of incidents that open from now on. An incident already open keeps the path it started with: Piket froze the policy onto it."</p>
            <Show when=move || missing.get()>
                <p class="error" role="alert">"No policy with this id is stored on this device."</p>
            </Show>
            <form class="card form-stack" on:submit=editor.on_submit() novalidate aria-label="Policy">
                <Labelled label="Policy name" id="policy-name" error=at("name")>
                    <input id="policy-name" type="text" autocomplete="off" bind:value=form.name/>
                </Labelled>

                <For each=move || form.levels.get() key=|l| l.uid let:level>
                    <LevelEditor level=level form=form problems=problems/>
                </For>
                <div class="actions">
                    <button type="button" on:click=move |_| form.levels.update(|ls| ls.push(LevelForm::new()))>"Add level"</button>
                </div>
                <p class="hint">"A level whose targets reach nobody at that moment (an empty schedule, a gap) is skipped at once, and the next level is paged."</p>

                <PolicyOptions form=form problems=problems/>

                <div class="check">
                    <input id="policy-default" type="checkbox" bind:checked=make_default/>
                    <label for="policy-default">"Default policy (for incidents no rule routes)"</label>
                </div>

                <EditorFooter problems=problems.into() status=editor.status save=editor.save label="Save policy"/>
            </form>

            <PolicyPreview form=form checked=editor.checked/>
        </section>
    }
}

/// After the last level, after an acknowledgement, and the policy's zone and holidays.
#[component]
fn PolicyOptions(form: PolicyForm, problems: Memo<Problems>) -> impl IntoView {
    let at = move |path: &str| Editor::<PolicyForm>::at(problems, path);
    view! {
                <fieldset class="group">
                    <legend>"After the last level"</legend>
                    <div class="field">
                        <label for="policy-after">"After the last level"</label>
                        <select id="policy-after" on:change=move |ev| form.repeat.set(event_target_value(&ev) == "repeat")>
                            <option value="stop" prop:selected=move || !form.repeat.get()>"Stop escalating"</option>
                            <option value="repeat" prop:selected=move || form.repeat.get()>"Go round again"</option>
                        </select>
                    </div>
                    <Show when=move || form.repeat.get()>
                        <div class="row">
                            <Labelled label="Extra loops" id="policy-repeat-times" error=at("repeat.times")>
                                <input id="policy-repeat-times" type="number" min="1" max="100" inputmode="numeric" bind:value=form.repeat_times/>
                            </Labelled>
                            <Labelled label="Each loop starts at level" id="policy-repeat-from" error=at("repeat.from_level")>
                                <input id="policy-repeat-from" type="number" min="1" inputmode="numeric" bind:value=form.repeat_from/>
                            </Labelled>
                        </div>
                    </Show>
                </fieldset>

                <fieldset class="group">
                    <legend>"After an acknowledgement"</legend>
                    <Labelled label="Ack reminder (minutes)" id="policy-reminder" hint="Page whoever acknowledged again every this long until it is resolved. Empty: never. A number of minutes, or with a unit: 90s, 1h30m." error=at("ack_reminder")>
                        <input id="policy-reminder" type="text" autocomplete="off" bind:value=form.ack_reminder/>
                    </Labelled>
                    <Labelled label="Status unchanged for (minutes) → escalate" id="policy-stale" hint="Pull in the next level when the status has not changed this long, even when acknowledged. Empty: never. A number of minutes, or with a unit: 90s, 1h30m." error=at("escalate_if_status_unchanged")>
                        <input id="policy-stale" type="text" autocomplete="off" bind:value=form.stale/>
                    </Labelled>
                </fieldset>

                <details class="group">
                    <summary>"Time zone and holidays (for levels' hours)"</summary>
                    <Labelled label="Policy time zone" id="policy-tz" error=at("time_zone")>
                        <input id="policy-tz" type="text" list="policy-zones" autocomplete="off" bind:value=form.time_zone/>
                    </Labelled>
                    <datalist id="policy-zones">
                        {time_zone_names().map(|z| view! { <option value=z></option> }).collect_view()}
                    </datalist>
                    <Labelled label="Holidays" id="policy-holidays" hint="Dates as YYYY-MM-DD, separated by commas; hours can be closed on them." error=at("holidays")>
                        <input id="policy-holidays" type="text" autocomplete="off" bind:value=form.holidays/>
                    </Labelled>
                </details>
    }
}

/// The path the draft would take for an incident of a chosen severity opening at a chosen time.
#[component]
fn PolicyPreview(form: PolicyForm, checked: Memo<Result<EscalationPolicy, Problems>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    // The preview: severity and start instant in the policy's zone.
    let zone = Signal::derive(move || zone_named(&form.time_zone.get()));
    let preview_severity = RwSignal::new("sev1".to_string());
    let preview_at = RwSignal::new(datetime_input(zone_named(&browser_time_zone()), state.now.get_untracked()));
    let start = Signal::derive(move || parse_datetime_input(zone.get(), &preview_at.get()));
    let severity = Signal::derive(move || severity_of(&preview_severity.get()));
    let steps = Signal::derive(move || match (checked.get(), start.get()) {
        (Err(_), _) => Err("Give every level a target and a timeout (only the last may wait forever) to see the path.".to_string()),
        (Ok(p), Some(t0)) => Ok(state.world.with(|w| path_of(w, &p, severity.get(), t0))),
        (Ok(_), None) => Ok(Vec::new()),
    });
    view! {
            <section class="card preview-card" aria-labelledby="preview-title">
                <h2 id="preview-title">"Path preview"</h2>
                <div class="row">
                    <ChoiceField id="preview-severity" label="Preview severity" options=SEVERITY_OPTIONS.iter().map(|(v, t)| (v.to_string(), t.to_string())).collect() value=preview_severity/>
                    <div class="field">
                        <label for="preview-at">"Incident opens at"</label>
                        <input id="preview-at" type="datetime-local" bind:value=preview_at/>
                    </div>
                </div>
                <PathPreview steps=steps start=start severity=severity zone=zone/>
            </section>
    }
}

fn position_of(form: PolicyForm, uid: u64) -> usize {
    form.levels.with(|ls| ls.iter().position(|l| l.uid == uid).unwrap_or(0))
}

#[component]
fn LevelEditor(level: LevelForm, form: PolicyForm, problems: Memo<Problems>) -> impl IntoView {
    let index = Memo::new(move |_| position_of(form, level.uid));
    let n = move || index.get() + 1;
    let count = move || form.levels.with(Vec::len);
    let at = move |suffix: &'static str| {
        Signal::derive(move || {
            let path = if suffix.is_empty() { format!("levels[{}]", index.get()) } else { format!("levels[{}].{suffix}", index.get()) };
            problem_at(&problems.get(), &path)
        })
    };
    let move_by = move |delta: isize| {
        form.levels.update(|ls| {
            let i = ls.iter().position(|l| l.uid == level.uid).unwrap_or(0) as isize;
            let j = i + delta;
            if j >= 0 && (j as usize) < ls.len() {
                ls.swap(i as usize, j as usize);
            }
        })
    };
    let legend = move || format!("Level {}", n());
    let what_only = Signal::derive(move || format!("level {} only during", n()));
    let what_except = Signal::derive(move || format!("level {} except during", n()));

    view! {
        <fieldset class="level">
            <legend>{legend}</legend>
            <Labelled label="Level name (optional)" id=format!("lvl{}-name", level.uid)>
                <input id=format!("lvl{}-name", level.uid) type="text" autocomplete="off" placeholder="Primary on-call" bind:value=level.name/>
            </Labelled>

            <LevelTargets level=level n=Signal::derive(n) error=at("targets")/>

            <TimeoutFields timeout=level.ack id=format!("lvl{}-ack", level.uid) what="Ack timeout" hint="No acknowledgement this long after the level was paged → the next level. A number of minutes, or with a unit: 90s, 1h30m." error=at("ack_timeout")/>
            <TimeoutFields timeout=level.resolution id=format!("lvl{}-res", level.uid) what="Resolution timeout" hint="Not resolved this long after the level was paged, acknowledged or not → the next level. Empty: none. A number of minutes, or with a unit: 90s, 1h30m." error=at("resolution_timeout")/>

            <details class="group" open=move || !level.only_during.get_untracked().is_empty() || !level.except_during.get_untracked().is_empty()>
                <summary>"Hours (time conditions)"</summary>
                <p class="hint">"Only during: the level takes part only inside these hours. Except during: it is skipped inside them. In the policy's time zone."</p>
                <h3 class="sub">"Only during"</h3>
                <WindowsEditor windows=level.only_during what=what_only/>
                <h3 class="sub">"Except during"</h3>
                <WindowsEditor windows=level.except_during what=what_except new_window=("daily", "22:00", "07:00")/>
            </details>

            <CheckpointFields level=level at=at/>
            <Alert message=Signal::derive(move || at("").get()) class="field-error"/>
            <div class="actions">
                <button type="button" class="small" prop:disabled=move || { index.get() == 0 } aria-label=move || format!("Move level {} up", n()) on:click=move |_| move_by(-1)>"↑ Up"</button>
                <button type="button" class="small" prop:disabled=move || { index.get() + 1 >= count() } aria-label=move || format!("Move level {} down", n()) on:click=move |_| move_by(1)>"↓ Down"</button>
                <button type="button" class="small danger" prop:disabled=move || { count() <= 1 } aria-label=move || format!("Remove level {}", n())
                    on:click=move |_| form.levels.update(|ls| ls.retain(|l| l.uid != level.uid))>"Remove level"</button>
            </div>
        </fieldset>
    }
}

/// Who a level pages together, and a select to add one more.
#[component]
fn LevelTargets(level: LevelForm, n: Signal<usize>, error: Signal<Option<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let n = move || n.get();
    let add_target = move |ev: leptos::ev::Event| {
        if let Some(t) = target_from_key(&take_choice(&ev)) {
            level.targets.update(|ts| {
                if !ts.contains(&t) {
                    ts.push(t)
                }
            });
        }
    };
    view! {
            <div class="field">
                <span class="field-label" id=format!("lvl{}-targets-label", level.uid)>"Paged together"</span>
                <ul class="chips" aria-labelledby=format!("lvl{}-targets-label", level.uid)>
                    {move || {
                        let targets = level.targets.get();
                        if targets.is_empty() {
                            return view! { <li class="muted">"Nobody yet: add a target below."</li> }.into_any();
                        }
                        targets
                            .into_iter()
                            .map(|t| {
                                let name = state.world.with(|w| target_name(w, &t));
                                let label = format!("Remove {name} from level {}", n());
                                view! {
                                    <li class="chip">
                                        <span>{name}</span>
                                        <button type="button" class="small" aria-label=label on:click=move |_| level.targets.update(|ts| ts.retain(|x| *x != t))>"×"</button>
                                    </li>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }}
                </ul>
            </div>
            <div class="field">
                <label for=format!("lvl{}-add", level.uid)>{move || format!("Add target to level {}", n())}</label>
                <select id=format!("lvl{}-add", level.uid) on:change=add_target>
                    <option value="" selected>"Choose a person, schedule, team or channel…"</option>
                    {move || {
                        state.world.with(target_choices)
                            .into_iter()
                            .filter(|(_, options)| !options.is_empty())
                            .map(|(group, options)| view! {
                                <optgroup label=group>
                                    {options.into_iter().map(|(key, name)| view! { <option value=key>{name}</option> }).collect_view()}
                                </optgroup>
                            })
                            .collect_view()
                    }}
                </select>
                <Alert message=error class="field-error"/>
            </div>
    }
}

/// "Ask for confirmation before paging this level", with its question and wait.
#[component]
fn CheckpointFields<F>(level: LevelForm, at: F) -> impl IntoView
where
    F: Fn(&'static str) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
{
    view! {
            <div class="check">
                <input id=format!("lvl{}-cp", level.uid) type="checkbox" bind:checked=level.checkpoint/>
                <label for=format!("lvl{}-cp", level.uid)>"Ask for confirmation before paging this level"</label>
            </div>
            <Show when=move || level.checkpoint.get()>
                <div class="group">
                    <Labelled label="Question to confirm" id=format!("lvl{}-cp-prompt", level.uid) error=at("checkpoint.prompt")>
                        <input id=format!("lvl{}-cp-prompt", level.uid) type="text" autocomplete="off" placeholder="Page the payments vendor?" bind:value=level.checkpoint_prompt/>
                    </Labelled>
                    <div class="row">
                        <Labelled label="Wait for confirmation (minutes)" id=format!("lvl{}-cp-timeout", level.uid) error=at("checkpoint.timeout")>
                            <input id=format!("lvl{}-cp-timeout", level.uid) type="text" autocomplete="off" bind:value=level.checkpoint_timeout/>
                        </Labelled>
                        <div class="field">
                            <label for=format!("lvl{}-cp-on", level.uid)>"If nobody confirms"</label>
                            <Choice id=format!("lvl{}-cp-on", level.uid) options=vec![
                                ("proceed".into(), "Page the level anyway".into()),
                                ("skip".into(), "Skip this level".into()),
                                ("stop".into(), "Stop escalating".into()),
                            ] value=level.checkpoint_on_timeout/>
                        </div>
                    </div>
                </div>
            </Show>
    }
}

/// A timeout: one length in minutes, and optional lengths per severity.
#[component]
fn TimeoutFields(timeout: TimeoutForm, id: String, what: &'static str, hint: &'static str, error: Signal<Option<String>>) -> impl IntoView {
    let open = timeout.has_overrides();
    let base_id = id.clone();
    view! {
        <Labelled label=format!("{what} (minutes)") id=base_id.clone() hint=hint error=error>
            <input id=base_id type="text" autocomplete="off" bind:value=timeout.base/>
        </Labelled>
        <details class="per-severity" open=open>
            <summary>{format!("{what} per severity")}</summary>
            <div class="row four">
                {["SEV1", "SEV2", "SEV3", "SEV4"]
                    .into_iter()
                    .zip(timeout.by_severity)
                    .map(|(sev, value)| {
                        let field = format!("{id}-{}", sev.to_lowercase());
                        view! {
                            <div class="field">
                                <label for=field.clone()>{format!("{sev} {} (minutes)", what.to_lowercase())}</label>
                                <input id=field type="text" autocomplete="off" placeholder="as above" bind:value=value/>
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
        </details>
    }
}
