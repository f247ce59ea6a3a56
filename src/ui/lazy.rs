//! Screens whose code loads when they are first shown.
//!
//! The first screen (Incidents, or the first-run card) is in the main wasm; every other screen is
//! a split point. In the release bundle (`--cfg piket_split`, set by `cargo xtask`), the splitter
//! moves the code only that screen reaches into its own wasm file, fetched the first time the
//! screen opens (and, once the app is idle, ahead of time: see [`preload_all`]). Without the cfg
//! (tests, a plain `trunk build`) the same functions are ordinary ones, so behaviour is identical.

use std::future::Future;

use leptos::prelude::*;

/// Declares `$load`: an async function that yields `$view` as an [`AnyView`]. Screens that share a
/// `$module` share one chunk (a list and its editor).
macro_rules! split_screen {
    ($(#[$doc:meta])* $load:ident, $preload:ident, $module:ident, $view:expr) => {
        $(#[$doc])*
        #[cfg(piket_split)]
        #[::leptos::wasm_split::wasm_split(
            $module,
            wasm_split_path = ::leptos::wasm_split,
            preload(#[allow(dead_code)] $preload),
            fallible
        )]
        pub(crate) fn $load() -> Result<AnyView, ::leptos::wasm_split::SplitLoaderError> {
            Ok($view)
        }
        $(#[$doc])*
        #[cfg(not(piket_split))]
        pub(crate) async fn $load() -> Result<AnyView, ()> {
            Ok($view)
        }
        #[cfg(not(piket_split))]
        #[allow(dead_code)]
        pub(crate) async fn $preload() -> Result<(), ()> {
            Ok(())
        }
    };
}

split_screen!(new_incident, preload_incidents, incidents, view! { <super::incidents::NewIncident/> }.into_any());
split_screen!(incident, preload_incident, incidents, view! { <super::incidents::IncidentPage/> }.into_any());
split_screen!(policies, preload_policies, policies, view! { <super::policies::PoliciesScreen/> }.into_any());
split_screen!(policy, preload_policy, policies, view! { <super::policies::PolicyEditorScreen/> }.into_any());
split_screen!(schedules, preload_schedules, schedules, view! { <super::schedules::SchedulesScreen/> }.into_any());
split_screen!(schedule, preload_schedule, schedules, view! { <super::schedules::ScheduleEditorScreen/> }.into_any());
split_screen!(teams, preload_teams, teams, view! { <super::teams::TeamsScreen/> }.into_any());
split_screen!(rules, preload_rules, rules, view! { <super::rules::RulesScreen/> }.into_any());
split_screen!(people, preload_people, people, view! { <super::people::PeopleScreen/> }.into_any());
split_screen!(channels, preload_channels, channels, view! { <super::channels::ChannelsScreen/> }.into_any());
split_screen!(reports, preload_reports, reports, view! { <super::reports::ReportsScreen/> }.into_any());
split_screen!(lab, preload_lab, lab, view! { <super::lab::LabScreen/> }.into_any());
split_screen!(settings, preload_settings, settings, view! { <super::settings::SettingsScreen/> }.into_any());

/// Shows what `load` yields, with a status line while it loads and a way to try again when it
/// could not (the phone went offline before the screen's code was fetched).
pub(crate) fn deferred<F, E>(load: fn() -> F) -> AnyView
where
    F: Future<Output = Result<AnyView, E>> + 'static,
    E: 'static,
{
    let slot: RwSignal<Option<Result<AnyView, ()>>, LocalStorage> = RwSignal::new_local(None);
    // The screen is built inside the task, under the owner this is called in (the screens find
    // the app's context through it), and the task ends with it when the screen is left first.
    // "Try again" runs in that owner too: under the button's own, the screen would be disposed
    // as soon as it replaced the button.
    let owner = Owner::current();
    let start = move || {
        let task = async move {
            let got = load().await.map_err(|_| ());
            let _ = slot.try_set(Some(got));
        };
        match &owner {
            Some(owner) => owner.with(|| leptos::task::spawn_local_scoped_with_cancellation(task)),
            None => leptos::task::spawn_local(task),
        }
    };
    start();
    (move || {
        let start = start.clone();
        slot.track();
        match slot.try_update_untracked(Option::take).flatten() {
            None => view! { <p class="muted screen-loading" role="status">"Loading…"</p> }.into_any(),
            Some(Ok(screen)) => screen,
            Some(Err(())) => view! {
                <div class="banner error" role="alert">
                    <p>"This screen could not be loaded: its code did not arrive. Check the connection."</p>
                    <button type="button" on:click=move |_| start()>"Try again"</button>
                </div>
            }
            .into_any(),
        }
    })
    .into_any()
}

/// Fetches every screen's code in the background, once the first screen is up, so that moving
/// between screens is instant and the service worker has them all for an offline start. One at a
/// time, so the first screen's own requests are never crowded out.
pub(crate) fn preload_all() {
    leptos::task::spawn_local(async {
        // Let the first screen load its data and paint.
        gloo_timers::future::TimeoutFuture::new(3_000).await;
        // One call per module (a list and its editor share one); then the clock's module (a tab
        // that becomes the clock later may be offline by then) and the configuration commands'
        // module, which every save needs.
        let _ = preload_incidents().await;
        let _ = preload_policies().await;
        let _ = preload_schedules().await;
        let _ = preload_people().await;
        let _ = preload_teams().await;
        let _ = preload_rules().await;
        let _ = preload_channels().await;
        let _ = preload_settings().await;
        let _ = preload_reports().await;
        let _ = preload_lab().await;
        let _ = crate::runtime::live::preload_clock().await;
        let _ = crate::runtime::live::preload_configure().await;
    });
}
