//! The bridge to the formula evaluator, and the Python numeric typing capa depends on.

use calc::{CalcError, CaseSensitivity, ErrorKind, Expression, Value, Variables};
pub(crate) use coursetasks_calc as calc;
use num_complex::Complex64;

/// A number as capa sees it after `evaluator()` or `complex()`: the Python type matters
/// (`isinstance(x, complex)` in range mode, `OverflowError` when a huge `int` meets a float).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PyNum {
    /// Python/numpy integer; `None` when it is too large for a float (converting raises
    /// `OverflowError`).
    Int(Option<f64>),
    /// Python/numpy float.
    Float(f64),
    /// Python/numpy complex (numpy's complex128 subclasses `complex`).
    Complex(Complex64),
}

/// Python's message when an int cannot become a float.
pub(crate) const INT_OVERFLOW: &str = "OverflowError: int too large to convert to float";

impl PyNum {
    pub(crate) fn from_value(v: &Value) -> PyNum {
        let kind = v.kind_name();
        if kind.contains("complex") {
            PyNum::Complex(v.to_complex())
        } else if kind.contains("int") {
            PyNum::Int(v.to_f64_checked().ok())
        } else {
            PyNum::Float(v.to_complex().re)
        }
    }

    pub(crate) fn is_complex_type(&self) -> bool {
        matches!(self, PyNum::Complex(_))
    }

    /// `complex(x)`; fails like Python for ints beyond the float range.
    pub(crate) fn to_complex(self) -> Result<Complex64, &'static str> {
        match self {
            PyNum::Int(Some(f)) | PyNum::Float(f) => Ok(Complex64::new(f, 0.0)),
            PyNum::Int(None) => Err(INT_OVERFLOW),
            PyNum::Complex(c) => Ok(c),
        }
    }

    /// `abs(x)` as a float (an oversized int raises when it later meets a float).
    pub(crate) fn abs(self) -> Result<f64, &'static str> {
        match self {
            PyNum::Int(Some(f)) | PyNum::Float(f) => Ok(f.abs()),
            PyNum::Int(None) => Err(INT_OVERFLOW),
            PyNum::Complex(c) => Ok(c.norm()),
        }
    }

    /// `cmath.isnan(x)`.
    pub(crate) fn is_nan(self) -> bool {
        match self {
            PyNum::Int(_) => false,
            PyNum::Float(f) => f.is_nan(),
            PyNum::Complex(c) => c.re.is_nan() || c.im.is_nan(),
        }
    }

    /// `.imag`
    pub(crate) fn imag(self) -> f64 {
        match self {
            PyNum::Complex(c) => c.im,
            _ => 0.0,
        }
    }
}

/// `evaluator({}, {}, text)`: case-insensitive, no variables.
pub(crate) fn eval_plain(text: &str) -> Result<PyNum, CalcError> {
    calc::evaluate(text, &Variables::new(), CaseSensitivity::Insensitive)
        .map(|v| PyNum::from_value(&v))
}

/// Parse once, evaluate many times (formula sampling).
pub(crate) fn parse(text: &str, case: CaseSensitivity) -> Result<Expression, CalcError> {
    Expression::parse(text, case)
}

/// Evaluate a parsed expression with sample variables.
pub(crate) fn eval_with(expr: &Expression, vars: &Variables) -> Result<PyNum, CalcError> {
    expr.eval(vars).map(|v| PyNum::from_value(&v))
}

/// Make a sample-variable table.
pub(crate) fn variables(pairs: &[(String, f64)]) -> Variables {
    let mut v = Variables::new();
    for (name, value) in pairs {
        v.insert(name.clone(), Value::from(*value));
    }
    v
}

/// Short description of an evaluator failure (for `Internal` errors).
pub(crate) fn describe(e: &CalcError) -> String {
    format!("{:?}: {}", e.kind, e.message)
}

/// Does this failure correspond to the Python exception capa catches by class?
pub(crate) fn kind(e: &CalcError) -> ErrorKind {
    e.kind
}

/// `get_staff_ans`: Python `complex(text)` first, the evaluator second. `None` means both failed
/// ("There was a problem with the staff answer to this problem.").
pub(crate) fn staff_answer(text: &str) -> Option<PyNum> {
    if let Some(c) = crate::py::parse_complex(text) {
        return Some(PyNum::Complex(c));
    }
    eval_plain(text).ok()
}
