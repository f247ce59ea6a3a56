//! In-browser tests (wasm-bindgen-test in headless Chromium): storage on the real IndexedDB.
//! Run by `cargo xtask test` (or `cargo test --target wasm32-unknown-unknown --test browser`).
#![cfg(target_arch = "wasm32")]

use chrono::{TimeZone, Utc};
use piket::engine::person::{Contact, Person, PersonError};
use piket::runtime::{people, ActionError};
use piket::storage::{IdbStore, Store};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn fresh_name(test: &str) -> String {
    format!("piket-test-{test}-{}", uuid::Uuid::new_v4())
}

fn person(id: &str, name: &str) -> Person {
    Person {
        id: id.into(),
        name: name.into(),
        time_zone: "Europe/Amsterdam".into(),
        contact: Contact { ntfy_topic: format!("piket-{id}"), webhook_url: String::new(), email: String::new() },
        notes: "<b>not bold</b>".into(),
    }
}

#[wasm_bindgen_test]
async fn put_list_delete_round_trip() {
    let store = IdbStore::open(&fresh_name("round-trip")).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap();
    let first = store.put(&person("b", "Bob"), t0).await.unwrap();
    store.put(&person("a", "Alice"), t0).await.unwrap();
    let second = store.put(&Person { name: "Bobby".into(), ..person("b", "Bob") }, t0 + chrono::Duration::minutes(5)).await.unwrap();
    assert_eq!((first.rev, second.rev), (1, 2));

    let rows = store.list::<Person>().await.unwrap();
    let summary: Vec<_> = rows.iter().map(|e| (e.id.as_str(), e.rev, e.value.name.as_str())).collect();
    assert_eq!(summary, [("a", 1, "Alice"), ("b", 2, "Bobby")]);
    assert_eq!(rows[1].updated_at, t0 + chrono::Duration::minutes(5));
    assert_eq!(rows[0].value, person("a", "Alice"), "every field survives IndexedDB");

    store.delete::<Person>("a").await.unwrap();
    store.delete::<Person>("never-existed").await.unwrap();
    let ids: Vec<_> = store.list::<Person>().await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids, ["b"]);
}

#[wasm_bindgen_test]
async fn records_survive_reopening_the_database() {
    let name = fresh_name("reopen");
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    {
        let store = IdbStore::open(&name).await.unwrap();
        people::save_person(&store, person("", "Carol"), t0).await.unwrap();
    }
    let reopened = IdbStore::open(&name).await.unwrap();
    let names: Vec<_> = people::list_people(&reopened).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Carol"]);
}

#[wasm_bindgen_test]
async fn refused_person_leaves_the_database_unchanged() {
    let store = IdbStore::open(&fresh_name("refused")).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    people::save_person(&store, person("", "Dana"), t0).await.unwrap();
    let before = store.list::<Person>().await.unwrap();

    let cases = [
        (person("", " dana "), ActionError::InvalidPerson(PersonError::DuplicateName("Dana".into()))),
        (person("", "  "), ActionError::InvalidPerson(PersonError::EmptyName)),
        (Person { time_zone: "Nowhere/Land".into(), ..person("", "Eve") }, ActionError::InvalidPerson(PersonError::UnknownTimeZone("Nowhere/Land".into()))),
    ];
    for (draft, want) in cases {
        assert_eq!(people::save_person(&store, draft, t0).await, Err(want));
    }
    assert_eq!(store.list::<Person>().await.unwrap(), before);
}
