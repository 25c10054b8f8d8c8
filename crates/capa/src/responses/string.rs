//! stringresponse (capa-grading.md §4.5).

use super::{Run, Setup, children_named, not_a_string, text};
use crate::error::GradingError;
use crate::grade::{Correctness, InputGrade};
use crate::py;
use crate::pyregex::{self, PatternError};
use std::sync::Arc;

/// A compiled `^...$` pattern, or the `ResponseError` capa raises when it tries to compile it.
type Pattern = Result<fancy_regex::Regex, String>;

fn response_error(msg: &str) -> GradingError {
    GradingError::definition(format!(
        "[courseware.capa.responsetypes.stringresponse] error: {msg}"
    ))
}

/// How answers are compared.
enum Matcher {
    /// Exact string membership (`ci`: lower-cased on both sides).
    Plain { expected: Vec<String>, ci: bool },
    /// `re.search("^" + "|".join(expected) + "$", given)`.
    Regexp(Pattern),
}

impl Matcher {
    fn build(expected: Vec<String>, ci: bool, regexp: bool, s: &mut Setup) -> Matcher {
        if regexp {
            let pattern = format!("^{}$", expected.join("|"));
            Matcher::Regexp(compile(&pattern, ci, s))
        } else if ci {
            Matcher::Plain {
                expected: expected.iter().map(|e| py::lower(e)).collect(),
                ci,
            }
        } else {
            Matcher::Plain { expected, ci }
        }
    }

    /// `check_string(expected, given)` for a non-empty `given`.
    fn check(&self, given: &str) -> Result<bool, GradingError> {
        match self {
            Matcher::Plain { expected, ci: true } => {
                Ok(expected.iter().any(|e| py::lower_eq(given, e)))
            }
            Matcher::Plain {
                expected,
                ci: false,
            } => Ok(expected.iter().any(|e| e == given)),
            Matcher::Regexp(Err(msg)) => Err(response_error(msg)),
            Matcher::Regexp(Ok(re)) => re.is_match(given).map_err(|e| {
                GradingError::internal(format!("regular expression search failed: {e}"))
            }),
        }
    }
}

fn compile(pattern: &str, ci: bool, s: &mut Setup) -> Pattern {
    match pyregex::compile(pattern, ci) {
        Ok(re) => Ok(re),
        Err(PatternError::Python(msg)) => Err(msg),
        Err(PatternError::Unsupported(why)) => {
            s.flag(
                s.node,
                "stringresponse",
                format!("regexp {pattern:?}: {why}"),
            );
            Err(why)
        }
    }
}

/// `<hintgroup>` with `<stringhint>`s: evaluated after grading, and able to raise.
struct HintGroup {
    /// Per stringhint: its name and its matcher (`None`: no `answer`, raises).
    hints: Vec<(Option<String>, Option<Matcher>)>,
    /// Per hintpart: its `on` and whether it has a `<text>` child.
    parts: Vec<(Option<String>, bool)>,
}

pub(crate) struct StringResponse {
    matcher: Matcher,
    /// Extended hints re-check the raw `answer` attribute alone; in regexp mode its pattern can
    /// fail to compile even when the joined one does not.
    hint_pattern: Option<Pattern>,
    hintgroup: Option<HintGroup>,
}

impl StringResponse {
    pub(crate) fn compile(s: &mut Setup) -> Result<Self, GradingError> {
        let answer = s.node.attribute("answer").unwrap_or("");
        let backward = py::lower(answer).contains("_or_");
        let (mut regexp, mut ci) = (false, false);
        if let Some(t) = s.node.attribute("type") {
            let t = py::lower(t);
            regexp = t.split(' ').any(|w| w == "regexp");
            ci = t.split(' ').any(|w| w == "ci");
        }
        let matcher = if backward {
            // Legacy `_or_` mode: split on the literal lower-case separator; regexp and
            // additional answers are ignored.
            let expected = answer
                .split("_or_")
                .map(|p| py::strip(&s.ctx.apply(p)).to_string())
                .collect();
            Matcher::build(expected, ci, false, s)
        } else {
            let mut expected = vec![py::strip(&s.ctx.apply(answer)).to_string()];
            for add in children_named(s.node, "additional_answer") {
                // make_xml_compatible: old-style text becomes the `answer` attribute.
                let a = match add.attribute("answer") {
                    Some(a) if !a.is_empty() => Some(a),
                    other => text(add).filter(|t| !t.is_empty()).or(other),
                };
                let a = a.ok_or_else(|| {
                    GradingError::definition("AttributeError: 'NoneType' object has no attribute 'strip' (<additional_answer> without answer)")
                })?;
                expected.push(py::strip(&s.ctx.apply(a)).to_string());
            }
            Matcher::build(expected, ci, regexp, s)
        };
        let hint_tags: Vec<_> = children_named(s.node, "hintgroup").collect();
        let hintgroup = hint_tags.first().and_then(|hg| {
            let hints: Vec<_> = children_named(*hg, "stringhint").collect();
            (!hints.is_empty()).then_some((*hg, hints))
        });
        let hintgroup = hintgroup.map(|(hg, hints)| HintGroup {
            hints: hints
                .iter()
                .map(|h| {
                    let m = h.attribute("answer").map(|a| {
                        let hinted = py::strip(&s.ctx.apply(a)).to_string();
                        Matcher::build(vec![hinted], ci, regexp && !backward, s)
                    });
                    (h.attribute("name").map(String::from), m)
                })
                .collect(),
            parts: children_named(hg, "hintpart")
                .map(|p| {
                    (
                        p.attribute("on").map(String::from),
                        children_named(p, "text").next().is_some(),
                    )
                })
                .collect(),
        });
        let hint_pattern = (hintgroup.is_none() && regexp && !backward).then(|| {
            let raw = py::strip(answer);
            compile(&format!("^{raw}$"), ci, s)
        });
        Ok(StringResponse {
            matcher,
            hint_pattern,
            hintgroup,
        })
    }

    pub(crate) fn grade(&self, ids: &[Arc<str>], run: &mut Run) -> Result<(), GradingError> {
        let id = &ids[0];
        let ans = run.answers.get(&**id);
        let correct = match ans {
            None => false,
            Some(serde_json::Value::String(raw)) => {
                let given = py::strip(raw);
                !given.is_empty() && self.matcher.check(given)?
            }
            Some(other) => return Err(not_a_string(other, "strip")),
        };
        if let Some(hg) = &self.hintgroup {
            let raw = match ans {
                Some(serde_json::Value::String(r)) => r,
                _ => return Err(super::key_error(id)),
            };
            let given = py::strip(raw);
            let mut shown: Vec<Option<&str>> = Vec::new();
            for (name, m) in &hg.hints {
                let m = m.as_ref().ok_or_else(|| {
                    GradingError::internal("AttributeError: 'NoneType' object has no attribute 'strip' (<stringhint> without answer)")
                })?;
                if !given.is_empty() && m.check(given)? {
                    shown.push(name.as_deref());
                }
            }
            for (on, has_text) in &hg.parts {
                if shown.contains(&on.as_deref()) && !has_text {
                    return Err(GradingError::internal(
                        "AttributeError: 'NoneType' object has no attribute 'text' (<hintpart> without <text>)",
                    ));
                }
            }
        } else if let (Some(Err(msg)), Some(serde_json::Value::String(raw))) =
            (&self.hint_pattern, ans)
            && !raw.is_empty()
        {
            return Err(response_error(msg));
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
