//! Property tests: usage and course keys survive formatting and parsing in
//! both forms.

use coursetasks_olx::{
    CourseKey, UsageKey, clean_for_html, parse_course_key, parse_usage_key,
    parse_usage_key_in_course,
};
use proptest::prelude::*;

/// Course key parts valid in both the current and deprecated forms.
fn course_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,12}"
}

/// Block types: `[\w-]` (no `.`/`:` so they are valid everywhere).
fn block_type() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,15}"
}

/// Block ids may use `[\w\-~.:%]`, including non-ASCII letters.
fn block_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_~.:%é-]{1,24}"
}

proptest! {
    #[test]
    fn block_v1_round_trip(org in course_part(), course in course_part(), run in course_part(),
                           ty in block_type(), id in block_id()) {
        let key = CourseKey::new(org, course, run).make_usage_key(ty, id);
        let text = key.to_string();
        prop_assert!(text.starts_with("block-v1:"));
        let parsed = parse_usage_key(&text).unwrap();
        prop_assert_eq!(&parsed, &key);
        prop_assert_eq!(parsed.html_id(), key.block_id.clone());
        prop_assert_eq!(parse_course_key(&key.course.to_string()).unwrap(), key.course.clone());
    }

    #[test]
    fn i4x_round_trip(org in course_part(), course in course_part(), run in course_part(),
                      ty in block_type(), id in block_id()) {
        let course_key = CourseKey::new(org, course, run);
        let key = course_key.make_usage_key(ty, id).with_deprecated(true);
        let text = key.to_string();
        prop_assert!(text.starts_with("i4x://"));
        let parsed = parse_usage_key_in_course(&text, &course_key).unwrap();
        prop_assert_eq!(&parsed, &key);
        // Without the course, everything but the run survives.
        let bare = parse_usage_key(&text).unwrap();
        prop_assert_eq!(bare.course.run.as_str(), "");
        prop_assert_eq!(bare.to_string(), text);
        // The deprecated html id is already clean, so cleaning is a no-op.
        let html_id = key.html_id();
        prop_assert_eq!(clean_for_html(&html_id), html_id.clone());
        prop_assert!(html_id.starts_with("i4x-"));
        prop_assert!(!html_id.contains("__"));
        prop_assert!(html_id.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'));
        // Converting to the current form and back is lossless.
        let current = parsed.with_deprecated(false);
        prop_assert_eq!(parse_usage_key(&current.to_string()).unwrap().with_deprecated(true), key);
    }

    #[test]
    fn library_round_trip(org in course_part(), lib in course_part(), ty in block_type(), id in block_id()) {
        let key = CourseKey::library(org, lib).make_usage_key(ty, id);
        let text = key.to_string();
        prop_assert!(text.starts_with("lib-block-v1:"));
        prop_assert_eq!(parse_usage_key(&text).unwrap(), key);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,60}") {
        if let Ok(key) = parse_usage_key(&s) {
            // Whatever parses formats back to the same text.
            prop_assert_eq!(key.to_string(), s.clone());
        }
        let _ = parse_course_key(&s);
    }

    #[test]
    fn mutated_keys_never_panic(ty in block_type(), id in block_id(), junk in "[+@/ #]{1,3}", at in 0usize..60) {
        let key: UsageKey = CourseKey::new("Org", "C", "R").make_usage_key(ty, id);
        let mut text = key.to_string();
        let at = at.min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, &junk);
            if let Ok(parsed) = parse_usage_key(&text) {
                prop_assert_eq!(parsed.to_string(), text);
            }
        }
    }
}
