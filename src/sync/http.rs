//! A CouchDB database over HTTP: the replication protocol's requests and how their answers are
//! read. The requests themselves go through a [`Transport`] (the browser's `fetch`, or a socket
//! in native tests), which adds the credentials.

use std::cell::Cell;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Map, Value};

use super::{Change, Changes, Db, ErrorBody, Rev, RevDoc, RevMap, Seq, SyncError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpRequest {
    pub method: Method,
    /// The whole address.
    pub url: String,
    /// A JSON body.
    pub body: Option<String>,
    /// Give up after this long (a longpoll that the server does not end at its own timeout).
    pub timeout_ms: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// Sends requests; adds credentials. Network failures, CORS refusals and timeouts are
/// [`SyncError::Network`].
#[allow(async_fn_in_trait)]
pub trait Transport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, SyncError>;
}

/// Characters escaped in a document id within a path (as `encodeURIComponent`).
const COMPONENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'~').remove(b'*').remove(b'\'').remove(b'(').remove(b')');

pub fn encode(component: &str) -> String {
    utf8_percent_encode(component, COMPONENT).to_string()
}

/// How long a request may take when the server should answer at once.
const REQUEST_TIMEOUT_MS: u32 = 20_000;

/// One CouchDB database.
pub struct HttpDb<T: Transport> {
    pub transport: T,
    /// The database's address, without a trailing slash (`https://couch.example/piket`).
    pub url: String,
    /// Set once the server has shown it has no `_bulk_get` (CouchDB 1.x): `open_revs` from then on.
    no_bulk_get: Cell<bool>,
}

fn seq_param(seq: &Seq) -> String {
    match seq {
        Value::String(s) => encode(s),
        other => encode(&other.to_string()),
    }
}

impl<T: Transport> HttpDb<T> {
    pub fn new(transport: T, url: &str) -> HttpDb<T> {
        HttpDb { transport, url: url.trim_end_matches('/').to_string(), no_bulk_get: Cell::new(false) }
    }

    /// The server's address (the database's without its last segment).
    pub fn server(&self) -> &str {
        self.url.rsplit_once('/').map_or(self.url.as_str(), |(s, _)| s)
    }

    pub fn doc_url(&self, id: &str) -> String {
        match id.strip_prefix("_local/") {
            Some(rest) => format!("{}/_local/{}", self.url, encode(rest)),
            None => format!("{}/{}", self.url, encode(id)),
        }
    }

    /// Sends a request and reads a JSON answer; an error status becomes [`SyncError::Http`].
    pub async fn call(&self, method: Method, url: String, body: Option<Value>, timeout_ms: u32) -> Result<Value, SyncError> {
        let request = HttpRequest { method, url, body: body.map(|b| b.to_string()), timeout_ms };
        let response = self.transport.send(request).await?;
        let value = crate::json::parse(&response.body);
        if !(200..300).contains(&response.status) {
            let (error, reason) = match value.ok().and_then(|v| crate::json::from_value::<ErrorBody>(v).ok()) {
                Some(e) => (e.error, e.reason),
                None => (String::new(), response.body.chars().take(200).collect()),
            };
            return Err(SyncError::Http { status: response.status, error, reason });
        }
        value.map_err(|e| SyncError::Malformed(e.to_string()))
    }

    /// A document's winning revision with `_conflicts`, or `None` when missing or deleted.
    pub async fn get_doc(&self, id: &str) -> Result<Option<Value>, SyncError> {
        match self.call(Method::Get, format!("{}?conflicts=true", self.doc_url(id)), None, REQUEST_TIMEOUT_MS).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a document as a new edit (`_rev` in the body for an update); its new revision.
    pub async fn put_doc(&self, id: &str, doc: &Value) -> Result<Rev, SyncError> {
        let answer = self.call(Method::Put, self.doc_url(id), Some(doc.clone()), REQUEST_TIMEOUT_MS).await?;
        let rev = answer.get("rev").and_then(Value::as_str).ok_or_else(|| SyncError::Malformed("a write without its rev".into()))?;
        Rev::parse(rev).map_err(|e| SyncError::Malformed(e.to_string()))
    }

    /// Documents changed after `since` whose ids start with one of `prefixes`, with their winning
    /// revision's body (`None` when deleted), and the feed's position after them. Reads at most
    /// `limit` changes (the filtering is done here: CouchDB 1.x and PouchDB have no `_selector`).
    pub async fn changed_docs(&self, since: &Seq, limit: usize, prefixes: &[&str]) -> Result<(Vec<(String, Option<Value>)>, Seq, usize), SyncError> {
        let url = format!("{}/_changes?include_docs=true&since={}&limit={limit}", self.url, seq_param(since));
        let answer = self.call(Method::Get, url, None, REQUEST_TIMEOUT_MS).await?;
        let results = answer.get("results").and_then(Value::as_array).ok_or_else(|| malformed("_changes without results"))?;
        let mut out = Vec::new();
        for row in results {
            let Some(id) = row.get("id").and_then(Value::as_str) else { return Err(malformed("a change without an id")) };
            if !prefixes.iter().any(|p| id.starts_with(p)) {
                continue;
            }
            let deleted = row.get("deleted").and_then(Value::as_bool).unwrap_or(false);
            let doc = row.get("doc").filter(|d| d.is_object() && !deleted).cloned();
            out.push((id.to_string(), doc));
        }
        let last = answer.get("last_seq").cloned().or_else(|| results.last().and_then(|r| r.get("seq").cloned())).unwrap_or_else(|| since.clone());
        Ok((out, last, results.len()))
    }

    /// Every document whose id lies between `first` and `last` (inclusive), with its body.
    pub async fn docs_between(&self, first: &str, last: &str) -> Result<Vec<(String, Value)>, SyncError> {
        let key = |k: &str| encode(&Value::from(k).to_string());
        let url = format!("{}/_all_docs?include_docs=true&startkey={}&endkey={}", self.url, key(first), key(last));
        let answer = self.call(Method::Get, url, None, REQUEST_TIMEOUT_MS).await?;
        let rows = answer.get("rows").and_then(Value::as_array).ok_or_else(|| malformed("_all_docs without rows"))?;
        Ok(rows.iter().filter_map(|row| Some((row.get("id")?.as_str()?.to_string(), row.get("doc").filter(|d| d.is_object())?.clone()))).collect())
    }

    /// Writes documents as new edits (`POST _bulk_docs`, each with the `_rev` it replaces when it
    /// has one): per document, its new revision or the error it met (`conflict` when another
    /// writer got there first).
    pub async fn write_docs(&self, docs: Vec<Value>) -> Result<Vec<(String, Result<Rev, String>)>, SyncError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let answer = self.call(Method::Post, format!("{}/_bulk_docs", self.url), Some(json!({ "docs": docs })), REQUEST_TIMEOUT_MS).await?;
        let rows = answer.as_array().ok_or_else(|| malformed("_bulk_docs without a list"))?;
        Ok(rows
            .iter()
            .map(|row| {
                let id = row.get("id").and_then(Value::as_str).unwrap_or("").to_string();
                let result = match (row.get("rev").and_then(Value::as_str), row.get("error").and_then(Value::as_str)) {
                    (_, Some(error)) => Err(error.to_string()),
                    (Some(rev), None) => Rev::parse(rev).map_err(|e| e.to_string()),
                    (None, None) => Err("no revision in the answer".to_string()),
                };
                (id, result)
            })
            .collect())
    }

    async fn open_revs(&self, id: &str, revs: &[Rev]) -> Result<Vec<RevDoc>, SyncError> {
        let list: Vec<String> = revs.iter().map(Rev::to_string).collect();
        let url = format!("{}?revs=true&latest=true&open_revs={}", self.doc_url(id), encode(&serde_json::to_string(&list).expect("strings")));
        let answer = self.call(Method::Get, url, None, REQUEST_TIMEOUT_MS).await?;
        let items = answer.as_array().ok_or_else(|| SyncError::Malformed("open_revs without a list".into()))?;
        items.iter().filter_map(|item| item.get("ok")).map(RevDoc::from_json).collect()
    }
}

fn malformed(what: &str) -> SyncError {
    SyncError::Malformed(what.to_string())
}

fn read_changes(answer: &Value, since: &Seq) -> Result<Changes, SyncError> {
    let results = answer.get("results").and_then(Value::as_array).ok_or_else(|| malformed("_changes without results"))?;
    let mut out = Vec::with_capacity(results.len());
    for row in results {
        let id = row.get("id").and_then(Value::as_str).ok_or_else(|| malformed("a change without an id"))?;
        let seq = row.get("seq").cloned().ok_or_else(|| malformed("a change without its seq"))?;
        let revs = row
            .get("changes")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("a change without its revisions"))?
            .iter()
            .map(|c| {
                c.get("rev")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("a change without a rev"))
                    .and_then(|r| Rev::parse(r).map_err(|e| SyncError::Malformed(e.to_string())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deleted = row.get("deleted").and_then(Value::as_bool).unwrap_or(false);
        out.push(Change { seq, id: id.to_string(), revs, deleted });
    }
    let last_seq = answer.get("last_seq").cloned().or_else(|| out.last().map(|c| c.seq.clone())).unwrap_or_else(|| since.clone());
    Ok(Changes { results: out, last_seq })
}

fn rev_list(map: &RevMap) -> Value {
    Value::Object(map.iter().map(|(id, revs)| (id.clone(), Value::from(revs.iter().map(Rev::to_string).collect::<Vec<_>>()))).collect())
}

impl<T: Transport> Db for HttpDb<T> {
    fn identity(&self) -> String {
        self.url.clone()
    }

    async fn changes(&self, since: &Seq, limit: usize, wait_ms: Option<u32>) -> Result<Changes, SyncError> {
        let mut url = format!("{}/_changes?style=all_docs&since={}&limit={limit}", self.url, seq_param(since));
        let timeout = match wait_ms {
            Some(ms) => {
                url.push_str(&format!("&feed=longpoll&timeout={ms}"));
                // Some servers (pouchdb-server) do not end a longpoll at its timeout: give up a
                // little later and treat it as "no change".
                ms + 5_000
            }
            None => REQUEST_TIMEOUT_MS,
        };
        match self.call(Method::Get, url, None, timeout).await {
            Ok(answer) => read_changes(&answer, since),
            Err(SyncError::Network(e)) if wait_ms.is_some() && e.contains("timed out") => Ok(Changes { results: Vec::new(), last_seq: since.clone() }),
            Err(e) => Err(e),
        }
    }

    async fn revs_diff(&self, revs: &RevMap) -> Result<RevMap, SyncError> {
        if revs.is_empty() {
            return Ok(RevMap::new());
        }
        let answer = self.call(Method::Post, format!("{}/_revs_diff", self.url), Some(rev_list(revs)), REQUEST_TIMEOUT_MS).await?;
        let map = answer.as_object().ok_or_else(|| malformed("_revs_diff without an object"))?;
        let mut out = RevMap::new();
        for (id, entry) in map {
            let missing = entry.get("missing").and_then(Value::as_array).ok_or_else(|| malformed("_revs_diff without missing"))?;
            let missing = missing
                .iter()
                .map(|r| {
                    r.as_str()
                        .ok_or_else(|| malformed("a missing rev that is not text"))
                        .and_then(|r| Rev::parse(r).map_err(|e| SyncError::Malformed(e.to_string())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !missing.is_empty() {
                out.insert(id.clone(), missing);
            }
        }
        Ok(out)
    }

    async fn get_revs(&self, revs: &RevMap) -> Result<Vec<RevDoc>, SyncError> {
        if revs.is_empty() {
            return Ok(Vec::new());
        }
        if !self.no_bulk_get.get() {
            let docs: Vec<Value> = revs.iter().flat_map(|(id, rs)| rs.iter().map(move |r| json!({"id": id, "rev": r.to_string()}))).collect();
            match self.call(Method::Post, format!("{}/_bulk_get?revs=true&latest=true", self.url), Some(json!({ "docs": docs })), REQUEST_TIMEOUT_MS).await {
                Ok(answer) => {
                    let results = answer.get("results").and_then(Value::as_array).ok_or_else(|| malformed("_bulk_get without results"))?;
                    let mut out = Vec::new();
                    for result in results {
                        for item in result.get("docs").and_then(Value::as_array).into_iter().flatten() {
                            if let Some(doc) = item.get("ok") {
                                out.push(RevDoc::from_json(doc)?);
                            }
                        }
                    }
                    return Ok(out);
                }
                // CouchDB 1.x has no _bulk_get: it reads it as a document id and method.
                Err(e) if matches!(e.status(), Some(400 | 404 | 405 | 501)) => self.no_bulk_get.set(true),
                Err(e) => return Err(e),
            }
        }
        let mut out = Vec::new();
        for (id, rs) in revs {
            out.extend(self.open_revs(id, rs).await?);
        }
        Ok(out)
    }

    async fn put_revs(&self, docs: &[RevDoc]) -> Result<Vec<(String, String)>, SyncError> {
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "docs": docs.iter().map(RevDoc::to_json).collect::<Vec<_>>(), "new_edits": false });
        let answer = self.call(Method::Post, format!("{}/_bulk_docs", self.url), Some(body), REQUEST_TIMEOUT_MS).await?;
        let refused = answer
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|row| {
                let error = row.get("error")?.as_str()?;
                let id = row.get("id").and_then(Value::as_str).unwrap_or("");
                let reason = row.get("reason").and_then(Value::as_str).unwrap_or("");
                Some((id.to_string(), format!("{error}: {reason}")))
            })
            .collect();
        Ok(refused)
    }

    async fn get_local(&self, id: &str) -> Result<Option<Value>, SyncError> {
        self.get_doc(&format!("_local/{id}")).await
    }

    async fn put_local(&self, id: &str, doc: &Value) -> Result<(), SyncError> {
        let path = format!("_local/{id}");
        let mut body: Map<String, Value> = doc.as_object().cloned().unwrap_or_default();
        body.retain(|k, _| !k.starts_with('_'));
        if let Some(rev) = self.get_doc(&path).await?.as_ref().and_then(|d| d.get("_rev")).cloned() {
            body.insert("_rev".into(), rev);
        }
        self.call(Method::Put, self.doc_url(&path), Some(Value::Object(body)), REQUEST_TIMEOUT_MS).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_like_encode_uri_component() {
        assert_eq!(encode("person:ada lovelace/x"), "person%3Aada%20lovelace%2Fx");
        assert_eq!(encode("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn change_feeds_are_read_with_opaque_sequences() {
        let answer = json!({"results": [
            {"seq": "3-g1AAAA", "id": "a", "changes": [{"rev": "2-x"}, {"rev": "2-y"}]},
            {"seq": "4-g1AAAB", "id": "b", "changes": [{"rev": "1-z"}], "deleted": true}
        ], "last_seq": "4-g1AAAB", "pending": 0});
        let c = read_changes(&answer, &Value::from(0)).unwrap();
        assert_eq!(c.results.len(), 2);
        assert_eq!(c.results[0].revs, vec![Rev::new(2, "x"), Rev::new(2, "y")]);
        assert!(c.results[1].deleted);
        assert_eq!(c.last_seq, json!("4-g1AAAB"));
        assert_eq!(seq_param(&c.last_seq), "4-g1AAAB");
        assert_eq!(seq_param(&json!(17)), "17");
        assert!(read_changes(&json!({"results": [{"id": "a"}]}), &Value::from(0)).is_err());
        assert!(read_changes(&json!({"rows": []}), &Value::from(0)).is_err());
    }
}
