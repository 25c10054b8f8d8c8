//! Test fixtures: a small course with a few problems and learners with realistic capa state, built
//! directly through the store so each test controls exactly what is there.

#![allow(dead_code)] // each test binary uses a different subset

use chrono::Utc;
use coursetasks_engine::SubmitRequest;
use coursetasks_store::{
    BlockRecord, CourseRecord, LearnerRecord, NewModule, NewProblemVersion, Store,
};
use coursetasks_tasks::{Target, TaskKind};
use serde_json::{Value, json};

pub const COURSE: &str = "course-v1:TestOrg+T101+2026";
pub const SECTION: &str = "block-v1:TestOrg+T101+2026+type@chapter+block@week1";
pub const SUBSECTION: &str = "block-v1:TestOrg+T101+2026+type@sequential+block@quiz1";
/// Numerical (answer 3.14, tolerance 0.01) and a dropdown.
pub const NUMERIC: &str = "block-v1:TestOrg+T101+2026+type@problem+block@pi";
/// A case-insensitive string response.
pub const CAPITAL: &str = "block-v1:TestOrg+T101+2026+type@problem+block@capital";
/// A custom response with a Python script: never rescorable.
pub const PYTHON: &str = "block-v1:TestOrg+T101+2026+type@problem+block@scripted";

/// The numerical problem with a wrong key (3.41) — what the course starts with.
pub const NUMERIC_WRONG_XML: &str = r#"<problem>
  <numericalresponse answer="3.41">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
  <optionresponse>
    <optioninput options="('red','green','blue')" correct="green"/>
  </optionresponse>
</problem>"#;

/// The same problem with the key fixed (3.14).
pub const NUMERIC_FIXED_XML: &str = r#"<problem>
  <numericalresponse answer="3.14">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
  <optionresponse>
    <optioninput options="('red','green','blue')" correct="green"/>
  </optionresponse>
</problem>"#;

pub const CAPITAL_XML: &str = r#"<problem>
  <stringresponse answer="Paris" type="ci">
    <textline/>
  </stringresponse>
</problem>"#;

pub const PYTHON_XML: &str = r#"<problem>
  <script type="loncapa/python">
def check(expect, ans):
    return ans == "42"
  </script>
  <customresponse cfn="check">
    <textline/>
  </customresponse>
</problem>"#;

fn block(
    usage_key: &str,
    block_type: &str,
    parent: Option<&str>,
    name: &str,
    position: i64,
) -> BlockRecord {
    BlockRecord {
        usage_key: usage_key.to_owned(),
        course_key: COURSE.to_owned(),
        block_type: block_type.to_owned(),
        parent_key: parent.map(str::to_owned),
        display_name: name.to_owned(),
        position,
        settings: json!({}),
        legacy_key: None,
    }
}

/// A fresh store in a temp dir (kept alive by the returned guard).
pub async fn fresh_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.db");
    let store = Store::open(path.to_str().unwrap())
        .await
        .expect("open store");
    (store, dir)
}

/// The course, its tree and the three problems (numerical with the wrong key).
pub async fn load_course(store: &Store) {
    let course = CourseRecord {
        key: COURSE.to_owned(),
        display_name: "Test course".to_owned(),
        created: Utc::now(),
    };
    let root = "block-v1:TestOrg+T101+2026+type@course+block@course";
    let vertical = "block-v1:TestOrg+T101+2026+type@vertical+block@unit1";
    let blocks = vec![
        block(root, "course", None, "Test course", 0),
        block(SECTION, "chapter", Some(root), "Week 1", 0),
        block(SUBSECTION, "sequential", Some(SECTION), "Quiz 1", 0),
        block(vertical, "vertical", Some(SUBSECTION), "Unit 1", 0),
        block(NUMERIC, "problem", Some(vertical), "Pi to two places", 0),
        block(CAPITAL, "problem", Some(vertical), "Capital of France", 1),
        block(PYTHON, "problem", Some(vertical), "Scripted", 2),
    ];
    let versions = [
        (NUMERIC, NUMERIC_WRONG_XML),
        (CAPITAL, CAPITAL_XML),
        (PYTHON, PYTHON_XML),
    ]
    .into_iter()
    .map(|(k, xml)| NewProblemVersion {
        usage_key: k.to_owned(),
        xml: xml.to_owned(),
        content_hash: format!(
            "{:x}",
            xml.len() * 7919 + xml.bytes().map(u64::from).sum::<u64>() as usize
        ),
    })
    .collect::<Vec<_>>();
    store
        .import_course_atomically(&course, &blocks, &versions)
        .await
        .expect("import course");
}

/// Stores the fixed numerical problem as a new version.
pub async fn fix_numeric_key(store: &Store) {
    store
        .put_problem_version(NUMERIC, NUMERIC_FIXED_XML, "fixed")
        .await
        .expect("new version");
}

/// A capa state in Open edX's shape for the numerical problem.
pub fn numeric_state(answer: &str, color: &str, attempts: u64, done: bool, earned: f64) -> String {
    let verdict = |right: bool| if right { "correct" } else { "incorrect" };
    let state = json!({
        "attempts": attempts,
        "seed": 1,
        "done": done,
        "student_answers": {"pi_2_1": answer, "pi_3_1": color},
        "correct_map": {
            "pi_2_1": {"correctness": verdict(answer == "3.41"), "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null},
            "pi_3_1": {"correctness": verdict(color == "green"), "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null},
        },
        "input_state": {"pi_2_1": {}, "pi_3_1": {}},
        "score": {"raw_earned": earned, "raw_possible": 2},
        "last_submission_time": "2026-11-01T10:00:00Z"
    });
    state.to_string()
}

/// What each generated learner answered, by index: a deterministic mix of right, wrong,
/// unparsable and never-submitted.
pub fn learner_answer(i: u64) -> (Option<&'static str>, &'static str) {
    match i % 10 {
        0 => (None, "green"),             // only viewed the problem
        1 => (Some("3.1.4"), "green"),    // unparsable: a student input error
        2..=5 => (Some("3.14"), "green"), // right under the fixed key
        6 => (Some("pi"), "red"),         // an expression, right under the fixed key
        7 => (Some("3.41"), "green"),     // right under the wrong key only
        _ => (Some("2.5"), "blue"),       // wrong either way
    }
}

/// `n` learners (`learner1` ...) with modules on the numerical problem (and on the string problem
/// for every other learner). Returns the number of numerical modules.
pub async fn load_learners(store: &Store, n: u64) -> u64 {
    let learners: Vec<LearnerRecord> = (1..=n)
        .map(|i| LearnerRecord {
            id: i as i64,
            username: format!("learner{i}"),
            email: format!("learner{i}@example.org"),
        })
        .collect();
    store.upsert_learners(&learners).await.expect("learners");
    let mut modules = Vec::new();
    for i in 1..=n {
        let (answer, color) = learner_answer(i);
        let state = match answer {
            None => json!({"seed": 1, "input_state": {"pi_2_1": {}, "pi_3_1": {}}}).to_string(),
            Some(a) => {
                // Grades as the wrong key would have given them.
                let earned = f64::from(a == "3.41") + f64::from(color == "green");
                numeric_state(a, color, 1 + i % 3, true, earned)
            }
        };
        let grade = answer.map(|a| f64::from(a == "3.41") + f64::from(color == "green"));
        modules.push(NewModule {
            learner_id: i as i64,
            course_key: COURSE.to_owned(),
            usage_key: NUMERIC.to_owned(),
            module_type: "problem".to_owned(),
            state: Some(state),
            grade,
            max_grade: answer.map(|_| 2.0),
        });
        if i % 2 == 0 {
            let answer = if i % 4 == 0 { "paris" } else { "Lyon" };
            modules.push(NewModule {
                learner_id: i as i64,
                course_key: COURSE.to_owned(),
                usage_key: CAPITAL.to_owned(),
                module_type: "problem".to_owned(),
                state: Some(
                    json!({"attempts": 2, "seed": 1, "done": true,
                           "student_answers": {"capital_2_1": answer},
                           "correct_map": {}, "score": {"raw_earned": 0, "raw_possible": 1}})
                    .to_string(),
                ),
                grade: Some(0.0),
                max_grade: Some(1.0),
            });
        }
    }
    for batch in modules.chunks(10_000) {
        store.insert_modules(batch).await.expect("modules");
    }
    n
}

/// The parsed state of a learner's module.
pub async fn state_of(store: &Store, learner_id: i64, usage_key: &str) -> Option<Value> {
    store
        .get_module(learner_id, COURSE, usage_key)
        .await
        .expect("get module")
        .map(|m| serde_json::from_str(m.state.as_deref().unwrap_or("null")).expect("state JSON"))
}

/// A task of `kind` on `target` in the test course, by `instructor1`, for one learner or all.
pub fn request(kind: TaskKind, target: Target, learner: Option<&str>) -> SubmitRequest {
    SubmitRequest {
        kind,
        course_key: COURSE.to_owned(),
        target,
        learner: learner.map(str::to_owned),
        score: None,
        requester: "instructor1".to_owned(),
    }
}
