//! Reports, the CSV export, retrospectives, the audit chain and calendars, on incidents made by
//! running the real engine on a virtual clock. Every expected figure is worked out by hand in the
//! comments next to it.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use piket::audit;
use piket::engine::{Severity, Status, World};
use piket::insight::calendar::{my_shifts, person_ics, schedule_ics, shifts};
use piket::insight::retro::{open_and_overdue, ActionItem, Retrospective};
use piket::insight::{csv, incident_rows, report, ReportQuery, Stats};
use serde_json::json;

#[path = "fixtures/insight.rs"]
mod fixture;
use fixture::{at, incidents, now, world, B_TITLE, F_TITLE};

fn week() -> ReportQuery {
    ReportQuery::period(at("2025-03-03T00:00:00Z"), at("2025-03-10T00:00:00Z"))
}

fn stats(count: usize, median: i64, p90: i64) -> Stats {
    Stats { count, median_s: Some(median), p90_s: Some(p90) }
}

#[test]
fn totals_mtta_and_mttr_overall_per_severity_and_per_level() {
    let r = report(&world(), &incidents(), &week(), now());
    let t = &r.totals;
    // A B C D F in the period (E is before it); F is open, a day old at now.
    assert_eq!((t.incidents, t.open, t.oldest_open_s), (5, 1, Some(86_400)));
    // Acknowledged A B C; resolved A B C D; paged A B C D; escalated B D; pages 1+2+1+2.
    assert_eq!((t.acknowledged, t.resolved, t.paged, t.escalated, t.pages, t.alerts), (3, 4, 4, 2, 6, 5));
    // TTA: A 180, C 480, B 720 → median (2nd of 3) 480, p90 (3rd) 720.
    assert_eq!(r.mtta, stats(3, 480, 720));
    // TTR: A 1800, B 3000, C 3600, D 3600 → median (2nd of 4) 3000, p90 (4th) 3600.
    assert_eq!(r.mttr, stats(4, 3000, 3600));

    // Final severities: C sev1 (raised), A B sev2, D sev3, F sev4.
    let sev: Vec<_> = r.by_severity.iter().map(|s| (s.severity, s.incidents, s.mtta.clone(), s.mttr.clone())).collect();
    assert_eq!(
        sev,
        [
            (Severity::Sev1, 1, stats(1, 480, 480), stats(1, 3600, 3600)),
            (Severity::Sev2, 2, stats(2, 180, 720), stats(2, 1800, 3000)),
            (Severity::Sev3, 1, Stats::default(), stats(1, 3600, 3600)),
            (Severity::Sev4, 1, Stats::default(), Stats::default()),
        ]
    );
    // Acked at level 1: A 180, C 480; at level 2: B 720. Resolved at level 1: A 1800, C 3600; at
    // level 2: B 3000, D 3600.
    let levels: Vec<_> = r.by_level.iter().map(|l| (l.level, l.mtta.clone(), l.mttr.clone())).collect();
    assert_eq!(levels, [(1, stats(2, 180, 480), stats(2, 1800, 3600)), (2, stats(1, 720, 720), stats(2, 3000, 3600))]);
}

#[test]
fn volume_efficiency_and_quality() {
    let r = report(&world(), &incidents(), &week(), now());
    // 2 escalated of 4 paged.
    assert_eq!(r.volume.escalation_rate, Some(0.5));
    // Service web and key web-5xx each have two escalated incidents (B, D), one escalation each.
    let repeats: Vec<_> = r.volume.repeat_escalations.iter().map(|x| (x.by.as_str(), x.value.as_str(), x.incidents, x.escalations)).collect();
    assert_eq!(repeats, [("dedup_key", "web-5xx", 2, 2), ("service", "web", 2, 2)]);
    // Open → first escalation: B 300, D 300.
    assert_eq!(r.efficiency.time_to_escalation, stats(2, 300, 300));
    // B: escalated 13:05, bob (paged at level 2) acks 13:12 → 420. D: bob never acted.
    assert_eq!(r.efficiency.handoff_delay, stats(1, 420, 420));
    assert_eq!(r.efficiency.handoffs_without_action, 1);
    // Escalated and resolved: B 3000, D 3600.
    assert_eq!(r.efficiency.resolution_of_escalated, stats(2, 3000, 3600));
    // A (alice, level 1, resolved it) and C (a monitor resolved it, carol of level 1 acked) of the
    // 4 resolved paged incidents; B and D escalated.
    assert_eq!((r.quality.first_contact_resolutions, r.quality.first_contact_resolution_rate), (2, Some(0.5)));
    // B had a summary, a link and alice's note before bob's page; D had no summary.
    assert_eq!((r.quality.escalations_paged, r.quality.context_passed, r.quality.context_passed_rate), (2, 1, Some(0.5)));
}

#[test]
fn configured_timers_against_real_ones() {
    let r = report(&world(), &incidents(), &week(), now());
    let ack: Vec<_> =
        r.timers.ack.iter().map(|c| (c.policy.as_str(), c.level, c.configured.as_str(), c.real.clone(), c.after_timeout, c.suggestion.as_str())).collect();
    assert_eq!(
        ack,
        [
            // C: level 1 paged 02:00, acked 02:08 (480 s) — after its 5 min deadline had fired.
            ("db", 1, "5 min", stats(1, 480, 480), 1, "Level 1 waits 5 min; 100 % of acks took longer — consider 10 min or a faster first page"),
            // A 180 s (in time), B 720 s (late; D never acked) → 50 % late; the median 180 s is
            // under the timeout, so the suggestion is the next usual length above 5 min.
            ("web", 1, "5 min", stats(2, 180, 720), 1, "Level 1 waits 5 min; 50 % of acks took longer — consider 10 min or a faster first page"),
            // B: level 2 paged 13:05, acked 13:12 → 420 s of 600.
            ("web", 2, "10 min", stats(1, 420, 420), 0, "Level 2 waits 10 min; 0 % of acks took longer; it fits"),
        ]
    );
    let web1 = &r.timers.ack[1];
    assert_eq!((web1.configured_s, web1.after_timeout_share), (Some(300), Some(0.5)));
    // 180 s in "2 min–5 min", 720 s in "10 min–15 min".
    let bars: Vec<_> = web1.histogram.iter().filter(|b| b.count > 0).map(|b| (b.label.as_str(), b.count)).collect();
    assert_eq!(bars, [("2 min–5 min", 1), ("10 min–15 min", 1)]);

    let res: Vec<_> = r.timers.resolution.iter().map(|c| (c.policy.as_str(), c.level, c.real.clone(), c.after_timeout, c.suggestion.as_str())).collect();
    assert_eq!(
        res,
        [
            // C: 02:00 → 03:00.
            ("db", 1, stats(1, 3600, 3600), 0, "Level 1 has no resolution timeout; the median took 60 min."),
            // From level 1's page: A 1800, B 3000, D 3600 (at the 60 min mark: counts as late).
            ("web", 1, stats(3, 3000, 3600), 1, "Level 1 allows 60 min; 33 % of resolutions took longer; it fits"),
            // From level 2's page: B 13:05 → 13:50 = 2700, D 10:05 → 11:00 = 3300.
            ("web", 2, stats(2, 2700, 3300), 0, "Level 2 has no resolution timeout; the median took 45 min."),
        ]
    );
}

#[test]
fn alert_fatigue() {
    let r = report(&world(), &incidents(), &week(), now());
    let f = &r.fatigue;
    // alice: A B D (all web-5xx: 2 repeats), never at night in Amsterdam (13:00, 14:00, 11:00).
    // bob: B 08:05 EST, D 05:05 EST (night); web-5xx twice: 1 repeat. carol: C 02:00 UTC (night).
    let who: Vec<_> = f.responders.iter().map(|x| (x.person.as_str(), x.name.as_str(), x.pages, x.night_pages, x.repeated_pages, x.incidents)).collect();
    assert_eq!(who, [("alice", "Alice", 3, 0, 2, 3), ("bob", "Bob", 2, 1, 1, 2), ("carol", "Carol", 1, 1, 0, 1)]);
    assert_eq!((f.pages, f.night_pages, f.repeated_pages), (6, 2, 3));
    // A 7-day period is one week: 3 pages, at most 1 night page — nobody above 14 or 2.
    assert_eq!(f.responders[0].pages_per_week, 3.0);
    assert!(f.above_threshold.is_empty());
    // web-5xx: A B D, 1 + 2 + 2 pages.
    let keys: Vec<_> = f.repeated_keys.iter().map(|n| (n.name.as_str(), n.incidents, n.pages)).collect();
    assert_eq!(keys, [("web-5xx", 3, 5)]);
    let services: Vec<_> = f.noisiest_services.iter().map(|n| (n.name.as_str(), n.incidents, n.pages)).collect();
    assert_eq!(services, [("web", 3, 5), ("db", 1, 1), ("search", 1, 0)]);
    let rules: Vec<_> = f.noisiest_rules.iter().map(|n| (n.name.as_str(), n.incidents, n.pages)).collect();
    assert_eq!(rules, [("db-high", 1, 1)]);

    // Thursday alone: carol's one night page in one day is 7 a week, above 2.
    let thursday = ReportQuery::period(at("2025-03-06T00:00:00Z"), at("2025-03-07T00:00:00Z"));
    let r = report(&world(), &incidents(), &thursday, now());
    assert_eq!(r.fatigue.above_threshold, ["carol"]);
    assert_eq!(r.fatigue.responders[0].night_pages_per_week, 7.0);
}

#[test]
fn severity_accuracy_and_charts() {
    let r = report(&world(), &incidents(), &week(), now());
    // C (db) was raised sev2 → sev1 by carol after opening; nothing else changed.
    let acc: Vec<_> = r.severity_accuracy.iter().map(|a| (a.service.as_str(), a.incidents, a.changed, a.up, a.down)).collect();
    assert_eq!(acc, [("db", 1, 1, 1, 0), ("search", 1, 0, 0, 0), ("web", 3, 0, 0, 0)]);

    // Time to ack: 180 s (2–5 min), 480 s (5–10 min), 720 s (10–15 min).
    let bars: Vec<_> = r.charts.time_to_ack.iter().map(|b| b.count).collect();
    assert_eq!(bars, [0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    // Time to resolve: 1800 (30–60 min), 3000, 3600, 3600 (3000 in 30–60, 3600s in 1–2 h).
    let bars: Vec<_> = r.charts.time_to_resolve.iter().map(|b| b.count).collect();
    assert_eq!(bars, [0, 0, 2, 2, 0, 0, 0, 0, 0, 0]);

    // Mon 3 … Sun 9 March, UTC days.
    let days: Vec<_> =
        r.charts.per_day.iter().map(|d| (d.date.to_string(), d.opened, d.escalated, d.resolved, d.pages, d.night_pages, d.mtta_median_s)).collect();
    assert_eq!(
        days,
        [
            ("2025-03-03".to_string(), 0, 0, 0, 0, 0, None),
            ("2025-03-04".to_string(), 0, 0, 0, 0, 0, None),
            ("2025-03-05".to_string(), 2, 1, 2, 3, 0, Some(180)), // A B: acks 180, 720 → 1st of 2
            ("2025-03-06".to_string(), 1, 0, 1, 1, 1, Some(480)),
            ("2025-03-07".to_string(), 1, 1, 1, 2, 1, None),
            ("2025-03-08".to_string(), 1, 0, 0, 0, 0, None),
            ("2025-03-09".to_string(), 0, 0, 0, 0, 0, None),
        ]
    );
}

#[test]
fn filters_narrow_every_figure() {
    let incidents = incidents();
    let count = |q: ReportQuery| report(&world(), &incidents, &q, now()).totals.incidents;
    assert_eq!(count(ReportQuery { service: Some("web".into()), ..week() }), 3); // A B D
    assert_eq!(count(ReportQuery { severity: Some(Severity::Sev1), ..week() }), 1); // C, raised
    assert_eq!(count(ReportQuery { policy: Some("db".into()), ..week() }), 1);
    assert_eq!(count(ReportQuery { team: Some("ops".into()), ..week() }), 3); // paged alice or bob
    assert_eq!(count(ReportQuery { team: Some("nobody".into()), ..week() }), 0);
    let r = report(&world(), &incidents, &ReportQuery { service: Some("web".into()), ..week() }, now());
    assert_eq!(r.volume.escalation_rate, Some(2.0 / 3.0));
}

#[test]
fn figures_never_read_the_entries_words() {
    let mut stripped = incidents();
    for i in &mut stripped {
        for e in &mut i.timeline {
            e.detail.clear();
        }
    }
    assert_eq!(report(&world(), &stripped, &week(), now()), report(&world(), &incidents(), &week(), now()));
}

/// A CSV reader by RFC 4180, for the round trip.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell, mut quoted, mut chars) = (Vec::new(), Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[test]
fn csv_has_every_metric_and_round_trips_titles_without_formulas() {
    let rows = incident_rows(&world(), &incidents(), &week());
    let text = csv(&rows);
    let table = parse_csv(&text);
    assert_eq!(table.len(), 6, "a header and A B C D F");
    let header = &table[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let line = |id: &str| table.iter().find(|r| r[0] == id).unwrap();
    let b = line("B");
    assert_eq!(b[col("title")], B_TITLE, "commas, quotes and a line break read back");
    assert_eq!(
        [&b[col("time_to_ack_s")], &b[col("ack_level")], &b[col("escalations")], &b[col("handoff_delay_s")], &b[col("context_passed")]],
        ["720", "2", "1", "420", "yes"]
    );
    assert_eq!(line("F")[col("title")], format!("'{F_TITLE}"), "a formula is text");
    assert_eq!([&line("C")[col("severity_changed")], &line("C")[col("night_pages")], &line("C")[col("rules")]], ["up", "1", "db-high"]);
    assert_eq!(line("A")[col("first_contact_resolution")], "true");
    assert_eq!(line("D")[col("night_pages")], "1");
    assert!(table.iter().all(|r| r.len() == header.len()), "every row has every column");
}

#[test]
fn retrospectives_validate_and_list_open_and_overdue_items() {
    let world = world();
    let incidents = incidents();
    let a = incidents.iter().find(|i| i.id == "A").unwrap();
    let f = incidents.iter().find(|i| i.id == "F").unwrap();
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let item =
        |text: &str, owner: Option<&str>, due: Option<&str>, done: bool| ActionItem { text: text.into(), owner: owner.map(Into::into), due: due.map(d), done };
    let retro_a = Retrospective {
        incident: "A".into(),
        summary: "Cache went cold".into(),
        items: vec![
            item("Warm the cache on deploy", Some("alice"), Some("2025-03-10"), false),
            item("Alert on hit rate", Some("bob"), Some("2025-03-20"), false),
            item("Write the runbook", None, None, false),
            item("Done already", Some("carol"), Some("2025-03-01"), true),
        ],
    };
    assert_eq!(retro_a.validate(&world, Some(a)), Ok(()));
    let bad = Retrospective { incident: "F".into(), summary: String::new(), items: vec![item("  ", Some("zed"), None, false)] };
    let problems: Vec<String> = bad.validate(&world, Some(f)).unwrap_err().iter().map(|p| p.path.clone()).collect();
    assert_eq!(problems, ["incident", "items[0].text", "items[0].owner"], "F is open; blank text; unknown owner");

    let retro_b = Retrospective { incident: "B".into(), summary: String::new(), items: vec![item("Page bob sooner", None, Some("2025-03-05"), false)] };
    let list = open_and_overdue([&retro_a, &retro_b], d("2025-03-12"));
    let got: Vec<_> = list.iter().map(|i| (i.incident.as_str(), i.index, i.overdue, i.days_overdue)).collect();
    // B's item is 7 days late, A's first 2 days; then A's due the 20th; then the one with no date.
    assert_eq!(got, [("B", 0, true, 7), ("A", 0, true, 2), ("A", 1, false, 0), ("A", 2, false, 0)]);
}

#[test]
fn the_audit_chain_verifies_and_catches_an_edited_a_removed_and_a_reordered_entry() {
    let incidents = incidents();
    let log = audit::export(&incidents);
    let entries: usize = incidents.iter().map(|i| i.timeline.len()).sum();
    let summary = audit::verify(&log).expect("the exported log verifies");
    // E on the 1st, A B on the 5th, C the 6th, D the 7th, F the 8th: 5 days.
    assert_eq!((summary.entries, summary.incidents, summary.days), (entries, 6, 5));
    let lines: Vec<&str> = log.lines().collect();
    // The hashes the storage layer would keep are the ones exported.
    let a = incidents.iter().find(|i| i.id == "A").unwrap();
    let a_hashes: Vec<String> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["incident"] == "A")
        .map(|v| v["hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(a_hashes, audit::chain(a));

    let position = |incident: &str, index: usize| lines.iter().position(|l| l.contains(&format!("\"incident\":\"{incident}\",\"index\":{index},"))).unwrap();
    let b1 = position("B", 1);

    // Edited: B's entry 1 now says another time.
    let mut edited = lines.clone();
    let changed = lines[b1].replacen("2025-03-05T13:", "2025-03-05T14:", 1);
    assert_ne!(changed, lines[b1]);
    edited[b1] = &changed;
    let broken = audit::verify(&edited.join("\n")).unwrap_err();
    assert_eq!((broken.line, broken.incident.as_deref(), broken.index), (b1 + 1, Some("B"), Some(1)));
    assert!(broken.why.contains("edited"), "{}", broken.why);

    // Removed: B's entry 1 is gone; entry 2 comes where 1 should.
    let mut removed = lines.clone();
    removed.remove(b1);
    let broken = audit::verify(&removed.join("\n")).unwrap_err();
    assert_eq!((broken.line, broken.incident.as_deref(), broken.index), (b1 + 1, Some("B"), Some(2)));

    // Reordered: B's entries 1 and 2 swapped.
    let mut reordered = lines.clone();
    reordered.swap(b1, b1 + 1);
    let broken = audit::verify(&reordered.join("\n")).unwrap_err();
    assert_eq!((broken.line, broken.incident.as_deref(), broken.index), (b1 + 1, Some("B"), Some(2)));

    // The last entry of a day removed: only the day's chain head can tell.
    let last_a = position("A", a.timeline.len() - 1);
    let mut cut = lines.clone();
    cut.remove(last_a);
    let broken = audit::verify(&cut.join("\n")).unwrap_err();
    assert!(broken.why.contains("chain head"), "{broken}");
    assert_eq!(broken.incident.as_deref(), Some("A"));

    // Cut short after a day's entries, before its head.
    let broken = audit::verify(&lines[..lines.len() - 1].join("\n")).unwrap_err();
    assert!(broken.why.contains("ends without"), "{broken}");
}

// ---------------------------------------------------------------------------------------------
// Calendars.

fn calendar_world() -> World {
    serde_json::from_value(json!({
        "people": [
            {"id": "ann", "name": "Ann", "time_zone": "Europe/Amsterdam"},
            {"id": "bob", "name": "Bob", "time_zone": "Europe/Amsterdam"},
            {"id": "cat", "name": "Cat", "time_zone": "America/New_York"}
        ],
        "schedules": [
            {"id": "ams", "name": "Primary, EU; \\ ops", "time_zone": "Europe/Amsterdam", "layers": [
                {"people": ["ann", "bob"], "start": "2025-03-24T09:00", "every": "daily"}],
             "overrides": [{"start": "2025-03-29T12:00:00Z", "end": "2025-03-29T14:00:00Z", "with": "cat"}]},
            {"id": "nyc", "name": "NYC", "time_zone": "America/New_York", "layers": [
                {"people": ["cat", "ann"], "start": "2025-03-03T09:00", "every": "daily"}]}
        ]
    }))
    .unwrap()
}

/// Unfolded content lines of the components named `kind`, as (name with parameters, value).
fn components(text: &str, kind: &str) -> Vec<Vec<(String, String)>> {
    let unfolded = icalendar::parser::unfold(text);
    let parsed = icalendar::parser::read_calendar(&unfolded).expect("the file parses");
    let mut out = Vec::new();
    fn walk(c: &icalendar::parser::Component, kind: &str, out: &mut Vec<Vec<(String, String)>>) {
        if c.name.as_str() == kind {
            out.push(
                c.properties
                    .iter()
                    .map(|p| {
                        let params: String =
                            p.params.iter().map(|x| format!(";{}={}", x.key.as_str(), x.val.as_ref().map(|v| v.as_str()).unwrap_or(""))).collect();
                        (format!("{}{params}", p.name.as_str()), p.val.as_str().to_string())
                    })
                    .collect(),
            );
        }
        for child in &c.components {
            walk(child, kind, out);
        }
    }
    for c in &parsed.components {
        walk(c, kind, &mut out);
    }
    out
}

/// The instant a DTSTART/DTEND names, read with the file's own VTIMEZONE (not the zone database).
fn instant(text: &str, name: &str, value: &str) -> DateTime<Utc> {
    if let Some(utc) = value.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").unwrap().and_utc();
    }
    let tzid = name.split(";TZID=").nth(1).expect("a TZID");
    let local = NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S").unwrap();
    let offset = |s: &str| {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        sign * (s[1..3].parse::<i64>().unwrap() * 3600 + s[3..5].parse::<i64>().unwrap() * 60)
    };
    // Observances of that zone: (onset in UTC, offset after).
    let mut observances: Vec<(NaiveDateTime, i64)> = Vec::new();
    assert!(components(text, "VTIMEZONE").iter().any(|z| z.iter().any(|(k, v)| k == "TZID" && v == tzid)), "a VTIMEZONE for {tzid}");
    for kind in ["STANDARD", "DAYLIGHT"] {
        for o in components(text, kind) {
            let get = |k: &str| o.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
            let start = NaiveDateTime::parse_from_str(&get("DTSTART"), "%Y%m%dT%H%M%S").unwrap();
            observances.push((start - Duration::seconds(offset(&get("TZOFFSETFROM"))), offset(&get("TZOFFSETTO"))));
        }
    }
    observances.sort();
    let (_, off) = observances.iter().rev().find(|(onset, off)| *onset <= local - Duration::seconds(*off)).expect("an observance");
    (local - Duration::seconds(*off)).and_utc()
}

/// Every event of a file as (start, end, summary).
fn events(text: &str) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    components(text, "VEVENT")
        .into_iter()
        .map(|e| {
            let (sk, sv) = e.iter().find(|(k, _)| k.starts_with("DTSTART")).unwrap();
            let (ek, ev) = e.iter().find(|(k, _)| k.starts_with("DTEND")).unwrap();
            // The parser unescapes TEXT values.
            let summary = e.iter().find(|(k, _)| k == "SUMMARY").unwrap().1.clone();
            (instant(text, sk, sv), instant(text, ek, ev), summary)
        })
        .collect()
}

fn names(world: &World, people: &[piket::engine::PersonId]) -> String {
    people.iter().map(|p| world.person(p).unwrap().name.clone()).collect::<Vec<_>>().join(", ")
}

#[test]
fn a_schedule_calendar_matches_on_call_at_across_the_amsterdam_dst_week() {
    let world = calendar_world();
    let schedule = world.schedule("ams").unwrap();
    let from = at("2025-03-27T00:00:00Z");
    let text = schedule_ics(&world, "ams", from, 7, now()).unwrap();
    assert!(text.contains("TZID:Europe/Amsterdam\r\n") && text.contains("BEGIN:DAYLIGHT"), "{text}");
    // The schedule's name is escaped as RFC 5545 text.
    assert!(text.contains("Primary\\, EU\\; \\\\ ops"), "{text}");
    let got = events(&text);
    // Daily handoffs at 09:00 local (08:00Z before 30 March, 07:00Z after), the override on the
    // 29th splitting Ann's or Bob's day in three.
    assert_eq!(got.len(), 7 + 1 + 2, "{got:?}");
    for (start, end, summary) in &got {
        for t in [*start, *end - Duration::seconds(1)] {
            let want = format!("On call: {} (Primary, EU; \\ ops)", names(&world, &schedule.on_call_at(t)));
            assert_eq!(summary, &want, "at {t}");
        }
    }
    // The shifts are back to back over the whole week.
    assert_eq!(got.first().unwrap().0, from);
    assert_eq!(got.last().unwrap().1, from + Duration::days(7));
    assert!(got.windows(2).all(|w| w[0].1 == w[1].0));
    // Bob's day across the spring-forward night: 29th 09:00 CET (08:00Z) → 30th 09:00 CEST (07:00Z),
    // 23 hours, with Cat's override 12:00–14:00Z cut out of it.
    let spans: Vec<_> = got.iter().map(|(s, e, _)| (*s, *e)).collect();
    for (s, e) in
        [("2025-03-29T08:00:00Z", "2025-03-29T12:00:00Z"), ("2025-03-29T14:00:00Z", "2025-03-30T07:00:00Z"), ("2025-03-30T07:00:00Z", "2025-03-31T07:00:00Z")]
    {
        assert!(spans.contains(&(at(s), at(e))), "{s} → {e} in {got:?}");
    }
    // Same as the shifts themselves.
    let want: Vec<_> = shifts(schedule, from, from + Duration::days(7)).iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(got.iter().map(|(s, e, _)| (*s, *e)).collect::<Vec<_>>(), want);
}

#[test]
fn my_shifts_across_schedules_through_the_new_york_dst_week() {
    let world = calendar_world();
    let from = at("2025-03-06T00:00:00Z");
    let text = person_ics(&world, "ann", None, from, 7, now()).unwrap();
    assert!(text.contains("TZID:America/New_York\r\n"), "{text}");
    let got = events(&text);
    let nyc = world.schedule("nyc").unwrap();
    // Ann has every other New York day (cat starts on the 3rd: ann on the 4th, 6th, 8th, 10th, 12th).
    assert!(!got.is_empty());
    for (start, end, summary) in &got {
        assert_eq!(summary, "On call: Ann (NYC)");
        for t in [*start, *end - Duration::seconds(1)] {
            assert!(nyc.on_call_at(t).contains(&"ann".into()), "ann on call at {t}");
        }
        // Outside each shift, someone else.
        if *start > from {
            assert!(!nyc.on_call_at(*start - Duration::seconds(1)).contains(&"ann".into()));
        }
    }
    // The 8th 09:00 EST (14:00Z) → the 9th 09:00 EDT (13:00Z): 23 hours.
    assert!(got.iter().any(|(s, e, _)| *s == at("2025-03-08T14:00:00Z") && *e == at("2025-03-09T13:00:00Z")), "{got:?}");
    assert_eq!(got.len(), my_shifts(&world, "ann", from, from + Duration::days(7)).len());
    // Unknown people and schedules are refused.
    assert!(person_ics(&world, "zed", None, from, 7, now()).is_err());
    assert!(schedule_ics(&world, "nope", from, 7, now()).is_err());
    assert!(schedule_ics(&world, "nyc", from, 0, now()).is_err());
}

#[test]
fn the_engine_records_severity_changes_typed() {
    let c = incidents().into_iter().find(|i| i.id == "C").unwrap();
    let change = c.timeline.iter().find(|e| e.kind == piket::engine::EntryKind::SeverityChanged).unwrap();
    assert_eq!((change.severity_from, change.severity_to), (Some(Severity::Sev2), Some(Severity::Sev1)));
    assert_eq!(c.status, Status::Resolved);
    // Stored data without the fields still reads.
    let old: piket::engine::TimelineEntry =
        serde_json::from_value(json!({"at": "2025-03-06T02:10:00Z", "kind": "severity_changed", "actor": "carol"})).unwrap();
    assert_eq!(old.severity_from, None);
}
