//! Open edX course, library and usage keys, in both the current (`course-v1:`,
//! `block-v1:`, `library-v1:`, `lib-block-v1:`) and the deprecated
//! (`org/course/run`, `i4x://`) forms, with `html_id()` exactly as
//! `opaque_keys.edx.locator.BlockUsageLocator.html_id` computes it.
//!
//! Only the fields coursetasks needs are supported: branch and version parts
//! (`+branch@…`, `+version@…`, `i4x://…@revision`) are rejected with a clear
//! [`KeyError::Unsupported`] rather than silently dropped, so that formatting a
//! parsed key always gives back the string it came from.

use std::fmt;

use serde::Serialize;

/// Errors from parsing a course or usage key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The string does not start with a known key namespace.
    #[error(
        "{key:?} is not a course or usage key (expected course-v1:, library-v1:, block-v1:, lib-block-v1: or i4x://)"
    )]
    UnknownNamespace {
        /// The key as given.
        key: String,
    },
    /// The string has a known namespace but the wrong shape.
    #[error("malformed key {key:?}: {reason}")]
    Malformed {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// One part of the key contains characters Open edX does not allow there.
    #[error("key {key:?}: {field} {value:?} contains characters not allowed in Open edX keys")]
    InvalidChars {
        /// The key as given.
        key: String,
        /// Which part (org, course, run, block_type, block_id).
        field: &'static str,
        /// The offending part.
        value: String,
    },
    /// A valid Open edX key that uses a feature coursetasks does not model.
    #[error("key {key:?}: {reason}")]
    Unsupported {
        /// The key as given.
        key: String,
        /// What is not supported.
        reason: String,
    },
    /// The key names a block in a different course.
    #[error("key {key:?} does not belong to course {course}")]
    WrongCourse {
        /// The key as given.
        key: String,
        /// The course it was expected to belong to.
        course: String,
    },
}

/// Whether a key names a course run or a (v1, modulestore) content library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextKind {
    /// A course run: `course-v1:org+course+run`.
    Course,
    /// A v1 content library: `library-v1:org+library`. Open edX gives
    /// libraries the fixed run `library` for backward compatibility.
    Library,
}

/// The run Open edX reports for every v1 library key.
pub const LIBRARY_RUN: &str = "library";

/// A course run or v1 library key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CourseKey {
    /// Organisation, e.g. `OpenedX`.
    pub org: String,
    /// Course number, e.g. `DemoX` (for a library: the library slug).
    pub course: String,
    /// Run, e.g. `DemoCourse` (for a library: always [`LIBRARY_RUN`]). Empty
    /// when the key came from an `i4x://` usage key, which does not carry the
    /// run; see [`parse_usage_key_in_course`].
    pub run: String,
    /// Course or library.
    pub kind: ContextKind,
}

impl CourseKey {
    /// A course run key.
    pub fn new(org: impl Into<String>, course: impl Into<String>, run: impl Into<String>) -> Self {
        CourseKey {
            org: org.into(),
            course: course.into(),
            run: run.into(),
            kind: ContextKind::Course,
        }
    }

    /// A v1 library key (`library-v1:org+library`).
    pub fn library(org: impl Into<String>, library: impl Into<String>) -> Self {
        CourseKey {
            org: org.into(),
            course: library.into(),
            run: LIBRARY_RUN.to_string(),
            kind: ContextKind::Library,
        }
    }

    /// The deprecated `org/course/run` form (courses only; Open edX never had
    /// a deprecated form for libraries, so they get `org/library/library`).
    pub fn deprecated_string(&self) -> String {
        format!("{}/{}/{}", self.org, self.course, self.run)
    }

    /// The key of a block of this course, in the current form.
    pub fn make_usage_key(
        &self,
        block_type: impl Into<String>,
        block_id: impl Into<String>,
    ) -> UsageKey {
        UsageKey {
            course: self.clone(),
            block_type: block_type.into(),
            block_id: block_id.into(),
            deprecated: false,
        }
    }

    fn validate(&self, key: &str) -> Result<(), KeyError> {
        check_part(key, "org", &self.org, is_id_char)?;
        check_part(key, "course", &self.course, is_id_char)?;
        if self.kind == ContextKind::Course {
            check_part(key, "run", &self.run, is_id_char)?;
        }
        Ok(())
    }
}

impl fmt::Display for CourseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ContextKind::Course => {
                write!(f, "course-v1:{}+{}+{}", self.org, self.course, self.run)
            }
            ContextKind::Library => write!(f, "library-v1:{}+{}", self.org, self.course),
        }
    }
}

/// The key of one block (a problem, a vertical, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UsageKey {
    /// The course or library the block belongs to.
    pub course: CourseKey,
    /// Block type (OLX tag), e.g. `problem`.
    pub block_type: String,
    /// Block id, which is the OLX `url_name`.
    pub block_id: String,
    /// True when the key was written (and displays) in the deprecated
    /// `i4x://` form. It also changes what [`UsageKey::html_id`] returns,
    /// exactly as in Open edX, where old-style courses get `i4x-…` html ids.
    pub deprecated: bool,
}

impl UsageKey {
    /// The current form: `block-v1:org+course+run+type@T+block@ID`, or for a
    /// library block `lib-block-v1:org+library+type@T+block@ID`.
    pub fn block_v1_string(&self) -> String {
        match self.course.kind {
            ContextKind::Course => format!(
                "block-v1:{}+{}+{}+type@{}+block@{}",
                self.course.org,
                self.course.course,
                self.course.run,
                self.block_type,
                self.block_id
            ),
            ContextKind::Library => format!(
                "lib-block-v1:{}+{}+type@{}+block@{}",
                self.course.org, self.course.course, self.block_type, self.block_id
            ),
        }
    }

    /// The deprecated form: `i4x://org/course/type/id` (the run is not part
    /// of it).
    pub fn i4x_string(&self) -> String {
        format!(
            "i4x://{}/{}/{}/{}",
            self.course.org, self.course.course, self.block_type, self.block_id
        )
    }

    /// The id Open edX uses for the block in HTML and as the prefix of every
    /// capa response and input id: the bare block id for current keys, and
    /// `i4x-org-course-type-id` with every character outside `[\w-]` replaced
    /// by `_` (runs of `_` collapsed) for deprecated keys.
    pub fn html_id(&self) -> String {
        if self.deprecated {
            deprecated_html_id(
                &self.course.org,
                &self.course.course,
                &self.block_type,
                &self.block_id,
            )
        } else {
            self.block_id.clone()
        }
    }

    /// The same block with its key in the given form.
    pub fn with_deprecated(&self, deprecated: bool) -> UsageKey {
        UsageKey {
            deprecated,
            ..self.clone()
        }
    }
}

impl fmt::Display for UsageKey {
    /// Displays the key in the form it was created in (`i4x://` when
    /// [`UsageKey::deprecated`], the current form otherwise).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.deprecated {
            f.write_str(&self.i4x_string())
        } else {
            f.write_str(&self.block_v1_string())
        }
    }
}

/// `i4x-org-course-type-id`, cleaned for HTML like Open edX's
/// `BlockUsageLocator.clean_for_html`.
pub fn deprecated_html_id(org: &str, course: &str, block_type: &str, block_id: &str) -> String {
    clean_for_html(&format!("i4x-{org}-{course}-{block_type}-{block_id}"))
}

/// Replaces every character outside `[\w-]` with `_`, then collapses every
/// run of `_` (including ones that were in the input) into one.
pub fn clean_for_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let c = if is_word_char(c) || c == '-' { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

/// Python's `\w` for `str` patterns: letters, digits (Unicode) and `_`.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `Locator.ALLOWED_ID_CHARS`: `[\w\-~.:]`.
pub(crate) fn is_id_char(c: char) -> bool {
    is_word_char(c) || matches!(c, '-' | '~' | '.' | ':')
}

/// `BLOCK_ALLOWED_ID_CHARS` (and the deprecated id characters): `[\w\-~.:%]`.
pub(crate) fn is_block_id_char(c: char) -> bool {
    is_id_char(c) || c == '%'
}

/// `CourseLocator.INVALID_CHARS_DEPRECATED` is `[^\w.%-]`, so deprecated
/// org/course/run may use `[\w.%-]`.
fn is_deprecated_course_char(c: char) -> bool {
    is_word_char(c) || matches!(c, '.' | '%' | '-')
}

/// True when `id` is non-empty and a valid block id (an OLX `url_name`).
pub fn is_valid_block_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(is_block_id_char)
}

fn check_part(
    key: &str,
    field: &'static str,
    value: &str,
    allowed: fn(char) -> bool,
) -> Result<(), KeyError> {
    if value.is_empty() || !value.chars().all(allowed) {
        return Err(KeyError::InvalidChars {
            key: key.to_string(),
            field,
            value: value.to_string(),
        });
    }
    Ok(())
}

fn malformed(key: &str, reason: impl Into<String>) -> KeyError {
    KeyError::Malformed {
        key: key.to_string(),
        reason: reason.into(),
    }
}

fn unsupported_part(key: &str, part: &str) -> Option<KeyError> {
    ["branch@", "version@"]
        .iter()
        .any(|p| part.starts_with(p))
        .then(|| KeyError::Unsupported {
            key: key.to_string(),
            reason: format!("branch/version part {part:?} is not supported"),
        })
}

/// Parses a course key: `course-v1:org+course+run`, `library-v1:org+library`
/// or the deprecated `org/course/run`.
pub fn parse_course_key(s: &str) -> Result<CourseKey, KeyError> {
    if let Some(rest) = s.strip_prefix("course-v1:") {
        let parts: Vec<&str> = rest.split('+').collect();
        if let Some(err) = parts.iter().find_map(|p| unsupported_part(s, p)) {
            return Err(err);
        }
        let [org, course, run] = parts[..] else {
            return Err(malformed(s, "expected course-v1:ORG+COURSE+RUN"));
        };
        let key = CourseKey::new(org, course, run);
        key.validate(s)?;
        Ok(key)
    } else if let Some(rest) = s.strip_prefix("library-v1:") {
        let parts: Vec<&str> = rest.split('+').collect();
        if let Some(err) = parts.iter().find_map(|p| unsupported_part(s, p)) {
            return Err(err);
        }
        let [org, library] = parts[..] else {
            return Err(malformed(s, "expected library-v1:ORG+LIBRARY"));
        };
        let key = CourseKey::library(org, library);
        key.validate(s)?;
        Ok(key)
    } else if !s.contains(':') && s.split('/').count() == 3 {
        let mut parts = s.split('/');
        let (org, course, run) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        for (field, value) in [("org", org), ("course", course), ("run", run)] {
            check_part(s, field, value, is_deprecated_course_char)?;
        }
        Ok(CourseKey::new(org, course, run))
    } else {
        Err(KeyError::UnknownNamespace { key: s.to_string() })
    }
}

/// Parses a usage key in any supported form: `block-v1:…`, `lib-block-v1:…`
/// or `i4x://org/course/type/id`.
///
/// An `i4x://` key does not contain the run, so the returned key has an
/// empty `course.run`; use [`parse_usage_key_in_course`] to fill it in.
pub fn parse_usage_key(s: &str) -> Result<UsageKey, KeyError> {
    if let Some(rest) = s.strip_prefix("block-v1:") {
        let parts: Vec<&str> = rest.split('+').collect();
        if let Some(err) = parts.iter().find_map(|p| unsupported_part(s, p)) {
            return Err(err);
        }
        let [org, course, run, ty, id] = parts[..] else {
            return Err(malformed(
                s,
                "expected block-v1:ORG+COURSE+RUN+type@TYPE+block@ID",
            ));
        };
        let course = CourseKey::new(org, course, run);
        finish_block_key(s, course, ty, id)
    } else if let Some(rest) = s.strip_prefix("lib-block-v1:") {
        let parts: Vec<&str> = rest.split('+').collect();
        if let Some(err) = parts.iter().find_map(|p| unsupported_part(s, p)) {
            return Err(err);
        }
        let [org, library, ty, id] = parts[..] else {
            return Err(malformed(
                s,
                "expected lib-block-v1:ORG+LIBRARY+type@TYPE+block@ID",
            ));
        };
        finish_block_key(s, CourseKey::library(org, library), ty, id)
    } else if let Some(rest) = s.strip_prefix("i4x://") {
        if rest.contains('@') {
            return Err(KeyError::Unsupported {
                key: s.to_string(),
                reason: "i4x revisions (@draft, …) are not supported".to_string(),
            });
        }
        let parts: Vec<&str> = rest.split('/').collect();
        let [org, course, ty, id] = parts[..] else {
            return Err(malformed(s, "expected i4x://ORG/COURSE/TYPE/ID"));
        };
        check_part(s, "org", org, is_deprecated_course_char)?;
        check_part(s, "course", course, is_deprecated_course_char)?;
        check_part(s, "block_type", ty, is_block_id_char)?;
        check_part(s, "block_id", id, is_block_id_char)?;
        Ok(UsageKey {
            course: CourseKey::new(org, course, ""),
            block_type: ty.to_string(),
            block_id: id.to_string(),
            deprecated: true,
        })
    } else {
        Err(KeyError::UnknownNamespace { key: s.to_string() })
    }
}

fn finish_block_key(s: &str, course: CourseKey, ty: &str, id: &str) -> Result<UsageKey, KeyError> {
    let ty = ty
        .strip_prefix("type@")
        .ok_or_else(|| malformed(s, "missing type@ part"))?;
    let id = id
        .strip_prefix("block@")
        .ok_or_else(|| malformed(s, "missing block@ part"))?;
    course.validate(s)?;
    check_part(s, "block_type", ty, is_id_char)?;
    check_part(s, "block_id", id, is_block_id_char)?;
    Ok(UsageKey {
        course,
        block_type: ty.to_string(),
        block_id: id.to_string(),
        deprecated: false,
    })
}

/// Parses a usage key that must belong to `course`. For an `i4x://` key the
/// run (and kind) are taken from `course`, which is how Open edX maps old
/// locations into a course; the key stays deprecated, so its `html_id()` is
/// the `i4x-…` form.
pub fn parse_usage_key_in_course(s: &str, course: &CourseKey) -> Result<UsageKey, KeyError> {
    let mut key = parse_usage_key(s)?;
    let same = if key.deprecated {
        key.course.org == course.org && key.course.course == course.course
    } else {
        key.course == *course
    };
    if !same {
        return Err(KeyError::WrongCourse {
            key: s.to_string(),
            course: course.to_string(),
        });
    }
    key.course = course.clone();
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_v1_round_trip_and_html_id() {
        let s =
            "block-v1:OpenedX+DemoX+DemoCourse+type@problem+block@870b16e640d541af94a308caac834d2e";
        let key = parse_usage_key(s).unwrap();
        assert_eq!(key.course, CourseKey::new("OpenedX", "DemoX", "DemoCourse"));
        assert_eq!(key.block_type, "problem");
        assert_eq!(key.html_id(), "870b16e640d541af94a308caac834d2e");
        assert_eq!(key.to_string(), s);
        assert_eq!(
            key.i4x_string(),
            "i4x://OpenedX/DemoX/problem/870b16e640d541af94a308caac834d2e"
        );
    }

    #[test]
    fn deprecated_html_id_matches_open_edx_example() {
        let key = parse_usage_key("i4x://MITx/6.002x/problem/Problem1").unwrap();
        assert!(key.deprecated);
        assert_eq!(key.html_id(), "i4x-MITx-6_002x-problem-Problem1");
        assert_eq!(key.to_string(), "i4x://MITx/6.002x/problem/Problem1");
        // Runs of `_`, including ones in the input, collapse to one.
        assert_eq!(clean_for_html("a__b..c:d~e"), "a_b_c_d_e");
        assert_eq!(
            deprecated_html_id("MITx", "6.002x", "problem", "secret:lab_1"),
            "i4x-MITx-6_002x-problem-secret_lab_1"
        );
    }

    #[test]
    fn i4x_in_course_takes_the_run() {
        let course = CourseKey::new("MITx", "6.002x", "2012_Fall");
        let key = parse_usage_key_in_course("i4x://MITx/6.002x/problem/P1", &course).unwrap();
        assert_eq!(key.course.run, "2012_Fall");
        assert_eq!(
            key.block_v1_string(),
            "block-v1:MITx+6.002x+2012_Fall+type@problem+block@P1"
        );
        assert!(matches!(
            parse_usage_key_in_course("i4x://MITx/7.00x/problem/P1", &course),
            Err(KeyError::WrongCourse { .. })
        ));
        assert!(matches!(
            parse_usage_key_in_course("block-v1:MITx+6.002x+2013+type@problem+block@P1", &course),
            Err(KeyError::WrongCourse { .. })
        ));
    }

    #[test]
    fn library_keys() {
        let s = "lib-block-v1:OpenedX+DemoRespiratoryQuestions+type@problem+block@dd88975768314dcd91363359d38371a8";
        let key = parse_usage_key(s).unwrap();
        assert_eq!(key.course.kind, ContextKind::Library);
        assert_eq!(
            key.course.to_string(),
            "library-v1:OpenedX+DemoRespiratoryQuestions"
        );
        assert_eq!(key.course.run, LIBRARY_RUN);
        assert_eq!(key.to_string(), s);
        assert_eq!(key.html_id(), "dd88975768314dcd91363359d38371a8");
        assert_eq!(
            parse_course_key("library-v1:OpenedX+DemoRespiratoryQuestions").unwrap(),
            key.course
        );
    }

    #[test]
    fn course_keys() {
        let k = parse_course_key("course-v1:OpenedX+DemoX+DemoCourse").unwrap();
        assert_eq!(k.deprecated_string(), "OpenedX/DemoX/DemoCourse");
        assert_eq!(parse_course_key("OpenedX/DemoX/DemoCourse").unwrap(), k);
        assert!(parse_course_key("course-v1:a+b").is_err());
        assert!(parse_course_key("course-v1:a+b c+d").is_err());
        assert!(parse_course_key("nonsense").is_err());
    }

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            "",
            "block-v1:a+b+c+type@problem",
            "block-v1:a+b+c+problem+block@x",
            "block-v1:a+b+c+type@problem+block@x y",
            "block-v1:a+b+c+branch@draft+type@problem+block@x",
            "block-v1:a+b+c+type@pro/blem+block@x",
            "i4x://a/b/problem",
            "i4x://a/b/problem/x@draft",
            "i4x://a/b/problem/x/y",
            "i4x://a:b/c/problem/x",
            "lib-block-v1:a+type@problem+block@x",
            "course-v1:a+b+c",
        ] {
            assert!(parse_usage_key(bad).is_err(), "{bad:?} should not parse");
        }
        assert!(matches!(
            parse_usage_key("block-v1:a+b+c+branch@draft+type@problem+block@x"),
            Err(KeyError::Unsupported { .. })
        ));
    }

    #[test]
    fn block_ids_allow_percent_and_colon() {
        let key = parse_usage_key("block-v1:a+b+c+type@html+block@secret:toy%20lab").unwrap();
        assert_eq!(key.block_id, "secret:toy%20lab");
        // A `%` is allowed in block ids but not in the course part.
        assert!(parse_usage_key("block-v1:a%+b+c+type@html+block@x").is_err());
    }
}
