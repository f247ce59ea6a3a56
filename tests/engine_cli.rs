#![cfg(not(target_arch = "wasm32"))]
//! The `piket` command line: simulate an example scenario, check files, fail clearly on bad input.

use std::process::Command;

fn piket(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_piket")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().expect("piket runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn simulate_prints_the_timeline_as_json_lines() {
    let (code, stdout, stderr) = piket(&["simulate", "examples/scenario-sev1-night.json"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    for l in &lines {
        for field in ["time", "kind", "incident", "level", "target", "person", "key"] {
            assert!(l.get(field).is_some(), "{field} missing in {l}");
        }
    }
    let pages: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter(|l| l["kind"] == "paged" || l["kind"] == "posted")
        .map(|l| (l["time"].as_str().unwrap(), l["incident"].as_str().unwrap(), l["target"].as_str().unwrap()))
        .take(5)
        .collect();
    assert_eq!(
        pages,
        [
            ("2025-03-05T01:00:00Z", "inc-1", "schedule:primary"),
            ("2025-03-05T01:10:00Z", "inc-1", "schedule:backup"),
            ("2025-03-05T01:10:00Z", "inc-1", "person:sam"),
            ("2025-03-05T01:55:00Z", "inc-1", "person:erin"),
            ("2025-03-05T01:55:00Z", "inc-1", "channel:major-incident"),
        ]
    );
}

#[test]
fn every_example_checks() {
    for (kind, file) in [
        ("people", "people"),
        ("schedules", "schedules"),
        ("policies", "policies"),
        ("rules", "rules"),
        ("world", "world"),
        ("scenario", "scenario-sev1-night"),
    ] {
        let path = format!("examples/{file}.json");
        let (code, stdout, stderr) = piket(&["check", kind, &path]);
        assert_eq!((code, stdout.trim()), (0, format!("{path}: ok").as_str()), "stderr: {stderr}");
    }
}

#[test]
fn bad_input_fails_with_the_path_and_a_non_zero_exit() {
    let dir = std::env::temp_dir().join(format!("piket-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"world":{"policies":[{"id":"p","levels":[{"targets":[{"person":"a"}],"ack_timeout":-5}]}]},"inputs":[]}"#).unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["simulate", bad.to_str().unwrap()], 1, "world.policies[0].levels[0].ack_timeout: expected minutes > 0"),
        (vec!["simulate", "examples/no-such-file.json"], 1, "cannot read"),
        (vec!["check", "poetry", "examples/people.json"], 2, "unknown kind"),
        (vec!["simulate"], 2, "usage"),
    ];
    for (args, want_code, want_err) in cases {
        let (code, stdout, stderr) = piket(&args);
        assert_eq!(code, want_code, "{args:?}: {stderr}");
        assert!(stderr.contains(want_err), "{args:?}: stderr “{stderr}” lacks “{want_err}”");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
