//! Values typed like the Python objects openedx-calc computes with.
//!
//! The type matters for verdicts: dividing a Python float by zero raises, dividing a numpy
//! float by zero gives `inf`; `fact(5.0)` is a TypeError while `fact(5)` is 120; a Python int is
//! exact while a numpy int64 wraps around. So a value remembers which of the six scalar types it
//! would have been in Python.

use std::fmt;

use num_bigint::BigInt;
use num_complex::Complex64;
use num_traits::ToPrimitive;

use crate::CalcError;
use crate::errors::type_error;
use crate::pyint::IntRef;

/// A computed value, typed like the Python or numpy scalar openedx-calc would produce.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Python `int` that fits in an `i64` (the common case, kept allocation-free).
    Int(i64),
    /// Python `int` outside the `i64` range. Arithmetic normalizes results back to
    /// [`Value::Int`] whenever they fit.
    BigInt(BigInt),
    /// Python `float`.
    Float(f64),
    /// Python `complex`.
    Complex(Complex64),
    /// `numpy.int64` (produced by `abs` of an int): wraps around on overflow.
    NpInt(i64),
    /// `numpy.float64` (what numpy functions return for real input).
    NpFloat(f64),
    /// `numpy.complex128` (what numpy functions return for complex input).
    NpComplex(Complex64),
}

impl Value {
    /// The value as a complex number. Integers too large for a double become infinite here;
    /// use [`Value::to_f64_checked`] where Python would raise instead.
    pub fn to_complex(&self) -> Complex64 {
        match self {
            Value::Int(v) | Value::NpInt(v) => Complex64::new(*v as f64, 0.0),
            Value::BigInt(b) => {
                let re =
                    IntRef::Big(b)
                        .to_f64()
                        .unwrap_or(if b.sign() == num_bigint::Sign::Minus {
                            f64::NEG_INFINITY
                        } else {
                            f64::INFINITY
                        });
                Complex64::new(re, 0.0)
            }
            Value::Float(x) | Value::NpFloat(x) => Complex64::new(*x, 0.0),
            Value::Complex(z) | Value::NpComplex(z) => *z,
        }
    }

    /// `float(value)` as Python computes it: OverflowError for integers beyond the double
    /// range, TypeError for complex values.
    pub fn to_f64_checked(&self) -> Result<f64, CalcError> {
        match self {
            Value::Int(v) | Value::NpInt(v) => Ok(*v as f64),
            Value::BigInt(b) => IntRef::Big(b).to_f64(),
            Value::Float(x) | Value::NpFloat(x) => Ok(*x),
            Value::Complex(_) | Value::NpComplex(_) => Err(type_error(
                "float() argument must be a string or a real number, not 'complex'",
            )),
        }
    }

    /// Whether the value is of a real (non-complex) type. `(1+0j)` is not real.
    pub fn is_real(&self) -> bool {
        !matches!(self, Value::Complex(_) | Value::NpComplex(_))
    }

    /// `"int"`, `"real"` or `"complex"`: the class of the type (numpy types count with their
    /// Python counterparts).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::BigInt(_) | Value::NpInt(_) => "int",
            Value::Float(_) | Value::NpFloat(_) => "real",
            Value::Complex(_) | Value::NpComplex(_) => "complex",
        }
    }

    /// The exact Python type name, e.g. `"float"` or `"numpy.float64"` (for diagnostics and
    /// the differential check against the Python package).
    pub fn python_type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Complex(_) => "complex",
            Value::NpInt(_) => "numpy.int64",
            Value::NpFloat(_) => "numpy.float64",
            Value::NpComplex(_) => "numpy.complex128",
        }
    }

    /// Python's `value == 0`, which decides the NaN rule of the parallel operator.
    pub(crate) fn equals_zero(&self) -> bool {
        match self {
            Value::Int(v) | Value::NpInt(v) => *v == 0,
            Value::BigInt(b) => b.sign() == num_bigint::Sign::NoSign,
            Value::Float(x) | Value::NpFloat(x) => *x == 0.0,
            Value::Complex(z) | Value::NpComplex(z) => z.re == 0.0 && z.im == 0.0,
        }
    }

    pub(crate) fn is_numpy(&self) -> bool {
        matches!(
            self,
            Value::NpInt(_) | Value::NpFloat(_) | Value::NpComplex(_)
        )
    }

    pub(crate) fn as_int(&self) -> Option<IntRef<'_>> {
        match self {
            Value::Int(v) => Some(IntRef::Small(*v)),
            // A caller may build a BigInt that fits in an i64; arithmetic treats it as small.
            Value::BigInt(b) => Some(match b.to_i64() {
                Some(small) => IntRef::Small(small),
                None => IntRef::Big(b),
            }),
            _ => None,
        }
    }
}

impl From<f64> for Value {
    /// A Python `float`.
    fn from(value: f64) -> Self {
        Value::Float(value)
    }
}

impl From<i64> for Value {
    /// A Python `int`.
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<Complex64> for Value {
    /// A Python `complex`.
    fn from(value: Complex64) -> Self {
        Value::Complex(value)
    }
}

impl From<BigInt> for Value {
    /// A Python `int`.
    fn from(value: BigInt) -> Self {
        crate::pyint::normalize(value)
    }
}

impl fmt::Display for Value {
    /// Python's `repr` of the value (numpy scalars print like their Python counterparts,
    /// without the `np.float64(...)` wrapper).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) | Value::NpInt(v) => write!(f, "{v}"),
            Value::BigInt(b) => write!(f, "{b}"),
            Value::Float(x) | Value::NpFloat(x) => f.write_str(&float_repr(*x, true)),
            Value::Complex(z) | Value::NpComplex(z) => f.write_str(&complex_repr(*z)),
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, exponent notation outside
/// `1e-4 <= |x| < 1e16`. `add_dot_zero` appends `.0` to integral values, as `float.__repr__`
/// does (but not the parts of a complex repr).
pub(crate) fn float_repr(x: f64, add_dot_zero: bool) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        let sign = if x.is_sign_negative() { "-" } else { "" };
        return format!("{sign}0{}", if add_dot_zero { ".0" } else { "" });
    }
    // `{:e}` yields the shortest round-trip digits as "d.ddde<exp>".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').expect("exponent marker");
    let exponent: i32 = exponent.parse().expect("exponent digits");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let point = exponent + 1; // digits before the decimal point
    if (-3..=16).contains(&point) {
        let len = digits.len() as i32;
        if point <= 0 {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        } else if point >= len {
            let zeros = "0".repeat((point - len) as usize);
            let tail = if add_dot_zero { ".0" } else { "" };
            format!("{sign}{digits}{zeros}{tail}")
        } else {
            let (int_part, frac_part) = digits.split_at(point as usize);
            format!("{sign}{int_part}.{frac_part}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exponent.abs())
    }
}

/// Python's `repr(complex)`: `1j` when the real part is +0, otherwise `(re±imj)`.
pub(crate) fn complex_repr(z: Complex64) -> String {
    let imag = float_repr(z.im, false);
    if z.re == 0.0 && z.re.is_sign_positive() {
        return format!("{imag}j");
    }
    let sign = if imag.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{imag}j)", float_repr(z.re, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (6.0, "6.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (123.456, "123.456"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.7000000000000001, "0.7000000000000001"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (x, expected) in cases {
            assert_eq!(float_repr(x, true), expected, "{x:?}");
        }
    }

    #[test]
    fn complex_repr_matches_python() {
        assert_eq!(complex_repr(Complex64::new(1.0, 2.0)), "(1+2j)");
        assert_eq!(complex_repr(Complex64::new(0.0, 1.0)), "1j");
        assert_eq!(complex_repr(Complex64::new(-0.0, 1.0)), "(-0+1j)");
        assert_eq!(complex_repr(Complex64::new(-1.0, 0.0)), "(-1+0j)");
        assert_eq!(complex_repr(Complex64::new(1.5, -2.5)), "(1.5-2.5j)");
        assert_eq!(
            complex_repr(Complex64::new(f64::NAN, f64::INFINITY)),
            "(nan+infj)"
        );
        assert_eq!(complex_repr(Complex64::new(0.0, 0.0)), "0j");
    }

    #[test]
    fn kinds_and_checked_conversion() {
        assert_eq!(Value::NpInt(3).kind_name(), "int");
        assert_eq!(Value::NpFloat(3.0).kind_name(), "real");
        assert!(!Value::Complex(Complex64::new(1.0, 0.0)).is_real());
        let huge: BigInt = num_traits::pow(BigInt::from(10), 400);
        let err = Value::BigInt(huge.clone()).to_f64_checked().unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::OverflowError);
        assert_eq!(Value::BigInt(huge).to_complex().re, f64::INFINITY);
    }
}
