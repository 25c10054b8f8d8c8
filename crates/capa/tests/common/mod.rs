#![allow(dead_code, unused_imports)]

use coursetasks_capa::{Correctness, Grade, GradingError, GradingErrorKind, Problem};
use serde_json::Value;

pub const PID: &str = "p";

pub fn problem(body: &str) -> Problem {
    Problem::compile(&format!("<problem>{body}</problem>"), PID).expect("problem compiles")
}

pub fn grade(p: &Problem, answers: Value) -> Result<Grade, GradingError> {
    p.grade(answers.as_object().expect("answers object"), 1)
}

/// Grade a one-input problem and return that input's verdict and npoints.
pub fn one(body: &str, answer: Value) -> (Correctness, Option<f64>) {
    let p = problem(body);
    let g = grade(&p, serde_json::json!({ "p_2_1": answer })).expect("grades");
    (g.inputs[0].correctness, g.inputs[0].npoints)
}

/// Grade a one-input problem and return the error.
pub fn one_err(body: &str, answer: Value) -> GradingError {
    let p = problem(body);
    grade(&p, serde_json::json!({ "p_2_1": answer })).expect_err("grading fails")
}

pub fn err_kind(body: &str, answer: Value) -> GradingErrorKind {
    one_err(body, answer).kind
}

pub use Correctness::{Correct as C, Incorrect as I, PartiallyCorrect as P};
