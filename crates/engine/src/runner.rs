//! The task runner: claim a task, resolve it, stream its modules in chunks, apply the operation
//! and commit each chunk atomically with its outcomes, events, counters and cursor.
//!
//! The loop is pipelined so that both cores work: while chunk *k* is being applied (CPU, on a
//! blocking thread), chunk *k+1* is already being fetched and chunk *k−1* committed (database).
//! Fetching needs only the last id of the previous chunk, so it never waits for a commit; commits
//! stay strictly in order, because the cursor they store must only move forward.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use coursetasks_store::{
    ChunkCommit, Counts, FinalState, ModuleRecord, NewEvent, NewModule, NewOutcome, OutcomeStatus,
    Store, StoreError, TaskRecord,
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
    /// Learner modules per chunk (one transaction each).
    pub chunk_size: u32,
    /// How long a claim lasts without a commit or heartbeat before another worker may take over.
    pub lease: Duration,
}

impl WorkerConfig {
    /// Defaults for a worker called `name`: chunks of 2,000 modules, a 30-second lease.
    pub fn new(name: impl Into<String>) -> Self {
        WorkerConfig {
            name: name.into(),
            chunk_size: 2_000,
            lease: Duration::from_secs(30),
        }
    }

    /// A name unique to this process incarnation: host, process id and a random suffix, so that a
    /// restarted worker never passes the lease fence of its dead predecessor.
    pub fn unique_name(prefix: &str) -> String {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        format!("{prefix}@{host}:{}:{suffix}", std::process::id())
    }
}

/// Errors that stop a worker (as opposed to errors that end a task, which are recorded on the task).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed outside any task's control (e.g. the database is unreachable).
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

/// Runs tasks from a store.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
}

/// The result of applying the operation to one chunk of modules.
struct AppliedChunk {
    commit: ChunkCommit,
    /// A task-fatal error met in this chunk; the commit covers the modules before it.
    fatal: Option<TaskError>,
}

impl Worker {
    /// A worker on `store`.
    pub fn new(store: Store, config: WorkerConfig) -> Self {
        Worker { store, config }
    }

    /// The worker's configuration.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Claims the next task (queued, or abandoned by a dead worker) and runs it to its end.
    /// `Ok(None)` when there is nothing to do.
    pub async fn run_next(
        &self,
        sink: &dyn ProgressSink,
    ) -> Result<Option<TaskRecord>, WorkerError> {
        match self
            .store
            .claim_task(&self.config.name, self.config.lease)
            .await?
        {
            None => Ok(None),
            Some(task) => self.run_claimed(task, sink).await.map(Some),
        }
    }

    /// Runs a task this worker has claimed, from its stored cursor to the end. Returns the task
    /// as it ended (or as it was when this worker lost its lease to another one).
    pub async fn run_claimed(
        &self,
        task: TaskRecord,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, WorkerError> {
        // Dropped with this future too (a caller may abandon the run): a heartbeat must never
        // outlive the work it vouches for, or the task could never be reclaimed.
        let _heartbeat = AbortOnDrop(self.spawn_heartbeat(task.id));
        let result = self.drive(task, sink).await;
        let finished = match result {
            Ok(task) => task,
            Err(StoreError::LeaseLost { task_id, worker }) => {
                tracing::warn!(%task_id, %worker, "lost the lease; another worker continues the task");
                self.store
                    .get_task(task_id)
                    .await?
                    .ok_or(StoreError::NotFound {
                        what: "task",
                        key: task_id.to_string(),
                    })?
            }
            Err(e) => return Err(e.into()),
        };
        sink.finished(&finished);
        Ok(finished)
    }

    /// Renews the lease in the background, so that a slow step (a count over a huge table, a
    /// large chunk) does not let another worker take over a task that is alive.
    fn spawn_heartbeat(&self, task_id: Uuid) -> JoinHandle<()> {
        let store = self.store.clone();
        let name = self.config.name.clone();
        let lease = self.config.lease;
        tokio::spawn(async move {
            let period = lease / 3;
            loop {
                tokio::time::sleep(period).await;
                match store.renew_lease(task_id, &name, lease).await {
                    Ok(coursetasks_store::LeaseStatus::Held { .. }) => {}
                    Ok(coursetasks_store::LeaseStatus::Lost) => break,
                    Err(e) => tracing::warn!(%task_id, error = %e, "lease renewal failed"),
                }
            }
        })
    }

    async fn drive(
        &self,
        task: TaskRecord,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, StoreError> {
        let worker = self.config.name.as_str();
        if task.cancel_requested {
            return self
                .store
                .finish_task(task.id, worker, FinalState::Revoked)
                .await;
        }
        let plan = match resolve_task(&self.store, &task).await {
            Ok(plan) => Arc::new(plan),
            Err(error) => return self.fail(&task, error).await,
        };
        let scope = plan.scope();
        let total = match task.total {
            Some(total) => total,
            None => {
                let mut total = self.store.count_modules(&scope).await?;
                // Override creates the module of a learner who has none: one learner to process.
                if plan.kind == TaskKind::OverrideScore && total == 0 {
                    total = 1;
                }
                self.store.set_task_total(task.id, worker, total).await?;
                total
            }
        };
        tracing::info!(task_id = %task.id, kind = %plan.kind, total, cursor = task.cursor, "running task");

        let contexts = Arc::new(event_contexts(&task, &plan));
        let chunk_size = self.config.chunk_size;

        if plan.kind == TaskKind::OverrideScore && task.attempted == 0 {
            let existing = self.store.fetch_modules(&scope, 0, 1).await?;
            if existing.is_empty() {
                let applied = apply_override_without_module(&task, &plan, &contexts, worker);
                return self.commit_and_finish(&task, applied, sink).await;
            }
        }

        let mut cursor = task.cursor;
        let fetch = |after: i64| {
            let store = self.store.clone();
            let scope = scope.clone();
            tokio::spawn(async move { store.fetch_modules(&scope, after, chunk_size).await })
        };
        let mut next_fetch = fetch(cursor);
        let mut waits = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut pending_commit: Option<
            JoinHandle<Result<coursetasks_store::ChunkAck, StoreError>>,
        > = None;
        loop {
            let t0 = std::time::Instant::now();
            let modules = join(next_fetch).await?;
            waits.0 += t0.elapsed();
            if modules.is_empty() {
                break;
            }
            cursor = modules.last().map(|m| m.id).unwrap_or(cursor);
            next_fetch = fetch(cursor);

            let t1 = std::time::Instant::now();
            let applied = {
                let (plan, contexts, task_id, worker) =
                    (plan.clone(), contexts.clone(), task.id, worker.to_owned());
                tokio::task::spawn_blocking(move || {
                    apply_chunk(&plan, &contexts, task_id, &worker, modules)
                })
                .await
                .expect("applying a chunk panicked")
            };

            waits.1 += t1.elapsed();
            if let Some(previous) = pending_commit.take() {
                let t2 = std::time::Instant::now();
                let ack = join(previous).await?;
                waits.2 += t2.elapsed();
                if let Some(done) = self.after_commit(&task, ack, sink).await? {
                    next_fetch.abort();
                    return Ok(done);
                }
            }
            if applied.fatal.is_some() {
                next_fetch.abort();
                return self.commit_and_finish(&task, applied, sink).await;
            }
            let store = self.store.clone();
            pending_commit = Some(tokio::spawn(async move {
                store.commit_chunk(&applied.commit).await
            }));
        }
        if let Some(previous) = pending_commit.take() {
            let ack = join(previous).await?;
            if let Some(done) = self.after_commit(&task, ack, sink).await? {
                return Ok(done);
            }
        }
        tracing::debug!(task_id = %task.id, fetch_wait = ?waits.0, apply = ?waits.1, commit_wait = ?waits.2, "pipeline");
        self.store
            .finish_task(task.id, worker, FinalState::Success)
            .await
    }

    /// Reports a committed chunk and, when a cancel was requested, ends the task as REVOKED.
    async fn after_commit(
        &self,
        task: &TaskRecord,
        ack: coursetasks_store::ChunkAck,
        sink: &dyn ProgressSink,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let mut snapshot = task.clone();
        snapshot.attempted = ack.counts.attempted;
        snapshot.succeeded = ack.counts.succeeded;
        snapshot.skipped = ack.counts.skipped;
        snapshot.failed = ack.counts.failed;
        snapshot.total = ack.total;
        snapshot.cursor = ack.cursor;
        snapshot.updated_at = Utc::now();
        sink.chunk_committed(&snapshot);
        if ack.cancel_requested {
            tracing::info!(task_id = %task.id, "cancel requested; stopping at the chunk boundary");
            let done = self
                .store
                .finish_task(task.id, &self.config.name, FinalState::Revoked)
                .await?;
            return Ok(Some(done));
        }
        Ok(None)
    }

    /// Commits what was applied before a fatal error (if anything) and ends the task, FAILURE
    /// with the error when there is one, SUCCESS otherwise.
    async fn commit_and_finish(
        &self,
        task: &TaskRecord,
        applied: AppliedChunk,
        sink: &dyn ProgressSink,
    ) -> Result<TaskRecord, StoreError> {
        if applied.commit.deltas.attempted > 0 {
            let ack = self.store.commit_chunk(&applied.commit).await?;
            if let Some(done) = self.after_commit(task, ack, sink).await? {
                return Ok(done);
            }
        }
        match applied.fatal {
            Some(error) => self.fail(task, error).await,
            None => {
                self.store
                    .finish_task(task.id, &self.config.name, FinalState::Success)
                    .await
            }
        }
    }

    async fn fail(&self, task: &TaskRecord, error: TaskError) -> Result<TaskRecord, StoreError> {
        tracing::warn!(task_id = %task.id, error = %error, "task failed");
        let error = serde_json::to_value(&error).expect("task errors serialize");
        self.store
            .finish_task(task.id, &self.config.name, FinalState::Failure { error })
            .await
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
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
    task_id: Uuid,
    worker: &str,
    modules: Vec<ModuleRecord>,
) -> AppliedChunk {
    let now = Utc::now();
    let mut commit = empty_commit(task_id, worker, modules.len());
    let mut fatal = None;
    for module in &modules {
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
        record(
            &mut commit,
            plan,
            &contexts[index],
            module_ref(module),
            result,
            now,
        );
        commit.new_cursor = module.id;
    }
    AppliedChunk { commit, fatal }
}

/// The override of a learner who has no module yet: one module is created.
fn apply_override_without_module(
    task: &TaskRecord,
    plan: &TaskPlan,
    contexts: &[EventContext],
    worker: &str,
) -> AppliedChunk {
    let now = Utc::now();
    let mut commit = empty_commit(task.id, worker, 1);
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
                username: &learner.username,
                usage_key: &plan.problems[0].usage_key,
            };
            record(&mut commit, plan, &contexts[0], module, result, now);
            None
        }
        Err(error) => Some(error),
    };
    commit.new_cursor = task.cursor;
    AppliedChunk { commit, fatal }
}

fn empty_commit(task_id: Uuid, worker: &str, capacity: usize) -> ChunkCommit {
    ChunkCommit {
        task_id,
        worker: worker.to_owned(),
        new_cursor: 0,
        deltas: Counts::default(),
        module_updates: Vec::with_capacity(capacity),
        module_inserts: Vec::new(),
        module_deletes: Vec::new(),
        outcomes: Vec::with_capacity(capacity),
        events: Vec::with_capacity(capacity),
    }
}

/// The identity of the module a result is for (a stored one, or one to be created).
struct ModuleRef<'a> {
    id: Option<i64>,
    learner_id: i64,
    username: &'a str,
    usage_key: &'a str,
}

fn module_ref(module: &ModuleRecord) -> ModuleRef<'_> {
    ModuleRef {
        id: Some(module.id),
        learner_id: module.learner_id,
        username: &module.username,
        usage_key: &module.usage_key,
    }
}

/// Adds one module's result to the commit: the change, the outcome, the event, the counters.
fn record(
    commit: &mut ChunkCommit,
    plan: &TaskPlan,
    context: &EventContext,
    module: ModuleRef<'_>,
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
                usage_key: module.usage_key.to_owned(),
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
            username: module.username.to_owned(),
            user_id: module.learner_id,
            course_key: context.course_key.clone(),
            usage_key: Some(module.usage_key.to_owned()),
            requester: context.requester.clone(),
            payload: event.payload,
        });
    }
    commit.outcomes.push(NewOutcome {
        module_id: module.id,
        learner_id: module.learner_id,
        username: module.username.to_owned(),
        usage_key: module.usage_key.to_owned(),
        status,
        reason: result.outcome.reason(),
        old_grade: result.old_grade,
        old_max_grade: result.old_max_grade,
        new_grade: result.new_grade,
        new_max_grade: result.new_max_grade,
    });
}
