//! `GET /metrics`: Prometheus text exposition (format 0.0.4), written by hand, no token (like
//! `/healthz`; it carries no course keys, learner names or task ids, only totals and worker
//! names).
//!
//! What each family measures:
//!
//! - `coursetasks_tasks{state}`: gauge, tasks in each state, counted from the store's tasks at
//!   scrape time (every state is present, zeros included).
//! - `coursetasks_learners_processed_total{outcome}`: counter, the sum over **every task in the
//!   store** of its `succeeded`, `skipped` and `failed` counters (the counters the workers
//!   commit with each chunk, the same numbers `status` shows), not a count of outcome rows.
//! - `coursetasks_queue_tasks`: gauge, tasks waiting in `QUEUED`.
//! - `coursetasks_queue_subtasks`: gauge, subtasks in `QUEUED` of the tasks that are running
//!   (the work of split tasks that no loop has claimed yet).
//! - `coursetasks_workers_registered`, `coursetasks_workers_live`: gauges from the workers
//!   registry; live ones heartbeat within [`LIVE_AFTER`] (a crashed worker stays registered
//!   until it is forgotten, but stops being live).
//! - `coursetasks_worker_heartbeat_age_seconds{worker}`: gauge, seconds since each registered
//!   worker's last heartbeat.
//! - `coursetasks_chunk_interval_seconds`: histogram, **this process's** in-process worker only
//!   (see [`ChunkTimer`]): absent when `serve` runs without one, and blind to `coursetasks
//!   worker` processes.
//!
//! Every scrape reads all task rows (and the subtasks of running tasks): fine for the task
//! counts an instructor dashboard produces (thousands), not meant to be scraped every second
//! over millions of tasks.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use coursetasks_engine::ProgressSink;
use coursetasks_store::{TaskRecord, TaskState};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

/// A worker whose last heartbeat is older than this is registered but not live (the pool
/// heartbeats every 5 s by default).
pub const LIVE_AFTER: Duration = Duration::from_secs(30);

/// Registry entries older than this are forgotten (deleted) while scraping, as `coursetasks
/// workers` does.
const FORGET_AFTER: Duration = Duration::from_secs(86_400);

/// Upper bounds (seconds) of the chunk histogram's buckets; `+Inf` follows.
pub const CHUNK_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A fixed-bucket histogram with atomic counters.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Non-cumulative counts per bucket of [`CHUNK_BUCKETS`], then the `+Inf` overflow.
    buckets: [AtomicU64; CHUNK_BUCKETS.len() + 1],
    /// Sum of the observations, in nanoseconds.
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let index = CHUNK_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(CHUNK_BUCKETS.len());
        self.buckets[index].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(value.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn write(&self, out: &mut String, name: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in CHUNK_BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[CHUNK_BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {sum}");
        // The count is the +Inf bucket, read once, so that the two agree within one scrape.
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

/// In-process measurements that the store does not hold.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Set when `serve` runs an in-process worker: its chunk timer.
    chunks: Mutex<Option<std::sync::Arc<ChunkTimer>>>,
}

impl Metrics {
    /// Starts timing chunks: returns the sink to hand to the in-process pool.
    pub fn chunk_timer(&self) -> std::sync::Arc<ChunkTimer> {
        let mut chunks = self.chunks.lock().expect("metrics lock");
        chunks.get_or_insert_with(Default::default).clone()
    }
}

/// A [`ProgressSink`] that feeds `coursetasks_chunk_interval_seconds`: the wall-clock time
/// between two consecutive `chunk_committed` reports **of the same task** in this process.
///
/// For a task run by one loop, that is the time one chunk took: reading the modules, grading,
/// and committing. The first chunk a loop commits for a task is not observed (the sink is told
/// of commits and ends only, not of starts), so a task of one chunk adds nothing. When several
/// loops share the subtasks of one task, their commits interleave and the intervals are
/// shorter than any loop's chunk time: the histogram then measures the task's commit rate.
#[derive(Debug, Default)]
pub struct ChunkTimer {
    last_commit: Mutex<HashMap<Uuid, Instant>>,
    histogram: Histogram,
}

impl ChunkTimer {
    /// The histogram.
    pub fn histogram(&self) -> &Histogram {
        &self.histogram
    }

    fn committed(&self, task: Uuid) {
        let now = Instant::now();
        let previous = self
            .last_commit
            .lock()
            .expect("chunk timer lock")
            .insert(task, now);
        if let Some(previous) = previous {
            self.histogram.observe(now - previous);
        }
    }

    fn ended(&self, task: Uuid) {
        self.last_commit
            .lock()
            .expect("chunk timer lock")
            .remove(&task);
    }
}

impl ProgressSink for ChunkTimer {
    fn chunk_committed(&self, task: &TaskRecord) {
        self.committed(task.id);
    }

    fn finished(&self, task: &TaskRecord) {
        self.ended(task.id);
    }
}

/// Escapes a label value: backslash, double quote and line feed, as the text format requires.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn state_label(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "QUEUED",
        TaskState::Running => "RUNNING",
        TaskState::Success => "SUCCESS",
        TaskState::Failure => "FAILURE",
        TaskState::Revoked => "REVOKED",
    }
}

/// The exposition text, read from the store now.
pub async fn render(state: &AppState) -> Result<String, ApiError> {
    let tasks = state.store.list_tasks(&Default::default()).await?;
    let mut out = String::new();

    family(
        &mut out,
        "coursetasks_tasks",
        "gauge",
        "Tasks in the store by state.",
    );
    for s in TaskState::ALL {
        let n = tasks.iter().filter(|t| t.state == s).count();
        let _ = writeln!(out, "coursetasks_tasks{{state=\"{}\"}} {n}", state_label(s));
    }

    family(
        &mut out,
        "coursetasks_learners_processed_total",
        "counter",
        "Learner modules processed, by outcome: the sum of every stored task's counters.",
    );
    let sum = |f: fn(&TaskRecord) -> u64| tasks.iter().map(f).sum::<u64>();
    for (outcome, n) in [
        ("succeeded", sum(|t| t.succeeded)),
        ("skipped", sum(|t| t.skipped)),
        ("failed", sum(|t| t.failed)),
    ] {
        let _ = writeln!(
            out,
            "coursetasks_learners_processed_total{{outcome=\"{outcome}\"}} {n}"
        );
    }

    family(
        &mut out,
        "coursetasks_queue_tasks",
        "gauge",
        "Tasks waiting for a worker (QUEUED).",
    );
    let queued = tasks
        .iter()
        .filter(|t| t.state == TaskState::Queued)
        .count();
    let _ = writeln!(out, "coursetasks_queue_tasks {queued}");
    family(
        &mut out,
        "coursetasks_queue_subtasks",
        "gauge",
        "Subtasks of running tasks that no loop has claimed yet (QUEUED).",
    );
    let mut queued_subtasks = 0;
    for task in tasks
        .iter()
        .filter(|t| t.state == TaskState::Running && t.subtasks > 0)
    {
        queued_subtasks += state
            .store
            .list_subtasks(task.id)
            .await?
            .iter()
            .filter(|s| s.state == TaskState::Queued)
            .count();
    }
    let _ = writeln!(out, "coursetasks_queue_subtasks {queued_subtasks}");

    let workers = state.store.list_workers(FORGET_AFTER).await?;
    let now = Utc::now();
    let ages: Vec<(String, f64)> = workers
        .iter()
        .map(|w| {
            let age = (now - w.last_heartbeat)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            (w.name.clone(), age)
        })
        .collect();
    family(
        &mut out,
        "coursetasks_workers_registered",
        "gauge",
        "Entries in the workers registry.",
    );
    let _ = writeln!(out, "coursetasks_workers_registered {}", ages.len());
    family(
        &mut out,
        "coursetasks_workers_live",
        "gauge",
        "Registered workers whose last heartbeat is at most 30 seconds old.",
    );
    let live = ages
        .iter()
        .filter(|(_, age)| *age <= LIVE_AFTER.as_secs_f64())
        .count();
    let _ = writeln!(out, "coursetasks_workers_live {live}");
    family(
        &mut out,
        "coursetasks_worker_heartbeat_age_seconds",
        "gauge",
        "Seconds since each registered worker's last heartbeat.",
    );
    for (name, age) in &ages {
        let _ = writeln!(
            out,
            "coursetasks_worker_heartbeat_age_seconds{{worker=\"{}\"}} {age:.3}",
            escape_label(name)
        );
    }

    let timer = state.metrics.chunks.lock().expect("metrics lock").clone();
    if let Some(timer) = timer {
        family(
            &mut out,
            "coursetasks_chunk_interval_seconds",
            "histogram",
            "In-process worker: seconds between consecutive chunk commits of the same task.",
        );
        timer
            .histogram
            .write(&mut out, "coursetasks_chunk_interval_seconds");
    }
    Ok(out)
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let body = render(&state).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label("serve-host-1#0"), "serve-host-1#0");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(200));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.write(&mut out, "x");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.25\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"30\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum 100.203\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn the_chunk_timer_observes_intervals_between_commits_of_one_task() {
        let timer = ChunkTimer::default();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        timer.committed(a);
        timer.committed(b);
        assert_eq!(timer.histogram().count(), 0, "first commits are not timed");
        timer.committed(a);
        assert_eq!(timer.histogram().count(), 1);
        timer.ended(a);
        timer.committed(a);
        assert_eq!(timer.histogram().count(), 1, "a finished task starts over");
    }
}
