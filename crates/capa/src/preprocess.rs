//! From problem text to a parsed tree (capa-grading.md §1 steps 1-2), and the `$name`
//! substitution of §1 step 10.

use crate::error::GradingError;
use crate::py::is_space;
use std::cell::Cell;

/// capa's `re.sub(r"startouttext\s*/", "text", ...)` then the same for `endouttext` → `/text`.
/// It runs on the raw text, attributes included, exactly like upstream.
pub(crate) fn fix_outtext(xml: &str) -> String {
    let once = replace_marker(xml, "startouttext", "text");
    replace_marker(&once, "endouttext", "/text")
}

fn replace_marker(s: &str, marker: &str, with: &str) -> String {
    if !s.contains(marker) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        let trimmed = after.trim_start_matches(is_space);
        if let Some(tail) = trimmed.strip_prefix('/') {
            out.push_str(&rest[..i]);
            out.push_str(with);
            rest = tail;
        } else {
            out.push_str(&rest[..i + marker.len()]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Parse the (fixed-up) problem text. Entity declarations are refused, as Open edX's defusedxml
/// parser does; a DTD without entities is accepted.
pub(crate) fn parse(text: &str) -> Result<roxmltree::Document<'_>, GradingError> {
    if let Some(dt) = text.find("<!DOCTYPE")
        && text[dt..].contains("<!ENTITY")
    {
        return Err(GradingError::definition(
            "EntitiesForbidden: entity declarations are not allowed in problem XML",
        ));
    }
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| GradingError::definition(format!("XMLSyntaxError: {e}")))
}

/// The script context a problem without Python has: `seed`, `anonymous_student_id`,
/// `script_code = ""`, `python_path = []`, `extra_files = None`.
///
/// `contextualize_text` replaces every `$key`, longest key first. `$anonymous_student_id` has no
/// value when rescoring (the learner's anonymous id is not part of the stored state), so its
/// presence is recorded and the problem is reported as not rescorable. `$seed` is recorded too, so
/// that the problem can be specialised per seed.
pub(crate) struct Context {
    seed: String,
    pub(crate) uses_seed: Cell<bool>,
    pub(crate) uses_anonymous_id: Cell<bool>,
}

impl Context {
    pub(crate) fn new(seed: u64) -> Self {
        Context {
            seed: seed.to_string(),
            uses_seed: Cell::new(false),
            uses_anonymous_id: Cell::new(false),
        }
    }

    /// `contextualize_text(text, context)`.
    pub(crate) fn apply(&self, text: &str) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        if text.contains("$anonymous_student_id") {
            self.uses_anonymous_id.set(true);
        }
        let mut t = text.to_string();
        // Same order as Python's stable sort by decreasing key length over the context dict.
        for (key, value) in [
            ("$script_code", ""),
            ("$python_path", "[]"),
            ("$extra_files", "None"),
        ] {
            if t.contains(key) {
                t = t.replace(key, value);
            }
        }
        if t.contains("$seed") {
            self.uses_seed.set(true);
            t = t.replace("$seed", &self.seed);
        }
        t
    }

    /// `contextualize_text` on an attribute that may be missing (Python passes `None` through).
    pub(crate) fn apply_opt(&self, text: Option<&str>) -> Option<String> {
        text.map(|t| self.apply(t))
    }
}

/// optionresponse's `answervariable`: the first context key whose `str(value)` equals the answer.
/// `anonymous_student_id` (second in the dict) is unknown when rescoring and is skipped.
pub(crate) fn answer_variable(answer: &str, seed: u64) -> Option<&'static str> {
    let is_seed = answer.parse::<u64>() == Ok(seed)
        && !answer.starts_with('+')
        && (answer == "0" || !answer.starts_with('0'));
    if is_seed {
        Some("$seed")
    } else if answer.is_empty() {
        Some("$script_code")
    } else if answer == "[]" {
        Some("$python_path")
    } else if answer == "None" {
        Some("$extra_files")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outtext_markers() {
        assert_eq!(
            fix_outtext("<startouttext />a<endouttext/>"),
            "<text>a</text>"
        );
        assert_eq!(fix_outtext("<startouttext\n  />"), "<text>");
        assert_eq!(fix_outtext("startouttext x"), "startouttext x");
    }

    #[test]
    fn contextualize() {
        let c = Context::new(7);
        assert_eq!(c.apply("$seed"), "7");
        assert_eq!(c.apply("$seedling"), "7ling");
        assert_eq!(c.apply("a$script_code$python_path$extra_files"), "a[]None");
        assert_eq!(c.apply("$$script_codeseed"), "7");
        assert!(c.uses_seed.get());
        assert_eq!(c.apply("$z"), "$z");
        assert!(!c.uses_anonymous_id.get());
        c.apply("x$anonymous_student_id");
        assert!(c.uses_anonymous_id.get());
    }
}
