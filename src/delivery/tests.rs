//! Bodies compared as JSON values against what each receiver expects, one table row per kind.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-03-01T03:00:00Z").unwrap().with_timezone(&Utc)
}

const INCIDENT_URL: &str = "https://piket.example/#/incidents/inc-1";

pub(crate) fn message() -> Message {
    Message {
        event: Event::Paged,
        incident_id: "inc-1".into(),
        title: "Checkout is down".into(),
        summary: "502s from the gateway".into(),
        severity: Severity::Sev1,
        status: Status::New,
        service: "payments".into(),
        url: INCIDENT_URL.into(),
        level: Some(1),
        person: Some("Alice Example".into()),
        at: at(),
        acks: Vec::new(),
    }
}

fn config(kind: ChannelKind) -> ChannelConfig {
    let url = match kind {
        ChannelKind::Ntfy => "https://ntfy.sh",
        ChannelKind::Slack => "https://hooks.slack.com/services/T000/B000/XXXX",
        ChannelKind::Teams => "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SIGN",
        ChannelKind::Discord => "https://discord.com/api/webhooks/123/TOKEN",
        ChannelKind::Generic => "https://hooks.example.com/piket",
    };
    let mut c = ChannelConfig::new(kind, url);
    if kind == ChannelKind::Ntfy {
        c.topic = Some("piket-oncall".into());
    }
    c
}

fn body(spec: &RequestSpec) -> Value {
    serde_json::from_str(&spec.body).expect("bodies are JSON")
}

const TEXT: &str = "Paged Alice Example (level 1): [SEV1] Checkout is down — payments";

/// (kind, url, content type, mode, body) for the standard message.
fn expected() -> Vec<(ChannelKind, &'static str, &'static str, Mode, Value)> {
    vec![
        (
            ChannelKind::Ntfy,
            "https://ntfy.sh/",
            "application/json",
            Mode::Cors,
            json!({
                "topic": "piket-oncall",
                "title": "[SEV1] Checkout is down",
                "message": TEXT,
                "priority": 5,
                "tags": ["rotating_light", "sev1", "paged"],
                "click": INCIDENT_URL,
                "actions": [{"action": "view", "label": "Open incident", "url": INCIDENT_URL, "clear": true}]
            }),
        ),
        (
            ChannelKind::Slack,
            "https://hooks.slack.com/services/T000/B000/XXXX",
            "text/plain",
            Mode::NoCors,
            json!({
                "text": TEXT,
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "[SEV1] Checkout is down", "emoji": false}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": TEXT}},
                    {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Severity:* SEV1 · *Status:* new · *Service:* payments"}]},
                    {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": INCIDENT_URL}]}
                ]
            }),
        ),
        (
            ChannelKind::Teams,
            "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SIGN",
            "text/plain",
            Mode::NoCors,
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": "[SEV1] Checkout is down", "weight": "Bolder", "size": "Medium", "color": "Attention", "wrap": true},
                            {"type": "TextBlock", "text": TEXT, "wrap": true},
                            {"type": "FactSet", "facts": [
                                {"title": "Severity", "value": "SEV1"},
                                {"title": "Status", "value": "new"},
                                {"title": "Service", "value": "payments"},
                                {"title": "Level", "value": "1"},
                                {"title": "Person", "value": "Alice Example"}
                            ]}
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open incident", "url": INCIDENT_URL}]
                    }
                }]
            }),
        ),
        (
            ChannelKind::Discord,
            "https://discord.com/api/webhooks/123/TOKEN",
            "application/json",
            Mode::Cors,
            json!({
                "content": TEXT,
                "allowed_mentions": {"parse": []},
                "embeds": [{
                    "title": "[SEV1] Checkout is down",
                    "description": "502s from the gateway",
                    "url": INCIDENT_URL,
                    "color": 0xC62828,
                    "fields": [
                        {"name": "Severity", "value": "SEV1", "inline": true},
                        {"name": "Status", "value": "new", "inline": true},
                        {"name": "Service", "value": "payments", "inline": true}
                    ],
                    "timestamp": "2025-03-01T03:00:00Z"
                }]
            }),
        ),
        (
            ChannelKind::Generic,
            "https://hooks.example.com/piket",
            "application/json",
            Mode::Cors,
            json!({
                "event": "paged",
                "text": TEXT,
                "incident": {
                    "id": "inc-1",
                    "title": "Checkout is down",
                    "summary": "502s from the gateway",
                    "severity": "sev1",
                    "status": "new",
                    "service": "payments",
                    "url": INCIDENT_URL
                },
                "level": 1,
                "person": "Alice Example",
                "at": "2025-03-01T03:00:00Z"
            }),
        ),
    ]
}

#[test]
fn every_kind_sends_its_documented_body() {
    let rows = expected();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), ChannelKind::ALL.to_vec(), "a row per kind");
    for (kind, url, content_type, mode, expected_body) in rows {
        let spec = request(&config(kind), &message());
        assert_eq!(spec.url, url, "{kind:?}");
        assert_eq!(spec.method, "POST");
        assert_eq!(spec.content_type, content_type, "{kind:?}");
        assert_eq!(spec.mode, mode, "{kind:?}");
        assert_eq!(spec.status_readable(), mode == Mode::Cors);
        assert_eq!(body(&spec), expected_body, "{kind:?}");
    }
}

#[test]
fn hostile_text_stays_plain_strings_in_every_body() {
    let mut m = message();
    m.title = "<img src=x onerror=alert(1)> \"quoted\"\nnext line @everyone <!channel>".into();
    m.service = "a\"b\\c".into();
    for kind in ChannelKind::ALL {
        let spec = request(&config(kind), &m);
        let b = body(&spec); // parses: quotes, backslashes and newlines were escaped
        let all = b.to_string();
        assert!(!all.contains("\n"), "{kind:?}: a raw newline inside the JSON text");
        match kind {
            ChannelKind::Slack => {
                assert_eq!(b["blocks"][0]["text"]["text"], json!(format!("[SEV1] {}", m.title)), "plain_text carries it as is");
                let text = b["text"].as_str().unwrap();
                assert!(text.contains("&lt;img src=x onerror=alert(1)&gt; \"quoted\"\nnext line @everyone &lt;!channel&gt;"), "{text}");
                assert!(!text.contains('<'), "no Slack markup survives: {text}");
                assert!(b["blocks"][2]["elements"][0]["text"].as_str().unwrap().ends_with("a\"b\\c"));
            }
            ChannelKind::Ntfy => assert_eq!(b["title"], json!(format!("[SEV1] {}", m.title))),
            ChannelKind::Teams => assert_eq!(b["attachments"][0]["content"]["body"][0]["text"], json!(format!("[SEV1] {}", m.title))),
            ChannelKind::Discord => {
                assert_eq!(b["embeds"][0]["title"], json!(format!("[SEV1] {}", m.title)));
                assert_eq!(b["allowed_mentions"], json!({"parse": []}), "@everyone pings nobody");
            }
            ChannelKind::Generic => {
                assert_eq!(b["incident"]["title"], json!(m.title));
                assert_eq!(b["incident"]["service"], json!("a\"b\\c"));
            }
        }
    }
}

#[test]
fn discord_text_shows_an_incident_s_markdown_characters_as_written() {
    let mut m = message();
    m.title = "api/* 5xx > 5% [prod] _now_ :fire:".into();
    m.summary = "# not a header\n- not a list".into();
    let b = body(&request(&config(ChannelKind::Discord), &m));
    let content = b["content"].as_str().unwrap();
    assert!(content.contains(r"api/\* 5xx \> 5% \[prod\] \_now\_ \:fire\:"), "{content}");
    assert_eq!(b["embeds"][0]["description"], json!("\\# not a header\n\\- not a list"));
    assert_eq!(b["embeds"][0]["title"], json!(format!("[SEV1] {}", m.title)), "the embed title is left as written");
    // A template's own markdown is kept; only the incident's words are escaped.
    let mut templated = config(ChannelKind::Discord);
    templated.template = Some("**{{title}}** {{url}}".into());
    let b = body(&request(&templated, &m));
    assert_eq!(b["content"], json!(format!(r"**api/\* 5xx \> 5% \[prod\] \_now\_ \:fire\:** {}", m.url)));
}

#[test]
fn templates_fill_the_message_text_of_every_kind() {
    let mut m = message();
    m.title = "Title with {{url}} and \"quotes\"".into();
    for kind in ChannelKind::ALL {
        let mut c = config(kind);
        c.template = Some("{{severity}} {{title}} → {{person}} L{{level}}\n{{url}}".into());
        assert_eq!(validate_config(&c), Ok(()));
        let b = body(&request(&c, &m));
        let expected = format!("SEV1 Title with {{{{url}}}} and \"quotes\" → Alice Example L1\n{INCIDENT_URL}");
        let got = match kind {
            ChannelKind::Ntfy => &b["message"],
            ChannelKind::Slack => &b["text"],
            ChannelKind::Teams => &b["attachments"][0]["content"]["body"][1]["text"],
            ChannelKind::Discord => &b["content"],
            ChannelKind::Generic => &b["text"],
        };
        assert_eq!(got, &json!(expected), "{kind:?}");
    }
}

#[test]
fn discord_content_is_cut_to_2000_on_a_char_boundary() {
    let mut m = message();
    m.title = "é".repeat(1500) + &"🔥".repeat(800);
    let b = body(&request(&config(ChannelKind::Discord), &m));
    let content = b["content"].as_str().unwrap();
    assert!(content.ends_with('…'));
    assert!(content.chars().count() <= 2000 && content.encode_utf16().count() <= 2000, "{}", content.encode_utf16().count());
    assert!(content.encode_utf16().count() >= 1998, "cut no shorter than needed");
    let title = b["embeds"][0]["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 256);
    assert!(title.ends_with('…'));
    // Short content is untouched; exactly 2000 fits.
    assert_eq!(truncate(&"a".repeat(2000), 2000), "a".repeat(2000));
    assert_eq!(truncate(&"a".repeat(2001), 2000), "a".repeat(1999) + "…");
    assert_eq!(truncate("🔥🔥🔥", 4), "🔥…", "an emoji is two UTF-16 units");
    assert_eq!(truncate("abc", 3), "abc");
}

#[test]
fn events_set_priority_tags_and_wording() {
    let cases = [
        (Event::Paged, Severity::Sev3, 3, "warning", "Paged Alice Example (level 1): [SEV3] Checkout is down — payments"),
        (Event::Paged, Severity::Sev4, 2, "warning", "Paged Alice Example (level 1): [SEV4] Checkout is down — payments"),
        (Event::Escalated, Severity::Sev2, 4, "rotating_light", "Escalated to level 1: [SEV2] Checkout is down — payments"),
        (Event::Acknowledged, Severity::Sev1, 2, "eyes", "Acknowledged by Alice Example: [SEV1] Checkout is down — payments"),
        (Event::Resolved, Severity::Sev1, 2, "white_check_mark", "Resolved by Alice Example: [SEV1] Checkout is down — payments"),
        (Event::Test, Severity::Sev1, 3, "test_tube", "Test message from Piket: [SEV1] Checkout is down — payments"),
    ];
    for (event, severity, priority, tag, text) in cases {
        let m = Message { event, severity, ..message() };
        let b = body(&request(&config(ChannelKind::Ntfy), &m));
        assert_eq!((b["priority"].as_u64(), b["tags"][0].as_str(), b["message"].as_str()), (Some(priority), Some(tag), Some(text)), "{event:?}");
    }
    let bare = Message { level: None, person: None, service: String::new(), ..message() };
    assert_eq!(default_text(&bare), "Paged: [SEV1] Checkout is down");
    assert_eq!(default_text(&Message { event: Event::Escalated, ..bare.clone() }), "Escalated: [SEV1] Checkout is down");
}

#[test]
fn links_that_are_not_http_are_left_out() {
    let m = Message { url: "javascript:alert(1)".into(), summary: String::new(), service: String::new(), ..message() };
    let ntfy = body(&request(&config(ChannelKind::Ntfy), &m));
    assert!(ntfy.get("click").is_none() && ntfy.get("actions").is_none());
    let slack = body(&request(&config(ChannelKind::Slack), &m));
    assert_eq!(slack["blocks"].as_array().unwrap().len(), 3, "no button");
    let teams = body(&request(&config(ChannelKind::Teams), &m));
    assert!(teams["attachments"][0]["content"].get("actions").is_none());
    let discord = body(&request(&config(ChannelKind::Discord), &m));
    let embed = &discord["embeds"][0];
    assert!(embed.get("url").is_none() && embed.get("description").is_none());
    assert_eq!(embed["fields"].as_array().unwrap().len(), 2, "no empty Service field");
}

#[test]
fn no_cors_switch_sends_the_simple_form() {
    for kind in [ChannelKind::Ntfy, ChannelKind::Discord, ChannelKind::Generic] {
        let mut c = config(kind);
        c.no_cors = true;
        let spec = request(&c, &message());
        assert_eq!((spec.content_type, spec.mode, spec.status_readable()), ("text/plain", Mode::NoCors, false), "{kind:?}");
    }
}

#[test]
fn ntfy_posts_to_the_server_root() {
    let mut c = config(ChannelKind::Ntfy);
    c.url = " https://ntfy.example.com/ ".into();
    assert_eq!(request(&c, &message()).url, "https://ntfy.example.com/");
    c.url = "https://example.com/ntfy".into();
    assert_eq!(request(&c, &message()).url, "https://example.com/ntfy/");
}

#[test]
fn configs_are_validated_before_saving() {
    assert_eq!(validate_config(&config(ChannelKind::Slack)), Ok(()));
    let with = |f: fn(&mut ChannelConfig)| {
        let mut c = config(ChannelKind::Ntfy);
        f(&mut c);
        validate_config(&c).map_err(|e| e.to_string())
    };
    assert_eq!(with(|_| {}), Ok(()));
    assert_eq!(with(|c| c.url = "http://192.168.1.5:8080".into()), Ok(()));
    assert_eq!(with(|c| c.url = "ftp://x".into()), Err("url: must start with https:// (or http:// for a receiver on your network)".into()));
    assert_eq!(with(|c| c.url = "javascript:alert(1)".into()), Err("url: must start with https:// (or http:// for a receiver on your network)".into()));
    assert_eq!(with(|c| c.url = "https:///path".into()), Err("url: must name a host and hold no spaces".into()));
    assert_eq!(with(|c| c.url = "https://a b.example".into()), Err("url: must name a host and hold no spaces".into()));
    assert_eq!(with(|c| c.topic = None), Err("topic: ntfy needs a topic".into()));
    assert_eq!(with(|c| c.topic = Some("has space".into())), Err("topic: 1–64 letters, digits, “-” or “_”".into()));
    assert_eq!(with(|c| c.topic = Some("x".repeat(65))), Err("topic: 1–64 letters, digits, “-” or “_”".into()));
    assert_eq!(with(|c| c.kind = ChannelKind::Discord), Err("topic: only ntfy channels have a topic, not discord".into()));
    assert_eq!(with(|c| c.template = Some("{{titel}}".into())).unwrap_err().split('.').next().unwrap(), "template: Unknown placeholder(s): {{titel}}");
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let c = config(ChannelKind::Slack);
    let debug = format!("{c:?} {:?}", request(&c, &message()));
    assert!(!debug.contains("T000/B000"), "{debug}");
    assert!(debug.contains("https://hooks.slack.com/…XXXX"), "{debug}");
    let n = config(ChannelKind::Ntfy).masked();
    assert_eq!((n.url.as_str(), n.topic.as_deref()), ("https://ntfy.sh/", Some("…call")));
}

#[test]
fn configs_and_messages_round_trip_as_json() {
    let mut c = config(ChannelKind::Ntfy);
    c.template = Some("{{title}}".into());
    let text = serde_json::to_string(&c).unwrap();
    assert_eq!(text, r#"{"kind":"ntfy","url":"https://ntfy.sh","topic":"piket-oncall","template":"{{title}}"}"#);
    assert_eq!(serde_json::from_str::<ChannelConfig>(&text).unwrap(), c);
    assert!(serde_json::from_str::<ChannelConfig>(r#"{"kind":"pager","url":"https://x"}"#).is_err());
    let m = message();
    assert_eq!(serde_json::from_value::<Message>(serde_json::to_value(&m).unwrap()).unwrap(), m);
}

#[test]
fn a_message_about_an_engine_incident() {
    use crate::engine::{Engine, IncidentDetails, Input, World};
    let mut engine = Engine::new();
    let details = IncidentDetails { title: "Disk full".into(), severity: Severity::Sev2, service: "db".into(), ..IncidentDetails::default() };
    let outcome = engine.handle(&World::default(), at(), Input::Open { id: "inc-9".into(), by: crate::engine::Actor::Automation, details });
    assert_eq!(outcome.rejected, None);
    let m = Message::about(engine.incident("inc-9").unwrap(), Event::Escalated, INCIDENT_URL, at()).level(2).person("Bob");
    assert_eq!((m.title.as_str(), m.severity, m.status, m.level, m.person.as_deref()), ("Disk full", Severity::Sev2, Status::New, Some(2), Some("Bob")));
    assert_eq!(default_text(&m), "Escalated to level 2: [SEV2] Disk full — db");
}

fn with_acks(names: &[&str]) -> Message {
    let acks = names
        .iter()
        .map(|n| crate::reply::AckLink {
            name: n.to_string(),
            link: format!("https://piket.example/ack/#tok-{n}.sig.ckey"),
            token: format!("tok-{n}.sig"),
            reply_url: "https://ntfy.example/piket-reply".into(),
        })
        .collect();
    Message { acks, ..message() }
}

#[test]
fn a_page_to_a_person_carries_its_one_tap_acknowledgement_on_every_kind() {
    let m = with_acks(&["Alice Example"]);
    let ntfy: Value = serde_json::from_str(&request(&config(ChannelKind::Ntfy), &m).body).unwrap();
    assert_eq!(
        ntfy["actions"],
        json!([
            {"action": "http", "label": "Acknowledge", "url": "https://ntfy.example/piket-reply", "method": "POST", "body": "tok-Alice Example.sig", "clear": true},
            {"action": "view", "label": "Open", "url": "https://piket.example/ack/#tok-Alice Example.sig.ckey"},
        ])
    );
    assert_eq!(ntfy["click"], json!("https://piket.example/ack/#tok-Alice Example.sig.ckey"));
    let link = "https://piket.example/ack/#tok-Alice Example.sig.ckey";
    for kind in [ChannelKind::Slack, ChannelKind::Teams, ChannelKind::Discord, ChannelKind::Generic] {
        let body = request(&config(kind), &m).body;
        assert!(body.contains(link), "{kind:?}: {body}");
    }
    let generic: Value = serde_json::from_str(&request(&config(ChannelKind::Generic), &m).body).unwrap();
    assert_eq!(generic["ack_url"], json!(link));
    let slack: Value = serde_json::from_str(&request(&config(ChannelKind::Slack), &m).body).unwrap();
    assert_eq!(slack["blocks"][3]["elements"][0]["text"]["text"], json!("Acknowledge"));
    // Without the reply channel, nothing changes.
    let plain: Value = serde_json::from_str(&request(&config(ChannelKind::Ntfy), &message()).body).unwrap();
    assert_eq!(plain["actions"][0]["label"], json!("Open incident"));
    assert!(!request(&config(ChannelKind::Generic), &message()).body.contains("/ack/"));
}

#[test]
fn a_level_post_names_each_person_and_discord_keeps_the_links_whole() {
    let m = Message { title: "x".repeat(3000), ..with_acks(&["Alice", "Bob"]) };
    let slack: Value = serde_json::from_str(&request(&config(ChannelKind::Slack), &m).body).unwrap();
    let labels: Vec<&str> = slack["blocks"][3]["elements"].as_array().unwrap().iter().map(|b| b["text"]["text"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Acknowledge as Alice", "Acknowledge as Bob", "Open incident"]);
    let discord: Value = serde_json::from_str(&request(&config(ChannelKind::Discord), &m).body).unwrap();
    let content = discord["content"].as_str().unwrap();
    assert!(content.chars().count() <= 2000, "{}", content.chars().count());
    assert!(content.ends_with("Acknowledge as Bob: <https://piket.example/ack/#tok-Bob.sig.ckey>"), "{content}");
    let ntfy: Value = serde_json::from_str(&request(&config(ChannelKind::Ntfy), &m).body).unwrap();
    assert!(ntfy["actions"].as_array().unwrap().len() <= 3, "ntfy allows at most 3 actions");
}
