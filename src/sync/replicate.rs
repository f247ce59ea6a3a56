//! One-way replication, source → target, as CouchDB's replication protocol describes it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{seq_zero, Db, RevMap, Seq, SyncError};

/// A replication's checkpoint (`_local/<replication id>`), kept the same on both ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub session_id: String,
    pub source_last_seq: Seq,
    #[serde(default)]
    pub history: Vec<CheckpointEntry>,
    #[serde(default)]
    pub replication_id_version: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointEntry {
    pub session_id: String,
    pub recorded_seq: Seq,
}

/// How many past sessions a checkpoint remembers.
const HISTORY: usize = 50;

/// Where to resume: the protocol's "compare replication logs". Both ends agreeing on the last
/// session resume from its sequence; otherwise the newest session both remember; otherwise the
/// start. A checkpoint only one end has (the other lost it, or was replaced) restarts from zero,
/// which is always safe: `_revs_diff` skips what the target already has.
pub fn start_seq(source: Option<&Checkpoint>, target: Option<&Checkpoint>) -> Seq {
    let (Some(s), Some(t)) = (source, target) else { return seq_zero() };
    if s.session_id == t.session_id {
        return s.source_last_seq.clone();
    }
    for entry in &s.history {
        if entry.session_id == t.session_id || t.history.iter().any(|e| e.session_id == entry.session_id) {
            return entry.recorded_seq.clone();
        }
    }
    seq_zero()
}

impl Checkpoint {
    /// The checkpoint after a batch of this session.
    fn after(previous: Option<&Checkpoint>, session_id: &str, seq: &Seq) -> Checkpoint {
        let mut history = vec![CheckpointEntry { session_id: session_id.to_string(), recorded_seq: seq.clone() }];
        if let Some(p) = previous {
            history.extend(p.history.iter().filter(|e| e.session_id != session_id).cloned());
        }
        history.truncate(HISTORY);
        Checkpoint { session_id: session_id.to_string(), source_last_seq: seq.clone(), history, replication_id_version: 3 }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// `_local/` id of the checkpoint, the same on both ends (one per device and direction).
    pub replication_id: String,
    /// This run's session (a fresh random id for each run).
    pub session_id: String,
    /// Changes read at a time.
    pub batch: usize,
    /// Wait this long for a first change when there is none (a longpoll on a remote source).
    pub wait_ms: Option<u32>,
    /// Copy only documents whose id starts so (the feed is still read to its end).
    pub only_prefix: Option<&'static str>,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub changes_read: usize,
    pub missing_found: usize,
    pub docs_written: usize,
    /// Documents the target refused, with why (a `validate_doc_update`, say).
    pub refused: Vec<(String, String)>,
    pub last_seq: Value,
}

fn read_checkpoint(v: Option<Value>) -> Option<Checkpoint> {
    v.and_then(|v| crate::json::from_value::<Checkpoint>(v).ok())
}

/// Copies every change of `source` since the last checkpoint to `target`, until the source has
/// no more. Checkpoints are written to both ends after each batch, so a run cut short resumes
/// from its last batch.
pub async fn replicate<S: Db, T: Db>(source: &S, target: &T, options: &Options) -> Result<Outcome, SyncError> {
    let id = &options.replication_id;
    let source_log = read_checkpoint(source.get_local(id).await?);
    let target_log = read_checkpoint(target.get_local(id).await?);
    let mut since = start_seq(source_log.as_ref(), target_log.as_ref());
    let mut previous = source_log.or(target_log);
    let mut outcome = Outcome { last_seq: since.clone(), ..Outcome::default() };
    let mut wait = options.wait_ms;
    loop {
        let changes = source.changes(&since, options.batch.max(1), wait.take()).await?;
        if changes.results.is_empty() {
            break;
        }
        outcome.changes_read += changes.results.len();
        let mut wanted = RevMap::new();
        for change in changes.results.iter().filter(|c| options.only_prefix.is_none_or(|p| c.id.starts_with(p))) {
            wanted.entry(change.id.clone()).or_default().extend(change.revs.iter().cloned());
        }
        let missing = target.revs_diff(&wanted).await?;
        outcome.missing_found += missing.values().map(Vec::len).sum::<usize>();
        if !missing.is_empty() {
            let docs = source.get_revs(&missing).await?;
            let refused = target.put_revs(&docs).await?;
            outcome.docs_written += docs.len() - refused.len().min(docs.len());
            outcome.refused.extend(refused);
        }
        since = changes.last_seq.clone();
        let checkpoint = Checkpoint::after(previous.as_ref(), &options.session_id, &since);
        let doc = serde_json::to_value(&checkpoint).expect("plain fields");
        target.put_local(id, &doc).await?;
        // A source we may only read (a reader's account) keeps no checkpoint: the target's is
        // then compared with nothing and the next run starts over, which `_revs_diff` makes cheap.
        match source.put_local(id, &doc).await {
            Ok(()) => {}
            Err(e) if matches!(e.status(), Some(401 | 403)) => {}
            Err(e) => return Err(e),
        }
        previous = Some(checkpoint);
        outcome.last_seq = since.clone();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::MemoryDb;
    use pollster_like::block_on;
    use serde_json::json;

    /// A tiny executor: every future here is ready at once (memory ends).
    mod pollster_like {
        use std::future::Future;
        use std::pin::pin;
        use std::task::{Context, Poll, Waker};

        pub fn block_on<F: Future>(f: F) -> F::Output {
            let mut f = pin!(f);
            let mut cx = Context::from_waker(Waker::noop());
            loop {
                if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                    return v;
                }
            }
        }
    }

    fn log(session: &str, seq: u64, history: &[(&str, u64)]) -> Checkpoint {
        Checkpoint {
            session_id: session.into(),
            source_last_seq: json!(seq),
            history: history.iter().map(|(s, q)| CheckpointEntry { session_id: (*s).into(), recorded_seq: json!(q) }).collect(),
            replication_id_version: 3,
        }
    }

    #[test]
    fn checkpoints_resume_where_both_ends_agree() {
        let a = log("s2", 40, &[("s2", 40), ("s1", 10)]);
        assert_eq!(start_seq(Some(&a), Some(&a.clone())), json!(40));
        // The target lost its last checkpoint write: resume from the session both remember.
        let t = log("s1", 10, &[("s1", 10)]);
        assert_eq!(start_seq(Some(&a), Some(&t)), json!(10));
        assert_eq!(start_seq(Some(&a), Some(&log("other", 99, &[("other", 99)]))), json!(0));
        assert_eq!(start_seq(None, Some(&a)), json!(0));
        assert_eq!(start_seq(Some(&a), None), json!(0));
    }

    fn opts(session: &str) -> Options {
        Options { replication_id: "piket-test".into(), session_id: session.into(), batch: 2, wait_ms: None, only_prefix: None }
    }

    #[test]
    fn memory_ends_converge_and_resume_from_their_checkpoint() {
        let a = MemoryDb::new("a");
        let b = MemoryDb::new("b");
        for i in 0..5 {
            a.docs.borrow_mut().put(&format!("doc:{i}"), json!({"n": i}).as_object().unwrap().clone());
        }
        let first = block_on(replicate(&a, &b, &opts("s1"))).unwrap();
        assert_eq!((first.changes_read, first.docs_written), (5, 5));
        assert_eq!(b.docs.borrow().get("doc:3").unwrap().1["n"], 3);
        // Nothing new: the checkpoint means nothing is even read.
        let again = block_on(replicate(&a, &b, &opts("s2"))).unwrap();
        assert_eq!(again.changes_read, 0);
        a.docs.borrow_mut().put("doc:1", json!({"n": 100}).as_object().unwrap().clone());
        let third = block_on(replicate(&a, &b, &opts("s3"))).unwrap();
        assert_eq!((third.changes_read, third.docs_written), (1, 1));
        assert_eq!(b.docs.borrow().get("doc:1").unwrap().1["n"], 100);
        // Back the other way, everything is already there: read, but nothing written.
        let back = block_on(replicate(&b, &a, &Options { replication_id: "piket-back".into(), ..opts("s4") })).unwrap();
        assert_eq!((back.changes_read, back.docs_written), (5, 0));
    }

    #[test]
    fn concurrent_edits_settle_on_the_same_winner_both_ways() {
        let a = MemoryDb::new("a");
        let b = MemoryDb::new("b");
        a.docs.borrow_mut().put("policy:web", json!({"v": 0}).as_object().unwrap().clone());
        block_on(replicate(&a, &b, &opts("s1"))).unwrap();
        a.docs.borrow_mut().put("policy:web", json!({"v": "a"}).as_object().unwrap().clone());
        b.docs.borrow_mut().put("policy:web", json!({"v": "b"}).as_object().unwrap().clone());
        block_on(replicate(&a, &b, &opts("s2"))).unwrap();
        block_on(replicate(&b, &a, &Options { replication_id: "back".into(), ..opts("s3") })).unwrap();
        let (wa, wb) = (a.docs.borrow().winner("policy:web"), b.docs.borrow().winner("policy:web"));
        assert_eq!(wa, wb);
        assert_eq!(a.docs.borrow().tree("policy:web"), b.docs.borrow().tree("policy:web"));
        assert_eq!(a.docs.borrow().conflicts("policy:web").len(), 1);
    }
}
