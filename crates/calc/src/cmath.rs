//! Floating-point kernels whose exact behaviour decides verdicts at the edges (infinities, NaN,
//! signed zeros, branch cuts): CPython 3.11's complex arithmetic, numpy's complex division and
//! power, and the C library's complex functions (which numpy calls on glibc platforms).

use num_complex::Complex64;

use crate::CalcError;
use crate::errors::{overflow, zero_division};

/// The platform C math library. numpy hands complex transcendental functions to the C99
/// `<complex.h>` implementations, so calling the same functions reproduces its results bit for
/// bit, including the special values of C99 Annex G. The real functions below are those that
/// Rust's standard library implements itself instead of calling libm.
mod libm {
    use num_complex::Complex64;

    // `Complex64` is `#[repr(C)]` with two `f64` fields, which every supported C ABI passes and
    // returns exactly like `double _Complex`.
    #[link(name = "m")]
    unsafe extern "C" {
        pub safe fn csqrt(z: Complex64) -> Complex64;
        pub safe fn clog(z: Complex64) -> Complex64;
        pub safe fn cexp(z: Complex64) -> Complex64;
        pub safe fn csin(z: Complex64) -> Complex64;
        pub safe fn ccos(z: Complex64) -> Complex64;
        pub safe fn ctan(z: Complex64) -> Complex64;
        pub safe fn csinh(z: Complex64) -> Complex64;
        pub safe fn ccosh(z: Complex64) -> Complex64;
        pub safe fn ctanh(z: Complex64) -> Complex64;
        pub safe fn casin(z: Complex64) -> Complex64;
        pub safe fn cacos(z: Complex64) -> Complex64;
        pub safe fn catan(z: Complex64) -> Complex64;
        pub safe fn casinh(z: Complex64) -> Complex64;
        pub safe fn cacosh(z: Complex64) -> Complex64;
        pub safe fn catanh(z: Complex64) -> Complex64;
        pub safe fn cpow(x: Complex64, y: Complex64) -> Complex64;
        pub safe fn asinh(x: f64) -> f64;
        pub safe fn acosh(x: f64) -> f64;
        pub safe fn atanh(x: f64) -> f64;
    }
}

pub(crate) use libm::{
    acosh, asinh, atanh, cacos, cacosh, casin, casinh, catan, catanh, ccos, ccosh, cexp, clog,
    csin, csinh, csqrt, ctan, ctanh,
};

const ONE: Complex64 = Complex64::new(1.0, 0.0);

/// CPython's `_Py_c_prod` (also numpy's `cmul`): the textbook formula, no special cases.
pub(crate) fn mul(a: Complex64, b: Complex64) -> Complex64 {
    Complex64::new(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}

/// CPython's `_Py_c_quot` (Smith's algorithm); `None` where CPython sets `EDOM`.
fn py_quot(a: Complex64, b: Complex64) -> Option<Complex64> {
    let abs_re = b.re.abs();
    let abs_im = b.im.abs();
    if abs_re >= abs_im {
        if abs_re == 0.0 {
            return None;
        }
        let ratio = b.im / b.re;
        let denom = b.re + b.im * ratio;
        Some(Complex64::new(
            (a.re + a.im * ratio) / denom,
            (a.im - a.re * ratio) / denom,
        ))
    } else if abs_im >= abs_re {
        let ratio = b.re / b.im;
        let denom = b.re * ratio + b.im;
        Some(Complex64::new(
            (a.re * ratio + a.im) / denom,
            (a.im * ratio - a.re) / denom,
        ))
    } else {
        // At least one component of the divisor is NaN.
        Some(Complex64::new(f64::NAN, f64::NAN))
    }
}

/// Python `complex / complex`.
pub(crate) fn py_div(a: Complex64, b: Complex64) -> Result<Complex64, CalcError> {
    py_quot(a, b).ok_or_else(|| zero_division("complex division by zero"))
}

/// CPython's `c_powu`: square-and-multiply starting from exactly 1+0j.
fn py_powu(x: Complex64, n: i64) -> Complex64 {
    let mut result = ONE;
    let mut power = x;
    let mut mask: i64 = 1;
    while mask > 0 && n >= mask {
        if n & mask != 0 {
            result = mul(result, power);
        }
        mask <<= 1;
        power = mul(power, power);
    }
    result
}

/// Python `complex ** complex` (CPython 3.11 `complex_pow`), including how the C library's
/// `errno` turns into exceptions: a domain error (division by zero, or `cos`/`sin` of an
/// infinite phase) raises ZeroDivisionError, an infinite result raises OverflowError.
pub(crate) fn py_pow(a: Complex64, b: Complex64) -> Result<Complex64, CalcError> {
    let mut domain_error = false;
    let result = if b.im == 0.0 && b.re == b.re.floor() && b.re.abs() <= 100.0 {
        let n = b.re as i64;
        if n > 0 {
            py_powu(a, n)
        } else {
            py_quot(ONE, py_powu(a, -n)).unwrap_or_else(|| {
                domain_error = true;
                Complex64::new(0.0, 0.0)
            })
        }
    } else if b.re == 0.0 && b.im == 0.0 {
        ONE
    } else if a.re == 0.0 && a.im == 0.0 {
        if b.im != 0.0 || b.re < 0.0 {
            domain_error = true;
        }
        Complex64::new(0.0, 0.0)
    } else {
        let vabs = a.re.hypot(a.im);
        let mut len = vabs.powf(b.re);
        let at = a.im.atan2(a.re);
        let mut phase = at * b.re;
        if b.im != 0.0 {
            len /= (at * b.im).exp();
            phase += b.im * vabs.ln();
        }
        // glibc reports cos(±inf) and sin(±inf) as domain errors.
        if phase.is_infinite() {
            domain_error = true;
        }
        Complex64::new(len * phase.cos(), len * phase.sin())
    };
    if domain_error {
        return Err(zero_division("0.0 to a negative or complex power"));
    }
    if result.re.is_infinite() || result.im.is_infinite() {
        return Err(overflow("complex exponentiation"));
    }
    Ok(result)
}

/// `fmod(|x|, 2) == 1`, CPython's `DOUBLE_IS_ODD_INTEGER`.
fn is_odd_integer(x: f64) -> bool {
    x.abs() % 2.0 == 1.0
}

/// Python `float ** float` (CPython 3.11 `float_pow`). Negative bases with fractional exponents
/// are handed to complex exponentiation, as CPython does.
pub(crate) fn py_float_pow(iv: f64, iw: f64) -> Result<PyPow, CalcError> {
    if iw == 0.0 {
        return Ok(PyPow::Real(1.0));
    }
    if iv.is_nan() {
        return Ok(PyPow::Real(iv));
    }
    if iw.is_nan() {
        return Ok(PyPow::Real(if iv == 1.0 { 1.0 } else { iw }));
    }
    if iw.is_infinite() {
        let base = iv.abs();
        return Ok(PyPow::Real(if base == 1.0 {
            1.0
        } else if (iw > 0.0) == (base > 1.0) {
            iw.abs()
        } else {
            0.0
        }));
    }
    if iv.is_infinite() {
        let odd = is_odd_integer(iw);
        return Ok(PyPow::Real(if iw > 0.0 {
            if odd { iv } else { iv.abs() }
        } else if odd {
            0.0f64.copysign(iv)
        } else {
            0.0
        }));
    }
    if iv == 0.0 {
        if iw < 0.0 {
            return Err(zero_division("0.0 cannot be raised to a negative power"));
        }
        return Ok(PyPow::Real(if is_odd_integer(iw) { iv } else { 0.0 }));
    }
    let mut base = iv;
    let mut negate = false;
    if iv < 0.0 {
        if iw != iw.floor() {
            let z = py_pow(Complex64::new(iv, 0.0), Complex64::new(iw, 0.0))?;
            return Ok(PyPow::Complex(z));
        }
        base = -iv;
        negate = is_odd_integer(iw);
    }
    if base == 1.0 {
        return Ok(PyPow::Real(if negate { -1.0 } else { 1.0 }));
    }
    let mut result = base.powf(iw);
    // Finite operands with an infinite result: libm reported ERANGE, Python raises.
    if result.is_infinite() {
        return Err(overflow("(34, 'Numerical result out of range')"));
    }
    if negate {
        result = -result;
    }
    Ok(PyPow::Real(result))
}

/// Result of Python's float power, which is complex for a negative base and fractional exponent.
pub(crate) enum PyPow {
    Real(f64),
    Complex(Complex64),
}

/// numpy's complex division: Smith's algorithm with a reciprocal scale factor, and IEEE
/// infinities or NaN instead of an exception for a zero divisor.
pub(crate) fn np_div(a: Complex64, b: Complex64) -> Complex64 {
    let abs_re = b.re.abs();
    let abs_im = b.im.abs();
    if abs_re >= abs_im {
        if abs_re == 0.0 && abs_im == 0.0 {
            Complex64::new(a.re / abs_re, a.im / abs_im)
        } else {
            let rat = b.im / b.re;
            let scl = 1.0 / (b.re + b.im * rat);
            Complex64::new((a.re + a.im * rat) * scl, (a.im - a.re * rat) * scl)
        }
    } else {
        let rat = b.re / b.im;
        let scl = 1.0 / (b.im + b.re * rat);
        Complex64::new((a.re * rat + a.im) * scl, (a.im * rat - a.re) * scl)
    }
}

/// numpy's `npy_cpow`: small integral exponents by repeated multiplication, the C library's
/// `cpow` otherwise.
pub(crate) fn np_pow(a: Complex64, b: Complex64) -> Complex64 {
    if b.re == 0.0 && b.im == 0.0 {
        return ONE;
    }
    if a.re == 0.0 && a.im == 0.0 {
        return if b.re > 0.0 {
            Complex64::new(0.0, 0.0)
        } else {
            Complex64::new(f64::NAN, f64::NAN)
        };
    }
    if b.im == 0.0 && b.re > -100.0 && b.re < 100.0 && (b.re as i64) as f64 == b.re {
        let n = b.re as i64;
        match n {
            1 => return a,
            2 => return mul(a, a),
            3 => return mul(a, mul(a, a)),
            _ => {
                let n_abs = n.abs();
                let mut acc = ONE;
                let mut power = a;
                let mut mask: i64 = 1;
                loop {
                    if n_abs & mask != 0 {
                        acc = mul(acc, power);
                    }
                    mask <<= 1;
                    if n_abs < mask || mask <= 0 {
                        break;
                    }
                    power = mul(power, power);
                }
                return if b.re < 0.0 { np_div(ONE, acc) } else { acc };
            }
        }
    }
    libm::cpow(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_complex_power_errno_rules() {
        // i ** inf: cos(inf) is a domain error in glibc, so CPython raises ZeroDivisionError.
        let e = py_pow(Complex64::new(0.0, 1.0), Complex64::new(f64::INFINITY, 0.0)).unwrap_err();
        assert_eq!(e.message, "0.0 to a negative or complex power");
        let e = py_pow(Complex64::new(0.0, 1e200), Complex64::new(2.0, 0.0)).unwrap_err();
        assert_eq!(e.message, "complex exponentiation");
        let z = py_pow(Complex64::new(0.0, 1.0), Complex64::new(2.0, 0.0)).unwrap();
        assert_eq!((z.re, z.im), (-1.0, 0.0));
        // (1e300j) ** -2 goes through inf * 0 = NaN in c_powu and ends as NaN, not an error.
        let z = py_pow(Complex64::new(0.0, 1e300), Complex64::new(-2.0, 0.0)).unwrap();
        assert!(z.re.is_nan() && z.im.is_nan());
    }

    #[test]
    fn python_float_power_rules() {
        assert!(matches!(
            py_float_pow(-8.0, 1.0 / 3.0),
            Ok(PyPow::Complex(_))
        ));
        assert_eq!(
            py_float_pow(10.0, 400.0).err().unwrap().message,
            "(34, 'Numerical result out of range')"
        );
        assert!(
            matches!(py_float_pow(-2.0, f64::INFINITY), Ok(PyPow::Real(x)) if x == f64::INFINITY)
        );
        assert!(matches!(py_float_pow(0.9, 7000.0), Ok(PyPow::Real(x)) if x > 0.0 && x < 1e-300));
    }

    #[test]
    fn numpy_division_by_zero_is_silent() {
        let z = np_div(Complex64::new(1.0, 0.0), Complex64::new(0.0, 0.0));
        assert!(z.re.is_infinite() && z.im.is_nan());
        let z = np_pow(Complex64::new(0.0, 0.0), Complex64::new(-1.0, 0.0));
        assert!(z.re.is_nan());
    }

    #[test]
    fn libm_complex_functions_link_and_agree_with_identities() {
        let z = csqrt(Complex64::new(-4.0, 0.0));
        assert_eq!((z.re, z.im), (0.0, 2.0));
        let z = clog(Complex64::new(-1.0, 0.0));
        assert_eq!((z.re, z.im), (0.0, std::f64::consts::PI));
        let z = casin(Complex64::new(2.0, 0.0));
        assert!(z.im > 0.0);
    }
}
