//! People through every layer: the form, validation, IndexedDB, and reload.

use crate::support::{Browser, Result};

#[tokio::test(flavor = "multi_thread")]
async fn add_reload_edit_and_remove_a_person() -> Result {
    let b = Browser::start().await?;
    b.open("/people").await?;
    b.wait_text(".empty-state", |t| t.contains("No one here yet")).await?;

    b.fill("Name", "Alice Example").await?;
    b.fill("Time zone", "Europe/Amsterdam").await?;
    b.fill("ntfy topic", "piket-alice").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains("Alice Example") && t.contains("ntfy: piket-alice")).await?;
    assert_eq!(b.field("Name").await?.value().await?.as_deref(), Some(""), "the form clears after saving");

    b.fill("Name", "Bob Example").await?;
    b.fill("Time zone", "America/New_York").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains("Bob Example")).await?;

    b.reload().await?;
    b.wait_text(".people-list", |t| t.contains("Alice Example") && t.contains("America/New_York")).await?;
    assert_eq!(b.people_names().await?, ["Alice Example", "Bob Example"]);

    b.click("Edit Bob Example").await?;
    b.fill("Name", "Robert Example").await?;
    b.click("Save changes").await?;
    b.wait_text(".people-list", |t| t.contains("Robert Example") && !t.contains("Bob Example")).await?;

    b.click("Remove Alice Example").await?;
    b.click("Confirm removing Alice Example").await?;
    b.wait_text(".people-list", |t| !t.contains("Alice Example")).await?;

    b.reload().await?;
    b.wait_text(".people-list", |t| t.contains("Robert Example")).await?;
    assert_eq!(b.people_names().await?, ["Robert Example"]);
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_person_shows_an_inline_error_and_saves_nothing() -> Result {
    let b = Browser::start().await?;
    b.open("/people").await?;

    b.fill("Name", "   ").await?;
    b.click("Add person").await?;
    b.wait_text("#person-name-error", |t| t == "Name is required.").await?;
    assert_eq!(b.field("Name").await?.attr("aria-invalid").await?.as_deref(), Some("true"));

    b.fill("Name", "Carol").await?;
    b.fill("Time zone", "UTC").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains("Carol")).await?;

    b.fill("Name", "carol ").await?;
    b.click("Add person").await?;
    b.wait_text("#person-name-error", |t| t.contains("Someone named “Carol” already exists.")).await?;

    b.fill("Name", "Dave").await?;
    b.fill("Time zone", "Moon/Base").await?;
    b.click("Add person").await?;
    b.wait_text("#person-tz-error", |t| t.contains("“Moon/Base” is not a known time zone")).await?;

    b.reload().await?;
    b.wait_text(".people-list", |t| t.contains("Carol")).await?;
    assert_eq!(b.people_names().await?, ["Carol"], "nothing invalid was saved");
    b.quit().await
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_markup_renders_as_text() -> Result {
    let b = Browser::start().await?;
    b.open("/people").await?;
    let hostile = "<img src=x onerror=alert(1)>";
    b.fill("Name", hostile).await?;
    b.fill("Time zone", "UTC").await?;
    b.fill("Notes", "<script>document.title='owned'</script>").await?;
    b.click("Add person").await?;
    b.wait_text(".people-list", |t| t.contains(hostile)).await?;
    assert_eq!(b.people_names().await?, [hostile]);
    let images = b.driver.find_all(thirtyfour::By::Css(".people-list img, .people-list script")).await?;
    assert!(images.is_empty(), "markup typed by a user became elements");
    assert_eq!(b.driver.title().await?, "Piket");
    b.quit().await
}
