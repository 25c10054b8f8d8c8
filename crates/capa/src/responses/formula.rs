//! formularesponse (capa-grading.md §4.7).
//!
//! Deliberate deviation: upstream draws the sample points from Python's module-global, unseeded
//! `random`, so a borderline answer can be graded differently on each rescore. Here the points come
//! from ChaCha8 seeded with the learner's problem seed and the response index, so a rescore is
//! reproducible. The sampling distribution (`lo + (hi - lo) * U[0,1)` per variable) is the same.

use super::{Run, Setup};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::num::{self, PyNum, calc::CaseSensitivity, calc::ErrorKind, calc::Expression};
use crate::py;
use crate::tolerance::{self, Tolerance};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::sync::Arc;

/// Parsed `samples="vars@lows:highs#N"`.
#[derive(Debug, Clone)]
struct Samples {
    /// Variables in dict order with their bounds (each bound tuple must have two values).
    vars: Vec<(String, Vec<f64>)>,
    count: i128,
}

fn parse_samples(spec: &str) -> Result<Samples, String> {
    let mut at = spec.split('@');
    let names: Vec<&str> = at.next().unwrap_or("").split(',').collect();
    let right = at
        .next()
        .ok_or("IndexError: list index out of range (samples without '@')")?;
    let mut hash = right.split('#');
    let ranges_text = hash.next().unwrap_or("");
    let count_text = hash
        .next()
        .ok_or("IndexError: list index out of range (samples without '#')")?;
    let count = py::parse_int(count_text).ok_or_else(|| {
        format!("ValueError: invalid literal for int() with base 10: '{count_text}'")
    })?;
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for part in ranges_text.split(':') {
        let mut col = Vec::new();
        for x in part.split(',') {
            col.push(
                py::parse_float(x).ok_or_else(|| {
                    format!("ValueError: could not convert string to float: '{x}'")
                })?,
            );
        }
        columns.push(col);
    }
    // zip(*columns): one tuple per position, as long as the shortest column.
    let width = columns.iter().map(Vec::len).min().unwrap_or(0);
    let tuples: Vec<Vec<f64>> = (0..width)
        .map(|k| columns.iter().map(|c| c[k]).collect())
        .collect();
    // dict(zip(names, tuples)): later duplicates overwrite, first position kept.
    let mut vars: Vec<(String, Vec<f64>)> = Vec::new();
    for (name, t) in names.iter().zip(tuples) {
        match vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = t,
            None => vars.push((name.to_string(), t)),
        }
    }
    Ok(Samples { vars, count })
}

pub(crate) struct Formula {
    answer: String,
    instructor: Result<Expression, num::calc::CalcError>,
    samples: Result<Samples, String>,
    tolerance: Tolerance,
    case: CaseSensitivity,
    index: usize,
}

impl Formula {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let answer = s.ctx.apply(s.node.attribute("answer").unwrap_or(""));
        let samples = s.ctx.apply(s.node.attribute("samples").unwrap_or(""));
        let tolerance_text = s.tolerance_text();
        // `type` is split on commas (not spaces, unlike stringresponse); "ci" wins over "cs".
        let types: Vec<&str> = s
            .node
            .attribute("type")
            .map(|t| t.split(',').collect())
            .unwrap_or_default();
        let case = if !types.contains(&"ci") && types.contains(&"cs") {
            CaseSensitivity::Sensitive
        } else {
            CaseSensitivity::Insensitive
        };
        Ok(Formula {
            instructor: num::parse(&answer, case),
            answer,
            samples: parse_samples(&samples),
            tolerance: Tolerance::text(&tolerance_text),
            case,
            index: s.index,
        })
    }

    /// The sample points for a learner: deterministic in `(seed, response index)`.
    fn points(
        &self,
        samples: &Samples,
        seed: u64,
    ) -> Result<Vec<Vec<(String, f64)>>, GradingError> {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        key[8..16].copy_from_slice(&(self.index as u64).to_le_bytes());
        key[16..].copy_from_slice(b"capa-formularesponse-sampling!!!"[..16].as_ref());
        let mut rng = ChaCha8Rng::from_seed(key);
        let mut out = Vec::new();
        for _ in 0..samples.count.max(0) {
            let mut point = Vec::with_capacity(samples.vars.len());
            for (name, bounds) in &samples.vars {
                let [lo, hi] = bounds[..] else {
                    return Err(GradingError::internal(format!(
                        "TypeError: uniform() takes 2 bounds, got {}",
                        bounds.len()
                    )));
                };
                let u: f64 = rng.random();
                point.push((name.clone(), lo + (hi - lo) * u));
            }
            out.push(point);
        }
        Ok(out)
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let given = run.answers.get(&**id).ok_or_else(|| super::key_error(id))?;
        let samples = self
            .samples
            .as_ref()
            .map_err(|m| GradingError::internal(m.clone()))?;
        let points = self.points(samples, run.seed)?;
        let tables: Vec<_> = points.iter().map(|p| num::variables(p)).collect();
        let student = if tables.is_empty() {
            Vec::new()
        } else {
            let Value::String(text) = given else {
                return Err(super::not_a_string(given, "replace"));
            };
            let expr = num::parse(text, self.case);
            tables
                .iter()
                .map(|vars| match &expr {
                    Ok(e) => num::eval_with(e, vars).map_err(|err| formula_error(&err, text)),
                    Err(err) => Err(formula_error(err, text)),
                })
                .collect::<Result<Vec<PyNum>, _>>()?
        };
        let instructor = tables
            .iter()
            .map(|vars| match &self.instructor {
                Ok(e) => num::eval_with(e, vars).map_err(|err| formula_error(&err, &self.answer)),
                Err(err) => Err(formula_error(err, &self.answer)),
            })
            .collect::<Result<Vec<PyNum>, _>>()?;
        let mut correct = true;
        for (s, i) in student.into_iter().zip(instructor) {
            if !tolerance::compare(s, i, &self.tolerance, false)? {
                correct = false;
                break;
            }
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
        Ok(())
    }
}

/// capa's `tupleize_answers` mapping of evaluator failures (the same for both formulas).
fn formula_error(e: &num::calc::CalcError, text: &str) -> GradingError {
    let esc = py::html_escape(text);
    GradingError::student(match num::kind(e) {
        ErrorKind::UndefinedVariable | ErrorKind::UnmatchedParenthesis => e.message.clone(),
        ErrorKind::ValueError if e.message.contains("factorial") => {
            format!(
                "Factorial function not permitted in answer for this problem. Provided answer was: {esc}"
            )
        }
        ErrorKind::ValueError => format!("Invalid input: Could not parse '{esc}' as a formula."),
        _ => format!("Invalid input: Could not parse '{esc}' as a formula"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spec() {
        let s = parse_samples("x,y@1,2:3,4#10").unwrap();
        assert_eq!(s.count, 10);
        assert_eq!(
            s.vars,
            vec![("x".into(), vec![1.0, 3.0]), ("y".into(), vec![2.0, 4.0])]
        );
        let s = parse_samples("x,x@1,2:3,4#1").unwrap();
        assert_eq!(s.vars, vec![("x".into(), vec![2.0, 4.0])]);
        assert!(parse_samples("x@1:2").is_err());
        assert!(parse_samples("x#3").is_err());
        assert!(parse_samples("x@a:2#3").is_err());
        assert_eq!(parse_samples("x,y@1:3#2").unwrap().vars.len(), 1);
    }
}
