//! Webhook URLs and ntfy topics are secrets (whoever has one can post to the channel): show only
//! enough to tell them apart.

/// `https://hooks.slack.com/services/T000/B000/XXXX` → `https://hooks.slack.com/…XXXX`: scheme and
/// host (any `user:password@` dropped), then the last 4 characters of the rest. A rest of 8
/// characters or fewer is hidden entirely (`https://host/…`); an empty one is shown
/// (`https://ntfy.sh/`). Text that is not a URL is masked like a secret ([`mask_secret`]).
pub fn mask_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return mask_secret(url);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let tail = &rest[end..];
    let shown = if tail.is_empty() || tail == "/" {
        "/".to_string()
    } else if tail.chars().count() <= 8 {
        "/…".to_string()
    } else {
        format!("/…{}", last_chars(tail, 4))
    };
    format!("{scheme}://{host}{shown}")
}

/// A secret shown as `…` and its last 4 characters (all hidden when it is 8 characters or fewer).
pub fn mask_secret(secret: &str) -> String {
    let secret = secret.trim();
    if secret.chars().count() <= 8 {
        "…".to_string()
    } else {
        format!("…{}", last_chars(secret, 4))
    }
}

fn last_chars(s: &str, n: usize) -> &str {
    let start = s.char_indices().rev().nth(n - 1).map_or(0, |(i, _)| i);
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_webhook_urls() {
        let cases = [
            ("https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/…XXXX"),
            ("https://discord.com/api/webhooks/123/abcdEFGH", "https://discord.com/…EFGH"),
            (
                "https://prod-01.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3tSIG",
                "https://prod-01.westeurope.logic.azure.com:443/…tSIG",
            ),
            ("https://user:pa55@hooks.example.com/hook/0123456789", "https://hooks.example.com/…6789"),
            ("https://ntfy.sh", "https://ntfy.sh/"),
            ("https://ntfy.sh/", "https://ntfy.sh/"),
            ("http://localhost:8080/short", "http://localhost:8080/…"),
            ("  https://x.example/ünïcödé-sëcrét ", "https://x.example/…crét"),
        ];
        for (url, masked) in cases {
            assert_eq!(mask_url(url), masked, "{url}");
        }
    }

    #[test]
    fn masks_things_that_are_not_urls_as_secrets() {
        assert_eq!(mask_url("hooks.slack.com/services/T000/B000/XXXX"), "…XXXX");
        assert_eq!(mask_url(""), "…");
        assert_eq!(mask_secret("piket-alerts-7f3a9c"), "…3a9c");
        assert_eq!(mask_secret("short"), "…");
        assert_eq!(mask_secret("ééééééééé"), "…éééé");
    }
}
