//! Test fixtures: a temp SQLite store with two courses (one problem each, learners with capa
//! state), a token per role, and a helper that sends one request through the router with
//! `tower::ServiceExt::oneshot` (no network).

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::Utc;
use coursetasks_engine::{NoProgress, Worker, WorkerConfig};
use coursetasks_server::tokens::mint;
use coursetasks_server::{AppState, router};
use coursetasks_store::{
    BlockRecord, CourseRecord, LearnerRecord, NewModule, NewProblemVersion, Role, Store, TaskRecord,
};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub const COURSE: &str = "course-v1:TestOrg+T101+2026";
pub const PROBLEM: &str = "block-v1:TestOrg+T101+2026+type@problem+block@pi";
pub const SECTION: &str = "block-v1:TestOrg+T101+2026+type@chapter+block@week1";
pub const OTHER_COURSE: &str = "course-v1:OtherOrg+O202+2026";
pub const OTHER_PROBLEM: &str = "block-v1:OtherOrg+O202+2026+type@problem+block@pi";
/// Learners with state on each course's problem.
pub const LEARNERS: i64 = 7;

/// Numerical response whose key is wrong (3.41) and a dropdown (green).
pub const WRONG_KEY_XML: &str = r#"<problem>
  <numericalresponse answer="3.41">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
  <optionresponse>
    <optioninput options="('red','green','blue')" correct="green"/>
  </optionresponse>
</problem>"#;

/// The same problem with the key fixed.
pub const FIXED_KEY_XML: &str = r#"<problem>
  <numericalresponse answer="3.14">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
  <optionresponse>
    <optioninput options="('red','green','blue')" correct="green"/>
  </optionresponse>
</problem>"#;

/// The app over a fresh store, and a secret per kind of caller.
pub struct TestApp {
    pub app: Router,
    pub store: Store,
    pub admin: String,
    pub instructor: String,
    pub staff: String,
    /// Instructor bound to `COURSE`.
    pub course_instructor: String,
    /// Staff bound to `COURSE`.
    pub course_staff: String,
    /// Instructor bound to `OTHER_COURSE`: must see nothing of `COURSE`.
    pub other_instructor: String,
    /// A revoked admin token.
    pub revoked: String,
    _dir: tempfile::TempDir,
}

async fn token(store: &Store, user: &str, role: Role, course: Option<&str>) -> (String, i64) {
    let (record, secret) = mint(store, user, role, course).await.unwrap();
    (secret, record.id)
}

fn block(course: &str, key: &str, kind: &str, parent: Option<&str>, position: i64) -> BlockRecord {
    BlockRecord {
        usage_key: key.into(),
        course_key: course.into(),
        block_type: kind.into(),
        parent_key: parent.map(str::to_owned),
        display_name: format!("{kind} of {course}"),
        position,
        settings: json!({}),
        legacy_key: None,
    }
}

/// A capa state for the numerical problem, graded under the wrong key.
fn state(answer: &str, color: &str) -> String {
    let verdict = |right: bool| if right { "correct" } else { "incorrect" };
    json!({
        "attempts": 1, "seed": 1, "done": true,
        "student_answers": {"pi_2_1": answer, "pi_3_1": color},
        "correct_map": {
            "pi_2_1": {"correctness": verdict(answer == "3.41"), "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null},
            "pi_3_1": {"correctness": verdict(color == "green"), "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null}
        },
        "input_state": {"pi_2_1": {}, "pi_3_1": {}},
        "score": {"raw_earned": f64::from(answer == "3.41") + f64::from(color == "green"), "raw_possible": 2},
        "last_submission_time": "2026-11-01T10:00:00Z"
    })
    .to_string()
}

async fn load_course(store: &Store, course: &str, org: &str, problem: &str, first_module: bool) {
    let root = format!("block-v1:{org}+type@course+block@course");
    let chapter = format!("block-v1:{org}+type@chapter+block@week1");
    let seq = format!("block-v1:{org}+type@sequential+block@quiz1");
    let blocks = vec![
        block(course, &root, "course", None, 0),
        block(course, &chapter, "chapter", Some(&root), 0),
        block(course, &seq, "sequential", Some(&chapter), 0),
        block(course, problem, "problem", Some(&seq), 0),
    ];
    store
        .import_course_atomically(
            &CourseRecord {
                key: course.into(),
                display_name: format!("Course {course}"),
                created: Utc::now(),
            },
            &blocks,
            &[NewProblemVersion {
                usage_key: problem.into(),
                xml: WRONG_KEY_XML.into(),
                content_hash: "wrong".into(),
            }],
        )
        .await
        .unwrap();
    if first_module {
        let learners: Vec<LearnerRecord> = (1..=LEARNERS)
            .map(|i| LearnerRecord {
                id: i,
                username: format!("learner{i}"),
                email: format!("learner{i}@example.org"),
            })
            .collect();
        store.upsert_learners(&learners).await.unwrap();
    }
    let answers = ["3.14", "3.41", "2.5", "3.14", "3.1.4", "3.14", "pi"];
    let modules: Vec<NewModule> = (1..=LEARNERS)
        .map(|i| {
            let answer = answers[(i as usize - 1) % answers.len()];
            NewModule {
                learner_id: i,
                course_key: course.into(),
                usage_key: problem.into(),
                module_type: "problem".into(),
                state: Some(state(answer, "green")),
                grade: Some(f64::from(answer == "3.41") + 1.0),
                max_grade: Some(2.0),
            }
        })
        .collect();
    store.insert_modules(&modules).await.unwrap();
}

impl TestApp {
    /// Both courses, learners, and the tokens.
    pub async fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("api.db").to_str().unwrap())
            .await
            .unwrap();
        load_course(&store, COURSE, "TestOrg+T101+2026", PROBLEM, true).await;
        load_course(
            &store,
            OTHER_COURSE,
            "OtherOrg+O202+2026",
            OTHER_PROBLEM,
            false,
        )
        .await;
        let (admin, _) = token(&store, "ada", Role::Admin, None).await;
        let (instructor, _) = token(&store, "ines", Role::Instructor, None).await;
        let (staff, _) = token(&store, "sam", Role::Staff, None).await;
        let (course_instructor, _) = token(&store, "cora", Role::Instructor, Some(COURSE)).await;
        let (course_staff, _) = token(&store, "cody", Role::Staff, Some(COURSE)).await;
        let (other_instructor, _) =
            token(&store, "otto", Role::Instructor, Some(OTHER_COURSE)).await;
        let (revoked, revoked_id) = token(&store, "rex", Role::Admin, None).await;
        store.revoke_token(revoked_id).await.unwrap();
        TestApp {
            app: router(AppState::new(store.clone())),
            store,
            admin,
            instructor,
            staff,
            course_instructor,
            course_staff,
            other_instructor,
            revoked,
            _dir: dir,
        }
    }

    /// Sends one request; returns the status, the headers' content type and the body bytes.
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, bytes.to_vec())
    }

    /// Sends one request and returns the status and content type without reading the body
    /// (for event streams that do not end).
    pub async fn head_of(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
    ) -> (StatusCode, String) {
        let response = self.response(method, uri, auth).await;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status(), content_type)
    }

    /// Sends one bodiless request; returns the response, body unread.
    pub async fn response(
        &self,
        method: Method,
        uri: &str,
        auth: Option<&str>,
    ) -> axum::response::Response {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        self.app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    /// Sends one request with a bearer token; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, content_type, bytes) = self
            .raw(method, uri, Some(&format!("Bearer {token}")), body)
            .await;
        assert!(
            content_type.starts_with("application/json"),
            "{uri}: content type {content_type:?}, body {}",
            String::from_utf8_lossy(&bytes)
        );
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    pub async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    /// Submits a task as `token`, expecting 201; returns its id.
    pub async fn submit_ok(&self, token: &str, body: Value) -> Uuid {
        let (status, json) = self.post("/api/v1/tasks", token, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {json}");
        json["task_id"].as_str().unwrap().parse().unwrap()
    }

    /// Runs queued work in this process (as `serve`'s worker would) until the task has ended.
    pub async fn run_until_done(&self, id: Uuid) -> TaskRecord {
        let worker = Worker::new(
            self.store.clone(),
            WorkerConfig::new(WorkerConfig::unique_name("test")),
        );
        for _ in 0..1_000 {
            let task = self.store.get_task(id).await.unwrap().unwrap();
            if task.state.is_ready() {
                return task;
            }
            worker.run_next(&NoProgress).await.unwrap();
        }
        panic!("task {id} did not finish");
    }
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {body}"))
}

/// Percent-encodes a key for a path segment (`+`, `:`, `@` and `/` included).
pub fn enc(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
