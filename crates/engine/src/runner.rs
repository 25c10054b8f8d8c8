//! The task runner. A task is *planned* once — claim it, resolve it, count its learner modules
//! and cut them into key ranges (subtasks) — and then *run* subtask by subtask by any number of
//! workers: claim a subtask, stream its modules in chunks, apply the operation and commit each
//! chunk atomically with its outcomes, events, counters and cursor.
//!
//! Within a subtask the loop is pipelined so that both cores work: while chunk *k* is being
//! applied (CPU, on a blocking thread), chunk *k+1* is already being fetched and chunk *k−1*
//! committed (database). Fetching needs only the last id of the previous chunk, so it never waits
//! for a commit; commits stay strictly in order, each naming the cursor it continues from.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use coursetasks_store::{
    ChunkAck, ChunkCommit, Counts, FinalState, LeaseStatus, ModuleRecord, NewEvent, NewModule,
    NewOutcome, OutcomeStatus, Store, StoreError, SubtaskClaim, SubtaskRecord, TaskRecord,
};
use coursetasks_tasks::{
    Change, ErrorKind, EventContext, ModuleInput, Operation, Outcome, TaskError, TaskInput,
    TaskKind,
};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::plan::{self, TaskPlan};
use crate::progress::ProgressSink;

/// How a worker runs tasks.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The lease identity; unique per process incarnation.
    pub name: String,
    /// Most learner modules per chunk (one transaction each).
    pub chunk_size: u32,
    /// The learner data a chunk should carry, in bytes: the states it reads plus the states
    /// and event payloads it writes. Chunks hold fewer than `chunk_size` modules when their
    /// modules are large, so that a worker's memory follows this budget rather than the size
    /// of a course's states (see [`ChunkSizer`]).
    pub chunk_bytes: usize,
    /// How long a claim lasts without a commit or heartbeat before another worker may take over.
    pub lease: Duration,
    /// Learner modules per subtask when this worker plans a task: the unit that several workers
    /// share and that a crash puts back in the queue.
    pub subtask_size: u64,
}

impl WorkerConfig {
    /// Defaults for a worker called `name`: chunks of at most 4,000 modules and about 7 MiB of
    /// learner data, subtasks of 50,000 modules (a few seconds of work), a 30-second lease.
    pub fn new(name: impl Into<String>) -> Self {
        WorkerConfig {
            name: name.into(),
            chunk_size: 4_000,
            chunk_bytes: 7 * 1024 * 1024,
            lease: Duration::from_secs(30),
            subtask_size: 50_000,
        }
    }

    /// A name unique to this process incarnation: host, process id and a random suffix, so that a
    /// restarted worker never passes the lease fence of its dead predecessor.
    pub fn unique_name(prefix: &str) -> String {
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        format!("{prefix}@{}:{}:{suffix}", host_name(), std::process::id())
    }
}

/// This machine's name, as workers report it.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

/// Errors that stop a worker (as opposed to errors that end a task, which are recorded on the task).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed outside any task's control (e.g. the database is unreachable).
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

impl WorkerError {
    /// Worth retrying after a pause (see [`StoreError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        match self {
            WorkerError::Store(e) => e.is_transient(),
        }
    }
}

/// What a worker is doing, for its heartbeat in the workers registry.
#[derive(Debug, Default)]
pub struct Activity {
    current: Mutex<Option<(Uuid, u32)>>,
    processed: AtomicU64,
}

impl Activity {
    /// The subtask being run: (task, index).
    pub fn current(&self) -> Option<(Uuid, u32)> {
        *self.current.lock().expect("activity lock")
    }

    /// Learner modules committed so far.
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    fn set_current(&self, current: Option<(Uuid, u32)>) {
        *self.current.lock().expect("activity lock") = current;
    }
}

/// A resolved task, kept while the worker runs its subtasks one after another.
struct Resolved {
    task_id: Uuid,
    plan: Arc<TaskPlan>,
    contexts: Arc<Vec<EventContext>>,
}

/// Runs tasks from a store.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    activity: Arc<Activity>,
    last_plan: Arc<Mutex<Option<Arc<Resolved>>>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .field("activity", &self.activity)
            .finish()
    }
}

/// The result of applying the operation to one chunk of modules.
struct AppliedChunk {
    commit: ChunkCommit,
    /// A task-fatal error met in this chunk; the commit covers the modules before it.
    fatal: Option<TaskError>,
    /// Bytes of learner data the chunk read and produced (see [`WorkerConfig::chunk_bytes`]).
    data_bytes: usize,
}

/// How many modules the next chunk asks for: as many as fit the worker's byte budget at the
/// size the last chunk's modules had, at most `chunk_size`.
///
/// Why: a chunk's memory is its learner data several times over (the states read, the new
/// states, the event payloads; each worker loop holds about three chunks between fetch and
/// commit). A fixed count sized for a rescore wasted most of a delete's or a reset's memory
/// (and every chunk pays a commit), and would let a course with 50 KB states take fifty times
/// the memory.
#[derive(Debug, Clone)]
pub(crate) struct ChunkSizer {
    max_modules: u32,
    budget: usize,
    /// How many times its data a module takes in memory while the chunk is in flight,
    /// relative to a delete's.
    weight: usize,
    next: u32,
}

impl ChunkSizer {
    /// What a module is assumed to carry before any chunk has been measured (times the
    /// kind's weight): a large capa state and its event.
    const ASSUMED_MODULE_BYTES: usize = 4096;
    /// Per-module memory beside its texts: the records' own fields and small strings.
    const MODULE_OVERHEAD_BYTES: usize = 256;

    /// Sizes the chunks of a `kind` task. Grading holds parsed answers, the grade and the
    /// new correctness map beside the texts: measured with `coursetasks bench`, a rescore
    /// worker's peak memory grew twice as fast per byte of chunk data as a delete's or a
    /// reset's, so a rescore's bytes count twice.
    pub(crate) fn new(max_modules: u32, budget: usize, kind: TaskKind) -> Self {
        let max_modules = max_modules.max(1);
        let weight = match kind {
            TaskKind::Rescore | TaskKind::RescoreIfHigher => 2,
            TaskKind::ResetAttempts | TaskKind::DeleteState | TaskKind::OverrideScore => 1,
        };
        ChunkSizer {
            max_modules,
            budget,
            weight,
            next: Self::fitting(budget, Self::ASSUMED_MODULE_BYTES * weight, max_modules),
        }
    }

    /// Modules to ask for in the next chunk.
    pub(crate) fn next(&self) -> u32 {
        self.next
    }

    /// Learns from a chunk of `modules` modules that carried `data_bytes` bytes.
    pub(crate) fn observe(&mut self, modules: usize, data_bytes: usize) {
        if let Some(per_module) = data_bytes.checked_div(modules) {
            let per_module = per_module * self.weight + Self::MODULE_OVERHEAD_BYTES;
            self.next = Self::fitting(self.budget, per_module, self.max_modules);
        }
    }

    fn fitting(budget: usize, per_module: usize, max_modules: u32) -> u32 {
        u32::try_from(budget / per_module.max(1))
            .unwrap_or(u32::MAX)
            .clamp(1, max_modules)
    }
}

impl Worker {
    /// A worker on `store`.
    pub fn new(store: Store, config: WorkerConfig) -> Self {
        Worker {
            store,
            config,
            activity: Arc::default(),
            last_plan: Arc::default(),
        }
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// What the worker is doing now.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// Does the next piece of work: plans a queued task (or one whose planner died) and runs its
    /// subtasks, or else joins a running task and runs its remaining subtasks. Returns the task
    /// as it is afterwards — ended, or still RUNNING when other workers hold some of its
    /// subtasks — and `Ok(None)` when there is nothing to do.
    pub async fn run_next(
        &self,
        sink: &dyn ProgressSink,
    ) -> Result<Option<TaskRecord>, WorkerError> {
        let worker = self.config.name.as_str();
        if let Some(task) = self.store.claim_task(worker, self.config.lease).await? {
            let task = self.plan(task).await?;
            if task.state.is_ready() {
                sink.finished(&task);
                return Ok(Some(task));
            }
            return self.run_subtasks_of(task, sink).await.map(Some);
        }
        match self
            .store
            .claim_subtask(worker, self.config.lease, None)
            .await?
        {
            None => Ok(None),
            Some(claim) => {
                let task = self.run_subtask(claim, sink).await?;
                self.run_subtasks_of(task, sink).await.map(Some)
            }
        }
    }

    /// Runs the task's remaining claimable subtasks one after another.
    async fn run_subtasks_of(
        &self,
        mut task: TaskRecord,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, WorkerError> {
        while !task.state.is_ready() {
            match self
                .store
                .claim_subtask(&self.config.name, self.config.lease, Some(task.id))
                .await?
            {
                Some(claim) => task = self.run_subtask(claim, sink).await?,
                None => {
                    // Others hold the rest, or a stop ended it: report the task as it is now.
                    task = self
                        .store
                        .get_task(task.id)
                        .await?
                        .ok_or(StoreError::NotFound {
                            what: "task",
                            key: task.id.to_string(),
                        })?;
                    break;
                }
            }
        }
        if task.state.is_ready() {
            sink.finished(&task);
        }
        Ok(task)
    }

    /// Plans a claimed task: resolves it, counts its modules and splits them into subtasks.
    /// Returns the split task, or the task as it ended when it cannot run (cancelled, or its
    /// input no longer resolves).
    async fn plan(&self, task: TaskRecord) -> Result<TaskRecord, WorkerError> {
        let worker = self.config.name.as_str();
        let store = self.store.clone();
        let (id, name, lease) = (task.id, self.config.name.clone(), self.config.lease);
        let _heartbeat = AbortOnDrop::new(spawn_heartbeat(lease, move || {
            let (store, name) = (store.clone(), name.clone());
            async move { store.renew_lease(id, &name, lease).await }
        }));
        let planned = async {
            if task.cancel_requested {
                return self
                    .store
                    .finish_task(task.id, worker, FinalState::Revoked)
                    .await;
            }
            let resolved = match self.resolved(&task).await {
                Ok(resolved) => resolved,
                Err(error) => {
                    tracing::warn!(task_id = %task.id, error = %error, "task cannot run");
                    let error = serde_json::to_value(&error).expect("task errors serialize");
                    return self
                        .store
                        .finish_task(task.id, worker, FinalState::Failure { error })
                        .await;
                }
            };
            let scope = resolved.plan.scope();
            let mut total = self.store.count_modules(&scope).await?;
            // Override creates the module of a learner who has none: one learner to process.
            if resolved.plan.kind == TaskKind::OverrideScore && total == 0 {
                total = 1;
            }
            let points = if total > self.config.subtask_size {
                self.store
                    .module_split_points(&scope, self.config.subtask_size)
                    .await?
            } else {
                Vec::new()
            };
            tracing::info!(task_id = %task.id, kind = %resolved.plan.kind, total, subtasks = points.len() + 1, "planned task");
            self.store
                .split_task(task.id, worker, total, &points)
                .await
        }
        .await;
        self.settle(task.id, planned).await
    }

    /// Turns a lost lease into "the task as another worker has it now".
    async fn settle(
        &self,
        task_id: Uuid,
        result: Result<TaskRecord, StoreError>,
    ) -> Result<TaskRecord, WorkerError> {
        match result {
            Ok(task) => Ok(task),
            Err(StoreError::LeaseLost { task_id, worker }) => {
                tracing::warn!(%task_id, %worker, "lost the lease; another worker continues");
                Ok(self
                    .store
                    .get_task(task_id)
                    .await?
                    .ok_or(StoreError::NotFound {
                        what: "task",
                        key: task_id.to_string(),
                    })?)
            }
            Err(e) => {
                tracing::debug!(%task_id, error = %e, "run broke off");
                Err(e.into())
            }
        }
    }

    /// The task's resolved plan, reused across the subtasks of one task.
    async fn resolved(&self, task: &TaskRecord) -> Result<Arc<Resolved>, TaskError> {
        if let Some(cached) = self.last_plan.lock().expect("plan cache").clone()
            && cached.task_id == task.id
        {
            return Ok(cached);
        }
        let plan = resolve_task(&self.store, task).await?;
        let resolved = Arc::new(Resolved {
            task_id: task.id,
            contexts: Arc::new(event_contexts(task, &plan)),
            plan: Arc::new(plan),
        });
        *self.last_plan.lock().expect("plan cache") = Some(resolved.clone());
        Ok(resolved)
    }

    /// Runs a claimed subtask from its stored cursor to its end. Returns the task as it is after
    /// (ended when this was its last live subtask), or as it was when this worker lost the
    /// subtask's lease to another one.
    pub async fn run_subtask(
        &self,
        claim: SubtaskClaim,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, WorkerError> {
        let SubtaskClaim { task, subtask } = claim;
        self.activity.set_current(Some((task.id, subtask.index)));
        // Dropped with this future too (a caller may abandon the run): a heartbeat must never
        // outlive the work it vouches for, or the subtask could never be reclaimed.
        let store = self.store.clone();
        let (id, index, name, lease) = (
            task.id,
            subtask.index,
            self.config.name.clone(),
            self.config.lease,
        );
        let _heartbeat = AbortOnDrop::new(spawn_heartbeat(lease, move || {
            let (store, name) = (store.clone(), name.clone());
            async move { store.renew_subtask_lease(id, index, &name, lease).await }
        }));
        let result = self.drive(&task, &subtask, sink).await;
        self.activity.set_current(None);
        self.settle(task.id, result).await
    }

    async fn drive(
        &self,
        task: &TaskRecord,
        subtask: &SubtaskRecord,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, StoreError> {
        let resolved = match self.resolved(task).await {
            Ok(resolved) => resolved,
            Err(error) => return self.fail(task, subtask, error).await,
        };
        let plan = resolved.plan.clone();
        let contexts = resolved.contexts.clone();
        let mut scope = plan.scope();
        scope.until_id = Some(subtask.until_id);
        tracing::debug!(task_id = %task.id, subtask = subtask.index, cursor = subtask.cursor, until = subtask.until_id, "running subtask");

        let mut sizer = ChunkSizer::new(self.config.chunk_size, self.config.chunk_bytes, plan.kind);
        let lease = SubtaskLease {
            task_id: task.id,
            index: subtask.index,
            worker: self.config.name.clone(),
        };
        if plan.kind == TaskKind::OverrideScore && subtask.counts.attempted == 0 {
            let existing = self.store.fetch_modules(&scope, subtask.cursor, 1).await?;
            if existing.is_empty() {
                let applied =
                    apply_override_without_module(&lease, subtask.cursor, &plan, &contexts);
                return self.commit_and_finish(task, subtask, applied, sink).await;
            }
        }

        let fetch = |after: i64, limit: u32| {
            let store = self.store.clone();
            let scope = scope.clone();
            tokio::spawn(async move { store.fetch_modules(&scope, after, limit).await })
        };
        let mut fetched_to = subtask.cursor;
        let mut applied_to = subtask.cursor;
        let mut next_fetch = fetch(fetched_to, sizer.next());
        let mut waits = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut pending_commit: Option<JoinHandle<Result<ChunkAck, StoreError>>> = None;
        loop {
            let t0 = std::time::Instant::now();
            let modules = join(next_fetch).await?;
            waits.0 += t0.elapsed();
            if modules.is_empty() {
                break;
            }
            fetched_to = modules.last().map(|m| m.id).unwrap_or(fetched_to);
            next_fetch = fetch(fetched_to, sizer.next());

            let t1 = std::time::Instant::now();
            let applied = {
                let (plan, contexts, lease) = (plan.clone(), contexts.clone(), lease.clone());
                tokio::task::spawn_blocking(move || {
                    apply_chunk(&plan, &contexts, &lease, applied_to, modules)
                })
                .await
                .expect("applying a chunk panicked")
            };
            applied_to = applied.commit.new_cursor;
            sizer.observe(
                usize::try_from(applied.commit.deltas.attempted).unwrap_or(usize::MAX),
                applied.data_bytes,
            );
            waits.1 += t1.elapsed();
            if let Some(previous) = pending_commit.take() {
                let t2 = std::time::Instant::now();
                let ack = join(previous).await?;
                waits.2 += t2.elapsed();
                if let Some(done) = self.after_commit(task, subtask, &ack, sink).await? {
                    next_fetch.abort();
                    return Ok(done);
                }
            }
            if applied.fatal.is_some() {
                next_fetch.abort();
                return self.commit_and_finish(task, subtask, applied, sink).await;
            }
            let (store, activity) = (self.store.clone(), self.activity.clone());
            pending_commit = Some(tokio::spawn(async move {
                let ack = store.commit_chunk(&applied.commit).await?;
                activity
                    .processed
                    .fetch_add(applied.commit.deltas.attempted, Ordering::Relaxed);
                Ok(ack)
            }));
        }
        if let Some(previous) = pending_commit.take() {
            let ack = join(previous).await?;
            if let Some(done) = self.after_commit(task, subtask, &ack, sink).await? {
                return Ok(done);
            }
        }
        tracing::debug!(task_id = %task.id, subtask = subtask.index, fetch_wait = ?waits.0, apply = ?waits.1, commit_wait = ?waits.2, chunk_modules = sizer.next(), "pipeline");
        self.store
            .finish_subtask(
                task.id,
                subtask.index,
                &self.config.name,
                FinalState::Success,
            )
            .await
    }

    /// Reports a committed chunk and, when the task must stop, ends the subtask as REVOKED.
    async fn after_commit(
        &self,
        task: &TaskRecord,
        subtask: &SubtaskRecord,
        ack: &ChunkAck,
        sink: &dyn ProgressSink,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let mut snapshot = task.clone();
        snapshot.attempted = ack.counts.attempted;
        snapshot.succeeded = ack.counts.succeeded;
        snapshot.skipped = ack.counts.skipped;
        snapshot.failed = ack.counts.failed;
        snapshot.total = ack.total;
        snapshot.updated_at = Utc::now();
        sink.chunk_committed(&snapshot);
        if ack.stop_requested {
            tracing::info!(task_id = %task.id, subtask = subtask.index, "stop requested; ending the subtask at the chunk boundary");
            let done = self
                .store
                .finish_subtask(
                    task.id,
                    subtask.index,
                    &self.config.name,
                    FinalState::Revoked,
                )
                .await?;
            return Ok(Some(done));
        }
        Ok(None)
    }

    /// Commits what was applied before a fatal error (if anything) and ends the subtask,
    /// FAILURE with the error when there is one, SUCCESS otherwise.
    async fn commit_and_finish(
        &self,
        task: &TaskRecord,
        subtask: &SubtaskRecord,
        applied: AppliedChunk,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, StoreError> {
        if applied.commit.deltas.attempted > 0 {
            let ack = self.store.commit_chunk(&applied.commit).await?;
            self.activity
                .processed
                .fetch_add(applied.commit.deltas.attempted, Ordering::Relaxed);
            if let Some(done) = self.after_commit(task, subtask, &ack, sink).await? {
                return Ok(done);
            }
        }
        match applied.fatal {
            Some(error) => self.fail(task, subtask, error).await,
            None => {
                self.store
                    .finish_subtask(
                        task.id,
                        subtask.index,
                        &self.config.name,
                        FinalState::Success,
                    )
                    .await
            }
        }
    }

    async fn fail(
        &self,
        task: &TaskRecord,
        subtask: &SubtaskRecord,
        error: TaskError,
    ) -> Result<TaskRecord, StoreError> {
        tracing::warn!(task_id = %task.id, subtask = subtask.index, error = %error, "task failed");
        let error = serde_json::to_value(&error).expect("task errors serialize");
        self.store
            .finish_subtask(
                task.id,
                subtask.index,
                &self.config.name,
                FinalState::Failure { error },
            )
            .await
    }
}

/// Renews a lease in the background every third of its length, so that a slow step (a count
/// over a huge table, a large chunk) does not let another worker take over work that is alive.
/// Stops when the lease is lost.
fn spawn_heartbeat<F, Fut>(lease: Duration, renew: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<LeaseStatus, StoreError>> + Send,
{
    tokio::spawn(async move {
        let period = lease / 3;
        loop {
            tokio::time::sleep(period).await;
            match renew().await {
                Ok(LeaseStatus::Held { .. }) => {}
                Ok(LeaseStatus::Lost) => break,
                Err(e) => tracing::warn!(error = %e, "lease renewal failed"),
            }
        }
    })
}

/// The subtask a chunk is committed to, and by whom.
#[derive(Debug, Clone)]
struct SubtaskLease {
    task_id: Uuid,
    index: u32,
    worker: String,
}

/// Aborts a background task when dropped.
pub(crate) struct AbortOnDrop(Option<JoinHandle<()>>);

impl AbortOnDrop {
    pub(crate) fn new(handle: JoinHandle<()>) -> Self {
        AbortOnDrop(Some(handle))
    }

    /// Waits for the task to end by itself (without aborting it).
    pub(crate) async fn join(mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

async fn join<T>(handle: JoinHandle<Result<T, StoreError>>) -> Result<T, StoreError> {
    handle.await.expect("storage task panicked")
}

/// Resolves a claimed task's plan from its stored type and input.
pub async fn resolve_task(store: &Store, task: &TaskRecord) -> Result<TaskPlan, TaskError> {
    let kind = TaskKind::from_task_type(&task.task_type).ok_or_else(|| {
        TaskError::new(
            ErrorKind::InvalidInput,
            format!("unknown task type {:?}", task.task_type),
        )
    })?;
    let input: TaskInput = serde_json::from_value(task.input.clone()).map_err(|e| {
        TaskError::new(
            ErrorKind::InvalidInput,
            format!("task input is not valid: {e}"),
        )
    })?;
    plan::resolve(store, kind, &task.course_key, &input).await
}

/// One event context per problem of the plan, in the plan's order.
fn event_contexts(task: &TaskRecord, plan: &TaskPlan) -> Vec<EventContext> {
    plan.problems
        .iter()
        .map(|p| EventContext {
            task_id: task.id.to_string(),
            requester: task.requester.clone(),
            course_key: task.course_key.clone(),
            usage_key: p.usage_key.clone(),
        })
        .collect()
}

/// The operation for one problem of the plan.
fn operation<'p>(plan: &'p TaskPlan, index: usize) -> Operation<'p> {
    let target = &plan.problems[index];
    match plan.kind {
        TaskKind::Rescore | TaskKind::RescoreIfHigher => Operation::Rescore {
            problem: &target.problem,
            only_if_higher: plan.kind == TaskKind::RescoreIfHigher,
        },
        TaskKind::ResetAttempts => Operation::ResetAttempts,
        TaskKind::DeleteState => Operation::DeleteState,
        TaskKind::OverrideScore => Operation::OverrideScore {
            score: plan.input.score.unwrap_or_default(),
            max_score: target.problem.max_score(),
            weight: target.weight,
        },
    }
}

/// Applies the operation to a chunk of modules (CPU only) and gathers everything to commit.
fn apply_chunk(
    plan: &TaskPlan,
    contexts: &[EventContext],
    lease: &SubtaskLease,
    after: i64,
    modules: Vec<ModuleRecord>,
) -> AppliedChunk {
    let now = Utc::now();
    let mut commit = empty_commit(lease, after, modules.len());
    let mut fatal = None;
    let mut read = 0;
    // The modules are taken apart as they are applied: the username and block key each record
    // needs are moved into it rather than copied, two allocations fewer a learner.
    for module in modules {
        let Some(index) = plan.problem_index(&module.usage_key) else {
            fatal = Some(
                TaskError::new(
                    ErrorKind::Internal,
                    format!("module {} belongs to no target problem", module.id),
                )
                .with("usage_key", module.usage_key.as_str()),
            );
            break;
        };
        let input = ModuleInput {
            module_id: Some(module.id),
            learner_id: module.learner_id,
            username: &module.username,
            state: module.state.as_deref(),
            grade: module.grade,
            max_grade: module.max_grade,
        };
        let result =
            match coursetasks_tasks::apply(&operation(plan, index), &input, &contexts[index]) {
                Ok(result) => result,
                Err(error) => {
                    fatal = Some(error);
                    break;
                }
            };
        commit.new_cursor = module.id;
        read += module.state.as_ref().map_or(0, String::len);
        let target = ModuleRef {
            id: Some(module.id),
            learner_id: module.learner_id,
            username: module.username,
            usage_key: module.usage_key,
        };
        record(&mut commit, plan, &contexts[index], target, result, now);
    }
    let written: usize = commit
        .module_updates
        .iter()
        .map(|u| u.state.as_ref().map_or(0, String::len))
        .chain(commit.events.iter().map(|e| e.payload.len()))
        .sum();
    AppliedChunk {
        commit,
        fatal,
        data_bytes: read + written,
    }
}

/// The override of a learner who has no module yet: one module is created.
fn apply_override_without_module(
    lease: &SubtaskLease,
    cursor: i64,
    plan: &TaskPlan,
    contexts: &[EventContext],
) -> AppliedChunk {
    let now = Utc::now();
    let mut commit = empty_commit(lease, cursor, 1);
    let learner = plan
        .learner
        .as_ref()
        .expect("an override always names its learner (validated at resolve)");
    let input = ModuleInput {
        module_id: None,
        learner_id: learner.id,
        username: &learner.username,
        state: None,
        grade: None,
        max_grade: None,
    };
    let fatal = match coursetasks_tasks::apply(&operation(plan, 0), &input, &contexts[0]) {
        Ok(result) => {
            let module = ModuleRef {
                id: None,
                learner_id: learner.id,
                username: learner.username.clone(),
                usage_key: plan.problems[0].usage_key.clone(),
            };
            record(&mut commit, plan, &contexts[0], module, result, now);
            None
        }
        Err(error) => Some(error),
    };
    AppliedChunk {
        commit,
        fatal,
        data_bytes: 0,
    }
}

/// A commit that continues from `after` and changes nothing yet.
fn empty_commit(lease: &SubtaskLease, after: i64, capacity: usize) -> ChunkCommit {
    ChunkCommit {
        task_id: lease.task_id,
        subtask: lease.index,
        worker: lease.worker.clone(),
        expected_cursor: after,
        new_cursor: after,
        deltas: Counts::default(),
        module_updates: Vec::with_capacity(capacity),
        module_inserts: Vec::new(),
        module_deletes: Vec::new(),
        outcomes: Vec::with_capacity(capacity),
        events: Vec::with_capacity(capacity),
    }
}

/// The identity of the module a result is for (a stored one, or one to be created), owned:
/// its strings end up in the outcome record.
struct ModuleRef {
    id: Option<i64>,
    learner_id: i64,
    username: String,
    usage_key: String,
}

/// Adds one module's result to the commit: the change, the outcome, the event, the counters.
fn record(
    commit: &mut ChunkCommit,
    plan: &TaskPlan,
    context: &EventContext,
    module: ModuleRef,
    result: coursetasks_tasks::ModuleResult,
    now: chrono::DateTime<Utc>,
) {
    let status = match result.outcome {
        Outcome::Succeeded => OutcomeStatus::Succeeded,
        Outcome::Skipped(_) => OutcomeStatus::Skipped,
        Outcome::Failed(_) => OutcomeStatus::Failed,
    };
    commit.deltas.attempted += 1;
    match status {
        OutcomeStatus::Succeeded => commit.deltas.succeeded += 1,
        OutcomeStatus::Skipped => commit.deltas.skipped += 1,
        OutcomeStatus::Failed => commit.deltas.failed += 1,
    }
    match result.change {
        Change::None => {}
        Change::Update {
            state,
            grade,
            max_grade,
        } => match module.id {
            Some(id) => commit.module_updates.push(coursetasks_store::ModuleUpdate {
                id,
                state: Some(state),
                grade,
                max_grade,
                modified: now,
            }),
            None => commit.module_inserts.push(NewModule {
                learner_id: module.learner_id,
                course_key: plan.course_key.clone(),
                usage_key: module.usage_key.clone(),
                module_type: "problem".to_owned(),
                state: Some(state),
                grade,
                max_grade,
            }),
        },
        Change::Delete => {
            if let Some(id) = module.id {
                commit.module_deletes.push(id);
            }
        }
    }
    if let Some(event) = result.event {
        commit.events.push(NewEvent {
            task_id: None,
            event_type: event.event_type.to_owned(),
            time: now,
            username: module.username.clone(),
            user_id: module.learner_id,
            course_key: context.course_key.clone(),
            usage_key: Some(module.usage_key.clone()),
            requester: context.requester.clone(),
            payload: event.payload,
        });
    }
    commit.outcomes.push(NewOutcome {
        module_id: module.id,
        learner_id: module.learner_id,
        username: module.username,
        usage_key: module.usage_key,
        status,
        reason: result.outcome.reason(),
        old_grade: result.old_grade,
        old_max_grade: result.old_max_grade,
        new_grade: result.new_grade,
        new_max_grade: result.new_max_grade,
    });
}

#[cfg(test)]
mod tests {
    use super::ChunkSizer;
    use coursetasks_tasks::TaskKind;

    const BUDGET: usize = 7 * 1024 * 1024;

    #[test]
    fn chunks_hold_as_many_modules_as_fit_the_budget_of_the_last_ones() {
        let mut sizer = ChunkSizer::new(4_000, BUDGET, TaskKind::DeleteState);
        // Before any measurement: modules are assumed large (4 KiB).
        assert_eq!(sizer.next(), 1_792);
        // A delete's modules: the state read and an event that keeps it.
        sizer.observe(1_792, 1_792 * 1_800);
        assert_eq!(sizer.next(), 3_570);
        // Small states fill the chunk up to its most modules; huge ones shrink it to one.
        sizer.observe(3_570, 3_570 * 100);
        assert_eq!(sizer.next(), 4_000);
        sizer.observe(2_000, 2_000 * 8 * 1024 * 1024);
        assert_eq!(sizer.next(), 1);
        // A chunk of nothing teaches nothing.
        sizer.observe(0, 0);
        assert_eq!(sizer.next(), 1);
    }

    #[test]
    fn a_rescore_counts_its_data_twice_for_the_grading_beside_it() {
        // A rescore's modules: a 0.9 KB state read, 0.9 KB written, a 1.7 KB event.
        let mut rescore = ChunkSizer::new(4_000, BUDGET, TaskKind::Rescore);
        assert_eq!(rescore.next(), 896, "before any measurement too");
        rescore.observe(1_000, 1_000 * 3_500);
        assert_eq!(rescore.next(), 1_011);
        let mut reset = ChunkSizer::new(4_000, BUDGET, TaskKind::ResetAttempts);
        reset.observe(1_000, 1_000 * 3_500);
        assert_eq!(reset.next(), 1_954);
    }

    #[test]
    fn a_small_chunk_size_is_kept_whatever_the_budget() {
        let mut sizer = ChunkSizer::new(7, BUDGET, TaskKind::Rescore);
        assert_eq!(sizer.next(), 7);
        sizer.observe(7, 7 * 300);
        assert_eq!(sizer.next(), 7);
        assert_eq!(
            ChunkSizer::new(0, 1024, TaskKind::DeleteState).next(),
            1,
            "at least one module"
        );
    }
}
