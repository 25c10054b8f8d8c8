//! Submitting a task: validate everything that can be validated, then insert the task row. Nothing
//! is created when validation fails, and dedup is the store's unique index (atomic), not a check
//! followed by an insert.

use coursetasks_store::{NewTask, Store, SubmitError as StoreSubmitError, TaskRecord};
use coursetasks_tasks::{ErrorKind, Target, TaskError, TaskInput, TaskKind};
use uuid::Uuid;

use crate::plan;

/// What an instructor asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitRequest {
    /// The operation.
    pub kind: TaskKind,
    /// The course key.
    pub course_key: String,
    /// A problem, or a container (section/subsection) whose problems are all covered.
    pub target: Target,
    /// One learner (username or email), or `None` for all learners.
    pub learner: Option<String>,
    /// The weighted score, for override only.
    pub score: Option<f64>,
    /// Who asks.
    pub requester: String,
}

/// Why a submission was refused. Each message says what is wrong and with which input.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The request itself is invalid (unknown course, problem or learner; not rescorable; score
    /// out of range; oversized input; ...).
    #[error("{0}")]
    Invalid(TaskError),
    /// An identical task (same course, type and target) is queued or running.
    #[error(
        "an identical task is already {state}: {id} ({task_type}, submitted by {requester} at {created}); wait for it or cancel it"
    , state = existing.state.as_str().to_lowercase(), id = existing.id, task_type = existing.task_type, requester = existing.requester, created = existing.created_at.format("%Y-%m-%d %H:%M:%S UTC"))]
    AlreadyRunning {
        /// The task that blocks this submission.
        existing: Box<TaskRecord>,
    },
    /// The store failed.
    #[error("storage error: {0}")]
    Store(#[from] coursetasks_store::StoreError),
}

/// Validates `request` and queues it. Returns the new task.
pub async fn submit(store: &Store, request: &SubmitRequest) -> Result<TaskRecord, SubmitError> {
    if request.requester.trim().is_empty() {
        return Err(SubmitError::Invalid(TaskError::new(
            ErrorKind::InvalidInput,
            "the requester must not be empty",
        )));
    }
    // The learner is stored by username even when the instructor typed an email (as Open edX
    // does), so resolve it before building the input.
    let learner = match &request.learner {
        None => None,
        Some(identifier) => Some(store.find_learner(identifier).await?.ok_or_else(|| {
            SubmitError::Invalid(
                TaskError::new(
                    ErrorKind::LearnerNotFound,
                    format!("no learner with username or email {identifier:?}"),
                )
                .with("student", identifier.as_str()),
            )
        })?),
    };
    let input = TaskInput::new(
        request.kind,
        request.target.clone(),
        learner.as_ref().map(|l| l.username.as_str()),
        request.score,
    )
    .map_err(|e| SubmitError::Invalid(TaskError::from(e)))?;
    let resolved = plan::resolve(store, request.kind, &request.course_key, &input)
        .await
        .map_err(SubmitError::Invalid)?;
    // Dedup keys use the canonical (block-v1) key, so the same problem named in either key form
    // is the same task.
    let canonical_target = match &request.target {
        Target::Problem(_) => resolved.problems[0].usage_key.clone(),
        Target::EntranceExam(key) => store
            .get_block(key)
            .await?
            .map(|b| b.usage_key)
            .unwrap_or_else(|| key.clone()),
    };
    let task_key = coursetasks_tasks::task_key(&canonical_target, learner.as_ref().map(|l| l.id));
    let new_task = NewTask {
        id: Uuid::now_v7(),
        course_key: resolved.course_key.clone(),
        task_type: request.kind.task_type().to_owned(),
        task_key,
        input: serde_json::to_value(&input).expect("task input serializes"),
        requester: request.requester.clone(),
    };
    match store.submit_task(&new_task).await {
        Ok(task) => Ok(task),
        Err(StoreSubmitError::AlreadyRunning { existing }) => Err(SubmitError::AlreadyRunning {
            existing: Box::new(existing),
        }),
        Err(StoreSubmitError::Store(e)) => Err(SubmitError::Store(e)),
    }
}
