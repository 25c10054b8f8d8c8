//! Counters, the Open edX progress dict, and a structured live status.

use crate::kind::TaskState;
use crate::ops::Outcome;
use crate::pyjson::to_py_json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

/// A task's learner counters.
///
/// `attempted` is not stored: it is always `succeeded + failed + skipped`, so the Open edX invariant
/// holds by construction however counts are recorded or merged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    succeeded: u64,
    skipped: u64,
    failed: u64,
    total: u64,
}

/// Stored counters that break `attempted = succeeded + failed + skipped`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "inconsistent counts: attempted {attempted} != succeeded {succeeded} + failed {failed} + skipped {skipped}"
)]
pub struct InconsistentCounts {
    /// Stored attempted.
    pub attempted: u64,
    /// Stored succeeded.
    pub succeeded: u64,
    /// Stored failed.
    pub failed: u64,
    /// Stored skipped.
    pub skipped: u64,
}

impl Counts {
    /// No learner processed yet, `total` to go.
    pub const fn new(total: u64) -> Self {
        Counts {
            succeeded: 0,
            skipped: 0,
            failed: 0,
            total,
        }
    }

    /// Counts from their parts.
    pub const fn from_parts(succeeded: u64, skipped: u64, failed: u64, total: u64) -> Self {
        Counts {
            succeeded,
            skipped,
            failed,
            total,
        }
    }

    /// Learners processed so far.
    pub const fn attempted(&self) -> u64 {
        self.succeeded + self.failed + self.skipped
    }
    /// Learners whose module was changed (or deleted).
    pub const fn succeeded(&self) -> u64 {
        self.succeeded
    }
    /// Learners with nothing to do (with a reason).
    pub const fn skipped(&self) -> u64 {
        self.skipped
    }
    /// Learners whose module could not be processed (with a reason).
    pub const fn failed(&self) -> u64 {
        self.failed
    }
    /// Learners the task will visit.
    pub const fn total(&self) -> u64 {
        self.total
    }

    /// Sets the total (known once the worker has counted the modules).
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
    }

    /// Counts one learner's outcome.
    pub fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Succeeded => self.succeeded += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }

    /// Adds another set of counts (e.g. one chunk's) to these; `total` is kept.
    pub fn merge(&mut self, other: &Counts) {
        self.succeeded += other.succeeded;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }

    /// Whether every learner has been processed.
    pub const fn is_complete(&self) -> bool {
        self.attempted() == self.total
    }

    /// The Open edX progress dict for these counts.
    pub fn to_progress(&self, action_name: &str, duration_ms: u64) -> Progress {
        Progress {
            action_name: action_name.to_owned(),
            attempted: self.attempted(),
            succeeded: self.succeeded,
            skipped: self.skipped,
            failed: self.failed,
            total: self.total,
            preassigned: 0,
            duration_ms,
        }
    }
}

impl Serialize for Counts {
    /// `{"attempted", "succeeded", "skipped", "failed", "total"}` — the progress dict's order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr {
            attempted: u64,
            succeeded: u64,
            skipped: u64,
            failed: u64,
            total: u64,
        }
        Repr {
            attempted: self.attempted(),
            succeeded: self.succeeded,
            skipped: self.skipped,
            failed: self.failed,
            total: self.total,
        }
        .serialize(s)
    }
}

/// Open edX's progress dict (`task_output` on success and the live progress), keys in Open edX order:
/// `action_name, attempted, succeeded, skipped, failed, total, preassigned, duration_ms`.
///
/// Reading accepts legacy rows: `updated` (the 2013 name of `succeeded`) and missing
/// `skipped`/`failed`/`preassigned`/`duration_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Past-tense verb (`rescored`).
    pub action_name: String,
    /// Learners processed.
    pub attempted: u64,
    /// Learners changed.
    #[serde(alias = "updated")]
    pub succeeded: u64,
    /// Learners with nothing to do.
    #[serde(default)]
    pub skipped: u64,
    /// Learners that could not be processed.
    #[serde(default)]
    pub failed: u64,
    /// Learners to process.
    pub total: u64,
    /// Only meaningful for Open edX report tasks; always 0 here.
    #[serde(default)]
    pub preassigned: u64,
    /// Wall time since the task started, in milliseconds.
    #[serde(default)]
    pub duration_ms: u64,
}

impl Progress {
    /// The counts, if the stored numbers satisfy the invariant.
    pub fn counts(&self) -> Result<Counts, InconsistentCounts> {
        let c = Counts::from_parts(self.succeeded, self.skipped, self.failed, self.total);
        if c.attempted() == self.attempted {
            Ok(c)
        } else {
            Err(InconsistentCounts {
                attempted: self.attempted,
                succeeded: self.succeeded,
                failed: self.failed,
                skipped: self.skipped,
            })
        }
    }

    /// The JSON text as Open edX stores it (`json.dumps` style).
    pub fn to_json(&self) -> String {
        to_py_json(self)
    }
}

/// A structured snapshot of a task for dashboards and the CLI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusSummary {
    /// The task state.
    pub state: TaskState,
    /// The counters.
    pub counts: Counts,
    /// `attempted / total` in percent (100 for a finished task with nothing to do).
    pub percent: f64,
    /// Seconds between start and `now`, if started.
    pub elapsed_seconds: Option<f64>,
    /// Learners per second so far, once at least one learner has been processed.
    pub rate_per_second: Option<f64>,
    /// Seconds left at the current rate, for a running task with a known rate.
    pub eta_seconds: Option<f64>,
}

/// Computes a [`StatusSummary`]; pure given the timestamps (for a finished task pass its end time as
/// `now`, so the rate is the final one).
pub fn summarize(
    state: TaskState,
    counts: &Counts,
    started_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StatusSummary {
    let attempted = counts.attempted();
    let total = counts.total();
    let percent = if total == 0 {
        if state == TaskState::Success {
            100.0
        } else {
            0.0
        }
    } else {
        (attempted as f64 * 100.0 / total as f64).min(100.0)
    };
    let elapsed_seconds = started_at
        .map(|t| ((now - t).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6).max(0.0));
    let rate_per_second = match elapsed_seconds {
        Some(e) if e > 0.0 && attempted > 0 => Some(attempted as f64 / e),
        _ => None,
    };
    let eta_seconds = match (state, rate_per_second) {
        (TaskState::Running, Some(rate)) => Some(total.saturating_sub(attempted) as f64 / rate),
        _ => None,
    };
    StatusSummary {
        state,
        counts: *counts,
        percent,
        elapsed_seconds,
        rate_per_second,
        eta_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{FailReason, SkipReason};
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[test]
    fn progress_dict_has_open_edx_keys_in_order() {
        let c = Counts::from_parts(8, 1, 1, 10);
        assert_eq!(
            c.to_progress("rescored", 1234).to_json(),
            r#"{"action_name": "rescored", "attempted": 10, "succeeded": 8, "skipped": 1, "failed": 1, "total": 10, "preassigned": 0, "duration_ms": 1234}"#
        );
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"attempted":10,"succeeded":8,"skipped":1,"failed":1,"total":10}"#
        );
    }

    #[test]
    fn legacy_progress_reads() {
        let p: Progress = serde_json::from_str(
            r#"{"action_name": "reset", "attempted": 3, "updated": 3, "total": 3, "duration_ms": 5}"#,
        )
        .unwrap();
        assert_eq!(p.succeeded, 3);
        assert_eq!(p.counts().unwrap(), Counts::from_parts(3, 0, 0, 3));
        let bad = Progress { attempted: 5, ..p };
        assert_eq!(
            bad.counts().unwrap_err().to_string(),
            "inconsistent counts: attempted 5 != succeeded 3 + failed 0 + skipped 0"
        );
    }

    #[test]
    fn summary_rates_and_eta() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let now = t0 + chrono::Duration::seconds(10);
        let c = Counts::from_parts(900, 50, 50, 4000);
        let s = summarize(TaskState::Running, &c, Some(t0), now);
        assert_eq!(s.percent, 25.0);
        assert_eq!(s.elapsed_seconds, Some(10.0));
        assert_eq!(s.rate_per_second, Some(100.0));
        assert_eq!(s.eta_seconds, Some(30.0));
        let queued = summarize(TaskState::Queued, &Counts::new(10), None, now);
        assert_eq!(
            (queued.percent, queued.rate_per_second, queued.eta_seconds),
            (0.0, None, None)
        );
        let done = summarize(TaskState::Success, &Counts::new(0), Some(t0), now);
        assert_eq!((done.percent, done.eta_seconds), (100.0, None));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "RUNNING");
        assert_eq!(json["counts"]["attempted"], 1000);
    }

    fn outcome(i: u8) -> Outcome {
        match i % 3 {
            0 => Outcome::Succeeded,
            1 => Outcome::Skipped(SkipReason::NotSubmitted),
            _ => Outcome::Failed(FailReason::InvalidJson("x".into())),
        }
    }

    proptest! {
        #[test]
        fn counts_invariant_holds_under_record_and_merge(
            chunks in proptest::collection::vec(proptest::collection::vec(0u8..3, 0..50), 0..20),
        ) {
            let n: usize = chunks.iter().map(Vec::len).sum();
            let mut task = Counts::new(n as u64);
            let (mut s, mut k, mut f) = (0u64, 0u64, 0u64);
            for chunk in &chunks {
                let mut delta = Counts::default();
                for &i in chunk {
                    delta.record(&outcome(i));
                    match i { 0 => s += 1, 1 => k += 1, _ => f += 1 }
                }
                prop_assert_eq!(delta.attempted(), chunk.len() as u64);
                task.merge(&delta);
                prop_assert_eq!(task.attempted(), task.succeeded() + task.failed() + task.skipped());
            }
            prop_assert_eq!((task.succeeded(), task.skipped(), task.failed()), (s, k, f));
            prop_assert!(task.is_complete());
            prop_assert_eq!(task.total(), n as u64);
            // Round trip through the stored progress dict.
            let p: Progress = serde_json::from_str(&task.to_progress("reset", 7).to_json()).unwrap();
            prop_assert_eq!(p.counts().unwrap(), task);
        }
    }
}
