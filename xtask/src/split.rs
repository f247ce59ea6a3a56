//! `cargo xtask split`: Trunk's post-build hook that splits the release wasm into the first
//! screen's module and one lazily loaded module per screen.
//!
//! Trunk 0.21 has no split step, so Trunk builds as usual (cargo, wasm-bindgen, no wasm-opt) and
//! this hook then redoes the wasm from cargo's output, in the staging directory, before Trunk
//! moves it to dist/:
//!
//! 1. `wasm_split_cli_support` splits cargo's wasm (linked with `--emit-relocs`) at the
//!    `#[wasm_split]` points of `src/ui/lazy.rs`: the main module, one wasm per screen and shared
//!    chunks, plus the small JS loader that fetches them.
//! 2. wasm-bindgen binds the main module under the very name Trunk gave its own output, so
//!    index.html (which names it) stays right.
//! 3. wasm-opt `-Oz` shrinks every module.
//!
//! The lazy files go in `lazy-<hash of cargo's wasm>/`: a new build never reuses an old name, so
//! the service worker's cache can never hand a new main module an old screen.
//!
//! A build without split points (a plain `trunk build --release`, without xtask's flags) is only
//! optimised, so it still works, as one module.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::{run, Result};

/// The wasm-opt features: what Rust's wasm32-unknown-unknown target emits, all in every browser
/// Piket supports. Split modules carry no target-features section, so they are named here.
const WASM_OPT_ARGS: [&str; 7] = [
    "-Oz",
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-multivalue",
];

/// The import module wasm_split_helpers gives a split point before the splitter links it.
const PLACEHOLDER_IMPORT_MODULE: &[u8] = b"__wasm_split_placeholder__";

pub fn split(root: &Path) -> Result {
    let staging = PathBuf::from(env::var("TRUNK_STAGING_DIR").map_err(|_| "split runs as Trunk's post_build hook (TRUNK_STAGING_DIR is not set)")?);
    if env::var("TRUNK_PROFILE").as_deref() == Ok("release") {
        split_release(root, &staging)?;
    }
    // Static hosts that serve 404.html for unknown paths (GitHub Pages, Cloudflare Pages, …) then
    // open the app on deep links such as /incidents/<id>. Copied last: the split edits index.html.
    fs::copy(staging.join("index.html"), staging.join("404.html")).map_err(|e| format!("404.html: {e}"))?;
    Ok(())
}

fn split_release(root: &Path, staging: &Path) -> Result {
    let started = Instant::now();
    let (stem, bg_wasm) = trunk_output(staging)?;
    let target = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let cargo_wasm = target.join("wasm32-unknown-unknown/release/piket-web.wasm");
    let input = fs::read(&cargo_wasm).map_err(|e| format!("{}: {e}", cargo_wasm.display()))?;

    if !contains(&input, PLACEHOLDER_IMPORT_MODULE) {
        println!("xtask split: no split points in {} (built without --cfg piket_split): one module", cargo_wasm.display());
        return optimise(&bg_wasm);
    }

    let dir_name = format!("lazy-{:016x}", fnv1a(&input));
    let lazy_dir = staging.join(&dir_name);
    fs::create_dir_all(&lazy_dir).map_err(|e| format!("{}: {e}", lazy_dir.display()))?;
    let main_split = target.join("wasm32-unknown-unknown/release/piket-web_split.wasm");
    let link_name = format!("./{dir_name}/loader.js");
    let main_module = format!("../{stem}.js");
    let split = wasm_split_cli_support::transform({
        let mut opts = wasm_split_cli_support::Options::new(&input);
        opts.output_dir = staging;
        opts.main_out_path = &main_split;
        opts.link_name = &link_name;
        opts.main_module = &main_module;
        opts
    })
    .map_err(|e| format!("splitting {}: {e:?}", cargo_wasm.display()))?;

    // The splitter writes the loader where the main module imports it from; the modules it
    // fetches (relative to itself) go beside it.
    let mut modules = Vec::new();
    for path in &split.split_modules {
        let name = path.file_name().ok_or("a split module without a name")?;
        let to = lazy_dir.join(name);
        fs::rename(path, &to).map_err(|e| format!("{} → {}: {e}", path.display(), to.display()))?;
        modules.push(to);
    }

    run(Command::new("wasm-bindgen")
        .arg("--target=web")
        .arg("--keep-lld-exports")
        .arg("--no-demangle")
        .arg("--no-typescript")
        .arg(format!("--out-dir={}", staging.display()))
        .arg(format!("--out-name={stem}"))
        .arg(&main_split))?;

    optimise(&bg_wasm)?;
    optimise_all(&modules)?;
    preload_loader(staging, &stem, &link_name)?;
    let total: u64 = modules.iter().filter_map(|m| fs::metadata(m).ok()).map(|m| m.len()).sum();
    println!(
        "xtask split: main module {} KB, {} lazy modules {} KB in {dir_name}/ ({:.0} s)",
        fs::metadata(&bg_wasm).map(|m| m.len() / 1024).unwrap_or(0),
        modules.len(),
        total / 1024,
        started.elapsed().as_secs_f32()
    );
    Ok(())
}

/// The main script imports the loader statically, so the page preloads it beside the script (and
/// the service worker, which caches what index.html names, finds the lazy modules through it).
fn preload_loader(staging: &Path, stem: &str, link_name: &str) -> Result {
    let page = staging.join("index.html");
    let html = fs::read_to_string(&page).map_err(|e| format!("{}: {e}", page.display()))?;
    let base = env::var("TRUNK_PUBLIC_URL").unwrap_or_else(|_| "/".into());
    let script = format!("href=\"{base}{stem}.js\"");
    let at = html.find(&script).ok_or_else(|| format!("index.html does not name {base}{stem}.js"))?;
    let end = at + html[at..].find('>').ok_or("an unclosed link in index.html")? + 1;
    let loader = format!("\n<link rel=\"modulepreload\" href=\"{base}{}\" crossorigin=\"anonymous\">", link_name.trim_start_matches("./"));
    let html = format!("{}{loader}{}", &html[..end], &html[end..]);
    fs::write(&page, html).map_err(|e| format!("{}: {e}", page.display()))
}

/// Trunk's hashed base name (`piket-web-<hash>`) and its wasm in the staging directory.
fn trunk_output(staging: &Path) -> Result<(String, PathBuf)> {
    for entry in fs::read_dir(staging).map_err(|e| format!("{}: {e}", staging.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(stem) = name.strip_suffix("_bg.wasm") {
            if stem.starts_with("piket-web") {
                return Ok((stem.to_string(), path));
            }
        }
    }
    Err(format!("no piket-web*_bg.wasm in {}", staging.display()))
}

fn optimise(wasm: &Path) -> Result {
    run(Command::new("wasm-opt").args(WASM_OPT_ARGS).arg(wasm).arg("-o").arg(wasm))
}

/// wasm-opt over the lazy modules, one process per core (most are small: start-up dominates).
fn optimise_all(modules: &[PathBuf]) -> Result {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> Result {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(module) = modules.get(i) else { return Ok(()) };
                        let out = Command::new("wasm-opt")
                            .args(WASM_OPT_ARGS)
                            .arg(module)
                            .arg("-o")
                            .arg(module)
                            .output()
                            .map_err(|e| format!("could not start wasm-opt: {e}"))?;
                        if !out.status.success() {
                            return Err(format!("wasm-opt {}: {}", module.display(), String::from_utf8_lossy(&out.stderr)));
                        }
                    }
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| h.join().map_err(|_| "a wasm-opt worker panicked".to_string())?)
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// FNV-1a, 64 bits: a stable name for a build's lazy files (not a security measure).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference ("" and "a").
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn finds_the_placeholder_module() {
        assert!(contains(b"..\x1a__wasm_split_placeholder__\x05", PLACEHOLDER_IMPORT_MODULE));
        assert!(!contains(b"__wasm_split_placeholder", PLACEHOLDER_IMPORT_MODULE));
    }
}
