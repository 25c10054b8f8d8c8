//! Errors (fatal, no course is returned) and warnings (the course is still
//! usable) of the OLX reader.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Where something came from: a file relative to the course root, and the
/// 1-based line and column of the element or JSON token when known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SourceLocation {
    /// Path relative to the course root, `/`-separated (e.g. `problem/x.xml`).
    pub file: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column (in characters).
    pub column: Option<u32>,
}

impl SourceLocation {
    /// A whole file, no position.
    pub fn file(file: impl Into<String>) -> Self {
        SourceLocation {
            file: file.into(),
            line: None,
            column: None,
        }
    }

    /// A position inside a file.
    pub fn at(file: impl Into<String>, line: u32, column: u32) -> Self {
        SourceLocation {
            file: file.into(),
            line: Some(line),
            column: Some(column),
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// A fatal problem with the export. The reader returns no partial course.
#[derive(Debug, thiserror::Error)]
pub enum OlxError {
    /// The folder or archive could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not well-formed XML (or not UTF-8).
    #[error("{location}: malformed XML: {message}")]
    Xml {
        /// File, line and column of the fault.
        location: SourceLocation,
        /// What the parser reported.
        message: String,
    },
    /// A policy file is not valid JSON.
    #[error("{location}: malformed JSON: {message}")]
    Json {
        /// File, line and column of the fault.
        location: SourceLocation,
        /// What the parser reported.
        message: String,
    },
    /// A pointer element names a file that is not in the export.
    #[error(
        "{location}: <{tag} url_name=\"{url_name}\"/> points to {target}, which is not in the export"
    )]
    MissingPointerTarget {
        /// The pointer element.
        location: SourceLocation,
        /// Its tag (block type).
        tag: String,
        /// Its url_name.
        url_name: String,
        /// The file it should load.
        target: String,
    },
    /// Well-formed input that does not make a valid course (missing
    /// attributes, a file whose root element is not what the pointer says,
    /// an invalid url_name, …).
    #[error("{location}: {message}")]
    Invalid {
        /// Where the fault is.
        location: SourceLocation,
        /// What is wrong.
        message: String,
    },
    /// No `course.xml`, `roots/*.xml` or `library.xml` at the top of the
    /// export (or in its single top-level folder).
    #[error("no OLX course root found: {message}")]
    NoCourseRoot {
        /// What was looked for and found.
        message: String,
    },
    /// An archive entry whose path is absolute or climbs out with `..`.
    #[error("{archive}: unsafe entry path {entry:?}: {reason}")]
    UnsafePath {
        /// The archive (or "file map").
        archive: String,
        /// The entry path as stored.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// The archive is corrupt, or exceeds one of the [`crate::Limits`].
    #[error("{archive}: {message}")]
    Archive {
        /// The archive (or folder).
        archive: String,
        /// What is wrong.
        message: String,
    },
}

impl OlxError {
    /// The file/line/column the error refers to, when it refers to one.
    pub fn location(&self) -> Option<&SourceLocation> {
        match self {
            OlxError::Xml { location, .. }
            | OlxError::Json { location, .. }
            | OlxError::MissingPointerTarget { location, .. }
            | OlxError::Invalid { location, .. } => Some(location),
            _ => None,
        }
    }
}

/// What a [`Warning`] is about, so callers can filter without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A `policy.json` key that matches no block (e.g. a legacy
    /// `videosequence/…` key); it is ignored.
    UnmatchedPolicyKey,
    /// Files under `drafts/` (unpublished Studio content) were ignored.
    DraftsIgnored,
    /// An `html` block's body file (`html/<filename>.html`) is missing.
    MissingHtmlBody,
    /// Two elements define the same block type + url_name; the later one
    /// (and its subtree) was skipped.
    DuplicateBlock,
    /// An inline element had no url_name; one was generated, which may not
    /// match the id Open edX would generate.
    GeneratedUrlName,
    /// A block file in the export that no element points to.
    OrphanFile,
    /// A setting whose value could not be read as its type; it is treated as
    /// unset.
    InvalidSetting,
    /// An archive or folder entry that was skipped (link, special file,
    /// non-UTF-8 name).
    SkippedEntry,
}

/// A non-fatal observation about the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Category.
    pub kind: WarningKind,
    /// Where, when it is about one place.
    pub location: Option<SourceLocation>,
    /// Human-readable explanation.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "{location}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}
