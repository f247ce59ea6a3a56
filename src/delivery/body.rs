//! The JSON bodies, one per channel kind, built as `serde_json::Value`s (never by concatenation).

use serde_json::{json, Map, Value};

use super::{severity_label, truncate, Event, Message};
use crate::engine::Severity;
use crate::intake::is_evidence_url;

/// Discord's limits: message content, embed title, embed description, field value.
pub(super) const DISCORD_CONTENT_MAX: usize = 2000;
const DISCORD_TITLE_MAX: usize = 256;
const DISCORD_DESCRIPTION_MAX: usize = 4096;
const DISCORD_FIELD_MAX: usize = 1024;
/// Slack's limits: header text, section text.
const SLACK_HEADER_MAX: usize = 150;
const SLACK_SECTION_MAX: usize = 3000;

fn headline(m: &Message) -> String {
    format!("[{}] {}", severity_label(m.severity), m.title)
}

/// The link to the incident, when it is one a receiver will accept as a link.
fn link(m: &Message) -> Option<&str> {
    Some(m.url.as_str()).filter(|u| is_evidence_url(u))
}

/// ntfy priority: by severity for pages and escalations (SEV1 → 5 "urgent" … SEV4 → 2 "low");
/// 2 for acknowledgements and resolutions (nobody needs waking for good news); 3 for a test.
pub(super) fn ntfy_priority(m: &Message) -> u8 {
    match m.event {
        Event::Test => 3,
        e if e.wakes() => [5, 4, 3, 2][m.severity as usize],
        _ => 2,
    }
}

pub(super) fn ntfy(topic: &str, text: &str, m: &Message) -> Value {
    let emoji = match m.event {
        Event::Paged | Event::Escalated if m.severity <= Severity::Sev2 => "rotating_light",
        Event::Paged | Event::Escalated => "warning",
        Event::Acknowledged => "eyes",
        Event::Resolved => "white_check_mark",
        Event::Test => "test_tube",
    };
    let mut body = Map::new();
    body.insert("topic".into(), json!(topic));
    body.insert("title".into(), json!(headline(m)));
    body.insert("message".into(), json!(text));
    body.insert("priority".into(), json!(ntfy_priority(m)));
    body.insert("tags".into(), json!([emoji, severity_label(m.severity).to_ascii_lowercase(), m.event.as_str()]));
    if let Some(ack) = m.acks.first() {
        // The phone app sends the http action's request itself: the signed token goes straight
        // back to the clock's reply topic, and the notification clears. "Open" shows the /ack/
        // page (which works with nothing stored). ntfy allows at most 3 actions.
        body.insert("click".into(), json!(ack.link));
        body.insert(
            "actions".into(),
            json!([
                {"action": "http", "label": "Acknowledge", "url": ack.reply_url, "method": "POST", "body": ack.token, "clear": true},
                {"action": "view", "label": "Open", "url": ack.link},
            ]),
        );
    } else if let Some(url) = link(m) {
        body.insert("click".into(), json!(url));
        body.insert("actions".into(), json!([{"action": "view", "label": "Open incident", "url": url, "clear": true}]));
    }
    Value::Object(body)
}

/// Slack reads `&`, `<` and `>` in text as markup (`<!channel>` pings everyone): escape them.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

pub(super) fn slack(text: &str, m: &Message) -> Value {
    let mut facts = format!("*Severity:* {} · *Status:* {}", severity_label(m.severity), m.status.as_str());
    if !m.service.is_empty() {
        facts += &format!(" · *Service:* {}", slack_escape(&m.service));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&headline(m), SLACK_HEADER_MAX), "emoji": false}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&slack_escape(text), SLACK_SECTION_MAX)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": facts}]}),
    ];
    let mut buttons: Vec<Value> = m
        .acks
        .iter()
        .take(ACK_BUTTONS_MAX)
        .map(|a| json!({"type": "button", "style": "primary", "text": {"type": "plain_text", "text": ack_label(m, a)}, "url": a.link}))
        .collect();
    if let Some(url) = link(m) {
        buttons.push(json!({"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": url}));
    }
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    // The plain text (notifications, clients without blocks) carries the links too.
    let mut plain = slack_escape(text);
    for a in m.acks.iter().take(ACK_BUTTONS_MAX) {
        plain += &format!("\n<{}|{}>", a.link, ack_label(m, a));
    }
    json!({"text": plain, "blocks": blocks})
}

pub(super) fn teams(text: &str, m: &Message) -> Value {
    let mut facts = vec![json!({"title": "Severity", "value": severity_label(m.severity)}), json!({"title": "Status", "value": m.status.as_str()})];
    if !m.service.is_empty() {
        facts.push(json!({"title": "Service", "value": m.service}));
    }
    if let Some(level) = m.level {
        facts.push(json!({"title": "Level", "value": level.to_string()}));
    }
    if let Some(person) = m.person.as_deref().filter(|p| !p.is_empty()) {
        facts.push(json!({"title": "Person", "value": person}));
    }
    let color = match m.event {
        Event::Resolved => "Good",
        e if e.wakes() && m.severity <= Severity::Sev2 => "Attention",
        e if e.wakes() => "Warning",
        _ => "Default",
    };
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(m), "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
            {"type": "TextBlock", "text": text, "wrap": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    let mut actions: Vec<Value> =
        m.acks.iter().take(ACK_BUTTONS_MAX).map(|a| json!({"type": "Action.OpenUrl", "title": ack_label(m, a), "url": a.link, "style": "positive"})).collect();
    if let Some(url) = link(m) {
        actions.push(json!({"type": "Action.OpenUrl", "title": "Open incident", "url": url}));
    }
    if !actions.is_empty() {
        card["actions"] = Value::Array(actions);
    }
    json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": card}]})
}

/// Embed colours: red, orange, amber, blue by severity; green once resolved.
fn discord_color(m: &Message) -> u32 {
    if m.event == Event::Resolved {
        return 0x2E7D32;
    }
    [0xC62828, 0xEF6C00, 0xF9A825, 0x1565C0][m.severity as usize]
}

/// Discord reads markdown in message text and embed descriptions (and `:name:` emoji, `<@id>`
/// mentions): a backslash before a punctuation character makes it literal.
pub(super) fn discord_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '#' | '-' | '[' | ']' | ':' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(super) fn discord(text: &str, m: &Message) -> Value {
    let mut fields = vec![
        json!({"name": "Severity", "value": severity_label(m.severity), "inline": true}),
        json!({"name": "Status", "value": m.status.as_str(), "inline": true}),
    ];
    // Discord refuses empty field values.
    if !m.service.is_empty() {
        fields.push(json!({"name": "Service", "value": truncate(&m.service, DISCORD_FIELD_MAX), "inline": true}));
    }
    let mut embed = Map::new();
    embed.insert("title".into(), json!(truncate(&headline(m), DISCORD_TITLE_MAX)));
    if !m.summary.is_empty() {
        embed.insert("description".into(), json!(truncate(&discord_escape(&m.summary), DISCORD_DESCRIPTION_MAX)));
    }
    if let Some(url) = link(m) {
        embed.insert("url".into(), json!(url));
    }
    embed.insert("color".into(), json!(discord_color(m)));
    embed.insert("fields".into(), Value::Array(fields));
    embed.insert("timestamp".into(), json!(m.at));
    // The acknowledgement links go whole at the end (in <…> so Discord shows no preview); the
    // text is cut to leave them room.
    let links: String = m.acks.iter().take(ACK_BUTTONS_MAX).map(|a| format!("\n{}: <{}>", ack_label(m, a), a.link)).collect();
    let room = DISCORD_CONTENT_MAX.saturating_sub(links.chars().count()).max(1);
    json!({
        "content": format!("{}{links}", truncate(text, room)),
        "allowed_mentions": {"parse": []},
        "embeds": [Value::Object(embed)],
    })
}

pub(super) fn generic(text: &str, m: &Message) -> Value {
    let mut body = json!({
        "event": m.event,
        "text": text,
        "incident": {
            "id": m.incident_id,
            "title": m.title,
            "summary": m.summary,
            "severity": m.severity,
            "status": m.status,
            "service": m.service,
            "url": m.url,
        },
        "level": m.level,
        "person": m.person,
        "at": m.at,
    });
    if let Some(first) = m.acks.first() {
        body["ack_url"] = json!(first.link);
        body["acks"] = m.acks.iter().map(|a| json!({"person": a.name, "url": a.link})).collect();
    }
    body
}

/// At most this many acknowledgement buttons in one chat message.
const ACK_BUTTONS_MAX: usize = 5;

/// "Acknowledge" on a page to one person; "Acknowledge as Alice" when a post carries several.
fn ack_label(m: &Message, a: &crate::reply::AckLink) -> String {
    if m.acks.len() > 1 {
        format!("Acknowledge as {}", a.name)
    } else {
        "Acknowledge".to_string()
    }
}
