//! Behaviour vectors for openedx-calc 4.0.3 semantics. Every expected value and message below was
//! observed with the Python package (`evaluator({}, {}, expr)` on CPython 3.11, numpy 2.x).

use coursetasks_calc::{
    CaseSensitivity, ErrorKind, Expression, MAX_NESTING, Value, Variables, evaluate,
};

const INSENSITIVE: CaseSensitivity = CaseSensitivity::Insensitive;
const SENSITIVE: CaseSensitivity = CaseSensitivity::Sensitive;

fn eval_with(
    expr: &str,
    vars: &Variables,
    case: CaseSensitivity,
) -> Result<Value, coursetasks_calc::CalcError> {
    evaluate(expr, vars, case)
}

/// Asserts the Python type and `repr` of a successful evaluation.
fn check(expr: &str, python_type: &str, repr: &str) {
    let value = eval_with(expr, &Variables::new(), INSENSITIVE)
        .unwrap_or_else(|e| panic!("{expr:?} failed: {e}"));
    assert_eq!(
        (value.python_type_name(), value.to_string().as_str()),
        (python_type, repr),
        "{expr:?}"
    );
}

fn check_all(cases: &[(&str, &str, &str)]) {
    for (expr, python_type, repr) in cases {
        check(expr, python_type, repr);
    }
}

fn error_of(expr: &str, vars: &Variables, case: CaseSensitivity) -> (ErrorKind, String) {
    match eval_with(expr, vars, case) {
        Ok(value) => panic!("{expr:?} unexpectedly gave {value}"),
        Err(e) => (e.kind, e.message),
    }
}

fn check_error(expr: &str, kind: ErrorKind, message: &str) {
    assert_eq!(
        error_of(expr, &Variables::new(), INSENSITIVE),
        (kind, message.to_owned()),
        "{expr:?}"
    );
}

fn check_parse_error(expr: &str) {
    let (kind, message) = error_of(expr, &Variables::new(), INSENSITIVE);
    assert_eq!(kind, ErrorKind::ParseError, "{expr:?}: {message}");
    assert!(message.contains("position"), "{expr:?}: {message}");
}

#[test]
fn precedence_and_associativity() {
    check_all(&[
        ("2*3||6", "float", "4.0"),
        ("1+2*3||6", "float", "5.0"),
        ("2^3^2", "int", "512"),
        ("(2^3)^2", "int", "64"),
        ("-2^2", "int", "-4"),
        ("(-2)^2", "int", "4"),
        ("1-2-3", "int", "-4"),
        ("12/2/3", "float", "2.0"),
        ("2+3*4", "int", "14"),
        ("2*3^2", "int", "18"),
        ("1||2", "float", "0.6666666666666666"),
        ("1||2||2", "float", "0.5"),
    ]);
}

#[test]
fn signs_glue_to_number_literals_only() {
    check_all(&[
        ("2*-3", "int", "-6"),
        ("2^-2", "float", "0.25"),
        ("5--3", "int", "8"),
        ("--2", "int", "2"),
        ("-(2)", "int", "-2"),
        ("- 3", "int", "-3"),
        ("2*- 3", "int", "-6"),
        ("+2", "int", "2"),
        ("1 -2", "int", "-1"),
    ]);
    for expr in ["2*-x", "2^-(2)", "5---3", "2*-pi", "i||-i", "2+-x"] {
        check_parse_error(expr);
    }
}

#[test]
fn no_implicit_multiplication_or_removed_suffixes() {
    for expr in [
        "2x", "3(4)", "x y", "sin 3", "5k", "3m", "(5)%", "2 3", "2^{3}", "2e", "2ex",
    ] {
        check_parse_error(expr);
    }
    for expr in [
        "[1]",
        "{1}",
        "1..2",
        "..5",
        "2**3",
        "x '",
        "T_{ij}(3)",
        "x_1_{2}",
        "2 !",
    ] {
        check_parse_error(expr);
    }
}

#[test]
fn number_forms() {
    check_all(&[
        (".5", "float", "0.5"),
        ("5.", "float", "5.0"),
        ("1e3", "float", "1000.0"),
        ("1E3", "float", "1000.0"),
        ("1 e 3", "float", "1000.0"),
        ("2e+3", "float", "2000.0"),
        ("1.5E-2", "float", "0.015"),
        ("-007", "int", "-7"),
        ("70%", "float", "0.7000000000000001"),
        ("5 %", "float", "0.05"),
        ("1e3%", "float", "10.0"),
        ("1e400", "float", "inf"),
        ("-0.0", "float", "0.0"),
        (
            "123456789012345678901234567890",
            "int",
            "123456789012345678901234567890",
        ),
    ]);
    let too_long = "1".repeat(4301);
    check_error(
        &too_long,
        ErrorKind::ValueError,
        "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; \
         use sys.set_int_max_str_digits() to increase the limit",
    );
    assert_eq!(
        evaluate(&"9".repeat(4300), &Variables::new(), INSENSITIVE)
            .unwrap()
            .to_string()
            .len(),
        4300
    );
}

#[test]
fn python_int_arithmetic() {
    check_all(&[
        ("2^100", "int", "1267650600228229401496703205376"),
        ("10^400/10^399", "float", "10.0"),
        ("3/10^400", "float", "0.0"),
        ("1/3", "float", "0.3333333333333333"),
        ("2/3*3", "float", "2.0"),
        ("10^-2", "float", "0.01"),
        ("(0-2)^-3", "float", "-0.125"),
        ("2^-1074", "float", "5e-324"),
        ("2^-1075", "float", "0.0"),
        ("2^0", "int", "1"),
        ("(0-1)^(10^30)", "int", "1"),
        ("9223372036854775807+1", "int", "9223372036854775808"),
        ("0-9223372036854775808-1", "int", "-9223372036854775809"),
        ("3037000500*3037000500", "int", "9223372037000250000"),
    ]);
    let ten_400 = evaluate("10^400", &Variables::new(), INSENSITIVE).unwrap();
    assert_eq!(ten_400.to_string(), format!("1{}", "0".repeat(400)));
    check_error(
        "10.0^400",
        ErrorKind::OverflowError,
        "(34, 'Numerical result out of range')",
    );
    check_error(
        "10^400*1.0",
        ErrorKind::OverflowError,
        "int too large to convert to float",
    );
    check_error(
        "(10^400)^-1",
        ErrorKind::OverflowError,
        "int too large to convert to float",
    );
    check_error(
        "10^400/3",
        ErrorKind::OverflowError,
        "integer division result too large for a float",
    );
    check_error(
        "0^-1",
        ErrorKind::ZeroDivisionError,
        "0.0 cannot be raised to a negative power",
    );
    check_error("1/0", ErrorKind::ZeroDivisionError, "division by zero");
    check_error("0/0", ErrorKind::ZeroDivisionError, "division by zero");
    check_error(
        "1/0.0",
        ErrorKind::ZeroDivisionError,
        "float division by zero",
    );
    check_error(
        "1.0/0",
        ErrorKind::ZeroDivisionError,
        "float division by zero",
    );
    check_error(
        "i/0",
        ErrorKind::ZeroDivisionError,
        "complex division by zero",
    );
}

#[test]
fn absurd_exact_integers_fail_cleanly() {
    for expr in [
        "10^10^10",
        "9^9^9",
        "2^(10^30)",
        "fact(100000)",
        "(10^4000)^100",
    ] {
        let (kind, message) = error_of(expr, &Variables::new(), INSENSITIVE);
        assert_eq!(kind, ErrorKind::OverflowError, "{expr}");
        assert!(
            message.contains("coursetasks evaluator limit"),
            "{expr}: {message}"
        );
    }
    check_error(
        "fact(10^30)",
        ErrorKind::OverflowError,
        "factorial() argument should not exceed 9223372036854775807",
    );
}

#[test]
fn float_and_complex_powers() {
    check_all(&[
        (
            "(0-8)^(1/3)",
            "complex",
            "(1.0000000000000002+1.7320508075688772j)",
        ),
        (
            "(0-8.0)^0.5",
            "complex",
            "(1.7319121124709868e-16+2.8284271247461903j)",
        ),
        ("(0-2)^-1000000", "float", "0.0"),
        ("(0-2.0)^(1e308*10)", "float", "inf"),
        ("(0-1)^(1e308*10)", "float", "1.0"),
        ("(0-1e308*10)^3", "float", "-inf"),
        ("0.9^7000", "float", "4.985e-321"),
        ("i^2", "complex", "(-1+0j)"),
        ("i^-1", "complex", "-1j"),
        ("i^i", "complex", "(0.20787957635076193+0j)"),
        ("(1+i)^100", "complex", "(-1125899906842624+0j)"),
        ("(1e300*i)^-2", "complex", "(nan+nanj)"),
        ("(0*i)^0", "complex", "(1+0j)"),
        ("1e400*i", "complex", "(nan+infj)"),
        ("0*i", "complex", "0j"),
    ]);
    check_error(
        "i^(1e308*10)",
        ErrorKind::ZeroDivisionError,
        "0.0 to a negative or complex power",
    );
    check_error(
        "(0*i)^-1",
        ErrorKind::ZeroDivisionError,
        "0.0 to a negative or complex power",
    );
    check_error(
        "(1e200*i)^2",
        ErrorKind::OverflowError,
        "complex exponentiation",
    );
}

#[test]
fn constants_and_case_folding() {
    check_all(&[
        ("pi", "float", "3.141592653589793"),
        ("PI", "float", "3.141592653589793"),
        ("e", "float", "2.718281828459045"),
        ("J", "complex", "1j"),
        ("Sin(0)", "numpy.float64", "0.0"),
        ("1e3", "float", "1000.0"),
    ]);
    let mut vars = Variables::new();
    vars.insert("E", Value::Int(5));
    assert_eq!(eval_with("e", &vars, INSENSITIVE).unwrap(), Value::Int(5));
    assert_eq!(
        eval_with("e", &vars, SENSITIVE).unwrap().to_string(),
        "2.718281828459045"
    );
    assert_eq!(eval_with("2*E", &vars, SENSITIVE).unwrap(), Value::Int(10));

    let (kind, message) = error_of("PI", &Variables::new(), SENSITIVE);
    assert_eq!(kind, ErrorKind::UndefinedVariable);
    assert_eq!(
        message,
        "Invalid Input: PI not permitted in answer as a variable (did you mean pi?)"
    );
    let (_, message) = error_of("Sin(0)", &Variables::new(), SENSITIVE);
    assert_eq!(
        message,
        "Invalid Input: Sin not permitted in answer as a function (did you mean sin?)"
    );
}

#[test]
fn identifiers_with_primes_and_tensors() {
    let mut vars = Variables::new();
    vars.insert("x'", Value::Int(2));
    vars.insert("x''", Value::Int(3));
    vars.insert("T_{ij}^{12}''", Value::Int(7));
    vars.insert("U_{ijk}", Value::Float(0.5));
    vars.insert("x^{2}", Value::Int(11));
    vars.insert("f_0'", Value::Int(13));
    assert_eq!(
        eval_with("x'*x''", &vars, INSENSITIVE).unwrap(),
        Value::Int(6)
    );
    assert_eq!(
        eval_with("T_{ij}^{12}''", &vars, INSENSITIVE).unwrap(),
        Value::Int(7)
    );
    assert_eq!(
        eval_with("t_{IJ}^{12}''", &vars, INSENSITIVE).unwrap(),
        Value::Int(7)
    );
    assert_eq!(
        eval_with("2*U_{ijk}", &vars, INSENSITIVE).unwrap(),
        Value::Float(1.0)
    );
    assert_eq!(
        eval_with("x^{2}", &vars, INSENSITIVE).unwrap(),
        Value::Int(11)
    );
    assert_eq!(
        eval_with("f_0'", &vars, INSENSITIVE).unwrap(),
        Value::Int(13)
    );
    let expr = Expression::parse("T_{ij}^{12}'' + sin(x') * y", INSENSITIVE).unwrap();
    assert_eq!(expr.variable_names(), ["T_{ij}^{12}''", "x'", "y"]);
    assert_eq!(expr.function_names(), ["sin"]);
    check_error(
        "x^{2}",
        ErrorKind::UndefinedVariable,
        "Invalid Input: x^{2} not permitted in answer as a variable",
    );
}

#[test]
fn undefined_name_messages() {
    let vars = Variables::new();
    assert_eq!(
        error_of("c + b*a + b", &vars, INSENSITIVE).1,
        "Invalid Input: a, b, c not permitted in answer as a variable"
    );
    assert_eq!(
        error_of("foo(2)", &vars, INSENSITIVE).1,
        "Invalid Input: foo not permitted in answer as a function"
    );
    // Variables are checked before functions.
    assert_eq!(
        error_of("foo(q)", &vars, INSENSITIVE).1,
        "Invalid Input: q not permitted in answer as a variable"
    );
    let mut vars = Variables::new();
    vars.insert("R1", Value::Float(1.0));
    vars.insert("R3", Value::Float(3.0));
    assert_eq!(
        error_of("R1(R3 + 1)", &vars, INSENSITIVE).1,
        "Invalid Input: R1 not permitted in answer as a function (did you forget to use * for \
         multiplication?)"
    );
    assert_eq!(
        error_of("r1 + R2", &vars, SENSITIVE).1,
        "Invalid Input: R2, r1 not permitted in answer as a variable (did you mean R1?)"
    );
    assert_eq!(
        eval_with("r1 + R3", &vars, INSENSITIVE).unwrap(),
        Value::Float(4.0)
    );
}

#[test]
fn unmatched_parentheses() {
    check_error(
        "((1)",
        ErrorKind::UnmatchedParenthesis,
        "Invalid Input: Parentheses are unmatched. 1 parentheses were opened but never closed.",
    );
    check_error(
        "(1))+(2",
        ErrorKind::UnmatchedParenthesis,
        "Invalid Input: A closing parenthesis was found after segment (1), but there is no \
         matching opening parenthesis before it.",
    );
    // The parenthesis check runs before parsing and the name check.
    check_error(
        "x + 2x )",
        ErrorKind::UnmatchedParenthesis,
        "Invalid Input: A closing parenthesis was found after segment x + 2x , but there is no \
         matching opening parenthesis before it.",
    );
}

#[test]
fn blank_input_is_nan() {
    for text in ["", "   ", "\t\n", "\u{c}", "\u{1c}", "\u{a0}"] {
        let value = evaluate(text, &Variables::new(), INSENSITIVE).unwrap();
        assert!(matches!(value, Value::Float(x) if x.is_nan()), "{text:?}");
    }
}

#[test]
fn division_by_zero_depends_on_types() {
    check_all(&[
        ("csc(0)", "numpy.float64", "inf"),
        ("coth(0)", "numpy.float64", "inf"),
        ("cot(0)", "numpy.float64", "inf"),
        ("ln(0)", "numpy.float64", "-inf"),
        ("1/sin(0)", "numpy.float64", "inf"),
        ("abs(-3)/0", "numpy.float64", "inf"),
        ("abs(0)/abs(0)", "numpy.float64", "nan"),
        ("sin(0)^-1", "numpy.float64", "inf"),
        ("sin(0)/i", "numpy.complex128", "0j"),
        ("(sqrt(-4)*0)^-1", "numpy.complex128", "(nan+nanj)"),
        ("0||1", "float", "nan"),
        ("sin(0)||1", "float", "nan"),
        ("abs(0)||2", "float", "nan"),
        ("abs(-3)||2", "numpy.float64", "1.2000000000000002"),
    ]);
    check_error(
        "1||-1",
        ErrorKind::ZeroDivisionError,
        "float division by zero",
    );
    check_error(
        "arccsch(0)",
        ErrorKind::ZeroDivisionError,
        "float division by zero",
    );
    check_error(
        "arcsec(0)",
        ErrorKind::ZeroDivisionError,
        "float division by zero",
    );
    check_error(
        "i/sin(0)",
        ErrorKind::ZeroDivisionError,
        "complex division by zero",
    );
}

#[test]
fn numpy_and_python_scalars_mix_like_python() {
    check_all(&[
        ("i+sin(1)", "complex", "(0.8414709848078965+1j)"),
        ("sin(1)+i", "numpy.complex128", "(0.8414709848078965+1j)"),
        ("exp(1000)", "numpy.float64", "inf"),
        ("exp(1000)*i", "numpy.complex128", "(nan+infj)"),
        ("arccot(i)", "numpy.complex128", "(nan-infj)"),
        ("abs(-3)*2^62*4", "numpy.int64", "0"),
        ("abs(-3)^abs(-40)", "numpy.int64", "-6289078614652622815"),
        ("2^abs(-3)", "numpy.int64", "8"),
        ("abs(0-2^63)", "numpy.int64", "-9223372036854775808"),
        ("abs(3)^0.5", "numpy.float64", "1.7320508075688772"),
        ("(0-2.5)^sin(1)", "numpy.float64", "nan"),
        ("sqrt(-4)^2", "numpy.complex128", "(-4+0j)"),
        ("abs(-3)/10^30", "numpy.float64", "3e-30"),
    ]);
    check_error(
        "abs(-3)+10^30",
        ErrorKind::OverflowError,
        "Python int too large to convert to C long",
    );
    check_error(
        "abs(-3)^-1",
        ErrorKind::ValueError,
        "Integers to negative integer powers are not allowed.",
    );
    check_error(
        "sin(1)+10^400",
        ErrorKind::OverflowError,
        "int too large to convert to float",
    );
}

#[test]
fn function_domains() {
    check_all(&[
        ("sqrt(-4)", "numpy.complex128", "2j"),
        ("sqrt(4)", "numpy.float64", "2.0"),
        ("ln(-1)", "numpy.complex128", "3.141592653589793j"),
        ("log10(-1)", "numpy.complex128", "1.3643763538418412j"),
        (
            "log2(-8)",
            "numpy.complex128",
            "(2.9999999999999996+4.532360141827193j)",
        ),
        (
            "arcsin(2)",
            "numpy.complex128",
            "(1.5707963267948966+1.3169578969248166j)",
        ),
        ("arccos(2)", "numpy.complex128", "-1.3169578969248166j"),
        (
            "arctanh(2)",
            "numpy.complex128",
            "(0.5493061443340549+1.5707963267948966j)",
        ),
        ("arctanh(1)", "numpy.float64", "inf"),
        ("arccosh(0)", "numpy.float64", "nan"),
        ("arcsec(0.5)", "numpy.float64", "nan"),
        ("arccot(-1)", "numpy.float64", "-0.7853981633974483"),
        ("arccot(0)", "numpy.float64", "1.5707963267948966"),
        ("sec(0)", "numpy.float64", "1.0"),
        ("sech(1000)", "numpy.float64", "0.0"),
        ("abs(-3)", "numpy.int64", "3"),
        ("abs(-2.5)", "numpy.float64", "2.5"),
        ("abs(-i)", "numpy.float64", "1.0"),
        ("abs(10^30)", "int", "1000000000000000000000000000000"),
        ("sin(2^63)", "numpy.float64", "0.9999303766734422"),
        (
            "arcsin(2^64)",
            "numpy.complex128",
            "(1.5707963267948966+45.054566736396445j)",
        ),
        ("fact(5)", "int", "120"),
        ("factorial(2+3)", "int", "120"),
        ("fact(abs(-3))", "int", "6"),
        ("fact(30)", "int", "265252859812191058636308480000000"),
    ]);
    let int_loop = |name: &str| {
        format!(
            "loop of ufunc does not support argument 0 of type int which has no callable {name} \
             method"
        )
    };
    check_error("sin(2^64)", ErrorKind::TypeError, &int_loop("sin"));
    check_error("sec(2^64)", ErrorKind::TypeError, &int_loop("cos"));
    check_error("ln(2^64)", ErrorKind::TypeError, &int_loop("log"));
    check_error("arccot(2^64)", ErrorKind::TypeError, &int_loop("arctan"));
    check_error(
        "sqrt(0-10^400)",
        ErrorKind::OverflowError,
        "int too large to convert to float",
    );
    check_error(
        "fact(-1)",
        ErrorKind::ValueError,
        "factorial() not defined for negative values",
    );
    check_error(
        "fact(10/2)",
        ErrorKind::TypeError,
        "'float' object cannot be interpreted as an integer",
    );
    check_error(
        "fact(5.0)",
        ErrorKind::TypeError,
        "'float' object cannot be interpreted as an integer",
    );
    check_error(
        "fact(sin(1))",
        ErrorKind::TypeError,
        "'numpy.float64' object cannot be interpreted as an integer",
    );
    check_error(
        "fact(i)",
        ErrorKind::TypeError,
        "'complex' object cannot be interpreted as an integer",
    );
    check_error(
        "fact(sqrt(-1))",
        ErrorKind::TypeError,
        "'numpy.complex128' object cannot be interpreted as an integer",
    );
}

#[test]
fn operands_are_all_evaluated_before_combining() {
    // Python evaluates every factor before dividing, so fact(-1)'s ValueError wins.
    check_error(
        "1/0*fact(-1)",
        ErrorKind::ValueError,
        "factorial() not defined for negative values",
    );
    // A sum's first term is a complete product, combined before the next term is evaluated.
    check_error(
        "1/0 + fact(-1)",
        ErrorKind::ZeroDivisionError,
        "division by zero",
    );
    check_error(
        "(1/0) + fact(-1)",
        ErrorKind::ZeroDivisionError,
        "division by zero",
    );
}

#[test]
fn nesting_limit_is_a_parse_error() {
    let ok = format!("{}1{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
    assert_eq!(
        evaluate(&ok, &Variables::new(), INSENSITIVE).unwrap(),
        Value::Int(1)
    );
    let deep = format!(
        "{}1{}",
        "sin(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    let (kind, message) = error_of(&deep, &Variables::new(), INSENSITIVE);
    assert_eq!(kind, ErrorKind::ParseError);
    assert!(message.contains("nested too deeply"), "{message}");
    let very_deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(
        error_of(&very_deep, &Variables::new(), INSENSITIVE).0,
        ErrorKind::ParseError
    );
}

#[test]
fn parse_error_messages_locate_the_problem() {
    let (_, message) = error_of("2*-x", &Variables::new(), INSENSITIVE);
    assert_eq!(
        message,
        "Invalid Input: could not parse the expression at position 3: found 'x', expected a number"
    );
    let (_, message) = error_of("1 + 2 3", &Variables::new(), INSENSITIVE);
    assert!(message.contains("position 6: found '3'"), "{message}");
}

#[test]
fn expression_is_reusable_across_variable_sets() {
    let expr = Expression::parse("x^2 + 1", INSENSITIVE).unwrap();
    for k in 0..5i64 {
        let mut vars = Variables::new();
        vars.insert("X", Value::Int(k));
        assert_eq!(expr.eval(&vars).unwrap(), Value::Int(k * k + 1));
    }
    assert_eq!(
        expr.check_names(&Variables::new()).unwrap_err().message,
        "Invalid Input: x not permitted in answer as a variable"
    );
    // Names are case-folded with the mode given at parse time.
    let sensitive = Expression::parse("x", SENSITIVE).unwrap();
    let mut vars = Variables::new();
    vars.insert("X", Value::Int(1));
    assert!(sensitive.eval(&vars).is_err());
}

#[test]
fn public_value_helpers() {
    let v = evaluate("1+2*i", &Variables::new(), INSENSITIVE).unwrap();
    assert_eq!(v.kind_name(), "complex");
    assert!(!v.is_real());
    assert_eq!(v.to_complex(), num_complex::Complex64::new(1.0, 2.0));
    assert_eq!(v.to_f64_checked().unwrap_err().kind, ErrorKind::TypeError);
    let big = evaluate("10^400", &Variables::new(), INSENSITIVE).unwrap();
    assert_eq!(big.kind_name(), "int");
    assert_eq!(
        big.to_f64_checked().unwrap_err().kind,
        ErrorKind::OverflowError
    );
    assert_eq!(Value::from(6i64).to_string(), "6");
    // A small value stored as BigInt behaves like any other int.
    let mut vars = Variables::new();
    vars.insert("n", Value::BigInt(num_bigint::BigInt::from(5)));
    assert_eq!(
        eval_with("fact(n) + n^2", &vars, INSENSITIVE).unwrap(),
        Value::Int(145)
    );
    assert_eq!(Value::from(6.0).to_string(), "6.0");
}
