//! Which tasks a listing shows: a course's running tasks, or the history of a problem, a learner
//! or a task type, turned into the store's [`TaskFilter`] the way Open edX keys its history
//! (by the submission's `task_key`). The CLI's `tasks` and the API's task list both use it.

use coursetasks_store::{Store, StoreError, TaskFilter, TaskState};
use coursetasks_tasks::TaskKind;

/// What a caller asks to list. The default lists every task, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskQuery {
    /// Only this course.
    pub course_key: Option<String>,
    /// Only queued or running tasks.
    pub running: bool,
    /// Only tasks in these states (combined with `running`: both must hold).
    pub states: Vec<TaskState>,
    /// History of this problem (either key form): all-learner tasks on it, or with `learner`
    /// that learner's tasks on it.
    pub problem: Option<String>,
    /// History of this learner (username or email).
    pub learner: Option<String>,
    /// Only this kind of task.
    pub kind: Option<TaskKind>,
    /// At most this many (none: all).
    pub limit: Option<u32>,
}

/// Resolves `query` into a store filter. An unknown learner or problem is
/// [`StoreError::NotFound`] (what the caller names must exist, so a typo is not an empty list).
pub async fn task_filter(store: &Store, query: &TaskQuery) -> Result<TaskFilter, StoreError> {
    let mut filter = TaskFilter {
        course_key: query.course_key.clone(),
        limit: query.limit,
        task_type: query.kind.map(|k| k.task_type().to_owned()),
        states: query.states.clone(),
        ..Default::default()
    };
    if query.running {
        let active = [TaskState::Queued, TaskState::Running];
        filter.states = if filter.states.is_empty() {
            active.to_vec()
        } else {
            // An impossible combination (running and finished) selects nothing, not everything.
            filter
                .states
                .iter()
                .copied()
                .filter(|s| active.contains(s))
                .collect()
        };
        if filter.states.is_empty() {
            filter.limit = Some(0);
        }
    }
    let learner = match &query.learner {
        None => None,
        Some(identifier) => {
            Some(
                store
                    .find_learner(identifier)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "learner",
                        key: identifier.clone(),
                    })?,
            )
        }
    };
    if let Some(problem) = &query.problem {
        let block = store
            .get_block(problem)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "block",
                key: problem.clone(),
            })?;
        // History of a problem is keyed like submission: all-learner tasks, or one learner's.
        filter.task_key = Some(coursetasks_tasks::task_key(
            &block.usage_key,
            learner.as_ref().map(|l| l.id),
        ));
    } else if let Some(learner) = &learner {
        filter.student = Some(learner.username.clone());
    }
    Ok(filter)
}
