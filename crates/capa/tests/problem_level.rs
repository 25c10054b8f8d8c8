//! Problem-level behaviour: preprocessing, id numbering across unsupported responses,
//! rescorability, error classes, stale keys (capa-grading.md §1, §2, §3, §9, §10).

mod common;
use common::*;
use coursetasks_capa::{Correctness, GradingErrorKind as K, NotRescorable, Problem};
use serde_json::json;

#[test]
fn numbering_counts_unsupported_responses() {
    let xml = r#"<problem>
      <customresponse cfn="f"><textline/><textline/></customresponse>
      <stringresponse answer="a"><textline/></stringresponse>
      <optionresponse><optioninput correct="x"/><div><optioninput correct="y"/></div></optionresponse>
    </problem>"#;
    let p = Problem::compile(xml, "pid").unwrap();
    let ids: Vec<_> = p
        .inputs()
        .iter()
        .map(|i| (i.id.as_str(), i.response_tag, i.response_index))
        .collect();
    assert_eq!(
        ids,
        [
            ("pid_2_1", "customresponse", 1),
            ("pid_2_2", "customresponse", 1),
            ("pid_3_1", "stringresponse", 2),
            ("pid_4_1", "optionresponse", 3),
            ("pid_4_2", "optionresponse", 3),
        ]
    );
    assert_eq!(
        p.response_types(),
        ["customresponse", "stringresponse", "optionresponse"]
    );
    assert_eq!(p.max_score(), 5.0);
    let n = p.rescorability().unwrap_err();
    assert_eq!(n.element, "customresponse");
    let e = p.grade(&serde_json::Map::new(), 1).unwrap_err();
    assert_eq!(e.kind, K::NotRescorable);
}

#[test]
fn scripts() {
    let js = r#"<problem><script type="text/javascript">var x;</script><stringresponse answer="a"><textline/></stringresponse></problem>"#;
    assert_eq!(Problem::compile(js, "p").unwrap().rescorability(), Ok(()));
    let py = r#"<problem><stringresponse answer="a"><textline/></stringresponse><script type="loncapa/python">x = 1</script></problem>"#;
    let n = Problem::compile(py, "p")
        .unwrap()
        .rescorability()
        .unwrap_err();
    assert_eq!(n.element, "script");
    let untyped = r#"<problem><script>x = 1</script></problem>"#;
    assert_eq!(
        Problem::compile(untyped, "p")
            .unwrap()
            .rescorability()
            .unwrap_err()
            .element,
        "script"
    );
}

#[test]
fn other_not_rescorable_cases() {
    let cases = [
        (r#"<coderesponse><textbox/></coderesponse>"#, "coderesponse"),
        (
            r#"<schematicresponse><schematic/></schematicresponse>"#,
            "schematicresponse",
        ),
        (
            r#"<symbolicresponse expect="x"><textline/></symbolicresponse>"#,
            "symbolicresponse",
        ),
        (
            r#"<externalresponse><textline/></externalresponse>"#,
            "externalresponse",
        ),
        (
            r#"<stringresponse answer="$anonymous_student_id"><textline/></stringresponse>"#,
            "stringresponse",
        ),
        (
            r#"<stringresponse answer="a"><textline/><hintgroup hintfn="h"/></stringresponse>"#,
            "hintgroup",
        ),
        (
            r#"<stringresponse answer="a(?x:b)" type="regexp"><textline/></stringresponse>"#,
            "stringresponse",
        ),
        (r#"<include file="x.xml"/>"#, "include"),
    ];
    for (body, element) in cases {
        let p = Problem::compile(&format!("<problem>{body}</problem>"), "p").unwrap();
        let n: NotRescorable = p.rescorability().expect_err(body);
        assert_eq!(n.element, element, "{body}: {}", n.reason);
    }
}

#[test]
fn outtext_and_seed() {
    let xml = "<problem><startouttext />Pick<endouttext /><stringresponse answer=\"$seed\"><textline/></stringresponse></problem>";
    let p = Problem::compile(xml, "p").unwrap();
    assert_eq!(
        p.grade(json!({"p_2_1": "42"}).as_object().unwrap(), 42)
            .unwrap()
            .score,
        1.0
    );
    assert_eq!(
        p.grade(json!({"p_2_1": "42"}).as_object().unwrap(), 41)
            .unwrap()
            .score,
        0.0
    );
    assert_eq!(
        p.grade(json!({"p_2_1": "$seed"}).as_object().unwrap(), 41)
            .unwrap()
            .score,
        0.0
    );
    // Keys that always exist even without a script.
    let ctx = r#"<stringresponse answer="a$python_path$extra_files$script_code"><textline/></stringresponse>"#;
    assert_eq!(one(ctx, json!("a[]None")), (C, None));
    // Unknown names stay literal (they would come from a script).
    assert_eq!(
        one(
            r#"<stringresponse answer="$z"><textline/></stringresponse>"#,
            json!("$z")
        ),
        (C, None)
    );
}

#[test]
fn xml_errors_have_positions() {
    let e =
        Problem::compile("<problem>\n  <stringresponse answer='a'>\n</problem>", "p").unwrap_err();
    assert_eq!(e.kind, K::ProblemDefinition);
    assert!(e.message.contains("at 3:1"), "{}", e.message);
    let e = Problem::compile(
        "<problem><multiplechoiceresponse><textline/></multiplechoiceresponse></problem>",
        "p",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "LoncapaProblem Response multiplechoiceresponse: cannot have input field textline\nSee XML source line 1"
    );
    let e = Problem::compile(
        "<problem><stringresponse answer='a'><textline/><textline/></stringresponse></problem>",
        "p",
    )
    .unwrap_err();
    assert!(e.message.starts_with(
        "LoncapaProblem Response stringresponse: cannot have more than 1 input fields"
    ));
    let e = Problem::compile("<problem><stringresponse answer='a'/></problem>", "p").unwrap_err();
    assert_eq!(
        e.kind,
        K::ProblemDefinition,
        "a one-input response without input fails at load"
    );
    let e = Problem::compile("<!DOCTYPE p [<!ENTITY x 'y'>]><problem/>", "p").unwrap_err();
    assert_eq!(e.kind, K::ProblemDefinition);
}

#[test]
fn one_failure_aborts_everything() {
    let p = problem(
        r#"<stringresponse answer="a"><textline/></stringresponse>
        <numericalresponse answer="1"><textline/></numericalresponse>"#,
    );
    let e = grade(&p, json!({"p_2_1": "a", "p_3_1": "1+"})).unwrap_err();
    assert_eq!(e.kind, K::StudentInput);
}

#[test]
fn stale_keys_and_renumbering() {
    let v1 = problem(r#"<stringresponse answer="a"><textline/></stringresponse>"#);
    let v2 = problem(
        r#"<optionresponse><optioninput correct="x"/></optionresponse>
           <stringresponse answer="a"><textline/></stringresponse>"#,
    );
    let stored = json!({"p_2_1": "a", "p_2_1_dynamath": "<math/>"});
    let g1 = grade(&v1, stored.clone()).unwrap();
    assert_eq!((g1.score, g1.success), (1.0, true));
    // After an edit the string input is p_3_1: the old answer now lands on the dropdown.
    let g2 = grade(&v2, stored).unwrap();
    let v: Vec<_> = g2
        .inputs
        .iter()
        .map(|i| (i.input_id.to_string(), i.correctness))
        .collect();
    assert_eq!(
        v,
        [
            ("p_2_1".to_string(), Correctness::Incorrect),
            ("p_3_1".to_string(), Correctness::Incorrect)
        ]
    );
    // Extra keys are ignored; the map holds exactly the current inputs.
    assert_eq!(g2.correct_map_json().as_object().unwrap().len(), 2);
    // A newly added formula or image input without a stored answer fails instead.
    let v3 = problem(
        r#"<stringresponse answer="a"><textline/></stringresponse>
           <imageresponse><imageinput rectangle="(0,0)-(9,9)"/></imageresponse>"#,
    );
    assert_eq!(
        grade(&v3, json!({"p_2_1": "a"})).unwrap_err().kind,
        K::Internal
    );
}

#[test]
fn image_response() {
    let b = r#"<imageresponse><imageinput rectangle="(10,10)-(20,20);[30,30]-[40,40]" regions="[[[100,100],[200,100],[150,200]]]"/></imageresponse>"#;
    assert_eq!(one(b, json!("[10,20]")), (C, None), "borders are inclusive");
    assert_eq!(one(b, json!("[ 35 , 35 ]")), (C, None));
    assert_eq!(one(b, json!("[21,15]")), (I, None));
    assert_eq!(one(b, json!("[150,150]")), (C, None));
    assert_eq!(
        one(b, json!("[150,100]")),
        (I, None),
        "polygon boundary is outside"
    );
    assert_eq!(one(b, json!("")), (I, None));
    assert_eq!(err_kind(b, json!("(1,2)")), K::Internal);
    let single =
        r#"<imageresponse><imageinput regions="[[0,0],[10,0],[10,10],[0,10]]"/></imageresponse>"#;
    assert_eq!(one(single, json!("[5,5]")), (C, None));
}

#[test]
fn annotation_response() {
    let b = r#"<annotationresponse><annotationinput><options>
      <option choice="incorrect">a</option><option choice="partially-correct">b</option><option choice="correct">c</option>
    </options></annotationinput></annotationresponse>"#;
    assert_eq!(one(b, json!(r#"{"options":[2]}"#)), (C, Some(2.0)));
    assert_eq!(one(b, json!(r#"{"options":[1]}"#)), (P, Some(1.0)));
    assert_eq!(one(b, json!(r#"{"options":[0]}"#)), (I, Some(0.0)));
    assert_eq!(one(b, json!(r#"{"options":[]}"#)), (I, None));
    assert_eq!(err_kind(b, json!("not json")), K::Internal);
}

#[test]
fn serde_names() {
    assert_eq!(
        serde_json::to_value(Correctness::PartiallyCorrect).unwrap(),
        json!("partially-correct")
    );
    assert_eq!(
        serde_json::to_value(K::StudentInput).unwrap(),
        json!("student_input")
    );
    assert_eq!(
        serde_json::to_value(K::ProblemDefinition).unwrap(),
        json!("problem_definition")
    );
    assert_eq!(
        serde_json::to_value(K::NotRescorable).unwrap(),
        json!("not_rescorable")
    );
    assert_eq!(
        serde_json::to_value(K::Internal).unwrap(),
        json!("internal")
    );
    assert_eq!(Correctness::Incorrect.points(Some(0.5)), 0.5);
    assert_eq!(Correctness::PartiallyCorrect.points(None), 1.0);
    assert_eq!(Correctness::Incorrect.points(None), 0.0);
}

#[test]
fn bench_problem_is_sound() {
    use coursetasks_capa::bench_support::*;
    let p = Problem::compile(bench_problem_xml(), BENCH_PROBLEM_ID).unwrap();
    assert_eq!(p.inputs().len(), BENCH_INPUTS);
    let all_right = json!({"bench_2_1": "Mercury", "bench_3_1": "Argon", "bench_4_1": "2*pi/3", "bench_5_1": " paris "});
    assert_eq!(
        p.grade(all_right.as_object().unwrap(), 1).unwrap().score,
        4.0
    );
    let answers = bench_answers(50);
    let total: f64 = answers.iter().map(|a| p.grade(a, 1).unwrap().score).sum();
    assert!(total > 80.0 && total < 180.0, "a realistic mix: {total}");
}
