//! The result of grading: one correctness-map entry per input, and the problem score.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// An input's verdict, as stored in Open edX's correctness map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Correctness {
    /// `correct`
    Correct,
    /// `partially-correct`
    PartiallyCorrect,
    /// `incorrect`
    Incorrect,
}

impl Correctness {
    /// The string Open edX stores.
    pub fn as_str(&self) -> &'static str {
        match self {
            Correctness::Correct => "correct",
            Correctness::PartiallyCorrect => "partially-correct",
            Correctness::Incorrect => "incorrect",
        }
    }

    /// capa's `get_npoints`: an explicit `npoints` wins; otherwise 1 for correct *and*
    /// partially-correct, 0 for incorrect. This ignores the input's `points=` on purpose
    /// (capa-grading.md §3 quirk: a fully correct `points="3"` input earns 1).
    pub fn points(&self, npoints: Option<f64>) -> f64 {
        match npoints {
            Some(p) => p,
            None => match self {
                Correctness::Correct | Correctness::PartiallyCorrect => 1.0,
                Correctness::Incorrect => 0.0,
            },
        }
    }

    /// capa's `is_correct`: partially-correct counts as correct for `success`.
    pub fn is_correct(&self) -> bool {
        !matches!(self, Correctness::Incorrect)
    }
}

/// One correctness-map entry.
#[derive(Debug, Clone, PartialEq)]
pub struct InputGrade {
    /// The input id (`<pid>_<k+1>_<m>`), shared with the compiled problem (no per-grade copy).
    pub input_id: Arc<str>,
    /// The verdict.
    pub correctness: Correctness,
    /// Points set by the grader (partial credit, halves, EDC, annotation); `None` otherwise.
    pub npoints: Option<f64>,
    /// Feedback HTML. This engine does not render hints, so it is always empty.
    pub msg: String,
    /// optionresponse's `answervariable` (`$key` when the answer equals a context value).
    pub answervariable: Option<&'static str>,
}

impl InputGrade {
    pub(crate) fn new(input_id: &Arc<str>, correctness: Correctness, npoints: Option<f64>) -> Self {
        InputGrade {
            input_id: Arc::clone(input_id),
            correctness,
            npoints,
            msg: String::new(),
            answervariable: None,
        }
    }

    /// Points this entry contributes to the score (`get_npoints`).
    pub fn points(&self) -> f64 {
        self.correctness.points(self.npoints)
    }
}

/// The graded problem: entries in document order, raw score and total.
#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    /// One entry per input, in document order.
    pub inputs: Vec<InputGrade>,
    /// Σ `get_npoints` over the entries (raw earned).
    pub score: f64,
    /// Σ `maxpoints` over all inputs (raw possible).
    pub total: f64,
    /// True iff every entry is correct or partially-correct.
    pub success: bool,
}

impl Grade {
    pub(crate) fn from_inputs(inputs: Vec<InputGrade>, total: f64) -> Self {
        let score = inputs.iter().map(InputGrade::points).sum();
        let success = inputs.iter().all(|g| g.correctness.is_correct());
        Grade {
            inputs,
            score,
            total,
            success,
        }
    }

    /// The correctness map in Open edX's stored shape:
    /// `{id: {correctness, npoints, msg, hint, hintmode, queuestate, answervariable}}`.
    ///
    /// Integral `npoints` are written as JSON integers. Python writes `1.0` when the value
    /// came from a float (e.g. `point_value="1"`); the number is the same.
    pub fn correct_map_json(&self) -> Value {
        let mut map = Map::with_capacity(self.inputs.len());
        for g in &self.inputs {
            let npoints = match g.npoints {
                None => Value::Null,
                Some(p) if p.fract() == 0.0 && p.abs() < 9.0e15 => json!(p as i64),
                Some(p) => json!(p),
            };
            map.insert(
                g.input_id.to_string(),
                json!({
                    "correctness": g.correctness.as_str(),
                    "npoints": npoints,
                    "msg": g.msg,
                    "hint": "",
                    "hintmode": null,
                    "queuestate": null,
                    "answervariable": g.answervariable,
                }),
            );
        }
        Value::Object(map)
    }
}

/// Open edX's `weighted_score` (grades/scores.py): `(earned * weight / possible, weight)`, or the raw
/// pair unchanged when `weight` is `None` or `possible == 0`.
pub fn weighted_score(earned: f64, possible: f64, weight: Option<f64>) -> (f64, f64) {
    match weight {
        Some(w) if possible != 0.0 => (earned * w / possible, w),
        _ => (earned, possible),
    }
}
