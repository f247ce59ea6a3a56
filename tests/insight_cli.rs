#![cfg(not(target_arch = "wasm32"))]
//! `piket report`, `piket calendar` and `piket audit`: the Reports figures, calendars and the audit
//! log from the command line, on a backup holding hot and archived incidents.

use std::path::PathBuf;
use std::process::Command;

use piket::storage::{archive_key, backup, ArchivedIncident, Envelope, StoredIncident, TimelineRow};
use serde::Serialize;

#[path = "fixtures/insight.rs"]
#[allow(dead_code)]
mod fixture;
use fixture::{at, incidents, now, world};

fn piket(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_piket")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("piket runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("piket-insight-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rows<T: Serialize>(items: impl IntoIterator<Item = (impl Into<String>, T)>) -> Vec<Envelope<serde_json::Value>> {
    items.into_iter().map(|(id, v)| Envelope { id: id.into(), rev: 1, updated_at: now(), value: serde_json::to_value(v).unwrap() }).collect()
}

/// The fixture's world and incidents as a backup: F (open) and D in the hot stores, every other
/// resolved incident in the archive.
fn backup_file(dir: &std::path::Path) -> PathBuf {
    let world = world();
    let (mut hot, mut archived, mut timeline) = (Vec::new(), Vec::new(), Vec::new());
    for mut i in incidents() {
        if i.is_open() || i.id == "D" {
            for (seq, entry) in i.timeline.drain(..).enumerate() {
                let row = TimelineRow { incident: i.id.clone(), seq: seq as u32, recorded_at: entry.at, entry, link: None };
                timeline.push((row.id(), row));
            }
            hot.push((i.id.clone(), StoredIncident::new(&i, None)));
        } else {
            let key = archive_key(i.resolved_at.unwrap(), &i.id);
            let recorded = i.timeline.iter().map(|e| e.at).collect();
            archived.push((key.clone(), ArchivedIncident { key, incident_id: i.id.clone(), incident: i, recorded, outbox: Vec::new(), chain: Vec::new() }));
        }
    }
    let stores = vec![
        ("people", rows(world.people.iter().map(|p| (p.id.clone(), p)))),
        ("teams", rows(world.teams.iter().map(|t| (t.id.clone(), t)))),
        ("policies", rows(world.policies.iter().map(|p| (p.id.clone(), p)))),
        ("rules", rows(world.rules.iter().map(|r| (r.id.clone(), r)))),
        ("incidents", rows(hot)),
        ("timeline", rows(timeline)),
        ("archive", rows(archived)),
    ];
    let path = dir.join("backup.json");
    std::fs::write(&path, backup::export(stores, now(), false)).unwrap();
    path
}

#[test]
fn report_prints_every_figure_as_json_counting_the_archive() {
    let d = dir("report");
    let path = backup_file(&d);
    let path = path.to_str().unwrap();
    let (code, _, stderr) = piket(&["check", "backup", path]);
    assert_eq!(code, 0, "the backup restores: {stderr}");

    let (code, stdout_week, stderr) = piket(&["report", path, "--from", "2025-03-03", "--to", "2025-03-10"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let r: serde_json::Value = serde_json::from_str(&stdout_week).unwrap();
    // The same figures as tests/insight.rs: A B C (archived), D F (hot).
    assert_eq!(r["totals"]["incidents"], 5);
    assert_eq!(r["totals"]["escalated"], 2);
    assert_eq!(r["mtta"], serde_json::json!({"count": 3, "median_s": 480, "p90_s": 720}));
    assert_eq!(r["volume"]["escalation_rate"], 0.5);
    assert_eq!(r["efficiency"]["handoff_delay"]["median_s"], 420);
    assert_eq!(r["quality"]["first_contact_resolutions"], 2);
    assert_eq!(r["fatigue"]["night_pages"], 2);
    assert_eq!(r["timers"]["ack"][0]["suggestion"], "Level 1 waits 5 min; 100 % of acks took longer — consider 10 min or a faster first page");
    assert_eq!(r["severity_accuracy"][0]["up"], 1);
    assert_eq!(r["charts"]["per_day"].as_array().unwrap().len(), 7);

    // By default: the 30 days up to the backup's time (E on 1 March counts too).
    let (code, stdout, _) = piket(&["report", path]);
    assert_eq!(code, 0);
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["totals"]["incidents"], 6);
    // Filters.
    let (_, stdout, _) = piket(&["report", path, "--service", "web", "--severity", "sev2", "--from", "2025-03-03"]);
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["totals"]["incidents"], 2, "A and B");
    // The incident list as CSV.
    let (code, csv, _) = piket(&["report", path, "--csv", "--from", "2025-03-03"]);
    assert_eq!(code, 0);
    assert!(csv.starts_with("id,title,service,"), "{csv}");
    assert!(csv.contains("\"'=SUM(A1), \"\"quoted\"\"\nsecond line\""), "{csv}");

    // Usage errors.
    assert_eq!(piket(&["report", path, "--from", "yesterday"]).0, 2);
    assert_eq!(piket(&["report", path, "--bogus", "1"]).0, 2);
    assert_eq!(piket(&["report", path, "--from", "2025-03-10", "--to", "2025-03-03"]).0, 2);
    assert_eq!(piket(&["report", "no-such-file.json"]).0, 1);
}

#[test]
fn audit_export_and_verify_name_the_first_broken_link() {
    let d = dir("audit");
    let backup = backup_file(&d);
    let (code, log, stderr) = piket(&["audit", "export", backup.to_str().unwrap()]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let good = d.join("audit.jsonl");
    std::fs::write(&good, &log).unwrap();
    let (code, stdout, _) = piket(&["audit", "verify", good.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("ok (") && stdout.contains("6 incidents"), "{stdout}");

    let lines: Vec<&str> = log.lines().collect();
    let c2 = lines.iter().position(|l| l.contains("\"incident\":\"C\",\"index\":2,")).unwrap();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "edited",
            lines
                .iter()
                .enumerate()
                .map(|(n, l)| if n == c2 { l.replacen("\"at\":\"2025-03-06T02:", "\"at\":\"2025-03-06T04:", 1) } else { l.to_string() })
                .collect(),
        ),
        ("removed", lines.iter().enumerate().filter(|(n, _)| *n != c2).map(|(_, l)| l.to_string()).collect()),
        ("reordered", {
            let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            v.swap(c2, c2 + 1);
            v
        }),
    ];
    assert_ne!(cases[0].1[c2], lines[c2], "the edit changes the line");
    for (name, text) in cases {
        let file = d.join(format!("{name}.jsonl"));
        std::fs::write(&file, text.join("\n")).unwrap();
        let (code, _, stderr) = piket(&["audit", "verify", file.to_str().unwrap()]);
        assert_eq!(code, 1, "{name}");
        assert!(stderr.contains(&format!("line {}", c2 + 1)) && stderr.contains("incident “C”"), "{name}: {stderr}");
    }
}

#[test]
fn calendar_prints_the_same_ics_the_app_exports() {
    let (code, stdout, stderr) = piket(&["calendar", "examples/world.json", "--schedule", "primary", "--days", "7", "--from", "2025-03-27"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let world = piket::engine::parse_world(&std::fs::read_to_string("examples/world.json").unwrap()).unwrap();
    let want = piket::insight::calendar::schedule_ics(&world, "primary", at("2025-03-27T00:00:00Z"), 7, now()).unwrap();
    let without_stamp = |s: &str| s.lines().filter(|l| !l.starts_with("DTSTAMP")).collect::<Vec<_>>().join("\n");
    assert_eq!(without_stamp(&stdout), without_stamp(&want));
    assert!(stdout.starts_with("BEGIN:VCALENDAR\r\n") && stdout.contains("BEGIN:VTIMEZONE") && stdout.contains("BEGIN:VEVENT"), "{stdout}");

    let person = world.people[0].id.clone();
    let (code, stdout, _) = piket(&["calendar", "examples/world.json", "--person", &person, "--from", "2025-03-27"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("BEGIN:VCALENDAR"));
    assert_eq!(piket(&["calendar", "examples/world.json"]).0, 2, "a schedule or a person is needed");
    assert_eq!(piket(&["calendar", "examples/world.json", "--schedule", "nope"]).0, 1);
}
