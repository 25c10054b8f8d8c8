//! optionresponse (dropdowns; capa-grading.md §4.4).

use super::{Run, Setup, children_named, text};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use serde_json::Value;
use std::sync::Arc;

pub(crate) struct OptionResponse {
    /// Contextualized `correct` of each optioninput (after the `<option>` rewrite). `None` can only
    /// match a JSON `null` answer.
    expected: Vec<Option<String>>,
    /// The first optioninput has an `<option>` whose `.text` is `None`: hint lookup raises.
    first_has_textless_option: bool,
}

/// `make_xml_compatible` for one optioninput: the `correct` attribute after the `<option>` rewrite.
/// Runs on every optioninput of the document, graded or not, as upstream does.
pub(crate) fn rewritten_correct<'a>(
    input: roxmltree::Node<'a, '_>,
) -> Result<Option<String>, GradingError> {
    let mut trues = 0;
    let mut correct_option = None;
    let mut any = false;
    for opt in children_named(input, "option") {
        any = true;
        let c = opt
            .attribute("correct")
            .ok_or_else(|| super::missing_correct(opt))?;
        if super::upper_is(c, "TRUE") {
            trues += 1;
            correct_option = Some(crate::py::strip(text(opt).unwrap_or("")).to_string());
        }
    }
    if trues > 1 {
        return Err(GradingError::definition(
            "Dropdown questions can only have one correct answer.",
        ));
    }
    let original = input.attribute("correct").map(str::to_string);
    Ok(match correct_option {
        Some(c) if any && !c.is_empty() => Some(c),
        _ => original,
    })
}

impl OptionResponse {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let mut expected = Vec::with_capacity(s.inputs.len());
        for input in s.inputs {
            let raw = rewritten_correct(*input)?;
            expected.push(s.ctx.apply_opt(raw.as_deref()));
        }
        let first_has_textless_option = s
            .inputs
            .first()
            .is_some_and(|i| children_named(*i, "option").any(|o| text(o).is_none()));
        Ok(OptionResponse {
            expected,
            first_has_textless_option,
        })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        // Extended hints read `answer_ids[0]` unconditionally.
        let Some(first) = ids.first() else {
            return Err(GradingError::internal(
                "IndexError: list index out of range (optionresponse without optioninput)",
            ));
        };
        if self.first_has_textless_option && run.answers.contains_key(&**first) {
            return Err(GradingError::internal(
                "AttributeError: 'NoneType' object has no attribute 'strip' (empty <option> in hint lookup)",
            ));
        }
        for (id, expected) in ids.iter().zip(&self.expected) {
            let ans = run.answers.get(&**id);
            let ok = match (ans, expected) {
                (Some(Value::String(a)), Some(e)) => a == e,
                (Some(Value::Null), None) => true,
                _ => false,
            };
            let mut g = InputGrade::new(
                id,
                if ok {
                    Correctness::Correct
                } else {
                    Correctness::Incorrect
                },
                None,
            );
            if let Some(Value::String(a)) = ans {
                g.answervariable = crate::preprocess::answer_variable(a, run.seed);
            }
            run.out.push(g);
        }
        Ok(())
    }
}
