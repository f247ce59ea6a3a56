//! The Edit / Remove controls of a configuration list row, with the "Remove X? Yes, remove /
//! Keep" confirmation and the refusal (e.g. "a policy still pages them") shown under the row.

use leptos::prelude::*;

use crate::ui::command::Alert;

use super::command::use_command;
use super::state::AppState;
use crate::runtime::command::{Command, ConfigKind};

/// `confirm_remove` holds the id of the row whose removal is being confirmed (one at a time).
#[component]
pub fn RowActions(
    name: String,
    id: String,
    kind: ConfigKind,
    /// The confirmation question ("Remove Alice?").
    question: String,
    confirm_remove: RwSignal<Option<String>>,
    on_edit: Callback<()>,
    /// The confirming button's text ("Yes, remove" when not given).
    #[prop(optional, into)]
    yes_label: Option<String>,
) -> impl IntoView {
    let removal = use_command();
    let yes_label = yes_label.unwrap_or_else(|| "Yes, remove".into());
    let asking = {
        let id = id.clone();
        move || confirm_remove.get().as_deref() == Some(id.as_str())
    };
    let (edit_label, remove_label, confirm_label) = (format!("Edit {name}"), format!("Remove {name}"), format!("Confirm removing {name}"));
    let ask_id = id.clone();
    let remove = move |_| {
        let id = id.clone();
        confirm_remove.set(None);
        removal.dispatch(Command::Remove { kind, id });
    };
    view! {
        <div class="actions">
            <Show
                when=asking
                fallback=move || {
                    let ask_id = ask_id.clone();
                    view! {
                        <button type="button" aria-label=edit_label.clone() on:click=move |_| on_edit.run(())>"Edit"</button>
                        <button type="button" aria-label=remove_label.clone() on:click=move |_| confirm_remove.set(Some(ask_id.clone()))>"Remove"</button>
                    }
                }
            >
                <span class="confirm">{question.clone()}</span>
                <button type="button" class="danger" aria-label=confirm_label.clone() on:click=remove.clone()>{yes_label.clone()}</button>
                <button type="button" on:click=move |_| confirm_remove.set(None)>"Keep"</button>
            </Show>
        </div>
        <Alert message=Signal::derive(move || removal.error())/>
    }
}

/// A configuration list as every screen shows it: "Loading…" until the first snapshot, then the
/// words of `empty_text` while there is nothing, else the list (`children`).
#[component]
pub fn ConfigList(#[prop(into)] empty: Signal<bool>, empty_text: &'static str, children: ChildrenFn) -> impl IntoView {
    let state = expect_context::<AppState>();
    let children = StoredValue::new(children);
    view! {
        <Show when=move || state.loaded.get() fallback=|| view! { <p class="muted">"Loading…"</p> }>
            <Show when=move || !empty.get() fallback=move || view! { <div class="empty-state"><p>{empty_text}</p></div> }>
                {children.read_value()()}
            </Show>
        </Show>
    }
}
