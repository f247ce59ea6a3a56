//! Piket: incident escalation that runs entirely in the browser.
pub mod engine;
