//! The Lab through the browser, on a phone-sized window: a drill on the example team, the coverage
//! check, the example scenario, and a broken scenario whose error names its path.

use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

async fn no_sideways_scroll(b: &Browser) -> Result {
    let widths: Vec<i64> = b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert()?;
    assert!(widths[0] <= widths[1], "the page scrolls sideways: {widths:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn drill_coverage_and_scenario_on_the_example_team() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    let said = b.wait_text_within(".first-run-slot", std::time::Duration::from_secs(60), |t| t.contains("is loaded") || t.contains("could not")).await?;
    assert!(said.contains("is loaded"), "{said}");

    // A SEV1 drill nobody answers: the on-call person, then the senior level, then the manager.
    b.open("/lab").await?;
    b.wait_text("#lab-policy", |t| t.contains("Example team")).await?;
    SelectElement::new(&b.field("Severity").await?).await?.select_by_exact_text("SEV1 (critical)").await?;
    SelectElement::new(&b.field("Acknowledgement").await?).await?.select_by_exact_text("Nobody acknowledges").await?;
    b.click("Run drill").await?;
    let timeline = b.wait_text(".lab-drill-result", |t| (t.contains("Alice (example)") || t.contains("Bob (example)")) && t.contains("Dana (example)")).await?;
    assert!(timeline.contains("Carol (example)") && timeline.contains("#major-incident (example)"), "{timeline}");
    assert!(timeline.contains("Time to first page") && timeline.contains("at once"), "{timeline}");
    assert!(timeline.contains("up to level 3") && timeline.contains("stopped"), "{timeline}");
    no_sideways_scroll(&b).await?;

    // Acknowledged after 2 minutes: nobody past level 1.
    SelectElement::new(&b.field("Acknowledgement").await?).await?.select_by_exact_text("Acknowledged after N minutes").await?;
    b.fill("Minutes until acknowledged", "2").await?;
    b.click("Run drill").await?;
    let acked = b.wait_text(".lab-drill-result", |t| t.contains("acknowledged by")).await?;
    assert!(!acked.contains("Dana (example)"), "{acked}");

    // Coverage lists every schedule by name.
    let coverage = b.wait_text(".lab-coverage", |t| t.contains("Coverage, the next 14 days") && t.contains("Primary on-call (example)")).await?;
    assert!(coverage.contains("someone is on call throughout") || coverage.contains("Nobody on call"), "{coverage}");
    b.click("Check coverage").await?;
    b.wait_text(".lab-coverage", |t| t.contains("Primary on-call (example)")).await?;

    // The example scenario runs into a table.
    b.click("Load the example scenario").await?;
    b.click("Run scenario").await?;
    b.wait_text(".lab-scenario-result", |t| t.contains("lines.") && t.contains("inc-1") && t.contains("paged")).await?;
    let rows = b.driver.find_all(By::Css(".lab-lines tbody tr")).await?;
    assert!(rows.len() > 5, "only {} rows", rows.len());
    no_sideways_scroll(&b).await?;

    // A broken scenario names where it is broken, as text.
    b.fill(
        "Scenario JSON",
        r#"{"world":{},"inputs":[{"at":"2025-01-01T00:00:00Z","input":"open","id":"i","details":{"title":"<b>x</b>","severity":"sev9"}}]}"#,
    )
    .await?;
    b.click("Run scenario").await?;
    let error = b.wait_text(".lab-scenario-result [role=alert]", |t| t.contains("inputs[0]")).await?;
    assert!(error.contains("sev9"), "{error}");
    assert!(b.driver.find_all(By::Css(".lab-lines")).await?.is_empty(), "the old table is gone");
    no_sideways_scroll(&b).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_a_handled_incident_with_a_wider_policy() -> Result {
    use crate::clock::{open_incident, restore};
    use serde_json::json;
    let b = Browser::start_sized(360, 740).await?;
    // Alice alone under "quick" (the default); "wide" would have paged Bob with her.
    let now = "2026-11-26T00:00:00Z";
    let env = |id: &str, value: serde_json::Value| json!({"id": id, "rev": 1, "updated_at": now, "value": value});
    let file = json!({
        "piket_backup": 1, "schema": 2, "exported_at": now, "secrets_included": true,
        "stores": {
            "people": [
                env("alice", json!({"id": "alice", "name": "Alice Replay", "time_zone": "UTC"})),
                env("bob", json!({"id": "bob", "name": "Bob Replay", "time_zone": "UTC"})),
            ],
            "policies": [
                env("quick", json!({"id": "quick", "name": "Alice alone", "levels": [{"targets": [{"person": "alice"}]}]})),
                env("wide", json!({"id": "wide", "name": "Alice and Bob", "levels": [{"targets": [{"person": "alice"}, {"person": "bob"}]}]})),
            ],
            "settings": [env("world", json!({"key": "world", "value": {"default_policy": "quick", "rule_order": []}}))],
        }
    });
    let path = std::env::temp_dir().join(format!("piket-e2e-replay-{}.json", std::process::id()));
    std::fs::write(&path, file.to_string())?;
    restore(&b, &path).await?;

    let id = open_incident(&b, "Replay me").await?;
    b.open(&format!("/incidents/{id}?ack=1")).await?;
    b.click("I am Alice Replay").await?;
    b.wait_text(".ack-state", |t| t.contains("Acknowledged by Alice Replay")).await?;
    b.click("Resolve").await?;
    b.wait_text("ol.timeline > li:first-child", |t| t.contains("Resolved")).await?;

    b.open("/lab").await?;
    b.wait_text("#replay-policy", |t| t.contains("Alice and Bob")).await?;
    SelectElement::new(&b.field("Replay with policy").await?).await?.select_by_exact_text("Alice and Bob").await?;
    b.click("Replay incidents").await?;
    let result = b.wait_text(".lab-replay-result", |t| t.contains("1 incident replayed with Alice and Bob")).await?;
    assert!(result.contains("1 page: Alice Replay"), "as it went: {result}");
    assert!(result.contains("2 pages: Alice Replay, Bob Replay"), "with the wider policy: {result}");
    assert!(result.contains("Replay me") && result.contains("acknowledged"), "{result}");
    assert!(result.contains("1 more"), "{result}");
    no_sideways_scroll(&b).await?;
    b.driver.execute("document.querySelector('.lab-replay-result').scrollIntoView({block: 'center'})", vec![]).await?;
    crate::screens::shot(&b, "lab-replay-phone").await?;

    // The default policy replays to what happened.
    SelectElement::new(&b.field("Replay with policy").await?).await?.select_by_exact_text("The default (Alice alone)").await?;
    b.click("Replay incidents").await?;
    b.wait_text(".lab-replay-result", |t| t.contains("replayed with Alice alone") && t.contains("the same number of pages")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_the_policy_being_edited_before_saving_it() -> Result {
    let b = Browser::start().await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", std::time::Duration::from_secs(60), |t| t.contains("is loaded")).await?;
    crate::clock::open_incident(&b, "Replay a draft").await?;

    // Edit the example policy without saving it, then replay that draft from the Lab.
    b.open("/policies/example-policy").await?;
    b.wait_for(thirtyfour::By::Id("policy-name")).await?;
    b.fill("Policy name", "Draft, not saved").await?;
    b.open("/lab").await?;
    b.wait_text("#replay-policy", |t| t.contains("The draft being edited (Draft, not saved)")).await?;
    SelectElement::new(&b.field("Replay with policy").await?).await?.select_by_exact_text("The draft being edited (Draft, not saved)").await?;
    b.click("Replay incidents").await?;
    b.wait_text(".lab-replay-result", |t| t.contains("1 incident replayed with Draft, not saved")).await?;
    // Nothing was saved.
    b.open("/policies").await?;
    b.wait_text(".screen", |t| t.contains("Example team: on-call, then senior, then manager") && !t.contains("Draft, not saved")).await?;
    b.quit().await
}
