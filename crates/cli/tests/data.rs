//! The data commands as an operator runs them: import-course (demo course, malformed exports that
//! store nothing), problems, import-learners / import-state (bad rows, --strict) / export-state
//! round trips, and events as Open edX tracking-log lines.

mod common;
use common::command as coursetasks;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run coursetasks")
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The sample course written to a folder, with `edit` applied to its files first.
fn sample_folder(dir: &Path, edit: impl FnOnce(&mut coursetasks_olx::FileMap)) -> PathBuf {
    let mut files = coursetasks_sample::sample_course_files();
    edit(&mut files);
    let root = dir.join("course");
    for (name, bytes) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    root
}

/// A change to the sample course's files.
type Edit = Box<dyn FnOnce(&mut coursetasks_olx::FileMap)>;

const SAMPLE: &str = coursetasks_sample::SAMPLE_COURSE_KEY;

#[test]
fn demo_course_import_prints_counts_rescorability_and_changes() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/openedx-demo-course/demo-course/course");
    if !demo.join("course.xml").exists() {
        println!(
            "SKIP: the Open edX demo course is not at {}",
            demo.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let text = ok(coursetasks(&db).arg("import-course").arg(&demo));
    assert!(
        text.contains("imported course-v1:OpenedX+DemoX+DemoCourse"),
        "{text}"
    );
    assert!(text.contains("29 problems"), "{text}");
    assert!(
        text.contains("problems: 22 of 29 can be rescored"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["multiplechoiceresponse", "9"]),
        "{text}"
    );
    assert!(text.contains("new, v1"), "{text}");
    // Again, as JSON: nothing changed.
    let json: serde_json::Value = serde_json::from_str(&ok(coursetasks(&db)
        .arg("import-course")
        .arg(&demo)
        .arg("--json")))
    .unwrap();
    assert_eq!(json["changed_problems"], serde_json::json!([]));
    assert_eq!(json["block_counts"]["problem"], 29);
    let problems: serde_json::Value = serde_json::from_str(&ok(coursetasks(&db).args([
        "problems",
        "--course",
        "course-v1:OpenedX+DemoX+DemoCourse",
        "--json",
    ])))
    .unwrap();
    let problems = problems.as_array().unwrap();
    assert_eq!(problems.len(), 29);
    let custom = problems
        .iter()
        .find(|p| {
            p["usage_key"]
                .as_str()
                .unwrap()
                .ends_with("53083a812536472ba8ea8182ee354363")
        })
        .unwrap();
    assert_eq!(
        custom["response_types"],
        serde_json::json!(["customresponse"])
    );
    assert!(
        custom["not_rescorable"]
            .as_str()
            .unwrap()
            .contains("<script"),
        "{custom}"
    );
}

#[test]
fn malformed_exports_are_reported_with_file_and_line_and_store_nothing() {
    let cases: [(&str, Edit, &str); 3] = [
        (
            "bad XML",
            Box::new(|f| {
                f.insert(
                    "problem/units_mc.xml".into(),
                    b"<problem>\n  <multiplechoiceresponse>\n</problem>\n".to_vec(),
                );
            }),
            "problem/units_mc.xml:3",
        ),
        (
            "missing pointer target",
            Box::new(|f| {
                f.remove("problem/circle_area.xml");
            }),
            "vertical/lab_numbers.xml:3",
        ),
        (
            "bad JSON policy",
            Box::new(|f| {
                f.insert(
                    "policies/2026/policy.json".into(),
                    b"{\n  \"course/2026\": {\n    \"max_attempts\": 3,,\n  }\n}\n".to_vec(),
                );
            }),
            "policies/2026/policy.json:3",
        ),
    ];
    for (what, edit, location) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let course = sample_folder(dir.path(), edit);
        let out = run(coursetasks(&db).arg("import-course").arg(&course));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(location),
            "{what}: expected {location} in {stderr}"
        );
        assert!(stderr.contains("nothing was imported"), "{what}: {stderr}");
        let out = run(coursetasks(&db).args(["problems", "--course", SAMPLE]));
        assert_eq!(
            out.status.code(),
            Some(3),
            "{what}: the course must not exist"
        );
    }
}

#[test]
fn learner_data_round_trip_bad_rows_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let course = sample_folder(dir.path(), |_| {});
    ok(coursetasks(&db).arg("import-course").arg(&course));
    let learners = dir.path().join("users.csv");
    std::fs::write(
        &learners,
        "id,username,email\n5,ann,ann@example.com\n6,bob,bob@example.com\n",
    )
    .unwrap();
    let text = ok(coursetasks(&db).arg("import-learners").arg(&learners));
    assert!(
        text.contains("2 rows of auth_user (csv): 2 written, 0 bad"),
        "{text}"
    );

    let p = |name: &str| format!("block-v1:CourseTasks+CT101+2026+type@problem+block@{name}");
    let state = dir.path().join("state.jsonl");
    let row = |id: i64, student: i64, block: &str, grade: &str| {
        format!(
            "{{\"id\":{id},\"module_type\":\"problem\",\"module_id\":\"{}\",\"student_id\":{student},\"state\":\"{{\\\"attempts\\\": 1}}\",\"grade\":{grade},\"max_grade\":1,\"done\":\"na\",\"created\":\"2024-03-01 12:00:00.000000\",\"modified\":\"2024-03-02 12:00:00.000000\",\"course_id\":\"{SAMPLE}\"}}\n",
            p(block)
        )
    };
    let good = [row(41, 5, "units_mc", "1"), row(42, 6, "units_mc", "0")].concat();
    let bad = row(43, 77, "units_mc", "1");
    std::fs::write(&state, format!("{good}{bad}")).unwrap();

    // --strict: exit 2, nothing written.
    let out = run(coursetasks(&db)
        .arg("import-state")
        .arg(&state)
        .arg("--strict"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("row 3 (line 3), column student_id: no learner with id 77"),
        "{stdout}"
    );
    let export = ok(coursetasks(&db).args(["export-state", "--course", SAMPLE]));
    assert_eq!(export.lines().count(), 1, "only the header: {export}");

    // Without --strict: the good rows load, the bad one is reported, exit 2 says it was partial.
    let out = run(coursetasks(&db)
        .arg("import-state")
        .arg(&state)
        .arg("--json"));
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["written"].as_u64(), report["bad_rows"].as_u64()),
        (Some(2), Some(1))
    );

    // Export as JSON lines reproduces the good rows byte for byte.
    let exported = dir.path().join("out.jsonl");
    ok(coursetasks(&db)
        .args(["export-state", "--course", SAMPLE, "--output"])
        .arg(&exported));
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), good);
    // ... and into a fresh database and out again, identical.
    let db2 = dir.path().join("t2.db");
    ok(coursetasks(&db2).arg("import-course").arg(&course));
    let users = ok(coursetasks(&db).args(["export-learners", "--format", "csv"]));
    assert_eq!(users, std::fs::read_to_string(&learners).unwrap());
    ok(coursetasks(&db2).arg("import-learners").arg(&learners));
    ok(coursetasks(&db2).arg("import-state").arg(&exported));
    let again =
        ok(coursetasks(&db2).args(["export-state", "--course", SAMPLE, "--format", "jsonl"]));
    assert_eq!(again, good);
    // An unknown course is exit 3 and leaves an existing output file alone.
    let out = run(coursetasks(&db)
        .args([
            "export-state",
            "--course",
            "course-v1:No+Such+Run",
            "--output",
        ])
        .arg(&exported));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(&exported).unwrap(), good);
}

#[test]
fn events_as_tracking_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    ok(coursetasks(&db)
        .args(["demo", "--learners", "200", "--seed", "3", "--db"])
        .arg(&db));
    let text = ok(coursetasks(&db).args(["events", "--format", "tracking-log"]));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    let stored = ok(coursetasks(&db).arg("events"));
    assert_eq!(stored.lines().count(), lines.len());
    for line in &lines {
        assert_eq!(line["event_source"], "task");
        assert_eq!(line["page"], "x_module_task");
        assert_eq!(
            (
                line["ip"].as_str(),
                line["agent"].as_str(),
                line["host"].as_str()
            ),
            (Some("unknown"), Some("unknown"), Some("unknown"))
        );
        assert_eq!(line["context"]["course_id"], SAMPLE);
        assert_eq!(line["context"]["org_id"], "CourseTasks");
        assert!(line["context"]["user_id"].as_i64().unwrap() > 0);
        assert!(
            line["event"]["student"].is_string() && line["event"]["task_id"].is_string(),
            "{line}"
        );
        assert!(line["username"].is_string());
        let time = line["time"].as_str().unwrap();
        assert!(time.ends_with("+00:00") && time.len() == 32, "{time}");
        assert!(line["event_type"].as_str().unwrap().len() > 3);
    }
    assert!(lines.iter().any(|l| l["event_type"] == "problem_rescore"));
}

/// A reader that stops reading (`coursetasks events | head`) ends a command quietly and
/// successfully: no panic, no error, whatever the command prints with. The read end is closed
/// before the command writes anything, so every command meets the closed pipe on its first line.
#[test]
fn output_cut_short_by_its_reader_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    ok(coursetasks(&db)
        .args(["demo", "--learners", "200", "--seed", "3", "--db"])
        .arg(&db));
    let tasks: serde_json::Value =
        serde_json::from_str(&ok(coursetasks(&db).args(["tasks", "--json"]))).unwrap();
    let task = tasks[0]["task_id"].as_str().unwrap().to_owned();
    let problem = "block-v1:CourseTasks+CT101+2026+type@problem+block@circle_area";
    let commands: Vec<Vec<&str>> = vec![
        vec!["events"],
        vec!["events", "--format", "tracking-log"],
        vec!["outcomes", &task],
        vec!["outcomes", &task, "--json"],
        vec!["status", &task],
        vec!["tasks"],
        vec!["problems", "--course", SAMPLE],
        vec!["export-state", "--course", SAMPLE],
        vec!["export-learners"],
        vec![
            "submit",
            "reset-attempts",
            "--course",
            SAMPLE,
            "--problem",
            &problem,
            "--all",
        ],
    ];
    for args in commands {
        let mut child = coursetasks(&db)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.is_empty(),
            "{args:?}: {:?}\n{stderr}",
            out.status
        );
    }
}
