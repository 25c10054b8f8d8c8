//! Operator commands on a real binary: `fail` (force-fail a task, with its errors), `workers`
//! (the registry is empty once workers have stopped) and `status` showing a task's subtasks.

mod common;
use common::command as coursetasks;

use std::path::Path;
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run coursetasks")
}

fn ok_json(cmd: &mut Command) -> serde_json::Value {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// The embedded sample course written to `dir/course` and imported.
fn import_sample(db: &Path, dir: &Path) {
    let root = dir.join("course");
    for (name, bytes) in coursetasks_sample::sample_course_files() {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let out = run(coursetasks(db).arg("import-course").arg(&root));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn submit_reset_all(db: &Path) -> String {
    let submitted = ok_json(coursetasks(db).args([
        "submit",
        "reset-attempts",
        "--course",
        coursetasks_sample::SAMPLE_COURSE_KEY,
        "--problem",
        coursetasks_sample::WRONG_KEY_PROBLEM,
        "--all",
        "--json",
    ]));
    submitted["task_id"].as_str().unwrap().to_owned()
}

#[test]
fn fail_marks_a_task_failure_and_says_why_it_cannot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ops.db");
    import_sample(&db, dir.path());
    let id = submit_reset_all(&db);

    let missing_reason = run(coursetasks(&db).args(["fail", &id, "--reason", "  "]));
    assert_eq!(missing_reason.status.code(), Some(2));
    let unknown = run(coursetasks(&db).args([
        "fail",
        "00000000-0000-4000-8000-000000000000",
        "--reason",
        "x",
    ]));
    assert_eq!(unknown.status.code(), Some(3));

    let failed =
        ok_json(coursetasks(&db).args(["fail", &id, "--reason", "stuck since Monday", "--json"]));
    assert_eq!(failed["state"], "FAILURE");
    let status = ok_json(coursetasks(&db).args(["status", &id, "--json"]));
    assert_eq!(status["state"], "FAILURE");
    assert!(
        status.to_string().contains("stuck since Monday"),
        "{status}"
    );

    let again = run(coursetasks(&db).args(["fail", &id, "--reason", "again"]));
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already finished"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn a_worker_runs_split_subtasks_and_leaves_the_registry_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ops.db");
    import_sample(&db, dir.path());
    let empty = ok_json(coursetasks(&db).args(["workers", "--json"]));
    assert_eq!(empty, serde_json::json!([]));

    // A task over no learners still gets one subtask; the worker plans, runs and ends it.
    let id = submit_reset_all(&db);
    let out = run(coursetasks(&db).args([
        "worker",
        "--exit-when-idle",
        "--concurrency",
        "2",
        "--subtask-size",
        "1",
    ]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = ok_json(coursetasks(&db).args(["status", &id, "--json"]));
    assert_eq!(status["state"], "SUCCESS");
    let subtasks = status["subtasks"].as_array().unwrap();
    assert_eq!(subtasks.len(), 1);
    assert_eq!(subtasks[0]["state"], "SUCCESS");
    let text = run(coursetasks(&db).args(["status", &id]));
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("subtasks: 1 (1 success)"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    assert_eq!(
        ok_json(coursetasks(&db).args(["workers", "--json"])),
        serde_json::json!([]),
        "stopped workers remove themselves"
    );
}
