//! A task's status as people and programs see it: the stored fields, structured progress (percent,
//! rate, ETA) and Open edX's status message with its "succeeded" flag. The CLI, the tests and any
//! other front end build it here, so the message is computed one way only.

use chrono::{DateTime, Utc};
use coursetasks_store::{TaskRecord, TaskState as StoredState};
use coursetasks_tasks::{
    Counts, Progress, StatusSummary, TaskInput, TaskKind, TaskOutput, TaskState, status_message,
    summarize,
};
use serde::Serialize;

/// The domain view of a stored state (the two enums spell the same five states).
pub fn domain_state(state: StoredState) -> TaskState {
    match state {
        StoredState::Queued => TaskState::Queued,
        StoredState::Running => TaskState::Running,
        StoredState::Success => TaskState::Success,
        StoredState::Failure => TaskState::Failure,
        StoredState::Revoked => TaskState::Revoked,
    }
}

/// A task as `status --json` prints it: the stored fields, the structured progress, and Open
/// edX's message and "succeeded" flag.
#[derive(Debug, Serialize)]
pub struct TaskView {
    pub task_id: String,
    pub task_type: String,
    pub course_id: String,
    pub task_input: serde_json::Value,
    pub requester: String,
    pub state: String,
    pub in_progress: bool,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub total: Option<u64>,
    pub attempted: u64,
    pub succeeded: u64,
    pub skipped: u64,
    pub failed: u64,
    pub percent: f64,
    pub rate_per_second: Option<f64>,
    pub eta_seconds: Option<f64>,
    pub duration_ms: Option<i64>,
    /// Open edX's `task_progress` dict (`action_name`, counts, `duration_ms`).
    pub task_progress: Option<Progress>,
    /// The Open edX status message.
    pub message: String,
    /// Open edX's "succeeded" flag for the message ("Complete" vs "Incomplete" on its dashboard).
    pub succeeded_flag: bool,
    pub error: Option<serde_json::Value>,
}

impl TaskView {
    pub fn new(task: &TaskRecord, now: DateTime<Utc>) -> TaskView {
        let state = domain_state(task.state);
        let counts = Counts::from_parts(
            task.succeeded,
            task.skipped,
            task.failed,
            task.total.unwrap_or(0),
        );
        let end = task.finished_at.unwrap_or(now);
        let summary: StatusSummary = summarize(state, &counts, task.started_at, end);
        let duration_ms = task.started_at.map(|s| (end - s).num_milliseconds().max(0));
        let kind = TaskKind::from_task_type(&task.task_type);
        let input: TaskInput = serde_json::from_value(task.input.clone()).unwrap_or_default();
        let progress = match (kind, task.total, task.started_at) {
            (Some(kind), Some(_), Some(_)) => {
                Some(counts.to_progress(kind.action_name(), duration_ms.unwrap_or(0).max(0) as u64))
            }
            _ => None,
        };
        let failure_message = task
            .error
            .as_ref()
            .and_then(|e| e.get("message"))
            .and_then(|m| m.as_str());
        let output = match (state, &progress) {
            (TaskState::Failure, _) => TaskOutput::Message(failure_message),
            (TaskState::Revoked, _) => {
                TaskOutput::Message(failure_message.or(Some("Task revoked before completion")))
            }
            (_, Some(p)) => TaskOutput::Progress(p),
            (_, None) => TaskOutput::Missing,
        };
        let (succeeded_flag, message) = status_message(state, output, &input);
        TaskView {
            task_id: task.id.to_string(),
            task_type: task.task_type.clone(),
            course_id: task.course_key.clone(),
            task_input: task.input.clone(),
            requester: task.requester.clone(),
            state: task.state.as_str().to_owned(),
            in_progress: !task.state.is_ready(),
            created: task.created_at,
            started: task.started_at,
            finished: task.finished_at,
            total: task.total,
            attempted: task.attempted,
            succeeded: task.succeeded,
            skipped: task.skipped,
            failed: task.failed,
            percent: summary.percent,
            rate_per_second: summary.rate_per_second,
            eta_seconds: summary.eta_seconds,
            duration_ms,
            task_progress: progress,
            message,
            succeeded_flag,
            error: task.error.clone(),
        }
    }
}
