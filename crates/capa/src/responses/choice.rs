//! multiplechoiceresponse, truefalseresponse (capa-grading.md §4.1-4.2) and choiceresponse (§4.3).

use super::{
    Run, Setup, check_single_credit, children_named, descendants_named, elements, missing_correct,
    round_away_from_zero, upper_is,
};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::py;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Multiple choice and true/false share setup (true/false inherits it upstream).
pub(crate) struct MultipleChoice {
    /// Names of correct choices. `None` is a `<choice>` that capa never named (not a direct child
    /// of a direct-child `<choicegroup>`); it can only match a JSON `null` answer.
    correct: Vec<Option<String>>,
    /// `(name, point_value)` of `correct="partial"` choices (only with partial credit).
    partial_choices: Vec<(Option<String>, f64)>,
    partial: Option<Vec<String>>,
}

/// capa's naming for choicegroup children: `choice_<name>` when named, else `choice_<i>` where `i`
/// counts only the unnamed ones. Every element child consumes a name, `<choice>` or not.
fn mc_names(s: &Setup) -> HashMap<roxmltree::NodeId, String> {
    let mut names = HashMap::new();
    let mut i = 0;
    for group in children_named(s.node, "choicegroup") {
        for child in elements(group) {
            let name = match child.attribute("name") {
                Some(n) => format!("choice_{n}"),
                None => {
                    let n = format!("choice_{i}");
                    i += 1;
                    n
                }
            };
            names.insert(child.id(), name);
        }
    }
    names
}

impl MultipleChoice {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let names = mc_names(s);
        let mut correct = Vec::new();
        let mut partial_choices = Vec::new();
        for choice in descendants_named(s.node, "choice") {
            let name = s.ctx.apply_opt(names.get(&choice.id()).map(String::as_str));
            let value = s
                .ctx
                .apply_opt(choice.attribute("correct"))
                .ok_or_else(|| missing_correct(choice))?;
            if upper_is(&value, "TRUE") {
                correct.push(name.clone());
            }
            if s.partial.is_some() && py::lower(&value) == "partial" {
                let pv = choice.attribute("point_value").unwrap_or("0.5");
                let v = py::parse_float(pv).ok_or_else(|| {
                    GradingError::definition(format!(
                        "ValueError: could not convert string to float: '{pv}'"
                    ))
                })?;
                partial_choices.push((name, v));
            }
        }
        Ok(MultipleChoice {
            correct,
            partial_choices,
            partial: s.partial.clone(),
        })
    }

    fn in_names<'n>(names: impl Iterator<Item = &'n Option<String>>, v: &Value) -> Option<usize> {
        let mut names = names;
        match v {
            Value::String(a) => names.position(|n| n.as_deref() == Some(a.as_str())),
            Value::Null => names.position(|n| n.is_none()),
            _ => None,
        }
    }

    pub(crate) fn grade(
        &self,
        ids: &[Arc<str>],
        run: &mut Run,
        truefalse: bool,
    ) -> Result<(), GradingError> {
        let id = &ids[0];
        let ans = run.answers.get(&**id);
        let (correctness, npoints) = if truefalse {
            (self.grade_truefalse(ans)?, None)
        } else {
            let grader =
                check_single_credit(&self.partial, "Multiple Choice", &["points", "false"])?;
            let hit = |names: &mut dyn Iterator<Item = &Option<String>>| {
                ans.and_then(|v| Self::in_names(names, v))
            };
            if hit(&mut self.correct.iter()).is_some() {
                (Correctness::Correct, None)
            } else if grader == Some(0) {
                match hit(&mut self.partial_choices.iter().map(|(n, _)| n)) {
                    Some(i) => (
                        Correctness::PartiallyCorrect,
                        Some(self.partial_choices[i].1),
                    ),
                    None => (Correctness::Incorrect, None),
                }
            } else {
                (Correctness::Incorrect, None)
            }
        };
        // Extended hints look the answer up with an ElementPath built by string formatting: an
        // empty list raises IndexError and a `"` in str(answer) an invalid predicate.
        if let Some(v) = ans {
            let first = match v {
                Value::Array(a) => a.first().ok_or_else(|| {
                    GradingError::internal(
                        "IndexError: list index out of range (empty list answer in hint lookup)",
                    )
                })?,
                other => other,
            };
            if py::py_str_has_double_quote(first) {
                return Err(GradingError::internal(
                    "SyntaxError: invalid predicate (answer contains a double quote, hint lookup)",
                ));
            }
        }
        run.out.push(InputGrade::new(id, correctness, npoints));
        Ok(())
    }

    /// `set(answers) == set(correct_names)`, the answer wrapped in a list if needed.
    fn grade_truefalse(&self, ans: Option<&Value>) -> Result<Correctness, GradingError> {
        let items: Vec<&Value> = match ans {
            None => vec![],
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
        };
        let mut given: HashSet<Option<&str>> = HashSet::new();
        let mut other = false;
        for it in items {
            match it {
                Value::String(s) => {
                    given.insert(Some(s));
                }
                Value::Null => {
                    given.insert(None);
                }
                Value::Array(_) | Value::Object(_) => {
                    return Err(GradingError::internal(format!(
                        "TypeError: unhashable type: '{}'",
                        py::py_type_name(it)
                    )));
                }
                _ => other = true,
            }
        }
        let correct: HashSet<Option<&str>> = self.correct.iter().map(|n| n.as_deref()).collect();
        Ok(if !other && given == correct {
            Correctness::Correct
        } else {
            Correctness::Incorrect
        })
    }
}

/// A `<compoundhint>`: its upper-cased selector set, or `None` when `value` is missing (raises).
struct CompoundHint {
    selectors: Option<HashSet<String>>,
    has_text: bool,
}

/// choiceresponse (checkboxgroup / radiogroup).
pub(crate) struct Checkbox {
    correct: HashSet<String>,
    incorrect: HashSet<String>,
    /// Choices of a `<checkboxgroup>` (for compound hints): name → upper-cased id.
    hint_ids: HashMap<String, String>,
    compound: Vec<CompoundHint>,
    max_points: f64,
    partial: Option<Vec<String>>,
}

impl Checkbox {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let mut correct = HashSet::new();
        let mut incorrect = HashSet::new();
        let mut ids_by_node = HashMap::new();
        for (index, choice) in descendants_named(s.node, "choice").enumerate() {
            let name = s.ctx.apply(&format!("choice_{index}"));
            let id = match choice.attribute("id") {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => char::from_u32('A' as u32 + index as u32)
                    .map(String::from)
                    .unwrap_or_default(),
            };
            ids_by_node.insert(choice.id(), (name.clone(), id.to_uppercase()));
            let value = s
                .ctx
                .apply_opt(choice.attribute("correct"))
                .ok_or_else(|| missing_correct(choice))?;
            if upper_is(&value, "TRUE") {
                correct.insert(name);
            } else if upper_is(&value, "FALSE") {
                incorrect.insert(name);
            }
        }
        let mut hint_ids = HashMap::new();
        let mut compound = Vec::new();
        for group in s
            .inputs
            .iter()
            .filter(|n| super::tag(**n) == "checkboxgroup")
        {
            for choice in children_named(*group, "choice") {
                if let Some((name, id)) = ids_by_node.get(&choice.id()) {
                    hint_ids.insert(name.clone(), id.clone());
                }
            }
            for ch in children_named(*group, "compoundhint") {
                compound.push(CompoundHint {
                    selectors: ch.attribute("value").map(|v| {
                        v.to_uppercase()
                            .split_whitespace()
                            .map(String::from)
                            .collect()
                    }),
                    has_text: super::text(ch).is_some(),
                });
            }
        }
        Ok(Checkbox {
            correct,
            incorrect,
            hint_ids,
            compound,
            max_points: s.points.iter().sum(),
            partial: s.partial.clone(),
        })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let ans = run.answers.get(&**id);
        let (correctness, npoints) = self.score(ans)?;
        if let Some(v) = ans {
            self.hints(v)?;
        }
        run.out.push(InputGrade::new(id, correctness, npoints));
        Ok(())
    }

    fn score(&self, ans: Option<&Value>) -> Result<(Correctness, Option<f64>), GradingError> {
        let items: Vec<&Value> = match ans {
            None => vec![],
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
        };
        // An empty selection is always incorrect, before partial credit is even looked at.
        if items.is_empty() {
            return Ok((Correctness::Incorrect, None));
        }
        let mut selected: HashSet<&str> = HashSet::new();
        let mut other = false;
        for it in items {
            match it {
                Value::String(s) => {
                    selected.insert(s);
                }
                Value::Array(_) | Value::Object(_) => {
                    return Err(GradingError::internal(format!(
                        "TypeError: unhashable type: '{}'",
                        py::py_type_name(it)
                    )));
                }
                _ => other = true,
            }
        }
        let exact = || {
            !other
                && selected.len() == self.correct.len()
                && self.correct.iter().all(|c| selected.contains(c.as_str()))
        };
        let grader = check_single_credit(&self.partial, "Checkbox", &["edc", "halves", "false"])?;
        let all: HashSet<&str> = self
            .correct
            .iter()
            .chain(self.incorrect.iter())
            .map(String::as_str)
            .collect();
        let n = all.len();
        Ok(match grader {
            None | Some(2) => (
                if exact() {
                    Correctness::Correct
                } else {
                    Correctness::Incorrect
                },
                None,
            ),
            Some(0) => {
                let good = selected
                    .iter()
                    .filter(|a| self.correct.contains(**a))
                    .count()
                    + all
                        .iter()
                        .filter(|c| !selected.contains(**c) && self.incorrect.contains(**c))
                        .count();
                if n == 0 {
                    return Err(GradingError::internal(
                        "ZeroDivisionError: float division by zero (EDC with no true/false choices)",
                    ));
                }
                let grade = round_away_from_zero(self.max_points * good as f64 / n as f64, 2);
                if good == n {
                    (Correctness::Correct, None)
                } else if good > 0 {
                    (Correctness::PartiallyCorrect, Some(grade))
                } else {
                    (Correctness::Incorrect, Some(0.0))
                }
            }
            Some(_) => {
                let errors = selected
                    .iter()
                    .filter(|a| self.incorrect.contains(**a))
                    .count()
                    + all
                        .iter()
                        .filter(|c| !selected.contains(**c) && self.correct.contains(**c))
                        .count();
                if errors == 0 {
                    (Correctness::Correct, Some(self.max_points))
                } else if errors == 1 && n > 2 {
                    (
                        Correctness::PartiallyCorrect,
                        Some(round_away_from_zero(self.max_points / 2.0, 2)),
                    )
                } else if errors == 2 && n > 4 {
                    (
                        Correctness::PartiallyCorrect,
                        Some(round_away_from_zero(self.max_points / 4.0, 2)),
                    )
                } else {
                    (Correctness::Incorrect, None)
                }
            }
        })
    }

    /// Compound hints iterate the stored answer and may raise (capa `get_compound_hints`).
    fn hints(&self, v: &Value) -> Result<(), GradingError> {
        let mut student: HashSet<&str> = HashSet::new();
        match v {
            Value::String(_) => {} // iterates characters; no single character names a choice
            Value::Object(o) => {
                for k in o.keys() {
                    if let Some(id) = self.hint_ids.get(k) {
                        student.insert(id);
                    }
                }
            }
            Value::Array(a) => {
                for it in a {
                    match it {
                        Value::String(s) => {
                            if let Some(id) = self.hint_ids.get(s) {
                                student.insert(id);
                            }
                        }
                        Value::Null => {
                            return Err(GradingError::internal(
                                "XPathResultError: Unknown return type: NoneType (null in checkbox answer)",
                            ));
                        }
                        _ => {}
                    }
                }
            }
            other => {
                return Err(GradingError::internal(format!(
                    "TypeError: '{}' object is not iterable",
                    py::py_type_name(other)
                )));
            }
        }
        for ch in &self.compound {
            let Some(sel) = &ch.selectors else {
                return Err(GradingError::internal(
                    "AttributeError: 'NoneType' object has no attribute 'upper' (<compoundhint> without value)",
                ));
            };
            if sel.len() == student.len() && sel.iter().all(|s| student.contains(s.as_str())) {
                if !ch.has_text {
                    return Err(GradingError::internal(
                        "AttributeError: 'NoneType' object has no attribute 'strip' (empty <compoundhint>)",
                    ));
                }
                break;
            }
        }
        Ok(())
    }
}
