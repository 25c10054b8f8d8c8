//! Task outcomes and tracking events as the SQLite store keeps them (migration 0007): one row per
//! batch of records instead of one row per record.
//!
//! Why: a task adds an outcome, and for every change an event, for each learner it visits. With
//! a row each, a million-learner rescore inserted two million rows and two million index entries
//! through the one SQLite writer, besides its million state updates, and those inserts were most
//! of what kept the task at about half the speed of a bare `UPDATE` of the same rows. A batch row
//! holds the records of one chunk (or of one `insert_events` call): they are encoded with postcard
//! (a compact binary serde format whose strings are read in place, without escapes) and packed
//! with LZ4 as one block, so the near-identical events of a chunk compress against one another
//! (in a 300k rescore, 81 bytes per 1.7 KB event and 14 bytes per outcome), and encoding and
//! packing happen before the write lock is taken, beside the other task loop's commit.
//!
//! Ids: the records of a batch have the consecutive ids `first_id .. first_id + count`, allocated
//! after every id used before (by batches, and by the per-row tables that files written by
//! earlier versions still hold, whose rows stay where they are and are read first). So ids stay
//! unique, follow insertion order and still serve as keyset cursors. A batch holds at most
//! [`MAX_BATCH_RECORDS`] records, which bounds the index range a cursor query has to look back.

use super::packing::{pack_in, unpack};
use crate::model::{EventRecord, NewEvent, NewOutcome, OutcomeRecord, OutcomeStatus};
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use uuid::Uuid;

/// The most records one batch row holds; a longer chunk is stored as several batches.
pub(super) const MAX_BATCH_RECORDS: usize = 2048;
/// A batch is also closed once its encoded records pass this size, so that one row (and what a
/// reader unpacks at once) stays far below SQLite's value limit whatever the payloads weigh.
const MAX_BATCH_BYTES: usize = 8 << 20;

/// First byte of a stored batch: the encoded records follow as they are.
const RAW: u8 = 0;
/// First byte of a stored batch: the encoded records follow packed (see `packing`).
const PACKED: u8 = 1;

/// One outcome inside a batch; the task and the time are the batch row's.
#[derive(Serialize, Deserialize)]
struct OutcomeEntry<'a> {
    module_id: Option<i64>,
    learner_id: i64,
    username: &'a str,
    usage_key: &'a str,
    /// 0 succeeded, 1 skipped, 2 failed (see [`status_code`]).
    status: u8,
    #[serde(borrow)]
    reason: Option<&'a str>,
    old_grade: Option<f64>,
    old_max_grade: Option<f64>,
    new_grade: Option<f64>,
    new_max_grade: Option<f64>,
}

/// One event inside a batch; the task and the course are the batch row's.
#[derive(Serialize, Deserialize)]
struct EventEntry<'a> {
    event_type: &'a str,
    /// The event time as seconds and nanoseconds since the Unix epoch: exact, and no text to
    /// format or parse.
    time_seconds: i64,
    time_nanos: u32,
    username: &'a str,
    user_id: i64,
    #[serde(borrow)]
    usage_key: Option<&'a str>,
    requester: &'a str,
    /// The `event` body as JSON text.
    payload: &'a str,
}

/// The stored code of an outcome status.
fn status_code(status: OutcomeStatus) -> u8 {
    match status {
        OutcomeStatus::Succeeded => 0,
        OutcomeStatus::Skipped => 1,
        OutcomeStatus::Failed => 2,
    }
}

fn status_from_code(code: u8) -> Result<OutcomeStatus, String> {
    match code {
        0 => Ok(OutcomeStatus::Succeeded),
        1 => Ok(OutcomeStatus::Skipped),
        2 => Ok(OutcomeStatus::Failed),
        other => Err(format!("unknown outcome status code {other}")),
    }
}

/// A batch of outcomes ready to store.
pub(super) struct OutcomeBatch {
    /// Records in the batch.
    pub(super) count: i64,
    /// How many of them succeeded, were skipped, failed: readers that want one status skip the
    /// batches without it unopened.
    pub(super) statuses: [i64; 3],
    /// The stored form of the records.
    pub(super) records: Vec<u8>,
}

/// A batch of events of one task (or none) and one course, ready to store.
pub(super) struct EventBatch<'a> {
    /// The task that emitted the events.
    pub(super) task_id: Option<Uuid>,
    /// Their course.
    pub(super) course_key: &'a str,
    /// Records in the batch.
    pub(super) count: i64,
    /// The stored form of the records.
    pub(super) records: Vec<u8>,
}

/// Scratch buffers an encoder returns for the next batch up to this capacity: a chunk of rescore
/// events needs about 2 MB.
const KEEP_SCRATCH_BYTES: usize = 4 << 20;
/// Pairs of scratch buffers kept between batches: one per task loop of a default worker.
const KEEP_SCRATCH_PAIRS: usize = 2;

/// The buffers batches are encoded and packed in, reused from batch to batch.
///
/// Why: the binary keeps glibc's mmap threshold fixed (`pin_mmap_threshold` in the CLI), so a
/// fresh megabyte-sized buffer per chunk was mapped, zeroed page by page and unmapped each time:
/// four times the page faults, about 8% of a delete worker's time. A few pairs in one shared
/// list, not one per thread: the runtime moves tasks across threads (`block_in_place` hands a
/// worker's core to a new thread), and buffers kept per thread made a worker 25 MB larger.
static SCRATCH: std::sync::Mutex<Vec<(Vec<u8>, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());

/// Collects encoded records until a batch is full.
struct Encoder {
    count: usize,
    raw: Vec<u8>,
    packed: Vec<u8>,
}

impl Encoder {
    fn new() -> Self {
        let (raw, packed) = SCRATCH
            .lock()
            .ok()
            .and_then(|mut kept| kept.pop())
            .unwrap_or_default();
        Encoder {
            count: 0,
            raw,
            packed,
        }
    }

    fn push(&mut self, entry: &impl Serialize) -> Result<(), String> {
        self.raw = postcard::to_extend(entry, std::mem::take(&mut self.raw))
            .map_err(|e| format!("a record does not encode: {e}"))?;
        self.count += 1;
        Ok(())
    }

    fn is_full(&self) -> bool {
        self.count >= MAX_BATCH_RECORDS || self.raw.len() >= MAX_BATCH_BYTES
    }

    /// The stored form of the records pushed so far (packed when that makes them smaller), and
    /// their number; the encoder is empty again afterwards.
    fn seal(&mut self) -> (i64, Vec<u8>) {
        let count = i64::try_from(std::mem::take(&mut self.count)).unwrap_or(i64::MAX);
        // A copy of exactly its size either way: the batch may wait a while for the write turn.
        let (kind, body) = match pack_in(&mut self.packed, &self.raw, &[]) {
            Some(packed) => (PACKED, packed),
            None => (RAW, self.raw.as_slice()),
        };
        let mut stored = Vec::with_capacity(1 + body.len());
        stored.push(kind);
        stored.extend_from_slice(body);
        self.raw.clear();
        (count, stored)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        if self.raw.capacity().max(self.packed.capacity()) > KEEP_SCRATCH_BYTES {
            return;
        }
        if let Ok(mut kept) = SCRATCH.lock()
            && kept.len() < KEEP_SCRATCH_PAIRS
        {
            kept.push((
                std::mem::take(&mut self.raw),
                std::mem::take(&mut self.packed),
            ));
        }
    }
}

/// `outcomes` as stored batches. Every outcome must name its module (resolve the ones a chunk
/// inserted first).
pub(super) fn outcome_batches(outcomes: &[NewOutcome]) -> Result<Vec<OutcomeBatch>, String> {
    let mut batches = Vec::new();
    let mut encoder = Encoder::new();
    let mut statuses = [0; 3];
    for (index, o) in outcomes.iter().enumerate() {
        let status = status_code(o.status);
        encoder.push(&OutcomeEntry {
            module_id: o.module_id,
            learner_id: o.learner_id,
            username: &o.username,
            usage_key: &o.usage_key,
            status,
            reason: o.reason.as_deref(),
            old_grade: o.old_grade,
            old_max_grade: o.old_max_grade,
            new_grade: o.new_grade,
            new_max_grade: o.new_max_grade,
        })?;
        statuses[usize::from(status)] += 1;
        if encoder.is_full() || index + 1 == outcomes.len() {
            let (count, records) = encoder.seal();
            batches.push(OutcomeBatch {
                count,
                statuses: std::mem::take(&mut statuses),
                records,
            });
        }
    }
    Ok(batches)
}

/// `events` as stored batches: one batch per run of consecutive events of the same task and
/// course, split where a batch is full. An event without a task id belongs to `emitting`.
pub(super) fn event_batches(
    events: &[NewEvent],
    emitting: Option<Uuid>,
) -> Result<Vec<EventBatch<'_>>, String> {
    let mut batches = Vec::new();
    let mut encoder = Encoder::new();
    for (index, e) in events.iter().enumerate() {
        let task_id = e.task_id.or(emitting);
        // Microseconds, as the per-row tables and PostgreSQL keep times.
        let time = e.time.trunc_subsecs(6);
        encoder.push(&EventEntry {
            event_type: &e.event_type,
            time_seconds: time.timestamp(),
            time_nanos: time.timestamp_subsec_nanos(),
            username: &e.username,
            user_id: e.user_id,
            usage_key: e.usage_key.as_deref(),
            requester: &e.requester,
            payload: &e.payload,
        })?;
        let next_differs = events.get(index + 1).is_none_or(|next| {
            next.task_id.or(emitting) != task_id || next.course_key != e.course_key
        });
        if next_differs || encoder.is_full() {
            let (count, records) = encoder.seal();
            batches.push(EventBatch {
                task_id,
                course_key: &e.course_key,
                count,
                records,
            });
        }
    }
    Ok(batches)
}

/// The encoded records of a stored batch.
fn unseal(stored: &[u8]) -> Result<Cow<'_, [u8]>, String> {
    match stored.split_first() {
        Some((&RAW, raw)) => Ok(Cow::Borrowed(raw)),
        Some((&PACKED, packed)) => unpack(packed, &[]).map(Cow::Owned),
        Some((other, _)) => Err(format!("unknown batch format {other}")),
        None => Err("the batch is empty".to_owned()),
    }
}

/// Calls `visit` with the id and the record of each of a stored batch's `count` records, in
/// order, until it returns `false`. A batch that holds fewer or more records than `count`, or
/// bytes that are no record, is an error naming the first id it concerns.
fn visit_batch<'a, T: Deserialize<'a>>(
    raw: &'a [u8],
    first_id: i64,
    count: i64,
    mut visit: impl FnMut(i64, T) -> Result<bool, String>,
) -> Result<(), String> {
    let mut rest = raw;
    for id in first_id..first_id.saturating_add(count) {
        let (entry, after) = postcard::take_from_bytes::<T>(rest)
            .map_err(|e| format!("record {id} does not decode: {e}"))?;
        rest = after;
        if !visit(id, entry)? {
            return Ok(());
        }
    }
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes follow the batch's {count} records",
            rest.len()
        ));
    }
    Ok(())
}

/// A stored outcome batch as read back.
pub(super) struct StoredOutcomes<'a> {
    /// The first record's id.
    pub(super) first_id: i64,
    /// Records in the batch.
    pub(super) count: i64,
    /// The task (as the query asked for it).
    pub(super) task_id: Uuid,
    /// When the batch was recorded.
    pub(super) created: DateTime<Utc>,
    /// The stored form of the records.
    pub(super) records: &'a [u8],
}

impl StoredOutcomes<'_> {
    /// Appends the batch's outcomes with an id above `after_id` (and of `status`, if given) to
    /// `out` until it holds `limit`.
    pub(super) fn read_into(
        &self,
        after_id: i64,
        status: Option<OutcomeStatus>,
        limit: usize,
        out: &mut Vec<OutcomeRecord>,
    ) -> Result<(), String> {
        let raw =
            unseal(self.records).map_err(|e| format!("outcome batch {}: {e}", self.first_id))?;
        visit_batch::<OutcomeEntry>(&raw, self.first_id, self.count, |id, entry| {
            if out.len() >= limit {
                return Ok(false);
            }
            let entry_status = status_from_code(entry.status)?;
            if id > after_id && status.is_none_or(|s| s == entry_status) {
                out.push(OutcomeRecord {
                    id,
                    task_id: self.task_id,
                    module_id: entry.module_id,
                    learner_id: entry.learner_id,
                    username: entry.username.to_owned(),
                    usage_key: entry.usage_key.to_owned(),
                    status: entry_status,
                    reason: entry.reason.map(str::to_owned),
                    old_grade: entry.old_grade,
                    old_max_grade: entry.old_max_grade,
                    new_grade: entry.new_grade,
                    new_max_grade: entry.new_max_grade,
                    created: self.created,
                });
            }
            Ok(true)
        })
        .map_err(|e| format!("outcome batch {}: {e}", self.first_id))
    }
}

/// A stored event batch as read back.
pub(super) struct StoredEvents<'a> {
    /// The first record's id.
    pub(super) first_id: i64,
    /// Records in the batch.
    pub(super) count: i64,
    /// The task that emitted them.
    pub(super) task_id: Option<Uuid>,
    /// Their course.
    pub(super) course_key: &'a str,
    /// The stored form of the records.
    pub(super) records: &'a [u8],
}

impl StoredEvents<'_> {
    /// Appends the batch's events with an id above `after_id` to `out` until it holds `limit`.
    pub(super) fn read_into(
        &self,
        after_id: i64,
        limit: usize,
        out: &mut Vec<EventRecord>,
    ) -> Result<(), String> {
        let raw =
            unseal(self.records).map_err(|e| format!("event batch {}: {e}", self.first_id))?;
        visit_batch::<EventEntry>(&raw, self.first_id, self.count, |id, entry| {
            if out.len() >= limit {
                return Ok(false);
            }
            if id <= after_id {
                return Ok(true);
            }
            let time = DateTime::from_timestamp(entry.time_seconds, entry.time_nanos)
                .ok_or_else(|| format!("event {id}: the time is out of range"))?;
            let payload = serde_json::from_str(entry.payload)
                .map_err(|e| format!("event {id}: the payload is not JSON: {e}"))?;
            out.push(EventRecord {
                id,
                task_id: self.task_id,
                event_type: entry.event_type.to_owned(),
                time,
                username: entry.username.to_owned(),
                user_id: entry.user_id,
                course_key: self.course_key.to_owned(),
                usage_key: entry.usage_key.map(str::to_owned),
                requester: entry.requester.to_owned(),
                payload,
            });
            Ok(true)
        })
        .map_err(|e| format!("event batch {}: {e}", self.first_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(n: i64, status: OutcomeStatus) -> NewOutcome {
        NewOutcome {
            module_id: Some(100 + n),
            learner_id: n,
            username: format!("learner_{n}_é"),
            usage_key: "block-v1:O+C+R+type@problem+block@p".to_owned(),
            status,
            reason: (status != OutcomeStatus::Succeeded).then(|| format!("reason {n}")),
            old_grade: Some(0.5),
            old_max_grade: Some(1.0),
            new_grade: (n % 2 == 0).then_some(1.0),
            new_max_grade: None,
        }
    }

    fn event(n: i64, task_id: Option<Uuid>, course: &str) -> NewEvent {
        NewEvent {
            task_id,
            event_type: "problem_rescore".to_owned(),
            time: DateTime::from_timestamp(1_790_000_000 + n, 123_456_000).unwrap(),
            username: format!("learner{n}"),
            user_id: n,
            course_key: course.to_owned(),
            usage_key: (n % 3 != 0).then(|| "block-v1:O+C+R+type@problem+block@p".to_owned()),
            requester: "staff".to_owned(),
            payload: format!(
                r#"{{"state": {{"attempts": 2, "student_answers": {{"p_2_1": "{}"}}}}, "orig_score": {}, "new_score": 1, "student": "learner{n}", "text": "a \"quoted\" é"}}"#,
                n * 7,
                n % 2
            ),
        }
    }

    fn read_outcomes(
        batch: &OutcomeBatch,
        first_id: i64,
        after_id: i64,
        status: Option<OutcomeStatus>,
        limit: usize,
    ) -> Result<Vec<OutcomeRecord>, String> {
        let mut out = Vec::new();
        StoredOutcomes {
            first_id,
            count: batch.count,
            task_id: Uuid::nil(),
            created: DateTime::UNIX_EPOCH,
            records: &batch.records,
        }
        .read_into(after_id, status, limit, &mut out)?;
        Ok(out)
    }

    fn read_events(
        batch: &EventBatch<'_>,
        first_id: i64,
        after_id: i64,
    ) -> Result<Vec<EventRecord>, String> {
        let mut out = Vec::new();
        StoredEvents {
            first_id,
            count: batch.count,
            task_id: batch.task_id,
            course_key: batch.course_key,
            records: &batch.records,
        }
        .read_into(after_id, usize::MAX, &mut out)?;
        Ok(out)
    }

    #[test]
    fn outcomes_come_back_with_consecutive_ids_and_status_counts() {
        let statuses = [
            OutcomeStatus::Succeeded,
            OutcomeStatus::Skipped,
            OutcomeStatus::Failed,
        ];
        let written: Vec<NewOutcome> = (0..10)
            .map(|n| outcome(n, statuses[n as usize % 3]))
            .collect();
        let batches = outcome_batches(&written).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!((batches[0].count, batches[0].statuses), (10, [4, 3, 3]));
        let read = read_outcomes(&batches[0], 50, 0, None, usize::MAX).unwrap();
        assert_eq!(
            read.iter().map(|o| o.id).collect::<Vec<_>>(),
            (50..60).collect::<Vec<_>>()
        );
        for (r, w) in read.iter().zip(&written) {
            assert_eq!(
                (
                    r.module_id,
                    r.learner_id,
                    &r.username,
                    &r.usage_key,
                    r.status,
                    &r.reason
                ),
                (
                    w.module_id,
                    w.learner_id,
                    &w.username,
                    &w.usage_key,
                    w.status,
                    &w.reason
                )
            );
            assert_eq!(
                (r.old_grade, r.old_max_grade, r.new_grade, r.new_max_grade),
                (w.old_grade, w.old_max_grade, w.new_grade, w.new_max_grade)
            );
        }
        // A cursor, a status and a limit select within the batch.
        let failed = read_outcomes(&batches[0], 50, 52, Some(OutcomeStatus::Failed), 2).unwrap();
        assert_eq!(
            failed.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![55, 58]
        );
        assert!(outcome_batches(&[]).unwrap().is_empty());
    }

    #[test]
    fn long_runs_are_split_into_full_batches() {
        let written: Vec<NewOutcome> = (0..(2 * MAX_BATCH_RECORDS as i64 + 5))
            .map(|n| outcome(n, OutcomeStatus::Succeeded))
            .collect();
        let counts: Vec<i64> = outcome_batches(&written)
            .unwrap()
            .iter()
            .map(|b| b.count)
            .collect();
        let full = MAX_BATCH_RECORDS as i64;
        assert_eq!(counts, vec![full, full, 5]);
    }

    #[test]
    fn events_are_batched_per_task_and_course_and_come_back_exactly() {
        let own = Uuid::from_u128(7);
        let other = Uuid::from_u128(8);
        let written = vec![
            event(1, None, "course-v1:O+C+R"),
            event(2, Some(own), "course-v1:O+C+R"),
            event(3, None, "course-v1:O+C+R"),
            event(4, Some(other), "course-v1:O+C+R"),
            event(5, None, "course-v1:O+D+R"),
        ];
        let batches = event_batches(&written, Some(own)).unwrap();
        let shape: Vec<(Option<Uuid>, &str, i64)> = batches
            .iter()
            .map(|b| (b.task_id, b.course_key, b.count))
            .collect();
        assert_eq!(
            shape,
            vec![
                (Some(own), "course-v1:O+C+R", 3),
                (Some(other), "course-v1:O+C+R", 1),
                (Some(own), "course-v1:O+D+R", 1)
            ]
        );
        let mut read = read_events(&batches[0], 1, 0).unwrap();
        read.extend(read_events(&batches[1], 4, 0).unwrap());
        read.extend(read_events(&batches[2], 5, 0).unwrap());
        for (r, w) in read.iter().zip(&written) {
            assert_eq!(
                (
                    &r.event_type,
                    r.time,
                    &r.username,
                    r.user_id,
                    &r.usage_key,
                    &r.requester
                ),
                (
                    &w.event_type,
                    w.time,
                    &w.username,
                    w.user_id,
                    &w.usage_key,
                    &w.requester
                )
            );
            assert_eq!(r.course_key, w.course_key);
            assert_eq!(r.task_id, w.task_id.or(Some(own)));
            assert_eq!(
                r.payload,
                serde_json::from_str::<serde_json::Value>(&w.payload).unwrap()
            );
        }
        assert_eq!(
            read.iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        // Without an emitting task, events without a task id stay without one.
        let lone = event_batches(&written[..1], None).unwrap();
        assert_eq!(read_events(&lone[0], 9, 0).unwrap()[0].task_id, None);
    }

    #[test]
    fn similar_events_pack_small_and_a_lone_short_one_is_kept_raw() {
        let written: Vec<NewEvent> = (0..200)
            .map(|n| event(n, None, "course-v1:O+C+R"))
            .collect();
        let text: usize = written.iter().map(|e| e.payload.len()).sum();
        let batches = event_batches(&written, None).unwrap();
        assert_eq!(batches[0].records[0], PACKED);
        assert!(
            batches[0].records.len() * 4 < text,
            "{} of {text}",
            batches[0].records.len()
        );
        let mut short = event(1, None, "c");
        short.payload = "{}".to_owned();
        short.username = "a".to_owned();
        short.usage_key = None;
        let lone = event_batches(std::slice::from_ref(&short), None).unwrap();
        assert_eq!(lone[0].records[0], RAW);
        assert_eq!(
            read_events(&lone[0], 1, 0).unwrap()[0].payload,
            serde_json::json!({})
        );
    }

    #[test]
    fn damaged_batches_are_errors_naming_the_batch_never_panics() {
        let written: Vec<NewOutcome> = (0..40).map(|n| outcome(n, OutcomeStatus::Failed)).collect();
        let batch = &outcome_batches(&written).unwrap()[0];
        let read = |records: Vec<u8>, count: i64| {
            read_outcomes(
                &OutcomeBatch {
                    count,
                    statuses: [0; 3],
                    records,
                },
                7,
                0,
                None,
                usize::MAX,
            )
        };
        let error = read(batch.records.clone(), 41).unwrap_err();
        assert!(error.starts_with("outcome batch 7: record 47"), "{error}");
        let error = read(batch.records.clone(), 39).unwrap_err();
        assert!(
            error.contains("bytes follow the batch's 39 records"),
            "{error}"
        );
        let error = read(vec![9, 1, 2], 1).unwrap_err();
        assert!(error.contains("unknown batch format 9"), "{error}");
        assert!(read(Vec::new(), 1).unwrap_err().contains("empty"));
        for i in 0..batch.records.len() {
            let mut flipped = batch.records.clone();
            flipped[i] ^= 0x5a;
            let _ = read(flipped, 40);
        }
        let mut truncated = batch.records.clone();
        truncated.truncate(truncated.len() - 3);
        assert!(read(truncated, 40).is_err());
    }
}
