//! The Edit / Remove controls of a configuration list row, with the "Remove X? Yes, remove /
//! Keep" confirmation and the refusal (e.g. "a policy still pages them") shown under the row.

use leptos::prelude::*;
use leptos::task::spawn_local;

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
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let error = RwSignal::new(None::<String>);
    let asking = {
        let id = id.clone();
        move || confirm_remove.get().as_deref() == Some(id.as_str())
    };
    let (edit_label, remove_label, confirm_label) = (format!("Edit {name}"), format!("Remove {name}"), format!("Confirm removing {name}"));
    let ask_id = id.clone();
    let remove = move |_| {
        let id = id.clone();
        confirm_remove.set(None);
        spawn_local(async move {
            if let Err(e) = state.run(Command::Remove { kind, id }).await {
                error.set(Some(e.message));
            }
        });
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
                <button type="button" class="danger" aria-label=confirm_label.clone() on:click=remove.clone()>"Yes, remove"</button>
                <button type="button" on:click=move |_| confirm_remove.set(None)>"Keep"</button>
            </Show>
        </div>
        <Show when=move || error.get().is_some()>
            <p class="error" role="alert">{move || error.get()}</p>
        </Show>
    }
}
