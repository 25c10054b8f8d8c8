//! The driver interface that every database implementation provides.

use crate::error::{StoreError, SubmitError};
use crate::model::*;
use async_trait::async_trait;
use std::time::Duration;
use uuid::Uuid;

/// One storage driver. [`crate::Store`] holds an `Arc<dyn Backend>` and derefs to it, so callers
/// write `store.claim_task(..)` whatever the database is.
///
/// The drivers are concrete implementations rather than code generic over `sqlx::Database`:
/// the SQL differs at exactly the concurrency points, and generic sqlx code drowns in executor
/// bounds.
///
/// # Concurrency points and how each driver implements them
///
/// | point | SQLite | PostgreSQL |
/// |---|---|---|
/// | writers | every write transaction starts with `BEGIN IMMEDIATE`, so it takes the single write lock up front and never fails half-way with `SQLITE_BUSY_SNAPSHOT`; writers of one process first queue on an async mutex (first come, first served), so only writers of other processes wait in SQLite's busy handler (up to `busy_timeout`) | ordinary `READ COMMITTED` transactions; row locks taken by the `UPDATE`s below |
/// | dedup | partial unique index `tasks_active_dedup (course_key, task_type, task_key) WHERE state IN ('QUEUED','RUNNING')`; insert with `ON CONFLICT … DO NOTHING`, then read the blocking task | the same index and statement; if the blocking task finished between the conflict and the read, retry the insert |
/// | claim | planning: one `UPDATE tasks … WHERE id = (SELECT … ORDER BY created_at LIMIT 1) RETURNING *` inside `BEGIN IMMEDIATE`; subtasks: the same on `subtasks` ordered by (task, index); writers are serialized, so two claimers cannot pick the same row | the same statements with `FOR UPDATE SKIP LOCKED` in the sub-select, so concurrent claimers skip each other's rows instead of queueing; `now()` from the server instead of a bound time to avoid clock skew between hosts |
/// | fencing | `commit_chunk`, `renew_subtask_lease` and `finish_subtask` first check the subtask's `lease_owner`, `state = 'RUNNING'` and (commit) `cursor = expected_cursor`; `split_task`, `renew_lease` and `finish_task` check the task's planning lease; no row → `LeaseLost` and the transaction is rolled back | identical; the fencing `UPDATE` also row-locks the subtask, so a reclaim waits for an in-flight commit and then sees the renewed lease |
/// | task counters | `commit_chunk` adds the chunk's deltas to the subtask and to the task in the same transaction, so the task's counters are always the exact sum of its subtasks' | the same; the task row is updated last, so concurrent commits of sibling subtasks hold its row lock only until their commit. Every transaction that touches both locks the subtask first, then the task: no lock-order deadlock |
/// | batched writes | one prepared statement per kind of row, bound and stepped row by row through SQLite's own API on the pooled connection's handle (rusqlite over the same `libsqlite3-sys`), inside the sqlx transaction: no per-statement hand-off to sqlx's connection thread, no JSON encoding of the rows | `unnest` of typed array parameters (`$1::bigint[]`, `$2::text[]`, …) in the same statements, which needs no escaping at all |
/// | module scan | keyset page on `(course_key, usage_key, id)`; several usage keys → `UNION ALL` of per-key pages, merged and cut to the page size | same, or `LATERAL` per key |
/// | wake-ups | a process-local `Notify` (other processes poll) | `pg_notify` in the submitting/splitting transaction, a `PgListener` in every worker |
///
/// # Tasks and subtasks
///
/// A task is *planned* once (claim, resolve, count, cut into key ranges by
/// [`Backend::module_split_points`], [`Backend::split_task`]) and then *run* as subtasks, each a
/// key range of learner modules with its own lease, cursor and counters, so that any number of
/// workers share one big task. A worker that dies loses only its lease: another one claims the
/// subtask when the lease expires and continues after the last committed chunk.
///
/// Worker names are the lease identity: they must be unique per process incarnation (e.g.
/// host, pid and a random suffix), otherwise a restarted worker could pass the fence of its
/// dead predecessor's lease.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend_name(&self) -> &'static str;

    // ----- catalog -------------------------------------------------------------------------

    /// Inserts the course or updates its display name (the creation time is kept).
    async fn upsert_course(&self, course: &CourseRecord) -> Result<(), StoreError>;
    /// The course with this key.
    async fn get_course(&self, key: &str) -> Result<Option<CourseRecord>, StoreError>;
    /// All courses, by key.
    async fn list_courses(&self) -> Result<Vec<CourseRecord>, StoreError>;
    /// Inserts or updates blocks (keyed by usage key) in one transaction. Returns the count.
    async fn upsert_blocks(&self, blocks: &[BlockRecord]) -> Result<u64, StoreError>;
    /// The block with this usage key or legacy (`i4x://`) key.
    async fn get_block(&self, key: &str) -> Result<Option<BlockRecord>, StoreError>;
    /// Blocks of a course in tree order (pre-order, siblings by position). Blocks whose parent
    /// is not stored are treated as roots.
    async fn list_blocks(&self, course_key: &str) -> Result<Vec<BlockRecord>, StoreError>;
    /// Blocks below `usage_key` (either form; the block itself excluded) in tree order,
    /// optionally only those of one type (e.g. every `problem` under a subsection).
    async fn descendants(
        &self,
        usage_key: &str,
        block_type: Option<&str>,
    ) -> Result<Vec<BlockRecord>, StoreError>;
    /// Stores the XML as a new version unless the latest version has the same hash, in which
    /// case the latest is returned with `created == false`. The block must exist.
    async fn put_problem_version(
        &self,
        usage_key: &str,
        xml: &str,
        content_hash: &str,
    ) -> Result<ProblemVersionRecord, StoreError>;
    /// The latest version of a problem (usage key in either form).
    async fn current_problem_version(
        &self,
        usage_key: &str,
    ) -> Result<Option<ProblemVersionRecord>, StoreError>;
    /// One version of a problem.
    async fn problem_version(
        &self,
        usage_key: &str,
        version: i64,
    ) -> Result<Option<ProblemVersionRecord>, StoreError>;
    /// Every version of a problem, oldest first.
    async fn list_problem_versions(
        &self,
        usage_key: &str,
    ) -> Result<Vec<ProblemVersionRecord>, StoreError>;
    /// Course, blocks and problem versions in one transaction: on any error nothing is stored.
    async fn import_course_atomically(
        &self,
        course: &CourseRecord,
        blocks: &[BlockRecord],
        versions: &[NewProblemVersion],
    ) -> Result<ImportReport, StoreError>;

    // ----- learners ------------------------------------------------------------------------

    /// Inserts learners or updates the ones with the same id, in one transaction. A username
    /// or email that belongs to another id is a [`StoreError::Conflict`] and nothing is
    /// written. Returns the number of records written.
    async fn upsert_learners(&self, learners: &[LearnerRecord]) -> Result<u64, StoreError>;
    /// Creates a learner with the next free id.
    async fn create_learner(
        &self,
        username: &str,
        email: &str,
    ) -> Result<LearnerRecord, StoreError>;
    /// Looks a learner up by email (if the identifier contains `@`) or username.
    async fn find_learner(&self, identifier: &str) -> Result<Option<LearnerRecord>, StoreError>;
    /// The learner with this id.
    async fn get_learner(&self, id: i64) -> Result<Option<LearnerRecord>, StoreError>;
    /// Number of learners.
    async fn count_learners(&self) -> Result<u64, StoreError>;
    /// A keyset page of learners in id order: `id > after_id`, at most `limit`.
    async fn list_learners(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<LearnerRecord>, StoreError>;
    /// Read-only check before an import: the learners whose username or email belongs to a
    /// stored learner with another id (each such clash once per column), by index.
    async fn check_learners(
        &self,
        learners: &[LearnerRecord],
    ) -> Result<Vec<LearnerConflict>, StoreError>;

    // ----- learner modules ------------------------------------------------------------------

    /// Bulk insert (one transaction for the whole slice, multi-row statements). A module that
    /// already exists for (learner, usage key, course) or an unknown learner is a
    /// [`StoreError::Conflict`] and nothing is written. Returns the number inserted.
    async fn insert_modules(&self, modules: &[NewModule]) -> Result<u64, StoreError>;
    /// Inserts or replaces modules keyed by (learner, usage key, course); `id` and `username`
    /// of the records are ignored, every other field is written as given.
    async fn upsert_modules(&self, modules: &[ModuleRecord]) -> Result<u64, StoreError>;
    /// Number of modules in scope.
    async fn count_modules(&self, scope: &ModuleScope) -> Result<u64, StoreError>;
    /// The next page of modules in scope: `id > after_id`, ascending id, at most `limit`.
    async fn fetch_modules(
        &self,
        scope: &ModuleScope,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<ModuleRecord>, StoreError>;
    /// Writes modules exported from Open edX, keeping their ids, in one transaction. A module is
    /// keyed by (learner, usage key, course) as in `upsert_modules`; a new one takes the given
    /// `id` (0: the store assigns one), an existing one keeps its id and has every other field
    /// replaced (`username` is ignored). Modules of unknown learners, and modules whose id
    /// belongs to a stored module of another (learner, usage key, course), are not written and
    /// come back in [`ModuleImport::rejected`]; the others are.
    async fn import_modules(&self, modules: &[ModuleRecord]) -> Result<ModuleImport, StoreError>;
    /// Read-only check: the modules `import_modules` would reject now, by index.
    async fn check_modules(
        &self,
        modules: &[ModuleRecord],
    ) -> Result<Vec<(usize, ModuleRejection)>, StoreError>;
    /// One learner's module for a block (usage key in either form).
    async fn get_module(
        &self,
        learner_id: i64,
        course_key: &str,
        usage_key: &str,
    ) -> Result<Option<ModuleRecord>, StoreError>;

    // ----- tasks --------------------------------------------------------------------------

    /// Queues a task unless an identical one (same course, type and key) is queued or running.
    async fn submit_task(&self, task: &NewTask) -> Result<TaskRecord, SubmitError>;
    /// The task with this id.
    async fn get_task(&self, id: Uuid) -> Result<Option<TaskRecord>, StoreError>;
    /// Tasks matching the filter, newest first.
    async fn list_tasks(&self, filter: &TaskFilter) -> Result<Vec<TaskRecord>, StoreError>;
    /// Takes the oldest task to plan: QUEUED, or RUNNING, not yet split, with an expired planning
    /// lease (its planner died). Sets RUNNING, the planning lease, `started_at` (first time) and
    /// `attempts + 1`. Expired unsplit tasks whose cancel was requested are revoked on the way
    /// instead of being handed out. Two claimers never get the same task.
    async fn claim_task(
        &self,
        worker: &str,
        lease: Duration,
    ) -> Result<Option<TaskRecord>, StoreError>;
    /// Extends the planning lease if `worker` still holds it.
    async fn renew_lease(
        &self,
        task_id: Uuid,
        worker: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, StoreError>;
    /// The ids that cut the modules of `scope` into ranges of `every` modules, in id order: the
    /// id of the `every`-th, `2·every`-th, ... module, never the last module's (so every range
    /// is non-empty and the last one is open-ended). Empty when there are `every` or fewer.
    async fn module_split_points(
        &self,
        scope: &ModuleScope,
        every: u64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Ends planning (fenced by the planning lease): records the total and creates one QUEUED
    /// subtask per range — `(0, points[0]]`, `(points[0], points[1]]`, ..., `(points[n-1],
    /// i64::MAX]` — drops the planning lease and wakes waiting workers. Returns the task.
    async fn split_task(
        &self,
        task_id: Uuid,
        worker: &str,
        total: u64,
        points: &[i64],
    ) -> Result<TaskRecord, StoreError>;
    /// Takes a subtask to run: the lowest QUEUED one, or a RUNNING one whose lease expired or is
    /// held by `worker` itself (it resumes after its cursor), of the oldest RUNNING task — of
    /// `task_id` only when given.
    /// Subtasks of a task that must stop (cancel requested, or a sibling failed) are revoked on
    /// the way instead, and the task is finished when that was its last live subtask. Two
    /// claimers never get the same subtask; on PostgreSQL they skip each other's rows.
    async fn claim_subtask(
        &self,
        worker: &str,
        lease: Duration,
        task_id: Option<Uuid>,
    ) -> Result<Option<SubtaskClaim>, StoreError>;
    /// Extends a subtask's lease if `worker` still holds it.
    async fn renew_subtask_lease(
        &self,
        task_id: Uuid,
        subtask: u32,
        worker: &str,
        lease: Duration,
    ) -> Result<LeaseStatus, StoreError>;
    /// Applies one chunk of a subtask atomically: fence (lease owner, RUNNING, and the stored
    /// cursor equal to `expected_cursor`), module changes, outcomes, events, the subtask's and
    /// the task's counters, the subtask's cursor and its lease renewal (by its last lease
    /// length). On [`StoreError::LeaseLost`] nothing was written. A chunk that names a module
    /// outside `(expected_cursor, new_cursor]`, or two outcomes for one module, passes the
    /// fence but is refused as [`StoreError::Invalid`], and nothing is written either.
    async fn commit_chunk(&self, chunk: &ChunkCommit) -> Result<ChunkAck, StoreError>;
    /// Ends a subtask the caller holds (fenced like `commit_chunk`). A failure records its error
    /// on the task (first failure wins), revokes the task's queued subtasks and makes the
    /// running ones stop. When no subtask is left QUEUED or RUNNING, the task ends in the same
    /// transaction: FAILURE if a subtask failed, REVOKED if it was cancelled, SUCCESS otherwise.
    /// Returns the task as it is after.
    async fn finish_subtask(
        &self,
        task_id: Uuid,
        subtask: u32,
        worker: &str,
        final_state: FinalState,
    ) -> Result<TaskRecord, StoreError>;
    /// The task's subtasks in index order.
    async fn list_subtasks(&self, task_id: Uuid) -> Result<Vec<SubtaskRecord>, StoreError>;
    /// Ends a task during planning, before it was split (fenced by the planning lease).
    async fn finish_task(
        &self,
        task_id: Uuid,
        worker: &str,
        final_state: FinalState,
    ) -> Result<TaskRecord, StoreError>;
    /// Cancels a queued task at once, or flags a running one: its queued subtasks are revoked at
    /// once, its running ones stop at their next chunk; the task ends REVOKED when the last one
    /// has stopped.
    async fn request_cancel(&self, task_id: Uuid) -> Result<CancelOutcome, StoreError>;
    /// Operator action: marks a queued or running task and its unfinished subtasks FAILURE with
    /// `{"message": reason}` and drops their leases (their workers get `LeaseLost` at their
    /// next write).
    /// [`StoreError::TaskFinished`] if it already ended.
    async fn fail_task(&self, task_id: Uuid, reason: &str) -> Result<TaskRecord, StoreError>;

    // ----- outcomes and events ----------------------------------------------------------------

    /// A keyset page of a task's outcomes in id order.
    async fn list_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<OutcomeRecord>, StoreError>;
    /// Number of a task's outcomes, optionally of one status.
    async fn count_outcomes(
        &self,
        task_id: Uuid,
        status: Option<OutcomeStatus>,
    ) -> Result<u64, StoreError>;
    /// Records events outside a chunk (e.g. a single-learner operation). Returns the count.
    async fn insert_events(&self, events: &[NewEvent]) -> Result<u64, StoreError>;
    /// A keyset page of events in id order.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<EventRecord>, StoreError>;
    /// Number of events of a task.
    async fn count_events(&self, task_id: Uuid) -> Result<u64, StoreError>;

    // ----- API tokens ---------------------------------------------------------------------

    /// Stores a token (only the hash of its secret). A hash that is already stored is a
    /// [`StoreError::Conflict`]; an empty user or hash is [`StoreError::Invalid`].
    async fn create_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError>;
    /// The token with this hash, unless it was revoked: a revoked or unknown hash is `None`, so
    /// a caller cannot accept a revoked token by forgetting to check.
    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    /// Revokes a token; revoking it again keeps the first revocation time. Returns the token
    /// as it is after; an unknown id is [`StoreError::NotFound`].
    async fn revoke_token(&self, id: i64) -> Result<TokenRecord, StoreError>;
    /// Every token, revoked ones included, by id.
    async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    // ----- workers ------------------------------------------------------------------------

    /// Records a worker's heartbeat (creating its entry on the first one).
    async fn record_worker(&self, heartbeat: &WorkerHeartbeat) -> Result<(), StoreError>;
    /// Removes a worker's entry (clean shutdown).
    async fn remove_worker(&self, name: &str) -> Result<(), StoreError>;
    /// Registered workers, most recent heartbeat first. Entries whose last heartbeat is older
    /// than `forget_after` are deleted on the way (workers that died without saying so).
    async fn list_workers(&self, forget_after: Duration) -> Result<Vec<WorkerRecord>, StoreError>;
    /// Waits until new work may be available (a task was submitted or split, or a task was
    /// cancelled) or `timeout` passes, whichever is first; returns at once when queued work is
    /// already there. Spurious wake-ups are allowed: callers claim and wait again. SQLite wakes
    /// waiters of the same process and relies on the timeout across processes; PostgreSQL uses
    /// LISTEN/NOTIFY across hosts.
    async fn wait_for_work(&self, timeout: Duration) -> Result<(), StoreError>;
}
