//! Open edX's formula evaluator (`openedx-calc` 4.0.x), re-implemented in Rust.
//!
//! Learner answers are graded by evaluating them, so every observable behaviour of the Python
//! evaluator matters: which inputs parse, the type of the result (Python int, float, complex or
//! a numpy scalar), which operations raise and with which message. This crate reproduces
//! openedx-calc 4.0.3 running on CPython 3.11 with numpy 2.x.
//!
//! ```
//! use coursetasks_calc::{evaluate, CaseSensitivity, Expression, Value, Variables};
//!
//! let expr = Expression::parse("2*x^2 + sin(pi/2)", CaseSensitivity::Insensitive)?;
//! let mut vars = Variables::new();
//! vars.insert("x", Value::Float(3.0));
//! let v: Value = expr.eval(&vars)?; // evaluate many times with different variables
//! assert_eq!(v.to_string(), "19.0");
//! let v = evaluate("1+2", &Variables::new(), CaseSensitivity::Insensitive)?;
//! assert_eq!(v, Value::Int(3));
//! let c: num_complex::Complex64 = v.to_complex();
//! assert_eq!(c.re, 3.0);
//! # Ok::<(), coursetasks_calc::CalcError>(())
//! ```
//!
//! # Deliberate limits (where Python would misbehave instead)
//!
//! * Exact integers are limited to [`MAX_EXACT_INT_BITS`] bits and `fact` to arguments up to
//!   [`MAX_FACTORIAL_ARG`]; beyond that evaluation fails with an OverflowError instead of
//!   computing for minutes (`10^10^10` makes Python exhaust memory).
//! * Parentheses and function calls nest at most [`MAX_NESTING`] deep (ParseError beyond);
//!   Python raises RecursionError at roughly the same depth.
//! * `abs` of an integer with 2^63 <= |x| < 2^64 returns a Python int where numpy returns a
//!   `uint64`.
//!
//! The complex transcendental functions come from the platform C library (`csin`, `casin`,
//! `cpow`...), which is what numpy itself calls on glibc systems. Real functions also use the C
//! library, while numpy has its own SIMD kernels for some of them: results can differ in the
//! last bit, which only shows in ill-conditioned expressions such as `tan(cosh(20))`.
//!
//! `scripts/calc_diff.py` checks this crate against the Python package on random expressions
//! (`python3 scripts/calc_diff.py --count 20000 --seed 7`).

mod arith;
mod cmath;
mod errors;
mod expression;
mod functions;
mod parser;
mod pyint;
mod value;
mod variables;

pub use expression::{Expression, evaluate};
pub use parser::MAX_NESTING;
pub use pyint::{MAX_EXACT_INT_BITS, MAX_FACTORIAL_ARG, MAX_INT_LITERAL_DIGITS};
pub use value::Value;
pub use variables::Variables;

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
    /// A name that is neither a bound variable nor a built-in function.
    UndefinedVariable,
    /// Parentheses that do not pair up (checked before parsing).
    UnmatchedParenthesis,
    /// Input outside the grammar (pyparsing's `ParseException`).
    ParseError,
    /// Division by zero in Python scalar arithmetic.
    ZeroDivisionError,
    /// For example `fact(-1)` or an int64 raised to a negative power.
    ValueError,
    /// A result too large for a float, or for the exact-integer limit.
    OverflowError,
    /// For example `fact(2.5)`.
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
    /// The Python exception class.
    pub kind: ErrorKind,
    /// The message, verbatim where Open edX shows it to learners.
    pub message: String,
}
