//! The live runtime in a browser tab (wasm only): the [`Driver`] on IndexedDB, woken by the
//! clock adapter, coordinated with other tabs through Web Locks and a BroadcastChannel.
//!
//! One tab of a browser is the **leader**: it alone ticks the engine and pages anyone. It posts a
//! heartbeat every second and "changed" after every commit. Other tabs are **followers**: they
//! show the same state (reloading from IndexedDB on "changed"), send their commands to the leader
//! and wait for its reply, and take over — stealing the lock — when the heartbeat stops for
//! [`HEARTBEAT_TIMEOUT_MS`]. The leader lets go of the lock on `pagehide`.
//!
//! Screens never see any of this: they get [`Snapshot`]s and [`ClockStatus`]es through callbacks
//! and call [`Live::run`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use chrono::{DateTime, Utc};
use futures::channel::oneshot;
use futures::lock::Mutex;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::command::{execute, Command, Refusal, Reply};
use super::driver::Driver;
use crate::adapters::bus::Bus;
use crate::adapters::clock::{self, Clock, Wake};
use crate::adapters::leader::Leadership;
use crate::adapters::notify::{self, WorkerMessage};
use crate::adapters::webhook;
use crate::engine::escalation::Input;
use crate::engine::incident::Actor;
use crate::engine::world::Channel;
use super::outbox::{self, Outcome, Send};
use crate::engine::incident::Incident;
use crate::engine::world::World;
use crate::storage::{IdbStore, OutboxRow};

/// The app's IndexedDB database.
pub const DATABASE: &str = "piket";
/// A follower takes over when the leader's heartbeat has been silent this long.
pub const HEARTBEAT_TIMEOUT_MS: f64 = 4000.0;
/// A follower's command fails when the leader has not answered in this long.
const REPLY_TIMEOUT_MS: u32 = 8000;
/// Where the last clock run is noted, for every tab of this browser to read.
const LAST_RUN_KEY: &str = "piket.clock.last_run";

/// Everything the screens show, as of the last change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub world: World,
    /// Every incident, open and resolved, with its timeline.
    pub incidents: Vec<Incident>,
    pub outbox: Vec<OutboxRow>,
    /// When each timeline entry was recorded, per incident (for "fired 14 min late").
    pub recorded: BTreeMap<String, Vec<DateTime<Utc>>>,
    pub next_deadline: Option<DateTime<Utc>>,
    pub delivery: outbox::DeliverySettings,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Still opening the database and asking for the lock.
    Starting,
    Leader,
    Follower,
}

/// What the header's clock status says.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockStatus {
    pub role: Role,
    pub now: DateTime<Utc>,
    /// When any tab of this browser last ran the clock.
    pub last_run: Option<DateTime<Utc>>,
    /// When the last leader heartbeat arrived (followers).
    pub last_heartbeat: Option<DateTime<Utc>>,
    /// The last catch-up: how late the latest overdue step fired, when this tab woke late.
    pub caught_up: Option<chrono::Duration>,
    pub uses_worker: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Message {
    Heartbeat { tab: String },
    Changed { tab: String },
    Command { tab: String, id: u64, command: Command },
    Reply { to: String, id: u64, reply: Reply },
}

struct Inner {
    tab: String,
    role: Cell<Role>,
    driver: Mutex<Option<Driver<IdbStore>>>,
    bus: RefCell<Option<Bus>>,
    clock: RefCell<Option<Clock>>,
    leadership: RefCell<Option<Leadership>>,
    last_heartbeat: Cell<Option<f64>>,
    caught_up: Cell<Option<chrono::Duration>>,
    next_id: Cell<u64>,
    waiting: RefCell<HashMap<u64, oneshot::Sender<Reply>>>,
    on_snapshot: Box<dyn Fn(Snapshot)>,
    on_status: Box<dyn Fn(ClockStatus)>,
    on_error: Box<dyn Fn(String)>,
    ticking: Cell<bool>,
    delivering: Cell<bool>,
    _pagehide: RefCell<Option<Closure<dyn FnMut(web_sys::Event)>>>,
}

/// A handle on the tab's runtime (cheap to clone).
#[derive(Clone)]
pub struct Live(Rc<Inner>);

impl Live {
    /// Opens the database, joins the other tabs, and starts the clock.
    pub fn start(
        on_snapshot: impl Fn(Snapshot) + 'static,
        on_status: impl Fn(ClockStatus) + 'static,
        on_error: impl Fn(String) + 'static,
    ) -> Live {
        let live = Live(Rc::new(Inner {
            tab: uuid::Uuid::new_v4().to_string(),
            role: Cell::new(Role::Starting),
            driver: Mutex::new(None),
            bus: RefCell::new(None),
            clock: RefCell::new(None),
            leadership: RefCell::new(None),
            last_heartbeat: Cell::new(None),
            caught_up: Cell::new(None),
            next_id: Cell::new(1),
            waiting: RefCell::new(HashMap::new()),
            on_snapshot: Box::new(on_snapshot),
            on_status: Box::new(on_status),
            on_error: Box::new(on_error),
            ticking: Cell::new(false),
            delivering: Cell::new(false),
            _pagehide: RefCell::new(None),
        }));
        let this = live.clone();
        spawn_local(async move {
            match IdbStore::open(DATABASE).await {
                Ok(store) => match Driver::load(store).await {
                    Ok(driver) => {
                        (this.0.on_snapshot)(snapshot(&driver));
                        *this.0.driver.lock().await = Some(driver);
                    }
                    Err(e) => (this.0.on_error)(e.to_string()),
                },
                Err(e) => (this.0.on_error)(e.to_string()),
            }
            this.join();
        });
        live
    }

    fn join(&self) {
        spawn_local(async {
            notify::register_service_worker().await;
        });
        let weak = Rc::downgrade(&self.0);
        notify::on_worker_message(Rc::new(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            let live = Live(inner);
            if let WorkerMessage::Ack { incident, person } = message {
                spawn_local(async move {
                    if let Err(refusal) = live.acknowledge_from_notification(incident, person).await {
                        (live.0.on_error)(format!("Acknowledge from the notification failed: {refusal}"));
                    }
                });
            }
        }));

        let weak = Rc::downgrade(&self.0);
        let bus = Bus::join(
            "piket",
            Rc::new(move |text| {
                if let Some(inner) = weak.upgrade() {
                    Live(inner).on_message(&text);
                }
            }),
        );
        *self.0.bus.borrow_mut() = Some(bus);

        let weak = Rc::downgrade(&self.0);
        let clock = Clock::start(Rc::new(move |wake| {
            if let Some(inner) = weak.upgrade() {
                Live(inner).on_wake(wake);
            }
        }));
        *self.0.clock.borrow_mut() = Some(clock);

        let weak = Rc::downgrade(&self.0);
        let pagehide = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if let Some(inner) = weak.upgrade() {
                if let Some(l) = inner.leadership.borrow().as_ref() {
                    l.release();
                }
            }
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback("pagehide", pagehide.as_ref().unchecked_ref());
        }
        *self.0._pagehide.borrow_mut() = Some(pagehide);

        if Leadership::supported() {
            self.0.role.set(Role::Follower);
            self.queue_for_lock(false);
        } else {
            self.become_leader();
        }
        self.publish_status();
    }

    fn queue_for_lock(&self, steal: bool) {
        let (a, l) = (Rc::downgrade(&self.0), Rc::downgrade(&self.0));
        let on_acquired: Rc<dyn Fn()> = Rc::new(move || {
            if let Some(inner) = a.upgrade() {
                Live(inner).become_leader();
            }
        });
        let on_lost: Rc<dyn Fn()> = Rc::new(move || {
            if let Some(inner) = l.upgrade() {
                Live(inner).become_follower();
            }
        });
        let request = if steal { Leadership::steal(on_acquired, on_lost) } else { Leadership::request(on_acquired, on_lost) };
        if let Some(old) = self.0.leadership.borrow_mut().replace(request) {
            old.abort();
        }
    }

    fn become_leader(&self) {
        self.0.role.set(Role::Leader);
        let this = self.clone();
        spawn_local(async move {
            // Another tab may have changed things since we last loaded: start from the database.
            this.reload().await;
            this.post(&Message::Heartbeat { tab: this.0.tab.clone() });
            this.tick().await;
        });
    }

    fn become_follower(&self) {
        if self.0.role.get() == Role::Leader {
            self.0.role.set(Role::Follower);
            self.0.last_heartbeat.set(Some(js_sys::Date::now()));
            self.queue_for_lock(false);
            self.publish_status();
        }
    }

    pub fn role(&self) -> Role {
        self.0.role.get()
    }

    /// Runs a command: here when this tab is the clock, otherwise in the clock's tab.
    pub async fn run(&self, command: Command) -> Reply {
        if self.0.role.get() == Role::Leader {
            return self.execute_here(command).await;
        }
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let (tx, rx) = oneshot::channel();
        self.0.waiting.borrow_mut().insert(id, tx);
        self.post(&Message::Command { tab: self.0.tab.clone(), id, command: command.clone() });
        let timeout = gloo_timers::future::TimeoutFuture::new(REPLY_TIMEOUT_MS);
        futures::pin_mut!(timeout);
        match futures::future::select(rx, timeout).await {
            futures::future::Either::Left((Ok(reply), _)) => reply,
            _ => {
                self.0.waiting.borrow_mut().remove(&id);
                if self.0.role.get() == Role::Leader {
                    // We took over while waiting: run it here.
                    self.execute_here(command).await
                } else {
                    Err(Refusal { message: "The tab running Piket's clock did not answer; nothing was changed. Try again.".into(), field: None })
                }
            }
        }
    }

    async fn execute_here(&self, command: Command) -> Reply {
        let mut guard = self.0.driver.lock().await;
        let Some(driver) = guard.take() else {
            return Err(Refusal { message: "Storage is still opening; try again in a moment.".into(), field: None });
        };
        let (driver, reply) = execute(driver, command, clock::now()).await;
        (self.0.on_snapshot)(snapshot(&driver));
        self.sleep_until(driver.next_deadline());
        *guard = Some(driver);
        drop(guard);
        self.post(&Message::Changed { tab: self.0.tab.clone() });
        let this = self.clone();
        spawn_local(async move { this.deliver().await });
        reply
    }

    /// The Acknowledge action of a notification: acknowledge as the paged person, and say where
    /// it came from on the timeline.
    pub async fn acknowledge_from_notification(&self, incident: String, person: String) -> Reply {
        let ack = Input::Acknowledge { incident: incident.clone(), by: person.clone() };
        let reply = self.run(Command::Dispatch { input: ack }).await;
        if reply.is_ok() {
            let note = Input::AddNote { incident, by: Actor::Person(person), text: "Acknowledged from notification".into() };
            let _ = self.run(Command::Dispatch { input: note }).await;
        }
        reply
    }

    /// Leader only: sends every page and post that is due, and records each attempt.
    async fn deliver(&self) {
        if self.0.role.get() != Role::Leader || self.0.delivering.replace(true) {
            return;
        }
        let now = clock::now();
        let sends = {
            let guard = self.0.driver.lock().await;
            guard.as_ref().map(|d| d.due_sends(&origin(), now)).unwrap_or_default()
        };
        if !sends.is_empty() {
            let attempts = sends.into_iter().map(|due| async move {
                let started = js_sys::Date::now();
                let outcome = match &due.send {
                    Send::Notification { title, body, tag, url, incident, person } => {
                        match notify::show(title, body, tag, url, incident, person.clone()).await {
                            Ok(()) => Outcome::Shown,
                            Err(why) => Outcome::NotAllowed(why),
                        }
                    }
                    Send::Http(spec) => Outcome::Http(webhook::send(spec).await.0),
                    Send::Impossible(why) => Outcome::Impossible(why.clone()),
                };
                let latency = (js_sys::Date::now() - started).max(0.0) as u32;
                (due, outcome, latency)
            });
            let results = futures::future::join_all(attempts).await;
            let mut guard = self.0.driver.lock().await;
            if let Some(driver) = guard.as_mut() {
                let at = clock::now();
                for (due, outcome, latency) in results {
                    if let Err(e) = driver.record_attempt(&due.key, due.route, &outcome, latency, at).await {
                        (self.0.on_error)(format!("A delivery result could not be saved: {e}"));
                    }
                }
                (self.0.on_snapshot)(snapshot(driver));
            }
            drop(guard);
            self.post(&Message::Changed { tab: self.0.tab.clone() });
        }
        self.0.delivering.set(false);
    }

    /// Sends a test message to a channel as configured (not yet saved), and says what came back.
    pub async fn test_channel(&self, channel: Channel) -> Result<String, String> {
        let config = outbox::channel_config(&channel)?;
        let now = clock::now();
        let message = crate::delivery::Message {
            event: crate::delivery::Event::Test,
            incident_id: "test".into(),
            title: "Test message from Piket".into(),
            summary: "If you can read this, the channel works.".into(),
            severity: Default::default(),
            status: Default::default(),
            service: String::new(),
            url: origin(),
            level: None,
            person: None,
            at: now,
        };
        let spec = crate::delivery::request(&config, &message);
        let (outcome, latency) = webhook::send(&spec).await;
        match outcome {
            crate::delivery::AttemptOutcome::Status { code, .. } if (200..300).contains(&code) => Ok(format!("Delivered: HTTP {code} in {latency} ms.")),
            crate::delivery::AttemptOutcome::Opaque => Ok(format!("Sent in {latency} ms. This service does not let a web page read its answer (no-cors): check the channel to see it arrived.")),
            other => Err(format!("Not delivered: {other}.")),
        }
    }

    /// Shows a test notification on this device.
    pub async fn test_notification(&self) -> Result<(), String> {
        notify::show("Piket test notification", "Pages will look like this. Tap Acknowledge on a real page to take it.", "piket-test", &origin(), "", None).await
    }

    pub fn notification_permission(&self) -> String {
        notify::permission()
    }

    pub async fn request_notification_permission(&self) -> String {
        notify::request_permission().await
    }

    /// Storage persistence and usage, asking for persistence first if not yet granted.
    pub async fn storage_info(&self) -> crate::adapters::quota::StorageInfo {
        let info = crate::adapters::quota::info().await;
        if info.persisted == Some(false) {
            crate::adapters::quota::request_persist().await;
            return crate::adapters::quota::info().await;
        }
        info
    }

    /// Everything as one JSON file (read-only: any tab can do it).
    pub async fn export(&self, include_secrets: bool) -> Result<String, String> {
        let guard = self.0.driver.lock().await;
        match guard.as_ref() {
            Some(d) => d.export(clock::now(), include_secrets).await.map_err(|e| e.to_string()),
            None => Err("Storage is still opening.".into()),
        }
    }

    fn on_message(&self, text: &str) {
        let Ok(message) = serde_json::from_str::<Message>(text) else { return };
        match message {
            Message::Heartbeat { tab } if tab != self.0.tab => {
                self.0.last_heartbeat.set(Some(js_sys::Date::now()));
            }
            Message::Changed { tab } if tab != self.0.tab => {
                let this = self.clone();
                spawn_local(async move { this.reload().await });
            }
            Message::Command { tab, id, command } if self.0.role.get() == Role::Leader => {
                let this = self.clone();
                spawn_local(async move {
                    let reply = this.execute_here(command).await;
                    this.post(&Message::Reply { to: tab, id, reply });
                });
            }
            Message::Reply { to, id, reply } if to == self.0.tab => {
                if let Some(tx) = self.0.waiting.borrow_mut().remove(&id) {
                    let _ = tx.send(reply);
                }
            }
            _ => {}
        }
    }

    async fn reload(&self) {
        let mut guard = self.0.driver.lock().await;
        let store = match guard.take() {
            Some(d) => d.into_store(),
            None => match IdbStore::open(DATABASE).await {
                Ok(s) => s,
                Err(e) => return (self.0.on_error)(e.to_string()),
            },
        };
        match Driver::load(store).await {
            Ok(driver) => {
                (self.0.on_snapshot)(snapshot(&driver));
                *guard = Some(driver);
            }
            Err(e) => (self.0.on_error)(e.to_string()),
        }
    }

    fn on_wake(&self, _wake: Wake) {
        match self.0.role.get() {
            Role::Leader => {
                let this = self.clone();
                spawn_local(async move { this.tick().await });
            }
            Role::Follower => {
                let silent_for = js_sys::Date::now() - self.0.last_heartbeat.get().unwrap_or_else(js_sys::Date::now);
                if self.0.last_heartbeat.get().is_none() {
                    self.0.last_heartbeat.set(Some(js_sys::Date::now()));
                } else if silent_for > HEARTBEAT_TIMEOUT_MS {
                    // The clock tab is frozen or gone without letting go: take over.
                    self.0.last_heartbeat.set(Some(js_sys::Date::now()));
                    self.queue_for_lock(true);
                }
            }
            Role::Starting => {}
        }
        self.publish_status();
    }

    /// Leader only: fire everything overdue, in order; note how late; announce the change.
    async fn tick(&self) {
        if self.0.ticking.replace(true) {
            return;
        }
        let now = clock::now();
        let previous_run = last_run();
        note_last_run(now);
        self.post(&Message::Heartbeat { tab: self.0.tab.clone() });
        let mut guard = self.0.driver.lock().await;
        if let Some(driver) = guard.as_mut() {
            let due = driver.next_deadline().filter(|t| *t <= now);
            if let Some(first_due) = due {
                match driver.tick(now).await {
                    Ok(step) => {
                        let late = now - first_due;
                        if late > chrono::Duration::seconds(60) || previous_run.is_some_and(|p| now - p > chrono::Duration::seconds(60)) {
                            self.0.caught_up.set(Some(late));
                        }
                        if !step.effects.is_empty() {
                            (self.0.on_snapshot)(snapshot(driver));
                            self.post(&Message::Changed { tab: self.0.tab.clone() });
                        }
                    }
                    Err(e) => (self.0.on_error)(format!("The clock could not save its step; it will try again: {e}")),
                }
            }
            self.sleep_until(driver.next_deadline());
        }
        drop(guard);
        self.0.ticking.set(false);
        self.deliver().await;
        self.publish_status();
    }

    fn sleep_until(&self, deadline: Option<DateTime<Utc>>) {
        if let Some(c) = self.0.clock.borrow().as_ref() {
            c.sleep_until(deadline);
        }
    }

    fn post(&self, message: &Message) {
        if let Some(bus) = self.0.bus.borrow().as_ref() {
            bus.post(&serde_json::to_string(message).expect("messages serialize"));
        }
    }

    fn publish_status(&self) {
        let status = ClockStatus {
            role: self.0.role.get(),
            now: clock::now(),
            last_run: last_run(),
            last_heartbeat: self.0.last_heartbeat.get().and_then(|ms| DateTime::from_timestamp_millis(ms as i64)),
            caught_up: self.0.caught_up.get(),
            uses_worker: self.0.clock.borrow().as_ref().is_some_and(|c| c.uses_worker()),
        };
        (self.0.on_status)(status);
    }
}

fn snapshot(driver: &Driver<IdbStore>) -> Snapshot {
    let incidents: Vec<Incident> = driver.engine().incidents().cloned().collect();
    let recorded = incidents.iter().map(|i| (i.id.clone(), driver.recorded_at(&i.id).to_vec())).collect();
    Snapshot {
        world: driver.world().clone(),
        incidents,
        outbox: driver.outbox().values().cloned().collect(),
        recorded,
        next_deadline: driver.next_deadline(),
        delivery: driver.delivery_settings().clone(),
    }
}

/// The app's address, for links in pages.
fn origin() -> String {
    web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default()
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn last_run() -> Option<DateTime<Utc>> {
    let ms: i64 = local_storage()?.get_item(LAST_RUN_KEY).ok()??.parse().ok()?;
    DateTime::from_timestamp_millis(ms)
}

fn note_last_run(now: DateTime<Utc>) {
    if let Some(s) = local_storage() {
        let _ = s.set_item(LAST_RUN_KEY, &now.timestamp_millis().to_string());
    }
}
