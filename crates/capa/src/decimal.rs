//! `abs(Decimal(str(s)) - Decimal(str(i))) <= Decimal(str(tol))` without binary rounding.
//!
//! capa compares real answers as Python `Decimal`s built from the shortest round-trip string of
//! each float (capa-grading.md §5 step 5). That is why `compare(3.15, 3.14, 0.01)` is true although
//! `3.15 - 3.14 > 0.01` in f64. The subtraction runs in Python's default decimal context: 28
//! significant digits, round-half-even; the comparison itself is exact. Both are reproduced here.

use crate::py::shortest_digits;
use num_bigint::BigUint;

/// Python's default `decimal` context precision.
const PREC: u32 = 28;

/// A finite decimal `(-1)^neg × mant × 10^exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dec {
    neg: bool,
    mant: u128,
    exp: i32,
}

impl Dec {
    /// `Decimal(str(x))` for a finite float.
    fn from_f64(x: f64, buf: &mut String) -> Dec {
        if x == 0.0 {
            return Dec {
                neg: x.is_sign_negative(),
                mant: 0,
                exp: 0,
            };
        }
        let (neg, decpt) = shortest_digits(x, buf);
        let mant: u128 = buf.parse().unwrap_or(0);
        Dec {
            neg,
            mant,
            exp: decpt - buf.len() as i32,
        }
    }
}

fn digit_count(mut m: u128) -> u32 {
    let mut n = 1;
    while m >= 10 {
        m /= 10;
        n += 1;
    }
    n
}

fn pow10(k: u32) -> u128 {
    10u128.pow(k)
}

/// Round a magnitude to `PREC` significant digits, half-even, as the decimal context does.
fn round_prec(m: u128, exp: i32) -> (u128, i32) {
    if m == 0 {
        return (0, exp);
    }
    let d = digit_count(m);
    if d <= PREC {
        return (m, exp);
    }
    let k = d - PREC;
    let p = pow10(k);
    let (mut q, r) = (m / p, m % p);
    let half = p / 2;
    if r > half || (r == half && q % 2 == 1) {
        q += 1;
    }
    (q, exp + k as i32)
}

/// Same as [`round_prec`] for magnitudes that needed big integers.
fn round_prec_big(m: &BigUint, exp: i32) -> (u128, i32) {
    let s = m.to_str_radix(10);
    if s.len() as u32 <= PREC {
        return (s.parse().unwrap_or(0), exp);
    }
    let k = s.len() - PREC as usize;
    let (head, tail) = s.split_at(PREC as usize);
    let mut q: u128 = head.parse().unwrap_or(0);
    let first = tail.as_bytes()[0];
    let rest_nonzero = tail.as_bytes()[1..].iter().any(|&c| c != b'0');
    let round_up = first > b'5' || (first == b'5' && (rest_nonzero || q % 2 == 1));
    if round_up {
        q += 1;
    }
    (q, exp + k as i32)
}

/// `|a - b|` rounded to the context precision, as `(mantissa, exponent)`.
fn abs_diff(a: Dec, b: Dec) -> (u128, i32) {
    let e = a.exp.min(b.exp);
    let (sa, sb) = ((a.exp - e) as u32, (b.exp - e) as u32);
    let same_sign = a.neg == b.neg || a.mant == 0 || b.mant == 0;
    if sa <= 21 && sb <= 21 {
        // 17-digit mantissas shifted by at most 21 places stay below 10^38.
        let (x, y) = (a.mant * pow10(sa), b.mant * pow10(sb));
        let m = if same_sign { x.abs_diff(y) } else { x + y };
        round_prec(m, e)
    } else {
        let ten = BigUint::from(10u32);
        let x = BigUint::from(a.mant) * ten.pow(sa);
        let y = BigUint::from(b.mant) * ten.pow(sb);
        let m = if !same_sign {
            x + y
        } else if x >= y {
            x - y
        } else {
            y - x
        };
        round_prec_big(&m, e)
    }
}

/// `m1 × 10^e1 <= m2 × 10^e2` for non-negative magnitudes with at most 28 digits each.
fn le_mag(m1: u128, e1: i32, m2: u128, e2: i32) -> bool {
    if m1 == 0 {
        return true;
    }
    if m2 == 0 {
        return false;
    }
    let (d1, d2) = (digit_count(m1), digit_count(m2));
    let (adj1, adj2) = (d1 as i32 + e1, d2 as i32 + e2);
    if adj1 != adj2 {
        return adj1 < adj2;
    }
    // Same order of magnitude: pad both to the same digit count and compare.
    let d = d1.max(d2);
    m1 * pow10(d - d1) <= m2 * pow10(d - d2)
}

/// Outcome of the decimal comparison. `Err` is Python's `decimal.InvalidOperation`, raised when
/// the tolerance is NaN.
pub(crate) fn decimal_within(student: f64, instructor: f64, tol: f64) -> Result<bool, ()> {
    debug_assert!(student.is_finite() && instructor.is_finite());
    if tol.is_nan() {
        return Err(());
    }
    if tol.is_infinite() {
        return Ok(tol > 0.0);
    }
    let mut buf = String::with_capacity(32);
    let s = Dec::from_f64(student, &mut buf);
    let i = Dec::from_f64(instructor, &mut buf);
    let t = Dec::from_f64(tol, &mut buf);
    let (m, e) = abs_diff(s, i);
    if t.neg && t.mant != 0 {
        return Ok(false);
    }
    Ok(le_mag(m, e, t.mant, t.exp))
}

#[cfg(test)]
#[allow(clippy::approx_constant)] // 3.14 is the reference's example, not pi
mod tests {
    use super::*;
    use std::hint::black_box;

    #[test]
    fn decimal_not_binary() {
        assert!(
            black_box(4.4) - 4.0 > 0.4,
            "binary rounding exceeds the tolerance"
        );
        assert!(black_box(1.1) - 1.0 > 0.1);
        assert_eq!(decimal_within(1.1, 1.0, 0.1), Ok(true));
        assert_eq!(decimal_within(3.15, 3.14, 0.01), Ok(true));
        assert_eq!(decimal_within(4.4, 4.0, 0.4), Ok(true));
        assert_eq!(decimal_within(3.16, 3.14, 0.01), Ok(false));
        assert_eq!(decimal_within(-3.15, -3.14, 0.01), Ok(true));
        assert_eq!(decimal_within(0.0, -0.0, 0.0), Ok(true));
        assert_eq!(decimal_within(0.0, 0.0, -0.0), Ok(true));
        assert_eq!(decimal_within(1.0, 0.0, -1.0), Ok(false));
        assert_eq!(decimal_within(1.0, 2.0, f64::NAN), Err(()));
        assert_eq!(decimal_within(1.0, 2e300, f64::INFINITY), Ok(true));
    }

    #[test]
    fn subtraction_rounds_to_28_digits() {
        // Exact difference is 1e22 + 1e-10 > 1e22, but Python rounds it to 28 digits first.
        assert_eq!(decimal_within(1e22, -1e-10, 1e22), Ok(true));
        // 1e22 + 0.001 has 26 digits: exact, strictly greater.
        assert_eq!(decimal_within(1e22, -1e-3, 1e22), Ok(false));
        // 1e5 + 1e-10 needs 16 digits: no rounding, strictly greater.
        assert_eq!(decimal_within(1e5, -1e-10, 1e5), Ok(false));
    }

    #[test]
    fn big_exponent_gaps() {
        assert_eq!(decimal_within(1e300, 1e-300, 1e300), Ok(true));
        assert_eq!(
            decimal_within(1e300, 1e-300, 9.999999999999999e299),
            Ok(false)
        );
        assert_eq!(decimal_within(1e-300, 1e-320, 1e-300), Ok(true));
    }
}
