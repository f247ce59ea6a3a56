//! The team clock's lease: one document, [`LEASE_DOC`], that says which device runs the team's
//! clock and until when. A device takes it when it is missing or has expired, and renews it before
//! it runs out, each time with a PUT carrying the `_rev` it read: CouchDB answers 409 when someone
//! else wrote first. On a cluster (n=3, w=2) two PUTs on the same `_rev` can both succeed and
//! leave a conflict, so after every write the lease is read back with `conflicts=true` and only
//! the winning revision's holder keeps the clock; that holder deletes the losing revisions.
//!
//! Times are the holder's clock: devices must agree on the time to within a few seconds (NTP),
//! which [`LEASE_MS`] leaves room for.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::{HttpDb, Method, Rev, SyncError, Transport};

/// The lease's document id (outside `config:`, so it is never pulled into local configuration).
pub const LEASE_DOC: &str = "lease:clock";
/// How long a lease lasts: a device that closes is replaced this long after its last renewal.
pub const LEASE_MS: i64 = 15_000;
/// A holder renews once less than this is left (so about every 5 s), not on every round.
pub const RENEW_BELOW_MS: i64 = 10_000;

/// The lease's body (read and written by hand: no serde code for three fields in the bundle).
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    /// The holding device's replication id (stable per device).
    pub holder: String,
    /// Its name, as its owner typed it.
    pub device: String,
    /// Stored as RFC 3339 text.
    pub expires: DateTime<Utc>,
}

/// Who runs the team's clock, as this device sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Standing {
    /// This device holds the lease.
    Mine,
    /// Another device holds a live lease.
    Other { device: String },
    /// Nobody holds it; `since` is when the last lease ran out (`None`: none ever existed).
    Free { since: Option<DateTime<Utc>>, device: Option<String> },
}

/// The lease as read: its winning revision, the body and the conflicting revisions.
#[derive(Clone, Debug, PartialEq)]
pub struct Read {
    pub rev: Rev,
    pub lease: Option<Lease>,
    pub conflicts: Vec<Rev>,
}

/// Whether `me` may write the lease now: it is missing, unreadable, expired or already mine.
pub fn may_take(current: Option<&Read>, me: &str, now: DateTime<Utc>) -> bool {
    match current.and_then(|r| r.lease.as_ref()) {
        None => true,
        Some(l) => l.holder == me || l.expires <= now,
    }
}

/// Whether `me`, holding the lease, should write it again now.
pub fn due(current: Option<&Read>, me: &str, now: DateTime<Utc>) -> bool {
    match current.and_then(|r| r.lease.as_ref()) {
        Some(l) if l.holder == me => (l.expires - now).num_milliseconds() < RENEW_BELOW_MS,
        _ => may_take(current, me, now),
    }
}

/// What a read lease means for `me`.
pub fn standing(current: Option<&Read>, me: &str, now: DateTime<Utc>) -> Standing {
    match current.and_then(|r| r.lease.as_ref()) {
        Some(l) if l.expires > now && l.holder == me => Standing::Mine,
        Some(l) if l.expires > now => Standing::Other { device: l.device.clone() },
        Some(l) => Standing::Free { since: Some(l.expires), device: Some(l.device.clone()) },
        None => Standing::Free { since: None, device: None },
    }
}

/// Reads a lease document's answer (`GET …?conflicts=true`).
pub fn parse(doc: &Value) -> Result<Read, SyncError> {
    let rev = doc.get("_rev").and_then(Value::as_str).ok_or_else(|| SyncError::Malformed("a lease without _rev".into()))?;
    let rev = Rev::parse(rev).map_err(|e| SyncError::Malformed(e.to_string()))?;
    let conflicts = doc
        .get("_conflicts")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).filter_map(|r| Rev::parse(r).ok()).collect())
        .unwrap_or_default();
    // A lease someone wrote by hand that does not read is nobody's: it may be taken.
    let text = |k: &str| doc.get(k).and_then(Value::as_str);
    let expires = text("expires").and_then(|e| DateTime::parse_from_rfc3339(e).ok()).map(|e| e.with_timezone(&Utc));
    let lease = match (text("holder"), text("device"), expires) {
        (Some(holder), Some(device), Some(expires)) => Some(Lease { holder: holder.to_string(), device: device.to_string(), expires }),
        _ => None,
    };
    Ok(Read { rev, lease, conflicts })
}

async fn read<T: Transport>(db: &HttpDb<T>) -> Result<Option<Read>, SyncError> {
    db.get_doc(LEASE_DOC).await?.as_ref().map(parse).transpose()
}

/// One turn at the lease for the device `me` (named `device`): read it, take or renew it when it
/// is free, expired or ours and due, read it back, and let the winning revision decide. Returns
/// the standing after that.
pub async fn hold<T: Transport>(db: &HttpDb<T>, me: &str, device: &str, now: DateTime<Utc>) -> Result<Standing, SyncError> {
    let mut current = read(db).await?;
    if due(current.as_ref(), me, now) {
        let lease = Lease { holder: me.to_string(), device: device.to_string(), expires: now + Duration::milliseconds(LEASE_MS) };
        let mut body = json!({"holder": lease.holder, "device": lease.device, "expires": lease.expires.to_rfc3339()});
        if let Some(r) = &current {
            body["_rev"] = json!(r.rev.to_string());
        }
        match db.put_doc(LEASE_DOC, &body).await {
            Ok(_) => {}
            // Someone else wrote it first: theirs stands.
            Err(e) if e.status() == Some(409) => {}
            Err(e) => return Err(e),
        }
        current = read(db).await?;
    }
    if let Some(r) = &current {
        let winner_is_me = r.lease.as_ref().is_some_and(|l| l.holder == me);
        if winner_is_me && !r.conflicts.is_empty() {
            // Two writes both succeeded (a cluster): the winner closes the other branches.
            for loser in &r.conflicts {
                let url = format!("{}?rev={}", db.doc_url(LEASE_DOC), super::encode(&loser.to_string()));
                match db.call(Method::Delete, url, None, 10_000).await {
                    Ok(_) => {}
                    Err(e) if matches!(e.status(), Some(404 | 409)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(standing(current.as_ref(), me, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn read_of(holder: &str, expires: i64) -> Read {
        Read {
            rev: Rev::parse("1-abc").unwrap(),
            lease: Some(Lease { holder: holder.into(), device: format!("{holder}'s desk"), expires: at(expires) }),
            conflicts: vec![],
        }
    }

    #[test]
    fn a_live_lease_belongs_to_its_holder_and_an_expired_one_to_whoever_takes_it() {
        let live = read_of("a", 10);
        assert!(may_take(Some(&live), "a", at(0)));
        assert!(!may_take(Some(&live), "b", at(0)));
        assert!(may_take(Some(&live), "b", at(10)), "expired at its instant");
        assert!(may_take(None, "b", at(0)));
        assert_eq!(standing(Some(&live), "a", at(0)), Standing::Mine);
        assert_eq!(standing(Some(&live), "b", at(0)), Standing::Other { device: "a's desk".into() });
        assert_eq!(standing(Some(&live), "a", at(11)), Standing::Free { since: Some(at(10)), device: Some("a's desk".into()) });
        assert_eq!(standing(None, "a", at(0)), Standing::Free { since: None, device: None });
    }

    #[test]
    fn the_holder_renews_only_when_a_third_is_left() {
        let lease = read_of("a", 15);
        assert!(!due(Some(&lease), "a", at(0)));
        assert!(!due(Some(&lease), "a", at(5)));
        assert!(due(Some(&lease), "a", at(6)));
        assert!(!due(Some(&lease), "b", at(6)), "not another device's while it lives");
    }

    #[test]
    fn a_lease_that_does_not_read_is_free() {
        let r = parse(&json!({"_id": LEASE_DOC, "_rev": "2-ff", "holder": 7, "_conflicts": ["2-aa"]})).unwrap();
        assert_eq!(r.lease, None);
        assert_eq!(r.conflicts, vec![Rev::parse("2-aa").unwrap()]);
        assert!(may_take(Some(&r), "anyone", at(0)));
        assert!(parse(&json!({"holder": "a"})).is_err(), "no _rev");
    }
}
