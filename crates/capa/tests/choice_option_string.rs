//! Vectors for the non-numeric response types, written from capa-grading.md §4.1-4.5 and the
//! §9 checklist.

mod common;
use common::*;
use coursetasks_capa::{GradingErrorKind as K, Problem};
use serde_json::json;

const MC: &str = r#"<multiplechoiceresponse><choicegroup type="MultipleChoice">
  <choice correct="false">A</choice><choice correct="true">B</choice><choice correct="TRUE">C</choice>
</choicegroup></multiplechoiceresponse>"#;

#[test]
fn multiple_choice_basics() {
    assert_eq!(one(MC, json!("choice_1")), (C, None));
    assert_eq!(
        one(MC, json!("choice_2")),
        (C, None),
        "several correct choices: any one is right"
    );
    assert_eq!(one(MC, json!("choice_0")), (I, None));
    assert_eq!(one(MC, json!(" choice_1")), (I, None), "no trimming");
    assert_eq!(one(MC, json!("choice_9")), (I, None));
    assert_eq!(
        one(MC, json!(["choice_1"])),
        (I, None),
        "a list is never in the names"
    );
    let p = problem(MC);
    assert_eq!(grade(&p, json!({})).unwrap().inputs[0].correctness, I);
}

#[test]
fn multiple_choice_naming_counts_only_unnamed() {
    let body = r#"<multiplechoiceresponse><choicegroup>
      <choice name="a" correct="false">x</choice><choice correct="false">y</choice><choice correct="true">z</choice>
    </choicegroup></multiplechoiceresponse>"#;
    assert_eq!(one(body, json!("choice_1")), (C, None));
    assert_eq!(one(body, json!("choice_a")), (I, None));
    assert_eq!(one(body, json!("choice_2")), (I, None));
}

#[test]
fn multiple_choice_partial_points() {
    let body = |pc: &str| {
        format!(
            r#"<multiplechoiceresponse {pc}><choicegroup>
          <choice correct="true">a</choice><choice correct="partial">b</choice>
          <choice correct="Partial" point_value="0.25">c</choice><choice correct="partial" point_value="0">d</choice>
          <choice correct="false">e</choice></choicegroup></multiplechoiceresponse>"#
        )
    };
    let pts = body(r#"partial_credit="points""#);
    assert_eq!(one(&pts, json!("choice_1")), (P, Some(0.5)));
    assert_eq!(one(&pts, json!("choice_2")), (P, Some(0.25)));
    assert_eq!(one(&pts, json!("choice_3")), (P, Some(0.0)));
    assert_eq!(one(&pts, json!("choice_0")), (C, None));
    assert_eq!(one(&pts, json!("choice_4")), (I, None));
    assert_eq!(
        one(&body(""), json!("choice_1")),
        (I, None),
        "partial without partial credit"
    );
    let e = one_err(&body(r#"partial_credit="points,false""#), json!("choice_0"));
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            K::ProblemDefinition,
            "Only one type of partial credit is allowed for Multiple Choice problems."
        )
    );
    let e = one_err(&body(r#"partial_credit="edc""#), json!("choice_0"));
    assert_eq!(
        e.message,
        "partial_credit attribute should be one of: points,false"
    );
}

#[test]
fn multiple_choice_hint_lookup_crashes() {
    assert_eq!(
        err_kind(MC, json!([])),
        K::Internal,
        "empty list: IndexError in hints"
    );
    assert_eq!(
        err_kind(MC, json!("a\"b")),
        K::Internal,
        "double quote breaks the ElementPath"
    );
}

#[test]
fn missing_correct_attribute_is_a_load_error() {
    let e = Problem::compile(
        "<problem><multiplechoiceresponse><choicegroup><choice>x</choice></choicegroup></multiplechoiceresponse></problem>",
        "p",
    )
    .unwrap_err();
    assert_eq!(e.kind, K::ProblemDefinition);
}

#[test]
fn true_false_is_set_equality() {
    let body = r#"<truefalseresponse><choicegroup><choice correct="true">a</choice><choice correct="true">b</choice><choice correct="false">c</choice></choicegroup></truefalseresponse>"#;
    assert_eq!(one(body, json!(["choice_1", "choice_0"])), (C, None));
    assert_eq!(
        one(body, json!(["choice_1", "choice_0", "choice_0"])),
        (C, None)
    );
    assert_eq!(one(body, json!(["choice_0"])), (I, None));
    assert_eq!(one(body, json!("choice_0")), (I, None));
    let single = r#"<truefalseresponse><choicegroup><choice correct="true">a</choice><choice correct="false">b</choice></choicegroup></truefalseresponse>"#;
    assert_eq!(
        one(single, json!("choice_0")),
        (C, None),
        "a single value is wrapped in a list"
    );
}

fn checkbox(pc: &str, choices: &[&str], points: u32) -> String {
    let cs: String = choices
        .iter()
        .map(|c| format!(r#"<choice correct="{c}">x</choice>"#))
        .collect();
    format!(
        r#"<choiceresponse {pc}><checkboxgroup points="{points}">{cs}</checkboxgroup></choiceresponse>"#
    )
}

#[test]
fn checkbox_default_grading() {
    let b = checkbox("", &["true", "false", "true", "false"], 1);
    assert_eq!(one(&b, json!(["choice_2", "choice_0"])), (C, None));
    assert_eq!(
        one(&b, json!(["choice_0", "choice_2", "choice_2"])),
        (C, None),
        "set semantics"
    );
    assert_eq!(one(&b, json!(["choice_0"])), (I, None));
    assert_eq!(
        one(&b, json!(["choice_0", "choice_2", "choice_9"])),
        (I, None),
        "unknown name is an extra"
    );
    assert_eq!(one(&b, json!("choice_0")), (I, None));
    let none_correct = checkbox("", &["false", "false"], 1);
    assert_eq!(
        one(&none_correct, json!([])),
        (I, None),
        "empty selection is always incorrect"
    );
    let p = problem(&none_correct);
    assert_eq!(grade(&p, json!({})).unwrap().inputs[0].correctness, I);
}

#[test]
fn checkbox_neither_true_nor_false() {
    let b = checkbox("", &["true", "maybe"], 1);
    assert_eq!(one(&b, json!(["choice_0"])), (C, None));
    assert_eq!(one(&b, json!(["choice_0", "choice_1"])), (I, None));
    let edc = checkbox(r#"partial_credit="EDC""#, &["true", "maybe", "false"], 1);
    // n = 2 decisions (choice_1 is in neither set).
    assert_eq!(one(&edc, json!(["choice_0", "choice_1"])), (C, None));
}

#[test]
fn checkbox_edc() {
    let b = checkbox(
        r#"partial_credit="EDC""#,
        &["true", "true", "false", "false"],
        1,
    );
    assert_eq!(one(&b, json!(["choice_0"])), (P, Some(0.75)));
    assert_eq!(one(&b, json!(["choice_0", "choice_1"])), (C, None));
    assert_eq!(one(&b, json!(["choice_2", "choice_3"])), (I, Some(0.0)));
    assert_eq!(one(&b, json!([])), (I, None), "empty beats partial credit");
    let three = checkbox(r#"partial_credit=" edc ""#, &["true", "false", "false"], 1);
    assert_eq!(
        one(&three, json!(["choice_0", "choice_1"])),
        (P, Some(0.67))
    );
    let four_points = checkbox(r#"partial_credit="edc""#, &["true", "false", "false"], 4);
    assert_eq!(
        one(&four_points, json!(["choice_0", "choice_1"])),
        (P, Some(2.67))
    );
    assert_eq!(
        one(&four_points, json!(["choice_0"])),
        (C, None),
        "fully correct EDC earns 1, not 4"
    );
}

#[test]
fn checkbox_halves() {
    let five = checkbox(
        r#"partial_credit="halves""#,
        &["true", "true", "false", "false", "false"],
        2,
    );
    assert_eq!(one(&five, json!(["choice_0", "choice_1"])), (C, Some(2.0)));
    assert_eq!(one(&five, json!(["choice_0"])), (P, Some(1.0)));
    assert_eq!(one(&five, json!(["choice_0", "choice_2"])), (P, Some(0.5)));
    assert_eq!(
        one(&five, json!(["choice_2", "choice_3", "choice_4"])),
        (I, None)
    );
    let four = checkbox(
        r#"partial_credit="halves""#,
        &["true", "true", "false", "false"],
        1,
    );
    assert_eq!(
        one(&four, json!(["choice_0", "choice_2"])),
        (I, None),
        "two errors need five choices"
    );
    let two = checkbox(r#"partial_credit="halves""#, &["true", "false"], 1);
    assert_eq!(
        one(&two, json!(["choice_0", "choice_1"])),
        (I, None),
        "one error needs three choices"
    );
}

#[test]
fn checkbox_credit_errors() {
    let e = one_err(
        &checkbox(r#"partial_credit="edc,halves""#, &["true"], 1),
        json!(["choice_0"]),
    );
    assert_eq!(
        e.message,
        "Only one type of partial credit is allowed for Checkbox problems."
    );
    let e = one_err(
        &checkbox(r#"partial_credit="points""#, &["true"], 1),
        json!(["choice_0"]),
    );
    assert_eq!(
        e.message,
        "partial_credit attribute should be one of: edc,halves,false"
    );
    assert_eq!(e.kind, K::ProblemDefinition);
    assert_eq!(
        err_kind(&checkbox("", &["true"], 1), json!(null)),
        K::Internal,
        "hint code iterates None"
    );
}

#[test]
fn option_response() {
    let b = r#"<optionresponse><optioninput options="('Yes','No')" correct="Yes"/><optioninput correct="No"/></optionresponse>"#;
    let p = problem(b);
    let g = grade(&p, json!({"p_2_1": "Yes", "p_2_2": "no"})).unwrap();
    assert_eq!(
        g.inputs.iter().map(|i| i.correctness).collect::<Vec<_>>(),
        vec![C, I]
    );
    assert_eq!((g.score, g.total), (1.0, 2.0));
    let g = grade(&p, json!({"p_2_1": "Yes ", "p_2_2": "Maybe"})).unwrap();
    assert_eq!(g.inputs[0].correctness, I, "untrimmed");
    assert_eq!(
        g.inputs[1].correctness, I,
        "membership in options is not checked"
    );
    let g = grade(&p, json!({"p_2_1": "1", "p_2_2": "No"})).unwrap();
    assert_eq!(g.inputs[0].answervariable, Some("$seed"));
}

#[test]
fn option_new_style() {
    let b = r#"<optionresponse><optioninput><option correct="False">A</option><option correct="True"> B </option></optioninput></optionresponse>"#;
    assert_eq!(one(b, json!("B")), (C, None));
    assert_eq!(one(b, json!(" B ")), (I, None));
    let two = "<problem><optionresponse><optioninput><option correct=\"True\">A</option><option correct=\"true\">B</option></optioninput></optionresponse></problem>";
    let e = Problem::compile(two, "p").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (
            K::ProblemDefinition,
            "Dropdown questions can only have one correct answer."
        )
    );
    let missing = "<problem><optionresponse><optioninput><option>A</option></optioninput></optionresponse></problem>";
    assert_eq!(
        Problem::compile(missing, "p").unwrap_err().kind,
        K::ProblemDefinition
    );
}

#[test]
fn string_case_and_trimming() {
    let cs = r#"<stringresponse answer="Paris"><textline/></stringresponse>"#;
    assert_eq!(one(cs, json!("Paris")), (C, None));
    assert_eq!(one(cs, json!("paris")), (I, None));
    assert_eq!(
        one(cs, json!("\u{3000}\u{a0}Paris\n\u{1f}")),
        (C, None),
        "str.strip() whitespace"
    );
    assert_eq!(one(cs, json!("Pa ris")), (I, None));
    assert_eq!(one(cs, json!("   ")), (I, None));
    let ci = r#"<stringresponse answer="École" type="ci"><additional_answer answer="Lycée"/><additional_answer>Collège</additional_answer><textline/></stringresponse>"#;
    assert_eq!(one(ci, json!("éCOLE")), (C, None));
    assert_eq!(one(ci, json!("LYCÉE")), (C, None));
    assert_eq!(
        one(ci, json!("collège")),
        (C, None),
        "old-style additional_answer text"
    );
    assert_eq!(err_kind(cs, json!(["Paris"])), K::Internal);
}

#[test]
fn string_regexp() {
    let re = r#"<stringresponse answer="cat" type="regexp"><additional_answer answer="dog"/><textline/></stringresponse>"#;
    assert_eq!(one(re, json!("cat")), (C, None));
    assert_eq!(
        one(re, json!("cats")),
        (C, None),
        "^ binds only to the first alternative"
    );
    assert_eq!(
        one(re, json!("hotdog")),
        (C, None),
        "$ binds only to the last alternative"
    );
    assert_eq!(one(re, json!("hotcat")), (I, None));
    let ci = r#"<stringresponse answer="..bble" type="ci regexp"><textline/></stringresponse>"#;
    assert_eq!(one(ci, json!("BUBBLE")), (C, None));
    assert_eq!(one(ci, json!("bubbles")), (I, None));
    let bad = r#"<stringresponse answer="*abc" type="regexp"><textline/></stringresponse>"#;
    let e = one_err(bad, json!("abc"));
    assert_eq!(e.kind, K::ProblemDefinition);
    assert_eq!(
        e.message,
        "[courseware.capa.responsetypes.stringresponse] error: nothing to repeat at position 1"
    );
    assert_eq!(
        one(bad, json!("")),
        (I, None),
        "an empty answer never compiles the pattern"
    );
    // The extended-hint pass re-checks the *unstripped* answer, so whitespace does compile it.
    assert_eq!(err_kind(bad, json!("  ")), K::ProblemDefinition);
}

#[test]
fn string_legacy_or() {
    let b = r#"<stringresponse answer="one_or_two" type="ci regexp"><additional_answer answer="three"/><textline/></stringresponse>"#;
    assert_eq!(one(b, json!("TWO")), (C, None));
    assert_eq!(
        one(b, json!("three")),
        (I, None),
        "additional answers are ignored"
    );
    assert_eq!(one(b, json!("tw.")), (I, None), "regexp is ignored");
    let upper = r#"<stringresponse answer="one_OR_two"><textline/></stringresponse>"#;
    assert_eq!(
        one(upper, json!("two")),
        (I, None),
        "split is on the lower-case separator only"
    );
    assert_eq!(one(upper, json!("one_OR_two")), (C, None));
}

#[test]
fn string_required_answer() {
    let e = Problem::compile(
        "<problem>\n<stringresponse answer=\"\"><textline/></stringresponse></problem>",
        "p",
    )
    .unwrap_err();
    assert_eq!(
        e.message,
        "Error in problem specification: LoncapaProblem Response stringresponse missing required attribute answer\nSee XML source line 2"
    );
}
