//! annotationresponse (capa-grading.md §4.9). Each option's `choice` maps to a verdict and points
//! (incorrect 0, partially-correct 1, correct 2); the input is worth 2 whatever `points=` says.

use super::{Run, Setup, children_named};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const MAX_POINTS: f64 = 2.0;

pub(crate) struct Annotation {
    /// Scoring of option `k` (options are identified by their index).
    options: Vec<(Correctness, f64)>,
}

impl Annotation {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let mut options = Vec::new();
        if let Some(input) = s.inputs.first() {
            for group in children_named(*input, "options") {
                for opt in children_named(group, "option") {
                    let scored = match opt.attribute("choice") {
                        Some("correct") => (Correctness::Correct, 2.0),
                        Some("partially-correct") => (Correctness::PartiallyCorrect, 1.0),
                        Some("incorrect") => (Correctness::Incorrect, 0.0),
                        other => {
                            // Upstream stores correctness None for such an option; this engine has
                            // no such verdict, so it refuses instead of guessing.
                            s.flag(
                                opt,
                                "annotationresponse",
                                format!("option choice {other:?} is not correct/partially-correct/incorrect"),
                            );
                            (Correctness::Incorrect, 0.0)
                        }
                    };
                    options.push(scored);
                }
            }
        }
        Ok(Annotation { options })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let given = run.answers.get(&**id).ok_or_else(|| super::key_error(id))?;
        let Value::String(text) = given else {
            return Err(GradingError::internal(format!(
                "TypeError: the JSON object must be str, bytes or bytearray, not {}",
                crate::py::py_type_name(given)
            )));
        };
        let parsed: Value = serde_json::from_str(text)
            .map_err(|e| GradingError::internal(format!("JSONDecodeError: {e}")))?;
        let selected = parsed
            .as_object()
            .and_then(|o| o.get("options"))
            .and_then(Value::as_array)
            .filter(|a| a.len() == 1)
            .map(|a| &a[0]);
        // Option ids are ints; Python dict lookup also matches 1.0 and True for 1.
        let index = selected.and_then(|v| match v {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .map(|f| f as usize),
            Value::Bool(b) => Some(*b as usize),
            _ => None,
        });
        let (c, p) = match index.and_then(|i| self.options.get(i)) {
            Some(&(c, p)) => (c, Some(p)),
            None => (Correctness::Incorrect, None),
        };
        run.out.push(InputGrade::new(id, c, p));
        Ok(())
    }
}
