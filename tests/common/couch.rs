//! pouchdb-server for tests: started in memory on a free loopback port (`cargo xtask setup`
//! installs it into tools/npm), and a plain HTTP/1.1 client to talk to it. Shared by the native
//! team-sync tests and the e2e suite.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use piket::sync::{HttpResponse, SyncError};

pub struct Server {
    child: Child,
    pub port: u16,
    _dir: TempDir,
}

struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pouchdb_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PIKET_POUCHDB_SERVER") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/npm/node_modules/.bin/pouchdb-server")
}

pub fn start_server() -> Server {
    let bin = pouchdb_server_bin();
    assert!(bin.exists(), "{} is missing: `cargo xtask setup` installs pouchdb-server into tools/npm", bin.display());
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = std::env::temp_dir().join(format!("piket-pouchdb-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Its config.json and log stay in the temporary directory.
    let child = Command::new(&bin)
        .args(["--in-memory", "--host", "127.0.0.1", "--port", &port.to_string(), "--config", dir.join("config.json").to_str().unwrap()])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));
    let server = Server { child, port, _dir: TempDir(dir) };
    let started = Instant::now();
    loop {
        if let Ok(r) = http(&format!("http://127.0.0.1:{port}/"), "GET", None, 2_000) {
            if r.status == 200 {
                return server;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "pouchdb-server did not answer on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A fresh database on this server.
    pub fn create_db(&self, name: &str) -> String {
        let url = format!("{}/{name}", self.url());
        let r = http(&url, "PUT", None, 5_000).unwrap();
        assert_eq!(r.status, 201, "creating {name}: {}", r.body);
        url
    }
}

// ---------------------------------------------------------------------------------------------
// A plain HTTP/1.1 client (one connection a request)

pub fn http(url: &str, method: &str, body: Option<&str>, timeout_ms: u32) -> Result<HttpResponse, SyncError> {
    http_with(url, method, body, timeout_ms, None)
}

/// [`http`] with an `Authorization` header.
pub fn http_with(url: &str, method: &str, body: Option<&str>, timeout_ms: u32, authorization: Option<&str>) -> Result<HttpResponse, SyncError> {
    let net = |e: std::io::Error| {
        if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
            SyncError::Network("timed out".into())
        } else {
            SyncError::Network(e.to_string())
        }
    };
    let rest = url.strip_prefix("http://").expect("http only");
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let deadline = Instant::now() + Duration::from_millis(timeout_ms as u64);
    let stream = TcpStream::connect(host).map_err(net)?;
    let mut stream = Deadline { stream, deadline };
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{body}",
        body.len(),
        authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default()
    );
    stream.write_all(request.as_bytes()).map_err(net)?;
    let mut reader = BufReader::new(stream);
    // A whole-request deadline, as `fetch` with an abort signal has: pouchdb-server keeps a
    // longpoll open past its timeout, sending blank heartbeat lines.
    let mut status_line = String::new();
    reader.read_line(&mut status_line).map_err(net)?;
    let status: u16 =
        status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| SyncError::Network(format!("bad status line {status_line:?}")))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(net)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut bytes = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(net)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(net)?;
            bytes.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        bytes.resize(n, 0);
        reader.read_exact(&mut bytes).map_err(net)?;
    } else {
        reader.read_to_end(&mut bytes).map_err(net)?;
    }
    Ok(HttpResponse { status, body: String::from_utf8_lossy(&bytes).into_owned() })
}

/// A socket that gives up at a deadline for the whole answer, not per read.
struct Deadline {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for Deadline {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

impl Server {
    /// Lets pages from `origin` use the server, the CouchDB 1.x way pouchdb-server is configured.
    pub fn allow_origin(&self, origin: &str) {
        for (path, value) in [
            ("httpd/enable_cors", "true"),
            ("cors/origins", origin),
            ("cors/credentials", "true"),
            ("cors/methods", "GET, PUT, POST, HEAD, DELETE"),
            ("cors/headers", "accept, authorization, content-type, origin, referer"),
        ] {
            let body = serde_json::Value::from(value).to_string();
            let r = http(&format!("{}/_config/{path}", self.url()), "PUT", Some(&body), 5_000).unwrap();
            assert_eq!(r.status, 200, "{path}: {}", r.body);
        }
    }
}

/// A TCP relay in front of a server that can be taken down and brought back, to play a network
/// outage without losing the in-memory server's data.
pub struct Outage {
    pub port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Outage {
    pub fn start(upstream: u16) -> Outage {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = down.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if flag.load(Ordering::SeqCst) {
                    // Down: the connection is dropped unanswered, as an unreachable server's is.
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let flag = flag.clone();
                std::thread::spawn(move || relay(client, server, flag));
            }
        });
        Outage { port, down }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

fn relay(client: TcpStream, server: TcpStream, down: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let upstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                // Going down cuts open connections too (a longpoll, a request in flight).
                if down.load(std::sync::atomic::Ordering::SeqCst) || c_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = c_write.shutdown(std::net::Shutdown::Both);
    let _ = upstream.join();
}
