//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use coursetasks_olx::FileMap;

/// The Open edX demo course fixture folder, or `None` (with a notice) when
/// the shared fixtures are not next to the repository.
pub fn demo_fixture() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/openedx-demo-course");
    if dir.join("demo-course/course/course.xml").is_file() {
        Some(dir)
    } else {
        println!("SKIP: demo-course fixture not found at {}", dir.display());
        None
    }
}

/// A file map built from `(path, text)` pairs.
pub fn files(entries: &[(&str, &str)]) -> FileMap {
    entries
        .iter()
        .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
        .collect()
}

/// A minimal valid course: one chapter, sequential, vertical and problem,
/// all pointers, plus a policy. Tests replace single files to break it.
pub fn tiny_course() -> FileMap {
    files(&[
        (
            "course.xml",
            r#"<course url_name="T1" org="Org" course="C1"/>"#,
        ),
        (
            "course/T1.xml",
            r#"<course display_name="Tiny" start="2030-01-01T00:00:00Z" max_attempts="5">
  <chapter url_name="ch1"/>
</course>"#,
        ),
        (
            "chapter/ch1.xml",
            r#"<chapter display_name="Ch"><sequential url_name="seq1"/></chapter>"#,
        ),
        (
            "sequential/seq1.xml",
            r#"<sequential display_name="Seq" graded="true" format="Homework" showanswer="attempted"><vertical url_name="v1"/></sequential>"#,
        ),
        (
            "vertical/v1.xml",
            r#"<vertical display_name="V"><problem url_name="p1"/></vertical>"#,
        ),
        (
            "problem/p1.xml",
            r#"<problem display_name="P1" weight="2">
  <numericalresponse answer="3.14"><formulaequationinput/></numericalresponse>
</problem>"#,
        ),
        (
            "policies/T1/policy.json",
            r#"{"course/T1": {"display_name": "Tiny course"}}"#,
        ),
    ])
}
