//! App-wide state for the screens: signals the screens read, and the commands they dispatch.
//!
//! The state is fed by the tab's [`Live`] runtime (snapshots after every change, a clock status
//! every second). Screens change things only through [`AppState::run`], which the runtime executes
//! here or in the tab that holds the clock. Screens never call storage or adapters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::engine::id::IncidentId;
use crate::engine::incident::Incident;
use crate::engine::person::Person;
use crate::engine::world::World;
use crate::insight::retro::Retrospective;
use crate::runtime::command::{Cause, Command, Refusal, Reply};
use crate::runtime::live::{ClockStatus, Live, PastIncident, Snapshot};
use crate::runtime::view::{DeliveryRow, StorageUse};

/// Resolved incidents read from the archive at a time.
pub const HISTORY_PAGE: usize = 50;

#[derive(Clone, Copy)]
pub struct AppState {
    live: StoredValue<Option<Live>, LocalStorage>,
    /// Everything configured.
    pub world: RwSignal<World>,
    /// The hot incidents (open, or resolved within the last day) with their timelines.
    pub incidents: RwSignal<Vec<Incident>>,
    /// History: resolved incidents read from the archive so far, newest first.
    pub history: RwSignal<Vec<PastIncident>>,
    /// Whether the archive has no more pages than those read.
    pub history_done: RwSignal<bool>,
    /// The policy being edited, as it stands (valid), so the Lab can replay it unsaved.
    pub draft_policy: RwSignal<Option<crate::engine::policy::EscalationPolicy>>,
    /// Archived incidents opened by id (a link to an old incident).
    pub past: RwSignal<BTreeMap<IncidentId, Option<PastIncident>>>,
    /// Every page and post, as the runtime words them.
    pub outbox: RwSignal<Vec<DeliveryRow>>,
    /// When each timeline entry was recorded, per incident (lateness).
    pub recorded: RwSignal<BTreeMap<IncidentId, Vec<DateTime<Utc>>>>,
    pub next_deadline: RwSignal<Option<DateTime<Utc>>>,
    /// ntfy server and retry limit.
    pub delivery: RwSignal<crate::runtime::outbox::DeliverySettings>,
    /// Settings → "Acknowledge from phones" (without the key).
    pub reply: RwSignal<crate::runtime::live::ReplyView>,
    /// The header's clock status; `None` until the runtime started.
    pub clock: RwSignal<Option<ClockStatus>>,
    /// The current time, refreshed every second (for countdowns).
    pub now: RwSignal<DateTime<Utc>>,
    /// False until the first snapshot arrived (screens show "Loading…" meanwhile).
    pub loaded: RwSignal<bool>,
    /// Set when storage could not be opened or a step could not be saved; shown as a banner.
    pub load_error: RwSignal<Option<String>>,
    /// Every retrospective (of hot and archived incidents).
    pub retrospectives: RwSignal<Vec<Retrospective>>,
    /// Settings → Team sync.
    pub team: RwSignal<crate::runtime::team_sync::TeamSyncView>,
}

impl AppState {
    pub fn new() -> Self {
        AppState {
            live: StoredValue::new_local(None),
            world: RwSignal::new(World::default()),
            incidents: RwSignal::new(Vec::new()),
            history: RwSignal::new(Vec::new()),
            history_done: RwSignal::new(false),
            past: RwSignal::new(BTreeMap::new()),
            draft_policy: RwSignal::new(None),
            outbox: RwSignal::new(Vec::new()),
            recorded: RwSignal::new(BTreeMap::new()),
            next_deadline: RwSignal::new(None),
            delivery: RwSignal::new(Default::default()),
            reply: RwSignal::new(Default::default()),
            clock: RwSignal::new(None),
            now: RwSignal::new(Live::now()),
            loaded: RwSignal::new(false),
            load_error: RwSignal::new(None),
            retrospectives: RwSignal::new(Vec::new()),
            team: RwSignal::new(Default::default()),
        }
    }

    /// Starts the tab's runtime.
    pub fn start(self) {
        let live = Live::start(
            move |snap: Snapshot| {
                let first = !self.loaded.get_untracked();
                // Resolved incidents that left the hot state went to the archive: read history
                // again so they stay listed.
                // (A set of the new ids: snapshots come after every step, with thousands of rows.)
                let archived = self.incidents.with_untracked(|old| {
                    let now: std::collections::HashSet<&str> = snap.incidents.iter().map(|n| n.id.as_str()).collect();
                    old.iter().any(|i| !i.is_open() && !now.contains(i.id.as_str()))
                });
                self.world.set(snap.world);
                self.incidents.set(snap.incidents);
                if first || archived {
                    self.history.set(Vec::new());
                    self.history_done.set(false);
                    leptos::task::spawn_local(self.load_history());
                }
                self.outbox.set(snap.outbox);
                self.recorded.set(snap.recorded);
                self.next_deadline.set(snap.next_deadline);
                self.delivery.set(snap.delivery);
                self.reply.set(snap.reply);
                self.retrospectives.set(snap.retrospectives);
                self.team.set(snap.team);
                self.loaded.set(true);
            },
            move |status: ClockStatus| {
                self.now.set(status.now);
                self.clock.set(Some(status));
            },
            move |error: String| self.load_error.set(Some(error)),
        );
        self.live.set_value(Some(live));
    }

    /// Runs a command (in this tab or in the one holding the clock) and returns its reply.
    pub async fn run(self, command: Command) -> Reply {
        match self.live.get_value() {
            Some(live) => live.run(command).await,
            None => Err(Refusal::new(Cause::Starting, "Piket is still starting; try again in a moment.")),
        }
    }

    /// Reads the next page of history from the archive (the first page when none was read).
    pub async fn load_history(self) {
        let Some(live) = self.live.get_value() else { return };
        let cursor = self.history.with_untracked(|h| h.last().map(|p| p.cursor.clone()));
        match live.history(cursor.clone(), HISTORY_PAGE).await {
            Ok(page) => {
                // A page read twice (two quick taps) is taken once.
                if self.history.with_untracked(|h| h.last().map(|p| p.cursor.clone())) != cursor {
                    return;
                }
                self.history_done.set(page.len() < HISTORY_PAGE);
                self.history.update(|h| h.extend(page));
            }
            Err(e) => self.load_error.set(Some(format!("History could not be read: {e}"))),
        }
    }

    /// Every incident opened since `since`: the hot ones and those in the archive.
    pub async fn incidents_since(self, since: DateTime<Utc>) -> Result<Vec<Incident>, String> {
        let live = self.live.get_value().ok_or("Piket is still starting.")?;
        let mut all = live.history_since(since).await?;
        self.incidents.with_untracked(|hot| all.extend(hot.iter().filter(|i| i.opened_at >= since).cloned()));
        Ok(all)
    }

    /// The audit log of every incident, hot and archived, with the links stored beside each entry.
    pub async fn audit_log(self) -> Result<String, String> {
        let live = self.live.get_value().ok_or("Piket is still starting.")?;
        live.audit_log().await
    }

    /// The retrospective of an incident, if it has one.
    pub fn retrospective(self, id: &str) -> Option<Retrospective> {
        self.retrospectives.with(|r| r.iter().find(|r| r.incident == id).cloned())
    }

    /// An archived incident by id, read once and kept (`None` once known to be missing).
    pub fn past_incident(self, id: &str) -> Option<PastIncident> {
        if let Some(found) = self.history.with(|h| h.iter().find(|p| p.incident.id == id).cloned()) {
            return Some(found);
        }
        if let Some(known) = self.past.with(|p| p.get(id).cloned()) {
            return known;
        }
        let id = IncidentId::from(id);
        if let Some(live) = self.live.get_value() {
            self.past.update_untracked(|p| {
                p.insert(id.clone(), None);
            });
            leptos::task::spawn_local(async move {
                if let Ok(found) = live.past_incident(&id).await {
                    self.past.update(|p| {
                        p.insert(id, found);
                    });
                }
            });
        }
        None
    }

    /// A backup of everything, as JSON text.
    pub async fn export(self, include_secrets: bool) -> Result<String, String> {
        match self.live.get_value() {
            Some(live) => live.export(include_secrets).await,
            None => Err("Piket is still starting.".into()),
        }
    }

    /// Storage persistence and usage (asks for persistence when not yet granted).
    pub async fn storage_info(self) -> Option<StorageUse> {
        Some(self.live.get_value()?.storage_info().await)
    }

    /// Sends a test message to a channel as it stands in the form.
    pub async fn test_channel(self, channel: crate::engine::world::Channel) -> Result<String, String> {
        self.live.get_value().ok_or("Piket is still starting.")?.test_channel(channel).await
    }

    /// Settings → Team sync → "Test connection" with the form as it stands: the words, and
    /// whether the problem is a missing database (the screen then offers to create it).
    pub async fn test_team_sync(self, settings: crate::runtime::team_sync::SyncSettings) -> Result<String, (String, bool)> {
        let live = self.live.get_value().ok_or(("Piket is still starting.".to_string(), false))?;
        live.test_team_sync(settings).await
    }

    pub async fn create_team_database(self, settings: crate::runtime::team_sync::SyncSettings) -> Result<String, String> {
        self.live.get_value().ok_or("Piket is still starting.")?.create_team_database(settings).await
    }

    /// Shows a test notification on this device.
    pub async fn test_notification(self) -> Result<(), String> {
        self.live.get_value().ok_or("Piket is still starting.")?.test_notification().await
    }

    /// `granted`, `denied`, `default` or `unsupported`.
    pub fn notification_permission(self) -> String {
        self.live.get_value().map(|l| l.notification_permission()).unwrap_or_else(|| "default".into())
    }

    pub async fn request_notification_permission(self) -> String {
        match self.live.get_value() {
            Some(l) => l.request_notification_permission().await,
            None => "default".into(),
        }
    }

    /// Everyone, sorted by name.
    pub fn people(self) -> Vec<Person> {
        let mut people = self.world.with(|w| w.people.clone());
        people.sort_by_key(|p| p.name.to_lowercase());
        people
    }

    /// A person's name for display (the id when unknown).
    pub fn person_name(self, id: &str) -> String {
        self.world.with(|w| w.person(id).map(|p| p.name.clone())).unwrap_or_else(|| id.to_string())
    }
}

/// The browser's own IANA time zone, the default for new people.
pub fn browser_time_zone() -> String {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into()).ok().and_then(|v| v.as_string()).unwrap_or_else(|| "UTC".into())
}
