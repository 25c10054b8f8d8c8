//! Response types: compile-time setup (what capa does when it loads the problem) and grading
//! (`get_score` plus the parts of hint processing that can raise, since an exception there aborts
//! the whole grade upstream).

pub(crate) mod annotation;
pub(crate) mod choice;
pub(crate) mod choicetext;
pub(crate) mod formula;
pub(crate) mod image;
pub(crate) mod numerical;
pub(crate) mod option;
pub(crate) mod string;

use crate::error::{GradingError, NotRescorable};
use crate::grade::InputGrade;
use crate::preprocess::Context;
use crate::py;
use roxmltree::Node;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Everything a response's setup needs.
pub(crate) struct Setup<'s, 'a, 'i> {
    pub node: Node<'a, 'i>,
    pub inputs: &'s [Node<'a, 'i>],
    pub ids: &'s [Arc<str>],
    pub ctx: &'s Context,
    /// `None`: no partial credit; otherwise the trimmed, lower-cased credit types.
    pub partial: Option<Vec<String>>,
    /// `maxpoints` of each input.
    pub points: Vec<f64>,
    /// Response index (0-based), for formula sampling.
    pub index: usize,
    /// Reasons this engine cannot grade the problem, with the document position they refer to.
    pub flags: &'s mut Vec<(usize, NotRescorable)>,
}

impl Setup<'_, '_, '_> {
    /// The tolerance text shared by numerical and formula responses: the first
    /// `responseparam[@type="tolerance"]/@default` under the response, stripped and
    /// contextualized, or Open edX's default `0.001%`.
    pub(crate) fn tolerance_text(&self) -> String {
        self.node
            .descendants()
            .filter(|n| {
                n.is_element()
                    && tag(*n) == "responseparam"
                    && n.attribute("type") == Some("tolerance")
            })
            .find_map(|n| n.attribute("default"))
            .map(|t| self.ctx.apply(py::strip(t)))
            .unwrap_or_else(|| crate::tolerance::DEFAULT_TOLERANCE.to_string())
    }

    pub(crate) fn flag(&mut self, node: Node, element: &str, reason: impl Into<String>) {
        self.flags
            .push((node.range().start, NotRescorable::new(element, reason)));
    }
}

/// What grading needs at run time.
pub(crate) struct Run<'r> {
    pub answers: &'r Map<String, Value>,
    pub seed: u64,
    pub out: &'r mut Vec<InputGrade>,
}

/// A compiled response.
pub(crate) enum Kind {
    MultipleChoice(choice::MultipleChoice),
    TrueFalse(choice::MultipleChoice),
    Checkbox(choice::Checkbox),
    Option(option::OptionResponse),
    String(Box<string::StringResponse>),
    Numerical(Box<numerical::Numerical>),
    Formula(Box<formula::Formula>),
    Image(image::Image),
    Annotation(annotation::Annotation),
    ChoiceText(Box<choicetext::ChoiceText>),
    /// Needs Python or an external grader; never graded (the problem is not rescorable).
    Unsupported,
}

impl Kind {
    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        match self {
            Kind::MultipleChoice(r) => r.grade(ids, run, false),
            Kind::TrueFalse(r) => r.grade(ids, run, true),
            Kind::Checkbox(r) => r.grade(ids, run),
            Kind::Option(r) => r.grade(ids, run),
            Kind::String(r) => r.grade(ids, run),
            Kind::Numerical(r) => r.grade(ids, run),
            Kind::Formula(r) => r.grade(ids, run),
            Kind::Image(r) => r.grade(ids, run),
            Kind::Annotation(r) => r.grade(ids, run),
            Kind::ChoiceText(r) => r.grade(ids, run),
            Kind::Unsupported => Err(GradingError::new(
                crate::GradingErrorKind::NotRescorable,
                "response type is not graded by this engine",
            )),
        }
    }
}

/// Per-type constants capa checks when constructing a responder.
pub(crate) struct Spec {
    pub allowed: &'static [&'static str],
    pub max_inputs: Option<usize>,
    pub required: &'static [&'static str],
}

pub(crate) fn spec(tag: &str) -> Option<Spec> {
    let s = |allowed, max_inputs, required| {
        Some(Spec {
            allowed,
            max_inputs,
            required,
        })
    };
    match tag {
        "multiplechoiceresponse" | "truefalseresponse" => s(&["choicegroup"], Some(1), &[]),
        "choiceresponse" => s(&["checkboxgroup", "radiogroup"], Some(1), &[]),
        "optionresponse" => s(&["optioninput"], None, &[]),
        "numericalresponse" => s(&["textline", "formulaequationinput"], Some(1), &["answer"]),
        "stringresponse" => s(&["textline"], Some(1), &["answer"]),
        "formularesponse" => s(
            &["textline", "formulaequationinput"],
            Some(1),
            &["answer", "samples"],
        ),
        "imageresponse" => s(&["imageinput"], None, &[]),
        "annotationresponse" => s(&["annotationinput"], Some(1), &[]),
        "choicetextresponse" => s(
            &["choicetextgroup", "checkboxtextgroup", "radiotextgroup"],
            Some(1),
            &[],
        ),
        _ => None,
    }
}

// ---- small tree helpers (lxml semantics: comments and PIs are not children) ----

pub(crate) fn tag<'a>(n: Node<'a, '_>) -> &'a str {
    n.tag_name().name()
}

pub(crate) fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(|c| c.is_element())
}

pub(crate) fn children_named<'a, 'i>(
    n: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(n).filter(move |c| tag(*c) == name)
}

pub(crate) fn descendants_named<'a, 'i>(
    n: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    n.descendants()
        .skip(1)
        .filter(move |c| c.is_element() && tag(*c) == name)
}

/// lxml's `.text`: the text before the first child node, or `None`.
pub(crate) fn text<'a>(n: Node<'a, '_>) -> Option<&'a str> {
    n.first_child()
        .filter(|c| c.is_text())
        .and_then(|c| c.text())
}

pub(crate) fn line(n: Node) -> u32 {
    n.document().text_pos_at(n.range().start).row
}

// ---- answer helpers ----

/// The `AttributeError` capa raises when it calls a `str` method on a non-string answer.
pub(crate) fn not_a_string(v: &Value, method: &str) -> GradingError {
    GradingError::internal(format!(
        "AttributeError: '{}' object has no attribute '{method}'",
        py::py_type_name(v)
    ))
}

pub(crate) fn key_error(id: &str) -> GradingError {
    GradingError::internal(format!(
        "KeyError: '{id}' (no answer stored for this input)"
    ))
}

/// `round_away_from_zero(x, digits)` from openedx grade_utils.
pub(crate) fn round_away_from_zero(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    if x < 0.0 {
        ((x * p) - 0.5).ceil() / p
    } else {
        ((x * p) + 0.5).floor() / p
    }
}

/// Python's `str.upper()` equality against an ASCII word.
pub(crate) fn upper_is(s: &str, word: &str) -> bool {
    if s.is_ascii() {
        s.eq_ignore_ascii_case(word)
    } else {
        s.to_uppercase() == word
    }
}

/// Error for a `correct=` attribute that is missing (`None.upper()` at load).
pub(crate) fn missing_correct(node: Node) -> GradingError {
    GradingError::definition(format!(
        "AttributeError: 'NoneType' object has no attribute 'upper' (<{}> without a correct attribute, XML line {})",
        tag(node),
        line(node)
    ))
}

/// Credit types of a response, checked at grade time (capa validates them lazily).
pub(crate) fn check_single_credit(
    partial: &Option<Vec<String>>,
    kind: &str,
    allowed: &[&str],
) -> Result<Option<usize>, GradingError> {
    let Some(types) = partial else {
        return Ok(None);
    };
    if types.len() > 1 {
        return Err(GradingError::definition(format!(
            "Only one type of partial credit is allowed for {kind} problems."
        )));
    }
    match allowed.iter().position(|a| *a == types[0]) {
        Some(i) => Ok(Some(i)),
        None => Err(GradingError::definition(format!(
            "partial_credit attribute should be one of: {}",
            allowed.join(",")
        ))),
    }
}
