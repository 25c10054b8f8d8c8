//! `grade` and `calc`: the grading engine and the formula evaluator on the command line. Both print
//! exactly one JSON object on stdout, also on error (then they exit 2), so scripts can parse every
//! outcome the same way.

use std::process::ExitCode;

use coursetasks_calc::{CaseSensitivity, Value as CalcValue, Variables, evaluate};
use coursetasks_capa::{GradingError, GradingErrorKind, Problem};
use serde_json::{Map, Value, json};

use crate::cli::{CalcArgs, GradeArgs};

fn emit(value: &Value, ok: bool) -> ExitCode {
    if let Err(error) = outln!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    ) {
        // A reader that went away is no failure (see `main`); anything else is.
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        eprintln!("error: writing the result: {error}");
        return ExitCode::FAILURE;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn grade_error(kind: GradingErrorKind, message: impl Into<String>) -> ExitCode {
    let kind = match kind {
        GradingErrorKind::StudentInput => "student_input",
        GradingErrorKind::ProblemDefinition => "problem_definition",
        GradingErrorKind::NotRescorable => "not_rescorable",
        GradingErrorKind::Internal => "internal",
    };
    emit(
        &json!({"error": {"kind": kind, "message": message.into()}}),
        false,
    )
}

/// Reads `--answers`: inline JSON, or `@PATH`.
fn read_answers(text: &str) -> Result<Map<String, Value>, String> {
    let (source, json) = match text.strip_prefix('@') {
        Some(path) => (
            format!("answers file {path}"),
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read answers file {path}: {e}"))?,
        ),
        None => ("--answers".to_owned(), text.to_owned()),
    };
    match serde_json::from_str::<Value>(&json) {
        Ok(Value::Object(map)) => {
            for (id, answer) in &map {
                let shape_ok = match answer {
                    Value::String(_) => true,
                    Value::Array(items) => items.iter().all(Value::is_string),
                    // choicetext inputs post an object of sub-input names to strings.
                    Value::Object(fields) => fields.values().all(Value::is_string),
                    _ => false,
                };
                if !shape_ok {
                    return Err(format!(
                        "{source}: the answer for {id:?} must be a string or a list of strings, found {answer}"
                    ));
                }
            }
            Ok(map)
        }
        Ok(other) => Err(format!(
            "{source} must be a JSON object mapping input ids to answers, found {}",
            match other {
                Value::Array(_) => "a list",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        )),
        Err(e) => Err(format!("{source} is not valid JSON: {e}")),
    }
}

pub fn grade(args: GradeArgs) -> ExitCode {
    let xml = match std::fs::read_to_string(&args.problem) {
        Ok(xml) => xml,
        Err(e) => {
            return grade_error(
                GradingErrorKind::ProblemDefinition,
                format!("cannot read problem file {}: {e}", args.problem.display()),
            );
        }
    };
    let answers = match read_answers(&args.answers) {
        Ok(a) => a,
        Err(message) => return grade_error(GradingErrorKind::StudentInput, message),
    };
    let problem = match Problem::compile(&xml, &args.problem_id) {
        Ok(p) => p,
        Err(GradingError { kind, message, .. }) => {
            return grade_error(kind, format!("{}: {message}", args.problem.display()));
        }
    };
    match problem.grade(&answers, args.seed) {
        Ok(grade) => {
            let inputs: Map<String, Value> = grade
                .inputs
                .iter()
                .map(|g| {
                    (
                        g.input_id.to_string(),
                        json!({
                            "correctness": g.correctness.as_str(),
                            "npoints": g.npoints,
                            "points": g.points(),
                        }),
                    )
                })
                .collect();
            emit(
                &json!({
                    "inputs": inputs,
                    "score": grade.score,
                    "total": grade.total,
                    "success": if grade.success { "correct" } else { "incorrect" },
                }),
                true,
            )
        }
        Err(GradingError { kind, message, .. }) => grade_error(kind, message),
    }
}

fn value_json(value: &CalcValue) -> Value {
    match value.kind_name() {
        "complex" => {
            let c = value.to_complex();
            json!({"kind": "complex", "value": {"re": float_json(c.re), "im": float_json(c.im)}})
        }
        "int" => {
            // Exact integers of any size: as a JSON number when it fits, else as its decimal text.
            let text = value.to_string();
            let number = text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(text));
            json!({"kind": "int", "value": number})
        }
        _ => json!({"kind": "real", "value": float_json(value.to_complex().re)}),
    }
}

/// JSON has no inf/nan: those are written as the strings Python prints.
fn float_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x.is_nan() {
        json!("nan")
    } else if x > 0.0 {
        json!("inf")
    } else {
        json!("-inf")
    }
}

fn calc_error(error: &str, message: impl Into<String>) -> ExitCode {
    emit(
        &json!({"kind": "error", "error": error, "message": message.into()}),
        false,
    )
}

pub fn calc(args: CalcArgs) -> ExitCode {
    let case = if args.case_sensitive {
        CaseSensitivity::Sensitive
    } else {
        CaseSensitivity::Insensitive
    };
    let mut vars = Variables::new();
    for binding in &args.vars {
        let Some((name, value_text)) = binding.split_once('=') else {
            return calc_error(
                "ParseError",
                format!("--var {binding:?} must look like NAME=VALUE"),
            );
        };
        let name = name.trim();
        if name.is_empty() {
            return calc_error("ParseError", format!("--var {binding:?} has no name"));
        }
        match evaluate(value_text, &Variables::new(), case) {
            Ok(value) => vars.insert(name, value),
            Err(e) => {
                return calc_error(
                    &e.kind.to_string(),
                    format!("value of --var {name}: {}", e.message),
                );
            }
        }
    }
    match evaluate(&args.expression, &vars, case) {
        Ok(value) => emit(&value_json(&value), true),
        Err(e) => calc_error(&e.kind.to_string(), e.message),
    }
}
