//! `piket`: the native command-line tool. Checks Piket's JSON files and runs scenarios on a virtual
//! clock, so a policy can be tested in CI the way `amtool` checks Alertmanager routes.
//!
//! ```text
//! piket simulate SCENARIO.json         timeline as JSON lines
//! piket check KIND FILE.json           KIND: world, people, schedules, policies, rules, scenario
//! piket check backup FILE.json         exactly the checks a restore in the app runs
//! ```
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

    const USAGE: &str = "usage:\n  piket simulate SCENARIO.json\n  piket check (world|people|schedules|policies|rules|scenario|backup) FILE.json";

    pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["simulate", path] => simulate(path, out, err),
            ["check", kind, path] => check(kind, path, out, err),
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
}
