//! Reads an Open edX OLX course export (a folder, a `.tar.gz`, or an
//! in-memory map of files) into a course tree whose usage keys and html ids
//! are exactly the ones Open edX uses, so that learner state exported from
//! Open edX lines up with the blocks read here.
//!
//! ```no_run
//! use coursetasks_olx::{read_course, CourseSource};
//! let course = read_course(&CourseSource::path("export.tar.gz"))?;
//! for problem in course.problems() {
//!     println!("{} {}", problem.usage_key, problem.html_id);
//! }
//! # Ok::<(), coursetasks_olx::OlxError>(())
//! ```
//!
//! What is read: `course.xml` (or a single `roots/<run>.xml`, or a v1
//! library's `library.xml`), pointer and inline elements at any depth,
//! `policies/<run>/policy.json` overrides, `grading_policy.json`, and
//! inherited settings. What is ignored: `drafts/` (reported as a warning),
//! `static/` (never read; missing assets are not errors), and html bodies
//! beyond checking that they exist.

mod error;
mod hash;
mod keys;
mod reader;
mod settings;
mod source;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use error::{OlxError, SourceLocation, Warning, WarningKind};
pub use hash::content_hash;
pub use keys::{
    ContextKind, CourseKey, KeyError, LIBRARY_RUN, UsageKey, clean_for_html, deprecated_html_id,
    is_valid_block_id, parse_course_key, parse_usage_key, parse_usage_key_in_course,
};
pub use settings::{DEFAULT_RERANDOMIZE, DEFAULT_SHOWANSWER, INHERITED_SETTINGS, Settings};
pub use source::{CourseSource, FileMap, Limits};

/// A course (or v1 content library) read from OLX.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Course {
    /// `course-v1:Org+Course+Run` (or `library-v1:Org+Library`).
    pub key: CourseKey,
    /// The course's display name (the run when it has none).
    pub display_name: String,
    /// Every block, in tree order (depth-first, parents before children),
    /// the course (or library) root first.
    pub blocks: Vec<Block>,
    /// Non-fatal findings, in the order they were made.
    pub warnings: Vec<Warning>,
    /// The grading policy (`GRADER`, `GRADE_CUTOFFS`) when the export has one.
    pub grading_policy: Option<Value>,
}

impl Course {
    /// The root block (`course` or `library`).
    pub fn root(&self) -> &Block {
        &self.blocks[0]
    }

    /// The block with this usage key (current `block-v1:` form).
    pub fn block(&self, usage_key: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.usage_key == usage_key)
    }

    /// The block of this type and url_name.
    pub fn block_by_url_name(&self, block_type: &str, url_name: &str) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|b| b.block_type == block_type && b.url_name == url_name)
    }

    /// All capa problems, in tree order.
    pub fn problems(&self) -> impl Iterator<Item = &Block> {
        self.blocks.iter().filter(|b| b.block_type == "problem")
    }

    /// How many blocks of each type the course has.
    pub fn block_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for block in &self.blocks {
            *counts.entry(block.block_type.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// The chain of ancestors of a block, nearest first (empty for the
    /// root or an unknown key).
    pub fn ancestors(&self, usage_key: &str) -> Vec<&Block> {
        let mut out = Vec::new();
        let mut current = self.block(usage_key).and_then(|b| b.parent.as_deref());
        while let Some(key) = current {
            match self.block(key) {
                Some(block) => {
                    current = block.parent.as_deref();
                    out.push(block);
                }
                None => break,
            }
        }
        out
    }
}

/// One block of the course tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    /// `block-v1:Org+Course+Run+type@T+block@ID` (`lib-block-v1:…` in a
    /// library).
    pub usage_key: String,
    /// The deprecated `i4x://Org/Course/T/ID` form of the same block, which
    /// old learner-state exports use.
    pub legacy_key: String,
    /// The html id Open edX gives the block for its current key: the bare
    /// url_name. It prefixes every capa input id (`<html_id>_2_1`).
    pub html_id: String,
    /// OLX tag: `problem`, `vertical`, `drag-and-drop-v2`, …
    pub block_type: String,
    /// The block id.
    pub url_name: String,
    /// The parent's usage key (`None` for the root).
    pub parent: Option<String>,
    /// The children's usage keys, in order.
    pub children: Vec<String>,
    /// The block's own display name, if it has one.
    pub display_name: Option<String>,
    /// Effective settings (inherited, then own XML attributes, then policy).
    pub settings: Settings,
    /// For `problem` blocks: the problem's capa XML (the `<problem>` element
    /// as written in the export).
    pub problem_xml: Option<String>,
    /// Where the block's definition was read from.
    pub source: SourceLocation,
}

impl Block {
    /// The block's usage key, parsed.
    pub fn key(&self) -> UsageKey {
        // Built by the reader from validated parts, so it always parses.
        parse_usage_key(&self.usage_key).expect("reader builds valid usage keys")
    }

    /// The block's key in the deprecated form, with the run of its course
    /// (its `html_id()` is the `i4x-…` form).
    pub fn legacy_usage_key(&self) -> UsageKey {
        self.key().with_deprecated(true)
    }
}

/// Options for [`read_course_with`].
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Caps on archive and folder size.
    pub limits: Limits,
}

/// Reads a course export with default options. See [`read_course_with`].
pub fn read_course(source: &CourseSource) -> Result<Course, OlxError> {
    read_course_with(source, &ReadOptions::default())
}

/// Reads a course export.
///
/// Fails (returning no partial course) on malformed XML or JSON, pointers to
/// missing files, invalid url_names, unsafe archive paths, or exceeded
/// limits; every such error names the file, and the line and column where
/// known. Recoverable oddities are listed in [`Course::warnings`].
pub fn read_course_with(source: &CourseSource, options: &ReadOptions) -> Result<Course, OlxError> {
    let mut warnings = Vec::new();
    let files = source::load(source, &options.limits, &mut warnings)?;
    let files = source::reroot(files)?;
    reader::read(&files, warnings)
}
