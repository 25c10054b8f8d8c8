//! Property tests: id numbering, choice naming, tolerance comparison, and compile/grade never
//! panicking on generated input.

mod common;
use coursetasks_capa::{Correctness, Problem};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Python's shortest round-trip string of a float is what capa's Decimal sees.
fn lit(x: f64) -> String {
    format!("{x:?}")
}

fn numerical(answer: f64, tol: &str) -> Problem {
    Problem::compile(
        &format!(
            r#"<problem><numericalresponse answer="{}"><responseparam type="tolerance" default="{tol}"/><textline/></numericalresponse></problem>"#,
            lit(answer)
        ),
        "p",
    )
    .unwrap()
}

fn verdict(p: &Problem, answer: &str) -> Correctness {
    p.grade(json!({"p_2_1": answer}).as_object().unwrap(), 1)
        .unwrap()
        .inputs[0]
        .correctness
}

/// Exact decimal value of a short literal, as an integer count of 10^-6.
fn micros(s: &str) -> i128 {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut frac = frac.to_string();
    frac.truncate(6);
    while frac.len() < 6 {
        frac.push('0');
    }
    let v: i128 = int.parse::<i128>().unwrap() * 1_000_000 + frac.parse::<i128>().unwrap();
    if neg { -v } else { v }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Decimal-exact absolute tolerance on short decimals: accepted iff |s - i| <= t exactly,
    /// regardless of binary rounding (3.15 vs 3.14 ± 0.01 style cases).
    #[test]
    fn absolute_tolerance_is_decimal_exact(i in -99_999i64..99_999, d in -2_000i64..2_000, t in 0i64..2_000) {
        let (iv, sv, tv) = (i as f64 / 100.0, (i + d) as f64 / 100.0, t as f64 / 100.0);
        let p = numerical(iv, &lit(tv));
        let expected = (micros(&lit(sv)) - micros(&lit(iv))).abs() <= micros(&lit(tv));
        prop_assert_eq!(verdict(&p, &lit(sv)) == Correctness::Correct, expected);
    }

    /// The comparison is symmetric in student and instructor for absolute tolerances.
    #[test]
    fn tolerance_is_symmetric(a in -1e6f64..1e6, b in -1e6f64..1e6, t in 0f64..1e3) {
        let p1 = numerical(a, &lit(t));
        let p2 = numerical(b, &lit(t));
        prop_assert_eq!(verdict(&p1, &lit(b)), verdict(&p2, &lit(a)));
    }

    /// A value equal to the answer is always accepted, and one far outside the tolerance never.
    #[test]
    fn within_and_outside(a in -1e9f64..1e9, t in 0.001f64..100.0) {
        let p = numerical(a, &lit(t));
        prop_assert_eq!(verdict(&p, &lit(a)), Correctness::Correct);
        prop_assert_eq!(verdict(&p, &lit(a + 3.0 * t + 1.0)), Correctness::Incorrect);
        let d = numerical(a, "0.001%");
        prop_assert_eq!(verdict(&d, &lit(a)), Correctness::Correct);
    }

    /// N responses of M inputs each get `<pid>_<k+1>_<m>` in document order, whatever the types.
    #[test]
    fn id_numbering(shape in proptest::collection::vec((0usize..4, 1usize..4), 1..8)) {
        let mut body = String::new();
        let mut expected = Vec::new();
        for (k, (kind, m)) in shape.iter().enumerate() {
            let (open, input, close, m) = match kind {
                0 => ("<optionresponse>", "<optioninput correct=\"a\"/>", "</optionresponse>", *m),
                1 => ("<customresponse cfn=\"f\">", "<textline/>", "</customresponse>", *m),
                2 => ("<stringresponse answer=\"a\">", "<textline/>", "</stringresponse>", 1),
                _ => ("<imageresponse>", "<imageinput rectangle=\"(0,0)-(1,1)\"/>", "</imageresponse>", *m),
            };
            body.push_str(open);
            for j in 1..=m {
                body.push_str("<div>");
                body.push_str(input);
                body.push_str("</div>");
                expected.push(format!("pid_{}_{}", k + 2, j));
            }
            body.push_str(close);
        }
        let p = Problem::compile(&format!("<problem>{body}</problem>"), "pid").unwrap();
        let ids: Vec<String> = p.inputs().iter().map(|i| i.id.clone()).collect();
        prop_assert_eq!(ids, expected);
        prop_assert_eq!(p.response_types().len(), shape.len());
    }

    /// Multiple-choice naming: named choices are `choice_<name>`, unnamed ones count on their own.
    #[test]
    fn choice_naming(named in proptest::collection::vec(any::<bool>(), 1..10), pick in 0usize..10) {
        let pick = pick % named.len();
        let mut body = String::from("<multiplechoiceresponse><choicegroup>");
        let mut unnamed = 0;
        let mut names = Vec::new();
        for (i, n) in named.iter().enumerate() {
            let correct = if i == pick { "true" } else { "false" };
            if *n {
                body.push_str(&format!(r#"<choice name="n{i}" correct="{correct}">x</choice>"#));
                names.push(format!("choice_n{i}"));
            } else {
                body.push_str(&format!(r#"<choice correct="{correct}">x</choice>"#));
                names.push(format!("choice_{unnamed}"));
                unnamed += 1;
            }
        }
        body.push_str("</choicegroup></multiplechoiceresponse>");
        let p = common::problem(&body);
        for (i, name) in names.iter().enumerate() {
            let want = if i == pick { Correctness::Correct } else { Correctness::Incorrect };
            let g = common::grade(&p, json!({"p_2_1": name})).unwrap();
            prop_assert_eq!(g.inputs[0].correctness, want);
        }
    }

    /// Compile never panics on arbitrary text, and grading never panics on arbitrary answers.
    #[test]
    fn never_panics(xml in ".{0,300}", answer in ".{0,20}") {
        if let Ok(p) = Problem::compile(&xml, "p") {
            let mut m = serde_json::Map::new();
            for i in p.inputs() {
                m.insert(i.id.clone(), Value::from(answer.clone()));
            }
            let _ = p.grade(&m, 3);
        }
    }

    /// Generated capa-like XML from building blocks, with arbitrary answers of every JSON shape.
    #[test]
    fn never_panics_structured(
        parts in proptest::collection::vec(prop_oneof![
            Just(r#"<multiplechoiceresponse partial_credit="points"><choicegroup><choice correct="true">a</choice><choice correct="partial">b</choice></choicegroup></multiplechoiceresponse>"#),
            Just(r#"<choiceresponse partial_credit="edc"><checkboxgroup><choice correct="true">a</choice><choice correct="false">b</choice></checkboxgroup></choiceresponse>"#),
            Just(r#"<optionresponse><optioninput options="('a','b')" correct="a"/></optionresponse>"#),
            Just(r#"<stringresponse answer="a(b|c)+" type="ci regexp"><textline/></stringresponse>"#),
            Just(r#"<numericalresponse answer="[1,5)" partial_credit="close"><textline/></numericalresponse>"#),
            Just(r#"<numericalresponse answer="3" partial_credit="list,close"><responseparam partial_answers="1,x"/><textline/></numericalresponse>"#),
            Just(r#"<formularesponse answer="x" samples="x@1:2#2"><textline/></formularesponse>"#),
            Just(r#"<imageresponse><imageinput rectangle="(1,1)-(5,5);junk" regions="[[0,0],[9,0],[0,9]]"/></imageresponse>"#),
            Just(r#"<annotationresponse><annotationinput><options><option choice="correct">a</option></options></annotationinput></annotationresponse>"#),
            Just(r#"<choicetextresponse><checkboxtextgroup><choice correct="true"><numtolerance_input answer="5"/></choice></checkboxtextgroup></choicetextresponse>"#),
        ], 1..5),
        answers in proptest::collection::vec(prop_oneof![
            Just(Value::Null), Just(json!(true)), Just(json!(3)), Just(json!(2.5)),
            ".{0,8}".prop_map(Value::from),
            proptest::collection::vec(".{0,6}".prop_map(Value::from), 0..3).prop_map(Value::from),
            Just(json!({"x": 1})), Just(json!(["choice_0", {"a": null}])),
        ], 1..6),
    ) {
        let xml = format!("<problem>{}</problem>", parts.concat());
        let p = Problem::compile(&xml, "p").unwrap();
        let mut m = serde_json::Map::new();
        for (i, input) in p.inputs().iter().enumerate() {
            m.insert(input.id.clone(), answers[i % answers.len()].clone());
        }
        let _ = p.grade(&m, 5);
    }
}
