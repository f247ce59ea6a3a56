//! Every control on every screen has an accessible name, as Chromium's accessibility tree computes
//! it (`element.computedName`, switched on with the AccessibilityObjectModel feature), on a phone
//! and with real data: the example team and a live incident.

use std::time::Duration;

use thirtyfour::prelude::*;

use crate::support::{Browser, Result};

const UNNAMED: &str = r##"
    const controls = document.querySelectorAll(
      "main button, main a[href], main input:not([type=hidden]), main select, main textarea, main [role=button], main [tabindex]:not([tabindex='-1']), header button, header a[href], nav a[href]"
    );
    if (controls.length > 0 && typeof controls[0].computedName !== "string") return ["computedName is not available"];
    const out = [];
    for (const el of controls) {
      if (el.closest("[hidden], [aria-hidden=true]")) continue;
      if (el.computedName.trim() === "") {
        const what = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className ? "." + String(el.className).split(" ").join(".") : "") + (el.type ? "[type=" + el.type + "]" : "");
        out.push(what + " «" + (el.outerHTML || "").slice(0, 120) + "»");
      }
    }
    return out;
"##;

#[tokio::test(flavor = "multi_thread")]
async fn every_control_on_every_screen_has_an_accessible_name() -> Result {
    let b = Browser::start_accessible(360, 740).await?;
    b.open("/policies").await?;
    b.click("Start from an example team").await?;
    b.wait_text_within(".first-run-slot", Duration::from_secs(60), |t| t.contains("is loaded")).await?;
    let id = crate::clock::open_incident(&b, "Named controls").await?;

    // The check itself: an icon-only button with no name is caught, and a label names it.
    b.open("/incidents").await?;
    let probe: Vec<String> = b
        .driver
        .execute(
            &format!("const x = document.createElement('button'); x.id = 'probe'; document.querySelector('main').append(x); return (() => {{ {UNNAMED} }})();"),
            vec![],
        )
        .await?
        .convert()?;
    assert!(probe.iter().any(|p| p.starts_with("button#probe")), "{probe:?}");
    let named: Vec<String> = b
        .driver
        .execute(&format!("document.getElementById('probe').setAttribute('aria-label', 'Probe'); return (() => {{ {UNNAMED} }})();"), vec![])
        .await?
        .convert()?;
    assert!(!named.iter().any(|p| p.starts_with("button#probe")), "{named:?}");

    let mut unnamed = Vec::new();
    let incident = format!("/incidents/{id}");
    for path in [
        "/incidents",
        "/new",
        incident.as_str(),
        "/policies",
        "/policies/example-policy",
        "/policies/new",
        "/schedules",
        "/schedules/example-primary",
        "/schedules/new",
        "/teams",
        "/rules",
        "/people",
        "/channels",
        "/lab",
        "/settings",
    ] {
        b.open(path).await?;
        b.wait_for(By::Css("main h1")).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let found: Vec<String> = b.driver.execute(UNNAMED, vec![]).await?.convert()?;
        assert_ne!(found, ["computedName is not available"], "the accessibility feature flag did not take");
        unnamed.extend(found.into_iter().map(|f| format!("{path}: {f}")));
    }
    assert!(unnamed.is_empty(), "controls without an accessible name:\n{}", unnamed.join("\n"));
    b.quit().await
}
