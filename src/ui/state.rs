//! App-wide state for the screens: signals the screens read, and the actions they dispatch.
//!
//! The actions call the [`crate::runtime`], which validates through the engine and persists
//! through storage; the signals are refreshed from what was actually saved.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::engine::person::Person;
use crate::runtime::{self, ActionError};
use crate::storage::{IdbStore, StoreError};

/// Name of the app's IndexedDB database.
pub const DATABASE: &str = "piket";

#[derive(Clone, Copy)]
pub struct AppState {
    store: StoredValue<Option<Rc<IdbStore>>, LocalStorage>,
    /// Everyone, sorted by name.
    pub people: RwSignal<Vec<Person>>,
    /// False until the first load from storage finished (screens show "Loading…" meanwhile).
    pub loaded: RwSignal<bool>,
    /// Set when storage could not be opened or read; shown as a banner.
    pub load_error: RwSignal<Option<String>>,
}

impl AppState {
    pub fn new() -> Self {
        AppState {
            store: StoredValue::new_local(None),
            people: RwSignal::new(Vec::new()),
            loaded: RwSignal::new(false),
            load_error: RwSignal::new(None),
        }
    }

    /// Opens the database and loads what the screens show.
    pub fn load(self) {
        spawn_local(async move {
            match IdbStore::open(DATABASE).await {
                Ok(store) => {
                    let store = Rc::new(store);
                    self.store.set_value(Some(store.clone()));
                    match runtime::people::list_people(&*store).await {
                        Ok(people) => self.people.set(people),
                        Err(e) => self.load_error.set(Some(e.to_string())),
                    }
                }
                Err(e) => self.load_error.set(Some(e.to_string())),
            }
            self.loaded.set(true);
        });
    }

    fn store(self) -> Result<Rc<IdbStore>, ActionError> {
        self.store
            .get_value()
            .ok_or_else(|| ActionError::Storage(StoreError::Unavailable("storage is still opening".into())))
    }

    /// Saves a new or edited person; on success the People list is refreshed.
    pub async fn save_person(self, draft: Person) -> Result<Person, ActionError> {
        let store = self.store()?;
        let saved = runtime::people::save_person(&*store, draft, chrono::Utc::now()).await?;
        self.people.set(runtime::people::list_people(&*store).await?);
        Ok(saved)
    }

    pub async fn remove_person(self, id: String) -> Result<(), ActionError> {
        let store = self.store()?;
        runtime::people::remove_person(&*store, &id).await?;
        self.people.set(runtime::people::list_people(&*store).await?);
        Ok(())
    }
}

/// The browser's own IANA time zone, the default for new people.
pub fn browser_time_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_else(|| "UTC".into())
}
