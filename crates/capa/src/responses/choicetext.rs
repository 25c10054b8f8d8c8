//! choicetextresponse (capa-grading.md §4.8): radio/checkbox choices with numeric text inputs.

use super::{Run, Setup, children_named, descendants_named, elements};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::num::{self, PyNum};
use crate::py;
use crate::tolerance::{self, Tolerance};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A required text input of a correct choice: `complex(answer)` (`None`: not a complex literal,
/// raises "The Staff answer could not be interpreted as a number.") and its tolerance.
struct Required {
    staff: Option<PyNum>,
    tolerance: Tolerance,
}

pub(crate) struct ChoiceText {
    correct_choices: HashSet<String>,
    /// Keyed by the input's assigned name (`None` for a child capa never named).
    required: HashMap<Option<String>, Required>,
    default_tolerance: Tolerance,
}

impl ChoiceText {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let aid = &s.ids[0];
        let mut names = HashMap::new();
        let choices: Vec<_> = descendants_named(s.node, "choice").collect();
        for (index, choice) in choices.iter().enumerate() {
            names.insert(choice.id(), format!("{aid}_choiceinput_{index}bc"));
            let numtol: Vec<_> = children_named(*choice, "numtolerance_input").collect();
            let inputs = if numtol.is_empty() {
                children_named(*choice, "decoy_input").collect()
            } else {
                numtol
            };
            for (ind, child) in inputs.iter().enumerate() {
                names.insert(
                    child.id(),
                    format!("{aid}_choiceinput_{index}_numtolerance_input_{ind}"),
                );
            }
        }
        let mut correct_choices = HashSet::new();
        let mut required = HashMap::new();
        // XPath `choice[@correct="true"]`: a literal, case-sensitive comparison.
        for choice in choices
            .iter()
            .filter(|c| c.attribute("correct") == Some("true"))
        {
            correct_choices.insert(names[&choice.id()].clone());
            for child in elements(*choice) {
                let answer = child
                    .attribute("answer")
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| {
                        GradingError::definition("Answer not provided for numtolerance_input")
                    })?;
                let answer = s.ctx.apply(answer);
                let tol = s.ctx.apply(
                    child
                        .attribute("tolerance")
                        .unwrap_or(tolerance::DEFAULT_TOLERANCE),
                );
                required.insert(
                    names.get(&child.id()).cloned(),
                    Required {
                        staff: py::parse_complex(&answer).map(PyNum::Complex),
                        tolerance: Tolerance::text(&tol),
                    },
                );
            }
        }
        Ok(ChoiceText {
            correct_choices,
            required,
            default_tolerance: Tolerance::default_relative(),
        })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let empty = serde_json::Map::new();
        let dict = match run.answers.get(&**id) {
            // A missing answer is "" and a string iterates as characters: nothing selected.
            None | Some(Value::String(_)) => &empty,
            Some(Value::Object(o)) => o,
            Some(Value::Array(a)) => {
                if let Some(v) = a.iter().find(|v| !v.is_string()) {
                    return Err(super::not_a_string(v, "endswith"));
                }
                if a.iter()
                    .any(|v| v.as_str().is_some_and(|k| k.ends_with("bc")))
                {
                    return Err(GradingError::internal(
                        "TypeError: list indices must be integers or slices, not str",
                    ));
                }
                &empty
            }
            Some(other) => {
                return Err(GradingError::internal(format!(
                    "TypeError: '{}' object is not iterable",
                    py::py_type_name(other)
                )));
            }
        };
        let selected: HashSet<&str> = dict
            .keys()
            .map(String::as_str)
            .filter(|k| k.ends_with("bc"))
            .collect();
        let choices_correct = selected.len() == self.correct_choices.len()
            && self
                .correct_choices
                .iter()
                .all(|c| selected.contains(c.as_str()));
        let mut inputs_correct = true;
        for (name, value) in dict {
            let parent = match name.find("_numtolerance_input_") {
                Some(i) => &name[..i],
                None => name.as_str(),
            };
            if !selected.contains(format!("{parent}bc").as_str()) {
                continue;
            }
            let key = Some(name.clone());
            let (staff, tol, counts) = match self.required.get(&key) {
                Some(r) => (r.staff, &r.tolerance, true),
                None => (
                    Some(PyNum::Complex(num_complex::Complex64::new(0.0, 0.0))),
                    &self.default_tolerance,
                    false,
                ),
            };
            let staff = staff.ok_or_else(|| {
                GradingError::student("The Staff answer could not be interpreted as a number.")
            })?;
            let Value::String(text) = value else {
                return Err(super::not_a_string(value, "replace"));
            };
            let ok = num::eval_plain(text)
                .map_err(|_| ())
                .and_then(|v| tolerance::compare(v, staff, tol, false).map_err(|_| ()))
                .map_err(|()| {
                    // Upstream appends the repr of a traceback object, whose address is not
                    // reproducible.
                    GradingError::student(format!(
                        "Could not interpret '{}' as a number. (<traceback object>)",
                        py::html_escape(text)
                    ))
                })?;
            if counts && !ok {
                inputs_correct = false;
            }
        }
        run.out.push(InputGrade::new(
            id,
            if choices_correct && inputs_correct {
                Correctness::Correct
            } else {
                Correctness::Incorrect
            },
            None,
        ));
        Ok(())
    }
}
