//! Vectors for numericalresponse, formularesponse and choicetextresponse (capa-grading.md §4.6-4.8,
//! §5) and the §11 worked example.

mod common;
use common::*;
use coursetasks_capa::{GradingErrorKind as K, Problem, weighted_score};
use serde_json::json;

fn num(answer: &str, tol: Option<&str>, extra: &str) -> String {
    let tol = tol
        .map(|t| format!(r#"<responseparam type="tolerance" default="{t}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<numericalresponse answer="{answer}" {extra}>{tol}<formulaequationinput/></numericalresponse>"#
    )
}

#[test]
fn worked_example_section_11() {
    let xml = r#"<problem>
      <multiplechoiceresponse><choicegroup><choice correct="false">Berlin</choice><choice correct="true">Paris</choice></choicegroup></multiplechoiceresponse>
      <stringresponse answer="Paris" type="ci"><textline/></stringresponse>
      <numericalresponse answer="3.14"><responseparam type="tolerance" default="0.01"/><textline/></numericalresponse>
      <choiceresponse partial_credit="EDC"><checkboxgroup>
        <choice correct="true">a</choice><choice correct="true">b</choice><choice correct="false">c</choice><choice correct="false">d</choice>
      </checkboxgroup></choiceresponse>
    </problem>"#;
    let p = Problem::compile(xml, "p").unwrap();
    let ids: Vec<_> = p.inputs().iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["p_2_1", "p_3_1", "p_4_1", "p_5_1"]);
    let g = grade(
        &p,
        json!({"p_2_1": "choice_0", "p_3_1": "paris", "p_4_1": "3.15", "p_5_1": ["choice_0"]}),
    )
    .unwrap();
    let v: Vec<_> = g
        .inputs
        .iter()
        .map(|i| (i.correctness, i.points()))
        .collect();
    assert_eq!(v, [(I, 0.0), (C, 1.0), (C, 1.0), (P, 0.75)]);
    assert_eq!((g.score, g.total, g.success), (2.75, 4.0, false));
    assert_eq!(weighted_score(g.score, g.total, Some(10.0)), (6.875, 10.0));
    assert_eq!(weighted_score(g.score, g.total, None), (2.75, 4.0));
    assert_eq!(weighted_score(0.0, 0.0, Some(10.0)), (0.0, 0.0));
    let cmap = g.correct_map_json();
    assert_eq!(
        cmap["p_5_1"],
        json!({"correctness": "partially-correct", "npoints": 0.75, "msg": "", "hint": "",
               "hintmode": null, "queuestate": null, "answervariable": null})
    );
    assert_eq!(cmap["p_2_1"]["correctness"], "incorrect");
}

#[test]
fn decimal_exact_tolerance() {
    assert_eq!(
        one(&num("3.14", Some("0.01"), ""), json!("3.15")),
        (C, None)
    );
    assert_eq!(one(&num("4", Some("0.4"), ""), json!("4.4")), (C, None));
    assert_eq!(one(&num("1.0", Some("0.1"), ""), json!("1.1")), (C, None));
    assert_eq!(
        one(&num("3.14", Some("0.01"), ""), json!("3.16")),
        (I, None)
    );
    assert_eq!(one(&num("600", Some("5"), ""), json!("120*5+5")), (C, None));
    assert_eq!(one(&num("600", Some("5"), ""), json!("606")), (I, None));
}

#[test]
fn percent_and_default_tolerance() {
    assert_eq!(one(&num("100", Some("5%"), ""), json!("105")), (C, None));
    assert_eq!(one(&num("100", Some("5%"), ""), json!("105.5")), (I, None));
    // Default 0.001% is relative to max(|student|, |instructor|).
    assert_eq!(one(&num("100000", None, ""), json!("100001")), (C, None));
    assert_eq!(one(&num("100000", None, ""), json!("100002")), (I, None));
    assert_eq!(one(&num("0", None, ""), json!("0")), (C, None));
    assert_eq!(
        one(&num("0", None, ""), json!("1e-300")),
        (I, None),
        "zero accepts only an exact zero"
    );
    assert_eq!(
        one(&num("2*pi/3", Some("1%"), ""), json!("2.0944")),
        (C, None)
    );
    assert_eq!(
        one(&num("5", None, ""), json!("")),
        (I, None),
        "empty evaluates to NaN"
    );
}

#[test]
fn expanded_tolerance_is_not_relative() {
    // close: expanded "0.002%" is a percentage of |C| (absolute), not the relative default.
    let b = num("1000", None, r#"partial_credit="close""#);
    assert_eq!(one(&b, json!("1000.015")), (P, Some(0.5)));
    assert_eq!(one(&b, json!("1000.025")), (I, None));
    let t = num("10", Some("1"), r#"partial_credit="close""#);
    assert_eq!(one(&t, json!("11.5")), (P, Some(0.5)));
    assert_eq!(one(&t, json!("12")), (P, Some(0.5)));
    assert_eq!(one(&t, json!("12.5")), (I, None));
}

#[test]
fn partial_list_and_close() {
    let list = num("2", None, r#"partial_credit="list""#).replace(
        "<formulaequationinput/>",
        r#"<formulaequationinput/><responseparam partial_answers="1, 3"/>"#,
    );
    assert_eq!(one(&list, json!("2")), (C, None));
    assert_eq!(one(&list, json!("1")), (P, Some(0.5)));
    assert_eq!(one(&list, json!("3")), (P, Some(0.5)));
    assert_eq!(one(&list, json!("5")), (I, None));
    let both = num("2", Some("0.1"), r#"partial_credit="list,close""#).replace(
        "<formulaequationinput/>",
        r#"<formulaequationinput/><responseparam partial_answers="10"/>"#,
    );
    assert_eq!(
        one(&both, json!("2.15")),
        (P, Some(0.5)),
        "close to the answer"
    );
    assert_eq!(
        one(&both, json!("10.15")),
        (P, Some(0.25)),
        "close to a partial answer"
    );
    assert_eq!(
        one(&both, json!("10.05")),
        (P, Some(0.5)),
        "within tolerance of a partial answer"
    );
    let bare = num("2", None, r#"partial_credit="list""#);
    assert_eq!(one(&bare, json!("2")), (C, None));
    assert_eq!(
        err_kind(&bare, json!("3")),
        K::Internal,
        "list without partial_answers: TypeError"
    );
    let e = one_err(&num("2", None, r#"partial_credit="halves""#), json!("2"));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            K::ProblemDefinition,
            "partial_credit attribute should be one of: list,close"
        )
    );
}

#[test]
fn ranges() {
    let incl = num("[1, 5]", None, "");
    assert_eq!(one(&incl, json!("5")), (C, None));
    assert_eq!(one(&incl, json!("3")), (C, None));
    assert_eq!(one(&incl, json!("5.1")), (I, None));
    let excl = num("(1, 5)", None, "");
    assert_eq!(one(&excl, json!("5")), (I, None));
    assert_eq!(one(&excl, json!("1")), (I, None));
    assert_eq!(one(&excl, json!("1.5")), (C, None));
    let e = one_err(&incl, json!("sqrt(-4)"));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            K::StudentInput,
            "You may not use complex numbers in range tolerance problems"
        )
    );
    let e = one_err(&num("[, 5]", None, ""), json!("3"));
    assert_eq!(
        e.message,
        "There was a problem with the staff answer to this problem: empty boundary."
    );
    let close = num("[1, 2]", None, r#"partial_credit="close""#);
    assert_eq!(one(&close, json!("3.5")), (P, Some(0.5)));
    assert_eq!(one(&close, json!("4.5")), (I, None));
    let e =
        Problem::compile(&format!("<problem>{}</problem>", num("[5]", None, "")), "p").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            K::ProblemDefinition,
            "There was a problem with the staff answer to this problem."
        )
    );
}

#[test]
fn additional_answers_are_exact() {
    let b = r#"<numericalresponse answer="3"><additional_answer answer="7"/><responseparam type="tolerance" default="0.1"/><textline/></numericalresponse>"#;
    assert_eq!(one(b, json!("7")), (C, None));
    assert_eq!(one(b, json!("7.0000001")), (I, None));
    assert_eq!(one(b, json!("3.05")), (C, None));
}

#[test]
fn student_input_errors() {
    let b = num("5", None, "");
    let msg = |a: &str| {
        let e = one_err(&b, json!(a));
        assert_eq!(e.kind, K::StudentInput, "{a}");
        e.message
    };
    assert_eq!(msg("2x"), "Invalid math syntax: '2x'");
    assert_eq!(msg("1/0"), "Could not interpret '1/0' as a number.");
    assert_eq!(msg("<b>&"), "Invalid math syntax: '&lt;b&gt;&amp;'");
    assert_eq!(
        msg("fact(-1)"),
        "Factorial function evaluated outside its domain:'fact(-1)'"
    );
    assert!(msg("foo+1").contains("foo not permitted in answer as a variable"));
    assert!(msg("(1").contains("Parentheses are unmatched"));
    assert_eq!(
        err_kind(&b, json!("10^400")),
        K::Internal,
        "OverflowError in compare"
    );
    assert_eq!(err_kind(&b, json!(["5"])), K::Internal);
    let staff = num("2*foo", None, "");
    assert_eq!(
        one_err(&staff, json!("1")).message,
        "There was a problem with the staff answer to this problem."
    );
    assert_eq!(
        err_kind(&num("1", Some("1/3"), ""), json!("1")),
        K::Internal,
        "float('1/3') for the expanded tolerance"
    );
}

#[test]
fn points_and_npoints() {
    let p = problem(&num("5", None, "").replace(
        "<formulaequationinput/>",
        r#"<formulaequationinput points="3"/>"#,
    ));
    assert_eq!(p.max_score(), 3.0);
    let g = grade(&p, json!({"p_2_1": "5"})).unwrap();
    assert_eq!(
        (g.score, g.total),
        (1.0, 3.0),
        "npoints None earns 1 whatever points= says"
    );
    let e = Problem::compile(
        &format!(
            "<problem>{}</problem>",
            num("5", None, "").replace(
                "<formulaequationinput/>",
                r#"<formulaequationinput points="1.5"/>"#
            )
        ),
        "p",
    )
    .unwrap_err();
    assert_eq!(e.kind, K::ProblemDefinition);
}

#[test]
fn seed_substitution() {
    let p = problem(&num("$seed", None, ""));
    assert!(p.uses_seed());
    assert_eq!(
        p.grade(json!({"p_2_1": "7"}).as_object().unwrap(), 7)
            .unwrap()
            .inputs[0]
            .correctness,
        C
    );
    assert_eq!(
        p.grade(json!({"p_2_1": "7"}).as_object().unwrap(), 8)
            .unwrap()
            .inputs[0]
            .correctness,
        I
    );
    assert_eq!(
        p.grade(json!({"p_2_1": "1"}).as_object().unwrap(), 1)
            .unwrap()
            .inputs[0]
            .correctness,
        C
    );
}

const FORMULA: &str = r#"<formularesponse type="cs" samples="x,y@1,2:3,4#10" answer="x^2 + y">
  <responseparam type="tolerance" default="0.01%"/><textline/></formularesponse>"#;

#[test]
fn formula_response() {
    assert_eq!(one(FORMULA, json!("y + x*x")), (C, None));
    assert_eq!(one(FORMULA, json!("x^2 + y + 0.1")), (I, None));
    let e = one_err(FORMULA, json!("X^2 + y"));
    assert_eq!(e.kind, K::StudentInput, "cs: X is undefined");
    let ci = FORMULA.replace(r#"type="cs""#, "");
    assert_eq!(one(&ci, json!("X^2 + Y")), (C, None));
    assert_eq!(
        one_err(FORMULA, json!("x^")).message,
        "Invalid input: Could not parse 'x^' as a formula"
    );
    let p = problem(FORMULA);
    assert_eq!(
        grade(&p, json!({})).unwrap_err().kind,
        K::Internal,
        "missing answer: KeyError"
    );
}

#[test]
fn formula_sampling_is_deterministic() {
    // Borderline: differs from x by ~0.5% at x≈1 and ~0.1% at x≈5, tolerance 0.2%.
    let b = r#"<formularesponse samples="x@1:5#3" answer="x"><responseparam type="tolerance" default="0.2%"/><textline/></formularesponse>"#;
    let p = problem(b);
    let ans = json!({"p_2_1": "x + 0.005"});
    for seed in 0..40u64 {
        let a = p.grade(ans.as_object().unwrap(), seed).unwrap().inputs[0].correctness;
        let b = p.grade(ans.as_object().unwrap(), seed).unwrap().inputs[0].correctness;
        assert_eq!(a, b, "seed {seed}");
    }
    let verdicts: std::collections::HashSet<_> = (0..40u64)
        .map(|s| p.grade(ans.as_object().unwrap(), s).unwrap().inputs[0].correctness)
        .collect();
    assert_eq!(verdicts.len(), 2, "different seeds draw different points");
}

#[test]
fn formula_zero_samples_and_bad_specs() {
    let zero = r#"<formularesponse samples="x@1:2#0" answer="x"><textline/></formularesponse>"#;
    assert_eq!(
        one(zero, json!("garbage(")),
        (C, None),
        "no samples: all([]) is True"
    );
    let bad = r#"<formularesponse samples="x@1:2" answer="x"><textline/></formularesponse>"#;
    assert_eq!(err_kind(bad, json!("x")), K::Internal);
}

#[test]
fn choicetext() {
    let b = r#"<choicetextresponse><radiotextgroup>
      <choice correct="false">A <decoy_input/></choice>
      <choice correct="true">B <numtolerance_input answer="5" tolerance="1"/></choice>
    </radiotextgroup></choicetextresponse>"#;
    let ok = json!({"p_2_1_choiceinput_1bc": "choiceinput_1", "p_2_1_choiceinput_1_numtolerance_input_0": "5.5"});
    assert_eq!(one(b, ok), (C, None));
    let far =
        json!({"p_2_1_choiceinput_1bc": "x", "p_2_1_choiceinput_1_numtolerance_input_0": "7"});
    assert_eq!(one(b, far), (I, None));
    let wrong =
        json!({"p_2_1_choiceinput_0bc": "x", "p_2_1_choiceinput_0_numtolerance_input_0": "1"});
    assert_eq!(one(b, wrong), (I, None));
    let junk =
        json!({"p_2_1_choiceinput_0bc": "x", "p_2_1_choiceinput_0_numtolerance_input_0": "abc("});
    let e = one_err(b, junk);
    assert_eq!(e.kind, K::StudentInput);
    assert!(
        e.message
            .starts_with("Could not interpret 'abc(' as a number.")
    );
    // Values under unselected choices are not checked at all.
    let ignored = json!({"p_2_1_choiceinput_1bc": "x", "p_2_1_choiceinput_1_numtolerance_input_0": "5", "p_2_1_choiceinput_0_numtolerance_input_0": "abc("});
    assert_eq!(one(b, ignored), (C, None));
    let p = problem(b);
    assert_eq!(grade(&p, json!({})).unwrap().inputs[0].correctness, I);
}
