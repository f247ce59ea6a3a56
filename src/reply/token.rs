//! Signed one-tap acknowledgement tokens, and the clock's signed confirmations.
//!
//! A **token** is `payload.sig`: `payload` is base64url (no padding) of the [`Claims`] as JSON,
//! `sig` is base64url of HMAC-SHA256(team key, `payload`'s ASCII). The team key never leaves the
//! clock's browser; the token's signature is checked in constant time ([`verify`]).
//!
//! The phone's **link** carries a third part, the *confirmation key*
//! (HMAC-SHA256(team key, `"piket-confirm-key." + sig`)): `https://<app>/ack/#payload.sig.ckey`.
//! Only the token is ever published to the reply topic; the confirmation key stays in the link, so
//! a reader of the reply topic can see tokens (already used) but cannot forge the clock's
//! confirmation of one. The clock derives the same key and signs its answer with it
//! ([`confirmation`]): `piket-confirm:cpayload.cmac`, where `cmac` is HMAC-SHA256(ckey,
//! `cpayload`'s ASCII). The `/ack/` page checks it with WebCrypto.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::engine::id::{IncidentId, PersonId};
use crate::engine::incident::Severity;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of the clock's answers on the reply topic.
pub const CONFIRM_PREFIX: &str = "piket-confirm:";
/// A token is valid for this long after its page at most (or until the incident resolves).
pub const TOKEN_LIFETIME_HOURS: i64 = 24;
/// Titles are cut to this many characters inside a token (the token travels in links and ntfy
/// messages of at most 4 096 bytes).
pub const TITLE_MAX: usize = 80;
/// Longest token text the clock will look at; anything longer is refused unread.
pub const TOKEN_MAX: usize = 2048;

/// The team's 256-bit signing key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TeamKey([u8; 32]);

impl TeamKey {
    pub fn from_bytes(bytes: [u8; 32]) -> TeamKey {
        TeamKey(bytes)
    }
    /// Reads the stored form (base64url, 43 characters).
    pub fn from_base64(text: &str) -> Option<TeamKey> {
        let bytes = B64.decode(text.trim()).ok()?;
        Some(TeamKey(bytes.try_into().ok()?))
    }
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }
    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

impl std::fmt::Debug for TeamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TeamKey(…)")
    }
}

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenAction {
    Ack,
}

/// What a token binds: the incident, the page, the person, the action and an expiry, plus what
/// the `/ack/` page shows (title, severity, name) and where it sends the tap (server, topic).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// Format version: 1.
    pub v: u8,
    pub act: TokenAction,
    /// The incident.
    pub inc: IncidentId,
    /// The page's idempotency key.
    pub page: String,
    /// The person paged (id).
    pub by: PersonId,
    /// The person's display name.
    pub name: String,
    /// The incident's title when paged, at most [`TITLE_MAX`] characters.
    pub title: String,
    pub sev: Severity,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// The ntfy server (no trailing slash) and the reply topic.
    pub srv: String,
    pub topic: String,
}

impl Claims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Cuts a title to [`TITLE_MAX`] characters, ending with "…" when cut.
pub fn short_title(title: &str) -> String {
    if title.chars().count() <= TITLE_MAX {
        return title.to_string();
    }
    let mut out: String = title.chars().take(TITLE_MAX - 1).collect();
    out.push('…');
    out
}

/// A freshly minted token and what goes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minted {
    /// `payload.sig`: what the phone publishes to the reply topic.
    pub token: String,
    /// The token's id (its signature, base64url): what "acts at most once" counts.
    pub id: String,
    /// The confirmation key (base64url), for the link only.
    pub confirm_key: String,
}

impl Minted {
    /// The link a phone opens: `<origin>/ack/#payload.sig.ckey`. The fragment never reaches a
    /// server's log.
    pub fn link(&self, origin: &str) -> String {
        format!("{}/ack/#{}.{}", origin.trim_end_matches('/'), self.token, self.confirm_key)
    }
}

/// Mints the token for `claims` with the team key. Pure and deterministic: the same page always
/// gets the same token (so a retried delivery carries the same link).
pub fn mint(key: &TeamKey, claims: &Claims) -> Minted {
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    let sig = B64.encode(mac.finalize().into_bytes());
    let confirm_key = B64.encode(confirm_key(key, &sig));
    Minted { token: format!("{payload}.{sig}"), id: sig, confirm_key }
}

fn confirm_key(key: &TeamKey, sig: &str) -> [u8; 32] {
    let mut mac = key.mac();
    mac.update(b"piket-confirm-key.");
    mac.update(sig.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Why a token was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token at all (wrong shape, not base64url, not the claims).
    #[error("not an acknowledgement token")]
    Malformed,
    /// Well-formed, but the signature is not the team key's.
    #[error("not signed by this team's key")]
    Forged { id: String },
    /// Signed, but past its expiry at the time it was received.
    #[error("expired at {}", .claims.expires_at().format("%Y-%m-%d %H:%M:%S UTC"))]
    Expired { id: String, claims: Box<Claims> },
}

impl TokenError {
    /// The token's id, when it had one.
    pub fn id(&self) -> Option<&str> {
        match self {
            TokenError::Malformed => None,
            TokenError::Forged { id } | TokenError::Expired { id, .. } => Some(id),
        }
    }
}

/// A token that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub id: String,
    pub claims: Claims,
}

/// Checks a token received at `at`: its shape, its signature (in constant time) and its expiry.
/// Claims are read only after the signature holds.
pub fn verify(key: &TeamKey, text: &str, at: DateTime<Utc>) -> Result<Verified, TokenError> {
    let text = text.trim();
    if text.len() > TOKEN_MAX {
        return Err(TokenError::Malformed);
    }
    let (payload, sig) = text.split_once('.').ok_or(TokenError::Malformed)?;
    let sig_bytes = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    if payload.is_empty() || sig_bytes.len() != 32 || B64.decode(payload).is_err() {
        return Err(TokenError::Malformed);
    }
    let mut mac = key.mac();
    mac.update(payload.as_bytes());
    if mac.verify_slice(&sig_bytes).is_err() {
        return Err(TokenError::Forged { id: sig.to_string() });
    }
    let json = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = crate::json::stored_from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.v != 1 {
        return Err(TokenError::Malformed);
    }
    if at > claims.expires_at() {
        return Err(TokenError::Expired { id: sig.to_string(), claims: Box::new(claims) });
    }
    Ok(Verified { id: sig.to_string(), claims })
}

/// What the clock answers a token with. `why` is one of `acknowledged`, `already` (someone had
/// acknowledged it already), `used`, `expired`, `resolved`, `unknown`, `forged`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The token's id.
    pub tok: String,
    pub ok: bool,
    pub why: String,
    /// When it was applied (unix ms): for `used`, when the token was first used.
    pub at: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// The clock's answer as the ntfy message text, signed with the token's confirmation key.
pub fn confirmation(key: &TeamKey, answer: &Confirmation) -> String {
    let payload = B64.encode(serde_json::to_vec(answer).expect("confirmations serialize"));
    let mut mac = HmacSha256::new_from_slice(&confirm_key(key, &answer.tok)).expect("any key length");
    mac.update(payload.as_bytes());
    format!("{CONFIRM_PREFIX}{payload}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// The answer to a forged token: unsigned (the clock cannot derive the link's key), so the page
/// shows it as a refusal only.
pub fn unsigned_refusal(id: &str, at: DateTime<Utc>) -> String {
    let answer = Confirmation { tok: id.to_string(), ok: false, why: "forged".into(), at: at.timestamp_millis(), text: String::new() };
    let payload = B64.encode(serde_json::to_vec(&answer).expect("confirmations serialize"));
    format!("{CONFIRM_PREFIX}{payload}.")
}

/// Reads a confirmation as the `/ack/` page does, checking it with the link's confirmation key
/// (`None` when it is not one, or not signed with that key). For tests and tools.
pub fn read_confirmation(text: &str, confirm_key_b64: &str) -> Option<Confirmation> {
    let rest = text.strip_prefix(CONFIRM_PREFIX)?;
    let (payload, mac_b64) = rest.split_once('.')?;
    let key = B64.decode(confirm_key_b64).ok()?;
    let mut mac = HmacSha256::new_from_slice(&key).ok()?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&B64.decode(mac_b64).ok()?).ok()?;
    crate::json::stored_from_slice(&B64.decode(payload).ok()?).ok()
}

/// A fresh reply topic: `piket-` and 128 random bits as 32 hex digits.
pub fn topic_from(random: [u8; 16]) -> String {
    let mut s = String::from("piket-");
    for b in random {
        s += &format!("{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key(n: u8) -> TeamKey {
        TeamKey::from_bytes([n; 32])
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            v: 1,
            act: TokenAction::Ack,
            inc: "inc-1".into(),
            page: "inc-1/L1/loop0/person:alice/alice".into(),
            by: "alice".into(),
            name: "Alice Example".into(),
            title: "Checkout is down".into(),
            sev: Severity::Sev1,
            exp: at(3, 0).timestamp() + 24 * 3600,
            srv: "https://ntfy.example".into(),
            topic: "piket-00112233445566778899aabbccddeeff".into(),
        }
    }

    #[test]
    fn a_minted_token_verifies_and_carries_its_claims() {
        let m = mint(&key(7), &claims());
        let v = verify(&key(7), &m.token, at(3, 5)).unwrap();
        assert_eq!(v.claims, claims());
        assert_eq!(v.id, m.id);
        assert_eq!(mint(&key(7), &claims()), m, "deterministic: a retried page carries the same link");
        assert!(m.link("https://piket.example/").starts_with("https://piket.example/ack/#"));
        assert_eq!(m.link("https://p.example").matches('.').count(), 1 + 2, "host dot, payload.sig.ckey");
    }

    #[test]
    fn a_wrong_key_is_forged() {
        let m = mint(&key(7), &claims());
        assert_eq!(verify(&key(8), &m.token, at(3, 5)), Err(TokenError::Forged { id: m.id.clone() }));
    }

    #[test]
    fn tampering_with_any_field_is_forged() {
        let original = claims();
        let m = mint(&key(7), &original);
        let (_, sig) = m.token.split_once('.').unwrap();
        let variants: Vec<Claims> = vec![
            Claims { inc: "inc-2".into(), ..original.clone() },
            Claims { page: "inc-1/L2/loop0/person:bob/bob".into(), ..original.clone() },
            Claims { by: "bob".into(), ..original.clone() },
            Claims { name: "Bob".into(), ..original.clone() },
            Claims { title: "Other".into(), ..original.clone() },
            Claims { sev: Severity::Sev4, ..original.clone() },
            Claims { exp: original.exp + 3600, ..original.clone() },
            Claims { srv: "https://evil.example".into(), ..original.clone() },
            Claims { topic: "piket-evil".into(), ..original.clone() },
        ];
        for changed in variants {
            assert_ne!(changed, original);
            let payload = B64.encode(serde_json::to_vec(&changed).unwrap());
            let forged = format!("{payload}.{sig}");
            assert!(matches!(verify(&key(7), &forged, at(3, 5)), Err(TokenError::Forged { .. })), "{changed:?}");
        }
        // A flipped signature byte, too.
        let mut bytes = B64.decode(sig).unwrap();
        bytes[31] ^= 1;
        let flipped = format!("{}.{}", m.token.split_once('.').unwrap().0, B64.encode(bytes));
        assert!(matches!(verify(&key(7), &flipped, at(3, 5)), Err(TokenError::Forged { .. })));
    }

    #[test]
    fn expiry_counts_from_when_ntfy_received_it() {
        let m = mint(&key(7), &claims());
        let exp = claims().expires_at();
        assert!(verify(&key(7), &m.token, exp).is_ok(), "valid up to its expiry");
        let late = verify(&key(7), &m.token, exp + chrono::Duration::seconds(1));
        assert!(matches!(late, Err(TokenError::Expired { .. })), "{late:?}");
    }

    #[test]
    fn junk_is_malformed_not_a_panic() {
        for junk in ["", ".", "abc", "a.b", "!!!.???", "e30.AAAA", &"x".repeat(5000), "piket-confirm:e30.", "e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            let r = verify(&key(7), junk, at(3, 5));
            assert!(matches!(r, Err(TokenError::Malformed) | Err(TokenError::Forged { .. })), "{junk:?}: {r:?}");
        }
        // Signed junk (not claims) is malformed, not accepted.
        let payload = B64.encode(b"{\"v\":1}");
        let mut mac = key(7).mac();
        mac.update(payload.as_bytes());
        let signed = format!("{payload}.{}", B64.encode(mac.finalize().into_bytes()));
        assert_eq!(verify(&key(7), &signed, at(3, 5)), Err(TokenError::Malformed));
    }

    #[test]
    fn a_confirmation_reads_back_only_with_its_links_key() {
        let m = mint(&key(7), &claims());
        let answer = Confirmation { tok: m.id.clone(), ok: true, why: "acknowledged".into(), at: at(3, 5).timestamp_millis(), text: String::new() };
        let text = confirmation(&key(7), &answer);
        assert_eq!(read_confirmation(&text, &m.confirm_key), Some(answer.clone()));
        let other = mint(&key(7), &Claims { page: "p2".into(), ..claims() });
        assert_eq!(read_confirmation(&text, &other.confirm_key), None, "another link's key does not verify it");
        assert_eq!(read_confirmation(&confirmation(&key(8), &answer), &m.confirm_key), None, "another team's clock cannot confirm");
        assert_eq!(read_confirmation(&unsigned_refusal(&m.id, at(3, 5)), &m.confirm_key), None);
    }

    #[test]
    fn keys_round_trip_and_never_print() {
        let k = key(9);
        assert_eq!(TeamKey::from_base64(&k.to_base64()), Some(k.clone()));
        assert_eq!(TeamKey::from_base64("short"), None);
        assert!(!format!("{k:?}").contains(&k.to_base64()));
        assert_eq!(topic_from([0xab; 16]), format!("piket-{}", "ab".repeat(16)));
        assert_eq!(short_title(&"é".repeat(200)).chars().count(), TITLE_MAX);
    }
}
