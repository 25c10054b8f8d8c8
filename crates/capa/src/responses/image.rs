//! imageresponse (capa-grading.md §4.9): rectangles with inclusive borders, and polygons (the
//! convex hull of each region) that must contain the click strictly.

use super::{Run, Setup};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::py;
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::Arc;

/// A non-negative decimal integer of any length, compared without overflow (Python ints).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Digits(String);

impl Digits {
    fn new(s: &str) -> Digits {
        let t = s.trim_start_matches('0');
        Digits(if t.is_empty() { "0".into() } else { t.into() })
    }
}

impl PartialOrd for Digits {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Digits {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

/// Leading ASCII digits of `s`.
fn digits(s: &str) -> Option<(&str, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| s.split_at(n))
}

/// `re.match(r'\[([0-9]+),([0-9]+)]', s)` (a prefix match).
fn parse_click(s: &str) -> Option<(Digits, Digits)> {
    let s = s.strip_prefix('[')?;
    let (x, s) = digits(s)?;
    let s = s.strip_prefix(',')?;
    let (y, s) = digits(s)?;
    s.strip_prefix(']')?;
    Some((Digits::new(x), Digits::new(y)))
}

type Rect = (Digits, Digits, Digits, Digits);

/// The points of one region (their convex hull is the clickable polygon).
type Region = Vec<(f64, f64)>;

/// `re.match(r'[\(\[]([0-9]+),([0-9]+)[\)\]]-[\(\[]([0-9]+),([0-9]+)[\)\]]', s)`.
fn parse_rect(s: &str) -> Option<Rect> {
    let pair = |s: &str| -> Option<(Digits, Digits, usize)> {
        let rest = s.strip_prefix(['(', '['])?;
        let (a, rest) = digits(rest)?;
        let rest = rest.strip_prefix(',')?;
        let (b, rest) = digits(rest)?;
        let rest2 = rest.strip_prefix([')', ']'])?;
        Some((Digits::new(a), Digits::new(b), s.len() - rest2.len()))
    };
    let (x1, y1, n) = pair(s)?;
    let rest = s[n..].strip_prefix('-')?;
    let (x2, y2, _) = pair(rest)?;
    Some((x1, y1, x2, y2))
}

fn parse_regions(raw: &str) -> Result<Vec<Region>, String> {
    let v: Value =
        serde_json::from_str(raw).map_err(|e| format!("JSONDecodeError in regions: {e}"))?;
    let truthy = match &v {
        Value::Null | Value::Bool(false) => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::Bool(true) => true,
    };
    if !truthy {
        return Ok(Vec::new());
    }
    let bad = || "regions is not a list of [x, y] points (or a list of such lists)".to_string();
    let list = v.as_array().ok_or_else(bad)?;
    let first = list[0].as_array().ok_or_else(bad)?;
    let regions: Vec<&Value> = match first.first() {
        None => return Err("IndexError: list index out of range (regions)".into()),
        Some(Value::Array(_)) => list.iter().collect(),
        Some(_) => vec![&v],
    };
    let mut out = Vec::new();
    for r in regions {
        let pts = r.as_array().ok_or_else(bad)?;
        let mut poly = Vec::new();
        for p in pts {
            let xy = p
                .as_array()
                .filter(|a| a.len() == 2 || a.len() == 3)
                .ok_or_else(bad)?;
            let x = xy[0].as_f64().ok_or_else(bad)?;
            let y = xy[1].as_f64().ok_or_else(bad)?;
            poly.push((x, y));
        }
        out.push(poly);
    }
    Ok(out)
}

/// Convex hull (counter-clockwise, collinear points dropped); shapely's `MultiPoint.convex_hull`.
fn hull(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut p: Vec<(f64, f64)> = points.to_vec();
    p.sort_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: (f64, f64), a: (f64, f64), b: (f64, f64)| {
        (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
    };
    let mut h: Vec<(f64, f64)> = Vec::with_capacity(2 * p.len());
    for pass in 0..2 {
        let start = h.len();
        let iter: Box<dyn Iterator<Item = &(f64, f64)>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in iter {
            while h.len() >= start + 2 && cross(h[h.len() - 2], h[h.len() - 1], q) <= 0.0 {
                h.pop();
            }
            h.push(q);
        }
        h.pop();
    }
    h
}

/// The hull is a proper polygon and contains `(x, y)` strictly (boundary excluded).
fn strictly_inside(region: &[(f64, f64)], x: f64, y: f64) -> bool {
    let h = hull(region);
    if h.len() < 3 {
        return false;
    }
    (0..h.len()).all(|k| {
        let (a, b) = (h[k], h[(k + 1) % h.len()]);
        (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0) > 0.0
    })
}

struct Input {
    /// Rectangles (`None`: no or empty attribute); each entry fails when unparsable.
    rects: Option<Vec<Option<Rect>>>,
    /// Regions (`None`: no or empty attribute), or the error parsing them raises.
    regions: Option<Result<Vec<Region>, String>>,
}

pub(crate) struct Image {
    inputs: Vec<Input>,
}

impl Image {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let inputs = s
            .inputs
            .iter()
            .map(|n| Input {
                rects: n.attribute("rectangle").filter(|r| !r.is_empty()).map(|r| {
                    r.split(';')
                        .map(|one| parse_rect(&py::strip(one).replace(' ', "")))
                        .collect()
                }),
                regions: n
                    .attribute("regions")
                    .filter(|r| !r.is_empty())
                    .map(parse_regions),
            })
            .collect();
        Ok(Image { inputs })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        for (id, input) in ids.iter().zip(&self.inputs) {
            let given = run.answers.get(&**id).ok_or_else(|| super::key_error(id))?;
            let falsy = match given {
                Value::Null | Value::Bool(false) => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Number(n) => n.as_f64() == Some(0.0),
                Value::Bool(true) => false,
            };
            if falsy {
                run.out
                    .push(InputGrade::new(id, Correctness::Incorrect, None));
                continue;
            }
            let Value::String(g) = given else {
                return Err(super::not_a_string(given, "strip"));
            };
            let (ax, ay) = parse_click(&py::strip(g).replace(' ', "")).ok_or_else(|| {
                GradingError::internal(format!(
                    "[capamodule.capa.responsetypes.imageinput] error grading {id} (input={g})"
                ))
            })?;
            let mut correct = false;
            if let Some(rects) = &input.rects {
                for r in rects {
                    let Some((x1, y1, x2, y2)) = r else {
                        return Err(GradingError::internal(
                            "[capamodule.capa.responsetypes.imageinput] Error in problem specification! Cannot parse rectangle",
                        ));
                    };
                    if *x1 <= ax && ax <= *x2 && *y1 <= ay && ay <= *y2 {
                        correct = true;
                        break;
                    }
                }
            }
            if !correct && let Some(regions) = &input.regions {
                let regions = regions
                    .as_ref()
                    .map_err(|m| GradingError::internal(m.clone()))?;
                let (x, y) = (
                    ax.0.parse::<f64>().unwrap_or(f64::INFINITY),
                    ay.0.parse::<f64>().unwrap_or(f64::INFINITY),
                );
                correct = regions.iter().any(|r| strictly_inside(r, x, y));
            }
            run.out.push(InputGrade::new(
                id,
                if correct {
                    Correctness::Correct
                } else {
                    Correctness::Incorrect
                },
                None,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry() {
        let sq = [
            (0.0, 0.0),
            (10.0, 0.0),
            (10.0, 10.0),
            (0.0, 10.0),
            (5.0, 5.0),
        ];
        assert!(strictly_inside(&sq, 5.0, 5.0));
        assert!(!strictly_inside(&sq, 10.0, 5.0));
        assert!(!strictly_inside(&sq, 0.0, 0.0));
        assert!(!strictly_inside(
            &[(0.0, 0.0), (5.0, 5.0), (10.0, 10.0)],
            5.0,
            5.0
        ));
        assert!(parse_rect("(1,2)-(3,4)junk").is_some());
        assert!(parse_rect("[1,2]-(3,4)").is_some());
        assert!(parse_rect("(1,2)(3,4)").is_none());
        assert_eq!(
            parse_click("[5,7]x"),
            Some((Digits::new("5"), Digits::new("7")))
        );
        assert!(Digits::new("0010") < Digits::new("9999999999999999999999999999999999999999"));
    }
}
