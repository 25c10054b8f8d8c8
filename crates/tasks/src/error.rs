//! Task-fatal errors and the size-bounded FAILURE output.

use crate::pyjson::to_py_json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Why a whole task ended in FAILURE (or REVOKED). Serialized in snake_case (`problem_not_rescorable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The target block does not exist in the course.
    ProblemNotFound,
    /// The problem contains something the grading engine cannot regrade (code/external responses, scripts).
    ProblemNotRescorable,
    /// The problem definition itself is broken (shared by every learner, so not a per-learner failure).
    ProblemDefinition,
    /// The requested learner does not exist.
    LearnerNotFound,
    /// Task input that fails validation (e.g. an override outside `[0, max]`, a zero weight).
    InvalidInput,
    /// A bug or an unexpected condition inside coursetasks or the grading engine.
    Internal,
    /// Cancelled by a user before it finished.
    Cancelled,
    /// The worker holding the task stopped heartbeating and the task was given up.
    TimedOut,
}

impl ErrorKind {
    /// The snake_case name used in JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::ProblemNotFound => "problem_not_found",
            ErrorKind::ProblemNotRescorable => "problem_not_rescorable",
            ErrorKind::ProblemDefinition => "problem_definition",
            ErrorKind::LearnerNotFound => "learner_not_found",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Internal => "internal",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A structured task-fatal error: what went wrong (`kind`), a human message, and where (`context`: the
/// learner, module, problem … as JSON values in insertion order).
///
/// Its JSON form keeps Open edX's `message` key, so status readers that show `task_output["message"]`
/// (Open edX's FAILURE message rule) display it unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TaskError {
    /// The class of failure.
    pub kind: ErrorKind,
    /// Human-readable description.
    pub message: String,
    /// Where it happened (learner id, username, module id, usage key …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
}

/// The smallest output bound [`TaskError::to_output_json`] honours: enough for the kind, a few words of
/// message and the truncation markers.
pub const MIN_OUTPUT_LEN: usize = 160;

/// Open edX's `task_output` column is `varchar(1024)` and its code keeps JSON within 1023 characters.
pub const OPEN_EDX_OUTPUT_LEN: usize = 1023;

impl TaskError {
    /// An error without context.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        TaskError {
            kind,
            message: message.into(),
            context: Map::new(),
        }
    }

    /// Adds one context entry (builder style).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.context.insert(key.to_owned(), value.into());
        self
    }

    /// The error as JSON (Python `json.dumps` style) of at most `max_len` bytes (never below
    /// [`MIN_OUTPUT_LEN`]).
    ///
    /// When it does not fit, the message keeps its **head** (the start says what failed; upstream since
    /// 2023 keeps the tail) and ends with an explicit `… [truncated N chars]` marker, and `"truncated": true`
    /// is added. If the message alone cannot make it fit, long context strings are cut the same way, and as
    /// a last resort the context is replaced by `{"truncated": true}`.
    pub fn to_output_json(&self, max_len: usize) -> String {
        let max_len = max_len.max(MIN_OUTPUT_LEN);
        let full = to_py_json(self);
        if full.len() <= max_len {
            return full;
        }
        let render = |message: String, context: Map<String, Value>| {
            to_py_json(&Truncated {
                kind: self.kind,
                message,
                context,
                truncated: true,
            })
        };
        // 1. Shorten the message.
        if let Some(message) = fit_text(&self.message, |m| {
            render(m.to_owned(), self.context.clone()).len() <= max_len
        }) {
            return render(message, self.context.clone());
        }
        // 2. Shorten the message fully and every context string to a bounded length.
        let short_message = head_with_marker(&self.message, 0);
        for limit in [200usize, 50, 0] {
            let context: Map<String, Value> = self
                .context
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => Value::String(head_with_marker(s, limit)),
                        other => other.clone(),
                    };
                    (k.clone(), v)
                })
                .collect();
            let out = render(short_message.clone(), context);
            if out.len() <= max_len {
                return out;
            }
        }
        // 3. Drop the context.
        let mut marker = Map::new();
        marker.insert("truncated".into(), Value::Bool(true));
        render(short_message, marker)
    }
}

#[derive(Serialize)]
struct Truncated {
    kind: ErrorKind,
    message: String,
    context: Map<String, Value>,
    truncated: bool,
}

/// `text` cut to its first `keep` characters plus a marker saying how many were removed.
fn head_with_marker(text: &str, keep: usize) -> String {
    let total = text.chars().count();
    if keep >= total {
        return text.to_owned();
    }
    let head: String = text.chars().take(keep).collect();
    format!("{head}… [truncated {} chars]", total - keep)
}

/// The longest head of `text` (with marker) accepted by `fits`, or `None` if even an empty head fails.
fn fit_text(text: &str, fits: impl Fn(&str) -> bool) -> Option<String> {
    let total = text.chars().count();
    // Binary search over the kept length: output size is monotonic in it.
    let (mut lo, mut hi) = (0usize, total);
    let empty = head_with_marker(text, 0);
    if !fits(&empty) {
        return None;
    }
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if fits(&head_with_marker(text, mid)) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(head_with_marker(text, lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_errors_serialize_whole() {
        let e = TaskError::new(
            ErrorKind::ProblemNotRescorable,
            "coderesponse cannot be regraded",
        )
        .with("learner_id", 7)
        .with("username", "ana");
        assert_eq!(
            e.to_output_json(OPEN_EDX_OUTPUT_LEN),
            r#"{"kind": "problem_not_rescorable", "message": "coderesponse cannot be regraded", "context": {"learner_id": 7, "username": "ana"}}"#
        );
        let back: TaskError = serde_json::from_str(&e.to_output_json(1023)).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            e.to_string(),
            "problem_not_rescorable: coderesponse cannot be regraded"
        );
    }

    #[test]
    fn long_messages_keep_their_head_and_say_so() {
        let message = format!("START {} END", "x".repeat(5000));
        let e = TaskError::new(ErrorKind::Internal, message.clone()).with("module_id", 12);
        let out = e.to_output_json(OPEN_EDX_OUTPUT_LEN);
        assert!(out.len() <= OPEN_EDX_OUTPUT_LEN, "{}", out.len());
        // Close to the bound: the search keeps as much as fits.
        assert!(out.len() > OPEN_EDX_OUTPUT_LEN - 10, "{}", out.len());
        let v: Value = serde_json::from_str(&out).unwrap();
        let m = v["message"].as_str().unwrap();
        assert!(m.starts_with("START xxx"));
        assert!(m.contains("… [truncated "), "{m}");
        assert!(!m.contains("END"));
        assert_eq!(v["truncated"], Value::Bool(true));
        assert_eq!(v["context"]["module_id"], 12);
        // The marker's count is exact.
        let kept = m.split("… [truncated ").next().unwrap().chars().count();
        let removed: usize = m
            .rsplit("… [truncated ")
            .next()
            .unwrap()
            .trim_end_matches(" chars]")
            .parse()
            .unwrap();
        assert_eq!(kept + removed, message.chars().count());
    }

    #[test]
    fn non_ascii_escapes_are_counted() {
        let e = TaskError::new(ErrorKind::Internal, "é".repeat(2000));
        let out = e.to_output_json(500);
        assert!(out.len() <= 500);
        assert!(out.is_ascii());
    }

    #[test]
    fn huge_context_is_cut_then_dropped() {
        let e = TaskError::new(ErrorKind::Internal, "boom").with("blob", "y".repeat(10_000));
        let out = e.to_output_json(400);
        assert!(out.len() <= 400);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v["context"]["blob"].as_str().unwrap().starts_with("yyy"));
        let many = (0..100).fold(TaskError::new(ErrorKind::Internal, "boom"), |e, i| {
            e.with(&format!("key{i}"), i)
        });
        let out = many.to_output_json(200);
        assert!(out.len() <= 200, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["context"], serde_json::json!({"truncated": true}));
        // The bound has a floor.
        assert!(many.to_output_json(10).len() <= MIN_OUTPUT_LEN);
    }
}
