//! People: add, edit and remove the responders Piket pages.

use leptos::prelude::*;

use crate::route::Route;

use super::command::use_command_then;
use super::row_actions::{ConfigList, RowActions};
use super::state::{browser_time_zone, AppState};
use crate::engine::person::{time_zone_names, Contact, Person};
use crate::runtime::command::{Command, ConfigItem, ConfigKind};

/// The form's fields, as typed.
#[derive(Clone, Copy, Default)]
struct PersonForm {
    /// Id of the person being edited; empty while adding.
    id: RwSignal<String>,
    name: RwSignal<String>,
    time_zone: RwSignal<String>,
    ntfy_topic: RwSignal<String>,
    webhook_url: RwSignal<String>,
    email: RwSignal<String>,
    notes: RwSignal<String>,
    /// (field, message) of the last refused save.
    error: RwSignal<Option<(&'static str, String)>>,
}

impl PersonForm {
    fn new() -> Self {
        PersonForm { time_zone: RwSignal::new(browser_time_zone()), ..Default::default() }
    }

    fn fill(self, p: &Person) {
        self.id.set(p.id.clone());
        self.name.set(p.name.clone());
        self.time_zone.set(p.time_zone.clone());
        self.ntfy_topic.set(p.contact.ntfy_topic.clone());
        self.webhook_url.set(p.contact.webhook_url.clone());
        self.email.set(p.contact.email.clone());
        self.notes.set(p.notes.clone());
        self.error.set(None);
    }

    fn clear(self) {
        self.fill(&Person { id: String::new(), name: String::new(), time_zone: browser_time_zone(), contact: Contact::default(), notes: String::new() });
    }

    fn draft(self) -> Person {
        Person {
            id: self.id.get_untracked(),
            name: self.name.get_untracked(),
            time_zone: self.time_zone.get_untracked(),
            contact: Contact { ntfy_topic: self.ntfy_topic.get_untracked(), webhook_url: self.webhook_url.get_untracked(), email: self.email.get_untracked() },
            notes: self.notes.get_untracked(),
        }
    }

    fn error_for(self, field: &'static str) -> Option<String> {
        self.error.get().filter(|(f, _)| *f == field).map(|(_, m)| m)
    }
}

#[component]
pub fn PeopleScreen() -> impl IntoView {
    let form = PersonForm::new();
    let editing = move || !form.id.get().is_empty();
    let confirm_remove = RwSignal::new(None::<String>);

    let save = use_command_then(move |reply| match reply {
        Ok(_) => form.clear(),
        Err(refusal) => {
            // The field the core names (`PersonError::field`), so the message sits next to its input.
            let field = match refusal.field.as_deref() {
                Some("name") => "name",
                Some("time_zone") => "time_zone",
                Some("contact.ntfy_topic") => "contact.ntfy_topic",
                Some("contact.webhook_url") => "contact.webhook_url",
                Some("contact.email") => "contact.email",
                _ => "form",
            };
            form.error.set(Some((field, refusal.message.clone())));
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(Command::Save { item: ConfigItem::Person(form.draft()) });
    };

    view! {
        <section class="screen">
            <h1>"People"</h1>
            <p class="lede">"The responders Piket pages, and how each one is reached. Group them in "<a href=Route::Teams.href()>"Teams"</a>"."</p>


            <PeopleList form=form confirm_remove=confirm_remove/>

            <form class="card form" on:submit=submit novalidate aria-labelledby="person-form-title">
                <h2 id="person-form-title">{move || if editing() { "Edit person" } else { "Add a person" }}</h2>
                <Field label="Name" id="person-name" error=Signal::derive(move || form.error_for("name"))>
                    <input id="person-name" name="name" type="text" autocomplete="off" required
                        aria-invalid=move || form.error_for("name").is_some().to_string()
                        aria-describedby="person-name-error"
                        bind:value=form.name />
                </Field>
                <Field label="Time zone" id="person-tz" error=Signal::derive(move || form.error_for("time_zone"))>
                    <input id="person-tz" name="time_zone" type="text" list="time-zones" autocomplete="off"
                        aria-invalid=move || form.error_for("time_zone").is_some().to_string()
                        aria-describedby="person-tz-error"
                        bind:value=form.time_zone />
                </Field>
                <datalist id="time-zones">
                    {time_zone_names().map(|z| view! { <option value=z></option> }).collect_view()}
                </datalist>
                <Field label="ntfy topic" id="person-ntfy" error=Signal::derive(move || form.error_for("contact.ntfy_topic"))>
                    <input id="person-ntfy" name="ntfy_topic" type="text" autocomplete="off"
                        aria-invalid=move || form.error_for("contact.ntfy_topic").is_some().to_string()
                        aria-describedby="person-ntfy-error"
                        bind:value=form.ntfy_topic />
                </Field>
                <Field label="Webhook URL" id="person-webhook" error=Signal::derive(move || form.error_for("contact.webhook_url"))>
                    <input id="person-webhook" name="webhook_url" type="url" autocomplete="off"
                        aria-invalid=move || form.error_for("contact.webhook_url").is_some().to_string()
                        aria-describedby="person-webhook-error"
                        bind:value=form.webhook_url />
                </Field>
                <Field label="E-mail (label only)" id="person-email" error=Signal::derive(move || form.error_for("contact.email"))>
                    <input id="person-email" name="email" type="email" autocomplete="off"
                        aria-invalid=move || form.error_for("contact.email").is_some().to_string()
                        aria-describedby="person-email-error"
                        bind:value=form.email />
                </Field>
                <Field label="Notes" id="person-notes" error=Signal::derive(|| None)>
                    <textarea id="person-notes" name="notes" rows="2" bind:value=form.notes></textarea>
                </Field>
                <Show when=move || form.error_for("form").is_some()>
                    <p class="error" role="alert">{move || form.error_for("form")}</p>
                </Show>
                <div class="actions">
                    <button type="submit" class="primary">{move || if editing() { "Save changes" } else { "Add person" }}</button>
                    <Show when=editing>
                        <button type="button" on:click=move |_| form.clear()>"Cancel edit"</button>
                    </Show>
                </div>
            </form>
        </section>
    }
}

/// Everyone, each with Edit and Remove.
#[component]
fn PeopleList(form: PersonForm, confirm_remove: RwSignal<Option<String>>) -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
            <ConfigList empty=move || state.world.with(|w| w.people.is_empty()) empty_text="No one here yet. Add the people who take pages: a name, their time zone, and where a page reaches them.">
                <ul class="people-list" aria-label="People">
                    <For each=move || state.people() key=|p| p.clone() let:person>
                        <PersonRow person=person form=form confirm_remove=confirm_remove />
                    </For>
                </ul>
            </ConfigList>
    }
}

#[component]
fn Field(label: &'static str, id: &'static str, error: Signal<Option<String>>, children: Children) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {children()}
            <p class="field-error" id=format!("{id}-error") role="alert">{move || error.get()}</p>
        </div>
    }
}

#[component]
fn PersonRow(person: Person, form: PersonForm, confirm_remove: RwSignal<Option<String>>) -> impl IntoView {
    let contact = [
        (!person.contact.ntfy_topic.is_empty()).then(|| format!("ntfy: {}", person.contact.ntfy_topic)),
        (!person.contact.webhook_url.is_empty()).then(|| "webhook: ••••".to_string()),
        (!person.contact.email.is_empty()).then(|| person.contact.email.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let name = person.name.clone();
    let edit_person = person.clone();
    view! {
        <li class="card person">
            <div class="person-main">
                <strong class="person-name">{person.name.clone()}</strong>
                <span class="muted">{person.time_zone.clone()}</span>
                <span class="muted">{if contact.is_empty() { "no contact yet".to_string() } else { contact }}</span>
                <Show when={let n = person.notes.clone(); move || !n.is_empty()}>
                    <span class="notes">{person.notes.clone()}</span>
                </Show>
            </div>
            <RowActions name=name.clone() id=person.id.clone() kind=ConfigKind::Person question=format!("Remove {name}?")
                confirm_remove=confirm_remove on_edit=Callback::new(move |_| form.fill(&edit_person)) />
        </li>
    }
}
