//! Entry point of the web app (built by Trunk for wasm32).

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    piket::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("piket-web is the browser app: build it with `cargo xtask serve`. The native tool is `piket`.");
    std::process::exit(2);
}
