//! People: add, edit and remove the responders Piket pages.

use leptos::prelude::*;

use crate::ui::command::Alert;

use crate::route::Route;

use super::command::use_command_then;
use super::row_actions::{ConfigList, RowActions};
use super::state::{browser_time_zone, AppState};
use crate::engine::id::PersonId;
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
        self.id.set(p.id.to_string());
        self.name.set(p.name.clone());
        self.time_zone.set(p.time_zone.clone());
        self.ntfy_topic.set(p.contact.ntfy_topic.clone());
        self.webhook_url.set(p.contact.webhook_url.clone());
        self.email.set(p.contact.email.clone());
        self.notes.set(p.notes.clone());
        self.error.set(None);
    }

    fn clear(self) {
        self.fill(&Person { id: PersonId::default(), name: String::new(), time_zone: browser_time_zone(), contact: Contact::default(), notes: String::new() });
    }

    fn draft(self) -> Person {
        Person {
            id: self.id.get_untracked().into(),
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

            <MyShifts/>

            <form class="card form" on:submit=submit novalidate aria-labelledby="person-form-title">
                <h2 id="person-form-title">{move || if editing() { "Edit person" } else { "Add a person" }}</h2>
                <PersonInput label="Name" id="person-name" name="name" field="name" required=true value=form.name form=form/>
                <PersonInput label="Time zone" id="person-tz" name="time_zone" field="time_zone" list="time-zones" value=form.time_zone form=form/>
                <datalist id="time-zones">
                    {time_zone_names().map(|z| view! { <option value=z></option> }).collect_view()}
                </datalist>
                <PersonInput label="ntfy topic" id="person-ntfy" name="ntfy_topic" field="contact.ntfy_topic" value=form.ntfy_topic form=form/>
                <PersonInput label="Webhook URL" id="person-webhook" name="webhook_url" field="contact.webhook_url" kind="url" value=form.webhook_url form=form/>
                <PersonInput label="E-mail (label only)" id="person-email" name="email" field="contact.email" kind="email" value=form.email form=form/>
                <Field label="Notes" id="person-notes" error=Signal::derive(|| None)>
                    <textarea id="person-notes" name="notes" rows="2" bind:value=form.notes></textarea>
                </Field>
                <Alert message=Signal::derive(move || form.error_for("form"))/>
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

/// A text input of the person form, with the problem the runtime found in it.
#[component]
fn PersonInput(
    label: &'static str,
    id: &'static str,
    name: &'static str,
    /// The field the runtime names in a refusal (`contact.ntfy_topic`).
    field: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] list: Option<&'static str>,
    #[prop(optional)] required: bool,
    value: RwSignal<String>,
    form: PersonForm,
) -> impl IntoView {
    let error = Signal::derive(move || form.error_for(field));
    view! {
        <Field label=label id=id error=error>
            <input id=id name=name type=kind list=list autocomplete="off" required=required
                aria-invalid=move || error.get().is_some().to_string()
                aria-describedby=format!("{id}-error")
                bind:value=value />
        </Field>
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
            <RowActions name=name.clone() id=person.id.to_string() kind=ConfigKind::Person question=format!("Remove {name}?")
                confirm_remove=confirm_remove on_edit=Callback::new(move |_| form.fill(&edit_person)) />
        </li>
    }
}

/// "My shifts (.ics)": the shifts of the person this device acts as, on every schedule.
#[component]
fn MyShifts() -> impl IntoView {
    let state = expect_context::<AppState>();
    let me = super::incidents::use_me();
    let message = RwSignal::new(None::<Result<String, String>>);
    let options = move || {
        std::iter::once((String::new(), "Choose who you are".to_string()))
            .chain(state.people().into_iter().map(|p| (p.id.to_string(), p.name)))
            .collect::<Vec<_>>()
    };
    let export = move |_| {
        let Some(person) = super::incidents::known_me(state, &me.get_untracked()) else {
            message.set(Some(Err("Choose who you are first.".into())));
            return;
        };
        let now = state.now.get_untracked();
        let days = super::schedules::CALENDAR_DAYS;
        let made = state.world.with_untracked(|w| crate::insight::calendar::person_ics(w, &person, None, now, days, now));
        message.set(Some(match made {
            Err(e) => Err(e.to_string()),
            Ok(ics) => {
                let name = format!("piket-shifts-{person}.ics");
                super::download::download(&name, "text/calendar", &ics).map(|_| format!("Your shifts for the next {days} days saved as {name}."))
            }
        }));
    };
    view! {
        <section class="card form-stack" aria-labelledby="my-shifts-title">
            <h2 id="my-shifts-title">"My shifts"</h2>
            <p class="hint">"Your on-call shifts on every schedule, for your calendar."</p>
            <div class="field">
                <label for="my-shifts-me">"I am"</label>
                {move || view! { <super::policies::fields::Choice id="my-shifts-me" options=options() value=me/> }}
            </div>
            <div class="actions">
                <button type="button" on:click=export>"My shifts (.ics)"</button>
            </div>
            <crate::ui::command::Outcome message=message/>
        </section>
    }
}
