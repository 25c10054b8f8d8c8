//! Cost of `apply` per module, against a baseline measured in the same run: parsing the same state
//! into a `serde_json::Value` and serializing it back (the least any "load, change, save" must do).
//!
//! Run: `cargo bench -p coursetasks-tasks --bench apply`.

use coursetasks_capa::Problem;
use coursetasks_tasks::{EventContext, ModuleInput, Operation, apply};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const PID: &str = "d2e35c1d294b4ba0b3b1048615605d2a";

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
  <optionresponse>
    <optioninput options="('yes','no')" correct="yes"/>
  </optionresponse>
</problem>"#;

/// A typical submitted four-input state as the LMS stores it.
fn state() -> String {
    let entry = |c: &str| {
        format!(
            r#"{{"correctness": "{c}", "npoints": null, "msg": "", "hint": "", "hintmode": null, "queuestate": null, "answervariable": null}}"#
        )
    };
    format!(
        concat!(
            r#"{{"correct_map": {{"{p}_2_1": {c}, "{p}_3_1": {i}, "{p}_4_1": {c}, "{p}_5_1": {i}}}, "#,
            r#""input_state": {{"{p}_2_1": {{}}, "{p}_3_1": {{}}, "{p}_4_1": {{}}, "{p}_5_1": {{}}}}, "#,
            r#""last_submission_time": "2024-03-01T12:00:00Z", "attempts": 2, "seed": 1, "done": true, "#,
            r#""student_answers": {{"{p}_2_1": "choice_1", "{p}_3_1": "rhone", "{p}_4_1": ["choice_0", "choice_2"], "{p}_5_1": "no"}}, "#,
            r#""has_saved_answers": false, "score": {{"raw_earned": 2, "raw_possible": 4}}}}"#
        ),
        p = PID,
        c = entry("correct"),
        i = entry("incorrect"),
    )
}

fn bench(c: &mut Criterion) {
    let state = state();
    let problem = Problem::compile(XML, PID).expect("benchmark problem compiles");
    let ctx = EventContext {
        task_id: "2f0b3c1e-6c2d-4f5e-9a41-1f2e3d4c5b6a".into(),
        requester: "5".into(),
        course_key: "course-v1:edX+DemoX+Demo_Course".into(),
        usage_key: format!("block-v1:edX+DemoX+Demo_Course+type@problem+block@{PID}"),
    };
    let module = ModuleInput {
        module_id: Some(1),
        learner_id: 42,
        username: "learner42",
        state: Some(&state),
        grade: Some(2.0),
        max_grade: Some(4.0),
    };
    let rescore = Operation::Rescore {
        problem: &problem,
        only_if_higher: false,
    };
    // Sanity: the benchmark measures real work.
    assert!(apply(&rescore, &module, &ctx).unwrap().event.is_some());

    let mut g = c.benchmark_group("apply");
    g.bench_function("baseline: serde_json parse + serialize", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_str(black_box(&state)).unwrap();
            black_box(serde_json::to_string(&v).unwrap())
        })
    });
    g.bench_function("reset_attempts", |b| {
        b.iter(|| {
            apply(
                black_box(&Operation::ResetAttempts),
                black_box(&module),
                &ctx,
            )
        })
    });
    g.bench_function("rescore", |b| {
        b.iter(|| apply(black_box(&rescore), black_box(&module), &ctx))
    });
    g.bench_function("grade only (capa)", |b| {
        let answers: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&format!(
            r#"{{"{PID}_2_1": "choice_1", "{PID}_3_1": "rhone", "{PID}_4_1": ["choice_0", "choice_2"], "{PID}_5_1": "no"}}"#
        ))
        .unwrap();
        b.iter(|| problem.grade(black_box(&answers), 1))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
