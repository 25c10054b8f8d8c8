//! Rescore and rescore-if-higher with the real grading engine, on states in Open edX's stored shape.

use coursetasks_capa::Problem;
use coursetasks_tasks::pyjson::to_py_json;
use coursetasks_tasks::*;
use serde_json::{Value, json};

const PID: &str = "d2e35c1d294b4ba0b3b1048615605d2a";
const USAGE: &str =
    "block-v1:edX+DemoX+Demo_Course+type@problem+block@d2e35c1d294b4ba0b3b1048615605d2a";

/// Four one-point inputs: MC (`_2_1`, answer choice_1), string ci (`_3_1`, "Rhine"), checkbox
/// (`_4_1`, choices 0 and 2), numerical (`_5_1`, 3.14 ± 0.01).
const XML: &str = r#"<problem>
  <multiplechoiceresponse>
    <choicegroup type="MultipleChoice">
      <choice correct="false">Lyon</choice>
      <choice correct="true">Paris</choice>
      <choice correct="false">Nice</choice>
    </choicegroup>
  </multiplechoiceresponse>
  <stringresponse answer="Rhine" type="ci">
    <textline size="20"/>
  </stringresponse>
  <choiceresponse>
    <checkboxgroup>
      <choice correct="true">a</choice>
      <choice correct="false">b</choice>
      <choice correct="true">c</choice>
    </checkboxgroup>
  </choiceresponse>
  <numericalresponse answer="3.14">
    <responseparam type="tolerance" default="0.01"/>
    <formulaequationinput/>
  </numericalresponse>
</problem>"#;

fn problem() -> Problem {
    Problem::compile(XML, PID).expect("test problem compiles")
}

fn ctx() -> EventContext {
    EventContext {
        task_id: "task-1".into(),
        requester: "5".into(),
        course_key: "course-v1:edX+DemoX+Demo_Course".into(),
        usage_key: USAGE.into(),
    }
}

fn cm_entry(c: &str) -> String {
    format!(
        r#"{{"correctness": "{c}", "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null}}"#
    )
}

/// A state split around the two fields a rescore rewrites, so the expected output can be assembled
/// from the untouched parts byte for byte.
struct Parts {
    head: String,
    correct_map: String,
    middle: String,
    score: String,
    tail: String,
}

impl Parts {
    fn new(answers: [&str; 4], done: &str, old_score: &str) -> Parts {
        let [a2, a3, a4, a5] = answers;
        Parts {
            head: r#"{"correct_map": "#.into(),
            // The stored map has a stale entry (`_9_1`, an input since removed) that must disappear.
            correct_map: format!(
                r#"{{"{PID}_2_1": {}, "{PID}_3_1": {}, "{PID}_9_1": {}}}"#,
                cm_entry("correct"),
                cm_entry("incorrect"),
                cm_entry("correct")
            ),
            middle: format!(
                concat!(
                    r#", "input_state": {{"{p}_2_1": {{}}, "{p}_3_1": {{}}}}, "last_submission_time": "2024-03-01T12:00:00Z", "#,
                    r#""attempts": 3, "seed": 7, "done": {done}, "#,
                    r#""student_answers": {{"{p}_2_1": {a2}, "{p}_3_1": {a3}, "{p}_4_1": {a4}, "{p}_5_1": {a5}}}, "#,
                    r#""has_saved_answers": false, "x_caf\u00e9": [1.0, 1e-05], "score": "#
                ),
                p = PID,
                done = done,
                a2 = a2,
                a3 = a3,
                a4 = a4,
                a5 = a5
            ),
            score: old_score.into(),
            tail: r#", "z_last": {"nested": "\u2713"}}"#.into(),
        }
    }

    fn text(&self) -> String {
        format!(
            "{}{}{}{}{}",
            self.head, self.correct_map, self.middle, self.score, self.tail
        )
    }

    fn with(&self, correct_map: &str, score: &str) -> String {
        format!(
            "{}{}{}{}{}",
            self.head, correct_map, self.middle, score, self.tail
        )
    }
}

const ALL_RIGHT: [&str; 4] = [
    r#""choice_1""#,
    r#""rhine""#,
    r#"["choice_0", "choice_2"]"#,
    r#""3.145""#,
];
const ONE_RIGHT: [&str; 4] = [r#""choice_1""#, r#""Seine""#, r#"["choice_1"]"#, r#""2.5""#];

fn module(state: &str, grade: Option<(f64, f64)>) -> ModuleInput<'_> {
    ModuleInput {
        module_id: Some(9),
        learner_id: 42,
        username: "ana",
        state: Some(state),
        grade: grade.map(|g| g.0),
        max_grade: grade.map(|g| g.1),
    }
}

fn rescore(
    p: &Problem,
    only_if_higher: bool,
    m: &ModuleInput<'_>,
) -> Result<ModuleResult, TaskError> {
    apply(
        &Operation::Rescore {
            problem: p,
            only_if_higher,
        },
        m,
        &ctx(),
    )
}

fn updated_state(r: &ModuleResult) -> &str {
    match &r.change {
        Change::Update { state, .. } => state,
        other => panic!("expected an update, got {other:?}"),
    }
}

/// The correctness map the engine produces, in stored (Python) spelling.
fn engine_map(p: &Problem, answers: [&str; 4]) -> (String, f64, f64) {
    let [a2, a3, a4, a5] = answers;
    let answers: serde_json::Map<String, Value> = serde_json::from_str(&format!(
        r#"{{"{PID}_2_1": {a2}, "{PID}_3_1": {a3}, "{PID}_4_1": {a4}, "{PID}_5_1": {a5}}}"#
    ))
    .unwrap();
    let g = p.grade(&answers, 7).unwrap();
    (to_py_json(&g.correct_map_json()), g.score, g.total)
}

#[test]
fn rescore_up_rewrites_only_correct_map_and_score() {
    let p = problem();
    let parts = Parts::new(ALL_RIGHT, "true", r#"{"raw_earned": 1, "raw_possible": 2}"#);
    let before = parts.text();
    let r = rescore(&p, false, &module(&before, Some((1.0, 2.0)))).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    let (map, score, total) = engine_map(&p, ALL_RIGHT);
    assert_eq!((score, total), (4.0, 4.0));
    // Everything but the two rewritten values is byte-identical: key order, the unknown keys, escapes,
    // `1.0`/`1e-05` spellings, attempts, seed, done, answers.
    assert_eq!(
        updated_state(&r),
        parts.with(&map, r#"{"raw_earned": 4, "raw_possible": 4}"#)
    );
    // The stale `_9_1` entry is gone (fresh map, not merged).
    assert!(!updated_state(&r).contains(&format!("{PID}_9_1")));
    assert_eq!(
        r.change,
        Change::Update {
            state: updated_state(&r).to_owned(),
            grade: Some(4.0),
            max_grade: Some(4.0)
        }
    );
    // max_grade follows the current definition (was 2).
    assert_eq!((r.old_grade, r.old_max_grade), (Some(1.0), Some(2.0)));
    assert_eq!((r.new_grade, r.new_max_grade), (Some(4.0), Some(4.0)));
}

#[test]
fn rescore_event_has_open_edx_shape() {
    let p = problem();
    let parts = Parts::new(ONE_RIGHT, "true", r#"{"raw_earned": 3, "raw_possible": 4}"#);
    let before = parts.text();
    let r = rescore(&p, false, &module(&before, Some((3.0, 4.0)))).unwrap();
    let ev = r.event.clone().unwrap();
    assert_eq!(ev.event_type, "problem_rescore");
    let v = ev.payload_value();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "state",
            "problem_id",
            "orig_score",
            "orig_total",
            "new_score",
            "new_total",
            "correct_map",
            "success",
            "attempts",
            "student",
            "task_id"
        ]
    );
    // The pre-rescore state, embedded verbatim.
    assert!(
        ev.payload
            .starts_with(&format!(r#"{{"state": {before}, "problem_id": "#))
    );
    assert_eq!(v["problem_id"], USAGE);
    assert_eq!(
        (v["orig_score"].clone(), v["orig_total"].clone()),
        (json!(3), json!(4))
    );
    assert_eq!(
        (v["new_score"].clone(), v["new_total"].clone()),
        (json!(1), json!(4))
    );
    assert_eq!(v["success"], "incorrect");
    assert_eq!(v["attempts"], 3);
    assert_eq!(v["student"], "ana");
    assert_eq!(v["task_id"], "task-1");
    // Same map as the engine's, and the same as what was stored.
    let (map, _, _) = engine_map(&p, ONE_RIGHT);
    assert_eq!(
        v["correct_map"],
        serde_json::from_str::<Value>(&map).unwrap()
    );
    let stored: Value = serde_json::from_str(updated_state(&r)).unwrap();
    assert_eq!(v["correct_map"], stored["correct_map"]);
    assert_eq!(
        v["correct_map"][format!("{PID}_2_1")]["correctness"],
        "correct"
    );
    assert_eq!(
        v["correct_map"][format!("{PID}_3_1")]["correctness"],
        "incorrect"
    );

    let all = Parts::new(ALL_RIGHT, "true", "null").text();
    let r = rescore(&p, false, &module(&all, None)).unwrap();
    let v = r.event.unwrap().payload_value();
    assert_eq!(v["success"], "correct");
    assert_eq!(
        (v["orig_score"].clone(), v["orig_total"].clone()),
        (json!(null), json!(null))
    );
}

#[test]
fn rescore_down_is_written_without_if_higher() {
    let p = problem();
    let parts = Parts::new(ONE_RIGHT, "true", r#"{"raw_earned": 4, "raw_possible": 4}"#);
    let before = parts.text();
    let r = rescore(&p, false, &module(&before, Some((4.0, 4.0)))).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    let (map, score, _) = engine_map(&p, ONE_RIGHT);
    assert_eq!(score, 1.0);
    assert_eq!(
        updated_state(&r),
        parts.with(&map, r#"{"raw_earned": 1, "raw_possible": 4}"#)
    );
    assert_eq!((r.new_grade, r.new_max_grade), (Some(1.0), Some(4.0)));
}

#[test]
fn if_higher_skips_lower_results_and_writes_nothing() {
    let p = problem();
    let before = Parts::new(ONE_RIGHT, "true", r#"{"raw_earned": 3, "raw_possible": 4}"#).text();
    let r = rescore(&p, true, &module(&before, Some((3.0, 4.0)))).unwrap();
    assert_eq!(
        r.outcome.reason().unwrap(),
        "new score 1/4 is lower than current 3/4"
    );
    assert_eq!(r.outcome.code(), Some("not_higher"));
    assert_eq!(r.change, Change::None);
    assert!(r.event.is_none());
    assert_eq!((r.new_grade, r.new_max_grade), (Some(3.0), Some(4.0)));
}

#[test]
fn if_higher_compares_percentages_and_accepts_equal() {
    let p = problem();
    let before = Parts::new(ONE_RIGHT, "true", r#"{"raw_earned": 1, "raw_possible": 4}"#).text();
    // Equal (1/4 vs 1/4): updated.
    let r = rescore(&p, true, &module(&before, Some((1.0, 4.0)))).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert!(matches!(r.change, Change::Update { .. }));
    // 1/4 = 25 % vs a stored 1/5 = 20 % on an older definition: higher percentage, updated.
    let r = rescore(&p, true, &module(&before, Some((1.0, 5.0)))).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    // 1/4 vs 1/2: lower percentage although the same points.
    let r = rescore(&p, true, &module(&before, Some((1.0, 2.0)))).unwrap();
    assert_eq!(
        r.outcome.reason().unwrap(),
        "new score 1/4 is lower than current 1/2"
    );
    // No previous grade: always updated.
    let r = rescore(&p, true, &module(&before, None)).unwrap();
    assert_eq!(r.outcome, Outcome::Succeeded);
    // All right beats anything.
    let all = Parts::new(ALL_RIGHT, "true", "null").text();
    let r = rescore(&p, true, &module(&all, Some((3.0, 4.0)))).unwrap();
    assert_eq!(r.new_grade, Some(4.0));
}

#[test]
fn unsubmitted_modules_are_skipped() {
    let p = problem();
    let not_done = Parts::new(ALL_RIGHT, "false", "null").text();
    let viewed = r#"{"seed": 1, "input_state": {}}"#;
    for state in [Some(not_done.as_str()), Some(viewed), Some(""), None] {
        let m = ModuleInput {
            state,
            ..module("", None)
        };
        let r = rescore(&p, false, &m).unwrap();
        assert_eq!(
            r.outcome,
            Outcome::Skipped(SkipReason::NotSubmitted),
            "{state:?}"
        );
        assert_eq!(
            r.outcome.reason().unwrap(),
            "the learner has not submitted an answer"
        );
        assert_eq!(r.change, Change::None);
        assert!(r.event.is_none());
    }
}

#[test]
fn unreadable_states_fail_the_learner() {
    let p = problem();
    let r = rescore(
        &p,
        false,
        &module(r#"{"done": true, "student_answers": {"#, None),
    )
    .unwrap();
    let reason = r.outcome.reason().unwrap();
    assert!(reason.starts_with("state is not valid JSON: "), "{reason}");
    assert_eq!(r.change, Change::None);

    let r = rescore(
        &p,
        false,
        &module(r#"{"done": true, "student_answers": ["a"]}"#, None),
    )
    .unwrap();
    assert_eq!(
        r.outcome.reason().unwrap(),
        "state field 'student_answers' should be an object, found a list"
    );
    let r = rescore(&p, false, &module("42", None)).unwrap();
    assert_eq!(r.outcome, Outcome::Failed(FailReason::StateNotObject));
}

#[test]
fn student_input_errors_fail_only_that_learner() {
    let p = problem();
    let bad = [
        r#""choice_1""#,
        r#""Rhine""#,
        r#"["choice_0"]"#,
        r#""3.1.4+*""#,
    ];
    let before = Parts::new(bad, "true", "null").text();
    let r = rescore(&p, false, &module(&before, Some((1.0, 4.0)))).unwrap();
    let Outcome::Failed(FailReason::StudentInput(message)) = &r.outcome else {
        panic!("expected a student-input failure, got {:?}", r.outcome);
    };
    assert!(!message.is_empty());
    assert_eq!(r.outcome.code(), Some("student_input"));
    assert_eq!(r.change, Change::None);
    assert!(r.event.is_none());
}

#[test]
fn a_problem_that_cannot_be_rescored_ends_the_task() {
    let xml = r#"<problem>
  <coderesponse queuename="python">
    <textbox mode="python"/>
    <codeparam><grader_payload>{"grader": "ps1/grader.py"}</grader_payload></codeparam>
  </coderesponse>
</problem>"#;
    let p = match Problem::compile(xml, PID) {
        Ok(p) => p,
        Err(e) => {
            panic!("an unsupported response still compiles (it is reported, not rejected): {e:?}")
        }
    };
    let e = check_rescorable(&p, USAGE).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ProblemNotRescorable);
    assert_eq!(e.context["usage_key"], USAGE);
    assert_eq!(e.context["element"], "coderesponse");

    let before = format!(r#"{{"done": true, "student_answers": {{"{PID}_2_1": "print(1)"}}}}"#);
    let e = rescore(&p, false, &module(&before, None)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ProblemNotRescorable);
    assert_eq!(e.context["learner_id"], 42);
    assert_eq!(e.context["username"], "ana");
    assert_eq!(e.context["module_id"], 9);
    // The structured error fits Open edX's output column and keeps its message.
    let out = e.to_output_json(OPEN_EDX_OUTPUT_LEN);
    let (ok, msg) = status_message_from_row("FAILURE", Some(&out), None);
    assert!(!ok);
    assert_eq!(msg, e.message);
}

#[test]
fn rescorable_problems_pass_the_check() {
    assert!(check_rescorable(&problem(), USAGE).is_ok());
}
