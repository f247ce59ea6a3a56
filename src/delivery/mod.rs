//! Delivery: what to send to a channel, and when to try again.
//!
//! Owns: channel kinds and their settings ([`ChannelKind`], [`ChannelConfig`], [`validate_config`]),
//! what a page or post says ([`Message`], message [`template`]s), the exact request each kind
//! needs ([`request`] → [`RequestSpec`]: URL, body, content type, and whether CORS lets us read
//! the answer), the retry decision after each attempt ([`retry`]), and masking webhook secrets
//! ([`mask`]).
//!
//! Never: sends anything, reads the clock, or touches the browser (no `web_sys`, `js_sys`,
//! `wasm_bindgen`, `leptos`, `gloo`) — the wasm adapter executes the [`RequestSpec`]s and reports
//! an [`AttemptOutcome`] back; builds JSON by string concatenation (bodies are
//! `serde_json::Value`s, so quotes, newlines and markup in a title stay plain text); puts a webhook
//! URL in `Debug` output (it is a secret).
//!
//! The kinds, per the browser facts in PLATFORM.md:
//! - **ntfy**: JSON `POST` to the server root (`topic`, `title`, `message`, `priority` 1–5, `tags`,
//!   `click`, `actions`); ntfy answers CORS, so the status is readable.
//! - **Slack** incoming webhook: `text` + `blocks`, sent as a CORS-simple request (`text/plain`
//!   body holding the JSON, `no-cors`); the answer is opaque.
//! - **Teams** Workflows: a `message` with an Adaptive Card attachment, `no-cors`, opaque.
//! - **Discord**: `content` (≤ 2000 characters, cut with "…") + one embed, JSON with CORS;
//!   `allowed_mentions` is empty so a title holding `@everyone` pings nobody, and the incident's
//!   words are markdown-escaped in the text and the embed's description.
//! - **Generic** webhook: the documented JSON body below ([`ChannelKind::Generic`]).
//!
//! Any kind but Slack and Teams can be switched to the `no-cors` form with
//! [`ChannelConfig::no_cors`] for receivers that send no CORS headers (then a CORS failure is no
//! longer mistaken for a network error, at the price of an unreadable answer).

mod body;
pub mod mask;
pub mod retry;
pub mod template;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::engine::{Incident, IncidentId, Severity, Status};

pub use mask::{mask_secret, mask_url};
pub use retry::{next_attempt, AttemptOutcome, Decision, GiveUpReason, RetryPolicy};
pub use template::{render, validate_template, TemplateError, PLACEHOLDERS};

/// Where a channel delivers. Written `"ntfy"`, `"slack"`, `"teams"`, `"discord"`, `"generic"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Ntfy,
    Slack,
    /// Microsoft Teams through a Workflows ("When a Teams webhook request is received") URL.
    Teams,
    Discord,
    /// Any URL taking this JSON body (`at` is RFC 3339 UTC; `level`, `person` may be `null`):
    ///
    /// ```json
    /// {"event": "paged", "text": "<the rendered message>",
    ///  "incident": {"id": "inc-1", "title": "…", "summary": "…", "severity": "sev1",
    ///               "status": "new", "service": "payments", "url": "https://…"},
    ///  "level": 1, "person": "Alice Example", "at": "2025-03-01T03:00:00Z"}
    /// ```
    ///
    /// With the reply channel on, a page also has `"ack_url"` (the one-tap acknowledgement link)
    /// and `"acks": [{"person": "Alice Example", "url": "https://…/ack/#…"}]`.
    Generic,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [ChannelKind::Ntfy, ChannelKind::Slack, ChannelKind::Teams, ChannelKind::Discord, ChannelKind::Generic];
    pub fn as_str(self) -> &'static str {
        ["ntfy", "slack", "teams", "discord", "generic"][self as usize]
    }
}

/// How to reach one channel. `url` (and an ntfy `topic`) are secrets: `Debug` masks them; show
/// [`ChannelConfig::masked`] on screens and in exports.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// The webhook URL; for ntfy, the server (`https://ntfy.sh`), posted to at its root.
    pub url: String,
    /// ntfy only: the topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The message text, with placeholders (see [`template`]); `None` for Piket's wording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Send as a CORS-simple `no-cors` request even where the kind allows JSON with CORS. Slack and
    /// Teams always go `no-cors`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_cors: bool,
}

impl ChannelConfig {
    pub fn new(kind: ChannelKind, url: impl Into<String>) -> ChannelConfig {
        ChannelConfig { kind, url: url.into(), topic: None, template: None, no_cors: false }
    }
    /// The same settings with the URL and topic masked, for screens and exports.
    pub fn masked(&self) -> ChannelConfig {
        ChannelConfig { url: mask_url(&self.url), topic: self.topic.as_deref().map(mask_secret), ..self.clone() }
    }
}

impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = self.masked();
        f.debug_struct("ChannelConfig")
            .field("kind", &masked.kind)
            .field("url", &masked.url)
            .field("topic", &masked.topic)
            .field("template", &masked.template)
            .field("no_cors", &masked.no_cors)
            .finish()
    }
}

/// Why a channel's settings were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("url: {0}")]
    Url(String),
    #[error("topic: {0}")]
    Topic(String),
    #[error("template: {0}")]
    Template(#[from] TemplateError),
}

/// Check a channel before saving it: an `http(s)` URL with a host and no spaces (plain `http` is
/// allowed for a receiver on the local network), an ntfy topic of 1–64 letters, digits, `-` or
/// `_`, and a valid template.
pub fn validate_config(config: &ChannelConfig) -> Result<(), ChannelError> {
    let url = config.url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ChannelError::Url("must start with https:// (or http:// for a receiver on your network)".into()))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(ChannelError::Url("must name a host and hold no spaces".into()));
    }
    match (config.kind, config.topic.as_deref().map(str::trim)) {
        (ChannelKind::Ntfy, None | Some("")) => return Err(ChannelError::Topic("ntfy needs a topic".into())),
        (ChannelKind::Ntfy, Some(t)) if t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') => {
            return Err(ChannelError::Topic("1–64 letters, digits, “-” or “_”".into()))
        }
        (ChannelKind::Ntfy, _) | (_, None) => {}
        (_, Some(_)) => return Err(ChannelError::Topic(format!("only ntfy channels have a topic, not {}", config.kind.as_str()))),
    }
    if let Some(t) = &config.template {
        validate_template(t)?;
    }
    Ok(())
}

/// What happened, as a channel hears it. Written `"paged"`, `"escalated"`, `"acknowledged"`,
/// `"resolved"`, `"test"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Paged,
    Escalated,
    Acknowledged,
    Resolved,
    /// "Send test" from the channel's settings.
    Test,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        ["paged", "escalated", "acknowledged", "resolved", "test"][self as usize]
    }
    /// Whether someone should be woken by it (ntfy priority, Teams colour).
    fn wakes(self) -> bool {
        matches!(self, Event::Paged | Event::Escalated)
    }
}

/// What one page or post says: the incident's fields and the event, level and person.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub event: Event,
    pub incident_id: IncidentId,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    pub severity: Severity,
    pub status: Status,
    #[serde(default)]
    pub service: String,
    /// The incident's page (a phone opens it to acknowledge); may be empty.
    #[serde(default)]
    pub url: String,
    /// The policy level paged (1-based).
    #[serde(default)]
    pub level: Option<u32>,
    /// The person paged, or who acknowledged or resolved: a display name.
    #[serde(default)]
    pub person: Option<String>,
    /// The intended time of the event.
    pub at: DateTime<Utc>,
    /// The one-tap acknowledgements this message carries: one per person it pages, when the
    /// reply channel is on (a page to a person carries theirs; a level's post to a channel
    /// carries one for each person paged at that level).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acks: Vec<crate::reply::AckLink>,
}

impl Message {
    /// A message about `incident` (its current title, summary, severity, status, service).
    pub fn about(incident: &Incident, event: Event, url: impl Into<String>, at: DateTime<Utc>) -> Message {
        let d = &incident.details;
        Message {
            event,
            incident_id: incident.id.clone(),
            title: d.title.clone(),
            summary: d.summary.clone(),
            severity: d.severity,
            status: incident.status,
            service: d.service.clone(),
            url: url.into(),
            level: None,
            person: None,
            at,
            acks: Vec::new(),
        }
    }
    pub fn level(mut self, level: u32) -> Message {
        self.level = Some(level);
        self
    }
    pub fn person(mut self, name: impl Into<String>) -> Message {
        self.person = Some(name.into());
        self
    }
}

/// `SEV1` … `SEV4`, as people write it.
pub fn severity_label(s: Severity) -> &'static str {
    ["SEV1", "SEV2", "SEV3", "SEV4"][s as usize]
}

/// Piket's own wording when a channel has no template: what happened, then the incident.
/// "Paged Alice (level 1): [SEV1] Checkout is down — payments".
pub fn default_text(m: &Message) -> String {
    let person = m.person.as_deref().filter(|p| !p.is_empty());
    let what = match m.event {
        Event::Paged => {
            let mut s = String::from("Paged");
            if let Some(p) = person {
                s += &format!(" {p}");
            }
            if let Some(l) = m.level {
                s += &format!(" (level {l})");
            }
            s
        }
        Event::Escalated => m.level.map_or("Escalated".to_string(), |l| format!("Escalated to level {l}")),
        Event::Acknowledged => person.map_or("Acknowledged".to_string(), |p| format!("Acknowledged by {p}")),
        Event::Resolved => person.map_or("Resolved".to_string(), |p| format!("Resolved by {p}")),
        Event::Test => "Test message from Piket".to_string(),
    };
    let mut text = format!("{what}: [{}] {}", severity_label(m.severity), m.title);
    if !m.service.is_empty() {
        text += &format!(" — {}", m.service);
    }
    text
}

/// The message text for a channel: its template filled in, or [`default_text`].
/// For Discord, whose message text is markdown, the incident's own words are escaped so a title
/// like `api/* 5xx > 5%` arrives as written (the template's own markdown still works).
pub fn message_text(config: &ChannelConfig, m: &Message) -> String {
    let escaped;
    let m = if config.kind == ChannelKind::Discord {
        escaped = Message {
            title: body::discord_escape(&m.title),
            summary: body::discord_escape(&m.summary),
            service: body::discord_escape(&m.service),
            person: m.person.as_deref().map(body::discord_escape),
            ..m.clone()
        };
        &escaped
    } else {
        m
    };
    config.template.as_deref().map_or_else(|| default_text(m), |t| render(t, m))
}

/// Whether the browser may let the page read the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `mode: "cors"`: the status is readable (a CORS refusal shows as a network error).
    Cors,
    /// `mode: "no-cors"`: the answer is opaque; only network failures show. Say so in the log.
    NoCors,
}

/// One HTTP request for the adapter to execute, exactly as given. `Debug` masks the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestSpec {
    pub url: String,
    /// Always `"POST"` today.
    pub method: &'static str,
    /// The `Content-Type` header (`text/plain` for `no-cors`: the only safelisted type a JSON body
    /// can travel under).
    pub content_type: &'static str,
    /// JSON text.
    pub body: String,
    pub mode: Mode,
}

impl RequestSpec {
    /// Whether the answer's status will be readable (else an attempt ends
    /// [`AttemptOutcome::Opaque`], delivered-but-unverified).
    pub fn status_readable(&self) -> bool {
        self.mode == Mode::Cors
    }
}

impl fmt::Debug for RequestSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSpec")
            .field("url", &mask_url(&self.url))
            .field("method", &self.method)
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .field("mode", &self.mode)
            .finish()
    }
}

/// The request that delivers `message` to the channel. Validate the config first
/// ([`validate_config`]); an invalid template still renders, literally.
pub fn request(config: &ChannelConfig, message: &Message) -> RequestSpec {
    let text = message_text(config, message);
    let body = match config.kind {
        ChannelKind::Ntfy => body::ntfy(config.topic.as_deref().unwrap_or_default().trim(), &text, message),
        ChannelKind::Slack => body::slack(&text, message),
        ChannelKind::Teams => body::teams(&text, message),
        ChannelKind::Discord => body::discord(&text, message),
        ChannelKind::Generic => body::generic(&text, message),
    };
    let url = match config.kind {
        // JSON publishing goes to the server root.
        ChannelKind::Ntfy if !config.url.trim().ends_with('/') => format!("{}/", config.url.trim()),
        _ => config.url.trim().to_string(),
    };
    let no_cors = config.no_cors || matches!(config.kind, ChannelKind::Slack | ChannelKind::Teams);
    let (content_type, mode) = if no_cors { ("text/plain", Mode::NoCors) } else { ("application/json", Mode::Cors) };
    RequestSpec { url, method: "POST", content_type, body: body.to_string(), mode }
}

/// Cut `text` to at most `max` characters — counted both as Unicode scalar values and as UTF-16
/// units, so it fits whichever the receiver counts — ending with "…" when cut, on a char boundary.
pub fn truncate(text: &str, max: usize) -> String {
    let fits = |s: &str| s.chars().count() <= max && s.encode_utf16().count() <= max;
    if fits(text) {
        return text.to_string();
    }
    let mut out = String::new();
    let mut units = 1; // the "…"
    for (n, c) in text.chars().enumerate() {
        if n + 2 > max || units + c.len_utf16() > max {
            break;
        }
        units += c.len_utf16();
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
