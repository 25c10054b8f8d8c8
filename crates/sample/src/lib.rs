//! The coursetasks sample course and synthetic learners for it.
//!
//! * [`sample_course_files`] / [`sample_course`]: the OLX of `sample-course/`
//!   (course `course-v1:CourseTasks+CT101+2026`), embedded in the binary.
//! * [`answer_key_fix`]: the corrected XML of the problem whose answer key is
//!   deliberately wrong in the course (`circle_area`: 3.41 instead of π).
//! * [`LearnerGenerator`]: a streaming, deterministic iterator of learners
//!   with Open edX-shaped problem state, graded by the capa engine against
//!   the course as it is (wrong key included).
//! * [`benchmark_modules`]: many submitted modules of one problem.
//!
//! ```no_run
//! let course = coursetasks_sample::sample_course();
//! let learners = coursetasks_sample::LearnerGenerator::new(&course, 1_000, 42)?;
//! for learner in learners {
//!     for module in learner.modules {
//!         println!("{} {} {:?}", learner.learner.1, module.usage_key, module.grade);
//!     }
//! }
//! # Ok::<(), coursetasks_sample::GenerateError>(())
//! ```

mod answers;
mod files;
mod generator;
mod pyjson;

use coursetasks_olx::{Course, CourseSource, FileMap, read_course};

pub use generator::{
    BenchmarkModules, GenerateError, GeneratedLearner, GeneratedModule, LearnerGenerator,
    benchmark_modules,
};

/// The sample course's key.
pub const SAMPLE_COURSE_KEY: &str = "course-v1:CourseTasks+CT101+2026";

/// Usage key of the problem whose answer key is wrong in the course.
pub const WRONG_KEY_PROBLEM: &str =
    "block-v1:CourseTasks+CT101+2026+type@problem+block@circle_area";

/// Usage key of the problem graded by a Python script, which coursetasks
/// cannot rescore.
pub const PYTHON_PROBLEM: &str =
    "block-v1:CourseTasks+CT101+2026+type@problem+block@pendulum_custom";

/// The sample course's OLX files (paths relative to the course root),
/// embedded at compile time, so this works from any directory.
pub fn sample_course_files() -> FileMap {
    files::file_map()
}

/// The sample course, read with `coursetasks-olx`.
pub fn sample_course() -> Course {
    // The files are fixed at compile time and a test reads them, so this
    // cannot fail at run time.
    read_course(&CourseSource::Files(sample_course_files()))
        .expect("the embedded sample course is valid OLX")
}

/// The corrected answer key: the usage key of the problem it fixes and the
/// problem's new XML (`sample-course/fixes/problem/circle_area.xml`).
pub fn answer_key_fix() -> (String, String) {
    (
        WRONG_KEY_PROBLEM.to_string(),
        files::CIRCLE_AREA_FIX.to_string(),
    )
}
