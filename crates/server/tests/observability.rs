//! `/metrics` against the store, and the progress event stream.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{COURSE, OTHER_COURSE, OTHER_PROBLEM, PROBLEM, TestApp, code};
use coursetasks_engine::{PoolConfig, WorkerConfig};
use coursetasks_server::{AppState, router};
use coursetasks_store::TaskState;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// Parses exposition text into `name{labels}` -> value, checking each family has HELP and
/// TYPE lines before its samples.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.insert(rest.split(' ').next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "{name} has no TYPE line");
        out.insert(series.to_owned(), value.parse().unwrap());
    }
    out
}

async fn scrape(t: &TestApp) -> HashMap<String, f64> {
    let (status, content_type, bytes) = t.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    samples(&String::from_utf8(bytes).unwrap())
}

#[tokio::test]
async fn metrics_need_no_token_and_match_the_store() {
    let t = TestApp::new().await;
    let before = scrape(&t).await;
    assert_eq!(before["coursetasks_tasks{state=\"QUEUED\"}"], 0.0);
    assert_eq!(
        before["coursetasks_learners_processed_total{outcome=\"succeeded\"}"],
        0.0
    );
    assert_eq!(before["coursetasks_workers_registered"], 0.0);
    // No in-process worker in this router: no chunk histogram.
    assert!(!before.keys().any(|k| k.starts_with("coursetasks_chunk")));

    let done = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let done = t.run_until_done(done).await;
    let _queued = t
        .submit_ok(
            &t.admin,
            json!({"kind": "reset-attempts", "course": OTHER_COURSE, "problem": OTHER_PROBLEM, "all_learners": true}),
        )
        .await;
    let revoked = t
        .submit_ok(
            &t.admin,
            json!({"kind": "delete-state", "course": COURSE, "problem": PROBLEM, "learner": "learner2"}),
        )
        .await;
    let (status, _) = t
        .post(
            &format!("/api/v1/tasks/{revoked}/cancel"),
            &t.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let m = scrape(&t).await;
    let tasks = t.store.list_tasks(&Default::default()).await.unwrap();
    for (state, label) in [
        (TaskState::Queued, "QUEUED"),
        (TaskState::Running, "RUNNING"),
        (TaskState::Success, "SUCCESS"),
        (TaskState::Failure, "FAILURE"),
        (TaskState::Revoked, "REVOKED"),
    ] {
        let n = tasks.iter().filter(|t| t.state == state).count();
        assert_eq!(
            m[&format!("coursetasks_tasks{{state=\"{label}\"}}")],
            n as f64,
            "{label}"
        );
    }
    assert_eq!(m["coursetasks_tasks{state=\"SUCCESS\"}"], 1.0);
    assert_eq!(m["coursetasks_tasks{state=\"QUEUED\"}"], 1.0);
    assert_eq!(m["coursetasks_tasks{state=\"REVOKED\"}"], 1.0);
    assert_eq!(m["coursetasks_queue_tasks"], 1.0);
    assert_eq!(m["coursetasks_queue_subtasks"], 0.0);
    // Only the finished task processed learners: its counters are the totals.
    assert!(done.succeeded + done.skipped + done.failed > 0, "{done:?}");
    assert_eq!(
        m["coursetasks_learners_processed_total{outcome=\"succeeded\"}"],
        done.succeeded as f64
    );
    assert_eq!(
        m["coursetasks_learners_processed_total{outcome=\"skipped\"}"],
        done.skipped as f64
    );
    assert_eq!(
        m["coursetasks_learners_processed_total{outcome=\"failed\"}"],
        done.failed as f64
    );
    // Wrong methods answer like everywhere else.
    let (status, _, _) = t.raw(Method::POST, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The in-process pool (as `serve` runs it) registers its loops and times their chunks.
#[tokio::test]
async fn metrics_of_the_in_process_worker_heartbeats_and_chunks() {
    let t = TestApp::new().await;
    let state = AppState::new(t.store.clone());
    let app = router(state.clone());
    // Chunks of one learner: the 7 learners make 7 commits, 6 intervals.
    let mut worker = WorkerConfig::new("metrics \"test\"".to_owned());
    worker.chunk_size = 1;
    let pool = PoolConfig {
        concurrency: 1,
        heartbeat: Duration::from_millis(50),
        ..Default::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let pool = tokio::spawn(coursetasks_engine::run_pool(
        t.store.clone(),
        worker,
        pool,
        state.metrics.chunk_timer(),
        stop_rx,
    ));
    let id = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let scrape = || async {
        use tower::ServiceExt;
        let response = app
            .clone()
            .oneshot(
                axum::http::Request::get("/metrics")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let text = loop {
        let task = t.store.get_task(id).await.unwrap().unwrap();
        let text = scrape().await;
        if task.state.is_ready() && samples(&text)["coursetasks_workers_live"] >= 1.0 {
            break text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{task:?}\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let m = samples(&text);
    assert_eq!(m["coursetasks_workers_registered"], 1.0, "{text}");
    // The worker's name is a label value, escaped.
    let age = m["coursetasks_worker_heartbeat_age_seconds{worker=\"metrics \\\"test\\\"#0\"}"];
    assert!((0.0..5.0).contains(&age), "{text}");
    let task = t.store.get_task(id).await.unwrap().unwrap();
    let chunks = task.attempted;
    assert_eq!(chunks, common::LEARNERS as u64);
    assert_eq!(
        m["coursetasks_chunk_interval_seconds_count"],
        (chunks - 1) as f64,
        "{text}"
    );
    assert_eq!(
        m["coursetasks_chunk_interval_seconds_bucket{le=\"+Inf\"}"],
        (chunks - 1) as f64
    );
    stop_tx.send(true).unwrap();
    pool.await.unwrap().unwrap();
    // A clean stop leaves the registry.
    assert_eq!(
        samples(&scrape().await)["coursetasks_workers_registered"],
        0.0
    );
}

/// The `data:` payloads of an event stream.
fn data_events(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            event
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(|d| serde_json::from_str(d.trim()).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn progress_of_a_finished_task_is_one_event_then_the_end() {
    let t = TestApp::new().await;
    let id = t
        .submit_ok(
            &t.course_staff,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner1"}),
        )
        .await;
    let task = t.run_until_done(id).await;
    let auth = format!("Bearer {}", t.course_staff);
    let (status, content_type, bytes) = tokio::time::timeout(
        Duration::from_secs(10),
        t.raw(
            Method::GET,
            &format!("/api/v1/tasks/{id}/progress"),
            Some(&auth),
            None,
        ),
    )
    .await
    .expect("the stream of a finished task ends");
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let text = String::from_utf8(bytes).unwrap();
    let events = data_events(&text);
    assert_eq!(events.len(), 1, "{text}");
    assert_eq!(events[0]["task_id"], id.to_string());
    assert_eq!(events[0]["state"], "SUCCESS");
    assert_eq!(events[0]["attempted"], task.attempted);
}

#[tokio::test]
async fn progress_follows_a_running_task_to_its_end() {
    let t = TestApp::new().await;
    let id = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let response = t
        .response(
            Method::GET,
            &format!("/api/v1/tasks/{id}/progress"),
            Some(&format!("Bearer {}", t.admin)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let reader = tokio::spawn(async move {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    });
    // Let the stream send the queued state before the task runs.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let done = t.run_until_done(id).await;
    let text = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the stream ends after the final state")
        .unwrap();
    let events = data_events(&text);
    assert!(events.len() >= 2, "{text}");
    assert_eq!(events[0]["state"], "QUEUED");
    let last = events.last().unwrap();
    assert_eq!(last["state"], "SUCCESS");
    assert_eq!(last["succeeded"], done.succeeded);
    assert_eq!(last["failed"], done.failed);
    // Each event differs from the one before it in state or counts.
    for pair in events.windows(2) {
        let key = |e: &Value| {
            (
                e["state"].clone(),
                e["attempted"].clone(),
                e["succeeded"].clone(),
                e["skipped"].clone(),
                e["failed"].clone(),
            )
        };
        assert_ne!(key(&pair[0]), key(&pair[1]), "{text}");
    }
}

#[tokio::test]
async fn progress_needs_a_token_and_hides_other_courses() {
    let t = TestApp::new().await;
    let id = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let uri = format!("/api/v1/tasks/{id}/progress");
    let (status, _, bytes) = t.raw(Method::GET, &uri, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        code(&serde_json::from_slice(&bytes).unwrap()),
        "unauthenticated"
    );
    let (status, json) = t.get(&uri, &t.other_instructor).await;
    assert_eq!((status, code(&json)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, json) = t.get("/api/v1/tasks/not-a-uuid/progress", &t.admin).await;
    assert_eq!(
        (status, code(&json)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
}

/// Queue depth counts queued tasks and the unclaimed subtasks of split ones.
#[tokio::test]
async fn queue_depth_counts_unclaimed_subtasks() {
    let t = TestApp::new().await;
    let id = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let m = scrape(&t).await;
    assert_eq!(
        (
            m["coursetasks_queue_tasks"],
            m["coursetasks_queue_subtasks"]
        ),
        (1.0, 0.0)
    );
    let lease = Duration::from_secs(60);
    let planned = t.store.claim_task("planner", lease).await.unwrap().unwrap();
    assert_eq!(planned.id, id);
    // Three ranges of module ids: (0, 2], (2, 4], (4, max].
    t.store
        .split_task(id, "planner", common::LEARNERS as u64, &[2, 4])
        .await
        .unwrap();
    let m = scrape(&t).await;
    assert_eq!(m["coursetasks_tasks{state=\"RUNNING\"}"], 1.0);
    assert_eq!(
        (
            m["coursetasks_queue_tasks"],
            m["coursetasks_queue_subtasks"]
        ),
        (0.0, 3.0)
    );
    t.store
        .claim_subtask("loop", lease, Some(id))
        .await
        .unwrap()
        .expect("a subtask");
    let queued = t
        .store
        .list_subtasks(id)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.state == TaskState::Queued)
        .count();
    assert_eq!(queued, 2);
    assert_eq!(scrape(&t).await["coursetasks_queue_subtasks"], 2.0);
}

/// A task that does not move gets no new events, only keep-alive comments.
#[tokio::test]
async fn progress_of_an_idle_task_sends_keep_alives() {
    let t = TestApp::new().await;
    let id = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let response = t
        .response(
            Method::GET,
            &format!("/api/v1/tasks/{id}/progress"),
            Some(&format!("Bearer {}", t.admin)),
        )
        .await;
    let mut body = response.into_body();
    let mut text = String::new();
    // Virtual time from here: the 15 s of idling pass at once, while the store is polled.
    tokio::time::pause();
    // The server's keep-alive interval is 15 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(16);
    while !text.contains("\n:") && !text.starts_with(':') {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no keep-alive by then: {text:?}"))
            .expect("the stream goes on")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
    }
    let events = data_events(&text);
    assert_eq!(events.len(), 1, "one event for the queued task: {text:?}");
    assert_eq!(events[0]["state"], "QUEUED");
}
