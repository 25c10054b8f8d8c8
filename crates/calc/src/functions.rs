//! The built-in functions, each with the numpy (or `math`) behaviour openedx-calc gets from it.
//!
//! Three families matter for the result type and the domain:
//! * plain numpy ufuncs: real in, real out (NaN outside the domain), complex in, complex out;
//! * `numpy.lib.scimath` (`sqrt ln log10 log2 arcsin arccos arctanh`): real input outside the
//!   real domain is promoted to complex first, so `sqrt(-4)` is `2j`;
//! * openedx-calc's own helpers, written with Python operators (`1 / cos(x)`, `arccos(1. / x)`),
//!   whose division follows the Python/numpy rules of [`crate::arith`].

use std::f64::consts::{FRAC_PI_2, LOG2_E, LOG10_E};

use num_bigint::{BigInt, Sign};
use num_complex::Complex64;
use num_traits::{Signed, ToPrimitive};

use crate::arith::{BinOp, binary};
use crate::cmath;
use crate::errors::{type_error, value_error};
use crate::pyint::{self, IntRef};
use crate::{CalcError, Value};

/// A built-in function of openedx-calc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Sin,
    Cos,
    Tan,
    Sec,
    Csc,
    Cot,
    Sqrt,
    Log10,
    Log2,
    Ln,
    Exp,
    Arccos,
    Arcsin,
    Arctan,
    Arcsec,
    Arccsc,
    Arccot,
    Abs,
    Factorial,
    Sinh,
    Cosh,
    Tanh,
    Sech,
    Csch,
    Coth,
    Arcsinh,
    Arccosh,
    Arctanh,
    Arcsech,
    Arccsch,
    Arccoth,
}

/// Function names as openedx-calc spells them (all lower case).
pub(crate) const FUNCTION_NAMES: [(&str, Function); 32] = [
    ("sin", Function::Sin),
    ("cos", Function::Cos),
    ("tan", Function::Tan),
    ("sec", Function::Sec),
    ("csc", Function::Csc),
    ("cot", Function::Cot),
    ("sqrt", Function::Sqrt),
    ("log10", Function::Log10),
    ("log2", Function::Log2),
    ("ln", Function::Ln),
    ("exp", Function::Exp),
    ("arccos", Function::Arccos),
    ("arcsin", Function::Arcsin),
    ("arctan", Function::Arctan),
    ("arcsec", Function::Arcsec),
    ("arccsc", Function::Arccsc),
    ("arccot", Function::Arccot),
    ("abs", Function::Abs),
    ("fact", Function::Factorial),
    ("factorial", Function::Factorial),
    ("sinh", Function::Sinh),
    ("cosh", Function::Cosh),
    ("tanh", Function::Tanh),
    ("sech", Function::Sech),
    ("csch", Function::Csch),
    ("coth", Function::Coth),
    ("arcsinh", Function::Arcsinh),
    ("arccosh", Function::Arccosh),
    ("arctanh", Function::Arctanh),
    ("arcsech", Function::Arcsech),
    ("arccsch", Function::Arccsch),
    ("arccoth", Function::Arccoth),
];

/// Looks a function up by name; in case-insensitive mode the name is lower-cased first.
pub(crate) fn lookup(name: &str, case_sensitive: bool) -> Option<Function> {
    FUNCTION_NAMES
        .iter()
        .find(|(known, _)| {
            if case_sensitive {
                *known == name
            } else {
                known.eq_ignore_ascii_case(name)
            }
        })
        .map(|(_, f)| *f)
}

/// The numpy ufuncs the functions are built from; the name appears in numpy's error messages.
#[derive(Clone, Copy)]
enum Ufunc {
    Sin,
    Cos,
    Tan,
    Exp,
    Sinh,
    Cosh,
    Tanh,
    Arcsinh,
    Arccosh,
    Arctanh,
    Arcsin,
    Arccos,
    Arctan,
    Sqrt,
    Log,
    Log10,
    Log2,
}

impl Ufunc {
    fn name(self) -> &'static str {
        match self {
            Ufunc::Sin => "sin",
            Ufunc::Cos => "cos",
            Ufunc::Tan => "tan",
            Ufunc::Exp => "exp",
            Ufunc::Sinh => "sinh",
            Ufunc::Cosh => "cosh",
            Ufunc::Tanh => "tanh",
            Ufunc::Arcsinh => "arcsinh",
            Ufunc::Arccosh => "arccosh",
            Ufunc::Arctanh => "arctanh",
            Ufunc::Arcsin => "arcsin",
            Ufunc::Arccos => "arccos",
            Ufunc::Arctan => "arctan",
            Ufunc::Sqrt => "sqrt",
            Ufunc::Log => "log",
            Ufunc::Log10 => "log10",
            Ufunc::Log2 => "log2",
        }
    }

    fn real(self, x: f64) -> f64 {
        match self {
            Ufunc::Sin => x.sin(),
            Ufunc::Cos => x.cos(),
            Ufunc::Tan => x.tan(),
            Ufunc::Exp => x.exp(),
            Ufunc::Sinh => x.sinh(),
            Ufunc::Cosh => x.cosh(),
            Ufunc::Tanh => x.tanh(),
            Ufunc::Arcsinh => cmath::asinh(x),
            Ufunc::Arccosh => cmath::acosh(x),
            Ufunc::Arctanh => cmath::atanh(x),
            Ufunc::Arcsin => x.asin(),
            Ufunc::Arccos => x.acos(),
            Ufunc::Arctan => x.atan(),
            Ufunc::Sqrt => x.sqrt(),
            Ufunc::Log => x.ln(),
            Ufunc::Log10 => x.log10(),
            Ufunc::Log2 => x.log2(),
        }
    }

    fn complex(self, z: Complex64) -> Complex64 {
        match self {
            Ufunc::Sin => cmath::csin(z),
            Ufunc::Cos => cmath::ccos(z),
            Ufunc::Tan => cmath::ctan(z),
            Ufunc::Exp => cmath::cexp(z),
            Ufunc::Sinh => cmath::csinh(z),
            Ufunc::Cosh => cmath::ccosh(z),
            Ufunc::Tanh => cmath::ctanh(z),
            Ufunc::Arcsinh => cmath::casinh(z),
            Ufunc::Arccosh => cmath::cacosh(z),
            Ufunc::Arctanh => cmath::catanh(z),
            Ufunc::Arcsin => cmath::casin(z),
            Ufunc::Arccos => cmath::cacos(z),
            Ufunc::Arctan => cmath::catan(z),
            Ufunc::Sqrt => cmath::csqrt(z),
            Ufunc::Log => cmath::clog(z),
            // numpy scales the natural logarithm rather than calling clog10/clog2.
            Ufunc::Log10 => {
                let l = cmath::clog(z);
                Complex64::new(l.re * LOG10_E, l.im * LOG10_E)
            }
            Ufunc::Log2 => {
                let l = cmath::clog(z);
                Complex64::new(l.re * LOG2_E, l.im * LOG2_E)
            }
        }
    }
}

/// A ufunc argument after numpy's conversion of the Python value to an array.
enum Operand {
    Real(f64),
    Complex(Complex64),
    /// An int outside the int64/uint64 range becomes an `object` array, which the float loops
    /// of the ufuncs reject.
    Object,
}

fn operand(value: &Value) -> Operand {
    match value {
        Value::Int(v) | Value::NpInt(v) => Operand::Real(*v as f64),
        Value::BigInt(b) => match b.to_u64() {
            // 2^63 <= b < 2^64 becomes a uint64 array, which casts to float64.
            Some(u) => Operand::Real(u as f64),
            None => Operand::Object,
        },
        Value::Float(x) | Value::NpFloat(x) => Operand::Real(*x),
        Value::Complex(z) | Value::NpComplex(z) => Operand::Complex(*z),
    }
}

fn object_loop_error(ufunc: Ufunc) -> CalcError {
    type_error(format!(
        "loop of ufunc does not support argument 0 of type int which has no callable {} method",
        ufunc.name()
    ))
}

/// A plain numpy ufunc call.
fn apply(ufunc: Ufunc, value: &Value) -> Result<Value, CalcError> {
    match operand(value) {
        Operand::Real(x) => Ok(Value::NpFloat(ufunc.real(x))),
        Operand::Complex(z) => Ok(Value::NpComplex(ufunc.complex(z))),
        Operand::Object => Err(object_loop_error(ufunc)),
    }
}

/// Which real inputs `numpy.lib.scimath` moves to the complex plane before calling the ufunc.
#[derive(Clone, Copy)]
enum ScimathDomain {
    /// `sqrt`, `log`, `log10`, `log2`: negative reals.
    NonNegative,
    /// `arcsin`, `arccos`, `arctanh`: reals with magnitude above 1.
    UnitInterval,
}

fn apply_scimath(ufunc: Ufunc, domain: ScimathDomain, value: &Value) -> Result<Value, CalcError> {
    let outside = |x: f64| match domain {
        ScimathDomain::NonNegative => x < 0.0,
        ScimathDomain::UnitInterval => x.abs() > 1.0,
    };
    match operand(value) {
        Operand::Real(x) if outside(x) => {
            Ok(Value::NpComplex(ufunc.complex(Complex64::new(x, 0.0))))
        }
        Operand::Real(x) => Ok(Value::NpFloat(ufunc.real(x))),
        Operand::Complex(z) => Ok(Value::NpComplex(ufunc.complex(z))),
        Operand::Object => {
            let Value::BigInt(b) = value else {
                unreachable!("only big ints become object arrays")
            };
            let out_of_domain = match domain {
                ScimathDomain::NonNegative => b.sign() == Sign::Minus,
                ScimathDomain::UnitInterval => true,
            };
            if !out_of_domain {
                return Err(object_loop_error(ufunc));
            }
            // Converting the object array to complex goes through float(int).
            let re = IntRef::Big(b).to_f64()?;
            Ok(Value::NpComplex(ufunc.complex(Complex64::new(re, 0.0))))
        }
    }
}

/// `1 / f(x)` as openedx-calc writes its reciprocal functions.
fn reciprocal(ufunc: Ufunc, value: &Value) -> Result<Value, CalcError> {
    binary(BinOp::Div, &Value::Int(1), &apply(ufunc, value)?)
}

/// `f(1. / x)` as openedx-calc writes the inverse reciprocal functions (plain numpy `f`).
fn of_reciprocal(ufunc: Ufunc, value: &Value) -> Result<Value, CalcError> {
    apply(ufunc, &binary(BinOp::Div, &Value::Float(1.0), value)?)
}

/// `numpy.real(x) < 0`, which picks the branch of `arccot`.
fn real_part_negative(value: &Value) -> bool {
    match value {
        Value::Int(v) | Value::NpInt(v) => *v < 0,
        Value::BigInt(b) => b.is_negative(),
        Value::Float(x) | Value::NpFloat(x) => *x < 0.0,
        Value::Complex(z) | Value::NpComplex(z) => z.re < 0.0,
    }
}

/// `numpy.abs`: int64 for ints (wrapping at the minimum), the modulus for complex values.
fn absolute(value: &Value) -> Value {
    match value {
        Value::Int(v) | Value::NpInt(v) => Value::NpInt(v.wrapping_abs()),
        // Out of the int64 range numpy works on Python objects and returns a Python int.
        // (For 2^63 <= |x| < 2^64 numpy would return a uint64; see the crate documentation.)
        Value::BigInt(b) => pyint::normalize(BigInt::abs(b)),
        Value::Float(x) | Value::NpFloat(x) => Value::NpFloat(x.abs()),
        Value::Complex(z) | Value::NpComplex(z) => Value::NpFloat(z.re.hypot(z.im)),
    }
}

/// `math.factorial`, which accepts only integers (numpy int64 included).
fn factorial(value: &Value) -> Result<Value, CalcError> {
    let n = match value {
        Value::Int(v) | Value::NpInt(v) => IntRef::Small(*v),
        Value::BigInt(_) => value.as_int().expect("an int"),
        other => {
            let type_name = match other {
                Value::Float(_) => "float",
                Value::NpFloat(_) => "numpy.float64",
                Value::Complex(_) => "complex",
                _ => "numpy.complex128",
            };
            return Err(type_error(format!(
                "'{type_name}' object cannot be interpreted as an integer"
            )));
        }
    };
    if n.is_negative() {
        return Err(value_error("factorial() not defined for negative values"));
    }
    pyint::factorial(n)
}

/// Applies a built-in function to an evaluated argument.
pub(crate) fn call(function: Function, arg: &Value) -> Result<Value, CalcError> {
    use ScimathDomain::{NonNegative, UnitInterval};
    match function {
        Function::Sin => apply(Ufunc::Sin, arg),
        Function::Cos => apply(Ufunc::Cos, arg),
        Function::Tan => apply(Ufunc::Tan, arg),
        Function::Exp => apply(Ufunc::Exp, arg),
        Function::Sinh => apply(Ufunc::Sinh, arg),
        Function::Cosh => apply(Ufunc::Cosh, arg),
        Function::Tanh => apply(Ufunc::Tanh, arg),
        Function::Arcsinh => apply(Ufunc::Arcsinh, arg),
        Function::Arccosh => apply(Ufunc::Arccosh, arg),
        Function::Arctan => apply(Ufunc::Arctan, arg),
        Function::Sqrt => apply_scimath(Ufunc::Sqrt, NonNegative, arg),
        Function::Ln => apply_scimath(Ufunc::Log, NonNegative, arg),
        Function::Log10 => apply_scimath(Ufunc::Log10, NonNegative, arg),
        Function::Log2 => apply_scimath(Ufunc::Log2, NonNegative, arg),
        Function::Arcsin => apply_scimath(Ufunc::Arcsin, UnitInterval, arg),
        Function::Arccos => apply_scimath(Ufunc::Arccos, UnitInterval, arg),
        Function::Arctanh => apply_scimath(Ufunc::Arctanh, UnitInterval, arg),
        Function::Sec => reciprocal(Ufunc::Cos, arg),
        Function::Csc => reciprocal(Ufunc::Sin, arg),
        Function::Cot => reciprocal(Ufunc::Tan, arg),
        Function::Sech => reciprocal(Ufunc::Cosh, arg),
        Function::Csch => reciprocal(Ufunc::Sinh, arg),
        Function::Coth => reciprocal(Ufunc::Tanh, arg),
        Function::Arcsec => of_reciprocal(Ufunc::Arccos, arg),
        Function::Arccsc => of_reciprocal(Ufunc::Arcsin, arg),
        Function::Arcsech => of_reciprocal(Ufunc::Arccosh, arg),
        Function::Arccsch => of_reciprocal(Ufunc::Arcsinh, arg),
        Function::Arccoth => of_reciprocal(Ufunc::Arctanh, arg),
        Function::Arccot => {
            let offset = if real_part_negative(arg) {
                -FRAC_PI_2
            } else {
                FRAC_PI_2
            };
            let arctan = apply(Ufunc::Arctan, arg)?;
            binary(BinOp::Sub, &Value::Float(offset), &arctan)
        }
        Function::Abs => Ok(absolute(arg)),
        Function::Factorial => factorial(arg),
    }
}
