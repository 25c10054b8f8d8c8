//! Registered tags and capa's id numbering (capa-grading.md §2, olx-and-peers.md §2.5).

/// Every registered response tag. Ids are numbered in document order over all of them, graded
/// here or not, so that input ids match Open edX's.
pub const RESPONSE_TAGS: &[&str] = &[
    "choiceresponse",
    "multiplechoiceresponse",
    "truefalseresponse",
    "optionresponse",
    "numericalresponse",
    "stringresponse",
    "customresponse",
    "symbolicresponse",
    "coderesponse",
    "externalresponse",
    "formularesponse",
    "schematicresponse",
    "imageresponse",
    "annotationresponse",
    "choicetextresponse",
];

/// Every registered input tag.
pub const INPUT_TAGS: &[&str] = &[
    "optioninput",
    "choicegroup",
    "radiogroup",
    "checkboxgroup",
    "jsinput",
    "textline",
    "filesubmission",
    "codeinput",
    "textbox",
    "matlabinput",
    "schematic",
    "imageinput",
    "crystallography",
    "vsepr_input",
    "chemicalequationinput",
    "formulaequationinput",
    "drag_and_drop_input",
    "designprotein2dinput",
    "editageneinput",
    "annotationinput",
    "radiotextgroup",
    "checkboxtextgroup",
];

/// The static name of a registered response tag.
pub(crate) fn response_tag(name: &str) -> Option<&'static str> {
    RESPONSE_TAGS.iter().copied().find(|t| *t == name)
}

/// The static name of a registered input tag.
pub(crate) fn input_tag(name: &str) -> Option<&'static str> {
    INPUT_TAGS.iter().copied().find(|t| *t == name)
}

/// The id of the `m`-th input (1-based) of the `k`-th response (1-based): `<pid>_<k+1>_<m>`.
/// The `+1` reproduces capa's counter being incremented before the inputs are numbered.
pub fn input_id(problem_id: &str, k: usize, m: usize) -> String {
    format!("{problem_id}_{}_{m}", k + 1)
}

/// The id capa gives the `k`-th response element itself: `<pid>_<k>`.
pub fn response_id(problem_id: &str, k: usize) -> String {
    format!("{problem_id}_{k}")
}

/// `html_id()` of an old-style `i4x://org/course/category/name` location:
/// `i4x-org-course-category-name` with `[^\w-]` replaced by `_` and runs of `_` collapsed.
/// (olx-and-peers.md §2.4.) For `block-v1` keys the html id is simply the block id.
pub fn i4x_html_id(org: &str, course: &str, category: &str, name: &str) -> String {
    let joined = ["i4x", org, course, category, name].join("-");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        let c = if c.is_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '_'
        };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_one() {
        assert_eq!(input_id("abc", 1, 1), "abc_2_1");
        assert_eq!(input_id("abc", 3, 2), "abc_4_2");
        assert_eq!(response_id("abc", 1), "abc_1");
    }

    #[test]
    fn i4x() {
        assert_eq!(
            i4x_html_id("MITx", "6.002x", "problem", "Problem1"),
            "i4x-MITx-6_002x-problem-Problem1"
        );
        assert_eq!(
            i4x_html_id("a", "b..c", "problem", "x"),
            "i4x-a-b_c-problem-x"
        );
    }
}
