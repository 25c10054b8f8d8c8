//! Batch evaluator for the differential check (`scripts/calc_diff.py`).
//!
//! Reads JSON lines `{"expr": "...", "vars": {...}, "case_sensitive": bool}` from stdin and writes
//! one JSON line per input: `{"kind": "int|real|complex", "type": "<python type>", "value": ...}`
//! or `{"kind": "error", "error": "<ErrorKind>", "message": "..."}`.
//!
//! Variable values are `{"int": "<decimal>"}`, `{"float": x}` or `{"complex": [re, im]}`. Input
//! floats should be strings in Python `repr` form (`"0.1"`, `"inf"`, `"nan"`): serde_json's
//! default number parser is not correctly rounded, and a one-ulp error in an input shows up as a
//! large difference in ill-conditioned expressions. Results encode finite floats as JSON
//! numbers (written exactly) and non-finite ones as `"inf"`, `"-inf"`, `"nan"`; ints are decimal
//! strings.

use std::io::{self, BufRead, BufWriter, Write};

use coursetasks_calc::{CaseSensitivity, Value, Variables, evaluate};
use num_bigint::BigInt;
use num_complex::Complex64;
use serde_json::{Value as Json, json};

fn decode_float(json: &Json) -> Result<f64, String> {
    match json {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("bad float {n}")),
        // Rust's parser accepts "inf", "-inf" and "nan" as well as Python's repr of finite values.
        Json::String(s) => s
            .parse()
            .map_err(|e| format!("bad float string {s:?}: {e}")),
        other => Err(format!("bad float {other}")),
    }
}

fn encode_float(x: f64) -> Json {
    if x.is_nan() {
        json!("nan")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}

fn decode_value(json: &Json) -> Result<Value, String> {
    let object = json.as_object().ok_or("variable value must be an object")?;
    if let Some(digits) = object.get("int").and_then(Json::as_str) {
        let big: BigInt = digits
            .parse()
            .map_err(|e| format!("bad int {digits}: {e}"))?;
        return Ok(Value::from(big));
    }
    if let Some(x) = object.get("float") {
        return Ok(Value::Float(decode_float(x)?));
    }
    if let Some(parts) = object.get("complex").and_then(Json::as_array)
        && parts.len() == 2
    {
        let re = decode_float(&parts[0])?;
        let im = decode_float(&parts[1])?;
        return Ok(Value::Complex(Complex64::new(re, im)));
    }
    Err(format!("unsupported variable value {json}"))
}

fn run(line: &str) -> Result<Json, String> {
    let request: Json = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let expr = request["expr"].as_str().ok_or("missing expr")?;
    let case = if request["case_sensitive"].as_bool().unwrap_or(false) {
        CaseSensitivity::Sensitive
    } else {
        CaseSensitivity::Insensitive
    };
    let mut vars = Variables::new();
    if let Some(object) = request["vars"].as_object() {
        for (name, value) in object {
            vars.insert(name.clone(), decode_value(value)?);
        }
    }
    Ok(match evaluate(expr, &vars, case) {
        Ok(value) => {
            let encoded = match &value {
                Value::Int(v) | Value::NpInt(v) => json!(v.to_string()),
                Value::BigInt(b) => json!(b.to_string()),
                Value::Float(x) | Value::NpFloat(x) => encode_float(*x),
                Value::Complex(z) | Value::NpComplex(z) => {
                    json!([encode_float(z.re), encode_float(z.im)])
                }
            };
            json!({
                "kind": value.kind_name(),
                "type": value.python_type_name(),
                "value": encoded,
                "repr": value.to_string(),
            })
        }
        Err(error) => json!({
            "kind": "error",
            "error": error.kind.to_string(),
            "message": error.message,
        }),
    })
}

fn main() -> io::Result<()> {
    let stdin = io::stdin();
    let mut out = BufWriter::new(io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let response = run(&line)
            .unwrap_or_else(|problem| json!({ "kind": "bad-request", "message": problem }));
        writeln!(out, "{response}")?;
    }
    out.flush()
}
