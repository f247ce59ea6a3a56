//! `cargo xtask`: Piket's build, serve and test entry points.
//!
//! Every command first makes sure the machine has what it needs (the wasm target, Trunk,
//! wasm-bindgen-cli at the version Cargo.lock pins, wasm-opt from npm's binaryen, pouchdb-server for
//! the team-sync tests, Chromium and
//! its driver) and installs only what is missing, from crates.io, npm and Debian. Nothing is
//! downloaded from anywhere else: Trunk runs with `offline = true` and finds the tools on PATH.
//!
//! Tool versions live in `Trunk.toml` `[tools]`; the wasm-bindgen one is checked against Cargo.lock.

mod split;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

const TRUNK_VERSION: &str = "0.21.14";
const BINARYEN_NPM_VERSION: &str = "132";
/// The CouchDB-protocol server the team-sync tests replicate through (in memory, on loopback).
const POUCHDB_SERVER_NPM_VERSION: &str = "4.2.0";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = project_root();
    env::set_current_dir(&root).expect("cd to the project root");
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(&root, Needs::all()),
        Some("build") => setup(&root, Needs::build()).and_then(|_| build_release(&root)),
        Some("serve") => serve(&root, &args[1..]),
        Some("test") => test(&root, &args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("size") => setup(&root, Needs::build()).and_then(|_| build_release(&root)).and_then(|_| size(&root)),
        // Trunk's post-build hook (Trunk.toml), not a command for people.
        Some("split") => split::split(&root),
        Some("bench-web") => setup(&root, Needs::all()).and_then(|_| bench_web()),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 \x20 serve [--port N]   build the release bundle and serve it on http://127.0.0.1:8080\n\
                 \x20 test [--only gates|native|fuzz|browser|e2e]\n\
                 \x20                    run every test level: native, a short fuzz round, in-browser (wasm-bindgen-test), end to end\n\
                 \x20 fuzz [--cases N] [--seed S]\n\
                 \x20                    throw N (default 100 000) random and mutated inputs at backups, the engine and intake;\n\
                 \x20                    fails on any panic\n\
                 \x20 build              build the release bundle into dist/\n\
                 \x20 size               build, then print what the first screen and /ack/ load (raw, gzip, brotli);\n\
                 \x20                    fails when either is over its budget\n\
                 \x20 setup              install whatever is missing, and nothing else"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the project").to_path_buf()
}

/// What a command needs installed.
struct Needs {
    wasm: bool,
    browser: bool,
    /// pouchdb-server, for the team-sync tests.
    couch: bool,
}

impl Needs {
    fn all() -> Needs {
        Needs { wasm: true, browser: true, couch: true }
    }
    fn build() -> Needs {
        Needs { wasm: true, browser: false, couch: false }
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up

fn setup(root: &Path, needs: Needs) -> Result {
    let started = Instant::now();
    prepend_path(&root.join("tools/npm/node_modules/.bin"));
    prepend_path(&cargo_bin_dir());
    ensure_lint_tools()?;
    if needs.wasm {
        ensure_wasm_target()?;
    }
    // The installs are independent and each is mostly one long compile or download, so on a
    // fresh machine they run side by side: Trunk and wasm-bindgen-cli build in parallel (each
    // cargo install has its own target directory) while npm and apt fetch.
    let mut jobs: Vec<(&str, InstallJob)> = Vec::new();
    if needs.wasm {
        jobs.push(("Trunk", Box::new(ensure_trunk)));
        jobs.push(("wasm-bindgen-cli", Box::new(|| ensure_wasm_bindgen(root))));
    }
    if needs.wasm || needs.couch {
        // One npm job: two npm installs into the same prefix at once would race on its lock file.
        let (wasm, couch) = (needs.wasm, needs.couch);
        jobs.push(("npm tools (wasm-opt, pouchdb-server)", Box::new(move || ensure_npm_tools(root, wasm, couch))));
    }
    if needs.browser {
        jobs.push(("Chromium", Box::new(ensure_chromium)));
    }
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(name, job)| {
                let handle = s.spawn(move || {
                    let t = Instant::now();
                    let r = job();
                    (r, t.elapsed().as_secs_f32())
                });
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| match h.join() {
                Ok((Ok(()), secs)) => {
                    if secs > 1.0 {
                        println!("xtask: {name} ready ({secs:.0} s)");
                    }
                    None
                }
                Ok((Err(e), _)) => Some(format!("{name}: {e}")),
                Err(_) => Some(format!("{name}: the install thread panicked")),
            })
            .collect()
    });
    if !failures.is_empty() {
        return Err(failures.join("; "));
    }
    println!("xtask: tools ready ({:.1} s)", started.elapsed().as_secs_f32());
    Ok(())
}

/// One install of `setup`, run on its own thread.
type InstallJob<'a> = Box<dyn FnOnce() -> Result + Send + 'a>;

fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

fn prepend_path(dir: &Path) {
    let old = env::var_os("PATH").unwrap_or_default();
    let mut paths: Vec<PathBuf> = vec![dir.to_path_buf()];
    paths.extend(env::split_paths(&old).filter(|p| p != dir));
    env::set_var("PATH", env::join_paths(paths).expect("PATH joins"));
}

/// First line a tool prints for `--version`, or None when it is not installed.
fn version_of(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string())
}

fn run(cmd: &mut Command) -> Result {
    println!("xtask: $ {}", describe(cmd));
    let status = cmd.status().map_err(|e| format!("could not start {}: {e}", describe(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(cmd)))
    }
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// rustfmt and clippy for the gates (a minimal rustup profile has neither).
fn ensure_lint_tools() -> Result {
    for (tool, component) in [("rustfmt", "rustfmt"), ("clippy-driver", "clippy")] {
        let present = Command::new(tool).arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
        if !present {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
        .unwrap_or(false);
    if !installed {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

fn ensure_trunk() -> Result {
    let want = format!("trunk {TRUNK_VERSION}");
    if version_of("trunk", "--version").as_deref() != Some(want.as_str()) {
        println!("xtask: installing Trunk {TRUNK_VERSION} from crates.io (about 8 minutes on 2 cores, beside wasm-bindgen-cli)");
        run(Command::new("cargo").args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))?;
    }
    Ok(())
}

/// The wasm-bindgen version Cargo.lock resolved; the CLI must match it exactly.
fn locked_wasm_bindgen(root: &Path) -> Result<String> {
    let lock = fs::read_to_string(root.join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.trim().strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

/// A `key = "value"` from Trunk.toml's `[tools]` table.
fn trunk_tool_version(root: &Path, key: &str) -> Result<String> {
    let text = fs::read_to_string(root.join("Trunk.toml")).map_err(|e| format!("Trunk.toml: {e}"))?;
    let mut in_tools = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_tools = line == "[tools]";
        } else if in_tools {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    return Ok(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    Err(format!("Trunk.toml [tools] has no {key}"))
}

fn ensure_wasm_bindgen(root: &Path) -> Result {
    let locked = locked_wasm_bindgen(root)?;
    let pinned = trunk_tool_version(root, "wasm_bindgen")?;
    if pinned != locked {
        return Err(format!("Trunk.toml [tools] wasm_bindgen = \"{pinned}\" but Cargo.lock resolved wasm-bindgen {locked}: make them equal"));
    }
    let want = format!("wasm-bindgen {locked}");
    let have_cli = version_of("wasm-bindgen", "--version").as_deref() == Some(want.as_str());
    let have_runner = version_of("wasm-bindgen-test-runner", "--version").is_some_and(|v| v.ends_with(&locked));
    if !(have_cli && have_runner) {
        println!("xtask: installing wasm-bindgen-cli {locked} from crates.io (about 4 minutes, beside Trunk)");
        // Not --locked: its lock file pins a webpki-roots release the registry no longer has.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &locked, "--force"]))?;
    }
    Ok(())
}

fn ensure_npm_tools(root: &Path, wasm: bool, couch: bool) -> Result {
    let mut wanted = Vec::new();
    if wasm {
        let pinned = trunk_tool_version(root, "wasm_opt")?;
        if pinned != format!("version_{BINARYEN_NPM_VERSION}") {
            return Err(format!("Trunk.toml [tools] wasm_opt = \"{pinned}\" but xtask installs binaryen {BINARYEN_NPM_VERSION}"));
        }
        let local = root.join("tools/npm/node_modules/.bin/wasm-opt");
        // Debian's binaryen (108) breaks the externref table: the page stays blank. npm's is right.
        if !version_of(local.to_str().unwrap(), "--version").is_some_and(|v| v.contains(&pinned)) {
            wanted.push(format!("binaryen@{BINARYEN_NPM_VERSION}"));
        }
    }
    if couch && npm_installed_version(root, "pouchdb-server").as_deref() != Some(POUCHDB_SERVER_NPM_VERSION) {
        wanted.push(format!("pouchdb-server@{POUCHDB_SERVER_NPM_VERSION}"));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    if version_of("npm", "--version").is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    println!("xtask: installing {} from npm into tools/npm", wanted.join(" and "));
    // npm runs no install scripts here: pouchdb-server's optional native stores (leveldown,
    // sqlite3) would fetch prebuilt binaries from GitHub; the tests use its in-memory store.
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--ignore-scripts", "--prefix", "tools/npm"]).args(&wanted);
    run(&mut npm)
}

/// The version of an npm package installed in tools/npm, from its package.json.
fn npm_installed_version(root: &Path, package: &str) -> Option<String> {
    let text = fs::read_to_string(root.join("tools/npm/node_modules").join(package).join("package.json")).ok()?;
    let at = text.find("\"version\"")?;
    let rest = &text[at + 9..];
    let start = rest.find('"')? + 1;
    let end = rest[start..].find('"')? + start;
    Some(rest[start..end].to_string())
}

fn ensure_chromium() -> Result {
    let have_browser = version_of("chromium", "--version").is_some();
    let have_driver = version_of("chromedriver", "--version").is_some();
    if !(have_browser && have_driver) {
        apt_install(&["chromium", "chromium-driver"])?;
    }
    Ok(())
}

fn apt_install(packages: &[&str]) -> Result {
    // The installs run side by side (see `setup`); dpkg takes one at a time.
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = APT.lock().unwrap_or_else(|e| e.into_inner());
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    let wrap = |args: &[&str]| {
        let mut c = if is_root { Command::new(args[0]) } else { Command::new("sudo") };
        if is_root {
            c.args(&args[1..]);
        } else {
            c.args(args);
        }
        c.env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    println!("xtask: installing {} from Debian", packages.join(" "));
    run(&mut wrap(&["apt-get", "update"]))?;
    let mut args = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    run(&mut wrap(&args))
}

// ---------------------------------------------------------------------------------------------
// Build, serve, size

fn build_release(root: &Path) -> Result {
    let started = Instant::now();
    run(split_build(Command::new("trunk").args(["build", "--release"]).current_dir(root)))?;
    println!("xtask: release bundle in dist/ ({:.0} s)", started.elapsed().as_secs_f32());
    Ok(())
}

/// Trunk's release build with the screens' split points on (`--cfg piket_split`) and the
/// relocations the splitter needs (`--emit-relocs`); Trunk's post-build hook (`cargo xtask split`)
/// then splits. Set for the release profile only: the wasm tests build the same code unsplit.
/// The variable replaces `.cargo/config.toml`'s wasm rustflags, so it repeats them (a test checks).
fn split_build(trunk: &mut Command) -> &mut Command {
    trunk.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", SPLIT_RUSTFLAGS)
}

const SPLIT_RUSTFLAGS: &str = "--cfg erase_components --cfg piket_split -Clink-args=--emit-relocs";

fn serve(root: &Path, args: &[String]) -> Result {
    let mut port: u16 = 8080;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--port" => {
                port = it.next().and_then(|p| p.parse().ok()).ok_or("--port needs a number")?;
            }
            other => return Err(format!("serve: unknown argument {other}")),
        }
    }
    setup(root, Needs::build())?;
    println!("\nxtask: building the release bundle; Piket will be served at http://127.0.0.1:{port}/  (Ctrl-C stops it)\n");
    // Trunk builds the release bundle into dist/, then serves it with the single-page fallback,
    // so deep links survive a reload.
    run(split_build(&mut Command::new("trunk"))
        .args(["serve", "--release", "--no-autoreload", "--address", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(root))
}

/// The first screen's budget: index.html and every wasm, JS and CSS file it names or its scripts
/// import, brotli. A ratchet: lower it whenever the bundle shrinks, so that nothing grows it back
/// unnoticed. (The goal was 450 KB; see README, Size.) It was 969 KB before the wasm was split
/// into the first screen's module and lazily loaded ones (xtask/src/split.rs), 532 KB after; then
/// 438.7 KB with compact time-zone data and the clock tab's work in a module of its own; then
/// 404.6 KB with the zones from 1970 on and the tab's wiring in a module of its own.
const FIRST_LOAD_BUDGET_KB: f64 = 410.0;
/// Everything the phone's acknowledgement page loads, brotli.
const ACK_BUDGET_KB: f64 = 60.0;

/// One file of the bundle with its sizes: raw, gzip -9, brotli 11.
struct Sized {
    name: String,
    sizes: [usize; 3],
}

fn sized(dist: &Path, name: &str) -> Result<Sized> {
    let bytes = fs::read(dist.join(name)).map_err(|e| format!("{}: {e}", dist.join(name).display()))?;
    Ok(Sized { name: name.to_string(), sizes: [bytes.len(), gzip_len(&bytes), brotli_len(&bytes)] })
}

/// The files a page loads before it can show anything: the page itself, then every wasm, JS and
/// CSS file of `dir` that the page names (Trunk writes each one's hashed name into it).
fn first_screen(dist: &Path, page: &str) -> Result<Vec<Sized>> {
    let html = fs::read_to_string(dist.join(page)).map_err(|e| format!("{}: {e}", dist.join(page).display()))?;
    let dir = Path::new(page).parent().unwrap_or(Path::new(""));
    let mut names: Vec<String> = Vec::new();
    for entry in fs::read_dir(dist.join(dir)).map_err(|e| format!("{}: {e}", dist.join(dir).display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("").to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "wasm" | "js" | "css") && html.contains(&file) {
            names.push(dir.join(&file).to_string_lossy().into_owned());
        }
    }
    // A script's static imports load with it (the split loader, `lazy-<hash>/loader.js`, is
    // imported by the main script); the lazy modules it fetches later do not count.
    let mut i = 0;
    while i < names.len() {
        if names[i].ends_with(".js") {
            let script = fs::read_to_string(dist.join(&names[i])).map_err(|e| format!("{}: {e}", names[i]))?;
            let here = Path::new(&names[i]).parent().unwrap_or(Path::new("")).to_path_buf();
            for import in static_imports(&script) {
                let path = normalise(&here.join(import));
                if dist.join(&path).is_file() && !names.contains(&path) {
                    names.push(path);
                }
            }
        }
        i += 1;
    }
    names.sort();
    let mut files = vec![sized(dist, page)?];
    for name in names {
        files.push(sized(dist, &name)?);
    }
    Ok(files)
}

/// The relative module paths of a script's `import … from './x.js'` statements.
fn static_imports(script: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in script.lines() {
        let line = line.trim_start();
        if !line.starts_with("import ") {
            continue;
        }
        if let Some(rest) = line.split(" from ").nth(1) {
            let quoted = rest.trim().trim_end_matches(';');
            let path = quoted.trim_matches(|c| c == '\'' || c == '"');
            if path.starts_with("./") || path.starts_with("../") {
                found.push(path.to_string());
            }
        }
    }
    found
}

/// `a/./b/../c` as `a/c`, with `/` separators (paths inside dist/).
fn normalise(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                parts.pop();
            }
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

fn print_files(title: &str, files: &[Sized]) -> [usize; 3] {
    println!("\n{title}");
    println!("  {:<50} {:>10} {:>10} {:>10}", "file", "raw", "gzip -9", "brotli 11");
    let mut totals = [0usize; 3];
    for f in files {
        for (t, s) in totals.iter_mut().zip(f.sizes) {
            *t += s;
        }
        println!("  {:<50} {:>10} {:>10} {:>10}", f.name, kb(f.sizes[0]), kb(f.sizes[1]), kb(f.sizes[2]));
    }
    println!("  {:<50} {:>10} {:>10} {:>10}", "total", kb(totals[0]), kb(totals[1]), kb(totals[2]));
    totals
}

/// Prints what the first screen and `/ack/` load, and fails when either is over its budget.
fn size(root: &Path) -> Result {
    let dist = root.join("dist");
    let app = print_files("First screen (index.html and what it loads):", &first_screen(&dist, "index.html")?);
    // The phone's acknowledgement page is all a responder loads.
    let ack = print_files("The /ack/ page (everything it loads):", &first_screen(&dist, "ack/index.html")?);
    let checks = [("first screen", app[2], FIRST_LOAD_BUDGET_KB), ("/ack/", ack[2], ACK_BUDGET_KB)];
    println!();
    let mut over = Vec::new();
    for (what, brotli, budget) in checks {
        let figure = brotli as f64 / 1024.0;
        let verdict = if figure <= budget { "within" } else { "OVER" };
        println!("xtask size: {what}: {figure:.1} KB brotli, {verdict} its budget of {budget:.0} KB");
        if figure > budget {
            over.push(format!("{what} is {figure:.1} KB brotli, over its budget of {budget:.0} KB"));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("size budget: {}", over.join("; ")))
    }
}

fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory").len()
}

fn brotli_len(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("brotli into memory");
    out.len()
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// Cases in `cargo xtask fuzz` unless `--cases` says otherwise.
const DEFAULT_FUZZ_CASES: u64 = 100_000;
/// Cases in the short fuzz round of `cargo xtask test`.
const TEST_FUZZ_CASES: u64 = 5_000;

/// `examples/fuzz.rs` under the `fuzz` profile (release with unwinding panics, so each one is
/// caught and counted).
fn fuzz_command(cases: u64, seed: Option<u64>) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.args(["run", "--profile", "fuzz", "--example", "fuzz", "--", "--cases", &cases.to_string()]);
    if let Some(seed) = seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    cmd
}

fn fuzz(root: &Path, args: &[String]) -> Result {
    let usage = "usage: cargo xtask fuzz [--cases N] [--seed S]";
    let (mut cases, mut seed) = (DEFAULT_FUZZ_CASES, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number =
            |flag: &str| -> Result<u64> { it.next().and_then(|n| n.replace('_', "").parse().ok()).ok_or(format!("fuzz: {flag} needs a number; {usage}")) };
        match a.as_str() {
            "--cases" => cases = number("--cases")?,
            "--seed" => seed = Some(number("--seed")?),
            other => return Err(format!("fuzz: unknown argument {other}; {usage}")),
        }
    }
    // Native only: no wasm target, Trunk or browser needed.
    setup(root, Needs { wasm: false, browser: false, couch: false })?;
    let started = Instant::now();
    run(&mut fuzz_command(cases, seed)).map_err(|e| format!("{e}: a case panicked (see the summary above) or the fuzzer could not run"))?;
    println!("xtask: fuzz round passed ({:.0} s)", started.elapsed().as_secs_f32());
    Ok(())
}

/// The fuzzer's last line: `fuzz: <cases> cases, <panics> panics (backups <c>/<p>, engine <c>/<p>,
/// intake <c>/<p>) in <secs> s`.
#[derive(Debug, PartialEq)]
struct FuzzSummary {
    cases: u64,
    panics: u64,
    /// (target, cases, panics)
    targets: Vec<(String, u64, u64)>,
}

fn parse_fuzz_summary(line: &str) -> Option<FuzzSummary> {
    let rest = line.trim().strip_prefix("fuzz: ")?;
    let (cases, rest) = rest.split_once(" cases, ")?;
    let (panics, rest) = rest.split_once(" panics (")?;
    let (targets, rest) = rest.split_once(") in ")?;
    rest.strip_suffix(" s")?.parse::<f64>().ok()?;
    let targets = targets
        .split(", ")
        .map(|t| {
            let (name, counts) = t.split_once(' ')?;
            let (c, p) = counts.split_once('/')?;
            Some((name.to_string(), c.parse().ok()?, p.parse().ok()?))
        })
        .collect::<Option<Vec<(String, u64, u64)>>>()?;
    Some(FuzzSummary { cases: cases.parse().ok()?, panics: panics.parse().ok()?, targets })
}

/// The fuzz round as checks for the tally: one per target that ran, passed when none of its cases
/// panicked.
fn fuzz_counts(stdout: &str) -> (usize, usize) {
    let Some(summary) = stdout.lines().rev().find_map(parse_fuzz_summary) else { return (0, 0) };
    let ran = summary.targets.iter().filter(|(_, cases, _)| *cases > 0);
    ran.fold((0, 0), |(passed, failed), (_, _, panics)| if *panics == 0 { (passed + 1, failed) } else { (passed, failed + 1) })
}

// ---------------------------------------------------------------------------------------------
// Tests

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    levels: Vec<String>,
}

impl Tally {
    fn summary(&self) -> String {
        format!("xtask test: {} passed, {} failed ({})", self.passed, self.failed, self.levels.join(", "))
    }
}

/// The e2e test that prints the throttled phone's first-load figure.
const PHONE_FIGURE_TEST: &str = "first_load::a_throttled_phone_gets_the_first_screen_and_the_figure_is_printed";

/// The test levels, in the order they run.
const LEVELS: [&str; 5] = ["gates", "native", "fuzz", "browser", "e2e"];

fn test(root: &Path, args: &[String]) -> Result {
    let only = match args {
        [] => None,
        [flag, level] if flag == "--only" && LEVELS.contains(&level.as_str()) => Some(level.as_str()),
        _ => return Err("test: usage: cargo xtask test [--only gates|native|fuzz|browser|e2e]".into()),
    };
    let wants = |level: &str| only.is_none_or(|o| o == level);
    if matches!(only, Some("native")) {
        setup(root, Needs { wasm: false, browser: false, couch: true })?;
    } else if matches!(only, Some("fuzz")) {
        setup(root, Needs { wasm: false, browser: false, couch: false })?;
    } else {
        setup(root, Needs::all())?;
    }
    let mut tally = Tally::default();
    let outcome = (|| -> Result {
        if wants("gates") {
            gates(&mut tally)?;
        }
        if wants("native") {
            level(&mut tally, "native", Command::new("cargo").args(["test", "--workspace", "--all-targets"]))?;
        }
        if wants("fuzz") {
            level_counting(&mut tally, "fuzz", &mut fuzz_command(TEST_FUZZ_CASES, None), fuzz_counts)?;
        }
        if wants("browser") {
            level(&mut tally, "browser", Command::new("cargo").args(["test", "--target", "wasm32-unknown-unknown", "--test", "browser"]))?;
        }
        if wants("e2e") {
            build_release(root)?;
            size_check(&mut tally, root)?;
            // The phone's first-load figure first and on its own: beside other tests' browsers
            // it would measure this machine's load (it read 4.5–5.5 s so, 3.7–3.9 s alone).
            let e2e = |filter: &[&str]| {
                let mut c = Command::new("cargo");
                c.args(["test", "--features", "e2e", "--test", "e2e", "--"]).args(filter).env("PIKET_DIST", root.join("dist"));
                c
            };
            // `--nocapture`: the figure is the test's output, which libtest hides when it passes.
            level(&mut tally, "e2e (phone figure, alone)", &mut e2e(&["--exact", PHONE_FIGURE_TEST, "--nocapture"]))?;
            level(&mut tally, "e2e", &mut e2e(&["--test-threads=2", "--skip", PHONE_FIGURE_TEST]))?;
        }
        Ok(())
    })();
    println!("\n{}", tally.summary());
    outcome
}

/// The size budget of the release bundle just built, as one check in the summary.
fn size_check(tally: &mut Tally, root: &Path) -> Result {
    println!("\nxtask: ── size budget ──");
    let result = size(root);
    match &result {
        Ok(()) => tally.passed += 1,
        Err(_) => tally.failed += 1,
    }
    tally.levels.push(format!("size: {}", if result.is_ok() { "within budget" } else { "OVER budget" }));
    result
}

/// The gates, before any test: formatting, and clippy with warnings as errors on the native
/// targets and on wasm32 (the app, its libraries and the in-browser tests). Each counts as one
/// check in the summary.
fn gates(tally: &mut Tally) -> Result {
    println!("\nxtask: ── gates ──");
    let started = Instant::now();
    let checks: [(&str, &[&str]); 3] = [
        ("cargo fmt --check", &["fmt", "--all", "--check"]),
        ("clippy (native)", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
        (
            "clippy (wasm32)",
            &[
                "clippy",
                "--target",
                "wasm32-unknown-unknown",
                "--lib",
                "--bin",
                "piket-web",
                "--test",
                "browser",
                "--test",
                "browser_bench",
                "--",
                "-D",
                "warnings",
            ],
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, args) in checks {
        let mut cmd = Command::new("cargo");
        cmd.args(args);
        println!("xtask: $ {}", describe(&cmd));
        let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
        if ok {
            passed += 1;
        } else {
            failed += 1;
            println!("xtask: gate failed: {name}");
        }
    }
    tally.passed += passed;
    tally.failed += failed;
    tally.levels.push(format!("gates: {passed} passed, {failed} failed in {:.0} s", started.elapsed().as_secs_f32()));
    if failed > 0 {
        return Err("gates failed (formatting or clippy): fix them first".into());
    }
    Ok(())
}

/// Runs one level, echoes its output, and adds libtest's "N passed; M failed" lines to the tally.
fn level(tally: &mut Tally, name: &str, cmd: &mut Command) -> Result {
    level_counting(tally, name, cmd, libtest_counts)
}

/// Runs one level, echoes its output, and adds what `count` reads in it (passed, failed) to the tally.
fn level_counting(tally: &mut Tally, name: &str, cmd: &mut Command, count: fn(&str) -> (usize, usize)) -> Result {
    println!("\nxtask: ── {name} tests ──");
    println!("xtask: $ {}", describe(cmd));
    let started = Instant::now();
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("could not start {name} tests: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    let (passed, failed) = count(&stdout);
    tally.passed += passed;
    tally.failed += failed;
    tally.levels.push(format!("{name}: {passed} passed, {failed} failed in {:.0} s", started.elapsed().as_secs_f32()));
    if !out.status.success() {
        return Err(format!("{name} tests failed"));
    }
    if passed == 0 {
        return Err(format!("{name} tests ran nothing"));
    }
    Ok(())
}

/// Passed and failed tests in libtest's "test result: ok. N passed; M failed; …" lines.
fn libtest_counts(stdout: &str) -> (usize, usize) {
    let (mut passed, mut failed) = (0, 0);
    for line in stdout.lines() {
        if let Some(rest) = line.trim().strip_prefix("test result: ") {
            passed += count_before(rest, " passed");
            failed += count_before(rest, " failed");
        }
    }
    (passed, failed)
}

/// In "ok. 12 passed; 0 failed; …", the number before `label`.
fn count_before(text: &str, label: &str) -> usize {
    text.split(';')
        .find_map(|part| part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ").strip_suffix(label.trim_start()).map(str::trim))
        .and_then(|n| n.split_whitespace().last()?.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_build_keeps_every_wasm_rustflag_of_the_cargo_config() {
        let config = fs::read_to_string(project_root().join(".cargo/config.toml")).unwrap();
        let line = config.lines().find(|l| l.trim_start().starts_with("rustflags")).expect("wasm rustflags in .cargo/config.toml");
        let flags: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
        assert!(!flags.is_empty(), "{line}");
        assert!(SPLIT_RUSTFLAGS.contains(&flags.join(" ")), "{SPLIT_RUSTFLAGS:?} lacks {flags:?}");
    }

    #[test]
    fn a_scripts_static_imports_count_with_it() {
        let glue = "import * as __wbg_star0 from './lazy-0123/loader.js';\nlet wasm;\nconst x = 'import y from \"./not.js\"';\nimport { initSync } from \"../piket-web-1.js\";";
        assert_eq!(static_imports(glue), vec!["./lazy-0123/loader.js".to_string(), "../piket-web-1.js".to_string()]);
        assert_eq!(normalise(Path::new("lazy-1/../piket-web-1.js")), "piket-web-1.js");
        assert_eq!(normalise(Path::new("./lazy-1/loader.js")), "lazy-1/loader.js");
    }

    #[test]
    fn counts_libtest_summaries() {
        let cases = [
            ("ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s", 12, 0),
            ("FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out", 3, 2),
            ("ok. 0 passed; 0 failed; 0 ignored", 0, 0),
        ];
        for (line, p, f) in cases {
            assert_eq!((count_before(line, " passed"), count_before(line, " failed")), (p, f), "{line}");
        }
    }

    #[test]
    fn reads_the_fuzz_summary_line() {
        let line = "fuzz: 5000 cases, 3 panics (backups 1667/0, engine 1667/3, intake 1666/0) in 2.4 s";
        let expected =
            FuzzSummary { cases: 5000, panics: 3, targets: vec![("backups".into(), 1667, 0), ("engine".into(), 1667, 3), ("intake".into(), 1666, 0)] };
        assert_eq!(parse_fuzz_summary(line), Some(expected));
        for not_a_summary in [
            "fuzz: 5000 cases, seed 1592651810, 2 thread(s) (set-up 0.0 s)",
            "fuzz: 5000 cases, 0 panics (backups 1667/0, engine x/0) in 2.4 s",
            "fuzz: 5000 cases, 0 panics (backups 1667/0) in soon",
            "test result: ok. 12 passed; 0 failed",
            "",
        ] {
            assert_eq!(parse_fuzz_summary(not_a_summary), None, "{not_a_summary}");
        }
    }

    #[test]
    fn a_fuzz_round_counts_one_check_per_target() {
        let out = "fuzz: 5000 cases, seed 1, 2 thread(s) (set-up 0.0 s)\n\
                   fuzz: speed per thread: backups 1100/s\n\
                   fuzz: 5000 cases, 3 panics (backups 1667/0, engine 1667/3, intake 1666/0) in 2.4 s\n";
        assert_eq!(fuzz_counts(out), (2, 1));
        let clean = "fuzz: 9 cases, 0 panics (backups 3/0, engine 3/0, intake 3/0) in 0.1 s";
        assert_eq!(fuzz_counts(clean), (3, 0));
        let one_target = "fuzz: 9 cases, 0 panics (backups 0/0, engine 9/0, intake 0/0) in 0.1 s";
        assert_eq!(fuzz_counts(one_target), (1, 0));
        assert_eq!(fuzz_counts("fuzz: HANG: case 7 (backups) has run for over 120 s"), (0, 0), "no summary: nothing ran");
    }

    #[test]
    fn the_first_screen_is_the_page_and_what_it_names() {
        let dist = env::temp_dir().join(format!("piket-size-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dist);
        fs::create_dir_all(dist.join("ack")).unwrap();
        fs::write(
            dist.join("index.html"),
            r#"<link rel="modulepreload" href="/app-1a.js"><link rel="preload" href="/app-1a_bg.wasm"><link href="/style-9f.css">"#,
        )
        .unwrap();
        for (name, len) in [("app-1a.js", 10), ("app-1a_bg.wasm", 5000), ("style-9f.css", 40), ("sw.js", 700), ("old-0b_bg.wasm", 9000)] {
            fs::write(dist.join(name), vec![b'x'; len]).unwrap();
        }
        fs::write(dist.join("ack/index.html"), "<script>inline</script>").unwrap();
        let names = |page| first_screen(&dist, page).unwrap().into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(names("index.html"), ["index.html", "app-1a.js", "app-1a_bg.wasm", "style-9f.css"]);
        assert_eq!(names("ack/index.html"), ["ack/index.html"]);
        let wasm = first_screen(&dist, "index.html").unwrap().into_iter().find(|f| f.name.ends_with(".wasm")).unwrap();
        assert_eq!(wasm.sizes[0], 5000);
        assert!(wasm.sizes[2] < 100, "brotli squeezes 5000 equal bytes: {:?}", wasm.sizes);
        let _ = fs::remove_dir_all(&dist);
    }

    #[test]
    fn trunk_pins_the_locked_wasm_bindgen() {
        let root = project_root();
        assert_eq!(trunk_tool_version(&root, "wasm_bindgen").unwrap(), locked_wasm_bindgen(&root).unwrap());
        assert_eq!(trunk_tool_version(&root, "wasm_opt").unwrap(), format!("version_{BINARYEN_NPM_VERSION}"));
    }
}

/// Runs a command, echoing and returning its standard output.
fn captured(cmd: &mut Command) -> Result<String> {
    println!("xtask: $ {}", describe(cmd));
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).output().map_err(|e| format!("could not start {}: {e}", describe(cmd)))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{text}");
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("`{}` failed ({})", describe(cmd), out.status))
    }
}

/// The native figure (criterion, release profile) and the browser's (release wasm in headless
/// Chromium) for one tick over 10 000 open incidents with a minute's backlog due.
fn bench_web() -> Result {
    const NAME: &str = "tick: 10k open incidents, one minute of deadlines due";
    let native = captured(Command::new("cargo").args([
        "bench",
        "--bench",
        "engine",
        "--",
        "--output-format",
        "bencher",
        "--warm-up-time",
        "1",
        "--measurement-time",
        "5",
        NAME,
    ]))?;
    let native_ms = native_ns(&native, NAME).ok_or("bench-web: no criterion figure for the tick in the output above")? / 1e6;
    let wasm =
        captured(Command::new("cargo").args(["test", "--release", "--target", "wasm32-unknown-unknown", "--test", "browser_bench", "--", "--nocapture"]))?;
    let wasm_ms = wasm_ms(&wasm).ok_or("bench-web: the browser printed no figure (see above)")?;
    let ratio = wasm_ms / native_ms;
    println!("\nbench-web: {NAME}: native {native_ms:.3} ms, wasm in Chromium {wasm_ms:.3} ms: {ratio:.2}× (goal ≤ 3×)");
    Ok(())
}

/// `test <name> ... bench:   2,612,345 ns/iter (+/- 1,234)` → nanoseconds.
fn native_ns(output: &str, name: &str) -> Option<f64> {
    let line = output.lines().find(|l| l.starts_with("test ") && l.contains(name) && l.contains("ns/iter"))?;
    let figure = line.split("bench:").nth(1)?.split("ns/iter").next()?;
    figure.trim().replace(',', "").parse().ok()
}

/// `bench-web: tick: … : 5.123 ms in wasm` → milliseconds.
fn wasm_ms(output: &str) -> Option<f64> {
    let line = output.lines().find(|l| l.contains("bench-web: ") && l.contains("ms in wasm"))?;
    line.rsplit(": ").next()?.split(" ms").next()?.trim().parse().ok()
}

#[cfg(test)]
mod bench_web_tests {
    use super::*;

    #[test]
    fn reads_both_figures() {
        let native = "test tick: 10k open incidents, one minute of deadlines due ... bench:     2,612,345 ns/iter (+/- 1,234)\n";
        assert_eq!(native_ns(native, "one minute of deadlines due"), Some(2_612_345.0));
        assert_eq!(native_ns(native, "one second"), None);
        let wasm = "console.log div contained:\n    bench-web: tick: 10000 open incidents, one minute of deadlines due (1821 effects): 5.125 ms in wasm\n";
        assert_eq!(wasm_ms(wasm), Some(5.125));
        assert_eq!(wasm_ms("nothing"), None);
    }
}
