//! Responders: the people Piket pages.
//!
//! A [`Person`] is who a page reaches and how. Validation lives here, in the core, so the screen,
//! the importer and the native tools all refuse the same bad input with the same words.

use serde::{Deserialize, Serialize};

/// Stable identifier of a person (a UUID string), kept across edits, exports and imports.
pub type PersonId = String;

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
}

impl PersonError {
    /// The form field the error belongs to, so a screen can show it inline.
    pub fn field(&self) -> &'static str {
        match self {
            PersonError::EmptyName | PersonError::DuplicateName(_) | PersonError::NameTooLong => "name",
            PersonError::UnknownTimeZone(_) => "time_zone",
        }
    }
}

impl Person {
    /// Trims the fields a user types and checks the person against everyone already saved
    /// (`others` may include this person's previous version: it is skipped by id).
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
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(PersonError::UnknownTimeZone(self.time_zone));
        }
        let lower = self.name.to_lowercase();
        if let Some(clash) = others.iter().find(|p| p.id != self.id && p.name.trim().to_lowercase() == lower) {
            return Err(PersonError::DuplicateName(clash.name.clone()));
        }
        Ok(self)
    }
}

/// Every IANA time zone name, for pickers.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
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
    }

    #[test]
    fn time_zone_list_has_the_common_zones() {
        let names: Vec<_> = time_zone_names().collect();
        assert!(names.contains(&"America/New_York"));
        assert!(names.contains(&"Europe/Amsterdam"));
        assert!(names.len() > 300);
    }
}
