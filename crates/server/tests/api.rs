//! The endpoints' behaviour: probes, submission and its errors, status of one or several
//! tasks, lists with filters, outcomes (JSON pages and CSV), events, courses, problems and the
//! learners' state; and the whole flow submit → run (engine worker) → status → outcomes CSV.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use coursetasks_engine::OUTCOME_CSV_HEADER;
use serde_json::{Value, json};
use uuid::Uuid;

#[tokio::test]
async fn probes_need_no_token() {
    let t = TestApp::new().await;
    let (status, _, body) = t.raw(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["status"],
        "ok"
    );
    let (status, _, body) = t.raw(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["database"].as_str()),
        (Some("ready"), Some("sqlite"))
    );
    let (status, _, body) = t.raw(Method::GET, "/nowhere", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(code(&serde_json::from_slice(&body).unwrap()), "not_found");
    // Wrong methods and unknown API routes answer in the API's error shape too.
    let (status, json) = t
        .call(Method::DELETE, "/api/v1/tasks", &t.admin, None)
        .await;
    assert_eq!(
        (status, code(&json)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let (status, json) = t.get("/api/v1/nothing-here", &t.admin).await;
    assert_eq!((status, code(&json)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn bad_submissions_are_refused_with_a_code_and_nothing_is_created() {
    let t = TestApp::new().await;
    let (status, _, body) = t
        .raw(
            Method::POST,
            "/api/v1/tasks",
            Some(&format!("Bearer {}", t.admin)),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let base =
        json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (
            with(json!({"kind": "regrade"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "unknown task kind",
        ),
        (
            with(json!({"container": SECTION})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "exactly one of `problem` or `container`",
        ),
        (
            with(json!({"problem": null})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "exactly one of `problem`",
        ),
        (
            with(json!({"learner": "learner1"})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "exactly one of `learner`",
        ),
        (
            with(json!({"all_learners": null})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "exactly one of `learner`",
        ),
        (
            with(json!({"score": 1.0})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "only goes with override-score",
        ),
        (
            with(json!({"surprise": 1})),
            StatusCode::BAD_REQUEST,
            "bad_request",
            "unknown field",
        ),
        (
            with(json!({"problem": "block-v1:TestOrg+T101+2026+type@problem+block@nope"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "problem_not_found",
            "nope",
        ),
        (
            with(json!({"all_learners": null, "learner": "ghost"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "learner_not_found",
            "ghost",
        ),
        (
            with(
                json!({"kind": "override-score", "all_learners": null, "learner": "learner1", "score": 99.0}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
            "outside 0..2",
        ),
    ];
    for (body, status, error_code, words) in cases {
        let (got, json) = t.post("/api/v1/tasks", &t.admin, body.clone()).await;
        assert_eq!((got, code(&json)), (status, error_code), "{body}: {json}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{body}: {message}");
    }
    assert!(
        t.store
            .list_tasks(&Default::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_identical_active_task_is_409_naming_it() {
    let t = TestApp::new().await;
    let body =
        json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true});
    let (status, first) = t.post("/api/v1/tasks", &t.instructor, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let first_id = first["task_id"].as_str().unwrap();
    assert_eq!(first["state"], "QUEUED");
    assert_eq!(first["requester"], "ines");
    let (status, json) = t.post("/api/v1/tasks", &t.admin, body.clone()).await;
    assert_eq!(
        (status, code(&json)),
        (StatusCode::CONFLICT, "already_running")
    );
    assert_eq!(json["error"]["task_id"], first_id);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains(first_id)
    );
    // Once it has ended, the same task may be submitted again.
    t.run_until_done(first_id.parse().unwrap()).await;
    let (status, _) = t.post("/api/v1/tasks", &t.admin, body).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn status_of_one_and_of_several_tasks() {
    let t = TestApp::new().await;
    let a = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "learner": "learner1"}),
        )
        .await;
    let b = t.submit_ok(&t.admin, json!({"kind": "reset-attempts", "course": COURSE, "problem": PROBLEM, "learner": "learner2@example.org"})).await;
    let (status, one) = t.get(&format!("/api/v1/tasks/{a}"), &t.staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["task_id"], a.to_string());
    assert_eq!(one["task_type"], "rescore_problem");
    assert_eq!(one["in_progress"], true);
    assert_eq!(one["subtasks"], json!([]));
    // The learner is stored by username even when given by email, as Open edX does.
    let (_, two) = t.get(&format!("/api/v1/tasks/{b}"), &t.staff).await;
    assert_eq!(two["task_input"]["student"], "learner2");

    t.run_until_done(a).await;
    let (_, done) = t.get(&format!("/api/v1/tasks/{a}"), &t.staff).await;
    assert_eq!(done["state"], "SUCCESS");
    assert_eq!(done["in_progress"], false);
    assert_eq!(
        done["message"],
        "Problem successfully rescored for student 'learner1'"
    );
    assert_eq!(done["subtasks"].as_array().unwrap().len(), 1);

    // Every id is answered (Open edX's view reads only the last one), in request order.
    let unknown = Uuid::now_v7();
    let (status, many) = t
        .get(
            &format!("/api/v1/tasks/status?ids={b},{unknown},%20{a},{b}"),
            &t.staff,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = many["tasks"].as_object().unwrap().keys().collect();
    assert_eq!(keys, vec![&b.to_string(), &a.to_string()]);
    assert_eq!(many["tasks"][a.to_string()]["state"], "SUCCESS");
    assert_eq!(many["tasks"][b.to_string()]["state"], "QUEUED");
    assert_eq!(many["not_found"], json!([unknown.to_string()]));

    for (uri, status, error_code) in [
        (
            format!("/api/v1/tasks/{unknown}"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/tasks/not-a-uuid".to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/tasks/status?ids=".to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/tasks/status".to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            format!("/api/v1/tasks/status?ids={a},nope"),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            format!(
                "/api/v1/tasks/status?ids={}",
                (0..101)
                    .map(|_| Uuid::now_v7().to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let (got, json) = t.get(&uri, &t.staff).await;
        assert_eq!((got, code(&json)), (status, error_code), "{uri}: {json}");
    }
}

#[tokio::test]
async fn task_lists_filter_like_the_cli() {
    let t = TestApp::new().await;
    let all = t
        .submit_ok(
            &t.admin,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    t.run_until_done(all).await;
    let one = t.submit_ok(&t.admin, json!({"kind": "reset-attempts", "course": COURSE, "problem": PROBLEM, "learner": "learner4"})).await;
    let other = t.submit_ok(&t.admin, json!({"kind": "delete-state", "course": OTHER_COURSE, "problem": OTHER_PROBLEM, "all_learners": true})).await;
    let ids = |json: &Value| -> Vec<String> {
        json.as_array()
            .unwrap()
            .iter()
            .map(|t| t["task_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let s = |id: Uuid| id.to_string();
    let course = enc(COURSE);
    let cases = [
        ("".to_owned(), vec![s(other), s(one), s(all)]),
        (format!("course={course}"), vec![s(one), s(all)]),
        (format!("course={course}&running=true"), vec![s(one)]),
        ("state=success".to_owned(), vec![s(all)]),
        ("running=true&state=SUCCESS".to_owned(), vec![]),
        ("type=delete-state".to_owned(), vec![s(other)]),
        ("type=reset_problem_attempts".to_owned(), vec![s(one)]),
        // Problem history: the all-learner tasks on it; with a learner, that learner's.
        (format!("problem={}", enc(PROBLEM)), vec![s(all)]),
        (
            format!("problem={}&learner=learner4", enc(PROBLEM)),
            vec![s(one)],
        ),
        ("learner=learner4".to_owned(), vec![s(one)]),
        ("limit=1".to_owned(), vec![s(other)]),
    ];
    for (query, expected) in cases {
        let (status, json) = t.get(&format!("/api/v1/tasks?{query}"), &t.staff).await;
        assert_eq!(status, StatusCode::OK, "{query}: {json}");
        assert_eq!(ids(&json), expected, "{query}");
    }
    for (query, status) in [
        ("limit=0", StatusCode::BAD_REQUEST),
        ("limit=5000", StatusCode::BAD_REQUEST),
        ("state=DONE", StatusCode::BAD_REQUEST),
        ("type=regrade", StatusCode::BAD_REQUEST),
        ("running=maybe", StatusCode::BAD_REQUEST),
        ("learner=ghost", StatusCode::NOT_FOUND),
        (
            "problem=block-v1:X+Y+Z+type@problem+block@none",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let (got, json) = t.get(&format!("/api/v1/tasks?{query}"), &t.staff).await;
        assert_eq!(got, status, "{query}: {json}");
    }
}

/// The main flow: an instructor fixes the key and rescores everyone; the worker runs it; the
/// status, outcomes (JSON pages, CSV download) and events tell what happened.
#[tokio::test]
async fn submit_run_status_outcomes_csv_and_events() {
    let t = TestApp::new().await;
    t.store
        .put_problem_version(PROBLEM, FIXED_KEY_XML, "fixed")
        .await
        .unwrap();
    let id = t
        .submit_ok(
            &t.course_instructor,
            json!({"kind": "rescore", "course": COURSE, "problem": PROBLEM, "all_learners": true}),
        )
        .await;
    let task = t.run_until_done(id).await;
    assert_eq!(task.attempted, LEARNERS as u64);

    let (status, view) = t.get(&format!("/api/v1/tasks/{id}"), &t.course_staff).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["state"], "SUCCESS");
    assert_eq!(view["percent"], 100.0);
    assert_eq!(view["attempted"], LEARNERS);
    let (succeeded, failed) = (task.succeeded, task.failed);
    assert_eq!(failed, 1, "the unparsable answer 3.1.4 fails");
    assert_eq!(
        view["message"],
        format!("Problem rescored for {succeeded} of {LEARNERS} students")
    );
    assert_eq!(view["succeeded_flag"], false);
    assert_eq!(view["task_progress"]["action_name"], "rescored");

    // JSON pages: keyset paging reads every outcome exactly once.
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = t
            .get(
                &format!("/api/v1/tasks/{id}/outcomes?limit=3&after={after}"),
                &t.course_staff,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let outcomes = page["outcomes"].as_array().unwrap();
        assert!(outcomes.len() <= 3);
        seen.extend(
            outcomes
                .iter()
                .map(|o| o["username"].as_str().unwrap().to_owned()),
        );
        match page["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    seen.sort();
    let mut expected: Vec<String> = (1..=LEARNERS).map(|i| format!("learner{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
    let (_, failed_page) = t
        .get(
            &format!("/api/v1/tasks/{id}/outcomes?status=failed"),
            &t.course_staff,
        )
        .await;
    let failed_rows = failed_page["outcomes"].as_array().unwrap();
    assert_eq!(failed_rows.len(), 1);
    assert_eq!(failed_rows[0]["username"], "learner5");
    assert!(failed_page["next_after"].is_null());
    for query in ["status=lost", "limit=0", "after=x"] {
        let (status, json) = t
            .get(
                &format!("/api/v1/tasks/{id}/outcomes?{query}"),
                &t.course_staff,
            )
            .await;
        assert_eq!(
            (status, code(&json)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{query}"
        );
    }

    // CSV download: the CLI's columns, one row per learner.
    let auth = format!("Bearer {}", t.course_staff);
    let (status, content_type, body) = t
        .raw(
            Method::GET,
            &format!("/api/v1/tasks/{id}/outcomes.csv"),
            Some(&auth),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, OUTCOME_CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), LEARNERS as usize);
    let learner1 = rows.iter().find(|r| &r[2] == "learner1").unwrap();
    assert_eq!(
        (&learner1[4], &learner1[6], &learner1[8]),
        ("succeeded", "1", "2")
    );
    let (_, _, body) = t
        .raw(
            Method::GET,
            &format!("/api/v1/tasks/{id}/outcomes.csv?status=failed"),
            Some(&auth),
            None,
        )
        .await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().nth(1).unwrap().contains("learner5,"));

    // Events, paged.
    let (_, first) = t
        .get(
            &format!("/api/v1/events?task={id}&limit=2"),
            &t.course_staff,
        )
        .await;
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event_type"], "problem_rescore");
    let after = first["next_after"].as_i64().unwrap();
    let (_, rest) = t
        .get(
            &format!("/api/v1/events?task={id}&after={after}&limit=1000"),
            &t.course_staff,
        )
        .await;
    let total = 2 + rest["events"].as_array().unwrap().len() as u64;
    assert_eq!(total, t.store.count_events(id).await.unwrap());
    assert!(rest["next_after"].is_null());
}

#[tokio::test]
async fn courses_problems_and_learner_state() {
    let t = TestApp::new().await;
    let (status, courses) = t.get("/api/v1/courses", &t.staff).await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = courses
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec![OTHER_COURSE, COURSE]);

    let (status, problems) = t
        .get(
            &format!("/api/v1/courses/{}/problems", enc(COURSE)),
            &t.staff,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(problems.as_array().unwrap().len(), 1);
    assert_eq!(problems[0]["usage_key"], PROBLEM);
    assert_eq!(problems[0]["max_score"], 2.0);
    assert_eq!(
        problems[0]["response_types"],
        json!(["numericalresponse", "optionresponse"])
    );
    assert!(problems[0]["not_rescorable"].is_null());
    let (status, json) = t
        .get(
            &format!(
                "/api/v1/courses/{}/problems",
                enc("course-v1:No+Such+Course")
            ),
            &t.staff,
        )
        .await;
    assert_eq!((status, code(&json)), (StatusCode::NOT_FOUND, "not_found"));

    let base = format!(
        "/api/v1/courses/{}/problems/{}/learners",
        enc(COURSE),
        enc(PROBLEM)
    );
    let (status, first) = t.get(&format!("{base}?limit=4"), &t.staff).await;
    assert_eq!(status, StatusCode::OK);
    let modules = first["modules"].as_array().unwrap();
    assert_eq!(modules.len(), 4);
    assert_eq!(modules[0]["username"], "learner1");
    assert!(
        modules[0]["state"]
            .as_str()
            .unwrap()
            .contains("student_answers")
    );
    let after = first["next_after"].as_i64().unwrap();
    let (_, rest) = t
        .get(&format!("{base}?limit=4&after={after}"), &t.staff)
        .await;
    assert_eq!(rest["modules"].as_array().unwrap().len(), 3);
    assert!(rest["next_after"].is_null());
    // A problem of another course under this course's path is not found.
    let (status, _) = t
        .get(
            &format!(
                "/api/v1/courses/{}/problems/{}/learners",
                enc(COURSE),
                enc(OTHER_PROBLEM)
            ),
            &t.staff,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = t.get(&format!("{base}?limit=100000"), &t.staff).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The CSV download streams page by page (5,000 outcomes a page): every outcome once, across
/// page boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_csv_streams_every_outcome_across_pages() {
    let t = TestApp::new().await;
    let extra: i64 = 5_001;
    let learners: Vec<coursetasks_store::LearnerRecord> = (0..extra)
        .map(|i| coursetasks_store::LearnerRecord {
            id: 1_000 + i,
            username: format!("bulk{i}"),
            email: format!("bulk{i}@example.org"),
        })
        .collect();
    t.store.upsert_learners(&learners).await.unwrap();
    let modules: Vec<coursetasks_store::NewModule> = learners
        .iter()
        .map(|l| coursetasks_store::NewModule {
            learner_id: l.id,
            course_key: OTHER_COURSE.into(),
            usage_key: OTHER_PROBLEM.into(),
            module_type: "problem".into(),
            state: Some(r#"{"attempts": 2, "seed": 1}"#.into()),
            grade: None,
            max_grade: None,
        })
        .collect();
    t.store.insert_modules(&modules).await.unwrap();
    let id = t
        .submit_ok(&t.admin, json!({"kind": "reset-attempts", "course": OTHER_COURSE, "problem": OTHER_PROBLEM, "all_learners": true}))
        .await;
    let task = t.run_until_done(id).await;
    let expected = (extra + LEARNERS) as usize;
    assert_eq!(task.attempted as usize, expected);
    let auth = format!("Bearer {}", t.other_instructor);
    let (status, _, body) = t
        .raw(
            Method::GET,
            &format!("/api/v1/tasks/{id}/outcomes.csv"),
            Some(&auth),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(body.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        OUTCOME_CSV_HEADER
    );
    let module_ids: std::collections::BTreeSet<String> =
        reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    assert_eq!(module_ids.len(), expected, "every outcome exactly once");
    let body = String::from_utf8(body).unwrap();
    assert_eq!(body.lines().count(), expected + 1, "one header line");
}
