//! The binary operators with Python's dispatch between Python scalars and numpy scalars.
//!
//! Which implementation runs follows Python's operator protocol:
//! * two Python scalars use Python semantics (exact ints, exceptions on division by zero);
//! * as soon as a numpy scalar takes part, numpy decides (NEP 50 promotion, Python scalars are
//!   "weak": they take the numpy operand's type), and division by zero gives inf/NaN;
//! * the one exception is a Python `complex` on the left of a `numpy.float64`: because
//!   `numpy.float64` subclasses Python `float`, `complex.__op__` accepts it first and the result
//!   is a Python complex (so `i/sin(0)` still raises ZeroDivisionError).

use num_complex::Complex64;

use crate::cmath::{self, PyPow};
use crate::errors::{value_error, zero_division};
use crate::pyint::{self, IntRef};
use crate::{CalcError, Value};

/// An arithmetic operator of the grammar (`||` is built from these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

/// `left op right` with openedx-calc's Python semantics.
pub(crate) fn binary(op: BinOp, left: &Value, right: &Value) -> Result<Value, CalcError> {
    if !left.is_numpy() && !right.is_numpy() {
        return python(op, left, right);
    }
    if let (Value::Complex(_), Value::NpFloat(x)) = (left, right) {
        return python(op, left, &Value::Float(*x));
    }
    numpy(op, left, right)
}

fn python(op: BinOp, left: &Value, right: &Value) -> Result<Value, CalcError> {
    if let (Some(a), Some(b)) = (left.as_int(), right.as_int()) {
        return python_int(op, a, b);
    }
    if matches!(left, Value::Complex(_)) || matches!(right, Value::Complex(_)) {
        let a = python_complex_operand(left)?;
        let b = python_complex_operand(right)?;
        return python_complex(op, a, b).map(Value::Complex);
    }
    let a = python_float_operand(left)?;
    let b = python_float_operand(right)?;
    python_float(op, a, b)
}

fn python_float_operand(value: &Value) -> Result<f64, CalcError> {
    match value {
        Value::Int(v) => Ok(*v as f64),
        Value::BigInt(b) => IntRef::Big(b).to_f64(),
        Value::Float(x) => Ok(*x),
        _ => unreachable!("only Python real scalars reach Python float arithmetic"),
    }
}

fn python_complex_operand(value: &Value) -> Result<Complex64, CalcError> {
    match value {
        Value::Complex(z) => Ok(*z),
        other => Ok(Complex64::new(python_float_operand(other)?, 0.0)),
    }
}

fn python_int(op: BinOp, a: IntRef, b: IntRef) -> Result<Value, CalcError> {
    match op {
        BinOp::Add => Ok(pyint::add(a, b)),
        BinOp::Sub => Ok(pyint::sub(a, b)),
        BinOp::Mul => pyint::mul(a, b),
        BinOp::Div => pyint::true_div(a, b).map(Value::Float),
        BinOp::Pow => {
            if b.is_negative() {
                // int ** negative int is float ** float in CPython.
                python_float(BinOp::Pow, a.to_f64()?, b.to_f64()?)
            } else {
                pyint::pow_nonnegative(a, b)
            }
        }
    }
}

fn python_float(op: BinOp, a: f64, b: f64) -> Result<Value, CalcError> {
    let result = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => {
            if b == 0.0 {
                return Err(zero_division("float division by zero"));
            }
            a / b
        }
        BinOp::Pow => {
            return Ok(match cmath::py_float_pow(a, b)? {
                PyPow::Real(x) => Value::Float(x),
                PyPow::Complex(z) => Value::Complex(z),
            });
        }
    };
    Ok(Value::Float(result))
}

fn python_complex(op: BinOp, a: Complex64, b: Complex64) -> Result<Complex64, CalcError> {
    Ok(match op {
        BinOp::Add => Complex64::new(a.re + b.re, a.im + b.im),
        BinOp::Sub => Complex64::new(a.re - b.re, a.im - b.im),
        BinOp::Mul => cmath::mul(a, b),
        BinOp::Div => cmath::py_div(a, b)?,
        BinOp::Pow => cmath::py_pow(a, b)?,
    })
}

/// numpy's result type for the operands: 0 = int64, 1 = float64, 2 = complex128.
fn numpy_rank(value: &Value) -> u8 {
    match value {
        Value::Int(_) | Value::BigInt(_) | Value::NpInt(_) => 0,
        Value::Float(_) | Value::NpFloat(_) => 1,
        Value::Complex(_) | Value::NpComplex(_) => 2,
    }
}

fn numpy_f64(value: &Value) -> Result<f64, CalcError> {
    match value {
        Value::Int(v) | Value::NpInt(v) => Ok(*v as f64),
        Value::BigInt(b) => IntRef::Big(b).to_f64(),
        Value::Float(x) | Value::NpFloat(x) => Ok(*x),
        Value::Complex(_) | Value::NpComplex(_) => unreachable!("rank excludes complex"),
    }
}

fn numpy_complex(value: &Value) -> Result<Complex64, CalcError> {
    match value {
        Value::Complex(z) | Value::NpComplex(z) => Ok(*z),
        other => Ok(Complex64::new(numpy_f64(other)?, 0.0)),
    }
}

fn numpy_i64(value: &Value) -> Result<i64, CalcError> {
    match value {
        Value::NpInt(v) => Ok(*v),
        other => other
            .as_int()
            .expect("rank 0 means an integer")
            .to_i64_for_numpy(),
    }
}

fn numpy(op: BinOp, left: &Value, right: &Value) -> Result<Value, CalcError> {
    match numpy_rank(left).max(numpy_rank(right)) {
        // True division of integers runs numpy's float64 loop, so a Python int operand is
        // converted to a double rather than to an int64.
        0 if op == BinOp::Div => Ok(Value::NpFloat(numpy_f64(left)? / numpy_f64(right)?)),
        0 => {
            let a = numpy_i64(left)?;
            let b = numpy_i64(right)?;
            Ok(match op {
                BinOp::Add => Value::NpInt(a.wrapping_add(b)),
                BinOp::Sub => Value::NpInt(a.wrapping_sub(b)),
                BinOp::Mul => Value::NpInt(a.wrapping_mul(b)),
                BinOp::Div => unreachable!("handled by the float64 loop"),
                BinOp::Pow => Value::NpInt(int64_pow(a, b)?),
            })
        }
        1 => {
            let a = numpy_f64(left)?;
            let b = numpy_f64(right)?;
            Ok(Value::NpFloat(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Pow => a.powf(b),
            }))
        }
        _ => {
            let a = numpy_complex(left)?;
            let b = numpy_complex(right)?;
            Ok(Value::NpComplex(match op {
                BinOp::Add => Complex64::new(a.re + b.re, a.im + b.im),
                BinOp::Sub => Complex64::new(a.re - b.re, a.im - b.im),
                BinOp::Mul => cmath::mul(a, b),
                BinOp::Div => cmath::np_div(a, b),
                BinOp::Pow => cmath::np_pow(a, b),
            }))
        }
    }
}

/// numpy's scalar `int64 ** int64`: wrapping square-and-multiply, negative exponents refused.
fn int64_pow(base: i64, exponent: i64) -> Result<i64, CalcError> {
    if exponent < 0 {
        return Err(value_error(
            "Integers to negative integer powers are not allowed.",
        ));
    }
    if exponent == 0 || base == 1 {
        return Ok(1);
    }
    let mut base = base;
    let mut exponent = exponent;
    let mut result = if exponent & 1 == 1 { base } else { 1 };
    exponent >>= 1;
    while exponent > 0 {
        base = base.wrapping_mul(base);
        if exponent & 1 == 1 {
            result = result.wrapping_mul(base);
        }
        exponent >>= 1;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(re: f64, im: f64) -> Value {
        Value::Complex(Complex64::new(re, im))
    }

    #[test]
    fn python_complex_left_of_numpy_float_stays_python() {
        let r = binary(BinOp::Add, &c(0.0, 1.0), &Value::NpFloat(1.0)).unwrap();
        assert!(matches!(r, Value::Complex(_)));
        let r = binary(BinOp::Add, &Value::NpFloat(1.0), &c(0.0, 1.0)).unwrap();
        assert!(matches!(r, Value::NpComplex(_)));
        let e = binary(BinOp::Div, &c(0.0, 1.0), &Value::NpFloat(0.0)).unwrap_err();
        assert_eq!(e.message, "complex division by zero");
    }

    #[test]
    fn int64_semantics() {
        assert_eq!(int64_pow(3, 40).unwrap(), 3i64.wrapping_pow(40));
        assert!(int64_pow(0, -1).is_err());
        let e = binary(
            BinOp::Add,
            &Value::NpInt(3),
            &Value::BigInt(num_bigint::BigInt::from(1u128 << 63)),
        )
        .unwrap_err();
        assert_eq!(e.message, "Python int too large to convert to C long");
        let r = binary(BinOp::Div, &Value::NpInt(3), &Value::Int(0)).unwrap();
        assert_eq!(r, Value::NpFloat(f64::INFINITY));
        let huge = num_bigint::BigInt::from(10u128.pow(30));
        let r = binary(BinOp::Div, &Value::NpInt(3), &Value::BigInt(huge)).unwrap();
        assert_eq!(r, Value::NpFloat(3e-30));
    }

    #[test]
    fn python_division_messages() {
        let e = binary(BinOp::Div, &Value::Int(1), &Value::Int(0)).unwrap_err();
        assert_eq!(e.message, "division by zero");
        let e = binary(BinOp::Div, &Value::Int(1), &Value::Float(0.0)).unwrap_err();
        assert_eq!(e.message, "float division by zero");
        let e = binary(BinOp::Pow, &Value::Int(0), &Value::Int(-1)).unwrap_err();
        assert_eq!(e.message, "0.0 cannot be raised to a negative power");
    }
}
