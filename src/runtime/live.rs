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

use super::command::{execute, Cause, Command, Done, Refusal, Reply};
use super::driver::Driver;
use super::outbox::{self, Outcome, Send};
use super::team_clock::TeamRole;
use crate::adapters::bus::Bus;
use crate::adapters::clock::{self, Clock, Wake};
use crate::adapters::leader::Leadership;
use crate::adapters::notify::{self, WorkerMessage};
use crate::adapters::webhook;
use crate::engine::escalation::Input;
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::Actor;
use crate::engine::incident::Incident;
use crate::engine::world::Channel;
use crate::engine::world::World;
use crate::reply::{ReplyMessage, ReplySettings, ReplyState};
use crate::storage::IdbStore;

/// The app's IndexedDB database.
pub const DATABASE: &str = "piket";
/// A follower takes over when the leader's heartbeat has been silent this long.
pub const HEARTBEAT_TIMEOUT_MS: f64 = 4000.0;
/// A follower's command fails when the leader has not answered in this long.
const REPLY_TIMEOUT_MS: u32 = 8000;
/// How often a command given before the tab joined looks again.
const JOIN_WAIT_STEP_MS: u32 = 50;
/// How long after a failed fetch of the tab's module ([`join`]) it is asked for again.
#[cfg(piket_split)]
const JOIN_RETRY_MS: u32 = 5_000;
/// How long a catch-up poll of the reply topic may take before the clock goes on without it.
const REPLY_POLL_TIMEOUT_MS: u32 = 3000;
/// A wake this long after the previous one means the tab slept: catch up on the reply topic
/// before firing deadlines.
const SLEPT_MS: f64 = 3000.0;
/// After a failed catch-up, ticks go on without asking again for this long.
const REPLY_RETRY_MS: f64 = 10_000.0;
/// Where the last clock run is noted, for every tab of this browser to read.
const LAST_RUN_KEY: &str = "piket.clock.last_run";

/// Everything the screens show, as of the last change.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub world: World,
    /// Every incident, open and resolved, with its timeline.
    pub incidents: Vec<Incident>,
    /// Every page and post, in words the screens show.
    pub outbox: Vec<super::view::DeliveryRow>,
    /// When each timeline entry was recorded, per incident (for "fired 14 min late").
    pub recorded: BTreeMap<IncidentId, Vec<DateTime<Utc>>>,
    pub next_deadline: Option<DateTime<Utc>>,
    pub delivery: outbox::DeliverySettings,
    pub reply: ReplyView,
    /// Every retrospective (of hot and archived incidents).
    pub retrospectives: Vec<crate::insight::retro::Retrospective>,
    /// Settings → Team sync: how the last round went, what waits, what conflicts.
    pub team: super::team_sync::TeamSyncView,
}

/// A resolved incident read back from the archive, with what its page shows.
#[derive(Clone, Debug, PartialEq)]
pub struct PastIncident {
    /// Where the next page of history starts (the archive's key of this incident).
    pub cursor: String,
    pub incident: Incident,
    /// When each timeline entry was recorded.
    pub recorded: Vec<DateTime<Utc>>,
    /// Its pages and posts, in words the screens show.
    pub outbox: Vec<super::view::DeliveryRow>,
}

impl PastIncident {
    fn of(a: crate::storage::ArchivedIncident, world: &World) -> PastIncident {
        let outbox = a.outbox.iter().map(|row| super::view::DeliveryRow::of(row, world)).collect();
        PastIncident { cursor: a.key, incident: a.incident, recorded: a.recorded, outbox }
    }
}

/// Settings → "Acknowledge from phones", as screens see it: never the key itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplyView {
    /// The settings, with the key blanked.
    pub settings: ReplySettings,
    /// Whether a signing key exists.
    pub has_key: bool,
    /// The server replies go to (the delivery settings' when none is set).
    pub server: String,
    /// What the clock remembers of the reply topic (counts, last refusals).
    pub state: ReplyState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Still opening the database and asking for the lock.
    Starting,
    Leader,
    Follower,
    /// Opened with `?safe=1` (from the recovery page): this tab keeps no clock, sends nothing,
    /// and runs commands on its own copy — to export, restore or remove what went wrong.
    Safe,
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
    /// When this tab's driver last finished a tick (its own heartbeat, not the lock's): a
    /// leader whose ticks stopped says so.
    pub last_tick: Option<DateTime<Utc>>,
    /// When this tab became the clock.
    pub leading_since: Option<DateTime<Utc>>,
    /// The reply topic's subscription in this tab.
    pub reply: ReplyLink,
    /// The clock's code (its lazily loaded module) could not be fetched at the last try; the
    /// next wake tries again.
    pub code_missing: bool,
}

/// Whether this tab listens to the reply topic.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ReplyLink {
    /// Off, or this tab is not the clock.
    #[default]
    Off,
    Connecting,
    /// Subscribed; the stream last answered at this time.
    Listening {
        since: DateTime<Utc>,
    },
    /// ntfy could not be reached; the clock tries again.
    Unreachable {
        error: String,
        at: DateTime<Utc>,
    },
}

/// What tabs of this browser tell each other. A `Command` travels as JSON: the clock's tab reads
/// an incident action itself, any other command in the configuration module (`execute_posted`),
/// so reading commands costs the first screen's module nothing.
#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Message {
    Heartbeat { tab: String },
    Changed { tab: String },
    Command { tab: String, id: u64, command: serde_json::Value },
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
    /// The reply topic's live subscription, and the (server, topic) it is for.
    reply_sub: RefCell<Option<ReplySubscription>>,
    reply_link: RefCell<ReplyLink>,
    /// When the last catch-up failed (ms), to not delay every tick while ntfy is down.
    reply_failed_at: Cell<Option<f64>>,
    /// Bumped on every (re)subscription, so a stale reconnect timer does nothing.
    reply_generation: Cell<u64>,
    /// When the clock last woke (ms), to tell a slept tab.
    last_wake: Cell<f64>,
    /// The clock epoch this tab holds while it leads: every write is fenced with it.
    epoch: Cell<Option<u64>>,
    /// When the driver last finished a tick here.
    last_tick: Cell<Option<DateTime<Utc>>>,
    leading_since: Cell<Option<DateTime<Utc>>>,
    /// Bumped whenever this tab starts team sync's rounds, so an older loop stops.
    team_generation: Cell<u64>,
    /// Whether the clock's module failed to load at the last try.
    clock_code_missing: Cell<bool>,
    /// Whether a cookie session was opened (team sync signed in with `_session`).
    team_signed_in: Cell<bool>,
    _pagehide: RefCell<Option<PageHide>>,
}

/// The `pagehide` listener (kept alive while the tab lives).
type PageHide = Closure<dyn FnMut(web_sys::Event)>;

/// The reply topic's live subscription: (server, topic, the stream).
type ReplySubscription = (String, String, crate::adapters::ntfy::Subscription);

/// A handle on the tab's runtime (cheap to clone).
#[derive(Clone)]
pub struct Live(Rc<Inner>);

impl Live {
    /// The time now, as the tab's clock reads it (the screens' first `now`, before a status comes).
    pub fn now() -> DateTime<Utc> {
        clock::now()
    }

    /// Opens the database, joins the other tabs, and starts the clock.
    pub fn start(on_snapshot: impl Fn(Snapshot) + 'static, on_status: impl Fn(ClockStatus) + 'static, on_error: impl Fn(String) + 'static) -> Live {
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
            reply_sub: RefCell::new(None),
            reply_link: RefCell::new(ReplyLink::Off),
            reply_failed_at: Cell::new(None),
            reply_generation: Cell::new(0),
            last_wake: Cell::new(js_sys::Date::now()),
            epoch: Cell::new(None),
            last_tick: Cell::new(None),
            leading_since: Cell::new(None),
            team_generation: Cell::new(0),
            clock_code_missing: Cell::new(false),
            team_signed_in: Cell::new(false),
            _pagehide: RefCell::new(None),
        }));
        let this = live.clone();
        // Storage is asked for now, before the first render rather than after it (a spawned task
        // first runs once the page is drawn): one poll sends IndexedDB's open request, and the
        // browser opens (on a new device, creates) the database while the page draws. Spawned,
        // the task polls it again before any IndexedDB event can arrive.
        let mut opening = Box::pin(IdbStore::open(DATABASE));
        let first = std::future::Future::poll(opening.as_mut(), &mut std::task::Context::from_waker(std::task::Waker::noop()));
        spawn_local(async move {
            let opened = match first {
                std::task::Poll::Ready(opened) => opened,
                std::task::Poll::Pending => opening.await,
            };
            // The steps are marked on the page's performance timeline (the phone figure reads them).
            match opened {
                Ok(store) => {
                    clock::mark("piket:storage-open");
                    match Driver::load(store).await {
                        Ok(driver) => {
                            clock::mark("piket:loaded");
                            this.warn_left_out(&driver);
                            (this.0.on_snapshot)(snapshot(&driver));
                            *this.0.driver.lock().await = Some(driver);
                        }
                        Err(e) => (this.0.on_error)(e.to_string()),
                    }
                }
                Err(e) => (this.0.on_error)(e.to_string()),
            }
            join(this).await;
        });
        live
    }

    /// The tab takes its part among the open tabs and in the clock: the service worker, the other
    /// tabs' bus, the wake-ups, the clock lock. In the module `tab` ([`join`]), fetched once the
    /// first screen has its data.
    fn join_here(&self) {
        spawn_local(async {
            notify::register_service_worker().await;
        });
        let weak = Rc::downgrade(&self.0);
        notify::on_worker_message(Rc::new(move |message| {
            let Some(inner) = weak.upgrade() else { return };
            let live = Live(inner);
            match message {
                WorkerMessage::Ack { incident, person } => spawn_local(async move {
                    if let Err(refusal) = live.acknowledge_from_notification(incident, person).await {
                        (live.0.on_error)(format!("Acknowledge from the notification failed: {refusal}"));
                    }
                }),
                // A tap on a page's notification while Piket is open shows its incident (the
                // screens follow the address's fragment).
                WorkerMessage::Open { incident: Some(incident) } => {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().set_hash(&crate::route::Route::Incident(incident.into_string()).path());
                    }
                }
                WorkerMessage::Open { incident: None } => {}
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

        if crate::ui::query_flag("safe") {
            self.0.role.set(Role::Safe);
        } else if Leadership::supported() {
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
        self.0.leading_since.set(Some(clock::now()));
        let this = self.clone();
        spawn_local(async move {
            // Another tab may have changed things since we last loaded: start from the database.
            this.reload().await;
            // Raise the clock epoch: from now on a tab that led before us can write nothing.
            {
                let mut guard = this.0.driver.lock().await;
                if let Some(driver) = guard.as_mut() {
                    match driver.take_clock(clock::now()).await {
                        Ok(epoch) => this.0.epoch.set(Some(epoch)),
                        Err(e) => (this.0.on_error)(format!("This tab could not take the clock: {e}")),
                    }
                }
            }
            this.post(&Message::Heartbeat { tab: this.0.tab.clone() });
            // Acknowledgements that arrived while no tab was the clock come first.
            clock_work(this.clone(), ClockWork::FollowReplyThenTick { force: true }).await;
            this.start_team_sync();
        });
    }

    /// Leader only: team sync's rounds, every few seconds while it is on.
    fn start_team_sync(&self) {
        let generation = self.0.team_generation.get() + 1;
        self.0.team_generation.set(generation);
        let this = self.clone();
        spawn_local(async move {
            while this.0.role.get() == Role::Leader && this.0.team_generation.get() == generation {
                let wait = this.team_round().await;
                gloo_timers::future::TimeoutFuture::new(wait).await;
            }
        });
    }

    /// One team-sync round; returns how long to wait before the next.
    async fn team_round(&self) -> u32 {
        let mut guard = self.0.driver.lock().await;
        let Some(driver) = guard.take() else { return TEAM_SYNC_RETRY_MS };
        let settings = driver.team_sync_settings().clone();
        if !settings.enabled || self.0.role.get() != Role::Leader {
            *guard = Some(driver);
            return TEAM_SYNC_IDLE_MS;
        }
        let remote = team_remote(&settings);
        if settings.auth == super::team_sync::SyncAuth::Cookie && !self.0.team_signed_in.get() {
            self.0.team_signed_in.set(super::team_sync::sign_in(&settings, &remote).await.is_ok());
        }
        let before = driver.team_view().clone();
        let ran_clock = driver.team_role().runs_clock();
        // The round's code is its own lazily loaded module (see `team_round_loaded`): fetch it
        // first, so that a failed fetch keeps the driver here and retries later.
        if preload_team_round().await.is_err() {
            *guard = Some(driver);
            return TEAM_SYNC_RETRY_MS;
        }
        let (driver, result) = team_round_loaded(driver, remote, uuid::Uuid::new_v4().to_string(), clock::now()).await;
        let runs_clock = driver.team_role().runs_clock();
        let applied = result.as_ref().is_ok_and(|r| r.applied + r.adopted + r.answered > 0);
        let answered = result.as_ref().is_ok_and(|r| r.answered > 0);
        if result.as_ref().err().and_then(crate::sync::SyncError::status) == Some(401) {
            self.0.team_signed_in.set(false);
        }
        let view_changed = {
            let after = driver.team_view();
            after.error != before.error
                || after.waiting != before.waiting
                || after.conflicts != before.conflicts
                || after.documents != before.documents
                || after.clock != before.clock
        };
        if applied || view_changed {
            (self.0.on_snapshot)(snapshot(&driver));
        }
        if !runs_clock {
            // Another device runs the team's clock: nothing is due here.
            self.sleep_until(None);
        }
        *guard = Some(driver);
        drop(guard);
        if applied {
            self.post(&Message::Changed { tab: self.0.tab.clone() });
        }
        if runs_clock != ran_clock {
            // Took the team's clock over (catch up from what the last holder published), or
            // handed it on (stop reading the reply topic).
            spawn_local(clock_work(self.clone(), ClockWork::FollowReplyThenTick { force: false }));
        } else if answered {
            let this = self.clone();
            spawn_local(async move { this.deliver().await });
        }
        if result.is_ok() {
            TEAM_SYNC_EVERY_MS
        } else {
            TEAM_SYNC_RETRY_MS
        }
    }

    /// Settings → Team sync → "Test connection", with the settings as typed (not yet saved). A
    /// masked password stands for the stored one.
    pub async fn test_team_sync(&self, mut settings: super::team_sync::SyncSettings) -> Result<String, (String, bool)> {
        self.fill_password(&mut settings).await;
        let remote = team_remote(&settings);
        super::team_sync::check(&settings, &remote, &origin()).await.map_err(|p| {
            let missing = matches!(p, super::team_sync::ConnectionProblem::MissingDatabase { .. });
            (p.to_string(), missing)
        })
    }

    /// "Create the database".
    pub async fn create_team_database(&self, mut settings: super::team_sync::SyncSettings) -> Result<String, String> {
        self.fill_password(&mut settings).await;
        let remote = team_remote(&settings);
        super::team_sync::create_database(&settings, &remote).await
    }

    async fn fill_password(&self, settings: &mut super::team_sync::SyncSettings) {
        if settings.password == settings.masked_password() {
            if let Some(d) = self.0.driver.lock().await.as_ref() {
                settings.password = d.team_sync_settings().password.clone();
            }
        }
    }

    /// A write was fenced: another tab took the clock while this one was hung or frozen. Stop
    /// leading at once, send nothing more, and show what the new clock writes.
    fn lost_clock(&self) {
        if self.0.role.get() == Role::Leader {
            self.become_follower();
            let this = self.clone();
            spawn_local(async move { this.reload().await });
        }
    }

    fn become_follower(&self) {
        if self.0.role.get() == Role::Leader {
            self.0.epoch.set(None);
            self.0.role.set(Role::Follower);
            self.0.last_heartbeat.set(Some(js_sys::Date::now()));
            self.stop_reply();
            self.queue_for_lock(false);
            self.publish_status();
        }
    }

    pub fn role(&self) -> Role {
        self.0.role.get()
    }

    /// Runs a command: here when this tab is the clock, otherwise in the clock's tab.
    pub async fn run(&self, mut command: Command) -> Reply {
        if let Command::SetReplyChannel { entropy, .. } = &mut command {
            if entropy.is_empty() {
                *entropy = crate::adapters::ntfy::random_bytes(48);
            }
        }
        // A tab joins the others a moment after its first screen (its module loads first): a
        // command given meanwhile waits for that rather than go to a clock it cannot reach yet.
        let mut waited = 0;
        while self.0.role.get() == Role::Starting && waited < REPLY_TIMEOUT_MS {
            gloo_timers::future::TimeoutFuture::new(JOIN_WAIT_STEP_MS).await;
            waited += JOIN_WAIT_STEP_MS;
        }
        match self.0.role.get() {
            Role::Leader | Role::Safe => return self.execute_here(command).await,
            Role::Starting => return Err(Refusal::new(Cause::Starting, TAB_NOT_JOINED)),
            Role::Follower => {}
        }
        let id = self.0.next_id.get();
        self.0.next_id.set(id + 1);
        let (tx, rx) = oneshot::channel();
        self.0.waiting.borrow_mut().insert(id, tx);
        self.post(&Message::Command { tab: self.0.tab.clone(), id, command: serde_json::to_value(&command).expect("commands serialize") });
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
                    Err(Refusal::new(Cause::NoAnswer, "The tab running Piket's clock did not answer; nothing was changed. Try again."))
                }
            }
        }
    }

    /// A command another tab posted, still as JSON (see [`Message::Command`]).
    async fn execute_posted(&self, mut posted: serde_json::Value) -> Reply {
        let unreadable = |e: String| Err(Refusal::new(Cause::Refused, format!("Another tab sent a command this one cannot read ({e}); nothing was changed.")));
        if posted.get("command").and_then(serde_json::Value::as_str) == Some("dispatch") {
            return match crate::json::stored_from_value::<Input>(posted["input"].take()) {
                Ok(input) => self.execute_here(Command::Dispatch { input }).await,
                Err(e) => unreadable(e.to_string()),
            };
        }
        if preload_configure().await.is_err() {
            return Err(Refusal::new(Cause::Refused, CONFIGURE_NOT_LOADED));
        }
        match read_command_loaded(posted).await {
            Ok(command) => self.execute_here(command).await,
            Err(e) => unreadable(e),
        }
    }

    async fn execute_here(&self, command: Command) -> Reply {
        let mut guard = self.0.driver.lock().await;
        let Some(driver) = guard.take() else {
            return Err(Refusal::new(Cause::Starting, "Storage is still opening; try again in a moment."));
        };
        if let (Command::Dispatch { input }, TeamRole::Follower) = (&command, driver.team_role()) {
            // Another device runs the team's clock: the action goes to it as a command.
            let settings = driver.team_sync_settings().clone();
            let from = driver.team_state().docs.uuid.clone();
            *guard = Some(driver);
            drop(guard);
            return self.forward(input.clone(), settings, from).await;
        }
        let (driver, reply) = match command {
            Command::Dispatch { input } => {
                // Incident actions' code is in the clock's module, which the clock tab loaded at
                // its first tick.
                if preload_clock().await.is_err() {
                    *guard = Some(driver);
                    return Err(Refusal::new(Cause::Refused, CLOCK_NOT_LOADED));
                }
                dispatch_loaded(driver, input, clock::now()).await
            }
            command => {
                // Configuration commands' code is its own lazily loaded module.
                if preload_configure().await.is_err() {
                    *guard = Some(driver);
                    return Err(Refusal::new(Cause::Refused, CONFIGURE_NOT_LOADED));
                }
                configure_loaded(driver, command, clock::now()).await
            }
        };
        if reply.as_ref().is_err_and(Refusal::fenced) {
            *guard = Some(driver);
            drop(guard);
            self.lost_clock();
            return reply;
        }
        (self.0.on_snapshot)(snapshot(&driver));
        self.sleep_until(driver.next_deadline());
        *guard = Some(driver);
        drop(guard);
        self.post(&Message::Changed { tab: self.0.tab.clone() });
        spawn_local(clock_work(self.clone(), ClockWork::FollowReplyThenDeliver));
        reply
    }

    /// Sends an action to the device running the team's clock as a command document, and waits
    /// a few seconds for its answer (then takes its change in at once).
    async fn forward(&self, input: Input, settings: super::team_sync::SyncSettings, from: String) -> Reply {
        let remote = team_remote(&settings);
        let id = format!("{}{}", super::team_clock::COMMAND_PREFIX, uuid::Uuid::new_v4());
        let doc = super::team_clock::command_doc(&input, &from, &settings.device, clock::now());
        if let Err(e) = remote.put_doc(&id, &doc).await {
            return Err(Refusal::new(Cause::NoAnswer, format!("The team's database did not take it ({e}); nothing was changed. Try again.")));
        }
        let started = js_sys::Date::now();
        while js_sys::Date::now() - started < FORWARD_WAIT_MS {
            gloo_timers::future::TimeoutFuture::new(FORWARD_POLL_MS).await;
            let Ok(Some(doc)) = remote.get_doc(&id).await else { continue };
            if let Some(answer) = super::team_clock::read_answer(&doc) {
                // The clock's change, here now rather than at the next round.
                self.team_round().await;
                return answer.map_err(|message| Refusal::new(Cause::Refused, message));
            }
        }
        Ok(Done {
            message: "Sent to the team's clock. It has not answered yet; it applies it when it next syncs.".into(),
            id: input.incident_id().map(IncidentId::to_string),
        })
    }

    /// The Acknowledge action of a notification: acknowledge as the paged person, and say where
    /// it came from on the timeline.
    pub async fn acknowledge_from_notification(&self, incident: IncidentId, person: PersonId) -> Reply {
        let ack = Input::Acknowledge { incident: incident.clone(), by: person.clone() };
        let reply = self.run(Command::Dispatch { input: ack }).await;
        if reply.is_ok() {
            let note = Input::AddNote { incident, by: Actor::Person(person), text: "Acknowledged from notification".into() };
            let _ = self.run(Command::Dispatch { input: note }).await;
        }
        reply
    }

    /// Leader only: sends every page and post that is due, and records each attempt (in the
    /// clock's module, [`clock_work`]).
    async fn deliver(&self) {
        clock_work(self.clone(), ClockWork::Deliver).await
    }

    async fn deliver_here(&self) {
        if self.0.role.get() != Role::Leader || self.0.delivering.replace(true) {
            return;
        }
        let now = clock::now();
        let (sends, team) = {
            let mut guard = self.0.driver.lock().await;
            let Some(driver) = guard.as_mut() else {
                self.0.delivering.set(false);
                return;
            };
            if !driver.team_role().runs_clock() {
                // Another device runs the team's clock and sends its pages.
                self.0.delivering.set(false);
                return;
            }
            let sends = driver.due_sends(&origin(), now);
            // Claim them in one fenced transaction first: if another tab has taken the clock
            // meanwhile (this one was hung), nothing is sent twice.
            if !sends.is_empty() {
                if let Err(e) = driver.claim(&sends, now).await {
                    if e.is_fenced() {
                        drop(guard);
                        self.0.delivering.set(false);
                        self.lost_clock();
                        return;
                    }
                    // Any other failure (a full disk): sending at least once beats not at all.
                }
            }
            let team = (driver.team_role() == TeamRole::Holder).then(|| (driver.team_sync_settings().clone(), driver.team_state().docs.uuid.clone()));
            (sends, team)
        };
        // Holding the team's clock: each route is claimed in the team's database too, so one a
        // device before this one sent (it closed before publishing) is not sent again.
        let (sends, elsewhere) = match team {
            Some((settings, me)) if !sends.is_empty() => {
                let remote = team_remote(&settings);
                let routes: Vec<(String, usize)> = sends.iter().map(|d| (d.key.clone(), d.route)).collect();
                let claims = super::team_clock::claim_sends(&remote, &me, &settings.device, &routes, now).await;
                let mut send = Vec::new();
                let mut skip = Vec::new();
                for (due, claim) in sends.into_iter().zip(claims) {
                    match claim {
                        super::team_clock::Claim::Elsewhere(device) => skip.push((due, device)),
                        _ => send.push(due),
                    }
                }
                (send, skip)
            }
            _ => (sends, Vec::new()),
        };
        if !elsewhere.is_empty() {
            let mut guard = self.0.driver.lock().await;
            if let Some(driver) = guard.as_mut() {
                for (due, device) in &elsewhere {
                    let _ = driver.record_attempt(&due.key, due.route, &Outcome::Elsewhere(device.clone()), 0, now).await;
                }
            }
        }
        if !sends.is_empty() {
            let attempts = sends.into_iter().map(|due| async move {
                let started = js_sys::Date::now();
                let outcome = match &due.send {
                    Send::Notification { title, body, tag, url, ack_url, incident, person } => {
                        match notify::show(title, body, tag, url, incident, person.as_ref().map(PersonId::to_string), ack_url.clone()).await {
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
                        if !e.is_fenced() {
                            (self.0.on_error)(format!("A delivery result could not be saved: {e}"));
                        }
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
            acks: Vec::new(),
        };
        let spec = crate::delivery::request(&config, &message);
        let (outcome, latency) = webhook::send(&spec).await;
        match outcome {
            crate::delivery::AttemptOutcome::Status { code, .. } if (200..300).contains(&code) => Ok(format!("Delivered: HTTP {code} in {latency} ms.")),
            crate::delivery::AttemptOutcome::Opaque => {
                Ok(format!("Sent in {latency} ms. This service does not let a web page read its answer (no-cors): check the channel to see it arrived."))
            }
            other => Err(format!("Not delivered: {other}.")),
        }
    }

    /// Shows a test notification on this device.
    pub async fn test_notification(&self) -> Result<(), String> {
        notify::show(
            "Piket test notification",
            "Pages will look like this. Tap Acknowledge on a real page to take it.",
            "piket-test",
            &origin(),
            "",
            None,
            None,
        )
        .await
    }

    pub fn notification_permission(&self) -> String {
        notify::permission()
    }

    pub async fn request_notification_permission(&self) -> String {
        notify::request_permission().await
    }

    /// Storage persistence and usage, asking for persistence first if not yet granted.
    pub async fn storage_info(&self) -> super::view::StorageUse {
        let mut info = crate::adapters::quota::info().await;
        if info.persisted == Some(false) {
            crate::adapters::quota::request_persist().await;
            info = crate::adapters::quota::info().await;
        }
        super::view::StorageUse { persisted: info.persisted, usage_bytes: info.usage_bytes, quota_bytes: info.quota_bytes }
    }

    /// A page of history (resolved incidents from the archive, newest first), after `cursor`.
    /// Read-only: any tab reads its own copy of the database.
    pub async fn history(&self, cursor: Option<String>, limit: usize) -> Result<Vec<PastIncident>, String> {
        let guard = self.0.driver.lock().await;
        let driver = guard.as_ref().ok_or("Storage is still opening.")?;
        let page = driver.history(cursor.as_deref(), limit).await.map_err(|e| e.to_string())?;
        Ok(page.into_iter().map(|a| PastIncident::of(a, driver.world())).collect())
    }

    /// Every archived incident resolved at or after `since` (so every one opened since then).
    pub async fn history_since(&self, since: DateTime<Utc>) -> Result<Vec<Incident>, String> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = super::driver::PastCursor::Start;
        loop {
            // The driver is taken a page at a time, so the clock keeps ticking meanwhile.
            let (page, next) = {
                let guard = self.0.driver.lock().await;
                let driver = guard.as_ref().ok_or("Storage is still opening.")?;
                driver.past_since(since, cursor).await.map_err(|e| e.to_string())?
            };
            out.extend(page.into_iter().filter(|i| seen.insert(i.id.clone())));
            match next {
                Some(n) => cursor = n,
                None => return Ok(out),
            }
        }
    }

    /// One archived incident, by id.
    pub async fn past_incident(&self, id: &str) -> Result<Option<PastIncident>, String> {
        let guard = self.0.driver.lock().await;
        let driver = guard.as_ref().ok_or("Storage is still opening.")?;
        Ok(driver.find_archived(id).await.map_err(|e| e.to_string())?.map(|a| PastIncident::of(a, driver.world())))
    }

    /// The audit log of every incident as stored (read-only: any tab can do it).
    pub async fn audit_log(&self) -> Result<String, String> {
        let guard = self.0.driver.lock().await;
        match guard.as_ref() {
            Some(d) => d.audit_log().await.map_err(|e| e.to_string()),
            None => Err("Storage is still opening.".into()),
        }
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
        let Ok(message) = crate::json::stored_from_str::<Message>(text) else { return };
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
                    let reply = this.execute_posted(command).await;
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
            Ok(mut driver) => {
                if let (Role::Leader, Some(epoch)) = (self.0.role.get(), self.0.epoch.get()) {
                    driver.resume_clock(epoch);
                }
                self.warn_left_out(&driver);
                (self.0.on_snapshot)(snapshot(&driver));
                *guard = Some(driver);
            }
            Err(e) => (self.0.on_error)(e.to_string()),
        }
    }

    /// Says which stored incidents the clock does not run, and why.
    fn warn_left_out(&self, driver: &Driver<IdbStore>) {
        let left_out = driver.left_out();
        if let Some((id, why)) = left_out.first() {
            let more = if left_out.len() > 1 { format!(" (and {} more)", left_out.len() - 1) } else { String::new() };
            (self.0.on_error)(format!(
                "Incident {id}{more} was not loaded: its stored state does not hold together ({why}). Everything else runs. Export a backup from Settings to keep it."
            ));
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
            Role::Starting | Role::Safe => {}
        }
        self.publish_status();
    }

    /// Leader only: fire everything overdue, in order; note how late; announce the change (in the
    /// clock's module, [`clock_work`]).
    async fn tick(&self) {
        clock_work(self.clone(), ClockWork::Tick).await
    }

    async fn tick_here(&self) {
        if self.0.ticking.replace(true) {
            return;
        }
        // `now` is taken before the catch-up: this tick fires nothing later than the moment the
        // catch-up started from, even if the tab is frozen halfway (the next tick then sees the
        // gap and catches up again first).
        let now = clock::now();
        let woke = js_sys::Date::now();
        let slept = woke - self.0.last_wake.replace(woke) > SLEPT_MS;
        // Before firing deadlines, take in acknowledgements the phones sent meanwhile: each one
        // applies at the time ntfy received it, so an ack sent before a deadline stops its page.
        if self.reply_catch_up_needed(slept).await {
            self.reply_catch_up().await;
        }
        let previous_run = last_run();
        note_last_run(now);
        self.post(&Message::Heartbeat { tab: self.0.tab.clone() });
        let mut guard = self.0.driver.lock().await;
        if let Some(driver) = guard.as_mut() {
            // With team sync, deadlines fire only on the device holding the team's clock.
            let due = driver.next_deadline().filter(|t| *t <= now && driver.team_role().runs_clock());
            if let Some(first_due) = due {
                let stepped = driver.tick(now).await.map(|step| {
                    let late = now - first_due;
                    if late > chrono::Duration::seconds(60) || previous_run.is_some_and(|p| now - p > chrono::Duration::seconds(60)) {
                        self.0.caught_up.set(Some(late));
                    }
                    !step.effects.is_empty()
                });
                if self.after_write(driver, stepped, "The clock could not save its step; it will try again") {
                    drop(guard);
                    self.0.ticking.set(false);
                    return self.lost_clock();
                }
            }
            // Housekeeping: what was resolved over a day ago (and is fully delivered) moves to
            // the archive, so the hot state holds only what can still change.
            let archived = driver.archive(now).await.map(|moved| moved > 0);
            if self.after_write(driver, archived, "Resolved incidents could not be archived; the clock will try again") {
                drop(guard);
                self.0.ticking.set(false);
                return self.lost_clock();
            }
            // After an upgrade, archived incidents from before digests existed get theirs, for
            // at most a fifth of a second a tick (nothing on screen changes).
            let started = clock::now();
            let mut digested = Ok(false);
            while !driver.digests_ready() && clock::now() - started < chrono::Duration::milliseconds(200) {
                digested = driver.digest_archive(now).await.map(|_| false);
                if digested.is_err() {
                    break;
                }
            }
            if self.after_write(driver, digested, "History could not be indexed; the clock will try again") {
                drop(guard);
                self.0.ticking.set(false);
                return self.lost_clock();
            }
            self.sleep_until(driver.next_deadline().filter(|_| driver.team_role().runs_clock()));
            self.0.last_tick.set(Some(clock::now()));
        }
        drop(guard);
        self.0.ticking.set(false);
        self.deliver_here().await;
        self.publish_status();
    }

    /// After one of the tick's writes: a change is shown and announced, a failure said. Returns
    /// whether the write found the clock taken by another tab (the caller then stops).
    fn after_write(&self, driver: &Driver<IdbStore>, written: Result<bool, super::ActionError>, failed: &str) -> bool {
        match written {
            Ok(true) => {
                (self.0.on_snapshot)(snapshot(driver));
                self.post(&Message::Changed { tab: self.0.tab.clone() });
                false
            }
            Ok(false) => false,
            Err(e) if e.is_fenced() => true,
            Err(e) => {
                (self.0.on_error)(format!("{failed}: {e}"));
                false
            }
        }
    }

    /// Whether to poll the reply topic before this tick: something is due, the channel is on,
    /// and the tab slept or the live stream is down (unless ntfy just failed).
    async fn reply_catch_up_needed(&self, slept: bool) -> bool {
        let (due, listening) = {
            let guard = self.0.driver.lock().await;
            let Some(d) = guard.as_ref() else { return false };
            (d.next_deadline().is_some_and(|t| t <= clock::now()), d.reply_listen().is_some())
        };
        let stream_live = matches!(*self.0.reply_link.borrow(), ReplyLink::Listening { .. });
        let failed_recently = self.0.reply_failed_at.get().is_some_and(|t| js_sys::Date::now() - t < REPLY_RETRY_MS);
        due && listening && (slept || !stream_live) && !failed_recently
    }

    /// Leader only: matches the reply topic's subscription to the settings — closes it when the
    /// channel is off, (re)subscribes after a catch-up when it is on and not yet listening (or
    /// `force`).
    async fn sync_reply(&self, force: bool) {
        if self.0.role.get() != Role::Leader {
            return self.stop_reply();
        }
        let listen = {
            let guard = self.0.driver.lock().await;
            // Acknowledgements go to the device running the team's clock.
            guard.as_ref().filter(|d| d.team_role().runs_clock()).and_then(|d| d.reply_listen())
        };
        let Some((server, topic, _)) = listen else { return self.stop_reply() };
        let current = self.0.reply_sub.borrow().as_ref().map(|(s, t, _)| (s.clone(), t.clone()));
        if !force && current == Some((server.clone(), topic.clone())) {
            return;
        }
        self.stop_reply();
        *self.0.reply_link.borrow_mut() = ReplyLink::Connecting;
        self.publish_status();
        let caught_up = self.reply_catch_up().await;
        self.subscribe_reply(caught_up);
    }

    fn stop_reply(&self) {
        self.0.reply_generation.set(self.0.reply_generation.get() + 1);
        self.0.reply_sub.borrow_mut().take();
        *self.0.reply_link.borrow_mut() = ReplyLink::Off;
    }

    /// Opens the live stream from the last message id. When the catch-up failed, tries again
    /// later instead (the stream would miss nothing, but the catch-up says whether ntfy is up).
    fn subscribe_reply(&self, caught_up: bool) {
        let generation = self.0.reply_generation.get() + 1;
        self.0.reply_generation.set(generation);
        let listen = self.0.driver.try_lock().and_then(|g| g.as_ref().and_then(|d| d.reply_listen()));
        let Some((server, topic, since)) = listen else {
            return self.retry_reply_later(generation, 1000);
        };
        if !caught_up {
            return self.retry_reply_later(generation, 5000);
        }
        let weak = Rc::downgrade(&self.0);
        let on_message: Rc<dyn Fn(String)> = Rc::new(move |data| {
            let Some(inner) = weak.upgrade() else { return };
            let live = Live(inner);
            *live.0.reply_link.borrow_mut() = ReplyLink::Listening { since: clock::now() };
            if let Some(message) = ReplyMessage::from_json(&data) {
                spawn_local(async move { live.receive_reply(message).await });
            }
        });
        let weak = Rc::downgrade(&self.0);
        let on_state: Rc<dyn Fn(&str)> = Rc::new(move |state| {
            let Some(inner) = weak.upgrade() else { return };
            let live = Live(inner);
            if live.0.reply_generation.get() != generation {
                return;
            }
            if state == "open" {
                *live.0.reply_link.borrow_mut() = ReplyLink::Listening { since: clock::now() };
            } else {
                *live.0.reply_link.borrow_mut() = ReplyLink::Unreachable { error: "the connection to ntfy broke".into(), at: clock::now() };
                live.0.reply_sub.borrow_mut().take();
                live.retry_reply_later(generation, 3000);
            }
            live.publish_status();
        });
        let sub = crate::adapters::ntfy::Subscription::open(&server, &topic, &since, on_message, on_state);
        *self.0.reply_sub.borrow_mut() = Some((server, topic, sub));
    }

    /// After `ms`, catch up and subscribe again — unless something resubscribed meanwhile.
    fn retry_reply_later(&self, generation: u64, ms: u32) {
        let weak = Rc::downgrade(&self.0);
        spawn_local(async move {
            gloo_timers::future::TimeoutFuture::new(ms).await;
            let Some(inner) = weak.upgrade() else { return };
            let live = Live(inner);
            if live.0.reply_generation.get() != generation || live.0.role.get() != Role::Leader {
                return;
            }
            let caught_up = live.reply_catch_up().await;
            if live.0.reply_generation.get() == generation {
                live.subscribe_reply(caught_up);
            }
        });
    }

    /// Polls the reply topic since the last message id and applies what came, in order. False
    /// when ntfy could not be reached.
    async fn reply_catch_up(&self) -> bool {
        let listen = {
            let guard = self.0.driver.lock().await;
            guard.as_ref().and_then(|d| d.reply_listen())
        };
        let Some((server, topic, since)) = listen else { return true };
        match crate::adapters::ntfy::poll(&server, &topic, &since, REPLY_POLL_TIMEOUT_MS).await {
            Ok(lines) => {
                self.0.reply_failed_at.set(None);
                for line in lines {
                    if let Some(message) = ReplyMessage::from_json(&line) {
                        self.receive_reply(message).await;
                    }
                }
                true
            }
            Err(error) => {
                self.0.reply_failed_at.set(Some(js_sys::Date::now()));
                *self.0.reply_link.borrow_mut() = ReplyLink::Unreachable { error, at: clock::now() };
                self.publish_status();
                false
            }
        }
    }

    /// One message from the reply topic: judged and applied by the driver; its answer published
    /// for the phone (in the clock's module, [`clock_work`]).
    async fn receive_reply(&self, message: ReplyMessage) {
        clock_work(self.clone(), ClockWork::Reply(message)).await
    }

    async fn receive_reply_here(&self, message: ReplyMessage) {
        if self.0.role.get() != Role::Leader {
            return;
        }
        let mut guard = self.0.driver.lock().await;
        let Some(driver) = guard.as_mut() else { return };
        let server = driver.reply_listen().map(|(s, t, _)| (s, t));
        match driver.receive_reply(&message, clock::now()).await {
            Ok(outcome) => {
                (self.0.on_snapshot)(snapshot(driver));
                self.sleep_until(driver.next_deadline());
                drop(guard);
                self.post(&Message::Changed { tab: self.0.tab.clone() });
                if let (Some(answer), Some((server, topic))) = (outcome.answer, server) {
                    let spec = crate::delivery::RequestSpec {
                        url: format!("{server}/"),
                        method: "POST",
                        content_type: "application/json",
                        body: serde_json::json!({"topic": topic, "message": answer, "priority": 1}).to_string(),
                        mode: crate::delivery::Mode::Cors,
                    };
                    spawn_local(async move {
                        // Best effort, twice: a phone that hears nothing says so and offers Retry.
                        for _ in 0..2 {
                            if matches!(webhook::send(&spec).await.0, crate::delivery::AttemptOutcome::Status { code: 200..=299, .. }) {
                                break;
                            }
                            gloo_timers::future::TimeoutFuture::new(1000).await;
                        }
                    });
                }
                if outcome.step.is_some() {
                    let this = self.clone();
                    spawn_local(async move { this.deliver_here().await });
                }
            }
            Err(e) if e.is_fenced() => {
                drop(guard);
                self.lost_clock();
            }
            Err(e) => (self.0.on_error)(format!("An acknowledgement from a phone could not be saved; it will be read again: {e}")),
        }
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
            reply: self.0.reply_link.borrow().clone(),
            last_tick: self.0.last_tick.get(),
            leading_since: self.0.leading_since.get(),
            code_missing: self.0.clock_code_missing.get(),
        };
        (self.0.on_status)(status);
    }
}

/// Team sync's rounds: every few seconds while the database answers, less often while it does not.
const TEAM_SYNC_EVERY_MS: u32 = 1_000;
/// How long an action sent to the team's clock waits for its answer, and how often it looks.
const FORWARD_WAIT_MS: f64 = 8_000.0;
const FORWARD_POLL_MS: u32 = 200;
const TEAM_SYNC_RETRY_MS: u32 = 5_000;
const TEAM_SYNC_IDLE_MS: u32 = 3_000;

fn snapshot(driver: &Driver<IdbStore>) -> Snapshot {
    let incidents: Vec<Incident> = driver.engine().incidents().cloned().collect();
    let recorded = incidents.iter().map(|i| (i.id.clone(), driver.recorded_at(&i.id).to_vec())).collect();
    Snapshot {
        world: driver.world().clone(),
        incidents,
        outbox: driver.outbox().values().map(|row| super::view::DeliveryRow::of(row, driver.world())).collect(),
        recorded,
        next_deadline: driver.next_deadline(),
        delivery: driver.delivery_settings().clone(),
        reply: ReplyView {
            settings: driver.reply_settings().without_key(),
            has_key: driver.reply_settings().team_key().is_some(),
            server: driver.reply_settings().server_or(&driver.delivery_settings().ntfy_server),
            state: driver.reply_state().clone(),
        },
        retrospectives: driver.retrospectives().values().cloned().collect(),
        team: driver.team_view().clone(),
    }
}

/// One team-sync round ([`super::team_sync::round`]), as a split point: a device without team sync
/// never downloads the code of replication, incident exchange and the lease. Without
/// `--cfg piket_split` it is an ordinary call.
#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(
    team_sync,
    wasm_split_path = ::leptos::wasm_split,
    preload(preload_team_round),
    fallible,
    return_wrapper(let future = _; { Ok(future?.await) } -> Result<TeamRoundOutput, leptos::wasm_split::SplitLoaderError>)
)]
#[allow(clippy::type_complexity)]
fn team_round_split(
    driver: Driver<IdbStore>,
    remote: crate::sync::HttpDb<crate::adapters::couch::Fetch>,
    device: String,
    now: DateTime<Utc>,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = TeamRoundOutput>>>, leptos::wasm_split::SplitLoaderError> {
    Ok(Box::pin(async move { super::team_sync::round(driver, &remote, &device, now).await }))
}

/// Called only after [`preload_team_round`] succeeded.
#[cfg(piket_split)]
async fn team_round_loaded(
    driver: Driver<IdbStore>,
    remote: crate::sync::HttpDb<crate::adapters::couch::Fetch>,
    device: String,
    now: DateTime<Utc>,
) -> TeamRoundOutput {
    after_preload(team_round_split(driver, remote, device, now).await)
}

#[cfg(not(piket_split))]
async fn team_round_loaded(
    driver: Driver<IdbStore>,
    remote: crate::sync::HttpDb<crate::adapters::couch::Fetch>,
    device: String,
    now: DateTime<Utc>,
) -> TeamRoundOutput {
    super::team_sync::round(driver, &remote, &device, now).await
}

#[cfg(not(piket_split))]
async fn preload_team_round() -> Result<(), ()> {
    Ok(())
}

/// Every command but an incident action ([`super::command::execute`]), as a split point: saving a
/// policy, a restore, the settings. Same pattern as [`team_round_loaded`].
#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(
    configure,
    wasm_split_path = ::leptos::wasm_split,
    preload(preload_configure),
    fallible,
    return_wrapper(let future = _; { Ok(future?.await) } -> Result<(Driver<IdbStore>, Reply), leptos::wasm_split::SplitLoaderError>)
)]
#[allow(clippy::type_complexity)]
pub(crate) fn configure_split(
    driver: Driver<IdbStore>,
    command: Command,
    now: DateTime<Utc>,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = (Driver<IdbStore>, Reply)>>>, leptos::wasm_split::SplitLoaderError> {
    Ok(Box::pin(execute(driver, command, now)))
}

/// A posted command read as a [`Command`]: in the configuration module, beside the code that
/// runs it.
#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(configure, wasm_split_path = ::leptos::wasm_split, fallible)]
fn read_command_split(posted: serde_json::Value) -> Result<Result<Command, String>, leptos::wasm_split::SplitLoaderError> {
    Ok(crate::json::stored_from_value::<Command>(posted).map_err(|e| e.to_string()))
}

/// Called only after [`preload_configure`] succeeded.
#[cfg(piket_split)]
async fn read_command_loaded(posted: serde_json::Value) -> Result<Command, String> {
    after_preload(read_command_split(posted).await)
}

#[cfg(not(piket_split))]
async fn read_command_loaded(posted: serde_json::Value) -> Result<Command, String> {
    crate::json::stored_from_value::<Command>(posted).map_err(|e| e.to_string())
}

const CONFIGURE_NOT_LOADED: &str = "This change could not be made: its code did not load (check the connection). Nothing was changed.";

/// Called only after [`preload_configure`] succeeded.
#[cfg(piket_split)]
async fn configure_loaded(driver: Driver<IdbStore>, command: Command, now: DateTime<Utc>) -> (Driver<IdbStore>, Reply) {
    after_preload(configure_split(driver, command, now).await)
}

#[cfg(not(piket_split))]
async fn configure_loaded(driver: Driver<IdbStore>, command: Command, now: DateTime<Utc>) -> (Driver<IdbStore>, Reply) {
    execute(driver, command, now).await
}

#[cfg(not(piket_split))]
pub(crate) async fn preload_configure() -> Result<(), ()> {
    Ok(())
}

/// What the clock tab does beyond the first screen's needs.
pub(crate) enum ClockWork {
    Tick,
    Deliver,
    Reply(ReplyMessage),
    /// Follow the reply topic's settings ([`Live::sync_reply`]), then tick: on taking the clock.
    FollowReplyThenTick {
        force: bool,
    },
    /// Follow the reply topic's settings, then deliver: after a command.
    FollowReplyThenDeliver,
}

impl Live {
    async fn work_here(&self, work: ClockWork) {
        match work {
            ClockWork::Tick => self.tick_here().await,
            ClockWork::Deliver => self.deliver_here().await,
            ClockWork::Reply(message) => self.receive_reply_here(message).await,
            ClockWork::FollowReplyThenTick { force } => {
                self.sync_reply(force).await;
                self.tick_here().await
            }
            ClockWork::FollowReplyThenDeliver => {
                self.sync_reply(false).await;
                self.deliver_here().await
            }
        }
    }
}

/// The clock's work (firing deadlines, archiving, delivering, taking in phones' replies) as a
/// split point: the first screen does not need its code. Nothing is lost when its module cannot
/// be fetched: deadlines and the outbox are stored, a reply is read again at the next catch-up,
/// and the next wake (every second while leading) asks for the module again.
#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(
    clock,
    wasm_split_path = ::leptos::wasm_split,
    preload(preload_clock),
    fallible,
    return_wrapper(let future = _; { future?.await; Ok(()) } -> Result<(), leptos::wasm_split::SplitLoaderError>)
)]
pub(crate) fn clock_split(
    live: Live,
    work: ClockWork,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>, leptos::wasm_split::SplitLoaderError> {
    Ok(Box::pin(async move { live.work_here(work).await }))
}

#[cfg(piket_split)]
async fn clock_work(live: Live, work: ClockWork) {
    let loaded = clock_split(live.clone(), work).await;
    let missing = loaded.is_err();
    if let Err(e) = loaded {
        web_sys::console::warn_1(&format!("The clock's code did not load; the next wake-up tries again: {e}").into());
    }
    // The header says so while it lasts.
    if live.0.clock_code_missing.replace(missing) != missing {
        live.publish_status();
    }
}

#[cfg(not(piket_split))]
async fn clock_work(live: Live, work: ClockWork) {
    // Boxed, as the split call is: the tick's catch-up takes in replies through here.
    Box::pin(live.work_here(work)).await
}

#[cfg(not(piket_split))]
pub(crate) async fn preload_clock() -> Result<(), ()> {
    Ok(())
}

/// An incident action ([`super::command::dispatch`]) in the clock's module. Same pattern as
/// [`team_round_loaded`]: called only after [`preload_clock`] succeeded, so the driver is never
/// lost to a failed fetch.
#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(
    clock,
    wasm_split_path = ::leptos::wasm_split,
    fallible,
    return_wrapper(let future = _; { Ok(future?.await) } -> Result<(Driver<IdbStore>, Reply), leptos::wasm_split::SplitLoaderError>)
)]
#[allow(clippy::type_complexity)]
fn dispatch_split(
    driver: Driver<IdbStore>,
    input: Input,
    now: DateTime<Utc>,
) -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = (Driver<IdbStore>, Reply)>>>, leptos::wasm_split::SplitLoaderError> {
    Ok(Box::pin(super::command::dispatch(driver, input, now)))
}

#[cfg(piket_split)]
async fn dispatch_loaded(driver: Driver<IdbStore>, input: Input, now: DateTime<Utc>) -> (Driver<IdbStore>, Reply) {
    after_preload(dispatch_split(driver, input, now).await)
}

#[cfg(not(piket_split))]
async fn dispatch_loaded(driver: Driver<IdbStore>, input: Input, now: DateTime<Utc>) -> (Driver<IdbStore>, Reply) {
    super::command::dispatch(driver, input, now).await
}

const TAB_NOT_JOINED: &str =
    "Piket could not start its clock in this tab: its code did not load (check the connection). Nothing was changed; it tries again by itself.";

/// The tab joins ([`Live::join_here`]) from the split point `tab`: the first screen does not
/// need that code, so it is fetched once the first screen has its data. Until it is in, the
/// header says the clock's code could not be loaded (nothing is paged meanwhile; every deadline
/// is stored), and it is asked for again every few seconds.
#[cfg(piket_split)]
async fn join(live: Live) {
    loop {
        match join_split(live.clone()).await {
            Ok(()) => break,
            Err(e) => {
                web_sys::console::warn_1(&format!("This tab's code did not load; it tries again in a few seconds: {e}").into());
                if !live.0.clock_code_missing.replace(true) {
                    live.publish_status();
                }
                gloo_timers::future::TimeoutFuture::new(JOIN_RETRY_MS).await;
            }
        }
    }
    // The note goes; the clock's own work says so again if its module is missing too.
    if live.0.clock_code_missing.replace(false) {
        live.publish_status();
    }
}

#[cfg(piket_split)]
#[leptos::wasm_split::wasm_split(tab, wasm_split_path = ::leptos::wasm_split, fallible)]
fn join_split(live: Live) -> Result<(), leptos::wasm_split::SplitLoaderError> {
    live.join_here();
    Ok(())
}

#[cfg(not(piket_split))]
async fn join(live: Live) {
    live.join_here()
}

const CLOCK_NOT_LOADED: &str = "This action could not be taken: the clock's code did not load (check the connection). Nothing was changed.";

type TeamRoundOutput = (Driver<IdbStore>, Result<super::team_sync::Round, crate::sync::SyncError>);

/// The result of a split point called after its module's preload succeeded: a loaded module stays
/// loaded, so the load inside cannot fail.
#[cfg(piket_split)]
fn after_preload<T>(called: Result<T, leptos::wasm_split::SplitLoaderError>) -> T {
    called.unwrap_or_else(|e| unreachable!("a split module failed to load after its preload succeeded: {e}"))
}

/// The team's database, as Settings → Team sync names it.
fn team_remote(settings: &super::team_sync::SyncSettings) -> crate::sync::HttpDb<crate::adapters::couch::Fetch> {
    crate::sync::HttpDb::new(crate::adapters::couch::Fetch::new(settings), &settings.database_url())
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
