//! Task kinds (Open edX `task_type`) and task states.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The problem-state operations coursetasks runs.
///
/// The stored name ([`TaskKind::task_type`]) is Open edX's `InstructorTask.task_type`, so rows are
/// interchangeable with the LMS's; the CLI name ([`TaskKind::cli_name`]) is what people type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    /// Regrade stored answers against the current problem definition.
    Rescore,
    /// Regrade, but keep the old grade unless the new percentage is at least as high.
    RescoreIfHigher,
    /// Set `attempts` back to 0.
    ResetAttempts,
    /// Delete the learner's module row.
    DeleteState,
    /// Set one learner's score by hand.
    OverrideScore,
}

impl TaskKind {
    /// Every kind, in a stable order (for help texts and tests).
    pub const ALL: [TaskKind; 5] = [
        TaskKind::Rescore,
        TaskKind::RescoreIfHigher,
        TaskKind::ResetAttempts,
        TaskKind::DeleteState,
        TaskKind::OverrideScore,
    ];

    /// Open edX's stored `task_type`.
    pub const fn task_type(self) -> &'static str {
        match self {
            TaskKind::Rescore => "rescore_problem",
            TaskKind::RescoreIfHigher => "rescore_problem_if_higher",
            TaskKind::ResetAttempts => "reset_problem_attempts",
            TaskKind::DeleteState => "delete_problem_state",
            TaskKind::OverrideScore => "override_problem_score",
        }
    }

    /// The past-tense verb Open edX stores in the progress dict and puts into status messages.
    pub const fn action_name(self) -> &'static str {
        match self {
            TaskKind::Rescore | TaskKind::RescoreIfHigher => "rescored",
            TaskKind::ResetAttempts => "reset",
            TaskKind::DeleteState => "deleted",
            TaskKind::OverrideScore => "overridden",
        }
    }

    /// The command-line spelling (`rescore-if-higher`).
    pub const fn cli_name(self) -> &'static str {
        match self {
            TaskKind::Rescore => "rescore",
            TaskKind::RescoreIfHigher => "rescore-if-higher",
            TaskKind::ResetAttempts => "reset-attempts",
            TaskKind::DeleteState => "delete-state",
            TaskKind::OverrideScore => "override-score",
        }
    }

    /// Parses an Open edX `task_type` only.
    pub fn from_task_type(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.task_type() == s)
    }

    /// Parses a CLI name only.
    pub fn from_cli_name(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.cli_name() == s)
    }

    /// True for the two rescore kinds (the ones that need a compiled problem).
    pub const fn is_rescore(self) -> bool {
        matches!(self, TaskKind::Rescore | TaskKind::RescoreIfHigher)
    }
}

/// The error of parsing an unknown task kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown task kind {0:?} (expected one of rescore, rescore-if-higher, reset-attempts, delete-state, override-score or an Open edX task_type)"
)]
pub struct UnknownTaskKind(pub String);

impl FromStr for TaskKind {
    type Err = UnknownTaskKind;

    /// Accepts both the Open edX `task_type` and the CLI name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskKind::from_task_type(s)
            .or_else(|| TaskKind::from_cli_name(s))
            .ok_or_else(|| UnknownTaskKind(s.to_owned()))
    }
}

impl fmt::Display for TaskKind {
    /// Displays the stored `task_type`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.task_type())
    }
}

impl Serialize for TaskKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.task_type())
    }
}

impl<'de> Deserialize<'de> for TaskKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A task's lifecycle state, in coursetasks' names.
///
/// Open edX uses `QUEUING`/`PENDING`/`SCHEDULED` for not-started and `PROGRESS` for running;
/// [`TaskState::from_str`] accepts those too, so stored LMS rows can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Submitted, not yet claimed by a worker.
    Queued,
    /// Claimed and working (Open edX `PROGRESS`).
    Running,
    /// Finished the scan.
    Success,
    /// Ended by a task-fatal error.
    Failure,
    /// Cancelled.
    Revoked,
}

impl TaskState {
    /// The stored name (`QUEUED`, `RUNNING`, `SUCCESS`, `FAILURE`, `REVOKED`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "QUEUED",
            TaskState::Running => "RUNNING",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Revoked => "REVOKED",
        }
    }

    /// Celery's "ready" states: the task will not change any more (ends dedup).
    pub const fn is_ready(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Revoked
        )
    }
}

impl FromStr for TaskState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "QUEUED" | "QUEUING" | "PENDING" | "SCHEDULED" | "RETRY" => TaskState::Queued,
            "RUNNING" | "PROGRESS" | "STARTED" => TaskState::Running,
            "SUCCESS" => TaskState::Success,
            "FAILURE" => TaskState::Failure,
            "REVOKED" => TaskState::Revoked,
            other => return Err(format!("unknown task state {other:?}")),
        })
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TaskState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let expected = [
            (TaskKind::Rescore, "rescore_problem", "rescore", "rescored"),
            (
                TaskKind::RescoreIfHigher,
                "rescore_problem_if_higher",
                "rescore-if-higher",
                "rescored",
            ),
            (
                TaskKind::ResetAttempts,
                "reset_problem_attempts",
                "reset-attempts",
                "reset",
            ),
            (
                TaskKind::DeleteState,
                "delete_problem_state",
                "delete-state",
                "deleted",
            ),
            (
                TaskKind::OverrideScore,
                "override_problem_score",
                "override-score",
                "overridden",
            ),
        ];
        for (kind, stored, cli, action) in expected {
            assert_eq!(kind.task_type(), stored);
            assert_eq!(kind.cli_name(), cli);
            assert_eq!(kind.action_name(), action);
            assert_eq!(stored.parse::<TaskKind>().unwrap(), kind);
            assert_eq!(cli.parse::<TaskKind>().unwrap(), kind);
            assert_eq!(kind.to_string(), stored);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{stored}\"")
            );
            assert_eq!(
                serde_json::from_str::<TaskKind>(&format!("\"{cli}\"")).unwrap(),
                kind
            );
        }
        assert!("rescore_all".parse::<TaskKind>().is_err());
        assert!(TaskKind::from_cli_name("rescore_problem").is_none());
    }

    #[test]
    fn states_accept_open_edx_names() {
        assert_eq!("PROGRESS".parse::<TaskState>().unwrap(), TaskState::Running);
        assert_eq!("QUEUING".parse::<TaskState>().unwrap(), TaskState::Queued);
        assert_eq!("REVOKED".parse::<TaskState>().unwrap(), TaskState::Revoked);
        assert!("DONE".parse::<TaskState>().is_err());
        assert!(TaskState::Failure.is_ready());
        assert!(!TaskState::Running.is_ready());
        assert_eq!(TaskState::Running.to_string(), "RUNNING");
    }
}
