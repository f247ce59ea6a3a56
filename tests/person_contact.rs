#![cfg(not(target_arch = "wasm32"))]
//! A person's contact details are checked like a channel's (issue 11): the same URL and ntfy topic
//! rules, refused on save, in files and in backups, naming the field; every example still passes.

use piket::delivery::{validate_config, ChannelConfig, ChannelKind};
use piket::engine::format::{parse_people, parse_policies, parse_rules, parse_scenario, parse_schedules, parse_world};
use piket::engine::person::{is_ntfy_topic, webhook_url_problem};
use piket::storage::backup::parse_backup;

const URLS: [&str; 14] = [
    "https://hooks.example/alice",
    "http://192.168.1.20:8080/page",
    "  https://hooks.example/padded  ",
    "https://h?x=1",
    "javascript:alert(1)",
    "data:text/html,<b>x</b>",
    "hooks.example/alice",
    "ftp://hooks.example",
    "https://",
    "http://#frag",
    "https:///path",
    "https://hooks.example/a b",
    "https://hooks.example/\ttab",
    "HTTPS://hooks.example",
];

const TOPICS: [&str; 10] = ["piket-alice", "A_b-9", "<b>x</b>", "my topic", "piket/alice", "émile", "x", "ünï", "a.b", "tab\tbed"];

/// The person rules are the channel rules: what `validate_config` accepts, a person's contact does.
#[test]
fn the_person_rules_agree_with_the_channel_rules() {
    for url in URLS {
        let channel = validate_config(&ChannelConfig::new(ChannelKind::Generic, url)).map_err(|e| e.to_string());
        let person = webhook_url_problem(url).map(|why| format!("url: {why}"));
        assert_eq!(person, channel.err(), "{url:?}");
    }
    let long = "x".repeat(65);
    let longest = "x".repeat(64);
    for topic in TOPICS.iter().copied().chain([long.as_str(), longest.as_str()]) {
        let config = ChannelConfig { topic: Some(topic.into()), ..ChannelConfig::new(ChannelKind::Ntfy, "https://ntfy.sh") };
        assert_eq!(is_ntfy_topic(topic), validate_config(&config).is_ok(), "{topic:?}");
    }
}

fn person_json(contact: &str) -> String {
    format!(r#"[{{"id": "dana", "name": "Dana", "time_zone": "UTC", "contact": {contact}}}]"#)
}

#[test]
fn a_people_file_with_bad_contact_details_is_refused_at_the_field() {
    let cases = [
        (r#"{"webhook_url": "javascript:alert(1)"}"#, "[0].contact.webhook_url"),
        (r#"{"ntfy_topic": "<b>x</b>"}"#, "[0].contact.ntfy_topic"),
        (r#"{"email": "dana at example"}"#, "[0].contact.email"),
    ];
    for (contact, path) in cases {
        let errors = parse_people(&person_json(contact)).expect_err(contact).0;
        assert_eq!(errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(), [path], "{contact}");
    }
    let good = r#"{"ntfy_topic": "piket-dana", "webhook_url": "https://hooks.example/dana", "email": "dana@example.com"}"#;
    assert!(parse_people(&person_json(good)).is_ok());
    assert!(parse_people(&person_json(r#"{"ntfy_topic": "", "webhook_url": "", "email": ""}"#)).is_ok(), "empty is allowed");
}

#[test]
fn a_backup_holding_a_bad_personal_webhook_is_refused_naming_it() {
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/example-team.json")).unwrap();
    let bad = example.replacen(r#""contact": { "email": "alice@example.com" }"#, r#""contact": { "webhook_url": "javascript:alert(1)" }"#, 1);
    assert_ne!(bad, example, "the example still has Alice's e-mail");
    let err = parse_backup(&bad).expect_err("refused").to_string();
    assert!(err.contains("contact.webhook_url"), "{err}");
    // A backup without secrets has the URLs emptied: still restorable.
    let stripped = example.replacen(r#""contact": { "email": "alice@example.com" }"#, r#""contact": { "webhook_url": "" }"#, 1);
    assert!(parse_backup(&stripped).is_ok());
}

#[test]
fn every_example_still_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let result = match name.as_str() {
            "people.json" => parse_people(&text).map(drop).map_err(|e| e.to_string()),
            "schedules.json" => parse_schedules(&text).map(drop).map_err(|e| e.to_string()),
            "policies.json" => parse_policies(&text).map(drop).map_err(|e| e.to_string()),
            "rules.json" => parse_rules(&text).map(drop).map_err(|e| e.to_string()),
            "world.json" => parse_world(&text).map(drop).map_err(|e| e.to_string()),
            "example-team.json" => parse_backup(&text).map(drop).map_err(|e| e.to_string()),
            n if n.starts_with("scenario") => parse_scenario(&text).map(drop).map_err(|e| e.to_string()),
            other => panic!("{other}: a new example; say here how it is checked"),
        };
        assert_eq!(result, Ok(()), "{name}");
        checked.push(name);
    }
    checked.sort();
    assert!(checked.len() >= 7, "{checked:?}");
}
