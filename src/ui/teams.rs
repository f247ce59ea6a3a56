//! Teams: a name, members, and optionally a schedule. Paging a team pages whoever is on call on its
//! schedule, or every member when it has none.

use leptos::prelude::*;

use crate::route::Route;

use super::editor::{use_editor, Draft, EditorFooter};
use super::policies::fields::{Choice, Labelled, Problems};
use super::row_actions::{ConfigList, RowActions};
use super::state::AppState;
use crate::engine::id::{PersonId, ScheduleId, TeamId};
use crate::engine::world::Team;
use crate::runtime::command::ConfigKind;

/// The team form's draft.
#[derive(Clone, Copy, Default)]
struct TeamForm {
    id: RwSignal<String>,
    name: RwSignal<String>,
    members: RwSignal<Vec<PersonId>>,
    /// A schedule id, or empty for none.
    schedule: RwSignal<String>,
}

impl Draft for TeamForm {
    type Record = Team;

    fn fill(self, t: &Team) {
        self.id.set(t.id.to_string());
        self.name.set(t.name.clone());
        self.members.set(t.members.clone());
        self.schedule.set(t.schedule.as_ref().map(ScheduleId::to_string).unwrap_or_default());
    }

    fn record(self) -> Result<Team, Problems> {
        let name = self.name.get().trim().to_string();
        if name.is_empty() {
            return Err(vec![(String::new(), "Give the team a name.".into())]);
        }
        Ok(Team {
            id: self.id.get().into(),
            name,
            members: self.members.get(),
            schedule: Some(self.schedule.get()).filter(|s| !s.is_empty()).map(ScheduleId::from),
        })
    }
}

fn no_team() -> Team {
    Team { id: TeamId::default(), name: String::new(), members: Vec::new(), schedule: None }
}

#[component]
pub fn TeamsScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let form = TeamForm::default();
    let editor = use_editor(form, "", |editor, done| {
        editor.draft.fill(&no_team());
        editor.reset();
        editor.status.set(done.message.clone());
    });
    let problems = editor.problems(|| false);
    let confirm_remove = RwSignal::new(None::<String>);
    let cancel = Callback::new(move |_| {
        form.fill(&no_team());
        editor.tried.set(false);
        editor.refusal.set(Problems::new());
    });

    view! {
        <section class="screen config">
            <p class="link-row"><a href=Route::People.href()>"People"</a>" · "<a href=Route::Policies.href()>"Policies"</a></p>
            <h1>"Teams"</h1>
            <p class="lede">"A team owns a domain (database, network, payments). A policy level that targets a team pages whoever is on call on its schedule, or every member."</p>
            <ConfigList empty=move || state.world.with(|w| w.teams.is_empty()) empty_text="No teams yet.">
                <ul class="config-list" aria-label="Teams">
                    <For each=move || state.world.with(|w| w.teams.clone()) key=|t| format!("{t:?}") let:team>
                        <TeamRow team=team confirm_remove=confirm_remove on_edit=Callback::new(move |t: Team| {
                            form.fill(&t);
                            editor.reset();
                        })/>
                    </For>
                </ul>
            </ConfigList>

            <form class="card form-stack" on:submit=editor.on_submit() novalidate aria-labelledby="team-form-title">
                <h2 id="team-form-title">{move || if form.id.get().is_empty() { "Add a team" } else { "Edit team" }}</h2>
                <Labelled label="Team name" id="team-name">
                    <input id="team-name" type="text" autocomplete="off" bind:value=form.name/>
                </Labelled>
                <MembersField members=form.members/>
                <div class="field">
                    <label for="team-schedule">"Team schedule"</label>
                    {move || view! { <Choice id="team-schedule" options=schedule_choices(state) value=form.schedule/> }}
                </div>
                <EditorFooter problems=problems.into() status=editor.status save=editor.save
                    label=Signal::derive(move || if form.id.get().is_empty() { "Add team".to_string() } else { "Save team".to_string() })
                    cancel=(Signal::derive(move || !form.id.get().is_empty()), cancel)/>
            </form>
        </section>
    }
}

fn schedule_choices(state: AppState) -> Vec<(String, String)> {
    let mut v = vec![(String::new(), "None: page every member".to_string())];
    v.extend(
        state
            .world
            .with(|w| w.schedules.iter().map(|s| (s.id.to_string(), if s.name.is_empty() { s.id.to_string() } else { s.name.clone() })).collect::<Vec<_>>()),
    );
    v
}

#[component]
fn TeamRow(team: Team, confirm_remove: RwSignal<Option<String>>, on_edit: Callback<Team>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let label = team.name.clone();
    let who = team.members.iter().map(|m| state.person_name(m)).collect::<Vec<_>>().join(", ");
    let sched = team.schedule.as_deref().map(|s| state.world.with(|w| w.schedule(s).map(|x| x.name.clone()).unwrap_or_else(|| s.to_string())));
    view! {
        <li class="card config-item">
            <div class="config-main">
                <strong class="config-name">{label.clone()}</strong>
                <span class="muted">{if who.is_empty() { "no members".to_string() } else { who }}</span>
                <span class="muted">{match sched { Some(s) => format!("schedule: {s}"), None => "no schedule: pages every member".into() }}</span>
            </div>
            <RowActions name=label.clone() id=team.id.to_string() kind=ConfigKind::Team question=format!("Remove {label}?") confirm_remove=confirm_remove
                yes_label=format!("Yes, remove {label}") on_edit=Callback::new(move |_| on_edit.run(team.clone())) />
        </li>
    }
}

#[component]
fn MembersField(members: RwSignal<Vec<PersonId>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
                <fieldset class="group">
                    <legend>"Members"</legend>
                    {move || {
                        let people = state.people();
                        if people.is_empty() {
                            return view! { <p class="muted">"Add people first on the "<a href=Route::People.href()>"People"</a>" screen."</p> }.into_any();
                        }
                        people
                            .into_iter()
                            .map(|p| {
                                let pid = p.id.clone();
                                let checked = {
                                    let pid = pid.clone();
                                    move || members.with(|m| m.contains(&pid))
                                };
                                let field = format!("team-member-{}", p.id);
                                view! {
                                    <div class="check">
                                        <input id=field.clone() type="checkbox" prop:checked=checked on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            members.update(|m| {
                                                m.retain(|x| *x != pid);
                                                if on {
                                                    m.push(pid.clone());
                                                }
                                            });
                                        }/>
                                        <label for=field>{p.name.clone()}</label>
                                    </div>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }}
                </fieldset>
    }
}
