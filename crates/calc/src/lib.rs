//! Open edX's formula evaluator (`openedx-calc` 4.0.x), re-implemented in Rust.
//!
//! API CONTRACT (agreed with the capa crate; keep these signatures):
//!
//! ```ignore
//! let expr = Expression::parse("2*x^2 + sin(pi/2)", CaseSensitivity::Insensitive)?;
//! let mut vars = Variables::new();
//! vars.insert("x", Value::Float(3.0));
//! let v: Value = expr.eval(&vars)?;          // evaluate many times with different variables
//! let v: Value = evaluate("1+2", &Variables::new(), CaseSensitivity::Insensitive)?; // parse + eval
//! let c: num_complex::Complex64 = v.to_complex();
//! ```

use std::fmt;

/// Whether variable and function names are matched case-sensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaseSensitivity {
    /// Open edX's default: names are lower-cased on both sides.
    #[default]
    Insensitive,
    /// Names must match exactly.
    Sensitive,
}

/// The class of an evaluation failure, named after the Python exception openedx-calc raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    UndefinedVariable,
    UnmatchedParenthesis,
    ParseError,
    ZeroDivisionError,
    ValueError,
    OverflowError,
    TypeError,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorKind::UndefinedVariable => "UndefinedVariable",
            ErrorKind::UnmatchedParenthesis => "UnmatchedParenthesis",
            ErrorKind::ParseError => "ParseError",
            ErrorKind::ZeroDivisionError => "ZeroDivisionError",
            ErrorKind::ValueError => "ValueError",
            ErrorKind::OverflowError => "OverflowError",
            ErrorKind::TypeError => "TypeError",
        };
        f.write_str(name)
    }
}

/// An evaluation failure: its class and a human message (verbatim Open edX text where the
/// reference gives one, because capa shows it to learners).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct CalcError {
    pub kind: ErrorKind,
    pub message: String,
}
