//! `coursetasks token` and `coursetasks serve` as processes: a token made on the command line
//! opens the API, a revoked one does not, a task submitted over HTTP is run by the in-process
//! worker, and SIGINT stops the server cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn coursetasks(db: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args(args)
        .args(["--db", db])
        .stdin(Stdio::null())
        .output()
        .expect("run coursetasks");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8"),
    )
}

/// One HTTP/1.1 request; returns the status and the JSON body.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}")),
    )
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

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

    let (code, out) = coursetasks(
        db,
        &[
            "token",
            "create",
            "--user",
            "ines",
            "--role",
            "instructor",
            "--course",
            &course,
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
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

    let mut child = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db", db])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Server(child);
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

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
    let mut child = server;
    Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("ran 1 tasks"), "{rest}");
}

/// One plain HTTP/1.1 GET; returns the whole response as text.
fn get_text(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn log_format_json_writes_one_json_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("json-logs.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_coursetasks"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--no-worker",
        ])
        .args(["--db", db.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut server = Server(child);
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

    Command::new("kill")
        .args(["-INT", &server.0.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
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
