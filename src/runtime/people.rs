//! Adding, editing and removing responders.

use chrono::{DateTime, Utc};

use super::driver::Driver;
use super::ActionError;
use crate::engine::person::Person;
use crate::storage::Store;

/// Everyone, sorted by name (case-insensitively) for the People screen and pickers.
pub fn list_people<S: Store>(driver: &Driver<S>) -> Vec<Person> {
    let mut people = driver.world().people.clone();
    people.sort_by_key(|p| p.name.to_lowercase());
    people
}

/// Validates `draft` against everyone already saved and, only if it is valid, saves it.
/// An empty `draft.id` means a new person: a fresh UUID is given.
pub async fn save_person<S: Store>(driver: &mut Driver<S>, mut draft: Person, now: DateTime<Utc>) -> Result<Person, ActionError> {
    if draft.id.is_empty() {
        draft.id = uuid::Uuid::new_v4().to_string().into();
    }
    let person = draft.validated(&driver.world().people)?;
    driver.save(person, now).await
}

/// Removes a responder, unless a policy, schedule or team still pages them.
pub async fn remove_person<S: Store>(driver: &mut Driver<S>, id: &str, now: DateTime<Utc>) -> Result<(), ActionError> {
    driver.remove::<Person>(id, now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::person::{Contact, PersonError, PersonId};
    use crate::storage::{MemoryStore, Store};
    use pollster::block_on;

    fn draft(name: &str) -> Person {
        Person {
            id: PersonId::default(),
            name: name.into(),
            time_zone: "America/New_York".into(),
            contact: Contact { ntfy_topic: "piket-alice".into(), ..Contact::default() },
            notes: String::new(),
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, 2, minute, 0).unwrap()
    }

    fn names(d: &Driver<MemoryStore>) -> Vec<String> {
        list_people(d).into_iter().map(|p| p.name).collect()
    }

    #[test]
    fn add_edit_remove() {
        let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
        let alice = block_on(save_person(&mut d, draft("Alice"), at(0))).unwrap();
        block_on(save_person(&mut d, draft("bob"), at(1))).unwrap();
        assert_eq!(names(&d), ["Alice", "bob"]);

        let renamed = Person { name: "Alice Smith".into(), ..alice.clone() };
        block_on(save_person(&mut d, renamed, at(2))).unwrap();
        let stored = block_on(d.store().list::<Person>()).unwrap();
        let alice_row = stored.iter().find(|e| e.id == alice.id).unwrap();
        assert_eq!((alice_row.rev, alice_row.value.name.as_str(), alice_row.updated_at), (2, "Alice Smith", at(2)));

        block_on(remove_person(&mut d, &alice.id, at(3))).unwrap();
        assert_eq!(names(&d), ["bob"]);
        let reloaded = block_on(Driver::load(MemoryStore::new())).unwrap();
        assert!(names(&reloaded).is_empty(), "a new store starts empty");
    }

    #[test]
    fn invalid_people_change_nothing() {
        let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
        block_on(save_person(&mut d, draft("Alice"), at(0))).unwrap();
        let cases = [
            (draft(""), ActionError::InvalidPerson(PersonError::EmptyName)),
            (draft("ALICE "), ActionError::InvalidPerson(PersonError::DuplicateName("Alice".into()))),
        ];
        for (input, want) in cases {
            assert_eq!(block_on(save_person(&mut d, input, at(1))), Err(want));
        }
        assert_eq!(names(&d), ["Alice"]);
        assert_eq!(d.store().commit_count(), 1);
    }

    #[test]
    fn bad_contact_details_are_refused_naming_the_field_and_change_nothing() {
        let mut d = block_on(Driver::load(MemoryStore::new())).unwrap();
        let alice = block_on(save_person(&mut d, draft("Alice"), at(0))).unwrap();
        let contact =
            |ntfy_topic: &str, webhook_url: &str, email: &str| Contact { ntfy_topic: ntfy_topic.into(), webhook_url: webhook_url.into(), email: email.into() };
        let cases = [
            (contact("<b>x</b>", "", ""), "contact.ntfy_topic"),
            (contact("", "javascript:alert(1)", ""), "contact.webhook_url"),
            (contact("", "", "alice at example"), "contact.email"),
        ];
        for (bad, field) in cases {
            // A new person with it is not added, and an edit of Alice does not stick.
            let new = Person { contact: bad.clone(), ..draft("Bob") };
            let edit = Person { contact: bad.clone(), ..alice.clone() };
            for input in [new, edit] {
                let refusal = crate::runtime::command::Refusal::from(block_on(save_person(&mut d, input, at(1))).unwrap_err());
                assert_eq!(refusal.field.as_deref(), Some(field), "{refusal:?}");
            }
        }
        assert_eq!(names(&d), ["Alice"]);
        assert_eq!(list_people(&d)[0].contact, alice.contact, "Alice's saved contact is unchanged");
        assert_eq!(d.store().commit_count(), 1, "nothing was written");

        let good = Person { contact: contact("piket-bob", "https://hooks.example/bob", "bob@example.com"), ..draft("Bob") };
        let bob = block_on(save_person(&mut d, good, at(2))).unwrap();
        assert_eq!(bob.contact.webhook_url, "https://hooks.example/bob");
        assert_eq!(names(&d), ["Alice", "Bob"]);
    }
}
