//! Problem XML → compiled responses: what `LoncapaProblem.__init__` does at load (capa-grading.md
//! §1), without running any Python.

use crate::error::{GradingError, NotRescorable};
use crate::ids;
use crate::preprocess::{self, Context};
use crate::py;
use crate::responses::{
    self, Kind, Setup, annotation, children_named, choice, choicetext, formula, image, line,
    numerical, option, string, tag,
};
use roxmltree::Node;
use std::sync::Arc;

/// One input of a compiled problem, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct InputInfo {
    /// The input id (`<pid>_<k+1>_<m>`), the key in `student_answers` and the correctness map.
    pub id: String,
    /// The input element's tag (`textline`, `choicegroup`, ...).
    pub input_tag: &'static str,
    /// The enclosing response's tag (`numericalresponse`, ...).
    pub response_tag: &'static str,
    /// 1-based index of the response in the problem.
    pub response_index: usize,
    /// `maxpoints` of the input (`points=`, default 1; 2 for annotation inputs).
    pub max_points: f64,
}

pub(crate) struct CompiledResponse {
    pub tag: &'static str,
    pub first_input: usize,
    pub n_inputs: usize,
    pub kind: Kind,
}

/// A problem compiled for one seed value (almost always valid for every seed, see `uses_seed`).
pub(crate) struct Compiled {
    pub inputs: Vec<InputInfo>,
    pub ids: Vec<Arc<str>>,
    pub responses: Vec<CompiledResponse>,
    pub max_score: f64,
    pub not_rescorable: Option<NotRescorable>,
    /// Some answer-bearing attribute mentions `$seed`: grading must use a per-seed compile.
    pub uses_seed: bool,
}

const UNSUPPORTED_REASONS: &[(&str, &str)] = &[
    (
        "customresponse",
        "graded by instructor Python (cfn or <answer>), which needs a sandbox",
    ),
    ("symbolicresponse", "graded by Python symbolic math"),
    (
        "schematicresponse",
        "graded by instructor Python on the circuit",
    ),
    (
        "coderesponse",
        "graded asynchronously by an external xqueue grader",
    ),
    ("externalresponse", "graded by an external HTTP service"),
];

fn load_error(msg: String) -> GradingError {
    GradingError::definition(msg)
}

pub(crate) fn build(text: &str, problem_id: &str, seed: u64) -> Result<Compiled, GradingError> {
    let doc = preprocess::parse(text)?;
    let root = doc.root_element();
    let ctx = Context::new(seed);
    let mut flags: Vec<(usize, NotRescorable)> = Vec::new();
    fn flag(flags: &mut Vec<(usize, NotRescorable)>, n: Node, element: &str, reason: String) {
        flags.push((n.range().start, NotRescorable::new(element, reason)));
    }

    for n in root.descendants().filter(|n| n.is_element()) {
        match tag(n) {
            // make_xml_compatible validates every optioninput of the document.
            "optioninput" => {
                option::rewritten_correct(n)?;
            }
            "script" => {
                let t = n.attribute("type");
                if !t.is_some_and(|t| t.contains("javascript") || t.contains("perl")) {
                    flag(
                        &mut flags,
                        n,
                        "script",
                        format!(
                            "<script type={:?}> is executed as Python when the problem loads; it needs a sandbox",
                            t.unwrap_or("")
                        ),
                    );
                }
            }
            "include" => flag(
                &mut flags,
                n,
                "include",
                "<include> pulls files from the course that are not available here".into(),
            ),
            "jsinput" => flag(
                &mut flags,
                n,
                "jsinput",
                "graded from JavaScript state by a Python check function".into(),
            ),
            "hintgroup" if n.attribute("hintfn").is_some() => flag(
                &mut flags,
                n,
                "hintgroup",
                "hintfn runs Python while grading".into(),
            ),
            _ => {}
        }
    }

    let is_response = |n: &Node| n.is_element() && ids::response_tag(tag(*n)).is_some();
    let response_nodes: Vec<Node> = root.descendants().filter(is_response).collect();
    let mut compiled = Compiled {
        inputs: Vec::new(),
        ids: Vec::new(),
        responses: Vec::with_capacity(response_nodes.len()),
        max_score: 0.0,
        not_rescorable: None,
        uses_seed: false,
    };
    for (k0, node) in response_nodes.iter().enumerate() {
        let k = k0 + 1;
        let rtag = ids::response_tag(tag(*node)).unwrap_or("unknown");
        let input_nodes: Vec<Node> = node
            .descendants()
            .skip(1)
            .filter(|n| n.is_element() && ids::input_tag(tag(*n)).is_some())
            .collect();
        let first_input = compiled.inputs.len();
        let input_ids: Vec<Arc<str>> = (1..=input_nodes.len())
            .map(|m| Arc::from(ids::input_id(problem_id, k, m)))
            .collect();
        if node.ancestors().skip(1).any(|a| is_response(&a)) {
            flag(
                &mut flags,
                *node,
                rtag,
                "response nested inside another response".into(),
            );
        }
        let spec = responses::spec(rtag);
        if let Some(spec) = &spec {
            for i in &input_nodes {
                if !spec.allowed.contains(&tag(*i)) {
                    return Err(load_error(format!(
                        "LoncapaProblem Response {rtag}: cannot have input field {}\nSee XML source line {}",
                        tag(*i),
                        line(*node)
                    )));
                }
            }
            if let Some(max) = spec.max_inputs
                && input_nodes.len() > max
            {
                return Err(load_error(format!(
                    "LoncapaProblem Response {rtag}: cannot have more than {max} input fields\nSee XML source line {}",
                    line(*node)
                )));
            }
            for attr in spec.required {
                if node.attribute(*attr).is_none_or(str::is_empty) {
                    return Err(load_error(format!(
                        "Error in problem specification: LoncapaProblem Response {rtag} missing required attribute {attr}\nSee XML source line {}",
                        line(*node)
                    )));
                }
            }
            if spec.max_inputs == Some(1) && input_nodes.is_empty() {
                return Err(load_error(format!(
                    "IndexError: list index out of range (<{rtag}> has no input, XML line {})",
                    line(*node)
                )));
            }
        }
        let mut points = Vec::with_capacity(input_nodes.len());
        for i in &input_nodes {
            let raw = i.attribute("points").unwrap_or("1");
            let p = py::parse_int(raw).ok_or_else(|| {
                load_error(format!(
                    "ValueError: invalid literal for int() with base 10: '{raw}'"
                ))
            })?;
            points.push(p as f64);
        }
        if rtag == "annotationresponse" {
            points.iter_mut().for_each(|p| *p = annotation::MAX_POINTS);
        }
        // partial_credit: missing or "false" means none; otherwise trimmed, lower-cased items.
        let partial = match node.attribute("partial_credit") {
            None => None,
            Some(pc) if py::lower(py::strip(pc)) == "false" => None,
            Some(pc) => Some(pc.split(',').map(|w| py::lower(py::strip(w))).collect()),
        };
        let hint_tag = match rtag {
            "numericalresponse" => Some("numericalhint"),
            "optionresponse" => Some("optionhint"),
            "formularesponse" => Some("formulahint"),
            _ => None,
        };
        if let (Some(ht), Some(hg)) = (hint_tag, children_named(*node, "hintgroup").next())
            && children_named(hg, ht).next().is_some()
        {
            flag(
                &mut flags,
                hg,
                "hintgroup",
                format!("conditional <{ht}> hints on {rtag} are not supported"),
            );
        }
        let mut setup = Setup {
            node: *node,
            inputs: &input_nodes,
            ids: &input_ids,
            ctx: &ctx,
            partial,
            points: points.clone(),
            index: k0,
            flags: &mut flags,
        };
        let kind = match rtag {
            "multiplechoiceresponse" => {
                Kind::MultipleChoice(choice::MultipleChoice::compile(&mut setup)?)
            }
            "truefalseresponse" => Kind::TrueFalse(choice::MultipleChoice::compile(&mut setup)?),
            "choiceresponse" => Kind::Checkbox(choice::Checkbox::compile(&mut setup)?),
            "optionresponse" => Kind::Option(option::OptionResponse::compile(&mut setup)?),
            "stringresponse" => {
                Kind::String(Box::new(string::StringResponse::compile(&mut setup)?))
            }
            "numericalresponse" => {
                Kind::Numerical(Box::new(numerical::Numerical::compile(&mut setup)?))
            }
            "formularesponse" => Kind::Formula(Box::new(formula::Formula::compile(&mut setup)?)),
            "imageresponse" => Kind::Image(image::Image::compile(&mut setup)?),
            "annotationresponse" => Kind::Annotation(annotation::Annotation::compile(&mut setup)?),
            "choicetextresponse" => {
                Kind::ChoiceText(Box::new(choicetext::ChoiceText::compile(&mut setup)?))
            }
            _ => {
                let reason = UNSUPPORTED_REASONS
                    .iter()
                    .find(|(t, _)| *t == rtag)
                    .map(|(_, r)| *r)
                    .unwrap_or("not supported");
                setup.flag(*node, rtag, reason);
                Kind::Unsupported
            }
        };
        if ctx.uses_anonymous_id.replace(false) {
            flags.push((
                node.range().start,
                NotRescorable::new(
                    rtag,
                    "an answer uses $anonymous_student_id, which is unknown when rescoring",
                ),
            ));
        }
        for ((i, id), p) in input_nodes.iter().zip(&input_ids).zip(&points) {
            compiled.inputs.push(InputInfo {
                id: id.to_string(),
                input_tag: ids::input_tag(tag(*i)).unwrap_or("unknown"),
                response_tag: rtag,
                response_index: k,
                max_points: *p,
            });
            compiled.max_score += p;
        }
        compiled.ids.extend(input_ids);
        compiled.responses.push(CompiledResponse {
            tag: rtag,
            first_input,
            n_inputs: input_nodes.len(),
            kind,
        });
    }
    compiled.not_rescorable = flags
        .into_iter()
        .min_by_key(|(pos, _)| *pos)
        .map(|(_, n)| n);
    compiled.uses_seed = ctx.uses_seed.get();
    Ok(compiled)
}
