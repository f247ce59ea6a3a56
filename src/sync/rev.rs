//! Revisions and revision trees, as CouchDB keeps them.
//!
//! A revision is `N-hash`: its generation (the depth in the document's history) and an opaque hash.
//! A document's history is a tree of revisions: an edit adds a child to a leaf, two devices editing
//! the same leaf add two children (a conflict). Replication copies paths of this tree
//! (`_revisions: {start, ids}`, newest first) and merges them. Every replica picks the same
//! **winner** among the leaves, without talking to the others: a leaf that is not a deletion beats
//! one that is, then the higher generation wins, then the higher hash (compared as bytes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How many generations of a path are kept by default (CouchDB's `_revs_limit`).
pub const REVS_LIMIT: usize = 1000;

/// A revision id, `N-hash`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rev {
    /// The generation, from 1.
    pub pos: u64,
    pub hash: String,
}

/// Why a revision id could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a revision id (N-hash)")]
pub struct BadRev(pub String);

impl Rev {
    pub fn new(pos: u64, hash: impl Into<String>) -> Rev {
        Rev { pos, hash: hash.into() }
    }

    pub fn parse(text: &str) -> Result<Rev, BadRev> {
        let bad = || BadRev(text.chars().take(80).collect());
        let (pos, hash) = text.split_once('-').ok_or_else(bad)?;
        let pos: u64 = pos.parse().map_err(|_| bad())?;
        if pos == 0 || hash.is_empty() || hash.len() > 128 || !hash.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(Rev::new(pos, hash))
    }

    /// The revision an edit of `parent` (or a first write) gets: its hash is taken over the parent,
    /// the deletion flag and the body's text, so two devices making the same edit make the same
    /// revision, and no conflict.
    pub fn next(parent: Option<&Rev>, deleted: bool, body: &serde_json::Value) -> Rev {
        let mut h = Sha256::new();
        if let Some(p) = parent {
            h.update(p.to_string().as_bytes());
        }
        h.update([0, deleted as u8]);
        h.update(body.to_string().as_bytes());
        let digest = h.finalize();
        let hash: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Rev::new(parent.map_or(1, |p| p.pos + 1), hash)
    }

    /// CouchDB's order of two leaves: the greater one wins.
    fn beats(&self, deleted: bool, other: &Rev, other_deleted: bool) -> bool {
        (!deleted, self.pos, self.hash.as_bytes()) > (!other_deleted, other.pos, other.hash.as_bytes())
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.pos, self.hash)
    }
}

impl Serialize for Rev {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rev {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Rev, D::Error> {
        let text = String::deserialize(d)?;
        Rev::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A path of revisions as `_revisions` carries it: `start` is the newest generation, `ids` the
/// hashes from the newest back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revisions {
    pub start: u64,
    pub ids: Vec<String>,
}

impl Revisions {
    /// The path as revisions, newest first. Refused when it would go below generation 1.
    pub fn revs(&self) -> Result<Vec<Rev>, BadRev> {
        let bad = || BadRev(format!("_revisions start {} with {} ids", self.start, self.ids.len()));
        if self.ids.is_empty() || self.start < self.ids.len() as u64 {
            return Err(bad());
        }
        self.ids.iter().enumerate().map(|(i, h)| Rev::parse(&format!("{}-{}", self.start - i as u64, h))).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Node {
    /// The revision this one edited; `None` for a first revision or where the path was stemmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parent: Option<Rev>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
}

/// One document's revision tree (a forest, once old generations are stemmed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevTree {
    nodes: BTreeMap<Rev, Node>,
}

impl RevTree {
    pub fn new() -> RevTree {
        RevTree::default()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn contains(&self, rev: &Rev) -> bool {
        self.nodes.contains_key(rev)
    }

    /// Whether this revision is a deletion (`_deleted`).
    pub fn is_deleted(&self, rev: &Rev) -> bool {
        self.nodes.get(rev).is_some_and(|n| n.deleted)
    }

    /// Merges a path, newest first (as [`Revisions::revs`] gives it); the newest revision is a
    /// deletion when `deleted`. Returns whether anything was new. A path that does not reach a
    /// known revision starts a new root, as in CouchDB.
    pub fn merge_path(&mut self, path: &[Rev], deleted: bool) -> bool {
        let mut added = false;
        for (i, rev) in path.iter().enumerate() {
            let mut parent = path.get(i + 1).cloned();
            // Not a path past here: keep what was sound rather than make up ancestry.
            let broken = parent.as_ref().is_some_and(|p| p.pos + 1 != rev.pos);
            if broken {
                parent = None;
            }
            match self.nodes.get_mut(rev) {
                // A stemmed node learns its parent again; a known parent is never moved.
                Some(node) => {
                    if node.parent.is_none() && parent.is_some() {
                        node.parent = parent;
                        added = true;
                    }
                }
                None => {
                    self.nodes.insert(rev.clone(), Node { parent, deleted: deleted && i == 0 });
                    added = true;
                }
            }
            if broken {
                break;
            }
        }
        added
    }

    /// The leaves: revisions no other revision edited.
    pub fn leaves(&self) -> Vec<Rev> {
        let parents: BTreeSet<&Rev> = self.nodes.values().filter_map(|n| n.parent.as_ref()).collect();
        self.nodes.keys().filter(|r| !parents.contains(r)).cloned().collect()
    }

    pub fn is_leaf(&self, rev: &Rev) -> bool {
        self.contains(rev) && !self.nodes.values().any(|n| n.parent.as_ref() == Some(rev))
    }

    /// The winning revision, the same on every replica.
    pub fn winner(&self) -> Option<Rev> {
        let mut best: Option<Rev> = None;
        for leaf in self.leaves() {
            let deleted = self.is_deleted(&leaf);
            match &best {
                Some(b) if !leaf.beats(deleted, b, self.is_deleted(b)) => {}
                _ => best = Some(leaf),
            }
        }
        best
    }

    /// Leaves that are not deletions, other than the winner (`_conflicts`), highest first.
    pub fn conflicts(&self) -> Vec<Rev> {
        self.losing_leaves(false)
    }

    /// Deleted leaves other than the winner (`_deleted_conflicts`), highest first.
    pub fn deleted_conflicts(&self) -> Vec<Rev> {
        self.losing_leaves(true)
    }

    fn losing_leaves(&self, deleted: bool) -> Vec<Rev> {
        let winner = self.winner();
        let mut out: Vec<Rev> = self.leaves().into_iter().filter(|r| Some(r) != winner.as_ref() && self.is_deleted(r) == deleted).collect();
        out.sort_by(|a, b| (b.pos, b.hash.as_bytes()).cmp(&(a.pos, a.hash.as_bytes())));
        out
    }

    /// The path from this revision back to its oldest kept ancestor, newest first.
    pub fn path(&self, rev: &Rev) -> Vec<Rev> {
        let mut out = Vec::new();
        let mut at = Some(rev.clone());
        while let Some(r) = at {
            let Some(node) = self.nodes.get(&r) else { break };
            at = node.parent.clone();
            out.push(r);
        }
        out
    }

    /// `_revisions` for this revision, at most `limit` generations.
    pub fn revisions(&self, rev: &Rev, limit: usize) -> Revisions {
        let path = self.path(rev);
        Revisions { start: rev.pos, ids: path.iter().take(limit.max(1)).map(|r| r.hash.clone()).collect() }
    }

    /// Of these revisions, the ones this tree does not hold (what `_revs_diff` answers).
    pub fn missing(&self, revs: &[Rev]) -> Vec<Rev> {
        let mut out: Vec<Rev> = revs.iter().filter(|r| !self.contains(r)).cloned().collect();
        out.sort();
        out.dedup();
        out
    }

    /// Leaves older than a missing revision, which may be its ancestors (`possible_ancestors`).
    pub fn possible_ancestors(&self, missing: &[Rev]) -> Vec<Rev> {
        let Some(newest) = missing.iter().map(|r| r.pos).max() else { return Vec::new() };
        self.leaves().into_iter().filter(|l| l.pos < newest).collect()
    }

    /// Keeps only the newest `limit` generations of every path (CouchDB's stemming).
    pub fn stem(&mut self, limit: usize) {
        let limit = limit.max(1);
        let mut keep = BTreeSet::new();
        for leaf in self.leaves() {
            keep.extend(self.path(&leaf).into_iter().take(limit));
        }
        self.nodes.retain(|r, _| keep.contains(r));
        let kept: BTreeSet<Rev> = self.nodes.keys().cloned().collect();
        for node in self.nodes.values_mut() {
            if node.parent.as_ref().is_some_and(|p| !kept.contains(p)) {
                node.parent = None;
            }
        }
    }

    /// How many revisions the tree holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Rev {
        Rev::parse(s).unwrap()
    }

    fn path(s: &[&str]) -> Vec<Rev> {
        s.iter().map(|x| r(x)).collect()
    }

    #[test]
    fn revision_ids_are_read_and_refused() {
        assert_eq!(r("3-abc"), Rev::new(3, "abc"));
        assert_eq!(r("12-917fa2381192822767f010b95b45325b").to_string(), "12-917fa2381192822767f010b95b45325b");
        for bad in ["", "abc", "0-abc", "-abc", "3-", "x-abc", "3-a b", "-1-a"] {
            assert!(Rev::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn revisions_fields_become_a_path() {
        let revs = Revisions { start: 3, ids: vec!["c".into(), "b".into(), "a".into()] }.revs().unwrap();
        assert_eq!(revs, path(&["3-c", "2-b", "1-a"]));
        assert!(Revisions { start: 1, ids: vec!["b".into(), "a".into()] }.revs().is_err());
        assert!(Revisions { start: 1, ids: vec![] }.revs().is_err());
    }

    #[test]
    fn the_same_edit_makes_the_same_revision() {
        let body = serde_json::json!({"name": "Ada"});
        let a = Rev::next(None, false, &body);
        assert_eq!(a, Rev::next(None, false, &body));
        assert_eq!(a.pos, 1);
        assert_eq!(a.hash.len(), 32);
        let b = Rev::next(Some(&a), false, &body);
        assert_eq!(b.pos, 2);
        assert_ne!(b.hash, a.hash);
        assert_ne!(Rev::next(Some(&a), true, &body), b);
    }

    // CouchDB's "Replication and conflict model" example: two edits of 1-abc conflict, and every
    // replica picks the same one.
    #[test]
    fn a_conflict_has_one_winner_everywhere() {
        let mut left = RevTree::new();
        left.merge_path(&path(&["1-abc"]), false);
        left.merge_path(&path(&["2-def", "1-abc"]), false);
        let mut right = RevTree::new();
        right.merge_path(&path(&["2-xyz", "1-abc"]), false);
        right.merge_path(&path(&["1-abc"]), false);
        // Each learns the other's edit, in a different order.
        left.merge_path(&path(&["2-xyz", "1-abc"]), false);
        right.merge_path(&path(&["2-def", "1-abc"]), false);
        assert_eq!(left, right);
        assert_eq!(left.winner(), Some(r("2-xyz")));
        assert_eq!(left.conflicts(), vec![r("2-def")]);
        assert_eq!(left.leaves(), path(&["2-def", "2-xyz"]));
    }

    #[test]
    fn a_longer_history_beats_a_higher_hash_and_a_deletion_loses() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["2-zzz", "1-a"]), false);
        t.merge_path(&path(&["3-aaa", "2-bbb", "1-a"]), false);
        assert_eq!(t.winner(), Some(r("3-aaa")));
        assert_eq!(t.conflicts(), vec![r("2-zzz")]);
        // Deleting the winner hands the document to the live branch, generation notwithstanding.
        t.merge_path(&path(&["4-ddd", "3-aaa"]), true);
        assert_eq!(t.winner(), Some(r("2-zzz")));
        assert_eq!(t.conflicts(), Vec::<Rev>::new());
        assert_eq!(t.deleted_conflicts(), vec![r("4-ddd")]);
        // When every leaf is deleted, the highest deletion wins.
        t.merge_path(&path(&["3-eee", "2-zzz"]), true);
        assert_eq!(t.winner(), Some(r("4-ddd")));
        assert!(t.is_deleted(&t.winner().unwrap()));
        assert_eq!(t.deleted_conflicts(), vec![r("3-eee")]);
    }

    #[test]
    fn hashes_compare_as_bytes() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["2-B", "1-a"]), false);
        t.merge_path(&path(&["2-a", "1-a"]), false);
        // 'a' (0x61) > 'B' (0x42).
        assert_eq!(t.winner(), Some(r("2-a")));
    }

    #[test]
    fn merging_is_idempotent_and_order_free() {
        let paths = [(path(&["3-c", "2-b", "1-a"]), false), (path(&["2-x", "1-a"]), false), (path(&["4-d", "3-c"]), true), (path(&["3-y", "2-x"]), false)];
        let mut reference = RevTree::new();
        for (p, d) in &paths {
            reference.merge_path(p, *d);
        }
        let orders = [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
        for order in orders {
            let mut t = RevTree::new();
            for i in order {
                t.merge_path(&paths[i].0, paths[i].1);
                t.merge_path(&paths[i].0, paths[i].1);
            }
            assert_eq!(t, reference, "order {order:?}");
        }
        assert_eq!(reference.winner(), Some(r("3-y")));
        assert!(!reference.merge_path(&path(&["3-c", "2-b"]), false));
    }

    #[test]
    fn a_path_that_skips_a_generation_stops_there() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["5-e", "3-c", "2-b"]), false);
        assert_eq!(t.len(), 1);
        assert_eq!(t.path(&r("5-e")), path(&["5-e"]));
    }

    #[test]
    fn revs_diff_names_what_is_missing() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["2-b", "1-a"]), false);
        let missing = t.missing(&path(&["2-b", "3-c", "3-c", "2-x"]));
        assert_eq!(missing, path(&["2-x", "3-c"]));
        assert_eq!(t.possible_ancestors(&missing), path(&["2-b"]));
    }

    #[test]
    fn stemming_keeps_the_newest_generations_and_merges_back() {
        let mut t = RevTree::new();
        t.merge_path(&path(&["5-e", "4-d", "3-c", "2-b", "1-a"]), false);
        t.stem(3);
        assert_eq!(t.path(&r("5-e")), path(&["5-e", "4-d", "3-c"]));
        assert_eq!(t.revisions(&r("5-e"), 10), Revisions { start: 5, ids: vec!["e".into(), "d".into(), "c".into()] });
        assert_eq!(t.revisions(&r("5-e"), 2).ids.len(), 2);
        // A replica that still has the older part sends it again: it joins, nothing is duplicated.
        t.merge_path(&path(&["6-f", "5-e", "4-d", "3-c", "2-b"]), false);
        assert_eq!(t.winner(), Some(r("6-f")));
        assert_eq!(t.path(&r("6-f")).len(), 5);
    }
}
