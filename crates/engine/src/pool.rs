//! A pool of task loops in one process: each loop claims a task, runs it, and looks for the next;
//! idle loops poll. Shutdown is cooperative: a loop finishes the chunk it is on (its lease then
//! lets the task resume elsewhere, or here on the next start).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::progress::ProgressSink;
use crate::runner::{Worker, WorkerConfig, WorkerError};
use coursetasks_store::Store;

/// How a pool behaves.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Tasks run at once.
    pub concurrency: usize,
    /// Sleep between claims when there is nothing to do.
    pub idle_poll: Duration,
    /// Return once every loop found nothing to do (instead of waiting for more work).
    pub exit_when_idle: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            concurrency: 2,
            idle_poll: Duration::from_millis(500),
            exit_when_idle: false,
        }
    }
}

/// Runs `config.concurrency` task loops until `shutdown` turns true (or, with `exit_when_idle`,
/// until no task is left). Each loop is a worker with its own lease identity derived from `base`.
/// Returns how many tasks the pool ran.
pub async fn run_pool(
    store: Store,
    base: WorkerConfig,
    config: PoolConfig,
    sink: Arc<dyn ProgressSink>,
    shutdown: watch::Receiver<bool>,
) -> Result<u64, WorkerError> {
    let mut loops = tokio::task::JoinSet::new();
    for index in 0..config.concurrency.max(1) {
        let mut worker_config = base.clone();
        worker_config.name = format!("{}#{index}", base.name);
        let worker = Worker::new(store.clone(), worker_config);
        let sink = sink.clone();
        let mut shutdown = shutdown.clone();
        let config = config.clone();
        loops.spawn(async move {
            let mut ran = 0u64;
            while !*shutdown.borrow() {
                match worker.run_next(sink.as_ref()).await? {
                    Some(_) => ran += 1,
                    None if config.exit_when_idle => break,
                    None => {
                        tokio::select! {
                            _ = tokio::time::sleep(config.idle_poll) => {}
                            _ = shutdown.changed() => {}
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
    Ok(total)
}
