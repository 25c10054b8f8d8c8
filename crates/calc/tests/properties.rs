//! Property tests: algebraic identities the evaluator must respect, and robustness on arbitrary
//! input.

use coursetasks_calc::{CaseSensitivity, ErrorKind, Expression, Value, Variables, evaluate};
use proptest::prelude::*;

fn eval(text: &str) -> Result<Value, coursetasks_calc::CalcError> {
    evaluate(text, &Variables::new(), CaseSensitivity::Insensitive)
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// Number literals in every form the grammar accepts.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..1_000_000).prop_map(|n| n.to_string()),
        (0u64..1000, 0u64..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u64..1000).prop_map(|b| format!(".{b}")),
        (0u64..1000).prop_map(|a| format!("{a}.")),
        (1u64..10, -20i32..20).prop_map(|(m, e)| format!("{m}e{e}")),
        (0u64..500).prop_map(|n| format!("{n}%")),
        "[1-9][0-9]{19,40}".prop_map(|s| s),
    ]
}

/// Well-formed expressions over literals, with every operator, function calls and parentheses.
fn expression() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        literal(),
        Just("pi".to_owned()),
        Just("e".to_owned()),
        Just("i".to_owned())
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "/", "^", "||"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a}){op}({b})")),
            (
                prop::sample::select(vec!["sin", "sqrt", "ln", "abs", "arctan", "exp", "cosh"]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            inner.prop_map(|a| format!("-({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn addition_and_multiplication_commute(a in literal(), b in literal()) {
        for op in ["+", "*"] {
            let ab = eval(&format!("{a}{op}{b}"));
            let ba = eval(&format!("{b}{op}{a}"));
            match (ab, ba) {
                (Ok(x), Ok(y)) => {
                    prop_assert_eq!(x.kind_name(), y.kind_name());
                    prop_assert!(close(x.to_complex().re, y.to_complex().re), "{} vs {}", x, y);
                }
                (Err(x), Err(y)) => prop_assert_eq!(x.kind, y.kind),
                (x, y) => prop_assert!(false, "{:?} vs {:?}", x, y),
            }
        }
    }

    #[test]
    fn parallel_is_symmetric(a in literal(), b in literal()) {
        let ab = eval(&format!("{a}||{b}"));
        let ba = eval(&format!("{b}||{a}"));
        match (ab, ba) {
            (Ok(x), Ok(y)) => prop_assert!(close(x.to_complex().re, y.to_complex().re), "{} vs {}", x, y),
            (Err(x), Err(y)) => prop_assert_eq!(x.kind, y.kind),
            (x, y) => prop_assert!(false, "{:?} vs {:?}", x, y),
        }
    }

    #[test]
    fn parentheses_do_not_change_finite_values(text in expression()) {
        let plain = eval(&text);
        let wrapped = eval(&format!("({text})"));
        match (plain, wrapped) {
            (Ok(x), Ok(y)) => {
                let (zx, zy) = (x.to_complex(), y.to_complex());
                // 0 + (1 * z) turns infinite complex parts into NaN, as in Python; finite
                // values must be identical, including their type.
                if zx.re.is_finite() && zx.im.is_finite() {
                    prop_assert_eq!(x.python_type_name(), y.python_type_name());
                    prop_assert_eq!(zx, zy);
                }
            }
            (Err(x), Err(y)) => prop_assert_eq!(x, y),
            (x, y) => prop_assert!(false, "{:?} vs {:?}", x, y),
        }
    }

    #[test]
    fn subtraction_is_adding_the_negation(a in 0i64..1_000_000, b in 0i64..1_000_000) {
        prop_assert_eq!(eval(&format!("{a}-{b}")).unwrap(), eval(&format!("{a}+-{b}")).unwrap());
        prop_assert_eq!(eval(&format!("{a}-{b}")).unwrap(), Value::Int(a - b));
    }

    #[test]
    fn integer_literals_are_exact(digits in "[1-9][0-9]{0,80}") {
        prop_assert_eq!(eval(&digits).unwrap().to_string(), digits);
    }

    #[test]
    fn parse_and_evaluate_agree(text in expression()) {
        let parsed = Expression::parse(&text, CaseSensitivity::Insensitive)
            .and_then(|e| e.eval(&Variables::new()));
        prop_assert_eq!(parsed.map(|v| v.to_string()), eval(&text).map(|v| v.to_string()));
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,60}") {
        let _ = eval(&text);
        let _ = evaluate(&text, &Variables::new(), CaseSensitivity::Sensitive);
    }

    #[test]
    fn never_panics_on_grammar_soup(tokens in prop::collection::vec(
        prop::sample::select(vec![
            "1", "2.5", ".5", "e3", "E", "%", "(", ")", "+", "-", "*", "/", "^", "||", "|", " ",
            "x", "x'", "_{", "^{", "}", "sin", "fact", "i", "pi", "10^400", "0", "--", "\t",
        ]),
        0..40,
    )) {
        let text = tokens.concat();
        match eval(&text) {
            Ok(_) => {}
            Err(e) => prop_assert!(!e.message.is_empty(), "{:?}", e),
        }
    }
}

#[test]
fn malformed_input_reports_a_parse_error_not_a_panic() {
    let e = eval("1 + * 2").unwrap_err();
    assert_eq!(e.kind, ErrorKind::ParseError);
}
