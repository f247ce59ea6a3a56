//! A stand-in for an ntfy server (v2.x) for the end-to-end tests, written from ntfy's documented
//! API and checked against its server source: publishing (message JSON to `/`, or a plain body to
//! `/<topic>`), the message cache with `since=` and `poll=1`, streaming subscriptions (`/json`,
//! `/sse`, `/raw`, several topics as `/<a>,<b>/json`) with `open` and `keepalive` events, CORS,
//! and ntfy's error JSON (`{"code":40009,"http":400,"error":"..."}`).
//!
//! std only: one thread per connection, a streaming subscription keeps its thread (and a second
//! one that notices the client hanging up). [`NtfyStandIn::stop`] drops the listener (the port
//! refuses connections) and closes every open stream; [`NtfyStandIn::restart`] listens on the same
//! port again with the cache kept, as a restarted ntfy with a cache file does.
//!
//! Where it knowingly differs from ntfy: a message over 4096 bytes is refused with 413 (ntfy
//! would keep it as an attachment); streams end with `Connection: close` instead of chunked
//! encoding; they also carry `Cache-Control: no-cache`; scheduled delivery (`delay`), e-mail,
//! phone calls, templates, UnifiedPush, WebSockets, accounts and the web app are not served.
//!
//! [`perform_http_action`] does what the ntfy Android app does when an `http` action button is
//! tapped.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::support::Result;

/// ntfy's default message size limit: a longer body is not a message.
pub const MESSAGE_SIZE_LIMIT: usize = 4096;
/// A JSON publish body may be twice the message limit (ntfy allows for the JSON overhead).
const JSON_BODY_LIMIT: usize = 2 * MESSAGE_SIZE_LIMIT;
/// How long a message stays in the cache (ntfy's default `cache-duration`, 12 h).
pub const CACHE_DURATION_SECS: i64 = 12 * 60 * 60;
/// ntfy's default `keepalive-interval`.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(45);
const ACTIONS_MAX: usize = 3;
const MESSAGE_ID_LENGTH: usize = 12;
const ACTION_ID_LENGTH: usize = 10;
const ID_CHARSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Topic names ntfy keeps for itself (`disallowed-topics` default).
const DISALLOWED_TOPICS: [&str; 10] = ["docs", "static", "file", "app", "metrics", "account", "settings", "signup", "login", "v1"];
/// What the Android app sends as `User-Agent` (`ntfy/<version> (<flavor>; Android <release>; SDK <n>)`).
const ANDROID_USER_AGENT: &str = "ntfy/1.16.0 (fdroid; Android 14; SDK 34)";

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/// An ntfy server on a loopback port. See the module documentation.
pub struct NtfyStandIn {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub url: String,
    port: u16,
    state: Arc<Mutex<State>>,
    accept: Mutex<Option<(Arc<AtomicBool>, JoinHandle<()>)>>,
}

struct State {
    /// Whether the server is up (false between `stop` and `restart`).
    running: bool,
    cache: Vec<Cached>,
    next_seq: u64,
    next_sub: u64,
    subs: Vec<Sub>,
    requests: Vec<(String, String)>,
    keepalive: Duration,
}

/// A cached message; `seq` is its place in publication order (ntfy's row id).
struct Cached {
    seq: u64,
    topic: String,
    time: i64,
    expires: i64,
    message: Value,
}

/// An open streaming subscription.
struct Sub {
    id: u64,
    topics: Vec<String>,
    tx: mpsc::Sender<Event>,
    stream: TcpStream,
}

enum Event {
    Message(Value),
    Closed,
}

impl NtfyStandIn {
    /// Starts on a free loopback port.
    pub fn start() -> NtfyStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("ntfy stand-in binds");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            running: true,
            cache: Vec::new(),
            next_seq: 1,
            next_sub: 1,
            subs: Vec::new(),
            requests: Vec::new(),
            keepalive: DEFAULT_KEEPALIVE,
        }));
        let accept = spawn_accept(listener, state.clone());
        NtfyStandIn { url: format!("http://127.0.0.1:{port}"), port, state, accept: Mutex::new(Some(accept)) }
    }

    /// Goes down: the port refuses connections from now on and every open stream is closed.
    /// The cache is kept for [`NtfyStandIn::restart`].
    pub fn stop(&self) {
        if let Some((stop, thread)) = self.accept.lock().unwrap().take() {
            stop.store(true, Ordering::SeqCst);
            let _ = thread.join(); // the listener is dropped with the thread
        }
        let subs = {
            let mut state = lock(&self.state);
            state.running = false;
            std::mem::take(&mut state.subs)
        };
        for sub in subs {
            let _ = sub.stream.shutdown(Shutdown::Both);
        }
    }

    /// Comes back on the same port with the cache as it was (a no-op while running).
    pub fn restart(&self) {
        let mut accept = self.accept.lock().unwrap();
        if accept.is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() > deadline => panic!("ntfy stand-in cannot listen on port {} again: {e}", self.port),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        lock(&self.state).running = true;
        *accept = Some(spawn_accept(listener, self.state.clone()));
    }

    /// How often streams get a `keepalive` event (ntfy's default is 45 s). Applies to streams
    /// from their next keepalive on, so set it before subscribing.
    pub fn set_keepalive_interval(&self, interval: Duration) {
        lock(&self.state).keepalive = interval;
    }

    /// The cached (unexpired) messages of a topic in publication order, as they were published.
    pub fn messages(&self, topic: &str) -> Vec<Value> {
        let now = unix_now();
        lock(&self.state).cache.iter().filter(|c| c.topic == topic && c.expires > now).map(|c| c.message.clone()).collect()
    }

    /// Every request received so far: (method, path with query).
    pub fn requests(&self) -> Vec<(String, String)> {
        lock(&self.state).requests.clone()
    }

    /// Polls until a cached message of `topic` satisfies `pred`, for at most `within`.
    pub async fn wait_for_message(&self, topic: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self.messages(topic).into_iter().find(|m| pred(m)) {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// How many streaming subscriptions that include `topic` are open now.
    pub fn subscribers(&self, topic: &str) -> usize {
        lock(&self.state).subs.iter().filter(|s| s.topics.iter().any(|t| t == topic)).count()
    }
}

impl Drop for NtfyStandIn {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn spawn_accept(listener: TcpListener, state: Arc<Mutex<State>>) -> (Arc<AtomicBool>, JoinHandle<()>) {
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let state = state.clone();
                    std::thread::spawn(move || serve(stream, state));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        // The listener drops here: the port closes.
    });
    (stop, thread)
}

fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Some(request) = read_request(&stream) else { return };
    lock(&state).requests.push((request.method.clone(), request.target.clone()));
    match route(&state, &request) {
        Reply::Full(response) => {
            write_response(&stream, &response);
            let _ = stream.shutdown(Shutdown::Write);
        }
        Reply::Stream(plan) => run_subscription(stream, &state, plan),
    }
}

enum Reply {
    Full(Response),
    Stream(Plan),
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn json_response(status: u16, json: String) -> Response {
    Response {
        status,
        headers: vec![("Content-Type", "application/json".into()), ("Access-Control-Allow-Origin", "*".into())],
        body: format!("{json}\n").into_bytes(),
    }
}

fn error_response(e: ApiError) -> Response {
    json_response(e.http, e.json())
}

fn route(state: &Arc<Mutex<State>>, request: &Request) -> Reply {
    let method = request.method.as_str();
    let path = request.path.as_str();
    let full = |r: std::result::Result<Value, ApiError>| match r {
        Ok(message) => Reply::Full(json_response(200, encode_message(&message))),
        Err(e) => Reply::Full(error_response(e)),
    };
    if method == "GET" && path == "/v1/health" {
        return Reply::Full(json_response(200, r#"{"healthy":true}"#.into()));
    }
    if method == "OPTIONS" {
        return Reply::Full(Response {
            status: 200,
            headers: vec![
                ("Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE".into()),
                ("Access-Control-Allow-Origin", "*".into()),
                ("Access-Control-Allow-Headers", "*".into()),
            ],
            body: Vec::new(),
        });
    }
    let is_publish = method == "PUT" || method == "POST";
    if is_publish && path == "/" {
        return full(publish_json(state, request));
    }
    if is_publish && path.strip_prefix('/').is_some_and(valid_topic) {
        return full(publish(state, request, &path[1..], &request.body));
    }
    if method == "GET" {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if path.starts_with('/') && parts.len() == 2 {
            if valid_topic(parts[0]) && ["publish", "send", "trigger"].contains(&parts[1]) {
                return full(publish(state, request, parts[0], &request.body));
            }
            let kind = match parts[1] {
                "json" => Some(StreamKind::Json),
                "sse" => Some(StreamKind::Sse),
                "raw" => Some(StreamKind::Raw),
                _ => None,
            };
            if let Some(kind) = kind.filter(|_| parts[0].split(',').all(valid_topic)) {
                return match plan_subscription(request, parts[0], kind) {
                    Ok(plan) => Reply::Stream(plan),
                    Err(e) => Reply::Full(error_response(e)),
                };
            }
        }
    }
    Reply::Full(error_response(e_not_found()))
}

// ---------------------------------------------------------------------------------------------
// Publishing
// ---------------------------------------------------------------------------------------------

/// `POST /` with message JSON: ntfy turns the JSON into the headers of a plain publish to
/// `/<topic>` whose body is the message, and publishes that.
fn publish_json(state: &Arc<Mutex<State>>, request: &Request) -> std::result::Result<Value, ApiError> {
    if request.body.len() > JSON_BODY_LIMIT {
        return Err(e_json_body_too_large());
    }
    let value = serde_json::Deserializer::from_slice(&request.body).into_iter::<Value>().next();
    let obj = match value {
        Some(Ok(Value::Object(obj))) => obj,
        Some(Ok(Value::Null)) => Map::new(),
        _ => return Err(e_json_invalid()),
    };
    let text = |name: &str| -> std::result::Result<String, ApiError> {
        match field(&obj, name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(e_json_invalid()),
        }
    };
    let topic = text("topic")?;
    let mut message = text("message")?;
    let title = text("title")?;
    let click = text("click")?;
    let icon = text("icon")?;
    let attach = text("attach")?;
    let filename = text("filename")?;
    let email = text("email")?;
    let call = text("call")?;
    let cache = text("cache")?;
    let firebase = text("firebase")?;
    let delay = text("delay")?;
    let priority = match field(&obj, "priority") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(e_json_invalid)?,
    };
    let tags: Vec<String> = match field(&obj, "tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(|t| t.as_str().map(str::to_string).ok_or_else(e_json_invalid)).collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err(e_json_invalid()),
    };
    let markdown = match field(&obj, "markdown") {
        None | Some(Value::Null) => false,
        Some(v) => v.as_bool().ok_or_else(e_json_invalid)?,
    };
    let actions: Vec<Action> = match field(&obj, "actions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().map(|a| Action::decode(a).map_err(|_| e_json_invalid())).collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err(e_json_invalid()),
    };
    if !valid_topic(&topic) {
        return Err(e_topic_invalid());
    }
    if message.is_empty() {
        message = "triggered".into();
    }
    let mut r = request.without_body();
    let mut set = |name: &str, value: String| {
        if !value.is_empty() {
            r.set_header(name, value);
        }
    };
    set("X-Title", title);
    set("X-Priority", if priority != 0 { priority.to_string() } else { String::new() });
    set("X-Tags", tags.join(","));
    set("X-Attach", attach);
    set("X-Filename", filename);
    set("X-Click", click);
    set("X-Icon", icon);
    set("X-Markdown", if markdown { "yes".into() } else { String::new() });
    if !actions.is_empty() {
        let encoded: Vec<Value> = actions.iter().map(|a| a.to_json("")).collect();
        set("X-Actions", Value::Array(encoded).to_string());
    }
    set("X-Email", email);
    set("X-Delay", delay);
    set("X-Call", call);
    set("X-Cache", cache);
    set("X-Firebase", firebase);
    publish(state, &r, &topic, message.as_bytes())
}

/// A plain publish to `/<topic>`: the body is the message; title, priority, tags, click, icon,
/// actions, markdown, attach, cache… come from headers or query parameters, as in ntfy.
fn publish(state: &Arc<Mutex<State>>, request: &Request, topic: &str, body: &[u8]) -> std::result::Result<Value, ApiError> {
    if DISALLOWED_TOPICS.contains(&topic) {
        return Err(e_topic_disallowed());
    }
    let cache = request.bool_param(true, &["x-cache", "cache"]);
    let title = request.param(&["x-title", "title", "t"]);
    let click = request.param(&["x-click", "click"]);
    let icon = request.param(&["x-icon", "icon"]);
    let filename = request.param(&["x-filename", "filename", "file", "f"]);
    let attach = request.param(&["x-attach", "attach", "a"]);
    let mut attachment: Option<Map<String, Value>> = None;
    if !attach.is_empty() || !filename.is_empty() {
        let mut a = Map::new();
        if !filename.is_empty() {
            a.insert("name".into(), json!(filename));
        }
        if !attach.is_empty() {
            if !is_http_url(&attach) {
                return Err(e_attachment_url_invalid());
            }
            if filename.is_empty() {
                let path = attach.split(['?', '#']).next().unwrap_or("").splitn(4, '/').nth(3).unwrap_or("");
                let base = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                a.insert("name".into(), json!(if base.is_empty() { "attachment" } else { base }));
            }
            a.insert("url".into(), json!(attach));
        }
        attachment = Some(a);
    }
    if !icon.is_empty() && !is_http_url(&icon) {
        return Err(e_icon_url_invalid());
    }
    if !request.param(&["x-email", "x-e-mail", "email", "e-mail", "mail", "e"]).is_empty() {
        return Err(e_email_disabled());
    }
    if !request.param(&["x-call", "call"]).is_empty() {
        return Err(e_calls_disabled());
    }
    let mut message = request.param(&["x-message", "message", "m"]).replace("\\n", "\n");
    let priority = parse_priority(&request.param(&["x-priority", "priority", "prio", "p"])).ok_or_else(e_priority_invalid)?;
    let tags = comma_param(&request.param(&["x-tags", "tags", "tag", "ta"]));
    if !request.param(&["x-delay", "delay", "x-at", "at", "x-in", "in"]).is_empty() {
        return Err(e_delay_unsupported());
    }
    let actions_param = request.param(&["x-actions", "actions", "action"]);
    let actions = if actions_param.is_empty() { Vec::new() } else { parse_actions(&actions_param).map_err(|e| e_actions_invalid().wrap(e))? };
    let markdown =
        request.param(&["content-type", "content_type"]).eq_ignore_ascii_case("text/markdown") || request.bool_param(false, &["x-markdown", "markdown", "md"]);

    // The body: a text message unless it is too long or not UTF-8 (ntfy would then store it as an
    // attachment, which this stand-in does not).
    let external_attachment = !attach.is_empty();
    if !external_attachment && !filename.is_empty() {
        return Err(e_attachments_disallowed());
    }
    if !external_attachment && body.len() > MESSAGE_SIZE_LIMIT {
        return Err(e_message_too_large(body.len()));
    }
    let text = match std::str::from_utf8(&body[..body.len().min(MESSAGE_SIZE_LIMIT)]) {
        Ok(text) => text,
        Err(_) if external_attachment => return Err(e_message_not_utf8()),
        Err(_) => return Err(e_attachments_disallowed()),
    };
    if !text.is_empty() {
        message = text.trim().to_string();
    }
    if message.is_empty() {
        if let Some(name) = attachment.as_ref().and_then(|a| a.get("name")).and_then(Value::as_str) {
            message = format!("You received a file: {name}");
        }
    }
    if message.is_empty() {
        message = "triggered".into();
    }

    let now = unix_now();
    let mut m = Map::new();
    m.insert("id".into(), json!(random_string(MESSAGE_ID_LENGTH)));
    m.insert("time".into(), json!(now));
    if cache {
        m.insert("expires".into(), json!(now + CACHE_DURATION_SECS));
    }
    m.insert("event".into(), json!("message"));
    m.insert("topic".into(), json!(topic));
    if !title.is_empty() {
        m.insert("title".into(), json!(title));
    }
    m.insert("message".into(), json!(message));
    if priority != 0 {
        m.insert("priority".into(), json!(priority));
    }
    if !tags.is_empty() {
        m.insert("tags".into(), json!(tags));
    }
    if !click.is_empty() {
        m.insert("click".into(), json!(click));
    }
    if !icon.is_empty() {
        m.insert("icon".into(), json!(icon));
    }
    if !actions.is_empty() {
        m.insert("actions".into(), Value::Array(actions));
    }
    if let Some(a) = attachment {
        m.insert("attachment".into(), Value::Object(a));
    }
    if markdown {
        m.insert("content_type".into(), json!("text/markdown"));
    }
    let message = Value::Object(m);

    let mut state = lock(state);
    state.cache.retain(|c| c.expires > now);
    if cache {
        let seq = state.next_seq;
        state.next_seq += 1;
        state.cache.push(Cached { seq, topic: topic.into(), time: now, expires: now + CACHE_DURATION_SECS, message: message.clone() });
    }
    for sub in state.subs.iter().filter(|s| s.topics.iter().any(|t| t == topic)) {
        let _ = sub.tx.send(Event::Message(message.clone()));
    }
    Ok(message)
}

/// A JSON object's field as Go's decoder finds it: the exact name, else any case.
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn valid_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len()) && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

fn parse_priority(p: &str) -> Option<u8> {
    match p.trim().to_ascii_lowercase().as_str() {
        "" => Some(0),
        "1" | "min" => Some(1),
        "2" | "low" => Some(2),
        "3" | "default" => Some(3),
        "4" | "high" => Some(4),
        "5" | "max" | "urgent" => Some(5),
        _ => None,
    }
}

/// `a, b,,c` → `["a", "b", "c"]` (empty pieces dropped before trimming, as ntfy does).
fn comma_param(s: &str) -> Vec<String> {
    s.split(',').filter(|t| !t.is_empty()).map(|t| t.trim().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Action buttons
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Debug)]
struct Action {
    action: String,
    label: String,
    clear: bool,
    url: String,
    method: String,
    headers: BTreeMap<String, String>,
    body: String,
    intent: String,
    extras: BTreeMap<String, String>,
}

impl Action {
    /// Reads an action object the way Go's JSON decoder fills ntfy's `action` struct: known
    /// fields (any case) of the right type, unknown fields ignored.
    fn decode(v: &Value) -> std::result::Result<Action, String> {
        let obj = v.as_object().ok_or_else(|| format!("cannot unmarshal {v} into an action"))?;
        let text = |name: &str| -> std::result::Result<String, String> {
            match field(obj, name) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!("cannot unmarshal {other} into field action.{name} of type string")),
            }
        };
        let map = |name: &str| -> std::result::Result<BTreeMap<String, String>, String> {
            match field(obj, name) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        v.as_str().map(|s| (k.clone(), s.to_string())).ok_or_else(|| format!("cannot unmarshal {v} into field action.{name} of type string"))
                    })
                    .collect(),
                Some(other) => Err(format!("cannot unmarshal {other} into field action.{name} of type map[string]string")),
            }
        };
        let clear = match field(obj, "clear") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(format!("cannot unmarshal {other} into field action.clear of type bool")),
        };
        Ok(Action {
            action: text("action")?,
            label: text("label")?,
            clear,
            url: text("url")?,
            method: text("method")?,
            headers: map("headers")?,
            body: text("body")?,
            intent: text("intent")?,
            extras: map("extras")?,
        })
    }

    /// The action as ntfy writes it (`clear` always, the other optional fields when set).
    fn to_json(&self, id: &str) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("action".into(), json!(self.action));
        m.insert("label".into(), json!(self.label));
        m.insert("clear".into(), json!(self.clear));
        for (key, value) in [("url", &self.url), ("method", &self.method)] {
            if !value.is_empty() {
                m.insert(key.into(), json!(value));
            }
        }
        if !self.headers.is_empty() {
            m.insert("headers".into(), json!(self.headers));
        }
        for (key, value) in [("body", &self.body), ("intent", &self.intent)] {
            if !value.is_empty() {
                m.insert(key.into(), json!(value));
            }
        }
        if !self.extras.is_empty() {
            m.insert("extras".into(), json!(self.extras));
        }
        Value::Object(m)
    }
}

/// Parses an `X-Actions` value (a JSON array, or ntfy's simple `action, label, url, key=value; …`
/// format), gives each action an id and validates them as ntfy does.
fn parse_actions(s: &str) -> std::result::Result<Vec<Value>, String> {
    let s = s.trim();
    let mut actions = if s.starts_with('[') {
        let value: Value = serde_json::from_str(s).map_err(|e| format!("JSON error: {e}"))?;
        let items = value.as_array().ok_or("JSON error: not an array")?;
        items.iter().map(|a| Action::decode(a).map_err(|e| format!("JSON error: {e}"))).collect::<std::result::Result<Vec<_>, _>>()?
    } else {
        parse_simple_actions(s)?
    };
    for a in &mut actions {
        a.action = a.action.to_lowercase();
        a.method = a.method.to_uppercase();
    }
    if actions.len() > ACTIONS_MAX {
        return Err(format!("only {ACTIONS_MAX} actions allowed"));
    }
    for a in &actions {
        let with_url = a.action == "view" || a.action == "http";
        if !["view", "broadcast", "http"].contains(&a.action.as_str()) {
            return Err(format!("parameter 'action' cannot be '{}', valid values are 'view', 'broadcast' and 'http'", a.action));
        } else if a.label.is_empty() {
            return Err("parameter 'label' is required".into());
        } else if with_url && a.url.is_empty() {
            return Err(format!("parameter 'url' is required for action '{}'", a.action));
        } else if a.action == "http" && (a.method == "GET" || a.method == "HEAD") && !a.body.is_empty() {
            return Err(format!("parameter 'body' cannot be set if method is {}", a.method));
        }
    }
    Ok(actions.iter().map(|a| a.to_json(&random_string(ACTION_ID_LENGTH))).collect())
}

/// ntfy's simple action format: actions separated by `;`, sections by `,`; a section is
/// `key=value` or a bare value (the first three are action, label and — for view/http — url);
/// values may be quoted with `"` or `'` (with `\"` inside).
fn parse_simple_actions(s: &str) -> std::result::Result<Vec<Action>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pos = 0;
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let skip_spaces = |pos: &mut usize| {
        while *pos < chars.len() && is_space(chars[*pos]) {
            *pos += 1;
        }
    };
    let mut actions = Vec::new();
    while pos < chars.len() {
        let mut action = Action::default();
        let mut section = 0;
        loop {
            skip_spaces(&mut pos);
            // key: [-.\w]+ \s* = \s*
            let mut key = String::new();
            let mut k = pos;
            while k < chars.len() && (chars[k].is_ascii_alphanumeric() || matches!(chars[k], '-' | '.' | '_')) {
                k += 1;
            }
            if k > pos {
                let mut e = k;
                while e < chars.len() && chars[e].is_ascii_whitespace() {
                    e += 1;
                }
                if e < chars.len() && chars[e] == '=' {
                    key = chars[pos..k].iter().collect();
                    e += 1;
                    while e < chars.len() && chars[e].is_ascii_whitespace() {
                        e += 1;
                    }
                    pos = e;
                }
            }
            let next = chars.get(pos).copied();
            let (value, last) = match next {
                None | Some(';') | Some(',') => {
                    pos += usize::from(next.is_some());
                    (String::new(), next != Some(','))
                }
                Some(quote @ ('"' | '\'')) => {
                    let start = pos + 1;
                    let mut end = start;
                    loop {
                        match chars.get(end) {
                            None => return Err(format!("unexpected end of input, quote started at position {start}")),
                            Some(&c) if c == quote && chars[end - 1] != '\\' => break,
                            Some(_) => end += 1,
                        }
                    }
                    let raw: String = chars[start..end].iter().collect();
                    let value = raw.replace(&format!("\\{quote}"), &quote.to_string());
                    pos = end + 1;
                    skip_spaces(&mut pos);
                    let last = match chars.get(pos) {
                        None => true,
                        Some(';') => true,
                        Some(',') => false,
                        Some(c) => return Err(format!("unexpected character '{c}' at position {pos}")),
                    };
                    pos = (pos + 1).min(chars.len());
                    (value, last)
                }
                Some(_) => {
                    let start = pos;
                    while pos < chars.len() && chars[pos] != ',' && chars[pos] != ';' {
                        pos += 1;
                    }
                    let value: String = chars[start..pos].iter().collect::<String>().trim().to_string();
                    let last = pos >= chars.len() || chars[pos] == ';';
                    pos = (pos + 1).min(chars.len());
                    (value, last)
                }
            };
            set_simple_field(&mut action, section, key, value)?;
            skip_spaces(&mut pos);
            if last {
                break;
            }
            section += 1;
        }
        actions.push(action);
    }
    Ok(actions)
}

fn set_simple_field(a: &mut Action, section: usize, key: String, value: String) -> std::result::Result<(), String> {
    let key = match (key.is_empty(), section) {
        (true, 0) => "action".to_string(),
        (true, 1) => "label".to_string(),
        (true, 2) if a.action == "view" || a.action == "http" => "url".to_string(),
        (true, _) => return Err(format!("term '{value}' unknown")),
        (false, _) => key,
    };
    if let Some(name) = key.strip_prefix("headers.") {
        a.headers.insert(name.into(), value);
    } else if let Some(name) = key.strip_prefix("extras.") {
        a.extras.insert(name.into(), value);
    } else {
        match key.to_lowercase().as_str() {
            "action" => a.action = value,
            "label" => a.label = value,
            "clear" => {
                let v = value.to_lowercase();
                if !["true", "yes", "1", "false", "no", "0"].contains(&v.as_str()) {
                    return Err(format!("parameter 'clear' cannot be '{value}', only boolean values are allowed (true/yes/1/false/no/0)"));
                }
                a.clear = v == "true" || v == "yes" || v == "1";
            }
            "url" => a.url = value,
            "method" => a.method = value,
            "body" => a.body = value,
            "intent" => a.intent = value,
            _ => return Err(format!("key '{key}' unknown")),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Subscribing
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum StreamKind {
    Json,
    Sse,
    Raw,
}

#[derive(Debug, PartialEq)]
enum Since {
    None,
    All,
    Latest,
    Id(String),
    Time(i64),
}

struct Filters {
    id: String,
    message: String,
    title: String,
    tags: Vec<String>,
    priorities: Vec<u8>,
}

impl Filters {
    fn pass(&self, m: &Value) -> bool {
        if m["event"] != "message" {
            return true; // filters apply to messages only
        }
        let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
        if (!self.id.is_empty() && s("id") != self.id)
            || (!self.message.is_empty() && s("message") != self.message)
            || (!self.title.is_empty() && s("title") != self.title)
        {
            return false;
        }
        let priority = match m["priority"].as_u64().unwrap_or(0) {
            0 => 3, // not set means default
            p => p as u8,
        };
        if !self.priorities.is_empty() && !self.priorities.contains(&priority) {
            return false;
        }
        let tags: Vec<&str> = m["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        self.tags.iter().all(|t| tags.contains(&t.as_str()))
    }
}

struct Plan {
    topics: Vec<String>,
    /// The topics as written in the path (`a,b`), which `open` and `keepalive` events carry.
    topics_str: String,
    kind: StreamKind,
    poll: bool,
    since: Since,
    filters: Filters,
}

fn plan_subscription(request: &Request, topics_str: &str, kind: StreamKind) -> std::result::Result<Plan, ApiError> {
    let topics: Vec<String> = topics_str.split(',').filter(|t| !t.is_empty()).map(str::to_string).collect();
    if topics.iter().any(|t| DISALLOWED_TOPICS.contains(&t.as_str())) {
        return Err(e_topic_invalid());
    }
    let poll = request.bool_param(false, &["x-poll", "poll", "po"]);
    let since = parse_since(&request.param(&["x-since", "since", "si"]), poll)?;
    let mut priorities = Vec::new();
    for p in request.param(&["x-priority", "priority", "prio", "p"]).split(',').filter(|p| !p.is_empty()) {
        priorities.push(parse_priority(p).ok_or_else(e_priority_invalid)?);
    }
    let filters = Filters {
        id: request.param(&["x-id", "id"]),
        message: request.param(&["x-message", "message", "m"]),
        title: request.param(&["x-title", "title", "t"]),
        tags: request.param(&["x-tags", "tags", "tag", "ta"]).split(',').filter(|t| !t.is_empty()).map(str::to_string).collect(),
        priorities,
    };
    Ok(Plan { topics, topics_str: topics_str.into(), kind, poll, since, filters })
}

/// `since=`: absent (all when polling, else none), `all`, `latest`, `none`, a message id, a
/// unix timestamp or a Go duration (`10m`, `2h`, `1h30m`); anything else is a 400.
fn parse_since(since: &str, poll: bool) -> std::result::Result<Since, ApiError> {
    match since {
        "" if poll => return Ok(Since::All),
        "" | "none" => return Ok(Since::None),
        "all" => return Ok(Since::All),
        "latest" => return Ok(Since::Latest),
        _ => {}
    }
    if valid_message_id(since) {
        Ok(Since::Id(since.into()))
    } else if let Ok(t) = since.parse::<i64>() {
        Ok(Since::Time(t))
    } else if let Some(d) = parse_go_duration(since) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        Ok(Since::Time((now - d).floor() as i64))
    } else {
        Err(e_since_invalid())
    }
}

fn valid_message_id(s: &str) -> bool {
    s.len() == MESSAGE_ID_LENGTH && s.bytes().all(|b| ID_CHARSET.contains(&b))
}

/// Go's `time.ParseDuration`, in seconds: `[-+]` then one or more `<number><unit>` with units
/// ns, us (µs), ms, s, m, h; `0` alone is allowed.
fn parse_go_duration(s: &str) -> Option<f64> {
    let (sign, mut rest) = match s.as_bytes().first()? {
        b'-' => (-1.0, &s[1..]),
        b'+' => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    Some(sign * total)
}

/// The cached messages of `topics` after `since`, as ntfy sends them to a new subscriber.
fn old_messages(state: &State, topics: &[String], since: &Since) -> Vec<Value> {
    let now = unix_now();
    let live = |topic: &str| -> Vec<&Cached> {
        let mut v: Vec<&Cached> = state.cache.iter().filter(|c| c.topic == topic && c.expires > now).collect();
        v.sort_by_key(|c| (c.time, c.seq));
        v
    };
    let after_seq = match since {
        Since::Id(id) => Some(state.cache.iter().find(|c| c.message["id"] == id.as_str()).map(|c| c.seq).unwrap_or(0)),
        _ => None,
    };
    let mut out: Vec<&Cached> = Vec::new();
    for topic in topics {
        let cached = live(topic);
        match since {
            Since::None => {}
            Since::All => out.extend(cached),
            Since::Time(t) => out.extend(cached.into_iter().filter(|c| c.time >= *t)),
            Since::Latest => out.extend(cached.last()),
            Since::Id(_) => out.extend(cached.into_iter().filter(|c| c.seq > after_seq.unwrap_or(0))),
        }
    }
    // ntfy sorts by time only (Go's unstable sort); within a second, publication order.
    out.sort_by_key(|c| (c.time, c.seq));
    out.into_iter().map(|c| c.message.clone()).collect()
}

fn encode_event(kind: StreamKind, m: &Value) -> String {
    let event = m["event"].as_str().unwrap_or("");
    match kind {
        StreamKind::Json => format!("{}\n", encode_message(m)),
        StreamKind::Sse if event == "message" => format!("data: {}\n\n", encode_message(m)),
        StreamKind::Sse => format!("event: {event}\ndata: {}\n\n", encode_message(m)),
        StreamKind::Raw if event == "message" => format!("{}\n", m["message"].as_str().unwrap_or("").replace('\n', " ")),
        StreamKind::Raw => "\n".into(),
    }
}

fn control_event(event: &str, topics_str: &str) -> Value {
    json!({"id": random_string(MESSAGE_ID_LENGTH), "time": unix_now(), "event": event, "topic": topics_str})
}

fn send(stream: &TcpStream, text: &str) -> bool {
    let mut w = stream;
    w.write_all(text.as_bytes()).and_then(|_| w.flush()).is_ok()
}

fn run_subscription(stream: TcpStream, state: &Arc<Mutex<State>>, plan: Plan) {
    let content_type = match plan.kind {
        StreamKind::Json => "application/x-ndjson",
        StreamKind::Sse => "text/event-stream",
        StreamKind::Raw => "text/plain",
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}; charset=utf-8\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
    );
    let events = |messages: &[Value]| -> String { messages.iter().filter(|m| plan.filters.pass(m)).map(|m| encode_event(plan.kind, m)).collect() };
    if plan.poll {
        let old = old_messages(&lock(state), &plan.topics, &plan.since);
        send(&stream, &format!("{head}{}", events(&old)));
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }

    // Subscribe and take the cached messages under one lock, so nothing falls in between.
    let (tx, rx) = mpsc::channel();
    let Ok(registered) = stream.try_clone() else { return };
    let (id, old) = {
        let mut st = lock(state);
        if !st.running {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let id = st.next_sub;
        st.next_sub += 1;
        st.subs.push(Sub { id, topics: plan.topics.clone(), tx: tx.clone(), stream: registered });
        (id, old_messages(&st, &plan.topics, &plan.since))
    };
    // Notice the client hanging up (or the server closing the socket).
    if let Ok(reader) = stream.try_clone() {
        std::thread::spawn(move || {
            let _ = reader.set_read_timeout(None);
            let mut buf = [0u8; 512];
            loop {
                match (&reader).read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(Event::Closed);
        });
    }

    let keepalive = || lock(state).keepalive;
    let mut alive = send(&stream, &head) && send(&stream, &encode_event(plan.kind, &control_event("open", &plan.topics_str))) && send(&stream, &events(&old));
    let mut next_keepalive = Instant::now() + keepalive();
    while alive {
        match rx.recv_timeout(next_keepalive.saturating_duration_since(Instant::now())) {
            Ok(Event::Message(m)) => {
                if plan.filters.pass(&m) {
                    alive = send(&stream, &encode_event(plan.kind, &m));
                }
            }
            Ok(Event::Closed) | Err(RecvTimeoutError::Disconnected) => alive = false,
            Err(RecvTimeoutError::Timeout) => {
                alive = send(&stream, &encode_event(plan.kind, &control_event("keepalive", &plan.topics_str)));
                next_keepalive = Instant::now() + keepalive();
            }
        }
    }
    lock(state).subs.retain(|s| s.id != id);
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Errors (ntfy's codes and texts)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ApiError {
    code: u32,
    http: u16,
    error: String,
    link: &'static str,
}

impl ApiError {
    fn wrap(mut self, detail: impl std::fmt::Display) -> ApiError {
        self.error = format!("{}; {detail}", self.error);
        self
    }

    fn json(&self) -> String {
        let mut m = Map::new();
        m.insert("code".into(), json!(self.code));
        m.insert("http".into(), json!(self.http));
        m.insert("error".into(), json!(self.error));
        if !self.link.is_empty() {
            m.insert("link".into(), json!(self.link));
        }
        let mut out = String::new();
        write_ordered(&Value::Object(m), &["code", "http", "error", "link"], plain, &mut out);
        go_escape(out)
    }
}

fn api_error(code: u32, http: u16, error: &str, link: &'static str) -> ApiError {
    ApiError { code, http, error: error.into(), link }
}

fn e_email_disabled() -> ApiError {
    api_error(40001, 400, "e-mail notifications are not enabled", "https://ntfy.sh/docs/config/#e-mail-notifications")
}
fn e_delay_unsupported() -> ApiError {
    api_error(40004, 400, "invalid delay parameter: unable to parse delay", "https://ntfy.sh/docs/publish/#scheduled-delivery")
        .wrap("the ntfy stand-in does not schedule messages")
}
fn e_priority_invalid() -> ApiError {
    api_error(40007, 400, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority")
}
fn e_since_invalid() -> ApiError {
    api_error(40008, 400, "invalid since parameter", "https://ntfy.sh/docs/subscribe/api/#fetch-cached-messages")
}
fn e_topic_invalid() -> ApiError {
    api_error(40009, 400, "invalid request: topic invalid", "")
}
fn e_topic_disallowed() -> ApiError {
    api_error(40010, 400, "invalid request: topic name is not allowed", "")
}
fn e_message_not_utf8() -> ApiError {
    api_error(40011, 400, "invalid request: message must be UTF-8 encoded", "")
}
fn e_attachment_url_invalid() -> ApiError {
    api_error(40013, 400, "invalid request: attachment URL is invalid", "https://ntfy.sh/docs/publish/#attachments")
}
fn e_attachments_disallowed() -> ApiError {
    api_error(40014, 400, "invalid request: attachments not allowed", "https://ntfy.sh/docs/config/#attachments")
}
fn e_actions_invalid() -> ApiError {
    api_error(40018, 400, "invalid request: actions invalid", "https://ntfy.sh/docs/publish/#action-buttons")
}
fn e_icon_url_invalid() -> ApiError {
    api_error(40021, 400, "invalid request: icon URL is invalid", "https://ntfy.sh/docs/publish/#icons")
}
fn e_json_invalid() -> ApiError {
    api_error(40024, 400, "invalid request: request body must be valid JSON", "")
}
fn e_calls_disabled() -> ApiError {
    api_error(40032, 400, "invalid request: calling is disabled", "https://ntfy.sh/docs/config/#phone-calls")
}
fn e_not_found() -> ApiError {
    api_error(40401, 404, "page not found", "")
}
fn e_json_body_too_large() -> ApiError {
    api_error(41303, 413, "JSON body too large", "")
}
/// Not an ntfy error: ntfy would keep an over-long body as an attachment instead.
fn e_message_too_large(len: usize) -> ApiError {
    api_error(41300, 413, "message too large", "https://ntfy.sh/docs/publish/#limitations")
        .wrap(format!("{len} bytes, the limit is {MESSAGE_SIZE_LIMIT} (ntfy would store it as an attachment)"))
}

// ---------------------------------------------------------------------------------------------
// JSON as ntfy (Go) writes it: struct field order, `<`, `>`, `&`, U+2028/9 escaped
// ---------------------------------------------------------------------------------------------

const MESSAGE_KEYS: &[&str] = &[
    "id",
    "time",
    "expires",
    "event",
    "topic",
    "title",
    "message",
    "priority",
    "tags",
    "click",
    "icon",
    "actions",
    "attachment",
    "poll_id",
    "content_type",
    "encoding",
];
const ACTION_KEYS: &[&str] = &["id", "action", "label", "clear", "url", "method", "headers", "body", "intent", "extras"];
const ATTACHMENT_KEYS: &[&str] = &["name", "type", "size", "expires", "url"];

fn write_ordered(v: &Value, keys: &[&str], child: fn(&str, &Value, &mut String), out: &mut String) {
    let Some(obj) = v.as_object() else {
        out.push_str(&v.to_string());
        return;
    };
    let known = keys.iter().filter_map(|k| obj.get(*k).map(|x| (*k, x)));
    let rest = obj.iter().filter(|(k, _)| !keys.contains(&k.as_str())).map(|(k, x)| (k.as_str(), x));
    out.push('{');
    for (i, (k, x)) in known.chain(rest).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.into()).to_string());
        out.push(':');
        child(k, x, out);
    }
    out.push('}');
}

fn plain(_: &str, v: &Value, out: &mut String) {
    out.push_str(&v.to_string());
}

fn message_child(key: &str, v: &Value, out: &mut String) {
    match (key, v) {
        ("actions", Value::Array(actions)) => {
            out.push('[');
            for (i, a) in actions.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ordered(a, ACTION_KEYS, plain, out);
            }
            out.push(']');
        }
        ("attachment", _) => write_ordered(v, ATTACHMENT_KEYS, plain, out),
        _ => plain(key, v, out),
    }
}

/// A message (or `open`/`keepalive` event) as ntfy serialises it, without the trailing newline.
fn encode_message(m: &Value) -> String {
    let mut out = String::new();
    write_ordered(m, MESSAGE_KEYS, message_child, &mut out);
    go_escape(out)
}

/// Go's JSON encoder escapes `<`, `>`, `&`, U+2028 and U+2029 (they only occur inside strings).
fn go_escape(s: String) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 plumbing (server side)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Request {
    method: String,
    /// The request target: path with query.
    target: String,
    /// The decoded path.
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value));
    }

    fn without_body(&self) -> Request {
        Request { body: Vec::new(), ..self.clone() }
    }

    /// ntfy's `readParam`: the first non-empty header of `names`, else the first non-empty query
    /// parameter (by lower-case name). A `Priority` header of the RFC 9218 form (`u=1, i`) that
    /// browsers and proxies add is ignored.
    fn param(&self, names: &[&str]) -> String {
        for name in names {
            if let Some(v) = self.header(name).map(str::trim) {
                if !v.is_empty() && !(name.eq_ignore_ascii_case("priority") && is_rfc9218_priority(v)) {
                    return v.to_string();
                }
            }
        }
        for name in names {
            let name = name.to_lowercase();
            if let Some((_, v)) = self.query.iter().find(|(k, _)| *k == name) {
                if !v.trim().is_empty() {
                    return v.trim().to_string();
                }
            }
        }
        String::new()
    }

    fn bool_param(&self, default: bool, names: &[&str]) -> bool {
        match self.param(names).to_lowercase().as_str() {
            "" => default,
            v => v == "1" || v == "yes" || v == "true",
        }
    }
}

/// `u=N` or `u=N, i` / `u=N, M`.
fn is_rfc9218_priority(v: &str) -> bool {
    let b = v.as_bytes();
    if b.len() < 3 || &b[..2] != b"u=" || !b[2].is_ascii_digit() {
        return false;
    }
    match &v[3..] {
        "" => true,
        rest => rest.strip_prefix(',').map(|r| r.trim_start()).is_some_and(|r| r == "i" || (r.len() == 1 && r.as_bytes()[0].is_ascii_digit())),
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let headers = read_headers(&mut reader)?;
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    if header("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        let mut w = stream;
        let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let length: usize = header("content-length").and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        let mut body = vec![0; length.min(64 << 20)];
        reader.read_exact(&mut body).ok()?;
        body
    };
    let without_fragment = target.split('#').next().unwrap_or("");
    let (raw_path, raw_query) = without_fragment.split_once('?').unwrap_or((without_fragment, ""));
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    Some(Request { method, path: percent_decode(raw_path, false), query, headers, body, target })
}

fn read_headers(reader: &mut impl BufRead) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return Some(headers);
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            return Some(headers);
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).ok()?;
        let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            read_headers(reader)?; // trailers
            return Some(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).ok()?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf).ok()?;
    }
}

fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap() * 16 + hex(b[i + 2]).unwrap());
                i += 2;
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        _ => "",
    }
}

fn write_response(stream: &TcpStream, response: &Response) {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", response.body.len()));
    let mut w = stream;
    let _ = w.write_all(head.as_bytes()).and_then(|_| w.write_all(&response.body)).and_then(|_| w.flush());
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `length` characters of [A-Za-z0-9], like ntfy's ids.
fn random_string(length: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    (0..length)
        .map(|_| {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            h.write_u128(nanos);
            ID_CHARSET[(h.finish() % ID_CHARSET.len() as u64) as usize] as char
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The Android app's `http` action, and a small HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

/// Performs an ntfy `http` action as the Android app does when its button is tapped: `method`
/// (default `POST`) to `url` with the app's `User-Agent`, then the action's `headers`, and its
/// `body` (an empty body for methods other than GET/HEAD when none is given; no `Content-Type`
/// unless the action sets one); redirects are followed as OkHttp follows them. Returns the final
/// status and response body (the app counts 2xx as success). Only `http://` URLs work.
pub async fn perform_http_action(action: &Value) -> Result<(u16, String)> {
    let action = action.clone();
    tokio::task::spawn_blocking(move || perform_http_action_blocking(&action)).await?
}

fn perform_http_action_blocking(action: &Value) -> Result<(u16, String)> {
    if !action["action"].as_str().is_some_and(|a| a.eq_ignore_ascii_case("http")) {
        return Err(format!("not an http action: {action}").into());
    }
    let mut url = action["url"].as_str().filter(|u| !u.is_empty()).ok_or("the http action has no url")?.to_string();
    let mut method = action["method"].as_str().filter(|m| !m.is_empty()).map(str::to_uppercase).unwrap_or_else(|| "POST".into());
    let bodyless = |m: &str| m == "GET" || m == "HEAD";
    let mut body = match action["body"].as_str() {
        Some(b) => Some(b.to_string()),
        None if bodyless(&method) => None,
        None => Some(String::new()),
    };
    if bodyless(&method) && body.is_some() {
        return Err(format!("method {method} must not have a request body.").into());
    }
    let mut headers = vec![("User-Agent".to_string(), ANDROID_USER_AGENT.to_string())];
    if let Some(extra) = action["headers"].as_object() {
        for (k, v) in extra {
            headers.push((k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
        }
    }
    for _ in 0..=20 {
        let reply = http_exchange(&method, &url, &headers, body.as_deref().map(str::as_bytes))?;
        let location = reply.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("location")).map(|(_, v)| v.clone());
        match (reply.status, location) {
            (300..=303 | 307 | 308, Some(location)) => {
                let next = resolve_url(&url, &location)?;
                if authority(&next)? != authority(&url)? {
                    headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
                }
                if !bodyless(&method) && reply.status != 307 && reply.status != 308 {
                    method = "GET".into();
                    body = None;
                    headers.retain(|(k, _)| !["content-type", "content-length", "transfer-encoding"].iter().any(|h| k.eq_ignore_ascii_case(h)));
                }
                url = next;
            }
            _ => return Ok((reply.status, String::from_utf8_lossy(&reply.body).into_owned())),
        }
    }
    Err("too many follow-up requests: 21".into())
}

struct HttpReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// `http://host[:port]` of a URL.
fn authority(url: &str) -> Result<String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("only http:// URLs are supported, not {url}"))?;
    Ok(rest.split(['/', '?', '#']).next().unwrap_or("").rsplit('@').next().unwrap_or("").to_string())
}

fn resolve_url(base: &str, location: &str) -> Result<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        Ok(location.to_string())
    } else if location.starts_with("//") {
        Ok(format!("http:{location}"))
    } else if location.starts_with('/') {
        Ok(format!("http://{}{location}", authority(base)?))
    } else {
        let path = base.strip_prefix("http://").and_then(|r| r.find('/').map(|i| &r[i..])).unwrap_or("/");
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        Ok(format!("http://{}{}{location}", authority(base)?, if dir.is_empty() { "/" } else { dir }))
    }
}

/// One HTTP/1.1 exchange on a fresh connection (`Connection: close`).
fn http_exchange(method: &str, url: &str, headers: &[(String, String)], body: Option<&[u8]>) -> Result<HttpReply> {
    let authority = authority(url)?;
    let rest = &url["http://".len()..];
    let path = rest.find(['/', '?']).map(|i| &rest[i..]).unwrap_or("/");
    let path = path.split('#').next().unwrap_or("/");
    let path = if path.starts_with('?') { format!("/{path}") } else { path.to_string() };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => (h.to_string(), p.parse::<u16>()?),
        _ => (authority.clone(), 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let mut stream = None;
    let mut last_error = None;
    for addr in (host.as_str(), port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(15)) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let stream = match (stream, last_error) {
        (Some(s), _) => s,
        (None, Some(e)) => return Err(e.into()),
        (None, None) => return Err(format!("{host} has no address").into()),
    };
    stream.set_read_timeout(Some(Duration::from_secs(15)))?;
    stream.set_write_timeout(Some(Duration::from_secs(15)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (k, v) in headers {
        if body.is_some() && (k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")) {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {authority}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let mut w = &stream;
    w.write_all(head.as_bytes())?;
    if let Some(body) = body {
        w.write_all(body)?;
    }
    w.flush()?;

    let mut reader = BufReader::new(&stream);
    loop {
        let mut status_line = String::new();
        if reader.read_line(&mut status_line)? == 0 {
            return Err("connection closed before a response".into());
        }
        let status: u16 = status_line.split_whitespace().nth(1).ok_or_else(|| format!("bad status line {status_line:?}"))?.parse()?;
        let headers = read_headers(&mut reader).ok_or("bad response headers")?;
        if (100..200).contains(&status) {
            continue; // interim response
        }
        let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let body = if method == "HEAD" || status == 204 || status == 304 {
            Vec::new()
        } else if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
            read_chunked(&mut reader).ok_or("bad chunked body")?
        } else if let Some(length) = header("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
            let mut body = vec![0; length];
            reader.read_exact(&mut body)?;
            body
        } else {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            body
        };
        return Ok(HttpReply { status, headers, body });
    }
}

// ---------------------------------------------------------------------------------------------
// Tests of the stand-in itself (no browser)
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::{HttpRequest, HttpResponse, MiniServer};

    fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, Vec<(String, String)>, String) {
        let headers: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let reply = http_exchange(method, url, &headers, body.map(str::as_bytes)).expect("request answered");
        (reply.status, reply.headers, String::from_utf8(reply.body).expect("UTF-8 body"))
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn publish_ok(ntfy: &NtfyStandIn, body: Value) -> Value {
        let (status, headers, text) = call("POST", &format!("{}/", ntfy.url), &[("Content-Type", "application/json")], Some(&body.to_string()));
        assert_eq!(status, 200, "{text}");
        assert_eq!(header(&headers, "Access-Control-Allow-Origin"), Some("*"));
        serde_json::from_str(&text).expect("message JSON")
    }

    fn publish_err(ntfy: &NtfyStandIn, body: &str) -> (u16, Value) {
        let (status, headers, text) = call("POST", &format!("{}/", ntfy.url), &[("Content-Type", "application/json")], Some(body));
        assert_eq!(header(&headers, "Access-Control-Allow-Origin"), Some("*"), "errors carry CORS too");
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("error JSON, got {text:?}")))
    }

    fn poll(ntfy: &NtfyStandIn, topics: &str, query: &str) -> Vec<Value> {
        let (status, headers, text) = call("GET", &format!("{}/{topics}/json?poll=1{query}", ntfy.url), &[], None);
        assert_eq!(status, 200, "{text}");
        assert_eq!(header(&headers, "Content-Type"), Some("application/x-ndjson; charset=utf-8"));
        text.lines().map(|l| serde_json::from_str(l).expect("one JSON object a line")).collect()
    }

    fn ids(messages: &[Value]) -> Vec<String> {
        messages.iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
    }

    /// A raw streaming subscription, read as it arrives.
    struct Subscription {
        tcp: TcpStream,
        seen: String,
        closed: bool,
    }

    impl Subscription {
        fn open(ntfy: &NtfyStandIn, path: &str) -> Subscription {
            let mut tcp = TcpStream::connect(ntfy.url.trim_start_matches("http://")).expect("connects");
            tcp.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            write!(tcp, "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").unwrap();
            Subscription { tcp, seen: String::new(), closed: false }
        }

        /// Reads until `pred` holds on everything received so far (or the stream ends).
        fn read_until(&mut self, within: Duration, pred: impl Fn(&str) -> bool) -> bool {
            let deadline = Instant::now() + within;
            let mut buf = [0u8; 4096];
            loop {
                if pred(&self.seen) {
                    return true;
                }
                if self.closed || Instant::now() > deadline {
                    return false;
                }
                match self.tcp.read(&mut buf) {
                    Ok(0) => self.closed = true,
                    Ok(n) => self.seen.push_str(std::str::from_utf8(&buf[..n]).unwrap()),
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                    Err(_) => self.closed = true,
                }
            }
        }

        fn body(&self) -> &str {
            self.seen.split_once("\r\n\r\n").map_or("", |(_, b)| b)
        }

        /// The JSON objects of an ndjson stream so far.
        fn json_events(&self) -> Vec<Value> {
            self.body().lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
        }
    }

    #[tokio::test]
    async fn publish_json_is_answered_and_polled_back_as_ntfy_does() {
        let ntfy = NtfyStandIn::start();
        let sent = json!({
            "topic": "piket-alice",
            "message": "  Disk full on db-1  ",
            "title": "[SEV1] Disk full",
            "tags": ["rotating_light", "sev1"],
            "priority": 5,
            "click": "http://app.example/incidents/7",
            "markdown": true,
            "actions": [
                {"action": "view", "label": "Open incident", "url": "http://app.example/incidents/7", "clear": true},
                {"action": "HTTP", "label": "Acknowledge", "url": "http://app.example/ack", "method": "put", "headers": {"X-Token": "t1"}, "body": "ack", "unknown": 1}
            ]
        });
        let before = unix_now();
        let m = publish_ok(&ntfy, sent);
        let id = m["id"].as_str().unwrap();
        assert!(valid_message_id(id), "12 alphanumeric characters: {id}");
        let time = m["time"].as_i64().unwrap();
        assert!(time >= before && time <= unix_now());
        assert_eq!(m["expires"], json!(time + 43200));
        assert_eq!(m["event"], "message");
        assert_eq!(m["topic"], "piket-alice");
        assert_eq!(m["message"], "Disk full on db-1", "ntfy trims the message");
        assert_eq!(m["title"], "[SEV1] Disk full");
        assert_eq!(m["tags"], json!(["rotating_light", "sev1"]));
        assert_eq!(m["priority"], 5);
        assert_eq!(m["click"], "http://app.example/incidents/7");
        assert_eq!(m["content_type"], "text/markdown");
        let actions = m["actions"].as_array().unwrap();
        assert_eq!(actions.len(), 2);
        for a in actions {
            let aid = a["id"].as_str().unwrap();
            assert_eq!(aid.len(), 10, "ntfy gives each action a 10-character id");
        }
        assert_eq!(actions[0]["clear"], true);
        assert_eq!(actions[1]["action"], "http", "lower-cased");
        assert_eq!(actions[1]["method"], "PUT", "upper-cased");
        assert_eq!(actions[1]["clear"], false, "clear is always written");
        assert_eq!(actions[1]["headers"], json!({"X-Token": "t1"}));
        assert_eq!(actions[1]["body"], "ack");
        assert!(actions[1].get("unknown").is_none());

        let polled = poll(&ntfy, "piket-alice", "&since=all");
        assert_eq!(polled, vec![m.clone()], "the poll returns the message exactly as answered");
        assert_eq!(ntfy.messages("piket-alice"), vec![m.clone()]);
        assert!(ntfy.messages("piket-bob").is_empty());
        assert!(poll(&ntfy, "piket-bob", "&since=all").is_empty());
        let found = ntfy.wait_for_message("piket-alice", Duration::from_secs(1), |m| m["priority"] == 5).await;
        assert_eq!(found.as_ref(), Some(&m));
        assert!(ntfy.wait_for_message("piket-alice", Duration::from_millis(100), |m| m["priority"] == 1).await.is_none());

        // A plain publish to /<topic>, with headers.
        let (status, _, text) =
            call("PUT", &format!("{}/piket-alice", ntfy.url), &[("Title", "Plain"), ("X-Priority", "high"), ("Tags", "a, b")], Some("Hello\n"));
        assert_eq!(status, 200, "{text}");
        let plain: Value = serde_json::from_str(&text).unwrap();
        assert_eq!((plain["title"].as_str(), plain["priority"].as_i64(), plain["message"].as_str()), (Some("Plain"), Some(4), Some("Hello")));
        assert_eq!(plain["tags"], json!(["a", "b"]));
        // Chromium's own `Priority: u=1, i` header is not an ntfy priority.
        let (status, _, text) = call("POST", &format!("{}/piket-alice", ntfy.url), &[("Priority", "u=1, i")], Some(""));
        assert_eq!(status, 200, "{text}");
        let triggered: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(triggered["message"], "triggered", "an empty body is ntfy's 'triggered'");
        assert!(triggered.get("priority").is_none());
        assert_eq!(ntfy.messages("piket-alice").len(), 3);

        let log = ntfy.requests();
        assert_eq!(log[0], ("POST".to_string(), "/".to_string()));
        assert_eq!(log[1], ("GET".to_string(), "/piket-alice/json?poll=1&since=all".to_string()));
        assert!(log.contains(&("PUT".to_string(), "/piket-alice".to_string())));
    }

    #[tokio::test]
    async fn since_selects_cached_messages_as_ntfy_does() {
        let ntfy = NtfyStandIn::start();
        let first = publish_ok(&ntfy, json!({"topic": "t", "message": "one"}));
        let other = publish_ok(&ntfy, json!({"topic": "u", "message": "elsewhere"}));
        let second = publish_ok(&ntfy, json!({"topic": "t", "message": "two"}));
        let third = publish_ok(&ntfy, json!({"topic": "t", "message": "three"}));
        let id = |m: &Value| m["id"].as_str().unwrap().to_string();

        assert_eq!(ids(&poll(&ntfy, "t", &format!("&since={}", id(&first)))), vec![id(&second), id(&third)], "after that id, in order");
        assert_eq!(ids(&poll(&ntfy, "t", &format!("&since={}", id(&third)))), Vec::<String>::new());
        assert_eq!(ids(&poll(&ntfy, "t", &format!("&since={}", id(&other)))), vec![id(&second), id(&third)], "an id of another topic still marks a place");
        assert_eq!(ids(&poll(&ntfy, "t", "&since=AAAAAAAAAAAA")), vec![id(&first), id(&second), id(&third)], "an unknown id returns everything");
        assert_eq!(ids(&poll(&ntfy, "t", "&since=latest")), vec![id(&third)]);
        assert_eq!(ids(&poll(&ntfy, "t", "&since=all")).len(), 3);
        assert_eq!(ids(&poll(&ntfy, "t", "")).len(), 3, "polling without since is since=all in ntfy");
        assert!(poll(&ntfy, "t", "&since=none").is_empty());
        assert_eq!(ids(&poll(&ntfy, "t", "&since=10m")).len(), 3);
        assert_eq!(ids(&poll(&ntfy, "t", &format!("&since={}", unix_now() - 5))).len(), 3);
        assert!(poll(&ntfy, "t", &format!("&since={}", unix_now() + 60)).is_empty());
        assert_eq!(ids(&poll(&ntfy, "t,u", "&since=all")), vec![id(&first), id(&other), id(&second), id(&third)], "several topics, by time");
        assert_eq!(ids(&poll(&ntfy, "t", "&since=all&message=two")), vec![id(&second)], "filters");

        let (status, _, text) = call("GET", &format!("{}/t/json?poll=1&since=yesterday", ntfy.url), &[], None);
        assert_eq!(status, 400);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["code"], 40008);

        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("30s"), Some(30.0));
        assert_eq!(parse_go_duration("2d"), None, "Go durations have no days");
    }

    #[tokio::test]
    async fn an_sse_subscriber_gets_open_then_live_messages() {
        let ntfy = NtfyStandIn::start();
        let old = publish_ok(&ntfy, json!({"topic": "live", "message": "before"}));
        let mut sub = Subscription::open(&ntfy, "/live/sse");
        assert!(sub.read_until(Duration::from_secs(5), |s| s.contains("event: open\ndata: ") && s.ends_with("\n\n")), "open event: {:?}", sub.seen);
        let (head, _) = sub.seen.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("Content-Type: text/event-stream; charset=utf-8"), "{head}");
        assert!(head.contains("Access-Control-Allow-Origin: *"), "{head}");
        assert!(head.contains("Cache-Control: no-cache"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("content-length"), "{head}");
        assert!(!sub.body().contains(old["id"].as_str().unwrap()), "no cached messages without since");
        assert_eq!(ntfy.subscribers("live"), 1);
        assert_eq!(ntfy.subscribers("other"), 0);

        let sent = publish_ok(&ntfy, json!({"topic": "live", "message": "a <b> & c", "priority": 4}));
        assert!(sub.read_until(Duration::from_secs(5), |s| s.matches("\n\n").count() >= 2), "message event: {:?}", sub.seen);
        let blocks: Vec<&str> = sub.body().split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 2, "{blocks:?}");
        let open: Value = serde_json::from_str(blocks[0].strip_prefix("event: open\ndata: ").expect("open is a named event")).unwrap();
        assert_eq!(open["event"], "open");
        assert_eq!(open["topic"], "live");
        assert!(open.get("expires").is_none() && open.get("message").is_none());
        let data = blocks[1].strip_prefix("data: ").expect("a message event has no event: line");
        assert!(!data.contains('\n'), "one data line");
        assert!(data.contains(r"a \u003cb\u003e \u0026 c"), "Go escapes HTML characters: {data}");
        assert_eq!(serde_json::from_str::<Value>(data).unwrap(), sent);
        assert!(!sub.body().lines().any(|l| l.starts_with("id:")), "no id: field");

        drop(sub);
        let deadline = Instant::now() + Duration::from_secs(5);
        while ntfy.subscribers("live") > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(ntfy.subscribers("live"), 0, "a client hanging up ends its subscription");
    }

    #[tokio::test]
    async fn a_json_stream_of_several_topics_gets_cached_live_and_keepalive_events() {
        let ntfy = NtfyStandIn::start();
        ntfy.set_keepalive_interval(Duration::from_millis(300));
        let cached = publish_ok(&ntfy, json!({"topic": "b", "message": "cached"}));
        let mut sub = Subscription::open(&ntfy, "/a,b/json?since=all");
        assert!(sub.read_until(Duration::from_secs(5), |s| s.matches('\n').count() >= 7), "{:?}", sub.seen);
        assert!(sub.seen.contains("Content-Type: application/x-ndjson; charset=utf-8"));
        assert_eq!((ntfy.subscribers("a"), ntfy.subscribers("b")), (1, 1));
        let live = publish_ok(&ntfy, json!({"topic": "a", "message": "live"}));
        publish_ok(&ntfy, json!({"topic": "c", "message": "not subscribed"}));
        assert!(sub.read_until(Duration::from_secs(5), |s| s.contains("\"live\"") && s.contains("keepalive")), "{:?}", sub.seen);
        let events = sub.json_events();
        assert_eq!(events[0]["event"], "open");
        assert_eq!(events[0]["topic"], "a,b");
        assert_eq!(events[1], cached);
        let rest: Vec<&Value> = events[2..].iter().filter(|e| e["event"] == "message").collect();
        assert_eq!(rest, vec![&live]);
        let keepalive = events.iter().find(|e| e["event"] == "keepalive").unwrap();
        assert_eq!(keepalive["topic"], "a,b");
    }

    #[tokio::test]
    async fn publishing_is_validated_as_ntfy_validates() {
        let ntfy = NtfyStandIn::start();
        let view = json!({"action": "view", "label": "Open", "url": "http://x/"});
        let (status, e) = publish_err(&ntfy, &json!({"topic": "t", "message": "m", "actions": [view, view, view, view]}).to_string());
        assert_eq!((status, &e["code"], &e["http"]), (400, &json!(40018), &json!(400)));
        assert_eq!(e["error"], "invalid request: actions invalid; only 3 actions allowed");
        publish_ok(&ntfy, json!({"topic": "t", "message": "m", "actions": [view, view, view]}));

        let bad_actions = [
            (json!({"action": "dial", "label": "Call", "url": "tel:1"}), "parameter 'action' cannot be 'dial'"),
            (json!({"action": "view", "label": "", "url": "http://x/"}), "parameter 'label' is required"),
            (json!({"action": "http", "label": "Ack"}), "parameter 'url' is required for action 'http'"),
            (json!({"action": "http", "label": "Ack", "url": "http://x/", "method": "GET", "body": "b"}), "parameter 'body' cannot be set if method is GET"),
        ];
        for (action, error) in bad_actions {
            let (status, e) = publish_err(&ntfy, &json!({"topic": "t", "actions": [action]}).to_string());
            assert_eq!((status, e["code"].as_i64()), (400, Some(40018)), "{e}");
            assert!(e["error"].as_str().unwrap().contains(error), "{e}");
        }
        let (status, e) = publish_err(&ntfy, r#"{"message": "no topic"}"#);
        assert_eq!((status, e["code"].as_i64(), e["error"].as_str()), (400, Some(40009), Some("invalid request: topic invalid")));
        let (status, e) = publish_err(&ntfy, "not json");
        assert_eq!((status, e["code"].as_i64()), (400, Some(40024)));
        let (status, e) = publish_err(&ntfy, r#"{"topic": "t", "priority": "5"}"#);
        assert_eq!((status, e["code"].as_i64()), (400, Some(40024)), "a priority must be a JSON number");
        let (status, e) = publish_err(&ntfy, r#"{"topic": "t", "priority": 6}"#);
        assert_eq!((status, e["code"].as_i64()), (400, Some(40007)));
        let (status, e) = publish_err(&ntfy, &json!({"topic": "t", "message": "x".repeat(MESSAGE_SIZE_LIMIT + 1)}).to_string());
        assert_eq!((status, e["http"].as_i64()), (413, Some(413)));
        publish_ok(&ntfy, json!({"topic": "t", "message": "x".repeat(MESSAGE_SIZE_LIMIT)}));
        let (status, _, text) = call("POST", &format!("{}/t", ntfy.url), &[], Some(&"y".repeat(MESSAGE_SIZE_LIMIT + 1)));
        assert_eq!(status, 413, "{text}");

        // Actions in the simple header format.
        let (status, _, text) = call(
            "POST",
            &format!("{}/t", ntfy.url),
            &[("Actions", r#"view, Open, http://x/; http, "Ack, now", http://x/ack, method=put, headers.X-A=1, clear=true"#)],
            Some("m"),
        );
        assert_eq!(status, 200, "{text}");
        let m: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(m["actions"][1]["label"], "Ack, now");
        assert_eq!(m["actions"][1]["method"], "PUT");
        assert_eq!(m["actions"][1]["headers"], json!({"X-A": "1"}));
        assert_eq!(m["actions"][1]["clear"], true);

        let (status, headers, text) = call("GET", &format!("{}/nowhere/at/all", ntfy.url), &[], None);
        assert_eq!(status, 404);
        assert_eq!(header(&headers, "Access-Control-Allow-Origin"), Some("*"));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), json!({"code": 40401, "http": 404, "error": "page not found"}));
        assert_eq!(ntfy.messages("t").len(), 3, "only the valid publishes were kept");
    }

    #[tokio::test]
    async fn options_answers_the_cors_preflight() {
        let ntfy = NtfyStandIn::start();
        let (status, headers, body) = call(
            "OPTIONS",
            &format!("{}/", ntfy.url),
            &[("Origin", "http://127.0.0.1:9"), ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type")],
            None,
        );
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "Access-Control-Allow-Methods"), Some("GET, PUT, POST, PATCH, DELETE"));
        assert_eq!(header(&headers, "Access-Control-Allow-Headers"), Some("*"));
        assert_eq!(header(&headers, "Access-Control-Allow-Origin"), Some("*"));
        assert!(body.is_empty());
        let (status, headers, _) = call("OPTIONS", &format!("{}/any/path/at/all", ntfy.url), &[], None);
        assert_eq!((status, header(&headers, "Access-Control-Allow-Origin")), (200, Some("*")));
        assert_eq!(ntfy.requests()[0], ("OPTIONS".to_string(), "/".to_string()));
    }

    #[tokio::test]
    async fn stop_refuses_connections_and_closes_streams_and_restart_keeps_the_cache() {
        let ntfy = NtfyStandIn::start();
        let kept = publish_ok(&ntfy, json!({"topic": "t", "message": "kept"}));
        let mut sub = Subscription::open(&ntfy, "/t/json");
        assert!(sub.read_until(Duration::from_secs(5), |s| s.contains("\"open\"")), "{:?}", sub.seen);
        assert_eq!(ntfy.subscribers("t"), 1);

        ntfy.stop();
        assert_eq!(ntfy.subscribers("t"), 0);
        assert!(sub.read_until(Duration::from_secs(5), |_| false) || sub.closed);
        assert!(sub.closed, "the stream is closed by the server");
        let addr: std::net::SocketAddr = ntfy.url.trim_start_matches("http://").parse().unwrap();
        let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
        assert!(refused.is_err(), "the port refuses connections while stopped");

        ntfy.restart();
        assert_eq!(poll(&ntfy, "t", "&since=all"), vec![kept.clone()], "the cache survives a restart");
        assert_eq!(ntfy.url, format!("http://{addr}"), "same port");
        let again = publish_ok(&ntfy, json!({"topic": "t", "message": "after"}));
        assert_eq!(ntfy.messages("t"), vec![kept, again]);
    }

    #[tokio::test]
    async fn an_http_action_is_performed_as_the_android_app_does() {
        let seen: Arc<Mutex<Vec<(String, String, Vec<(String, String)>, String)>>> = Arc::default();
        let log = seen.clone();
        let target = MiniServer::start(
            0,
            Arc::new(move |r: HttpRequest| {
                log.lock().unwrap().push((r.method.clone(), r.path.clone(), r.headers.clone(), String::from_utf8_lossy(&r.body).into_owned()));
                match r.path.as_str() {
                    "/moved" => HttpResponse { status: 303, headers: vec![("Location".into(), "/acked".into())], body: Vec::new() },
                    "/fail" => HttpResponse { status: 500, headers: vec![], body: b"nope".to_vec() },
                    _ => HttpResponse { status: 200, headers: vec![], body: b"ok".to_vec() },
                }
            }),
        );
        let base = format!("http://127.0.0.1:{}", target.port);
        let find = |h: &[(String, String)], n: &str| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());

        // As ntfy stores it after a publish: no method means POST.
        let ntfy = NtfyStandIn::start();
        let m = publish_ok(
            &ntfy,
            json!({"topic": "t", "actions": [{"action": "http", "label": "Ack", "url": format!("{base}/ack?token=1"), "headers": {"X-Token": "abc"}, "body": "{\"ack\":true}"}]}),
        );
        let result = perform_http_action(&m["actions"][0]).await.unwrap();
        assert_eq!(result, (200, "ok".to_string()));
        let (method, path, headers, body) = seen.lock().unwrap()[0].clone();
        assert_eq!((method.as_str(), path.as_str(), body.as_str()), ("POST", "/ack?token=1", "{\"ack\":true}"));
        assert_eq!(find(&headers, "X-Token").as_deref(), Some("abc"));
        assert!(find(&headers, "User-Agent").unwrap().starts_with("ntfy/"));
        assert_eq!(find(&headers, "Content-Type"), None, "the app sends no Content-Type of its own");

        // No body: an empty one (Content-Length: 0) for POST, none for GET.
        perform_http_action(&json!({"action": "http", "label": "x", "url": format!("{base}/empty")})).await.unwrap();
        perform_http_action(&json!({"action": "http", "label": "x", "url": format!("{base}/get"), "method": "get"})).await.unwrap();
        let log = seen.lock().unwrap().clone();
        assert_eq!((log[1].0.as_str(), find(&log[1].2, "Content-Length").as_deref()), ("POST", Some("0")));
        assert_eq!((log[2].0.as_str(), find(&log[2].2, "Content-Length")), ("GET", None));

        // A 303 is followed with a GET; failures come back as they are.
        let result = perform_http_action(&json!({"action": "http", "label": "x", "url": format!("{base}/moved"), "method": "PUT", "body": "b"})).await.unwrap();
        assert_eq!(result, (200, "ok".to_string()));
        let log = seen.lock().unwrap().clone();
        assert_eq!((log[4].0.as_str(), log[4].1.as_str(), log[4].3.as_str()), ("GET", "/acked", ""));
        assert_eq!(perform_http_action(&json!({"action": "http", "label": "x", "url": format!("{base}/fail")})).await.unwrap(), (500, "nope".to_string()));
        assert!(perform_http_action(&json!({"action": "view", "label": "x", "url": base})).await.is_err());
        target.stop();
    }
}
