//! `piket`: the native command-line tool. Checks Piket's JSON files and runs scenarios on a virtual
//! clock, so a policy can be tested in CI the way `amtool` checks Alertmanager routes.
//!
//! ```text
//! piket simulate SCENARIO.json         timeline as JSON lines
//! piket check KIND FILE.json           KIND: world, people, schedules, policies, rules, scenario
//! piket check backup FILE.json         exactly the checks a restore in the app runs
//! piket report BACKUP.json [--from T] [--to T] [--service S] [--team T] [--severity sevN] [--policy P]
//!                                      every figure of the Reports screen, as JSON
//! piket report BACKUP.json --csv [...] the incident list with every metric's column
//! piket calendar WORLD.json --schedule ID [--person ID] [--days N] [--from T]
//!                                      on-call shifts as an iCalendar file
//! piket audit export BACKUP.json       the audit log (JSON Lines)
//! piket audit verify FILE              checks every link; names the first broken one
//! ```
//!
//! `T` is an RFC 3339 time or a date (`2025-03-01`, midnight UTC). A report covers the 30 days up to
//! the backup's `exported_at` unless told otherwise, and counts open incidents as of that moment;
//! a calendar starts now (or `--from`) and covers 28 days.
//!
//! Exit status: 0 when fine, 1 when a file is unreadable or invalid (every problem on stderr,
//! named by its JSON path), 2 on a usage error. Never part of the wasm bundle: on wasm32 this file
//! compiles to an empty `main`.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    std::process::ExitCode::from(cli::run(&args, &mut stdout, &mut stderr))
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::io::Write;

    use piket::engine::format;

    use chrono::{DateTime, Duration, NaiveDate, Utc};
    use piket::insight;

    const USAGE: &str = "usage:\n  piket simulate SCENARIO.json\n  piket check (world|people|schedules|policies|rules|scenario|backup) FILE.json\n  piket report BACKUP.json [--from T] [--to T] [--service S] [--team T] [--severity sevN] [--policy P] [--csv]\n  piket calendar WORLD.json --schedule ID [--person ID] [--days N] [--from T]\n  piket audit export BACKUP.json\n  piket audit verify FILE";

    pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["simulate", path] => simulate(path, out, err),
            ["check", kind, path] => check(kind, path, out, err),
            ["report", path, rest @ ..] => report_cmd(path, rest, out, err),
            ["calendar", path, rest @ ..] => calendar_cmd(path, rest, out, err),
            ["audit", "export", path] => audit_export(path, out, err),
            ["audit", "verify", path] => audit_verify(path, out, err),
            ["help" | "--help" | "-h"] => {
                let _ = writeln!(out, "{USAGE}");
                0
            }
            _ => {
                let _ = writeln!(err, "{USAGE}");
                2
            }
        }
    }

    fn read(path: &str, err: &mut dyn Write) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                let _ = writeln!(err, "{path}: cannot read: {e}");
                None
            }
        }
    }

    fn report(path: &str, errors: &format::FormatErrors, err: &mut dyn Write) -> u8 {
        for e in &errors.0 {
            let _ = writeln!(err, "{path}: {e}");
        }
        1
    }

    fn simulate(path: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let Some(text) = read(path, err) else { return 1 };
        let scenario = match format::parse_scenario(&text) {
            Ok(s) => s,
            Err(e) => return report(path, &e, err),
        };
        for line in format::simulate(&scenario).lines {
            let Ok(json) = serde_json::to_string(&line) else { return 1 };
            if writeln!(out, "{json}").is_err() {
                return 1;
            }
        }
        0
    }

    fn check(kind: &str, path: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let Some(text) = read(path, err) else { return 1 };
        if kind == "backup" {
            // The very function Settings → Restore runs before writing anything.
            return match piket::storage::backup::parse_backup(&text) {
                Ok(restore) => {
                    let total: usize = restore.counts.values().sum();
                    let _ = writeln!(out, "{path}: ok ({total} records)");
                    0
                }
                Err(e) => {
                    let _ = writeln!(err, "{path}: {e}");
                    1
                }
            };
        }
        let result = match kind {
            "world" => format::parse_world(&text).map(|_| ()),
            "people" => format::parse_people(&text).map(|_| ()),
            "schedules" => format::parse_schedules(&text).map(|_| ()),
            "policies" => format::parse_policies(&text).map(|_| ()),
            "rules" => format::parse_rules(&text).map(|_| ()),
            "scenario" => format::parse_scenario(&text).map(|_| ()),
            _ => {
                let _ = writeln!(err, "unknown kind “{kind}”\n{USAGE}");
                return 2;
            }
        };
        match result {
            Ok(()) => {
                let _ = writeln!(out, "{path}: ok");
                0
            }
            Err(e) => report(path, &e, err),
        }
    }

    /// `--name value` pairs (and bare flags) after the file; `Err` names what is wrong.
    fn options<'a>(rest: &[&'a str], flags: &[&str]) -> Result<std::collections::BTreeMap<&'a str, &'a str>, String> {
        let mut map = std::collections::BTreeMap::new();
        let mut i = 0;
        while i < rest.len() {
            let name = rest[i];
            if flags.contains(&name) {
                map.insert(name, "");
                i += 1;
                continue;
            }
            let Some(value) = rest.get(i + 1).filter(|_| name.starts_with("--")) else { return Err(format!("unexpected “{name}”")) };
            map.insert(name, *value);
            i += 2;
        }
        Ok(map)
    }

    fn time(text: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(t.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("“{text}” is not a time (2025-03-01 or 2025-03-01T09:00:00Z)"))
    }

    fn usage_error(why: &str, err: &mut dyn Write) -> u8 {
        let _ = writeln!(err, "{why}\n{USAGE}");
        2
    }

    fn report_cmd(path: &str, rest: &[&str], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let opts = match options(rest, &["--csv"]) {
            Ok(o) => o,
            Err(why) => return usage_error(&why, err),
        };
        if let Some(bad) = opts.keys().find(|k| !["--from", "--to", "--service", "--team", "--severity", "--policy", "--csv"].contains(k)) {
            return usage_error(&format!("unknown option “{bad}”"), err);
        }
        let Some(text) = read(path, err) else { return 1 };
        let history = match piket::storage::backup::read_history(&text) {
            Ok(h) => h,
            Err(e) => {
                let _ = writeln!(err, "{path}: {e}");
                return 1;
            }
        };
        let to = match opts.get("--to").map(|t| time(t)).transpose() {
            Ok(t) => t.unwrap_or(history.exported_at),
            Err(why) => return usage_error(&why, err),
        };
        let from = match opts.get("--from").map(|t| time(t)).transpose() {
            Ok(t) => t.unwrap_or(to - Duration::days(30)),
            Err(why) => return usage_error(&why, err),
        };
        if from >= to {
            return usage_error("--from must come before --to", err);
        }
        let mut query = insight::ReportQuery::period(from, to);
        query.service = opts.get("--service").map(|s| s.to_string());
        query.team = opts.get("--team").map(|s| (*s).into());
        query.policy = opts.get("--policy").map(|s| (*s).into());
        if let Some(s) = opts.get("--severity") {
            match serde_json::from_value(serde_json::Value::String(s.to_string())) {
                Ok(sev) => query.severity = Some(sev),
                Err(_) => return usage_error(&format!("“{s}” is not a severity (sev1 … sev4)"), err),
            }
        }
        if opts.contains_key("--csv") {
            let rows = insight::incident_rows(&history.world, &history.incidents, &query);
            return if out.write_all(insight::csv(&rows).as_bytes()).is_ok() { 0 } else { 1 };
        }
        let report = insight::report(&history.world, &history.incidents, &query, history.exported_at);
        match serde_json::to_string_pretty(&report) {
            Ok(json) if writeln!(out, "{json}").is_ok() => 0,
            _ => 1,
        }
    }

    fn calendar_cmd(path: &str, rest: &[&str], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let opts = match options(rest, &[]) {
            Ok(o) => o,
            Err(why) => return usage_error(&why, err),
        };
        if let Some(bad) = opts.keys().find(|k| !["--schedule", "--person", "--days", "--from"].contains(k)) {
            return usage_error(&format!("unknown option “{bad}”"), err);
        }
        let schedule = opts.get("--schedule").copied();
        let person = opts.get("--person").copied();
        if schedule.is_none() && person.is_none() {
            return usage_error("say --schedule ID, --person ID, or both", err);
        }
        let days = match opts.get("--days").map(|d| d.parse::<i64>()) {
            None => 28,
            Some(Ok(d)) => d,
            Some(Err(_)) => return usage_error("--days takes a number of days", err),
        };
        let now = Utc::now();
        let from = match opts.get("--from").map(|t| time(t)).transpose() {
            Ok(t) => t.unwrap_or(now),
            Err(why) => return usage_error(&why, err),
        };
        let Some(text) = read(path, err) else { return 1 };
        let world = match format::parse_world(&text) {
            Ok(w) => w,
            Err(e) => return report(path, &e, err),
        };
        let ics = match person {
            Some(p) => insight::calendar::person_ics(&world, p, schedule, from, days, now),
            None => insight::calendar::schedule_ics(&world, schedule.unwrap_or_default(), from, days, now),
        };
        match ics {
            Ok(ics) => {
                if out.write_all(ics.as_bytes()).is_ok() {
                    0
                } else {
                    1
                }
            }
            Err(e) => {
                let _ = writeln!(err, "{path}: {e}");
                1
            }
        }
    }

    fn audit_export(path: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let Some(text) = read(path, err) else { return 1 };
        match piket::storage::backup::read_history(&text) {
            Ok(h) => {
                // The links stored in the file; computed only where it has none.
                let none = Vec::new();
                let trails =
                    h.incidents.iter().map(|i| piket::audit::Trail { incident: &i.id, entries: &i.timeline, links: h.links.get(&i.id).unwrap_or(&none) });
                if out.write_all(piket::audit::export_linked(trails).as_bytes()).is_ok() {
                    0
                } else {
                    1
                }
            }
            Err(e) => {
                let _ = writeln!(err, "{path}: {e}");
                1
            }
        }
    }

    fn audit_verify(path: &str, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let Some(text) = read(path, err) else { return 1 };
        match piket::audit::verify(&text) {
            Ok(s) => {
                let _ = writeln!(out, "{path}: ok ({} entries of {} incidents over {} days; last chain head {})", s.entries, s.incidents, s.days, s.head);
                0
            }
            Err(broken) => {
                let _ = writeln!(err, "{path}: broken link at {broken}");
                1
            }
        }
    }
}
