//! The outbox: which routes a page or post takes, what each route sends, and what an attempt's
//! result means for the next one (retry with backoff, give up, delivered).
//!
//! Pure: the adapters perform the sends and report back [`AttemptOutcome`]s; the time is a
//! parameter. A page to a person goes out as a Web Notification on the clock's device and to the
//! person's ntfy topic and personal webhook when they have them; a post goes to its channel.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::delivery::{self, AttemptOutcome, ChannelConfig, ChannelKind, Decision, Event, Message, RequestSpec};
use crate::engine::escalation::Delivery;
use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::{EntryKind, Incident};
use crate::engine::world::{Channel, World};
use crate::reply::{AckLink, Minter, PageToAck};
use crate::storage::{Attempt, DeliveryState, OutboxRow, Route, RouteState, RouteStatus};

/// The ntfy server used for people's topics when Settings names none.
pub const DEFAULT_NTFY_SERVER: &str = "https://ntfy.sh";

/// Delivery settings (from Settings).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliverySettings {
    pub ntfy_server: String,
    /// How long to keep retrying a failing route, in seconds.
    pub retry_limit_secs: i64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings { ntfy_server: DEFAULT_NTFY_SERVER.into(), retry_limit_secs: 600 }
    }
}

/// The routes a delivery takes.
pub fn routes_for(delivery: &Delivery, now: DateTime<Utc>) -> Vec<RouteState> {
    let route = |route| RouteState {
        route,
        status: RouteStatus::Pending,
        attempts: 0,
        first_attempt_at: None,
        next_attempt_at: Some(now),
        last: String::new(),
        claim: None,
    };
    match delivery {
        Delivery::Page { contact, .. } => {
            let mut routes = vec![route(Route::Notification)];
            if !contact.ntfy_topic.trim().is_empty() {
                routes.push(route(Route::Ntfy { topic: contact.ntfy_topic.trim().to_string() }));
            }
            if !contact.webhook_url.trim().is_empty() {
                routes.push(route(Route::Webhook { url: contact.webhook_url.trim().to_string() }));
            }
            routes
        }
        Delivery::Post { channel } => vec![route(Route::Channel { id: channel.clone() })],
    }
}

/// How a channel record is delivered to. `Err` says what is wrong with its settings.
pub fn channel_config(channel: &Channel) -> Result<ChannelConfig, String> {
    let kind: ChannelKind = crate::json::stored_from_value(serde_json::Value::String(channel.kind.clone()))
        .map_err(|_| format!("kind: “{}” is not one of ntfy, slack, teams, discord, generic", channel.kind))?;
    let config = ChannelConfig {
        kind,
        url: channel.address.clone(),
        topic: (!channel.topic.is_empty()).then(|| channel.topic.clone()),
        template: (!channel.template.is_empty()).then(|| channel.template.clone()),
        no_cors: false,
    };
    delivery::validate_config(&config).map_err(|e| e.to_string())?;
    Ok(config)
}

/// What one route of one row must do now.
#[derive(Clone, Debug, PartialEq)]
pub enum Send {
    /// Show a notification; `url` opens the incident, `person` acknowledges from its action.
    /// `ack_url` is the page's one-tap acknowledgement link (for a tap on another device).
    Notification {
        title: String,
        body: String,
        tag: String,
        url: String,
        ack_url: Option<String>,
        incident: IncidentId,
        person: Option<PersonId>,
    },
    Http(RequestSpec),
    /// The route cannot be sent (its channel is gone or misconfigured): give up with this reason.
    Impossible(String),
}

/// A route that is due, and what to send.
#[derive(Clone, Debug, PartialEq)]
pub struct DueSend {
    pub key: String,
    pub route: usize,
    pub send: Send,
}

/// The link that opens an incident in Piket (hash form: works on any static host).
pub fn incident_url(origin: &str, incident: &str) -> String {
    crate::route::Route::Incident(incident.to_string()).url(origin)
}

/// Every route due at `now`, with what to send. With `acks` (the reply channel is on), every page
/// to a person carries a signed one-tap acknowledgement.
pub fn due<'a>(
    rows: &[&OutboxRow],
    incidents: &dyn Fn(&str) -> Option<&'a Incident>,
    world: &World,
    settings: &DeliverySettings,
    acks: Option<&Minter>,
    origin: &str,
    now: DateTime<Utc>,
) -> Vec<DueSend> {
    let mut out = Vec::new();
    for row in rows {
        if row.state != DeliveryState::Pending {
            continue;
        }
        let Some(incident) = incidents(&row.incident) else { continue };
        for (i, r) in row.routes.iter().enumerate() {
            if r.status != RouteStatus::Pending || r.next_attempt_at.is_some_and(|t| t > now) {
                continue;
            }
            out.push(DueSend { key: row.key.clone(), route: i, send: plan(row, &r.route, incident, world, settings, acks, origin) });
        }
    }
    out
}

/// Posts to the channels of an incident's phases, for the transitions in `effects`:
/// critical (a SEV1/SEV2 opens), comms (it opens with customer impact), war room (someone
/// acknowledged), leadership (escalated to level 3 or beyond), retro (resolved). Each is queued
/// once per incident, phase, event and channel.
pub fn phase_posts(
    effects: &[crate::engine::escalation::Effect],
    engine: &crate::engine::escalation::Engine,
    world: &World,
    now: DateTime<Utc>,
) -> Vec<OutboxRow> {
    use crate::engine::incident::Severity;
    use crate::engine::world::Phase;
    let mut rows = Vec::new();
    for effect in effects {
        let Some(incident) = engine.incident(&effect.incident) else { continue };
        let e = &effect.entry;
        let mut phases: Vec<(Phase, Event, String)> = Vec::new();
        match e.kind {
            EntryKind::Opened => {
                if incident.details.severity <= Severity::Sev2 {
                    phases.push((Phase::Critical, Event::Paged, "opened".into()));
                }
                if incident.details.customer_impact {
                    phases.push((Phase::Comms, Event::Paged, "opened".into()));
                }
            }
            EntryKind::Acknowledged => phases.push((Phase::WarRoom, Event::Acknowledged, format!("ack{}", incident.timeline.len()))),
            EntryKind::Escalated if e.level.is_some_and(|l| l >= 3) => {
                phases.push((Phase::Leadership, Event::Escalated, format!("L{}loop{}", e.level.unwrap_or(0), e.pass.unwrap_or(0))))
            }
            EntryKind::Resolved => phases.push((Phase::Retro, Event::Resolved, "resolved".into())),
            _ => {}
        }
        for (phase, event, what) in phases {
            for channel in world.channels.iter().filter(|c| c.phase == Some(phase)) {
                let delivery = Delivery::Post { channel: channel.id.clone() };
                rows.push(OutboxRow {
                    key: format!("{}/phase/{what}/{}", incident.id, channel.id),
                    incident: incident.id.clone(),
                    routes: routes_for(&delivery, now),
                    delivery,
                    at: e.at,
                    queued_at: now,
                    state: DeliveryState::Pending,
                    attempts: Vec::new(),
                    next_attempt_at: Some(now),
                    event: Some(event),
                });
            }
        }
    }
    rows
}

/// The one-tap acknowledgements a row's message carries: a page to a person carries theirs; a
/// level's post to a channel carries one for each person paged at that level and loop. Nothing
/// once the incident is resolved or acknowledged.
fn acks_for(row: &OutboxRow, incident: &Incident, world: &World, minter: &Minter, origin: &str) -> Vec<AckLink> {
    if !incident.is_open() || incident.acknowledged.is_some() || row.event.is_some() {
        return Vec::new();
    }
    let name = |person: &str| world.person(person).map_or(person.to_string(), |p| p.name.clone());
    let page = |page_key: &str, person: &str, name: &str| {
        let page = PageToAck {
            incident: &incident.id,
            page_key,
            person,
            person_name: name,
            title: &incident.details.title,
            severity: incident.details.severity,
            paged_at: row.at,
        };
        minter.link(&page, origin)
    };
    match &row.delivery {
        Delivery::Page { person, .. } => vec![page(&row.key, person, &name(person))],
        Delivery::Post { .. } => {
            let Some(post) = incident.timeline.iter().rev().find(|e| e.key.as_deref() == Some(row.key.as_str()) && e.level.is_some()) else {
                return Vec::new();
            };
            let mut people: Vec<&str> = Vec::new();
            let mut links = Vec::new();
            for e in &incident.timeline {
                let (Some(person), Some(key)) = (e.person.as_deref(), e.key.as_deref()) else { continue };
                if e.kind == EntryKind::Paged && e.level == post.level && e.pass == post.pass && !people.contains(&person) {
                    people.push(person);
                    links.push(page(key, person, &name(person)));
                }
            }
            links
        }
    }
}

fn message_for(row: &OutboxRow, incident: &Incident, world: &World, acks: Option<&Minter>, origin: &str) -> Message {
    let mut m = message_without_acks(row, incident, world, origin);
    if let Some(minter) = acks {
        m.acks = acks_for(row, incident, world, minter, origin);
    }
    m
}

fn message_without_acks(row: &OutboxRow, incident: &Incident, world: &World, origin: &str) -> Message {
    let url = incident_url(origin, &incident.id);
    let entry = incident.timeline.iter().rev().find(|e| e.key.as_deref() == Some(row.key.as_str()));
    if let Some(event) = row.event {
        return Message::about(incident, event, url, row.at);
    }
    let event = match entry.map(|e| e.kind) {
        Some(EntryKind::Acknowledged) => Event::Acknowledged,
        Some(EntryKind::Resolved) => Event::Resolved,
        Some(EntryKind::Escalated) => Event::Escalated,
        _ => Event::Paged,
    };
    let mut m = Message::about(incident, event, url, row.at);
    if let Some(level) = entry.and_then(|e| e.level) {
        m = m.level(level);
    }
    if let Delivery::Page { person, .. } = &row.delivery {
        m = m.person(world.person(person).map_or_else(|| person.to_string(), |p| p.name.clone()));
    }
    m
}

fn plan(row: &OutboxRow, route: &Route, incident: &Incident, world: &World, settings: &DeliverySettings, acks: Option<&Minter>, origin: &str) -> Send {
    let message = message_for(row, incident, world, acks, origin);
    match route {
        Route::Notification => Send::Notification {
            title: format!("[{}] {}", delivery::severity_label(incident.details.severity), incident.details.title),
            body: delivery::default_text(&message),
            tag: row.key.clone(),
            url: message.url.clone(),
            ack_url: message.acks.first().map(|a| a.link.clone()),
            incident: incident.id.clone(),
            person: match &row.delivery {
                Delivery::Page { person, .. } => Some(person.clone()),
                Delivery::Post { .. } => None,
            },
        },
        Route::Ntfy { topic } => {
            let config =
                ChannelConfig { kind: ChannelKind::Ntfy, url: settings.ntfy_server.clone(), topic: Some(topic.clone()), template: None, no_cors: false };
            Send::Http(delivery::request(&config, &message))
        }
        Route::Webhook { url } => Send::Http(delivery::request(&ChannelConfig::new(ChannelKind::Generic, url.clone()), &message)),
        Route::Channel { id } => match world.channel(id).map(channel_config) {
            Some(Ok(config)) => Send::Http(delivery::request(&config, &message)),
            Some(Err(e)) => Send::Impossible(format!("channel “{id}” is misconfigured: {e}")),
            None => Send::Impossible(format!("channel “{id}” no longer exists")),
        },
    }
}

/// What an attempt came back with, as the adapter saw it.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Http(AttemptOutcome),
    /// A notification was shown.
    Shown,
    /// Notifications are not allowed in this browser.
    NotAllowed(String),
    Impossible(String),
    /// Another device running the team clock has sent it already (its claim names the device).
    Elsewhere(String),
}

fn route_label(route: &Route) -> String {
    match route {
        Route::Notification => "notification".into(),
        Route::Ntfy { .. } => "ntfy".into(),
        Route::Webhook { .. } => "webhook".into(),
        Route::Channel { id } => format!("channel:{id}"),
    }
}

/// Applies one attempt's outcome to a row: the route's status, the delivery log, and the row's
/// summary state and next attempt time.
pub fn record(row: &mut OutboxRow, route: usize, outcome: &Outcome, latency_ms: u32, settings: &DeliverySettings, now: DateTime<Utc>) {
    let Some(r) = row.routes.get_mut(route) else { return };
    r.attempts += 1;
    // The attempt is over: the route is no longer in flight.
    r.claim = None;
    let first = *r.first_attempt_at.get_or_insert(now);
    let (status, note) = match outcome {
        Outcome::Shown => (RouteStatus::Delivered, "notification shown".to_string()),
        Outcome::NotAllowed(why) => (RouteStatus::Skipped, why.clone()),
        Outcome::Impossible(why) => (RouteStatus::Failed, why.clone()),
        Outcome::Elsewhere(device) => (RouteStatus::Skipped, format!("already sent by the team clock on {device}")),
        Outcome::Http(http) => {
            // Bounded: a restored setting of i64::MAX seconds means "a long time", not a panic.
            let limit = chrono::TimeDelta::try_seconds(settings.retry_limit_secs.clamp(0, 30 * 86_400)).unwrap_or(chrono::TimeDelta::days(1));
            let policy = delivery::RetryPolicy::with_time_limit(limit);
            match policy.next_attempt(r.attempts, http, first, now) {
                Decision::Delivered { verified: true } => (RouteStatus::Delivered, http.to_string()),
                Decision::Delivered { verified: false } => (RouteStatus::Unverified, http.to_string()),
                Decision::RetryAt(t) => {
                    r.next_attempt_at = Some(t);
                    (RouteStatus::Pending, format!("{http}; retrying"))
                }
                Decision::GiveUp(reason) => (RouteStatus::Failed, format!("{http}; gave up: {reason}")),
            }
        }
    };
    if status != RouteStatus::Pending {
        r.next_attempt_at = None;
    }
    r.status = status;
    r.last = note.clone();
    let http_status = match outcome {
        Outcome::Http(AttemptOutcome::Status { code, .. }) => Some(*code),
        Outcome::Http(AttemptOutcome::Opaque) => Some(0),
        _ => None,
    };
    let label = route_label(&r.route);
    row.attempts.push(Attempt { at: now, route: label, status: http_status, latency_ms, note });
    summarize(row);
}

/// The row's state from its routes: pending while any route is; failed if a route gave up or
/// nothing reached anyone; delivered when every attempted route was verified.
pub fn summarize(row: &mut OutboxRow) {
    let statuses: Vec<RouteStatus> = row.routes.iter().map(|r| r.status).collect();
    row.next_attempt_at = row.routes.iter().filter(|r| r.status == RouteStatus::Pending).filter_map(|r| r.next_attempt_at).min();
    row.state = if statuses.contains(&RouteStatus::Pending) {
        DeliveryState::Pending
    } else if statuses.contains(&RouteStatus::Failed) || statuses.iter().all(|s| *s == RouteStatus::Skipped) {
        DeliveryState::Failed
    } else if statuses.contains(&RouteStatus::Unverified) {
        DeliveryState::Unverified
    } else {
        DeliveryState::Delivered
    };
}

/// Marks a row folded: never sent, because a later page of the same catch-up reaches the same
/// recipient.
pub fn fold(row: &mut OutboxRow) {
    for r in &mut row.routes {
        r.status = RouteStatus::Skipped;
        r.next_attempt_at = None;
        r.last = "folded into a later page of the same catch-up".into();
    }
    row.state = DeliveryState::Folded;
    row.next_attempt_at = None;
}

/// Puts a failed row's failed routes back in the queue (the "retry" button).
pub fn retry(row: &mut OutboxRow, now: DateTime<Utc>) {
    for r in &mut row.routes {
        if matches!(r.status, RouteStatus::Failed | RouteStatus::Skipped) {
            r.claim = None;
            r.status = RouteStatus::Pending;
            r.attempts = 0;
            r.first_attempt_at = None;
            r.next_attempt_at = Some(now);
        }
    }
    summarize(row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::person::Contact;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap() + chrono::Duration::milliseconds(s)
    }

    fn page_row(contact: Contact) -> OutboxRow {
        let delivery = Delivery::Page { person: "alice".into(), contact };
        OutboxRow {
            key: "inc/L1/loop0/person:alice/alice".into(),
            incident: "inc".into(),
            routes: routes_for(&delivery, t(0)),
            delivery,
            at: t(0),
            queued_at: t(0),
            state: DeliveryState::Pending,
            attempts: vec![],
            next_attempt_at: Some(t(0)),
            event: None,
        }
    }

    fn via(row: &OutboxRow) -> Vec<String> {
        row.routes.iter().map(|r| route_label(&r.route)).collect()
    }

    #[test]
    fn a_page_goes_everywhere_the_person_can_be_reached() {
        let cases = [
            (Contact::default(), vec!["notification"]),
            (Contact { ntfy_topic: " piket-alice ".into(), ..Contact::default() }, vec!["notification", "ntfy"]),
            (Contact { ntfy_topic: "t".into(), webhook_url: "https://h.example/x".into(), email: String::new() }, vec!["notification", "ntfy", "webhook"]),
        ];
        for (contact, want) in cases {
            assert_eq!(via(&page_row(contact)), want);
        }
    }

    #[test]
    fn retries_then_delivers_and_logs_every_attempt() {
        let settings = DeliverySettings::default();
        let mut row = page_row(Contact { ntfy_topic: "t".into(), ..Contact::default() });
        record(&mut row, 0, &Outcome::Shown, 5, &settings, t(0));
        record(&mut row, 1, &Outcome::Http(AttemptOutcome::status(500)), 40, &settings, t(0));
        assert_eq!(row.state, DeliveryState::Pending);
        assert_eq!(row.next_attempt_at, Some(t(500)), "first backoff is 0.5 s");
        record(&mut row, 1, &Outcome::Http(AttemptOutcome::status(200)), 30, &settings, t(600));
        assert_eq!(row.state, DeliveryState::Delivered);
        assert_eq!(row.next_attempt_at, None);
        let log: Vec<_> = row.attempts.iter().map(|a| (a.route.as_str(), a.status)).collect();
        assert_eq!(log, [("notification", None), ("ntfy", Some(500)), ("ntfy", Some(200))]);
    }

    #[test]
    fn a_4xx_is_final_and_retry_requeues_it() {
        let settings = DeliverySettings::default();
        let mut row = page_row(Contact { webhook_url: "https://h.example/x".into(), ..Contact::default() });
        record(&mut row, 0, &Outcome::Shown, 1, &settings, t(0));
        record(&mut row, 1, &Outcome::Http(AttemptOutcome::status(400)), 10, &settings, t(0));
        assert_eq!(row.state, DeliveryState::Failed);
        assert_eq!(row.next_attempt_at, None, "no retry storm");
        retry(&mut row, t(9000));
        assert_eq!(row.state, DeliveryState::Pending);
        assert_eq!(row.routes[0].status, RouteStatus::Delivered, "what worked is not sent again");
        assert_eq!(row.routes[1].next_attempt_at, Some(t(9000)));
    }

    #[test]
    fn nobody_reached_is_a_failure_and_opaque_is_unverified() {
        let settings = DeliverySettings::default();
        let mut row = page_row(Contact::default());
        record(&mut row, 0, &Outcome::NotAllowed("notifications are blocked".into()), 0, &settings, t(0));
        assert_eq!(row.state, DeliveryState::Failed);

        let mut row = page_row(Contact { ntfy_topic: "t".into(), ..Contact::default() });
        record(&mut row, 0, &Outcome::NotAllowed("blocked".into()), 0, &settings, t(0));
        record(&mut row, 1, &Outcome::Http(AttemptOutcome::Opaque), 3, &settings, t(0));
        assert_eq!(row.state, DeliveryState::Unverified);
    }

    #[test]
    fn network_errors_retry_until_the_time_limit() {
        let settings = DeliverySettings { retry_limit_secs: 10, ..DeliverySettings::default() };
        let mut row = page_row(Contact { ntfy_topic: "t".into(), ..Contact::default() });
        record(&mut row, 0, &Outcome::Shown, 0, &settings, t(0));
        let mut now = t(0);
        let mut tries = 0;
        while row.state == DeliveryState::Pending {
            record(&mut row, 1, &Outcome::Http(AttemptOutcome::NetworkError("offline".into())), 0, &settings, now);
            tries += 1;
            if let Some(next) = row.next_attempt_at {
                assert!(next > now);
                now = next;
            }
            assert!(tries < 50);
        }
        assert_eq!(row.state, DeliveryState::Failed);
        assert!(now - t(0) <= chrono::Duration::seconds(10), "gave up within the limit");
        assert!(tries > 3);
    }
}
