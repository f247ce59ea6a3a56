//! Teams: a name, members, and optionally a schedule. Paging a team pages whoever is on call on its
//! schedule, or every member when it has none.

use leptos::prelude::*;

use crate::route::Route;
use leptos::task::spawn_local;

use super::policies::fields::{problems_text, Choice, Labelled};
use super::state::AppState;
use crate::engine::world::Team;
use crate::runtime::command::{Command, ConfigItem, ConfigKind};

#[component]
pub fn TeamsScreen() -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let members = RwSignal::new(Vec::<String>::new());
    let schedule = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());
    let confirm_remove = RwSignal::new(None::<String>);

    let clear = move || {
        id.set(String::new());
        name.set(String::new());
        members.set(Vec::new());
        schedule.set(String::new());
        error.set(None);
    };
    let edit = move |t: &Team| {
        id.set(t.id.clone());
        name.set(t.name.clone());
        members.set(t.members.clone());
        schedule.set(t.schedule.clone().unwrap_or_default());
        error.set(None);
        status.set(String::new());
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if name.get_untracked().trim().is_empty() {
            error.set(Some("Give the team a name.".into()));
            return;
        }
        let team = Team {
            id: id.get_untracked(),
            name: name.get_untracked().trim().to_string(),
            members: members.get_untracked(),
            schedule: Some(schedule.get_untracked()).filter(|s| !s.is_empty()),
        };
        spawn_local(async move {
            match state.run(Command::Save { item: ConfigItem::Team(team) }).await {
                Ok(done) => {
                    clear();
                    status.set(done.message);
                }
                Err(r) => error.set(Some(problems_text(&r.problems_in("teams")))),
            }
        });
    };
    let schedules = move || {
        let mut v = vec![(String::new(), "None: page every member".to_string())];
        v.extend(
            state.world.with(|w| w.schedules.iter().map(|s| (s.id.clone(), if s.name.is_empty() { s.id.clone() } else { s.name.clone() })).collect::<Vec<_>>()),
        );
        v
    };

    view! {
        <section class="screen config">
            <p class="link-row"><a href=Route::People.href()>"People"</a>" · "<a href=Route::Policies.href()>"Policies"</a></p>
            <h1>"Teams"</h1>
            <p class="lede">"A team owns a domain (database, network, payments). A policy level that targets a team pages whoever is on call on its schedule, or every member."</p>
            <Show when=move || state.loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
                <Show
                    when=move || state.world.with(|w| !w.teams.is_empty())
                    fallback=|| view! { <div class="empty-state"><p>"No teams yet."</p></div> }
                >
                    <ul class="config-list" aria-label="Teams">
                        <For each=move || state.world.with(|w| w.teams.clone()) key=|t| format!("{t:?}") let:team>
                            {
                                let label = team.name.clone();
                                let who = team.members.iter().map(|m| state.person_name(m)).collect::<Vec<_>>().join(", ");
                                let sched = team.schedule.as_deref().map(|s| state.world.with(|w| w.schedule(s).map(|x| x.name.clone()).unwrap_or_else(|| s.to_string())));
                                let tid = team.id.clone();
                                let asking = {
                                    let tid = tid.clone();
                                    move || confirm_remove.get().as_deref() == Some(tid.as_str())
                                };
                                let remove_error = RwSignal::new(None::<String>);
                                let (l1, l2, l3) = (label.clone(), label.clone(), label.clone());
                                view! {
                                    <li class="card config-item">
                                        <div class="config-main">
                                            <strong class="config-name">{label.clone()}</strong>
                                            <span class="muted">{if who.is_empty() { "no members".to_string() } else { who }}</span>
                                            <span class="muted">{match sched { Some(s) => format!("schedule: {s}"), None => "no schedule: pages every member".into() }}</span>
                                        </div>
                                        <div class="actions">
                                            <Show when=asking.clone() fallback={
                                                let team = team.clone();
                                                let tid = tid.clone();
                                                move || {
                                                    let (team, tid) = (team.clone(), tid.clone());
                                                    view! {
                                                        <button type="button" aria-label=format!("Edit {l1}") on:click=move |_| edit(&team)>"Edit"</button>
                                                        <button type="button" aria-label=format!("Remove {l1}") on:click=move |_| confirm_remove.set(Some(tid.clone()))>"Remove"</button>
                                                    }
                                                }
                                            }>
                                                <button type="button" class="danger" aria-label=format!("Confirm removing {l2}") on:click={
                                                    let tid = tid.clone();
                                                    move |_| {
                                                        let tid = tid.clone();
                                                        confirm_remove.set(None);
                                                        spawn_local(async move {
                                                            if let Err(e) = state.run(Command::Remove { kind: ConfigKind::Team, id: tid }).await {
                                                                remove_error.set(Some(e.message));
                                                            }
                                                        });
                                                    }
                                                }>{format!("Yes, remove {l3}")}</button>
                                                <button type="button" on:click=move |_| confirm_remove.set(None)>"Keep"</button>
                                            </Show>
                                        </div>
                                        <Show when=move || remove_error.get().is_some()>
                                            <p class="error" role="alert">{move || remove_error.get()}</p>
                                        </Show>
                                    </li>
                                }
                            }
                        </For>
                    </ul>
                </Show>
            </Show>

            <form class="card form-stack" on:submit=submit novalidate aria-labelledby="team-form-title">
                <h2 id="team-form-title">{move || if id.get().is_empty() { "Add a team" } else { "Edit team" }}</h2>
                <Labelled label="Team name" id="team-name">
                    <input id="team-name" type="text" autocomplete="off" bind:value=name/>
                </Labelled>
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
                <div class="field">
                    <label for="team-schedule">"Team schedule"</label>
                    {move || view! { <Choice id="team-schedule" options=schedules() value=schedule/> }}
                </div>
                <Show when=move || error.get().is_some()>
                    <p class="error pre" role="alert">{move || error.get()}</p>
                </Show>
                <p class="status" role="status">{move || status.get()}</p>
                <div class="actions">
                    <button type="submit" class="primary">{move || if id.get().is_empty() { "Add team" } else { "Save team" }}</button>
                    <Show when=move || !id.get().is_empty()>
                        <button type="button" on:click=move |_| clear()>"Cancel edit"</button>
                    </Show>
                </div>
            </form>
        </section>
    }
}
