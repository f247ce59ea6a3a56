//! `cargo xtask fuzz`: random and mutated data thrown at Piket's entry points; every panic is
//! caught, counted and shown.
//!
//! ```sh
//! cargo run --profile fuzz --example fuzz -- --cases 100000 [--seed S] [--target backups|engine|intake]
//!                                            [--threads T] [--case K]
//! ```
//!
//! The `fuzz` profile is the release profile with `panic = "unwind"`: each case runs inside
//! `catch_unwind` with a silent panic hook that records the message and location, so a panic is
//! counted and the run goes on. Nothing shrinks and nothing stops early. Cases run on every core
//! (`--threads`), each case on one thread.
//!
//! How the cases are split: case `k` goes to target `k % 3` (backups, engine, intake), so each gets
//! a third. Within a target:
//! - **backups** (`storage::backup::parse_backup`): seeds are `examples/example-team.json` (34 %),
//!   and backups exported from a `Driver` on `MemoryStore` with live incidents (paged,
//!   acknowledged with reminders, snoozed, at a checkpoint, suppressed, resolved, with delivery
//!   attempts and the reply channel on): a small one (50 %) and a full one (16 %). 40 % get 1–4
//!   type-keeping mutations (numbers near their value, plain strings, timestamps moved to year 1,
//!   9999 or chrono's ends, enum tags, counters set to 10 000 or u32::MAX, swapped ids,
//!   duplicated or reordered array items), 40 % 1–4 of any kind (also deleted keys, changed
//!   types, unknown keys, markup, 100 KB strings, grafted subtrees), 8 % text damage (cuts,
//!   splices, duplicate keys), 12 % are backup-shaped files built from random parts. Every
//!   accepted file is restored as the app would (commit the batch into a fresh store,
//!   `Driver::load`; should that fail, `Driver::import`, which is what the app runs, is called),
//!   ticked at `now` (then `due_sends` and four delivery attempts with random outcomes, a
//!   server's `Retry-After` included, and retries) and at `now + 1 h`; then each incident is
//!   acknowledged and resolved. One case in 100 also ticks at `now + 40 days` and is exported (the
//!   expensive part: weeks of reminders, ~70 ms). A tick that would catch up more than 100 000
//!   ack reminders (a reminder timer moved back to 1893) is not run: the case is counted as set
//!   aside and reported, not as a panic.
//! - **engine**: 1–24 random inputs (every `Input` kind, existing and unknown ids and people,
//!   odd titles, snoozes to odd times) interleaved with ticks, at times mostly forward, sometimes
//!   backwards, sometimes days ahead, in one case in 25 (pure engine; 1 in 200 through the
//!   driver) once years ahead, and in one case in 10 at an end of time (year 1, 9999, chrono's
//!   first and last days). The world has several policies (levels, repeat, checkpoints that
//!   proceed, skip or stop, ack reminders, time windows), schedules across odd zones, rules and a
//!   maintenance window. One case in 4 goes through a `Driver<MemoryStore>` (`dispatch`, `tick`,
//!   then `due_sends` and delivery attempts: about six times the cost), the others through the
//!   pure `Engine` (`handle`, `handle_timeout`, `poll_timeout`).
//! - **intake** (`intake::*`): 45 % mutated PagerDuty v2 / Alertmanager v4 payloads (as JSON), 10 %
//!   mutated payload text, 8 % random JSON (one case in 300 instead a payload near or over the
//!   1 MiB limit with thousands of links or alerts), 25 % mutated intake links (`/new?title=…`),
//!   8 % timestamps (`parse_timestamp`), 4 % the small helpers. One accepted payload or link in 4
//!   is then handed to an `Engine` (its inputs, then a tick).
//!
//! Each case draws from its own ChaCha generator seeded with `(seed, k)`, so `--case K` replays
//! exactly one case, printing its whole input, what the parser said and a backtrace. A case that
//! runs for more than a minute, or makes the process hold more than 3 GiB, is reported (counted as
//! a panic of its target) and ends the run. The last line is the summary other tools read:
//! `fuzz: <cases> cases, <panics> panics (backups <c>/<p>, engine <c>/<p>, intake <c>/<p>) in <secs> s`.
//! The exit code is 1 when anything panicked.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeDelta, TimeZone, Utc};
use piket::delivery::AttemptOutcome;
use piket::engine::escalation::{Engine, Input, ReassignTo};
use piket::engine::format::parse_world;
use piket::engine::id::{IncidentId, PersonId};
use piket::engine::incident::{Actor, IncidentDetails, Priority, Severity, Status};
use piket::engine::world::World;
use piket::intake;
use piket::reply::ReplySettings;
use piket::runtime::driver::Driver;
use piket::runtime::outbox::{DeliverySettings, Outcome};
use piket::storage::backup::parse_backup;
use piket::storage::{Batch, MemoryStore, Store};
use pollster::block_on;
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{json, Map, Value};

const TARGETS: [&str; 3] = ["backups", "engine", "intake"];
/// A case running longer than this is reported as a hang, and the run stops.
const HANG_AFTER: StdDuration = StdDuration::from_secs(60);
/// A process holding more memory than this stops the run, blaming the case that has run longest
/// (a catch-up of millions of deadlines once took 21 GB before the system killed it).
const MEMORY_LIMIT: u64 = 3 << 30;
const GIB: f64 = (1u64 << 30) as f64;

/// Resident memory of this process (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

// ---------------------------------------------------------------------------------------------
// Command line

struct Args {
    cases: u64,
    seed: u64,
    target: Option<usize>,
    threads: usize,
    case: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { cases: 100_000, seed: 0x5eed_f022, target: None, threads: std::thread::available_parallelism().map_or(1, |n| n.get()), case: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--cases" => args.cases = value("--cases")?.parse().map_err(|e| format!("--cases: {e}"))?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--threads" => args.threads = value("--threads")?.parse::<usize>().map_err(|e| format!("--threads: {e}"))?.max(1),
            "--case" => args.case = Some(value("--case")?.parse().map_err(|e| format!("--case: {e}"))?),
            "--target" => {
                let t = value("--target")?;
                args.target = Some(TARGETS.iter().position(|n| *n == t).ok_or(format!("--target: one of {}", TARGETS.join(", ")))?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// One case's generator: ChaCha seeded with the run's seed and the case number.
struct Gen(TestRng);

impl Gen {
    fn new(seed: u64, case: u64) -> Gen {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&case.to_le_bytes());
        bytes[16..24].copy_from_slice(b"piketfuz");
        Gen(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }
    fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    /// 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.u64() % n.max(1)
    }
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// true with probability 1/n.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
    /// true with probability pct %.
    fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.u64() % ((hi - lo) as u64 + 1)) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Values the generators draw from

const WORDS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "sam",
    "erin",
    "nobody",
    "inc-1",
    "inc-2",
    "major",
    "quick",
    "payments",
    "windowed",
    "primary",
    "hourly",
    "sre",
    "ops",
    "war-room",
    "critical",
    "security",
    "breach",
    "production",
    "staging",
    "db",
    "batch",
    "k1",
    "k2",
    "sev1",
    "SEV2",
    "p3",
    "info",
    "resolved",
    "firing",
    "trigger",
    "resolve",
    "acknowledge",
    "4",
    "true",
    "yes",
    "automation",
    "example-alice",
    "example-policy",
    "example-primary",
    "world",
    "reply",
    "delivery",
    "reply-state",
];

/// Enum words from every format, so a tag is swapped for another real one (or a near miss).
const TAGS: &[&str] = &[
    "sev1",
    "sev2",
    "sev3",
    "sev4",
    "SEV1",
    "sev5",
    "urgent",
    "high",
    "normal",
    "low",
    "new",
    "triage",
    "acknowledged",
    "investigating",
    "mitigating",
    "resolved",
    "paging",
    "awaiting_checkpoint",
    "snoozed",
    "held",
    "stopped",
    "done",
    "pending",
    "delivered",
    "unverified",
    "failed",
    "skipped",
    "notification",
    "ntfy",
    "webhook",
    "channel",
    "critical",
    "war_room",
    "leadership",
    "comms",
    "retro",
    "daily",
    "weekly",
    "weekdays",
    "weekends",
    "proceed",
    "skip",
    "stop",
    "ignore",
    "exclude",
    "only",
    "opened",
    "paged",
    "posted",
    "escalated",
    "level_skipped",
    "loop_started",
    "escalation_stopped",
    "checkpoint_waiting",
    "ack_reminder",
    "snoozed",
    "note",
    "put",
    "delete",
    "clear",
    "automation",
    "generic",
    "slack",
    "teams",
    "discord",
    "service",
    "dedup_key",
    "",
    "Paging",
    "unknown",
];

const TIMES: &[&str] = &[
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:01Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999999Z",
    "+10000-01-01T00:00:00Z",
    "+262142-12-31T23:59:59Z",
    "+262142-12-31T23:59:59-23:59",
    "+262143-12-31T23:59:59Z",
    "+262143-12-31T23:59:59-01:00",
    "-262143-01-01T00:00:00+01:00",
    "-262144-01-01T00:00:00Z",
    "-0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2038-01-19T03:14:08Z",
    "2106-02-07T06:28:16Z",
    "2025-03-30T01:30:00+01:00",
    "2025-10-26T02:30:00+02:00",
    "2025-03-10T02:00:00.999999999Z",
    "2016-12-31T23:59:60Z",
    "2025-03-10T02:00:00+23:59",
    "2025-03-10T02:00:00-23:59",
    "2025-02-29T00:00:00Z",
    "2025-03-10T02:00:00",
    "2025-03-10",
    "2015-07-17T08:42:58.315+0000",
];

const DURATIONS: &[&str] = &["0", "0s", "-5m", "1s", "30s", "10m", "1h30m", "720h", "721h", "30d", "999999999h", "9223372036854775807s", "1e9", "NaN", "m", ""];

fn markup(g: &mut Gen) -> String {
    g.pick(&["<b>bold</b>", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "a<b", "</", "<!--x-->", "<?xml?>", "< b", "1 <2"]).to_string()
}

fn unicode(g: &mut Gen, max: usize) -> String {
    const POOL: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '-',
        '_',
        '/',
        '%',
        '&',
        '=',
        '?',
        '#',
        '+',
        '"',
        '\\',
        '\'',
        '\n',
        '\t',
        '\r',
        '\0',
        '\u{7f}',
        'é',
        'ß',
        'ø',
        '中',
        '文',
        '🚨',
        '🔥',
        '\u{202e}',
        '\u{200b}',
        '\u{feff}',
        '\u{301}',
        '\u{10ffff}',
        '\u{fffd}',
        'İ',
        'ǅ',
        'ﬃ',
    ];
    let n = g.index(max + 1);
    (0..n).map(|_| *g.pick(POOL)).collect()
}

fn huge(g: &mut Gen) -> String {
    match g.below(4) {
        0 => "x".repeat(100_000),
        1 => "é".repeat(50_000),
        2 => "🚨".repeat(25_000),
        _ => "word ".repeat(g.range(100, 30_000) as usize),
    }
}

/// A string of any kind: words, ids, dates, lengths, markup, unicode, blanks, 100 KB.
fn any_string(g: &mut Gen) -> String {
    match g.below(20) {
        0 => String::new(),
        1 => " \t ".into(),
        2..=5 => g.pick(WORDS).to_string(),
        6 => g.pick(TAGS).to_string(),
        7 => g.pick(TIMES).to_string(),
        8 => g.pick(DURATIONS).to_string(),
        9 => markup(g),
        10..=12 => unicode(g, 24),
        13 => {
            if g.one_in(4) {
                huge(g)
            } else {
                "y".repeat(g.range(490, 520) as usize)
            }
        }
        14 => g
            .pick(&["https://grafana.example/d/1", "http://x", "https://", "javascript:alert(1)", "HTTPS://A.EXAMPLE/ b", "ftp://x.example", "//x.example"])
            .to_string(),
        15 => g.range(-5, 5).to_string(),
        16 => g.pick(&["18446744073709551616", "4294967295", "-9223372036854775808", "1e400", "0x10", "00", "-0"]).to_string(),
        17 => format!("{}-{}", g.pick(WORDS), g.below(1000)),
        _ => {
            let mut s = g.pick(WORDS).to_string();
            s.push_str(&unicode(g, 6));
            s
        }
    }
}

fn any_number(g: &mut Gen, big: bool) -> Value {
    let n = if big { g.below(12) + 8 } else { g.below(20) };
    match n {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(1),
        3 => json!(2),
        4 => json!(g.range(0, 100)),
        5 => json!(0.5),
        6 => json!(-0.0),
        7 => json!(1e-300),
        8 => json!(255),
        9 => json!(65_536),
        10 => json!(u32::MAX),
        11 => json!(u32::MAX as u64 + 1),
        12 => json!(i64::MAX),
        13 => json!(i64::MIN),
        14 => json!(u64::MAX),
        15 => json!(1e300),
        16 => json!(-1e300),
        17 => json!(1e19),
        18 => json!(i32::MAX),
        _ => json!(g.u64() >> g.below(64)),
    }
}

fn any_scalar(g: &mut Gen) -> Value {
    match g.below(8) {
        0 => Value::Null,
        1 => Value::Bool(g.one_in(2)),
        2 | 3 => any_number(g, false),
        4 => json!([]),
        5 => json!({}),
        _ => Value::String(any_string(g)),
    }
}

/// A random JSON tree whose keys come from `keys` (so it reaches past "unknown field").
fn random_value(g: &mut Gen, keys: &[&str], depth: u32) -> Value {
    if depth == 0 || g.one_in(3) {
        return any_scalar(g);
    }
    if g.one_in(3) {
        let n = g.below(4);
        Value::Array((0..n).map(|_| random_value(g, keys, depth - 1)).collect())
    } else {
        let n = g.below(5);
        let mut map = Map::new();
        for _ in 0..n {
            let key = if g.one_in(8) { any_string(g) } else { g.pick(keys).to_string() };
            map.insert(key, random_value(g, keys, depth - 1));
        }
        Value::Object(map)
    }
}

/// `s` cut to at most 300 characters, control characters escaped.
fn shorten(s: &str) -> String {
    let escape = |part: &str| part.chars().flat_map(char::escape_debug).collect::<String>();
    let chars = s.chars().count();
    if chars <= 120 {
        let all = escape(s);
        if all.chars().count() <= 300 {
            return all;
        }
    }
    let head: String = escape(&s.chars().take(200).collect::<String>()).chars().take(200).collect();
    let tail_raw: String = s.chars().skip(chars.saturating_sub(40)).collect();
    let tail = escape(&tail_raw);
    let tail: String = tail.chars().skip(tail.chars().count().saturating_sub(60)).collect();
    format!("{head}…({chars} chars)…{tail}")
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("a valid constant").with_timezone(&Utc)
}

// ---------------------------------------------------------------------------------------------
// JSON mutation

/// Where things are in a seed document, by kind, as JSON pointers.
#[derive(Default)]
struct Paths {
    all: Vec<String>,
    numbers: Vec<String>,
    counters: Vec<String>,
    strings: Vec<String>,
    times: Vec<String>,
    ids: Vec<String>,
    tags: Vec<String>,
    objects: Vec<String>,
    arrays: Vec<String>,
}

const COUNTER_KEYS: &[&str] = &[
    "level",
    "loop",
    "repeats_used",
    "reminders_sent",
    "alert_count",
    "seq",
    "rev",
    "times",
    "from_level",
    "start_at_level",
    "attempts",
    "latency_ms",
    "status",
    "deadline_ms",
    "retry_limit_secs",
    "piket_backup",
    "schema",
    "at_least",
    "within",
    "days",
    "hours",
    "accepted",
    "escalate_faster",
    "ack_timeout",
    "resolution_timeout",
    "timeout",
    "ack_reminder",
    "escalate_if_status_unchanged",
    "truncatedAlerts",
    "version",
];

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Paths {
    fn of(doc: &Value) -> Paths {
        let mut ids = Vec::new();
        collect_ids(doc, &mut ids);
        let mut paths = Paths::default();
        paths.walk(doc, String::new(), "", &ids);
        paths
    }

    fn walk(&mut self, v: &Value, path: String, key: &str, ids: &[String]) {
        match v {
            Value::Number(_) => {
                if COUNTER_KEYS.contains(&key) {
                    self.counters.push(path.clone());
                }
                self.numbers.push(path.clone());
            }
            Value::String(s) => {
                if DateTime::parse_from_rfc3339(s).is_ok() || intake::parse_timestamp(s).is_some() {
                    self.times.push(path.clone());
                } else if ids.contains(s) {
                    self.ids.push(path.clone());
                } else if TAGS.contains(&s.as_str()) {
                    self.tags.push(path.clone());
                }
                self.strings.push(path.clone());
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, format!("{path}/{i}"), key, ids);
                }
                self.arrays.push(path.clone());
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.walk(item, format!("{path}/{}", escape_pointer(k)), k, ids);
                }
                self.objects.push(path.clone());
            }
            _ => {}
        }
        self.all.push(path);
    }
}

fn collect_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                if let (true, Some(s)) = (k == "id" || k == "key" || k == "fingerprint" || k == "dedup_key", item.as_str()) {
                    if !out.iter().any(|o| o == s) {
                        out.push(s.to_string());
                    }
                }
                collect_ids(item, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_ids(i, out)),
        _ => {}
    }
}

/// A valid document to mutate.
struct Seed {
    name: &'static str,
    text: String,
    value: Value,
    paths: Paths,
    /// When a restore of it runs (backups only).
    now: DateTime<Utc>,
}

impl Seed {
    fn new(name: &'static str, text: String, now: DateTime<Utc>) -> Seed {
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("seed {name} is not JSON: {e}"));
        let paths = Paths::of(&value);
        Seed { name, text, value, paths, now }
    }
}

fn parent_and_key(path: &str) -> Option<(&str, String)> {
    let (parent, key) = path.rsplit_once('/')?;
    Some((parent, key.replace("~1", "/").replace("~0", "~")))
}

/// Sets a timestamp `delta` away from what it was (or a fixed odd time).
fn moved_time(g: &mut Gen, old: &str) -> String {
    if g.one_in(2) {
        return g.pick(TIMES).to_string();
    }
    let Ok(t) = DateTime::parse_from_rfc3339(old) else { return g.pick(TIMES).to_string() };
    let delta = match g.below(6) {
        0 => Duration::seconds(g.range(-120, 120)),
        1 => Duration::hours(g.range(-48, 48)),
        2 => Duration::days(g.range(-400, 400)),
        3 => Duration::days(365 * g.range(100, 7000)),
        4 => Duration::days(-365 * g.range(100, 2000)),
        _ => Duration::nanoseconds(g.range(-1_000_000_000, 1_000_000_000)),
    };
    match t.checked_add_signed(delta) {
        Some(t) => t.with_timezone(&Utc).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        None => g.pick(TIMES).to_string(),
    }
}

/// A number of the same kind as `old` (a whole number stays whole and not negative), so it
/// still fits the field: 0, 1, one more, a thousand times more, or u32's largest.
fn nearby_number(g: &mut Gen, old: &Value) -> Value {
    match old.as_u64() {
        Some(n) => json!(*g.pick(&[0, 1, n.saturating_add(1), n.saturating_mul(1000), u32::MAX as u64, u32::MAX as u64 - 1, 10_000])),
        None => {
            let x = old.as_f64().unwrap_or(1.0);
            json!(*g.pick(&[x / 60.0, x * 1000.0, 0.001, 1.0 / 60.0, 43_200.0, 43_200.02]))
        }
    }
}

/// Applies one random mutation to `doc`, describing it in `desc`.
fn mutate(g: &mut Gen, doc: &mut Value, paths: &Paths, desc: &mut String) {
    let kind = g.below(15);
    if try_mutate(g, kind, false, doc, paths, desc).is_none() {
        let _ = write!(desc, "; (mutation {kind} found nothing)");
    }
}

/// A mutation that keeps each value's type and leaves markup out (numbers, plain strings,
/// timestamps, enum tags, counters, swapped ids, duplicated or reordered array items), so more
/// files pass the checks and go on to be restored and run.
fn mutate_gentle(g: &mut Gen, doc: &mut Value, paths: &Paths, desc: &mut String) {
    let kind = *g.pick(&[0, 1, 2, 2, 3, 5, 6, 6, 7, 9, 10, 14]);
    if try_mutate(g, kind, true, doc, paths, desc).is_none() {
        let _ = write!(desc, "; (mutation {kind} found nothing)");
    }
}

fn try_mutate(g: &mut Gen, kind: u64, gentle: bool, doc: &mut Value, paths: &Paths, desc: &mut String) -> Option<()> {
    let pick = |g: &mut Gen, list: &[String]| -> Option<String> { (!list.is_empty()).then(|| list[g.index(list.len())].clone()) };
    match kind {
        0 | 1 => pick(g, &paths.numbers).and_then(|p| {
            let slot = doc.pointer_mut(&p)?;
            let new = if gentle { nearby_number(g, slot) } else { any_number(g, false) };
            let _ = write!(desc, "; {p} = {new}");
            *slot = new;
            Some(())
        }),
        2 => pick(g, &paths.counters).and_then(|p| {
            let new = if gentle { json!(*g.pick(&[u32::MAX, u32::MAX - 1, 10_000, 10_001, 100_000, i32::MAX as u32, 1_000_000])) } else { any_number(g, true) };
            let slot = doc.pointer_mut(&p)?;
            let _ = write!(desc, "; {p} = {new}");
            *slot = new;
            Some(())
        }),
        3 | 4 => pick(g, &paths.strings).and_then(|p| {
            let new = loop {
                let s = any_string(g);
                if !gentle || !s.contains('<') {
                    break s;
                }
            };
            let slot = doc.pointer_mut(&p)?;
            let _ = write!(desc, "; {p} = {}", Value::String(new.clone()));
            *slot = Value::String(new);
            Some(())
        }),
        5 | 6 => pick(g, &paths.times).and_then(|p| {
            let slot = doc.pointer_mut(&p)?;
            let new = moved_time(g, slot.as_str().unwrap_or(""));
            let _ = write!(desc, "; {p} = {new:?}");
            *slot = Value::String(new);
            Some(())
        }),
        7 => pick(g, &paths.tags).and_then(|p| {
            let new = g.pick(TAGS).to_string();
            let slot = doc.pointer_mut(&p)?;
            let _ = write!(desc, "; {p} = {new:?}");
            *slot = Value::String(new);
            Some(())
        }),
        8 => pick(g, &paths.all).and_then(|p| {
            let (parent, key) = parent_and_key(&p)?;
            match doc.pointer_mut(parent)? {
                Value::Object(map) => {
                    map.remove(&key)?;
                }
                Value::Array(items) => {
                    let i: usize = key.parse().ok()?;
                    if i >= items.len() {
                        return None;
                    }
                    items.remove(i);
                }
                _ => return None,
            }
            let _ = write!(desc, "; delete {p}");
            Some(())
        }),
        9 => pick(g, &paths.arrays).and_then(|p| {
            let Value::Array(items) = doc.pointer_mut(&p)? else { return None };
            if items.is_empty() {
                return None;
            }
            let i = g.index(items.len());
            let copies = if g.one_in(4) { g.range(2, 40) as usize } else { 1 };
            for _ in 0..copies {
                let item = items[i].clone();
                items.insert(i, item);
            }
            let _ = write!(desc, "; {p}/{i} duplicated ×{copies}");
            Some(())
        }),
        10 => {
            // Swap two ids (or other references) between records.
            let (a, b) = (pick(g, &paths.ids)?, pick(g, &paths.ids)?);
            let va = doc.pointer(&a)?.clone();
            let vb = doc.pointer(&b)?.clone();
            *doc.pointer_mut(&a)? = vb;
            *doc.pointer_mut(&b)? = va;
            let _ = write!(desc, "; swap {a} <-> {b}");
            Some(())
        }
        11 => pick(g, &paths.all).and_then(|p| {
            let new = any_scalar(g);
            let slot = doc.pointer_mut(&p)?;
            let _ = write!(desc, "; {p} = {}", shorten(&new.to_string()));
            *slot = new;
            Some(())
        }),
        12 => pick(g, &paths.objects).and_then(|p| {
            let key = if g.one_in(2) { g.pick(COUNTER_KEYS).to_string() } else { any_string(g) };
            let new = any_scalar(g);
            let Value::Object(map) = doc.pointer_mut(&p)? else { return None };
            let _ = write!(desc, "; {p}/{} = {}", shorten(&key), shorten(&new.to_string()));
            map.insert(key, new);
            Some(())
        }),
        13 => {
            // Graft: a subtree copied over another one.
            let (from, to) = (pick(g, &paths.all)?, pick(g, &paths.all)?);
            if to.starts_with(&from) {
                return None;
            }
            let v = doc.pointer(&from)?.clone();
            *doc.pointer_mut(&to)? = v;
            let _ = write!(desc, "; {to} = copy of {from}");
            Some(())
        }
        _ => pick(g, &paths.arrays).and_then(|p| {
            let Value::Array(items) = doc.pointer_mut(&p)? else { return None };
            if items.is_empty() {
                return None;
            }
            if g.one_in(3) {
                items.clear();
                let _ = write!(desc, "; {p} = []");
            } else {
                let (i, j) = (g.index(items.len()), g.index(items.len()));
                items.swap(i, j);
                let _ = write!(desc, "; swap {p}/{i} <-> {p}/{j}");
            }
            Some(())
        }),
    }
}

/// Text-level damage: truncation, splices, duplicated keys, stray bytes.
fn mutate_text(g: &mut Gen, text: &str, desc: &mut String) -> String {
    let boundary = |g: &mut Gen, s: &str| {
        let mut i = g.index(s.len() + 1);
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut s = text.to_string();
    for _ in 0..g.range(1, 3) {
        let i = boundary(g, &s);
        match g.below(6) {
            0 => {
                s.truncate(i);
                let _ = write!(desc, "; cut at byte {i}");
            }
            1 => {
                let ins = g.pick(&["\"", "{", "}", "[", "]", ",", ":", "\\", "\\u", "\\ud800", "-", "1e999", "null", "\u{0}", "\"id\": \"x\",", "/*", "\n"]);
                s.insert_str(i, ins);
                let _ = write!(desc, "; insert {ins:?} at byte {i}");
            }
            2 => {
                let j = boundary(g, &s);
                let (a, b) = (i.min(j), i.max(j));
                s.replace_range(a..b, "");
                let _ = write!(desc, "; remove bytes {a}..{b}");
            }
            3 => {
                // Duplicate a key: serde_json's Value keeps the last, typed structs refuse.
                if let Some(pos) = s[i..].find("\"id\"").map(|p| p + i) {
                    s.insert_str(pos, "\"id\": \"dup\", ");
                    let _ = write!(desc, "; duplicate \"id\" at byte {pos}");
                }
            }
            4 => {
                let ins = unicode(g, 8);
                s.insert_str(i, &ins);
                let _ = write!(desc, "; insert {ins:?} at byte {i}");
            }
            _ => {
                let j = boundary(g, &s);
                let (a, b) = (i.min(j), i.max(j));
                let piece = s[a..b].to_string();
                let k = boundary(g, &s);
                s.insert_str(k, &piece);
                let _ = write!(desc, "; copy bytes {a}..{b} to {k}");
            }
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// The world the engine target runs in, and the seeds

const FUZZ_WORLD: &str = r##"{
  "people": [
    {"id": "alice", "name": "Alice", "time_zone": "Europe/Amsterdam", "contact": {"ntfy_topic": "piket-alice", "webhook_url": "https://hooks.example/alice"}},
    {"id": "bob", "name": "Bob", "time_zone": "Australia/Lord_Howe", "contact": {"email": "bob@example.com"}},
    {"id": "carol", "name": "Carol", "time_zone": "America/St_Johns", "contact": {"ntfy_topic": "piket-carol"}},
    {"id": "sam", "name": "Sam", "time_zone": "Pacific/Chatham"},
    {"id": "erin", "name": "Erin", "time_zone": "UTC", "contact": {"webhook_url": "https://hooks.example/erin"}}
  ],
  "channels": [
    {"id": "war-room", "name": "#war-room", "phase": "critical", "address": "https://hooks.slack.com/services/T/B/X", "kind": "slack"},
    {"id": "leads", "name": "Leads", "phase": "leadership", "address": "https://ntfy.example", "kind": "ntfy", "topic": "leads"}
  ],
  "schedules": [
    {"id": "primary", "name": "Primary", "time_zone": "Europe/Amsterdam",
     "layers": [
       {"name": "weekly", "people": ["alice", "bob"], "start": "2025-03-03T09:00", "every": "weekly"},
       {"name": "office", "people": ["sam"], "start": "2025-03-03T09:00", "every": "daily",
        "restrictions": [{"days": "weekdays", "from": "09:00", "to": "17:00", "holidays": "exclude"}, {"days": ["sat"], "from": "22:00", "to": "02:00"}]}
     ],
     "overrides": [{"start": "2025-03-10T01:00:00Z", "end": "2025-03-10T05:00:00Z", "replace": "bob", "with": "carol"},
                   {"start": "2025-03-11T00:00:00Z", "end": "2025-03-12T00:00:00Z", "with": "erin"}],
     "holidays": ["2025-03-11", "2025-12-25"]},
    {"id": "hourly", "name": "Hourly", "time_zone": "Australia/Lord_Howe",
     "layers": [{"people": ["carol", "bob", "erin"], "start": "2025-03-01T01:30", "every": {"hours": 1}},
                {"people": ["sam"], "start": "2025-04-06T01:45", "every": {"days": 3}}]}
  ],
  "teams": [
    {"id": "sre", "name": "SRE", "members": ["alice", "bob", "sam"], "schedule": "primary"},
    {"id": "ops", "name": "Ops", "members": ["carol", "erin"]}
  ],
  "policies": [
    {"id": "major", "name": "Major", "levels": [
        {"name": "on call", "targets": [{"schedule": "primary"}], "ack_timeout": {"sev1": 5, "sev2": "10m", "default": 15}},
        {"targets": [{"schedule": "hourly"}, {"person": "sam"}, {"channel": "war-room"}], "ack_timeout": 10, "resolution_timeout": 30},
        {"targets": [{"team": "ops"}, {"channel": "leads"}], "ack_timeout": "20m",
         "checkpoint": {"prompt": "Page management?", "timeout": 5, "on_timeout": "stop"}}
      ],
      "repeat": {"times": 3, "from_level": 2}, "ack_reminder": 30, "escalate_if_status_unchanged": 45,
      "time_zone": "Europe/Amsterdam", "holidays": ["2025-03-11"]},
    {"id": "quick", "name": "Quick", "levels": [
        {"targets": [{"person": "alice"}], "ack_timeout": "30s"},
        {"targets": [{"team": "sre"}], "ack_timeout": "45s",
         "checkpoint": {"prompt": "Go on?", "timeout": "20s", "on_timeout": "proceed"}}
      ],
      "repeat": {"times": 100, "from_level": 1}, "ack_reminder": "10m"},
    {"id": "payments", "name": "Payments", "levels": [
        {"targets": [{"schedule": "primary"}], "ack_timeout": "5m", "except_during": [{"days": "weekends", "from": "00:00", "to": "24:00"}]},
        {"targets": [{"person": "sam"}], "ack_timeout": "10m", "only_during": [{"days": "weekdays", "from": "08:00", "to": "20:00", "holidays": "exclude"}]},
        {"targets": [{"person": "erin"}], "checkpoint": {"prompt": "Vendor?", "timeout": 15, "on_timeout": "skip"}}
      ],
      "time_zone": "America/St_Johns", "holidays": ["2025-03-10"]}
  ],
  "rules": [
    {"id": "security", "when": {"field": "title", "contains": "security"},
     "then": [{"start_at_level": 2}, {"add_targets": [{"person": "erin"}]}, {"set_priority": "urgent"}]},
    {"id": "breach", "when": {"field": "text", "matches": "*breach*"}, "then": [{"set_severity": "sev1"}]},
    {"id": "payments", "when": {"field": "service", "one_of": ["payments", "billing"]}, "then": [{"route_to": "payments"}]},
    {"id": "deep", "when": {"field": "labels.start", "equals": "9"}, "then": [{"start_at_level": 3}]},
    {"id": "noise", "when": {"all": [{"field": "environment", "equals": "staging"}, {"field": "labels.alertname", "matches": "Disk*"}]},
     "then": [{"suppress": "staging disk alert"}], "stop": true},
    {"id": "flapping", "when": {"recurring": {"at_least": 2, "within": 60, "same": "dedup_key"}}, "then": [{"escalate_faster": 0.1}]},
    {"id": "not-prod", "when": {"not": {"any": [{"field": "environment", "equals": "production"}, {"field": "severity", "equals": "sev1"}]}},
     "then": [{"set_priority": "low"}]}
  ],
  "maintenance": [
    {"id": "upgrade", "name": "DB upgrade", "start": "2025-03-10T03:00:00Z", "end": "2025-03-10T05:00:00Z", "matching": {"field": "service", "equals": "db"}}
  ],
  "default_policy": "major"
}"##;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap()
}

/// A driver on a fresh memory store holding `world` (saved record by record, as the screens do),
/// with an ntfy server and the reply channel on (so pages carry signed acknowledgements).
fn configured(world: &World, now: DateTime<Utc>) -> Driver<MemoryStore> {
    let mut d = block_on(Driver::load(MemoryStore::new())).expect("an empty store loads");
    for p in world.people.clone() {
        block_on(d.save(p, now)).expect("person");
    }
    for c in world.channels.clone() {
        block_on(d.save(c, now)).expect("channel");
    }
    for s in world.schedules.clone() {
        block_on(d.save(s, now)).expect("schedule");
    }
    for t in world.teams.clone() {
        block_on(d.save(t, now)).expect("team");
    }
    for p in world.policies.clone() {
        block_on(d.save(p, now)).expect("policy");
    }
    for r in world.rules.clone() {
        block_on(d.save(r, now)).expect("rule");
    }
    for m in world.maintenance.clone() {
        block_on(d.save(m, now)).expect("maintenance");
    }
    block_on(d.set_default_policy(world.default_policy.clone(), now)).expect("default policy");
    block_on(d.set_delivery_settings(DeliverySettings { ntfy_server: "https://ntfy.example".into(), retry_limit_secs: 600 }, now)).unwrap();
    let reply = ReplySettings { enabled: true, server: String::new(), topic: "piket-fuzz0123".into(), key: "A".repeat(43), enabled_at: None };
    block_on(d.set_reply_settings(reply, now)).expect("reply settings");
    d
}

fn details(title: &str, service: &str, severity: Severity) -> IncidentDetails {
    IncidentDetails { title: title.into(), service: service.into(), severity, ..IncidentDetails::default() }
}

/// A backup of a driver with live incidents in every state the engine has. `full`: more
/// incidents, ticks and delivery attempts (a 130 KB file; the small one is a fifth of that).
fn driver_backup(world: &World, full: bool) -> (String, DateTime<Utc>) {
    let t = |mins: i64| t0() + Duration::minutes(mins);
    let mut d = configured(world, t(0));
    let open = |id: &str, det: IncidentDetails| Input::Open { id: id.into(), by: Actor::Automation, details: det };
    let mut staging = details("Disk 91% on stage-3", "disk", Severity::Sev3);
    staging.environment = "staging".into();
    staging.labels.insert("alertname".into(), "DiskFull".into());
    let mut folded = details("Latency high", "api", Severity::Sev2);
    folded.dedup_key = Some("latency/api".into());
    folded.links.push("https://grafana.example/d/1".into());
    let mut inputs = vec![
        (0, open("inc-a", details("Disk full on db1", "storage", Severity::Sev1))),
        (1, open("inc-b", details("Payments API errors", "payments", Severity::Sev2))),
        (2, open("inc-c", details("security: odd logins", "auth", Severity::Sev2))),
        (3, open("inc-d", staging)),
    ];
    if full {
        inputs.extend([
            (4, open("inc-e", folded.clone())),
            (5, open("inc-f", folded)),
            (6, open("inc-g", details("Quick one", "q", Severity::Sev4))),
            (70, open("inc-h", details("Replica lag", "db", Severity::Sev3))),
        ]);
    }
    for (m, input) in inputs {
        let _ = block_on(d.tick(t(m)));
        let _ = block_on(d.dispatch(t(m), input));
    }
    if full {
        let _ = block_on(d.dispatch(t(6), Input::ChangeSeverity { incident: "inc-g".into(), by: Actor::Automation, severity: Severity::Sev1 }));
        let quick = IncidentDetails { policy: Some("quick".into()), ..details("Quick policy", "q", Severity::Sev2) };
        let _ = block_on(d.dispatch(t(6), Input::Open { id: "inc-q".into(), by: Actor::Automation, details: quick }));
    }
    let ticks: &[i64] = if full { &[8, 12, 20, 40] } else { &[12] };
    for m in ticks {
        let _ = block_on(d.tick(t(*m)));
    }
    let _ = block_on(d.dispatch(t(41), Input::Acknowledge { incident: "inc-a".into(), by: "alice".into() }));
    let _ = block_on(d.dispatch(t(42), Input::ChangeStatus { incident: "inc-a".into(), by: Actor::person("alice"), status: Status::Investigating }));
    let _ = block_on(d.dispatch(t(43), Input::Snooze { incident: "inc-c".into(), by: "erin".into(), until: t(200) }));
    let _ = block_on(d.dispatch(t(44), Input::AddNote { incident: "inc-b".into(), by: Actor::person("sam"), text: "Vendor says 10 min".into() }));
    let _ = block_on(d.dispatch(t(47), Input::Resolve { incident: "inc-d".into(), by: Actor::Automation }));
    if full {
        let _ = block_on(d.dispatch(t(45), Input::Reassign { incident: "inc-e".into(), by: Actor::person("alice"), to: ReassignTo::Person("carol".into()) }));
        let _ = block_on(d.dispatch(t(48), Input::EscalateNow { incident: "inc-g".into(), by: Actor::person("bob") }));
        let _ = block_on(d.tick(t(75)));
    }
    let keys: Vec<String> = d.outbox().keys().cloned().collect();
    for (i, key) in keys.iter().enumerate().take(if full { usize::MAX } else { 3 }) {
        let outcome = if i % 3 == 0 { Outcome::Shown } else { Outcome::NotAllowed("denied".into()) };
        let _ = block_on(d.record_attempt(key, 0, &outcome, 12, t(76)));
    }
    let now = t(80);
    assert!(d.engine().incidents().count() >= 4, "the seed driver opened its incidents");
    (block_on(d.export(now, true)).expect("export"), now)
}

const PAGERDUTY_TRIGGER: &str = r#"{
  "routing_key": "samplekeyhere", "event_action": "trigger", "dedup_key": "srv01/mysql",
  "payload": {"summary": "DISK at 99% on machine prod-datapipe03.example.com", "timestamp": "2015-07-17T08:42:58.315+0000",
    "severity": "critical", "source": "prod-datapipe03.example.com", "component": "mysql", "group": "prod-datapipe", "class": "disk",
    "custom_details": {"free space": "1%", "ping time": "1500ms", "load avg": 0.75, "nested": {"a": [1, 2, {"b": null}]}}},
  "images": [{"src": "https://chart.googleapis.com/chart?chs=600x400", "href": "https://example.com/", "alt": "An example link with an image"}],
  "links": [{"href": "http://pagerduty.example.com", "text": "An example link."}, {"href": "javascript:alert(1)"}],
  "client": "Sample Monitoring Service", "client_url": "https://monitoring.service.com"
}"#;

const PAGERDUTY_RESOLVE: &str = r#"{"routing_key": "samplekeyhere", "event_action": "resolve", "dedup_key": "srv01/mysql", "payload": {"summary": "x"}}"#;
const PAGERDUTY_ACK: &str = r#"{"routing_key": "samplekeyhere", "event_action": "acknowledge", "dedup_key": "srv01/mysql"}"#;

const ALERTMANAGER_GROUP: &str = r#"{
  "version": "4", "groupKey": "{}:{alertname=\"DiskFull\"}", "truncatedAlerts": 2, "status": "firing", "receiver": "piket",
  "groupLabels": {"alertname": "DiskFull"}, "commonLabels": {"alertname": "DiskFull", "job": "node"},
  "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
  "alerts": [
    {"status": "firing", "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "critical", "service": "db", "env": "production", "region": "eu-west-1"},
     "annotations": {"summary": "Disk 99% on db1", "description": "Only 1% left", "runbook_url": "https://runbooks.example/disk", "dashboard_url": "https://grafana.example/d/2"},
     "startsAt": "2025-03-10T01:58:00.123Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus.example/graph?g0.expr=up", "fingerprint": "9266ef3da838ad95"},
    {"status": "resolved", "labels": {"alertname": "DiskFull", "instance": "db2:9100", "severity": "warning"},
     "annotations": {"title": "Disk 80% on db2"}, "startsAt": "2025-03-10T01:00:00Z", "endsAt": "2025-03-10T01:55:00+01:00", "fingerprint": "3b15fd163d36582e"},
    {"labels": {"alertname": "DiskFull", "instance": "db3:9100", "severity": "page", "type": "disk", "environment": "staging"},
     "annotations": {"message": "db3 filling"}, "startsAt": "2025-03-10T01:59:00+0000", "generatorURL": "https://prometheus.example/graph"},
    {"status": "firing", "labels": {}, "annotations": null, "startsAt": "garbage"}
  ]
}"#;

const QUERIES: &[&str] = &[
    "/new?title=DB%20primary+down%20%E2%80%94%2099%&severity=SEV2&service=payments&link=https%3A%2F%2Fgrafana.example%2Fd%2F1&link=https://logs.example/q?x=1",
    "#/new?title=Security%3A+odd+logins&severity=critical&priority=urgent&customer_impact=yes&labels.team=sec&labels.start=9&dedup_key=sec%2F1&policy=major&environment=production&region=eu&sla_tier=gold&reporter=alice&type=security&source=grafana&summary=line1%0Aline2",
    "?title=x&&severity=&dedup_key=&link=",
];

const PAYLOAD_KEYS: &[&str] = &[
    "event_action",
    "dedup_key",
    "payload",
    "summary",
    "source",
    "severity",
    "timestamp",
    "component",
    "group",
    "class",
    "custom_details",
    "client",
    "client_url",
    "links",
    "href",
    "images",
    "src",
    "routing_key",
    "alerts",
    "version",
    "status",
    "labels",
    "annotations",
    "startsAt",
    "endsAt",
    "generatorURL",
    "fingerprint",
    "truncatedAlerts",
    "alertname",
    "message",
    "title",
    "description",
];

const BACKUP_KEYS: &[&str] = &[
    "piket_backup",
    "schema",
    "exported_at",
    "secrets_included",
    "stores",
    "id",
    "rev",
    "updated_at",
    "value",
    "name",
    "time_zone",
    "contact",
    "levels",
    "targets",
    "person",
    "schedule",
    "ack_timeout",
    "incident",
    "details",
    "title",
    "status",
    "opened_at",
    "status_since",
    "alert_count",
    "last_seen",
    "escalation",
    "policy",
    "level",
    "loop",
    "stage",
    "timers",
    "key",
    "seq",
    "entry",
    "at",
    "kind",
    "actor",
    "recorded_at",
    "delivery",
    "queued_at",
    "state",
    "routes",
    "attempts",
    "layers",
    "people",
    "start",
    "every",
];

const QUERY_KEYS: &[&str] = &[
    "title",
    "summary",
    "severity",
    "priority",
    "type",
    "service",
    "source",
    "environment",
    "region",
    "customer_impact",
    "sla_tier",
    "reporter",
    "dedup_key",
    "policy",
    "link",
    "labels.team",
    "labels.",
    "labels.a.b",
    "sevrity",
    "utm_source",
    "",
    "%74itle",
];

struct Ctx {
    world: World,
    /// `world` as a restore batch: commit it into a fresh store to get a configured driver quickly.
    world_batch: Batch,
    backups: Vec<Seed>,
    payloads: Vec<Seed>,
}

fn build_ctx() -> Ctx {
    let world = parse_world(FUZZ_WORLD).unwrap_or_else(|e| panic!("FUZZ_WORLD: {e}"));
    let (small_text, small_now) = driver_backup(&world, false);
    let (full_text, full_now) = driver_backup(&world, true);
    let world_text = block_on(configured(&world, t0()).export(t0(), true)).expect("export");
    let world_batch = parse_backup(&world_text).expect("the configured world's backup parses").batch;
    let team = include_str!("example-team.json").to_string();
    let team_now = at("2025-01-06T10:00:00Z");
    parse_backup(&team).expect("examples/example-team.json parses");
    for text in [&small_text, &full_text] {
        parse_backup(text).unwrap_or_else(|e| panic!("the driver's backup does not parse: {e}"));
    }
    Ctx {
        world,
        world_batch,
        backups: vec![
            Seed::new("example-team.json", team, team_now),
            Seed::new("driver backup", small_text, small_now),
            Seed::new("full driver backup", full_text, full_now),
        ],
        payloads: vec![
            Seed::new("pagerduty trigger", PAGERDUTY_TRIGGER.into(), t0()),
            Seed::new("pagerduty resolve", PAGERDUTY_RESOLVE.into(), t0()),
            Seed::new("pagerduty acknowledge", PAGERDUTY_ACK.into(), t0()),
            Seed::new("alertmanager group", ALERTMANAGER_GROUP.into(), t0()),
        ],
    }
}

// ---------------------------------------------------------------------------------------------
// Target: backups

struct BackupCase {
    desc: String,
    text: String,
    now: DateTime<Utc>,
    /// Also tick 40 days ahead and export (the expensive part).
    deep: bool,
    /// Choices for the delivery bookkeeping (which attempt outcomes, which retries).
    salt: u64,
}

fn gen_backup(ctx: &Ctx, g: &mut Gen) -> BackupCase {
    // Seeds: example-team.json 34 %, the small driver backup 50 %, the full one 16 % (reading
    // costs about 25 µs per KB: 0.05 ms, 0.7 ms and 1.6 ms).
    let seed = &ctx.backups[match g.below(50) {
        0..=16 => 0,
        17..=41 => 1,
        _ => 2,
    }];
    let mut desc = format!("seed {}", seed.name);
    let roll = g.below(100);
    let text = if roll < 80 {
        let mut doc = seed.value.clone();
        let gentle = roll < 40;
        if gentle {
            desc.push_str(" (gentle)");
        }
        for _ in 0..g.range(1, 4) {
            if gentle {
                mutate_gentle(g, &mut doc, &seed.paths, &mut desc);
            } else {
                mutate(g, &mut doc, &seed.paths, &mut desc);
            }
        }
        serde_json::to_string(&doc).expect("a Value serializes")
    } else if roll < 88 {
        mutate_text(g, &seed.text, &mut desc)
    } else {
        // A backup-shaped file built from random parts, so it gets past the first checks.
        let mut stores = Map::new();
        for _ in 0..g.below(4) {
            let store = g.pick(&[
                "people",
                "teams",
                "channels",
                "schedules",
                "policies",
                "rules",
                "maintenance",
                "incidents",
                "timeline",
                "outbox",
                "settings",
                "journal",
                "x",
            ]);
            let rows: Vec<Value> = (0..g.below(3))
                .map(|_| {
                    let id = any_string(g);
                    let mut value = random_value(g, BACKUP_KEYS, 3);
                    if let (Value::Object(map), true) = (&mut value, g.one_in(2)) {
                        map.insert("id".into(), Value::String(id.clone()));
                    }
                    json!({"id": id, "rev": any_number(g, false), "updated_at": g.pick(TIMES), "value": value})
                })
                .collect();
            stores.insert(store.to_string(), Value::Array(rows));
        }
        let mut doc = json!({"piket_backup": 1, "schema": 2, "exported_at": g.pick(TIMES), "stores": stores});
        if g.one_in(4) {
            doc = random_value(g, BACKUP_KEYS, 4);
        }
        let text = doc.to_string();
        desc = format!("random: {}", shorten(&text));
        text
    };
    BackupCase { desc, text, now: seed.now, deep: g.one_in(100), salt: g.u64() }
}

/// Deadlines a tick to `to` would fire, roughly: the ack reminders of acknowledged incidents
/// (the one kind that repeats without end), plus one per incident whose next deadline is due.
fn catch_up_steps(d: &Driver<MemoryStore>, to: DateTime<Utc>) -> u64 {
    let mut steps = 0u64;
    for incident in d.engine().incidents() {
        let Some(e) = &incident.escalation else { continue };
        let Some(next) = e.timers.reminder.filter(|_| incident.acknowledged.is_some()) else { continue };
        let Some(every) = e.policy.ack_reminder else { continue };
        if next <= to {
            let span = (to - next).num_seconds().max(0) as u64;
            steps = steps.saturating_add(span / every.duration().num_seconds().max(1) as u64 + 1);
        }
    }
    steps
}

/// The most ack reminders a restore may catch up on in one tick before the case is set aside as
/// too slow to run (100 000 take about 4 s through the driver; a reminder timer moved back to
/// 1893 would take hours).
const MAX_CATCH_UP_STEPS: u64 = 100_000;

/// Restores an accepted backup as the app would and works with it. `Some(why)` when the case was
/// set aside because catching up would take minutes or hours (a finding in itself).
fn run_backup(case: &BackupCase, phase: &Cell<usize>) -> Option<String> {
    let Ok(restore) = parse_backup(&case.text) else { return None };
    ACCEPTED[0].fetch_add(1, Ordering::Relaxed);
    let now = case.now;
    let store = MemoryStore::new();
    if block_on(store.commit(restore.batch, now)).is_err() {
        return None;
    }
    let mut d = match block_on(Driver::load(store)) {
        Ok(d) => d,
        Err(_) => {
            // The app restores with `Driver::import`, which treats this as impossible: run it.
            let fresh = block_on(Driver::load(MemoryStore::new())).expect("an empty store loads");
            let _ = block_on(fresh.import(&case.text, now));
            return None;
        }
    };
    let mut times = vec![now, now + Duration::hours(1)];
    if case.deep {
        times.push(now + Duration::days(40));
    }
    for t in &times {
        let steps = catch_up_steps(&d, *t);
        if steps > MAX_CATCH_UP_STEPS {
            return Some(format!("a tick at {} would send about {steps} ack reminders", t.to_rfc3339()));
        }
        let _ = block_on(d.tick(*t));
        due_sends(&d, *t);
        if *t == now {
            phase.set(1);
            record_attempts(&mut d, now, case.salt);
            phase.set(0);
        }
    }
    let last = *times.last().unwrap();
    if case.deep {
        let _ = block_on(d.export(last, false));
    }
    let ids: Vec<IncidentId> = d.engine().incidents().map(|i| i.id.clone()).collect();
    let person = d.world().people.first().map_or_else(|| PersonId::new("nobody"), |p| p.id.clone());
    for id in ids {
        let _ = block_on(d.dispatch(last, Input::Acknowledge { incident: id.clone(), by: person.clone() }));
        let _ = block_on(d.dispatch(last, Input::Resolve { incident: id, by: Actor::Automation }));
    }
    None
}

/// Above this many outbox rows `due_sends` is skipped: it clones the incident (with its whole
/// timeline) for every due row, so after a catch-up of n reminders it costs n² (2 000 rows: 0.2 s).
const DUE_SENDS_MAX_ROWS: usize = 300;

/// The outcomes `record_attempts` gives the first four due sends, and which of them it retries.
fn attempt_plan(salt: u64) -> Vec<(Outcome, bool)> {
    (0..4)
        .map(|n| {
            // A server's `Retry-After` (read as whole seconds by the webhook adapter) is theirs to
            // choose: one in 64 is huge.
            let retry_after = if (salt >> (40 + 4 * n)) & 15 == 0 && (salt >> (24 + 2 * n)) & 3 == 0 {
                [10_000_000_000, 9_000_000_000_000_000][(salt >> (56 + n)) as usize & 1]
            } else {
                [1, 30, 3_600, -5][(salt >> (32 + 2 * n)) as usize & 3]
            };
            let outcome = match (salt >> (4 * n)) & 15 {
                0..=2 => Outcome::Shown,
                3 => Outcome::NotAllowed("denied".into()),
                4 => Outcome::Impossible("gone".into()),
                5 => Outcome::Http(AttemptOutcome::Opaque),
                6 => Outcome::Http(AttemptOutcome::NetworkError("offline".into())),
                7 => Outcome::Http(AttemptOutcome::status(200)),
                8 => Outcome::Http(AttemptOutcome::status(404)),
                9 | 10 => Outcome::Http(AttemptOutcome::status(503)),
                _ => Outcome::Http(AttemptOutcome::Status { code: 429, retry_after: Some(TimeDelta::seconds(retry_after)) }),
            };
            (outcome, salt & (1 << (20 + n)) != 0)
        })
        .collect()
}

fn describe_plan(salt: u64) -> String {
    attempt_plan(salt).iter().map(|(o, retry)| format!("{o:?}{}", if *retry { " then retry" } else { "" })).collect::<Vec<_>>().join(", ")
}

/// Records an outcome for the first due sends and retries some (see [`attempt_plan`]), as the
/// delivery loop does after each attempt.
fn record_attempts(d: &mut Driver<MemoryStore>, now: DateTime<Utc>, salt: u64) {
    if d.outbox().len() > DUE_SENDS_MAX_ROWS {
        return;
    }
    let sends = d.due_sends("https://piket.example", now);
    for (send, (outcome, retry)) in sends.iter().zip(attempt_plan(salt)) {
        let _ = block_on(d.record_attempt(&send.key, send.route, &outcome, (salt >> 8) as u32 % 100_000, now));
        if retry {
            let _ = block_on(d.retry_delivery(&send.key, now));
        }
    }
}

/// `Driver::due_sends`, unless the outbox is too full (see [`DUE_SENDS_MAX_ROWS`]).
fn due_sends(d: &Driver<MemoryStore>, now: DateTime<Utc>) {
    if d.outbox().len() <= DUE_SENDS_MAX_ROWS {
        let _ = d.due_sends("https://piket.example", now);
    }
}

// ---------------------------------------------------------------------------------------------
// Target: engine and driver

#[allow(clippy::large_enum_variant)] // a few dozen per case
enum Op {
    Input(DateTime<Utc>, Input),
    Tick(DateTime<Utc>),
}

struct EngineCase {
    driver: bool,
    ops: Vec<Op>,
    /// Choices for the delivery bookkeeping at the end of a driver case.
    salt: u64,
}

fn extreme_time(g: &mut Gen) -> DateTime<Utc> {
    match g.below(7) {
        0 => DateTime::<Utc>::MAX_UTC,
        1 => DateTime::<Utc>::MIN_UTC,
        2 => at("9999-12-31T23:59:59Z") - Duration::seconds(g.range(0, 86_400)),
        3 => at("0001-01-01T00:00:00Z") + Duration::seconds(g.range(0, 86_400)),
        4 => DateTime::<Utc>::MAX_UTC - Duration::seconds(g.range(0, 3 * 86_400)),
        5 => DateTime::<Utc>::MIN_UTC + Duration::seconds(g.range(0, 3 * 86_400)),
        _ => DateTime::<Utc>::UNIX_EPOCH,
    }
}

/// The next op's time: mostly forward by up to half an hour, sometimes by days, sometimes back,
/// and at most once per case a jump of years (`years`, cleared when used).
fn next_time(g: &mut Gen, now: DateTime<Utc>, years: &mut Option<u64>) -> DateTime<Utc> {
    let step = match g.below(1000) {
        0..=759 => Duration::seconds(g.range(0, 1800)),
        760..=899 => Duration::seconds(g.range(1800, 86_400)),
        900..=979 => -Duration::seconds(g.range(1, 2 * 86_400)),
        980..=989 => Duration::seconds(g.range(86_400, 14 * 86_400)),
        _ => match years.take() {
            Some(max) => Duration::days(365 * g.range(1, max as i64)) + Duration::seconds(g.range(0, 86_400)),
            None => Duration::seconds(g.range(0, 1800)),
        },
    };
    now.checked_add_signed(step).unwrap_or(now)
}

fn person_id(g: &mut Gen) -> PersonId {
    match g.below(10) {
        0 => any_string(g).into(),
        1 => "mallory".into(),
        _ => (*g.pick(&["alice", "bob", "carol", "sam", "erin"])).into(),
    }
}

fn incident_id(g: &mut Gen) -> IncidentId {
    match g.below(12) {
        0 => any_string(g).into(),
        1 => "inc-x".into(),
        _ => format!("inc-{}", g.below(4)).into(),
    }
}

fn actor(g: &mut Gen) -> Actor {
    if g.one_in(3) {
        Actor::Automation
    } else {
        Actor::Person(person_id(g))
    }
}

fn severity(g: &mut Gen) -> Severity {
    *g.pick(&Severity::ALL)
}

fn random_details(g: &mut Gen) -> IncidentDetails {
    let mut d = IncidentDetails {
        title: match g.below(10) {
            0..=3 => g.pick(&["Disk full", "security incident", "Data breach suspected", "Payments down", "x"]).to_string(),
            _ => any_string(g),
        },
        severity: severity(g),
        ..IncidentDetails::default()
    };
    if g.one_in(2) {
        d.service = g.pick(&["payments", "billing", "db", "api", "", "batch"]).to_string();
    }
    if g.one_in(3) {
        d.environment = g.pick(&["production", "staging", "dev"]).to_string();
    }
    if g.one_in(3) {
        d.dedup_key = Some(g.pick(&["k1", "k2", "k3", ""]).to_string());
    }
    if g.one_in(4) {
        d.policy = Some((*g.pick(&["major", "quick", "payments", "gone", ""])).into());
    }
    if g.one_in(4) {
        d.priority = Some(*g.pick(&[Priority::Urgent, Priority::High, Priority::Normal, Priority::Low]));
    }
    d.customer_impact = g.one_in(4);
    if g.one_in(4) {
        d.summary = any_string(g);
    }
    for _ in 0..g.below(3) {
        d.links.push(any_string(g));
    }
    for _ in 0..g.below(3) {
        let k = g.pick(&["alertname", "start", "team", "x"]).to_string();
        let v = if g.one_in(2) { g.pick(&["DiskFull", "9", "0", "db"]).to_string() } else { any_string(g) };
        d.labels.insert(k, v);
    }
    if g.one_in(20) {
        for i in 0..g.range(100, 300) {
            d.labels.insert(format!("l{i}"), "v".into());
        }
    }
    d
}

fn random_input(g: &mut Gen, now: DateTime<Utc>) -> Input {
    let incident = incident_id(g);
    match g.below(16) {
        0..=3 => Input::Open { id: incident, by: actor(g), details: random_details(g) },
        4 => Input::ResolveByKey { dedup_key: g.pick(&["k1", "k2", "inc-0", "", "zz"]).to_string(), by: actor(g) },
        5 | 6 => Input::Acknowledge { incident, by: person_id(g) },
        7 => Input::Unacknowledge { incident, by: person_id(g) },
        8 => Input::Resolve { incident, by: actor(g) },
        9 => {
            let to = if g.one_in(2) { ReassignTo::Person(person_id(g)) } else { ReassignTo::Level(*g.pick(&[0, 1, 2, 3, 4, 9, u32::MAX])) };
            Input::Reassign { incident, by: actor(g), to }
        }
        10 => Input::EscalateNow { incident, by: actor(g) },
        11 => {
            let until = match g.below(8) {
                0 => extreme_time(g),
                1 => now,
                2 => now.checked_sub_signed(Duration::minutes(g.range(1, 600))).unwrap_or(now),
                3 => now.checked_add_signed(Duration::days(g.range(1, 4000))).unwrap_or(now),
                _ => now.checked_add_signed(Duration::seconds(g.range(1, 4 * 3600))).unwrap_or(now),
            };
            Input::Snooze { incident, by: person_id(g), until }
        }
        12 => Input::AddNote { incident, by: actor(g), text: any_string(g) },
        13 => {
            let status = *g.pick(&[Status::New, Status::Triage, Status::Acknowledged, Status::Investigating, Status::Mitigating, Status::Resolved]);
            Input::ChangeStatus { incident, by: actor(g), status }
        }
        14 => Input::ChangeSeverity { incident, by: actor(g), severity: severity(g) },
        _ => Input::ConfirmCheckpoint { incident, by: person_id(g) },
    }
}

fn gen_engine(g: &mut Gen) -> EngineCase {
    // A driver case costs about six pure-engine ones (it clones the engine and writes JSON on
    // every step): one case in 4 goes through the driver.
    let driver = g.one_in(4);
    // One case in 10 lives at an end of time (year 1, 9999, the last or first day chrono has);
    // the others start in March 2025, next to the world's schedules and windows.
    let mut now = if g.one_in(10) { extreme_time(g) } else { t0() + Duration::seconds(g.range(0, 7 * 86_400)) };
    // A jump of years makes the engine catch up every ack reminder in between (17 520 pages a
    // year at 30 min) and the driver write each one: allowed in one pure-engine case in 25 (up
    // to 3 years) and one driver case in 200 (up to 1 year), at most once per case.
    let mut years = match driver {
        false => g.one_in(25).then_some(3),
        true => g.one_in(200).then_some(1),
    };
    let n = g.range(1, 24);
    let mut ops = Vec::with_capacity(n as usize + 1);
    for _ in 0..n {
        now = next_time(g, now, &mut years);
        if g.pct(30) {
            ops.push(Op::Tick(now));
        } else {
            let input = random_input(g, now);
            ops.push(Op::Input(now, input));
        }
    }
    if g.one_in(2) {
        let end = now.checked_add_signed(Duration::hours(g.range(1, 72))).unwrap_or(now);
        ops.push(Op::Tick(end));
    }
    EngineCase { driver, ops, salt: g.u64() }
}

fn render_op(op: &Op) -> String {
    match op {
        Op::Input(t, input) => format!("{} {}", t.to_rfc3339(), serde_json::to_string(input).unwrap_or_else(|e| e.to_string())),
        Op::Tick(t) => format!("{} tick", t.to_rfc3339()),
    }
}

fn run_engine(ctx: &Ctx, case: &EngineCase, progress: &Cell<usize>) {
    if case.driver {
        let store = MemoryStore::new();
        block_on(store.commit(ctx.world_batch.clone(), t0())).expect("the world commits");
        let mut d = block_on(Driver::load(store)).expect("the world loads");
        let mut last = t0();
        for (i, op) in case.ops.iter().enumerate() {
            progress.set(i);
            match op {
                Op::Input(t, input) => {
                    last = *t;
                    let _ = block_on(d.dispatch(*t, input.clone()));
                }
                Op::Tick(t) => {
                    last = *t;
                    let _ = block_on(d.tick(*t));
                    let _ = d.next_deadline();
                }
            }
        }
        // Delivery bookkeeping once at the end (building every due message after each tick
        // would cost more than the rest of the case).
        progress.set(case.ops.len());
        record_attempts(&mut d, last, case.salt);
        due_sends(&d, last.checked_add_signed(Duration::hours(1)).unwrap_or(last));
    } else {
        let mut engine = Engine::new();
        for (i, op) in case.ops.iter().enumerate() {
            progress.set(i);
            match op {
                Op::Input(t, input) => {
                    let _ = engine.handle(&ctx.world, *t, input.clone());
                }
                Op::Tick(t) => {
                    let _ = engine.handle_timeout(&ctx.world, *t);
                    let _ = engine.poll_timeout();
                }
            }
        }
        let _ = engine.incidents().count();
    }
}

// ---------------------------------------------------------------------------------------------
// Target: intake

enum IntakeKind {
    Payload,
    Query,
    Timestamp,
    Helpers(BTreeMap<String, String>),
}

struct IntakeCase {
    kind: IntakeKind,
    text: String,
    desc: String,
    /// Hand what was read to an engine.
    feed: bool,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn gen_query(g: &mut Gen) -> (String, String) {
    let seed = *g.pick(QUERIES);
    let (prefix, query) = match seed.split_once('?') {
        Some((p, q)) => (format!("{p}?"), q.to_string()),
        None => (String::new(), seed.to_string()),
    };
    let mut pairs: Vec<(String, String)> =
        query.split('&').map(|p| p.split_once('=').map_or((p.to_string(), String::new()), |(k, v)| (k.to_string(), v.to_string()))).collect();
    let mut desc = format!("seed query {}", shorten(seed));
    for _ in 0..g.range(1, 4) {
        let i = g.index(pairs.len().max(1));
        match g.below(9) {
            0 | 1 => {
                let v = any_string(g);
                let v = if g.one_in(2) { percent_encode(&v) } else { v };
                if let Some(p) = pairs.get_mut(i) {
                    let _ = write!(desc, "; {}={}", p.0, shorten(&v));
                    p.1 = v;
                }
            }
            2 => {
                let k = g.pick(QUERY_KEYS).to_string();
                let v = if g.one_in(2) { any_string(g) } else { g.pick(WORDS).to_string() };
                let _ = write!(desc, "; add {k}={}", shorten(&v));
                pairs.insert(i.min(pairs.len()), (k, v));
            }
            3 => {
                if let Some(p) = pairs.get(i).cloned() {
                    let _ = write!(desc, "; duplicate {}", p.0);
                    pairs.push(p);
                }
            }
            4 => {
                if i < pairs.len() {
                    let _ = write!(desc, "; drop {}", pairs[i].0);
                    pairs.remove(i);
                }
            }
            5 => {
                let odd = g.pick(&["%", "%4", "%zz", "%E2%82", "%FF", "%00", "%C0%80", "%ED%A0%80", "+", "%2B", "==", "?", "#", "&", "%25"]).to_string();
                if let Some(p) = pairs.get_mut(i) {
                    let at = g.index(p.1.len() + 1);
                    let at = (0..=at).rev().find(|&j| p.1.is_char_boundary(j)).unwrap_or(0);
                    p.1.insert_str(at, &odd);
                    let _ = write!(desc, "; {}: insert {odd:?}", p.0);
                }
            }
            6 => {
                let k = format!("labels.{}", any_string(g));
                let _ = write!(desc, "; add {}", shorten(&k));
                pairs.push((percent_encode(&k), any_string(g)));
            }
            7 if g.one_in(2) => {
                let n = g.range(500, 3_500);
                let _ = write!(desc, "; {n} links");
                for i in 0..n {
                    pairs.push(("link".into(), format!("https://l.example/{i}")));
                }
            }
            7 => {
                let n = *g.pick(&[64 * 1024 - 7, 64 * 1024, 64 * 1024 + 1, 70_000]);
                let _ = write!(desc, "; title of {n} bytes");
                pairs.push(("title".into(), "t".repeat(n)));
            }
            _ => {
                let _ = write!(desc, "; link");
                pairs.push(("link".into(), percent_encode(&any_string(g))));
            }
        }
    }
    let mut text = prefix;
    if g.one_in(10) {
        text = g.pick(&["", "?", "#/new?", "/new?a?b?", "??", "#"]).to_string();
    }
    text.push_str(&pairs.iter().map(|(k, v)| if v.is_empty() && g.one_in(3) { k.clone() } else { format!("{k}={v}") }).collect::<Vec<_>>().join("&"));
    if g.one_in(10) {
        text = mutate_text(g, &text, &mut desc);
    }
    (text, desc)
}

/// A payload near the 1 MiB limit: thousands of links, images, details or alerts.
fn big_payload(g: &mut Gen) -> (String, String) {
    let n = *g.pick(&[1_000, 5_000, 14_000, 20_000]);
    let same = g.one_in(3);
    let url = |i: usize| if same { "https://grafana.example/d/1".to_string() } else { format!("https://grafana.example/d/{i}") };
    let doc = match g.below(3) {
        0 => json!({
            "event_action": "trigger",
            "payload": {"summary": "many links", "source": "s", "severity": "info",
                        "custom_details": (0..n / 4).map(|i| (format!("k{i}"), json!(i))).collect::<Map<String, Value>>()},
            "links": (0..n).map(|i| json!({"href": url(i)})).collect::<Vec<_>>(),
            "images": (0..n / 2).map(|i| json!({"src": url(i + n)})).collect::<Vec<_>>(),
        }),
        1 => json!({
            "version": "4", "status": "firing",
            "alerts": (0..n / 8).map(|i| json!({"labels": {"alertname": "A", "i": i.to_string()}, "annotations": {"runbook_url": url(i)}, "generatorURL": url(i)})).collect::<Vec<_>>(),
        }),
        _ => json!({"event_action": "trigger", "payload": {"summary": "x".repeat(n * 20), "source": "s", "severity": "info"}}),
    };
    let text = doc.to_string();
    let desc = format!("big payload, {} bytes, n {n}, same urls {same}: {}", text.len(), shorten(&text));
    (text, desc)
}

fn gen_intake(ctx: &Ctx, g: &mut Gen) -> IntakeCase {
    let roll = g.below(100);
    let feed = g.one_in(4);
    if roll < 45 {
        let seed = g.pick(&ctx.payloads);
        let mut desc = format!("seed {}", seed.name);
        let mut doc = seed.value.clone();
        for _ in 0..g.range(1, 4) {
            mutate(g, &mut doc, &seed.paths, &mut desc);
        }
        let text = serde_json::to_string(&doc).expect("a Value serializes");
        IntakeCase { kind: IntakeKind::Payload, text, desc, feed }
    } else if roll < 55 {
        let seed = g.pick(&ctx.payloads);
        let mut desc = format!("seed {}", seed.name);
        let text = mutate_text(g, &seed.text, &mut desc);
        IntakeCase { kind: IntakeKind::Payload, text, desc, feed }
    } else if roll == 55 && g.one_in(3) {
        let (text, desc) = big_payload(g);
        IntakeCase { kind: IntakeKind::Payload, text, desc, feed: false }
    } else if roll < 63 {
        let mut doc = random_value(g, PAYLOAD_KEYS, 4);
        if let (Value::Object(map), true) = (&mut doc, g.one_in(2)) {
            let key = if g.one_in(2) { "event_action" } else { "alerts" };
            map.insert(key.into(), random_value(g, PAYLOAD_KEYS, 3));
        }
        let text = doc.to_string();
        IntakeCase { kind: IntakeKind::Payload, desc: format!("random: {}", shorten(&text)), text, feed }
    } else if roll < 88 {
        let (text, desc) = gen_query(g);
        IntakeCase { kind: IntakeKind::Query, text, desc, feed }
    } else if roll < 96 {
        let text = match g.below(3) {
            0 => g.pick(TIMES).to_string(),
            1 => moved_time(g, "2025-03-10T02:00:00Z"),
            _ => {
                let mut s = g.pick(TIMES).to_string();
                let mut d = String::new();
                s = mutate_text(g, &s, &mut d);
                s
            }
        };
        IntakeCase { kind: IntakeKind::Timestamp, desc: format!("timestamp {text:?}"), text, feed: false }
    } else {
        let labels: BTreeMap<String, String> = (0..g.below(4)).map(|_| (any_string(g), any_string(g))).collect();
        let text = any_string(g);
        IntakeCase { desc: format!("helpers {text:?} {labels:?}"), kind: IntakeKind::Helpers(labels), text, feed: false }
    }
}

fn run_intake(ctx: &Ctx, case: &IntakeCase) {
    let mut n = 0;
    let mut new_id = || {
        n += 1;
        IncidentId::from(format!("intake-{n}"))
    };
    let inputs = match &case.kind {
        // Both Alertmanager modes: one incident per group (the default) and one per alert.
        IntakeKind::Payload => match intake::parse_payload_detailed_with(
            &case.text,
            if case.text.len().is_multiple_of(2) { intake::AlertmanagerGrouping::PerGroup } else { intake::AlertmanagerGrouping::PerAlert },
            &mut new_id,
        ) {
            Ok(read) => read.events.into_iter().map(|e| e.input).collect(),
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        },
        IntakeKind::Query => match intake::parse_intake_query(&case.text) {
            Ok(details) => vec![Input::Open { id: "from-link".into(), by: Actor::person("alice"), details }],
            Err(e) => {
                let _ = e.to_string();
                return;
            }
        },
        IntakeKind::Timestamp => {
            let _ = intake::parse_timestamp(&case.text);
            return;
        }
        IntakeKind::Helpers(labels) => {
            let _ = intake::severity_from_word(&case.text);
            let _ = intake::is_evidence_url(&case.text);
            let _ = intake::alertmanager::label_fingerprint(labels);
            return;
        }
    };
    ACCEPTED[2].fetch_add(1, Ordering::Relaxed);
    if case.feed {
        let mut engine = Engine::new();
        for input in inputs {
            let _ = engine.handle(&ctx.world, t0(), input);
        }
        let _ = engine.handle_timeout(&ctx.world, t0() + Duration::hours(2));
    }
}

// ---------------------------------------------------------------------------------------------
// Running cases

/// Cases whose input was accepted (a backup restored, a payload or link read), per target.
static ACCEPTED: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// `--case`: the hook also records a backtrace.
static WITH_BACKTRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The last panic on this thread: message and location (set by the silent hook).
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

fn install_silent_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            s.to_string()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(a panic without a message)".to_string()
        };
        let mut location = info.location().map_or_else(|| "(unknown location)".to_string(), |l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        if WITH_BACKTRACE.load(Ordering::Relaxed) {
            let _ = write!(location, "\n{}", std::backtrace::Backtrace::force_capture());
        } else if !location.starts_with("src/") && !location.starts_with("examples/") {
            if let Some(i) = location.find("/registry/src/") {
                let rest = &location[i + "/registry/src/".len()..];
                location = rest.split_once('/').map_or(rest, |(_, r)| r).to_string();
            }
            // A panic inside a dependency (chrono): name the Piket function that called it.
            let trace = std::backtrace::Backtrace::force_capture().to_string();
            if let Some(frame) = trace.lines().map(str::trim).find(|l| l.contains("piket::")) {
                let name = frame.split_once(": ").map_or(frame, |(_, n)| n);
                let _ = write!(location, " (called from {name})");
            }
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
    }));
}

struct Finding {
    target: usize,
    case: u64,
    message: String,
    location: String,
    input: String,
}

enum Generated {
    Backup(BackupCase),
    Engine(EngineCase),
    Intake(IntakeCase),
}

fn target_of(case: u64, only: Option<usize>) -> usize {
    only.unwrap_or((case % 3) as usize)
}

fn generate(ctx: &Ctx, seed: u64, case: u64, target: usize) -> Generated {
    let mut g = Gen::new(seed, case);
    match target {
        0 => Generated::Backup(gen_backup(ctx, &mut g)),
        1 => Generated::Engine(gen_engine(&mut g)),
        _ => Generated::Intake(gen_intake(ctx, &mut g)),
    }
}

/// The whole input of a case, for `--case K`.
fn describe_full(generated: &Generated) -> String {
    match generated {
        Generated::Backup(c) => format!("{}\nnow {}, deep {}, attempts {}\n{}", c.desc, c.now.to_rfc3339(), c.deep, describe_plan(c.salt), c.text),
        Generated::Engine(c) => {
            let mut s = match c.driver {
                true => format!("through a Driver<MemoryStore>, then delivery attempts: {}\n", describe_plan(c.salt)),
                false => "through the pure Engine\n".to_string(),
            };
            for op in &c.ops {
                s.push_str(&render_op(op));
                s.push('\n');
            }
            s
        }
        Generated::Intake(c) => format!("{}\n{}", c.desc, c.text),
    }
}

/// What one case came to.
enum Verdict {
    Fine,
    Panicked(Finding),
    /// Set aside before a catch-up that would take minutes (see [`run_backup`]).
    SetAside(String),
}

/// Runs one case.
fn run_case(ctx: &Ctx, seed: u64, case: u64, target: usize) -> Verdict {
    let generated = generate(ctx, seed, case, target);
    let progress = Cell::new(0);
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let result = catch_unwind(AssertUnwindSafe(|| match &generated {
        Generated::Backup(c) => run_backup(c, &progress),
        Generated::Engine(c) => {
            run_engine(ctx, c, &progress);
            None
        }
        Generated::Intake(c) => {
            run_intake(ctx, c);
            None
        }
    }));
    match result {
        Ok(None) => return Verdict::Fine,
        Ok(Some(why)) => return Verdict::SetAside(why),
        Err(_) => {}
    }
    let (message, location) = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| ("(no message recorded)".into(), "?".into()));
    let input = match &generated {
        Generated::Backup(c) if progress.get() == 1 => shorten(&format!("delivery attempts after restoring: {} | restored: {}", describe_plan(c.salt), c.desc)),
        Generated::Backup(c) => shorten(&c.desc),
        Generated::Engine(c) => {
            let i = progress.get();
            let via = if c.driver { "driver" } else { "engine" };
            let mut s = match c.ops.get(i) {
                Some(op) => format!("{via}, op {} of {}: {}", i + 1, c.ops.len(), render_op(op)),
                None => format!("{via}, delivery attempts after {} ops: {}", c.ops.len(), describe_plan(c.salt)),
            };
            if i > 0 {
                let _ = write!(s, " (after {})", c.ops[..i.min(c.ops.len())].iter().map(render_op).collect::<Vec<_>>().join(" | "));
            }
            shorten(&s)
        }
        Generated::Intake(c) => shorten(&format!("{}: {}", c.desc, c.text)),
    };
    Verdict::Panicked(Finding { target, case, message, location, input })
}

/// Counts shared by the workers (and read by the watchdog when a case hangs).
#[derive(Default)]
struct Totals {
    cases: [AtomicU64; 3],
    panics: [AtomicU64; 3],
    nanos: [AtomicU64; 3],
    /// Cases over 10 ms per target, and their time.
    slow: [AtomicU64; 3],
    slow_nanos: [AtomicU64; 3],
    set_aside: [AtomicU64; 3],
    /// Distinct panics (by location and message; at most 200), each with the lowest case that
    /// hit it and how many did; set-aside cases (the first 20); the slowest cases (5).
    findings: Mutex<Vec<(Finding, u64)>>,
    set_aside_notes: Mutex<Vec<(u64, usize, String)>>,
    slowest: Mutex<Vec<(u64, u64, usize)>>,
}

impl Totals {
    fn add(&self, target: usize, case: u64, nanos: u64, verdict: Verdict) {
        self.cases[target].fetch_add(1, Ordering::Relaxed);
        self.nanos[target].fetch_add(nanos, Ordering::Relaxed);
        if nanos > 10_000_000 {
            self.slow[target].fetch_add(1, Ordering::Relaxed);
            self.slow_nanos[target].fetch_add(nanos, Ordering::Relaxed);
            let mut slowest = self.slowest.lock().unwrap();
            slowest.push((nanos, case, target));
            slowest.sort_by_key(|b| std::cmp::Reverse(b.0));
            slowest.truncate(5);
        }
        match verdict {
            Verdict::Fine => {}
            Verdict::Panicked(f) => {
                self.panics[target].fetch_add(1, Ordering::Relaxed);
                let mut findings = self.findings.lock().unwrap();
                match findings.iter().position(|(d, _)| d.location == f.location && d.message == f.message) {
                    Some(i) => {
                        let (first, n) = &mut findings[i];
                        *n += 1;
                        if f.case < first.case {
                            *first = f;
                        }
                    }
                    None if findings.len() < 200 => findings.push((f, 1)),
                    None => {}
                }
            }
            Verdict::SetAside(why) => {
                self.set_aside[target].fetch_add(1, Ordering::Relaxed);
                let mut notes = self.set_aside_notes.lock().unwrap();
                if notes.len() < 20 {
                    notes.push((case, target, why));
                }
            }
        }
    }

    fn get(counts: &[AtomicU64; 3]) -> [u64; 3] {
        [0, 1, 2].map(|i| counts[i].load(Ordering::Relaxed))
    }

    /// Everything after the run: speeds, slow and set-aside cases, the first distinct panics,
    /// and the summary line. Returns the number of panics.
    fn report(&self, seed: u64, secs: f64) -> u64 {
        let (cases, panics, nanos) = (Totals::get(&self.cases), Totals::get(&self.panics), Totals::get(&self.nanos));
        let (total, total_panics) = (cases.iter().sum::<u64>(), panics.iter().sum::<u64>());
        let speed: Vec<String> =
            (0..3).filter(|&i| cases[i] > 0).map(|i| format!("{} {:.0}/s", TARGETS[i], cases[i] as f64 / (nanos[i] as f64 / 1e9).max(1e-9))).collect();
        println!("fuzz: speed per thread: {}; overall {:.0} cases/s", speed.join(", "), total as f64 / secs.max(1e-9));
        let (slow, slow_nanos) = (Totals::get(&self.slow), Totals::get(&self.slow_nanos));
        let over: Vec<String> = (0..3).filter(|&i| cases[i] > 0).map(|i| format!("{} {} ({:.1} s)", TARGETS[i], slow[i], slow_nanos[i] as f64 / 1e9)).collect();
        let slowest: Vec<String> =
            self.slowest.lock().unwrap().iter().map(|(n, k, t)| format!("case {k} ({}) {:.2} s", TARGETS[*t], *n as f64 / 1e9)).collect();
        println!("fuzz: cases over 10 ms: {}; slowest: {}", over.join(", "), if slowest.is_empty() { "none".into() } else { slowest.join(", ") });
        let accepted = Totals::get(&ACCEPTED);
        let share = |i: usize| 100.0 * accepted[i] as f64 / cases[i].max(1) as f64;
        println!("fuzz: inputs accepted and used further: backups {:.0} %, intake payloads and links {:.0} % of their cases", share(0), share(2));
        let set_aside = Totals::get(&self.set_aside);
        if set_aside.iter().sum::<u64>() > 0 {
            let notes = self.set_aside_notes.lock().unwrap();
            println!(
                "fuzz: {} case(s) set aside before a catch-up of minutes or hours (not run further, not counted as panics); the first: case {}: {}",
                set_aside.iter().sum::<u64>(),
                notes[0].0,
                notes[0].2
            );
        }
        let mut distinct = self.findings.lock().unwrap();
        if total_panics > 0 {
            distinct.sort_by_key(|(f, _)| f.case);
            println!("fuzz: {} distinct panic(s); the first {}:", distinct.len(), distinct.len().min(5));
            for (f, n) in distinct.iter().take(5) {
                println!("\n  [{}] {} (×{n}, first in case {})", TARGETS[f.target], f.location, f.case);
                println!("    message: {}", shorten(&f.message));
                println!("    input:   {}", f.input);
                println!("    replay:  cargo run --profile fuzz --example fuzz -- --seed {seed} --case {}", f.case);
            }
            for (f, n) in distinct.iter().skip(5) {
                println!("  also [{}] {} (×{n}, first in case {}): {}", TARGETS[f.target], f.location, f.case, shorten(&f.message));
            }
            println!();
        }
        println!(
            "fuzz: {total} cases, {total_panics} panics (backups {}/{}, engine {}/{}, intake {}/{}) in {secs:.1} s",
            cases[0], panics[0], cases[1], panics[1], cases[2], panics[2]
        );
        total_panics
    }
}

/// What each worker is doing, for the hang watchdog: case number + 1 (0 = idle) and since when.
struct Busy {
    case: AtomicU64,
    since_ms: AtomicU64,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz: {e}\nusage: fuzz [--cases N] [--seed S] [--target backups|engine|intake] [--threads T] [--case K]");
            return ExitCode::from(2);
        }
    };
    let setup = Instant::now();
    let ctx = build_ctx();
    install_silent_hook();

    if let Some(k) = args.case {
        let target = target_of(k, args.target);
        println!("fuzz: case {k} ({}), seed {}:\n{}", TARGETS[target], args.seed, describe_full(&generate(&ctx, args.seed, k, target)));
        match generate(&ctx, args.seed, k, target) {
            Generated::Backup(c) => println!("fuzz: parse_backup: {:?}", parse_backup(&c.text).map(|r| r.counts)),
            Generated::Intake(c) if matches!(c.kind, IntakeKind::Payload) => {
                println!("fuzz: parse_payload: {:?}", intake::parse_payload(&c.text, &mut || "id".into()))
            }
            Generated::Intake(c) if matches!(c.kind, IntakeKind::Query) => println!("fuzz: parse_intake_query: {:?}", intake::parse_intake_query(&c.text)),
            _ => {}
        }
        WITH_BACKTRACE.store(true, Ordering::Relaxed);
        return match run_case(&ctx, args.seed, k, target) {
            Verdict::Fine => {
                println!("fuzz: case {k} did not panic");
                ExitCode::SUCCESS
            }
            Verdict::SetAside(why) => {
                println!("fuzz: case {k} was set aside: {why}");
                ExitCode::SUCCESS
            }
            Verdict::Panicked(f) => {
                println!("fuzz: case {k} panicked at {}: {}", f.location, f.message);
                ExitCode::FAILURE
            }
        };
    }

    println!(
        "fuzz: {} cases, seed {}, {} thread(s){} (set-up {:.1} s)",
        args.cases,
        args.seed,
        args.threads,
        args.target.map_or(String::new(), |t| format!(", only {}", TARGETS[t])),
        setup.elapsed().as_secs_f32()
    );
    let started = Instant::now();
    let totals = Totals::default();
    let busy: Vec<Busy> = (0..args.threads).map(|_| Busy { case: AtomicU64::new(0), since_ms: AtomicU64::new(0) }).collect();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let ms = || started.elapsed().as_millis() as u64;
    std::thread::scope(|s| {
        for me in &busy {
            let (ctx, totals, next, done, args) = (&ctx, &totals, &next, &done, &args);
            s.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= args.cases {
                    me.case.store(0, Ordering::Relaxed);
                    break;
                }
                let target = target_of(k, args.target);
                me.since_ms.store(ms(), Ordering::Relaxed);
                me.case.store(k + 1, Ordering::Relaxed);
                let case_started = Instant::now();
                let verdict = run_case(ctx, args.seed, k, target);
                totals.add(target, k, case_started.elapsed().as_nanos() as u64, verdict);
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Progress every 30 s, and the hang watchdog: a case that runs for minutes is reported
        // with its input, the summary of what ran is printed, and the run ends (a thread stuck in
        // a loop cannot be stopped from outside).
        s.spawn(|| {
            let mut last_report = Instant::now();
            while done.load(Ordering::Relaxed) < args.cases {
                std::thread::sleep(StdDuration::from_millis(200));
                if last_report.elapsed() >= StdDuration::from_secs(30) {
                    last_report = Instant::now();
                    let n = done.load(Ordering::Relaxed);
                    println!("fuzz: {n} cases done ({:.0} cases/s)", n as f64 / started.elapsed().as_secs_f64());
                }
                // The case that has run longest is the one hung, or the one eating memory.
                let longest = busy
                    .iter()
                    .filter(|b| b.case.load(Ordering::Relaxed) > 0)
                    .map(|b| (ms().saturating_sub(b.since_ms.load(Ordering::Relaxed)), b.case.load(Ordering::Relaxed) - 1))
                    .max();
                let Some((running_ms, k)) = longest else { continue };
                let memory = resident_bytes().filter(|m| *m > MEMORY_LIMIT);
                if running_ms <= HANG_AFTER.as_millis() as u64 && memory.is_none() {
                    continue;
                }
                let (what, message) = match memory {
                    Some(m) => {
                        ("MEMORY", format!("memory: the process holds {:.1} GiB after {:.0} s of this case", m as f64 / GIB, running_ms as f64 / 1000.0))
                    }
                    None => ("HANG", format!("hung: still running after {} s", HANG_AFTER.as_secs())),
                };
                let target = target_of(k, args.target);
                let input = shorten(&describe_full(&generate(&ctx, args.seed, k, target)));
                println!("fuzz: {what}: case {k} ({}): {message}; input:\n  {input}", TARGETS[target]);
                println!("  replay: cargo run --profile fuzz --example fuzz -- --seed {} --case {k}", args.seed);
                println!("fuzz: the case counts as a panic of its target, and the run stops here");
                let finding = Finding { target, case: k, message, location: format!("({})", what.to_lowercase()), input };
                totals.add(target, k, running_ms * 1_000_000, Verdict::Panicked(finding));
                totals.report(args.seed, started.elapsed().as_secs_f64());
                std::process::exit(1);
            }
        });
    });
    let panics = totals.report(args.seed, started.elapsed().as_secs_f64());
    if panics > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
