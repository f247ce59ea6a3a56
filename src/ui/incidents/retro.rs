//! The retrospective of a resolved incident, on its page: a summary and action items (what, whose,
//! due when, done), edited in place and saved with one command. A refusal shows each problem at
//! its field (`items[1].owner`). Reports lists the items still open.

use chrono::NaiveDate;
use leptos::prelude::*;

use super::AppState;
use crate::engine::incident::Incident;
use crate::insight::retro::{ActionItem, Retrospective};
use crate::runtime::command::Command;
use crate::ui::command::{use_command, Outcome};
use crate::ui::policies::fields::uid;

/// One action item as typed.
#[derive(Clone, Copy)]
struct ItemForm {
    uid: u64,
    text: RwSignal<String>,
    owner: RwSignal<String>,
    due: RwSignal<String>,
    done: RwSignal<bool>,
}

impl ItemForm {
    fn of(item: &ActionItem) -> ItemForm {
        ItemForm {
            uid: uid(),
            text: RwSignal::new(item.text.clone()),
            owner: RwSignal::new(item.owner.as_ref().map(|o| o.to_string()).unwrap_or_default()),
            due: RwSignal::new(item.due.map(|d| d.to_string()).unwrap_or_default()),
            done: RwSignal::new(item.done),
        }
    }

    /// The item, or what is wrong with its due date.
    fn item(self) -> Result<ActionItem, String> {
        let due = self.due.get_untracked();
        let due = match due.trim() {
            "" => None,
            d => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| "a due date is a day (YYYY-MM-DD)".to_string())?),
        };
        let owner = Some(self.owner.get_untracked()).filter(|o| !o.is_empty()).map(Into::into);
        Ok(ActionItem { text: self.text.get_untracked(), owner, due, done: self.done.get_untracked() })
    }
}

#[component]
pub fn RetroCard(incident: Memo<Option<Incident>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = incident.with_untracked(|i| i.as_ref().map(|i| i.id.to_string()).unwrap_or_default());
    let saved = state.retrospective(&id);
    let summary = RwSignal::new(saved.as_ref().map(|r| r.summary.clone()).unwrap_or_default());
    let items = RwSignal::new(saved.as_ref().map(|r| r.items.iter().map(ItemForm::of).collect::<Vec<_>>()).unwrap_or_default());
    let local_problems = RwSignal::new(Vec::<(String, String)>::new());
    let save = use_command();
    let resolved = move || incident.with(|i| i.as_ref().is_some_and(|i| !i.is_open()));

    // Problems by path: the command's, or a date this form could not read.
    let problems = move || -> Vec<(String, String)> {
        let mut all = local_problems.get();
        if let Some(r) = save.refusal() {
            all.extend(r.problems.into_iter().map(|p| (p.path, p.message)));
        }
        all
    };
    let at = move |path: String| move || problems().into_iter().find(|(p, _)| *p == path).map(|(_, m)| m);

    let people = move || state.people().into_iter().map(|p| (p.id.to_string(), p.name)).collect::<Vec<_>>();
    let id_for_save = StoredValue::new(id.clone());
    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.clear();
        let mut bad = Vec::new();
        let mut list = Vec::new();
        for (n, f) in items.get_untracked().into_iter().enumerate() {
            match f.item() {
                Ok(item) => list.push(item),
                Err(why) => bad.push((format!("items[{n}].due"), why)),
            }
        }
        local_problems.set(bad.clone());
        if bad.is_empty() {
            save.dispatch(Command::SaveRetrospective {
                retrospective: Retrospective { incident: id_for_save.get_value().into(), summary: summary.get_untracked(), items: list },
            });
        }
    };
    let each = move || items.get().into_iter().enumerate().collect::<Vec<_>>();
    let key = |(n, f): &(usize, ItemForm)| (*n, f.uid);
    let row = move |(n, f): (usize, ItemForm)| {
        view! {
            <li class="retro-item">
                <div class="field">
                    <label for=format!("retro-item-{n}-text")>{format!("Action item {}", n + 1)}</label>
                    <input id=format!("retro-item-{n}-text") type="text" autocomplete="off" bind:value=f.text/>
                    <p class="field-error" role="alert">{at(format!("items[{n}].text"))}</p>
                </div>
                <div class="row">
                    <div class="field">
                        <label for=format!("retro-item-{n}-owner")>"Owner"</label>
                        <select id=format!("retro-item-{n}-owner") on:change=move |ev| f.owner.set(event_target_value(&ev)) prop:value=move || f.owner.get()>
                            <option value="" selected=move || f.owner.get().is_empty()>"Nobody yet"</option>
                            {move || people().into_iter().map(|(pid, name)| {
                                let chosen = pid.clone();
                                view! { <option value=pid selected=move || f.owner.get() == chosen>{name}</option> }
                            }).collect_view()}
                        </select>
                        <p class="field-error" role="alert">{at(format!("items[{n}].owner"))}</p>
                    </div>
                    <div class="field">
                        <label for=format!("retro-item-{n}-due")>"Due"</label>
                        <input id=format!("retro-item-{n}-due") type="date" bind:value=f.due/>
                        <p class="field-error" role="alert">{at(format!("items[{n}].due"))}</p>
                    </div>
                </div>
                <div class="actions">
                    <label class="check"><input type="checkbox" bind:checked=f.done/>" Done"</label>
                    <button type="button" on:click=move |_| items.update(|list| list.retain(|x| x.uid != f.uid))>{format!("Remove action item {}", n + 1)}</button>
                </div>
            </li>
        }
    };
    let add = move |_| items.update(|list| list.push(ItemForm::of(&ActionItem::default())));

    view! {
        <Show when=resolved>
            <section class="card retro" aria-labelledby="retro-title">
                <h2 id="retro-title">"Retrospective"</h2>
                <form class="form-stack" on:submit=on_save novalidate aria-label="Retrospective">
                    <div class="field">
                        <label for="retro-summary">"Summary"</label>
                        <textarea id="retro-summary" rows="3" prop:value=move || summary.get() on:input=move |ev| summary.set(event_target_value(&ev))></textarea>
                        <p class="field-error" role="alert">{at("summary".into())}</p>
                    </div>
                    <h3>"Action items"</h3>
                    <ol class="retro-items">
                        <For each=each key=key children=row/>
                    </ol>
                    <p class="field-error" role="alert">{at("items".into())}</p>
                    <p class="field-error" role="alert">{at("incident".into())}</p>
                    <div class="actions">
                        <button type="button" on:click=add>"Add action item"</button>
                        <button type="submit" class="primary" disabled=move || save.pending()>"Save retrospective"</button>
                    </div>
                    <Outcome message=Signal::derive(move || save.reply().and_then(|r| r.ok()).map(|d| Ok(d.message)))/>
                    <Show when=move || save.refusal().is_some()>
                        <p class="error" role="alert">"Not saved: fix what is marked above."</p>
                    </Show>
                </form>
            </section>
        </Show>
    }
}
