//! One definition of a time window across DST: the instants where a window opens or closes (as
//! `contains` says, minute by minute) are exactly the ones `next_change` and `next_handoff` give —
//! through spring-forward gaps, fall-back overlaps and Lord Howe's half-hour change, for schedule
//! restrictions and for a level's `only_during` / `except_during`.
#![cfg(not(target_arch = "wasm32"))]

use chrono::{DateTime, Duration, Utc};
use piket::engine::policy::EscalationPolicy;
use piket::engine::schedule::OnCallSchedule;
use piket::engine::time::{TimeWindow, Zone};
use proptest::prelude::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn window(days: &str, from: &str, to: &str) -> TimeWindow {
    serde_json::from_value(serde_json::json!({"days": days, "from": from, "to": to})).unwrap()
}

fn chicago() -> Zone {
    Zone("America/Chicago".parse().unwrap())
}

/// Every minute in `[start, start + span)` where `open` differs from the minute before.
fn sampled_changes(start: DateTime<Utc>, span: Duration, open: impl Fn(DateTime<Utc>) -> bool) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut before = open(start);
    let mut t = start + Duration::minutes(1);
    while t < start + span {
        let now = open(t);
        if now != before {
            out.push(t);
        }
        before = now;
        t += Duration::minutes(1);
    }
    out
}

/// The chain of `next(t)` from `start` up to `start + span`.
fn chained(start: DateTime<Utc>, span: Duration, next: impl Fn(DateTime<Utc>) -> Option<DateTime<Utc>>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = start;
    while let Some(n) = next(t) {
        if n >= start + span {
            break;
        }
        assert!(n > t, "next must move forward: {t} → {n}");
        out.push(n);
        t = n;
    }
    out
}

/// The window's next change, looking past days on which it never opens.
fn next_change(w: &TimeWindow, zone: Zone, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut cursor = t;
    for _ in 0..8 {
        if let Some(c) = w.next_change(zone, &[], cursor) {
            return Some(c);
        }
        cursor += Duration::days(1);
    }
    None
}

#[test]
fn chicago_spring_forward_closes_a_window_when_the_clock_jumps_past_its_end() {
    // 01:00–02:30 on 2020-03-08: 02:00 CST jumps to 03:00 CDT, so the window closes at 08:00Z.
    let w = window("daily", "01:00", "02:30");
    let start = utc("2020-03-08T06:30:00Z");
    assert!(w.contains(chicago(), &[], utc("2020-03-08T07:59:00Z")));
    assert!(!w.contains(chicago(), &[], utc("2020-03-08T08:00:00Z")));
    assert_eq!(w.next_change(chicago(), &[], utc("2020-03-08T07:30:00Z")), Some(utc("2020-03-08T08:00:00Z")));
    assert_eq!(
        chained(start, Duration::hours(3), |t| next_change(&w, chicago(), t)),
        sampled_changes(start, Duration::hours(3), |t| w.contains(chicago(), &[], t))
    );
}

#[test]
fn chicago_fall_back_reopens_an_overnight_window_in_the_repeated_hour() {
    // 22:00–01:30 on 2020-11-01: 01:00–01:59 happens twice. Open until 01:30 CDT (06:30Z),
    // closed, open again at 01:00 CST (07:00Z), closed at 01:30 CST (07:30Z).
    let w = window("daily", "22:00", "01:30");
    let start = utc("2020-11-01T05:00:00Z");
    let want = vec![utc("2020-11-01T06:30:00Z"), utc("2020-11-01T07:00:00Z"), utc("2020-11-01T07:30:00Z")];
    assert_eq!(chained(start, Duration::hours(4), |t| next_change(&w, chicago(), t)), want);
    assert_eq!(sampled_changes(start, Duration::hours(4), |t| w.contains(chicago(), &[], t)), want);

    // The same window as a schedule restriction: next_handoff agrees.
    let schedule = restricted_schedule("America/Chicago", &w);
    let handoffs = chained(start, Duration::hours(4), |t| schedule.next_handoff(t));
    assert_eq!(handoffs, want);
}

fn restricted_schedule(zone: &str, w: &TimeWindow) -> OnCallSchedule {
    serde_json::from_value(serde_json::json!({
        "id": "s", "time_zone": zone,
        "layers": [{"people": ["alice"], "start": "2019-01-01T00:00", "every": "weekly", "restrictions": [w]}],
    }))
    .unwrap()
}

fn policy(zone: &str, only: &[TimeWindow], except: &[TimeWindow]) -> EscalationPolicy {
    serde_json::from_value(serde_json::json!({
        "id": "p", "time_zone": zone,
        "levels": [{"targets": [{"person": "alice"}], "only_during": only, "except_during": except}],
    }))
    .unwrap()
}

const ZONES: [&str; 6] = ["America/Chicago", "Europe/Amsterdam", "Australia/Lord_Howe", "America/New_York", "Pacific/Chatham", "America/Santiago"];

/// DST changes of 2020 in the zones above (UTC), to start near.
const CHANGES: [&str; 12] = [
    "2020-03-08T08:00:00Z",
    "2020-11-01T07:00:00Z",
    "2020-03-29T01:00:00Z",
    "2020-10-25T01:00:00Z",
    "2020-04-04T15:00:00Z",
    "2020-10-03T15:30:00Z",
    "2020-03-08T07:00:00Z",
    "2020-11-01T06:00:00Z",
    "2020-04-04T14:00:00Z",
    "2020-09-26T14:00:00Z",
    "2020-04-05T03:00:00Z",
    "2020-09-06T04:00:00Z",
];

fn any_window() -> impl Strategy<Value = TimeWindow> {
    let days = prop::sample::select(vec!["daily", "weekdays", "weekends"]);
    // Quarter hours, plus odd minutes now and then.
    let time = prop_oneof![3 => (0u32..96).prop_map(|q| q * 15), 1 => 0u32..1440];
    (days, time.clone(), time).prop_map(|(d, a, b)| window(d, &format!("{:02}:{:02}", a / 60, a % 60), &format!("{:02}:{:02}", b / 60, b % 60)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn window_edges_are_exactly_where_contains_changes(w in any_window(), zone in 0usize..ZONES.len(), near in 0usize..CHANGES.len(), shift in -36i64..12) {
        let zone = Zone(ZONES[zone].parse().unwrap());
        let start = utc(CHANGES[near]) + Duration::hours(shift);
        let span = Duration::hours(48);
        prop_assert_eq!(
            chained(start, span, |t| next_change(&w, zone, t)),
            sampled_changes(start, span, |t| w.contains(zone, &[], t))
        );
    }

    #[test]
    fn handoffs_of_a_restricted_schedule_are_exactly_where_on_call_changes(w in any_window(), zone in 0usize..ZONES.len(), near in 0usize..CHANGES.len(), shift in -36i64..12) {
        let schedule = restricted_schedule(ZONES[zone], &w);
        let start = utc(CHANGES[near]) + Duration::hours(shift);
        let span = Duration::hours(48);
        prop_assert_eq!(
            chained(start, span, |t| schedule.next_handoff(t)),
            sampled_changes(start, span, |t| !schedule.on_call_at(t).is_empty())
        );
    }

    #[test]
    fn a_levels_only_during_and_except_during_change_only_at_window_edges(only in any_window(), except in any_window(), zone in 0usize..ZONES.len(), near in 0usize..CHANGES.len(), shift in -36i64..12) {
        let name = ZONES[zone];
        let zone = Zone(name.parse().unwrap());
        let p = policy(name, std::slice::from_ref(&only), std::slice::from_ref(&except));
        let start = utc(CHANGES[near]) + Duration::hours(shift);
        let span = Duration::hours(48);
        let mut edges = chained(start, span, |t| next_change(&only, zone, t));
        edges.extend(chained(start, span, |t| next_change(&except, zone, t)));
        edges.sort();
        edges.dedup();
        // Every change of the level's answer is at an edge of one of its windows.
        for change in sampled_changes(start, span, |t| p.level_applies(0, t)) {
            prop_assert!(edges.contains(&change), "{change} is not an edge of {:?} or {:?}", only, except);
        }
    }
}
