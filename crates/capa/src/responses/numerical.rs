//! numericalresponse (capa-grading.md §4.6).
//!
//! Everything that depends only on the XML is computed at compile time: staff values, range
//! bounds, tolerances, the expanded tolerance, partial answers. Failures capa raises lazily are
//! stored and raised at the same point of the grading sequence, so the error class and the
//! verdict order match upstream.

use super::{Run, Setup, children_named, not_a_string};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::num::{self, PyNum, calc::ErrorKind};
use crate::py;
use crate::tolerance::{self, Tolerance};
use serde_json::Value;
use std::sync::Arc;

const STAFF_ERROR: &str = "There was a problem with the staff answer to this problem.";

enum Mode {
    Range {
        inclusive: [bool; 2],
        /// `get_staff_ans` of each contextualized bound (`None`: it raised).
        bounds: [Option<PyNum>; 2],
    },
    Point {
        /// `get_staff_ans(answer)` (`None`: it raised).
        correct: Option<PyNum>,
        tolerance: Tolerance,
        /// The expanded tolerance, or the `ValueError` computing it raises.
        expanded: Result<Tolerance, GradingError>,
    },
}

pub(crate) struct Numerical {
    mode: Mode,
    partial: Option<Vec<String>>,
    /// `float(partial_range)` of the first `responseparam[@partial_range]` (default 2).
    partial_range: Result<f64, GradingError>,
    /// Staff values of the first `responseparam[@partial_answers]`; `None` without one.
    partial_answers: Option<Vec<Option<PyNum>>>,
    /// `additional_answer/@answer` values (not contextualized, as upstream): outer `None` for a
    /// missing attribute (`complex(None)` raises TypeError), inner `None` for a staff error.
    additional: Vec<Option<Option<PyNum>>>,
}

impl Numerical {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let answer = s.node.attribute("answer").unwrap_or("");
        let additional = children_named(s.node, "additional_answer")
            .map(|a| a.attribute("answer").map(num::staff_answer))
            .collect();
        let partial_range = match children_named(s.node, "responseparam")
            .find_map(|p| p.attribute("partial_range"))
        {
            None => Ok(2.0),
            Some(r) => py::parse_float(r).ok_or_else(|| {
                GradingError::internal(format!(
                    "ValueError: could not convert string to float: '{r}'"
                ))
            }),
        };
        let partial_answers = children_named(s.node, "responseparam")
            .find_map(|p| p.attribute("partial_answers"))
            .map(|pa| {
                pa.split(',')
                    .map(|w| num::staff_answer(py::strip(w)))
                    .collect()
            });
        let is_range = (answer.starts_with('[') || answer.starts_with('('))
            && (answer.ends_with(']') || answer.ends_with(')'));
        let mode = if is_range {
            let inner = if answer.len() >= 2 {
                &answer[1..answer.len() - 1]
            } else {
                ""
            };
            let parts: Vec<String> = inner.split(',').map(|x| s.ctx.apply(x)).collect();
            if parts.len() < 2 {
                // The range is built at load, so this StudentInputError becomes a load failure.
                return Err(GradingError::definition(STAFF_ERROR));
            }
            Mode::Range {
                inclusive: [answer.starts_with('['), answer.ends_with(']')],
                bounds: [num::staff_answer(&parts[0]), num::staff_answer(&parts[1])],
            }
        } else {
            let tolerance_text = s.tolerance_text();
            Mode::Point {
                correct: num::staff_answer(&s.ctx.apply(answer)),
                tolerance: Tolerance::text(&tolerance_text),
                expanded: partial_range
                    .clone()
                    .and_then(|r| tolerance::expanded(&tolerance_text, r)),
            }
        };
        Ok(Numerical {
            mode,
            partial: s.partial.clone(),
            partial_range,
            partial_answers,
            additional,
        })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let Some(ans) = run.answers.get(&**id) else {
            run.out
                .push(InputGrade::new(id, Correctness::Incorrect, None));
            return Ok(());
        };
        let (c, npoints) = self.score(ans)?;
        run.out.push(InputGrade::new(id, c, npoints));
        Ok(())
    }

    fn score(&self, ans: &Value) -> Result<(Correctness, Option<f64>), GradingError> {
        if let Some(types) = &self.partial
            && types.iter().any(|t| t != "list" && t != "close")
        {
            return Err(GradingError::definition(
                "partial_credit attribute should be one of: list,close",
            ));
        }
        // The "Could not interpret" message is built (html.escape) before evaluating, so a
        // non-string answer fails there.
        let Value::String(text) = ans else {
            return Err(not_a_string(ans, "replace"));
        };
        let v = student_value(text)?;
        let partial_range = self.partial_range.clone()?;
        let partial_answers = match &self.partial_answers {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|p| p.ok_or_else(|| GradingError::student(STAFF_ERROR)))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let has = |t: &str| {
            self.partial
                .as_ref()
                .is_some_and(|ts| ts.iter().any(|x| x == t))
        };
        let mut result = Correctness::Incorrect;
        let mut score = 0.5;
        match &self.mode {
            Mode::Range { inclusive, bounds } => {
                if v.is_complex_type() {
                    return Err(GradingError::student(
                        "You may not use complex numbers in range tolerance problems",
                    ));
                }
                let mut reals = [0.0; 2];
                let mut decided = false;
                for (k, (incl, b)) in inclusive.iter().zip(bounds).enumerate() {
                    let b = b.ok_or_else(|| GradingError::student(STAFF_ERROR))?;
                    if b.imag() != 0.0 {
                        return Err(GradingError::student(format!(
                            "{}: complex boundary.",
                            &STAFF_ERROR[..STAFF_ERROR.len() - 1]
                        )));
                    }
                    if b.is_nan() {
                        return Err(GradingError::student(format!(
                            "{}: empty boundary.",
                            &STAFF_ERROR[..STAFF_ERROR.len() - 1]
                        )));
                    }
                    reals[k] = b.to_complex().map(|c| c.re).unwrap_or(f64::INFINITY);
                    if tolerance::compare(v, b, &Tolerance::Number(f64::EPSILON), true)? {
                        result = if *incl {
                            Correctness::Correct
                        } else {
                            Correctness::Incorrect
                        };
                        decided = true;
                        break;
                    }
                }
                if !decided {
                    let x = v.to_complex().map_err(GradingError::internal)?.re;
                    if reals[0] < x && x < reals[1] {
                        result = Correctness::Correct;
                    } else if has("close") {
                        let span = reals[1] - reals[0];
                        let (lo, hi) = (
                            reals[0] - partial_range * span,
                            reals[1] + partial_range * span,
                        );
                        if lo < x && x < hi {
                            result = Correctness::PartiallyCorrect;
                        }
                    }
                }
            }
            Mode::Point {
                correct,
                tolerance,
                expanded,
            } => {
                let c = correct.ok_or_else(|| GradingError::student(STAFF_ERROR))?;
                let expanded = expanded.clone()?;
                if tolerance::compare(v, c, tolerance, false)? {
                    result = Correctness::Correct;
                } else if self.partial.is_none() {
                } else if has("list") {
                    let Some(list) = &partial_answers else {
                        return Err(GradingError::internal(
                            "TypeError: 'bool' object is not iterable (partial_credit=\"list\" without partial_answers)",
                        ));
                    };
                    for p in list {
                        if tolerance::compare(v, *p, tolerance, false)? {
                            result = Correctness::PartiallyCorrect;
                            break;
                        }
                        if has("close") {
                            if tolerance::compare(v, c, &expanded, false)? {
                                result = Correctness::PartiallyCorrect;
                                break;
                            }
                            if tolerance::compare(v, *p, &expanded, false)? {
                                result = Correctness::PartiallyCorrect;
                                score *= score;
                                break;
                            }
                        }
                    }
                } else if has("close") && tolerance::compare(v, c, &expanded, false)? {
                    result = Correctness::PartiallyCorrect;
                }
            }
        }
        if result == Correctness::Incorrect {
            for add in &self.additional {
                let Some(add) = add else {
                    return Err(GradingError::internal(
                        "TypeError: complex() argument must be a string or a number, not 'NoneType'",
                    ));
                };
                let staff = add.ok_or_else(|| GradingError::student(STAFF_ERROR))?;
                let sv = v.to_complex().map_err(GradingError::internal)?;
                // complex == int compares exactly; an int beyond the float range equals nothing.
                if staff.to_complex().is_ok_and(|st| st == sv) {
                    result = Correctness::Correct;
                    break;
                }
            }
        }
        Ok(match result {
            Correctness::PartiallyCorrect => (result, Some(score)),
            other => (other, None),
        })
    }
}

/// `evaluator({}, {}, answer)` with capa's mapping of failures to StudentInputError messages.
pub(crate) fn student_value(text: &str) -> Result<PyNum, GradingError> {
    num::eval_plain(text).map_err(|e| {
        let esc = py::html_escape(text);
        GradingError::student(match num::kind(&e) {
            ErrorKind::UndefinedVariable | ErrorKind::UnmatchedParenthesis => e.message.clone(),
            ErrorKind::ValueError if e.message.contains("factorial") => {
                format!("Factorial function evaluated outside its domain:'{esc}'")
            }
            ErrorKind::ParseError => format!("Invalid math syntax: '{esc}'"),
            _ => format!("Could not interpret '{esc}' as a number."),
        })
    })
}
