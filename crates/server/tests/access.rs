//! Access control on every endpoint: 401 without a valid token, the role matrix (403), and
//! course-bound tokens that see nothing of another course (404, as for unknown records).

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Every authenticated endpoint: (method, OpenAPI path template, concrete URI, body).
fn endpoints(task: Uuid) -> Vec<(Method, &'static str, String, Option<Value>)> {
    let course = enc(COURSE);
    let problem = enc(PROBLEM);
    vec![
        (
            Method::GET,
            "/api/v1/openapi.json",
            "/api/v1/openapi.json".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/courses",
            "/api/v1/courses".into(),
            None,
        ),
        (
            Method::GET,
            "/api/v1/courses/{course}/problems",
            format!("/api/v1/courses/{course}/problems"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/courses/{course}/problems/{problem}/learners",
            format!("/api/v1/courses/{course}/problems/{problem}/learners"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/tasks",
            "/api/v1/tasks".into(),
            Some(
                json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner3"}),
            ),
        ),
        (
            Method::GET,
            "/api/v1/tasks",
            format!("/api/v1/tasks?course={course}"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/tasks/status",
            format!("/api/v1/tasks/status?ids={task}"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/tasks/{id}",
            format!("/api/v1/tasks/{task}"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/tasks/{id}/cancel",
            format!("/api/v1/tasks/{task}/cancel"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/tasks/{id}/progress",
            format!("/api/v1/tasks/{task}/progress"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/tasks/{id}/outcomes",
            format!("/api/v1/tasks/{task}/outcomes"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/tasks/{id}/outcomes.csv",
            format!("/api/v1/tasks/{task}/outcomes.csv"),
            None,
        ),
        (
            Method::GET,
            "/api/v1/events",
            format!("/api/v1/events?task={task}"),
            None,
        ),
    ]
}

#[tokio::test]
async fn every_endpoint_answers_401_without_a_valid_token() {
    let t = TestApp::new().await;
    let task = Uuid::now_v7();
    for (method, _, uri, body) in endpoints(task) {
        for auth in [
            None,
            Some("Bearer ".to_owned()),
            Some("Bearer ct_not-a-real-token".to_owned()),
            Some(format!("Basic {}", t.admin)),
            Some(format!("Bearer {}", t.revoked)),
        ] {
            let (status, content_type, bytes) = t
                .raw(method.clone(), &uri, auth.as_deref(), body.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {auth:?}"
            );
            assert!(content_type.starts_with("application/json"));
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(code(&body), "unauthenticated", "{body}");
        }
    }
    // Nothing was submitted by the refused requests.
    assert!(
        t.store
            .list_tasks(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_routes() {
    let t = TestApp::new().await;
    let (status, doc) = t.get("/api/v1/openapi.json", &t.staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    let mut documented = BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = endpoints(Uuid::nil())
        .into_iter()
        .map(|(m, template, _, _)| (m.to_string(), template.to_owned()))
        .collect();
    assert_eq!(documented, served);
}

/// Reads are open to every role of a visible course: none of them is ever 403.
#[tokio::test]
async fn every_role_may_read() {
    let t = TestApp::new().await;
    let task = t
        .submit_ok(
            &t.admin,
            json!({"kind": "reset-attempts", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    for token in [
        &t.admin,
        &t.instructor,
        &t.staff,
        &t.course_instructor,
        &t.course_staff,
    ] {
        for (method, template, uri, _) in endpoints(task) {
            if method != Method::GET {
                continue;
            }
            if template.ends_with("/progress") {
                // The task stays queued, so its event stream would not end: the status only.
                let (status, content_type) = t
                    .head_of(method, &uri, Some(&format!("Bearer {token}")))
                    .await;
                assert_eq!(status, StatusCode::OK, "{template}");
                assert!(
                    content_type.starts_with("text/event-stream"),
                    "{content_type}"
                );
                continue;
            }
            let (status, _, bytes) = t
                .raw(method, &uri, Some(&format!("Bearer {token}")), None)
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{template}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

/// Open edX's rules: staff act for one learner (not override); all learners and override need
/// an instructor; admins do everything. Each allowed submission is cancelled again so that the
/// next identical one is not refused as already running.
#[tokio::test]
async fn submit_permission_matrix() {
    let t = TestApp::new().await;
    let cases: Vec<(&str, Value)> = vec![
        ("rescore", json!({"learner": "learner1"})),
        ("rescore", json!({"all_learners": true})),
        ("rescore-if-higher", json!({"learner": "learner1"})),
        ("rescore-if-higher", json!({"all_learners": true})),
        ("reset-attempts", json!({"learner": "learner1"})),
        ("reset-attempts", json!({"all_learners": true})),
        ("delete-state", json!({"learner": "learner1"})),
        ("delete-state", json!({"all_learners": true})),
        (
            "override-score",
            json!({"learner": "learner1", "score": 1.0}),
        ),
    ];
    let roles = [
        ("admin", &t.admin),
        ("instructor", &t.instructor),
        ("course instructor", &t.course_instructor),
        ("staff", &t.staff),
        ("course staff", &t.course_staff),
    ];
    for (role, token) in roles {
        for (kind, who) in &cases {
            let mut body = json!({"kind": kind, "course": COURSE, "problem": PROBLEM});
            body.as_object_mut()
                .unwrap()
                .extend(who.as_object().unwrap().clone());
            let staff = role.contains("staff");
            let allowed = !staff || (who.get("learner").is_some() && *kind != "override-score");
            let (status, json) = t.post("/api/v1/tasks", token, body.clone()).await;
            if allowed {
                assert_eq!(status, StatusCode::CREATED, "{role} {body}: {json}");
                let id = json["task_id"].as_str().unwrap();
                assert_eq!(
                    json["requester"],
                    t.store
                        .find_token(&coursetasks_server::tokens::hash_secret(token))
                        .await
                        .unwrap()
                        .unwrap()
                        .user
                );
                let (status, _) = t
                    .post(&format!("/api/v1/tasks/{id}/cancel"), &t.admin, json!({}))
                    .await;
                assert_eq!(status, StatusCode::OK);
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {body}: {json}");
                assert_eq!(code(&json), "forbidden");
                assert!(
                    json["error"]["message"]
                        .as_str()
                        .unwrap()
                        .contains("instructor")
                );
            }
        }
    }
    // Containers follow the same rule.
    let (status, _) = t
        .post(
            "/api/v1/tasks",
            &t.staff,
            json!({"kind": "reset-attempts", "course": COURSE, "container": SECTION, "all_learners": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Cancelling needs the right to submit the task: staff may cancel a one-learner rescore, not an
/// all-learner one.
#[tokio::test]
async fn cancel_permission_follows_submit_permission() {
    let t = TestApp::new().await;
    let all = t
        .submit_ok(
            &t.instructor,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let one = t
        .submit_ok(
            &t.staff,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner2"}),
        )
        .await;
    let (status, json) = t
        .post(&format!("/api/v1/tasks/{all}/cancel"), &t.staff, json!({}))
        .await;
    assert_eq!((status, code(&json)), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(
        t.store.get_task(all).await.unwrap().unwrap().state.as_str(),
        "QUEUED"
    );
    let (status, json) = t
        .post(
            &format!("/api/v1/tasks/{one}/cancel"),
            &t.course_staff,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["result"], "revoked");
    assert_eq!(json["task"]["state"], "REVOKED");
    let (status, json) = t
        .post(
            &format!("/api/v1/tasks/{all}/cancel"),
            &t.course_instructor,
            json!({}),
        )
        .await;
    assert_eq!(
        (status, json["result"].as_str()),
        (StatusCode::OK, Some("revoked"))
    );
    // Cancelling a finished task changes nothing.
    let (status, json) = t
        .post(&format!("/api/v1/tasks/{all}/cancel"), &t.admin, json!({}))
        .await;
    assert_eq!(
        (status, json["result"].as_str()),
        (StatusCode::OK, Some("already_finished"))
    );
}

/// A token bound to another course: every record of this course answers like an unknown one
/// (404 or an empty list), and it cannot act on it; its own course works.
#[tokio::test]
async fn a_course_bound_token_sees_nothing_of_another_course() {
    let t = TestApp::new().await;
    let task = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    t.run_until_done(task).await;
    let own = t
        .submit_ok(&t.other_instructor, json!({"kind": "rescore", "course": OTHER_COURSE, "problem": OTHER_PROBLEM, "all_learners": true}))
        .await;
    t.run_until_done(own).await;
    let other = &t.other_instructor;
    let unknown = Uuid::now_v7();
    let course = enc(COURSE);
    for uri in [
        format!("/api/v1/tasks/{task}"),
        format!("/api/v1/tasks/{task}/outcomes"),
        format!("/api/v1/tasks/{task}/outcomes.csv"),
        format!("/api/v1/tasks/{task}/progress"),
        format!("/api/v1/events?task={task}"),
        format!("/api/v1/courses/{course}/problems"),
        format!(
            "/api/v1/courses/{course}/problems/{}/learners",
            enc(PROBLEM)
        ),
        format!("/api/v1/tasks?problem={}", enc(PROBLEM)),
    ] {
        let (status, json) = t.get(&uri, other).await;
        assert_eq!(
            (status, code(&json)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{uri}"
        );
        // The same answer as for a record that does not exist, so nothing leaks.
        let unknown_uri = uri.replace(&task.to_string(), &unknown.to_string());
        if unknown_uri != uri {
            let (status, unknown_json) = t.get(&unknown_uri, other).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert_eq!(
                json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .replace(&task.to_string(), "ID"),
                unknown_json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .replace(&unknown.to_string(), "ID")
            );
        }
    }
    let (status, json) = t
        .post(&format!("/api/v1/tasks/{task}/cancel"), other, json!({}))
        .await;
    assert_eq!((status, code(&json)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, json) = t
        .post(
            "/api/v1/tasks",
            other,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner1"}),
        )
        .await;
    assert_eq!((status, code(&json)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, json) = t
        .get(&format!("/api/v1/tasks/status?ids={task},{own}"), other)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["not_found"], json!([task.to_string()]));
    assert_eq!(
        json["tasks"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec![&own.to_string()]
    );
    // Lists show only its own course, whatever the filter asks for.
    let (_, courses) = t.get("/api/v1/courses", other).await;
    assert_eq!(courses.as_array().unwrap().len(), 1);
    assert_eq!(courses[0]["key"], OTHER_COURSE);
    for uri in [
        format!("/api/v1/tasks?course={course}"),
        format!("/api/v1/events?course={course}"),
    ] {
        let (status, json) = t.get(&uri, other).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        let items = json.get("events").unwrap_or(&json);
        assert_eq!(items, &json!([]), "{uri}");
    }
    let (_, tasks) = t.get("/api/v1/tasks", other).await;
    let ids: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![own.to_string()]);
    let (_, events) = t.get("/api/v1/events", other).await;
    let events = events["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["course_key"] == OTHER_COURSE));
    // Unbound tokens see both courses.
    let (_, courses) = t.get("/api/v1/courses", &t.staff).await;
    assert_eq!(courses.as_array().unwrap().len(), 2);
}
