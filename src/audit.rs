//! A tamper-evident audit trail of every timeline entry: the pure part (hashing, the stored
//! [`Link`], checking stored links, the export format, verification). Storing the link with each
//! entry is the storage layer's job: each timeline row carries its [`Link`] from the moment it is
//! written, each archived incident the hash of every entry, so an edit of stored data after the
//! fact shows as a broken link.
//!
//! **The chain.** Entry `n` of an incident is linked to entry `n − 1` of the same incident by
//! that entry's hash; entry 0 links to [`GENESIS`]. An entry's hash is the SHA-256 (RustCrypto
//! `sha2`) of its *canonical serialization*: the compact JSON of
//! `{"incident": id, "index": n, "prev": prev_hash, "entry": entry}` with the entry written as
//! [`TimelineEntry`] serializes (fields in declaration order, absent optional fields left out, times
//! in RFC 3339 UTC), so the same entry always hashes the same and reordering the JSON keys of a
//! line does not matter, while changing any value does.
//!
//! **The daily chain head** links the incidents together: an entry belongs to the UTC day of its
//! `at` (never earlier than the day of the incident's previous entry), and after the last entry of
//! a day comes that day's head, the SHA-256 of
//! `{"day": "YYYY-MM-DD", "prev": previous_head, "incidents": [{"incident", "index", "hash"}, …]}` —
//! every incident with entries that day, by id, with its last entry's index and hash — chained to
//! the previous day's head (the first to [`GENESIS`]). Removing an incident's last entries, or a
//! whole incident, breaks the head; the file must end with a head. Keep the last head's hash (the
//! [`Summary::head`]) somewhere else too: a forger who rewrites a file from some point on and
//! recomputes every hash after it is caught only by comparing with a head written down before.
//!
//! **The export** is JSON Lines: one `{"type": "entry", "incident", "index", "prev", "hash",
//! "entry"}` per entry (by day, then incident id, then index) and one `{"type": "head", "day",
//! "prev", "hash", "incidents"}` after each day. [`verify`] names the first broken link.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::incident::{Incident, IncidentId, TimelineEntry};

/// The hash entry 0 of every incident, and the first day's head, link to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn sha256_json<T: Serialize>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).expect("audit records serialize");
    hex(&Sha256::digest(bytes))
}

#[derive(Serialize)]
struct Canonical<'a> {
    incident: &'a str,
    index: usize,
    prev: &'a str,
    entry: &'a TimelineEntry,
}

/// The hash of entry `index` of `incident`, linked to `prev`.
pub fn entry_hash(incident: &str, index: usize, prev: &str, entry: &TimelineEntry) -> String {
    sha256_json(&Canonical { incident, index, prev, entry })
}

/// What a stored timeline entry carries: the hash of the incident's previous entry ([`GENESIS`]
/// for entry 0) and its own hash, over the entry as it was written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub prev: String,
    pub hash: String,
}

impl Link {
    /// The link of entry `index` of `incident`, following the entry whose hash is `prev`.
    pub fn new(incident: &str, index: usize, prev: &str, entry: &TimelineEntry) -> Link {
        Link { prev: prev.to_string(), hash: entry_hash(incident, index, prev, entry) }
    }

    /// The links a chain of hashes (an archived incident's) stands for, in order.
    pub fn of_chain(chain: &[String]) -> Vec<Option<Link>> {
        let mut prev = GENESIS;
        chain
            .iter()
            .map(|hash| {
                let link = Link { prev: prev.to_string(), hash: hash.clone() };
                prev = hash;
                Some(link)
            })
            .collect()
    }
}

/// Each entry's link, from (entry, its stored link) in order: the stored one where there is one,
/// else computed from the entry and the link before it. Hashes only the entries without one.
pub fn resolve<'a>(incident: &str, entries: impl IntoIterator<Item = (&'a TimelineEntry, Option<&'a Link>)>) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    for (n, (entry, stored)) in entries.into_iter().enumerate() {
        let link = match stored {
            Some(link) => link.clone(),
            None => Link::new(incident, n, out.last().map_or(GENESIS, |l| l.hash.as_str()), entry),
        };
        out.push(link);
    }
    out
}

/// The first stored entry whose link does not hold (see [`check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub index: usize,
    pub why: String,
}

/// Checks the stored links of an incident's entries (`stored[n]` belongs to `entries[n]`; `None`
/// where an entry has none). Entries stored before the chain existed have no link, so a chain may
/// start late; but an entry without a link after one with a link, a link over other content, or
/// a link that does not follow the entry before it is a break, and so are links left over at
/// the end (an entry removed).
pub fn check(incident: &str, entries: &[TimelineEntry], stored: &[Option<Link>]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_string();
    let mut linked = false;
    for (n, entry) in entries.iter().enumerate() {
        let at = |why: &str| ChainBreak { index: n, why: why.to_string() };
        match stored.get(n) {
            Some(Some(link)) => {
                if link.prev != prev {
                    return Err(at("its audit link does not follow the entry before it (an entry edited, removed or moved?)"));
                }
                if entry_hash(incident, n, &link.prev, entry) != link.hash {
                    return Err(at("its audit link does not match (edited or removed?)"));
                }
                linked = true;
                prev = link.hash.clone();
            }
            _ if linked => return Err(at("it has no audit link, though the entries before it have (its link removed?)")),
            _ => prev = entry_hash(incident, n, &prev, entry),
        }
    }
    if stored.len() > entries.len() && stored[entries.len()..].iter().any(Option::is_some) {
        return Err(ChainBreak { index: entries.len(), why: "it is missing, but the audit chain still has its link (removed?)".into() });
    }
    Ok(())
}

/// An incident's last entry of a day, as a chain head lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tip {
    pub incident: IncidentId,
    pub index: usize,
    pub hash: String,
}

#[derive(Serialize)]
struct CanonicalHead<'a> {
    day: NaiveDate,
    prev: &'a str,
    incidents: &'a [Tip],
}

/// The hash of a day's chain head.
pub fn head_hash(day: NaiveDate, prev: &str, incidents: &[Tip]) -> String {
    sha256_json(&CanonicalHead { day, prev, incidents })
}

/// One line of the export.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Line {
    Entry { incident: IncidentId, index: usize, prev: String, hash: String, entry: TimelineEntry },
    Head { day: NaiveDate, prev: String, hash: String, incidents: Vec<Tip> },
}

/// Each entry's hash, in timeline order (what the storage layer keeps beside each entry).
pub fn chain(incident: &Incident) -> Vec<String> {
    let mut prev = GENESIS.to_string();
    incident
        .timeline
        .iter()
        .enumerate()
        .map(|(n, e)| {
            prev = entry_hash(&incident.id, n, &prev, e);
            prev.clone()
        })
        .collect()
}

fn day_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// The audit log of `incidents` as JSON Lines (each line ends in `\n`), every link computed.
pub fn export<'a>(incidents: impl IntoIterator<Item = &'a Incident>) -> String {
    export_linked(incidents.into_iter().map(|i| Trail { incident: &i.id, entries: &i.timeline, links: &[] }))
}

/// One incident's entries as stored, with the link stored beside each (`links[n]` for
/// `entries[n]`, `None` or missing where there is none).
#[derive(Clone, Copy, Debug)]
pub struct Trail<'a> {
    pub incident: &'a str,
    pub entries: &'a [TimelineEntry],
    pub links: &'a [Option<Link>],
}

/// The audit log of stored trails as JSON Lines: each entry with the link that is **stored**
/// (so an entry edited after it was written no longer matches its hash and [`verify`] names it),
/// computed only where an entry has none.
pub fn export_linked<'a>(trails: impl IntoIterator<Item = Trail<'a>>) -> String {
    // (day, incident, index) → (prev, hash, entry)
    let mut rows: Vec<(NaiveDate, &str, usize, String, String, &TimelineEntry)> = Vec::new();
    for trail in trails {
        let mut prev = GENESIS.to_string();
        let mut day = NaiveDate::MIN;
        for (n, e) in trail.entries.iter().enumerate() {
            day = day.max(day_of(e.at));
            let link = match trail.links.get(n) {
                Some(Some(link)) => link.clone(),
                _ => Link::new(trail.incident, n, &prev, e),
            };
            prev = link.hash.clone();
            rows.push((day, trail.incident, n, link.prev, link.hash, e));
        }
    }
    rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let mut out = String::new();
    let mut head = GENESIS.to_string();
    let mut i = 0;
    while i < rows.len() {
        let day = rows[i].0;
        let mut tips: BTreeMap<&str, Tip> = BTreeMap::new();
        while i < rows.len() && rows[i].0 == day {
            let (_, incident, index, prev, hash, entry) = &rows[i];
            let line = Line::Entry { incident: (*incident).into(), index: *index, prev: prev.clone(), hash: hash.clone(), entry: (*entry).clone() };
            out.push_str(&serde_json::to_string(&line).expect("a line serializes"));
            out.push('\n');
            tips.insert(incident, Tip { incident: (*incident).into(), index: *index, hash: hash.clone() });
            i += 1;
        }
        let incidents: Vec<Tip> = tips.into_values().collect();
        let hash = head_hash(day, &head, &incidents);
        let line = Line::Head { day, prev: std::mem::replace(&mut head, hash.clone()), hash, incidents };
        out.push_str(&serde_json::to_string(&line).expect("a line serializes"));
        out.push('\n');
    }
    out
}

/// What a sound file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub entries: usize,
    pub incidents: usize,
    pub days: usize,
    /// The last day's head hash (compare it with one kept elsewhere); [`GENESIS`] for an empty file.
    pub head: String,
}

/// The first link that does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}{}: {why}", match (incident, index) { (Some(i), Some(n)) => format!(", incident “{i}” entry {n}"), (Some(i), None) => format!(", incident “{i}”"), _ => String::new() })]
pub struct BrokenLink {
    /// 1-based line of the file.
    pub line: usize,
    pub incident: Option<IncidentId>,
    pub index: Option<usize>,
    pub why: String,
}

/// Checks every link of an exported audit log, in order, and names the first broken one.
pub fn verify(text: &str) -> Result<Summary, BrokenLink> {
    struct Last {
        index: usize,
        hash: String,
        day: NaiveDate,
    }
    let mut last: BTreeMap<IncidentId, Last> = BTreeMap::new();
    let mut pending: BTreeMap<IncidentId, Tip> = BTreeMap::new();
    let mut today: Option<NaiveDate> = None;
    let (mut head, mut head_day) = (GENESIS.to_string(), None::<NaiveDate>);
    let (mut entries, mut days, mut line_no) = (0, 0, 0);
    for (n, raw) in text.lines().enumerate() {
        line_no = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let broken = |incident: Option<&str>, index: Option<usize>, why: String| BrokenLink { line: n + 1, incident: incident.map(Into::into), index, why };
        let line: Line = crate::json::from_str(raw).map_err(|e| broken(None, None, format!("not an audit line: {e}")))?;
        match line {
            Line::Entry { incident, index, prev, hash, entry } => {
                let at = |why: String| broken(Some(&incident), Some(index), why);
                let before = last.get(&incident);
                let (want_index, want_prev, min_day) = before.map_or((0, GENESIS, NaiveDate::MIN), |l| (l.index + 1, l.hash.as_str(), l.day));
                if index != want_index {
                    return Err(at(format!("expected entry {want_index} of this incident here (an entry was removed, added or moved)")));
                }
                if prev != want_prev {
                    return Err(at("its “prev” is not the hash of the incident's previous entry".into()));
                }
                if entry_hash(&incident, index, &prev, &entry) != hash {
                    return Err(at("its content does not match its hash (the entry was edited)".into()));
                }
                let day = min_day.max(day_of(entry.at));
                match today {
                    Some(d) if d != day => return Err(at(format!("an entry of {day} before the chain head of {d}"))),
                    None if head_day.is_some_and(|h| day <= h) => return Err(at(format!("an entry of {day} after that day's chain head"))),
                    _ => today = Some(day),
                }
                pending.insert(incident.clone(), Tip { incident: incident.clone(), index, hash: hash.clone() });
                last.insert(incident, Last { index, hash, day });
                entries += 1;
            }
            Line::Head { day, prev, hash, incidents } => {
                let at = |why: String| broken(None, None, why);
                if today.is_some_and(|d| d != day) || head_day.is_some_and(|h| day <= h) {
                    return Err(at(format!("the chain head of {day} is out of place")));
                }
                if prev != head {
                    return Err(at(format!("the chain head of {day} does not link to the previous day's head")));
                }
                let want: Vec<Tip> = std::mem::take(&mut pending).into_values().collect();
                if incidents != want {
                    let missing = want.iter().find(|t| !incidents.contains(t)).or_else(|| incidents.iter().find(|t| !want.contains(t)));
                    let why = format!("the chain head of {day} does not list the day's last entries (entries removed or added)");
                    return Err(BrokenLink { line: n + 1, incident: missing.map(|t| t.incident.clone()), index: missing.map(|t| t.index), why });
                }
                if head_hash(day, &prev, &incidents) != hash {
                    return Err(at(format!("the chain head of {day} does not match its hash")));
                }
                head = hash;
                head_day = Some(day);
                today = None;
                days += 1;
            }
        }
    }
    if let Some(day) = today {
        let (incident, index) = pending.values().next().map(|t| (Some(t.incident.clone()), Some(t.index))).unwrap_or_default();
        return Err(BrokenLink { line: line_no + 1, incident, index, why: format!("the file ends without the chain head of {day} (cut short?)") });
    }
    Ok(Summary { entries, incidents: last.len(), days, head })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[0, 15, 16, 255]), "000f10ff");
        // SHA-256 of the empty string, as every reference gives it.
        assert_eq!(hex(&Sha256::digest(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn an_empty_log_verifies() {
        assert_eq!(verify("").unwrap(), Summary { entries: 0, incidents: 0, days: 0, head: GENESIS.into() });
    }
}
