//! Plain records stored and returned by the store.
//!
//! They carry no behaviour beyond small conversions: the store does not know what a rescore
//! is, it only keeps the rows that the task engine reads and writes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A course (`course-v1:Org+Course+Run`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseRecord {
    /// Course key, `course-v1:Org+Course+Run`.
    pub key: String,
    /// Human-readable name.
    pub display_name: String,
    /// When the course was first stored. Kept on later upserts.
    pub created: DateTime<Utc>,
}

/// One block of a course tree (chapter, sequential, vertical, problem, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockRecord {
    /// `block-v1:Org+Course+Run+type@problem+block@name`.
    pub usage_key: String,
    /// Course the block belongs to.
    pub course_key: String,
    /// Block type (`problem`, `vertical`, `sequential`, `chapter`, `course`, ...).
    pub block_type: String,
    /// Parent block's usage key; `None` for the root.
    pub parent_key: Option<String>,
    /// Human-readable name.
    pub display_name: String,
    /// Order among siblings (0-based).
    pub position: i64,
    /// Effective (inherited) settings: weight, max_attempts, graded, format, showanswer,
    /// rerandomize, ... as a JSON object.
    pub settings: serde_json::Value,
    /// Old-style `i4x://Org/Course/problem/name` key, when the course has one. Lookups accept
    /// either form.
    pub legacy_key: Option<String>,
}

/// One stored version of a problem's XML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProblemVersionRecord {
    /// The problem block.
    pub usage_key: String,
    /// 1 for the first stored XML, +1 for each change of content.
    pub version: i64,
    /// The problem XML as imported.
    pub xml: String,
    /// Hash of the content, chosen by the caller; a new version is stored only when it differs
    /// from the latest version's hash.
    pub content_hash: String,
    /// When this version was stored.
    pub created_at: DateTime<Utc>,
    /// `true` only in the value returned by a `put_problem_version` call that stored this
    /// version; `false` when the content was unchanged and for every read.
    pub created: bool,
}

/// Problem XML to store during a course import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewProblemVersion {
    /// The problem block (must be among the imported blocks or already stored).
    pub usage_key: String,
    /// The problem XML.
    pub xml: String,
    /// Hash of the content.
    pub content_hash: String,
}

/// What an atomic course import stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// `true` if the course did not exist before.
    pub course_created: bool,
    /// Blocks inserted or updated.
    pub blocks: u64,
    /// Blocks of the course that are stored but were not in this import (left in place).
    pub stale_blocks: u64,
    /// Problem versions created because the content changed (or was new).
    pub versions_created: u64,
    /// Problems whose content was unchanged.
    pub versions_unchanged: u64,
}

/// A learner (Open edX `auth_user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerRecord {
    /// `auth_user.id`.
    pub id: i64,
    /// Unique username.
    pub username: String,
    /// Unique email address.
    pub email: String,
}

/// A learner module to create (Open edX `courseware_studentmodule`). Timestamps are set to the
/// time of insertion and `done` to `na`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewModule {
    /// The learner.
    pub learner_id: i64,
    /// The course.
    pub course_key: String,
    /// The block the state belongs to.
    pub usage_key: String,
    /// Block type, e.g. `problem`.
    pub module_type: String,
    /// The block's user state as JSON text (may be absent or not even valid JSON, as in Open
    /// edX).
    pub state: Option<String>,
    /// Raw earned score.
    pub grade: Option<f64>,
    /// Raw possible score.
    pub max_grade: Option<f64>,
}

/// A stored learner module, joined with the learner's username.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Row id; increases with insertion order and is never reused, so it is the keyset cursor
    /// of task scans.
    pub id: i64,
    /// The learner.
    pub learner_id: i64,
    /// The learner's username (joined; ignored by `upsert_modules`).
    pub username: String,
    /// The course.
    pub course_key: String,
    /// The block.
    pub usage_key: String,
    /// Block type.
    pub module_type: String,
    /// User state JSON text.
    pub state: Option<String>,
    /// Raw earned score.
    pub grade: Option<f64>,
    /// Raw possible score.
    pub max_grade: Option<f64>,
    /// Legacy `done` column (`na`, `f`, `i`).
    pub done: String,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last modification time.
    pub modified: DateTime<Utc>,
}

/// Which learner modules a task works on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleScope {
    /// The course.
    pub course_key: String,
    /// Blocks whose modules are selected, in either key form. **Empty means every module of
    /// the course.**
    pub usage_keys: Vec<String>,
    /// Only this learner's modules, when set.
    pub learner_id: Option<i64>,
    /// Only modules with `id <= until_id`, when set: the upper end of a subtask's key range.
    pub until_id: Option<i64>,
}

/// A change to an existing module, applied by `commit_chunk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleUpdate {
    /// Module row id.
    pub id: i64,
    /// New user state JSON text.
    pub state: Option<String>,
    /// New raw earned score.
    pub grade: Option<f64>,
    /// New raw possible score.
    pub max_grade: Option<f64>,
    /// Modification time to record.
    pub modified: DateTime<Utc>,
}

/// Lifecycle of a task. Open edX's QUEUING/PROGRESS are QUEUED/RUNNING here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker that holds a lease.
    Running,
    /// Finished; per-learner failures may still have been counted.
    Success,
    /// The task as a whole failed (or was force-failed by an operator).
    Failure,
    /// Cancelled.
    Revoked,
}

impl TaskState {
    /// All states, in lifecycle order.
    pub const ALL: [TaskState; 5] = [
        TaskState::Queued,
        TaskState::Running,
        TaskState::Success,
        TaskState::Failure,
        TaskState::Revoked,
    ];

    /// The stored spelling (`QUEUED`, `RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "QUEUED",
            TaskState::Running => "RUNNING",
            TaskState::Success => "SUCCESS",
            TaskState::Failure => "FAILURE",
            TaskState::Revoked => "REVOKED",
        }
    }

    /// Final state: the task no longer blocks an identical submission.
    pub fn is_ready(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failure | TaskState::Revoked
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`TaskState::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state {0:?} (expected QUEUED, RUNNING, SUCCESS, FAILURE or REVOKED)")]
pub struct ParseTaskStateError(pub String);

impl FromStr for TaskState {
    type Err = ParseTaskStateError;

    /// Accepts any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseTaskStateError(s.to_string()))
    }
}

/// A task to submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// Chosen by the caller (UUID v4 or v7) so that it is known before the row exists.
    pub id: Uuid,
    /// The course.
    pub course_key: String,
    /// Task type (`rescore_problem`, `reset_problem_attempts`, ...).
    pub task_type: String,
    /// Dedup key within (course, type); Open edX uses an MD5 of the target or `""`.
    pub task_key: String,
    /// Task input as JSON.
    pub input: serde_json::Value,
    /// Username of the instructor who asked for it.
    pub requester: String,
}

/// Progress counters of a task (same meaning as Open edX's `task_output`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Modules looked at.
    pub attempted: u64,
    /// Modules changed.
    pub succeeded: u64,
    /// Modules left alone on purpose.
    pub skipped: u64,
    /// Modules where the operation failed.
    pub failed: u64,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task id.
    pub id: Uuid,
    /// The course.
    pub course_key: String,
    /// Task type.
    pub task_type: String,
    /// Dedup key.
    pub task_key: String,
    /// Task input.
    pub input: serde_json::Value,
    /// Instructor username.
    pub requester: String,
    /// Current state.
    pub state: TaskState,
    /// Submission time.
    pub created_at: DateTime<Utc>,
    /// First claim.
    pub started_at: Option<DateTime<Utc>>,
    /// Last change of any kind (progress, lease renewal, state).
    pub updated_at: DateTime<Utc>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Number of modules in scope, once counted.
    pub total: Option<u64>,
    /// Modules looked at so far.
    pub attempted: u64,
    /// Modules changed so far.
    pub succeeded: u64,
    /// Modules skipped so far.
    pub skipped: u64,
    /// Modules failed so far.
    pub failed: u64,
    /// Number of subtasks (key ranges) the task was split into; 0 until a worker planned it.
    /// The counters above are always the exact sum of the subtasks' counters.
    pub subtasks: u32,
    /// Someone asked to cancel; running subtasks stop at their next chunk.
    pub cancel_requested: bool,
    /// Worker holding the planning lease (while RUNNING and not yet split). Once split, leases
    /// are held per subtask.
    pub lease_owner: Option<String>,
    /// Planning lease end; after it another worker may plan the task again.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Times the task was claimed for planning (> 1 means planning was recovered after a
    /// crash).
    pub attempts: u32,
    /// Failure details (JSON) for FAILURE; set as soon as one subtask fails, which makes the
    /// other subtasks stop.
    pub error: Option<serde_json::Value>,
}

impl TaskRecord {
    /// The progress counters.
    pub fn counts(&self) -> Counts {
        Counts {
            attempted: self.attempted,
            succeeded: self.succeeded,
            skipped: self.skipped,
            failed: self.failed,
        }
    }
}

/// Filter for `list_tasks`; the default lists everything, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFilter {
    /// Only this course.
    pub course_key: Option<String>,
    /// Only these states (empty: any).
    pub states: Vec<TaskState>,
    /// Only this task type.
    pub task_type: Option<String>,
    /// Only this dedup key.
    pub task_key: Option<String>,
    /// Only tasks of this requester.
    pub requester: Option<String>,
    /// Only tasks for this one learner (the `student` username of the task input): a learner's
    /// history across problems.
    pub student: Option<String>,
    /// At most this many (none: all).
    pub limit: Option<u32>,
}

/// Result of a lease renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaseStatus {
    /// The lease was extended.
    Held {
        /// The work should stop at its next chunk boundary: someone asked to cancel the task,
        /// or another subtask of it failed.
        stop_requested: bool,
    },
    /// The caller no longer holds the task; it must stop without writing.
    Lost,
}

/// Outcome of one learner module in a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeStatus {
    /// The module was changed.
    Succeeded,
    /// The module was left alone on purpose (reason says why).
    Skipped,
    /// The operation failed for this module (reason says why).
    Failed,
}

impl OutcomeStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Succeeded => "succeeded",
            OutcomeStatus::Skipped => "skipped",
            OutcomeStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for OutcomeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutcomeStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "succeeded" => Ok(OutcomeStatus::Succeeded),
            "skipped" => Ok(OutcomeStatus::Skipped),
            "failed" => Ok(OutcomeStatus::Failed),
            other => Err(format!("unknown outcome status {other:?}")),
        }
    }
}

/// Per-module outcome to record with a chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOutcome {
    /// The module. `None` for a module inserted by the same chunk (override of a learner with
    /// no state): the store then resolves it by (learner, course, usage key) after the insert.
    pub module_id: Option<i64>,
    /// The learner.
    pub learner_id: i64,
    /// The learner's username.
    pub username: String,
    /// The block.
    pub usage_key: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// Why it was skipped or failed (or a note on success).
    pub reason: Option<String>,
    /// Grade before.
    pub old_grade: Option<f64>,
    /// Max grade before.
    pub old_max_grade: Option<f64>,
    /// Grade after.
    pub new_grade: Option<f64>,
    /// Max grade after.
    pub new_max_grade: Option<f64>,
}

/// A stored per-module outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// Row id (insertion order).
    pub id: i64,
    /// The task.
    pub task_id: Uuid,
    /// The module (absent only if it could not be resolved).
    pub module_id: Option<i64>,
    /// The learner.
    pub learner_id: i64,
    /// The learner's username.
    pub username: String,
    /// The block.
    pub usage_key: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// Why.
    pub reason: Option<String>,
    /// Grade before.
    pub old_grade: Option<f64>,
    /// Max grade before.
    pub old_max_grade: Option<f64>,
    /// Grade after.
    pub new_grade: Option<f64>,
    /// Max grade after.
    pub new_max_grade: Option<f64>,
    /// When it was recorded.
    pub created: DateTime<Utc>,
}

/// A tracking event to record (Open edX `eventtracking` shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The task that emitted it; in `commit_chunk`, `None` means the committing task.
    pub task_id: Option<Uuid>,
    /// E.g. `edx.grades.problem.rescored`.
    pub event_type: String,
    /// Event time.
    pub time: DateTime<Utc>,
    /// The learner's username.
    pub username: String,
    /// The learner's id.
    pub user_id: i64,
    /// The course.
    pub course_key: String,
    /// The block, if any.
    pub usage_key: Option<String>,
    /// Instructor who caused it.
    pub requester: String,
    /// The `event` body as JSON object text. Text, not a parsed value: the engine writes payloads
    /// (which embed the learner's whole previous state) straight from the grading result, and
    /// parsing them only to serialize them again cost more than everything else in a chunk.
    pub payload: String,
}

/// A stored tracking event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Row id (insertion order).
    pub id: i64,
    /// The task that emitted it.
    pub task_id: Option<Uuid>,
    /// Event type.
    pub event_type: String,
    /// Event time.
    pub time: DateTime<Utc>,
    /// The learner's username.
    pub username: String,
    /// The learner's id.
    pub user_id: i64,
    /// The course.
    pub course_key: String,
    /// The block, if any.
    pub usage_key: Option<String>,
    /// Instructor who caused it.
    pub requester: String,
    /// The `event` body.
    pub payload: serde_json::Value,
}

/// Filter for `list_events`, a keyset page in id order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Only events of this task.
    pub task_id: Option<Uuid>,
    /// Only events of this course.
    pub course_key: Option<String>,
    /// Only events with `id > after_id`.
    pub after_id: i64,
    /// Page size.
    pub limit: u32,
}

/// Everything one chunk of a task changes, committed atomically with the cursor and the
/// counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkCommit {
    /// The task.
    pub task_id: Uuid,
    /// The subtask (index within the task) whose lease the worker holds.
    pub subtask: u32,
    /// The worker that holds the lease.
    pub worker: String,
    /// The subtask's cursor this chunk continues from. A commit whose predecessor is not the
    /// stored cursor is refused as [`crate::StoreError::LeaseLost`]: it would apply a chunk
    /// twice or skip one.
    pub expected_cursor: i64,
    /// Id of the last module covered by this chunk.
    pub new_cursor: i64,
    /// Counter increments.
    pub deltas: Counts,
    /// Changes to existing modules.
    pub module_updates: Vec<ModuleUpdate>,
    /// Modules to create (or overwrite if one appeared meanwhile).
    pub module_inserts: Vec<NewModule>,
    /// Module ids to delete.
    pub module_deletes: Vec<i64>,
    /// Per-module outcomes, in module order (ids strictly increasing), at most one per module.
    pub outcomes: Vec<NewOutcome>,
    /// Tracking events.
    pub events: Vec<NewEvent>,
}

/// Reply to a successful `commit_chunk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkAck {
    /// Stop and finish the subtask as REVOKED: someone asked to cancel the task, or another
    /// subtask of it failed.
    pub stop_requested: bool,
    /// The task's counters after the commit (all subtasks together).
    pub counts: Counts,
    /// The task's total, if counted.
    pub total: Option<u64>,
    /// The subtask's cursor now stored.
    pub cursor: i64,
}

/// One key range of a task's learner modules, run under its own lease. Subtasks let several
/// workers (on several hosts) share one big task; each commits its chunks with its own cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskRecord {
    /// The task it belongs to.
    pub task_id: Uuid,
    /// Position within the task, from 0, in key order.
    pub index: u32,
    /// Modules with `id > after_id` ...
    pub after_id: i64,
    /// ... and `id <= until_id` (`i64::MAX` for the last range, which also takes modules
    /// created after the split).
    pub until_id: i64,
    /// QUEUED, RUNNING (leased), SUCCESS, FAILURE or REVOKED.
    pub state: TaskState,
    /// Id of the last module committed; starts at `after_id`.
    pub cursor: i64,
    /// This subtask's counters.
    pub counts: Counts,
    /// Worker holding the lease.
    pub lease_owner: Option<String>,
    /// Lease end; after it another worker may take the subtask over from its cursor.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Times it was claimed (> 1: recovered from a lost worker).
    pub attempts: u32,
    /// First claim.
    pub started_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Failure details for FAILURE.
    pub error: Option<serde_json::Value>,
}

/// A claimed subtask with its task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtaskClaim {
    /// The task (RUNNING, split).
    pub task: TaskRecord,
    /// The subtask, now RUNNING under the claimer's lease.
    pub subtask: SubtaskRecord,
}

/// What a worker process reports about itself at each heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerHeartbeat {
    /// The worker's lease identity.
    pub name: String,
    /// Host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// The subtask it is working on: (task, subtask index).
    pub current: Option<(Uuid, u32)>,
    /// Learner modules it has processed since it started.
    pub processed: u64,
}

/// A registered worker as last reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// The worker's lease identity.
    pub name: String,
    /// Host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat (store clock).
    pub last_heartbeat: DateTime<Utc>,
    /// The subtask it was working on at that heartbeat.
    pub current: Option<(Uuid, u32)>,
    /// Learner modules it had processed.
    pub processed: u64,
}

/// How a worker ends a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FinalState {
    /// Done (per-learner failures are in the counters and outcomes).
    Success,
    /// The task as a whole failed.
    Failure {
        /// Details (message, exception, ...).
        error: serde_json::Value,
    },
    /// Stopped on request.
    Revoked,
}

impl FinalState {
    /// The task state it leads to.
    pub fn state(&self) -> TaskState {
        match self {
            FinalState::Success => TaskState::Success,
            FinalState::Failure { .. } => TaskState::Failure,
            FinalState::Revoked => TaskState::Revoked,
        }
    }
}

/// Result of `request_cancel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CancelOutcome {
    /// The task was queued and is now REVOKED.
    Revoked(TaskRecord),
    /// The task is running; its worker stops at its next chunk or heartbeat.
    Requested(TaskRecord),
    /// The task had already finished; nothing changed.
    AlreadyFinished(TaskRecord),
}

impl CancelOutcome {
    /// The task as it is after the request.
    pub fn task(&self) -> &TaskRecord {
        match self {
            CancelOutcome::Revoked(t)
            | CancelOutcome::Requested(t)
            | CancelOutcome::AlreadyFinished(t) => t,
        }
    }
}

/// A learner of an import whose username or email belongs to another stored learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerConflict {
    /// Index of the learner in the checked slice.
    pub index: usize,
    /// `"username"` or `"email"`.
    pub column: String,
    /// The stored learner that has it.
    pub other_id: i64,
}

/// Why a module of an import was not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModuleRejection {
    /// No learner has the module's `learner_id`.
    UnknownLearner,
    /// The module's id belongs to a stored module of another learner, block or course.
    IdTaken {
        /// That module's learner.
        learner_id: i64,
        /// That module's block.
        usage_key: String,
        /// That module's course.
        course_key: String,
    },
}

/// What `import_modules` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleImport {
    /// Modules inserted or replaced.
    pub written: u64,
    /// Modules not written, by index in the given slice, with the reason.
    pub rejected: Vec<(usize, ModuleRejection)>,
}

/// What an API token allows, after Open edX's course roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, in every course the token may see.
    Admin,
    /// Course instructor: every task, for one learner or for all.
    Instructor,
    /// Course staff: tasks for one learner only (no override), and every read.
    Staff,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Admin, Role::Instructor, Role::Staff];

    /// The stored spelling (`admin`, `instructor`, `staff`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Instructor => "instructor",
            Role::Staff => "staff",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Role::from_str`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected admin, instructor or staff)")]
pub struct ParseRoleError(pub String);

impl FromStr for Role {
    type Err = ParseRoleError;

    /// Accepts any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseRoleError(s.to_string()))
    }
}

/// An API token to store. Only the hash of its secret is kept: whoever reads the database
/// cannot use the tokens in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// Who the token belongs to (recorded as the requester of the tasks it submits).
    pub user: String,
    /// What it allows.
    pub role: Role,
    /// The one course it may see and act on; `None`: every course.
    pub course_key: Option<String>,
    /// Hex SHA-256 of the secret (unique).
    pub hash: String,
}

/// A stored API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Row id, the handle for `revoke_token`.
    pub id: i64,
    /// Who it belongs to.
    pub user: String,
    /// What it allows.
    pub role: Role,
    /// The one course it may see and act on; `None`: every course.
    pub course_key: Option<String>,
    /// Hex SHA-256 of the secret.
    pub hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked token authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The check both drivers make before writing a chunk: it may touch only the modules it covers,
/// those with `expected_cursor < id <= new_cursor`, and record one outcome per module. With the
/// cursor fence this makes every learner's change happen once per subtask: a chunk cannot
/// continue the stored cursor and still name a module that an earlier chunk committed.
/// Outcomes without a module id (a module the chunk creates) are not checked.
pub(crate) fn check_chunk_covers_its_modules(chunk: &ChunkCommit) -> Result<(), crate::StoreError> {
    let covered = |id: i64| chunk.expected_cursor < id && id <= chunk.new_cursor;
    let invalid = |message: String| crate::StoreError::Invalid {
        context: "commit_chunk",
        message,
    };
    let touched = chunk
        .module_updates
        .iter()
        .map(|u| u.id)
        .chain(chunk.module_deletes.iter().copied());
    if let Some(id) = touched
        .chain(chunk.outcomes.iter().filter_map(|o| o.module_id))
        .find(|&id| !covered(id))
    {
        return Err(invalid(format!(
            "module {id} is outside the chunk's range ({}, {}]",
            chunk.expected_cursor, chunk.new_cursor
        )));
    }
    let mut last = None;
    for id in chunk.outcomes.iter().filter_map(|o| o.module_id) {
        if last.is_some_and(|previous| id <= previous) {
            return Err(invalid(format!(
                "outcomes are not in module order at module {id} (one outcome per module)"
            )));
        }
        last = Some(id);
    }
    Ok(())
}

/// The checks both drivers make before storing a token.
pub(crate) fn check_new_token(token: &NewToken) -> Result<(), crate::StoreError> {
    const C: &str = "create_token";
    if token.user.trim().is_empty() {
        return Err(crate::StoreError::Invalid {
            context: C,
            message: "the token's user must not be empty".into(),
        });
    }
    if token.hash.trim().is_empty() {
        return Err(crate::StoreError::Invalid {
            context: C,
            message: "the token's hash must not be empty".into(),
        });
    }
    Ok(())
}
