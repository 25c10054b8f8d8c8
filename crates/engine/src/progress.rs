//! Progress reports a running task sends to whoever watches it (a progress bar, a log, a test).

use coursetasks_store::TaskRecord;

/// Receives a task's row after every committed chunk and once when it ends.
///
/// Implementations must be cheap: they run on the worker's path between chunks.
pub trait ProgressSink: Send + Sync {
    /// The task after a chunk commit (state RUNNING, counters and cursor as committed).
    fn chunk_committed(&self, task: &TaskRecord);
    /// The task as it ended (SUCCESS, FAILURE or REVOKED), or as it was when this worker lost it.
    fn finished(&self, task: &TaskRecord);
}

/// A sink that ignores everything (background workers whose progress is read from the store).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn chunk_committed(&self, _task: &TaskRecord) {}
    fn finished(&self, _task: &TaskRecord) {}
}

/// Adapts a closure called with every report (committed chunks and the end alike).
pub struct ProgressFn<F>(pub F);

impl<F: Fn(&TaskRecord) + Send + Sync> ProgressSink for ProgressFn<F> {
    fn chunk_committed(&self, task: &TaskRecord) {
        (self.0)(task)
    }
    fn finished(&self, task: &TaskRecord) {
        (self.0)(task)
    }
}
