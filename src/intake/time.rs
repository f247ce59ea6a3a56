//! Lenient timestamps: monitors write RFC 3339 mostly, and `+0000` offsets often (PagerDuty's own
//! example does).

use chrono::{DateTime, Utc};

/// Read a monitor's timestamp: RFC 3339 first, then `%Y-%m-%dT%H:%M:%S%.f%z` (which takes `+0000`
/// as well as `+00:00`). `None` for anything else, and for Go's zero time
/// (`0001-01-01T00:00:00Z`, Alertmanager's "not ended yet"). Never panics.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let parsed = DateTime::parse_from_rfc3339(text).or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")).ok()?.with_timezone(&Utc);
    (parsed != go_zero_time()).then_some(parsed)
}

fn go_zero_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("0001-01-01T00:00:00Z").expect("a valid constant").with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn reads_rfc3339_and_the_colonless_offset() {
        assert_eq!(parse_timestamp("2015-07-17T08:42:58.315+0000"), Some(utc("2015-07-17T08:42:58.315Z")));
        assert_eq!(parse_timestamp("2015-07-17T10:42:58+0200"), Some(utc("2015-07-17T08:42:58Z")));
        assert_eq!(parse_timestamp("2020-08-08T14:32:08.326990857Z"), Some(utc("2020-08-08T14:32:08.326990857Z")));
        assert_eq!(parse_timestamp(" 2023-06-12T08:24:38.326+02:00 "), Some(utc("2023-06-12T06:24:38.326Z")));
        assert_eq!(parse_timestamp("0001-01-01T00:00:01Z"), Some(utc("0001-01-01T00:00:01Z")));
    }

    #[test]
    fn go_zero_time_and_garbage_are_absent() {
        for s in ["0001-01-01T00:00:00Z", "", "yesterday", "2015-07-17", "2015-13-45T99:00:00Z", "2015-07-17T08:42:58.315+99999", "\u{feff}"] {
            assert_eq!(parse_timestamp(s), None, "{s:?}");
        }
    }
}
