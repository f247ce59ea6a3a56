//! The one shape of a configuration editor (policy, schedule, rule, channel, team): a typed
//! [`Draft`] of one record, and an [`Editor`] around it that checks the draft when saving, sends
//! it with the command hook, shows the draft's and the runtime's problems at their paths, and
//! says how the save went.

use leptos::prelude::*;

use super::command::{use_command_then, CommandHook};
use super::policies::fields::{problem_at, problems_text, Problems};
use super::state::AppState;
use crate::engine::world::World;
use crate::runtime::command::{Command, ConfigItem, Done};

/// A form's typed draft of one configuration record.
pub trait Draft: Copy + Send + Sync + 'static {
    /// What it drafts; saved as the matching [`ConfigItem`].
    type Record: Clone + PartialEq + Send + Sync + Into<ConfigItem> + 'static;
    /// Shows a stored record in the form.
    fn fill(self, record: &Self::Record);
    /// The record as typed, or the problems at their paths inside it.
    fn record(self) -> Result<Self::Record, Problems>;
}

/// What every editor keeps besides its draft.
pub struct Editor<D: Draft> {
    pub draft: D,
    /// The draft as a record (or its problems), recomputed as it is typed.
    pub checked: Memo<Result<D::Record, Problems>>,
    /// Set once a save was tried: the draft's own problems show from then on.
    pub tried: RwSignal<bool>,
    /// The runtime's problems with the last save, at paths inside the record.
    pub refusal: RwSignal<Problems>,
    /// The line under the form ("Saved.", "Not saved: fix what is marked below.").
    pub status: RwSignal<String>,
    pub save: CommandHook,
    not_saved: &'static str,
    /// The store the last save's problems name (`policies`).
    store: StoredValue<&'static str>,
}

impl<D: Draft> Clone for Editor<D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<D: Draft> Copy for Editor<D> {}

/// An editor for `draft`. `not_saved` is the status when a save fails; `on_saved` runs with what
/// the runtime did (and sets the status, or clears the form).
pub fn use_editor<D: Draft>(draft: D, not_saved: &'static str, on_saved: impl Fn(Editor<D>, &Done) + 'static) -> Editor<D> {
    let tried = RwSignal::new(false);
    let refusal = RwSignal::new(Problems::new());
    let status = RwSignal::new(String::new());
    let checked = Memo::new(move |_| draft.record());
    let shell = StoredValue::new_local(None::<Editor<D>>);
    let store = StoredValue::new("");
    let save = use_command_then(move |reply| match reply {
        Ok(done) => {
            if let Some(editor) = shell.get_value() {
                on_saved(editor, done);
            }
        }
        Err(r) => {
            refusal.set(r.problems_in(store.get_value()));
            status.set(not_saved.into());
        }
    });
    let editor = Editor { draft, checked, tried, refusal, status, save, not_saved, store };
    shell.set_value(Some(editor));
    editor
}

impl<D: Draft> Editor<D> {
    /// The problems to show: the draft's own once a save was tried (or `always`), then the
    /// runtime's.
    pub fn problems(self, always: impl Fn() -> bool + Send + Sync + 'static) -> Memo<Problems> {
        Memo::new(move |_| {
            let mut p = if self.tried.get() || always() { self.checked.get().err().unwrap_or_default() } else { Problems::new() };
            p.extend(self.refusal.get());
            p
        })
    }

    /// The problem at exactly `path` (reactive), for a field.
    pub fn at(problems: Memo<Problems>, path: impl Into<String>) -> Signal<Option<String>> {
        let path = path.into();
        Signal::derive(move || problem_at(&problems.get(), &path))
    }

    /// Saves the draft when it holds; says what to fix when it does not.
    pub fn submit(self) {
        if self.save.pending() {
            return;
        }
        self.tried.set(true);
        self.refusal.set(Problems::new());
        self.status.set(String::new());
        self.save.clear();
        match self.checked.get_untracked() {
            Ok(record) => {
                let item: ConfigItem = record.into();
                self.store.set_value(item.store());
                self.save.dispatch(Command::Save { item });
            }
            Err(_) => self.status.set(self.not_saved.into()),
        }
    }

    /// The form's submit handler: [`submit`](Self::submit) instead of a page load.
    pub fn on_submit(self) -> impl Fn(leptos::ev::SubmitEvent) + Copy + 'static {
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            self.submit();
        }
    }

    /// Forgets a save's outcome (a new record, or one picked to edit).
    pub fn reset(self) {
        self.tried.set(false);
        self.refusal.set(Problems::new());
        self.status.set(String::new());
        self.save.clear();
    }

    /// Fills the draft once from the stored record named `id` when it is loaded (`new`: nothing
    /// to fill). Returns whether that record is missing.
    pub fn load(self, id: String, find: fn(&World, &str) -> Option<D::Record>) -> Signal<bool> {
        let state = expect_context::<AppState>();
        let is_new = id == "new";
        let filled = RwSignal::new(false);
        // The form's row signals must belong to the editor, not to this effect: an effect
        // disposes what it created when it runs again, and the form would then read dead signals.
        let owner = Owner::current();
        Effect::new(move |_| {
            if filled.get_untracked() || !state.loaded.get() {
                return;
            }
            if is_new {
                filled.set(true);
            } else if let Some(record) = state.world.with(|w| find(w, &id)) {
                match &owner {
                    Some(owner) => owner.with(|| self.draft.fill(&record)),
                    None => self.draft.fill(&record),
                }
                filled.set(true);
            }
        });
        Signal::derive(move || !is_new && state.loaded.get() && !filled.get())
    }
}

/// The end of every editor's form: its problems, the status line, Save, and (while editing a
/// record of a list) Cancel edit.
#[component]
pub fn EditorFooter(
    problems: Signal<Problems>,
    status: RwSignal<String>,
    save: CommandHook,
    /// The Save button's text.
    #[prop(into)]
    label: Signal<String>,
    /// Cancel edit, shown while this returns true.
    #[prop(optional)]
    cancel: Option<(Signal<bool>, Callback<()>)>,
) -> impl IntoView {
    view! {
        <Show when=move || !problems.with(Vec::is_empty)>
            <p class="error pre" role="alert">{move || problems_text(&problems.get())}</p>
        </Show>
        <p class="status" role="status">{move || status.get()}</p>
        <div class="actions">
            <button type="submit" class="primary" prop:disabled=move || save.pending()>{move || label.get()}</button>
            {cancel.map(|(shown, cancel)| view! {
                <Show when=move || shown.get()>
                    <button type="button" on:click=move |_| cancel.run(())>"Cancel edit"</button>
                </Show>
            })}
        </div>
    }
}
