//! Failed deliveries in words, for the "Failed deliveries" list (Settings → Channels): who or what
//! a page or post was for, which way it went, how many attempts it got and why it stopped.
//!
//! Pure (no clock, no browser), so the wording is a native test. The reason comes from the route's
//! last note, which [`super::outbox::record`] writes as `"<last outcome>; gave up: <reason>"`.
//! Notes written before the reason had words (its `Debug` form, `TimeLimit { attempts: 10, … }`)
//! are still in people's databases and backups: they are read back into the same words.

use chrono::TimeDelta;

use crate::delivery::{AttemptOutcome, GiveUpReason};
use crate::engine::escalation::Delivery;
use crate::engine::world::World;
use crate::storage::{OutboxRow, Route, RouteState, RouteStatus};

/// One failed row, after its incident's title: "page to Alice — ntfy topic: 1 attempt, refused
/// with HTTP 400 (…)", or "post to channel #ops — 3 attempts, no success in 3 attempts …".
/// Each route that failed is listed; when none failed but none reached anyone (all skipped), the
/// skipped routes are.
pub fn failed_row_text(row: &OutboxRow, world: &World) -> String {
    let failed: Vec<&RouteState> = row.routes.iter().filter(|r| r.status == RouteStatus::Failed).collect();
    let shown = if failed.is_empty() { row.routes.iter().filter(|r| r.status == RouteStatus::Skipped).collect() } else { failed };
    match &row.delivery {
        Delivery::Page { person, .. } => {
            let name = world.person(person).map_or_else(|| format!("a removed person ({person})"), |p| p.name.clone());
            let routes: Vec<String> = shown.iter().map(|r| format!("{}: {}", route_words(&r.route, world), route_outcome(r))).collect();
            if routes.is_empty() {
                format!("page to {name}")
            } else {
                format!("page to {name} — {}", routes.join("; "))
            }
        }
        Delivery::Post { channel } => {
            let target = channel_words(channel, world);
            let routes: Vec<String> = shown.iter().map(|r| route_outcome(r)).collect();
            if routes.is_empty() {
                format!("post to {target}")
            } else {
                format!("post to {target} — {}", routes.join("; "))
            }
        }
    }
}

/// The way a route goes out: "notification", "ntfy topic", "webhook", "channel #ops".
pub fn route_words(route: &Route, world: &World) -> String {
    match route {
        Route::Notification => "notification".into(),
        Route::Ntfy { .. } => "ntfy topic".into(),
        Route::Webhook { .. } => "webhook".into(),
        Route::Channel { id } => channel_words(id, world),
    }
}

fn channel_words(id: &str, world: &World) -> String {
    match world.channel(id) {
        Some(c) if !c.name.trim().is_empty() => format!("channel #{}", c.name.trim()),
        Some(_) => format!("channel #{id}"),
        None => format!("channel #{id} (removed)"),
    }
}

/// "1 attempt, refused with HTTP 400 (…)"; "not sent: <why>" for a skipped route.
fn route_outcome(r: &RouteState) -> String {
    let why = reason_in_words(&r.last);
    if r.status == RouteStatus::Skipped {
        return format!("not sent: {why}");
    }
    let word = if r.attempts == 1 { "attempt" } else { "attempts" };
    format!("{} {word}, {why}", r.attempts)
}

/// Why a route stopped, from its last note: the reason after "gave up: " (a [`GiveUpReason`] in
/// words, read back into words when it was stored in its `Debug` form), or the whole note (a
/// channel that is gone, notifications not allowed).
pub fn reason_in_words(note: &str) -> String {
    let note = note.trim();
    if note.is_empty() {
        return "no reason was recorded".into();
    }
    let Some((last, reason)) = note.split_once("; gave up: ") else { return note.to_string() };
    if reason.starts_with("Refused {") || reason.starts_with("TimeLimit {") {
        return legacy_reason(last, reason).map_or_else(|| "gave up".to_string(), |r| r.to_string());
    }
    reason.to_string()
}

/// A reason stored in its `Debug` form (`Refused { code: 400 }`, `TimeLimit { attempts: 10,
/// limit: TimeDelta { secs: 600, nanos: 0 }, last: … }`); `last` is the note's first part, the
/// last outcome in words.
fn legacy_reason(last: &str, debug: &str) -> Option<GiveUpReason> {
    if debug.starts_with("Refused {") {
        let code = number_after(debug, "code: ")?;
        return Some(GiveUpReason::Refused { code: u16::try_from(code).ok()? });
    }
    let attempts = u32::try_from(number_after(debug, "attempts: ")?).ok()?;
    let limit = TimeDelta::try_seconds(number_after(debug, "secs: ")?)?;
    let last = if let Some(code) = last.strip_prefix("HTTP ").and_then(|c| c.trim().parse::<u16>().ok()) {
        AttemptOutcome::status(code)
    } else if let Some(why) = last.strip_prefix("network error") {
        AttemptOutcome::NetworkError(why.trim_start_matches(':').trim().to_string())
    } else {
        return None;
    };
    Some(GiveUpReason::TimeLimit { attempts, limit, last })
}

/// The whole number right after `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<i64> {
    let rest = &text[text.find(key)? + key.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::person::{Contact, Person};
    use crate::engine::world::Channel;
    use crate::runtime::outbox::{record, routes_for, DeliverySettings, Outcome};
    use crate::storage::DeliveryState;
    use chrono::{DateTime, TimeZone, Utc};

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap() + TimeDelta::milliseconds(ms)
    }

    fn world() -> World {
        World {
            people: vec![Person {
                id: "alice".into(),
                name: "Alice Jansen".into(),
                time_zone: "Europe/Amsterdam".into(),
                contact: Contact::default(),
                notes: String::new(),
            }],
            channels: vec![Channel {
                id: "ops".into(),
                name: "ops-room".into(),
                phase: None,
                address: "https://hooks.example/ops".into(),
                kind: "generic".into(),
                topic: String::new(),
                template: String::new(),
            }],
            ..World::default()
        }
    }

    fn row(delivery: Delivery) -> OutboxRow {
        OutboxRow {
            key: "inc/L1".into(),
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

    fn page(person: &str, contact: Contact) -> OutboxRow {
        row(Delivery::Page { person: person.into(), contact })
    }

    /// Fails route `route` with network errors until the retry limit, as the clock would.
    fn fail_until_the_limit(row: &mut OutboxRow, route: usize, settings: &DeliverySettings) -> u32 {
        let mut now = t(0);
        let mut tries = 0;
        while row.routes[route].status == RouteStatus::Pending {
            record(row, route, &Outcome::Http(AttemptOutcome::NetworkError("Failed to fetch".into())), 0, settings, now);
            tries += 1;
            now = row.routes[route].next_attempt_at.unwrap_or(now);
        }
        tries
    }

    fn assert_words(text: &str) {
        for debug in ["{", "}", "TimeDelta", "TimeLimit", "Refused {", "attempt(s)", "secs"] {
            assert!(!text.contains(debug), "{text:?} holds {debug:?}");
        }
    }

    #[test]
    fn a_refused_ntfy_page_names_the_person_the_route_and_the_reason() {
        let settings = DeliverySettings::default();
        let mut r = page("alice", Contact { ntfy_topic: "piket-alice".into(), ..Contact::default() });
        record(&mut r, 0, &Outcome::Shown, 1, &settings, t(0));
        record(&mut r, 1, &Outcome::Http(AttemptOutcome::status(400)), 10, &settings, t(0));
        assert_eq!(r.state, DeliveryState::Failed);
        let text = failed_row_text(&r, &world());
        assert_eq!(text, "page to Alice Jansen — ntfy topic: 1 attempt, refused with HTTP 400 (not retried: check the URL and the settings)");
        assert_words(&text);
    }

    #[test]
    fn a_webhook_page_that_ran_out_of_time_counts_its_attempts() {
        let settings = DeliverySettings { retry_limit_secs: 10, ..DeliverySettings::default() };
        let mut r = page("alice", Contact { webhook_url: "https://hooks.example/alice".into(), ..Contact::default() });
        record(&mut r, 0, &Outcome::Shown, 1, &settings, t(0));
        let tries = fail_until_the_limit(&mut r, 1, &settings);
        assert_eq!(r.state, DeliveryState::Failed);
        let text = failed_row_text(&r, &world());
        assert_eq!(
            text,
            format!(
                "page to Alice Jansen — webhook: {tries} attempts, no success in {tries} attempts within the 10 s retry limit (last: network error: Failed to fetch)"
            )
        );
        assert_words(&text);
    }

    #[test]
    fn a_post_names_its_channel() {
        let settings = DeliverySettings::default();
        let mut r = row(Delivery::Post { channel: "ops".into() });
        record(&mut r, 0, &Outcome::Http(AttemptOutcome::status(404)), 10, &settings, t(0));
        let text = failed_row_text(&r, &world());
        assert_eq!(text, "post to channel #ops-room — 1 attempt, refused with HTTP 404 (not retried: check the URL and the settings)");

        let mut gone = row(Delivery::Post { channel: "old".into() });
        record(&mut gone, 0, &Outcome::Impossible("channel “old” no longer exists".into()), 0, &settings, t(0));
        assert_eq!(failed_row_text(&gone, &world()), "post to channel #old (removed) — 1 attempt, channel “old” no longer exists");
    }

    #[test]
    fn every_failed_route_is_listed_and_a_page_reaching_no_one_says_why() {
        let settings = DeliverySettings { retry_limit_secs: 10, ..DeliverySettings::default() };
        let mut r = page("alice", Contact { ntfy_topic: "piket-alice".into(), webhook_url: "https://hooks.example/alice".into(), email: String::new() });
        record(&mut r, 0, &Outcome::Shown, 1, &settings, t(0));
        record(&mut r, 1, &Outcome::Http(AttemptOutcome::status(403)), 10, &settings, t(0));
        let tries = fail_until_the_limit(&mut r, 2, &settings);
        let text = failed_row_text(&r, &world());
        assert!(text.starts_with("page to Alice Jansen — ntfy topic: 1 attempt, refused with HTTP 403"), "{text}");
        assert!(text.contains(&format!("; webhook: {tries} attempts, no success in {tries} attempts")), "{text}");
        assert!(!text.contains("notification"), "the notification was shown: {text}");

        let mut blocked = page("bob", Contact::default());
        record(&mut blocked, 0, &Outcome::NotAllowed("notifications are blocked in this browser".into()), 0, &settings, t(0));
        assert_eq!(blocked.state, DeliveryState::Failed);
        assert_eq!(failed_row_text(&blocked, &world()), "page to a removed person (bob) — notification: not sent: notifications are blocked in this browser");
    }

    #[test]
    fn reasons_stored_in_their_debug_form_read_as_words() {
        // What outbox::record wrote while the reason was formatted with `{:?}`.
        let refused = GiveUpReason::Refused { code: 400 };
        let old = format!("{}; gave up: {refused:?}", AttemptOutcome::status(400));
        assert_eq!(reason_in_words(&old), refused.to_string());

        let last = AttemptOutcome::NetworkError("Failed to fetch".into());
        let limit = GiveUpReason::TimeLimit { attempts: 10, limit: TimeDelta::minutes(10), last: last.clone() };
        let old = format!("{last}; gave up: {limit:?}");
        assert!(old.contains("TimeDelta"), "the old form: {old}");
        assert_eq!(reason_in_words(&old), "no success in 10 attempts within the 10 min retry limit (last: network error: Failed to fetch)");

        let limit = GiveUpReason::TimeLimit { attempts: 3, limit: TimeDelta::seconds(600), last: AttemptOutcome::status(502) };
        assert_eq!(reason_in_words(&format!("HTTP 502; gave up: {limit:?}")), limit.to_string());

        // The words form, and notes that are no give-up at all, pass through.
        assert_eq!(reason_in_words(&format!("HTTP 400; gave up: {refused}")), refused.to_string());
        assert_eq!(reason_in_words("channel “x” no longer exists"), "channel “x” no longer exists");
        assert_eq!(reason_in_words("  "), "no reason was recorded");
        assert_eq!(reason_in_words("HTTP 400; gave up: Refused { code: nonsense }"), "gave up");
    }
}
