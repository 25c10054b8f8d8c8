//! The sample course's files, embedded at compile time so the binary does
//! not depend on where it runs from.

use coursetasks_olx::FileMap;

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        /// Every file of the course tree (not the README or `fixes/`).
        pub(crate) const FILES: &[(&str, &[u8])] = &[
            $(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sample-course/", $path)))),*
        ];
    };
}

// Listed explicitly: a test checks this list against the folder, so a file
// added to the course without being listed here fails the build's tests.
embed![
    "course.xml",
    "course/2026.xml",
    "chapter/units.xml",
    "chapter/formulas.xml",
    "sequential/warmup.xml",
    "sequential/lab.xml",
    "sequential/final.xml",
    "sequential/practice.xml",
    "vertical/warmup_units.xml",
    "vertical/warmup_instruments.xml",
    "vertical/lab_numbers.xml",
    "vertical/final_questions.xml",
    "vertical/practice_pendulum.xml",
    "html/welcome.xml",
    "html/welcome.html",
    "html/pendulum_intro.xml",
    "html/pendulum_intro.html",
    "problem/units_mc.xml",
    "problem/si_prefix_checkbox.xml",
    "problem/instrument_dropdown.xml",
    "problem/free_fall_numerical.xml",
    "problem/circle_area.xml",
    "problem/force_unit_string.xml",
    "problem/kinetic_energy_formula.xml",
    "problem/pendulum_custom.xml",
    "policies/2026/policy.json",
    "policies/2026/grading_policy.json",
];

/// The corrected `circle_area` problem, outside the course tree.
pub(crate) const CIRCLE_AREA_FIX: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../sample-course/fixes/problem/circle_area.xml"
));

/// The files as a map, ready for `coursetasks_olx::read_course`.
pub(crate) fn file_map() -> FileMap {
    FILES
        .iter()
        .map(|(path, bytes)| (path.to_string(), bytes.to_vec()))
        .collect()
}
