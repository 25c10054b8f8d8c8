//! `compare_with_tolerance` (capa util.py; capa-grading.md §5).

use crate::decimal::decimal_within;
use crate::error::GradingError;
use crate::num::{self, PyNum};
use crate::py;
use num_complex::Complex64;

/// capa's default tolerance string. Only this exact string forces relative mode.
pub(crate) const DEFAULT_TOLERANCE: &str = "0.001%";

/// A tolerance as capa passes it: a string (precompiled once) or a plain float.
#[derive(Debug, Clone)]
pub(crate) enum Tolerance {
    /// A tolerance string, evaluated at compile time.
    Text {
        /// Equal to `"0.001%"`: relative mode is forced.
        forced_relative: bool,
        /// Ends with `%`.
        percent: bool,
        /// `evaluator(text without %)`, or its failure (raised when a comparison runs).
        value: Result<PyNum, String>,
    },
    /// A float tolerance (expanded non-percent tolerance, range-mode epsilon).
    Number(f64),
}

impl Tolerance {
    /// Precompile a tolerance string.
    pub(crate) fn text(text: &str) -> Tolerance {
        let percent = text.ends_with('%');
        let body = if percent {
            &text[..text.len() - 1]
        } else {
            text
        };
        Tolerance::Text {
            forced_relative: text == DEFAULT_TOLERANCE,
            percent,
            value: num::eval_plain(body).map_err(|e| {
                format!(
                    "evaluating tolerance {:?} raised {}",
                    text,
                    num::describe(&e)
                )
            }),
        }
    }

    /// The default `"0.001%"`.
    pub(crate) fn default_relative() -> Tolerance {
        Tolerance::text(DEFAULT_TOLERANCE)
    }
}

/// The tolerance after its string has been turned into a number.
#[derive(Debug, Clone, Copy)]
enum TolVal {
    Real(f64),
    Complex(Complex64),
}

impl TolVal {
    fn mul(self, k: f64) -> TolVal {
        match self {
            TolVal::Real(r) => TolVal::Real(r * k),
            TolVal::Complex(c) => TolVal::Complex(c * k),
        }
    }
}

fn overflow(msg: &str) -> GradingError {
    GradingError::internal(format!("compare_with_tolerance raised {msg}"))
}

/// Python's `max(a, b)`: `b` only when `b > a` (so a NaN first argument wins).
fn py_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// `compare_with_tolerance(student, instructor, tolerance, relative_tolerance)`.
///
/// Errors are what Python raises from inside the function (evaluator failures on the tolerance,
/// `OverflowError` for huge ints, `InvalidOperation` for a NaN tolerance); capa never catches
/// them in numerical and formula responses, so they are `Internal`.
pub(crate) fn compare(
    student: PyNum,
    instructor: PyNum,
    tolerance: &Tolerance,
    relative: bool,
) -> Result<bool, GradingError> {
    let mut relative = relative;
    let mut tol = match tolerance {
        Tolerance::Number(f) => TolVal::Real(*f),
        Tolerance::Text {
            forced_relative,
            percent,
            value,
        } => {
            relative |= *forced_relative;
            let v = value
                .as_ref()
                .map_err(|m| GradingError::internal(m.clone()))?;
            if *percent {
                let t = match *v {
                    PyNum::Complex(c) => TolVal::Complex(c * 0.01),
                    PyNum::Float(f) => TolVal::Real(f * 0.01),
                    PyNum::Int(Some(f)) => TolVal::Real(f * 0.01),
                    PyNum::Int(None) => return Err(overflow(num::INT_OVERFLOW)),
                };
                if relative {
                    t
                } else {
                    t.mul(instructor.abs().map_err(overflow)?)
                }
            } else {
                match *v {
                    PyNum::Complex(c) => TolVal::Complex(c),
                    PyNum::Float(f) | PyNum::Int(Some(f)) => TolVal::Real(f),
                    // An int tolerance stays exact in Python; beyond the float range it
                    // behaves as an unbounded tolerance.
                    PyNum::Int(None) => TolVal::Real(f64::INFINITY),
                }
            }
        }
    };
    if relative {
        let m = py_max(
            student.abs().map_err(overflow)?,
            instructor.abs().map_err(overflow)?,
        );
        tol = tol.mul(m);
    }
    let s = student.to_complex().map_err(overflow)?;
    let i = instructor.to_complex().map_err(overflow)?;
    let is_inf = |c: Complex64| c.re.is_infinite() || c.im.is_infinite();
    if is_inf(s) || is_inf(i) {
        return Ok(s == i);
    }
    if s.im == 0.0 && i.im == 0.0 {
        if s.re.is_nan() || i.re.is_nan() {
            return Ok(false);
        }
        let t = match tol {
            TolVal::Real(t) => t,
            TolVal::Complex(_) => {
                return Err(GradingError::internal(
                    "compare_with_tolerance raised InvalidOperation: complex tolerance",
                ));
            }
        };
        return decimal_within(s.re, i.re, t).map_err(|()| {
            GradingError::internal(
                "compare_with_tolerance raised decimal.InvalidOperation: NaN tolerance",
            )
        });
    }
    match tol {
        TolVal::Real(t) => Ok((s - i).norm() <= t),
        TolVal::Complex(_) => Err(GradingError::internal(
            "compare_with_tolerance raised TypeError: '<=' not supported between 'float' and 'complex'",
        )),
    }
}

/// The expanded tolerance used for `close` partial credit: `str(r * float(t[:-1])) + "%"` for a
/// percentage, else `r * float(t)`. `float()` accepts only literals, so an expression tolerance
/// (`1/3`) raises `ValueError` here, which capa does not catch.
pub(crate) fn expanded(text: &str, partial_range: f64) -> Result<Tolerance, GradingError> {
    let not_float = |t: &str| {
        GradingError::internal(format!(
            "ValueError: could not convert string to float: '{t}'"
        ))
    };
    if let Some(body) = text.strip_suffix('%') {
        let f = py::parse_float(body).ok_or_else(|| not_float(body))?;
        Ok(Tolerance::text(&format!(
            "{}%",
            py::float_repr(partial_range * f)
        )))
    } else {
        let f = py::parse_float(text).ok_or_else(|| not_float(text))?;
        Ok(Tolerance::Number(partial_range * f))
    }
}
