//! On-call shifts as iCalendar (RFC 5545): a whole schedule, or one person's shifts across every
//! schedule ("my shifts"), for the calendars on-call people live in.
//!
//! Owns: [`Shift`], [`shifts`], [`my_shifts`], [`schedule_ics`], [`person_ics`] and
//! [`vtimezone`]. Never: reads the clock (`now` is the file's DTSTAMP) or decides who is on call —
//! every shift is [`OnCallSchedule::on_call_at`] between two [`OnCallSchedule::next_handoff`]s.
//!
//! Real time zones: each event's start and end are wall-clock times with `TZID=<IANA name>` (the
//! schedule's zone), and the file carries a `VTIMEZONE` for every zone it uses, written here from
//! the zone database (`chrono-tz`) with each UTC-offset change between a year before the first
//! shift and the last one, so a calendar that knows nothing of IANA names still places a shift
//! crossing a DST night right. A boundary that falls in the second occurrence of a repeated
//! wall-clock hour (autumn) is written in UTC instead, since a TZID time names the first one.
//! Events are built and text-escaped (`,` `;` `\` and line breaks) by the `icalendar` crate.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use icalendar::{Calendar, CalendarDateTime, Component, EventLike, Property};
use serde::{Deserialize, Serialize};

use crate::engine::person::PersonId;
use crate::engine::policy::ScheduleId;
use crate::engine::schedule::OnCallSchedule;
use crate::engine::time::Zone;
use crate::engine::tz::Observance;
use crate::engine::world::World;

/// A file covers at most this many shifts (a year of hourly rotations is under 9 000).
pub const MAX_SHIFTS: usize = 10_000;
/// The longest span a file covers, in days.
pub const MAX_DAYS: i64 = 400;

/// Who is on call from `start` until `end` (the next handoff, or the end of the span asked for).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    pub schedule: ScheduleId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub people: Vec<PersonId>,
}

/// Why no calendar was made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("No schedule “{0}”.")]
    UnknownSchedule(ScheduleId),
    #[error("No person “{0}”.")]
    UnknownPerson(PersonId),
    #[error("Choose a span of 1 to {MAX_DAYS} days.")]
    BadSpan,
}

/// Every shift of `schedule` in `[from, to)` with someone on call, cut at `from` and `to`.
pub fn shifts(schedule: &OnCallSchedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
    let mut out = Vec::new();
    let mut cursor = from;
    while cursor < to && out.len() < MAX_SHIFTS {
        let people = schedule.on_call_at(cursor);
        let next = schedule.next_handoff(cursor).map_or(to, |n| n.min(to));
        if !people.is_empty() {
            out.push(Shift { schedule: schedule.id.clone(), start: cursor, end: next, people });
        }
        if next <= cursor {
            break;
        }
        cursor = next;
    }
    out
}

/// `person`'s shifts on every schedule in `[from, to)`, by schedule then time; back-to-back
/// shifts on one schedule (a handoff between two others while they stay on) are one.
pub fn my_shifts(world: &World, person: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
    let mut out: Vec<Shift> = Vec::new();
    for schedule in &world.schedules {
        for s in shifts(schedule, from, to).into_iter().filter(|s| s.people.iter().any(|p| p == person)) {
            match out.last_mut() {
                Some(last) if last.schedule == s.schedule && last.end == s.start => last.end = s.end,
                _ => out.push(Shift { people: vec![person.into()], ..s }),
            }
        }
    }
    out
}

/// `±HHMM` (or `±HHMMSS`), as TZOFFSETFROM/TZOFFSETTO want it.
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

fn local_text(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

/// A `VTIMEZONE` for `zone` valid over `[from, to]`: the observance in force a year before `from`,
/// then one `STANDARD` or `DAYLIGHT` component per offset change up to `to`, each starting at the
/// wall-clock time of the change in the offset before it (RFC 5545 §3.6.5). Lines end in CRLF.
pub fn vtimezone(zone: Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let start = from - Duration::days(366);
    let offset = |t: DateTime<Utc>| zone.0.observance(t.timestamp());
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", zone.name());
    let mut observance = |at: DateTime<Utc>, before: i32, after: Observance| {
        let kind = if after.dst { "DAYLIGHT" } else { "STANDARD" };
        let onset = at.naive_utc() + Duration::seconds(i64::from(before));
        out.push_str(&format!(
            "BEGIN:{kind}\r\nDTSTART:{}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\n",
            local_text(onset),
            offset_text(before),
            offset_text(after.utc_offset)
        ));
        if !after.abbreviation.is_empty() {
            let name = after.abbreviation;
            // Abbreviations are letters, digits and signs ("CEST", "+03"); nothing to escape.
            out.push_str(&format!("TZNAME:{name}\r\n"));
        }
        out.push_str(&format!("END:{kind}\r\n"));
    };
    let first = offset(start);
    observance(start, first.utc_offset, first);
    for t in zone.transitions(start, to) {
        let before = offset(t - Duration::seconds(1)).utc_offset;
        observance(t, before, offset(t));
    }
    out.push_str("END:VTIMEZONE\r\n");
    out
}

/// A boundary as the file writes it: wall-clock time with the zone's TZID, or UTC for the
/// second of a repeated hour (and for UTC itself).
fn date_time(zone: Zone, t: DateTime<Utc>) -> CalendarDateTime {
    if zone == Zone::default() {
        return CalendarDateTime::Utc(t);
    }
    let local = zone.local(t);
    if zone.instants(local).first() == Some(&t) {
        CalendarDateTime::WithTimezone { date_time: local, tzid: zone.name().to_string() }
    } else {
        CalendarDateTime::Utc(t)
    }
}

fn name_of(world: &World, person: &str) -> String {
    world.person(person).map(|p| p.name.as_str()).filter(|n| !n.is_empty()).unwrap_or(person).to_string()
}

/// A calendar of `shifts` (each in its schedule's zone), with the VTIMEZONEs they need.
fn ics(world: &World, title: &str, shifts: &[Shift], uid_tail: &str, now: DateTime<Utc>) -> String {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"));
    cal.append_property(Property::new("PRODID", "-//Piket//On-call shifts//EN"));
    cal.append_property(Property::new("CALSCALE", "GREGORIAN"));
    cal.append_property(Property::new("METHOD", "PUBLISH"));
    cal.name(title);
    let mut zones: Vec<Zone> = Vec::new();
    for s in shifts {
        let Some(schedule) = world.schedule(&s.schedule) else { continue };
        let zone = schedule.time_zone;
        if zone != Zone::default() && !zones.contains(&zone) {
            zones.push(zone);
        }
        let schedule_name = if schedule.name.is_empty() { schedule.id.as_str() } else { schedule.name.as_str() };
        let people: Vec<String> = s.people.iter().map(|p| name_of(world, p)).collect();
        let summary = format!("On call: {} ({schedule_name})", people.join(", "));
        let description = format!("{schedule_name}: {} on call until the next handoff.", people.join(", "));
        let event = icalendar::Event::new()
            .uid(&format!("{}-{}{uid_tail}@piket", s.schedule, s.start.timestamp()))
            .timestamp(now)
            .summary(&summary)
            .description(&description)
            .starts(date_time(zone, s.start))
            .ends(date_time(zone, s.end))
            .add_property("TRANSP", "TRANSPARENT")
            .done();
        cal.push(event);
    }
    let text = cal.to_string();
    let (Some(first), Some(last)) = (shifts.first(), shifts.last()) else { return text };
    let from = shifts.iter().map(|s| s.start).min().unwrap_or(first.start);
    let to = shifts.iter().map(|s| s.end).max().unwrap_or(last.end);
    let timezones: String = zones.iter().map(|z| vtimezone(*z, from, to)).collect();
    // VTIMEZONEs go before the events that refer to them.
    let at = text.find("BEGIN:VEVENT").or_else(|| text.find("END:VCALENDAR")).unwrap_or(text.len());
    format!("{}{timezones}{}", &text[..at], &text[at..])
}

fn span(from: DateTime<Utc>, days: i64) -> Result<DateTime<Utc>, CalendarError> {
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(CalendarError::BadSpan);
    }
    Ok(from + Duration::days(days))
}

/// A schedule's shifts for `days` days from `from`, as an `.ics` file.
pub fn schedule_ics(world: &World, schedule: &str, from: DateTime<Utc>, days: i64, now: DateTime<Utc>) -> Result<String, CalendarError> {
    let s = world.schedule(schedule).ok_or_else(|| CalendarError::UnknownSchedule(schedule.into()))?;
    let list = shifts(s, from, span(from, days)?);
    let name = if s.name.is_empty() { s.id.as_str() } else { s.name.as_str() };
    Ok(ics(world, &format!("On call: {name}"), &list, "", now))
}

/// `person`'s shifts on every schedule (or only `schedule`) for `days` days from `from`, as an
/// `.ics` file.
pub fn person_ics(world: &World, person: &str, schedule: Option<&str>, from: DateTime<Utc>, days: i64, now: DateTime<Utc>) -> Result<String, CalendarError> {
    world.person(person).ok_or_else(|| CalendarError::UnknownPerson(person.into()))?;
    if let Some(s) = schedule {
        world.schedule(s).ok_or_else(|| CalendarError::UnknownSchedule(s.into()))?;
    }
    let mut list = my_shifts(world, person, from, span(from, days)?);
    list.retain(|s| schedule.is_none_or(|id| s.schedule == id));
    Ok(ics(world, &format!("My shifts: {}", name_of(world, person)), &list, &format!("-{person}"), now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn vtimezone_lists_amsterdam_2025_changes() {
        let zone = Zone("Europe/Amsterdam".parse().unwrap());
        let text = vtimezone(zone, utc("2025-03-24T00:00:00Z"), utc("2025-11-01T00:00:00Z"));
        let want_daylight = "BEGIN:DAYLIGHT\r\nDTSTART:20250330T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n";
        let want_standard = "BEGIN:STANDARD\r\nDTSTART:20251026T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nEND:STANDARD\r\n";
        assert!(text.starts_with("BEGIN:VTIMEZONE\r\nTZID:Europe/Amsterdam\r\n"), "{text}");
        assert!(text.contains(want_daylight), "{text}");
        assert!(text.contains(want_standard), "{text}");
        // The year before: the 2024 changes, and the observance in force at its start (CET).
        assert!(text.contains("DTSTART:20240331T020000"), "{text}");
        assert!(text.contains("DTSTART:20241027T030000"), "{text}");
        assert_eq!(text.matches("BEGIN:STANDARD").count() + text.matches("BEGIN:DAYLIGHT").count(), 5, "{text}");
    }

    #[test]
    fn offsets_are_written_with_sign_hours_and_minutes() {
        assert_eq!(offset_text(3600), "+0100");
        assert_eq!(offset_text(-5 * 3600), "-0500");
        assert_eq!(offset_text(19800), "+0530");
        assert_eq!(offset_text(-(3600 + 1800 + 5)), "-013005");
    }

    #[test]
    fn a_zone_without_dst_has_one_standard_observance() {
        let zone = Zone("Asia/Tokyo".parse().unwrap());
        let text = vtimezone(zone, utc("2025-03-24T00:00:00Z"), utc("2025-11-01T00:00:00Z"));
        assert_eq!(text.matches("BEGIN:STANDARD").count(), 1, "{text}");
        assert!(text.contains("TZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900"), "{text}");
    }

    #[test]
    fn the_second_of_a_repeated_hour_is_written_in_utc() {
        let zone = Zone("Europe/Amsterdam".parse().unwrap());
        // 02:30 CEST (00:30Z) and 02:30 CET (01:30Z) on 2025-10-26.
        assert!(matches!(date_time(zone, utc("2025-10-26T00:30:00Z")), CalendarDateTime::WithTimezone { .. }));
        assert_eq!(date_time(zone, utc("2025-10-26T01:30:00Z")), CalendarDateTime::Utc(utc("2025-10-26T01:30:00Z")));
    }
}
