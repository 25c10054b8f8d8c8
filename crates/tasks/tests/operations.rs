//! Reset, delete and override on states in Open edX's stored shape.

use coursetasks_tasks::*;
use serde_json::json;

const PID: &str = "d2e35c1d294b4ba0b3b1048615605d2a";
const USAGE: &str =
    "block-v1:edX+DemoX+Demo_Course+type@problem+block@d2e35c1d294b4ba0b3b1048615605d2a";

fn ctx() -> EventContext {
    EventContext {
        task_id: "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a".into(),
        requester: "5".into(),
        course_key: "course-v1:edX+DemoX+Demo_Course".into(),
        usage_key: USAGE.into(),
    }
}

/// A submitted two-input problem as the LMS stores it (json.dumps spacing, an unknown key, a non-ASCII
/// escape, a float spelled the Python way).
fn submitted_state(attempts: &str) -> String {
    format!(
        concat!(
            r#"{{"correct_map": {{"{p}_2_1": {{"correctness": "correct", "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null}}, "#,
            r#""{p}_3_1": {{"correctness": "incorrect", "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null}}}}, "#,
            r#""input_state": {{"{p}_2_1": {{}}, "{p}_3_1": {{}}}}, "last_submission_time": "2024-03-01T12:00:00Z", "#,
            r#""attempts": {a}, "seed": 1, "done": true, "#,
            r#""student_answers": {{"{p}_2_1": "choice_1", "{p}_3_1": "Caf\u00e9"}}, "has_saved_answers": false, "#,
            r#""score": {{"raw_earned": 1, "raw_possible": 2}}, "x_unknown": 1e-05}}"#
        ),
        p = PID,
        a = attempts
    )
}

fn module<'a>(state: Option<&'a str>) -> ModuleInput<'a> {
    ModuleInput {
        module_id: Some(101),
        learner_id: 42,
        username: "ana",
        state,
        grade: Some(1.0),
        max_grade: Some(2.0),
    }
}

fn run(op: Operation<'_>, m: &ModuleInput<'_>) -> ModuleResult {
    apply(&op, m, &ctx()).expect("not task-fatal")
}

#[test]
fn reset_sets_attempts_to_zero_and_nothing_else() {
    let before = submitted_state("3");
    let r = run(Operation::ResetAttempts, &module(Some(&before)));
    assert_eq!(r.outcome, Outcome::Succeeded);
    let Change::Update {
        state,
        grade,
        max_grade,
    } = &r.change
    else {
        panic!("expected an update, got {:?}", r.change);
    };
    // Byte-for-byte: only the attempts value differs.
    assert_eq!(
        *state,
        before.replace(r#""attempts": 3,"#, r#""attempts": 0,"#)
    );
    assert_ne!(*state, before);
    assert_eq!((*grade, *max_grade), (Some(1.0), Some(2.0)));
    assert_eq!((r.new_grade, r.new_max_grade), (Some(1.0), Some(2.0)));
    let ev = r.event.unwrap();
    assert_eq!(ev.event_type, "problem_reset_attempts");
    assert_eq!(
        ev.payload,
        r#"{"old_attempts": 3, "new_attempts": 0, "student": "ana", "task_id": "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a"}"#
    );
}

#[test]
fn reset_skips_when_there_is_nothing_to_reset() {
    let zero = submitted_state("0");
    let viewed = r#"{"seed": 1, "input_state": {}}"#;
    for state in [
        Some(zero.as_str()),
        Some(viewed),
        Some(""),
        None,
        Some(r#"{"attempts": null}"#),
    ] {
        let r = run(Operation::ResetAttempts, &module(state));
        assert_eq!(
            r.outcome,
            Outcome::Skipped(SkipReason::NoAttempts),
            "{state:?}"
        );
        assert_eq!(r.outcome.reason().unwrap(), "no attempts to reset");
        assert_eq!(r.change, Change::None);
        assert!(r.event.is_none());
    }
}

#[test]
fn reset_fails_unreadable_states_with_a_reason() {
    let r = run(
        Operation::ResetAttempts,
        &module(Some(r#"{"attempts": 2,"#)),
    );
    let Outcome::Failed(FailReason::InvalidJson(_)) = &r.outcome else {
        panic!("{:?}", r.outcome);
    };
    let reason = r.outcome.reason().unwrap();
    assert!(
        reason.starts_with("state is not valid JSON: EOF while parsing"),
        "{reason}"
    );
    assert_eq!(r.outcome.code(), Some("invalid_json"));
    assert_eq!(r.change, Change::None);

    let r = run(Operation::ResetAttempts, &module(Some("[1, 2]")));
    assert_eq!(r.outcome, Outcome::Failed(FailReason::StateNotObject));

    let r = run(
        Operation::ResetAttempts,
        &module(Some(r#"{"attempts": "2"}"#)),
    );
    assert_eq!(
        r.outcome.reason().unwrap(),
        "state field 'attempts' should be a number, found a string"
    );
}

#[test]
fn delete_always_succeeds_and_records_the_state() {
    let before = submitted_state("2");
    let r = run(Operation::DeleteState, &module(Some(&before)));
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(r.change, Change::Delete);
    assert_eq!(
        (r.old_grade, r.new_grade, r.new_max_grade),
        (Some(1.0), None, None)
    );
    let ev = r.event.unwrap();
    assert_eq!(ev.event_type, "problem_delete_state");
    assert_eq!(
        ev.payload,
        format!(
            r#"{{"state": {before}, "student": "ana", "task_id": "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a"}}"#
        )
    );

    // Unreadable state: still deleted; the text is kept as a JSON string.
    let r = run(Operation::DeleteState, &module(Some("{oops")));
    assert_eq!(
        (r.outcome.clone(), r.change.clone()),
        (Outcome::Succeeded, Change::Delete)
    );
    assert_eq!(r.event.unwrap().payload_value()["state"], "{oops");

    let r = run(Operation::DeleteState, &module(None));
    assert_eq!(r.event.unwrap().payload_value()["state"], json!(null));

    // No module at all: nothing to delete.
    let none = ModuleInput {
        module_id: None,
        ..module(None)
    };
    let r = run(Operation::DeleteState, &none);
    assert_eq!(r.outcome, Outcome::Skipped(SkipReason::NoModule));
    assert_eq!(r.change, Change::None);
}

fn override_op(score: f64, max_score: f64, weight: Option<f64>) -> Operation<'static> {
    Operation::OverrideScore {
        score,
        max_score,
        weight,
    }
}

#[test]
fn override_replaces_only_the_score() {
    let before = submitted_state("2");
    let r = run(override_op(1.5, 2.0, None), &module(Some(&before)));
    assert_eq!(r.outcome, Outcome::Succeeded);
    let Change::Update {
        state,
        grade,
        max_grade,
    } = &r.change
    else {
        panic!("{:?}", r.change);
    };
    assert_eq!(
        *state,
        before.replace(
            r#""score": {"raw_earned": 1, "raw_possible": 2}"#,
            r#""score": {"raw_earned": 1.5, "raw_possible": 2}"#
        )
    );
    assert_eq!((*grade, *max_grade), (Some(1.5), Some(2.0)));
    assert_eq!((r.old_grade, r.old_max_grade), (Some(1.0), Some(2.0)));
    let ev = r.event.unwrap();
    assert_eq!(ev.event_type, "edx.grades.problem.score_overridden");
    assert_eq!(
        ev.payload,
        concat!(
            r#"{"course_id": "course-v1:edX+DemoX+Demo_Course", "user_id": "42", "#,
            r#""problem_id": "block-v1:edX+DemoX+Demo_Course+type@problem+block@d2e35c1d294b4ba0b3b1048615605d2a", "#,
            r#""new_weighted_earned": 1.5, "new_weighted_possible": 2, "only_if_higher": false, "#,
            r#""instructor_id": "5", "event_transaction_id": "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a", "#,
            r#""event_transaction_type": "edx.grades.problem.score_overridden", "#,
            r#""student": "ana", "task_id": "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a"}"#
        )
    );
}

#[test]
fn override_with_weight_stores_upstream_raw_values() {
    // Typed 5 (weighted) on a 4-point problem of weight 10: raw = (5/10, 4/10); percentage 5/4 is
    // impossible, so use 2 → raw (0.2, 0.4), i.e. 50 %, weighted 5 of 10.
    let before = submitted_state("1");
    let r = run(override_op(2.0, 4.0, Some(10.0)), &module(Some(&before)));
    assert_eq!((r.new_grade, r.new_max_grade), (Some(0.2), Some(0.4)));
    let v = r.event.unwrap().payload_value();
    assert_eq!(v["new_weighted_earned"], json!(5));
    assert_eq!(v["new_weighted_possible"], json!(10));
}

#[test]
fn override_creates_a_minimal_state_when_there_is_none() {
    let none = ModuleInput {
        module_id: None,
        state: None,
        grade: None,
        max_grade: None,
        ..module(None)
    };
    let r = run(override_op(3.0, 4.0, None), &none);
    assert_eq!(
        r.change,
        Change::Update {
            state: r#"{"score": {"raw_earned": 3, "raw_possible": 4}}"#.into(),
            grade: Some(3.0),
            max_grade: Some(4.0),
        }
    );
    assert_eq!((r.old_grade, r.new_grade), (None, Some(3.0)));

    // A viewed-only module without a score gets one appended; the rest is untouched.
    let viewed = r#"{"seed": 7, "input_state": {"x_2_1": {}}}"#;
    let r = run(override_op(1.0, 4.0, Some(2.0)), &module(Some(viewed)));
    let Change::Update { state, .. } = r.change else {
        panic!()
    };
    assert_eq!(
        state,
        r#"{"seed": 7, "input_state": {"x_2_1": {}}, "score": {"raw_earned": 0.5, "raw_possible": 2}}"#
    );
}

#[test]
fn override_errors_are_task_fatal_with_context() {
    let before = submitted_state("1");
    let m = module(Some(&before));
    let e = apply(&override_op(1.0, 4.0, Some(0.0)), &m, &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.context["learner_id"], 42);
    assert_eq!(e.context["username"], "ana");
    assert_eq!(e.context["module_id"], 101);
    let e = apply(&override_op(5.0, 4.0, None), &m, &ctx()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput);
    assert_eq!(e.context["score"], 5.0);
    assert!(apply(&override_op(-1.0, 4.0, None), &m, &ctx()).is_err());
    // An unreadable state fails the learner, not the task.
    let r = run(override_op(1.0, 4.0, None), &module(Some("nope")));
    assert_eq!(r.outcome.code(), Some("invalid_json"));
}

#[test]
fn outcomes_feed_counts() {
    let s = submitted_state("1");
    let states = [Some(s.as_str()), None, Some("{bad")];
    let mut counts = Counts::new(states.len() as u64);
    for st in states {
        counts.record(&run(Operation::ResetAttempts, &module(st)).outcome);
    }
    assert_eq!(
        (
            counts.succeeded(),
            counts.skipped(),
            counts.failed(),
            counts.attempted()
        ),
        (1, 1, 1, 3)
    );
    assert!(counts.is_complete());
}

#[test]
fn operations_know_their_kind() {
    assert_eq!(Operation::ResetAttempts.kind(), TaskKind::ResetAttempts);
    assert_eq!(Operation::DeleteState.kind(), TaskKind::DeleteState);
    assert_eq!(override_op(1.0, 1.0, None).kind(), TaskKind::OverrideScore);
}
