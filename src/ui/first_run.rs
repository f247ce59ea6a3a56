//! First run: an empty Piket says what to do first, and offers an example team to start from.
//!
//! The example team is `examples/example-team.json` (a Piket backup file, embedded). Loading it
//! saves its records one by one through the runtime, in dependency order, so nothing already stored
//! is replaced (a restore would wipe incidents and settings). Every record's id starts with
//! `example-`; "Remove the example team" removes exactly those records, in reverse dependency order.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::ui::command::Alert;

use crate::route::Route;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::command::use_task;
use super::state::{browser_time_zone, AppState};
use crate::engine::person::Person;
use crate::engine::policy::EscalationPolicy;
use crate::engine::rules::Rule;
use crate::engine::schedule::OnCallSchedule;
use crate::engine::time::Zone;
use crate::engine::world::{Channel, Team, World};
use crate::runtime::command::{Command, ConfigItem, ConfigKind};

/// The example team, as a Piket backup file.
pub const EXAMPLE_TEAM: &str = include_str!("../../examples/example-team.json");
/// The example policy (made the default when there is none).
pub const EXAMPLE_POLICY: &str = "example-policy";

#[derive(Deserialize)]
struct BackupFile {
    stores: BTreeMap<String, Vec<Row>>,
}

#[derive(Deserialize)]
struct Row {
    value: serde_json::Value,
}

/// The example team's records, ready to save in dependency order.
struct ExampleTeam {
    people: Vec<Person>,
    channels: Vec<Channel>,
    schedules: Vec<OnCallSchedule>,
    teams: Vec<Team>,
    policies: Vec<EscalationPolicy>,
    rules: Vec<Rule>,
}

impl ExampleTeam {
    /// Reads the embedded file; the people, rotation and policy live in `time_zone` (the browser's),
    /// so the rotation hands off at 09:00 where the newcomer is.
    fn read(time_zone: &str) -> Result<ExampleTeam, String> {
        let file: BackupFile = crate::json::stored_from_str(EXAMPLE_TEAM).map_err(|e| e.to_string())?;
        fn store<T: DeserializeOwned>(file: &BackupFile, name: &str) -> Result<Vec<T>, String> {
            file.stores
                .get(name)
                .map(|rows| rows.iter().map(|r| crate::json::stored_from_value(r.value.clone()).map_err(|e| format!("{name}: {e}"))).collect())
                .unwrap_or_else(|| Ok(Vec::new()))
        }
        let mut team = ExampleTeam {
            people: store(&file, "people")?,
            channels: store(&file, "channels")?,
            schedules: store(&file, "schedules")?,
            teams: store(&file, "teams")?,
            policies: store(&file, "policies")?,
            rules: store(&file, "rules")?,
        };
        if let Ok(tz) = time_zone.parse() {
            let zone = Zone(tz);
            team.people.iter_mut().for_each(|p| p.time_zone = time_zone.to_string());
            team.schedules.iter_mut().for_each(|s| s.time_zone = zone);
            team.policies.iter_mut().for_each(|p| p.time_zone = zone);
        }
        Ok(team)
    }

    fn items(self) -> Vec<ConfigItem> {
        let mut items = Vec::new();
        items.extend(self.people.into_iter().map(ConfigItem::Person));
        items.extend(self.channels.into_iter().map(ConfigItem::Channel));
        items.extend(self.schedules.into_iter().map(ConfigItem::Schedule));
        items.extend(self.teams.into_iter().map(ConfigItem::Team));
        items.extend(self.policies.into_iter().map(ConfigItem::Policy));
        items.extend(self.rules.into_iter().map(ConfigItem::Rule));
        items
    }
}

/// The example records present in `world`, in the order they can be removed.
fn example_records(world: &World) -> Vec<(ConfigKind, String)> {
    let mine = |id: &str| id.starts_with("example-");
    let mut out = Vec::new();
    out.extend(world.rules.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Rule, r.id.to_string())));
    out.extend(world.policies.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Policy, r.id.to_string())));
    out.extend(world.teams.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Team, r.id.to_string())));
    out.extend(world.schedules.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Schedule, r.id.to_string())));
    out.extend(world.channels.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Channel, r.id.to_string())));
    out.extend(world.people.iter().filter(|r| mine(&r.id)).map(|r| (ConfigKind::Person, r.id.to_string())));
    out
}

/// Whether nothing is configured yet that pages anyone.
fn is_empty(world: &World) -> bool {
    world.people.is_empty() && world.policies.is_empty()
}

/// The first-run card: on an empty Piket, what to do first and "Start from an example team"; while
/// the example team is loaded, what it shows and "Remove the example team". Shows nothing otherwise.
/// Drop it on any screen (the incidents home, Policies).
#[component]
pub fn FirstRunCard() -> impl IntoView {
    let state = expect_context::<AppState>();
    let status = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);

    let empty = move || state.loaded.get() && state.world.with(is_empty);
    let example_loaded = move || state.loaded.get() && state.world.with(|w| !example_records(w).is_empty());

    // Loading or removing the example team is several commands in a row: one task each.
    let load = use_task(move |()| async move {
        let result = async {
            let team = ExampleTeam::read(&browser_time_zone())?;
            for item in team.items() {
                state.run(Command::Save { item }).await.map_err(|r| r.message)?;
            }
            if state.world.with_untracked(|w| w.default_policy.is_none()) {
                state.run(Command::SetDefaultPolicy { policy: Some(EXAMPLE_POLICY.into()) }).await.map_err(|r| r.message)?;
            }
            Ok::<(), String>(())
        }
        .await;
        match result {
            Ok(()) => status.set("The example team is loaded.".into()),
            Err(e) => {
                status.set(String::new());
                error.set(Some(format!("The example team could not be loaded completely: {e}")));
            }
        }
    });
    let unload = use_task(move |()| async move {
        let records = state.world.with_untracked(example_records);
        let mut failed = Vec::new();
        for (kind, id) in records {
            if let Err(r) = state.run(Command::Remove { kind, id: id.clone() }).await {
                failed.push(format!("{id}: {}", r.message));
            }
        }
        if failed.is_empty() {
            status.set("The example team was removed.".into());
        } else {
            status.set(String::new());
            error.set(Some(format!("Some example records are still used by your own and were kept: {}", failed.join("; "))));
        }
    });
    let busy = move || load.pending().get() || unload.pending().get();
    let begin = move |task: Action<(), ()>, words: &str| {
        if load.pending().get_untracked() || unload.pending().get_untracked() {
            return;
        }
        error.set(None);
        status.set(words.into());
        task.dispatch_local(());
    };
    let start = move |_| begin(load, "Loading the example team…");
    let remove = move |_| begin(unload, "Removing the example team…");

    view! {
        <div class="first-run-slot">
            <Show when=empty>
                <section class="card first-run" aria-labelledby="first-run-title">
                    <h2 id="first-run-title">"Start here: who gets paged?"</h2>
                    <ol class="steps">
                        <li><a href=Route::People.href()>"Add the people"</a>" who take pages, and where a page reaches them."</li>
                        <li><a href=Route::Schedules.href()>"Make a rotation"</a>" (who is on call this week)."</li>
                        <li><a href=Route::Policy("new".into()).href()>"Write a policy"</a>": who is paged first, who next, after how long."</li>
                    </ol>
                    <p>"Or look at a working setup first: four people, a weekly rotation, a three-level policy, two rules and a channel. Everything it adds is marked “example” and can be removed in one click. It reaches nobody for real: the people have no ntfy topic and the channel posts to a test address on this machine (http://localhost:8080) until you change them."</p>
                    <div class="actions">
                        <button type="button" class="primary" prop:disabled=busy on:click=start>"Start from an example team"</button>
                    </div>
                </section>
            </Show>
            <Show when=move || example_loaded() && !empty()>
                <section class="card first-run example" aria-labelledby="example-title">
                    <h2 id="example-title">"You are looking at the example team"</h2>
                    <p>
                        "Alice and Bob take turns on "<a href=Route::Schedule("example-primary".into()).href()>"a weekly rotation"</a>
                        "; "<a href=Route::Policy("example-policy".into()).href()>"the example policy"</a>
                        " pages whoever is on call, then Carol and the #major-incident channel after 15 minutes without an acknowledgement (5 for SEV1), then Dana. Open an incident to watch it escalate."
                    </p>
                    <div class="actions">
                        <button type="button" class="danger" prop:disabled=busy on:click=remove>"Remove the example team"</button>
                    </div>
                </section>
            </Show>
            <p class="status" role="status">{move || status.get()}</p>
            <Alert message=error/>
        </div>
    }
}
