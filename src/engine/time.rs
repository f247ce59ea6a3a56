//! Time as the on-call world speaks it: lengths in minutes, wall-clock times in a zone, weekly
//! windows ("weekdays 09:00–17:00", overnight "22:00–06:00") and holidays.
//!
//! Owns: [`Minutes`] (a length kept to the second, written in minutes), [`Zone`] (an IANA zone),
//! [`ClockTime`], [`LocalDateTime`], [`TimeWindow`], and the one rule for turning a wall-clock time
//! into an instant across DST ([`Zone::instant`]).
//! Never: reads the clock. Every function takes the instant it reasons about.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engine::tz::{Tz, Wall};

/// A length of time, kept to the second, written in JSON as minutes.
///
/// JSON accepts a number of minutes (`10`, `0.5` = 30 s) or a string with a unit (`"90s"`, `"10m"`,
/// `"2h"`, `"1h30m"`); it is written back as a number of minutes (fractional when it has seconds).
/// Every length in Piket's formats must be positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Minutes {
    seconds: i64,
}

impl Minutes {
    pub const fn from_seconds(seconds: i64) -> Minutes {
        Minutes { seconds }
    }
    pub const fn from_minutes(minutes: i64) -> Minutes {
        Minutes { seconds: minutes * 60 }
    }
    pub const fn seconds(self) -> i64 {
        self.seconds
    }
    pub fn duration(self) -> Duration {
        Duration::seconds(self.seconds)
    }
    /// This length times `factor`, never shorter than one second nor longer than 30 days (used by
    /// "escalate faster").
    pub fn scaled(self, factor: f64) -> Minutes {
        Minutes { seconds: ((self.seconds as f64) * factor).round().clamp(1.0, MAX_LENGTH_SECONDS as f64) as i64 }
    }
    /// `at` plus this length, or the end of time rather than an overflow.
    pub fn after(self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_add_signed(self.duration()).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, s) = (self.seconds / 60, self.seconds % 60);
        match (m, s) {
            (0, s) => write!(f, "{s} s"),
            (m, 0) => write!(f, "{m} min"),
            (m, s) => write!(f, "{m} min {s} s"),
        }
    }
}

impl Serialize for Minutes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.seconds % 60 == 0 {
            s.serialize_i64(self.seconds / 60)
        } else {
            s.serialize_f64(self.seconds as f64 / 60.0)
        }
    }
}

const MINUTES_EXPECTED: &str = "expected minutes > 0 and at most 30 days (a number of minutes, or a string such as \"90s\", \"10m\", \"1h30m\")";

/// The longest length Piket accepts, in any form: 30 days. Timeouts longer than that are a typo,
/// and a bound keeps every deadline far from the calendar's end.
pub const MAX_LENGTH_SECONDS: i64 = 30 * 86_400;

impl<'de> Deserialize<'de> for Minutes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Minutes, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Minutes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(MINUTES_EXPECTED)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Minutes, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Minutes, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Minutes, E> {
                positive_minutes(v).ok_or_else(|| E::custom(MINUTES_EXPECTED))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Minutes, E> {
                parse_length(v).ok_or_else(|| E::custom(MINUTES_EXPECTED))
            }
        }
        d.deserialize_any(V)
    }
}

/// A number of minutes, rounded to the second, if it is at least one second.
fn positive_minutes(minutes: f64) -> Option<Minutes> {
    let seconds = (minutes * 60.0).round();
    (1.0..=MAX_LENGTH_SECONDS as f64).contains(&seconds).then_some(Minutes { seconds: seconds as i64 })
}

/// `"90s"`, `"10m"`, `"2h"`, `"1h30m"`, `"1d"`, or a bare number of minutes.
fn parse_length(text: &str) -> Option<Minutes> {
    let text = text.trim();
    if let Ok(m) = text.parse::<f64>() {
        return positive_minutes(m);
    }
    let (mut total, mut number) = (0i64, String::new());
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            ' ' if number.is_empty() => continue,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    (number.is_empty() && total > 0 && total <= MAX_LENGTH_SECONDS).then_some(Minutes { seconds: total })
}

/// An offset from a start, to the second, as the path preview shows it: "+20 s", "+1 min 30 s",
/// "+2 h", "+1 h 5 min". Seconds are never rounded away (a 20 s timeout is not "+0 min").
pub fn offset_text(seconds: i64) -> String {
    let s = seconds.max(0);
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h} h"));
    }
    if m > 0 {
        parts.push(format!("{m} min"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec} s"));
    }
    format!("+{}", parts.join(" "))
}

/// A length as a form field shows it back: whole minutes as a number ("10"), anything else with
/// units ("20s", "1m30s"), so what was typed as seconds is never shown as a fraction of a minute.
pub fn length_field_text(m: Minutes) -> String {
    let s = m.seconds();
    if s % 60 == 0 {
        (s / 60).to_string()
    } else if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// The instants Piket reasons about: 1970 to the end of 9999. A time outside is taken as the
/// nearest end, so every deadline (at most 30 days on) and every wall-clock conversion stays far
/// from the calendar's limits.
pub fn time_range() -> (DateTime<Utc>, DateTime<Utc>) {
    (DateTime::<Utc>::UNIX_EPOCH, DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

/// `t`, moved into [`time_range`].
pub fn within_range(t: DateTime<Utc>) -> DateTime<Utc> {
    let (first, last) = time_range();
    t.clamp(first, last)
}

/// An IANA time zone (`Europe/Amsterdam`), written as its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Zone(pub Tz);

impl Default for Zone {
    fn default() -> Zone {
        Zone(Tz::utc())
    }
}

impl Serialize for Zone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(d)?;
        name.parse::<Tz>().map(Zone).map_err(|_| de::Error::custom(format!("“{name}” is not a known time zone (use an IANA name such as Europe/Amsterdam)")))
    }
}

impl Zone {
    /// The instant a wall-clock time in this zone names.
    ///
    /// DST, written down once (like JavaScript Temporal's `compatible`): a wall time that occurs twice
    /// (autumn) is its first occurrence; a wall time that does not exist (spring gap) moves forward by
    /// the length of the gap (02:30 on the Amsterdam spring-forward night is 03:30 CEST).
    pub fn instant(self, local: NaiveDateTime) -> DateTime<Utc> {
        let wall = local.and_utc().timestamp();
        let at = match self.0.instants(wall).first() {
            Some(first) => first,
            // In a gap: the offset in force just before it, applied to the wall time.
            None => wall - i64::from(self.0.offset(wall - 86_400)),
        };
        instant_of(at)
    }

    /// Every instant a wall-clock time names: one, both in a fall-back overlap (earlier first), none
    /// in a spring-forward gap.
    pub fn instants(self, local: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.0.instants(local.and_utc().timestamp()) {
            Wall::Once(t) => vec![instant_of(t)],
            Wall::Twice(a, b) => vec![instant_of(a), instant_of(b)],
            Wall::Gap => Vec::new(),
        }
    }

    /// Seconds east of UTC at `t`.
    pub fn offset_seconds(self, t: DateTime<Utc>) -> i32 {
        self.0.offset(t.timestamp())
    }

    /// The instants in `(after, until]` at which this zone's UTC offset changes (DST starts or
    /// ends), to the second. Assumes at most one change per three hours, which every zone keeps.
    pub fn transitions(self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        if until <= after || (until - after <= Duration::days(5) && self.offset_seconds(after) == self.offset_seconds(until)) {
            return out;
        }
        let step = Duration::hours(3);
        let mut lo = after;
        while lo < until {
            let hi = (lo + step).min(until);
            if self.offset_seconds(lo) != self.offset_seconds(hi) {
                // Whole seconds: the zone database changes offsets on whole seconds.
                let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or(lo);
                let (mut a, mut b) = (lo.timestamp(), hi.timestamp() + 1);
                let before = self.offset_seconds(lo);
                while b - a > 1 {
                    let mid = a + (b - a) / 2;
                    if self.offset_seconds(at(mid)) == before {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                if at(b) > after {
                    out.push(at(b));
                }
            }
            lo = hi;
        }
        out
    }

    /// Wall-clock date and time of an instant in this zone.
    pub fn local(self, t: DateTime<Utc>) -> NaiveDateTime {
        let t = within_range(t);
        t.naive_utc() + Duration::seconds(i64::from(self.offset_seconds(t)))
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

/// The instant `unix_seconds` names, kept within chrono's calendar.
fn instant_of(unix_seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix_seconds, 0).unwrap_or(if unix_seconds < 0 { DateTime::<Utc>::MIN_UTC } else { DateTime::<Utc>::MAX_UTC })
}

/// A wall-clock time of day, written `"HH:MM"` (or `"HH:MM:SS"`); `"24:00"` means the end of the day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime {
    /// Seconds after local midnight, 0..=86 400.
    seconds: u32,
}

impl ClockTime {
    pub fn hm(h: u32, m: u32) -> ClockTime {
        ClockTime { seconds: h * 3600 + m * 60 }
    }
    fn seconds(self) -> u32 {
        self.seconds
    }
    fn on(self, date: NaiveDate) -> NaiveDateTime {
        date.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::seconds(self.seconds as i64)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.seconds / 3600, self.seconds / 60 % 60, self.seconds % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ClockTime, D::Error> {
        let text = String::deserialize(d)?;
        let bad = || de::Error::custom(format!("expected a time of day \"HH:MM\", got “{text}”"));
        let parts: Vec<&str> = text.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let n: Vec<u32> = parts.iter().map(|p| p.parse::<u32>()).collect::<Result<_, _>>().map_err(|_| bad())?;
        let (h, m, s) = (n[0], n[1], n.get(2).copied().unwrap_or(0));
        if m > 59 || s > 59 || h > 24 || (h == 24 && (m, s) != (0, 0)) {
            return Err(bad());
        }
        Ok(ClockTime { seconds: h * 3600 + m * 60 + s })
    }
}

/// A wall-clock date and time without a zone (the zone comes from the schedule), written
/// `"2025-03-03T09:00"` (seconds optional).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalDateTime(pub NaiveDateTime);

impl Serialize for LocalDateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.second() == 0 {
            s.collect_str(&self.0.format("%Y-%m-%dT%H:%M"))
        } else {
            s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S"))
        }
    }
}

impl<'de> Deserialize<'de> for LocalDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LocalDateTime, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M"))
            .map(LocalDateTime)
            .map_err(|_| de::Error::custom(format!("expected a local date and time \"YYYY-MM-DDTHH:MM\", got “{text}”")))
    }
}

/// Which days a window is open on. JSON: `"daily"`, `"weekdays"`, `"weekends"`, or a list such as
/// `["mon", "wed", "fri"]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Days {
    /// Bit `n` is set when weekday `n` (Monday = 0) is included.
    mask: u8,
}

impl Days {
    pub const DAILY: Days = Days { mask: 0b111_1111 };
    pub const WEEKDAYS: Days = Days { mask: 0b001_1111 };
    pub const WEEKENDS: Days = Days { mask: 0b110_0000 };

    pub fn contains(self, day: Weekday) -> bool {
        self.mask & (1 << day.num_days_from_monday()) != 0
    }
    fn or_daily(self) -> Days {
        if self.mask == 0 {
            Days::DAILY
        } else {
            self
        }
    }
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.or_daily() {
            Days::DAILY => s.serialize_str("daily"),
            Days::WEEKDAYS => s.serialize_str("weekdays"),
            Days::WEEKENDS => s.serialize_str("weekends"),
            d => {
                let names: Vec<&str> = (0..7).filter(|i| d.mask & (1 << i) != 0).map(|i| DAY_NAMES[i]).collect();
                names.serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Days, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            One(String),
            Many(Vec<String>),
        }
        let expected = "expected \"daily\", \"weekdays\", \"weekends\" or a list of days such as [\"mon\", \"fri\"]";
        let form = Form::deserialize(d).map_err(|_| de::Error::custom(expected))?;
        let day = |name: &str| {
            let name = name.to_ascii_lowercase();
            DAY_NAMES.iter().position(|d| *d == name || FULL_DAY_NAMES.iter().any(|f| *f == name && f.starts_with(d)))
        };
        match form {
            Form::One(s) => match s.to_ascii_lowercase().as_str() {
                "daily" | "every day" | "all" => Ok(Days::DAILY),
                "weekdays" => Ok(Days::WEEKDAYS),
                "weekends" => Ok(Days::WEEKENDS),
                other => day(other).map(|i| Days { mask: 1 << i }).ok_or_else(|| de::Error::custom(expected)),
            },
            Form::Many(list) => {
                let mut mask = 0u8;
                for name in &list {
                    mask |= 1 << day(name).ok_or_else(|| de::Error::custom(format!("“{name}” is not a day ({expected})")))?;
                }
                if mask == 0 {
                    return Err(de::Error::custom("the list of days is empty"));
                }
                Ok(Days { mask })
            }
        }
    }
}

/// How a window treats holidays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayRule {
    /// Holidays are ordinary days.
    #[default]
    Ignore,
    /// The window is closed on holidays (business hours are not held on a holiday).
    Exclude,
    /// The window is open only on holidays.
    Only,
}

/// A weekly window in local time: "weekdays 09:00–17:00", "daily 22:00–06:00" (overnight: it belongs
/// to the day it starts on, so Friday 22:00–Saturday 06:00 is Friday's), "weekends" (whole days).
///
/// `from`/`to` are both given or both left out (whole days). `from == to` is a full 24 hours from
/// `from`. Holidays are decided by the date the window starts on.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(default)]
    pub days: Days,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ClockTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ClockTime>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub holidays: HolidayRule,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl TimeWindow {
    /// Whether the window is open at `t`, in `zone`, given the holiday dates.
    pub fn contains(&self, zone: Zone, holidays: &[NaiveDate], t: DateTime<Utc>) -> bool {
        let local = zone.local(t);
        let (date, secs) = (local.date(), local.time().num_seconds_from_midnight());
        let day_ok = |d: NaiveDate| {
            self.days.or_daily().contains(d.weekday())
                && match self.holidays {
                    HolidayRule::Ignore => true,
                    HolidayRule::Exclude => !holidays.contains(&d),
                    HolidayRule::Only => holidays.contains(&d),
                }
        };
        let yesterday = date.pred_opt().unwrap_or(date);
        match (self.from, self.to) {
            (Some(from), Some(to)) if from < to => day_ok(date) && secs >= from.seconds() && secs < to.seconds(),
            (Some(from), Some(to)) => {
                // Overnight (or a full 24 h when from == to): open from `from` today, or until `to`
                // on the morning after a day the window started.
                (day_ok(date) && secs >= from.seconds()) || (day_ok(yesterday) && secs < to.seconds())
            }
            _ => day_ok(date),
        }
    }

    /// Instants after `t` at which this window may open or close, up to two days ahead. Used to
    /// find the next handoff; a superset is fine, but every instant where [`TimeWindow::contains`]
    /// changes must be here. `contains` reads the local clock, so its answer can change only where
    /// the local clock reaches an edge (local midnight, `from`, `to` — each instant they name, so
    /// both in a fall-back overlap) or jumps (a DST change, which also covers edges that fall in a
    /// spring-forward gap).
    pub fn edges_after(&self, zone: Zone, t: DateTime<Utc>, out: &mut Vec<DateTime<Utc>>) {
        let date = zone.local(t).date();
        for offset in -1..=2 {
            let Some(d) = date.checked_add_signed(Duration::days(offset)) else { continue };
            for edge in [Some(ClockTime::hm(0, 0)), self.from, self.to].into_iter().flatten() {
                out.extend(zone.instants(edge.on(d)).into_iter().filter(|&i| i > t));
            }
        }
        if let Some(end) = date.checked_add_signed(Duration::days(3)) {
            out.extend(zone.transitions(t, zone.instant(ClockTime::hm(0, 0).on(end))));
        }
    }

    /// The first instant after `t` (within about two days) at which the window opens or closes.
    pub fn next_change(&self, zone: Zone, holidays: &[NaiveDate], t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let now = self.contains(zone, holidays, t);
        let mut edges = Vec::new();
        self.edges_after(zone, t, &mut edges);
        edges.sort();
        edges.into_iter().find(|&e| self.contains(zone, holidays, e) != now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn offsets_and_fields_keep_their_seconds() {
        let cases = [(0, "+0 s"), (20, "+20 s"), (90, "+1 min 30 s"), (600, "+10 min"), (7200, "+2 h"), (3900, "+1 h 5 min"), (3620, "+1 h 20 s")];
        for (secs, want) in cases {
            assert_eq!(offset_text(secs), want);
        }
        for (secs, want) in [(600, "10"), (20, "20s"), (90, "1m30s"), (30, "30s")] {
            let text = length_field_text(Minutes::from_seconds(secs));
            assert_eq!(text, want);
            // What the field shows reads back as the same length.
            assert_eq!(serde_json::from_value::<Minutes>(serde_json::json!(text)).map(|m| m.seconds()).ok(), Some(secs), "{text}");
        }
    }

    #[test]
    fn lengths_parse_from_numbers_and_units() {
        let cases: &[(&str, Option<i64>)] = &[
            ("10", Some(600)),
            ("0.5", Some(30)),
            ("\"90s\"", Some(90)),
            ("\"1h30m\"", Some(5400)),
            ("\"2h\"", Some(7200)),
            ("0", None),
            ("-3", None),
            ("\"soon\"", None),
            ("\"10x\"", None),
            ("\"30d\"", Some(30 * 86_400)),
            ("43200", Some(30 * 86_400)),
            ("\"100000000000000d\"", None),
            ("\"30d1s\"", None),
            ("43201", None),
            ("1e300", None),
        ];
        for (json, want) in cases {
            let got = serde_json::from_str::<Minutes>(json).ok().map(|m| m.seconds());
            assert_eq!(got, *want, "for {json}");
        }
        assert_eq!(serde_json::to_string(&Minutes::from_seconds(90)).unwrap(), "1.5");
        assert_eq!(serde_json::to_string(&Minutes::from_minutes(10)).unwrap(), "10");
    }

    #[test]
    fn wall_times_across_dst() {
        let ams = Zone("Europe/Amsterdam".parse().unwrap());
        let at = |s: &str| ams.instant(NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap());
        let cases = [
            ("2025-03-29T09:00", "2025-03-29T08:00:00Z"), // CET
            ("2025-03-30T09:00", "2025-03-30T07:00:00Z"), // CEST
            ("2025-03-30T02:30", "2025-03-30T01:30:00Z"), // in the gap: 03:30 CEST
            ("2025-10-26T02:30", "2025-10-26T00:30:00Z"), // twice: the first (CEST)
        ];
        for (local, want) in cases {
            assert_eq!(at(local), utc(want), "for {local}");
        }
    }

    #[test]
    fn windows_open_and_close() {
        let ams = Zone("Europe/Amsterdam".parse().unwrap());
        let holiday = NaiveDate::from_ymd_opt(2025, 12, 25).unwrap();
        let business: TimeWindow = serde_json::from_str(r#"{"days":"weekdays","from":"09:00","to":"17:00","holidays":"exclude"}"#).unwrap();
        let overnight: TimeWindow = serde_json::from_str(r#"{"days":["fri"],"from":"22:00","to":"06:00"}"#).unwrap();
        let cases = [
            (&business, "2025-12-22T08:30:00Z", true),   // Monday 09:30 CET
            (&business, "2025-12-22T16:30:00Z", false),  // Monday 17:30
            (&business, "2025-12-25T10:00:00Z", false),  // Christmas, a Thursday
            (&business, "2025-12-27T10:00:00Z", false),  // Saturday
            (&overnight, "2025-12-26T22:00:00Z", true),  // Friday 23:00
            (&overnight, "2025-12-27T04:00:00Z", true),  // Saturday 05:00: Friday's night
            (&overnight, "2025-12-27T06:00:00Z", false), // Saturday 07:00
            (&overnight, "2025-12-25T23:00:00Z", false), // Friday 00:00 belongs to Thursday
        ];
        for (w, t, want) in cases {
            assert_eq!(w.contains(ams, &[holiday], utc(t)), want, "{w:?} at {t}");
        }
    }

    #[test]
    fn days_parse() {
        let cases = [
            (r#""weekdays""#, Some(Days::WEEKDAYS)),
            (r#"["sat","sunday"]"#, Some(Days::WEEKENDS)),
            (r#"["caturday"]"#, None),
            (r#""daily""#, Some(Days::DAILY)),
        ];
        for (json, want) in cases {
            assert_eq!(serde_json::from_str::<Days>(json).ok(), want, "{json}");
        }
    }
}
