//! The e2e harness: a static server for `dist/` (by default with no single-page fallback, as
//! `python3 -m http.server` or a plain S3 bucket), a chromedriver per test, and helpers that find
//! controls by their visible names.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub fn dist() -> PathBuf {
    let dir = PathBuf::from(std::env::var("PIKET_DIST").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/dist").into()));
    assert!(dir.join("index.html").exists(), "{} has no index.html: build the app first (`cargo xtask test` does)", dir.display());
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A request as the test servers see it.
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

type Handler = dyn Fn(HttpRequest) -> HttpResponse + Send + Sync;

/// A tiny HTTP/1.1 server on a loopback port that can really go away: after [`MiniServer::stop`]
/// the port refuses connections, as a host that is down does.
pub struct MiniServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl MiniServer {
    pub fn start(port: u16, handler: std::sync::Arc<Handler>) -> MiniServer {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("test server binds");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let handler = handler.clone();
                        std::thread::spawn(move || serve_connection(stream, handler));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // The listener drops here: the port closes.
        });
        MiniServer { port, stop, accept: std::sync::Mutex::new(Some(accept)) }
    }

    pub fn stop(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.accept.lock().unwrap().take() {
            let _ = t.join();
        }
    }
}

fn serve_connection(mut stream: std::net::TcpStream, handler: std::sync::Arc<Handler>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("/").to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.parse().ok()).unwrap_or(0usize);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let response = handler(HttpRequest { method, path, headers, body });
    let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", response.status, response.body.len());
    for (k, v) in &response.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&response.body);
    let _ = stream.flush();
}

/// A static server for `dist/`. Unknown paths get 404, as on the simplest hosts README names, or
/// index.html [`StaticServer::start_with_fallback`] (a host with a single-page fallback).
pub struct StaticServer {
    pub url: String,
    server: MiniServer,
}

impl StaticServer {
    pub fn start() -> StaticServer {
        Self::serve(false)
    }

    pub fn start_with_fallback() -> StaticServer {
        Self::serve_with(true, false)
    }

    /// A host that compresses: text, scripts and wasm are sent gzipped (level 6, what common
    /// servers use) to a browser that accepts it. Over plain http Chromium offers gzip, not brotli.
    pub fn start_gzip() -> StaticServer {
        Self::serve_with(false, true)
    }

    /// Like [`StaticServer::start`], but answers 503 for the screens' lazily loaded modules
    /// (`lazy-<hash>/*.wasm`) while `refuse` is set: the network fails between the first screen
    /// and the next.
    pub fn start_refusing_lazy_modules(refuse: std::sync::Arc<std::sync::atomic::AtomicBool>) -> StaticServer {
        Self::serve_refusing(false, false, Some((refuse, "")))
    }

    /// Like [`StaticServer::start_refusing_lazy_modules`], for one split point's own module only
    /// (`split_<name>.wasm`): the chunks it shares with others still load.
    pub fn start_refusing_split(refuse: std::sync::Arc<std::sync::atomic::AtomicBool>, name: &'static str) -> StaticServer {
        Self::serve_refusing(false, false, Some((refuse, name)))
    }

    fn serve(fallback: bool) -> StaticServer {
        Self::serve_with(fallback, false)
    }

    fn serve_with(fallback: bool, gzip: bool) -> StaticServer {
        Self::serve_refusing(fallback, gzip, None)
    }

    /// `refuse`: while its flag is set, lazily loaded modules are answered 503 (only
    /// `split_<name>.wasm` when a name is given).
    fn serve_refusing(fallback: bool, gzip: bool, refuse: Option<(std::sync::Arc<std::sync::atomic::AtomicBool>, &'static str)>) -> StaticServer {
        let root = dist();
        let server = MiniServer::start(
            0,
            std::sync::Arc::new(move |request: HttpRequest| {
                let path = request.path.split(['?', '#']).next().unwrap_or("/").trim_start_matches('/').to_string();
                let refused = refuse.as_ref().is_some_and(|(flag, name)| {
                    flag.load(std::sync::atomic::Ordering::SeqCst) && (name.is_empty() || path.ends_with(&format!("/split_{name}.wasm")))
                });
                if refused && path.starts_with("lazy-") && path.ends_with(".wasm") {
                    return HttpResponse { status: 503, headers: vec![("Content-Type".into(), "text/plain".into())], body: b"503 unavailable".to_vec() };
                }
                // A directory answers with its index.html, as every static host does (`/ack/`).
                let file = if path.is_empty() {
                    Some(root.join("index.html"))
                } else {
                    safe_join(&root, &path).map(|p| if p.is_dir() { p.join("index.html") } else { p }).filter(|p| p.is_file())
                };
                let Some(file) = file.or_else(|| fallback.then(|| root.join("index.html"))) else {
                    return HttpResponse { status: 404, headers: vec![("Content-Type".into(), "text/plain".into())], body: b"404 Not Found".to_vec() };
                };
                let body = std::fs::read(&file).unwrap_or_default();
                let mut headers = vec![("Content-Type".to_string(), content_type(&file).to_string())];
                let accepts = request.header("accept-encoding").is_some_and(|a| a.contains("gzip"));
                if gzip && accepts && content_type(&file) != "image/png" {
                    headers.push(("Content-Encoding".into(), "gzip".into()));
                    return HttpResponse { status: 200, headers, body: gzipped(&body) };
                }
                HttpResponse { status: 200, headers, body }
            }),
        );
        StaticServer { url: format!("http://127.0.0.1:{}", server.port), server }
    }

    /// Stops serving: the address refuses connections from now on (the network is "cut").
    pub fn stop(&self) {
        self.server.stop();
    }
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// Base URL of the shared static server of this test process.
pub fn base_url() -> &'static str {
    static SERVER: OnceLock<StaticServer> = OnceLock::new();
    &SERVER.get_or_init(StaticServer::start).url
}

fn safe_join(root: &Path, path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.split('/').any(|part| part == "..") {
        return None;
    }
    Some(root.join(path))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript",
        "wasm" => "application/wasm",
        "css" => "text/css",
        "svg" => "image/svg+xml",
        "json" | "webmanifest" => "application/json",
        "png" => "image/png",
        _ => "application/octet-stream",
    }
}

/// One headless Chromium with a fresh profile (so a fresh IndexedDB), and its chromedriver.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    profile: PathBuf,
}

impl Browser {
    pub async fn start() -> Result<Browser> {
        Self::start_sized(1280, 900).await
    }

    /// A browser whose window is `width`×`height` CSS pixels (360×740 is a phone).
    pub async fn start_sized(width: u32, height: u32) -> Result<Browser> {
        Self::launch(width, height, false, &[]).await
    }

    /// A phone: 360×740 with touch, so `(pointer: coarse)` matches as on a real one.
    pub async fn start_phone() -> Result<Browser> {
        Self::launch(360, 740, false, &["piket:phone"]).await
    }

    /// A browser in which the user has already allowed notifications.
    pub async fn start_with_notifications() -> Result<Browser> {
        Self::launch(1280, 900, true, &[]).await
    }

    /// A browser whose pages can read an element's accessible name as Chromium computes it
    /// (`element.computedName`).
    pub async fn start_accessible(width: u32, height: u32) -> Result<Browser> {
        Self::launch(width, height, false, &["--enable-blink-features=ComputedAccessibilityInfo,AccessibilityObjectModel", "--force-renderer-accessibility"])
            .await
    }

    async fn launch(width: u32, height: u32, notifications: bool, extra: &[&str]) -> Result<Browser> {
        let port = free_port();
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver could not start ({e}); `cargo xtask test` installs it"))?;
        let profile = std::env::temp_dir().join(format!("piket-e2e-{}-{port}", std::process::id()));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium")?;
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--window-size={width},{height}"),
        ] {
            caps.add_arg(arg)?;
        }
        let phone = extra.contains(&"piket:phone");
        for arg in extra.iter().filter(|a| !a.starts_with("piket:")) {
            caps.add_arg(arg)?;
        }
        if phone {
            caps.add_experimental_option(
                "mobileEmulation",
                serde_json::json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0, "touch": true}}),
            )?;
        }
        if notifications {
            caps.add_experimental_option("prefs", serde_json::json!({"profile.default_content_setting_values.notifications": 1}))?;
        }
        let server = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let driver = loop {
            match WebDriver::new(&server, caps.clone()).await {
                Ok(d) => break d,
                Err(e) if Instant::now() > deadline => return Err(format!("no WebDriver session: {e}").into()),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let browser = Browser { driver, chromedriver, profile };
        if !phone {
            browser.set_viewport(width, height).await?;
        }
        Ok(browser)
    }

    /// Makes the page's viewport exactly `width`×`height` (the window adds chrome around it).
    async fn set_viewport(&self, width: u32, height: u32) -> Result {
        let inner = self.driver.execute("return [window.innerWidth, window.innerHeight]", vec![]).await?;
        let inner: Vec<i64> = inner.convert()?;
        let rect = self.driver.get_window_rect().await?;
        let w = rect.width + (width as i64 - inner[0]);
        let h = rect.height + (height as i64 - inner[1]);
        self.driver.set_window_rect(0, 0, w as u32, h as u32).await?;
        Ok(())
    }

    pub async fn quit(mut self) -> Result {
        self.driver.clone().quit().await?;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
        Ok(())
    }

    /// Opens a screen of the app (e.g. `/people`, opened as `/#/people`, the form of every link
    /// Piket writes) and waits for the shell to render.
    pub async fn open(&self, path: &str) -> Result {
        self.open_at(base_url(), path).await
    }

    /// Opens a screen of the app served at `base`. `/`, `/?…`, `/#…` and `/ack/…` are opened as
    /// given.
    pub async fn open_at(&self, base: &str, path: &str) -> Result {
        let path =
            if path == "/" || path.starts_with("/?") || path.starts_with("/#") || path.starts_with("/ack") { path.to_string() } else { format!("/#{path}") };
        self.driver.goto(format!("{base}{path}")).await?;
        self.wait_for(By::Css("nav.app-nav a")).await?;
        Ok(())
    }

    pub async fn reload(&self) -> Result {
        self.driver.refresh().await?;
        self.wait_for(By::Css("nav.app-nav a")).await?;
        Ok(())
    }

    pub async fn wait_for(&self, by: By) -> Result<WebElement> {
        Ok(self.driver.query(by).wait(Duration::from_secs(15), Duration::from_millis(50)).first().await?)
    }

    /// The input a `<label>` with this exact text points at.
    pub async fn field(&self, label: &str) -> Result<WebElement> {
        let label_el = self.wait_for(By::XPath(format!("//label[normalize-space()={}]", xpath_literal(label)))).await?;
        let id = label_el.attr("for").await?.ok_or_else(|| format!("label {label:?} has no `for`"))?;
        Ok(self.driver.find(By::Id(id)).await?)
    }

    /// Chooses the option with `value` in the select labelled `label`, as a user would tap it.
    pub async fn choose(&self, label: &str, value: &str) -> Result {
        self.until_it_holds(&format!("{label}: the option {value:?} could not be chosen"), || async {
            let select = self.field(label).await?;
            select.find(By::Css(format!("option[value={}]", css_literal(value)))).await?.click().await?;
            Ok(select.prop("value").await?.unwrap_or_default() == value)
        })
        .await
    }

    /// Types `text` into the field labelled `label` (emptied first).
    pub async fn fill(&self, label: &str, text: &str) -> Result {
        self.until_it_holds(&format!("{label}: the field would not keep {text:?}"), || async {
            let input = self.field(label).await?;
            input.clear().await?;
            if !text.is_empty() {
                input.send_keys(text).await?;
            }
            Ok(input.prop("value").await?.unwrap_or_default() == text)
        })
        .await
    }

    /// Runs `attempt` (look a field up, act on it, say whether it took) until it holds, for five
    /// seconds at most. A screen that re-renders just after it showed (a page that opened before
    /// its data settled) can swap a field out from under the typing: then it is looked up again.
    async fn until_it_holds<F, Fut>(&self, failure: &str, attempt: F) -> Result
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool>>,
    {
        for _ in 0..20 {
            if let Ok(true) = attempt().await {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        match attempt().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(failure.into()),
            Err(e) => Err(e),
        }
    }

    /// A button by its accessible name: its `aria-label`, else its text.
    pub async fn button(&self, name: &str) -> Result<WebElement> {
        let lit = xpath_literal(name);
        self.wait_for(By::XPath(format!("//button[@aria-label={lit} or (not(@aria-label) and normalize-space()={lit})]"))).await
    }

    /// Clicks a button by its accessible name (see [`Browser::tap`]).
    pub async fn click(&self, name: &str) -> Result {
        let button = self.button(name).await?;
        self.tap(&button).await
    }

    /// Clicks an element scrolled to the middle of the screen first (WebDriver would scroll it to
    /// the top edge, under the sticky header).
    pub async fn tap(&self, element: &WebElement) -> Result {
        self.driver.execute("arguments[0].scrollIntoView({block: 'center'})", vec![element.to_json()?]).await?;
        element.click().await?;
        Ok(())
    }

    /// Polls until `check` holds on the text of `css` (joined, whitespace-normalised), or fails
    /// with what was last seen.
    pub async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> Result<String> {
        self.wait_text_within(css, Duration::from_secs(15), check).await
    }

    /// [`Browser::wait_text`] with a longer (or shorter) patience.
    pub async fn wait_text_within(&self, css: &str, within: Duration, check: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let mut texts = Vec::new();
            for el in self.driver.find_all(By::Css(css)).await? {
                texts.push(el.text().await.unwrap_or_default());
            }
            let seen = texts.join("\n");
            if check(&seen) {
                return Ok(seen);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting on {css:?}; last saw {seen:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Names shown in the People list, in order.
    pub async fn people_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for el in self.driver.find_all(By::Css(".people-list .person-name")).await? {
            names.push(el.text().await?);
        }
        Ok(names)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
    }
}

fn css_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("concat('{}')", s.replace('\'', "', \"'\", '"))
    }
}

/// The app route an address shows (`http://h/#/incidents/42?ack=1` → `/incidents/42`).
pub fn route_of(url: &url::Url) -> String {
    url.fragment().unwrap_or("").split('?').next().unwrap_or("").to_string()
}

/// A driver on the in-memory store with `world`'s people and policies saved at `at`, and
/// `default_policy` as the default: the start of every backup an e2e test builds natively.
pub fn team_driver(
    world: piket::engine::world::World,
    default_policy: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> piket::runtime::driver::Driver<piket::storage::MemoryStore> {
    use pollster::block_on;
    let mut d = block_on(piket::runtime::driver::Driver::load(piket::storage::MemoryStore::new())).unwrap();
    for p in world.people {
        block_on(d.save(p, at)).unwrap();
    }
    for p in world.policies {
        block_on(d.save(p, at)).unwrap();
    }
    block_on(d.set_default_policy(Some(default_policy.into()), at)).unwrap();
    d
}

/// Sends everything due at `at`, each answered 200, so nothing is left pending.
pub fn deliver_due(d: &mut piket::runtime::driver::Driver<piket::storage::MemoryStore>, at: chrono::DateTime<chrono::Utc>) {
    use pollster::block_on;
    let sends = d.due_sends("https://piket.example", at);
    block_on(d.claim(&sends, at)).unwrap();
    for s in &sends {
        let ok = piket::runtime::outbox::Outcome::Http(piket::delivery::AttemptOutcome::status(200));
        block_on(d.record_attempt(&s.key, s.route, &ok, 5, at)).unwrap();
    }
}
