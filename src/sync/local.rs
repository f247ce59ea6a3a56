//! The local end of a replication: every synced document's revision tree, the bodies of its
//! leaves (older bodies are dropped, as CouchDB's compaction does), and a local change sequence.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rev::REVS_LIMIT;
use super::{Change, Changes, Db, Rev, RevDoc, RevMap, RevTree, Seq, SyncError};

/// One document as kept locally.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocState {
    pub tree: RevTree,
    /// The body of each leaf (a deleted leaf's is empty).
    pub bodies: BTreeMap<String, Map<String, Value>>,
    /// The local sequence of its last change.
    pub seq: u64,
}

impl DocState {
    fn body(&self, rev: &Rev) -> Option<&Map<String, Value>> {
        self.bodies.get(&rev.to_string())
    }
}

/// Every synced document of one device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalDocs {
    /// A random id of this store, part of replication ids.
    pub uuid: String,
    docs: BTreeMap<String, DocState>,
    seq: u64,
    /// Local sequence → document id, for the change feed.
    by_seq: BTreeMap<u64, String>,
    locals: BTreeMap<String, Value>,
}

impl LocalDocs {
    pub fn new(uuid: impl Into<String>) -> LocalDocs {
        LocalDocs { uuid: uuid.into(), ..LocalDocs::default() }
    }

    /// The winning revision and its body; `None` when missing or deleted.
    pub fn get(&self, id: &str) -> Option<(Rev, &Map<String, Value>)> {
        let doc = self.docs.get(id)?;
        let winner = doc.tree.winner()?;
        if doc.tree.is_deleted(&winner) {
            return None;
        }
        doc.body(&winner).map(|b| (winner, b))
    }

    /// The winning revision, deleted or not.
    pub fn winner(&self, id: &str) -> Option<Rev> {
        self.docs.get(id)?.tree.winner()
    }

    /// The losing live leaves of a document, with their bodies (highest first).
    pub fn conflicts(&self, id: &str) -> Vec<(Rev, Map<String, Value>)> {
        let Some(doc) = self.docs.get(id) else { return Vec::new() };
        doc.tree.conflicts().into_iter().filter_map(|r| doc.body(&r).map(|b| (r.clone(), b.clone()))).collect()
    }

    /// Ids of the documents with conflicts.
    pub fn conflicted(&self) -> Vec<String> {
        self.docs.iter().filter(|(_, d)| !d.tree.conflicts().is_empty()).map(|(id, _)| id.clone()).collect()
    }

    pub fn tree(&self, id: &str) -> Option<&RevTree> {
        self.docs.get(id).map(|d| &d.tree)
    }

    /// A local edit on top of the winner (or the first revision). Writing the body the winner
    /// already has changes nothing and returns the winner.
    pub fn put(&mut self, id: &str, body: Map<String, Value>) -> Rev {
        self.edit_on(id, None, Some(body))
    }

    /// Deletes the document (a deletion revision on the winner); `None` when there was none.
    pub fn delete(&mut self, id: &str) -> Option<Rev> {
        self.get(id)?;
        Some(self.edit_on(id, None, None))
    }

    /// Settles a conflict: `keep`'s body is written on top of the winner and every other live
    /// leaf is closed with a deletion, so every replica then has one live leaf.
    pub fn resolve(&mut self, id: &str, keep: &Rev) -> Option<Rev> {
        let doc = self.docs.get(id)?;
        let body = doc.body(keep)?.clone();
        let losers = doc.tree.conflicts();
        let winner = doc.tree.winner()?;
        for loser in losers {
            self.edit_on(id, Some(&loser), None);
        }
        if &winner == keep {
            return Some(winner);
        }
        Some(self.edit_on(id, Some(&winner), Some(body)))
    }

    /// Edits one leaf (the winner when `on` is `None`); `body` `None` is a deletion.
    pub fn edit_on(&mut self, id: &str, on: Option<&Rev>, body: Option<Map<String, Value>>) -> Rev {
        let doc = self.docs.entry(id.to_string()).or_default();
        let parent = on.cloned().or_else(|| doc.tree.winner());
        if let Some(p) = &parent {
            if body.is_some() && !doc.tree.is_deleted(p) && doc.body(p) == body.as_ref() {
                return p.clone();
            }
        }
        let deleted = body.is_none();
        let body = body.unwrap_or_default();
        let rev = Rev::next(parent.as_ref(), deleted, &Value::Object(body.clone()));
        let mut path = vec![rev.clone()];
        path.extend(parent.clone());
        doc.tree.merge_path(&path, deleted);
        if let Some(p) = &parent {
            doc.bodies.remove(&p.to_string());
        }
        doc.bodies.insert(rev.to_string(), body);
        self.seq += 1;
        let seq = self.seq;
        let doc = self.docs.get_mut(id).expect("just written");
        if doc.seq != 0 {
            self.by_seq.remove(&doc.seq);
        }
        doc.seq = seq;
        self.by_seq.insert(seq, id.to_string());
        rev
    }

    /// Changes after a local sequence number, oldest first.
    pub fn changes_since(&self, since: u64, limit: usize) -> Changes {
        let mut results = Vec::new();
        let mut last = since;
        for (seq, id) in self.by_seq.range(since + 1..).take(limit) {
            let doc = &self.docs[id];
            let winner = doc.tree.winner();
            results.push(Change { seq: Value::from(*seq), id: id.clone(), revs: doc.tree.leaves(), deleted: winner.is_some_and(|w| doc.tree.is_deleted(&w)) });
            last = *seq;
        }
        if results.is_empty() {
            last = self.seq.max(since);
        }
        Changes { results, last_seq: Value::from(last) }
    }

    /// The current local sequence.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Ids of every document, with its winner, in id order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.docs.keys().map(String::as_str)
    }

    /// Merges revisions written elsewhere; returns the ids whose winner changed.
    pub fn merge(&mut self, incoming: &[RevDoc]) -> Result<Vec<String>, SyncError> {
        let mut changed = Vec::new();
        for doc in incoming {
            let path = doc.revisions.revs().map_err(|e| SyncError::Malformed(e.to_string()))?;
            let state = self.docs.entry(doc.id.clone()).or_default();
            let before = state.tree.winner();
            let added = state.tree.merge_path(&path, doc.deleted);
            if !added && (state.body(&doc.rev).is_some() || !state.tree.is_leaf(&doc.rev)) {
                continue;
            }
            if state.tree.is_leaf(&doc.rev) {
                state.bodies.insert(doc.rev.to_string(), if doc.deleted { Map::new() } else { doc.body.clone() });
            }
            // Bodies are kept for leaves only.
            let tree = &state.tree;
            state.bodies.retain(|r, _| Rev::parse(r).is_ok_and(|r| tree.is_leaf(&r)));
            state.tree.stem(REVS_LIMIT);
            let after = state.tree.winner();
            self.seq += 1;
            let seq = self.seq;
            let state = self.docs.get_mut(&doc.id).expect("just merged");
            if state.seq != 0 {
                self.by_seq.remove(&state.seq);
            }
            state.seq = seq;
            self.by_seq.insert(seq, doc.id.clone());
            if before != after && !changed.contains(&doc.id) {
                changed.push(doc.id.clone());
            }
        }
        Ok(changed)
    }

    fn rev_doc(&self, id: &str, rev: &Rev) -> Option<RevDoc> {
        let state = self.docs.get(id)?;
        let body = state.body(rev)?;
        Some(RevDoc {
            id: id.to_string(),
            rev: rev.clone(),
            deleted: state.tree.is_deleted(rev),
            revisions: state.tree.revisions(rev, REVS_LIMIT),
            body: body.clone(),
        })
    }
}

/// The local document store as one end of a replication.
#[derive(Debug, Default)]
pub struct MemoryDb {
    pub docs: RefCell<LocalDocs>,
}

impl MemoryDb {
    pub fn new(uuid: &str) -> MemoryDb {
        MemoryDb { docs: RefCell::new(LocalDocs::new(uuid)) }
    }
}

fn local_seq(since: &Seq) -> u64 {
    match since {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::String(s) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

impl Db for MemoryDb {
    fn identity(&self) -> String {
        format!("piket-local:{}", self.docs.borrow().uuid)
    }

    async fn changes(&self, since: &Seq, limit: usize, _wait_ms: Option<u32>) -> Result<Changes, SyncError> {
        Ok(self.docs.borrow().changes_since(local_seq(since), limit))
    }

    async fn revs_diff(&self, revs: &RevMap) -> Result<RevMap, SyncError> {
        let docs = self.docs.borrow();
        let mut out = RevMap::new();
        for (id, wanted) in revs {
            let missing = match docs.docs.get(id) {
                Some(d) => d.tree.missing(wanted),
                None => wanted.clone(),
            };
            if !missing.is_empty() {
                out.insert(id.clone(), missing);
            }
        }
        Ok(out)
    }

    async fn get_revs(&self, revs: &RevMap) -> Result<Vec<RevDoc>, SyncError> {
        let docs = self.docs.borrow();
        Ok(revs.iter().flat_map(|(id, rs)| rs.iter().filter_map(|r| docs.rev_doc(id, r))).collect())
    }

    async fn put_revs(&self, docs: &[RevDoc]) -> Result<Vec<(String, String)>, SyncError> {
        self.docs.borrow_mut().merge(docs)?;
        Ok(Vec::new())
    }

    async fn get_local(&self, id: &str) -> Result<Option<Value>, SyncError> {
        Ok(self.docs.borrow().locals.get(id).cloned())
    }

    async fn put_local(&self, id: &str, doc: &Value) -> Result<(), SyncError> {
        self.docs.borrow_mut().locals.insert(id.to_string(), doc.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn edits_make_a_history_and_a_change_feed() {
        let mut d = LocalDocs::new("a");
        let r1 = d.put("person:ada", body(json!({"name": "Ada"})));
        assert_eq!(d.put("person:ada", body(json!({"name": "Ada"}))), r1, "an unchanged write is no edit");
        let r2 = d.put("person:ada", body(json!({"name": "Ada L."})));
        assert_eq!(r2.pos, 2);
        d.put("person:bob", body(json!({"name": "Bob"})));
        assert_eq!(d.get("person:ada").unwrap().1["name"], "Ada L.");
        let feed = d.changes_since(0, 10);
        assert_eq!(feed.results.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["person:ada", "person:bob"]);
        assert_eq!(feed.last_seq, json!(3));
        assert!(d.changes_since(3, 10).results.is_empty());
        assert_eq!(d.delete("person:bob").map(|r| r.pos), Some(2));
        assert!(d.get("person:bob").is_none());
        assert!(d.delete("person:bob").is_none());
        assert!(d.changes_since(3, 10).results[0].deleted);
    }

    #[test]
    fn merged_conflicts_are_kept_and_resolved_once() {
        let mut a = LocalDocs::new("a");
        let base = a.put("policy:web", body(json!({"v": 0})));
        let mut b = a.clone();
        let ra = a.put("policy:web", body(json!({"v": "a"})));
        let rb = b.put("policy:web", body(json!({"v": "b"})));
        let from_b = b.rev_doc("policy:web", &rb).unwrap();
        assert_eq!(from_b.revisions.ids, vec![rb.hash.clone(), base.hash.clone()]);
        a.merge(&[from_b]).unwrap();
        let winner = a.winner("policy:web").unwrap();
        assert_eq!(winner, if ra.hash > rb.hash { ra.clone() } else { rb.clone() });
        assert_eq!(a.conflicts("policy:web").len(), 1);
        assert_eq!(a.conflicted(), vec!["policy:web".to_string()]);
        // Keep the loser: its body wins, the other branch is closed.
        let loser = a.conflicts("policy:web")[0].0.clone();
        let kept_body = a.conflicts("policy:web")[0].1.clone();
        a.resolve("policy:web", &loser).unwrap();
        assert!(a.conflicts("policy:web").is_empty());
        assert_eq!(a.get("policy:web").unwrap().1, &kept_body);
    }
}
