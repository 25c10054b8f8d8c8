//! `coursetasks token` and `coursetasks serve` as processes: a token made on the command line
//! opens the API, a revoked one does not, a task submitted over HTTP is run by the in-process
//! worker, and SIGINT stops the server cleanly; `bench --serve-load` at a small size.

mod common;

use std::io::{BufRead, Read};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, coursetasks, create_token, get_text, request, serving_addr};
use serde_json::{Value, json};

#[test]
fn tokens_open_the_api_served_with_an_in_process_worker() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("serve.db");
    let db = db.to_str().unwrap();
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sample-course");
    let (code, out) = coursetasks(db, &["import-course", sample, "--json"]);
    assert_eq!(code, 0, "{out}");
    let course = serde_json::from_str::<Value>(&out).unwrap()["course_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let learners = dir.path().join("learners.csv");
    std::fs::write(&learners, "id,username,email\n1,ana,ana@example.org\n").unwrap();
    let (code, out) = coursetasks(db, &["import-learners", learners.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");

    let created = create_token(db, "ines", "instructor", Some(&course));
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ct_"));
    let (code, out) = coursetasks(db, &["token", "list", "--json"]);
    assert_eq!(code, 0);
    assert!(!out.contains(&secret), "list never shows a secret");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()[0]["course_key"],
        course.as_str()
    );
    let (code, _) = coursetasks(
        db,
        &[
            "token",
            "create",
            "--user",
            "x",
            "--role",
            "staff",
            "--course",
            "course-v1:No+Such+Course",
        ],
    );
    assert_eq!(code, 3, "a token for an unknown course is refused");

    let (mut server, mut stderr) = Server::spawn(db, &[]);
    let addr = serving_addr(&mut stderr);

    assert_eq!(request(&addr, "GET", "/readyz", None, None).0, 200);
    assert_eq!(request(&addr, "GET", "/api/v1/courses", None, None).0, 401);
    let (status, courses) = request(&addr, "GET", "/api/v1/courses", Some(&secret), None);
    assert_eq!(status, 200);
    assert_eq!(courses[0]["key"], course.as_str());
    let (_, problems) = request(
        &addr,
        "GET",
        &format!("/api/v1/courses/{course}/problems"),
        Some(&secret),
        None,
    );
    let problem = problems
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["not_rescorable"].is_null())
        .expect("a rescorable problem")["usage_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, task) = request(
        &addr,
        "POST",
        "/api/v1/tasks",
        Some(&secret),
        Some(json!({"kind": "rescore", "course": course, "problem": problem, "learner": "ana"})),
    );
    assert_eq!(status, 201, "{task}");
    let id = task["task_id"].as_str().unwrap().to_owned();
    // The in-process worker runs it: ana never answered, so Open edX's message says so.
    let deadline = Instant::now() + Duration::from_secs(30);
    let view = loop {
        let (_, view) = request(
            &addr,
            "GET",
            &format!("/api/v1/tasks/{id}"),
            Some(&secret),
            None,
        );
        if view["state"] == "SUCCESS" || Instant::now() > deadline {
            break view;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(view["state"], "SUCCESS", "{view}");
    assert_eq!(
        view["message"],
        "Unable to find submission to be rescored for student 'ana'"
    );

    let (code, _) = coursetasks(db, &["token", "revoke", &created["id"].to_string()]);
    assert_eq!(code, 0);
    let (status, body) = request(&addr, "GET", "/api/v1/courses", Some(&secret), None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );

    // SIGINT: graceful stop, exit 0.
    let status = server.interrupt();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("ran 1 tasks"), "{rest}");
}

#[test]
fn log_format_json_writes_one_json_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("json-logs.db");
    let (mut server, mut stderr) = Server::spawn(
        db.to_str().unwrap(),
        &["--log-format", "json", "--no-worker"],
    );
    let mut next_line = || {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let json: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line:?}"));
        json
    };
    // No token exists yet: the warning comes first, as JSON too.
    let warning = next_line();
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert!(
        warning["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("no active API token"),
        "{warning}"
    );
    let serving = next_line();
    assert_eq!(serving["level"], "INFO", "{serving}");
    assert!(serving["timestamp"].is_string(), "{serving}");
    assert_eq!(serving["fields"]["in_process_worker"], false, "{serving}");
    let addr = serving["fields"]["addr"].as_str().unwrap().to_owned();

    let response = get_text(&addr, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("coursetasks_tasks{state=\"QUEUED\"} 0"),
        "{response}"
    );
    // The request log, structured.
    let request = next_line();
    assert_eq!(
        request["target"], "coursetasks_server::request",
        "{request}"
    );
    assert_eq!(request["fields"]["method"], "GET");
    assert_eq!(request["fields"]["path"], "/metrics");
    assert_eq!(request["fields"]["status"], 200);

    let status = server.interrupt();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let last: Vec<Value> = rest
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(
        last.iter()
            .any(|l| l["fields"]["message"] == "stopped; the in-process worker ran 0 tasks"),
        "{rest}"
    );
}

/// The load benchmark's path at a small size: the pollers all get answers and no request fails.
/// Its timings are the benchmark's business, never asserted here.
#[test]
fn serve_load_bench_polls_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args([
            "bench",
            "--serve-load",
            "--pollers",
            "10",
            "--modules",
            "20000",
        ])
        .args(["--json", "--dir", dir.path().to_str().unwrap()])
        .env_remove("RUST_LOG")
        .output()
        .expect("run coursetasks bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(figures["modules"], 20_000, "{figures}");
    assert_eq!(figures["pollers"], 10, "{figures}");
    assert_eq!(figures["errors"], 0, "{figures}");
    assert!(
        figures["min_answered_per_poller"].as_u64().unwrap() >= 1,
        "{figures}"
    );
    assert!(figures["requests"].as_u64().unwrap() >= 10, "{figures}");
    for field in ["p50", "p99", "max"] {
        assert!(
            figures["latency_ms"][field].as_f64().unwrap() > 0.0,
            "{figures}"
        );
    }
}
