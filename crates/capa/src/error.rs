//! Error classes. They mirror what a rescore does with each of capa's failure modes
//! (capa-grading.md §4 "Common rule for the failure classes" and §7).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of failure stopped a compile or a grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradingErrorKind {
    /// The learner's answer cannot be interpreted (capa `StudentInputError`). That learner's rescore
    /// fails; the task goes on.
    StudentInput,
    /// The problem definition is bad (capa `LoncapaProblemError`, `ResponseError`, and every
    /// load-time failure, which the block wraps as `LoncapaProblemError`).
    ProblemDefinition,
    /// Grading needs something this engine does not run (Python, xqueue, JavaScript, ...).
    NotRescorable,
    /// Upstream raises an unexpected Python exception here (`KeyError`, `TypeError`,
    /// `OverflowError`, ...), which crashes the rescore task rather than failing one learner.
    Internal,
}

impl fmt::Display for GradingErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GradingErrorKind::StudentInput => "student_input",
            GradingErrorKind::ProblemDefinition => "problem_definition",
            GradingErrorKind::NotRescorable => "not_rescorable",
            GradingErrorKind::Internal => "internal",
        })
    }
}

/// A compile or grade failure: its class and a message (Open edX's text where it has one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct GradingError {
    /// The failure class.
    pub kind: GradingErrorKind,
    /// Human-readable message.
    pub message: String,
}

impl GradingError {
    pub(crate) fn new(kind: GradingErrorKind, message: impl Into<String>) -> Self {
        GradingError {
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn student(message: impl Into<String>) -> Self {
        Self::new(GradingErrorKind::StudentInput, message)
    }
    pub(crate) fn definition(message: impl Into<String>) -> Self {
        Self::new(GradingErrorKind::ProblemDefinition, message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(GradingErrorKind::Internal, message)
    }
}

/// Why a problem cannot be graded by this engine: the first offending element and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[error("<{element}> is not rescorable here: {reason}")]
pub struct NotRescorable {
    /// Tag name of the offending element (`customresponse`, `script`, `jsinput`, ...).
    pub element: String,
    /// Why it cannot be graded without Python or an external service.
    pub reason: String,
}

impl NotRescorable {
    pub(crate) fn new(element: impl Into<String>, reason: impl Into<String>) -> Self {
        NotRescorable {
            element: element.into(),
            reason: reason.into(),
        }
    }
}

impl From<NotRescorable> for GradingError {
    fn from(n: NotRescorable) -> Self {
        GradingError::new(GradingErrorKind::NotRescorable, n.to_string())
    }
}
