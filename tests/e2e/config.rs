//! Configuration screens through the browser: people, a schedule, a policy and a rule made with
//! the visible labels; the path preview; the 14-day timeline's gaps; the first-run example team;
//! and typed markup shown as text.

use std::time::Duration;

use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

async fn add_person(b: &Browser, name: &str) -> Result {
    b.open("/people").await?;
    b.fill("Name", name).await?;
    b.fill("Time zone", "UTC").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains(name)).await?;
    Ok(())
}

/// Picks the option with this exact text in the `<select>` labelled `label`.
async fn choose(b: &Browser, label: &str, option: &str) -> Result {
    let select = SelectElement::new(&b.field(label).await?).await?;
    select.select_by_exact_text(option).await?;
    Ok(())
}

/// The control labelled `label` inside the fieldset whose legend is `legend` ("Level 2").
async fn field_in(b: &Browser, legend: &str, label: &str) -> Result<WebElement> {
    let xpath = format!("//fieldset[legend[normalize-space()='{legend}']]//label[normalize-space()='{label}']");
    let label_el = b.wait_for(By::XPath(xpath)).await?;
    let id = label_el.attr("for").await?.ok_or("label without `for`")?;
    Ok(b.driver.find(By::Id(id)).await?)
}

/// Sets a date or time input the way a picker does (typing into them depends on the locale).
async fn set_value(b: &Browser, element: &WebElement, value: &str) -> Result {
    b.driver
        .execute(
            "const el = arguments[0]; el.value = arguments[1]; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![element.to_json()?, serde_json::json!(value)],
        )
        .await?;
    Ok(())
}

async fn no_sideways_scroll(b: &Browser) -> Result {
    let widths: Vec<i64> = b.driver.execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![]).await?.convert()?;
    assert!(widths[0] <= widths[1], "the page scrolls sideways: {widths:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn people_schedule_policy_and_rule_through_the_screens() -> Result {
    let b = Browser::start().await?;
    for name in ["Alice", "Bob", "Carol"] {
        add_person(&b, name).await?;
    }

    // A weekly rotation.
    b.open("/schedules").await?;
    b.click("New schedule").await?;
    b.fill("Schedule name", "Primary").await?;
    b.fill("Time zone", "UTC").await?;
    choose(&b, "Add person to layer 1", "Alice").await?;
    choose(&b, "Add person to layer 1", "Bob").await?;
    set_value(&b, &b.field("Rotation starts on").await?, "2025-01-06").await?;
    choose(&b, "Rotation length", "Weekly").await?;
    assert_eq!(b.field("Handoff time").await?.value().await?.as_deref(), Some("09:00"));
    b.wait_text(".oncall-now", |t| t.contains("On call now:") && (t.contains("Alice") || t.contains("Bob"))).await?;
    b.click("Save schedule").await?;
    b.wait_text(".config .status", |t| t.contains("Saved")).await?;
    b.open("/schedules").await?;
    b.wait_text(".config-list", |t| t.contains("Primary") && t.contains("On call now")).await?;

    // A two-level policy; the preview follows the draft.
    b.open("/policies").await?;
    b.click("New policy").await?;
    b.fill("Policy name", "Night path").await?;
    choose(&b, "Add target to level 1", "Alice").await?;
    b.fill("Ack timeout (minutes)", "10").await?;
    b.click("Add level").await?;
    b.wait_for(By::XPath("//fieldset/legend[normalize-space()='Level 2']")).await?;
    choose(&b, "Add target to level 2", "Bob").await?;
    choose(&b, "Add target to level 2", "Carol").await?;
    field_in(&b, "Level 2", "Ack timeout (minutes)").await?.clear().await?;
    field_in(&b, "Level 2", "Ack timeout (minutes)").await?.send_keys("30").await?;
    let preview = b.wait_text(".path-preview", |t| t.contains("Alice") && t.contains("Bob + Carol")).await?;
    let (a, bo, c) = (preview.find("Alice").unwrap(), preview.find("Bob").unwrap(), preview.find("Carol").unwrap());
    assert!(a < bo && bo < c, "the path lists the people in order: {preview}");
    assert!(preview.contains("now") && preview.contains("+10 min"), "pages carry their times: {preview}");
    b.click("Save policy").await?;
    b.wait_text(".config .status", |t| t.contains("Saved")).await?;
    b.open("/policies").await?;
    b.wait_text(".config-list", |t| t.contains("Night path") && t.contains("default") && t.contains("Alice → Bob + Carol")).await?;

    // A refused save shows why, inline.
    b.click("New policy").await?;
    b.fill("Policy name", "No one").await?;
    b.click("Save policy").await?;
    b.wait_text("[role=alert]", |t| t.contains("a level needs at least one target")).await?;

    // A rule, and the test box.
    b.open("/rules").await?;
    b.fill("Rule name", "Security to level 2").await?;
    b.fill("Value", "security").await?;
    choose(&b, "Action", "Start at level").await?;
    b.click("Save rule").await?;
    let rules = b.wait_text(".rules-list", |t| t.contains("Security to level 2") && t.contains("start_at_level")).await?;
    assert!(rules.contains(r#"{"field":"title","contains":"security"}"#), "{rules}");
    b.fill("Test title", "Security: odd logins").await?;
    b.wait_text(".rule-test-result", |t| t.contains("Security to level 2") && t.contains("level 2") && t.contains("Bob + Carol")).await?;
    b.fill("Test title", "Disk full").await?;
    b.wait_text(".rule-test-result", |t| t.contains("No rule fires") && t.contains("pages now: Alice")).await?;

    // A second rule for the same incidents runs after the first, until it is moved up.
    b.fill("Rule name", "Security drills are noise").await?;
    b.fill("Value", "security").await?;
    choose(&b, "Action", "Suppress (page nobody)").await?;
    b.click("Save rule").await?;
    b.wait_text(".rules-list", |t| t.contains("Security drills are noise")).await?;
    let first_then = |t: &str, x: &str, y: &str| t.find(x).zip(t.find(y)).is_some_and(|(i, j)| i < j);
    b.fill("Test title", "Security: odd logins").await?;
    b.wait_text(".rule-test-result", |t| first_then(t, "Security to level 2", "Security drills are noise")).await?;
    assert!(
        b.driver.find(By::Css("button[aria-label='Move Security to level 2 up']")).await?.attr("disabled").await?.is_some(),
        "the first rule has no way up"
    );
    b.click("Move Security drills are noise up").await?;
    b.wait_text(".rules-list", |t| first_then(t, "Security drills are noise", "Security to level 2")).await?;
    b.wait_text(".rule-test-result", |t| first_then(t, "Security drills are noise", "Security to level 2")).await?;

    b.reload().await?;
    b.wait_text(".rules-list", |t| first_then(t, "Security drills are noise", "Security to level 2")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn timeline_shows_gaps_of_a_weekday_only_rotation_in_red() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    add_person(&b, "Dana").await?;
    b.open("/schedules/new").await?;
    b.fill("Schedule name", "Office hours").await?;
    b.fill("Time zone", "UTC").await?;
    choose(&b, "Add person to layer 1", "Dana").await?;
    set_value(&b, &b.field("Rotation starts on").await?, "2025-01-06").await?;
    choose(&b, "Rotation length", "Daily").await?;
    b.click("Add a window to layer 1 restrictions").await?;
    assert_eq!(b.field("From").await?.value().await?.as_deref(), Some("09:00"));

    b.wait_for(By::Css(".oncall-timeline .gap")).await?;
    let days = b.driver.find_all(By::Css(".oncall-timeline .day")).await?;
    assert_eq!(days.len(), 14);
    let gaps = b.driver.find_all(By::Css(".oncall-timeline .seg.gap")).await?;
    assert!(gaps.len() >= 14, "every night and the weekend are gaps, got {}", gaps.len());
    let red = gaps[0].css_value("background-color").await?;
    assert!(red.starts_with("rgb(179, 38, 30") || red.starts_with("rgba(179, 38, 30, 1"), "gaps are red, got {red}");
    let text = b.wait_text(".oncall-timeline", |t| t.contains("Dana")).await?;
    assert!(text.contains("gap"), "{text}");
    no_sideways_scroll(&b).await?;

    b.click("Save schedule").await?;
    b.wait_text(".config .status", |t| t.contains("Saved")).await?;
    b.reload().await?;
    b.wait_for(By::Css(".oncall-timeline .gap")).await?;
    assert_eq!(b.field("Schedule name").await?.value().await?.as_deref(), Some("Office hours"));
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn first_run_loads_the_example_team_and_removes_exactly_it() -> Result {
    let b = Browser::start().await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    // Loading and removing go record by record through the clock tab: give a busy machine time.
    let said = b.wait_text_within(".first-run-slot", Duration::from_secs(60), |t| t.contains("is loaded") || t.contains("could not")).await?;
    assert!(said.contains("is loaded"), "{said}");
    b.wait_text(".config-list", |t| t.contains("Example team: on-call, then senior, then manager") && t.contains("default")).await?;
    b.wait_text(".first-run", |t| t.contains("You are looking at the example team")).await?;

    b.open("/people").await?;
    b.wait_text(".people-list", |t| t.contains("Alice (example)") && t.contains("Dana (example)")).await?;
    b.fill("Name", "Zoe").await?;
    b.fill("Time zone", "UTC").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains("Zoe")).await?;

    b.open("/policies/example-policy").await?;
    b.wait_text(".path-preview", |t| t.contains("Carol (example)") && t.contains("Dana (example)") && t.contains("#major-incident (example)")).await?;
    b.open("/schedules").await?;
    b.wait_text(".config-list", |t| t.contains("Primary on-call (example)")).await?;
    b.open("/rules").await?;
    b.wait_text(".rules-list", |t| t.contains("Security goes straight")).await?;

    b.open("/policies").await?;
    b.click("Remove the example team").await?;
    b.wait_text_within(".screen", Duration::from_secs(60), |t| t.contains("No escalation policies yet")).await?;
    // Removal runs record by record in this page after the policies went: go to People through
    // the app's own navigation (reloading the page would cut the removal short), and wait until
    // the people are done too.
    let people = b.wait_for(By::XPath("//nav[contains(@class,'app-nav')]//a[normalize-space()='People']")).await?;
    b.tap(&people).await?;
    b.wait_text_within(".people-list", Duration::from_secs(60), |t| t.contains("Zoe") && !t.contains("(example)")).await?;
    assert_eq!(b.people_names().await?, ["Zoe"], "only the example's records were removed");
    b.open("/schedules").await?;
    b.wait_text(".screen", |t| t.contains("No on-call schedules yet")).await?;
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_markup_in_a_policy_name_renders_as_text() -> Result {
    let b = Browser::start_sized(360, 740).await?;
    add_person(&b, "Eve").await?;
    b.open("/policies/new").await?;
    let hostile = "<img src=x onerror=alert(1)>";
    b.fill("Policy name", hostile).await?;
    choose(&b, "Add target to level 1", "Eve").await?;
    b.wait_text(".path-preview", |t| t.contains("Eve")).await?;
    no_sideways_scroll(&b).await?;
    b.click("Save policy").await?;
    b.wait_text(".config .status", |t| t.contains("Saved")).await?;
    b.open("/policies").await?;
    b.wait_text(".config-list", |t| t.contains(hostile)).await?;
    let injected = b.driver.find_all(By::Css(".config-list img, .config-list script")).await?;
    assert!(injected.is_empty(), "markup typed by a user became elements");
    no_sideways_scroll(&b).await?;
    assert_eq!(b.driver.title().await?, "Piket");
    b.quit().await
}
