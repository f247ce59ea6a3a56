//! The e2e harness: a static server for `dist/` (with the single-page fallback a static host
//! gives), a chromedriver per test, and helpers that find controls by their visible names.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn dist() -> PathBuf {
    let dir = PathBuf::from(std::env::var("PIKET_DIST").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/dist").into()));
    assert!(
        dir.join("index.html").exists(),
        "{} has no index.html: build the app first (`cargo xtask test` does)",
        dir.display()
    );
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Base URL of the one static server this test process runs.
pub fn base_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let root = dist();
        let server = tiny_http::Server::http("127.0.0.1:0").expect("static server starts");
        let port = server.server_addr().to_ip().unwrap().port();
        std::thread::spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split(['?', '#']).next().unwrap_or("/").trim_start_matches('/').to_string();
                let file = safe_join(&root, &path).filter(|p| p.is_file()).unwrap_or_else(|| root.join("index.html"));
                let body = std::fs::read(&file).unwrap_or_default();
                let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type(&file).as_bytes()).unwrap();
                let _ = request.respond(tiny_http::Response::from_data(body).with_header(header));
            }
        });
        format!("http://127.0.0.1:{port}")
    })
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
        browser.set_viewport(width, height).await?;
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

    /// Opens a path of the app (e.g. `/people`) and waits for the shell to render.
    pub async fn open(&self, path: &str) -> Result {
        self.driver.goto(format!("{}{path}", base_url())).await?;
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

    pub async fn fill(&self, label: &str, text: &str) -> Result {
        let input = self.field(label).await?;
        input.clear().await?;
        if !text.is_empty() {
            input.send_keys(text).await?;
        }
        Ok(())
    }

    /// A button by its accessible name: its `aria-label`, else its text.
    pub async fn button(&self, name: &str) -> Result<WebElement> {
        let lit = xpath_literal(name);
        self.wait_for(By::XPath(format!("//button[@aria-label={lit} or (not(@aria-label) and normalize-space()={lit})]"))).await
    }

    pub async fn click(&self, name: &str) -> Result {
        self.button(name).await?.click().await?;
        Ok(())
    }

    /// Polls until `check` holds on the text of `css` (joined, whitespace-normalised), or fails
    /// with what was last seen.
    pub async fn wait_text(&self, css: &str, check: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(15);
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

fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("concat('{}')", s.replace('\'', "', \"'\", '"))
    }
}
