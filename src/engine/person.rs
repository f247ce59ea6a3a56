//! Responders: the people Piket pages.
//!
//! A [`Person`] is who a page reaches and how. Validation lives here, in the core, so the screen,
//! the importer and the native tools all refuse the same bad input with the same words.

use serde::{Deserialize, Serialize};

pub use super::id::PersonId;

/// A responder.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    pub id: PersonId,
    /// Shown everywhere; unique (case-insensitively) so "page Alice" is never ambiguous.
    pub name: String,
    /// IANA zone name (e.g. `Europe/Amsterdam`): shows the person's local time next to pages.
    pub time_zone: String,
    /// How a page reaches this person.
    #[serde(default)]
    pub contact: Contact,
    /// Free text: phone habits, escalation preferences, languages.
    #[serde(default)]
    pub notes: String,
}

/// Where pages for a person go. Each field is optional; an empty one is simply not used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// ntfy topic (the phone app subscribes to it).
    #[serde(default)]
    pub ntfy_topic: String,
    /// A personal webhook URL (a secret: masked in the UI).
    #[serde(default)]
    pub webhook_url: String,
    /// An e-mail address kept as a label (Piket sends no mail; it shows where to reach them).
    #[serde(default)]
    pub email: String,
}

/// What is wrong with a person someone tried to save.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    #[error("Name is required.")]
    EmptyName,
    #[error("Someone named “{0}” already exists.")]
    DuplicateName(String),
    #[error("“{0}” is not a known time zone (use an IANA name such as Europe/Amsterdam).")]
    UnknownTimeZone(String),
    #[error("Name is too long (at most 100 characters).")]
    NameTooLong,
    /// The ntfy topic breaks the channel rule: 1–64 letters, digits, `-` or `_`.
    #[error("ntfy topic: use 1–64 letters, digits, “-” or “_”, or leave it empty.")]
    NtfyTopic,
    /// The personal webhook URL breaks the channel rule; the words say which part. The URL itself
    /// is a secret and is not repeated.
    #[error("Webhook URL {0}, or leave it empty.")]
    WebhookUrl(&'static str),
    #[error("E-mail must look like an address (name@example.com), or be left empty.")]
    Email,
}

impl PersonError {
    /// The form field the error belongs to, so a screen can show it inline.
    pub fn field(&self) -> &'static str {
        match self {
            PersonError::EmptyName | PersonError::DuplicateName(_) | PersonError::NameTooLong => "name",
            PersonError::UnknownTimeZone(_) => "time_zone",
            PersonError::NtfyTopic => "contact.ntfy_topic",
            PersonError::WebhookUrl(_) => "contact.webhook_url",
            PersonError::Email => "contact.email",
        }
    }
}

/// Why a personal webhook URL cannot be used, in the words of the channel rule
/// (`crate::delivery::validate_config`): `https://` (or `http://` on your own network), a host,
/// no spaces. `None` for a usable URL. The caller decides whether empty is allowed.
pub fn webhook_url_problem(url: &str) -> Option<&'static str> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Some("must start with https:// (or http:// for a receiver on your network)");
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Some("must name a host and hold no spaces");
    }
    None
}

/// Whether `topic` is a usable ntfy topic, by the channel rule: 1–64 letters, digits, `-` or `_`.
pub fn is_ntfy_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len()) && topic.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `email` looks like an address: one `@` with something on both sides, no spaces.
/// Only a label (Piket sends no mail), so nothing stricter.
pub fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !email.chars().any(char::is_whitespace),
        None => false,
    }
}

impl Person {
    /// Trims the fields a user types and checks the person against everyone already saved
    /// (`others` may include this person's previous version: it is skipped by id). Contact fields
    /// may be empty; a filled one must be usable: the ntfy topic and the webhook URL by the same
    /// rules as a channel's, the e-mail label shaped like an address.
    pub fn validated(mut self, others: &[Person]) -> Result<Person, PersonError> {
        self.name = self.name.trim().to_string();
        self.time_zone = self.time_zone.trim().to_string();
        self.contact.ntfy_topic = self.contact.ntfy_topic.trim().to_string();
        self.contact.webhook_url = self.contact.webhook_url.trim().to_string();
        self.contact.email = self.contact.email.trim().to_string();
        if self.name.is_empty() {
            return Err(PersonError::EmptyName);
        }
        if self.name.chars().count() > 100 {
            return Err(PersonError::NameTooLong);
        }
        match crate::engine::tz::Tz::named(&self.time_zone) {
            // As the database spells it ("europe/amsterdam" is kept as Europe/Amsterdam).
            Some(zone) => self.time_zone = zone.name().to_string(),
            None => return Err(PersonError::UnknownTimeZone(self.time_zone)),
        }
        let lower = self.name.to_lowercase();
        if let Some(clash) = others.iter().find(|p| p.id != self.id && p.name.trim().to_lowercase() == lower) {
            return Err(PersonError::DuplicateName(clash.name.clone()));
        }
        let c = &self.contact;
        if !c.ntfy_topic.is_empty() && !is_ntfy_topic(&c.ntfy_topic) {
            return Err(PersonError::NtfyTopic);
        }
        if let Some(problem) = (!c.webhook_url.is_empty()).then(|| webhook_url_problem(&c.webhook_url)).flatten() {
            return Err(PersonError::WebhookUrl(problem));
        }
        if !c.email.is_empty() && !looks_like_email(&c.email) {
            return Err(PersonError::Email);
        }
        Ok(self)
    }
}

/// Every IANA time zone name, for pickers.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    crate::engine::tz::Tz::names()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, name: &str) -> Person {
        Person { id: id.into(), name: name.into(), time_zone: "Europe/Amsterdam".into(), contact: Contact::default(), notes: String::new() }
    }

    #[test]
    fn validation_cases() {
        let saved = vec![person("1", "Alice")];
        let cases: Vec<(Person, Result<&str, PersonError>)> = vec![
            (person("2", "  Bob "), Ok("Bob")),
            (person("2", "   "), Err(PersonError::EmptyName)),
            (person("2", "alice"), Err(PersonError::DuplicateName("Alice".into()))),
            (person("1", "Alice"), Ok("Alice")), // editing yourself is not a duplicate
            (Person { time_zone: "Mars/Olympus".into(), ..person("3", "Carol") }, Err(PersonError::UnknownTimeZone("Mars/Olympus".into()))),
            (person("4", &"x".repeat(101)), Err(PersonError::NameTooLong)),
        ];
        for (input, want) in cases {
            let got = input.clone().validated(&saved).map(|p| p.name);
            assert_eq!(got, want.map(String::from), "for {input:?}");
        }
    }

    #[test]
    fn errors_name_their_field() {
        assert_eq!(PersonError::EmptyName.field(), "name");
        assert_eq!(PersonError::UnknownTimeZone("x".into()).field(), "time_zone");
        assert_eq!(PersonError::NtfyTopic.field(), "contact.ntfy_topic");
        assert_eq!(PersonError::WebhookUrl("x").field(), "contact.webhook_url");
        assert_eq!(PersonError::Email.field(), "contact.email");
    }

    fn with_contact(ntfy_topic: &str, webhook_url: &str, email: &str) -> Person {
        Person { contact: Contact { ntfy_topic: ntfy_topic.into(), webhook_url: webhook_url.into(), email: email.into() }, ..person("9", "Dana") }
    }

    #[test]
    fn contact_fields_are_checked() {
        let accepted = [
            with_contact("", "", ""),
            with_contact("piket-alice", "", ""),
            with_contact("Team_On-Call_2", "", ""),
            with_contact(&"x".repeat(64), "", ""),
            with_contact("", "https://hooks.example/alice?token=abc#x", ""),
            with_contact("", "http://192.168.1.20:8080/page", ""),
            with_contact("", "", "dana@example.com"),
            with_contact("", "", "dana.o+pager@sub.example.org"),
            with_contact("  piket-dana ", " https://hooks.example/dana ", " dana@example.com "),
        ];
        for p in accepted {
            let saved = p.clone().validated(&[]).unwrap_or_else(|e| panic!("{p:?} refused: {e}"));
            assert_eq!(saved.contact.ntfy_topic, p.contact.ntfy_topic.trim(), "trimmed");
            assert_eq!(saved.contact.webhook_url, p.contact.webhook_url.trim(), "trimmed");
            assert_eq!(saved.contact.email, p.contact.email.trim(), "trimmed");
        }
        let refused = [
            (with_contact("<b>x</b>", "", ""), "contact.ntfy_topic"),
            (with_contact("my topic", "", ""), "contact.ntfy_topic"),
            (with_contact("piket/alice", "", ""), "contact.ntfy_topic"),
            (with_contact("émile", "", ""), "contact.ntfy_topic"),
            (with_contact(&"x".repeat(65), "", ""), "contact.ntfy_topic"),
            (with_contact("", "javascript:alert(1)", ""), "contact.webhook_url"),
            (with_contact("", "hooks.example/alice", ""), "contact.webhook_url"),
            (with_contact("", "ftp://hooks.example/alice", ""), "contact.webhook_url"),
            (with_contact("", "https://", ""), "contact.webhook_url"),
            (with_contact("", "https:///path", ""), "contact.webhook_url"),
            (with_contact("", "https://hooks.example/a b", ""), "contact.webhook_url"),
            (with_contact("", "", "dana"), "contact.email"),
            (with_contact("", "", "@example.com"), "contact.email"),
            (with_contact("", "", "dana@"), "contact.email"),
            (with_contact("", "", "dana@@example.com"), "contact.email"),
            (with_contact("", "", "da@na@example.com"), "contact.email"),
            (with_contact("", "", "dana smith@example.com"), "contact.email"),
            (with_contact("", "", "<b>x</b>"), "contact.email"),
        ];
        for (p, field) in refused {
            let err = p.clone().validated(&[]).expect_err(&format!("{p:?} accepted"));
            assert_eq!(err.field(), field, "for {p:?}: {err}");
        }
    }

    #[test]
    fn contact_errors_read_as_words_and_keep_the_secret_out() {
        let err = with_contact("", "javascript:alert(1)", "").validated(&[]).unwrap_err();
        assert_eq!(err.to_string(), "Webhook URL must start with https:// (or http:// for a receiver on your network), or leave it empty.");
        let err = with_contact("", "https://hooks.example/secret token", "").validated(&[]).unwrap_err();
        assert_eq!(err.to_string(), "Webhook URL must name a host and hold no spaces, or leave it empty.");
        assert!(!err.to_string().contains("secret"), "the URL is a secret: {err}");
        assert_eq!(
            with_contact("<b>x</b>", "", "").validated(&[]).unwrap_err().to_string(),
            "ntfy topic: use 1–64 letters, digits, “-” or “_”, or leave it empty."
        );
        assert!(with_contact("", "", "x").validated(&[]).unwrap_err().to_string().starts_with("E-mail must look like an address"));
    }

    #[test]
    fn a_time_zone_in_other_letter_case_is_kept_as_the_database_spells_it() {
        let p = Person { time_zone: " europe/AMSTERDAM ".into(), ..person("1", "Ann") }.validated(&[]).unwrap();
        assert_eq!(p.time_zone, "Europe/Amsterdam");
    }

    #[test]
    fn time_zone_list_has_the_common_zones() {
        let names: Vec<_> = time_zone_names().collect();
        assert!(names.contains(&"America/New_York"));
        assert!(names.contains(&"Europe/Amsterdam"));
        assert!(names.len() > 300);
    }
}
