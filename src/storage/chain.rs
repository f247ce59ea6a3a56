//! The stored audit chain (schema 6): every timeline row carries its [`Link`] and every archived
//! incident its `chain`, so an edit of stored data after the fact shows as a broken link.
//!
//! Rows written before schema 6 had none. The upgrade to 6 leaves the [`AUDIT_CHAIN_PENDING`]
//! settings row in the upgrade's own transaction, and [`link_unlinked`] (run right after the
//! database opens) links every such row and archive record from the data as found, in batches of
//! whole incidents, removing the row in its last batch: the chain starts at the migration, and a
//! migration cut short resumes on the next open.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{ArchivedIncident, Batch, Link, Setting, Store, StoreError, TimelineRow};
use crate::audit;
use crate::engine::id::IncidentId;

/// The settings row saying some stored rows may still have no audit link. Storage's own: never
/// taken from a backup (a restore links everything it writes).
pub const AUDIT_CHAIN_PENDING: &str = "audit-chain-pending";

/// Timeline rows (or archive records) written per transaction while linking.
const LINK_BATCH: usize = 500;

/// The settings row [`AUDIT_CHAIN_PENDING`].
pub fn pending_marker() -> Setting {
    Setting { key: AUDIT_CHAIN_PENDING.into(), value: serde_json::json!(true) }
}

/// Rows grouped by incident, each incident's in `seq` order.
pub fn by_incident(rows: Vec<TimelineRow>) -> BTreeMap<IncidentId, Vec<TimelineRow>> {
    let mut out: BTreeMap<IncidentId, Vec<TimelineRow>> = BTreeMap::new();
    for row in rows {
        out.entry(row.incident.clone()).or_default().push(row);
    }
    for rows in out.values_mut() {
        rows.sort_by_key(|r| r.seq);
    }
    out
}

/// Each row's link, the stored one where there is one, else computed (rows of one incident, in
/// `seq` order).
pub fn resolve_rows(incident: &str, rows: &[TimelineRow]) -> Vec<Link> {
    audit::resolve(incident, rows.iter().map(|r| (&r.entry, r.link.as_ref())))
}

/// When [`AUDIT_CHAIN_PENDING`] is set: links every timeline row and archived incident that has
/// no link yet, from the data as it is now, then removes the row. Returns how many timeline rows
/// and archive records were linked (0 when nothing was pending).
pub async fn link_unlinked<S: Store>(store: &S, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let pending = store.list::<Setting>().await?.iter().any(|s| s.id == AUDIT_CHAIN_PENDING);
    if !pending {
        return Ok(0);
    }
    let mut linked = 0;
    let mut batch = Batch::new();
    for (incident, rows) in by_incident(store.list::<TimelineRow>().await?.into_iter().map(|e| e.value).collect()) {
        if rows.iter().all(|r| r.link.is_some()) {
            continue;
        }
        let links = resolve_rows(&incident, &rows);
        for (mut row, link) in rows.into_iter().zip(links) {
            if row.link.is_none() {
                row.link = Some(link);
                batch.put(&row);
                linked += 1;
            }
        }
        // Whole incidents a transaction: an incident is never left half linked.
        if batch.ops.len() >= LINK_BATCH {
            store.commit(std::mem::take(&mut batch), now).await?;
        }
    }
    let mut after: Option<String> = None;
    loop {
        let page = store.page::<ArchivedIncident>(after.as_deref(), LINK_BATCH).await?;
        let done = page.len() < LINK_BATCH;
        after = page.last().map(|e| e.id.clone());
        for e in page {
            let mut archived = e.value;
            if archived.chain.is_empty() && !archived.incident.timeline.is_empty() {
                archived.chain = audit::chain(&archived.incident);
                batch.put(&archived);
                linked += 1;
            }
        }
        if batch.ops.len() >= LINK_BATCH {
            store.commit(std::mem::take(&mut batch), now).await?;
        }
        if done {
            break;
        }
    }
    batch.delete::<Setting>(AUDIT_CHAIN_PENDING);
    store.commit(batch, now).await?;
    Ok(linked)
}
