//! Feeds arbitrary UTF-8 to the evaluator in both case modes, with a few variables bound: it
//! must return a value or an error, never panic, hang or exhaust memory.
#![no_main]

use coursetasks_calc::{CaseSensitivity, Value, Variables, evaluate};
use libfuzzer_sys::fuzz_target;
use num_complex::Complex64;

fuzz_target!(|text: &str| {
    let mut vars = Variables::new();
    vars.insert("x", Value::Float(2.5));
    vars.insert("N", Value::Int(-3));
    vars.insert("z", Value::Complex(Complex64::new(0.5, -1.0)));
    vars.insert("T_{ij}", Value::Float(f64::INFINITY));
    for case in [CaseSensitivity::Insensitive, CaseSensitivity::Sensitive] {
        if let Err(error) = evaluate(text, &vars, case) {
            assert!(!error.message.is_empty());
        }
    }
});
