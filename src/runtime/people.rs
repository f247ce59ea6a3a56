//! Adding, editing and removing responders.

use chrono::{DateTime, Utc};

use super::ActionError;
use crate::engine::person::Person;
use crate::storage::Store;

/// Everyone, sorted by name (case-insensitively) for the People screen and pickers.
pub async fn list_people(store: &impl Store) -> Result<Vec<Person>, ActionError> {
    let mut people: Vec<Person> = store.list::<Person>().await?.into_iter().map(|e| e.value).collect();
    people.sort_by_key(|p| p.name.to_lowercase());
    Ok(people)
}

/// Validates `draft` against everyone already saved and, only if it is valid, saves it.
/// An empty `draft.id` means a new person: a fresh UUID is given.
pub async fn save_person(store: &impl Store, mut draft: Person, now: DateTime<Utc>) -> Result<Person, ActionError> {
    if draft.id.is_empty() {
        draft.id = uuid::Uuid::new_v4().to_string();
    }
    let others = list_people(store).await?;
    let person = draft.validated(&others)?;
    store.put(&person, now).await?;
    Ok(person)
}

/// Removes a responder.
pub async fn remove_person(store: &impl Store, id: &str) -> Result<(), ActionError> {
    store.delete::<Person>(id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::person::{Contact, PersonError};
    use crate::storage::MemoryStore;
    use pollster::block_on;

    fn draft(name: &str) -> Person {
        Person {
            id: String::new(),
            name: name.into(),
            time_zone: "America/New_York".into(),
            contact: Contact { ntfy_topic: "piket-alice".into(), ..Contact::default() },
            notes: String::new(),
        }
    }

    fn at(minute: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 26, 2, minute, 0).unwrap()
    }

    #[test]
    fn add_edit_remove() {
        let store = MemoryStore::new();
        let alice = block_on(save_person(&store, draft("Alice"), at(0))).unwrap();
        block_on(save_person(&store, draft("bob"), at(1))).unwrap();
        let names: Vec<_> = block_on(list_people(&store)).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Alice", "bob"]);

        let renamed = Person { name: "Alice Smith".into(), ..alice.clone() };
        block_on(save_person(&store, renamed, at(2))).unwrap();
        let stored = block_on(store.list::<Person>()).unwrap();
        let alice_row = stored.iter().find(|e| e.id == alice.id).unwrap();
        assert_eq!((alice_row.rev, alice_row.value.name.as_str(), alice_row.updated_at), (2, "Alice Smith", at(2)));

        block_on(remove_person(&store, &alice.id)).unwrap();
        let names: Vec<_> = block_on(list_people(&store)).unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["bob"]);
    }

    #[test]
    fn invalid_people_change_nothing() {
        let store = MemoryStore::new();
        block_on(save_person(&store, draft("Alice"), at(0))).unwrap();
        let cases = [
            (draft(""), ActionError::InvalidPerson(PersonError::EmptyName)),
            (draft("ALICE "), ActionError::InvalidPerson(PersonError::DuplicateName("Alice".into()))),
        ];
        for (input, want) in cases {
            assert_eq!(block_on(save_person(&store, input, at(1))), Err(want));
        }
        assert_eq!(block_on(list_people(&store)).unwrap().len(), 1);
    }
}
