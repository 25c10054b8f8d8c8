//! A pool of task loops in one process: each loop plans a task or runs a subtask, and looks for
//! the next; idle loops wait for a wake-up from the store (or poll). The pool registers its loops
//! in the workers registry with a heartbeat. Database outages do not stop it: a loop whose work
//! broke off on a transient error backs off and tries again, taking its own subtask back.
//! Shutdown is cooperative: a loop finishes the chunk it is on (its lease then lets the subtask
//! resume elsewhere, or here on the next start).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use crate::progress::ProgressSink;
use crate::runner::{AbortOnDrop, Activity, Worker, WorkerConfig, WorkerError, host_name};
use coursetasks_store::{Store, TaskFilter, TaskState, WorkerHeartbeat};

/// How a pool behaves.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Task loops run at once.
    pub concurrency: usize,
    /// Longest wait between claims when there is nothing to do (a wake-up from the store ends
    /// it early).
    pub idle_poll: Duration,
    /// Return once no task is queued or running any more (instead of waiting for more work).
    pub exit_when_idle: bool,
    /// Period of the workers-registry heartbeat.
    pub heartbeat: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            concurrency: 2,
            idle_poll: Duration::from_millis(500),
            exit_when_idle: false,
            heartbeat: Duration::from_secs(5),
        }
    }
}

/// Longest pause after a failing database, between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs `config.concurrency` task loops until `shutdown` turns true (or, with `exit_when_idle`,
/// until no work is left). Each loop is a worker with its own lease identity derived from
/// `base`. Returns how many pieces of work (plannings and subtask runs that ended a task or found
/// it ended) the pool did.
pub async fn run_pool(
    store: Store,
    base: WorkerConfig,
    config: PoolConfig,
    sink: Arc<dyn ProgressSink>,
    shutdown: watch::Receiver<bool>,
) -> Result<u64, WorkerError> {
    let workers: Vec<Worker> = (0..config.concurrency.max(1))
        .map(|index| {
            let mut worker_config = base.clone();
            worker_config.name = format!("{}#{index}", base.name);
            Worker::new(store.clone(), worker_config)
        })
        .collect();
    let (registry_stop, registry_stopped) = watch::channel(false);
    let registry = tokio::spawn(heartbeats(
        store.clone(),
        workers
            .iter()
            .map(|w| (w.config().name.clone(), w.activity()))
            .collect(),
        config.heartbeat,
        registry_stopped,
    ));
    // Aborted only if this future is dropped; a normal end stops it first (below).
    let registry = AbortOnDrop::new(registry);

    // With `exit_when_idle`, the first loop to find no work left anywhere ends the others too:
    // they may be waiting out an idle poll, and nothing would wake them before it ends.
    let drained = Arc::new(watch::Sender::new(false));
    let mut loops = tokio::task::JoinSet::new();
    for worker in workers.clone() {
        let sink = sink.clone();
        let mut shutdown = shutdown.clone();
        let config = config.clone();
        let store = store.clone();
        let drained = drained.clone();
        let mut drained_seen = drained.subscribe();
        loops.spawn(async move {
            let mut ran = 0u64;
            let mut backoff = Duration::ZERO;
            while !*shutdown.borrow() && !*drained_seen.borrow() {
                let next = match worker.run_next(sink.as_ref()).await {
                    Ok(None) if config.exit_when_idle => match work_left(&store).await {
                        Ok(false) => {
                            drained.send_replace(true);
                            break;
                        }
                        Ok(true) => Ok(None),
                        Err(error) => Err(error),
                    },
                    other => other,
                };
                match next {
                    Ok(Some(task)) => {
                        backoff = Duration::ZERO;
                        if task.state.is_ready() {
                            ran += 1;
                        }
                    }
                    Ok(None) => {
                        backoff = Duration::ZERO;
                        tokio::select! {
                            _ = store.wait_for_work(config.idle_poll) => {}
                            _ = shutdown.changed() => {}
                            _ = drained_seen.changed() => {}
                        }
                    }
                    Err(error) => {
                        // Keep working through outages: the store reconnects, and the subtask
                        // this loop held is taken back from its stored cursor.
                        backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                        tracing::warn!(worker = %worker.config().name, %error, transient = error.is_transient(), retry_in = ?backoff, "work broke off");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = shutdown.changed() => {}
                            _ = drained_seen.changed() => {}
                        }
                    }
                }
            }
            Ok::<u64, WorkerError>(ran)
        });
    }
    let mut total = 0;
    while let Some(result) = loops.join_next().await {
        total += result.expect("worker loop panicked")?;
    }
    // Let the heartbeat finish the round it is in before the entries are removed: an abort
    // would drop its future, but a statement already handed to the database still runs and
    // could register a stopped worker again after the removal.
    let _ = registry_stop.send(true);
    registry.join().await;
    for worker in &workers {
        if let Err(error) = store.remove_worker(&worker.config().name).await {
            tracing::warn!(%error, "could not remove the worker from the registry");
        }
    }
    Ok(total)
}

/// Whether any task is still queued or running (possibly in other loops or processes, which
/// may still split it or die and leave subtasks to take over).
async fn work_left(store: &Store) -> Result<bool, WorkerError> {
    let filter = TaskFilter {
        states: vec![TaskState::Queued, TaskState::Running],
        limit: Some(1),
        ..Default::default()
    };
    Ok(!store.list_tasks(&filter).await?.is_empty())
}

/// Reports every loop's activity to the workers registry every `period`, until `stop` turns
/// true.
async fn heartbeats(
    store: Store,
    loops: Vec<(String, Arc<Activity>)>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let (host, pid, started_at) = (host_name(), std::process::id(), Utc::now());
    while !*stop.borrow() {
        for (name, activity) in &loops {
            let heartbeat = WorkerHeartbeat {
                name: name.clone(),
                host: host.clone(),
                pid,
                started_at,
                current: activity.current(),
                processed: activity.processed(),
            };
            if let Err(error) = store.record_worker(&heartbeat).await {
                tracing::warn!(%error, "worker heartbeat failed");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => {}
        }
    }
}
