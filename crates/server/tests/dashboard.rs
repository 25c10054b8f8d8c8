//! The web dashboard through the router (no browser): sign-in and its cookie, redirects without
//! one, the course page, the confirmation step, submitting, the role rules, other courses'
//! tasks, and escaping.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use common::*;
use coursetasks_store::{BlockRecord, CourseRecord, NewProblemVersion};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

/// A page's status, `Location` and `Set-Cookie` headers, and body text.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

async fn send(
    app: &TestApp,
    method: Method,
    uri: &str,
    token: Option<&str>,
    form: Option<&str>,
) -> Page {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::COOKIE, format!("coursetasks_token={token}"));
    }
    let request = match form {
        Some(form) => request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.app.clone().oneshot(request).await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let location = header(header::LOCATION);
    let set_cookie = header(header::SET_COOKIE);
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        location,
        set_cookie,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(app: &TestApp, uri: &str, token: &str) -> Page {
    send(app, Method::GET, uri, Some(token), None).await
}

async fn post(app: &TestApp, uri: &str, token: &str, form: &str) -> Page {
    send(app, Method::POST, uri, Some(token), Some(form)).await
}

/// A form body for the submit form.
fn task_form(kind: &str, scope: &str, learner: &str, score: &str) -> String {
    format!(
        "problem={}&kind={kind}&scope={scope}&learner={}&score={}",
        enc(PROBLEM),
        enc(learner),
        enc(score)
    )
}

async fn task_count(app: &TestApp) -> usize {
    let (status, body) = app.get("/api/v1/tasks", &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().len()
}

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_cookie_and_refuses_a_bad_token() {
    let app = TestApp::new().await;
    let form = send(&app, Method::GET, "/", None, None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"token\">"), "{}", form.body);
    assert!(form.body.contains("<input id=\"token\" name=\"token\""));

    let ok = send(
        &app,
        Method::POST,
        "/login",
        None,
        Some(&format!("token={}", enc(&app.instructor))),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location.as_deref(), Some("/courses"));
    let cookie = ok.set_cookie.unwrap();
    assert!(cookie.starts_with(&format!("coursetasks_token={};", app.instructor)));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    for bad in ["ct_nope", app.revoked.as_str(), ""] {
        let refused = send(
            &app,
            Method::POST,
            "/login",
            None,
            Some(&format!("token={}", enc(bad))),
        )
        .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert!(refused.set_cookie.is_none());
        assert!(refused.body.contains("unknown or revoked token"));
    }

    let out = send(&app, Method::POST, "/logout", Some(&app.instructor), None).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn pages_redirect_to_sign_in_without_a_valid_cookie() {
    let app = TestApp::new().await;
    let id = app
        .submit_ok(
            &app.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner1"}),
        )
        .await;
    let course = format!("/courses/{}", enc(COURSE));
    let task = format!("/tasks/{id}");
    for (method, uri) in [
        (Method::GET, "/courses"),
        (Method::GET, course.as_str()),
        (Method::GET, task.as_str()),
        (Method::POST, &format!("{task}/cancel")),
    ] {
        for token in [None, Some("ct_nope"), Some(app.revoked.as_str())] {
            let page = send(&app, method.clone(), uri, token, None).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{uri} {token:?}");
            assert_eq!(page.location.as_deref(), Some("/"), "{uri}");
        }
    }
    // The API's writes do not take the cookie: a page elsewhere cannot act through it.
    let page = send(
        &app,
        Method::POST,
        &format!("/api/v1/tasks/{id}/cancel"),
        Some(&app.admin),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn courses_and_a_course_page_list_what_the_token_sees() {
    let app = TestApp::new().await;
    let list = get(&app, "/courses", &app.course_instructor).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains(&format!("/courses/{}", enc(COURSE))));
    assert!(!list.body.contains(&enc(OTHER_COURSE)));

    let page = get(&app, &format!("/courses/{}", enc(COURSE)), &app.instructor).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(PROBLEM), "{}", page.body);
    assert!(page.body.contains("problem of course-v1:TestOrg+T101+2026"));
    assert!(page.body.contains("<th scope=\"col\">Rescorable</th>"));
    assert!(page.body.contains("No task is queued or running."));

    // Every input of the submit form has its label.
    for id in ["kind0", "one0", "learner0", "all0", "score0"] {
        assert!(page.body.contains(&format!("<label for=\"{id}\">")), "{id}");
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id}");
    }

    let other = get(
        &app,
        &format!("/courses/{}", enc(COURSE)),
        &app.other_instructor,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn confirmation_counts_the_learners_and_creates_nothing_then_confirming_creates() {
    let app = TestApp::new().await;
    let course = enc(COURSE);
    let page = post(
        &app,
        &format!("/courses/{course}/confirm"),
        &app.instructor,
        &task_form("rescore", "all", "", ""),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("will affect <strong>{LEARNERS}</strong> learners")),
        "{}",
        page.body
    );
    assert_eq!(task_count(&app).await, 0);

    let one = post(
        &app,
        &format!("/courses/{course}/confirm"),
        &app.instructor,
        &task_form("rescore", "one", "learner3@example.org", ""),
    )
    .await;
    assert!(
        one.body.contains("will affect <strong>1</strong> learner."),
        "{}",
        one.body
    );
    assert_eq!(task_count(&app).await, 0);

    let created = post(
        &app,
        &format!("/courses/{course}/submit"),
        &app.instructor,
        &task_form("rescore", "all", "", ""),
    )
    .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let location = created.location.unwrap();
    let id: uuid::Uuid = location.strip_prefix("/tasks/").unwrap().parse().unwrap();
    let task = app.store.get_task(id).await.unwrap().unwrap();
    assert_eq!(task.requester, "ines");
    assert_eq!(task_count(&app).await, 1);

    // The running-tasks table follows it live.
    let page = get(&app, &format!("/courses/{course}"), &app.instructor).await;
    assert!(page.body.contains(&format!("data-task=\"{id}\"")));
    assert!(page.body.contains("<progress max=\"100\""));
    assert!(page.body.contains("new EventSource"));

    // The progress stream takes the cookie (the browser's EventSource sends it).
    let stream = app
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri(format!("/api/v1/tasks/{id}/progress"))
                .header(
                    header::COOKIE,
                    format!("coursetasks_token={}", app.instructor),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    // The task page of a task that has not ended reloads itself when the stream says it ended
    // (its cancel button and outcomes were made before); a finished task's page does not.
    let running = get(&app, &location, &app.instructor).await;
    assert!(running.body.contains("Cancel this task"));
    assert!(
        running
            .body
            .contains(&format!("<tr data-task=\"{id}\" data-reload-when-done>")),
        "{}",
        running.body
    );
    assert!(running.body.contains("location.reload()"));

    app.run_until_done(id).await;
    let done = get(&app, &location, &app.instructor).await;
    assert!(
        !done.body.contains("data-reload-when-done>"),
        "{}",
        done.body
    );
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body
            .contains(&format!("/api/v1/tasks/{id}/outcomes.csv"))
    );
    assert!(done.body.contains("learner1"));
    assert!(!done.body.contains("Cancel this task"));
    let failed = get(&app, &format!("{location}?status=skipped"), &app.instructor).await;
    assert!(failed.body.contains("outcomes.csv?status=skipped"));

    // A refused submission shows the API's message.
    let again = post(
        &app,
        &format!("/courses/{course}/submit"),
        &app.instructor,
        &task_form("override-score", "one", "nobody", "1"),
    )
    .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again.body.contains("no learner with username or email"),
        "{}",
        again.body
    );
}

#[tokio::test]
async fn staff_cannot_submit_for_all_learners_and_see_the_api_message() {
    let app = TestApp::new().await;
    let course = enc(COURSE);
    for step in ["confirm", "submit"] {
        let page = post(
            &app,
            &format!("/courses/{course}/{step}"),
            &app.course_staff,
            &task_form("rescore", "all", "", ""),
        )
        .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{step}");
        assert!(
            page.body
                .contains("rescore for all learners needs an instructor; course staff may act for one learner only"),
            "{}",
            page.body
        );
    }
    assert_eq!(task_count(&app).await, 0);
    // One learner is fine for staff.
    let page = post(
        &app,
        &format!("/courses/{course}/submit"),
        &app.course_staff,
        &task_form("rescore", "one", "learner2", ""),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

#[tokio::test]
async fn another_courses_task_page_is_404_and_cancel_follows_the_rules() {
    let app = TestApp::new().await;
    let id = app
        .submit_ok(
            &app.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let page = get(&app, &format!("/tasks/{id}"), &app.other_instructor).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.body.contains(&format!("no task {id}")));
    let cancel = post(
        &app,
        &format!("/tasks/{id}/cancel"),
        &app.other_instructor,
        "",
    )
    .await;
    assert_eq!(cancel.status, StatusCode::NOT_FOUND);

    let mine = get(&app, &format!("/tasks/{id}"), &app.course_staff).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.contains("Cancel this task"));
    let refused = post(&app, &format!("/tasks/{id}/cancel"), &app.course_staff, "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let cancelled = post(
        &app,
        &format!("/tasks/{id}/cancel"),
        &app.course_instructor,
        "",
    )
    .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    let task = app.store.get_task(id).await.unwrap().unwrap();
    assert!(task.state.is_ready() || task.cancel_requested);
}

#[tokio::test]
async fn interpolated_values_are_escaped() {
    let app = TestApp::new().await;
    let course = "course-v1:Evil+E1+2026";
    let problem = "block-v1:Evil+E1+2026+type@problem+block@x";
    let root = "block-v1:Evil+E1+2026+type@course+block@course";
    let evil = "<script>alert(\"x\")</script>";
    let block = |key: &str, kind: &str, parent: Option<&str>| BlockRecord {
        usage_key: key.into(),
        course_key: course.into(),
        block_type: kind.into(),
        parent_key: parent.map(str::to_owned),
        display_name: evil.into(),
        position: 0,
        settings: json!({}),
        legacy_key: None,
    };
    app.store
        .import_course_atomically(
            &CourseRecord {
                key: course.into(),
                display_name: evil.into(),
                created: Utc::now(),
            },
            &[
                block(root, "course", None),
                block(problem, "problem", Some(root)),
            ],
            &[NewProblemVersion {
                usage_key: problem.into(),
                xml: WRONG_KEY_XML.into(),
                content_hash: "evil".into(),
            }],
        )
        .await
        .unwrap();
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";
    for uri in ["/courses".to_owned(), format!("/courses/{}", enc(course))] {
        let page = get(&app, &uri, &app.admin).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(page.body.contains(escaped), "{uri}: {}", page.body);
        assert!(!page.body.contains("<script>alert"), "{uri}");
    }
    // Error messages too.
    let page = post(
        &app,
        &format!("/courses/{}/confirm", enc(COURSE)),
        &app.admin,
        &task_form("rescore", "one", "<b>nobody</b>", ""),
    )
    .await;
    assert!(
        page.body.contains("&lt;b&gt;nobody&lt;/b&gt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>nobody"));
}

#[tokio::test]
async fn history_per_problem_and_per_learner() {
    let app = TestApp::new().await;
    // A problem's history is its all-learner tasks (keyed as Open edX keys submissions).
    let all = app
        .submit_ok(
            &app.admin,
            json!({"kind": "reset-attempts", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let by_problem = get(
        &app,
        &format!("/courses/{}/history?problem={}", enc(COURSE), enc(PROBLEM)),
        &app.instructor,
    )
    .await;
    assert!(
        by_problem.body.contains(&format!("/tasks/{all}")),
        "{}",
        by_problem.body
    );
    let id = app
        .submit_ok(
            &app.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner4"}),
        )
        .await;
    let course = enc(COURSE);
    let page = get(&app, &format!("/courses/{course}"), &app.instructor).await;
    assert!(page.body.contains(&format!(
        "/courses/{course}/history?problem={}",
        enc(PROBLEM)
    )));
    assert!(page.body.contains("<label for=\"history-learner\">"));
    for query in [
        format!("problem={}&learner=learner4", enc(PROBLEM)),
        "learner=learner4".to_owned(),
        "learner=learner4%40example.org".to_owned(),
    ] {
        let page = get(
            &app,
            &format!("/courses/{course}/history?{query}"),
            &app.instructor,
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{query}: {}", page.body);
        assert!(
            page.body.contains(&format!("/tasks/{id}")),
            "{query}: {}",
            page.body
        );
    }
    let none = get(
        &app,
        &format!("/courses/{course}/history?learner=learner5"),
        &app.instructor,
    )
    .await;
    assert!(!none.body.contains(&format!("/tasks/{id}")));
    let hidden = get(
        &app,
        &format!("/courses/{course}/history?learner=learner4"),
        &app.other_instructor,
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}
