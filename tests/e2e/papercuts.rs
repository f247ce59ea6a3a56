//! What a new user tripped over (issue 11), each with the test that would have caught it.

use serde_json::json;

use crate::clock::{backup_with, restore};
use crate::support::{Browser, Result};

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_intake_parameter_keeps_the_rest_and_is_marked_at_its_field() -> Result {
    let b = Browser::start().await?;
    b.open("/#/new?title=Disk+full&severity=sev2&link=ftp://x").await?;
    b.wait_text("#inc-links-error", |t| t.contains("From the link") && t.contains("link")).await?;
    let title = b.field("Title").await?.value().await?.unwrap_or_default();
    let severity = b.field("Severity").await?.prop("value").await?.unwrap_or_default();
    assert_eq!((title.as_str(), severity.as_str()), ("Disk full", "sev2"), "every valid field is kept");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seconds_long_timeout_is_shown_in_seconds() -> Result {
    let b = Browser::start().await?;
    restore(&b, &backup_with(vec![json!({"id": "alice", "name": "Alice", "time_zone": "UTC"}), json!({"id": "bob", "name": "Bob", "time_zone": "UTC"})], 20))
        .await?;
    b.open("/policies/quick").await?;
    b.wait_text(".path-preview", |t| t.contains("+20 s") && !t.contains("+0 min")).await?;
    let shown = b.field("Ack timeout (minutes)").await?.value().await?.unwrap_or_default();
    assert_eq!(shown, "20s", "not a fraction of a minute");
    b.quit().await
}
