//! Entry point of the web app (built by Trunk for wasm32).

#[cfg(target_arch = "wasm32")]
fn main() {
    // A panic kills the wasm instance: say so on the page (the recovery page in index.html
    // offers "Export my data" and "Open without the clock"), never leave it blank.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        piket::ui::show_recovery(&info.to_string());
    }));
    piket::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("piket-web is the browser app: build it with `cargo xtask serve`. The native tool is `piket`.");
    std::process::exit(2);
}
