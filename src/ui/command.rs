//! The one way a screen sends a command: a hook built on Leptos [`Action`], so no screen keeps its
//! own busy and error signals or spawns its own task.
//!
//! ```ignore
//! let save = use_command();
//! save.dispatch(Command::Save { item });
//! view! { <button disabled=move || save.pending()>"Save"</button><p role="alert">{move || save.error()}</p> }
//! ```

use std::rc::Rc;

use leptos::prelude::*;

use super::state::AppState;
use crate::runtime::command::{Command, Refusal, Reply};

/// A command a screen sends, with where it stands: [`pending`](Self::pending) while it runs, its
/// last [`reply`](Self::reply) after.
#[derive(Clone, Copy)]
pub struct CommandHook {
    action: Action<Command, Reply>,
    /// Bumped by [`clear`](Self::clear): a reply older than this is no longer shown.
    cleared: RwSignal<usize>,
}

/// A command hook.
pub fn use_command() -> CommandHook {
    use_command_then(|_| {})
}

/// A command hook that also hands every reply to `then` (clear the form, go to what was made),
/// before `pending` turns false.
pub fn use_command_then(then: impl Fn(&Reply) + 'static) -> CommandHook {
    let state = expect_context::<AppState>();
    let then = Rc::new(then);
    let action = Action::new_unsync(move |command: &Command| {
        let command = command.clone();
        let then = then.clone();
        async move {
            let reply = state.run(command).await;
            then(&reply);
            reply
        }
    });
    CommandHook { action, cleared: RwSignal::new(0) }
}

impl CommandHook {
    /// Sends the command (in this tab, or to the one holding the clock).
    pub fn dispatch(self, command: Command) {
        self.action.dispatch(command);
    }

    /// Whether a command is on its way (reactive).
    pub fn pending(self) -> bool {
        self.action.pending().get()
    }

    /// The last reply, unless cleared since (reactive).
    pub fn reply(self) -> Option<Reply> {
        let version = self.action.version().get();
        if version <= self.cleared.get() {
            return None;
        }
        self.action.value().get()
    }

    /// The last refusal (reactive).
    pub fn refusal(self) -> Option<Refusal> {
        self.reply().and_then(Result::err)
    }

    /// The last refusal in words (reactive).
    pub fn error(self) -> Option<String> {
        self.refusal().map(|r| r.message)
    }

    /// The last reply as words either way (reactive).
    pub fn words(self) -> Option<Result<String, String>> {
        self.reply().map(|r| r.map(|d| d.message).map_err(|e| e.message))
    }

    /// Forgets the last reply (a form was closed or started afresh).
    pub fn clear(self) {
        self.cleared.set(self.action.version().get_untracked());
    }
}

/// A browser task a screen starts that is not a command (read a chosen file, send a test), built
/// on the same [`Action`]: its pending state and last result come with it.
pub fn use_task<I, O, Fu>(task: impl Fn(I) -> Fu + 'static) -> Action<I, O>
where
    I: Clone + 'static,
    O: 'static,
    Fu: std::future::Future<Output = O> + 'static,
{
    Action::new_unsync_local(move |input: &I| task(input.clone()))
}

/// How something a screen asked for went: its words in green (a status) or red (an alert).
#[component]
pub fn Outcome(#[prop(into)] message: Signal<Option<Result<String, String>>>) -> impl IntoView {
    move || {
        message.get().map(|m| match m {
            Ok(text) => view! { <p class="ok" role="status">{text}</p> }.into_any(),
            Err(text) => view! { <p class="error" role="alert">{text}</p> }.into_any(),
        })
    }
}

/// A problem in words, shown while there is one (`class` "error" or "field-error").
#[component]
pub fn Alert(#[prop(into)] message: Signal<Option<String>>, #[prop(default = "error")] class: &'static str) -> impl IntoView {
    view! {
        <Show when=move || message.with(Option::is_some)>
            <p class=class role="alert">{move || message.get()}</p>
        </Show>
    }
}
