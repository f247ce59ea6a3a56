//! Message templates: `{{title}}`, `{{severity}}`, `{{url}}` … filled with an incident's fields.
//!
//! Values go in as plain text, in one pass (a title containing `{{url}}` stays that text). Bodies
//! are then built as JSON values, so serde escapes whatever the text holds.

use super::Message;

/// Every placeholder a template may use.
pub const PLACEHOLDERS: [&str; 9] = ["title", "severity", "status", "service", "url", "level", "person", "summary", "event"];

/// The longest template accepted, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 4000;

/// Why a template was refused (when a channel is saved, not when a page is sent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("The template is empty: it would send a blank message.")]
    Empty,
    #[error("The template is {0} characters; at most {MAX_TEMPLATE_CHARS}.")]
    TooLong(usize),
    #[error("Unknown placeholder(s): {}. Use {}.", list(.0), list_known())]
    UnknownPlaceholders(Vec<String>),
    /// 1-based character position of the opening braces.
    #[error("“{{{{” at character {0} is never closed with “}}}}”.")]
    Unclosed(usize),
}

fn list(names: &[String]) -> String {
    names.iter().map(|n| format!("{{{{{n}}}}}")).collect::<Vec<_>>().join(", ")
}

fn list_known() -> String {
    list(&PLACEHOLDERS.map(String::from))
}

/// A piece of a template: literal text or a placeholder name (trimmed, as written).
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn pieces(template: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| TemplateError::Unclosed(template[..template.len() - rest.len() + open].chars().count() + 1))?;
        out.push(Piece::Field(after[..close].trim()));
        rest = &after[close + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Check a template: not blank, not too long, every `{{…}}` closed and one of [`PLACEHOLDERS`]
/// (all unknown ones are listed).
pub fn validate_template(template: &str) -> Result<(), TemplateError> {
    if template.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    let chars = template.chars().count();
    if chars > MAX_TEMPLATE_CHARS {
        return Err(TemplateError::TooLong(chars));
    }
    let mut unknown: Vec<String> = Vec::new();
    for piece in pieces(template)? {
        if let Piece::Field(name) = piece {
            if !PLACEHOLDERS.contains(&name) && !unknown.iter().any(|u| u == name) {
                unknown.push(name.to_string());
            }
        }
    }
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(TemplateError::UnknownPlaceholders(unknown))
    }
}

/// Fill a template with the message's fields as plain text. A template that fails
/// [`validate_template`] still renders: unknown or unclosed placeholders stay as written.
pub fn render(template: &str, message: &Message) -> String {
    let Ok(pieces) = pieces(template) else {
        return template.to_string();
    };
    let mut out = String::with_capacity(template.len() + 64);
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(name) => match value(name, message) {
                Some(v) => out.push_str(&v),
                None => {
                    out.push_str("{{");
                    out.push_str(name);
                    out.push_str("}}");
                }
            },
        }
    }
    out
}

fn value(name: &str, m: &Message) -> Option<String> {
    Some(match name {
        "title" => m.title.clone(),
        "severity" => super::severity_label(m.severity).to_string(),
        "status" => m.status.as_str().to_string(),
        "service" => m.service.clone(),
        "url" => m.url.clone(),
        "level" => m.level.map(|l| l.to_string()).unwrap_or_default(),
        "person" => m.person.clone().unwrap_or_default(),
        "summary" => m.summary.clone(),
        "event" => m.event.as_str().to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::message;
    use super::*;

    #[test]
    fn renders_every_placeholder() {
        let t = "{{event}} {{severity}} {{title}} [{{status}}] {{service}} L{{level}} {{person}} {{url}} — {{ summary }}";
        assert_eq!(validate_template(t), Ok(()));
        assert_eq!(
            render(t, &message()),
            "paged SEV1 Checkout is down [new] payments L1 Alice Example https://piket.example/#/incidents/inc-1 — 502s from the gateway"
        );
    }

    #[test]
    fn values_are_not_expanded_again() {
        let mut m = message();
        m.title = "{{url}} \"quoted\"\n<img src=x onerror=alert(1)>".into();
        m.level = None;
        m.person = None;
        assert_eq!(render("{{title}}|{{level}}|{{person}}", &m), "{{url}} \"quoted\"\n<img src=x onerror=alert(1)>||");
    }

    #[test]
    fn refuses_unknown_unclosed_empty_and_long_templates() {
        assert_eq!(
            validate_template("{{title}} {{assignee}} {{ Title }} {{assignee}}"),
            Err(TemplateError::UnknownPlaceholders(vec!["assignee".into(), "Title".into()]))
        );
        let err = validate_template("{{nope}}").unwrap_err().to_string();
        assert!(err.starts_with("Unknown placeholder(s): {{nope}}. Use {{title}}, {{severity}}"), "{err}");
        assert_eq!(validate_template("héllo {{title}} {{url"), Err(TemplateError::Unclosed(17)));
        assert_eq!(validate_template("  "), Err(TemplateError::Empty));
        assert_eq!(validate_template(&"x".repeat(MAX_TEMPLATE_CHARS + 1)), Err(TemplateError::TooLong(MAX_TEMPLATE_CHARS + 1)));
        assert_eq!(validate_template("plain text, { single } braces and }} alone"), Ok(()));
    }

    #[test]
    fn invalid_templates_still_render_literally() {
        assert_eq!(render("{{title}} {{nope}}", &message()), "Checkout is down {{nope}}");
        assert_eq!(render("{{title}} {{url", &message()), "{{title}} {{url");
    }
}
