//! The reply channel: acknowledgements from phones that travel back to the clock through ntfy.
//!
//! Owns: the channel's settings ([`ReplySettings`]: server, reply topic, team key), what the clock
//! remembers of the topic ([`ReplyState`]: the last message id, tokens already used, recent
//! refusals), the signed tokens and confirmations ([`token`]), and the verdict on each message
//! that arrives on the topic ([`judge`]).
//!
//! Never: reads the clock, sends or subscribes (the wasm adapter `adapters::ntfy` does), or
//! touches the browser. The runtime applies a verdict to the engine and stores the new state in the
//! same transaction as the acknowledgement it caused.
//!
//! Why this shape: the phone has nothing stored, so everything it needs travels in the link —
//! the token (signed claims) and a confirmation key. Anyone who knows the reply topic can *send*
//! to it; only messages signed with the team key act, each at most once, and only before expiry.

pub mod token;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use token::{Claims, Confirmation, Minted, TeamKey, TokenAction, TokenError, Verified};

/// How many message ids the clock remembers having processed (ntfy ids are random, not ordered,
/// so a reconnect that asks `since=<id>` may hand some back).
const SEEN_MAX: usize = 256;
/// How many refusals Settings shows.
pub const REFUSALS_SHOWN: usize = 20;

/// Settings → "Acknowledge from phones".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplySettings {
    /// Off until someone turns it on.
    pub enabled: bool,
    /// The ntfy server the phones publish to; empty means the one in delivery settings.
    pub server: String,
    /// The reply topic: `piket-` and 128 random bits.
    pub topic: String,
    /// The team key (base64url of 256 bits). A secret: left out of backups unless asked for.
    pub key: String,
    /// When the channel was last turned on: the first catch-up starts here.
    pub enabled_at: Option<DateTime<Utc>>,
}

impl ReplySettings {
    pub fn team_key(&self) -> Option<TeamKey> {
        TeamKey::from_base64(&self.key)
    }
    /// The server to use, without a trailing slash.
    pub fn server_or(&self, default: &str) -> String {
        let s = if self.server.trim().is_empty() { default } else { self.server.trim() };
        s.trim_end_matches('/').to_string()
    }
    /// The channel's minting side, when it is on and complete.
    pub fn minter(&self, default_server: &str) -> Option<Minter> {
        if !self.enabled || self.topic.is_empty() {
            return None;
        }
        Some(Minter { key: self.team_key()?, server: self.server_or(default_server), topic: self.topic.clone() })
    }
    /// The same settings without the key, for screens and exports.
    pub fn without_key(&self) -> ReplySettings {
        ReplySettings { key: String::new(), ..self.clone() }
    }
}

/// Checks reply settings before saving: an `http(s)` server with a host, a topic of 1–64 letters,
/// digits, `-` or `_`, and a 256-bit key when the channel is on.
pub fn validate(settings: &ReplySettings) -> Result<(), (String, String)> {
    if !settings.server.trim().is_empty() {
        let probe = crate::delivery::ChannelConfig {
            topic: Some("t".into()),
            ..crate::delivery::ChannelConfig::new(crate::delivery::ChannelKind::Ntfy, settings.server.trim())
        };
        crate::delivery::validate_config(&probe).map_err(|e| ("server".to_string(), e.to_string().trim_start_matches("url: ").to_string()))?;
    }
    let t = settings.topic.trim();
    if (settings.enabled || !t.is_empty()) && (t.is_empty() || t.len() > 64 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        return Err(("topic".into(), "1–64 letters, digits, “-” or “_”".into()));
    }
    if settings.enabled && settings.team_key().is_none() {
        return Err(("key".into(), "a signing key is needed: generate one".into()));
    }
    Ok(())
}

/// Mints the one-tap acknowledgement of a page.
#[derive(Clone, Debug)]
pub struct Minter {
    key: TeamKey,
    pub server: String,
    pub topic: String,
}

/// One acknowledgement a message carries: for whom, the link, and what ntfy's http action posts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckLink {
    /// The person it acknowledges as (display name).
    pub name: String,
    /// `https://<app>/ack/#…`.
    pub link: String,
    /// The token alone (the http action's body).
    pub token: String,
    /// Where the token is published: `<server>/<reply topic>`.
    pub reply_url: String,
}

/// A page to acknowledge: everything a token binds.
pub struct PageToAck<'a> {
    pub incident: &'a str,
    pub page_key: &'a str,
    pub person: &'a str,
    pub person_name: &'a str,
    pub title: &'a str,
    pub severity: crate::engine::incident::Severity,
    /// When the page was meant to go out: the token lasts 24 h from here.
    pub paged_at: DateTime<Utc>,
}

impl Minter {
    pub fn mint(&self, page: &PageToAck) -> Minted {
        let claims = Claims {
            v: 1,
            act: TokenAction::Ack,
            inc: page.incident.into(),
            page: page.page_key.to_string(),
            by: page.person.into(),
            name: page.person_name.to_string(),
            title: token::short_title(page.title),
            sev: page.severity,
            exp: page.paged_at.timestamp().saturating_add(token::TOKEN_LIFETIME_HOURS * 3600),
            srv: self.server.clone(),
            topic: self.topic.clone(),
        };
        token::mint(&self.key, &claims)
    }

    pub fn link(&self, page: &PageToAck, origin: &str) -> AckLink {
        let minted = self.mint(page);
        AckLink { name: page.person_name.to_string(), link: minted.link(origin), token: minted.token, reply_url: format!("{}/{}", self.server, self.topic) }
    }
}

/// One message from the reply topic, as ntfy delivers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyMessage {
    pub id: String,
    /// When ntfy received it (unix seconds).
    pub time: i64,
    #[serde(default)]
    pub message: String,
}

impl ReplyMessage {
    /// Reads one line of ntfy's JSON stream (or an SSE frame's data): `None` for anything but a
    /// `message` event (`open`, `keepalive`, junk).
    pub fn from_json(text: &str) -> Option<ReplyMessage> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        if v.get("event").and_then(|e| e.as_str()).unwrap_or("message") != "message" {
            return None;
        }
        Some(ReplyMessage {
            id: v.get("id")?.as_str()?.to_string(),
            time: v.get("time")?.as_i64()?,
            message: v.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_string(),
        })
    }
    pub fn received_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.time, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Why a message from the reply topic changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Why {
    /// Not a token (an unsigned message, junk).
    Malformed,
    /// Not signed with the team key.
    Forged,
    Expired,
    /// A token that has acted already (a replay).
    Used,
    /// Its incident is resolved.
    Resolved,
    /// Its incident or person is not known here.
    Unknown,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        ["malformed", "forged", "expired", "used", "resolved", "unknown"][self as usize]
    }
    /// In words, for Settings.
    pub fn words(self) -> &'static str {
        [
            "not an acknowledgement (unsigned text)",
            "forged: not signed with this team's key",
            "expired",
            "replayed: this token had acted already",
            "the incident was already resolved",
            "unknown incident or person",
        ][self as usize]
    }
}

/// A token that has acted: kept until it expires, so a replay is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedToken {
    /// When it acted (unix ms).
    pub at: i64,
    /// Its expiry (unix seconds): after this, forgetting it is safe.
    pub exp: i64,
}

/// A refused message, for Settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalNote {
    pub at: DateTime<Utc>,
    pub why: Why,
    #[serde(default)]
    pub detail: String,
}

/// What the clock remembers of the reply topic. Stored next to the settings and written in the
/// same transaction as the acknowledgement a message caused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplyState {
    /// The last message id processed: the next catch-up asks `since=<id>`.
    pub last_id: Option<String>,
    /// Recently processed ids, newest last.
    pub seen: Vec<String>,
    /// Token id → when it acted.
    pub used: BTreeMap<String, UsedToken>,
    /// How many acknowledgements were applied.
    pub accepted: u64,
    /// How many messages were refused, by reason.
    pub refused: BTreeMap<Why, u64>,
    /// The latest refusals, newest last.
    pub refusals: Vec<RefusalNote>,
}

impl ReplyState {
    pub fn has_seen(&self, id: &str) -> bool {
        self.seen.iter().any(|s| s == id)
    }
    /// Marks a message processed.
    pub fn saw(&mut self, message: &ReplyMessage) {
        self.seen.push(message.id.clone());
        if self.seen.len() > SEEN_MAX {
            let extra = self.seen.len() - SEEN_MAX;
            self.seen.drain(..extra);
        }
        self.last_id = Some(message.id.clone());
    }
    pub fn refuse(&mut self, why: Why, detail: String, at: DateTime<Utc>) {
        *self.refused.entry(why).or_default() += 1;
        self.refusals.push(RefusalNote { at, why, detail });
        if self.refusals.len() > REFUSALS_SHOWN {
            self.refusals.remove(0);
        }
    }
    /// Records a token as used (and forgets tokens past their expiry: they are refused as expired
    /// anyway).
    pub fn use_token(&mut self, id: &str, exp: i64, at: DateTime<Utc>) {
        let now_s = at.timestamp();
        self.used.retain(|_, u| u.exp >= now_s);
        self.used.insert(id.to_string(), UsedToken { at: at.timestamp_millis(), exp });
    }
    /// The `since=` of the next catch-up: the last id, else when the channel was turned on.
    pub fn since(&self, settings: &ReplySettings) -> String {
        match (&self.last_id, settings.enabled_at) {
            (Some(id), _) => id.clone(),
            (None, Some(t)) => t.timestamp().to_string(),
            (None, None) => "all".into(),
        }
    }
    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// What a message from the reply topic calls for.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nothing to do: the clock's own answers, a message processed before, an empty one.
    Ignore,
    /// Changes nothing; `answer` (when some) is published back for the phone.
    Refuse { why: Why, detail: String, answer: Option<String> },
    /// Acknowledge as the token's person, at the time ntfy received it.
    Acknowledge { token: Verified, at: DateTime<Utc> },
}

/// The verdict on one message, from the settings and what the clock remembers. Checks the token's
/// shape, signature (constant time), expiry against ntfy's receive time, and replay. Whether the
/// incident and person still take an acknowledgement is the engine's to say.
pub fn judge(key: &TeamKey, state: &ReplyState, message: &ReplyMessage) -> Verdict {
    let text = message.message.trim();
    if state.has_seen(&message.id) || text.is_empty() || text.starts_with(token::CONFIRM_PREFIX) {
        return Verdict::Ignore;
    }
    let at = message.received_at();
    match token::verify(key, text, at) {
        Err(TokenError::Malformed) => Verdict::Refuse { why: Why::Malformed, detail: preview(text), answer: None },
        Err(TokenError::Forged { id }) => Verdict::Refuse { why: Why::Forged, detail: preview(text), answer: Some(token::unsigned_refusal(&id, at)) },
        Err(e @ TokenError::Expired { .. }) => {
            let TokenError::Expired { id, claims } = &e else { unreachable!() };
            let answer = Confirmation { tok: id.clone(), ok: false, why: "expired".into(), at: at.timestamp_millis(), text: e.to_string() };
            Verdict::Refuse { why: Why::Expired, detail: format!("{} for {}", claims.title, claims.name), answer: Some(token::confirmation(key, &answer)) }
        }
        Ok(token) => match state.used.get(&token.id) {
            Some(used) => {
                let answer = Confirmation { tok: token.id.clone(), ok: false, why: "used".into(), at: used.at, text: String::new() };
                Verdict::Refuse {
                    why: Why::Used,
                    detail: format!("{} for {}", token.claims.title, token.claims.name),
                    answer: Some(token::confirmation(key, &answer)),
                }
            }
            None => Verdict::Acknowledge { token, at },
        },
    }
}

/// The signed answer for an applied (or already acknowledged) token.
pub fn answer(key: &TeamKey, token: &Verified, ok: bool, why: &str, at: DateTime<Utc>, text: String) -> String {
    token::confirmation(key, &Confirmation { tok: token.id.clone(), ok, why: why.into(), at: at.timestamp_millis(), text })
}

/// The first characters of a refused message, for Settings (never interpreted).
fn preview(text: &str) -> String {
    let cut: String = text.chars().take(40).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::incident::Severity;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, 2, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn settings() -> ReplySettings {
        ReplySettings {
            enabled: true,
            server: String::new(),
            topic: token::topic_from([1; 16]),
            key: TeamKey::from_bytes([3; 32]).to_base64(),
            enabled_at: Some(t(0)),
        }
    }

    fn page() -> PageToAck<'static> {
        PageToAck {
            incident: "inc-1",
            page_key: "inc-1/L1/loop0/person:alice/alice",
            person: "alice",
            person_name: "Alice",
            title: "Disk full",
            severity: Severity::Sev2,
            paged_at: t(0),
        }
    }

    fn msg(id: &str, at: i64, text: &str) -> ReplyMessage {
        ReplyMessage { id: id.into(), time: t(at).timestamp(), message: text.into() }
    }

    #[test]
    fn a_fresh_token_acknowledges_at_ntfys_time_and_a_replay_is_refused() {
        let s = settings();
        let key = s.team_key().unwrap();
        let link = s.minter("https://ntfy.sh/").unwrap().link(&page(), "https://app.example");
        assert_eq!(link.reply_url, format!("https://ntfy.sh/{}", s.topic));
        let mut state = ReplyState::default();
        let first = msg("m1", 90, &link.token);
        let Verdict::Acknowledge { token, at } = judge(&key, &state, &first) else { panic!("should apply") };
        assert_eq!(at, t(90));
        assert_eq!(token.claims.by, "alice");
        state.saw(&first);
        assert_eq!(judge(&key, &state, &first), Verdict::Ignore, "the same message twice is one message");
        state.use_token(&token.id, token.claims.exp, t(91));
        let replay = msg("m2", 120, &link.token);
        assert!(matches!(judge(&key, &state, &replay), Verdict::Refuse { why: Why::Used, answer: Some(_), .. }));
    }

    #[test]
    fn junk_forgeries_and_the_clocks_own_answers() {
        let s = settings();
        let key = s.team_key().unwrap();
        let state = ReplyState::default();
        assert!(matches!(judge(&key, &state, &msg("a", 1, "hello")), Verdict::Refuse { why: Why::Malformed, answer: None, .. }));
        let other = ReplySettings { key: TeamKey::from_bytes([4; 32]).to_base64(), ..settings() };
        let forged = other.minter("https://ntfy.sh").unwrap().link(&page(), "https://app.example");
        assert!(matches!(judge(&key, &state, &msg("b", 1, &forged.token)), Verdict::Refuse { why: Why::Forged, answer: Some(_), .. }));
        assert_eq!(judge(&key, &state, &msg("c", 1, "piket-confirm:abc.def")), Verdict::Ignore);
        let late = s.minter("https://ntfy.sh").unwrap().link(&page(), "https://app.example");
        assert!(matches!(judge(&key, &state, &msg("d", 24 * 3600 + 1, &late.token)), Verdict::Refuse { why: Why::Expired, .. }));
    }

    #[test]
    fn settings_are_checked_and_the_key_stays_out_of_views() {
        assert_eq!(validate(&settings()), Ok(()));
        assert_eq!(validate(&ReplySettings { topic: "a b".into(), ..settings() }).unwrap_err().0, "topic");
        assert_eq!(validate(&ReplySettings { key: String::new(), ..settings() }).unwrap_err().0, "key");
        assert_eq!(validate(&ReplySettings { server: "javascript:alert(1)".into(), ..settings() }).unwrap_err().0, "server");
        assert_eq!(validate(&ReplySettings::default()), Ok(()), "off and empty is fine");
        assert!(settings().without_key().key.is_empty());
        assert!(ReplySettings { enabled: false, ..settings() }.minter("https://ntfy.sh").is_none(), "off mints nothing");
    }

    #[test]
    fn state_is_bounded() {
        let mut state = ReplyState::default();
        for i in 0..1000 {
            state.saw(&msg(&format!("m{i}"), i, "x"));
            state.refuse(Why::Malformed, String::new(), t(i));
        }
        assert_eq!(state.seen.len(), SEEN_MAX);
        assert_eq!(state.refusals.len(), REFUSALS_SHOWN);
        assert_eq!(state.refused_total(), 1000);
        assert_eq!(state.last_id.as_deref(), Some("m999"));
        state.use_token("old", t(10).timestamp(), t(5));
        state.use_token("new", t(100_000).timestamp(), t(50));
        assert!(!state.used.contains_key("old"), "expired tokens are forgotten");
        assert_eq!(state.since(&settings()), "m999");
        assert_eq!(ReplyState::default().since(&settings()), t(0).timestamp().to_string());
    }

    #[test]
    fn ntfy_lines_read_as_messages_and_nothing_else() {
        assert_eq!(ReplyMessage::from_json(r#"{"id":"x1","time":1700000000,"event":"message","topic":"t","message":"hi"}"#).map(|m| m.id), Some("x1".into()));
        assert_eq!(ReplyMessage::from_json(r#"{"id":"x1","time":1700000000,"event":"keepalive","topic":"t"}"#), None);
        assert_eq!(ReplyMessage::from_json("not json"), None);
        assert_eq!(ReplyMessage::from_json(r#"{"id":5,"time":"no"}"#), None);
    }
}
