//! The escalation engine: Piket's functional core.
//!
//! Everything here is plain Rust. The engine never reads the clock (time is always a parameter),
//! never touches the browser (no `web_sys`, `leptos`, `wasm_bindgen`, `gloo`), and performs no I/O:
//! inputs go in, state changes and effects come out. That is what lets every escalation behaviour be a
//! fast, deterministic, native test on a virtual clock.

pub mod person;
